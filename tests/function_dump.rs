//! FUNCTION DUMP and FUNCTION RESTORE against a real redis-server (7.0, the
//! reference installed here): payloads cross both ways and the functions
//! run; ringbus's payload is byte for byte Redis's; every restore policy
//! and every refusal gets Redis's reply, and a refused payload changes
//! nothing.
//!
//! Redis writes libraries in the order of its library dict (hashed with a
//! seed drawn at start), so two libraries come out in an order that varies
//! from run to run; ringbus writes them by name. Payloads of several
//! libraries are compared record by record.
//!
//! Where Redis 7.2 (which ringbus follows) and the 7.0 reference differ,
//! the check is on ringbus alone: 7.2 refuses the 7.0 release candidates'
//! records (opcode 246) and reads RDB 11 payloads.

mod common;

use common::*;
use ringbus::persist::rdb::dump;
use ringbus::persist::rdb::format::crc64;
use ringbus::persist::rdb::EncodeOptions;

sharded_tests!(
    payloads_cross_both_ways,
    dump_bytes_match_redis,
    restore_policies_match_redis,
    errors_match_redis,
    refused_payloads_change_nothing,
    redis_7_2_only_cases,
);

const ALPHA: &str = "#!lua name=alpha\n\
    redis.register_function('a_get', function(keys) return redis.call('get', keys[1]) end)";
const BETA: &str = "#!lua name=beta\n\
    redis.register_function{function_name='b_echo', \
      callback=function(_, args) return args[1] end, \
      flags={'no-writes'}, description='echo'}";
/// Over 20 bytes and repetitive: LZF-compressed under `rdbcompression yes`.
const GAMMA: &str = "#!lua name=gamma\n\
    -- gamma gamma gamma gamma gamma gamma gamma gamma gamma gamma gamma\n\
    redis.register_function('g_one', function() return 1 end)\n\
    redis.register_function('g_two', function() return 2 end)";
/// Another version of `alpha`, with another function.
const ALPHA2: &str = "#!lua name=alpha\n\
    redis.register_function('a_len', function(keys) return redis.call('strlen', keys[1]) end)";
/// A library holding `b_echo`, as `beta` does.
const THIEF: &str = "#!lua name=thief\n\
    redis.register_function('b_echo', function() return 'stolen' end)";

// ------------------------------------------------------------------ helpers

fn start_redis() -> (Server, RawConn) {
    let srv = Server::start_redis(&[]);
    let c = srv.raw();
    (srv, c)
}

