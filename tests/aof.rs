//! The append-only log on the real binary, with real files: restarts after
//! kill -9 at other thread counts, what the files hold (checked with
//! `redis-check-aof`), BGREWRITEAOF under writes, logs written by
//! redis-server 7.0 loaded, torn and corrupt files, cross-shard
//! transactions cut whole in recovery, the options' CONFIG GET/SET (against
//! redis-server's answers), a full disk, SHUTDOWN/SIGTERM and timestamps.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Server, TempDir};
use redis::{Connection, Value};
use ringbus::shard::route::shard_of;

// ------------------------------------------------------------------ helpers

fn ringbus_only() -> bool {
    common::target() != common::Target::Redis
}

fn binary() -> PathBuf {
    match common::target() {
        common::Target::Ringbus(p) => p,
        common::Target::Redis => unreachable!("ringbus-only test"),
    }
}

fn q<T: redis::FromRedisValue>(c: &mut Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn ok(c: &mut Connection, args: &[&str]) {
    let _: Value = q(c, args);
}

/// The error a command gets, as the server wrote it (without '-' and CRLF).
fn err(s: &Server, args: &[&str]) -> String {
    let reply = s.raw().cmd(args);
    let text = String::from_utf8_lossy(&reply).to_string();
    match text.strip_prefix('-') {
        Some(e) => e.trim_end().to_string(),
        None => panic!("{args:?}: expected an error, got {text:?}"),
    }
}

fn info_field(c: &mut Connection, field: &str) -> String {
    let info: String = q(c, &["INFO", "persistence"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO:\n{info}"))
        .trim()
        .to_string()
}

#[track_caller]
fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// ringbus on `dir` with the log on (`appendfsync always`, no save rules);
/// `extra` options replace these defaults.
fn start(dir: &Path, threads: usize, extra: &[&str]) -> Server {
    let t = threads.to_string();
    let d = dir.to_str().unwrap();
    let defaults: [(&str, &str); 5] = [
        ("--threads", &t),
        ("--dir", d),
        ("--save", ""),
        ("--appendonly", "yes"),
        ("--appendfsync", "always"),
    ];
    let mut args: Vec<&str> = Vec::new();
    for (k, v) in defaults {
        if !extra.contains(&k) {
            args.extend([k, v]);
        }
    }
    args.extend_from_slice(extra);
    Server::start_with(&args)
}

/// redis-server 7.0 on `dir` with the log on.
fn start_redis(dir: &Path, preamble: &str) -> Server {
    Server::start_redis(&[
        "--dir",
        dir.to_str().unwrap(),
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--aof-use-rdb-preamble",
        preamble,
    ])
}

fn aof_dir(dir: &Path) -> PathBuf {
    dir.join("appendonlydir")
}

const MANIFEST: &str = "appendonly.aof.manifest";

/// One manifest line: (file, seq, type, Some((shard, shards))).
#[derive(Debug, Clone, PartialEq)]
struct Line {
    file: String,
    seq: u64,
    kind: String,
    shard: Option<(usize, usize)>,
}

fn manifest(dir: &Path) -> Vec<Line> {
    let text = std::fs::read_to_string(aof_dir(dir).join(MANIFEST)).expect("manifest");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let get = |k: &str| w.chunks(2).find(|p| p[0] == k).map(|p| p[1].to_string());
            Line {
                file: get("file").expect("file"),
                seq: get("seq").expect("seq").parse().unwrap(),
                kind: get("type").expect("type"),
                shard: get("shard").map(|s| {
                    (
                        s.parse().unwrap(),
                        get("shards").expect("shards").parse().unwrap(),
                    )
                }),
            }
        })
        .collect()
}

/// The incremental files, in manifest order.
fn incr_files(dir: &Path) -> Vec<PathBuf> {
    manifest(dir)
        .into_iter()
        .filter(|l| l.kind == "i")
        .map(|l| aof_dir(dir).join(l.file))
        .collect()
}

/// The files in the log directory, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(aof_dir(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A file's records: each command's arguments, `#` annotations as one
/// element; panics on anything else (every byte must be a record).
fn records(path: &Path) -> Vec<Vec<String>> {
    let data = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut p = 0;
    let line = |p: &mut usize| -> String {
        let end = data[*p..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap_or_else(|| panic!("{}: no CRLF after offset {p}", path.display()))
            + *p;
        let s = String::from_utf8_lossy(&data[*p..end]).into_owned();
        *p = end + 2;
        s
    };
    while p < data.len() {
        let l = line(&mut p);
        if l.starts_with('#') {
            out.push(vec![l]);
            continue;
        }
        let n: usize = l
            .strip_prefix('*')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{}: bad record header {l:?}", path.display()));
        let mut argv = Vec::new();
        for _ in 0..n {
            let len: usize = line(&mut p)
                .strip_prefix('$')
                .and_then(|n| n.parse().ok())
                .expect("bulk length");
            argv.push(String::from_utf8_lossy(&data[p..p + len]).into_owned());
            assert_eq!(&data[p + len..p + len + 2], b"\r\n");
            p += len + 2;
        }
        out.push(argv);
    }
    out
}

fn all_records(dir: &Path) -> Vec<Vec<String>> {
    incr_files(dir).iter().flat_map(|f| records(f)).collect()
}

/// `redis-check-aof <manifest>` (Debian's redis-tools) says the log is valid.
#[track_caller]
/// Waits until no rewrite runs or is due (a start at another thread count
/// schedules one), so the files hold still for `check_aof`.
fn no_rewrite(c: &mut Connection) {
    wait_for("no rewrite running or scheduled", 30, || {
        info_field(c, "aof_rewrite_in_progress") == "0"
            && info_field(c, "aof_rewrite_scheduled") == "0"
    });
}

fn check_aof(dir: &Path) {
    let m = aof_dir(dir).join(MANIFEST);
    let out = Command::new("redis-check-aof")
        .arg(&m)
        .output()
        .expect("redis-check-aof (apt-get install redis-tools)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("All AOF files and manifest are valid"),
        "redis-check-aof {}:\n{text}",
        m.display()
    );
}

/// Bytes of a request as a RESP multibulk.
fn resp(args: &[&str]) -> Vec<u8> {
    common::encode_str(args)
}

// ------------------------------------------------------------ the dataset

const LIB: &str = "#!lua name=aoflib\n\
    redis.register_function('setboth', function(keys, args) \
      redis.call('SET', keys[1], args[1]); redis.call('SET', keys[2], args[1]); \
      redis.call('PEXPIRE', keys[2], 900000); return 'ok' end)\n\
    redis.register_function{function_name='readone', callback=function(keys) \
      return redis.call('GET', keys[1]) end, flags={'no-writes'}}";

/// Writes of every type, by every kind of command that writes: TTLs,
/// cross-shard MSET, MULTI/EXEC, scripts, functions, blocking forms,
/// random pops, stream groups. Works on redis-server 7.0 too.
fn fill(c: &mut Connection) {
    ok(c, &["FUNCTION", "LOAD", "REPLACE", LIB]);
    // Strings and expiry.
    ok(c, &["SET", "s:plain", "hello"]);
    ok(c, &["SET", "s:ex", "v", "EX", "1000"]);
    ok(c, &["SET", "s:px", "v", "PX", "500000"]);
    ok(c, &["SET", "s:exat", "v", "EXAT", "4102444800"]);
    ok(c, &["SET", "s:exp", "v"]);
    ok(c, &["EXPIRE", "s:exp", "1000"]);
    ok(c, &["SET", "s:pexpat", "v"]);
    ok(c, &["PEXPIREAT", "s:pexpat", "4102444800123"]);
    ok(c, &["SET", "s:persist", "v", "EX", "100"]);
    ok(c, &["PERSIST", "s:persist"]);
    ok(c, &["SET", "s:n", "10"]);
    ok(c, &["INCR", "s:n"]);
    ok(c, &["INCRBY", "s:n", "5"]);
    ok(c, &["DECR", "s:n"]);
    ok(c, &["SET", "s:f", "1.5", "EX", "1000"]);
    ok(c, &["INCRBYFLOAT", "s:f", "2.25"]);
    ok(c, &["APPEND", "s:app", "abc"]);
    ok(c, &["APPEND", "s:app", "def"]);
    ok(c, &["SETRANGE", "s:app", "1", "ZZ"]);
    ok(c, &["SET", "s:getex", "v"]);
    ok(c, &["GETEX", "s:getex", "EX", "777"]);
    ok(c, &["SET", "s:gone", "v"]);
    ok(c, &["GETDEL", "s:gone"]);
    ok(c, &["SET", "s:del", "v"]);
    ok(c, &["DEL", "s:del"]);
    ok(c, &["SET", "s:short", "v", "PX", "1"]);
    ok(c, &["SET", "s:old", "renamed"]);
    ok(c, &["RENAME", "s:old", "s:new"]);
    ok(c, &["SETNX", "s:nx", "first"]);
    ok(c, &["SETNX", "s:nx", "second"]);
    ok(c, &["SET", "s:long", &"x".repeat(300)]);
    // Lists.
    let ten: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    let mut args = vec!["RPUSH", "l:a"];
    args.extend(ten.iter().map(String::as_str));
    ok(c, &args);
    ok(c, &["LPUSH", "l:a", "x"]);
    ok(c, &["LPOP", "l:a"]);
    ok(c, &["RPOP", "l:a"]);
    ok(c, &["LMOVE", "l:a", "l:b", "LEFT", "RIGHT"]);
    ok(c, &["BLMOVE", "l:a", "l:c", "RIGHT", "LEFT", "0"]);
    ok(c, &["BRPOP", "l:c", "0"]);
    ok(c, &["LSET", "l:a", "0", "new"]);
    ok(c, &["LINSERT", "l:a", "BEFORE", "new", "pre"]);
    ok(c, &["LREM", "l:a", "1", "5"]);
    ok(c, &["LTRIM", "l:a", "0", "5"]);
    for i in 0..600 {
        ok(c, &["RPUSH", "l:big", &format!("element-{i}")]);
    }
    // Hashes.
    ok(c, &["HSET", "h:a", "f1", "v1", "f2", "v2", "n", "5"]);
    ok(c, &["HINCRBY", "h:a", "n", "3"]);
    ok(c, &["HINCRBYFLOAT", "h:a", "fl", "1.5"]);
    ok(c, &["HDEL", "h:a", "f2"]);
    ok(c, &["HSETNX", "h:a", "f1", "no"]);
    ok(c, &["EXPIRE", "h:a", "3000"]);
    for i in 0..600 {
        ok(c, &["HSET", "h:big", &format!("f{i}"), &format!("v{i}")]);
    }
    // Sets.
    ok(c, &["SADD", "st:a", "a", "b", "c", "d", "e", "f", "g"]);
    ok(c, &["SREM", "st:a", "a"]);
    ok(c, &["SPOP", "st:a"]);
    ok(c, &["SPOP", "st:a", "2"]);
    ok(c, &["SADD", "st:b", "z"]);
    ok(c, &["SMOVE", "st:a", "st:b", "g"]);
    ok(c, &["SADD", "st:i", "1", "2", "3"]);
    ok(c, &["SUNIONSTORE", "st:u", "st:a", "st:b", "st:i"]);
    for i in 0..600 {
        ok(c, &["SADD", "st:big", &format!("m{i}")]);
        ok(c, &["SADD", "st:bigint", &i.to_string()]);
    }
    // Sorted sets.
    ok(c, &["ZADD", "z:a", "1", "a", "2", "b", "3", "c", "4", "d"]);
    ok(c, &["ZINCRBY", "z:a", "2.5", "a"]);
    ok(c, &["ZPOPMIN", "z:a"]);
    ok(c, &["ZREM", "z:a", "d"]);
    ok(c, &["ZADD", "z:b", "-1.25", "x", "inf", "y"]);
    ok(c, &["ZADD", "z:u", "NX", "3", "a", "5", "b"]);
    ok(c, &["BZPOPMAX", "z:b", "0"]);
    for i in 0..300 {
        ok(
            c,
            &[
                "ZADD",
                "z:big",
                &format!("{}", i as f64 / 7.0),
                &format!("m{i}"),
            ],
        );
    }
    // Streams with consumer groups.
    let mut ids = Vec::new();
    for i in 0..8 {
        let id: String = q(c, &["XADD", "x:s", "*", "f", &i.to_string()]);
        ids.push(id);
    }
    ok(c, &["XADD", "x:s", "99999999999999-5", "f", "explicit"]);
    ok(c, &["XGROUP", "CREATE", "x:s", "g1", "0"]);
    ok(c, &["XGROUP", "CREATE", "x:s", "g2", "$"]);
    ok(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "alice",
            "COUNT",
            "3",
            "STREAMS",
            "x:s",
            ">",
        ],
    );
    ok(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "bob",
            "COUNT",
            "2",
            "STREAMS",
            "x:s",
            ">",
        ],
    );
    ok(c, &["XACK", "x:s", "g1", &ids[0]]);
    ok(c, &["XCLAIM", "x:s", "g1", "carol", "0", &ids[1]]);
    ok(c, &["XGROUP", "CREATECONSUMER", "x:s", "g2", "dave"]);
    ok(c, &["XDEL", "x:s", &ids[6]]);
    ok(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g2",
            "erin",
            "COUNT",
            "1",
            "STREAMS",
            "x:s",
            "0",
        ],
    );
    for i in 0..5 {
        ok(
            c,
            &["XADD", "x:cap", "MAXLEN", "3", "*", "n", &i.to_string()],
        );
    }
    // Several keys at once.
    ok(
        c,
        &[
            "MSET", "m:1", "1", "m:2", "2", "m:3", "3", "m:4", "4", "m:5", "5", "m:6", "6",
        ],
    );
    ok(c, &["MULTI"]);
    ok(c, &["SET", "t:1", "a"]);
    ok(c, &["INCR", "t:2"]);
    ok(c, &["RPUSH", "t:3", "x", "y"]);
    ok(c, &["HSET", "t:4", "f", "v"]);
    ok(c, &["EXPIRE", "t:1", "500"]);
    ok(c, &["SADD", "t:5", "m"]);
    ok(c, &["EXEC"]);
    ok(
        c,
        &[
            "EVAL",
            "redis.call('SET', KEYS[1], ARGV[1]); redis.call('INCR', KEYS[2]); \
             redis.call('RPUSH', KEYS[3], ARGV[1]); redis.call('EXPIRE', KEYS[1], 600); \
             return redis.call('SPOP', KEYS[4])",
            "4",
            "e:1",
            "e:2",
            "e:3",
            "st:b",
            "scripted",
        ],
    );
    ok(c, &["FCALL", "setboth", "2", "fn:1", "fn:2", "called"]);
    // Other databases, and a flushed one.
    ok(c, &["SELECT", "5"]);
    ok(c, &["SET", "db5:k", "five", "EX", "2000"]);
    ok(c, &["RPUSH", "db5:l", "a", "b"]);
    ok(c, &["SELECT", "9"]);
    ok(c, &["SET", "db9:k", "flushed"]);
    ok(c, &["FLUSHDB"]);
    ok(c, &["SELECT", "0"]);
}

