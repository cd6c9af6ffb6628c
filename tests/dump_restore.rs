//! DUMP and RESTORE against a real redis-server (7.0, the reference
//! installed here): payloads cross both ways with the same values, TTLs,
//! encodings and stream group state; DUMP is byte for byte Redis's where
//! Redis's layout is deterministic; every RESTORE error is Redis's, in
//! Redis's order; mangled payloads are refused without touching the key;
//! REPLACE over another type; a restored list wakes BLPOP; WATCH sees it.
//!
//! Where Redis 7.2 (which ringbus follows) and the 7.0 reference differ, the
//! test says so: 7.2 reports small lists and small sets of strings as
//! `listpack` (7.0: `quicklist`, `hashtable`), shows consumers'
//! `active-time` in XINFO STREAM FULL, and reads RDB 11 payloads.

mod common;

use common::*;
use ringbus::persist::rdb::dump::{self, DumpErrorKind};
use ringbus::persist::rdb::format::crc64;
use ringbus::persist::rdb::EncodeOptions;
use ringbus::persist::values::Build;

sharded_tests!(
    payloads_cross_both_ways,
    dump_bytes_match_redis,
    errors_match_redis,
    mangled_payloads_change_nothing,
    replace_over_another_type_and_ttls,
    restored_list_wakes_blpop_and_fails_watch,
);

/// 2100-01-01 in unix ms: an expiry that stays in the future.
const FAR: i64 = 4_102_444_800_000;

// ------------------------------------------------------------------ helpers

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// Run a command; fail the test on an error reply.
fn r(c: &mut RawConn, args: &[&[u8]]) -> Reply {
    let rep = Reply::parse(&c.cmd_bytes(args));
    if let Reply::Error(e) = &rep {
        panic!("{} -> {e}", fmt_args(args));
    }
    rep
}

fn fmt_args(args: &[&[u8]]) -> String {
    args.iter()
        .map(|a| show(&a[..a.len().min(60)]))
        .collect::<Vec<_>>()
        .join(" ")
}

fn dump_of(c: &mut RawConn, key: &[u8]) -> Vec<u8> {
    match r(c, &[b"DUMP", key]) {
        Reply::Bulk(p) => p,
        other => panic!("DUMP {} -> {other:?}", show(key)),
    }
}

