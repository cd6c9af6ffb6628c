//! `cjson`: lua-cjson 2.1.0 as bundled by Redis.
//!
//! `cjson.encode(v)` / `cjson.decode(s)`, the `cjson.null` sentinel (a NULL
//! light userdata), the configuration functions (which store their setting
//! and return the current value, like lua-cjson) and `cjson.new()`, which
//! returns an independent module with its own configuration.

use std::cell::RefCell;
use std::rc::Rc;

use mlua::{Lua, Table, Value};

use super::{
    arg_err, as_number, c_f64_to_i32, fmt_g, msg_err, set_fn, type_name, values, Args, LibResult,
};

const INT_MAX: i32 = i32::MAX;

#[derive(Debug, Clone)]
struct Config {
    sparse_convert: i32,
    sparse_ratio: i32,
    sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    /// 0: refuse NaN/Inf, 1: encode them as inf/nan, 2: encode them as null.
    encode_invalid_numbers: i32,
    decode_invalid_numbers: i32,
    keep_buffer: i32,
    precision: i32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sparse_convert: 0,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            decode_invalid_numbers: 1,
            keep_buffer: 1,
            precision: 14,
        }
    }
}

type Cfg = Rc<RefCell<Config>>;

pub(crate) fn create(lua: &Lua) -> mlua::Result<Table> {
    let cfg: Cfg = Rc::new(RefCell::new(Config::default()));
    let t = lua.create_table()?;
    let c = cfg.clone();
    set_fn(lua, &t, "encode", move |lua, a| {
        if a.top() != 1 {
            return arg_err(1, "expected 1 argument");
        }
        let cfg = c.borrow().clone();
        let mut out = Vec::new();
        Encoder { cfg: &cfg }.value(&mut out, &a.0[0])?;
        Ok(values(vec![Value::String(lua.create_string(out)?)]))
    })?;
    let c = cfg.clone();
    set_fn(lua, &t, "decode", move |lua, a| {
        if a.top() != 1 {
            return arg_err(1, "expected 1 argument");
        }
        let data = a.check_bytes(1)?;
        let cfg = c.borrow().clone();
        Ok(values(vec![decode(lua, &cfg, &data)?]))
    })?;
    let c = cfg.clone();
    set_fn(lua, &t, "encode_sparse_array", move |lua, a| {
        arg_init(&a, 3)?;
        let mut cfg = c.borrow_mut();
        let r1 = enum_option(lua, &a, 1, &mut cfg.sparse_convert, &["off", "on"])?;
        let r2 = integer_option(lua, &a, 2, &mut cfg.sparse_ratio, 0, INT_MAX)?;
        let r3 = integer_option(lua, &a, 3, &mut cfg.sparse_safe, 0, INT_MAX)?;
        Ok(values(vec![r1, r2, r3]))
    })?;
    type Field = fn(&mut Config) -> &mut i32;
    let ints: [(&str, Field, i32, i32); 3] = [
        ("encode_max_depth", |c| &mut c.encode_max_depth, 1, INT_MAX),
        ("decode_max_depth", |c| &mut c.decode_max_depth, 1, INT_MAX),
        ("encode_number_precision", |c| &mut c.precision, 1, 14),
    ];
    for (name, field, min, max) in ints {
        let c = cfg.clone();
        set_fn(lua, &t, name, move |lua, a| {
            arg_init(&a, 1)?;
            let mut cfg = c.borrow_mut();
            Ok(values(vec![integer_option(
                lua,
                &a,
                1,
                field(&mut cfg),
                min,
                max,
            )?]))
        })?;
    }
    let enums: [(&str, Field, &'static [&'static str]); 3] = [
        ("encode_keep_buffer", |c| &mut c.keep_buffer, &["off", "on"]),
        (
            "encode_invalid_numbers",
            |c| &mut c.encode_invalid_numbers,
            &["off", "on", "null"],
        ),
        (
            "decode_invalid_numbers",
            |c| &mut c.decode_invalid_numbers,
            &["off", "on"],
        ),
    ];
    for (name, field, options) in enums {
        let c = cfg.clone();
        set_fn(lua, &t, name, move |lua, a| {
            arg_init(&a, 1)?;
            let mut cfg = c.borrow_mut();
            Ok(values(vec![enum_option(
                lua,
                &a,
                1,
                field(&mut cfg),
                options,
            )?]))
        })?;
    }
    set_fn(lua, &t, "new", |lua, _| {
        Ok(values(vec![Value::Table(create(lua)?)]))
    })?;
    t.raw_set("null", Value::NULL)?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    Ok(t)
}

