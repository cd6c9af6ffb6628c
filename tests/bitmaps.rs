//! Bitmap commands (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD,
//! BITFIELD_RO), LCS and SUBSTR on the real binary: replies and errors in
//! Redis's order, what counts as a change, deadlines, `proto-max-bulk-len`
//! on offsets, RESP3 shapes, BITOP and LCS over keys of three shards (also
//! inside MULTI), the append-only log replaying them, and a randomized run
//! of SETBIT/GETBIT/BITCOUNT/BITPOS/BITOP against a `Vec<bool>` model.
//!
//! Every expectation was checked against redis-server 7.0
//! (`RINGBUS_TEST_TARGET=redis`). Where Redis 7.2 (which ringbus follows)
//! answers differently (BITCOUNT and BITPOS check their arguments before
//! the key), the test expects each version's own answer.

mod common;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use ringbus::shard::route::shard_of;
use std::cell::RefCell;
use std::collections::BTreeSet;

sharded_tests!(
    setbit_getbit,
    what_counts_as_a_change,
    offsets_obey_proto_max_bulk_len,
    bitcount_ranges,
    bitpos_ranges,
    arguments_before_the_key_7_2,
    bitop,
    bitop_across_shards,
    bitfield,
    bitfield_overflow,
    bitfield_ro,
    lcs,
    lcs_across_shards,
    substr,
    wrongtype_and_arity,
    resp3_shapes,
    random_ops_match_a_bit_model,
);

// ------------------------------------------------------------------ helpers

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";
const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const BAD_BIT: &str = "ERR bit is not an integer or out of range";
const BAD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

/// Keys on three different shards of a 3-shard ringbus.
const K1: &str = "{from}b";
const K2: &str = "{to}b";
const K3: &str = "{in}b";

#[test]
fn hash_tags_are_on_distinct_shards() {
    let shards: BTreeSet<usize> = [K1, K2, K3]
        .iter()
        .map(|k| shard_of(k.as_bytes(), 3))
        .collect();
    assert_eq!(shards.len(), 3);
}

fn changes(c: &mut RawConn) -> i64 {
    let info = Reply::parse(&c.cmd(&["INFO", "persistence"])).as_text();
    parse_info(&info)
        .into_iter()
        .find(|(_, k, _)| k == "rdb_changes_since_last_save")
        .expect("rdb_changes_since_last_save")
        .2
        .parse()
        .unwrap()
}

fn get(c: &mut RawConn, key: &str) -> Vec<u8> {
    c.cmd(&["GET", key])
}

#[track_caller]
fn check_bytes(c: &mut RawConn, args: &[&[u8]], want: &[u8]) {
    let got = c.cmd_bytes(args);
    assert_eq!(
        show(&got),
        show(want),
        "{:?}",
        args.iter().map(|a| show(a)).collect::<Vec<_>>()
    );
}

fn ints(items: &[i64]) -> Vec<u8> {
    array(&items.iter().map(|&n| int(n)).collect::<Vec<_>>())
}

// -------------------------------------------------------------------- tests

fn setbit_getbit(s: &Server) {
    let mut c = s.raw();
    c.check(&["SETBIT", "b", "1", "1"], &int(0));
    c.check(&["SETBIT", "b", "7", "1"], &int(0));
    c.check(&["SETBIT", "b", "7", "1"], &int(1));
    c.check(&["GET", "b"], &bulk("A"));
    c.check(&["SETBIT", "b", "7", "0"], &int(1));
    c.check(&["GET", "b"], &bulk("@"));
    // Growth pads with zero bytes.
    c.check(&["SETBIT", "b", "23", "1"], &int(0));
    c.check(&["GET", "b"], &bulk_bytes(b"@\x00\x01"));
    c.check(&["GETBIT", "b", "23"], &int(1));
    c.check(&["GETBIT", "b", "22"], &int(0));
    c.check(&["GETBIT", "b", "24"], &int(0));
    c.check(&["GETBIT", "b", "4294967295"], &int(0));
    c.check(&["GETBIT", "nosuch", "0"], &int(0));
    c.check(&["EXISTS", "nosuch"], &int(0));
    // Clearing a bit of a missing key still creates it.
    c.check(&["SETBIT", "z", "9", "0"], &int(0));
    c.check(&["GET", "z"], &bulk_bytes(b"\x00\x00"));
    // An integer string is read as its digits.
    c.check(&["SET", "n", "1"], &ok());
    c.check(&["GETBIT", "n", "2"], &int(1));
    c.check(&["GETBIT", "n", "7"], &int(1));
    c.check(&["SETBIT", "n", "6", "1"], &int(0));
    c.check(&["GET", "n"], &bulk("3"));
    // The deadline stays.
    c.check(&["SET", "t", "x", "EX", "1000"], &ok());
    c.check(&["SETBIT", "t", "100", "1"], &int(0));
    let ttl = Reply::parse(&c.cmd(&["TTL", "t"])).as_int();
    assert!((990..=1000).contains(&ttl), "ttl {ttl}");
    c.check(&["TYPE", "t"], &simple("string"));
    // Errors: the offset first, then the bit, then the key.
    c.check(&["LPUSH", "l", "a"], &int(1));
    c.check(&["SETBIT", "l", "x", "5"], &err(BAD_OFFSET));
    c.check(&["SETBIT", "l", "0", "5"], &err(BAD_BIT));
    c.check(&["SETBIT", "l", "0", "1"], &err(WRONGTYPE));
    for bad in ["-1", "4294967296", "1.0", " 1", "1 ", "+1", "01", "", "0x1"] {
        c.check(&["SETBIT", "b", bad, "1"], &err(BAD_OFFSET));
        c.check(&["GETBIT", "b", bad], &err(BAD_OFFSET));
    }
    for bad in ["2", "-1", "x", "", "01", "1 ", "9223372036854775808"] {
        c.check(&["SETBIT", "b", "0", bad], &err(BAD_BIT));
    }
    check_bytes(&mut c, &[b"SETBIT", b"b", b"1\x00", b"1"], &err(BAD_OFFSET));
    check_bytes(&mut c, &[b"SETBIT", b"b", b"1", b"1\x00"], &err(BAD_BIT));
    c.check(&["GETBIT", "l", "0"], &err(WRONGTYPE));
}

