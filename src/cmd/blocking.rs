//! The one run loop of every blocking command, on the client's side (BLPOP,
//! BRPOP, BLMPOP, BLMOVE, BRPOPLPUSH, BZPOPMIN, BZPOPMAX, BZMPOP, XREAD and
//! XREADGROUP with BLOCK). A family parameterizes it with [`Blocking`]:
//! what its keys are, how to try at once, what its waiter is.
//!
//! Each command first tries like its non-blocking form. With nothing to
//! take, that same attempt registers a waiter on its keys' shards (see
//! `shard::blocking`), and the client waits for one of: a shard serving it,
//! its timeout, CLIENT UNBLOCK, or the client going away. Whichever claims
//! the waiter first decides. Inside EXEC (or a script) nothing blocks: the
//! command answers at once, as if it had timed out.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use super::args::{is, Error};
use super::cross::first_holding;
use super::exec::Client;
use super::session;
use super::Ctx;
use crate::resp::parse::parse_i64;
use crate::resp::Out;
use crate::server::connection::{Flow, Session};
use crate::shard::blocking::{Round, Serve, Waiter};
use crate::shard::ctx::{Here, Shards, ShardsExt};
use crate::shard::dispatch::{Core, HopFuture, ReplyTo};
use crate::shard::route::{group_by_shard, shard_of};
use crate::shard::txn::Txn;

/// What a blocked client's core is told by the shard (or by CLIENT UNBLOCK).
#[derive(Debug)]
pub enum Wake<S> {
    /// What it waited for, taken for it.
    Served(S),
    /// Its command's error once it ran (a move into a key of another type,
    /// a stream or group gone).
    Failed(Error),
    /// A key has something now, but what the command does spans shards (a
    /// list move to another shard): the client tries again, as a transaction.
    Retry,
    /// CLIENT UNBLOCK: time out now, or fail with UNBLOCKED.
    Unblocked { error: bool },
}

/// A family's attempt: what was taken (None: nothing there), or the error.
pub type Attempt<'a, S> = Pin<Box<dyn Future<Output = Result<Option<S>, Error>> + 'a>>;

/// What every blocking command has: the keys it waits on, its timeout
/// (None: forever), and what it waits for there.
#[derive(Clone, Debug)]
pub struct Blocked<W> {
    pub keys: Vec<Vec<u8>>,
    pub timeout: Option<Duration>,
    pub wants: W,
}

/// What a blocking command's family serves it.
pub type ServedBy<B> = <<B as Blocking>::Wants as Wants>::Served;

/// A blocking command, as [`run`] runs it.
pub trait Blocking {
    /// What it waits for (how a shard serves it).
    type Wants: Wants + Clone;

    fn blocked(&self) -> &Blocked<Self::Wants>;

    /// Tries at once. With a waiter, registers it on every key in the same
    /// step when there is nothing to take. `outer` is EXEC's or a script's
    /// transaction, which already holds the keys.
    fn attempt<'a>(
        &'a self,
        core: &'a Rc<Core>,
        db: usize,
        waiter: Option<&'a Arc<Waiter>>,
        outer: Option<&'a mut Txn>,
    ) -> Attempt<'a, ServedBy<Self>>;

    /// The reply for what was taken.
    fn answer(&self, out: &mut Out, served: ServedBy<Self>);

    /// The reply when there is nothing to take and the command may not
    /// block (inside EXEC).
    fn nothing(&self, out: &mut Out) {
        out.null_array();
    }
}

/// Runs a parsed blocking command, or answers its parse error.
pub async fn parse_and_run<B: Blocking>(c: &mut dyn Client, parsed: Result<B, Error>) -> Flow {
    match parsed {
        Ok(cmd) => run(c, cmd).await,
        Err(e) => {
            c.out().error(&e.0);
            Flow::Continue
        }
    }
}

