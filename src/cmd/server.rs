//! Server commands that concern the process: TIME, LASTSAVE, SHUTDOWN.

use super::args::{is, CmdResult, Error};
use super::exec::Client;
use super::spec::decl::*;

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

pub fn lastsave(c: &mut dyn Client, _: &[&[u8]]) -> CmdResult {
    let at = c.core().shared.start_unix as i64;
    c.out().int(at);
    Ok(())
}

/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]: the process exits. There
/// is nothing to save yet (durability is a later issue), so every form but
/// ABORT exits at once; the client sees its connection close, as in Redis.
pub fn shutdown(_: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    let mut abort = false;
    for arg in &argv[1..] {
        if is(arg, "abort") {
            abort = true;
        } else if !["nosave", "save", "now", "force"]
            .iter()
            .any(|w| is(arg, w))
        {
            return Err(Error::SYNTAX);
        }
    }
    if abort {
        return Err(Error::msg("ERR No shutdown in progress."));
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
        "Synchronously saves the database(s) to disk and shuts down the Redis server.", Exec::Local(shutdown),
        "[NOSAVE | SAVE] [NOW] [FORCE] [ABORT]"),
    spec("lastsave", 1, CONN, NO_KEYS, "server", "Returns the Unix timestamp of the last successful save to disk.", Exec::Local(lastsave), ""),
];
