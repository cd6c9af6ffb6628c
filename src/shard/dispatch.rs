//! Cross-core dispatch: the one place where work leaves its core.
//!
//! # Hops
//! A *hop* is one piece of [`Work`] sent to the core that owns a shard, run
//! there to completion (nothing on a shard ever awaits), with its result sent
//! back to the core that asked. Work is either a [`Batch`] of plain commands
//! from one connection, or a typed closure (`run_on`, `txn::Txn`). The reply
//! comes back as a [`Msg::Done`] that completes a slot the asking task awaits.
//!
//! # Mailboxes
//! Every core has one unbounded lock-free MPSC queue ([`Mailbox`]): sending
//! never blocks and never fails, so no executor can stall on a full queue and
//! no cycle of full queues can deadlock the mesh. A core that finds its
//! mailbox empty marks itself asleep and waits on its eventfd; a sender writes
//! the eventfd only when it flips that mark, so a busy core receives a burst
//! of messages with no wake-up syscalls at all.
//!
//! # Ordering
//! Messages from one core to another arrive in the order they were sent (one
//! queue, pushed by one thread in program order). A connection keeps each
//! key's commands in its own order because all of a key's commands go to the
//! same shard, in the same batch or in batches sent in order; replies are put
//! back in request order by the connection whatever shard answered first.
//! Commands of one pipeline on keys of *different* shards run in parallel, so
//! another client may see the later one first (as with Redis Cluster, or
//! Dragonfly's pipeline squashing). Commands that read several shards (MGET,
//! KEYS, DBSIZE, ...) first wait for the connection's pending batches, so a
//! client always reads its own writes.
//!
//! # Atomicity across shards
//! Commands whose keys span shards run as transactions (`txn`): they lock
//! their keys shard by shard in increasing shard order, do each shard's part
//! while holding that shard's locks, and release everything at the end. Plain
//! work on a locked key waits in the shard's lock table (`locks`). Why no
//! deadlock: a transaction only waits for locks on a shard higher than every
//! shard it already holds locks on, so a wait-for cycle would need a shard
//! higher than itself; plain work holds nothing while it waits; and waiting
//! work is queued, never spun on, so an executor is never blocked.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crossbeam_queue::SegQueue;
use slab::Slab;
use smallvec::SmallVec;

use super::ctx::{run as run_shard, Ctx, ShardFn};
use super::locks::{DbKey, LockMode, TxnId};
use super::pubsub::PubSub;
use super::{now_ms, Shard};
use crate::resp::args::OwnedArgv;
use crate::resp::{Out, Proto};
use crate::runtime::{Notified, Notifier};
use crate::server::client::ClientRegistry;
use crate::server::Shared;

/// A hop's result on its way back. Type erasure stays in this module: every
/// result is made by a closure (or batch) whose type fixed the [`HopFuture`]
/// or [`ReplyTo`] that receives it, so the downcast below cannot fail.
type HopResult = Box<dyn Any + Send>;
/// A closure to run on another core.
type Job = Box<dyn FnOnce(&Core) -> HopResult + Send>;
/// A one-way closure for another core: nothing comes back.
type Post = Box<dyn FnOnce(&Core) + Send>;

/// Where a hop's result goes: a slot on a core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Slot {
    core: usize,
    slot: usize,
}

/// Where a value of type `R` goes: the slot of a [`HopFuture<R>`] on some
/// core (a blocked client's, waiting for whichever shard serves it).
pub struct ReplyTo<R> {
    to: Slot,
    _result: PhantomData<fn(R)>,
}

impl<R> Clone for ReplyTo<R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<R> Copy for ReplyTo<R> {}

impl<R> std::fmt::Debug for ReplyTo<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReplyTo(core {}, slot {})", self.to.core, self.to.slot)
    }
}

/// One command of a batch, with its arguments copied out of the read buffer.
pub struct OwnedCommand {
    pub run: ShardFn,
    pub db: usize,
    pub args: OwnedArgv,
    /// Positions of its keys in its arguments (for the lock table).
    keys: SmallVec<[usize; 2]>,
}

impl OwnedCommand {
    pub fn new(run: ShardFn, db: usize, argv: &[&[u8]], keys: &[usize]) -> Self {
        OwnedCommand {
            run,
            db,
            args: OwnedArgv::new(argv),
            keys: keys.into(),
        }
    }

