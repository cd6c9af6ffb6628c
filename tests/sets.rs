//! Set commands: SADD, SREM, SISMEMBER, SMISMEMBER, SMEMBERS, SCARD, SPOP,
//! SRANDMEMBER, SMOVE, SINTER / SUNION / SDIFF and their STORE forms,
//! SINTERCARD and SSCAN; their errors and the order Redis checks them in,
//! WRONGTYPE, RESP2 and RESP3 shapes (sets are `~` in RESP3), OBJECT
//! ENCODING transitions, emptied sets disappearing, and multi-key commands
//! whose keys live on different shards.
//!
//! Every expectation was checked byte for byte against a real redis-server
//! (`RINGBUS_TEST_TARGET=redis`). The reference at hand is Redis 7.0, which
//! has no listpack sets: where 7.2 answers differently (OBJECT ENCODING of
//! small non-integer sets, and so their member order) the test expects 7.2's
//! answer from ringbus and 7.0's from redis, and says so.

mod common;

use common::*;
use ringbus::shard::route::shard_of;
use std::collections::BTreeSet;
use std::thread;

sharded_tests!(
    sadd_srem_and_membership,
    srem_deletes_emptied_key,
    smembers_order,
    encoding_transitions,
    spop_without_count,
    spop_with_count,
    srandmember,
    random_errors_and_their_order,
    smove_same_and_cross_shard,
    smove_errors_and_their_order,
    smove_concurrently_loses_nothing,
    algebra_across_shards,
    algebra_with_missing_keys_and_wrong_types,
    store_forms,
    store_result_encodings,
    sintercard,
    sintercard_errors,
    sscan_small_and_large,
    sscan_errors,
    resp3_shapes,
    wrongtype_for_every_command,
    arity_errors,
    large_set_matches_model,
);

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";
const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";

/// Keys whose hash tags live on three different shards of a 3-shard ringbus
/// (checked by `hash_tags_are_on_distinct_shards`).
const A: &str = "{from}a";
const B: &str = "{to}b";
const C: &str = "{in}c";

/// The members of an array or set reply, sorted.
fn sorted(reply: &[u8]) -> Vec<String> {
    let mut v = texts(&Reply::parse(reply));
    v.sort();
    v
}

fn strs(items: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn members(c: &mut RawConn, key: &str) -> Vec<String> {
    sorted(&c.cmd(&["SMEMBERS", key]))
}

/// OBJECT ENCODING of a small set holding a non-integer: Redis 7.2 keeps it
/// a listpack, 7.0 (the reference here) makes it a hashtable.
fn small_strings(s: &Server) -> &'static str {
    if s.is_ringbus() {
        "listpack"
    } else {
        "hashtable"
    }
}

fn sadd_many(c: &mut RawConn, key: &str, items: impl IntoIterator<Item = String>) -> i64 {
    let mut args = vec!["SADD".to_string(), key.to_string()];
    args.extend(items);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    Reply::parse(&c.cmd(&refs)).as_int()
}

fn assert_gone(c: &mut RawConn, key: &str) {
    c.check(&["EXISTS", key], &int(0));
    c.check(&["TYPE", key], &simple("none"));
    c.check(&["SCARD", key], &int(0));
}

#[test]
fn hash_tags_are_on_distinct_shards() {
    let shards: BTreeSet<usize> = [A, B, C]
        .iter()
        .map(|k| shard_of(k.as_bytes(), 3))
        .collect();
    assert_eq!(shards.len(), 3);
}

// -------------------------------------------------------------------- tests

fn sadd_srem_and_membership(s: &Server) {
    let mut c = s.raw();
    c.check(&["SADD", "s", "a", "b", "c"], &int(3));
    c.check(&["SADD", "s", "a", "d", "d"], &int(1));
    c.check(&["SADD", "s", "a"], &int(0));
    c.check(&["SCARD", "s"], &int(4));
    c.check(&["SCARD", "nokey"], &int(0));
    c.check(&["SISMEMBER", "s", "a"], &int(1));
    c.check(&["SISMEMBER", "s", "zz"], &int(0));
    c.check(&["SISMEMBER", "nokey", "a"], &int(0));
    c.check(
        &["SMISMEMBER", "s", "a", "zz", "d", "a"],
        &array(&[int(1), int(0), int(1), int(1)]),
    );
    c.check(
        &["SMISMEMBER", "nokey", "a", "b"],
        &array(&[int(0), int(0)]),
    );
    c.check(&["TYPE", "s"], &simple("set"));
    assert_eq!(members(&mut c, "s"), strs(&["a", "b", "c", "d"]));
    c.check(&["SREM", "s", "a", "zz", "a"], &int(1));
    c.check(&["SREM", "nokey", "a"], &int(0));
    c.check(&["SISMEMBER", "s", "a"], &int(0));
    // Integers: canonical forms only are the same member.
    c.check(&["SADD", "i", "1", "2", "-3"], &int(3));
    c.check(&["SISMEMBER", "i", "1"], &int(1));
    c.check(&["SISMEMBER", "i", "01"], &int(0));
    c.check(&["SISMEMBER", "i", "+1"], &int(0));
    c.check(&["SADD", "i", "01", "-0"], &int(2));
    c.check(&["SCARD", "i"], &int(5));
    c.check(&["SREM", "i", "01", "1"], &int(2));
    // Empty and binary members.
    c.check(&["SADD", "e", ""], &int(1));
    c.check(&["SISMEMBER", "e", ""], &int(1));
    let m: &[u8] = b"\x00\r\n\xff";
    assert_eq!(c.cmd_bytes(&[b"SADD", b"bin", m, b"x"]), int(2));
    assert_eq!(c.cmd_bytes(&[b"SISMEMBER", b"bin", m]), int(1));
    assert_eq!(c.cmd_bytes(&[b"SREM", b"bin", m]), int(1));
    c.check(&["SMEMBERS", "bin"], &bulks(&["x"]));
}