/// `json_arg_init`: at most `n` arguments.
fn arg_init(a: &Args, n: usize) -> LibResult<()> {
    if a.top() > n {
        return arg_err(n as i32 + 1, "found too many arguments");
    }
    Ok(())
}

/// `json_enum_option` with `bool_true == 1`.
fn enum_option(
    lua: &Lua,
    a: &Args,
    idx: usize,
    setting: &mut i32,
    options: &[&str],
) -> LibResult<Value> {
    if !a.is_none_or_nil(idx) {
        *setting = match a.get(idx) {
            Some(Value::Boolean(b)) => *b as i32,
            _ => a.check_option(idx, options)? as i32,
        };
    }
    Ok(if *setting == 0 || *setting == 1 {
        Value::Boolean(*setting == 1)
    } else {
        Value::String(lua.create_string(options[*setting as usize])?)
    })
}

/// `json_integer_option` (its range error names argument 1, as in C).
fn integer_option(
    lua: &Lua,
    a: &Args,
    idx: usize,
    setting: &mut i32,
    min: i32,
    max: i32,
) -> LibResult<Value> {
    if !a.is_none_or_nil(idx) {
        let value = a.check_integer(lua, idx)? as i32;
        if !(min..=max).contains(&value) {
            return arg_err(1, format!("expected integer between {min} and {max}"));
        }
        *setting = value;
    }
    Ok(Value::Integer(*setting as i64))
}

// ===== Encoding =====

struct Encoder<'a> {
    cfg: &'a Config,
}

fn encode_exception<T>(v: &Value, reason: &str) -> LibResult<T> {
    msg_err(format!("Cannot serialise {}: {reason}", type_name(v)))
}

/// An open table while encoding: arrays by index, objects by their pairs
/// (taken in `next` order when the object is opened).
enum Frame {
    Array {
        t: Table,
        next: usize,
        len: usize,
    },
    Object {
        pairs: Vec<(Value, Value)>,
        next: usize,
    },
}