/// A body with an RDB version and a fresh CRC64.
fn seal(body: &[u8], version: u16) -> Vec<u8> {
    let mut p = body.to_vec();
    p.extend_from_slice(&version.to_le_bytes());
    let crc = crc64(&p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

/// A reference redis-server that decodes RESTORE payloads fully, as ringbus does.
fn start_redis() -> (Server, RawConn) {
    let srv = Server::start_redis(&[]);
    let mut c = srv.raw();
    r(
        &mut c,
        &[b"CONFIG", b"SET", b"sanitize-dump-payload", b"yes"],
    );
    (srv, c)
}

/// Deterministic bytes that LZF cannot shorten.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Commands that build one key of every type and encoding, the same on
/// both servers. Streams have explicit IDs so their layout is the same.
fn setup_commands() -> Vec<Vec<Vec<u8>>> {
    let mut cmds: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut add = |parts: Vec<Vec<u8>>| cmds.push(parts);
    let words = |ws: &[&str]| ws.iter().map(|w| b(w)).collect::<Vec<_>>();
    add(words(&["SET", "s:int", "12345"]));
    add(words(&["SET", "s:neg", "-7"]));
    add(words(&["SET", "s:i64", "-9223372036854775808"]));
    add(words(&["SET", "s:bigint", "123456789012345678901234"]));
    add(words(&["SET", "s:embstr", "hello world"]));
    add(words(&["SET", "s:empty", ""]));
    add(vec![b("SET"), b("s:noise"), noise(300, 7)]);
    add(vec![b("SET"), b("s:long"), b(&"abc".repeat(200))]);
    add(words(&["SET", "s:ttl", "soon gone"]));
    add(words(&["PEXPIREAT", "s:ttl", &FAR.to_string()]));

    add(words(&[
        "RPUSH", "l:small", "a", "b", "c", "1", "2", "-300000",
    ]));
    let mut big = words(&["RPUSH", "l:large"]);
    big.extend((0..1000).map(|i| b(&format!("item{i}"))));
    add(big);
    add(vec![b("RPUSH"), b("l:bigelem"), b("x"), noise(10_000, 3)]);
    add(words(&["RPUSH", "l:ttl", "one"]));
    add(words(&["PEXPIREAT", "l:ttl", &FAR.to_string()]));

    add(words(&["HSET", "h:small", "f", "v", "n", "42", "g", "w"]));
    let mut hl = words(&["HSET", "h:large"]);
    for i in 0..600 {
        hl.extend([b(&format!("f{i}")), b(&format!("v{i}"))]);
    }
    add(hl);
    add(vec![b("HSET"), b("h:longval"), b("f"), b(&"v".repeat(100))]);

    add(words(&["SADD", "set:ints", "1", "2", "3", "-5", "70000"]));
    let mut si = words(&["SADD", "set:manyints"]);
    si.extend((0..600).map(|i| b(&i.to_string())));
    add(si);
    add(words(&["SADD", "set:str", "a", "b", "c"]));
    let mut ss = words(&["SADD", "set:manystr"]);
    ss.extend((0..200).map(|i| b(&format!("m{i}"))));
    add(ss);

    add(words(&["ZADD", "z:small", "1", "a", "2.5", "b", "-3", "c"]));
    let mut zl = words(&["ZADD", "z:large"]);
    for i in 0..200 {
        zl.extend([b(&format!("{}", i as f64 / 7.0)), b(&format!("m{i}"))]);
    }
    add(zl);
    add(vec![
        b("ZADD"),
        b("z:longmember"),
        b("1"),
        b(&"m".repeat(100)),
    ]);

    for i in 1..=120u64 {
        add(words(&[
            "XADD",
            "st:plain",
            &format!("{i}-1"),
            "f",
            "v",
            "n",
            &i.to_string(),
        ]));
    }
    for i in 1..=30u64 {
        add(words(&[
            "XADD",
            "st:groups",
            &format!("{i}-0"),
            "k",
            &i.to_string(),
        ]));
    }
    add(words(&["XDEL", "st:groups", "7-0"]));
    add(words(&["XGROUP", "CREATE", "st:groups", "g1", "0"]));
    add(words(&["XGROUP", "CREATE", "st:groups", "g2", "$"]));
    add(words(&[
        "XGROUP",
        "CREATE",
        "st:groups",
        "g3",
        "10-0",
        "ENTRIESREAD",
        "9",
    ]));
    add(words(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "alice",
        "COUNT",
        "3",
        "STREAMS",
        "st:groups",
        ">",
    ]));
    add(words(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "bob",
        "COUNT",
        "4",
        "STREAMS",
        "st:groups",
        ">",
    ]));
    add(words(&["XACK", "st:groups", "g1", "2-0", "5-0"]));
    add(words(&[
        "XGROUP",
        "CREATECONSUMER",
        "st:groups",
        "g2",
        "carol",
    ]));
    add(words(&[
        "XREADGROUP",
        "GROUP",
        "g3",
        "dave",
        "COUNT",
        "1",
        "STREAMS",
        "st:groups",
        ">",
    ]));
    add(words(&["XADD", "st:empty", "5-5", "f", "v"]));
    add(words(&["XDEL", "st:empty", "5-5"]));
    add(words(&["XADD", "st:ttl", "1-1", "a", "b"]));
    add(words(&["PEXPIREAT", "st:ttl", &FAR.to_string()]));
    cmds
}

fn setup(c: &mut RawConn) {
    for cmd in setup_commands() {
        let args: Vec<&[u8]> = cmd.iter().map(|a| a.as_slice()).collect();
        r(c, &args);
    }
}

fn setup_keys() -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = setup_commands()
        .into_iter()
        .filter(|c| {
            let name: &[u8] = &c[0];
            [&b"SET"[..], b"RPUSH", b"HSET", b"SADD", b"ZADD", b"XADD"].contains(&name)
        })
        .map(|c| c[1].clone())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// What 7.2 (and ringbus) answers to OBJECT ENCODING where 7.0 differs.
fn encoding_72(key: &[u8], enc_70: &str) -> String {
    match key {
        b"l:small" | b"l:ttl" => "listpack".into(),
        b"set:str" => "listpack".into(),
        _ => enc_70.into(),
    }
}

