//! Blocking list commands: BLPOP, BRPOP, BRPOPLPUSH, BLMOVE and BLMPOP.
//! Immediate replies when data exists, timeouts (and their RESP2 / RESP3
//! nulls), argument errors, wake-ups by pushes from other connections, FIFO
//! service among blocked clients, several keys, disconnects, CLIENT UNBLOCK,
//! INFO blocked_clients, moves between shards, and a producer / mover /
//! consumer stress test in which every message must arrive exactly once.
//!
//! Every expectation was checked against a real redis-server
//! (`RINGBUS_TEST_TARGET=redis`). Waits are bounded: a blocked client is
//! known to be blocked once INFO's blocked_clients says so (polled with a
//! deadline), and every read has the harness's 5 s timeout.

mod common;

use common::*;
use ringbus::shard::route::shard_of;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

sharded_tests!(
    returns_at_once_when_data_exists,
    timeout_returns_null_resp2,
    timeout_returns_null_resp3,
    timeout_and_argument_errors,
    wrongtype_does_not_block,
    push_wakes_each_blocking_command,
    other_commands_wake_blocked_clients,
    fifo_among_ten_clients,
    one_push_serves_several_clients,
    multi_key_client_is_served_once,
    disconnect_while_blocked_leaves_no_trace,
    client_unblock,
    info_blocked_clients,
    blmove_across_shards,
    blocked_move_feeds_blocked_pop,
    blmove_woken_into_wrong_type_keeps_element,
    blmpop_count_when_woken,
    timeout_then_push_stays,
);

// ------------------------------------------------------------------ helpers

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NEGATIVE: &str = "ERR timeout is negative";
const NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
const SYNTAX: &str = "ERR syntax error";
const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";

/// Keys whose hash tags live on three different shards of a 3-shard ringbus
/// (`{a}` and `{b}` would not: single-letter tags share a shard modulo 3).
const SRC: &str = "{from}src";
const DST: &str = "{to}dst";
const THIRD: &str = "{in}third";
const Q1: &str = "{in}q1";
const Q2: &str = "{out}q2";

/// A BLPOP / BRPOP reply: `[key, element]`.
fn popped(key: &str, element: &str) -> Vec<u8> {
    bulks(&[key, element])
}

/// A BLMPOP reply: `[key, [elements...]]`.
fn mpop(key: &str, items: &[&str]) -> Vec<u8> {
    array(&[bulk(key), bulks(items)])
}

fn assert_list(c: &mut RawConn, key: &str, items: &[&str]) {
    c.check(&["LRANGE", key, "0", "-1"], &bulks(items));
}

#[test]
fn hash_tags_are_on_distinct_shards() {
    let shards: BTreeSet<usize> = [SRC, DST, THIRD]
        .iter()
        .map(|k| shard_of(k.as_bytes(), 3))
        .collect();
    assert_eq!(shards.len(), 3, "{SRC} {DST} {THIRD} must use three shards");
    assert_ne!(shard_of(Q1.as_bytes(), 3), shard_of(Q2.as_bytes(), 3));
}

// -------------------------------------------------------------------- tests

fn returns_at_once_when_data_exists(s: &Server) {
    let mut c = s.raw();
    c.check(&["RPUSH", "k", "a", "b", "c", "d", "e", "f"], &int(6));
    c.check(&["BLPOP", "k", "0"], &popped("k", "a"));
    c.check(&["BRPOP", "k", "0"], &popped("k", "f"));
    c.check(&["blpop", "k", "0.5"], &popped("k", "b"));
    // The first non-empty key in argument order.
    c.check(&["RPUSH", "k2", "x"], &int(1));
    c.check(&["BLPOP", "nokey", "k2", "k", "0"], &popped("k2", "x"));
    c.check(&["BRPOP", "nokey", "k2", "k", "0"], &popped("k", "e"));
    c.check(&["BRPOPLPUSH", "k", DST, "0"], &bulk("d"));
    c.check(&["BLMOVE", "k", DST, "LEFT", "RIGHT", "0"], &bulk("c"));
    assert_list(&mut c, DST, &["d", "c"]);
    assert_list(&mut c, "k", &[]);
    c.check(&["EXISTS", "k"], &int(0));
    c.check(&["RPUSH", "k", "1", "2", "3"], &int(3));
    c.check(
        &["BLMPOP", "0", "2", "nokey", "k", "LEFT"],
        &mpop("k", &["1"]),
    );
    c.check(
        &["BLMPOP", "0", "1", "k", "RIGHT", "COUNT", "10"],
        &mpop("k", &["3", "2"]),
    );
    c.check(&["EXISTS", "k"], &int(0));
    // Same key as source and destination rotates.
    c.check(&["RPUSH", "rot", "a", "b"], &int(2));
    c.check(&["BLMOVE", "rot", "rot", "LEFT", "RIGHT", "0"], &bulk("a"));
    c.check(&["BRPOPLPUSH", "rot", "rot", "0"], &bulk("a"));
    assert_list(&mut c, "rot", &["a", "b"]);
    // With a timeout, and in RESP3 (same array replies).
    hello3(&mut c);
    c.check(&["BLPOP", "rot", "1"], &popped("rot", "a"));
    c.check(
        &["BLMPOP", "0.01", "1", "rot", "LEFT"],
        &mpop("rot", &["b"]),
    );
}

