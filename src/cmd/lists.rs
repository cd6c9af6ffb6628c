//! List commands: pushes and pops at both ends, ranges, positional edits,
//! LPOS, and moves between lists (LMOVE / RPOPLPUSH), as Redis 7.2 answers
//! them. Moves between shards and LMPOP (whose keys may span shards) run in
//! `cmd::multi`, on top of the pieces here.
//!
//! Invariant kept here (as Redis's `t_list.c` does): a list key never holds
//! an empty list. Every command that removes elements deletes the key when
//! the last one goes, so EXISTS, TYPE and the blocking pops never see one.

use super::args::{is, Args, CmdResult, Error};
use super::cross::{self, Cross};
use super::spec::decl::*;
use super::{propagate, Ctx};
use crate::resp::parse::parse_i64;
use crate::resp::Out;
use crate::shard::ctx::{Shards, ShardsExt};
use crate::shard::db::{Db, Entry};
use crate::shard::notify::Class;
use crate::shard::route::shard_of;
use crate::types::list::List;
use crate::types::Value;

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

impl End {
    /// LEFT / RIGHT, as LMOVE and LMPOP spell them.
    pub fn parse(arg: &[u8]) -> Result<End, Error> {
        if is(arg, "left") {
            Ok(End::Left)
        } else if is(arg, "right") {
            Ok(End::Right)
        } else {
            Err(Error::SYNTAX)
        }
    }

    /// The keyspace event of a push at this end.
    pub fn push_event(self) -> &'static str {
        match self {
            End::Left => "lpush",
            End::Right => "rpush",
        }
    }

    /// The keyspace event of a pop from this end.
    pub fn pop_event(self) -> &'static str {
        match self {
            End::Left => "lpop",
            End::Right => "rpop",
        }
    }
}

fn as_list(entry: Option<&Entry>) -> Result<Option<&List>, Error> {
    match entry.map(|e| &e.value) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(Error::WRONG_TYPE),
    }
}

/// The list at `key` for reading (counts a keyspace hit or miss).
fn read_list<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c List>, Error> {
    as_list(ctx.read(key))
}

/// The list at `key` for changing; WRONGTYPE when it holds something else.
pub fn list_mut<'d>(db: &'d mut Db, key: &[u8], now: u64) -> Result<Option<&'d mut List>, Error> {
    match db.get_mut(key, now) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(Error::WRONG_TYPE),
    }
}

/// Whether `key` may receive a push: absent or a list.
pub fn check_pushable(db: &mut Db, key: &[u8], now: u64) -> Result<(), Error> {
    list_mut(db, key, now).map(|_| ())
}

/// Pushes `values` one by one at `end` of the list at `key`, creating it;
/// returns the new length. The caller has checked the type.
pub fn push(ctx: &mut Ctx, key: &[u8], end: End, values: &[&[u8]]) -> Result<usize, Error> {
    let now = ctx.now;
    let db = ctx.db();
    if list_mut(db, key, now)?.is_none() {
        db.set(key, Value::List(List::new()), None);
    }
    let list = list_mut(db, key, now)?.expect("just created");
    for v in values {
        match end {
            End::Left => list.push_front(v),
            End::Right => list.push_back(v),
        }
    }
    let len = list.len();
    // Clients blocked on this key are served after the command.
    ctx.wrote(key);
    ctx.notify(Class::LIST, end.push_event(), key);
    Ok(len)
}

/// Pops up to `count` elements from `end` of the list at `key`, deleting
/// the key when it empties. None when the key does not exist.
pub fn pop(
    ctx: &mut Ctx,
    key: &[u8],
    end: End,
    count: usize,
) -> Result<Option<Vec<Vec<u8>>>, Error> {
    let popped = pop_quiet(ctx, key, end, count)?;
    if popped.as_ref().is_some_and(|v| !v.is_empty()) {
        notify_popped(ctx, key, end);
    }
    Ok(popped)
}

/// The events of a pop from `key`: `lpop`/`rpop`, then `del` if it emptied.
fn notify_popped(ctx: &mut Ctx, key: &[u8], end: End) {
    ctx.notify(Class::LIST, end.pop_event(), key);
    let now = ctx.now;
    if ctx.db().peek(key, now).is_none() {
        ctx.notify(Class::GENERIC, "del", key);
    }
}