/// Drops the fields that do not cross a payload or that 7.0 lacks: the
/// radix tree's shape (rebuilt on load) and consumers' active-time (7.2).
fn strip(rep: Reply) -> Reply {
    match rep {
        Reply::Array(a) => {
            let mut out = Vec::new();
            let mut i = 0;
            while i < a.len() {
                if let Reply::Bulk(name) = &a[i] {
                    if i + 1 < a.len()
                        && matches!(
                            name.as_slice(),
                            b"radix-tree-keys" | b"radix-tree-nodes" | b"active-time"
                        )
                    {
                        i += 2;
                        continue;
                    }
                }
                out.push(strip(a[i].clone()));
                i += 1;
            }
            Reply::Array(out)
        }
        other => other,
    }
}

/// What a client sees of a key: type, encoding, deadline, content and, for
/// streams, XINFO STREAM FULL (group state, PEL, consumers and times).
fn observe(c: &mut RawConn, key: &[u8], seventwo: bool) -> Vec<String> {
    let t = r(c, &[b"TYPE", key]).as_text();
    let enc = r(c, &[b"OBJECT", b"ENCODING", key]).as_text();
    let enc = if seventwo {
        enc
    } else {
        encoding_72(key, &enc)
    };
    let mut out = vec![
        format!("type {t}"),
        format!("encoding {enc}"),
        format!("pexpiretime {}", r(c, &[b"PEXPIRETIME", key]).as_int()),
    ];
    let show = |rep: Reply| text(&rep);
    match t.as_str() {
        "string" => out.push(show(r(c, &[b"GET", key]))),
        "list" => out.push(show(r(c, &[b"LRANGE", key, b"0", b"-1"]))),
        "set" => {
            let mut m: Vec<String> = r(c, &[b"SMEMBERS", key])
                .as_array()
                .iter()
                .map(text)
                .collect();
            m.sort();
            out.extend(m);
        }
        "zset" => {
            // Scores as numbers: 7.2 prints the shortest form that reads
            // back the same, 7.0 prints 17 digits.
            let all = r(c, &[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]);
            for (m, score) in all.as_pairs() {
                let score: f64 = score.as_text().parse().unwrap();
                out.push(format!("{m} {score:?}"));
            }
        }
        "hash" => {
            let mut p: Vec<String> = r(c, &[b"HGETALL", key])
                .as_pairs()
                .iter()
                .map(|(f, v)| format!("{f}={}", text(v)))
                .collect();
            p.sort();
            out.extend(p);
        }
        "stream" => {
            out.push(show(r(c, &[b"XRANGE", key, b"-", b"+"])));
            let full = r(c, &[b"XINFO", b"STREAM", key, b"FULL", b"COUNT", b"0"]);
            out.push(show(strip(full)));
        }
        other => panic!("type {other}"),
    }
    out
}

/// Both observations agree; only the differing lines are shown.
fn same(got: &[String], want: &[String], what: &str) {
    let got: Vec<&str> = got.iter().flat_map(|s| s.lines()).collect();
    let want: Vec<&str> = want.iter().flat_map(|s| s.lines()).collect();
    let diff: Vec<String> = (0..got.len().max(want.len()))
        .filter(|&i| got.get(i) != want.get(i))
        .take(10)
        .map(|i| format!("line {i}: got {:?} want {:?}", got.get(i), want.get(i)))
        .collect();
    assert!(diff.is_empty(), "{what}:\n{}", diff.join("\n"));
}

/// A reply as short text, one line per element, for readable diffs.
fn text(rep: &Reply) -> String {
    match rep {
        Reply::Bulk(b) => show(b),
        Reply::Array(a) => a.iter().map(text).collect::<Vec<_>>().join("\n"),
        other => format!("{other:?}"),
    }
}

fn restore_args<'a>(key: &'a [u8], deadline: &'a [u8], payload: &'a [u8]) -> Vec<&'a [u8]> {
    if deadline == b"-1" {
        vec![b"RESTORE", key, b"0", payload]
    } else {
        vec![b"RESTORE", key, deadline, payload, b"ABSTTL"]
    }
}

// ------------------------------------------------------------------ tests