fn timeout_returns_null_resp2(s: &Server) {
    let mut c = s.raw();
    // Every blocking list command times out with a null ARRAY in RESP2,
    // BRPOPLPUSH and BLMOVE included (their success reply is a bulk string).
    let cmds: &[&[&str]] = &[
        &["BLPOP", "nokey", "0.1"],
        &["BRPOP", "nokey", "nokey2", "0.1"],
        &["BRPOPLPUSH", "nokey", "d", "0.1"],
        &["BLMOVE", "nokey", "d", "LEFT", "RIGHT", "0.1"],
        &["BLMPOP", "0.1", "2", "nokey", "nokey2", "LEFT"],
        &["BLMPOP", "0.1", "1", "nokey", "RIGHT", "COUNT", "5"],
    ];
    for cmd in cmds {
        check_times_out(&mut c, cmd, 100, &nil_array());
    }
    c.check(&["EXISTS", "d"], &int(0));
    // A short fractional timeout.
    c.check(&["BLPOP", "nokey", "0.01"], &nil_array());
    c.check(&["BLPOP", "nokey", "1e-2"], &nil_array());
    // The connection works normally afterwards.
    c.check(&["PING"], &simple("PONG"));
}

fn timeout_returns_null_resp3(s: &Server) {
    let mut c = s.raw();
    hello3(&mut c);
    let cmds: &[&[&str]] = &[
        &["BLPOP", "nokey", "0.1"],
        &["BRPOP", "nokey", "0.1"],
        &["BRPOPLPUSH", "nokey", "d", "0.1"],
        &["BLMOVE", "nokey", "d", "RIGHT", "LEFT", "0.1"],
        &["BLMPOP", "0.1", "1", "nokey", "LEFT", "COUNT", "2"],
    ];
    for cmd in cmds {
        check_times_out(&mut c, cmd, 100, &null3());
    }
    c.check(&["PING"], &simple("PONG"));
}

fn timeout_and_argument_errors(s: &Server) {
    let mut c = s.raw();
    c.check(&["RPUSH", "k", "a"], &int(1));
    for key in ["k", "nokey"] {
        for t in ["-1", "-0.1", "-100"] {
            c.check(&["BLPOP", key, t], &err(NEGATIVE));
            c.check(&["BRPOP", key, t], &err(NEGATIVE));
            c.check(&["BRPOPLPUSH", key, "d", t], &err(NEGATIVE));
            c.check(&["BLMOVE", key, "d", "LEFT", "LEFT", t], &err(NEGATIVE));
            c.check(&["BLMPOP", t, "1", key, "LEFT"], &err(NEGATIVE));
        }
        for t in ["abc", "", "1x", "0.1.2"] {
            c.check(&["BLPOP", key, t], &err(NOT_FLOAT));
            c.check(&["BRPOP", key, t], &err(NOT_FLOAT));
            c.check(&["BRPOPLPUSH", key, "d", t], &err(NOT_FLOAT));
            c.check(&["BLMOVE", key, "d", "LEFT", "LEFT", t], &err(NOT_FLOAT));
            c.check(&["BLMPOP", t, "1", key, "LEFT"], &err(NOT_FLOAT));
        }
    }
    // The last argument is the timeout: BLPOP k1 k2 reads k2 as one.
    c.check(&["BLPOP", "k", "nokey"], &err(NOT_FLOAT));
    // Syntax errors of BLMOVE come before the timeout.
    c.check(&["BLMOVE", "k", "d", "LEFT", "UP", "1"], &err(SYNTAX));
    c.check(&["BLMOVE", "k", "d", "UP", "LEFT", "x"], &err(SYNTAX));
    // BLMPOP: numkeys, direction and COUNT as in LMPOP.
    c.check(
        &["BLMPOP", "0", "0", "k", "LEFT"],
        &err("ERR numkeys should be greater than 0"),
    );
    c.check(
        &["BLMPOP", "0", "x", "k", "LEFT"],
        &err("ERR numkeys should be greater than 0"),
    );
    c.check(&["BLMPOP", "0", "2", "k", "LEFT"], &err(SYNTAX));
    c.check(&["BLMPOP", "0", "1", "k", "UP"], &err(SYNTAX));
    c.check(
        &["BLMPOP", "0", "1", "k", "LEFT", "COUNT", "0"],
        &err("ERR count should be greater than 0"),
    );
    c.check(&["BLMPOP", "0", "1", "k", "LEFT", "COUNT"], &err(SYNTAX));
    // Arity.
    c.check(&["BLPOP"], &arity("blpop"));
    c.check(&["BLPOP", "k"], &arity("blpop"));
    c.check(&["BRPOP", "k"], &arity("brpop"));
    c.check(&["BRPOPLPUSH", "k", "d"], &arity("brpoplpush"));
    c.check(&["BRPOPLPUSH", "k", "d", "0", "x"], &arity("brpoplpush"));
    c.check(&["BLMOVE", "k", "d", "LEFT", "LEFT"], &arity("blmove"));
    c.check(&["BLMPOP", "0", "1", "k"], &arity("blmpop"));
    // Nothing was popped, nothing is blocked.
    assert_list(&mut c, "k", &["a"]);
    c.check(&["EXISTS", "d"], &int(0));
    assert_eq!(blocked_clients(&mut c), 0);
}