/// SETBIT and BITFIELD count a change only when a bit changes or the
/// string grows; BITOP always writes its destination, or deletes it.
fn what_counts_as_a_change(s: &Server) {
    let mut c = s.raw();
    c.check(&["SETBIT", "b", "3", "1"], &int(0));
    let before = changes(&mut c);
    c.check(&["SETBIT", "b", "3", "1"], &int(1));
    c.check(&["SETBIT", "b", "4", "0"], &int(0));
    c.check(&["BITFIELD", "b", "SET", "u4", "0", "1"], &ints(&[1]));
    c.check(&["BITFIELD", "b", "INCRBY", "u4", "0", "0"], &ints(&[1]));
    assert_eq!(changes(&mut c), before);
    c.check(&["SETBIT", "b", "4", "1"], &int(0));
    assert_eq!(changes(&mut c), before + 1);
    c.check(&["SETBIT", "b", "8", "0"], &int(0));
    assert_eq!(changes(&mut c), before + 2);
    c.check(&["BITFIELD", "b", "SET", "u8", "16", "0"], &ints(&[0]));
    assert_eq!(changes(&mut c), before + 3);
    c.check(&["GET", "b"], &bulk_bytes(b"\x18\x00\x00"));
    // A WATCHed key written by SETBIT fails the EXEC; an unchanged bit does not.
    c.check(&["WATCH", "b"], &ok());
    c.check(&["SETBIT", "b", "3", "1"], &int(1));
    c.check(&["MULTI"], &ok());
    c.check(&["GET", "b"], &simple("QUEUED"));
    c.check(&["EXEC"], &array(&[bulk_bytes(b"\x18\x00\x00")]));
    let mut other = s.raw();
    c.check(&["WATCH", "b"], &ok());
    other.check(&["SETBIT", "b", "0", "1"], &int(0));
    c.check(&["MULTI"], &ok());
    c.check(&["GET", "b"], &simple("QUEUED"));
    c.check(&["EXEC"], &nil_array());
    // BITFIELD creating its key only to fail every write with OVERFLOW FAIL
    // leaves the key (Redis's dbAdd), zero-filled.
    c.check(
        &[
            "BITFIELD", "f", "OVERFLOW", "FAIL", "INCRBY", "u2", "8", "9",
        ],
        &array(&[nil()]),
    );
    c.check(&["GET", "f"], &bulk_bytes(b"\x00\x00"));
}

fn offsets_obey_proto_max_bulk_len(s: &Server) {
    let mut c = s.raw();
    c.check(&["CONFIG", "SET", "proto-max-bulk-len", "1mb"], &ok());
    // The byte of the offset must be below the limit.
    c.check(&["SETBIT", "b", "8388608", "1"], &err(BAD_OFFSET));
    c.check(&["GETBIT", "b", "8388608"], &err(BAD_OFFSET));
    c.check(&["SETBIT", "b", "8388607", "1"], &int(0));
    c.check(&["STRLEN", "b"], &int(1 << 20));
    c.check(&["BITCOUNT", "b"], &int(1));
    c.check(&["BITPOS", "b", "1"], &int(8388607));
    c.check(&["BITPOS", "b", "0", "-1"], &int(8388600));
    c.check(&["BITFIELD", "b", "GET", "u8", "8388608"], &err(BAD_OFFSET));
    c.check(
        &["BITFIELD", "b", "GET", "u8", "#1048576"],
        &err(BAD_OFFSET),
    );
    c.check(&["BITFIELD", "b", "GET", "u8", "#1048575"], &ints(&[1]));
    // A field may end past the limit when it starts below it.
    c.check(
        &["BITFIELD", "b", "SET", "u16", "8388607", "65535"],
        &ints(&[32768]),
    );
    c.check(&["STRLEN", "b"], &int((1 << 20) + 2));
    c.check(&["CONFIG", "SET", "proto-max-bulk-len", "512mb"], &ok());
    c.check(&["GETBIT", "b", "4294967295"], &int(0));
    c.check(&["GETBIT", "b", "4294967296"], &err(BAD_OFFSET));
    c.check(&["BITFIELD", "b", "GET", "i64", "#67108863"], &ints(&[0]));
    c.check(
        &["BITFIELD", "b", "GET", "i64", "#67108864"],
        &err(BAD_OFFSET),
    );
    // `#N` times the width wraps as Redis's 64-bit multiplication does.
    c.check(
        &["BITFIELD", "b", "GET", "u8", "#1152921504606846976"],
        &err(BAD_OFFSET),
    );
}

fn bitcount_ranges(s: &Server) {
    let mut c = s.raw();
    c.check(&["SET", "s", "foobar"], &ok());
    let cases: &[(&[&str], i64)] = &[
        (&[], 26),
        (&["0", "0"], 4),
        (&["1", "1"], 6),
        (&["0", "-1"], 26),
        (&["-2", "-1"], 7),
        (&["-1", "-2"], 0),
        (&["2", "1"], 0),
        (&["-100", "100"], 26),
        (&["6", "100"], 0),
        (&["5", "30", "BIT"], 17),
        (&["5", "30", "bit"], 17),
        (&["1", "1", "BYTE"], 6),
        (&["0", "-1", "BIT"], 26),
        (&["-5", "-1", "BIT"], 2),
        (&["-1", "-5", "BIT"], 0),
        (&["1", "6", "BIT"], 4),
        (&["9", "14", "BIT"], 5),
        (&["47", "1000", "BIT"], 0),
        (&["46", "46", "BIT"], 1),
        (&["-9223372036854775808", "9223372036854775807"], 26),
        (&["-9223372036854775808", "9223372036854775807", "BIT"], 26),
    ];
    for (range, want) in cases {
        let mut args = vec!["BITCOUNT", "s"];
        args.extend_from_slice(range);
        c.check(&args, &int(*want));
    }
    c.check(&["BITCOUNT", "nosuch"], &int(0));
    c.check(&["BITCOUNT", "nosuch", "0", "-1", "BIT"], &int(0));
    c.check(&["SET", "e", ""], &ok());
    c.check(&["BITCOUNT", "e"], &int(0));
    c.check(&["BITCOUNT", "e", "0", "-1", "BIT"], &int(0));
    c.check(&["BITCOUNT", "s", "0", "1", "WORD"], &err(SYNTAX));
    c.check(&["BITCOUNT", "s", "0", "1", "BIT", "x"], &err(SYNTAX));
    c.check(&["BITCOUNT", "s", "0"], &err(SYNTAX));
    c.check(&["BITCOUNT", "s", "a", "1"], &err(NOT_INT));
    c.check(&["BITCOUNT", "s", "1", "b", "BIT"], &err(NOT_INT));
    c.check(&["BITCOUNT", "s", "a", "1", "WORD"], &err(NOT_INT));
    // A long string, counted in words.
    let long: Vec<u8> = (0..1000u32).map(|i| (i * 37 % 256) as u8).collect();
    let want: u32 = long.iter().map(|b| b.count_ones()).sum();
    c.cmd_bytes(&[b"SET", b"long", &long]);
    c.check(&["BITCOUNT", "long"], &int(want as i64));
    let part: u32 = long[3..=996].iter().map(|b| b.count_ones()).sum();
    c.check(&["BITCOUNT", "long", "3", "-4"], &int(part as i64));
}

