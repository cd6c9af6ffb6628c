//! Consumer-group commands: XGROUP (CREATE, SETID, DESTROY, CREATECONSUMER,
//! DELCONSUMER, HELP), XACK, XPENDING, XCLAIM, XAUTOCLAIM and XINFO, with
//! Redis 7.2's replies. The group reads themselves (XREADGROUP) are in
//! `stream_read`; the pending-entry bookkeeping in `types::stream`.

use super::args::{is, truncated, Args, CmdResult, Error};
use super::streams::{
    no_group, parse_bound, parse_id, parse_strict_id, read_stream, reply_entries, reply_entry,
    reply_id, stream_mut, to_read,
};
use super::{propagate, Ctx};
use crate::resp::parse::parse_i64;
use crate::resp::Out;
use crate::shard::notify::Class;
use crate::types::stream::{
    AutoClaim, ClaimOpts, Group, ReadEntry, Stream, StreamId, ENTRIES_READ_UNKNOWN,
};
use crate::types::Value;

fn subcommand_syntax(sub: &[u8], container: &str) -> Error {
    Error::msg(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {container} HELP.",
        truncated(sub, 128)
    ))
}

/// `NOGROUP No such consumer group 'g' for key name 'k'`.
fn no_such_group(key: &[u8], group: &[u8]) -> Error {
    Error::msg(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        String::from_utf8_lossy(group),
        String::from_utf8_lossy(key)
    ))
}

/// An ENTRIESREAD value: non-negative or -1.
fn entries_read(arg: &[u8]) -> Result<i64, Error> {
    let n = parse_i64(arg).ok_or(Error::NOT_INTEGER)?;
    if n < 0 && n != ENTRIES_READ_UNKNOWN {
        return Err(Error::msg(
            "ERR value for ENTRIESREAD must be positive or -1",
        ));
    }
    Ok(n)
}

// ------------------------------------------------------------------ records

/// A group as it was before a read or claim changed it, for
/// [`record_group`].
pub struct GroupBefore {
    consumer_existed: bool,
    last_id: StreamId,
    entries_read: i64,
}

impl GroupBefore {
    /// The `xgroup-createconsumer` event of a read or claim that created
    /// its consumer.
    pub fn notify_created(&self, ctx: &mut Ctx, key: &[u8]) {
        if !self.consumer_existed {
            ctx.notify(Class::STREAM, "xgroup-createconsumer", key);
        }
    }

    pub fn of(s: &Stream, group: &[u8], consumer: &[u8]) -> GroupBefore {
        let g = &s.groups[group];
        GroupBefore {
            consumer_existed: g.consumers.contains_key(consumer),
            last_id: g.last_id,
            entries_read: g.entries_read,
        }
    }
}

/// Records what a group read or claim changed, as Redis propagates it
/// (streamPropagateXCLAIM, streamPropagateGroupID,
/// streamPropagateConsumerCreation), so a replay needs neither the clock
/// nor the reply: per entry whose delivery changed (`delivered`),
/// `XCLAIM key group owner 0 id TIME ms RETRYCOUNT n FORCE JUSTID LASTID
/// last`; the entries dropped from the PEL because the stream lost them
/// (`dropped`) as one XACK; a consumer created without an XCLAIM to create
/// it as XGROUP CREATECONSUMER; a moved last ID or read counter as XGROUP
/// SETID ... ENTRIESREAD (XCLAIM's LASTID does not carry the counter, so it
/// follows any change). What no replay reproduces (a consumer's seen time)
/// is not recorded.
pub fn record_group(
    ctx: &mut Ctx,
    key: &[u8],
    group: &[u8],
    consumer: &[u8],
    before: &GroupBefore,
    delivered: &[StreamId],
    dropped: &[StreamId],
) {
    if !propagate::on(ctx) {
        return;
    }
    let now = ctx.now;
    let mut records: Vec<Vec<Vec<u8>>> = Vec::new();
    if let Some(Value::Stream(s)) = ctx.db().peek(key, now).map(|e| &e.value) {
        let g = &s.groups[group];
        let (k, gr) = (key.to_vec(), group.to_vec());
        if !before.consumer_existed && g.consumers.contains_key(consumer) && delivered.is_empty() {
            let argv = [&b"XGROUP"[..], b"CREATECONSUMER", key, group, consumer];
            records.push(argv.iter().map(|a| a.to_vec()).collect());
        }
        for id in delivered {
            let Some(p) = g.pel.get(id) else { continue };
            records.push(vec![
                b"XCLAIM".to_vec(),
                k.clone(),
                gr.clone(),
                p.consumer.to_vec(),
                b"0".to_vec(),
                propagate::id(*id),
                b"TIME".to_vec(),
                propagate::num(p.delivery_time),
                b"RETRYCOUNT".to_vec(),
                propagate::num(p.delivery_count),
                b"FORCE".to_vec(),
                b"JUSTID".to_vec(),
                b"LASTID".to_vec(),
                propagate::id(g.last_id),
            ]);
        }
        if !dropped.is_empty() {
            let mut argv = vec![b"XACK".to_vec(), k.clone(), gr.clone()];
            argv.extend(dropped.iter().map(|&id| propagate::id(id)));
            records.push(argv);
        }
        if g.last_id != before.last_id || g.entries_read != before.entries_read {
            records.push(vec![
                b"XGROUP".to_vec(),
                b"SETID".to_vec(),
                k,
                gr,
                propagate::id(g.last_id),
                b"ENTRIESREAD".to_vec(),
                propagate::num(g.entries_read),
            ]);
        }
    }
    if records.is_empty() {
        ctx.propagate_nothing();
    }
    for argv in &records {
        propagate::record_owned(ctx, argv);
    }
}

