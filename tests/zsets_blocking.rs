//! Blocking sorted set pops: BZPOPMIN, BZPOPMAX and BZMPOP. Immediate
//! replies when a set has members, timeouts (RESP2 / RESP3 nulls), argument
//! errors and their order, wake-ups by ZADD from another connection and from
//! another shard, FIFO among blocked clients, several keys over three
//! shards, disconnects, CLIENT UNBLOCK, and a priority-queue stress test in
//! which every job must be delivered exactly once, lowest score first.
//!
//! Every expectation was checked against a real redis-server
//! (`RINGBUS_TEST_TARGET=redis`). A blocked client is known to be blocked
//! once INFO's blocked_clients says so (polled with a deadline).

mod common;

use common::*;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

sharded_tests!(
    returns_at_once_when_members_exist,
    timeout_returns_null_resp2,
    timeout_returns_null_resp3,
    timeout_and_argument_errors,
    wrongtype_does_not_block,
    zadd_wakes_each_command,
    other_writes_wake_blocked_clients,
    fifo_among_clients,
    one_zadd_serves_several_clients,
    multi_key_client_is_served_once,
    list_and_zset_waiters_on_one_key,
    disconnect_while_blocked_leaves_no_trace,
    client_unblock,
    bzmpop_count_when_woken,
);

// ------------------------------------------------------------------ helpers

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NEGATIVE: &str = "ERR timeout is negative";
const NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
const SYNTAX: &str = "ERR syntax error";
const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";

/// Keys on three different shards of a 3-shard ringbus.
const K1: &str = "{from}q";
const K2: &str = "{to}q";
const K3: &str = "{in}q";

/// A BZPOPMIN / BZPOPMAX reply (RESP2): `[key, member, score]`.
fn bz(key: &str, member: &str, score: &str) -> Vec<u8> {
    bulks(&[key, member, score])
}

/// A BZMPOP reply (RESP2): `[key, [[member, score], ...]]`.
fn bzm(key: &str, pairs: &[(&str, &str)]) -> Vec<u8> {
    let items: Vec<Vec<u8>> = pairs.iter().map(|(m, s)| bulks(&[m, s])).collect();
    array(&[bulk(key), array(&items)])
}

fn assert_zset(c: &mut RawConn, key: &str, items: &[&str]) {
    c.check(&["ZRANGE", key, "0", "-1"], &bulks(items));
}

// -------------------------------------------------------------------- tests

fn returns_at_once_when_members_exist(s: &Server) {
    let mut c = s.raw();
    c.check(
        &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"],
        &int(4),
    );
    c.check(&["BZPOPMIN", "z", "0"], &bz("z", "a", "1"));
    c.check(&["BZPOPMAX", "z", "0"], &bz("z", "d", "4"));
    c.check(&["bzpopmin", "nokey", "z", "0.5"], &bz("z", "b", "2"));
    c.check(
        &["BZMPOP", "0", "2", "nokey", "z", "MAX"],
        &bzm("z", &[("c", "3")]),
    );
    c.check(&["EXISTS", "z"], &int(0));
    // The first key in argument order that holds members, across shards.
    c.check(&["ZADD", K3, "5", "x", "6", "y"], &int(2));
    c.check(&["ZADD", K2, "9", "w"], &int(1));
    c.check(&["BZPOPMAX", K1, K3, K2, "0"], &bz(K3, "y", "6"));
    c.check(
        &["BZMPOP", "1", "3", K1, K2, K3, "MIN", "COUNT", "5"],
        &bzm(K2, &[("w", "9")]),
    );
    // RESP3: the score is a double.
    hello3(&mut c);
    c.check(
        &["BZPOPMIN", K1, K3, "0"],
        &array(&[bulk(K3), bulk("x"), b",5\r\n".to_vec()]),
    );
    c.check(&["ZADD", "z", "1.5", "m"], &int(1));
    c.check(
        &["BZMPOP", "0", "1", "z", "MIN"],
        &array(&[
            bulk("z"),
            array(&[array(&[bulk("m"), b",1.5\r\n".to_vec()])]),
        ]),
    );
    assert_eq!(blocked_clients(&mut c), 0);
}

