//! Lua scripting over TCP: the `redis` crate's Script API (EVALSHA falling
//! back to EVAL), scripts loaded on one connection and run from another
//! (on another core), RESP3 replies of scripts, scripts whose keys live on
//! several shards, scripts touching keys they did not declare, scripts
//! inside MULTI/EXEC, and atomicity: concurrent scripts doing
//! read-modify-write never lose an update, and readers never see half of a
//! script that writes keys on three shards.
//!
//! Every expectation was checked against a real redis-server
//! (`RINGBUS_TEST_TARGET=redis`).

mod common;

use common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

sharded_tests!(
    redis_crate_script_api,
    load_on_one_connection_run_on_another,
    resp3_replies,
    keys_on_three_shards,
    undeclared_keys_on_other_shards,
    scripts_inside_exec,
    concurrent_read_modify_write_loses_nothing,
    readers_never_see_half_a_script,
    script_errors_leave_earlier_writes,
    functions_on_every_core,
    keys_and_argv_are_fresh_each_run,
);

const QUEUED: &[u8] = b"+QUEUED\r\n";

fn redis_crate_script_api(s: &Server) {
    let mut con = s.client();
    let script = redis::Script::new("return redis.call('incrby', KEYS[1], ARGV[1])");
    // The first invoke meets NOSCRIPT and falls back to EVAL (which caches).
    let n: i64 = script.key("counter").arg(5).invoke(&mut con).unwrap();
    assert_eq!(n, 5);
    let n: i64 = script.key("counter").arg(2).invoke(&mut con).unwrap();
    assert_eq!(n, 7);
    let exists: Vec<bool> = redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg(script.get_hash())
        .query(&mut con)
        .unwrap();
    assert_eq!(exists, vec![true]);
}

fn load_on_one_connection_run_on_another(s: &Server) {
    let mut a = s.raw();
    let sha = Reply::parse(&a.cmd(&["SCRIPT", "LOAD", "return ARGV[1] .. '!'"])).as_text();
    // Several connections: with 3 shards they are spread over the cores.
    for i in 0..6 {
        let mut b = s.raw();
        let arg = format!("hi{i}");
        b.check(&["EVALSHA", &sha, "0", &arg], &bulk(&format!("hi{i}!")));
    }
    a.check(&["SCRIPT", "FLUSH"], &ok());
    let mut b = s.raw();
    b.check(
        &["EVALSHA", &sha, "0", "x"],
        &err("NOSCRIPT No matching script. Please use EVAL."),
    );
}

fn resp3_replies(s: &Server) {
    let mut c = s.raw();
    c.cmd(&["HELLO", "3"]);
    // Booleans follow the script's protocol (RESP2 unless it asks for 3).
    c.check(&["EVAL", "return true", "0"], b":1\r\n");
    c.check(&["EVAL", "return false", "0"], b"_\r\n");
    c.check(&["EVAL", "redis.setresp(3); return true", "0"], b"#t\r\n");
    c.check(&["EVAL", "redis.setresp(3); return false", "0"], b"#f\r\n");
    c.check(&["EVAL", "return nil", "0"], b"_\r\n");
    c.check(&["EVAL", "return {big_number='123'}", "0"], b"(123\r\n");
    c.check(
        &[
            "EVAL",
            "return {verbatim_string={format='txt', string='abc'}}",
            "0",
        ],
        b"=7\r\ntxt:abc\r\n",
    );
    c.check(&["EVAL", "return {double=1.5}", "0"], b",1.5\r\n");
    c.check(
        &["EVAL", "return {map={a=1}}", "0"],
        b"%1\r\n$1\r\na\r\n:1\r\n",
    );
    c.check(
        &["EVAL", "return {set={x=true}}", "0"],
        b"~1\r\n$1\r\nx\r\n",
    );
    // A script that asks for RESP3 replies from redis.call gets typed values.
    c.check(&["HSET", "h", "f", "v"], &int(1));
    c.check(
        &[
            "EVAL",
            "redis.setresp(3); local m = redis.call('hgetall', KEYS[1]); return m.map.f",
            "1",
            "h",
        ],
        &bulk("v"),
    );
    c.check(
        &[
            "EVAL",
            "redis.setresp(3); return redis.call('get', 'missing') == nil",
            "0",
        ],
        b"#t\r\n",
    );
    // A RESP2 client gets RESP3-only types in RESP2 shapes.
    c.cmd(&["HELLO", "2"]);
    c.check(&["EVAL", "return {double=1.5}", "0"], &bulk("1.5"));
    c.check(&["EVAL", "redis.setresp(3); return false", "0"], &int(0));
}

