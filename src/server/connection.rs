//! One client connection, for its whole life on one core.
//!
//! Each read is parsed into as many complete requests as it holds; each request
//! runs at once when its keys are on this core, or joins a batch for the core
//! that owns them. All replies of one read go out in one write, in request
//! order: a remote batch's replies (and a cross-core PUBLISH's receiver
//! count) are spliced in where their requests stood.
//!
//! Once a connection subscribes, its output goes through its outbox instead
//! (`server::outbox`), so that messages can reach it between its reads.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::time::Instant;

use ahash::AHashSet;
use smallvec::SmallVec;

use crate::cmd::exec::{Client, Running};
use crate::cmd::table::{self, CommandSpec};
use crate::cmd::{transaction, Error, ShardFn};
use crate::resp::parse::{Parsed, RequestParser};
use crate::resp::{Out, Proto};
use crate::runtime::TcpStream;
use crate::server::client::ClientInfo;
use crate::server::outbox::Outbox;
use crate::shard::dispatch::{Batch, BatchReply, Core, HopFuture, OwnedCommand};
use crate::shard::now_ms;
use crate::shard::pubsub::{Kind, Name, Subscriber};
use crate::shard::txn::Txn;

/// Whether the connection goes on after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Send what is buffered, then close (QUIT, protocol errors).
    Close,
}

/// A connection's state as commands see it.
pub struct Session {
    pub core: Rc<Core>,
    pub info: Rc<RefCell<ClientInfo>>,
    pub db: usize,
    pub authenticated: bool,
    pub out: Out,
    /// The clock reading commands of the current read see (Unix ms), taken
    /// once per read like Redis's cached command time: one clock call per
    /// batch instead of one per command.
    pub now: u64,
    /// This connection's channels, patterns and shard channels.
    pub subs: [AHashSet<Name>; 3],
    /// Where output goes once the connection has subscribed (see `outbox`).
    pub outbox: Option<Rc<Outbox>>,
    /// A handle on the socket for the outbox's writer, and for watching the
    /// socket while a command is blocked.
    stream: TcpStream,
    /// A read of the socket started while blocked and not finished yet.
    pub input: Option<PendingRead>,
    /// Bytes read while blocked, run once the blocking command is done.
    pub stash: Vec<u8>,
    /// MULTI's queue, WATCH's keys, and EXEC's transaction while it runs.
    pub tx: crate::cmd::transaction::TxState,
    /// Whether CLIENT LIST shows a MULTI queue (so that its end is noted).
    tx_noted: bool,
    /// A command that may write ran since the replies were last sent: they
    /// wait for the log even when it cannot write (a full disk).
    may_have_written: bool,
    pending: Pending,
    /// CLIENT REPLY: OFF drops every reply from now on; SKIP drops the
    /// next command's (`skip_next`, moved to `skipping` when it starts).
    pub reply_off: bool,
    pub skip_next: bool,
    pub skipping: bool,
}

/// A read of the socket that outlives the blocking command that began it.
pub type PendingRead =
    std::pin::Pin<Box<dyn std::future::Future<Output = (io::Result<usize>, Vec<u8>)>>>;

/// Replies owed by other shards, and where they go in `out`.
#[derive(Default)]
struct Pending {
    batches: SmallVec<[(usize, Batch); 2]>,
    /// Publishes waiting for other cores' receiver counts: the count on this
    /// core, and one hop per other core that delivers it.
    publishes: Vec<(i64, SmallVec<[HopFuture<i64>; 2]>)>,
    /// `(offset in out.buf, what goes there)` in request order.
    holes: Vec<(usize, Hole)>,
}

/// A reply still owed.
enum Hole {
    /// Reply `reply` of batch `batch`.
    Batch { batch: usize, reply: usize },
    /// The total receivers of publish `index`.
    Publish(usize),
    /// A reply CLIENT REPLY OFF / SKIP drops (its batch still answers).
    Dropped,
}

impl Session {
    pub fn new(core: Rc<Core>, info: Rc<RefCell<ClientInfo>>, stream: TcpStream) -> Session {
        let authenticated = core.config.borrow().requirepass.is_none();
        Session {
            core,
            info,
            db: 0,
            authenticated,
            out: Out::default(),
            now: now_ms(),
            subs: Default::default(),
            outbox: None,
            stream,
            input: None,
            stash: Vec::new(),
            tx: Default::default(),
            tx_noted: false,
            may_have_written: false,
            pending: Pending::default(),
            reply_off: false,
            skip_next: false,
            skipping: false,
        }
    }

