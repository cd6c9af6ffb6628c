//! Configuration parameters with their real effect: the encoding thresholds
//! of hashes, sets and sorted sets (and their old `ziplist` names), each
//! answered and refused as redis-server answers; CONFIG REWRITE; INFO's
//! error count and Redis 7.2's client fields. Every expectation holds
//! against redis-server too (`RINGBUS_TEST_TARGET=redis`), with set
//! listpacks (Redis 7.2) checked by version.

mod common;

use common::*;

fn encoding(c: &mut RawConn, key: &str) -> Vec<u8> {
    c.cmd(&["OBJECT", "ENCODING", key])
}

fn thresholds_change_encodings(server: &Server) {
    let mut c = server.raw();
    c.check(&["CONFIG", "SET", "hash-max-ziplist-entries", "2"], &ok());
    c.check(
        &["CONFIG", "GET", "hash-max-listpack-entries"],
        &array(&[bulk("hash-max-listpack-entries"), bulk("2")]),
    );
    c.check(&["HSET", "h", "a", "1", "b", "2"], &int(2));
    c.check(&["OBJECT", "ENCODING", "h"], &bulk("listpack"));
    c.check(&["HSET", "h", "c", "3"], &int(1));
    assert_eq!(encoding(&mut c, "h"), bulk("hashtable"));
    c.check(&["CONFIG", "SET", "hash-max-listpack-value", "4"], &ok());
    c.check(&["HSET", "h2", "f", "12345"], &int(1));
    assert_eq!(encoding(&mut c, "h2"), bulk("hashtable"));

    c.check(&["CONFIG", "SET", "zset-max-listpack-entries", "1"], &ok());
    c.check(&["ZADD", "z", "1", "a"], &int(1));
    assert_eq!(encoding(&mut c, "z"), bulk("listpack"));
    c.check(&["ZADD", "z", "2", "b"], &int(1));
    assert_eq!(encoding(&mut c, "z"), bulk("skiplist"));
    c.check(&["CONFIG", "SET", "zset-max-ziplist-value", "3"], &ok());
    c.check(&["ZADD", "z2", "1", "abcd"], &int(1));
    assert_eq!(encoding(&mut c, "z2"), bulk("skiplist"));

    c.check(&["CONFIG", "SET", "set-max-intset-entries", "2"], &ok());
    c.check(&["SADD", "s", "1", "2"], &int(2));
    assert_eq!(encoding(&mut c, "s"), bulk("intset"));
    c.check(&["SADD", "s", "3"], &int(1));
    // An intset that outgrows its limit with an integer becomes a table.
    assert_eq!(encoding(&mut c, "s"), bulk("hashtable"));
    // Set listpacks are Redis 7.2's (7.0 has no such parameter).
    if is_72(&mut c) {
        c.check(&["SADD", "s2", "x"], &int(1));
        assert_eq!(encoding(&mut c, "s2"), bulk("listpack"));
        c.check(&["CONFIG", "SET", "set-max-listpack-entries", "1"], &ok());
        c.check(&["SADD", "s2", "y"], &int(1));
        assert_eq!(encoding(&mut c, "s2"), bulk("hashtable"));
        c.check(&["CONFIG", "SET", "set-max-listpack-value", "2"], &ok());
        c.check(&["SADD", "s3", "abc"], &int(1));
        assert_eq!(encoding(&mut c, "s3"), bulk("hashtable"));
    }
    // Existing values keep their form when the threshold rises again.
    c.check(
        &["CONFIG", "SET", "hash-max-listpack-entries", "512"],
        &ok(),
    );
    assert_eq!(encoding(&mut c, "h"), bulk("hashtable"));
    c.check(&["HSET", "h3", "a", "1", "b", "2", "c", "3"], &int(3));
    assert_eq!(encoding(&mut c, "h3"), bulk("listpack"));
}

