//! HyperLogLog commands: PFADD, PFCOUNT (one key and several, across
//! shards), PFMERGE (across shards), PFDEBUG, PFSELFTEST, the
//! `hll-sparse-max-bytes` threshold, and the raw values they leave, which
//! are Redis's bytes exactly: values move between ringbus and a real
//! redis-server (GET/SET, DUMP/RESTORE) and give the same estimates.
//!
//! Every expectation in the `sharded_tests!` was checked against a real
//! redis-server (`RINGBUS_TEST_TARGET=redis`); the tests named `*_vs_redis`
//! run ringbus and redis-server side by side and compare them directly.

mod common;

use common::*;
use ringbus::shard::route::shard_of;

sharded_tests!(
    pfadd_replies_and_bytes,
    pfcount_caches_its_estimate,
    values_that_are_not_hyperloglogs,
    corrupt_sparse_values,
    pfmerge_across_shards,
    pfcount_of_several_keys_across_shards,
    pfdebug_subcommands,
    arity_errors,
    sparse_turns_dense_at_the_threshold,
    watch_sees_pfcount_but_not_pfdebug,
    resp3_shapes,
    read_only_scripts_refuse_pfcount,
    estimates_stay_close,
);

const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const INVALID: &str = "INVALIDOBJ Corrupted HLL object detected";

/// Keys on three different shards of a 3-shard ringbus.
const K1: &str = "{from}h";
const K2: &str = "{to}h";
const K3: &str = "{in}h";

/// An empty sparse HyperLogLog with the cached cardinality `card`
/// (`stale`: its top bit set).
fn empty(card: u8, stale: bool) -> Vec<u8> {
    let mut v = b"HYLL\x01\0\0\0".to_vec();
    v.push(card);
    v.extend_from_slice(&[0; 6]);
    v.push(if stale { 0x80 } else { 0 });
    v.extend_from_slice(b"\x7f\xff");
    v
}

fn raw(c: &mut RawConn, key: &str) -> Vec<u8> {
    match Reply::parse(&c.cmd(&["GET", key])) {
        Reply::Bulk(b) => b,
        other => panic!("GET {key}: {other:?}"),
    }
}

fn set_raw(c: &mut RawConn, key: &str, value: &[u8]) {
    assert_eq!(c.cmd_bytes(&[b"SET", key.as_bytes(), value]), ok());
}

fn count(c: &mut RawConn, keys: &[&str]) -> i64 {
    let mut argv = vec!["PFCOUNT"];
    argv.extend_from_slice(keys);
    Reply::parse(&c.cmd(&argv)).as_int()
}

/// PFADD of `key` with the elements `prefix0 .. prefix(n-1)`, in batches.
fn fill(c: &mut RawConn, key: &str, prefix: &str, n: usize) {
    if n == 0 {
        c.cmd(&["PFADD", key]);
    }
    let mut i = 0;
    while i < n {
        let batch: Vec<String> = (i..n.min(i + 500))
            .map(|j| format!("{prefix}{j}"))
            .collect();
        let mut argv: Vec<&str> = vec!["PFADD", key];
        argv.extend(batch.iter().map(String::as_str));
        let r = c.cmd(&argv);
        assert!(r == int(0) || r == int(1), "{}", show(&r));
        i += 500;
    }
}

// ------------------------------------------------------------------ tests

fn pfadd_replies_and_bytes(s: &Server) {
    let mut c = s.raw();
    // A new key is created even with no elements, its cache marked stale.
    c.check(&["PFADD", "h"], &int(1));
    assert_eq!(raw(&mut c, "h"), empty(0, true));
    c.check(&["PFADD", "h"], &int(0));
    c.check(&["TYPE", "h"], &simple("string"));
    c.check(&["PFADD", "h", "a", "b", "c"], &int(1));
    c.check(&["PFADD", "h", "c", "b", "a"], &int(0));
    // Redis's bytes for {a, b, c}: XZERO/VAL opcodes after the header.
    assert_eq!(
        raw(&mut c, "h"),
        b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x60\xf3\x80\x50\xb1\x84\x4b\xfb\x80\x42\x5a"
    );
    c.check(
        &["PFDEBUG", "DECODE", "h"],
        &bulk("Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603"),
    );
    c.check(&["PFCOUNT", "h"], &int(3));
    // Binary elements hash as bytes.
    assert_eq!(
        c.cmd_bytes(&[b"PFADD", b"bin", b"\x00\xff", b"", b"a\r\nb"]),
        int(1)
    );
    c.check(&["PFCOUNT", "bin"], &int(3));
}