fn bitpos_ranges(s: &Server) {
    let mut c = s.raw();
    c.cmd_bytes(&[b"SET", b"p", b"\xff\xf0\x00"]);
    let cases: &[(&[&str], i64)] = &[
        (&["0"], 12),
        (&["1"], 0),
        (&["0", "1"], 12),
        (&["0", "2"], 16),
        (&["0", "3"], -1),
        (&["1", "2"], -1),
        (&["1", "-1"], -1),
        (&["0", "0", "0"], -1),
        (&["0", "0", "1"], 12),
        (&["0", "-3", "-2"], 12),
        (&["0", "1", "0"], -1),
        (&["0", "5", "10", "BIT"], -1),
        (&["0", "5", "12", "BIT"], 12),
        (&["1", "12", "23", "BIT"], -1),
        (&["1", "-13", "-1", "BIT"], 11),
        (&["0", "-8", "-1", "BIT"], 16),
        (&["1", "7", "7", "bit"], 7),
        (&["1", "10", "1", "BIT"], -1),
        (&["0", "0", "-1", "byte"], 12),
    ];
    for (rest, want) in cases {
        let mut args = vec!["BITPOS", "p"];
        args.extend_from_slice(rest);
        c.check(&args, &int(*want));
    }
    // Looking for a 0 with no end given, the string is padded with zeros.
    c.cmd_bytes(&[b"SET", b"ones", b"\xff\xff"]);
    c.check(&["BITPOS", "ones", "0"], &int(16));
    c.check(&["BITPOS", "ones", "0", "1"], &int(16));
    c.check(&["BITPOS", "ones", "0", "0", "-1"], &int(-1));
    c.check(&["BITPOS", "ones", "0", "0", "15", "BIT"], &int(-1));
    c.check(&["BITPOS", "ones", "0", "2"], &int(-1));
    // A missing key is all zeros, whatever the range.
    c.check(&["BITPOS", "nosuch", "0"], &int(0));
    c.check(&["BITPOS", "nosuch", "1"], &int(-1));
    c.check(&["BITPOS", "nosuch", "0", "5", "10", "BIT"], &int(0));
    c.check(&["SET", "e", ""], &ok());
    c.check(&["BITPOS", "e", "0"], &int(-1));
    c.check(&["BITPOS", "e", "1"], &int(-1));
    // A long run skipped a word at a time.
    let mut long = vec![0u8; 1003];
    long[1001] = 0x04;
    c.cmd_bytes(&[b"SET", b"long", &long]);
    c.check(&["BITPOS", "long", "1"], &int(1001 * 8 + 5));
    c.check(&["BITPOS", "long", "1", "3", "1000"], &int(-1));
    c.check(&["BITPOS", "long", "0", "1"], &int(8));
    // Errors: the bit, then the range, the unit before the end.
    c.check(
        &["BITPOS", "p", "2"],
        &err("ERR The bit argument must be 1 or 0."),
    );
    c.check(&["BITPOS", "p", "x"], &err(NOT_INT));
    c.check(&["BITPOS", "p", "1", "a"], &err(NOT_INT));
    c.check(&["BITPOS", "p", "1", "0", "b"], &err(NOT_INT));
    c.check(&["BITPOS", "p", "1", "0", "x", "WORD"], &err(SYNTAX));
    c.check(&["BITPOS", "p", "1", "0", "x", "BIT"], &err(NOT_INT));
    c.check(&["BITPOS", "p", "1", "0", "1", "BIT", "x"], &err(SYNTAX));
}

/// Redis 7.2 checks BITCOUNT's and BITPOS's arguments before it looks the
/// key up; 7.0 answered a missing key first.
fn arguments_before_the_key_7_2(s: &Server) {
    let mut c = s.raw();
    let v72 = is_72(&mut c);
    let pick = |new: Vec<u8>, old: Vec<u8>| if v72 { new } else { old };
    c.check(
        &["BITCOUNT", "nosuch", "a", "1"],
        &pick(err(NOT_INT), int(0)),
    );
    c.check(
        &["BITCOUNT", "nosuch", "0", "1", "WORD"],
        &pick(err(SYNTAX), int(0)),
    );
    c.check(&["BITCOUNT", "nosuch", "0"], &pick(err(SYNTAX), int(0)));
    c.check(
        &["BITPOS", "nosuch", "1", "a"],
        &pick(err(NOT_INT), int(-1)),
    );
    c.check(
        &["BITPOS", "nosuch", "0", "0", "1", "WORD"],
        &pick(err(SYNTAX), int(0)),
    );
    c.check(
        &["BITPOS", "nosuch", "1", "0", "1", "BIT", "x"],
        &pick(err(SYNTAX), int(-1)),
    );
    c.check(
        &["BITCOUNT", "nosuch", "0", "1", "BIT", "x"],
        &pick(err(SYNTAX), int(0)),
    );
    c.check(&["LPUSH", "l", "a"], &int(1));
    c.check(
        &["BITCOUNT", "l", "a", "1"],
        &pick(err(NOT_INT), err(WRONGTYPE)),
    );
    c.check(
        &["BITPOS", "l", "1", "x"],
        &pick(err(NOT_INT), err(WRONGTYPE)),
    );
    // Both versions check the bit before the key.
    c.check(
        &["BITPOS", "nosuch", "3"],
        &err("ERR The bit argument must be 1 or 0."),
    );
}

