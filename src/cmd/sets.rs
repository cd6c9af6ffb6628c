//! Set commands: SADD, SREM, SISMEMBER, SMISMEMBER, SMEMBERS, SCARD, SPOP,
//! SRANDMEMBER, SMOVE, SINTER / SUNION / SDIFF and their STORE forms,
//! SINTERCARD and SSCAN, answering as Redis 7.2 does. The data structure is
//! `types::set`.
//!
//! Invariant kept here (as Redis's `t_set.c` does): a set key never holds an
//! empty set. Sets are only created by commands about to add a member, a
//! STORE with an empty result deletes its destination instead, and every
//! command that removes members deletes the key when the last one goes.
//!
//! Commands whose keys span shards (SMOVE, the set algebra, SINTERCARD) run
//! in `cmd::multi` on top of the pieces here: [`snapshot`] copies a source
//! set out of its shard, [`compute`] is the algebra (the same code a
//! single-shard command runs on borrowed sets), [`store`] writes a result.

use super::args::{is, Args, CmdResult, Error};
use super::cross::Cross;
use super::hashes::{
    distinct_picks, parse_cursor, random_count, random_positions, reply_scan, ScanOpts,
};
use super::spec::decl::*;
use super::Ctx;
use crate::alloc::random_u64;
use crate::resp::parse::parse_i64;
use crate::resp::Out;
use crate::shard::ctx::{Shards, ShardsExt};
use crate::shard::db::{Db, Entry};
use crate::shard::notify::Class;
use crate::shard::route::{group_by_shard, shard_of};
use crate::types::set::Elem;
pub use crate::types::set::Set;
use crate::types::Value;

fn as_set(entry: Option<&Entry>) -> Result<Option<&Set>, Error> {
    match entry.map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(Error::WRONG_TYPE),
    }
}

fn read_set<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c Set>, Error> {
    as_set(ctx.read(key))
}

/// The set at `key` for changing; WRONGTYPE when it holds something else.
pub fn set_mut<'d>(db: &'d mut Db, key: &[u8], now: u64) -> Result<Option<&'d mut Set>, Error> {
    match db.get_mut(key, now) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(Error::WRONG_TYPE),
    }
}

fn put(out: &mut Out, e: Elem) {
    match e {
        Elem::Int(n) => out.bulk_int(n),
        Elem::Bytes(b) => out.bulk(b),
    }
}

pub fn sadd(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let members = args.rest();
    let now = ctx.now;
    let db = ctx.db();
    match set_mut(db, key, now)? {
        Some(set) => set.expect(members.len()),
        None => {
            db.set(
                key,
                Value::Set(Set::for_members(members[0], members.len())),
                None,
            );
        }
    }
    let set = set_mut(db, key, now)?.expect("just created");
    let added = members.iter().filter(|m| set.add(m)).count();
    if added > 0 {
        ctx.wrote(key);
        ctx.notify(Class::SET, "sadd", key);
    }
    out.int(added as i64);
    Ok(())
}

pub fn srem(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let members = args.rest();
    let now = ctx.now;
    let db = ctx.db();
    let Some(set) = set_mut(db, key, now)? else {
        out.int(0);
        return Ok(());
    };
    let mut removed = 0;
    for m in members {
        if set.remove(m) {
            removed += 1;
            if set.is_empty() {
                break;
            }
        }
    }
    let emptied = set.is_empty();
    if emptied {
        db.remove(key);
    }
    if removed > 0 {
        ctx.wrote(key);
        ctx.notify(Class::SET, "srem", key);
        if emptied {
            ctx.notify(Class::GENERIC, "del", key);
        }
    }
    out.int(removed);
    Ok(())
}

pub fn sismember(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let (key, member) = (args.next_bytes()?, args.next_bytes()?);
    let found = read_set(ctx, key)?.is_some_and(|s| s.contains(member));
    out.int(found as i64);
    Ok(())
}

pub fn smismember(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let members = args.rest();
    let set = read_set(ctx, key)?;
    out.array(members.len());
    for m in members {
        out.int(set.is_some_and(|s| s.contains(m)) as i64);
    }
    Ok(())
}

