//! Server commands that concern the process: TIME, LASTSAVE, SHUTDOWN.

use std::rc::Rc;

use super::args::{is, CmdResult, Error};
use super::exec::Client;
use super::spec::decl::*;
use crate::shard::dispatch::Core;

pub fn time(c: &mut dyn Client, _: &[&[u8]]) -> CmdResult {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let out = c.out();
    out.array(2);
    out.bulk_int(now.as_secs() as i64);
    out.bulk_int(now.subsec_micros() as i64);
    Ok(())
}

/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]: saves a snapshot when
/// asked to (SAVE) or when save rules are set (unless NOSAVE), then exits;
/// the client sees its connection close, as in Redis. A save that fails
/// stops the shutdown unless FORCE.
pub async fn shutdown(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    let (mut abort, mut save, mut nosave, mut force) = (false, false, false, false);
    for arg in &argv[1..] {
        if is(arg, "abort") {
            abort = true;
        } else if is(arg, "nosave") {
            nosave = true;
        } else if is(arg, "save") {
            save = true;
        } else if is(arg, "force") {
            force = true;
        } else if !is(arg, "now") {
            return Err(Error::SYNTAX);
        }
    }
    if (abort && argv.len() > 2) || (save && nosave) {
        return Err(Error::SYNTAX);
    }
    if abort {
        return Err(Error::msg("ERR No shutdown in progress."));
    }
    let core = c.core().clone();
    shut_down(&core, save, nosave, force).await;
    Err(Error::msg("ERR Errors trying to SHUTDOWN. Check logs."))
}

/// Saves a final snapshot when asked to (`save`) or when save rules are
/// set (unless `nosave`), then exits the process. Returns only if the save
/// failed and `force` is not set.
pub async fn shut_down(core: &Rc<Core>, save: bool, nosave: bool, force: bool) {
    let rules = !core.config.borrow().save.is_empty();
    // As Redis: no save while the snapshot is still loading (it would
    // replace the file with the part loaded so far).
    let loading = core.shared.persistence.is_loading();
    if loading && (save || rules) {
        eprintln!("ringbus: SHUTDOWN while loading: not saving.");
    }
    if !loading && (save || (rules && !nosave)) {
        eprintln!("ringbus: SHUTDOWN: saving the final RDB snapshot before exiting.");
        // A background save running now is a point in time already past:
        // wait for it, then save again.
        while core.shared.persistence.in_progress() {
            crate::runtime::sleep(std::time::Duration::from_millis(5)).await;
        }
        if let Err(e) = crate::persist::snapshot::save(core.clone()).await {
            eprintln!("ringbus: SHUTDOWN: error trying to save the DB: {e:?}");
            if !force {
                return;
            }
        }
    }
    if core.shared.aof.enabled() {
        eprintln!("ringbus: Calling fsync() on the AOF file.");
        crate::persist::aof::flush_for_exit(core).await;
    }
    eprintln!("ringbus: SHUTDOWN: exiting");
    std::process::exit(0);
}

// ------------------------------------------------------------ commands

/// The server commands, as the command table lists them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("time", 1, CONN, NO_KEYS, "server", "Returns the server time.", Exec::Local(time), ""),
    spec("shutdown", -1, &["admin", "noscript", "loading", "stale", "no_multi", "allow_busy"], NO_KEYS, "server",
        "Synchronously saves the database(s) to disk and shuts down the Redis server.", crate::anywhere!(shutdown),
        "[NOSAVE | SAVE] [NOW] [FORCE] [ABORT]"),
];