/// [`pop`] without its keyspace events, for a move that reports them after
/// its push, in Redis's order.
fn pop_quiet(
    ctx: &mut Ctx,
    key: &[u8],
    end: End,
    count: usize,
) -> Result<Option<Vec<Vec<u8>>>, Error> {
    let now = ctx.now;
    let db = ctx.db();
    let Some(list) = list_mut(db, key, now)? else {
        return Ok(None);
    };
    let mut popped = Vec::with_capacity(count.min(list.len()));
    while popped.len() < count {
        let Some(v) = (match end {
            End::Left => list.pop_front(),
            End::Right => list.pop_back(),
        }) else {
            break;
        };
        popped.push(v);
    }
    let emptied = list.is_empty();
    if emptied {
        db.remove(key);
    }
    if !popped.is_empty() {
        ctx.wrote(key);
    }
    Ok(Some(popped))
}

/// [`pop`], recorded as the plain pop of what it took (`LPOP key`, or
/// `LPOP key n` for a count): what LMPOP and the blocking pops replay as,
/// as Redis propagates them.
pub fn pop_logged(
    ctx: &mut Ctx,
    key: &[u8],
    end: End,
    count: usize,
) -> Result<Option<Vec<Vec<u8>>>, Error> {
    let popped = pop(ctx, key, end, count)?;
    let logged = propagate::on(ctx);
    if let Some(values) = popped.as_ref().filter(|v| logged && !v.is_empty()) {
        let name: &[u8] = if end == End::Left { b"LPOP" } else { b"RPOP" };
        if count == 1 {
            ctx.propagate(&[name, key]);
        } else {
            ctx.propagate(&[name, key, &propagate::num(values.len())]);
        }
    }
    Ok(popped)
}

/// LEFT / RIGHT as a record's argument.
fn end_arg(end: End) -> &'static [u8] {
    match end {
        End::Left => b"LEFT",
        End::Right => b"RIGHT",
    }
}

fn push_generic(
    ctx: &mut Ctx,
    args: &mut Args,
    out: &mut Out,
    end: End,
    only_existing: bool,
) -> CmdResult {
    let key = args.next_bytes()?;
    let values = args.rest();
    let now = ctx.now;
    let exists = list_mut(ctx.db(), key, now)?.is_some();
    if only_existing && !exists {
        out.int(0);
        return Ok(());
    }
    let len = push(ctx, key, end, values)?;
    out.int(len as i64);
    Ok(())
}

pub fn lpush(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    push_generic(ctx, args, out, End::Left, false)
}

pub fn rpush(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    push_generic(ctx, args, out, End::Right, false)
}

pub fn lpushx(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    push_generic(ctx, args, out, End::Left, true)
}

pub fn rpushx(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    push_generic(ctx, args, out, End::Right, true)
}

/// A count argument that must be positive (LPOP/RPOP), Redis's wording.
fn positive_count(arg: &[u8]) -> Result<usize, Error> {
    match parse_i64(arg) {
        Some(n) if n >= 0 => Ok(n as usize),
        _ => Err(Error::msg("ERR value is out of range, must be positive")),
    }
}

fn pop_generic(ctx: &mut Ctx, args: &mut Args, out: &mut Out, end: End) -> CmdResult {
    let key = args.next_bytes()?;
    let count = match args.remaining() {
        0 => None,
        1 => Some(positive_count(args.next_bytes()?)?),
        _ => return Err(Error::arity(if end == End::Left { "lpop" } else { "rpop" })),
    };
    let now = ctx.now;
    let exists = list_mut(ctx.db(), key, now)?.is_some();
    match count {
        None if !exists => out.null(),
        Some(_) if !exists => out.null_array(),
        Some(0) => out.array(0),
        None => {
            let mut popped = pop(ctx, key, end, 1)?.unwrap_or_default();
            out.bulk_opt(popped.pop().as_deref());
        }
        Some(n) => {
            let popped = pop(ctx, key, end, n)?.unwrap_or_default();
            out.array(popped.len());
            popped.iter().for_each(|v| out.bulk(v));
        }
    }
    Ok(())
}

pub fn lpop(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    pop_generic(ctx, args, out, End::Left)
}

pub fn rpop(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    pop_generic(ctx, args, out, End::Right)
}