fn bitop(s: &Server) {
    let mut c = s.raw();
    c.cmd_bytes(&[b"SET", b"a", b"\x0f\xf0\xaa"]);
    c.cmd_bytes(&[b"SET", b"b", b"\xff"]);
    let cases: &[(&str, &[&str], &[u8])] = &[
        ("AND", &["a", "b"], b"\x0f\x00\x00"),
        ("OR", &["a", "b"], b"\xff\xf0\xaa"),
        ("XOR", &["a", "b"], b"\xf0\xf0\xaa"),
        ("NOT", &["a"], b"\xf0\x0f\x55"),
        ("and", &["a", "b", "nosuch"], b"\x00\x00\x00"),
        ("Or", &["nosuch", "b"], b"\xff"),
        ("xor", &["a", "a", "a"], b"\x0f\xf0\xaa"),
        ("AND", &["a"], b"\x0f\xf0\xaa"),
    ];
    for (op, keys, want) in cases {
        let mut args = vec!["BITOP", op, "dest"];
        args.extend_from_slice(keys);
        c.check(&args, &int(want.len() as i64));
        c.check(&["GET", "dest"], &bulk_bytes(want));
    }
    // A long source through the word loops.
    let long: Vec<u8> = (0..100u8).collect();
    c.cmd_bytes(&[b"SET", b"long", &long]);
    c.check(&["BITOP", "AND", "dest", "long", "long", "b"], &int(100));
    let mut want = vec![0u8; 100];
    want[0] = 0;
    c.check(&["GET", "dest"], &bulk_bytes(&want));
    // The destination replaces any value and its deadline.
    c.check(&["SET", "t", "x", "EX", "1000"], &ok());
    c.check(&["BITOP", "OR", "t", "b"], &int(1));
    c.check(&["TTL", "t"], &int(-1));
    c.check(&["LPUSH", "l", "x"], &int(1));
    c.check(&["BITOP", "OR", "l", "b"], &int(1));
    c.check(&["TYPE", "l"], &simple("string"));
    // An empty result deletes the destination.
    c.check(&["BITOP", "NOT", "dest", "nosuch"], &int(0));
    c.check(&["EXISTS", "dest"], &int(0));
    c.check(&["BITOP", "AND", "dest", "nosuch", "nosuch2"], &int(0));
    c.check(&["EXISTS", "dest"], &int(0));
    c.check(&["LPUSH", "l2", "x"], &int(1));
    c.check(&["BITOP", "OR", "l2", "nosuch"], &int(0));
    c.check(&["EXISTS", "l2"], &int(0));
    // Errors: the operation, NOT's single source, then the sources' types.
    c.check(&["LPUSH", "list", "x"], &int(1));
    c.check(&["BITOP", "DIFF", "dest", "a", "b"], &err(SYNTAX));
    c.check(&["BITOP", "FOO", "dest", "list"], &err(SYNTAX));
    c.check(
        &["BITOP", "NOT", "dest", "a", "b"],
        &err("ERR BITOP NOT must be called with a single source key."),
    );
    c.check(
        &["BITOP", "NOT", "dest", "list", "b"],
        &err("ERR BITOP NOT must be called with a single source key."),
    );
    c.check(&["BITOP", "AND", "dest", "a", "list"], &err(WRONGTYPE));
    c.check(&["BITOP", "AND", "list", "a"], &int(3));
    c.check(&["BITOP", "AND", "dest", "nosuch", "l3"], &int(0));
    c.check(&["LPUSH", "l3", "x"], &int(1));
    c.check(&["BITOP", "AND", "dest", "nosuch", "l3"], &err(WRONGTYPE));
    c.check(&["EXISTS", "dest"], &int(0));
}

fn bitop_across_shards(s: &Server) {
    let mut c = s.raw();
    c.cmd_bytes(&[b"SET", K1.as_bytes(), b"\x01\x02"]);
    c.cmd_bytes(&[b"SET", K2.as_bytes(), b"\x10"]);
    c.check(&["BITOP", "OR", K3, K1, K2], &int(2));
    c.check(&["GET", K3], &bulk_bytes(b"\x11\x02"));
    c.check(&["BITOP", "AND", K3, K1, K2, "nosuch"], &int(2));
    c.check(&["GET", K3], &bulk_bytes(b"\x00\x00"));
    c.check(&["BITOP", "NOT", K3, K1], &int(2));
    c.check(&["GET", K3], &bulk_bytes(b"\xfe\xfd"));
    c.check(&["BITOP", "XOR", K1, K1, K2], &int(2));
    c.check(&["GET", K1], &bulk_bytes(b"\x11\x02"));
    c.check(&["BITOP", "NOT", K3, "{to}nosuch"], &int(0));
    c.check(&["EXISTS", K3], &int(0));
    c.check(&["LPUSH", "{to}l", "x"], &int(1));
    c.check(&["BITOP", "AND", K3, K1, "{to}l"], &err(WRONGTYPE));
    c.check(&["EXISTS", K3], &int(0));
    c.check(&["BITOP", "XOR", "{to}l", K1], &int(2));
    c.check(&["TYPE", "{to}l"], &simple("string"));
    // Atomic inside MULTI, with the other keys of the transaction.
    c.check(&["MULTI"], &ok());
    c.check(&["SETBIT", K2, "0", "1"], &simple("QUEUED"));
    c.check(&["BITOP", "OR", K3, K1, K2], &simple("QUEUED"));
    c.check(&["BITCOUNT", K3], &simple("QUEUED"));
    c.check(&["EXEC"], &ints(&[0, 2, 4]));
    c.check(&["GET", K3], &bulk_bytes(b"\x91\x02"));
    // From a script that declares its keys.
    c.check(
        &[
            "EVAL",
            "return redis.call('BITOP', 'AND', KEYS[1], KEYS[2], KEYS[3])",
            "3",
            K3,
            K1,
            K2,
        ],
        &int(2),
    );
    c.check(&["GET", K3], &bulk_bytes(b"\x10\x00"));
}