// ------------------------------------------------------------------ XGROUP

/// Every XGROUP subcommand but HELP: the key must hold a stream (or CREATE
/// must have MKSTREAM); SETID and the consumer commands need the group.
pub fn xgroup(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let argv = args.all();
    let sub = argv[1];
    let (key, group) = (argv[2], argv[3]);
    let create = is(sub, "create");
    let mut mkstream = false;
    let mut read = ENTRIES_READ_UNKNOWN;
    if create {
        let mut i = 5;
        while i < argv.len() {
            if is(argv[i], "mkstream") {
                mkstream = true;
                i += 1;
            } else if is(argv[i], "entriesread") && i + 1 < argv.len() {
                read = entries_read(argv[i + 1])?;
                i += 2;
            } else {
                return Err(subcommand_syntax(sub, "XGROUP"));
            }
        }
    }
    let now = ctx.now;
    let exists = stream_mut(ctx.db(), key, now)?.is_some();
    if !(exists || create && mkstream) {
        return Err(Error::msg(
            "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
        ));
    }
    let has_group = exists
        && stream_mut(ctx.db(), key, now)?
            .expect("exists")
            .groups
            .contains_key(group);
    let needs_group = is(sub, "setid") || is(sub, "createconsumer") || is(sub, "delconsumer");
    if needs_group && !has_group {
        return Err(no_such_group(key, group));
    }
    if create && argv.len() <= 8 {
        let last = if argv[4] == b"$" {
            None
        } else {
            Some(parse_strict_id(argv[4])?)
        };
        if !exists {
            ctx.db().set(key, Value::Stream(Box::default()), None);
        }
        let s = stream_mut(ctx.db(), key, now)?.expect("exists");
        let last = last.unwrap_or(s.last_id);
        if !s.create_group(group, last, read) {
            return Err(Error::msg("BUSYGROUP Consumer Group name already exists"));
        }
        ctx.wrote(key);
        ctx.notify(Class::STREAM, "xgroup-create", key);
        out.ok();
    } else if is(sub, "setid") && (argv.len() == 5 || argv.len() == 7) {
        let s = stream_mut(ctx.db(), key, now)?.expect("exists");
        let last = if argv[4] == b"$" {
            s.last_id
        } else {
            parse_id(argv[4], 0)?
        };
        let mut read = ENTRIES_READ_UNKNOWN;
        if argv.len() == 7 {
            if !is(argv[5], "entriesread") {
                return Err(subcommand_syntax(sub, "XGROUP"));
            }
            read = entries_read(argv[6])?;
        }
        let g = s.groups.get_mut(group).expect("checked above");
        g.last_id = last;
        g.entries_read = read;
        ctx.wrote(key);
        ctx.notify(Class::STREAM, "xgroup-setid", key);
        out.ok();
    } else if is(sub, "destroy") && argv.len() == 4 {
        let s = stream_mut(ctx.db(), key, now)?.expect("exists");
        let removed = s.groups.remove(group).is_some();
        if removed {
            // Wakes its blocked readers, to tell them it is gone.
            ctx.wrote(key);
            ctx.notify(Class::STREAM, "xgroup-destroy", key);
        }
        out.int(removed as i64);
    } else if is(sub, "createconsumer") && argv.len() == 5 {
        let s = stream_mut(ctx.db(), key, now)?.expect("exists");
        let g = s.groups.get_mut(group).expect("checked above");
        let created = g.consumer(argv[4], now).1;
        if created {
            ctx.wrote(key);
            ctx.notify(Class::STREAM, "xgroup-createconsumer", key);
        }
        out.int(created as i64);
    } else if is(sub, "delconsumer") && argv.len() == 5 {
        let s = stream_mut(ctx.db(), key, now)?.expect("exists");
        let g = s.groups.get_mut(group).expect("checked above");
        let pending = match g.consumers.remove(argv[4]) {
            Some(c) => {
                for id in &c.pel {
                    g.pel.remove(id);
                }
                Some(c.pel.len())
            }
            None => None,
        };
        if pending.is_some() {
            ctx.wrote(key);
            ctx.notify(Class::STREAM, "xgroup-delconsumer", key);
        }
        out.int(pending.unwrap_or(0) as i64);
    } else {
        return Err(subcommand_syntax(sub, "XGROUP"));
    }
    Ok(())
}

