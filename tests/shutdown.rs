//! SHUTDOWN: its argument errors, refused inside MULTI, and the process
//! exiting (the client sees its connection close). Checked against
//! redis-server (`RINGBUS_TEST_TARGET=redis`).

mod common;

use common::*;
use std::time::{Duration, Instant};

#[test]
fn shutdown_exits_the_server() {
    let mut server = Server::start(1);
    let mut c = server.raw();
    c.check(&["SHUTDOWN", "ABORT"], &err("ERR No shutdown in progress."));
    c.check(&["SHUTDOWN", "BOGUS"], &err("ERR syntax error"));
    c.check(&["MULTI"], &ok());
    c.check(
        &["SHUTDOWN"],
        &err("ERR Command not allowed inside a transaction"),
    );
    c.check(
        &["EXEC"],
        &err("EXECABORT Transaction discarded because of previous errors."),
    );
    c.send(&encode_str(&["SHUTDOWN", "NOSAVE"]));
    c.expect_closed();
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.is_alive() {
        assert!(Instant::now() < deadline, "the server is still running");
        std::thread::sleep(Duration::from_millis(20));
    }
}
