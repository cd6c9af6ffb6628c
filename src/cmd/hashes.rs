//! Hash commands: HSET, HSETNX, HMSET, HGET, HMGET, HDEL, HLEN, HEXISTS,
//! HGETALL, HKEYS, HVALS, HINCRBY, HINCRBYFLOAT, HSTRLEN, HRANDFIELD and
//! HSCAN, answering as Redis 7.2 does (errors, their order, RESP2 and RESP3
//! shapes). The data structure is `types::hash`.
//!
//! Invariant kept here (as Redis's `t_hash.c` does): a hash key never holds
//! an empty hash. A hash is only created by a command that is about to add a
//! field, and every command that removes fields deletes the key when the
//! last one goes, so EXISTS, TYPE and SCAN never see an empty hash.
//!
//! HSCAN's cursor and option parsing ([`parse_cursor`], [`ScanOpts`]) are
//! shared with SSCAN.

use super::args::{is, Args, CmdResult, Error};
use super::spec::decl::*;
use super::Ctx;
use crate::alloc::random_u64;
use crate::glob;
use crate::resp::parse::parse_i64;
use crate::resp::Out;
use crate::shard::db::{Db, Entry};
use crate::shard::notify::Class;
use crate::types::hash::Hash;
use crate::types::longdouble::LongDouble;
use crate::types::Value;

fn as_hash(entry: Option<&Entry>) -> Result<Option<&Hash>, Error> {
    match entry.map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(Error::WRONG_TYPE),
    }
}

/// The hash at `key` for reading (counts a keyspace hit or miss).
fn read_hash<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c Hash>, Error> {
    as_hash(ctx.read(key))
}

/// The hash at `key` for changing; WRONGTYPE when it holds something else.
pub fn hash_mut<'d>(db: &'d mut Db, key: &[u8], now: u64) -> Result<Option<&'d mut Hash>, Error> {
    match db.get_mut(key, now) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(Error::WRONG_TYPE),
    }
}

/// The hash at `key`, created empty when missing: only for a caller that
/// is about to add a field (see the module invariant).
fn hash_for_write<'d>(db: &'d mut Db, key: &[u8], now: u64) -> Result<&'d mut Hash, Error> {
    if hash_mut(db, key, now)?.is_none() {
        db.set(key, Value::Hash(Hash::new()), None);
    }
    Ok(hash_mut(db, key, now)?.expect("just created"))
}

fn hset_generic(ctx: &mut Ctx, args: &mut Args, out: &mut Out, name: &str) -> CmdResult {
    let key = args.next_bytes()?;
    let pairs = args.rest();
    if !pairs.len().is_multiple_of(2) {
        return Err(Error::arity(name));
    }
    let now = ctx.now;
    let hash = hash_for_write(ctx.db(), key, now)?;
    let longest = pairs.iter().map(|p| p.len()).max().unwrap_or(0);
    hash.prepare(pairs.len() / 2, longest);
    let added = pairs.chunks(2).filter(|p| hash.insert(p[0], p[1])).count();
    ctx.wrote(key);
    ctx.notify(Class::HASH, "hset", key);
    if name == "hmset" {
        out.ok();
    } else {
        out.int(added as i64);
    }
    Ok(())
}

pub fn hset(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    hset_generic(ctx, args, out, "hset")
}

pub fn hmset(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    hset_generic(ctx, args, out, "hmset")
}

pub fn hsetnx(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let (key, field, value) = (args.next_bytes()?, args.next_bytes()?, args.next_bytes()?);
    let now = ctx.now;
    if hash_mut(ctx.db(), key, now)?.is_some_and(|h| h.contains(field)) {
        out.int(0);
        return Ok(());
    }
    let hash = hash_for_write(ctx.db(), key, now)?;
    hash.prepare(1, field.len().max(value.len()));
    hash.insert(field, value);
    ctx.wrote(key);
    ctx.notify(Class::HASH, "hset", key);
    out.int(1);
    Ok(())
}