pub fn llen(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let len = read_list(ctx, key)?.map_or(0, List::len);
    out.int(len as i64);
    Ok(())
}

/// Redis's index normalisation for LRANGE: `start..=end` clipped to the
/// list, or None when the range is empty.
fn clip_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (start + len).max(0)
    } else {
        start
    };
    let end = if end < 0 { end + len } else { end };
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize))
}

pub fn lrange(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let start = args.next_i64()?;
    let end = args.next_i64()?;
    let Some(list) = read_list(ctx, key)? else {
        out.array(0);
        return Ok(());
    };
    match clip_range(start, end, list.len()) {
        None => out.array(0),
        Some((from, to)) => {
            out.array(to - from + 1);
            list.iter_from(from)
                .take(to - from + 1)
                .for_each(|v| out.bulk(v));
        }
    }
    Ok(())
}

/// A list index from the front, or None when it is out of range.
fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let index = if index < 0 { index + len as i64 } else { index };
    (0..len as i64).contains(&index).then_some(index as usize)
}

/// LINDEX and LSET look the key up before they read the index, as Redis does.
pub fn lindex(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let Some(list) = read_list(ctx, key)? else {
        out.null();
        return Ok(());
    };
    let index = args.next_i64()?;
    out.bulk_opt(resolve_index(index, list.len()).and_then(|i| list.get(i)));
    Ok(())
}

pub fn lset(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let now = ctx.now;
    let list = list_mut(ctx.db(), key, now)?.ok_or(Error::NO_SUCH_KEY)?;
    let index = args.next_i64()?;
    let value = args.next_bytes()?;
    let at = resolve_index(index, list.len()).ok_or(Error::msg("ERR index out of range"))?;
    list.set(at, value);
    ctx.wrote(key);
    ctx.notify(Class::LIST, "lset", key);
    out.ok();
    Ok(())
}

pub fn linsert(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let side = args.next_bytes()?;
    let after = if is(side, "after") {
        true
    } else if is(side, "before") {
        false
    } else {
        return Err(Error::SYNTAX);
    };
    let pivot = args.next_bytes()?;
    let value = args.next_bytes()?;
    let now = ctx.now;
    let Some(list) = list_mut(ctx.db(), key, now)? else {
        out.int(0);
        return Ok(());
    };
    let Some(at) = list.iter_from(0).position(|v| v == pivot) else {
        out.int(-1);
        return Ok(());
    };
    list.insert(if after { at + 1 } else { at }, value);
    let len = list.len();
    ctx.wrote(key);
    ctx.notify(Class::LIST, "linsert", key);
    out.int(len as i64);
    Ok(())
}

pub fn lrem(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let count = args.next_i64()?;
    let value = args.next_bytes()?;
    let now = ctx.now;
    let db = ctx.db();
    let Some(list) = list_mut(db, key, now)? else {
        out.int(0);
        return Ok(());
    };
    let removed = list.remove_matching(value, count);
    let emptied = list.is_empty();
    if emptied {
        db.remove(key);
    }
    if removed > 0 {
        ctx.wrote(key);
        ctx.notify(Class::LIST, "lrem", key);
        if emptied {
            ctx.notify(Class::GENERIC, "del", key);
        }
    }
    out.int(removed as i64);
    Ok(())
}

pub fn ltrim(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let start = args.next_i64()?;
    let end = args.next_i64()?;
    let now = ctx.now;
    let db = ctx.db();
    if let Some(list) = list_mut(db, key, now)? {
        let emptied = match clip_range(start, end, list.len()) {
            Some((from, to)) => {
                list.keep_range(from, to);
                false
            }
            // Nothing left: the key goes.
            None => {
                db.remove(key);
                true
            }
        };
        ctx.wrote(key);
        ctx.notify(Class::LIST, "ltrim", key);
        if emptied {
            ctx.notify(Class::GENERIC, "del", key);
        }
    }
    out.ok();
    Ok(())
}

/// LPOS's options, checked in Redis's order.
struct PosOptions {
    rank: i64,
    count: Option<usize>,
    maxlen: usize,
}

