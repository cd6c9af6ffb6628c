//! The four libraries Redis bundles into its Lua 5.1 interpreter, written in
//! Rust: `cjson` (lua-cjson 2.1.0), `cmsgpack` (lua-cmsgpack 0.4.0), `bit`
//! (LuaBitOp 1.0.2) and `struct` (Roberto Ierusalimschy's struct library).
//!
//! They behave like the C versions shipped with Redis 7, down to the error
//! messages, so that scripts written for Redis run unchanged.
//!
//! Errors: a C library raises a plain Lua string (`luaL_error` prefixes the
//! caller's `chunk:line: `, `luaL_argerror` names the function as it was
//! called). An mlua callback can only raise a wrapped Rust error, so each
//! library function is an mlua function wrapped in a small C closure: the
//! Rust code returns a marker plus the message, and the closure raises it
//! with the real `luaL_where`/`luaL_argerror`, exactly as the C code would.

use std::ffi::{c_int, c_void};

use mlua::{ffi, Function, LightUserData, Lua, MultiValue, Table, Value};

pub mod bit;
pub mod cjson;
pub mod cmsgpack;
pub mod structlib;

/// Install `cjson`, `cmsgpack`, `bit` and `struct` as global tables, as Redis
/// does in its scripting environment.
pub fn register_all(lua: &Lua) -> mlua::Result<()> {
    let globals = lua.globals();
    globals.set("cjson", cjson::create(lua)?)?;
    globals.set("cmsgpack", cmsgpack::create(lua)?)?;
    globals.set("bit", bit::create(lua)?)?;
    globals.set("struct", structlib::create(lua)?)?;
    Ok(())
}

/// An error raised by a library function, the way the C library raises it.
#[derive(Debug)]
pub(crate) enum LibError {
    /// `luaL_error(L, msg)`: the caller's position is prefixed.
    Msg(Vec<u8>),
    /// An error raised by the Lua core inside the C function (for example
    /// "table index is nil"): no position.
    Raw(Vec<u8>),
    /// `luaL_argerror(L, narg, extramsg)`.
    Arg(i32, Vec<u8>),
    /// An error from mlua itself (memory, ...), passed on as is.
    Lua(mlua::Error),
}

impl From<mlua::Error> for LibError {
    fn from(e: mlua::Error) -> Self {
        LibError::Lua(e)
    }
}

pub(crate) type LibResult<T> = Result<T, LibError>;

pub(crate) fn msg_err<T>(m: impl Into<Vec<u8>>) -> LibResult<T> {
    Err(LibError::Msg(m.into()))
}

pub(crate) fn arg_err<T>(narg: i32, m: impl Into<Vec<u8>>) -> LibResult<T> {
    Err(LibError::Arg(narg, m.into()))
}

static ERR_MSG: u8 = 0;
static ERR_RAW: u8 = 0;
static ERR_ARG: u8 = 0;
static MANY: u8 = 0;

/// Results beyond this many travel in a table that the C closure unpacks:
/// an mlua callback keeps some stack slots for itself, the C code does not.
const MANY_RESULTS: usize = 1000;

fn marker(p: &'static u8) -> Value {
    Value::LightUserData(LightUserData(p as *const u8 as *mut c_void))
}

