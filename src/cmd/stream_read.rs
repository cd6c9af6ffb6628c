//! XREAD and XREADGROUP: reads over several streams, possibly on several
//! shards, that may block until one of them gets new entries.
//!
//! Like Redis, a read first checks every key (type, group, ID) and only
//! then reads, so an error leaves no trace. Keys on one shard are checked
//! and read in one hop; keys on several shards are read in a cross-shard
//! transaction that holds their shards (`shard::txn`), so a group read never
//! consumes from one stream and then fails on another. With BLOCK and
//! nothing to read, the client registers a waiter on every key in that same
//! step (see `shard::blocking`), so no XADD can fall in between; the shard
//! that gets an entry serves the waiter there (`blocked_ready`, `serve_blocked`).

use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::args::{is, Error};
use super::blocking::{self, Attempt, Blocked, Blocking, Wake, Wants};
use super::exec::Client;
use super::stream_groups::{record_group, GroupBefore};
use super::streams::{no_group, parse_strict_id, read_stream, reply_entries, stream_mut, to_read};
use super::Ctx;
use crate::resp::parse::parse_i64;
use crate::resp::Out;
use crate::server::connection::Flow;
use crate::shard::blocking::{Round, Waiter};
use crate::shard::ctx::{Here, ShardsExt};
use crate::shard::dispatch::Core;
use crate::shard::route::{group_by_shard, shard_of};
use crate::shard::txn::Txn;
use crate::types::stream::{self, ReadEntry, StreamId};

/// What a read hands its client: each stream read, with its entries.
pub type StreamReply = Vec<(Vec<u8>, Vec<ReadEntry>)>;

/// The group side of an XREADGROUP.
#[derive(Clone, Debug)]
pub struct GroupRead {
    pub group: Vec<u8>,
    pub consumer: Vec<u8>,
    pub noack: bool,
}

/// What a blocked reader waits for: an entry past what it has seen on one
/// of its streams (or, reading with a group, past the group's last ID).
#[derive(Clone, Debug)]
struct StreamWants {
    group: Option<GroupRead>,
    count: usize,
    /// Per stream, the ID the client had seen (its `$` resolved), filled as
    /// each key's shard checks and registers it.
    seen: SeenIds,
}

impl StreamWants {
    fn seen(&self, key: &[u8]) -> StreamId {
        let seen = self.seen.lock().expect("seen IDs");
        seen.iter()
            .find(|(k, _)| k == key)
            .map_or(StreamId::MIN, |(_, id)| *id)
    }
}

impl Wants for StreamWants {
    type Served = StreamReply;

    fn ready(&self, ctx: &mut Ctx, key: &[u8], _: &mut Round) -> bool {
        blocked_ready(ctx, key, self.group.as_ref(), self.seen(key))
    }

    /// A group read learns of its stream's deletion (Redis 7.2 answers it
    /// with an error).
    fn on_nokey(&self) -> bool {
        self.group.is_some()
    }

    fn take(&self, here: &mut Here, db: usize, key: &[u8], _: &mut Round) -> Wake<StreamReply> {
        let after = self.seen(key);
        let read = here.ctx(db, |ctx| {
            serve_blocked(ctx, key, self.group.as_ref(), after, self.count)
        });
        match read {
            Ok(read) => Wake::Served(vec![read]),
            Err(e) => Wake::Failed(e),
        }
    }
}

/// The ID argument given for one stream.
#[derive(Clone, Debug)]
enum After {
    /// `$`: whatever the stream's last ID is now.
    Last,
    /// `>`: the group's new entries.
    New,
    Id(StreamId),
    /// A bad ID, reported after the key's own checks, as Redis orders them.
    Bad(Error),
}

#[derive(Clone, Debug)]
struct Request {
    /// Whether BLOCK was given.
    blocks: bool,
    after: Vec<After>,
    /// The streams, BLOCK's timeout, and the group, COUNT and the IDs seen
    /// (shared with the waiter).
    blocked: Blocked<StreamWants>,
}

