//! Sorted set commands, as Redis 7.2 answers them: ZADD (NX/XX/GT/LT/CH/INCR),
//! ZINCRBY, ZREM, ZSCORE, ZMSCORE, ZCARD, ZCOUNT, ZLEXCOUNT, ZRANK and
//! ZREVRANK (with 7.2's WITHSCORE), ZRANGE (BYSCORE/BYLEX/REV/LIMIT/
//! WITHSCORES) and its older forms ZREVRANGE, ZRANGEBYSCORE,
//! ZREVRANGEBYSCORE, ZRANGEBYLEX and ZREVRANGEBYLEX, ZREMRANGEBYSCORE,
//! ZREMRANGEBYRANK, ZREMRANGEBYLEX, ZPOPMIN and ZPOPMAX. ZMPOP and the
//! blocking pops (whose keys may span shards) live in `cmd::zset_blocking`,
//! on top of [`pop`] here; the algebra (ZUNION, ZINTER, ZDIFF and their
//! STORE forms, ZINTERCARD), ZRANGESTORE (on ZRANGE's `RangeReq`),
//! ZRANDMEMBER and ZSCAN in `cmd::zset_ops`.
//!
//! Invariant kept here (as Redis's `t_zset.c` does): a sorted set key never
//! holds an empty sorted set. Every command that removes members deletes the
//! key when the last one goes, so EXISTS, TYPE and the blocking pops never
//! see one.
//!
//! Scores are parsed as Redis parses them: a score argument with
//! `string2d` (C `strtod`, whole string, no leading space, no NaN, no
//! overflow), a range bound with `zslParseRange` (`(` for exclusive, laxer
//! `strtod`). Replies carry scores as RESP3 doubles, or RESP2 bulk strings
//! formatted as Redis 7.2 formats them (`Out::double`).

use super::args::{is, Args, CmdResult, Error};
use super::cross::{self, Cross};
use super::spec::decl::*;
use super::Ctx;
use crate::resp::parse::parse_i64;
use crate::resp::Out;
use crate::shard::db::{Db, Entry};
use crate::shard::notify::Class;
use crate::types::zset::{LexBound, ZSet};
use crate::types::Value;

/// A member with its score, as pops return them.
pub type Scored = (Vec<u8>, f64);

const NOT_FLOAT_RANGE: &str = "ERR min or max is not a float";
const NOT_LEX_RANGE: &str = "ERR min or max not valid string range item";

fn as_zset(entry: Option<&Entry>) -> Result<Option<&ZSet>, Error> {
    match entry.map(|e| &e.value) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(Error::WRONG_TYPE),
    }
}

/// The sorted set at `key` for reading (counts a keyspace hit or miss).
pub(super) fn read_zset<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c ZSet>, Error> {
    as_zset(ctx.read(key))
}

/// The sorted set at `key` for changing; WRONGTYPE when it holds something else.
pub fn zset_mut<'d>(db: &'d mut Db, key: &[u8], now: u64) -> Result<Option<&'d mut ZSet>, Error> {
    match db.get_mut(key, now) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(Error::WRONG_TYPE),
    }
}

// ------------------------------------------------------------------ parsing

fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// What C's `strtod` makes of the whole of `s` (no leading space): the value
/// and whether it set ERANGE (a finite number too large, or a non-zero one
/// that rounds to zero). None unless `strtod` consumes every byte.
fn strtod_whole(s: &[u8]) -> Option<(f64, bool)> {
    let (neg, body) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let signed = |v: f64| if neg { -v } else { v };
    if lower == b"inf" || lower == b"infinity" {
        return Some((signed(f64::INFINITY), false));
    }
    if lower == b"nan" || (lower.starts_with(b"nan(") && lower.ends_with(b")")) {
        let inner = &lower[3..];
        let ok = inner.is_empty()
            || inner[1..inner.len() - 1]
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'_');
        return ok.then_some((f64::NAN, false));
    }
    if lower.len() > 2 && lower.starts_with(b"0x") {
        return parse_hex(&lower[2..]).map(|(v, nonzero)| {
            let v = signed(v);
            (v, (v.is_infinite()) || (v == 0.0 && nonzero))
        });
    }
    // Decimal: digits [. digits] [e [sign] digits], at least one digit.
    let int_len = body.iter().take_while(|b| b.is_ascii_digit()).count();
    let mut rest = &body[int_len..];
    let mut frac: &[u8] = &[];
    if rest.first() == Some(&b'.') {
        let n = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
        frac = &rest[1..1 + n];
        rest = &rest[1 + n..];
    }
    if int_len == 0 && frac.is_empty() {
        return None;
    }
    let mut exp: &[u8] = b"0";
    if let Some(b'e' | b'E') = rest.first() {
        let e = &rest[1..];
        let sign = usize::from(matches!(e.first(), Some(b'+' | b'-')));
        let n = e[sign..].iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        exp = &e[..sign + n];
        rest = &e[sign + n..];
    }
    if !rest.is_empty() {
        return None;
    }
    let int = if int_len == 0 { b"0" } else { &body[..int_len] };
    let frac = if frac.is_empty() { &b"0"[..] } else { frac };
    let mut text = Vec::with_capacity(int.len() + frac.len() + exp.len() + 3);
    text.extend_from_slice(int);
    text.push(b'.');
    text.extend_from_slice(frac);
    text.push(b'e');
    text.extend_from_slice(exp);
    let v: f64 = std::str::from_utf8(&text).ok()?.parse().ok()?;
    let nonzero = int.iter().chain(frac).any(|&d| d != b'0');
    let erange = v.is_infinite() || (v == 0.0 && nonzero);
    Some((signed(v), erange))
}

