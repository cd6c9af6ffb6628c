//! String commands: GET, SET and its options, SETNX, SETEX, PSETEX, GETDEL,
//! GETEX, MGET, MSET, MSETNX, INCR & co, INCRBYFLOAT, APPEND, STRLEN.

mod common;

use common::*;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

sharded_tests!(
    get_and_set,
    binary_values,
    set_expire_options,
    set_nx_xx_get_keepttl,
    set_errors,
    setnx_setex_psetex,
    getdel,
    getex,
    mget_mset,
    msetnx_is_atomic_across_shards,
    incr_decr,
    incr_errors,
    incrbyfloat,
    append_strlen,
    redis_crate_roundtrip,
);

const NOT_INT: &str = "ERR value is not an integer or out of range";
const OVERFLOW: &str = "ERR increment or decrement would overflow";

fn ttl_of(c: &mut RawConn, k: &str) -> i64 {
    Reply::parse(&c.cmd(&["TTL", k])).as_int()
}

fn pttl_of(c: &mut RawConn, k: &str) -> i64 {
    Reply::parse(&c.cmd(&["PTTL", k])).as_int()
}

fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
}

fn get_and_set(s: &Server) {
    let mut c = s.raw();
    c.check(&["GET", "nosuch"], &nil());
    for i in 0..100 {
        c.check(&["SET", &format!("str:{i}"), &format!("value {i}")], &ok());
    }
    for i in 0..100 {
        c.check(&["GET", &format!("str:{i}")], &bulk(&format!("value {i}")));
    }
    c.check(&["SET", "str:1", "overwritten"], &ok());
    c.check(&["GET", "str:1"], &bulk("overwritten"));
    c.check(&["SET", "empty", ""], &ok());
    c.check(&["GET", "empty"], &bulk(""));
    c.check(&["SET", "", "empty key"], &ok());
    c.check(&["GET", ""], &bulk("empty key"));
    c.check(
        &["GET"],
        &err("ERR wrong number of arguments for 'get' command"),
    );
    c.check(
        &["GET", "a", "b"],
        &err("ERR wrong number of arguments for 'get' command"),
    );
    c.check(
        &["SET", "a"],
        &err("ERR wrong number of arguments for 'set' command"),
    );
    // Commands are case-insensitive, keys are not.
    c.check(&["sEt", "Case", "1"], &ok());
    c.check(&["get", "case"], &nil());
    c.check(&["GeT", "Case"], &bulk("1"));
}

fn binary_values(s: &Server) {
    let mut c = s.raw();
    let val: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let key: &[u8] = b"bin\x00key\r\n";
    assert_eq!(c.cmd_bytes(&[b"SET", key, &val]), ok());
    assert_eq!(c.cmd_bytes(&[b"GET", key]), bulk_bytes(&val));
    assert_eq!(c.cmd_bytes(&[b"STRLEN", key]), int(5000));
    c.check(&["GET", "bin"], &nil());
}

fn set_expire_options(s: &Server) {
    let mut c = s.raw();
    c.check(&["SET", "ex", "v", "EX", "100"], &ok());
    c.check(&["TTL", "ex"], &int(100));
    c.check(&["SET", "px", "v", "PX", "100000"], &ok());
    let p = pttl_of(&mut c, "px");
    assert!((98_000..=100_000).contains(&p), "{p}");
    let at = (now().as_secs() + 200).to_string();
    c.check(&["SET", "exat", "v", "EXAT", &at], &ok());
    let t = ttl_of(&mut c, "exat");
    assert!((195..=200).contains(&t), "{t}");
    let at_ms = (now().as_millis() + 300_000).to_string();
    c.check(&["SET", "pxat", "v", "PXAT", &at_ms], &ok());
    let p = pttl_of(&mut c, "pxat");
    assert!((295_000..=300_000).contains(&p), "{p}");
    // Lower-case options.
    c.check(&["set", "lower", "v", "ex", "50"], &ok());
    c.check(&["TTL", "lower"], &int(50));
    // A time in the past stores nothing visible.
    c.check(&["SET", "past", "v", "EXAT", "1"], &ok());
    c.check(&["EXISTS", "past"], &int(0));
    c.check(&["SET", "past", "v", "PXAT", "1"], &ok());
    c.check(&["GET", "past"], &nil());
    // A plain SET drops the TTL.
    c.check(&["SET", "ex", "v2"], &ok());
    c.check(&["TTL", "ex"], &int(-1));
    // Many keys on all shards.
    for i in 0..40 {
        c.check(&["SET", &format!("e{i}"), "v", "EX", "1000"], &ok());
    }
    for i in 0..40 {
        let t = ttl_of(&mut c, &format!("e{i}"));
        assert!((995..=1000).contains(&t), "{t}");
    }
}

