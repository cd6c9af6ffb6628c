//! Snapshots on demand: SAVE, BGSAVE, LASTSAVE (the driver is
//! `persist::snapshot`; the save rules run from each core's cron, see
//! [`save_rules_due`]).

use std::rc::Rc;

use super::args::{is, CmdResult, Error};
use super::exec::Client;
use super::spec::decl::*;
use crate::persist::snapshot::{self, SaveError};
use crate::shard::dispatch::Core;
use crate::shard::now_ms;

/// SAVE: a snapshot now; the reply comes when the file is in place. Other
/// clients keep being served meanwhile (Redis stops them; the snapshot is
/// one point in time either way).
pub async fn save(c: &mut dyn Client, _: &[&[u8]]) -> CmdResult {
    let core = c.core().clone();
    loop {
        return match snapshot::save(core.clone()).await {
            Ok(()) => {
                c.out().ok();
                Ok(())
            }
            Err(SaveError::InProgress) => {
                Err(Error::msg("ERR Background save already in progress"))
            }
            // An AOF rewrite's walk: the save follows it.
            Err(SaveError::Rewriting) => {
                crate::runtime::sleep(std::time::Duration::from_millis(5)).await;
                continue;
            }
            Err(SaveError::Failed(_)) => Err(Error::msg("ERR")),
        };
    }
}

/// BGSAVE [SCHEDULE]: a snapshot in the background.
pub fn bgsave(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 1 && !(argv.len() == 2 && is(argv[1], "schedule")) {
        return Err(Error::SYNTAX);
    }
    let schedule = argv.len() == 2;
    let core = c.core().clone();
    if core.shared.persistence.in_progress() {
        return Err(Error::msg("ERR Background save already in progress"));
    }
    let rewriting = core
        .shared
        .aof
        .rewriting
        .load(std::sync::atomic::Ordering::Acquire);
    if rewriting && !schedule {
        return Err(Error::msg(
            "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE \
             SCHEDULE in order to schedule a BGSAVE whenever possible.",
        ));
    }
    // Inside EXEC the shards are this transaction's: the snapshot starts
    // once it is over, as Redis schedules it.
    let in_exec = c.txn().is_some();
    start_background(core);
    if in_exec || rewriting {
        c.out().simple("Background saving scheduled");
    } else {
        c.out().simple("Background saving started");
    }
    Ok(())
}

/// A snapshot after the one running (if any) ends: what must reach the disk
/// happened after that one's point in time.
pub async fn save_after(core: Rc<Core>) {
    while core.shared.persistence.in_progress() {
        crate::runtime::sleep(std::time::Duration::from_millis(5)).await;
    }
    let _ = snapshot::save(core).await;
}

/// Starts a snapshot as a task of `core` (after a running AOF rewrite).
pub fn start_background(core: Rc<Core>) {
    crate::runtime::spawn(async move {
        while let Err(SaveError::Rewriting) = snapshot::save(core.clone()).await {
            crate::runtime::sleep(std::time::Duration::from_millis(5)).await;
        }
    });
}

/// BGREWRITEAOF: compacts the append-only log (a new base from a snapshot,
/// see `persist::aof::rewrite`); with the log off, writes a base alone.
pub fn bgrewriteaof(c: &mut dyn Client, _: &[&[u8]]) -> CmdResult {
    let core = c.core().clone();
    let aof = &core.shared.aof;
    if aof.rewriting.load(std::sync::atomic::Ordering::Acquire) {
        return Err(Error::msg(
            "ERR Background append only file rewriting already in progress",
        ));
    }
    let scheduled = c.txn().is_some() || core.shared.persistence.in_progress();
    crate::runtime::spawn(async move {
        let _ = crate::persist::aof::rewrite::rewrite(core).await;
    });
    if scheduled {
        c.out()
            .simple("Background append only file rewriting scheduled");
    } else {
        c.out()
            .simple("Background append only file rewriting started");
    }
    Ok(())
}

pub fn lastsave(c: &mut dyn Client, _: &[&[u8]]) -> CmdResult {
    let at = c.core().shared.persistence.state().last_save as i64;
    c.out().int(at);
    Ok(())
}

/// Whether a save rule says a snapshot is due now (Redis's serverCron):
/// enough changes and enough time since the last save, and not within 5
/// seconds of a failed attempt.
pub fn save_rules_due(core: &Core, dirty: u64) -> bool {
    let rules = core.config.borrow().save.clone();
    if rules.is_empty() {
        return false;
    }
    let p = &core.shared.persistence;
    if p.in_progress() {
        return false;
    }
    let changes = dirty.saturating_sub(p.dirty_saved());
    let st = p.state();
    let now = now_ms() / 1000;
    rules.0.iter().any(|&(secs, min_changes)| {
        changes >= min_changes
            && now.saturating_sub(st.last_save) >= secs
            && (st.last_ok || now.saturating_sub(st.last_try) >= 5)
    })
}

