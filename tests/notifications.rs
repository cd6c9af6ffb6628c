//! Keyspace notifications, differentially: every line of the data scripts
//! of tests/scripts (the ones tests/differential.rs replays) runs on a real
//! redis-server and on ringbus with `notify-keyspace-events` on, while a
//! subscriber on each server listens to `__key*__:*`; after each line, the
//! messages the two subscribers received must be the same.
//!
//! How a line's messages are collected: redis-server publishes a line's
//! events before it runs the next command, so a PUBLISH to a marker channel
//! from a third connection ends them. ringbus publishes each shard's
//! events from the core holding the shard, so its subscriber reads as many
//! messages as redis-server sent (waiting a little for each), and the next
//! line (or the check after the last one) catches any extra.
//!
//! With one thread every message must come in redis-server's order. With
//! three, a command over keys of several shards may interleave its shards'
//! events differently (each shard's events stay in order, as the issue
//! asks): the messages must be the same set, and the messages about each
//! key must come in redis-server's order.
//!
//! A property test does the same for random command sequences over a small
//! keyspace of every type, and further tests cover what scripts cannot: the
//! option itself, every core, active expiry, blocked pops, RESP3.

mod common;

use common::script::*;
use common::*;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

const MARK: &str = "__notifications_test_mark__";

struct Side {
    cmd: RawConn,
    sub: RawConn,
}

impl Side {
    fn open(server: &Server, flags: &str) -> Side {
        let mut cmd = server.raw();
        assert_eq!(
            cmd.cmd(&["CONFIG", "SET", "notify-keyspace-events", flags]),
            ok()
        );
        let mut sub = server.raw();
        sub.send(&encode_str(&["PSUBSCRIBE", "__key*__:*"]));
        sub.read_reply();
        sub.send(&encode_str(&["SUBSCRIBE", MARK]));
        sub.read_reply();
        Side { cmd, sub }
    }
}

/// One message frame, or None when none came within the read timeout.
fn next_message(sub: &mut RawConn) -> Option<Vec<u8>> {
    catch_unwind(AssertUnwindSafe(|| sub.try_read_reply())).ok()?
}

/// The elements of a message frame (`pmessage pattern channel payload`).
fn parts(frame: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut pos = frame.iter().position(|&b| b == b'\n').unwrap() + 1;
    while pos < frame.len() {
        let eol = pos + frame[pos..].windows(2).position(|w| w == b"\r\n").unwrap();
        let len: usize = std::str::from_utf8(&frame[pos + 1..eol])
            .unwrap()
            .parse()
            .unwrap();
        out.push(frame[eol + 2..eol + 2 + len].to_vec());
        pos = eol + 2 + len + 2;
    }
    out
}

/// The key a notification is about.
fn key_of(frame: &[u8]) -> Vec<u8> {
    let p = parts(frame);
    let (channel, payload) = (&p[2], &p[3]);
    if channel.starts_with(b"__keyspace@") {
        let colon = channel.iter().position(|&b| b == b':').unwrap();
        channel[colon + 1..].to_vec()
    } else {
        payload.clone()
    }
}

fn same(want: &[Vec<u8>], got: &[Vec<u8>], ordered: bool) -> bool {
    if ordered {
        return want == got;
    }
    let (mut w, mut g) = (want.to_vec(), got.to_vec());
    w.sort();
    g.sort();
    if w != g {
        return false;
    }
    let by_key = |frames: &[Vec<u8>]| {
        let mut m: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = BTreeMap::new();
        for f in frames {
            m.entry(key_of(f)).or_default().push(f.clone());
        }
        m
    };
    by_key(want) == by_key(got)
}

