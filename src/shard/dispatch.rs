//! Cross-core dispatch: the one place where work leaves its core, and where
//! shards move between cores.
//!
//! # Where a shard is
//! Every shard is on exactly one core at a time; [`Mesh::located`] says which
//! (or which core it is on its way to). Shard *s* starts on core *s*. Work
//! for a shard (a connection's [`Batch`] of commands, a typed closure) is
//! sent to the core that has it and run there to completion, since nothing
//! on a shard ever awaits. Its result comes back as a [`Msg::Done`] that
//! completes a slot the asking task awaits. A core that receives work for a
//! shard that has moved on forwards the work to where the shard went.
//!
//! # Transactions take shards
//! Commands over several shards, EXEC and scripts run as transactions
//! (`txn`). A transaction does not lock keys: it takes whole shards onto
//! its own core, in increasing shard order, and then runs every command
//! there, synchronously, with no hop per command.
//! - For a shard it does not have, the core asks the core that has it
//!   ([`Msg::Want`]), which sends the shard over ([`Msg::Arrive`]) as soon
//!   as none of its own transactions holds it.
//! - While a transaction holds a shard, work that arrives for the shard
//!   waits in the shard's [`Place`] on that core. When the transaction ends,
//!   that work runs, in arrival order.
//! - The shard then stays where it is until another core wants it, so data
//!   settles where the transactions that use it run.
//! - When another core is waiting, the transactions already waiting here
//!   go first, a bounded number of times ([`LOCAL_STREAK`]). A burst of
//!   transactions on one core then costs one move, not one move each.
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
//! key's commands in order: it has at most one batch on its way to a shard,
//! and awaits it before sending more. Replies are put back in request order
//! by the connection, whatever shard answered first. Commands of one
//! pipeline on keys of *different* shards run in parallel, so another client
//! may see the later one first (as with Redis Cluster, or Dragonfly's
//! pipeline squashing). Commands that read several shards (MGET, KEYS,
//! DBSIZE, ...) first wait for the connection's pending batches, so a client
//! always reads its own writes.
//!
//! # Why nothing deadlocks
//! - A transaction waits for a shard only when every shard it holds is lower,
//!   so a cycle of waits would need a shard higher than itself.
//! - Plain work holds nothing while it waits.
//! - Wants and deferred work are queued, never spun on: an executor never
//!   blocks, except a script, which cannot yield. A script waits only for a
//!   shard that no transaction on its own core holds, and it handles this
//!   core's mailbox meanwhile ([`Core::block_on`]). So every core it waits
//!   on keeps running.

use std::any::Any;
use std::cell::{Cell, RefCell, RefMut};
use std::collections::VecDeque;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crossbeam_queue::SegQueue;
use slab::Slab;
use smallvec::SmallVec;

use super::ctx::{run as run_shard, Ctx, Here, ShardFn};
use super::pubsub::PubSub;
use super::{now_ms, Shard};
use crate::config::Config;
use crate::resp::args::OwnedArgv;
use crate::resp::{Out, Proto};
use crate::runtime::{Notified, Notifier};
use crate::server::client::ClientRegistry;
use crate::server::Shared;

/// A hop's result on its way back. Type erasure stays in this module: every
/// result is made by a closure (or batch) whose type fixed the [`HopFuture`]
/// or [`ReplyTo`] that receives it, so the downcast below cannot fail.
type HopResult = Box<dyn Any + Send>;
/// A closure to run on a shard, wherever it is.
type Job = Box<dyn FnOnce(&mut Here) -> HopResult + Send>;
/// A one-way closure for a shard: nothing comes back.
type ShardPost = Box<dyn FnOnce(&mut Here) + Send>;
/// A closure to run on another core (its clients, its pub/sub).
type CoreJob = Box<dyn FnOnce(&Core) -> HopResult + Send>;
/// A one-way closure for another core.
type Post = Box<dyn FnOnce(&Core) + Send>;

/// Identifies a transaction: unique per process (core id in the top bits).
pub type TxnId = u64;

/// How many times in a row transactions waiting on this core get a shard
/// before a core that asked for it earlier (see the module doc).
const LOCAL_STREAK: u32 = 64;

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
}

