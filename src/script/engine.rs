//! One Lua interpreter per core, set up as Redis sets up its own: the base,
//! table, string and math libraries, the `redis` API table, globals that a
//! script can read but not create or change (reading an unknown one is an
//! error), and no access to files or the OS.
//!
//! A script runs inside `xpcall` with a handler that turns any error into
//! Redis's error table `{err=..., source=..., line=...}`, so that the reply
//! reads like Redis's: `-<err> script: <sha>, on @user_script:<line>.`

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use ahash::AHashMap;
use mlua::{Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value};

use super::convert::lua_to_reply;
use super::functions::{FunctionMeta, Libraries};
use super::redis_call;
use super::registry::{Script, Sha};
use crate::cmd::exec::{Client, Running};
use crate::cmd::spec::ShardSet;
use crate::cmd::ShardFn;
use crate::resp::{Out, Proto};
use crate::server::connection::{Flow, Session};
use crate::shard::dispatch::Core;
use crate::shard::txn::Txn;
use std::sync::atomic::{AtomicU8, Ordering};

/// What a running script's `redis.call` needs.
pub struct CallCtx {
    pub core: Rc<Core>,
    /// The shards it holds; always there while it runs (an `Option` so
    /// the caller can take it back).
    pub txn: Option<Txn>,
    pub db: usize,
    /// `redis.setresp(3)`: replies come back as RESP3 values.
    pub resp3: bool,
    /// EVAL_RO / EVALSHA_RO / FCALL_RO: writes are refused.
    pub read_only: bool,
    /// Where this script or function was seen to go (see `script`).
    pub reach: Arc<AtomicU8>,
    /// The shards of the script's declared keys.
    pub declared: ShardSet,
    /// Set when a command reached a shard off `declared`.
    pub roamed: bool,
    /// Set once it ran a command that changed something (a write, a
    /// publish): from then on it cannot start over.
    pub committed: bool,
    /// Set when it needs a shard it can only get by starting over: every
    /// later call fails, and the caller runs it again holding every shard.
    pub restart: bool,
    /// FCALL rather than EVAL (for SCRIPT KILL / FUNCTION KILL).
    pub function: bool,
    /// The reply of the call running now.
    pub out: Out,
    /// The clock its calls see, taken when the script started.
    pub now: u64,
}

pub struct Engine {
    lua: Lua,
    env: Table,
    handler: Function,
    compiled: RefCell<(u64, AHashMap<Sha, Rc<Compiled>>)>,
    /// This core's functions (FUNCTION LOAD), for a libraries generation.
    functions: RefCell<(u64, AHashMap<String, Function>)>,
    lib_env: Table,
    loader: Function,
    bind: Function,
    call: Rc<RefCell<Option<CallCtx>>>,
    /// `run(func, handler)`: the C function that sets KEYS and ARGV and
    /// calls the script (see [`run_chunk`]), and what it reads.
    run: Function,
    runner: Box<Runner>,
}

/// What the runner C function reads; boxed, so its address (the
/// function's upvalue) stays put.
#[derive(Default)]
struct Runner {
    /// A script's KEYS and ARGV for the run starting now (None: a function,
    /// which gets its own).
    #[allow(clippy::type_complexity)]
    lists: std::cell::Cell<Option<(*const [&'static [u8]], *const [&'static [u8]])>>,
    /// The lengths KEYS and ARGV had in the last run (see `set_global_list`).
    lens: [std::cell::Cell<usize>; 2],
}

