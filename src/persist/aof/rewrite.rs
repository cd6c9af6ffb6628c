//! Compaction without fork (BGREWRITEAOF, the automatic rewrite) and
//! turning the log on at run time (CONFIG SET appendonly yes), which is a
//! rewrite that starts the logs instead of switching them.
//!
//! 1. Make the next generation's files, empty, and write a manifest that
//!    lists the old files and the new ones (a crash from here on recovers
//!    from both).
//! 2. At the snapshot's point in time, holding every shard, each log
//!    switches to its new file; the snapshot becomes the new base.
//! 3. Once the base is on disk and every log has fsynced its old file (it
//!    does so when it meets the switch), write the manifest that lists the
//!    new base and the new generation only, then delete the old files.
//!
//! A failure at any step leaves a manifest that recovers to the last
//! acknowledged state: the old one, or the one of step 1.
//!
//! Turned on at run time, the logs start at the point in time and replies
//! wait for them from there; but until step 3 names the new base, a crash
//! restarts without them (there is no base for what came before), as in
//! Redis, whose log counts only once its first rewrite is done.

use std::fs::{self, OpenOptions};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::log::{Durable, Fsync, LogFile, LogShared, ShardLog};
use super::manifest::{self, Entry, Manifest};
use crate::runtime;
use crate::shard::dispatch::Core;

/// Why a rewrite did not start.
#[derive(Debug)]
pub enum RewriteError {
    InProgress,
    Failed(String),
}

/// Opens `path` to append to (created if missing).
pub fn open_log_file(path: &Path) -> Result<LogFile, String> {
    let f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(path)
        .map_err(|e| format!("Can't open the append only file {}: {e}", path.display()))?;
    let len = f
        .metadata()
        .map_err(|e| format!("Can't stat {}: {e}", path.display()))?
        .len();
    Ok(LogFile {
        fd: Arc::new(OwnedFd::from(f)),
        len,
    })
}

/// Runs `f` on a plain thread and waits for it without blocking the core
/// (file creation, renames, directory fsyncs).
pub async fn off_core<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    loop {
        match rx.try_recv() {
            Ok(r) => return r,
            Err(_) => runtime::sleep(Duration::from_millis(1)).await,
        }
    }
}

/// What the rewrite does at its point in time.
#[derive(Clone, Copy)]
enum Mode {
    /// The logs go to the new generation.
    Switch,
    /// The logs start (appendonly turned on), with this fsync policy.
    Enable(Fsync, bool),
}

/// BGREWRITEAOF / the automatic rewrite; returns when it is done.
pub async fn rewrite(core: Rc<Core>) -> Result<(), RewriteError> {
    run(core, Mode::Switch).await
}

/// CONFIG SET appendonly yes: the logs start at a snapshot that becomes
/// their base.
pub async fn enable(core: Rc<Core>) -> Result<(), RewriteError> {
    let (fsync, ts) = {
        let c = core.config.borrow();
        (
            Fsync::parse(&c.appendfsync).unwrap_or(Fsync::Everysec),
            c.aof_timestamp_enabled,
        )
    };
    run(core, Mode::Enable(fsync, ts)).await
}

async fn run(core: Rc<Core>, mode: Mode) -> Result<(), RewriteError> {
    let aof = &core.shared.aof;
    if aof.rewriting.swap(true, Ordering::AcqRel) {
        return Err(RewriteError::InProgress);
    }
    // One snapshot walk at a time: wait for a running BGSAVE.
    aof.scheduled.store(true, Ordering::Release);
    while !core.shared.persistence.claim_walk() {
        runtime::sleep(Duration::from_millis(10)).await;
    }
    aof.scheduled.store(false, Ordering::Release);
    aof.rewrite.lock().expect("not poisoned").started = Some(Instant::now());
    let started = Instant::now();
    let result = steps(&core, mode).await;
    core.shared.persistence.release_walk();
    let mut st = aof.rewrite.lock().expect("not poisoned");
    st.started = None;
    st.last_secs = started.elapsed().as_secs() as i64;
    st.last_ok = result.is_ok();
    if result.is_ok() {
        st.rewrites += 1;
        st.consecutive_failures = 0;
    } else {
        st.consecutive_failures += 1;
    }
    drop(st);
    aof.rewriting.store(false, Ordering::Release);
    result.map_err(|e| {
        eprintln!("ringbus: Background AOF rewrite failed: {e}");
        RewriteError::Failed(e)
    })
}

