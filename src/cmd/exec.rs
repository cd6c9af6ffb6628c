//! The one place a command runs: [`call`]. A connection's requests, the
//! commands EXEC runs from its queue, and a script's or function's
//! `redis.call` all go through it (as every command in Redis goes through
//! `call()`), so whatever must see every command hooks in here once.
//!
//! `call` routes by the command's declared keys (`spec`) and its form
//! (`Exec`):
//! - a one-shard command runs inside the caller's transaction when it holds
//!   the shard (EXEC, a script holding every shard); otherwise in place, when
//!   its keys are this core's and no transaction holds them; otherwise where
//!   the caller says ([`Client::defer`]: a connection batches it for that
//!   core), or on a hop to that core;
//! - a command whose keys span shards runs its cross-shard form as one
//!   transaction (`cross`), the caller's own if it has one;
//! - a client command runs on the caller's core with the caller.
//!
//! A command's effect on the keyspace is known where it happens: on the
//! shard, through `Ctx::wrote` and the shard's effect sinks (`shard::effects`:
//! the append-only log, keyspace notifications, replication). What concerns
//! the command as a whole is known here: the command counter today; MONITOR,
//! command statistics, SLOWLOG and ACL checks hook in at the marked places.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use smallvec::SmallVec;

use super::spec::{CommandSpec, KeyPositions, KeyShards};
use super::{cross, run_shard, Ctx, Exec, ShardFn};
use crate::resp::{Out, Proto};
use crate::server::connection::{Flow, Session};
use crate::shard::dispatch::Core;
use crate::shard::locks::LockMode;
use crate::shard::route::shard_of;
use crate::shard::txn::Txn;

/// A boxed future of a client command (see [`ClientFn`]).
pub type Running<'a> = Pin<Box<dyn Future<Output = Flow> + 'a>>;

/// Who a command runs for: a connection (its `Session`) or a script's calls
/// (Redis's Lua client). What a command needs of its caller, and how the
/// caller wants the things that differ between them done.
pub trait Client {
    fn core(&self) -> &Rc<Core>;

    fn db(&self) -> usize;

    /// SELECT.
    fn set_db(&mut self, db: usize);

    fn proto(&self) -> Proto;

    /// The clock reading commands see (Unix ms): taken once per read for a
    /// connection, once per run for a script, like Redis's command time.
    fn now(&self) -> u64;

    fn out(&mut self) -> &mut Out;

    /// The transaction the command runs in (EXEC's, or a script's holding
    /// every shard): it holds the command's keys already, and nothing
    /// blocks inside it.
    fn txn(&mut self) -> Option<&mut Txn>;

    /// The output and the transaction at once.
    fn out_and_txn(&mut self) -> (&mut Out, Option<&mut Txn>);

    /// The connection, for the commands about it (None for a script, which
    /// may not call them: they are `noscript`).
    fn session(&mut self) -> Option<&mut Session>;

    /// Whether the command may wait for another transaction's locks. A
    /// script may not: nothing else runs on its core while it waits, and
    /// the lock's holder may need that core (see `script`).
    fn may_wait(&self) -> bool;

    /// Takes a one-shard command that cannot run in place now, to run on
    /// core `target` later with its reply owed (a connection batches it);
    /// false when the caller wants it run now, on a hop.
    fn defer(&mut self, target: usize, f: ShardFn, argv: &[&[u8]], keys: &KeyPositions) -> bool;

    /// Whether replies other cores owe it are still outstanding, and the
    /// future that collects them, for a command that must come after them.
    fn owes(&self) -> bool;
    fn settle(&mut self) -> Running<'_>;

    /// Whether a one-shard command on this core may run in place as far as
    /// the caller's own earlier commands go (not behind its deferred ones).
    fn in_order_here(&self) -> bool;

    /// A command with keys is about to run on `shard` (None: on several).
    /// A script learns from it whether it stays on its home shard.
    fn touched(&mut self, _shard: Option<usize>) {}
}

/// What a script's command answers when it would have to wait for a lock.
pub const KEY_BUSY: &str =
    "TRYAGAIN A key the script needs is held by a transaction in progress; run the script again";