    fn keys(&self, into: &mut Vec<DbKey>) {
        let argv = self.args.argv();
        for &i in &self.keys {
            into.push((self.db, argv[i].into()));
        }
    }
}

/// Plain commands of one connection for one shard, run in order.
pub struct Batch {
    pub proto: Proto,
    pub cmds: Vec<OwnedCommand>,
}

/// The replies of a batch: concatenated, with each reply's end offset.
pub struct BatchReply {
    pub bytes: Vec<u8>,
    pub ends: Vec<usize>,
}

/// Work for a shard.
pub enum Work {
    Batch(Batch),
    Run {
        keys: Vec<DbKey>,
        mode: LockMode,
        job: Job,
    },
}

impl Work {
    /// Work that runs `f` on the shard.
    fn closure<R, F>(keys: Vec<DbKey>, mode: LockMode, f: F) -> Work
    where
        R: Send + 'static,
        F: FnOnce(&Core) -> R + Send + 'static,
    {
        let job: Job = Box::new(move |core| Box::new(f(core)));
        Work::Run { keys, mode, job }
    }

    pub fn keys(&self) -> Vec<DbKey> {
        match self {
            Work::Batch(b) => {
                let mut keys = Vec::new();
                b.cmds.iter().for_each(|c| c.keys(&mut keys));
                keys
            }
            Work::Run { keys, .. } => keys.clone(),
        }
    }

    pub fn mode(&self) -> LockMode {
        match self {
            Work::Batch(_) => LockMode::Plain,
            Work::Run { mode, .. } => *mode,
        }
    }

    pub fn is_acquire(&self) -> bool {
        matches!(self.mode(), LockMode::Acquire(_) | LockMode::AcquireAll(_))
    }

    pub fn txn(&self) -> Option<TxnId> {
        match self.mode() {
            LockMode::Plain => None,
            LockMode::Acquire(t) | LockMode::Held(t) | LockMode::AcquireAll(t) => Some(t),
        }
    }
}

/// What travels between cores.
enum Msg {
    Hop {
        work: Work,
        reply: Slot,
    },
    /// Release a transaction's locks (and drop its work still waiting).
    Unlock(TxnId),
    Done {
        slot: usize,
        result: HopResult,
    },
    /// One-way news for that core (pub/sub directory updates).
    Post(Post),
}

/// One core's inbox.
pub struct Mailbox {
    queue: SegQueue<Msg>,
    asleep: AtomicBool,
    wake: Notifier,
}

/// Every core's mailbox, shared by all cores.
pub struct Mesh {
    boxes: Vec<Mailbox>,
}

impl Mesh {
    /// A mesh of `n` mailboxes and the waiting side of each core's wake-up.
    pub fn new(n: usize) -> std::io::Result<(Arc<Mesh>, Vec<Notified>)> {
        let mut boxes = Vec::with_capacity(n);
        let mut waits = Vec::with_capacity(n);
        for _ in 0..n {
            let (wake, wait) = crate::runtime::notifier()?;
            boxes.push(Mailbox {
                queue: SegQueue::new(),
                asleep: AtomicBool::new(false),
                wake,
            });
            waits.push(wait);
        }
        Ok((Arc::new(Mesh { boxes }), waits))
    }

    pub fn len(&self) -> usize {
        self.boxes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.boxes.is_empty()
    }

    fn send(&self, core: usize, msg: Msg) {
        let mailbox = &self.boxes[core];
        mailbox.queue.push(msg);
        // SeqCst pairs with the receiver's store-then-recheck in `drain_loop`:
        // either it sees this message, or we see it asleep and wake it.
        if mailbox.asleep.load(Ordering::SeqCst) && mailbox.asleep.swap(false, Ordering::SeqCst) {
            mailbox.wake.notify();
        }
    }
}

#[derive(Default)]
struct Pending {
    result: Option<HopResult>,
    waker: Option<Waker>,
    abandoned: bool,
}

/// Counts of what crossing cores cost one core.
#[derive(Default)]
pub struct Crossings {
    /// Work sent to another core (batches, jobs, transaction parts).
    pub hops: Cell<u64>,
    /// Work that arrived here and waited behind a transaction's locks.
    pub lock_waits: Cell<u64>,
    /// Times a script gave up the CPU while it waited for a hop.
    pub script_yields: Cell<u64>,
}

impl Crossings {
    fn bump(cell: &Cell<u64>) {
        cell.set(cell.get() + 1);
    }
}