/// The C closure around every library function: calls the mlua function in
/// upvalue 1 and turns an error marker in its results into a Lua error.
unsafe extern "C-unwind" fn trampoline(state: *mut ffi::lua_State) -> c_int {
    let nargs = ffi::lua_gettop(state);
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
    ffi::lua_insert(state, 1);
    ffi::lua_call(state, nargs, ffi::LUA_MULTRET);
    let nres = ffi::lua_gettop(state);
    if nres >= 1 && ffi::lua_type(state, 1) == ffi::LUA_TLIGHTUSERDATA {
        let p = ffi::lua_touserdata(state, 1) as *const u8;
        if std::ptr::eq(p, &ERR_MSG) {
            ffi::luaL_where(state, 1);
            ffi::lua_pushvalue(state, 2);
            ffi::lua_concat(state, 2);
            ffi::lua_error(state);
        }
        if std::ptr::eq(p, &ERR_RAW) {
            ffi::lua_pushvalue(state, 2);
            ffi::lua_error(state);
        }
        if std::ptr::eq(p, &MANY) {
            let n = ffi::lua_tointeger(state, 3) as c_int;
            ffi::lua_settop(state, 2);
            ffi::lua_remove(state, 1);
            // The real luaL_checkstack (the ffi one asks for 20 more slots).
            ffi::luaL_checkstack_(state, n, c"too many results".as_ptr());
            for i in 1..=n {
                ffi::lua_rawgeti(state, 1, i as _);
            }
            ffi::lua_remove(state, 1);
            return n;
        }
        if std::ptr::eq(p, &ERR_ARG) {
            let narg = ffi::lua_tointeger(state, 2) as c_int;
            let msg = ffi::lua_tolstring(state, 3, std::ptr::null_mut());
            return ffi::luaL_argerror(state, narg, msg);
        }
    }
    nres
}

/// Make a library function out of `f`, raising its [`LibError`]s as the C
/// library would.
pub(crate) fn lib_fn<F>(lua: &Lua, f: F) -> mlua::Result<Function>
where
    F: Fn(&Lua, Args) -> LibResult<MultiValue> + 'static,
{
    let inner = lua.create_function(move |lua, args: MultiValue| {
        let args = Args(args.into_vec());
        let (mark, rest) = match f(lua, args) {
            Ok(v) if v.len() > MANY_RESULTS => {
                let n = v.len();
                let t = lua.create_table_with_capacity(n, 0)?;
                for (i, item) in v.into_iter().enumerate() {
                    t.raw_set(i + 1, item)?;
                }
                (
                    marker(&MANY),
                    vec![Value::Table(t), Value::Integer(n as i64)],
                )
            }
            Ok(v) => return Ok(v),
            Err(LibError::Lua(e)) => return Err(e),
            Err(LibError::Msg(m)) => (marker(&ERR_MSG), vec![Value::String(lua.create_string(m)?)]),
            Err(LibError::Raw(m)) => (marker(&ERR_RAW), vec![Value::String(lua.create_string(m)?)]),
            Err(LibError::Arg(n, m)) => (
                marker(&ERR_ARG),
                vec![
                    Value::Integer(n as i64),
                    Value::String(lua.create_string(m)?),
                ],
            ),
        };
        let mut out = vec![mark];
        out.extend(rest);
        Ok(MultiValue::from_vec(out))
    })?;
    // SAFETY: the closure only pushes a C closure over the one argument.
    unsafe {
        lua.exec_raw::<Function>(inner, |state| {
            ffi::lua_pushcclosure(state, trampoline, 1);
        })
    }
}

/// Register `name = f` in `table`.
pub(crate) fn set_fn<F>(lua: &Lua, table: &Table, name: &str, f: F) -> mlua::Result<()>
where
    F: Fn(&Lua, Args) -> LibResult<MultiValue> + 'static,
{
    table.raw_set(name, lib_fn(lua, f)?)
}

/// The arguments of a call, with the lauxlib-style checks (1-based indexes).
pub(crate) struct Args(pub Vec<Value>);

impl Args {
    pub fn top(&self) -> usize {
        self.0.len()
    }

    /// The argument at `idx`, `None` when absent ("no value").
    pub fn get(&self, idx: usize) -> Option<&Value> {
        self.0.get(idx - 1)
    }

    pub fn is_none_or_nil(&self, idx: usize) -> bool {
        matches!(self.get(idx), None | Some(Value::Nil))
    }

