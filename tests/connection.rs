//! Connection and server commands: PING, ECHO, HELLO, QUIT, RESET, SELECT,
//! AUTH, CLIENT, INFO, CONFIG, COMMAND, DBSIZE, FLUSHDB, FLUSHALL, TIME.

mod common;

use common::*;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

sharded_tests!(
    client_reply_modes,
    client_pause,
    ping,
    echo,
    hello_2,
    hello_3,
    hello_errors,
    hello_setname,
    quit,
    reset,
    select,
    select_isolates_databases,
    auth_without_password,
    client_id_and_names,
    client_list_and_info,
    client_kill,
    info_sections,
    info_keyspace_counts,
    info_stats_and_resetstat,
    config_get,
    config_set,
    command_introspection,
    command_getkeys,
    dbsize_flushdb_flushall,
    time,
);

const NOAUTH_HELLO: &str = "NOAUTH HELLO must be called with the client already authenticated, \
otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and \
select the RESP protocol version at the same time";
const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

fn ping(s: &Server) {
    let mut c = s.raw();
    c.check(&["PING"], b"+PONG\r\n");
    c.check(&["ping"], b"+PONG\r\n");
    c.check(&["PING", "hello world"], &bulk("hello world"));
    c.check(&["PING", ""], &bulk(""));
    c.check(
        &["PING", "a", "b"],
        &err("ERR wrong number of arguments for 'ping' command"),
    );
}

fn echo(s: &Server) {
    let mut c = s.raw();
    c.check(&["ECHO", "hi"], &bulk("hi"));
    c.check(&["ECHO", ""], &bulk(""));
    let bin: &[u8] = b"a\r\nb\x00c\xff";
    assert_eq!(show(&c.cmd_bytes(&[b"ECHO", bin])), show(&bulk_bytes(bin)));
    c.check(
        &["ECHO"],
        &err("ERR wrong number of arguments for 'echo' command"),
    );
    c.check(
        &["ECHO", "a", "b"],
        &err("ERR wrong number of arguments for 'echo' command"),
    );
}

/// Check the HELLO reply fields and return the connection id it reports.
fn check_hello_fields(reply: &Reply, proto: i64) -> i64 {
    let pairs = reply.as_pairs();
    let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["server", "version", "proto", "id", "mode", "role", "modules"]
    );
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).unwrap().1.clone();
    assert!(!get("server").as_text().is_empty());
    let version = get("version").as_text();
    assert!(
        version.split('.').count() == 3 && version.split('.').all(|p| p.parse::<u32>().is_ok()),
        "version should look like 7.2.4, got {version:?}"
    );
    assert_eq!(get("proto"), Reply::Int(proto));
    assert_eq!(get("mode").as_text(), "standalone");
    assert_eq!(get("role").as_text(), "master");
    assert_eq!(get("modules"), Reply::Array(vec![]));
    let id = get("id").as_int();
    assert!(id > 0);
    id
}

fn hello_2(s: &Server) {
    let mut c = s.raw();
    let raw = c.cmd(&["HELLO", "2"]);
    assert!(
        raw.starts_with(b"*14\r\n$6\r\nserver\r\n"),
        "{}",
        show(&raw)
    );
    let id = check_hello_fields(&Reply::parse(&raw), 2);
    assert_eq!(c.cmd(&["CLIENT", "ID"]), int(id));
    // HELLO without a version reports the current protocol.
    let raw = c.cmd(&["HELLO"]);
    assert!(raw.starts_with(b"*14\r\n"), "{}", show(&raw));
    check_hello_fields(&Reply::parse(&raw), 2);
    // Still RESP2: a missing key is a null bulk.
    c.check(&["GET", "nosuchkey"], &nil());
}

fn hello_3(s: &Server) {
    let mut c = s.raw();
    let raw = c.cmd(&["HELLO", "3"]);
    assert!(raw.starts_with(b"%7\r\n$6\r\nserver\r\n"), "{}", show(&raw));
    assert!(raw.ends_with(b"$7\r\nmodules\r\n*0\r\n"), "{}", show(&raw));
    assert!(
        show(&raw).contains("$5\\r\\nproto\\r\\n:3\\r\\n$2\\r\\nid\\r\\n:"),
        "{}",
        show(&raw)
    );
    let id = check_hello_fields(&Reply::parse(&raw), 3);
    assert_eq!(c.cmd(&["CLIENT", "ID"]), int(id));
    c.check(&["GET", "nosuchkey"], b"_\r\n");
    let raw = c.cmd(&["HELLO"]);
    check_hello_fields(&Reply::parse(&raw), 3);
    // Back to RESP2.
    let raw = c.cmd(&["HELLO", "2"]);
    check_hello_fields(&Reply::parse(&raw), 2);
    c.check(&["GET", "nosuchkey"], &nil());
}

fn hello_errors(s: &Server) {
    let mut c = s.raw();
    c.check(
        &["HELLO", "4"],
        &err("NOPROTO unsupported protocol version"),
    );
    c.check(
        &["HELLO", "1"],
        &err("NOPROTO unsupported protocol version"),
    );
    c.check(
        &["HELLO", "abc"],
        &err("ERR Protocol version is not an integer or out of range"),
    );
    c.check(
        &["HELLO", "3", "FOO"],
        &err("ERR Syntax error in HELLO option 'FOO'"),
    );
    c.check(
        &["HELLO", "3", "SETNAME"],
        &err("ERR Syntax error in HELLO option 'SETNAME'"),
    );
    c.check(
        &["HELLO", "3", "AUTH", "default"],
        &err("ERR Syntax error in HELLO option 'AUTH'"),
    );
    // A failed HELLO leaves the protocol unchanged.
    c.check(&["GET", "nosuchkey"], &nil());
}