fn bitfield(s: &Server) {
    let mut c = s.raw();
    c.check(&["BITFIELD", "f", "SET", "u8", "0", "255"], &ints(&[0]));
    c.check(
        &[
            "BITFIELD", "f", "GET", "u8", "0", "GET", "i8", "0", "GET", "u4", "0", "GET", "i4",
            "4", "GET", "u1", "7", "GET", "i1", "7",
        ],
        &ints(&[255, -1, 15, -1, 1, -1]),
    );
    // `#N` counts fields of the type's width.
    c.check(
        &[
            "BITFIELD", "f", "SET", "i8", "#1", "-3", "GET", "i8", "#1", "GET", "u8", "8",
        ],
        &ints(&[0, -3, 253]),
    );
    c.check(&["GET", "f"], &bulk_bytes(b"\xff\xfd"));
    // Fields across byte boundaries, big-endian.
    c.check(
        &[
            "BITFIELD", "f", "SET", "u16", "5", "1234", "GET", "u16", "5", "GET", "u8", "5",
        ],
        &ints(&[65440, 1234, 4]),
    );
    c.check(
        &[
            "BITFIELD", "f", "SET", "i3", "#3", "3", "GET", "i3", "#3", "GET", "u3", "9",
        ],
        &ints(&[2, 3, 3]),
    );
    c.check(
        &[
            "BITFIELD", "f", "SET", "i64", "0", "-1", "GET", "i64", "0", "GET", "u63", "1",
        ],
        &ints(&[-561102773886648320, -1, i64::MAX]),
    );
    // Reads past the end are zeros; no write, no growth.
    c.check(&["BITFIELD", "f", "GET", "u8", "100000"], &ints(&[0]));
    c.check(&["STRLEN", "f"], &int(8));
    c.check(&["BITFIELD", "f"], &array(&[]));
    c.check(
        &["BITFIELD", "nosuch", "GET", "u8", "0", "GET", "i64", "9"],
        &ints(&[0, 0]),
    );
    c.check(&["EXISTS", "nosuch"], &int(0));
    c.check(&["BITFIELD", "new", "SET", "u8", "#2", "7"], &ints(&[0]));
    c.check(&["GET", "new"], &bulk_bytes(b"\x00\x00\x07"));
    // The deadline stays.
    c.check(&["SET", "t", "x", "EX", "1000"], &ok());
    c.check(&["BITFIELD", "t", "SET", "u8", "0", "65"], &ints(&[120]));
    c.check(&["GET", "t"], &bulk("A"));
    assert!(Reply::parse(&c.cmd(&["TTL", "t"])).as_int() > 0);
    // Errors, in order: the subcommand, the type, the offset, the value,
    // before the key's type.
    c.check(&["LPUSH", "l", "x"], &int(1));
    for bad in [
        "u64", "i65", "u0", "i0", "x8", "U8", "I8", "u-1", "u08", "", "u", "u8 ",
    ] {
        c.check(&["BITFIELD", "l", "GET", bad, "0"], &err(BAD_TYPE));
    }
    // Redis reads the width up to a NUL byte.
    check_bytes(
        &mut c,
        &[b"BITFIELD", b"f", b"GET", b"u8\x00x", b"8"],
        &ints(&[255]),
    );
    for bad in ["-1", "#-1", "##1", "#", "x", "4294967296", "#536870912"] {
        c.check(&["BITFIELD", "l", "GET", "u8", bad], &err(BAD_OFFSET));
    }
    c.check(&["BITFIELD", "l", "GET", "u8", "#1"], &err(WRONGTYPE));
    c.check(&["BITFIELD", "l", "SET", "u8", "0", "x"], &err(NOT_INT));
    c.check(
        &["BITFIELD", "l", "INCRBY", "u8", "0", "1.5"],
        &err(NOT_INT),
    );
    c.check(&["BITFIELD", "l", "SET", "u8", "0", "1"], &err(WRONGTYPE));
    c.check(&["BITFIELD", "f", "GET", "u8"], &err(SYNTAX));
    c.check(&["BITFIELD", "f", "SET", "u8", "0"], &err(SYNTAX));
    c.check(&["BITFIELD", "f", "FOO"], &err(SYNTAX));
    c.check(&["BITFIELD", "f", "GET", "u8", "0", "FOO"], &err(SYNTAX));
    c.check(&["BITFIELD", "f", "OVERFLOW"], &err(SYNTAX));
    c.check(
        &["BITFIELD", "f", "OVERFLOW", "foo", "GET", "u8", "0"],
        &err("ERR Invalid OVERFLOW type specified"),
    );
    c.check(&["BITFIELD", "f", "OVERFLOW", "sat"], &array(&[]));
    c.check(
        &["BITFIELD", "f", "SET", "u99", "0", "1", "GET", "u8", "x"],
        &err(BAD_TYPE),
    );
}

fn bitfield_overflow(s: &Server) {
    let mut c = s.raw();
    // Each line runs on the field values the lines before it left.
    let cases: &[(&str, Vec<u8>)] = &[
        ("INCRBY u2 100 1 GET u2 100", ints(&[1, 1])),
        ("INCRBY u2 100 3 INCRBY u2 100 1", ints(&[0, 1])),
        (
            "OVERFLOW SAT INCRBY u2 100 10 INCRBY u2 100 -10",
            ints(&[3, 0]),
        ),
        (
            "OVERFLOW FAIL INCRBY u2 100 10 INCRBY u2 100 1",
            array(&[nil(), int(1)]),
        ),
        (
            "OVERFLOW WRAP INCRBY i8 0 200 INCRBY i8 0 -300",
            ints(&[-56, -100]),
        ),
        (
            "OVERFLOW SAT INCRBY i8 0 200 INCRBY i8 0 -300",
            ints(&[100, -128]),
        ),
        (
            "OVERFLOW FAIL INCRBY i8 0 200 INCRBY i8 0 -201",
            array(&[int(72), nil()]),
        ),
        // SET takes the old value's place, wrapped or saturated.
        ("SET u8 0 256 SET u8 0 -1 GET u8 0", ints(&[72, 0, 255])),
        (
            "OVERFLOW SAT SET u8 0 256 GET u8 0 SET u8 0 -5 GET u8 0",
            ints(&[255, 255, 255, 255]),
        ),
        (
            "OVERFLOW FAIL SET u8 0 256 SET u8 0 7 GET u8 0",
            array(&[nil(), int(255), int(7)]),
        ),
        (
            "OVERFLOW SAT SET i4 0 100 SET i4 0 -100 GET i4 0",
            ints(&[0, 7, -8]),
        ),
        // 64-bit signed fields at their limits.
        (
            "SET i64 0 9223372036854775807 INCRBY i64 0 1",
            ints(&[-8718968878589280256, i64::MIN]),
        ),
        (
            "OVERFLOW SAT INCRBY i64 0 -1 INCRBY i64 0 -9223372036854775808 \
             SET i64 0 9223372036854775807 INCRBY i64 0 1",
            ints(&[i64::MIN, i64::MIN, i64::MIN, i64::MAX]),
        ),
        (
            "OVERFLOW FAIL INCRBY i64 0 1 INCRBY i64 0 -1 GET i64 0",
            array(&[nil(), int(i64::MAX - 1), int(i64::MAX - 1)]),
        ),
        // 63-bit unsigned fields, the widest.
        (
            "SET u63 0 9223372036854775807 INCRBY u63 0 1 INCRBY u63 0 -1",
            ints(&[4611686018427387903, 0, i64::MAX]),
        ),
        (
            "OVERFLOW SAT INCRBY u63 0 -9223372036854775808 INCRBY u63 0 5",
            ints(&[0, 5]),
        ),
        // The OVERFLOW in force is the last one before each operation.
        (
            "SET u4 0 15 INCRBY u4 0 1 OVERFLOW SAT INCRBY u4 0 20 OVERFLOW FAIL INCRBY u4 0 1",
            array(&[int(0), int(0), int(15), nil()]),
        ),
    ];
    for (ops, want) in cases {
        let mut args = vec!["BITFIELD", "f"];
        args.extend(ops.split_whitespace());
        c.check(&args, want);
    }
}

