//! Hash commands: HSET, HSETNX, HMSET, HGET, HMGET, HDEL, HLEN, HEXISTS,
//! HGETALL, HKEYS, HVALS, HINCRBY, HINCRBYFLOAT, HSTRLEN, HRANDFIELD and
//! HSCAN; their errors and the order Redis checks them in, WRONGTYPE, RESP2
//! and RESP3 shapes, OBJECT ENCODING transitions, emptied hashes
//! disappearing, and MEMORY USAGE for every type.
//!
//! Every expectation was checked byte for byte against a real redis-server
//! (`RINGBUS_TEST_TARGET=redis`); the one place where Redis 7.0 (the
//! reference at hand) and 7.2 differ is marked and follows 7.2 for ringbus.

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};

sharded_tests!(
    hset_hget_and_friends,
    hsetnx_and_hmset,
    small_hash_keeps_insertion_order,
    hdel_deletes_emptied_key,
    hincrby,
    hincrbyfloat,
    hstrlen_and_binary_values,
    hrandfield_without_count,
    hrandfield_with_count,
    hrandfield_withvalues_resp2_and_resp3,
    hrandfield_errors_and_their_order,
    hscan_small_and_large,
    hscan_errors_and_their_order,
    encoding_transitions,
    large_hash_matches_model,
    resp3_shapes,
    wrongtype_for_every_command,
    arity_errors,
    writes_keep_the_deadline,
    memory_usage_for_every_type,
    memory_usage_errors,
    hash_type_and_scan_type,
);

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const NOT_FLOAT: &str = "ERR value is not a valid float";
const SYNTAX: &str = "ERR syntax error";

/// The fields and values of an HGETALL reply (map or flat array).
fn pairs_of(reply: &[u8]) -> BTreeMap<String, String> {
    Reply::parse(reply)
        .as_pairs()
        .into_iter()
        .map(|(k, v)| (k, v.as_text()))
        .collect()
}

// -------------------------------------------------------------------- tests

fn hset_hget_and_friends(s: &Server) {
    let mut c = s.raw();
    c.check(&["HSET", "h", "a", "1"], &int(1));
    c.check(&["HSET", "h", "b", "2", "c", "3"], &int(2));
    // Updating counts nothing; a repeated field in one call counts once.
    c.check(&["HSET", "h", "a", "10", "d", "4", "d", "5"], &int(1));
    c.check(&["HGET", "h", "a"], &bulk("10"));
    c.check(&["HGET", "h", "d"], &bulk("5"));
    c.check(&["HGET", "h", "zz"], &nil());
    c.check(&["HGET", "nokey", "a"], &nil());
    c.check(&["HLEN", "h"], &int(4));
    c.check(&["HLEN", "nokey"], &int(0));
    c.check(&["HEXISTS", "h", "b"], &int(1));
    c.check(&["HEXISTS", "h", "zz"], &int(0));
    c.check(&["HEXISTS", "nokey", "b"], &int(0));
    c.check(
        &["HMGET", "h", "a", "zz", "c"],
        &array(&[bulk("10"), nil(), bulk("3")]),
    );
    c.check(&["HMGET", "nokey", "a", "b"], &array(&[nil(), nil()]));
    c.check(&["TYPE", "h"], &simple("hash"));
    c.check(&["EXISTS", "h"], &int(1));
    // Empty fields and values are fine.
    c.check(&["HSET", "h", "", ""], &int(1));
    c.check(&["HGET", "h", ""], &bulk(""));
    c.check(&["HEXISTS", "h", ""], &int(1));
    // Case-insensitive command names.
    c.check(&["hset", "lower", "f", "v"], &int(1));
    c.check(&["hGeT", "lower", "f"], &bulk("v"));
    // Many keys on every shard.
    for i in 0..40 {
        let k = format!("many:{i}");
        c.check(&["HSET", &k, "f", &i.to_string()], &int(1));
    }
    for i in 0..40 {
        let k = format!("many:{i}");
        c.check(&["HGET", &k, "f"], &bulk(&i.to_string()));
    }
}

fn hsetnx_and_hmset(s: &Server) {
    let mut c = s.raw();
    c.check(&["HSETNX", "h", "a", "1"], &int(1));
    c.check(&["HSETNX", "h", "a", "2"], &int(0));
    c.check(&["HGET", "h", "a"], &bulk("1"));
    c.check(&["HSETNX", "h", "b", "2"], &int(1));
    c.check(&["HLEN", "h"], &int(2));
    c.check(&["HMSET", "h", "a", "x", "c", "y"], &ok());
    c.check(&["HMGET", "h", "a", "b", "c"], &bulks(&["x", "2", "y"]));
    c.check(&["HMSET", "new", "f", "v"], &ok());
    c.check(&["HGETALL", "new"], &bulks(&["f", "v"]));
}