/// Redis's payloads restore on ringbus to what Redis shows, and ringbus's
/// payloads restore on Redis to the same again.
fn payloads_cross_both_ways(s: &Server) {
    let (_redis, mut rc) = start_redis();
    let mut ours = s.raw();
    setup(&mut rc);
    for key in setup_keys() {
        let name = String::from_utf8_lossy(&key).into_owned();
        let want = observe(&mut rc, &key, false);
        let payload = dump_of(&mut rc, &key);
        let deadline = r(&mut rc, &[b"PEXPIRETIME", &key]).as_int().to_string();
        r(
            &mut ours,
            &restore_args(&key, deadline.as_bytes(), &payload),
        );
        same(
            &observe(&mut ours, &key, true),
            &want,
            &format!("{name}: Redis's payload restored on ringbus"),
        );

        // Back: ringbus's DUMP restores on Redis as the original.
        let back = dump_of(&mut ours, &key);
        let mut other = b"back:".to_vec();
        other.extend_from_slice(&key);
        r(&mut rc, &restore_args(&other, deadline.as_bytes(), &back));
        same(
            &observe(&mut rc, &other, true),
            &observe(&mut rc, &key, true),
            &format!("{name}: ringbus's payload restored on Redis"),
        );
    }
}

/// Keys whose DUMP Redis lays out deterministically from the content and
/// whose strings LZF leaves as they are or compresses the same way in both
/// implementations (their matches differ on longer, repetitive input).
const BYTE_EXACT: &[&str] = &[
    "s:int",
    "s:neg",
    "s:i64",
    "s:embstr",
    "s:empty",
    "s:noise",
    "s:ttl",
    "l:small",
    "l:bigelem",
    "l:ttl",
    "h:small",
    "set:ints",
    "z:small",
    "st:empty",
    "st:ttl",
];

/// The same commands give the same payloads, and the same payloads
/// restored give them back unchanged.
fn dump_bytes_match_redis(s: &Server) {
    let (_redis, mut rc) = start_redis();
    let mut ours = s.raw();
    setup(&mut rc);
    setup(&mut ours);
    for key in BYTE_EXACT {
        let key = key.as_bytes();
        let theirs = dump_of(&mut rc, key);
        let mine = dump_of(&mut ours, key);
        assert!(
            mine == theirs,
            "DUMP {} differs:\n ours {}\nredis {}",
            show(key),
            show(&mine[..mine.len().min(300)]),
            show(&theirs[..theirs.len().min(300)])
        );
        // Restored from Redis's bytes, the key dumps to them again.
        r(&mut ours, &[b"RESTORE", key, b"0", &theirs, b"REPLACE"]);
        assert!(dump_of(&mut ours, key) == theirs, "{}", show(key));
    }
    // Elsewhere the values are the same, decoded.
    for key in setup_keys() {
        let theirs = dump::decode(&dump_of(&mut rc, &key)).unwrap();
        let mine = dump::decode(&dump_of(&mut ours, &key)).unwrap();
        assert_eq!(
            format!("{:?}", norm(mine)),
            format!("{:?}", norm(theirs)),
            "{}",
            show(&key)
        );
    }
    ours.check(&["DUMP", "missing"], &nil());
}

fn norm(v: ringbus::persist::rdb::Value) -> ringbus::persist::rdb::Value {
    use ringbus::persist::rdb::Value;
    match v {
        Value::Set(mut s) => {
            s.sort();
            Value::Set(s)
        }
        Value::Hash(mut h) => {
            h.sort();
            Value::Hash(h)
        }
        Value::Stream(mut st) => {
            // Delivery and seen times come from each server's clock.
            for g in &mut st.groups {
                for p in &mut g.pending {
                    p.delivery_time = 0;
                }
                for c in &mut g.consumers {
                    c.seen_time = 0;
                    c.active_time = None;
                }
            }
            Value::Stream(st)
        }
        other => other,
    }
}