impl OwnedCommand {
    pub fn new(run: ShardFn, db: usize, argv: &[&[u8]]) -> Self {
        OwnedCommand {
            run,
            db,
            args: OwnedArgv::new(argv),
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
enum Work {
    Batch(Batch),
    Run(Job),
    Post(ShardPost),
}

/// What travels between cores.
enum Msg {
    /// Work for shard `shard`, on whatever core has it.
    ForShard {
        shard: usize,
        work: Work,
        reply: Option<Slot>,
    },
    /// Work for this core itself.
    ForCore {
        job: CoreJob,
        reply: Slot,
    },
    /// One-way news for that core (pub/sub directory updates).
    Post(Post),
    Done {
        slot: usize,
        result: HopResult,
    },
    /// Core `to` wants shard `shard` for its transactions.
    Want {
        shard: usize,
        to: usize,
    },
    /// A shard, sent by the core that had it.
    Arrive(Box<Shard>),
}

/// One core's inbox.
pub struct Mailbox {
    queue: SegQueue<Msg>,
    asleep: AtomicBool,
    wake: Notifier,
}

/// Every core's mailbox, and where every shard is; shared by all cores.
pub struct Mesh {
    boxes: Vec<Mailbox>,
    /// The core each shard is on, or on its way to. Only the core that
    /// has a shard changes its entry, as it sends the shard away.
    located: Vec<AtomicUsize>,
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
        let located = (0..n).map(AtomicUsize::new).collect();
        Ok((Arc::new(Mesh { boxes, located }), waits))
    }

    pub fn len(&self) -> usize {
        self.boxes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.boxes.is_empty()
    }

    /// The core shard `shard` is on (or on its way to).
    pub fn located(&self, shard: usize) -> usize {
        self.located[shard].load(Ordering::Acquire)
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
    /// Work sent to another core (batches, jobs).
    pub hops: Cell<u64>,
    /// Work that arrived here and waited while a transaction held its shard.
    pub waits: Cell<u64>,
    /// Shards this core sent to another core.
    pub moves: Cell<u64>,
    /// Times a script gave up the CPU while it waited for a shard.
    pub script_yields: Cell<u64>,
}

impl Crossings {
    fn bump(cell: &Cell<u64>) {
        cell.set(cell.get() + 1);
    }
}

/// Who waits for a shard on the core that has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    /// A transaction on this core.
    Txn(TxnId),
    /// Another core, for its transactions.
    Core(usize),
}

/// A shard's place on one core: the shard while it is here, the transaction
/// holding it, and what waits for it.
#[derive(Default)]
struct Place {
    shard: RefCell<Option<Box<Shard>>>,
    /// The transaction on this core that holds it.
    holder: Cell<Option<TxnId>>,
    /// Work that came while it was held or on its way here, in arrival order.
    deferred: RefCell<VecDeque<(Work, Option<Slot>)>>,
    /// Who waits to hold it, in arrival order.
    wants: RefCell<VecDeque<Want>>,
    /// This core has asked for it and it has not arrived yet.
    asked: Cell<bool>,
    /// Wakers of this core's transactions waiting for it.
    wakers: RefCell<SmallVec<[(TxnId, Waker); 2]>>,
    /// Transactions here granted it since it arrived while a core waited.
    streak: Cell<u32>,
}

impl Place {
    fn present(&self) -> bool {
        // Borrowed means in use right here.
        self.shard.try_borrow().map_or(true, |s| s.is_some())
    }
}

/// Everything one core owns, shared by the tasks on that core.
pub struct Core {
    pub id: usize,
    /// Every shard's place here, by shard number; only some are present.
    places: Vec<Place>,
    /// This core's copy of the configuration; CONFIG SET updates every copy.
    pub config: RefCell<Config>,
    pub clients: RefCell<ClientRegistry>,
    pub pubsub: RefCell<PubSub>,
    pub shared: Arc<Shared>,
    mesh: Arc<Mesh>,
    awaiting: RefCell<Slab<Pending>>,
    next_txn: Cell<u64>,
    /// What crossing cores cost this core (INFO's cores section).
    pub crossings: Crossings,
    /// This core itself, for work that only gets `&Core` but must hand an
    /// `Rc<Core>` on.
    me: std::rc::Weak<Core>,
}

impl Core {
    /// Core `id`, starting with its own shard.
    pub fn new(
        id: usize,
        shard: Shard,
        config: Config,
        mesh: Arc<Mesh>,
        shared: Arc<Shared>,
    ) -> Rc<Core> {
        let places: Vec<Place> = (0..mesh.len()).map(|_| Place::default()).collect();
        *places[id].shard.borrow_mut() = Some(Box::new(shard));
        Rc::new_cyclic(|me| Core {
            id,
            places,
            config: RefCell::new(config),
            clients: RefCell::new(ClientRegistry::default()),
            pubsub: RefCell::new(PubSub::default()),
            shared,
            mesh,
            awaiting: RefCell::new(Slab::new()),
            next_txn: Cell::new(0),
            crossings: Crossings::default(),
            me: me.clone(),
        })
    }

    /// An `Rc` of this core.
    pub fn rc(&self) -> Rc<Core> {
        self.me.upgrade().expect("the core is alive")
    }

    /// How many cores (and shards) there are.
    pub fn cores(&self) -> usize {
        self.mesh.len()
    }

    /// Shard `shard` if it is here and no transaction holds it: plain work
    /// may use it now.
    pub fn free_shard(&self, shard: usize) -> Option<RefMut<'_, Shard>> {
        let place = &self.places[shard];
        if place.holder.get().is_some() {
            return None;
        }
        let guard = place.shard.try_borrow_mut().ok()?;
        RefMut::filter_map(guard, |s| s.as_deref_mut()).ok()
    }

    /// The shards that are here and free now, by number.
    pub fn free_shards(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.places.len())
            .filter(|&s| self.places[s].holder.get().is_none() && self.places[s].present())
    }

