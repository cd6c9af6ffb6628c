//! COPY, MOVE, SWAPDB, SORT / SORT_RO and OBJECT FREQ / IDLETIME /
//! REFCOUNT / HELP: what the differential script (tests/scripts/
//! keys_more.redis) cannot show: keys spread over every shard, blocked
//! clients and WATCH around SWAPDB, EXEC and scripts, RESP3 shapes, the
//! access clock, restarts from the append-only log, and SORT against a
//! model on random data.

mod common;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::time::Duration;

sharded_tests!(
    copy_every_type_across_shards,
    copy_keeps_stream_groups,
    copy_and_move_between_databases,
    list_encodings_by_version,
    swapdb_serves_blocked_clients,
    swapdb_fails_watchers,
    swapdb_in_multi_and_scripts,
    sort_patterns_over_every_shard,
    sort_in_multi_and_scripts,
    sort_resp3,
    object_idletime_and_touch,
    restore_idletime,
    object_refcount_and_freq,
);

fn texts_of(c: &mut RawConn, args: &[&str]) -> Vec<String> {
    texts(&Reply::parse(&c.cmd(args)))
}

fn copy_every_type_across_shards(s: &Server) {
    let mut c = s.raw();
    for i in 0..12 {
        let (src, dst) = (format!("src{{{i}}}"), format!("dst{{{}}}", i + 50));
        c.check(&["RPUSH", &src, "a", "b", &i.to_string()], &int(3));
        if i % 2 == 0 {
            c.check(&["PEXPIRE", &src, "100000"], &int(1));
        }
        c.check(&["COPY", &src, &dst], &int(1));
        c.check(&["COPY", &src, &dst], &int(0));
        c.check(
            &["LRANGE", &dst, "0", "-1"],
            &bulks(&["a", "b", &i.to_string()]),
        );
        let pttl = Reply::parse(&c.cmd(&["PTTL", &dst])).as_int();
        if i % 2 == 0 {
            assert!((90_000..=100_000).contains(&pttl), "{dst}: {pttl}");
            let (a, b) = (c.cmd(&["PEXPIRETIME", &src]), c.cmd(&["PEXPIRETIME", &dst]));
            assert_eq!(a, b, "the deadline is copied as it is");
        } else {
            assert_eq!(pttl, -1);
        }
        // The copy is its own: changing it leaves the source alone.
        c.check(&["LPOP", &dst], &bulk("a"));
        c.check(&["LLEN", &src], &int(3));
        c.check(&["COPY", &src, &dst, "REPLACE"], &int(1));
        c.check(&["LLEN", &dst], &int(3));
    }
    c.check(&["HSET", "{a}h", "f", "v", "g", "w"], &int(2));
    c.check(&["COPY", "{a}h", "{b}h"], &int(1));
    c.check(&["HGET", "{b}h", "g"], &bulk("w"));
    c.check(&["SADD", "{a}s", "1", "x"], &int(2));
    c.check(&["COPY", "{a}s", "{b}s"], &int(1));
    c.check(&["SISMEMBER", "{b}s", "x"], &int(1));
    c.check(&["ZADD", "{a}z", "1.5", "m"], &int(1));
    c.check(&["COPY", "{a}z", "{b}z"], &int(1));
    c.check(&["ZSCORE", "{b}z", "m"], &bulk("1.5"));
    c.check(&["SET", "{a}str", "text"], &ok());
    c.check(&["COPY", "{a}str", "{b}str"], &int(1));
    c.check(&["GET", "{b}str"], &bulk("text"));
    c.check(
        &["COPY", "{a}str", "{a}str"],
        &err("ERR source and destination objects are the same"),
    );
}

