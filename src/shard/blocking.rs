//! Clients blocked on keys: lists (BLPOP, BRPOP, BLMPOP, BLMOVE,
//! BRPOPLPUSH), streams (XREAD and XREADGROUP with BLOCK) and sorted sets
//! (BZPOPMIN, BZPOPMAX, BZMPOP).
//!
//! A blocked client leaves one [`Waiter`] in the block table of each shard
//! that owns one of its keys, queued per key in the order clients blocked.
//! Every write to a key with waiters marks it ready (see `Ctx::wrote`), and
//! after the command the shard serves the key's waiters first-come,
//! first-served: for a list, one element (or COUNT elements) each while the
//! list lasts; for a sorted set, likewise its lowest or highest members; for a stream, every reader whose ID is behind the stream's
//! last entry, and every group reader while its group has new entries.
//! Serving a waiter runs its pop or read right there and sends the result to
//! the waiting client's core; nothing polls and no timer fires while it waits.
//!
//! Invariants:
//! - **Exactly once.** A waiter queued on several keys, on several shards, is
//!   served by whichever shard claims it first: claiming is one atomic
//!   compare-and-swap on the waiter's state, and only the claimer pops. The
//!   client's own timeout, disconnect and CLIENT UNBLOCK claim the same way,
//!   so a client that gave up is never served, and one that was served
//!   always gets what was popped for it.
//! - **FIFO per key.** Waiters are served in queue order; a claimed waiter
//!   left behind in another key's queue is skipped and dropped there (the
//!   client also unregisters it from every shard once it is done).
//! - **No missed push.** A client checks its keys and registers in the same
//!   step on each shard, holding the keys' locks when they span shards, so
//!   no push can fall between "empty" and "waiting".
//! - **Locked keys wait.** A key locked by a cross-shard transaction is served
//!   only once the transaction releases it, so no waiter sees half of one.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use ahash::AHashMap;

use super::dispatch::{Core, ReplyTo};
use super::locks::DbKey;
use super::route::shard_of;
use crate::cmd::args::Error;
use crate::cmd::lists::{self, End};
use crate::cmd::stream_read::{self as stream_cmds, StreamReply};
// Sorted sets.
use crate::cmd::zsets;
use crate::types::stream::StreamId;

/// What a blocked client does with a key once it has elements.
#[derive(Clone, Debug)]
pub enum BlockOp {
    /// BLPOP / BRPOP (one element) and BLMPOP (`count` elements).
    Pop { end: End, count: usize },
    /// BLMOVE / BRPOPLPUSH into `dst`.
    Move { dst: Vec<u8>, from: End, to: End },
    /// XREAD BLOCK (no group) or XREADGROUP BLOCK with `>`.
    Read {
        group: Option<GroupRead>,
        /// At most this many entries (0: all).
        count: usize,
    },
    // Sorted sets.
    /// BZPOPMIN / BZPOPMAX (one member) and BZMPOP (`count` members), from
    /// the low end or, with `max`, the high end.
    ZPop { max: bool, count: usize },
}

/// The group side of a blocked XREADGROUP.
#[derive(Clone, Debug)]
pub struct GroupRead {
    pub group: Vec<u8>,
    pub consumer: Vec<u8>,
    pub noack: bool,
}

impl BlockOp {
    fn on_lists(&self) -> bool {
        matches!(self, BlockOp::Pop { .. } | BlockOp::Move { .. })
    }

    fn on_streams(&self) -> bool {
        matches!(self, BlockOp::Read { .. })
    }

    // Sorted sets.
    fn on_zsets(&self) -> bool {
        matches!(self, BlockOp::ZPop { .. })
    }
}

/// What the waiting client is told.
#[derive(Debug)]
pub enum Served {
    Popped {
        key: Vec<u8>,
        values: Vec<Vec<u8>>,
    },
    Moved(Vec<u8>),
    /// The command's error once it ran (a move into a key of another type).
    Failed(Error),
    /// A move whose destination is on another shard: the source has an
    /// element now, so the client runs the move as a transaction itself.
    Retry,
    /// CLIENT UNBLOCK: time out now, or fail with UNBLOCKED.
    Unblocked {
        error: bool,
    },
    /// A stream read: the key and what was read from it.
    Read(StreamReply),
    // Sorted sets.
    /// A sorted set pop: the key and its popped `(member, score)` pairs.
    ZPopped {
        key: Vec<u8>,
        items: Vec<(Vec<u8>, f64)>,
    },
}

const WAITING: u8 = 0;
const CLAIMED: u8 = 1;

