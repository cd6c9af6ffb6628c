//! Blocking stream reads and consumer groups under concurrency.
//!
//! Covered: XREAD BLOCK and XREADGROUP BLOCK answering at once when data
//! exists, timeouts (RESP2 `*-1`, RESP3 `_`), BLOCK / COUNT argument errors,
//! wake-ups by XADD from another connection (also when the stream lives on
//! another shard, and for multi-stream reads woken by a later stream), what
//! `$` means, FIFO service of XREADGROUP clients in one group, XREAD clients
//! that all see the same entry, DEL / XGROUP DESTROY under a waiting client,
//! disconnects, CLIENT UNBLOCK, INFO blocked_clients, a group of consumers on
//! different connections splitting a stream (every entry delivered exactly
//! once), recovery of a crashed consumer's entries with XPENDING + XCLAIM and
//! with XAUTOCLAIM (entries deleted meanwhile included), and NOACK reads.
//!
//! Every expectation was checked against a real redis-server 7.0.15
//! (`RINGBUS_TEST_TARGET=redis`). The only replies known to differ in Redis
//! 7.2 (which ringbus follows) are those a waiting XREADGROUP gets when its
//! key is deleted or its group destroyed: the test picks the text by the
//! server's `redis_version` (see `gone_while_blocked`). XREAD's `+` ID is Redis 7.4 (7.0.15 and 7.2
//! reject it) and is not tested.
//!
//! Waits are bounded: a blocked client is known to be blocked once INFO's
//! blocked_clients says so (polled with a deadline), and every read has the
//! harness's 5 s timeout.

mod common;

use common::*;
use ringbus::shard::route::shard_of;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

sharded_tests!(
    returns_at_once_when_data_exists,
    timeout_returns_null_resp2,
    timeout_returns_null_resp3,
    argument_errors_do_not_block,
    xadd_wakes_xread,
    xadd_wakes_xreadgroup,
    multi_stream_read_woken_by_a_later_stream,
    dollar_is_the_last_id_when_blocking,
    fifo_among_xreadgroup_clients,
    every_xread_client_gets_the_new_entry,
    del_or_group_destroy_while_xreadgroup_waits,
    del_while_xread_waits_keeps_it_waiting,
    disconnect_while_blocked_leaves_no_trace,
    client_unblock,
    info_blocked_clients,
    consumers_split_the_work,
    crashed_consumer_recovered_with_xclaim,
    crashed_consumer_recovered_with_xautoclaim,
    noack_reads_create_no_pending_entries,
);

// ------------------------------------------------------------------ helpers

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NEGATIVE: &str = "ERR timeout is negative";
const NOT_INT: &str = "ERR timeout is not an integer or out of range";
const BAD_INT: &str = "ERR value is not an integer or out of range";
const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";

/// What a waiting XREADGROUP gets when its stream is deleted, in Redis
/// 7.0.15. Redis 7.2 re-runs the command instead and answers
/// `nogroup(key, group)` ("NOGROUP No such key ...").
const KEY_GONE_WHILE_BLOCKED: &str = "UNBLOCKED the stream key no longer exists";
/// What a waiting XREADGROUP gets when its group is destroyed, in Redis
/// 7.0.15. Redis 7.2 answers `nogroup(key, group)` here too.
const GROUP_GONE_WHILE_BLOCKED: &str =
    "NOGROUP the consumer group this client was blocked on no longer exists";

/// Streams whose hash tags live on three different shards of a 3-shard
/// ringbus. `{out}` shares a shard with `{to}`; `{a}` and `{b}` would share
/// one too.
const FROM: &str = "{from}s";
const TO: &str = "{to}s";
const IN: &str = "{in}s";
const OUT: &str = "{out}s";

/// How long a blocked client may take to show up in INFO, or to leave it.
const SETTLE: Duration = Duration::from_secs(5);

fn nogroup(key: &str, group: &str) -> String {
    format!(
        "NOGROUP No such key '{key}' or consumer group '{group}' in XREADGROUP with GROUP option"
    )
}

/// One stream entry with a single field `f`: `[id, ["f", value]]`.
fn entry(id: &str, value: &str) -> Vec<u8> {
    array(&[bulk(id), bulks(&["f", value])])
}

/// An XREAD / XREADGROUP reply in RESP2: `[[key, [entry, ...]], ...]`.
fn streams(items: &[(&str, Vec<Vec<u8>>)]) -> Vec<u8> {
    let per_key: Vec<Vec<u8>> = items
        .iter()
        .map(|(k, entries)| array(&[bulk(k), array(entries)]))
        .collect();
    array(&per_key)
}

/// The same reply in RESP3: a map from key to entries.
fn streams3(items: &[(&str, Vec<Vec<u8>>)]) -> Vec<u8> {
    let mut out = format!("%{}\r\n", items.len()).into_bytes();
    for (k, entries) in items {
        out.extend(bulk(k));
        out.extend(array(entries));
    }
    out
}

/// A read reply with one stream and one entry.
fn one(key: &str, id: &str, value: &str) -> Vec<u8> {
    streams(&[(key, vec![entry(id, value)])])
}

/// A command line split on single spaces (two spaces make an empty argument).
fn words(line: &str) -> Vec<&str> {
    line.split(' ').collect()
}

/// Add an entry `f value` with an explicit ID.
fn xadd(c: &mut RawConn, key: &str, id: &str, value: &str) {
    c.check(&["XADD", key, id, "f", value], &bulk(id));
}

/// (id, consumer, deliveries) of each pending entry, idle time left out.
fn pending_owners(c: &mut RawConn, args: &[&str]) -> Vec<(String, String, i64)> {
    xpending_entries(c, args)
        .into_iter()
        .map(|(id, owner, _, n)| (id, owner, n))
        .collect()
}

fn owners(items: &[(&str, &str, i64)]) -> Vec<(String, String, i64)> {
    items
        .iter()
        .map(|(id, c, n)| (id.to_string(), c.to_string(), *n))
        .collect()
}