pub fn scard(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let len = read_set(ctx, key)?.map_or(0, Set::len);
    out.int(len as i64);
    Ok(())
}

/// SMEMBERS: a set in RESP3 (`~`), an array in RESP2.
pub fn smembers(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    match read_set(ctx, key)? {
        None => out.set(0),
        Some(s) => {
            out.set(s.len());
            s.iter().for_each(|e| put(out, e));
        }
    }
    Ok(())
}

/// SPOP key [count]: one member as a bulk string, or up to `count` as a set.
pub fn spop(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let count = match args.remaining() {
        0 => None,
        1 => match parse_i64(args.next_bytes()?) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return Err(Error::msg("ERR value is out of range, must be positive")),
        },
        _ => return Err(Error::SYNTAX),
    };
    let now = ctx.now;
    let db = ctx.db();
    let Some(set) = set_mut(db, key, now)? else {
        match count {
            None => out.null(),
            Some(_) => out.set(0),
        }
        return Ok(());
    };
    let take_all = count.is_some_and(|n| n > 0 && n >= set.len());
    let popped: Vec<Vec<u8>> = match count {
        Some(0) => Vec::new(),
        // Redis answers with SUNION of the one set, so the order is that
        // of a set rebuilt member by member (an all-integer listpack comes
        // out sorted, as an intset).
        Some(n) if n >= set.len() => match compute(Op::Union, &[key], &[Some(set)], false, 0) {
            Outcome::Built(all) => all.iter().map(Elem::to_vec).collect(),
            _ => unreachable!("a union builds a set"),
        },
        Some(n) => (0..n)
            .filter_map(|_| set.pop_random(random_u64()))
            .collect(),
        None => set.pop_random(random_u64()).into_iter().collect(),
    };
    let emptied = take_all || set.is_empty();
    if emptied {
        db.remove(key);
    }
    if !popped.is_empty() {
        ctx.wrote(key);
        ctx.notify(Class::SET, "spop", key);
        if emptied {
            ctx.notify(Class::GENERIC, "del", key);
        }
        record_spop(ctx, key, &popped, take_all);
    }
    match count {
        None => out.bulk(&popped[0]),
        Some(_) => {
            out.set(popped.len());
            popped.iter().for_each(|m| out.bulk(m));
        }
    }
    Ok(())
}

/// SPOP's random choice, recorded as what it did (as Redis's spopCommand
/// and spopWithCountCommand): a count that takes the whole set as DEL,
/// otherwise the SREM of the members taken (a plain SPOP's one member even
/// when it was the last), in batches as Redis's (1024 a record).
fn record_spop(ctx: &mut Ctx, key: &[u8], popped: &[Vec<u8>], whole: bool) {
    if !super::propagate::on(ctx) {
        return;
    }
    if whole {
        ctx.propagate(&[b"DEL", key]);
        return;
    }
    for batch in popped.chunks(1024) {
        let mut argv: Vec<&[u8]> = Vec::with_capacity(batch.len() + 2);
        argv.push(b"SREM");
        argv.push(key);
        argv.extend(batch.iter().map(Vec::as_slice));
        ctx.propagate(&argv);
    }
}

/// SRANDMEMBER key [count]: like HRANDFIELD, a negative count may repeat
/// members; the reply is an array (not a set) in RESP3.
pub fn srandmember(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let count = match args.remaining() {
        0 => None,
        1 => Some(random_count(args.next_bytes()?)?),
        _ => return Err(Error::SYNTAX),
    };
    let set = read_set(ctx, key)?;
    let Some(count) = count else {
        match set.and_then(|s| s.random(random_u64())) {
            Some(e) => put(out, e),
            None => out.null(),
        }
        return Ok(());
    };
    let Some(set) = set else {
        out.array(0);
        return Ok(());
    };
    if count < 0 {
        let n = count.unsigned_abs() as usize;
        out.array(n);
        for _ in 0..n {
            put(out, set.random(random_u64()).expect("a set is never empty"));
        }
    } else if count as usize >= set.len() {
        out.array(set.len());
        set.iter().for_each(|e| put(out, e));
    } else if matches!(set, Set::Table(_)) && count as usize * 3 <= set.len() {
        // Few of many (Redis's case 4): random picks until enough distinct.
        let picked = distinct_picks(
            count as usize,
            || set.random(random_u64()),
            |e| match e {
                Elem::Bytes(b) => b,
                Elem::Int(_) => unreachable!("a table holds bytes"),
            },
        );
        out.array(picked.len());
        picked.into_iter().for_each(|e| put(out, e));
    } else {
        let picks = random_positions(set.len(), count as usize);
        out.array(picks.len());
        let mut next = picks.iter().peekable();
        for (i, e) in set.iter().enumerate() {
            if next.peek() == Some(&&i) {
                next.next();
                put(out, e);
            }
        }
    }
    Ok(())
}

