//! Stream commands on one key: XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM
//! and XSETID, plus the ID parsing and entry replies every stream command
//! shares. Consumer groups are in `stream_groups`, XREAD / XREADGROUP in
//! `stream_read`; the stream itself (and its invariants) in `types::stream`.
//!
//! Invariant kept here (as Redis's `t_stream.c`): unlike a list, a stream key
//! may hold an empty stream; XDEL and XTRIM never delete the key.

use super::args::{is, Args, CmdResult, Error};
use super::spec::decl::*;
use super::{propagate, Ctx};
use crate::resp::parse::parse_i64;
use crate::resp::Out;
use crate::shard::db::Db;
use crate::shard::notify::Class;
use crate::types::stream::{self, IdError, NewId, ReadEntry, Stream, StreamId, Trim, TrimTo};
use crate::types::Value;

pub const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

/// Redis's `stream-node-max-entries` times 100: how many entries one `~`
/// trim may remove when no LIMIT is given.
const DEFAULT_TRIM_LIMIT: usize = 100 * 100;

// ------------------------------------------------------------------ IDs

/// Redis's `string2ull`: a plain integer, or what C's strtoull accepts
/// (leading spaces, a `+`, leading zeros), as long as it fits.
fn parse_u64(s: &[u8]) -> Option<u64> {
    if let Some(n) = parse_i64(s) {
        return u64::try_from(n).ok();
    }
    let s = match s.iter().position(|b| !b" \t\n\r\x0b\x0c".contains(b)) {
        Some(i) => &s[i..],
        None => return None,
    };
    let digits = s.strip_prefix(b"+").unwrap_or(s);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Parses `ms-seq`, `ms` (seq = `missing_seq`), and unless `strict`, `-`
/// and `+`. With `seq_auto`, `ms-*` is accepted and returned as `Err(ms)`
/// in the inner result.
fn parse_id_generic(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    seq_auto: bool,
) -> Result<Result<StreamId, u64>, Error> {
    let invalid = || Error::msg(INVALID_ID);
    if arg.len() > 127 {
        return Err(invalid());
    }
    // Redis copies the ID into a C string and parses that: a NUL ends it.
    let arg = arg.split(|&b| b == 0).next().unwrap_or(arg);
    match arg {
        b"-" | b"+" if strict => return Err(invalid()),
        b"-" => return Ok(Ok(StreamId::MIN)),
        b"+" => return Ok(Ok(StreamId::MAX)),
        _ => {}
    }
    let (ms, seq) = match arg.iter().position(|&b| b == b'-') {
        Some(i) => (&arg[..i], Some(&arg[i + 1..])),
        None => (arg, None),
    };
    let ms = parse_u64(ms).ok_or_else(invalid)?;
    match seq {
        Some(b"*") if seq_auto => Ok(Err(ms)),
        Some(seq) => Ok(Ok(StreamId::new(ms, parse_u64(seq).ok_or_else(invalid)?))),
        None => Ok(Ok(StreamId::new(ms, missing_seq))),
    }
}

/// A stream ID argument, `-` and `+` allowed (streamParseIDOrReply).
pub fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, Error> {
    parse_id_generic(arg, missing_seq, false, false).map(|r| r.expect("no ms-* form"))
}

/// A stream ID argument, `-` and `+` refused (streamParseStrictIDOrReply).
pub fn parse_strict_id(arg: &[u8]) -> Result<StreamId, Error> {
    parse_id_generic(arg, 0, true, false).map(|r| r.expect("no ms-* form"))
}

/// One end of an interval: `(` makes it exclusive (then `-` / `+` are
/// refused). `start` bounds move up past an exclusive ID, end bounds down.
pub fn parse_bound(arg: &[u8], start: bool) -> Result<StreamId, Error> {
    let missing_seq = if start { 0 } else { u64::MAX };
    if arg.len() > 1 && arg[0] == b'(' {
        let id = parse_id_generic(&arg[1..], missing_seq, true, false)?.expect("no ms-* form");
        let moved = if start {
            stream::incr(id)
        } else {
            stream::decr(id)
        };
        moved.ok_or_else(|| {
            Error::msg(if start {
                "ERR invalid start ID for the interval"
            } else {
                "ERR invalid end ID for the interval"
            })
        })
    } else {
        parse_id(arg, missing_seq)
    }
}

/// An ID as Redis writes it in a reply: a bulk string `ms-seq`.
pub fn reply_id(out: &mut Out, id: StreamId) {
    let mut buf = itoa::Buffer::new();
    let mut text = Vec::with_capacity(42);
    text.extend_from_slice(buf.format(id.ms).as_bytes());
    text.push(b'-');
    text.extend_from_slice(buf.format(id.seq).as_bytes());
    out.bulk(&text);
}

/// One entry: `[id, [field, value, ...]]`, or `[id, nil]` for an entry
/// that was deleted while a consumer still had it pending.
pub fn reply_entry(out: &mut Out, entry: &ReadEntry) {
    out.array(2);
    reply_id(out, entry.0);
    match &entry.1 {
        Some(fields) => {
            out.array(fields.len() * 2);
            for (f, v) in fields {
                out.bulk(f);
                out.bulk(v);
            }
        }
        None => out.null_array(),
    }
}

pub fn reply_entries(out: &mut Out, entries: &[ReadEntry]) {
    out.array(entries.len());
    entries.iter().for_each(|e| reply_entry(out, e));
}

/// Entries from the tree, for a reply.
pub fn to_read(entries: Vec<stream::StreamEntry>) -> Vec<ReadEntry> {
    entries
        .into_iter()
        .map(|e| (e.id, Some(e.fields)))
        .collect()
}

// ------------------------------------------------------------------ lookups

/// The stream at `key` for reading (counts a keyspace hit or miss).
pub fn read_stream<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c Stream>, Error> {
    match ctx.read(key).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(Error::WRONG_TYPE),
    }
}