fn parse(argv: &[&[u8]], xreadgroup: bool) -> Result<Request, Error> {
    let mut block = None;
    let mut count = 0;
    let mut group: Option<(Vec<u8>, Vec<u8>)> = None;
    let mut noack = false;
    let mut streams_at = None;
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = argv[i];
        if is(opt, "block") && more > 0 {
            i += 1;
            let ms = parse_i64(argv[i])
                .ok_or(Error::msg("ERR timeout is not an integer or out of range"))?;
            if ms < 0 {
                return Err(Error::msg("ERR timeout is negative"));
            }
            block = Some((ms > 0).then(|| Duration::from_millis(ms as u64)));
        } else if is(opt, "count") && more > 0 {
            i += 1;
            count = parse_i64(argv[i]).ok_or(Error::NOT_INTEGER)?.max(0) as usize;
        } else if is(opt, "streams") && more > 0 {
            streams_at = Some(i + 1);
            if !(argv.len() - i - 1).is_multiple_of(2) {
                return Err(Error::msg(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            break;
        } else if is(opt, "group") && more >= 2 {
            if !xreadgroup {
                return Err(Error::msg(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            group = Some((argv[i + 1].to_vec(), argv[i + 2].to_vec()));
            i += 2;
        } else if is(opt, "noack") {
            if !xreadgroup {
                return Err(Error::msg(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            noack = true;
        } else {
            return Err(Error::SYNTAX);
        }
        i += 1;
    }
    let Some(at) = streams_at else {
        return Err(Error::SYNTAX);
    };
    if xreadgroup && group.is_none() {
        return Err(Error::msg("ERR Missing GROUP option for XREADGROUP"));
    }
    let n = (argv.len() - at) / 2;
    let keys = argv[at..at + n].iter().map(|k| k.to_vec()).collect();
    let after = argv[at + n..]
        .iter()
        .map(|&arg| match arg {
            b"$" if xreadgroup => After::Bad(Error::msg(
                "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
            )),
            b"$" => After::Last,
            b">" if !xreadgroup => After::Bad(Error::msg(
                "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
            )),
            b">" => After::New,
            _ => parse_strict_id(arg).map_or_else(After::Bad, After::Id),
        })
        .collect();
    Ok(Request {
        blocks: block.is_some(),
        after,
        blocked: Blocked {
            keys,
            timeout: block.flatten(),
            wants: StreamWants {
                group: group.map(|(group, consumer)| GroupRead {
                    group,
                    consumer,
                    noack,
                }),
                count,
                seen: SeenIds::default(),
            },
        },
    })
}

// ------------------------------------------------------------------ shard side

/// Checks one key as Redis does before reading anything: its type, its
/// group, then its ID. Returns the ID to read after (`$` resolved).
fn check(
    ctx: &mut Ctx,
    key: &[u8],
    group: Option<&GroupRead>,
    after: &After,
) -> Result<After, Error> {
    let s = read_stream(ctx, key)?;
    if let Some(g) = group {
        if !s.is_some_and(|s| s.groups.contains_key(g.group.as_slice())) {
            return Err(no_group(key, &g.group, " in XREADGROUP with GROUP option"));
        }
    }
    Ok(match after {
        After::Bad(e) => return Err(e.clone()),
        After::Last => After::Id(s.map_or(StreamId::MIN, |s| s.last_id)),
        other => other.clone(),
    })
}

/// Reads one checked key; None when it has nothing to give (so the reply
/// leaves it out). A group read with an ID reads the consumer's history,
/// which always answers, even with no entries.
fn serve(
    ctx: &mut Ctx,
    key: &[u8],
    group: Option<&GroupRead>,
    after: &After,
    count: usize,
) -> Option<Vec<ReadEntry>> {
    let now = ctx.now;
    let s = stream_mut(ctx.db(), key, now).ok()??;
    let Some(g) = group else {
        let After::Id(after) = after else {
            unreachable!("checked")
        };
        if s.is_empty() || s.last_valid_id() <= *after {
            return None;
        }
        let start = stream::incr(*after)?;
        return Some(to_read(s.range(start, StreamId::MAX, count, false)));
    };
    let before = GroupBefore::of(s, &g.group, &g.consumer);
    let read = match after {
        After::Id(id) => {
            let start = stream::incr(*id).unwrap_or(StreamId::MAX);
            Some(s.read_history(&g.group, &g.consumer, start, count, now))
        }
        _ => {
            let last = s.groups[g.group.as_slice()].last_id;
            if !s.is_empty() && s.last_valid_id() > last {
                Some(s.read_new(&g.group, &g.consumer, count, g.noack, now))
            } else {
                // The consumer exists from its first read, served or not.
                let group = s.groups.get_mut(g.group.as_slice()).expect("checked");
                group.consumer(&g.consumer, now).0.seen_time = now;
                None
            }
        }
    };
    ctx.logged(key);
    before.notify_created(ctx, key);
    // Served at once or to a blocked client, the read replays as the
    // delivery state it left (XCLAIM per entry now pending, XGROUP SETID).
    if !super::propagate::on(ctx) {
        return read;
    }
    let delivered: Vec<StreamId> = match &read {
        Some(entries) if !g.noack || matches!(after, After::Id(_)) => entries
            .iter()
            .filter(|(_, fields)| fields.is_some())
            .map(|(id, _)| *id)
            .collect(),
        _ => Vec::new(),
    };
    record_group(ctx, key, &g.group, &g.consumer, &before, &delivered, &[]);
    read
}

/// Whether a blocked reader of `key` can be answered now: the stream has
/// an entry after `after` (XREAD) or after its group's last ID, or the
/// stream or group it reads with is gone (which it must be told).
pub fn blocked_ready(
    ctx: &mut Ctx,
    key: &[u8],
    group: Option<&GroupRead>,
    after: StreamId,
) -> bool {
    let now = ctx.now;
    let s = match stream_mut(ctx.db(), key, now) {
        Ok(Some(s)) => s,
        // A deleted (or replaced) stream ends a group read only.
        _ => return group.is_some(),
    };
    let after = match group {
        None => after,
        Some(g) => match s.groups.get(g.group.as_slice()) {
            Some(group) => group.last_id,
            None => return true,
        },
    };
    !s.is_empty() && s.last_valid_id() > after
}

/// Answers a blocked reader that [`blocked_ready`] found ready.
pub fn serve_blocked(
    ctx: &mut Ctx,
    key: &[u8],
    group: Option<&GroupRead>,
    after: StreamId,
    count: usize,
) -> Result<(Vec<u8>, Vec<ReadEntry>), Error> {
    // Redis 7.2 runs a woken XREADGROUP again: a stream or group that is
    // gone answers as it would to a new request (NOGROUP, or WRONGTYPE).
    let after = match group {
        None => After::Id(after),
        Some(g) => {
            check(ctx, key, Some(g), &After::New)?;
            After::New
        }
    };
    let entries = serve(ctx, key, group, &after, count).unwrap_or_default();
    Ok((key.to_vec(), entries))
}

// ------------------------------------------------------------------ client side

/// Per key, in argument order: what was read, if anything.
type Results = Vec<Option<Vec<ReadEntry>>>;

/// Checks, reads, and (when nothing was read and the client blocks)
/// registers `waiter` on every key, all in one step with every key's shard
/// held (see `blocking::attempt_on`).
async fn attempt(
    core: &Rc<Core>,
    db: usize,
    req: &Request,
    waiter: Option<Arc<Waiter>>,
    outer: Option<&mut Txn>,
) -> Result<Results, Error> {
    let waiter = waiter.map(|w| (w, req.blocked.wants.seen.clone()));
    let req = req.clone();
    let keys = req.blocked.keys.clone();
    blocking::attempt_on(core, &keys, outer, move |shards| {
        let (n, count) = (req.blocked.keys.len(), shards.count());
        let by_shard = group_by_shard(0..n, |&i| shard_of(&req.blocked.keys[i], count));
        // Key by key in argument order, as Redis's first loop: the first
        // error stops it (no later key is looked up), before anything is read.
        let mut checked: Vec<After> = Vec::with_capacity(n);
        for i in 0..n {
            let key = &req.blocked.keys[i];
            checked.push(shards.ctx(shard_of(key, count), db, |ctx| {
                check(ctx, key, req.blocked.wants.group.as_ref(), &req.after[i])
            })?);
        }
        let mut results: Results = vec![None; n];
        for (&shard, idx) in &by_shard {
            let read = shards.ctx(shard, db, |ctx| serve_part(ctx, &req, idx, &checked));
            for (&i, got) in idx.iter().zip(read) {
                results[i] = got;
            }
        }
        if let Some(w) = waiter.filter(|_| results.iter().all(Option::is_none)) {
            for (&shard, idx) in &by_shard {
                let w = (w.0.clone(), w.1.clone());
                shards.ctx(shard, db, |ctx| register_part(ctx, &req, idx, &checked, w));
            }
        }
        Ok(results)
    })
    .await
}

fn serve_part(ctx: &mut Ctx, req: &Request, idx: &[usize], checked: &[After]) -> Results {
    idx.iter()
        .map(|&i| {
            // Redis's second loop looks every key up again, as a read: its
            // hit or miss counts (and a miss is a `keymiss` event) once more.
            ctx.read(&req.blocked.keys[i])?;
            serve(
                ctx,
                &req.blocked.keys[i],
                req.blocked.wants.group.as_ref(),
                &checked[i],
                req.blocked.wants.count,
            )
        })
        .collect()
}

/// Registers the reader on the keys at `idx`, noting what it has seen on
/// each (its `$` resolved by the check).
fn register_part(
    ctx: &mut Ctx,
    req: &Request,
    idx: &[usize],
    checked: &[After],
    (waiter, seen): (Arc<Waiter>, SeenIds),
) {
    let db = ctx.db;
    for &i in idx {
        let after = match checked[i] {
            After::Id(id) => id,
            _ => StreamId::MIN,
        };
        seen.lock()
            .expect("seen IDs")
            .push((req.blocked.keys[i].clone(), after));
        let key = (db, req.blocked.keys[i].as_slice().into());
        ctx.shard.blocking.register(key, waiter.clone());
    }
}

type SeenIds = Arc<Mutex<Vec<(Vec<u8>, StreamId)>>>;

/// What was read, per stream read from, in argument order.
fn read_pairs(keys: &[Vec<u8>], results: Results) -> StreamReply {
    keys.iter()
        .zip(results)
        .filter_map(|(k, r)| r.map(|entries| (k.clone(), entries)))
        .collect()
}

fn reply(out: &mut Out, read: &StreamReply) {
    if read.is_empty() {
        out.null_array();
        return;
    }
    // RESP3 answers a map of stream to entries, RESP2 an array of pairs.
    if out.resp3() {
        out.map(read.len());
    } else {
        out.array(read.len());
    }
    for (key, entries) in read {
        if !out.resp3() {
            out.array(2);
        }
        out.bulk(key);
        reply_entries(out, entries);
    }
}

/// Runs XREAD (`xreadgroup` false) or XREADGROUP: with BLOCK through the
/// one blocking loop, without it (or inside EXEC, or from a script) at once.
pub async fn run(c: &mut dyn Client, argv: &[&[u8]], xreadgroup: bool) -> Flow {
    let req = match parse(argv, xreadgroup) {
        Ok(r) => r,
        Err(e) => {
            c.out().error(&e.0);
            return Flow::Continue;
        }
    };
    if req.blocks {
        return blocking::run(c, req).await;
    }
    let core = c.core().clone();
    let db = c.db();
    let (out, txn) = c.out_and_txn();
    match attempt(&core, db, &req, None, txn).await {
        Ok(results) => reply(out, &read_pairs(&req.blocked.keys, results)),
        Err(e) => out.error(&e.0),
    }
    Flow::Continue
}

pub async fn xread(c: &mut dyn Client, argv: &[&[u8]]) -> Flow {
    run(c, argv, false).await
}

pub async fn xreadgroup(c: &mut dyn Client, argv: &[&[u8]]) -> Flow {
    run(c, argv, true).await
}

impl Blocking for Request {
    type Wants = StreamWants;

    fn blocked(&self) -> &Blocked<StreamWants> {
        &self.blocked
    }

    fn attempt<'a>(
        &'a self,
        core: &'a Rc<Core>,
        db: usize,
        waiter: Option<&'a Arc<Waiter>>,
        outer: Option<&'a mut Txn>,
    ) -> Attempt<'a, StreamReply> {
        Box::pin(async move {
            let results = attempt(core, db, self, waiter.cloned(), outer).await?;
            let read = read_pairs(&self.blocked.keys, results);
            Ok((!read.is_empty()).then_some(read))
        })
    }

    fn answer(&self, out: &mut Out, read: StreamReply) {
        reply(out, &read);
    }
}

/// XREADGROUP with an ID on one key (the consumer's history), for the
/// propagation tests.
#[cfg(test)]
pub fn serve_history(
    ctx: &mut Ctx,
    key: &[u8],
    group: &GroupRead,
    after: StreamId,
    count: usize,
) -> Option<Vec<ReadEntry>> {
    check(ctx, key, Some(group), &After::Id(after)).ok()?;
    serve(ctx, key, Some(group), &After::Id(after), count)
}