/// Poll XPENDING's IDLE filter until exactly `n` entries have been idle for
/// at least `idle_ms` (bounded).
fn wait_idle(c: &mut RawConn, key: &str, group: &str, idle_ms: u64, n: usize) {
    let idle = idle_ms.to_string();
    let deadline = Instant::now() + SETTLE;
    loop {
        let got = xpending_entries(c, &["XPENDING", key, group, "IDLE", &idle, "-", "+", "100"]);
        if got.len() == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} entries idle for {idle_ms} ms, expected {n}",
            got.len()
        );
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn hash_tags_are_on_distinct_shards() {
    let shards: BTreeSet<usize> = [FROM, TO, IN]
        .iter()
        .map(|k| shard_of(k.as_bytes(), 3))
        .collect();
    assert_eq!(shards.len(), 3, "{FROM} {TO} {IN} must use three shards");
}

// -------------------------------------------------------------------- tests

fn returns_at_once_when_data_exists(s: &Server) {
    let mut c = s.raw();
    xadd(&mut c, FROM, "1-1", "a");
    xadd(&mut c, FROM, "1-2", "b");
    let both = || vec![entry("1-1", "a"), entry("1-2", "b")];
    c.check(
        &["XREAD", "BLOCK", "0", "STREAMS", FROM, "0"],
        &streams(&[(FROM, both())]),
    );
    c.check(
        &[
            "XREAD", "COUNT", "1", "BLOCK", "1000", "STREAMS", FROM, "1-1",
        ],
        &one(FROM, "1-2", "b"),
    );
    // COUNT 0 and negative counts mean "no limit".
    for n in ["0", "-1"] {
        c.check(
            &["XREAD", "COUNT", n, "BLOCK", "0", "STREAMS", FROM, "0"],
            &streams(&[(FROM, both())]),
        );
    }
    // Only streams with new entries appear, over several shards.
    c.check(
        &[
            "XREAD", "BLOCK", "0", "STREAMS", TO, FROM, IN, "0", "0", "0",
        ],
        &streams(&[(FROM, both())]),
    );

    c.check(&["XGROUP", "CREATE", FROM, "g", "0"], &ok());
    let read1 = format!("XREADGROUP GROUP g alice COUNT 1 BLOCK 0 STREAMS {FROM} >");
    let read1 = words(&read1);
    c.check(&read1, &one(FROM, "1-1", "a"));
    c.check(&read1, &one(FROM, "1-2", "b"));
    // A history ID (not `>`) never blocks: it reads the consumer's PEL, and
    // gives an empty list when that is empty.
    c.check(
        &words(&format!(
            "XREADGROUP GROUP g alice BLOCK 0 STREAMS {FROM} 0"
        )),
        &streams(&[(FROM, both())]),
    );
    c.check(&["XACK", FROM, "g", "1-1", "1-2"], &int(2));
    c.check(
        &words(&format!(
            "XREADGROUP GROUP g alice BLOCK 0 STREAMS {FROM} 0"
        )),
        &streams(&[(FROM, vec![])]),
    );

    // RESP3: a map from key to entries.
    hello3(&mut c);
    c.check(
        &["XREAD", "BLOCK", "100", "STREAMS", FROM, "1-1"],
        &streams3(&[(FROM, vec![entry("1-2", "b")])]),
    );
    c.check(&["XGROUP", "SETID", FROM, "g", "0"], &ok());
    c.check(
        &words(&format!("XREADGROUP GROUP g bob BLOCK 0 STREAMS {FROM} >")),
        &streams3(&[(FROM, both())]),
    );
    assert_eq!(blocked_clients(&mut c), 0);
}

fn timeout_returns_null_resp2(s: &Server) {
    let mut c = s.raw();
    xadd(&mut c, FROM, "1-1", "a");
    c.check(&["XGROUP", "CREATE", FROM, "g", "$"], &ok());
    let lines = [
        "XREAD BLOCK 100 STREAMS nokey $".to_string(),
        // An existing stream with nothing after `$` or after the given ID.
        format!("XREAD BLOCK 100 STREAMS {FROM} $"),
        format!("XREAD COUNT 5 BLOCK 100 STREAMS {FROM} 1-1"),
        format!("XREAD BLOCK 100 STREAMS {FROM} {TO} {IN} $ 0 $"),
        format!("XREADGROUP GROUP g alice BLOCK 100 STREAMS {FROM} >"),
        format!("XREADGROUP GROUP g alice COUNT 1 NOACK BLOCK 100 STREAMS {FROM} >"),
    ];
    for line in &lines {
        check_times_out(&mut c, &words(line), 100, &nil_array());
    }
    // Timing out delivers nothing and leaves nothing pending.
    c.check(&["XPENDING", FROM, "g"], &no_pending());
    c.check(&["EXISTS", TO, IN, "nokey"], &int(0));
    c.check(&["PING"], &simple("PONG"));
}

fn timeout_returns_null_resp3(s: &Server) {
    let mut c = s.raw();
    hello3(&mut c);
    c.check(&["XGROUP", "CREATE", TO, "g", "$", "MKSTREAM"], &ok());
    check_times_out(
        &mut c,
        &["XREAD", "BLOCK", "100", "STREAMS", "nokey", "$"],
        100,
        &null3(),
    );
    check_times_out(
        &mut c,
        &["XREAD", "BLOCK", "100", "STREAMS", TO, FROM, "0", "0"],
        100,
        &null3(),
    );
    check_times_out(
        &mut c,
        &words(&format!("XREADGROUP GROUP g c BLOCK 100 STREAMS {TO} >")),
        100,
        &null3(),
    );
    c.check(&["PING"], &simple("PONG"));
}

