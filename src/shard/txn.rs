//! Transactions: how commands over several shards, EXEC and scripts stay
//! atomic.
//!
//! A transaction takes whole shards onto its own core. It asks for them in
//! increasing shard order, each before the next ([`Txn::take`]): a shard
//! already here and free is taken at once; otherwise the core that has it
//! sends it over as soon as none of its own transactions holds it (see
//! `dispatch`). Once it holds its shards, the transaction runs every part of
//! its work here, synchronously ([`Txn::ctx`]), with no hop per command.
//! Dropping the [`Txn`] releases every shard it holds: the work that waited
//! for them runs, and they stay here until another core wants them.
//!
//! Nobody sees half a transaction: the shards it uses are its own from before
//! the first read until after the last write, and work for them meanwhile
//! waits. Why it cannot deadlock: see `dispatch`.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use smallvec::SmallVec;

use super::ctx::{with_ctx, with_ctx_at, Ctx, Here, Shards};
use super::dispatch::{Core, TxnId};

pub struct Txn {
    core: Rc<Core>,
    id: TxnId,
    /// The shards it holds, in increasing order.
    held: SmallVec<[usize; 4]>,
    /// The clock every command in it sees (Unix ms), as Redis gives a
    /// script's or EXEC's commands one time; None: read it per use.
    pub now: Option<u64>,
}

impl Txn {
    pub fn new(core: &Rc<Core>) -> Txn {
        Txn {
            core: core.clone(),
            id: core.new_txn_id(),
            held: SmallVec::new(),
            now: None,
        }
    }

    /// How many shards the server has.
    pub fn shards(&self) -> usize {
        self.core.cores()
    }

    /// Whether it holds `shard`.
    pub fn holds(&self, shard: usize) -> bool {
        self.held.contains(&shard)
    }

    /// Whether it holds every shard.
    pub fn holds_all(&self) -> bool {
        self.held.len() == self.core.cores()
    }

    /// The highest shard it holds.
    pub fn highest(&self) -> Option<usize> {
        self.held.last().copied()
    }

    /// Takes `shard`, waiting until it is here and free. It must be higher
    /// than every shard already held.
    pub async fn take(&mut self, shard: usize) {
        self.take_ranked(shard, false).await;
    }

    /// Takes `shard` if it is here and free with nobody waiting for it;
    /// false otherwise. It must be higher than every shard already held.
    pub fn try_take(&mut self, shard: usize) -> bool {
        assert!(
            self.held.last().is_none_or(|&last| last < shard),
            "transactions take shards in increasing order"
        );
        let taken = self.core.take_now(shard, self.id);
        if taken {
            self.held.push(shard);
            self.begin_part(shard);
        }
        taken
    }

    /// The shard's effect sinks learn that what follows is this
    /// transaction's (the log keeps it as one unit: see `persist::aof`).
    fn begin_part(&self, shard: usize) {
        let mut data = self.core.held_shard(shard, self.id);
        if !data.sinks.is_empty() {
            data.sinks.txn_begin();
        }
    }

    /// Closes every held shard's unit: the shards that wrote learn how many
    /// wrote, and, when several did, the id that ties their parts together.
    fn end_parts(&self) {
        let mut parts = 0;
        for &shard in &self.held {
            let data = self.core.held_shard(shard, self.id);
            if !data.sinks.is_empty() && data.sinks.txn_wrote() {
                parts += 1;
            }
        }
        let id = if parts > 1 {
            self.core.shared.aof.next_txn_id()
        } else {
            0
        };
        for &shard in &self.held {
            let mut data = self.core.held_shard(shard, self.id);
            if !data.sinks.is_empty() {
                data.sinks.txn_end(id, parts);
            }
        }
    }

    /// Takes every shard of `shards` not held yet, in increasing order.
    pub async fn take_all(&mut self, shards: impl IntoIterator<Item = usize>) {
        let mut wanted: SmallVec<[usize; 8]> = shards
            .into_iter()
            .filter(|s| !self.held.contains(s))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        for shard in wanted {
            self.take(shard).await;
        }
    }

    /// Takes `shard` ahead of every transaction waiting for it on this core:
    /// for a script, which waits without yielding, so those could not run.
    pub async fn take_first(&mut self, shard: usize) {
        self.take_ranked(shard, true).await;
    }

    async fn take_ranked(&mut self, shard: usize, first: bool) {
        assert!(
            self.held.last().is_none_or(|&last| last < shard),
            "transactions take shards in increasing order"
        );
        if !self.core.take_now(shard, self.id) {
            Acquire {
                core: &self.core,
                shard,
                txn: self.id,
                queued: false,
                first,
                done: false,
            }
            .await;
        }
        self.held.push(shard);
        self.begin_part(shard);
    }

    /// Whether a transaction on this core (another one) holds `shard`.
    pub fn held_here(&self, shard: usize) -> bool {
        !self.holds(shard) && self.core.held_here(shard)
    }

    /// Runs `f` on `shard`, which it holds, as a hop's work would run.
    pub fn here<R>(&mut self, shard: usize, f: impl FnOnce(&mut Here) -> R) -> R {
        assert!(self.holds(shard), "a transaction uses its own shards");
        let mut data = self.core.held_shard(shard, self.id);
        f(&mut Here {
            core: &self.core,
            shard: &mut data,
        })
    }
}

impl Shards for Txn {
    fn count(&self) -> usize {
        self.core.cores()
    }

    fn with_ctx(&mut self, shard: usize, db: usize, f: &mut dyn FnMut(&mut Ctx)) {
        assert!(self.holds(shard), "a transaction uses its own shards");
        let mut data = self.core.held_shard(shard, self.id);
        match self.now {
            Some(now) => with_ctx_at(&mut data, db, now, f),
            None => with_ctx(&mut data, db, f),
        }
    }
}

impl Drop for Txn {
    fn drop(&mut self) {
        self.end_parts();
        for &shard in &self.held {
            self.core.release(shard, self.id);
        }
    }
}

/// Waits for a shard to be granted to a transaction.
struct Acquire<'a> {
    core: &'a Core,
    shard: usize,
    txn: TxnId,
    queued: bool,
    first: bool,
    done: bool,
}

impl Future for Acquire<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if !self.queued {
            self.queued = true;
            self.core.queue_want(self.shard, self.txn, self.first);
        }
        if self.core.poll_granted(self.shard, self.txn, cx) {
            self.done = true;
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        if self.queued && !self.done {
            self.core.cancel_want(self.shard, self.txn);
        }
    }
}
