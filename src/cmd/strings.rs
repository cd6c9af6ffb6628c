//! String commands: GET, SET and its relatives, counters, APPEND, ranges,
//! and MGET / MSET / MSETNX in both forms (one shard, and across shards).

use super::args::{is, Args, CmdResult, Error};
use super::cross::{self, Cross};
use super::spec::decl::*;
use super::{propagate, Ctx};
use crate::resp::parse::parse_i64;
use crate::resp::Out;
use crate::shard::ctx::ShardsExt;
use crate::shard::db::{Db, Entry};
use crate::shard::notify::Class;
use crate::types::longdouble::LongDouble;
use crate::types::Value;

/// The string in `entry`, WRONGTYPE when it holds another type.
fn as_str(entry: Option<&Entry>) -> Result<Option<&[u8]>, Error> {
    match entry {
        None => Ok(None),
        Some(entry) => match &entry.value {
            Value::Str(s) => Ok(Some(s)),
            #[allow(unreachable_patterns)]
            _ => Err(Error::WRONG_TYPE),
        },
    }
}

/// The string at `key` for a write path (no hit/miss counting).
pub fn get_str<'d>(db: &'d mut Db, key: &[u8], now: u64) -> Result<Option<&'d [u8]>, Error> {
    as_str(db.get(key, now))
}

/// The string at `key` for a read path (counts a keyspace hit or miss).
pub fn read_str<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c [u8]>, Error> {
    as_str(ctx.read(key))
}

pub fn get(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    out.bulk_opt(read_str(ctx, key)?);
    Ok(())
}

/// How a SET-family command was asked to treat the key's deadline.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ttl {
    /// Clear any deadline (plain SET).
    Clear,
    Keep,
    Persist,
    At(u64),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Seconds,
    Millis,
}