fn bitfield_ro(s: &Server) {
    let mut c = s.raw();
    c.check(&["SET", "f", "A"], &ok());
    c.check(
        &["BITFIELD_RO", "f", "GET", "u8", "0", "GET", "i4", "4"],
        &ints(&[65, 1]),
    );
    c.check(&["BITFIELD_RO", "f"], &array(&[]));
    c.check(&["BITFIELD_RO", "nosuch", "GET", "u8", "0"], &ints(&[0]));
    c.check(
        &["BITFIELD_RO", "f", "OVERFLOW", "SAT", "GET", "u8", "0"],
        &ints(&[65]),
    );
    let only_get = err("ERR BITFIELD_RO only supports the GET subcommand");
    c.check(
        &["BITFIELD_RO", "f", "GET", "u8", "0", "SET", "u8", "0", "1"],
        &only_get,
    );
    c.check(&["BITFIELD_RO", "f", "INCRBY", "u8", "0", "1"], &only_get);
    c.check(&["BITFIELD_RO", "f", "SET", "u8", "0", "x"], &err(NOT_INT));
    c.check(
        &["BITFIELD_RO", "f", "SET", "u64", "0", "1"],
        &err(BAD_TYPE),
    );
    c.check(&["LPUSH", "l", "x"], &int(1));
    c.check(&["BITFIELD_RO", "l", "GET", "u8", "0"], &err(WRONGTYPE));
    c.check(&["BITFIELD_RO", "l", "SET", "u8", "0", "1"], &only_get);
    c.check(&["GET", "f"], &bulk("A"));
}

fn lcs(s: &Server) {
    let mut c = s.raw();
    c.check(&["SET", "a", "ohmytext"], &ok());
    c.check(&["SET", "b", "mynewtext"], &ok());
    c.check(&["LCS", "a", "b"], &bulk("mytext"));
    c.check(&["LCS", "a", "b", "LEN"], &int(6));
    let range = |a: [i64; 2], b: [i64; 2], len: Option<i64>| {
        let mut items = vec![ints(&a), ints(&b)];
        items.extend(len.map(int));
        array(&items)
    };
    let idx = |ranges: Vec<Vec<u8>>, len: i64| {
        array(&[bulk("matches"), array(&ranges), bulk("len"), int(len)])
    };
    c.check(
        &["LCS", "a", "b", "IDX"],
        &idx(
            vec![range([4, 7], [5, 8], None), range([2, 3], [0, 1], None)],
            6,
        ),
    );
    c.check(
        &["LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"],
        &idx(vec![range([4, 7], [5, 8], Some(4))], 6),
    );
    c.check(
        &["LCS", "a", "b", "idx", "minmatchlen", "-5", "withmatchlen"],
        &idx(
            vec![
                range([4, 7], [5, 8], Some(4)),
                range([2, 3], [0, 1], Some(2)),
            ],
            6,
        ),
    );
    // Options that do not apply are accepted.
    c.check(
        &["LCS", "a", "b", "WITHMATCHLEN", "MINMATCHLEN", "3"],
        &bulk("mytext"),
    );
    c.check(
        &["LCS", "a", "b", "LEN", "LEN", "MINMATCHLEN", "1"],
        &int(6),
    );
    c.check(&["LCS", "a", "a"], &bulk("ohmytext"));
    c.check(&["LCS", "a", "nosuch"], &bulk(""));
    c.check(&["LCS", "a", "nosuch", "IDX"], &idx(vec![], 0));
    c.check(&["LCS", "nosuch", "nosuch2", "LEN"], &int(0));
    // Ranges that reach either string's first byte.
    c.check(&["SET", "x", "aaaa"], &ok());
    c.check(&["SET", "y", "aa"], &ok());
    c.check(
        &["LCS", "x", "y", "IDX"],
        &idx(vec![range([2, 3], [0, 1], None)], 2),
    );
    c.check(
        &["LCS", "y", "x", "IDX"],
        &idx(vec![range([0, 1], [2, 3], None)], 2),
    );
    c.cmd_bytes(&[b"SET", b"bin1", b"\x00\xff\x00a"]);
    c.cmd_bytes(&[b"SET", b"bin2", b"\xff\x00"]);
    c.check(&["LCS", "bin1", "bin2"], &bulk_bytes(b"\xff\x00"));
    // Errors: the keys' types first, then the options.
    let not_strings = err("ERR The specified keys must contain string values");
    c.check(&["LPUSH", "l", "x"], &int(1));
    c.check(&["LCS", "a", "l"], &not_strings);
    c.check(&["LCS", "l", "a", "FOO"], &not_strings);
    c.check(&["LCS", "l", "nosuch", "IDX", "LEN"], &not_strings);
    c.check(&["LCS", "a", "b", "FOO"], &err(SYNTAX));
    c.check(&["LCS", "a", "b", "MINMATCHLEN"], &err(SYNTAX));
    c.check(&["LCS", "a", "b", "MINMATCHLEN", "x", "FOO"], &err(NOT_INT));
    c.check(
        &["LCS", "a", "b", "LEN", "IDX"],
        &err("ERR If you want both the length and indexes, please just use IDX."),
    );
    // The table (4 bytes a cell) may not exceed proto-max-bulk-len.
    c.check(&["CONFIG", "SET", "proto-max-bulk-len", "1mb"], &ok());
    c.check(&["SETRANGE", "big1", "600", "x"], &int(601));
    c.check(&["SETRANGE", "big2", "600", "x"], &int(601));
    c.check(
        &["LCS", "big1", "big2", "LEN"],
        &err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"),
    );
    c.check(&["SETRANGE", "big2", "300", "x"], &int(601));
    c.check(&["SET", "big2", "xx"], &ok());
    c.check(&["LCS", "big1", "big2", "LEN"], &int(1));
}

fn lcs_across_shards(s: &Server) {
    let mut c = s.raw();
    c.check(&["SET", K1, "ohmytext"], &ok());
    c.check(&["SET", K2, "mynewtext"], &ok());
    c.check(&["LCS", K1, K2], &bulk("mytext"));
    c.check(&["LCS", K2, K1, "LEN"], &int(6));
    c.check(
        &["LCS", K1, K2, "IDX", "MINMATCHLEN", "3", "WITHMATCHLEN"],
        &array(&[
            bulk("matches"),
            array(&[array(&[ints(&[4, 7]), ints(&[5, 8]), int(4)])]),
            bulk("len"),
            int(6),
        ]),
    );
    c.check(&["LCS", K1, "{in}nosuch"], &bulk(""));
    c.check(&["LPUSH", K3, "x"], &int(1));
    let not_strings = err("ERR The specified keys must contain string values");
    c.check(&["LCS", K1, K3], &not_strings);
    c.check(&["LCS", K3, K1, "FOO"], &not_strings);
    c.check(&["LCS", K1, K2, "FOO"], &err(SYNTAX));
    c.check(&["MULTI"], &ok());
    c.check(&["APPEND", K2, "o"], &simple("QUEUED"));
    c.check(&["LCS", K1, K2], &simple("QUEUED"));
    c.check(&["EXEC"], &array(&[int(10), bulk("mytext")]));
}