fn parse_lpos(args: &mut Args) -> Result<PosOptions, Error> {
    let mut o = PosOptions {
        rank: 1,
        count: None,
        maxlen: 0,
    };
    while !args.is_empty() {
        let opt = args.next_bytes()?;
        if is(opt, "rank") && !args.is_empty() {
            let rank = args.next_i64()?;
            if rank == 0 {
                return Err(Error::msg(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... \
                     or use negative to start from the end of the list",
                ));
            }
            if rank == i64::MIN {
                return Err(Error::msg("ERR value is out of range"));
            }
            o.rank = rank;
        } else if is(opt, "count") && !args.is_empty() {
            let count = args.next_i64().ok().filter(|n| *n >= 0);
            let count = count.ok_or(Error::msg("ERR COUNT can't be negative"))?;
            o.count = Some(count as usize);
        } else if is(opt, "maxlen") && !args.is_empty() {
            let maxlen = args.next_i64().ok().filter(|n| *n >= 0);
            o.maxlen = maxlen.ok_or(Error::msg("ERR MAXLEN can't be negative"))? as usize;
        } else {
            return Err(Error::SYNTAX);
        }
    }
    Ok(o)
}

pub fn lpos(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let value = args.next_bytes()?;
    let o = parse_lpos(args)?;
    let list = read_list(ctx, key)?;
    let mut found = Vec::new();
    if let Some(list) = list {
        let len = list.len();
        let limit = if o.maxlen == 0 {
            len
        } else {
            o.maxlen.min(len)
        };
        // COUNT 0 means every match.
        let wanted = match o.count {
            Some(0) => usize::MAX,
            Some(n) => n,
            None => 1,
        };
        let mut skip = o.rank.unsigned_abs() - 1;
        let mut check = |i: usize, v: &[u8]| {
            if v == value {
                if skip > 0 {
                    skip -= 1;
                } else {
                    found.push(i);
                }
            }
            found.len() >= wanted
        };
        if o.rank > 0 {
            for (i, v) in list.iter_from(0).take(limit).enumerate() {
                if check(i, v) {
                    break;
                }
            }
        } else if len > 0 {
            for (j, v) in list.iter_rev_from(len - 1).take(limit).enumerate() {
                if check(len - 1 - j, v) {
                    break;
                }
            }
        }
    }
    match o.count {
        None => match found.first() {
            Some(&i) => out.int(i as i64),
            None => out.null(),
        },
        Some(_) => {
            out.array(found.len());
            found.iter().for_each(|&i| out.int(i as i64));
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ moves

/// One element moving between two lists: LMOVE and RPOPLPUSH, and BLMOVE
/// and BRPOPLPUSH once their source has one. The rules live here once,
/// wherever the two lists are:
/// - Redis's checks in Redis's order, before anything changes: the source's
///   type, a missing source (the move answers nil), the destination's type;
/// - then pop from the source and push to the destination, each side a write.
#[derive(Clone, Debug)]
pub struct Move {
    pub src: Vec<u8>,
    pub dst: Vec<u8>,
    pub from: End,
    pub to: End,
}

impl Move {
    /// LMOVE's (or with `rpoplpush`, RPOPLPUSH's) arguments.
    pub fn parse(argv: &[&[u8]], rpoplpush: bool) -> Result<Move, Error> {
        let (from, to) = if rpoplpush {
            (End::Right, End::Left)
        } else {
            (End::parse(argv[3])?, End::parse(argv[4])?)
        };
        Ok(Move {
            src: argv[1].to_vec(),
            dst: argv[2].to_vec(),
            from,
            to,
        })
    }

    /// The checks, given what each side's shard saw: whether the source
    /// holds a list, and whether the destination may take a push.
    fn decide(src: Result<bool, Error>, dst: Result<(), Error>) -> Result<bool, Error> {
        if !src? {
            return Ok(false);
        }
        dst?;
        Ok(true)
    }

    /// The source side's look: whether it holds a list.
    fn source_side(ctx: &mut Ctx, src: &[u8]) -> Result<bool, Error> {
        let now = ctx.now;
        Ok(list_mut(ctx.db(), src, now)?.is_some())
    }

    /// The destination side's look: whether it may take a push.
    fn destination_side(ctx: &mut Ctx, dst: &[u8]) -> Result<(), Error> {
        let now = ctx.now;
        check_pushable(ctx.db(), dst, now)
    }

    fn take(ctx: &mut Ctx, src: &[u8], from: End) -> Result<Vec<u8>, Error> {
        Ok(pop_quiet(ctx, src, from, 1)?
            .and_then(|mut v| v.pop())
            .expect("a checked source list is never empty"))
    }

    /// A move within one list: the element goes from one end to the other
    /// of the same list, which never empties on the way (its deadline stays).
    fn rotate(&self, ctx: &mut Ctx) -> Result<Vec<u8>, Error> {
        let now = ctx.now;
        let list = list_mut(ctx.db(), &self.src, now)?.expect("checked: a list");
        let value = match self.from {
            End::Left => list.pop_front(),
            End::Right => list.pop_back(),
        }
        .expect("a checked source list is never empty");
        match self.to {
            End::Left => list.push_front(&value),
            End::Right => list.push_back(&value),
        }
        ctx.wrote(&self.src);
        ctx.notify(Class::LIST, self.to.push_event(), &self.src);
        ctx.notify(Class::LIST, self.from.pop_event(), &self.src);
        self.record(ctx);
        Ok(value)
    }

    /// The move as its record: BLMOVE and BRPOPLPUSH replay as LMOVE.
    fn record(&self, ctx: &mut Ctx) {
        ctx.propagate(&[
            b"LMOVE",
            &self.src,
            &self.dst,
            end_arg(self.from),
            end_arg(self.to),
        ]);
    }

    /// Both lists on this shard: the element moved, or None without a source.
    pub fn run_here(&self, ctx: &mut Ctx) -> Result<Option<Vec<u8>>, Error> {
        let src = Self::source_side(ctx, &self.src);
        let dst = src
            .as_ref()
            .map_or(Ok(()), |_| Self::destination_side(ctx, &self.dst));
        if !Self::decide(src, dst)? {
            return Ok(None);
        }
        if self.src == self.dst {
            return self.rotate(ctx).map(Some);
        }
        let value = Self::take(ctx, &self.src, self.from)?;
        push(ctx, &self.dst, self.to, &[&value])?;
        // Redis's order: the push's events, then the pop's.
        notify_popped(ctx, &self.src, self.from);
        self.record(ctx);
        Ok(Some(value))
    }

    /// The lists on two shards, both held (by a transaction): checks both,
    /// then pops and pushes.
    pub fn run_across(&self, shards: &mut dyn Shards, db: usize) -> Result<Option<Vec<u8>>, Error> {
        let count = shards.count();
        if shard_of(&self.src, count) == shard_of(&self.dst, count) {
            return shards.ctx_of(&self.src, db, |ctx| self.run_here(ctx));
        }
        let src = shards.ctx_of(&self.src, db, |ctx| Self::source_side(ctx, &self.src));
        let dst = shards.ctx_of(&self.dst, db, |ctx| Self::destination_side(ctx, &self.dst));
        if !Self::decide(src, dst)? {
            return Ok(None);
        }
        // Each shard's share replays alone: the pop on the source's shard,
        // the push of the element on the destination's.
        let value = shards.ctx_of(&self.src, db, |ctx| {
            pop_logged(ctx, &self.src, self.from, 1).map(|v| {
                v.and_then(|mut v| v.pop())
                    .expect("a checked source list is never empty")
            })
        })?;
        shards.ctx_of(&self.dst, db, |ctx| {
            let len = push(ctx, &self.dst, self.to, &[&value])?;
            let name: &[u8] = if self.to == End::Left {
                b"LPUSH"
            } else {
                b"RPUSH"
            };
            ctx.propagate(&[name, &self.dst, &value]);
            Ok::<_, Error>(len)
        })?;
        Ok(Some(value))
    }
}

/// LMOVE / RPOPLPUSH when both keys live on this shard.
pub fn lmove(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let mv = Move::parse(args.all(), false)?;
    out.bulk_opt(mv.run_here(ctx)?.as_deref());
    Ok(())
}

pub fn rpoplpush(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let mv = Move::parse(args.all(), true)?;
    out.bulk_opt(mv.run_here(ctx)?.as_deref());
    Ok(())
}

/// LMOVE / RPOPLPUSH between lists on two shards.
pub fn lmove_across(c: Cross<'_>) -> CmdResult {
    let mv = Move::parse(c.argv, c.argv.len() == 3)?;
    c.out.bulk_opt(mv.run_across(c.txn, c.db)?.as_deref());
    Ok(())
}

// ------------------------------------------------------------------ LMPOP

/// LMPOP with every key on this shard: pops from the first key holding a
/// list, in argument order (a key of another type met first is WRONGTYPE).
pub fn lmpop(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let m = parse_mpop(args.all())?;
    let now = ctx.now;
    for key in m.keys {
        if list_mut(ctx.db(), key, now)?.is_none() {
            continue;
        }
        let values = pop_logged(ctx, key, m.end, m.count)?.unwrap_or_default();
        reply_mpop(out, key, &values);
        return Ok(());
    }
    out.null_array();
    Ok(())
}

/// LMPOP over keys of several shards, every shard held while it decides.
pub fn lmpop_across(c: Cross<'_>) -> CmdResult {
    let m = parse_mpop(c.argv)?;
    let keys: Vec<Vec<u8>> = m.keys.iter().map(|k| k.to_vec()).collect();
    let (end, count) = (m.end, m.count);
    let popped = cross::first_holding(c.txn, c.db, &keys, holds_list, move |ctx, key| {
        pop_logged(ctx, key, end, count).map(Option::unwrap_or_default)
    })?;
    match popped {
        Some((i, values)) => reply_mpop(c.out, &keys[i], &values),
        None => c.out.null_array(),
    }
    Ok(())
}

/// Whether `key` holds a list (WRONGTYPE when it holds something else).
pub fn holds_list(ctx: &mut Ctx, key: &[u8]) -> Result<bool, Error> {
    let now = ctx.now;
    Ok(list_mut(ctx.db(), key, now)?.is_some())
}

/// LMPOP's arguments: `numkeys key... LEFT|RIGHT [COUNT n]`.
pub struct Mpop<'a> {
    pub keys: &'a [&'a [u8]],
    pub end: End,
    pub count: usize,
}

/// Parses LMPOP's arguments after the command name, with Redis's errors.
pub fn parse_mpop<'a>(argv: &'a [&'a [u8]]) -> Result<Mpop<'a>, Error> {
    let numkeys = parse_i64(argv[1]).ok_or(Error::msg("ERR numkeys should be greater than 0"))?;
    if numkeys <= 0 {
        return Err(Error::msg("ERR numkeys should be greater than 0"));
    }
    let numkeys = numkeys as usize;
    if numkeys > argv.len() - 2 {
        return Err(Error::SYNTAX);
    }
    let keys = &argv[2..2 + numkeys];
    let mut rest = Args::new(&argv[1 + numkeys..]);
    let end = End::parse(rest.next_bytes()?)?;
    let mut count = None;
    while !rest.is_empty() {
        if rest.eat("count") && count.is_none() && !rest.is_empty() {
            let n = rest.next_i64().ok().filter(|n| *n > 0);
            count = Some(n.ok_or(Error::msg("ERR count should be greater than 0"))? as usize);
        } else {
            return Err(Error::SYNTAX);
        }
    }
    Ok(Mpop {
        keys,
        end,
        count: count.unwrap_or(1),
    })
}

/// `[key, [elements]]`, LMPOP's reply.
pub fn reply_mpop(out: &mut Out, key: &[u8], values: &[Vec<u8>]) {
    out.array(2);
    out.bulk(key);
    out.array(values.len());
    values.iter().for_each(|v| out.bulk(v));
}

// ------------------------------------------------------------ commands

/// The list commands, as the command table lists them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("lpush", -3, WF, KEY1, "list", "Prepends one or more elements to a list. Creates the key if it doesn't exist.",
        Exec::Shard(lpush), "key element [element ...]"),
    spec("rpush", -3, WF, KEY1, "list", "Appends one or more elements to a list. Creates the key if it doesn't exist.",
        Exec::Shard(rpush), "key element [element ...]"),
    spec("lpushx", -3, WF, KEY1, "list", "Prepends one or more elements to a list only when the list exists.",
        Exec::Shard(lpushx), "key element [element ...]"),
    spec("rpushx", -3, WF, KEY1, "list", "Appends an element to a list only when the list exists.",
        Exec::Shard(rpushx), "key element [element ...]"),
    spec("lpop", -2, WDF, KEY1, "list", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.",
        Exec::Shard(lpop), "key [count]"),
    spec("rpop", -2, WDF, KEY1, "list", "Returns and removes the last elements of a list. Deletes the list if the last element was popped.",
        Exec::Shard(rpop), "key [count]"),
    spec("llen", 2, RF, KEY1, "list", "Returns the length of a list.", Exec::Shard(llen), "key"),
    spec("lrange", 4, R, KEY1, "list", "Returns a range of elements from a list.", Exec::Shard(lrange), "key start stop"),
    spec("lindex", 3, R, KEY1, "list", "Returns an element from a list by its index.", Exec::Shard(lindex), "key index"),
    spec("lset", 4, W, KEY1, "list", "Sets the value of an element in a list by its index.", Exec::Shard(lset), "key index element"),
    spec("linsert", 5, W, KEY1, "list", "Inserts an element before or after another element in a list.", Exec::Shard(linsert),
        "key <BEFORE | AFTER> pivot element"),
    spec("lrem", 4, WD, KEY1, "list", "Removes elements from a list. Deletes the list if the last element was removed.",
        Exec::Shard(lrem), "key count element"),
    spec("ltrim", 4, WD, KEY1, "list", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.",
        Exec::Shard(ltrim), "key start stop"),
    spec("lpos", -3, R, KEY1, "list", "Returns the index of matching elements in a list.", Exec::Shard(lpos),
        "key element [RANK rank] [COUNT num-matches] [MAXLEN len]"),
    spec("rpoplpush", 3, W, KEYS12, "list", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.",
        Exec::Multi(rpoplpush, lmove_across), "source destination"),
    spec("lmove", 5, W, KEYS12, "list", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.",
        Exec::Multi(lmove, lmove_across), "source destination <LEFT | RIGHT> <LEFT | RIGHT>"),
    spec("lmpop", -4, &["write", "movablekeys"], NUMKEYS1, "list", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.",
        Exec::Multi(lmpop, lmpop_across), "numkeys key [key ...] <LEFT | RIGHT> [COUNT count]"),
    spec("blpop", -3, &["write", "noscript", "blocking"], KEYS_TIMEOUT, "list",
        "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
        Exec::Client(|c, a| Box::pin(super::list_blocking::run(c, super::list_blocking::ListCmd::Blpop, a))), "key [key ...] timeout"),
    spec("brpop", -3, &["write", "noscript", "blocking"], KEYS_TIMEOUT, "list",
        "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
        Exec::Client(|c, a| Box::pin(super::list_blocking::run(c, super::list_blocking::ListCmd::Brpop, a))), "key [key ...] timeout"),
    spec("blmpop", -5, &["write", "blocking", "movablekeys"], NUMKEYS2, "list",
        "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
        Exec::Client(|c, a| Box::pin(super::list_blocking::run(c, super::list_blocking::ListCmd::Blmpop, a))), "timeout numkeys key [key ...] <LEFT | RIGHT> [COUNT count]"),
    spec("blmove", 6, &["write", "denyoom", "noscript", "blocking"], KEYS12, "list",
        "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.",
        Exec::Client(|c, a| Box::pin(super::list_blocking::run(c, super::list_blocking::ListCmd::Blmove, a))), "source destination <LEFT | RIGHT> <LEFT | RIGHT> timeout"),
    spec("brpoplpush", 4, &["write", "denyoom", "noscript", "blocking"], KEYS12, "list",
        "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.",
        Exec::Client(|c, a| Box::pin(super::list_blocking::run(c, super::list_blocking::ListCmd::Brpoplpush, a))), "source destination timeout"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_clip_as_redis() {
        assert_eq!(clip_range(0, -1, 5), Some((0, 4)));
        assert_eq!(clip_range(-100, 100, 5), Some((0, 4)));
        assert_eq!(clip_range(3, 1, 5), None);
        assert_eq!(clip_range(5, 10, 5), None);
        assert_eq!(clip_range(-2, -1, 5), Some((3, 4)));
        assert_eq!(clip_range(0, -6, 5), None);
        assert_eq!(clip_range(0, 0, 0), None);
    }

    #[test]
    fn indexes_count_from_either_end() {
        assert_eq!(resolve_index(0, 3), Some(0));
        assert_eq!(resolve_index(-1, 3), Some(2));
        assert_eq!(resolve_index(3, 3), None);
        assert_eq!(resolve_index(-4, 3), None);
    }
}
