//! Generic key commands: DEL, UNLINK, EXISTS, TYPE, KEYS, SCAN, RENAME,
//! RENAMENX, EXPIRE & co, TTL, PTTL, PERSIST, lazy and active expiry.

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

sharded_tests!(
    del_and_unlink,
    exists_counts_duplicates,
    type_of_keys,
    keys_patterns,
    keys_many_shards,
    scan_walks_everything,
    scan_match_and_type,
    scan_errors,
    rename_across_shards,
    rename_errors_and_edge_cases,
    renamenx,
    expire_and_ttl,
    expire_options,
    expireat_and_pexpireat,
    persist,
    lazy_expiry,
    active_expiry,
);

fn set_many(c: &mut RawConn, keys: &[String]) {
    for k in keys {
        c.check(&["SET", k, &format!("val-{k}")], &ok());
    }
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

fn del_and_unlink(s: &Server) {
    let mut c = s.raw();
    let keys = names("del:", 60);
    set_many(&mut c, &keys);
    // One call spanning every shard, with missing keys and duplicates.
    let mut args = vec!["DEL"];
    args.extend(keys[..30].iter().map(|k| k.as_str()));
    args.extend(["nosuch1", "del:0", "nosuch2", "del:29"]);
    c.check(&args, &int(30));
    for k in &keys[..30] {
        c.check(&["EXISTS", k], &int(0));
    }
    c.check(&["DEL", "del:0"], &int(0));
    c.check(&["DEL", "del:30", "del:30"], &int(1));
    let mut args = vec!["UNLINK"];
    args.extend(keys[31..].iter().map(|k| k.as_str()));
    args.push("nosuch");
    c.check(&args, &int(29));
    c.check(&["DBSIZE"], &int(0));
    c.check(&["UNLINK", "del:1"], &int(0));
    c.check(
        &["DEL"],
        &err("ERR wrong number of arguments for 'del' command"),
    );
    c.check(
        &["UNLINK"],
        &err("ERR wrong number of arguments for 'unlink' command"),
    );

    // The redis crate sees the same.
    let mut con = s.client();
    let () = redis::cmd("MSET")
        .arg("{t}a")
        .arg(1)
        .arg("{t}b")
        .arg(2)
        .arg("u")
        .arg(3)
        .query(&mut con)
        .unwrap();
    let n: i64 = redis::cmd("DEL")
        .arg(&["{t}a", "{t}b", "u", "zz"])
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 3);
}

fn exists_counts_duplicates(s: &Server) {
    let mut c = s.raw();
    let keys = names("ex:", 40);
    set_many(&mut c, &keys);
    c.check(&["EXISTS", "ex:1"], &int(1));
    c.check(&["EXISTS", "nosuch"], &int(0));
    c.check(&["EXISTS", "ex:1", "ex:1", "ex:1"], &int(3));
    c.check(&["EXISTS", "ex:1", "nosuch", "ex:2", "ex:1"], &int(3));
    let mut args = vec!["EXISTS"];
    args.extend(keys.iter().map(|k| k.as_str()));
    args.extend(keys.iter().map(|k| k.as_str()));
    c.check(&args, &int(80));
    c.check(
        &["EXISTS"],
        &err("ERR wrong number of arguments for 'exists' command"),
    );
}

fn type_of_keys(s: &Server) {
    let mut c = s.raw();
    c.check(&["SET", "str", "v"], &ok());
    c.check(&["TYPE", "str"], &simple("string"));
    c.check(&["TYPE", "nosuch"], &simple("none"));
    c.check(&["SET", "num", "12"], &ok());
    c.check(&["INCR", "num"], &int(13));
    c.check(&["TYPE", "num"], &simple("string"));
    c.check(
        &["TYPE"],
        &err("ERR wrong number of arguments for 'type' command"),
    );
    c.check(
        &["TYPE", "a", "b"],
        &err("ERR wrong number of arguments for 'type' command"),
    );
}

