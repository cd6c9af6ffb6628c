//! RESP3 reply shapes after `HELLO 3`, byte for byte as redis-server sends them.

mod common;

use common::*;

sharded_tests!(
    nulls,
    scalars_are_unchanged,
    config_get_is_a_map,
    verbatim_strings,
    command_introspection_shapes,
    hello_map_and_reset,
    errors_are_unchanged,
    redis_crate_resp3,
);

fn resp3(s: &Server) -> RawConn {
    let mut c = s.raw();
    let raw = c.cmd(&["HELLO", "3"]);
    assert!(raw.starts_with(b"%7\r\n"), "{}", show(&raw));
    c
}

fn null() -> Vec<u8> {
    b"_\r\n".to_vec()
}

fn nulls(s: &Server) {
    let mut c = resp3(s);
    c.check(&["GET", "nosuch"], &null());
    c.check(&["SET", "k", "v"], &ok());
    c.check(&["SET", "k", "v2", "NX"], &null());
    c.check(&["SET", "zz", "v", "XX"], &null());
    c.check(&["SET", "nn", "v", "GET"], &null());
    c.check(&["SET", "k", "v3", "XX", "GET"], &bulk("v"));
    c.check(&["GETDEL", "nosuch"], &null());
    c.check(&["GETEX", "nosuch"], &null());
    c.check(&["CLIENT", "GETNAME"], &null());
    c.check(
        &["MGET", "k", "nosuch", "nn"],
        &array(&[bulk("v3"), null(), bulk("v")]),
    );
    // Across shards.
    let mut args = vec!["MGET".to_string()];
    let mut expected = Vec::new();
    for i in 0..30 {
        if i % 2 == 0 {
            c.check(&["SET", &format!("r3:{i}"), "x"], &ok());
            expected.push(bulk("x"));
        } else {
            expected.push(null());
        }
        args.push(format!("r3:{i}"));
    }
    let refs: Vec<&str> = args.iter().map(|a| a.as_str()).collect();
    c.check(&refs, &array(&expected));
}

fn scalars_are_unchanged(s: &Server) {
    let mut c = resp3(s);
    c.check(&["PING"], b"+PONG\r\n");
    c.check(&["PING", "x"], &bulk("x"));
    c.check(&["ECHO", "x"], &bulk("x"));
    c.check(&["SET", "k", "v"], &ok());
    c.check(&["EXISTS", "k", "nosuch"], &int(1));
    c.check(&["TTL", "k"], &int(-1));
    c.check(&["TTL", "nosuch"], &int(-2));
    c.check(&["PTTL", "nosuch"], &int(-2));
    c.check(&["DBSIZE"], &int(1));
    c.check(&["TYPE", "k"], &simple("string"));
    c.check(&["TYPE", "nosuch"], &simple("none"));
    c.check(&["INCR", "n"], &int(1));
    // INCRBYFLOAT stays a bulk string, not a RESP3 double.
    c.check(&["INCRBYFLOAT", "f", "1.5"], &bulk("1.5"));
    c.check(&["INCRBYFLOAT", "f", "0.25"], &bulk("1.75"));
    c.check(&["KEYS", "k"], &bulks(&["k"]));
    c.check(&["KEYS", "nomatch*"], b"*0\r\n");
    c.check(&["MSETNX", "k", "1"], &int(0));
    c.check(&["DEL", "n", "f"], &int(2));
    c.check(&["SCAN", "0"], &array(&[bulk("0"), bulks(&["k"])]));
    let time = Reply::parse(&c.cmd(&["TIME"]));
    assert_eq!(time.as_array().len(), 2);
    assert!(matches!(time.as_array()[0], Reply::Bulk(_)));
    c.check(&["SELECT", "1"], &ok());
    c.check(&["FLUSHDB"], &ok());
    c.check(&["RESET"], b"+RESET\r\n");
}

fn config_get_is_a_map(s: &Server) {
    let mut c = resp3(s);
    let port = s.port().to_string();
    c.check(
        &["CONFIG", "GET", "port"],
        format!("%1\r\n$4\r\nport\r\n${}\r\n{port}\r\n", port.len()).as_bytes(),
    );
    c.check(
        &["CONFIG", "GET", "save"],
        b"%1\r\n$4\r\nsave\r\n$0\r\n\r\n",
    );
    c.check(
        &["CONFIG", "GET", "appendonly"],
        b"%1\r\n$10\r\nappendonly\r\n$2\r\nno\r\n",
    );
    c.check(&["CONFIG", "GET", "nosuch"], b"%0\r\n");
    let raw = c.cmd(&["CONFIG", "GET", "port", "databases"]);
    assert!(raw.starts_with(b"%2\r\n"), "{}", show(&raw));
    let mut pairs: Vec<(String, String)> = Reply::parse(&raw)
        .as_pairs()
        .into_iter()
        .map(|(k, v)| (k, v.as_text()))
        .collect();
    pairs.sort();
    assert_eq!(
        pairs,
        [
            ("databases".to_string(), "16".to_string()),
            ("port".to_string(), port)
        ]
    );
}

