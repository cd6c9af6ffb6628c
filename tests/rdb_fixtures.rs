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

use common::{RawConn, Reply, Server, TempDir};
use ringbus::persist::rdb::format::{crc64, rdb_type};
use ringbus::persist::rdb::{
    Checksum, EncodeOptions, ErrorKind, Item, PendingEntry, RdbReader, RdbWriter, StreamConsumer,
    StreamEntry, StreamGroup, StreamId, StreamMeta, StreamValue, Value,
};

/// 2100-01-01 in unix ms, and a time in 2038 in unix seconds (the old
/// EXPIRETIME opcode has 32 bits): expiries that stay in the future.
const FAR_MS: i64 = 4_102_444_800_000;
const FAR_S: i32 = 2_147_483_000;
const T: u64 = 1_700_000_000_000;

/// Concatenate the pieces of a file, then EOF and the CRC64 of it all
/// (`checksum: false` stores zeros, "not computed").
fn file(pieces: &[&[u8]], checksum: bool) -> Vec<u8> {
    let mut f: Vec<u8> = pieces.concat();
    f.push(0xFF);
    let sum = if checksum { crc64(&f) } else { 0 };
    f.extend_from_slice(&sum.to_le_bytes());
    f
}

fn decode(bytes: &[u8]) -> Vec<Item> {
    RdbReader::new(bytes)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("fixture does not decode: {e}"))
}

fn keys(items: &[Item]) -> Vec<(Vec<u8>, u8, Option<i64>, Value)> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Key(k) => Some((k.key.clone(), k.rdb_type, k.expire_ms, k.value.clone())),
            _ => None,
        })
        .collect()
}

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn s(v: &str) -> Value {
    Value::String(b(v))
}

fn list(v: &[&str]) -> Value {
    Value::List(v.iter().map(|x| b(x)).collect())
}

fn hash(v: &[(&str, &str)]) -> Value {
    Value::Hash(v.iter().map(|(f, x)| (b(f), b(x))).collect())
}

