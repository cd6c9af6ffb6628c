//! SORT and SORT_RO: a list's, set's or sorted set's elements, sorted by
//! themselves or by other keys (`BY weight_*`, `BY h_*->field`), with the
//! values of other keys fetched for each (`GET obj_*`, `GET #`), optionally
//! stored as a list (`STORE`).
//!
//! Why SORT may hold every shard: its BY and GET patterns name keys built
//! from the elements, which may live on any shard, and which no key
//! specification can declare. So it runs as `Exec::Anywhere`, inside one
//! transaction (the caller's inside EXEC or a script, which holds every
//! shard, else its own): every key it reads and the one it stores are seen
//! at one point in time, as in Redis. Its own transaction takes every shard
//! when a pattern names keys, and only the shards of its key and STORE's
//! otherwise; it runs at once when those are here and free.
//!
//! What Redis's `sortCommandGeneric` does, kept here: options are parsed
//! before the key is looked up; numeric sorting ties are broken by the
//! elements' bytes (so the result is deterministic); `BY` without `*` does
//! not sort (list and sorted set keep their order, DESC reverses it; a set
//! is sorted as ALPHA anyway when stored or inside a script, so that the
//! result replays the same); a score that is not a number fails the
//! command after the sort (`One or more scores can't be converted into
//! double`); a STORE of nothing deletes the destination.

use std::cmp::Ordering;

use super::args::{is, CmdResult, Error};
use super::exec::Client;
use super::propagate;
use super::spec::decl::*;
use super::spec::{Begin, Find};
use crate::resp::parse::parse_i64;
use crate::resp::Out;
use crate::shard::ctx::{Shards, ShardsExt};
use crate::shard::notify::Class;
use crate::shard::route::shard_of;
use crate::shard::txn::Txn;
use crate::types::list::List;
use crate::types::Value;

/// SORT's parsed arguments.
#[derive(Debug, Default)]
pub struct SortArgs<'a> {
    pub key: &'a [u8],
    pub desc: bool,
    pub alpha: bool,
    pub limit_start: i64,
    pub limit_count: i64,
    pub by: Option<&'a [u8]>,
    /// BY with no `*`: nothing to sort by.
    pub dontsort: bool,
    pub gets: Vec<&'a [u8]>,
    pub store: Option<&'a [u8]>,
}

/// Parses SORT's (`readonly`: SORT_RO's, which has no STORE) arguments in
/// Redis's order: the first bad one is the error.
pub fn parse<'a>(argv: &[&'a [u8]], readonly: bool) -> Result<SortArgs<'a>, Error> {
    let mut a = SortArgs {
        key: argv[1],
        limit_count: -1,
        ..SortArgs::default()
    };
    let mut j = 2;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let opt = argv[j];
        if is(opt, "asc") {
            a.desc = false;
        } else if is(opt, "desc") {
            a.desc = true;
        } else if is(opt, "alpha") {
            a.alpha = true;
        } else if is(opt, "limit") && left >= 2 {
            a.limit_start = parse_i64(argv[j + 1]).ok_or(Error::NOT_INTEGER)?;
            a.limit_count = parse_i64(argv[j + 2]).ok_or(Error::NOT_INTEGER)?;
            j += 2;
        } else if !readonly && is(opt, "store") && left >= 1 {
            a.store = Some(argv[j + 1]);
            j += 1;
        } else if is(opt, "by") && left >= 1 {
            a.by = Some(argv[j + 1]);
            a.dontsort = !argv[j + 1].contains(&b'*');
            j += 1;
        } else if is(opt, "get") && left >= 1 {
            a.gets.push(argv[j + 1]);
            j += 1;
        } else {
            return Err(Error::SYNTAX);
        }
        j += 1;
    }
    Ok(a)
}