fn argument_errors_do_not_block(s: &Server) {
    let mut c = s.raw();
    xadd(&mut c, FROM, "1-1", "a");
    c.check(&["XGROUP", "CREATE", FROM, "g", "$"], &ok());
    for key in [FROM, "nokey"] {
        for t in ["-1", "-100"] {
            c.check(&["XREAD", "BLOCK", t, "STREAMS", key, "$"], &err(NEGATIVE));
            c.check(
                &["XREAD", "COUNT", "-1", "BLOCK", t, "STREAMS", key, "0"],
                &err(NEGATIVE),
            );
            c.check(
                &words(&format!("XREADGROUP GROUP g c BLOCK {t} STREAMS {key} >")),
                &err(NEGATIVE),
            );
        }
        // BLOCK takes integer milliseconds.
        for t in ["abc", "1.5", "", "1x", "99999999999999999999"] {
            c.check(&["XREAD", "BLOCK", t, "STREAMS", key, "$"], &err(NOT_INT));
            c.check(
                &words(&format!("XREADGROUP GROUP g c BLOCK {t} STREAMS {key} >")),
                &err(NOT_INT),
            );
        }
        for n in ["abc", "1.5", ""] {
            c.check(
                &["XREAD", "COUNT", n, "BLOCK", "0", "STREAMS", key, "$"],
                &err(BAD_INT),
            );
            c.check(
                &words(&format!(
                    "XREADGROUP GROUP g c COUNT {n} BLOCK 0 STREAMS {key} >"
                )),
                &err(BAD_INT),
            );
        }
    }
    // Option errors come before the group is looked up.
    c.check(
        &words(&format!(
            "XREADGROUP GROUP nogroup c BLOCK -1 STREAMS {FROM} >"
        )),
        &err(NEGATIVE),
    );
    // A missing group or key, or the wrong type, fails at once, BLOCK or not.
    c.check(
        &words(&format!(
            "XREADGROUP GROUP nogroup c BLOCK 0 STREAMS {FROM} >"
        )),
        &err(&nogroup(FROM, "nogroup")),
    );
    c.check(
        &words("XREADGROUP GROUP g c BLOCK 0 STREAMS nokey >"),
        &err(&nogroup("nokey", "g")),
    );
    c.check(&["SET", "str", "v"], &ok());
    c.check(
        &["XREAD", "BLOCK", "0", "STREAMS", "str", "$"],
        &err(WRONGTYPE),
    );
    c.check(
        &["XREAD", "BLOCK", "0", "STREAMS", "nokey", "str", "$", "$"],
        &err(WRONGTYPE),
    );
    c.check(
        &words("XREADGROUP GROUP g c BLOCK 0 STREAMS str >"),
        &err(WRONGTYPE),
    );
    // Nothing was delivered, nothing is blocked.
    c.check(&["XPENDING", FROM, "g"], &no_pending());
    assert_eq!(blocked_clients(&mut c), 0);
}

fn xadd_wakes_xread(s: &Server) {
    let mut admin = s.raw();
    let mut p = s.raw();
    let mut b = s.raw();
    // Whatever shard the blocked connection is on, at least two of these
    // streams live on another one.
    for key in [FROM, TO, IN] {
        block_and_wait(
            &mut b,
            &mut admin,
            &["XREAD", "BLOCK", "0", "STREAMS", key, "$"],
        );
        assert_no_reply(&b, Duration::from_millis(100));
        xadd(&mut p, key, "1-1", "a");
        expect_reply(&mut b, &one(key, "1-1", "a"));
    }
    wait_blocked(&mut admin, 0);

    // An XADD to another stream does not wake the client.
    block_and_wait(
        &mut b,
        &mut admin,
        &["XREAD", "COUNT", "10", "BLOCK", "0", "STREAMS", FROM, "1-1"],
    );
    xadd(&mut p, TO, "2-1", "other");
    xadd(&mut p, OUT, "2-1", "other");
    assert_no_reply(&b, Duration::from_millis(100));
    // COUNT is an upper bound: one XADD serves one entry.
    xadd(&mut p, FROM, "2-1", "b");
    expect_reply(&mut b, &one(FROM, "2-1", "b"));

    // With a timeout that has not expired yet.
    block_and_wait(
        &mut b,
        &mut admin,
        &["XREAD", "BLOCK", "10000", "STREAMS", IN, "1-1"],
    );
    xadd(&mut p, IN, "2-1", "c");
    expect_reply(&mut b, &one(IN, "2-1", "c"));

    // RESP3 clients are served a map.
    hello3(&mut b);
    block_and_wait(
        &mut b,
        &mut admin,
        &["XREAD", "BLOCK", "0", "STREAMS", TO, "$"],
    );
    xadd(&mut p, TO, "3-1", "d");
    expect_reply(&mut b, &streams3(&[(TO, vec![entry("3-1", "d")])]));
    wait_blocked(&mut admin, 0);
    b.check(&["PING"], &simple("PONG"));
}

fn xadd_wakes_xreadgroup(s: &Server) {
    let mut admin = s.raw();
    let mut p = s.raw();
    let mut b = s.raw();
    for key in [FROM, TO, IN] {
        p.check(&["XGROUP", "CREATE", key, "g", "$", "MKSTREAM"], &ok());
        block_and_wait(
            &mut b,
            &mut admin,
            &words(&format!("XREADGROUP GROUP g alice BLOCK 0 STREAMS {key} >")),
        );
        assert_no_reply(&b, Duration::from_millis(100));
        xadd(&mut p, key, "1-1", "a");
        expect_reply(&mut b, &one(key, "1-1", "a"));
        // The entry is pending for the consumer that was woken.
        assert_eq!(
            pending_owners(&mut p, &["XPENDING", key, "g", "-", "+", "10"]),
            owners(&[("1-1", "alice", 1)])
        );
    }

    // Several streams in one XREADGROUP, woken by the one on another shard.
    block_and_wait(
        &mut b,
        &mut admin,
        &words(&format!(
            "XREADGROUP GROUP g bob COUNT 5 BLOCK 0 STREAMS {FROM} {IN} > >"
        )),
    );
    xadd(&mut p, IN, "2-1", "b");
    expect_reply(&mut b, &one(IN, "2-1", "b"));
    p.check(
        &["XPENDING", IN, "g"],
        &pending_summary(2, "1-1", "2-1", &[("alice", 1), ("bob", 1)]),
    );
    p.check(
        &["XPENDING", FROM, "g"],
        &pending_summary(1, "1-1", "1-1", &[("alice", 1)]),
    );

    // RESP3.
    hello3(&mut b);
    block_and_wait(
        &mut b,
        &mut admin,
        &words(&format!(
            "XREADGROUP GROUP g carol BLOCK 5000 STREAMS {TO} >"
        )),
    );
    xadd(&mut p, TO, "2-1", "c");
    expect_reply(&mut b, &streams3(&[(TO, vec![entry("2-1", "c")])]));
    wait_blocked(&mut admin, 0);
}