pub fn hget(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let (key, field) = (args.next_bytes()?, args.next_bytes()?);
    let value = read_hash(ctx, key)?.and_then(|h| h.get(field));
    out.bulk_opt(value);
    Ok(())
}

pub fn hmget(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let fields = args.rest();
    let hash = read_hash(ctx, key)?;
    out.array(fields.len());
    for f in fields {
        out.bulk_opt(hash.and_then(|h| h.get(f)));
    }
    Ok(())
}

pub fn hdel(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let fields = args.rest();
    let now = ctx.now;
    let db = ctx.db();
    let Some(hash) = hash_mut(db, key, now)? else {
        out.int(0);
        return Ok(());
    };
    let mut deleted = 0;
    for f in fields {
        if hash.remove(f) {
            deleted += 1;
            if hash.is_empty() {
                break;
            }
        }
    }
    let emptied = hash.is_empty();
    if emptied {
        db.remove(key);
    }
    if deleted > 0 {
        ctx.wrote(key);
        ctx.notify(Class::HASH, "hdel", key);
        if emptied {
            ctx.notify(Class::GENERIC, "del", key);
        }
    }
    out.int(deleted);
    Ok(())
}

pub fn hlen(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let len = read_hash(ctx, key)?.map_or(0, Hash::len);
    out.int(len as i64);
    Ok(())
}

pub fn hexists(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let (key, field) = (args.next_bytes()?, args.next_bytes()?);
    let found = read_hash(ctx, key)?.is_some_and(|h| h.contains(field));
    out.int(found as i64);
    Ok(())
}

pub fn hstrlen(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let (key, field) = (args.next_bytes()?, args.next_bytes()?);
    let len = read_hash(ctx, key)?
        .and_then(|h| h.get(field))
        .map_or(0, <[u8]>::len);
    out.int(len as i64);
    Ok(())
}

/// HGETALL: a map in RESP3, a flat array of fields and values in RESP2.
pub fn hgetall(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    match read_hash(ctx, key)? {
        None => out.map(0),
        Some(h) => {
            out.map(h.len());
            for (f, v) in h.iter() {
                out.bulk(f);
                out.bulk(v);
            }
        }
    }
    Ok(())
}

fn hkeys_or_vals(ctx: &mut Ctx, args: &mut Args, out: &mut Out, keys: bool) -> CmdResult {
    let key = args.next_bytes()?;
    match read_hash(ctx, key)? {
        None => out.array(0),
        Some(h) => {
            out.array(h.len());
            for (f, v) in h.iter() {
                out.bulk(if keys { f } else { v });
            }
        }
    }
    Ok(())
}

pub fn hkeys(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    hkeys_or_vals(ctx, args, out, true)
}

pub fn hvals(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    hkeys_or_vals(ctx, args, out, false)
}

pub fn hincrby(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let (key, field) = (args.next_bytes()?, args.next_bytes()?);
    let incr = args.next_i64()?;
    let now = ctx.now;
    let current = match hash_mut(ctx.db(), key, now)?.and_then(|h| h.get(field)) {
        None => 0,
        Some(v) => parse_i64(v).ok_or(Error::msg("ERR hash value is not an integer"))?,
    };
    let new = current.checked_add(incr).ok_or(Error::OVERFLOW)?;
    let text = itoa::Buffer::new().format(new).as_bytes().to_vec();
    hash_for_write(ctx.db(), key, now)?.insert(field, &text);
    ctx.wrote(key);
    ctx.notify(Class::HASH, "hincrby", key);
    out.int(new);
    Ok(())
}