/// A second round of writes on top of `fill`.
fn fill_more(c: &mut Connection) {
    ok(c, &["SET", "more:1", "a"]);
    ok(c, &["INCR", "s:n"]);
    ok(c, &["RPUSH", "l:a", "late"]);
    ok(c, &["HSET", "h:a", "late", "1"]);
    ok(c, &["ZADD", "z:a", "10", "late"]);
    ok(c, &["SADD", "st:i", "4"]);
    let id: String = q(c, &["XADD", "x:s", "*", "f", "late"]);
    ok(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "alice",
            "COUNT",
            "1",
            "STREAMS",
            "x:s",
            ">",
        ],
    );
    ok(c, &["XACK", "x:s", "g1", &id]);
    ok(c, &["DEL", "m:1"]);
    ok(c, &["MSET", "more:2", "b", "more:3", "c", "more:4", "d"]);
    ok(c, &["FCALL", "setboth", "2", "fn:3", "fn:4", "again"]);
    ok(c, &["SELECT", "3"]);
    ok(c, &["SET", "db3:k", "three"]);
    ok(c, &["SELECT", "0"]);
}

/// What a server holds, as comparable text: per (db, key) its type,
/// encoding, absolute expiry and value (streams with their groups, pending
/// entries and consumers, without idle times). `across_versions` leaves out
/// the list and set encodings Redis 7.0 names differently.
fn canon(c: &mut Connection, across_versions: bool) -> BTreeMap<(usize, String), String> {
    let mut out = BTreeMap::new();
    for db in 0..16 {
        ok(c, &["SELECT", &db.to_string()]);
        let keys: Vec<String> = q(c, &["KEYS", "*"]);
        for key in keys {
            let t: String = q(c, &["TYPE", &key]);
            let mut enc: String = q(c, &["OBJECT", "ENCODING", &key]);
            // Redis too loads a short string as embstr that was raw before
            // (appended to): the same value either way.
            if enc == "embstr" || enc == "raw" {
                enc = "str".into();
            }
            if across_versions && (t == "list" || (t == "set" && enc != "intset")) {
                enc = "*".into();
            }
            let at: i64 = q(c, &["PEXPIRETIME", &key]);
            let value = match t.as_str() {
                "string" => format!("{:?}", q::<String>(c, &["GET", &key])),
                "list" => format!("{:?}", q::<Vec<String>>(c, &["LRANGE", &key, "0", "-1"])),
                "hash" => format!("{:?}", q::<BTreeMap<String, String>>(c, &["HGETALL", &key])),
                "set" => {
                    let mut m: Vec<String> = q(c, &["SMEMBERS", &key]);
                    m.sort();
                    format!("{m:?}")
                }
                "zset" => {
                    let flat: Vec<String> = q(c, &["ZRANGE", &key, "0", "-1", "WITHSCORES"]);
                    let pairs: Vec<(String, f64)> = flat
                        .chunks(2)
                        .map(|p| (p[0].clone(), p[1].parse().unwrap()))
                        .collect();
                    format!("{pairs:?}")
                }
                "stream" => stream_canon(c, &key),
                other => panic!("type {other}"),
            };
            out.insert((db, key), format!("{t} {enc} {at} {value}"));
        }
    }
    ok(c, &["SELECT", "0"]);
    out
}

