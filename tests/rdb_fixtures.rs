//! Files in the encodings Redis 7 no longer writes (zipmap, ziplist lists,
//! sorted sets and hashes, quicklists of ziplists, intsets, stream type 15,
//! string scores, second-based expiry, RDB 6-9 headers), and Redis 7.2's
//! RDB 11 additions, built byte by byte from the format description, since
//! old Redis versions cannot be installed here.
//!
//! Each fixture is decoded by `ringbus::persist::rdb` and compared with the
//! values it spells out; the RDB 6-10 ones are also loaded into
//! redis-server 7.0 (which still reads them all), so Redis's own loader
//! vouches for both the fixture and the decoding.

mod common;
#[path = "fixtures/rdb_old.rs"]
mod fixtures;

use common::{RawConn, Reply, Server, TempDir};
use fixtures::*;
use ringbus::persist::rdb::format::rdb_type;
use ringbus::persist::rdb::{
    Checksum, EncodeOptions, ErrorKind, Item, RdbReader, RdbWriter, StreamId, Value,
};

#[test]
fn old_encodings_decode() {
    let items = decode(&v6_file());
    assert!(matches!(
        items.last(),
        Some(Item::Eof(Checksum::Verified(_)))
    ));
    let got = keys(&items);
    let want = v6_expected();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w, "key {}", String::from_utf8_lossy(&w.0));
    }
    assert!(items.contains(&Item::SelectDb(2)));

    let items = decode(&v7_file());
    assert!(items.contains(&Item::Aux {
        key: b("redis-ver"),
        value: b("3.2.0")
    }));
    assert!(items.contains(&Item::Aux {
        key: b("redis-bits"),
        value: b("64")
    }));
    assert!(items.contains(&Item::ResizeDb {
        db_size: 1,
        expires_size: 0
    }));
    assert_eq!(
        keys(&items),
        [(
            b("ql"),
            rdb_type::LIST_QUICKLIST,
            None,
            list(&["a", "b", "1", "c"])
        )]
    );

    let items = decode(&v8_file());
    let k: Vec<_> = items
        .iter()
        .filter_map(|i| {
            if let Item::Key(k) = i {
                Some((k.key.clone(), k.lru_idle, k.lfu_freq))
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        k,
        [
            (b("z2"), None, None),
            (b("idle"), Some(100), None),
            (b("freq"), None, Some(5))
        ]
    );
    assert_eq!(
        keys(&items)[0].3,
        Value::ZSet(vec![(b("a"), 1.5), (b("b"), -2.0)])
    );

    let items = decode(&v9_file());
    assert!(matches!(
        items.last(),
        Some(Item::Eof(Checksum::NotComputed))
    ));
    let k = keys(&items);
    // The empty one: Redis takes the greatest ID as its first.
    let Value::Stream(empty) = &k[0].3 else {
        panic!()
    };
    assert_eq!(empty.meta.first_id, StreamId::new(u64::MAX, u64::MAX));
    assert_eq!(empty.meta.last_id, StreamId::new(5, 0));
    assert_eq!(k[1].1, rdb_type::STREAM_LISTPACKS);
    assert_eq!(k[1].3, Value::Stream(Box::new(v9_expected())));

    let items = decode(&v10_rc_function_file());
    let lib = b"#!LUA name=oldlib\nredis.register_function('oldf', function() return 7 end)";
    assert_eq!(items[0], Item::Function(lib.to_vec()));
}

#[test]
fn rdb11_fixture_decodes_and_our_encoder_writes_it_byte_for_byte() {
    let items = decode(&v11_file());
    let k = keys(&items);
    assert_eq!(
        k[0],
        (
            b("slp"),
            rdb_type::SET_LISTPACK,
            None,
            Value::Set(vec![b("a"), b("1")])
        )
    );
    assert_eq!(
        k[1],
        (
            b("st3"),
            rdb_type::STREAM_LISTPACKS_3,
            None,
            Value::Stream(Box::new(v11_stream()))
        )
    );

    let opts = EncodeOptions {
        compression: false,
        ..EncodeOptions::rdb11()
    };
    let mut w = RdbWriter::new(Vec::new(), opts).unwrap();
    w.select_db(0, 2, 0).unwrap();
    w.write_value(b"slp", None, &Value::Set(vec![b("a"), b("1")]))
        .unwrap();
    w.write_value(b"st3", None, &Value::Stream(Box::new(v11_stream())))
        .unwrap();
    assert_eq!(w.finish().unwrap(), v11_file());
}

/// A module value (type 7): refused, naming the module.
#[test]
fn module_data_is_refused_clearly() {
    // Module id of "mymodule1" with encoding version 0.
    let cset = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let id = b"mymodule1".iter().fold(0u64, |acc, c| {
        (acc << 6) | cset.iter().position(|x| x == c).unwrap() as u64
    }) << 10;
    let mut body = b"REDIS0009\xFE\x00\x07\x01k\x81".to_vec();
    body.extend_from_slice(&id.to_be_bytes());
    let f = file(&[&body], true);
    let err = RdbReader::new(&f[..])
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap_err();
    assert!(
        matches!(&err.kind, ErrorKind::Module { name } if name == "mymodule1"),
        "{err}"
    );
    assert_eq!(err.offset, 11);
    assert!(err.to_string().contains("'mymodule1'"), "{err}");
    // Module aux data likewise.
    let mut body = b"REDIS0009\xF7\x81".to_vec();
    body.extend_from_slice(&id.to_be_bytes());
    body.extend_from_slice(&[0x02, 0x02]);
    let err = RdbReader::new(&file(&[&body], true)[..])
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Module { .. }), "{err}");
}