pub fn xgroup_help(c: &mut dyn super::exec::Client, _: &[&[u8]]) -> CmdResult {
    c.out().help(&[
        "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        "HELP",
        "    Prints this help.",
    ]);
    Ok(())
}

// ------------------------------------------------------------------ XACK

/// XACK key group id [id ...]
pub fn xack(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let group = args.next_bytes()?;
    let now = ctx.now;
    // A read lookup, as Redis's xackCommand (a missing key is a keymiss).
    let has_group = match read_stream(ctx, key)? {
        Some(s) => s.groups.contains_key(group),
        None => false,
    };
    if !has_group {
        out.int(0);
        return Ok(());
    }
    // All IDs are checked first: an ack is all or nothing.
    let ids = args
        .rest()
        .iter()
        .map(|a| parse_strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    let s = stream_mut(ctx.db(), key, now)?.expect("checked above");
    let g = s.groups.get_mut(group).expect("checked above");
    let acked = ids.iter().filter(|&&id| g.forget(id)).count();
    if acked > 0 {
        ctx.wrote(key);
    }
    out.int(acked as i64);
    Ok(())
}

/// The stream at `key` for XPENDING, XCLAIM and XAUTOCLAIM, which answer
/// NOGROUP when the key or its `group` is missing. The lookup counts as a
/// read (a keyspace hit or miss); WRONGTYPE comes before NOGROUP.
fn stream_with_group<'c>(
    ctx: &'c mut Ctx,
    key: &[u8],
    group: &[u8],
) -> Result<&'c mut Stream, Error> {
    let now = ctx.now;
    if read_stream(ctx, key)?.is_none() {
        return Err(no_group(key, group, ""));
    }
    match stream_mut(ctx.db(), key, now)? {
        Some(s) if s.groups.contains_key(group) => Ok(s),
        _ => Err(no_group(key, group, "")),
    }
}

// ------------------------------------------------------------------ XPENDING

