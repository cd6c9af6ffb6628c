//! Sorted set algebra and the remaining sorted set commands, as Redis 7.2
//! answers them: ZUNION, ZINTER, ZDIFF and their STORE forms, ZINTERCARD,
//! ZRANGESTORE, ZRANDMEMBER and ZSCAN. The data structure is
//! `types::zset`; ZRANGESTORE parses its range with ZRANGE's
//! `zsets::RangeReq`.
//!
//! The algebra follows Redis's `zunionInterDiffGenericCommand` step by
//! step, as its errors, their order and the float results depend on it:
//! `numkeys` is checked, then every source is looked up (a key holding
//! neither a sorted set nor a set is WRONGTYPE before any option is read),
//! then the options; the sources (a set's members score 1) are taken
//! smallest first (stable, as glibc's `qsort` sorts) for a union or an
//! intersection, so a SUM adds in Redis's order; a weighted score that is
//! NaN (`inf * 0`) counts as 0, and so does a SUM of `inf` and `-inf`.
//!
//! A STORE replaces its destination whatever it held (its deadline too),
//! with the encoding Redis gives a computed result: `listpack` when it has
//! at most `zset-max-listpack-entries` members of at most
//! `zset-max-listpack-value` bytes, `skiplist` otherwise. An empty
//! result deletes the destination instead (a `del` event when there was
//! one), so a sorted set key is never empty.
//!
//! Commands whose keys span shards run their cross-shard form: sources are
//! copied out shard by shard, the result is computed here and stored on the
//! destination's shard, which records it as the stored value (so a replay
//! needs no other shard).

use std::borrow::Cow;

use super::args::{is, Args, CmdResult, Error};
use super::cross::Cross;
use super::hashes::{
    distinct_picks, parse_cursor, random_args, random_positions, reply_scan, ScanOpts,
};
use super::sets::Set;
use super::spec::decl::*;
use super::zsets::{read_zset, reply_elements, RangeBy, RangeReq};
use super::Ctx;
use crate::alloc::random_u64;
use crate::persist::rdb::number::format_g17;
use crate::resp::encode::format_double;
use crate::resp::parse::parse_i64;
use crate::resp::Out;
use crate::shard::ctx::{Shards, ShardsExt};
use crate::shard::db::Entry;
use crate::shard::notify::Class;
use crate::shard::route::{group_by_shard, shard_of};
use crate::types::encoding::{zset_max_listpack_entries, zset_max_listpack_value};
use crate::types::zset::{cmp_elements, ZSet};
use crate::types::Value;

// ------------------------------------------------------------------ sources

