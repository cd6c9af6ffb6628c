//! The blocking list commands, on the client's side: BLPOP, BRPOP, BLMPOP,
//! BLMOVE and BRPOPLPUSH. Each first tries its pop like the non-blocking
//! command; with nothing to pop it registers a waiter on its keys' shards
//! (in the same step as the check, see `shard::blocking`), then waits for
//! one of: a shard serving it, its timeout, CLIENT UNBLOCK, or the client
//! going away. Whichever claims the waiter first decides.

use std::collections::BTreeMap;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use super::args::{is, Error};
use super::lists::{self, End};
use super::ConnCmd;
use crate::resp::parse::parse_i64;
use crate::server::connection::{Flow, Session};
use crate::shard::blocking::{BlockOp, Served, Waiter};
use crate::shard::dispatch::{Core, HopFuture};
use crate::shard::route::{group_by_shard, shard_of};
use crate::shard::txn::{outer_or_own, run_on_shard, Txn};

/// A parsed blocking command.
struct Request {
    cmd: ConnCmd,
    keys: Vec<Vec<u8>>,
    op: BlockOp,
    /// None: wait forever (timeout 0).
    timeout: Option<Duration>,
}

/// Redis's `getTimeoutFromObjectOrReply` for seconds given as a float.
pub fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, Error> {
    let text = std::str::from_utf8(arg).ok();
    let secs: f64 = text
        .filter(|t| {
            !t.is_empty()
                && !t.starts_with(char::is_whitespace)
                && !t.ends_with(char::is_whitespace)
        })
        .and_then(|t| t.parse().ok())
        .filter(|f: &f64| f.is_finite())
        .ok_or(Error::msg("ERR timeout is not a float or out of range"))?;
    if secs < 0.0 {
        return Err(Error::msg("ERR timeout is negative"));
    }
    let ms = (secs * 1000.0).ceil();
    if ms > i64::MAX as f64 / 2.0 {
        return Err(Error::msg("ERR timeout is out of range"));
    }
    Ok((ms > 0.0).then(|| Duration::from_millis(ms as u64)))
}

fn parse(cmd: ConnCmd, argv: &[&[u8]]) -> Result<Request, Error> {
    let owned = |keys: &[&[u8]]| keys.iter().map(|k| k.to_vec()).collect::<Vec<_>>();
    Ok(match cmd {
        ConnCmd::Blpop | ConnCmd::Brpop => {
            let timeout = parse_timeout(argv[argv.len() - 1])?;
            let end = if cmd == ConnCmd::Blpop {
                End::Left
            } else {
                End::Right
            };
            Request {
                cmd,
                keys: owned(&argv[1..argv.len() - 1]),
                op: BlockOp::Pop { end, count: 1 },
                timeout,
            }
        }
        ConnCmd::Blmpop => {
            let timeout = parse_timeout(argv[1])?;
            let m = lists::parse_mpop(&argv[1..])?;
            Request {
                cmd,
                keys: owned(m.keys),
                op: BlockOp::Pop {
                    end: m.end,
                    count: m.count,
                },
                timeout,
            }
        }
        ConnCmd::Blmove | ConnCmd::Brpoplpush => {
            let (from, to, timeout) = if cmd == ConnCmd::Blmove {
                let from = End::parse(argv[3])?;
                let to = End::parse(argv[4])?;
                (from, to, argv[5])
            } else {
                (End::Right, End::Left, argv[3])
            };
            Request {
                cmd,
                keys: owned(&argv[1..2]),
                op: BlockOp::Move {
                    dst: argv[2].to_vec(),
                    from,
                    to,
                },
                timeout: parse_timeout(timeout)?,
            }
        }
        _ => unreachable!("not a blocking command: {cmd:?}"),
    })
}