fn stream_canon(c: &mut Connection, key: &str) -> String {
    let entries: Value = q(c, &["XRANGE", key, "-", "+"]);
    let info: Vec<Value> = q(c, &["XINFO", "STREAM", key]);
    let mut meta = Vec::new();
    for pair in info.chunks(2) {
        if let Value::BulkString(name) = &pair[0] {
            let name = String::from_utf8_lossy(name).to_string();
            if [
                "length",
                "last-generated-id",
                "max-deleted-entry-id",
                "entries-added",
                "recorded-first-entry-id",
                "groups",
            ]
            .contains(&name.as_str())
            {
                meta.push(format!("{name}={:?}", pair[1]));
            }
        }
    }
    let groups: Vec<BTreeMap<String, Value>> = q(c, &["XINFO", "GROUPS", key]);
    let mut gtext = Vec::new();
    for g in groups {
        let name: String = redis::from_redis_value(g["name"].clone()).unwrap();
        let summary: Value = q(c, &["XPENDING", key, &name]);
        let pending: Value = q(c, &["XPENDING", key, &name, "-", "+", "1000"]);
        let pending = match pending {
            // (id, consumer, idle, deliveries): idle depends on the clock.
            Value::Array(rows) => rows
                .into_iter()
                .map(|r| match r {
                    Value::Array(mut f) => {
                        f.remove(2);
                        format!("{f:?}")
                    }
                    other => format!("{other:?}"),
                })
                .collect::<Vec<_>>(),
            other => vec![format!("{other:?}")],
        };
        let consumers: Vec<BTreeMap<String, Value>> = q(c, &["XINFO", "CONSUMERS", key, &name]);
        let consumers: Vec<String> = consumers
            .iter()
            .map(|m| format!("{:?}/{:?}", m["name"], m["pending"]))
            .collect();
        gtext.push(format!(
            "{name} last={:?} read={:?} lag={:?} pending={summary:?} pel={pending:?} \
             consumers={consumers:?}",
            g["last-delivered-id"], g["entries-read"], g["lag"]
        ));
    }
    format!("{entries:?} {meta:?} {gtext:?}")
}

/// Fails with only the keys that differ.
#[track_caller]
fn same(
    got: &BTreeMap<(usize, String), String>,
    want: &BTreeMap<(usize, String), String>,
    what: &str,
) {
    // Long values are shown from a little before where they differ.
    let cut = |s: &String, from: usize| s.chars().skip(from).take(400).collect::<String>();
    let mut diffs = Vec::new();
    for (k, v) in want {
        match got.get(k) {
            Some(g) if g == v => {}
            Some(g) => {
                let at = g.chars().zip(v.chars()).take_while(|(a, b)| a == b).count();
                let from = at.saturating_sub(100);
                diffs.push(format!(
                    "{k:?} (from char {from}):\n  got  {}\n  want {}",
                    cut(g, from),
                    cut(v, from)
                ))
            }
            None => diffs.push(format!("{k:?}: missing")),
        }
    }
    for k in got.keys().filter(|k| !want.contains_key(*k)) {
        diffs.push(format!("{k:?}: not expected"));
    }
    assert!(diffs.is_empty(), "{what}:\n{}", diffs.join("\n"));
}

/// The function libraries, with their code (functions sorted by name:
/// Redis lists them in its hash table's order).
fn functions(c: &mut Connection) -> String {
    let libs: Vec<BTreeMap<String, Value>> = q(c, &["FUNCTION", "LIST", "WITHCODE"]);
    let mut out = Vec::new();
    for lib in libs {
        let text = |v: &Value| format!("{v:?}");
        let mut fns: Vec<String> = match &lib["functions"] {
            Value::Array(fs) => fs.iter().map(text).collect(),
            other => vec![text(other)],
        };
        fns.sort();
        out.push(format!(
            "{} {} {fns:?} {}",
            text(&lib["library_name"]),
            text(&lib["engine"]),
            text(&lib["library_code"])
        ));
    }
    out.sort();
    out.join("\n")
}

// ------------------------------------------------------------------ 1. restarts

/// Every type written every way, kill -9, and started again on the same
/// directory at 1, then 3, then 2 threads: every key, value, absolute
/// expiry and stream group state is there, and so are the functions.
#[test]
fn kill_9_and_restart_at_other_thread_counts_keeps_everything() {
    if !ringbus_only() {
        return;
    }
    let dir = TempDir::new("aof-restart");
    let (want, lib) = {
        let s = start(dir.path(), 1, &[]);
        let mut c = s.client();
        fill(&mut c);
        std::thread::sleep(Duration::from_millis(5)); // s:short is gone
        fill_more(&mut c);
        (canon(&mut c, false), functions(&mut c))
    }; // kill -9
    assert!(want.contains_key(&(0, "x:s".to_string())));
    assert!(!want.contains_key(&(0, "s:short".to_string())));
    for threads in [1, 3, 2] {
        let s = start(dir.path(), threads, &[]);
        let mut c = s.client();
        same(
            &canon(&mut c, false),
            &want,
            &format!("at {threads} threads"),
        );
        assert_eq!(functions(&mut c), lib, "functions at {threads} threads");
        let got: String = q(&mut c, &["FCALL_RO", "readone", "1", "fn:1"]);
        assert_eq!(got, "called");
        no_rewrite(&mut c);
        check_aof(dir.path());
    }
}

/// The same at 3 threads from the start, so the writes themselves are
/// spread over three logs (cross-shard MSET, EXEC and scripts carry
/// `#TXN` annotations), read back at 3 and at 1.
#[test]
fn three_logs_restart_at_three_and_one_thread() {
    if !ringbus_only() {
        return;
    }
    let dir = TempDir::new("aof-restart3");
    let (want, lib) = {
        let s = start(dir.path(), 3, &[]);
        let mut c = s.client();
        fill(&mut c);
        std::thread::sleep(Duration::from_millis(5));
        fill_more(&mut c);
        (canon(&mut c, false), functions(&mut c))
    };
    let m = manifest(dir.path());
    assert_eq!(m.len(), 3, "{m:?}");
    for (k, l) in m.iter().enumerate() {
        assert_eq!(l.kind, "i");
        assert_eq!(l.shard, Some((k, 3)));
        assert_eq!(l.seq, k as u64 + 1);
        assert_eq!(l.file, format!("appendonly.aof.{}.incr.aof", k + 1));
    }
    let recs = all_records(dir.path());
    let txns = recs.iter().filter(|r| r[0].starts_with("#TXN:")).count();
    assert!(txns >= 2, "cross-shard writes are annotated: {txns}");
    check_aof(dir.path());
    for threads in [3, 1] {
        let s = start(dir.path(), threads, &[]);
        let mut c = s.client();
        same(
            &canon(&mut c, false),
            &want,
            &format!("3 -> {threads} threads"),
        );
        assert_eq!(functions(&mut c), lib);
    }
}