impl Encoder<'_> {
    /// Encode `root` into `out`. Iterative, so that deep nesting (up to
    /// `encode_max_depth`) needs no deep native stack.
    fn value(&self, out: &mut Vec<u8>, root: &Value) -> LibResult<()> {
        let mut stack: Vec<Frame> = Vec::new();
        let mut pending = Some(root.clone());
        loop {
            if let Some(v) = pending.take() {
                match &v {
                    Value::String(s) => append_string(out, &s.as_bytes()),
                    Value::Integer(_) | Value::Number(_) => self.number(out, &v)?,
                    Value::Boolean(true) => out.extend_from_slice(b"true"),
                    Value::Boolean(false) => out.extend_from_slice(b"false"),
                    Value::Nil => out.extend_from_slice(b"null"),
                    Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
                    Value::Table(t) => {
                        let depth = stack.len() as i64 + 1;
                        if depth > self.cfg.encode_max_depth as i64 {
                            return msg_err(format!(
                                "Cannot serialise, excessive nesting ({depth})"
                            ));
                        }
                        let len = self.array_length(t, &v)?;
                        if len > 0 {
                            out.push(b'[');
                            stack.push(Frame::Array {
                                t: t.clone(),
                                next: 1,
                                len: len as usize,
                            });
                        } else {
                            out.push(b'{');
                            let pairs = t
                                .pairs::<Value, Value>()
                                .collect::<mlua::Result<Vec<_>>>()?;
                            stack.push(Frame::Object { pairs, next: 0 });
                        }
                    }
                    _ => return encode_exception(&v, "type not supported"),
                }
            }
            let Some(top) = stack.last_mut() else {
                return Ok(());
            };
            match top {
                Frame::Array { t, next, len } => {
                    if *next > *len {
                        out.push(b']');
                        stack.pop();
                        continue;
                    }
                    if *next > 1 {
                        out.push(b',');
                    }
                    pending = Some(t.raw_get(*next)?);
                    *next += 1;
                }
                Frame::Object { pairs, next } => {
                    if *next >= pairs.len() {
                        out.push(b'}');
                        stack.pop();
                        continue;
                    }
                    if *next > 0 {
                        out.push(b',');
                    }
                    let (k, item) = std::mem::replace(&mut pairs[*next], (Value::Nil, Value::Nil));
                    *next += 1;
                    match &k {
                        Value::Integer(_) | Value::Number(_) => {
                            out.push(b'"');
                            self.number(out, &k)?;
                            out.extend_from_slice(b"\":");
                        }
                        Value::String(s) => {
                            append_string(out, &s.as_bytes());
                            out.push(b':');
                        }
                        _ => return encode_exception(&k, "table key must be a number or string"),
                    }
                    pending = Some(item);
                }
            }
        }
    }

    fn number(&self, out: &mut Vec<u8>, v: &Value) -> LibResult<()> {
        let n = as_number(v).unwrap_or(0.0);
        if !n.is_finite() {
            match self.cfg.encode_invalid_numbers {
                0 => return encode_exception(v, "must not be NaN or Inf"),
                1 if n.is_nan() => {
                    out.extend_from_slice(b"nan");
                    return Ok(());
                }
                1 => {}
                _ => {
                    out.extend_from_slice(b"null");
                    return Ok(());
                }
            }
        }
        out.extend_from_slice(fmt_g(n, self.cfg.precision as usize).as_bytes());
        Ok(())
    }

    /// `lua_array_length`: the array size, or -1 (or 0) for an object.
    fn array_length(&self, t: &Table, tv: &Value) -> LibResult<i32> {
        let mut max: i32 = 0;
        let mut items: i32 = 0;
        for pair in t.pairs::<Value, mlua::Value>() {
            let (k, _) = pair?;
            match as_number(&k) {
                Some(k) if k != 0.0 && k.floor() == k && k >= 1.0 => {
                    if k > max as f64 {
                        max = c_f64_to_i32(k);
                    }
                    items = items.wrapping_add(1);
                }
                _ => return Ok(-1),
            }
        }
        let cfg = self.cfg;
        if cfg.sparse_ratio > 0
            && max > items.wrapping_mul(cfg.sparse_ratio)
            && max > cfg.sparse_safe
        {
            if cfg.sparse_convert == 0 {
                return encode_exception(tv, "excessively sparse array");
            }
            return Ok(-1);
        }
        Ok(max)
    }
}

fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + 2);
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            8 => out.extend_from_slice(b"\\b"),
            9 => out.extend_from_slice(b"\\t"),
            10 => out.extend_from_slice(b"\\n"),
            12 => out.extend_from_slice(b"\\f"),
            13 => out.extend_from_slice(b"\\r"),
            0..=31 | 127 => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(c >> 4) as usize]);
                out.push(HEX[(c & 15) as usize]);
            }
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

// ===== Decoding =====

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    /// A token error, with its description.
    Error(&'static str),
}

impl Tok {
    fn name(&self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str => "T_STRING",
            Tok::Number(_) => "T_NUMBER",
            Tok::Boolean(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(e) => e,
        }
    }
}

