//! Non-blocking list commands: LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP,
//! LLEN, LRANGE, LINDEX, LSET, LINSERT, LREM, LTRIM, LPOS, RPOPLPUSH, LMOVE
//! and LMPOP; their errors and the order in which Redis checks arguments,
//! WRONGTYPE, RESP2 and RESP3 nulls, emptied lists disappearing, moves
//! between keys on different shards, binary and large values, long lists.
//!
//! Every expectation was checked byte for byte against a real redis-server
//! (`RINGBUS_TEST_TARGET=redis`).

mod common;

use common::*;
use ringbus::shard::route::shard_of;
use std::collections::BTreeSet;
use std::thread;
use std::time::{Duration, Instant};

sharded_tests!(
    push_and_pushx,
    pop_without_count,
    pop_with_count,
    llen_and_lindex,
    lrange_indexes,
    lset,
    linsert,
    lrem,
    ltrim,
    lpos,
    lpos_options_and_errors,
    lmove_all_directions,
    rpoplpush_is_right_left,
    move_to_same_key_rotates,
    move_from_missing_source,
    move_to_wrong_type_keeps_source,
    cross_shard_moves,
    cross_shard_moves_concurrently_lose_nothing,
    lmpop,
    lmpop_errors,
    wrongtype_for_every_command,
    emptied_list_stops_existing,
    nulls_resp2,
    nulls_resp3,
    arity_errors,
    argument_errors_and_their_order,
    binary_safe_values,
    large_values,
    ten_thousand_elements,
    lists_and_key_commands,
    pipelined_list_commands,
    redis_crate_roundtrip,
);

// ------------------------------------------------------------------ helpers

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
const SYNTAX: &str = "ERR syntax error";
const NO_SUCH_KEY: &str = "ERR no such key";
const OUT_OF_RANGE: &str = "ERR index out of range";
const NUMKEYS: &str = "ERR numkeys should be greater than 0";
const COUNT_POSITIVE: &str = "ERR count should be greater than 0";
const RANK_ZERO: &str = "ERR RANK can't be zero: use 1 to start from the first match, \
                         2 from the second ... or use negative to start from the end of the list";

/// Keys whose hash tags live on three different shards of a 3-shard ringbus
/// (checked by `hash_tags_are_on_distinct_shards`). Note that single-letter
/// tags such as `{a}` and `{b}` all land on the same shard modulo 3.
const SRC: &str = "{from}src";
const DST: &str = "{to}dst";
const THIRD: &str = "{in}third";

fn arity(cmd: &str) -> Vec<u8> {
    err(&format!(
        "ERR wrong number of arguments for '{cmd}' command"
    ))
}

/// RESP2 null array.
fn nil_array() -> Vec<u8> {
    b"*-1\r\n".to_vec()
}

fn ints(items: &[i64]) -> Vec<u8> {
    array(&items.iter().map(|&i| int(i)).collect::<Vec<_>>())
}

/// An LMPOP reply: `[key, [elements...]]`.
fn mpop(key: &str, items: &[&str]) -> Vec<u8> {
    array(&[bulk(key), bulks(items)])
}

fn assert_list(c: &mut RawConn, key: &str, items: &[&str]) {
    c.check(&["LRANGE", key, "0", "-1"], &bulks(items));
}

fn assert_gone(c: &mut RawConn, key: &str) {
    c.check(&["EXISTS", key], &int(0));
    c.check(&["TYPE", key], &simple("none"));
    c.check(&["LLEN", key], &int(0));
    c.check(&["LRANGE", key, "0", "-1"], &bulks(&[]));
}

/// Compare reply bytes, printing only a short prefix of large replies.
fn same(got: &[u8], want: &[u8]) {
    if got != want {
        let short = |b: &[u8]| {
            let mut t = show(&b[..b.len().min(200)]);
            if b.len() > 200 {
                t.push_str(&format!("... ({} bytes)", b.len()));
            }
            t
        };
        panic!(
            "reply differs:\n  got:  {}\n  want: {}",
            short(got),
            short(want)
        );
    }
}

fn hello3(c: &mut RawConn) {
    let r = c.cmd(&["HELLO", "3"]);
    assert_eq!(r.first(), Some(&b'%'), "HELLO 3 -> {}", show(&r));
}

fn lrange_all(c: &mut RawConn, key: &str) -> Vec<Vec<u8>> {
    match Reply::parse(&c.cmd(&["LRANGE", key, "0", "-1"])) {
        Reply::Array(items) => items
            .into_iter()
            .map(|r| match r {
                Reply::Bulk(b) => b,
                other => panic!("not a bulk: {other:?}"),
            })
            .collect(),
        other => panic!("LRANGE {key} -> {other:?}"),
    }
}

#[test]
fn hash_tags_are_on_distinct_shards() {
    let shards: BTreeSet<usize> = [SRC, DST, THIRD]
        .iter()
        .map(|k| shard_of(k.as_bytes(), 3))
        .collect();
    assert_eq!(shards.len(), 3, "{SRC} {DST} {THIRD} must use three shards");
}

// -------------------------------------------------------------------- tests

fn push_and_pushx(s: &Server) {
    let mut c = s.raw();
    c.check(&["LPUSH", "k", "a"], &int(1));
    c.check(&["LPUSH", "k", "b", "c"], &int(3));
    assert_list(&mut c, "k", &["c", "b", "a"]);
    c.check(&["RPUSH", "k", "d", "e"], &int(5));
    assert_list(&mut c, "k", &["c", "b", "a", "d", "e"]);
    c.check(&["TYPE", "k"], &simple("list"));
    // The X forms only push to an existing list.
    c.check(&["LPUSHX", "nokey", "a", "b"], &int(0));
    c.check(&["RPUSHX", "nokey", "a"], &int(0));
    c.check(&["EXISTS", "nokey"], &int(0));
    c.check(&["LPUSHX", "k", "x", "y"], &int(7));
    c.check(&["RPUSHX", "k", "z"], &int(8));
    assert_list(&mut c, "k", &["y", "x", "c", "b", "a", "d", "e", "z"]);
    // Duplicates and empty elements are kept.
    c.check(&["RPUSH", "dup", "a", "a", "a"], &int(3));
    assert_list(&mut c, "dup", &["a", "a", "a"]);
    c.check(&["RPUSH", "empty", ""], &int(1));
    c.check(&["LLEN", "empty"], &int(1));
    assert_list(&mut c, "empty", &[""]);
    // Case-insensitive command names; numbers are plain elements.
    c.check(&["lpush", "lower", "1"], &int(1));
    c.check(&["rPuSh", "lower", "2", "-3", "4.5"], &int(4));
    assert_list(&mut c, "lower", &["1", "2", "-3", "4.5"]);
    // Many keys, on every shard.
    for i in 0..60 {
        c.check(&["RPUSH", &format!("many:{i}"), &i.to_string()], &int(1));
    }
    for i in 0..60 {
        c.check(&["RPUSHX", &format!("many:{i}"), "x"], &int(2));
    }
    for i in 0..60 {
        assert_list(&mut c, &format!("many:{i}"), &[&i.to_string(), "x"]);
    }
}

fn pop_without_count(s: &Server) {
    let mut c = s.raw();
    c.check(&["LPOP", "nokey"], &nil());
    c.check(&["RPOP", "nokey"], &nil());
    c.check(&["RPUSH", "k", "a", "b", "c"], &int(3));
    c.check(&["LPOP", "k"], &bulk("a"));
    c.check(&["RPOP", "k"], &bulk("c"));
    c.check(&["LLEN", "k"], &int(1));
    c.check(&["RPOP", "k"], &bulk("b"));
    c.check(&["LPOP", "k"], &nil());
    assert_gone(&mut c, "k");
    c.check(&["lpop", "nokey"], &nil());
}

fn pop_with_count(s: &Server) {
    let mut c = s.raw();
    c.check(&["RPUSH", "k", "a", "b", "c", "d", "e"], &int(5));
    c.check(&["LPOP", "k", "2"], &bulks(&["a", "b"]));
    c.check(&["RPOP", "k", "2"], &bulks(&["e", "d"]));
    // COUNT 0 on an existing list: an empty array, nothing popped.
    c.check(&["LPOP", "k", "0"], &bulks(&[]));
    c.check(&["RPOP", "k", "0"], &bulks(&[]));
    c.check(&["LLEN", "k"], &int(1));
    c.check(&["LPOP", "k", "1"], &bulks(&["c"]));
    assert_gone(&mut c, "k");
    // A count larger than the list pops everything.
    c.check(&["RPUSH", "k", "a", "b", "c"], &int(3));
    c.check(&["RPOP", "k", "100"], &bulks(&["c", "b", "a"]));
    assert_gone(&mut c, "k");
    c.check(&["RPUSH", "k", "a", "b", "c"], &int(3));
    c.check(&["LPOP", "k", "3"], &bulks(&["a", "b", "c"]));
    assert_gone(&mut c, "k");
    // A missing key with a count is a null ARRAY, even for COUNT 0.
    c.check(&["LPOP", "nokey", "1"], &nil_array());
    c.check(&["RPOP", "nokey", "5"], &nil_array());
    c.check(&["LPOP", "nokey", "0"], &nil_array());
    c.check(&["RPOP", "nokey", "0"], &nil_array());
    // Count errors, checked before the key is looked up.
    c.check(&["RPUSH", "k", "x"], &int(1));
    for bad in ["-1", "-100", "abc", "1.5", "", "99999999999999999999"] {
        c.check(&["LPOP", "k", bad], &err(NOT_POSITIVE));
        c.check(&["RPOP", "k", bad], &err(NOT_POSITIVE));
        c.check(&["LPOP", "nokey", bad], &err(NOT_POSITIVE));
    }
    c.check(&["LRANGE", "k", "0", "-1"], &bulks(&["x"]));
}

