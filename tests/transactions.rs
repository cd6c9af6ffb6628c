//! MULTI / EXEC / DISCARD / WATCH / UNWATCH: queued replies, EXECABORT after
//! a queuing error, runtime errors that do not stop the rest, WATCH failing
//! EXEC after a write by another client (on any shard), by expiry and by
//! FLUSHDB, blocking commands that do not block inside EXEC, moves and
//! multi-key commands across shards inside EXEC, and atomicity: a client
//! reading keys on two shards never sees half of a transaction.
//!
//! Every expectation was checked against a real redis-server
//! (`RINGBUS_TEST_TARGET=redis`).

mod common;

use common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

sharded_tests!(
    queue_and_exec,
    errors_while_queuing_abort,
    runtime_errors_do_not_stop_the_rest,
    nesting_and_misplaced_commands,
    watch_fails_on_another_clients_write,
    watch_on_other_shards,
    watch_fails_on_expiry,
    watch_fails_on_flushdb,
    unwatch_discard_and_exec_forget_keys,
    blocking_commands_do_not_block,
    multi_key_commands_across_shards,
    resp3_replies,
    exec_is_atomic_across_shards,
);

const QUEUED: &[u8] = b"+QUEUED\r\n";
const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";

fn nil_array() -> Vec<u8> {
    b"*-1\r\n".to_vec()
}

fn queue_and_exec(s: &Server) {
    let mut c = s.raw();
    c.check(&["MULTI"], &ok());
    c.check(&["SET", "a", "1"], QUEUED);
    c.check(&["INCR", "a"], QUEUED);
    c.check(&["RPUSH", "l", "x", "y"], QUEUED);
    c.check(&["GET", "a"], QUEUED);
    // Nothing ran yet: another client sees no key.
    let mut other = s.raw();
    other.check(&["EXISTS", "a", "l"], &int(0));
    c.check(&["EXEC"], &array(&[ok(), int(2), int(2), bulk("2")]));
    other.check(&["GET", "a"], &bulk("2"));
    // An empty transaction answers an empty array.
    c.check(&["MULTI"], &ok());
    c.check(&["EXEC"], b"*0\r\n");
    // DISCARD drops the queue.
    c.check(&["MULTI"], &ok());
    c.check(&["SET", "a", "9"], QUEUED);
    c.check(&["DISCARD"], &ok());
    c.check(&["GET", "a"], &bulk("2"));
}

fn errors_while_queuing_abort(s: &Server) {
    let mut c = s.raw();
    c.check(&["SET", "a", "1"], &ok());
    c.check(&["MULTI"], &ok());
    c.check(&["SET", "a", "2"], QUEUED);
    c.check(
        &["NOSUCH", "x"],
        &err("ERR unknown command 'NOSUCH', with args beginning with: 'x' "),
    );
    c.check(
        &["GET"],
        &err("ERR wrong number of arguments for 'get' command"),
    );
    c.check(&["EXEC"], &err(EXECABORT));
    // Nothing ran, and the connection is out of MULTI.
    c.check(&["GET", "a"], &bulk("1"));
    c.check(&["EXEC"], &err("ERR EXEC without MULTI"));
}

fn runtime_errors_do_not_stop_the_rest(s: &Server) {
    let mut c = s.raw();
    c.check(&["MULTI"], &ok());
    c.check(&["SET", "a", "x"], QUEUED);
    c.check(&["INCR", "a"], QUEUED);
    c.check(&["SET", "a", "1", "2", "3"], QUEUED);
    c.check(&["LPUSH", "a", "v"], QUEUED);
    c.check(&["SET", "b", "ok"], QUEUED);
    c.check(
        &["EXEC"],
        &array(&[
            ok(),
            err("ERR value is not an integer or out of range"),
            err("ERR syntax error"),
            err("WRONGTYPE Operation against a key holding the wrong kind of value"),
            ok(),
        ]),
    );
    c.check(&["GET", "b"], &bulk("ok"));
}

fn nesting_and_misplaced_commands(s: &Server) {
    let mut c = s.raw();
    c.check(&["EXEC"], &err("ERR EXEC without MULTI"));
    c.check(&["DISCARD"], &err("ERR DISCARD without MULTI"));
    c.check(
        &["WATCH"],
        &err("ERR wrong number of arguments for 'watch' command"),
    );
    c.check(&["UNWATCH"], &ok());
    c.check(&["MULTI"], &ok());
    // Neither of these aborts the transaction.
    c.check(&["MULTI"], &err("ERR MULTI calls can not be nested"));
    c.check(
        &["WATCH", "k"],
        &err("ERR WATCH inside MULTI is not allowed"),
    );
    c.check(&["SET", "k", "v"], QUEUED);
    c.check(&["EXEC"], &array(&[ok()]));
}

