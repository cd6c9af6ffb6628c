//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (LOAD, EXISTS, FLUSH,
//! KILL, HELP), with Redis 7.2's replies. How a script runs, and why it is
//! atomic, is in `script` (module doc).

use super::args::{is, truncated, CmdResult, Error};
use super::exec::Client;
use super::session;
use super::spec::decl::*;
use crate::resp::parse::parse_i64;
use std::rc::Rc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use super::spec::ShardSet;
use crate::persist::rdb::dump::{self, FunctionPayloadError};
use crate::persist::rdb::EncodeOptions;
use crate::resp::Out;
use crate::script::busy::Kill;
use crate::script::engine::{engine, CallCtx, Compiled, Target};
use crate::script::functions::{self, Library, RestorePolicy, Restored};
use crate::script::registry::{parse_sha, STAYS, UNSEEN};
use crate::server::connection::Session;
use crate::shard::route::shard_of;
use crate::shard::txn::Txn;

/// The EVAL and SCRIPT commands, as the table names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eval,
    EvalSha,
    EvalRo,
    EvalShaRo,
    ScriptLoad,
    ScriptExists,
    ScriptFlush,
    ScriptKill,
    ScriptHelp,
}

/// The FUNCTION commands and FCALL, as the table names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FnOp {
    Fcall,
    FcallRo,
    Load,
    Delete,
    Flush,
    List,
    Dump,
    Restore,
    Stats,
    Kill,
    Help,
}

// ------------------------------------------------------------- entry points

pub async fn eval(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    run(session(c), Op::Eval, argv).await
}

pub async fn evalsha(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    run(session(c), Op::EvalSha, argv).await
}

pub async fn eval_ro(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    run(session(c), Op::EvalRo, argv).await
}

pub async fn evalsha_ro(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    run(session(c), Op::EvalShaRo, argv).await
}

pub async fn script_load(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    run(session(c), Op::ScriptLoad, argv).await
}

pub async fn script_exists(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    run(session(c), Op::ScriptExists, argv).await
}

pub async fn script_flush(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    run(session(c), Op::ScriptFlush, argv).await
}

pub async fn script_kill(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    run(session(c), Op::ScriptKill, argv).await
}

pub async fn script_help(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    run(session(c), Op::ScriptHelp, argv).await
}

pub async fn fcall_cmd(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    function(session(c), FnOp::Fcall, argv).await
}

pub async fn fcall_ro(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    function(session(c), FnOp::FcallRo, argv).await
}

pub async fn function_load(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    logged_function(c, FnOp::Load, argv).await
}

pub async fn function_delete(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    logged_function(c, FnOp::Delete, argv).await
}

pub async fn function_flush(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    logged_function(c, FnOp::Flush, argv).await
}

pub async fn function_list_cmd(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    function(session(c), FnOp::List, argv).await
}

pub async fn function_dump(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    function(session(c), FnOp::Dump, argv).await
}

pub async fn function_restore(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    logged_function(c, FnOp::Restore, argv).await
}

pub async fn function_stats(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    function(session(c), FnOp::Stats, argv).await
}

pub async fn function_kill(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    function(session(c), FnOp::Kill, argv).await
}

pub async fn function_help(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    function(session(c), FnOp::Help, argv).await
}