fn llen_and_lindex(s: &Server) {
    let mut c = s.raw();
    c.check(&["LLEN", "nokey"], &int(0));
    c.check(&["LINDEX", "nokey", "0"], &nil());
    c.check(&["RPUSH", "k", "a", "b", "c"], &int(3));
    c.check(&["LLEN", "k"], &int(3));
    c.check(&["LINDEX", "k", "0"], &bulk("a"));
    c.check(&["LINDEX", "k", "1"], &bulk("b"));
    c.check(&["LINDEX", "k", "2"], &bulk("c"));
    c.check(&["LINDEX", "k", "3"], &nil());
    c.check(&["LINDEX", "k", "-1"], &bulk("c"));
    c.check(&["LINDEX", "k", "-3"], &bulk("a"));
    c.check(&["LINDEX", "k", "-4"], &nil());
    c.check(&["LINDEX", "k", "9223372036854775807"], &nil());
    c.check(&["LINDEX", "k", "-9223372036854775808"], &nil());
    c.check(&["LINDEX", "k", "+1"], &err(NOT_INT));
    c.check(&["LINDEX", "k", "x"], &err(NOT_INT));
    c.check(&["LINDEX", "k", "1.0"], &err(NOT_INT));
    c.check(&["LINDEX", "k", " 1"], &err(NOT_INT));
    c.check(&["LINDEX", "k", "99999999999999999999"], &err(NOT_INT));
    // The key is looked up first: a bad index on a missing key is a nil.
    c.check(&["LINDEX", "nokey", "x"], &nil());
}

fn lrange_indexes(s: &Server) {
    let mut c = s.raw();
    c.check(&["LRANGE", "nokey", "0", "-1"], &bulks(&[]));
    c.check(&["RPUSH", "k", "1", "2", "3", "4", "5"], &int(5));
    c.check(
        &["LRANGE", "k", "0", "-1"],
        &bulks(&["1", "2", "3", "4", "5"]),
    );
    c.check(&["LRANGE", "k", "0", "0"], &bulks(&["1"]));
    c.check(&["LRANGE", "k", "1", "3"], &bulks(&["2", "3", "4"]));
    c.check(&["LRANGE", "k", "-2", "-1"], &bulks(&["4", "5"]));
    c.check(&["LRANGE", "k", "-100", "-4"], &bulks(&["1", "2"]));
    c.check(
        &["LRANGE", "k", "-100", "100"],
        &bulks(&["1", "2", "3", "4", "5"]),
    );
    c.check(&["LRANGE", "k", "4", "100"], &bulks(&["5"]));
    c.check(&["LRANGE", "k", "5", "100"], &bulks(&[]));
    c.check(&["LRANGE", "k", "3", "1"], &bulks(&[]));
    c.check(&["LRANGE", "k", "-1", "-5"], &bulks(&[]));
    c.check(&["LRANGE", "k", "-1", "-1"], &bulks(&["5"]));
    c.check(&["LRANGE", "k", "0", "-6"], &bulks(&[]));
    c.check(&["LRANGE", "k", "-6", "-6"], &bulks(&[]));
    c.check(&["LRANGE", "k", "2", "-3"], &bulks(&["3"]));
    c.check(
        &["LRANGE", "k", "-9223372036854775808", "9223372036854775807"],
        &bulks(&["1", "2", "3", "4", "5"]),
    );
    c.check(&["LRANGE", "k", "9223372036854775807", "-1"], &bulks(&[]));
    c.check(&["LRANGE", "k", "a", "1"], &err(NOT_INT));
    c.check(&["LRANGE", "k", "0", "b"], &err(NOT_INT));
    c.check(&["LRANGE", "k", "0", "1.5"], &err(NOT_INT));
    c.check(&["LRANGE", "k", "0", "9223372036854775808"], &err(NOT_INT));
    // Indexes are parsed before the key is looked up.
    c.check(&["LRANGE", "nokey", "a", "b"], &err(NOT_INT));
}

fn lset(s: &Server) {
    let mut c = s.raw();
    c.check(&["LSET", "nokey", "0", "v"], &err(NO_SUCH_KEY));
    // The key is looked up before the index is parsed.
    c.check(&["LSET", "nokey", "x", "v"], &err(NO_SUCH_KEY));
    c.check(&["EXISTS", "nokey"], &int(0));
    c.check(&["RPUSH", "k", "a", "b", "c"], &int(3));
    c.check(&["LSET", "k", "0", "A"], &ok());
    c.check(&["LSET", "k", "-1", "C"], &ok());
    c.check(&["LSET", "k", "1", ""], &ok());
    assert_list(&mut c, "k", &["A", "", "C"]);
    c.check(&["LSET", "k", "-3", "first"], &ok());
    assert_list(&mut c, "k", &["first", "", "C"]);
    c.check(&["LSET", "k", "3", "v"], &err(OUT_OF_RANGE));
    c.check(&["LSET", "k", "-4", "v"], &err(OUT_OF_RANGE));
    c.check(
        &["LSET", "k", "9223372036854775807", "v"],
        &err(OUT_OF_RANGE),
    );
    c.check(&["LSET", "k", "x", "v"], &err(NOT_INT));
    c.check(&["LSET", "k", "1.5", "v"], &err(NOT_INT));
    assert_list(&mut c, "k", &["first", "", "C"]);
    c.check(&["lset", "k", "1", "middle"], &ok());
    assert_list(&mut c, "k", &["first", "middle", "C"]);
}

fn linsert(s: &Server) {
    let mut c = s.raw();
    // Missing key: 0 and nothing created.
    c.check(&["LINSERT", "nokey", "BEFORE", "a", "b"], &int(0));
    c.check(&["LINSERT", "nokey", "AFTER", "a", "b"], &int(0));
    c.check(&["EXISTS", "nokey"], &int(0));
    c.check(&["RPUSH", "k", "a", "b", "c"], &int(3));
    c.check(&["LINSERT", "k", "BEFORE", "b", "X"], &int(4));
    assert_list(&mut c, "k", &["a", "X", "b", "c"]);
    c.check(&["LINSERT", "k", "AFTER", "c", "Y"], &int(5));
    assert_list(&mut c, "k", &["a", "X", "b", "c", "Y"]);
    c.check(&["LINSERT", "k", "before", "a", "H"], &int(6));
    c.check(&["LINSERT", "k", "After", "a", "I"], &int(7));
    assert_list(&mut c, "k", &["H", "a", "I", "X", "b", "c", "Y"]);
    // Pivot not found: -1, nothing changes. The pivot compares exact bytes.
    c.check(&["LINSERT", "k", "BEFORE", "zz", "v"], &int(-1));
    c.check(&["LINSERT", "k", "AFTER", "A", "v"], &int(-1));
    c.check(&["LLEN", "k"], &int(7));
    // The first occurrence of the pivot is used.
    c.check(&["RPUSH", "d", "x", "x", "x"], &int(3));
    c.check(&["LINSERT", "d", "AFTER", "x", "y"], &int(4));
    c.check(&["LINSERT", "d", "BEFORE", "x", "w"], &int(5));
    assert_list(&mut c, "d", &["w", "x", "y", "x", "x"]);
    // Empty pivot and element.
    c.check(&["RPUSH", "e", ""], &int(1));
    c.check(&["LINSERT", "e", "AFTER", "", ""], &int(2));
    assert_list(&mut c, "e", &["", ""]);
    // Syntax errors come before the key lookup.
    c.check(&["LINSERT", "k", "MIDDLE", "a", "v"], &err(SYNTAX));
    c.check(&["LINSERT", "k", "BEFOREX", "a", "v"], &err(SYNTAX));
    c.check(&["LINSERT", "nokey", "MIDDLE", "a", "v"], &err(SYNTAX));
    c.check(&["LLEN", "k"], &int(7));
}

fn lrem(s: &Server) {
    let mut c = s.raw();
    c.check(&["LREM", "nokey", "0", "a"], &int(0));
    c.check(&["RPUSH", "k", "a", "b", "a", "c", "a", "d", "a"], &int(7));
    // count > 0: from the head.
    c.check(&["LREM", "k", "2", "a"], &int(2));
    assert_list(&mut c, "k", &["b", "c", "a", "d", "a"]);
    // count < 0: from the tail.
    c.check(&["LREM", "k", "-1", "a"], &int(1));
    assert_list(&mut c, "k", &["b", "c", "a", "d"]);
    // count 0: all of them.
    c.check(&["RPUSH", "k", "a", "a"], &int(6));
    c.check(&["LREM", "k", "0", "a"], &int(3));
    assert_list(&mut c, "k", &["b", "c", "d"]);
    c.check(&["LREM", "k", "0", "zz"], &int(0));
    c.check(&["LREM", "k", "5", "B"], &int(0));
    // A count larger than the matches removes them all.
    c.check(&["LREM", "k", "100", "b"], &int(1));
    c.check(&["LREM", "k", "-100", "c"], &int(1));
    c.check(&["LREM", "k", "0", "d"], &int(1));
    assert_gone(&mut c, "k");
    // Tail removal keeps the head occurrences.
    c.check(&["RPUSH", "t", "x", "1", "x", "2", "x", "3", "x"], &int(7));
    c.check(&["LREM", "t", "-2", "x"], &int(2));
    assert_list(&mut c, "t", &["x", "1", "x", "2", "3"]);
    c.check(&["LREM", "t", "x", "x"], &err(NOT_INT));
    c.check(&["LREM", "t", "1.0", "x"], &err(NOT_INT));
    c.check(&["LREM", "nokey", "x", "x"], &err(NOT_INT));
    c.check(&["LLEN", "t"], &int(5));
}