fn sorted_keys(c: &mut RawConn, pattern: &str) -> Vec<String> {
    let r = Reply::parse(&c.cmd(&["KEYS", pattern]));
    let mut v: Vec<String> = r.as_array().iter().map(|k| k.as_text()).collect();
    v.sort();
    v
}

fn keys_patterns(s: &Server) {
    let mut c = s.raw();
    for k in [
        "hello", "hallo", "hxllo", "hllo", "heeello", "h*llo", "a[b", "other",
    ] {
        c.check(&["SET", k, "1"], &ok());
    }
    let cases: &[(&str, &[&str])] = &[
        ("h?llo", &["h*llo", "hallo", "hello", "hxllo"]),
        (
            "h*llo",
            &["h*llo", "hallo", "heeello", "hello", "hllo", "hxllo"],
        ),
        ("h[ae]llo", &["hallo", "hello"]),
        ("h[^e]llo", &["h*llo", "hallo", "hxllo"]),
        ("h[a-b]llo", &["hallo"]),
        ("h\\*llo", &["h*llo"]),
        ("a\\[b", &["a[b"]),
        ("hello", &["hello"]),
        ("nosuch*", &[]),
        (
            "*",
            &[
                "a[b", "h*llo", "hallo", "heeello", "hello", "hllo", "hxllo", "other",
            ],
        ),
    ];
    for (pattern, expected) in cases {
        assert_eq!(
            sorted_keys(&mut c, pattern),
            expected.to_vec(),
            "KEYS {pattern}"
        );
    }
    c.check(&["KEYS", "nosuch*"], b"*0\r\n");
    c.check(&["KEYS", "hello"], &bulks(&["hello"]));
    c.check(
        &["KEYS"],
        &err("ERR wrong number of arguments for 'keys' command"),
    );
    // Other databases are not listed.
    c.check(&["SELECT", "1"], &ok());
    c.check(&["KEYS", "*"], b"*0\r\n");
}

fn keys_many_shards(s: &Server) {
    let mut c = s.raw();
    let users = names("user:", 150);
    let items = names("item:", 50);
    set_many(&mut c, &users);
    set_many(&mut c, &items);
    let mut expected = users.clone();
    expected.sort();
    assert_eq!(sorted_keys(&mut c, "user:*"), expected);
    assert_eq!(sorted_keys(&mut c, "*").len(), 200);
    let mut tens: Vec<String> = (10..20).map(|i| format!("user:{i}")).collect();
    tens.sort();
    assert_eq!(sorted_keys(&mut c, "user:1?"), tens);
}

/// Walk a SCAN to the end; returns every key seen with how often.
fn scan_all(c: &mut RawConn, extra: &[&str]) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let mut args = vec!["SCAN", cursor.as_str()];
        args.extend_from_slice(extra);
        let r = Reply::parse(&c.cmd(&args));
        let parts = r.as_array();
        assert_eq!(parts.len(), 2, "SCAN reply {r:?}");
        let next = parts[0].as_text();
        next.parse::<u64>()
            .unwrap_or_else(|_| panic!("cursor {next:?} is not an unsigned integer"));
        for k in parts[1].as_array() {
            *seen.entry(k.as_text()).or_insert(0) += 1;
        }
        calls += 1;
        assert!(calls < 10_000, "SCAN never returned cursor 0");
        if next == "0" {
            return seen;
        }
        cursor = next;
    }
}

fn scan_walks_everything(s: &Server) {
    let mut c = s.raw();
    let keys = names("scan:", 400);
    set_many(&mut c, &keys);
    for count in [None, Some("1"), Some("7"), Some("1000")] {
        let extra: Vec<&str> = match count {
            Some(n) => vec!["COUNT", n],
            None => vec![],
        };
        let seen = scan_all(&mut c, &extra);
        for k in &keys {
            assert!(seen.contains_key(k), "SCAN {extra:?} missed {k}");
        }
        assert_eq!(seen.len(), keys.len(), "SCAN returned unknown keys");
    }
    // Only the selected database is scanned.
    c.check(&["SELECT", "3"], &ok());
    c.check(&["SET", "scan:db3", "v"], &ok());
    let seen = scan_all(&mut c, &[]);
    assert_eq!(seen.keys().collect::<Vec<_>>(), ["scan:db3"]);
}

