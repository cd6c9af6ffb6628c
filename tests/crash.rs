//! The crash-test harness (`src/bin/crash-check.rs`) in the suite: a few
//! kill -9 trials against redis-server with `appendfsync always`, which must
//! lose nothing; one trial against a server without persistence, which the
//! harness must catch losing everything; and 20 trials ringbus must pass
//! with its append-only log.
//! `benches/crash.sh` runs the long version (100 trials, and everysec).

mod common;

use std::process::Command;

use common::{redis_server_path, target, Target};

/// Runs crash-check with `options`, then `--` and `server`; returns whether
/// it passed, its exit code and everything it printed.
fn crash_check(options: &[&str], server: &[String]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_crash-check"))
        .args(options)
        .arg("--")
        .args(server)
        .output()
        .expect("run crash-check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// The summary line's `name=value` field.
fn field<'a>(text: &'a str, name: &str) -> &'a str {
    let line = text
        .lines()
        .find(|l| l.starts_with("crash-check: trials="))
        .unwrap_or_else(|| panic!("no summary line in:\n{text}"));
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {name}= in {line}"))
}

fn redis(args: &[&str]) -> Vec<String> {
    let mut argv = vec![redis_server_path().to_string_lossy().into_owned()];
    argv.extend(
        [
            "--port",
            "{port}",
            "--bind",
            "127.0.0.1",
            "--dir",
            "{dir}",
            "--save",
            "",
        ]
        .iter()
        .chain(args)
        .map(|s| s.to_string()),
    );
    argv
}

/// The server under test (RINGBUS_TEST_TARGET) with 2 shards and `args`.
/// ringbus runs in its data directory, where a relative log file lands.
fn under_test(args: &[&str]) -> Vec<String> {
    match target() {
        Target::Redis => redis(args),
        Target::Ringbus(path) => {
            let mut argv = vec![path.to_string_lossy().into_owned()];
            argv.extend(
                [
                    "--port",
                    "{port}",
                    "--bind",
                    "127.0.0.1",
                    "--threads",
                    "2",
                    "--no-pin",
                ]
                .iter()
                .chain(args)
                .map(|s| s.to_string()),
            );
            argv
        }
    }
}

#[test]
fn redis_appendfsync_always_loses_nothing() {
    let server = redis(&["--appendonly", "yes", "--appendfsync", "always"]);
    let (code, out) = crash_check(
        &["--trials", "3", "--min-load", "0.3", "--max-load", "1.5"],
        &server,
    );
    assert_eq!(
        code,
        Some(0),
        "crash-check failed against redis-server:\n{out}"
    );
    assert_eq!(field(&out, "lost"), "0", "{out}");
    assert_eq!(field(&out, "half_applied"), "0", "{out}");
    assert_eq!(field(&out, "violations"), "0", "{out}");
    assert!(field(&out, "acked").parse::<u64>().unwrap() > 0, "{out}");
}

/// Without persistence a restart comes back empty: the harness must count
/// every kind of acknowledged write as lost (and nothing as half applied).
#[test]
fn detects_loss_without_persistence() {
    let server = match target() {
        Target::Redis => under_test(&["--appendonly", "no"]),
        Target::Ringbus(_) => under_test(&[]),
    };
    let (code, out) = crash_check(
        &["--trials", "1", "--min-load", "0.5", "--max-load", "1"],
        &server,
    );
    assert_eq!(code, Some(1), "crash-check should fail:\n{out}");
    assert!(field(&out, "lost").parse::<u64>().unwrap() > 0, "{out}");
    assert_eq!(field(&out, "half_applied"), "0", "{out}");
    assert_eq!(field(&out, "violations"), "0", "{out}");
    let lost = out
        .lines()
        .find(|l| l.trim_start().starts_with("lost:"))
        .unwrap_or_else(|| panic!("no lost: line in\n{out}"));
    for kind in [
        "incr ",
        "set ",
        "mset ",
        "multi ",
        "lpush ",
        "xadd ",
        "xgroup ",
        "xreadgroup ",
    ] {
        assert!(lost.contains(kind), "no {kind}loss counted: {lost}\n{out}");
    }
}

#[test]
fn appendfsync_always_loses_nothing() {
    let server = under_test(&["--appendonly", "yes", "--appendfsync", "always"]);
    let (code, out) = crash_check(
        &["--trials", "20", "--min-load", "0.3", "--max-load", "1.5"],
        &server,
    );
    assert_eq!(code, Some(0), "crash-check failed:\n{out}");
    assert_eq!(field(&out, "lost"), "0", "{out}");
    assert_eq!(field(&out, "half_applied"), "0", "{out}");
}