fn ltrim(s: &Server) {
    let mut c = s.raw();
    c.check(&["LTRIM", "nokey", "0", "1"], &ok());
    c.check(&["EXISTS", "nokey"], &int(0));
    c.check(&["RPUSH", "k", "1", "2", "3", "4", "5"], &int(5));
    c.check(&["LTRIM", "k", "1", "-2"], &ok());
    assert_list(&mut c, "k", &["2", "3", "4"]);
    c.check(&["LTRIM", "k", "0", "-1"], &ok());
    assert_list(&mut c, "k", &["2", "3", "4"]);
    c.check(&["LTRIM", "k", "-100", "100"], &ok());
    assert_list(&mut c, "k", &["2", "3", "4"]);
    c.check(&["LTRIM", "k", "0", "9223372036854775807"], &ok());
    c.check(&["LTRIM", "k", "-9223372036854775808", "1"], &ok());
    assert_list(&mut c, "k", &["2", "3"]);
    c.check(&["LTRIM", "k", "-1", "-1"], &ok());
    assert_list(&mut c, "k", &["3"]);
    // Every empty range deletes the key.
    let empty_ranges: [(&str, &str); 6] = [
        ("5", "10"),
        ("2", "1"),
        ("-2", "-3"),
        ("0", "-6"),
        ("1", "0"),
        ("9223372036854775807", "-1"),
    ];
    for (start, stop) in empty_ranges {
        c.cmd(&["DEL", "k"]);
        c.check(&["RPUSH", "k", "1", "2", "3", "4", "5"], &int(5));
        c.check(&["LTRIM", "k", start, stop], &ok());
        assert_gone(&mut c, "k");
    }
    c.check(&["RPUSH", "k", "1", "2", "3"], &int(3));
    c.check(&["LTRIM", "k", "0", "0"], &ok());
    assert_list(&mut c, "k", &["1"]);
    c.check(&["LTRIM", "k", "x", "1"], &err(NOT_INT));
    c.check(&["LTRIM", "k", "0", "1.5"], &err(NOT_INT));
    c.check(&["LTRIM", "nokey", "a", "b"], &err(NOT_INT));
    assert_list(&mut c, "k", &["1"]);
}

fn lpos(s: &Server) {
    let mut c = s.raw();
    c.check(&["LPOS", "nokey", "a"], &nil());
    c.check(&["LPOS", "nokey", "a", "COUNT", "0"], &bulks(&[]));
    c.check(&["LPOS", "nokey", "a", "COUNT", "3"], &bulks(&[]));
    c.check(&["RPUSH", "l", "a", "b", "c", "a", "b", "c", "a"], &int(7));
    c.check(&["LPOS", "l", "a"], &int(0));
    c.check(&["LPOS", "l", "c"], &int(2));
    c.check(&["LPOS", "l", "zz"], &nil());
    c.check(&["LPOS", "l", "A"], &nil());
    c.check(&["LPOS", "l", "a", "RANK", "1"], &int(0));
    c.check(&["LPOS", "l", "a", "RANK", "2"], &int(3));
    c.check(&["LPOS", "l", "a", "RANK", "3"], &int(6));
    c.check(&["LPOS", "l", "a", "RANK", "4"], &nil());
    c.check(&["LPOS", "l", "a", "RANK", "-1"], &int(6));
    c.check(&["LPOS", "l", "a", "RANK", "-2"], &int(3));
    c.check(&["LPOS", "l", "a", "RANK", "-3"], &int(0));
    c.check(&["LPOS", "l", "a", "RANK", "-4"], &nil());
    c.check(&["LPOS", "l", "a", "RANK", "9223372036854775807"], &nil());
    c.check(&["LPOS", "l", "a", "RANK", "-9223372036854775807"], &nil());
    // COUNT 0 means all matches.
    c.check(&["LPOS", "l", "a", "COUNT", "0"], &ints(&[0, 3, 6]));
    c.check(&["LPOS", "l", "a", "COUNT", "2"], &ints(&[0, 3]));
    c.check(&["LPOS", "l", "a", "COUNT", "1"], &ints(&[0]));
    c.check(&["LPOS", "l", "a", "COUNT", "100"], &ints(&[0, 3, 6]));
    c.check(&["LPOS", "l", "zz", "COUNT", "0"], &bulks(&[]));
    c.check(&["LPOS", "l", "zz", "COUNT", "1"], &bulks(&[]));
    c.check(
        &["LPOS", "l", "a", "COUNT", "0", "RANK", "-1"],
        &ints(&[6, 3, 0]),
    );
    c.check(
        &["LPOS", "l", "a", "COUNT", "0", "RANK", "-2"],
        &ints(&[3, 0]),
    );
    c.check(
        &["LPOS", "l", "a", "RANK", "2", "COUNT", "0"],
        &ints(&[3, 6]),
    );
    c.check(&["LPOS", "l", "b", "RANK", "2", "COUNT", "5"], &ints(&[4]));
    // MAXLEN: compare at most that many elements (0 = all).
    c.check(&["LPOS", "l", "a", "MAXLEN", "1"], &int(0));
    c.check(&["LPOS", "l", "b", "MAXLEN", "1"], &nil());
    c.check(&["LPOS", "l", "b", "MAXLEN", "2"], &int(1));
    c.check(
        &["LPOS", "l", "a", "MAXLEN", "4", "COUNT", "0"],
        &ints(&[0, 3]),
    );
    c.check(
        &["LPOS", "l", "a", "MAXLEN", "3", "COUNT", "0"],
        &ints(&[0]),
    );
    c.check(
        &["LPOS", "l", "a", "MAXLEN", "0", "COUNT", "0"],
        &ints(&[0, 3, 6]),
    );
    c.check(
        &["LPOS", "l", "a", "MAXLEN", "2", "RANK", "-1", "COUNT", "0"],
        &ints(&[6]),
    );
    c.check(&["LPOS", "l", "a", "RANK", "-1", "MAXLEN", "1"], &int(6));
    c.check(&["LPOS", "l", "b", "RANK", "-1", "MAXLEN", "1"], &nil());
    c.check(&["LPOS", "l", "c", "RANK", "2", "MAXLEN", "5"], &nil());
    c.check(&["LPOS", "l", "c", "RANK", "2", "MAXLEN", "6"], &int(5));
    // Options are case-insensitive; a repeated option takes the last value.
    c.check(&["lpos", "l", "a", "rank", "2", "count", "1"], &ints(&[3]));
    c.check(&["LPOS", "l", "a", "RANK", "1", "RANK", "2"], &int(3));
    c.check(
        &["LPOS", "l", "a", "COUNT", "1", "COUNT", "0"],
        &ints(&[0, 3, 6]),
    );
}

fn lpos_options_and_errors(s: &Server) {
    let mut c = s.raw();
    c.check(&["RPUSH", "l", "a", "b", "a"], &int(3));
    for key in ["l", "nokey"] {
        c.check(&["LPOS", key, "a", "RANK", "0"], &err(RANK_ZERO));
        c.check(&["LPOS", key, "a", "RANK", "abc"], &err(NOT_INT));
        c.check(&["LPOS", key, "a", "RANK", "1.5"], &err(NOT_INT));
        c.check(
            &["LPOS", key, "a", "COUNT", "-1"],
            &err("ERR COUNT can't be negative"),
        );
        c.check(
            &["LPOS", key, "a", "COUNT", "abc"],
            &err("ERR COUNT can't be negative"),
        );
        c.check(
            &["LPOS", key, "a", "MAXLEN", "-1"],
            &err("ERR MAXLEN can't be negative"),
        );
        c.check(
            &["LPOS", key, "a", "MAXLEN", "x"],
            &err("ERR MAXLEN can't be negative"),
        );
        c.check(&["LPOS", key, "a", "RANK"], &err(SYNTAX));
        c.check(&["LPOS", key, "a", "COUNT"], &err(SYNTAX));
        c.check(&["LPOS", key, "a", "MAXLEN"], &err(SYNTAX));
        c.check(&["LPOS", key, "a", "FOO"], &err(SYNTAX));
        c.check(&["LPOS", key, "a", "FOO", "1"], &err(SYNTAX));
        c.check(&["LPOS", key, "a", "RANK", "1", "BAR"], &err(SYNTAX));
    }
    // Options are parsed before the type is checked.
    c.check(&["SET", "str", "a"], &ok());
    c.check(&["LPOS", "str", "a", "RANK", "0"], &err(RANK_ZERO));
    c.check(&["LPOS", "str", "a", "FOO"], &err(SYNTAX));
    c.check(&["LPOS", "str", "a"], &err(WRONGTYPE));
    c.check(&["LPOS", "str", "a", "COUNT", "0"], &err(WRONGTYPE));
    c.check(&["LPOS", "l", "a"], &int(0));
}