/// RDB 6 (Redis 2.6-3.0): no aux fields; the encodings of Redis 2.x.
fn v6_file() -> Vec<u8> {
    file(
        &[
            b"REDIS0006",
            &[0xFE, 0x00], // SELECTDB 0
            // EXPIRETIME_MS, then a string "ms" = "v".
            &[0xFC],
            &FAR_MS.to_le_bytes(),
            &[0x00, 0x02, b'm', b's', 0x01, b'v'],
            // EXPIRETIME (seconds, 4 bytes), then "secs" = "v".
            &[0xFD],
            &FAR_S.to_le_bytes(),
            &[0x00, 0x04, b's', b'e', b'c', b's', 0x01, b'v'],
            // String "i32" stored as a 32-bit integer: 0xC2 + LE 100000.
            &[0x00, 0x03, b'i', b'3', b'2', 0xC2, 0xA0, 0x86, 0x01, 0x00],
            // String "i8" = -5 (0xC0), "i16" = 1000 (0xC1).
            &[0x00, 0x02, b'i', b'8', 0xC0, 0xFB],
            &[0x00, 0x03, b'i', b'1', b'6', 0xC1, 0xE8, 0x03],
            // Type 9, hash zipmap "zm", a 22-byte blob: count 2;
            // len 3 "foo", len 3, free 0, "bar"; len 1 "k", len 5, free 2,
            // "value", 2 free bytes; end 0xFF.
            &[0x09, 0x02, b'z', b'm', 22],
            &[0x02, 0x03, b'f', b'o', b'o', 0x03, 0x00, b'b', b'a', b'r'],
            &[
                0x01, b'k', 0x05, 0x02, b'v', b'a', b'l', b'u', b'e', 0x00, 0x00, 0xFF,
            ],
            // Type 10, list ziplist "zl", 27 bytes: zlbytes 27, zltail 19,
            // zllen 4; entries (prevlen, encoding, data):
            //   00 01 'a'           "a" (6-bit string)
            //   03 FD               12 (immediate: 0xF1 + 12)
            //   02 C0 48 F4         -3000 (int16 LE)
            //   04 05 "hello"       "hello"
            // end 0xFF.
            &[0x0A, 0x02, b'z', b'l', 27],
            &[27, 0, 0, 0, 19, 0, 0, 0, 4, 0],
            &[0x00, 0x01, b'a', 0x03, 0xFD, 0x02, 0xC0, 0x48, 0xF4],
            &[0x04, 0x05, b'h', b'e', b'l', b'l', b'o', 0xFF],
            // Type 11, set intset "is", 14 bytes: encoding 2, length 3,
            // 1, 5, 300 as int16 LE.
            &[0x0B, 0x02, b'i', b's', 14],
            &[2, 0, 0, 0, 3, 0, 0, 0, 0x01, 0x00, 0x05, 0x00, 0x2C, 0x01],
            // Type 12, zset ziplist "zz", 26 bytes: zlbytes 26, zltail 23,
            // zllen 4: "m1", "1.5" (a string score), "m2", 3 (immediate).
            &[0x0C, 0x02, b'z', b'z', 26],
            &[26, 0, 0, 0, 23, 0, 0, 0, 4, 0],
            &[0x00, 0x02, b'm', b'1', 0x04, 0x03, b'1', b'.', b'5'],
            &[0x05, 0x02, b'm', b'2', 0x04, 0xF4, 0xFF],
            // Type 13, hash ziplist "hz", 23 bytes: zlbytes 23, zltail 19,
            // zllen 4: "f", "v", "n", 100 (int8, 0xFE).
            &[0x0D, 0x02, b'h', b'z', 23],
            &[23, 0, 0, 0, 19, 0, 0, 0, 4, 0],
            &[
                0x00, 0x01, b'f', 0x03, 0x01, b'v', 0x03, 0x01, b'n', 0x03, 0xFE, 100, 0xFF,
            ],
            // Type 3, zset with string scores "z3": 2 members; "a" with
            // score "2.5" (length byte 3), "b" with +inf (254).
            &[0x03, 0x02, b'z', b'3', 0x02],
            &[0x01, b'a', 0x03, b'2', b'.', b'5', 0x01, b'b', 254],
            // Type 2, plain set "s2": "7" stored as int8, and "x".
            &[0x02, 0x02, b's', b'2', 0x02, 0xC0, 0x07, 0x01, b'x'],
            // Type 1, plain list "l1": "x", 1000 as int16.
            &[0x01, 0x02, b'l', b'1', 0x02, 0x01, b'x', 0xC1, 0xE8, 0x03],
            // Type 4, plain hash "h4": "f" -> "" (empty string).
            &[0x04, 0x02, b'h', b'4', 0x01, 0x01, b'f', 0x00],
            // SELECTDB 2, a string there.
            &[0xFE, 0x02, 0x00, 0x03, b'd', b'b', b'2', 0x02, b'o', b'k'],
        ],
        true,
    )
}

fn v6_expected() -> Vec<(Vec<u8>, u8, Option<i64>, Value)> {
    vec![
        (b("ms"), 0, Some(FAR_MS), s("v")),
        (b("secs"), 0, Some(FAR_S as i64 * 1000), s("v")),
        (b("i32"), 0, None, s("100000")),
        (b("i8"), 0, None, s("-5")),
        (b("i16"), 0, None, s("1000")),
        (
            b("zm"),
            rdb_type::HASH_ZIPMAP,
            None,
            hash(&[("foo", "bar"), ("k", "value")]),
        ),
        (
            b("zl"),
            rdb_type::LIST_ZIPLIST,
            None,
            list(&["a", "12", "-3000", "hello"]),
        ),
        (
            b("is"),
            rdb_type::SET_INTSET,
            None,
            Value::Set(vec![b("1"), b("5"), b("300")]),
        ),
        (
            b("zz"),
            rdb_type::ZSET_ZIPLIST,
            None,
            Value::ZSet(vec![(b("m1"), 1.5), (b("m2"), 3.0)]),
        ),
        (
            b("hz"),
            rdb_type::HASH_ZIPLIST,
            None,
            hash(&[("f", "v"), ("n", "100")]),
        ),
        (
            b("z3"),
            rdb_type::ZSET,
            None,
            Value::ZSet(vec![(b("a"), 2.5), (b("b"), f64::INFINITY)]),
        ),
        (
            b("s2"),
            rdb_type::SET,
            None,
            Value::Set(vec![b("7"), b("x")]),
        ),
        (b("l1"), rdb_type::LIST, None, list(&["x", "1000"])),
        (b("h4"), rdb_type::HASH, None, hash(&[("f", "")])),
        (b("db2"), 0, None, s("ok")),
    ]
}

