//! One logical database (`SELECT n`) on one shard: keys, values and expiry.
//!
//! Invariant kept here: `expiring` holds `(deadline, key)` exactly for the keys
//! whose entry has a deadline, with the same deadline. Every change of a key's
//! deadline goes through this module so the two cannot drift apart.
//!
//! Expiry is lazy (a read of an expired key deletes it first) plus active: the
//! shard's timer calls [`Db::expire_cycle`], which pops due deadlines in order.

use super::notify::{self, Class};
use std::collections::BTreeSet;

use hashbrown::Equivalent;

use super::snapshot::DbSnap;
use crate::types::keytable::{Key, KeyTable};
use crate::types::Value;

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

/// A stored key's value, deadline (Unix ms; 0 means it never expires) and
/// access clock: the Unix second of its last lookup, as Redis's per-object
/// LRU clock (resolution 1 s; OBJECT IDLETIME). The clock fits in what
/// `Value` (32 bytes) and the deadline leave to 8-byte alignment.
#[derive(Debug)]
pub struct Entry {
    pub value: Value,
    expire_at: u64,
    lru: u32,
}

/// The access clock at `now` (Unix ms).
fn lru_clock(now: u64) -> u32 {
    (now / 1000) as u32
}

impl Entry {
    pub fn expire_at(&self) -> Option<u64> {
        (self.expire_at != 0).then_some(self.expire_at)
    }

    /// The access clock as Redis's 24-bit LRU field shows it (DEBUG OBJECT).
    pub fn lru_24(&self) -> u32 {
        self.lru & 0x00ff_ffff
    }

    /// Seconds since the key was last looked up, at `now` (Unix ms).
    pub fn idle_secs(&self, now: u64) -> u64 {
        (now / 1000).saturating_sub(self.lru as u64)
    }

    fn expired(&self, now: u64) -> bool {
        self.expire_at != 0 && self.expire_at <= now
    }
}

#[derive(Default)]
pub struct Db {
    keys: KeyTable<Entry>,
    expiring: BTreeSet<(u64, Key)>,
    /// Keys deleted because their deadline passed, lazily or actively
    /// (INFO's expired_keys).
    pub expired: u64,
    /// Keys expired and not yet reported as effects (`Shard::settle_db`).
    just_expired: Vec<Key>,
    /// The snapshot being written, if any.
    snap: Option<Box<DbSnap>>,
    /// This database's number, for the keyspace events it makes itself
    /// (`new`, `expired`).
    pub index: usize,
}