/// Runs `spec` with `argv` for `c`, writing its reply to `c.out()`.
pub async fn call(c: &mut dyn Client, spec: &'static CommandSpec, argv: &[&[u8]]) -> Flow {
    if let Some(flow) = call_now(c, spec, argv) {
        return flow;
    }
    // It may wait: it is seen holding its arguments meanwhile.
    if let Some(s) = c.session() {
        s.note_argv(argv);
    }
    // Hook: ACL checks, MONITOR and the start of command statistics go here
    // (and in `call_now`).
    let flow = match spec.exec {
        Exec::Shard(f) => {
            one_shard(c, spec, f, argv).await;
            Flow::Continue
        }
        Exec::Multi(f, across) => {
            let shards = c.core().cores();
            if shards == 1 || spec.shards_of_keys(argv, shards) != KeyShards::Several {
                one_shard(c, spec, f, argv).await;
            } else {
                spanning(c, across, argv).await;
            }
            Flow::Continue
        }
        Exec::Now(f) | Exec::Local(f) => {
            if c.owes() {
                c.settle().await;
            }
            local(c, f, argv)
        }
        Exec::Client(f) => {
            if c.owes() {
                c.settle().await;
            }
            if !c.may_wait() && !keys_here(c, spec, argv) {
                c.out().error(KEY_BUSY);
                Flow::Continue
            } else {
                f(c, argv).await
            }
        }
        Exec::Unordered(f) => f(c, argv).await,
        Exec::Container => unreachable!("a container resolves to a subcommand"),
    };
    counted(c, flow)
}

/// The part of [`call`] that completes at once, without awaiting anything:
/// a one-shard command on this core's free keys, or a client command that
/// needs no owed replies. None when the command must take the longer way
/// (a script calls this first and waits only for what it cannot do now).
pub fn call_now(c: &mut dyn Client, spec: &'static CommandSpec, argv: &[&[u8]]) -> Option<Flow> {
    let done = match spec.exec {
        Exec::Shard(f) => in_place(c, spec, f, argv),
        Exec::Multi(f, _) => {
            let shards = c.core().cores();
            (shards == 1 || spec.shards_of_keys(argv, shards) != KeyShards::Several)
                && in_place(c, spec, f, argv)
        }
        Exec::Now(f) => {
            local(c, f, argv);
            true
        }
        Exec::Local(f) if !c.owes() => {
            local(c, f, argv);
            true
        }
        _ => false,
    };
    done.then(|| counted(c, Flow::Continue))
}

fn counted(c: &mut dyn Client, flow: Flow) -> Flow {
    // Counted after running, as Redis does: INFO does not count itself.
    c.core().clients.borrow_mut().counters.commands += 1;
    // Hook: command statistics, SLOWLOG and latency tracking go here.
    flow
}

/// A client command's end: its error, if it failed, written as its reply.
pub fn finish(c: &mut dyn Client, result: super::CmdResult) -> Flow {
    if let Err(e) = result {
        c.out().error(&e.0);
    }
    Flow::Continue
}

fn local(c: &mut dyn Client, f: super::LocalFn, argv: &[&[u8]]) -> Flow {
    if let Err(e) = f(c, argv) {
        c.out().error(&e.0);
    }
    Flow::Continue
}

/// A client command with keys, for a caller that may not wait: allowed
/// only inside its transaction or on this core's free keys.
fn keys_here(c: &mut dyn Client, spec: &CommandSpec, argv: &[&[u8]]) -> bool {
    let keys = spec.keys_of(argv);
    if keys.is_empty() {
        return true;
    }
    let core = c.core().clone();
    let first = shard_of(keys[0], core.cores());
    let single = keys.iter().all(|k| shard_of(k, core.cores()) == first);
    c.touched(single.then_some(first));
    if c.txn().is_some() {
        return true;
    }
    let here = keys.iter().all(|k| shard_of(k, core.cores()) == core.id);
    here && core.shard.borrow().locks.admits_plain(c.db(), &keys)
}