/// A hex float body after `0x`: hex digits [. hex digits] [p [sign] digits].
/// Returns the value and whether any digit was non-zero.
fn parse_hex(s: &[u8]) -> Option<(f64, bool)> {
    let int_len = s.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let mut rest = &s[int_len..];
    let mut frac: &[u8] = &[];
    if rest.first() == Some(&b'.') {
        let n = rest[1..]
            .iter()
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        frac = &rest[1..1 + n];
        rest = &rest[1 + n..];
    }
    if int_len == 0 && frac.is_empty() {
        return None;
    }
    let mut exp: i64 = 0;
    if rest.first() == Some(&b'p') {
        let e = &rest[1..];
        let exp_neg = e.first() == Some(&b'-');
        let sign = usize::from(matches!(e.first(), Some(b'+' | b'-')));
        let n = e[sign..].iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        for &d in &e[sign..sign + n] {
            exp = (exp * 10 + i64::from(d - b'0')).min(100_000);
        }
        if exp_neg {
            exp = -exp;
        }
        rest = &e[sign + n..];
    }
    if !rest.is_empty() {
        return None;
    }
    let digits = s[..int_len].iter().chain(frac);
    let mut v = 0f64;
    let mut nonzero = false;
    for &d in digits {
        let d = (d as char).to_digit(16).expect("hex digit");
        nonzero |= d != 0;
        v = v * 16.0 + f64::from(d);
    }
    let mut e = exp - 4 * frac.len() as i64;
    // Scale in steps that stay exact for powers of two.
    while e > 0 && v.is_finite() && v != 0.0 {
        let step = e.min(1000);
        v *= 2f64.powi(step as i32);
        e -= step;
    }
    while e < 0 && v != 0.0 {
        let step = e.max(-1000);
        v *= 2f64.powi(step as i32);
        e -= step;
    }
    Some((v, nonzero))
}

/// Redis's `string2d`: a score or increment argument.
pub fn parse_score(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() || is_c_space(arg[0]) {
        return None;
    }
    match strtod_whole(arg)? {
        (v, false) if !v.is_nan() => Some(v),
        _ => None,
    }
}

/// One bound of a score range, as `zslParseRange` reads it: `(` makes it
/// exclusive; `strtod` may skip leading spaces, overflow to an infinity, and
/// reads an empty string as 0. The C string ends at a NUL byte.
fn parse_score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    let arg = match arg.iter().position(|&b| b == 0) {
        Some(i) => &arg[..i],
        None => arg,
    };
    let (body, ex) = match arg.first() {
        Some(b'(') => (&arg[1..], true),
        _ => (arg, false),
    };
    if body.is_empty() {
        return Some((0.0, ex));
    }
    let start = body.iter().take_while(|&&b| is_c_space(b)).count();
    let (v, _) = strtod_whole(&body[start..]).filter(|_| start < body.len())?;
    (!v.is_nan()).then_some((v, ex))
}

/// A score range `min max`: (min, min exclusive, max, max exclusive).
fn parse_score_range(min: &[u8], max: &[u8]) -> Result<(f64, bool, f64, bool), Error> {
    match (parse_score_bound(min), parse_score_bound(max)) {
        (Some((a, ax)), Some((b, bx))) => Ok((a, ax, b, bx)),
        _ => Err(Error::msg(NOT_FLOAT_RANGE)),
    }
}

/// One bound of a lex range (`zslParseLexRangeItem`): `-`, `+`, `(x` or `[x`.
fn parse_lex_bound(arg: &[u8]) -> Option<LexBound> {
    // The C string ends at a NUL byte, which matters only after `+` / `-`.
    let only = |arg: &[u8]| arg.len() == 1 || arg[1] == 0;
    match arg.first()? {
        b'+' if only(arg) => Some(LexBound::Max),
        b'-' if only(arg) => Some(LexBound::Min),
        b'(' => Some(LexBound::Excl(arg[1..].to_vec())),
        b'[' => Some(LexBound::Incl(arg[1..].to_vec())),
        _ => None,
    }
}

fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<(LexBound, LexBound), Error> {
    match (parse_lex_bound(min), parse_lex_bound(max)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(Error::msg(NOT_LEX_RANGE)),
    }
}

/// Redis's rank normalisation (ZRANGE, ZREMRANGEBYRANK): `start..=end`
/// clipped to the set, or None when the range is empty.
fn clip_ranks(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { start + len } else { start };
    let end = if end < 0 { end + len } else { end };
    start = start.max(0);
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize))
}

// ------------------------------------------------------------------ replies

/// Elements with or without their scores: RESP2 flat `member score ...`,
/// RESP3 `[member, score]` pairs.
pub(super) fn reply_elements<'a>(
    out: &mut Out,
    items: impl ExactSizeIterator<Item = (&'a [u8], f64)>,
    withscores: bool,
) {
    let n = items.len();
    if withscores && !out.resp3() {
        out.array(2 * n);
    } else {
        out.array(n);
    }
    for (member, score) in items {
        if withscores && out.resp3() {
            out.array(2);
        }
        out.bulk(member);
        if withscores {
            out.double(score);
        }
    }
}