impl Db {
    /// Database number `index`, empty.
    pub fn new(index: usize) -> Db {
        Db {
            index,
            ..Db::default()
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn expires_count(&self) -> usize {
        self.expiring.len()
    }

    /// Every key with its value and deadline, moved out (DEBUG RELOAD
    /// NOFLUSH merges a loaded database this way).
    pub fn drain(&mut self) -> Vec<(Key, Value, Option<u64>)> {
        self.expiring.clear();
        self.keys
            .drain()
            .into_iter()
            .map(|(k, e)| {
                let at = e.expire_at();
                (k, e.value, at)
            })
            .collect()
    }

    /// Room for `additional` more keys (see [`KeyTable::reserve`]).
    pub fn reserve(&mut self, additional: usize) {
        self.keys.reserve(additional);
    }

    /// Before `key` changes: a snapshot in progress gets its value first.
    #[inline]
    fn touch(&mut self, key: &[u8]) {
        if let Some(snap) = &mut self.snap {
            snap.before_change(&self.keys, key);
        }
    }

    /// Starts a snapshot of this database (the point in time is now).
    pub fn begin_snapshot(&mut self, snap: DbSnap) {
        self.snap = Some(Box::new(snap));
    }

    /// The snapshot in progress and the keys it walks.
    pub fn snapshot(&mut self) -> Option<(&mut DbSnap, &KeyTable<Entry>)> {
        let snap = self.snap.as_deref_mut()?;
        Some((snap, &self.keys))
    }

    /// Ends the snapshot (done or abandoned), giving back what it held.
    pub fn end_snapshot(&mut self) -> Option<Box<DbSnap>> {
        self.snap.take()
    }

    /// Deletes `key` if it has expired. Cheap when no key has a deadline.
    fn expire_if_due(&mut self, key: &[u8], now: u64) {
        if self.expiring.is_empty() {
            return;
        }
        if self.keys.get(key).is_some_and(|e| e.expired(now)) {
            self.remove(key);
            self.expired += 1;
            self.just_expired.push(key.into());
            notify::event(Class::EXPIRED, "expired", self.index, key);
        }
    }

    /// A live key, looked up as Redis's `lookupKey` does: its access clock
    /// moves to `now`.
    pub fn get(&mut self, key: &[u8], now: u64) -> Option<&Entry> {
        self.expire_if_due(key, now);
        let entry = self.keys.get_mut(key)?;
        entry.lru = lru_clock(now);
        Some(entry)
    }

    /// A live key, its access clock left alone (Redis's `LOOKUP_NOTOUCH`:
    /// TYPE, TTL, EXISTS, OBJECT).
    pub fn get_no_touch(&mut self, key: &[u8], now: u64) -> Option<&Entry> {
        self.expire_if_due(key, now);
        self.keys.get(key)
    }

    /// The value of a live key, for changing in place (the deadline stays).
    pub fn get_mut(&mut self, key: &[u8], now: u64) -> Option<&mut Value> {
        self.expire_if_due(key, now);
        self.touch(key);
        self.keys.get_mut(key).map(|e| {
            e.lru = lru_clock(now);
            &mut e.value
        })
    }

    /// Makes `key` look idle for `idle` seconds at `now` (RESTORE IDLETIME).
    pub fn set_idle(&mut self, key: &[u8], idle: u64, now: u64) {
        if let Some(e) = self.keys.get_mut(key) {
            e.lru = (now / 1000).saturating_sub(idle) as u32;
        }
    }

    /// A live key's entry without expiring anything, so that several
    /// values can be borrowed at once (SINTER reads all its sets together).
    pub fn peek(&self, key: &[u8], now: u64) -> Option<&Entry> {
        self.keys.get(key).filter(|e| !e.expired(now))
    }

    pub fn contains(&mut self, key: &[u8], now: u64) -> bool {
        self.get(key, now).is_some()
    }

    /// Stores `value` under `key` with deadline `expire_at` (None: persistent),
    /// replacing whatever was there. Returns the old entry.
    pub fn set(&mut self, key: &[u8], value: Value, expire_at: Option<u64>) -> Option<Entry> {
        self.touch(key);
        let entry = Entry {
            value,
            expire_at: expire_at.unwrap_or(0),
            // A new value is fresh, as Redis's `createObject` stamps it.
            lru: lru_clock(super::coarse_now_ms()),
        };
        let old = self.keys.insert(key, entry);
        if old.is_none() {
            notify::event(Class::NEW, "new", self.index, key);
        }
        if let Some(old_at) = old.as_ref().and_then(Entry::expire_at) {
            self.expiring.remove(&(old_at, Key::from(key)));
        }
        if let Some(at) = expire_at {
            self.expiring.insert((at, key.into()));
        }
        old
    }

    /// Replaces the value and keeps the key's deadline (SET KEEPTTL, APPEND...).
    pub fn set_keep_ttl(&mut self, key: &[u8], value: Value, now: u64) {
        match self.get_mut(key, now) {
            Some(v) => *v = value,
            None => {
                self.set(key, value, None);
            }
        }
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.touch(key);
        let old = self.keys.remove(key)?;
        if let Some(at) = old.expire_at() {
            self.expiring.remove(&(at, Key::from(key)));
        }
        Some(old)
    }

    /// Removes a live key (an expired one counts as absent).
    pub fn remove_live(&mut self, key: &[u8], now: u64) -> Option<Entry> {
        self.expire_if_due(key, now);
        self.remove(key)
    }

    /// Sets or clears the deadline of an existing key; false if there is no key.
    pub fn set_expire(&mut self, key: &[u8], expire_at: Option<u64>) -> bool {
        self.touch(key);
        let Some(entry) = self.keys.get_mut(key) else {
            return false;
        };
        let old = std::mem::replace(&mut entry.expire_at, expire_at.unwrap_or(0));
        if old != 0 {
            self.expiring.remove(&(old, Key::from(key)));
        }
        if let Some(at) = expire_at {
            self.expiring.insert((at, key.into()));
        }
        true
    }

    /// Deletes up to `budget` keys whose deadline has passed; returns how many.
    pub fn expire_cycle(&mut self, now: u64, budget: usize) -> usize {
        let mut done = 0;
        while done < budget {
            match self.expiring.first() {
                Some((at, _)) if *at <= now => {
                    let (_, key) = self.expiring.pop_first().expect("checked");
                    self.touch(&key);
                    self.keys.remove(&key);
                    self.expired += 1;
                    notify::event(Class::EXPIRED, "expired", self.index, &key);
                    self.just_expired.push(key);
                    done += 1;
                }
                _ => break,
            }
        }
        done
    }

    /// Whether keys expired since [`Db::take_expired`] last ran.
    pub fn has_expired(&self) -> bool {
        !self.just_expired.is_empty()
    }

    /// The keys expired since the last call, in the order they went.
    pub fn take_expired(&mut self) -> Vec<Key> {
        std::mem::take(&mut self.just_expired)
    }

    /// Mean remaining time to live of keys with a deadline, in ms (INFO keyspace).
    pub fn avg_ttl(&self, now: u64) -> u64 {
        if self.expiring.is_empty() {
            return 0;
        }
        let total: u128 = self
            .expiring
            .iter()
            .map(|(at, _)| at.saturating_sub(now) as u128)
            .sum();
        (total / self.expiring.len() as u128) as u64
    }

    /// Drops every key (FLUSHDB); the expiry counter is a statistic and stays.
    pub fn clear(&mut self, now: u64) {
        if let Some(snap) = &mut self.snap {
            snap.before_clear(&self.keys, now);
        }
        *self = Db {
            expired: self.expired,
            snap: self.snap.take(),
            index: self.index,
            ..Db::default()
        };
    }

    /// Swaps this database's keys and deadlines with `other`'s (SWAPDB). A
    /// snapshot in progress in either is finished first: its point in time
    /// is before the swap. Counters and numbers stay with the database.
    pub fn swap_contents(&mut self, other: &mut Db, now: u64) {
        for db in [&mut *self, &mut *other] {
            if let Some(snap) = &mut db.snap {
                snap.before_clear(&db.keys, now);
            }
        }
        std::mem::swap(&mut self.keys, &mut other.keys);
        std::mem::swap(&mut self.expiring, &mut other.expiring);
    }

    /// A random live key (RANDOMKEY); a few tries past keys that are already
    /// due, as Redis does, before giving up.
    pub fn random_live_key(&self, now: u64, seed: u64) -> Option<Key> {
        let hasher = ahash::RandomState::with_seeds(seed, now, 0x5eed, 0xcafe);
        (0..16u64)
            .filter_map(|i| self.keys.random(hasher.hash_one(i)))
            .find(|(_, e)| !e.expired(now))
            .map(|(k, _)| k.clone())
    }

    /// All live keys, for KEYS.
    pub fn live_keys(&self, now: u64) -> impl Iterator<Item = (&Key, &Entry)> {
        self.keys.iter().filter(move |(_, e)| !e.expired(now))
    }

    /// One SCAN step over this database; see [`KeyTable::scan`].
    pub fn scan(
        &self,
        cursor: u64,
        count: usize,
        now: u64,
        mut visit: impl FnMut(&Key, &Entry),
    ) -> Option<u64> {
        self.keys.scan(cursor, count, |k, e| {
            if !e.expired(now) {
                visit(k, e)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::Str(v.as_bytes().to_vec())
    }

    #[test]
    fn deadlines_stay_in_step_with_entries() {
        let mut db = Db::default();
        db.set(b"a", s("1"), Some(100));
        db.set(b"b", s("2"), Some(200));
        db.set(b"a", s("3"), None); // overwrite clears the deadline
        assert_eq!(db.expires_count(), 1);
        assert!(db.set_expire(b"a", Some(50)));
        assert_eq!(db.expires_count(), 2);
        assert!(db.get(b"a", 60).is_none(), "lazily expired");
        assert_eq!(db.expires_count(), 1);
        assert_eq!(db.expire_cycle(250, 10), 1);
        assert!(db.is_empty());
        assert_eq!(db.expires_count(), 0);
        assert_eq!(
            db.expired, 2,
            "one lazy and one active expiry are both counted"
        );
    }
}
