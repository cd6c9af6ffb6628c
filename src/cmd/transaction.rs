//! Transactions: MULTI, EXEC, DISCARD, WATCH and UNWATCH, as Redis 7.2 runs
//! them.
//!
//! Between MULTI and EXEC the connection queues commands (answering QUEUED)
//! instead of running them; a command refused while queuing (unknown, wrong
//! arity) makes EXEC answer EXECABORT. EXEC is atomic across shards: it
//! takes the shards of every key its commands name (and of every watched
//! key) onto its core as one transaction (`shard::txn`), checks WATCH, and
//! then runs the commands in order inside that transaction, synchronously,
//! so no other client sees half of it. Errors of single commands do not stop the others. Blocking
//! commands inside EXEC answer at once.
//!
//! WATCH leaves a flag under each watched key on its shard (`shard::watch`);
//! any write to the key raises it, and so does the key's expiry (checked at
//! EXEC against the deadline the key had when it was watched).

use super::spec::decl::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::args::Error;
use super::exec::Client;
use super::spec::ShardSet;
use super::table::CommandSpec;
use super::{session, CmdResult};
use crate::resp::args::OwnedArgv;
use crate::resp::Out;
use crate::server::connection::{Flow, Session};
use crate::shard::db::DbKey;
use crate::shard::route::{group_by_shard, shard_of};
use crate::shard::txn::Txn;
use crate::shard::watch::WatchFlag;

/// A connection's transaction state.
#[derive(Default)]
pub struct TxState {
    /// Commands queued since MULTI; None outside MULTI.
    pub queue: Option<Queue>,
    /// Watched keys with the deadline each had when watched.
    watched: Vec<(DbKey, Option<u64>)>,
    /// Raised by a write to any watched key; replaced on every unwatch.
    flag: Option<WatchFlag>,
    /// While EXEC runs its commands: the transaction holding their keys.
    pub exec: Option<Txn>,
}

/// A command queued by MULTI.
pub struct Queued {
    pub spec: &'static CommandSpec,
    pub args: OwnedArgv,
}

#[derive(Default)]
pub struct Queue {
    cmds: Vec<Queued>,
    /// A command was refused while queuing: EXEC answers EXECABORT.
    pub aborted: bool,
}

impl TxState {
    pub fn in_multi(&self) -> bool {
        self.queue.is_some()
    }

    /// Commands queued since MULTI (None outside MULTI).
    pub fn queued(&self) -> Option<usize> {
        self.queue.as_ref().map(|q| q.cmds.len())
    }

    /// Memory the queued commands take (CLIENT LIST's `multi-mem`).
    pub fn queued_memory(&self) -> usize {
        self.queue
            .as_ref()
            .map_or(0, |q| q.cmds.iter().map(|c| c.args.memory()).sum())
    }

    /// Queues a command (already checked for arity) and answers QUEUED.
    pub fn enqueue(&mut self, spec: &'static CommandSpec, argv: &[&[u8]], out: &mut Out) {
        if let Some(q) = self.queue.as_mut() {
            q.cmds.push(Queued {
                spec,
                args: OwnedArgv::new(argv),
            });
        }
        out.simple("QUEUED");
    }

    /// A command refused while queuing dooms the transaction.
    pub fn abort_queued(&mut self) {
        if let Some(q) = self.queue.as_mut() {
            q.aborted = true;
        }
    }
}