fn copy_keeps_stream_groups(s: &Server) {
    let mut c = s.raw();
    for i in 1..=5 {
        c.check(
            &["XADD", "{x}s", &format!("{i}-0"), "f", "v"],
            &bulk(&format!("{i}-0")),
        );
    }
    c.check(&["XGROUP", "CREATE", "{x}s", "g1", "0"], &ok());
    c.check(&["XGROUP", "CREATE", "{x}s", "g2", "$"], &ok());
    c.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "alice",
        "COUNT",
        "2",
        "STREAMS",
        "{x}s",
        ">",
    ]);
    c.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "bob",
        "COUNT",
        "1",
        "STREAMS",
        "{x}s",
        ">",
    ]);
    c.check(&["COPY", "{x}s", "{y}s"], &int(1));
    for cmd in [
        vec!["XPENDING", "KEY", "g1"],
        vec!["XPENDING", "KEY", "g1", "-", "+", "10", "bob"],
        vec!["XINFO", "STREAM", "KEY"],
    ] {
        let on = |key: &str| -> Vec<String> {
            cmd.iter()
                .map(|a| {
                    if *a == "KEY" {
                        key.to_string()
                    } else {
                        a.to_string()
                    }
                })
                .collect()
        };
        let (a, b) = (on("{x}s"), on("{y}s"));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let b: Vec<&str> = b.iter().map(String::as_str).collect();
        let (ra, rb) = (c.cmd(&a), c.cmd(&b));
        // XPENDING's idle times may differ by a millisecond or so.
        if cmd[0] == "XPENDING" && cmd.len() > 3 {
            assert_eq!(
                Reply::parse(&ra).as_array().len(),
                Reply::parse(&rb).as_array().len()
            );
        } else {
            assert_eq!(show(&ra), show(&rb), "{cmd:?}");
        }
    }
    // Acknowledging in the copy leaves the source's PEL alone.
    c.check(&["XACK", "{y}s", "g1", "1-0", "2-0", "3-0"], &int(3));
    let pending = Reply::parse(&c.cmd(&["XPENDING", "{x}s", "g1"]));
    assert_eq!(pending.as_array()[0].as_int(), 3);
}

fn copy_and_move_between_databases(s: &Server) {
    let mut c = s.raw();
    c.check(&["SET", "k", "v", "EX", "1000"], &ok());
    c.check(&["COPY", "k", "k", "DB", "4"], &int(1));
    c.check(&["MOVE", "k", "4"], &int(0));
    c.check(&["SELECT", "4"], &ok());
    c.check(&["GET", "k"], &bulk("v"));
    let ttl = Reply::parse(&c.cmd(&["TTL", "k"])).as_int();
    assert!((990..=1000).contains(&ttl), "{ttl}");
    c.check(&["DEL", "k"], &int(1));
    c.check(&["SELECT", "0"], &ok());
    c.check(&["MOVE", "k", "4"], &int(1));
    c.check(&["EXISTS", "k"], &int(0));
    c.check(&["SELECT", "4"], &ok());
    let ttl = Reply::parse(&c.cmd(&["TTL", "k"])).as_int();
    assert!((990..=1000).contains(&ttl), "the deadline moves too: {ttl}");
    // Cross-shard COPY into another database.
    c.check(&["SELECT", "0"], &ok());
    for i in 0..10 {
        let (src, dst) = (format!("a{{{i}}}"), format!("b{{{}}}", i + 30));
        c.check(&["SET", &src, &i.to_string()], &ok());
        c.check(&["COPY", &src, &dst, "DB", "7"], &int(1));
        c.check(&["EXISTS", &dst], &int(0));
    }
    c.check(&["SELECT", "7"], &ok());
    c.check(&["DBSIZE"], &int(10));
    c.check(&["GET", "b{39}"], &bulk("9"));
}

/// Redis 7.2 keeps small lists as listpacks (7.0: quicklist), copies and
/// SORT ... STORE results included.
fn list_encodings_by_version(s: &Server) {
    let mut c = s.raw();
    let small = if is_72(&mut c) {
        "listpack"
    } else {
        "quicklist"
    };
    c.check(&["RPUSH", "{a}l", "3", "1", "2"], &int(3));
    c.check(&["COPY", "{a}l", "{b}l"], &int(1));
    assert_eq!(encoding(&mut c, "{b}l"), small);
    c.check(&["SORT", "{a}l", "STORE", "{c}l"], &int(3));
    assert_eq!(encoding(&mut c, "{c}l"), small);
    c.check(&["LRANGE", "{c}l", "0", "-1"], &bulks(&["1", "2", "3"]));
    let big: Vec<String> = (0..200).map(|i| format!("{i:0>70}")).collect();
    let mut args = vec!["RPUSH", "{a}big"];
    args.extend(big.iter().map(String::as_str));
    c.check(&args, &int(200));
    c.check(&["SORT", "{a}big", "ALPHA", "STORE", "{c}big"], &int(200));
    assert_eq!(encoding(&mut c, "{c}big"), "quicklist");
    c.check(&["COPY", "{a}big", "{b}big"], &int(1));
    assert_eq!(encoding(&mut c, "{b}big"), "quicklist");
}