/// Each command goes to both servers; the replies must be the same bytes.
fn errors_match_redis(s: &Server) {
    let (_redis, mut rc) = start_redis();
    let mut ours = s.raw();
    for c in [&mut rc, &mut ours] {
        r(c, &[b"SET", b"src", b"hello"]);
        r(c, &[b"SET", b"taken", b"v"]);
        r(c, &[b"RPUSH", b"list", b"a", b"b"]);
    }
    let p = dump_of(&mut rc, b"src");
    assert_eq!(p, dump_of(&mut ours, b"src"));
    let body = &p[..p.len() - 10];
    let mut bad_crc = p.clone();
    *bad_crc.last_mut().unwrap() ^= 0x40;
    let newer = seal(body, 12);
    let bad_type = seal(b"\x08\x01x", 10);
    let empty_list = seal(b"\x12\x00", 10);
    let empty_intset = seal(b"\x0b\x08\x02\x00\x00\x00\x00\x00\x00\x00", 10);
    let odd_hash = seal(b"\x10\x0c\x0c\x00\x00\x00\x01\x00\x81f\x02\xff", 10);
    let dup_set = seal(b"\x02\x02\x01a\x01a", 10);
    let max = i64::MAX.to_string();
    let far = FAR.to_string();
    let script: Vec<Vec<&[u8]>> = vec![
        vec![b"DUMP"],
        vec![b"DUMP", b"a", b"b"],
        vec![b"DUMP", b"missing"],
        vec![b"RESTORE", b"new", b"0"],
        vec![b"RESTORE", b"new", b"0", &p],
        vec![b"GET", b"new"],
        vec![b"RESTORE", b"new", b"0", &p],
        // The key is checked before the TTL, options before the key.
        vec![b"RESTORE", b"new", b"x", &p],
        vec![b"RESTORE", b"new", b"x", b"junk", b"BADOPT"],
        vec![b"RESTORE", b"new", b"x", &p, b"REPLACE"],
        vec![b"RESTORE", b"new", b"-1", &p, b"REPLACE"],
        vec![b"RESTORE", b"new", b"99999999999999999999", &p, b"REPLACE"],
        vec![b"RESTORE", b"n2", b"-1", b"junk"],
        vec![b"RESTORE", b"n2", b"0", b""],
        vec![b"RESTORE", b"n2", b"0", b"junk"],
        vec![b"RESTORE", b"n2", b"0", &bad_crc],
        vec![b"RESTORE", b"n2", b"0", &newer],
        vec![b"RESTORE", b"n2", b"0", &bad_type],
        vec![b"RESTORE", b"n2", b"0", &empty_list],
        vec![b"RESTORE", b"n2", b"0", &empty_intset],
        vec![b"RESTORE", b"n2", b"0", &odd_hash],
        vec![b"RESTORE", b"n2", b"0", &dup_set],
        vec![b"EXISTS", b"n2"],
        // A refused payload leaves the key it would replace alone.
        vec![b"RESTORE", b"taken", b"0", &bad_crc, b"REPLACE"],
        vec![b"RESTORE", b"taken", b"0", &bad_type, b"REPLACE"],
        vec![b"GET", b"taken"],
        vec![b"RESTORE", b"n2", b"0", &p, b"IDLETIME", b"-1"],
        vec![b"RESTORE", b"n2", b"0", &p, b"IDLETIME", b"x"],
        vec![b"RESTORE", b"n2", b"0", &p, b"IDLETIME"],
        vec![b"RESTORE", b"n2", b"0", &p, b"FREQ", b"256"],
        vec![b"RESTORE", b"n2", b"0", &p, b"FREQ", b"-1"],
        vec![b"RESTORE", b"n2", b"0", &p, b"FREQ", b"x"],
        vec![b"RESTORE", b"n2", b"0", &p, b"FREQ"],
        vec![
            b"RESTORE",
            b"n2",
            b"0",
            &p,
            b"IDLETIME",
            b"1",
            b"FREQ",
            b"1",
        ],
        vec![
            b"RESTORE",
            b"n2",
            b"0",
            &p,
            b"FREQ",
            b"1",
            b"IDLETIME",
            b"1",
        ],
        vec![b"RESTORE", b"n2", b"0", &p, b"REPLACE", b"REPLACE", b"BAD"],
        // IDLETIME / FREQ errors come before the busy key.
        vec![b"RESTORE", b"taken", b"0", &p, b"FREQ", b"300"],
        vec![b"EXISTS", b"n2"],
        vec![b"RESTORE", b"n2", b"0", &p, b"IDLETIME", b"10"],
        vec![b"RESTORE", b"n3", b"0", &p, b"FREQ", b"255"],
        vec![
            b"RESTORE",
            b"n4",
            b"0",
            &p,
            b"idletime",
            b"0",
            b"replace",
            b"absttl",
        ],
        vec![b"MGET", b"n2", b"n3", b"n4"],
        vec![b"TTL", b"n4"],
        // Already expired: not created, or deleted when replacing.
        vec![b"RESTORE", b"n5", b"1", &p, b"ABSTTL"],
        vec![b"EXISTS", b"n5"],
        vec![b"RESTORE", b"taken", b"1", &p, b"ABSTTL", b"REPLACE"],
        vec![b"EXISTS", b"taken"],
        vec![b"RESTORE", b"list", b"1", &p, b"ABSTTL"],
        vec![b"TYPE", b"list"],
        // A relative TTL that overflows wraps into the past in Redis.
        vec![b"RESTORE", b"n6", max.as_bytes(), &p],
        vec![b"EXISTS", b"n6"],
        vec![b"RESTORE", b"n7", max.as_bytes(), &p, b"ABSTTL"],
        vec![b"PEXPIRETIME", b"n7"],
        vec![b"RESTORE", b"n8", b"100000", &p],
        vec![b"TTL", b"n8"],
        vec![b"RESTORE", b"n9", far.as_bytes(), &p, b"ABSTTL"],
        vec![b"PEXPIRETIME", b"n9"],
        vec![b"RESTORE", b"n9", b"0", &p, b"REPLACE"],
        vec![b"PEXPIRETIME", b"n9"],
        vec![b"RESTORE", b"list", b"0", &p, b"REPLACE"],
        vec![b"TYPE", b"list"],
        vec![b"DBSIZE"],
    ];
    let mut diffs = Vec::new();
    for args in &script {
        let want = rc.cmd_bytes(args);
        let got = ours.cmd_bytes(args);
        if std::env::var("SHOW_REPLIES").is_ok() {
            eprintln!("{} -> {}", fmt_args(args), show(&want));
        }
        if got != want {
            diffs.push(format!(
                "{}\n   ours {}\n  redis {}",
                fmt_args(args),
                show(&got),
                show(&want)
            ));
        }
    }
    assert!(diffs.is_empty(), "replies differ:\n{}", diffs.join("\n"));

    // RDB 11 (Redis 7.2's DUMP) is read too; 7.0 refuses it as too new.
    let set = ringbus::persist::rdb::Value::Set(vec![b("x"), b("y")]);
    let p11 = dump::encode(&set, &EncodeOptions::rdb11()).unwrap();
    assert_eq!(p11[0], 20, "a listpack set, only in RDB 11");
    assert_eq!(
        Reply::parse(&rc.cmd_bytes(&[b"RESTORE", b"v11", b"0", &p11])),
        Reply::Error("ERR DUMP payload version or checksum are wrong".into())
    );
    r(&mut ours, &[b"RESTORE", b"v11", b"0", &p11]);
    ours.check(&["OBJECT", "ENCODING", "v11"], &bulk("listpack"));
    ours.check(&["SCARD", "v11"], &int(2));
    // In a transaction too.
    ours.check(&["MULTI"], &ok());
    ours.send(&encode(&[b"RESTORE", b"v11", b"0", &p11, b"REPLACE"]));
    assert_eq!(ours.read_reply(), simple("QUEUED"));
    ours.check(&["EXEC"], &array(&[ok()]));

    // An expired key is no obstacle, as Redis's lookupKeyWrite expires it.
    for c in [&mut rc, &mut ours] {
        r(c, &[b"SET", b"gone", b"v", b"PX", b"1"]);
    }
    std::thread::sleep(std::time::Duration::from_millis(20));
    for c in [&mut rc, &mut ours] {
        assert_eq!(
            r(c, &[b"RESTORE", b"gone", b"0", &p]),
            Reply::Simple("OK".into())
        );
    }
}