fn keys_on_three_shards(s: &Server) {
    let mut c = s.raw();
    let script = "for i, k in ipairs(KEYS) do redis.call('rpush', k, ARGV[i]) end \
                  return {redis.call('lpop', KEYS[1]), redis.call('lpop', KEYS[2]), redis.call('lpop', KEYS[3])}";
    c.check(
        &[
            "EVAL", script, "3", "{from}l", "{to}l", "{in}l", "a", "b", "c",
        ],
        &array(&[bulk("a"), bulk("b"), bulk("c")]),
    );
    c.check(&["EXISTS", "{from}l", "{to}l", "{in}l"], &int(0));
}

fn undeclared_keys_on_other_shards(s: &Server) {
    let mut c = s.raw();
    // Declares nothing, writes keys of every shard: works, as in Redis
    // outside cluster mode. Run twice: the second run holds every shard.
    let script = "redis.call('incr', '{from}u'); redis.call('incr', '{to}u'); \
                  return redis.call('incr', '{in}u')";
    c.check(&["EVAL", script, "0"], &int(1));
    c.check(&["EVAL", script, "0"], &int(2));
    c.check(
        &["MGET", "{from}u", "{to}u", "{in}u"],
        &array(&[bulk("2"), bulk("2"), bulk("2")]),
    );
}

fn scripts_inside_exec(s: &Server) {
    let mut c = s.raw();
    c.check(&["MULTI"], &ok());
    c.check(&["SET", "{from}m", "1"], QUEUED);
    c.check(
        &["EVAL", "return redis.call('incr', KEYS[1])", "1", "{from}m"],
        QUEUED,
    );
    c.check(
        &["EVAL", "return redis.call('incr', KEYS[1])", "1", "{to}m"],
        QUEUED,
    );
    c.check(&["EXEC"], &array(&[ok(), int(2), int(1)]));
}