fn shown(frames: &[Vec<u8>]) -> String {
    frames
        .iter()
        .map(|f| {
            let p = parts(f);
            format!(
                "{} {}",
                String::from_utf8_lossy(&p[2]),
                String::from_utf8_lossy(&p[3])
            )
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

fn run(name: &str, text: &str, threads: usize, flags: &str) {
    let lines = parse_script(name, text);
    let reference = Server::start_redis(&[]);
    let sut = Server::start(threads);
    let mut want = Side::open(&reference, flags);
    let mut got = Side::open(&sut, flags);
    let mut marker = reference.raw();
    got.sub
        .stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut mismatches = Vec::new();
    let mut total = 0;
    for line in &lines {
        let args: Vec<&[u8]> = line.args.iter().map(|a| a.as_slice()).collect();
        let req = encode(&args);
        want.cmd.send(&req);
        got.cmd.send(&req);
        want.cmd.read_reply();
        got.cmd.read_reply();
        marker.cmd(&["PUBLISH", MARK, "x"]);
        let mut expected = Vec::new();
        loop {
            let frame = want.sub.read_reply();
            if parts(&frame)[0] == b"message" {
                break;
            }
            expected.push(frame);
        }
        let mut received = Vec::new();
        while received.len() < expected.len() {
            match next_message(&mut got.sub) {
                Some(frame) => received.push(frame),
                None => break,
            }
        }
        total += expected.len();
        if !same(&expected, &received, threads == 1) {
            mismatches.push(format!(
                "line {}: {}\n  redis:   {}\n  ringbus: {}",
                line.number,
                line.text,
                shown(&expected),
                shown(&received)
            ));
        }
    }
    got.sub
        .stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    if let Some(extra) = next_message(&mut got.sub) {
        mismatches.push(format!("after the last line: {}", shown(&[extra])));
    }
    assert!(
        total > 0,
        "{name}: redis-server sent no notification at all"
    );
    assert!(
        mismatches.is_empty(),
        "{} of {} lines of {name} notify differently from redis-server (threads={threads}, flags {flags}):\n{}",
        mismatches.len(),
        lines.len(),
        mismatches.join("\n")
    );
}

macro_rules! script_tests {
    ($($name:ident: $file:literal),* $(,)?) => {
        $(
            mod $name {
                const TEXT: &str = include_str!(concat!("scripts/", $file));
                #[test]
                fn threads1() {
                    super::run($file, TEXT, 1, "AKEnm");
                }
                #[test]
                fn threads3() {
                    super::run($file, TEXT, 3, "AKEnm");
                }
            }
        )*
    };
}

script_tests!(
    foundation: "foundation.redis",
    lists: "lists.redis",
    hashes_sets: "hashes_sets.redis",
    streams: "streams.redis",
    zsets: "zsets.redis",
    transactions: "transactions.redis",
    scripting: "scripting.redis",
    hyperloglog: "hyperloglog.redis",
    keys_more: "keys_more.redis",
    bitmaps: "bitmaps.redis",
    geo: "geo.redis",
);

// ------------------------------------------------------------ the option itself

#[test]
fn off_by_default_and_set_as_redis_normalizes_it() {
    let server = Server::start(2);
    let mut c = server.raw();
    c.check(
        &["CONFIG", "GET", "notify-keyspace-events"],
        &array(&[bulk("notify-keyspace-events"), bulk("")]),
    );
    let mut sub = server.raw();
    sub.send(&encode_str(&["PSUBSCRIBE", "*"]));
    sub.read_reply();
    c.check(&["SET", "k", "v"], &ok());
    c.check(&["DEL", "k"], &int(1));
    sub.stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    assert!(next_message(&mut sub).is_none(), "an event while off");
    for (set, get) in [
        ("KEA", "AKE"),
        ("Elg", "glE"),
        ("Kmn", "nKm"),
        ("AKn", "AK"),
        ("", ""),
    ] {
        c.check(&["CONFIG", "SET", "notify-keyspace-events", set], &ok());
        c.check(
            &["CONFIG", "GET", "notify-keyspace-events"],
            &array(&[bulk("notify-keyspace-events"), bulk(get)]),
        );
    }
    c.check(
        &["CONFIG", "SET", "notify-keyspace-events", "KQ"],
        &err("ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'."),
    );
}

#[test]
fn the_command_line_option_selects_classes() {
    let server = Server::start_with(&["--threads", "1", "--notify-keyspace-events", "Kl"]);
    let mut c = server.raw();
    let mut sub = server.raw();
    sub.send(&encode_str(&["PSUBSCRIBE", "__key*__:*"]));
    sub.read_reply();
    c.check(&["SET", "s", "v"], &ok());
    c.check(&["RPUSH", "l", "a"], &int(1));
    let m = sub.read_reply();
    assert_eq!(parts(&m)[2], b"__keyspace@0__:l", "{}", show(&m));
    assert_eq!(parts(&m)[3], b"rpush");
}

/// Reads `n` messages, each as "channel payload".
fn messages(sub: &mut RawConn, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let p = parts(&sub.read_reply());
            format!(
                "{} {}",
                String::from_utf8_lossy(&p[p.len() - 2]),
                String::from_utf8_lossy(&p[p.len() - 1])
            )
        })
        .collect()
}

/// Events the scripts cannot show, on 3 threads: a subscriber on every
/// core gets them whatever core made them; active expiry; a blocked pop
/// served later; RESP3 pushes.
#[test]
fn events_reach_every_core_from_expiry_and_blocked_clients() {
    let server = Server::start(3);
    let mut c = server.raw();
    c.check(&["CONFIG", "SET", "notify-keyspace-events", "KEA"], &ok());
    // Connections land on cores round robin: several subscribers cover them all.
    let mut subs: Vec<RawConn> = (0..4)
        .map(|_| {
            let mut s = server.raw();
            s.send(&encode_str(&["PSUBSCRIBE", "__keyevent@0__:*"]));
            s.read_reply();
            s
        })
        .collect();
    let mut resp3 = server.raw();
    resp3.send(&encode_str(&["HELLO", "3"]));
    resp3.read_reply();
    resp3.send(&encode_str(&["SUBSCRIBE", "__keyspace@0__:{b}q"]));
    resp3.read_reply();
    // Keys on each shard of three.
    for key in ["{a}k", "{b}k", "{c}k"] {
        c.check(&["SET", key, "v", "PX", "50"], &ok());
    }
    for s in subs.iter_mut() {
        let mut got = messages(s, 6);
        got.sort();
        assert_eq!(
            got,
            [
                "__keyevent@0__:expire {a}k",
                "__keyevent@0__:expire {b}k",
                "__keyevent@0__:expire {c}k",
                "__keyevent@0__:set {a}k",
                "__keyevent@0__:set {b}k",
                "__keyevent@0__:set {c}k",
            ]
        );
    }
    // Nobody reads them: the active cycle expires them.
    for s in subs.iter_mut() {
        let mut got = messages(s, 3);
        got.sort();
        assert_eq!(
            got,
            [
                "__keyevent@0__:expired {a}k",
                "__keyevent@0__:expired {b}k",
                "__keyevent@0__:expired {c}k",
            ]
        );
    }
    // A blocked BLPOP served by a later push: the push, then the pop and
    // the key's deletion, as Redis.
    let mut blocked = server.raw();
    blocked.send(&encode_str(&["BLPOP", "{b}q", "0"]));
    std::thread::sleep(Duration::from_millis(100));
    c.check(&["RPUSH", "{b}q", "x"], &int(1));
    assert_eq!(blocked.read_reply(), array(&[bulk("{b}q"), bulk("x")]));
    for s in subs.iter_mut() {
        assert_eq!(
            messages(s, 3),
            [
                "__keyevent@0__:rpush {b}q",
                "__keyevent@0__:lpop {b}q",
                "__keyevent@0__:del {b}q",
            ]
        );
    }
    let push = resp3.read_reply();
    assert!(
        push.starts_with(b">3\r\n$7\r\nmessage\r\n"),
        "{}",
        show(&push)
    );
    assert!(show(&push).contains("rpush"), "{}", show(&push));
}

// ------------------------------------------------------------ property

/// One random command over a small keyspace of every type, as a script line.
fn random_line(pick: &[u8]) -> String {
    let k = |i: u8, p: &str| format!("{p}{}", i % 3);
    let (a, b, c) = (pick[1], pick[2], pick[3]);
    match pick[0] % 24 {
        0 => format!("SET {} v{b}", k(a, "s")),
        1 => format!("SET {} v PX {}", k(a, "s"), 100_000 + b as u32),
        2 => format!("INCRBY {} {b}", k(a, "n")),
        3 => format!("APPEND {} x", k(a, "s")),
        4 => format!("DEL {} {}", k(a, "s"), k(b, "l")),
        // No deadline falls during the test (active expiry is not in step):
        // 0 deletes at once, 1000 s never comes.
        5 => format!("EXPIRE {} {}", k(a, "h"), if b % 2 == 0 { 0 } else { 1000 }),
        6 => format!("PERSIST {}", k(a, "h")),
        7 => format!("RENAME {} {}", k(a, "s"), k(b, "s")),
        8 => format!("LPUSH {} e{b} e{c}", k(a, "l")),
        9 => format!("RPOP {} {}", k(a, "l"), 1 + b % 3),
        10 => format!("LMOVE {} {} LEFT RIGHT", k(a, "l"), k(b, "l")),
        11 => format!("LTRIM {} 0 {}", k(a, "l"), b % 3),
        12 => format!("HSET {} f{b} v", k(a, "h")),
        13 => format!("HDEL {} f{b} f{c}", k(a, "h")),
        14 => format!("SADD {} m{b} m{c}", k(a, "t")),
        15 => format!("SREM {} m{b}", k(a, "t")),
        16 => format!("SINTERSTORE {} {} {}", k(a, "t"), k(b, "t"), k(c, "t")),
        17 => format!("ZADD {} {b} m{c}", k(a, "z")),
        18 => format!("ZINCRBY {} 1 m{b}", k(a, "z")),
        19 => format!("ZPOPMIN {} {}", k(a, "z"), 1 + b % 2),
        20 => format!("XADD {} * f v", k(a, "x")),
        21 => format!("GET {}", k(a, "s")),
        22 => format!("EXISTS {} {}", k(a, "h"), k(b, "z")),
        _ => format!("GETDEL {}", k(a, "s")),
    }
}

/// For random command sequences (every type, expiry, renames, moves and
/// STOREs over three keys a type), the notifications a subscriber gets
/// equal redis-server's, message for message, with one thread.
#[test]
fn random_sequences_notify_as_redis() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let mut runner = TestRunner::new(Config {
        cases: 12,
        ..Config::default()
    });
    let lines = proptest::collection::vec(proptest::collection::vec(any::<u8>(), 4), 10..60);
    runner
        .run(&lines, |picks| {
            let text: String = picks
                .iter()
                .map(|p| random_line(p) + "\n")
                .collect::<String>()
                + "EXISTS s0 s1 s2\n";
            run("random.redis", &text, 1, "AKEnm");
            Ok(())
        })
        .unwrap();
}
