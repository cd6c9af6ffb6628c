//! `redis.call` and `redis.pcall`: C functions working on the Lua stack.
//!
//! A script's calls are its hot path (a BullMQ job runs dozens), so they
//! skip the binding layer: the arguments are read where they lie on the
//! stack (a string argument is borrowed, not copied; the stack keeps it
//! alive for the whole call), the command runs through the one executor
//! (`cmd::exec::call`) with the script as its client, and its reply is
//! pushed straight from the reply bytes (`convert::push_reply`).
//!
//! A failed `redis.call` raises `{err = <reply text>}`, as Redis 7 does;
//! `redis.pcall` returns it. The raise (a `longjmp`) happens only after
//! every Rust value of the call has been dropped.

use std::cell::RefCell;
use std::ffi::{c_char, c_int};

use mlua::ffi;
use smallvec::SmallVec;

use super::convert::{number_text, push_reply, reply_error};
use super::engine::CallCtx;
use crate::cmd::exec;
use crate::cmd::table::{self, CommandSpec};
use crate::resp::Proto;

/// What a running script's calls share with the engine: the call context,
/// present while a script runs.
pub type Current = RefCell<Option<CallCtx>>;

/// `redis.call`. Its one upvalue is a light userdata pointing at the
/// engine's [`Current`], which lives as long as the interpreter.
///
/// # Safety
/// Called by Lua only, as a C closure made with that upvalue.
pub unsafe extern "C-unwind" fn call(state: *mut ffi::lua_State) -> c_int {
    call_or_pcall(state, true)
}

/// `redis.pcall`: as `redis.call`, but an error reply is returned.
///
/// # Safety
/// As [`call`].
pub unsafe extern "C-unwind" fn pcall(state: *mut ffi::lua_State) -> c_int {
    call_or_pcall(state, false)
}

unsafe fn call_or_pcall(state: *mut ffi::lua_State, raise: bool) -> c_int {
    let current = ffi::lua_touserdata(state, ffi::lua_upvalueindex(1)) as *const Current;
    // Every Rust value lives inside this call: none is left to drop when
    // the error is raised below.
    let failed =
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(state, &*current))) {
            Ok(failed) => failed,
            Err(_) => {
                push_error(state, b"ERR internal error running the command");
                true
            }
        };
    if failed && raise {
        ffi::lua_error(state);
    }
    1
}

/// Runs the call; pushes its reply, or `{err = ...}` and returns true.
unsafe fn run(state: *mut ffi::lua_State, current: &Current) -> bool {
    let Ok(mut guard) = current.try_borrow_mut() else {
        push_error(
            state,
            b"ERR redis.call is only available while a script runs",
        );
        return true;
    };
    let Some(ctx) = guard.as_mut() else {
        push_error(
            state,
            b"ERR redis.call is only available while a script runs",
        );
        return true;
    };
    let n = ffi::lua_gettop(state);
    if n == 0 {
        push_error(
            state,
            b"ERR Please specify at least one argument for this redis lib call",
        );
        return true;
    }
    // Numbers are written out as Redis writes them; strings are borrowed
    // from the stack, which holds them until this function returns.
    let mut numbers: SmallVec<[(c_int, Vec<u8>); 2]> = SmallVec::new();
    for i in 1..=n {
        match ffi::lua_type(state, i) {
            ffi::LUA_TSTRING => {}
            ffi::LUA_TNUMBER => numbers.push((i, number_arg(ffi::lua_tonumber(state, i)))),
            _ => {
                push_error(
                    state,
                    b"ERR Lua redis lib command arguments must be strings or integers",
                );
                return true;
            }
        }
    }
    let mut argv: SmallVec<[&[u8]; 8]> = SmallVec::with_capacity(n as usize);
    let mut next_number = numbers.iter();
    for i in 1..=n {
        if ffi::lua_type(state, i) == ffi::LUA_TSTRING {
            let mut len = 0usize;
            let ptr = ffi::lua_tolstring(state, i, &mut len);
            argv.push(std::slice::from_raw_parts(ptr as *const u8, len));
        } else {
            argv.push(&next_number.next().expect("a number argument").1);
        }
    }
    if let Err(msg) = run_command(ctx, &argv) {
        push_error(state, msg.as_bytes());
        return true;
    }
    match reply_error(&ctx.out.buf) {
        Some(text) => {
            push_error(state, text);
            true
        }
        None => {
            push_reply(state, &ctx.out.buf, ctx.resp3);
            false
        }
    }
}

/// A number argument as Redis writes it: integral values as integers.
fn number_arg(n: f64) -> Vec<u8> {
    match num_integer(n) {
        Some(i) => itoa::Buffer::new().format(i).as_bytes().to_vec(),
        None => number_text(n),
    }
}

/// `n` as an i64 when it is exactly one (not -0.0).
fn num_integer(n: f64) -> Option<i64> {
    let i = n as i64;
    ((i as f64).to_bits() == n.to_bits()).then_some(i)
}

/// Pushes `{err = text}`.
unsafe fn push_error(state: *mut ffi::lua_State, text: &[u8]) {
    ffi::lua_checkstack(state, 3);
    ffi::lua_createtable(state, 0, 1);
    ffi::lua_pushlstring(state, b"err".as_ptr() as *const c_char, 3);
    ffi::lua_pushlstring(state, text.as_ptr() as *const c_char, text.len());
    ffi::lua_rawset(state, -3);
}

/// Runs one command for the script through the one executor; its reply is
/// left in `ctx.out`. Err: the call was refused before it ran.
fn run_command(ctx: &mut CallCtx, argv: &[&[u8]]) -> Result<(), &'static str> {
    let spec = resolve(argv)?;
    let flags = spec.script_flags();
    if flags.noscript {
        return Err("ERR This Redis command is not allowed from script");
    }
    if ctx.read_only && (flags.write || flags.may_replicate) {
        return Err("ERR Write commands are not allowed from read-only scripts.");
    }
    if flags.write {
        ctx.core.shared.busy.wrote(ctx.core.id);
    }
    if !ctx.restart && (flags.write || flags.pubsub) {
        ctx.committed = true;
    }
    ctx.out.buf.clear();
    ctx.out.proto = if ctx.resp3 {
        Proto::Resp3
    } else {
        Proto::Resp2
    };
    // A command on the shards the script holds completes at once; one that
    // must wait (for a shard it takes) waits right here, handling this
    // core's mailbox meanwhile.
    if exec::call_now(ctx, spec, argv).is_none() {
        let core = ctx.core.clone();
        core.block_on(exec::call(ctx, spec, argv));
    }
    Ok(())
}

/// The command of `argv` as a script may call it.
fn resolve(argv: &[&[u8]]) -> Result<&'static CommandSpec, &'static str> {
    const UNKNOWN: &str = "ERR Unknown Redis command called from script";
    const ARITY: &str = "ERR Wrong number of args calling Redis command from script";
    let spec = table::lookup(argv[0]).ok_or(UNKNOWN)?;
    if !spec.arity_ok(argv.len()) {
        return Err(ARITY);
    }
    if spec.subcommands.is_empty() {
        return Ok(spec);
    }
    let sub = spec.subcommand(argv[1]).ok_or(UNKNOWN)?;
    if !sub.arity_ok(argv.len()) {
        return Err(ARITY);
    }
    Ok(sub)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_numbers_are_integers() {
        assert_eq!(number_arg(3.0), b"3");
        assert_eq!(number_arg(-7.0), b"-7");
        assert_eq!(number_arg(1.5), b"1.5");
        assert_eq!(num_integer(-0.0), None);
    }
}