/// One blocked client, shared by the block tables of its keys' shards.
#[derive(Debug)]
pub struct Waiter {
    pub client: u64,
    pub db: usize,
    pub op: BlockOp,
    /// Where the result goes: a slot on the client's core.
    pub reply: ReplyTo<Served>,
    state: AtomicU8,
}

impl Waiter {
    pub fn new(client: u64, db: usize, op: BlockOp, reply: ReplyTo<Served>) -> Arc<Waiter> {
        Arc::new(Waiter {
            client,
            db,
            op,
            reply,
            state: AtomicU8::new(WAITING),
        })
    }

    /// Takes the right to finish this wait; true for exactly one caller.
    pub fn claim(&self) -> bool {
        self.state
            .compare_exchange(WAITING, CLAIMED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    pub fn is_waiting(&self) -> bool {
        self.state.load(Ordering::Acquire) == WAITING
    }
}

/// A waiter in one key's queue. `after` is, for XREAD, the ID the client
/// has seen on this key (its `$` resolved when it blocked); unused otherwise.
#[derive(Clone, Debug)]
struct Queued {
    waiter: Arc<Waiter>,
    after: StreamId,
}

/// One shard's blocked clients.
#[derive(Default)]
pub struct BlockTable {
    /// Waiters per key, oldest first. Invariant: no empty queues.
    waiting: AHashMap<DbKey, VecDeque<Queued>>,
    /// Keys written since they were last served.
    ready: Vec<DbKey>,
}

impl BlockTable {
    pub fn register(&mut self, key: DbKey, waiter: Arc<Waiter>) {
        self.register_after(key, waiter, StreamId::MIN);
    }

    /// Registers a stream reader that has seen `key` up to `after`.
    pub fn register_after(&mut self, key: DbKey, waiter: Arc<Waiter>, after: StreamId) {
        self.waiting
            .entry(key)
            .or_default()
            .push_back(Queued { waiter, after });
    }

    /// Removes `waiter` from `key`'s queue.
    pub fn unregister(&mut self, key: &DbKey, waiter: &Arc<Waiter>) {
        if let Some(queue) = self.waiting.get_mut(key) {
            queue.retain(|q| !Arc::ptr_eq(&q.waiter, waiter));
            if queue.is_empty() {
                self.waiting.remove(key);
            }
        }
    }

    /// Marks every key of database `db` (None: all) with waiters as ready:
    /// FLUSHDB / FLUSHALL may have removed them.
    pub fn signal_all(&mut self, db: Option<usize>) {
        for key in self.waiting.keys() {
            if db.is_none_or(|d| d == key.0) && !self.ready.contains(key) {
                self.ready.push(key.clone());
            }
        }
    }

    /// A write to `key`: serve its waiters after the command, if it has any.
    /// Costs nothing while nobody is blocked.
    pub fn signal(&mut self, db: usize, key: &[u8]) {
        if self.waiting.is_empty() {
            return;
        }
        let key: DbKey = (db, key.into());
        if self.waiting.contains_key(&key) && !self.ready.contains(&key) {
            self.ready.push(key);
        }
    }

    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Clients blocked on this shard's keys (a client on several keys counts once per key).
    pub fn waiting_count(&self) -> usize {
        self.waiting.values().map(VecDeque::len).sum()
    }

    /// The oldest waiter of the kind `wanted` still waiting on `key`,
    /// claimed by this shard. Waiters of other kinds (stream readers, or
    /// pops of another type) queued on the same key keep their places.
    fn next_claimed(&mut self, key: &DbKey, wanted: fn(&BlockOp) -> bool) -> Option<Arc<Waiter>> {
        let queue = self.waiting.get_mut(key)?;
        queue.retain(|q| q.waiter.is_waiting());
        let found = queue
            .iter()
            .position(|q| wanted(&q.waiter.op) && q.waiter.claim())
            .and_then(|i| queue.remove(i))
            .map(|q| q.waiter);
        if queue.is_empty() {
            self.waiting.remove(key);
        }
        found
    }

    /// The stream readers waiting on `key`, oldest first.
    fn readers(&mut self, key: &DbKey) -> Vec<Queued> {
        let Some(queue) = self.waiting.get_mut(key) else {
            return Vec::new();
        };
        queue.retain(|q| q.waiter.is_waiting());
        let readers = queue
            .iter()
            .filter(|q| q.waiter.op.on_streams())
            .cloned()
            .collect();
        if queue.is_empty() {
            self.waiting.remove(key);
        }
        readers
    }
}

/// Serves every ready key's waiters; run by the core after each command or
/// batch of commands on its shard.
pub fn serve_ready(core: &Core) {
    loop {
        let next = {
            let mut shard = core.shard.borrow_mut();
            let shard = &mut *shard;
            // A key locked by a transaction waits for its release.
            let at = shard
                .blocking
                .ready
                .iter()
                .position(|k| shard.locks.admits_plain(k.0, &[&k.1]));
            at.map(|i| shard.blocking.ready.swap_remove(i))
        };
        let Some(key) = next else { break };
        serve_key(core, key);
    }
}

/// Serves `key`'s waiters: list waiters while it holds a list, then stream
/// readers (which also learn of a deleted or replaced stream or group).
fn serve_key(core: &Core, key: DbKey) {
    serve_list_key(core, key.clone());
    // Sorted sets.
    serve_zset_key(core, key.clone());
    serve_stream_key(core, key);
}

// Sorted sets.
/// Serves `key`'s sorted set waiters in order while it holds members.
fn serve_zset_key(core: &Core, key: DbKey) {
    loop {
        let outcome = core.with_ctx(key.0, |ctx| {
            if !zsets::holds_zset(ctx, &key.1).unwrap_or(false) {
                return None;
            }
            let waiter = ctx.shard.blocking.next_claimed(&key, BlockOp::on_zsets)?;
            let BlockOp::ZPop { max, count } = waiter.op else {
                unreachable!("next_claimed takes sorted set waiters only")
            };
            let items = zsets::pop(ctx, &key.1, max, count)
                .ok()
                .flatten()
                .unwrap_or_default();
            let served = Served::ZPopped {
                key: key.1.to_vec(),
                items,
            };
            Some((waiter.reply, served))
        });
        let Some((reply, served)) = outcome else {
            break;
        };
        core.answer(reply, served);
    }
}

/// Serves `key`'s stream readers, oldest first: each one the stream (or
/// its group) has something for, or whose stream or group is gone.
fn serve_stream_key(core: &Core, key: DbKey) {
    let answers = core.with_ctx(key.0, |ctx| {
        let mut answers = Vec::new();
        for q in ctx.shard.blocking.readers(&key) {
            let BlockOp::Read { group, count } = &q.waiter.op else {
                continue;
            };
            if !stream_cmds::blocked_ready(ctx, &key.1, group.as_ref(), q.after) {
                continue;
            }
            if !q.waiter.claim() {
                continue;
            }
            let served =
                match stream_cmds::serve_blocked(ctx, &key.1, group.as_ref(), q.after, *count) {
                    Ok(reply) => Served::Read(reply),
                    Err(e) => Served::Failed(e),
                };
            answers.push((q.waiter.reply, served));
        }
        // Drop the claimed ones from the queue now.
        ctx.shard.blocking.readers(&key);
        answers
    });
    for (reply, served) in answers {
        core.answer(reply, served);
    }
}

/// Serves `key`'s list waiters in order while its list has elements.
fn serve_list_key(core: &Core, key: DbKey) {
    let shards = core.cores();
    // Moves to other shards are only told to retry, so the elements they
    // will take are counted here to wake no more of them than there are.
    let mut promised = 0;
    loop {
        let db = key.0;
        let outcome = core.with_ctx(db, |ctx| {
            let now = ctx.now;
            let len = match lists::list_mut(ctx.db(), &key.1, now) {
                Ok(Some(list)) => list.len(),
                _ => 0,
            };
            if len <= promised {
                return None;
            }
            let waiter = ctx.shard.blocking.next_claimed(&key, BlockOp::on_lists)?;
            let served = match &waiter.op {
                BlockOp::Pop { end, count } => {
                    let values = lists::pop(ctx, &key.1, *end, *count)
                        .ok()
                        .flatten()
                        .unwrap_or_default();
                    Served::Popped {
                        key: key.1.to_vec(),
                        values,
                    }
                }
                BlockOp::Move { dst, from, to } => {
                    if shard_of(dst, shards) != core.id {
                        promised += 1;
                        Served::Retry
                    } else if let Err(e) = lists::check_pushable(ctx.db(), dst, now) {
                        Served::Failed(e)
                    } else {
                        let value = lists::pop(ctx, &key.1, *from, 1)
                            .ok()
                            .flatten()
                            .and_then(|mut v| v.pop())
                            .expect("the list has an element");
                        // Cannot fail: the destination was checked above.
                        let _ = lists::push(ctx, dst, *to, &[&value]);
                        Served::Moved(value)
                    }
                }
                BlockOp::Read { .. } | BlockOp::ZPop { .. } => {
                    unreachable!("next_claimed takes list waiters only")
                }
            };
            Some((waiter.reply, served))
        });
        let Some((reply, served)) = outcome else {
            break;
        };
        core.answer(reply, served);
    }
}