/// Everything one core owns, shared by the tasks on that core.
pub struct Core {
    pub id: usize,
    pub shard: RefCell<Shard>,
    pub clients: RefCell<ClientRegistry>,
    pub pubsub: RefCell<PubSub>,
    pub shared: Arc<Shared>,
    mesh: Arc<Mesh>,
    slots: RefCell<Slab<Pending>>,
    next_txn: Cell<u64>,
    /// What crossing cores cost this core (INFO's cores section).
    pub crossings: Crossings,
    /// This core itself, for work that only gets `&Core` but must hand an
    /// `Rc<Core>` on (a script run by a hop).
    me: std::rc::Weak<Core>,
}

impl Core {
    pub fn new(id: usize, shard: Shard, mesh: Arc<Mesh>, shared: Arc<Shared>) -> Rc<Core> {
        Rc::new_cyclic(|me| Core {
            id,
            shard: RefCell::new(shard),
            clients: RefCell::new(ClientRegistry::default()),
            pubsub: RefCell::new(PubSub::default()),
            shared,
            mesh,
            slots: RefCell::new(Slab::new()),
            next_txn: Cell::new(0),
            crossings: Crossings::default(),
            me: me.clone(),
        })
    }

    /// An `Rc` of this core.
    pub fn rc(&self) -> Rc<Core> {
        self.me.upgrade().expect("the core is alive")
    }

    pub fn cores(&self) -> usize {
        self.mesh.len()
    }

    /// Runs `f` on this core's shard with a command context for database `db`.
    /// Expirations its reads caused are reported before it returns.
    pub fn with_ctx<R>(&self, db: usize, f: impl FnOnce(&mut Ctx) -> R) -> R {
        let mut shard = self.shard.borrow_mut();
        let mut ctx = Ctx {
            shard: &mut shard,
            db,
            now: now_ms(),
        };
        let result = f(&mut ctx);
        shard.settle_db(db);
        result
    }

    pub fn new_txn_id(&self) -> TxnId {
        let n = self.next_txn.get() + 1;
        self.next_txn.set(n);
        ((self.id as u64) << 48) | n
    }