    /// How many shards are on this core now (INFO's cores section).
    pub fn shards_here(&self) -> usize {
        self.places.iter().filter(|p| p.present()).count()
    }

    /// Serves clients blocked on keys of shard `shard` the last commands
    /// wrote to (when it is here and free).
    pub fn serve_blocked(&self, shard: usize) {
        if let Some(mut shard) = self.free_shard(shard) {
            if shard.blocking.has_ready() {
                super::blocking::serve_ready(&mut Here {
                    core: self,
                    shard: &mut shard,
                });
            }
        }
    }

    pub fn new_txn_id(&self) -> TxnId {
        let n = self.next_txn.get() + 1;
        self.next_txn.set(n);
        ((self.id as u64) << 48) | n
    }

    // ------------------------------------------------------------ hops

    /// Sends work to the core that has shard `shard` (or runs it here).
    fn to_shard(&self, shard: usize, work: Work, reply: Option<Slot>) {
        let to = self.mesh.located(shard);
        if to == self.id {
            self.accept(shard, work, reply);
        } else {
            Crossings::bump(&self.crossings.hops);
            self.mesh.send(to, Msg::ForShard { shard, work, reply });
        }
    }

    /// Sends a connection's batch of plain commands to shard `shard`.
    pub fn submit_batch(self: &Rc<Self>, shard: usize, batch: Batch) -> HopFuture<BatchReply> {
        let (reply, fut) = self.new_slot::<BatchReply>();
        self.to_shard(shard, Work::Batch(batch), Some(reply.to));
        fut
    }

