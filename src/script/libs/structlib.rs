//! `struct`: Roberto Ierusalimschy's struct library (0.2) as bundled by
//! Redis. `struct.pack(fmt, ...)`, `struct.unpack(fmt, s [, pos])` (the
//! values, then the next position) and `struct.size(fmt)`.
//!
//! Formats: `>` big endian, `<` little endian (the default is the native
//! one, little endian here), `!n` maximum alignment (default 8), `x` a zero
//! byte, `b/B h/H l/L T i/I` integers (`in` for n bytes, up to 32), `f`,
//! `d`, `s` zero-terminated string, `cn` n characters (`c0`: all of the
//! string when packing, the size given by the previous value when
//! unpacking). Like Redis's copy, it knows no `=`.

use mlua::{Lua, Table, Value};

use super::{arg_err, c_f64_to_i64, c_f64_to_u64, msg_err, set_fn, values, Args, LibResult};

const MAXINTSIZE: usize = 32;
/// Alignment of a double on x86-64, also the default maximum alignment.
const MAXALIGN: usize = 8;

#[derive(Clone, Copy)]
struct Header {
    little: bool,
    align: usize,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            little: cfg!(target_endian = "little"),
            align: 1,
        }
    }
}

struct Fmt<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Fmt<'_> {
    fn next(&mut self) -> Option<u8> {
        // The format is a C string: it ends at the first NUL.
        let c = *self.s.get(self.pos)?;
        if c == 0 {
            return None;
        }
        self.pos += 1;
        Some(c)
    }

    fn peek(&self) -> u8 {
        self.s.get(self.pos).copied().unwrap_or(0)
    }

    /// `getnum`: a decimal number, or `df` when there is none.
    fn getnum(&mut self, df: usize) -> LibResult<usize> {
        if !self.peek().is_ascii_digit() {
            return Ok(df);
        }
        let mut a: i32 = 0;
        while self.peek().is_ascii_digit() {
            let d = (self.peek() - b'0') as i32;
            if a > i32::MAX / 10 || a * 10 > i32::MAX - d {
                return msg_err("integral size overflow");
            }
            a = a * 10 + d;
            self.pos += 1;
        }
        Ok(a as usize)
    }

    /// `optsize`: the size of option `opt`.
    fn optsize(&mut self, opt: u8) -> LibResult<usize> {
        Ok(match opt {
            b'B' | b'b' => 1,
            b'H' | b'h' => 2,
            b'L' | b'l' | b'T' | b'd' => 8,
            b'f' => 4,
            b'x' => 1,
            b'c' => self.getnum(1)?,
            b'i' | b'I' => {
                let sz = self.getnum(4)?;
                if sz > MAXINTSIZE {
                    return msg_err(format!(
                        "integral size {sz} is larger than limit of {MAXINTSIZE}"
                    ));
                }
                sz
            }
            _ => 0,
        })
    }

    /// `controloptions`: endianness, alignment, spaces; anything else is an
    /// invalid option.
    fn control(&mut self, opt: u8, h: &mut Header) -> LibResult<()> {
        match opt {
            b' ' => {}
            b'>' => h.little = false,
            b'<' => h.little = true,
            b'!' => {
                let a = self.getnum(MAXALIGN)?;
                if !(a > 0 && a & (a - 1) == 0) {
                    return msg_err(format!("alignment {a} is not a power of 2"));
                }
                h.align = a;
            }
            _ => {
                let mut m = b"invalid format option '".to_vec();
                m.push(opt);
                m.push(b'\'');
                return arg_err(1, m);
            }
        }
        Ok(())
    }
}

/// `gettoalign`: padding before an item of `size` at offset `len` (with C's
/// arithmetic, also for sizes that are not powers of 2).
fn gettoalign(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    (size.wrapping_sub(len & size.wrapping_sub(1))) & size.wrapping_sub(1)
}

fn is_int_opt(opt: u8) -> bool {
    matches!(
        opt,
        b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I'
    )
}

pub(crate) fn create(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    set_fn(lua, &t, "pack", |lua, a| {
        Ok(values(vec![Value::String(
            lua.create_string(pack(lua, &a)?)?,
        )]))
    })?;
    set_fn(lua, &t, "unpack", |lua, a| Ok(values(unpack(lua, &a)?)))?;
    set_fn(lua, &t, "size", |_, a| {
        Ok(values(vec![Value::Number(size(&a)? as f64)]))
    })?;
    Ok(t)
}

