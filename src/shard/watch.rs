//! WATCH: which clients watch which of this shard's keys.
//!
//! A watching client leaves one flag (shared by all its watched keys, on
//! every shard) under each key it watches. Every write to a key goes through
//! `Ctx::wrote`, which raises the flags under that key; EXEC fails when the
//! client's flag is up. Invariant: a registration lives until the client's
//! EXEC, DISCARD, UNWATCH, RESET or disconnect removes it, and a client gets
//! a fresh flag after each of those, so a late write cannot fail a later
//! transaction.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use hashbrown::HashMap;

use super::db::{DbKey, DbKeyRef};

/// Raised when a watched key is written.
pub type WatchFlag = Arc<AtomicBool>;

#[derive(Default)]
pub struct WatchTable {
    /// Flags per watched key. Invariant: no empty lists.
    watched: HashMap<DbKey, Vec<WatchFlag>, ahash::RandomState>,
}

impl WatchTable {
    pub fn is_empty(&self) -> bool {
        self.watched.is_empty()
    }

    /// Watched keys (INFO's `total_watched_keys`).
    pub fn len(&self) -> usize {
        self.watched.len()
    }

    pub fn add(&mut self, key: DbKey, flag: &WatchFlag) {
        let flags = self.watched.entry(key).or_default();
        if !flags.iter().any(|f| Arc::ptr_eq(f, flag)) {
            flags.push(flag.clone());
        }
    }

    pub fn remove(&mut self, key: &DbKey, flag: &WatchFlag) {
        if let Some(flags) = self.watched.get_mut(key) {
            flags.retain(|f| !Arc::ptr_eq(f, flag));
            if flags.is_empty() {
                self.watched.remove(key);
            }
        }
    }

    /// A write to `key`: every client watching it will fail its EXEC.
    pub fn touch(&self, key: DbKeyRef) {
        if let Some(flags) = self.watched.get(&key) {
            flags.iter().for_each(|f| f.store(true, Ordering::Release));
        }
    }

    /// The watched keys of database `db` (None: all), for FLUSHDB/FLUSHALL.
    pub fn keys_in(&self, db: Option<usize>) -> Vec<DbKey> {
        self.watched
            .keys()
            .filter(|k| db.is_none_or(|d| d == k.0))
            .cloned()
            .collect()
    }
}