fn substr(s: &Server) {
    let mut c = s.raw();
    c.check(&["SET", "s", "Hello World"], &ok());
    c.check(&["SUBSTR", "s", "0", "4"], &bulk("Hello"));
    c.check(&["SUBSTR", "s", "-5", "-1"], &bulk("World"));
    c.check(&["SUBSTR", "s", "6", "100"], &bulk("World"));
    c.check(&["SUBSTR", "s", "-1", "-5"], &bulk(""));
    c.check(&["SUBSTR", "s", "100", "200"], &bulk(""));
    c.check(&["SUBSTR", "nosuch", "0", "-1"], &bulk(""));
    c.check(&["SUBSTR", "s", "a", "1"], &err(NOT_INT));
    c.check(&["LPUSH", "l", "x"], &int(1));
    c.check(&["SUBSTR", "l", "0", "1"], &err(WRONGTYPE));
    c.check(&["SUBSTR", "s", "0"], &arity("substr"));
    c.check(&["SUBSTR", "s", "0", "1", "2"], &arity("substr"));
}

fn wrongtype_and_arity(s: &Server) {
    let mut c = s.raw();
    c.check(&["HSET", "h", "f", "v"], &int(1));
    for args in [
        &["SETBIT", "h", "0", "1"][..],
        &["GETBIT", "h", "0"],
        &["BITCOUNT", "h"],
        &["BITCOUNT", "h", "0", "1", "BIT"],
        &["BITPOS", "h", "1"],
        &["BITOP", "OR", "d", "h"],
        &["BITFIELD", "h", "GET", "u8", "0"],
        &["BITFIELD", "h", "INCRBY", "u8", "0", "1"],
        &["BITFIELD", "h"],
        &["BITFIELD_RO", "h", "GET", "u8", "0"],
        &["SUBSTR", "h", "0", "1"],
    ] {
        c.check(args, &err(WRONGTYPE));
    }
    for (name, args) in [
        ("setbit", &["SETBIT", "k", "0"][..]),
        ("setbit", &["SETBIT", "k", "0", "1", "2"]),
        ("getbit", &["GETBIT", "k"]),
        ("getbit", &["GETBIT", "k", "0", "1"]),
        ("bitcount", &["BITCOUNT"]),
        ("bitpos", &["BITPOS", "k"]),
        ("bitop", &["BITOP", "AND", "d"]),
        ("bitfield", &["BITFIELD"]),
        ("bitfield_ro", &["BITFIELD_RO"]),
        ("lcs", &["LCS", "a"]),
        ("substr", &["SUBSTR", "k", "0"]),
    ] {
        c.check(args, &arity(name));
    }
}

fn resp3_shapes(s: &Server) {
    let mut c = s.raw();
    hello3(&mut c);
    c.check(
        &[
            "BITFIELD", "f", "OVERFLOW", "FAIL", "SET", "u8", "0", "300", "SET", "u8", "0", "3",
        ],
        &array(&[b"_\r\n".to_vec(), int(0)]),
    );
    c.check(&["BITFIELD_RO", "f", "GET", "u8", "0"], &ints(&[3]));
    c.check(&["SET", "a", "ohmytext"], &ok());
    c.check(&["SET", "b", "mynewtext"], &ok());
    c.check(
        &["LCS", "a", "b", "IDX", "MINMATCHLEN", "4"],
        &[
            b"%2\r\n".to_vec(),
            bulk("matches"),
            array(&[array(&[ints(&[4, 7]), ints(&[5, 8])])]),
            bulk("len"),
            int(6),
        ]
        .concat(),
    );
    c.check(&["SETBIT", "b", "0", "1"], &int(0));
    c.check(&["BITCOUNT", "b"], &int(42));
    c.check(&["BITPOS", "b", "0"], &int(3));
}

// ------------------------------------------------------- randomized model

/// A bitmap as Redis sees one: whole bytes of bits; `exists` apart, since
/// an empty string is not a missing key.
#[derive(Clone, Debug, Default)]
struct Model {
    bits: Vec<bool>,
    exists: bool,
}

impl Model {
    fn bytes(&self) -> Vec<u8> {
        self.bits
            .chunks(8)
            .map(|c| c.iter().fold(0u8, |b, &x| (b << 1) | x as u8))
            .collect()
    }

    fn from_bytes(bytes: &[u8]) -> Model {
        Model {
            bits: bytes
                .iter()
                .flat_map(|b| (0..8).map(move |i| b & (0x80 >> i) != 0))
                .collect(),
            exists: true,
        }
    }

    fn bit(&self, i: usize) -> bool {
        self.bits.get(i).copied().unwrap_or(false)
    }

    /// `start..=end` in units of `unit` bits, normalized as the commands
    /// document it (negative from the end, clamped), as bit positions.
    fn range(&self, start: i64, end: i64, unit: i64) -> std::ops::Range<usize> {
        let len = self.bits.len() as i64 / unit;
        let norm = |i: i64| if i < 0 { (len + i).max(0) } else { i };
        let (start, end) = (norm(start), norm(end).min(len - 1));
        if start > end {
            return 0..0;
        }
        (start * unit) as usize..((end + 1) * unit) as usize
    }
}