/// `run(func, handler)`: sets a script's KEYS and ARGV, then calls `func`
/// with `handler` for errors, as `xpcall` would; returns `ok, value`.
///
/// # Safety
/// Called by Lua only, with the engine's [`Runner`] and the names "KEYS"
/// and "ARGV" as its upvalues.
unsafe extern "C-unwind" fn run_chunk(state: *mut mlua::ffi::lua_State) -> std::ffi::c_int {
    use mlua::ffi;
    let runner = &*(ffi::lua_touserdata(state, ffi::lua_upvalueindex(1)) as *const Runner);
    if let Some((keys, args)) = runner.lists.take() {
        set_global_list(state, ffi::lua_upvalueindex(2), &*keys, &runner.lens[0]);
        set_global_list(state, ffi::lua_upvalueindex(3), &*args, &runner.lens[1]);
    }
    ffi::lua_checkstack(state, 3);
    ffi::lua_pushvalue(state, 1);
    let status = ffi::lua_pcall(state, 0, 1, 2);
    ffi::lua_pushboolean(state, (status == 0) as std::ffi::c_int);
    ffi::lua_insert(state, -2);
    2
}

thread_local! {
    static ENGINE: RefCell<Option<Rc<Engine>>> = const { RefCell::new(None) };
}

/// This core's interpreter, made on first use.
pub fn engine() -> Rc<Engine> {
    ENGINE.with(|e| {
        e.borrow_mut()
            .get_or_insert_with(|| Rc::new(Engine::new().expect("Lua interpreter")))
            .clone()
    })
}

/// Lua code run once per interpreter: the protected environment scripts see.
const SETUP: &str = r##"
local real, api = ...
local function readonly(t)
  return setmetatable({}, {
    __index = t,
    __newindex = function() error("Attempt to modify a readonly table", 2) end,
    __metatable = false,
  })
end
-- What Redis leaves out of the sandbox: reading these is an error.
local setfenv = setfenv
for _, name in ipairs({ "dofile", "loadfile", "setfenv", "getfenv", "module",
    "require", "newproxy", "print" }) do
  real[name] = nil
end
local redis = { call = api.call, pcall = api.pcall }
-- Redis's pcall hands a script the text of a failed redis.call, not the
-- error object itself.
local raw_pcall, plain_error = pcall, api.plain_error
local function pack(...) return { n = select("#", ...), ... } end
real.pcall = function(f, ...)
  local r = pack(raw_pcall(f, ...))
  if not r[1] then r[2] = plain_error(r[2]) end
  return unpack(r, 1, r.n)
end
function redis.error_reply(msg)
  if type(msg) ~= "string" then error("wrong number or type of arguments", 2) end
  return { err = msg }
end
function redis.status_reply(msg)
  if type(msg) ~= "string" then error("wrong number or type of arguments", 2) end
  return { ok = msg }
end
redis.sha1hex = api.sha1hex
redis.setresp = api.setresp
redis.log = function() end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.set_repl = function() end
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.REDIS_VERSION = api.version
redis.REDIS_VERSION_NUM = api.version_num
real.redis = readonly(redis)
for _, lib in ipairs({ "string", "table", "math", "cjson", "bit", "struct", "cmsgpack" }) do
  if real[lib] then real[lib] = readonly(real[lib]) end