/// RDB 7 (Redis 3.2): aux fields, RESIZEDB, quicklists of ziplists.
fn v7_file() -> Vec<u8> {
    file(
        &[
            b"REDIS0007",
            // AUX "redis-ver" = "3.2.0"; AUX "redis-bits" = 64 (int8).
            &[0xFA, 0x09],
            b"redis-ver",
            &[0x05],
            b"3.2.0",
            &[0xFA, 0x0A],
            b"redis-bits",
            &[0xC0, 0x40],
            &[0xFE, 0x00, 0xFB, 0x01, 0x00], // SELECTDB 0, RESIZEDB 1 0
            // Type 14, quicklist "ql" of 2 nodes, each a ziplist blob:
            //   17 bytes: zlbytes 17, zltail 13, zllen 2, "a", "b";
            //   16 bytes: zlbytes 16, zltail 12, zllen 2, 1 (0xF2), "c".
            &[0x0E, 0x02, b'q', b'l', 0x02],
            &[17, 17, 0, 0, 0, 13, 0, 0, 0, 2, 0],
            &[0x00, 0x01, b'a', 0x03, 0x01, b'b', 0xFF],
            &[16, 16, 0, 0, 0, 12, 0, 0, 0, 2, 0],
            &[0x00, 0xF2, 0x02, 0x01, b'c', 0xFF],
        ],
        true,
    )
}

/// RDB 8 (Redis 4.0): zset2 with binary scores, IDLE and FREQ opcodes.
fn v8_file() -> Vec<u8> {
    file(
        &[
            b"REDIS0008",
            &[0xFA, 0x0C],
            b"aof-preamble",
            &[0xC0, 0x00],
            &[0xFE, 0x00, 0xFB, 0x03, 0x00],
            // Type 5, zset2 "z2": "a" 1.5 and "b" -2.0 as LE doubles.
            &[0x05, 0x02, b'z', b'2', 0x02, 0x01, b'a'],
            &1.5f64.to_le_bytes(),
            &[0x01, b'b'],
            &(-2.0f64).to_le_bytes(),
            // IDLE 100 seconds (a length), then "idle" = "v".
            &[
                0xF8, 0x40, 0x64, 0x00, 0x04, b'i', b'd', b'l', b'e', 0x01, b'v',
            ],
            // FREQ 5 (one byte), then "freq" = "v".
            &[0xF9, 0x05, 0x00, 0x04, b'f', b'r', b'e', b'q', 0x01, b'v'],
        ],
        true,
    )
}

/// The stream node of the RDB 9 fixture, a 74-byte listpack; elements as
/// (encoding, data, backlen): 7-bit integers `v 01`, strings `0x80|len
/// bytes len+1`.
fn v9_stream_node() -> Vec<u8> {
    [
        &[74, 0, 0, 0, 25, 0][..], // total bytes 74, 25 elements
        // Master entry: 2 live, 1 deleted, 2 fields "name" "age", 0.
        &[0x02, 0x01, 0x01, 0x01, 0x02, 0x01],
        &[
            0x84, b'n', b'a', b'm', b'e', 0x05, 0x83, b'a', b'g', b'e', 0x04, 0x00, 0x01,
        ],
        // 10-0: flags 2 (same fields), +0 ms, +0 seq, "alice", 30, lp-count 5.
        &[0x02, 0x01, 0x00, 0x01, 0x00, 0x01],
        &[
            0x85, b'a', b'l', b'i', b'c', b'e', 0x06, 0x1E, 0x01, 0x05, 0x01,
        ],
        // 10-1: flags 3 (same fields, deleted), "bob", 25, lp-count 5.
        &[0x03, 0x01, 0x00, 0x01, 0x01, 0x01],
        &[0x83, b'b', b'o', b'b', 0x04, 0x19, 0x01, 0x05, 0x01],
        // 12-0: flags 0, +2 ms, +0 seq, 1 field "x" "y", lp-count 6.
        &[0x00, 0x01, 0x02, 0x01, 0x00, 0x01, 0x01, 0x01],
        &[0x81, b'x', 0x02, 0x81, b'y', 0x02, 0x06, 0x01],
        &[0xFF],
    ]
    .concat()
}