/// Popped elements: flat `member score ...`, or `[member, score]` pairs.
pub fn reply_popped(out: &mut Out, items: &[(Vec<u8>, f64)], nested: bool) {
    out.array(if nested { items.len() } else { 2 * items.len() });
    for (member, score) in items {
        if nested {
            out.array(2);
        }
        out.bulk(member);
        out.double(*score);
    }
}

/// `[key, [[member, score], ...]]`: the reply of ZMPOP and BZMPOP.
pub fn reply_mpop(out: &mut Out, key: &[u8], items: &[(Vec<u8>, f64)]) {
    out.array(2);
    out.bulk(key);
    reply_popped(out, items, true);
}

/// `[key, member, score]`: the reply of BZPOPMIN and BZPOPMAX.
pub fn reply_bzpop(out: &mut Out, key: &[u8], items: &[(Vec<u8>, f64)]) {
    out.array(1 + 2 * items.len());
    out.bulk(key);
    for (member, score) in items {
        out.bulk(member);
        out.double(*score);
    }
}

// ------------------------------------------------------------------ shared pieces

/// Pops up to `count` elements from the low end (or the high end when
/// `max`) of the sorted set at `key`, deleting the key when it empties.
/// None when the key does not exist.
pub fn pop(
    ctx: &mut Ctx,
    key: &[u8],
    max: bool,
    count: usize,
) -> Result<Option<Vec<Scored>>, Error> {
    let now = ctx.now;
    let db = ctx.db();
    let Some(z) = zset_mut(db, key, now)? else {
        return Ok(None);
    };
    let popped = z.pop(max, count);
    let emptied = z.is_empty();
    if emptied {
        db.remove(key);
    }
    if !popped.is_empty() {
        ctx.wrote(key);
        ctx.notify(Class::ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
        if emptied {
            ctx.notify(Class::GENERIC, "del", key);
        }
    }
    Ok(Some(popped))
}

/// [`pop`], recorded as the plain pop of what it took (`ZPOPMIN key`, or
/// `ZPOPMIN key n` for a count): what ZMPOP and the blocking pops replay
/// as, as Redis propagates them.
pub fn pop_logged(
    ctx: &mut Ctx,
    key: &[u8],
    max: bool,
    count: usize,
) -> Result<Option<Vec<Scored>>, Error> {
    let popped = pop(ctx, key, max, count)?;
    let logged = super::propagate::on(ctx);
    if let Some(items) = popped.as_ref().filter(|v| logged && !v.is_empty()) {
        let name: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
        if count == 1 {
            ctx.propagate(&[name, key]);
        } else {
            ctx.propagate(&[name, key, &super::propagate::num(items.len())]);
        }
    }
    Ok(popped)
}

/// Whether `key` holds a sorted set (WRONGTYPE when it holds something else).
pub fn holds_zset(ctx: &mut Ctx, key: &[u8]) -> Result<bool, Error> {
    let now = ctx.now;
    zset_mut(ctx.db(), key, now).map(|z| z.is_some())
}

/// Removes positions `start..end` of the set at `key` (which exists),
/// deleting the key when it empties. Returns how many went.
fn remove_positions(
    ctx: &mut Ctx,
    key: &[u8],
    start: usize,
    end: usize,
    event: &'static str,
) -> usize {
    let now = ctx.now;
    let db = ctx.db();
    let Ok(Some(z)) = zset_mut(db, key, now) else {
        return 0;
    };
    let removed = z.remove_range(start, end).len();
    let emptied = z.is_empty();
    if emptied {
        db.remove(key);
    }
    if removed > 0 {
        ctx.wrote(key);
        ctx.notify(Class::ZSET, event, key);
        if emptied {
            ctx.notify(Class::GENERIC, "del", key);
        }
    }
    removed
}

// ------------------------------------------------------------------ ZADD / ZINCRBY

pub fn zadd(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    zadd_generic(ctx, args, out, false)
}

/// ZINCRBY is ZADD INCR with one pair, flags parsing included (as in Redis,
/// `ZINCRBY key nx member` is a syntax error).
pub fn zincrby(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    zadd_generic(ctx, args, out, true)
}

/// ZADD's options (GEOADD's are a part of them).
#[derive(Clone, Copy, Debug, Default)]
pub struct AddFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub incr: bool,
}

/// What [`add_pairs`] did.
pub struct Added {
    pub added: i64,
    pub updated: i64,
    /// Members whose score was set or kept (ZADD INCR's reply).
    pub processed: i64,
    /// The last score set (ZADD INCR's reply).
    pub last: f64,
    /// An increment made a NaN: the pairs after it were not applied.
    pub nan: bool,
}