    /// Sends the replies written so far now, before the connection waits
    /// (a blocking command): the client must not wait for them too.
    pub async fn send_now(&mut self) {
        self.core.shared.aof.wait_durable(true).await;
        if self.outbox.is_some() {
            self.sync_outbox();
            return;
        }
        if self.out.buf.is_empty() {
            return;
        }
        let buf = std::mem::take(&mut self.out.buf);
        self.core.clients.borrow_mut().counters.net_output_bytes += buf.len() as u64;
        self.info.borrow_mut().mem.writing = buf.len();
        // A write error shows up as the client leaving, which the wait notices.
        let (_, buf) = self.stream.write_all(buf).await;
        self.info.borrow_mut().mem.writing = 0;
        self.out.buf = reusable(buf, REPLY_BUFFER_IDLE);
    }

    /// Publishes the replies this connection has built and not yet sent
    /// (CLIENT LIST's `obl`) before it describes itself.
    pub fn note_reply_buffer(&self) {
        let mut info = self.info.borrow_mut();
        info.mem.reply_len = self.out.buf.len();
        info.mem.reply_cap = info.mem.reply_cap.max(self.out.buf.capacity());
    }

    /// Starts reading the socket while a command is blocked, so a client that
    /// leaves is noticed (unless a read is already on its way).
    pub fn watch_input(&mut self) {
        if self.input.is_none() {
            let mut stream = self.stream.clone();
            self.input = Some(Box::pin(async move {
                stream.read(Vec::with_capacity(4096)).await
            }));
        }
    }