#[derive(Clone, Debug)]
enum Op {
    SetBit(usize, u64, bool),
    GetBit(usize, u64),
    /// BITCOUNT key start end [BIT].
    Count(usize, i64, i64, bool),
    /// BITPOS key bit [start [end [BIT]]]: how many of the range's
    /// arguments are given (0 to 3).
    Pos(usize, bool, usize, i64, i64),
    /// BITOP op dest src...
    Combine(&'static str, usize, Vec<usize>),
    Get(usize),
    Set(usize, Vec<u8>),
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..3usize;
    let index = -30i64..30;
    prop_oneof![
        3 => (key.clone(), 0..160u64, any::<bool>()).prop_map(|(k, o, b)| Op::SetBit(k, o, b)),
        1 => (key.clone(), 0..170u64).prop_map(|(k, o)| Op::GetBit(k, o)),
        2 => (key.clone(), index.clone(), index.clone(), any::<bool>())
            .prop_map(|(k, a, b, bits)| Op::Count(k, a, b, bits)),
        2 => (key.clone(), any::<bool>(), 0..4usize, index.clone(), index)
            .prop_map(|(k, bit, n, a, b)| Op::Pos(k, bit, n, a, b)),
        1 => (
            prop::sample::select(vec!["AND", "OR", "XOR", "NOT"]),
            key.clone(),
            prop::collection::vec(0..3usize, 1..4)
        )
            .prop_map(|(op, d, mut srcs)| {
                if op == "NOT" {
                    srcs.truncate(1);
                }
                Op::Combine(op, d, srcs)
            }),
        1 => key.clone().prop_map(Op::Get),
        1 => (key, prop::collection::vec(any::<u8>(), 0..12)).prop_map(|(k, v)| Op::Set(k, v)),
    ]
}

/// Runs `op` on the server and on `model`: the reply the model predicts,
/// and the one the server gave.
fn apply(c: &mut RawConn, model: &mut [Model], op: &Op) -> (Vec<u8>, Vec<u8>) {
    const KEYS: [&str; 3] = ["{from}m", "{to}m", "{in}m"];
    match op {
        Op::SetBit(k, off, on) => {
            let m = &mut model[*k];
            let old = m.bit(*off as usize);
            let len = ((off / 8 + 1) * 8) as usize;
            if m.bits.len() < len {
                m.bits.resize(len, false);
            }
            m.bits[*off as usize] = *on;
            m.exists = true;
            let got = c.cmd(&[
                "SETBIT",
                KEYS[*k],
                &off.to_string(),
                if *on { "1" } else { "0" },
            ]);
            (int(old as i64), got)
        }
        Op::GetBit(k, off) => {
            let want = int(model[*k].bit(*off as usize) as i64);
            (want, c.cmd(&["GETBIT", KEYS[*k], &off.to_string()]))
        }
        Op::Count(k, start, end, in_bits) => {
            let m = &model[*k];
            let want = if *start < 0 && *end < 0 && start > end {
                0
            } else {
                let range = m.range(*start, *end, if *in_bits { 1 } else { 8 });
                m.bits[range].iter().filter(|&&b| b).count()
            };
            let (a, b) = (start.to_string(), end.to_string());
            let mut args = vec!["BITCOUNT", KEYS[*k], &a, &b];
            if *in_bits {
                args.push("BIT");
            }
            (int(want as i64), c.cmd(&args))
        }
        Op::Pos(k, bit, given, start, end) => {
            let m = &model[*k];
            let (a, b) = (start.to_string(), end.to_string());
            let mut args = vec!["BITPOS", KEYS[*k], if *bit { "1" } else { "0" }];
            args.extend([a.as_str(), b.as_str(), "BIT"].iter().take(*given));
            let range = match given {
                0 => 0..m.bits.len(),
                1 => m.range(*start, -1, 8),
                2 => m.range(*start, *end, 8),
                _ => m.range(*start, *end, 1),
            };
            // A missing key is endless zeros; an empty range holds no bit;
            // a 0 looked for with no end given is found past the string.
            let want = if !m.exists {
                -(*bit as i64)
            } else if range.is_empty() {
                -1
            } else {
                match range.clone().find(|&i| m.bits[i] == *bit) {
                    Some(i) => i as i64,
                    None if !bit && *given < 2 => range.end as i64,
                    None => -1,
                }
            };
            (int(want), c.cmd(&args))
        }
        Op::Combine(name, dst, srcs) => {
            let len = srcs.iter().map(|&i| model[i].bits.len()).max().unwrap();
            let bits: Vec<bool> = (0..len)
                .map(|j| {
                    let mut it = srcs.iter().map(|&i| model[i].bit(j));
                    match *name {
                        "AND" => it.all(|b| b),
                        "OR" => it.any(|b| b),
                        "XOR" => it.filter(|&b| b).count() % 2 == 1,
                        _ => !it.next().unwrap(),
                    }
                })
                .collect();
            let mut args = vec!["BITOP", name, KEYS[*dst]];
            args.extend(srcs.iter().map(|&i| KEYS[i]));
            model[*dst] = Model {
                exists: len > 0,
                bits,
            };
            (int(len as i64 / 8), c.cmd(&args))
        }
        Op::Get(k) => {
            let m = &model[*k];
            let want = if m.exists {
                bulk_bytes(&m.bytes())
            } else {
                nil()
            };
            (want, c.cmd(&["GET", KEYS[*k]]))
        }
        Op::Set(k, bytes) => {
            model[*k] = Model::from_bytes(bytes);
            (ok(), c.cmd_bytes(&[b"SET", KEYS[*k].as_bytes(), bytes]))
        }
    }
}

/// SETBIT, GETBIT, BITCOUNT, BITPOS and BITOP (over keys of three shards
/// at 3 threads) against a `Vec<bool>` per key: every reply as the model
/// predicts, and every string as the model holds it at the end.
fn random_ops_match_a_bit_model(s: &Server) {
    let c = RefCell::new(s.raw());
    let config = ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&prop::collection::vec(op(), 1..120), |ops| {
        let mut c = c.borrow_mut();
        prop_assert_eq!(c.cmd(&["FLUSHALL"]), ok());
        let mut model = vec![Model::default(); 3];
        for (step, op) in ops.iter().enumerate() {
            let (want, got) = apply(&mut c, &mut model, op);
            prop_assert_eq!(show(&got), show(&want), "step {}: {:?}", step, op);
        }
        for k in 0..3 {
            let (want, got) = apply(&mut c, &mut model, &Op::Get(k));
            prop_assert_eq!(show(&got), show(&want), "key {} at the end", k);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

// ------------------------------------------------------------- persistence

/// Bitmap writes, cross-shard BITOP included, replayed from the
/// append-only log after a kill -9, at another thread count.
#[test]
fn the_log_replays_bitmap_writes() {
    if target() == Target::Redis {
        return;
    }
    let dir = TempDir::new("bitmaps-aof");
    let d = dir.arg();
    let start = |threads: &str| Server::start_with(&logged_args(threads, &d));
    let keys = [K1, K2, K3, "f", "gone"];
    let want: Vec<Vec<u8>> = {
        let s = start("3");
        let mut c = s.raw();
        c.check(&["SETBIT", K1, "9", "1"], &int(0));
        c.check(&["SETBIT", K1, "9", "1"], &int(1));
        c.check(&["SETBIT", K2, "30", "1"], &int(0));
        c.check(&["BITOP", "OR", K3, K1, K2], &int(4));
        c.check(&["BITOP", "XOR", K2, K1, K3], &int(4));
        c.check(&["SET", "gone", "x"], &ok());
        c.check(&["BITOP", "AND", "gone", "{x}nosuch"], &int(0));
        c.check(
            &[
                "BITFIELD", "f", "SET", "i8", "#1", "-3", "OVERFLOW", "FAIL", "INCRBY", "u4", "0",
                "99",
            ],
            &array(&[int(0), nil()]),
        );
        c.check(
            &[
                "BITFIELD", "f", "OVERFLOW", "SAT", "INCRBY", "i8", "#1", "-300",
            ],
            &ints(&[-128]),
        );
        keys.iter().map(|k| get(&mut c, k)).collect()
    };
    for threads in ["1", "3"] {
        let s = start(threads);
        let mut c = s.raw();
        let got: Vec<Vec<u8>> = keys.iter().map(|k| get(&mut c, k)).collect();
        assert_eq!(got, want, "after a restart at {threads} threads");
    }
}