pub fn hincrbyfloat(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let (key, field) = (args.next_bytes()?, args.next_bytes()?);
    // Redis adds in C `long double` and prints with "%.17Lf" (LD_STR_HUMAN),
    // as INCRBYFLOAT does; LongDouble reproduces both.
    let incr = LongDouble::parse(args.next_bytes()?).ok_or(Error::NOT_FLOAT)?;
    if !incr.is_finite() {
        return Err(Error::msg("ERR value is NaN or Infinity"));
    }
    let now = ctx.now;
    let current = match hash_mut(ctx.db(), key, now)?.and_then(|h| h.get(field)) {
        None => LongDouble::from_i64(0),
        Some(v) => LongDouble::parse(v).ok_or(Error::msg("ERR hash value is not a float"))?,
    };
    let new = current.add(incr);
    if !new.is_finite() {
        return Err(Error::msg("ERR increment would produce NaN or Infinity"));
    }
    let text = new.to_human_string();
    hash_for_write(ctx.db(), key, now)?.insert(field, text.as_bytes());
    ctx.wrote(key);
    ctx.notify(Class::HASH, "hincrbyfloat", key);
    // The result, not the addition, as Redis propagates HINCRBYFLOAT.
    ctx.propagate(&[b"HSET", key, field, text.as_bytes()]);
    out.bulk(text.as_bytes());
    Ok(())
}

/// A count for HRANDFIELD / SRANDMEMBER: any integer but `i64::MIN`, with
/// the wording of Redis's `getRangeLongFromObjectOrReply`.
pub fn random_count(arg: &[u8]) -> Result<i64, Error> {
    match parse_i64(arg) {
        None => Err(Error::NOT_INTEGER),
        Some(i64::MIN) => Err(Error::msg(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        )),
        Some(n) => Ok(n),
    }
}

/// HRANDFIELD's / ZRANDMEMBER's `count [word]` (`rest`, after the key), in
/// Redis's order: the count, the option, then the count's range with it
/// (a reply of twice as many items must not overflow).
pub fn random_args(rest: &[&[u8]], word: &str) -> Result<(i64, bool), Error> {
    let count = random_count(rest[0])?;
    match rest {
        [_] => Ok((count, false)),
        [_, w] if is(w, word) => {
            if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
                return Err(Error::msg("ERR value is out of range"));
            }
            Ok((count, true))
        }
        _ => Err(Error::SYNTAX),
    }
}

/// Up to `count` distinct positions out of `len`, chosen at random, in
/// increasing order (Redis samples a listpack's entries in their order).
pub fn random_positions(len: usize, count: usize) -> Vec<usize> {
    let mut all: Vec<usize> = (0..len).collect();
    let count = count.min(len);
    for i in 0..count {
        let j = i + (random_u64() % (len - i) as u64) as usize;
        all.swap(i, j);
    }
    all.truncate(count);
    all.sort_unstable();
    all
}

/// `count` distinct items drawn with `pick` (which must be able to yield
/// at least `count` distinct ones), told apart by `id`.
pub fn distinct_picks<'a, T>(
    count: usize,
    mut pick: impl FnMut() -> Option<T>,
    id: impl Fn(&T) -> &'a [u8],
) -> Vec<T> {
    let mut seen = hashbrown::HashSet::with_capacity(count);
    let mut picked = Vec::with_capacity(count);
    while picked.len() < count {
        let Some(item) = pick() else { break };
        if seen.insert(id(&item)) {
            picked.push(item);
        }
    }
    picked
}

