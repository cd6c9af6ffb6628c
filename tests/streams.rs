//! Non-blocking stream commands: XADD (explicit, partial and automatic IDs,
//! NOMKSTREAM, MAXLEN / MINID trimming with `=`, `~` and LIMIT), XLEN,
//! XRANGE, XREVRANGE, XDEL, XTRIM, XSETID, XREAD without BLOCK (also over
//! streams on different shards), XGROUP (CREATE, SETID, DESTROY,
//! CREATECONSUMER, DELCONSUMER, HELP), XREADGROUP without BLOCK, XACK,
//! XPENDING, XCLAIM, XAUTOCLAIM and XINFO (STREAM [FULL], GROUPS,
//! CONSUMERS, HELP); their errors, WRONGTYPE, arity, RESP3 reply shapes,
//! pending entries that were deleted or trimmed, and bad input that must not
//! change stored data.
//!
//! Time-dependent values (automatic IDs, idle times, seen-time) are checked
//! by shape and range, never literally. Where Redis 7.2 differs from 7.0
//! (consumer `inactive` / `active-time` fields, consumers created by an
//! XCLAIM / XAUTOCLAIM / XREADGROUP that finds nothing) the expectation
//! follows the server's reported `redis_version`.
//!
//! Every expectation was checked byte for byte against a real redis-server
//! (`RINGBUS_TEST_TARGET=redis`, redis 7.0.15).

mod common;

use common::*;
use ringbus::shard::route::shard_of;
use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

sharded_tests!(
    xadd_explicit_and_partial_ids,
    xadd_automatic_ids,
    xadd_invalid_ids_and_arity,
    xadd_nomkstream,
    xadd_exact_trimming,
    approximate_trimming_removes_whole_nodes,
    type_encoding_and_key_commands,
    xrange_bounds,
    xrevrange_bounds,
    xrange_count_and_errors,
    xdel,
    xtrim,
    xsetid,
    xread,
    xread_across_shards,
    xread_errors,
    xgroup_create_setid_destroy,
    xgroup_consumers,
    help_texts,
    xreadgroup_new_entries_and_history,
    xreadgroup_noack,
    xreadgroup_errors,
    xack,
    xpending_summary,
    xpending_extended,
    xclaim_options,
    xclaim_errors,
    xautoclaim,
    deleted_pending_entries_do_not_leak,
    consumer_creation_by_version,
    xinfo_stream,
    xinfo_stream_full,
    xinfo_groups_and_lag,
    xinfo_consumers,
    wrongtype_for_every_command,
    arity_errors,
    resp3_shapes,
    bad_input_keeps_data,
    redis_crate_roundtrip,
);

// ------------------------------------------------------------------ helpers

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";
const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";
const ID_TOO_SMALL: &str =
    "ERR The ID specified in XADD is equal or smaller than the target stream top item";
const ID_ZERO: &str = "ERR The ID specified in XADD must be greater than 0-0";
const NO_SUCH_KEY: &str = "ERR no such key";
const BUSYGROUP: &str = "BUSYGROUP Consumer Group name already exists";
const XGROUP_NEEDS_KEY: &str = "ERR The XGROUP subcommand requires the key to exist. Note that \
                                for CREATE you may want to use the MKSTREAM option to create an \
                                empty stream automatically.";
const LIMIT_WITHOUT_TILDE: &str =
    "ERR syntax error, LIMIT cannot be used without the special ~ option";

/// Keys whose hash tags live on three different shards of a 3-shard ringbus
/// (checked by `hash_tags_are_on_distinct_shards`).
const S1: &str = "{from}s";
const S2: &str = "{to}s";
const S3: &str = "{in}s";

/// The words of a command line (for arguments without spaces).
fn w(line: &str) -> Vec<&str> {
    line.split(' ').collect()
}

/// One stream entry as XRANGE returns it: `[id, [field, value, ...]]`.
fn entry(id: &str, fields: &[&str]) -> Vec<u8> {
    array(&[bulk(id), bulks(fields)])
}

/// One stream of an XREAD / XREADGROUP reply (RESP2): `[key, [entries]]`.
fn stream(key: &str, entries: &[Vec<u8>]) -> Vec<u8> {
    array(&[bulk(key), array(entries)])
}

/// XADD with an explicit ID that must be accepted as is.
fn add(c: &mut RawConn, key: &str, id: &str, fields: &[&str]) {
    let mut args = vec!["XADD", key, id];
    args.extend_from_slice(fields);
    c.check(&args, &bulk(id));
}

/// A stream `key` with entries `1-0 .. n-0`, each `f <i>`.
fn fill(c: &mut RawConn, key: &str, n: u64) {
    for i in 1..=n {
        add(c, key, &format!("{i}-0"), &["f", &i.to_string()]);
    }
}

fn e(i: u64) -> Vec<u8> {
    entry(&format!("{i}-0"), &["f", &i.to_string()])
}

fn ids_of(reply: &Reply) -> Vec<String> {
    reply
        .as_array()
        .iter()
        .map(|r| r.as_array()[0].as_text())
        .collect()
}

fn xrange_ids(c: &mut RawConn, key: &str) -> Vec<String> {
    ids_of(&Reply::parse(&c.cmd(&["XRANGE", key, "-", "+"])))
}

fn parse_id(s: &str) -> (u64, u64) {
    let (ms, seq) = s.split_once('-').unwrap_or_else(|| panic!("bad id {s:?}"));
    (ms.parse().unwrap(), seq.parse().unwrap())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Look up a field of a map (RESP3) or flat key/value array (RESP2).
fn field(pairs: &[(String, Reply)], name: &str) -> Reply {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("no field {name:?} in {pairs:?}"))
        .1
        .clone()
}

fn keys_of(pairs: &[(String, Reply)]) -> Vec<&str> {
    pairs.iter().map(|(k, _)| k.as_str()).collect()
}

/// Idle times of entries delivered during the test: not negative and far
/// below a minute (a sanity range, not a speed check).
fn assert_recent(idle: i64) {
    assert!((0..60_000).contains(&idle), "idle {idle} out of range");
}

fn hash_tags_distinct() -> bool {
    let shards: BTreeSet<usize> = [S1, S2, S3]
        .iter()
        .map(|k| shard_of(k.as_bytes(), 3))
        .collect();
    shards.len() == 3
}

#[test]
fn hash_tags_are_on_distinct_shards() {
    assert!(hash_tags_distinct(), "{S1} {S2} {S3} must use three shards");
}

// ------------------------------------------------------------------- XADD

fn xadd_explicit_and_partial_ids(s: &Server) {
    let mut c = s.raw();
    add(&mut c, "s", "1-1", &["f1", "v1"]);
    add(&mut c, "s", "1-2", &["f1", "v2", "f2", "x"]);
    // A bare number is `<ms>-0`.
    c.check(&["XADD", "s", "2", "a", "b"], &bulk("2-0"));
    // `<ms>-*` takes the next sequence within that ms, or 0 for a new ms.
    c.check(&["XADD", "s", "2-*", "a", "b"], &bulk("2-1"));
    c.check(&["XADD", "s", "2-*", "a", "b"], &bulk("2-2"));
    c.check(&["XADD", "s", "3-*", "a", "b"], &bulk("3-0"));
    // Equal or smaller than the top item.
    for id in ["3-0", "2-5", "1", "2-*", "0-1"] {
        c.check(&["XADD", "s", id, "a", "b"], &err(ID_TOO_SMALL));
    }
    c.check(&["XADD", "s", "0-0", "a", "b"], &err(ID_ZERO));
    c.check(&["XADD", "s", "0", "a", "b"], &err(ID_ZERO));
    c.check(&["XADD", "new", "0-0", "a", "b"], &err(ID_ZERO));
    c.check(&["EXISTS", "new"], &int(0));
    // 0-* on an empty stream is 0-1, the smallest valid ID.
    c.check(&["XADD", "new", "0-*", "a", "b"], &bulk("0-1"));
    // The largest ID is accepted; nothing can follow it.
    let max = "18446744073709551615-18446744073709551615";
    add(&mut c, "big", max, &["f", "v"]);
    c.check(
        &["XADD", "big", "18446744073709551615-*", "f", "v"],
        &err("ERR The stream has exhausted the last possible ID, unable to add more items"),
    );
    c.check(
        &["XADD", "big", "*", "f", "v"],
        &err("ERR The stream has exhausted the last possible ID, unable to add more items"),
    );
    c.check(&["XLEN", "s"], &int(6));
    c.check(
        &["XRANGE", "s", "-", "+"],
        &array(&[
            entry("1-1", &["f1", "v1"]),
            entry("1-2", &["f1", "v2", "f2", "x"]),
            entry("2-0", &["a", "b"]),
            entry("2-1", &["a", "b"]),
            entry("2-2", &["a", "b"]),
            entry("3-0", &["a", "b"]),
        ]),
    );
    // Duplicate field names, empty and binary fields are stored as given.
    add(&mut c, "s", "4-0", &["f", "1", "f", "2", "", ""]);
    c.send(&encode(&[b"XADD", b"s", b"5-0", b"\x00\xff", b"a\r\nb"]));
    assert_eq!(c.read_reply(), bulk("5-0"));
    c.check(
        &["XRANGE", "s", "4", "4"],
        &array(&[entry("4-0", &["f", "1", "f", "2", "", ""])]),
    );
    let r = c.cmd(&["XRANGE", "s", "5", "5"]);
    assert_eq!(
        r,
        array(&[array(&[
            bulk("5-0"),
            array(&[bulk_bytes(b"\x00\xff"), bulk_bytes(b"a\r\nb")])
        ])])
    );
}

fn xadd_automatic_ids(s: &Server) {
    let mut c = s.raw();
    let before = now_ms() as u64;
    let mut last = (0, 0);
    for _ in 0..50 {
        let id = Reply::parse(&c.cmd(&["XADD", "auto", "*", "f", "v"])).as_text();
        let parsed = parse_id(&id);
        assert!(parsed > last, "{id} not after {last:?}");
        last = parsed;
    }
    let after = now_ms() as u64;
    // Wall-clock milliseconds (a minute of slack for clock adjustments).
    assert!(
        last.0 + 60_000 >= before && last.0 <= after + 60_000,
        "ms part {} not near {before}..{after}",
        last.0
    );
    c.check(&["XLEN", "auto"], &int(50));
    // After an explicit ID in the future, `*` continues from it.
    let future = "99999999999999-5";
    add(&mut c, "auto", future, &["f", "v"]);
    c.check(&["XADD", "auto", "*", "f", "v"], &bulk("99999999999999-6"));
    c.check(&["XADD", "auto", "*", "f", "v"], &bulk("99999999999999-7"));
    // `*` also works with options before it.
    let id = Reply::parse(&c.cmd(&["XADD", "auto2", "NOMKSTREAM", "*", "f", "v"]));
    assert_eq!(id, Reply::Null);
    let id = Reply::parse(&c.cmd(&["XADD", "auto2", "MAXLEN", "1", "*", "f", "v"])).as_text();
    assert!(parse_id(&id).0 > 0, "{id}");
    c.check(&["XLEN", "auto2"], &int(1));
}

fn xadd_invalid_ids_and_arity(s: &Server) {
    let mut c = s.raw();
    add(&mut c, "s", "5-0", &["f", "v"]);
    for bad in [
        "abc",
        "1-x",
        "-1",
        "1-1-1",
        "",
        "18446744073709551616-0",
        "1-18446744073709551616",
        "1.5",
        "0x10",
        "+",
        "-",
        "$",
        ">",
        "*-1",
    ] {
        c.check(&["XADD", "s", bad, "f", "v"], &err(INVALID_ID));
        c.check(&["XADD", "fresh", bad, "f", "v"], &err(INVALID_ID));
    }
    c.check(&["EXISTS", "fresh"], &int(0));
    // Both parts are parsed like strtoull: a leading space or `+` is accepted.
    c.check(&["XADD", "s", " 7", "f", "v"], &bulk("7-0"));
    c.check(&["XADD", "s", "+8", "f", "v"], &bulk("8-0"));
    c.check(&["XADD", "s", "9- 1", "f", "v"], &bulk("9-1"));
    c.check(&["XDEL", "s", "7-0", "8-0", "9-1"], &int(3));
    // Field/value pairs must be complete.
    for args in [
        &["XADD", "s"][..],
        &["XADD", "s", "9-0"],
        &["XADD", "s", "9-0", "f"],
        &["XADD", "s", "9-0", "f", "v", "g"],
        &["XADD", "s", "MAXLEN", "5", "9-0"],
        &["XADD"],
    ] {
        c.check(args, &arity("xadd"));
    }
    c.check(
        &["XRANGE", "s", "-", "+"],
        &array(&[entry("5-0", &["f", "v"])]),
    );
}