fn names_aliases_and_errors(server: &Server) {
    let mut c = server.raw();
    let pairs = c.cmd(&["CONFIG", "GET", "zset-max-*"]);
    for name in [
        "zset-max-listpack-entries",
        "zset-max-ziplist-entries",
        "zset-max-listpack-value",
        "zset-max-ziplist-value",
    ] {
        assert!(show(&pairs).contains(name), "{name} in {}", show(&pairs));
    }
    c.check(
        &["CONFIG", "SET", "hash-max-listpack-entries", "-1"],
        &err("ERR CONFIG SET failed (possibly related to argument 'hash-max-listpack-entries') - argument must be between 0 and 9223372036854775807 inclusive"),
    );
    c.check(
        &["CONFIG", "SET", "hash-max-listpack-entries", "x"],
        &err("ERR CONFIG SET failed (possibly related to argument 'hash-max-listpack-entries') - argument couldn't be parsed into an integer"),
    );
    c.check(
        &["CONFIG", "SET", "hash-max-listpack-value", "x"],
        &err("ERR CONFIG SET failed (possibly related to argument 'hash-max-listpack-value') - argument must be a memory value"),
    );
    c.check(&["CONFIG", "SET", "hash-max-listpack-value", "1kb"], &ok());
    c.check(
        &["CONFIG", "GET", "hash-max-ziplist-value"],
        &array(&[bulk("hash-max-ziplist-value"), bulk("1024")]),
    );
    // An alias is a parameter of its own name: both may be set at once
    // (the last wins), as in Redis.
    c.check(
        &[
            "CONFIG",
            "SET",
            "hash-max-ziplist-entries",
            "1",
            "hash-max-listpack-entries",
            "2",
        ],
        &ok(),
    );
    c.check(
        &["CONFIG", "GET", "hash-max-ziplist-entries"],
        &array(&[bulk("hash-max-ziplist-entries"), bulk("2")]),
    );
    c.check(
        &["CONFIG", "SET", "hash-max-listpack-entries", "1", "hash-max-listpack-entries", "2"],
        &err("ERR CONFIG SET failed (possibly related to argument 'hash-max-listpack-entries') - duplicate parameter"),
    );
}

sharded_tests!(
    thresholds_change_encodings,
    names_aliases_and_errors,
    info_clients_and_errors,
    list_max_listpack_size,
    stream_node_limits
);

#[test]
fn config_rewrite_without_a_file_is_an_error() {
    let server = Server::start(1);
    server.raw().check(
        &["CONFIG", "REWRITE"],
        &err("ERR The server is running without a config file"),
    );
}

/// CONFIG REWRITE keeps the file's comments and order, rewrites the lines
/// of options it has in place, appends changed options after Redis's
/// signature line, and a server started on the result has those settings.
#[test]
fn config_rewrite_keeps_the_file_and_its_settings_come_back() {
    let dir = TempDir::new("rewrite");
    let path = dir.path().join("server.conf");
    std::fs::write(
        &path,
        "# my settings\nhz 10\nmaxmemory 100mb\n\n# keep me\ntimeout 5\n",
    )
    .unwrap();
    let path_s = path.to_str().unwrap();
    let server = Server::start_with(&[path_s, "--threads", "1"]);
    let mut c = server.raw();
    c.check(&["CONFIG", "SET", "maxmemory", "1gb"], &ok());
    c.check(&["CONFIG", "SET", "timeout", "0"], &ok());
    c.check(&["CONFIG", "SET", "notify-keyspace-events", "KEA"], &ok());
    c.check(&["CONFIG", "SET", "hash-max-ziplist-entries", "7"], &ok());
    c.check(&["CONFIG", "REWRITE"], &ok());
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        &lines[..6],
        &[
            "# my settings",
            "hz 10",
            "maxmemory 1gb",
            "",
            "# keep me",
            "timeout 0"
        ],
        "{text}"
    );
    let signature = lines
        .iter()
        .position(|l| *l == "# Generated by CONFIG REWRITE")
        .unwrap_or_else(|| panic!("no signature in {text}"));
    let appended = &lines[signature + 1..];
    assert!(
        appended.contains(&"notify-keyspace-events \"AKE\""),
        "{text}"
    );
    assert!(appended.contains(&"hash-max-listpack-entries 7"), "{text}");
    assert!(appended.iter().any(|l| l.starts_with("dir \"")), "{text}");
    // Nothing else changed: a second rewrite gives the same lines
    // (redis-server 7.0 adds a trailing blank line each time).
    c.check(&["CONFIG", "REWRITE"], &ok());
    assert_eq!(
        std::fs::read_to_string(&path).unwrap().trim_end(),
        text.trim_end()
    );
    drop(c);
    drop(server);
    if !target_is_ringbus() {
        return;
    }
    let again = Server::start_with(&[path_s]);
    let mut c = again.raw();
    for (name, value) in [
        ("maxmemory", "1073741824"),
        ("notify-keyspace-events", "AKE"),
        ("hash-max-listpack-entries", "7"),
        ("timeout", "0"),
        ("hz", "10"),
    ] {
        c.check(&["CONFIG", "GET", name], &array(&[bulk(name), bulk(value)]));
    }
}

