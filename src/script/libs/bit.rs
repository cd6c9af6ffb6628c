//! `bit`: LuaBitOp 1.0.2 as bundled by Redis. Operations work on 32-bit
//! integers; arguments are normalised modulo 2^32 the way LuaBitOp does (by
//! adding 2^52+2^51 to the double and keeping the low 32 bits, which rounds
//! half to even), results are signed 32-bit numbers.

use mlua::{Lua, Table, Value};

use super::{set_fn, values, Args, LibResult};

/// LuaBitOp's `barg`: the argument as 32 bits.
fn barg(lua: &Lua, args: &Args, idx: usize) -> LibResult<u32> {
    let n = args.to_number(lua, idx)?;
    let b = (n.unwrap_or(0.0) + 6_755_399_441_055_744.0).to_bits() as u32;
    if b == 0 && n.is_none() {
        return super::arg_err(
            idx as i32,
            format!("number expected, got {}", args.typename(idx)),
        );
    }
    Ok(b)
}

fn ret(b: u32) -> LibResult<mlua::MultiValue> {
    Ok(values(vec![Value::Number(b as i32 as f64)]))
}

pub(crate) fn create(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    set_fn(lua, &t, "tobit", |lua, a| ret(barg(lua, &a, 1)?))?;
    set_fn(lua, &t, "bnot", |lua, a| ret(!barg(lua, &a, 1)?))?;
    set_fn(lua, &t, "bswap", |lua, a| {
        ret(barg(lua, &a, 1)?.swap_bytes())
    })?;
    // band/bor/bxor read their arguments from the last one to the first.
    type Fold = fn(u32, u32) -> u32;
    let folds: [(&str, Fold); 3] = [
        ("band", |a, b| a & b),
        ("bor", |a, b| a | b),
        ("bxor", |a, b| a ^ b),
    ];
    for (name, op) in folds {
        set_fn(lua, &t, name, move |lua, a| {
            let mut b = barg(lua, &a, 1)?;
            for i in (2..=a.top()).rev() {
                b = op(b, barg(lua, &a, i)?);
            }
            ret(b)
        })?;
    }
    let shifts: [(&str, Fold); 5] = [
        ("lshift", |b, n| b << n),
        ("rshift", |b, n| b >> n),
        ("arshift", |b, n| ((b as i32) >> n) as u32),
        ("rol", |b, n| b.rotate_left(n)),
        ("ror", |b, n| b.rotate_right(n)),
    ];
    for (name, op) in shifts {
        set_fn(lua, &t, name, move |lua, a| {
            let b = barg(lua, &a, 1)?;
            let n = barg(lua, &a, 2)? & 31;
            ret(op(b, n))
        })?;
    }
    set_fn(lua, &t, "tohex", |lua, a| {
        let mut b = barg(lua, &a, 1)?;
        let mut n: i32 = if a.get(2).is_none() {
            8
        } else {
            barg(lua, &a, 2)? as i32
        };
        // Redis guards against negating INT32_MIN.
        if n == i32::MIN {
            n = i32::MIN + 1;
        }
        let digits: &[u8; 16] = if n < 0 {
            n = -n;
            b"0123456789ABCDEF"
        } else {
            b"0123456789abcdef"
        };
        let n = n.min(8) as usize;
        let mut buf = vec![0u8; n];
        for slot in buf.iter_mut().rev() {
            *slot = digits[(b & 15) as usize];
            b >>= 4;
        }
        Ok(values(vec![Value::String(lua.create_string(buf)?)]))
    })?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::run;

    #[test]
    fn normalisation() {
        assert_eq!(run("return bit.tobit(0xffffffff)"), "-1");
        assert_eq!(run("return bit.tobit(2^31)"), "-2147483648");
        assert_eq!(run("return bit.tobit(1.5)"), "2");
        assert_eq!(run("return bit.tobit(2.5)"), "2");
        assert_eq!(run("return bit.tobit(-1.5)"), "-2");
        assert_eq!(run("return bit.tobit(2^53+1)"), "0");
        assert_eq!(run("return bit.tobit(1e100)"), "630506365");
        assert_eq!(run("return bit.tobit(0/0)"), "0");
        assert_eq!(run("return bit.tobit('0x10')"), "16");
    }

    #[test]
    fn operations() {
        assert_eq!(run("return bit.bnot(0)"), "-1");
        assert_eq!(run("return bit.band(0xff, 0x0f, 0x3)"), "3");
        assert_eq!(run("return bit.bor(1, 2, 4, 8)"), "15");
        assert_eq!(run("return bit.bxor(5)"), "5");
        assert_eq!(run("return bit.lshift(1, 31)"), "-2147483648");
        assert_eq!(run("return bit.lshift(1, 33)"), "2");
        assert_eq!(run("return bit.rshift(-1, 28)"), "15");
        assert_eq!(run("return bit.arshift(-256, 4)"), "-16");
        assert_eq!(run("return bit.rol(0x12345678, 4)"), "591751041");
        assert_eq!(run("return bit.ror(0x12345678, 4)"), "-2128394905");
        assert_eq!(run("return bit.bswap(0x12345678)"), "2018915346");
    }

    #[test]
    fn tohex() {
        assert_eq!(run("return bit.tohex(-1)"), "ffffffff");
        assert_eq!(run("return bit.tohex(255, -4)"), "00FF");
        assert_eq!(run("return bit.tohex(255, 2)"), "ff");
        assert_eq!(run("return bit.tohex(0x12345678, 0)"), "");
        assert_eq!(run("return bit.tohex(0x12345678, -9)"), "12345678");
        assert_eq!(run("return bit.tohex(0xabc, -2^31)"), "00000ABC");
    }

    #[test]
    fn errors() {
        assert_eq!(
            run("return bit.band()"),
            "ERR user_script:1: bad argument #1 to 'band' (number expected, got no value)"
        );
        assert_eq!(
            run("return bit.band(1, 'x', {})"),
            "ERR user_script:1: bad argument #3 to 'band' (number expected, got table)"
        );
        assert_eq!(
            run("return bit.lshift(1)"),
            "ERR user_script:1: bad argument #2 to 'lshift' (number expected, got no value)"
        );
    }
}