fn xadd_nomkstream(s: &Server) {
    let mut c = s.raw();
    c.check(&["XADD", "nokey", "NOMKSTREAM", "1-0", "f", "v"], &nil());
    c.check(&["EXISTS", "nokey"], &int(0));
    c.check(
        &["XADD", "nokey", "NOMKSTREAM", "MAXLEN", "5", "*", "f", "v"],
        &nil(),
    );
    c.check(&["EXISTS", "nokey"], &int(0));
    add(&mut c, "s", "1-0", &["f", "v"]);
    c.check(&["XADD", "s", "NOMKSTREAM", "2-0", "f", "v"], &bulk("2-0"));
    c.check(&["xadd", "s", "nomkstream", "3-0", "f", "v"], &bulk("3-0"));
    c.check(&["XLEN", "s"], &int(3));
    // An emptied stream still exists, so NOMKSTREAM adds to it.
    c.check(&["XTRIM", "s", "MAXLEN", "0"], &int(3));
    c.check(&["XADD", "s", "NOMKSTREAM", "4-0", "f", "v"], &bulk("4-0"));
    // The ID is parsed before the key is looked up.
    c.check(
        &["XADD", "nokey", "NOMKSTREAM", "bad", "f", "v"],
        &err(INVALID_ID),
    );
}

fn xadd_exact_trimming(s: &Server) {
    let mut c = s.raw();
    fill(&mut c, "t", 3);
    c.check(&["XADD", "t", "MAXLEN", "3", "4-0", "f", "4"], &bulk("4-0"));
    c.check(&["XRANGE", "t", "-", "+"], &array(&[e(2), e(3), e(4)]));
    c.check(
        &["XADD", "t", "MAXLEN", "=", "2", "5-0", "f", "5"],
        &bulk("5-0"),
    );
    c.check(&["XRANGE", "t", "-", "+"], &array(&[e(4), e(5)]));
    // MAXLEN 0 removes even the new entry; the stream stays, empty.
    c.check(&["XADD", "t", "MAXLEN", "0", "6-0", "f", "6"], &bulk("6-0"));
    c.check(&["XLEN", "t"], &int(0));
    c.check(&["EXISTS", "t"], &int(1));
    c.check(&["XADD", "t", "6-0", "f", "6"], &err(ID_TOO_SMALL));
    // MINID keeps entries >= the ID.
    add(&mut c, "t", "7-0", &["f", "7"]);
    add(&mut c, "t", "8-0", &["f", "8"]);
    c.check(&["XADD", "t", "MINID", "8", "9-0", "f", "9"], &bulk("9-0"));
    c.check(&["XRANGE", "t", "-", "+"], &array(&[e(8), e(9)]));
    c.check(
        &["XADD", "t", "MINID", "=", "9-0", "10-0", "f", "10"],
        &bulk("10-0"),
    );
    c.check(&["XRANGE", "t", "-", "+"], &array(&[e(9), e(10)]));
    c.check(
        &["XADD", "t", "MINID", "100", "11-0", "f", "11"],
        &bulk("11-0"),
    );
    c.check(&["XLEN", "t"], &int(0));
    // Option errors.
    c.check(
        &["XADD", "t", "MAXLEN", "2", "LIMIT", "10", "12-0", "f", "v"],
        &err(LIMIT_WITHOUT_TILDE),
    );
    c.check(
        &["XADD", "t", "MAXLEN", "-1", "12-0", "f", "v"],
        &err("ERR The MAXLEN argument must be >= 0."),
    );
    c.check(
        &["XADD", "t", "MAXLEN", "x", "12-0", "f", "v"],
        &err(NOT_INT),
    );
    c.check(
        &w("XADD t MAXLEN ~ 2 LIMIT -1 12-0 f v"),
        &err("ERR The LIMIT argument must be >= 0."),
    );
    c.check(
        &["XADD", "t", "MINID", "abc", "12-0", "f", "v"],
        &err(INVALID_ID),
    );
    c.check(
        &["XADD", "t", "MAXLEN", "1", "MINID", "1", "12-0", "f", "v"],
        &err("ERR syntax error, MAXLEN and MINID options at the same time are not compatible"),
    );
    c.check(
        &["XADD", "t", "LIMIT", "5", "12-0", "f", "v"],
        &err("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"),
    );
    c.check(&["XLEN", "t"], &int(0));
    c.check(&["XADD", "t", "12-0", "f", "v"], &bulk("12-0"));
}

/// Approximate trimming only removes whole storage nodes of 100 entries
/// (Redis' default `stream-node-max-entries`), so the result is exact.
fn approximate_trimming_removes_whole_nodes(s: &Server) {
    let mut c = s.raw();
    fill(&mut c, "t", 250);
    // 250 entries in nodes of 100, 100, 50: `~ 120` drops only the first.
    c.check(&["XTRIM", "t", "MAXLEN", "~", "120"], &int(100));
    c.check(&["XLEN", "t"], &int(150));
    c.check(&["XRANGE", "t", "-", "+", "COUNT", "1"], &array(&[e(101)]));
    // Not a whole node above the threshold: nothing happens.
    c.check(&["XTRIM", "t", "MAXLEN", "~", "100"], &int(0));
    c.check(&["XTRIM", "t", "MAXLEN", "~", "51"], &int(0));
    c.check(&["XTRIM", "t", "MAXLEN", "~", "50"], &int(100));
    c.check(&["XLEN", "t"], &int(50));
    // MINID ~ also works node by node.
    fill_from(&mut c, "m", 1, 300);
    c.check(&["XTRIM", "m", "MINID", "~", "150"], &int(100));
    c.check(&["XTRIM", "m", "MINID", "~", "201"], &int(100));
    c.check(&["XTRIM", "m", "MINID", "~", "250"], &int(0));
    c.check(&["XLEN", "m"], &int(100));
    // LIMIT caps the number of entries removed (whole nodes only): a limit
    // below one node's size removes nothing.
    fill_from(&mut c, "l", 1, 300);
    c.check(&["XTRIM", "l", "MAXLEN", "~", "0", "LIMIT", "99"], &int(0));
    c.check(
        &["XTRIM", "l", "MAXLEN", "~", "0", "LIMIT", "150"],
        &int(100),
    );
    // LIMIT 0 means no limit.
    c.check(&["XTRIM", "l", "MAXLEN", "~", "0", "LIMIT", "0"], &int(200));
    c.check(&["XLEN", "l"], &int(0));
    // XADD with `~` trims after adding.
    fill_from(&mut c, "x", 1, 200);
    c.check(
        &["XADD", "x", "MAXLEN", "~", "10", "201-0", "f", "201"],
        &bulk("201-0"),
    );
    c.check(&["XLEN", "x"], &int(101));
    c.check(&["XRANGE", "x", "-", "+", "COUNT", "1"], &array(&[e(101)]));
    // An exact trim removes entry by entry.
    c.check(&["XTRIM", "x", "MAXLEN", "=", "7"], &int(94));
    c.check(&["XRANGE", "x", "-", "+", "COUNT", "1"], &array(&[e(195)]));
}

fn fill_from(c: &mut RawConn, key: &str, from: u64, to: u64) {
    // Pipelined: one write, then all the replies.
    let mut req = Vec::new();
    for i in from..=to {
        req.extend(encode_str(&[
            "XADD",
            key,
            &format!("{i}-0"),
            "f",
            &i.to_string(),
        ]));
    }
    c.send(&req);
    for i in from..=to {
        assert_eq!(c.read_reply(), bulk(&format!("{i}-0")));
    }
}

fn type_encoding_and_key_commands(s: &Server) {
    let mut c = s.raw();
    add(&mut c, "s", "1-0", &["f", "v"]);
    c.check(&["TYPE", "s"], &simple("stream"));
    c.check(&["OBJECT", "ENCODING", "s"], &bulk("stream"));
    c.check(&["EXISTS", "s"], &int(1));
    c.check(&["XLEN", "nokey"], &int(0));
    c.check(&["XLEN", "s"], &int(1));
    // A group survives RENAME; DEL removes everything.
    c.check(&["XGROUP", "CREATE", "s", "g", "0"], &ok());
    c.check(&["RENAME", "s", "t"], &ok());
    c.check(&["XLEN", "t"], &int(1));
    c.check(
        &["XRANGE", "t", "-", "+"],
        &array(&[entry("1-0", &["f", "v"])]),
    );
    c.check(&["XGROUP", "CREATE", "t", "g", "0"], &err(BUSYGROUP));
    c.check(&["EXISTS", "s"], &int(0));
    c.check(&["DEL", "t"], &int(1));
    c.check(&["TYPE", "t"], &simple("none"));
    c.check(&["XLEN", "t"], &int(0));
    // A new stream of the same name starts from scratch.
    add(&mut c, "t", "1-0", &["f", "v"]);
    c.check(&["XGROUP", "CREATE", "t", "g", "0"], &ok());
    // An empty stream (MKSTREAM) is a stream too.
    c.check(&["XGROUP", "CREATE", "e", "g", "$", "MKSTREAM"], &ok());
    c.check(&["TYPE", "e"], &simple("stream"));
    c.check(&["OBJECT", "ENCODING", "e"], &bulk("stream"));
    c.check(&["XLEN", "e"], &int(0));
}

// --------------------------------------------------------- XRANGE / XREVRANGE

fn five(c: &mut RawConn) {
    add(c, "r", "1-0", &["a", "1"]);
    add(c, "r", "2-0", &["a", "2"]);
    add(c, "r", "2-1", &["a", "3"]);
    add(c, "r", "3-0", &["a", "4"]);
    add(c, "r", "5-5", &["a", "5"]);
}

fn r(id: &str) -> Vec<u8> {
    let v = match id {
        "1-0" => "1",
        "2-0" => "2",
        "2-1" => "3",
        "3-0" => "4",
        "5-5" => "5",
        other => panic!("no entry {other}"),
    };
    entry(id, &["a", v])
}

fn rs(ids: &[&str]) -> Vec<u8> {
    array(&ids.iter().map(|i| r(i)).collect::<Vec<_>>())
}

fn xrange_bounds(s: &Server) {
    let mut c = s.raw();
    five(&mut c);
    let all = ["1-0", "2-0", "2-1", "3-0", "5-5"];
    c.check(&["XRANGE", "r", "-", "+"], &rs(&all));
    c.check(&["XRANGE", "r", "0", "18446744073709551615"], &rs(&all));
    c.check(
        &w("XRANGE r 0-0 18446744073709551615-18446744073709551615"),
        &rs(&all),
    );
    // An incomplete start is <ms>-0, an incomplete end <ms>-<max>.
    c.check(&["XRANGE", "r", "2", "2"], &rs(&["2-0", "2-1"]));
    c.check(&["XRANGE", "r", "2-0", "2-0"], &rs(&["2-0"]));
    c.check(&["XRANGE", "r", "2", "3"], &rs(&["2-0", "2-1", "3-0"]));
    c.check(&["XRANGE", "r", "4", "5"], &rs(&["5-5"]));
    c.check(&["XRANGE", "r", "5-6", "+"], &rs(&[]));
    // Exclusive bounds.
    c.check(&["XRANGE", "r", "(2-0", "+"], &rs(&["2-1", "3-0", "5-5"]));
    c.check(&["XRANGE", "r", "-", "(3-0"], &rs(&["1-0", "2-0", "2-1"]));
    c.check(&["XRANGE", "r", "(1", "(5-5"], &rs(&["2-0", "2-1", "3-0"]));
    c.check(&["XRANGE", "r", "(2-1", "(3"], &rs(&["3-0"]));
    c.check(&["XRANGE", "r", "(0-0", "+"], &rs(&all));
    c.check(&["XRANGE", "r", "(2-0", "(2-1"], &rs(&[]));
    // Empty and reversed ranges.
    c.check(&["XRANGE", "r", "3", "2"], &rs(&[]));
    c.check(&["XRANGE", "nokey", "-", "+"], &rs(&[]));
    // Exclusive bounds that cannot be incremented.
    c.check(
        &w("XRANGE r (18446744073709551615-18446744073709551615 +"),
        &err("ERR invalid start ID for the interval"),
    );
    c.check(
        &["XRANGE", "r", "-", "(0-0"],
        &err("ERR invalid end ID for the interval"),
    );
    c.check(&["XRANGE", "r", "(-", "+"], &err(INVALID_ID));
    c.check(&["XRANGE", "r", "-", "(+"], &err(INVALID_ID));
}

