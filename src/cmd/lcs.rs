//! LCS: the longest common subsequence of two strings, its length, or the
//! matching ranges (IDX), as Redis 7.2 computes them: the classic dynamic
//! programming table, walked back from its end, so that among several
//! longest subsequences Redis's own is the one reported. The table may not
//! take more than `proto-max-bulk-len` bytes (4 per cell).
//!
//! The two keys may live on different shards (`Exec::Multi`): the cross
//! form copies both strings out and answers here.

use super::args::{is, Args, CmdResult, Error};
use super::bitmaps::snapshot_strs;
use super::cross::Cross;
use super::spec::decl::*;
use super::Ctx;
use crate::resp::parse::parse_i64;
use crate::resp::Out;
use crate::shard::ctx::ShardsExt;
use crate::shard::db::Entry;
use crate::types::Value;

/// What LCS was asked for.
#[derive(Default)]
struct Options {
    len: bool,
    idx: bool,
    min_match_len: u64,
    with_match_len: bool,
}

/// The options after the two keys, with Redis's errors in Redis's order.
fn parse_options(argv: &[&[u8]]) -> Result<Options, Error> {
    let mut o = Options::default();
    let mut j = 3;
    while j < argv.len() {
        let opt = argv[j];
        if is(opt, "idx") {
            o.idx = true;
        } else if is(opt, "len") {
            o.len = true;
        } else if is(opt, "withmatchlen") {
            o.with_match_len = true;
        } else if is(opt, "minmatchlen") && j + 1 < argv.len() {
            o.min_match_len = parse_i64(argv[j + 1]).ok_or(Error::NOT_INTEGER)?.max(0) as u64;
            j += 1;
        } else {
            return Err(Error::SYNTAX);
        }
        j += 1;
    }
    if o.idx && o.len {
        return Err(Error::msg(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    Ok(o)
}

/// Answers LCS over `a` and `b` (the strings at its keys, "" when missing)
/// for the options in `argv`.
fn answer(a: &[u8], b: &[u8], argv: &[&[u8]], max_table: usize, out: &mut Out) -> CmdResult {
    let o = parse_options(argv)?;
    if a.len() >= u32::MAX as usize - 1 || b.len() >= u32::MAX as usize - 1 {
        return Err(Error::msg("ERR String too long for LCS"));
    }
    let width = b.len() + 1;
    let cells = (a.len() + 1) as u128 * width as u128;
    if cells * 4 > max_table as u128 {
        return Err(Error::msg(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    // table[i * width + j]: the LCS length of a[..i] and b[..j].
    let mut table = vec![0u32; cells as usize];
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            table[i * width + j] = if a[i - 1] == b[j - 1] {
                table[(i - 1) * width + j - 1] + 1
            } else {
                table[(i - 1) * width + j].max(table[i * width + j - 1])
            };
        }
    }
    let total = table[a.len() * width + b.len()];
    if o.len && !o.idx {
        out.int(total as i64);
        return Ok(());
    }
    // Walk back from the end: each match is one byte of the subsequence;
    // contiguous matches make one range, reported once it ends.
    let mut lcs = vec![0u8; total as usize];
    let mut ranges: Vec<[u64; 5]> = Vec::new();
    let mut range: Option<[usize; 4]> = None;
    let (mut i, mut j, mut k) = (a.len(), b.len(), total as usize);
    while i > 0 && j > 0 {
        let emit = if a[i - 1] == b[j - 1] {
            lcs[k - 1] = a[i - 1];
            range = Some(match range {
                None => [i - 1, i - 1, j - 1, j - 1],
                Some([_, a_end, _, b_end]) => [i - 1, a_end, j - 1, b_end],
            });
            let at_start = i == 1 || j == 1;
            i -= 1;
            j -= 1;
            k -= 1;
            at_start
        } else {
            if table[(i - 1) * width + j] > table[i * width + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            range.is_some()
        };
        if let Some([a0, a1, b0, b1]) = range.filter(|_| emit) {
            range = None;
            let len = (a1 - a0 + 1) as u64;
            if len >= o.min_match_len {
                ranges.push([a0 as u64, a1 as u64, b0 as u64, b1 as u64, len]);
            }
        }
    }
    if !o.idx {
        out.bulk(&lcs);
        return Ok(());
    }
    out.map(2);
    out.bulk(b"matches");
    out.array(ranges.len());
    for [a0, a1, b0, b1, len] in ranges {
        out.array(2 + o.with_match_len as usize);
        for pair in [[a0, a1], [b0, b1]] {
            out.array(2);
            out.int(pair[0] as i64);
            out.int(pair[1] as i64);
        }
        if o.with_match_len {
            out.int(len as i64);
        }
    }
    out.bulk(b"len");
    out.int(total as i64);
    Ok(())
}

const NOT_STRINGS: &str = "ERR The specified keys must contain string values";

/// LCS with both keys on this shard. Redis looks both keys up before it
/// reads the options.
pub fn lcs(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let argv = args.all();
    let is_str = |e: Option<&Entry>| e.is_none_or(|e| matches!(e.value, Value::Str(_)));
    let strings = is_str(ctx.read(argv[1]));
    if !(is_str(ctx.read(argv[2])) && strings) {
        return Err(Error::msg(NOT_STRINGS));
    }
    let now = ctx.now;
    let db = &ctx.shard.dbs[ctx.db];
    let strs = [argv[1], argv[2]].map(|key| match db.peek(key, now).map(|e| &e.value) {
        Some(Value::Str(s)) => s.as_slice(),
        _ => b"",
    });
    answer(strs[0], strs[1], argv, ctx.max_string_len(), out)
}

/// LCS with its keys on two shards.
pub fn lcs_across(c: Cross<'_>) -> CmdResult {
    let keys = [c.argv[1], c.argv[2]];
    let strs = snapshot_strs(c.txn, c.db, &keys, false).map_err(|_| Error::msg(NOT_STRINGS))?;
    let max_table = c.txn.ctx_of(keys[0], c.db, |ctx| ctx.max_string_len());
    let [a, b] = [0, 1].map(|n| strs[n].as_deref().unwrap_or_default());
    answer(a, b, c.argv, max_table, c.out)
}

/// LCS, as the command table lists it.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("lcs", -3, R, KEYS12, "string", "Finds the longest common substring.", Exec::Multi(lcs, lcs_across),
        "key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]"),
];
