//! What a command sees while it runs on the shard owning its keys, and the
//! one function that runs it there.
//!
//! [`run`] is the shard side of every command, whoever sent it (a
//! connection's batch, EXEC, a script, a cross-shard transaction's part):
//! the family's function gets a [`Ctx`] and reports each write through
//! [`Ctx::wrote`], which becomes an [`Effect`] on this shard (see
//! `effects`); once it is done, the effect sinks hear of the command itself.

use super::db::{Db, Entry};
use super::effects::Effect;
use super::Shard;
use crate::resp::args::{Args, CmdResult};
use crate::resp::Out;

/// What a shard command sees: its shard, the client's database, and the
/// command's clock reading (one per command, like Redis's command time snapshot).
pub struct Ctx<'a> {
    pub shard: &'a mut Shard,
    pub db: usize,
    pub now: u64,
}

/// A command's work on the shard that owns its keys.
pub type ShardFn = fn(&mut Ctx, &mut Args, &mut Out) -> CmdResult;

/// Runs `f` with `argv` on `ctx`'s shard, writing its reply or its error to
/// `out`, and tells the effect sinks about it if it wrote.
pub fn run(f: ShardFn, ctx: &mut Ctx, argv: &[&[u8]], out: &mut Out) {
    let before = ctx.shard.stats.dirty;
    let mut args = Args::new(argv);
    if let Err(e) = f(ctx, &mut args, out) {
        out.error(&e.0);
    }
    ctx.shard.settle_db(ctx.db);
    if !ctx.shard.sinks.is_empty() && ctx.shard.stats.dirty != before {
        ctx.shard.sinks.command(ctx.db, argv);
    }
}

impl Ctx<'_> {
    pub fn db(&mut self) -> &mut Db {
        &mut self.shard.dbs[self.db]
    }

    /// Every write to a key reports here (see `effects`): it counts a
    /// change, fails the EXEC of clients watching the key, wakes the
    /// clients blocked on it (served after the command), and reaches the
    /// log, notifications and replicas once they listen.
    pub fn wrote(&mut self, key: &[u8]) {
        self.shard.effect(Effect::Wrote { db: self.db, key });
    }

    /// A change only the log and replicas need (XREADGROUP's delivery
    /// state): it counts, but wakes and fails nobody.
    pub fn logged(&mut self, key: &[u8]) {
        self.shard.effect(Effect::Logged { db: self.db, key });
    }

    /// Looks a key up for reading and counts a keyspace hit or miss, as
    /// Redis's `lookupKeyRead` does (writes look keys up without counting).
    pub fn read(&mut self, key: &[u8]) -> Option<&Entry> {
        let shard = &mut *self.shard;
        let entry = shard.dbs[self.db].get(key, self.now);
        if entry.is_some() {
            shard.stats.keyspace_hits += 1;
        } else {
            shard.stats.keyspace_misses += 1;
        }
        entry
    }

    pub fn max_string_len(&self) -> usize {
        self.shard.config.proto_max_bulk_len as usize
    }
}