fn target_is_ringbus() -> bool {
    !matches!(target(), Target::Redis)
}

/// A field of INFO `section`, or None.
fn info_field(c: &mut RawConn, section: &str, field: &str) -> Option<String> {
    let text = String::from_utf8_lossy(&c.cmd(&["INFO", section])).to_string();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
}

/// INFO's error count, and Redis 7.2's client fields: subscribers, watched
/// keys, keys with blocked clients (and those a deletion wakes).
fn info_clients_and_errors(server: &Server) {
    let mut c = server.raw();
    let errors = |c: &mut RawConn| -> u64 {
        info_field(c, "stats", "total_error_replies")
            .unwrap()
            .parse()
            .unwrap()
    };
    let before = errors(&mut c);
    c.send(&encode_str(&["NOSUCHCOMMAND"]));
    c.read_reply();
    c.send(&encode_str(&["GET"]));
    c.read_reply();
    c.check(&["SET", "str", "v"], &ok());
    c.send(&encode_str(&["LPUSH", "str", "x"]));
    c.read_reply();
    assert_eq!(errors(&mut c), before + 3);
    assert_eq!(
        info_field(&mut c, "server", "configured_hz").as_deref(),
        Some("10")
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let lru: u64 = info_field(&mut c, "server", "lru_clock")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (now & 0xff_ffff).abs_diff(lru) <= 2,
        "lru_clock {lru} at {now}"
    );
    if !(is_72(&mut c) || server.is_ringbus()) {
        return;
    }
    let mut sub = server.raw();
    sub.send(&encode_str(&["SUBSCRIBE", "ch"]));
    sub.read_reply();
    let mut watcher = server.raw();
    watcher.check(&["WATCH", "{a}w", "{b}w"], &ok());
    let mut blocked = server.raw();
    blocked.send(&encode_str(&["BLPOP", "{a}l", "{b}l", "0"]));
    c.check(&["XGROUP", "CREATE", "{c}s", "g", "$", "MKSTREAM"], &ok());
    let mut reader = server.raw();
    reader.send(&encode_str(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "BLOCK",
        "0",
        "STREAMS",
        "{c}s",
        ">",
    ]));
    std::thread::sleep(std::time::Duration::from_millis(200));
    for (field, value) in [
        ("pubsub_clients", "1"),
        ("total_watched_keys", "2"),
        ("total_blocking_keys", "3"),
        ("total_blocking_keys_on_nokey", "1"),
    ] {
        assert_eq!(
            info_field(&mut c, "clients", field).as_deref(),
            Some(value),
            "{field}"
        );
    }
    c.check(&["CONFIG", "RESETSTAT"], &ok());
    assert_eq!(errors(&mut c), 0);
}