fn xrevrange_bounds(s: &Server) {
    let mut c = s.raw();
    five(&mut c);
    c.check(
        &["XREVRANGE", "r", "+", "-"],
        &rs(&["5-5", "3-0", "2-1", "2-0", "1-0"]),
    );
    // End first, then start.
    c.check(&["XREVRANGE", "r", "3", "2"], &rs(&["3-0", "2-1", "2-0"]));
    c.check(&["XREVRANGE", "r", "2", "3"], &rs(&[]));
    c.check(
        &["XREVRANGE", "r", "(5-5", "(1-0"],
        &rs(&["3-0", "2-1", "2-0"]),
    );
    c.check(
        &["XREVRANGE", "r", "+", "-", "COUNT", "2"],
        &rs(&["5-5", "3-0"]),
    );
    c.check(&["XREVRANGE", "r", "2", "-"], &rs(&["2-1", "2-0", "1-0"]));
    c.check(&["XREVRANGE", "nokey", "+", "-"], &rs(&[]));
    c.check(&["XREVRANGE", "r", "+", "-", "COUNT", "0"], &nil_array());
    c.check(
        &["XREVRANGE", "r", "(0-0", "-"],
        &err("ERR invalid end ID for the interval"),
    );
}

fn xrange_count_and_errors(s: &Server) {
    let mut c = s.raw();
    five(&mut c);
    c.check(
        &["XRANGE", "r", "-", "+", "COUNT", "2"],
        &rs(&["1-0", "2-0"]),
    );
    c.check(&["XRANGE", "r", "-", "+", "count", "1"], &rs(&["1-0"]));
    c.check(
        &["XRANGE", "r", "(2-0", "+", "COUNT", "2"],
        &rs(&["2-1", "3-0"]),
    );
    c.check(
        &["XRANGE", "r", "-", "+", "COUNT", "100"],
        &rs(&["1-0", "2-0", "2-1", "3-0", "5-5"]),
    );
    // COUNT 0 (or negative) is a null array, not an empty one.
    c.check(&["XRANGE", "r", "-", "+", "COUNT", "0"], &nil_array());
    c.check(&["XRANGE", "r", "-", "+", "COUNT", "-3"], &nil_array());
    // The last COUNT wins.
    c.check(
        &["XRANGE", "r", "-", "+", "COUNT", "1", "COUNT", "2"],
        &rs(&["1-0", "2-0"]),
    );
    c.check(&["XRANGE", "r", "-", "+", "COUNT"], &err(SYNTAX));
    c.check(&["XRANGE", "r", "-", "+", "COUNT", "x"], &err(NOT_INT));
    c.check(&["XRANGE", "r", "-", "+", "LIMIT", "1"], &err(SYNTAX));
    for bad in ["x", "1-x", "", "-1", "1-"] {
        c.check(&["XRANGE", "r", bad, "+"], &err(INVALID_ID));
        c.check(&["XRANGE", "r", "-", bad], &err(INVALID_ID));
        c.check(&["XREVRANGE", "r", bad, "-"], &err(INVALID_ID));
    }
    c.check(&["XRANGE", "r", "-"], &arity("xrange"));
    c.check(&["XREVRANGE", "r", "+"], &arity("xrevrange"));
}

// ------------------------------------------------------------ XDEL / XTRIM

fn xdel(s: &Server) {
    let mut c = s.raw();
    five(&mut c);
    c.check(&["XDEL", "r", "2-0", "2-1", "9-9"], &int(2));
    c.check(&["XDEL", "r", "2-0"], &int(0));
    // The same ID twice counts once.
    c.check(&["XDEL", "r", "1-0", "1-0"], &int(1));
    assert_eq!(xrange_ids(&mut c, "r"), ["3-0", "5-5"]);
    c.check(&["XLEN", "r"], &int(2));
    // One bad ID and nothing is deleted.
    c.check(&["XDEL", "r", "3-0", "x"], &err(INVALID_ID));
    c.check(&["XLEN", "r"], &int(2));
    c.check(&["XDEL", "nokey", "1-0"], &int(0));
    // An incomplete ID is <ms>-0.
    c.check(&["XDEL", "r", "3", "5"], &int(1));
    c.check(&["XDEL", "r", "5-5"], &int(1));
    // The emptied stream still exists and keeps its last ID.
    c.check(&["XLEN", "r"], &int(0));
    c.check(&["EXISTS", "r"], &int(1));
    c.check(&["TYPE", "r"], &simple("stream"));
    c.check(&["XADD", "r", "5-5", "a", "5"], &err(ID_TOO_SMALL));
    c.check(&["XADD", "r", "5-*", "a", "5"], &bulk("5-6"));
    c.check(&["XDEL", "r"], &arity("xdel"));
}

fn xtrim(s: &Server) {
    let mut c = s.raw();
    fill(&mut c, "t", 5);
    c.check(&["XTRIM", "t", "MAXLEN", "4"], &int(1));
    c.check(&["XTRIM", "t", "MAXLEN", "=", "4"], &int(0));
    // Approximate trimming of a single small node does nothing.
    c.check(&["XTRIM", "t", "MAXLEN", "~", "1"], &int(0));
    c.check(&["XTRIM", "t", "MINID", "3"], &int(1));
    c.check(&["XRANGE", "t", "-", "+"], &array(&[e(3), e(4), e(5)]));
    c.check(&["XTRIM", "t", "MINID", "=", "4-0"], &int(1));
    c.check(&["XTRIM", "t", "MINID", "~", "5"], &int(0));
    c.check(&["XTRIM", "t", "MAXLEN", "10"], &int(0));
    c.check(&["xtrim", "t", "maxlen", "0"], &int(2));
    c.check(&["XLEN", "t"], &int(0));
    c.check(&["EXISTS", "t"], &int(1));
    c.check(&["XTRIM", "nokey", "MAXLEN", "0"], &int(0));
    c.check(&["EXISTS", "nokey"], &int(0));
    // Errors.
    c.check(&["XTRIM", "t", "FOO", "1"], &err(SYNTAX));
    c.check(
        &["XTRIM", "t", "MAXLEN", "-1"],
        &err("ERR The MAXLEN argument must be >= 0."),
    );
    c.check(&["XTRIM", "t", "MAXLEN", "x"], &err(NOT_INT));
    c.check(&["XTRIM", "t", "MINID", "x"], &err(INVALID_ID));
    c.check(
        &["XTRIM", "t", "MAXLEN", "1", "LIMIT", "1"],
        &err(LIMIT_WITHOUT_TILDE),
    );
    c.check(
        &["XTRIM", "t", "MAXLEN", "=", "1", "LIMIT", "1"],
        &err(LIMIT_WITHOUT_TILDE),
    );
    c.check(
        &["XTRIM", "t", "MAXLEN", "~", "1", "LIMIT", "x"],
        &err(NOT_INT),
    );
    c.check(
        &["XTRIM", "t", "MAXLEN", "~", "1", "LIMIT", "-1"],
        &err("ERR The LIMIT argument must be >= 0."),
    );
    c.check(
        &["XTRIM", "t", "MAXLEN", "1", "MINID", "1"],
        &err("ERR syntax error, MAXLEN and MINID options at the same time are not compatible"),
    );
    c.check(&["XTRIM", "t"], &arity("xtrim"));
    c.check(&["XTRIM", "t", "MAXLEN"], &arity("xtrim"));
}

// ----------------------------------------------------------------- XSETID

fn xsetid(s: &Server) {
    let mut c = s.raw();
    add(&mut c, "s", "5-0", &["f", "v"]);
    c.check(&["XSETID", "s", "10-0"], &ok());
    c.check(&["XADD", "s", "10-0", "f", "v"], &err(ID_TOO_SMALL));
    c.check(&["XADD", "s", "10-*", "f", "v"], &bulk("10-1"));
    c.check(
        &["XSETID", "s", "1-0"],
        &err("ERR The ID specified in XSETID is smaller than the target stream top item"),
    );
    // Setting the current top item is allowed.
    c.check(&["XSETID", "s", "10-1"], &ok());
    c.check(&w("XSETID s 20 ENTRIESADDED 5 MAXDELETEDID 15-0"), &ok());
    let info = Reply::parse(&c.cmd(&["XINFO", "STREAM", "s"])).as_pairs();
    assert_eq!(
        field(&info, "last-generated-id"),
        Reply::Bulk(b"20-0".to_vec())
    );
    assert_eq!(field(&info, "entries-added"), Reply::Int(5));
    assert_eq!(
        field(&info, "max-deleted-entry-id"),
        Reply::Bulk(b"15-0".to_vec())
    );
    c.check(
        &["XSETID", "s", "30", "ENTRIESADDED", "1"],
        &err("ERR The entries_added specified in XSETID is smaller than the target stream length"),
    );
    c.check(
        &["XSETID", "s", "30", "MAXDELETEDID", "40"],
        &err("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"),
    );
    c.check(
        &["XSETID", "s", "30", "ENTRIESADDED", "-1"],
        &err("ERR entries_added must be positive"),
    );
    c.check(&["XSETID", "s", "30", "ENTRIESADDED", "x"], &err(NOT_INT));
    c.check(
        &["XSETID", "s", "30", "MAXDELETEDID", "x"],
        &err(INVALID_ID),
    );
    c.check(&["XSETID", "s", "x"], &err(INVALID_ID));
    c.check(&["XSETID", "s", "30", "FOO"], &err(SYNTAX));
    c.check(&["XSETID", "s", "30", "ENTRIESADDED"], &err(SYNTAX));
    c.check(&["XSETID", "nokey", "1-0"], &err(NO_SUCH_KEY));
    c.check(&["XSETID", "s"], &arity("xsetid"));
    // None of the failed calls changed the stream.
    c.check(&["XADD", "s", "20-0", "f", "v"], &err(ID_TOO_SMALL));
    c.check(&["XADD", "s", "20-*", "f", "v"], &bulk("20-1"));
    c.check(
        &["XRANGE", "s", "-", "+"],
        &array(&[
            entry("5-0", &["f", "v"]),
            entry("10-1", &["f", "v"]),
            entry("20-1", &["f", "v"]),
        ]),
    );
    // On an emptied stream the ID may go down, but (since Redis 7.2) not
    // below the greatest deleted ID; 7.0 let it go down to 0-0.
    add(&mut c, "e", "1-0", &["f", "v"]);
    c.check(&["XDEL", "e", "1-0"], &int(1));
    if is_72(&mut c) {
        c.check(
            &["XSETID", "e", "0-0"],
            &err("ERR The ID specified in XSETID is smaller than current max_deleted_entry_id"),
        );
        c.check(&["XSETID", "e", "1-0"], &ok());
        c.check(&["XADD", "e", "1-*", "f", "v"], &bulk("1-1"));
    } else {
        c.check(&["XSETID", "e", "0-0"], &ok());
        c.check(&["XADD", "e", "0-*", "f", "v"], &bulk("0-1"));
    }
}

// ------------------------------------------------------------------ XREAD

fn xread(s: &Server) {
    let mut c = s.raw();
    add(&mut c, "a", "1-0", &["k", "a1"]);
    add(&mut c, "a", "2-0", &["k", "a2"]);
    let a1 = || entry("1-0", &["k", "a1"]);
    let a2 = || entry("2-0", &["k", "a2"]);
    c.check(
        &["XREAD", "STREAMS", "a", "0"],
        &array(&[stream("a", &[a1(), a2()])]),
    );
    // The ID is exclusive; an incomplete ID is <ms>-0.
    c.check(
        &["XREAD", "STREAMS", "a", "1"],
        &array(&[stream("a", &[a2()])]),
    );
    c.check(
        &["XREAD", "STREAMS", "a", "1-1"],
        &array(&[stream("a", &[a2()])]),
    );
    c.check(&["XREAD", "STREAMS", "a", "2"], &nil_array());
    c.check(
        &["XREAD", "COUNT", "1", "STREAMS", "a", "0"],
        &array(&[stream("a", &[a1()])]),
    );
    // COUNT 0 or negative means no limit.
    c.check(
        &["XREAD", "COUNT", "0", "STREAMS", "a", "0"],
        &array(&[stream("a", &[a1(), a2()])]),
    );
    c.check(
        &["XREAD", "COUNT", "-5", "STREAMS", "a", "0"],
        &array(&[stream("a", &[a1(), a2()])]),
    );
    // `$` without BLOCK never returns anything.
    c.check(&["XREAD", "STREAMS", "a", "$"], &nil_array());
    c.check(&["XREAD", "STREAMS", "nokey", "$"], &nil_array());
    c.check(&["XREAD", "STREAMS", "nokey", "0"], &nil_array());
    // Lower-case keywords; the key named like a keyword is just a key.
    add(&mut c, "streams", "1-0", &["k", "v"]);
    c.check(
        &["xread", "count", "1", "streams", "streams", "0"],
        &array(&[stream("streams", &[entry("1-0", &["k", "v"])])]),
    );
    // BLOCK 0 is not used here: without data it would block.
    c.check(
        &["XREAD", "BLOCK", "10", "STREAMS", "a", "0"],
        &array(&[stream("a", &[a1(), a2()])]),
    );
}