/// Runs a blocking command.
pub async fn run(s: &mut Session, cmd: ConnCmd, argv: &[&[u8]]) -> Flow {
    let req = match parse(cmd, argv) {
        Ok(r) => r,
        Err(e) => {
            s.out.error(&e.0);
            return Flow::Continue;
        }
    };
    if s.tx.exec.is_some() {
        // Inside EXEC a blocking command does not block: it pops now, or
        // answers as if it had timed out.
        let core = s.core.clone();
        match attempt(&core, s.db, &req, None, s.tx.exec.as_mut()).await {
            // Redis answers a move that cannot block with a null bulk string.
            Ok(Some(Served::Retry)) | Ok(None) if matches!(req.op, BlockOp::Move { .. }) => {
                s.out.null()
            }
            Ok(Some(Served::Retry)) | Ok(None) => s.out.null_array(),
            Ok(Some(served)) => answer(s, &req, served),
            Err(e) => s.out.error(&e.0),
        }
        return Flow::Continue;
    }
    let deadline = req.timeout.map(|d| std::time::Instant::now() + d);
    loop {
        let (reply, fut) = s.core.new_slot();
        let waiter = Waiter::new(s.client_id(), s.db, req.op.clone(), reply);
        let first = match attempt(&s.core, s.db, &req, Some(&waiter), None).await {
            Ok(first) => first,
            Err(e) => {
                fut.forget();
                s.out.error(&e.0);
                return Flow::Continue;
            }
        };
        if let Some(served) = first {
            fut.forget();
            answer(s, &req, served);
            return Flow::Continue;
        }
        // Replies to the requests before this one go out before it waits.
        s.send_now().await;
        let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
        let end = wait(s, &waiter, fut, left).await;
        unregister(&s.core, s.db, &req.keys, &waiter);
        match end {
            WaitEnd::Served(Served::Retry) => continue,
            WaitEnd::Served(served) => answer(s, &req, served),
            WaitEnd::TimedOut => s.out.null_array(),
            WaitEnd::Gone => return Flow::Close,
        }
        return Flow::Continue;
    }
}

fn answer(s: &mut Session, req: &Request, served: Served) {
    let out = &mut s.out;
    match served {
        Served::Popped { key, values } if req.cmd == ConnCmd::Blmpop => {
            lists::reply_mpop(out, &key, &values)
        }
        Served::Popped { key, values } => {
            out.array(2);
            out.bulk(&key);
            out.bulk(values.first().map_or(&b""[..], |v| v));
        }
        Served::Moved(value) => out.bulk(&value),
        other => answer_other(out, other),
    }
}

/// The endings every blocking command shares: an error, or CLIENT UNBLOCK.
pub fn answer_other(out: &mut crate::resp::Out, served: Served) {
    match served {
        Served::Failed(e) => out.error(&e.0),
        Served::Unblocked { error: false } => out.null_array(),
        Served::Unblocked { error: true } => {
            out.error("UNBLOCKED client unblocked via CLIENT UNBLOCK")
        }
        other => unreachable!("answered by its command: {other:?}"),
    }
}

/// The shards a request touches: its keys', and a move's destination's.
fn shards_of(req: &Request, shards: usize) -> BTreeMap<usize, Vec<usize>> {
    let mut by_shard = group_by_shard(0..req.keys.len(), |&i| shard_of(&req.keys[i], shards));
    if let BlockOp::Move { dst, .. } = &req.op {
        by_shard.entry(shard_of(dst, shards)).or_default();
    }
    by_shard
}