fn timeout_returns_null_resp2(s: &Server) {
    let mut c = s.raw();
    let cmds: &[&[&str]] = &[
        &["BZPOPMIN", "nokey", "0.1"],
        &["BZPOPMAX", "nokey", "nokey2", "0.1"],
        &["BZMPOP", "0.1", "2", "nokey", "nokey2", "MIN"],
        &["BZMPOP", "0.1", "3", K1, K2, K3, "MAX", "COUNT", "3"],
        &["BZPOPMIN", K1, K2, K3, "0.1"],
    ];
    for cmd in cmds {
        check_times_out(&mut c, cmd, 100, &nil_array());
    }
    c.check(&["BZPOPMIN", "nokey", "0.01"], &nil_array());
    c.check(&["BZPOPMIN", "nokey", "1e-2"], &nil_array());
    c.check(&["PING"], &simple("PONG"));
}

fn timeout_returns_null_resp3(s: &Server) {
    let mut c = s.raw();
    hello3(&mut c);
    for cmd in [
        &["BZPOPMIN", "nokey", "0.1"][..],
        &["BZPOPMAX", K1, K2, "0.1"],
        &["BZMPOP", "0.1", "1", "nokey", "MIN", "COUNT", "2"],
    ] {
        check_times_out(&mut c, cmd, 100, &null3());
    }
    c.check(&["PING"], &simple("PONG"));
}

fn timeout_and_argument_errors(s: &Server) {
    let mut c = s.raw();
    c.check(&["ZADD", "z", "1", "a"], &int(1));
    for key in ["z", "nokey"] {
        for t in ["-1", "-0.1"] {
            c.check(&["BZPOPMIN", key, t], &err(NEGATIVE));
            c.check(&["BZPOPMAX", key, t], &err(NEGATIVE));
            c.check(&["BZMPOP", t, "1", key, "MIN"], &err(NEGATIVE));
        }
        for t in ["abc", "", "1x", "nan"] {
            c.check(&["BZPOPMIN", key, t], &err(NOT_FLOAT));
            c.check(&["BZMPOP", t, "1", key, "MAX"], &err(NOT_FLOAT));
        }
    }
    // The last argument is the timeout.
    c.check(&["BZPOPMIN", "z", "nokey"], &err(NOT_FLOAT));
    // BZMPOP checks numkeys, the direction and COUNT before the timeout.
    let numkeys = "ERR numkeys should be greater than 0";
    c.check(&["BZMPOP", "x", "0", "z", "MIN"], &err(numkeys));
    c.check(&["BZMPOP", "-1", "x", "z", "MIN"], &err(numkeys));
    c.check(&["BZMPOP", "x", "1", "z", "LEFT"], &err(SYNTAX));
    c.check(&["BZMPOP", "x", "2", "z", "MIN"], &err(SYNTAX));
    c.check(
        &["BZMPOP", "x", "1", "z", "MIN", "COUNT", "0"],
        &err("ERR count should be greater than 0"),
    );
    c.check(&["BZMPOP", "-1", "1", "z", "MIN", "COUNT"], &err(SYNTAX));
    // The timeout comes before the key's type.
    c.check(&["SET", "s", "v"], &ok());
    c.check(&["BZPOPMIN", "s", "x"], &err(NOT_FLOAT));
    c.check(&["BZMPOP", "x", "1", "s", "MIN"], &err(NOT_FLOAT));
    assert_zset(&mut c, "z", &["a"]);
    assert_eq!(blocked_clients(&mut c), 0);
}

fn wrongtype_does_not_block(s: &Server) {
    let mut c = s.raw();
    c.check(&["SET", "s", "v"], &ok());
    c.check(&["RPUSH", "l", "x"], &int(1));
    c.check(&["BZPOPMIN", "s", "0"], &err(WRONGTYPE));
    c.check(&["BZPOPMAX", "nokey", "l", "0"], &err(WRONGTYPE));
    c.check(&["BZMPOP", "0", "2", "nokey", "s", "MIN"], &err(WRONGTYPE));
    c.check(&["SET", K2, "v"], &ok());
    c.check(&["BZPOPMIN", K1, K2, K3, "0"], &err(WRONGTYPE));
    // A set with members before the string is served; the string is not looked at.
    c.check(&["ZADD", "z", "1", "a", "2", "b"], &int(2));
    c.check(&["BZPOPMIN", "z", "s", "0"], &bz("z", "a", "1"));
    c.check(&["ZADD", K3, "1", "a"], &int(1));
    c.check(
        &["BZMPOP", "0", "2", K3, K2, "MIN"],
        &bzm(K3, &[("a", "1")]),
    );
    c.check(&["BLPOP", "z", "0"], &err(WRONGTYPE));
    assert_eq!(blocked_clients(&mut c), 0);
}