fn watch_fails_on_another_clients_write(s: &Server) {
    let mut c = s.raw();
    let mut other = s.raw();
    c.check(&["SET", "k", "1"], &ok());
    c.check(&["WATCH", "k"], &ok());
    other.check(&["SET", "k", "2"], &ok());
    c.check(&["MULTI"], &ok());
    c.check(&["SET", "k", "3"], QUEUED);
    c.check(&["EXEC"], &nil_array());
    c.check(&["GET", "k"], &bulk("2"));
    // EXEC unwatched: the next transaction goes through.
    c.check(&["MULTI"], &ok());
    c.check(&["SET", "k", "3"], QUEUED);
    c.check(&["EXEC"], &array(&[ok()]));
    // A watched key nobody touches does not fail EXEC; a write to another key
    // does not either.
    c.check(&["WATCH", "k", "missing"], &ok());
    other.check(&["SET", "unrelated", "x"], &ok());
    c.check(&["MULTI"], &ok());
    c.check(&["GET", "k"], QUEUED);
    c.check(&["EXEC"], &array(&[bulk("3")]));
    // Creating a watched key that did not exist is a change.
    c.check(&["WATCH", "missing"], &ok());
    other.check(&["LPUSH", "missing", "x"], &int(1));
    c.check(&["MULTI"], &ok());
    c.check(&["PING"], QUEUED);
    c.check(&["EXEC"], &nil_array());
    // So is deleting one.
    c.check(&["WATCH", "missing"], &ok());
    other.check(&["DEL", "missing"], &int(1));
    c.check(&["MULTI"], &ok());
    c.check(&["PING"], QUEUED);
    c.check(&["EXEC"], &nil_array());
}

fn watch_on_other_shards(s: &Server) {
    let mut c = s.raw();
    let mut other = s.raw();
    // A write to any one of the watched keys, whatever its shard, fails EXEC.
    for key in ["{from}k", "{to}k", "{in}k"] {
        c.check(&["WATCH", "{from}k", "{to}k", "{in}k"], &ok());
        other.check(&["INCR", key], &int(1));
        c.check(&["MULTI"], &ok());
        c.check(&["SET", "{from}k", "mine"], QUEUED);
        c.check(&["SET", "{in}k", "mine"], QUEUED);
        c.check(&["EXEC"], &nil_array());
        other.check(&["DEL", key], &int(1));
    }
    // Untouched, the same watch lets a cross-shard transaction through.
    c.check(&["WATCH", "{from}k", "{to}k", "{in}k"], &ok());
    c.check(&["MULTI"], &ok());
    c.check(&["SET", "{from}k", "mine"], QUEUED);
    c.check(&["SET", "{in}k", "mine"], QUEUED);
    c.check(&["EXEC"], &array(&[ok(), ok()]));
    other.check(
        &["MGET", "{from}k", "{in}k"],
        &array(&[bulk("mine"), bulk("mine")]),
    );
}

fn watch_fails_on_expiry(s: &Server) {
    let mut c = s.raw();
    c.check(&["SET", "k", "v", "PX", "50"], &ok());
    c.check(&["WATCH", "k"], &ok());
    thread::sleep(Duration::from_millis(120));
    c.check(&["MULTI"], &ok());
    c.check(&["SET", "other", "x"], QUEUED);
    c.check(&["EXEC"], &nil_array());
    c.check(&["EXISTS", "other"], &int(0));
}

fn watch_fails_on_flushdb(s: &Server) {
    let mut c = s.raw();
    let mut other = s.raw();
    c.check(&["SET", "k", "v"], &ok());
    c.check(&["WATCH", "k"], &ok());
    other.check(&["FLUSHDB"], &ok());
    c.check(&["MULTI"], &ok());
    c.check(&["SET", "k", "new"], QUEUED);
    c.check(&["EXEC"], &nil_array());
    c.check(&["EXISTS", "k"], &int(0));
    // A flush that removes no watched key leaves the watch alone.
    c.check(&["WATCH", "k"], &ok());
    other.check(&["FLUSHDB"], &ok());
    c.check(&["MULTI"], &ok());
    c.check(&["SET", "k", "new"], QUEUED);
    c.check(&["EXEC"], &array(&[ok()]));
}

fn unwatch_discard_and_exec_forget_keys(s: &Server) {
    let mut c = s.raw();
    let mut other = s.raw();
    for forget in [&["UNWATCH"][..], &["MULTI", "DISCARD"][..]] {
        c.check(&["WATCH", "k"], &ok());
        for cmd in forget {
            c.check(&[cmd], &ok());
        }
        other.check(&["SET", "k", "x"], &ok());
        c.check(&["MULTI"], &ok());
        c.check(&["GET", "k"], QUEUED);
        c.check(&["EXEC"], &array(&[bulk("x")]));
    }
    // RESET forgets them too.
    c.check(&["WATCH", "k"], &ok());
    c.check(&["RESET"], &simple("RESET"));
    other.check(&["SET", "k", "y"], &ok());
    c.check(&["MULTI"], &ok());
    c.check(&["GET", "k"], QUEUED);
    c.check(&["EXEC"], &array(&[bulk("y")]));
}