fn scan_match_and_type(s: &Server) {
    let mut c = s.raw();
    let a = names("alpha:", 120);
    let b = names("beta:", 80);
    set_many(&mut c, &a);
    set_many(&mut c, &b);
    let seen = scan_all(&mut c, &["MATCH", "alpha:*", "COUNT", "10"]);
    let expected: BTreeSet<String> = a.iter().cloned().collect();
    assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), expected);
    let seen = scan_all(&mut c, &["MATCH", "beta:1?"]);
    let expected: BTreeSet<String> = (10..20).map(|i| format!("beta:{i}")).collect();
    assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), expected);
    let seen = scan_all(&mut c, &["TYPE", "string", "COUNT", "50"]);
    assert_eq!(seen.len(), 200);
    let seen = scan_all(&mut c, &["TYPE", "list"]);
    assert!(seen.is_empty(), "{seen:?}");
    let seen = scan_all(&mut c, &["MATCH", "beta:*", "TYPE", "STRING"]);
    assert_eq!(seen.len(), 80);
    let seen = scan_all(&mut c, &["MATCH", "nothing*"]);
    assert!(seen.is_empty());
}

fn scan_errors(s: &Server) {
    let mut c = s.raw();
    c.check(&["SCAN", "abc"], &err("ERR invalid cursor"));
    c.check(&["SCAN", "1.5"], &err("ERR invalid cursor"));
    c.check(&["SCAN", "0", "COUNT", "0"], &err("ERR syntax error"));
    c.check(
        &["SCAN", "0", "COUNT", "x"],
        &err("ERR value is not an integer or out of range"),
    );
    c.check(&["SCAN", "0", "FOO", "bar"], &err("ERR syntax error"));
    c.check(&["SCAN", "0", "MATCH"], &err("ERR syntax error"));
    c.check(
        &["SCAN"],
        &err("ERR wrong number of arguments for 'scan' command"),
    );
    // Empty database: one call, cursor 0, no keys.
    c.check(&["SCAN", "0"], &array(&[bulk("0"), array(&[])]));
}

fn ttl_of(c: &mut RawConn, k: &str) -> i64 {
    Reply::parse(&c.cmd(&["TTL", k])).as_int()
}

fn pttl_of(c: &mut RawConn, k: &str) -> i64 {
    Reply::parse(&c.cmd(&["PTTL", k])).as_int()
}

fn rename_across_shards(s: &Server) {
    let mut c = s.raw();
    // Different hash tags land on different shards; the same tag on one.
    for i in 0..24 {
        let src = format!("src{{{i}}}");
        let dst = format!("dst{{{}}}", i + 100);
        c.check(&["SET", &src, &format!("v{i}")], &ok());
        if i % 2 == 0 {
            c.check(&["EXPIRE", &src, "1000"], &int(1));
        }
        if i % 3 == 0 {
            // An existing destination with its own TTL is overwritten.
            c.check(&["SET", &dst, "old", "EX", "5000"], &ok());
        }
        c.check(&["RENAME", &src, &dst], &ok());
        c.check(&["EXISTS", &src], &int(0));
        c.check(&["GET", &dst], &bulk(&format!("v{i}")));
        let ttl = ttl_of(&mut c, &dst);
        if i % 2 == 0 {
            assert!((990..=1000).contains(&ttl), "TTL carried over: {ttl}");
        } else {
            assert_eq!(ttl, -1, "{dst} should have no TTL after RENAME");
        }
        // Same hash tag.
        let same = format!("moved{{{}}}", i + 100);
        c.check(&["RENAME", &dst, &same], &ok());
        c.check(&["GET", &same], &bulk(&format!("v{i}")));
        c.check(&["EXISTS", &dst], &int(0));
    }
    c.check(&["DBSIZE"], &int(24));
}

