//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (LOAD, EXISTS, FLUSH,
//! KILL, HELP), with Redis 7.2's replies. How a script runs, and why it is
//! atomic, is in `script` (module doc).

use super::args::{is, Error};
use super::ConnCmd;
use crate::resp::parse::parse_i64;
use crate::resp::Out;
use crate::script::engine::{engine, CallCtx};
use crate::script::registry::{parse_sha, Script, STAYS, UNSEEN};
use crate::server::connection::Session;
use crate::shard::dispatch::{take_result, Core, Work};
use crate::shard::locks::DbKey;
use crate::shard::locks::LockMode;
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
    let home = home_shard(&core, keys);
    let proto = s.proto();
    let db = s.db;
    let plan = if s.tx.exec.is_some() {
        Plan::InExec
    } else {
        plan(s, &script, keys, home)
    };
    match plan {
        Plan::Owner(shard) => {
            // The script runs on the core of its keys, once they are free;
            // that core does nothing else meanwhile, so it is atomic there.
            let locks: Vec<DbKey> = keys.iter().map(|k| (db, (*k).into())).collect();
            let (keys, args): (Vec<Vec<u8>>, Vec<Vec<u8>>) = (
                keys.iter().map(|k| k.to_vec()).collect(),
                args.iter().map(|a| a.to_vec()).collect(),
            );
            let work = Work::closure(locks, LockMode::Plain, move |core: &Core| {
                let ctx = CallCtx {
                    core: core.rc(),
                    txn: None,
                    db,
                    resp3: false,
                    read_only,
                    script,
                    home,
                    roamed: false,
                };
                let mut out = Out::new(proto);
                let key_refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
                let arg_refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                engine().run(ctx, generation, &key_refs, &arg_refs, &mut out);
                out.buf
            });
            let bytes: Vec<u8> = take_result(core.submit(shard, work).await);
            s.out.buf.extend_from_slice(&bytes);
        }
        Plan::InExec | Plan::Everything => {
            let from_exec = plan == Plan::InExec;
            let txn = if from_exec {
                s.tx.exec.take()
            } else {
                let mut txn = Txn::new(&core);
                for shard in 0..core.cores() {
                    txn.lock_shard_and_run(shard, |_| ()).await;
                }
                Some(txn)
            };
            let watch = script.reach() == UNSEEN;
            let ctx = CallCtx {
                core: core.clone(),
                txn,
                db,
                resp3: false,
                read_only,
                script: script.clone(),
                home,
                roamed: false,
            };
            let mut ctx = engine().run(ctx, generation, keys, args, &mut s.out);
            // A first run that stayed on its keys' shard may run there alone
            // from now on.
            if watch && !ctx.roamed && home.is_some() && !from_exec {
                script.set_reach(STAYS);
            }
            if from_exec {
                s.tx.exec = ctx.txn.take();
            }
            // Dropping the context releases every shard it held.
        }
    }
    Ok(())
}

/// Where and how a script runs (see `script`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// On the core owning its keys, alone there, without locks.
    Owner(usize),
    /// Here, with every shard held.
    Everything,
    /// Inside EXEC, whose transaction holds the keys.
    InExec,
}

/// The shard of all the declared keys (this core's when there are none);
/// None when they span shards.
fn home_shard(core: &Core, keys: &[&[u8]]) -> Option<usize> {
    let shards = core.cores();
    let mut it = keys.iter().map(|k| shard_of(k, shards));
    match it.next() {
        None => Some(core.id),
        Some(first) => it.all(|s| s == first).then_some(first),
    }
}

fn plan(s: &Session, script: &Script, keys: &[&[u8]], home: Option<usize>) -> Plan {
    let core = &s.core;
    if core.cores() == 1 {
        // One core: nothing runs beside the script, and no transaction can
        // hold a key across a wait. Runs here (through the owner path).
        return Plan::Owner(core.id);
    }
    match home {
        Some(shard) if script.reach() == STAYS => {
            let _ = keys;
            Plan::Owner(shard)
        }
        _ => Plan::Everything,
    }
}
