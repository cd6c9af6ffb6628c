//! Conversions between command replies and Lua values, both ways, as Redis
//! 7.2's scripting does them.
//!
//! Reply to Lua (what `redis.call` returns), by the script's protocol
//! (`redis.setresp`, 2 by default): integer → number, bulk → string, null
//! bulk or null array → false (RESP2) / nil (RESP3), array → table, status
//! → `{ok=...}`, error → `{err=...}`; RESP3 adds map → `{map={...}}`, set →
//! `{set={member=true}}`, boolean, double → `{double=n}`, big number →
//! `{big_number=s}`, verbatim → `{verbatim_string={format=, string=}}`.
//!
//! Lua to reply (what the script returns), by the client's protocol: number
//! → integer (truncated), string → bulk, true → 1 / `#t`, false → null /
//! `#f`, nil → null, a table with `err` → error, with `ok` → status, with
//! `double` / `map` / `set` / `big_number` / `verbatim_string` → those
//! types, any other table → an array of its items up to the first nil.

use std::ffi::c_char;
use std::ffi::c_int;

use mlua::{ffi, Table, Value};

use crate::resp::Out;

/// The error text of a reply that is an error (without the `-`).
pub fn reply_error(buf: &[u8]) -> Option<&[u8]> {
    (buf.first() == Some(&b'-')).then(|| &buf[1..line_end(buf, 0)])
}

/// Pushes the reply in `buf` (not an error reply: see [`reply_error`]) onto
/// the Lua stack as the value `redis.call` returns, straight from the
/// bytes, with no intermediate values.
///
/// # Safety
/// `state` is a running Lua state with room for one more value; `buf` holds
/// one whole reply as the executor wrote it.
pub unsafe fn push_reply(state: *mut ffi::lua_State, buf: &[u8], resp3: bool) {
    let mut pos = 0;
    push_value(state, buf, &mut pos, resp3);
}

unsafe fn push_bytes(state: *mut ffi::lua_State, bytes: &[u8]) {
    ffi::lua_pushlstring(state, bytes.as_ptr() as *const c_char, bytes.len());
}

/// `{key = <the value on top of the stack>}`, replacing it.
unsafe fn wrap_single(state: *mut ffi::lua_State, key: &str) {
    ffi::lua_createtable(state, 0, 1);
    push_bytes(state, key.as_bytes());
    ffi::lua_pushvalue(state, -3);
    ffi::lua_rawset(state, -3);
    ffi::lua_replace(state, -2);
}

unsafe fn push_value(state: *mut ffi::lua_State, buf: &[u8], pos: &mut usize, resp3: bool) {
    // Room for a table, a key and a value at every level of nesting.
    ffi::lua_checkstack(state, 4);
    let (kind, text) = header(buf, pos);
    let null = |state| {
        if resp3 {
            ffi::lua_pushnil(state)
        } else {
            ffi::lua_pushboolean(state, 0)
        }
    };
    match kind {
        b'+' | b'-' | b'(' => {
            push_bytes(state, text);
            wrap_single(
                state,
                match kind {
                    b'+' => "ok",
                    b'-' => "err",
                    _ => "big_number",
                },
            );
        }
        b':' => ffi::lua_pushnumber(state, number(text) as f64),
        b'$' | b'=' => {
            let n = number(text);
            if n < 0 {
                return null(state);
            }
            let data = &buf[*pos..*pos + n as usize];
            *pos += n as usize + 2;
            if kind == b'=' {
                ffi::lua_createtable(state, 0, 2);
                push_bytes(state, b"format");
                push_bytes(state, &data[..3.min(data.len())]);
                ffi::lua_rawset(state, -3);
                push_bytes(state, b"string");
                push_bytes(state, data.get(4..).unwrap_or(b""));
                ffi::lua_rawset(state, -3);
                wrap_single(state, "verbatim_string");
            } else {
                push_bytes(state, data);
            }
        }
        b'*' | b'~' | b'>' => {
            let n = number(text);
            if n < 0 {
                return null(state);
            }
            let set = kind == b'~';
            let (arr, rec) = if set { (0, n) } else { (n, 0) };
            ffi::lua_createtable(state, arr.min(1 << 20) as c_int, rec.min(1 << 20) as c_int);
            for i in 0..n {
                push_value(state, buf, pos, resp3);
                if set {
                    if ffi::lua_isnil(state, -1) != 0 {
                        ffi::lua_pop(state, 1);
                        continue;
                    }
                    ffi::lua_pushboolean(state, 1);
                    ffi::lua_rawset(state, -3);
                } else {
                    ffi::lua_rawseti(state, -2, i + 1);
                }
            }
            if set {
                wrap_single(state, "set");
            }
        }
        b'%' => {
            ffi::lua_createtable(state, 0, number(text).clamp(0, 1 << 20) as c_int);
            for _ in 0..number(text) {
                push_value(state, buf, pos, resp3);
                push_value(state, buf, pos, resp3);
                if ffi::lua_isnil(state, -2) != 0 {
                    ffi::lua_pop(state, 2);
                    continue;
                }
                ffi::lua_rawset(state, -3);
            }
            wrap_single(state, "map");
        }
        b'#' => ffi::lua_pushboolean(state, (text == b"t") as c_int),
        b',' => {
            let d = std::str::from_utf8(text)
                .ok()
                .and_then(|t| match t {
                    "inf" => Some(f64::INFINITY),
                    "-inf" => Some(f64::NEG_INFINITY),
                    _ => t.parse().ok(),
                })
                .unwrap_or(f64::NAN);
            ffi::lua_pushnumber(state, d);
            wrap_single(state, "double");
        }
        _ => ffi::lua_pushnil(state),
    }
}