// ------------------------------------------------------------------ 2. the files

fn has(recs: &[Vec<String>], want: &[&str]) -> bool {
    recs.iter().any(|r| {
        r.len() == want.len()
            && r.iter()
                .zip(want)
                .all(|(a, b)| *b == "?" || a.eq_ignore_ascii_case(b))
    })
}

/// What the log holds: Redis's propagated forms of the commands, each
/// file plain RESP (`redis-check-aof` agrees), the manifest in Redis's
/// format with ringbus's shard keys.
#[test]
fn the_files_hold_what_redis_would_propagate() {
    if !ringbus_only() {
        return;
    }
    let dir = TempDir::new("aof-files");
    let s = start(dir.path(), 1, &[]);
    let mut c = s.client();
    ok(&mut c, &["SET", "k", "v"]);
    ok(&mut c, &["EXPIRE", "k", "100"]);
    let at: i64 = q(&mut c, &["PEXPIRETIME", "k"]);
    ok(&mut c, &["SET", "f", "1"]);
    ok(&mut c, &["INCRBYFLOAT", "f", "1.5"]);
    let id: String = q(&mut c, &["XADD", "x", "*", "a", "b"]);
    ok(&mut c, &["XGROUP", "CREATE", "x", "g", "0"]);
    ok(
        &mut c,
        &["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "x", ">"],
    );
    ok(&mut c, &["SADD", "set", "only", "other"]);
    let popped: String = q(&mut c, &["SPOP", "set"]);
    ok(&mut c, &["RPUSH", "src", "e"]);
    ok(&mut c, &["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"]);
    ok(&mut c, &["SET", "ex", "v", "EX", "100"]);
    let ex_at: i64 = q(&mut c, &["PEXPIRETIME", "ex"]);
    ok(
        &mut c,
        &[
            "EVAL",
            "redis.call('SET', KEYS[1], 'a'); redis.call('SET', KEYS[2], 'b')",
            "2",
            "e1",
            "e2",
        ],
    );
    ok(&mut c, &["FUNCTION", "LOAD", LIB]);
    ok(&mut c, &["FCALL", "setboth", "2", "p", "q", "z"]);
    drop(c);
    drop(s);

    assert_eq!(
        std::fs::read_to_string(aof_dir(dir.path()).join(MANIFEST)).unwrap(),
        "file appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    let recs = records(&aof_dir(dir.path()).join("appendonly.aof.1.incr.aof"));
    assert_eq!(
        recs[0],
        ["SELECT", "0"],
        "a file starts by naming its database"
    );
    let at = at.to_string();
    let ex_at = ex_at.to_string();
    let id = id.as_str();
    for want in [
        &["SET", "k", "v"][..],
        &["PEXPIREAT", "k", &at],
        &["SET", "f", "2.5", "KEEPTTL"],
        &["XADD", "x", id, "a", "b"],
        &["XGROUP", "CREATE", "x", "g", "0"],
        &[
            "XCLAIM",
            "x",
            "g",
            "c1",
            "0",
            id,
            "TIME",
            "?",
            "RETRYCOUNT",
            "1",
            "FORCE",
            "JUSTID",
            "LASTID",
            id,
        ],
        &["SREM", "set", &popped],
        &["LMOVE", "src", "dst", "LEFT", "RIGHT"],
        &["SET", "ex", "v", "PXAT", &ex_at],
        &["SET", "e1", "a"],
        &["SET", "p", "z"],
    ] {
        assert!(has(&recs, want), "no {want:?} in\n{recs:#?}");
    }
    let names: Vec<String> = recs.iter().map(|r| r[0].to_ascii_uppercase()).collect();
    for absent in [
        "EXPIRE",
        "INCRBYFLOAT",
        "SPOP",
        "BLMOVE",
        "EVAL",
        "FCALL",
        "XREADGROUP",
    ] {
        assert!(!names.iter().any(|n| n == absent), "{absent} logged as is");
    }
    assert!(
        recs.iter()
            .any(|r| r.len() == 3 && r[0].eq_ignore_ascii_case("FUNCTION") && r[2] == LIB),
        "FUNCTION LOAD logged with its code"
    );
    // A script's writes are one MULTI/EXEC unit.
    let e1 = recs.iter().position(|r| r == &["SET", "e1", "a"]).unwrap();
    assert!(
        recs[e1 - 1][0].eq_ignore_ascii_case("MULTI"),
        "{:?}",
        &recs[e1 - 2..e1 + 3]
    );
    assert_eq!(recs[e1 + 1], ["SET", "e2", "b"]);
    assert!(recs[e1 + 2][0].eq_ignore_ascii_case("EXEC"));
    check_aof(dir.path());
}

// ------------------------------------------------------------------ 3. rewrite

fn set_keys(c: &mut Connection, n: usize) {
    for chunk in (0..n).step_by(10_000) {
        let mut p = redis::pipe();
        for i in chunk..(chunk + 10_000).min(n) {
            p.cmd("SET").arg(format!("key:{i}")).arg(i).ignore();
        }
        let _: () = p.query(c).unwrap();
    }
}

/// BGREWRITEAOF on a 100k-key dataset while another client writes: a new
/// RDB base, the old files gone, a manifest of one base and one
/// generation, INFO counting it; after kill -9 every key is there, and so
/// is every write acknowledged during the rewrite.
fn rewrite_under_writes(threads: usize) {
    let dir = TempDir::new("aof-rewrite");
    let s = start(dir.path(), threads, &[]);
    let mut c = s.client();
    set_keys(&mut c, 100_000);
    ok(&mut c, &["RPUSH", "list", "a", "b"]);
    ok(&mut c, &["EXPIRE", "key:7", "5000"]);
    let old_files = files_in(dir.path());
    assert_eq!(info_field(&mut c, "aof_rewrites"), "0");

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (stop, acked) = (stop.clone(), acked.clone());
        let mut w = s.client();
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let _: () = redis::cmd("MSET")
                    .arg(format!("w:{i}"))
                    .arg(i)
                    .arg(format!("v:{i}"))
                    .arg(i)
                    .query(&mut w)
                    .unwrap();
                let _: () = redis::cmd("LPUSH")
                    .arg("list")
                    .arg(i)
                    .query(&mut w)
                    .unwrap();
                i += 1;
                acked.store(i, Ordering::Release);
            }
        })
    };
    wait_for("the writer to start", 10, || {
        acked.load(Ordering::Acquire) > 10
    });
    let before = acked.load(Ordering::Acquire);
    let r: String = q(&mut c, &["BGREWRITEAOF"]);
    assert_eq!(r, "Background append only file rewriting started");
    wait_for("the rewrite", 30, || {
        info_field(&mut c, "aof_rewrite_in_progress") == "0"
            && info_field(&mut c, "aof_rewrites") == "1"
    });
    let during = acked.load(Ordering::Acquire) - before;
    std::thread::sleep(Duration::from_millis(50));
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let n = acked.load(Ordering::Acquire);
    assert!(during > 0, "no write ran during the rewrite");
    assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "ok");
    let base_size: u64 = info_field(&mut c, "aof_base_size").parse().unwrap();
    assert!(base_size > 100_000, "aof_base_size {base_size}");

    let m = manifest(dir.path());
    let bases: Vec<&Line> = m.iter().filter(|l| l.kind == "b").collect();
    assert_eq!(bases.len(), 1, "{m:?}");
    let base = bases[0];
    assert!(base.file.ends_with(".base.rdb"), "{m:?}");
    let incrs: Vec<&Line> = m.iter().filter(|l| l.kind == "i").collect();
    assert_eq!(incrs.len(), threads, "one generation: {m:?}");
    assert!(m.iter().all(|l| l.kind == "b" || l.kind == "i"), "{m:?}");
    for (k, l) in incrs.iter().enumerate() {
        assert_eq!(l.seq, base.seq + k as u64, "{m:?}");
        if threads > 1 {
            assert_eq!(l.shard, Some((k, threads)));
        }
    }
    let now = files_in(dir.path());
    for f in &old_files {
        if f != MANIFEST {
            assert!(!now.contains(f), "old file {f} still there: {now:?}");
        }
    }
    let mut want: Vec<String> = m.iter().map(|l| l.file.clone()).collect();
    want.push(MANIFEST.to_string());
    want.sort();
    assert_eq!(now, want);
    assert_eq!(
        std::fs::metadata(aof_dir(dir.path()).join(&base.file))
            .unwrap()
            .len(),
        base_size
    );
    check_aof(dir.path());
    let ttl: i64 = q(&mut c, &["PEXPIRETIME", "key:7"]);
    drop(c);
    drop(s); // kill -9

    let s = start(dir.path(), threads, &[]);
    let mut c = s.client();
    let size: usize = q(&mut c, &["DBSIZE"]);
    assert_eq!(size, 100_000 + 1 + 2 * n);
    for i in (0..100_000).step_by(997) {
        let v: String = q(&mut c, &["GET", &format!("key:{i}")]);
        assert_eq!(v, i.to_string());
    }
    for i in 0..n {
        let v: String = q(&mut c, &["GET", &format!("w:{i}")]);
        assert_eq!(v, i.to_string());
    }
    let list: Vec<String> = q(&mut c, &["LRANGE", "list", "0", "-1"]);
    let mut want: Vec<String> = (0..n).rev().map(|i| i.to_string()).collect();
    want.extend(["a".to_string(), "b".to_string()]);
    assert_eq!(list, want);
    assert_eq!(q::<i64>(&mut c, &["PEXPIRETIME", "key:7"]), ttl);
}