fn rename_errors_and_edge_cases(s: &Server) {
    let mut c = s.raw();
    c.check(&["RENAME", "nosuch", "x"], &err("ERR no such key"));
    c.check(&["RENAME", "nosuch", "nosuch"], &err("ERR no such key"));
    c.check(&["RENAMENX", "nosuch", "x"], &err("ERR no such key"));
    c.check(&["EXISTS", "x"], &int(0));
    c.check(&["SET", "self", "v", "EX", "100"], &ok());
    c.check(&["RENAME", "self", "self"], &ok());
    c.check(&["GET", "self"], &bulk("v"));
    assert!(ttl_of(&mut c, "self") > 90);
    c.check(&["RENAMENX", "self", "self"], &int(0));
    c.check(
        &["RENAME", "a"],
        &err("ERR wrong number of arguments for 'rename' command"),
    );
    c.check(
        &["RENAMENX", "a", "b", "c"],
        &err("ERR wrong number of arguments for 'renamenx' command"),
    );
    // Renaming in another database leaves db 0 alone.
    c.check(&["SELECT", "4"], &ok());
    c.check(&["SET", "self", "db4"], &ok());
    c.check(&["RENAME", "self", "other{9}"], &ok());
    c.check(&["SELECT", "0"], &ok());
    c.check(&["GET", "self"], &bulk("v"));
    c.check(&["EXISTS", "other{9}"], &int(0));
}

fn renamenx(s: &Server) {
    let mut c = s.raw();
    for i in 0..20 {
        let a = format!("a{{{i}}}");
        let b = format!("b{{{}}}", i * 7 + 3);
        c.check(&["SET", &a, "A"], &ok());
        c.check(&["SET", &b, "B"], &ok());
        c.check(&["RENAMENX", &a, &b], &int(0));
        c.check(&["GET", &a], &bulk("A"));
        c.check(&["GET", &b], &bulk("B"));
        c.check(&["DEL", &b], &int(1));
        c.check(&["RENAMENX", &a, &b], &int(1));
        c.check(&["GET", &b], &bulk("A"));
        c.check(&["EXISTS", &a], &int(0));
    }
}

fn expire_and_ttl(s: &Server) {
    let mut c = s.raw();
    c.check(&["TTL", "nosuch"], &int(-2));
    c.check(&["PTTL", "nosuch"], &int(-2));
    c.check(&["EXPIRE", "nosuch", "100"], &int(0));
    c.check(&["PEXPIRE", "nosuch", "100"], &int(0));
    let keys = names("ttl:", 30);
    set_many(&mut c, &keys);
    for k in &keys {
        c.check(&["TTL", k], &int(-1));
        c.check(&["PTTL", k], &int(-1));
        c.check(&["EXPIRE", k, "100"], &int(1));
        c.check(&["TTL", k], &int(100));
        let p = pttl_of(&mut c, k);
        assert!((98_000..=100_000).contains(&p), "PTTL {p}");
    }
    c.check(&["PEXPIRE", "ttl:0", "55555"], &int(1));
    let p = pttl_of(&mut c, "ttl:0");
    assert!((53_000..=55_555).contains(&p), "PTTL {p}");
    c.check(&["TTL", "ttl:0"], &int(56));
    // SET drops the TTL.
    c.check(&["SET", "ttl:1", "new"], &ok());
    c.check(&["TTL", "ttl:1"], &int(-1));
    // A zero or negative TTL deletes the key.
    c.check(&["EXPIRE", "ttl:2", "0"], &int(1));
    c.check(&["EXISTS", "ttl:2"], &int(0));
    c.check(&["PEXPIRE", "ttl:3", "-5"], &int(1));
    c.check(&["GET", "ttl:3"], &nil());
    c.check(&["TTL", "ttl:3"], &int(-2));
    c.check(
        &["EXPIRE", "ttl:4", "abc"],
        &err("ERR value is not an integer or out of range"),
    );
    c.check(
        &["EXPIRE", "ttl:4", "1.5"],
        &err("ERR value is not an integer or out of range"),
    );
    c.check(
        &["EXPIRE", "ttl:4", "9223372036854775807"],
        &err("ERR invalid expire time in 'expire' command"),
    );
    c.check(
        &["PEXPIRE", "ttl:4", "9223372036854775807"],
        &err("ERR invalid expire time in 'pexpire' command"),
    );
    c.check(
        &["EXPIRE", "ttl:4"],
        &err("ERR wrong number of arguments for 'expire' command"),
    );
    c.check(
        &["TTL"],
        &err("ERR wrong number of arguments for 'ttl' command"),
    );
    c.check(
        &["PTTL", "a", "b"],
        &err("ERR wrong number of arguments for 'pttl' command"),
    );
    c.check(&["TTL", "ttl:4"], &int(100));
}