/// Runs a blocking command: for a connection outside EXEC it may block;
/// inside EXEC, or called from a script, it answers at once.
pub async fn run<B: Blocking>(c: &mut dyn Client, cmd: B) -> Flow {
    let may_block = c.txn().is_none() && c.session().is_some();
    if !may_block {
        let core = c.core().clone();
        let db = c.db();
        let (out, txn) = c.out_and_txn();
        match cmd.attempt(&core, db, None, txn).await {
            Ok(Some(served)) => cmd.answer(out, served),
            Ok(None) => cmd.nothing(out),
            Err(e) => out.error(&e.0),
        }
        return Flow::Continue;
    }
    let s = session(c);
    let blocked = cmd.blocked();
    let deadline = blocked.timeout.map(|d| std::time::Instant::now() + d);
    loop {
        let core = s.core.clone();
        let (reply, fut) = core.new_slot();
        let answer = Answer {
            reply,
            wants: blocked.wants.clone(),
        };
        let waiter = Waiter::new(s.client_id(), s.db, answer);
        match cmd.attempt(&core, s.db, Some(&waiter), None).await {
            Err(e) => {
                fut.forget();
                s.out.error(&e.0);
                return Flow::Continue;
            }
            Ok(Some(served)) => {
                fut.forget();
                cmd.answer(&mut s.out, served);
                return Flow::Continue;
            }
            Ok(None) => {}
        }
        // Replies to the requests before this one go out before it waits.
        s.send_now().await;
        let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
        let end = wait(s, &waiter, fut, left).await;
        unregister(&core, s.db, &blocked.keys, &waiter);
        match end {
            WaitEnd::Woken(Wake::Retry) => continue,
            WaitEnd::Woken(Wake::Served(served)) => cmd.answer(&mut s.out, served),
            WaitEnd::Woken(Wake::Failed(e)) => s.out.error(&e.0),
            WaitEnd::Woken(Wake::Unblocked { error: true }) => {
                s.out.error("UNBLOCKED client unblocked via CLIENT UNBLOCK")
            }
            // Every blocking command times out with a null array.
            WaitEnd::Woken(Wake::Unblocked { error: false }) | WaitEnd::TimedOut => {
                s.out.null_array()
            }
            WaitEnd::Gone => return Flow::Close,
        }
        return Flow::Continue;
    }
}

/// Runs a blocking command's attempt, `step`, on the shards of `keys`:
/// inside `outer` (EXEC's or a script's transaction, which holds them), on
/// a hop when they share a shard, otherwise in a transaction of its own
/// that takes them all. Either way `step` sees every key's shard as its
/// own, so checking and registering are one step.
pub async fn attempt_on<R: Send + 'static>(
    core: &Rc<Core>,
    keys: &[Vec<u8>],
    outer: Option<&mut Txn>,
    step: impl FnOnce(&mut dyn Shards) -> R + Send + 'static,
) -> R {
    if let Some(txn) = outer {
        return step(txn);
    }
    let count = core.cores();
    let mut shards: Vec<usize> = keys.iter().map(|k| shard_of(k, count)).collect();
    shards.sort_unstable();
    shards.dedup();
    if let [shard] = shards[..] {
        return core.on_shard(shard, move |here| step(here)).await;
    }
    let mut txn = Txn::new(core);
    txn.take_all(shards).await;
    step(&mut txn)
}

/// Tries a pop-like command (the list pops, the sorted set pops): takes
/// from the first of `keys` that `holds` something, in argument order, or
/// registers `waiter` on every key in the same step.
pub async fn pop_attempt<T: Send + 'static>(
    core: &Rc<Core>,
    db: usize,
    keys: &[Vec<u8>],
    waiter: Option<&Arc<Waiter>>,
    outer: Option<&mut Txn>,
    holds: fn(&mut Ctx, &[u8]) -> Result<bool, Error>,
    take: impl FnOnce(&mut Ctx, &[u8]) -> Result<T, Error> + Send + 'static,
) -> Result<Option<(usize, T)>, Error> {
    let (owned, waiter) = (keys.to_vec(), waiter.cloned());
    attempt_on(core, keys, outer, move |shards| {
        if let Some(found) = first_holding(shards, db, &owned, holds, take)? {
            return Ok(Some(found));
        }
        if let Some(waiter) = &waiter {
            register_all(shards, db, &owned, waiter);
        }
        Ok(None)
    })
    .await
}