fn swapdb_serves_blocked_clients(s: &Server) {
    let mut admin = s.raw();
    let mut waiter = s.raw();
    // Blocked on list `q` in db 0; db 1 holds `q` (another shard's keys
    // too): after the swap the waiter's database has it.
    admin.check(&["SELECT", "1"], &ok());
    admin.check(&["RPUSH", "q", "from-db1"], &int(1));
    admin.check(&["SET", "other{z}", "x"], &ok());
    admin.check(&["SELECT", "0"], &ok());
    block_and_wait(&mut waiter, &mut admin, &["BLPOP", "q", "0"]);
    admin.check(&["SWAPDB", "0", "1"], &ok());
    assert_eq!(waiter.read_reply(), bulks(&["q", "from-db1"]));
    admin.check(&["EXISTS", "q"], &int(0));
    admin.check(&["GET", "other{z}"], &bulk("x"));
    // A waiter whose key is not in the swapped-in database stays blocked.
    block_and_wait(&mut waiter, &mut admin, &["BLPOP", "nothing", "0"]);
    admin.check(&["SWAPDB", "0", "1"], &ok());
    assert_no_reply(&waiter, Duration::from_millis(100));
    admin.check(&["RPUSH", "nothing", "now"], &int(1));
    assert_eq!(waiter.read_reply(), bulks(&["nothing", "now"]));
}

fn swapdb_fails_watchers(s: &Server) {
    let mut c = s.raw();
    let mut other = s.raw();
    // Watched in db 0, absent there, present in db 1: the swap changes it.
    other.check(&["SELECT", "1"], &ok());
    other.check(&["SET", "w{1}", "v"], &ok());
    c.check(&["WATCH", "w{1}"], &ok());
    other.check(&["SWAPDB", "0", "1"], &ok());
    c.check(&["MULTI"], &ok());
    c.check(&["GET", "w{1}"], &simple("QUEUED"));
    c.check(&["EXEC"], &nil_array());
    // Watched, absent in both databases: untouched.
    c.check(&["WATCH", "none{2}"], &ok());
    other.check(&["SWAPDB", "0", "1"], &ok());
    c.check(&["MULTI"], &ok());
    c.check(&["PING"], &simple("QUEUED"));
    c.check(&["EXEC"], &array(&[simple("PONG")]));
    // A database not swapped, or swapped with itself: untouched.
    c.check(&["SET", "w{3}", "x"], &ok());
    c.check(&["WATCH", "w{3}"], &ok());
    other.check(&["SWAPDB", "2", "3"], &ok());
    other.check(&["SWAPDB", "0", "0"], &ok());
    c.check(&["MULTI"], &ok());
    c.check(&["GET", "w{3}"], &simple("QUEUED"));
    c.check(&["EXEC"], &array(&[bulk("x")]));
}

fn swapdb_in_multi_and_scripts(s: &Server) {
    let mut c = s.raw();
    for i in 0..8 {
        c.check(&["SET", &format!("k{{{i}}}"), "db0"], &ok());
    }
    c.check(&["MULTI"], &ok());
    c.check(&["SWAPDB", "0", "1"], &simple("QUEUED"));
    c.check(&["DBSIZE"], &simple("QUEUED"));
    c.check(&["SELECT", "1"], &simple("QUEUED"));
    c.check(&["DBSIZE"], &simple("QUEUED"));
    c.check(&["EXEC"], &array(&[ok(), int(0), ok(), int(8)]));
    c.check(&["SELECT", "0"], &ok());
    c.check(
        &[
            "EVAL",
            "redis.call('SWAPDB', 0, 1) return redis.call('GET', KEYS[1])",
            "1",
            "k{3}",
        ],
        &bulk("db0"),
    );
    c.check(&["DBSIZE"], &int(8));
}