/// ZADD's work once its arguments are checked (GEOADD's too, as in Redis):
/// WRONGTYPE, the key created unless XX (a listpack or a skiplist as Redis
/// 7.2 decides up front), each pair applied under the flags, the write
/// reported when something changed.
pub fn add_pairs(
    ctx: &mut Ctx,
    key: &[u8],
    f: AddFlags,
    pairs: &[(f64, &[u8])],
) -> Result<Added, Error> {
    let now = ctx.now;
    let db = ctx.db();
    let exists = zset_mut(db, key, now)?.is_some();
    let mut done = Added {
        added: 0,
        updated: 0,
        processed: 0,
        last: 0.0,
        nan: false,
    };
    if exists || !f.xx {
        if !exists {
            let mut z = ZSet::new();
            z.convert_for(pairs.len(), pairs.first().map_or(0, |p| p.1.len()));
            db.set(key, Value::ZSet(Box::new(z)), None);
        }
        let z = zset_mut(db, key, now)?.expect("exists");
        if exists {
            z.convert_for(pairs.len(), 0);
        }
        for &(score, member) in pairs {
            match z.score(member) {
                Some(cur) => {
                    if f.nx {
                        continue;
                    }
                    let new = if f.incr { score + cur } else { score };
                    if new.is_nan() {
                        done.nan = true;
                        break;
                    }
                    if (f.lt && new >= cur) || (f.gt && new <= cur) {
                        continue;
                    }
                    done.processed += 1;
                    done.last = new;
                    if new != cur {
                        z.set_score(member, new, Some(cur));
                        done.updated += 1;
                    }
                }
                None if f.xx => {}
                None => {
                    z.set_score(member, score, None);
                    done.added += 1;
                    done.processed += 1;
                    done.last = score;
                }
            }
        }
        if z.is_empty() {
            db.remove(key);
        }
    }
    if done.added + done.updated > 0 {
        ctx.wrote(key);
        // GEOADD goes through here too: Redis runs it as a ZADD.
        ctx.notify(Class::ZSET, if f.incr { "zincr" } else { "zadd" }, key);
    }
    Ok(done)
}

/// ZADD's options from argument 2 on (GEOADD's, `geo`: only NX, XX and
/// CH): the flags, CH, and where the first score (or longitude) is.
pub fn parse_add_flags(argv: &[&[u8]], geo: bool) -> (AddFlags, bool, usize) {
    let mut f = AddFlags::default();
    let mut ch = false;
    let mut at = 2;
    while let Some(&opt) = argv.get(at) {
        if is(opt, "nx") {
            f.nx = true;
        } else if is(opt, "xx") {
            f.xx = true;
        } else if is(opt, "ch") {
            ch = true;
        } else if geo {
            break;
        } else if is(opt, "incr") {
            f.incr = true;
        } else if is(opt, "gt") {
            f.gt = true;
        } else if is(opt, "lt") {
            f.lt = true;
        } else {
            break;
        }
        at += 1;
    }
    (f, ch, at)
}

