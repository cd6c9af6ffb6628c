//! The clients connected to one core: what CLIENT LIST / INFO / KILL and INFO
//! clients report, and the per-core counters of INFO's cores section.

use std::cell::RefCell;
use std::fmt::Write;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::time::Instant;

use ahash::AHashMap;

use crate::resp::Proto;
use crate::server::outbox::Outbox;

/// What other commands may learn about a connection.
pub struct ClientInfo {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub fd: RawFd,
    pub name: Vec<u8>,
    pub lib_name: Vec<u8>,
    pub lib_ver: Vec<u8>,
    pub db: usize,
    pub proto: Proto,
    pub created: Instant,
    pub last_active: Instant,
    pub last_cmd: &'static str,
    /// Set by CLIENT KILL; the connection closes at its next step.
    pub killed: bool,
    /// Memory of the connection's buffers, for CLIENT LIST and INFO memory.
    pub mem: ClientMemory,
    /// The reply buffer kept between reads (the core's cron frees it when
    /// the connection has been idle a while; see `connection`).
    pub spare_reply: Vec<u8>,
    /// Channels, patterns and shard channels subscribed to.
    pub subs: [usize; 3],
    /// The connection's outbox, once it has one (for omem).
    pub outbox: Option<Rc<Outbox>>,
    /// What the client waits for while a blocking command blocks it.
    pub blocked: Option<std::sync::Arc<crate::shard::blocking::Waiter>>,
}

impl ClientInfo {
    /// Whether the client is in the pub/sub class (any subscription).
    pub fn is_pubsub(&self) -> bool {
        self.subs.iter().any(|&n| n > 0)
    }

    /// One line of CLIENT LIST / CLIENT INFO, Redis 7.2's fields in Redis's
    /// order. Fields for features ringbus does not have (client-side caching's
    /// `redir`, ACL users) report their empty state.
    pub fn describe(&self, now: Instant) -> String {
        let mut line = String::with_capacity(256);
        let m = &self.mem;
        let (oll, omem) = self.output_in_flight();
        let _ = write!(
            line,
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} \
             qbuf={} qbuf-free={} argv-mem={} multi-mem={} rbs={} rbp={} obl={} oll={} omem={} tot-mem={} events={} \
             cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            String::from_utf8_lossy(&self.name),
            now.duration_since(self.created).as_secs(),
            now.duration_since(self.last_active).as_secs(),
            match (self.blocked.is_some(), self.is_pubsub(), m.multi_cmds.is_some()) {
                (true, _, _) => "b",
                (_, true, _) => "P",
                (_, _, true) => "x",
                _ => "N",
            },
            self.db,
            self.subs[0],
            self.subs[1],
            self.subs[2],
            m.multi_cmds.map_or(-1, |n| n as i64),
            m.qbuf,
            m.qbuf_cap.saturating_sub(m.qbuf),
            m.argv,
            m.multi,
            m.reply_cap,
            m.reply_peak,
            m.reply_len,
            oll,
            omem,
            self.total_memory(),
            if omem > 0 { "rw" } else { "r" },
            self.last_cmd,
            if self.proto == Proto::Resp3 { 3 } else { 2 },
            String::from_utf8_lossy(&self.lib_name),
            String::from_utf8_lossy(&self.lib_ver),
        );
        line
    }

    /// Output handed to the socket and not yet sent: how many buffers, and
    /// their bytes (a reply being written, and the outbox's queue).
    pub fn output_in_flight(&self) -> (usize, usize) {
        let outbox = self.outbox.as_ref().map_or(0, |o| o.pending());
        let buffers = usize::from(self.mem.writing > 0) + usize::from(outbox > 0);
        (buffers, self.mem.writing + outbox)
    }

    /// Everything this connection holds, as Redis's `tot-mem`: its state, its
    /// query buffer, the arguments and queued MULTI commands it keeps, its
    /// reply buffer and the output not yet sent.
    pub fn total_memory(&self) -> usize {
        let m = &self.mem;
        CONNECTION_STATE_BYTES
            + m.qbuf_cap
            + m.argv
            + m.multi
            + m.reply_cap
            + self.output_in_flight().1
    }
}

/// What a connection's own structures take besides its buffers (its session,
/// this record, its task), for `tot-mem`.
pub const CONNECTION_STATE_BYTES: usize = 2048;

/// A connection's buffers as CLIENT LIST reports them; the connection keeps
/// it up to date after each read and write.
#[derive(Default, Clone, Copy, Debug)]
pub struct ClientMemory {
    /// Unparsed input, and the query buffer's capacity.
    pub qbuf: usize,
    pub qbuf_cap: usize,
    /// Bytes of the arguments of the command running now.
    pub argv: usize,
    /// Commands queued since MULTI (None outside MULTI), and their memory.
    pub multi_cmds: Option<usize>,
    pub multi: usize,
    /// Replies built and not yet handed to the socket; the reply buffer's
    /// capacity, and the largest reply batch of the last few seconds.
    pub reply_len: usize,
    pub reply_cap: usize,
    pub reply_peak: usize,
    /// Bytes of a reply the socket is writing now.
    pub writing: usize,
}

