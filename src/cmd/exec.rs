//! The one place a command runs: [`call`]. A connection's requests, the
//! commands EXEC runs from its queue, and a script's or function's
//! `redis.call` all go through it (as every command in Redis goes through
//! `call()`), so whatever must see every command hooks in here once.
//!
//! `call` routes by the command's declared keys (`spec`) and its form
//! (`Exec`):
//! - Inside a transaction (EXEC's, a script's), every command runs at once,
//!   here, on the shards the transaction holds (see `shard::txn`). A
//!   command that needs a shard the transaction lacks asks the caller
//!   ([`Client::using`]).
//! - Outside, a one-shard command runs in place when its shard is on this
//!   core and free; otherwise where the caller says ([`Client::defer`]: a
//!   connection batches it for the shard), or on a hop to the shard.
//! - A command whose keys span shards runs its cross-shard form in a
//!   transaction that takes those shards first (`cross`).
//! - A client command runs on the caller's core with the caller.
//!
//! A command's effect on the keyspace is known where it happens: on the
//! shard, through `Ctx::wrote` and the shard's effect sinks (`shard::effects`:
//! the append-only log, keyspace notifications, replication). What concerns
//! the command as a whole is known here: the command counter today; MONITOR,
//! command statistics, SLOWLOG and ACL checks hook in at the marked places.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use super::spec::{CommandSpec, KeyShards, ShardSet};
use super::{cross, run_shard, Ctx, Exec, ShardFn};
use crate::resp::{Out, Proto};
use crate::server::connection::{Flow, Session};
use crate::shard::ctx::{Here, ShardsExt};
use crate::shard::dispatch::Core;
use crate::shard::route::shard_of;
use crate::shard::txn::Txn;

/// A boxed future of a client command (see [`ClientFn`](super::ClientFn)).
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

    /// The transaction the command runs in (EXEC's, or a script's): the
    /// command runs at once on the shards it holds, and nothing blocks
    /// inside it.
    fn txn(&mut self) -> Option<&mut Txn>;

    /// The output and the transaction at once.
    fn out_and_txn(&mut self) -> (&mut Out, Option<&mut Txn>);

    /// The connection, for the commands about it (None for a script, which
    /// may not call them: they are `noscript`).
    fn session(&mut self) -> Option<&mut Session>;

    /// Takes a one-shard command that cannot run in place now, to run on
    /// shard `shard` later with its reply owed (a connection batches it);
    /// false when the caller wants it run now, on a hop.
    fn defer(&mut self, shard: usize, f: ShardFn, argv: &[&[u8]]) -> bool;

    /// Whether replies other cores owe it are still outstanding, and the
    /// future that collects them, for a command that must come after them.
    fn owes(&self) -> bool;
    fn settle(&mut self) -> Running<'_>;

    /// Whether a command on shard `shard` may run in place as far as the
    /// caller's own earlier commands go (not behind its deferred ones).
    fn in_order_here(&self, shard: usize) -> bool;

    /// Inside its transaction, a command is about to use `shards`: Ok once
    /// the transaction holds them all, or the error to answer. EXEC takes
    /// every shard its commands name beforehand; a script learns here where
    /// it goes, and takes what it lacks if it can (see `script`).
    fn using(&mut self, _shards: &[usize]) -> Result<(), String> {
        Ok(())
    }
}

/// Runs `spec` with `argv` for `c`, writing its reply to `c.out()`.
pub async fn call(c: &mut dyn Client, spec: &'static CommandSpec, argv: &[&[u8]]) -> Flow {
    crate::shard::propagation::running(spec.name);
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
                spanning(c, spec, across, argv).await;
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
            match uses(c, |n| spec.shard_set(argv, n)) {
                Ok(()) => f(c, argv).await,
                Err(e) => refused(c, e),
            }
        }
        Exec::Anywhere(f, _) => {
            if c.owes() {
                c.settle().await;
            }
            match uses(c, |n| (0..n).collect()) {
                Ok(()) => f(c, argv).await,
                Err(e) => refused(c, e),
            }
        }
        Exec::Unordered(f) => f(c, argv).await,
        Exec::Container => unreachable!("a container resolves to a subcommand"),
    };
    counted(c, flow)
}

