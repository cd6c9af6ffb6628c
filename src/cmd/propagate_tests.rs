//! What writes report to the log: each rewritten command's record against
//! Redis 7.2's form, and the property the log rests on: replaying every
//! shard's records on fresh shards gives the same keyspace.

use std::sync::{Arc, Mutex};

use super::cross::{self, first_holding};
use super::lists::{self, End, Move};
use super::spec::KeyShards;
use super::stream_read::{self, GroupRead};
use super::table::{self, CommandSpec};
use super::{zsets, Exec};
use crate::resp::{Out, Proto};
use crate::shard::ctx::{run, with_ctx_at, Ctx, Shards, ShardsExt};
use crate::shard::effects::{Effect, EffectSink};
use crate::shard::route::shard_of;
use crate::shard::{Shard, ShardLimits};
use crate::types::stream::StreamId;
use crate::types::Value;

/// One record: its database and arguments.
type Record = (usize, Vec<Vec<u8>>);

type Records = Arc<Mutex<Vec<Record>>>;

/// Records every command a shard reports.
struct Capture(Records);

impl EffectSink for Capture {
    fn effect(&mut self, _: &Effect) {}

    fn command(&mut self, db: usize, argv: &[&[u8]]) {
        let argv = argv.iter().map(|a| a.to_vec()).collect();
        self.0.lock().unwrap().push((db, argv));
    }
}

/// Shards of their own, all here, with one clock: what a transaction
/// holding every shard sees.
struct Cluster {
    shards: Vec<Shard>,
    records: Vec<Records>,
    now: u64,
}

impl Shards for Cluster {
    fn count(&self) -> usize {
        self.shards.len()
    }

    fn with_ctx(&mut self, shard: usize, db: usize, f: &mut dyn FnMut(&mut Ctx)) {
        with_ctx_at(&mut self.shards[shard], db, self.now, f);
    }
}

fn limits() -> Arc<ShardLimits> {
    Arc::new(ShardLimits {
        proto_max_bulk_len: (512 << 20).into(),
        rdb_compression: true.into(),
    })
}

fn resolve(argv: &[&[u8]]) -> &'static CommandSpec {
    let spec = table::lookup(argv[0]).expect("a known command");
    match spec.exec {
        Exec::Container => spec.subcommand(argv[1]).expect("a known subcommand"),
        _ => spec,
    }
}

impl Cluster {
    fn new(n: usize, now: u64, capture: bool) -> Cluster {
        let mut shards: Vec<Shard> = (0..n).map(|i| Shard::new(i, 2, limits())).collect();
        let records: Vec<Records> = (0..n).map(|_| Records::default()).collect();
        if capture {
            for (s, r) in shards.iter_mut().zip(&records) {
                s.sinks.add(Box::new(Capture(r.clone())));
            }
        }
        Cluster {
            shards,
            records,
            now,
        }
    }

    /// Runs a command as `exec::call` would: its shard form where its keys
    /// share a shard, its cross-shard form otherwise. Returns the reply.
    fn call(&mut self, db: usize, argv: &[&[u8]]) -> Vec<u8> {
        let spec = resolve(argv);
        let n = self.shards.len();
        let mut out = Out::new(Proto::Resp2);
        let f = match spec.exec {
            Exec::Shard(f) => f,
            Exec::Multi(_, across) if spec.shards_of_keys(argv, n) == KeyShards::Several => {
                cross::run(self, across, db, argv, &mut out);
                return out.buf;
            }
            Exec::Multi(f, _) => f,
            _ => panic!("{} is not a shard command", spec.name),
        };
        let shard = spec.first_key(argv).map_or(0, |k| shard_of(k, n));
        let now = self.now;
        with_ctx_at(&mut self.shards[shard], db, now, |ctx| {
            run(f, ctx, argv, &mut out)
        });
        out.buf
    }

    fn call_str(&mut self, db: usize, cmd: &str) -> Vec<u8> {
        let argv: Vec<&[u8]> = cmd.split(' ').map(str::as_bytes).collect();
        self.call(db, &argv)
    }