fn srem_deletes_emptied_key(s: &Server) {
    let mut c = s.raw();
    c.check(&["SADD", "s", "a", "b"], &int(2));
    c.check(&["SREM", "s", "a", "b", "c"], &int(2));
    assert_gone(&mut c, "s");
    c.check(&["SMEMBERS", "s"], &bulks(&[]));
    c.check(&["SADD", "i", "1"], &int(1));
    c.check(&["SREM", "i", "1"], &int(1));
    assert_gone(&mut c, "i");
    assert_eq!(
        sadd_many(&mut c, "big", (0..300).map(|i| format!("m{i}"))),
        300
    );
    let mut args = vec!["SREM".to_string(), "big".to_string()];
    args.extend((0..300).map(|i| format!("m{i}")));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    c.check(&refs, &int(300));
    assert_gone(&mut c, "big");
}

fn smembers_order(s: &Server) {
    let mut c = s.raw();
    // An intset answers in numeric order on every version.
    c.check(&["SADD", "i", "10", "-5", "3", "1000", "0"], &int(5));
    c.check(&["SMEMBERS", "i"], &bulks(&["-5", "0", "3", "10", "1000"]));
    c.check(&["SREM", "i", "3"], &int(1));
    c.check(&["SMEMBERS", "i"], &bulks(&["-5", "0", "10", "1000"]));
    c.check(&["SMEMBERS", "nokey"], &bulks(&[]));
    // A 7.2 listpack answers in insertion order (7.0's hashtable in its own).
    c.check(&["SADD", "s", "z", "a", "m"], &int(3));
    if s.is_ringbus() {
        c.check(&["SMEMBERS", "s"], &bulks(&["z", "a", "m"]));
    }
    assert_eq!(members(&mut c, "s"), strs(&["a", "m", "z"]));
}

fn encoding_transitions(s: &Server) {
    let mut c = s.raw();
    c.check(&["SADD", "i", "1"], &int(1));
    assert_eq!(encoding(&mut c, "i"), "intset");
    assert_eq!(
        sadd_many(&mut c, "i", (2..=512).map(|i| i.to_string())),
        511
    );
    assert_eq!(encoding(&mut c, "i"), "intset", "512 integers");
    c.check(&["SADD", "i", "513"], &int(1));
    assert_eq!(encoding(&mut c, "i"), "hashtable", "513 integers");
    c.check(&["SREM", "i", "513", "512"], &int(2));
    assert_eq!(encoding(&mut c, "i"), "hashtable", "one way");

    // An intset receiving a string.
    c.check(&["SADD", "m", "1", "2", "3"], &int(3));
    c.check(&["SADD", "m", "x"], &int(1));
    assert_eq!(encoding(&mut c, "m"), small_strings(s));
    if s.is_ringbus() {
        // The intset's order carries over, the string comes last.
        c.check(&["SMEMBERS", "m"], &bulks(&["1", "2", "3", "x"]));
    }
    c.check(&["SREM", "m", "x"], &int(1));
    assert_eq!(
        encoding(&mut c, "m"),
        small_strings(s),
        "no way back to intset"
    );

    // Non-canonical integers are strings.
    c.check(&["SADD", "nc", "01"], &int(1));
    assert_eq!(encoding(&mut c, "nc"), small_strings(s));

    // Listpack limits (7.2): 128 members of at most 64 bytes.
    c.check(&["SADD", "l", "a"], &int(1));
    assert_eq!(
        sadd_many(&mut c, "l", (1..128).map(|i| format!("m{i}"))),
        127
    );
    assert_eq!(encoding(&mut c, "l"), small_strings(s), "128 members");
    c.check(&["SADD", "l", "one-more"], &int(1));
    assert_eq!(encoding(&mut c, "l"), "hashtable", "129 members");
    let v64 = "x".repeat(64);
    let v65 = "x".repeat(65);
    c.check(&["SADD", "v", &v64], &int(1));
    assert_eq!(encoding(&mut c, "v"), small_strings(s), "64 bytes");
    c.check(&["SADD", "v", &v65], &int(1));
    assert_eq!(encoding(&mut c, "v"), "hashtable", "65 bytes");
    // An intset too big for a listpack goes straight to a hashtable.
    assert_eq!(
        sadd_many(&mut c, "bi", (0..200).map(|i| i.to_string())),
        200
    );
    assert_eq!(encoding(&mut c, "bi"), "intset");
    c.check(&["SADD", "bi", "x"], &int(1));
    assert_eq!(encoding(&mut c, "bi"), "hashtable");
    // 7.2 sizes a new set for the members SADD brings, repeats included.
    assert_eq!(
        sadd_many(&mut c, "rep", (0..600).map(|_| "7".to_string())),
        1
    );
    let want = if s.is_ringbus() {
        "hashtable"
    } else {
        "intset"
    };
    assert_eq!(encoding(&mut c, "rep"), want);
}

