//! Differential test of the Lua libraries Redis bundles (cjson, cmsgpack,
//! bit, struct): each script runs as `EVAL script 0` on a real redis-server
//! and locally in an mlua Lua with `ringbus::script::libs::register_all`,
//! and the replies must match (the local result is converted to a reply
//! with Redis's Lua-to-RESP rules; errors are compared without Redis's
//! " script: <sha>, on @user_script:1." suffix).
//!
//! Scripts that change a setting use `cjson.new()`, since the setting of
//! the global `cjson` would outlive the script on the shared redis-server.

mod common;

use common::{RawConn, Server};
use mlua::{Lua, Value};

#[derive(PartialEq)]
enum Reply {
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Status(String),
    Error(String),
    Array(Vec<Reply>),
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::Int(i) => write!(f, "(integer) {i}"),
            Reply::Bulk(b) => write!(f, "\"{}\"", b.escape_ascii()),
            Reply::Nil => write!(f, "(nil)"),
            Reply::Status(s) => write!(f, "+{s}"),
            Reply::Error(e) => write!(f, "(error) {e}"),
            Reply::Array(a) => f.debug_list().entries(a).finish(),
        }
    }
}

/// Parse one RESP2 reply from the start of `buf`: the reply and its length.
fn parse(buf: &[u8]) -> (Reply, usize) {
    let eol = buf.windows(2).position(|w| w == b"\r\n").expect("CRLF");
    let line = std::str::from_utf8(&buf[1..eol]).expect("header");
    let after = eol + 2;
    match buf[0] {
        b':' => (Reply::Int(line.parse().unwrap()), after),
        b'+' => (Reply::Status(line.to_string()), after),
        b'-' => {
            let msg = match line.rfind(" script: ") {
                Some(i) => &line[..i],
                None => line,
            };
            (Reply::Error(msg.to_string()), after)
        }
        b'$' => {
            let n: i64 = line.parse().unwrap();
            if n < 0 {
                return (Reply::Nil, after);
            }
            let n = n as usize;
            (Reply::Bulk(buf[after..after + n].to_vec()), after + n + 2)
        }
        b'*' => {
            let n: i64 = line.parse().unwrap();
            if n < 0 {
                return (Reply::Nil, after);
            }
            let mut at = after;
            let mut items = Vec::new();
            for _ in 0..n {
                let (r, len) = parse(&buf[at..]);
                items.push(r);
                at += len;
            }
            (Reply::Array(items), at)
        }
        other => panic!("unexpected reply type {:?}", other as char),
    }
}

fn redis_eval(conn: &mut RawConn, script: &str) -> Reply {
    let raw = conn.cmd_bytes(&[b"EVAL", script.as_bytes(), b"0"]);
    parse(&raw).0
}

/// C's `(long long)d` on x86-64, as Redis turns a Lua number into a reply.
fn c_f64_to_i64(d: f64) -> i64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if d.is_nan() || !(-TWO63..TWO63).contains(&d) {
        i64::MIN
    } else {
        d as i64
    }
}

/// Redis's conversion of a script's return value into a reply.
fn to_reply(v: &Value) -> Reply {
    match v {
        Value::Nil | Value::Boolean(false) => Reply::Nil,
        Value::Boolean(true) => Reply::Int(1),
        Value::Integer(i) => Reply::Int(c_f64_to_i64(*i as f64)),
        Value::Number(n) => Reply::Int(c_f64_to_i64(*n)),
        Value::String(s) => Reply::Bulk(s.as_bytes().to_vec()),
        Value::Table(t) => {
            if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
                return Reply::Error(e.to_string_lossy());
            }
            if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
                return Reply::Status(s.to_string_lossy());
            }
            let mut items = Vec::new();
            for i in 1.. {
                let item: Value = t.raw_get(i).unwrap();
                if item == Value::Nil {
                    break;
                }
                items.push(to_reply(&item));
            }
            Reply::Array(items)
        }
        _ => Reply::Nil,
    }
}