fn set_nx_xx_get_keepttl(s: &Server) {
    let mut c = s.raw();
    c.check(&["SET", "k", "1", "XX"], &nil());
    c.check(&["EXISTS", "k"], &int(0));
    c.check(&["SET", "k", "1", "NX"], &ok());
    c.check(&["SET", "k", "2", "NX"], &nil());
    c.check(&["GET", "k"], &bulk("1"));
    c.check(&["SET", "k", "3", "XX"], &ok());
    c.check(&["GET", "k"], &bulk("3"));
    // GET returns the old value.
    c.check(&["SET", "k", "4", "GET"], &bulk("3"));
    c.check(&["SET", "new", "1", "GET"], &nil());
    c.check(&["GET", "new"], &bulk("1"));
    // NX + GET: the old value comes back and nothing is written.
    c.check(&["SET", "k", "5", "NX", "GET"], &bulk("4"));
    c.check(&["GET", "k"], &bulk("4"));
    c.check(&["SET", "nx-get", "1", "NX", "GET"], &nil());
    c.check(&["GET", "nx-get"], &bulk("1"));
    c.check(&["SET", "xx-get", "1", "XX", "GET"], &nil());
    c.check(&["EXISTS", "xx-get"], &int(0));
    // KEEPTTL keeps the TTL; plain SET drops it.
    c.check(&["SET", "kt", "a", "EX", "100"], &ok());
    c.check(&["SET", "kt", "b", "KEEPTTL"], &ok());
    c.check(&["TTL", "kt"], &int(100));
    c.check(&["GET", "kt"], &bulk("b"));
    c.check(&["SET", "kt", "c", "GET", "KEEPTTL"], &bulk("b"));
    c.check(&["TTL", "kt"], &int(100));
    c.check(&["SET", "kt", "d", "XX", "GET", "EX", "50"], &bulk("c"));
    c.check(&["TTL", "kt"], &int(50));
    c.check(&["SET", "kt", "e"], &ok());
    c.check(&["TTL", "kt"], &int(-1));
    c.check(&["SET", "kt-missing", "x", "KEEPTTL"], &ok());
    c.check(&["TTL", "kt-missing"], &int(-1));
    // Repeated flags are accepted.
    c.check(&["SET", "rep", "a", "NX", "NX"], &ok());
    c.check(&["SET", "rep", "b", "GET", "GET"], &bulk("a"));
}

fn set_errors(s: &Server) {
    let mut c = s.raw();
    let syntax = err("ERR syntax error");
    let invalid = err("ERR invalid expire time in 'set' command");
    for args in [
        &["SET", "k", "v", "NX", "XX"][..],
        &["SET", "k", "v", "EX", "10", "PX", "100"],
        &["SET", "k", "v", "EX", "10", "EXAT", "100"],
        &["SET", "k", "v", "PXAT", "10", "EXAT", "100"],
        &["SET", "k", "v", "EX", "10", "KEEPTTL"],
        &["SET", "k", "v", "KEEPTTL", "PX", "10"],
        &["SET", "k", "v", "EX"],
        &["SET", "k", "v", "PX"],
        &["SET", "k", "v", "FOO"],
        &["SET", "k", "v", "10"],
    ] {
        c.check(args, &syntax);
    }
    for args in [
        &["SET", "k", "v", "EX", "0"][..],
        &["SET", "k", "v", "EX", "-1"],
        &["SET", "k", "v", "PX", "0"],
        &["SET", "k", "v", "PX", "-100"],
        &["SET", "k", "v", "EXAT", "0"],
        &["SET", "k", "v", "PXAT", "-1"],
        &["SET", "k", "v", "EX", "9223372036854775807"],
        &["SET", "k", "v", "EX", "0", "NX"],
    ] {
        c.check(args, &invalid);
    }
    for args in [
        &["SET", "k", "v", "EX", "abc"][..],
        &["SET", "k", "v", "EX", "1.5"],
        &["SET", "k", "v", "PX", ""],
        &["SET", "k", "v", "EX", "99999999999999999999"],
    ] {
        c.check(args, &err(NOT_INT));
    }
    // Nothing was stored by any failed SET.
    c.check(&["EXISTS", "k"], &int(0));
}

