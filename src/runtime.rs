//! The io_uring executor underneath ringbus, kept behind this one module so the
//! choice stays visible and can be revisited (tuning.md has the measurements
//! that picked it). Everything else uses only what is here: one executor per
//! thread, local tasks, TCP with owned buffers, timers, and an eventfd wake-up
//! that other threads may trigger.
//!
//! Runtime: compio (pinned to one exact version, as its API moves between
//! minor releases), with `IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG`
//! so completions do not interrupt the running thread with task work.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use compio::buf::{IntoInner, IoBuf};
use compio::driver::ProactorBuilder;
use compio::io::{AsyncRead, AsyncWriteExt};
use compio::runtime::fd::AsyncFd;
use compio::runtime::RuntimeBuilder;
use compio::BufResult;

/// io_uring set-up of each executor (`--ring-entries`, `--ring-taskrun`).
pub struct RingOptions {
    pub entries: u32,
    pub taskrun: String,
}

/// Builds an executor on the current thread (pinned to `cpu` if given) and
/// runs the future `make()` returns until it completes.
pub fn run_executor<F, Fut>(cpu: Option<usize>, ring: RingOptions, make: F) -> io::Result<()>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    if let Some(cpu) = cpu {
        pin_to_cpu(cpu)?;
    }
    let mut proactor = ProactorBuilder::new();
    proactor.capacity(ring.entries);
    match ring.taskrun.as_str() {
        "coop" => {
            proactor.coop_taskrun(true).taskrun_flag(true);
        }
        "defer" => {
            proactor.single_issuer(true).defer_taskrun(true);
        }
        _ => {}
    }
    let rt = RuntimeBuilder::new().with_proactor(proactor).build()?;
    rt.block_on(make());
    Ok(())
}

/// The CPUs the calling thread may run on (its affinity mask), ascending.
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills the set we pass.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect())
    }
}

/// Pins the calling thread to one CPU.
pub fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data; sched_setaffinity reads the set we pass.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(
                e.kind(),
                format!("cannot pin to CPU {cpu}: {e} (use --no-pin)"),
            ));
        }
    }
    Ok(())
}

/// Runs a task on this thread's executor.
pub fn spawn<F: Future<Output = ()> + 'static>(fut: F) {
    compio::runtime::spawn(fut).detach();
}

pub async fn sleep(d: Duration) {
    compio::runtime::time::sleep(d).await;
}

/// Lets other ready tasks run before continuing.
pub async fn yield_now() {
    struct YieldNow(bool);
    impl Future for YieldNow {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
    YieldNow(false).await
}

/// Which of two futures finished first.
pub enum First<A, B> {
    Left(A),
    Right(B),
}

/// Waits for whichever of `a` and `b` finishes first (`a` wins a tie); the
/// other is left unfinished for the caller to drop.
pub async fn first<A: Future, B: Future>(
    mut a: Pin<&mut A>,
    mut b: Pin<&mut B>,
) -> First<A::Output, B::Output> {
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = a.as_mut().poll(cx) {
            return Poll::Ready(First::Left(v));
        }
        if let Poll::Ready(v) = b.as_mut().poll(cx) {
            return Poll::Ready(First::Right(v));
        }
        Poll::Pending
    })
    .await
}

/// The sending side of a core's wake-up: any thread may call `notify`.
pub struct Notifier {
    fd: std::sync::Arc<OwnedFd>,
}

/// The waiting side, used by the core's own mailbox task.
pub struct Notified {
    fd: std::sync::Arc<OwnedFd>,
}

/// A wake-up channel on an eventfd.
pub fn notifier() -> io::Result<(Notifier, Notified)> {
    // SAFETY: eventfd returns a new descriptor or -1.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor we own.
    let fd = std::sync::Arc::new(unsafe { OwnedFd::from_raw_fd(fd) });
    Ok((Notifier { fd: fd.clone() }, Notified { fd }))
}

impl Notifier {
    pub fn notify(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our eventfd. It cannot
        // fail short of the counter overflowing, which needs 2^64 wake-ups.
        unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }
}