fn zadd_wakes_each_command(s: &Server) {
    let mut admin = s.raw();
    let mut b = s.raw();
    let mut p = s.raw();

    block_and_wait(&mut b, &mut admin, &["BZPOPMIN", "z", "0"]);
    assert_no_reply(&b, Duration::from_millis(100));
    p.check(&["ZADD", "z", "2", "b", "1", "a"], &int(2));
    expect_reply(&mut b, &bz("z", "a", "1"));
    assert_zset(&mut p, "z", &["b"]);

    block_and_wait(&mut b, &mut admin, &["BZPOPMAX", "nokey", "5"]);
    p.check(&["ZADD", "nokey", "1", "x", "3", "y"], &int(2));
    expect_reply(&mut b, &bz("nokey", "y", "3"));

    block_and_wait(&mut b, &mut admin, &["BZMPOP", "0", "2", "k1", "k2", "MAX"]);
    p.check(&["ZADD", "k2", "1", "m", "2", "n"], &int(2));
    expect_reply(&mut b, &bzm("k2", &[("n", "2")]));
    assert_zset(&mut p, "k2", &["m"]);

    // Woken by a ZADD on another shard than the client's other keys.
    block_and_wait(&mut b, &mut admin, &["BZPOPMIN", K1, K2, K3, "0"]);
    p.check(&["ZADD", K2, "7", "seven"], &int(1));
    expect_reply(&mut b, &bz(K2, "seven", "7"));
    p.check(&["EXISTS", K2], &int(0));

    // RESP3 clients get doubles.
    hello3(&mut b);
    block_and_wait(&mut b, &mut admin, &["BZPOPMAX", K3, "0"]);
    p.check(&["ZADD", K3, "2.5", "v"], &int(1));
    expect_reply(&mut b, &array(&[bulk(K3), bulk("v"), b",2.5\r\n".to_vec()]));
    wait_blocked(&mut admin, 0);
    b.check(&["PING"], &simple("PONG"));
}

fn other_writes_wake_blocked_clients(s: &Server) {
    let mut admin = s.raw();
    let mut b = s.raw();
    let mut p = s.raw();
    // ZINCRBY and ZADD INCR create the set.
    block_and_wait(&mut b, &mut admin, &["BZPOPMIN", "z", "0"]);
    p.check(&["ZINCRBY", "z", "3", "a"], &bulk("3"));
    expect_reply(&mut b, &bz("z", "a", "3"));
    block_and_wait(&mut b, &mut admin, &["BZPOPMIN", "z", "0"]);
    p.check(&["ZADD", "z", "INCR", "4", "b"], &bulk("4"));
    expect_reply(&mut b, &bz("z", "b", "4"));
    // RENAME of a set onto the key, across shards.
    p.check(&["ZADD", K1, "1", "r"], &int(1));
    block_and_wait(&mut b, &mut admin, &["BZPOPMAX", K2, "0"]);
    p.check(&["RENAME", K1, K2], &ok());
    expect_reply(&mut b, &bz(K2, "r", "1"));
    p.check(&["EXISTS", K1, K2], &int(0));
    // ZADD XX / NX INCR on a missing key create nothing: still blocked;
    // a list pushed to the key does not serve a sorted set pop.
    block_and_wait(&mut b, &mut admin, &["BZPOPMIN", "z", "0"]);
    p.check(&["ZADD", "z", "XX", "1", "a"], &int(0));
    p.check(&["ZADD", "z", "XX", "INCR", "1", "a"], &nil());
    p.check(&["RPUSH", "z", "list"], &int(1));
    assert_no_reply(&b, Duration::from_millis(100));
    p.check(&["DEL", "z"], &int(1));
    p.check(&["ZADD", "z", "9", "finally"], &int(1));
    expect_reply(&mut b, &bz("z", "finally", "9"));
}

fn fifo_among_clients(s: &Server) {
    let mut admin = s.raw();
    let mut p = s.raw();
    let mut clients: Vec<RawConn> = (0..8).map(|_| s.raw()).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        let args: Vec<&str> = match i % 3 {
            0 => vec!["BZPOPMIN", "q", "0"],
            1 => vec!["BZPOPMAX", "other", "q", "30"],
            _ => vec!["BZMPOP", "0", "1", "q", "MIN"],
        };
        block_and_wait(c, &mut admin, &args);
    }
    for i in 0..8 {
        let m = format!("e{i}");
        p.check(&["ZADD", "q", &i.to_string(), &m], &int(1));
        let score = i.to_string();
        let want = match i % 3 {
            2 => bzm("q", &[(&m, &score)]),
            _ => bz("q", &m, &score),
        };
        expect_reply(&mut clients[i], &want);
        p.check(&["EXISTS", "q"], &int(0));
        for c in clients.iter().skip(i + 1) {
            assert_no_reply(c, Duration::ZERO);
        }
        assert_eq!(blocked_clients(&mut admin), 7 - i as i64);
    }
}