    /// Every record so far, per shard, taken.
    fn take_records(&mut self) -> Vec<Vec<Record>> {
        self.records
            .iter()
            .map(|r| std::mem::take(&mut *r.lock().unwrap()))
            .collect()
    }

    /// Replays `records` shard by shard, each record on its own shard,
    /// through the command table (as the log's recovery does).
    fn replay(&mut self, records: &[Vec<Record>]) {
        let n = self.shards.len();
        for (s, list) in records.iter().enumerate() {
            for (db, argv) in list {
                let argv: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
                let spec = resolve(&argv);
                let keys = spec.shards_of_keys(&argv, n);
                assert!(
                    matches!(keys, KeyShards::None) || keys == KeyShards::One(s),
                    "a record replays on its own shard: {:?}",
                    show(&argv)
                );
                let f = match spec.exec {
                    Exec::Shard(f) | Exec::Multi(f, _) => f,
                    _ => panic!("{} is not a shard command", spec.name),
                };
                let mut out = Out::new(Proto::Resp2);
                let now = self.now;
                with_ctx_at(&mut self.shards[s], *db, now, |ctx| {
                    run(f, ctx, &argv, &mut out)
                });
                assert!(
                    !out.buf.starts_with(b"-"),
                    "replaying {:?} failed: {}",
                    show(&argv),
                    String::from_utf8_lossy(&out.buf)
                );
            }
        }
    }

    /// Every key of every shard and database: name, TTL and value in a
    /// form that does not depend on encodings or hash order.
    fn keyspace(&self) -> Vec<String> {
        let mut all = Vec::new();
        for (s, shard) in self.shards.iter().enumerate() {
            for (d, db) in shard.dbs.iter().enumerate() {
                for (key, entry) in db.live_keys(self.now) {
                    all.push(format!(
                        "{s}/{d} {:?} ttl={:?} {}",
                        String::from_utf8_lossy(key),
                        entry.expire_at(),
                        canon(&entry.value)
                    ));
                }
            }
        }
        all.sort();
        all
    }
}

fn canon(v: &Value) -> String {
    match v {
        Value::Str(s) => format!("string {:?}", String::from_utf8_lossy(s)),
        Value::List(l) => format!("list {:?}", l.iter_from(0).collect::<Vec<_>>()),
        Value::Hash(h) => {
            let mut pairs: Vec<_> = h.iter().collect();
            pairs.sort();
            format!("hash {pairs:?}")
        }
        Value::Set(s) => {
            let mut members: Vec<Vec<u8>> = s.iter().map(|e| e.to_vec()).collect();
            members.sort();
            format!("set {members:?}")
        }
        Value::ZSet(z) => format!("zset {:?}", z.range(0, z.len(), false).collect::<Vec<_>>()),
        Value::Stream(s) => {
            // A consumer's seen and active times are the clock's, which no
            // record carries (nor does Redis's): everything else must match.
            let mut groups = s.groups.clone();
            for c in groups.values_mut().flat_map(|g| g.consumers.values_mut()) {
                c.seen_time = 0;
                c.active_time = None;
            }
            format!(
                "stream {:?} last={:?} first={:?} maxdel={:?} added={} groups={groups:?}",
                s.range(StreamId::MIN, StreamId::MAX, 0, false),
                s.last_id,
                s.first_id,
                s.max_deleted_id,
                s.entries_added,
            )
        }
    }
}

fn show(argv: &[&[u8]]) -> String {
    argv.iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The records of one shard, as text.
fn texts(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|(_, argv)| {
            let refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
            show(&refs)
        })
        .collect()
}

/// The records of a one-shard cluster after `cmds`, as text.
fn records_of(cmds: &[&str]) -> Vec<String> {
    let mut c = Cluster::new(1, 1_000_000, true);
    for cmd in cmds {
        c.call_str(0, cmd);
    }
    texts(&c.take_records()[0])
}

// ------------------------------------------------------------ the forms