/// Whether a command runs at once even inside MULTI (Redis's list).
pub fn runs_inside_multi(spec: &CommandSpec) -> bool {
    matches!(
        spec.name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

pub fn multi(c: &mut dyn Client, _: &[&[u8]]) -> CmdResult {
    let s = session(c);
    if s.tx.in_multi() {
        return Err(Error::msg("ERR MULTI calls can not be nested"));
    }
    s.tx.queue = Some(Queue::default());
    s.out.ok();
    Ok(())
}

pub fn discard(c: &mut dyn Client, _: &[&[u8]]) -> CmdResult {
    let s = session(c);
    if s.tx.queue.take().is_none() {
        return Err(Error::msg("ERR DISCARD without MULTI"));
    }
    unwatch(s);
    s.out.ok();
    Ok(())
}

pub async fn watch_cmd(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    let s = session(c);
    if s.tx.in_multi() {
        return Err(Error::msg("ERR WATCH inside MULTI is not allowed"));
    }
    watch(s, &argv[1..]).await;
    s.out.ok();
    Ok(())
}

pub fn unwatch_cmd(c: &mut dyn Client, _: &[&[u8]]) -> CmdResult {
    let s = session(c);
    unwatch(s);
    s.out.ok();
    Ok(())
}

pub async fn exec_cmd(c: &mut dyn Client, _: &[&[u8]]) -> CmdResult {
    exec(session(c)).await
}

async fn watch(s: &mut Session, keys: &[&[u8]]) {
    let shards = s.core.cores();
    let flag =
        s.tx.flag
            .get_or_insert_with(|| Arc::new(AtomicBool::new(false)))
            .clone();
    let new: Vec<DbKey> = keys
        .iter()
        .map(|key| (s.db, (*key).into()))
        .filter(|key| !s.tx.watched.iter().any(|(k, _)| k == key))
        .collect();
    let by_shard = group_by_shard(new, |k: &DbKey| shard_of(&k.1, shards));
    for (shard, keys) in by_shard {
        let flag = flag.clone();
        let deadlines = s
            .core
            .on_shard(shard, move |here| {
                let now = crate::shard::now_ms();
                keys.into_iter()
                    .map(|key| {
                        here.shard.watches.add(key.clone(), &flag);
                        let deadline = here.shard.dbs[key.0]
                            .get(&key.1, now)
                            .and_then(|e| e.expire_at());
                        (key, deadline)
                    })
                    .collect::<Vec<_>>()
            })
            .await;
        s.tx.watched.extend(deadlines);
    }
}

/// Forgets every watched key (EXEC, DISCARD, UNWATCH, RESET, disconnect).
pub fn unwatch(s: &mut Session) {
    let Some(flag) = s.tx.flag.take() else {
        return;
    };
    let shards = s.core.cores();
    let watched = std::mem::take(&mut s.tx.watched)
        .into_iter()
        .map(|(k, _)| k);
    let by_shard = group_by_shard(watched, |k: &DbKey| shard_of(&k.1, shards));
    for (shard, keys) in by_shard {
        let flag = flag.clone();
        s.core.post_shard(shard, move |here| {
            keys.iter()
                .for_each(|k| here.shard.watches.remove(k, &flag));
        });
    }
}

/// The shards EXEC takes: those of every key its commands name (every
/// shard if one of them reads the whole keyspace) and of every watched key.
fn shards_used(s: &Session, queue: &Queue) -> ShardSet {
    let n = s.core.cores();
    let mut set: ShardSet =
        s.tx.watched
            .iter()
            .map(|(k, _)| shard_of(&k.1, n))
            .collect();
    for cmd in &queue.cmds {
        let argv = cmd.args.argv();
        match cmd.spec.exec {
            Exec::Anywhere(..) => return (0..n).collect(),
            // A shard command without keys runs on this core's shard.
            Exec::Shard(_) | Exec::Multi(..) if cmd.spec.keys.is_empty() => set.push(s.core.id),
            _ => set.extend(cmd.spec.shard_set(&argv, n)),
        }
    }
    set.sort_unstable();
    set.dedup();
    set
}

async fn exec(s: &mut Session) -> Result<(), Error> {
    let Some(queue) = s.tx.queue.take() else {
        return Err(Error::msg("ERR EXEC without MULTI"));
    };
    if queue.aborted {
        unwatch(s);
        return Err(Error::msg(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    // The shards of every key (a queued SELECT changes the database, not
    // the shard), taken in increasing order.
    let mut txn = Txn::new(&s.core);
    txn.take_all(shards_used(s, &queue)).await;
    // Its commands see one time, as in Redis.
    txn.now = Some(crate::shard::now_ms());
    // A watched key whose deadline passed since WATCH counts as changed.
    let now = crate::shard::now_ms();
    let expired =
        s.tx.watched
            .iter()
            .any(|(_, d)| d.is_some_and(|d| d <= now));
    let dirty = expired
        || s.tx
            .flag
            .as_ref()
            .is_some_and(|f| f.load(Ordering::Acquire));
    unwatch(s);
    if dirty {
        s.out.null_array();
        return Ok(());
    }
    s.out.array(queue.cmds.len());
    s.tx.exec = Some(txn);
    for cmd in &queue.cmds {
        if run_queued(s, cmd).await == Flow::Close {
            break;
        }
    }
    // Dropping the transaction releases every shard.
    s.tx.exec = None;
    Ok(())
}

/// Runs one queued command inside EXEC's transaction, through the one
/// executor: the transaction holds its keys, so it never waits, and nothing
/// in it blocks.
async fn run_queued(s: &mut Session, cmd: &Queued) -> Flow {
    let argv = cmd.args.argv();
    // Boxed: EXEC itself runs through the executor, so the future nests.
    Box::pin(super::exec::call(s, cmd.spec, &argv)).await
}

// ------------------------------------------------------------ commands

/// The transaction commands, as the command table lists them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("multi", 1, TX_FLAGS, NO_KEYS, "transactions", "Starts a transaction.", Exec::Local(multi), ""),
    spec("exec", 1, &["noscript", "loading", "stale", "skip_slowlog"], NO_KEYS, "transactions",
        "Executes all commands in a transaction.", crate::awaits!(exec_cmd), ""),
    spec("discard", 1, TX_FLAGS, NO_KEYS, "transactions", "Discards a transaction.", Exec::Local(discard), ""),
    spec("watch", -2, TX_FLAGS, ALL_KEYS, "transactions",
        "Monitors changes to keys to determine the execution of a transaction.", crate::awaits!(watch_cmd), "key [key ...]"),
    spec("unwatch", 1, TX_FLAGS, NO_KEYS, "transactions", "Forgets about watched keys of a transaction.",
        Exec::Local(unwatch_cmd), ""),
];