/// Per-core counters for INFO.
#[derive(Default, Clone, Copy, Debug)]
pub struct CoreCounters {
    pub total_connections: u64,
    pub commands: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub rejected_connections: u64,
    /// Clients cut off for going over their output buffer limit.
    pub output_limit_disconnections: u64,
}

/// Redis's instantaneous metrics: the command rate over the last
/// [`OPS_SAMPLES`] samples, one sample per [`OPS_SAMPLE_PERIOD`].
pub const OPS_SAMPLES: usize = 16;
pub const OPS_SAMPLE_PERIOD: std::time::Duration = std::time::Duration::from_millis(100);

#[derive(Default)]
pub struct OpsRate {
    samples: [u64; OPS_SAMPLES],
    next: usize,
    last_commands: u64,
    last_at: Option<Instant>,
}

impl OpsRate {
    /// Records the command count at `now`.
    pub fn sample(&mut self, commands: u64, now: Instant) {
        if let Some(at) = self.last_at {
            let ms = now.duration_since(at).as_millis().max(1) as u64;
            let ops = commands.saturating_sub(self.last_commands);
            self.samples[self.next] = ops * 1000 / ms;
            self.next = (self.next + 1) % OPS_SAMPLES;
        }
        self.last_commands = commands;
        self.last_at = Some(now);
    }

    /// Commands per second, averaged over the samples.
    pub fn per_sec(&self) -> u64 {
        self.samples.iter().sum::<u64>() / OPS_SAMPLES as u64
    }
}

#[derive(Default)]
pub struct ClientRegistry {
    clients: AHashMap<u64, Rc<RefCell<ClientInfo>>>,
    /// Clients blocked right now (INFO's blocked_clients).
    pub blocked: usize,
    pub counters: CoreCounters,
    pub ops: OpsRate,
}

impl ClientRegistry {
    pub fn add(&mut self, info: Rc<RefCell<ClientInfo>>) {
        let id = info.borrow().id;
        self.clients.insert(id, info);
        self.counters.total_connections += 1;
    }

    pub fn remove(&mut self, id: u64) {
        self.clients.remove(&id);
    }

    pub fn get(&self, id: u64) -> Option<&Rc<RefCell<ClientInfo>>> {
        self.clients.get(&id)
    }

    pub fn len(&self) -> usize {
        self.clients.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Rc<RefCell<ClientInfo>>> {
        self.clients.values()
    }

    /// Clients with a subscription (INFO's `pubsub_clients`).
    pub fn pubsub_clients(&self) -> usize {
        self.clients
            .values()
            .filter(|c| c.borrow().is_pubsub())
            .count()
    }

    /// Memory of this core's clients (INFO memory's `mem_clients_normal`).
    pub fn memory(&self) -> usize {
        self.clients
            .values()
            .map(|c| c.borrow().total_memory())
            .sum()
    }

    /// Frees the spare reply buffers of clients idle since before `idle_since`
    /// beyond what an idle connection keeps.
    pub fn trim_idle(&self, idle_since: Instant) {
        for client in self.clients.values() {
            let mut c = client.borrow_mut();
            if c.last_active < idle_since
                && c.spare_reply.capacity() > crate::server::connection::REPLY_BUFFER_IDLE
            {
                c.spare_reply = Vec::new();
                c.mem.reply_cap = 0;
            }
        }
    }

    /// Closes the clients idle since before `idle_since` (`timeout`):
    /// not subscribers, not blocked clients, as Redis's clientsCronHandleTimeout.
    /// Returns how many.
    pub fn close_idle(&self, idle_since: Instant) -> usize {
        let mut closed = 0;
        for client in self.clients.values() {
            let mut c = client.borrow_mut();
            if c.killed || c.last_active >= idle_since || c.is_pubsub() || c.blocked.is_some() {
                continue;
            }
            c.killed = true;
            closed += 1;
            // Wakes the connection's pending read so it sees `killed`.
            // SAFETY: shutdown on a socket fd owned by a live connection.
            unsafe { libc::shutdown(c.fd, libc::SHUT_RDWR) };
        }
        closed
    }

    /// CLIENT LIST lines of this core's clients, by id.
    pub fn describe_all(&self, ids: Option<&[u64]>) -> Vec<(u64, String)> {
        let now = Instant::now();
        let mut lines: Vec<(u64, String)> = self
            .clients
            .values()
            .map(|c| c.borrow())
            .filter(|c| ids.is_none_or(|ids| ids.contains(&c.id)))
            .map(|c| (c.id, c.describe(now)))
            .collect();
        lines.sort_by_key(|(id, _)| *id);
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ops_rate_averages_the_last_samples() {
        let mut rate = OpsRate::default();
        let start = Instant::now();
        rate.sample(0, start);
        assert_eq!(rate.per_sec(), 0);
        // 16 samples of 100 ms with 1,000 commands each: 10,000 per second.
        for i in 1..=OPS_SAMPLES as u64 {
            rate.sample(i * 1000, start + Duration::from_millis(100 * i));
        }
        assert_eq!(rate.per_sec(), 10_000);
        // An idle stretch drains the average back to zero.
        for i in 1..=OPS_SAMPLES as u64 {
            let t = start + Duration::from_millis(100 * (OPS_SAMPLES as u64 + i));
            rate.sample(OPS_SAMPLES as u64 * 1000, t);
        }
        assert_eq!(rate.per_sec(), 0);
    }
}