fn setnx_setex_psetex(s: &Server) {
    let mut c = s.raw();
    for i in 0..30 {
        let k = format!("nx:{i}");
        c.check(&["SETNX", &k, "first"], &int(1));
        c.check(&["SETNX", &k, "second"], &int(0));
        c.check(&["GET", &k], &bulk("first"));
    }
    c.check(
        &["SETNX", "a"],
        &err("ERR wrong number of arguments for 'setnx' command"),
    );
    c.check(&["SET", "se", "old", "EX", "5"], &ok());
    c.check(&["SETEX", "se", "100", "v"], &ok());
    c.check(&["GET", "se"], &bulk("v"));
    c.check(&["TTL", "se"], &int(100));
    c.check(&["PSETEX", "pse", "100000", "v"], &ok());
    let p = pttl_of(&mut c, "pse");
    assert!((98_000..=100_000).contains(&p), "{p}");
    c.check(&["GET", "pse"], &bulk("v"));
    c.check(
        &["SETEX", "se", "0", "v"],
        &err("ERR invalid expire time in 'setex' command"),
    );
    c.check(
        &["SETEX", "se", "-10", "v"],
        &err("ERR invalid expire time in 'setex' command"),
    );
    c.check(
        &["PSETEX", "se", "0", "v"],
        &err("ERR invalid expire time in 'psetex' command"),
    );
    c.check(&["SETEX", "se", "v", "100"], &err(NOT_INT));
    c.check(
        &["SETEX", "se", "100"],
        &err("ERR wrong number of arguments for 'setex' command"),
    );
    c.check(
        &["PSETEX", "se"],
        &err("ERR wrong number of arguments for 'psetex' command"),
    );
    // The failed calls left the key alone.
    c.check(&["GET", "se"], &bulk("v"));
    c.check(&["TTL", "se"], &int(100));
}

fn getdel(s: &Server) {
    let mut c = s.raw();
    for i in 0..30 {
        let k = format!("gd:{i}");
        c.check(&["SET", &k, &i.to_string(), "EX", "100"], &ok());
        c.check(&["GETDEL", &k], &bulk(&i.to_string()));
        c.check(&["GETDEL", &k], &nil());
        c.check(&["EXISTS", &k], &int(0));
    }
    c.check(
        &["GETDEL"],
        &err("ERR wrong number of arguments for 'getdel' command"),
    );
    c.check(&["DBSIZE"], &int(0));
}

fn getex(s: &Server) {
    let mut c = s.raw();
    c.check(&["GETEX", "nosuch"], &nil());
    c.check(&["GETEX", "nosuch", "EX", "10"], &nil());
    c.check(&["EXISTS", "nosuch"], &int(0));
    c.check(&["SET", "g", "v"], &ok());
    c.check(&["GETEX", "g"], &bulk("v"));
    c.check(&["TTL", "g"], &int(-1));
    c.check(&["GETEX", "g", "EX", "100"], &bulk("v"));
    c.check(&["TTL", "g"], &int(100));
    c.check(&["GETEX", "g"], &bulk("v"));
    c.check(&["TTL", "g"], &int(100));
    c.check(&["GETEX", "g", "PX", "200000"], &bulk("v"));
    c.check(&["TTL", "g"], &int(200));
    let at = (now().as_secs() + 300).to_string();
    c.check(&["GETEX", "g", "EXAT", &at], &bulk("v"));
    let t = ttl_of(&mut c, "g");
    assert!((295..=300).contains(&t), "{t}");
    let at_ms = (now().as_millis() + 400_000).to_string();
    c.check(&["GETEX", "g", "PXAT", &at_ms], &bulk("v"));
    let t = ttl_of(&mut c, "g");
    assert!((395..=400).contains(&t), "{t}");
    c.check(&["GETEX", "g", "PERSIST"], &bulk("v"));
    c.check(&["TTL", "g"], &int(-1));
    for args in [
        &["GETEX", "g", "EX", "10", "PX", "10"][..],
        &["GETEX", "g", "PERSIST", "EX", "10"],
        &["GETEX", "g", "FOO"],
        &["GETEX", "g", "EX"],
        &["GETEX", "g", "KEEPTTL"],
    ] {
        c.check(args, &err("ERR syntax error"));
    }
    c.check(
        &["GETEX", "g", "EX", "0"],
        &err("ERR invalid expire time in 'getex' command"),
    );
    c.check(&["GETEX", "g", "EX", "abc"], &err(NOT_INT));
    c.check(
        &["GETEX"],
        &err("ERR wrong number of arguments for 'getex' command"),
    );
    c.check(&["TTL", "g"], &int(-1));
    // A time in the past deletes the key after returning it.
    c.check(&["GETEX", "g", "PXAT", "1"], &bulk("v"));
    c.check(&["EXISTS", "g"], &int(0));
}