fn xread_across_shards(s: &Server) {
    let mut c = s.raw();
    add(&mut c, S1, "1-0", &["k", "a1"]);
    add(&mut c, S1, "2-0", &["k", "a2"]);
    add(&mut c, S2, "1-5", &["k", "b1"]);
    add(&mut c, S3, "3-0", &["k", "c1"]);
    let a1 = || entry("1-0", &["k", "a1"]);
    let a2 = || entry("2-0", &["k", "a2"]);
    let b1 = || entry("1-5", &["k", "b1"]);
    let c1 = || entry("3-0", &["k", "c1"]);
    // Streams come back in the order asked, each with its own ID.
    c.check(
        &["XREAD", "STREAMS", S1, S2, S3, "0", "0", "0"],
        &array(&[
            stream(S1, &[a1(), a2()]),
            stream(S2, &[b1()]),
            stream(S3, &[c1()]),
        ]),
    );
    c.check(
        &["XREAD", "STREAMS", S3, S1, S2, "0", "0", "0"],
        &array(&[
            stream(S3, &[c1()]),
            stream(S1, &[a1(), a2()]),
            stream(S2, &[b1()]),
        ]),
    );
    // COUNT applies per stream; streams with nothing new are left out.
    c.check(
        &[
            "XREAD", "COUNT", "1", "STREAMS", S1, S2, S3, "0", "1-5", "0",
        ],
        &array(&[stream(S1, &[a1()]), stream(S3, &[c1()])]),
    );
    c.check(
        &["XREAD", "STREAMS", S1, "{out}none", S3, "1-0", "0", "0"],
        &array(&[stream(S1, &[a2()]), stream(S3, &[c1()])]),
    );
    c.check(
        &["XREAD", "STREAMS", S1, S2, S3, "9", "9", "9"],
        &nil_array(),
    );
    c.check(
        &["XREAD", "STREAMS", S1, S2, S3, "$", "0", "$"],
        &array(&[stream(S2, &[b1()])]),
    );
    // The same stream twice is read twice.
    c.check(
        &["XREAD", "STREAMS", S1, S1, "1", "0"],
        &array(&[stream(S1, &[a2()]), stream(S1, &[a1(), a2()])]),
    );
    // A wrong type anywhere fails the whole command.
    c.check(&["SET", "{to}str", "x"], &ok());
    c.check(
        &["XREAD", "STREAMS", S1, "{to}str", "0", "0"],
        &err(WRONGTYPE),
    );
}

fn xread_errors(s: &Server) {
    let mut c = s.raw();
    add(&mut c, "a", "1-0", &["k", "v"]);
    c.check(
        &["XREAD", "STREAMS", "a", "b", "0"],
        &err("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified."),
    );
    // `+`, `-`, exclusive and malformed IDs are not valid here (Redis 7.4
    // added `+`; 7.2 rejects it).
    for bad in ["+", "-", "(1", "x", "1-", "1-x", ""] {
        c.check(&["XREAD", "STREAMS", "a", bad], &err(INVALID_ID));
    }
    c.check(
        &["XREAD", "STREAMS", "a", ">"],
        &err(
            "ERR The > ID can be specified only when calling XREADGROUP using the GROUP \
             <group> <consumer> option.",
        ),
    );
    c.check(&["XREAD", "COUNT", "x", "STREAMS", "a", "0"], &err(NOT_INT));
    c.check(
        &["XREAD", "BLOCK", "x", "STREAMS", "a", "0"],
        &err("ERR timeout is not an integer or out of range"),
    );
    c.check(
        &["XREAD", "BLOCK", "-1", "STREAMS", "a", "0"],
        &err("ERR timeout is negative"),
    );
    c.check(&["XREAD", "FOO", "1", "STREAMS", "a", "0"], &err(SYNTAX));
    c.check(
        &["XREAD", "NOACK", "STREAMS", "a", "0"],
        &err("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead."),
    );
    // Options after STREAMS are keys and IDs.
    c.check(
        &["XREAD", "STREAMS", "a", "0", "COUNT", "1"],
        &err(INVALID_ID),
    );
    c.check(&["XREAD", "STREAMS", "a", "0", "1"], &err(
        "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
    ));
    for args in [
        &["XREAD"][..],
        &["XREAD", "STREAMS"],
        &["XREAD", "STREAMS", "a"],
        &["XREAD", "a", "0"],
        &["XREAD", "COUNT", "1"],
    ] {
        c.check(args, &arity("xread"));
    }
}

// ----------------------------------------------------------------- XGROUP

fn group_info(c: &mut RawConn, key: &str) -> Vec<Vec<(String, Reply)>> {
    Reply::parse(&c.cmd(&["XINFO", "GROUPS", key]))
        .as_array()
        .iter()
        .map(|g| g.as_pairs())
        .collect()
}

fn group_named(c: &mut RawConn, key: &str, name: &str) -> Vec<(String, Reply)> {
    group_info(c, key)
        .into_iter()
        .find(|g| field(g, "name").as_text() == name)
        .unwrap_or_else(|| panic!("no group {name} on {key}"))
}

fn xgroup_create_setid_destroy(s: &Server) {
    let mut c = s.raw();
    fill(&mut c, "g", 3);
    c.check(&["XGROUP", "CREATE", "g", "grp", "0"], &ok());
    c.check(&["XGROUP", "CREATE", "g", "grp", "0"], &err(BUSYGROUP));
    c.check(&["XGROUP", "CREATE", "g", "grp", "$"], &err(BUSYGROUP));
    c.check(&["XGROUP", "CREATE", "g", "late", "$"], &ok());
    c.check(&["XGROUP", "CREATE", "g", "mid", "2"], &ok());
    c.check(
        &["XGROUP", "CREATE", "g", "er", "0", "ENTRIESREAD", "1"],
        &ok(),
    );
    c.check(&["XGROUP", "CREATE", "g", "bad", "x"], &err(INVALID_ID));
    c.check(
        &["XGROUP", "CREATE", "g", "bad", "0", "ENTRIESREAD", "-5"],
        &err("ERR value for ENTRIESREAD must be positive or -1"),
    );
    c.check(
        &["XGROUP", "CREATE", "g", "bad", "0", "ENTRIESREAD", "x"],
        &err(NOT_INT),
    );
    c.check(
        &["XGROUP", "CREATE", "g", "bad", "0", "FOO"],
        &err("ERR unknown subcommand or wrong number of arguments for 'CREATE'. Try XGROUP HELP."),
    );
    c.check(
        &["XGROUP", "CREATE", "nokey", "grp", "0"],
        &err(XGROUP_NEEDS_KEY),
    );
    c.check(&["EXISTS", "nokey"], &int(0));
    c.check(&["XGROUP", "CREATE", "mk", "grp", "$", "MKSTREAM"], &ok());
    c.check(&["XLEN", "mk"], &int(0));
    c.check(
        &["XGROUP", "CREATE", "mk", "grp", "$", "MKSTREAM"],
        &err(BUSYGROUP),
    );
    // Groups are listed by name with their last delivered IDs.
    let names: Vec<(String, String)> = group_info(&mut c, "g")
        .iter()
        .map(|g| {
            (
                field(g, "name").as_text(),
                field(g, "last-delivered-id").as_text(),
            )
        })
        .collect();
    let want = [
        ("er", "0-0"),
        ("grp", "0-0"),
        ("late", "3-0"),
        ("mid", "2-0"),
    ];
    assert_eq!(
        names,
        want.map(|(a, b)| (a.to_string(), b.to_string())).to_vec()
    );
    // SETID moves the group; `$` is the stream's last ID.
    c.check(&["XGROUP", "SETID", "g", "mid", "1-0"], &ok());
    assert_eq!(
        field(&group_named(&mut c, "g", "mid"), "last-delivered-id"),
        Reply::Bulk(b"1-0".to_vec())
    );
    c.check(
        &["XGROUP", "SETID", "g", "mid", "$", "ENTRIESREAD", "3"],
        &ok(),
    );
    let mid = group_named(&mut c, "g", "mid");
    assert_eq!(
        field(&mid, "last-delivered-id"),
        Reply::Bulk(b"3-0".to_vec())
    );
    assert_eq!(field(&mid, "entries-read"), Reply::Int(3));
    assert_eq!(field(&mid, "lag"), Reply::Int(0));
    c.check(
        &["XGROUP", "SETID", "g", "nogrp", "0"],
        &err("NOGROUP No such consumer group 'nogrp' for key name 'g'"),
    );
    c.check(&["XGROUP", "SETID", "g", "mid", "x"], &err(INVALID_ID));
    c.check(
        &["XGROUP", "SETID", "g", "mid", "0", "ENTRIESREAD", "x"],
        &err(NOT_INT),
    );
    c.check(
        &["XGROUP", "SETID", "g", "mid", "0", "FOO", "1"],
        &err("ERR unknown subcommand or wrong number of arguments for 'SETID'. Try XGROUP HELP."),
    );
    c.check(
        &["XGROUP", "SETID", "nokey", "mid", "0"],
        &err(XGROUP_NEEDS_KEY),
    );
    // DESTROY says whether the group existed.
    c.check(&["XGROUP", "DESTROY", "g", "late"], &int(1));
    c.check(&["XGROUP", "DESTROY", "g", "late"], &int(0));
    c.check(
        &["XGROUP", "DESTROY", "nokey", "late"],
        &err(XGROUP_NEEDS_KEY),
    );
    c.check(
        &["XREADGROUP", "GROUP", "late", "c", "STREAMS", "g", ">"],
        &err("NOGROUP No such key 'g' or consumer group 'late' in XREADGROUP with GROUP option"),
    );
    assert_eq!(group_info(&mut c, "g").len(), 3);
    c.check(
        &["XGROUP", "FOO", "g"],
        &err("ERR unknown subcommand 'FOO'. Try XGROUP HELP."),
    );
}

fn xgroup_consumers(s: &Server) {
    let mut c = s.raw();
    fill(&mut c, "g", 3);
    c.check(&["XGROUP", "CREATE", "g", "grp", "0"], &ok());
    c.check(&["XGROUP", "CREATECONSUMER", "g", "grp", "alice"], &int(1));
    c.check(&["XGROUP", "CREATECONSUMER", "g", "grp", "alice"], &int(0));
    c.check(
        &["XGROUP", "CREATECONSUMER", "g", "nogrp", "alice"],
        &err("NOGROUP No such consumer group 'nogrp' for key name 'g'"),
    );
    c.check(
        &["XGROUP", "CREATECONSUMER", "nokey", "grp", "alice"],
        &err(XGROUP_NEEDS_KEY),
    );
    assert_eq!(
        field(&group_named(&mut c, "g", "grp"), "consumers"),
        Reply::Int(1)
    );
    // DELCONSUMER returns how many pending entries the consumer had, and
    // those leave the group's PEL.
    c.check(
        &w("XREADGROUP GROUP grp bob COUNT 2 STREAMS g >"),
        &array(&[stream("g", &[e(1), e(2)])]),
    );
    c.check(&["XGROUP", "DELCONSUMER", "g", "grp", "bob"], &int(2));
    c.check(&["XGROUP", "DELCONSUMER", "g", "grp", "bob"], &int(0));
    c.check(&["XGROUP", "DELCONSUMER", "g", "grp", "alice"], &int(0));
    c.check(
        &["XGROUP", "DELCONSUMER", "g", "nogrp", "alice"],
        &err("NOGROUP No such consumer group 'nogrp' for key name 'g'"),
    );
    c.check(&["XPENDING", "g", "grp"], &no_pending());
    let grp = group_named(&mut c, "g", "grp");
    assert_eq!(field(&grp, "consumers"), Reply::Int(0));
    assert_eq!(field(&grp, "pending"), Reply::Int(0));
    // The delivered entries are not delivered again.
    c.check(
        &["XREADGROUP", "GROUP", "grp", "carol", "STREAMS", "g", ">"],
        &array(&[stream("g", &[e(3)])]),
    );
}

fn help_texts(s: &Server) {
    let mut c = s.raw();
    let xgroup = [
        "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        "HELP",
        "    Prints this help.",
    ];
    let want = array(&xgroup.iter().map(|l| simple(l)).collect::<Vec<_>>());
    c.check(&["XGROUP", "HELP"], &want);
    c.check(&["xgroup", "help"], &want);
    let xinfo = [
        "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        "HELP",
        "    Prints this help.",
    ];
    let want = array(&xinfo.iter().map(|l| simple(l)).collect::<Vec<_>>());
    c.check(&["XINFO", "HELP"], &want);
    c.check(&["xinfo", "Help"], &want);
    c.check(&["XGROUP", "HELP", "x"], &arity("xgroup|help"));
    c.check(&["XINFO", "HELP", "x"], &arity("xinfo|help"));
    c.check(
        &["XINFO", "FOO"],
        &err("ERR unknown subcommand 'FOO'. Try XINFO HELP."),
    );
}

// ------------------------------------------------------------- XREADGROUP