fn verbatim_strings(s: &Server) {
    let mut c = resp3(s);
    c.check(&["SET", "a", "1"], &ok());
    // INFO is a verbatim string: =<len>\r\ntxt:<text>\r\n
    let raw = c.cmd(&["INFO", "keyspace"]);
    let body = "txt:# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n";
    assert_eq!(
        show(&raw),
        show(format!("={}\r\n{body}\r\n", body.len()).as_bytes())
    );
    let raw = c.cmd(&["INFO", "server"]);
    assert!(raw.starts_with(b"="), "{}", show(&raw));
    let text = Reply::parse(&raw).as_text();
    let text = text.strip_prefix("txt:").expect("txt: prefix");
    assert!(text.starts_with("# Server\r\n"), "{text:?}");
    let raw = c.cmd(&["CLIENT", "INFO"]);
    assert!(raw.starts_with(b"="), "{}", show(&raw));
    let text = Reply::parse(&raw).as_text();
    let text = text.strip_prefix("txt:id=").expect("txt:id= prefix");
    assert!(
        text.ends_with(" resp=3\n") || text.contains(" resp=3 "),
        "{text:?}"
    );
    let raw = c.cmd(&["CLIENT", "LIST"]);
    assert!(raw.starts_with(b"="), "{}", show(&raw));
    assert!(Reply::parse(&raw).as_text().starts_with("txt:id="));
    // No matching client: an empty verbatim string.
    c.check(&["CLIENT", "LIST", "ID", "999999999"], b"=4\r\ntxt:\r\n");
}

fn command_introspection_shapes(s: &Server) {
    let mut c = resp3(s);
    let raw = c.cmd(&["COMMAND", "INFO", "get"]);
    let head = b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~3\r\n+@read\r\n+@string\r\n+@fast\r\n";
    assert!(raw.starts_with(head), "{}", show(&raw));
    c.check(&["COMMAND", "INFO", "nosuch"], b"*1\r\n_\r\n");
    let raw = c.cmd(&["COMMAND", "DOCS", "get"]);
    assert!(raw.starts_with(b"%1\r\n$3\r\nget\r\n%"), "{}", show(&raw));
    c.check(&["COMMAND", "DOCS", "nosuch"], b"%0\r\n");
    let count = Reply::parse(&c.cmd(&["COMMAND", "COUNT"])).as_int();
    assert!(count > 0);
}

fn hello_map_and_reset(s: &Server) {
    let mut c = s.raw();
    let raw = c.cmd(&["HELLO", "3"]);
    let r = Reply::parse(&raw);
    assert!(matches!(r, Reply::Map(_)), "{r:?}");
    let pairs = r.as_pairs();
    assert_eq!(pairs[2], ("proto".to_string(), Reply::Int(3)));
    assert!(raw.ends_with(
        b"$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
    ));
    c.check(&["RESET"], b"+RESET\r\n");
    c.check(&["GET", "nosuch"], &nil());
    c.check(
        &["CONFIG", "GET", "appendonly"],
        &bulks(&["appendonly", "no"]),
    );
    let raw = c.cmd(&["INFO", "keyspace"]);
    assert_eq!(raw, bulk("# Keyspace\r\n"));
}

fn errors_are_unchanged(s: &Server) {
    let mut c = resp3(s);
    c.check(
        &["foo"],
        &err("ERR unknown command 'foo', with args beginning with: "),
    );
    c.check(
        &["GET"],
        &err("ERR wrong number of arguments for 'get' command"),
    );
    c.check(
        &["EXPIRE", "k", "100", "NX", "XX"],
        &err("ERR NX and XX, GT or LT options at the same time are not compatible"),
    );
    c.check(&["RENAME", "nosuch", "x"], &err("ERR no such key"));
    c.check(&["SELECT", "99"], &err("ERR DB index is out of range"));
    c.check(
        &["HELLO", "4"],
        &err("NOPROTO unsupported protocol version"),
    );
    // Still RESP3 after a failed HELLO.
    c.check(&["GET", "nosuch"], &null());
}

fn redis_crate_resp3(s: &Server) {
    let url = format!("redis://{}/?protocol=resp3", s.addr());
    let info: redis::ConnectionInfo =
        redis::IntoConnectionInfo::into_connection_info(url.as_str()).unwrap();
    let settings = info.redis_settings().clone().set_skip_set_lib_name();
    let info = info.set_redis_settings(settings);
    let mut con = redis::Client::open(info).unwrap().get_connection().unwrap();
    let () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let v: Option<String> = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(v.as_deref(), Some("v"));
    let v: redis::Value = redis::cmd("GET").arg("nosuch").query(&mut con).unwrap();
    assert_eq!(v, redis::Value::Nil);
    let v: redis::Value = redis::cmd("CONFIG")
        .arg("GET")
        .arg("appendonly")
        .query(&mut con)
        .unwrap();
    assert!(matches!(v, redis::Value::Map(_)), "{v:?}");
}