/// Clients add to a counter by GET + SET inside scripts, on keys of
/// different shards; no update may be lost.
fn concurrent_read_modify_write_loses_nothing(s: &Server) {
    let keys = ["{from}rmw", "{to}rmw"];
    let script = "for _, k in ipairs(KEYS) do \
                    local v = tonumber(redis.call('get', k) or '0') \
                    redis.call('set', k, v + 1) \
                  end return 1";
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let mut c = s.raw();
            thread::spawn(move || {
                for _ in 0..200 {
                    // Half the clients declare both keys, half only the first.
                    let n = if i % 2 == 0 { "2" } else { "1" };
                    let mut args = vec!["EVAL", script, n, keys[0], keys[1]];
                    if n == "1" {
                        // The second key is then an undeclared one.
                        args = vec![
                            "EVAL",
                            "local v = tonumber(redis.call('get', KEYS[1]) or '0') \
                             redis.call('set', KEYS[1], v + 1) \
                             local w = tonumber(redis.call('get', '{to}rmw') or '0') \
                             redis.call('set', '{to}rmw', w + 1) return 1",
                            "1",
                            keys[0],
                        ];
                    }
                    c.check(&args, &int(1));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let mut c = s.raw();
    c.check(
        &["MGET", keys[0], keys[1]],
        &array(&[bulk("800"), bulk("800")]),
    );
}

/// A script moves a token around three keys on three shards; readers of all
/// three (MGET across shards, itself atomic) must always see exactly one.
fn readers_never_see_half_a_script(s: &Server) {
    let keys = ["{from}tok", "{to}tok", "{in}tok"];
    let mut setup = s.raw();
    setup.check(&["MSET", keys[0], "1", keys[1], "0", keys[2], "0"], &ok());
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let mut r = s.raw();
        let stop = stop.clone();
        thread::spawn(move || {
            let mut reads = 0;
            while !stop.load(Ordering::Relaxed) {
                let reply = Reply::parse(&r.cmd(&["MGET", keys[0], keys[1], keys[2]]));
                let total: i64 = reply
                    .as_array()
                    .iter()
                    .map(|v| v.as_text().parse::<i64>().unwrap())
                    .sum();
                assert_eq!(total, 1, "half a script seen: {reply:?}");
                reads += 1;
            }
            reads
        })
    };
    let mut w = s.raw();
    let script = "local from = tonumber(ARGV[1]) local to = from % 3 + 1 \
                  redis.call('set', KEYS[from], 0) redis.call('set', KEYS[to], 1) return to";
    let mut at = 1;
    for _ in 0..300 {
        let next = Reply::parse(&w.cmd(&[
            "EVAL",
            script,
            "3",
            keys[0],
            keys[1],
            keys[2],
            &at.to_string(),
        ]))
        .as_int();
        at = next;
    }
    stop.store(true, Ordering::Relaxed);
    assert!(reader.join().expect("reader") > 0);
}

fn script_errors_leave_earlier_writes(s: &Server) {
    let mut c = s.raw();
    let reply = c.cmd(&[
        "EVAL",
        "redis.call('set', KEYS[1], 'written') return redis.call('incr', KEYS[1])",
        "1",
        "{in}e",
    ]);
    let text = String::from_utf8_lossy(&reply).to_string();
    assert!(
        text.starts_with("-ERR value is not an integer or out of range script: "),
        "{text}"
    );
    assert!(text.ends_with(", on @user_script:1.\r\n"), "{text}");
    c.check(&["GET", "{in}e"], &bulk("written"));
}

/// A library loaded on one connection is callable from every connection
/// (with 3 shards, from every core), follows FUNCTION DELETE and RESTORE,
/// and its functions run atomically on keys of several shards.
fn functions_on_every_core(s: &Server) {
    let mut a = s.raw();
    a.check(&["FUNCTION", "FLUSH"], &ok());
    let code = "#!lua name=jobs\n\
        redis.register_function('push', function(keys, args) \
          redis.call('rpush', keys[1], args[1]) \
          return redis.call('incr', keys[2]) end)\n\
        redis.register_function{function_name='peek', \
          callback=function(keys) return redis.call('lrange', keys[1], 0, -1) end, \
          flags={'no-writes'}}";
    a.check(&["FUNCTION", "LOAD", code], &bulk("jobs"));
    for i in 0..6 {
        let mut b = s.raw();
        b.check(
            &[
                "FCALL",
                "push",
                "2",
                "{from}jobs",
                "{to}count",
                &format!("j{i}"),
            ],
            &int(i + 1),
        );
    }
    let mut b = s.raw();
    b.check(
        &["FCALL_RO", "peek", "1", "{from}jobs"],
        &bulks(&["j0", "j1", "j2", "j3", "j4", "j5"]),
    );
    b.check(
        &["FCALL_RO", "push", "2", "{from}jobs", "{to}count", "x"],
        &err("ERR Can not execute a script with write flag using *_ro command."),
    );
    let dump = Reply::parse(&a.cmd(&["FUNCTION", "DUMP"]));
    let Reply::Bulk(payload) = dump else {
        panic!("FUNCTION DUMP gave {dump:?}")
    };
    a.check(&["FUNCTION", "DELETE", "jobs"], &ok());
    b.check(
        &["FCALL", "peek", "1", "{from}jobs"],
        &err("ERR Function not found"),
    );
    assert_eq!(a.cmd_bytes(&[b"FUNCTION", b"RESTORE", &payload]), ok());
    b.check(
        &["FCALL", "peek", "1", "{from}jobs"],
        &bulks(&["j0", "j1", "j2", "j3", "j4", "j5"]),
    );
    assert_eq!(
        show(&a.cmd_bytes(&[b"FUNCTION", b"RESTORE", &payload])),
        show(&err("ERR Library jobs already exists"))
    );
    a.check(&["FUNCTION", "FLUSH"], &ok());
}

/// A script that changes KEYS or ARGV (adds items, a metatable, replaces
/// one) does not change what the next run of any script sees.
fn keys_and_argv_are_fresh_each_run(s: &Server) {
    let mut c = s.raw();
    let show = "return {#KEYS, #ARGV, KEYS[1] or 'none', ARGV[1] or 'none', tostring(KEYS.x), tostring(rawget(ARGV, 5))}";
    let sha = Reply::parse(&c.cmd(&["SCRIPT", "LOAD", show])).as_text();
    let expect = |keys: i64, args: i64, k: &str, a: &str| {
        Reply::Array(vec![
            Reply::Int(keys),
            Reply::Int(args),
            Reply::Bulk(k.as_bytes().to_vec()),
            Reply::Bulk(a.as_bytes().to_vec()),
            Reply::Bulk(b"nil".to_vec()),
            Reply::Bulk(b"nil".to_vec()),
        ])
    };
    assert_eq!(
        Reply::parse(&c.cmd(&["EVALSHA", &sha, "2", "k1", "k2", "a1", "a2", "a3"])),
        expect(2, 3, "k1", "a1")
    );
    let meddle = "KEYS.x = 1; table.insert(KEYS, 'extra'); KEYS[1] = 'changed'; \
                  setmetatable(ARGV, {__index = function() return 'ghost' end}); return 1";
    c.check(&["EVAL", meddle, "1", "k", "a"], b":1\r\n");
    assert_eq!(
        Reply::parse(&c.cmd(&["EVALSHA", &sha, "1", "k9", "a9"])),
        expect(1, 1, "k9", "a9")
    );
    assert_eq!(
        Reply::parse(&c.cmd(&["EVALSHA", &sha, "0"])),
        expect(0, 0, "none", "none")
    );
    c.check(
        &["EVAL", "ARGV[5] = 'x'; return #KEYS", "0", "a"],
        b":0\r\n",
    );
    assert_eq!(
        Reply::parse(&c.cmd(&["EVALSHA", &sha, "1", "k", "a", "b"])),
        expect(1, 2, "k", "a")
    );
}