    /// The watched read, if it finished.
    pub fn poll_input(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<(io::Result<usize>, Vec<u8>)> {
        let Some(read) = self.input.as_mut() else {
            return std::task::Poll::Pending;
        };
        let done = read.as_mut().poll(cx);
        if done.is_ready() {
            self.input = None;
        }
        done
    }

    /// Keeps what arrived while blocked for after the blocking command.
    /// True when that is more than `client-query-buffer-limit` allows.
    pub fn stash_input(&mut self, bytes: Vec<u8>) -> bool {
        self.stash.extend_from_slice(&bytes);
        let limit = self.core.config.borrow().client_query_buffer_limit;
        self.stash.len() as u64 > limit
    }

    /// Marks the client blocked (for CLIENT UNBLOCK, CLIENT LIST and INFO).
    pub fn set_blocked(&mut self, waiter: Option<std::sync::Arc<crate::shard::blocking::Waiter>>) {
        let blocked = waiter.is_some();
        self.info.borrow_mut().blocked = waiter;
        let mut clients = self.core.clients.borrow_mut();
        if blocked {
            clients.blocked += 1;
        } else {
            clients.blocked -= 1;
        }
    }

    pub fn client_id(&self) -> u64 {
        self.info.borrow().id
    }

    /// Routes this connection's output through an outbox from now on.
    pub fn start_outbox(&mut self) {
        if self.outbox.is_none() {
            let outbox = Outbox::start(self.core.clone(), self.stream.clone(), self.proto());
            self.info.borrow_mut().outbox = Some(outbox.clone());
            self.outbox = Some(outbox);
        }
    }

    /// This connection as a subscriber (it has an outbox by now).
    pub fn subscriber(&self) -> Subscriber {
        Subscriber {
            client: self.client_id(),
            outbox: self.outbox.clone().expect("subscribers have an outbox"),
        }
    }

    /// The count a confirmation reports: channels and patterns together, as
    /// Redis counts them, or shard channels alone.
    pub fn subscription_count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Shard => self.subs[Kind::Shard as usize].len(),
            _ => self.subs[Kind::Channel as usize].len() + self.subs[Kind::Pattern as usize].len(),
        }
    }

    /// Whether the connection is a pub/sub client (any subscription at all).
    pub fn subscribed(&self) -> bool {
        self.subs.iter().any(|s| !s.is_empty())
    }

    /// Publishes the subscription counts for CLIENT LIST.
    pub fn note_subscriptions(&self) {
        self.info.borrow_mut().subs = Kind::ALL.map(|k| self.subs[k as usize].len());
    }

    /// Moves the replies written so far into the outbox, if there is one,
    /// so that what is pushed next comes after them.
    pub fn sync_outbox(&mut self) {
        if let Some(outbox) = &self.outbox {
            if !self.out.buf.is_empty() {
                let limit = self.output_limit();
                outbox.push(&self.out.buf, limit);
                self.out.buf.clear();
            }
        }
    }

    /// The output buffer limit of this client's class.
    fn output_limit(&self) -> crate::config::OutputLimit {
        let limits = self.core.config.borrow().output_limits;
        if self.subscribed() {
            limits.pubsub
        } else {
            limits.normal
        }
    }

    pub fn proto(&self) -> Proto {
        self.out.proto
    }

    pub fn set_proto(&mut self, proto: Proto) {
        self.out.proto = proto;
        self.info.borrow_mut().proto = proto;
        if let Some(outbox) = &self.outbox {
            outbox.set_proto(proto);
        }
    }

    pub fn set_db(&mut self, db: usize) {
        self.db = db;
        self.info.borrow_mut().db = db;
    }

    /// Runs one request.
    pub async fn dispatch(&mut self, argv: &[&[u8]]) -> Flow {
        if !(self.reply_off || self.skip_next) {
            return self.dispatch_replying(argv).await;
        }
        // CLIENT REPLY OFF or SKIP: the command runs and its reply (local
        // bytes and owed holes alike) is dropped, as Redis's
        // CLIENT_REPLY_OFF / CLIENT_REPLY_SKIP do.
        // Earlier replies still owed are settled first, so that everything
        // in `out` from `start` on, and every hole left, is this command's.
        self.flush().await;
        self.skipping = std::mem::take(&mut self.skip_next);
        let start = self.out.buf.len();
        let flow = self.dispatch_replying(argv).await;
        if self.reply_off || self.skipping {
            self.out.buf.truncate(start);
            for (_, hole) in &mut self.pending.holes {
                *hole = Hole::Dropped;
            }
        }
        self.skipping = false;
        flow
    }

    async fn dispatch_replying(&mut self, argv: &[&[u8]]) -> Flow {
        let spec = match self.check(argv) {
            Ok(spec) => spec,
            Err(msg) => {
                // A command refused inside MULTI dooms the transaction.
                self.tx.abort_queued();
                self.out.error(&msg);
                return Flow::Continue;
            }
        };
        self.note_command(spec);
        self.wait_while_paused(spec).await;
        // Writes, scripts and EXEC (whose queued writes were checked when queued).
        // (Only looked at with the log on: flags are strings.)
        if self.core.shared.aof.enabled()
            && (spec.has_flag("write") || spec.has_flag("may_replicate") || spec.name == "exec")
        {
            self.may_have_written = true;
        }
        if self.tx.in_multi() && !transaction::runs_inside_multi(spec) {
            self.tx.enqueue(spec, argv, &mut self.out);
            self.note_multi();
            return Flow::Continue;
        }
        let flow = crate::cmd::exec::call(self, spec, argv).await;
        if self.tx.in_multi() || self.tx_noted {
            self.note_multi();
        }
        flow
    }

    /// Waits while CLIENT PAUSE holds `spec` (see `pause`). Replies owed
    /// to the client go out first: they were made before the pause.
    async fn wait_while_paused(&mut self, spec: &CommandSpec) {
        if self.core.shared.pause.holds(spec, now_ms()).is_none() {
            return;
        }
        self.flush().await;
        self.send_now().await;
        while let Some(until) = self.core.shared.pause.holds(spec, now_ms()) {
            let left = until.saturating_sub(now_ms()).clamp(1, 10);
            crate::runtime::sleep(std::time::Duration::from_millis(left)).await;
        }
    }

    /// Publishes MULTI's queue for CLIENT LIST (`multi`, `multi-mem`).
    fn note_multi(&mut self) {
        self.tx_noted = self.tx.in_multi();
        let mut info = self.info.borrow_mut();
        info.mem.multi_cmds = self.tx.queued();
        info.mem.multi = self.tx.queued_memory();
    }

    /// Finds a request's command and checks that it may run now: the error
    /// text otherwise (unknown command, arity, NOAUTH, OOM, subscribed context).
    fn check(&self, argv: &[&[u8]]) -> Result<&'static CommandSpec, String> {
        let Some(spec) = table::lookup(argv[0]) else {
            return Err(unknown_command(argv));
        };
        let spec = self.resolve(spec, argv)?;
        // A script past the BUSY threshold on another core: Redis answers
        // every client so while one runs (see `script::busy`).
        if let Some(busy) = self.core.shared.busy.busy_elsewhere(self.core.id, self.now) {
            if !spec.has_flag("allow_busy") {
                return Err(busy.into());
            }
        }
        if self.tx.in_multi() && spec.has_flag("no_multi") {
            return Err("ERR Command not allowed inside a transaction".into());
        }
        if !self.authenticated && !spec.has_flag("no_auth") {
            return Err("NOAUTH Authentication required.".into());
        }
        if self.over_maxmemory(spec) {
            return Err("OOM command not allowed when used memory > 'maxmemory'.".into());
        }
        // The cheap atomic first: these run for every command. Redis refuses
        // PING too, so that clients notice.
        if crate::cmd::persistence::writes_refused(&self.core)
            && (spec.has_flag("write") || spec.name == "ping")
        {
            return Err(crate::cmd::persistence::MISCONF.into());
        }
        if let Some(errno) = self.core.shared.aof.write_error() {
            if spec.has_flag("write") || spec.name == "ping" {
                let why = crate::config::os_reason(&std::io::Error::from_raw_os_error(errno));
                return Err(format!("MISCONF Errors writing to the AOF file: {why}"));
            }
        }
        if self.core.shared.persistence.is_loading() && !spec.has_flag("loading") {
            return Err("LOADING Redis is loading the dataset in memory".into());
        }
        if self.proto() == Proto::Resp2 && self.subscribed() && !allowed_when_subscribed(spec) {
            return Err(crate::cmd::pubsub::not_in_context(spec.name.as_bytes())
                .0
                .into_owned());
        }
        Ok(spec)
    }

    /// Redis's `noeviction` policy: past `maxmemory`, commands that may grow
    /// memory are refused; reads and deletes still run.
    fn over_maxmemory(&self, spec: &CommandSpec) -> bool {
        let max = self.core.config.borrow().maxmemory;
        max > 0 && spec.has_flag("denyoom") && crate::alloc::used_memory() > max
    }

    /// Checks arity and picks the subcommand of a container command.
    fn resolve(
        &self,
        spec: &'static CommandSpec,
        argv: &[&[u8]],
    ) -> Result<&'static CommandSpec, String> {
        if !spec.arity_ok(argv.len()) {
            return Err(Error::arity(spec.name).0.into_owned());
        }
        if spec.subcommands.is_empty() || argv.len() < 2 {
            return Ok(spec);
        }
        let sub = argv[1];
        let Some(found) = spec.subcommand(sub) else {
            if sub.eq_ignore_ascii_case(b"help") {
                return Err(format!(
                    "ERR {} HELP is not supported by ringbus",
                    spec.name.to_ascii_uppercase()
                ));
            }
            return Err(Error::unknown_subcommand(sub, spec.name).0.into_owned());
        };
        if !found.arity_ok(argv.len()) {
            return Err(Error::arity(found.name).0.into_owned());
        }
        Ok(found)
    }

    fn note_command(&mut self, spec: &'static CommandSpec) {
        self.info.borrow_mut().last_cmd = spec.name;
    }

    /// Publishes the arguments the running command holds (CLIENT LIST's
    /// `argv-mem`): only a command that waits can be seen holding them.
    pub fn note_argv(&self, argv: &[&[u8]]) {
        self.info.borrow_mut().mem.argv = argv.iter().map(|a| a.len()).sum();
    }

    /// A publish's reply: `local` receivers here plus what `hops` report,
    /// filled in when the connection flushes. Its deliveries are already on
    /// their way, so later commands of the pipeline need not wait for them.
    pub fn owe_publish_count(&mut self, local: i64, hops: SmallVec<[HopFuture<i64>; 2]>) {
        let index = self.pending.publishes.len();
        self.pending.publishes.push((local, hops));
        self.pending
            .holes
            .push((self.out.buf.len(), Hole::Publish(index)));
    }

    /// Whether a reply may go to `out` only after those owed before it: a
    /// subscriber's output goes to its outbox as it is made, so it cannot
    /// leave holes behind.
    pub fn may_owe_replies(&self) -> bool {
        self.outbox.is_none()
    }

    /// Sends the pending batches, waits for their replies and splices them
    /// into `out` in request order.
    pub async fn flush(&mut self) {
        if self.pending.holes.is_empty() {
            return;
        }
        let batches = std::mem::take(&mut self.pending.batches);
        let futures: SmallVec<[HopFuture<BatchReply>; 2]> = batches
            .into_iter()
            .map(|(target, batch)| self.core.submit_batch(target, batch))
            .collect();
        let mut replies: SmallVec<[BatchReply; 2]> = SmallVec::new();
        for fut in futures {
            replies.push(fut.await);
        }
        let mut counts: SmallVec<[i64; 4]> = SmallVec::new();
        for (local, hops) in std::mem::take(&mut self.pending.publishes) {
            let mut total = local;
            for hop in hops {
                total += hop.await;
            }
            counts.push(total);
        }
        let local = std::mem::take(&mut self.out.buf);
        let extra: usize = replies.iter().map(|r| r.bytes.len()).sum::<usize>() + 24 * counts.len();
        let mut merged = Out {
            buf: Vec::with_capacity(local.len() + extra),
            proto: self.out.proto,
        };
        let mut copied = 0;
        for (at, hole) in self.pending.holes.drain(..) {
            merged.buf.extend_from_slice(&local[copied..at]);
            copied = at;
            match hole {
                Hole::Batch { batch, reply } => {
                    let r = &replies[batch];
                    let start = if reply == 0 { 0 } else { r.ends[reply - 1] };
                    merged.buf.extend_from_slice(&r.bytes[start..r.ends[reply]]);
                }
                Hole::Publish(index) => merged.int(counts[index]),
                Hole::Dropped => {}
            }
        }
        merged.buf.extend_from_slice(&local[copied..]);
        self.out.buf = merged.buf;
    }
}

