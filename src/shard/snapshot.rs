//! A snapshot's side on one database of one shard: the walker that encodes
//! the keys, and the hook that encodes a key before its first change.
//!
//! The point in time is the moment the snapshot begins on every shard at
//! once (inside a transaction holding all of them, see `persist::snapshot`).
//! From then on the database is walked in SCAN order (hash-space positions,
//! see `KeyTable::position`) while it keeps serving.
//!
//! Invariant kept here: every key that existed at the snapshot point is
//! written exactly once, with its value and deadline at that point, and no
//! key created later is written:
//! - a key at a position the walker has passed was written by the walker
//!   (if it existed then) and is never looked at again;
//! - before a key at or past the walker's position changes in any way
//!   (written, deleted, expired, its deadline changed, or created), `Db`
//!   calls [`DbSnap::before_change`]: the key's current value (which is its
//!   value at the snapshot point, since this is its first change) is
//!   written now, and the key goes into `early` so the walker skips it.
//!
//! Extra memory is bounded by what changes during the snapshot: the encoded
//! bytes of keys written early (until the driver collects them) and their
//! names in `early` (dropped as the walker passes them).

use ahash::AHashSet;

use super::db::Entry;
use crate::persist::rdb::{EncodeOptions, RecordWriter};
use crate::persist::values::write_record;
use crate::types::keytable::{Key, KeyTable};
use crate::types::stream::FrozenStream;
use crate::types::Value;

/// Streams with at least this many entries are not encoded by the core:
/// they are frozen (O(1) in entries) and encoded by the writer thread
/// through the tree's lock-free frozen view.
pub const OFF_CORE_STREAM: usize = 512;

/// A value the writer thread encodes, so that its core does not: a big
/// stream through its frozen view, or a string copied out (copying is a
/// memcpy; encoding may mean LZF, the most expensive part of a save).
pub enum Later {
    Stream(FrozenStream),
    Str(Vec<u8>),
}

/// A key handed to the writer thread: key, deadline, value.
pub type Deferred = (Key, Option<u64>, Later);

/// What a snapshot of one database has produced since the driver last
/// collected it.
#[derive(Default)]
pub struct Taken {
    /// Encoded records.
    pub bytes: Vec<u8>,
    /// Values for the writer thread to encode.
    pub values: Vec<Deferred>,
    /// Keys written (encoded or handed over), and how many had a deadline.
    pub keys: u64,
    pub expires: u64,
}

impl Taken {
    fn add(&mut self, records: &mut RecordWriter, key: &[u8], entry: &Entry) {
        let at = entry.expire_at();
        match &entry.value {
            Value::Stream(s) if s.len() >= OFF_CORE_STREAM => {
                self.values
                    .push((key.into(), at, Later::Stream(s.freeze())));
            }
            Value::Str(s) => self.values.push((key.into(), at, Later::Str(s.clone()))),
            value => {
                write_record(records, &mut self.bytes, key, at, value).expect("writing to memory")
            }
        }
        self.keys += 1;
        self.expires += at.is_some() as u64;
    }
}

pub struct DbSnap {
    /// The walker's next position; None once it has visited every key.
    cursor: Option<u64>,
    /// Keys at or past `cursor` already dealt with: written early, or
    /// created after the snapshot point.
    early: AHashSet<Key>,
    /// `early` is pruned of keys the walker has passed when it reaches this
    /// size (then twice what is left), so pruning costs O(1) per key.
    prune_at: usize,
    records: RecordWriter,
    taken: Taken,
}

impl DbSnap {
    pub fn new(opts: EncodeOptions) -> DbSnap {
        DbSnap {
            cursor: Some(0),
            early: AHashSet::new(),
            prune_at: 1024,
            records: RecordWriter::new(opts).expect("options checked at start"),
            taken: Taken::default(),
        }
    }

    /// Called by `Db` before `key` changes in any way (see the module doc).
    pub fn before_change(&mut self, table: &KeyTable<Entry>, key: &[u8]) {
        let Some(cursor) = self.cursor else {
            return;
        };
        if table.position(key) < cursor || self.early.contains(key) {
            return;
        }
        if let Some(entry) = table.get(key) {
            self.taken.add(&mut self.records, key, entry);
        }
        self.early.insert(key.into());
    }

    /// Called by `Db` before every key goes at once (FLUSHDB): the walk is
    /// finished first.
    pub fn before_clear(&mut self, table: &KeyTable<Entry>, now: u64) {
        while !self.walk(table, 4096, now) {}
    }

    /// One step of the walk: whole segments until about `budget` keys were
    /// offered. True when the walk is complete.
    pub fn walk(&mut self, table: &KeyTable<Entry>, budget: usize, now: u64) -> bool {
        let Some(cursor) = self.cursor else {
            return true;
        };
        let DbSnap {
            early,
            records,
            taken,
            ..
        } = self;
        let next = table.scan(cursor, budget, |k, e| {
            // A key already due is left out: loading would drop it anyway.
            if !early.contains(k) && e.expire_at().is_none_or(|at| at > now) {
                taken.add(records, k, e);
            }
        });
        self.cursor = next;
        match next {
            Some(c) if self.early.len() >= self.prune_at => {
                self.early.retain(|k| table.position(k) >= c);
                self.prune_at = (2 * self.early.len()).max(1024);
            }
            Some(_) => {}
            None => self.early = AHashSet::new(),
        }
        next.is_none()
    }

    /// What was produced since the last call.
    pub fn take(&mut self) -> Taken {
        std::mem::take(&mut self.taken)
    }

    pub fn done(&self) -> bool {
        self.cursor.is_none()
    }
}