fn sort_patterns_over_every_shard(s: &Server) {
    let mut c = s.raw();
    let mut push = vec!["RPUSH", "ids"];
    let ids: Vec<String> = (0..30).map(|i| i.to_string()).collect();
    push.extend(ids.iter().map(String::as_str));
    c.check(&push, &int(30));
    for i in 0..30 {
        // Weights reverse the order; names and hashes on every shard.
        c.check(&["SET", &format!("w_{i}"), &(100 - i).to_string()], &ok());
        c.check(&["SET", &format!("name_{i}"), &format!("n{i}")], &ok());
        c.check(
            &["HSET", &format!("h_{i}"), "f", &format!("{}", i % 3)],
            &int(1),
        );
    }
    let want: Vec<String> = (0..30).rev().map(|i| format!("n{i}")).collect();
    assert_eq!(
        texts_of(&mut c, &["SORT", "ids", "BY", "w_*", "GET", "name_*"]),
        want
    );
    // By a hash field with ties: broken by the element's bytes.
    let mut model: Vec<(u32, String)> = (0..30).map(|i| (i % 3, i.to_string())).collect();
    model.sort();
    let want: Vec<String> = model.into_iter().map(|(_, e)| e).collect();
    assert_eq!(texts_of(&mut c, &["SORT", "ids", "BY", "h_*->f"]), want);
    // STORE on yet another shard.
    c.check(
        &[
            "SORT", "ids", "BY", "w_*", "LIMIT", "0", "3", "GET", "#", "STORE", "dest{9}",
        ],
        &int(3),
    );
    c.check(
        &["LRANGE", "dest{9}", "0", "-1"],
        &bulks(&["29", "28", "27"]),
    );
}

fn sort_in_multi_and_scripts(s: &Server) {
    let mut c = s.raw();
    c.check(&["SADD", "set", "c", "a", "b"], &int(3));
    c.check(&["MSET", "v_a", "3", "v_b", "1", "v_c", "2"], &ok());
    c.check(&["MULTI"], &ok());
    c.check(
        &["SORT", "set", "BY", "v_*", "STORE", "out"],
        &simple("QUEUED"),
    );
    c.check(&["LRANGE", "out", "0", "-1"], &simple("QUEUED"));
    c.check(&["SORT_RO", "set", "ALPHA", "DESC"], &simple("QUEUED"));
    c.check(
        &["EXEC"],
        &array(&[int(3), bulks(&["b", "c", "a"]), bulks(&["c", "b", "a"])]),
    );
    // Inside a script a set's order is made deterministic: BY nosort sorts.
    c.check(
        &[
            "EVAL",
            "return redis.call('SORT', KEYS[1], 'BY', 'nosort')",
            "1",
            "set",
        ],
        &bulks(&["a", "b", "c"]),
    );
    c.check(
        &[
            "EVAL",
            "return redis.call('SORT', KEYS[1], 'BY', 'v_*', 'GET', 'v_*')",
            "1",
            "set",
        ],
        &bulks(&["1", "2", "3"]),
    );
    c.check(
        &[
            "EVAL",
            "return redis.pcall('SORT_RO', KEYS[1], 'STORE', 'x')",
            "1",
            "set",
        ],
        &err("ERR syntax error"),
    );
}

fn sort_resp3(s: &Server) {
    let mut c = s.raw();
    hello3(&mut c);
    c.check(&["RPUSH", "l", "2", "1"], &int(2));
    c.check(&["SET", "o_1", "one"], &ok());
    c.check(
        &["SORT", "l", "GET", "o_*", "GET", "#"],
        &array(&[bulk("one"), bulk("1"), null3(), bulk("2")]),
    );
    c.check(&["SORT", "nosuch"], &array(&[]));
    c.check(&["OBJECT", "IDLETIME", "nosuch"], &null3());
    c.check(&["OBJECT", "REFCOUNT", "nosuch"], &null3());
    c.check(&["OBJECT", "FREQ", "nosuch"], &null3());
    let help = Reply::parse(&c.cmd(&["OBJECT", "HELP"]));
    assert_eq!(help.as_array().len(), 15);
}

fn idle(c: &mut RawConn, key: &str) -> i64 {
    Reply::parse(&c.cmd(&["OBJECT", "IDLETIME", key])).as_int()
}