/// A connection is a client of the executor: it batches commands for other
/// cores (their replies are spliced in where they stood), and inside EXEC
/// its commands run in EXEC's transaction.
impl Client for Session {
    fn core(&self) -> &Rc<Core> {
        &self.core
    }

    fn db(&self) -> usize {
        self.db
    }

    fn set_db(&mut self, db: usize) {
        Session::set_db(self, db);
    }

    fn proto(&self) -> Proto {
        self.out.proto
    }

    fn now(&self) -> u64 {
        self.now
    }

    fn out(&mut self) -> &mut Out {
        &mut self.out
    }

    fn txn(&mut self) -> Option<&mut Txn> {
        self.tx.exec.as_mut()
    }

    fn out_and_txn(&mut self) -> (&mut Out, Option<&mut Txn>) {
        (&mut self.out, self.tx.exec.as_mut())
    }

    fn session(&mut self) -> Option<&mut Session> {
        Some(self)
    }

    /// Adds the command to the batch for shard `target`, with a hole for its
    /// reply where it stands in `out`; the batch goes when the connection
    /// flushes.
    fn defer(&mut self, target: usize, f: ShardFn, argv: &[&[u8]]) -> bool {
        if self.tx.exec.is_some() {
            return false;
        }
        let cmd = OwnedCommand::new(f, self.db, argv);
        let proto = self.out.proto;
        let pending = &mut self.pending;
        let index = match pending.batches.iter().position(|(t, _)| *t == target) {
            Some(i) => i,
            None => {
                pending.batches.push((
                    target,
                    Batch {
                        proto,
                        cmds: Vec::new(),
                    },
                ));
                pending.batches.len() - 1
            }
        };
        let batch = &mut pending.batches[index].1;
        batch.cmds.push(cmd);
        let reply = batch.cmds.len() - 1;
        pending.holes.push((
            self.out.buf.len(),
            Hole::Batch {
                batch: index,
                reply,
            },
        ));
        true
    }

