//! `cmsgpack`: lua-cmsgpack 0.4.0 as bundled by Redis.
//!
//! `pack(...)` encodes each argument and concatenates them; `unpack(s)`
//! returns every value; `unpack_one(s [, offset])` and
//! `unpack_limit(s, limit [, offset])` return the next offset (-1 at the
//! end) followed by the values.

use mlua::{Lua, MultiValue, Table, Value};

use super::{arg_err, as_number, c_f64_to_i32, c_f64_to_i64, msg_err, set_fn, values, Args};
use super::{LibError, LibResult};

/// Tables nested deeper than this encode as nil (survives cycles).
const MAX_NESTING: usize = 16;
/// Lua 5.1's LUAI_MAXCSTACK: the stack slots a C function may use.
const MAX_C_STACK: usize = 8000;

pub(crate) fn create(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    set_fn(lua, &t, "pack", |lua, a| {
        if a.top() == 0 {
            return arg_err(0, "MessagePack pack needs input.");
        }
        let mut out = Vec::new();
        for v in &a.0 {
            encode(&mut out, v, 0)?;
        }
        Ok(values(vec![Value::String(lua.create_string(out)?)]))
    })?;
    set_fn(lua, &t, "unpack", |lua, a| unpack_full(lua, &a, 0, 0))?;
    set_fn(lua, &t, "unpack_one", |lua, a| {
        let offset = a.opt_integer(lua, 2, 0)?;
        unpack_full(lua, &a, 1, offset)
    })?;
    set_fn(lua, &t, "unpack_limit", |lua, a| {
        let limit = a.check_integer(lua, 2)?;
        let offset = a.opt_integer(lua, 3, 0)?;
        unpack_full(lua, &a, limit, offset)
    })?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

// ===== Encoding =====

fn encode(out: &mut Vec<u8>, v: &Value, level: usize) -> LibResult<()> {
    match v {
        Value::String(s) => encode_bytes(out, &s.as_bytes()),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(_) | Value::Number(_) => {
            let n = as_number(v).unwrap_or(0.0);
            if !n.is_infinite() && c_f64_to_i64(n) as f64 == n {
                encode_int(out, c_f64_to_i64(n));
            } else {
                encode_double(out, n);
            }
        }
        Value::Table(t) if level < MAX_NESTING => {
            if table_is_an_array(t)? {
                let len = t.raw_len();
                encode_len(out, len, 0x90, 0xdc);
                for j in 1..=len {
                    let item: Value = t.get(j)?;
                    encode(out, &item, level + 1)?;
                }
            } else {
                let pairs = t
                    .pairs::<Value, Value>()
                    .collect::<mlua::Result<Vec<_>>>()?;
                encode_len(out, pairs.len(), 0x80, 0xde);
                for (k, item) in &pairs {
                    encode(out, k, level + 1)?;
                    encode(out, item, level + 1)?;
                }
            }
        }
        _ => out.push(0xc0),
    }
    Ok(())
}

/// Keys exactly 1..N (numbers that are C ints, all positive, as many as
/// the largest).
fn table_is_an_array(t: &Table) -> mlua::Result<bool> {
    let mut count: i32 = 0;
    let mut max: i32 = 0;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let Some(n) = as_number(&k) else {
            return Ok(false);
        };
        if n <= 0.0 || c_f64_to_i32(n) as f64 != n {
            return Ok(false);
        }
        if n > max as f64 {
            max = n as i32;
        }
        count = count.wrapping_add(1);
    }
    Ok(max == count)
}

fn encode_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