end
-- Scripts see `env`: reads go straight to the real globals (a table
-- lookup, no call), and only a missing name reaches the erroring function.
local function missing(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end
local env = setmetatable({}, {
  __index = real,
  __newindex = function() error("Attempt to modify a readonly table", 2) end,
  __metatable = false,
})
real._G = env

-- Functions (FUNCTION LOAD): a library's code runs in an environment whose
-- `redis` is the load-time API (register_function, log) while it loads, and
-- the full API when its functions run.
local function strict(t)
  return setmetatable({}, {
    __index = function(_, k)
      local v = t[k]
      if v == nil then
        error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
      end
      return v
    end,
    __newindex = function() error("Attempt to modify a readonly table", 2) end,
    __metatable = false,
  })
end
-- A library's globals: its own `redis` (switched while it loads) over the
-- real ones.
local lib_globals = setmetatable({ redis = real.redis }, { __index = real })
local lib_env = setmetatable({}, {
  __index = lib_globals,
  __newindex = function() error("Attempt to modify a readonly table", 2) end,
  __metatable = false,
})
local known_flags = { ["no-writes"] = true, ["allow-oom"] = true, ["allow-stale"] = true,
  ["no-cluster"] = true, ["allow-cross-slot-keys"] = true }
local function load_library(f)
  local registered, seen = {}, {}
  local function register(a, b, ...)
    local name, cb, flags, desc
    if type(a) == "table" and b == nil then
      name, cb, flags, desc = a.function_name, a.callback, a.flags, a.description
    elseif select("#", ...) == 0 and b ~= nil then
      name, cb = a, b
    else
      error("wrong number of arguments to redis.register_function", 0)
    end
    if type(name) ~= "string" then error("function_name argument given to redis.register_function must be a string", 0) end
    if not name:match("^[%w_]+$") then
      error("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long", 0)
    end
    if type(cb) ~= "function" then error("callback argument given to redis.register_function must be a function", 0) end
    if seen[name] then error("Function already exists in the library", 0) end
    local fl = {}
    for _, flag in ipairs(flags or {}) do
      if not known_flags[flag] then error("unknown flag given", 0) end
      fl[#fl + 1] = flag
    end
    if desc ~= nil and type(desc) ~= "string" then error("description must be a string", 0) end
    seen[name] = true
    registered[#registered + 1] = { name = name, callback = cb, flags = fl, description = desc }
  end
  rawset(lib_globals, "redis", strict({ register_function = register, log = function() end,
    LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
    REDIS_VERSION = api.version, REDIS_VERSION_NUM = api.version_num }))
  local ok, err = raw_pcall(f)
  rawset(lib_globals, "redis", real.redis)
  if not ok then return nil, tostring(err) end
  return registered
end
api.lib_env = lib_env
api.load_library = load_library
api.bind = function(cb, keys, args) return function() return cb(keys, args) end end

-- Code compiled by a script sees the same protected globals.
for _, name in ipairs({ "loadstring", "load" }) do
  local compile = real[name]
  real[name] = function(...)
    local f, e = compile(...)
    if f then setfenv(f, env) end
    return f, e
  end
end
setmetatable(real, { __index = missing })
return env
"##;

/// A value the setup code left in the API table.
fn api_lib<T: mlua::FromLua>(lua: &Lua, name: &str) -> mlua::Result<T> {
    let api: Table = lua.named_registry_value("ringbus_api")?;
    api.raw_get(name)
}

impl Engine {
    fn new() -> mlua::Result<Engine> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        super::libs::register_all(&lua)?;
        let call: Rc<RefCell<Option<CallCtx>>> = Rc::new(RefCell::new(None));
        let api = lua.create_table()?;
        // redis.call and redis.pcall work on the Lua stack directly (see
        // `redis_call`); their upvalue points at `call`, which the engine
        // keeps alive as long as the interpreter.
        let current = Rc::as_ptr(&call) as *mut std::ffi::c_void;
        for (name, f) in [
            ("call", redis_call::call as mlua::ffi::lua_CFunction),
            ("pcall", redis_call::pcall),
        ] {
            let f: Function = unsafe {
                lua.exec_raw((), |state| {
                    mlua::ffi::lua_pushlightuserdata(state, current);
                    mlua::ffi::lua_pushcclosure(state, f, 1);
                })
            }?;
            api.raw_set(name, f)?;
        }
        api.raw_set(
            "plain_error",
            lua.create_function(|lua, v: Value| {
                Ok(match &v {
                    Value::Error(e) => match call_error(e) {
                        Some(msg) => Value::String(lua.create_string(msg)?),
                        None => v,
                    },
                    Value::Table(t) => match t.raw_get::<Value>("err") {
                        Ok(s @ Value::String(_)) => s,
                        _ => v,
                    },
                    _ => v,
                })
            })?,
        )?;
        api.raw_set(
            "sha1hex",
            lua.create_function(|lua, args: MultiValue| {
                let text = match args.len() {
                    1 => lua.coerce_string(args[0].clone())?,
                    _ => None,
                };
                let Some(text) = text else {
                    return Err(mlua::Error::runtime("wrong number of arguments"));
                };
                lua.create_string(super::registry::sha1_hex(&text.as_bytes()))
            })?,
        )?;
        let ctx = call.clone();
        api.raw_set(
            "setresp",
            lua.create_function(move |_, v: i64| {
                if v != 2 && v != 3 {
                    return Err(mlua::Error::runtime("RESP version must be 2 or 3."));
                }
                if let Some(c) = ctx.borrow_mut().as_mut() {
                    c.resp3 = v == 3;
                }
                Ok(())
            })?,
        )?;
        api.raw_set("version", crate::cmd::connection::REDIS_VERSION)?;
        api.raw_set("version_num", 0x070204)?;
        lua.set_named_registry_value("ringbus_api", api.clone())?;
        let globals = lua.globals();
        let env: Table = lua
            .load(SETUP)
            .set_name("=setup")
            .call((globals.clone(), api))?;
        let handler = lua.create_function(error_handler)?;
        // SCRIPT KILL (from another core) is checked every 100,000
        // instructions.
        let ctx = call.clone();
        lua.set_hook(
            mlua::HookTriggers::new().every_nth_instruction(100_000),
            move |_, _| {
                let killed = ctx.try_borrow().ok().and_then(|c| {
                    c.as_ref()
                        .map(|c| (c.core.shared.busy.killed(c.core.id), c.function))
                });
                match killed {
                    Some((true, false)) => Err(mlua::Error::runtime(
                        "Script killed by user with SCRIPT KILL...",
                    )),
                    Some((true, true)) => Err(mlua::Error::runtime(
                        "Script killed by user with FUNCTION KILL...",
                    )),
                    _ => Ok(mlua::VmState::Continue),
                }
            },
        )?;
        let runner: Box<Runner> = Box::default();
        let runner_ptr = &*runner as *const Runner as *mut std::ffi::c_void;
        let run: Function = unsafe {
            lua.exec_raw((), |state| {
                mlua::ffi::lua_pushlightuserdata(state, runner_ptr);
                mlua::ffi::lua_pushlstring(state, c"KEYS".as_ptr(), 4);
                mlua::ffi::lua_pushlstring(state, c"ARGV".as_ptr(), 4);
                mlua::ffi::lua_pushcclosure(state, run_chunk, 3);
            })
        }?;
        let lib_env: Table = api_lib(&lua, "lib_env")?;
        let loader: Function = api_lib(&lua, "load_library")?;
        let bind: Function = api_lib(&lua, "bind")?;
        Ok(Engine {
            lua,
            env,
            handler,
            compiled: RefCell::new((0, AHashMap::new())),
            functions: RefCell::new((u64::MAX, AHashMap::new())),
            lib_env,
            loader,
            bind,
            run,
            runner,
            call,
        })
    }

    /// The compiled function of `script`; Err is the compiler's message.
    /// This core's compiled form of the script `sha`, if it has one for
    /// registry generation `generation` (EVALSHA's way, without the shared
    /// registry).
    pub fn cached(&self, sha: &Sha, generation: u64) -> Option<Rc<Compiled>> {
        let compiled = self.compiled.borrow();
        if compiled.0 != generation {
            return None;
        }
        compiled.1.get(sha).cloned()
    }

    /// `script` compiled on this core (compiled now if it is not yet).
    pub fn compiled(&self, script: &Arc<Script>, generation: u64) -> Result<Rc<Compiled>, String> {
        let mut compiled = self.compiled.borrow_mut();
        if compiled.0 != generation {
            *compiled = (generation, AHashMap::new());
        }
        if let Some(c) = compiled.1.get(&script.sha) {
            return Ok(c.clone());
        }
        let func = self
            .lua
            .load(&script.source[..])
            .set_name("@user_script")
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| match e {
                mlua::Error::SyntaxError { message, .. } => message,
                other => other.to_string(),
            })?;
        let c = Rc::new(Compiled {
            func,
            script: script.clone(),
        });
        compiled.1.insert(script.sha, c.clone());
        Ok(c)
    }

    pub fn check(&self, script: &Arc<Script>, generation: u64) -> Result<(), String> {
        self.compiled(script, generation).map(|_| ())
    }

    /// Runs `target` with `keys` and `args`, writing its reply (in the
    /// client's protocol) to `out`. Returns the context (its transaction
    /// releases every shard when dropped).
    pub fn run(
        &self,
        ctx: CallCtx,
        target: &Target,
        keys: &[&[u8]],
        args: &[&[u8]],
        out: &mut Out,
    ) -> CallCtx {
        // A script that waits for a hop lets this core handle its mailbox,
        // which may bring another script for this core: it is answered as
        // Redis answers anything while a script runs.
        if self.call.borrow().is_some() {
            out.error(super::busy::BUSY_SCRIPT);
            return ctx;
        }
        let bound;
        let func = match target {
            Target::Script(compiled) => &compiled.func,
            Target::Function(name) => match self.bind_function(&ctx, name, keys, args) {
                Ok(f) => {
                    bound = f;
                    &bound
                }
                Err(msg) => {
                    out.error(&msg);
                    return ctx;
                }
            },
        };
        let (core, busy_as_function) = (ctx.core.clone(), ctx.function);
        let busy = &core.shared.busy;
        busy.start(core.id, crate::shard::coarse_now_ms(), busy_as_function);
        *self.call.borrow_mut() = Some(ctx);
        // A script's KEYS and ARGV are set by the runner, on the stack.
        if matches!(target, Target::Script(..)) {
            // The lifetimes are erased: the runner reads them only during
            // the call below, and they are cleared right after it.
            #[allow(clippy::unnecessary_cast)]
            self.runner.lists.set(Some((
                keys as *const [&[u8]] as *const [&'static [u8]],
                args as *const [&[u8]] as *const [&'static [u8]],
            )));
        }
        let result = self.run.call::<(bool, Value)>((func, &self.handler));
        self.runner.lists.set(None);
        let ctx = self.call.borrow_mut().take().expect("the call context");
        busy.end(core.id);
        let (label, source) = match target {
            Target::Script(c) => (sha_text(&c.script.sha), "@user_script"),
            Target::Function(name) => (name.as_str(), "@user_function"),
        };
        let (ok, value) = match result {
            Ok(v) => v,
            Err(e) => {
                out.error(&format!("ERR Error running script {label}: {e}"));
                return ctx;
            }
        };
        if ok {
            lua_to_reply(&value, out, ctx.resp3);
        } else {
            out.error(&error_text(&value, label, source));
        }
        ctx
    }

    /// Function `name` bound to its keys and arguments.
    fn bind_function(
        &self,
        ctx: &CallCtx,
        name: &str,
        keys: &[&[u8]],
        args: &[&[u8]],
    ) -> Result<Function, String> {
        let list = |items: &[&[u8]]| -> mlua::Result<Table> {
            let t = self.lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, self.lua.create_string(item)?)?;
            }
            Ok(t)
        };
        let lua_err = |e: mlua::Error| format!("ERR {e}");
        let callback = self.function(&ctx.core.shared.functions, name)?;
        self.bind
            .call((
                callback,
                list(keys).map_err(lua_err)?,
                list(args).map_err(lua_err)?,
            ))
            .map_err(lua_err)
    }

    /// Runs a library's code to see what it registers (FUNCTION LOAD): the
    /// functions with their callbacks, or the reply's error text.
    pub fn load_library(&self, code: &[u8]) -> Result<Vec<(FunctionMeta, Function)>, String> {
        // The metadata line is not Lua: it stays as an empty first line, so
        // that line numbers count it as Redis does.
        let body = match code.iter().position(|&b| b == b'\n') {
            Some(i) if code.starts_with(b"#!") => &code[i..],
            _ => code,
        };
        let f = self
            .lua
            .load(body)
            .set_name("@user_function")
            .set_environment(self.lib_env.clone())
            .into_function()
            .map_err(|e| match e {
                mlua::Error::SyntaxError { message, .. } => {
                    format!("ERR Error compiling function: {message}")
                }
                other => format!("ERR Error compiling function: {other}"),
            })?;
        let (registered, err): (Option<Table>, Option<String>) =
            self.loader.call(f).map_err(|e| format!("ERR {e}"))?;
        let Some(registered) = registered else {
            let msg = err.unwrap_or_default();
            return Err(format!("ERR Error registering functions: ERR {msg}"));
        };
        let mut out = Vec::new();
        for entry in registered.sequence_values::<Table>() {
            let entry = entry.map_err(|e| format!("ERR {e}"))?;
            let name: String = entry.raw_get("name").map_err(|e| format!("ERR {e}"))?;
            let callback: Function = entry.raw_get("callback").map_err(|e| format!("ERR {e}"))?;
            let description: Option<String> = entry.raw_get("description").unwrap_or(None);
            let flags: Vec<String> = entry
                .raw_get::<Table>("flags")
                .map(|t| {
                    t.sequence_values::<String>()
                        .filter_map(Result::ok)
                        .collect()
                })
                .unwrap_or_default();
            out.push((FunctionMeta::new(name, description, flags), callback));
        }
        if out.is_empty() {
            return Err("ERR No functions registered".into());
        }
        Ok(out)
    }

    /// This core's callback for function `name`, loading the libraries
    /// again when they changed.
    fn function(&self, libs: &Libraries, name: &str) -> Result<Function, String> {
        let generation = libs.generation();
        let mut functions = self.functions.borrow_mut();
        if functions.0 != generation {
            let mut map = AHashMap::new();
            for lib in libs.all() {
                if let Ok(loaded) = self.load_library(&lib.code) {
                    for (meta, cb) in loaded {
                        map.insert(meta.name, cb);
                    }
                }
            }
            *functions = (generation, map);
        }
        functions
            .1
            .get(name)
            .cloned()
            .ok_or_else(|| "ERR Function not found".to_string())
    }
}

/// What a call runs: a script (by its registry entry, for the registry's
/// generation) or a function (by name).
#[derive(Clone)]
pub enum Target {
    Script(Rc<Compiled>),
    Function(String),
}

/// A script compiled on this core.
pub struct Compiled {
    func: Function,
    pub script: Arc<Script>,
}

/// Sets the global named by the string at stack index `name` (KEYS, ARGV)
/// to an array of `items`. The table of
/// the last run is refilled when the script left it as it was given (no
/// metatable, nothing beyond its items): a script cannot keep a reference
/// from one run to the next (its globals are read-only), so this is
/// Redis's fresh table without the garbage. `len` is its last length.
///
/// # Safety
/// `state` is the interpreter's running state, inside a protected call.
unsafe fn set_global_list(
    state: *mut mlua::ffi::lua_State,
    name: std::ffi::c_int,
    items: &[&[u8]],
    len: &std::cell::Cell<usize>,
) {
    use mlua::ffi;
    let push = |state, bytes: &[u8]| {
        ffi::lua_pushlstring(
            state,
            bytes.as_ptr() as *const std::ffi::c_char,
            bytes.len(),
        )
    };
    ffi::lua_checkstack(state, 5);
    ffi::lua_pushvalue(state, name);
    ffi::lua_pushvalue(state, -1);
    ffi::lua_rawget(state, ffi::LUA_GLOBALSINDEX);
    let mut reuse = ffi::lua_type(state, -1) == ffi::LUA_TTABLE;
    if reuse && ffi::lua_getmetatable(state, -1) != 0 {
        ffi::lua_pop(state, 1);
        reuse = false;
    }
    if reuse {
        for (i, item) in items.iter().enumerate() {
            // Scripts are mostly run with the same keys (a queue's): an
            // item equal to the last run's is left in place, unhashed.
            let at = i as std::ffi::c_int + 1;
            ffi::lua_rawgeti(state, -1, at as ffi::lua_Integer);
            let same = ffi::lua_type(state, -1) == ffi::LUA_TSTRING && {
                let mut len = 0usize;
                let old = ffi::lua_tolstring(state, -1, &mut len);
                std::slice::from_raw_parts(old as *const u8, len) == *item
            };
            ffi::lua_pop(state, 1);
            if !same {
                push(state, item);
                ffi::lua_rawseti(state, -2, at as ffi::lua_Integer);
            }
        }
        for i in items.len()..len.get() {
            ffi::lua_pushnil(state);
            ffi::lua_rawseti(state, -2, i as ffi::lua_Integer + 1);
        }
        // Anything after the last item means the script added to it.
        match items.len() {
            0 => ffi::lua_pushnil(state),
            n => ffi::lua_pushinteger(state, n as ffi::lua_Integer),
        }
        if ffi::lua_next(state, -2) != 0 {
            ffi::lua_pop(state, 2);
            reuse = false;
        }
    }
    len.set(items.len());
    if reuse {
        ffi::lua_pop(state, 2);
        return;
    }
    ffi::lua_pop(state, 1);
    ffi::lua_createtable(state, items.len().min(1 << 24) as std::ffi::c_int, 0);
    for (i, item) in items.iter().enumerate() {
        push(state, item);
        ffi::lua_rawseti(state, -2, i as ffi::lua_Integer + 1);
    }
    ffi::lua_rawset(state, ffi::LUA_GLOBALSINDEX);
}

fn sha_text(sha: &Sha) -> &str {
    std::str::from_utf8(sha).unwrap_or("")
}

/// The reply for a failed script: Redis's `<err> script: <sha>, on
/// <source>:<line>.`
fn error_text(value: &Value, label: &str, _source: &str) -> String {
    let Value::Table(t) = value else {
        return "ERR Error running script: execution failure".into();
    };
    let err = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
        _ => "ERR execution failure".into(),
    };
    let source = t.raw_get::<Option<String>>("source").ok().flatten();
    let line = t.raw_get::<Option<i64>>("line").ok().flatten();
    match (source, line) {
        (Some(source), Some(line)) => {
            format!("{err} script: {label}, on {source}:{line}.")
        }
        _ => err,
    }
}

