//! Generic key commands: deletion, existence, type, rename, expiry and
//! OBJECT. DEL, EXISTS, TOUCH and RENAME over keys of several shards run as
//! cross-shard transactions (`cross`) whose parts are the `*_part`
//! functions here.
//!
//! Lookups move a key's access clock (OBJECT IDLETIME) as Redis's do:
//! reads and writes do, TOUCH does; EXISTS, TYPE, the TTL family, OBJECT
//! and MEMORY USAGE do not (Redis's `LOOKUP_NOTOUCH`).

use super::args::{is, Args, CmdResult, Error};
use super::cross::{self, Cross};
use super::spec::decl::*;
use super::{propagate, Ctx};
use crate::resp::parse::parse_i64;
use crate::resp::Out;
use crate::shard::ctx::{Shards, ShardsExt};
use crate::shard::db::Entry;
use crate::shard::notify::Class;
use crate::types::Value;

/// DEL / UNLINK on this shard's keys: how many existed.
pub fn del_part(ctx: &mut Ctx, keys: &[&[u8]]) -> i64 {
    let now = ctx.now;
    let mut n = 0;
    for key in keys {
        if ctx.db().remove_live(key, now).is_some() {
            ctx.wrote(key);
            ctx.notify(Class::GENERIC, "del", key);
            n += 1;
        }
    }
    n
}

/// EXISTS on this shard's keys: how many exist (repeats count again);
/// their access clocks stay (Redis's `LOOKUP_NOTOUCH`).
pub fn exists_part(ctx: &mut Ctx, keys: &[&[u8]]) -> i64 {
    keys.iter()
        .filter(|k| ctx.read_no_touch(k).is_some())
        .count() as i64
}

/// TOUCH on this shard's keys: as EXISTS, and each key's access clock
/// moves to now.
pub fn touch_part(ctx: &mut Ctx, keys: &[&[u8]]) -> i64 {
    keys.iter().filter(|k| ctx.read(k).is_some()).count() as i64
}

pub fn del(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    out.int(del_part(ctx, args.rest()));
    Ok(())
}

pub fn exists(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    out.int(exists_part(ctx, args.rest()));
    Ok(())
}

pub fn touch(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    out.int(touch_part(ctx, args.rest()));
    Ok(())
}

pub fn type_(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let name = ctx
        .read_no_touch(key)
        .map_or("none", |e| e.value.type_name());
    out.simple(name);
    Ok(())
}

/// RENAME / RENAMENX when both keys live on this shard.
pub fn rename(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    rename_generic(ctx, args, out, false)
}

pub fn renamenx(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    rename_generic(ctx, args, out, true)
}

fn rename_generic(ctx: &mut Ctx, args: &mut Args, out: &mut Out, nx: bool) -> CmdResult {
    let (src, dst) = (args.next_bytes()?, args.next_bytes()?);
    let now = ctx.now;
    if !ctx.db().contains(src, now) {
        return Err(Error::NO_SUCH_KEY);
    }
    if src == dst {
        reply_renamed(out, nx, false);
        return Ok(());
    }
    if nx && ctx.db().contains(dst, now) {
        reply_renamed(out, nx, false);
        return Ok(());
    }
    let entry = take_part(ctx, src).expect("checked above");
    put_part(ctx, dst, entry);
    ctx.notify(Class::GENERIC, "rename_from", src);
    ctx.notify(Class::GENERIC, "rename_to", dst);
    reply_renamed(out, nx, true);
    Ok(())
}

pub fn reply_renamed(out: &mut Out, nx: bool, done: bool) {
    if nx {
        out.int(done as i64);
    } else {
        out.ok();
    }
}

/// Removes a live key and hands over its value and deadline (RENAME's source side).
pub fn take_part(ctx: &mut Ctx, key: &[u8]) -> Option<Entry> {
    let now = ctx.now;
    let entry = ctx.db().remove_live(key, now)?;
    ctx.wrote(key);
    Some(entry)
}