fn hello_setname(s: &Server) {
    let mut c = s.raw();
    let raw = c.cmd(&["HELLO", "3", "SETNAME", "myname"]);
    check_hello_fields(&Reply::parse(&raw), 3);
    c.check(&["CLIENT", "GETNAME"], &bulk("myname"));
    // Without a configured password, HELLO AUTH default <anything> succeeds.
    let raw = c.cmd(&["HELLO", "2", "AUTH", "default", "whatever"]);
    check_hello_fields(&Reply::parse(&raw), 2);
}

fn quit(s: &Server) {
    let mut c = s.raw();
    c.check(&["SET", "quitkey", "v"], &ok());
    c.check(&["QUIT"], &ok());
    c.expect_closed();
    let mut d = s.raw();
    d.check(&["GET", "quitkey"], &bulk("v"));
}

fn reset(s: &Server) {
    let mut c = s.raw();
    c.check(&["SET", "rk", "db0"], &ok());
    c.check(&["SELECT", "1"], &ok());
    c.check(&["SET", "rk", "db1"], &ok());
    c.check(&["CLIENT", "SETNAME", "before-reset"], &ok());
    let raw = c.cmd(&["HELLO", "3"]);
    assert!(raw.starts_with(b"%7\r\n"));
    c.check(&["RESET"], b"+RESET\r\n");
    // Back in db 0, RESP2 and without a name.
    c.check(&["GET", "rk"], &bulk("db0"));
    c.check(&["GET", "nosuchkey"], &nil());
    c.check(&["CLIENT", "GETNAME"], &nil());
    c.check(
        &["RESET", "x"],
        &err("ERR wrong number of arguments for 'reset' command"),
    );
}

fn select(s: &Server) {
    let mut c = s.raw();
    for db in 0..16 {
        c.check(&["SELECT", &db.to_string()], &ok());
    }
    c.check(&["SELECT", "16"], &err("ERR DB index is out of range"));
    c.check(&["SELECT", "-1"], &err("ERR DB index is out of range"));
    c.check(
        &["SELECT", "abc"],
        &err("ERR value is not an integer or out of range"),
    );
    c.check(
        &["SELECT", "1.5"],
        &err("ERR value is not an integer or out of range"),
    );
    c.check(
        &["SELECT"],
        &err("ERR wrong number of arguments for 'select' command"),
    );
}

fn select_isolates_databases(s: &Server) {
    let mut c = s.raw();
    for i in 0..40 {
        c.check(&["SET", &format!("key:{i}"), "zero"], &ok());
    }
    c.check(&["SELECT", "5"], &ok());
    for i in 0..40 {
        c.check(&["GET", &format!("key:{i}")], &nil());
    }
    for i in 0..20 {
        c.check(&["SET", &format!("key:{i}"), "five"], &ok());
    }
    c.check(&["DBSIZE"], &int(20));
    // Another connection starts in db 0.
    let mut d = s.raw();
    d.check(&["DBSIZE"], &int(40));
    for i in 0..40 {
        d.check(&["GET", &format!("key:{i}")], &bulk("zero"));
    }
    c.check(&["SELECT", "0"], &ok());
    c.check(&["GET", "key:3"], &bulk("zero"));
}