fn object_idletime_and_touch(s: &Server) {
    let mut c = s.raw();
    // Not small integers: Redis shares those between keys, clock included.
    for k in ["a", "b", "c", "d", "e"] {
        c.check(&["SET", k, "v"], &ok());
    }
    assert!(idle(&mut c, "a") <= 1);
    std::thread::sleep(Duration::from_millis(2100));
    // OBJECT itself, EXISTS, TYPE and TTL do not touch; reads, writes and
    // TOUCH do.
    c.check(&["EXISTS", "a"], &int(1));
    c.check(&["TYPE", "a"], &simple("string"));
    c.check(&["TTL", "a"], &int(-1));
    assert!(idle(&mut c, "a") >= 2);
    assert!(idle(&mut c, "a") >= 2);
    c.check(&["GET", "b"], &bulk("v"));
    c.check(&["APPEND", "c", "w"], &int(2));
    c.check(&["TOUCH", "d", "nosuch"], &int(1));
    for k in ["b", "c", "d"] {
        assert!(idle(&mut c, k) <= 1, "{k} was looked up");
    }
    assert!(idle(&mut c, "e") >= 2);
}

fn restore_idletime(s: &Server) {
    let mut c = s.raw();
    c.check(&["RPUSH", "src", "x"], &int(1));
    let payload = match Reply::parse(&c.cmd(&["DUMP", "src"])) {
        Reply::Bulk(b) => b,
        other => panic!("{other:?}"),
    };
    let reply = c.cmd_bytes(&[b"RESTORE", b"dst", b"0", &payload, b"IDLETIME", b"1000"]);
    assert_eq!(reply, ok());
    let t = idle(&mut c, "dst");
    assert!((1000..=1001).contains(&t), "{t}");
    // A read makes it fresh again.
    c.check(&["LLEN", "dst"], &int(1));
    assert!(idle(&mut c, "dst") <= 1);
}

fn object_refcount_and_freq(s: &Server) {
    let mut c = s.raw();
    c.check(&["SET", "i", "42"], &ok());
    c.check(&["INCR", "i"], &int(43));
    c.check(&["OBJECT", "REFCOUNT", "i"], &int(i32::MAX as i64));
    c.check(&["RPUSH", "l", "1"], &int(1));
    c.check(&["OBJECT", "REFCOUNT", "l"], &int(1));
    c.check(
        &["OBJECT", "FREQ", "l"],
        &err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."),
    );
}

// ------------------------------------------------------------ restarts

/// COPY across shards, SORT ... STORE, MOVE and SWAPDB replay from the
/// append-only log after a restart at 3 and at 1 thread.
#[test]
fn logged_and_replayed() {
    if !matches!(target(), Target::Ringbus(_)) {
        return;
    }
    let dir = TempDir::new("keys-more-aof");
    let d = dir.arg();
    // Every key of the databases used, with its DUMP.
    let state = |c: &mut RawConn| {
        let mut state = Vec::new();
        for db in ["0", "2", "5"] {
            c.check(&["SELECT", db], &ok());
            let mut keys = texts_of(c, &["KEYS", "*"]);
            keys.sort();
            for k in keys {
                let dump = c.cmd(&["DUMP", &k]);
                state.push((db.to_string(), k, dump));
            }
        }
        state
    };
    let want = {
        let s = Server::start_with(&logged_args("3", &d));
        let mut c = s.raw();
        c.check(&["RPUSH", "{a}l", "3", "1", "2"], &int(3));
        c.check(&["MSET", "w_1", "3", "w_2", "2", "w_3", "1"], &ok());
        c.check(&["COPY", "{a}l", "{b}l", "DB", "2"], &int(1));
        c.check(&["SORT", "{a}l", "BY", "w_*", "STORE", "{c}s"], &int(3));
        c.check(&["SORT", "nosuch", "STORE", "w_3"], &int(0));
        c.check(&["MOVE", "w_1", "5"], &int(1));
        c.check(&["SWAPDB", "0", "2"], &ok());
        c.check(&["SET", "after", "swap"], &ok());
        state(&mut c)
    };
    assert!(want.len() >= 6, "{want:?}");
    for t in ["3", "1"] {
        let s = Server::start_with(&logged_args(t, &d));
        let got = state(&mut s.raw());
        assert_eq!(got, want, "after a restart at {t} thread(s)");
    }
}