fn wrongtype_does_not_block(s: &Server) {
    let mut c = s.raw();
    c.check(&["SET", "s", "v"], &ok());
    c.check(&["BLPOP", "s", "0"], &err(WRONGTYPE));
    c.check(&["BRPOP", "nokey", "s", "0"], &err(WRONGTYPE));
    c.check(&["BRPOPLPUSH", "s", "d", "0"], &err(WRONGTYPE));
    c.check(&["BLMOVE", "s", "d", "LEFT", "LEFT", "0"], &err(WRONGTYPE));
    c.check(&["BLMPOP", "0", "2", "nokey", "s", "LEFT"], &err(WRONGTYPE));
    // A list with data before the string: served, the string is not looked at.
    c.check(&["RPUSH", "k", "x", "y"], &int(2));
    c.check(&["BLPOP", "k", "s", "0"], &popped("k", "x"));
    c.check(&["BLMPOP", "0", "2", "k", "s", "LEFT"], &mpop("k", &["y"]));
    // The destination of a move with data is checked at once.
    c.check(&["RPUSH", "k", "z"], &int(1));
    c.check(&["BLMOVE", "k", "s", "LEFT", "LEFT", "0"], &err(WRONGTYPE));
    c.check(&["BRPOPLPUSH", "k", "s", "0"], &err(WRONGTYPE));
    assert_list(&mut c, "k", &["z"]);
    c.check(&["GET", "s"], &bulk("v"));
    assert_eq!(blocked_clients(&mut c), 0);
}

fn push_wakes_each_blocking_command(s: &Server) {
    let mut admin = s.raw();
    let mut b = s.raw();
    let mut p = s.raw();

    block_and_wait(&mut b, &mut admin, &["BLPOP", "k", "0"]);
    assert_no_reply(&b, Duration::from_millis(100));
    p.check(&["RPUSH", "k", "a"], &int(1));
    expect_reply(&mut b, &popped("k", "a"));
    p.check(&["EXISTS", "k"], &int(0));

    block_and_wait(&mut b, &mut admin, &["BRPOP", "k", "5"]);
    p.check(&["LPUSH", "k", "x", "y"], &int(2));
    expect_reply(&mut b, &popped("k", "x"));
    assert_list(&mut p, "k", &["y"]);
    p.check(&["DEL", "k"], &int(1));

    block_and_wait(&mut b, &mut admin, &["BRPOPLPUSH", "k", "d", "0"]);
    p.check(&["RPUSH", "k", "m", "n"], &int(2));
    expect_reply(&mut b, &bulk("n"));
    assert_list(&mut p, "k", &["m"]);
    assert_list(&mut p, "d", &["n"]);
    p.check(&["DEL", "k", "d"], &int(2));

    block_and_wait(
        &mut b,
        &mut admin,
        &["BLMOVE", "k", "d", "LEFT", "RIGHT", "0"],
    );
    p.check(&["RPUSH", "d", "old"], &int(1));
    assert_no_reply(&b, Duration::from_millis(50));
    p.check(&["RPUSH", "k", "m", "n"], &int(2));
    expect_reply(&mut b, &bulk("m"));
    assert_list(&mut p, "k", &["n"]);
    assert_list(&mut p, "d", &["old", "m"]);
    p.check(&["DEL", "k", "d"], &int(2));

    block_and_wait(
        &mut b,
        &mut admin,
        &["BLMPOP", "0", "2", "k1", "k2", "RIGHT"],
    );
    p.check(&["RPUSH", "k2", "1", "2"], &int(2));
    expect_reply(&mut b, &mpop("k2", &["2"]));
    assert_list(&mut p, "k2", &["1"]);

    // RESP3 clients get the same reply shapes when woken.
    hello3(&mut b);
    block_and_wait(&mut b, &mut admin, &["BLPOP", "r3", "0"]);
    p.check(&["RPUSH", "r3", "v"], &int(1));
    expect_reply(&mut b, &popped("r3", "v"));
    block_and_wait(
        &mut b,
        &mut admin,
        &["BLMOVE", "r3", "d3", "LEFT", "LEFT", "0"],
    );
    p.check(&["RPUSH", "r3", "w"], &int(1));
    expect_reply(&mut b, &bulk("w"));
    wait_blocked(&mut admin, 0);
    b.check(&["PING"], &simple("PONG"));
}

