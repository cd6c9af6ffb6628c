//! Key locks of one shard, held by cross-shard transactions (see `txn`).
//!
//! Invariants kept here:
//! - a key is held by at most one transaction, and only on the key's own shard;
//! - work that touches a key held by another transaction waits in `waiting`,
//!   and waiting work runs in arrival order as keys are released;
//! - an acquisition never overtakes an earlier waiting acquisition that wants
//!   one of the same keys, so a transaction cannot starve behind newer ones;
//! - a transaction may hold the whole shard (a script that may touch keys it
//!   did not declare): then every key counts as held by it, and it gets the
//!   shard only once no other transaction holds or waits for a key here.
//!
//! When nothing is held (the normal case) [`LockTable::is_idle`] is one check
//! and nothing else is looked at.

use std::collections::VecDeque;

use ahash::AHashSet;
use hashbrown::{Equivalent, HashMap};

use super::dispatch::{Slot, Work};
use crate::types::keytable::Key;

/// Identifies a transaction: unique per process (core id in the top bits).
pub type TxnId = u64;

/// A key in a database: `(db index, key)`.
pub type DbKey = (usize, Key);

/// A borrowed [`DbKey`], to look keys up without copying them. It hashes as
/// a `DbKey` does (the index, then the bytes as a slice).
#[derive(Hash, Clone, Copy)]
pub struct DbKeyRef<'a>(pub usize, pub &'a [u8]);

impl Equivalent<DbKey> for DbKeyRef<'_> {
    fn equivalent(&self, key: &DbKey) -> bool {
        self.0 == key.0 && self.1 == &key.1[..]
    }
}

/// How a piece of work relates to key locks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockMode {
    /// Plain work: waits while another transaction holds one of its keys.
    Plain,
    /// Take the locks on the work's keys for this transaction, run, keep them.
    Acquire(TxnId),
    /// The transaction already holds its keys here: run at once.
    Held(TxnId),
    /// Take the whole shard for this transaction: every key, present or not.
    AcquireAll(TxnId),
}

#[derive(Default)]
pub struct LockTable {
    held: HashMap<DbKey, TxnId, ahash::RandomState>,
    /// The transaction holding the whole shard, if one does.
    whole: Option<TxnId>,
    waiting: VecDeque<(Work, Slot)>,
}

impl LockTable {
    pub fn is_idle(&self) -> bool {
        self.held.is_empty() && self.waiting.is_empty() && self.whole.is_none()
    }

    /// Whether a plain command (not part of a transaction) may run on
    /// `keys` of database `db` now: no transaction holds one of them. The one
    /// check every path that runs a command in place makes; nothing is looked
    /// up while no transaction holds anything here.
    pub fn admits_plain(&self, db: usize, keys: &[&[u8]]) -> bool {
        self.is_idle()
            || (self.whole.is_none()
                && keys
                    .iter()
                    .all(|k| !self.held.contains_key(&DbKeyRef(db, k))))
    }

    /// Whether `keys` are free for plain work (held by nobody).
    fn keys_free(&self, keys: &[DbKey]) -> bool {
        self.whole.is_none()
            && (self.held.is_empty() || keys.iter().all(|k| !self.held.contains_key(k)))
    }

    /// Whether transaction `txn` may take `keys` (nobody else holds them).
    fn free_for(&self, txn: TxnId, keys: &[DbKey]) -> bool {
        self.whole.is_none_or(|w| w == txn)
            && keys
                .iter()
                .all(|k| self.held.get(k).is_none_or(|&owner| owner == txn))
    }

    /// Whether `txn` may take the whole shard: nobody else holds a key.
    fn shard_free_for(&self, txn: TxnId) -> bool {
        self.whole.is_none_or(|w| w == txn) && self.held.values().all(|&o| o == txn)
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
                self.free_for(txn, keys)
                    && !self.waiting.iter().any(|(w, _)| {
                        w.is_acquire()
                            && (matches!(w.mode(), LockMode::AcquireAll(_))
                                || w.keys().iter().any(|k| keys.contains(k)))
                    })
            }
            LockMode::AcquireAll(txn) => {
                self.shard_free_for(txn) && !self.waiting.iter().any(|(w, _)| w.is_acquire())
            }
        }
    }

    pub fn acquire(&mut self, txn: TxnId, keys: &[DbKey]) {
        for key in keys {
            self.held.insert(key.clone(), txn);
        }
    }

    /// Takes the whole shard for `txn`.
    pub fn acquire_all(&mut self, txn: TxnId) {
        self.whole = Some(txn);
    }

    /// Releases every key of `txn` and forgets any of its work still waiting.
    pub fn release(&mut self, txn: TxnId) {
        self.held.retain(|_, owner| *owner != txn);
        if self.whole == Some(txn) {
            self.whole = None;
        }
        self.waiting.retain(|(w, _)| w.txn() != Some(txn));
    }

    pub(super) fn wait(&mut self, work: Work, reply: Slot) {
        self.waiting.push_back((work, reply));
    }

    /// The first waiting work that may run now, in arrival order; an
    /// acquisition still waiting blocks later acquisitions of the same keys.
    pub(super) fn next_runnable(&mut self) -> Option<(Work, Slot)> {
        let mut wanted: AHashSet<DbKey> = AHashSet::default();
        // An earlier waiting whole-shard acquisition blocks every later one.
        let mut wanted_all = false;
        let mut found = None;
        for (i, (work, _)) in self.waiting.iter().enumerate() {
            let keys = work.keys();
            let runnable = match work.mode() {
                LockMode::Held(_) => true,
                LockMode::Plain => self.keys_free(&keys),
                LockMode::Acquire(txn) => {
                    !wanted_all
                        && self.free_for(txn, &keys)
                        && keys.iter().all(|k| !wanted.contains(k))
                }
                LockMode::AcquireAll(txn) => {
                    !wanted_all && wanted.is_empty() && self.shard_free_for(txn)
                }
            };
            if runnable {
                found = Some(i);
                break;
            }
            if let LockMode::AcquireAll(_) = work.mode() {
                wanted_all = true;
            } else if work.is_acquire() {
                wanted.extend(keys);
            }
        }
        found.and_then(|i| self.waiting.remove(i))
    }
}