/// Idle times a snapshot keeps (Redis saves them under an LRU policy) set
/// the access clock of the keys loaded from it.
#[test]
fn idle_times_load_from_a_snapshot() {
    if !matches!(target(), Target::Ringbus(_)) {
        return;
    }
    let dir = TempDir::new("keys-more-rdb");
    {
        let redis =
            Server::start_redis(&["--dir", &dir.arg(), "--maxmemory-policy", "allkeys-lru"]);
        let mut c = redis.raw();
        c.check(&["SET", "fresh", "v"], &ok());
        let payload = match Reply::parse(&c.cmd(&["DUMP", "fresh"])) {
            Reply::Bulk(b) => b,
            other => panic!("{other:?}"),
        };
        let reply = c.cmd_bytes(&[b"RESTORE", b"old", b"0", &payload, b"IDLETIME", b"5000"]);
        assert_eq!(reply, ok());
        c.check(&["SAVE"], &ok());
    }
    let s = Server::start_with(&["--threads", "3", "--dir", &dir.arg()]);
    let mut c = s.raw();
    let old = idle(&mut c, "old");
    assert!((5000..=5002).contains(&old), "{old}");
    assert!(idle(&mut c, "fresh") <= 2);
}

// ------------------------------------------------------------ SORT model

/// SORT as Redis specifies it, on a list of small integers and words, with
/// weights from other keys: numeric or ALPHA, ASC or DESC, LIMIT, BY and GET.
fn model(
    elements: &[String],
    weights: &std::collections::HashMap<String, String>,
    by: bool,
    alpha: bool,
    desc: bool,
    limit: Option<(i64, i64)>,
) -> Result<Vec<String>, ()> {
    let weight = |e: &String| -> Option<String> {
        if by {
            weights.get(e).cloned()
        } else {
            Some(e.clone())
        }
    };
    let mut v: Vec<String> = elements.to_vec();
    if alpha {
        v.sort_by(|a, b| {
            let o = if by {
                weight(a).cmp(&weight(b)).then(a.cmp(b))
            } else {
                a.cmp(b)
            };
            if desc {
                o.reverse()
            } else {
                o
            }
        });
    } else {
        let score = |e: &String| -> Result<f64, ()> {
            match weight(e) {
                None => Ok(0.0),
                Some(w) => w.parse::<f64>().map_err(|_| ()),
            }
        };
        let mut scored = Vec::new();
        for e in &v {
            scored.push((score(e)?, e.clone()));
        }
        scored.sort_by(|a, b| {
            let o = a.0.partial_cmp(&b.0).unwrap().then(a.1.cmp(&b.1));
            if desc {
                o.reverse()
            } else {
                o
            }
        });
        v = scored.into_iter().map(|(_, e)| e).collect();
    }
    if let Some((start, count)) = limit {
        let start = start.max(0) as usize;
        let take = if count < 0 {
            usize::MAX
        } else {
            count as usize
        };
        v = v.into_iter().skip(start).take(take).collect();
    }
    Ok(v)
}

