//! Differential test: every line of tests/scripts/foundation.redis (and, in
//! separate tests, of tests/scripts/pubsub.redis, lists.redis,
//! streams.redis, transactions.redis, scripting.redis, zsets.redis,
//! hyperloglog.redis, keys_more.redis, bitmaps.redis, geo.redis and
//! hashes_sets.redis) is sent to a real redis-server and to the server under
//! test; the raw reply bytes must be identical. All mismatches are collected
//! and reported together.
//!
//! The reference is always a real redis-server (the test fails, asking for
//! `apt-get install redis-server`, when it is missing). Set
//! `RINGBUS_DIFF_DUMP=1` to print every line with redis's reply.

mod common;

use common::script::*;
use common::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

const FOUNDATION: Script = Script {
    name: "foundation.redis",
    text: include_str!("scripts/foundation.redis"),
    min_lines: 100,
};

const PUBSUB: Script = Script {
    name: "pubsub.redis",
    text: include_str!("scripts/pubsub.redis"),
    min_lines: 100,
};

const LISTS: Script = Script {
    name: "lists.redis",
    text: include_str!("scripts/lists.redis"),
    min_lines: 200,
};

const HASHES_SETS: Script = Script {
    name: "hashes_sets.redis",
    text: include_str!("scripts/hashes_sets.redis"),
    min_lines: 250,
};

const STREAMS: Script = Script {
    name: "streams.redis",
    text: include_str!("scripts/streams.redis"),
    min_lines: 200,
};

const TRANSACTIONS: Script = Script {
    name: "transactions.redis",
    text: include_str!("scripts/transactions.redis"),
    min_lines: 100,
};

const SCRIPTING: Script = Script {
    name: "scripting.redis",
    text: include_str!("scripts/scripting.redis"),
    min_lines: 100,
};

// HyperLogLog.
const HYPERLOGLOG: Script = Script {
    name: "hyperloglog.redis",
    text: include_str!("scripts/hyperloglog.redis"),
    min_lines: 150,
};

// Sorted sets.
const ZSETS: Script = Script {
    name: "zsets.redis",
    text: include_str!("scripts/zsets.redis"),
    min_lines: 250,
};

const KEYS_MORE: Script = Script {
    name: "keys_more.redis",
    text: include_str!("scripts/keys_more.redis"),
    min_lines: 250,
};

// Bitmaps, LCS and SUBSTR.
const BITMAPS: Script = Script {
    name: "bitmaps.redis",
    text: include_str!("scripts/bitmaps.redis"),
    min_lines: 250,
};

// Geo.
const GEO: Script = Script {
    name: "geo.redis",
    text: include_str!("scripts/geo.redis"),
    min_lines: 180,
};

/// A script file replayed line by line. Every line must produce exactly one
/// reply frame on both servers.
struct Script {
    name: &'static str,
    text: &'static str,
    /// Guard against an accidentally truncated script.
    min_lines: usize,
}

/// Raw bytes of the elements of a top-level array reply, or None.
fn array_elements(reply: &[u8]) -> Option<Vec<Vec<u8>>> {
    if reply.first() != Some(&b'*') {
        return None;
    }
    let eol = reply.windows(2).position(|w| w == b"\r\n")?;
    let n: i64 = std::str::from_utf8(&reply[1..eol]).ok()?.parse().ok()?;
    let mut pos = eol + 2;
    let mut out = Vec::new();
    for _ in 0..n.max(0) {
        let len = reply_len(&reply[pos..]).ok()??;
        out.push(reply[pos..pos + len].to_vec());
        pos += len;
    }
    Some(out)
}

fn sorted(reply: &[u8]) -> Vec<u8> {
    match array_elements(reply) {
        Some(mut items) => {
            items.sort();
            array(&items)
        }
        None => reply.to_vec(),
    }
}

fn read(conn: &mut RawConn) -> Result<Vec<u8>, String> {
    match catch_unwind(AssertUnwindSafe(|| conn.try_read_reply())) {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err("<connection closed>".into()),
        Err(e) => Err(format!(
            "<no reply: {}>",
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        )),
    }
}