/// Pops now if a key has elements, or registers `waiter` (if any: inside
/// EXEC nothing waits) on every key. Some(result) when done; None when
/// registered or, without a waiter, when there is nothing to pop. `outer`
/// is EXEC's transaction, which already holds the keys.
async fn attempt(
    core: &std::rc::Rc<Core>,
    db: usize,
    req: &Request,
    waiter: Option<&Arc<Waiter>>,
    outer: Option<&mut Txn>,
) -> Result<Option<Served>, Error> {
    let by_shard = shards_of(req, core.cores());
    if by_shard.len() == 1 {
        // One shard: check, pop or register in one step there.
        let shard = *by_shard.keys().next().expect("one shard");
        let keys = req.keys.clone();
        let op = req.op.clone();
        let waiter = waiter.cloned();
        let locks = keys.iter().map(|k| (db, k.as_slice().into())).collect();
        let step = move |core: &Core| {
            core.with_ctx(db, |ctx| {
                let now = ctx.now;
                for key in &keys {
                    if lists::list_mut(ctx.db(), key, now)?.is_none() {
                        continue;
                    }
                    return serve_now(ctx, key, &op).map(Some);
                }
                if let Some(waiter) = waiter {
                    for key in keys {
                        ctx.shard
                            .blocking
                            .register((db, key.into_boxed_slice()), waiter.clone());
                    }
                }
                Ok(None)
            })
        };
        return run_on_shard(core, outer.as_deref(), shard, locks, step).await;
    }
    // Several shards: lock them all in order, then decide.
    let shards = core.cores();
    let mut own = None;
    let txn = outer_or_own(outer, &mut own, core);
    let mut holds: Vec<Result<bool, Error>> = vec![Ok(false); req.keys.len()];
    let mut dst_ok: Result<(), Error> = Ok(());
    for (&shard, idx) in &by_shard {
        let part: Vec<Vec<u8>> = idx.iter().map(|&i| req.keys[i].clone()).collect();
        let dst = match &req.op {
            BlockOp::Move { dst, .. } if shard_of(dst, shards) == shard => Some(dst.clone()),
            _ => None,
        };
        let mut locks: Vec<_> = part.iter().map(|k| (db, k.as_slice().into())).collect();
        if let Some(d) = &dst {
            locks.push((db, d.as_slice().into()));
        }
        let (found, dst_found) = txn
            .lock_and_run(shard, locks, move |core| {
                core.with_ctx(db, |ctx| {
                    let now = ctx.now;
                    let found: Vec<Result<bool, Error>> = part
                        .iter()
                        .map(|k| lists::list_mut(ctx.db(), k, now).map(|l| l.is_some()))
                        .collect();
                    let dst_found = dst.map(|d| lists::check_pushable(ctx.db(), &d, now));
                    (found, dst_found)
                })
            })
            .await;
        for (&i, f) in idx.iter().zip(found) {
            holds[i] = f;
        }
        if let Some(d) = dst_found {
            dst_ok = d;
        }
    }
    for (i, held) in holds.into_iter().enumerate() {
        if !held? {
            continue;
        }
        let key = req.keys[i].clone();
        let src_shard = shard_of(&key, shards);
        return Ok(Some(match req.op.clone() {
            BlockOp::Pop { end, count } => {
                let values = txn
                    .run(src_shard, move |core| {
                        core.with_ctx(db, |ctx| lists::pop(ctx, &key, end, count))
                    })
                    .await?
                    .unwrap_or_default();
                Served::Popped {
                    key: req.keys[i].clone(),
                    values,
                }
            }
            BlockOp::Move { dst, from, to } => {
                dst_ok?;
                let mv = lists::Move {
                    src: key,
                    dst,
                    from,
                    to,
                };
                let value = mv.run_across(txn, db).await?;
                Served::Moved(value.expect("the source holds a list"))
            }
            BlockOp::Read { .. } | BlockOp::ZPop { .. } => {
                unreachable!("list commands parse list ops")
            }
        }));
    }
    // Nothing to pop: wait on every key, registered while still locked.
    let Some(waiter) = waiter else {
        return Ok(None);
    };
    for (&shard, idx) in &by_shard {
        let part: Vec<Vec<u8>> = idx.iter().map(|&i| req.keys[i].clone()).collect();
        if part.is_empty() {
            continue;
        }
        let waiter = waiter.clone();
        txn.run(shard, move |core| {
            let mut shard = core.shard.borrow_mut();
            for key in part {
                shard
                    .blocking
                    .register((db, key.into_boxed_slice()), waiter.clone());
            }
        })
        .await;
    }
    Ok(None)
}

/// Serves `op` from `key`, which holds a non-empty list on this shard (and
/// so does a move's destination, if it is a move).
fn serve_now(ctx: &mut super::Ctx, key: &[u8], op: &BlockOp) -> Result<Served, Error> {
    Ok(match op {
        BlockOp::Pop { end, count } => Served::Popped {
            key: key.to_vec(),
            values: lists::pop(ctx, key, *end, *count)?.unwrap_or_default(),
        },
        BlockOp::Move { dst, from, to } => {
            let now = ctx.now;
            lists::check_pushable(ctx.db(), dst, now)?;
            let value = lists::pop(ctx, key, *from, 1)?
                .and_then(|mut v| v.pop())
                .expect("a non-empty list");
            lists::push(ctx, dst, *to, &[&value])?;
            Served::Moved(value)
        }
        BlockOp::Read { .. } | BlockOp::ZPop { .. } => {
            unreachable!("list commands parse list ops")
        }
    })
}

