//! Multi-key commands whose keys live on different shards must be atomic: a
//! concurrent reader never sees half of an MSET, a DEL or a RENAME.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use common::Server;
use redis::Commands;
use ringbus::shard::route::shard_of;

const SHARDS: usize = 3;

/// `n` key names that live on `n` different shards of a 3-shard server.
fn keys_on_distinct_shards(n: usize) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    let mut used = Vec::new();
    for i in 0.. {
        let key = format!("atom:{i}");
        let shard = shard_of(key.as_bytes(), SHARDS);
        if !used.contains(&shard) {
            used.push(shard);
            keys.push(key);
        }
        if keys.len() == n {
            break;
        }
    }
    keys
}

#[test]
fn mset_is_never_seen_half_done() {
    let server = Server::start(SHARDS);
    let keys = keys_on_distinct_shards(3);
    let stop = Arc::new(AtomicBool::new(false));
    let mut writer = server.client();
    let reader = {
        let (mut c, keys, stop) = (server.client(), keys.clone(), stop.clone());
        thread::spawn(move || {
            let mut reads = 0;
            while !stop.load(Ordering::Relaxed) {
                let values: Vec<Option<i64>> = c.mget(&keys).unwrap();
                assert!(
                    values.windows(2).all(|w| w[0] == w[1]),
                    "torn MSET seen: {values:?}"
                );
                reads += 1;
            }
            reads
        })
    };
    for i in 0..2000i64 {
        let pairs: Vec<(&str, i64)> = keys.iter().map(|k| (k.as_str(), i)).collect();
        let _: () = writer.mset(&pairs).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let reads = reader.join().unwrap();
    assert!(reads > 0);
}

#[test]
fn single_key_reads_never_see_part_of_an_mset() {
    // A reader that GETs the keys one by one, in the order MSET writes them,
    // must never find a later key older than an earlier one.
    let server = Server::start(SHARDS);
    let keys = keys_on_distinct_shards(2);
    let stop = Arc::new(AtomicBool::new(false));
    let mut writer = server.client();
    let reader = {
        let (mut c, keys, stop) = (server.client(), keys.clone(), stop.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let second: Option<i64> = c.get(&keys[1]).unwrap();
                let first: Option<i64> = c.get(&keys[0]).unwrap();
                assert!(
                    first >= second,
                    "first={first:?} older than second={second:?}"
                );
            }
        })
    };
    for i in 0..2000i64 {
        let _: () = writer.mset(&[(&keys[0], i), (&keys[1], i)]).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    reader.join().unwrap();
}

#[test]
fn rename_across_shards_keeps_exactly_one_key() {
    let server = Server::start(SHARDS);
    let keys = keys_on_distinct_shards(2);
    let (a, b) = (keys[0].clone(), keys[1].clone());
    let mut writer = server.client();
    let _: () = writer.set(&a, "payload").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (mut c, keys, stop) = (server.client(), keys.clone(), stop.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let n: i64 = redis::cmd("EXISTS").arg(&keys).query(&mut c).unwrap();
                assert_eq!(n, 1, "RENAME seen half done");
            }
        })
    };
    for i in 0..1000 {
        let (from, to) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let _: () = writer.rename(from, to).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    reader.join().unwrap();
    let value: String = writer.get(&a).unwrap();
    assert_eq!(value, "payload");
}

#[test]
fn concurrent_cross_shard_transactions_do_not_deadlock() {
    // Several clients MSET the same keys in different orders at once: the
    // shard-ordered locking must let every one of them finish.
    let server = Server::start(SHARDS);
    let keys = keys_on_distinct_shards(3);
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let (mut c, mut keys) = (server.client(), keys.clone());
            thread::spawn(move || {
                keys.rotate_left(t % 3);
                for i in 0..500i64 {
                    let pairs: Vec<(&str, i64)> = keys.iter().map(|k| (k.as_str(), i)).collect();
                    let _: () = c.mset(&pairs).unwrap();
                    let _: i64 = c.del(&keys[..2]).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut c = server.client();
    let _: () = c.set(&keys[0], "alive").unwrap();
    let v: String = c.get(&keys[0]).unwrap();
    assert_eq!(v, "alive");
}