fn pfcount_caches_its_estimate(s: &Server) {
    let mut c = s.raw();
    c.check(&["PFCOUNT", "nosuch"], &int(0));
    c.check(&["EXISTS", "nosuch"], &int(0));
    c.check(&["PFADD", "h", "a", "b", "c", "d", "e"], &int(1));
    let before = raw(&mut c, "h");
    assert_eq!(before[15] & 0x80, 0x80, "stale after PFADD");
    c.check(&["PFCOUNT", "h"], &int(5));
    // The estimate is stored, little endian, valid.
    let after = raw(&mut c, "h");
    assert_eq!(&after[8..16], &[5, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(after[16..], before[16..]);
    // The cache is what PFCOUNT answers while valid, even if it is wrong.
    let mut forged = after.clone();
    forged[8] = 42;
    set_raw(&mut c, "h", &forged);
    c.check(&["PFCOUNT", "h"], &int(42));
    // Several keys never use nor write the caches.
    c.check(&["PFCOUNT", "h", "nosuch"], &int(5));
    assert_eq!(raw(&mut c, "h"), forged);
    // A PFADD that changes nothing keeps the cache; one that does marks it.
    c.check(&["PFADD", "h", "a"], &int(0));
    c.check(&["PFCOUNT", "h"], &int(42));
    c.check(&["PFADD", "h", "f"], &int(1));
    assert_eq!(raw(&mut c, "h")[15], 0x80);
    c.check(&["PFCOUNT", "h"], &int(6));
}

fn values_that_are_not_hyperloglogs(s: &Server) {
    let mut c = s.raw();
    c.check(&["LPUSH", "list", "a"], &int(1));
    for cmd in [
        &["PFADD", "list", "a"][..],
        &["PFCOUNT", "list"],
        &["PFCOUNT", "nosuch", "list"],
        &["PFMERGE", "list"],
        &["PFMERGE", "dst", "list"],
        &["PFDEBUG", "ENCODING", "list"],
    ] {
        c.check(cmd, &err(WRONGTYPE));
    }
    c.check(&["EXISTS", "dst"], &int(0));
    let mut bad_encoding = empty(0, false);
    bad_encoding[4] = 2;
    let mut dense_too_short = empty(0, false);
    dense_too_short[4] = 0;
    let mut bad_magic = empty(0, false);
    bad_magic[3] = b'X';
    for value in [
        &b"foo"[..],
        b"12345",
        b"HYLL",
        &empty(0, false)[..15],
        &bad_encoding,
        &dense_too_short,
        &bad_magic,
    ] {
        set_raw(&mut c, "s", value);
        for cmd in [
            &["PFADD", "s", "a"][..],
            &["PFCOUNT", "s"],
            &["PFCOUNT", "s", "nosuch"],
            &["PFMERGE", "s"],
            &["PFMERGE", "dst", "s"],
            &["PFDEBUG", "GETREG", "s"],
        ] {
            c.check(cmd, &err(NOT_HLL));
        }
        assert_eq!(raw(&mut c, "s"), value);
    }
    // The first bad key in argument order is the error.
    set_raw(&mut c, "s", b"foo");
    c.check(&["PFCOUNT", "s", "list"], &err(NOT_HLL));
    c.check(&["PFCOUNT", "list", "s"], &err(WRONGTYPE));
    c.check(&["EXISTS", "dst"], &int(0));
}

fn corrupt_sparse_values(s: &Server) {
    let mut c = s.raw();
    // One register too many (a VAL after the XZERO covering them all).
    let mut tail = empty(0, true);
    tail.push(0x80);
    set_raw(&mut c, "tail", &tail);
    c.check(&["PFCOUNT", "tail"], &err(INVALID));
    c.check(&["PFCOUNT", "tail", "nosuch"], &err(INVALID));
    c.check(&["PFMERGE", "dst", "tail"], &err(INVALID));
    c.check(&["EXISTS", "dst"], &int(0));
    c.check(&["PFDEBUG", "TODENSE", "tail"], &err(INVALID));
    c.check(&["PFDEBUG", "GETREG", "tail"], &err(INVALID));
    c.check(&["PFDEBUG", "DECODE", "tail"], &bulk("Z:16384 v:1,1"));
    // PFADD edits the registers it finds before the damage, as Redis does.
    c.check(&["PFADD", "tail", "a"], &int(1));
    c.check(
        &["PFDEBUG", "DECODE", "tail"],
        &bulk("Z:12711 v:2,1 Z:3672 v:1,1"),
    );
    assert_eq!(raw(&mut c, "tail")[15], 0x80);
    // One register short.
    let mut short = empty(0, true);
    short[17] = 0xfe;
    set_raw(&mut c, "short", &short);
    c.check(&["PFCOUNT", "short"], &err(INVALID));
    // Only the header: no opcode holds the register PFADD looks for.
    set_raw(&mut c, "hdr", &empty(0, true)[..16]);
    c.check(&["PFADD", "hdr", "a"], &err(INVALID));
    c.check(&["PFADD", "hdr"], &int(0));
    // An XZERO cut after its first byte reads a zero second byte.
    set_raw(&mut c, "cut", &empty(0, true)[..17]);
    c.check(&["PFDEBUG", "DECODE", "cut"], &bulk("Z:16129"));
    c.check(&["PFCOUNT", "cut"], &err(INVALID));
}

fn pfmerge_across_shards(s: &Server) {
    let mut c = s.raw();
    fill(&mut c, K1, "a", 100);
    fill(&mut c, K2, "b", 100);
    fill(&mut c, K3, "a", 50);
    c.check(&["PFMERGE", "{to}dst", K1, K2, K3], &ok());
    let merged = raw(&mut c, "{to}dst");
    assert_eq!(merged[4], 1, "all sources sparse: the destination too");
    let n = count(&mut c, &["{to}dst"]);
    assert!((190..=210).contains(&n), "{n}");
    // The same union computed on one shard is the same value.
    fill(&mut c, "{to}one", "a", 100);
    fill(&mut c, "{to}one", "b", 100);
    c.check(&["PFMERGE", "{to}dst2", "{to}one"], &ok());
    assert_eq!(raw(&mut c, "{to}dst2"), merged);
    // The destination's own registers count; a missing one starts empty.
    c.check(&["PFMERGE", K1, K2], &ok());
    assert_eq!(count(&mut c, &[K1]), n);
    c.check(&["PFMERGE", "{in}empty"], &ok());
    assert_eq!(raw(&mut c, "{in}empty"), empty(0, true));
    c.check(
        &["PFMERGE", "{in}empty2", "{from}nosuch", "{to}nosuch"],
        &ok(),
    );
    assert_eq!(raw(&mut c, "{in}empty2"), empty(0, true));
    // A dense source makes the destination dense.
    c.check(&["PFDEBUG", "TODENSE", K3], &int(1));
    c.check(&["PFMERGE", "{from}dense", K2, K3], &ok());
    c.check(&["PFDEBUG", "ENCODING", "{from}dense"], &simple("dense"));
    assert_eq!(raw(&mut c, "{from}dense").len(), 12304);
    // An error anywhere writes nothing.
    c.check(&["SET", "{in}str", "x"], &ok());
    c.check(&["PFMERGE", "{from}x", K2, "{in}str"], &err(NOT_HLL));
    c.check(&["EXISTS", "{from}x"], &int(0));
    // The destination keeps its deadline.
    c.check(&["EXPIRE", K1, "1000"], &int(1));
    c.check(&["PFMERGE", K1, K3], &ok());
    let ttl = Reply::parse(&c.cmd(&["TTL", K1])).as_int();
    assert!(ttl > 990, "{ttl}");
}

fn pfcount_of_several_keys_across_shards(s: &Server) {
    let mut c = s.raw();
    fill(&mut c, K1, "x", 1000);
    fill(&mut c, K2, "y", 1000);
    fill(&mut c, K3, "x", 1000);
    let union = count(&mut c, &[K1, K2, K3]);
    // Merged on the fly: nothing written, the caches stay stale.
    assert_eq!(raw(&mut c, K1)[15] & 0x80, 0x80);
    assert!((1950..=2050).contains(&union), "{union}");
    assert_eq!(count(&mut c, &[K1, K3]), count(&mut c, &[K1]));
    c.check(&["PFMERGE", "{in}all", K1, K2, K3], &ok());
    assert_eq!(count(&mut c, &["{in}all"]), union);
    let one = count(&mut c, &[K1]);
    c.check(&["PFCOUNT", K1, "{to}nosuch", K3], &int(one));
}

fn pfdebug_subcommands(s: &Server) {
    let mut c = s.raw();
    c.check(
        &["PFDEBUG", "ENCODING", "nosuch"],
        &err("ERR The specified key does not exist"),
    );
    // The key is looked at before the subcommand.
    c.check(
        &["PFDEBUG", "what", "nosuch"],
        &err("ERR The specified key does not exist"),
    );
    c.check(&["PFADD", "h", "a", "b"], &int(1));
    c.check(
        &["PFDEBUG", "what", "h"],
        &err("ERR Unknown PFDEBUG subcommand 'what'"),
    );
    c.check(&["PFDEBUG", "encoding", "h"], &simple("sparse"));
    c.check(
        &["PFDEBUG", "DECODE", "h"],
        &bulk("Z:12711 v:2,1 Z:3068 v:1,1 Z:603"),
    );
    // GETREG: every register, the value made dense on the way.
    let regs = Reply::parse(&c.cmd(&["PFDEBUG", "GETREG", "h"]));
    let regs: Vec<i64> = regs.as_array().iter().map(Reply::as_int).collect();
    assert_eq!(regs.len(), 16384);
    assert_eq!(regs[12711], 2);
    assert_eq!(regs[15780], 1);
    assert_eq!(regs.iter().filter(|&&r| r != 0).count(), 2);
    c.check(&["PFDEBUG", "ENCODING", "h"], &simple("dense"));
    c.check(
        &["PFDEBUG", "DECODE", "h"],
        &err("ERR HLL encoding is not sparse"),
    );
    c.check(&["PFDEBUG", "TODENSE", "h"], &int(0));
    c.check(&["PFADD", "h2", "x"], &int(1));
    c.check(&["PFDEBUG", "TODENSE", "h2"], &int(1));
    c.check(&["PFDEBUG", "TODENSE", "h2"], &int(0));
    let dense = raw(&mut c, "h2");
    assert_eq!((dense.len(), dense[4]), (12304, 0));
    // The header (its stale cache) is kept by the conversion.
    assert_eq!(dense[15], 0x80);
    c.check(&["PFCOUNT", "h2"], &int(1));
}

fn arity_errors(s: &Server) {
    let mut c = s.raw();
    c.check(&["PFADD"], &arity("pfadd"));
    c.check(&["PFCOUNT"], &arity("pfcount"));
    c.check(&["PFMERGE"], &arity("pfmerge"));
    c.check(&["PFDEBUG", "GETREG"], &arity("pfdebug"));
    c.check(&["PFDEBUG", "GETREG", "a", "b"], &arity("pfdebug"));
    c.check(&["PFSELFTEST", "x"], &arity("pfselftest"));
}

fn sparse_turns_dense_at_the_threshold(s: &Server) {
    let mut c = s.raw();
    c.check(
        &["CONFIG", "GET", "hll-sparse-max-bytes"],
        &bulks(&["hll-sparse-max-bytes", "3000"]),
    );
    // At the default the value grows sparse up to 3000 bytes, then turns
    // dense on the element that would take it past.
    let mut n = 0;
    let mut last = 0;
    loop {
        c.cmd(&["PFADD", "big", &format!("e{n}")]);
        n += 1;
        let len = Reply::parse(&c.cmd(&["STRLEN", "big"])).as_int();
        if len == 12304 {
            assert!(last <= 3000 && last > 2900, "{last}");
            break;
        }
        assert!(len <= 3000, "{len}");
        last = len;
    }
    c.check(&["PFDEBUG", "ENCODING", "big"], &simple("dense"));
    // A lower threshold turns values dense sooner.
    c.check(&["CONFIG", "SET", "hll-sparse-max-bytes", "40"], &ok());
    fill(&mut c, "small", "s", 20);
    c.check(&["PFDEBUG", "ENCODING", "small"], &simple("dense"));
    c.check(&["CONFIG", "SET", "hll-sparse-max-bytes", "0"], &ok());
    c.check(&["PFADD", "zero", "a"], &int(1));
    c.check(&["PFDEBUG", "ENCODING", "zero"], &simple("dense"));
    let failed = |why: &str| {
        err(&format!(
            "ERR CONFIG SET failed (possibly related to argument 'hll-sparse-max-bytes') - {why}"
        ))
    };
    c.check(
        &["CONFIG", "SET", "hll-sparse-max-bytes", "-1"],
        &failed("argument must be a memory value"),
    );
    c.check(
        &[
            "CONFIG",
            "SET",
            "hll-sparse-max-bytes",
            "9223372036854775808",
        ],
        &failed("argument must be between 0 and 9223372036854775807 inclusive"),
    );
    c.check(&["CONFIG", "SET", "hll-sparse-max-bytes", "2kb"], &ok());
    c.check(
        &["CONFIG", "GET", "hll-sparse-max-bytes"],
        &bulks(&["hll-sparse-max-bytes", "2048"]),
    );
}

fn watch_sees_pfcount_but_not_pfdebug(s: &Server) {
    let mut c = s.raw();
    let mut other = s.raw();
    c.check(&["PFADD", "h", "a"], &int(1));
    // PFCOUNT caching its estimate is a change watchers see.
    c.check(&["WATCH", "h"], &ok());
    other.check(&["PFCOUNT", "h"], &int(1));
    c.check(&["MULTI"], &ok());
    c.check(&["PING"], &simple("QUEUED"));
    c.check(&["EXEC"], &nil_array());
    // A cached estimate is only read.
    c.check(&["WATCH", "h"], &ok());
    other.check(&["PFCOUNT", "h"], &int(1));
    c.check(&["MULTI"], &ok());
    c.check(&["PING"], &simple("QUEUED"));
    c.check(&["EXEC"], &array(&[simple("PONG")]));
    // PFDEBUG TODENSE changes the encoding without touching watchers.
    c.check(&["WATCH", "h"], &ok());
    other.check(&["PFDEBUG", "TODENSE", "h"], &int(1));
    c.check(&["MULTI"], &ok());
    c.check(&["PING"], &simple("QUEUED"));
    c.check(&["EXEC"], &array(&[simple("PONG")]));
}

fn resp3_shapes(s: &Server) {
    let mut c = s.raw();
    let r = c.cmd(&["HELLO", "3"]);
    assert_eq!(r.first(), Some(&b'%'), "HELLO 3 -> {}", show(&r));
    c.check(&["PFADD", "h", "a"], &int(1));
    c.check(&["PFCOUNT", "h"], &int(1));
    c.check(&["PFDEBUG", "ENCODING", "h"], &simple("sparse"));
    c.check(&["PFDEBUG", "DECODE", "h"], &bulk("Z:12711 v:2,1 Z:3672"));
    let regs = c.cmd(&["PFDEBUG", "GETREG", "h"]);
    assert!(
        regs.starts_with(b"*16384\r\n:0\r\n"),
        "{}",
        show(&regs[..20])
    );
    c.check(&["PFMERGE", "h2", "h"], &ok());
}

fn read_only_scripts_refuse_pfcount(s: &Server) {
    let mut c = s.raw();
    c.check(&["PFADD", "h", "a"], &int(1));
    c.check(
        &["EVAL", "return redis.call('pfcount', KEYS[1])", "1", "h"],
        &int(1),
    );
    let r = Reply::parse(&c.cmd(&[
        "EVAL_RO",
        "return redis.pcall('pfcount', KEYS[1])",
        "1",
        "h",
    ]));
    assert_eq!(
        r,
        Reply::Error("ERR Write commands are not allowed from read-only scripts.".into())
    );
}

fn estimates_stay_close(s: &Server) {
    let mut c = s.raw();
    for (n, tolerance) in [(10usize, 0), (1000, 20), (30000, 600)] {
        let key = format!("e{n}");
        fill(&mut c, &key, "m", n);
        let got = count(&mut c, &[&key]) as usize;
        assert!(got.abs_diff(n) <= tolerance, "{n}: {got}");
    }
}

// ------------------------------------------------ against redis-server

fn both() -> (Server, Server) {
    (Server::start(3), Server::start_redis(&[]))
}

/// Values filled on each server are the same bytes; moved either way (raw
/// string, DUMP/RESTORE) they give the same estimate and grow the same.
#[test]
fn values_move_between_ringbus_and_redis() {
    let (rb, rs) = both();
    let (mut b, mut r) = (rb.raw(), rs.raw());
    for n in [1usize, 20, 300, 2000, 20000, 150000] {
        let key = format!("h{n}");
        fill(&mut b, &key, "el:", n);
        fill(&mut r, &key, "el:", n);
        let bytes = raw(&mut r, &key);
        assert_eq!(raw(&mut b, &key), bytes, "{n} elements: same bytes");
        let expected = count(&mut r, &[&key]);
        assert_eq!(count(&mut b, &[&key]), expected, "{n}: same estimate");
        assert_eq!(raw(&mut b, &key), raw(&mut r, &key), "{n}: same cache");
        // Redis's value set in ringbus, with its cache made stale.
        let mut stale = bytes.clone();
        stale[15] |= 0x80;
        set_raw(&mut b, "moved", &stale);
        assert_eq!(count(&mut b, &["moved"]), expected);
        // Grown the same on both after the move.
        set_raw(&mut r, "moved", &stale);
        assert_eq!(count(&mut r, &["moved"]), expected);
        fill(&mut b, "moved", "more:", 100);
        fill(&mut r, "moved", "more:", 100);
        assert_eq!(raw(&mut b, "moved"), raw(&mut r, "moved"), "{n}: grown");
        assert_eq!(count(&mut b, &["moved"]), count(&mut r, &["moved"]));
        // DUMP / RESTORE both ways.
        for redis_to_ringbus in [true, false] {
            let (from, to) = if redis_to_ringbus {
                (&mut r, &mut b)
            } else {
                (&mut b, &mut r)
            };
            let Reply::Bulk(payload) = Reply::parse(&from.cmd(&["DUMP", &key])) else {
                panic!("DUMP {key}");
            };
            assert_eq!(
                to.cmd_bytes(&[b"RESTORE", b"restored", b"0", &payload, b"REPLACE"]),
                ok()
            );
            assert_eq!(raw(to, "restored"), raw(from, &key));
            assert_eq!(count(to, &["restored"]), expected);
        }
        // Unions across shards agree with Redis's.
        let other = format!("{{to}}u{n}");
        fill(&mut b, &other, "u:", n / 2 + 1);
        fill(&mut r, &other, "u:", n / 2 + 1);
        assert_eq!(
            count(&mut b, &[&key, &other]),
            count(&mut r, &[&key, &other])
        );
        let dst = format!("{{in}}m{n}");
        b.check(&["PFMERGE", &dst, &key, &other], &ok());
        r.check(&["PFMERGE", &dst, &key, &other], &ok());
        assert_eq!(raw(&mut b, &dst), raw(&mut r, &dst), "{n}: merged");
    }
}

/// Damaged values (bytes changed, cut or added after a valid header) get
/// the same replies and end as the same bytes on both servers: nothing
/// panics, and corrupt sparse values are reported as Redis reports them.
#[test]
fn mutated_payloads_vs_redis() {
    let (rb, rs) = both();
    let (mut b, mut r) = (rb.raw(), rs.raw());
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut bases = Vec::new();
    for n in [0usize, 3, 40, 400, 5000] {
        let key = format!("base{n}");
        fill(&mut r, &key, "x", n);
        fill(&mut b, &key, "x", n);
        bases.push(raw(&mut r, &key));
        assert_eq!(raw(&mut b, &key), bases[bases.len() - 1]);
    }
    for case in 0..500 {
        let mut v = bases[case % bases.len()].clone();
        match rand() % 4 {
            0 => {
                let at = 16 + (rand() as usize) % (v.len() - 15);
                v.truncate(at);
            }
            1 => v.push(rand() as u8),
            _ => {}
        }
        for _ in 0..(rand() % 4) {
            if v.len() > 16 {
                let at = 16 + (rand() as usize) % (v.len() - 16);
                v[at] = rand() as u8;
            }
        }
        let elems: Vec<String> = (0..(rand() % 6))
            .map(|_| format!("e{}", rand() % 1000))
            .collect();
        let mut pfadd: Vec<&str> = vec!["PFADD", "v"];
        pfadd.extend(elems.iter().map(String::as_str));
        let script: [&[&str]; 7] = [
            &["PFDEBUG", "DECODE", "v"],
            &["PFCOUNT", "v"],
            &["PFCOUNT", "v", "base40"],
            &pfadd,
            &["PFMERGE", "dst", "v"],
            &["PFDEBUG", "TODENSE", "v"],
            &["PFADD", "dst", "one", "two"],
        ];
        for conn in [&mut b, &mut r] {
            conn.cmd(&["DEL", "dst"]);
        }
        for cmd in script {
            // Each command starts from the value as a string: Redis keeps,
            // between commands, the byte an edit of a corrupt value may
            // leave past its end, which ringbus does not (see hll::Editing).
            let value = v.clone();
            for conn in [&mut b, &mut r] {
                set_raw(conn, "v", &value);
            }
            let (got, want) = (b.cmd(cmd), r.cmd(cmd));
            assert_eq!(
                show(&got),
                show(&want),
                "case {case}: {cmd:?} on {}",
                show(&value)
            );
            for key in ["v", "dst"] {
                let (got, want) = (b.cmd(&["GET", key]), r.cmd(&["GET", key]));
                assert_eq!(
                    show(&got),
                    show(&want),
                    "case {case}: GET {key} after {cmd:?} on {}",
                    show(&value)
                );
            }
            if let Reply::Bulk(after) = Reply::parse(&r.cmd(&["GET", "v"])) {
                v = after;
            }
        }
    }
}

/// The threshold from a config file, and PFSELFTEST passing.
#[test]
fn config_file_and_selftest() {
    let dir = TempDir::new("hll-conf");
    let path = dir.path().join("ringbus.conf");
    std::fs::write(&path, "hll-sparse-max-bytes 100\n").unwrap();
    let s = Server::start_with(&[path.to_str().unwrap()]);
    let mut c = s.raw();
    c.check(
        &["CONFIG", "GET", "hll-sparse-max-bytes"],
        &bulks(&["hll-sparse-max-bytes", "100"]),
    );
    fill(&mut c, "h", "a", 60);
    c.check(&["PFDEBUG", "ENCODING", "h"], &simple("dense"));
    // Ten million additions: give a debug build time.
    let mut con = s.client();
    con.set_read_timeout(Some(std::time::Duration::from_secs(300)))
        .unwrap();
    let r: String = redis::cmd("PFSELFTEST").query(&mut con).unwrap();
    assert_eq!(r, "OK");
}

#[test]
fn hash_tags_are_on_distinct_shards() {
    let shards: std::collections::BTreeSet<usize> = [K1, K2, K3]
        .iter()
        .map(|k| shard_of(k.as_bytes(), 3))
        .collect();
    assert_eq!(shards.len(), 3);
}

/// What the commands wrote comes back from the append-only log after a
/// restart byte for byte: PFADD (sparse and dense), PFCOUNT's cached
/// estimate, PFMERGE across shards and PFDEBUG TODENSE, at 1 and 3 shards.
#[test]
fn the_log_replays_every_change() {
    for threads in ["1", "3"] {
        let dir = TempDir::new("hll-aof");
        let d = dir.arg();
        let args = logged_args(threads, &d);
        let keys = [K1, K2, K3, "{to}dst", "{in}dense", "{from}cached"];
        let before: Vec<Vec<u8>> = {
            let s = Server::start_with(&args);
            let mut c = s.raw();
            fill(&mut c, K1, "a", 50);
            fill(&mut c, K2, "b", 3000);
            fill(&mut c, K3, "a", 10);
            c.check(&["PFMERGE", "{to}dst", K1, K2, K3], &ok());
            fill(&mut c, "{in}dense", "d", 20);
            c.check(&["PFDEBUG", "TODENSE", "{in}dense"], &int(1));
            fill(&mut c, "{from}cached", "c", 100);
            count(&mut c, &["{from}cached"]);
            count(&mut c, &[K1, K3]);
            keys.iter().map(|k| c.cmd(&["GET", k])).collect()
        };
        let s = Server::start_with(&args);
        let mut c = s.raw();
        for (k, want) in keys.iter().zip(&before) {
            assert_eq!(show(&c.cmd(&["GET", k])), show(want), "{k} at {threads}");
        }
        assert_eq!(raw(&mut c, "{from}cached")[15] & 0x80, 0, "cache kept");
    }
}