/// SSCAN key cursor [MATCH pattern] [COUNT count], in HSCAN's order of checks.
pub fn sscan(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let cursor = parse_cursor(args.next_bytes()?)?;
    let Some(set) = read_set(ctx, key)? else {
        reply_scan(out, 0, &[]);
        return Ok(());
    };
    let opts = ScanOpts::parse(args)?;
    let mut items = Vec::new();
    let next = set.scan(cursor, opts.count, |e| {
        let m = e.bytes();
        if opts.matches(&m) {
            items.push(m.into_owned());
        }
    });
    reply_scan(out, next, &items);
    Ok(())
}

// ------------------------------------------------------------------ SMOVE

/// SMOVE's first look at its source: whether it holds a set (WRONGTYPE
/// when it holds something else).
pub fn source_exists(ctx: &mut Ctx, key: &[u8]) -> Result<bool, Error> {
    let now = ctx.now;
    Ok(set_mut(ctx.db(), key, now)?.is_some())
}

/// Removes `member` from the set at `key`, deleting an emptied key.
pub fn remove_one(ctx: &mut Ctx, key: &[u8], member: &[u8]) -> bool {
    let now = ctx.now;
    let db = ctx.db();
    let Ok(Some(set)) = set_mut(db, key, now) else {
        return false;
    };
    if !set.remove(member) {
        return false;
    }
    let emptied = set.is_empty();
    if emptied {
        db.remove(key);
    }
    ctx.wrote(key);
    ctx.notify(Class::SET, "srem", key);
    if emptied {
        ctx.notify(Class::GENERIC, "del", key);
    }
    true
}

/// Adds `member` to the set at `key` (checked to be absent or a set),
/// creating it the way Redis's SMOVE does.
pub fn add_one(ctx: &mut Ctx, key: &[u8], member: &[u8]) -> bool {
    let now = ctx.now;
    let db = ctx.db();
    if !matches!(set_mut(db, key, now), Ok(Some(_))) {
        db.set(key, Value::Set(Set::for_members(member, 1)), None);
    }
    let added = match set_mut(db, key, now) {
        Ok(Some(s)) => s.add(member),
        _ => false,
    };
    if added {
        ctx.wrote(key);
        ctx.notify(Class::SET, "sadd", key);
    }
    added
}

/// SMOVE source destination member, both keys on this shard. Redis's order:
/// a missing source answers 0 whatever the destination holds; then the
/// source's type, then the destination's.
pub fn smove(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let (src, dst, member) = (args.next_bytes()?, args.next_bytes()?, args.next_bytes()?);
    if !source_exists(ctx, src)? {
        out.int(0);
        return Ok(());
    }
    let now = ctx.now;
    set_mut(ctx.db(), dst, now)?;
    if src == dst {
        let found = set_mut(ctx.db(), src, now)?.is_some_and(|s| s.contains(member));
        out.int(found as i64);
        return Ok(());
    }
    if !remove_one(ctx, src, member) {
        out.int(0);
        return Ok(());
    }
    add_one(ctx, dst, member);
    out.int(1);
    Ok(())
}

// ------------------------------------------------------------ set algebra

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Inter,
    Union,
    Diff,
}