fn multi_stream_read_woken_by_a_later_stream(s: &Server) {
    let mut admin = s.raw();
    let mut p = s.raw();
    let mut b = s.raw();
    xadd(&mut p, FROM, "1-1", "old");
    block_and_wait(
        &mut b,
        &mut admin,
        &["XREAD", "BLOCK", "0", "STREAMS", FROM, TO, "$", "$"],
    );
    xadd(&mut p, TO, "5-1", "new");
    expect_reply(&mut b, &one(TO, "5-1", "new"));

    // Three streams on three shards, woken by the last one.
    block_and_wait(
        &mut b,
        &mut admin,
        &[
            "XREAD", "COUNT", "3", "BLOCK", "0", "STREAMS", FROM, TO, IN, "$", "$", "$",
        ],
    );
    xadd(&mut p, IN, "7-1", "third");
    expect_reply(&mut b, &one(IN, "7-1", "third"));

    // Explicit IDs mixed with `$`: woken by the first stream.
    block_and_wait(
        &mut b,
        &mut admin,
        &[
            "XREAD", "BLOCK", "0", "STREAMS", FROM, TO, IN, "1-1", "$", "7-1",
        ],
    );
    xadd(&mut p, FROM, "2-1", "first");
    expect_reply(&mut b, &one(FROM, "2-1", "first"));
    wait_blocked(&mut admin, 0);
}

fn dollar_is_the_last_id_when_blocking(s: &Server) {
    let mut admin = s.raw();
    let mut p = s.raw();
    let mut b = s.raw();
    // An entry added before blocking is not returned, one added after is.
    xadd(&mut p, FROM, "1-1", "before");
    block_and_wait(
        &mut b,
        &mut admin,
        &["XREAD", "BLOCK", "0", "STREAMS", FROM, "$"],
    );
    assert_no_reply(&b, Duration::from_millis(100));
    xadd(&mut p, FROM, "2-1", "after");
    expect_reply(&mut b, &one(FROM, "2-1", "after"));

    // On a missing key `$` waits for the first entry.
    block_and_wait(
        &mut b,
        &mut admin,
        &["XREAD", "BLOCK", "0", "STREAMS", TO, "$"],
    );
    xadd(&mut p, TO, "0-1", "first");
    expect_reply(&mut b, &one(TO, "0-1", "first"));

    // `$` is the ID at blocking time: when the stream is deleted and
    // re-created with a smaller ID, that entry does not count.
    xadd(&mut p, IN, "5-1", "x");
    block_and_wait(
        &mut b,
        &mut admin,
        &["XREAD", "BLOCK", "0", "STREAMS", IN, "$"],
    );
    p.check(&["DEL", IN], &int(1));
    xadd(&mut p, IN, "1-1", "smaller");
    assert_no_reply(&b, Duration::from_millis(100));
    assert_eq!(blocked_clients(&mut admin), 1);
    xadd(&mut p, IN, "6-1", "larger");
    expect_reply(&mut b, &one(IN, "6-1", "larger"));

    // BLOCK 0 waits as long as it takes.
    block_and_wait(
        &mut b,
        &mut admin,
        &["XREAD", "BLOCK", "0", "STREAMS", FROM, "$"],
    );
    assert_no_reply(&b, Duration::from_millis(300));
    xadd(&mut p, FROM, "3-1", "late");
    expect_reply(&mut b, &one(FROM, "3-1", "late"));
    wait_blocked(&mut admin, 0);
}

fn fifo_among_xreadgroup_clients(s: &Server) {
    let mut admin = s.raw();
    let mut p = s.raw();
    p.check(&["XGROUP", "CREATE", IN, "g", "$", "MKSTREAM"], &ok());
    let mut clients: Vec<RawConn> = (0..5).map(|_| s.raw()).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        let name = format!("c{i}");
        block_and_wait(
            c,
            &mut admin,
            &words(&format!(
                "XREADGROUP GROUP g {name} COUNT 1 BLOCK 0 STREAMS {IN} >"
            )),
        );
    }
    // Each XADD serves the client that has waited longest, and only it.
    for i in 0..5 {
        let id = format!("{}-1", i + 1);
        let v = format!("e{i}");
        xadd(&mut p, IN, &id, &v);
        expect_reply(&mut clients[i], &one(IN, &id, &v));
        for c in clients.iter().skip(i + 1) {
            assert_no_reply(c, Duration::ZERO);
        }
        assert_eq!(blocked_clients(&mut admin), 4 - i as i64);
    }
    // Each consumer holds exactly the entry it was given.
    let got = pending_owners(&mut p, &["XPENDING", IN, "g", "-", "+", "10"]);
    let want: Vec<(String, String, i64)> = (0..5)
        .map(|i| (format!("{}-1", i + 1), format!("c{i}"), 1))
        .collect();
    assert_eq!(got, want);
}

fn every_xread_client_gets_the_new_entry(s: &Server) {
    let mut admin = s.raw();
    let mut p = s.raw();
    xadd(&mut p, OUT, "1-1", "old");
    p.check(&["XGROUP", "CREATE", OUT, "g1", "$"], &ok());
    p.check(&["XGROUP", "CREATE", OUT, "g2", "$"], &ok());
    let mut readers: Vec<RawConn> = (0..3).map(|_| s.raw()).collect();
    for r in readers.iter_mut() {
        block_and_wait(
            r,
            &mut admin,
            &["XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", OUT, "$"],
        );
    }
    // One consumer in each of two groups: each group gets the entry too.
    let mut groups: Vec<RawConn> = (0..2).map(|_| s.raw()).collect();
    for (i, g) in groups.iter_mut().enumerate() {
        let group = format!("g{}", i + 1);
        block_and_wait(
            g,
            &mut admin,
            &words(&format!(
                "XREADGROUP GROUP {group} c BLOCK 0 STREAMS {OUT} >"
            )),
        );
    }
    xadd(&mut p, OUT, "2-1", "new");
    for c in readers.iter_mut().chain(groups.iter_mut()) {
        expect_reply(c, &one(OUT, "2-1", "new"));
    }
    wait_blocked(&mut admin, 0);
    for g in ["g1", "g2"] {
        p.check(
            &["XPENDING", OUT, g],
            &pending_summary(1, "2-1", "2-1", &[("c", 1)]),
        );
    }
}

