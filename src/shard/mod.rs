//! Shard-per-core: each core owns one shard of the keyspace and is the only
//! thread that ever touches it. A key's shard comes from [`route`]; commands on
//! another core's keys travel there through [`dispatch`], the one module where
//! work crosses cores; multi-shard atomicity is [`txn`] on top of [`locks`].

pub mod blocking;
pub mod db;
pub mod dispatch;
pub mod locks;
pub mod pubsub;
pub mod route;
pub mod table;
pub mod txn;
pub mod watch;

use crate::config::Config;
use db::Db;
use locks::LockTable;

/// Counters a shard keeps for INFO stats; summed over shards when reported.
#[derive(Default, Clone, Debug)]
pub struct ShardStats {
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    /// Writes since start (INFO's rdb_changes_since_last_save).
    pub dirty: u64,
}

/// The data one core owns: its databases, its key locks, its counters.
pub struct Shard {
    pub id: usize,
    pub dbs: Vec<Db>,
    pub locks: LockTable,
    /// Clients blocked on this shard's keys.
    pub blocking: blocking::BlockTable,
    /// Clients watching this shard's keys (WATCH).
    pub watches: watch::WatchTable,
    pub stats: ShardStats,
    /// This core's copy of the configuration; CONFIG SET updates every copy.
    pub config: Config,
}

impl Shard {
    pub fn new(id: usize, config: Config) -> Self {
        Shard {
            id,
            dbs: (0..config.databases).map(|_| Db::default()).collect(),
            locks: LockTable::default(),
            blocking: blocking::BlockTable::default(),
            watches: watch::WatchTable::default(),
            stats: ShardStats::default(),
            config,
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
        self.dbs
            .iter_mut()
            .map(|db| db.expire_cycle(now, budget))
            .sum()
    }
}

/// Wall-clock time in Unix milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
