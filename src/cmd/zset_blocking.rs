//! ZMPOP and the blocking sorted set pops (BZPOPMIN, BZPOPMAX, BZMPOP), on
//! the client's side. Their keys may live on several shards.
//!
//! Like the blocking list commands (`cmd::blocking`), each one checks its
//! keys in argument order (the first sorted set wins; a key of another type
//! met first is a WRONGTYPE error) and pops there; with nothing to pop a
//! blocking pop registers a waiter on every key in the same step (one hop
//! when the keys share a shard, otherwise with every key locked as a
//! cross-shard transaction), so no ZADD can fall in between. A shard that
//! then gets members serves its waiters in order (`shard::blocking`); the
//! timeout, CLIENT UNBLOCK and disconnects are handled by
//! `cmd::blocking::wait`, whichever claims the waiter first.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use super::args::Error;
use super::blocking::{self, parse_timeout, WaitEnd};
use super::zsets::{self, parse_mpop};
use super::ConnCmd;
use crate::server::connection::{Flow, Session};
use crate::shard::blocking::{BlockOp, Served, Waiter};
use crate::shard::dispatch::Core;
use crate::shard::route::{group_by_shard, shard_of};
use crate::shard::txn::{outer_or_own, run_on_shard, Txn};

/// A parsed ZMPOP / BZPOPMIN / BZPOPMAX / BZMPOP.
struct Request {
    cmd: ConnCmd,
    keys: Vec<Vec<u8>>,
    max: bool,
    count: usize,
    /// None: ZMPOP, never blocks; Some(None): block forever (timeout 0).
    block: Option<Option<Duration>>,
}

/// A pop's result: the key and its `(member, score)` pairs.
type Popped = (Vec<u8>, Vec<(Vec<u8>, f64)>);

fn parse(cmd: ConnCmd, argv: &[&[u8]]) -> Result<Request, Error> {
    let owned = |keys: &[&[u8]]| keys.iter().map(|k| k.to_vec()).collect::<Vec<_>>();
    Ok(match cmd {
        ConnCmd::Bzpopmin | ConnCmd::Bzpopmax => {
            let last = argv.len() - 1;
            let timeout = parse_timeout(argv[last])?;
            Request {
                cmd,
                keys: owned(&argv[1..last]),
                max: cmd == ConnCmd::Bzpopmax,
                count: 1,
                block: Some(timeout),
            }
        }
        // BZMPOP checks numkeys, MIN|MAX and COUNT before the timeout.
        ConnCmd::Bzmpop => {
            let m = parse_mpop(&argv[2..])?;
            let timeout = parse_timeout(argv[1])?;
            Request {
                cmd,
                keys: owned(m.keys),
                max: m.max,
                count: m.count,
                block: Some(timeout),
            }
        }
        _ => unreachable!("not a sorted set pop: {cmd:?}"),
    })
}

fn answer(out: &mut crate::resp::Out, req: &Request, (key, items): Popped) {
    match req.cmd {
        ConnCmd::Bzpopmin | ConnCmd::Bzpopmax => zsets::reply_bzpop(out, &key, &items),
        _ => zsets::reply_mpop(out, &key, &items),
    }
}

/// Runs ZMPOP, BZPOPMIN, BZPOPMAX or BZMPOP.
pub async fn run(s: &mut Session, cmd: ConnCmd, argv: &[&[u8]]) -> Flow {
    let req = match parse(cmd, argv) {
        Ok(r) => r,
        Err(e) => {
            s.out.error(&e.0);
            return Flow::Continue;
        }
    };
    let core = s.core.clone();
    // Inside EXEC nothing blocks: the pop answers at once.
    let block = req.block.filter(|_| s.tx.exec.is_none());
    let Some(timeout) = block else {
        match attempt(&core, s.db, &req, None, s.tx.exec.as_mut()).await {
            Ok(Some(popped)) => answer(&mut s.out, &req, popped),
            Ok(None) => s.out.null_array(),
            Err(e) => s.out.error(&e.0),
        }
        return Flow::Continue;
    };
    let (slot, fut) = core.new_slot();
    let op = BlockOp::ZPop {
        max: req.max,
        count: req.count,
    };
    let waiter = Waiter::new(s.client_id(), s.db, op, slot);
    match attempt(&core, s.db, &req, Some(waiter.clone()), None).await {
        Err(e) => {
            fut.forget();
            s.out.error(&e.0);
            return Flow::Continue;
        }
        Ok(Some(popped)) => {
            fut.forget();
            answer(&mut s.out, &req, popped);
            return Flow::Continue;
        }
        Ok(None) => {}
    }
    // Replies to the requests before this one go out before it waits.
    s.send_now().await;
    let end = blocking::wait(s, &waiter, fut, timeout).await;
    blocking::unregister(&core, s.db, &req.keys, &waiter);
    match end {
        WaitEnd::Served(Served::ZPopped { key, items }) => answer(&mut s.out, &req, (key, items)),
        WaitEnd::Served(served) => blocking::answer_other(&mut s.out, served),
        WaitEnd::TimedOut => s.out.null_array(),
        WaitEnd::Gone => return Flow::Close,
    }
    Flow::Continue
}