fn run_script(script: &Script, threads: usize) {
    let lines = parse_script(script.name, script.text);
    assert!(
        lines.len() > script.min_lines,
        "{} too short: {} lines",
        script.name,
        lines.len()
    );
    let reference = Server::start_redis(&[]);
    let sut = Server::start(threads);
    let mut want = reference.raw();
    let mut got = sut.raw();
    let mut mismatches = Vec::new();
    let mut lost = false;
    for line in &lines {
        let args: Vec<&[u8]> = line.args.iter().map(|a| a.as_slice()).collect();
        let req = encode(&args);
        want.send(&req);
        got.send(&req);
        let w = read(&mut want);
        let g = read(&mut got);
        let (w, g) = match (w, g) {
            (Ok(w), Ok(g)) => (w, g),
            (w, g) => {
                let w = w.unwrap_or_else(|e| e.into_bytes());
                let g = g.unwrap_or_else(|e| e.into_bytes());
                mismatches.push(format!(
                    "line {}: {}\n  redis:      {}\n  under test: {}\n  (stopped: connection lost)",
                    line.number,
                    line.text,
                    show(&w),
                    show(&g)
                ));
                lost = true;
                break;
            }
        };
        if std::env::var_os("RINGBUS_DIFF_DUMP").is_some() {
            eprintln!("{:>4} {}\n     -> {}", line.number, line.text, show(&w));
        }
        let equal = match line.mode {
            Mode::Exact => w == g,
            Mode::Sorted => sorted(&w) == sorted(&g),
            Mode::NoCompare => true,
        };
        if !equal {
            mismatches.push(format!(
                "line {}: {}\n  redis:      {}\n  under test: {}",
                line.number,
                line.text,
                show(&w),
                show(&g)
            ));
        }
    }
    if !lost {
        // Every line must have produced exactly one reply frame: a line that
        // sent more (a script mistake, or a server bug on the last line that
        // would otherwise go unnoticed) leaves a frame behind.
        const MARK: &str = "end-of-script";
        for (who, conn) in [("redis", &mut want), ("under test", &mut got)] {
            conn.send(&encode_str(&["RESET"]));
            conn.send(&encode_str(&["ECHO", MARK]));
            let r = read(conn).unwrap_or_else(|e| e.into_bytes());
            let e = read(conn).unwrap_or_else(|e| e.into_bytes());
            if r != b"+RESET\r\n" || e != bulk(MARK) {
                mismatches.push(format!(
                    "after the last line, {who} sent extra reply frames: RESET -> {}, ECHO -> {}",
                    show(&r),
                    show(&e)
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} lines of {} differ from redis-server (threads={threads}):\n{}",
        mismatches.len(),
        lines.len(),
        script.name,
        mismatches.join("\n")
    );
}

#[test]
fn foundation_script_threads1() {
    run_script(&FOUNDATION, 1);
}

#[test]
fn foundation_script_threads3() {
    run_script(&FOUNDATION, 3);
}

#[test]
fn pubsub_script_threads1() {
    run_script(&PUBSUB, 1);
}

#[test]
fn pubsub_script_threads3() {
    run_script(&PUBSUB, 3);
}

#[test]
fn lists_script_threads1() {
    run_script(&LISTS, 1);
}

#[test]
fn lists_script_threads3() {
    run_script(&LISTS, 3);
}

#[test]
fn streams_script_threads1() {
    run_script(&STREAMS, 1);
}

#[test]
fn streams_script_threads3() {
    run_script(&STREAMS, 3);
}

// HyperLogLog.
#[test]
fn hyperloglog_script_threads1() {
    run_script(&HYPERLOGLOG, 1);
}

#[test]
fn hyperloglog_script_threads3() {
    run_script(&HYPERLOGLOG, 3);
}

// Sorted sets.
#[test]
fn bitmaps_script_threads1() {
    run_script(&BITMAPS, 1);
}

#[test]
fn bitmaps_script_threads3() {
    run_script(&BITMAPS, 3);
}

#[test]
fn zsets_script_threads1() {
    run_script(&ZSETS, 1);
}

#[test]
fn zsets_script_threads3() {
    run_script(&ZSETS, 3);
}

// Geo.
#[test]
fn geo_script_threads1() {
    run_script(&GEO, 1);
}

#[test]
fn geo_script_threads3() {
    run_script(&GEO, 3);
}

#[test]
fn keys_more_script_threads1() {
    run_script(&KEYS_MORE, 1);
}

#[test]
fn keys_more_script_threads3() {
    run_script(&KEYS_MORE, 3);
}

#[test]
fn transactions_script_threads1() {
    run_script(&TRANSACTIONS, 1);
}

#[test]
fn transactions_script_threads3() {
    run_script(&TRANSACTIONS, 3);
}

#[test]
fn scripting_script_threads1() {
    run_script(&SCRIPTING, 1);
}

#[test]
fn scripting_script_threads3() {
    run_script(&SCRIPTING, 3);
}

#[test]
fn hashes_sets_script_threads1() {
    run_script(&HASHES_SETS, 1);
}

#[test]
fn hashes_sets_script_threads3() {
    run_script(&HASHES_SETS, 3);
}

#[test]
fn script_parser() {
    assert_eq!(
        split_args(r#"SET "a b" 'c\'d' "\x41\n" plain"#).unwrap(),
        vec![
            b"SET".to_vec(),
            b"a b".to_vec(),
            b"c'd".to_vec(),
            b"A\n".to_vec(),
            b"plain".to_vec()
        ]
    );
    assert_eq!(
        split_args(r#"ECHO """#).unwrap(),
        vec![b"ECHO".to_vec(), vec![]]
    );
    assert!(split_args(r#"ECHO "abc"#).is_err());
    assert!(split_args(r#"ECHO "a"b"#).is_err());
    let lines = parse_script("t", "# c\n\nsort KEYS *\nnoreply-compare HELLO 3\nPING\n");
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0].mode, Mode::Sorted);
    assert_eq!(lines[0].number, 3);
    assert_eq!(lines[1].mode, Mode::NoCompare);
    assert_eq!(lines[2].mode, Mode::Exact);
    assert_eq!(
        sorted(b"*3\r\n$1\r\nb\r\n$1\r\na\r\n:1\r\n"),
        b"*3\r\n$1\r\na\r\n$1\r\nb\r\n:1\r\n".to_vec()
    );
}
