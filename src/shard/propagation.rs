//! The safety net under `Ctx::propagate`: a write the log and replicas
//! never heard of is a replica that diverges and a restart that loses it.
//!
//! With an effect sink installed, each shard counts the writes it reported
//! since a record last reached its sinks ([`Shard::unrecorded`]); a record
//! (the command as sent, or what it propagated) settles the count. Where a
//! command's work on a shard ends (the end of `ctx::run`, of `with_ctx_at`:
//! a cross-shard form's part, a hop's work, a blocked client served) the
//! count must be zero. A debug build asserts it; `RINGBUS_CHECK_PROPAGATION=1`
//! makes a release build panic too, naming the command, so the whole suite
//! run with a capturing sink finds every write path that records nothing.
//! With no sink installed nothing is counted and the check is one compare.
//!
//! [`Shard::unrecorded`]: super::Shard::unrecorded

use std::cell::Cell;
use std::sync::OnceLock;

use super::Shard;

/// Whether `RINGBUS_CHECK_PROPAGATION=1` asked for the check in release builds.
pub fn enforced() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("RINGBUS_CHECK_PROPAGATION").is_ok_and(|v| v == "1"))
}

thread_local! {
    /// The command running on this thread, for the check's message.
    static RUNNING: Cell<&'static str> = const { Cell::new("(no command)") };
}

/// Names the command whose work follows on this thread (set by `exec::call`;
/// only when someone will read it).
pub fn running(name: &'static str) {
    if cfg!(debug_assertions) || enforced() {
        RUNNING.with(|r| r.set(name));
    }
}

/// Checks that every write `shard` reported since its last record was
/// recorded; `at` says where the work ended.
/// Also where the sinks learn that the work's records are complete.
#[inline]
pub fn check(shard: &mut Shard, at: &str) {
    if !shard.sinks.is_empty() {
        shard.sinks.command_end();
    }
    if shard.unrecorded != 0 {
        unrecorded(shard, at);
    }
}

#[cold]
fn unrecorded(shard: &mut Shard, at: &str) {
    let n = std::mem::take(&mut shard.unrecorded);
    let key = shard.unrecorded_key.take().unwrap_or_default();
    let msg = format!(
        "propagation: {n} write(s) on shard {} with no record (command {}, at {at}, last key {:?})",
        shard.id,
        RUNNING.with(Cell::get),
        String::from_utf8_lossy(&key),
    );
    if enforced() {
        panic!("{msg}");
    }
    debug_assert!(false, "{msg}");
}