/// XPENDING key group [[IDLE min-idle-time] start end count [consumer]]
pub fn xpending(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let argv = args.all();
    let (key, group) = (argv[1], argv[2]);
    let argc = argv.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(Error::SYNTAX);
    }
    let mut range = None;
    if argc >= 6 {
        let mut at = 3;
        let mut min_idle = 0;
        if is(argv[3], "idle") {
            min_idle = parse_i64(argv[4]).ok_or(Error::NOT_INTEGER)?;
            if argc < 8 {
                return Err(Error::SYNTAX);
            }
            at += 2;
        }
        let count = parse_i64(argv[at + 2]).ok_or(Error::NOT_INTEGER)?.max(0);
        let start = parse_bound(argv[at], true)?;
        let end = parse_bound(argv[at + 1], false)?;
        let consumer = argv.get(at + 3).copied();
        range = Some((min_idle, start, end, count as usize, consumer));
    }
    let now = ctx.now;
    let s = stream_with_group(ctx, key, group)?;
    let g = &s.groups[group];
    let Some((min_idle, start, end, count, consumer)) = range else {
        out.array(4);
        out.int(g.pel.len() as i64);
        let (Some(first), Some(last)) = (g.pel.keys().next(), g.pel.keys().next_back()) else {
            out.null();
            out.null();
            out.null_array();
            return Ok(());
        };
        reply_id(out, *first);
        reply_id(out, *last);
        let owners: Vec<_> = g
            .consumers
            .iter()
            .filter(|(_, c)| !c.pel.is_empty())
            .collect();
        out.array(owners.len());
        for (name, c) in owners {
            out.array(2);
            out.bulk(name);
            out.bulk_int(c.pel.len() as i64);
        }
        return Ok(());
    };
    let ids: Vec<StreamId> = match consumer {
        Some(name) => match g.consumers.get(name) {
            Some(c) => c.pel.range(start..=end.max(start)).copied().collect(),
            None => Vec::new(),
        },
        None => g
            .pel
            .range(start..=end.max(start))
            .map(|(id, _)| *id)
            .collect(),
    };
    let rows: Vec<_> = ids
        .into_iter()
        .filter(|id| start <= end && *id <= end)
        .map(|id| (id, &g.pel[&id]))
        .filter(|(_, p)| min_idle <= 0 || now.saturating_sub(p.delivery_time) as i64 >= min_idle)
        .take(count)
        .collect();
    out.array(rows.len());
    for (id, p) in rows {
        out.array(4);
        reply_id(out, id);
        out.bulk(&p.consumer);
        out.int(now.saturating_sub(p.delivery_time) as i64);
        out.int(p.delivery_count as i64);
    }
    Ok(())
}

// ------------------------------------------------------------------ XCLAIM

/// The entries XCLAIM / XAUTOCLAIM gave the consumer: whole entries, or
/// bare IDs under JUSTID (which claims them without their fields).
fn reply_claimed(out: &mut Out, claimed: &[ReadEntry]) {
    out.array(claimed.len());
    for entry in claimed {
        match entry.1 {
            Some(_) => reply_entry(out, entry),
            None => reply_id(out, entry.0),
        }
    }
}

/// A number option of XCLAIM / XAUTOCLAIM with its own error text.
fn number(arg: &[u8], what: &str) -> Result<i64, Error> {
    parse_i64(arg).ok_or_else(|| Error::msg(format!("ERR {what}")))
}