fn pack(lua: &Lua, a: &Args) -> LibResult<Vec<u8>> {
    let fmt_bytes = a.check_bytes(1)?;
    // The C code pushes a nil after the arguments before it starts.
    let mut with_mark = Args(a.0.clone());
    with_mark.0.push(Value::Nil);
    let a = &with_mark;
    let mut fmt = Fmt {
        s: &fmt_bytes,
        pos: 0,
    };
    let mut h = Header::default();
    let mut arg = 2;
    let mut out = Vec::new();
    let mut total = 0usize;
    while let Some(opt) = fmt.next() {
        let mut size = fmt.optsize(opt)?;
        let toalign = gettoalign(total, &h, opt, size);
        total = total.wrapping_add(toalign);
        out.resize(out.len() + toalign, 0);
        match opt {
            _ if is_int_opt(opt) => {
                let n = a.check_number(lua, arg)?;
                arg += 1;
                let mut value = if n < 0.0 {
                    c_f64_to_i64(n) as u64
                } else {
                    c_f64_to_u64(n)
                };
                let mut buf = vec![0u8; size];
                for i in 0..size {
                    let slot = if h.little { i } else { size - 1 - i };
                    buf[slot] = value as u8;
                    value >>= 8;
                }
                out.extend_from_slice(&buf);
            }
            b'x' => out.push(0),
            b'f' => {
                let f = a.check_number(lua, arg)? as f32;
                arg += 1;
                out.extend_from_slice(&if h.little {
                    f.to_le_bytes()
                } else {
                    f.to_be_bytes()
                });
            }
            b'd' => {
                let d = a.check_number(lua, arg)?;
                arg += 1;
                out.extend_from_slice(&if h.little {
                    d.to_le_bytes()
                } else {
                    d.to_be_bytes()
                });
            }
            b'c' | b's' => {
                let s = a.check_bytes(arg)?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // The C code names the argument after this one.
                    return arg_err(arg as i32, "string too short");
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                    size += 1;
                }
            }
            _ => fmt.control(opt, &mut h)?,
        }
        total = total.wrapping_add(size);
    }
    Ok(out)
}