fn mget_mset(s: &Server) {
    let mut c = s.raw();
    let mut args = vec!["MSET".to_string()];
    for i in 0..100 {
        args.push(format!("m:{i}"));
        args.push(format!("v{i}"));
    }
    let refs: Vec<&str> = args.iter().map(|a| a.as_str()).collect();
    c.check(&refs, &ok());
    let mut args = vec!["MGET".to_string()];
    let mut expected = Vec::new();
    for i in 0..120 {
        args.push(format!("m:{i}"));
        expected.push(if i < 100 {
            bulk(&format!("v{i}"))
        } else {
            nil()
        });
    }
    args.push("m:5".into());
    expected.push(bulk("v5"));
    let refs: Vec<&str> = args.iter().map(|a| a.as_str()).collect();
    c.check(&refs, &array(&expected));
    // Last value wins for a repeated key.
    c.check(&["MSET", "dup", "1", "dup", "2"], &ok());
    c.check(&["GET", "dup"], &bulk("2"));
    // MSET drops TTLs.
    c.check(&["SET", "m:0", "x", "EX", "100"], &ok());
    c.check(&["MSET", "m:0", "y", "m:1", "z"], &ok());
    c.check(&["TTL", "m:0"], &int(-1));
    c.check(
        &["MGET", "m:0", "nosuch", "m:1"],
        &array(&[bulk("y"), nil(), bulk("z")]),
    );
    c.check(
        &["MSET", "a"],
        &err("ERR wrong number of arguments for 'mset' command"),
    );
    c.check(
        &["MSET", "a", "1", "b"],
        &err("ERR wrong number of arguments for 'mset' command"),
    );
    c.check(
        &["MGET"],
        &err("ERR wrong number of arguments for 'mget' command"),
    );
    c.check(&["EXISTS", "a", "b"], &int(0));
}

fn msetnx_is_atomic_across_shards(s: &Server) {
    let mut c = s.raw();
    // Keys with many different hash tags: they span every shard.
    let keys: Vec<String> = (0..30).map(|i| format!("nx{{{i}}}")).collect();
    let mut args = vec!["MSETNX".to_string()];
    for k in &keys {
        args.push(k.clone());
        args.push(format!("{k}-v"));
    }
    let refs: Vec<&str> = args.iter().map(|a| a.as_str()).collect();
    c.check(&refs, &int(1));
    for k in &keys {
        c.check(&["GET", k], &bulk(&format!("{k}-v")));
    }
    // One existing key among many new ones: nothing is written.
    let mut args = vec!["MSETNX".to_string()];
    for i in 0..30 {
        args.push(format!("fresh{{{i}}}"));
        args.push("new".into());
    }
    args.push("nx{17}".into());
    args.push("clobbered".into());
    let refs: Vec<&str> = args.iter().map(|a| a.as_str()).collect();
    c.check(&refs, &int(0));
    for i in 0..30 {
        c.check(&["EXISTS", &format!("fresh{{{i}}}")], &int(0));
    }
    c.check(&["GET", "nx{17}"], &bulk("nx{17}-v"));
    c.check(&["MSETNX", "d", "1", "d", "2"], &int(1));
    c.check(&["GET", "d"], &bulk("2"));
    c.check(
        &["MSETNX", "a", "1", "b"],
        &err("ERR wrong number of arguments for 'msetnx' command"),
    );
}