#[test]
fn auth_with_requirepass() {
    for threads in ["1", "3"] {
        let s = Server::start_with(&["--threads", threads, "--requirepass", "s3cret"]);
        let mut c = s.raw();
        for cmd in [
            vec!["PING"],
            vec!["GET", "a"],
            vec!["SET", "a", "b"],
            vec!["SELECT", "1"],
            vec!["CLIENT", "ID"],
            vec!["DBSIZE"],
        ] {
            c.check(&cmd, &err("NOAUTH Authentication required."));
        }
        // The command lookup comes before the authentication check.
        c.check(
            &["NOSUCHCOMMAND", "x"],
            &err("ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'x' "),
        );
        c.check(
            &["GET"],
            &err("ERR wrong number of arguments for 'get' command"),
        );
        c.check(&["HELLO", "3"], &err(NOAUTH_HELLO));
        c.check(&["HELLO"], &err(NOAUTH_HELLO));
        c.check(&["HELLO", "3", "AUTH", "default", "nope"], &err(WRONGPASS));
        c.check(&["AUTH", "nope"], &err(WRONGPASS));
        c.check(&["AUTH", "default", "nope"], &err(WRONGPASS));
        c.check(
            &["AUTH"],
            &err("ERR wrong number of arguments for 'auth' command"),
        );
        c.check(&["AUTH", "a", "b", "c"], &err("ERR syntax error"));
        c.check(&["PING"], &err("NOAUTH Authentication required."));
        c.check(&["AUTH", "s3cret"], &ok());
        c.check(&["PING"], b"+PONG\r\n");
        c.check(&["SET", "a", "b"], &ok());
        // A wrong AUTH after a good one does not log the connection out.
        c.check(&["AUTH", "nope"], &err(WRONGPASS));
        c.check(&["GET", "a"], &bulk("b"));
        c.check(&["AUTH", "default", "s3cret"], &ok());
        // RESET logs out.
        c.check(&["RESET"], b"+RESET\r\n");
        c.check(&["GET", "a"], &err("NOAUTH Authentication required."));

        // HELLO with AUTH and SETNAME authenticates in one step.
        let mut d = s.raw();
        let raw = d.cmd(&["HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "hn"]);
        check_hello_fields(&Reply::parse(&raw), 3);
        d.check(&["CLIENT", "GETNAME"], &bulk("hn"));
        d.check(&["GET", "a"], &bulk("b"));

        // QUIT works before authenticating.
        let mut e = s.raw();
        e.check(&["QUIT"], &ok());
        e.expect_closed();

        // The redis crate with a password in the URL.
        let url = format!("redis://:s3cret@{}/", s.addr());
        let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
        let v: String = redis::cmd("GET").arg("a").query(&mut con).unwrap();
        assert_eq!(v, "b");
    }
}

fn auth_without_password(s: &Server) {
    let mut c = s.raw();
    c.check(
        &["AUTH", "x"],
        &err(
            "ERR AUTH <password> called without any password configured for the default user. \
              Are you sure your configuration is correct?",
        ),
    );
    // The default user has no password: any password is accepted with a username.
    c.check(&["AUTH", "default", "anything"], &ok());
    c.check(&["AUTH", "nosuchuser", "x"], &err(WRONGPASS));
    c.check(&["PING"], b"+PONG\r\n");
}

fn client_id_and_names(s: &Server) {
    let mut c = s.raw();
    let mut d = s.raw();
    let id_c = Reply::parse(&c.cmd(&["CLIENT", "ID"])).as_int();
    let id_d = Reply::parse(&d.cmd(&["CLIENT", "ID"])).as_int();
    assert!(id_c > 0 && id_d > 0 && id_c != id_d);
    // Stable for the life of the connection.
    c.check(&["CLIENT", "ID"], &int(id_c));

    c.check(&["CLIENT", "GETNAME"], &nil());
    c.check(&["CLIENT", "SETNAME", "conn-c"], &ok());
    c.check(&["CLIENT", "GETNAME"], &bulk("conn-c"));
    d.check(&["CLIENT", "GETNAME"], &nil());
    c.check(
        &["CLIENT", "SETNAME", "a b"],
        &err("ERR Client names cannot contain spaces, newlines or special characters."),
    );
    c.check(&["CLIENT", "GETNAME"], &bulk("conn-c"));
    c.check(
        &["CLIENT", "SETNAME"],
        &err("ERR wrong number of arguments for 'client|setname' command"),
    );
    // An empty name removes the name.
    c.check(&["CLIENT", "SETNAME", ""], &ok());
    c.check(&["CLIENT", "GETNAME"], &nil());
    c.check(
        &["CLIENT", "NOSUCHSUB"],
        &err("ERR unknown subcommand 'NOSUCHSUB'. Try CLIENT HELP."),
    );

    // The redis crate agrees.
    let mut con = s.client();
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut con).unwrap();
    assert!(id > 0 && id != id_c && id != id_d);
    let () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("rs")
        .query(&mut con)
        .unwrap();
    let name: Option<String> = redis::cmd("CLIENT").arg("GETNAME").query(&mut con).unwrap();
    assert_eq!(name.as_deref(), Some("rs"));
}

/// Parse one CLIENT LIST / CLIENT INFO line into ordered (field, value) pairs.
fn client_fields(line: &str) -> Vec<(String, String)> {
    line.split(' ')
        .map(|f| {
            let (k, v) = f
                .split_once('=')
                .unwrap_or_else(|| panic!("bad field {f:?} in {line:?}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], k: &str) -> &'a str {
    &fields
        .iter()
        .find(|(n, _)| n == k)
        .unwrap_or_else(|| panic!("no field {k} in {fields:?}"))
        .1
}

fn client_list_and_info(s: &Server) {
    let mut c = s.raw();
    let mut d = s.raw();
    let id_c = Reply::parse(&c.cmd(&["CLIENT", "ID"])).as_int();
    let id_d = Reply::parse(&d.cmd(&["CLIENT", "ID"])).as_int();
    c.check(&["CLIENT", "SETNAME", "lister"], &ok());
    d.check(&["SELECT", "3"], &ok());

    let info = Reply::parse(&c.cmd(&["CLIENT", "INFO"])).as_text();
    assert!(
        info.ends_with('\n') && info.matches('\n').count() == 1,
        "{info:?}"
    );
    let f = client_fields(info.trim_end_matches('\n'));
    assert_eq!(f[0].0, "id");
    assert_eq!(f[1].0, "addr");
    assert_eq!(field(&f, "id"), id_c.to_string());
    let local = c.stream.local_addr().unwrap();
    assert_eq!(field(&f, "addr"), local.to_string());
    assert_eq!(field(&f, "laddr"), s.addr());
    assert_eq!(field(&f, "name"), "lister");
    assert_eq!(field(&f, "db"), "0");
    assert_eq!(field(&f, "cmd"), "client|info");
    assert_eq!(field(&f, "resp"), "2");
    assert_eq!(field(&f, "user"), "default");
    for k in ["age", "idle", "sub", "psub"] {
        field(&f, k).parse::<u64>().unwrap();
    }
    field(&f, "flags");
    assert_eq!(field(&f, "multi"), "-1");

    let list = Reply::parse(&c.cmd(&["CLIENT", "LIST"])).as_text();
    assert!(list.ends_with('\n'), "{list:?}");
    let lines: Vec<Vec<(String, String)>> = list.lines().map(client_fields).collect();
    let mine = lines
        .iter()
        .find(|l| field(l, "id") == id_c.to_string())
        .expect("own connection in CLIENT LIST");
    assert_eq!(field(mine, "name"), "lister");
    assert_eq!(field(mine, "cmd"), "client|list");
    assert_eq!(field(mine, "addr"), local.to_string());
    let other = lines
        .iter()
        .find(|l| field(l, "id") == id_d.to_string())
        .expect("other connection in CLIENT LIST");
    assert_eq!(field(other, "db"), "3");
    assert_eq!(field(other, "name"), "");
    assert_eq!(field(other, "cmd"), "select");
    assert_eq!(
        field(other, "addr"),
        d.stream.local_addr().unwrap().to_string()
    );

    // CLIENT LIST ID filters.
    let only = Reply::parse(&c.cmd(&["CLIENT", "LIST", "ID", &id_d.to_string()])).as_text();
    assert_eq!(only.lines().count(), 1, "{only:?}");
    assert_eq!(
        field(&client_fields(only.trim_end()), "id"),
        id_d.to_string()
    );
}

fn client_kill(s: &Server) {
    let mut killer = s.raw();
    let mut by_id = s.raw();
    let mut by_addr = s.raw();
    let mut by_old = s.raw();
    killer.check(&["SET", "survivor", "yes"], &ok());
    let id = Reply::parse(&by_id.cmd(&["CLIENT", "ID"])).as_int();
    by_addr.check(&["PING"], b"+PONG\r\n");
    by_old.check(&["PING"], b"+PONG\r\n");

    killer.check(&["CLIENT", "KILL", "ID", &id.to_string()], &int(1));
    by_id.expect_closed();
    killer.check(&["CLIENT", "KILL", "ID", &id.to_string()], &int(0));
    killer.check(&["CLIENT", "KILL", "ID", "999999999"], &int(0));
    killer.check(
        &["CLIENT", "KILL", "ID", "abc"],
        &err("ERR client-id should be greater than 0"),
    );

    let addr = by_addr.stream.local_addr().unwrap().to_string();
    killer.check(&["CLIENT", "KILL", "ADDR", &addr], &int(1));
    by_addr.expect_closed();
    killer.check(&["CLIENT", "KILL", "ADDR", "1.2.3.4:5"], &int(0));

    // The old form takes an address and answers +OK / an error.
    let addr = by_old.stream.local_addr().unwrap().to_string();
    killer.check(&["CLIENT", "KILL", &addr], &ok());
    by_old.expect_closed();
    killer.check(&["CLIENT", "KILL", "1.2.3.4:5"], &err("ERR No such client"));

    killer.check(&["GET", "survivor"], &bulk("yes"));
    let mut fresh = s.raw();
    fresh.check(&["GET", "survivor"], &bulk("yes"));
}

fn info_text(c: &mut RawConn, args: &[&str]) -> String {
    let raw = c.cmd(args);
    assert!(
        raw.starts_with(b"$"),
        "INFO should be a bulk: {}",
        show(&raw)
    );
    Reply::parse(&raw).as_text()
}

fn info_field(info: &[(String, String, String)], k: &str) -> String {
    info.iter()
        .find(|(_, n, _)| n == k)
        .unwrap_or_else(|| panic!("INFO has no {k}: {info:?}"))
        .2
        .clone()
}

fn info_sections(s: &Server) {
    let mut c = s.raw();
    let _others: Vec<RawConn> = (0..3).map(|_| s.raw()).collect();
    for (section, header, fields) in [
        (
            "server",
            "Server",
            &[
                "redis_version",
                "redis_mode",
                "process_id",
                "run_id",
                "tcp_port",
                "uptime_in_seconds",
                "uptime_in_days",
            ][..],
        ),
        (
            "clients",
            "Clients",
            &["connected_clients", "maxclients", "blocked_clients"][..],
        ),
        (
            "memory",
            "Memory",
            &["used_memory", "used_memory_human"][..],
        ),
        (
            "stats",
            "Stats",
            &[
                "total_connections_received",
                "total_commands_processed",
                "keyspace_hits",
                "keyspace_misses",
                "expired_keys",
                "evicted_keys",
            ][..],
        ),
    ] {
        let text = info_text(&mut c, &["INFO", section]);
        assert!(
            text.starts_with(&format!("# {header}\r\n")),
            "INFO {section}: {text:?}"
        );
        assert!(text.ends_with("\r\n"), "{text:?}");
        let parsed = parse_info(&text);
        for (sec, _, _) in &parsed {
            assert_eq!(sec, header, "INFO {section} returned other sections");
        }
        for f in fields {
            info_field(&parsed, f);
        }
    }
    let server = parse_info(&info_text(&mut c, &["INFO", "server"]));
    assert_eq!(info_field(&server, "tcp_port"), s.port().to_string());
    assert_eq!(info_field(&server, "redis_mode"), "standalone");
    let run_id = info_field(&server, "run_id");
    assert!(
        run_id.len() == 40 && run_id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{run_id}"
    );
    info_field(&server, "process_id").parse::<u32>().unwrap();
    info_field(&server, "uptime_in_seconds")
        .parse::<u64>()
        .unwrap();
    let clients = parse_info(&info_text(&mut c, &["INFO", "clients"]));
    let connected: u64 = info_field(&clients, "connected_clients").parse().unwrap();
    assert!(connected >= 4, "connected_clients={connected}");
    let mem = parse_info(&info_text(&mut c, &["INFO", "memory"]));
    assert!(info_field(&mem, "used_memory").parse::<u64>().unwrap() > 0);

    // Section names are case-insensitive; several may be asked at once.
    let two = info_text(&mut c, &["INFO", "SERVER", "clients"]);
    let headers: Vec<&str> = two.lines().filter(|l| l.starts_with("# ")).collect();
    assert_eq!(headers, ["# Server", "# Clients"]);
    // The default INFO includes the main sections, in Redis's order.
    let all = info_text(&mut c, &["INFO"]);
    let headers: Vec<&str> = all.lines().filter(|l| l.starts_with("# ")).collect();
    let pos = |h: &str| {
        headers
            .iter()
            .position(|x| *x == h)
            .unwrap_or_else(|| panic!("INFO lacks {h}: {headers:?}"))
    };
    assert!(pos("# Server") < pos("# Clients"));
    assert!(pos("# Clients") < pos("# Memory"));
    assert!(pos("# Memory") < pos("# Stats"));
    assert!(pos("# Stats") < pos("# Keyspace"));
    parse_info(&all);
    // An unknown section is an empty bulk.
    c.check(&["INFO", "nosuchsection"], b"$0\r\n\r\n");
}

fn info_keyspace_counts(s: &Server) {
    let mut c = s.raw();
    c.check(&["INFO", "keyspace"], &bulk("# Keyspace\r\n"));
    for i in 0..50 {
        c.check(&["SET", &format!("ks:{i}"), "v"], &ok());
    }
    for i in 0..20 {
        c.check(&["EXPIRE", &format!("ks:{i}"), "1000"], &int(1));
    }
    c.check(&["SELECT", "2"], &ok());
    for i in 0..7 {
        c.check(&["SET", &format!("other{{{i}}}"), "v", "EX", "500"], &ok());
    }
    let text = info_text(&mut c, &["INFO", "keyspace"]);
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines.len(), 4, "{text:?}");
    assert_eq!(lines[0], "# Keyspace");
    assert_eq!(lines[3], "");
    for (line, db, keys, expires) in [(lines[1], 0, 50, 20), (lines[2], 2, 7, 7)] {
        let prefix = format!("db{db}:keys={keys},expires={expires},avg_ttl=");
        let rest = line
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("expected {prefix}..., got {line:?}"));
        rest.parse::<u64>()
            .unwrap_or_else(|_| panic!("avg_ttl not an integer in {line:?}"));
    }
    c.check(&["PERSIST", "other{3}"], &int(1));
    c.check(&["DEL", "other{4}"], &int(1));
    let text = info_text(&mut c, &["INFO", "keyspace"]);
    assert!(
        text.contains("\r\ndb2:keys=6,expires=5,avg_ttl="),
        "{text:?}"
    );
    c.check(&["FLUSHDB"], &ok());
    let text = info_text(&mut c, &["INFO", "keyspace"]);
    assert!(!text.contains("db2:"), "{text:?}");
    assert!(text.contains("db0:keys=50,expires=20,"), "{text:?}");
}

fn info_stats_and_resetstat(s: &Server) {
    let mut c = s.raw();
    for i in 0..10 {
        c.check(&["SET", &format!("hit:{i}"), "v"], &ok());
    }
    c.check(&["CONFIG", "RESETSTAT"], &ok());
    let stats = parse_info(&info_text(&mut c, &["INFO", "stats"]));
    assert_eq!(info_field(&stats, "keyspace_hits"), "0");
    assert_eq!(info_field(&stats, "keyspace_misses"), "0");
    let before: u64 = info_field(&stats, "total_commands_processed")
        .parse()
        .unwrap();
    assert!(
        before <= 2,
        "total_commands_processed after RESETSTAT: {before}"
    );
    for i in 0..10 {
        c.check(&["GET", &format!("hit:{i}")], &bulk("v"));
    }
    for i in 0..4 {
        c.check(&["GET", &format!("miss:{i}")], &nil());
    }
    // EXISTS counts as a keyspace hit/miss too.
    c.check(&["EXISTS", "hit:1", "miss:1"], &int(1));
    let stats = parse_info(&info_text(&mut c, &["INFO", "stats"]));
    assert_eq!(info_field(&stats, "keyspace_hits"), "11");
    assert_eq!(info_field(&stats, "keyspace_misses"), "5");
    let after: u64 = info_field(&stats, "total_commands_processed")
        .parse()
        .unwrap();
    assert_eq!(after, before + 16);
    c.check(
        &["CONFIG", "RESETSTAT", "x"],
        &err("ERR wrong number of arguments for 'config|resetstat' command"),
    );
}

fn config_get(s: &Server) {
    let mut c = s.raw();
    c.check(&["CONFIG", "GET", "save"], &bulks(&["save", ""]));
    c.check(
        &["CONFIG", "GET", "appendonly"],
        &bulks(&["appendonly", "no"]),
    );
    c.check(
        &["CONFIG", "GET", "port"],
        &bulks(&["port", &s.port().to_string()]),
    );
    c.check(
        &["CONFIG", "GET", "databases"],
        &bulks(&["databases", "16"]),
    );
    c.check(&["CONFIG", "GET", "nosuchoption"], b"*0\r\n");
    c.check(
        &["CONFIG", "GET"],
        &err("ERR wrong number of arguments for 'config|get' command"),
    );
    // Several parameters at once (any order of pairs).
    let r = Reply::parse(&c.cmd(&["CONFIG", "GET", "port", "databases"]));
    let mut pairs: Vec<(String, String)> = r
        .as_pairs()
        .into_iter()
        .map(|(k, v)| (k, v.as_text()))
        .collect();
    pairs.sort();
    assert_eq!(
        pairs,
        [
            ("databases".to_string(), "16".to_string()),
            ("port".to_string(), s.port().to_string())
        ]
    );
    c.check(
        &["CONFIG", "NOSUCH"],
        &err("ERR unknown subcommand 'NOSUCH'. Try CONFIG HELP."),
    );
}

#[test]
fn config_databases_option() {
    let s = Server::start_with(&["--threads", "2", "--databases", "4"]);
    let mut c = s.raw();
    c.check(&["CONFIG", "GET", "databases"], &bulks(&["databases", "4"]));
    c.check(&["SELECT", "3"], &ok());
    c.check(&["SELECT", "4"], &err("ERR DB index is out of range"));
}

#[test]
fn config_file_positional_argument() {
    let path = std::env::temp_dir().join(format!(
        "ringbus-test-conf-{}-{}.conf",
        std::process::id(),
        free_port()
    ));
    // The harness adds --port/--bind; the file supplies the rest.
    std::fs::write(
        &path,
        "# test config\ndatabases 3\nrequirepass filepw\nport 1\n",
    )
    .unwrap();
    let s = Server::start_with(&[path.to_str().unwrap(), "--threads", "2"]);
    let mut c = s.raw();
    c.check(&["PING"], &err("NOAUTH Authentication required."));
    c.check(&["AUTH", "filepw"], &ok());
    c.check(&["SELECT", "2"], &ok());
    c.check(&["SELECT", "3"], &err("ERR DB index is out of range"));
    // Command-line options override the file.
    c.check(
        &["CONFIG", "GET", "port"],
        &bulks(&["port", &s.port().to_string()]),
    );
    drop(c);
    drop(s);
    let _ = std::fs::remove_file(path);
}

fn config_set(s: &Server) {
    let mut c = s.raw();
    c.check(&["CONFIG", "SET", "maxmemory", "1048576"], &ok());
    c.check(
        &["CONFIG", "GET", "maxmemory"],
        &bulks(&["maxmemory", "1048576"]),
    );
    c.check(&["CONFIG", "SET", "maxmemory", "2mb"], &ok());
    c.check(
        &["CONFIG", "GET", "maxmemory"],
        &bulks(&["maxmemory", "2097152"]),
    );
    c.check(&["CONFIG", "SET", "maxmemory", "0"], &ok());
    c.check(&["CONFIG", "GET", "maxmemory"], &bulks(&["maxmemory", "0"]));
    c.check(
        &["CONFIG", "SET", "nosuchoption", "1"],
        &err("ERR Unknown option or number of arguments for CONFIG SET - 'nosuchoption'"),
    );
    c.check(
        &["CONFIG", "SET", "maxmemory"],
        &err("ERR wrong number of arguments for 'config|set' command"),
    );
}

fn command_introspection(s: &Server) {
    let mut c = s.raw();
    let count = Reply::parse(&c.cmd(&["COMMAND", "COUNT"])).as_int();
    assert!(count > 0);

    let info = Reply::parse(&c.cmd(&["COMMAND", "INFO", "get"]));
    let entries = info.as_array();
    assert_eq!(entries.len(), 1);
    let get = entries[0].as_array();
    assert_eq!(get.len(), 10, "COMMAND INFO entry has 10 fields: {get:?}");
    assert_eq!(get[0], Reply::Bulk(b"get".to_vec()));
    assert_eq!(get[1], Reply::Int(2));
    let flags: Vec<String> = get[2].as_array().iter().map(|f| f.as_text()).collect();
    assert!(flags.contains(&"readonly".to_string()), "{flags:?}");
    assert!(flags.contains(&"fast".to_string()), "{flags:?}");
    assert_eq!(&get[3..6], &[Reply::Int(1), Reply::Int(1), Reply::Int(1)]);
    let cats: Vec<String> = get[6].as_array().iter().map(|f| f.as_text()).collect();
    for cat in ["@read", "@string", "@fast"] {
        assert!(cats.contains(&cat.to_string()), "{cats:?}");
    }
    // Unknown commands are nulls in place; names are case-insensitive.
    let raw = c.cmd(&["COMMAND", "INFO", "nosuchcmd", "SET"]);
    assert!(
        raw.starts_with(b"*2\r\n$-1\r\n*10\r\n$3\r\nset\r\n:-3\r\n"),
        "{}",
        show(&raw)
    );
    let mset = Reply::parse(&c.cmd(&["COMMAND", "INFO", "mset"]));
    let mset = mset.as_array()[0].as_array();
    assert_eq!(
        &mset[1..6],
        &[
            Reply::Int(-3),
            mset[2].clone(),
            Reply::Int(1),
            Reply::Int(-1),
            Reply::Int(2)
        ]
    );

    let docs = Reply::parse(&c.cmd(&["COMMAND", "DOCS", "get"]));
    let docs = docs.as_pairs();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].0, "get");
    let doc = docs[0].1.as_pairs();
    let keys: Vec<&str> = doc.iter().map(|(k, _)| k.as_str()).collect();
    for k in ["summary", "since", "group", "complexity", "arguments"] {
        assert!(keys.contains(&k), "COMMAND DOCS get lacks {k}: {keys:?}");
    }
    let val = |k: &str| doc.iter().find(|(n, _)| n == k).unwrap().1.clone();
    assert_eq!(val("since").as_text(), "1.0.0");
    assert_eq!(val("group").as_text(), "string");
    assert!(!val("summary").as_text().is_empty());
    c.check(&["COMMAND", "DOCS", "nosuchcmd"], b"*0\r\n");
}

/// COMMAND GETKEYS / GETKEYSANDFLAGS read the same key specifications that
/// route commands; the differential script compares most forms with
/// redis-server, these differ by version.
fn command_getkeys(s: &Server) {
    let mut c = s.raw();
    let version = Reply::parse(&c.cmd(&["INFO", "server"])).as_text();
    let v72 = version.contains("redis_version:7.2") || version.contains("redis_version:8");
    if v72 || s.is_ringbus() {
        // 7.2's arity is -3: a command name alone gets a real answer.
        c.check(
            &["COMMAND", "GETKEYS", "PING"],
            &err("ERR The command has no key arguments"),
        );
        c.check(
            &["COMMAND", "GETKEYS", "GET"],
            &err("ERR Invalid number of arguments specified for command"),
        );
    }
    let raw = c.cmd(&[
        "COMMAND",
        "GETKEYSANDFLAGS",
        "LMOVE",
        "a",
        "b",
        "LEFT",
        "RIGHT",
    ]);
    let pairs = Reply::parse(&raw);
    let keys: Vec<String> = pairs
        .as_array()
        .iter()
        .map(|p| p.as_array()[0].as_text())
        .collect();
    assert_eq!(keys, ["a", "b"]);
    for p in pairs.as_array() {
        let flags: Vec<String> = p.as_array()[1]
            .as_array()
            .iter()
            .map(|f| f.as_text())
            .collect();
        assert!(flags.contains(&"RW".to_string()), "{flags:?}");
    }
    c.check(&["COMMAND", "GETKEYS", "EVAL", "return 1", "0"], b"*0\r\n");
}

fn dbsize_flushdb_flushall(s: &Server) {
    let mut c = s.raw();
    c.check(&["DBSIZE"], &int(0));
    for i in 0..60 {
        c.check(&["SET", &format!("fk:{i}"), "v"], &ok());
    }
    c.check(&["DBSIZE"], &int(60));
    c.check(&["SELECT", "1"], &ok());
    for i in 0..30 {
        c.check(&["SET", &format!("fk:{i}"), "v"], &ok());
    }
    c.check(&["DBSIZE"], &int(30));
    c.check(&["FLUSHDB"], &ok());
    c.check(&["DBSIZE"], &int(0));
    c.check(&["SELECT", "0"], &ok());
    c.check(&["DBSIZE"], &int(60));
    c.check(&["GET", "fk:59"], &bulk("v"));
    c.check(&["FLUSHDB", "foo"], &err("ERR syntax error"));
    c.check(&["FLUSHDB", "SYNC"], &ok());
    c.check(&["DBSIZE"], &int(0));
    for i in 0..20 {
        c.check(&["SET", &format!("fk:{i}"), "v"], &ok());
    }
    c.check(&["FLUSHDB", "ASYNC"], &ok());
    c.check(&["DBSIZE"], &int(0));
    c.check(&["GET", "fk:1"], &nil());

    for db in ["0", "1", "7"] {
        c.check(&["SELECT", db], &ok());
        for i in 0..25 {
            c.check(&["SET", &format!("fa:{i}"), "v"], &ok());
        }
    }
    c.check(&["FLUSHALL"], &ok());
    for db in ["0", "1", "7"] {
        c.check(&["SELECT", db], &ok());
        c.check(&["DBSIZE"], &int(0));
    }
    c.check(&["FLUSHALL", "ASYNC"], &ok());
    c.check(&["FLUSHALL", "bad"], &err("ERR syntax error"));
    c.check(
        &["DBSIZE", "x"],
        &err("ERR wrong number of arguments for 'dbsize' command"),
    );
}

fn time(s: &Server) {
    let mut c = s.raw();
    let r = Reply::parse(&c.cmd(&["TIME"]));
    let parts = r.as_array();
    assert_eq!(parts.len(), 2);
    let secs: u64 = parts[0].as_text().parse().unwrap();
    let micros: u64 = parts[1].as_text().parse().unwrap();
    assert!(micros < 1_000_000);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let server = Duration::from_secs(secs) + Duration::from_micros(micros);
    let diff = server.abs_diff(now);
    assert!(diff < Duration::from_secs(5), "server time off by {diff:?}");
    c.check(
        &["TIME", "x"],
        &err("ERR wrong number of arguments for 'time' command"),
    );
}

#[test]
fn unknown_cli_option_fails_to_start() {
    let port = free_port().to_string();
    let r = run_to_exit(&[
        "--port",
        &port,
        "--bind",
        "127.0.0.1",
        "--no-such-option",
        "1",
    ]);
    let (status, out) = r.expect("server with an unknown option kept running");
    assert!(!status.success(), "exited successfully: {out}");
}

#[test]
fn ringbus_rejects_bad_thread_count() {
    if !matches!(target(), Target::Ringbus(_)) {
        return; // --threads is a ringbus option.
    }
    let port = free_port().to_string();
    let r = run_to_exit(&["--port", &port, "--bind", "127.0.0.1", "--threads", "abc"]);
    let (status, out) = r.expect("ringbus --threads abc kept running");
    assert!(!status.success(), "exited successfully: {out}");
}

#[test]
fn more_threads_than_cores() {
    let s = Server::start(5);
    let mut c = s.raw();
    for i in 0..200 {
        c.check(&["SET", &format!("spread{{{i}}}"), &i.to_string()], &ok());
    }
    for i in 0..200 {
        c.check(&["GET", &format!("spread{{{i}}}")], &bulk(&i.to_string()));
    }
    c.check(&["DBSIZE"], &int(200));
}

/// `timeout`: an idle client is closed after the configured seconds; a
/// subscriber, a blocked client and a client that keeps talking are not.
#[test]
fn idle_clients_are_closed_after_timeout() {
    let s = Server::start_with(&["--threads", "2", "--timeout", "1"]);
    let mut admin = s.raw();
    admin.check(
        &["CONFIG", "GET", "timeout"],
        &array(&[bulk("timeout"), bulk("1")]),
    );
    admin.check(
        &["CONFIG", "SET", "timeout", "-1"],
        &err("ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive"),
    );
    let mut idle = s.raw();
    idle.check(&["PING"], &simple("PONG"));
    let mut sub = s.raw();
    sub.send(&encode_str(&["SUBSCRIBE", "ch"]));
    sub.read_reply();
    let mut blocked = s.raw();
    blocked.send(&encode_str(&["BLPOP", "nolist", "0"]));
    for _ in 0..8 {
        std::thread::sleep(std::time::Duration::from_millis(400));
        admin.check(&["PING"], &simple("PONG"));
    }
    idle.expect_closed();
    admin.check(&["RPUSH", "nolist", "x"], &int(1));
    assert_eq!(blocked.read_reply(), array(&[bulk("nolist"), bulk("x")]));
    admin.check(&["PUBLISH", "ch", "m"], &int(1));
    assert_eq!(
        sub.read_reply(),
        array(&[bulk("message"), bulk("ch"), bulk("m")])
    );
    // Off again: nobody is closed.
    admin.check(&["CONFIG", "SET", "timeout", "0"], &ok());
    let mut later = s.raw();
    later.check(&["PING"], &simple("PONG"));
    std::thread::sleep(std::time::Duration::from_millis(2200));
    later.check(&["PING"], &simple("PONG"));
}

/// `tcp-keepalive`: the server's side of a client connection has a
/// keepalive timer of the configured length (seen with `ss`).
#[test]
fn tcp_keepalive_sets_the_socket_timer() {
    if std::process::Command::new("ss").arg("-V").output().is_err() {
        panic!("this test needs `ss` (iproute2)");
    }
    let s = Server::start_with(&["--threads", "1", "--tcp-keepalive", "7"]);
    let mut c = s.raw();
    c.check(
        &["CONFIG", "GET", "tcp-keepalive"],
        &array(&[bulk("tcp-keepalive"), bulk("7")]),
    );
    let out = std::process::Command::new("ss")
        .args([
            "-tnoH",
            "state",
            "established",
            &format!("( sport = :{} )", s.port()),
        ])
        .output()
        .expect("ss");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("timer:(keepalive,"), "{text}");
    // The first probe within 7 s (ss prints e.g. `6.688ms` or `6.9sec`
    // depending on its version: the number is what counts).
    let secs: f64 = text
        .split("timer:(keepalive,")
        .nth(1)
        .map(|t| {
            t.chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect::<String>()
        })
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no keepalive time in {text}"));
    assert!(secs <= 7.0 && secs > 0.0, "{text}");
}