pub async fn run(s: &mut Session, cmd: Op, argv: &[&[u8]]) -> Result<(), Error> {
    match cmd {
        Op::Eval => eval_script(s, argv, false, false).await,
        Op::EvalSha => eval_script(s, argv, true, false).await,
        Op::EvalRo => eval_script(s, argv, false, true).await,
        Op::EvalShaRo => eval_script(s, argv, true, true).await,
        Op::ScriptLoad => {
            let registry = &s.core.shared.scripts;
            let script = registry.find_or_make(argv[2]);
            engine()
                .check(&script, registry.generation())
                .map_err(compile_error)?;
            registry.add(&script);
            s.out.bulk(&script.sha);
            Ok(())
        }
        Op::ScriptExists => {
            let registry = &s.core.shared.scripts;
            s.out.array(argv.len() - 2);
            for arg in &argv[2..] {
                let known = parse_sha(arg).is_some_and(|sha| registry.contains(&sha));
                s.out.int(known as i64);
            }
            Ok(())
        }
        Op::ScriptFlush => {
            match argv.get(2) {
                None => {}
                Some(a) if argv.len() == 3 && (is(a, "sync") || is(a, "async")) => {}
                Some(_) => {
                    return Err(Error::msg(
                        "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
                    ))
                }
            }
            s.core.shared.scripts.flush();
            s.out.ok();
            Ok(())
        }
        Op::ScriptKill => kill(s, false),
        Op::ScriptHelp => {
            const LINES: &[&str] = &[
                "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "EXISTS <sha1> [<sha1> ...]",
                "    Return information about the existence of the scripts in the script cache.",
                "FLUSH [ASYNC|SYNC]",
                "    Flush the Lua scripts cache. Very dangerous on replicas.",
                "    When called without the optional mode argument, the behavior is determined by the",
                "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
                "    * ASYNC: Asynchronously flush the scripts cache.",
                "    * SYNC: Synchronously flush the scripts cache.",
                "KILL",
                "    Kill the currently executing Lua script.",
                "LOAD <script>",
                "    Load a script into the scripts cache without executing it.",
                "HELP",
                "    Prints this help.",
            ];
            s.out.help(LINES);
            Ok(())
        }
    }
}

/// SCRIPT KILL / FUNCTION KILL: stops a script running past the BUSY
/// threshold on another core (see `script::busy`).
fn kill(s: &mut Session, function: bool) -> Result<(), Error> {
    let now = crate::shard::now_ms();
    match s.core.shared.busy.kill(s.core.id, now, function) {
        Kill::Killed => {
            s.out.ok();
            Ok(())
        }
        Kill::Unkillable => Err(Error::msg(
            "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
        )),
        Kill::NotBusy | Kill::WrongKind => {
            Err(Error::msg("NOTBUSY No scripts in execution right now."))
        }
    }
}

fn compile_error(msg: String) -> Error {
    Error::msg(format!("ERR Error compiling script (new function): {msg}"))
}

/// Keys and arguments of a script or function call.
type KeysArgs<'b, 'a> = (&'b [&'a [u8]], &'b [&'a [u8]]);