    /// Runs `f` on shard `shard`, wherever it is, once no transaction holds
    /// it, and returns the future of its result.
    pub fn on_shard<R, F>(self: &Rc<Self>, shard: usize, f: F) -> HopFuture<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Here) -> R + Send + 'static,
    {
        let (reply, fut) = self.new_slot::<R>();
        let job: Job = Box::new(move |here| Box::new(f(here)));
        self.to_shard(shard, Work::Run(job), Some(reply.to));
        fut
    }

    /// Runs `f` on every shard and collects the results in shard order.
    pub async fn on_every_shard<R, F>(self: &Rc<Self>, f: F) -> Vec<R>
    where
        R: Send + 'static,
        F: Fn(&mut Here) -> R + Send + Clone + 'static,
    {
        let futures = (0..self.cores()).map(|shard| self.on_shard(shard, f.clone()));
        join_in_order(futures.collect()).await
    }

    /// Runs `f` on shard `shard` one way: it returns at once.
    pub fn post_shard(&self, shard: usize, f: impl FnOnce(&mut Here) + Send + 'static) {
        self.to_shard(shard, Work::Post(Box::new(f)), None);
    }

    /// Runs `f` on core `target` (its clients, its pub/sub) and returns the
    /// future of its result.
    pub fn on_core<R, F>(self: &Rc<Self>, target: usize, f: F) -> HopFuture<R>
    where
        R: Send + 'static,
        F: FnOnce(&Core) -> R + Send + 'static,
    {
        let (reply, fut) = self.new_slot::<R>();
        if target == self.id {
            self.complete(reply.to, Box::new(f(self)));
        } else {
            Crossings::bump(&self.crossings.hops);
            let job: CoreJob = Box::new(move |core| Box::new(f(core)));
            self.mesh.send(
                target,
                Msg::ForCore {
                    job,
                    reply: reply.to,
                },
            );
        }
        fut
    }

    /// Runs `f` on every core and collects the results in core order.
    pub async fn on_every_core<R, F>(self: &Rc<Self>, f: F) -> Vec<R>
    where
        R: Send + 'static,
        F: Fn(&Core) -> R + Send + Clone + 'static,
    {
        let futures = (0..self.cores()).map(|target| self.on_core(target, f.clone()));
        join_in_order(futures.collect()).await
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
    /// the shard it waits for can arrive, and work other cores send still
    /// runs). For a Lua script, whose `redis.call` cannot yield: nothing
    /// else on this core runs meanwhile, which is what makes the script
    /// atomic here. `fut` must only wait on what the mailbox brings.
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

    /// Runs work that arrived for shard `shard` now, keeps it for later
    /// while a transaction holds the shard (or while it is on its way
    /// here), or forwards it to where the shard went.
    fn accept(&self, shard: usize, work: Work, reply: Option<Slot>) {
        let place = &self.places[shard];
        let present = place.present();
        if present && place.holder.get().is_none() {
            self.execute(shard, work, reply);
        } else if present || self.mesh.located(shard) == self.id {
            Crossings::bump(&self.crossings.waits);
            place.deferred.borrow_mut().push_back((work, reply));
        } else {
            self.mesh.send(
                self.mesh.located(shard),
                Msg::ForShard { shard, work, reply },
            );
        }
    }

    /// Runs work on shard `shard`, present here and free, then serves the
    /// clients blocked on keys it wrote, then answers.
    fn execute(&self, shard: usize, work: Work, reply: Option<Slot>) {
        let mut guard = self.places[shard].shard.borrow_mut();
        let mut here = Here {
            core: self,
            shard: guard.as_deref_mut().expect("work runs on a present shard"),
        };
        let result: Option<HopResult> = match work {
            Work::Batch(batch) => Some(Box::new(run_batch(&mut here, batch))),
            Work::Run(job) => Some(job(&mut here)),
            Work::Post(f) => {
                f(&mut here);
                None
            }
        };
        if here.shard.blocking.has_ready() {
            super::blocking::serve_ready(&mut here);
        }
        drop(guard);
        if let (Some(reply), Some(result)) = (reply, result) {
            self.complete(reply, result);
        }
    }

    // ----------------------------------------------- shards for transactions

    /// Gives shard `shard` to transaction `txn` if it is here, free and
    /// nobody waits for it.
    pub(super) fn take_now(&self, shard: usize, txn: TxnId) -> bool {
        let place = &self.places[shard];
        let free = place.holder.get().is_none() && place.wants.borrow().is_empty();
        if free && place.present() {
            place.holder.set(Some(txn));
            return true;
        }
        false
    }

    /// Shard `shard`, which transaction `txn` holds.
    pub(super) fn held_shard(&self, shard: usize, txn: TxnId) -> RefMut<'_, Shard> {
        let place = &self.places[shard];
        assert_eq!(
            place.holder.get(),
            Some(txn),
            "a transaction uses its own shards"
        );
        RefMut::map(place.shard.borrow_mut(), |s| {
            s.as_deref_mut().expect("a held shard is here")
        })
    }

    /// Whether a transaction on this core holds shard `shard`.
    pub(super) fn held_here(&self, shard: usize) -> bool {
        self.places[shard].holder.get().is_some()
    }

    /// Queues transaction `txn` for shard `shard` (`first`: ahead of every
    /// other waiter here), asking the core that has it when it is elsewhere.
    pub(super) fn queue_want(&self, shard: usize, txn: TxnId, first: bool) {
        let place = &self.places[shard];
        {
            let mut wants = place.wants.borrow_mut();
            if first {
                wants.push_front(Want::Txn(txn));
            } else {
                wants.push_back(Want::Txn(txn));
            }
        }
        if place.present() {
            if place.holder.get().is_none() {
                self.grant_next(shard);
            }
        } else if !place.asked.get() {
            let to = self.mesh.located(shard);
            if to != self.id {
                place.asked.set(true);
                self.mesh.send(to, Msg::Want { shard, to: self.id });
            }
        }
    }

    /// Whether transaction `txn` holds shard `shard` now; if not, `cx` is
    /// woken when it does.
    pub(super) fn poll_granted(&self, shard: usize, txn: TxnId, cx: &mut Context<'_>) -> bool {
        let place = &self.places[shard];
        let mut wakers = place.wakers.borrow_mut();
        if place.holder.get() == Some(txn) {
            wakers.retain(|(t, _)| *t != txn);
            return true;
        }
        match wakers.iter_mut().find(|(t, _)| *t == txn) {
            Some((_, w)) => w.clone_from(cx.waker()),
            None => wakers.push((txn, cx.waker().clone())),
        }
        false
    }

    /// Transaction `txn` no longer waits for shard `shard` (it was dropped
    /// while waiting); what it was given meanwhile goes on.
    pub(super) fn cancel_want(&self, shard: usize, txn: TxnId) {
        let place = &self.places[shard];
        place.wants.borrow_mut().retain(|w| *w != Want::Txn(txn));
        place.wakers.borrow_mut().retain(|(t, _)| *t != txn);
        if place.holder.get() == Some(txn) {
            self.release(shard, txn);
        }
    }

    /// Transaction `txn` is done with shard `shard`: the work that waited
    /// for it runs, blocked clients its writes can serve are served, and the
    /// next waiter gets it.
    pub(super) fn release(&self, shard: usize, txn: TxnId) {
        let place = &self.places[shard];
        debug_assert_eq!(place.holder.get(), Some(txn));
        place.holder.set(None);
        self.freed(shard);
    }

    /// Shard `shard` is here and free again (released, or just arrived).
    fn freed(&self, shard: usize) {
        let place = &self.places[shard];
        loop {
            let next = place.deferred.borrow_mut().pop_front();
            let Some((work, reply)) = next else { break };
            self.execute(shard, work, reply);
        }
        self.serve_blocked(shard);
        self.grant_next(shard);
    }

    /// Gives shard `shard` (here and free) to whoever waits for it first:
    /// a transaction here, or another core, which it is sent to.
    fn grant_next(&self, shard: usize) {
        let place = &self.places[shard];
        if place.holder.get().is_some() || !place.present() {
            return;
        }
        let want = {
            let mut wants = place.wants.borrow_mut();
            let Some(&front) = wants.front() else { return };
            // A core waits: transactions waiting here go first, a few
            // times, so a burst of them costs one move.
            let local = match front {
                Want::Core(_) if place.streak.get() < LOCAL_STREAK => {
                    wants.iter().position(|w| matches!(w, Want::Txn(_)))
                }
                _ => None,
            };
            match local {
                Some(i) => {
                    place.streak.set(place.streak.get() + 1);
                    wants.remove(i).expect("a found index")
                }
                None => wants.pop_front().expect("a front"),
            }
        };
        match want {
            Want::Txn(txn) => {
                place.holder.set(Some(txn));
                let wakers = place.wakers.borrow();
                if let Some((_, w)) = wakers.iter().find(|(t, _)| *t == txn) {
                    w.wake_by_ref();
                }
            }
            Want::Core(to) => self.send_shard(shard, to),
        }
    }

    /// Sends shard `shard` (here and free) to core `to`, with everything
    /// that waited for it here except this core's own transactions, which
    /// ask for it again.
    fn send_shard(&self, shard: usize, to: usize) {
        let place = &self.places[shard];
        let data = place.shard.borrow_mut().take().expect("a present shard");
        self.mesh.located[shard].store(to, Ordering::Release);
        Crossings::bump(&self.crossings.moves);
        self.mesh.send(to, Msg::Arrive(data));
        let mut wants = place.wants.borrow_mut();
        let mut mine = false;
        for want in wants.iter() {
            match *want {
                Want::Core(core) => self.mesh.send(to, Msg::Want { shard, to: core }),
                Want::Txn(_) => mine = true,
            }
        }
        wants.retain(|w| matches!(w, Want::Txn(_)));
        if mine {
            place.asked.set(true);
            self.mesh.send(to, Msg::Want { shard, to: self.id });
        }
        for (work, reply) in place.deferred.borrow_mut().drain(..) {
            self.mesh.send(to, Msg::ForShard { shard, work, reply });
        }
    }

    /// Another core wants shard `shard`.
    fn wanted(&self, shard: usize, to: usize) {
        if to == self.id {
            // This core's own request, forwarded back to it with the shard.
            return;
        }
        let place = &self.places[shard];
        if place.present() && place.holder.get().is_none() && place.wants.borrow().is_empty() {
            self.send_shard(shard, to);
        } else if place.present() || self.mesh.located(shard) == self.id {
            let mut wants = place.wants.borrow_mut();
            if !wants.contains(&Want::Core(to)) {
                wants.push_back(Want::Core(to));
            }
        } else {
            self.mesh
                .send(self.mesh.located(shard), Msg::Want { shard, to });
        }
    }

    /// A shard arrives: the work that waited for it runs, then the first
    /// waiter gets it.
    fn arrived(&self, data: Box<Shard>) {
        let shard = data.id;
        let place = &self.places[shard];
        *place.shard.borrow_mut() = Some(data);
        place.asked.set(false);
        place.streak.set(0);
        self.freed(shard);
    }

    // ------------------------------------------------------------ replies

    /// A slot for a result that some core will send here later (a blocked
    /// client's), and the future that waits for it.
    pub fn new_slot<R: 'static>(self: &Rc<Self>) -> (ReplyTo<R>, HopFuture<R>) {
        let slot = self.awaiting.borrow_mut().insert(Pending::default());
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
        let mut slots = self.awaiting.borrow_mut();
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
            Msg::ForShard { shard, work, reply } => self.accept(shard, work, reply),
            Msg::ForCore { job, reply } => self.complete(reply, job(self)),
            Msg::Post(f) => f(self),
            Msg::Done { slot, result } => self.complete(
                Slot {
                    core: self.id,
                    slot,
                },
                result,
            ),
            Msg::Want { shard, to } => self.wanted(shard, to),
            Msg::Arrive(data) => self.arrived(data),
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

