//! Pipelining: many requests in one write, replies in order, reads see the
//! writes before them even when consecutive commands go to different shards.

mod common;

use common::*;
use std::collections::HashMap;
use std::io::Write;

sharded_tests!(
    mixed_pipeline_of_1000,
    read_your_writes,
    cross_shard_ordering,
    large_pipeline_with_concurrent_writer,
    concurrent_pipelining_clients,
    redis_crate_pipeline,
);

/// Small deterministic generator (no external crates).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Build a random mix of SET/GET/INCR/MGET/DEL/EXISTS with a model of the
/// expected replies.
fn build_mix(seed: u64, n: usize, keyspace: u64, prefix: &str) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut rng = Lcg(seed);
    let mut model: HashMap<String, String> = HashMap::new();
    let mut req = Vec::new();
    let mut expected = Vec::new();
    let key = |i: u64| format!("{prefix}{i}");
    for _ in 0..n {
        match rng.below(6) {
            0 => {
                let k = key(rng.below(keyspace));
                let v = format!("v{}", rng.next());
                req.extend(encode_str(&["SET", &k, &v]));
                model.insert(k, v);
                expected.push(ok());
            }
            1 => {
                let k = key(rng.below(keyspace));
                req.extend(encode_str(&["GET", &k]));
                expected.push(model.get(&k).map_or_else(nil, |v| bulk(v)));
            }
            2 => {
                // Counters live in their own keys so they are always integers.
                let k = format!("{}:cnt", key(rng.below(keyspace)));
                let by = rng.below(100) as i64 - 50;
                req.extend(encode_str(&["INCRBY", &k, &by.to_string()]));
                let cur: i64 = model.get(&k).map_or(0, |v| v.parse().unwrap());
                model.insert(k, (cur + by).to_string());
                expected.push(int(cur + by));
            }
            3 => {
                let count = 1 + rng.below(8);
                let keys: Vec<String> = (0..count)
                    .map(|_| {
                        let k = key(rng.below(keyspace));
                        if rng.below(3) == 0 {
                            format!("{k}:cnt")
                        } else {
                            k
                        }
                    })
                    .collect();
                let mut args = vec!["MGET"];
                args.extend(keys.iter().map(|k| k.as_str()));
                req.extend(encode_str(&args));
                let items: Vec<Vec<u8>> = keys
                    .iter()
                    .map(|k| model.get(k).map_or_else(nil, |v| bulk(v)))
                    .collect();
                expected.push(array(&items));
            }
            4 => {
                let k = key(rng.below(keyspace));
                req.extend(encode_str(&["DEL", &k]));
                expected.push(int(model.remove(&k).is_some() as i64));
            }
            _ => {
                let a = key(rng.below(keyspace));
                let b = key(rng.below(keyspace));
                req.extend(encode_str(&["EXISTS", &a, &b]));
                let n = model.contains_key(&a) as i64 + model.contains_key(&b) as i64;
                expected.push(int(n));
            }
        }
    }
    (req, expected)
}

fn check_replies(c: &mut RawConn, expected: &[Vec<u8>]) {
    for (i, exp) in expected.iter().enumerate() {
        let got = c.read_reply();
        assert_eq!(show(&got), show(exp), "reply #{i} of the pipeline");
    }
}

fn mixed_pipeline_of_1000(s: &Server) {
    let mut c = s.raw();
    let (req, expected) = build_mix(42, 1000, 150, "pk:");
    c.send(&req);
    check_replies(&mut c, &expected);
    // The connection is still in sync afterwards.
    c.check(&["PING"], b"+PONG\r\n");
}

fn read_your_writes(s: &Server) {
    let mut c = s.raw();
    let mut req = Vec::new();
    let mut expected = Vec::new();
    for i in 0..200 {
        let k = format!("ryw:{i}");
        let v = format!("value-{i}");
        req.extend(encode_str(&["SET", &k, &v]));
        expected.push(ok());
        req.extend(encode_str(&["GET", &k]));
        expected.push(bulk(&v));
        req.extend(encode_str(&["APPEND", &k, "!"]));
        expected.push(int(v.len() as i64 + 1));
        req.extend(encode_str(&["GET", &k]));
        expected.push(bulk(&format!("{v}!")));
        req.extend(encode_str(&["DEL", &k]));
        expected.push(int(1));
        req.extend(encode_str(&["GET", &k]));
        expected.push(nil());
        req.extend(encode_str(&["INCR", &k]));
        expected.push(int(1));
    }
    c.send(&req);
    check_replies(&mut c, &expected);
}

fn cross_shard_ordering(s: &Server) {
    let mut c = s.raw();
    let mut req = Vec::new();
    let mut expected = Vec::new();
    for i in 0..50 {
        let a = format!("a{{{i}}}");
        let b = format!("b{{{}}}", i + 1000);
        let mut push = |args: &[&str], exp: Vec<u8>| {
            req.extend(encode_str(args));
            expected.push(exp);
        };
        push(&["SET", &a, "x"], ok());
        push(&["RENAME", &a, &b], ok());
        push(&["GET", &b], bulk("x"));
        push(&["MGET", &a, &b], array(&[nil(), bulk("x")]));
        push(&["MSET", &a, "1", &b, "2"], ok());
        push(&["INCR", &a], int(2));
        push(&["MSETNX", &a, "9", "fresh", "9"], int(0));
        push(
            &["MGET", &a, &b, "fresh"],
            array(&[bulk("2"), bulk("2"), nil()]),
        );
        push(&["DEL", &a, &b], int(2));
        push(&["EXISTS", &a, &b], int(0));
    }
    c.send(&req);
    check_replies(&mut c, &expected);
}

fn large_pipeline_with_concurrent_writer(s: &Server) {
    let mut c = s.raw();
    let (req, expected) = build_mix(7, 20_000, 500, "big:");
    // Write from another thread so neither side can block on full buffers.
    let mut w = c.stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        for chunk in req.chunks(16 * 1024) {
            w.write_all(chunk).unwrap();
        }
    });
    check_replies(&mut c, &expected);
    writer.join().unwrap();
}

fn concurrent_pipelining_clients(s: &Server) {
    let port = s.port();
    let handles: Vec<_> = (0..4u64)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = RawConn::connect(port);
                let (req, expected) = build_mix(100 + t, 2000, 100, &format!("c{t}:"));
                let mut w = c.stream.try_clone().unwrap();
                let writer = std::thread::spawn(move || w.write_all(&req).unwrap());
                check_replies(&mut c, &expected);
                writer.join().unwrap();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    // Shared counters incremented from several connections at once.
    let handles: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = RawConn::connect(port);
                let mut req = Vec::new();
                for i in 0..500 {
                    req.extend(encode_str(&["INCR", &format!("shared:{}", i % 25)]));
                }
                c.send(&req);
                for _ in 0..500 {
                    let r = c.read_reply();
                    assert!(r.starts_with(b":"), "{}", show(&r));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut c = s.raw();
    for i in 0..25 {
        c.check(&["GET", &format!("shared:{i}")], &bulk("80"));
    }
}

fn redis_crate_pipeline(s: &Server) {
    let mut con = s.client();
    let mut p = redis::pipe();
    for i in 0..300 {
        p.cmd("SET").arg(format!("rp:{i}")).arg(i).ignore();
    }
    for i in 0..300 {
        p.cmd("INCR").arg(format!("rp:{i}"));
    }
    let got: Vec<i64> = p.query(&mut con).unwrap();
    assert_eq!(got, (1..=300).collect::<Vec<i64>>());
}
