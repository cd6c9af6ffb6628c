//! The keyspace in shards, one per core. A key's shard comes from [`route`];
//! each shard is held by exactly one core at a time and only that core's
//! thread touches it. Work for a shard travels to the core holding it
//! through [`dispatch`], the one module where work crosses cores. A shard
//! starts on the core of its number and may move: a transaction ([`txn`])
//! takes every shard it needs onto its own core, in increasing order, and
//! runs there alone, so multi-shard commands, EXEC and scripts are atomic
//! without key locks and without a hop per command.

pub mod blocking;
pub mod ctx;
pub mod db;
pub mod dispatch;
pub mod effects;
pub mod notify;
pub mod propagation;
pub mod pubsub;
pub mod route;
pub mod snapshot;
pub mod txn;
pub mod watch;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use db::{Db, DbKeyRef};
use effects::{Effect, Sinks};

/// Configuration that commands read on the shard, wherever it is: one copy
/// for the server, which CONFIG SET updates.
#[derive(Debug)]
pub struct ShardLimits {
    /// `proto-max-bulk-len`: the longest string a command may make.
    pub proto_max_bulk_len: AtomicU64,
    /// `rdbcompression`: DUMP compresses strings as snapshots do.
    pub rdb_compression: std::sync::atomic::AtomicBool,
}

/// Counters a shard keeps for INFO stats; summed over shards when reported.
#[derive(Default, Clone, Debug)]
pub struct ShardStats {
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    /// Writes since start (INFO's rdb_changes_since_last_save).
    pub dirty: u64,
}

/// One shard of the keyspace: its databases, the clients blocked on and
/// watching its keys, its counters and what follows its changes. It moves
/// between cores whole (see `dispatch`).
pub struct Shard {
    pub id: usize,
    pub dbs: Vec<Db>,
    /// Clients blocked on this shard's keys.
    pub blocking: blocking::BlockTable,
    /// Clients watching this shard's keys (WATCH).
    pub watches: watch::WatchTable,
    pub stats: ShardStats,
    /// What follows this shard's changes besides the built-in counter,
    /// WATCH and blocked clients (see `effects`).
    pub sinks: Sinks,
    /// The running command reported its effect itself
    /// ([`ctx::Ctx::propagate`]).
    pub propagated: bool,
    /// Writes reported, with sinks installed, since a record last reached
    /// them (see `propagation`), and the last such key, for its message.
    pub unrecorded: u32,
    pub unrecorded_key: Option<Box<[u8]>>,
    pub limits: Arc<ShardLimits>,
}

impl Shard {
    pub fn new(id: usize, databases: usize, limits: Arc<ShardLimits>) -> Self {
        Shard {
            id,
            dbs: (0..databases).map(Db::new).collect(),
            blocking: blocking::BlockTable::default(),
            watches: watch::WatchTable::default(),
            stats: ShardStats::default(),
            sinks: Sinks::default(),
            propagated: false,
            unrecorded: 0,
            unrecorded_key: None,
            limits,
        }
    }

    /// Keys expired on this shard since start (or CONFIG RESETSTAT).
    pub fn expired_keys(&self) -> u64 {
        self.dbs.iter().map(|db| db.expired).sum()
    }

    /// Zeroes every statistic (CONFIG RESETSTAT). The change counter is not
    /// a statistic: it says what the next snapshot must save, and Redis keeps
    /// it too.
    pub fn reset_stats(&mut self) {
        self.stats = ShardStats {
            dirty: self.stats.dirty,
            ..ShardStats::default()
        };
        self.dbs.iter_mut().for_each(|db| db.expired = 0);
    }

    /// One active-expiry step: deletes up to `budget` due keys per database.
    pub fn expire_cycle(&mut self, now: u64, budget: usize) -> usize {
        let mut done = 0;
        for i in 0..self.dbs.len() {
            done += self.dbs[i].expire_cycle(now, budget);
            self.settle_db(i);
        }
        if !self.sinks.is_empty() {
            self.sinks.command_end();
        }
        done
    }