#[test]
fn bgrewriteaof_under_writes_1_thread() {
    if ringbus_only() {
        rewrite_under_writes(1);
    }
}

#[test]
fn bgrewriteaof_under_writes_3_threads() {
    if ringbus_only() {
        rewrite_under_writes(3);
    }
}

/// kill -9 at several moments of a rewrite (its base half written, its
/// manifest switching): after the restart every acknowledged INCR is there
/// (the counter is the number acknowledged, or one more for the one in
/// flight), and so is every key written before.
#[test]
fn kill_9_during_a_rewrite_loses_nothing() {
    if !ringbus_only() {
        return;
    }
    for (round, delay_ms) in [2u64, 20, 60, 150].into_iter().enumerate() {
        let dir = TempDir::new("aof-rewrite-kill");
        let s = start(dir.path(), 2, &[]);
        let mut c = s.client();
        set_keys(&mut c, 150_000);
        let acked = Arc::new(AtomicUsize::new(0));
        let writer = {
            let acked = acked.clone();
            let mut w = s.client();
            std::thread::spawn(move || {
                // Until the kill: the first failed reply ends it.
                while redis::cmd("INCR")
                    .arg("counter")
                    .query::<i64>(&mut w)
                    .is_ok()
                {
                    acked.fetch_add(1, Ordering::AcqRel);
                }
            })
        };
        wait_for("the writer to start", 10, || {
            acked.load(Ordering::Acquire) > 10
        });
        let r: String = q(&mut c, &["BGREWRITEAOF"]);
        assert_eq!(r, "Background append only file rewriting started");
        std::thread::sleep(Duration::from_millis(delay_ms));
        drop(c);
        drop(s); // kill -9
        writer.join().unwrap();
        let n = acked.load(Ordering::Acquire) as i64;
        let s = start(dir.path(), 2, &[]);
        let mut c = s.client();
        let got: i64 = q(&mut c, &["GET", "counter"]);
        assert!(
            got == n || got == n + 1,
            "round {round} (kill {delay_ms} ms into the rewrite): counter {got}, {n} acknowledged"
        );
        let size: usize = q(&mut c, &["DBSIZE"]);
        assert_eq!(size, 150_001, "round {round}");
        no_rewrite(&mut c);
        check_aof(dir.path());
    }
}

// ------------------------------------------------------------------ 4. interop

/// Copies `from`'s log directory into `to`.
fn copy_log(from: &Path, to: &Path) {
    std::fs::create_dir_all(aof_dir(to)).unwrap();
    for f in files_in(from) {
        std::fs::copy(aof_dir(from).join(&f), aof_dir(to).join(&f)).unwrap();
    }
}

/// redis-server 7.0 writes a log (a base, RDB or commands, then incremental
/// files); ringbus loads it at 1 and at 3 threads.
fn from_redis(preamble: &str) {
    let dir = TempDir::new("aof-from-redis");
    let lib = {
        let mut r = start_redis(dir.path(), preamble);
        let mut c = r.client();
        wait_for("redis's first base", 10, || {
            info_field(&mut c, "aof_rewrite_in_progress") == "0"
                && info_field(&mut c, "aof_rewrite_scheduled") == "0"
        });
        fill(&mut c);
        std::thread::sleep(Duration::from_millis(5));
        ok(&mut c, &["BGREWRITEAOF"]);
        wait_for("redis's rewrite", 10, || {
            info_field(&mut c, "aof_rewrite_in_progress") == "0"
                && info_field(&mut c, "aof_rewrite_scheduled") == "0"
        });
        fill_more(&mut c);
        let want = functions(&mut c);
        let mut raw = r.raw();
        raw.send(&resp(&["SHUTDOWN", "NOSAVE"]));
        wait_for("redis to exit", 10, || !r.is_alive());
        want
    };
    // What redis-server itself loads from its log is the reference: Redis
    // 7.0 does not log everything of a stream group's state (a group's
    // entries-read once it is unknown comes back as it was at the base).
    let want = {
        let copy = TempDir::new("aof-from-redis-copy");
        copy_log(dir.path(), copy.path());
        let r = start_redis(copy.path(), preamble);
        let mut c = r.client();
        canon(&mut c, true)
    };
    assert!(want.contains_key(&(0, "x:s".to_string())));
    let m = manifest(dir.path());
    let ext = if preamble == "yes" {
        ".base.rdb"
    } else {
        ".base.aof"
    };
    assert!(
        m.iter().any(|l| l.kind == "b" && l.file.ends_with(ext)),
        "{m:?}"
    );
    assert!(
        m.iter()
            .filter(|l| l.kind == "i")
            .any(|l| std::fs::metadata(aof_dir(dir.path()).join(&l.file))
                .unwrap()
                .len()
                > 0),
        "writes after the rewrite are in an incremental file: {m:?}"
    );
    for threads in [1, 3, 1] {
        let s = start(dir.path(), threads, &[]);
        let mut c = s.client();
        same(
            &canon(&mut c, true),
            &want,
            &format!("redis (preamble {preamble}) -> ringbus at {threads} threads"),
        );
        assert_eq!(functions(&mut c), lib);
        let got: String = q(&mut c, &["FCALL_RO", "readone", "1", "fn:3"]);
        assert_eq!(got, "again");
        no_rewrite(&mut c);
        check_aof(dir.path());
    }
}

#[test]
fn loads_redis_7_logs_with_an_rdb_base() {
    if ringbus_only() {
        from_redis("yes");
    }
}

#[test]
fn loads_redis_7_logs_with_a_command_base() {
    if ringbus_only() {
        from_redis("no");
    }
}

// ------------------------------------------------------------------ 5. torn / corrupt

/// Runs ringbus to exit (it must not start): exit status and output. While
/// it runs, every reply to a read of `probe` must be -LOADING or nothing.
fn must_not_start(dir: &Path, extra: &[&str], probe: &str) -> String {
    let port = common::free_port();
    let mut child = Command::new(binary())
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--dir", dir.to_str().unwrap(), "--save", ""])
        .args(["--appendonly", "yes", "--threads", "2"])
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "ringbus did not exit");
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
            if s.write_all(&resp(&["GET", probe])).is_ok() {
                let mut buf = [0u8; 256];
                if let Ok(n) = s.read(&mut buf) {
                    let got = String::from_utf8_lossy(&buf[..n]);
                    assert!(
                        n == 0 || got.starts_with("-LOADING"),
                        "served while the log could not load: {got:?}"
                    );
                }
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!status.success(), "started anyway:\n{text}");
    text
}

/// Writes `n` keys `k<i>` on 2 threads and kills the server.
fn two_logs(dir: &Path, n: usize) {
    let s = start(dir, 2, &[]);
    let mut c = s.client();
    for i in 0..n {
        ok(&mut c, &["SET", &format!("k{i}"), &i.to_string()]);
    }
}