fn incr_decr(s: &Server) {
    let mut c = s.raw();
    for i in 0..30 {
        let k = format!("cnt:{i}");
        c.check(&["INCR", &k], &int(1));
        c.check(&["INCR", &k], &int(2));
        c.check(&["INCRBY", &k, "10"], &int(12));
        c.check(&["DECR", &k], &int(11));
        c.check(&["DECRBY", &k, "20"], &int(-9));
        c.check(&["INCRBY", &k, "-1"], &int(-10));
        c.check(&["DECRBY", &k, "-15"], &int(5));
        c.check(&["GET", &k], &bulk("5"));
    }
    c.check(&["DECR", "neg"], &int(-1));
    c.check(&["SET", "n", "-17"], &ok());
    c.check(&["INCR", "n"], &int(-16));
    c.check(&["SET", "n", "9223372036854775806"], &ok());
    c.check(&["INCR", "n"], &int(9223372036854775807));
    c.check(&["INCR", "n"], &err(OVERFLOW));
    c.check(&["INCRBY", "n", "1"], &err(OVERFLOW));
    c.check(&["GET", "n"], &bulk("9223372036854775807"));
    c.check(&["SET", "n", "-9223372036854775808"], &ok());
    c.check(&["DECR", "n"], &err(OVERFLOW));
    c.check(&["DECRBY", "n", "1"], &err(OVERFLOW));
    c.check(&["INCRBY", "n", "-1"], &err(OVERFLOW));
    c.check(&["INCRBY", "n", "9223372036854775807"], &int(-1));
    c.check(
        &["DECRBY", "n", "-9223372036854775808"],
        &err("ERR decrement would overflow"),
    );
    // INCR keeps the TTL.
    c.check(&["SET", "t", "1", "EX", "100"], &ok());
    c.check(&["INCR", "t"], &int(2));
    c.check(&["TTL", "t"], &int(100));
}

fn incr_errors(s: &Server) {
    let mut c = s.raw();
    for v in [
        "abc",
        "1.5",
        " 1",
        "1 ",
        "01",
        "-0",
        "",
        "+1",
        "9223372036854775808",
        "1e3",
    ] {
        c.check(&["SET", "bad", v], &ok());
        c.check(&["INCR", "bad"], &err(NOT_INT));
        c.check(&["DECRBY", "bad", "2"], &err(NOT_INT));
        c.check(&["GET", "bad"], &bulk(v));
    }
    c.check(&["SET", "good", "5"], &ok());
    for by in ["abc", "1.0", "", "99999999999999999999"] {
        c.check(&["INCRBY", "good", by], &err(NOT_INT));
        c.check(&["DECRBY", "good", by], &err(NOT_INT));
    }
    c.check(&["GET", "good"], &bulk("5"));
    c.check(
        &["INCR"],
        &err("ERR wrong number of arguments for 'incr' command"),
    );
    c.check(
        &["INCRBY", "good"],
        &err("ERR wrong number of arguments for 'incrby' command"),
    );
    c.check(
        &["DECR", "a", "b"],
        &err("ERR wrong number of arguments for 'decr' command"),
    );
    c.check(
        &["DECRBY", "a"],
        &err("ERR wrong number of arguments for 'decrby' command"),
    );
}

