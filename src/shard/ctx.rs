//! What a command sees while it runs on the shard owning its keys, and the
//! one function that runs it there.
//!
//! [`run`] is the shard side of every command, whoever sent it (a
//! connection's batch, EXEC, a script, a cross-shard transaction's part):
//! the family's function gets a [`Ctx`] and reports each write through
//! [`Ctx::wrote`], which becomes an [`Effect`] on this shard (see
//! `effects`); once it is done, the effect sinks hear of the command itself.

use std::sync::atomic::Ordering;

use super::db::{Db, Entry};
use super::dispatch::Core;
use super::effects::Effect;
use super::notify::Class;
use super::route::shard_of;
use super::{now_ms, Shard};
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
    ctx.shard.propagated = false;
    let mut args = Args::new(argv);
    if let Err(e) = f(ctx, &mut args, out) {
        out.error(&e.0);
    }
    ctx.shard.settle_db(ctx.db);
    if !ctx.shard.sinks.is_empty() && !ctx.shard.propagated && ctx.shard.stats.dirty != before {
        ctx.shard.unrecorded = 0;
        ctx.shard.sinks.command(ctx.db, argv);
    }
    super::propagation::check(ctx.shard, "the end of the command");
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

    /// Tells the log and replicas that this command's effect is `argv`
    /// rather than the command as sent: what Redis's `alsoPropagate` and
    /// `rewriteClientCommandVector` do, so a replay is deterministic (a
    /// blocking pop as its plain form, a relative expiry as PEXPIREAT, SPOP
    /// as the SREM of what it took). May be called several times, for
    /// several commands; once it is, [`run`] no longer reports the command
    /// as sent. Work that writes outside [`run`] (cross-shard forms, a
    /// blocked client served) must call it for what it wrote.
    pub fn propagate(&mut self, argv: &[&[u8]]) {
        self.shard.propagate(self.db, argv);
    }

    /// The command's writes need no record (see `Shard::propagate_nothing`).
    pub fn propagate_nothing(&mut self) {
        self.shard.propagate_nothing();
    }

    /// Announces a keyspace event: `event` (Redis's name, e.g. `lpush`) of
    /// class `class` happened to `key` in this command's database. Call it
    /// where the change is made, in Redis's order (see `notify`); with
    /// notifications off it costs one atomic load.
    #[inline]
    pub fn notify(&mut self, class: Class, event: &'static str, key: &[u8]) {
        let on = self.shard.limits.notify_keyspace_events.load(Ordering::Relaxed);
        if on & class.0 != 0 {
            self.shard.notify(Class(on), event, self.db, key);
        }
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

    /// `rdbcompression`, for DUMP.
    pub fn rdb_compression(&self) -> bool {
        self.shard.limits.rdb_compression.load(Ordering::Relaxed)
    }

    pub fn max_string_len(&self) -> usize {
        self.shard.limits.proto_max_bulk_len.load(Ordering::Relaxed) as usize
    }
}

/// One shard, on this core and free for the work that has it: a hop's
/// work on the shard it was sent to.
pub struct Here<'a> {
    pub core: &'a Core,
    pub shard: &'a mut Shard,
}

impl Here<'_> {
    /// Runs `f` in database `db` with a fresh clock reading; expirations
    /// its reads caused are reported before it returns.
    pub fn ctx<R>(&mut self, db: usize, f: impl FnOnce(&mut Ctx) -> R) -> R {
        with_ctx(self.shard, db, f)
    }
}

/// Runs `f` on `shard`'s database `db` (see [`Here::ctx`]).
pub fn with_ctx<R>(shard: &mut Shard, db: usize, f: impl FnOnce(&mut Ctx) -> R) -> R {
    with_ctx_at(shard, db, now_ms(), f)
}

/// [`with_ctx`] with the clock reading `now` (a script's or EXEC's).
pub fn with_ctx_at<R>(shard: &mut Shard, db: usize, now: u64, f: impl FnOnce(&mut Ctx) -> R) -> R {
    let mut ctx = Ctx { shard, db, now };
    let result = f(&mut ctx);
    ctx.shard.settle_db(db);
    super::propagation::check(ctx.shard, "the end of its work on the shard");
    result
}

/// The shards a piece of work may use, all on this core and all its own
/// while it runs: one shard ([`Here`], a hop's work) or every shard a
/// transaction holds (`txn::Txn`). Work written against it runs the same
/// whether its keys share a shard or not; its methods are in [`ShardsExt`].
pub trait Shards {
    /// How many shards the server has.
    fn count(&self) -> usize;

    /// Runs `f` in database `db` of `shard`, which must be one of these.
    fn with_ctx(&mut self, shard: usize, db: usize, f: &mut dyn FnMut(&mut Ctx));
}

/// What work does with its [`Shards`].
pub trait ShardsExt: Shards {
    /// Runs `f` in database `db` of `shard`, which must be one of these.
    fn ctx<R>(&mut self, shard: usize, db: usize, f: impl FnOnce(&mut Ctx) -> R) -> R {
        let mut f = Some(f);
        let mut result = None;
        self.with_ctx(shard, db, &mut |ctx| {
            result = f.take().map(|f| f(ctx));
        });
        result.expect("with_ctx runs its function")
    }

    /// [`ShardsExt::ctx`] on the shard of `key`.
    fn ctx_of<R>(&mut self, key: &[u8], db: usize, f: impl FnOnce(&mut Ctx) -> R) -> R {
        let shard = shard_of(key, self.count());
        self.ctx(shard, db, f)
    }
}

impl<S: Shards + ?Sized> ShardsExt for S {}

impl Shards for Here<'_> {
    fn count(&self) -> usize {
        self.core.cores()
    }

    fn with_ctx(&mut self, shard: usize, db: usize, f: &mut dyn FnMut(&mut Ctx)) {
        assert_eq!(shard, self.shard.id, "a hop's work uses its own shard");
        with_ctx(self.shard, db, f);
    }
}
