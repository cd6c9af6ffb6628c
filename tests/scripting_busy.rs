//! A script that runs too long: past the BUSY threshold (5 s) other clients
//! get BUSY, SCRIPT KILL stops a script that has not written (its client
//! gets the kill error), and one that has written is UNKILLABLE.
//!
//! ringbus runs a script on one core without yielding, so only clients of
//! another core can be answered meanwhile: these tests start 2 executors and
//! find a connection that gets BUSY (redis-server, single-threaded, answers
//! BUSY on every connection, so the tests pass against it too).

mod common;

use common::*;
use std::io::ErrorKind;
use std::thread;
use std::time::Duration;

const BUSY: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

/// Among fresh connections, one whose PING is answered BUSY (it lives on a
/// core the script does not occupy). The others are dropped.
fn busy_answering_connection(s: &Server) -> RawConn {
    for _ in 0..16 {
        let mut c = s.raw();
        c.send(&encode_str(&["PING"]));
        c.stream
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut buf = [0u8; 256];
        match std::io::Read::read(&mut c.stream, &mut buf) {
            Ok(n) if n > 0 => {
                assert_eq!(
                    show(&buf[..n]),
                    show(&err(BUSY)),
                    "PING while a script runs"
                );
                c.stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                return c;
            }
            Ok(_) => panic!("connection closed"),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("read: {e}"),
        }
    }
    panic!("no connection got BUSY");
}

fn kill_a_long_script() {
    let s = Server::start(2);
    let mut runner = s.raw();
    runner.send(&encode_str(&[
        "EVAL",
        "local i = 0 while true do i = i + 1 end",
        "0",
    ]));
    // Past the threshold.
    thread::sleep(Duration::from_millis(5300));
    let mut other = busy_answering_connection(&s);
    other.check(&["SCRIPT", "KILL"], &ok());
    let reply = String::from_utf8_lossy(&runner.read_reply()).to_string();
    assert!(
        reply.starts_with("-ERR Script killed by user with SCRIPT KILL..."),
        "{reply}"
    );
    runner.check(&["PING"], &simple("PONG"));
    other.check(&["PING"], &simple("PONG"));
    other.check(
        &["SCRIPT", "KILL"],
        &err("NOTBUSY No scripts in execution right now."),
    );
}

fn a_script_that_wrote_is_unkillable() {
    let s = Server::start(2);
    let mut runner = s.raw();
    runner.send(&encode_str(&[
        "EVAL",
        "redis.call('set', KEYS[1], 'x') local i = 0 while true do i = i + 1 end",
        "1",
        "k",
    ]));
    thread::sleep(Duration::from_millis(5300));
    let mut other = busy_answering_connection(&s);
    other.check(
        &["SCRIPT", "KILL"],
        &err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."),
    );
    // The server is stopped by the harness (the script never ends).
}

#[test]
fn script_kill() {
    kill_a_long_script();
}

#[test]
fn unkillable_after_a_write() {
    a_script_that_wrote_is_unkillable();
}

/// `busy-reply-threshold` (and its old name `lua-time-limit`) moves the
/// point where other clients get BUSY and SCRIPT KILL may stop the script.
#[test]
fn busy_reply_threshold_is_configurable() {
    let s = Server::start(2);
    let mut admin = s.raw();
    admin.check(&["CONFIG", "SET", "lua-time-limit", "300"], &ok());
    for name in ["busy-reply-threshold", "lua-time-limit"] {
        admin.check(&["CONFIG", "GET", name], &array(&[bulk(name), bulk("300")]));
    }
    admin.check(
        &["CONFIG", "GET", "*busy*"],
        &array(&[bulk("busy-reply-threshold"), bulk("300")]),
    );
    admin.check(
        &["CONFIG", "SET", "busy-reply-threshold", "-1"],
        &err("ERR CONFIG SET failed (possibly related to argument 'busy-reply-threshold') - argument must be between 0 and 9223372036854775807 inclusive"),
    );
    admin.check(
        &["CONFIG", "SET", "lua-time-limit", "abc"],
        &err("ERR CONFIG SET failed (possibly related to argument 'lua-time-limit') - argument couldn't be parsed into an integer"),
    );
    let mut runner = s.raw();
    runner.send(&encode_str(&[
        "EVAL",
        "local i = 0 while true do i = i + 1 end",
        "0",
    ]));
    // Past 300 ms, far before the default 5 s.
    thread::sleep(Duration::from_millis(700));
    let mut other = busy_answering_connection(&s);
    other.check(&["SCRIPT", "KILL"], &ok());
    let reply = String::from_utf8_lossy(&runner.read_reply()).to_string();
    assert!(reply.starts_with("-ERR Script killed"), "{reply}");
}

#[test]
fn maxmemory_policy_is_noeviction_only() {
    let s = Server::start(1);
    let mut c = s.raw();
    c.check(
        &["CONFIG", "GET", "maxmemory-policy"],
        &array(&[bulk("maxmemory-policy"), bulk("noeviction")]),
    );
    c.check(&["CONFIG", "SET", "maxmemory-policy", "NOEVICTION"], &ok());
    c.check(
        &["CONFIG", "SET", "maxmemory-policy", "bogus"],
        &err("ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"),
    );
    if s.is_ringbus() {
        // Redis would evict; ringbus says it cannot rather than ignore it.
        c.check(
            &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"],
            &err("ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - ringbus does not evict keys: 'allkeys-lru' is not supported, only noeviction"),
        );
    }
}