fn one_zadd_serves_several_clients(s: &Server) {
    let mut admin = s.raw();
    let mut p = s.raw();
    let mut clients: Vec<RawConn> = (0..3).map(|_| s.raw()).collect();
    for c in clients.iter_mut() {
        block_and_wait(c, &mut admin, &["BZPOPMIN", "z", "0"]);
    }
    // Each is served in blocking order, lowest scores first.
    p.check(
        &["ZADD", "z", "3", "c", "1", "a", "2", "b", "4", "d"],
        &int(4),
    );
    for (c, (m, sc)) in clients.iter_mut().zip([("a", "1"), ("b", "2"), ("c", "3")]) {
        expect_reply(c, &bz("z", m, sc));
    }
    assert_zset(&mut p, "z", &["d"]);
    p.check(&["DEL", "z"], &int(1));
    // Fewer members than clients: the rest stay blocked, in order.
    for c in clients.iter_mut() {
        block_and_wait(c, &mut admin, &["BZPOPMAX", "z", "0"]);
    }
    p.check(&["ZADD", "z", "1", "x", "2", "y"], &int(2));
    expect_reply(&mut clients[0], &bz("z", "y", "2"));
    expect_reply(&mut clients[1], &bz("z", "x", "1"));
    assert_no_reply(&clients[2], Duration::from_millis(100));
    assert_eq!(blocked_clients(&mut admin), 1);
    p.check(&["ZADD", "z", "5", "last"], &int(1));
    expect_reply(&mut clients[2], &bz("z", "last", "5"));
    p.check(&["EXISTS", "z"], &int(0));
}

fn multi_key_client_is_served_once(s: &Server) {
    let mut admin = s.raw();
    let mut p = s.raw();
    let mut x = s.raw();
    block_and_wait(&mut x, &mut admin, &["BZPOPMIN", K1, K2, K3, "0"]);
    p.check(&["ZADD", K3, "1", "t"], &int(1));
    expect_reply(&mut x, &bz(K3, "t", "1"));
    wait_blocked(&mut admin, 0);
    p.check(&["ZADD", K1, "1", "s"], &int(1));
    p.check(&["ZADD", K2, "1", "d"], &int(1));
    assert_no_reply(&x, Duration::from_millis(100));
    assert_zset(&mut p, K1, &["s"]);
    assert_zset(&mut p, K2, &["d"]);
    p.check(&["DEL", K1, K2], &int(2));

    // X waits on K1 and K2, Y on K2: a ZADD to K1 serves X, then K2 serves Y.
    let mut y = s.raw();
    block_and_wait(&mut x, &mut admin, &["BZPOPMAX", K1, K2, "0"]);
    block_and_wait(&mut y, &mut admin, &["BZMPOP", "0", "1", K2, "MIN"]);
    p.check(&["ZADD", K1, "1", "for-x"], &int(1));
    expect_reply(&mut x, &bz(K1, "for-x", "1"));
    assert_no_reply(&y, Duration::from_millis(50));
    p.check(&["ZADD", K2, "2", "for-y"], &int(1));
    expect_reply(&mut y, &bzm(K2, &[("for-y", "2")]));
    assert_no_reply(&x, Duration::from_millis(50));

    // The same key twice is served once.
    block_and_wait(&mut x, &mut admin, &["BZPOPMIN", "k", "k", "0"]);
    p.check(&["ZADD", "k", "1", "a", "2", "b"], &int(2));
    expect_reply(&mut x, &bz("k", "a", "1"));
    assert_zset(&mut p, "k", &["b"]);
    wait_blocked(&mut admin, 0);
}