/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms]
/// [TIME unix-time-milliseconds] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]
pub fn xclaim(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let argv = args.all();
    let (key, group, consumer) = (argv[1], argv[2], argv[3]);
    let now = ctx.now;
    let logged = propagate::on(ctx);
    let s = stream_with_group(ctx, key, group)?;
    let min_idle = number(argv[4], "Invalid min-idle-time argument for XCLAIM")?.max(0) as u64;
    let mut ids = Vec::new();
    let mut j = 5;
    while j < argv.len() {
        match parse_strict_id(argv[j]) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let mut opts = ClaimOpts {
        min_idle,
        delivery_time: now,
        retry_count: None,
        force: false,
        justid: false,
        last_id: StreamId::MIN,
    };
    let mut delivery: Option<i64> = None;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let opt = argv[j];
        if is(opt, "force") {
            opts.force = true;
        } else if is(opt, "justid") {
            opts.justid = true;
        } else if is(opt, "idle") && more > 0 {
            j += 1;
            let idle = number(argv[j], "Invalid IDLE option argument for XCLAIM")?;
            delivery = Some((now as i64).wrapping_sub(idle));
        } else if is(opt, "time") && more > 0 {
            j += 1;
            delivery = Some(number(argv[j], "Invalid TIME option argument for XCLAIM")?);
        } else if is(opt, "retrycount") && more > 0 {
            j += 1;
            let n = number(argv[j], "Invalid RETRYCOUNT option argument for XCLAIM")?;
            opts.retry_count = (n >= 0).then_some(n as u64);
        } else if is(opt, "lastid") && more > 0 {
            j += 1;
            opts.last_id = parse_strict_id(argv[j])?;
        } else {
            return Err(Error::msg(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                String::from_utf8_lossy(opt)
            )));
        }
        j += 1;
    }
    // A bogus delivery time (negative or in the future) means now.
    opts.delivery_time = match delivery {
        Some(t) if t >= 0 && t as u64 <= now => t as u64,
        _ => now,
    };
    let before = GroupBefore::of(s, group, consumer);
    let pel = &s.groups[group].pel;
    let dropped: Vec<StreamId> = ids
        .iter()
        .copied()
        .filter(|&id| logged && pel.contains_key(&id) && s.get(id).is_none())
        .collect();
    let claimed = s.claim(group, consumer, &ids, opts, now);
    ctx.wrote(key);
    before.notify_created(ctx, key);
    let delivered: Vec<StreamId> = claimed.iter().map(|(id, _)| *id).collect();
    record_group(ctx, key, group, consumer, &before, &delivered, &dropped);
    reply_claimed(out, &claimed);
    Ok(())
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
pub fn xautoclaim(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let argv = args.all();
    let (key, group, consumer) = (argv[1], argv[2], argv[3]);
    let now = ctx.now;
    // Redis's order: the key is looked up (a read: a miss counts), every
    // argument is parsed, and only then are the type and group checked.
    let found = ctx.read(key).is_some();
    let min_idle = number(argv[4], "Invalid min-idle-time argument for XAUTOCLAIM")?.max(0) as u64;
    let start = parse_bound(argv[5], true)?;
    let mut count = 100usize;
    let mut justid = false;
    let mut j = 6;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if is(argv[j], "count") && more > 0 {
            // Redis's upper bound: LONG_MAX / (sizeof(streamID) * attempts factor).
            let max = i64::MAX / 16;
            count = match parse_i64(argv[j + 1]) {
                Some(n) if (1..=max).contains(&n) => n as usize,
                _ => return Err(Error::msg("ERR COUNT must be > 0")),
            };
            j += 1;
        } else if is(argv[j], "justid") {
            justid = true;
        } else {
            return Err(Error::SYNTAX);
        }
        j += 1;
    }
    let s = match stream_mut(ctx.db(), key, now)? {
        Some(s) if found && s.groups.contains_key(group) => s,
        _ => return Err(no_group(key, group, "")),
    };
    let scan = AutoClaim {
        start,
        min_idle,
        count,
        justid,
    };
    let before = GroupBefore::of(s, group, consumer);
    let done = s.auto_claim(group, consumer, scan, now);
    ctx.wrote(key);
    before.notify_created(ctx, key);
    let delivered: Vec<StreamId> = done.entries.iter().map(|(id, _)| *id).collect();
    record_group(
        ctx,
        key,
        group,
        consumer,
        &before,
        &delivered,
        &done.deleted,
    );
    out.array(3);
    reply_id(out, done.cursor);
    reply_claimed(out, &done.entries);
    out.array(done.deleted.len());
    done.deleted.iter().for_each(|&id| reply_id(out, id));
    Ok(())
}

// ------------------------------------------------------------------ XINFO

/// XINFO STREAM / GROUPS / CONSUMERS (HELP is [`xinfo_help`]).
pub fn xinfo(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let argv = args.all();
    let (sub, key) = (argv[1], argv[2]);
    let now = ctx.now;
    let s = read_stream(ctx, key)?.ok_or(Error::NO_SUCH_KEY)?;
    if is(sub, "consumers") && argv.len() == 4 {
        let g = s
            .groups
            .get(argv[3])
            .ok_or_else(|| no_such_group(key, argv[3]))?;
        out.array(g.consumers.len());
        for (name, c) in &g.consumers {
            out.map(4);
            out.bulk_str("name");
            out.bulk(name);
            out.bulk_str("pending");
            out.int(c.pel.len() as i64);
            out.bulk_str("idle");
            out.int(now.saturating_sub(c.seen_time) as i64);
            out.bulk_str("inactive");
            out.int(c.active_time.map_or(-1, |t| now.saturating_sub(t) as i64));
        }
    } else if is(sub, "groups") && argv.len() == 3 {
        out.array(s.groups.len());
        for (name, g) in &s.groups {
            out.map(6);
            out.bulk_str("name");
            out.bulk(name);
            out.bulk_str("consumers");
            out.int(g.consumers.len() as i64);
            out.bulk_str("pending");
            out.int(g.pel.len() as i64);
            out.bulk_str("last-delivered-id");
            reply_id(out, g.last_id);
            group_counters(out, s, g);
        }
    } else if is(sub, "stream") {
        let mut full = false;
        let mut count = 10usize;
        if argv.len() > 3 {
            if !is(argv[3], "full") {
                return Err(subcommand_syntax(sub, "XINFO"));
            }
            full = true;
            if argv.len() > 4 {
                if argv.len() != 6 || !is(argv[4], "count") {
                    return Err(subcommand_syntax(sub, "XINFO"));
                }
                count = parse_i64(argv[5]).ok_or(Error::NOT_INTEGER)?.max(0) as usize;
            }
        }
        stream_info(out, s, full, count);
    } else {
        return Err(subcommand_syntax(sub, "XINFO"));
    }
    Ok(())
}