fn encode_len(out: &mut Vec<u8>, n: usize, fix: u8, base16: u8) {
    if n <= 15 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(base16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(base16 + 1);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn encode_double(out: &mut Vec<u8>, d: f64) {
    let f = d as f32;
    if d == f as f64 {
        out.push(0xca);
        out.extend_from_slice(&f.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&d.to_be_bytes());
    }
}

fn encode_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

// ===== Decoding =====

enum DecodeError {
    /// Not enough data to complete the value.
    Eof,
    /// An unknown type byte.
    BadFormat,
    /// Raised at once, as the C code's Lua calls would.
    Lua(LibError),
}

impl From<mlua::Error> for DecodeError {
    fn from(e: mlua::Error) -> Self {
        DecodeError::Lua(LibError::Lua(e))
    }
}

struct Cursor<'a> {
    lua: &'a Lua,
    data: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn left(&self) -> usize {
        self.data.len() - self.pos
    }

    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.left() < n {
            Err(DecodeError::Eof)
        } else {
            Ok(())
        }
    }

    fn be(&self, at: usize, n: usize) -> u64 {
        self.data[self.pos + at..self.pos + at + n]
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | b as u64)
    }

    /// `luaL_checkstack(L, 1, msg)` with `used` stack slots taken.
    fn check_stack(used: usize, msg: &str) -> Result<(), DecodeError> {
        if used + 1 > MAX_C_STACK {
            return Err(DecodeError::Lua(LibError::Msg(
                format!("stack overflow ({msg})").into_bytes(),
            )));
        }
        Ok(())
    }

    /// Decode one value, or the header of an array or map; `used` is the
    /// number of Lua stack slots the C code would hold at this point.
    fn decode_one(&mut self, used: usize) -> Result<Item, DecodeError> {
        self.need(1)?;
        Self::check_stack(
            used,
            "too many return values at once; use unpack_one or unpack_limit instead.",
        )?;
        let b = self.data[self.pos];
        let num = |n: f64| Value::Number(n);
        let v = match b {
            0xcc | 0xd0 => {
                self.need(2)?;
                let x = self.data[self.pos + 1];
                self.pos += 2;
                num(if b == 0xcc { x as f64 } else { x as i8 as f64 })
            }
            0xcd | 0xd1 => {
                self.need(3)?;
                let x = self.be(1, 2) as u16;
                self.pos += 3;
                num(if b == 0xcd { x as f64 } else { x as i16 as f64 })
            }
            0xce | 0xd2 => {
                self.need(5)?;
                let x = self.be(1, 4) as u32;
                self.pos += 5;
                num(if b == 0xce { x as f64 } else { x as i32 as f64 })
            }
            0xcf | 0xd3 => {
                // Lua 5.1 has no unsigned push: both are pushed as int64.
                self.need(9)?;
                let x = self.be(1, 8) as i64;
                self.pos += 9;
                num(x as f64)
            }
            0xc0 => {
                self.pos += 1;
                Value::Nil
            }
            0xc2 | 0xc3 => {
                self.pos += 1;
                Value::Boolean(b == 0xc3)
            }
            0xca => {
                self.need(5)?;
                let f = f32::from_bits(self.be(1, 4) as u32);
                self.pos += 5;
                num(f as f64)
            }
            0xcb => {
                self.need(9)?;
                let d = f64::from_bits(self.be(1, 8));
                self.pos += 9;
                num(d)
            }
            0xd9..=0xdb => {
                let hdr = match b {
                    0xd9 => 1,
                    0xda => 2,
                    _ => 4,
                };
                self.need(1 + hdr)?;
                let l = self.be(1, hdr) as usize;
                self.need(1 + hdr + l)?;
                let start = self.pos + 1 + hdr;
                let s = self.lua.create_string(&self.data[start..start + l])?;
                self.pos = start + l;
                Value::String(s)
            }
            0xdc..=0xdf => {
                let hdr = if b & 1 == 0 { 2 } else { 4 };
                self.need(1 + hdr)?;
                let l = self.be(1, hdr) as usize;
                self.pos += 1 + hdr;
                return Ok(if b <= 0xdd {
                    Item::Array(l)
                } else {
                    Item::Map(l)
                });
            }
            _ if b & 0x80 == 0 => {
                self.pos += 1;
                num(b as f64)
            }
            _ if b & 0xe0 == 0xe0 => {
                self.pos += 1;
                num(b as i8 as f64)
            }
            _ if b & 0xe0 == 0xa0 => {
                let l = (b & 0x1f) as usize;
                self.need(1 + l)?;
                let s = self
                    .lua
                    .create_string(&self.data[self.pos + 1..self.pos + 1 + l])?;
                self.pos += 1 + l;
                Value::String(s)
            }
            _ if b & 0xf0 == 0x90 => {
                self.pos += 1;
                return Ok(Item::Array((b & 0xf) as usize));
            }
            _ if b & 0xf0 == 0x80 => {
                self.pos += 1;
                return Ok(Item::Map((b & 0xf) as usize));
            }
            _ => return Err(DecodeError::BadFormat),
        };
        Ok(Item::Value(v))
    }

    /// Decode one value with everything inside it. Iterative, so that deep
    /// nesting needs no deep native stack; `used` as for `decode_one`.
    fn decode(&mut self, used: usize) -> Result<Value, DecodeError> {
        let mut stack: Vec<Open> = Vec::new();
        loop {
            // The C code holds the table and the index (array) or the
            // table and, once decoded, the key (map) of each open container.
            let used = match stack.last() {
                None => used,
                Some(Open::Array { base, .. }) => base + 2,
                Some(Open::Map { base, key, .. }) => base + 1 + key.is_some() as usize,
            };
            let mut v = match self.decode_one(used)? {
                Item::Value(v) => v,
                Item::Array(len) => {
                    let t = self.lua.create_table()?;
                    Self::check_stack(used + 1, "in function mp_decode_to_lua_array")?;
                    if len > 0 {
                        stack.push(Open::Array {
                            t,
                            left: len,
                            next: 1,
                            base: used,
                        });
                        continue;
                    }
                    Value::Table(t)
                }
                Item::Map(len) => {
                    let t = self.lua.create_table()?;
                    Self::check_stack(used + 1, "in function mp_decode_to_lua_hash")?;
                    if len > 0 {
                        stack.push(Open::Map {
                            t,
                            left: len,
                            key: None,
                            base: used,
                        });
                        continue;
                    }
                    Value::Table(t)
                }
            };
            // Store the value in its container; close finished containers.
            loop {
                let Some(top) = stack.last_mut() else {
                    return Ok(v);
                };
                let done = match top {
                    Open::Array { t, left, next, .. } => {
                        t.raw_set(*next, v)?;
                        *next += 1;
                        *left -= 1;
                        *left == 0
                    }
                    Open::Map { t, left, key, .. } => {
                        let Some(k) = key.take() else {
                            *key = Some(v);
                            break;
                        };
                        if k == Value::Nil {
                            return Err(raw_error("table index is nil"));
                        }
                        if as_number(&k).is_some_and(f64::is_nan) {
                            return Err(raw_error("table index is NaN"));
                        }
                        t.raw_set(k, v)?;
                        *left -= 1;
                        *left == 0
                    }
                };
                if !done {
                    break;
                }
                v = match stack.pop() {
                    Some(Open::Array { t, .. } | Open::Map { t, .. }) => Value::Table(t),
                    None => unreachable!("an open container"),
                };
            }
        }
    }
}