fn other_commands_wake_blocked_clients(s: &Server) {
    // Any command that creates the list serves blocked clients: LMOVE,
    // RPOPLPUSH, and RENAME of a list onto the key.
    let mut admin = s.raw();
    let mut b = s.raw();
    let mut p = s.raw();
    p.check(&["RPUSH", "src", "1", "2", "3"], &int(3));

    block_and_wait(&mut b, &mut admin, &["BLPOP", "k", "0"]);
    p.check(&["LMOVE", "src", "k", "LEFT", "LEFT"], &bulk("1"));
    expect_reply(&mut b, &popped("k", "1"));
    p.check(&["EXISTS", "k"], &int(0));

    block_and_wait(&mut b, &mut admin, &["BRPOP", "k", "0"]);
    p.check(&["RPOPLPUSH", "src", "k"], &bulk("3"));
    expect_reply(&mut b, &popped("k", "3"));

    block_and_wait(&mut b, &mut admin, &["BLPOP", "k", "0"]);
    p.check(&["RENAME", "src", "k"], &ok());
    expect_reply(&mut b, &popped("k", "2"));
    p.check(&["EXISTS", "k", "src"], &int(0));

    // LPUSHX / RPUSHX / LINSERT on a missing key create nothing: still blocked.
    block_and_wait(&mut b, &mut admin, &["BLPOP", "k", "0"]);
    p.check(&["LPUSHX", "k", "x"], &int(0));
    p.check(&["RPUSHX", "k", "x"], &int(0));
    p.check(&["LINSERT", "k", "BEFORE", "a", "x"], &int(0));
    assert_no_reply(&b, Duration::from_millis(100));
    p.check(&["RPUSH", "k", "finally"], &int(1));
    expect_reply(&mut b, &popped("k", "finally"));
}

fn fifo_among_ten_clients(s: &Server) {
    let mut admin = s.raw();
    let mut p = s.raw();
    let mut clients: Vec<RawConn> = (0..10).map(|_| s.raw()).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        // Mixed commands and timeouts on the same key; order is by blocking time.
        let args: Vec<&str> = match i % 3 {
            0 => vec!["BLPOP", "fifo", "0"],
            1 => vec!["BRPOP", "other", "fifo", "30"],
            _ => vec!["BLMPOP", "0", "1", "fifo", "LEFT"],
        };
        block_and_wait(c, &mut admin, &args);
    }
    for i in 0..10 {
        let e = format!("e{i}");
        p.check(&["RPUSH", "fifo", &e], &int(1));
        let want = match i % 3 {
            2 => mpop("fifo", &[&e]),
            _ => popped("fifo", &e),
        };
        expect_reply(&mut clients[i], &want);
        p.check(&["EXISTS", "fifo"], &int(0));
        // Nobody else was served.
        for c in clients.iter().skip(i + 1) {
            assert_no_reply(c, Duration::ZERO);
        }
        assert_eq!(blocked_clients(&mut admin), 9 - i as i64);
    }
}

fn one_push_serves_several_clients(s: &Server) {
    let mut admin = s.raw();
    let mut p = s.raw();
    let mut clients: Vec<RawConn> = (0..3).map(|_| s.raw()).collect();
    for c in clients.iter_mut() {
        block_and_wait(c, &mut admin, &["BLPOP", "k", "0"]);
    }
    // The pusher sees the length before anyone is served.
    p.check(&["LPUSH", "k", "a", "b", "c"], &int(3));
    for (c, e) in clients.iter_mut().zip(["c", "b", "a"]) {
        expect_reply(c, &popped("k", e));
    }
    p.check(&["EXISTS", "k"], &int(0));
    wait_blocked(&mut admin, 0);

    // Fewer elements than clients: the rest stay blocked, in order.
    for c in clients.iter_mut() {
        block_and_wait(c, &mut admin, &["BRPOP", "k", "0"]);
    }
    p.check(&["RPUSH", "k", "x", "y"], &int(2));
    expect_reply(&mut clients[0], &popped("k", "y"));
    expect_reply(&mut clients[1], &popped("k", "x"));
    assert_no_reply(&clients[2], Duration::from_millis(100));
    assert_eq!(blocked_clients(&mut admin), 1);
    p.check(&["RPUSH", "k", "z"], &int(1));
    expect_reply(&mut clients[2], &popped("k", "z"));

    // More elements than clients: the rest stay in the list.
    for c in clients.iter_mut() {
        block_and_wait(c, &mut admin, &["BLPOP", "k", "0"]);
    }
    p.check(&["RPUSH", "k", "1", "2", "3", "4", "5"], &int(5));
    for (c, e) in clients.iter_mut().zip(["1", "2", "3"]) {
        expect_reply(c, &popped("k", e));
    }
    assert_list(&mut p, "k", &["4", "5"]);
}