/// Registers `waiter` on `keys` of this shard.
pub fn register(ctx: &mut Ctx, keys: &[Vec<u8>], waiter: &Arc<Waiter>) {
    let db = ctx.db;
    for key in keys {
        ctx.shard
            .blocking
            .register((db, key.as_slice().into()), waiter.clone());
    }
}

/// Registers `waiter` on `keys`, on their shards.
pub fn register_all(shards: &mut dyn Shards, db: usize, keys: &[Vec<u8>], waiter: &Arc<Waiter>) {
    let count = shards.count();
    for (shard, part) in group_by_shard(keys.iter().cloned(), |k| shard_of(k, count)) {
        shards.ctx(shard, db, |ctx| register(ctx, &part, waiter));
    }
}

/// Takes `waiter` out of every shard's table.
pub fn unregister(core: &Rc<Core>, db: usize, keys: &[Vec<u8>], waiter: &Arc<Waiter>) {
    let shards = core.cores();
    for (shard, keys) in group_by_shard(keys.iter().cloned(), |k| shard_of(k, shards)) {
        let waiter = waiter.clone();
        core.post_shard(shard, move |here| {
            for key in keys {
                here.shard
                    .blocking
                    .unregister(&(db, key.into_boxed_slice()), &waiter);
            }
        });
    }
}

pub enum WaitEnd<S> {
    Woken(Wake<S>),
    TimedOut,
    /// The client disconnected or was killed.
    Gone,
}

/// Waits for a shard to serve `waiter`, for the timeout, for CLIENT
/// UNBLOCK, or for the client to go away, whichever claims it first.
pub async fn wait<S: 'static>(
    s: &mut Session,
    waiter: &Arc<Waiter>,
    mut fut: HopFuture<Wake<S>>,
    timeout: Option<Duration>,
) -> WaitEnd<S> {
    enum Event<S> {
        Result(Wake<S>),
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
            Event::Result(woken) => break WaitEnd::Woken(woken),
            Event::Timeout => {
                if waiter.claim() {
                    fut.forget();
                    break WaitEnd::TimedOut;
                }
                // Served at the same moment: the result is on its way.
                break WaitEnd::Woken(fut.await);
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
async fn leave<S: 'static>(waiter: &Arc<Waiter>, fut: HopFuture<Wake<S>>) -> WaitEnd<S> {
    if waiter.claim() {
        fut.forget();
    } else {
        // What was taken for a client that left is lost with it, as in
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
    waiter.unblock(core, error);
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

/// The typed waiter every family uses: what it waits for (`W`, which tells
/// the shard how to serve it) and where to answer.
pub struct Answer<S, W> {
    pub reply: ReplyTo<Wake<S>>,
    pub wants: W,
}

/// How a family's waiter is served; [`Answer`] turns it into a [`Serve`].
pub trait Wants: Send + Sync + 'static {
    type Served: Send + 'static;

    /// Whether `key` can serve it now.
    fn ready(&self, ctx: &mut Ctx, key: &[u8], round: &mut Round) -> bool;

    /// Takes what it waits for from `key` (its client is claimed).
    fn take(&self, here: &mut Here, db: usize, key: &[u8], round: &mut Round)
        -> Wake<Self::Served>;

    /// Whether the key's deletion wakes it (see `Serve::on_nokey`).
    fn on_nokey(&self) -> bool {
        false
    }
}

impl<W: Wants> Serve for Answer<W::Served, W> {
    fn ready(&self, ctx: &mut Ctx, key: &[u8], round: &mut Round) -> bool {
        self.wants.ready(ctx, key, round)
    }

    fn serve(&self, here: &mut Here, db: usize, key: &[u8], round: &mut Round) {
        let woken = self.wants.take(here, db, key, round);
        here.core.answer(self.reply, woken);
    }

    fn unblock(&self, core: &Core, error: bool) {
        core.answer(self.reply, Wake::Unblocked { error });
    }

    fn on_nokey(&self) -> bool {
        self.wants.on_nokey()
    }
}