#[test]
fn a_torn_last_record_is_cut_with_aof_load_truncated() {
    if !ringbus_only() {
        return;
    }
    let dir = TempDir::new("aof-torn");
    two_logs(dir.path(), 200);
    let last = incr_files(dir.path()).pop().unwrap();
    let good = std::fs::read(&last).unwrap();
    let record = resp(&["SET", "torn", "a value that never made it"]);
    let mut torn = good.clone();
    torn.extend_from_slice(&record[..record.len() / 2]);
    std::fs::write(&last, &torn).unwrap();
    let name = last.file_name().unwrap().to_str().unwrap().to_string();

    // aof-load-truncated no: refuses, naming the file.
    let text = must_not_start(dir.path(), &["--aof-load-truncated", "no"], "k1");
    assert!(text.contains(&name), "names {name}: {text}");
    assert_eq!(std::fs::read(&last).unwrap(), torn, "left as it was");

    // yes (the default): starts, warns, keeps every complete record.
    let s = start(dir.path(), 2, &[]);
    let mut c = s.client();
    assert_eq!(q::<usize>(&mut c, &["DBSIZE"]), 200);
    for i in 0..200 {
        assert_eq!(
            q::<String>(&mut c, &["GET", &format!("k{i}")]),
            i.to_string()
        );
    }
    assert_eq!(q::<Option<String>>(&mut c, &["GET", "torn"]), None);
    let log = s.log_text();
    assert!(
        log.contains("Warning")
            && log.contains(&name)
            && log.contains(&format!("offset {}", good.len())),
        "warns, naming file and offset:\n{log}"
    );
    assert_eq!(
        std::fs::read(&last).unwrap(),
        good,
        "truncated to the last whole record"
    );
    // And goes on appending after it.
    ok(&mut c, &["SET", "after", "1"]);
    drop(c);
    drop(s);
    check_aof(dir.path());
    let s = start(dir.path(), 2, &[]);
    let mut c = s.client();
    assert_eq!(q::<usize>(&mut c, &["DBSIZE"]), 201);
}

#[test]
fn garbage_in_the_middle_stops_start_up_naming_file_and_offset() {
    if !ringbus_only() {
        return;
    }
    let dir = TempDir::new("aof-garbage");
    two_logs(dir.path(), 200);
    let first = incr_files(dir.path()).remove(0);
    let good = std::fs::read(&first).unwrap();
    // At a record boundary in the middle of the file.
    let marker = b"*3\r\n$3\r\nSET\r\n";
    let mid = (good.len() / 2..good.len())
        .find(|&i| good[i..].starts_with(marker))
        .unwrap();
    let mut bad = good[..mid].to_vec();
    bad.extend_from_slice(b"this is not a record\r\n");
    bad.extend_from_slice(&good[mid..]);
    std::fs::write(&first, &bad).unwrap();
    let name = first.file_name().unwrap().to_str().unwrap().to_string();
    for extra in [&[][..], &["--aof-load-truncated", "no"]] {
        let text = must_not_start(dir.path(), extra, "k1");
        assert!(
            text.contains(&name) && text.contains(&format!("offset {mid}")),
            "names {name} and offset {mid}: {text}"
        );
    }
    assert_eq!(std::fs::read(&first).unwrap(), bad, "not truncated");

    // A byte flipped inside a record, too.
    let mut flipped = good.clone();
    let at = (good.len() / 2..good.len())
        .find(|&i| good[i] == b'$')
        .unwrap();
    flipped[at] = b'%';
    std::fs::write(&first, &flipped).unwrap();
    let text = must_not_start(dir.path(), &[], "k1");
    assert!(text.contains(&name) && text.contains("offset"), "{text}");
}

// ------------------------------------------------------------------ 6. cross-shard cut

/// A key among `prefix<i>` that lives on `shard` of `n`.
fn key_on(prefix: &str, shard: usize, n: usize) -> String {
    (0..)
        .map(|i| format!("{prefix}{i}"))
        .find(|k| shard_of(k.as_bytes(), n) == shard)
        .unwrap()
}

fn block(txn: Option<(u64, usize)>, cmds: &[&[&str]]) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some((id, parts)) = txn {
        out.extend_from_slice(format!("#TXN:{id}:{parts}\r\n").as_bytes());
    }
    out.extend(resp(&["MULTI"]));
    for c in cmds {
        out.extend(resp(c));
    }
    out.extend(resp(&["EXEC"]));
    out
}

/// A hand-made log of 2 shards: transaction 5 complete on both, 7 only in
/// shard 0's file (a crash before shard 1's part reached disk), 9 complete
/// but after 7 in shard 0's file. Recovery applies 5 and drops 7, all
/// that follows it in shard 0's file, and so 9, with what follows 9 in
/// shard 1's file.
#[test]
fn recovery_cuts_a_transaction_missing_a_part() {
    if !ringbus_only() {
        return;
    }
    for threads in [2, 1, 3] {
        let dir = TempDir::new("aof-txn");
        let ad = aof_dir(dir.path());
        std::fs::create_dir_all(&ad).unwrap();
        std::fs::write(
            ad.join(MANIFEST),
            "file appendonly.aof.1.incr.aof seq 1 type i shard 0 shards 2\n\
             file appendonly.aof.2.incr.aof seq 2 type i shard 1 shards 2\n",
        )
        .unwrap();
        let k0 = |p: &str| key_on(p, 0, 2);
        let k1 = |p: &str| key_on(p, 1, 2);
        let (a0, t5a, b0, t7a, after7, t9a) = (
            k0("a"),
            k0("t5a"),
            k0("b"),
            k0("t7a"),
            k0("after7"),
            k0("t9a"),
        );
        let (c1, t5b, d1, t9b, after9) = (k1("c"), k1("t5b"), k1("d"), k1("t9b"), k1("after9"));
        let five = k0("five");
        let mut f0 = resp(&["SELECT", "0"]);
        f0.extend(resp(&["SET", &a0, "1"]));
        f0.extend(block(
            Some((5, 2)),
            &[&["SET", &t5a, "5"], &["RPUSH", &five, "x"]],
        ));
        f0.extend(resp(&["SET", &b0, "2"]));
        f0.extend(block(Some((7, 2)), &[&["SET", &t7a, "7"]]));
        f0.extend(resp(&["SET", &after7, "no"]));
        f0.extend(block(Some((9, 2)), &[&["SET", &t9a, "9"]]));
        let mut f1 = resp(&["SELECT", "0"]);
        f1.extend(resp(&["SET", &c1, "3"]));
        f1.extend(block(Some((5, 2)), &[&["SET", &t5b, "5"]]));
        f1.extend(resp(&["SET", &d1, "4"]));
        let keep1 = f1.len();
        f1.extend(block(Some((9, 2)), &[&["SET", &t9b, "9"]]));
        f1.extend(resp(&["SET", &after9, "no"]));
        // Shard 0 keeps everything before transaction 7's part.
        let f0_keep = f0.windows(7).position(|w| w == b"#TXN:7:").unwrap();
        std::fs::write(ad.join("appendonly.aof.1.incr.aof"), &f0).unwrap();
        std::fs::write(ad.join("appendonly.aof.2.incr.aof"), &f1).unwrap();
        // Redis's checker reads the hand-made files as valid.
        check_aof(dir.path());

        let s = start(dir.path(), threads, &[]);
        let mut c = s.client();
        let get = |c: &mut Connection, k: &str| q::<Option<String>>(c, &["GET", k]);
        for (k, v) in [
            (&a0, "1"),
            (&t5a, "5"),
            (&b0, "2"),
            (&c1, "3"),
            (&t5b, "5"),
            (&d1, "4"),
        ] {
            assert_eq!(
                get(&mut c, k).as_deref(),
                Some(v),
                "{k} at {threads} threads"
            );
        }
        assert_eq!(
            q::<Vec<String>>(&mut c, &["LRANGE", &five, "0", "-1"]),
            ["x"]
        );
        for k in [&t7a, &after7, &t9a, &t9b, &after9] {
            assert_eq!(get(&mut c, k), None, "{k} at {threads} threads");
        }
        assert_eq!(q::<usize>(&mut c, &["DBSIZE"]), 7);
        assert!(s.log_text().contains("Warning"), "{}", s.log_text());
        if threads == 2 {
            // The files were cut where recovery stopped, and go on from there.
            let m = manifest(dir.path());
            assert_eq!(m.len(), 2, "{m:?}");
            assert_eq!(
                std::fs::read(ad.join("appendonly.aof.1.incr.aof")).unwrap(),
                &f0[..f0_keep]
            );
            assert_eq!(
                std::fs::read(ad.join("appendonly.aof.2.incr.aof")).unwrap(),
                &f1[..keep1]
            );
        }
        ok(&mut c, &["SET", &t7a, "later"]);
        drop(c);
        drop(s);
        check_aof(dir.path());
        let s = start(dir.path(), threads, &[]);
        let mut c = s.client();
        assert_eq!(get(&mut c, &t7a).as_deref(), Some("later"));
        assert_eq!(get(&mut c, &after7), None);
        assert_eq!(q::<usize>(&mut c, &["DBSIZE"]), 8);
    }
}

