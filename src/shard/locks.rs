//! Key locks of one shard, held by cross-shard transactions (see `txn`).
//!
//! Invariants kept here:
//! - a key is held by at most one transaction, and only on the key's own shard;
//! - work that touches a key held by another transaction waits in `waiting`,
//!   and waiting work runs in arrival order as keys are released;
//! - an acquisition never overtakes an earlier waiting acquisition that wants
//!   one of the same keys, so a transaction cannot starve behind newer ones.
//!
//! When nothing is held (the normal case) [`LockTable::is_idle`] is one check
//! and nothing else is looked at.

use std::collections::VecDeque;

use ahash::{AHashMap, AHashSet};

use super::dispatch::{ReplyTo, Work};
use super::table::Key;

/// Identifies a transaction: unique per process (core id in the top bits).
pub type TxnId = u64;

/// A key in a database: `(db index, key)`.
pub type DbKey = (usize, Key);

/// How a piece of work relates to key locks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockMode {
    /// Plain work: waits while another transaction holds one of its keys.
    Plain,
    /// Take the locks on the work's keys for this transaction, run, keep them.
    Acquire(TxnId),
    /// The transaction already holds its keys here: run at once.
    Held(TxnId),
}

#[derive(Default)]
pub struct LockTable {
    held: AHashMap<DbKey, TxnId>,
    waiting: VecDeque<(Work, ReplyTo)>,
}

impl LockTable {
    pub fn is_idle(&self) -> bool {
        self.held.is_empty() && self.waiting.is_empty()
    }

    /// Whether `keys` are free for plain work (held by nobody).
    pub fn keys_free(&self, keys: &[DbKey]) -> bool {
        self.held.is_empty() || keys.iter().all(|k| !self.held.contains_key(k))
    }

    /// Whether work with this mode and these keys may run now.
    pub fn admits(&self, mode: LockMode, keys: &[DbKey]) -> bool {
        if self.is_idle() {
            return true;
        }
        match mode {
            LockMode::Held(_) => true,
            LockMode::Plain => self.keys_free(keys),
            LockMode::Acquire(txn) => {
                let free = keys
                    .iter()
                    .all(|k| self.held.get(k).is_none_or(|&owner| owner == txn));
                free && !self
                    .waiting
                    .iter()
                    .any(|(w, _)| w.is_acquire() && w.keys().iter().any(|k| keys.contains(k)))
            }
        }
    }

    pub fn acquire(&mut self, txn: TxnId, keys: &[DbKey]) {
        for key in keys {
            self.held.insert(key.clone(), txn);
        }
    }

    /// Releases every key of `txn` and forgets any of its work still waiting.
    pub fn release(&mut self, txn: TxnId) {
        self.held.retain(|_, owner| *owner != txn);
        self.waiting.retain(|(w, _)| w.txn() != Some(txn));
    }

    pub fn wait(&mut self, work: Work, reply: ReplyTo) {
        self.waiting.push_back((work, reply));
    }

    /// The first waiting work that may run now, in arrival order; an
    /// acquisition still waiting blocks later acquisitions of the same keys.
    pub fn next_runnable(&mut self) -> Option<(Work, ReplyTo)> {
        let mut wanted: AHashSet<DbKey> = AHashSet::default();
        let mut found = None;
        for (i, (work, _)) in self.waiting.iter().enumerate() {
            let keys = work.keys();
            let runnable = match work.mode() {
                LockMode::Held(_) => true,
                LockMode::Plain => self.keys_free(&keys),
                LockMode::Acquire(txn) => keys
                    .iter()
                    .all(|k| self.held.get(k).is_none_or(|&o| o == txn) && !wanted.contains(k)),
            };
            if runnable {
                found = Some(i);
                break;
            }
            if work.is_acquire() {
                wanted.extend(keys);
            }
        }
        found.and_then(|i| self.waiting.remove(i))
    }
}