/// The part of [`call`] that completes at once, without awaiting anything:
/// a command inside the caller's transaction, a one-shard command on a
/// free shard here, or a client command that needs no owed replies. None
/// when the command must take the longer way (a script calls this first
/// and waits only for what it cannot do now).
pub fn call_now(c: &mut dyn Client, spec: &'static CommandSpec, argv: &[&[u8]]) -> Option<Flow> {
    crate::shard::propagation::running(spec.name);
    let done = match spec.exec {
        Exec::Shard(f) => in_place(c, spec, f, argv),
        Exec::Multi(f, across) => {
            let shards = c.core().cores();
            if shards > 1 && spec.shards_of_keys(argv, shards) == KeyShards::Several {
                c.txn().is_some() && {
                    in_txn_across(c, spec, across, argv);
                    true
                }
            } else {
                in_place(c, spec, f, argv)
            }
        }
        Exec::Now(f) => {
            local(c, f, argv);
            true
        }
        Exec::Local(f) if !c.owes() => {
            local(c, f, argv);
            true
        }
        Exec::Anywhere(_, Some(now)) if !c.owes() && c.txn().is_none() => match now(c, argv) {
            Some(result) => {
                finish(c, result);
                true
            }
            None => false,
        },
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

fn refused(c: &mut dyn Client, e: String) -> Flow {
    c.out().error(&e);
    Flow::Continue
}

/// Inside a transaction: whether it holds the shards `shards(count)`
/// names (taking them if the caller can). Outside one, nothing to check,
/// and nothing is computed.
fn uses(c: &mut dyn Client, shards: impl FnOnce(usize) -> ShardSet) -> Result<(), String> {
    match c.txn() {
        None => Ok(()),
        Some(txn) => {
            let set = shards(txn.shards());
            c.using(&set)
        }
    }
}

/// Runs `f` on every shard for `c`, in shard order: inside its
/// transaction, on the shards it holds (`Exec::Anywhere` commands run with
/// every shard held); otherwise wherever each shard is.
pub async fn each_shard<R, F>(c: &mut dyn Client, f: F) -> Vec<R>
where
    R: Send + 'static,
    F: Fn(&mut Here) -> R + Send + Clone + 'static,
{
    if let Some(txn) = c.txn() {
        debug_assert!(txn.holds_all(), "a keyspace-wide command holds every shard");
        if txn.holds_all() {
            return (0..txn.shards()).map(|s| txn.here(s, &f)).collect();
        }
    }
    c.core().clone().on_every_shard(f).await
}

/// Runs `f` on shard `shard` for `c`: inside its transaction when it holds
/// the shard, otherwise wherever the shard is.
pub async fn at_shard<R, F>(c: &mut dyn Client, shard: usize, f: F) -> R
where
    R: Send + 'static,
    F: FnOnce(&mut Here) -> R + Send + 'static,
{
    if let Some(txn) = c.txn() {
        if txn.holds(shard) {
            return txn.here(shard, f);
        }
    }
    c.core().on_shard(shard, f).await
}

/// The shard a one-shard command runs on: its first key's.
fn target(c: &mut dyn Client, spec: &CommandSpec, argv: &[&[u8]]) -> usize {
    let core = c.core();
    spec.first_key(argv)
        .map_or(core.id, |k| shard_of(k, core.cores()))
}

/// The common case, synchronously: a one-shard command inside the
/// caller's transaction, or on a shard that is here and free. False when
/// it must go the longer way ([`one_shard`]).
fn in_place(c: &mut dyn Client, spec: &CommandSpec, f: ShardFn, argv: &[&[u8]]) -> bool {
    let shard = target(c, spec, argv);
    let db = c.db();
    let now = c.now();
    if c.txn().is_some() {
        if let Err(e) = c.using(&[shard]) {
            c.out().error(&e);
            return true;
        }
        let (out, txn) = c.out_and_txn();
        let txn = txn.expect("checked above");
        let outer = txn.now.replace(now);
        txn.ctx(shard, db, |ctx| run_shard(f, ctx, argv, out));
        txn.now = outer;
        return true;
    }
    if !c.in_order_here(shard) {
        return false;
    }
    let core = c.core().clone();
    let Some(mut data) = core.free_shard(shard) else {
        return false;
    };
    let mut ctx = Ctx {
        shard: &mut data,
        db,
        now,
    };
    run_shard(f, &mut ctx, argv, c.out());
    drop(data);
    core.serve_blocked(shard);
    true
}

/// A command on one shard's keys, outside any transaction: batched by the
/// caller, or on a hop to the shard.
async fn one_shard(c: &mut dyn Client, spec: &CommandSpec, f: ShardFn, argv: &[&[u8]]) {
    let shard = target(c, spec, argv);
    if c.defer(shard, f, argv) {
        return;
    }
    let (db, proto) = (c.db(), c.proto());
    let args = crate::resp::args::OwnedArgv::new(argv);
    let reply = c
        .core()
        .on_shard(shard, move |here| {
            here.ctx(db, |ctx| {
                let mut out = Out::new(proto);
                run_shard(f, ctx, &args.argv(), &mut out);
                out.buf
            })
        })
        .await;
    c.out().buf.extend_from_slice(&reply);
}

/// A command whose keys span shards, outside any transaction: its
/// cross-shard form, in a transaction of its own that takes the shards of
/// its keys first.
async fn spanning(c: &mut dyn Client, spec: &CommandSpec, across: cross::CrossFn, argv: &[&[u8]]) {
    if c.owes() {
        c.settle().await;
    }
    let core = c.core().clone();
    let mut txn = Txn::new(&core);
    txn.take_all(spec.shard_set(argv, core.cores())).await;
    let db = c.db();
    cross::run(&mut txn, across, db, argv, c.out());
}

/// A command whose keys span shards, inside the caller's transaction.
fn in_txn_across(c: &mut dyn Client, spec: &CommandSpec, across: cross::CrossFn, argv: &[&[u8]]) {
    let shards = spec.shard_set(argv, c.core().cores());
    if let Err(e) = c.using(&shards) {
        c.out().error(&e);
        return;
    }
    let db = c.db();
    let (out, txn) = c.out_and_txn();
    cross::run(txn.expect("inside a transaction"), across, db, argv, out);
}