/// Takes `waiter` out of every shard's table.
pub fn unregister(core: &std::rc::Rc<Core>, db: usize, keys: &[Vec<u8>], waiter: &Arc<Waiter>) {
    let shards = core.cores();
    for (shard, keys) in group_by_shard(keys.iter().cloned(), |k| shard_of(k, shards)) {
        let waiter = waiter.clone();
        core.post(shard, move |core| {
            let mut shard = core.shard.borrow_mut();
            for key in keys {
                shard
                    .blocking
                    .unregister(&(db, key.into_boxed_slice()), &waiter);
            }
        });
    }
}

pub enum WaitEnd {
    Served(Served),
    TimedOut,
    /// The client disconnected or was killed.
    Gone,
}

/// Waits for a shard to serve `waiter`, for the timeout, for CLIENT
/// UNBLOCK, or for the client to go away, whichever claims it first.
pub async fn wait(
    s: &mut Session,
    waiter: &Arc<Waiter>,
    mut fut: HopFuture<Served>,
    timeout: Option<Duration>,
) -> WaitEnd {
    enum Event {
        Result(Served),
        Timeout,
        Input(std::io::Result<usize>, Vec<u8>),
    }
    let mut sleep: Option<Pin<Box<dyn Future<Output = ()>>>> =
        timeout.map(|d| Box::pin(crate::runtime::sleep(d)) as Pin<Box<dyn Future<Output = ()>>>);
    s.set_blocked(Some(waiter.clone()));
    let end = loop {
        s.watch_input();
        let event = poll_fn(|cx| {
            if let Poll::Ready(r) = Pin::new(&mut fut).poll(cx) {
                return Poll::Ready(Event::Result(r));
            }
            if let Some(t) = sleep.as_mut() {
                if t.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Event::Timeout);
                }
            }
            if let Poll::Ready((res, buf)) = s.poll_input(cx) {
                return Poll::Ready(Event::Input(res, buf));
            }
            Poll::Pending
        })
        .await;
        match event {
            Event::Result(served) => break WaitEnd::Served(served),
            Event::Timeout => {
                if waiter.claim() {
                    fut.forget();
                    break WaitEnd::TimedOut;
                }
                // Served at the same moment: the result is on its way.
                break WaitEnd::Served(fut.await);
            }
            Event::Input(Ok(n), buf) if n > 0 => {
                // Requests sent behind the blocking one run after it; past
                // the query buffer limit the client is dropped, as in Redis.
                if s.stash_input(buf) {
                    break leave(waiter, fut).await;
                }
            }
            Event::Input(..) => break leave(waiter, fut).await,
        }
    };
    s.set_blocked(None);
    end
}

/// The client is gone (or dropped): give the wait up.
async fn leave(waiter: &Arc<Waiter>, fut: HopFuture<Served>) -> WaitEnd {
    if waiter.claim() {
        fut.forget();
    } else {
        // What was popped for a client that left is lost with it, as in
        // Redis when the two cross.
        drop(fut.await);
    }
    WaitEnd::Gone
}

/// CLIENT UNBLOCK on this core: wakes the client `id` if it is blocked here.
pub fn unblock(core: &Core, id: u64, error: bool) -> bool {
    let clients = core.clients.borrow();
    let Some(info) = clients.get(id) else {
        return false;
    };
    let Some(waiter) = info.borrow().blocked.clone() else {
        return false;
    };
    if !waiter.claim() {
        return false;
    }
    core.answer(waiter.reply, Served::Unblocked { error });
    true
}

/// Whether `arg` names a blocking command's unblock mode.
pub fn unblock_mode(arg: Option<&[u8]>) -> Result<bool, Error> {
    match arg {
        None => Ok(false),
        Some(a) if is(a, "timeout") => Ok(false),
        Some(a) if is(a, "error") => Ok(true),
        Some(_) => Err(Error::msg(
            "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
        )),
    }
}

/// A numeric argument check shared with CLIENT UNBLOCK.
pub fn client_id(arg: &[u8]) -> Result<u64, Error> {
    parse_i64(arg).map(|n| n as u64).ok_or(Error::NOT_INTEGER)
}