struct Token {
    tok: Tok,
    /// 0-based position where the token (or its error) is.
    index: usize,
}

struct Parser<'a> {
    lua: &'a Lua,
    cfg: &'a Config,
    data: &'a [u8],
    pos: usize,
    depth: i32,
    /// The decoded bytes of the last string token.
    tmp: Vec<u8>,
}

fn decode(lua: &Lua, cfg: &Config, data: &[u8]) -> LibResult<Value> {
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return msg_err("JSON parser does not support UTF-16 or UTF-32");
    }
    let mut p = Parser {
        lua,
        cfg,
        data,
        pos: 0,
        depth: 0,
        tmp: Vec::new(),
    };
    let tok = p.next_token();
    let v = p.value(tok)?;
    let tok = p.next_token();
    if tok.tok != Tok::End {
        return p.parse_error("the end", &tok);
    }
    Ok(v)
}

impl Parser<'_> {
    /// The byte at `i`; the data ends with a NUL as Lua strings do.
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn starts_with(&self, s: &[u8]) -> bool {
        self.data.len() >= self.pos + s.len() && &self.data[self.pos..self.pos + s.len()] == s
    }

    fn parse_error<T>(&self, expected: &str, tok: &Token) -> LibResult<T> {
        msg_err(format!(
            "Expected {expected} but found {} at character {}",
            tok.tok.name(),
            tok.index + 1
        ))
    }

    fn next_token(&mut self) -> Token {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let index = self.pos;
        let ch = self.at(self.pos);
        let simple = match ch {
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            _ => None,
        };
        if let Some(tok) = simple {
            self.pos += 1;
            return Token { tok, index };
        }
        if ch == 0 {
            return Token {
                tok: Tok::End,
                index,
            };
        }
        let tok = match ch {
            b'"' => self.string_token(),
            b'-' | b'0'..=b'9' => {
                if self.cfg.decode_invalid_numbers == 0 && self.is_invalid_number() {
                    Tok::Error("invalid number")
                } else {
                    self.number_token()
                }
            }
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'+' => {
                if self.starts_with(b"true") {
                    self.pos += 4;
                    Tok::Boolean(true)
                } else if self.starts_with(b"false") {
                    self.pos += 5;
                    Tok::Boolean(false)
                } else if self.starts_with(b"null") {
                    self.pos += 4;
                    Tok::Null
                } else if self.cfg.decode_invalid_numbers != 0 && self.is_invalid_number() {
                    self.number_token()
                } else {
                    Tok::Error("invalid token")
                }
            }
            _ => Tok::Error("invalid token"),
        };
        let index = if let Tok::Error(_) = tok {
            self.pos
        } else {
            index
        };
        Token { tok, index }
    }

    /// Numbers strict JSON refuses but strtod accepts: a leading '+',
    /// hexadecimal, leading zeros, inf and nan.
    fn is_invalid_number(&self) -> bool {
        let mut i = self.pos;
        if self.at(i) == b'+' {
            return true;
        }
        if self.at(i) == b'-' {
            i += 1;
        }
        let c = self.at(i);
        if c == b'0' {
            let c2 = self.at(i + 1);
            return (c2 | 0x20) == b'x' || c2.is_ascii_digit();
        }
        if c <= b'9' {
            return false;
        }
        let rest = &self.data[i.min(self.data.len())..];
        let ci = |w: &[u8]| rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(w);
        ci(b"inf") || ci(b"nan")
    }

    fn number_token(&mut self) -> Tok {
        match strtod(&self.data[self.pos..]) {
            Some((n, len)) => {
                self.pos += len;
                Tok::Number(n)
            }
            None => Tok::Error("invalid number"),
        }
    }

    fn string_token(&mut self) -> Tok {
        self.pos += 1;
        self.tmp.clear();
        loop {
            let ch = self.at(self.pos);
            if ch == b'"' {
                break;
            }
            if ch == 0 {
                return Tok::Error("unexpected end of string");
            }
            if ch == b'\\' {
                let c = match self.at(self.pos + 1) {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 8,
                    b't' => 9,
                    b'n' => 10,
                    b'f' => 12,
                    b'r' => 13,
                    b'u' => {
                        if self.unicode_escape() {
                            continue;
                        }
                        return Tok::Error("invalid unicode escape code");
                    }
                    _ => return Tok::Error("invalid escape code"),
                };
                self.tmp.push(c);
                self.pos += 2;
                continue;
            }
            self.tmp.push(ch);
            self.pos += 1;
        }
        self.pos += 1;
        Tok::Str
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let mut v = 0u32;
        for i in 0..4 {
            let d = (self.at(at + i) as char).to_digit(16)?;
            v = (v << 4) | d;
        }
        Some(v)
    }

    /// `\uXXXX` (and a following low surrogate) at `pos`, appended as UTF-8.
    fn unicode_escape(&mut self) -> bool {
        let Some(mut cp) = self.hex4(self.pos + 2) else {
            return false;
        };
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return false;
            }
            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        let mut buf = [0u8; 4];
        let s = char::from_u32(cp)
            .map(|c| c.encode_utf8(&mut buf).as_bytes().to_vec())
            .unwrap_or_else(|| {
                // A lone surrogate cannot get here; keep the C encoding anyway.
                vec![
                    (cp >> 12) as u8 | 0xE0,
                    ((cp >> 6) & 0x3F) as u8 | 0x80,
                    (cp & 0x3F) as u8 | 0x80,
                ]
            });
        self.tmp.extend_from_slice(&s);
        self.pos += len;
        true
    }

    fn descend(&mut self) -> LibResult<()> {
        self.depth += 1;
        if self.depth > self.cfg.decode_max_depth {
            return msg_err(format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth, self.pos
            ));
        }
        Ok(())
    }

    /// Parse the value that starts with `tok`. Iterative, so that deep
    /// nesting (up to `decode_max_depth`) needs no deep native stack.
    fn value(&mut self, mut tok: Token) -> LibResult<Value> {
        // Open containers: the table, the key of an object member being
        // parsed (None for arrays) and the next array index.
        let mut stack: Vec<(Table, Option<mlua::LuaString>, i64)> = Vec::new();
        loop {
            // Parse one value, or open a container and go on inside it.
            let mut v = match tok.tok {
                Tok::Str => Value::String(self.lua.create_string(&self.tmp)?),
                Tok::Number(n) => Value::Number(n),
                Tok::Boolean(b) => Value::Boolean(b),
                Tok::Null => Value::NULL,
                Tok::ObjBegin => {
                    self.descend()?;
                    let t = self.lua.create_table()?;
                    tok = self.next_token();
                    if tok.tok == Tok::ObjEnd {
                        self.depth -= 1;
                        Value::Table(t)
                    } else {
                        let key = self.member_key(&tok)?;
                        stack.push((t, Some(key), 1));
                        tok = self.next_token();
                        continue;
                    }
                }
                Tok::ArrBegin => {
                    self.descend()?;
                    let t = self.lua.create_table()?;
                    tok = self.next_token();
                    if tok.tok == Tok::ArrEnd {
                        self.depth -= 1;
                        Value::Table(t)
                    } else {
                        stack.push((t, None, 1));
                        continue;
                    }
                }
                _ => return self.parse_error("value", &tok),
            };
            // Store the value in its container; close finished containers.
            loop {
                let Some((t, key, index)) = stack.last_mut() else {
                    return Ok(v);
                };
                match key.take() {
                    Some(k) => {
                        t.raw_set(k, v)?;
                        tok = self.next_token();
                        if tok.tok == Tok::ObjEnd {
                            let (t, _, _) = stack.pop().expect("open object");
                            self.depth -= 1;
                            v = Value::Table(t);
                            continue;
                        }
                        if tok.tok != Tok::Comma {
                            return self.parse_error("comma or object end", &tok);
                        }
                        tok = self.next_token();
                        *key = Some(self.member_key(&tok)?);
                        tok = self.next_token();
                        break;
                    }
                    None => {
                        t.raw_set(*index, v)?;
                        *index += 1;
                        tok = self.next_token();
                        if tok.tok == Tok::ArrEnd {
                            let (t, _, _) = stack.pop().expect("open array");
                            self.depth -= 1;
                            v = Value::Table(t);
                            continue;
                        }
                        if tok.tok != Tok::Comma {
                            return self.parse_error("comma or array end", &tok);
                        }
                        tok = self.next_token();
                        break;
                    }
                }
            }
        }
    }

    /// An object member's key (the string token `tok`) and its colon.
    fn member_key(&mut self, tok: &Token) -> LibResult<mlua::LuaString> {
        if tok.tok != Tok::Str {
            return self.parse_error("object key string", tok);
        }
        let key = self.lua.create_string(&self.tmp)?;
        let colon = self.next_token();
        if colon.tok != Tok::Colon {
            return self.parse_error("colon", &colon);
        }
        Ok(key)
    }
}

