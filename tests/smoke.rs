//! Every command in the table, sent with a range of argument counts, must get
//! an answer (a reply or an error) and leave the server serving: no input may
//! crash a core.

mod common;

use common::{bulk, nil, target, Reply, Server, Target};

/// The request words for a COMMAND LIST name: `config|get` -> CONFIG GET.
fn words(name: &str) -> Vec<String> {
    name.split('|').map(str::to_ascii_uppercase).collect()
}

#[test]
fn every_command_answers_and_the_server_survives() {
    let server = Server::start(3);
    if !server.is_ringbus() {
        // redis-server's table includes SHUTDOWN, DEBUG and MONITOR, which
        // this blind sweep must not send; the sweep is for ringbus's table.
        return;
    }
    let mut c = server.raw();
    let names: Vec<String> = Reply::parse(&c.cmd(&["COMMAND", "LIST"]))
        .as_array()
        .iter()
        .map(|r| r.as_text())
        .collect();
    assert!(names.len() > 50, "COMMAND LIST: {names:?}");
    let fillers: [&[&str]; 5] = [
        &[],
        &["k"],
        &["k", "1"],
        &["k", "1", "2"],
        &["k", "v", "k2", "v2", "EX"],
    ];
    // SHUTDOWN ends the server by design (it has its own test).
    for name in names.iter().filter(|n| !n.eq_ignore_ascii_case("shutdown")) {
        for extra in fillers {
            let mut argv = words(name);
            argv.extend(extra.iter().map(|s| s.to_string()));
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            // A fresh connection each time: QUIT, RESET or CLIENT KILL may end
            // or change this one, which is fine; the server must go on.
            let mut one = server.raw();
            one.send(&common::encode_str(&argv));
            let reply = one.try_read_reply();
            assert!(reply.is_some() || argv[0] == "QUIT", "no reply to {argv:?}");
            assert_eq!(
                c.cmd(&["PING"]),
                b"+PONG\r\n",
                "server stopped answering after {argv:?}"
            );
        }
    }
}

#[test]
fn randomkey_picks_a_live_key() {
    let server = Server::start(3);
    let mut c = server.raw();
    c.check(&["RANDOMKEY"], &nil());
    let keys: Vec<String> = (0..20).map(|i| format!("rk:{i}")).collect();
    for k in &keys {
        c.check(&["SET", k, "v"], &common::ok());
    }
    for _ in 0..20 {
        let got = Reply::parse(&c.cmd(&["RANDOMKEY"])).as_text();
        assert!(keys.contains(&got), "RANDOMKEY gave {got:?}");
    }
    c.check(&["FLUSHDB"], &common::ok());
    c.check(&["SET", "only", "v"], &common::ok());
    c.check(&["RANDOMKEY"], &bulk("only"));
}

/// Executors are pinned only with --pin (the last of --pin / --no-pin wins),
/// and CONFIG GET pin says which.
#[test]
fn pinning_is_opt_in() {
    if !matches!(target(), Target::Ringbus(_)) {
        return;
    }
    for (args, pinned) in [
        (&["--threads", "1"][..], "no"),
        (&["--threads", "1", "--pin"][..], "yes"),
        (&["--threads", "1", "--pin", "--no-pin"][..], "no"),
        (&["--threads", "1", "--no-pin", "--pin"][..], "yes"),
    ] {
        let s = Server::start_with(args);
        let mut c = s.raw();
        let reply = format!("*2\r\n$3\r\npin\r\n${}\r\n{pinned}\r\n", pinned.len());
        c.check(&["CONFIG", "GET", "pin"], reply.as_bytes());
    }
}
