//! Corrupt input never panics the RDB decoder and never makes it allocate
//! on the word of a length field: valid files and DUMP payloads (of every
//! encoding, old and new) are truncated and mutated at random; with their
//! checksum intact the result is always an error, with the checksum
//! recomputed (so the corrupt body is really parsed) it may be anything
//! but a panic. A global allocator records the largest single allocation
//! made while decoding, which must stay within a small multiple of the
//! input's size.
//!
//! This binary holds one test so nothing else allocates while it measures.

#[path = "fixtures/rdb_old.rs"]
mod fixtures;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use ringbus::persist::rdb::dump::{self, DumpErrorKind};
use ringbus::persist::rdb::format::crc64;
use ringbus::persist::rdb::{
    EncodeOptions, PendingEntry, RdbReader, RdbWriter, StreamConsumer, StreamEntry, StreamGroup,
    StreamId, StreamMeta, StreamValue, Value,
};

/// Largest allocation (or reallocation) requested since the last reset.
static LARGEST: AtomicUsize = AtomicUsize::new(0);

struct Tracking;

// SAFETY: every call forwards to the system allocator unchanged; the only
// addition is an atomic maximum of the requested size.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Tracking = Tracking;

/// The most a decode of `n` input bytes may allocate at once: LZF can
/// expand 88 times; read buffers start at 64 KB; string form of ints etc.
fn budget(n: usize) -> usize {
    (1 << 20).max(n * 100)
}

/// Decode a whole file; whether it succeeded, and the largest allocation.
fn decode_file(bytes: &[u8]) -> (bool, usize) {
    LARGEST.store(0, Ordering::Relaxed);
    let ok = RdbReader::new(bytes)
        .and_then(|r| r.collect::<Result<Vec<_>, _>>())
        .is_ok();
    (ok, LARGEST.load(Ordering::Relaxed))
}

fn decode_payload(bytes: &[u8]) -> (Result<(), DumpErrorKind>, usize) {
    LARGEST.store(0, Ordering::Relaxed);
    let r = dump::decode(bytes).map(|_| ()).map_err(|e| e.kind);
    (r, LARGEST.load(Ordering::Relaxed))
}

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// Values of every kind and encoding our encoder writes.
fn values() -> Vec<Value> {
    let long_list: Vec<Vec<u8>> = (0..700)
        .map(|i| format!("element-{i}").into_bytes())
        .collect();
    let stream = StreamValue {
        entries: (1..=120u64)
            .map(|i| StreamEntry {
                id: StreamId::new(100 + i, i % 2),
                fields: if i % 7 == 0 {
                    vec![(b("x"), b("1"))]
                } else {
                    vec![
                        (b("name"), format!("n{i}").into_bytes()),
                        (b("n"), i.to_string().into_bytes()),
                    ]
                },
            })
            .collect(),
        meta: StreamMeta {
            length: 120,
            last_id: StreamId::new(220, 0),
            first_id: StreamId::new(101, 1),
            max_deleted_id: StreamId::new(50, 0),
            entries_added: 130,
        },
        groups: vec![StreamGroup {
            name: b("g"),
            last_id: StreamId::new(110, 0),
            entries_read: Some(10),
            pending: vec![
                PendingEntry {
                    id: StreamId::new(101, 1),
                    delivery_time: 5,
                    delivery_count: 2,
                    consumer: b("c"),
                },
                PendingEntry {
                    id: StreamId::new(102, 0),
                    delivery_time: 6,
                    delivery_count: 1,
                    consumer: b("d"),
                },
            ],
            consumers: vec![
                StreamConsumer {
                    name: b("c"),
                    seen_time: 7,
                    active_time: Some(7),
                    pending: vec![StreamId::new(101, 1)],
                },
                StreamConsumer {
                    name: b("d"),
                    seen_time: 8,
                    active_time: None,
                    pending: vec![StreamId::new(102, 0)],
                },
            ],
        }],
    };
    vec![
        Value::String(b("12345")),
        Value::String(vec![b'z'; 300]),
        Value::String(b("a short one")),
        Value::List(vec![b("a"), b("-17"), b("4096"), vec![b'q'; 100]]),
        Value::List(long_list),
        Value::Set(vec![b("1"), b("-70000"), b("5000000000")]),
        Value::Set(vec![b("a"), b("b")]),
        Value::Hash(vec![(b("f"), b("v")), (b("n"), b("7"))]),
        Value::Hash(
            (0..20)
                .map(|i| (format!("f{i}").into_bytes(), vec![b'v'; 70]))
                .collect(),
        ),
        Value::ZSet(vec![(b("a"), 1.5), (b("b"), -2.0), (b("c"), f64::INFINITY)]),
        Value::ZSet(
            (0..150)
                .map(|i| (format!("m{i}").into_bytes(), i as f64 * 0.5))
                .collect(),
        ),
        Value::Stream(Box::new(stream)),
    ]
}