async fn steps(core: &Rc<Core>, mode: Mode) -> Result<(), String> {
    let aof = &core.shared.aof;
    let (dir, basename, mname) = {
        let c = core.config.borrow();
        (
            super::dir_of(&c),
            c.appendfilename.clone(),
            manifest::manifest_name(&c.appendfilename),
        )
    };
    let shards = core.cores();
    // 1. The new generation's files and the manifest naming old and new.
    let old: Manifest = match mode {
        Mode::Switch => aof.manifest.lock().expect("not poisoned").clone(),
        // Turning on: whatever an earlier run left is not part of this log,
        // but its numbers are not reused.
        Mode::Enable(..) => {
            let d = dir.clone();
            let m = manifest::manifest_name(&basename);
            off_core(move || {
                let _ = fs::create_dir_all(&d);
                fs::read_to_string(d.join(&m))
                    .ok()
                    .and_then(|t| Manifest::parse(&t, &d.join(&m)).ok())
            })
            .await
            .map(|m| Manifest {
                base: None,
                incrs: Vec::new(),
                history: m
                    .history
                    .into_iter()
                    .chain(m.base)
                    .chain(m.incrs)
                    .map(|e| Entry { kind: 'h', ..e })
                    .collect(),
            })
            .unwrap_or_default()
        }
    };
    let seq = old.last_seq() + 1;
    let mut interim = old.clone();
    if matches!(mode, Mode::Enable(..)) {
        interim.history.clear();
    }
    // With the log off, BGREWRITEAOF writes a base alone (as Redis 7).
    let logging = aof.enabled() || matches!(mode, Mode::Enable(..));
    let names = if logging {
        interim.add_generation(&basename, seq, shards)
    } else {
        Vec::new()
    };
    let files: Vec<LogFile> = {
        let (d, names, text, mname) = (dir.clone(), names.clone(), interim.render(), mname.clone());
        let switch = matches!(mode, Mode::Switch) && logging;
        off_core(move || -> Result<Vec<LogFile>, String> {
            fs::create_dir_all(&d).map_err(|e| format!("Can't create {}: {e}", d.display()))?;
            let files = names
                .iter()
                .map(|n| open_log_file(&d.join(n)))
                .collect::<Result<Vec<_>, _>>()?;
            if switch {
                manifest::write_durably(&d, &mname, text.as_bytes())
                    .map_err(|e| format!("Can't write the AOF manifest: {e}"))?;
            }
            Ok(files)
        })
        .await?
    };
    // 2. The point in time.
    let base = manifest::base_name(&basename, seq, true);
    let base_path = dir.join(&base);
    let mut marks: Vec<(Arc<LogShared>, u64)> = Vec::new();
    let at_point = |txn: &mut crate::shard::txn::Txn| match mode {
        Mode::Switch => {
            for (log, file) in aof.logs().into_iter().zip(files) {
                log.switch_to(file);
                marks.push((log.clone(), log.appended()));
            }
        }
        Mode::Enable(fsync, ts) => {
            // The logs start here, written from the first record on (by
            // flushers on this core until the next start puts each on its
            // shard's core), and replies wait for them from here on.
            let mut logs = Vec::new();
            for (s, file) in files.into_iter().enumerate() {
                let log = LogShared::new(s, file, fsync, ts);
                txn.here(s, |here| {
                    here.shard.sinks.add(Box::new(ShardLog::new(log.clone())))
                });
                crate::runtime::spawn(super::log::flusher(log.clone()));
                logs.push(log);
            }
            aof.open(logs, interim.clone());
        }
    };
    if let Err(e) = crate::persist::snapshot::write_snapshot(core, &base_path, true, at_point).await
    {
        if matches!(mode, Mode::Enable(..)) {
            // The logs run, but no manifest names them yet: the cron tries
            // again (a rewrite writes one first), as Redis retries the
            // rewrite that turns the log on.
            aof.rebase_wanted.store(true, Ordering::Release);
        }
        return Err(e);
    }
    // 3. Old files fsynced (each log does so at the switch), then the new manifest.
    for (log, mark) in &marks {
        Durable {
            log,
            target: *mark,
            sync: false,
        }
        .await;
    }
    let mut fin = Manifest {
        base: Some(Entry {
            name: base.clone(),
            seq,
            kind: 'b',
            shard: None,
        }),
        incrs: interim
            .incrs
            .iter()
            .filter(|e| e.seq >= seq)
            .cloned()
            .collect(),
        history: Vec::new(),
    };
    let gone: Vec<PathBuf> = old
        .base
        .iter()
        .chain(&old.incrs)
        .chain(&old.history)
        .map(|e| dir.join(&e.name))
        .collect();
    {
        let (d, text, mname) = (dir.clone(), fin.render(), mname.clone());
        off_core(move || -> Result<(), String> {
            manifest::write_durably(&d, &mname, text.as_bytes())
                .map_err(|e| format!("Can't write the AOF manifest: {e}"))?;
            for p in gone {
                let _ = fs::remove_file(p);
            }
            Ok(())
        })
        .await?;
    }
    fin.history.clear();
    let base_len = fs::metadata(&base_path).map_or(0, |m| m.len());
    aof.base_size.store(base_len, Ordering::Relaxed);
    *aof.manifest.lock().expect("not poisoned") = fin;
    aof.size_at_rewrite
        .store(aof.current_size(), Ordering::Relaxed);
    Ok(())
}