fn multi_key_client_is_served_once(s: &Server) {
    let mut admin = s.raw();
    let mut p = s.raw();
    let mut x = s.raw();
    // Keys on three shards; the third one gets an element first.
    block_and_wait(&mut x, &mut admin, &["BLPOP", SRC, DST, THIRD, "0"]);
    p.check(&["RPUSH", THIRD, "t"], &int(1));
    expect_reply(&mut x, &popped(THIRD, "t"));
    wait_blocked(&mut admin, 0);
    // Served once: later pushes to the other keys stay.
    p.check(&["RPUSH", SRC, "s"], &int(1));
    p.check(&["RPUSH", DST, "d"], &int(1));
    assert_no_reply(&x, Duration::from_millis(100));
    assert_list(&mut p, SRC, &["s"]);
    assert_list(&mut p, DST, &["d"]);
    p.check(&["DEL", SRC, DST], &int(2));

    // X waits on A and B, Y on B: a push to A serves X, then B serves Y.
    let mut y = s.raw();
    block_and_wait(&mut x, &mut admin, &["BRPOP", SRC, DST, "0"]);
    block_and_wait(&mut y, &mut admin, &["BLMPOP", "0", "1", DST, "LEFT"]);
    p.check(&["RPUSH", SRC, "for-x"], &int(1));
    expect_reply(&mut x, &popped(SRC, "for-x"));
    assert_no_reply(&y, Duration::from_millis(50));
    p.check(&["RPUSH", DST, "for-y"], &int(1));
    expect_reply(&mut y, &mpop(DST, &["for-y"]));
    assert_no_reply(&x, Duration::from_millis(50));
    p.check(&["EXISTS", SRC, DST], &int(0));

    // The same key named twice is served once.
    block_and_wait(&mut x, &mut admin, &["BLPOP", "k", "k", "0"]);
    p.check(&["RPUSH", "k", "1", "2"], &int(2));
    expect_reply(&mut x, &popped("k", "1"));
    assert_list(&mut p, "k", &["2"]);
    wait_blocked(&mut admin, 0);
}

fn disconnect_while_blocked_leaves_no_trace(s: &Server) {
    let mut admin = s.raw();
    let mut p = s.raw();
    {
        let mut x = s.raw();
        block_and_wait(&mut x, &mut admin, &["BLPOP", "k", "0"]);
    }
    wait_blocked(&mut admin, 0);
    p.check(&["RPUSH", "k", "v"], &int(1));
    assert_list(&mut p, "k", &["v"]);
    p.check(&["DEL", "k"], &int(1));

    // A blocked move across shards.
    {
        let mut x = s.raw();
        block_and_wait(
            &mut x,
            &mut admin,
            &["BLMOVE", SRC, DST, "LEFT", "LEFT", "0"],
        );
        let mut y = s.raw();
        block_and_wait(
            &mut y,
            &mut admin,
            &["BLMPOP", "0", "2", THIRD, SRC, "LEFT"],
        );
    }
    wait_blocked(&mut admin, 0);
    p.check(&["RPUSH", SRC, "stay"], &int(1));
    assert_list(&mut p, SRC, &["stay"]);
    p.check(&["EXISTS", DST], &int(0));
    p.check(&["DEL", SRC], &int(1));

    // The middle one of three leaves: the other two keep their order.
    let mut a = s.raw();
    block_and_wait(&mut a, &mut admin, &["BLPOP", "k", "0"]);
    let mut b = s.raw();
    block_and_wait(&mut b, &mut admin, &["BLPOP", "k", "0"]);
    let mut c = s.raw();
    block_and_wait(&mut c, &mut admin, &["BLPOP", "k", "0"]);
    drop(b);
    wait_blocked(&mut admin, 2);
    p.check(&["RPUSH", "k", "1", "2", "3"], &int(3));
    expect_reply(&mut a, &popped("k", "1"));
    expect_reply(&mut c, &popped("k", "2"));
    assert_list(&mut p, "k", &["3"]);

    // A blocked client that half-closes its connection is dropped as well.
    let mut d = s.raw();
    p.check(&["DEL", "k"], &int(1));
    block_and_wait(&mut d, &mut admin, &["BRPOP", "k", "0"]);
    d.shutdown_write();
    wait_blocked(&mut admin, 0);
    p.check(&["LPUSH", "k", "kept"], &int(1));
    assert_list(&mut p, "k", &["kept"]);
    d.expect_closed();
}

fn client_unblock(s: &Server) {
    let mut admin = s.raw();
    let mut b = s.raw();
    let id = client_id(&mut b);
    let ids = id.to_string();
    admin.check(&["CLIENT", "UNBLOCK", &ids], &int(0));
    admin.check(&["CLIENT", "UNBLOCK", "999999"], &int(0));
    admin.check(
        &["CLIENT", "UNBLOCK", "abc"],
        &err("ERR value is not an integer or out of range"),
    );
    admin.check(
        &["CLIENT", "UNBLOCK", &ids, "FOO"],
        &err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
    );

    // Default reason: as if the timeout expired.
    block_and_wait(&mut b, &mut admin, &["BLPOP", "k", "0"]);
    admin.check(&["CLIENT", "UNBLOCK", &ids], &int(1));
    expect_reply(&mut b, &nil_array());
    wait_blocked(&mut admin, 0);
    admin.check(&["CLIENT", "UNBLOCK", &ids], &int(0));

    block_and_wait(&mut b, &mut admin, &["BRPOPLPUSH", "k", "d", "0"]);
    admin.check(&["CLIENT", "UNBLOCK", &ids, "TIMEOUT"], &int(1));
    expect_reply(&mut b, &nil_array());

    block_and_wait(&mut b, &mut admin, &["BLMPOP", "0", "1", "k", "LEFT"]);
    admin.check(&["CLIENT", "UNBLOCK", &ids, "error"], &int(1));
    expect_reply(&mut b, &err(UNBLOCKED));

    block_and_wait(
        &mut b,
        &mut admin,
        &["BLMOVE", SRC, DST, "LEFT", "LEFT", "0"],
    );
    admin.check(&["CLIENT", "UNBLOCK", &ids, "ERROR"], &int(1));
    expect_reply(&mut b, &err(UNBLOCKED));

    // RESP3: the timeout form is a RESP3 null.
    hello3(&mut b);
    block_and_wait(&mut b, &mut admin, &["BRPOP", "k", "0"]);
    admin.check(&["CLIENT", "UNBLOCK", &ids], &int(1));
    expect_reply(&mut b, &null3());

    // Unblocked clients are really gone from the key: a push stays.
    wait_blocked(&mut admin, 0);
    admin.check(&["RPUSH", "k", "v"], &int(1));
    admin.check(&["RPUSH", SRC, "v"], &int(1));
    assert_list(&mut admin, "k", &["v"]);
    assert_list(&mut admin, SRC, &["v"]);
    admin.check(&["EXISTS", DST, "d"], &int(0));
    b.check(&["PING"], &simple("PONG"));
}