fn expire_options(s: &Server) {
    let mut c = s.raw();
    for i in 0..12 {
        let k = format!("opt{{{i}}}");
        c.check(&["SET", &k, "v"], &ok());
        // No TTL counts as an infinite TTL for GT / LT.
        c.check(&["EXPIRE", &k, "100", "XX"], &int(0));
        c.check(&["EXPIRE", &k, "100", "GT"], &int(0));
        c.check(&["TTL", &k], &int(-1));
        c.check(&["EXPIRE", &k, "100", "LT"], &int(1));
        c.check(&["TTL", &k], &int(100));
        c.check(&["EXPIRE", &k, "200", "NX"], &int(0));
        c.check(&["EXPIRE", &k, "200", "XX"], &int(1));
        c.check(&["TTL", &k], &int(200));
        c.check(&["EXPIRE", &k, "150", "GT"], &int(0));
        c.check(&["EXPIRE", &k, "300", "gt"], &int(1));
        c.check(&["EXPIRE", &k, "400", "LT"], &int(0));
        c.check(&["EXPIRE", &k, "250", "lt"], &int(1));
        c.check(&["TTL", &k], &int(250));
        c.check(&["PEXPIRE", &k, "500000", "GT"], &int(1));
        c.check(&["PEXPIRE", &k, "400000", "LT"], &int(1));
        c.check(&["TTL", &k], &int(400));
        c.check(&["PERSIST", &k], &int(1));
        c.check(&["EXPIRE", &k, "100", "NX"], &int(1));
        c.check(&["TTL", &k], &int(100));
        // XX together with GT/LT is allowed.
        c.check(&["EXPIRE", &k, "120", "XX", "GT"], &int(1));
        c.check(&["TTL", &k], &int(120));
    }
    c.check(&["EXPIRE", "nosuch", "100", "NX"], &int(0));
    let nx = "ERR NX and XX, GT or LT options at the same time are not compatible";
    for opts in [["NX", "XX"], ["NX", "GT"], ["LT", "NX"]] {
        c.check(&["EXPIRE", "opt{0}", "10", opts[0], opts[1]], &err(nx));
        c.check(&["PEXPIRE", "opt{0}", "10", opts[0], opts[1]], &err(nx));
    }
    c.check(
        &["EXPIRE", "opt{0}", "10", "GT", "LT"],
        &err("ERR GT and LT options at the same time are not compatible"),
    );
    c.check(
        &["EXPIRE", "opt{0}", "10", "FOO"],
        &err("ERR Unsupported option FOO"),
    );
    c.check(&["EXPIREAT", "opt{0}", "10", "NX", "XX"], &err(nx));
    c.check(&["TTL", "opt{0}"], &int(120));
}

fn unix_now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
}

