//! Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and
//! BITFIELD_RO. A bitmap is a string (`Value::Str`): bit 0 is the most
//! significant bit of the first byte, and bits past the end read as zero.
//! Writes grow the string with zero bytes up to the highest bit they touch;
//! no offset may address a byte at or past `proto-max-bulk-len`.
//!
//! Arguments are checked in Redis 7.2's order, all of them before the key is
//! looked up. BITOP's keys may live on several shards (`Exec::Multi`): the
//! sources are copied out, the result is computed here and stored on the
//! destination's shard, which records it as `SET` or `DEL`.

use super::args::{is, Args, CmdResult, Error};
use super::cross::Cross;
use super::spec::decl::*;
use super::strings::read_str;
use super::{propagate, Ctx};
use crate::resp::parse::parse_i64;
use crate::resp::Out;
use crate::shard::ctx::{Shards, ShardsExt};
use crate::shard::notify::Class;
use crate::types::Value;

const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";

/// Redis's `getBitOffsetFromArgument`: a bit offset, or with `field_bits`
/// (BITFIELD) also `#N`, meaning N fields of that width. The byte it
/// addresses must be below `max_len` (`proto-max-bulk-len`).
fn bit_offset(arg: &[u8], field_bits: Option<u32>, max_len: usize) -> Result<u64, Error> {
    let bad = || Error::msg(BAD_OFFSET);
    let (digits, times) = match (arg.first(), field_bits) {
        (Some(b'#'), Some(bits)) => (&arg[1..], bits as i64),
        _ => (arg, 1),
    };
    // Redis multiplies in C without a check; a wrapped product is judged
    // like any other.
    let offset = parse_i64(digits).ok_or_else(bad)?.wrapping_mul(times);
    if offset < 0 || (offset as u64 >> 3) >= max_len as u64 {
        return Err(bad());
    }
    Ok(offset as u64)
}

/// `BIT` or `BYTE`: whether a range counts bits.
fn parse_unit(arg: &[u8]) -> Result<bool, Error> {
    if is(arg, "bit") {
        Ok(true)
    } else if is(arg, "byte") {
        Ok(false)
    } else {
        Err(Error::SYNTAX)
    }
}

/// Runs `f` on the string at `key` for a write, created or grown with zero
/// bytes so that bit `maxbit` exists; `f` also hears whether it was created
/// or grew. One lookup when the key exists (the common case).
fn with_bits<R>(
    ctx: &mut Ctx,
    key: &[u8],
    maxbit: u64,
    f: impl FnOnce(&mut [u8], bool) -> R,
) -> Result<R, Error> {
    let now = ctx.now;
    let len = (maxbit >> 3) as usize + 1;
    let db = ctx.db();
    match db.get_mut(key, now) {
        Some(Value::Str(s)) => {
            let grew = s.len() < len;
            if grew {
                s.resize(len, 0);
            }
            return Ok(f(s, grew));
        }
        #[allow(unreachable_patterns)]
        Some(_) => return Err(Error::WRONG_TYPE),
        None => {}
    }
    let mut s = vec![0; len];
    let result = f(&mut s, true);
    db.set(key, Value::Str(s), None);
    Ok(result)
}

// ------------------------------------------------------------ SETBIT, GETBIT

pub fn setbit(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let offset = bit_offset(args.next_bytes()?, None, ctx.max_string_len())?;
    let on = match parse_i64(args.next_bytes()?) {
        Some(0) => false,
        Some(1) => true,
        _ => return Err(Error::msg("ERR bit is not an integer or out of range")),
    };
    let (byte, mask) = ((offset >> 3) as usize, 0x80u8 >> (offset & 7));
    let (was, grew) = with_bits(ctx, key, offset, |s, grew| {
        let was = s[byte] & mask != 0;
        if on {
            s[byte] |= mask;
        } else {
            s[byte] &= !mask;
        }
        (was, grew)
    })?;
    // As Redis: a bit that stays as it was in a string that did not grow
    // is no change.
    if grew || was != on {
        ctx.wrote(key);
        ctx.notify(Class::STRING, "setbit", key);
    }
    out.int(was as i64);
    Ok(())
}