/// `list-max-listpack-size`: a positive size caps a listpack list's entries,
/// a negative one its bytes (Redis 7.2 lists; 7.0 lists are always quicklists).
fn list_max_listpack_size(server: &Server) {
    let mut c = server.raw();
    c.check(
        &["CONFIG", "GET", "list-max-ziplist-size"],
        &array(&[bulk("list-max-ziplist-size"), bulk("-2")]),
    );
    c.check(
        &["CONFIG", "SET", "list-max-listpack-size", "x"],
        &err("ERR CONFIG SET failed (possibly related to argument 'list-max-listpack-size') - argument couldn't be parsed into an integer"),
    );
    if !(is_72(&mut c) || server.is_ringbus()) {
        return;
    }
    c.check(&["CONFIG", "SET", "list-max-listpack-size", "4"], &ok());
    c.check(&["RPUSH", "l", "a", "b", "c", "d"], &int(4));
    assert_eq!(encoding(&mut c, "l"), bulk("listpack"));
    c.check(&["RPUSH", "l", "e"], &int(5));
    assert_eq!(encoding(&mut c, "l"), bulk("quicklist"));
    c.check(&["LPOP", "l", "2"], &array(&[bulk("a"), bulk("b")]));
    assert_eq!(encoding(&mut c, "l"), bulk("quicklist"));
    c.check(&["LPOP", "l", "2"], &array(&[bulk("c"), bulk("d")]));
    // One node of one entry, at most half of 4: a listpack again.
    assert_eq!(encoding(&mut c, "l"), bulk("listpack"));
    // -1: 4 KiB nodes. 100-byte elements: 7 + 39 * 102 fits, 41 do not.
    c.check(&["CONFIG", "SET", "list-max-ziplist-size", "-1"], &ok());
    let value = "x".repeat(100);
    for i in 1..=39 {
        c.check(&["RPUSH", "big", &value], &int(i));
    }
    assert_eq!(encoding(&mut c, "big"), bulk("listpack"));
    c.check(&["RPUSH", "big", &value, &value], &int(41));
    assert_eq!(encoding(&mut c, "big"), bulk("quicklist"));
}

/// `stream-node-max-entries` / `-bytes`: how many entries a stream node
/// (ringbus's leaf) holds, seen in XINFO's radix-tree-keys and in where an
/// approximate trim may cut.
fn stream_node_limits(server: &Server) {
    let mut c = server.raw();
    c.check(
        &["CONFIG", "GET", "stream-node-max-entries"],
        &array(&[bulk("stream-node-max-entries"), bulk("100")]),
    );
    c.check(&["CONFIG", "SET", "stream-node-max-entries", "2"], &ok());
    for i in 1..=5 {
        let id = format!("{i}-0");
        c.check(&["XADD", "s", &id, "f", "v"], &bulk(&id));
    }
    let info = |c: &mut RawConn, key: &str| -> String { show(&c.cmd(&["XINFO", "STREAM", key])) };
    assert!(
        info(&mut c, "s").contains("radix-tree-keys\\r\\n:3\\r\\n"),
        "{}",
        info(&mut c, "s")
    );
    // Whole nodes only: [1,2] goes, [3,4] would leave fewer than 2.
    c.check(&["XTRIM", "s", "MAXLEN", "~", "2"], &int(2));
    c.check(&["XLEN", "s"], &int(3));
    // No entry limit, and nodes of at most 100 bytes.
    c.check(&["CONFIG", "SET", "stream-node-max-entries", "0"], &ok());
    c.check(&["CONFIG", "SET", "stream-node-max-bytes", "100"], &ok());
    let value = "x".repeat(40);
    for i in 1..=4 {
        let id = format!("{i}-0");
        c.check(&["XADD", "b", &id, "f", &value], &bulk(&id));
    }
    // Node bytes are each server's own encoding (a Redis listpack, a ringbus
    // leaf): the limit splits these 4 entries over several nodes in both.
    let text = info(&mut c, "b");
    let nodes: u64 = text
        .split("radix-tree-keys\\r\\n:")
        .nth(1)
        .and_then(|t| t.split('\\').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert!((2..=4).contains(&nodes), "{text}");
    // Unlimited both ways: one node however many entries.
    c.check(&["CONFIG", "SET", "stream-node-max-bytes", "0"], &ok());
    for i in 1..=300 {
        let id = format!("{i}-0");
        c.check(&["XADD", "u", &id, "f", &value], &bulk(&id));
    }
    assert!(
        info(&mut c, "u").contains("radix-tree-keys\\r\\n:1\\r\\n"),
        "{}",
        info(&mut c, "u")
    );
    c.check(&["XTRIM", "u", "MAXLEN", "~", "10"], &int(0));
    c.check(&["XTRIM", "u", "MAXLEN", "10"], &int(290));
}