/// The stream at `key` for changing; WRONGTYPE when it holds something else.
pub fn stream_mut<'d>(
    db: &'d mut Db,
    key: &[u8],
    now: u64,
) -> Result<Option<&'d mut Stream>, Error> {
    match db.get_mut(key, now) {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(Error::WRONG_TYPE),
    }
}

/// `NOGROUP No such key 'k' or consumer group 'g'` and its variants.
pub fn no_group(key: &[u8], group: &[u8], suffix: &str) -> Error {
    Error::msg(format!(
        "NOGROUP No such key '{}' or consumer group '{}'{suffix}",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

// ------------------------------------------------------------------ XADD / XTRIM

/// The options XADD and XTRIM share (streamParseAddOrTrimArgsOrReply).
struct AddTrim {
    trim: Option<Trim>,
    nomkstream: bool,
    /// XADD: the requested ID and the position of the first field.
    id: NewId,
    fields_at: usize,
}

fn parse_add_trim(argv: &[&[u8]], xadd: bool) -> Result<AddTrim, Error> {
    let mut to: Option<TrimTo> = None;
    let mut approx = false;
    let mut limit: Option<i64> = None;
    let mut nomkstream = false;
    let mut id = NewId::Auto;
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = argv[i];
        if xadd && opt == b"*" {
            break;
        } else if (is(opt, "maxlen") || is(opt, "minid")) && more > 0 {
            if to.is_some() {
                return Err(Error::msg(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            approx = false;
            if more >= 2 && (argv[i + 1] == b"~" || argv[i + 1] == b"=") {
                approx = argv[i + 1] == b"~";
                i += 1;
            }
            let arg = argv[i + 1];
            to = Some(if is(opt, "maxlen") {
                let n = parse_i64(arg).ok_or(Error::NOT_INTEGER)?;
                if n < 0 {
                    return Err(Error::msg("ERR The MAXLEN argument must be >= 0."));
                }
                TrimTo::MaxLen(n as usize)
            } else {
                TrimTo::MinId(parse_strict_id(arg)?)
            });
            i += 2;
            continue;
        } else if is(opt, "limit") && more > 0 {
            let n = parse_i64(argv[i + 1]).ok_or(Error::NOT_INTEGER)?;
            if n < 0 {
                return Err(Error::msg("ERR The LIMIT argument must be >= 0."));
            }
            limit = Some(n);
            i += 2;
            continue;
        } else if xadd && is(opt, "nomkstream") {
            nomkstream = true;
        } else if xadd {
            id = match parse_id_generic(opt, 0, true, true)? {
                Ok(id) => NewId::Exact(id),
                Err(ms) => NewId::Ms(ms),
            };
            break;
        } else {
            return Err(Error::SYNTAX);
        }
        i += 1;
    }
    if limit.is_some_and(|n| n != 0) && to.is_none() {
        return Err(Error::msg(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && to.is_none() {
        return Err(Error::msg(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if limit.is_some() && !approx {
        return Err(Error::msg(
            "ERR syntax error, LIMIT cannot be used without the special ~ option",
        ));
    }
    let limit = match limit {
        Some(n) => n as usize,
        None if approx => DEFAULT_TRIM_LIMIT,
        None => 0,
    };
    Ok(AddTrim {
        trim: to.map(|to| Trim { to, approx, limit }),
        nomkstream,
        id,
        fields_at: i + 1,
    })
}

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value [field value ...]
pub fn xadd(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let argv = args.all();
    let opts = parse_add_trim(argv, true)?;
    let fields_at = opts.fields_at.min(argv.len() + 1);
    let n = argv.len() as isize - fields_at as isize;
    if n < 2 || n % 2 == 1 {
        return Err(Error::arity("xadd"));
    }
    if opts.id == NewId::Exact(StreamId::MIN) {
        return Err(Error::msg(
            "ERR The ID specified in XADD must be greater than 0-0",
        ));
    }
    let key = argv[1];
    let now = ctx.now;
    let db = ctx.db();
    if stream_mut(db, key, now)?.is_none() {
        if opts.nomkstream {
            out.null();
            return Ok(());
        }
        db.set(key, Value::Stream(Box::default()), None);
    }
    let s = stream_mut(db, key, now)?.expect("just created");
    let id = s.next_id(opts.id, now).map_err(|e| match e {
        IdError::Exhausted => Error::msg(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ),
        IdError::NotGreater => Error::msg(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item",
        ),
    })?;
    let fields: smallvec::SmallVec<[(&[u8], &[u8]); 4]> = argv[fields_at..]
        .chunks_exact(2)
        .map(|p| (p[0], p[1]))
        .collect();
    s.add(id, &fields);
    let mut removed = 0;
    let trimmed = opts.trim.map(|trim| {
        removed = s.trim(trim);
        s.len()
    });
    reply_id(out, id);
    ctx.wrote(key);
    ctx.notify(Class::STREAM, "xadd", key);
    if removed > 0 {
        ctx.notify(Class::STREAM, "xtrim", key);
    }
    // As Redis's xaddCommand: the ID as generated, and a trim as what it
    // left (`MAXLEN = length`: `~` and LIMIT stop where the node
    // boundaries fell, which a replay need not share).
    if (opts.id != NewId::Exact(id) || trimmed.is_some()) && propagate::on(ctx) {
        let (id, len) = (propagate::id(id), trimmed.map(propagate::num));
        let mut argv: Vec<&[u8]> = vec![b"XADD", key];
        if let Some(len) = &len {
            argv.extend_from_slice(&[b"MAXLEN", b"=", len]);
        }
        argv.push(&id);
        argv.extend(fields.iter().flat_map(|&(f, v)| [f, v]));
        ctx.propagate(&argv);
    }
    Ok(())
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
pub fn xtrim(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let argv = args.all();
    let opts = parse_add_trim(argv, false)?;
    let key = argv[1];
    let now = ctx.now;
    let trim = opts.trim.expect("XTRIM has a strategy");
    let removed = match stream_mut(ctx.db(), key, now)? {
        Some(s) => s.trim(trim),
        None => 0,
    };
    if removed > 0 {
        ctx.wrote(key);
        ctx.notify(Class::STREAM, "xtrim", key);
    }
    if removed > 0 && propagate::on(ctx) {
        // What the trim left, as XADD's (see there).
        let len = stream_mut(ctx.db(), key, now)?.map_or(0, |s| s.len());
        ctx.propagate(&[b"XTRIM", key, b"MAXLEN", b"=", &propagate::num(len)]);
    }
    out.int(removed as i64);
    Ok(())
}

/// XLEN key
pub fn xlen(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let len = read_stream(ctx, key)?.map_or(0, Stream::len);
    out.int(len as i64);
    Ok(())
}

/// XRANGE key start end [COUNT count]
pub fn xrange(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    range(ctx, args, out, false)
}

/// XREVRANGE key end start [COUNT count]
pub fn xrevrange(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    range(ctx, args, out, true)
}

fn range(ctx: &mut Ctx, args: &mut Args, out: &mut Out, rev: bool) -> CmdResult {
    let key = args.next_bytes()?;
    let (a, b) = (args.next_bytes()?, args.next_bytes()?);
    let (start_arg, end_arg) = if rev { (b, a) } else { (a, b) };
    let start = parse_bound(start_arg, true)?;
    let end = parse_bound(end_arg, false)?;
    let mut count: Option<i64> = None;
    while !args.is_empty() {
        if args.remaining() >= 2 && args.eat("count") {
            count = Some(args.next_i64()?.max(0));
        } else {
            return Err(Error::SYNTAX);
        }
    }
    let Some(s) = read_stream(ctx, key)? else {
        out.array(0);
        return Ok(());
    };
    if count == Some(0) {
        out.null_array();
        return Ok(());
    }
    let entries = s.range(start, end, count.unwrap_or(0) as usize, rev);
    reply_entries(out, &to_read(entries));
    Ok(())
}

/// XDEL key id [id ...]
pub fn xdel(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let now = ctx.now;
    if stream_mut(ctx.db(), key, now)?.is_none() {
        out.int(0);
        return Ok(());
    }
    // Every ID is checked before any is deleted: all or nothing.
    let ids = args
        .rest()
        .iter()
        .map(|a| parse_strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    let s = stream_mut(ctx.db(), key, now)?.expect("checked above");
    let deleted = s.delete(&ids);
    if deleted > 0 {
        ctx.wrote(key);
        ctx.notify(Class::STREAM, "xdel", key);
    }
    out.int(deleted as i64);
    Ok(())
}

/// XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]
pub fn xsetid(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let id = parse_strict_id(args.next_bytes()?)?;
    let mut entries_added: Option<u64> = None;
    let mut max_deleted = StreamId::MIN;
    while !args.is_empty() {
        if args.remaining() >= 2 && args.eat("entriesadded") {
            let n = args.next_i64()?;
            if n < 0 {
                return Err(Error::msg("ERR entries_added must be positive"));
            }
            entries_added = Some(n as u64);
        } else if args.remaining() >= 2 && args.eat("maxdeletedid") {
            max_deleted = parse_strict_id(args.next_bytes()?)?;
            if id < max_deleted {
                return Err(Error::msg(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
        } else {
            return Err(Error::SYNTAX);
        }
    }
    let now = ctx.now;
    let s = stream_mut(ctx.db(), key, now)?.ok_or(Error::NO_SUCH_KEY)?;
    if id < s.max_deleted_id {
        return Err(Error::msg(
            "ERR The ID specified in XSETID is smaller than current max_deleted_entry_id",
        ));
    }
    if !s.is_empty() {
        if id < s.last_valid_id() {
            return Err(Error::msg(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added.is_some_and(|n| (s.len() as u64) > n) {
            return Err(Error::msg(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    s.last_id = id;
    if let Some(n) = entries_added {
        s.entries_added = n;
    }
    if max_deleted != StreamId::MIN {
        s.max_deleted_id = max_deleted;
    }
    ctx.wrote(key);
    ctx.notify(Class::STREAM, "xsetid", key);
    out.ok();
    Ok(())
}

// ------------------------------------------------------------ commands

#[rustfmt::skip]
static XGROUP_SUBS: &[CommandSpec] = &[
    spec(
    "xgroup|create",
    -5,
    W,
    KEY2,
    "stream",
    "Creates a consumer group.",
    Exec::Shard(super::stream_groups::xgroup),
    "key group <id | $> [MKSTREAM] [ENTRIESREAD entries-read]",
    ),
    spec(
    "xgroup|setid",
    -5,
    WD,
    KEY2,
    "stream",
    "Sets the last-delivered ID of a consumer group.",
    Exec::Shard(super::stream_groups::xgroup),
    "key group <id | $> [ENTRIESREAD entries-read]",
    ),
    spec(
    "xgroup|destroy",
    4,
    WD,
    KEY2,
    "stream",
    "Destroys a consumer group.",
    Exec::Shard(super::stream_groups::xgroup),
    "key group",
    ),
    spec(
    "xgroup|createconsumer",
    5,
    W,
    KEY2,
    "stream",
    "Creates a consumer in a consumer group.",
    Exec::Shard(super::stream_groups::xgroup),
    "key group consumer",
    ),
    spec(
    "xgroup|delconsumer",
    5,
    WD,
    KEY2,
    "stream",
    "Deletes a consumer from a consumer group.",
    Exec::Shard(super::stream_groups::xgroup),
    "key group consumer",
    ),
    spec(
    "xgroup|help",
    2,
    SERVER,
    NO_KEYS,
    "stream",
    "Returns helpful text about the different subcommands.",
    Exec::Local(super::stream_groups::xgroup_help),
    "",
    ),
];

#[rustfmt::skip]
static XINFO_SUBS: &[CommandSpec] = &[
    spec(
    "xinfo|consumers",
    4,
    R,
    KEY2,
    "stream",
    "Returns a list of the consumers in a consumer group.",
    Exec::Shard(super::stream_groups::xinfo),
    "key group",
    ),
    spec(
    "xinfo|groups",
    3,
    R,
    KEY2,
    "stream",
    "Returns a list of the consumer groups of a stream.",
    Exec::Shard(super::stream_groups::xinfo),
    "key",
    ),
    spec(
    "xinfo|stream",
    -3,
    R,
    KEY2,
    "stream",
    "Returns information about a stream.",
    Exec::Shard(super::stream_groups::xinfo),
    "key [FULL [COUNT count]]",
    ),
    spec(
    "xinfo|help",
    2,
    SERVER,
    NO_KEYS,
    "stream",
    "Returns helpful text about the different subcommands.",
    Exec::Local(super::stream_groups::xinfo_help),
    "",
    ),
];

/// The stream commands, as the command table lists them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("xadd", -5, WF, KEY1, "stream", "Appends a new message to a stream. Creates the key if it doesn't exist.", Exec::Shard(xadd),
        "key [NOMKSTREAM] [<MAXLEN | MINID> [= | ~] threshold [LIMIT count]] <* | id> field value [field value ...]"),
    spec("xlen", 2, RF, KEY1, "stream", "Return the number of messages in a stream.", Exec::Shard(xlen), "key"),
    spec("xrange", -4, R, KEY1, "stream", "Returns the messages from a stream within a range of IDs.", Exec::Shard(xrange),
        "key start end [COUNT count]"),
    spec("xrevrange", -4, R, KEY1, "stream", "Returns the messages from a stream within a range of IDs in reverse order.",
        Exec::Shard(xrevrange), "key end start [COUNT count]"),
    spec("xdel", -3, WDF, KEY1, "stream", "Returns the number of messages after removing them from a stream.", Exec::Shard(xdel),
        "key id [id ...]"),
    spec("xtrim", -4, WD, KEY1, "stream", "Deletes messages from the beginning of a stream.", Exec::Shard(xtrim),
        "key <MAXLEN | MINID> [= | ~] threshold [LIMIT count]"),
    spec("xsetid", -3, WF, KEY1, "stream", "An internal command for replicating stream values.", Exec::Shard(xsetid),
        "key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]"),
    spec("xread", -4, &["readonly", "blocking", "movablekeys"], STREAMS, "stream",
        "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.",
        Exec::Client(crate::client_fn!(super::stream_read::xread)), "[COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]"),
    spec("xreadgroup", -7, &["write", "blocking", "movablekeys"], STREAMS, "stream",
        "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.",
        Exec::Client(crate::client_fn!(super::stream_read::xreadgroup)), "GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key [key ...] id [id ...]"),
    container("xgroup", "stream", "A container for consumer groups commands.", XGROUP_SUBS),
    spec("xack", -4, WDF, KEY1, "stream", "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.",
        Exec::Shard(super::stream_groups::xack), "key group id [id ...]"),
    spec("xpending", -3, R, KEY1, "stream", "Returns the information and entries from a stream consumer group's pending entries list.",
        Exec::Shard(super::stream_groups::xpending), "key group [[IDLE min-idle-time] start end count [consumer]]"),
    spec("xclaim", -6, WDF, KEY1, "stream", "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.",
        Exec::Shard(super::stream_groups::xclaim),
        "key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]"),
    spec("xautoclaim", -6, WDF, KEY1, "stream", "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.",
        Exec::Shard(super::stream_groups::xautoclaim), "key group consumer min-idle-time start [COUNT count] [JUSTID]"),
    container("xinfo", "stream", "A container for stream introspection commands.", XINFO_SUBS),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_as_redis_does() {
        assert_eq!(parse_id(b"5", 0), Ok(StreamId::new(5, 0)));
        assert_eq!(parse_id(b"5", u64::MAX), Ok(StreamId::new(5, u64::MAX)));
        assert_eq!(parse_id(b"5-3", 0), Ok(StreamId::new(5, 3)));
        assert_eq!(parse_id(b"-", 9), Ok(StreamId::MIN));
        assert_eq!(parse_id(b"+", 9), Ok(StreamId::MAX));
        assert_eq!(parse_id(b"007-+1", 0), Ok(StreamId::new(7, 1)));
        assert_eq!(
            parse_id(b"18446744073709551615-18446744073709551615", 0),
            Ok(StreamId::MAX)
        );
        for bad in [
            &b"-1"[..],
            b"",
            b"a",
            b"1-",
            b"1-2-3",
            b"1 ",
            b"18446744073709551616",
            b"1--2",
            b"1-*",
        ] {
            assert!(parse_id(bad, 0).is_err(), "{:?}", bad);
        }
        assert!(parse_strict_id(b"-").is_err());
        assert!(parse_strict_id(b"+").is_err());
        assert_eq!(
            parse_id_generic(b"7-*", 0, true, true),
            Ok(Err(7)),
            "XADD's ms-* form"
        );
    }

    #[test]
    fn bounds_move_past_exclusive_ids() {
        assert_eq!(parse_bound(b"(5-1", true), Ok(StreamId::new(5, 2)));
        // An end's missing sequence is the largest: (5 means below 5-MAX.
        assert_eq!(
            parse_bound(b"(5", false),
            Ok(StreamId::new(5, u64::MAX - 1))
        );
        assert_eq!(parse_bound(b"(5", true), Ok(StreamId::new(5, 1)));
        assert!(parse_bound(b"(-", true).is_err());
        assert!(parse_bound(b"(", true).is_err());
        assert_eq!(
            parse_bound(b"(0-0", false),
            Err(Error::msg("ERR invalid end ID for the interval"))
        );
    }
}