/// Splits `numkeys key... arg...` (the arguments after the script or
/// function name).
fn split_keys<'a, 'b>(argv: &'b [&'a [u8]]) -> Result<KeysArgs<'b, 'a>, Error> {
    let numkeys = parse_i64(argv[2]).ok_or(Error::NOT_INTEGER)?;
    if numkeys < 0 {
        return Err(Error::msg("ERR Number of keys can't be negative"));
    }
    if numkeys as usize > argv.len() - 3 {
        return Err(Error::msg(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    Ok(argv[3..].split_at(numkeys as usize))
}

/// The script EVAL or EVALSHA names, compiled on this core.
fn find_script(s: &Session, argv: &[&[u8]], by_sha: bool) -> Result<Rc<Compiled>, Error> {
    let registry = &s.core.shared.scripts;
    let generation = registry.generation();
    if by_sha {
        let sha = parse_sha(argv[1]);
        // This core's compiled scripts first: no shared lock on the way.
        if let Some(compiled) = sha.and_then(|sha| engine().cached(&sha, generation)) {
            return Ok(compiled);
        }
        let script = sha
            .and_then(|sha| registry.get(&sha))
            .ok_or(Error::msg("NOSCRIPT No matching script. Please use EVAL."))?;
        engine()
            .compiled(&script, generation)
            .map_err(compile_error)
    } else {
        let script = registry.find_or_make(argv[1]);
        let compiled = engine()
            .compiled(&script, generation)
            .map_err(compile_error)?;
        registry.add(&script);
        Ok(compiled)
    }
}

/// EVAL script numkeys [key ...] [arg ...], and its SHA and read-only forms.
async fn eval_script(
    s: &mut Session,
    argv: &[&[u8]],
    by_sha: bool,
    read_only: bool,
) -> Result<(), Error> {
    let (keys, args) = split_keys(argv)?;
    let compiled = find_script(s, argv, by_sha)?;
    let reach = compiled.script.reach.clone();
    call(s, Target::Script(compiled), reach, keys, args, read_only).await;
    Ok(())
}

/// EVAL and its forms at once, when every shard the script needs is here
/// and free (the common case: a script on its client's core's keys); None,
/// having changed nothing, when it must take the longer way ([`call`]).
fn eval_now(s: &mut Session, argv: &[&[u8]], by_sha: bool, read_only: bool) -> Option<CmdResult> {
    if s.tx.exec.is_some() {
        return None;
    }
    let (keys, args) = match split_keys(argv) {
        Ok(found) => found,
        Err(e) => return Some(Err(e)),
    };
    let compiled = match find_script(s, argv, by_sha) {
        Ok(compiled) => compiled,
        Err(e) => return Some(Err(e)),
    };
    let core = s.core.clone();
    let shards = core.cores();
    let declared = declared_shards(keys, shards);
    let reach = compiled.script.reach.clone();
    let seen = reach.load(Ordering::Relaxed);
    let mut txn = Txn::new(&core);
    if !planned_shards(seen, &declared, shards).all(|shard| txn.try_take(shard)) {
        return None;
    }
    let target = Target::Script(compiled);
    match run_once(s, &target, &reach, &declared, keys, args, read_only, txn) {
        (_, false) => {
            learned(&reach, seen);
            Some(Ok(()))
        }
        // It needs more shards: the longer way starts it over.
        (_, true) => None,
    }
}

/// A library from a snapshot, added before the cores start.
/// FUNCTION RESTORE's work: each library is read, checked and compiled (as
/// FUNCTION LOAD does) before the next is read, so a bad payload gets
/// Redis's error; nothing changes until every library is in.
fn restore_libraries(
    libs: &functions::Libraries,
    payload: &[u8],
    policy: RestorePolicy,
) -> Result<(), String> {
    let payload_err = |e: FunctionPayloadError| format!("ERR {e}");
    let mut restored = Restored::default();
    for code in dump::function_codes(payload).map_err(payload_err)? {
        let code = code.map_err(payload_err)?;
        let name = functions::parse_metadata(&code)?;
        restored.check_name(&name)?;
        let loaded = engine().load_library(&code)?;
        restored.add(Library {
            name,
            code,
            functions: loaded.into_iter().map(|(meta, _)| meta).collect(),
        })?;
    }
    libs.restore(restored, policy)
}

/// A FUNCTION command read back from the append-only log.
pub fn replay_function(libs: &functions::Libraries, argv: &[&[u8]]) -> Result<(), String> {
    let sub = argv
        .get(1)
        .map(|s| s.to_ascii_lowercase())
        .unwrap_or_default();
    match (sub.as_slice(), argv.len()) {
        (b"load", 3) => libs.add(compile_library(argv[2])?, false),
        (b"load", 4) if is(argv[2], "replace") => libs.add(compile_library(argv[3])?, true),
        (b"delete", 3) => {
            libs.delete(&String::from_utf8_lossy(argv[2]));
            Ok(())
        }
        (b"flush", 2 | 3) => {
            libs.flush();
            Ok(())
        }
        (b"restore", 3 | 4) => {
            let policy = match argv.get(3) {
                Some(p) if is(p, "replace") => RestorePolicy::Replace,
                Some(p) if is(p, "flush") => RestorePolicy::Flush,
                _ => RestorePolicy::Append,
            };
            restore_libraries(libs, argv[2], policy)
        }
        _ => Err(format!(
            "FUNCTION {} cannot be replayed from the append only file",
            String::from_utf8_lossy(&sub)
        )),
    }
}

/// Runs a FUNCTION command that changes the libraries and, if it did, puts
/// it in the append-only log (shard 0's: libraries belong to no shard).
async fn logged_function(c: &mut dyn Client, op: FnOp, argv: &[&[u8]]) -> CmdResult {
    let before = c.out().buf.len();
    function(session(c), op, argv).await?;
    let core = c.core().clone();
    let wrote = c.out().buf.get(before) != Some(&b'-');
    if wrote && core.shared.aof.enabled() {
        if let Some(log) = core.shared.aof.logs().first() {
            log.append_command(0, argv);
        }
    }
    Ok(())
}

pub fn load_library_at_start(libs: &functions::Libraries, code: &[u8]) -> Result<(), String> {
    libs.add(compile_library(code)?, false)
}

/// A library from its code, its metadata read and its functions compiled,
/// as FUNCTION LOAD does.
fn compile_library(code: &[u8]) -> Result<Library, String> {
    let name = functions::parse_metadata(code)?;
    let loaded = engine().load_library(code)?;
    Ok(Library {
        name,
        code: code.to_vec(),
        functions: loaded.into_iter().map(|(meta, _)| meta).collect(),
    })
}

pub fn eval_at_once(c: &mut dyn Client, argv: &[&[u8]]) -> Option<CmdResult> {
    eval_now(session(c), argv, false, false)
}

pub fn evalsha_at_once(c: &mut dyn Client, argv: &[&[u8]]) -> Option<CmdResult> {
    eval_now(session(c), argv, true, false)
}

pub fn eval_ro_at_once(c: &mut dyn Client, argv: &[&[u8]]) -> Option<CmdResult> {
    eval_now(session(c), argv, false, true)
}

pub fn evalsha_ro_at_once(c: &mut dyn Client, argv: &[&[u8]]) -> Option<CmdResult> {
    eval_now(session(c), argv, true, true)
}

/// The shards a script's run takes first (see `script`): those of its
/// declared keys once it is seen to stay on them (or with one shard),
/// otherwise every shard.
fn planned_shards(
    seen: u8,
    declared: &ShardSet,
    shards: usize,
) -> impl Iterator<Item = usize> + '_ {
    let every = seen != STAYS && shards > 1;
    let declared = if every { &[][..] } else { declared.as_slice() };
    declared
        .iter()
        .copied()
        .chain(0..if every { shards } else { 0 })
}

/// After a first run (not from EXEC) that never left its declared keys'
/// shards, the script is known to stay there.
fn learned(reach: &AtomicU8, seen: u8) {
    if seen == UNSEEN && reach.load(Ordering::Relaxed) != crate::script::registry::ROAMS {
        reach.store(STAYS, Ordering::Relaxed);
    }
}

/// The shards of a script's declared keys, in order.
fn declared_shards(keys: &[&[u8]], shards: usize) -> ShardSet {
    let mut declared: ShardSet = keys.iter().map(|k| shard_of(k, shards)).collect();
    declared.sort_unstable();
    declared.dedup();
    declared
}

/// Runs the script once in `txn`, appending its reply to the client's
/// output. Returns the transaction and whether it must start over with
/// every shard (its output so far then dropped).
#[allow(clippy::too_many_arguments)]
fn run_once(
    s: &mut Session,
    target: &Target,
    reach: &Arc<AtomicU8>,
    declared: &ShardSet,
    keys: &[&[u8]],
    args: &[&[u8]],
    read_only: bool,
    mut txn: Txn,
) -> (Txn, bool) {
    let start = s.out.buf.len();
    txn.now = Some(s.now);
    let ctx = CallCtx {
        core: s.core.clone(),
        txn: Some(txn),
        db: s.db,
        resp3: false,
        read_only,
        reach: reach.clone(),
        declared: declared.clone(),
        roamed: false,
        committed: false,
        restart: false,
        function: matches!(target, Target::Function(_)),
        out: Out::new(s.proto()),
        now: s.now,
    };
    let mut ctx = engine().run(ctx, target, keys, args, &mut s.out);
    let txn = ctx.txn.take().expect("the script's transaction");
    if ctx.restart {
        s.out.buf.truncate(start);
    }
    (txn, ctx.restart)
}

/// FCALL / FCALL_RO function numkeys [key ...] [arg ...]
async fn fcall(s: &mut Session, argv: &[&[u8]], fcall_ro: bool) -> Result<(), Error> {
    let (keys, args) = split_keys(argv)?;
    let name = String::from_utf8_lossy(argv[1]).into_owned();
    let (lib, i) = s
        .core
        .shared
        .functions
        .function(&name)
        .ok_or(Error::msg("ERR Function not found"))?;
    let meta = &lib.functions[i];
    if fcall_ro && !meta.no_writes() {
        return Err(Error::msg(
            "ERR Can not execute a script with write flag using *_ro command.",
        ));
    }
    let read_only = fcall_ro || meta.no_writes();
    let reach = meta.reach.clone();
    call(s, Target::Function(name), reach, keys, args, read_only).await;
    Ok(())
}

/// Runs a script or function in a transaction that holds the shards its
/// plan names (see `script`), waiting for them as needed.
async fn call(
    s: &mut Session,
    target: Target,
    reach: Arc<AtomicU8>,
    keys: &[&[u8]],
    args: &[&[u8]],
    read_only: bool,
) {
    let core = s.core.clone();
    let shards = core.cores();
    let declared = declared_shards(keys, shards);
    let from_exec = s.tx.exec.is_some();
    let seen = reach.load(Ordering::Relaxed);
    let mut txn = match s.tx.exec.take() {
        // EXEC holds every shard for a script (it is keyspace-wide there).
        Some(txn) => txn,
        None => {
            let mut txn = Txn::new(&core);
            txn.take_all(planned_shards(seen, &declared, shards)).await;
            txn
        }
    };
    loop {
        let (held, restart) = run_once(s, &target, &reach, &declared, keys, args, read_only, txn);
        txn = held;
        if !restart {
            break;
        }
        // It needed a shard below those it held before it changed
        // anything: run it again from the start, holding every shard.
        drop(txn);
        txn = Txn::new(&core);
        txn.take_all(0..shards).await;
    }
    if !from_exec {
        learned(&reach, seen);
    }
    if from_exec {
        s.tx.exec = Some(txn);
    }
    // Otherwise dropping the transaction releases its shards.
}

// ------------------------------------------------------------------ FUNCTION

pub async fn function(s: &mut Session, cmd: FnOp, argv: &[&[u8]]) -> Result<(), Error> {
    let core = s.core.clone();
    let libs = &core.shared.functions;
    match cmd {
        FnOp::Fcall => fcall(s, argv, false).await?,
        FnOp::FcallRo => fcall(s, argv, true).await?,
        FnOp::Load => {
            let mut replace = false;
            let mut i = 2;
            while i < argv.len() - 1 {
                if is(argv[i], "replace") {
                    replace = true;
                } else {
                    return Err(Error::msg(format!(
                        "ERR Unknown option given: {}",
                        String::from_utf8_lossy(argv[i])
                    )));
                }
                i += 1;
            }
            let code = argv[argv.len() - 1];
            let lib = compile_library(code).map_err(Error::msg)?;
            let name = lib.name.clone();
            libs.add(lib, replace).map_err(Error::msg)?;
            s.out.bulk(name.as_bytes());
        }
        FnOp::Delete => {
            let name = String::from_utf8_lossy(argv[2]);
            if !libs.delete(&name) {
                return Err(Error::msg("ERR Library not found"));
            }
            s.out.ok();
        }
        FnOp::Flush => {
            flush_mode(argv)?;
            libs.flush();
            s.out.ok();
        }
        FnOp::List => function_list(s, argv)?,
        FnOp::Dump => {
            // Redis 7.0's payload (RDB 10, which 7.2 restores too), libraries
            // by name, codes compressed as `rdbcompression` says.
            let opts = EncodeOptions {
                compression: core.shared.limits.rdb_compression.load(Ordering::Relaxed),
                ..EncodeOptions::default()
            };
            let all = libs.all();
            let payload = dump::function_payload(all.iter().map(|l| &l.code[..]), &opts)
                .expect("the default options are valid");
            s.out.bulk(&payload);
        }
        FnOp::Restore => {
            if argv.len() > 4 {
                return Err(Error::msg(format!(
                    "ERR unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
                    truncated(argv[1], 128)
                )));
            }
            let policy = match argv.get(3) {
                None => RestorePolicy::Append,
                Some(p) if is(p, "append") => RestorePolicy::Append,
                Some(p) if is(p, "replace") => RestorePolicy::Replace,
                Some(p) if is(p, "flush") => RestorePolicy::Flush,
                Some(_) => {
                    return Err(Error::msg(
                        "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
                    ))
                }
            };
            restore_libraries(libs, argv[2], policy).map_err(Error::msg)?;
            s.out.ok();
        }
        FnOp::Stats => {
            let all = libs.all();
            s.out.map(2);
            s.out.bulk(b"running_script");
            s.out.null();
            s.out.bulk(b"engines");
            s.out.map(1);
            s.out.bulk(b"LUA");
            s.out.map(2);
            s.out.bulk(b"libraries_count");
            s.out.int(all.len() as i64);
            s.out.bulk(b"functions_count");
            s.out
                .int(all.iter().map(|l| l.functions.len()).sum::<usize>() as i64);
        }
        FnOp::Kill => kill(s, true)?,
        FnOp::Help => {
            const LINES: &[&str] = &[
                "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "LOAD [REPLACE] <FUNCTION CODE>",
                "    Create a new library with the given library name and code.",
                "DELETE <LIBRARY NAME>",
                "    Delete the given library.",
                "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
                "    Return general information on all the libraries:",
                "    * Library name",
                "    * The engine used to run the Library",
                "    * Library description",
                "    * Functions list",
                "    * Library code (if WITHCODE is given)",
                "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
                "STATS",
                "    Return information about the current function running:",
                "    * Function name",
                "    * Command used to run the function",
                "    * Duration in MS that the function is running",
                "    If no function is running, return nil",
                "    In addition, returns a list of available engines.",
                "KILL",
                "    Kill the current running function.",
                "FLUSH [ASYNC|SYNC]",
                "    Delete all the libraries.",
                "    When called without the optional mode argument, the behavior is determined by the",
                "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
                "    * ASYNC: Asynchronously flush the libraries.",
                "    * SYNC: Synchronously flush the libraries.",
                "DUMP",
                "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
                "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
                "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
                "    control how to handle existing libraries (default APPEND):",
                "    * FLUSH: delete all existing libraries.",
                "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
                "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
                "      libraries with the new libraries (notice that even on this option there is a chance of failure",
                "      in case of functions name collision with another library).",
                "HELP",
                "    Prints this help.",
            ];
            s.out.help(LINES);
        }
    }
    Ok(())
}

fn flush_mode(argv: &[&[u8]]) -> Result<(), Error> {
    match argv.get(2) {
        None => Ok(()),
        Some(a) if argv.len() == 3 && (is(a, "sync") || is(a, "async")) => Ok(()),
        Some(_) => Err(Error::msg(
            "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
        )),
    }
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]
fn function_list(s: &mut Session, argv: &[&[u8]]) -> Result<(), Error> {
    let mut pattern: Option<&[u8]> = None;
    let mut with_code = false;
    let mut i = 2;
    while i < argv.len() {
        if is(argv[i], "withcode") {
            with_code = true;
        } else if is(argv[i], "libraryname") && i + 1 < argv.len() {
            pattern = Some(argv[i + 1]);
            i += 1;
        } else {
            return Err(Error::msg(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(argv[i])
            )));
        }
        i += 1;
    }
    let libs: Vec<_> = s
        .core
        .shared
        .functions
        .all()
        .into_iter()
        .filter(|l| pattern.is_none_or(|p| crate::glob::matches(p, l.name.as_bytes(), false)))
        .collect();
    let out = &mut s.out;
    out.array(libs.len());
    for lib in libs {
        out.map(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(lib.name.as_bytes());
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        out.array(lib.functions.len());
        for f in &lib.functions {
            out.map(3);
            out.bulk(b"name");
            out.bulk(f.name.as_bytes());
            out.bulk(b"description");
            out.bulk_opt(f.description.as_deref().map(str::as_bytes));
            out.bulk(b"flags");
            out.set(f.flags.len());
            f.flags.iter().for_each(|fl| out.simple(fl));
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&lib.code);
        }
    }
    Ok(())
}

// ------------------------------------------------------------ commands

#[rustfmt::skip]
static SCRIPT_SUBS: &[CommandSpec] = &[
    spec(
    "script|load",
    3,
    &["noscript", "stale"],
    NO_KEYS,
    "scripting",
    "Loads a server-side Lua script to the script cache.",
    crate::awaits!(script_load),
    "script",
    ),
    spec(
    "script|exists",
    -3,
    &["noscript"],
    NO_KEYS,
    "scripting",
    "Determines whether server-side Lua scripts exist in the script cache.",
    crate::awaits!(script_exists),
    "sha1 [sha1 ...]",
    ),
    spec(
    "script|flush",
    -2,
    &["noscript"],
    NO_KEYS,
    "scripting",
    "Removes all server-side Lua scripts from the script cache.",
    crate::awaits!(script_flush),
    "[ASYNC | SYNC]",
    ),
    spec(
    "script|kill",
    2,
    &["noscript", "allow_busy"],
    NO_KEYS,
    "scripting",
    "Terminates a server-side Lua script during execution.",
    crate::awaits!(script_kill),
    "",
    ),
    spec(
    "script|help",
    2,
    &["loading", "stale"],
    NO_KEYS,
    "scripting",
    "Returns helpful text about the different subcommands.",
    crate::awaits!(script_help),
    "",
    ),
];

#[rustfmt::skip]
static FUNCTION_SUBS: &[CommandSpec] = &[
    spec(
    "function|load",
    -3,
    &["write", "denyoom", "noscript"],
    NO_KEYS,
    "scripting",
    "Creates a library.",
    crate::awaits!(function_load),
    "[REPLACE] function-code",
    ),
    spec(
    "function|delete",
    3,
    &["write", "noscript"],
    NO_KEYS,
    "scripting",
    "Deletes a library and its functions.",
    crate::awaits!(function_delete),
    "library-name",
    ),
    spec(
    "function|flush",
    -2,
    &["write", "noscript"],
    NO_KEYS,
    "scripting",
    "Deletes all libraries and functions.",
    crate::awaits!(function_flush),
    "[ASYNC | SYNC]",
    ),
    spec(
    "function|list",
    -2,
    &["noscript"],
    NO_KEYS,
    "scripting",
    "Returns information about all libraries.",
    crate::awaits!(function_list_cmd),
    "[LIBRARYNAME library-name-pattern] [WITHCODE]",
    ),
    spec(
    "function|dump",
    2,
    &["noscript"],
    NO_KEYS,
    "scripting",
    "Dumps all libraries into a serialized binary payload.",
    crate::awaits!(function_dump),
    "",
    ),
    spec(
    "function|restore",
    -3,
    &["write", "denyoom", "noscript"],
    NO_KEYS,
    "scripting",
    "Restores all libraries from a payload.",
    crate::awaits!(function_restore),
    "serialized-value [FLUSH | APPEND | REPLACE]",
    ),
    spec(
    "function|stats",
    2,
    &["noscript", "allow_busy"],
    NO_KEYS,
    "scripting",
    "Returns information about a function during execution.",
    crate::awaits!(function_stats),
    "",
    ),
    spec(
    "function|kill",
    2,
    &["noscript", "allow_busy"],
    NO_KEYS,
    "scripting",
    "Terminates a function during execution.",
    crate::awaits!(function_kill),
    "",
    ),
    spec(
    "function|help",
    2,
    &["loading", "stale"],
    NO_KEYS,
    "scripting",
    "Returns helpful text about the different subcommands.",
    crate::awaits!(function_help),
    "",
    ),
];

const EVAL_FLAGS: &[&str] = &[
    "noscript",
    "stale",
    "skip_monitor",
    "may_replicate",
    "no_mandatory_keys",
    "movablekeys",
];
const EVAL_RO_FLAGS: &[&str] = &[
    "readonly",
    "noscript",
    "stale",
    "skip_monitor",
    "no_mandatory_keys",
    "movablekeys",
];

/// The scripting commands, as the command table lists them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("eval", -3, EVAL_FLAGS, NUMKEYS2, "scripting", "Executes a server-side Lua script.", crate::anywhere!(eval, eval_at_once),
        "script numkeys [key [key ...]] [arg [arg ...]]"),
    spec("evalsha", -3, EVAL_FLAGS, NUMKEYS2, "scripting", "Executes a server-side Lua script by SHA1 digest.",
        crate::anywhere!(evalsha, evalsha_at_once), "sha1 numkeys [key [key ...]] [arg [arg ...]]"),
    spec("eval_ro", -3, EVAL_RO_FLAGS, NUMKEYS2, "scripting", "Executes a read-only server-side Lua script.",
        crate::anywhere!(eval_ro, eval_ro_at_once), "script numkeys [key [key ...]] [arg [arg ...]]"),
    spec("evalsha_ro", -3, EVAL_RO_FLAGS, NUMKEYS2, "scripting", "Executes a read-only server-side Lua script by SHA1 digest.",
        crate::anywhere!(evalsha_ro, evalsha_ro_at_once), "sha1 numkeys [key [key ...]] [arg [arg ...]]"),
    container("script", "scripting", "A container for Lua scripts management commands.", SCRIPT_SUBS),
    spec("fcall", -3, EVAL_FLAGS, NUMKEYS2, "scripting", "Invokes a function.", crate::anywhere!(fcall_cmd),
        "function numkeys [key [key ...]] [arg [arg ...]]"),
    spec("fcall_ro", -3, EVAL_RO_FLAGS, NUMKEYS2, "scripting", "Invokes a read-only function.", crate::anywhere!(fcall_ro),
        "function numkeys [key [key ...]] [arg [arg ...]]"),
    container("function", "scripting", "A container for function commands.", FUNCTION_SUBS),
];