    /// `luaL_typename`: the type name of an argument, "no value" when absent.
    pub fn typename(&self, idx: usize) -> &'static str {
        self.get(idx).map(type_name).unwrap_or("no value")
    }

    fn type_error<T>(&self, idx: usize, expected: &str) -> LibResult<T> {
        arg_err(
            idx as i32,
            format!("{expected} expected, got {}", self.typename(idx)),
        )
    }

    /// `lua_tonumber` (0 when not convertible) and whether it converted.
    pub fn to_number(&self, lua: &Lua, idx: usize) -> LibResult<Option<f64>> {
        Ok(match self.get(idx) {
            Some(v) => to_number(lua, v)?,
            None => None,
        })
    }

    /// `luaL_checknumber`.
    pub fn check_number(&self, lua: &Lua, idx: usize) -> LibResult<f64> {
        match self.to_number(lua, idx)? {
            Some(n) => Ok(n),
            None => self.type_error(idx, "number"),
        }
    }

    /// `luaL_checkinteger` (lua_Integer is 64-bit; the double is truncated).
    pub fn check_integer(&self, lua: &Lua, idx: usize) -> LibResult<i64> {
        Ok(c_f64_to_i64(self.check_number(lua, idx)?))
    }

    /// `luaL_optinteger`.
    pub fn opt_integer(&self, lua: &Lua, idx: usize, def: i64) -> LibResult<i64> {
        if self.is_none_or_nil(idx) {
            Ok(def)
        } else {
            self.check_integer(lua, idx)
        }
    }

    /// `luaL_checklstring`: strings, and numbers converted to strings.
    pub fn check_bytes(&self, idx: usize) -> LibResult<Vec<u8>> {
        match self.get(idx) {
            Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
            Some(Value::Integer(i)) => Ok(fmt_g(*i as f64, 14).into_bytes()),
            Some(Value::Number(n)) => Ok(fmt_g(*n, 14).into_bytes()),
            _ => self.type_error(idx, "string"),
        }
    }

    /// `luaL_checkoption` without a default.
    pub fn check_option(&self, idx: usize, options: &[&str]) -> LibResult<usize> {
        let name = self.check_bytes(idx)?;
        match options.iter().position(|o| o.as_bytes() == name.as_slice()) {
            Some(i) => Ok(i),
            None => {
                let mut m = b"invalid option '".to_vec();
                m.extend_from_slice(&name);
                m.push(b'\'');
                arg_err(idx as i32, m)
            }
        }
    }
}

/// `lua_typename(lua_type(v))` as Lua 5.1 names it.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

/// `lua_tonumber`: numbers, and strings that convert to numbers.
pub(crate) fn to_number(lua: &Lua, v: &Value) -> mlua::Result<Option<f64>> {
    Ok(match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        Value::String(_) => lua.coerce_number(v.clone())?,
        _ => None,
    })
}

/// The number a Lua value holds, if it is a number.
pub(crate) fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

const TWO63: f64 = 9_223_372_036_854_775_808.0;

/// C's `(int64_t)d` on x86-64: out of range and NaN give INT64_MIN.
pub(crate) fn c_f64_to_i64(d: f64) -> i64 {
    if d.is_nan() || !(-TWO63..TWO63).contains(&d) {
        i64::MIN
    } else {
        d as i64
    }
}

/// C's `(uint64_t)d` as GCC compiles it on x86-64.
pub(crate) fn c_f64_to_u64(d: f64) -> u64 {
    if d < TWO63 {
        c_f64_to_i64(d) as u64
    } else {
        (c_f64_to_i64(d - TWO63) as u64) ^ (1u64 << 63)
    }
}

/// C's `(int)d` on x86-64: out of range and NaN give INT_MIN.
pub(crate) fn c_f64_to_i32(d: f64) -> i32 {
    if d.is_nan() || !(-2_147_483_648.0..2_147_483_648.0).contains(&d) {
        i32::MIN
    } else {
        d as i32
    }
}

/// printf's `%.<prec>g` (glibc), which is also how Lua 5.1 turns numbers
/// into strings (`%.14g`).
pub(crate) fn fmt_g(x: f64, prec: usize) -> String {
    if x.is_nan() {
        return if x.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if x.is_infinite() {
        return if x < 0.0 { "-inf" } else { "inf" }.into();
    }
    let p = prec.max(1);
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{:.*e}", p - 1, x);
    let (mant, exp) = sci.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent digits");
    if exp < -4 || exp >= p as i32 {
        let mant = strip_fraction_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.unsigned_abs())
    } else {
        let decimals = (p as i32 - 1 - exp) as usize;
        strip_fraction_zeros(&format!("{:.*}", decimals, x)).to_string()
    }
}