/// HRANDFIELD key [count [WITHVALUES]].
pub fn hrandfield(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    if args.is_empty() {
        match read_hash(ctx, key)?.and_then(|h| h.random(random_u64())) {
            Some((f, _)) => out.bulk(f),
            None => out.null(),
        }
        return Ok(());
    }
    let (count, with_values) = random_args(args.rest(), "withvalues")?;
    let Some(hash) = read_hash(ctx, key)? else {
        out.array(0);
        return Ok(());
    };
    let pairs_as_arrays = with_values && out.resp3();
    let header = |out: &mut Out, n: usize| {
        out.array(if with_values && !pairs_as_arrays {
            2 * n
        } else {
            n
        });
    };
    let put = |out: &mut Out, f: &[u8], v: &[u8]| {
        if pairs_as_arrays {
            out.array(2);
        }
        out.bulk(f);
        if with_values {
            out.bulk(v);
        }
    };
    if count < 0 {
        // Repetitions allowed: independent picks.
        let n = count.unsigned_abs() as usize;
        header(out, n);
        for _ in 0..n {
            let (f, v) = hash.random(random_u64()).expect("a hash is never empty");
            put(out, f, v);
        }
    } else if count as usize >= hash.len() {
        header(out, hash.len());
        hash.iter().for_each(|(f, v)| put(out, f, v));
    } else if matches!(hash, Hash::Table(_)) && count as usize * 3 <= hash.len() {
        // Few of many (Redis's case 4): random picks until enough distinct.
        let picked = distinct_picks(count as usize, || hash.random(random_u64()), |p| p.0);
        header(out, picked.len());
        picked.into_iter().for_each(|(f, v)| put(out, f, v));
    } else {
        let picks = random_positions(hash.len(), count as usize);
        header(out, picks.len());
        let mut next = picks.iter().peekable();
        for (i, (f, v)) in hash.iter().enumerate() {
            if next.peek() == Some(&&i) {
                next.next();
                put(out, f, v);
            }
        }
    }
    Ok(())
}