fn lmove_all_directions(s: &Server) {
    let mut c = s.raw();
    // (from, to, element moved, source after, destination after)
    type Case<'a> = (&'a str, &'a str, &'a str, &'a [&'a str], &'a [&'a str]);
    let cases: [Case; 4] = [
        ("LEFT", "LEFT", "1", &["2", "3"], &["1", "x", "y"]),
        ("LEFT", "RIGHT", "1", &["2", "3"], &["x", "y", "1"]),
        ("RIGHT", "LEFT", "3", &["1", "2"], &["3", "x", "y"]),
        ("RIGHT", "RIGHT", "3", &["1", "2"], &["x", "y", "3"]),
    ];
    for (src, dst) in [("{same}src", "{same}dst"), (SRC, DST)] {
        for (from, to, moved, src_after, dst_after) in cases {
            c.cmd(&["DEL", src, dst]);
            c.check(&["RPUSH", src, "1", "2", "3"], &int(3));
            c.check(&["RPUSH", dst, "x", "y"], &int(2));
            c.check(&["LMOVE", src, dst, from, to], &bulk(moved));
            assert_list(&mut c, src, src_after);
            assert_list(&mut c, dst, dst_after);
            // Lower case directions, and the destination created on demand.
            c.cmd(&["DEL", dst]);
            let next = if from == "LEFT" {
                src_after[0]
            } else {
                src_after[1]
            };
            let (lfrom, lto) = (from.to_lowercase(), to.to_lowercase());
            c.check(&["lmove", src, dst, &lfrom, &lto], &bulk(next));
            assert_list(&mut c, dst, &[next]);
            c.check(&["TYPE", dst], &simple("list"));
            c.check(&["LLEN", src], &int(1));
        }
    }
    // Mixed case; the source's last element moves and the source is deleted.
    c.check(&["LMOVE", SRC, DST, "left", "Right"], &bulk("1"));
    assert_gone(&mut c, SRC);
    assert_list(&mut c, DST, &["2", "1"]);
}

fn rpoplpush_is_right_left(s: &Server) {
    let mut c = s.raw();
    for (src, dst) in [("{same}src", "{same}dst"), (SRC, DST)] {
        c.check(&["RPUSH", src, "1", "2", "3"], &int(3));
        c.check(&["RPUSH", dst, "x"], &int(1));
        c.check(&["RPOPLPUSH", src, dst], &bulk("3"));
        c.check(&["rpoplpush", src, dst], &bulk("2"));
        assert_list(&mut c, src, &["1"]);
        assert_list(&mut c, dst, &["2", "3", "x"]);
        c.check(&["RPOPLPUSH", src, dst], &bulk("1"));
        assert_gone(&mut c, src);
        assert_list(&mut c, dst, &["1", "2", "3", "x"]);
        c.check(&["RPOPLPUSH", src, dst], &nil());
        // Back again: the destination is created.
        c.check(&["RPOPLPUSH", dst, src], &bulk("x"));
        assert_list(&mut c, src, &["x"]);
        c.cmd(&["DEL", src, dst]);
    }
}

fn move_to_same_key_rotates(s: &Server) {
    let mut c = s.raw();
    c.check(&["RPUSH", "l", "a", "b", "c"], &int(3));
    c.check(&["LMOVE", "l", "l", "LEFT", "RIGHT"], &bulk("a"));
    assert_list(&mut c, "l", &["b", "c", "a"]);
    c.check(&["LMOVE", "l", "l", "RIGHT", "LEFT"], &bulk("a"));
    assert_list(&mut c, "l", &["a", "b", "c"]);
    c.check(&["LMOVE", "l", "l", "LEFT", "LEFT"], &bulk("a"));
    c.check(&["LMOVE", "l", "l", "RIGHT", "RIGHT"], &bulk("c"));
    assert_list(&mut c, "l", &["a", "b", "c"]);
    c.check(&["RPOPLPUSH", "l", "l"], &bulk("c"));
    assert_list(&mut c, "l", &["c", "a", "b"]);
    // A one-element list survives its own rotation.
    c.check(&["RPUSH", "one", "x"], &int(1));
    c.check(&["LMOVE", "one", "one", "LEFT", "RIGHT"], &bulk("x"));
    c.check(&["RPOPLPUSH", "one", "one"], &bulk("x"));
    assert_list(&mut c, "one", &["x"]);
    c.check(&["EXISTS", "one"], &int(1));
    // A full rotation brings the list back.
    for i in 0..3 {
        let expect = ["b", "a", "c"][i];
        c.check(&["RPOPLPUSH", "l", "l"], &bulk(expect));
    }
    assert_list(&mut c, "l", &["c", "a", "b"]);
}

fn move_from_missing_source(s: &Server) {
    let mut c = s.raw();
    c.check(&["RPOPLPUSH", "nokey", "dst"], &nil());
    for (from, to) in [("LEFT", "LEFT"), ("RIGHT", "RIGHT")] {
        c.check(&["LMOVE", "nokey", "dst", from, to], &nil());
        c.check(&["LMOVE", SRC, DST, from, to], &nil());
    }
    c.check(&["EXISTS", "dst", DST], &int(0));
    // A missing source never looks at the destination, even of a wrong type.
    c.check(&["SET", "str", "v"], &ok());
    c.check(&["LMOVE", "nokey", "str", "LEFT", "LEFT"], &nil());
    c.check(&["RPOPLPUSH", "nokey", "str"], &nil());
    c.check(&["SET", DST, "v"], &ok());
    c.check(&["LMOVE", SRC, DST, "LEFT", "LEFT"], &nil());
    c.check(&["GET", DST], &bulk("v"));
}

fn move_to_wrong_type_keeps_source(s: &Server) {
    let mut c = s.raw();
    for (src, dst) in [("{same}src", "{same}dst"), (SRC, DST)] {
        c.check(&["SET", dst, "string"], &ok());
        c.check(&["RPUSH", src, "a", "b", "c"], &int(3));
        for (from, to) in [
            ("LEFT", "LEFT"),
            ("LEFT", "RIGHT"),
            ("RIGHT", "LEFT"),
            ("RIGHT", "RIGHT"),
        ] {
            c.check(&["LMOVE", src, dst, from, to], &err(WRONGTYPE));
        }
        c.check(&["RPOPLPUSH", src, dst], &err(WRONGTYPE));
        assert_list(&mut c, src, &["a", "b", "c"]);
        c.check(&["GET", dst], &bulk("string"));
        // A one-element source is not deleted either.
        c.check(&["DEL", src], &int(1));
        c.check(&["RPUSH", src, "only"], &int(1));
        c.check(&["LMOVE", src, dst, "LEFT", "RIGHT"], &err(WRONGTYPE));
        c.check(&["RPOPLPUSH", src, dst], &err(WRONGTYPE));
        assert_list(&mut c, src, &["only"]);
        // A source of the wrong type: the destination is not created.
        c.check(&["DEL", src, dst], &int(2));
        c.check(&["SET", src, "string"], &ok());
        c.check(&["LMOVE", src, dst, "LEFT", "RIGHT"], &err(WRONGTYPE));
        c.check(&["RPOPLPUSH", src, dst], &err(WRONGTYPE));
        c.check(&["EXISTS", dst], &int(0));
        c.check(&["LMOVE", src, src, "LEFT", "RIGHT"], &err(WRONGTYPE));
        c.check(&["DEL", src], &int(1));
    }
}

fn cross_shard_moves(s: &Server) {
    let mut c = s.raw();
    let n = 200;
    let items: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    let mut push = vec!["RPUSH", SRC];
    push.extend(items.iter().map(|s| s.as_str()));
    c.check(&push, &int(n as i64));
    for i in (0..n).rev() {
        c.check(&["LMOVE", SRC, DST, "RIGHT", "LEFT"], &bulk(&items[i]));
        if i % 50 == 0 {
            c.check(&["LLEN", SRC], &int(i as i64));
            c.check(&["LLEN", DST], &int((n - i) as i64));
            c.check(&["LINDEX", DST, "0"], &bulk(&items[i]));
        }
    }
    assert_gone(&mut c, SRC);
    let all: Vec<&str> = items.iter().map(|s| s.as_str()).collect();
    assert_list(&mut c, DST, &all);
    // Around a ring of three shards, element by element.
    for _ in 0..n {
        let r = c.cmd(&["RPOPLPUSH", DST, THIRD]);
        assert_eq!(r[0], b'$', "{}", show(&r));
        let r = c.cmd(&["LMOVE", THIRD, SRC, "LEFT", "RIGHT"]);
        assert_eq!(r[0], b'$', "{}", show(&r));
    }
    assert_gone(&mut c, DST);
    assert_gone(&mut c, THIRD);
    let mut back: Vec<&str> = all.clone();
    back.reverse();
    assert_list(&mut c, SRC, &back);
    // Another connection sees the result of the moves at once.
    let mut d = s.raw();
    c.check(&["LMOVE", SRC, DST, "LEFT", "LEFT"], &bulk(back[0]));
    d.check(&["LRANGE", DST, "0", "-1"], &bulks(&[back[0]]));
    d.check(&["LLEN", SRC], &int(n as i64 - 1));
}

fn cross_shard_moves_concurrently_lose_nothing(s: &Server) {
    // Two clients move elements in opposite directions between two shards
    // while a third rotates the source: no element is lost or duplicated.
    let n = 300;
    let mut c = s.client();
    let items: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
    let _: i64 = redis::cmd("RPUSH")
        .arg(SRC)
        .arg(&items)
        .query(&mut c)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let workers: Vec<_> = [
        (SRC, DST, "RIGHT", "LEFT"),
        (DST, SRC, "LEFT", "RIGHT"),
        (SRC, SRC, "LEFT", "RIGHT"),
        (DST, THIRD, "RIGHT", "RIGHT"),
        (THIRD, SRC, "LEFT", "LEFT"),
    ]
    .into_iter()
    .map(|(from, to, wf, wt)| {
        let mut con = s.client();
        thread::spawn(move || {
            for _ in 0..400 {
                assert!(Instant::now() < deadline, "moves took too long");
                let _: Option<String> = redis::cmd("LMOVE")
                    .arg(from)
                    .arg(to)
                    .arg(wf)
                    .arg(wt)
                    .query(&mut con)
                    .unwrap();
            }
        })
    })
    .collect();
    for w in workers {
        w.join().unwrap();
    }
    let mut seen = Vec::new();
    for key in [SRC, DST, THIRD] {
        let part: Vec<String> = redis::cmd("LRANGE")
            .arg(key)
            .arg(0)
            .arg(-1)
            .query(&mut c)
            .unwrap();
        seen.extend(part);
    }
    seen.sort();
    let mut want = items.clone();
    want.sort();
    assert_eq!(seen, want);
}