/// The error a waiting XREADGROUP on `FROM` gets when its stream or group
/// goes: Redis 7.2 runs the command again and answers NOGROUP; 7.0 sent
/// `v70` instead.
fn gone_while_blocked(admin: &mut RawConn, group: &str, v70: &str) -> Vec<u8> {
    let info = Reply::parse(&admin.cmd(&["INFO", "server"])).as_text();
    let version = parse_info(&info)
        .into_iter()
        .find(|(_, k, _)| k == "redis_version")
        .expect("redis_version in INFO")
        .2;
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let v = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if v >= (7, 2) {
        err(&nogroup(FROM, group))
    } else {
        err(v70)
    }
}

fn del_or_group_destroy_while_xreadgroup_waits(s: &Server) {
    let mut admin = s.raw();
    let mut p = s.raw();
    let mut b = s.raw();
    let read = |group: &str| format!("XREADGROUP GROUP {group} alice BLOCK 0 STREAMS {FROM} >");

    // The stream is deleted.
    p.check(&["XGROUP", "CREATE", FROM, "g", "$", "MKSTREAM"], &ok());
    block_and_wait(&mut b, &mut admin, &words(&read("g")));
    p.check(&["DEL", FROM], &int(1));
    expect_reply(
        &mut b,
        &gone_while_blocked(&mut admin, "g", KEY_GONE_WHILE_BLOCKED),
    );
    wait_blocked(&mut admin, 0);

    // The group is destroyed; a client of another group keeps waiting.
    let mut other = s.raw();
    p.check(&["XGROUP", "CREATE", FROM, "g", "$", "MKSTREAM"], &ok());
    p.check(&["XGROUP", "CREATE", FROM, "h", "$"], &ok());
    block_and_wait(&mut b, &mut admin, &words(&read("g")));
    block_and_wait(&mut other, &mut admin, &words(&read("h")));
    p.check(&["XGROUP", "DESTROY", FROM, "g"], &int(1));
    expect_reply(
        &mut b,
        &gone_while_blocked(&mut admin, "g", GROUP_GONE_WHILE_BLOCKED),
    );
    wait_blocked(&mut admin, 1);
    assert_no_reply(&other, Duration::from_millis(100));
    xadd(&mut p, FROM, "1-1", "a");
    expect_reply(&mut other, &one(FROM, "1-1", "a"));
    wait_blocked(&mut admin, 0);
    b.check(&["PING"], &simple("PONG"));
    p.check(
        &["XPENDING", FROM, "h"],
        &pending_summary(1, "1-1", "1-1", &[("alice", 1)]),
    );
}

fn del_while_xread_waits_keeps_it_waiting(s: &Server) {
    let mut admin = s.raw();
    let mut p = s.raw();
    let mut b = s.raw();
    xadd(&mut p, TO, "1-1", "a");
    block_and_wait(
        &mut b,
        &mut admin,
        &["XREAD", "BLOCK", "0", "STREAMS", TO, "$"],
    );
    p.check(&["DEL", TO], &int(1));
    assert_no_reply(&b, Duration::from_millis(100));
    assert_eq!(blocked_clients(&mut admin), 1);
    // Another type on the key does not wake it either.
    p.check(&["SET", TO, "string"], &ok());
    assert_no_reply(&b, Duration::from_millis(50));
    p.check(&["DEL", TO], &int(1));
    xadd(&mut p, TO, "2-1", "b");
    expect_reply(&mut b, &one(TO, "2-1", "b"));
    wait_blocked(&mut admin, 0);
}

fn disconnect_while_blocked_leaves_no_trace(s: &Server) {
    let mut admin = s.raw();
    let mut p = s.raw();
    p.check(&["XGROUP", "CREATE", TO, "g", "$", "MKSTREAM"], &ok());

    // A reader and a group consumer go away while blocked.
    let mut a = s.raw();
    block_and_wait(
        &mut a,
        &mut admin,
        &["XREAD", "BLOCK", "0", "STREAMS", FROM, "$"],
    );
    let mut b = s.raw();
    block_and_wait(
        &mut b,
        &mut admin,
        &words(&format!("XREADGROUP GROUP g gone BLOCK 0 STREAMS {TO} >")),
    );
    drop(a);
    drop(b);
    wait_blocked(&mut admin, 0);
    xadd(&mut p, FROM, "1-1", "a");
    xadd(&mut p, TO, "1-1", "b");
    // Nothing was delivered to the gone consumer: the entry is still new to
    // the group and goes to the next reader.
    p.check(&["XPENDING", TO, "g"], &no_pending());
    p.check(&["XPENDING", TO, "g", "-", "+", "10", "gone"], &array(&[]));
    p.check(
        &["XREADGROUP", "GROUP", "g", "next", "STREAMS", TO, ">"],
        &one(TO, "1-1", "b"),
    );

    // Of three clients waiting in one group, the middle one leaves: the
    // other two are served in order.
    p.check(&["XGROUP", "CREATE", IN, "g", "$", "MKSTREAM"], &ok());
    let mut waiting: Vec<RawConn> = (0..3).map(|_| s.raw()).collect();
    for (i, c) in waiting.iter_mut().enumerate() {
        let name = format!("c{i}");
        block_and_wait(
            c,
            &mut admin,
            &words(&format!(
                "XREADGROUP GROUP g {name} COUNT 1 BLOCK 0 STREAMS {IN} >"
            )),
        );
    }
    drop(waiting.remove(1));
    wait_blocked(&mut admin, 2);
    xadd(&mut p, IN, "1-1", "x");
    xadd(&mut p, IN, "2-1", "y");
    expect_reply(&mut waiting[0], &one(IN, "1-1", "x"));
    expect_reply(&mut waiting[1], &one(IN, "2-1", "y"));
    p.check(
        &["XPENDING", IN, "g"],
        &pending_summary(2, "1-1", "2-1", &[("c0", 1), ("c2", 1)]),
    );

    // A blocked client that half-closes its connection is dropped as well.
    let mut d = s.raw();
    block_and_wait(
        &mut d,
        &mut admin,
        &["XREAD", "BLOCK", "0", "STREAMS", FROM, "$"],
    );
    d.shutdown_write();
    wait_blocked(&mut admin, 0);
    xadd(&mut p, FROM, "2-1", "kept");
    p.check(&["XLEN", FROM], &int(2));
    d.expect_closed();
}