/// An error reply of a command called with `redis.call`, raised in Lua.
#[derive(Debug)]
struct CallError(String);

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CallError {}

/// The reply text of a `redis.call` error, however mlua wrapped it.
fn call_error(e: &mlua::Error) -> Option<&str> {
    match e {
        mlua::Error::CallbackError { cause, .. } => call_error(cause),
        mlua::Error::ExternalError(inner) => {
            inner.downcast_ref::<CallError>().map(|c| c.0.as_str())
        }
        _ => None,
    }
}

/// The message of an error a Rust function raised (`redis.setresp(4)`).
fn runtime_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::CallbackError { cause, .. } => runtime_message(cause),
        mlua::Error::RuntimeError(msg) => msg.clone(),
        other => other.to_string(),
    }
}

/// The `xpcall` handler: any error becomes `{err=..., source=..., line=...}`
/// with the position of the innermost frame of the user's script.
fn error_handler(lua: &Lua, err: Value) -> mlua::Result<Value> {
    let table = match err {
        Value::Table(t) if t.raw_get::<Value>("err").is_ok_and(|v| !v.is_nil()) => t,
        Value::Error(e) => {
            let msg = match call_error(&e) {
                Some(reply) => reply.to_string(),
                None => format!("ERR {}", runtime_message(&e)),
            };
            let t = lua.create_table()?;
            t.raw_set("err", msg)?;
            t
        }
        other => {
            let text = match lua.coerce_string(other.clone())? {
                Some(s) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
                None => format!("{other:?}"),
            };
            let t = lua.create_table()?;
            t.raw_set("err", format!("ERR {text}"))?;
            t
        }
    };
    for level in 1..64 {
        let found = lua.inspect_stack(level, |d| {
            let source = d.source().source.map(|s| s.into_owned());
            (source, d.current_line())
        });
        let Some((source, line)) = found else { break };
        if let Some(src @ ("@user_script" | "@user_function")) = source.as_deref() {
            table.raw_set("source", src)?;
            if let Some(line) = line {
                table.raw_set("line", line)?;
            }
            break;
        }
    }
    Ok(Value::Table(table))
}