fn our_file(opts: EncodeOptions) -> Vec<u8> {
    let vals = values();
    let mut w = RdbWriter::new(Vec::new(), opts).unwrap();
    w.aux(b"redis-ver", b"7.0.15").unwrap();
    w.function(b"#!lua name=l\nredis.register_function('f', function() return 1 end)")
        .unwrap();
    w.select_db(0, vals.len() as u64, 1).unwrap();
    for (i, v) in vals.iter().enumerate() {
        let expire = (i == 0).then_some(4_102_444_800_000);
        w.write_value(format!("key{i}").as_bytes(), expire, v)
            .unwrap();
    }
    w.finish().unwrap()
}

/// Replace the trailing CRC64 of a file so the mutated body gets parsed.
fn reseal_file(mut f: Vec<u8>) -> Vec<u8> {
    if f.len() >= 8 {
        let n = f.len() - 8;
        let sum = crc64(&f[..n]);
        f[n..].copy_from_slice(&sum.to_le_bytes());
    }
    f
}

fn reseal_payload(mut p: Vec<u8>) -> Vec<u8> {
    if p.len() >= 10 {
        let n = p.len() - 8;
        let sum = crc64(&p[..n]);
        p[n..].copy_from_slice(&sum.to_le_bytes());
    }
    p
}

/// Whether a file may legitimately decode after mutation: its version
/// went below 5 (no checksum) or its checksum became zero (not computed).
fn checksum_waived(f: &[u8]) -> bool {
    let version_low = f.len() >= 9 && f[5..9].iter().all(u8::is_ascii_digit) && {
        let v: u32 = std::str::from_utf8(&f[5..9]).unwrap().parse().unwrap();
        v < 5
    };
    version_low || (f.len() >= 8 && f[f.len() - 8..].iter().all(|&x| x == 0))
}

#[derive(Debug, Clone)]
struct Mutation {
    edits: Vec<(usize, u8)>,
    cut: Option<usize>,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    (
        proptest::collection::vec((any::<usize>(), any::<u8>()), 1..5),
        proptest::option::of(any::<usize>()),
    )
        .prop_map(|(edits, cut)| Mutation { edits, cut })
}

fn apply(base: &[u8], m: &Mutation) -> Vec<u8> {
    let mut v = base.to_vec();
    for &(pos, byte) in &m.edits {
        let i = pos % v.len();
        v[i] = if v[i] == byte {
            byte.wrapping_add(1)
        } else {
            byte
        };
    }
    if let Some(c) = m.cut {
        v.truncate(c % (v.len() + 1));
    }
    v
}

/// Length fields claiming far more than there is: errors, small allocations.
fn lying_lengths() -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    let head = b"REDIS0010\xFE\x00".to_vec();
    let with = |tail: &[u8]| fixtures::file(&[&head, tail], true);
    // A 2^40-byte string value (64-bit length).
    files.push(with(b"\x00\x01k\x81\x00\x00\x01\x00\x00\x00\x00\x00abc"));
    // A list claiming 2^60 elements.
    files.push(with(b"\x01\x01k\x81\x10\x00\x00\x00\x00\x00\x00\x00\x01a"));
    // An LZF string: 3 compressed bytes said to expand to 4 GB.
    files.push(with(b"\x00\x01k\xC3\x03\x80\xFF\xFF\xFF\xFF\x02abc"));
    // A listpack hash whose blob header claims 4 GB.
    files.push(with(
        b"\x10\x01k\x0A\xFF\xFF\xFF\xFF\x02\x00\x01\x01\x01\xFF",
    ));
    // An intset claiming 2^32-1 members of 8 bytes.
    files.push(with(
        b"\x0B\x01k\x0C\x08\x00\x00\x00\xFF\xFF\xFF\xFF\x01\x00\x00\x00",
    ));
    // A stream with 2^62 nodes, and one with a group PEL of 2^62 entries.
    files.push(with(b"\x13\x01k\x81\x40\x00\x00\x00\x00\x00\x00\x00"));
    files.push(with(b"\x13\x01k\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x01g\x00\x00\x00\x81\x40\x00\x00\x00\x00\x00\x00\x00"));
    // A quicklist of 2^32 nodes, a zset of 2^32 members.
    files.push(with(b"\x12\x01k\x80\xFF\xFF\xFF\xFF\x02\x01\x00"));
    files.push(with(b"\x05\x01k\x80\xFF\xFF\xFF\xFF\x01a"));
    files
}