fn client_unblock(s: &Server) {
    let mut admin = s.raw();
    let mut p = s.raw();
    let mut b = s.raw();
    let id = client_id(&mut b).to_string();
    p.check(&["XGROUP", "CREATE", IN, "g", "$", "MKSTREAM"], &ok());
    let xread = ["XREAD", "BLOCK", "0", "STREAMS", FROM, "$"];
    let xreadgroup = format!("XREADGROUP GROUP g alice BLOCK 0 STREAMS {IN} >");
    let xreadgroup = words(&xreadgroup);

    // Default reason: as if the timeout expired.
    block_and_wait(&mut b, &mut admin, &xread);
    admin.check(&["CLIENT", "UNBLOCK", &id], &int(1));
    expect_reply(&mut b, &nil_array());
    wait_blocked(&mut admin, 0);
    admin.check(&["CLIENT", "UNBLOCK", &id], &int(0));

    block_and_wait(&mut b, &mut admin, &xread);
    admin.check(&["CLIENT", "UNBLOCK", &id, "TIMEOUT"], &int(1));
    expect_reply(&mut b, &nil_array());

    block_and_wait(&mut b, &mut admin, &xread);
    admin.check(&["CLIENT", "UNBLOCK", &id, "ERROR"], &int(1));
    expect_reply(&mut b, &err(UNBLOCKED));

    block_and_wait(&mut b, &mut admin, &xreadgroup);
    admin.check(&["CLIENT", "UNBLOCK", &id, "timeout"], &int(1));
    expect_reply(&mut b, &nil_array());

    block_and_wait(&mut b, &mut admin, &xreadgroup);
    admin.check(&["CLIENT", "UNBLOCK", &id, "error"], &int(1));
    expect_reply(&mut b, &err(UNBLOCKED));

    // RESP3: the timeout form is a RESP3 null.
    hello3(&mut b);
    block_and_wait(&mut b, &mut admin, &xread);
    admin.check(&["CLIENT", "UNBLOCK", &id], &int(1));
    expect_reply(&mut b, &null3());

    // Unblocked clients are gone from the streams: later entries stay
    // undelivered.
    wait_blocked(&mut admin, 0);
    xadd(&mut p, FROM, "1-1", "a");
    xadd(&mut p, IN, "1-1", "b");
    assert_no_reply(&b, Duration::from_millis(50));
    p.check(&["XPENDING", IN, "g"], &no_pending());
    b.check(&["PING"], &simple("PONG"));
}

fn info_blocked_clients(s: &Server) {
    let mut admin = s.raw();
    let mut p = s.raw();
    assert_eq!(blocked_clients(&mut admin), 0);
    p.check(&["XGROUP", "CREATE", TO, "g", "$", "MKSTREAM"], &ok());
    let mut a = s.raw();
    let mut b = s.raw();
    let mut c = s.raw();
    let a_id = client_id(&mut a).to_string();
    block(&mut a, &["XREAD", "BLOCK", "0", "STREAMS", FROM, "$"]);
    block(
        &mut b,
        &words(&format!("XREADGROUP GROUP g bob BLOCK 300 STREAMS {TO} >")),
    );
    block(
        &mut c,
        &[
            "XREAD", "BLOCK", "0", "STREAMS", FROM, TO, IN, "$", "$", "$",
        ],
    );
    wait_blocked(&mut admin, 3);
    // b times out.
    expect_reply(&mut b, &nil_array());
    wait_blocked(&mut admin, 2);
    admin.check(&["CLIENT", "UNBLOCK", &a_id], &int(1));
    expect_reply(&mut a, &nil_array());
    wait_blocked(&mut admin, 1);
    xadd(&mut p, IN, "1-1", "x");
    expect_reply(&mut c, &one(IN, "1-1", "x"));
    wait_blocked(&mut admin, 0);
    // Reads that do not block never count.
    a.check(&["XREAD", "STREAMS", IN, "0"], &one(IN, "1-1", "x"));
    a.check(&["XREAD", "STREAMS", IN, "$"], &nil_array());
    a.check(&["XREAD", "BLOCK", "10", "STREAMS", IN, "$"], &nil_array());
    assert_eq!(blocked_clients(&mut admin), 0);
}