fn xreadgroup_new_entries_and_history(s: &Server) {
    let mut c = s.raw();
    fill(&mut c, "q", 4);
    c.check(&["XGROUP", "CREATE", "q", "g", "0"], &ok());
    c.check(
        &w("XREADGROUP GROUP g alice COUNT 2 STREAMS q >"),
        &array(&[stream("q", &[e(1), e(2)])]),
    );
    c.check(
        &w("XREADGROUP GROUP g bob COUNT 1 STREAMS q >"),
        &array(&[stream("q", &[e(3)])]),
    );
    // An explicit ID reads the consumer's own pending entries after it.
    c.check(
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "q", "0"],
        &array(&[stream("q", &[e(1), e(2)])]),
    );
    c.check(
        &w("XREADGROUP GROUP g alice COUNT 1 STREAMS q 1-0"),
        &array(&[stream("q", &[e(2)])]),
    );
    c.check(
        &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "q", "0"],
        &array(&[stream("q", &[e(3)])]),
    );
    // No history: an empty list for the stream, not a null.
    c.check(
        &["XREADGROUP", "GROUP", "g", "carol", "STREAMS", "q", "0"],
        &array(&[stream("q", &[])]),
    );
    // Reading history does not count as a new delivery of `>`.
    c.check(
        &["XREADGROUP", "GROUP", "g", "carol", "STREAMS", "q", ">"],
        &array(&[stream("q", &[e(4)])]),
    );
    c.check(
        &["XREADGROUP", "GROUP", "g", "carol", "STREAMS", "q", ">"],
        &nil_array(),
    );
    // Each history read increments the delivery count.
    let p = xpending_entries(&mut c, &["XPENDING", "q", "g", "-", "+", "10"]);
    let counts: Vec<(&str, &str, i64)> = p
        .iter()
        .map(|(id, who, _, n)| (id.as_str(), who.as_str(), *n))
        .collect();
    assert_eq!(
        counts,
        [
            ("1-0", "alice", 2),
            ("2-0", "alice", 3),
            ("3-0", "bob", 2),
            ("4-0", "carol", 1)
        ]
    );
    // A deleted pending entry shows as [id, nil] in the history.
    c.check(&["XDEL", "q", "2-0"], &int(1));
    c.check(
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "q", "0"],
        &array(&[stream("q", &[e(1), array(&[bulk("2-0"), nil_array()])])]),
    );
    // Several streams, on different shards, in one call.
    add(&mut c, S1, "1-0", &["k", "1"]);
    add(&mut c, S2, "1-0", &["k", "2"]);
    c.check(&["XGROUP", "CREATE", S1, "g", "0"], &ok());
    c.check(&["XGROUP", "CREATE", S2, "g", "0"], &ok());
    c.check(
        &w(&format!("XREADGROUP GROUP g dave STREAMS {S1} {S2} > >")),
        &array(&[
            stream(S1, &[entry("1-0", &["k", "1"])]),
            stream(S2, &[entry("1-0", &["k", "2"])]),
        ]),
    );
    c.check(
        &w(&format!("XREADGROUP GROUP g dave STREAMS {S1} {S2} 0 >")),
        &array(&[stream(S1, &[entry("1-0", &["k", "1"])])]),
    );
}

fn xreadgroup_noack(s: &Server) {
    let mut c = s.raw();
    fill(&mut c, "q", 3);
    c.check(&["XGROUP", "CREATE", "q", "g", "0"], &ok());
    c.check(
        &w("XREADGROUP GROUP g a NOACK COUNT 2 STREAMS q >"),
        &array(&[stream("q", &[e(1), e(2)])]),
    );
    // Delivered but not pending.
    c.check(&["XPENDING", "q", "g"], &no_pending());
    c.check(
        &["XREADGROUP", "GROUP", "g", "a", "STREAMS", "q", "0"],
        &array(&[stream("q", &[])]),
    );
    let g = group_named(&mut c, "q", "g");
    assert_eq!(field(&g, "last-delivered-id"), Reply::Bulk(b"2-0".to_vec()));
    assert_eq!(field(&g, "entries-read"), Reply::Int(2));
    c.check(
        &["xreadgroup", "group", "g", "a", "streams", "q", ">"],
        &array(&[stream("q", &[e(3)])]),
    );
    c.check(
        &["XPENDING", "q", "g"],
        &pending_summary(1, "3-0", "3-0", &[("a", 1)]),
    );
}

fn xreadgroup_errors(s: &Server) {
    let mut c = s.raw();
    fill(&mut c, "q", 1);
    c.check(&["XGROUP", "CREATE", "q", "g", "0"], &ok());
    c.check(
        &["XREADGROUP", "GROUP", "g", "a", "STREAMS", "q", "$"],
        &err(
            "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the \
             history of this consumer by specifying a proper ID, or use the > ID to get new \
             messages. The $ ID would just return an empty result set.",
        ),
    );
    c.check(
        &["XREADGROUP", "GROUP", "nog", "a", "STREAMS", "q", ">"],
        &err("NOGROUP No such key 'q' or consumer group 'nog' in XREADGROUP with GROUP option"),
    );
    c.check(
        &["XREADGROUP", "GROUP", "g", "a", "STREAMS", "nokey", ">"],
        &err("NOGROUP No such key 'nokey' or consumer group 'g' in XREADGROUP with GROUP option"),
    );
    c.check(&["EXISTS", "nokey"], &int(0));
    c.check(
        &["XREADGROUP", "GROUP", "g", "a", "STREAMS", "q", "x"],
        &err(INVALID_ID),
    );
    c.check(
        &w("XREADGROUP GROUP g a COUNT x STREAMS q >"),
        &err(NOT_INT),
    );
    c.check(
        &w("XREADGROUP GROUP g a BLOCK x STREAMS q >"),
        &err("ERR timeout is not an integer or out of range"),
    );
    c.check(
        &w("XREADGROUP GROUP g a BLOCK -1 STREAMS q >"),
        &err("ERR timeout is negative"),
    );
    c.check(
        &["XREADGROUP", "GROUP", "g", "a", "STREAMS", "q", "q", ">"],
        &err("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified."),
    );
    for args in [
        &["XREADGROUP", "GROUP", "g", "STREAMS", "q", ">"][..],
        &["XREADGROUP", "GROUP", "g", "a", "q", ">"],
        &["XREADGROUP", "STREAMS", "q", ">"],
        &["XREADGROUP", "GROUP", "g", "a", "STREAMS", "q"],
        &["XREADGROUP"],
    ] {
        c.check(args, &arity("xreadgroup"));
    }
    // None of this delivered anything.
    c.check(&["XPENDING", "q", "g"], &no_pending());
}

// ------------------------------------------------------------------ XACK

fn xack(s: &Server) {
    let mut c = s.raw();
    fill(&mut c, "q", 3);
    c.check(&["XGROUP", "CREATE", "q", "g", "0"], &ok());
    c.check(
        &["XREADGROUP", "GROUP", "g", "a", "STREAMS", "q", ">"],
        &array(&[stream("q", &[e(1), e(2), e(3)])]),
    );
    c.check(&["XACK", "q", "g", "1-0", "9-0"], &int(1));
    c.check(&["XACK", "q", "g", "1-0"], &int(0));
    // Duplicates count once; incomplete IDs are <ms>-0.
    c.check(&["XACK", "q", "g", "2", "2-0"], &int(1));
    c.check(&["XACK", "q", "nog", "3-0"], &int(0));
    c.check(&["XACK", "nokey", "g", "3-0"], &int(0));
    // One bad ID: nothing is acknowledged.
    c.check(&["XACK", "q", "g", "3-0", "x"], &err(INVALID_ID));
    c.check(
        &["XREADGROUP", "GROUP", "g", "a", "STREAMS", "q", "0"],
        &array(&[stream("q", &[e(3)])]),
    );
    c.check(&["XACK", "q", "g"], &arity("xack"));
    // Acknowledged entries stay in the stream.
    c.check(&["XLEN", "q"], &int(3));
}

// --------------------------------------------------------------- XPENDING

fn xpending_summary(s: &Server) {
    let mut c = s.raw();
    fill(&mut c, "q", 4);
    c.check(&["XGROUP", "CREATE", "q", "g", "0"], &ok());
    c.check(&["XPENDING", "q", "g"], &no_pending());
    c.check(
        &w("XREADGROUP GROUP g bob COUNT 1 STREAMS q >"),
        &array(&[stream("q", &[e(1)])]),
    );
    c.check(
        &w("XREADGROUP GROUP g alice COUNT 2 STREAMS q >"),
        &array(&[stream("q", &[e(2), e(3)])]),
    );
    // Consumers are listed by name; counts are bulk strings.
    c.check(
        &["XPENDING", "q", "g"],
        &pending_summary(3, "1-0", "3-0", &[("alice", 2), ("bob", 1)]),
    );
    c.check(
        &["XPENDING", "q", "nog"],
        &err("NOGROUP No such key 'q' or consumer group 'nog'"),
    );
    c.check(
        &["XPENDING", "nokey", "g"],
        &err("NOGROUP No such key 'nokey' or consumer group 'g'"),
    );
    c.check(&["XPENDING", "q"], &arity("xpending"));
}

fn xpending_extended(s: &Server) {
    let mut c = s.raw();
    fill(&mut c, "q", 4);
    c.check(&["XGROUP", "CREATE", "q", "g", "0"], &ok());
    c.check(
        &w("XREADGROUP GROUP g alice COUNT 2 STREAMS q >"),
        &array(&[stream("q", &[e(1), e(2)])]),
    );
    c.check(
        &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "q", ">"],
        &array(&[stream("q", &[e(3), e(4)])]),
    );
    let p = xpending_entries(&mut c, &["XPENDING", "q", "g", "-", "+", "10"]);
    let who: Vec<(&str, &str, i64)> = p
        .iter()
        .map(|(id, who, _, n)| (id.as_str(), who.as_str(), *n))
        .collect();
    assert_eq!(
        who,
        [
            ("1-0", "alice", 1),
            ("2-0", "alice", 1),
            ("3-0", "bob", 1),
            ("4-0", "bob", 1)
        ]
    );
    for (_, _, idle, _) in &p {
        assert_recent(*idle);
    }
    // Range, exclusive start, count and consumer filters.
    let ids = |p: Vec<(String, String, i64, i64)>| -> Vec<String> {
        p.into_iter().map(|x| x.0).collect()
    };
    assert_eq!(
        ids(xpending_entries(
            &mut c,
            &["XPENDING", "q", "g", "2", "3", "10"]
        )),
        ["2-0", "3-0"]
    );
    assert_eq!(
        ids(xpending_entries(
            &mut c,
            &["XPENDING", "q", "g", "(2", "+", "10"]
        )),
        ["3-0", "4-0"]
    );
    assert_eq!(
        ids(xpending_entries(
            &mut c,
            &["XPENDING", "q", "g", "-", "+", "3"]
        )),
        ["1-0", "2-0", "3-0"]
    );
    assert_eq!(
        ids(xpending_entries(
            &mut c,
            &["XPENDING", "q", "g", "-", "+", "10", "bob"]
        )),
        ["3-0", "4-0"]
    );
    assert_eq!(
        ids(xpending_entries(
            &mut c,
            &["XPENDING", "q", "g", "-", "+", "10", "nobody"]
        )),
        Vec::<String>::new()
    );
    c.check(&["XPENDING", "q", "g", "-", "+", "0"], &array(&[]));
    c.check(&["XPENDING", "q", "g", "-", "+", "-1"], &array(&[]));
    // IDLE filters on idle time: nothing has been idle for an hour yet, but
    // XCLAIM can pretend so.
    c.check(
        &["XPENDING", "q", "g", "IDLE", "3600000", "-", "+", "10"],
        &array(&[]),
    );
    c.check(
        &w("XCLAIM q g alice 0 3-0 IDLE 7200000 JUSTID"),
        &bulks(&["3-0"]),
    );
    let p = xpending_entries(
        &mut c,
        &["XPENDING", "q", "g", "IDLE", "3600000", "-", "+", "10"],
    );
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!((p[0].0.as_str(), p[0].1.as_str()), ("3-0", "alice"));
    assert!((7_200_000..7_260_000).contains(&p[0].2), "{p:?}");
    // Errors.
    c.check(&["XPENDING", "q", "g", "x", "+", "10"], &err(INVALID_ID));
    c.check(&["XPENDING", "q", "g", "-", "+", "x"], &err(NOT_INT));
    c.check(&["XPENDING", "q", "g", "-", "+"], &err(SYNTAX));
    c.check(&["XPENDING", "q", "g", "-"], &err(SYNTAX));
    c.check(
        &["XPENDING", "q", "g", "IDLE", "x", "-", "+", "10"],
        &err(NOT_INT),
    );
}

// ----------------------------------------------------- XCLAIM / XAUTOCLAIM