fn blocking_commands_do_not_block(s: &Server) {
    let mut c = s.raw();
    c.check(&["RPUSH", "{from}full", "a"], &int(1));
    c.check(&["MULTI"], &ok());
    c.check(&["BLPOP", "{from}empty", "0"], QUEUED);
    c.check(&["BLPOP", "{from}full", "0"], QUEUED);
    c.check(
        &["BLMOVE", "{to}none", "{in}d", "LEFT", "LEFT", "0"],
        QUEUED,
    );
    c.check(&["XREAD", "BLOCK", "0", "STREAMS", "{to}s", "$"], QUEUED);
    c.check(&["BRPOP", "{from}empty", "{to}empty", "0"], QUEUED);
    c.check(
        &["EXEC"],
        &array(&[
            nil_array(),
            array(&[bulk("{from}full"), bulk("a")]),
            nil(),
            nil_array(),
            nil_array(),
        ]),
    );
    // Nothing was left waiting.
    let info = Reply::parse(&c.cmd(&["INFO", "clients"])).as_text();
    assert!(info.contains("blocked_clients:0"), "{info}");
}

fn multi_key_commands_across_shards(s: &Server) {
    let mut c = s.raw();
    c.check(&["MULTI"], &ok());
    c.check(
        &["MSET", "{from}a", "1", "{to}b", "2", "{in}c", "3"],
        QUEUED,
    );
    c.check(&["MGET", "{from}a", "{to}b", "{in}c"], QUEUED);
    c.check(&["RPUSH", "{from}l", "x", "y"], QUEUED);
    c.check(&["LMOVE", "{from}l", "{to}l", "LEFT", "RIGHT"], QUEUED);
    c.check(&["LMPOP", "2", "{in}none", "{to}l", "LEFT"], QUEUED);
    c.check(&["XADD", "{in}s", "1-1", "f", "v"], QUEUED);
    c.check(&["XREAD", "STREAMS", "{from}s", "{in}s", "0", "0"], QUEUED);
    c.check(&["RENAME", "{from}a", "{to}a"], QUEUED);
    c.check(&["DEL", "{to}a", "{to}b", "{in}c", "{from}l"], QUEUED);
    c.check(
        &["EXEC"],
        &array(&[
            ok(),
            array(&[bulk("1"), bulk("2"), bulk("3")]),
            int(2),
            bulk("x"),
            array(&[bulk("{to}l"), array(&[bulk("x")])]),
            bulk("1-1"),
            array(&[array(&[
                bulk("{in}s"),
                array(&[array(&[bulk("1-1"), array(&[bulk("f"), bulk("v")])])]),
            ])]),
            ok(),
            int(4),
        ]),
    );
    c.check(&["EXISTS", "{from}a", "{to}a", "{to}b", "{in}c"], &int(0));
}

fn resp3_replies(s: &Server) {
    let mut c = s.raw();
    let mut other = s.raw();
    c.cmd(&["HELLO", "3"]);
    c.check(&["WATCH", "k"], &ok());
    other.check(&["SET", "k", "1"], &ok());
    c.check(&["MULTI"], &ok());
    c.check(&["GET", "k"], QUEUED);
    c.check(&["EXEC"], b"_\r\n");
    c.check(&["MULTI"], &ok());
    c.check(&["GET", "k"], QUEUED);
    c.check(&["BLPOP", "nolist", "0"], QUEUED);
    c.check(&["EXEC"], &array(&[bulk("1"), b"_\r\n".to_vec()]));
}

/// One client swaps the values of two keys on different shards in a loop of
/// transactions; others read both keys with MGET and with a transaction.
/// The two values must always differ: nobody sees half of a swap.
fn exec_is_atomic_across_shards(s: &Server) {
    let (a, b) = ("{from}pair", "{to}pair");
    let mut setup = s.raw();
    setup.check(&["MSET", a, "x", b, "y"], &ok());
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|i| {
            let mut r = s.raw();
            let stop = stop.clone();
            thread::spawn(move || {
                let mut reads = 0;
                while !stop.load(Ordering::Relaxed) {
                    let reply = if i == 0 {
                        Reply::parse(&r.cmd(&["MGET", a, b]))
                    } else {
                        r.check(&["MULTI"], &ok());
                        r.check(&["GET", a], QUEUED);
                        r.check(&["GET", b], QUEUED);
                        Reply::parse(&r.cmd(&["EXEC"]))
                    };
                    let vals: Vec<String> = reply.as_array().iter().map(|v| v.as_text()).collect();
                    assert_ne!(vals[0], vals[1], "half a transaction seen: {vals:?}");
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let mut w = s.raw();
    for i in 0..300 {
        let (va, vb) = if i % 2 == 0 { ("y", "x") } else { ("x", "y") };
        w.check(&["MULTI"], &ok());
        w.check(&["SET", a, va], QUEUED);
        w.check(&["SET", b, vb], QUEUED);
        w.check(&["EXEC"], &array(&[ok(), ok()]));
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().expect("reader") > 0);
    }
}