fn incrbyfloat(s: &Server) {
    let mut c = s.raw();
    c.check(&["INCRBYFLOAT", "f", "10.5"], &bulk("10.5"));
    c.check(&["INCRBYFLOAT", "f", "0.1"], &bulk("10.6"));
    c.check(&["INCRBYFLOAT", "f", "-5"], &bulk("5.6"));
    c.check(&["GET", "f"], &bulk("5.6"));
    c.check(&["SET", "f", "0.1"], &ok());
    c.check(&["INCRBYFLOAT", "f", "0.2"], &bulk("0.3"));
    c.check(&["SET", "f", "3"], &ok());
    c.check(&["INCRBYFLOAT", "f", "-3"], &bulk("0"));
    c.check(&["INCRBYFLOAT", "f", "-0.5"], &bulk("-0.5"));
    c.check(&["SET", "f", "1e5"], &ok());
    c.check(&["INCRBYFLOAT", "f", "1"], &bulk("100001"));
    c.check(&["INCRBYFLOAT", "f", "1.5e3"], &bulk("101501"));
    c.check(&["INCRBYFLOAT", "g", "5.0e3"], &bulk("5000"));
    c.check(&["INCRBYFLOAT", "int", "7"], &bulk("7"));
    c.check(&["INCR", "int"], &int(8));
    c.check(&["SET", "e", "5", "EX", "100"], &ok());
    c.check(&["INCRBYFLOAT", "e", "1.25"], &bulk("6.25"));
    c.check(&["TTL", "e"], &int(100));
    let bad = err("ERR value is not a valid float");
    c.check(&["INCRBYFLOAT", "f", "abc"], &bad);
    c.check(&["INCRBYFLOAT", "f", ""], &bad);
    c.check(&["INCRBYFLOAT", "f", "nan"], &bad);
    c.check(&["SET", "s", "abc"], &ok());
    c.check(&["INCRBYFLOAT", "s", "1"], &bad);
    c.check(
        &["INCRBYFLOAT", "f", "inf"],
        &err("ERR increment would produce NaN or Infinity"),
    );
    c.check(&["GET", "f"], &bulk("101501"));
    c.check(
        &["INCRBYFLOAT", "f"],
        &err("ERR wrong number of arguments for 'incrbyfloat' command"),
    );
}

fn append_strlen(s: &Server) {
    let mut c = s.raw();
    c.check(&["STRLEN", "nosuch"], &int(0));
    for i in 0..30 {
        let k = format!("ap:{i}");
        c.check(&["APPEND", &k, "abc"], &int(3));
        c.check(&["APPEND", &k, "defg"], &int(7));
        c.check(&["APPEND", &k, ""], &int(7));
        c.check(&["GET", &k], &bulk("abcdefg"));
        c.check(&["STRLEN", &k], &int(7));
    }
    // APPEND of an empty string creates the key.
    c.check(&["APPEND", "empty", ""], &int(0));
    c.check(&["EXISTS", "empty"], &int(1));
    c.check(&["GET", "empty"], &bulk(""));
    // On a number.
    c.check(&["SET", "num", "12"], &ok());
    c.check(&["APPEND", "num", "3"], &int(3));
    c.check(&["INCR", "num"], &int(124));
    c.check(&["STRLEN", "num"], &int(3));
    // APPEND keeps the TTL.
    c.check(&["SET", "t", "x", "EX", "100"], &ok());
    c.check(&["APPEND", "t", "y"], &int(2));
    c.check(&["TTL", "t"], &int(100));
    c.check(
        &["APPEND", "a"],
        &err("ERR wrong number of arguments for 'append' command"),
    );
    c.check(
        &["STRLEN"],
        &err("ERR wrong number of arguments for 'strlen' command"),
    );
}

fn redis_crate_roundtrip(s: &Server) {
    let mut con = s.client();
    for i in 0..50 {
        let () = redis::cmd("SET")
            .arg(format!("rc:{i}"))
            .arg(i * 3)
            .query(&mut con)
            .unwrap();
    }
    let keys: Vec<String> = (0..50).map(|i| format!("rc:{i}")).collect();
    let vals: Vec<Option<i64>> = redis::cmd("MGET").arg(&keys).query(&mut con).unwrap();
    assert_eq!(vals, (0..50).map(|i| Some(i * 3)).collect::<Vec<_>>());
    let n: i64 = redis::cmd("INCRBY")
        .arg("rc:7")
        .arg(100)
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 121);
    let missing: Option<String> = redis::cmd("GET").arg("nope").query(&mut con).unwrap();
    assert_eq!(missing, None);
    let e = redis::cmd("INCR")
        .arg("rc:nonnum")
        .arg("extra")
        .query::<i64>(&mut con)
        .unwrap_err();
    assert_eq!(e.code(), Some("ERR"));
}