/// Writes are refused while the last background save failed (MISCONF).
pub fn writes_refused(core: &Core) -> bool {
    if core.shared.persistence.last_ok() {
        return false;
    }
    let config = core.config.borrow();
    config.stop_writes_on_bgsave_error && !config.save.is_empty()
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save (unless NOSAVE), empty
/// the dataset (unless NOFLUSH), load the file again; with MERGE, keys in
/// the file replace keys of the same name. The only DEBUG subcommand
/// ringbus has; the rest are refused by name.
pub async fn debug(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    let mode = c.core().config.borrow().enable_debug_command.clone();
    let allowed = match mode.as_str() {
        "yes" => true,
        "local" => c
            .session()
            .is_some_and(|s| s.info.borrow().addr.ip().is_loopback()),
        _ => false,
    };
    if !allowed {
        return Err(Error::msg(
            "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
        ));
    }
    if is(argv[1], "object") && argv.len() == 3 {
        let (key, db) = (argv[2].to_vec(), c.db());
        let shard = crate::shard::route::shard_of(&key, c.core().cores());
        let line = super::exec::at_shard(c, shard, move |here| {
            here.ctx(db, |ctx| super::dump::debug_object(ctx, &key))
        })
        .await?;
        c.out().simple(&line);
        return Ok(());
    }
    if !is(argv[1], "reload") {
        return Err(Error::msg(format!(
            "ERR unknown subcommand '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(argv[1])
        )));
    }
    if c.core().shared.persistence.is_loading() {
        return Err(Error::msg("LOADING Redis is loading the dataset in memory"));
    }
    let (mut merge, mut flush, mut save) = (false, true, true);
    for opt in &argv[2..] {
        if is(opt, "merge") {
            merge = true;
        } else if is(opt, "noflush") {
            flush = false;
        } else if is(opt, "nosave") {
            save = false;
        } else {
            return Err(Error::msg(
                "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
            ));
        }
    }
    let core = c.core().clone();
    if save {
        while core.shared.persistence.in_progress() {
            crate::runtime::sleep(std::time::Duration::from_millis(5)).await;
        }
        if snapshot::save(core.clone()).await.is_err() {
            return Err(Error::msg("ERR"));
        }
    }
    let failed = || Error::msg("ERR Error trying to load the RDB dump, check server logs.");
    let n = core.cores();
    let mut txn = crate::shard::txn::Txn::new(&core);
    txn.take_all(0..n).await;
    let (path, databases) = {
        let config = core.config.borrow();
        (snapshot::rdb_path(&config), config.databases)
    };
    // Loaded beside the live shards (this core waits: Redis stops for it too).
    let fresh: Vec<crate::shard::Shard> = (0..n)
        .map(|id| crate::shard::Shard::new(id, databases, core.shared.limits.clone()))
        .collect();
    let (loaded, _) = snapshot::load(&path, fresh, &core.shared.persistence).map_err(|e| {
        eprintln!("ringbus: DEBUG RELOAD: {e}");
        failed()
    })?;
    let mut duplicate = false;
    for (s, mut fresh) in loaded.into_iter().enumerate() {
        txn.here(s, |here| {
            if flush {
                here.shard.flush(None);
            }
            for (d, db) in fresh.dbs.iter_mut().enumerate() {
                for (key, value, at) in db.drain() {
                    let live = &mut here.shard.dbs[d];
                    if !merge && live.peek(&key, now_ms()).is_some() {
                        duplicate = true;
                        continue;
                    }
                    // Loading is not a write (no dirty count, no signal), as
                    // in Redis; the flush above told watchers.
                    live.set(&key, value, at);
                }
            }
        });
    }
    drop(txn);
    if duplicate {
        eprintln!("ringbus: DEBUG RELOAD: keys in the file already existed (use MERGE)");
        return Err(failed());
    }
    eprintln!("ringbus: DB reloaded by DEBUG RELOAD");
    c.out().ok();
    Ok(())
}

pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

// ------------------------------------------------------------ commands

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("save", 1, &["admin", "noscript", "no_async_loading", "no_multi"], NO_KEYS, "server",
        "Synchronously saves the database(s) to disk.", crate::anywhere!(save), ""),
    spec("bgsave", -1, &["admin", "noscript", "no_async_loading"], NO_KEYS, "server",
        "Asynchronously saves the database(s) to disk.", Exec::Local(bgsave), "[SCHEDULE]"),
    spec("debug", -2, &["admin", "noscript", "loading", "stale", "protected"], NO_KEYS, "server",
        "A container for debugging commands.", crate::anywhere!(debug), ""),
    spec("bgrewriteaof", 1, &["admin", "noscript", "no_async_loading"], NO_KEYS, "server",
        "Asynchronously rewrites the append-only file to disk.", Exec::Local(bgrewriteaof), ""),
    spec("lastsave", 1, &["loading", "stale", "fast"], NO_KEYS, "server",
        "Returns the Unix timestamp of the last successful save to disk.", Exec::Local(lastsave), ""),
];