impl Op {
    /// The keyspace event of this operation's STORE form.
    pub fn store_event(self) -> &'static str {
        match self {
            Op::Inter => "sinterstore",
            Op::Union => "sunionstore",
            Op::Diff => "sdiffstore",
        }
    }
}

/// What the algebra produced: SINTER's members in the order Redis replies
/// with them (the smallest set's order), or the set SUNION / SDIFF build
/// (and reply from), or SINTERCARD's count.
pub enum Outcome {
    Members(Vec<Vec<u8>>),
    Built(Set),
    Count(usize),
}

impl Outcome {
    /// The result as a set to store (Redis builds it member by member,
    /// starting from an intset, so the encoding follows the same rules).
    pub fn into_set(self) -> Set {
        match self {
            Outcome::Built(s) => s,
            Outcome::Members(m) => {
                let mut s = Set::new();
                m.iter().for_each(|m| {
                    s.add(m);
                });
                s
            }
            Outcome::Count(_) => unreachable!("SINTERCARD stores nothing"),
        }
    }

    pub fn reply(&self, out: &mut Out) {
        match self {
            Outcome::Members(m) => {
                out.set(m.len());
                m.iter().for_each(|m| out.bulk(m));
            }
            Outcome::Built(s) => {
                out.set(s.len());
                s.iter().for_each(|e| put(out, e));
            }
            Outcome::Count(n) => out.int(*n as i64),
        }
    }
}

/// The algebra over the source sets (`None`: a missing key, an empty set),
/// following Redis's `sinterGenericCommand` / `sunionDiffGenericCommand`
/// step by step, as the order of the reply and the encoding of a stored
/// result depend on it. `keys` are the sources' names (SDIFF of a key with
/// itself is empty); `limit` is SINTERCARD's (0: none), `card` asks for a
/// count only.
pub fn compute(op: Op, keys: &[&[u8]], sets: &[Option<&Set>], card: bool, limit: usize) -> Outcome {
    match op {
        Op::Inter => {
            if sets.iter().any(Option::is_none) {
                return if card {
                    Outcome::Count(0)
                } else {
                    Outcome::Members(Vec::new())
                };
            }
            let mut sorted: Vec<&Set> = sets.iter().map(|s| s.expect("checked")).collect();
            // Smallest first (a stable sort, as glibc's qsort is in practice).
            sorted.sort_by_key(|s| s.len());
            let (first, rest) = sorted.split_first().expect("at least one key");
            let mut members = Vec::new();
            let mut count = 0;
            for e in first.iter() {
                let m = e.bytes();
                if rest.iter().all(|s| s.contains(&m)) {
                    count += 1;
                    if card {
                        if limit != 0 && count >= limit {
                            break;
                        }
                    } else {
                        members.push(m.into_owned());
                    }
                }
            }
            if card {
                Outcome::Count(count)
            } else {
                Outcome::Members(members)
            }
        }
        Op::Union => {
            let mut dst = Set::new();
            for s in sets.iter().flatten() {
                for e in s.iter() {
                    dst.add(&e.bytes());
                }
            }
            Outcome::Built(dst)
        }
        Op::Diff => {
            let mut dst = Set::new();
            let Some(first) = sets[0] else {
                return Outcome::Built(dst);
            };
            if keys[1..]
                .iter()
                .zip(&sets[1..])
                .any(|(k, s)| s.is_some() && *k == keys[0])
            {
                // Subtracting the set from itself.
                return Outcome::Built(dst);
            }
            // Redis's choice: walk the first set checking the others
            // (algorithm 1), or copy it and remove the others' members (2).
            let present = sets.iter().flatten();
            let one: usize = present.clone().map(|_| first.len()).sum::<usize>() / 2;
            let two: usize = present.map(|s| s.len()).sum();
            if one <= two {
                let mut others: Vec<&Set> = sets[1..].iter().flatten().copied().collect();
                // Largest first, to find shared members sooner.
                others.sort_by_key(|s| std::cmp::Reverse(s.len()));
                for e in first.iter() {
                    let m = e.bytes();
                    if !others.iter().any(|s| s.contains(&m)) {
                        dst.add(&m);
                    }
                }
            } else {
                for e in first.iter() {
                    dst.add(&e.bytes());
                }
                for s in sets[1..].iter().flatten() {
                    for e in s.iter() {
                        dst.remove(&e.bytes());
                    }
                    if dst.is_empty() {
                        break;
                    }
                }
            }
            Outcome::Built(dst)
        }
    }
}

