//! End-to-end tests with the job-queue libraries themselves: the Python
//! programs in tests/e2e run real RQ workers (`rq_e2e.py`) and a real Celery
//! worker with kombu's Redis transport and the Redis result backend
//! (`celery_e2e.py`), and the Node program `bullmq_e2e.mjs` runs BullMQ
//! (Queue, Workers, FlowProducer, QueueEvents), through the server, ~300 jobs
//! each, and check every result. Each runs against ringbus with 1 and with 3
//! shards (or against redis-server with `RINGBUS_TEST_TARGET=redis`); BullMQ
//! also with its keys under the `{bull}` prefix, all in one hash slot.
//!
//! The Python packages, pinned in tests/e2e/requirements.txt, live in a venv
//! that `bash tests/run.sh` creates at target/e2e-venv and names in
//! `RINGBUS_E2E_PYTHON`. Without that variable the tests use
//! target/e2e-venv/bin/python if it exists, and fail otherwise. Likewise the
//! Node packages, pinned in tests/e2e/bullmq/package-lock.json, are installed
//! by tests/run.sh with `npm ci` into target/e2e-node, named in
//! `RINGBUS_E2E_NODE`; the program runs with the `node` found on PATH.

mod common;

use common::*;
use std::fs::File;
use std::io::{Read, Seek};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest one program may run (it also bounds its own waits).
const PROGRAM_TIMEOUT: Duration = Duration::from_secs(150);

/// The venv's python: `RINGBUS_E2E_PYTHON`, else target/e2e-venv/bin/python.
fn python() -> PathBuf {
    const HOW: &str = "run `bash tests/run.sh`, which installs the packages of \
                       tests/e2e/requirements.txt into target/e2e-venv";
    if let Some(p) = std::env::var_os("RINGBUS_E2E_PYTHON") {
        let p = PathBuf::from(p);
        assert!(
            p.exists(),
            "RINGBUS_E2E_PYTHON={} does not exist: the end-to-end venv is missing \
             (its set-up failed?); {HOW}",
            p.display()
        );
        return p;
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/e2e-venv/bin/python");
    assert!(
        p.exists(),
        "the end-to-end tests need Celery, RQ and redis-py in a venv: RINGBUS_E2E_PYTHON \
         is not set and {} does not exist; {HOW}",
        p.display()
    );
    p
}

/// The folder holding BullMQ's node_modules: `RINGBUS_E2E_NODE`, else
/// target/e2e-node.
fn node_dir() -> PathBuf {
    const HOW: &str = "run `bash tests/run.sh`, which installs the packages of \
                       tests/e2e/bullmq/package-lock.json into target/e2e-node with npm ci";
    let dir = match std::env::var_os("RINGBUS_E2E_NODE") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/e2e-node"),
    };
    assert!(
        dir.join("node_modules/bullmq/package.json").exists(),
        "the BullMQ end-to-end test needs bullmq and ioredis in {}/node_modules \
         (RINGBUS_E2E_NODE or its default target/e2e-node), and they are not there; {HOW}",
        dir.display()
    );
    dir
}

/// Run `tests/e2e/<program> PORT [ARGS...]` against a fresh server with
/// `threads` shards, with the venv's python (`.py`) or node (`.mjs`); fail
/// with the program's output unless it exits 0.
fn run_program(program: &str, threads: usize, args: &[&str]) {
    let mut interpreter = if program.ends_with(".mjs") {
        let mut c = Command::new("node");
        c.env("RINGBUS_E2E_NODE", node_dir());
        c
    } else {
        let mut c = Command::new(python());
        c.env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONUNBUFFERED", "1");
        c
    };
    let server = Server::start(threads);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e");
    let log_path = std::env::temp_dir().join(format!(
        "ringbus-e2e-{}-{}-{program}.log",
        std::process::id(),
        server.port()
    ));
    let mut log = File::options()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&log_path)
        .expect("create the program's log file");
    let started = Instant::now();
    // Its own process group, so that a timeout also stops the workers it ran.
    let mut child = interpreter
        .arg(dir.join(program))
        .arg(server.port().to_string())
        .args(args)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log.try_clone().unwrap()))
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {:?} (for {program}; the BullMQ test needs node on PATH, \
                 which tests/run.sh installs): {e}",
                interpreter.get_program()
            )
        });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the program") {
            break Some(status);
        }
        if started.elapsed() > PROGRAM_TIMEOUT {
            // SAFETY: kill(2) on the process group we created; no memory involved.
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut output = String::new();
    log.rewind().unwrap();
    log.read_to_string(&mut output).unwrap();
    let _ = std::fs::remove_file(&log_path);
    let target = if server.is_ringbus() {
        format!("ringbus --threads {threads}")
    } else {
        "redis-server".to_string()
    };
    let program = if args.is_empty() {
        program.to_string()
    } else {
        format!("{program} {}", args.join(" "))
    };
    match status {
        Some(s) if s.success() => {
            println!(
                "{program} against {target} ({:.1?}):\n{output}",
                started.elapsed()
            )
        }
        Some(s) => panic!("{program} against {target} failed ({s}); its output:\n{output}"),
        None => panic!(
            "{program} against {target} still running after {PROGRAM_TIMEOUT:?} (killed); \
             its output:\n{output}"
        ),
    }
}

#[test]
fn rq_threads1() {
    run_program("rq_e2e.py", 1, &[]);
}

#[test]
fn rq_threads3() {
    run_program("rq_e2e.py", 3, &[]);
}

#[test]
fn celery_threads1() {
    run_program("celery_e2e.py", 1, &[]);
}

#[test]
fn celery_threads3() {
    run_program("celery_e2e.py", 3, &[]);
}

/// BullMQ's keys under the plain `bull` prefix: with 3 shards the keys of one
/// queue (and of one job) land on different cores, and BullMQ's Lua scripts
/// touch keys they build themselves besides those they declare.
#[test]
fn bullmq_threads1() {
    run_program("bullmq_e2e.mjs", 1, &["bull"]);
}

#[test]
fn bullmq_threads3() {
    run_program("bullmq_e2e.mjs", 3, &["bull"]);
}

/// BullMQ's keys under `{bull}`: all of them in one hash slot, so on one core
/// (the prefix BullMQ recommends for Redis Cluster).
#[test]
fn bullmq_threads3_hashtag() {
    run_program("bullmq_e2e.mjs", 3, &["{bull}"]);
}
