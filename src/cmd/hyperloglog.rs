//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG and PFSELFTEST,
//! on string values in Redis's own layout (see `types::hll`), so values
//! move to and from redis-server unchanged.
//!
//! As in Redis: PFADD and PFMERGE announce `pfadd` (string class); PFCOUNT
//! of one key stores the cardinality it computed in the value's cache, a
//! write that is replayed as the command itself but announces nothing;
//! PFDEBUG GETREG / TODENSE of a sparse value make it dense, a change that
//! is logged but touches no watcher (Redis only counts it as dirty).
//! PFCOUNT of several keys and PFMERGE take keys on any shards.

use std::borrow::Cow;

use super::args::{is, Args, CmdResult, Error};
use super::cross::Cross;
use super::exec::Client;
use super::spec::decl::*;
use super::{propagate, Ctx};
use crate::resp::Out;
use crate::shard::ctx::{Shards, ShardsExt};
use crate::shard::db::Entry;
use crate::shard::notify::Class;
use crate::shard::route::{group_by_shard, shard_of};
use crate::types::hll::{self, Corrupt, Registers};
use crate::types::Value;

const NOT_HLL: Error = Error(Cow::Borrowed(
    "WRONGTYPE Key is not a valid HyperLogLog string value.",
));
const INVALID: Error = Error(Cow::Borrowed("INVALIDOBJ Corrupted HLL object detected"));

impl From<Corrupt> for Error {
    fn from(_: Corrupt) -> Error {
        INVALID
    }
}

fn max_bytes() -> usize {
    crate::types::encoding::hll_sparse_max_bytes()
}

/// The HyperLogLog in `entry` (Redis's `isHLLObjectOrReply`): None when
/// absent, WRONGTYPE for another type or a string that is not one.
fn as_hll(entry: Option<&Entry>) -> Result<Option<&[u8]>, Error> {
    match entry.map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Str(s)) => hll::check(s).map(|_| Some(s.as_slice())).ok_or(NOT_HLL),
        Some(_) => Err(Error::WRONG_TYPE),
    }
}

/// Adds `elems` to `s`; how many changed a register. On a corrupt value
/// the elements added before it stay, as in Redis.
fn add_all(s: &mut Vec<u8>, elems: &[&[u8]], max: usize) -> Result<u64, Corrupt> {
    let mut edit = hll::Editing::new(s);
    let mut updated = 0;
    for e in elems {
        updated += edit.add(e, max)? as u64;
    }
    if updated > 0 {
        edit.invalidate();
    }
    Ok(updated)
}

pub fn pfadd(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let elems = args.rest();
    let max = max_bytes();
    let now = ctx.now;
    let db = ctx.db();
    let updated = match db.get_mut(key, now) {
        Some(Value::Str(s)) => {
            hll::check(s).ok_or(NOT_HLL)?;
            // A corrupt value: Redis neither signals nor counts what the
            // elements before the error changed.
            add_all(s, elems, max)?
        }
        Some(_) => return Err(Error::WRONG_TYPE),
        None => {
            let mut s = hll::new_sparse();
            let updated = add_all(&mut s, elems, max)? + 1;
            // Created counts as updated: the new value's cache is stale too.
            hll::invalidate(&mut s);
            db.set(key, Value::Str(s), None);
            updated
        }
    };
    if updated > 0 {
        ctx.wrote(key);
        ctx.notify(Class::STRING, "pfadd", key);
        // Redis counts each changed register (and the creation) as a change.
        ctx.shard.stats.dirty += updated - 1;
    }
    out.int((updated > 0) as i64);
    Ok(())
}

pub fn pfcount(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let keys = args.rest();
    if let [key] = keys {
        return pfcount_one(ctx, key, out);
    }
    // Several keys: the estimate of their union, written nowhere.
    let mut union = Registers::default();
    for key in keys {
        if let Some(s) = as_hll(ctx.read(key))? {
            union.merge(s)?;
        }
    }
    out.int(union.count() as i64);
    Ok(())
}