fn spop_without_count(s: &Server) {
    let mut c = s.raw();
    c.check(&["SPOP", "nokey"], &nil());
    c.check(&["SADD", "s", "a", "b", "c"], &int(3));
    let mut popped = Vec::new();
    for _ in 0..3 {
        popped.push(Reply::parse(&c.cmd(&["SPOP", "s"])).as_text());
    }
    popped.sort();
    assert_eq!(popped, strs(&["a", "b", "c"]));
    assert_gone(&mut c, "s");
    c.check(&["SPOP", "s"], &nil());
    assert_eq!(
        sadd_many(&mut c, "big", (0..1000).map(|i| format!("m{i}"))),
        1000
    );
    let mut seen = BTreeSet::new();
    for _ in 0..1000 {
        assert!(seen.insert(Reply::parse(&c.cmd(&["SPOP", "big"])).as_text()));
    }
    assert_gone(&mut c, "big");
}

fn spop_with_count(s: &Server) {
    let mut c = s.raw();
    c.check(&["SPOP", "nokey", "3"], &bulks(&[]));
    c.check(&["SPOP", "nokey", "0"], &bulks(&[]));
    c.check(&["SADD", "s", "a", "b", "c", "d", "e"], &int(5));
    c.check(&["SPOP", "s", "0"], &bulks(&[]));
    c.check(&["SCARD", "s"], &int(5));
    let got = sorted(&c.cmd(&["SPOP", "s", "2"]));
    assert_eq!(got.len(), 2);
    c.check(&["SCARD", "s"], &int(3));
    let rest = sorted(&c.cmd(&["SPOP", "s", "10"]));
    assert_eq!(rest.len(), 3);
    let all: BTreeSet<String> = got.into_iter().chain(rest).collect();
    assert_eq!(all.len(), 5);
    assert_gone(&mut c, "s");
    // The whole of an intset comes out sorted (SPOP answers as SUNION does).
    c.check(&["SADD", "i", "3", "1", "2"], &int(3));
    c.check(&["SPOP", "i", "3"], &bulks(&["1", "2", "3"]));
    assert_gone(&mut c, "i");
    // Large sets, each path of the algorithm.
    for (n, k) in [(1000, 10), (1000, 400), (1000, 900), (1000, 999)] {
        assert_eq!(sadd_many(&mut c, "big", (0..n).map(|i| format!("m{i}"))), n);
        let got: BTreeSet<String> = sorted(&c.cmd(&["SPOP", "big", &k.to_string()]))
            .into_iter()
            .collect();
        assert_eq!(got.len(), k as usize);
        c.check(&["SCARD", "big"], &int(n - k));
        for m in got.iter().take(20) {
            c.check(&["SISMEMBER", "big", m], &int(0));
        }
        c.check(&["DEL", "big"], &int(1));
    }
    c.check(&["SADD", "s", "a"], &int(1));
    for bad in ["-1", "x", "1.5", "-9223372036854775808"] {
        c.check(&["SPOP", "s", bad], &err(NOT_POSITIVE));
        c.check(&["SPOP", "nokey", bad], &err(NOT_POSITIVE));
    }
    c.check(&["SPOP", "s", "1", "2"], &err(SYNTAX));
}

fn srandmember(s: &Server) {
    let mut c = s.raw();
    c.check(&["SRANDMEMBER", "nokey"], &nil());
    c.check(&["SRANDMEMBER", "nokey", "3"], &bulks(&[]));
    c.check(&["SRANDMEMBER", "nokey", "-3"], &bulks(&[]));
    c.check(&["SADD", "i", "3", "1", "2"], &int(3));
    let mut seen = BTreeSet::new();
    for _ in 0..200 {
        seen.insert(Reply::parse(&c.cmd(&["SRANDMEMBER", "i"])).as_text());
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), strs(&["1", "2", "3"]));
    c.check(&["SRANDMEMBER", "i", "0"], &bulks(&[]));
    // A count covering the set answers all of it, in its order.
    c.check(&["SRANDMEMBER", "i", "3"], &bulks(&["1", "2", "3"]));
    c.check(&["SRANDMEMBER", "i", "50"], &bulks(&["1", "2", "3"]));
    for _ in 0..30 {
        let got = sorted(&c.cmd(&["SRANDMEMBER", "i", "2"]));
        assert_eq!(got.len(), 2);
        assert_ne!(got[0], got[1]);
    }
    let got = sorted(&c.cmd(&["SRANDMEMBER", "i", "-10"]));
    assert_eq!(got.len(), 10);
    assert!(got.iter().all(|m| ["1", "2", "3"].contains(&m.as_str())));
    c.check(&["SCARD", "i"], &int(3));
    assert_eq!(
        sadd_many(&mut c, "big", (0..1000).map(|i| format!("m{i}"))),
        1000
    );
    for k in [5, 300, 999] {
        let got: BTreeSet<String> = sorted(&c.cmd(&["SRANDMEMBER", "big", &k.to_string()]))
            .into_iter()
            .collect();
        assert_eq!(got.len(), k);
    }
    assert_eq!(sorted(&c.cmd(&["SRANDMEMBER", "big", "5000"])).len(), 1000);
    assert_eq!(sorted(&c.cmd(&["SRANDMEMBER", "big", "-5000"])).len(), 5000);
    c.check(&["SCARD", "big"], &int(1000));
}