/// Random lists sorted every way against the model, keys on every shard.
#[test]
fn sort_matches_a_model() {
    let server = Server::start(3);
    let conn = std::cell::RefCell::new(server.raw());
    let element = prop_oneof![
        (0i64..40).prop_map(|n| n.to_string()),
        "[a-e]{1,3}".prop_map(|s| s),
    ];
    let weight = prop_oneof![
        (-20i64..20).prop_map(|n| n.to_string()),
        (0i64..20).prop_map(|n| format!("{}.5", n)),
        "[x-z]{1,2}".prop_map(|s| s),
    ];
    let case = (
        proptest::collection::vec(element, 0..25),
        proptest::collection::vec(weight, 0..25),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        proptest::option::of((-3i64..30, -2i64..30)),
    );
    let mut runner = TestRunner::new(Config {
        cases: 150,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&case, |(elements, weights, by, alpha, desc, limit)| {
            let mut c = conn.borrow_mut();
            c.check(&["FLUSHALL"], &ok());
            if !elements.is_empty() {
                let mut args = vec!["RPUSH", "list"];
                args.extend(elements.iter().map(String::as_str));
                c.check(&args, &int(elements.len() as i64));
            }
            let mut map = std::collections::HashMap::new();
            for (e, w) in elements.iter().zip(&weights) {
                // Some elements have no weight key (the zip is shorter).
                c.check(&["SET", &format!("wt_{e}"), w], &ok());
                map.insert(e.clone(), w.clone());
            }
            let mut args: Vec<String> = vec!["SORT".into(), "list".into()];
            if by {
                args.extend(["BY".into(), "wt_*".into()]);
            }
            if alpha {
                args.push("ALPHA".into());
            }
            if desc {
                args.push("DESC".into());
            }
            if let Some((s, n)) = limit {
                args.extend(["LIMIT".into(), s.to_string(), n.to_string()]);
            }
            // ALPHA BY ties are in no defined order: only their sets compare.
            let ties = alpha && by;
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let reply = Reply::parse(&c.cmd(&refs));
            match model(&elements, &map, by, alpha, desc, limit) {
                Ok(want) if ties => {
                    let got = texts(&reply);
                    assert_eq!(got.len(), want.len(), "{args:?}");
                    let full = model(&elements, &map, by, alpha, desc, None).unwrap();
                    for g in &got {
                        assert!(full.contains(g), "{args:?}: {g}");
                    }
                }
                Ok(want) => assert_eq!(texts(&reply), want, "{args:?} on {elements:?}"),
                Err(()) => assert_eq!(
                    reply.as_text(),
                    "ERR One or more scores can't be converted into double",
                    "{args:?}"
                ),
            }
            // SORT_RO answers the same, and STORE stores it.
            let mut ro = refs.clone();
            ro[0] = "SORT_RO";
            assert_eq!(Reply::parse(&c.cmd(&ro)), reply);
            Ok(())
        })
        .unwrap();
}

/// DEBUG OBJECT, as redis-server 7 answers it: address, refcount, encoding,
/// the value's RDB-serialized length, the 24-bit access clock and idle
/// seconds (the lookup leaves the clock alone), and for a quicklist its
/// node figures; `ERR no such key` otherwise.
#[test]
fn debug_object() {
    let s = Server::start_with(&["--threads", "2", "--enable-debug-command", "yes"]);
    let mut c = s.raw();
    let line = |c: &mut RawConn, key: &str| -> String {
        let reply = c.cmd(&["DEBUG", "OBJECT", key]);
        assert_eq!(reply[0], b'+', "{}", show(&reply));
        String::from_utf8_lossy(&reply[1..reply.len() - 2]).to_string()
    };
    let field = |l: &str, name: &str| -> String {
        l.split(' ')
            .find_map(|w| w.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no {name} in {l}"))
            .to_string()
    };
    c.check(&["SET", "s", "hello"], &ok());
    c.check(&["SET", "n", "123"], &ok());
    c.check(&["RPUSH", "l", "a", "b"], &int(2));
    let l = line(&mut c, "s");
    assert!(l.starts_with("Value at:0x"), "{l}");
    assert_eq!(field(&l, "refcount"), "1");
    assert_eq!(field(&l, "encoding"), "embstr");
    assert_eq!(field(&l, "serializedlength"), "6");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let lru: u64 = field(&l, "lru").parse().unwrap();
    assert!((now & 0xff_ffff).abs_diff(lru) <= 2, "{l} at {now}");
    let l = line(&mut c, "n");
    assert_eq!(field(&l, "encoding"), "int");
    assert_eq!(field(&l, "refcount"), "2147483647");
    assert_eq!(field(&l, "serializedlength"), "2");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let l = line(&mut c, "l");
    assert!(
        field(&l, "lru_seconds_idle").parse::<u64>().unwrap() >= 2,
        "{l}"
    );
    // DEBUG OBJECT itself did not touch the key.
    let l = line(&mut c, "l");
    assert!(
        field(&l, "lru_seconds_idle").parse::<u64>().unwrap() >= 2,
        "{l}"
    );
    c.check(&["DEBUG", "OBJECT", "nokey"], &err("ERR no such key"));
    // A quicklist (7.2 lists start as listpacks; 7.0's are all quicklists).
    let big = "x".repeat(5000);
    c.check(&["RPUSH", "q", &big, &big], &int(2));
    let l = line(&mut c, "q");
    assert_eq!(field(&l, "encoding"), "quicklist");
    assert_eq!(field(&l, "ql_nodes"), "2", "{l}");
    assert_eq!(field(&l, "ql_compressed"), "0");
    assert_eq!(field(&l, "ql_listpack_max"), "-2");
}