impl Notified {
    /// The waiter for the executor thread that owns this wake-up.
    pub fn into_waiter(self) -> io::Result<Waiter> {
        // The eventfd is read through io_uring so the executor keeps running
        // other tasks meanwhile; the reader owns a duplicate of the descriptor.
        // SAFETY: dup returns a new descriptor or -1.
        let dup = unsafe { libc::dup(self.fd.as_raw_fd()) };
        if dup < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: dup is a fresh descriptor we own.
        let fd = AsyncFd::new(unsafe { OwnedFd::from_raw_fd(dup) })?;
        Ok(Waiter {
            fd,
            buf: Some(Vec::with_capacity(8)),
        })
    }
}

/// Waits for a [`Notifier`] on the executor that owns it.
pub struct Waiter {
    fd: AsyncFd<OwnedFd>,
    buf: Option<Vec<u8>>,
}

impl Waiter {
    /// Waits until `notify` was called at least once since the last wait
    /// (reading an eventfd resets its counter).
    pub async fn wait(&mut self) {
        let mut buf = self.buf.take().unwrap_or_default();
        buf.clear();
        let BufResult(_, buf) = self.fd.read(buf).await;
        self.buf = Some(buf);
    }
}

/// The most one socket read or write asks of the kernel: a send or receive
/// of more than `i32::MAX` bytes is refused with EINVAL, and a request of
/// gigabytes (`proto-max-bulk-len 4gb`) is read and written in steps.
pub const MAX_IO: usize = 1 << 30;

pub struct TcpListener(compio::net::TcpListener);

impl TcpListener {
    pub fn from_std(l: std::net::TcpListener) -> io::Result<TcpListener> {
        l.set_nonblocking(true)?;
        Ok(TcpListener(compio::net::TcpListener::from_std(l)?))
    }

    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = self.0.accept().await?;
        stream.set_nodelay(true)?;
        Ok((TcpStream(stream), addr))
    }
}

/// A TCP connection. Clones are handles on the same socket, so one task can
/// read while another writes (a connection and its outbox's writer).
#[derive(Clone)]
pub struct TcpStream(compio::net::TcpStream);

impl TcpStream {
    /// Reads into the spare capacity of `buf` (after its length), growing its
    /// length; at most [`MAX_IO`] bytes at a time.
    pub async fn read(&mut self, buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        let start = buf.len();
        let end = buf.capacity().min(start + MAX_IO);
        let BufResult(res, slice) = self.0.read(buf.slice(start..end)).await;
        (res, slice.into_inner())
    }

    /// Writes all of `buf`, at most [`MAX_IO`] bytes per system call.
    pub async fn write_all(&mut self, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        if buf.len() <= MAX_IO {
            let BufResult(res, buf) = self.0.write_all(buf).await;
            return (res, buf);
        }
        let mut at = 0;
        let mut buf = buf;
        while at < buf.len() {
            let end = buf.len().min(at + MAX_IO);
            let BufResult(res, slice) = self.0.write_all(buf.slice(at..end)).await;
            buf = slice.into_inner();
            if let Err(e) = res {
                return (Err(e), buf);
            }
            at = end;
        }
        (Ok(()), buf)
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }

    pub fn raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// Sends a final error line to a client we will not serve, then drops it.
pub async fn reject(mut stream: TcpStream, line: &'static [u8]) {
    let _ = stream.write_all(line.to_vec()).await;
}

/// Writes `buf[from..]` to `fd` at `offset` through this executor's ring (a
/// log's append): the core goes on serving while the kernel writes. The
/// buffer comes back whole, uncopied.
pub async fn write_at(
    fd: std::sync::Arc<OwnedFd>,
    offset: u64,
    buf: Vec<u8>,
    from: usize,
) -> (io::Result<usize>, Vec<u8>) {
    let op = compio::driver::op::WriteAt::new(fd, offset, buf.slice(from..));
    let BufResult(res, op) = compio::runtime::submit(op).await;
    (res, op.into_inner().into_inner())
}

/// fsync (`data`: fdatasync) of `fd` through this executor's ring.
pub async fn fsync(fd: std::sync::Arc<OwnedFd>, data: bool) -> io::Result<()> {
    let op = compio::driver::op::Sync::new(fd, data);
    compio::runtime::submit(op).await.0.map(|_| ())
}