/// A script is a client of the executor (Redis's Lua client): its calls
/// run in its transaction, synchronously. A call that needs a shard the
/// transaction lacks gets it in [`Client::using`] (see `script`).
impl Client for CallCtx {
    fn core(&self) -> &Rc<Core> {
        &self.core
    }

    fn db(&self) -> usize {
        self.db
    }

    fn set_db(&mut self, db: usize) {
        self.db = db;
    }

    fn proto(&self) -> Proto {
        self.out.proto
    }

    fn now(&self) -> u64 {
        self.now
    }

    fn out(&mut self) -> &mut Out {
        &mut self.out
    }

    fn txn(&mut self) -> Option<&mut Txn> {
        self.txn.as_mut()
    }

    fn out_and_txn(&mut self) -> (&mut Out, Option<&mut Txn>) {
        (&mut self.out, self.txn.as_mut())
    }

    fn session(&mut self) -> Option<&mut Session> {
        None
    }

    fn defer(&mut self, _: usize, _: ShardFn, _: &[&[u8]]) -> bool {
        false
    }

    fn owes(&self) -> bool {
        false
    }

    fn settle(&mut self) -> Running<'_> {
        Box::pin(std::future::ready(Flow::Continue))
    }

    fn in_order_here(&self, _: usize) -> bool {
        true
    }

    /// A call needs `shards`. Off the declared keys' shards, the script is
    /// marked to hold every shard from its next run on. A shard above all
    /// it holds it waits for right here (ordered, so no deadlock; this
    /// core's mailbox is served meanwhile). A lower one it can only get by
    /// starting over, which it does if it has changed nothing yet;
    /// otherwise the call fails with TRYAGAIN.
    fn using(&mut self, shards: &[usize]) -> Result<(), String> {
        if self.restart {
            return Err(RESTARTING.into());
        }
        for &shard in shards {
            if !self.roamed && !self.declared.contains(&shard) {
                self.roamed = true;
                self.reach.store(super::registry::ROAMS, Ordering::Relaxed);
            }
            let txn = self.txn.as_mut().expect("a script runs in a transaction");
            if txn.holds(shard) {
                continue;
            }
            if txn.highest().is_none_or(|h| h < shard) && !txn.held_here(shard) {
                self.core.block_on(txn.take_first(shard));
                continue;
            }
            if !self.committed {
                self.restart = true;
                return Err(RESTARTING.into());
            }
            return Err(TRYAGAIN.into());
        }
        Ok(())
    }
}

/// What a script's calls get while it is about to start over (nobody sees
/// it: the reply is dropped).
const RESTARTING: &str = "TRYAGAIN the script starts over holding every shard";

/// A script that changed something and then needed a shard it could not
/// wait for.
const TRYAGAIN: &str =
    "TRYAGAIN A key the script needs is held by a transaction in progress; run the script again";