fn lmpop(s: &Server) {
    let mut c = s.raw();
    c.check(&["LMPOP", "1", "nokey", "LEFT"], &nil_array());
    c.check(
        &["LMPOP", "2", "nokey", "nokey2", "RIGHT", "COUNT", "3"],
        &nil_array(),
    );
    c.check(&["RPUSH", "l", "a", "b", "c", "d", "e"], &int(5));
    c.check(&["LMPOP", "1", "l", "LEFT"], &mpop("l", &["a"]));
    c.check(&["LMPOP", "1", "l", "RIGHT"], &mpop("l", &["e"]));
    c.check(
        &["LMPOP", "1", "l", "left", "count", "2"],
        &mpop("l", &["b", "c"]),
    );
    c.check(
        &["LMPOP", "1", "l", "RIGHT", "COUNT", "100"],
        &mpop("l", &["d"]),
    );
    assert_gone(&mut c, "l");
    // The first non-empty key in argument order is popped, only that one.
    c.check(&["RPUSH", "k2", "x", "y"], &int(2));
    c.check(&["RPUSH", "k3", "z"], &int(1));
    c.check(
        &["LMPOP", "3", "nokey", "k2", "k3", "LEFT", "COUNT", "5"],
        &mpop("k2", &["x", "y"]),
    );
    assert_gone(&mut c, "k2");
    c.check(
        &["LMPOP", "3", "nokey", "k2", "k3", "LEFT"],
        &mpop("k3", &["z"]),
    );
    // The same key twice.
    c.check(&["RPUSH", "k", "1", "2"], &int(2));
    c.check(&["LMPOP", "2", "k", "k", "RIGHT"], &mpop("k", &["2"]));
    // Keys on three shards.
    c.check(&["RPUSH", THIRD, "t1", "t2", "t3"], &int(3));
    c.check(
        &["LMPOP", "3", SRC, DST, THIRD, "RIGHT", "COUNT", "2"],
        &mpop(THIRD, &["t3", "t2"]),
    );
    c.check(&["RPUSH", DST, "d1"], &int(1));
    c.check(
        &["LMPOP", "3", SRC, DST, THIRD, "LEFT"],
        &mpop(DST, &["d1"]),
    );
    c.check(
        &["LMPOP", "3", SRC, DST, THIRD, "LEFT"],
        &mpop(THIRD, &["t1"]),
    );
    c.check(&["LMPOP", "3", SRC, DST, THIRD, "LEFT"], &nil_array());
    // A list before a string: the string is never looked at.
    c.check(&["RPUSH", "l", "a"], &int(1));
    c.check(&["SET", "str", "v"], &ok());
    c.check(&["LMPOP", "2", "l", "str", "LEFT"], &mpop("l", &["a"]));
    // A string before a list, or after missing keys: WRONGTYPE, nothing popped.
    c.check(&["RPUSH", "l", "a"], &int(1));
    c.check(&["LMPOP", "2", "str", "l", "LEFT"], &err(WRONGTYPE));
    c.check(&["LMPOP", "2", "nokey", "str", "LEFT"], &err(WRONGTYPE));
    c.check(
        &["LMPOP", "3", "nokey", "str", "l", "LEFT"],
        &err(WRONGTYPE),
    );
    assert_list(&mut c, "l", &["a"]);
}

fn lmpop_errors(s: &Server) {
    let mut c = s.raw();
    c.check(&["RPUSH", "l", "a", "b"], &int(2));
    for bad in ["0", "-1", "abc", "1.5", "", "99999999999999999999"] {
        c.check(&["LMPOP", bad, "l", "LEFT"], &err(NUMKEYS));
    }
    // More keys announced than given.
    c.check(&["LMPOP", "3", "l", "LEFT"], &err(SYNTAX));
    c.check(&["LMPOP", "2", "l", "LEFT"], &err(SYNTAX));
    c.check(&["LMPOP", "2147483648", "l", "LEFT"], &err(SYNTAX));
    c.check(&["LMPOP", "1", "l", "MIDDLE"], &err(SYNTAX));
    c.check(&["LMPOP", "1", "l", "LEFTX"], &err(SYNTAX));
    for bad in ["0", "-1", "abc", "1.5", ""] {
        c.check(
            &["LMPOP", "1", "l", "LEFT", "COUNT", bad],
            &err(COUNT_POSITIVE),
        );
        c.check(
            &["LMPOP", "1", "nokey", "LEFT", "COUNT", bad],
            &err(COUNT_POSITIVE),
        );
    }
    c.check(&["LMPOP", "1", "l", "LEFT", "COUNT"], &err(SYNTAX));
    c.check(
        &["LMPOP", "1", "l", "LEFT", "COUNT", "1", "COUNT", "1"],
        &err(SYNTAX),
    );
    c.check(&["LMPOP", "1", "l", "LEFT", "FOO", "1"], &err(SYNTAX));
    c.check(&["LMPOP", "1", "l", "LEFT", "1"], &err(SYNTAX));
    c.check(&["LMPOP"], &arity("lmpop"));
    c.check(&["LMPOP", "1"], &arity("lmpop"));
    c.check(&["LMPOP", "1", "l"], &arity("lmpop"));
    // Nothing was popped by any of these.
    assert_list(&mut c, "l", &["a", "b"]);
    // Errors in the arguments come before WRONGTYPE.
    c.check(&["SET", "str", "v"], &ok());
    c.check(
        &["LMPOP", "1", "str", "LEFT", "COUNT", "0"],
        &err(COUNT_POSITIVE),
    );
    c.check(&["LMPOP", "1", "str", "UP"], &err(SYNTAX));
    c.check(&["LMPOP", "1", "str", "LEFT"], &err(WRONGTYPE));
}

fn wrongtype_for_every_command(s: &Server) {
    let mut c = s.raw();
    c.check(&["SET", "s", "v"], &ok());
    let cmds: &[&[&str]] = &[
        &["LPUSH", "s", "a"],
        &["RPUSH", "s", "a"],
        &["LPUSHX", "s", "a"],
        &["RPUSHX", "s", "a"],
        &["LPOP", "s"],
        &["RPOP", "s"],
        &["LPOP", "s", "2"],
        &["RPOP", "s", "0"],
        &["LLEN", "s"],
        &["LRANGE", "s", "0", "-1"],
        &["LINDEX", "s", "0"],
        &["LINDEX", "s", "x"],
        &["LSET", "s", "0", "x"],
        &["LSET", "s", "x", "x"],
        &["LINSERT", "s", "BEFORE", "a", "b"],
        &["LREM", "s", "0", "a"],
        &["LTRIM", "s", "0", "1"],
        &["LPOS", "s", "a"],
        &["LPOS", "s", "a", "COUNT", "0"],
        &["RPOPLPUSH", "s", "d"],
        &["LMOVE", "s", "d", "LEFT", "LEFT"],
        &["LMPOP", "1", "s", "LEFT"],
    ];
    for cmd in cmds {
        c.check(cmd, &err(WRONGTYPE));
    }
    c.check(&["GET", "s"], &bulk("v"));
    c.check(&["EXISTS", "d"], &int(0));
    // And string commands on a list.
    c.check(&["RPUSH", "l", "a"], &int(1));
    for cmd in [
        &["GET", "l"][..],
        &["APPEND", "l", "x"],
        &["INCR", "l"],
        &["STRLEN", "l"],
        &["GETDEL", "l"],
    ] {
        c.check(cmd, &err(WRONGTYPE));
    }
    c.check(&["MGET", "l", "s"], &array(&[nil(), bulk("v")]));
    assert_list(&mut c, "l", &["a"]);
    // SET replaces a list.
    c.check(&["SET", "l", "now a string"], &ok());
    c.check(&["TYPE", "l"], &simple("string"));
    c.check(&["LLEN", "l"], &err(WRONGTYPE));
}

fn emptied_list_stops_existing(s: &Server) {
    let mut c = s.raw();
    let ways: &[&[&str]] = &[
        &["LPOP", "k"],
        &["RPOP", "k"],
        &["LPOP", "k", "1"],
        &["RPOP", "k", "10"],
        &["LREM", "k", "0", "x"],
        &["LREM", "k", "-1", "x"],
        &["LTRIM", "k", "1", "0"],
        &["LTRIM", "k", "-1", "-2"],
        &["RPOPLPUSH", "k", "other"],
        &["LMOVE", "k", "other", "LEFT", "RIGHT"],
        &["LMOVE", "k", DST, "RIGHT", "LEFT"],
        &["LMPOP", "1", "k", "LEFT"],
        &["LMPOP", "2", "nokey", "k", "RIGHT", "COUNT", "9"],
    ];
    for way in ways {
        c.check(&["RPUSH", "k", "x"], &int(1));
        let r = c.cmd(way);
        assert_ne!(r[0], b'-', "{way:?} -> {}", show(&r));
        assert_gone(&mut c, "k");
        c.check(&["KEYS", "k"], &bulks(&[]));
        // Not recreated by the X pushes.
        c.check(&["LPUSHX", "k", "y"], &int(0));
        c.check(&["RPUSHX", "k", "y"], &int(0));
        c.check(&["LINSERT", "k", "BEFORE", "x", "y"], &int(0));
        c.check(&["LSET", "k", "0", "y"], &err(NO_SUCH_KEY));
        c.check(&["EXISTS", "k"], &int(0));
        c.cmd(&["DEL", "other", DST]);
    }
    // A pushed-then-popped key on every shard.
    for i in 0..30 {
        let key = format!("e:{i}");
        c.check(&["LPUSH", &key, "v"], &int(1));
        c.check(&["RPOP", &key], &bulk("v"));
        c.check(&["EXISTS", &key], &int(0));
    }
    c.check(&["DBSIZE"], &int(0));
}