// ------------------------------------------------------------------ 7. CONFIG

const OPTIONS: [&str; 9] = [
    "appendonly",
    "appendfsync",
    "appenddirname",
    "appendfilename",
    "auto-aof-rewrite-percentage",
    "auto-aof-rewrite-min-size",
    "aof-load-truncated",
    "aof-use-rdb-preamble",
    "aof-timestamp-enabled",
];

/// CONFIG GET/SET of the options, answered as redis-server answers.
#[test]
fn config_get_and_set_as_redis() {
    if !ringbus_only() {
        return;
    }
    let s = Server::start(2);
    let r = Server::start_redis(&[]);
    let (mut c, mut rc) = (s.client(), r.client());
    for o in OPTIONS {
        let got: Vec<String> = q(&mut c, &["CONFIG", "GET", o]);
        let want: Vec<String> = q(&mut rc, &["CONFIG", "GET", o]);
        assert_eq!(got, want, "CONFIG GET {o}");
    }
    let got: BTreeMap<String, String> = q(&mut c, &["CONFIG", "GET", "*aof*"]);
    let want: BTreeMap<String, String> = q(&mut rc, &["CONFIG", "GET", "*aof*"]);
    for (k, v) in &got {
        assert_eq!(Some(v), want.get(k), "CONFIG GET *aof* {k}");
    }
    for (o, v) in [
        ("appendfsync", "always"),
        ("appendfsync", "no"),
        ("appendfsync", "EVERYSEC"),
        ("auto-aof-rewrite-percentage", "50"),
        ("auto-aof-rewrite-percentage", "0"),
        ("auto-aof-rewrite-min-size", "1mb"),
        ("auto-aof-rewrite-min-size", "12345"),
        ("aof-timestamp-enabled", "yes"),
        ("aof-load-truncated", "no"),
        ("aof-use-rdb-preamble", "yes"),
    ] {
        ok(&mut c, &["CONFIG", "SET", o, v]);
        ok(&mut rc, &["CONFIG", "SET", o, v]);
        let got: Vec<String> = q(&mut c, &["CONFIG", "GET", o]);
        let want: Vec<String> = q(&mut rc, &["CONFIG", "GET", o]);
        assert_eq!(got, want, "CONFIG SET {o} {v}");
    }
    let bad = unlike_redis(
        &s,
        &r,
        &[
            ("appenddirname", "other"),
            ("appendfilename", "other.aof"),
            ("appendonly", "maybe"),
            ("appendonly", ""),
            ("auto-aof-rewrite-percentage", "-1"),
            ("aof-load-truncated", "2"),
            ("aof-timestamp-enabled", "on"),
            ("aof-use-rdb-preamble", "maybe"),
        ],
    );
    assert!(bad.is_empty(), "errors unlike Redis's:\n{}", bad.join("\n"));
    assert_eq!(
        err(&s, &["CONFIG", "SET", "appenddirname", "x"]),
        "ERR CONFIG SET failed (possibly related to argument 'appenddirname') - can't set \
         immutable config"
    );
    // ringbus writes its bases as RDB only: `no` is refused, saying why.
    let e = err(&s, &["CONFIG", "SET", "aof-use-rdb-preamble", "no"]);
    assert!(
        e.starts_with(
            "ERR CONFIG SET failed (possibly related to argument 'aof-use-rdb-preamble')"
        ),
        "{e}"
    );
}

/// The CONFIG SET errors of `s` that differ from `r`'s, for bad values.
fn unlike_redis(s: &Server, r: &Server, cases: &[(&str, &str)]) -> Vec<String> {
    let mut bad = Vec::new();
    for (o, v) in cases {
        let args = ["CONFIG", "SET", o, v];
        let (got, want) = (err(s, &args), err(r, &args));
        if got != want {
            bad.push(format!("{args:?}:\n  got  {got}\n  want {want}"));
        }
    }
    bad
}

/// More bad values, whose errors differ from Redis's (7.0 and 7.2 alike).
#[test]
fn config_set_bad_values_error_as_redis() {
    if !ringbus_only() {
        return;
    }
    let s = Server::start(1);
    let r = Server::start_redis(&[]);
    let bad = unlike_redis(
        &s,
        &r,
        &[
            ("appendfsync", "sometimes"),
            ("auto-aof-rewrite-percentage", "abc"),
            ("auto-aof-rewrite-min-size", "lots"),
            ("auto-aof-rewrite-min-size", "-5"),
        ],
    );
    assert!(bad.is_empty(), "errors unlike Redis's:\n{}", bad.join("\n"));
}

/// CONFIG SET appendonly yes at run time writes a base and starts the
/// logs; what was written before and after survives kill -9.
#[test]
fn config_set_appendonly_yes_at_run_time() {
    if !ringbus_only() {
        return;
    }
    for threads in [1, 3] {
        let dir = TempDir::new("aof-enable");
        let want = {
            let s = start(dir.path(), threads, &["--appendonly", "no"]);
            let mut c = s.client();
            assert_eq!(info_field(&mut c, "aof_enabled"), "0");
            fill(&mut c);
            assert!(!aof_dir(dir.path()).exists());
            ok(&mut c, &["CONFIG", "SET", "appendonly", "yes"]);
            wait_for("the first base", 20, || {
                info_field(&mut c, "aof_enabled") == "1"
                    && info_field(&mut c, "aof_rewrite_in_progress") == "0"
                    && info_field(&mut c, "aof_rewrite_scheduled") == "0"
                    && manifest_ready(dir.path())
            });
            let m = manifest(dir.path());
            let base = m.iter().find(|l| l.kind == "b").expect("a base");
            assert!(base.file.ends_with(".base.rdb"), "{m:?}");
            assert_eq!(m.iter().filter(|l| l.kind == "i").count(), threads, "{m:?}");
            let base_size: u64 = info_field(&mut c, "aof_base_size").parse().unwrap();
            assert!(base_size > 0);
            fill_more(&mut c);
            let want = canon(&mut c, false);
            no_rewrite(&mut c);
            check_aof(dir.path());
            want
        };
        let s = start(dir.path(), threads, &[]);
        let mut c = s.client();
        same(&canon(&mut c, false), &want, &format!("{threads} threads"));
    }
}

fn manifest_ready(dir: &Path) -> bool {
    aof_dir(dir).join(MANIFEST).exists() && manifest(dir).iter().any(|l| l.kind == "b")
}

/// CONFIG SET appendonly no: the log stops; started again with the log
/// on, it has what was written before.
#[test]
fn config_set_appendonly_no_stops_logging() {
    if !ringbus_only() {
        return;
    }
    let dir = TempDir::new("aof-disable");
    {
        let s = start(dir.path(), 2, &[]);
        let mut c = s.client();
        ok(&mut c, &["MSET", "before:1", "1", "before:2", "2"]);
        ok(&mut c, &["CONFIG", "SET", "appendonly", "no"]);
        assert_eq!(info_field(&mut c, "aof_enabled"), "0");
        let sizes: Vec<u64> = incr_files(dir.path())
            .iter()
            .map(|f| std::fs::metadata(f).unwrap().len())
            .collect();
        ok(&mut c, &["MSET", "after:1", "1", "after:2", "2"]);
        ok(&mut c, &["SET", "before:1", "changed"]);
        let now: Vec<u64> = incr_files(dir.path())
            .iter()
            .map(|f| std::fs::metadata(f).unwrap().len())
            .collect();
        assert_eq!(sizes, now, "nothing logged once appendonly is no");
    }
    let s = start(dir.path(), 2, &[]);
    let mut c = s.client();
    let got: Vec<Option<String>> = q(
        &mut c,
        &["MGET", "before:1", "before:2", "after:1", "after:2"],
    );
    assert_eq!(got, [Some("1".into()), Some("2".into()), None, None]);
}

// ------------------------------------------------------------------ 8. disk full

/// A small tmpfs, unmounted when dropped.
struct Tmpfs(TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Result<Tmpfs, String> {
        let d = TempDir::new("aof-tmpfs");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(d.path())
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(Tmpfs(d))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

/// Fills `path` until the file system refuses; returns how much it wrote.
fn fill_disk(path: &Path) -> u64 {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 64 * 1024];
    let mut n = 0u64;
    loop {
        match f.write(&block) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k as u64,
        }
    }
    loop {
        match f.write(&block[..1]) {
            Ok(0) | Err(_) => break,
            Ok(_) => n += 1,
        }
    }
    n
}