/// Truncated, bit-flipped and garbage payloads, with the checksum left
/// wrong and made right: each is refused with Redis's error (unless the
/// codec reads it as a valid value) and the key it would replace keeps its
/// value and TTL.
fn mangled_payloads_change_nothing(s: &Server) {
    let mut c = s.raw();
    setup(&mut c);
    r(&mut c, &[b"HSET", b"target", b"keep", b"me"]);
    r(
        &mut c,
        &[b"PEXPIREAT", b"target", FAR.to_string().as_bytes()],
    );
    let original = dump_of(&mut c, b"target");
    let mut sources = Vec::new();
    for key in [
        "s:embstr",
        "s:long",
        "l:small",
        "l:large",
        "h:small",
        "h:large",
        "set:ints",
        "set:str",
        "z:small",
        "z:large",
        "st:plain",
        "st:groups",
    ] {
        sources.push(dump_of(&mut c, key.as_bytes()));
    }
    let mut variants: Vec<Vec<u8>> = Vec::new();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for p in &sources {
        let body = &p[..p.len() - 10];
        // Cut anywhere (at most 64 places per payload), footer kept or resealed.
        let step = (body.len() / 64).max(1);
        for n in (0..body.len()).step_by(step) {
            variants.push(p[..n + 10].to_vec());
            variants.push(seal(&body[..n], 10));
        }
        // One bit flipped, checksum stale or resealed.
        for _ in 0..64 {
            let i = next() as usize % body.len();
            let bit = 1u8 << (next() % 8);
            let mut m = p.clone();
            m[i] ^= bit;
            variants.push(m.clone());
            m.truncate(body.len());
            variants.push(seal(&m, 10));
        }
        // A run of random bytes written over the body.
        for _ in 0..16 {
            let mut m = body.to_vec();
            let at = next() as usize % m.len();
            let len = (next() as usize % 8 + 1).min(m.len() - at);
            for x in &mut m[at..at + len] {
                *x = next() as u8;
            }
            variants.push(seal(&m, 10));
        }
    }
    for n in [0usize, 1, 9, 10, 11, 64, 1000] {
        let junk: Vec<u8> = (0..n).map(|_| next() as u8).collect();
        variants.push(junk.clone());
        variants.push(seal(&junk, 10));
    }
    let (mut refused, mut accepted) = (0, 0);
    for v in &variants {
        let expected = dump::decode_into(v, &mut Build::new());
        let reply = Reply::parse(&c.cmd_bytes(&[b"RESTORE", b"target", b"0", v, b"REPLACE"]));
        match expected {
            Err(e) => {
                let want = match e.kind {
                    DumpErrorKind::VersionOrChecksum => {
                        "ERR DUMP payload version or checksum are wrong"
                    }
                    DumpErrorKind::BadFormat => "ERR Bad data format",
                };
                assert_eq!(reply, Reply::Error(want.into()), "{}", show(v));
                refused += 1;
                // Nor is a missing key created.
                let reply = Reply::parse(&c.cmd_bytes(&[b"RESTORE", b"fresh", b"0", v]));
                assert_eq!(reply, Reply::Error(want.into()));
            }
            Ok(_) => {
                // A mutation that is still a valid value (a changed byte in
                // a string): restored; put the target back.
                assert_eq!(reply, Reply::Simple("OK".into()), "{}", show(v));
                accepted += 1;
                r(
                    &mut c,
                    &[
                        b"RESTORE",
                        b"target",
                        FAR.to_string().as_bytes(),
                        &original,
                        b"REPLACE",
                        b"ABSTTL",
                    ],
                );
            }
        }
        assert_eq!(dump_of(&mut c, b"target"), original);
        assert_eq!(r(&mut c, &[b"PEXPIRETIME", b"target"]).as_int(), FAR);
    }
    c.check(&["EXISTS", "fresh"], &int(0));
    c.check(&["PING"], &simple("PONG"));
    eprintln!("mangled payloads refused: {refused}, still valid: {accepted}");
    assert!(refused > 1000, "refused {refused}, accepted {accepted}");
}