/// One input of the algebra: a sorted set, a set (every member scores 1),
/// or nothing (a missing key, an empty input).
#[derive(Clone, Copy)]
enum Src<'a> {
    Missing,
    Z(&'a ZSet),
    S(&'a Set),
}

impl<'a> Src<'a> {
    /// The input held by `entry`; WRONGTYPE unless a sorted set or a set.
    fn of(entry: Option<&'a Entry>) -> Result<Src<'a>, Error> {
        match entry.map(|e| &e.value) {
            None => Ok(Src::Missing),
            Some(Value::ZSet(z)) => Ok(Src::Z(z)),
            Some(Value::Set(s)) => Ok(Src::S(s)),
            Some(_) => Err(Error::WRONG_TYPE),
        }
    }

    fn len(self) -> usize {
        match self {
            Src::Missing => 0,
            Src::Z(z) => z.len(),
            Src::S(s) => s.len(),
        }
    }

    fn score(self, member: &[u8]) -> Option<f64> {
        match self {
            Src::Missing => None,
            Src::Z(z) => z.score(member),
            Src::S(s) => s.contains(member).then_some(1.0),
        }
    }

    /// Visits every element (a set's integers as their decimal text).
    fn each(self, mut visit: impl FnMut(Cow<'a, [u8]>, f64)) {
        match self {
            Src::Missing => {}
            Src::Z(z) => z.iter().for_each(|(m, s)| visit(Cow::Borrowed(m), s)),
            Src::S(s) => s.iter().for_each(|e| visit(e.bytes(), 1.0)),
        }
    }
}

/// A source copied out of its shard for a cross-shard form.
enum Owned {
    Missing,
    Z(ZSet),
    S(Set),
}

impl Owned {
    fn src(&self) -> Src<'_> {
        match self {
            Owned::Missing => Src::Missing,
            Owned::Z(z) => Src::Z(z),
            Owned::S(s) => Src::S(s),
        }
    }
}

/// Copies each source out, shard by shard, counting hits and misses; the
/// first WRONGTYPE in argument order is the error.
fn snapshot_across(txn: &mut dyn Shards, db: usize, keys: &[&[u8]]) -> Result<Vec<Owned>, Error> {
    let shards = txn.count();
    let mut found: Vec<Result<Owned, Error>> =
        (0..keys.len()).map(|_| Ok(Owned::Missing)).collect();
    for (shard, idx) in group_by_shard(0..keys.len(), |&i| shard_of(keys[i], shards)) {
        txn.ctx(shard, db, |ctx| {
            for i in idx {
                found[i] = Src::of(ctx.read(keys[i])).map(|s| match s {
                    Src::Missing => Owned::Missing,
                    Src::Z(z) => Owned::Z(z.clone()),
                    Src::S(s) => Owned::S(s.clone()),
                });
            }
        });
    }
    found.into_iter().collect()
}

/// Looks every source up on this shard, in order (counting hits and
/// misses; the first WRONGTYPE wins), then borrows them all at once.
fn sources<'c>(ctx: &'c mut Ctx, keys: &[&[u8]]) -> Result<Vec<Src<'c>>, Error> {
    for k in keys {
        Src::of(ctx.read(k))?;
    }
    let now = ctx.now;
    let db = &ctx.shard.dbs[ctx.db];
    Ok(keys
        .iter()
        .map(|k| Src::of(db.peek(k, now)).expect("checked above"))
        .collect())
}

// ------------------------------------------------------------------ arguments

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Redis's `zunionInterAggregate`: folds `value` into `target`.
    pub fn fold(self, target: &mut f64, value: f64) {
        match self {
            Aggregate::Sum => {
                *target += value;
                // inf + -inf.
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => {
                if value < *target {
                    *target = value;
                }
            }
            Aggregate::Max => {
                if value > *target {
                    *target = value;
                }
            }
        }
    }
}