#[test]
fn relative_expiries_become_deadlines() {
    // Redis 7.0.15's appendonly file for the same commands, with its clock
    // at 1,000,000 ms.
    assert_eq!(
        records_of(&[
            "SET a v EX 100",
            "SET a v PX 100000 GET",
            "SET a v EXAT 4000000",
            "SET a v KEEPTTL",
            "SETEX a 100 v",
            "PSETEX a 100000 v",
            "SET b v NX",
            "EXPIRE b 100",
            "PEXPIRE b 100000 GT",
            "EXPIREAT b 4000",
            "PEXPIREAT b 4000001",
            "EXPIRE b 100 NX",
            "EXPIRE b -1",
            "SET c v",
            "GETEX c EX 100",
            "GETEX c PERSIST",
            "GETEX c",
            "GETEX c PXAT 1",
        ]),
        [
            "SET a v PXAT 1100000",
            "SET a v PXAT 1100000",
            "SET a v PXAT 4000000000",
            "SET a v KEEPTTL",
            "SET a v PXAT 1100000",
            "SET a v PXAT 1100000",
            "SET b v NX",
            "PEXPIREAT b 1100000",
            "PEXPIREAT b 4000000",
            "PEXPIREAT b 4000001",
            "DEL b",
            "SET c v",
            "PEXPIREAT c 1100000",
            "PERSIST c",
            "DEL c",
        ]
    );
}

#[test]
fn float_increments_become_their_results() {
    assert_eq!(
        records_of(&[
            "SET f 1.5",
            "INCRBYFLOAT f 2.25",
            "HSET h x 1.5",
            "HINCRBYFLOAT h x 0.5",
        ]),
        [
            "SET f 1.5",
            "SET f 3.75 KEEPTTL",
            "HSET h x 1.5",
            "HSET h x 2"
        ]
    );
}

#[test]
fn spop_becomes_the_members_removed() {
    let mut c = Cluster::new(1, 1_000_000, true);
    c.call_str(0, "SADD s a b c d e f");
    c.call_str(0, "SPOP s");
    c.call_str(0, "SPOP s 2");
    c.call_str(0, "SPOP s 0");
    c.call_str(0, "SRANDMEMBER s 2");
    c.call_str(0, "SPOP s 100");
    // A plain SPOP of the last member is its SREM, as Redis's spopCommand.
    c.call_str(0, "SADD t a");
    c.call_str(0, "SPOP t");
    let got = texts(&c.take_records()[0]);
    assert_eq!(got.len(), 6, "{got:?}");
    assert!(got[1].starts_with("SREM s ") && got[1].split(' ').count() == 3);
    assert!(got[2].starts_with("SREM s ") && got[2].split(' ').count() == 4);
    assert_eq!(got[3], "DEL s");
    assert_eq!(got[5], "SREM t a");
}

#[test]
fn pops_and_moves_become_their_plain_forms() {
    let mut c = Cluster::new(1, 1_000_000, true);
    c.call_str(0, "RPUSH l a b c d e f");
    c.call_str(0, "LMPOP 1 l LEFT COUNT 2");
    c.call_str(0, "LMPOP 2 nolist l RIGHT COUNT 10");
    c.call_str(0, "RPUSH l a b c");
    // What BLPOP, BLMPOP and BLMOVE do, at once or for a blocked client.
    c.with_ctx(0, 0, &mut |ctx| {
        lists::pop_logged(ctx, b"l", End::Left, 1).unwrap();
    });
    let mv = Move {
        src: b"l".to_vec(),
        dst: b"m".to_vec(),
        from: End::Right,
        to: End::Left,
    };
    mv.run_across(&mut c, 0).unwrap();
    c.call_str(0, "ZADD z 1 a 2 b 3 c");
    c.with_ctx(0, 0, &mut |ctx| {
        zsets::pop_logged(ctx, b"z", true, 1).unwrap();
    });
    c.call_str(0, "ZMPOP 1 z MIN COUNT 5");
    assert_eq!(
        texts(&c.take_records()[0]),
        [
            "RPUSH l a b c d e f",
            "LPOP l 2",
            "RPOP l 4",
            "RPUSH l a b c",
            "LPOP l",
            "LMOVE l m RIGHT LEFT",
            "ZADD z 1 a 2 b 3 c",
            "ZPOPMAX z",
            "ZPOPMIN z 2",
        ]
    );
}

