//! Commands that move or copy keys between keys and databases: COPY, MOVE
//! and SWAPDB.
//!
//! - COPY duplicates any value (deadline included) under another key, in
//!   this or another database; when the two keys live on different shards
//!   its cross-shard form reads the source on one shard and writes the copy
//!   on the other, inside one transaction (`cross`).
//! - MOVE stays on its shard: a key's shard depends on the key only, so the
//!   same key in another database lives on the same shard.
//! - SWAPDB swaps two databases on every shard while holding every shard,
//!   so no client sees one shard swapped and another not.

use std::borrow::Cow;

use super::args::{is, Args, CmdResult, Error};
use super::cross::Cross;
use super::exec::Client;
use super::spec::decl::*;
use super::{propagate, Ctx};
use crate::persist::rdb::dump as rdb_dump;
use crate::persist::values::Build;
use crate::resp::parse::parse_i64;
use crate::resp::Out;
use crate::shard::ctx::ShardsExt;
use crate::shard::db::DbKeyRef;
use crate::shard::notify::Class;
use crate::shard::txn::Txn;
use crate::types::Value;

pub const SAME_OBJECT: Error = Error(Cow::Borrowed(
    "ERR source and destination objects are the same",
));

/// A database number as Redis's `getIntFromObjectOrReply` then `selectDb`
/// check it: an integer (`msg`, when given, replaces both integer errors),
/// in C int range, then one of the `dbs` databases.
fn db_index(arg: &[u8], dbs: usize, msg: Option<&'static str>) -> Result<usize, Error> {
    let err = |default: Error| msg.map_or(default, Error::msg);
    let n = parse_i64(arg).ok_or_else(|| err(Error::NOT_INTEGER))?;
    if i32::try_from(n).is_err() {
        return Err(err(Error::msg(
            "ERR value is out of range, value must between -2147483648 and 2147483647",
        )));
    }
    if n < 0 || n as usize >= dbs {
        return Err(Error::DB_RANGE);
    }
    Ok(n as usize)
}

/// Runs `f` with `ctx` in database `db`, then back in its own.
fn in_db<R>(ctx: &mut Ctx, db: usize, f: impl FnOnce(&mut Ctx) -> R) -> R {
    let own = std::mem::replace(&mut ctx.db, db);
    let result = f(ctx);
    ctx.shard.settle_db(db);
    ctx.db = own;
    result
}

/// A deep copy of `value`, as Redis's `dup*Object`: strings, lists,
/// hashes and sets are cloned with their encoding; sorted sets and streams
/// go through the DUMP payload (their whole state: a stream's consumer
/// groups, PELs and IDs included), getting the encoding RESTORE picks.
pub fn duplicate(value: &Value) -> Value {
    match value {
        Value::Str(s) => Value::Str(s.clone()),
        Value::List(l) => Value::List(l.clone()),
        Value::Hash(h) => Value::Hash(h.clone()),
        Value::Set(s) => Value::Set(s.clone()),
        other => rdb_dump::decode_into(&propagate::payload(other), &mut Build::new())
            .expect("a payload ringbus wrote decodes"),
    }
}

// ------------------------------------------------------------------ COPY

/// COPY's options: the destination database and REPLACE.
fn copy_options(argv: &[&[u8]], db: usize, dbs: usize) -> Result<(usize, bool), Error> {
    let (mut dst_db, mut replace) = (db, false);
    let mut j = 3;
    while j < argv.len() {
        if is(argv[j], "replace") {
            replace = true;
        } else if is(argv[j], "db") && j + 1 < argv.len() {
            dst_db = db_index(argv[j + 1], dbs, None)?;
            j += 1;
        } else {
            return Err(Error::SYNTAX);
        }
        j += 1;
    }
    if dst_db == db && argv[1] == argv[2] {
        return Err(SAME_OBJECT);
    }
    Ok((dst_db, replace))
}

/// Whether COPY may write `dst` in `ctx`'s database (absent, or REPLACE),
/// looking it up as a write (an expired key goes first).
fn copy_allowed(ctx: &mut Ctx, dst: &[u8], replace: bool) -> bool {
    let now = ctx.now;
    replace || !ctx.db().contains(dst, now)
}

/// COPY's destination side: the copy replaces whatever is there, as a new key.
fn put_copy(ctx: &mut Ctx, dst: &[u8], value: Value, at: Option<u64>) {
    ctx.db().remove(dst);
    ctx.db().set(dst, value, at);
    ctx.wrote(dst);
    ctx.notify(Class::GENERIC, "copy_to", dst);
}

/// COPY with both keys on this shard.
pub fn copy(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let argv = args.all();
    let (src, dst) = (argv[1], argv[2]);
    let (dst_db, replace) = copy_options(argv, ctx.db, ctx.shard.dbs.len())?;
    if ctx.read(src).is_none() {
        out.int(0);
        return Ok(());
    }
    if !in_db(ctx, dst_db, |ctx| copy_allowed(ctx, dst, replace)) {
        out.int(0);
        return Ok(());
    }
    let now = ctx.now;
    let entry = ctx.db().peek(src, now).expect("read above");
    let (value, at) = (duplicate(&entry.value), entry.expire_at());
    in_db(ctx, dst_db, |ctx| put_copy(ctx, dst, value, at));
    out.int(1);
    Ok(())
}