fn raw_error(m: &str) -> DecodeError {
    DecodeError::Lua(LibError::Raw(m.as_bytes().to_vec()))
}

/// What `decode_one` found.
enum Item {
    Value(Value),
    Array(usize),
    Map(usize),
}

/// A container being decoded; `base` is the stack use when it was opened.
enum Open {
    Array {
        t: Table,
        left: usize,
        next: i64,
        base: usize,
    },
    Map {
        t: Table,
        left: usize,
        key: Option<Value>,
        base: usize,
    },
}

/// `offset` and `limit` are lua_Integers; the messages print them with
/// `%d`, that is their low 32 bits.
fn unpack_full(lua: &Lua, a: &Args, limit: i64, offset: i64) -> LibResult<MultiValue> {
    let data = a.check_bytes(1)?;
    let len = data.len();
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        return msg_err(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        ));
    }
    if offset as u64 > len as u64 {
        return msg_err(format!(
            "Start offset {} greater than input length {}.",
            offset as i32, len as i32
        ));
    }
    let limit = if decode_all { i32::MAX as i64 } else { limit };
    let mut cur = Cursor {
        lua,
        data: &data,
        pos: offset as usize,
    };
    let mut out = Vec::new();
    while cur.left() > 0 && (out.len() as i64) < limit {
        // The argument string, then the values decoded so far.
        match cur.decode(1 + out.len()) {
            Ok(v) => out.push(v),
            Err(DecodeError::Eof) => return msg_err("Missing bytes in input."),
            Err(DecodeError::BadFormat) => return msg_err("Bad data format in input."),
            Err(DecodeError::Lua(e)) => return Err(e),
        }
    }
    if !decode_all {
        let next = if cur.left() == 0 {
            -1
        } else {
            (len - cur.left()) as i64
        };
        out.insert(0, Value::Integer(next));
    }
    Ok(values(out))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{lua, run};

    fn hex(code: &str) -> String {
        let lua = lua();
        let s: mlua::LuaString = lua.load(code).eval().unwrap();
        s.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn pack() {
        assert_eq!(
            hex("return cmsgpack.pack(1, 'a', {1,2}, {a=1}, true, nil, 1.5, 0.1, -1, -33, 300, 70000, 2^40, -2^40, {})"),
            "01a16192010281a16101c3c0ca3fc00000cb3fb999999999999affd0dfcd012cce00011170cf0000010000000000d3ffffff000000000090"
        );
        assert_eq!(hex("return cmsgpack.pack(2^63)"), "ca5f000000");
        assert_eq!(hex("return cmsgpack.pack(-2^63)"), "d38000000000000000");
        assert_eq!(hex("return cmsgpack.pack(0/0)"), "cbfff8000000000000");
        assert_eq!(hex("return cmsgpack.pack({[1]=1,[3]=3})"), "8201010303");
        assert_eq!(hex("return cmsgpack.pack(cjson.null, print)"), "c0c0");
        assert_eq!(
            hex("local t = {} t[1] = t return cmsgpack.pack(t)"),
            format!("{}c0", "91".repeat(16))
        );
        assert_eq!(hex("return cmsgpack.pack(string.rep('x', 40))").len(), 84);
        assert_eq!(
            run("return #cmsgpack.pack(string.rep('a', 70000))"),
            "70005"
        );
    }

    #[test]
    fn unpack() {
        assert_eq!(
            run("return table.concat({cmsgpack.unpack(cmsgpack.pack(1, 'a', 3.5))}, ',')"),
            "1,a,3.5"
        );
        assert_eq!(
            run("return table.concat({cmsgpack.unpack_one(cmsgpack.pack(1, 'a', 3.5), 1)}, ',')"),
            "3,a"
        );
        assert_eq!(
            run("return table.concat({cmsgpack.unpack_limit(cmsgpack.pack(1, 'a', 3.5), 2)}, ',')"),
            "3,1,a"
        );
        assert_eq!(
            run("return table.concat({cmsgpack.unpack_limit(cmsgpack.pack(1, 'a', 3.5), 0, 1)}, ',')"),
            "1"
        );
        assert_eq!(run("return select('#', cmsgpack.unpack(''))"), "0");
        assert_eq!(run("return cmsgpack.unpack_one('')"), "-1");
        assert_eq!(run("return cmsgpack.unpack(1)"), "49");
        assert_eq!(
            run(
                "return tostring(cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255'))"
            ),
            "-1"
        );
        assert_eq!(
            run("return cjson.encode(cmsgpack.unpack('\\147\\1\\192\\3'))"),
            "[1,null,3]"
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            run("return cmsgpack.pack()"),
            "ERR user_script:1: bad argument #0 to 'pack' (MessagePack pack needs input.)"
        );
        assert_eq!(
            run("return cmsgpack.unpack('\\146\\1')"),
            "ERR user_script:1: Missing bytes in input."
        );
        assert_eq!(
            run("return cmsgpack.unpack('\\193')"),
            "ERR user_script:1: Bad data format in input."
        );
        assert_eq!(
            run("return cmsgpack.unpack('\\129\\192\\1')"),
            "ERR table index is nil"
        );
        assert_eq!(
            run("return cmsgpack.unpack_limit('abc', -1)"),
            "ERR user_script:1: Invalid request to unpack with offset of 0 and limit of 3."
        );
        assert_eq!(
            run("return cmsgpack.unpack_one('\\1', 5)"),
            "ERR user_script:1: Start offset 5 greater than input length 1."
        );
        assert_eq!(
            run("return cmsgpack.unpack_limit('a')"),
            "ERR user_script:1: bad argument #2 to 'unpack_limit' (number expected, got no value)"
        );
    }
}