fn line_end(buf: &[u8], from: usize) -> usize {
    buf[from..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map_or(buf.len(), |i| from + i)
}

fn header<'a>(buf: &'a [u8], pos: &mut usize) -> (u8, &'a [u8]) {
    let kind = buf[*pos];
    let end = line_end(buf, *pos);
    let text = &buf[*pos + 1..end];
    *pos = end + 2;
    (kind, text)
}

fn number(text: &[u8]) -> i64 {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0)
}

/// A number as `(long long)` in C on x86-64 turns it: out-of-range values
/// and NaN become i64::MIN.
fn c_cast(n: f64) -> i64 {
    if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&n) {
        n as i64
    } else {
        i64::MIN
    }
}

/// A number argument of `redis.call` as Redis writes it: the shortest text
/// that reads back the same, in exponent form only for very large or small
/// magnitudes.
pub fn number_text(n: f64) -> Vec<u8> {
    if n.fract() == 0.0 && n.abs() < 1e21 {
        return format!("{}", n as i128).into_bytes();
    }
    let plain = format!("{n}");
    if plain.len() <= 24 {
        return plain.into_bytes();
    }
    let exp = format!("{n:e}");
    match exp.split_once('e') {
        Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}").into_bytes(),
        _ => exp.into_bytes(),
    }
}

/// Writes a script's return value as a reply. Booleans follow the script's
/// own protocol (`redis.setresp`), as in Redis: under RESP2 true is 1 and
/// false is null; under RESP3 they are booleans (`:1` / `:0` to a RESP2
/// client). Everything else follows the client's protocol.
pub fn lua_to_reply(value: &Value, out: &mut Out, script_resp3: bool) {
    match value {
        Value::Nil => out.null(),
        Value::Boolean(b) if script_resp3 => out.boolean(*b),
        Value::Boolean(true) => out.int(1),
        Value::Boolean(false) => out.null(),
        Value::Integer(n) => out.int(*n),
        Value::Number(n) => out.int(c_cast(*n)),
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Table(t) => table_to_reply(t, out, script_resp3),
        _ => out.null(),
    }
}

fn field(t: &Table, name: &str) -> Option<Value> {
    t.raw_get::<Value>(name).ok().filter(|v| !v.is_nil())
}

/// A RESP3 scalar with its own prefix (`(` big number, `=` verbatim), or a
/// bulk string of `plain` in RESP2.
fn resp3_scalar(out: &mut Out, prefix: u8, resp3_text: &[u8], plain: &[u8]) {
    if out.resp3() {
        out.buf.push(prefix);
        if prefix == b'=' {
            out.buf
                .extend_from_slice(itoa::Buffer::new().format(resp3_text.len()).as_bytes());
            out.buf.extend_from_slice(b"\r\n");
        }
        out.buf.extend_from_slice(resp3_text);
        out.buf.extend_from_slice(b"\r\n");
    } else {
        out.bulk(plain);
    }
}