/// RDB 9 (Redis 5-6.2): a stream of the first format (type 15), with a
/// deleted entry, a group, a pending entry and its consumer; checksum
/// stored as zero.
fn v9_file() -> Vec<u8> {
    let node = v9_stream_node();
    assert_eq!(node.len(), 74);
    let id = |ms: u64, seq: u64| StreamId::new(ms, seq).to_be_bytes();
    file(
        &[
            b"REDIS0009",
            &[0xFE, 0x00, 0xFB, 0x01, 0x00],
            // Type 15, "st", 1 node: key = 16-byte ID 10-0, then the node.
            &[0x0F, 0x02, b's', b't', 0x01, 0x10],
            &id(10, 0),
            &[0x40, 74], // 14-bit length
            &node,
            // length 2, last ID 12-0; 1 group "g", last delivered 10-0.
            &[0x02, 0x0C, 0x00, 0x01, 0x01, b'g', 0x0A, 0x00],
            // Group PEL: 1 entry, 10-0, delivered at T, once.
            &[0x01],
            &id(10, 0),
            &T.to_le_bytes(),
            &[0x01],
            // 1 consumer "c1", seen at T+5, owning 10-0.
            &[0x01, 0x02, b'c', b'1'],
            &(T + 5).to_le_bytes(),
            &[0x01],
            &id(10, 0),
        ],
        false,
    )
}

fn v9_expected() -> StreamValue {
    StreamValue {
        entries: vec![
            StreamEntry {
                id: StreamId::new(10, 0),
                fields: vec![(b("name"), b("alice")), (b("age"), b("30"))],
            },
            StreamEntry {
                id: StreamId::new(12, 0),
                fields: vec![(b("x"), b("y"))],
            },
        ],
        // Type 15 has no first ID, tombstone ID or added count: Redis 7.2
        // takes the first live entry, 0-0 and the length.
        meta: StreamMeta {
            length: 2,
            last_id: StreamId::new(12, 0),
            first_id: StreamId::new(10, 0),
            max_deleted_id: StreamId::ZERO,
            entries_added: 2,
        },
        groups: vec![StreamGroup {
            name: b("g"),
            last_id: StreamId::new(10, 0),
            // Estimated: the group is at the first entry, the first ever.
            entries_read: Some(1),
            pending: vec![PendingEntry {
                id: StreamId::new(10, 0),
                delivery_time: T,
                delivery_count: 1,
                consumer: b("c1"),
            }],
            consumers: vec![StreamConsumer {
                name: b("c1"),
                seen_time: T + 5,
                active_time: Some(T + 5),
                pending: vec![StreamId::new(10, 0)],
            }],
        }],
    }
}

/// RDB 10 as written by Redis 7.0 release candidates: a function library
/// in the pre-GA form (name, engine, description, code).
fn v10_rc_function_file() -> Vec<u8> {
    let code = b"redis.register_function('oldf', function() return 7 end)";
    assert!(code.len() < 64, "one length byte");
    file(
        &[
            b"REDIS0010",
            &[0xF6, 0x06],
            b"oldlib",
            &[0x03],
            b"LUA",
            &[0x01, 0x04], // has a description, of 4 bytes
            b"desc",
            &[code.len() as u8],
            code,
        ],
        true,
    )
}

