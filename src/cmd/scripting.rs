//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (LOAD, EXISTS, FLUSH,
//! KILL, HELP), with Redis 7.2's replies. How a script runs, and why it is
//! atomic, is in `script` (module doc).

use super::args::{is, Error};
use super::ConnCmd;
use crate::resp::parse::parse_i64;
use crate::script::engine::{engine, CallCtx};
use crate::script::registry::parse_sha;
use crate::server::connection::Session;
use crate::shard::locks::DbKey;
use crate::shard::route::shard_of;
use crate::shard::txn::Txn;

pub async fn run(s: &mut Session, cmd: ConnCmd, argv: &[&[u8]]) -> Result<(), Error> {
    match cmd {
        ConnCmd::Eval => eval(s, argv, false, false).await,
        ConnCmd::EvalSha => eval(s, argv, true, false).await,
        ConnCmd::EvalRo => eval(s, argv, false, true).await,
        ConnCmd::EvalShaRo => eval(s, argv, true, true).await,
        ConnCmd::ScriptLoad => {
            let registry = &s.core.shared.scripts;
            let script = registry.find_or_make(argv[2]);
            engine()
                .check(&script, registry.generation())
                .map_err(compile_error)?;
            registry.add(&script);
            s.out.bulk(&script.sha);
            Ok(())
        }
        ConnCmd::ScriptExists => {
            let registry = &s.core.shared.scripts;
            s.out.array(argv.len() - 2);
            for arg in &argv[2..] {
                let known = parse_sha(arg).is_some_and(|sha| registry.contains(&sha));
                s.out.int(known as i64);
            }
            Ok(())
        }
        ConnCmd::ScriptFlush => {
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
        // A script runs to its end on its core without yielding (see
        // `script`), so no script is ever running while a command is served.
        ConnCmd::ScriptKill => Err(Error::msg("NOTBUSY No scripts in execution right now.")),
        ConnCmd::ScriptHelp => {
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
            s.out.array(LINES.len());
            LINES.iter().for_each(|l| s.out.simple(l));
            Ok(())
        }
        _ => unreachable!("not a scripting command: {cmd:?}"),
    }
}

fn compile_error(msg: String) -> Error {
    Error::msg(format!("ERR Error compiling script (new function): {msg}"))
}

/// EVAL script numkeys [key ...] [arg ...], and its SHA and read-only forms.
async fn eval(s: &mut Session, argv: &[&[u8]], by_sha: bool, read_only: bool) -> Result<(), Error> {
    let numkeys = parse_i64(argv[2]).ok_or(Error::NOT_INTEGER)?;
    if numkeys < 0 {
        return Err(Error::msg("ERR Number of keys can't be negative"));
    }
    if numkeys as usize > argv.len() - 3 {
        return Err(Error::msg(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let (keys, args) = argv[3..].split_at(numkeys as usize);
    let core = s.core.clone();
    let registry = &core.shared.scripts;
    let generation = registry.generation();
    let script = if by_sha {
        parse_sha(argv[1])
            .and_then(|sha| registry.get(&sha))
            .ok_or(Error::msg("NOSCRIPT No matching script. Please use EVAL."))?
    } else {
        let script = registry.find_or_make(argv[1]);
        engine().check(&script, generation).map_err(compile_error)?;
        registry.add(&script);
        script
    };
    // Inside EXEC the transaction already holds the keys; otherwise take
    // every shard unless the script can stay on this core (see `script`).
    let from_exec = s.tx.exec.is_some();
    let txn = if from_exec {
        s.tx.exec.take()
    } else if needs_every_shard(s, &script, keys) {
        let mut txn = Txn::new(&core);
        for shard in 0..core.cores() {
            txn.lock_shard_and_run(shard, |_| ()).await;
        }
        Some(txn)
    } else {
        None
    };
    let ctx = CallCtx {
        core: core.clone(),
        txn,
        db: s.db,
        resp3: false,
        read_only,
        script,
    };
    let mut ctx = engine().run(ctx, generation, keys, args, &mut s.out);
    if from_exec {
        s.tx.exec = ctx.txn.take();
    }
    // Dropping the context releases every shard it held.
    Ok(())
}

/// Whether a script must hold every shard: it declares a key of another
/// core, it was seen reaching another core before, or one of its keys is
/// locked by a transaction right now (waiting for it would break atomicity).
fn needs_every_shard(
    s: &Session,
    script: &crate::script::registry::Script,
    keys: &[&[u8]],
) -> bool {
    let core = &s.core;
    let shards = core.cores();
    if script
        .reaches_other_cores
        .load(std::sync::atomic::Ordering::Relaxed)
        || keys.iter().any(|k| shard_of(k, shards) != core.id)
    {
        return true;
    }
    let shard = core.shard.borrow();
    if shard.locks.is_idle() {
        return false;
    }
    let locks: Vec<DbKey> = keys.iter().map(|k| (s.db, (*k).into())).collect();
    !shard.locks.keys_free(&locks)
}