fn expireat_and_pexpireat(s: &Server) {
    let mut c = s.raw();
    let keys = names("at:", 20);
    set_many(&mut c, &keys);
    for k in &keys {
        let at = (unix_now().as_secs() + 1000).to_string();
        c.check(&["EXPIREAT", k, &at], &int(1));
        let t = ttl_of(&mut c, k);
        assert!((995..=1000).contains(&t), "TTL {t}");
        let at_ms = (unix_now().as_millis() + 500_000).to_string();
        c.check(&["PEXPIREAT", k, &at_ms], &int(1));
        let p = pttl_of(&mut c, k);
        assert!((495_000..=500_000).contains(&p), "PTTL {p}");
        c.check(&["EXPIREAT", k, &at, "LT"], &int(0));
        c.check(&["EXPIREAT", k, &at, "GT"], &int(1));
    }
    c.check(&["EXPIREAT", "nosuch", "99999999999"], &int(0));
    // A time in the past deletes the key.
    c.check(&["EXPIREAT", "at:0", "1"], &int(1));
    c.check(&["EXISTS", "at:0"], &int(0));
    c.check(&["PEXPIREAT", "at:1", "1000"], &int(1));
    c.check(&["GET", "at:1"], &nil());
    c.check(
        &["EXPIREAT", "at:2", "9223372036854775807"],
        &err("ERR invalid expire time in 'expireat' command"),
    );
    c.check(
        &["PEXPIREAT", "at:2", "x"],
        &err("ERR value is not an integer or out of range"),
    );
    c.check(&["DBSIZE"], &int(18));
}

fn persist(s: &Server) {
    let mut c = s.raw();
    c.check(&["PERSIST", "nosuch"], &int(0));
    let keys = names("p:", 20);
    for k in &keys {
        c.check(&["SET", k, "v", "EX", "100"], &ok());
        c.check(&["PERSIST", k], &int(1));
        c.check(&["TTL", k], &int(-1));
        c.check(&["PERSIST", k], &int(0));
        c.check(&["GET", k], &bulk("v"));
    }
    c.check(
        &["PERSIST"],
        &err("ERR wrong number of arguments for 'persist' command"),
    );
}

fn lazy_expiry(s: &Server) {
    let mut c = s.raw();
    let keys = names("lazy:", 20);
    for k in &keys {
        c.check(&["SET", k, "v", "PX", "50"], &ok());
    }
    c.check(&["SET", "lazy:keep", "v", "EX", "100"], &ok());
    std::thread::sleep(Duration::from_millis(120));
    for (i, k) in keys.iter().enumerate() {
        match i % 4 {
            0 => c.check(&["GET", k], &nil()),
            1 => c.check(&["EXISTS", k], &int(0)),
            2 => c.check(&["TTL", k], &int(-2)),
            _ => c.check(&["PERSIST", k], &int(0)),
        }
    }
    c.check(&["GET", "lazy:keep"], &bulk("v"));
    c.check(&["KEYS", "lazy:*"], &bulks(&["lazy:keep"]));
}

fn active_expiry(s: &Server) {
    let mut c = s.raw();
    let keys = names("active:", 200);
    for (i, k) in keys.iter().enumerate() {
        // Long enough that setting all 200 keys on a loaded machine finishes
        // before the first one is due (DBSIZE below must see all of them).
        let ms = (1000 + i % 5 * 50).to_string();
        c.check(&["SET", k, "v", "PX", &ms], &ok());
    }
    c.check(&["SET", "survivor", "v"], &ok());
    c.check(&["DBSIZE"], &int(201));
    // Never touch the keys: only the server's own expiry cycle removes them.
    let deadline = Instant::now() + Duration::from_secs(6);
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let n = Reply::parse(&c.cmd(&["DBSIZE"])).as_int();
        if n == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "active expiry left {} of 200 expired keys after 6 s",
            n - 1
        );
    }
    let stats = Reply::parse(&c.cmd(&["INFO", "stats"])).as_text();
    assert!(
        stats.contains("\r\nexpired_keys:200\r\n"),
        "expired_keys should be 200: {stats}"
    );
    c.check(&["GET", "survivor"], &bulk("v"));
}