fn r(c: &mut RawConn, args: &[&[u8]]) -> Reply {
    let rep = Reply::parse(&c.cmd_bytes(args));
    assert!(!matches!(rep, Reply::Error(_)), "{rep:?}");
    rep
}

/// The value the server holds at `key`, as our value model.
fn server_value(c: &mut RawConn, key: &[u8]) -> Value {
    let bulk = |x: &Reply| match x {
        Reply::Bulk(v) => v.clone(),
        other => panic!("{other:?}"),
    };
    match r(c, &[b"TYPE", key]).as_text().as_str() {
        "string" => Value::String(bulk(&r(c, &[b"GET", key]))),
        "list" => Value::List(
            r(c, &[b"LRANGE", key, b"0", b"-1"])
                .as_array()
                .iter()
                .map(bulk)
                .collect(),
        ),
        "set" => {
            let mut m: Vec<Vec<u8>> = r(c, &[b"SMEMBERS", key])
                .as_array()
                .iter()
                .map(bulk)
                .collect();
            m.sort();
            Value::Set(m)
        }
        "zset" => {
            let rep = r(c, &[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]);
            let mut z: Vec<(Vec<u8>, f64)> = rep
                .as_array()
                .chunks(2)
                .map(|p| (bulk(&p[0]), p[1].as_text().parse().unwrap()))
                .collect();
            z.sort_by(|a, b| a.0.cmp(&b.0));
            Value::ZSet(z)
        }
        "hash" => {
            let rep = r(c, &[b"HGETALL", key]);
            let mut h: Vec<(Vec<u8>, Vec<u8>)> = rep
                .as_array()
                .chunks(2)
                .map(|p| (bulk(&p[0]), bulk(&p[1])))
                .collect();
            h.sort();
            Value::Hash(h)
        }
        t => panic!("type {t}"),
    }
}

fn sorted(v: &Value) -> Value {
    match v.clone() {
        Value::Set(mut s) => {
            s.sort();
            Value::Set(s)
        }
        Value::Hash(mut h) => {
            h.sort();
            Value::Hash(h)
        }
        Value::ZSet(mut z) => {
            z.sort_by(|a, b| a.0.cmp(&b.0));
            Value::ZSet(z)
        }
        other => other,
    }
}