/// REPLACE over a key of another type (through the `redis` crate), with
/// relative and absolute TTLs.
fn replace_over_another_type_and_ttls(s: &Server) {
    let mut con = s.client();
    let q = |con: &mut redis::Connection, args: &[&[u8]]| -> redis::RedisResult<redis::Value> {
        let mut cmd = redis::cmd(std::str::from_utf8(args[0]).unwrap());
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query(con)
    };
    q(&mut con, &[b"RPUSH", b"src", b"x", b"y", b"z"]).unwrap();
    let payload: Vec<u8> = redis::cmd("DUMP").arg("src").query(&mut con).unwrap();
    q(&mut con, &[b"SET", b"k", b"string", b"EX", b"1000"]).unwrap();
    let e = q(&mut con, &[b"RESTORE", b"k", b"0", &payload]).unwrap_err();
    assert_eq!(e.code(), Some("BUSYKEY"));
    let t: String = redis::cmd("TYPE").arg("k").query(&mut con).unwrap();
    assert_eq!(t, "string");
    q(&mut con, &[b"RESTORE", b"k", b"0", &payload, b"REPLACE"]).unwrap();
    let t: String = redis::cmd("TYPE").arg("k").query(&mut con).unwrap();
    assert_eq!(t, "list");
    let ttl: i64 = redis::cmd("TTL").arg("k").query(&mut con).unwrap();
    assert_eq!(ttl, -1, "REPLACE with TTL 0 leaves no deadline");
    let items: Vec<String> = redis::cmd("LRANGE")
        .arg("k")
        .arg(0)
        .arg(-1)
        .query(&mut con)
        .unwrap();
    assert_eq!(items, ["x", "y", "z"]);

    // Over a hash, with a relative TTL.
    q(&mut con, &[b"HSET", b"h", b"f", b"v"]).unwrap();
    q(&mut con, &[b"RESTORE", b"h", b"5000", &payload, b"REPLACE"]).unwrap();
    let pttl: i64 = redis::cmd("PTTL").arg("h").query(&mut con).unwrap();
    assert!((4000..=5000).contains(&pttl), "{pttl}");
    let enc: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("h")
        .query(&mut con)
        .unwrap();
    assert_eq!(enc, "listpack");

    // Over a stream, with an absolute TTL; then one in the past deletes it.
    q(&mut con, &[b"XADD", b"st", b"*", b"f", b"v"]).unwrap();
    let at = FAR.to_string();
    q(
        &mut con,
        &[
            b"RESTORE",
            b"st",
            at.as_bytes(),
            &payload,
            b"ABSTTL",
            b"REPLACE",
        ],
    )
    .unwrap();
    let when: i64 = redis::cmd("PEXPIRETIME").arg("st").query(&mut con).unwrap();
    assert_eq!(when, FAR);
    q(
        &mut con,
        &[b"RESTORE", b"st", b"1000", &payload, b"ABSTTL", b"REPLACE"],
    )
    .unwrap();
    let n: i64 = redis::cmd("EXISTS").arg("st").query(&mut con).unwrap();
    assert_eq!(n, 0);
    // And a string over the list.
    let sp: Vec<u8> = {
        q(&mut con, &[b"SET", b"plain", b"12"]).unwrap();
        redis::cmd("DUMP").arg("plain").query(&mut con).unwrap()
    };
    q(&mut con, &[b"RESTORE", b"k", b"0", &sp, b"REPLACE"]).unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(v, "12");
    let enc: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("k")
        .query(&mut con)
        .unwrap();
    assert_eq!(enc, "int");
}