fn info_blocked_clients(s: &Server) {
    let mut admin = s.raw();
    assert_eq!(blocked_clients(&mut admin), 0);
    let mut a = s.raw();
    let mut b = s.raw();
    let mut c = s.raw();
    let a_id = client_id(&mut a);
    block(&mut a, &["BLPOP", "k", "0"]);
    block(&mut b, &["BLMOVE", SRC, DST, "RIGHT", "LEFT", "0.3"]);
    block(&mut c, &["BLMPOP", "0", "2", THIRD, "k2", "LEFT"]);
    wait_blocked(&mut admin, 3);
    // b times out.
    expect_reply(&mut b, &nil_array());
    wait_blocked(&mut admin, 2);
    admin.check(&["CLIENT", "UNBLOCK", &a_id.to_string()], &int(1));
    expect_reply(&mut a, &nil_array());
    wait_blocked(&mut admin, 1);
    admin.check(&["RPUSH", "k2", "x"], &int(1));
    expect_reply(&mut c, &mpop("k2", &["x"]));
    wait_blocked(&mut admin, 0);
    // Non-blocking list commands never count.
    a.check(&["LPOP", "nokey"], &nil());
    a.check(&["BLPOP", "nokey", "0.01"], &nil_array());
    assert_eq!(blocked_clients(&mut admin), 0);
}

fn blmove_across_shards(s: &Server) {
    let mut admin = s.raw();
    let mut p = s.raw();
    let mut b = s.raw();
    block_and_wait(
        &mut b,
        &mut admin,
        &["BLMOVE", SRC, DST, "RIGHT", "LEFT", "0"],
    );
    p.check(&["RPUSH", SRC, "x", "y"], &int(2));
    expect_reply(&mut b, &bulk("y"));
    assert_list(&mut p, SRC, &["x"]);
    assert_list(&mut p, DST, &["y"]);
    p.check(&["DEL", SRC], &int(1));

    block_and_wait(&mut b, &mut admin, &["BRPOPLPUSH", THIRD, DST, "0"]);
    p.check(&["LPUSH", THIRD, "z"], &int(1));
    expect_reply(&mut b, &bulk("z"));
    p.check(&["EXISTS", THIRD], &int(0));
    assert_list(&mut p, DST, &["z", "y"]);

    // Back the other way, from the destination's shard.
    block_and_wait(
        &mut b,
        &mut admin,
        &["BLMOVE", SRC, THIRD, "LEFT", "RIGHT", "0"],
    );
    p.check(&["LMOVE", DST, SRC, "LEFT", "LEFT"], &bulk("z"));
    expect_reply(&mut b, &bulk("z"));
    p.check(&["EXISTS", SRC], &int(0));
    assert_list(&mut p, THIRD, &["z"]);
    assert_list(&mut p, DST, &["y"]);

    // BLMPOP over three shards, woken by the last key.
    block_and_wait(
        &mut b,
        &mut admin,
        &[
            "BLMPOP",
            "0",
            "3",
            SRC,
            "{to}empty",
            "{in}empty",
            "RIGHT",
            "COUNT",
            "2",
        ],
    );
    p.check(&["RPUSH", "{in}empty", "1", "2", "3"], &int(3));
    expect_reply(&mut b, &mpop("{in}empty", &["3", "2"]));
    assert_list(&mut p, "{in}empty", &["1"]);

    // Many blocked moves in a row, each woken by a push.
    p.check(&["DEL", SRC, DST, THIRD], &int(2));
    for i in 0..50 {
        let v = i.to_string();
        block_and_wait(
            &mut b,
            &mut admin,
            &["BLMOVE", SRC, DST, "LEFT", "RIGHT", "5"],
        );
        p.check(&["RPUSH", SRC, &v], &int(1));
        expect_reply(&mut b, &bulk(&v));
    }
    p.check(&["LLEN", DST], &int(50));
    p.check(&["EXISTS", SRC], &int(0));
}