/// PFCOUNT of one key: the cached cardinality, or the estimate, which is
/// then cached in the value (a write, propagated as the command).
fn pfcount_one(ctx: &mut Ctx, key: &[u8], out: &mut Out) -> CmdResult {
    let card = match as_hll(ctx.read(key))? {
        None => 0,
        Some(s) => match hll::cached(s) {
            Some(card) => card,
            None => {
                let card = hll::count(s)?;
                let now = ctx.now;
                if let Some(Value::Str(s)) = ctx.db().get_mut(key, now) {
                    hll::set_cached(s, card);
                }
                ctx.wrote(key);
                card
            }
        },
    };
    out.int(card as i64);
    Ok(())
}

/// PFMERGE dest [src ...]: the union of every key, the destination
/// included, written into the destination.
pub fn pfmerge(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let keys = &args.all()[1..];
    let mut union = Registers::default();
    let mut dense = false;
    for key in keys {
        if let Some(s) = as_hll(ctx.read(key))? {
            dense |= s[4] == hll::DENSE;
            union.merge(s)?;
        }
    }
    store_union(ctx, keys[0], &union, dense)?;
    out.ok();
    Ok(())
}

/// Writes `union` into `dst`, made dense first when a source was dense,
/// creating it sparse when missing.
fn store_union(ctx: &mut Ctx, dst: &[u8], union: &Registers, dense: bool) -> CmdResult {
    let max = max_bytes();
    let write = |s: &mut Vec<u8>| -> Result<(), Corrupt> {
        if dense {
            hll::to_dense(s)?;
        }
        union.store(s, max);
        Ok(())
    };
    let now = ctx.now;
    let db = ctx.db();
    match db.get_mut(dst, now) {
        Some(Value::Str(s)) => write(s)?,
        Some(_) => return Err(Error::WRONG_TYPE),
        None => {
            let mut s = hll::new_sparse();
            write(&mut s)?;
            db.set(dst, Value::Str(s), None);
        }
    }
    ctx.wrote(dst);
    // Redis announces a merge as a mass PFADD.
    ctx.notify(Class::STRING, "pfadd", dst);
    Ok(())
}

// ---------------------------------------------------------- across shards

/// Copies of the HyperLogLogs at `keys` (None when missing), each its own
/// lookup's outcome, read shard by shard.
fn copies_across(
    txn: &mut dyn Shards,
    db: usize,
    keys: &[&[u8]],
) -> Vec<Result<Option<Vec<u8>>, Error>> {
    let shards = txn.count();
    let mut found: Vec<Result<Option<Vec<u8>>, Error>> = vec![Ok(None); keys.len()];
    for (shard, idx) in group_by_shard(0..keys.len(), |&i| shard_of(keys[i], shards)) {
        txn.ctx(shard, db, |ctx| {
            for i in idx {
                found[i] = as_hll(ctx.read(keys[i])).map(|s| s.map(<[u8]>::to_vec));
            }
        });
    }
    found
}

/// The union of the copies in argument order: the first error wins, as
/// Redis looks at the keys one by one. True if one was dense.
fn union_of(copies: Vec<Result<Option<Vec<u8>>, Error>>) -> Result<(Registers, bool), Error> {
    let mut union = Registers::default();
    let mut dense = false;
    for s in copies {
        if let Some(s) = s? {
            dense |= s[4] == hll::DENSE;
            union.merge(&s)?;
        }
    }
    Ok((union, dense))
}

pub fn pfcount_across(c: Cross<'_>) -> CmdResult {
    let copies = copies_across(c.txn, c.db, &c.argv[1..]);
    let (union, _) = union_of(copies)?;
    c.out.int(union.count() as i64);
    Ok(())
}

/// PFMERGE with keys on several shards: the destination's shard records
/// the value it ends with, so a replay needs no other shard.
pub fn pfmerge_across(c: Cross<'_>) -> CmdResult {
    let copies = copies_across(c.txn, c.db, &c.argv[1..]);
    let (union, dense) = union_of(copies)?;
    let dst = c.argv[1];
    c.txn.ctx_of(dst, c.db, |ctx| {
        store_union(ctx, dst, &union, dense)?;
        propagate::record_state(ctx, dst);
        Ok::<(), Error>(())
    })?;
    c.out.ok();
    Ok(())
}

// ------------------------------------------------------------ debugging