/// Stream `c` with entries 1..=4 all delivered to alice.
fn claim_setup(c: &mut RawConn) {
    fill(c, "c", 4);
    c.check(&["XGROUP", "CREATE", "c", "g", "0"], &ok());
    c.check(
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "c", ">"],
        &array(&[stream("c", &[e(1), e(2), e(3), e(4)])]),
    );
}

fn xclaim_options(s: &Server) {
    let mut c = s.raw();
    claim_setup(&mut c);
    // Too recent for a one-hour min-idle-time.
    c.check(
        &["XCLAIM", "c", "g", "bob", "3600000", "1-0", "2-0"],
        &array(&[]),
    );
    // Claimed entries come back whole; unknown IDs are skipped.
    c.check(
        &["XCLAIM", "c", "g", "bob", "0", "1-0", "9-0"],
        &array(&[e(1)]),
    );
    c.check(
        &["XCLAIM", "c", "g", "bob", "0", "2-0", "JUSTID"],
        &bulks(&["2-0"]),
    );
    // A normal claim counts a delivery, JUSTID does not.
    let p = xpending_entries(&mut c, &["XPENDING", "c", "g", "-", "2", "10"]);
    assert_eq!(
        p.iter().map(|x| (x.1.as_str(), x.3)).collect::<Vec<_>>(),
        [("bob", 2), ("bob", 1)]
    );
    // RETRYCOUNT sets the counter, IDLE the idle time.
    c.check(
        &w("XCLAIM c g bob 0 3-0 RETRYCOUNT 7 IDLE 5000 JUSTID"),
        &bulks(&["3-0"]),
    );
    let p = xpending_entries(&mut c, &["XPENDING", "c", "g", "3", "3", "1"]);
    assert_eq!((p[0].1.as_str(), p[0].3), ("bob", 7));
    assert!((5000..65_000).contains(&p[0].2), "{p:?}");
    // TIME sets the delivery time as a unix time in ms.
    let t = now_ms() - 100_000;
    c.check(
        &w(&format!("XCLAIM c g carol 0 4-0 TIME {t} JUSTID")),
        &bulks(&["4-0"]),
    );
    let p = xpending_entries(&mut c, &["XPENDING", "c", "g", "4", "4", "1"]);
    assert_eq!(p[0].1, "carol");
    assert!((100_000..160_000).contains(&p[0].2), "{p:?}");
    // FORCE creates a PEL entry for an ID that exists in the stream but is
    // not pending; it never invents entries that do not exist.
    c.check(&["XACK", "c", "g", "4-0"], &int(1));
    c.check(
        &["XCLAIM", "c", "g", "bob", "0", "4-0", "FORCE", "JUSTID"],
        &bulks(&["4-0"]),
    );
    c.check(
        &["XCLAIM", "c", "g", "bob", "0", "9-0", "FORCE", "JUSTID"],
        &array(&[]),
    );
    // LASTID moves the group's last delivered ID forward only.
    c.check(
        &w("XCLAIM c g bob 0 2-0 LASTID 3-0 JUSTID"),
        &bulks(&["2-0"]),
    );
    assert_eq!(
        field(&group_named(&mut c, "c", "g"), "last-delivered-id"),
        Reply::Bulk(b"4-0".to_vec())
    );
    add(&mut c, "c", "5-0", &["f", "5"]);
    c.check(
        &w("XCLAIM c g bob 0 2-0 LASTID 5-0 JUSTID"),
        &bulks(&["2-0"]),
    );
    assert_eq!(
        field(&group_named(&mut c, "c", "g"), "last-delivered-id"),
        Reply::Bulk(b"5-0".to_vec())
    );
    c.check(
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "c", ">"],
        &nil_array(),
    );
    c.check(
        &["XPENDING", "c", "g"],
        &pending_summary(4, "1-0", "4-0", &[("bob", 4)]),
    );
}

fn xclaim_errors(s: &Server) {
    let mut c = s.raw();
    claim_setup(&mut c);
    let cases: &[(&[&str], &str)] = &[
        (
            &["XCLAIM", "c", "g", "bob", "x", "1-0"],
            "ERR Invalid min-idle-time argument for XCLAIM",
        ),
        (
            &["XCLAIM", "c", "g", "bob", "0", "x"],
            "ERR Unrecognized XCLAIM option 'x'",
        ),
        (
            &["XCLAIM", "c", "g", "bob", "0", "1-0", "IDLE", "x"],
            "ERR Invalid IDLE option argument for XCLAIM",
        ),
        (
            &["XCLAIM", "c", "g", "bob", "0", "1-0", "RETRYCOUNT", "x"],
            "ERR Invalid RETRYCOUNT option argument for XCLAIM",
        ),
        (
            &["XCLAIM", "c", "g", "bob", "0", "1-0", "TIME", "x"],
            "ERR Invalid TIME option argument for XCLAIM",
        ),
        (
            &["XCLAIM", "c", "g", "bob", "0", "1-0", "LASTID", "x"],
            INVALID_ID,
        ),
        (
            &["XCLAIM", "c", "g", "bob", "0", "1-0", "FOO"],
            "ERR Unrecognized XCLAIM option 'FOO'",
        ),
        (
            &["XCLAIM", "c", "nog", "bob", "0", "1-0"],
            "NOGROUP No such key 'c' or consumer group 'nog'",
        ),
        (
            &["XCLAIM", "nokey", "g", "bob", "0", "1-0"],
            "NOGROUP No such key 'nokey' or consumer group 'g'",
        ),
    ];
    for (args, want) in cases {
        c.check(args, &err(want));
    }
    c.check(&["XCLAIM", "c", "g", "bob", "0"], &arity("xclaim"));
    // Nothing moved.
    c.check(
        &["XPENDING", "c", "g"],
        &pending_summary(4, "1-0", "4-0", &[("alice", 4)]),
    );
}

fn xautoclaim(s: &Server) {
    let mut c = s.raw();
    claim_setup(&mut c);
    // The reply is [next cursor, claimed, deleted IDs].
    c.check(
        &["XAUTOCLAIM", "c", "g", "bob", "0", "0", "COUNT", "1"],
        &array(&[bulk("2-0"), array(&[e(1)]), array(&[])]),
    );
    c.check(
        &w("XAUTOCLAIM c g bob 0 2-0 COUNT 2 JUSTID"),
        &array(&[bulk("4-0"), bulks(&["2-0", "3-0"]), array(&[])]),
    );
    c.check(
        &w("XAUTOCLAIM c g bob 0 4-0 COUNT 2 JUSTID"),
        &array(&[bulk("0-0"), bulks(&["4-0"]), array(&[])]),
    );
    c.check(
        &["XAUTOCLAIM", "c", "g", "carol", "3600000", "0"],
        &array(&[bulk("0-0"), array(&[]), array(&[])]),
    );
    // Exclusive start; JUSTID does not count deliveries.
    c.check(
        &["XAUTOCLAIM", "c", "g", "carol", "0", "(1", "JUSTID"],
        &array(&[bulk("0-0"), bulks(&["2-0", "3-0", "4-0"]), array(&[])]),
    );
    let p = xpending_entries(&mut c, &["XPENDING", "c", "g", "-", "+", "10"]);
    assert_eq!(
        p.iter()
            .map(|x| (x.0.as_str(), x.1.as_str(), x.3))
            .collect::<Vec<_>>(),
        [
            ("1-0", "bob", 2),
            ("2-0", "carol", 1),
            ("3-0", "carol", 1),
            ("4-0", "carol", 1)
        ]
    );
    // Errors.
    for bad in ["0", "-1", "x"] {
        c.check(
            &["XAUTOCLAIM", "c", "g", "bob", "0", "0", "COUNT", bad],
            &err("ERR COUNT must be > 0"),
        );
    }
    c.check(
        &["XAUTOCLAIM", "c", "g", "bob", "x", "0"],
        &err("ERR Invalid min-idle-time argument for XAUTOCLAIM"),
    );
    c.check(&["XAUTOCLAIM", "c", "g", "bob", "0", "x"], &err(INVALID_ID));
    c.check(
        &["XAUTOCLAIM", "c", "g", "bob", "0", "0", "FOO"],
        &err(SYNTAX),
    );
    c.check(
        &["XAUTOCLAIM", "c", "nog", "bob", "0", "0"],
        &err("NOGROUP No such key 'c' or consumer group 'nog'"),
    );
    c.check(
        &["XAUTOCLAIM", "nokey", "g", "bob", "0", "0"],
        &err("NOGROUP No such key 'nokey' or consumer group 'g'"),
    );
    c.check(&["XAUTOCLAIM", "c", "g", "bob", "0"], &arity("xautoclaim"));
}

/// Entries deleted or trimmed while pending: XCLAIM drops them from the PEL,
/// XAUTOCLAIM drops and reports them, so the PEL cannot leak.
fn deleted_pending_entries_do_not_leak(s: &Server) {
    let mut c = s.raw();
    claim_setup(&mut c);
    c.check(&["XDEL", "c", "2-0"], &int(1));
    c.check(&["XTRIM", "c", "MINID", "2"], &int(1));
    // XPENDING still lists them until someone tries to claim them.
    c.check(
        &["XPENDING", "c", "g"],
        &pending_summary(4, "1-0", "4-0", &[("alice", 4)]),
    );
    c.check(
        &["XCLAIM", "c", "g", "bob", "0", "1-0", "3-0"],
        &array(&[e(3)]),
    );
    c.check(
        &["XPENDING", "c", "g"],
        &pending_summary(3, "2-0", "4-0", &[("alice", 2), ("bob", 1)]),
    );
    c.check(
        &["XAUTOCLAIM", "c", "g", "bob", "0", "0"],
        &array(&[bulk("0-0"), array(&[e(3), e(4)]), bulks(&["2-0"])]),
    );
    c.check(
        &["XPENDING", "c", "g"],
        &pending_summary(2, "3-0", "4-0", &[("bob", 2)]),
    );
    // With COUNT, deleted entries take part of the budget.
    c.check(&["XDEL", "c", "3-0"], &int(1));
    c.check(
        &["XAUTOCLAIM", "c", "g", "carol", "0", "0", "COUNT", "1"],
        &array(&[bulk("4-0"), array(&[]), bulks(&["3-0"])]),
    );
    c.check(
        &w("XAUTOCLAIM c g carol 0 4-0 COUNT 1 JUSTID"),
        &array(&[bulk("0-0"), bulks(&["4-0"]), array(&[])]),
    );
    // The consumer's history shows no deleted entry any more.
    c.check(
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "c", "0"],
        &array(&[stream("c", &[])]),
    );
    c.check(
        &["XREADGROUP", "GROUP", "g", "carol", "STREAMS", "c", "0"],
        &array(&[stream("c", &[e(4)])]),
    );
    let g = group_named(&mut c, "c", "g");
    assert_eq!(field(&g, "pending"), Reply::Int(1));
    // Deleting the group or the consumer frees the rest.
    c.check(&["XGROUP", "DELCONSUMER", "c", "g", "carol"], &int(1));
    c.check(&["XPENDING", "c", "g"], &no_pending());
}

/// Redis 7.2 creates the consumer on every XREADGROUP / XCLAIM /
/// XAUTOCLAIM, even when nothing is read or claimed; 7.0 only when an entry
/// is delivered.
fn consumer_creation_by_version(s: &Server) {
    let mut c = s.raw();
    let v72 = is_72(&mut c);
    let created = if v72 { 0 } else { 1 };
    claim_setup(&mut c);
    c.check(&["XCLAIM", "c", "g", "x1", "3600000", "1-0"], &array(&[]));
    c.check(&["XGROUP", "CREATECONSUMER", "c", "g", "x1"], &int(created));
    c.check(
        &["XAUTOCLAIM", "c", "g", "x2", "3600000", "0"],
        &array(&[bulk("0-0"), array(&[]), array(&[])]),
    );
    c.check(&["XGROUP", "CREATECONSUMER", "c", "g", "x2"], &int(created));
    c.check(
        &["XREADGROUP", "GROUP", "g", "x3", "STREAMS", "c", ">"],
        &nil_array(),
    );
    c.check(&["XGROUP", "CREATECONSUMER", "c", "g", "x3"], &int(created));
    // History reads always create it.
    c.check(
        &["XREADGROUP", "GROUP", "g", "x4", "STREAMS", "c", "0"],
        &array(&[stream("c", &[])]),
    );
    c.check(&["XGROUP", "CREATECONSUMER", "c", "g", "x4"], &int(0));
}

// ----------------------------------------------------------------- XINFO