fn table_to_reply(t: &Table, out: &mut Out, script_resp3: bool) {
    if let Some(Value::String(e)) = field(t, "err") {
        let text = String::from_utf8_lossy(&e.as_bytes()).into_owned();
        out.error(&text);
        return;
    }
    if let Some(Value::String(s)) = field(t, "ok") {
        out.simple(&String::from_utf8_lossy(&s.as_bytes()));
        return;
    }
    match field(t, "double") {
        Some(Value::Number(d)) => return out.double(d),
        Some(Value::Integer(d)) => return out.double(d as f64),
        _ => {}
    }
    if let Some(Value::Table(m)) = field(t, "map") {
        let pairs: Vec<(Value, Value)> = m.pairs::<Value, Value>().filter_map(Result::ok).collect();
        out.map(pairs.len());
        for (k, v) in &pairs {
            lua_to_reply(k, out, script_resp3);
            lua_to_reply(v, out, script_resp3);
        }
        return;
    }
    if let Some(Value::Table(s)) = field(t, "set") {
        let members: Vec<Value> = s
            .pairs::<Value, Value>()
            .filter_map(Result::ok)
            .map(|(k, _)| k)
            .collect();
        out.set(members.len());
        members
            .iter()
            .for_each(|m| lua_to_reply(m, out, script_resp3));
        return;
    }
    if let Some(Value::String(b)) = field(t, "big_number") {
        let b = b.as_bytes();
        return resp3_scalar(out, b'(', &b, &b);
    }
    if let Some(Value::Table(v)) = field(t, "verbatim_string") {
        let text = |name: &str| match v.raw_get::<Value>(name) {
            Ok(Value::String(s)) => s.as_bytes().to_vec(),
            _ => Vec::new(),
        };
        let (format, string) = (text("format"), text("string"));
        let mut full = format.clone();
        full.push(b':');
        full.extend_from_slice(&string);
        return resp3_scalar(out, b'=', &full, &string);
    }
    let mut items = Vec::new();
    let mut i = 1;
    while let Ok(v) = t.raw_get::<Value>(i) {
        if v.is_nil() {
            break;
        }
        items.push(v);
        i += 1;
    }
    out.array(items.len());
    items
        .iter()
        .for_each(|v| lua_to_reply(v, out, script_resp3));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::Proto;

    fn to_lua(lua: &mlua::Lua, reply: &[u8], resp3: bool) -> Value {
        assert!(reply_error(reply).is_none());
        unsafe { lua.exec_raw::<Value>((), |state| push_reply(state, reply, resp3)) }.unwrap()
    }

    fn roundtrip(reply: &[u8], resp3: bool) -> Vec<u8> {
        let lua = mlua::Lua::new();
        let v = to_lua(&lua, reply, resp3);
        let mut out = Out::new(Proto::Resp2);
        lua_to_reply(&v, &mut out, false);
        out.buf
    }

    #[test]
    fn replies_come_back_as_redis_converts_them() {
        assert_eq!(roundtrip(b":5\r\n", false), b":5\r\n");
        assert_eq!(roundtrip(b"$3\r\nabc\r\n", false), b"$3\r\nabc\r\n");
        assert_eq!(roundtrip(b"+OK\r\n", false), b"+OK\r\n");
        assert_eq!(roundtrip(b"$-1\r\n", false), b"$-1\r\n");
        assert_eq!(
            roundtrip(b"*2\r\n:1\r\n$1\r\nx\r\n", false),
            b"*2\r\n:1\r\n$1\r\nx\r\n"
        );
        // An array stops at its first nil (a null bulk inside is false, kept).
        assert_eq!(
            roundtrip(b"*3\r\n:1\r\n$-1\r\n:3\r\n", false),
            b"*3\r\n:1\r\n$-1\r\n:3\r\n"
        );
    }

    #[test]
    fn numbers_are_written_as_redis_writes_them() {
        assert_eq!(number_text(1.5), b"1.5");
        assert_eq!(number_text(100000000000000.0), b"100000000000000");
        assert_eq!(number_text(-3.0), b"-3");
        assert_eq!(number_text(0.1), b"0.1");
        assert_eq!(number_text(1e300), b"1e+300");
        assert_eq!(c_cast(1e300), i64::MIN);
        assert_eq!(c_cast(f64::NAN), i64::MIN);
        assert_eq!(c_cast(-3.99), -3);
    }

    #[test]
    fn errors_are_reported_apart() {
        assert_eq!(reply_error(b"-ERR bad\r\n"), Some(&b"ERR bad"[..]));
        assert_eq!(reply_error(b"+OK\r\n"), None);
    }

    #[test]
    fn resp3_replies_keep_their_types() {
        let lua = mlua::Lua::new();
        let Value::Table(t) = to_lua(&lua, b"%2\r\n$1\r\na\r\n:1\r\n_\r\n:2\r\n", true) else {
            panic!("a map is a table");
        };
        let map: Table = t.raw_get("map").unwrap();
        assert_eq!(map.raw_get::<i64>("a").unwrap(), 1);
        assert_eq!(
            map.pairs::<Value, Value>().count(),
            1,
            "a nil key is left out"
        );
        let Value::Table(t) = to_lua(&lua, b"~2\r\n$1\r\nx\r\n$1\r\ny\r\n", true) else {
            panic!("a set is a table");
        };
        let set: Table = t.raw_get("set").unwrap();
        assert!(set.raw_get::<bool>("x").unwrap() && set.raw_get::<bool>("y").unwrap());
        let Value::Table(t) = to_lua(&lua, b",1.5\r\n", true) else {
            panic!("a double is a table");
        };
        assert_eq!(t.raw_get::<f64>("double").unwrap(), 1.5);
        assert_eq!(to_lua(&lua, b"$-1\r\n", true), Value::Nil);
        assert_eq!(to_lua(&lua, b"$-1\r\n", false), Value::Boolean(false));
        let Value::Table(t) = to_lua(&lua, b"=7\r\ntxt:abc\r\n", true) else {
            panic!("a verbatim string is a table");
        };
        let v: Table = t.raw_get("verbatim_string").unwrap();
        assert_eq!(v.raw_get::<String>("format").unwrap(), "txt");
        assert_eq!(v.raw_get::<String>("string").unwrap(), "abc");
    }
}