fn list_and_zset_waiters_on_one_key(s: &Server) {
    // A list pop and a sorted set pop blocked on the same key: each is
    // served only by a value of its own type.
    let mut admin = s.raw();
    let mut p = s.raw();
    let mut l = s.raw();
    let mut z = s.raw();
    block_and_wait(&mut l, &mut admin, &["BLPOP", "k", "0"]);
    block_and_wait(&mut z, &mut admin, &["BZPOPMIN", "k", "0"]);
    p.check(&["ZADD", "k", "1", "m"], &int(1));
    expect_reply(&mut z, &bz("k", "m", "1"));
    assert_no_reply(&l, Duration::from_millis(50));
    block_and_wait(&mut z, &mut admin, &["BZPOPMAX", "k", "0"]);
    p.check(&["RPUSH", "k", "e"], &int(1));
    expect_reply(&mut l, &bulks(&["k", "e"]));
    assert_no_reply(&z, Duration::from_millis(50));
    p.check(&["ZADD", "k", "2", "n"], &int(1));
    expect_reply(&mut z, &bz("k", "n", "2"));
    wait_blocked(&mut admin, 0);
}

fn disconnect_while_blocked_leaves_no_trace(s: &Server) {
    let mut admin = s.raw();
    let mut p = s.raw();
    {
        let mut x = s.raw();
        block_and_wait(&mut x, &mut admin, &["BZPOPMIN", "z", "0"]);
        let mut y = s.raw();
        block_and_wait(&mut y, &mut admin, &["BZMPOP", "0", "3", K1, K2, K3, "MAX"]);
    }
    wait_blocked(&mut admin, 0);
    p.check(&["ZADD", "z", "1", "v"], &int(1));
    p.check(&["ZADD", K2, "1", "v"], &int(1));
    assert_zset(&mut p, "z", &["v"]);
    assert_zset(&mut p, K2, &["v"]);
    p.check(&["DEL", "z", K2], &int(2));
    // The middle one of three leaves: the other two keep their order.
    let mut a = s.raw();
    block_and_wait(&mut a, &mut admin, &["BZPOPMIN", "z", "0"]);
    let mut b = s.raw();
    block_and_wait(&mut b, &mut admin, &["BZPOPMIN", "z", "0"]);
    let mut c = s.raw();
    block_and_wait(&mut c, &mut admin, &["BZPOPMIN", "z", "0"]);
    drop(b);
    wait_blocked(&mut admin, 2);
    p.check(&["ZADD", "z", "1", "a", "2", "b", "3", "c"], &int(3));
    expect_reply(&mut a, &bz("z", "a", "1"));
    expect_reply(&mut c, &bz("z", "b", "2"));
    assert_zset(&mut p, "z", &["c"]);
}

fn client_unblock(s: &Server) {
    let mut admin = s.raw();
    let mut b = s.raw();
    let ids = client_id(&mut b).to_string();
    block_and_wait(&mut b, &mut admin, &["BZPOPMIN", "z", "0"]);
    admin.check(&["CLIENT", "UNBLOCK", &ids], &int(1));
    expect_reply(&mut b, &nil_array());
    wait_blocked(&mut admin, 0);
    block_and_wait(&mut b, &mut admin, &["BZMPOP", "0", "2", K1, K3, "MIN"]);
    admin.check(&["CLIENT", "UNBLOCK", &ids, "ERROR"], &int(1));
    expect_reply(&mut b, &err(UNBLOCKED));
    hello3(&mut b);
    block_and_wait(&mut b, &mut admin, &["BZPOPMAX", K2, "0"]);
    admin.check(&["CLIENT", "UNBLOCK", &ids, "TIMEOUT"], &int(1));
    expect_reply(&mut b, &null3());
    // Unblocked clients are gone from their keys: members stay.
    wait_blocked(&mut admin, 0);
    admin.check(&["ZADD", "z", "1", "a"], &int(1));
    admin.check(&["ZADD", K1, "1", "a"], &int(1));
    admin.check(&["ZADD", K2, "1", "a"], &int(1));
    assert_zset(&mut admin, "z", &["a"]);
    assert_zset(&mut admin, K1, &["a"]);
    assert_zset(&mut admin, K2, &["a"]);
    b.check(&["PING"], &simple("PONG"));
}

fn bzmpop_count_when_woken(s: &Server) {
    let mut admin = s.raw();
    let mut p = s.raw();
    let mut b = s.raw();
    block_and_wait(
        &mut b,
        &mut admin,
        &["BZMPOP", "0", "1", "z", "MIN", "COUNT", "3"],
    );
    p.check(
        &["ZADD", "z", "4", "d", "1", "a", "3", "c", "2", "b"],
        &int(4),
    );
    expect_reply(&mut b, &bzm("z", &[("a", "1"), ("b", "2"), ("c", "3")]));
    assert_zset(&mut p, "z", &["d"]);
    p.check(&["DEL", "z"], &int(1));
    block_and_wait(
        &mut b,
        &mut admin,
        &["BZMPOP", "0", "1", "z", "MAX", "COUNT", "10"],
    );
    p.check(&["ZADD", "z", "1", "x", "2", "y"], &int(2));
    expect_reply(&mut b, &bzm("z", &[("y", "2"), ("x", "1")]));
    p.check(&["EXISTS", "z"], &int(0));
}