/// A group of consumers on their own connections splits a stream of 2,000
/// entries, half of them added while the consumers run. Some consumers poll,
/// some block; each ACKs what it got. Every entry must be delivered exactly
/// once across the group, and nothing may stay pending.
fn consumers_split_the_work(s: &Server) {
    const TOTAL: usize = 2_000;
    const PRELOAD: usize = 1_000;
    const CONSUMERS: usize = 6;
    const KEY: &str = "{out}work";
    // Generous: in debug builds this takes well under a second.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut p = s.raw();
    p.check(
        &["XGROUP", "CREATE", KEY, "workers", "$", "MKSTREAM"],
        &ok(),
    );

    let add = |c: &mut RawConn, from: usize, to: usize| {
        let mut buf = Vec::new();
        for n in from..to {
            buf.extend(encode_str(&["XADD", KEY, "*", "n", &n.to_string()]));
        }
        c.send(&buf);
        for _ in from..to {
            let r = c.read_reply();
            assert_eq!(r[0], b'$', "XADD -> {}", show(&r));
        }
    };
    for start in (0..PRELOAD).step_by(100) {
        add(&mut p, start, start + 100);
    }

    let delivered = Arc::new(AtomicUsize::new(0));
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|i| {
            let mut c = s.raw();
            let delivered = delivered.clone();
            thread::spawn(move || {
                let name = format!("worker{i}");
                let blocking = i % 2 == 0;
                let count = (5 + 4 * i).to_string();
                let mut args = vec!["XREADGROUP", "GROUP", "workers", &name, "COUNT", &count];
                if blocking {
                    args.extend(["BLOCK", "100"]);
                }
                args.extend(["STREAMS", KEY, ">"]);
                let mut got: Vec<(String, usize)> = Vec::new();
                while delivered.load(Ordering::SeqCst) < TOTAL && Instant::now() < deadline {
                    let r = c.cmd(&args);
                    if r == nil_array() {
                        if !blocking {
                            thread::sleep(Duration::from_millis(2));
                        }
                        continue;
                    }
                    let reply = Reply::parse(&r);
                    let streams = reply.as_array();
                    assert_eq!(streams.len(), 1, "{name}: {}", show(&r));
                    let pair = streams[0].as_array();
                    assert_eq!(pair[0].as_text(), KEY);
                    let entries = pair[1].as_array();
                    assert!(!entries.is_empty(), "{name}: empty read {}", show(&r));
                    let mut ack = vec!["XACK".to_string(), KEY.into(), "workers".into()];
                    for e in entries {
                        let e = e.as_array();
                        let id = e[0].as_text();
                        let fields = e[1].as_array();
                        assert_eq!(fields[0].as_text(), "n");
                        got.push((id.clone(), fields[1].as_text().parse().unwrap()));
                        ack.push(id);
                    }
                    let ack: Vec<&str> = ack.iter().map(|s| s.as_str()).collect();
                    c.check(&ack, &int(entries.len() as i64));
                    delivered.fetch_add(entries.len(), Ordering::SeqCst);
                }
                got
            })
        })
        .collect();

    // The producer keeps adding while the consumers work.
    for start in (PRELOAD..TOTAL).step_by(20) {
        add(&mut p, start, start + 20);
        thread::sleep(Duration::from_millis(1));
    }

    let mut by_id: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    let mut values = BTreeSet::new();
    let mut all = 0;
    for c in consumers {
        for (id, n) in c.join().unwrap() {
            all += 1;
            let (ms, seq) = id.split_once('-').expect("stream ID");
            let key = (ms.parse().unwrap(), seq.parse().unwrap());
            assert!(by_id.insert(key, n).is_none(), "{id} delivered twice");
            assert!(values.insert(n), "entry n={n} delivered twice");
        }
    }
    assert_eq!(all, TOTAL, "entries delivered across the group");
    assert_eq!(values, (0..TOTAL).collect::<BTreeSet<_>>());
    // IDs are increasing with n: the stream order is the production order.
    let by_order: Vec<usize> = by_id.values().copied().collect();
    assert_eq!(by_order, (0..TOTAL).collect::<Vec<_>>());
    p.check(&["XPENDING", KEY, "workers"], &no_pending());
    p.check(&["XLEN", KEY], &int(TOTAL as i64));
    p.check(
        &words(&format!("XREADGROUP GROUP workers late STREAMS {KEY} >")),
        &nil_array(),
    );
    wait_blocked(&mut p, 0);
}

/// Entries must have been idle this long to be recovered.
const MIN_IDLE: u64 = 500;

fn crashed_consumer_recovered_with_xclaim(s: &Server) {
    let mut p = s.raw();
    for i in 1..=6 {
        xadd(&mut p, FROM, &format!("{i}-0"), &format!("v{i}"));
    }
    p.check(&["XGROUP", "CREATE", FROM, "g", "0"], &ok());
    let first4 = || (1..=4).map(|i| entry(&format!("{i}-0"), &format!("v{i}")));

    // A consumer reads four entries and crashes before ACKing them.
    let mut dead = s.raw();
    dead.check(
        &words(&format!("XREADGROUP GROUP g dead COUNT 4 STREAMS {FROM} >")),
        &streams(&[(FROM, first4().collect())]),
    );
    drop(dead);
    wait_idle(&mut p, FROM, "g", MIN_IDLE, 4);

    // A live consumer reads the rest; only the crashed one's entries are idle.
    let mut alive = s.raw();
    alive.check(
        &["XREADGROUP", "GROUP", "g", "alive", "STREAMS", FROM, ">"],
        &streams(&[(FROM, vec![entry("5-0", "v5"), entry("6-0", "v6")])]),
    );
    let idle = MIN_IDLE.to_string();
    let stale = xpending_entries(
        &mut alive,
        &["XPENDING", FROM, "g", "IDLE", &idle, "-", "+", "10"],
    );
    let dead4 = owners(&[
        ("1-0", "dead", 1),
        ("2-0", "dead", 1),
        ("3-0", "dead", 1),
        ("4-0", "dead", 1),
    ]);
    assert_eq!(
        stale
            .iter()
            .map(|(id, c, _, n)| (id.clone(), c.clone(), *n))
            .collect::<Vec<_>>(),
        dead4
    );
    assert!(stale.iter().all(|e| e.2 >= MIN_IDLE as i64), "{stale:?}");
    assert_eq!(
        pending_owners(
            &mut alive,
            &["XPENDING", FROM, "g", "IDLE", &idle, "-", "+", "10", "dead"]
        ),
        dead4
    );
    alive.check(
        &[
            "XPENDING", FROM, "g", "IDLE", &idle, "-", "+", "10", "alive",
        ],
        &array(&[]),
    );
    alive.check(
        &["XPENDING", FROM, "g"],
        &pending_summary(6, "1-0", "6-0", &[("alive", 2), ("dead", 4)]),
    );

    // Not idle long enough: nothing is claimed.
    alive.check(
        &["XCLAIM", FROM, "g", "alive", "3600000", "1-0", "2-0"],
        &array(&[]),
    );
    alive.check(
        &[
            "XCLAIM", FROM, "g", "alive", &idle, "1-0", "2-0", "3-0", "4-0",
        ],
        &array(&first4().collect::<Vec<_>>()),
    );
    // The claimed entries changed owner, were delivered twice, and are no
    // longer idle.
    assert_eq!(
        pending_owners(&mut alive, &["XPENDING", FROM, "g", "-", "+", "10"]),
        owners(&[
            ("1-0", "alive", 2),
            ("2-0", "alive", 2),
            ("3-0", "alive", 2),
            ("4-0", "alive", 2),
            ("5-0", "alive", 1),
            ("6-0", "alive", 1),
        ])
    );
    alive.check(
        &["XPENDING", FROM, "g", "IDLE", &idle, "-", "+", "10"],
        &array(&[]),
    );
    // They are the live consumer's history now.
    alive.check(
        &words(&format!(
            "XREADGROUP GROUP g alive COUNT 2 STREAMS {FROM} 0"
        )),
        &streams(&[(FROM, vec![entry("1-0", "v1"), entry("2-0", "v2")])]),
    );
    alive.check(
        &["XACK", FROM, "g", "1-0", "2-0", "3-0", "4-0", "5-0", "6-0"],
        &int(6),
    );
    alive.check(&["XPENDING", FROM, "g"], &no_pending());
}