#[derive(Default)]
struct SetFlags {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    /// EX, PX, EXAT or PXAT with its argument.
    expire: Option<(&'static str, usize)>,
}

/// Redis's `parseExtendedStringArgumentsOrReply`: which option words SET and
/// GETEX accept and which combinations are a syntax error.
fn parse_set_flags(argv: &[&[u8]], from: usize, for_set: bool) -> Result<SetFlags, Error> {
    let mut f = SetFlags::default();
    let mut j = from;
    while j < argv.len() {
        let opt = argv[j];
        let has_next = j + 1 < argv.len();
        let no_other_expire = |f: &SetFlags, this: &str| {
            !f.keepttl && !f.persist && f.expire.is_none_or(|(name, _)| name == this)
        };
        if for_set && is(opt, "nx") && !f.xx {
            f.nx = true;
        } else if for_set && is(opt, "xx") && !f.nx {
            f.xx = true;
        } else if for_set && is(opt, "get") {
            f.get = true;
        } else if for_set && is(opt, "keepttl") && !f.persist && f.expire.is_none() {
            f.keepttl = true;
        } else if !for_set && is(opt, "persist") && !f.keepttl && f.expire.is_none() {
            f.persist = true;
        } else if let Some(name) = ["ex", "px", "exat", "pxat"]
            .into_iter()
            .find(|n| is(opt, n))
        {
            if !(no_other_expire(&f, name) && has_next) {
                return Err(Error::SYNTAX);
            }
            f.expire = Some((name, j + 1));
            j += 1;
        } else {
            return Err(Error::SYNTAX);
        }
        j += 1;
    }
    Ok(f)
}

/// Redis's `getExpireMillisecondsOrReply`: the absolute deadline in ms.
fn expire_deadline(arg: &[u8], kind: &str, now: u64, command: &str) -> Result<u64, Error> {
    let invalid = || Error::msg(format!("ERR invalid expire time in '{command}' command"));
    let mut ms = parse_i64(arg).ok_or(Error::NOT_INTEGER)?;
    let unit = if kind == "ex" || kind == "exat" {
        Unit::Seconds
    } else {
        Unit::Millis
    };
    if ms <= 0 || (unit == Unit::Seconds && ms > i64::MAX / 1000) {
        return Err(invalid());
    }
    if unit == Unit::Seconds {
        ms *= 1000;
    }
    if kind == "ex" || kind == "px" {
        ms = ms.checked_add(now as i64).ok_or_else(invalid)?;
    }
    Ok(ms as u64)
}

pub fn set(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let argv = args.all();
    let flags = parse_set_flags(argv, 3, true)?;
    let ttl = match flags.expire {
        Some((kind, at)) => Ttl::At(expire_deadline(argv[at], kind, ctx.now, "set")?),
        None if flags.keepttl => Ttl::Keep,
        None => Ttl::Clear,
    };
    let (key, value) = (argv[1], argv[2]);
    set_generic(ctx, key, value, ttl, flags.nx, flags.xx, flags.get, out)
}

/// The core of SET, SETNX, SETEX, PSETEX (Redis's `setGenericCommand`).
/// With `get`, the old value is the reply; otherwise OK, or null when NX/XX
/// stops the write.
#[allow(clippy::too_many_arguments)]
fn set_generic(
    ctx: &mut Ctx,
    key: &[u8],
    value: &[u8],
    ttl: Ttl,
    nx: bool,
    xx: bool,
    get: bool,
    out: &mut Out,
) -> CmdResult {
    let now = ctx.now;
    if get {
        out.bulk_opt(read_str(ctx, key)?);
    }
    let db = ctx.db();
    let found = db.contains(key, now);
    if (nx && found) || (xx && !found) {
        if !get {
            out.null();
        }
        return Ok(());
    }
    let stored = Value::Str(value.to_vec());
    match ttl {
        Ttl::Keep => db.set_keep_ttl(key, stored, now),
        Ttl::At(at) => {
            db.set(key, stored, Some(at));
        }
        Ttl::Clear | Ttl::Persist => {
            db.set(key, stored, None);
        }
    }
    ctx.wrote(key);
    ctx.notify(Class::STRING, "set", key);
    if let Ttl::At(_) = ttl {
        ctx.notify(Class::GENERIC, "expire", key);
    }
    // A relative expiry (EX, PX, SETEX...) replays as its deadline, as
    // Redis propagates SET key value PXAT ms.
    if let (Ttl::At(at), true) = (ttl, propagate::on(ctx)) {
        ctx.propagate(&[b"SET", key, value, b"PXAT", &propagate::num(at)]);
    }
    if !get {
        out.ok();
    }
    Ok(())
}

pub fn setnx(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let (key, value) = (args.next_bytes()?, args.next_bytes()?);
    let now = ctx.now;
    if ctx.db().contains(key, now) {
        out.int(0);
    } else {
        ctx.db().set(key, Value::Str(value.to_vec()), None);
        ctx.wrote(key);
        ctx.notify(Class::STRING, "set", key);
        out.int(1);
    }
    Ok(())
}

fn setex_generic(
    ctx: &mut Ctx,
    args: &mut Args,
    out: &mut Out,
    kind: &str,
    name: &str,
) -> CmdResult {
    let (key, secs, value) = (args.next_bytes()?, args.next_bytes()?, args.next_bytes()?);
    let at = expire_deadline(secs, kind, ctx.now, name)?;
    set_generic(ctx, key, value, Ttl::At(at), false, false, false, out)
}

pub fn setex(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    setex_generic(ctx, args, out, "ex", "setex")
}

pub fn psetex(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    setex_generic(ctx, args, out, "px", "psetex")
}

pub fn getset(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let (key, value) = (args.next_bytes()?, args.next_bytes()?);
    set_generic(ctx, key, value, Ttl::Clear, false, false, true, out)
}

pub fn getdel(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let value = read_str(ctx, key)?.map(<[u8]>::to_vec);
    if value.is_some() {
        ctx.db().remove(key);
        ctx.wrote(key);
        ctx.notify(Class::GENERIC, "del", key);
    }
    out.bulk_opt(value.as_deref());
    Ok(())
}

pub fn getex(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let argv = args.all();
    let flags = parse_set_flags(argv, 2, false)?;
    let now = ctx.now;
    let ttl = match flags.expire {
        Some((kind, at)) => Ttl::At(expire_deadline(argv[at], kind, now, "getex")?),
        None if flags.persist => Ttl::Persist,
        None => Ttl::Keep,
    };
    let key = argv[1];
    let Some(value) = read_str(ctx, key)? else {
        out.null();
        return Ok(());
    };
    out.bulk(value);
    let db = ctx.db();
    let event = match ttl {
        Ttl::At(at) if at <= now => {
            db.remove(key);
            "del"
        }
        Ttl::At(at) => {
            db.set_expire(key, Some(at));
            "expire"
        }
        Ttl::Persist => {
            // As Redis's removeExpire: only a key that had a deadline changes.
            if db.peek(key, now).and_then(Entry::expire_at).is_none() {
                return Ok(());
            }
            db.set_expire(key, None);
            "persist"
        }
        Ttl::Keep | Ttl::Clear => return Ok(()),
    };
    ctx.wrote(key);
    ctx.notify(Class::GENERIC, event, key);
    // As Redis's getexCommand: DEL, PEXPIREAT with the deadline, or PERSIST.
    if !propagate::on(ctx) {
        return Ok(());
    }
    match ttl {
        Ttl::At(at) if at <= now => ctx.propagate(&[b"DEL", key]),
        Ttl::At(at) => ctx.propagate(&[b"PEXPIREAT", key, &propagate::num(at)]),
        _ => ctx.propagate(&[b"PERSIST", key]),
    }
    Ok(())
}

/// MGET on keys that all live on this shard.
pub fn mget(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let keys = args.rest();
    out.array(keys.len());
    for value in mget_part(ctx, keys) {
        out.bulk_opt(value.as_deref());
    }
    Ok(())
}

/// Values for `keys`; a missing key or one of another type reads as None.
pub fn mget_part(ctx: &mut Ctx, keys: &[&[u8]]) -> Vec<Option<Vec<u8>>> {
    keys.iter()
        .map(|key| read_str(ctx, key).ok().flatten().map(<[u8]>::to_vec))
        .collect()
}

fn check_pairs(args: &Args, name: &str) -> CmdResult {
    if !args.remaining().is_multiple_of(2) {
        return Err(Error::arity(name));
    }
    Ok(())
}

pub fn mset(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    check_pairs(args, "mset")?;
    mset_part(ctx, args.rest());
    out.ok();
    Ok(())
}

/// Sets every `key value` pair of `pairs` on this shard.
pub fn mset_part(ctx: &mut Ctx, pairs: &[&[u8]]) {
    for pair in pairs.chunks_exact(2) {
        ctx.db().set(pair[0], Value::Str(pair[1].to_vec()), None);
        ctx.wrote(pair[0]);
        ctx.notify(Class::STRING, "set", pair[0]);
    }
}

pub fn msetnx(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    check_pairs(args, "msetnx")?;
    let pairs = args.rest();
    let keys: Vec<&[u8]> = pairs.iter().step_by(2).copied().collect();
    if any_exists(ctx, &keys) {
        out.int(0);
    } else {
        mset_part(ctx, pairs);
        out.int(1);
    }
    Ok(())
}

pub fn any_exists(ctx: &mut Ctx, keys: &[&[u8]]) -> bool {
    let now = ctx.now;
    keys.iter().any(|k| ctx.db().contains(k, now))
}

/// Applies `f` to the integer stored at `key` (0 when absent), keeping the deadline.
fn update_int(
    ctx: &mut Ctx,
    key: &[u8],
    f: impl FnOnce(i64) -> Result<i64, Error>,
) -> Result<i64, Error> {
    let now = ctx.now;
    let current = match get_str(ctx.db(), key, now)? {
        None => 0,
        Some(s) => parse_i64(s).ok_or(Error::NOT_INTEGER)?,
    };
    let new = f(current)?;
    ctx.db().set_keep_ttl(
        key,
        Value::Str(itoa::Buffer::new().format(new).as_bytes().to_vec()),
        now,
    );
    ctx.wrote(key);
    ctx.notify(Class::STRING, "incrby", key);
    Ok(new)
}

fn incr_by(ctx: &mut Ctx, key: &[u8], delta: i64, out: &mut Out) -> CmdResult {
    let new = update_int(ctx, key, |v| v.checked_add(delta).ok_or(Error::OVERFLOW))?;
    out.int(new);
    Ok(())
}

pub fn incr(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    incr_by(ctx, key, 1, out)
}

pub fn decr(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    incr_by(ctx, key, -1, out)
}

pub fn incrby(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let (key, delta) = (args.next_bytes()?, args.next_i64()?);
    incr_by(ctx, key, delta, out)
}

pub fn decrby(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let (key, delta) = (args.next_bytes()?, args.next_i64()?);
    if delta == i64::MIN {
        return Err(Error::msg("ERR decrement would overflow"));
    }
    incr_by(ctx, key, -delta, out)
}

pub fn incrbyfloat(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let (key, delta) = (args.next_bytes()?, args.next_bytes()?);
    let now = ctx.now;
    // Redis adds in C `long double` (x87 80-bit) and prints with "%.17Lf";
    // LongDouble reproduces both bit for bit, so replies match Redis's.
    let current = match get_str(ctx.db(), key, now)? {
        None => LongDouble::from_i64(0),
        Some(s) => LongDouble::parse(s).ok_or(Error::NOT_FLOAT)?,
    };
    let delta = LongDouble::parse(delta).ok_or(Error::NOT_FLOAT)?;
    let new = current.add(delta);
    if !new.is_finite() {
        return Err(Error::msg("ERR increment would produce NaN or Infinity"));
    }
    let text = new.to_human_string();
    ctx.db()
        .set_keep_ttl(key, Value::Str(text.clone().into_bytes()), now);
    ctx.wrote(key);
    ctx.notify(Class::STRING, "incrbyfloat", key);
    // The sum, not the addition: float arithmetic must not differ on replay.
    ctx.propagate(&[b"SET", key, text.as_bytes(), b"KEEPTTL"]);
    out.bulk(text.as_bytes());
    Ok(())
}

pub fn append(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let (key, tail) = (args.next_bytes()?, args.next_bytes()?);
    let now = ctx.now;
    get_str(ctx.db(), key, now)?;
    let len = match ctx.db().get_mut(key, now) {
        Some(Value::Str(s)) => {
            s.extend_from_slice(tail);
            s.len()
        }
        _ => {
            ctx.db().set(key, Value::Str(tail.to_vec()), None);
            tail.len()
        }
    };
    ctx.wrote(key);
    ctx.notify(Class::STRING, "append", key);
    out.int(len as i64);
    Ok(())
}

pub fn strlen(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let len = read_str(ctx, key)?.map_or(0, <[u8]>::len);
    out.int(len as i64);
    Ok(())
}

pub fn getrange(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let (key, start, end) = (args.next_bytes()?, args.next_i64()?, args.next_i64()?);
    let s = read_str(ctx, key)?.unwrap_or(b"");
    let len = s.len() as i64;
    if (start < 0 && end < 0 && start > end) || len == 0 {
        out.bulk(b"");
        return Ok(());
    }
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let end = if end < 0 {
        (len + end).max(0)
    } else {
        end.min(len - 1)
    };
    if start > end || start >= len {
        out.bulk(b"");
    } else {
        out.bulk(&s[start as usize..=end as usize]);
    }
    Ok(())
}

pub fn setrange(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let (key, offset, value) = (args.next_bytes()?, args.next_i64()?, args.next_bytes()?);
    if offset < 0 {
        return Err(Error::msg("ERR offset is out of range"));
    }
    let now = ctx.now;
    let existing = get_str(ctx.db(), key, now)?.map(<[u8]>::len);
    if existing.is_none() && value.is_empty() {
        out.int(0);
        return Ok(());
    }
    let offset = offset as usize;
    if !value.is_empty() && offset + value.len() > ctx.max_string_len() {
        return Err(Error::msg(
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
        ));
    }
    let len = match ctx.db().get_mut(key, now) {
        Some(Value::Str(s)) => {
            if !value.is_empty() {
                if s.len() < offset + value.len() {
                    s.resize(offset + value.len(), 0);
                }
                s[offset..offset + value.len()].copy_from_slice(value);
            }
            s.len()
        }
        _ => {
            let mut s = vec![0; offset];
            s.extend_from_slice(value);
            let len = s.len();
            ctx.db().set(key, Value::Str(s), None);
            len
        }
    };
    if !value.is_empty() {
        ctx.wrote(key);
        ctx.notify(Class::STRING, "setrange", key);
    }
    out.int(len as i64);
    Ok(())
}

// ---------------------------------------------------------- across shards

/// MGET over keys of several shards, values in argument order.
pub fn mget_across(c: Cross<'_>) -> CmdResult {
    let db = c.db;
    let mut values: Vec<Option<Vec<u8>>> = vec![None; c.argv.len() - 1];
    for (shard, part) in cross::split(&c.argv[1..], false, c.txn.count()) {
        let got = c
            .txn
            .ctx(shard, db, |ctx| mget_part(ctx, &cross::keys(&part)));
        for ((i, _, _), v) in part.into_iter().zip(got) {
            values[i] = v;
        }
    }
    c.out.array(values.len());
    for v in &values {
        c.out.bulk_opt(v.as_deref());
    }
    Ok(())
}

/// One shard's share of a cross-shard MSET / MSETNX, recorded as the MSET
/// of its own pairs (MSETNX's check is over: on replay it is a plain MSET).
fn mset_logged(ctx: &mut Ctx, part: &cross::Part) {
    let pairs = cross::pairs(part);
    mset_part(ctx, &pairs);
    if !propagate::on(ctx) {
        return;
    }
    let mut argv: Vec<&[u8]> = Vec::with_capacity(pairs.len() + 1);
    argv.push(b"MSET");
    argv.extend_from_slice(&pairs);
    ctx.propagate(&argv);
}

/// MSET / MSETNX over keys of several shards: MSETNX writes only once every
/// shard said none of its keys exists.
pub fn mset_across(c: Cross<'_>) -> CmdResult {
    mset_across_generic(c, false)
}

pub fn msetnx_across(c: Cross<'_>) -> CmdResult {
    mset_across_generic(c, true)
}

fn mset_across_generic(c: Cross<'_>, nx: bool) -> CmdResult {
    if c.argv.len().is_multiple_of(2) {
        return Err(Error::arity(if nx { "msetnx" } else { "mset" }));
    }
    let db = c.db;
    let parts = cross::split(&c.argv[1..], true, c.txn.count());
    if nx {
        let exist = parts.iter().any(|(&shard, part)| {
            c.txn
                .ctx(shard, db, |ctx| any_exists(ctx, &cross::keys(part)))
        });
        if !exist {
            for (&shard, part) in &parts {
                c.txn.ctx(shard, db, |ctx| mset_logged(ctx, part));
            }
        }
        c.out.int(!exist as i64);
    } else {
        for (&shard, part) in &parts {
            c.txn.ctx(shard, db, |ctx| mset_logged(ctx, part));
        }
        c.out.ok();
    }
    Ok(())
}

// ------------------------------------------------------------ commands

/// The string commands, as the command table lists them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("get", 2, RF, KEY1, "string", "Returns the string value of a key.", Exec::Shard(get), "key"),
    spec("set", -3, W, KEY1, "string", "Sets the string value of a key, ignoring its type.", Exec::Shard(set),
        "key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]"),
    spec("setnx", 3, WF, KEY1, "string", "Set the string value of a key only when the key doesn't exist.", Exec::Shard(setnx), "key value"),
    spec("setex", 4, W, KEY1, "string", "Sets the string value and expiration time of a key.", Exec::Shard(setex), "key seconds value"),
    spec("psetex", 4, W, KEY1, "string", "Sets both string value and expiration time in milliseconds of a key.", Exec::Shard(psetex),
        "key milliseconds value"),
    spec("getset", 3, WF, KEY1, "string", "Returns the previous string value of a key after setting it to a new value.",
        Exec::Shard(getset), "key value"),
    spec("getdel", 2, WDF, KEY1, "string", "Returns the string value of a key after deleting the key.", Exec::Shard(getdel), "key"),
    spec("getex", -2, WDF, KEY1, "string", "Returns the string value of a key after setting its expiration time.", Exec::Shard(getex),
        "key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]"),
    spec("mget", -2, RF, ALL_KEYS, "string", "Atomically returns the string values of one or more keys.", Exec::Multi(mget, mget_across),
        "key [key ...]"),
    spec("mset", -3, W, PAIRS, "string", "Atomically creates or modifies the string values of one or more keys.",
        Exec::Multi(mset, mset_across), "key value [key value ...]"),
    spec("msetnx", -3, W, PAIRS, "string", "Atomically modifies the string values of one or more keys only when all keys don't exist.",
        Exec::Multi(msetnx, msetnx_across), "key value [key value ...]"),
    spec("incr", 2, WF, KEY1, "string", "Increments the integer value of a key by one.", Exec::Shard(incr), "key"),
    spec("decr", 2, WF, KEY1, "string", "Decrements the integer value of a key by one.", Exec::Shard(decr), "key"),
    spec("incrby", 3, WF, KEY1, "string", "Increments the integer value of a key by a number.", Exec::Shard(incrby), "key increment"),
    spec("decrby", 3, WF, KEY1, "string", "Decrements a number from the integer value of a key.", Exec::Shard(decrby), "key decrement"),
    spec("incrbyfloat", 3, WF, KEY1, "string", "Increment the floating point value of a key by a number.", Exec::Shard(incrbyfloat),
        "key increment"),
    spec("append", 3, WF, KEY1, "string", "Appends a string to the value of a key.", Exec::Shard(append), "key value"),
    spec("strlen", 2, RF, KEY1, "string", "Returns the length of a string value.", Exec::Shard(strlen), "key"),
    spec("getrange", 4, R, KEY1, "string", "Returns a substring of the string stored at a key.", Exec::Shard(getrange), "key start end"),
    spec("substr", 4, R, KEY1, "string", "Returns a substring from a string value.", Exec::Shard(getrange), "key start end"),
    spec("setrange", 4, W, KEY1, "string", "Overwrites a part of a string value with another by an offset.", Exec::Shard(setrange),
        "key offset value"),
];
