//! Clients blocked on this shard's keys (BLPOP and the other blocking list
//! commands, the blocking sorted set pops, XREAD / XREADGROUP with BLOCK).
//!
//! The table knows keys and waiters, not types: a blocked client leaves one
//! [`Waiter`] in the queue of each of its keys on each shard that owns one,
//! in the order clients blocked, and the family that blocked it supplies how
//! a key serves it ([`Serve`]). Every write to a key with waiters marks it
//! ready (see `effects`); after the command the shard walks the key's queue
//! first-come, first-served, serving each waiter the key can serve now:
//! the family pops or reads for it right there and sends the result to the
//! waiting client's core. Nothing polls and no timer fires while it waits.
//!
//! Invariants:
//! - **Exactly once.** A waiter queued on several keys, on several shards, is
//!   served by whichever shard claims it first: claiming is one atomic
//!   compare-and-swap on the waiter's state, and only the claimer serves.
//!   The client's own timeout, disconnect and CLIENT UNBLOCK claim the same
//!   way, so a client that gave up is never served, and one that was served
//!   always gets what was taken for it.
//! - **FIFO per key.** Waiters are looked at in queue order; a claimed waiter
//!   left behind in another key's queue is skipped and dropped there (the
//!   client also unregisters it from every shard once it is done).
//! - **No missed write.** A client checks its keys and registers in the same
//!   step on each shard, holding every shard of its keys when they span
//!   shards, so no write can fall between "nothing there" and "waiting".
//! - **Held shards wait.** A shard held by a transaction serves its waiters
//!   only once the transaction releases it, so no waiter sees half of one.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use hashbrown::HashMap;

use super::ctx::{Ctx, Here};
use super::db::{DbKey, DbKeyRef};
use super::dispatch::Core;

/// How a shard serves one kind of blocked client; the family that blocked
/// it provides it. Called on the shard's core.
pub trait Serve: Send + Sync + 'static {
    /// Whether `key` can serve this waiter now. `round` holds what earlier
    /// waiters of this pass over the key were promised.
    fn ready(&self, ctx: &mut Ctx, key: &[u8], round: &mut Round) -> bool;

    /// Serves this waiter from `key` (the caller has claimed it): takes
    /// what it waits for and answers its client.
    fn serve(&self, here: &mut Here, db: usize, key: &[u8], round: &mut Round);

    /// CLIENT UNBLOCK claimed it: its client times out now, or fails with
    /// UNBLOCKED when `error`.
    fn unblock(&self, core: &Core, error: bool);

    /// Whether the key's deletion wakes it (XREADGROUP, answered with an
    /// error): INFO's `total_blocking_keys_on_nokey`.
    fn on_nokey(&self) -> bool {
        false
    }
}

/// What one pass over a key's waiters has handed out beyond what the key
/// itself shows (a list move to another shard takes its element later, in
/// its client's own transaction).
#[derive(Default, Debug)]
pub struct Round {
    pub promised: usize,
}

const WAITING: u8 = 0;
const CLAIMED: u8 = 1;

/// One blocked client, shared by the block tables of its keys' shards.
pub struct Waiter {
    pub client: u64,
    pub db: usize,
    state: AtomicU8,
    serve: Box<dyn Serve>,
}

impl std::fmt::Debug for Waiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Waiter(client {}, db {})", self.client, self.db)
    }
}

impl Waiter {
    pub fn new(client: u64, db: usize, serve: impl Serve) -> Arc<Waiter> {
        Arc::new(Waiter {
            client,
            db,
            state: AtomicU8::new(WAITING),
            serve: Box::new(serve),
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

    /// CLIENT UNBLOCK, once it has claimed this waiter.
    pub fn unblock(&self, core: &Core, error: bool) {
        self.serve.unblock(core, error);
    }
}

/// One shard's blocked clients.
#[derive(Default)]
pub struct BlockTable {
    /// Waiters per key, oldest first. Invariant: no empty queues.
    waiting: HashMap<DbKey, VecDeque<Arc<Waiter>>, ahash::RandomState>,
    /// Keys written since they were last served.
    ready: Vec<DbKey>,
}

impl BlockTable {
    pub fn register(&mut self, key: DbKey, waiter: Arc<Waiter>) {
        self.waiting.entry(key).or_default().push_back(waiter);
    }

    /// Removes `waiter` from `key`'s queue.
    pub fn unregister(&mut self, key: &DbKey, waiter: &Arc<Waiter>) {
        if let Some(queue) = self.waiting.get_mut(key) {
            queue.retain(|w| !Arc::ptr_eq(w, waiter));
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
        if self.waiting.is_empty() || !self.waiting.contains_key(&DbKeyRef(db, key)) {
            return;
        }
        if !self.ready.iter().any(|k| k.0 == db && &k.1[..] == key) {
            self.ready.push((db, key.into()));
        }
    }

    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Keys with blocked clients, and of those the keys with a client that
    /// the key's deletion wakes (INFO's `total_blocking_keys` and
    /// `total_blocking_keys_on_nokey`).
    pub fn blocking_keys(&self) -> (usize, usize) {
        let nokey = self
            .waiting
            .values()
            .filter(|q| q.iter().any(|w| w.serve.on_nokey()))
            .count();
        (self.waiting.len(), nokey)
    }

    /// Clients blocked on this shard's keys (a client on several keys counts once per key).
    pub fn waiting_count(&self) -> usize {
        self.waiting.values().map(VecDeque::len).sum()
    }

    /// The waiter at `at` in `key`'s queue, dropping claimed ones it passes.
    fn at(&mut self, key: &DbKey, at: usize) -> Option<Arc<Waiter>> {
        let queue = self.waiting.get_mut(key)?;
        while at < queue.len() && !queue[at].is_waiting() {
            queue.remove(at);
        }
        let found = queue.get(at).cloned();
        if queue.is_empty() {
            self.waiting.remove(key);
        }
        found
    }

    fn remove_at(&mut self, key: &DbKey, at: usize) {
        if let Some(queue) = self.waiting.get_mut(key) {
            queue.remove(at);
            if queue.is_empty() {
                self.waiting.remove(key);
            }
        }
    }
}

/// Serves every ready key's waiters; run after each command or batch of
/// commands on a shard, and when a transaction releases it.
pub fn serve_ready(here: &mut Here) {
    super::propagation::running("(a blocked client served)");
    // In the order the keys were written, as Redis serves its ready keys.
    while !here.shard.blocking.ready.is_empty() {
        let key = here.shard.blocking.ready.remove(0);
        serve_key(here, &key);
    }
}

/// Walks `key`'s queue in order, serving each waiter the key can serve now.
fn serve_key(here: &mut Here, key: &DbKey) {
    let mut round = Round::default();
    let mut at = 0;
    loop {
        let Some(waiter) = here.shard.blocking.at(key, at) else {
            break;
        };
        let ready = here.ctx(key.0, |ctx| waiter.serve.ready(ctx, &key.1, &mut round));
        if ready && waiter.claim() {
            here.shard.blocking.remove_at(key, at);
            waiter.serve.serve(here, key.0, &key.1, &mut round);
        } else {
            at += 1;
        }
    }
}