fn nulls_resp2(s: &Server) {
    let mut c = s.raw();
    c.check(&["RPUSH", "k", "a", "b"], &int(2));
    c.check(&["LPOP", "nokey"], b"$-1\r\n");
    c.check(&["RPOP", "nokey"], b"$-1\r\n");
    c.check(&["LPOP", "nokey", "1"], b"*-1\r\n");
    c.check(&["RPOP", "nokey", "0"], b"*-1\r\n");
    c.check(&["LPOP", "k", "0"], b"*0\r\n");
    c.check(&["LINDEX", "nokey", "0"], b"$-1\r\n");
    c.check(&["LINDEX", "k", "5"], b"$-1\r\n");
    c.check(&["LPOS", "nokey", "a"], b"$-1\r\n");
    c.check(&["LPOS", "k", "zz"], b"$-1\r\n");
    c.check(&["LPOS", "nokey", "a", "COUNT", "0"], b"*0\r\n");
    c.check(&["LPOS", "k", "zz", "COUNT", "2"], b"*0\r\n");
    c.check(&["LMPOP", "1", "nokey", "LEFT"], b"*-1\r\n");
    c.check(&["RPOPLPUSH", "nokey", "d"], b"$-1\r\n");
    c.check(&["LMOVE", "nokey", "d", "LEFT", "RIGHT"], b"$-1\r\n");
    c.check(&["LRANGE", "nokey", "0", "-1"], b"*0\r\n");
    c.check(&["LRANGE", "k", "5", "6"], b"*0\r\n");
    c.check(&["LLEN", "nokey"], b":0\r\n");
    c.check(&["LINSERT", "nokey", "BEFORE", "a", "b"], b":0\r\n");
    c.check(&["LINSERT", "k", "BEFORE", "zz", "b"], b":-1\r\n");
    c.check(&["LPUSHX", "nokey", "a"], b":0\r\n");
    c.check(&["LREM", "nokey", "0", "a"], b":0\r\n");
    c.check(&["LTRIM", "nokey", "0", "1"], b"+OK\r\n");
    c.check(&["LSET", "k", "0", "A"], b"+OK\r\n");
    c.check(&["LPOP", "k"], b"$1\r\nA\r\n");
    c.check(&["LPOP", "k", "5"], b"*1\r\n$1\r\nb\r\n");
    c.check(&["RPUSH", "k", "a", "b", "a"], b":3\r\n");
    c.check(&["LPOS", "k", "a", "COUNT", "0"], b"*2\r\n:0\r\n:2\r\n");
    c.check(
        &["LMPOP", "1", "k", "RIGHT", "COUNT", "2"],
        b"*2\r\n$1\r\nk\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n",
    );
}

fn nulls_resp3(s: &Server) {
    let mut c = s.raw();
    hello3(&mut c);
    c.check(&["RPUSH", "k", "a", "b"], &int(2));
    c.check(&["LPOP", "nokey"], b"_\r\n");
    c.check(&["RPOP", "nokey"], b"_\r\n");
    c.check(&["LPOP", "nokey", "1"], b"_\r\n");
    c.check(&["RPOP", "nokey", "0"], b"_\r\n");
    c.check(&["LPOP", "k", "0"], b"*0\r\n");
    c.check(&["LINDEX", "nokey", "0"], b"_\r\n");
    c.check(&["LINDEX", "k", "5"], b"_\r\n");
    c.check(&["LPOS", "nokey", "a"], b"_\r\n");
    c.check(&["LPOS", "k", "zz"], b"_\r\n");
    c.check(&["LPOS", "k", "a", "RANK", "2"], b"_\r\n");
    c.check(&["LPOS", "nokey", "a", "COUNT", "0"], b"*0\r\n");
    c.check(&["LPOS", "k", "zz", "COUNT", "2"], b"*0\r\n");
    c.check(&["LMPOP", "1", "nokey", "LEFT"], b"_\r\n");
    c.check(
        &["LMPOP", "2", "nokey", "nokey2", "LEFT", "COUNT", "2"],
        b"_\r\n",
    );
    c.check(&["RPOPLPUSH", "nokey", "d"], b"_\r\n");
    c.check(&["LMOVE", "nokey", "d", "LEFT", "RIGHT"], b"_\r\n");
    c.check(&["LMOVE", SRC, DST, "LEFT", "RIGHT"], b"_\r\n");
    c.check(&["LRANGE", "nokey", "0", "-1"], b"*0\r\n");
    c.check(&["LLEN", "nokey"], b":0\r\n");
    c.check(&["LTRIM", "nokey", "0", "1"], b"+OK\r\n");
    // Non-null replies are the same as in RESP2.
    c.check(&["LPOP", "k"], b"$1\r\na\r\n");
    c.check(&["LPOP", "k", "5"], b"*1\r\n$1\r\nb\r\n");
    c.check(&["RPUSH", "k", "a", "b", "a"], b":3\r\n");
    c.check(&["LPOS", "k", "a", "COUNT", "0"], b"*2\r\n:0\r\n:2\r\n");
    c.check(&["LPOS", "k", "b"], b":1\r\n");
    c.check(
        &["LMPOP", "1", "k", "RIGHT", "COUNT", "2"],
        b"*2\r\n$1\r\nk\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n",
    );
    c.check(&["LMOVE", "k", "k2", "LEFT", "RIGHT"], b"$1\r\na\r\n");
    c.check(&["LRANGE", "k2", "0", "-1"], b"*1\r\n$1\r\na\r\n");
    c.check(&["LSET", "nokey", "0", "v"], &err(NO_SUCH_KEY));
    c.check(&["LPOP", "k2", "-1"], &err(NOT_POSITIVE));
    // And back to RESP2.
    let r = c.cmd(&["HELLO", "2"]);
    assert_eq!(r[0], b'*', "{}", show(&r));
    c.check(&["LPOP", "nokey"], b"$-1\r\n");
    c.check(&["LPOP", "nokey", "1"], b"*-1\r\n");
    c.check(&["LMPOP", "1", "nokey", "LEFT"], b"*-1\r\n");
}

fn arity_errors(s: &Server) {
    let mut c = s.raw();
    let cases: &[&[&str]] = &[
        &["LPUSH"],
        &["LPUSH", "k"],
        &["RPUSH"],
        &["RPUSH", "k"],
        &["LPUSHX", "k"],
        &["RPUSHX", "k"],
        &["LPOP"],
        &["LPOP", "k", "1", "2"],
        &["RPOP"],
        &["RPOP", "k", "1", "2"],
        &["LLEN"],
        &["LLEN", "k", "k"],
        &["LRANGE", "k", "0"],
        &["LRANGE", "k", "0", "1", "2"],
        &["LINDEX", "k"],
        &["LINDEX", "k", "0", "1"],
        &["LSET", "k", "0"],
        &["LSET", "k", "0", "v", "w"],
        &["LINSERT", "k", "BEFORE", "x"],
        &["LINSERT", "k", "BEFORE", "x", "y", "z"],
        &["LREM", "k", "0"],
        &["LREM", "k", "0", "a", "b"],
        &["LTRIM", "k", "0"],
        &["LTRIM", "k", "0", "1", "2"],
        &["LPOS", "k"],
        &["RPOPLPUSH", "k"],
        &["RPOPLPUSH", "k", "d", "e"],
        &["LMOVE", "k", "d", "LEFT"],
        &["LMOVE", "k", "d", "LEFT", "LEFT", "x"],
        &["LMPOP", "1", "k"],
    ];
    for cmd in cases {
        c.check(cmd, &arity(&cmd[0].to_lowercase()));
    }
    // The name in the message is the lower-cased command.
    c.check(&["lPuSh", "k"], &arity("lpush"));
    c.check(&["EXISTS", "k", "d"], &int(0));
}