/// COPY with the two keys on different shards: the source is read on its
/// shard, the copy written on the destination's, which records it as the
/// key's state (a RESTORE) so that its log replays alone.
pub fn copy_across(c: Cross<'_>) -> CmdResult {
    let (db, argv) = (c.db, c.argv);
    let (src, dst) = (argv[1], argv[2]);
    let dbs = c.txn.ctx_of(src, db, |ctx| ctx.shard.dbs.len());
    let (dst_db, replace) = copy_options(argv, db, dbs)?;
    let found = c.txn.ctx_of(src, db, |ctx| ctx.read(src).is_some());
    if !found
        || !c
            .txn
            .ctx_of(dst, dst_db, |ctx| copy_allowed(ctx, dst, replace))
    {
        c.out.int(0);
        return Ok(());
    }
    let (value, at) = c.txn.ctx_of(src, db, |ctx| {
        let now = ctx.now;
        let entry = ctx.db().peek(src, now).expect("read above");
        (duplicate(&entry.value), entry.expire_at())
    });
    c.txn.ctx_of(dst, dst_db, |ctx| {
        put_copy(ctx, dst, value, at);
        propagate::record_state(ctx, dst);
    });
    c.out.int(1);
    Ok(())
}

// ------------------------------------------------------------------ MOVE

/// MOVE key db: to the same key of another database (same shard).
pub fn move_(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let (key, db_arg) = (args.next_bytes()?, args.next_bytes()?);
    let dst_db = db_index(db_arg, ctx.shard.dbs.len(), None)?;
    if dst_db == ctx.db {
        return Err(SAME_OBJECT);
    }
    let now = ctx.now;
    if !ctx.db().contains(key, now) || in_db(ctx, dst_db, |ctx| ctx.db().contains(key, now)) {
        out.int(0);
        return Ok(());
    }
    let entry = ctx.db().remove(key).expect("checked above");
    let at = entry.expire_at();
    // Redis's order: the key arrives (`new`), leaves, then move_from, move_to.
    in_db(ctx, dst_db, |ctx| ctx.db().set(key, entry.value, at));
    ctx.wrote(key);
    in_db(ctx, dst_db, |ctx| ctx.wrote(key));
    ctx.notify(Class::GENERIC, "move_from", key);
    in_db(ctx, dst_db, |ctx| {
        ctx.notify(Class::GENERIC, "move_to", key)
    });
    out.int(1);
    Ok(())
}

// ---------------------------------------------------------------- SWAPDB

/// SWAPDB index1 index2: every shard swaps the two databases, all shards
/// held at once (the caller's transaction inside EXEC or a script, else one
/// of its own), so the swap is atomic for every client.
pub async fn swapdb(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    let dbs = c.core().config.borrow().databases;
    // Both numbers are parsed before either is range-checked, as Redis does.
    let a = db_index(argv[1], usize::MAX, Some("ERR invalid first DB index"))?;
    let b = db_index(argv[2], usize::MAX, Some("ERR invalid second DB index"))?;
    if a >= dbs || b >= dbs {
        return Err(Error::DB_RANGE);
    }
    if let Some(txn) = c.txn() {
        swap_every_shard(txn, a, b);
    } else {
        let core = c.core().clone();
        let mut txn = Txn::new(&core);
        txn.take_all(0..core.cores()).await;
        swap_every_shard(&mut txn, a, b);
    }
    c.out().ok();
    Ok(())
}

fn swap_every_shard(txn: &mut Txn, a: usize, b: usize) {
    for shard in 0..txn.shards() {
        txn.here(shard, |here| swap_on_shard(here.shard, a, b));
    }
}

/// One shard's share of SWAPDB: watchers of a key present in either
/// database fail their EXEC (Redis's `touchAllWatchedKeysInDb` both ways),
/// the contents swap, clients blocked on keys of either database are looked
/// at again (served when the key now holds what they wait for, told when a
/// stream they read as a group is gone), and the log hears of it.
pub fn swap_on_shard(shard: &mut crate::shard::Shard, a: usize, b: usize) {
    // A database swapped with itself changes nothing, but counts and is
    // logged, as in Redis.
    if a != b {
        shard.settle_db(a);
        shard.settle_db(b);
        let now = crate::shard::now_ms();
        if !shard.watches.is_empty() {
            for (db, key) in shard
                .watches
                .keys_in(Some(a))
                .into_iter()
                .chain(shard.watches.keys_in(Some(b)))
            {
                let present = |d: usize| shard.dbs[d].peek(&key, now).is_some();
                if present(a) || present(b) {
                    shard.watches.touch(DbKeyRef(db, &key));
                }
            }
        }
        let (lo, hi) = (a.min(b), a.max(b));
        let (left, right) = shard.dbs.split_at_mut(hi);
        left[lo].swap_contents(&mut right[0], now);
        shard.blocking.signal_all(Some(a));
        shard.blocking.signal_all(Some(b));
    }
    // One change for the server, as Redis counts it.
    if shard.id == 0 {
        shard.stats.dirty += 1;
    }
    if !shard.sinks.is_empty() {
        let (a, b) = (propagate::num(a), propagate::num(b));
        shard.propagate(0, &[b"SWAPDB", &a, &b]);
        shard.sinks.command_end();
    }
}

// ------------------------------------------------------------ commands

/// COPY, MOVE and SWAPDB, as the command table lists them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec { since: "6.2.0", ..spec("copy", -3, W, KEYS12, "keyspace", "Copies the value of a key to a new key.",
        Exec::Multi(copy, copy_across), "source destination [DB destination-db] [REPLACE]") },
    spec("move", 3, WDF, KEY1, "keyspace", "Moves a key to another database.", Exec::Shard(move_), "key db"),
    CommandSpec { since: "4.0.0", ..spec("swapdb", 3, WDF, NO_KEYS, "server", "Swaps two Redis databases.",
        crate::anywhere!(swapdb), "index1 index2") },
];