/// A SCAN-family cursor, read as Redis's `parseScanCursorOrReply` does with
/// `strtoul`: an optional sign (a negative number wraps around), decimal
/// digits, no leading space; the empty string is 0.
pub fn parse_cursor(arg: &[u8]) -> Result<u64, Error> {
    let invalid = || Error::msg("ERR invalid cursor");
    // Redis reads the cursor as a C string: it ends at a NUL byte.
    let arg = arg.split(|&b| b == 0).next().unwrap_or(arg);
    if arg.is_empty() {
        return Ok(0);
    }
    let (negative, digits) = match arg[0] {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let mut value: u64 = 0;
    for &d in digits {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add((d - b'0') as u64))
            .ok_or_else(invalid)?;
    }
    Ok(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// HSCAN / SSCAN options after the cursor: `MATCH pattern`, `COUNT n`.
pub struct ScanOpts<'a> {
    pub count: usize,
    pub pattern: Option<&'a [u8]>,
}

impl<'a> ScanOpts<'a> {
    pub fn parse(args: &mut Args<'a>) -> Result<ScanOpts<'a>, Error> {
        let mut opts = ScanOpts {
            count: 10,
            pattern: None,
        };
        while let Some(opt) = args.peek() {
            args.next_bytes()?;
            let has_value = !args.is_empty();
            if is(opt, "count") && has_value {
                let n = args.next_i64()?;
                if n < 1 {
                    return Err(Error::SYNTAX);
                }
                opts.count = n as usize;
            } else if is(opt, "match") && has_value {
                let pattern = args.next_bytes()?;
                opts.pattern = (pattern != b"*").then_some(pattern);
            } else {
                return Err(Error::SYNTAX);
            }
        }
        Ok(opts)
    }

    pub fn matches(&self, text: &[u8]) -> bool {
        self.pattern.is_none_or(|p| glob::matches(p, text, false))
    }
}

/// The reply of a SCAN-family command: `[cursor, [items...]]`, arrays in
/// both protocols.
pub fn reply_scan(out: &mut Out, cursor: u64, items: &[Vec<u8>]) {
    out.array(2);
    out.bulk(itoa::Buffer::new().format(cursor).as_bytes());
    out.array(items.len());
    items.iter().for_each(|i| out.bulk(i));
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]. Redis's order: the
/// cursor, the key (a missing key answers an empty scan before any option
/// is looked at), then the options.
pub fn hscan(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let cursor = parse_cursor(args.next_bytes()?)?;
    let Some(hash) = read_hash(ctx, key)? else {
        reply_scan(out, 0, &[]);
        return Ok(());
    };
    let opts = ScanOpts::parse(args)?;
    let mut items = Vec::new();
    let next = hash.scan(cursor, opts.count, |f, v| {
        if opts.matches(f) {
            items.push(f.to_vec());
            items.push(v.to_vec());
        }
    });
    reply_scan(out, next, &items);
    Ok(())
}

// ------------------------------------------------------------ commands

/// The hash commands, as the command table lists them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("hset", -4, WF, KEY1, "hash", "Creates or modifies the value of a field in a hash.", Exec::Shard(hset),
        "key field value [field value ...]"),
    spec("hsetnx", 4, WF, KEY1, "hash", "Sets the value of a field in a hash only when the field doesn't exist.",
        Exec::Shard(hsetnx), "key field value"),
    spec("hmset", -4, WF, KEY1, "hash", "Sets the values of multiple fields.", Exec::Shard(hmset),
        "key field value [field value ...]"),
    spec("hget", 3, RF, KEY1, "hash", "Returns the value of a field in a hash.", Exec::Shard(hget), "key field"),
    spec("hmget", -3, RF, KEY1, "hash", "Returns the values of all fields in a hash.", Exec::Shard(hmget),
        "key field [field ...]"),
    spec("hdel", -3, WDF, KEY1, "hash", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.",
        Exec::Shard(hdel), "key field [field ...]"),
    spec("hlen", 2, RF, KEY1, "hash", "Returns the number of fields in a hash.", Exec::Shard(hlen), "key"),
    spec("hexists", 3, RF, KEY1, "hash", "Determines whether a field exists in a hash.", Exec::Shard(hexists), "key field"),
    spec("hgetall", 2, R, KEY1, "hash", "Returns all fields and values in a hash.", Exec::Shard(hgetall), "key"),
    spec("hkeys", 2, R, KEY1, "hash", "Returns all fields in a hash.", Exec::Shard(hkeys), "key"),
    spec("hvals", 2, R, KEY1, "hash", "Returns all values in a hash.", Exec::Shard(hvals), "key"),
    spec("hincrby", 4, WF, KEY1, "hash",
        "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.",
        Exec::Shard(hincrby), "key field increment"),
    spec("hincrbyfloat", 4, WF, KEY1, "hash",
        "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.",
        Exec::Shard(hincrbyfloat), "key field increment"),
    spec("hstrlen", 3, RF, KEY1, "hash", "Returns the length of the value of a field.", Exec::Shard(hstrlen), "key field"),
    spec("hrandfield", -2, R, KEY1, "hash", "Returns one or more random fields from a hash.", Exec::Shard(hrandfield),
        "key [count [WITHVALUES]]"),
    spec("hscan", -3, R, KEY1, "hash", "Iterates over fields and values of a hash.", Exec::Shard(hscan),
        "key cursor [MATCH pattern] [COUNT count]"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_like_strtoul() {
        assert_eq!(parse_cursor(b"0"), Ok(0));
        assert_eq!(parse_cursor(b""), Ok(0));
        assert_eq!(parse_cursor(b"+7"), Ok(7));
        assert_eq!(parse_cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Ok(u64::MAX));
        for bad in [
            &b"18446744073709551616"[..],
            b" 1",
            b"1 ",
            b"x",
            b"+",
            b"-",
            b"0x1",
        ] {
            assert!(parse_cursor(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn random_positions_are_distinct_sorted_and_bounded() {
        for (len, count) in [(10, 3), (10, 10), (5, 9), (1, 1), (100, 99)] {
            let p = random_positions(len, count);
            assert_eq!(p.len(), count.min(len));
            assert!(p.windows(2).all(|w| w[0] < w[1]));
            assert!(p.iter().all(|&i| i < len));
        }
    }
}