fn argument_errors_and_their_order(s: &Server) {
    let mut c = s.raw();
    c.check(&["SET", "s", "v"], &ok());
    // Argument errors before the key's type.
    c.check(&["LINSERT", "s", "MIDDLE", "a", "b"], &err(SYNTAX));
    c.check(&["LRANGE", "s", "x", "1"], &err(NOT_INT));
    c.check(&["LTRIM", "s", "x", "1"], &err(NOT_INT));
    c.check(&["LREM", "s", "x", "a"], &err(NOT_INT));
    c.check(&["LPOP", "s", "-1"], &err(NOT_POSITIVE));
    c.check(&["RPOP", "s", "x"], &err(NOT_POSITIVE));
    c.check(&["LMOVE", "s", "d", "LEFT", "UP"], &err(SYNTAX));
    c.check(&["LMOVE", "s", "d", "UP", "LEFT"], &err(SYNTAX));
    c.check(
        &["LMPOP", "1", "s", "LEFT", "COUNT", "0"],
        &err(COUNT_POSITIVE),
    );
    c.check(
        &["LPOS", "s", "a", "MAXLEN", "-1"],
        &err("ERR MAXLEN can't be negative"),
    );
    // The key's type before the argument: LSET and LINDEX.
    c.check(&["LSET", "s", "x", "v"], &err(WRONGTYPE));
    c.check(&["LINDEX", "s", "x"], &err(WRONGTYPE));
    // Syntax errors on a missing key.
    c.check(&["LMOVE", "nokey", "d", "MIDDLE", "LEFT"], &err(SYNTAX));
    c.check(&["LMOVE", "nokey", "d", "LEFT", ""], &err(SYNTAX));
    c.check(&["LINSERT", "nokey", "", "a", "b"], &err(SYNTAX));
    c.check(&["RPUSH", "l", "a"], &int(1));
    c.check(&["LMOVE", "l", "d", "MIDDLE", "LEFT"], &err(SYNTAX));
    assert_list(&mut c, "l", &["a"]);
    c.check(&["EXISTS", "d"], &int(0));
    // Integers are strict: no "+", no leading zeros, no "-0", no spaces.
    c.check(&["RPUSH", "l", "b", "c"], &int(3));
    for bad in ["-0", "01", "+1", "1 ", " 1", "0x1", "1e2"] {
        c.check(&["LINDEX", "l", bad], &err(NOT_INT));
        c.check(&["LRANGE", "l", bad, "0"], &err(NOT_INT));
        c.check(&["LPOP", "l", bad], &err(NOT_POSITIVE));
        c.check(&["LMPOP", bad, "l", "LEFT"], &err(NUMKEYS));
        c.check(&["LPOS", "l", "a", "RANK", bad], &err(NOT_INT));
        c.check(
            &["LPOS", "l", "a", "COUNT", bad],
            &err("ERR COUNT can't be negative"),
        );
    }
    c.check(&["LINDEX", "l", "0"], &bulk("a"));
    assert_list(&mut c, "l", &["a", "b", "c"]);
}

fn binary_safe_values(s: &Server) {
    let mut c = s.raw();
    let key: &[u8] = b"bin\x00key\r\n";
    let a: &[u8] = b"a\r\nb";
    let b: &[u8] = b"\x00\x01\x02\xff";
    let crlf: &[u8] = b"\r\n";
    let all: Vec<u8> = (0..=255u8).collect();
    assert_eq!(c.cmd_bytes(&[b"RPUSH", key, a, b, crlf, &all, b""]), int(5));
    let expect = array(&[
        bulk_bytes(a),
        bulk_bytes(b),
        bulk_bytes(crlf),
        bulk_bytes(&all),
        bulk_bytes(b""),
    ]);
    assert_eq!(c.cmd_bytes(&[b"LRANGE", key, b"0", b"-1"]), expect);
    assert_eq!(c.cmd_bytes(&[b"LINDEX", key, b"3"]), bulk_bytes(&all));
    assert_eq!(c.cmd_bytes(&[b"LPOS", key, crlf]), int(2));
    assert_eq!(c.cmd_bytes(&[b"LPOS", key, b"\x00"]), nil());
    assert_eq!(c.cmd_bytes(&[b"LPOS", key, b""]), int(4));
    assert_eq!(
        c.cmd_bytes(&[b"LINSERT", key, b"AFTER", b, b"\x00"]),
        int(6)
    );
    assert_eq!(c.cmd_bytes(&[b"LREM", key, b"0", b"\x00"]), int(1));
    assert_eq!(c.cmd_bytes(&[b"LREM", key, b"0", b"\x00\x01\x02"]), int(0));
    assert_eq!(c.cmd_bytes(&[b"LSET", key, b"0", b"\r\n\r\n"]), ok());
    assert_eq!(c.cmd_bytes(&[b"LPOP", key]), bulk_bytes(b"\r\n\r\n"));
    let dst: &[u8] = b"{to}\x00dst";
    assert_eq!(
        c.cmd_bytes(&[b"LMOVE", key, dst, b"LEFT", b"RIGHT"]),
        bulk_bytes(b)
    );
    assert_eq!(c.cmd_bytes(&[b"RPOPLPUSH", key, dst]), bulk_bytes(b""));
    assert_eq!(
        c.cmd_bytes(&[b"LRANGE", dst, b"0", b"-1"]),
        array(&[bulk_bytes(b""), bulk_bytes(b)])
    );
    assert_eq!(
        c.cmd_bytes(&[b"LMPOP", b"2", b"nokey", key, b"LEFT", b"COUNT", b"5"]),
        array(&[
            bulk_bytes(key),
            array(&[bulk_bytes(crlf), bulk_bytes(&all)])
        ])
    );
    assert_eq!(c.cmd_bytes(&[b"EXISTS", key]), int(0));
    c.check(&["EXISTS", "bin"], &int(0));
}

fn large_values(s: &Server) {
    let mut c = s.raw();
    let big: Vec<Vec<u8>> = (0..3u8)
        .map(|n| {
            (0..100 * 1024)
                .map(|i| b'a' + ((i as u32 + n as u32 * 7) % 26) as u8)
                .collect()
        })
        .collect();
    same(
        &c.cmd_bytes(&[
            b"RPUSH",
            SRC.as_bytes(),
            &big[0],
            &big[1],
            b"small",
            &big[2],
        ]),
        &int(4),
    );
    same(
        &c.cmd_bytes(&[b"LRANGE", SRC.as_bytes(), b"0", b"-1"]),
        &array(&[
            bulk_bytes(&big[0]),
            bulk_bytes(&big[1]),
            bulk("small"),
            bulk_bytes(&big[2]),
        ]),
    );
    same(
        &c.cmd_bytes(&[b"LINDEX", SRC.as_bytes(), b"-1"]),
        &bulk_bytes(&big[2]),
    );
    same(&c.cmd_bytes(&[b"LPOS", SRC.as_bytes(), &big[1]]), &int(1));
    same(
        &c.cmd_bytes(&[b"LINSERT", SRC.as_bytes(), b"BEFORE", &big[1], &big[2]]),
        &int(5),
    );
    same(
        &c.cmd_bytes(&[b"LREM", SRC.as_bytes(), b"-1", &big[2]]),
        &int(1),
    );
    same(
        &c.cmd_bytes(&[b"LSET", SRC.as_bytes(), b"3", &big[0]]),
        &ok(),
    );
    // Across shards.
    same(
        &c.cmd_bytes(&[b"LMOVE", SRC.as_bytes(), DST.as_bytes(), b"LEFT", b"LEFT"]),
        &bulk_bytes(&big[0]),
    );
    same(
        &c.cmd_bytes(&[b"RPOPLPUSH", SRC.as_bytes(), DST.as_bytes()]),
        &bulk_bytes(&big[0]),
    );
    same(
        &c.cmd_bytes(&[b"LRANGE", DST.as_bytes(), b"0", b"-1"]),
        &array(&[bulk_bytes(&big[0]), bulk_bytes(&big[0])]),
    );
    same(
        &c.cmd_bytes(&[b"LPOP", SRC.as_bytes(), b"10"]),
        &array(&[bulk_bytes(&big[2]), bulk_bytes(&big[1])]),
    );
    c.check(&["EXISTS", SRC], &int(0));
    // Many large elements in one list.
    for i in 0..20u8 {
        let mut v = big[(i % 3) as usize].clone();
        v[0] = i;
        same(&c.cmd_bytes(&[b"RPUSH", b"bigl", &v]), &int(i as i64 + 1));
    }
    let r = Reply::parse(&c.cmd(&["LRANGE", "bigl", "0", "-1"]));
    let items = r.as_array();
    assert_eq!(items.len(), 20);
    for (i, item) in items.iter().enumerate() {
        let Reply::Bulk(b) = item else {
            panic!("not a bulk")
        };
        assert_eq!(b.len(), 100 * 1024);
        assert_eq!(b[0], i as u8);
        assert!(b[1..] == big[i % 3][1..], "element {i} differs");
    }
}