fn error_text(e: &mlua::Error) -> String {
    let s = match e {
        mlua::Error::RuntimeError(s) => s.clone(),
        mlua::Error::CallbackError { cause, .. } => return error_text(cause),
        other => other.to_string(),
    };
    match s.find("\nstack traceback:") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn local_eval(script: &str) -> Reply {
    let lua = Lua::new();
    ringbus::script::libs::register_all(&lua).unwrap();
    match lua
        .load(script)
        .set_name("@user_script")
        .eval::<mlua::MultiValue>()
    {
        Ok(v) => to_reply(v.iter().next().unwrap_or(&Value::Nil)),
        Err(e) => Reply::Error(format!("ERR {}", error_text(&e))),
    }
}

/// Run every script on redis-server and locally; fail listing mismatches.
fn differential(cases: &[&str]) {
    let server = Server::start_redis(&[]);
    let mut conn = server.raw();
    let mut failures = Vec::new();
    for script in cases {
        let want = redis_eval(&mut conn, script);
        let got = local_eval(script);
        if want != got {
            failures.push(format!(
                "script: {script}\n  redis:   {want:?}\n  ringbus: {got:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} scripts differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn cjson_matches_redis() {
    differential(&[
        "return cjson.encode({1.5, 0.1, 1/3, 1e20, 123456789012345678, -0.0, 1e-5, 2^53, 100})",
        "return cjson.encode({[1.5]='a'})",
        "return cjson.encode({[2]='a'})",
        "return cjson.encode({[0]='a'})",
        "return cjson.encode({[-1]='a'})",
        "return cjson.encode({})",
        "return cjson.encode({{}, {{}}})",
        "return cjson.encode('\\0\\31\\127\\128\\255/\\\\\"\\b\\f\\n\\r\\t')",
        "return cjson.encode(cjson.null)",
        "return cjson.encode(nil)",
        "return cjson.encode(true)",
        "return cjson.encode({a={b={c=1}}})",
        "return cjson.encode({1,2,nil,4})",
        "return cjson.encode({1,2,3,[5]=5})",
        "return cjson.encode({[1]=1,[10]=2})",
        "return cjson.encode({[1e15]='a'})",
        "return cjson.encode({[1]='a',[2]='b',x=1})",
        "return cjson.encode(setmetatable({}, {__index=function() return 1 end}))",
        "return cjson.encode()",
        "return cjson.encode(1, 2)",
        "return cjson.encode(coroutine.create(function() end))",
        "return cjson.encode(function() end)",
        "return cjson.encode({[true]=1})",
        "return cjson.encode(1/0)",
        "return cjson.encode({[1]=1,[20]=2})",
        "local t = {} t[1] = t return cjson.encode(t)",
        "return cjson.decode('[1,2,3]')[3]",
        "return cjson.decode('{\"a\":1,\"a\":2}').a",
        "return cjson.decode('\"\\\\u00e9\\\\ud83d\\\\ude00\\\\/\\\\b\\\\f\"')",
        "return cjson.decode('{\"a\":[1,{\"b\":null}]}').a[2].b == cjson.null",
        "return type(cjson.decode('null'))",
        "return cjson.encode(cjson.decode('{\"a\":null,\"b\":[null, true, false, \"x\"]}'))",
        "return cjson.encode(cjson.decode('[0x10, 1e2, -0, 3.25, 1.5e+3, +5, 012]'))",
        "return tostring(cjson.decode('1e400'))",
        "return tostring(cjson.decode('-Infinity'))",
        "return tostring(cjson.decode('NaN'))",
        "return tostring(cjson.decode('0x1p4'))",
        "return cjson.decode('  12  ')",
        "return cjson.decode(123)",
        "return #cjson.decode('\"\\\\u0000\"')",
        "return cjson.decode('\\t\\r\\n [ ] ')",
        "return cjson.decode('[1 2]')",
        "return cjson.decode('\"abc')",
        "return cjson.decode('\"a\\\\qb\"')",
        "return cjson.decode('\"\\\\u12\"')",
        "return cjson.decode('\"\\\\ud800\"')",
        "return cjson.decode('\"\\\\uDC00\"')",
        "return cjson.decode('\"\\\\ud800\\\\u0041\"')",
        "return cjson.decode('[1,2')",
        "return cjson.decode('{\"a\" 1}')",
        "return cjson.decode('{1:2}')",
        "return cjson.decode('{\"a\":1,}')",
        "return cjson.decode('{\"a\":1 \"b\":2}')",
        "return cjson.decode('[] x')",
        "return cjson.decode('truex')",
        "return cjson.decode('nul')",
        "return cjson.decode('-')",
        "return cjson.decode('.5')",
        "return cjson.decode('1.5.3')",
        "return cjson.decode('  ')",
        "return cjson.decode('')",
        "return cjson.decode('\"a\\0b\"')",
        "return cjson.decode('\\0a')",
        "return cjson.decode({})",
        "return cjson.decode()",
        "return cjson.decode(string.rep('[', 1001) .. string.rep(']', 1001))",
        "return #cjson.encode(cjson.decode(string.rep('[', 1000) .. string.rep(']', 1000)))",
        "local ok, e = pcall(cjson.decode, 'x') return e",
        "local ok, e = pcall(function() return cjson.decode('x') end) return e",
        "return {cjson.encode_max_depth(), cjson.decode_max_depth(), cjson.encode_number_precision()}",
        "return {cjson.encode_sparse_array()}",
        "return tostring(cjson.encode_keep_buffer())..tostring(cjson.encode_invalid_numbers())..tostring(cjson.decode_invalid_numbers())",
        "return cjson._NAME .. ' ' .. cjson._VERSION",
        "local t={} for k,v in pairs(cjson) do t[#t+1]=k end table.sort(t) return t",
        "local c = cjson.new() return {c.encode_sparse_array(true, 3, 4)}",
        "local c = cjson.new() return {c.encode_sparse_array(1)}",
        "local c = cjson.new() return {c.encode_sparse_array(true, -1)}",
        "local c = cjson.new() return {c.encode_sparse_array(true, 1, 2, 3)}",
        "local c = cjson.new() return c.encode_max_depth(0)",
        "local c = cjson.new() return c.encode_max_depth(2.5)",
        "local c = cjson.new() return c.encode_number_precision(15)",
        "local c = cjson.new() return c.encode_number_precision('x')",
        "local c = cjson.new() return c.encode_invalid_numbers('bogus')",
        "local c = cjson.new() return c.encode_invalid_numbers('null')",
        "local c = cjson.new() return tostring(c.encode_keep_buffer('off'))",
        "local c = cjson.new() c.encode_number_precision(3) return {c.encode(1/3), cjson.encode(1/3)}",
        "local c = cjson.new() c.encode_invalid_numbers(true) return c.encode({1/0, -1/0, 0/0})",
        "local c = cjson.new() c.encode_invalid_numbers('null') return c.encode({1/0, -1/0, 0/0})",
        "local c = cjson.new() c.encode_max_depth(2) return c.encode({{{1}}})",
        "local c = cjson.new() c.decode_max_depth(2) return c.decode('[[[1]]]')",
        "local c = cjson.new() c.decode_invalid_numbers(false) return c.decode('0x10')",
        "local c = cjson.new() c.decode_invalid_numbers(false) return c.decode('[1, nan]')",
        "local c = cjson.new() c.encode_sparse_array(true) return c.encode({[1]=1,[20]=2})",
        "local c = cjson.new() c.encode_sparse_array(false, 0) return c.encode({[1]=1,[20]=2})",
        "local c = cjson.new() return c.encode == cjson.encode",
        "return cjson.encode(cjson.decode('{\"a\":1,\"b\":2,\"c\":3,\"d\":[1,2],\"e\":{\"f\":\"g\"}}'))",
        "return cjson.encode({alpha=1, beta='two', gamma={1,2,3}, delta={x=true}, [7]=false})",
        "return cjson.encode(cjson.decode('[12345678901234567890, -1e-320, 5e-324, 1.7976931348623157e308]'))",
        "return cjson.decode('{\"k\":\"\\u0041\\u00DF\\u6C34\"}').k",
    ]);
}

#[test]
fn cmsgpack_matches_redis() {
    differential(&[
        "return cmsgpack.pack()",
        "return cmsgpack.pack(1, 'a', {1,2}, {a=1}, true, false, nil, 1.5, 0.1, -1, -32, -33, 127, 128, 300, 70000, 2^32, 2^40, -129, -40000, -2^40, {})",
        "return cmsgpack.pack(string.rep('x', 31), string.rep('y', 32), string.rep('z', 256))",
        "return #cmsgpack.pack(string.rep('a', 70000))",
        "return cmsgpack.pack(2^63, -2^63, 1/0, -1/0, 0/0, -0.0)",
        "return cmsgpack.pack({[1]=1,[3]=3})",
        "return cmsgpack.pack({[1]=1,[2.5]=3})",
        "return cmsgpack.pack({1,2,3,nil,5})",
        "return cmsgpack.pack({nil,nil,3})",
        "return cmsgpack.pack({[0]=1}, {['1']=1}, {[-1]=2})",
        "return cmsgpack.pack(cjson.null, function() end, coroutine.create(function() end))",
        "local t = {} t[1] = t return cmsgpack.pack(t)",
        "local t = {} for i = 1, 20 do t[i] = i end return cmsgpack.pack(t)",
        "local t = {} for i = 1, 20 do t['k'..i] = i end return #cmsgpack.pack(t)",
        "return {cmsgpack.unpack(cmsgpack.pack(1, 'a', 3.5))}",
        "return cjson.encode({cmsgpack.unpack(cmsgpack.pack({1, {2, {x = 'y'}}, true}))})",
        "return {cmsgpack.unpack_one(cmsgpack.pack(1, 'a', 3.5))}",
        "return {cmsgpack.unpack_one(cmsgpack.pack(1, 'a', 3.5), 1)}",
        "return {cmsgpack.unpack_one(cmsgpack.pack(1, 'a', 3.5), 3)}",
        "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 'a', 3.5), 2)}",
        "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 'a', 3.5), 0)}",
        "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 'a', 3.5), 0, 1)}",
        "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 'a', 3.5), -1)}",
        "return {cmsgpack.unpack_one(cmsgpack.pack(1), 5)}",
        "return {cmsgpack.unpack_one('\\1\\2', 2^32+1)}",
        "return {cmsgpack.unpack('\\146\\1')}",
        "return {cmsgpack.unpack('\\218\\0\\5ab')}",
        "return {cmsgpack.unpack('\\193')}",
        "return {cmsgpack.unpack('\\196\\1a')}",
        "return {cmsgpack.unpack('\\212\\1a')}",
        "return {cmsgpack.unpack('')}",
        "return {cmsgpack.unpack_one('')}",
        "return cmsgpack.unpack(1)",
        "return cmsgpack.unpack()",
        "return cmsgpack.unpack({})",
        "return cmsgpack.unpack_limit('a')",
        "return {cmsgpack.unpack('\\129\\192\\1')}",
        "return cjson.encode(cmsgpack.unpack('\\147\\1\\192\\3'))",
        "return tostring(cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255'))",
        "return tostring(cmsgpack.unpack('\\211\\128\\0\\0\\0\\0\\0\\0\\0'))",
        "return tostring(cmsgpack.unpack('\\202\\63\\192\\0\\0'))",
        "return tostring(cmsgpack.unpack('\\203\\63\\185\\153\\153\\153\\153\\153\\154'))",
        "return {cmsgpack.unpack('\\208\\128\\209\\128\\0\\210\\128\\0\\0\\0\\204\\255\\205\\255\\255\\206\\255\\255\\255\\255\\224')}",
        "return {cmsgpack.unpack('\\217\\3abc')}",
        "local ok, e = pcall(cmsgpack.unpack, string.rep('\\145', 5000) .. '\\1') return e",
        "local ok, e = pcall(cmsgpack.unpack, string.rep('\\1', 8500)) return e",
        "return select('#', cmsgpack.unpack(string.rep('\\1', 7990)))",
        "return {cmsgpack._VERSION, cmsgpack._NAME, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION}",
        "local t={} for k,v in pairs(cmsgpack) do t[#t+1]=k end table.sort(t) return t",
        "return cmsgpack.pack({alpha=1, beta='two', gamma={1,2,3}, delta={x=true}, [7]=false})",
        "return cjson.encode(cmsgpack.unpack(cmsgpack.pack({alpha=1, beta='two', gamma={1,2,3}, delta={x=true}})))",
        "local t = {} for i = 1, 70000 do t[i] = i % 7 end return #cmsgpack.pack(t)",
        "return cmsgpack.pack(setmetatable({1, 2}, {__index = function() return 9 end}))",
    ]);
}

#[test]
fn bit_matches_redis() {
    differential(&[
        "return {bit.tobit(0xffffffff), bit.tobit(2^31), bit.tobit(-2^31 - 1), bit.tobit(2^32 + 5)}",
        "return {bit.tobit(1.5), bit.tobit(-1.5), bit.tobit(2.5), bit.tobit(3.5), bit.tobit(-0.5), bit.tobit(0.5)}",
        "return {bit.tobit(2^53+1), bit.tobit(1e100), bit.tobit(0/0), bit.tobit(1/0)}",
        "return {bit.tobit('12'), bit.tobit('0x10'), bit.tobit(' 7 ')}",
        "return {bit.tohex(-1), bit.tohex(255, -4), bit.tohex(255, 2), bit.tohex(0x12345678, 0)}",
        "return {bit.tohex(0x12345678, 9), bit.tohex(0x12345678, -9), bit.tohex(0xabc, -2^31), bit.tohex(0xabc, 2^32 + 3)}",
        "return {bit.bnot(0), bit.bnot(-1), bit.bnot(0x12345678)}",
        "return {bit.band(0xff, 0x0f, 0x3), bit.bor(1, 2, 4, 8), bit.bxor(5), bit.bxor(5, 3, 1)}",
        "return {bit.lshift(1, 31), bit.lshift(1, 33), bit.lshift(1, -1), bit.rshift(-1, 28), bit.rshift(-1, 0)}",
        "return {bit.arshift(-256, 4), bit.arshift(256, 4), bit.arshift(-1, 31)}",
        "return {bit.rol(0x12345678, 4), bit.ror(0x12345678, 4), bit.rol(1, 32), bit.ror(1, 0)}",
        "return {bit.bswap(0x12345678), bit.bswap(-1), bit.bswap(0x80)}",
        "return bit.band()",
        "return bit.band(1, 'x', {})",
        "return bit.tobit({})",
        "return bit.tobit('abc')",
        "return bit.tobit()",
        "return bit.lshift(1)",
        "return bit.tohex(1, 'x')",
        "local ok, e = pcall(bit.band, 'x') return e",
        "local t={} for k,v in pairs(bit) do t[#t+1]=k end table.sort(t) return t",
    ]);
}

#[test]
fn struct_matches_redis() {
    differential(&[
        "return struct.pack('>i2', 258)",
        "return struct.pack('<i2', 258)",
        "return struct.pack('bBhHlLT', -1, 255, -2, 65535, -3, 2^40, 7)",
        "return struct.pack('>bBhHlLT', -1, 255, -2, 65535, -3, 2^40, 7)",
        "return struct.pack('>I3', 2^24+5)",
        "return struct.pack('>i3', -1)",
        "return struct.pack('>i9', -1)",
        "return struct.pack('<i10', 258)",
        "return struct.pack('l', 2^63)",
        "return struct.pack('>L', 2^64)",
        "return struct.pack('>L', 1e30)",
        "return struct.pack('>l', -1e30)",
        "return struct.pack('>h', 1.7)",
        "return struct.pack('>h', -1.7)",
        "return struct.pack('>d', 1.5)",
        "return struct.pack('<f', 1.5)",
        "return struct.pack('>f', 0.1)",
        "return struct.pack('s', 'a\\0b')",
        "return struct.pack('c2', 'abc')",
        "return struct.pack('c0', 'abc')",
        "return struct.pack('c', 'abc')",
        "return struct.pack('xbx', 1)",
        "return struct.pack(' < h', 1)",
        "return struct.pack('!i3h', 1, 2)",
        "return struct.pack('!4bi!2bd', 1, 2, 3, 4)",
        "return struct.pack('!bd', 1, 2)",
        "return {struct.unpack('<i2', struct.pack('<i2', -2))}",
        "return {struct.unpack('>bBhHlLT', struct.pack('>bBhHlLT', -1, 255, -2, 65535, -3, 2^40, 7))}",
        "return {struct.unpack('bc0', '\\3abcd')}",
        "return {struct.unpack('s', 'ab\\0cd\\0', 4)}",
        "return {struct.unpack('>L', '\\255\\255\\255\\255\\255\\255\\255\\255')}",
        "return tostring(struct.unpack('>l', '\\128\\0\\0\\0\\0\\0\\0\\1'))",
        "return {struct.unpack('T', '\\0\\0\\0\\0\\0\\0\\0\\0')}",
        "return {struct.unpack('>i9', '\\255\\0\\0\\0\\0\\0\\0\\0\\1')}",
        "return {struct.unpack('<i10', '\\1\\2\\3\\4\\5\\6\\7\\8\\9\\10')}",
        "return tostring(struct.unpack('>f', struct.pack('>f', 0.1)))",
        "return tostring(struct.unpack('<d', struct.pack('<d', 0.1)))",
        "return {struct.unpack('xb', 'ab')}",
        "return {struct.unpack('x', 'ab')}",
        "return {struct.unpack('!4bi', struct.pack('!4bi', 1, 2))}",
        "return {struct.unpack('c2c1', 'abc')}",
        "return {struct.unpack('bc0', '\\10abc')}",
        "return {struct.size('!4bi'), struct.size('!bd'), struct.size('bd'), struct.size('!2bd'), struct.size('y'), struct.size('T'), struct.size('c3i7')}",
        "return struct.pack('=i', 1)",
        "return struct.pack('y', 1)",
        "return struct.size('s')",
        "return struct.size('c0')",
        "return struct.size('=')",
        "return struct.pack('i33', 1)",
        "return struct.pack('!3i', 1)",
        "return struct.pack('!0i', 1)",
        "return struct.size('i99999999999')",
        "return {struct.unpack('c0', 'abc')}",
        "return {struct.unpack('s', 'abc')}",
        "return {struct.unpack('i', 'ab')}",
        "return {struct.unpack('b', 'ab', 0)}",
        "return {struct.unpack('b', 'ab', 3)}",
        "return {struct.unpack('b', 'ab', -1)}",
        "return struct.unpack('>x', '')",
        "return struct.unpack(1, 2)",
        "return struct.unpack('b')",
        "return struct.pack('c2', 'a')",
        "return struct.pack('i', 'x')",
        "return struct.pack('i')",
        "return struct.pack({})",
        "local ok, e = pcall(struct.pack, 'i33') return e",
        "local t={} for k,v in pairs(struct) do t[#t+1]=k end table.sort(t) return t",
    ]);
}