fn xinfo_stream(s: &Server) {
    let mut c = s.raw();
    add(&mut c, "s", "1-0", &["a", "1"]);
    add(&mut c, "s", "2-0", &["b", "2"]);
    add(&mut c, "s", "3-0", &["c", "3"]);
    c.check(&["XDEL", "s", "2-0"], &int(1));
    c.check(&["XGROUP", "CREATE", "s", "g1", "0"], &ok());
    c.check(&["XGROUP", "CREATE", "s", "g2", "$"], &ok());
    let info = Reply::parse(&c.cmd(&["XINFO", "STREAM", "s"])).as_pairs();
    assert_eq!(
        keys_of(&info),
        [
            "length",
            "radix-tree-keys",
            "radix-tree-nodes",
            "last-generated-id",
            "max-deleted-entry-id",
            "entries-added",
            "recorded-first-entry-id",
            "groups",
            "first-entry",
            "last-entry"
        ]
    );
    assert_eq!(field(&info, "length"), Reply::Int(2));
    // Internal sizes: positive integers.
    assert!(field(&info, "radix-tree-keys").as_int() >= 1);
    assert!(field(&info, "radix-tree-nodes").as_int() >= 1);
    let text = |v: &str| Reply::Bulk(v.as_bytes().to_vec());
    assert_eq!(field(&info, "last-generated-id"), text("3-0"));
    assert_eq!(field(&info, "max-deleted-entry-id"), text("2-0"));
    assert_eq!(field(&info, "entries-added"), Reply::Int(3));
    assert_eq!(field(&info, "recorded-first-entry-id"), text("1-0"));
    assert_eq!(field(&info, "groups"), Reply::Int(2));
    let one = |id: &str, f: &str, v: &str| {
        Reply::Array(vec![text(id), Reply::Array(vec![text(f), text(v)])])
    };
    assert_eq!(field(&info, "first-entry"), one("1-0", "a", "1"));
    assert_eq!(field(&info, "last-entry"), one("3-0", "c", "3"));
    // An emptied stream: null first/last entries, the IDs are kept.
    c.check(&["XDEL", "s", "1-0", "3-0"], &int(2));
    let info = Reply::parse(&c.cmd(&["XINFO", "STREAM", "s"])).as_pairs();
    assert_eq!(field(&info, "length"), Reply::Int(0));
    assert_eq!(field(&info, "first-entry"), Reply::Null);
    assert_eq!(field(&info, "last-entry"), Reply::Null);
    assert_eq!(field(&info, "last-generated-id"), text("3-0"));
    assert_eq!(field(&info, "max-deleted-entry-id"), text("3-0"));
    assert_eq!(field(&info, "entries-added"), Reply::Int(3));
    // Errors.
    c.check(&["XINFO", "STREAM", "nokey"], &err(NO_SUCH_KEY));
    c.check(
        &["XINFO", "STREAM", "s", "FOO"],
        &err("ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP."),
    );
    c.check(
        &["XINFO", "STREAM", "s", "FULL", "COUNT"],
        &err("ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP."),
    );
    c.check(
        &["XINFO", "STREAM", "s", "FULL", "COUNT", "x"],
        &err(NOT_INT),
    );
    c.check(&["XINFO", "STREAM"], &arity("xinfo|stream"));
    c.check(&["XINFO"], &arity("xinfo"));
}

fn xinfo_stream_full(s: &Server) {
    let mut c = s.raw();
    let v72 = is_72(&mut c);
    fill(&mut c, "s", 3);
    c.check(&["XGROUP", "CREATE", "s", "g", "0"], &ok());
    c.check(
        &w("XREADGROUP GROUP g alice COUNT 2 STREAMS s >"),
        &array(&[stream("s", &[e(1), e(2)])]),
    );
    let before = now_ms();
    let info = Reply::parse(&c.cmd(&["XINFO", "STREAM", "s", "FULL"])).as_pairs();
    assert_eq!(
        keys_of(&info),
        [
            "length",
            "radix-tree-keys",
            "radix-tree-nodes",
            "last-generated-id",
            "max-deleted-entry-id",
            "entries-added",
            "recorded-first-entry-id",
            "entries",
            "groups"
        ]
    );
    assert_eq!(field(&info, "length"), Reply::Int(3));
    assert_eq!(
        field(&info, "entries"),
        Reply::parse(&array(&[e(1), e(2), e(3)]))
    );
    let groups = field(&info, "groups");
    assert_eq!(groups.as_array().len(), 1);
    let g = groups.as_array()[0].as_pairs();
    assert_eq!(
        keys_of(&g),
        [
            "name",
            "last-delivered-id",
            "entries-read",
            "lag",
            "pel-count",
            "pending",
            "consumers"
        ]
    );
    assert_eq!(field(&g, "name").as_text(), "g");
    assert_eq!(field(&g, "last-delivered-id").as_text(), "2-0");
    assert_eq!(field(&g, "entries-read"), Reply::Int(2));
    assert_eq!(field(&g, "lag"), Reply::Int(1));
    assert_eq!(field(&g, "pel-count"), Reply::Int(2));
    // Group PEL: [id, consumer, delivery time (unix ms), deliveries].
    let near_now = |t: i64| assert!((before - 60_000..before + 60_000).contains(&t), "{t}");
    let pel = field(&g, "pending");
    let pel = pel.as_array();
    assert_eq!(pel.len(), 2);
    for (p, id) in pel.iter().zip(["1-0", "2-0"]) {
        let p = p.as_array();
        assert_eq!(p[0].as_text(), id);
        assert_eq!(p[1].as_text(), "alice");
        near_now(p[2].as_int());
        assert_eq!(p[3], Reply::Int(1));
    }
    let consumers = field(&g, "consumers");
    assert_eq!(consumers.as_array().len(), 1);
    let cons = consumers.as_array()[0].as_pairs();
    let want: &[&str] = if v72 {
        &["name", "seen-time", "active-time", "pel-count", "pending"]
    } else {
        &["name", "seen-time", "pel-count", "pending"]
    };
    assert_eq!(keys_of(&cons), want);
    assert_eq!(field(&cons, "name").as_text(), "alice");
    near_now(field(&cons, "seen-time").as_int());
    if v72 {
        near_now(field(&cons, "active-time").as_int());
    }
    assert_eq!(field(&cons, "pel-count"), Reply::Int(2));
    // Consumer PEL: [id, delivery time, deliveries].
    let cpel = field(&cons, "pending");
    for (p, id) in cpel.as_array().iter().zip(["1-0", "2-0"]) {
        let p = p.as_array();
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].as_text(), id);
        near_now(p[1].as_int());
        assert_eq!(p[2], Reply::Int(1));
    }
    // COUNT limits the entries and each PEL; COUNT 0 means everything.
    let info = Reply::parse(&c.cmd(&["XINFO", "STREAM", "s", "FULL", "COUNT", "1"])).as_pairs();
    assert_eq!(field(&info, "entries"), Reply::parse(&array(&[e(1)])));
    let g = field(&info, "groups").as_array()[0].as_pairs();
    assert_eq!(field(&g, "pending").as_array().len(), 1);
    let cons = field(&g, "consumers").as_array()[0].as_pairs();
    assert_eq!(field(&cons, "pending").as_array().len(), 1);
    let info = Reply::parse(&c.cmd(&["XINFO", "STREAM", "s", "FULL", "COUNT", "0"])).as_pairs();
    assert_eq!(field(&info, "entries").as_array().len(), 3);
    // No groups: an empty list.
    add(&mut c, "plain", "1-0", &["f", "v"]);
    let info = Reply::parse(&c.cmd(&["XINFO", "STREAM", "plain", "FULL"])).as_pairs();
    assert_eq!(field(&info, "groups"), Reply::Array(vec![]));
}

fn xinfo_groups_and_lag(s: &Server) {
    let mut c = s.raw();
    fill(&mut c, "lag", 3);
    c.check(&["XINFO", "GROUPS", "lag"], &array(&[]));
    c.check(&["XGROUP", "CREATE", "lag", "g0", "0"], &ok());
    c.check(&["XGROUP", "CREATE", "lag", "g1", "1-0"], &ok());
    let group = |name: &str,
                 consumers: i64,
                 pending: i64,
                 last: &str,
                 read: Option<i64>,
                 lag: Option<i64>| {
        let opt = |v: Option<i64>| v.map(int).unwrap_or_else(nil);
        array(&[
            bulk("name"),
            bulk(name),
            bulk("consumers"),
            int(consumers),
            bulk("pending"),
            int(pending),
            bulk("last-delivered-id"),
            bulk(last),
            bulk("entries-read"),
            opt(read),
            bulk("lag"),
            opt(lag),
        ])
    };
    // A group at 0 knows its lag; one at an arbitrary ID can still estimate
    // it on a stream without deletions.
    c.check(
        &["XINFO", "GROUPS", "lag"],
        &array(&[
            group("g0", 0, 0, "0-0", None, Some(3)),
            group("g1", 0, 0, "1-0", None, Some(2)),
        ]),
    );
    c.check(
        &w("XREADGROUP GROUP g0 c COUNT 1 STREAMS lag >"),
        &array(&[stream("lag", &[e(1)])]),
    );
    c.check(
        &["XINFO", "GROUPS", "lag"],
        &array(&[
            group("g0", 1, 1, "1-0", Some(1), Some(2)),
            group("g1", 0, 0, "1-0", None, Some(2)),
        ]),
    );
    c.check(
        &["XREADGROUP", "GROUP", "g0", "c", "STREAMS", "lag", ">"],
        &array(&[stream("lag", &[e(2), e(3)])]),
    );
    add(&mut c, "lag", "4-0", &["f", "4"]);
    c.check(
        &["XGROUP", "SETID", "lag", "g1", "0", "ENTRIESREAD", "0"],
        &ok(),
    );
    c.check(
        &["XINFO", "GROUPS", "lag"],
        &array(&[
            group("g0", 1, 3, "3-0", Some(3), Some(1)),
            group("g1", 0, 0, "0-0", Some(0), Some(4)),
        ]),
    );
    // A deletion after a group's last delivered ID makes its lag unknown.
    c.check(&["XDEL", "lag", "4-0"], &int(1));
    assert_eq!(field(&group_named(&mut c, "lag", "g0"), "lag"), Reply::Null);
    assert_eq!(
        field(&group_named(&mut c, "lag", "g0"), "entries-read"),
        Reply::Int(3)
    );
    c.check(&["XINFO", "GROUPS", "nokey"], &err(NO_SUCH_KEY));
    c.check(&["XINFO", "GROUPS"], &arity("xinfo|groups"));
}

fn xinfo_consumers(s: &Server) {
    let mut c = s.raw();
    let v72 = is_72(&mut c);
    fill(&mut c, "s", 3);
    c.check(&["XGROUP", "CREATE", "s", "g", "0"], &ok());
    c.check(&["XINFO", "CONSUMERS", "s", "g"], &array(&[]));
    c.check(
        &w("XREADGROUP GROUP g bob COUNT 2 STREAMS s >"),
        &array(&[stream("s", &[e(1), e(2)])]),
    );
    c.check(&["XGROUP", "CREATECONSUMER", "s", "g", "alice"], &int(1));
    let r = Reply::parse(&c.cmd(&["XINFO", "CONSUMERS", "s", "g"]));
    let cons: Vec<Vec<(String, Reply)>> = r.as_array().iter().map(|x| x.as_pairs()).collect();
    let want: &[&str] = if v72 {
        &["name", "pending", "idle", "inactive"]
    } else {
        &["name", "pending", "idle"]
    };
    // Sorted by name.
    assert_eq!(cons.len(), 2);
    for (cn, (name, pending)) in cons.iter().zip([("alice", 0), ("bob", 2)]) {
        assert_eq!(keys_of(cn), want);
        assert_eq!(field(cn, "name").as_text(), name);
        assert_eq!(field(cn, "pending"), Reply::Int(pending));
        assert_recent(field(cn, "idle").as_int());
    }
    if v72 {
        // alice never read anything: inactive is -1.
        assert_eq!(field(&cons[0], "inactive"), Reply::Int(-1));
        assert_recent(field(&cons[1], "inactive").as_int());
    }
    c.check(
        &["XINFO", "CONSUMERS", "s", "nog"],
        &err("NOGROUP No such consumer group 'nog' for key name 's'"),
    );
    c.check(&["XINFO", "CONSUMERS", "nokey", "g"], &err(NO_SUCH_KEY));
    c.check(&["XINFO", "CONSUMERS", "s"], &arity("xinfo|consumers"));
}

// --------------------------------------------------- errors for every command