fn blocked_move_feeds_blocked_pop(s: &Server) {
    // A is blocked moving SRC -> DST, B is blocked popping DST: one push to
    // SRC serves A, whose push to DST serves B.
    let mut admin = s.raw();
    let mut p = s.raw();
    let mut a = s.raw();
    let mut b = s.raw();
    block_and_wait(
        &mut a,
        &mut admin,
        &["BLMOVE", SRC, DST, "RIGHT", "LEFT", "0"],
    );
    block_and_wait(&mut b, &mut admin, &["BLPOP", DST, "0"]);
    p.check(&["RPUSH", SRC, "m"], &int(1));
    expect_reply(&mut a, &bulk("m"));
    expect_reply(&mut b, &popped(DST, "m"));
    p.check(&["EXISTS", SRC, DST], &int(0));
    wait_blocked(&mut admin, 0);

    // A chain over three shards: SRC -> DST -> THIRD -> popped.
    let mut c = s.raw();
    block_and_wait(&mut a, &mut admin, &["BRPOPLPUSH", SRC, DST, "0"]);
    block_and_wait(
        &mut b,
        &mut admin,
        &["BLMOVE", DST, THIRD, "LEFT", "LEFT", "0"],
    );
    block_and_wait(&mut c, &mut admin, &["BRPOP", THIRD, "0"]);
    p.check(&["LPUSH", SRC, "n"], &int(1));
    expect_reply(&mut a, &bulk("n"));
    expect_reply(&mut b, &bulk("n"));
    expect_reply(&mut c, &popped(THIRD, "n"));
    p.check(&["EXISTS", SRC, DST, THIRD], &int(0));
    wait_blocked(&mut admin, 0);
}

fn blmove_woken_into_wrong_type_keeps_element(s: &Server) {
    // A missing source blocks even if the destination has the wrong type;
    // when woken the move fails with WRONGTYPE and the element stays put.
    let mut admin = s.raw();
    let mut p = s.raw();
    let mut b = s.raw();
    p.check(&["SET", DST, "string"], &ok());
    block_and_wait(
        &mut b,
        &mut admin,
        &["BLMOVE", SRC, DST, "RIGHT", "LEFT", "0"],
    );
    p.check(&["RPUSH", SRC, "m"], &int(1));
    expect_reply(&mut b, &err(WRONGTYPE));
    assert_list(&mut p, SRC, &["m"]);
    p.check(&["GET", DST], &bulk("string"));
    wait_blocked(&mut admin, 0);
}

fn blmpop_count_when_woken(s: &Server) {
    let mut admin = s.raw();
    let mut p = s.raw();
    let mut b = s.raw();
    block_and_wait(
        &mut b,
        &mut admin,
        &["BLMPOP", "0", "1", "k", "LEFT", "COUNT", "3"],
    );
    p.check(&["RPUSH", "k", "a", "b", "c", "d"], &int(4));
    expect_reply(&mut b, &mpop("k", &["a", "b", "c"]));
    assert_list(&mut p, "k", &["d"]);
    p.check(&["DEL", "k"], &int(1));
    block_and_wait(
        &mut b,
        &mut admin,
        &["BLMPOP", "0", "1", "k", "RIGHT", "COUNT", "10"],
    );
    p.check(&["RPUSH", "k", "x", "y"], &int(2));
    expect_reply(&mut b, &mpop("k", &["y", "x"]));
    p.check(&["EXISTS", "k"], &int(0));
}

fn timeout_then_push_stays(s: &Server) {
    let mut p = s.raw();
    let mut b = s.raw();
    b.check(&["BLPOP", "k", "0.1"], &nil_array());
    b.check(&["BLMOVE", SRC, DST, "LEFT", "LEFT", "0.1"], &nil_array());
    assert_eq!(blocked_clients(&mut p), 0);
    p.check(&["RPUSH", "k", "v"], &int(1));
    p.check(&["RPUSH", SRC, "w"], &int(1));
    assert_list(&mut p, "k", &["v"]);
    assert_list(&mut p, SRC, &["w"]);
    p.check(&["EXISTS", DST], &int(0));
    assert_no_reply(&b, Duration::from_millis(50));
}

// ---------------------------------------------------------------- stress