/// Parses a number as C's `strtod` does over the whole string (leading
/// white space allowed, nothing after the number, NaN and out-of-range
/// values refused): Redis's test for a sort score. The bytes up to a NUL
/// are what C sees.
pub fn strtod_whole(s: &[u8]) -> Option<f64> {
    let s = &s[..s.iter().position(|&b| b == 0).unwrap_or(s.len())];
    if s.is_empty() {
        // No conversion, and the end pointer is at the terminator: 0.
        return Some(0.0);
    }
    let text = std::str::from_utf8(s).ok()?;
    let text = text.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let value = if lower == "inf" || lower == "infinity" {
        f64::INFINITY
    } else if lower.starts_with("nan") {
        return None;
    } else if let Some(hex) = lower.strip_prefix("0x") {
        parse_hex(hex)?
    } else {
        if !body
            .bytes()
            .all(|b| b.is_ascii_digit() || b".eE+-".contains(&b))
        {
            return None;
        }
        let v: f64 = body.parse().ok()?;
        let mantissa = body.split(['e', 'E']).next().unwrap_or("");
        let nonzero = mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b));
        // ERANGE: overflow to infinity, or underflow below the normal range.
        if v.is_infinite() || (nonzero && v.abs() < f64::MIN_POSITIVE) {
            return None;
        }
        v
    };
    Some(if neg { -value } else { value })
}

/// A C99 hexadecimal float's digits after `0x` (`1f`, `1.8`, `1p4`).
fn parse_hex(s: &str) -> Option<f64> {
    let (mantissa, exp) = match s.split_once('p') {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    let v = v * 2f64.powi(exp);
    (!v.is_infinite()).then_some(v)
}

/// What a pattern names for `element` (Redis's `lookupKeyByPattern`): the
/// element itself for `#`; else the string at the key made by putting the
/// element in place of the first `*`, or, with `->field` after it, that
/// field of the hash there. None when there is no `*` or nothing there.
fn lookup_pattern(
    shards: &mut dyn Shards,
    db: usize,
    pattern: &[u8],
    element: &[u8],
) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(element.to_vec());
    }
    let star = pattern.iter().position(|&b| b == b'*')?;
    let after = &pattern[star + 1..];
    let arrow = after.windows(2).position(|w| w == b"->");
    let (suffix, field) = match arrow {
        Some(i) if i + 2 < after.len() => (&after[..i], Some(&after[i + 2..])),
        _ => (after, None),
    };
    let mut key = Vec::with_capacity(pattern.len() + element.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(element);
    key.extend_from_slice(suffix);
    shards.ctx_of(&key, db, |ctx| match (&ctx.read(&key)?.value, field) {
        (Value::Str(s), None) => Some(s.clone()),
        (Value::Hash(h), Some(f)) => h.get(f).map(<[u8]>::to_vec),
        _ => None,
    })
}

/// What SORT sorts by, per element.
enum Weight {
    Score(f64),
    Text(Option<Vec<u8>>),
}