/// RDB 11 (Redis 7.2): a set listpack (type 20) and a stream of the third
/// format (type 21, consumers with an active time), exactly as our encoder
/// must write them.
fn v11_file() -> Vec<u8> {
    let id = |ms: u64, seq: u64| StreamId::new(ms, seq).to_be_bytes();
    // Set listpack: 12 bytes, 2 elements: "a" (81 61 02), 1 (01 01).
    let set_lp: &[u8] = &[12, 0, 0, 0, 2, 0, 0x81, b'a', 0x02, 0x01, 0x01, 0xFF];
    // Stream node for 5-1 {f: v}: master 1 live, 0 deleted, 1 field "f",
    // 0; entry flags 2, +0, +0, "v", lp-count 4. 10 elements, 27 bytes.
    let node: &[u8] = &[
        29, 0, 0, 0, 10, 0, 0x01, 0x01, 0x00, 0x01, 0x01, 0x01, 0x81, b'f', 0x02, 0x00, 0x01, 0x02,
        0x01, 0x00, 0x01, 0x00, 0x01, 0x81, b'v', 0x02, 0x04, 0x01, 0xFF,
    ];
    assert_eq!(node.len(), 29);
    file(
        &[
            b"REDIS0011",
            &[0xFE, 0x00, 0xFB, 0x02, 0x00],
            &[0x14, 0x03, b's', b'l', b'p', 12],
            set_lp,
            &[0x15, 0x03, b's', b't', b'3', 0x01, 0x10],
            &id(5, 1),
            &[node.len() as u8],
            node,
            // length 1, last 5-1, first 5-1, max deleted 0-0, added 1.
            &[0x01, 0x05, 0x01, 0x05, 0x01, 0x00, 0x00, 0x01],
            // 1 group "g", last 5-1, entries read 1, 1 pending.
            &[0x01, 0x01, b'g', 0x05, 0x01, 0x01, 0x01],
            &id(5, 1),
            &T.to_le_bytes(),
            &[0x02], // delivered twice
            // 2 consumers: "a" seen T+1, active T+1, owning 5-1;
            // "b" seen T+2, never active (-1), owning nothing.
            &[0x02, 0x01, b'a'],
            &(T + 1).to_le_bytes(),
            &(T + 1).to_le_bytes(),
            &[0x01],
            &id(5, 1),
            &[0x01, b'b'],
            &(T + 2).to_le_bytes(),
            &(-1i64).to_le_bytes(),
            &[0x00],
        ],
        true,
    )
}

fn v11_stream() -> StreamValue {
    StreamValue {
        entries: vec![StreamEntry {
            id: StreamId::new(5, 1),
            fields: vec![(b("f"), b("v"))],
        }],
        meta: StreamMeta {
            length: 1,
            last_id: StreamId::new(5, 1),
            first_id: StreamId::new(5, 1),
            max_deleted_id: StreamId::ZERO,
            entries_added: 1,
        },
        groups: vec![StreamGroup {
            name: b("g"),
            last_id: StreamId::new(5, 1),
            entries_read: Some(1),
            pending: vec![PendingEntry {
                id: StreamId::new(5, 1),
                delivery_time: T,
                delivery_count: 2,
                consumer: b("a"),
            }],
            consumers: vec![
                StreamConsumer {
                    name: b("a"),
                    seen_time: T + 1,
                    active_time: Some(T + 1),
                    pending: vec![StreamId::new(5, 1)],
                },
                StreamConsumer {
                    name: b("b"),
                    seen_time: T + 2,
                    active_time: None,
                    pending: vec![],
                },
            ],
        }],
    }
}

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
    assert_eq!(k[0].1, rdb_type::STREAM_LISTPACKS);
    assert_eq!(k[0].3, Value::Stream(Box::new(v9_expected())));

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
                        let groups = r(&mut c, &[b"XINFO", b"GROUPS", &k.key]);
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
    assert_eq!((checked_keys, checked_functions), (15 + 1 + 3 + 1, 1));
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