/// A server with 50 keys on a 4 MB tmpfs, the rest of which is filled;
/// a client thread's SET of a 64 KB value (larger than a page, so it
/// cannot fit) is in flight. None when no tmpfs can be mounted.
struct FullDisk {
    server: Server,
    filler: PathBuf,
    big: String,
    blocked: std::thread::JoinHandle<redis::RedisResult<String>>,
    fs: Tmpfs,
}

fn full_disk() -> Option<FullDisk> {
    let fs = match Tmpfs::mount("4m") {
        Ok(fs) => fs,
        Err(why) => {
            println!("skipped: cannot mount a tmpfs ({why})");
            return None;
        }
    };
    let server = start(fs.0.path(), 2, &[]);
    let mut c = server.client();
    for i in 0..50 {
        ok(&mut c, &["SET", &format!("k{i}"), &i.to_string()]);
    }
    let filler = fs.0.path().join("filler");
    assert!(fill_disk(&filler) > 0);
    let big = "b".repeat(64 * 1024);
    let blocked = {
        let mut w = server.client();
        w.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let big = big.clone();
        std::thread::spawn(move || -> redis::RedisResult<String> {
            redis::cmd("SET").arg("big").arg(big).query(&mut w)
        })
    };
    wait_for("the write error in the server's output", 10, || {
        server.log_text().contains("Error writing to the AOF file")
    });
    Some(FullDisk {
        server,
        filler,
        big,
        blocked,
        fs,
    })
}

/// After the disk is freed: the write in flight is acknowledged, writing
/// goes on, and after kill -9 all acknowledged writes are there.
fn after_full_disk(d: FullDisk) {
    let FullDisk {
        server,
        filler,
        big,
        blocked,
        fs,
    } = d;
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(blocked.join().unwrap().unwrap(), "OK");
    let mut c = server.client();
    wait_for("aof_last_write_status:ok", 10, || {
        info_field(&mut c, "aof_last_write_status") == "ok"
    });
    ok(&mut c, &["SET", "after", "1"]);
    drop(c);
    drop(server);
    let s = start(fs.0.path(), 2, &[]);
    let mut c = s.client();
    for i in 0..50 {
        assert_eq!(
            q::<String>(&mut c, &["GET", &format!("k{i}")]),
            i.to_string()
        );
    }
    assert_eq!(q::<String>(&mut c, &["GET", "big"]), big);
    assert_eq!(q::<String>(&mut c, &["GET", "after"]), "1");
    assert_eq!(q::<Option<String>>(&mut c, &["GET", "refused"]), None);
    assert_eq!(q::<usize>(&mut c, &["DBSIZE"]), 52);
    drop(c);
    drop(s);
}

/// A write whose record cannot reach the disk is not acknowledged until
/// it does; then writing goes on and nothing acknowledged is lost.
#[test]
fn a_full_disk_holds_the_write_until_space_comes_back() {
    if !ringbus_only() {
        return;
    }
    let Some(d) = full_disk() else { return };
    std::thread::sleep(Duration::from_millis(300));
    assert!(!d.blocked.is_finished(), "acknowledged without its record");
    after_full_disk(d);
}

/// Meanwhile (the issue: "turns writes into MISCONF while reads go on"):
/// other writes get MISCONF at once, reads are answered, INFO says err.
#[test]
fn a_full_disk_refuses_writes_and_serves_reads() {
    if !ringbus_only() {
        return;
    }
    let Some(d) = full_disk() else { return };
    let s = &d.server;
    let mut c = s.client();
    assert_eq!(info_field(&mut c, "aof_last_write_status"), "err");
    assert_eq!(
        err(s, &["SET", "refused", "1"]),
        "MISCONF Errors writing to the AOF file: No space left on device"
    );
    assert_eq!(
        err(s, &["RPUSH", "refused", "1"]),
        "MISCONF Errors writing to the AOF file: No space left on device"
    );
    assert_eq!(q::<String>(&mut c, &["GET", "k7"]), "7");
    assert_eq!(q::<usize>(&mut c, &["EXISTS", "k1", "k2"]), 2);
    assert!(!d.blocked.is_finished(), "acknowledged without its record");
    drop(c);
    after_full_disk(d);
}

// ------------------------------------------------------------------ 9. shutdown

/// SHUTDOWN and SIGTERM with appendfsync everysec: what was written right
/// before is there after the restart.
#[test]
fn shutdown_and_sigterm_flush_the_log() {
    if !ringbus_only() {
        return;
    }
    let dir = TempDir::new("aof-shutdown");
    let everysec = ["--appendfsync", "everysec"];
    for (round, how) in ["SHUTDOWN", "SIGTERM", "SHUTDOWN NOSAVE"]
        .iter()
        .enumerate()
    {
        let mut s = start(dir.path(), 3, &everysec);
        let mut c = s.client();
        let mut p = redis::pipe();
        for i in 0..2000 {
            p.cmd("RPUSH").arg(format!("q{round}")).arg(i).ignore();
            p.cmd("SET").arg(format!("k{round}:{i}")).arg(i).ignore();
        }
        let _: () = p.query(&mut c).unwrap();
        ok(
            &mut c,
            &[
                "MSET",
                &format!("last{round}"),
                "a",
                &format!("LAST{round}"),
                "b",
            ],
        );
        if *how == "SIGTERM" {
            // SAFETY: a signal to the server process this test started.
            unsafe { libc::kill(s.pid() as libc::pid_t, libc::SIGTERM) };
        } else {
            let args: Vec<&str> = how.split(' ').collect();
            s.raw().send(&resp(&args));
        }
        wait_for("the server to exit", 10, || !s.is_alive());
        let log = s.log_text();
        assert!(log.contains("fsync"), "{how}: {log}");
        drop(s);
        let s = start(dir.path(), 2, &everysec);
        let mut c = s.client();
        for r in 0..=round {
            assert_eq!(
                q::<usize>(&mut c, &["LLEN", &format!("q{r}")]),
                2000,
                "{how}"
            );
            let last: Vec<String> = q(&mut c, &["MGET", &format!("last{r}"), &format!("LAST{r}")]);
            assert_eq!(last, ["a", "b"], "{how}");
        }
        assert_eq!(q::<usize>(&mut c, &["DBSIZE"]), (round + 1) * 2003);
    }
}

// ------------------------------------------------------------------ 10. timestamps

#[test]
fn timestamp_annotations_are_read_back() {
    if !ringbus_only() {
        return;
    }
    for threads in [1, 3] {
        let dir = TempDir::new("aof-ts");
        let want = {
            let s = start(dir.path(), threads, &["--aof-timestamp-enabled", "yes"]);
            let mut c = s.client();
            fill(&mut c);
            std::thread::sleep(Duration::from_millis(5));
            fill_more(&mut c);
            canon(&mut c, false)
        };
        let recs = all_records(dir.path());
        let ts: Vec<&Vec<String>> = recs.iter().filter(|r| r[0].starts_with("#TS:")).collect();
        assert!(!ts.is_empty(), "no #TS: annotation");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        for t in ts {
            let secs: u64 = t[0]["#TS:".len()..].parse().expect("#TS:<unix seconds>");
            assert!(secs <= now + 1 && secs + 600 > now, "{t:?}");
        }
        check_aof(dir.path());
        let s = start(dir.path(), threads, &[]);
        let mut c = s.client();
        same(&canon(&mut c, false), &want, "with timestamps");
        // Turned on at run time, too.
        ok(&mut c, &["CONFIG", "SET", "aof-timestamp-enabled", "no"]);
        let before = all_records(dir.path()).len();
        ok(&mut c, &["SET", "plain", "1"]);
        ok(&mut c, &["CONFIG", "SET", "aof-timestamp-enabled", "yes"]);
        std::thread::sleep(Duration::from_millis(1100));
        ok(&mut c, &["SET", "stamped", "1"]);
        let recs = all_records(dir.path());
        let new = &recs[before..];
        let stamped = new
            .iter()
            .position(|r| r.get(1).map(String::as_str) == Some("stamped"));
        let stamped = stamped.expect("SET stamped logged");
        assert!(
            new[..stamped].iter().any(|r| r[0].starts_with("#TS:")),
            "{new:?}"
        );
        no_rewrite(&mut c);
        check_aof(dir.path());
    }
}
