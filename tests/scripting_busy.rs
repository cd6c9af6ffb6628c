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