/// `getinteger`: an integer of `size` bytes, kept in 64 bits like the C
/// code's `unsigned long`.
fn getinteger(buf: &[u8], little: bool, signed: bool, size: usize) -> f64 {
    let mut l: u64 = 0;
    for i in 0..size {
        let b = if little { buf[size - 1 - i] } else { buf[i] };
        l = (l << 8) | b as u64;
    }
    if !signed {
        return l as f64;
    }
    // x86 masks the shift count, as the C code relies on for sizes > 8.
    let mask = (!0u64).wrapping_shl((size as u32).wrapping_mul(8).wrapping_sub(1));
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

fn unpack(lua: &Lua, a: &Args) -> LibResult<Vec<Value>> {
    let fmt_bytes = a.check_bytes(1)?;
    let data = a.check_bytes(2)?;
    let ld = data.len();
    let mut pos = a.opt_integer(lua, 3, 1)? as usize;
    if pos == 0 {
        return arg_err(3, "offset must be 1 or greater");
    }
    pos -= 1;
    let mut fmt = Fmt {
        s: &fmt_bytes,
        pos: 0,
    };
    let mut h = Header::default();
    let mut out: Vec<Value> = Vec::new();
    let too_short = || arg_err(2, "data string too short");
    while let Some(opt) = fmt.next() {
        let mut size = fmt.optsize(opt)?;
        pos = pos.wrapping_add(gettoalign(pos, &h, opt, size));
        if !(size <= ld && pos <= ld - size) {
            return too_short();
        }
        match opt {
            _ if is_int_opt(opt) => {
                let signed = opt.is_ascii_lowercase();
                out.push(Value::Number(getinteger(
                    &data[pos..],
                    h.little,
                    signed,
                    size,
                )));
            }
            b'x' => {}
            b'f' => {
                let b: [u8; 4] = data[pos..pos + 4].try_into().expect("4 bytes");
                let f = if h.little {
                    f32::from_le_bytes(b)
                } else {
                    f32::from_be_bytes(b)
                };
                out.push(Value::Number(f as f64));
            }
            b'd' => {
                let b: [u8; 8] = data[pos..pos + 8].try_into().expect("8 bytes");
                let d = if h.little {
                    f64::from_le_bytes(b)
                } else {
                    f64::from_be_bytes(b)
                };
                out.push(Value::Number(d));
            }
            b'c' => {
                if size == 0 {
                    let prev = match out.last() {
                        Some(v) => super::to_number(lua, v)?,
                        None => None,
                    };
                    let Some(n) = prev else {
                        return msg_err("format 'c0' needs a previous size");
                    };
                    size = c_f64_to_u64(n) as usize;
                    out.pop();
                    if !(size <= ld && pos <= ld - size) {
                        return too_short();
                    }
                }
                out.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(e) = data[pos..].iter().position(|&b| b == 0) else {
                    return msg_err("unfinished string in data");
                };
                out.push(Value::String(lua.create_string(&data[pos..pos + e])?));
                size = e + 1;
            }
            _ => fmt.control(opt, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    out.push(Value::Number(pos.wrapping_add(1) as i64 as f64));
    Ok(out)
}

fn size(a: &Args) -> LibResult<usize> {
    let fmt_bytes = a.check_bytes(1)?;
    let mut fmt = Fmt {
        s: &fmt_bytes,
        pos: 0,
    };
    let mut h = Header::default();
    let mut pos = 0usize;
    while let Some(opt) = fmt.next() {
        let size = fmt.optsize(opt)?;
        pos = pos.wrapping_add(gettoalign(pos, &h, opt, size));
        if opt == b's' {
            return arg_err(1, "option 's' has no fixed size");
        } else if opt == b'c' && size == 0 {
            return arg_err(1, "option 'c0' has no fixed size");
        }
        if !opt.is_ascii_alphanumeric() {
            fmt.control(opt, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    Ok(pos)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{lua, run};

    fn hex(code: &str) -> String {
        let lua = lua();
        let s: mlua::LuaString = lua.load(code).eval().unwrap();
        s.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn list(code: &str) -> String {
        run(&format!("local t = {{{code}}} for i = 1, #t do t[i] = tostring(t[i]) end return table.concat(t, ',')"))
    }

    #[test]
    fn pack() {
        assert_eq!(hex("return struct.pack('>i2', 258)"), "0102");
        assert_eq!(hex("return struct.pack('<i2', 258)"), "0201");
        assert_eq!(hex("return struct.pack('l', 2^63)"), "0000000000000080");
        assert_eq!(hex("return struct.pack('>L', 2^64)"), "0000000000000000");
        assert_eq!(hex("return struct.pack('>l', -1)"), "ffffffffffffffff");
        assert_eq!(hex("return struct.pack('>i9', -1)"), "00ffffffffffffffff");
        assert_eq!(
            hex("return struct.pack('<i10', 258)"),
            "02010000000000000000"
        );
        assert_eq!(hex("return struct.pack('!i3h', 1, 2)"), "0000010000000200");
        assert_eq!(hex("return struct.pack('>h', -1.7)"), "ffff");
        assert_eq!(hex("return struct.pack('>d', 1.5)"), "3ff8000000000000");
        assert_eq!(hex("return struct.pack('<f', 1.5)"), "0000c03f");
        assert_eq!(hex("return struct.pack('s', 'a\\0b')"), "61006200");
        assert_eq!(hex("return struct.pack('c0', 'abc')"), "616263");
        assert_eq!(hex("return struct.pack('c', 'abc')"), "61");
        assert_eq!(hex("return struct.pack(' < h', 1)"), "0100");
    }

    #[test]
    fn unpack() {
        assert_eq!(list("struct.unpack('<i2', struct.pack('<i2', -2))"), "-2,3");
        assert_eq!(list("struct.unpack('bc0', '\\3abcd')"), "abc,5");
        assert_eq!(list("struct.unpack('s', 'ab\\0cd\\0', 4)"), "cd,7");
        assert_eq!(
            list("struct.unpack('>l', '\\128\\0\\0\\0\\0\\0\\0\\1')"),
            "-9.2233720368548e+18,9"
        );
        assert_eq!(
            list("struct.unpack('<i10', '\\1\\2\\3\\4\\5\\6\\7\\8\\9\\10')"),
            "-32255,11"
        );
        assert_eq!(
            list("struct.unpack('>i9', '\\255\\0\\0\\0\\0\\0\\0\\0\\1')"),
            "1,10"
        );
        assert_eq!(
            list("struct.unpack('>f', struct.pack('>f', 0.1))"),
            "0.10000000149012,5"
        );
        assert_eq!(list("struct.unpack('xb', 'ab')"), "98,3");
    }

    #[test]
    fn size() {
        assert_eq!(run("return struct.size('!4bi')"), "8");
        assert_eq!(run("return struct.size('!bd')"), "16");
        assert_eq!(run("return struct.size('bd')"), "9");
        assert_eq!(run("return struct.size('!2bd')"), "10");
        assert_eq!(run("return struct.size('y')"), "0");
        assert_eq!(run("return struct.size('T')"), "8");
    }

    #[test]
    fn errors() {
        let cases = [
            (
                "struct.pack('=i', 1)",
                "bad argument #1 to 'pack' (invalid format option '=')",
            ),
            (
                "struct.size('s')",
                "bad argument #1 to 'size' (option 's' has no fixed size)",
            ),
            (
                "struct.size('c0')",
                "bad argument #1 to 'size' (option 'c0' has no fixed size)",
            ),
            (
                "struct.pack('i33', 1)",
                "integral size 33 is larger than limit of 32",
            ),
            ("struct.pack('!3i', 1)", "alignment 3 is not a power of 2"),
            (
                "struct.unpack('c0', 'abc')",
                "format 'c0' needs a previous size",
            ),
            ("struct.unpack('s', 'abc')", "unfinished string in data"),
            (
                "struct.unpack('i', 'ab')",
                "bad argument #2 to 'unpack' (data string too short)",
            ),
            (
                "struct.unpack('b', 'ab', 0)",
                "bad argument #3 to 'unpack' (offset must be 1 or greater)",
            ),
            (
                "struct.unpack('b', 'ab', -1)",
                "bad argument #2 to 'unpack' (data string too short)",
            ),
            (
                "struct.pack('c2', 'a')",
                "bad argument #3 to 'pack' (string too short)",
            ),
            (
                "struct.pack('i', 'x')",
                "bad argument #2 to 'pack' (number expected, got string)",
            ),
            ("struct.size('i99999999999')", "integral size overflow"),
        ];
        for (code, msg) in cases {
            assert_eq!(
                run(&format!("return {code}")),
                format!("ERR user_script:1: {msg}"),
                "{code}"
            );
        }
    }
}
