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

use mlua::{Lua, Table, Value};

use crate::resp::Out;

/// Parses the reply at `buf[*pos..]` into a Lua value. `Err(msg)` inside
/// the result: the reply was an error (its text without the `-`).
pub fn reply_to_lua(lua: &Lua, buf: &[u8], resp3: bool) -> mlua::Result<Result<Value, String>> {
    let mut pos = 0;
    if buf.first() == Some(&b'-') {
        let end = line_end(buf, 0);
        return Ok(Err(String::from_utf8_lossy(&buf[1..end]).into_owned()));
    }
    parse(lua, buf, &mut pos, resp3).map(Ok)
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

fn single(lua: &Lua, key: &str, value: Value) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set(key, value)?;
    Ok(Value::Table(t))
}

fn parse(lua: &Lua, buf: &[u8], pos: &mut usize, resp3: bool) -> mlua::Result<Value> {
    let (kind, text) = header(buf, pos);
    let null = if resp3 {
        Value::Nil
    } else {
        Value::Boolean(false)
    };
    Ok(match kind {
        b'+' => single(lua, "ok", Value::String(lua.create_string(text)?))?,
        b'-' => single(lua, "err", Value::String(lua.create_string(text)?))?,
        b':' => Value::Number(number(text) as f64),
        b'$' | b'=' => {
            let n = number(text);
            if n < 0 {
                return Ok(null);
            }
            let data = &buf[*pos..*pos + n as usize];
            *pos += n as usize + 2;
            if kind == b'=' {
                let t = lua.create_table()?;
                t.raw_set("format", lua.create_string(&data[..3.min(data.len())])?)?;
                t.raw_set("string", lua.create_string(data.get(4..).unwrap_or(b""))?)?;
                single(lua, "verbatim_string", Value::Table(t))?
            } else {
                Value::String(lua.create_string(data)?)
            }
        }
        b'*' | b'~' | b'>' => {
            let n = number(text);
            if n < 0 {
                return Ok(null);
            }
            let t = lua.create_table()?;
            for i in 0..n as usize {
                let v = parse(lua, buf, pos, resp3)?;
                if kind == b'~' {
                    t.raw_set(v, true)?;
                } else {
                    t.raw_set(i + 1, v)?;
                }
            }
            if kind == b'~' {
                single(lua, "set", Value::Table(t))?
            } else {
                Value::Table(t)
            }
        }
        b'%' => {
            let t = lua.create_table()?;
            for _ in 0..number(text) {
                let k = parse(lua, buf, pos, resp3)?;
                let v = parse(lua, buf, pos, resp3)?;
                t.raw_set(k, v)?;
            }
            single(lua, "map", Value::Table(t))?
        }
        b'_' => Value::Nil,
        b'#' => Value::Boolean(text == b"t"),
        b',' => {
            let d = std::str::from_utf8(text)
                .ok()
                .and_then(|t| match t {
                    "inf" => Some(f64::INFINITY),
                    "-inf" => Some(f64::NEG_INFINITY),
                    _ => t.parse().ok(),
                })
                .unwrap_or(f64::NAN);
            single(lua, "double", Value::Number(d))?
        }
        b'(' => single(lua, "big_number", Value::String(lua.create_string(text)?))?,
        _ => Value::Nil,
    })
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

    fn roundtrip(reply: &[u8], resp3: bool) -> Vec<u8> {
        let lua = Lua::new();
        let v = reply_to_lua(&lua, reply, resp3).unwrap().unwrap();
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
        let lua = Lua::new();
        let r = reply_to_lua(&lua, b"-ERR bad\r\n", false).unwrap();
        assert_eq!(r.unwrap_err(), "ERR bad");
    }
}