/// CLIENT REPLY OFF drops every reply until ON (which answers OK); SKIP
/// drops the next command's reply. Replies owed by other cores' shards
/// are dropped the same way, in a pipeline.
fn client_reply_modes(server: &Server) {
    let mut c = server.raw();
    for key in ["{a}k", "{b}k", "{c}k"] {
        c.check(&["SET", key, key], &ok());
    }
    let reqs: &[&[&str]] = &[
        &["CLIENT", "REPLY", "OFF"],
        &["GET", "{a}k"],
        &["GET", "{b}k"],
        &["CLIENT", "REPLY", "SKIP"],
        &["CLIENT", "REPLY", "ON"],
        &["GET", "{b}k"],
        &["CLIENT", "REPLY", "SKIP"],
        &["GET", "{c}k"],
        &["GET", "{a}k"],
        &["CLIENT", "REPLY", "bad"],
        &["CLIENT", "REPLY"],
        &["CLIENT", "REPLY", "SKIP"],
        &["CLIENT", "REPLY", "ON"],
        &["MGET", "{a}k", "{b}k"],
    ];
    let mut bytes = Vec::new();
    for r in reqs {
        bytes.extend(encode_str(r));
    }
    c.send(&bytes);
    let expected: Vec<Vec<u8>> = vec![
        ok(),
        bulk("{b}k"),
        bulk("{a}k"),
        err("ERR syntax error"),
        err("ERR wrong number of arguments for 'client|reply' command"),
        ok(),
        array(&[bulk("{a}k"), bulk("{b}k")]),
    ];
    for want in expected {
        assert_eq!(show(&c.read_reply()), show(&want));
    }
    c.check(&["PING"], &simple("PONG"));
}