/// Redis 7.0 loads each fixture to the values our decoder read from it.
#[test]
fn redis_loads_the_fixtures_to_the_same_values() {
    let (mut checked_keys, mut checked_functions) = (0, 0);
    for (name, bytes) in [
        ("v6", v6_file()),
        ("v7", v7_file()),
        ("v8", v8_file()),
        ("v9", v9_file()),
        ("v10rc", v10_rc_function_file()),
    ] {
        let dir = TempDir::new("rdb-fixture");
        std::fs::write(dir.path().join("dump.rdb"), &bytes).unwrap();
        let srv = Server::start_redis(&["--dir", &dir.arg()]);
        let mut c = srv.raw();
        let items = decode(&bytes);
        let mut db = 0u64;
        for it in &items {
            match it {
                Item::SelectDb(d) => {
                    db = *d;
                    r(&mut c, &[b"SELECT", db.to_string().as_bytes()]);
                }
                Item::Key(k) => {
                    checked_keys += 1;
                    let what = format!("{name} db {db} key {}", String::from_utf8_lossy(&k.key));
                    let pexp = r(&mut c, &[b"PEXPIRETIME", &k.key]).as_int();
                    assert_eq!(pexp, k.expire_ms.unwrap_or(-1), "{what}");
                    if let Value::Stream(s) = &k.value {
                        let info: Vec<(String, Reply)> =
                            r(&mut c, &[b"XINFO", b"STREAM", &k.key]).as_pairs();
                        let get = |f: &str| info.iter().find(|(k, _)| k == f).unwrap().1.clone();
                        assert_eq!(get("length").as_int() as u64, s.meta.length, "{what}");
                        assert_eq!(
                            get("entries-added").as_int() as u64,
                            s.meta.entries_added,
                            "{what}"
                        );
                        assert_eq!(
                            get("recorded-first-entry-id").as_text(),
                            s.meta.first_id.to_string(),
                            "{what}"
                        );
                        assert_eq!(
                            get("max-deleted-entry-id").as_text(),
                            s.meta.max_deleted_id.to_string(),
                            "{what}"
                        );
                        assert_eq!(
                            get("last-generated-id").as_text(),
                            s.meta.last_id.to_string(),
                            "{what}"
                        );
                        let groups = r(&mut c, &[b"XINFO", b"GROUPS", &k.key]);
                        assert_eq!(groups.as_array().len(), s.groups.len(), "{what}");
                        if s.groups.is_empty() {
                            continue;
                        }
                        let g: Vec<(String, Reply)> = groups.as_array()[0].as_pairs();
                        let gget = |f: &str| g.iter().find(|(k, _)| k == f).unwrap().1.clone();
                        assert_eq!(
                            gget("entries-read").as_int() as u64,
                            s.groups[0].entries_read.unwrap(),
                            "{what}"
                        );
                        assert_eq!(
                            gget("pending").as_int() as usize,
                            s.groups[0].pending.len(),
                            "{what}"
                        );
                        let xr = r(&mut c, &[b"XRANGE", &k.key, b"-", b"+"]);
                        assert_eq!(xr.as_array().len(), s.entries.len(), "{what}");
                        let pel = r(&mut c, &[b"XPENDING", &k.key, b"g", b"-", b"+", b"10"]);
                        let p = pel.as_array()[0].as_array();
                        assert_eq!(
                            p[1].as_text().as_bytes(),
                            &s.groups[0].pending[0].consumer[..],
                            "{what}"
                        );
                    } else {
                        assert_eq!(server_value(&mut c, &k.key), sorted(&k.value), "{what}");
                    }
                }
                Item::Function(_) => {
                    checked_functions += 1;
                    let got = r(&mut c, &[b"FCALL", b"oldf", b"0"]);
                    assert_eq!(got, Reply::Int(7), "{name}");
                }
                _ => {}
            }
        }
    }
    assert_eq!((checked_keys, checked_functions), (15 + 1 + 3 + 2, 1));
}

/// Every fixture, cut short anywhere, is an error (and never a panic).
#[test]
fn truncated_fixtures_are_errors() {
    for bytes in [
        v6_file(),
        v7_file(),
        v8_file(),
        v9_file(),
        v10_rc_function_file(),
        v11_file(),
    ] {
        for n in 0..bytes.len() {
            let r = RdbReader::new(&bytes[..n]).and_then(|r| r.collect::<Result<Vec<_>, _>>());
            assert!(r.is_err(), "a file cut at {n} of {} decoded", bytes.len());
        }
    }
}