fn random_errors_and_their_order(s: &Server) {
    let mut c = s.raw();
    c.check(&["SADD", "s", "a"], &int(1));
    c.check(&["SET", "str", "x"], &ok());
    for key in ["s", "nokey", "str"] {
        c.check(&["SRANDMEMBER", key, "x"], &err(NOT_INT));
        c.check(
            &["SRANDMEMBER", key, "-9223372036854775808"],
            &err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
        );
        c.check(&["SRANDMEMBER", key, "1", "2"], &err(SYNTAX));
        c.check(&["SPOP", key, "1", "2"], &err(SYNTAX));
        c.check(&["SPOP", key, "-1"], &err(NOT_POSITIVE));
    }
    c.check(&["SRANDMEMBER", "str"], &err(WRONGTYPE));
    c.check(&["SRANDMEMBER", "str", "0"], &err(WRONGTYPE));
    c.check(&["SPOP", "str"], &err(WRONGTYPE));
    c.check(&["SPOP", "str", "0"], &err(WRONGTYPE));
}

fn smove_same_and_cross_shard(s: &Server) {
    let mut c = s.raw();
    for (src, dst) in [("x", "y"), (A, B), (B, A), (C, A)] {
        c.cmd(&["DEL", src, dst]);
        c.check(&["SADD", src, "1", "2", "m"], &int(3));
        c.check(&["SMOVE", src, dst, "1"], &int(1));
        c.check(&["SMEMBERS", dst], &bulks(&["1"]));
        assert_eq!(encoding(&mut c, dst), "intset", "created for its member");
        c.check(&["SMOVE", src, dst, "nope"], &int(0));
        c.check(&["SMOVE", src, dst, "m"], &int(1));
        assert_eq!(members(&mut c, dst), strs(&["1", "m"]));
        // Already in the destination: still moved (removed from the source).
        c.check(&["SADD", src, "1"], &int(1));
        c.check(&["SMOVE", src, dst, "1"], &int(1));
        c.check(&["SISMEMBER", src, "1"], &int(0));
        c.check(&["SCARD", dst], &int(2));
        // The last member leaves: the source disappears.
        c.check(&["SMOVE", src, dst, "2"], &int(1));
        assert_gone(&mut c, src);
        c.check(&["SCARD", dst], &int(3));
        c.check(&["SMOVE", src, dst, "2"], &int(0));
        c.check(&["DEL", dst], &int(1));
    }
    // Same key: 1 when the member is there, nothing changes.
    c.check(&["SADD", "same", "a"], &int(1));
    c.check(&["SMOVE", "same", "same", "a"], &int(1));
    c.check(&["SMOVE", "same", "same", "b"], &int(0));
    c.check(&["SMEMBERS", "same"], &bulks(&["a"]));
    // The destination keeps its deadline; the source too.
    c.check(&["SADD", A, "k", "l"], &int(2));
    c.check(&["SADD", B, "z"], &int(1));
    c.check(&["EXPIRE", A, "100"], &int(1));
    c.check(&["EXPIRE", B, "200"], &int(1));
    c.check(&["SMOVE", A, B, "k"], &int(1));
    c.check(&["TTL", A], &int(100));
    c.check(&["TTL", B], &int(200));
}

fn smove_errors_and_their_order(s: &Server) {
    let mut c = s.raw();
    for (src, dst, str_key) in [("x", "y", "str"), (A, B, "{to}str"), (B, A, "{from}str")] {
        c.check(&["SET", str_key, "v"], &ok());
        c.check(&["SET", src, "v"], &ok());
        // A missing source answers 0 whatever the destination holds.
        c.check(&["SMOVE", "nokey", str_key, "m"], &int(0));
        c.check(&["SMOVE", src, dst, "m"], &err(WRONGTYPE));
        c.check(&["DEL", src], &int(1));
        c.check(&["SADD", src, "m"], &int(1));
        c.check(&["SMOVE", src, str_key, "m"], &err(WRONGTYPE));
        c.check(&["SMOVE", src, str_key, "absent"], &err(WRONGTYPE));
        c.check(&["SISMEMBER", src, "m"], &int(1));
        c.check(&["GET", str_key], &bulk("v"));
        c.check(&["DEL", src, str_key], &int(2));
    }
}

fn smove_concurrently_loses_nothing(s: &Server) {
    let mut c = s.raw();
    let n = 200;
    assert_eq!(sadd_many(&mut c, A, (0..n).map(|i| format!("m{i}"))), n);
    let workers: Vec<_> = [(A, B), (B, C), (C, A)]
        .into_iter()
        .map(|(from, to)| {
            let port = s.port();
            thread::spawn(move || {
                let mut c = RawConn::connect(port);
                let mut moved = 0;
                for i in 0..600 {
                    let m = format!("m{}", i % 200);
                    moved += Reply::parse(&c.cmd(&["SMOVE", from, to, &m])).as_int();
                }
                moved
            })
        })
        .collect();
    let moved: i64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(moved > 0);
    let total: BTreeSet<String> = [A, B, C].iter().flat_map(|k| members(&mut c, k)).collect();
    let sum: i64 = [A, B, C]
        .iter()
        .map(|k| Reply::parse(&c.cmd(&["SCARD", k])).as_int())
        .sum();
    assert_eq!((total.len() as i64, sum), (n, n), "members lost or doubled");
}

