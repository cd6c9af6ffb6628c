//! `redis-benchmark` with no `-t` runs every one of its default tests and
//! stops at the first error reply, so a run that completes shows ringbus
//! answers all of them: PING (inline and multibulk), SET, GET, INCR, LPUSH,
//! RPUSH, LPOP, RPOP, SADD, HSET, SPOP, ZADD, ZPOPMIN, LRANGE (100 to 600)
//! and MSET. Small request counts: this checks that it works, not its speed.

mod common;

use common::*;
use std::process::Command;

/// The test names redis-benchmark prints in `--csv` mode, one per line.
const DEFAULT_TESTS: &[&str] = &[
    "PING_INLINE",
    "PING_MBULK",
    "SET",
    "GET",
    "INCR",
    "LPUSH",
    "RPUSH",
    "LPOP",
    "RPOP",
    "SADD",
    "HSET",
    "SPOP",
    "ZADD",
    "ZPOPMIN",
    "LRANGE_100 (first 100 elements)",
    "LRANGE_300 (first 300 elements)",
    "LRANGE_500 (first 500 elements)",
    "LRANGE_600 (first 600 elements)",
    "MSET (10 keys)",
];

fn every_default_test_completes(server: &Server) {
    let out = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p"])
        .arg(server.port().to_string())
        .args(["-n", "300", "-c", "4", "--csv"])
        .output()
        .expect("redis-benchmark is installed (apt-get install redis-tools)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "redis-benchmark failed: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    for test in DEFAULT_TESTS {
        let line = format!("\"{test}\",");
        let row = text
            .lines()
            .find(|l| l.starts_with(&line))
            .unwrap_or_else(|| panic!("no result for {test}:\n{text}"));
        let rps: f64 = row
            .split("\",\"")
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        assert!(rps > 0.0, "{test} did no requests: {row}");
    }
}

sharded_tests!(every_default_test_completes);