/// A list arriving by RESTORE serves a client blocked on its key, as LPUSH
/// would, and fails the EXEC of a client watching it.
fn restored_list_wakes_blpop_and_fails_watch(s: &Server) {
    let mut admin = s.raw();
    let mut blocked = s.raw();
    let mut c = s.raw();
    r(&mut c, &[b"RPUSH", b"src", b"first", b"second"]);
    let payload = dump_of(&mut c, b"src");
    block_and_wait(&mut blocked, &mut admin, &["BLPOP", "{q}jobs", "0"]);
    r(&mut c, &[b"RESTORE", b"{q}jobs", b"0", &payload]);
    expect_reply(&mut blocked, &bulks(&["{q}jobs", "first"]));
    c.check(&["LRANGE", "{q}jobs", "0", "-1"], &bulks(&["second"]));
    assert_eq!(blocked_clients(&mut admin), 0);

    // With REPLACE, and the client waiting on two keys.
    block_and_wait(
        &mut blocked,
        &mut admin,
        &["BLPOP", "{q}none", "{q}other", "0"],
    );
    r(
        &mut c,
        &[b"RESTORE", b"{q}other", b"0", &payload, b"REPLACE"],
    );
    expect_reply(&mut blocked, &bulks(&["{q}other", "first"]));

    // WATCH: a RESTORE by another client fails the transaction.
    let mut w = s.raw();
    w.check(&["WATCH", "{q}watched"], &ok());
    r(&mut c, &[b"RESTORE", b"{q}watched", b"0", &payload]);
    w.check(&["MULTI"], &ok());
    w.check(&["GET", "x"], &simple("QUEUED"));
    w.check(&["EXEC"], &nil_array());
    // A refused RESTORE is no write.
    w.check(&["WATCH", "{q}watched"], &ok());
    let bad = &payload[..payload.len() - 1];
    let rep = c.cmd_bytes(&[b"RESTORE", b"{q}watched", b"0", bad, b"REPLACE"]);
    assert_eq!(
        show(&rep),
        show(&err("ERR DUMP payload version or checksum are wrong"))
    );
    w.check(&["MULTI"], &ok());
    w.check(&["LLEN", "{q}watched"], &simple("QUEUED"));
    w.check(&["EXEC"], &array(&[int(2)]));
}