/// A command whose keys span shards: its cross-shard form, in the caller's
/// transaction or its own.
async fn spanning(c: &mut dyn Client, across: cross::CrossFn, argv: &[&[u8]]) {
    if c.owes() {
        c.settle().await;
    }
    c.touched(None);
    let core = c.core().clone();
    let db = c.db();
    if !c.may_wait() && c.txn().is_none() {
        // It would have to wait for the keys' locks: refused (see KEY_BUSY).
        c.out().error(KEY_BUSY);
        return;
    }
    let (out, txn) = c.out_and_txn();
    cross::run(&core, txn, across, db, argv, out).await;
}

/// The common case, synchronously: a one-shard command on this core's keys,
/// free of other transactions' locks, outside any transaction, runs at
/// once in place. False when it must go the longer way ([`one_shard`]).
fn in_place(c: &mut dyn Client, spec: &CommandSpec, f: ShardFn, argv: &[&[u8]]) -> bool {
    let core = c.core().clone();
    let target = spec
        .first_key(argv)
        .map_or(core.id, |k| shard_of(k, core.cores()));
    if target != core.id || c.txn().is_some() || !c.in_order_here() {
        return false;
    }
    if !spec.keys.is_empty() {
        c.touched(Some(target));
    }
    let db = c.db();
    let mut shard = core.shard.borrow_mut();
    if !shard.locks.is_idle() && !shard.locks.admits_plain(db, &spec.keys_of(argv)) {
        return false;
    }
    let mut ctx = Ctx {
        shard: &mut shard,
        db,
        now: c.now(),
    };
    run_shard(f, &mut ctx, argv, c.out());
    drop(shard);
    core.serve_blocked();
    true
}

/// A command on one shard's keys.
async fn one_shard(c: &mut dyn Client, spec: &CommandSpec, f: ShardFn, argv: &[&[u8]]) {
    let core = c.core().clone();
    let target = spec
        .first_key(argv)
        .map_or(core.id, |k| shard_of(k, core.cores()));
    let db = c.db();
    let proto = c.proto();
    if !spec.keys.is_empty() {
        c.touched(Some(target));
    }
    // Inside a transaction holding the shard: as part of it.
    if let Some(txn) = c.txn() {
        if txn.holds(target) {
            let args = crate::resp::args::OwnedArgv::new(argv);
            let reply = txn
                .run(target, move |core| {
                    core.with_ctx(db, |ctx| run_owned(ctx, f, &args, proto))
                })
                .await;
            c.out().buf.extend_from_slice(&reply);
            return;
        }
    }
    let keys = spec.key_positions(argv).unwrap_or_default();
    if c.defer(target, f, argv, &keys) {
        return;
    }
    // On a hop to its core, now.
    let args = crate::resp::args::OwnedArgv::new(argv);
    let reply = if c.may_wait() {
        let locks = keys.iter().map(|&i| (db, argv[i].into())).collect();
        core.submit_job(target, locks, LockMode::Plain, move |core| {
            core.with_ctx(db, |ctx| run_owned(ctx, f, &args, proto))
        })
        .await
    } else {
        // Past any lock (it checks the keys itself), never waiting for one.
        let at = keys.clone();
        let done: Option<Vec<u8>> = core
            .submit_job(target, Vec::new(), LockMode::Held(0), move |core| {
                let argv = args.argv();
                let keys: SmallVec<[&[u8]; 4]> = at.iter().map(|&i| argv[i]).collect();
                let free = core.shard.borrow().locks.admits_plain(db, &keys);
                free.then(|| core.with_ctx(db, |ctx| run_owned(ctx, f, &args, proto)))
            })
            .await;
        done.unwrap_or_else(|| {
            let mut out = Out::new(proto);
            out.error(KEY_BUSY);
            out.buf
        })
    };
    c.out().buf.extend_from_slice(&reply);
}

/// Runs `f` with owned arguments on a shard, returning the reply's bytes.
fn run_owned(
    ctx: &mut Ctx,
    f: ShardFn,
    args: &crate::resp::args::OwnedArgv,
    proto: Proto,
) -> Vec<u8> {
    let mut out = Out::new(proto);
    run_shard(f, ctx, &args.argv(), &mut out);
    out.buf
}
