//! Cross-shard transactions: how a command whose keys live on several shards
//! stays atomic (MSET, MGET, DEL k1 k2, RENAME; later blocking moves, multi-
//! stream reads and MULTI/EXEC).
//!
//! A transaction is driven by the connection's task on its own core:
//! 1. For each involved shard **in increasing shard order**, one hop locks the
//!    transaction's keys on that shard (waiting behind any other holder) and runs
//!    that shard's part of the command while holding them ([`Txn::lock_and_run`]).
//! 2. Further hops may run on shards already locked ([`Txn::run`]), e.g. the
//!    write half of MSETNX once every shard said no key exists.
//! 3. Dropping the [`Txn`] releases every lock it took (one message per shard).
//!
//! Nobody sees half a transaction: every key it touches is locked before it is
//! read or written and stays locked until all parts are done, and plain commands
//! on those keys wait in the shard's lock table. Why it cannot deadlock: see
//! `dispatch` (locks are only ever awaited in increasing shard order).

use std::rc::Rc;

use smallvec::SmallVec;

use super::dispatch::Core;
use super::locks::{DbKey, LockMode, TxnId};

pub struct Txn {
    core: Rc<Core>,
    id: TxnId,
    /// Shards this transaction has sent lock requests to, in order.
    locked: SmallVec<[usize; 4]>,
}

impl Txn {
    pub fn new(core: &Rc<Core>) -> Txn {
        Txn {
            core: core.clone(),
            id: core.new_txn_id(),
            locked: SmallVec::new(),
        }
    }

    /// How many shards (cores) there are.
    pub fn shards(&self) -> usize {
        self.core.cores()
    }

    /// Locks `keys` on `shard`, then runs `f` there with the locks held.
    /// Shards must be visited in strictly increasing order. On a shard this
    /// transaction already holds (EXEC runs its commands inside one
    /// transaction that locked all their keys first) it just runs `f`.
    pub async fn lock_and_run<R, F>(&mut self, shard: usize, keys: Vec<DbKey>, f: F) -> R
    where
        R: Send + 'static,
        F: FnOnce(&Core) -> R + Send + 'static,
    {
        if self.holds(shard) {
            return self.run(shard, f).await;
        }
        assert!(
            self.locked.last().is_none_or(|&last| last < shard),
            "transactions lock shards in increasing order"
        );
        self.locked.push(shard);
        self.hop(shard, keys, LockMode::Acquire(self.id), f).await
    }

    /// Takes the whole of `shard` (every key), then runs `f` there. Shards
    /// must be visited in strictly increasing order, as with keys.
    pub async fn lock_shard_and_run<R, F>(&mut self, shard: usize, f: F) -> R
    where
        R: Send + 'static,
        F: FnOnce(&Core) -> R + Send + 'static,
    {
        assert!(
            self.locked.last().is_none_or(|&last| last < shard),
            "transactions lock shards in increasing order"
        );
        self.locked.push(shard);
        self.hop(shard, Vec::new(), LockMode::AcquireAll(self.id), f)
            .await
    }

    /// Whether this transaction has locked keys on `shard`.
    pub fn holds(&self, shard: usize) -> bool {
        self.locked.contains(&shard)
    }

    /// Runs `f` on a shard this transaction has already locked.
    pub async fn run<R, F>(&self, shard: usize, f: F) -> R
    where
        R: Send + 'static,
        F: FnOnce(&Core) -> R + Send + 'static,
    {
        assert!(self.locked.contains(&shard), "run only on locked shards");
        self.hop(shard, Vec::new(), LockMode::Held(self.id), f)
            .await
    }

    async fn hop<R, F>(&self, shard: usize, keys: Vec<DbKey>, mode: LockMode, f: F) -> R
    where
        R: Send + 'static,
        F: FnOnce(&Core) -> R + Send + 'static,
    {
        self.core.submit_job(shard, keys, mode, f).await
    }
}

/// The transaction a command runs in: `outer` (EXEC's or a script's,
/// which already holds the command's keys) or a new one kept in `own`.
pub fn outer_or_own<'a>(
    outer: Option<&'a mut Txn>,
    own: &'a mut Option<Txn>,
    core: &Rc<Core>,
) -> &'a mut Txn {
    match outer {
        Some(txn) => txn,
        None => own.insert(Txn::new(core)),
    }
}

/// Runs `f` on `shard` for a command on `keys` of that one shard: inside
/// `outer` when it holds the shard, else as plain work that waits for any
/// transaction holding the keys.
pub async fn run_on_shard<R, F>(
    core: &Rc<Core>,
    outer: Option<&Txn>,
    shard: usize,
    keys: Vec<DbKey>,
    f: F,
) -> R
where
    R: Send + 'static,
    F: FnOnce(&Core) -> R + Send + 'static,
{
    match outer {
        Some(txn) if txn.holds(shard) => txn.run(shard, f).await,
        _ => core.submit_job(shard, keys, LockMode::Plain, f).await,
    }
}

impl Drop for Txn {
    fn drop(&mut self) {
        for &shard in &self.locked {
            self.core.unlock(shard, self.id);
        }
    }
}