fn algebra_across_shards(s: &Server) {
    let mut c = s.raw();
    c.check(&["SADD", A, "1", "2", "3", "4"], &int(4));
    c.check(&["SADD", B, "3", "4", "5"], &int(3));
    c.check(&["SADD", C, "4", "5", "6"], &int(3));
    // All intsets: replies come out in numeric order on every version.
    c.check(&["SINTER", A, B], &bulks(&["3", "4"]));
    c.check(&["SINTER", A, B, C], &bulks(&["4"]));
    c.check(&["SINTER", A], &bulks(&["1", "2", "3", "4"]));
    c.check(&["SINTER", A, A], &bulks(&["1", "2", "3", "4"]));
    c.check(
        &["SUNION", A, B, C],
        &bulks(&["1", "2", "3", "4", "5", "6"]),
    );
    c.check(&["SUNION", C], &bulks(&["4", "5", "6"]));
    c.check(&["SDIFF", A, B], &bulks(&["1", "2"]));
    c.check(&["SDIFF", A, B, C], &bulks(&["1", "2"]));
    c.check(&["SDIFF", C, A, B], &bulks(&["6"]));
    c.check(&["SDIFF", A], &bulks(&["1", "2", "3", "4"]));
    c.check(&["SDIFF", A, A], &bulks(&[]));
    c.check(&["SDIFF", A, C, A], &bulks(&[]));
    // Strings, any order.
    c.check(&["SADD", "{from}s", "a", "b", "c", "x"], &int(4));
    c.check(&["SADD", "{to}s", "b", "c", "d"], &int(3));
    c.check(&["SADD", "{in}s", "c", "d", "e", "x"], &int(4));
    assert_eq!(
        sorted(&c.cmd(&["SINTER", "{from}s", "{to}s", "{in}s"])),
        strs(&["c"])
    );
    assert_eq!(
        sorted(&c.cmd(&["SUNION", "{from}s", "{to}s", "{in}s"])),
        strs(&["a", "b", "c", "d", "e", "x"])
    );
    assert_eq!(
        sorted(&c.cmd(&["SDIFF", "{from}s", "{to}s", "{in}s"])),
        strs(&["a"])
    );
    // Mixed integers and strings.
    assert_eq!(
        sorted(&c.cmd(&["SUNION", A, "{in}s"])),
        strs(&["1", "2", "3", "4", "c", "d", "e", "x"])
    );
    assert_eq!(sorted(&c.cmd(&["SINTER", A, "{in}s"])), strs(&[]));
    // Large sets, both SDIFF algorithms.
    assert_eq!(
        sadd_many(&mut c, "{from}big", (0..2000).map(|i| i.to_string())),
        2000
    );
    assert_eq!(
        sadd_many(
            &mut c,
            "{to}big",
            (0..2000).step_by(2).map(|i| i.to_string())
        ),
        1000
    );
    assert_eq!(
        sadd_many(
            &mut c,
            "{in}big",
            (0..2000).step_by(3).map(|i| i.to_string())
        ),
        667
    );
    let odd_not3: Vec<String> = {
        let mut v: Vec<String> = (0..2000)
            .filter(|i| i % 2 != 0 && i % 3 != 0)
            .map(|i| i.to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        sorted(&c.cmd(&["SDIFF", "{from}big", "{to}big", "{in}big"])),
        odd_not3
    );
    assert_eq!(
        sorted(&c.cmd(&["SDIFF", "{to}big", "{from}big"])),
        strs(&[])
    );
    let inter: Vec<String> = {
        let mut v: Vec<String> = (0..2000).step_by(6).map(|i: i32| i.to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(
        sorted(&c.cmd(&["SINTER", "{from}big", "{to}big", "{in}big"])),
        inter
    );
    assert_eq!(
        sorted(&c.cmd(&["SUNION", "{to}big", "{in}big"])).len(),
        1333
    );
}

fn algebra_with_missing_keys_and_wrong_types(s: &Server) {
    let mut c = s.raw();
    c.check(&["SADD", A, "1", "2"], &int(2));
    c.check(&["SADD", B, "2", "3"], &int(2));
    c.check(&["SET", "{in}str", "x"], &ok());
    c.check(&["SINTER", A, "{in}nokey"], &bulks(&[]));
    c.check(&["SINTER", "{in}nokey", A], &bulks(&[]));
    c.check(&["SUNION", A, "{in}nokey", B], &bulks(&["1", "2", "3"]));
    c.check(&["SDIFF", A, "{in}nokey"], &bulks(&["1", "2"]));
    c.check(&["SDIFF", "{in}nokey", A], &bulks(&[]));
    c.check(&["SUNION", "{in}nokey"], &bulks(&[]));
    // Every key is looked at: a wrong type anywhere fails, even after a
    // missing key.
    for cmd in ["SINTER", "SUNION", "SDIFF"] {
        c.check(&[cmd, A, "{in}str"], &err(WRONGTYPE));
        c.check(&[cmd, "{in}str", A], &err(WRONGTYPE));
        c.check(&[cmd, "{to}nokey", B, "{in}str"], &err(WRONGTYPE));
        c.check(&[cmd, A, "{to}nokey", "{in}str"], &err(WRONGTYPE));
    }
    for cmd in ["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"] {
        c.check(&[cmd, "{to}dst", A, "{in}str"], &err(WRONGTYPE));
        c.check(&[cmd, "{to}dst", "{from}nokey", "{in}str"], &err(WRONGTYPE));
    }
    c.check(&["EXISTS", "{to}dst"], &int(0));
    c.check(&["SINTERCARD", "2", A, "{in}str"], &err(WRONGTYPE));
    c.check(
        &["SINTERCARD", "2", "{to}nokey", "{in}str"],
        &err(WRONGTYPE),
    );
}

fn store_forms(s: &Server) {
    let mut c = s.raw();
    c.check(&["SADD", A, "1", "2", "3"], &int(3));
    c.check(&["SADD", B, "2", "3", "4"], &int(3));
    for dst in ["{in}d", "{from}d", "{to}d"] {
        c.check(&["SINTERSTORE", dst, A, B], &int(2));
        c.check(&["SMEMBERS", dst], &bulks(&["2", "3"]));
        c.check(&["SUNIONSTORE", dst, A, B], &int(4));
        c.check(&["SMEMBERS", dst], &bulks(&["1", "2", "3", "4"]));
        c.check(&["SDIFFSTORE", dst, A, B], &int(1));
        c.check(&["SMEMBERS", dst], &bulks(&["1"]));
        // The destination may hold anything, and loses its deadline.
        c.check(&["SET", dst, "x", "EX", "100"], &ok());
        c.check(&["SUNIONSTORE", dst, A], &int(3));
        c.check(&["TYPE", dst], &simple("set"));
        c.check(&["TTL", dst], &int(-1));
        // An empty result deletes the destination.
        c.check(&["SINTERSTORE", dst, A, "{in}nokey"], &int(0));
        c.check(&["EXISTS", dst], &int(0));
        c.check(&["SET", dst, "x"], &ok());
        c.check(&["SDIFFSTORE", dst, A, A], &int(0));
        c.check(&["EXISTS", dst], &int(0));
        c.check(&["SUNIONSTORE", dst, "{to}nokey"], &int(0));
        c.check(&["EXISTS", dst], &int(0));
    }
    // The destination may be a source.
    c.check(&["SUNIONSTORE", A, A, B], &int(4));
    c.check(&["SMEMBERS", A], &bulks(&["1", "2", "3", "4"]));
    c.check(&["SDIFFSTORE", B, B, A], &int(0));
    c.check(&["EXISTS", B], &int(0));
}

fn store_result_encodings(s: &Server) {
    let mut c = s.raw();
    assert_eq!(sadd_many(&mut c, A, (0..300).map(|i| i.to_string())), 300);
    c.check(&["SADD", B, "5", "x", "7"], &int(3));
    c.check(&["SINTERSTORE", C, A, B], &int(2));
    assert_eq!(encoding(&mut c, C), "intset");
    c.check(&["SUNIONSTORE", C, B], &int(3));
    assert_eq!(encoding(&mut c, C), small_strings(s));
    c.check(&["SUNIONSTORE", C, A, B], &int(301));
    assert_eq!(encoding(&mut c, C), "hashtable");
    c.check(&["SUNIONSTORE", C, A], &int(300));
    assert_eq!(encoding(&mut c, C), "intset");
    // SDIFF picks Redis's algorithm by the sizes, and the result's encoding
    // shows which ran: walking the first set builds the result member by
    // member (small: compact), copying it first and removing the others'
    // members leaves a hashtable even when the result is small enough.
    assert_eq!(
        sadd_many(&mut c, "{from}s", (0..200).map(|i| format!("m{i}"))),
        200
    );
    assert_eq!(
        sadd_many(&mut c, "{to}s", (0..190).map(|i| format!("m{i}"))),
        190
    );
    c.check(&["SDIFFSTORE", C, "{from}s", "{to}s"], &int(10));
    assert_eq!(encoding(&mut c, C), small_strings(s), "walk the first set");
    assert_eq!(
        sadd_many(&mut c, "{to}x", (0..40).map(|i| format!("m{i}"))),
        40
    );
    assert_eq!(
        sadd_many(&mut c, "{in}y", (40..80).map(|i| format!("m{i}"))),
        40
    );
    c.check(&["SDIFFSTORE", C, "{from}s", "{to}x", "{in}y"], &int(120));
    assert_eq!(encoding(&mut c, C), "hashtable", "copy then remove");
    let want: Vec<String> = {
        let mut v: Vec<String> = (80..200).map(|i| format!("m{i}")).collect();
        v.sort();
        v
    };
    assert_eq!(members(&mut c, C), want);
}

fn sintercard(s: &Server) {
    let mut c = s.raw();
    c.check(&["SADD", A, "1", "2", "3", "4", "a"], &int(5));
    c.check(&["SADD", B, "2", "3", "4", "a", "b"], &int(5));
    c.check(&["SADD", C, "3", "4", "a", "z"], &int(4));
    c.check(&["SINTERCARD", "1", A], &int(5));
    c.check(&["SINTERCARD", "2", A, B], &int(4));
    c.check(&["SINTERCARD", "3", A, B, C], &int(3));
    c.check(&["SINTERCARD", "3", A, B, C, "LIMIT", "0"], &int(3));
    c.check(&["SINTERCARD", "3", A, B, C, "LIMIT", "2"], &int(2));
    c.check(&["SINTERCARD", "3", A, B, C, "limit", "1"], &int(1));
    c.check(&["SINTERCARD", "3", A, B, C, "LIMIT", "100"], &int(3));
    c.check(
        &["SINTERCARD", "3", A, B, C, "LIMIT", "1", "LIMIT", "5"],
        &int(3),
    );
    c.check(&["SINTERCARD", "2", A, "{in}nokey"], &int(0));
    c.check(&["SINTERCARD", "1", "{in}nokey"], &int(0));
    c.check(&["SINTERCARD", "2", A, A], &int(5));
    c.check(&["SINTERCARD", "1", "x"], &int(0));
}

fn sintercard_errors(s: &Server) {
    let mut c = s.raw();
    c.check(&["SADD", A, "1"], &int(1));
    let numkeys = err("ERR numkeys should be greater than 0");
    c.check(&["SINTERCARD", "0", A], &numkeys);
    c.check(&["SINTERCARD", "-1", A], &numkeys);
    c.check(&["SINTERCARD", "x", A], &numkeys);
    c.check(
        &["SINTERCARD", "3", A, B],
        &err("ERR Number of keys can't be greater than number of args"),
    );
    c.check(
        &["SINTERCARD", "9223372036854775807", A],
        &err("ERR Number of keys can't be greater than number of args"),
    );
    let limit = err("ERR LIMIT can't be negative");
    c.check(&["SINTERCARD", "1", A, "LIMIT", "-1"], &limit);
    c.check(&["SINTERCARD", "1", A, "LIMIT", "x"], &limit);
    c.check(&["SINTERCARD", "1", A, "LIMIT"], &err(SYNTAX));
    c.check(&["SINTERCARD", "1", A, "FOO"], &err(SYNTAX));
    c.check(&["SINTERCARD", "1", A, B], &err(SYNTAX));
    c.check(&["SINTERCARD", "1"], &arity("sintercard"));
    // Argument errors come before WRONGTYPE.
    c.check(&["SET", "str", "x"], &ok());
    c.check(&["SINTERCARD", "1", "str", "LIMIT", "-1"], &limit);
}

fn sscan_small_and_large(s: &Server) {
    let mut c = s.raw();
    c.check(&["SSCAN", "nokey", "0"], &array(&[bulk("0"), bulks(&[])]));
    c.check(&["SADD", "i", "3", "1", "20", "2"], &int(4));
    c.check(
        &["SSCAN", "i", "0", "COUNT", "1"],
        &array(&[bulk("0"), bulks(&["1", "2", "3", "20"])]),
    );
    c.check(
        &["SSCAN", "i", "0", "MATCH", "2*"],
        &array(&[bulk("0"), bulks(&["2", "20"])]),
    );
    c.check(&["SADD", "s", "ab", "b", "ac"], &int(3));
    assert_eq!(
        {
            let (items, calls) = scan_key(&mut c, "SSCAN", "s", &["MATCH", "a*"]);
            assert_eq!(calls, 1);
            let mut items = items;
            items.sort();
            items
        },
        strs(&["ab", "ac"])
    );
    assert_eq!(
        sadd_many(&mut c, "big", (0..1000).map(|i| format!("m{i}"))),
        1000
    );
    let (items, calls) = scan_key(&mut c, "SSCAN", "big", &["COUNT", "25"]);
    assert!(calls > 5, "{calls}");
    let seen: BTreeSet<String> = items.iter().cloned().collect();
    assert_eq!((items.len(), seen.len()), (1000, 1000));
    let (items, _) = scan_key(&mut c, "SSCAN", "big", &["MATCH", "m9?", "COUNT", "100"]);
    let seen: BTreeSet<String> = items.into_iter().collect();
    assert_eq!(seen, (90..100).map(|i| format!("m{i}")).collect());
}

fn sscan_errors(s: &Server) {
    let mut c = s.raw();
    c.check(&["SADD", "s", "a"], &int(1));
    c.check(&["SET", "str", "x"], &ok());
    c.check(&["SSCAN", "s", "x"], &err("ERR invalid cursor"));
    c.check(&["SSCAN", "nokey", " 0"], &err("ERR invalid cursor"));
    // A compact set (an intset on every version) ignores the cursor.
    c.check(&["SADD", "i", "1"], &int(1));
    c.check(&["SSCAN", "i", "-1"], &array(&[bulk("0"), bulks(&["1"])]));
    c.check(&["SSCAN", "i", "999"], &array(&[bulk("0"), bulks(&["1"])]));
    c.check(
        &["SSCAN", "nokey", "0", "COUNT", "0"],
        &array(&[bulk("0"), bulks(&[])]),
    );
    c.check(&["SSCAN", "str", "0"], &err(WRONGTYPE));
    c.check(&["SSCAN", "s", "0", "COUNT", "0"], &err(SYNTAX));
    c.check(&["SSCAN", "s", "0", "COUNT", "x"], &err(NOT_INT));
    c.check(&["SSCAN", "s", "0", "MATCH"], &err(SYNTAX));
    c.check(&["SSCAN", "s", "0", "TYPE", "set"], &err(SYNTAX));
}

fn resp3_shapes(s: &Server) {
    let mut c = s.raw();
    hello3(&mut c);
    c.check(&["SADD", A, "2", "1"], &int(2));
    c.check(&["SADD", B, "2", "3"], &int(2));
    c.check(&["SMEMBERS", A], b"~2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    c.check(&["SMEMBERS", "nokey"], b"~0\r\n");
    c.check(&["SINTER", A, B], b"~1\r\n$1\r\n2\r\n");
    c.check(&["SINTER", A, "nokey"], b"~0\r\n");
    c.check(
        &["SUNION", A, B],
        b"~3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n",
    );
    c.check(&["SDIFF", A, B], b"~1\r\n$1\r\n1\r\n");
    c.check(&["SMISMEMBER", A, "1", "9"], b"*2\r\n:1\r\n:0\r\n");
    c.check(&["SISMEMBER", A, "1"], &int(1));
    c.check(&["SRANDMEMBER", A, "5"], b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    c.check(&["SRANDMEMBER", "nokey", "5"], b"*0\r\n");
    c.check(&["SRANDMEMBER", "nokey"], b"_\r\n");
    c.check(&["SPOP", "nokey"], b"_\r\n");
    c.check(&["SPOP", "nokey", "2"], b"~0\r\n");
    c.check(&["SPOP", A, "0"], b"~0\r\n");
    c.check(&["SPOP", A, "5"], b"~2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    c.check(&["SINTERCARD", "1", B], &int(2));
    c.check(&["SSCAN", B, "0"], &array(&[bulk("0"), bulks(&["2", "3"])]));
}

fn wrongtype_for_every_command(s: &Server) {
    let mut c = s.raw();
    c.check(&["SET", "s", "v"], &ok());
    c.check(&["HSET", "h", "f", "v"], &int(1));
    let cmds: &[&[&str]] = &[
        &["SADD", "s", "a"],
        &["SREM", "s", "a"],
        &["SISMEMBER", "s", "a"],
        &["SMISMEMBER", "s", "a"],
        &["SMEMBERS", "s"],
        &["SCARD", "s"],
        &["SPOP", "s"],
        &["SPOP", "s", "2"],
        &["SRANDMEMBER", "s"],
        &["SRANDMEMBER", "s", "2"],
        &["SMOVE", "s", "d", "a"],
        &["SINTER", "s"],
        &["SUNION", "s"],
        &["SDIFF", "s"],
        &["SINTERSTORE", "d", "s"],
        &["SUNIONSTORE", "d", "s"],
        &["SDIFFSTORE", "d", "s"],
        &["SINTERCARD", "1", "s"],
        &["SSCAN", "s", "0"],
        &["SADD", "h", "a"],
        &["SMEMBERS", "h"],
    ];
    for cmd in cmds {
        c.check(cmd, &err(WRONGTYPE));
    }
    c.check(&["GET", "s"], &bulk("v"));
    c.check(&["EXISTS", "d"], &int(0));
    c.check(&["SADD", "set", "a"], &int(1));
    for cmd in [
        &["GET", "set"][..],
        &["HGET", "set", "a"],
        &["LPUSH", "set", "x"],
        &["HSET", "set", "a", "b"],
    ] {
        c.check(cmd, &err(WRONGTYPE));
    }
    c.check(&["TYPE", "set"], &simple("set"));
}

fn arity_errors(s: &Server) {
    let mut c = s.raw();
    let cases: &[(&[&str], &str)] = &[
        (&["SADD"], "sadd"),
        (&["SADD", "s"], "sadd"),
        (&["SREM", "s"], "srem"),
        (&["SISMEMBER", "s"], "sismember"),
        (&["SISMEMBER", "s", "a", "b"], "sismember"),
        (&["SMISMEMBER", "s"], "smismember"),
        (&["SMEMBERS"], "smembers"),
        (&["SMEMBERS", "s", "x"], "smembers"),
        (&["SCARD"], "scard"),
        (&["SCARD", "s", "x"], "scard"),
        (&["SPOP"], "spop"),
        (&["SRANDMEMBER"], "srandmember"),
        (&["SMOVE", "a", "b"], "smove"),
        (&["SMOVE", "a", "b", "c", "d"], "smove"),
        (&["SINTER"], "sinter"),
        (&["SUNION"], "sunion"),
        (&["SDIFF"], "sdiff"),
        (&["SINTERSTORE", "d"], "sinterstore"),
        (&["SUNIONSTORE", "d"], "sunionstore"),
        (&["SDIFFSTORE", "d"], "sdiffstore"),
        (&["SINTERCARD"], "sintercard"),
        (&["SSCAN", "s"], "sscan"),
    ];
    for (cmd, name) in cases {
        c.check(cmd, &arity(name));
    }
}

fn large_set_matches_model(s: &Server) {
    let mut c = s.raw();
    let mut model = BTreeSet::new();
    for i in 0..3000u32 {
        let m = if i % 3 == 0 {
            format!("{}", i * 7919 % 5003)
        } else {
            format!("s{}", i * 104729 % 4001)
        };
        let added = model.insert(m.clone());
        c.check(&["SADD", "k", &m], &int(added as i64));
    }
    for i in (0..5003).step_by(4) {
        let m = i.to_string();
        let had = model.remove(&m);
        c.check(&["SREM", "k", &m], &int(had as i64));
    }
    c.check(&["SCARD", "k"], &int(model.len() as i64));
    let got: BTreeSet<String> = members(&mut c, "k").into_iter().collect();
    assert_eq!(got, model);
    for m in model.iter().take(30) {
        c.check(&["SISMEMBER", "k", m], &int(1));
    }
}