    /// Sends `work` to the core owning shard `target` (or runs it here) and
    /// returns the future of its result, whose type the caller vouches for.
    fn submit<R: 'static>(self: &Rc<Self>, target: usize, work: Work) -> HopFuture<R> {
        let (reply, fut) = self.new_slot::<R>();
        if target == self.id {
            self.accept(work, reply.to);
        } else {
            Crossings::bump(&self.crossings.hops);
            self.mesh.send(
                target,
                Msg::Hop {
                    work,
                    reply: reply.to,
                },
            );
        }
        fut
    }

    /// Sends a connection's batch of plain commands to shard `target`.
    pub fn submit_batch(self: &Rc<Self>, target: usize, batch: Batch) -> HopFuture<BatchReply> {
        self.submit(target, Work::Batch(batch))
    }

    /// Runs `f` on shard `target` once `mode` allows it for `keys` (plain
    /// work waits for other transactions' locks on them; see `locks`).
    pub fn submit_job<R, F>(
        self: &Rc<Self>,
        target: usize,
        keys: Vec<DbKey>,
        mode: LockMode,
        f: F,
    ) -> HopFuture<R>
    where
        R: Send + 'static,
        F: FnOnce(&Core) -> R + Send + 'static,
    {
        self.submit(target, Work::closure(keys, mode, f))
    }

    /// Runs a closure on shard `target` (no locks) and returns its typed result.
    pub async fn run_on<R: Send + 'static>(
        self: &Rc<Self>,
        target: usize,
        f: impl FnOnce(&Core) -> R + Send + 'static,
    ) -> R {
        self.submit_job(target, Vec::new(), LockMode::Plain, f)
            .await
    }

    /// Runs `f` on every shard and collects the results in shard order.
    pub async fn run_on_all<R: Send + 'static, F>(self: &Rc<Self>, f: F) -> Vec<R>
    where
        F: Fn(&Core) -> R + Send + Clone + 'static,
    {
        let futures: Vec<HopFuture<R>> = (0..self.cores())
            .map(|target| self.submit_job(target, Vec::new(), LockMode::Plain, f.clone()))
            .collect();
        let mut results = Vec::with_capacity(futures.len());
        for fut in futures {
            results.push(fut.await);
        }
        results
    }

    /// Runs `f` on every other core, one way: it returns at once, and the
    /// cores run `f` in the order this core posted to them.
    pub fn post_to_others<F>(&self, f: F)
    where
        F: Fn(&Core) + Send + Clone + 'static,
    {
        for target in (0..self.cores()).filter(|&t| t != self.id) {
            let f = f.clone();
            self.mesh
                .send(target, Msg::Post(Box::new(move |core| f(core))));
        }
    }

    /// Runs `f` on core `target` one way (here, at once, if it is this one).
    pub fn post(&self, target: usize, f: impl FnOnce(&Core) + Send + 'static) {
        if target == self.id {
            f(self);
        } else {
            self.mesh.send(target, Msg::Post(Box::new(f)));
        }
    }

    /// Handles every message already in this core's mailbox, now. A command
    /// calls it to see everything other cores sent before its request
    /// arrived (pub/sub directory updates), instead of waiting for the
    /// mailbox task's turn.
    pub fn drain_mailbox(&self) {
        let mailbox = &self.mesh.boxes[self.id];
        while let Some(msg) = mailbox.queue.pop() {
            self.handle(msg);
        }
    }

    /// Runs `fut` to completion right here, without returning to the
    /// executor: while it waits, this core keeps handling its mailbox (so
    /// hops it sent are answered, and hops other cores send it still run).
    /// For a Lua script, whose `redis.call` cannot yield: nothing else on
    /// this core runs meanwhile, which is what makes the script atomic here.
    /// `fut` must only wait on hops, never on sockets or timers.
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut fut = std::pin::pin!(fut);
        let mut idle = 0u32;
        loop {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return v;
            }
            if self.mesh.boxes[self.id].queue.is_empty() {
                idle += 1;
                if idle > 64 {
                    Crossings::bump(&self.crossings.script_yields);
                    std::thread::yield_now();
                } else {
                    std::hint::spin_loop();
                }
            } else {
                idle = 0;
                self.drain_mailbox();
            }
        }
    }

    /// Releases a transaction's locks on shard `target`.
    pub fn unlock(&self, target: usize, txn: TxnId) {
        if target == self.id {
            self.release(txn);
        } else {
            self.mesh.send(target, Msg::Unlock(txn));
        }
    }

    /// Runs work that arrived for this shard now, or parks it behind the
    /// locks that stop it.
    fn accept(&self, work: Work, reply: Slot) {
        {
            let mut shard = self.shard.borrow_mut();
            if !shard.locks.is_idle() {
                let keys = work.keys();
                if !shard.locks.admits(work.mode(), &keys) {
                    Crossings::bump(&self.crossings.lock_waits);
                    shard.locks.wait(work, reply);
                    return;
                }
            }
        }
        let result = self.execute(work);
        self.complete(reply, result);
    }

    fn execute(&self, work: Work) -> HopResult {
        let result = match work {
            Work::Batch(batch) => Box::new(self.run_batch(batch)),
            Work::Run { keys, mode, job } => {
                match mode {
                    LockMode::Acquire(txn) => self.shard.borrow_mut().locks.acquire(txn, &keys),
                    LockMode::AcquireAll(txn) => self.shard.borrow_mut().locks.acquire_all(txn),
                    _ => {}
                }
                job(self)
            }
        };
        self.serve_blocked();
        result
    }

    /// Serves clients blocked on keys the last commands pushed to.
    pub fn serve_blocked(&self) {
        if self.shard.borrow().blocking.has_ready() {
            super::blocking::serve_ready(self);
        }
    }

    /// A slot for a result that some core will send here later (a blocked
    /// client's), and the future that waits for it.
    pub fn new_slot<R: 'static>(self: &Rc<Self>) -> (ReplyTo<R>, HopFuture<R>) {
        let slot = self.slots.borrow_mut().insert(Pending::default());
        let reply = ReplyTo {
            to: Slot {
                core: self.id,
                slot,
            },
            _result: PhantomData,
        };
        (
            reply,
            HopFuture {
                core: self.clone(),
                slot,
                _result: PhantomData,
            },
        )
    }

    /// Sends `result` to the slot `reply` names, on whatever core it is.
    pub fn answer<R: Send + 'static>(&self, reply: ReplyTo<R>, result: R) {
        self.complete(reply.to, Box::new(result));
    }

    fn run_batch(&self, batch: Batch) -> BatchReply {
        let mut shard = self.shard.borrow_mut();
        let mut out = Out::new(batch.proto);
        let mut ends = Vec::with_capacity(batch.cmds.len());
        // One clock reading per batch, as the connection takes one per read.
        let now = now_ms();
        for cmd in &batch.cmds {
            let argv = cmd.args.argv();
            let mut ctx = Ctx {
                shard: &mut shard,
                db: cmd.db,
                now,
            };
            run_shard(cmd.run, &mut ctx, &argv, &mut out);
            ends.push(out.buf.len());
        }
        BatchReply {
            bytes: out.buf,
            ends,
        }
    }

    fn release(&self, txn: TxnId) {
        self.shard.borrow_mut().locks.release(txn);
        loop {
            let next = self.shard.borrow_mut().locks.next_runnable();
            let Some((work, reply)) = next else { break };
            let result = self.execute(work);
            self.complete(reply, result);
        }
        // Keys pushed to under the transaction's locks are served now.
        self.serve_blocked();
    }

    fn complete(&self, reply: Slot, result: HopResult) {
        if reply.core != self.id {
            self.mesh.send(
                reply.core,
                Msg::Done {
                    slot: reply.slot,
                    result,
                },
            );
            return;
        }
        let mut slots = self.slots.borrow_mut();
        let slot = &mut slots[reply.slot];
        if slot.abandoned {
            slots.remove(reply.slot);
            return;
        }
        slot.result = Some(result);
        if let Some(waker) = slot.waker.take() {
            waker.wake();
        }
    }

    fn handle(&self, msg: Msg) {
        match msg {
            Msg::Hop { work, reply } => self.accept(work, reply),
            Msg::Unlock(txn) => self.release(txn),
            Msg::Post(f) => f(self),
            Msg::Done { slot, result } => self.complete(
                Slot {
                    core: self.id,
                    slot,
                },
                result,
            ),
        }
    }

    /// The mailbox task: runs every message that arrives for this core.
    pub async fn drain_loop(self: Rc<Self>, wake: Notified) {
        let mut wake = match wake.into_waiter() {
            Ok(w) => w,
            Err(e) => {
                eprintln!("ringbus: core {}: no wake-up channel: {e}", self.id);
                std::process::exit(1);
            }
        };
        let mailbox = &self.mesh.boxes[self.id];
        loop {
            while let Some(msg) = mailbox.queue.pop() {
                self.handle(msg);
            }
            mailbox.asleep.store(true, Ordering::SeqCst);
            if !mailbox.queue.is_empty() {
                mailbox.asleep.store(false, Ordering::SeqCst);
                continue;
            }
            wake.wait().await;
            mailbox.asleep.store(false, Ordering::SeqCst);
        }
    }
}