/// Runs SORT with `a` on `shards`, which hold every shard; `script`: it
/// runs for a script (a set's unsorted order is then made deterministic).
pub fn run(
    shards: &mut dyn Shards,
    db: usize,
    a: &SortArgs,
    script: bool,
    out: &mut Out,
) -> CmdResult {
    #[derive(PartialEq)]
    enum Kind {
        List,
        Set,
        ZSet,
    }
    let loaded = shards.ctx_of(a.key, db, |ctx| match ctx.read(a.key) {
        None => Ok((Kind::List, Vec::new())),
        Some(entry) => match &entry.value {
            Value::List(l) => Ok((Kind::List, l.iter_from(0).map(<[u8]>::to_vec).collect())),
            Value::Set(s) => Ok((Kind::Set, s.iter().map(|e| e.to_vec()).collect())),
            Value::ZSet(z) => Ok((
                Kind::ZSet,
                z.range(0, z.len(), false)
                    .map(|(m, _)| m.to_vec())
                    .collect(),
            )),
            _ => Err(Error::WRONG_TYPE),
        },
    });
    let (kind, mut elements) = loaded?;
    let (mut dontsort, mut alpha, mut by) = (a.dontsort, a.alpha, a.by);
    if dontsort && kind == Kind::Set && (a.store.is_some() || script) {
        (dontsort, alpha, by) = (false, true, None);
    }
    let mut bad_score = false;
    if dontsort {
        if a.desc && kind != Kind::Set {
            elements.reverse();
        }
    } else {
        let weights: Vec<Weight> = elements
            .iter()
            .map(|e| {
                let found = match by {
                    Some(p) => lookup_pattern(shards, db, p, e),
                    None => None,
                };
                if alpha {
                    return Weight::Text(found);
                }
                let text = match (by, &found) {
                    (Some(_), None) => return Weight::Score(0.0),
                    (Some(_), Some(v)) => v.as_slice(),
                    (None, _) => e.as_slice(),
                };
                match strtod_whole(text) {
                    Some(score) => Weight::Score(score),
                    None => {
                        bad_score = true;
                        Weight::Score(0.0)
                    }
                }
            })
            .collect();
        let mut order: Vec<(Weight, Vec<u8>)> = weights.into_iter().zip(elements).collect();
        order.sort_by(|(wa, ea), (wb, eb)| {
            let cmp = match (wa, wb) {
                (Weight::Score(x), Weight::Score(y)) => x
                    .partial_cmp(y)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| ea.cmp(eb)),
                // Alphanumeric by pattern: a missing value sorts first.
                (Weight::Text(x), Weight::Text(y)) if by.is_some() => x.cmp(y),
                _ => ea.cmp(eb),
            };
            if a.desc {
                cmp.reverse()
            } else {
                cmp
            }
        });
        elements = order.into_iter().map(|(_, e)| e).collect();
    }
    // LIMIT as Redis clamps it.
    let len = elements.len() as i64;
    let mut start = a.limit_start.clamp(0, len);
    let count = a.limit_count.clamp(-1, len);
    let mut end = if count < 0 {
        len - 1
    } else {
        start + count - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    end = end.min(len - 1);
    if bad_score {
        return Err(Error::msg(
            "ERR One or more scores can't be converted into double",
        ));
    }
    let picked = if end >= start {
        &elements[start as usize..=end as usize]
    } else {
        &[][..]
    };
    let mut results: Vec<Option<Vec<u8>>> = Vec::new();
    for e in picked {
        if a.gets.is_empty() {
            results.push(Some(e.clone()));
        }
        for pattern in &a.gets {
            results.push(lookup_pattern(shards, db, pattern, e));
        }
    }
    match a.store {
        None => {
            out.array(results.len());
            for r in &results {
                out.bulk_opt(r.as_deref());
            }
        }
        Some(dst) => {
            store(shards, db, dst, &results);
            out.int(results.len() as i64);
        }
    }
    Ok(())
}

/// SORT ... STORE: the results as a list (a missing GET value as an empty
/// string), the key's deadline dropped; nothing to store deletes the key.
fn store(shards: &mut dyn Shards, db: usize, dst: &[u8], results: &[Option<Vec<u8>>]) {
    shards.ctx_of(dst, db, |ctx| {
        let now = ctx.now;
        if results.is_empty() {
            if ctx.db().remove_live(dst, now).is_some() {
                ctx.wrote(dst);
                ctx.notify(Class::GENERIC, "del", dst);
                ctx.propagate(&[b"DEL", dst]);
            }
            return;
        }
        let mut list = List::new();
        for r in results {
            list.push_back(r.as_deref().unwrap_or_default());
        }
        // Looked up as a write first: an expired key goes (and is reported).
        ctx.db().contains(dst, now);
        ctx.db().set(dst, Value::List(list), None);
        ctx.wrote(dst);
        ctx.notify(Class::LIST, "sortstore", dst);
        // Its elements came from keys anywhere: it replays as its state.
        propagate::record_state(ctx, dst);
    });
}

/// The shards SORT uses: every one when a BY or GET pattern names keys
/// (it has a `*`; `#` names none), else its key's and STORE's.
fn shards_used(a: &SortArgs, shards: usize) -> Vec<usize> {
    let names_keys = |p: &[u8]| p != b"#" && p.contains(&b'*');
    if a.by.is_some_and(names_keys) || a.gets.iter().any(|p| names_keys(p)) {
        return (0..shards).collect();
    }
    let mut used = vec![shard_of(a.key, shards)];
    used.extend(a.store.map(|k| shard_of(k, shards)));
    used.sort_unstable();
    used.dedup();
    used
}

