//! A connection's outbox: the way out for bytes that are not the answer to
//! the read being processed — pub/sub messages pushed by publishers on this
//! core (or delivered here from another core) while the connection waits for
//! its next request.
//!
//! A connection gets an outbox when it first subscribes. From then on every
//! byte it sends goes through the outbox (replies too), so pushes and replies
//! leave in the order they were appended; a writer task of its own drains it,
//! so a subscriber that does not read stalls only that task.
//!
//! The outbox is also where Redis's `client-output-buffer-limit` is kept: it
//! counts the bytes appended but not yet taken by the kernel, and a client
//! past its class's hard limit, or past its soft limit for longer than the
//! soft period, is cut off at once — its queued bytes are freed, its socket
//! shut down, and the event counted for INFO.

use std::cell::{Cell, RefCell};
use std::os::fd::RawFd;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::config::OutputLimit;
use crate::resp::Proto;
use crate::runtime::TcpStream;
use crate::shard::dispatch::Core;

pub struct Outbox {
    /// Bytes waiting for the writer task.
    queued: RefCell<Vec<u8>>,
    /// Bytes handed to the kernel in a write that has not completed yet.
    in_flight: Cell<usize>,
    waker: Cell<Option<Waker>>,
    /// The connection, waiting for the queue to drain before it reads more.
    drained: Cell<Option<Waker>>,
    /// The protocol messages are framed in (HELLO may change it).
    proto: Cell<Proto>,
    /// When the pending bytes last went over the soft limit, if they still are.
    soft_since: Cell<Option<Instant>>,
    state: Cell<State>,
    fd: RawFd,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Open,
    /// Send what is queued, then stop (QUIT, protocol error).
    Closing,
    /// Dropped: over the output limit, or the connection is gone.
    Dead,
}

impl Outbox {
    /// An outbox for `stream`, with its writer task running on this core.
    pub fn start(core: Rc<Core>, stream: TcpStream, proto: Proto) -> Rc<Outbox> {
        let outbox = Rc::new(Outbox {
            queued: RefCell::new(Vec::new()),
            in_flight: Cell::new(0),
            waker: Cell::new(None),
            drained: Cell::new(None),
            proto: Cell::new(proto),
            soft_since: Cell::new(None),
            state: Cell::new(State::Open),
            fd: stream.raw_fd(),
        });
        crate::runtime::spawn(writer(core, outbox.clone(), stream));
        outbox
    }

    pub fn proto(&self) -> Proto {
        self.proto.get()
    }

    pub fn set_proto(&self, proto: Proto) {
        self.proto.set(proto);
    }

    /// Bytes appended and not yet taken by the kernel (CLIENT LIST's omem).
    pub fn pending(&self) -> usize {
        self.queued.borrow().len() + self.in_flight.get()
    }

    /// Whether the outbox was dropped for going over its output limit (or
    /// because the connection ended): the connection must close.
    pub fn is_dead(&self) -> bool {
        self.state.get() == State::Dead
    }

    /// Appends `bytes` for the writer. Returns false when this pushed the
    /// client over `limit`: the outbox is then dead and the socket shut down.
    pub fn push(&self, bytes: &[u8], limit: OutputLimit) -> bool {
        if bytes.is_empty() {
            return self.state.get() != State::Dead;
        }
        self.push_with(limit, |buf| buf.extend_from_slice(bytes))
    }

    /// Appends what `write` puts in the queue (a message encoded in place).
    /// Returns false when this pushed the client over `limit`.
    pub fn push_with(&self, limit: OutputLimit, write: impl FnOnce(&mut Vec<u8>)) -> bool {
        if self.state.get() != State::Open {
            return self.state.get() != State::Dead;
        }
        write(&mut self.queued.borrow_mut());
        self.queued_more(limit)
    }

    /// After bytes were queued: enforce the limit, wake the writer.
    fn queued_more(&self, limit: OutputLimit) -> bool {
        if self.over_limit(limit) {
            self.kill();
            return false;
        }
        if let Some(w) = self.waker.take() {
            w.wake();
        }
        true
    }

    /// Redis's `checkClientOutputBufferLimits`: over the hard limit at once,
    /// over the soft limit once it has lasted longer than the soft period.
    fn over_limit(&self, limit: OutputLimit) -> bool {
        let used = self.pending() as u64;
        if limit.hard > 0 && used >= limit.hard {
            return true;
        }
        if limit.soft > 0 && used >= limit.soft {
            let now = Instant::now();
            match self.soft_since.get() {
                None => self.soft_since.set(Some(now)),
                Some(since) => {
                    if now.duration_since(since) > Duration::from_secs(limit.soft_seconds) {
                        return true;
                    }
                }
            }
        } else {
            self.soft_since.set(None);
        }
        false
    }

    /// Waits until at most `bytes` are pending (or the outbox is dead): a
    /// connection reads its next requests only once the replies to the last
    /// ones are mostly sent, so a client that does not read cannot make its
    /// output grow without bound.
    pub async fn drained_to(&self, bytes: usize) {
        std::future::poll_fn(|cx| {
            if self.pending() <= bytes || self.state.get() == State::Dead {
                Poll::Ready(())
            } else {
                self.drained.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        })
        .await
    }

    fn wake_drained(&self) {
        if let Some(w) = self.drained.take() {
            w.wake();
        }
    }

    /// Drops everything queued and shuts the socket down, which also ends
    /// the connection's pending read and the writer's pending write.
    pub fn kill(&self) {
        if self.state.get() == State::Dead {
            return;
        }
        self.state.set(State::Dead);
        *self.queued.borrow_mut() = Vec::new();
        // SAFETY: shutdown on the connection's socket, which is still open:
        // the writer task holds a handle to it until it sees `Dead`.
        unsafe { libc::shutdown(self.fd, libc::SHUT_RDWR) };
        if let Some(w) = self.waker.take() {
            w.wake();
        }
        self.wake_drained();
    }

    /// Sends what is queued, then lets the writer stop (QUIT).
    pub fn close(&self) {
        if self.state.get() == State::Open {
            self.state.set(State::Closing);
        }
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// What the writer should do next: write these bytes, or stop.
    fn poll_take(&self, cx: &mut Context<'_>, spare: &mut Vec<u8>) -> Poll<Option<Vec<u8>>> {
        if self.state.get() == State::Dead {
            return Poll::Ready(None);
        }
        let mut queued = self.queued.borrow_mut();
        if !queued.is_empty() {
            spare.clear();
            let bytes = std::mem::replace(&mut *queued, std::mem::take(spare));
            self.in_flight.set(bytes.len());
            return Poll::Ready(Some(bytes));
        }
        if self.state.get() == State::Closing {
            return Poll::Ready(None);
        }
        self.waker.set(Some(cx.waker().clone()));
        Poll::Pending
    }
}

/// The writer task: sends whatever is queued, one write at a time.
async fn writer(core: Rc<Core>, outbox: Rc<Outbox>, mut stream: TcpStream) {
    let mut spare = Vec::new();
    loop {
        let next = std::future::poll_fn(|cx| outbox.poll_take(cx, &mut spare)).await;
        let Some(bytes) = next else { break };
        let (res, bytes) = stream.write_all(bytes).await;
        outbox.in_flight.set(0);
        outbox.wake_drained();
        core.clients.borrow_mut().counters.net_output_bytes += bytes.len() as u64;
        if res.is_err() {
            outbox.kill();
            break;
        }
        spare = crate::server::connection::reusable(
            bytes,
            crate::server::connection::REPLY_BUFFER_IDLE,
        );
    }
}