/// The result of a hop, when it comes back.
pub struct HopFuture<R> {
    core: Rc<Core>,
    slot: usize,
    // fn() -> R: the future yields an R but holds none (and stays Unpin).
    _result: PhantomData<fn() -> R>,
}

impl<R: 'static> Future for HopFuture<R> {
    type Output = R;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<R> {
        let mut slots = self.core.slots.borrow_mut();
        let slot = &mut slots[self.slot];
        if let Some(result) = slot.result.take() {
            slots.remove(self.slot);
            drop(slots);
            // Mark done so Drop does not touch the freed slot.
            let this = self.get_mut();
            this.slot = usize::MAX;
            let result = result
                .downcast::<R>()
                .expect("a slot receives the type its future was made for");
            return Poll::Ready(*result);
        }
        slot.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl<R> HopFuture<R> {
    /// Frees the slot of a result that will never come (a blocked client
    /// that claimed its own wait back).
    pub fn forget(mut self) {
        let removed = self.core.slots.borrow_mut().try_remove(self.slot);
        debug_assert!(removed.is_some_and(|s| s.result.is_none()));
        self.slot = usize::MAX;
    }
}

impl<R> Drop for HopFuture<R> {
    fn drop(&mut self) {
        if self.slot == usize::MAX {
            return;
        }
        let mut slots = self.core.slots.borrow_mut();
        if slots[self.slot].result.is_some() {
            slots.remove(self.slot);
        } else {
            // The result is still on its way; free the slot when it lands.
            slots[self.slot].abandoned = true;
            slots[self.slot].waker = None;
        }
    }
}