/// A source set read for the algebra on another core: a copy (None when
/// the key is missing), or WRONGTYPE. Counts a keyspace hit or miss.
pub fn snapshot(ctx: &mut Ctx, key: &[u8]) -> Result<Option<Set>, Error> {
    Ok(read_set(ctx, key)?.cloned())
}

/// Writes a STORE result: the set replaces whatever `dst` held (and its
/// deadline); an empty result deletes `dst`. Returns the stored size.
pub fn store(ctx: &mut Ctx, dst: &[u8], result: Set, op: Op) -> usize {
    let len = result.len();
    let now = ctx.now;
    if len > 0 {
        ctx.db().set(dst, Value::Set(result), None);
        ctx.wrote(dst);
        ctx.notify(Class::SET, op.store_event(), dst);
    } else if ctx.db().remove_live(dst, now).is_some() {
        ctx.wrote(dst);
        ctx.notify(Class::GENERIC, "del", dst);
    }
    len
}

/// Runs the algebra on sets all held by this shard: looks every source up
/// (in order, the first WRONGTYPE wins), then borrows them all at once.
fn compute_local(
    ctx: &mut Ctx,
    op: Op,
    keys: &[&[u8]],
    card: bool,
    limit: usize,
) -> Result<Outcome, Error> {
    for k in keys {
        read_set(ctx, k)?;
    }
    let now = ctx.now;
    let db = &ctx.shard.dbs[ctx.db];
    let sets: Vec<Option<&Set>> = keys
        .iter()
        .map(|k| as_set(db.peek(k, now)).expect("checked above"))
        .collect();
    Ok(compute(op, keys, &sets, card, limit))
}

fn algebra(ctx: &mut Ctx, args: &mut Args, out: &mut Out, op: Op, stored: bool) -> CmdResult {
    let dst = if stored {
        Some(args.next_bytes()?)
    } else {
        None
    };
    let keys = args.rest();
    let outcome = compute_local(ctx, op, keys, false, 0)?;
    match dst {
        None => outcome.reply(out),
        Some(dst) => {
            let len = store(ctx, dst, outcome.into_set(), op);
            out.int(len as i64);
        }
    }
    Ok(())
}

pub fn sinter(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    algebra(ctx, args, out, Op::Inter, false)
}

pub fn sunion(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    algebra(ctx, args, out, Op::Union, false)
}

pub fn sdiff(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    algebra(ctx, args, out, Op::Diff, false)
}

pub fn sinterstore(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    algebra(ctx, args, out, Op::Inter, true)
}

pub fn sunionstore(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    algebra(ctx, args, out, Op::Union, true)
}

pub fn sdiffstore(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    algebra(ctx, args, out, Op::Diff, true)
}