/// `entries-read` and `lag` of a group.
fn group_counters(out: &mut Out, s: &Stream, g: &Group) {
    out.bulk_str("entries-read");
    if g.entries_read != ENTRIES_READ_UNKNOWN {
        out.int(g.entries_read);
    } else {
        out.null();
    }
    out.bulk_str("lag");
    match s.lag(g) {
        Some(lag) => out.int(lag),
        None => out.null(),
    }
}

fn stream_info(out: &mut Out, s: &Stream, full: bool, count: usize) {
    out.map(if full { 9 } else { 10 });
    out.bulk_str("length");
    out.int(s.len() as i64);
    out.bulk_str("radix-tree-keys");
    out.int(s.leaves() as i64);
    out.bulk_str("radix-tree-nodes");
    out.int(s.nodes() as i64);
    out.bulk_str("last-generated-id");
    reply_id(out, s.last_id);
    out.bulk_str("max-deleted-entry-id");
    reply_id(out, s.max_deleted_id);
    out.bulk_str("entries-added");
    out.int(s.entries_added as i64);
    out.bulk_str("recorded-first-entry-id");
    reply_id(out, s.first_id);
    if !full {
        out.bulk_str("groups");
        out.int(s.groups.len() as i64);
        for (name, rev) in [("first-entry", false), ("last-entry", true)] {
            out.bulk_str(name);
            match to_read(s.range(StreamId::MIN, StreamId::MAX, 1, rev)).first() {
                Some(e) => reply_entry(out, e),
                None => out.null(),
            }
        }
        return;
    }
    let limit = |n: usize| if count == 0 { n } else { n.min(count) };
    out.bulk_str("entries");
    reply_entries(
        out,
        &to_read(s.range(StreamId::MIN, StreamId::MAX, count, false)),
    );
    out.bulk_str("groups");
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(7);
        out.bulk_str("name");
        out.bulk(name);
        out.bulk_str("last-delivered-id");
        reply_id(out, g.last_id);
        group_counters(out, s, g);
        out.bulk_str("pel-count");
        out.int(g.pel.len() as i64);
        out.bulk_str("pending");
        out.array(limit(g.pel.len()));
        for (id, p) in g.pel.iter().take(limit(g.pel.len())) {
            out.array(4);
            reply_id(out, *id);
            out.bulk(&p.consumer);
            out.int(p.delivery_time as i64);
            out.int(p.delivery_count as i64);
        }
        out.bulk_str("consumers");
        out.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            out.map(5);
            out.bulk_str("name");
            out.bulk(cname);
            out.bulk_str("seen-time");
            out.int(c.seen_time as i64);
            out.bulk_str("active-time");
            out.int(c.active_time.map_or(-1, |t| t as i64));
            out.bulk_str("pel-count");
            out.int(c.pel.len() as i64);
            out.bulk_str("pending");
            out.array(limit(c.pel.len()));
            for id in c.pel.iter().take(limit(c.pel.len())) {
                let p = &g.pel[id];
                out.array(3);
                reply_id(out, *id);
                out.int(p.delivery_time as i64);
                out.int(p.delivery_count as i64);
            }
        }
    }
}

pub fn xinfo_help(c: &mut dyn super::exec::Client, _: &[&[u8]]) -> CmdResult {
    c.out().help(&[
        "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        "HELP",
        "    Prints this help.",
    ]);
    Ok(())
}