fn crashed_consumer_recovered_with_xautoclaim(s: &Server) {
    let mut p = s.raw();
    for i in 1..=8 {
        xadd(&mut p, IN, &format!("{i}-0"), &format!("v{i}"));
    }
    p.check(&["XGROUP", "CREATE", IN, "g", "0"], &ok());
    let mut dead = s.raw();
    let r = Reply::parse(&dead.cmd(&["XREADGROUP", "GROUP", "g", "dead", "STREAMS", IN, ">"]));
    assert_eq!(r.as_array()[0].as_array()[1].as_array().len(), 8);
    drop(dead);
    wait_idle(&mut p, IN, "g", MIN_IDLE, 8);
    let idle = MIN_IDLE.to_string();
    let mut rescuer = s.raw();
    // Not idle long enough: nothing is claimed.
    rescuer.check(
        &["XAUTOCLAIM", IN, "g", "rescuer", "3600000", "0-0"],
        &array(&[bulk("0-0"), array(&[]), array(&[])]),
    );
    // Two of the unacknowledged entries are deleted meanwhile.
    p.check(&["XDEL", IN, "3-0", "6-0"], &int(2));
    // Iterate with COUNT 3 until the cursor is 0-0. Deleted entries count
    // towards COUNT, are reported in the third element and leave the PEL.
    let mut step = |cursor: &str, next: &str, claimed: &[(&str, &str)], deleted: &[&str]| {
        let claimed: Vec<Vec<u8>> = claimed.iter().map(|(id, v)| entry(id, v)).collect();
        rescuer.check(
            &words(&format!(
                "XAUTOCLAIM {IN} g rescuer {idle} {cursor} COUNT 3"
            )),
            &array(&[bulk(next), array(&claimed), bulks(deleted)]),
        );
    };
    step("0-0", "4-0", &[("1-0", "v1"), ("2-0", "v2")], &["3-0"]);
    step("4-0", "7-0", &[("4-0", "v4"), ("5-0", "v5")], &["6-0"]);
    step("7-0", "0-0", &[("7-0", "v7"), ("8-0", "v8")], &[]);
    assert_eq!(
        pending_owners(&mut rescuer, &["XPENDING", IN, "g", "-", "+", "10"]),
        owners(&[
            ("1-0", "rescuer", 2),
            ("2-0", "rescuer", 2),
            ("4-0", "rescuer", 2),
            ("5-0", "rescuer", 2),
            ("7-0", "rescuer", 2),
            ("8-0", "rescuer", 2),
        ])
    );
    rescuer.check(
        &["XPENDING", IN, "g"],
        &pending_summary(6, "1-0", "8-0", &[("rescuer", 6)]),
    );
    // Nothing idle is left to claim.
    rescuer.check(
        &["XAUTOCLAIM", IN, "g", "other", &idle, "0-0"],
        &array(&[bulk("0-0"), array(&[]), array(&[])]),
    );
    rescuer.check(
        &["XACK", IN, "g", "1-0", "2-0", "4-0", "5-0", "7-0", "8-0"],
        &int(6),
    );
    rescuer.check(&["XPENDING", IN, "g"], &no_pending());
}

fn noack_reads_create_no_pending_entries(s: &Server) {
    let mut admin = s.raw();
    let mut p = s.raw();
    for i in 1..=3 {
        xadd(&mut p, TO, &format!("{i}-0"), &format!("v{i}"));
    }
    p.check(&["XGROUP", "CREATE", TO, "g", "0"], &ok());
    p.check(
        &words(&format!(
            "XREADGROUP GROUP g c NOACK COUNT 2 STREAMS {TO} >"
        )),
        &streams(&[(TO, vec![entry("1-0", "v1"), entry("2-0", "v2")])]),
    );
    p.check(&["XPENDING", TO, "g"], &no_pending());
    // The consumer has no history, but the group moved on.
    p.check(
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", TO, "0"],
        &streams(&[(TO, vec![])]),
    );
    p.check(
        &["XREADGROUP", "GROUP", "g", "c", "NOACK", "STREAMS", TO, ">"],
        &one(TO, "3-0", "v3"),
    );

    // A blocked NOACK read woken by XADD leaves nothing pending either.
    let mut b = s.raw();
    block_and_wait(
        &mut b,
        &mut admin,
        &words(&format!(
            "XREADGROUP GROUP g c NOACK BLOCK 0 STREAMS {TO} >"
        )),
    );
    xadd(&mut p, FROM, "4-0", "elsewhere");
    assert_no_reply(&b, Duration::from_millis(50));
    xadd(&mut p, TO, "4-0", "v4");
    expect_reply(&mut b, &one(TO, "4-0", "v4"));
    p.check(&["XPENDING", TO, "g"], &no_pending());

    // Without NOACK the same read does create a pending entry.
    block_and_wait(
        &mut b,
        &mut admin,
        &words(&format!("XREADGROUP GROUP g c BLOCK 0 STREAMS {TO} >")),
    );
    xadd(&mut p, TO, "5-0", "v5");
    expect_reply(&mut b, &one(TO, "5-0", "v5"));
    p.check(
        &["XPENDING", TO, "g"],
        &pending_summary(1, "5-0", "5-0", &[("c", 1)]),
    );
}