/// SINTERCARD's arguments: its keys and LIMIT (0: none), with Redis's
/// errors in Redis's order.
pub fn parse_sintercard<'a>(argv: &'a [&'a [u8]]) -> Result<(&'a [&'a [u8]], usize), Error> {
    let numkeys_err = || Error::msg("ERR numkeys should be greater than 0");
    let numkeys = parse_i64(argv[1]).ok_or_else(numkeys_err)?;
    if numkeys < 1 {
        return Err(numkeys_err());
    }
    if numkeys as u64 > (argv.len() - 2) as u64 {
        return Err(Error::msg(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let numkeys = numkeys as usize;
    let keys = &argv[2..2 + numkeys];
    let mut limit = 0;
    let mut i = 2 + numkeys;
    while i < argv.len() {
        if is(argv[i], "limit") && i + 1 < argv.len() {
            limit = match parse_i64(argv[i + 1]) {
                Some(n) if n >= 0 => n as usize,
                _ => return Err(Error::msg("ERR LIMIT can't be negative")),
            };
            i += 2;
        } else {
            return Err(Error::SYNTAX);
        }
    }
    Ok((keys, limit))
}

/// SINTERCARD with every key on this shard (the connection checks).
pub fn sintercard_local(ctx: &mut Ctx, keys: &[&[u8]], limit: usize) -> Result<usize, Error> {
    match compute_local(ctx, Op::Inter, keys, true, limit)? {
        Outcome::Count(n) => Ok(n),
        _ => unreachable!("a count was asked for"),
    }
}

// ---------------------------------------------------------- across shards

/// SINTER / SUNION / SDIFF and their STORE forms over sets of several
/// shards: sources copied out, the result computed here and stored on the
/// destination's shard.
fn algebra_across(c: Cross<'_>, op: Op, storing: bool) -> CmdResult {
    let (dst, srcs) = if storing {
        (Some(c.argv[1]), &c.argv[2..])
    } else {
        (None, &c.argv[1..])
    };
    let sources = snapshot_across(c.txn, c.db, srcs)?;
    let refs: Vec<Option<&Set>> = sources.iter().map(Option::as_ref).collect();
    let outcome = compute(op, srcs, &refs, false, 0);
    match dst {
        None => outcome.reply(c.out),
        Some(dst) => {
            let result = outcome.into_set();
            // The destination's shard replays the stored set alone.
            let len = c.txn.ctx_of(dst, c.db, |ctx| {
                let before = ctx.shard.stats.dirty;
                let len = store(ctx, dst, result, op);
                if ctx.shard.stats.dirty != before {
                    super::propagate::record_state(ctx, dst);
                }
                len
            });
            c.out.int(len as i64);
        }
    }
    Ok(())
}

pub fn sinter_across(c: Cross<'_>) -> CmdResult {
    algebra_across(c, Op::Inter, false)
}

pub fn sinterstore_across(c: Cross<'_>) -> CmdResult {
    algebra_across(c, Op::Inter, true)
}

pub fn sunion_across(c: Cross<'_>) -> CmdResult {
    algebra_across(c, Op::Union, false)
}

pub fn sunionstore_across(c: Cross<'_>) -> CmdResult {
    algebra_across(c, Op::Union, true)
}

pub fn sdiff_across(c: Cross<'_>) -> CmdResult {
    algebra_across(c, Op::Diff, false)
}

pub fn sdiffstore_across(c: Cross<'_>) -> CmdResult {
    algebra_across(c, Op::Diff, true)
}

/// Copies each source set out, shard by shard; the first WRONGTYPE in
/// argument order is the error, as in Redis, where every key is looked at
/// first.
fn snapshot_across(
    txn: &mut dyn Shards,
    db: usize,
    keys: &[&[u8]],
) -> Result<Vec<Option<Set>>, Error> {
    let shards = txn.count();
    let mut found: Vec<Result<Option<Set>, Error>> = (0..keys.len()).map(|_| Ok(None)).collect();
    for (shard, idx) in group_by_shard(0..keys.len(), |&i| shard_of(keys[i], shards)) {
        txn.ctx(shard, db, |ctx| {
            for i in idx {
                found[i] = snapshot(ctx, keys[i]);
            }
        });
    }
    found.into_iter().collect()
}

/// SMOVE with its two keys on different shards.
pub fn smove_across(c: Cross<'_>) -> CmdResult {
    let db = c.db;
    let (src, dst, member) = (c.argv[1], c.argv[2], c.argv[3]);
    let src_found = c.txn.ctx_of(src, db, |ctx| source_exists(ctx, src));
    let dst_ok = c.txn.ctx_of(dst, db, |ctx| source_exists(ctx, dst));
    // Redis's order: a missing source, the source's type, the destination's.
    if !src_found? {
        c.out.int(0);
        return Ok(());
    }
    dst_ok?;
    // Each shard's share replays alone: SREM on the source's, SADD on the
    // destination's.
    let removed = c.txn.ctx_of(src, db, |ctx| {
        let removed = remove_one(ctx, src, member);
        if removed {
            ctx.propagate(&[b"SREM", src, member]);
        }
        removed
    });
    if removed {
        c.txn.ctx_of(dst, db, |ctx| {
            if add_one(ctx, dst, member) {
                ctx.propagate(&[b"SADD", dst, member]);
            }
        });
    }
    c.out.int(removed as i64);
    Ok(())
}

/// SINTERCARD with every key on this shard.
pub fn sintercard(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let (keys, limit) = parse_sintercard(args.all())?;
    out.int(sintercard_local(ctx, keys, limit)? as i64);
    Ok(())
}

/// SINTERCARD over keys of several shards: arguments first, then the keys,
/// locked together.
pub fn sintercard_across(c: Cross<'_>) -> CmdResult {
    let (keys, limit) = parse_sintercard(c.argv)?;
    let sources = snapshot_across(c.txn, c.db, keys)?;
    let refs: Vec<Option<&Set>> = sources.iter().map(Option::as_ref).collect();
    compute(Op::Inter, keys, &refs, true, limit).reply(c.out);
    Ok(())
}

// ------------------------------------------------------------ commands

/// The set commands, as the command table lists them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("sadd", -3, WF, KEY1, "set", "Adds one or more members to a set. Creates the key if it doesn't exist.",
        Exec::Shard(sadd), "key member [member ...]"),
    spec("srem", -3, WDF, KEY1, "set", "Removes one or more members from a set. Deletes the set if the last member was removed.",
        Exec::Shard(srem), "key member [member ...]"),
    spec("sismember", 3, RF, KEY1, "set", "Determines whether a member belongs to a set.", Exec::Shard(sismember), "key member"),
    spec("smismember", -3, RF, KEY1, "set", "Determines whether multiple members belong to a set.", Exec::Shard(smismember),
        "key member [member ...]"),
    spec("smembers", 2, R, KEY1, "set", "Returns all members of a set.", Exec::Shard(smembers), "key"),
    spec("scard", 2, RF, KEY1, "set", "Returns the number of members in a set.", Exec::Shard(scard), "key"),
    spec("spop", -2, WDF, KEY1, "set", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.",
        Exec::Shard(spop), "key [count]"),
    spec("srandmember", -2, R, KEY1, "set", "Get one or multiple random members from a set", Exec::Shard(srandmember),
        "key [count]"),
    spec("smove", 4, WDF, KEYS12, "set", "Moves a member from one set to another.", Exec::Multi(smove, smove_across),
        "source destination member"),
    spec("sinter", -2, R, ALL_KEYS, "set", "Returns the intersect of multiple sets.",
        Exec::Multi(sinter, sinter_across), "key [key ...]"),
    spec("sinterstore", -3, W, ALL_KEYS, "set", "Stores the intersect of multiple sets in a key.",
        Exec::Multi(sinterstore, sinterstore_across), "destination key [key ...]"),
    spec("sunion", -2, R, ALL_KEYS, "set", "Returns the union of multiple sets.",
        Exec::Multi(sunion, sunion_across), "key [key ...]"),
    spec("sunionstore", -3, W, ALL_KEYS, "set", "Stores the union of multiple sets in a key.",
        Exec::Multi(sunionstore, sunionstore_across), "destination key [key ...]"),
    spec("sdiff", -2, R, ALL_KEYS, "set", "Returns the difference of multiple sets.",
        Exec::Multi(sdiff, sdiff_across), "key [key ...]"),
    spec("sdiffstore", -3, W, ALL_KEYS, "set", "Stores the difference of multiple sets in a key.",
        Exec::Multi(sdiffstore, sdiffstore_across), "destination key [key ...]"),
    spec("sintercard", -3, &["readonly", "movablekeys"], NUMKEYS1, "set", "Returns the number of members of the intersect of multiple sets.",
        Exec::Multi(sintercard, sintercard_across), "numkeys key [key ...] [LIMIT limit]"),
    spec("sscan", -3, R, KEY1, "set", "Iterates over members of a set.", Exec::Shard(sscan),
        "key cursor [MATCH pattern] [COUNT count]"),
];