/// A score times its source's weight; NaN (`inf * 0`) counts as 0.
pub fn weighted(score: f64, weight: f64) -> f64 {
    let v = score * weight;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

/// Which command of the family is parsing (what its options may be).
#[derive(Clone, Copy)]
struct Form {
    name: &'static str,
    op: Op,
    /// The position of `numkeys` (2 with a destination first).
    numkeys_at: usize,
    /// ZINTERCARD: a count, with LIMIT.
    card: bool,
}

impl Form {
    fn store(self) -> bool {
        self.numkeys_at == 2
    }
}

/// The options after the keys.
struct Opts {
    weights: Vec<f64>,
    aggregate: Aggregate,
    withscores: bool,
    limit: usize,
}

/// `numkeys` and the keys, with Redis's errors in Redis's order (checked
/// before any key is looked up).
fn parse_keys<'a>(argv: &'a [&'a [u8]], form: Form) -> Result<&'a [&'a [u8]], Error> {
    let at = form.numkeys_at;
    let n = parse_i64(argv[at]).ok_or(Error::NOT_INTEGER)?;
    if n < 1 {
        return Err(Error::msg(format!(
            "ERR at least 1 input key is needed for '{}' command",
            form.name
        )));
    }
    if n as u64 > (argv.len() - at - 1) as u64 {
        return Err(Error::SYNTAX);
    }
    Ok(&argv[at + 1..at + 1 + n as usize])
}

/// The options after the keys (`rest`), read once the keys were looked up.
fn parse_opts(rest: &[&[u8]], nkeys: usize, form: Form) -> Result<Opts, Error> {
    let mut opts = Opts {
        weights: vec![1.0; nkeys],
        aggregate: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    let algebra = form.op != Op::Diff && !form.card;
    let mut j = 0;
    while j < rest.len() {
        let left = rest.len() - j;
        let opt = rest[j];
        if algebra && left > nkeys && is(opt, "weights") {
            for (w, arg) in opts.weights.iter_mut().zip(&rest[j + 1..]) {
                *w = super::zsets::parse_score(arg)
                    .ok_or(Error::msg("ERR weight value is not a float"))?;
            }
            j += 1 + nkeys;
        } else if algebra && left >= 2 && is(opt, "aggregate") {
            let how = rest[j + 1];
            opts.aggregate = if is(how, "sum") {
                Aggregate::Sum
            } else if is(how, "min") {
                Aggregate::Min
            } else if is(how, "max") {
                Aggregate::Max
            } else {
                return Err(Error::SYNTAX);
            };
            j += 2;
        } else if !form.store() && !form.card && is(opt, "withscores") {
            opts.withscores = true;
            j += 1;
        } else if form.card && left >= 2 && is(opt, "limit") {
            opts.limit = match parse_i64(rest[j + 1]) {
                Some(n) if n >= 0 => n as usize,
                _ => return Err(Error::msg("ERR LIMIT can't be negative")),
            };
            j += 2;
        } else {
            return Err(Error::SYNTAX);
        }
    }
    Ok(opts)
}

// ------------------------------------------------------------------ the algebra

/// An element of a result, its member borrowed from a source when it can be.
pub type Elem<'a> = (Cow<'a, [u8]>, f64);

/// The result of `op` over `srcs` (`keys` are their names), sorted as a
/// sorted set; for ZINTERCARD (`card`) only its size, up to `limit` (0:
/// no limit), is counted and no element is kept.
fn compute<'a>(
    op: Op,
    keys: &[&[u8]],
    srcs: &[Src<'a>],
    opts: &Opts,
    card: bool,
) -> (Vec<Elem<'a>>, usize) {
    let mut order: Vec<usize> = (0..srcs.len()).collect();
    if op != Op::Diff {
        // Smallest first; a stable sort.
        order.sort_by_key(|&i| srcs[i].len());
    }
    let mut out: Vec<Elem<'a>> = Vec::new();
    let mut count = 0;
    match op {
        Op::Inter => {
            let first = order[0];
            srcs[first].each(|m, s| {
                if card && opts.limit != 0 && count >= opts.limit {
                    return;
                }
                let mut score = weighted(s, opts.weights[first]);
                for &j in &order[1..] {
                    match srcs[j].score(&m) {
                        Some(v) => opts.aggregate.fold(&mut score, v * opts.weights[j]),
                        None => return,
                    }
                }
                count += 1;
                if !card {
                    out.push((m, score));
                }
            });
        }
        Op::Union => {
            let mut acc: hashbrown::HashMap<Cow<'a, [u8]>, f64> = hashbrown::HashMap::new();
            for &i in &order {
                srcs[i].each(|m, s| {
                    let v = weighted(s, opts.weights[i]);
                    match acc.entry(m) {
                        hashbrown::hash_map::Entry::Occupied(mut e) => {
                            opts.aggregate.fold(e.get_mut(), v)
                        }
                        hashbrown::hash_map::Entry::Vacant(e) => {
                            e.insert(v);
                        }
                    }
                });
            }
            out = acc.into_iter().collect();
        }
        Op::Diff => {
            // Subtracting the first set from itself leaves nothing.
            if !keys[1..].contains(&keys[0]) {
                srcs[0].each(|m, s| {
                    if srcs[1..].iter().all(|o| o.score(&m).is_none()) {
                        out.push((m, s));
                    }
                });
            }
        }
    }
    out.sort_by(|a, b| cmp_elements((a.1, &a.0), (b.1, &b.0)));
    let n = if card { count } else { out.len() };
    (out, n)
}

/// A computed result as the sorted set Redis stores (`zsetConvertToListpackIfNeeded`).
fn build(result: &[Elem]) -> ZSet {
    let longest = result.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
    let mut z = ZSet::new();
    if result.len() > zset_max_listpack_entries() || longest > zset_max_listpack_value() {
        z.convert_for(usize::MAX, 0);
    }
    for (m, s) in result {
        z.insert(m, *s);
    }
    z
}

/// Writes a STORE result: `z` replaces whatever `dst` held (and its
/// deadline), announced as `event`; an empty result deletes `dst`.
/// Returns the stored size.
fn store(ctx: &mut Ctx, dst: &[u8], z: ZSet, event: &'static str) -> usize {
    let len = z.len();
    let now = ctx.now;
    if len > 0 {
        ctx.db().set(dst, Value::ZSet(Box::new(z)), None);
        ctx.wrote(dst);
        ctx.notify(Class::ZSET, event, dst);
    } else if ctx.db().remove_live(dst, now).is_some() {
        ctx.wrote(dst);
        ctx.notify(Class::GENERIC, "del", dst);
    }
    len
}

/// [`store`] on the destination's shard of a cross-shard form, recorded
/// as the value stored.
fn store_across(
    txn: &mut dyn Shards,
    db: usize,
    dst: &[u8],
    z: ZSet,
    event: &'static str,
) -> usize {
    txn.ctx_of(dst, db, |ctx| {
        let before = ctx.shard.stats.dirty;
        let len = store(ctx, dst, z, event);
        if ctx.shard.stats.dirty != before {
            super::propagate::record_state(ctx, dst);
        }
        len
    })
}

fn event(op: Op) -> &'static str {
    match op {
        Op::Union => "zunionstore",
        Op::Inter => "zinterstore",
        Op::Diff => "zdiffstore",
    }
}

/// The result's reply: the count (ZINTERCARD, a STORE's size) or the
/// elements.
fn reply(out: &mut Out, result: &[Elem], withscores: bool) {
    reply_elements(out, result.iter().map(|(m, s)| (&**m, *s)), withscores);
}

/// The algebra with every key on this shard.
fn algebra(ctx: &mut Ctx, args: &mut Args, out: &mut Out, form: Form) -> CmdResult {
    let argv = args.all();
    let keys = parse_keys(argv, form)?;
    let rest = &argv[form.numkeys_at + 1 + keys.len()..];
    let srcs = sources(ctx, keys)?;
    let opts = parse_opts(rest, keys.len(), form)?;
    let (result, n) = compute(form.op, keys, &srcs, &opts, form.card);
    if form.card {
        out.int(n as i64);
    } else if form.store() {
        let z = build(&result);
        out.int(store(ctx, argv[1], z, event(form.op)) as i64);
    } else {
        reply(out, &result, opts.withscores);
    }
    Ok(())
}

/// The algebra over keys of several shards.
fn algebra_across(c: Cross<'_>, form: Form) -> CmdResult {
    let keys = parse_keys(c.argv, form)?;
    let rest = &c.argv[form.numkeys_at + 1 + keys.len()..];
    let owned = snapshot_across(c.txn, c.db, keys)?;
    let srcs: Vec<Src> = owned.iter().map(Owned::src).collect();
    let opts = parse_opts(rest, keys.len(), form)?;
    let (result, n) = compute(form.op, keys, &srcs, &opts, form.card);
    if form.card {
        c.out.int(n as i64);
    } else if form.store() {
        let len = store_across(c.txn, c.db, c.argv[1], build(&result), event(form.op));
        c.out.int(len as i64);
    } else {
        reply(c.out, &result, opts.withscores);
    }
    Ok(())
}

macro_rules! algebra_commands {
    ($($name:ident, $across:ident, $cmd:literal, $op:ident, $at:literal, $card:literal;)*) => {$(
        pub fn $name(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
            algebra(ctx, args, out, Form { name: $cmd, op: Op::$op, numkeys_at: $at, card: $card })
        }

        pub fn $across(c: Cross<'_>) -> CmdResult {
            algebra_across(c, Form { name: $cmd, op: Op::$op, numkeys_at: $at, card: $card })
        }
    )*};
}

algebra_commands! {
    zunion, zunion_across, "zunion", Union, 1, false;
    zinter, zinter_across, "zinter", Inter, 1, false;
    zdiff, zdiff_across, "zdiff", Diff, 1, false;
    zunionstore, zunionstore_across, "zunionstore", Union, 2, false;
    zinterstore, zinterstore_across, "zinterstore", Inter, 2, false;
    zdiffstore, zdiffstore_across, "zdiffstore", Diff, 2, false;
    zintercard, zintercard_across, "zintercard", Inter, 1, true;
}

// ------------------------------------------------------------------ ZRANGESTORE

/// ZRANGESTORE's result from `z`: the range's elements added in the order
/// Redis emits them, to a set created as `zsetTypeCreate` would (a rank
/// range's length known up front may make it a `skiplist` at once).
fn range_of(z: &ZSet, req: &RangeReq) -> ZSet {
    let (start, end) = req.positions(z);
    let mut dst = ZSet::new();
    if req.by_rank() {
        dst.convert_for(end - start, 0);
    }
    for (m, s) in z.range(start, end, req.reverse) {
        dst.insert(m, s);
    }
    dst
}

/// The source's range, or an empty result when it is missing.
fn read_range(ctx: &mut Ctx, src: &[u8], req: &RangeReq) -> Result<ZSet, Error> {
    Ok(read_zset(ctx, src)?.map_or_else(ZSet::new, |z| range_of(z, req)))
}

/// `ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]`.
pub fn zrangestore(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let argv = args.all();
    let req = RangeReq::parse(argv, 2, true, RangeBy::Auto, None)?;
    let z = read_range(ctx, argv[2], &req)?;
    out.int(store(ctx, argv[1], z, "zrangestore") as i64);
    Ok(())
}

pub fn zrangestore_across(c: Cross<'_>) -> CmdResult {
    let (dst, src) = (c.argv[1], c.argv[2]);
    let req = RangeReq::parse(c.argv, 2, true, RangeBy::Auto, None)?;
    let z = c.txn.ctx_of(src, c.db, |ctx| read_range(ctx, src, &req))?;
    let len = store_across(c.txn, c.db, dst, z, "zrangestore");
    c.out.int(len as i64);
    Ok(())
}

// ------------------------------------------------------------------ ZRANDMEMBER

/// `ZRANDMEMBER key [count [WITHSCORES]]`: Redis's cases (a negative count
/// repeats; a count covering the set answers it whole, highest first; a small
/// set samples in order; a large one picks distinct members at random).
/// With scores: flat in RESP2, `[member, score]` pairs in RESP3.
pub fn zrandmember(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let argv = args.all();
    let key = argv[1];
    if argv.len() == 2 {
        match read_zset(ctx, key)?.and_then(|z| z.random(random_u64())) {
            Some((m, _)) => out.bulk(m),
            None => out.null(),
        }
        return Ok(());
    }
    let (count, withscores) = random_args(&argv[2..], "withscores")?;
    let Some(z) = read_zset(ctx, key)? else {
        out.array(0);
        return Ok(());
    };
    let pairs = withscores && out.resp3();
    let header = |out: &mut Out, n: usize| out.array(if withscores && !pairs { 2 * n } else { n });
    let put = |out: &mut Out, (m, s): (&[u8], f64)| {
        if pairs {
            out.array(2);
        }
        out.bulk(m);
        if withscores {
            out.double(s);
        }
    };
    let len = z.len();
    if count == 0 {
        out.array(0);
    } else if count < 0 || count == 1 {
        let n = count.unsigned_abs() as usize;
        header(out, n);
        for _ in 0..n {
            put(
                out,
                z.random(random_u64()).expect("a sorted set is never empty"),
            );
        }
    } else if count as u64 >= len as u64 {
        // The whole set, as Redis's set-operation iterator walks it: from
        // the highest.
        header(out, len);
        z.range(0, len, true).for_each(|e| put(out, e));
    } else if z.encoding() == "skiplist" && count as usize * 3 <= len {
        // Few of many (Redis's case 4): random picks until enough distinct.
        let picked = distinct_picks(count as usize, || z.random(random_u64()), |e| e.0);
        header(out, picked.len());
        picked.into_iter().for_each(|e| put(out, e));
    } else {
        let picks = random_positions(len, count as usize);
        header(out, picks.len());
        for i in picks {
            put(out, z.get(i).expect("a position inside the set"));
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ ZSCAN

/// A score as ZSCAN shows it: as the listpack holds it (an integer, or the
/// shortest form), or for a `skiplist` as Redis's `ld2string` with
/// `LD_STR_AUTO` (`%.17Lg`).
fn scan_score(score: f64, listpack: bool) -> Vec<u8> {
    if listpack || score.is_infinite() {
        format_double(score).into_bytes()
    } else if score == 0.0 {
        if score.is_sign_negative() {
            b"-0".to_vec()
        } else {
            b"0".to_vec()
        }
    } else {
        format_g17(score).into_bytes()
    }
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count], in HSCAN's order of
/// checks. A `listpack` set comes whole with cursor 0, as in Redis.
pub fn zscan(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let cursor = parse_cursor(args.next_bytes()?)?;
    let Some(z) = read_zset(ctx, key)? else {
        reply_scan(out, 0, &[]);
        return Ok(());
    };
    let opts = ScanOpts::parse(args)?;
    let listpack = z.encoding() == "listpack";
    let mut items = Vec::new();
    let next = z.scan(cursor, opts.count, |m, s| {
        if opts.matches(m) {
            items.push(m.to_vec());
            items.push(scan_score(s, listpack));
        }
    });
    reply_scan(out, next, &items);
    Ok(())
}

// ------------------------------------------------------------------ commands

/// `destination numkeys key [key ...]`.
const DST_NUMKEYS: &[KeySpec] = &[KeySpec::one(1), KeySpec::numkeys(2)];
const WM: &[&str] = &["write", "denyoom", "movablekeys"];
const RM: &[&str] = &["readonly", "movablekeys"];

/// The commands of this module, as the command table lists them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("zunion", -3, RM, NUMKEYS1, "sorted_set", "Returns the union of multiple sorted sets.",
        Exec::Multi(zunion, zunion_across), "numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>] [WITHSCORES]"),
    spec("zinter", -3, RM, NUMKEYS1, "sorted_set", "Returns the intersect of multiple sorted sets.",
        Exec::Multi(zinter, zinter_across), "numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>] [WITHSCORES]"),
    spec("zdiff", -3, RM, NUMKEYS1, "sorted_set", "Returns the difference between multiple sorted sets.",
        Exec::Multi(zdiff, zdiff_across), "numkeys key [key ...] [WITHSCORES]"),
    spec("zunionstore", -4, WM, DST_NUMKEYS, "sorted_set", "Stores the union of multiple sorted sets in a key.",
        Exec::Multi(zunionstore, zunionstore_across), "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>]"),
    spec("zinterstore", -4, WM, DST_NUMKEYS, "sorted_set", "Stores the intersect of multiple sorted sets in a key.",
        Exec::Multi(zinterstore, zinterstore_across), "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>]"),
    spec("zdiffstore", -4, WM, DST_NUMKEYS, "sorted_set", "Stores the difference of multiple sorted sets in a key.",
        Exec::Multi(zdiffstore, zdiffstore_across), "destination numkeys key [key ...]"),
    spec("zintercard", -3, RM, NUMKEYS1, "sorted_set", "Returns the number of members of the intersect of multiple sorted sets.",
        Exec::Multi(zintercard, zintercard_across), "numkeys key [key ...] [LIMIT limit]"),
    spec("zrangestore", -5, W, KEYS12, "sorted_set", "Stores a range of members from sorted set in a key.",
        Exec::Multi(zrangestore, zrangestore_across), "dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]"),
    spec("zrandmember", -2, R, KEY1, "sorted_set", "Returns one or more random members from a sorted set.",
        Exec::Shard(zrandmember), "key [count [WITHSCORES]]"),
    spec("zscan", -3, R, KEY1, "sorted_set", "Iterates over members and scores of a sorted set.",
        Exec::Shard(zscan), "key cursor [MATCH pattern] [COUNT count]"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_fold_as_redis() {
        let mut t = f64::INFINITY;
        Aggregate::Sum.fold(&mut t, f64::NEG_INFINITY);
        assert_eq!(t, 0.0);
        assert_eq!(weighted(f64::INFINITY, 0.0), 0.0);
        let mut t = 2.0;
        Aggregate::Min.fold(&mut t, 1.0);
        assert_eq!(t, 1.0);
        Aggregate::Max.fold(&mut t, 5.0);
        assert_eq!(t, 5.0);
    }

    #[test]
    fn scan_scores_as_redis_prints_them() {
        assert_eq!(scan_score(0.1, true), b"0.1");
        assert_eq!(scan_score(0.1, false), b"0.10000000000000001");
        assert_eq!(scan_score(3.0, false), b"3");
        assert_eq!(scan_score(-0.0, false), b"-0");
        assert_eq!(scan_score(f64::NEG_INFINITY, false), b"-inf");
        assert_eq!(scan_score(1e20, false), b"1e+20");
    }
}