fn fmt_args(args: &[&[u8]]) -> String {
    args.iter()
        .map(|a| show(&a[..a.len().min(40)]))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Run a command; fail the test on an error reply.
fn r(c: &mut RawConn, args: &[&[u8]]) -> Reply {
    let rep = Reply::parse(&c.cmd_bytes(args));
    if let Reply::Error(e) = &rep {
        panic!("{} -> {e}", fmt_args(args));
    }
    rep
}

fn check_bytes(c: &mut RawConn, args: &[&[u8]], expected: &[u8]) {
    assert_eq!(
        show(&c.cmd_bytes(args)),
        show(expected),
        "{}",
        fmt_args(args)
    );
}

fn load(c: &mut RawConn, code: &str) {
    r(c, &[b"FUNCTION", b"LOAD", code.as_bytes()]);
}

fn function_dump(c: &mut RawConn) -> Vec<u8> {
    match r(c, &[b"FUNCTION", b"DUMP"]) {
        Reply::Bulk(p) => p,
        other => panic!("FUNCTION DUMP -> {other:?}"),
    }
}

/// The code of every library, sorted (Redis lists them in dict order).
fn library_codes(c: &mut RawConn) -> Vec<String> {
    let list = r(c, &[b"FUNCTION", b"LIST", b"WITHCODE"]);
    let mut codes: Vec<String> = list
        .as_array()
        .iter()
        .map(|lib| {
            lib.as_pairs()
                .into_iter()
                .find(|(k, _)| k == "library_code")
                .expect("library_code")
                .1
                .as_text()
        })
        .collect();
    codes.sort();
    codes
}

/// The library codes a payload holds, in its order.
fn payload_codes(p: &[u8]) -> Vec<Vec<u8>> {
    dump::function_codes(p)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A body with an RDB version and a fresh CRC64.
fn seal(body: &[u8], version: u16) -> Vec<u8> {
    let mut p = body.to_vec();
    p.extend_from_slice(&version.to_le_bytes());
    let crc = crc64(&p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

/// The payload Redis 7.0 would write for these codes, in this order.
fn payload(codes: &[&str]) -> Vec<u8> {
    dump::function_payload(
        codes.iter().map(|c| c.as_bytes()),
        &EncodeOptions::default(),
    )
    .unwrap()
}

fn assert_same(mine: &[u8], theirs: &[u8], what: &str) {
    assert!(
        mine == theirs,
        "{what} differs:\n ours {}\nredis {}",
        show(&mine[..mine.len().min(400)]),
        show(&theirs[..theirs.len().min(400)])
    );
}

// -------------------------------------------------------------------- tests

/// ringbus's payload restores on redis-server and its functions run there,
/// and the other way round.
fn payloads_cross_both_ways(s: &Server) {
    let (_redis, mut rc) = start_redis();
    let mut ours = s.raw();
    r(&mut ours, &[b"FUNCTION", b"FLUSH"]);
    for code in [ALPHA, BETA, GAMMA] {
        load(&mut ours, code);
    }
    r(&mut ours, &[b"SET", b"k", b"hello"]);
    r(&mut rc, &[b"SET", b"k", b"world"]);

    let p = function_dump(&mut ours);
    assert_eq!(
        r(&mut rc, &[b"FUNCTION", b"RESTORE", &p]),
        Reply::Simple("OK".into())
    );
    assert_eq!(library_codes(&mut rc), library_codes(&mut ours));
    rc.check(&["FCALL", "a_get", "1", "k"], &bulk("world"));
    rc.check(&["FCALL_RO", "b_echo", "0", "hi"], &bulk("hi"));
    rc.check(&["FCALL", "g_two", "0"], &int(2));

    // Back from Redis (in its own order) into an empty ringbus, from
    // another connection (with 3 shards, likely another core).
    let theirs = function_dump(&mut rc);
    r(&mut ours, &[b"FUNCTION", b"FLUSH"]);
    let mut other = s.raw();
    other.check(&["FCALL", "g_one", "0"], &err("ERR Function not found"));
    assert_eq!(
        r(&mut other, &[b"FUNCTION", b"RESTORE", &theirs]),
        Reply::Simple("OK".into())
    );
    assert_eq!(library_codes(&mut ours), library_codes(&mut rc));
    for c in [&mut ours, &mut other] {
        c.check(&["FCALL", "a_get", "1", "k"], &bulk("hello"));
        c.check(&["FCALL_RO", "b_echo", "0", "hi"], &bulk("hi"));
        c.check(&["FCALL", "g_one", "0"], &int(1));
    }
    // FUNCTION LIST shows the restored flags and description.
    let list = Reply::parse(&ours.cmd(&["FUNCTION", "LIST", "LIBRARYNAME", "beta"]));
    assert_eq!(
        list,
        Reply::parse(&rc.cmd(&["FUNCTION", "LIST", "LIBRARYNAME", "beta"]))
    );
    r(&mut ours, &[b"FUNCTION", b"FLUSH"]);
}

/// The same libraries give Redis's bytes: one library at a time exactly,
/// several as the same records (ringbus's by name), without
/// `rdbcompression`; with it, the same libraries (LZF encoders may pick
/// other, equally valid, back references than Redis's bundled liblzf, so
/// compressed strings are compared decoded); no library at all is the bare
/// footer.
fn dump_bytes_match_redis(s: &Server) {
    let (_redis, mut rc) = start_redis();
    let mut ours = s.raw();
    r(&mut ours, &[b"FUNCTION", b"FLUSH"]);
    for compression in ["yes", "no"] {
        for c in [&mut rc, &mut ours] {
            r(
                c,
                &[b"CONFIG", b"SET", b"rdbcompression", compression.as_bytes()],
            );
            r(c, &[b"FUNCTION", b"FLUSH"]);
        }
        let empty = function_dump(&mut ours);
        assert_same(&empty, &function_dump(&mut rc), "empty FUNCTION DUMP");
        assert_eq!(empty.len(), 10);
        for code in [ALPHA, BETA, GAMMA] {
            for c in [&mut rc, &mut ours] {
                r(c, &[b"FUNCTION", b"FLUSH"]);
                load(c, code);
            }
            let mine = function_dump(&mut ours);
            let theirs = function_dump(&mut rc);
            if compression == "no" {
                assert_same(&mine, &theirs, code.lines().next().unwrap());
            } else {
                assert_eq!(payload_codes(&mine), payload_codes(&theirs));
            }
        }
        // GAMMA's code is compressed only under `rdbcompression yes`.
        assert_eq!(function_dump(&mut ours)[1] == 0xc3, compression == "yes");

        for c in [&mut rc, &mut ours] {
            r(c, &[b"FUNCTION", b"FLUSH"]);
            // Loaded out of name order.
            for code in [GAMMA, ALPHA, BETA] {
                load(c, code);
            }
        }
        let mine = function_dump(&mut ours);
        let theirs = function_dump(&mut rc);
        if compression == "no" {
            assert_eq!(mine.len(), theirs.len());
        }
        let by_name = [ALPHA, BETA, GAMMA].map(|c| c.as_bytes().to_vec());
        assert_eq!(payload_codes(&mine), by_name);
        let mut redis_codes = payload_codes(&theirs);
        redis_codes.sort();
        assert_eq!(redis_codes, by_name);
        // Redis's records in name order are ringbus's payload.
        let opts = EncodeOptions {
            compression: compression == "yes",
            ..EncodeOptions::default()
        };
        let rebuilt = dump::function_payload(redis_codes.iter().map(|c| &c[..]), &opts).unwrap();
        assert_same(&mine, &rebuilt, "FUNCTION DUMP of three libraries");
        // Restored from Redis's bytes, ringbus dumps its own again.
        r(&mut ours, &[b"FUNCTION", b"RESTORE", &theirs, b"FLUSH"]);
        assert_same(
            &function_dump(&mut ours),
            &mine,
            "FUNCTION DUMP after RESTORE",
        );
    }
    r(&mut ours, &[b"CONFIG", b"SET", b"rdbcompression", b"yes"]);
    r(&mut ours, &[b"FUNCTION", b"FLUSH"]);
}

/// Each command goes to both servers; the replies must be the same bytes,
/// and the libraries the same after each.
fn differential(rc: &mut RawConn, ours: &mut RawConn, script: &[Vec<&[u8]>]) {
    for args in script {
        let theirs = rc.cmd_bytes(args);
        let mine = ours.cmd_bytes(args);
        assert_eq!(show(&mine), show(&theirs), "{}", fmt_args(args));
        assert_eq!(
            library_codes(ours),
            library_codes(rc),
            "libraries after {}",
            fmt_args(args)
        );
    }
}

/// Gives the literal its type, so that byte strings of any length mix.
fn cmds(v: Vec<Vec<&[u8]>>) -> Vec<Vec<&[u8]>> {
    v
}

fn fcalls<'a>() -> Vec<Vec<&'a [u8]>> {
    vec![
        vec![b"FCALL", b"a_get", b"1", b"k"],
        vec![b"FCALL", b"a_len", b"1", b"k"],
        vec![b"FCALL", b"b_echo", b"0", b"x"],
        vec![b"FCALL", b"g_one", b"0"],
    ]
}

/// APPEND (the default), REPLACE and FLUSH, in every case, as Redis.
fn restore_policies_match_redis(s: &Server) {
    let (_redis, mut rc) = start_redis();
    let mut ours = s.raw();
    let alpha_beta = payload(&[ALPHA, BETA]);
    let alpha2 = payload(&[ALPHA2]);
    let beta = payload(&[BETA]);
    let gamma = payload(&[GAMMA]);
    let thief = payload(&[THIEF]);
    let thief_beta = payload(&[THIEF, BETA]);
    let empty = payload(&[]);
    let mut script: Vec<Vec<&[u8]>> = vec![
        vec![b"FUNCTION", b"FLUSH"],
        vec![b"SET", b"k", b"hello"],
        vec![b"FUNCTION", b"RESTORE", &alpha_beta],
        vec![b"FUNCTION", b"RESTORE", &gamma, b"APPEND"],
        // APPEND: an existing library refuses the whole payload.
        vec![b"FUNCTION", b"RESTORE", &alpha2],
        vec![b"FUNCTION", b"RESTORE", &alpha2, b"append"],
        // (With two taken, Redis names the first in its dict's order.)
        vec![b"FUNCTION", b"RESTORE", &beta],
        // A function of another library refuses it, whatever the policy.
        vec![b"FUNCTION", b"RESTORE", &thief],
        vec![b"FUNCTION", b"RESTORE", &thief, b"REPLACE"],
    ];
    script.extend(fcalls());
    script.extend(cmds(vec![
        // REPLACE: the old library goes, with its functions.
        vec![b"FUNCTION", b"RESTORE", &alpha2, b"REPLACE"],
        // Even under REPLACE, a payload may not hold a function twice.
        vec![b"FUNCTION", b"RESTORE", &thief_beta, b"REPLACE"],
        vec![b"FUNCTION", b"RESTORE", &alpha_beta, b"Replace"],
    ]));
    script.extend(fcalls());
    script.extend(cmds(vec![
        // FLUSH: only the payload's libraries remain.
        vec![b"FUNCTION", b"RESTORE", &alpha2, b"FLUSH"],
    ]));
    script.extend(fcalls());
    script.extend(cmds(vec![
        vec![b"FUNCTION", b"RESTORE", &thief, b"flush"],
        vec![b"FCALL", b"b_echo", b"0", b"x"],
        vec![b"FUNCTION", b"RESTORE", &empty],
        vec![b"FUNCTION", b"RESTORE", &empty, b"REPLACE"],
        vec![b"FUNCTION", b"RESTORE", &empty, b"FLUSH"],
        vec![b"FUNCTION", b"LIST"],
        vec![b"FUNCTION", b"RESTORE", &gamma, b"FLUSH"],
        vec![b"FUNCTION", b"FLUSH"],
    ]));
    differential(&mut rc, &mut ours, &script);
}

/// Every refusal, with Redis's reply, and nothing changed by it.
fn errors_match_redis(s: &Server) {
    let (_redis, mut rc) = start_redis();
    let mut ours = s.raw();
    let good = payload(&[ALPHA]);
    let mut bad_crc = good.clone();
    *bad_crc.last_mut().unwrap() ^= 1;
    let mut bad_body = good.clone();
    bad_body[5] ^= 0x20;
    let newer = seal(&good[..good.len() - 10], 12);
    for c in [&mut rc, &mut ours] {
        r(c, &[b"SET", b"str", b"hello"]);
    }
    // A key's DUMP payload: a value, not a function.
    let key_payload = match r(&mut rc, &[b"DUMP", b"str"]) {
        Reply::Bulk(p) => p,
        other => panic!("DUMP -> {other:?}"),
    };
    let body = &good[..good.len() - 10];
    // A function record, then a key's value.
    let then_key = seal(&[body, b"\x00\x01k"].concat(), 10);
    // A library that does not compile, then a key: the compile error wins.
    let no_compile = "#!lua name=broken\nredis.register_function('x', function() return end";
    let broken = payload(&[no_compile]);
    let broken_then_key = seal(&[&broken[..broken.len() - 10], b"\x00\x01k"].concat(), 10);
    let no_functions = "#!lua name=nofn\nlocal x = 1";
    let bad_name = "#!lua name=a-b\nredis.register_function('f', function() return 1 end)";
    let engine = "#!js name=j\nx";
    let no_meta = "return 1";
    // The string's length runs past the payload's end.
    let cut = seal(b"\xf5\x40\x50#!lua", 10);
    // The same library twice, or the same function in two libraries.
    let twice = payload(&[ALPHA, ALPHA]);
    let fn_twice = payload(&[BETA, THIEF]);
    let bad = [
        payload(&[no_compile]),
        payload(&[no_functions]),
        payload(&[bad_name]),
        payload(&[engine]),
        payload(&[no_meta]),
        payload(&[""]),
    ];
    let mut script: Vec<Vec<&[u8]>> = vec![
        vec![b"FUNCTION", b"FLUSH"],
        vec![b"FUNCTION", b"LOAD", BETA.as_bytes()],
        vec![b"FUNCTION", b"RESTORE"],
        vec![b"FUNCTION", b"RESTORE", &good, b"APPEND", b"extra"],
        vec![b"FUNCTION", b"RESTORE", &bad_crc, b"extra", b"more"],
        vec![b"FUNCTION", b"RESTORE", &good, b"BADPOLICY"],
        // The policy is checked before the payload.
        vec![b"FUNCTION", b"RESTORE", &bad_crc, b"BADPOLICY"],
        vec![b"FUNCTION", b"RESTORE", b""],
        vec![b"FUNCTION", b"RESTORE", b"junk"],
        vec![b"FUNCTION", b"RESTORE", &bad_crc],
        vec![b"FUNCTION", b"RESTORE", &bad_body, b"FLUSH"],
        vec![b"FUNCTION", b"RESTORE", &newer],
        vec![b"FUNCTION", b"RESTORE", &key_payload, b"FLUSH"],
        vec![b"FUNCTION", b"RESTORE", &then_key, b"FLUSH"],
        vec![b"FUNCTION", b"RESTORE", &broken_then_key],
        vec![b"FUNCTION", b"RESTORE", &cut],
        vec![b"FUNCTION", b"RESTORE", &twice, b"FLUSH"],
        vec![b"FUNCTION", b"RESTORE", &fn_twice, b"FLUSH"],
        vec![b"FUNCTION", b"DUMP", b"extra"],
        vec![b"FCALL", b"b_echo", b"0", b"still here"],
    ];
    for p in &bad {
        script.push(vec![b"FUNCTION", b"RESTORE", p, b"FLUSH"]);
    }
    script.push(vec![b"FUNCTION", b"FLUSH"]);
    differential(&mut rc, &mut ours, &script);
}

/// Any corrupted byte of a payload is refused, even with FLUSH, and the
/// libraries (and what FUNCTION DUMP gives) stay as they were.
fn refused_payloads_change_nothing(s: &Server) {
    let mut c = s.raw();
    r(&mut c, &[b"FUNCTION", b"FLUSH"]);
    load(&mut c, BETA);
    load(&mut c, GAMMA);
    let before = function_dump(&mut c);
    let p = payload(&[ALPHA, ALPHA2]);
    for i in 0..p.len() {
        for policy in [&b"APPEND"[..], b"REPLACE", b"FLUSH"] {
            let mut bad = p.clone();
            bad[i] ^= 0x04;
            let reply = Reply::parse(&c.cmd_bytes(&[b"FUNCTION", b"RESTORE", &bad, policy]));
            assert_eq!(
                reply,
                Reply::Error("ERR DUMP payload version or checksum are wrong".into()),
                "byte {i}"
            );
        }
    }
    // A payload that checks out but fails halfway (alpha twice) leaves
    // nothing of its first library either.
    let reply = Reply::parse(&c.cmd_bytes(&[b"FUNCTION", b"RESTORE", &p, b"FLUSH"]));
    assert_eq!(
        reply,
        Reply::Error("ERR Library 'alpha' already exists".into())
    );
    assert_same(
        &function_dump(&mut c),
        &before,
        "FUNCTION DUMP after refusals",
    );
    c.check(
        &["FCALL", "a_get", "1", "k"],
        &err("ERR Function not found"),
    );
    c.check(&["FCALL", "g_two", "0"], &int(2));
    r(&mut c, &[b"FUNCTION", b"FLUSH"]);
}

/// Redis 7.2 refuses pre-GA records and restores RDB 11 payloads (the 7.0
/// reference restores the former and refuses the latter).
fn redis_7_2_only_cases(s: &Server) {
    let mut c = s.raw();
    r(&mut c, &[b"FUNCTION", b"FLUSH"]);
    load(&mut c, BETA);
    let before = function_dump(&mut c);
    // Name, engine, no description, code: the 7.0 RC layout.
    let pre_ga = seal(b"\xf6\x01x\x03LUA\x00\x01y", 10);
    check_bytes(
        &mut c,
        &[b"FUNCTION", b"RESTORE", &pre_ga, b"FLUSH"],
        &err("ERR Pre-GA function format not supported"),
    );
    assert_same(&function_dump(&mut c), &before, "after a pre-GA payload");
    // What a 7.2 FUNCTION DUMP gives: version 11.
    let opts = EncodeOptions::rdb11();
    let p11 = dump::function_payload([GAMMA.as_bytes()], &opts).unwrap();
    assert_eq!(&p11[p11.len() - 10..p11.len() - 8], b"\x0b\x00");
    check_bytes(&mut c, &[b"FUNCTION", b"RESTORE", &p11], &ok());
    c.check(&["FCALL", "g_one", "0"], &int(1));
    // Our own payload carries version 10, which every 7.x restores.
    let p = function_dump(&mut c);
    assert_eq!(&p[p.len() - 10..p.len() - 8], b"\x0a\x00");
    r(&mut c, &[b"FUNCTION", b"FLUSH"]);
}