pub fn getbit(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let offset = bit_offset(args.next_bytes()?, None, ctx.max_string_len())?;
    let s = read_str(ctx, key)?.unwrap_or_default();
    let bit = s
        .get((offset >> 3) as usize)
        .is_some_and(|b| b & (0x80 >> (offset & 7)) != 0);
    out.int(bit as i64);
    Ok(())
}

// ---------------------------------------------------------- BITCOUNT, BITPOS

/// The bits set in `s`. Where the CPU has POPCNT (checked at run time, as
/// Redis does; the build targets baseline x86-64), a word is one instruction.
pub fn popcount(s: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("popcnt") {
        // SAFETY: the CPU was just found to have POPCNT.
        return unsafe { popcount_with_popcnt(s) };
    }
    popcount_words(s)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn popcount_with_popcnt(s: &[u8]) -> u64 {
    popcount_words(s)
}

/// Four running counts, so that the counts of consecutive words do not
/// wait on each other.
#[inline(always)]
fn popcount_words(s: &[u8]) -> u64 {
    let word = |w: &[u8]| u64::from_ne_bytes(w.try_into().expect("8 bytes")).count_ones() as u64;
    let mut blocks = s.chunks_exact(32);
    let mut n = [0u64; 4];
    for block in blocks.by_ref() {
        for (i, w) in block.chunks_exact(8).enumerate() {
            n[i] += word(w);
        }
    }
    let mut words = blocks.remainder().chunks_exact(8);
    let mut total = n.iter().sum::<u64>() + words.by_ref().map(word).sum::<u64>();
    for b in words.remainder() {
        total += b.count_ones() as u64;
    }
    total
}

/// A `start end` range as Redis normalizes it over `len` units: negative
/// indexes from the end, then clamped into the string. Empty when start >
/// end afterwards.
fn clamp_range(start: i64, end: i64, len: i64) -> (i64, i64) {
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let end = if end < 0 { (len + end).max(0) } else { end };
    (start, end.min(len - 1))
}

/// BITCOUNT over `s`: the whole string, or `(start, end, in_bits)`.
pub fn bitcount_of(s: &[u8], range: Option<(i64, i64, bool)>) -> u64 {
    let Some((start, end, in_bits)) = range else {
        return popcount(s);
    };
    if start < 0 && end < 0 && start > end {
        return 0;
    }
    let len = s.len() as i64;
    let (start, end) = clamp_range(start, end, if in_bits { len << 3 } else { len });
    if start > end {
        return 0;
    }
    if !in_bits {
        return popcount(&s[start as usize..=end as usize]);
    }
    let (first, last) = ((start >> 3) as usize, (end >> 3) as usize);
    // The whole bytes, less the bits of the edge bytes outside the range.
    let outside = (s[first] & !(0xffu8 >> (start & 7))).count_ones()
        + (s[last] & (0x7fu8 >> (end & 7))).count_ones();
    popcount(&s[first..=last]) - outside as u64
}

/// The first bit equal to `bit` among bits `from..=to` of `s`, if any.
fn find_bit(s: &[u8], bit: bool, from: u64, to: u64) -> Option<u64> {
    let skip = if bit { 0x00 } else { 0xff };
    let mut pos = from;
    while pos <= to {
        let byte = s[(pos >> 3) as usize];
        if pos & 7 == 0 && to - pos >= 7 && byte == skip {
            pos += 8;
            continue;
        }
        if (byte & (0x80 >> (pos & 7)) != 0) == bit {
            return Some(pos);
        }
        pos += 1;
    }
    None
}

/// BITPOS over `s` (an existing string): the first `bit` in the range,
/// `start` and `end` in bytes or (`in_bits`) bits. Looking for a 0 with no
/// end given, the string counts as padded with zeros on the right.
pub fn bitpos_of(s: &[u8], bit: bool, start: Option<i64>, end: Option<i64>, in_bits: bool) -> i64 {
    let len = s.len() as i64;
    let units = if in_bits { len << 3 } else { len };
    let (start, end_at) = clamp_range(start.unwrap_or(0), end.unwrap_or(units - 1), units);
    if start > end_at {
        return -1;
    }
    let (from, to) = if in_bits {
        (start as u64, end_at as u64)
    } else {
        ((start as u64) << 3, ((end_at as u64) << 3) + 7)
    };
    match find_bit(s, bit, from, to) {
        Some(pos) => pos as i64,
        None if !bit && end.is_none() => to as i64 + 1,
        None => -1,
    }
}

pub fn bitcount(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let range = match args.remaining() {
        0 => None,
        2 | 3 => {
            let (start, end) = (args.next_i64()?, args.next_i64()?);
            let in_bits = match args.peek() {
                Some(unit) => parse_unit(unit)?,
                None => false,
            };
            Some((start, end, in_bits))
        }
        _ => return Err(Error::SYNTAX),
    };
    let n = read_str(ctx, key)?.map_or(0, |s| bitcount_of(s, range));
    out.int(n as i64);
    Ok(())
}

pub fn bitpos(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let bit = match args.next_i64()? {
        0 => false,
        1 => true,
        _ => return Err(Error::msg("ERR The bit argument must be 1 or 0.")),
    };
    let (mut start, mut end, mut in_bits) = (None, None, false);
    match args.remaining() {
        0 => {}
        1..=3 => {
            start = Some(args.next_i64()?);
            if args.remaining() == 2 {
                in_bits = parse_unit(args.all()[5])?;
            }
            if !args.is_empty() {
                end = Some(args.next_i64()?);
            }
        }
        _ => return Err(Error::SYNTAX),
    }
    let pos = match read_str(ctx, key)? {
        // A missing key is an endless run of zeros.
        None => -(bit as i64),
        Some(s) => bitpos_of(s, bit, start, end, in_bits),
    };
    out.int(pos);
    Ok(())
}

// --------------------------------------------------------------------- BITOP

#[derive(Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// BITOP's operation, then NOT's single source: the errors Redis checks
/// before any key.
fn parse_bitop(argv: &[&[u8]]) -> Result<BitOp, Error> {
    let op = match argv[1] {
        op if is(op, "and") => BitOp::And,
        op if is(op, "or") => BitOp::Or,
        op if is(op, "xor") => BitOp::Xor,
        op if is(op, "not") => BitOp::Not,
        _ => return Err(Error::SYNTAX),
    };
    if op == BitOp::Not && argv.len() != 4 {
        return Err(Error::msg(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    Ok(op)
}

/// The result of `op` over `sources`, as long as the longest (shorter
/// sources count as padded with zero bytes).
fn bitop_of(op: BitOp, sources: &[&[u8]]) -> Vec<u8> {
    let len = sources.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut res = vec![0u8; len];
    if len == 0 {
        return res;
    }
    res[..sources[0].len()].copy_from_slice(sources[0]);
    match op {
        BitOp::Not => res.iter_mut().for_each(|b| *b = !*b),
        BitOp::And => {
            for s in &sources[1..] {
                res.iter_mut().zip(*s).for_each(|(r, b)| *r &= b);
                res[s.len()..].fill(0);
            }
        }
        BitOp::Or => {
            for s in &sources[1..] {
                res.iter_mut().zip(*s).for_each(|(r, b)| *r |= b);
            }
        }
        BitOp::Xor => {
            for s in &sources[1..] {
                res.iter_mut().zip(*s).for_each(|(r, b)| *r ^= b);
            }
        }
    }
    res
}

/// Stores BITOP's result at `dst` (replacing any value and deadline), or
/// deletes `dst` when the result is empty; returns whether it wrote.
fn store_bitop(ctx: &mut Ctx, dst: &[u8], result: Vec<u8>) -> bool {
    let now = ctx.now;
    if !result.is_empty() {
        ctx.db().set(dst, Value::Str(result), None);
        ctx.wrote(dst);
        ctx.notify(Class::STRING, "set", dst);
    } else if ctx.db().remove_live(dst, now).is_some() {
        ctx.wrote(dst);
        ctx.notify(Class::GENERIC, "del", dst);
    } else {
        return false;
    }
    true
}

/// BITOP with every key on this shard.
pub fn bitop(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let argv = args.all();
    let op = parse_bitop(argv)?;
    let (dst, keys) = (argv[2], &argv[3..]);
    // Every source is looked up (in order, the first WRONGTYPE wins), then
    // all are borrowed at once.
    for key in keys {
        read_str(ctx, key)?;
    }
    let now = ctx.now;
    let db = &ctx.shard.dbs[ctx.db];
    let sources: Vec<&[u8]> = keys
        .iter()
        .map(|k| match db.peek(k, now).map(|e| &e.value) {
            Some(Value::Str(s)) => s.as_slice(),
            _ => &[],
        })
        .collect();
    let result = bitop_of(op, &sources);
    let len = result.len();
    store_bitop(ctx, dst, result);
    out.int(len as i64);
    Ok(())
}

/// Copies the strings at `keys` out of their shards (None: missing),
/// looking them up in argument order as Redis does (hits, misses and
/// `keymiss` events included). With `stop`, the first WRONGTYPE ends the
/// lookups; otherwise every key is looked up and the first one is returned.
pub fn snapshot_strs(
    txn: &mut dyn Shards,
    db: usize,
    keys: &[&[u8]],
    stop: bool,
) -> Result<Vec<Option<Vec<u8>>>, Error> {
    let mut found = Vec::with_capacity(keys.len());
    let mut first_err = None;
    for key in keys {
        match txn.ctx_of(key, db, |ctx| {
            read_str(ctx, key).map(|s| s.map(<[u8]>::to_vec))
        }) {
            Ok(s) => found.push(s),
            Err(e) if stop => return Err(e),
            Err(e) => {
                first_err.get_or_insert(e);
                found.push(None);
            }
        }
    }
    first_err.map_or(Ok(found), Err)
}

/// BITOP over keys of several shards; the destination's shard records the
/// stored result alone, as `SET` or `DEL`.
pub fn bitop_across(c: Cross<'_>) -> CmdResult {
    let op = parse_bitop(c.argv)?;
    let (dst, keys) = (c.argv[2], &c.argv[3..]);
    let sources = snapshot_strs(c.txn, c.db, keys, true)?;
    let refs: Vec<&[u8]> = sources
        .iter()
        .map(|s| s.as_deref().unwrap_or_default())
        .collect();
    let result = bitop_of(op, &refs);
    let len = result.len();
    c.txn.ctx_of(dst, c.db, |ctx| {
        let record = (len > 0 && propagate::on(ctx)).then(|| result.clone());
        if store_bitop(ctx, dst, result) {
            match record {
                Some(value) => ctx.propagate(&[b"SET", dst, &value]),
                None => ctx.propagate(&[b"DEL", dst]),
            }
        }
    });
    c.out.int(len as i64);
    Ok(())
}

// ------------------------------------------------------------------ BITFIELD

#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldOp {
    Get,
    Set(i64),
    IncrBy(i64),
}

/// One BITFIELD operation, with the OVERFLOW in force where it was given.
#[derive(Clone, Copy)]
struct Field {
    op: FieldOp,
    signed: bool,
    bits: u32,
    offset: u64,
    overflow: Overflow,
}

/// `i1`..`i64` or `u1`..`u63`. Redis reads the width up to a NUL byte.
fn field_type(arg: &[u8]) -> Result<(bool, u32), Error> {
    let bad = || {
        Error::msg(
            "ERR Invalid bitfield type. Use something like i16 u8. \
             Note that u64 is not supported but i64 is.",
        )
    };
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(bad()),
    };
    let digits = &arg[1..];
    let digits = &digits[..digits.iter().position(|&b| b == 0).unwrap_or(digits.len())];
    match parse_i64(digits) {
        Some(bits) if bits >= 1 && bits <= if signed { 64 } else { 63 } => {
            Ok((signed, bits as u32))
        }
        _ => Err(bad()),
    }
}

/// BITFIELD's operations, every argument checked in Redis's order.
fn parse_fields(argv: &[&[u8]], max_len: usize) -> Result<Vec<Field>, Error> {
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < argv.len() {
        let (sub, more) = (argv[j], argv.len() - j - 1);
        let op = if is(sub, "get") && more >= 2 {
            FieldOp::Get
        } else if (is(sub, "set") || is(sub, "incrby")) && more >= 3 {
            FieldOp::Set(0)
        } else if is(sub, "overflow") && more >= 1 {
            let kind = argv[j + 1];
            overflow = if is(kind, "wrap") {
                Overflow::Wrap
            } else if is(kind, "sat") {
                Overflow::Sat
            } else if is(kind, "fail") {
                Overflow::Fail
            } else {
                return Err(Error::msg("ERR Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(Error::SYNTAX);
        };
        let (signed, bits) = field_type(argv[j + 1])?;
        let offset = bit_offset(argv[j + 2], Some(bits), max_len)?;
        let op = match op {
            FieldOp::Get => FieldOp::Get,
            _ => {
                let n = parse_i64(argv[j + 3]).ok_or(Error::NOT_INTEGER)?;
                if is(sub, "set") {
                    FieldOp::Set(n)
                } else {
                    FieldOp::IncrBy(n)
                }
            }
        };
        fields.push(Field {
            op,
            signed,
            bits,
            offset,
            overflow,
        });
        j += if op == FieldOp::Get { 3 } else { 4 };
    }
    Ok(fields)
}

/// The `bits` bits at `offset` as an unsigned number; bits past the end of
/// `s` read as zero.
fn get_field(s: &[u8], offset: u64, bits: u32) -> u64 {
    (offset..offset + bits as u64).fold(0, |v, pos| {
        let bit = s
            .get((pos >> 3) as usize)
            .is_some_and(|b| b & (0x80 >> (pos & 7)) != 0);
        (v << 1) | bit as u64
    })
}

/// Writes the low `bits` bits of `value` at `offset` (inside `s`).
fn set_field(s: &mut [u8], offset: u64, bits: u32, value: u64) {
    for j in 0..bits as u64 {
        let pos = offset + j;
        let mask = 0x80u8 >> (pos & 7);
        if value >> (bits as u64 - 1 - j) & 1 != 0 {
            s[(pos >> 3) as usize] |= mask;
        } else {
            s[(pos >> 3) as usize] &= !mask;
        }
    }
}

/// A field read as signed: its top bit extended.
fn signed_of(v: u64, bits: u32) -> i64 {
    if bits < 64 && v >> (bits - 1) & 1 != 0 {
        (v | (u64::MAX << bits)) as i64
    } else {
        v as i64
    }
}

/// Redis's `checkUnsignedBitfieldOverflow`: None when `value + incr` fits
/// in `bits` unsigned bits; otherwise the value to store (wrapped or
/// saturated; None inside for FAIL).
fn unsigned_overflow(value: u64, incr: i64, bits: u32, mode: Overflow) -> Option<Option<u64>> {
    let max = (1u64 << bits) - 1;
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = (value as i64).wrapping_neg();
    let limit = if value > max || (incr > 0 && incr > max_incr) {
        max
    } else if incr < 0 && incr < min_incr {
        0
    } else {
        return None;
    };
    Some(match mode {
        Overflow::Wrap => Some(value.wrapping_add(incr as u64) & max),
        Overflow::Sat => Some(limit),
        Overflow::Fail => None,
    })
}

/// Redis's `checkSignedBitfieldOverflow`, as [`unsigned_overflow`].
fn signed_overflow(value: i64, incr: i64, bits: u32, mode: Overflow) -> Option<Option<i64>> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let limit = if value > max
        || (bits != 64 && incr > max_incr)
        || (value >= 0 && incr > 0 && incr > max_incr)
    {
        max
    } else if value < min
        || (bits != 64 && incr < min_incr)
        || (value < 0 && incr < 0 && incr < min_incr)
    {
        min
    } else {
        return None;
    };
    Some(match mode {
        Overflow::Wrap => {
            let sum = (value as u64).wrapping_add(incr as u64);
            Some(signed_of(sum & (u64::MAX >> (64 - bits)), bits))
        }
        Overflow::Sat => Some(limit),
        Overflow::Fail => None,
    })
}

/// Runs one SET or INCRBY on `s`: the reply (None: FAIL stopped it) and
/// whether the field changed.
fn write_field(s: &mut [u8], f: &Field) -> (Option<i64>, bool) {
    let old = get_field(s, f.offset, f.bits);
    let (reply, new) = if f.signed {
        let old = signed_of(old, f.bits);
        let (new, reply_new) = match f.op {
            FieldOp::IncrBy(n) => (
                signed_overflow(old, n, f.bits, f.overflow).unwrap_or(Some(old.wrapping_add(n))),
                true,
            ),
            FieldOp::Set(n) => (
                signed_overflow(n, 0, f.bits, f.overflow).unwrap_or(Some(n)),
                false,
            ),
            FieldOp::Get => unreachable!("a write"),
        };
        let Some(new) = new else {
            return (None, false);
        };
        (if reply_new { new } else { old }, new as u64)
    } else {
        let (new, reply_new) = match f.op {
            FieldOp::IncrBy(n) => (
                unsigned_overflow(old, n, f.bits, f.overflow)
                    .unwrap_or(Some(old.wrapping_add(n as u64))),
                true,
            ),
            FieldOp::Set(n) => (
                unsigned_overflow(n as u64, 0, f.bits, f.overflow).unwrap_or(Some(n as u64)),
                false,
            ),
            FieldOp::Get => unreachable!("a write"),
        };
        let Some(new) = new else {
            return (None, false);
        };
        ((if reply_new { new } else { old }) as i64, new)
    };
    let mask = u64::MAX >> (64 - f.bits);
    set_field(s, f.offset, f.bits, new);
    (Some(reply), new & mask != old & mask)
}

/// A GET: the field, signed or not.
fn read_field(s: &[u8], f: &Field) -> i64 {
    let v = get_field(s, f.offset, f.bits);
    if f.signed {
        signed_of(v, f.bits)
    } else {
        v as i64
    }
}

fn bitfield_generic(ctx: &mut Ctx, args: &mut Args, out: &mut Out, read_only: bool) -> CmdResult {
    let argv = args.all();
    let key = argv[1];
    let fields = parse_fields(argv, ctx.max_string_len())?;
    let writes = fields.iter().filter(|f| f.op != FieldOp::Get);
    let Some(highest) = writes.map(|f| f.offset + f.bits as u64 - 1).max() else {
        let s = read_str(ctx, key)?.unwrap_or_default();
        out.array(fields.len());
        for f in &fields {
            out.int(read_field(s, f));
        }
        return Ok(());
    };
    if read_only {
        return Err(Error::msg(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    let (changed, grew) = with_bits(ctx, key, highest, |s, grew| {
        let mut changed = false;
        out.array(fields.len());
        for f in &fields {
            if f.op == FieldOp::Get {
                out.int(read_field(s, f));
                continue;
            }
            match write_field(s, f) {
                (Some(reply), change) => {
                    out.int(reply);
                    changed |= change || grew;
                }
                (None, _) => out.null(),
            }
        }
        (changed, grew)
    })?;
    if changed {
        ctx.wrote(key);
        ctx.notify(Class::STRING, "setbit", key);
    } else if grew {
        // Redis creates or grows the key without counting it a change when
        // OVERFLOW FAIL stopped every write; it is reported all the same so
        // that the log and WATCH see the key appear.
        ctx.wrote(key);
    }
    Ok(())
}

pub fn bitfield(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    bitfield_generic(ctx, args, out, false)
}

pub fn bitfield_ro(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    bitfield_generic(ctx, args, out, true)
}

// ------------------------------------------------------------------ commands

/// BITOP's keys: the destination, then the sources.
const BITOP_KEYS: &[KeySpec] = &[KeySpec::one(2), KeySpec::range(3, -1, 1)];

/// The bitmap commands, as the command table lists them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("setbit", 4, W, KEY1, "bitmap", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.",
        Exec::Shard(setbit), "key offset value"),
    spec("getbit", 3, RF, KEY1, "bitmap", "Returns a bit value by offset.", Exec::Shard(getbit), "key offset"),
    spec("bitcount", -2, R, KEY1, "bitmap", "Counts the number of set bits (population counting) in a string.",
        Exec::Shard(bitcount), "key [start end [BYTE | BIT]]"),
    spec("bitpos", -3, R, KEY1, "bitmap", "Finds the first set (1) or clear (0) bit in a string.", Exec::Shard(bitpos),
        "key bit [start [end [BYTE | BIT]]]"),
    spec("bitop", -4, W, BITOP_KEYS, "bitmap", "Performs bitwise operations on multiple strings, and stores the result.",
        Exec::Multi(bitop, bitop_across), "<AND | OR | XOR | NOT> destkey key [key ...]"),
    spec("bitfield", -2, W, KEY1, "bitmap", "Performs arbitrary bitfield integer operations on strings.", Exec::Shard(bitfield),
        "key [GET encoding offset | [OVERFLOW <WRAP | SAT | FAIL>] <SET encoding offset value | INCRBY encoding offset increment> [GET encoding offset | [OVERFLOW <WRAP | SAT | FAIL>] <SET encoding offset value | INCRBY encoding offset increment> ...]]"),
    spec("bitfield_ro", -2, RF, KEY1, "bitmap", "Performs arbitrary read-only bitfield integer operations on strings.",
        Exec::Shard(bitfield_ro), "key [GET encoding offset [GET encoding offset ...]]"),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit `i` of `s`, zero past the end.
    fn bit(s: &[u8], i: u64) -> bool {
        get_field(s, i, 1) == 1
    }

    #[test]
    fn fields_read_and_write_big_endian_bits() {
        let mut s = vec![0u8; 2];
        set_field(&mut s, 7, 5, 23);
        assert_eq!(s, [0b0000_0001, 0b0111_0000]);
        assert_eq!(get_field(&s, 7, 5), 23);
        assert_eq!(signed_of(get_field(&s, 7, 5), 5), -9);
        assert_eq!(get_field(&s, 12, 64), 0);
        assert!(bit(&s, 7) && !bit(&s, 8) && !bit(&s, 100));
    }

    #[test]
    fn overflow_as_redis() {
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Wrap), Some(Some(4)));
        assert_eq!(
            unsigned_overflow(250, 10, 8, Overflow::Sat),
            Some(Some(255))
        );
        assert_eq!(unsigned_overflow(5, -10, 8, Overflow::Sat), Some(Some(0)));
        assert_eq!(unsigned_overflow(5, -10, 8, Overflow::Fail), Some(None));
        assert_eq!(unsigned_overflow(5, 10, 8, Overflow::Fail), None);
        assert_eq!(
            signed_overflow(120, 10, 8, Overflow::Wrap),
            Some(Some(-126))
        );
        assert_eq!(signed_overflow(120, 10, 8, Overflow::Sat), Some(Some(127)));
        assert_eq!(
            signed_overflow(-1, i64::MIN, 64, Overflow::Sat),
            Some(Some(i64::MIN))
        );
        assert_eq!(
            signed_overflow(-1, i64::MIN, 64, Overflow::Wrap),
            Some(Some(i64::MAX))
        );
        assert_eq!(
            signed_overflow(i64::MAX, 1, 64, Overflow::Wrap),
            Some(Some(i64::MIN))
        );
        assert_eq!(signed_overflow(0, -128, 8, Overflow::Fail), None);
    }

    #[test]
    fn counts_and_positions_match_a_bit_by_bit_scan() {
        let s: Vec<u8> = (0u32..37)
            .map(|i| (i.wrapping_mul(0x9e37_79b9) >> 13) as u8)
            .collect();
        let bits = s.len() as i64 * 8;
        for (start, end) in [(0, -1), (3, 200), (-9, -2), (5, 5), (-300, 17), (9, 8)] {
            for in_bits in [false, true] {
                let units = if in_bits { bits } else { s.len() as i64 };
                let (a, b) = clamp_range(start, end, units);
                let scale = if in_bits { 1 } else { 8 };
                let range = (a * scale)..((b + 1) * scale).max(a * scale);
                let want = range.clone().filter(|&i| bit(&s, i as u64)).count() as u64;
                let want = if start < 0 && end < 0 && start > end {
                    0
                } else {
                    want
                };
                assert_eq!(bitcount_of(&s, Some((start, end, in_bits))), want);
                for b in [false, true] {
                    let found = range.clone().find(|&i| bit(&s, i as u64) == b);
                    let want = found.unwrap_or(-1);
                    assert_eq!(bitpos_of(&s, b, Some(start), Some(end), in_bits), want);
                }
            }
        }
        assert_eq!(bitpos_of(&[0xff, 0xff], false, None, None, false), 16);
        assert_eq!(bitpos_of(&[0xff, 0xff], false, Some(1), None, false), 16);
        assert_eq!(bitpos_of(&[], false, None, None, false), -1);
    }

    #[test]
    fn popcount_counts_every_length_and_alignment() {
        let s: Vec<u8> = (0u32..300)
            .map(|i| (i.wrapping_mul(0x9e37_79b9) >> 11) as u8)
            .collect();
        for start in 0..9 {
            for end in start..s.len() {
                let want: u64 = s[start..end].iter().map(|b| b.count_ones() as u64).sum();
                assert_eq!(popcount(&s[start..end]), want);
                assert_eq!(popcount_words(&s[start..end]), want);
            }
        }
    }

    #[test]
    fn bitop_pads_short_sources_with_zeros() {
        let (a, b): (&[u8], &[u8]) = (&[0xf0, 0x0f, 0xff], &[0xff]);
        assert_eq!(bitop_of(BitOp::And, &[a, b]), [0xf0, 0, 0]);
        assert_eq!(bitop_of(BitOp::Or, &[b, a]), [0xff, 0x0f, 0xff]);
        assert_eq!(bitop_of(BitOp::Xor, &[a, b]), [0x0f, 0x0f, 0xff]);
        assert_eq!(bitop_of(BitOp::Not, &[a]), [0x0f, 0xf0, 0]);
        assert!(bitop_of(BitOp::And, &[&[], &[]]).is_empty());
    }

    #[test]
    fn offsets_obey_the_bulk_limit() {
        let max = 512 << 20;
        assert_eq!(bit_offset(b"4294967295", None, max), Ok(4294967295));
        assert!(bit_offset(b"4294967296", None, max).is_err());
        assert!(bit_offset(b"-1", None, max).is_err());
        assert!(bit_offset(b"#2", None, max).is_err());
        assert_eq!(bit_offset(b"#2", Some(8), max), Ok(16));
        assert!(bit_offset(b"#", Some(8), max).is_err());
        assert!(bit_offset(b"1 ", None, max).is_err());
    }
}
