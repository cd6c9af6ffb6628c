//! The append-only log: one log per shard, Redis 7's multi-part AOF on disk.
//!
//! - [`log`]: what a shard appends (its effects, as Redis propagates them)
//!   and the flusher that writes and fsyncs it through its core's ring, with
//!   group commit; replies wait for the log ([`Aof::wait_durable`]).
//! - [`manifest`]: the files (a base, then generations of one incremental
//!   file per shard).
//! - [`recover`]: loading it all back at start.
//! - [`rewrite`]: compaction without fork: the snapshot machinery writes the
//!   new base while the shards go on logging to a new generation.
//!
//! # A transaction over several shards is never half there after a crash
//!
//! A transaction (EXEC, a script, MSET over several shards, a cross-shard
//! LMOVE) holds all its shards on one core while it runs; each shard's log
//! keeps that shard's share apart and, when the transaction ends, appends it
//! as one MULTI/EXEC block. When more than one shard wrote, each block is
//! preceded by `#TXN:<id>:<parts>` (an annotation: Redis's loader and
//! redis-check-aof skip `#` lines), `id` unique in the log's history and
//! `parts` the number of shards that wrote.
//!
//! 1. A reply waits until every log holds, on disk, all that was appended
//!    when the reply's batch ended (`fsync` with `always`). A transaction's
//!    blocks are all appended before its shards are released, so its reply
//!    waits for every part, and so does the reply of any later command on
//!    any of its shards.
//! 2. Recovery applies a block only if all `parts` of its transaction are
//!    in the logs before their shards' cut points, and cuts each shard's
//!    log at its first block that is not (repeating until nothing changes).
//! 3. Nothing cut was acknowledged: by 1, anything appended to shard S
//!    after an incomplete block B was answered only after B's every part
//!    was on disk, which it is not. So recovery gives every acknowledged
//!    write, each transaction whole or not at all, and each shard's log
//!    a prefix of what it appended.
//!
//! A rewrite switches every shard to a new generation at one point in time,
//! under a transaction holding every shard, so no transaction straddles
//! generations.

pub mod log;
pub mod manifest;
pub mod recover;
pub mod rewrite;

use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use log::{Durable, LogShared};
use manifest::Manifest;

use crate::shard::dispatch::Core;

/// The log's state for the whole process (in `Shared`).
#[derive(Default)]
pub struct Aof {
    /// `appendonly yes` and the logs are open.
    enabled: AtomicBool,
    logs: RwLock<Vec<Arc<LogShared>>>,
    /// The files, as the manifest on disk says.
    pub manifest: Mutex<Manifest>,
    /// The next multi-shard transaction id (unique over the log's history:
    /// starts past the clock in µs, so ids of an earlier run stay below).
    next_txn: AtomicU64,
    pub rewrite: Mutex<RewriteState>,
    pub rewriting: AtomicBool,
    /// A rewrite waits for a running snapshot.
    pub scheduled: AtomicBool,
    /// Bytes of the base when the last rewrite (or the start) made it.
    pub base_size: AtomicU64,
    /// The size of the log at the last rewrite, for
    /// auto-aof-rewrite-percentage.
    pub size_at_rewrite: AtomicU64,
    /// Start-up replayed a log written with another number of shards: a
    /// rewrite should follow.
    pub rebase_wanted: AtomicBool,
}

#[derive(Debug, Clone)]
pub struct RewriteState {
    pub last_ok: bool,
    pub last_secs: i64,
    pub started: Option<std::time::Instant>,
    pub rewrites: u64,
    pub consecutive_failures: u64,
}

impl Default for RewriteState {
    fn default() -> Self {
        RewriteState {
            last_ok: true,
            last_secs: -1,
            started: None,
            rewrites: 0,
            consecutive_failures: 0,
        }
    }
}

impl Aof {
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    pub fn logs(&self) -> Vec<Arc<LogShared>> {
        self.logs.read().expect("not poisoned").clone()
    }

    /// Opens the logs (at start, or CONFIG SET appendonly yes).
    pub fn open(&self, logs: Vec<Arc<LogShared>>, manifest: Manifest) {
        *self.logs.write().expect("not poisoned") = logs;
        *self.manifest.lock().expect("not poisoned") = manifest;
        let floor = crate::shard::now_ms() * 1000;
        self.next_txn.fetch_max(floor, Ordering::AcqRel);
        self.enabled.store(true, Ordering::Release);
    }

    /// Closes them (CONFIG SET appendonly no): the flushers finish what
    /// was appended and stop.
    pub fn close(&self) -> Vec<Arc<LogShared>> {
        self.enabled.store(false, Ordering::Release);
        let logs = std::mem::take(&mut *self.logs.write().expect("not poisoned"));
        for l in &logs {
            l.stop();
        }
        logs
    }

    pub fn next_txn_id(&self) -> u64 {
        self.next_txn.fetch_add(1, Ordering::AcqRel)
    }