fn strip_fraction_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Build a result list.
pub(crate) fn values(v: Vec<Value>) -> MultiValue {
    MultiValue::from_vec(v)
}

#[cfg(test)]
pub(crate) mod testutil {
    use mlua::{Lua, Value};

    /// A Lua state with the four libraries, as in Redis.
    pub fn lua() -> Lua {
        let lua = Lua::new();
        super::register_all(&lua).unwrap();
        lua
    }

    /// Run `code` as the chunk `@user_script` and return its first result.
    pub fn eval(lua: &Lua, code: &str) -> Result<Value, String> {
        match lua
            .load(code)
            .set_name("@user_script")
            .eval::<mlua::MultiValue>()
        {
            Ok(v) => Ok(v.into_iter().next().unwrap_or(Value::Nil)),
            Err(e) => Err(error_text(&e)),
        }
    }

    /// The message of a Lua error, without mlua's traceback.
    pub fn error_text(e: &mlua::Error) -> String {
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

    /// Evaluate and render the result as a string for comparisons: strings
    /// as their bytes (lossy), numbers with `%.14g`, others by type.
    pub fn run(code: &str) -> String {
        let lua = lua();
        match eval(&lua, code) {
            Ok(v) => show(&v),
            Err(e) => format!("ERR {e}"),
        }
    }

    pub fn show(v: &Value) -> String {
        match v {
            Value::Nil => "nil".into(),
            Value::Boolean(b) => b.to_string(),
            Value::Integer(i) => super::fmt_g(*i as f64, 14),
            Value::Number(n) => super::fmt_g(*n, 14),
            Value::String(s) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
            other => other.type_name().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    #[test]
    fn fmt_g_matches_printf() {
        assert_eq!(fmt_g(0.1, 14), "0.1");
        assert_eq!(fmt_g(1.0 / 3.0, 14), "0.33333333333333");
        assert_eq!(fmt_g(1e20, 14), "1e+20");
        assert_eq!(fmt_g(1e-5, 14), "1e-05");
        assert_eq!(fmt_g(123456789012345678.0, 14), "1.2345678901235e+17");
        assert_eq!(fmt_g(9007199254740992.0, 14), "9.007199254741e+15");
        assert_eq!(fmt_g(100.0, 14), "100");
        assert_eq!(fmt_g(-0.0, 14), "-0");
        assert_eq!(fmt_g(99999999999999.5, 14), "1e+14");
        assert_eq!(fmt_g(0.0001, 14), "0.0001");
        assert_eq!(fmt_g(1.0 / 3.0, 3), "0.333");
        assert_eq!(fmt_g(f64::INFINITY, 14), "inf");
    }

    #[test]
    fn c_casts() {
        assert_eq!(c_f64_to_i64(1e30), i64::MIN);
        assert_eq!(c_f64_to_i64(-1.9), -1);
        assert_eq!(c_f64_to_u64(18446744073709551616.0), 0);
        assert_eq!(c_f64_to_u64(9223372036854775808.0), 1 << 63);
        assert_eq!(c_f64_to_u64(f64::NAN), 0);
        assert_eq!(c_f64_to_i32(3e9), i32::MIN);
    }

    #[test]
    fn errors_are_plain_strings_with_the_callers_position() {
        assert_eq!(
            run("local ok, e = pcall(cjson.decode, 'x') return e"),
            "Expected value but found invalid token at character 1"
        );
        assert_eq!(
            run("local ok, e = pcall(function() return cjson.decode('x') end) return e"),
            "user_script:1: Expected value but found invalid token at character 1"
        );
        assert_eq!(
            run("\nreturn bit.band('x')"),
            "ERR user_script:2: bad argument #1 to 'band' (number expected, got string)"
        );
        assert_eq!(
            run("local ok, e = pcall(bit.band, 'x') return e"),
            "bad argument #1 to '?' (number expected, got string)"
        );
    }

    #[test]
    fn globals_are_installed() {
        assert_eq!(
            run("return type(cjson)..type(cmsgpack)..type(bit)..type(struct)"),
            "tabletabletabletable"
        );
    }
}