fn ten_thousand_elements(s: &Server) {
    let mut c = s.raw();
    let n = 10_000usize;
    let items: Vec<String> = (0..n).map(|i| format!("element-{i}")).collect();
    // RPUSH in batches to one list, LPUSH one by one (pipelined) to another.
    for chunk in items.chunks(1000) {
        let mut args = vec!["RPUSH", "r"];
        args.extend(chunk.iter().map(|s| s.as_str()));
        c.cmd(&args);
    }
    let mut pipeline = Vec::new();
    for it in &items {
        pipeline.extend(encode_str(&["LPUSH", "{to}l", it]));
    }
    c.send(&pipeline);
    for i in 0..n {
        assert_eq!(c.read_reply(), int(i as i64 + 1));
    }
    c.check(&["LLEN", "r"], &int(n as i64));
    c.check(&["LLEN", "{to}l"], &int(n as i64));
    let forward: Vec<Vec<u8>> = items.iter().map(|s| s.as_bytes().to_vec()).collect();
    let mut backward = forward.clone();
    backward.reverse();
    assert!(lrange_all(&mut c, "r") == forward, "RPUSH order");
    assert!(lrange_all(&mut c, "{to}l") == backward, "LPUSH order");
    // Windows with positive and negative indexes.
    for start in [0usize, 1, 4999, 9990] {
        let stop = (start + 9).min(n - 1);
        let want: Vec<&str> = items[start..=stop].iter().map(|s| s.as_str()).collect();
        c.check(
            &["LRANGE", "r", &start.to_string(), &stop.to_string()],
            &bulks(&want),
        );
        let (ns, ne) = (start as i64 - n as i64, stop as i64 - n as i64);
        c.check(
            &["LRANGE", "r", &ns.to_string(), &ne.to_string()],
            &bulks(&want),
        );
    }
    for i in [0usize, 1, 2500, 5000, 7777, 9999] {
        c.check(&["LINDEX", "r", &i.to_string()], &bulk(&items[i]));
        c.check(
            &["LINDEX", "{to}l", &i.to_string()],
            &bulk(&items[n - 1 - i]),
        );
        let neg = -(i as i64) - 1;
        c.check(&["LINDEX", "r", &neg.to_string()], &bulk(&items[n - 1 - i]));
        c.check(&["LPOS", "r", &items[i]], &int(i as i64));
    }
    c.check(&["LSET", "r", "5000", "middle"], &ok());
    c.check(&["LINDEX", "r", "5000"], &bulk("middle"));
    c.check(&["LPOS", "r", "middle", "RANK", "-1"], &int(5000));
    c.check(
        &["LINSERT", "r", "AFTER", "middle", "inserted"],
        &int(n as i64 + 1),
    );
    c.check(&["LREM", "r", "0", "inserted"], &int(1));
    c.check(&["LSET", "r", "5000", &items[5000]], &ok());
    // Pop everything from the other end, in one reply.
    let popped = Reply::parse(&c.cmd(&["RPOP", "{to}l", "10000"]));
    let popped: Vec<Vec<u8>> = popped
        .as_array()
        .iter()
        .map(|r| match r {
            Reply::Bulk(b) => b.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(popped == forward, "RPOP 10000 of the LPUSHed list");
    c.check(&["EXISTS", "{to}l"], &int(0));
    c.check(&["LTRIM", "r", "100", "-101"], &ok());
    c.check(&["LLEN", "r"], &int(n as i64 - 200));
    c.check(&["LINDEX", "r", "0"], &bulk(&items[100]));
    c.check(&["LINDEX", "r", "-1"], &bulk(&items[n - 101]));
    assert!(
        lrange_all(&mut c, "r") == forward[100..n - 100],
        "after LTRIM"
    );
}

/// Every key SCAN TYPE finds, walking the cursor to the end.
fn scan_type(c: &mut RawConn, ty: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_string();
    for _ in 0..10_000 {
        let r = Reply::parse(&c.cmd(&["SCAN", &cursor, "TYPE", ty, "COUNT", "100"]));
        let parts = r.as_array();
        seen.extend(parts[1].as_array().iter().map(|k| k.as_text()));
        cursor = parts[0].as_text();
        if cursor == "0" {
            return seen.into_iter().collect();
        }
    }
    panic!("SCAN never returned cursor 0");
}

fn lists_and_key_commands(s: &Server) {
    let mut c = s.raw();
    c.check(&["RPUSH", SRC, "a", "b"], &int(2));
    c.check(&["TYPE", SRC], &simple("list"));
    c.check(&["EXISTS", SRC, SRC], &int(2));
    c.check(&["KEYS", "{from}*"], &bulks(&[SRC]));
    c.check(&["SET", "{from}string", "v"], &ok());
    assert_eq!(scan_type(&mut c, "list"), [SRC.to_string()]);
    assert_eq!(scan_type(&mut c, "LIST"), [SRC.to_string()]);
    assert_eq!(scan_type(&mut c, "string"), ["{from}string".to_string()]);
    c.check(&["DEL", "{from}string"], &int(1));
    // RENAME across shards carries the list.
    c.check(&["RENAME", SRC, DST], &ok());
    c.check(&["EXISTS", SRC], &int(0));
    assert_list(&mut c, DST, &["a", "b"]);
    c.check(&["RPUSH", THIRD, "x"], &int(1));
    c.check(&["RENAME", THIRD, DST], &ok());
    assert_list(&mut c, DST, &["x"]);
    c.check(&["RENAMENX", DST, SRC], &int(1));
    c.check(&["LPUSH", SRC, "y"], &int(2));
    assert_list(&mut c, SRC, &["y", "x"]);
    // DEL and UNLINK.
    c.check(&["RPUSH", DST, "1"], &int(1));
    c.check(&["DEL", SRC, DST, "nokey"], &int(2));
    c.check(&["RPUSH", DST, "1"], &int(1));
    c.check(&["UNLINK", DST], &int(1));
    c.check(&["LLEN", DST], &int(0));
    // Expiry applies to lists; pushing keeps the TTL, emptying drops the key.
    c.check(&["RPUSH", "exp", "a", "b"], &int(2));
    c.check(&["EXPIRE", "exp", "100"], &int(1));
    c.check(&["RPUSH", "exp", "c"], &int(3));
    c.check(&["LPOP", "exp"], &bulk("a"));
    c.check(&["TTL", "exp"], &int(100));
    c.check(&["LPOP", "exp", "2"], &bulks(&["b", "c"]));
    c.check(&["TTL", "exp"], &int(-2));
    c.check(&["RPUSH", "exp", "new"], &int(1));
    c.check(&["TTL", "exp"], &int(-1));
    c.check(&["PEXPIRE", "exp", "30"], &int(1));
    thread::sleep(Duration::from_millis(80));
    c.check(&["LLEN", "exp"], &int(0));
    c.check(&["LPUSHX", "exp", "x"], &int(0));
    c.check(&["RPUSH", "exp", "fresh"], &int(1));
    assert_list(&mut c, "exp", &["fresh"]);
    c.check(&["TTL", "exp"], &int(-1));
    // LMOVE onto an expired destination starts a new list.
    c.check(&["RPUSH", DST, "old"], &int(1));
    c.check(&["PEXPIRE", DST, "20"], &int(1));
    thread::sleep(Duration::from_millis(60));
    c.check(&["RPUSH", SRC, "moved"], &int(1));
    c.check(&["LMOVE", SRC, DST, "LEFT", "LEFT"], &bulk("moved"));
    assert_list(&mut c, DST, &["moved"]);
    c.check(&["TTL", DST], &int(-1));
}

fn pipelined_list_commands(s: &Server) {
    // One write with commands on keys of all shards; replies come back in order.
    let mut c = s.raw();
    let keys: Vec<String> = (0..7).map(|i| format!("p{{{i}}}")).collect();
    let mut batch = Vec::new();
    let mut expected = Vec::new();
    let mut lens = [0i64; 7];
    for i in 0..300 {
        let k = &keys[i % 7];
        lens[i % 7] += 1;
        batch.extend(encode_str(&["RPUSH", k, &i.to_string()]));
        expected.push(int(lens[i % 7]));
        if i % 3 == 0 {
            batch.extend(encode_str(&["LLEN", k]));
            expected.push(int(lens[i % 7]));
        }
        if i % 5 == 4 {
            batch.extend(encode_str(&[
                "LMOVE",
                k,
                &keys[(i + 1) % 7],
                "LEFT",
                "RIGHT",
            ]));
            lens[i % 7] -= 1;
            lens[(i + 1) % 7] += 1;
            expected.push(Vec::new());
        }
    }
    c.send(&batch);
    for (n, want) in expected.iter().enumerate() {
        let got = c.read_reply();
        if want.is_empty() {
            assert_eq!(got[0], b'$', "reply {n}: {}", show(&got));
        } else {
            assert_eq!(show(&got), show(want), "reply {n}");
        }
    }
    let mut total = 0;
    for (k, len) in keys.iter().zip(lens) {
        c.check(&["LLEN", k], &int(len));
        total += len;
    }
    assert_eq!(total, 300);
}

fn redis_crate_roundtrip(s: &Server) {
    let mut con = s.client();
    let n: i64 = redis::cmd("RPUSH")
        .arg("rc")
        .arg(&["a", "b", "c"])
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 3);
    let v: Vec<String> = redis::cmd("LRANGE")
        .arg("rc")
        .arg(0)
        .arg(-1)
        .query(&mut con)
        .unwrap();
    assert_eq!(v, ["a", "b", "c"]);
    let popped: Option<String> = redis::cmd("LPOP").arg("nokey").query(&mut con).unwrap();
    assert_eq!(popped, None);
    let popped: Option<Vec<String>> = redis::cmd("LPOP")
        .arg("nokey")
        .arg(2)
        .query(&mut con)
        .unwrap();
    assert_eq!(popped, None);
    let moved: Option<String> = redis::cmd("LMOVE")
        .arg("rc")
        .arg(DST)
        .arg("RIGHT")
        .arg("LEFT")
        .query(&mut con)
        .unwrap();
    assert_eq!(moved.as_deref(), Some("c"));
    let m: Option<(String, Vec<String>)> = redis::cmd("LMPOP")
        .arg(2)
        .arg("nokey")
        .arg("rc")
        .arg("LEFT")
        .arg("COUNT")
        .arg(5)
        .query(&mut con)
        .unwrap();
    assert_eq!(m, Some(("rc".to_string(), vec!["a".into(), "b".into()])));
    let m: Option<(String, Vec<String>)> = redis::cmd("LMPOP")
        .arg(1)
        .arg("rc")
        .arg("LEFT")
        .query(&mut con)
        .unwrap();
    assert_eq!(m, None);
    let pos: Vec<i64> = redis::cmd("LPOS")
        .arg(DST)
        .arg("c")
        .arg("COUNT")
        .arg(0)
        .query(&mut con)
        .unwrap();
    assert_eq!(pos, [0]);
    let e = redis::cmd("LSET")
        .arg("nokey")
        .arg(0)
        .arg("v")
        .query::<()>(&mut con)
        .unwrap_err();
    assert_eq!(e.code(), Some("ERR"));
    let () = redis::cmd("SET")
        .arg("str")
        .arg("v")
        .query(&mut con)
        .unwrap();
    let e = redis::cmd("LPUSH")
        .arg("str")
        .arg("v")
        .query::<i64>(&mut con)
        .unwrap_err();
    assert_eq!(e.code(), Some("WRONGTYPE"));
}