fn small_hash_keeps_insertion_order(s: &Server) {
    let mut c = s.raw();
    c.check(&["HSET", "h", "z", "1", "a", "2", "m", "3"], &int(3));
    c.check(&["HGETALL", "h"], &bulks(&["z", "1", "a", "2", "m", "3"]));
    // An update keeps the field's place; a delete keeps the others' order.
    c.check(&["HSET", "h", "z", "9"], &int(0));
    c.check(&["HDEL", "h", "a"], &int(1));
    c.check(&["HSET", "h", "b", "4"], &int(1));
    c.check(&["HGETALL", "h"], &bulks(&["z", "9", "m", "3", "b", "4"]));
    c.check(&["HKEYS", "h"], &bulks(&["z", "m", "b"]));
    c.check(&["HVALS", "h"], &bulks(&["9", "3", "4"]));
    c.check(&["HKEYS", "nokey"], &bulks(&[]));
    c.check(&["HVALS", "nokey"], &bulks(&[]));
    c.check(&["HGETALL", "nokey"], &bulks(&[]));
    // HINCRBY rewrites the value in place too.
    c.check(&["HINCRBY", "h", "m", "1"], &int(4));
    c.check(&["HKEYS", "h"], &bulks(&["z", "m", "b"]));
}

fn hdel_deletes_emptied_key(s: &Server) {
    let mut c = s.raw();
    c.check(&["HDEL", "nokey", "a"], &int(0));
    c.check(&["HSET", "h", "a", "1", "b", "2", "c", "3"], &int(3));
    c.check(&["HDEL", "h", "zz"], &int(0));
    // Repeats count once.
    c.check(&["HDEL", "h", "a", "a", "zz"], &int(1));
    c.check(&["HLEN", "h"], &int(2));
    c.check(&["HDEL", "h", "b", "c", "b"], &int(2));
    c.check(&["EXISTS", "h"], &int(0));
    c.check(&["TYPE", "h"], &simple("none"));
    c.check(&["HLEN", "h"], &int(0));
    c.check(&["HGETALL", "h"], &bulks(&[]));
    // A big (hashtable) hash disappears the same way.
    let mut args = vec!["HSET".to_string(), "big".to_string()];
    for i in 0..600 {
        args.push(format!("f{i}"));
        args.push("v".into());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    c.check(&refs, &int(600));
    assert_eq!(encoding(&mut c, "big"), "hashtable");
    let mut del = vec!["HDEL".to_string(), "big".to_string()];
    del.extend((0..600).map(|i| format!("f{i}")));
    let refs: Vec<&str> = del.iter().map(String::as_str).collect();
    c.check(&refs, &int(600));
    c.check(&["EXISTS", "big"], &int(0));
}

fn hincrby(s: &Server) {
    let mut c = s.raw();
    c.check(&["HINCRBY", "h", "n", "5"], &int(5));
    c.check(&["HINCRBY", "h", "n", "-7"], &int(-2));
    c.check(&["HGET", "h", "n"], &bulk("-2"));
    c.check(&["HINCRBY", "h", "n", "0"], &int(-2));
    c.check(&["HSET", "h", "big", "9223372036854775807"], &int(1));
    c.check(
        &["HINCRBY", "h", "big", "1"],
        &err("ERR increment or decrement would overflow"),
    );
    c.check(&["HGET", "h", "big"], &bulk("9223372036854775807"));
    c.check(
        &["HINCRBY", "h", "m", "-9223372036854775808"],
        &int(i64::MIN),
    );
    c.check(
        &["HINCRBY", "h", "m", "-1"],
        &err("ERR increment or decrement would overflow"),
    );
    // Values must be integers in canonical form.
    for v in ["abc", " 1", "1 ", "1.5", "1e3", "01", "", "-0", "+1"] {
        c.check(&["HDEL", "h", "s"], &int((v != "abc") as i64));
        c.check(&["HSET", "h", "s", v], &int(1));
        c.check(
            &["HINCRBY", "h", "s", "1"],
            &err("ERR hash value is not an integer"),
        );
    }
    // Bad increments are rejected before the key is looked at.
    for inc in ["x", "1.5", "", "9223372036854775808", " 1"] {
        c.check(&["HINCRBY", "h", "n", inc], &err(NOT_INT));
        c.check(&["HINCRBY", "nokey", "n", inc], &err(NOT_INT));
    }
    c.check(&["EXISTS", "nokey"], &int(0));
    c.check(&["HINCRBY", "h", "neg", "-3"], &int(-3));
}

fn hincrbyfloat(s: &Server) {
    let mut c = s.raw();
    c.check(&["HINCRBYFLOAT", "h", "f", "10.5"], &bulk("10.5"));
    c.check(&["HINCRBYFLOAT", "h", "f", "0.1"], &bulk("10.6"));
    c.check(&["HINCRBYFLOAT", "h", "f", "-5"], &bulk("5.6"));
    c.check(&["HINCRBYFLOAT", "h", "g", "5.0e3"], &bulk("5000"));
    c.check(&["HGET", "h", "g"], &bulk("5000"));
    c.check(&["HSET", "h", "e", "1e3"], &int(1));
    c.check(&["HINCRBYFLOAT", "h", "e", "1"], &bulk("1001"));
    // The stored text is an integer now: HINCRBY accepts it.
    c.check(&["HINCRBY", "h", "e", "1"], &int(1002));
    c.check(&["HSET", "h", "i", "3"], &int(1));
    c.check(&["HINCRBYFLOAT", "h", "i", "-3"], &bulk("0"));
    c.check(&["HINCRBYFLOAT", "h", "i", "1.5e-3"], &bulk("0.0015"));
    // Errors.
    c.check(&["HSET", "h", "s", "abc"], &int(1));
    c.check(
        &["HINCRBYFLOAT", "h", "s", "1"],
        &err("ERR hash value is not a float"),
    );
    c.check(&["HSET", "h", "sp", " 1"], &int(1));
    c.check(
        &["HINCRBYFLOAT", "h", "sp", "1"],
        &err("ERR hash value is not a float"),
    );
    for inc in ["x", "", "nan", "1.5x", " 1"] {
        c.check(&["HINCRBYFLOAT", "h", "f", inc], &err(NOT_FLOAT));
    }
    for inc in ["inf", "-inf", "+inf"] {
        c.check(
            &["HINCRBYFLOAT", "h", "f", inc],
            &err("ERR value is NaN or Infinity"),
        );
        c.check(
            &["HINCRBYFLOAT", "nokey", "f", inc],
            &err("ERR value is NaN or Infinity"),
        );
    }
    c.check(&["EXISTS", "nokey"], &int(0));
    // Beyond long double's range.
    c.check(&["HSET", "h", "huge", "1e4932"], &int(1));
    c.check(
        &["HINCRBYFLOAT", "h", "huge", "1e4932"],
        &err("ERR increment would produce NaN or Infinity"),
    );
    c.check(&["HGET", "h", "huge"], &bulk("1e4932"));
    c.check(&["HGET", "h", "f"], &bulk("5.6"));
}

fn hstrlen_and_binary_values(s: &Server) {
    let mut c = s.raw();
    c.check(&["HSET", "h", "a", "hello"], &int(1));
    c.check(&["HSTRLEN", "h", "a"], &int(5));
    c.check(&["HSTRLEN", "h", "zz"], &int(0));
    c.check(&["HSTRLEN", "nokey", "a"], &int(0));
    let field: &[u8] = b"f\x00\r\n\xff";
    let value: &[u8] = b"\x00\x01\r\n$3\r\n";
    assert_eq!(c.cmd_bytes(&[b"HSET", b"bin", field, value]), int(1));
    assert_eq!(c.cmd_bytes(&[b"HGET", b"bin", field]), bulk_bytes(value));
    assert_eq!(c.cmd_bytes(&[b"HSTRLEN", b"bin", field]), int(8));
    let mut want = b"*2\r\n".to_vec();
    want.extend(bulk_bytes(field));
    want.extend(bulk_bytes(value));
    assert_eq!(c.cmd_bytes(&[b"HGETALL", b"bin"]), want);
    // A 100 KB value.
    let big = "x".repeat(100_000);
    c.check(&["HSET", "h", "big", &big], &int(1));
    c.check(&["HSTRLEN", "h", "big"], &int(100_000));
    c.check(&["HGET", "h", "big"], &bulk(&big));
}

fn hrandfield_without_count(s: &Server) {
    let mut c = s.raw();
    c.check(&["HRANDFIELD", "nokey"], &nil());
    c.check(&["HSET", "h", "a", "1", "b", "2", "c", "3"], &int(3));
    let mut seen = BTreeSet::new();
    for _ in 0..200 {
        let f = Reply::parse(&c.cmd(&["HRANDFIELD", "h"])).as_text();
        assert!(["a", "b", "c"].contains(&f.as_str()), "{f}");
        seen.insert(f);
    }
    assert_eq!(seen.len(), 3, "every field comes up: {seen:?}");
}

fn hrandfield_with_count(s: &Server) {
    let mut c = s.raw();
    c.check(&["HRANDFIELD", "nokey", "3"], &bulks(&[]));
    c.check(&["HRANDFIELD", "nokey", "-3"], &bulks(&[]));
    c.check(&["HSET", "h", "a", "1", "b", "2", "c", "3"], &int(3));
    c.check(&["HRANDFIELD", "h", "0"], &bulks(&[]));
    c.check(&["HRANDFIELD", "h", "0", "WITHVALUES"], &bulks(&[]));
    // A count covering the hash answers all of it, in its order.
    c.check(&["HRANDFIELD", "h", "3"], &bulks(&["a", "b", "c"]));
    c.check(&["HRANDFIELD", "h", "100"], &bulks(&["a", "b", "c"]));
    // Fewer: distinct fields.
    for _ in 0..50 {
        let got = texts(&Reply::parse(&c.cmd(&["HRANDFIELD", "h", "2"])));
        assert_eq!(got.len(), 2);
        assert_ne!(got[0], got[1]);
        assert!(got.iter().all(|f| ["a", "b", "c"].contains(&f.as_str())));
    }
    // Negative: exactly that many, repeats allowed.
    let got = texts(&Reply::parse(&c.cmd(&["HRANDFIELD", "h", "-20"])));
    assert_eq!(got.len(), 20);
    assert!(got.iter().all(|f| ["a", "b", "c"].contains(&f.as_str())));
    let distinct: BTreeSet<_> = got.iter().collect();
    assert!(distinct.len() <= 3);
    // A large (hashtable) hash.
    let mut args = vec!["HSET".to_string(), "big".to_string()];
    for i in 0..600 {
        args.push(format!("f{i}"));
        args.push(format!("v{i}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    c.check(&refs, &int(600));
    assert_eq!(encoding(&mut c, "big"), "hashtable");
    for count in ["10", "150", "250", "599"] {
        let got = texts(&Reply::parse(&c.cmd(&["HRANDFIELD", "big", count])));
        let distinct: BTreeSet<_> = got.iter().collect();
        assert_eq!(got.len(), count.parse::<usize>().unwrap());
        assert_eq!(distinct.len(), got.len(), "distinct for {count}");
    }
    let all = texts(&Reply::parse(&c.cmd(&["HRANDFIELD", "big", "1000"])));
    let distinct: BTreeSet<_> = all.iter().collect();
    assert_eq!((all.len(), distinct.len()), (600, 600));
    let got = texts(&Reply::parse(&c.cmd(&["HRANDFIELD", "big", "-500"])));
    assert_eq!(got.len(), 500);
}

fn hrandfield_withvalues_resp2_and_resp3(s: &Server) {
    let mut c = s.raw();
    c.check(&["HSET", "h", "a", "1", "b", "2"], &int(2));
    c.check(
        &["HRANDFIELD", "h", "5", "WITHVALUES"],
        &bulks(&["a", "1", "b", "2"]),
    );
    c.check(
        &["HRANDFIELD", "h", "2", "withvalues"],
        &bulks(&["a", "1", "b", "2"]),
    );
    let r = Reply::parse(&c.cmd(&["HRANDFIELD", "h", "-5", "WITHVALUES"]));
    let flat = texts(&r);
    assert_eq!(flat.len(), 10);
    for pair in flat.chunks(2) {
        let want = if pair[0] == "a" { "1" } else { "2" };
        assert_eq!(pair[1], want, "{flat:?}");
    }
    let r = texts(&Reply::parse(&c.cmd(&[
        "HRANDFIELD",
        "h",
        "1",
        "WITHVALUES",
    ])));
    assert_eq!(r.len(), 2);
    hello3(&mut c);
    // RESP3: an array of [field, value] pairs.
    c.check(
        &["HRANDFIELD", "h", "5", "WITHVALUES"],
        &array(&[bulks(&["a", "1"]), bulks(&["b", "2"])]),
    );
    let r = Reply::parse(&c.cmd(&["HRANDFIELD", "h", "-3", "WITHVALUES"]));
    assert_eq!(r.as_array().len(), 3);
    for pair in r.as_array() {
        let p = texts(pair);
        assert_eq!(p.len(), 2);
        assert_eq!(p[1], if p[0] == "a" { "1" } else { "2" });
    }
    // Without values, RESP3 is a plain array of fields.
    c.check(&["HRANDFIELD", "h", "5"], &bulks(&["a", "b"]));
    c.check(&["HRANDFIELD", "nokey", "5", "WITHVALUES"], &bulks(&[]));
    c.check(&["HRANDFIELD", "nokey"], b"_\r\n");
}

fn hrandfield_errors_and_their_order(s: &Server) {
    let mut c = s.raw();
    c.check(&["HSET", "h", "a", "1"], &int(1));
    c.check(&["SET", "str", "x"], &ok());
    c.check(&["HRANDFIELD", "h", "x"], &err(NOT_INT));
    c.check(&["HRANDFIELD", "nokey", "x"], &err(NOT_INT));
    c.check(&["HRANDFIELD", "str", "x"], &err(NOT_INT));
    c.check(
        &["HRANDFIELD", "h", "-9223372036854775808"],
        &err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
    );
    c.check(&["HRANDFIELD", "h", "1", "x"], &err(SYNTAX));
    c.check(&["HRANDFIELD", "h", "1", "WITHVALUES", "x"], &err(SYNTAX));
    c.check(&["HRANDFIELD", "nokey", "1", "x"], &err(SYNTAX));
    c.check(
        &["HRANDFIELD", "h", "5000000000000000000", "WITHVALUES"],
        &err("ERR value is out of range"),
    );
    c.check(
        &["HRANDFIELD", "h", "-5000000000000000000", "WITHVALUES"],
        &err("ERR value is out of range"),
    );
    // Without WITHVALUES a huge positive count is fine.
    c.check(&["HRANDFIELD", "h", "5000000000000000000"], &bulks(&["a"]));
    c.check(&["HRANDFIELD", "str"], &err(WRONGTYPE));
    c.check(&["HRANDFIELD", "str", "0"], &err(WRONGTYPE));
    c.check(&["HRANDFIELD", "str", "1", "WITHVALUES"], &err(WRONGTYPE));
}

fn hscan_small_and_large(s: &Server) {
    let mut c = s.raw();
    c.check(&["HSCAN", "nokey", "0"], &array(&[bulk("0"), bulks(&[])]));
    c.check(&["HSET", "h", "a", "1", "b", "2", "ab", "3"], &int(3));
    // A small hash comes back whole, cursor 0, whatever COUNT says.
    c.check(
        &["HSCAN", "h", "0"],
        &array(&[bulk("0"), bulks(&["a", "1", "b", "2", "ab", "3"])]),
    );
    c.check(
        &["HSCAN", "h", "0", "COUNT", "1"],
        &array(&[bulk("0"), bulks(&["a", "1", "b", "2", "ab", "3"])]),
    );
    c.check(
        &["HSCAN", "h", "0", "MATCH", "a*"],
        &array(&[bulk("0"), bulks(&["a", "1", "ab", "3"])]),
    );
    c.check(
        &["HSCAN", "h", "0", "match", "*", "count", "100"],
        &array(&[bulk("0"), bulks(&["a", "1", "b", "2", "ab", "3"])]),
    );
    c.check(
        &["HSCAN", "h", "0", "MATCH", "zz*"],
        &array(&[bulk("0"), bulks(&[])]),
    );
    // The cursor of a small hash is not looked at.
    c.check(
        &["HSCAN", "h", "12345", "MATCH", "b"],
        &array(&[bulk("0"), bulks(&["b", "2"])]),
    );
    // A large hash takes several calls and yields every pair once.
    let mut args = vec!["HSET".to_string(), "big".to_string()];
    for i in 0..1000 {
        args.push(format!("field:{i}"));
        args.push(format!("value:{i}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    c.check(&refs, &int(1000));
    let (items, calls) = scan_key(&mut c, "HSCAN", "big", &["COUNT", "20"]);
    assert!(calls > 5, "{calls} calls");
    let mut seen = BTreeMap::new();
    for p in items.chunks(2) {
        assert_eq!(p[1], p[0].replace("field", "value"));
        seen.insert(p[0].clone(), p[1].clone());
    }
    assert_eq!(seen.len(), 1000);
    let (items, _) = scan_key(
        &mut c,
        "HSCAN",
        "big",
        &["MATCH", "field:1??", "COUNT", "50"],
    );
    let fields: BTreeSet<String> = items.chunks(2).map(|p| p[0].clone()).collect();
    let want: BTreeSet<String> = (100..200).map(|i| format!("field:{i}")).collect();
    assert_eq!(fields, want);
}

fn hscan_errors_and_their_order(s: &Server) {
    let mut c = s.raw();
    c.check(&["HSET", "h", "a", "1"], &int(1));
    c.check(&["SET", "str", "x"], &ok());
    let all = array(&[bulk("0"), bulks(&["a", "1"])]);
    // Cursors are read like strtoul: a sign, no spaces, "" is 0.
    for cur in ["-1", "+1", "", "18446744073709551615"] {
        c.check(&["HSCAN", "h", cur], &all);
    }
    for cur in [" 1", "1 ", "x", "18446744073709551616", "1.5", "+", "0x10"] {
        c.check(&["HSCAN", "h", cur], &err("ERR invalid cursor"));
        c.check(&["HSCAN", "nokey", cur], &err("ERR invalid cursor"));
        c.check(&["HSCAN", "str", cur], &err("ERR invalid cursor"));
    }
    // A missing key answers before the options are read; WRONGTYPE too.
    let empty = array(&[bulk("0"), bulks(&[])]);
    c.check(&["HSCAN", "nokey", "0", "COUNT", "0"], &empty);
    c.check(&["HSCAN", "nokey", "0", "BOGUS"], &empty);
    c.check(&["HSCAN", "str", "0", "COUNT", "0"], &err(WRONGTYPE));
    c.check(&["HSCAN", "h", "0", "COUNT", "0"], &err(SYNTAX));
    c.check(&["HSCAN", "h", "0", "COUNT", "-1"], &err(SYNTAX));
    c.check(&["HSCAN", "h", "0", "COUNT", "x"], &err(NOT_INT));
    c.check(&["HSCAN", "h", "0", "COUNT"], &err(SYNTAX));
    c.check(&["HSCAN", "h", "0", "MATCH"], &err(SYNTAX));
    c.check(&["HSCAN", "h", "0", "TYPE", "string"], &err(SYNTAX));
    c.check(&["HSCAN", "h", "0", "NOVALUES"], &err(SYNTAX));
    c.check(&["HSCAN", "h", "0", "COUNT", "5", "MATCH"], &err(SYNTAX));
}

fn encoding_transitions(s: &Server) {
    let mut c = s.raw();
    c.check(&["HSET", "h", "f", "v"], &int(1));
    assert_eq!(encoding(&mut c, "h"), "listpack");
    // hash-max-listpack-entries is 512 in a redis-server started without a
    // configuration file (the sample redis.conf says 128).
    for i in 1..512 {
        c.check(&["HSET", "h", &format!("f{i}"), "v"], &int(1));
    }
    assert_eq!(encoding(&mut c, "h"), "listpack", "512 fields");
    c.check(&["HSET", "h", "one-more", "v"], &int(1));
    assert_eq!(encoding(&mut c, "h"), "hashtable", "513 fields");
    // One way: shrinking does not go back.
    for i in 1..512 {
        c.check(&["HDEL", "h", &format!("f{i}")], &int(1));
    }
    c.check(&["HLEN", "h"], &int(2));
    assert_eq!(encoding(&mut c, "h"), "hashtable");

    let v64 = "x".repeat(64);
    let v65 = "x".repeat(65);
    c.check(&["HSET", "v", "f", &v64, &v64, "v"], &int(2));
    assert_eq!(encoding(&mut c, "v"), "listpack", "64-byte strings fit");
    c.check(&["HSET", "v", "g", &v65], &int(1));
    assert_eq!(encoding(&mut c, "v"), "hashtable", "a 65-byte value");
    c.check(&["HSET", "fld", &v65, "1"], &int(1));
    assert_eq!(encoding(&mut c, "fld"), "hashtable", "a 65-byte field");
    c.check(&["HSETNX", "nx", &v65, "1"], &int(1));
    assert_eq!(encoding(&mut c, "nx"), "hashtable", "HSETNX converts too");
    // HINCRBY with a long field name converts too.
    c.check(&["HINCRBY", "inc", &v65, "1"], &int(1));
    assert_eq!(encoding(&mut c, "inc"), "hashtable");
    c.check(&["HINCRBYFLOAT", "incf", "f", "1.5"], &bulk("1.5"));
    assert_eq!(encoding(&mut c, "incf"), "listpack");
    // HSETNX on an existing field does not convert.
    c.check(&["HSETNX", "incf", "f", &v65], &int(0));
    assert_eq!(encoding(&mut c, "incf"), "listpack");

    // Redis 7.2 presizes (and so converts) when one HSET brings more pairs
    // than a listpack holds, even if they repeat one field; 7.0 does not.
    let mut args = vec!["HSET".to_string(), "dup".to_string()];
    for _ in 0..513 {
        args.push("f".into());
        args.push("v".into());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    c.check(&refs, &int(1));
    let want = if s.is_ringbus() {
        "hashtable"
    } else {
        "listpack"
    };
    assert_eq!(encoding(&mut c, "dup"), want);
}

fn large_hash_matches_model(s: &Server) {
    let mut c = s.raw();
    let mut model = BTreeMap::new();
    for i in 0..2000u32 {
        let (f, v) = (format!("k{}", i * 7919 % 3001), format!("v{i}"));
        let added = model.insert(f.clone(), v.clone()).is_none();
        c.check(&["HSET", "h", &f, &v], &int(added as i64));
    }
    for i in (0..3001).step_by(3) {
        let f = format!("k{i}");
        let had = model.remove(&f).is_some();
        c.check(&["HDEL", "h", &f], &int(had as i64));
    }
    c.check(&["HLEN", "h"], &int(model.len() as i64));
    assert_eq!(pairs_of(&c.cmd(&["HGETALL", "h"])), model);
    let keys: BTreeSet<String> = texts(&Reply::parse(&c.cmd(&["HKEYS", "h"])))
        .into_iter()
        .collect();
    assert_eq!(keys, model.keys().cloned().collect());
    let mut vals = texts(&Reply::parse(&c.cmd(&["HVALS", "h"])));
    vals.sort();
    let mut want: Vec<String> = model.values().cloned().collect();
    want.sort();
    assert_eq!(vals, want);
    for (f, v) in model.iter().take(50) {
        c.check(&["HGET", "h", f], &bulk(v));
    }
}

fn resp3_shapes(s: &Server) {
    let mut c = s.raw();
    hello3(&mut c);
    c.check(&["HSET", "h", "a", "1", "b", "2"], &int(2));
    c.check(
        &["HGETALL", "h"],
        b"%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n",
    );
    c.check(&["HGETALL", "nokey"], b"%0\r\n");
    c.check(&["HGET", "h", "zz"], b"_\r\n");
    c.check(&["HMGET", "h", "a", "zz"], b"*2\r\n$1\r\n1\r\n_\r\n");
    c.check(&["HKEYS", "h"], &bulks(&["a", "b"]));
    c.check(&["HVALS", "h"], &bulks(&["1", "2"]));
    c.check(&["HINCRBYFLOAT", "h", "a", "0.5"], &bulk("1.5"));
    c.check(&["HINCRBY", "h", "b", "1"], &int(3));
    c.check(&["HEXISTS", "h", "a"], &int(1));
    c.check(
        &["HSCAN", "h", "0", "MATCH", "a"],
        &array(&[bulk("0"), bulks(&["a", "1.5"])]),
    );
    c.check(&["HSCAN", "nokey", "0"], &array(&[bulk("0"), bulks(&[])]));
    c.check(&["MEMORY", "USAGE", "nokey"], b"_\r\n");
}

fn wrongtype_for_every_command(s: &Server) {
    let mut c = s.raw();
    c.check(&["SET", "s", "v"], &ok());
    c.check(&["RPUSH", "l", "v"], &int(1));
    let cmds: &[&[&str]] = &[
        &["HSET", "s", "a", "1"],
        &["HSETNX", "s", "a", "1"],
        &["HMSET", "s", "a", "1"],
        &["HGET", "s", "a"],
        &["HMGET", "s", "a", "b"],
        &["HDEL", "s", "a"],
        &["HLEN", "s"],
        &["HEXISTS", "s", "a"],
        &["HGETALL", "s"],
        &["HKEYS", "s"],
        &["HVALS", "s"],
        &["HINCRBY", "s", "a", "1"],
        &["HINCRBYFLOAT", "s", "a", "1"],
        &["HSTRLEN", "s", "a"],
        &["HRANDFIELD", "s"],
        &["HRANDFIELD", "s", "3"],
        &["HSCAN", "s", "0"],
        &["HSET", "l", "a", "1"],
        &["HGETALL", "l"],
    ];
    for cmd in cmds {
        c.check(cmd, &err(WRONGTYPE));
    }
    c.check(&["GET", "s"], &bulk("v"));
    c.check(&["LLEN", "l"], &int(1));
    // The other way round: string and list commands on a hash.
    c.check(&["HSET", "h", "a", "1"], &int(1));
    for cmd in [
        &["GET", "h"][..],
        &["INCR", "h"],
        &["LPUSH", "h", "x"],
        &["LLEN", "h"],
        &["XLEN", "h"],
        &["APPEND", "h", "x"],
    ] {
        c.check(cmd, &err(WRONGTYPE));
    }
    // SET replaces a hash.
    c.check(&["SET", "h", "x"], &ok());
    c.check(&["TYPE", "h"], &simple("string"));
    // Argument errors come before WRONGTYPE.
    c.check(&["HSET", "s", "a"], &arity("hset"));
    c.check(&["HSET", "s", "a", "1", "b"], &arity("hset"));
    c.check(&["HINCRBY", "s", "a", "x"], &err(NOT_INT));
    c.check(&["HINCRBYFLOAT", "s", "a", "x"], &err(NOT_FLOAT));
}

fn arity_errors(s: &Server) {
    let mut c = s.raw();
    let cases: &[(&[&str], &str)] = &[
        (&["HSET"], "hset"),
        (&["HSET", "h"], "hset"),
        (&["HSET", "h", "f"], "hset"),
        (&["HSET", "h", "f", "v", "g"], "hset"),
        (&["HMSET", "h", "f"], "hmset"),
        (&["HMSET", "h", "f", "v", "g"], "hmset"),
        (&["HSETNX", "h", "f"], "hsetnx"),
        (&["HSETNX", "h", "f", "v", "x"], "hsetnx"),
        (&["HGET", "h"], "hget"),
        (&["HGET", "h", "f", "g"], "hget"),
        (&["HMGET", "h"], "hmget"),
        (&["HDEL", "h"], "hdel"),
        (&["HLEN"], "hlen"),
        (&["HLEN", "h", "x"], "hlen"),
        (&["HEXISTS", "h"], "hexists"),
        (&["HGETALL"], "hgetall"),
        (&["HGETALL", "h", "x"], "hgetall"),
        (&["HKEYS", "h", "x"], "hkeys"),
        (&["HVALS"], "hvals"),
        (&["HINCRBY", "h", "f"], "hincrby"),
        (&["HINCRBY", "h", "f", "1", "2"], "hincrby"),
        (&["HINCRBYFLOAT", "h", "f"], "hincrbyfloat"),
        (&["HSTRLEN", "h"], "hstrlen"),
        (&["HRANDFIELD"], "hrandfield"),
        (&["HSCAN", "h"], "hscan"),
        (&["MEMORY", "USAGE"], "memory|usage"),
        (&["MEMORY"], "memory"),
    ];
    for (cmd, name) in cases {
        c.check(cmd, &arity(name));
    }
    c.check(&["EXISTS", "h"], &int(0));
}

fn writes_keep_the_deadline(s: &Server) {
    let mut c = s.raw();
    c.check(&["HSET", "h", "a", "1"], &int(1));
    c.check(&["EXPIRE", "h", "100"], &int(1));
    c.check(&["HSET", "h", "b", "2"], &int(1));
    c.check(&["HINCRBY", "h", "a", "1"], &int(2));
    c.check(&["HDEL", "h", "b"], &int(1));
    c.check(&["TTL", "h"], &int(100));
    // An expired hash is gone for every command.
    c.check(&["HSET", "gone", "a", "1"], &int(1));
    c.check(&["PEXPIRE", "gone", "1"], &int(1));
    std::thread::sleep(std::time::Duration::from_millis(20));
    c.check(&["HGET", "gone", "a"], &nil());
    c.check(&["HLEN", "gone"], &int(0));
    c.check(&["HSET", "gone", "b", "1"], &int(1));
    c.check(&["HGETALL", "gone"], &bulks(&["b", "1"]));
    c.check(&["TTL", "gone"], &int(-1));
}

fn usage(c: &mut RawConn, args: &[&str]) -> i64 {
    Reply::parse(&c.cmd(args)).as_int()
}

fn memory_usage_for_every_type(s: &Server) {
    let mut c = s.raw();
    c.check(&["MEMORY", "USAGE", "nokey"], &nil());
    c.check(&["SET", "str", "hello"], &ok());
    c.check(&["RPUSH", "list", "a", "b"], &int(2));
    c.check(&["HSET", "hash", "a", "1"], &int(1));
    c.check(&["SADD", "set", "a"], &int(1));
    c.check(&["SADD", "iset", "1", "2"], &int(2));
    let id = Reply::parse(&c.cmd(&["XADD", "stream", "*", "f", "v"])).as_text();
    assert!(!id.is_empty());
    for key in ["str", "list", "hash", "set", "iset", "stream"] {
        for extra in [&[][..], &["SAMPLES", "0"], &["samples", "3"]] {
            let mut args = vec!["MEMORY", "USAGE", key];
            args.extend_from_slice(extra);
            let n = usage(&mut c, &args);
            assert!(n > 0 && n < 1 << 20, "{key}: {n}");
        }
    }
    // It grows with the value.
    let small = usage(&mut c, &["MEMORY", "USAGE", "hash", "SAMPLES", "0"]);
    let mut args = vec!["HSET".to_string(), "hash".to_string()];
    for i in 0..1000 {
        args.push(format!("field:{i}"));
        args.push("x".repeat(100));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    c.check(&refs, &int(1000));
    let big = usage(&mut c, &["MEMORY", "USAGE", "hash", "SAMPLES", "0"]);
    assert!(big > small + 100_000, "{small} -> {big}");
    let sampled = usage(&mut c, &["MEMORY", "USAGE", "hash"]);
    assert!(sampled > big / 2 && sampled < big * 2, "{sampled} vs {big}");
    let set_small = usage(&mut c, &["MEMORY", "USAGE", "set", "SAMPLES", "0"]);
    let mut args = vec!["SADD".to_string(), "set".to_string()];
    args.extend((0..1000).map(|i| format!("member:{i}:{}", "y".repeat(50))));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    c.check(&refs, &int(1000));
    let set_big = usage(&mut c, &["MEMORY", "USAGE", "set", "SAMPLES", "0"]);
    assert!(set_big > set_small + 50_000, "{set_small} -> {set_big}");
    c.check(&["DEL", "hash"], &int(1));
    c.check(&["MEMORY", "USAGE", "hash"], &nil());
}

fn memory_usage_errors(s: &Server) {
    let mut c = s.raw();
    c.check(&["SET", "k", "v"], &ok());
    // Options are checked before the key.
    for key in ["k", "nokey"] {
        c.check(&["MEMORY", "USAGE", key, "SAMPLES", "-1"], &err(SYNTAX));
        c.check(&["MEMORY", "USAGE", key, "SAMPLES", "x"], &err(NOT_INT));
        c.check(&["MEMORY", "USAGE", key, "SAMPLES"], &err(SYNTAX));
        c.check(&["MEMORY", "USAGE", key, "FOO"], &err(SYNTAX));
        c.check(&["MEMORY", "USAGE", key, "SAMPLES", "5", "X"], &err(SYNTAX));
    }
    c.check(
        &["MEMORY", "FOO"],
        &err("ERR unknown subcommand 'FOO'. Try MEMORY HELP."),
    );
}

fn hash_type_and_scan_type(s: &Server) {
    let mut c = s.raw();
    c.check(&["HSET", "h1", "a", "1"], &int(1));
    c.check(&["HSET", "h2", "a", "1"], &int(1));
    c.check(&["SET", "str", "x"], &ok());
    let mut keys = Vec::new();
    let mut cursor = "0".to_string();
    loop {
        let r = Reply::parse(&c.cmd(&["SCAN", &cursor, "TYPE", "hash", "COUNT", "100"]));
        let parts = r.as_array();
        keys.extend(texts(&parts[1]));
        cursor = parts[0].as_text();
        if cursor == "0" {
            break;
        }
    }
    keys.sort();
    assert_eq!(keys, vec!["h1", "h2"]);
}