/// C's `strtod` on a string that starts at a non-space: the value and the
/// number of bytes it used, or `None` when nothing converts.
pub(crate) fn strtod(s: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = 0;
    let neg = match at(0) {
        b'-' => {
            i = 1;
            true
        }
        b'+' => {
            i = 1;
            false
        }
        _ => false,
    };
    let sign = |v: f64| if neg { -v } else { v };
    let rest = &s[i.min(s.len())..];
    let ci = |w: &[u8]| rest.len() >= w.len() && rest[..w.len()].eq_ignore_ascii_case(w);
    if ci(b"infinity") {
        return Some((sign(f64::INFINITY), i + 8));
    }
    if ci(b"inf") {
        return Some((sign(f64::INFINITY), i + 3));
    }
    if ci(b"nan") {
        let mut end = i + 3;
        if at(end) == b'(' {
            let mut j = end + 1;
            while at(j).is_ascii_alphanumeric() || at(j) == b'_' {
                j += 1;
            }
            if at(j) == b')' {
                end = j + 1;
            }
        }
        return Some((sign(f64::NAN), end));
    }
    if at(i) == b'0' && (at(i + 1) | 0x20) == b'x' {
        if let Some((v, len)) = hex_float(&s[i + 2..]) {
            return Some((sign(v), i + 2 + len));
        }
        return Some((sign(0.0), i + 1));
    }
    let start = i;
    let mut digits = 0;
    while at(i).is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if at(i) == b'.' {
        i += 1;
        while at(i).is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if at(i) | 0x20 == b'e' {
        let mut j = i + 1;
        if matches!(at(j), b'+' | b'-') {
            j += 1;
        }
        if at(j).is_ascii_digit() {
            while at(j).is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    let text = std::str::from_utf8(&s[start..i]).ok()?;
    let text = if text.starts_with('.') {
        format!("0{text}")
    } else {
        text.to_string()
    };
    let v: f64 = text.parse().ok()?;
    Some((sign(v), i))
}

/// The digits of a hexadecimal float after "0x": value and length used.
fn hex_float(s: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = 0;
    let mut mant: u64 = 0;
    let mut exp: i64 = 0;
    let mut digits = 0;
    let mut push = |d: u32, frac: bool, exp: &mut i64| {
        if mant >> 56 == 0 {
            mant = (mant << 4) | d as u64;
            if frac {
                *exp -= 4;
            }
        } else if !frac {
            *exp += 4;
        }
    };
    while let Some(d) = (at(i) as char).to_digit(16) {
        push(d, false, &mut exp);
        i += 1;
        digits += 1;
    }
    if at(i) == b'.' {
        let mut j = i + 1;
        let mut frac_digits = 0;
        while let Some(d) = (at(j) as char).to_digit(16) {
            push(d, true, &mut exp);
            j += 1;
            frac_digits += 1;
        }
        if digits + frac_digits > 0 {
            i = j;
            digits += frac_digits;
        }
    }
    if digits == 0 {
        return None;
    }
    if at(i) | 0x20 == b'p' {
        let mut j = i + 1;
        let neg = match at(j) {
            b'-' => {
                j += 1;
                true
            }
            b'+' => {
                j += 1;
                false
            }
            _ => false,
        };
        if at(j).is_ascii_digit() {
            let mut e: i64 = 0;
            while at(j).is_ascii_digit() {
                e = (e * 10 + (at(j) - b'0') as i64).min(1 << 20);
                j += 1;
            }
            exp += if neg { -e } else { e };
            i = j;
        }
    }
    let v = (mant as f64) * 2f64.powi(exp.clamp(-2000, 2000) as i32);
    Some((v, i))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::run;
    use super::strtod;

    #[test]
    fn encode_values() {
        assert_eq!(
            run("return cjson.encode({1.5, 0.1, 1/3, 1e20, -0.0, 1e-5, 2^53, 100})"),
            "[1.5,0.1,0.33333333333333,1e+20,-0,1e-05,9.007199254741e+15,100]"
        );
        assert_eq!(run("return cjson.encode({})"), "{}");
        assert_eq!(run("return cjson.encode({{}, {{}}})"), "[{},[{}]]");
        assert_eq!(run("return cjson.encode({1,2,nil,4})"), "[1,2,null,4]");
        assert_eq!(run("return cjson.encode({[2]='a'})"), "[null,\"a\"]");
        assert_eq!(run("return cjson.encode({[1.5]='a'})"), "{\"1.5\":\"a\"}");
        assert_eq!(
            run("return cjson.encode({a={b={c=1}}})"),
            "{\"a\":{\"b\":{\"c\":1}}}"
        );
        assert_eq!(
            run(r#"return cjson.encode({'a/b', string.char(127), string.char(1), '\t"'})"#),
            r#"["a\/b","\u007f","\u0001","\t\""]"#
        );
        assert_eq!(run("return cjson.encode(cjson.null)"), "null");
        assert_eq!(run("return cjson.encode(true)"), "true");
    }

    #[test]
    fn encode_errors() {
        assert_eq!(
            run("return cjson.encode({[true]=1})"),
            "ERR user_script:1: Cannot serialise boolean: table key must be a number or string"
        );
        assert_eq!(
            run("return cjson.encode(function() end)"),
            "ERR user_script:1: Cannot serialise function: type not supported"
        );
        assert_eq!(
            run("return cjson.encode(0/0)"),
            "ERR user_script:1: Cannot serialise number: must not be NaN or Inf"
        );
        assert_eq!(
            run("return cjson.encode({[1]=1,[11]=2})"),
            "ERR user_script:1: Cannot serialise table: excessively sparse array"
        );
        assert_eq!(
            run("local t = {} t[1] = t return cjson.encode(t)"),
            "ERR user_script:1: Cannot serialise, excessive nesting (1001)"
        );
        assert_eq!(
            run("return cjson.encode(1, 2)"),
            "ERR user_script:1: bad argument #1 to 'encode' (expected 1 argument)"
        );
    }

    #[test]
    fn decode_values() {
        assert_eq!(run("return cjson.decode('[1,2,3]')[3]"), "3");
        assert_eq!(
            run(r#"return cjson.decode('"\\u00e9\\ud83d\\ude00\\/"')"#),
            "é😀/"
        );
        assert_eq!(
            run("return cjson.decode('{\"a\":[1,{\"b\":null}]}').a[2].b == cjson.null"),
            "true"
        );
        assert_eq!(run("return tostring(cjson.decode('1e400'))"), "inf");
        assert_eq!(run("return tostring(cjson.decode('0x1p4'))"), "16");
        assert_eq!(run("return tostring(cjson.decode('+5'))"), "5");
        assert_eq!(run("return cjson.decode(123)"), "123");
        assert_eq!(
            run("return cjson.encode(cjson.decode('{\"a\":null,\"b\":[null]}'))"),
            "{\"a\":null,\"b\":[null]}"
        );
    }

    #[test]
    fn decode_errors() {
        let cases = [
            (
                "[1 2]",
                "Expected comma or array end but found T_NUMBER at character 4",
            ),
            (
                "\"abc",
                "Expected value but found unexpected end of string at character 5",
            ),
            (
                "\"a\\\\qb\"",
                "Expected value but found invalid escape code at character 3",
            ),
            (
                "\"\\\\ud800\"",
                "Expected value but found invalid unicode escape code at character 2",
            ),
            (
                "{\"a\":1,}",
                "Expected object key string but found T_OBJ_END at character 8",
            ),
            ("  ", "Expected value but found T_END at character 3"),
            (
                "truex",
                "Expected the end but found invalid token at character 5",
            ),
            (
                "-",
                "Expected value but found invalid number at character 1",
            ),
            (
                ".5",
                "Expected value but found invalid token at character 1",
            ),
            (
                "{1:2}",
                "Expected object key string but found T_NUMBER at character 2",
            ),
        ];
        for (json, msg) in cases {
            assert_eq!(
                run(&format!("return cjson.decode('{json}')")),
                format!("ERR user_script:1: {msg}"),
                "{json}"
            );
        }
    }

    #[test]
    fn configuration() {
        assert_eq!(run("return select('#', cjson.encode_sparse_array())"), "3");
        assert_eq!(
            run("local a, b, c = cjson.encode_sparse_array(true) return tostring(a)..b..c"),
            "true210"
        );
        assert_eq!(
            run("local c = cjson.new() c.encode_number_precision(3) return c.encode(1/3)..cjson.encode(1/3)"),
            "0.3330.33333333333333"
        );
        assert_eq!(
            run("local c = cjson.new() c.encode_invalid_numbers(true) return c.encode({1/0, -1/0, 0/0})"),
            "[inf,-inf,nan]"
        );
        assert_eq!(
            run("local c = cjson.new() c.encode_invalid_numbers('null') return c.encode({1/0})"),
            "[null]"
        );
        assert_eq!(run("return cjson.encode_invalid_numbers('null')"), "null");
        assert_eq!(run("return cjson.encode_keep_buffer('on')"), "true");
        assert_eq!(
            run("return cjson.encode_sparse_array(true, -1)"),
            "ERR user_script:1: bad argument #1 to 'encode_sparse_array' (expected integer between 0 and 2147483647)"
        );
        assert_eq!(
            run("return cjson.encode_sparse_array(1)"),
            "ERR user_script:1: bad argument #1 to 'encode_sparse_array' (invalid option '1')"
        );
        assert_eq!(
            run("local c = cjson.new() c.decode_max_depth(2) return c.decode('[[[1]]]')"),
            "ERR user_script:1: Found too many nested data structures (3) at character 3"
        );
    }

    #[test]
    fn strtod_forms() {
        assert_eq!(strtod(b"12abc"), Some((12.0, 2)));
        assert_eq!(strtod(b"1e"), Some((1.0, 1)));
        assert_eq!(strtod(b"1.5e+3,"), Some((1500.0, 6)));
        assert_eq!(strtod(b"0x1.8p1"), Some((3.0, 7)));
        assert_eq!(strtod(b"0x"), Some((0.0, 1)));
        assert_eq!(strtod(b"-"), None);
        assert_eq!(strtod(b"-Infinity"), Some((f64::NEG_INFINITY, 9)));
    }
}