/// CLIENT PAUSE WRITE holds writes (reads go on) until CLIENT UNPAUSE;
/// ALL holds every command until the timeout; active expiry waits too;
/// errors in Redis's order.
fn client_pause(server: &Server) {
    use std::time::{Duration, Instant};
    let mut admin = server.raw();
    for (args, reply) in [
        (
            &["CLIENT", "PAUSE", "x"][..],
            "ERR timeout is not an integer or out of range",
        ),
        (&["CLIENT", "PAUSE", "-1"][..], "ERR timeout is negative"),
        (
            &["CLIENT", "PAUSE", "10", "bogus"][..],
            "ERR CLIENT PAUSE mode must be WRITE or ALL",
        ),
        (
            &["CLIENT", "PAUSE", "x", "bogus"][..],
            "ERR CLIENT PAUSE mode must be WRITE or ALL",
        ),
        (
            &["CLIENT", "PAUSE", "10", "write", "extra"][..],
            "ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP.",
        ),
        (
            &["CLIENT", "UNPAUSE", "x"][..],
            "ERR wrong number of arguments for 'client|unpause' command",
        ),
    ] {
        admin.check(args, &err(reply));
    }
    admin.check(&["SET", "{a}k", "v", "PX", "100"], &ok());
    let mut others: Vec<RawConn> = (0..3).map(|_| server.raw()).collect();
    admin.check(&["CLIENT", "PAUSE", "10000", "WRITE"], &ok());
    for c in others.iter_mut() {
        c.check(&["GET", "{b}k"], &nil());
        c.send(&encode_str(&["SET", "{b}k", "w"]));
    }
    std::thread::sleep(Duration::from_millis(400));
    // The writes still wait; the deadline passed, yet nothing expired.
    let keys = show(&admin.cmd(&["KEYS", "*"]));
    assert_eq!(show(&admin.cmd(&["DBSIZE"])), show(&int(1)), "{keys}");
    for c in others.iter_mut() {
        c.stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut byte = [0u8; 1];
        assert!(
            std::io::Read::read(&mut c.stream, &mut byte).is_err(),
            "a write answered during CLIENT PAUSE WRITE"
        );
        c.stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
    }
    admin.check(&["CLIENT", "UNPAUSE"], &ok());
    for c in others.iter_mut() {
        assert_eq!(c.read_reply(), ok());
    }
    admin.check(&["CLIENT", "PAUSE", "300", "ALL"], &ok());
    let started = Instant::now();
    others[0].check(&["PING"], &simple("PONG"));
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "PING answered {:?} into a 300 ms CLIENT PAUSE ALL",
        started.elapsed()
    );
}