/// Stores a value taken by [`take_part`], deadline included (RENAME's destination side).
pub fn put_part(ctx: &mut Ctx, key: &[u8], entry: Entry) {
    let at = entry.expire_at();
    // As Redis: a key in the way is deleted first, so the value arrives
    // as a new key (the `new` event).
    ctx.db().remove(key);
    ctx.db().set(key, entry.value, at);
    // A list arriving under a key wakes the clients blocked on it.
    ctx.wrote(key);
}

/// Redis's `parseExtendedExpireArgumentsOrReply`.
#[derive(Default)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

fn parse_expire_flags(opts: &[&[u8]]) -> Result<ExpireFlags, Error> {
    let mut f = ExpireFlags::default();
    for opt in opts {
        match () {
            _ if is(opt, "nx") => f.nx = true,
            _ if is(opt, "xx") => f.xx = true,
            _ if is(opt, "gt") => f.gt = true,
            _ if is(opt, "lt") => f.lt = true,
            _ => {
                return Err(Error::msg(format!(
                    "ERR Unsupported option {}",
                    String::from_utf8_lossy(opt)
                )))
            }
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        return Err(Error::msg(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if f.gt && f.lt {
        return Err(Error::msg(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    Ok(f)
}

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (Redis's `expireGenericCommand`).
fn expire_generic(
    ctx: &mut Ctx,
    args: &mut Args,
    out: &mut Out,
    seconds: bool,
    relative: bool,
    name: &str,
) -> CmdResult {
    let (key, when) = (args.next_bytes()?, args.next_bytes()?);
    let flags = parse_expire_flags(args.rest())?;
    let invalid = || Error::msg(format!("ERR invalid expire time in '{name}' command"));
    let mut when = parse_i64(when).ok_or(Error::NOT_INTEGER)?;
    if seconds {
        when = when.checked_mul(1000).ok_or_else(invalid)?;
    }
    if relative {
        when = when.checked_add(ctx.now as i64).ok_or_else(invalid)?;
    }
    let now = ctx.now;
    let Some(entry) = ctx.db().get(key, now) else {
        out.int(0);
        return Ok(());
    };
    let current = entry.expire_at().map(|at| at as i64);
    let refused = (flags.nx && current.is_some())
        || (flags.xx && current.is_none())
        || (flags.gt && current.is_none_or(|cur| when <= cur))
        || (flags.lt && current.is_some_and(|cur| when >= cur));
    if refused {
        out.int(0);
        return Ok(());
    }
    // As Redis's expireGenericCommand: a deadline already past deletes
    // (DEL), any other becomes absolute (PEXPIREAT, options dropped: they
    // were satisfied).
    if when <= now as i64 {
        ctx.db().remove(key);
        ctx.wrote(key);
        ctx.notify(Class::GENERIC, "del", key);
        ctx.propagate(&[b"DEL", key]);
    } else {
        ctx.db().set_expire(key, Some(when as u64));
        ctx.wrote(key);
        ctx.notify(Class::GENERIC, "expire", key);
        if propagate::on(ctx) {
            ctx.propagate(&[b"PEXPIREAT", key, &propagate::num(when)]);
        }
    }
    out.int(1);
    Ok(())
}

pub fn expire(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    expire_generic(ctx, args, out, true, true, "expire")
}

pub fn pexpire(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    expire_generic(ctx, args, out, false, true, "pexpire")
}

pub fn expireat(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    expire_generic(ctx, args, out, true, false, "expireat")
}

pub fn pexpireat(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    expire_generic(ctx, args, out, false, false, "pexpireat")
}

/// TTL / PTTL / EXPIRETIME / PEXPIRETIME: -2 no key, -1 no deadline.
fn ttl_generic(
    ctx: &mut Ctx,
    args: &mut Args,
    out: &mut Out,
    millis: bool,
    absolute: bool,
) -> CmdResult {
    let key = args.next_bytes()?;
    let now = ctx.now;
    let reply = match ctx.read_no_touch(key) {
        None => -2,
        Some(entry) => match entry.expire_at() {
            None => -1,
            Some(at) => {
                let ms = if absolute {
                    at as i64
                } else {
                    at.saturating_sub(now) as i64
                };
                match (millis, absolute) {
                    (true, _) => ms,
                    (false, false) => (ms + 500) / 1000,
                    (false, true) => ms / 1000,
                }
            }
        },
    };
    out.int(reply);
    Ok(())
}

pub fn ttl(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    ttl_generic(ctx, args, out, false, false)
}

pub fn pttl(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    ttl_generic(ctx, args, out, true, false)
}

pub fn expiretime(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    ttl_generic(ctx, args, out, false, true)
}

pub fn pexpiretime(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    ttl_generic(ctx, args, out, true, true)
}

pub fn persist(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let now = ctx.now;
    let had_deadline = ctx
        .db()
        .get(key, now)
        .is_some_and(|e| e.expire_at().is_some());
    if had_deadline {
        ctx.db().set_expire(key, None);
        ctx.wrote(key);
        ctx.notify(Class::GENERIC, "persist", key);
    }
    out.int(had_deadline as i64);
    Ok(())
}

/// OBJECT's key lookup (Redis's `objectCommandLookup`): counted, but it
/// neither moves the key's access clock nor reports a keymiss.
fn object_lookup<'c>(ctx: &'c mut Ctx, args: &mut Args) -> Result<Option<&'c Entry>, Error> {
    args.next_bytes()?; // the subcommand
    let key = args.next_bytes()?;
    Ok(ctx.read_with(key, false, false))
}

pub fn object_encoding(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    match object_lookup(ctx, args)? {
        Some(entry) => out.bulk_str(entry.value.encoding()),
        None => out.null(),
    }
    Ok(())
}

/// OBJECT REFCOUNT: Redis shares the objects of the integers 0..9999 (with
/// ringbus's only policy, noeviction), which count as `INT_MAX` references;
/// every other value has one.
pub fn object_refcount(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    match object_lookup(ctx, args)? {
        Some(entry) => out.int(refcount(entry)),
        None => out.null(),
    }
    Ok(())
}

/// What OBJECT REFCOUNT and DEBUG OBJECT report for `entry`.
pub fn refcount(entry: &Entry) -> i64 {
    let shared = match &entry.value {
        Value::Str(s) if entry.value.encoding() == "int" => {
            parse_i64(s).is_some_and(|n| (0..10_000).contains(&n))
        }
        _ => false,
    };
    if shared {
        i32::MAX as i64
    } else {
        1
    }
}

/// OBJECT IDLETIME: seconds since the key was last looked up.
pub fn object_idletime(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let now = ctx.now;
    match object_lookup(ctx, args)? {
        Some(entry) => out.int(entry.idle_secs(now) as i64),
        None => out.null(),
    }
    Ok(())
}

/// OBJECT FREQ: ringbus's only maxmemory policy is noeviction, which keeps
/// no access frequency: Redis's error, once the key is found.
pub fn object_freq(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    match object_lookup(ctx, args)? {
        Some(_) => Err(Error::msg(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        )),
        None => {
            out.null();
            Ok(())
        }
    }
}

/// OBJECT HELP, Redis's text.
pub fn object_help(c: &mut dyn super::exec::Client, _: &[&[u8]]) -> CmdResult {
    const LINES: &[&str] = &[
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ];
    let out = c.out();
    out.help(LINES);
    Ok(())
}

/// MEMORY USAGE key [SAMPLES count]: an estimate of the bytes the key costs,
/// its value's heap bytes plus the entry, the key's bytes and the table
/// slot. Collections measure `count` elements (default 5, 0: all) and
/// extrapolate, as Redis does. Options are checked before the key; a
/// missing key answers nil.
pub fn memory_usage(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    args.next_bytes()?; // USAGE
    let key = args.next_bytes()?;
    let mut samples = 5usize;
    while let Some(opt) = args.peek() {
        args.next_bytes()?;
        if is(opt, "samples") && !args.is_empty() {
            let n = args.next_i64()?;
            if n < 0 {
                return Err(Error::SYNTAX);
            }
            samples = n as usize;
        } else {
            return Err(Error::SYNTAX);
        }
    }
    let now = ctx.now;
    match ctx.db().get_no_touch(key, now) {
        None => out.null(),
        Some(entry) => {
            let overhead = std::mem::size_of::<Entry>() + key.len() + 24;
            out.int((overhead + entry.value.heap_bytes(samples)) as i64);
        }
    }
    Ok(())
}

// ---------------------------------------------------------- across shards

/// DEL / UNLINK / EXISTS over keys of several shards: each shard's count,
/// summed.
pub fn del_across(c: Cross<'_>) -> CmdResult {
    count_across(c, del_logged)
}

/// One shard's share of a cross-shard DEL / UNLINK, recorded as the DEL of
/// the keys it removed.
fn del_logged(ctx: &mut Ctx, keys: &[&[u8]]) -> i64 {
    let n = del_part(ctx, keys);
    if n > 0 && propagate::on(ctx) {
        let mut argv: Vec<&[u8]> = vec![b"DEL"];
        argv.extend_from_slice(keys);
        ctx.propagate(&argv);
    }
    n
}

pub fn exists_across(c: Cross<'_>) -> CmdResult {
    count_across(c, exists_part)
}

pub fn touch_across(c: Cross<'_>) -> CmdResult {
    count_across(c, touch_part)
}

fn count_across(c: Cross<'_>, part_fn: fn(&mut Ctx, &[&[u8]]) -> i64) -> CmdResult {
    let db = c.db;
    let mut total = 0;
    for (shard, part) in cross::split(&c.argv[1..], false, c.txn.count()) {
        total += c
            .txn
            .ctx(shard, db, |ctx| part_fn(ctx, &cross::keys(&part)));
    }
    c.out.int(total);
    Ok(())
}

/// RENAME / RENAMENX with the two keys on different shards.
pub fn rename_across(c: Cross<'_>) -> CmdResult {
    rename_across_generic(c, false)
}

pub fn renamenx_across(c: Cross<'_>) -> CmdResult {
    rename_across_generic(c, true)
}

fn rename_across_generic(c: Cross<'_>, nx: bool) -> CmdResult {
    let db = c.db;
    let (src, dst) = (c.argv[1], c.argv[2]);
    let exists = |txn: &mut dyn Shards, key: &[u8]| {
        txn.ctx_of(key, db, |ctx| {
            let now = ctx.now;
            ctx.db().contains(key, now)
        })
    };
    if !exists(c.txn, src) {
        return Err(Error::NO_SUCH_KEY);
    }
    if nx && exists(c.txn, dst) {
        reply_renamed(c.out, nx, false);
        return Ok(());
    }
    // Each shard's share replays alone: the source's DEL, the destination's
    // value as a RESTORE (any type, deadline included).
    let entry = c
        .txn
        .ctx_of(src, db, |ctx| {
            let entry = take_part(ctx, src);
            ctx.propagate(&[b"DEL", src]);
            entry
        })
        .ok_or(Error::NO_SUCH_KEY)?;
    c.txn.ctx_of(dst, db, |ctx| {
        put_part(ctx, dst, entry);
        propagate::record_state(ctx, dst);
    });
    // Redis's order: the destination's `new`, then rename_from, rename_to.
    c.txn.ctx_of(src, db, |ctx| {
        ctx.notify(Class::GENERIC, "rename_from", src)
    });
    c.txn
        .ctx_of(dst, db, |ctx| ctx.notify(Class::GENERIC, "rename_to", dst));
    reply_renamed(c.out, nx, true);
    Ok(())
}

// ------------------------------------------------------------ commands

#[rustfmt::skip]
static OBJECT_SUBS: &[CommandSpec] = &[
    spec("object|encoding", 3, R, KEY2, "keyspace", "Returns the internal encoding of a Redis object.", Exec::Shard(object_encoding), "key"),
    CommandSpec { since: "4.0.0", ..spec("object|freq", 3, R, KEY2, "keyspace", "Returns the logarithmic access frequency counter of a Redis object.", Exec::Shard(object_freq), "key") },
    CommandSpec { since: "6.2.0", ..spec("object|help", 2, &["loading", "stale"], NO_KEYS, "keyspace", "Returns helpful text about the different subcommands.", Exec::Local(object_help), "") },
    CommandSpec { since: "2.2.3", ..spec("object|idletime", 3, R, KEY2, "keyspace", "Returns the time since the last access to a Redis object.", Exec::Shard(object_idletime), "key") },
    CommandSpec { since: "2.2.3", ..spec("object|refcount", 3, R, KEY2, "keyspace", "Returns the reference count of a value of a key.", Exec::Shard(object_refcount), "key") },
];

#[rustfmt::skip]
static MEMORY_SUBS: &[CommandSpec] = &[
    spec("memory|usage", -3, R, KEY2, "server", "Estimates the memory usage of a key.", Exec::Shard(memory_usage),
    "key [SAMPLES count]"),
];

/// The generic key commands, as the command table lists them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("del", -2, WD, ALL_KEYS, "keyspace", "Deletes one or more keys.", Exec::Multi(del, del_across), "key [key ...]"),
    spec("unlink", -2, WDF, ALL_KEYS, "keyspace", "Asynchronously deletes one or more keys.", Exec::Multi(del, del_across), "key [key ...]"),
    spec("exists", -2, RF, ALL_KEYS, "keyspace", "Determines whether one or more keys exist.", Exec::Multi(exists, exists_across),
        "key [key ...]"),
    spec("touch", -2, RF, ALL_KEYS, "keyspace", "Returns the number of existing keys out of those specified.",
        Exec::Multi(touch, touch_across), "key [key ...]"),
    spec("type", 2, RF, KEY1, "keyspace", "Determines the type of value stored at a key.", Exec::Shard(type_), "key"),
    spec("rename", 3, WD, KEYS12, "keyspace", "Renames a key and overwrites the destination.",
        Exec::Multi(rename, rename_across), "key newkey"),
    spec("renamenx", 3, WDF, KEYS12, "keyspace", "Renames a key only when the target key name doesn't exist.",
        Exec::Multi(renamenx, renamenx_across), "key newkey"),
    spec("expire", -3, WDF, KEY1, "keyspace", "Sets the expiration time of a key in seconds.", Exec::Shard(expire),
        "key seconds [NX | XX | GT | LT]"),
    spec("pexpire", -3, WDF, KEY1, "keyspace", "Sets the expiration time of a key in milliseconds.", Exec::Shard(pexpire),
        "key milliseconds [NX | XX | GT | LT]"),
    spec("expireat", -3, WDF, KEY1, "keyspace", "Sets the expiration time of a key to a Unix timestamp.", Exec::Shard(expireat),
        "key unix-time-seconds [NX | XX | GT | LT]"),
    spec("pexpireat", -3, WDF, KEY1, "keyspace", "Sets the expiration time of a key to a Unix milliseconds timestamp.",
        Exec::Shard(pexpireat), "key unix-time-milliseconds [NX | XX | GT | LT]"),
    spec("ttl", 2, RF, KEY1, "keyspace", "Returns the expiration time in seconds of a key.", Exec::Shard(ttl), "key"),
    spec("pttl", 2, RF, KEY1, "keyspace", "Returns the expiration time in milliseconds of a key.", Exec::Shard(pttl), "key"),
    spec("expiretime", 2, RF, KEY1, "keyspace", "Returns the expiration time of a key as a Unix timestamp.", Exec::Shard(expiretime), "key"),
    spec("pexpiretime", 2, RF, KEY1, "keyspace", "Returns the expiration time of a key as a Unix milliseconds timestamp.",
        Exec::Shard(pexpiretime), "key"),
    spec("persist", 2, WDF, KEY1, "keyspace", "Removes the expiration time of a key.", Exec::Shard(persist), "key"),
    container("object", "keyspace", "A container for object introspection commands.", OBJECT_SUBS),
    container("memory", "server", "A container for memory diagnostics commands.", MEMORY_SUBS),
];