/// Pops from the first key holding a sorted set, or (with a waiter)
/// registers it on every key. Some(result) when popped; None otherwise.
/// `outer` is EXEC's (or a script's) transaction, which holds the keys.
async fn attempt(
    core: &Rc<Core>,
    db: usize,
    req: &Request,
    waiter: Option<Arc<Waiter>>,
    outer: Option<&mut Txn>,
) -> Result<Option<Popped>, Error> {
    let shards = core.cores();
    let (max, count) = (req.max, req.count);
    let by_shard = group_by_shard(0..req.keys.len(), |&i| shard_of(&req.keys[i], shards));
    if by_shard.len() == 1 {
        // One shard: check, pop or register in one step there.
        let shard = *by_shard.keys().next().expect("one shard");
        let keys = req.keys.clone();
        let locks = keys.iter().map(|k| (db, k.as_slice().into())).collect();
        let step = move |core: &Core| {
            core.with_ctx(db, |ctx| -> Result<Option<Popped>, Error> {
                for key in &keys {
                    if !zsets::holds_zset(ctx, key)? {
                        continue;
                    }
                    let items = zsets::pop(ctx, key, max, count)?.unwrap_or_default();
                    return Ok(Some((key.clone(), items)));
                }
                if let Some(w) = waiter {
                    for key in keys {
                        ctx.shard
                            .blocking
                            .register((db, key.into_boxed_slice()), w.clone());
                    }
                }
                Ok(None)
            })
        };
        return run_on_shard(core, outer.as_deref(), shard, locks, step).await;
    }
    // Several shards: lock them all in order, then decide.
    let mut own = None;
    let txn = outer_or_own(outer, &mut own, core);
    let mut holds: Vec<Result<bool, Error>> = vec![Ok(false); req.keys.len()];
    for (&shard, idx) in &by_shard {
        let part: Vec<Vec<u8>> = idx.iter().map(|&i| req.keys[i].clone()).collect();
        let locks = part.iter().map(|k| (db, k.as_slice().into())).collect();
        let found: Vec<Result<bool, Error>> = txn
            .lock_and_run(shard, locks, move |core| {
                core.with_ctx(db, |ctx| {
                    part.iter().map(|k| zsets::holds_zset(ctx, k)).collect()
                })
            })
            .await;
        for (&i, f) in idx.iter().zip(found) {
            holds[i] = f;
        }
    }
    // The first key in argument order decides, a WRONGTYPE included.
    for (i, held) in holds.into_iter().enumerate() {
        if !held? {
            continue;
        }
        let key = req.keys[i].clone();
        let shard = shard_of(&key, shards);
        let popped = txn
            .run(shard, move |core| {
                core.with_ctx(db, |ctx| zsets::pop(ctx, &key, max, count))
            })
            .await?
            .unwrap_or_default();
        return Ok(Some((req.keys[i].clone(), popped)));
    }
    // Nothing to pop: wait on every key, registered while still locked.
    if let Some(w) = waiter {
        for (&shard, idx) in &by_shard {
            let part: Vec<Vec<u8>> = idx.iter().map(|&i| req.keys[i].clone()).collect();
            let w = w.clone();
            txn.run(shard, move |core| {
                let mut shard = core.shard.borrow_mut();
                for key in part {
                    shard
                        .blocking
                        .register((db, key.into_boxed_slice()), w.clone());
                }
            })
            .await;
        }
    }
    Ok(None)
}