fn wrongtype_for_every_command(s: &Server) {
    let mut c = s.raw();
    c.check(&["SET", "str", "x"], &ok());
    c.check(&["RPUSH", "list", "x"], &int(1));
    let cases: &[&[&str]] = &[
        &["XADD", "str", "1-0", "f", "v"],
        &["XADD", "str", "NOMKSTREAM", "*", "f", "v"],
        &["XLEN", "str"],
        &["XRANGE", "str", "-", "+"],
        &["XREVRANGE", "list", "+", "-"],
        &["XDEL", "str", "1-0"],
        &["XTRIM", "str", "MAXLEN", "0"],
        &["XSETID", "str", "1-0"],
        &["XREAD", "STREAMS", "str", "0"],
        &["XREAD", "STREAMS", "list", "$"],
        &["XGROUP", "CREATE", "str", "g", "0"],
        &["XGROUP", "CREATE", "str", "g", "0", "MKSTREAM"],
        &["XGROUP", "SETID", "str", "g", "0"],
        &["XGROUP", "DESTROY", "str", "g"],
        &["XGROUP", "CREATECONSUMER", "str", "g", "c"],
        &["XGROUP", "DELCONSUMER", "str", "g", "c"],
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "str", ">"],
        &["XACK", "str", "g", "1-0"],
        &["XPENDING", "str", "g"],
        &["XPENDING", "str", "g", "-", "+", "10"],
        &["XCLAIM", "str", "g", "c", "0", "1-0"],
        &["XAUTOCLAIM", "str", "g", "c", "0", "0"],
        &["XINFO", "STREAM", "str"],
        &["XINFO", "STREAM", "str", "FULL"],
        &["XINFO", "GROUPS", "str"],
        &["XINFO", "CONSUMERS", "str", "g"],
    ];
    for args in cases {
        c.check(args, &err(WRONGTYPE));
    }
    c.check(&["GET", "str"], &bulk("x"));
    c.check(&["LRANGE", "list", "0", "-1"], &bulks(&["x"]));
    // And list/string commands on a stream.
    add(&mut c, "s", "1-0", &["f", "v"]);
    c.check(&["GET", "s"], &err(WRONGTYPE));
    c.check(&["LLEN", "s"], &err(WRONGTYPE));
}

fn arity_errors(s: &Server) {
    let mut c = s.raw();
    let cases: &[(&[&str], &str)] = &[
        (&["XADD", "s"], "xadd"),
        (&["XADD", "s", "1-0", "f"], "xadd"),
        (&["XLEN"], "xlen"),
        (&["XLEN", "s", "t"], "xlen"),
        (&["XRANGE", "s", "-"], "xrange"),
        (&["XREVRANGE", "s", "+"], "xrevrange"),
        (&["XDEL", "s"], "xdel"),
        (&["XTRIM", "s"], "xtrim"),
        (&["XSETID", "s"], "xsetid"),
        (&["XREAD", "STREAMS"], "xread"),
        (&["XREADGROUP", "GROUP", "g", "c"], "xreadgroup"),
        (&["XACK", "s", "g"], "xack"),
        (&["XPENDING", "s"], "xpending"),
        (&["XCLAIM", "s", "g", "c", "0"], "xclaim"),
        (&["XAUTOCLAIM", "s", "g", "c", "0"], "xautoclaim"),
        (&["XGROUP"], "xgroup"),
        (&["XGROUP", "CREATE", "s", "g"], "xgroup|create"),
        (&["XGROUP", "SETID", "s", "g"], "xgroup|setid"),
        (&["XGROUP", "DESTROY", "s"], "xgroup|destroy"),
        (
            &["XGROUP", "CREATECONSUMER", "s", "g"],
            "xgroup|createconsumer",
        ),
        (&["XGROUP", "DELCONSUMER", "s", "g"], "xgroup|delconsumer"),
        (&["XINFO"], "xinfo"),
        (&["XINFO", "GROUPS"], "xinfo|groups"),
        (&["XINFO", "CONSUMERS", "s"], "xinfo|consumers"),
    ];
    for (args, name) in cases {
        c.check(args, &arity(name));
    }
    c.check(&["xAdD", "s"], &arity("xadd"));
    c.check(&["EXISTS", "s"], &int(0));
}

// ------------------------------------------------------------------- RESP3

fn resp3_shapes(s: &Server) {
    let mut c = s.raw();
    add(&mut c, "r3", "1-0", &["f", "v"]);
    add(&mut c, "r3", "2-0", &["f", "w"]);
    add(&mut c, S2, "1-0", &["k", "b"]);
    c.check(&["XGROUP", "CREATE", "r3", "g", "0"], &ok());
    hello3(&mut c);
    let e1 = || entry("1-0", &["f", "v"]);
    let e2 = || entry("2-0", &["f", "w"]);
    // Ranges are arrays as in RESP2; COUNT 0 is a RESP3 null.
    c.check(&["XRANGE", "r3", "-", "+"], &array(&[e1(), e2()]));
    c.check(&["XRANGE", "nokey", "-", "+"], &array(&[]));
    c.check(&["XRANGE", "r3", "-", "+", "COUNT", "0"], b"_\r\n");
    // XREAD / XREADGROUP: a map of key -> entries, or a null.
    let mut m = b"%2\r\n".to_vec();
    m.extend(bulk("r3"));
    m.extend(array(&[e1(), e2()]));
    m.extend(bulk(S2));
    m.extend(array(&[entry("1-0", &["k", "b"])]));
    c.check(&["XREAD", "STREAMS", "r3", S2, "0", "0"], &m);
    c.check(&["XREAD", "STREAMS", "r3", "9"], b"_\r\n");
    c.check(&["XREAD", "STREAMS", "nokey", "0"], b"_\r\n");
    let mut m = b"%1\r\n".to_vec();
    m.extend(bulk("r3"));
    m.extend(array(&[e1()]));
    c.check(&w("XREADGROUP GROUP g c COUNT 1 STREAMS r3 >"), &m);
    c.check(&["XDEL", "r3", "1-0"], &int(1));
    // A deleted history entry has a null field list.
    let mut m = b"%1\r\n".to_vec();
    m.extend(bulk("r3"));
    m.extend(array(&[array(&[bulk("1-0"), b"_\r\n".to_vec()])]));
    c.check(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "r3", "0"], &m);
    c.check(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "r3", ">"], &{
        let mut m = b"%1\r\n".to_vec();
        m.extend(bulk("r3"));
        m.extend(array(&[e2()]));
        m
    });
    c.check(
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "r3", ">"],
        b"_\r\n",
    );
    // NOMKSTREAM on a missing key: null.
    c.check(&["XADD", "nokey", "NOMKSTREAM", "1-0", "f", "v"], b"_\r\n");
    // XPENDING summary: nulls for an empty PEL.
    c.check(&["XGROUP", "CREATE", "r3", "empty", "$"], &ok());
    c.check(&["XPENDING", "r3", "empty"], b"*4\r\n:0\r\n_\r\n_\r\n_\r\n");
    // XINFO replies are maps (XINFO GROUPS: an array of maps).
    let r = c.cmd(&["XINFO", "GROUPS", "r3"]);
    match Reply::parse(&r) {
        Reply::Array(groups) => {
            assert_eq!(groups.len(), 2);
            for g in groups {
                assert!(matches!(g, Reply::Map(_)), "{g:?}");
            }
        }
        other => panic!("XINFO GROUPS -> {other:?}"),
    }
    let empty = group_named(&mut c, "r3", "empty");
    assert_eq!(field(&empty, "entries-read"), Reply::Null);
    let info = Reply::parse(&c.cmd(&["XINFO", "STREAM", "r3"]));
    let Reply::Map(pairs) = &info else {
        panic!("XINFO STREAM -> {info:?}")
    };
    assert_eq!(pairs.len(), 10);
    let pairs = info.as_pairs();
    assert_eq!(field(&pairs, "first-entry"), Reply::parse(&e2()));
    let full = Reply::parse(&c.cmd(&["XINFO", "STREAM", "r3", "FULL"]));
    assert!(matches!(full, Reply::Map(_)), "{full:?}");
    let g = field(&full.as_pairs(), "groups");
    assert!(g.as_array().iter().all(|x| matches!(x, Reply::Map(_))));
    let cons = Reply::parse(&c.cmd(&["XINFO", "CONSUMERS", "r3", "g"]));
    assert_eq!(cons.as_array().len(), 1);
    assert!(matches!(cons.as_array()[0], Reply::Map(_)), "{cons:?}");
    // XINFO STREAM on an emptied stream: null first/last entries.
    c.check(&["XDEL", "r3", "2-0"], &int(1));
    let pairs = Reply::parse(&c.cmd(&["XINFO", "STREAM", "r3"])).as_pairs();
    assert_eq!(field(&pairs, "first-entry"), Reply::Null);
    assert!(c
        .cmd(&["XINFO", "STREAM", "r3"])
        .windows(15)
        .any(|w| w == b"first-entry\r\n_\r"));
    // Back to RESP2.
    let r = c.cmd(&["HELLO", "2"]);
    assert_eq!(r[0], b'*', "{}", show(&r));
    c.check(&["XREAD", "STREAMS", "r3", "9"], &nil_array());
    c.check(&["XPENDING", "r3", "empty"], &no_pending());
}

// ------------------------------------------------------ bad input is harmless

fn bad_input_keeps_data(s: &Server) {
    let mut c = s.raw();
    add(&mut c, "k", "1-0", &["f", "v"]);
    add(&mut c, "k", "2-0", &["f", "w"]);
    c.check(&["XGROUP", "CREATE", "k", "g", "0"], &ok());
    c.check(
        &w("XREADGROUP GROUP g a COUNT 1 STREAMS k >"),
        &array(&[stream("k", &[entry("1-0", &["f", "v"])])]),
    );
    let snapshot = |c: &mut RawConn| {
        (
            c.cmd(&["XRANGE", "k", "-", "+"]),
            c.cmd(&["XPENDING", "k", "g"]),
            c.cmd(&["XINFO", "GROUPS", "k"]),
            {
                let mut info = Reply::parse(&c.cmd(&["XINFO", "STREAM", "k"])).as_pairs();
                info.retain(|(k, _)| !k.starts_with("radix-tree"));
                info
            },
        )
    };
    let before = snapshot(&mut c);
    let bad: &[&[&str]] = &[
        &["XADD", "k", "1-0", "f", "x"],
        &["XADD", "k", "3-0", "f"],
        &["XADD", "k", "MAXLEN", "x", "3-0", "f", "v"],
        &["XADD", "k", "MAXLEN", "0", "LIMIT", "1", "3-0", "f", "v"],
        &["XADD", "k", "MAXLEN", "0", "MINID", "9", "3-0", "f", "v"],
        &["XADD", "k", "MAXLEN", "0", "bad", "f", "v"],
        &["XTRIM", "k", "MAXLEN", "-1"],
        &["XTRIM", "k", "MAXLEN", "0", "LIMIT", "1"],
        &["XTRIM", "k", "MINID", "bad"],
        &["XDEL", "k", "1-0", "bad"],
        &["XSETID", "k", "0-5"],
        &["XSETID", "k", "9-0", "ENTRIESADDED", "1"],
        &["XSETID", "k", "9-0", "MAXDELETEDID", "10-0"],
        &["XGROUP", "CREATE", "k", "g", "0"],
        &["XGROUP", "CREATE", "k", "h", "bad"],
        &["XGROUP", "SETID", "k", "g", "bad"],
        &["XGROUP", "SETID", "k", "g", "0", "ENTRIESREAD", "x"],
        &["XACK", "k", "g", "1-0", "bad"],
        &["XCLAIM", "k", "g", "b", "0", "1-0", "IDLE", "bad"],
        &["XCLAIM", "k", "g", "b", "0", "1-0", "FOO"],
        &["XAUTOCLAIM", "k", "g", "b", "0", "0", "COUNT", "0"],
        &w("XREADGROUP GROUP g a COUNT x STREAMS k >"),
        &["XREADGROUP", "GROUP", "g", "a", "STREAMS", "k", "$"],
        &["XREADGROUP", "GROUP", "g", "a", "STREAMS", "k"],
    ];
    for args in bad {
        let r = c.cmd(args);
        assert_eq!(r.first(), Some(&b'-'), "{args:?} -> {}", show(&r));
    }
    assert_eq!(snapshot(&mut c), before);
    c.check(&["XADD", "k", "3-0", "f", "x"], &bulk("3-0"));
}

fn redis_crate_roundtrip(s: &Server) {
    let mut con = s.client();
    let id: String = redis::cmd("XADD")
        .arg("rc")
        .arg("1-1")
        .arg("name")
        .arg("ringbus")
        .query(&mut con)
        .unwrap();
    assert_eq!(id, "1-1");
    let len: i64 = redis::cmd("XLEN").arg("rc").query(&mut con).unwrap();
    assert_eq!(len, 1);
    let range: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg("rc")
        .arg("-")
        .arg("+")
        .query(&mut con)
        .unwrap();
    assert_eq!(
        range,
        [(
            "1-1".to_string(),
            vec!["name".to_string(), "ringbus".to_string()]
        )]
    );
    let none: redis::Value = redis::cmd("XREAD")
        .arg("STREAMS")
        .arg("rc")
        .arg("$")
        .query(&mut con)
        .unwrap();
    assert_eq!(none, redis::Value::Nil);
    let err = redis::cmd("XADD")
        .arg("rc")
        .arg("1-1")
        .arg("a")
        .arg("b")
        .query::<String>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("equal or smaller"), "{err}");
}