/// PFDEBUG GETREG | DECODE | ENCODING | TODENSE key. The key is looked at
/// before the subcommand, as Redis does.
pub fn pfdebug(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let (sub, key) = (args.next_bytes()?, args.next_bytes()?);
    let now = ctx.now;
    let encoding = match ctx.db().get(key, now) {
        None => return Err(Error::msg("ERR The specified key does not exist")),
        Some(entry) => match &entry.value {
            Value::Str(s) => hll::check(s).ok_or(NOT_HLL)?,
            _ => return Err(Error::WRONG_TYPE),
        },
    };
    if is(sub, "getreg") || is(sub, "todense") {
        let converted = make_dense(ctx, key)?;
        if is(sub, "todense") {
            out.int(converted as i64);
            return Ok(());
        }
        let Some(Value::Str(s)) = ctx.db().get(key, now).map(|e| &e.value) else {
            unreachable!("checked above");
        };
        out.array(hll::REGISTERS);
        for i in 0..hll::REGISTERS {
            out.int(hll::dense_get(&s[hll::HDR..], i) as i64);
        }
    } else if is(sub, "decode") {
        if encoding != hll::SPARSE {
            return Err(Error::msg("ERR HLL encoding is not sparse"));
        }
        let Some(Value::Str(s)) = ctx.db().get(key, now).map(|e| &e.value) else {
            unreachable!("checked above");
        };
        out.bulk(hll::decode(s).as_bytes());
    } else if is(sub, "encoding") {
        out.simple(if encoding == hll::DENSE {
            "dense"
        } else {
            "sparse"
        });
    } else {
        // `%s` of a C string: up to a NUL; newlines become spaces.
        let name = sub.split(|&b| b == 0).next().unwrap_or_default();
        let name = String::from_utf8_lossy(name).replace(['\r', '\n'], " ");
        return Err(Error::msg(format!(
            "ERR Unknown PFDEBUG subcommand '{name}'"
        )));
    }
    Ok(())
}

/// Makes the value at `key` dense; true if it was sparse. Redis counts
/// the change only for the log (no watcher or event hears of it).
fn make_dense(ctx: &mut Ctx, key: &[u8]) -> Result<bool, Error> {
    let now = ctx.now;
    let Some(Value::Str(s)) = ctx.db().get_mut(key, now) else {
        unreachable!("checked by the caller");
    };
    let converted = hll::to_dense(s)?;
    if converted {
        ctx.logged(key);
    }
    Ok(converted)
}

/// PFSELFTEST: Redis's test of the register access and of the estimate.
pub fn pfselftest(c: &mut dyn Client, _: &[&[u8]]) -> CmdResult {
    let max = max_bytes();
    let mut state = crate::alloc::random_u64() | 1;
    let rand = move || {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    hll::selftest(max, rand).map_err(Error::msg)?;
    c.out().ok();
    Ok(())
}

// ------------------------------------------------------------ commands

const PFDEBUG_FLAGS: &[&str] = &["write", "denyoom", "admin"];
const PFSELFTEST_FLAGS: &[&str] = &["admin"];
const PFCOUNT_FLAGS: &[&str] = &["readonly", "may_replicate"];
const PFDEBUG_KEY: &[KeySpec] = &[KeySpec::one(2)];

/// The HyperLogLog commands, as the command table lists them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec { since: "2.8.9", ..spec("pfadd", -2, WF, KEY1, "hyperloglog",
        "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.", Exec::Shard(pfadd),
        "key [element [element ...]]") },
    CommandSpec { since: "2.8.9", ..spec("pfcount", -2, PFCOUNT_FLAGS, ALL_KEYS, "hyperloglog",
        "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s).",
        Exec::Multi(pfcount, pfcount_across), "key [key ...]") },
    CommandSpec { since: "2.8.9", ..spec("pfmerge", -2, W, ALL_KEYS, "hyperloglog",
        "Merges one or more HyperLogLog values into a single key.", Exec::Multi(pfmerge, pfmerge_across),
        "destkey [sourcekey [sourcekey ...]]") },
    CommandSpec { since: "2.8.9", ..spec("pfdebug", 3, PFDEBUG_FLAGS, PFDEBUG_KEY, "hyperloglog",
        "Internal commands for debugging HyperLogLog values.", Exec::Shard(pfdebug), "subcommand key") },
    CommandSpec { since: "2.8.9", ..spec("pfselftest", 1, PFSELFTEST_FLAGS, NO_KEYS, "hyperloglog",
        "An internal command for testing HyperLogLog values.", Exec::Local(pfselftest), "") },
];