/// 4 producers LPUSH 25,000 unique messages each to Q1; 4 movers BLMOVE
/// them to Q2 (on another shard); 4 consumers BRPOP them. Every message
/// must arrive exactly once.
#[test]
fn stress_producers_movers_consumers() {
    const PRODUCERS: usize = 4;
    const PER_PRODUCER: usize = 25_000;
    const TOTAL: usize = PRODUCERS * PER_PRODUCER;
    const BATCH: usize = 250;
    let server = Server::start(3);
    // A guard against a hang, not a speed check: the debug build takes
    // 45-55 s on this 2-CPU machine (3 executors share the 2 CPUs).
    let deadline = Instant::now() + Duration::from_secs(150);
    let moved = Arc::new(AtomicUsize::new(0));
    let consumed = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();

    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let mut c = server.raw();
            thread::spawn(move || {
                let mut i = 0;
                while i < PER_PRODUCER {
                    assert!(Instant::now() < deadline, "producer {p} too slow");
                    let n = BATCH.min(PER_PRODUCER - i);
                    let mut buf = Vec::new();
                    for j in i..i + n {
                        buf.extend(encode_str(&["LPUSH", Q1, &format!("p{p}-{j}")]));
                    }
                    c.send(&buf);
                    for _ in 0..n {
                        let r = c.read_reply();
                        assert_eq!(r[0], b':', "LPUSH -> {}", show(&r));
                    }
                    i += n;
                }
            })
        })
        .collect();
    let movers: Vec<_> = (0..4)
        .map(|_| {
            let mut c = server.raw();
            let moved = moved.clone();
            thread::spawn(move || {
                while moved.load(Ordering::SeqCst) < TOTAL && Instant::now() < deadline {
                    let r = c.cmd(&["BLMOVE", Q1, Q2, "RIGHT", "LEFT", "1"]);
                    match r[0] {
                        b'$' => {
                            moved.fetch_add(1, Ordering::SeqCst);
                        }
                        b'*' => assert_eq!(r, nil_array()),
                        _ => panic!("BLMOVE -> {}", show(&r)),
                    }
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let mut c = server.raw();
            let consumed = consumed.clone();
            thread::spawn(move || {
                let mut got = Vec::new();
                while consumed.load(Ordering::SeqCst) < TOTAL && Instant::now() < deadline {
                    let r = c.cmd(&["BRPOP", Q2, "1"]);
                    if r == nil_array() {
                        continue;
                    }
                    let items = Reply::parse(&r);
                    let items = items.as_array();
                    assert_eq!(items[0], Reply::Bulk(Q2.as_bytes().to_vec()));
                    got.push(items[1].as_text());
                    consumed.fetch_add(1, Ordering::SeqCst);
                }
                got
            })
        })
        .collect();

    for p in producers {
        p.join().unwrap();
    }
    for m in movers {
        m.join().unwrap();
    }
    let mut all = Vec::with_capacity(TOTAL);
    for c in consumers {
        all.extend(c.join().unwrap());
    }
    let took = started.elapsed();
    assert_eq!(
        moved.load(Ordering::SeqCst),
        TOTAL,
        "moved count after {took:?}"
    );
    assert_eq!(all.len(), TOTAL, "consumed count after {took:?}");
    let unique: BTreeSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), TOTAL, "a message arrived twice");
    for p in 0..PRODUCERS {
        for j in [0, PER_PRODUCER / 2, PER_PRODUCER - 1] {
            assert!(unique.contains(&format!("p{p}-{j}")), "p{p}-{j} missing");
        }
    }
    let mut c = server.raw();
    c.check(&["EXISTS", Q1, Q2], &int(0));
    wait_blocked(&mut c, 0);
    eprintln!("stress: {TOTAL} messages in {took:?}");
}

/// Replies to requests pipelined before a blocking command arrive at once,
/// not when it unblocks; and two pipelined BRPOPs are each answered as soon
/// as each is served.
#[test]
fn replies_before_a_blocking_command_are_not_held() {
    let s = Server::start(2);
    let mut c = s.raw();
    c.send(b"PING\r\nBRPOP held:empty 2\r\n");
    let started = std::time::Instant::now();
    assert_eq!(show(&c.read_reply()), show(b"+PONG\r\n"));
    assert!(
        started.elapsed() < std::time::Duration::from_millis(1500),
        "PONG was held until the BRPOP timed out ({:?})",
        started.elapsed()
    );
    assert_eq!(show(&c.read_reply()), show(b"*-1\r\n"));

    let mut b = s.raw();
    b.send(b"BRPOP held:q 3\r\nBRPOP held:q 3\r\n");
    let mut p = s.raw();
    wait_blocked(&mut p, 1);
    let started = std::time::Instant::now();
    p.check(&["LPUSH", "held:q", "a"], &int(1));
    assert_eq!(show(&b.read_reply()), show(&bulks(&["held:q", "a"])));
    assert!(
        started.elapsed() < std::time::Duration::from_millis(1500),
        "the first BRPOP's reply was held behind the second ({:?})",
        started.elapsed()
    );
    assert_eq!(show(&b.read_reply()), show(b"*-1\r\n"));
}

/// Input that keeps arriving while a client is blocked is bounded by
/// client-query-buffer-limit: past it the client is dropped, and the list it
/// waited on keeps what is pushed afterwards.
#[test]
fn input_while_blocked_is_bounded_by_the_query_buffer_limit() {
    let s = Server::start_with(&["--client-query-buffer-limit", "1mb"]);
    let mut c = s.raw();
    c.send(b"BLPOP bounded:q 0\r\n");
    let mut admin = s.raw();
    wait_blocked(&mut admin, 1);
    // The start of a 4 MB bulk string: never complete, so never run.
    c.send(b"*2\r\n$4\r\nECHO\r\n$4194304\r\n");
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..32 {
        if std::io::Write::write_all(&mut c.stream, &chunk).is_err() {
            break;
        }
    }
    c.expect_closed();
    wait_blocked(&mut admin, 0);
    admin.check(&["RPUSH", "bounded:q", "v"], &int(1));
    admin.check(&["LRANGE", "bounded:q", "0", "-1"], &bulks(&["v"]));
}