#[test]
fn corrupt_input_is_an_error_never_a_panic_or_a_huge_allocation() {
    let mut seeds: Vec<Vec<u8>> = vec![
        our_file(EncodeOptions::default()),
        our_file(EncodeOptions {
            compression: false,
            ..EncodeOptions::default()
        }),
        our_file(EncodeOptions::rdb11()),
        fixtures::v6_file(),
        fixtures::v7_file(),
        fixtures::v8_file(),
        fixtures::v9_file(),
        fixtures::v10_rc_function_file(),
        fixtures::v11_file(),
    ];
    for f in &seeds {
        let (ok, largest) = decode_file(f);
        assert!(ok, "seed files decode");
        assert!(
            largest <= budget(f.len()),
            "{largest} bytes allocated for a valid file of {}",
            f.len()
        );
    }

    // Every truncation of every seed: an error, within budget.
    for f in &seeds {
        for n in 0..f.len() {
            let (ok, largest) = decode_file(&f[..n]);
            assert!(!ok, "a file cut at {n} of {} decoded", f.len());
            assert!(largest <= budget(f.len()), "{largest} bytes for a cut file");
        }
    }

    // Lying length fields.
    for f in lying_lengths() {
        let (ok, largest) = decode_file(&f);
        assert!(!ok, "a lying length decoded");
        assert!(
            largest <= budget(f.len()),
            "{largest} bytes allocated for a {}-byte lie",
            f.len()
        );
    }

    let opts = EncodeOptions::default();
    let mut payloads: Vec<Vec<u8>> = values()
        .iter()
        .map(|v| dump::encode(v, &opts).unwrap())
        .collect();
    payloads.extend(
        values()
            .iter()
            .map(|v| dump::encode(v, &EncodeOptions::rdb11()).unwrap()),
    );
    for p in &payloads {
        assert_eq!(decode_payload(p).0, Ok(()));
        for n in 0..p.len() {
            assert!(
                decode_payload(&p[..n]).0.is_err(),
                "a payload cut at {n} decoded"
            );
        }
    }

    // RDB_FUZZ_CASES=100000 for a longer search.
    let cases = std::env::var("RDB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    seeds.append(
        &mut payloads
            .iter()
            .map(|p| [b"P".as_slice(), p].concat())
            .collect(),
    );
    let counts = std::cell::Cell::new((0u32, 0u32));
    runner
        .run(
            &(0..seeds.len(), mutation(), any::<bool>()),
            |(which, m, reseal)| {
                let seed = &seeds[which];
                if seed[0] == b'P' {
                    // A DUMP payload.
                    let raw = apply(&seed[1..], &m);
                    let input = if reseal {
                        reseal_payload(raw.clone())
                    } else {
                        raw.clone()
                    };
                    let (r, largest) = decode_payload(&input);
                    prop_assert!(
                        largest <= budget(input.len()),
                        "{} bytes for a payload of {}",
                        largest,
                        input.len()
                    );
                    if !reseal && raw != seed[1..] {
                        prop_assert!(
                            r.is_err(),
                            "a mutated payload with its old checksum decoded"
                        );
                    }
                    if r.is_err() {
                        let (e, o) = counts.get();
                        counts.set((e + 1, o));
                    }
                } else {
                    let raw = apply(seed, &m);
                    let input = if reseal {
                        reseal_file(raw.clone())
                    } else {
                        raw.clone()
                    };
                    let (ok, largest) = decode_file(&input);
                    prop_assert!(
                        largest <= budget(input.len()),
                        "{} bytes for a file of {}",
                        largest,
                        input.len()
                    );
                    if !reseal && raw != *seed && !checksum_waived(&input) {
                        prop_assert!(!ok, "a mutated file with its old checksum decoded");
                    }
                    let (e, o) = counts.get();
                    counts.set(if ok { (e, o + 1) } else { (e + 1, o) });
                }
                Ok(())
            },
        )
        .unwrap();
    let (errors, oks) = counts.get();
    eprintln!("mutations: {errors} refused, {oks} files still decoded");
    assert!(errors > 1000);
}