// ---------------------------------------------------------------- stress

/// A priority queue: 3 producers ZADD 3,000 jobs each (score = priority)
/// to one key, 4 workers take them with BZPOPMIN and BZMPOP on three
/// shards' keys. Every job must be delivered exactly once.
#[test]
fn stress_priority_queue_exactly_once() {
    const PRODUCERS: usize = 3;
    const PER: usize = 3_000;
    const TOTAL: usize = PRODUCERS * PER;
    let server = Server::start(3);
    let deadline = Instant::now() + Duration::from_secs(60);
    let taken = Arc::new(AtomicUsize::new(0));
    let queues = [K1, K2, K3];
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let mut c = server.raw();
            thread::spawn(move || {
                for chunk in (0..PER).collect::<Vec<_>>().chunks(100) {
                    let mut buf = Vec::new();
                    for &j in chunk {
                        let q = queues[j % 3];
                        let prio = ((j * 7919) % 1000).to_string();
                        buf.extend(encode_str(&["ZADD", q, &prio, &format!("p{p}-{j}")]));
                    }
                    c.send(&buf);
                    for _ in chunk {
                        assert_eq!(c.read_reply(), int(1));
                    }
                    assert!(Instant::now() < deadline, "producer {p} too slow");
                }
            })
        })
        .collect();
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let mut c = server.raw();
            let taken = taken.clone();
            thread::spawn(move || {
                let mut got = Vec::new();
                while taken.load(Ordering::SeqCst) < TOTAL && Instant::now() < deadline {
                    let r = if w % 2 == 0 {
                        c.cmd(&["BZPOPMIN", K1, K2, K3, "0.2"])
                    } else {
                        c.cmd(&["BZMPOP", "0.2", "3", K3, K2, K1, "MIN", "COUNT", "3"])
                    };
                    if r == nil_array() {
                        continue;
                    }
                    let reply = Reply::parse(&r);
                    let items = reply.as_array();
                    if w % 2 == 0 {
                        assert_eq!(items.len(), 3);
                        got.push(items[1].as_text());
                    } else {
                        let pairs = items[1].as_array();
                        assert!(!pairs.is_empty() && pairs.len() <= 3);
                        // Popped in score order.
                        let scores: Vec<f64> = pairs
                            .iter()
                            .map(|p| p.as_array()[1].as_text().parse().unwrap())
                            .collect();
                        assert!(scores.windows(2).all(|w| w[0] <= w[1]), "{scores:?}");
                        got.extend(pairs.iter().map(|p| p.as_array()[0].as_text()));
                    }
                    let n = if w % 2 == 0 {
                        1
                    } else {
                        items[1].as_array().len()
                    };
                    taken.fetch_add(n, Ordering::SeqCst);
                }
                got
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.join().unwrap());
    }
    assert_eq!(all.len(), TOTAL, "jobs delivered");
    let unique: BTreeSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), TOTAL, "a job was delivered twice");
    let mut c = server.raw();
    c.check(&["EXISTS", K1, K2, K3], &int(0));
    wait_blocked(&mut c, 0);
}

/// Without concurrency, a priority queue pops strictly by score: a worker
/// blocked before the jobs arrive gets the lowest of one ZADD.
#[test]
fn priority_order_of_one_batch() {
    let s = Server::start(2);
    let mut admin = s.raw();
    let mut w = s.raw();
    block_and_wait(&mut w, &mut admin, &["BZPOPMIN", "jobs", "0"]);
    admin.check(
        &["ZADD", "jobs", "30", "low", "10", "high", "20", "mid"],
        &int(3),
    );
    expect_reply(&mut w, &bz("jobs", "high", "10"));
    w.check(&["BZPOPMIN", "jobs", "0"], &bz("jobs", "mid", "20"));
    w.check(&["BZPOPMIN", "jobs", "0"], &bz("jobs", "low", "30"));
    w.check(&["BZPOPMIN", "jobs", "0.05"], &nil_array());
}