#[test]
fn stream_ids_and_trims_become_exact() {
    let mut c = Cluster::new(1, 1_000_000, true);
    c.call_str(0, "XADD x 1-1 a 1");
    c.call_str(0, "XADD x * a 2");
    c.call_str(0, "XADD x 1000000-* a 3");
    c.call_str(0, "XADD x MAXLEN ~ 10 * a 4");
    c.call_str(0, "XADD x MAXLEN = 2 * a 5");
    c.call_str(0, "XTRIM x MAXLEN ~ 0");
    c.call_str(0, "XTRIM x MAXLEN 1");
    assert_eq!(
        texts(&c.take_records()[0]),
        [
            "XADD x 1-1 a 1",
            "XADD x 1000000-0 a 2",
            "XADD x 1000000-1 a 3",
            "XADD x MAXLEN = 4 1000000-2 a 4",
            "XADD x MAXLEN = 2 1000000-3 a 5",
            // `~ 0` took the whole node; MAXLEN 1 then had nothing to do.
            "XTRIM x MAXLEN = 0",
        ]
    );
}

#[test]
fn group_reads_and_claims_become_their_delivery_state() {
    let mut c = Cluster::new(1, 1_000_000, true);
    c.call_str(0, "XADD x 1-1 a 1");
    c.call_str(0, "XADD x 1-2 a 2");
    c.call_str(0, "XGROUP CREATE x g 0");
    let read = |c: &mut Cluster, consumer: &str, noack: bool| {
        let g = GroupRead {
            group: b"g".to_vec(),
            consumer: consumer.as_bytes().to_vec(),
            noack,
        };
        c.with_ctx(0, 0, &mut |ctx| {
            stream_read::serve_blocked(ctx, b"x", Some(&g), StreamId::MIN, 10).unwrap();
        });
    };
    read(&mut c, "c1", false);
    read(&mut c, "c2", false);
    c.call_str(0, "XADD x 1-3 a 3");
    read(&mut c, "c3", true);
    c.call_str(0, "XCLAIM x g c4 0 1-1 IDLE 5");
    c.call_str(0, "XDEL x 1-2");
    c.call_str(0, "XAUTOCLAIM x g c5 0 0-0 COUNT 10 JUSTID");
    assert_eq!(
        texts(&c.take_records()[0]),
        [
            "XADD x 1-1 a 1",
            "XADD x 1-2 a 2",
            "XGROUP CREATE x g 0",
            "XCLAIM x g c1 0 1-1 TIME 1000000 RETRYCOUNT 1 FORCE JUSTID LASTID 1-2",
            "XCLAIM x g c1 0 1-2 TIME 1000000 RETRYCOUNT 1 FORCE JUSTID LASTID 1-2",
            "XGROUP SETID x g 1-2 ENTRIESREAD 2",
            "XGROUP CREATECONSUMER x g c2",
            "XADD x 1-3 a 3",
            "XGROUP CREATECONSUMER x g c3",
            "XGROUP SETID x g 1-3 ENTRIESREAD 3",
            "XCLAIM x g c4 0 1-1 TIME 999995 RETRYCOUNT 2 FORCE JUSTID LASTID 1-3",
            "XDEL x 1-2",
            "XCLAIM x g c5 0 1-1 TIME 1000000 RETRYCOUNT 2 FORCE JUSTID LASTID 1-3",
            "XACK x g 1-2",
        ]
    );
}