    fn owes(&self) -> bool {
        !self.pending.holes.is_empty()
    }

    fn settle(&mut self) -> Running<'_> {
        Box::pin(async move {
            self.flush().await;
            Flow::Continue
        })
    }

    fn in_order_here(&self, shard: usize) -> bool {
        !self.pending.batches.iter().any(|(t, _)| *t == shard)
    }

    /// EXEC took every shard its commands name before running them.
    fn using(&mut self, shards: &[usize]) -> Result<(), String> {
        match &self.tx.exec {
            Some(txn) if !shards.iter().all(|&s| txn.holds(s)) => {
                Err("ERR EXEC's transaction lacks a shard its command needs".into())
            }
            _ => Ok(()),
        }
    }
}

/// What a RESP2 connection with subscriptions may still send.
fn allowed_when_subscribed(spec: &CommandSpec) -> bool {
    matches!(
        spec.name,
        "subscribe"
            | "unsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "ssubscribe"
            | "sunsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

/// `ERR unknown command 'x', with args beginning with: 'a' 'b' `, as Redis
/// words it (at most 128 bytes of each, and of the name).
fn unknown_command(argv: &[&[u8]]) -> String {
    let show = |a: &[u8], max: usize| crate::cmd::args::truncated(a, max);
    let mut args = String::new();
    for arg in &argv[1..] {
        if args.len() >= 128 {
            break;
        }
        args.push_str(&format!("'{}' ", show(arg, 128 - args.len())));
    }
    format!(
        "ERR unknown command '{}', with args beginning with: {args}",
        show(argv[0], 128)
    )
}

/// Serves one connection until it closes.
pub async fn serve(core: Rc<Core>, mut stream: TcpStream, info: Rc<RefCell<ClientInfo>>) {
    let id = info.borrow().id;
    core.clients.borrow_mut().add(info.clone());
    let mut session = Session::new(core.clone(), info.clone(), stream.clone());
    let result = serve_inner(&mut session, &mut stream, info).await;
    crate::cmd::pubsub::leave_all(&mut session);
    transaction::unwatch(&mut session);
    if let Some(outbox) = &session.outbox {
        match result {
            // QUIT or a protocol error: the last reply still goes out.
            Ok(Flow::Close) => outbox.close(),
            _ => outbox.kill(),
        }
    }
    if let Err(e) = result {
        if !matches!(
            e.kind(),
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
        ) {
            eprintln!("ringbus: connection {id}: {e}");
        }
    }
    core.clients.borrow_mut().remove(id);
    core.shared
        .connected
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
}

/// Reads and runs requests until the connection ends; `Close` when it ends by
/// the server's choice (QUIT, a protocol error), `Continue` when the client
/// left, was killed or went over a limit.
///
/// Memory: the query buffer grows to what the request being read needs (no
/// more than `client-query-buffer-limit`, past which the client is closed),
/// and shrinks back before the connection waits for input; a reply buffer
/// larger than [`REPLY_BUFFER_KEEP`] is freed once sent. Reading is paced by
/// sending: the requests of one read are run until their replies pass
/// [`OUTPUT_PAUSE`], those replies are sent, and only then does the rest run,
/// so a client that pipelines without reading holds at most about that much.
async fn serve_inner(
    session: &mut Session,
    stream: &mut TcpStream,
    info: Rc<RefCell<ClientInfo>>,
) -> io::Result<Flow> {
    let core = session.core.clone();
    let (read_size, max_bulk) = {
        let config = core.config.borrow();
        (config.read_buffer as usize, config.proto_max_bulk_len)
    };
    let mut parser = RequestParser::new(max_bulk);
    let mut rbuf: Vec<u8> = Vec::with_capacity(read_size);
    let mut need = 0usize;
    let mut peak = ReplyPeak::default();
    // Complete requests are left in `rbuf` after the output paused them.
    let mut more = false;
    loop {
        let limit = core.config.borrow().client_query_buffer_limit as usize;
        if !more {
            fit_query_buffer(&mut rbuf, read_size, need, limit);
            info.borrow_mut().mem.qbuf_cap = rbuf.capacity();
            let n = if !session.stash.is_empty() {
                // Input that arrived while a command was blocked, not yet run.
                let stash = std::mem::take(&mut session.stash);
                rbuf.extend_from_slice(&stash);
                stash.len()
            } else if let Some(pending) = session.input.take() {
                // A read started while blocked: its bytes come first.
                let (res, side) = pending.await;
                let n = res?;
                rbuf.extend_from_slice(&side[..n.min(side.len())]);
                n
            } else {
                let (res, buf) = stream.read(rbuf).await;
                rbuf = buf;
                res?
            };
            if n == 0
                || info.borrow().killed
                || session.outbox.as_ref().is_some_and(|o| o.is_dead())
            {
                return Ok(Flow::Continue);
            }
            core.clients.borrow_mut().counters.net_input_bytes += n as u64;
            {
                let mut info = info.borrow_mut();
                info.last_active = Instant::now();
                info.mem.qbuf = rbuf.len();
                info.mem.qbuf_cap = rbuf.capacity();
            }
            if rbuf.len() > limit {
                // Redis's "Closing client that reached max query buffer length".
                eprintln!(
                    "ringbus: closing client id={} addr={} that reached max query buffer length \
                     ({} bytes buffered, client-query-buffer-limit {limit})",
                    info.borrow().id,
                    info.borrow().addr,
                    rbuf.len()
                );
                return Ok(Flow::Continue);
            }
            // CONFIG SET proto-max-bulk-len applies to connections already open.
            parser.set_max_bulk_len(core.config.borrow().proto_max_bulk_len);
            session.now = now_ms();
            if rbuf.len() < need {
                continue;
            }
        } else {
            session.now = now_ms();
        }
        need = 0;
        let (consumed, flow, paused) = process(session, &mut parser, &rbuf, &mut need).await;
        rbuf.drain(..consumed);
        // No reply tells of a write the log could still lose (see
        // `persist::aof::log`).
        let wrote = std::mem::take(&mut session.may_have_written);
        core.shared.aof.wait_durable(wrote).await;
        more = paused;
        crate::alloc::note_peak();
        {
            let mut info = info.borrow_mut();
            info.mem.qbuf = rbuf.len();
            info.mem.argv = 0;
            info.mem.reply_peak = peak.note(session.out.buf.len());
        }
        if session.outbox.is_some() {
            // The writer task sends it (and counts it); the next requests
            // are read once most of it is gone.
            session.sync_outbox();
            if let Some(outbox) = session.outbox.clone() {
                outbox.drained_to(OUTPUT_PAUSE).await;
                if outbox.is_dead() {
                    return Ok(Flow::Continue);
                }
            }
        } else if !session.out.buf.is_empty() {
            let spare = std::mem::take(&mut info.borrow_mut().spare_reply);
            let out = std::mem::replace(&mut session.out.buf, spare);
            core.clients.borrow_mut().counters.net_output_bytes += out.len() as u64;
            info.borrow_mut().mem.writing = out.len();
            let limit = core.config.borrow().output_limits.normal;
            let (res, out) = write_limited(stream, out, limit).await;
            info.borrow_mut().mem.writing = 0;
            let Some(res) = res else {
                core.clients
                    .borrow_mut()
                    .counters
                    .output_limit_disconnections += 1;
                return Ok(Flow::Continue);
            };
            res?;
            let mut info = info.borrow_mut();
            info.spare_reply = reusable(out, REPLY_BUFFER_BUSY);
            info.mem.reply_cap = info.spare_reply.capacity() + session.out.buf.capacity();
            info.mem.reply_len = 0;
        }
        if flow == Flow::Close {
            return Ok(Flow::Close);
        }
        if info.borrow().killed || rbuf.len() > limit {
            return Ok(Flow::Continue);
        }
    }
}

/// The reply buffer a connection keeps while it is idle (Redis's 16 KB
/// static reply buffer): the core's cron frees a larger one after
/// [`IDLE_TRIM`] without requests (Redis's `clientsCronResizeOutputBuffer`).
pub const REPLY_BUFFER_IDLE: usize = 16 * 1024;

/// The largest reply buffer a busy connection keeps between reads, so a
/// steady pipeline of large replies does not grow a new one each time; a
/// larger one is freed as soon as it is sent.
pub const REPLY_BUFFER_BUSY: usize = 1024 * 1024;

/// How long a connection is idle before the cron gives its buffers back.
pub const IDLE_TRIM: std::time::Duration = std::time::Duration::from_secs(2);

/// Replies of one read past which the connection sends them before it runs
/// the read's remaining requests (see `serve_inner`).
pub const OUTPUT_PAUSE: usize = 256 * 1024;

/// Replies owed by other cores after which a long pipeline collects them,
/// so that [`OUTPUT_PAUSE`] also bounds replies made elsewhere.
const FLUSH_OWED: usize = 64;

/// A sent reply buffer, emptied, if it is at most `keep` bytes.
pub fn reusable(mut buf: Vec<u8>, keep: usize) -> Vec<u8> {
    if buf.capacity() > keep {
        return Vec::new();
    }
    buf.clear();
    buf
}

/// Sizes the query buffer before a read: room for `need` bytes when the
/// parser knows the request's length (capped just past `limit`, which closes
/// the client), otherwise a read's worth beyond what it holds; an oversized
/// buffer (after a large request) shrinks back, as Redis's
/// `clientsCronResizeQueryBuffer` does for idle clients.
fn fit_query_buffer(rbuf: &mut Vec<u8>, read_size: usize, need: usize, limit: usize) {
    let need = need.min(limit.saturating_add(1));
    let held = rbuf.len();
    let room = (held + read_size).max(need);
    if rbuf.capacity() > room.saturating_mul(2) && rbuf.capacity() > read_size {
        rbuf.shrink_to(room);
    }
    if need > held + read_size {
        // A large argument of known size: room for exactly it.
        rbuf.reserve_exact(need - held);
    } else if rbuf.capacity() < need || rbuf.capacity() - held < read_size / 4 {
        // Requests of unknown total size grow the buffer geometrically.
        rbuf.reserve(read_size);
    }
}

/// Writes a plain connection's replies under `client-output-buffer-limit
/// normal`: `None` when the client went over it (and must be closed, its
/// replies dropped, as Redis does). The buffer is what the client is owed:
/// over the hard limit it is not sent at all; at or over the soft limit it
/// must be taken by the client within the soft period.
async fn write_limited(
    stream: &mut TcpStream,
    out: Vec<u8>,
    limit: crate::config::OutputLimit,
) -> (Option<io::Result<()>>, Vec<u8>) {
    let len = out.len() as u64;
    if limit.hard > 0 && len >= limit.hard {
        return (None, out);
    }
    if limit.soft == 0 || len < limit.soft {
        let (res, out) = stream.write_all(out).await;
        return (Some(res), out);
    }
    let period = std::time::Duration::from_secs(limit.soft_seconds);
    let write = std::pin::pin!(stream.write_all(out));
    let timer = std::pin::pin!(crate::runtime::sleep(period));
    match crate::runtime::first(write, timer).await {
        crate::runtime::First::Left((res, out)) => (Some(res), out),
        crate::runtime::First::Right(()) => (None, Vec::new()),
    }
}

/// The largest reply batch of the last few seconds (CLIENT LIST's `rbp`,
/// which Redis resets every 5 seconds).
#[derive(Default)]
struct ReplyPeak {
    peak: usize,
    since: Option<Instant>,
}

impl ReplyPeak {
    fn note(&mut self, len: usize) -> usize {
        if len == 0 && self.peak == 0 {
            return 0;
        }
        let now = Instant::now();
        if self
            .since
            .is_none_or(|t| now.duration_since(t) > std::time::Duration::from_secs(5))
        {
            self.peak = 0;
            self.since = Some(now);
        }
        self.peak = self.peak.max(len);
        self.peak
    }
}

/// Runs the complete requests at the front of `input` until their replies
/// pass [`OUTPUT_PAUSE`]; returns how many bytes were used, whether to close,
/// and whether it paused with complete requests possibly left.
async fn process(
    session: &mut Session,
    parser: &mut RequestParser,
    input: &[u8],
    need: &mut usize,
) -> (usize, Flow, bool) {
    let mut pos = 0;
    let mut flow = Flow::Continue;
    let mut paused = false;
    while pos < input.len() {
        // Replies owed by other cores count too: fetch them now and then.
        if session.pending.holes.len() >= FLUSH_OWED {
            session.flush().await;
        }
        if session.out.buf.len() >= OUTPUT_PAUSE {
            paused = true;
            break;
        }
        match parser.parse(&input[pos..], session.authenticated) {
            Ok(Parsed::Request { consumed }) => {
                let argv = parser.args(&input[pos..]);
                pos += consumed;
                flow = session.dispatch(&argv).await;
                if flow == Flow::Close {
                    break;
                }
            }
            Ok(Parsed::Empty { consumed }) => pos += consumed,
            Ok(Parsed::Incomplete { need: n }) => {
                // Relative to the request's start, which `serve` moves to the front.
                *need = n;
                break;
            }
            Err(e) => {
                session.flush().await;
                session.out.error(&e.reply_text());
                flow = Flow::Close;
                break;
            }
        }
    }
    session.flush().await;
    (pos, flow, paused)
}