/// The results of hops already sent (so they run in parallel), in order.
async fn join_in_order<R: 'static>(futures: Vec<HopFuture<R>>) -> Vec<R> {
    let mut results = Vec::with_capacity(futures.len());
    for fut in futures {
        results.push(fut.await);
    }
    results
}

/// Runs a connection's batch on the shard it was sent to.
fn run_batch(here: &mut Here, batch: Batch) -> BatchReply {
    let mut out = Out::new(batch.proto);
    let mut ends = Vec::with_capacity(batch.cmds.len());
    // One clock reading per batch, as the connection takes one per read.
    let now = now_ms();
    for cmd in &batch.cmds {
        let argv = cmd.args.argv();
        let mut ctx = Ctx {
            shard: here.shard,
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
        let mut slots = self.core.awaiting.borrow_mut();
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
        let removed = self.core.awaiting.borrow_mut().try_remove(self.slot);
        debug_assert!(removed.is_some_and(|s| s.result.is_none()));
        self.slot = usize::MAX;
    }
}

impl<R> Drop for HopFuture<R> {
    fn drop(&mut self) {
        if self.slot == usize::MAX {
            return;
        }
        let mut slots = self.core.awaiting.borrow_mut();
        if slots[self.slot].result.is_some() {
            slots.remove(self.slot);
        } else {
            // The result is still on its way; free the slot when it lands.
            slots[self.slot].abandoned = true;
            slots[self.slot].waker = None;
        }
    }
}