#[test]
fn cross_shard_forms_record_each_shards_share() {
    let mut c = Cluster::new(3, 1_000_000, true);
    // Keys known to land on different shards.
    let keys: Vec<String> = (0..64).map(|i| format!("k{i}")).collect();
    let on = |s: usize| {
        keys.iter()
            .find(|k| shard_of(k.as_bytes(), 3) == s)
            .unwrap()
    };
    let (a, b) = (on(0).clone(), on(1).clone());
    c.call_str(0, &format!("MSET {a} 1 {b} 2"));
    c.call_str(0, &format!("DEL {a} {b} nokey"));
    c.call_str(0, &format!("RPUSH {a} x y"));
    c.call_str(0, &format!("LMOVE {a} {b} LEFT RIGHT"));
    c.call_str(0, &format!("PEXPIRE {a} 5000"));
    c.call_str(0, &format!("RENAME {a} {b}"));
    let got = c.take_records();
    assert_eq!(
        texts(&got[0]),
        [
            format!("MSET {a} 1"),
            format!("DEL {a} nokey").replace(
                " nokey",
                if shard_of(b"nokey", 3) == 0 {
                    " nokey"
                } else {
                    ""
                }
            ),
            format!("RPUSH {a} x y"),
            format!("LPOP {a}"),
            format!("PEXPIREAT {a} 1005000"),
            format!("DEL {a}"),
        ]
    );
    let b_texts = texts(&got[1]);
    assert_eq!(b_texts[0], format!("MSET {b} 2"));
    assert_eq!(b_texts[2], format!("RPUSH {b} x"));
    assert!(b_texts[3].starts_with(&format!("RESTORE {b} 1005000 ")));
    assert!(b_texts[3].ends_with(" REPLACE ABSTTL"));
}

// ------------------------------------------------------------ replay