    /// Waits until every log holds what was appended so far (see `log`):
    /// a connection calls it before it sends replies. A batch that only
    /// read (`wrote` false) does not wait for a log that cannot write (a
    /// full disk), so reads go on meanwhile, as in Redis; a batch that may
    /// have written waits until the disk takes it.
    pub async fn wait_durable(&self, wrote: bool) {
        if !self.enabled() {
            return;
        }
        // Logs are looked at under the lock; only one still short of its
        // mark is held (cloned) while the reply waits for it.
        let mut from = 0;
        loop {
            let next = {
                let logs = self.logs.read().expect("not poisoned");
                logs.iter()
                    .enumerate()
                    .skip(from)
                    .filter(|(_, l)| wrote || !l.failed.load(Ordering::Acquire))
                    .find_map(|(i, l)| l.outstanding().map(|o| (i, l.clone(), o)))
            };
            let Some((i, log, (target, sync))) = next else {
                return;
            };
            Durable {
                log: &log,
                target,
                sync,
            }
            .await;
            from = i + 1;
        }
    }

    /// The errno of a failed write or fsync, while writes are refused
    /// (`-MISCONF Errors writing to the AOF file`).
    pub fn write_error(&self) -> Option<i32> {
        if !self.enabled() {
            return None;
        }
        self.logs
            .read()
            .expect("not poisoned")
            .iter()
            .find(|l| l.failed.load(Ordering::Acquire))
            .map(|l| l.errno.load(Ordering::Relaxed))
    }

    /// Bytes of the log on disk now: the base and the current files.
    pub fn current_size(&self) -> u64 {
        self.base_size.load(Ordering::Relaxed)
            + self
                .logs()
                .iter()
                .map(|l| l.file_len.load(Ordering::Relaxed))
                .sum::<u64>()
    }

    /// Bytes appended and not yet written.
    pub fn buffered(&self) -> u64 {
        self.logs().iter().map(|l| l.buffered()).sum()
    }

    /// everysec fsyncs running now (INFO's aof_pending_bio_fsync: Redis's
    /// background fsync job, here an fsync in flight on a ring).
    pub fn fsyncs_running(&self) -> usize {
        self.logs()
            .iter()
            .filter(|l| l.fsyncing.load(Ordering::Relaxed))
            .count()
    }

    pub fn delayed_fsyncs(&self) -> u64 {
        self.logs()
            .iter()
            .map(|l| l.delayed_fsyncs.load(Ordering::Relaxed))
            .sum()
    }
}

/// `appenddirname` under `dir`.
pub fn dir_of(config: &crate::config::Config) -> PathBuf {
    config.dir.join(&config.appenddirname)
}

/// Starts the flusher of every log whose shard is on `core` now.
pub fn start_flushers(core: &Rc<Core>) {
    for log in core.shared.aof.logs() {
        if log.shard == core.id {
            crate::runtime::spawn(log::flusher(log));
        }
    }
}

/// CONFIG SET appendonly no: every shard stops logging at one point (a
/// transaction holding them all), and each log writes and fsyncs what it
/// had before its flusher stops.
pub async fn disable(core: &Rc<Core>) {
    let shards = core.cores();
    let mut txn = crate::shard::txn::Txn::new(core);
    txn.take_all(0..shards).await;
    for s in 0..shards {
        txn.here(s, |here| here.shard.sinks.remove_log());
    }
    let logs = core.shared.aof.close();
    drop(txn);
    stop_and_drain(&logs).await;
}

/// SHUTDOWN and SIGTERM: every log writes and fsyncs what it has.
pub async fn flush_for_exit(core: &Rc<Core>) {
    stop_and_drain(&core.shared.aof.logs()).await;
}

/// Stops `logs`' flushers and waits until each has written and fsynced all
/// it had.
async fn stop_and_drain(logs: &[Arc<LogShared>]) {
    for log in logs {
        log.stop();
    }
    for log in logs {
        while !log.drained() {
            crate::runtime::sleep(std::time::Duration::from_millis(1)).await;
        }
    }
}

/// Whether the automatic rewrite should start (Redis's rule: the log grew by
/// `auto-aof-rewrite-percentage` since the last rewrite and is at least
/// `auto-aof-rewrite-min-size`), or a start with another shard count asked
/// for one.
pub fn rewrite_due(core: &Rc<Core>) -> bool {
    let aof = &core.shared.aof;
    if !aof.enabled()
        || aof.rewriting.load(Ordering::Acquire)
        || core.shared.persistence.in_progress()
        || core.shared.persistence.is_loading()
    {
        return false;
    }
    if aof.rebase_wanted.swap(false, Ordering::AcqRel) {
        aof.scheduled.store(true, Ordering::Release);
        return true;
    }
    let (pct, min) = {
        let c = core.config.borrow();
        (c.auto_aof_rewrite_percentage, c.auto_aof_rewrite_min_size)
    };
    if pct == 0 {
        return false;
    }
    let size = aof.current_size();
    let base = aof.size_at_rewrite.load(Ordering::Relaxed).max(1);
    let due = size > min && (size - base.min(size)) * 100 / base >= pct;
    if due {
        // INFO says so until the rewrite has begun.
        aof.scheduled.store(true, Ordering::Release);
    }
    due
}