    /// Reports a change (see `effects`): the one place every write to this
    /// shard's keys goes through. Expirations still pending in the database
    /// are reported first, so effects keep the order they happened in.
    pub fn effect(&mut self, effect: Effect) {
        // The common case first: a write, nothing expired, nobody watching.
        if let Effect::Wrote { db, key } = effect {
            if !self.dbs[db].has_expired() && self.watches.is_empty() && self.sinks.is_empty() {
                self.stats.dirty += 1;
                self.blocking.signal(db, key);
                return;
            }
        }
        let db = match effect {
            Effect::Wrote { db, .. } | Effect::Logged { db, .. } | Effect::Expired { db, .. } => {
                Some(db)
            }
            Effect::Flushed { db } => db,
        };
        if let Some(db) = db {
            self.settle_db(db);
        }
        match effect {
            Effect::Wrote { db, key } | Effect::Expired { db, key } => {
                if matches!(effect, Effect::Wrote { .. }) {
                    self.stats.dirty += 1;
                }
                self.blocking.signal(db, key);
                if !self.watches.is_empty() {
                    self.watches.touch(DbKeyRef(db, key));
                }
            }
            Effect::Logged { .. } => self.stats.dirty += 1,
            Effect::Flushed { db } => {
                // Blocked stream group readers learn their stream is gone;
                // watchers of keys that existed fail their EXEC.
                self.blocking.signal_all(db);
                let now = now_ms();
                for key in self.watches.keys_in(db) {
                    if self.dbs[key.0].contains(&key.1, now) {
                        self.watches.touch(DbKeyRef(key.0, &key.1));
                    }
                }
            }
        }
        if !self.sinks.is_empty() {
            if let Effect::Wrote { key, .. } | Effect::Logged { key, .. } = effect {
                self.unrecorded += 1;
                if cfg!(debug_assertions) || propagation::enforced() {
                    self.unrecorded_key = Some(key.into());
                }
            }
            self.sinks.effect(&effect);
        }
    }

    /// Reports a command's effect as `argv` in database `db` (see
    /// [`ctx::Ctx::propagate`]).
    pub fn propagate(&mut self, db: usize, argv: &[&[u8]]) {
        self.propagated = true;
        if !self.sinks.is_empty() {
            self.unrecorded = 0;
            self.sinks.command(db, argv);
        }
    }

    /// The running command changed nothing a replay needs (only what no
    /// replay can reproduce, as a consumer's seen time): no record, and the
    /// command as sent is not reported either.
    pub fn propagate_nothing(&mut self) {
        self.propagated = true;
        self.unrecorded = 0;
    }

    /// Reports the keys database `db` expired since it was last asked
    /// (lazily, when a command found them due, or in the active cycle).
    pub fn settle_db(&mut self, db: usize) {
        if !self.dbs[db].has_expired() {
            return;
        }
        for key in self.dbs[db].take_expired() {
            self.effect(Effect::Expired { db, key: &key });
        }
    }

    /// Empties database `db` (FLUSHDB) or every database (FLUSHALL), as one
    /// effect; returns how many keys went.
    pub fn flush(&mut self, db: Option<usize>) -> usize {
        if let Some(d) = db {
            self.settle_db(d);
        } else {
            (0..self.dbs.len()).for_each(|d| self.settle_db(d));
        }
        // Watchers are told while the keys still exist.
        self.effect(Effect::Flushed { db });
        let mut removed = 0;
        for (i, d) in self.dbs.iter_mut().enumerate() {
            if db.is_none_or(|only| only == i) {
                removed += d.len();
                d.clear(now_ms());
            }
        }
        self.stats.dirty += removed as u64;
        removed
    }
}

/// Wall-clock time in Unix milliseconds.
/// The time to a few milliseconds (the kernel's tick), for what only
/// needs that (how long a script has been running): cheaper than
/// [`now_ms`].
pub fn coarse_now_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write to.
    if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) } != 0 {
        return now_ms();
    }
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