/// A small deterministic generator (xorshift), so a failure repeats.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// One random write (or what a blocking command does), from every family.
fn random_step(rng: &mut Rng, c: &mut Cluster, now: u64) {
    let db = if rng.below(8) == 0 { 1 } else { 0 };
    let k = |rng: &mut Rng, p: &str| format!("{p}{}", rng.below(5));
    let m = |rng: &mut Rng| ["a", "b", "c", "d", "e", "7", "12"][rng.below(7)];
    let n = rng.below(4) + 1;
    let cmd = match rng.below(56) {
        0 => format!(
            "SET {} v{n} {}",
            k(rng, "s"),
            rng.pick(&["EX 100", "PX 5000", "KEEPTTL", "NX", "XX GET", "PXAT 1", ""])
        ),
        1 => format!("SETEX {} 100 v", k(rng, "s")),
        2 => format!(
            "GETEX {} {}",
            k(rng, "s"),
            rng.pick(&["EX 50", "PERSIST", "PX 1", "PXAT 5", ""])
        ),
        3 => format!("INCRBYFLOAT {} 1.{n}", k(rng, "s")),
        4 => format!("MSET {} 1 {} 2 {} 3", k(rng, "s"), k(rng, "s"), k(rng, "s")),
        5 => format!("MSETNX {} 1 {} 2", k(rng, "s"), k(rng, "s")),
        6 => {
            let p = rng.pick(&["l", "t", "x"]);
            format!(
                "{} {} {}",
                rng.pick(&["DEL", "UNLINK"]),
                k(rng, "s"),
                k(rng, p)
            )
        }
        7 => {
            let p = rng.pick(&["s", "l", "h"]);
            format!(
                "EXPIRE {} {}",
                k(rng, p),
                rng.pick(&["100", "-1", "100 GT", "100 NX"])
            )
        }
        8 => format!("PEXPIREAT {} {}", k(rng, "z"), now + 9000),
        9 => format!("PERSIST {}", k(rng, "s")),
        10 => {
            let p = rng.pick(&["s", "l", "h", "t", "z", "x"]);
            format!(
                "{} {} {}",
                rng.pick(&["RENAME", "RENAMENX"]),
                k(rng, p),
                k(rng, p)
            )
        }
        11 => format!("APPEND {} x", k(rng, "s")),
        12 => format!("{} {} a{n} b", rng.pick(&["LPUSH", "RPUSH"]), k(rng, "l")),
        13 => format!("{} {} {n}", rng.pick(&["LPOP", "RPOP"]), k(rng, "l")),
        14 => format!(
            "LMOVE {} {} {} {}",
            k(rng, "l"),
            k(rng, "l"),
            rng.pick(&["LEFT", "RIGHT"]),
            rng.pick(&["LEFT", "RIGHT"])
        ),
        15 => format!("RPOPLPUSH {} {}", k(rng, "l"), k(rng, "l")),
        16 => format!("LMPOP 2 {} {} LEFT COUNT {n}", k(rng, "l"), k(rng, "l")),
        17 => format!("LREM {} 1 b", k(rng, "l")),
        18 => format!("LTRIM {} 1 -1", k(rng, "l")),
        19 => format!("HSET {} f{n} {n}", k(rng, "h")),
        20 => format!("HINCRBYFLOAT {} f{n} 0.{n}", k(rng, "h")),
        21 => format!("HDEL {} f{n}", k(rng, "h")),
        22 => format!("SADD {} {} {} {}", k(rng, "t"), m(rng), m(rng), m(rng)),
        23 => format!("SPOP {} {}", k(rng, "t"), rng.pick(&["", "2", "10", "0"])),
        24 => format!("SMOVE {} {} {}", k(rng, "t"), k(rng, "t"), m(rng)),
        25 => format!(
            "{} {} {} {}",
            rng.pick(&["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]),
            k(rng, "t"),
            k(rng, "t"),
            k(rng, "t")
        ),
        26 => format!("SREM {} {}", k(rng, "t"), m(rng)),
        27 => format!("ZADD {} {n} {} 2.5 {}", k(rng, "z"), m(rng), m(rng)),
        28 => format!("ZINCRBY {} 0.1 {}", k(rng, "z"), m(rng)),
        29 => format!(
            "{} {} {}",
            rng.pick(&["ZPOPMIN", "ZPOPMAX"]),
            k(rng, "z"),
            n
        ),
        30 => format!(
            "ZMPOP 2 {} {} {} COUNT {n}",
            k(rng, "z"),
            k(rng, "z"),
            rng.pick(&["MIN", "MAX"])
        ),
        31 => format!(
            "XADD {} {} * f {n}",
            k(rng, "x"),
            rng.pick(&["", "MAXLEN ~ 2", "MAXLEN = 3", "MINID ~ 0"])
                .trim()
        ),
        32 => format!("XADD {} {}-* f {n}", k(rng, "x"), now + rng.below(3) as u64),
        33 => format!(
            "XTRIM {} {}",
            k(rng, "x"),
            rng.pick(&["MAXLEN ~ 1", "MAXLEN 2", "MINID {now}-2"])
        )
        .replace("{now}", &now.to_string()),
        34 => format!(
            "XGROUP CREATE {} g{} {} MKSTREAM",
            k(rng, "x"),
            rng.below(2),
            rng.pick(&["0", "$"])
        ),
        35 => format!(
            "XGROUP CREATECONSUMER {} g{} c{n}",
            k(rng, "x"),
            rng.below(2)
        ),
        36 => format!(
            "XACK {} g{} {now}-{}",
            k(rng, "x"),
            rng.below(2),
            rng.below(4)
        ),
        37 => format!(
            "XCLAIM {} g{} c{n} {} {now}-{} {now}-{} {}",
            k(rng, "x"),
            rng.below(2),
            rng.pick(&["0", "10"]),
            rng.below(4),
            rng.below(4),
            rng.pick(&[
                "IDLE 5",
                "JUSTID",
                "RETRYCOUNT 7",
                "FORCE",
                "LASTID 9999999999999-0",
                ""
            ])
        ),
        38 => format!(
            "XAUTOCLAIM {} g{} c{n} 0 0-0 COUNT {n} {}",
            k(rng, "x"),
            rng.below(2),
            rng.pick(&["JUSTID", ""])
        ),
        39 => format!("XDEL {} {now}-{}", k(rng, "x"), rng.below(4)),
        40 => format!(
            "XGROUP SETID {} g{} {}",
            k(rng, "x"),
            rng.below(2),
            rng.pick(&["0", "$"])
        ),
        41 => format!("XGROUP DELCONSUMER {} g{} c{n}", k(rng, "x"), rng.below(2)),
        42 => {
            // XREADGROUP, at once or served to a blocked client: one key's read.
            let key = k(rng, "x");
            let g = GroupRead {
                group: format!("g{}", rng.below(2)).into_bytes(),
                consumer: format!("c{n}").into_bytes(),
                noack: rng.below(3) == 0,
            };
            let history = rng.below(3) == 0;
            c.ctx_of(key.as_bytes(), db, |ctx| {
                if history {
                    stream_read::serve_history(ctx, key.as_bytes(), &g, StreamId::MIN, n);
                } else {
                    let _ =
                        stream_read::serve_blocked(ctx, key.as_bytes(), Some(&g), StreamId::MIN, n);
                }
            });
            return;
        }
        43 => {
            // BLPOP / BLMPOP over keys of several shards, served at once.
            let keys = vec![k(rng, "l").into_bytes(), k(rng, "l").into_bytes()];
            let end = if rng.below(2) == 0 {
                End::Left
            } else {
                End::Right
            };
            let _ = first_holding(c, db, &keys, lists::holds_list, |ctx, key| {
                lists::pop_logged(ctx, key, end, n)
            });
            return;
        }
        44 => {
            // BLMOVE, at once (across shards) or served later (its shard).
            let mv = Move {
                src: k(rng, "l").into_bytes(),
                dst: k(rng, "l").into_bytes(),
                from: End::Right,
                to: End::Left,
            };
            let _ = mv.run_across(c, db);
            return;
        }
        45 => {
            // BZPOPMIN / BZMPOP.
            let keys = vec![k(rng, "z").into_bytes(), k(rng, "z").into_bytes()];
            let max = rng.below(2) == 0;
            let _ = first_holding(c, db, &keys, zsets::holds_zset, |ctx, key| {
                zsets::pop_logged(ctx, key, max, n)
            });
            return;
        }
        46 => {
            let key = k(rng, "h");
            let payload = super::propagate::payload(&Value::Str(b"restored".to_vec()));
            let argv: Vec<&[u8]> = vec![b"RESTORE", key.as_bytes(), b"5000", &payload, b"REPLACE"];
            c.call(db, &argv);
            return;
        }
        47 => {
            let src = |rng: &mut Rng| {
                let p = rng.pick(&["z", "z", "t"]);
                k(rng, p)
            };
            let (a, b) = (src(rng), src(rng));
            format!(
                "{} {} 2 {a} {b} {}",
                rng.pick(&["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]),
                k(rng, "z"),
                rng.pick(&[
                    "",
                    "WEIGHTS 0.1 -3",
                    "AGGREGATE MAX",
                    "WEIGHTS inf 1 AGGREGATE MIN"
                ])
            )
        }
        48 => format!(
            "ZRANGESTORE {} {} {}",
            k(rng, "z"),
            k(rng, "z"),
            rng.pick(&[
                "0 1",
                "-2 -1 REV",
                "(1 +inf BYSCORE LIMIT 1 2",
                "[a + BYLEX"
            ])
        ),
        // HyperLogLog: PFCOUNT writes its cache, PFMERGE spans shards,
        // PFDEBUG TODENSE is logged as sent.
        49 => format!("PFADD {} {} {} e{n}", k(rng, "p"), m(rng), m(rng)),
        50 => format!("PFCOUNT {}", k(rng, "p")),
        51 => format!("PFMERGE {} {} {}", k(rng, "p"), k(rng, "p"), k(rng, "p")),
        52 => format!("PFDEBUG TODENSE {}", k(rng, "p")),
        53 => format!(
            "GEOADD {} {n}.5 {n}.25 {} 1.75 2 {}",
            k(rng, "z"),
            m(rng),
            m(rng)
        ),
        54 => format!(
            "GEOSEARCHSTORE {} {} FROMLONLAT 2 2 BYRADIUS {} km {}",
            k(rng, "z"),
            k(rng, "z"),
            rng.pick(&["1", "300", "900"]),
            rng.pick(&["STOREDIST", "", "COUNT 1"])
        ),
        55 => format!(
            "GEORADIUS {} 2 2 {} km {} {}",
            k(rng, "z"),
            rng.pick(&["1", "300", "900"]),
            rng.pick(&["STORE", "STOREDIST"]),
            k(rng, "z")
        ),
        _ => format!("SETRANGE {} 2 xy", k(rng, "s")),
    };
    let cmd = cmd.trim().to_string();
    let argv: Vec<&[u8]> = cmd
        .split(' ')
        .filter(|a| !a.is_empty())
        .map(str::as_bytes)
        .collect();
    c.call(db, &argv);
}

#[test]
fn replaying_the_records_gives_the_same_keyspace() {
    let now = 1_700_000_000_000;
    for seed in 1..=40u64 {
        for shards in [1, 3] {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let mut live = Cluster::new(shards, now, true);
            for _ in 0..300 {
                random_step(&mut rng, &mut live, now);
            }
            let records = live.take_records();
            let mut replayed = Cluster::new(shards, now, false);
            replayed.replay(&records);
            let (want, got) = (live.keyspace(), replayed.keyspace());
            if want != got {
                let diff: Vec<_> = want
                    .iter()
                    .zip(&got)
                    .filter(|(a, b)| a != b)
                    .take(3)
                    .collect();
                panic!(
                    "seed {seed}, {shards} shards: replay differs ({} vs {} keys): {diff:#?}",
                    want.len(),
                    got.len()
                );
            }
        }
    }
}

#[test]
#[should_panic(expected = "with no record")]
fn a_write_with_no_record_is_caught() {
    if !cfg!(debug_assertions) && !crate::shard::propagation::enforced() {
        panic!("with no record (the check is off in this build)");
    }
    let mut c = Cluster::new(1, 1_000_000, true);
    // A write outside `run` that records nothing: what a forgotten
    // cross-shard form would do.
    c.with_ctx(0, 0, &mut |ctx| {
        ctx.db().set(b"k", Value::Str(b"v".to_vec()), None);
        ctx.wrote(b"k");
    });
}

/// Bitmap writes (BITOP across shards records its destination as SET or
/// DEL on the destination's shard) replay to the same keyspace.
#[test]
fn bitmap_records_replay_to_the_same_keyspace() {
    let now = 1_700_000_000_000;
    for seed in 1..=20u64 {
        for shards in [1, 3] {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let mut live = Cluster::new(shards, now, true);
            for _ in 0..200 {
                let k = |rng: &mut Rng| format!("b{}", rng.below(5));
                let off = rng.below(40);
                let cmd = match rng.below(6) {
                    0 => format!("SETBIT {} {off} {}", k(&mut rng), rng.below(2)),
                    1 => format!(
                        "BITOP {} {} {} {}",
                        rng.pick(&["AND", "OR", "XOR"]),
                        k(&mut rng),
                        k(&mut rng),
                        k(&mut rng)
                    ),
                    2 => format!("BITOP NOT {} {}", k(&mut rng), k(&mut rng)),
                    3 => format!(
                        "BITFIELD {} OVERFLOW {} INCRBY i5 {off} 9 SET u3 #{off} 5",
                        k(&mut rng),
                        rng.pick(&["WRAP", "SAT", "FAIL"])
                    ),
                    4 => format!("SET {} v{off} PX 5000", k(&mut rng)),
                    _ => format!("DEL {}", k(&mut rng)),
                };
                live.call_str(0, &cmd);
            }
            let records = live.take_records();
            let mut replayed = Cluster::new(shards, now, false);
            replayed.replay(&records);
            assert_eq!(
                live.keyspace(),
                replayed.keyspace(),
                "seed {seed}, {shards} shards"
            );
        }
    }
    // The shape of a cross-shard BITOP's record.
    let mut c = Cluster::new(3, now, true);
    let keys: Vec<String> = (0..64).map(|i| format!("k{i}")).collect();
    let on = |s: usize| {
        keys.iter()
            .find(|k| shard_of(k.as_bytes(), 3) == s)
            .unwrap()
    };
    let (a, b) = (on(0), on(1));
    c.call_str(0, &format!("SET {a} AB"));
    c.call_str(0, &format!("BITOP OR {b} {a} nokey"));
    c.call_str(0, &format!("BITOP AND {b} {a} nokey"));
    c.call_str(0, &format!("BITOP NOT {b} nokey"));
    let got = c.take_records();
    assert_eq!(
        texts(&got[1]),
        [
            format!("SET {b} AB"),
            format!("SET {b} \0\0"),
            format!("DEL {b}")
        ]
    );
}