fn zadd_generic(ctx: &mut Ctx, args: &mut Args, out: &mut Out, incr: bool) -> CmdResult {
    let argv = args.all();
    let key = argv[1];
    let (mut flags, ch, at) = parse_add_flags(argv, false);
    flags.incr |= incr;
    let AddFlags {
        nx,
        xx,
        gt,
        lt,
        incr,
    } = flags;
    let rest = &argv[at..];
    if rest.is_empty() || !rest.len().is_multiple_of(2) {
        return Err(Error::SYNTAX);
    }
    if nx && xx {
        return Err(Error::msg(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return Err(Error::msg(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    let pairs = rest.len() / 2;
    if incr && pairs > 1 {
        return Err(Error::msg(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    // Every score is checked before anything changes.
    let pairs = rest
        .chunks(2)
        .map(|p| Ok((parse_score(p[0]).ok_or(Error::NOT_FLOAT)?, p[1])))
        .collect::<Result<Vec<(f64, &[u8])>, Error>>()?;
    let Added {
        added,
        updated,
        processed,
        last,
        nan,
    } = add_pairs(ctx, key, flags, &pairs)?;
    if nan {
        return Err(Error::msg("ERR resulting score is not a number (NaN)"));
    }
    if incr {
        if processed > 0 {
            out.double(last);
        } else {
            out.null();
        }
    } else {
        out.int(if ch { added + updated } else { added });
    }
    Ok(())
}

// ------------------------------------------------------------------ simple reads and removals

pub fn zrem(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let members = args.rest();
    let now = ctx.now;
    let db = ctx.db();
    let Some(z) = zset_mut(db, key, now)? else {
        out.int(0);
        return Ok(());
    };
    let mut removed = 0;
    for m in members {
        if z.remove(m).is_some() {
            removed += 1;
            if z.is_empty() {
                break;
            }
        }
    }
    let emptied = z.is_empty();
    if emptied {
        db.remove(key);
    }
    if removed > 0 {
        ctx.wrote(key);
        ctx.notify(Class::ZSET, "zrem", key);
        if emptied {
            ctx.notify(Class::GENERIC, "del", key);
        }
    }
    out.int(removed);
    Ok(())
}

pub fn zscore(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let member = args.next_bytes()?;
    match read_zset(ctx, key)?.and_then(|z| z.score(member)) {
        Some(s) => out.double(s),
        None => out.null(),
    }
    Ok(())
}

pub fn zmscore(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let members = args.rest();
    let z = read_zset(ctx, key)?;
    out.array(members.len());
    for m in members {
        match z.and_then(|z| z.score(m)) {
            Some(s) => out.double(s),
            None => out.null(),
        }
    }
    Ok(())
}

pub fn zcard(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let len = read_zset(ctx, key)?.map_or(0, ZSet::len);
    out.int(len as i64);
    Ok(())
}

pub fn zcount(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let (min, minx, max, maxx) = parse_score_range(args.next_bytes()?, args.next_bytes()?)?;
    let n = read_zset(ctx, key)?.map_or(0, |z| {
        let (s, e) = z.score_range(min, minx, max, maxx);
        e - s
    });
    out.int(n as i64);
    Ok(())
}

pub fn zlexcount(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let (min, max) = parse_lex_range(args.next_bytes()?, args.next_bytes()?)?;
    let n = read_zset(ctx, key)?.map_or(0, |z| {
        let (s, e) = z.lex_range(&min, &max);
        e - s
    });
    out.int(n as i64);
    Ok(())
}

fn rank_generic(ctx: &mut Ctx, args: &mut Args, out: &mut Out, rev: bool) -> CmdResult {
    let argv = args.all();
    if argv.len() > 4 {
        return Err(Error::arity(if rev { "zrevrank" } else { "zrank" }));
    }
    let withscore = match argv.get(3) {
        None => false,
        Some(a) if is(a, "withscore") => true,
        Some(_) => return Err(Error::SYNTAX),
    };
    let (key, member) = (argv[1], argv[2]);
    let missing = |out: &mut Out| {
        if withscore {
            out.null_array()
        } else {
            out.null()
        }
    };
    let Some(z) = read_zset(ctx, key)? else {
        missing(out);
        return Ok(());
    };
    let Some((rank, score)) = z.rank(member) else {
        missing(out);
        return Ok(());
    };
    let rank = if rev { z.len() - 1 - rank } else { rank };
    if withscore {
        out.array(2);
        out.int(rank as i64);
        out.double(score);
    } else {
        out.int(rank as i64);
    }
    Ok(())
}

pub fn zrank(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    rank_generic(ctx, args, out, false)
}

pub fn zrevrank(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    rank_generic(ctx, args, out, true)
}

// ------------------------------------------------------------------ ZRANGE and friends

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum RangeBy {
    /// ZRANGE: BYSCORE / BYLEX may pick, rank otherwise.
    Auto,
    Rank,
    Score,
    Lex,
}

enum Bounds {
    Rank(i64, i64),
    Score(f64, bool, f64, bool),
    Lex(LexBound, LexBound),
}

/// A parsed ZRANGE-family request (ZRANGESTORE's too).
pub(super) struct RangeReq {
    bounds: Bounds,
    pub reverse: bool,
    limit: Option<(i64, i64)>,
    pub withscores: bool,
}

impl RangeReq {
    /// Redis's `zrangeGenericCommand` up to the key lookup: options first
    /// (in order, LIMIT's numbers as they come), then the conflicts, then
    /// the range. The source key is at `at`, its range after it; `store`
    /// (ZRANGESTORE) refuses WITHSCORES. `rev` is None for ZRANGE and
    /// ZRANGESTORE, whose REV option decides.
    pub(super) fn parse(
        argv: &[&[u8]],
        at: usize,
        store: bool,
        mut by: RangeBy,
        rev: Option<bool>,
    ) -> Result<RangeReq, Error> {
        let (mut min_at, mut max_at) = (at + 1, at + 2);
        let mut withscores = false;
        let mut limit: Option<(i64, i64)> = None;
        let mut reverse = rev;
        let mut j = at + 3;
        while j < argv.len() {
            let opt = argv[j];
            let left = argv.len() - j - 1;
            if !store && is(opt, "withscores") {
                withscores = true;
            } else if is(opt, "limit") && left >= 2 {
                let offset = parse_i64(argv[j + 1]).ok_or(Error::NOT_INTEGER)?;
                let count = parse_i64(argv[j + 2]).ok_or(Error::NOT_INTEGER)?;
                limit = Some((offset, count));
                j += 2;
            } else if reverse.is_none() && is(opt, "rev") {
                reverse = Some(true);
            } else if by == RangeBy::Auto && is(opt, "bylex") {
                by = RangeBy::Lex;
            } else if by == RangeBy::Auto && is(opt, "byscore") {
                by = RangeBy::Score;
            } else {
                return Err(Error::SYNTAX);
            }
            j += 1;
        }
        let reverse = reverse.unwrap_or(false);
        if by == RangeBy::Auto {
            by = RangeBy::Rank;
        }
        if limit.is_some() && by == RangeBy::Rank {
            return Err(Error::msg(
                "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
            ));
        }
        if withscores && by == RangeBy::Lex {
            return Err(Error::msg(
                "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
            ));
        }
        if reverse && by != RangeBy::Rank {
            // The range is given as `max min`.
            std::mem::swap(&mut min_at, &mut max_at);
        }
        let bounds = match by {
            RangeBy::Rank | RangeBy::Auto => {
                let start = parse_i64(argv[min_at]).ok_or(Error::NOT_INTEGER)?;
                let end = parse_i64(argv[max_at]).ok_or(Error::NOT_INTEGER)?;
                Bounds::Rank(start, end)
            }
            RangeBy::Score => {
                let (a, ax, b, bx) = parse_score_range(argv[min_at], argv[max_at])?;
                Bounds::Score(a, ax, b, bx)
            }
            RangeBy::Lex => {
                let (a, b) = parse_lex_range(argv[min_at], argv[max_at])?;
                Bounds::Lex(a, b)
            }
        };
        Ok(RangeReq {
            bounds,
            reverse,
            limit,
            withscores,
        })
    }

    /// Whether the range is by rank (its length is known up front, which
    /// ZRANGESTORE's destination encoding depends on, as in Redis).
    pub(super) fn by_rank(&self) -> bool {
        matches!(self.bounds, Bounds::Rank(..))
    }

    /// The positions `[start, end)` of `z` the request selects, walked
    /// backwards when `reverse`.
    pub(super) fn positions(&self, z: &ZSet) -> (usize, usize) {
        let len = z.len();
        let reverse = self.reverse;
        if let Bounds::Lex(a, b) = &self.bounds {
            if !z.uniform() {
                // Scores differ: Redis's walk decides, LIMIT included.
                return match self.limit {
                    None => z.lex_walk(a, b, reverse, 0, usize::MAX),
                    Some((offset, _))
                        if offset < 0 || (offset > 0 && offset as u64 >= len as u64) =>
                    {
                        (0, 0)
                    }
                    Some((offset, count)) => {
                        let take = usize::try_from(count).unwrap_or(usize::MAX);
                        z.lex_walk(a, b, reverse, offset as usize, take)
                    }
                };
            }
        }
        let (start, end) = match &self.bounds {
            Bounds::Rank(a, b) => match clip_ranks(*a, *b, len) {
                None => (0, 0),
                Some((a, b)) if reverse => (len - 1 - b, len - a),
                Some((a, b)) => (a, b + 1),
            },
            Bounds::Score(a, ax, b, bx) => z.score_range(*a, *ax, *b, *bx),
            Bounds::Lex(a, b) => z.lex_range(a, b),
        };
        // LIMIT: a negative offset skips everything, a negative count means all.
        match self.limit {
            None => (start, end),
            Some((offset, _)) if offset < 0 || (offset > 0 && offset as u64 >= len as u64) => {
                (0, 0)
            }
            Some((offset, count)) => {
                let avail = end - start;
                let skip = (offset as usize).min(avail);
                let take = if count < 0 {
                    avail - skip
                } else {
                    (count as u64).min((avail - skip) as u64) as usize
                };
                if reverse {
                    (end - skip - take, end - skip)
                } else {
                    (start + skip, start + skip + take)
                }
            }
        }
    }
}

/// ZRANGE and its older forms: [`RangeReq::parse`], then the key.
fn zrange_generic(
    ctx: &mut Ctx,
    args: &mut Args,
    out: &mut Out,
    by: RangeBy,
    rev: Option<bool>,
) -> CmdResult {
    let argv = args.all();
    let req = RangeReq::parse(argv, 1, false, by, rev)?;
    let Some(z) = read_zset(ctx, argv[1])? else {
        out.array(0);
        return Ok(());
    };
    let (start, end) = req.positions(z);
    reply_elements(out, z.range(start, end, req.reverse), req.withscores);
    Ok(())
}

pub fn zrange(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    zrange_generic(ctx, args, out, RangeBy::Auto, None)
}

pub fn zrevrange(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    zrange_generic(ctx, args, out, RangeBy::Rank, Some(true))
}

pub fn zrangebyscore(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    zrange_generic(ctx, args, out, RangeBy::Score, Some(false))
}

pub fn zrevrangebyscore(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    zrange_generic(ctx, args, out, RangeBy::Score, Some(true))
}

pub fn zrangebylex(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    zrange_generic(ctx, args, out, RangeBy::Lex, Some(false))
}

pub fn zrevrangebylex(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    zrange_generic(ctx, args, out, RangeBy::Lex, Some(true))
}

// ------------------------------------------------------------------ ZREMRANGEBY*

fn zremrange_generic(ctx: &mut Ctx, args: &mut Args, out: &mut Out, by: RangeBy) -> CmdResult {
    let key = args.next_bytes()?;
    let (a, b) = (args.next_bytes()?, args.next_bytes()?);
    let parsed = match by {
        RangeBy::Score => {
            let (a, ax, b, bx) = parse_score_range(a, b)?;
            Bounds::Score(a, ax, b, bx)
        }
        RangeBy::Lex => {
            let (a, b) = parse_lex_range(a, b)?;
            Bounds::Lex(a, b)
        }
        _ => Bounds::Rank(
            parse_i64(a).ok_or(Error::NOT_INTEGER)?,
            parse_i64(b).ok_or(Error::NOT_INTEGER)?,
        ),
    };
    let now = ctx.now;
    let Some(z) = zset_mut(ctx.db(), key, now)? else {
        out.int(0);
        return Ok(());
    };
    let (start, end) = match parsed {
        Bounds::Rank(a, b) => clip_ranks(a, b, z.len()).map_or((0, 0), |(a, b)| (a, b + 1)),
        Bounds::Score(a, ax, b, bx) => z.score_range(a, ax, b, bx),
        Bounds::Lex(a, b) => z.lex_range(&a, &b),
    };
    let event = match by {
        RangeBy::Score => "zremrangebyscore",
        RangeBy::Lex => "zremrangebylex",
        _ => "zremrangebyrank",
    };
    let removed = remove_positions(ctx, key, start, end, event);
    out.int(removed as i64);
    Ok(())
}

pub fn zremrangebyscore(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    zremrange_generic(ctx, args, out, RangeBy::Score)
}

pub fn zremrangebyrank(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    zremrange_generic(ctx, args, out, RangeBy::Rank)
}

pub fn zremrangebylex(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    zremrange_generic(ctx, args, out, RangeBy::Lex)
}

// ------------------------------------------------------------------ ZPOPMIN / ZPOPMAX

fn zpop_generic(ctx: &mut Ctx, args: &mut Args, out: &mut Out, max: bool) -> CmdResult {
    let argv = args.all();
    if argv.len() > 3 {
        return Err(Error::SYNTAX);
    }
    let count = match argv.get(2) {
        None => None,
        Some(a) => match parse_i64(a) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return Err(Error::msg("ERR value is out of range, must be positive")),
        },
    };
    let key = argv[1];
    if !holds_zset(ctx, key)? || count == Some(0) {
        out.array(0);
        return Ok(());
    }
    let items = pop(ctx, key, max, count.unwrap_or(1))?.unwrap_or_default();
    // RESP3 nests pairs when a count was given; otherwise a flat array.
    reply_popped(out, &items, out.resp3() && count.is_some());
    Ok(())
}

pub fn zpopmin(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    zpop_generic(ctx, args, out, false)
}

pub fn zpopmax(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    zpop_generic(ctx, args, out, true)
}

// ------------------------------------------------------------------ ZMPOP arguments

/// ZMPOP's arguments after `numkeys`: `key... MIN|MAX [COUNT n]`.
pub struct Mpop<'a> {
    pub keys: &'a [&'a [u8]],
    pub max: bool,
    pub count: usize,
}

/// Parses `numkeys key... MIN|MAX [COUNT n]` (`argv[0]` is numkeys), with
/// Redis's errors in Redis's order.
pub fn parse_mpop<'a>(argv: &'a [&'a [u8]]) -> Result<Mpop<'a>, Error> {
    let numkeys = parse_i64(argv[0])
        .filter(|&n| n >= 1)
        .ok_or(Error::msg("ERR numkeys should be greater than 0"))? as u64;
    // MIN|MAX must follow the keys.
    if numkeys + 1 >= argv.len() as u64 {
        return Err(Error::SYNTAX);
    }
    let numkeys = numkeys as usize;
    let keys = &argv[1..1 + numkeys];
    let where_ = argv[1 + numkeys];
    let max = if is(where_, "min") {
        false
    } else if is(where_, "max") {
        true
    } else {
        return Err(Error::SYNTAX);
    };
    let mut count = None;
    let mut j = 2 + numkeys;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if count.is_none() && is(argv[j], "count") && more > 0 {
            j += 1;
            let n = parse_i64(argv[j]).filter(|&n| n >= 1);
            count = Some(n.ok_or(Error::msg("ERR count should be greater than 0"))? as usize);
        } else {
            return Err(Error::SYNTAX);
        }
        j += 1;
    }
    Ok(Mpop {
        keys,
        max,
        count: count.unwrap_or(1),
    })
}

// ------------------------------------------------------------------ ZMPOP

/// ZMPOP with every key on this shard: pops from the first key holding a
/// sorted set, in argument order.
pub fn zmpop(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let m = parse_mpop(&args.all()[1..])?;
    for key in m.keys {
        if !holds_zset(ctx, key)? {
            continue;
        }
        let items = pop_logged(ctx, key, m.max, m.count)?.unwrap_or_default();
        reply_mpop(out, key, &items);
        return Ok(());
    }
    out.null_array();
    Ok(())
}

/// ZMPOP over keys of several shards, every key locked while it decides.
pub fn zmpop_across(c: Cross<'_>) -> CmdResult {
    let m = parse_mpop(&c.argv[1..])?;
    let keys: Vec<Vec<u8>> = m.keys.iter().map(|k| k.to_vec()).collect();
    let (max, count) = (m.max, m.count);
    let popped = cross::first_holding(c.txn, c.db, &keys, holds_zset, move |ctx, key| {
        pop_logged(ctx, key, max, count).map(Option::unwrap_or_default)
    })?;
    match popped {
        Some((i, items)) => reply_mpop(c.out, &keys[i], &items),
        None => c.out.null_array(),
    }
    Ok(())
}

// ------------------------------------------------------------ commands

/// The sorted set commands, as the command table lists them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("zadd", -4, WF, KEY1, "sorted_set", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.",
        Exec::Shard(zadd), "key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]"),
    spec("zincrby", 4, WF, KEY1, "sorted_set", "Increments the score of a member in a sorted set.", Exec::Shard(zincrby), "key increment member"),
    spec("zrem", -3, WDF, KEY1, "sorted_set", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.",
        Exec::Shard(zrem), "key member [member ...]"),
    spec("zscore", 3, RF, KEY1, "sorted_set", "Returns the score of a member in a sorted set.", Exec::Shard(zscore), "key member"),
    spec("zmscore", -3, RF, KEY1, "sorted_set", "Returns the score of one or more members in a sorted set.", Exec::Shard(zmscore),
        "key member [member ...]"),
    spec("zcard", 2, RF, KEY1, "sorted_set", "Returns the number of members in a sorted set.", Exec::Shard(zcard), "key"),
    spec("zcount", 4, RF, KEY1, "sorted_set", "Returns the count of members in a sorted set that have scores within a range.",
        Exec::Shard(zcount), "key min max"),
    spec("zlexcount", 4, RF, KEY1, "sorted_set", "Returns the number of members in a sorted set within a lexicographical range.",
        Exec::Shard(zlexcount), "key min max"),
    spec("zrank", -3, RF, KEY1, "sorted_set", "Returns the index of a member in a sorted set ordered by ascending scores.",
        Exec::Shard(zrank), "key member [WITHSCORE]"),
    spec("zrevrank", -3, RF, KEY1, "sorted_set", "Returns the index of a member in a sorted set ordered by descending scores.",
        Exec::Shard(zrevrank), "key member [WITHSCORE]"),
    spec("zrange", -4, R, KEY1, "sorted_set", "Returns members in a sorted set within a range of indexes.", Exec::Shard(zrange),
        "key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]"),
    spec("zrevrange", -4, R, KEY1, "sorted_set", "Returns members in a sorted set within a range of indexes in reverse order.",
        Exec::Shard(zrevrange), "key start stop [WITHSCORES]"),
    spec("zrangebyscore", -4, R, KEY1, "sorted_set", "Returns members in a sorted set within a range of scores.",
        Exec::Shard(zrangebyscore), "key min max [WITHSCORES] [LIMIT offset count]"),
    spec("zrevrangebyscore", -4, R, KEY1, "sorted_set", "Returns members in a sorted set within a range of scores in reverse order.",
        Exec::Shard(zrevrangebyscore), "key max min [WITHSCORES] [LIMIT offset count]"),
    spec("zrangebylex", -4, R, KEY1, "sorted_set", "Returns members in a sorted set within a lexicographical range.",
        Exec::Shard(zrangebylex), "key min max [LIMIT offset count]"),
    spec("zrevrangebylex", -4, R, KEY1, "sorted_set", "Returns members in a sorted set within a lexicographical range in reverse order.",
        Exec::Shard(zrevrangebylex), "key max min [LIMIT offset count]"),
    spec("zremrangebyscore", 4, WD, KEY1, "sorted_set", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.",
        Exec::Shard(zremrangebyscore), "key min max"),
    spec("zremrangebyrank", 4, WD, KEY1, "sorted_set", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.",
        Exec::Shard(zremrangebyrank), "key start stop"),
    spec("zremrangebylex", 4, WD, KEY1, "sorted_set", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.",
        Exec::Shard(zremrangebylex), "key min max"),
    spec("zpopmin", -2, WDF, KEY1, "sorted_set", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
        Exec::Shard(zpopmin), "key [count]"),
    spec("zpopmax", -2, WDF, KEY1, "sorted_set", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
        Exec::Shard(zpopmax), "key [count]"),
    spec("zmpop", -4, &["write", "movablekeys"], NUMKEYS1, "sorted_set", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.",
        Exec::Multi(zmpop, zmpop_across), "numkeys key [key ...] <MIN | MAX> [COUNT count]"),
    spec("bzpopmin", -3, &["write", "noscript", "blocking", "fast"], KEYS_TIMEOUT, "sorted_set",
        "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
        Exec::Client(|c, a| Box::pin(super::zset_blocking::run(c, super::zset_blocking::ZsetCmd::Bzpopmin, a))), "key [key ...] timeout"),
    spec("bzpopmax", -3, &["write", "noscript", "blocking", "fast"], KEYS_TIMEOUT, "sorted_set",
        "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.",
        Exec::Client(|c, a| Box::pin(super::zset_blocking::run(c, super::zset_blocking::ZsetCmd::Bzpopmax, a))), "key [key ...] timeout"),
    spec("bzmpop", -5, &["write", "blocking", "movablekeys"], NUMKEYS2, "sorted_set",
        "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
        Exec::Client(|c, a| Box::pin(super::zset_blocking::run(c, super::zset_blocking::ZsetCmd::Bzmpop, a))), "timeout numkeys key [key ...] <MIN | MAX> [COUNT count]"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_parse_like_string2d() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"-2"), Some(-2.0));
        assert_eq!(parse_score(b"+.5"), Some(0.5));
        assert_eq!(parse_score(b"5."), Some(5.0));
        assert_eq!(parse_score(b"1e3"), Some(1000.0));
        assert_eq!(parse_score(b"inf"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"+INF"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        assert_eq!(parse_score(b"0x1p-2"), Some(0.25));
        assert_eq!(parse_score(b"1e-310"), Some(1e-310));
        for bad in [
            &b""[..],
            b" 1",
            b"1 ",
            b"abc",
            b"nan",
            b"-nan",
            b"1e",
            b"1e400",
            b"-1e400",
            b"1e-400",
            b"0x",
            b".",
            b"1.2.3",
            b"1\x00",
            b"--1",
        ] {
            assert_eq!(parse_score(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse_score(b"0e-400"), Some(0.0));
    }

    #[test]
    fn range_bounds_parse_like_zsl_parse_range() {
        assert_eq!(parse_score_bound(b"1"), Some((1.0, false)));
        assert_eq!(parse_score_bound(b"(1"), Some((1.0, true)));
        assert_eq!(parse_score_bound(b""), Some((0.0, false)));
        assert_eq!(parse_score_bound(b"("), Some((0.0, true)));
        assert_eq!(parse_score_bound(b" 5"), Some((5.0, false)));
        assert_eq!(parse_score_bound(b"1e400"), Some((f64::INFINITY, false)));
        assert_eq!(parse_score_bound(b"-inf"), Some((f64::NEG_INFINITY, false)));
        assert_eq!(parse_score_bound(b"2\x00junk"), Some((2.0, false)));
        for bad in [&b" "[..], b"((1", b"nan", b"[1", b"1x", b"5 "] {
            assert_eq!(parse_score_bound(bad), None);
        }
    }

    #[test]
    fn lex_bounds() {
        assert_eq!(parse_lex_bound(b"-"), Some(LexBound::Min));
        assert_eq!(parse_lex_bound(b"+"), Some(LexBound::Max));
        assert_eq!(parse_lex_bound(b"[a"), Some(LexBound::Incl(b"a".to_vec())));
        assert_eq!(parse_lex_bound(b"("), Some(LexBound::Excl(Vec::new())));
        assert_eq!(parse_lex_bound(b"a"), None);
        assert_eq!(parse_lex_bound(b"+a"), None);
        assert_eq!(parse_lex_bound(b""), None);
    }
}