async fn sort_generic(c: &mut dyn Client, argv: &[&[u8]], readonly: bool) -> CmdResult {
    let a = parse(argv, readonly)?;
    let db = c.db();
    let script = c.session().is_none();
    let (out, txn) = c.out_and_txn();
    if let Some(txn) = txn {
        return run(txn, db, &a, script, out);
    }
    let core = c.core().clone();
    let mut txn = Txn::new(&core);
    txn.now = Some(c.now());
    txn.take_all(shards_used(&a, core.cores())).await;
    run(&mut txn, db, &a, script, c.out())
}

/// SORT at once, when the shards it uses are here and free; None, having
/// changed nothing, otherwise.
fn sort_now_generic(c: &mut dyn Client, argv: &[&[u8]], readonly: bool) -> Option<CmdResult> {
    let a = match parse(argv, readonly) {
        Ok(a) => a,
        Err(e) => return Some(Err(e)),
    };
    let core = c.core().clone();
    let mut txn = Txn::new(&core);
    txn.now = Some(c.now());
    if !shards_used(&a, core.cores())
        .into_iter()
        .all(|shard| txn.try_take(shard))
    {
        return None;
    }
    let (db, script) = (c.db(), c.session().is_none());
    Some(run(&mut txn, db, &a, script, c.out()))
}

pub async fn sort(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    sort_generic(c, argv, false).await
}

pub async fn sort_ro(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    sort_generic(c, argv, true).await
}

fn sort_now(c: &mut dyn Client, argv: &[&[u8]]) -> Option<CmdResult> {
    sort_now_generic(c, argv, false)
}

fn sort_ro_now(c: &mut dyn Client, argv: &[&[u8]]) -> Option<CmdResult> {
    sort_now_generic(c, argv, true)
}

// ------------------------------------------------------------ commands

/// SORT's keys: the one it sorts, and the one after the last STORE (searched
/// from the end, as the last STORE is the one that counts). The keys its
/// patterns name cannot be declared (see the module documentation).
const SORT_KEYS: &[KeySpec] = &[
    KeySpec::one(1),
    KeySpec {
        begin: Begin::Keyword {
            word: "STORE",
            from: -2,
        },
        find: Find::Range {
            last: 0,
            step: 1,
            limit: 0,
        },
    },
];

const SORT_SYNTAX: &str = "key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA] [STORE destination]";

/// SORT and SORT_RO, as the command table lists them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("sort", -2, W, SORT_KEYS, "keyspace", "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
        crate::anywhere!(sort, sort_now), SORT_SYNTAX),
    CommandSpec { since: "7.0.0", ..spec("sort_ro", -2, R, KEY1, "keyspace", "Returns the sorted elements of a list, a set, or a sorted set.",
        crate::anywhere!(sort_ro, sort_ro_now),
        "key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA]") },
];

#[cfg(test)]
mod tests {
    use super::strtod_whole;

    #[test]
    fn scores_parse_as_strtod_over_the_whole_string() {
        assert_eq!(strtod_whole(b""), Some(0.0));
        assert_eq!(strtod_whole(b" 12"), Some(12.0));
        assert_eq!(strtod_whole(b"12 "), None);
        assert_eq!(strtod_whole(b"  "), None);
        assert_eq!(strtod_whole(b"1.5e3"), Some(1500.0));
        assert_eq!(strtod_whole(b"-.5"), Some(-0.5));
        assert_eq!(strtod_whole(b"+inf"), Some(f64::INFINITY));
        assert_eq!(strtod_whole(b"-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(strtod_whole(b"nan"), None);
        assert_eq!(strtod_whole(b"0x1A"), Some(26.0));
        assert_eq!(strtod_whole(b"0x1.8p1"), Some(3.0));
        assert_eq!(strtod_whole(b"1e400"), None);
        assert_eq!(strtod_whole(b"1e-400"), None);
        assert_eq!(strtod_whole(b"0e-400"), Some(0.0));
        assert_eq!(strtod_whole(b"7\0junk"), Some(7.0));
        assert_eq!(strtod_whole(b"abc"), None);
        assert_eq!(strtod_whole(b"1e"), None);
    }
}
