//! One shard's log: records appended by whichever core holds the shard,
//! written and fsynced by one flusher task through its core's ring.
//!
//! - [`ShardLog`] is the shard's effect sink: it travels with the shard and
//!   turns the shard's effects into RESP records (SELECT when the database
//!   changes, the command's propagated form, DEL for an expired key,
//!   FLUSHALL/FLUSHDB), and frames a transaction's share of work as one
//!   unit (see `aof` for why).
//! - [`LogShared`] is what the cores share: records appended and not yet
//!   written, and three marks in bytes of the log's whole history:
//!   `appended` ≥ `written` ≥ `synced`.
//! - [`flusher`] is the one task that writes the log: it takes everything
//!   appended so far and writes it; with `appendfsync always` through an
//!   O_DSYNC descriptor, so the write completes once the data is on disk,
//!   before it moves `synced`. Records appended meanwhile wait for the next
//!   turn, so every connection of every core shares one disk write (group
//!   commit). With `everysec` a timer task fsyncs what was written, at most
//!   a second apart; with `no` nothing is fsynced.
//!
//! A connection answers a batch only once every log holds what was appended
//! when the batch ended ([`Aof::wait_durable`]): `synced` with `always`,
//! `written` otherwise. So a reply never tells of a write that a crash of
//! the process (`written`) or of the machine (`synced`, with `always`)
//! could take back, and a transaction's reply waits for all its parts.

use std::collections::VecDeque;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::resp::encode::command;
use crate::runtime;
use crate::shard::effects::{Effect, EffectSink};

/// `appendfsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    Always,
    Everysec,
    No,
}

impl Fsync {
    pub fn parse(s: &str) -> Option<Fsync> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Some(Fsync::Always),
            "everysec" => Some(Fsync::Everysec),
            "no" => Some(Fsync::No),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Fsync::Always => "always",
            Fsync::Everysec => "everysec",
            Fsync::No => "no",
        }
    }

    fn code(self) -> u8 {
        self as u8
    }

    fn from_code(c: u8) -> Fsync {
        match c {
            0 => Fsync::Always,
            1 => Fsync::Everysec,
            _ => Fsync::No,
        }
    }
}

/// The file a log writes to now.
pub struct LogFile {
    pub fd: Arc<OwnedFd>,
    /// Bytes already in it (where the next write goes).
    pub len: u64,
}

impl LogFile {
    /// The same file opened with O_DSYNC: with `always`, one write that
    /// returns once the data is on disk replaces write-then-fsync (one trip
    /// through the ring per group instead of two).
    fn dsync(&self) -> Option<Arc<OwnedFd>> {
        use std::os::fd::{AsRawFd, FromRawFd};
        let path = std::ffi::CString::new(format!("/proc/self/fd/{}", self.fd.as_raw_fd())).ok()?;
        // SAFETY: a valid C string; open returns a new descriptor or -1.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_WRONLY | libc::O_DSYNC | libc::O_CLOEXEC,
            )
        };
        // SAFETY: a fresh descriptor we own.
        (fd >= 0).then(|| Arc::new(unsafe { OwnedFd::from_raw_fd(fd) }))
    }
}

/// What the flusher takes, in order.
enum Chunk {
    Bytes(Vec<u8>),
    /// One big record, handed over whole rather than copied into `Bytes`;
    /// nothing is appended to it.
    Sealed(Vec<u8>),
    /// From here on, write to this file (a rewrite started a new
    /// incremental file); the old one is fsynced first.
    Switch(LogFile),
}

struct Pending {
    chunks: VecDeque<Chunk>,
    /// The database the file's records are in now (None: not said yet; a
    /// new file starts with a SELECT).
    db: Option<usize>,
    /// Unix second of the last `#TS:` annotation (aof-timestamp-enabled).
    last_ts: u64,
}

/// What the cores share of one shard's log.
pub struct LogShared {
    pub shard: usize,
    pending: Mutex<Pending>,
    appended: AtomicU64,
    written: AtomicU64,
    synced: AtomicU64,
    /// Connections waiting for a mark: (bytes, needs fsync, waker).
    waiters: Mutex<Vec<(u64, bool, Waker)>>,
    /// The flusher, when it waits for records.
    flusher: Mutex<Option<Waker>>,
    /// The file the flusher writes to now (for the everysec fsync).
    current: Mutex<Arc<OwnedFd>>,
    fsync: AtomicU8,
    timestamps: AtomicBool,
    /// The last write or fsync failed (INFO's aof_last_write_status).
    pub failed: AtomicBool,
    /// errno of the last failure.
    pub errno: std::sync::atomic::AtomicI32,
    /// Bytes in the current file and its base (INFO's aof_current_size).
    pub file_len: AtomicU64,
    /// everysec fsyncs that took over 2 s.
    pub delayed_fsyncs: AtomicU64,
    /// An everysec fsync is in flight.
    pub fsyncing: AtomicBool,
    /// The flusher should stop (appendonly turned off).
    stop: AtomicBool,
}

impl LogShared {
    pub fn new(shard: usize, file: LogFile, fsync: Fsync, timestamps: bool) -> Arc<LogShared> {
        let current = Mutex::new(file.fd.clone());
        let file_len = AtomicU64::new(file.len);
        Arc::new(LogShared {
            shard,
            pending: Mutex::new(Pending {
                // The flusher's first chunk gives it its file.
                chunks: VecDeque::from([Chunk::Switch(file)]),
                db: None,
                last_ts: 0,
            }),
            appended: AtomicU64::new(0),
            written: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            waiters: Mutex::new(Vec::new()),
            flusher: Mutex::new(None),
            current,
            fsync: AtomicU8::new(fsync.code()),
            timestamps: AtomicBool::new(timestamps),
            failed: AtomicBool::new(false),
            errno: Default::default(),
            file_len,
            delayed_fsyncs: AtomicU64::new(0),
            fsyncing: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        })
    }

    pub fn fsync_policy(&self) -> Fsync {
        Fsync::from_code(self.fsync.load(Ordering::Relaxed))
    }

    pub fn set_fsync(&self, f: Fsync) {
        self.fsync.store(f.code(), Ordering::Relaxed);
    }

    pub fn set_timestamps(&self, on: bool) {
        self.timestamps.store(on, Ordering::Relaxed);
    }

    /// Bytes appended so far, in the log's whole history.
    pub fn appended(&self) -> u64 {
        self.appended.load(Ordering::Acquire)
    }

    /// Bytes appended and not yet written (INFO's aof_buffer_length).
    pub fn buffered(&self) -> u64 {
        self.appended.load(Ordering::Acquire) - self.written.load(Ordering::Acquire)
    }

    /// Appends records: `f` writes them given the database the file is in
    /// (and updates it).
    fn append(&self, f: impl FnOnce(&mut Vec<u8>, &mut Option<usize>)) {
        self.append_then(f, None);
    }

    /// [`append`](Self::append), then `sealed` (one encoded record, moved
    /// rather than copied: a big value), under the same lock so that no
    /// other record comes between.
    fn append_then(
        &self,
        f: impl FnOnce(&mut Vec<u8>, &mut Option<usize>),
        sealed: Option<Vec<u8>>,
    ) {
        let mut p = self.pending.lock().expect("not poisoned");
        let p = &mut *p;
        if !matches!(p.chunks.back(), Some(Chunk::Bytes(_))) {
            p.chunks.push_back(Chunk::Bytes(Vec::new()));
        }
        let Some(Chunk::Bytes(buf)) = p.chunks.back_mut() else {
            unreachable!("just pushed");
        };
        let before = buf.len();
        if self.timestamps.load(Ordering::Relaxed) {
            let now = crate::shard::now_ms() / 1000;
            if now != p.last_ts {
                p.last_ts = now;
                buf.extend_from_slice(format!("#TS:{now}\r\n").as_bytes());
            }
        }
        f(buf, &mut p.db);
        let mut added = (buf.len() - before) as u64;
        if let Some(record) = sealed {
            added += record.len() as u64;
            p.chunks.push_back(Chunk::Sealed(record));
        }
        self.appended.fetch_add(added, Ordering::AcqRel);
        if let Some(w) = self.flusher.lock().expect("not poisoned").take() {
            w.wake();
        }
    }

    /// Appends `record`, one encoded record in database `db`, by moving it.
    fn append_sealed(&self, db: usize, record: Vec<u8>) {
        self.append_then(|buf, cur| select(buf, cur, db), Some(record));
    }

    /// Appends one command in database `db` (outside any transaction).
    pub fn append_command(&self, db: usize, argv: &[&[u8]]) {
        self.append(|buf, cur| {
            select(buf, cur, db);
            command(buf, argv);
        });
    }

    /// From the next record on, the log goes to `file` (a rewrite's new
    /// incremental file), which starts without a database selected.
    pub fn switch_to(&self, file: LogFile) {
        let mut p = self.pending.lock().expect("not poisoned");
        p.chunks.push_back(Chunk::Switch(file));
        p.db = None;
        drop(p);
        if let Some(w) = self.flusher.lock().expect("not poisoned").take() {
            w.wake();
        }
    }

    /// The mark a reply waits for under the current policy, and whether it
    /// is reached for `target`.
    fn reached(&self, target: u64, sync: bool) -> bool {
        let mark = if sync { &self.synced } else { &self.written };
        mark.load(Ordering::Acquire) >= target
    }

    fn wake_waiters(&self) {
        let written = self.written.load(Ordering::Acquire);
        let synced = self.synced.load(Ordering::Acquire);
        let mut w = self.waiters.lock().expect("not poisoned");
        w.retain(|(target, sync, waker)| {
            let done = if *sync {
                synced >= *target
            } else {
                written >= *target
            };
            if done {
                waker.wake_by_ref();
            }
            !done
        });
    }

    /// Stops the flusher once it has written what was appended.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        if let Some(w) = self.flusher.lock().expect("not poisoned").take() {
            w.wake();
        }
    }

    /// Everything appended so far is written and (unless `no`) fsynced.
    pub fn drained(&self) -> bool {
        let appended = self.appended.load(Ordering::Acquire);
        let sync = self.fsync_policy() != Fsync::No;
        self.reached(appended, sync) && self.reached(appended, false)
    }
}

/// Waits until `log` has `target` bytes written (and fsynced if `sync`).
pub struct Durable<'a> {
    pub log: &'a LogShared,
    pub target: u64,
    pub sync: bool,
}

impl std::future::Future for Durable<'_> {
    type Output = ();

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.log.reached(self.target, self.sync) {
            return std::task::Poll::Ready(());
        }
        self.log.waiters.lock().expect("not poisoned").push((
            self.target,
            self.sync,
            cx.waker().clone(),
        ));
        // The flusher may have moved the mark in between.
        if self.log.reached(self.target, self.sync) {
            return std::task::Poll::Ready(());
        }
        std::task::Poll::Pending
    }
}

impl LogShared {
    /// What a reply must wait for now: (bytes, needs fsync), or None when
    /// nothing is outstanding.
    pub fn outstanding(&self) -> Option<(u64, bool)> {
        let appended = self.appended.load(Ordering::Acquire);
        let sync = self.fsync_policy() == Fsync::Always;
        (!self.reached(appended, sync)).then_some((appended, sync))
    }
}

/// The shard's effect sink that feeds its log (see the module doc).
pub struct ShardLog {
    pub shared: Arc<LogShared>,
    /// The shard's records while a transaction holds it.
    part: Option<Records>,
    /// The running command's records, outside a transaction (kept, with
    /// its capacity, from one command to the next).
    cmd: Records,
}

/// A command's one record bigger than this is handed to the flusher whole.
const SEAL_OVER: usize = 64 * 1024;

/// Records encoded one after another, with each one's database and end.
#[derive(Default)]
struct Records {
    bytes: Vec<u8>,
    ends: Vec<(usize, usize)>,
}

impl Records {
    fn push(&mut self, db: usize, argv: &[&[u8]]) {
        command(&mut self.bytes, argv);
        self.ends.push((db, self.bytes.len()));
    }

    fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    /// Empties it; a buffer a big value grew is given back.
    fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        if self.bytes.capacity() > 64 * 1024 {
            self.bytes = Vec::new();
        }
    }
}

impl ShardLog {
    pub fn new(shared: Arc<LogShared>) -> ShardLog {
        ShardLog {
            shared,
            part: None,
            cmd: Records::default(),
        }
    }

    fn record(&mut self, db: usize, argv: &[&[u8]]) {
        match &mut self.part {
            Some(part) => part.push(db, argv),
            None => self.cmd.push(db, argv),
        }
    }

    /// Appends the running command's records: one as it is, several as a
    /// MULTI/EXEC block, as Redis propagates them.
    fn flush_command(&mut self) {
        if self.cmd.is_empty() {
            return;
        }
        if self.cmd.len() == 1 && self.cmd.bytes.len() > SEAL_OVER {
            // A big value: its record moves to the flusher whole.
            let db = self.cmd.ends[0].0;
            let record = std::mem::take(&mut self.cmd.bytes);
            self.cmd.clear();
            self.shared.append_sealed(db, record);
            return;
        }
        let records = &self.cmd;
        self.shared
            .append(|buf, cur| unit(buf, cur, records, records.len() > 1));
        self.cmd.clear();
    }
}

/// Appends `records` to `buf` (SELECTs as needed), inside MULTI/EXEC when
/// `wrap`.
fn unit(buf: &mut Vec<u8>, cur: &mut Option<usize>, records: &Records, wrap: bool) {
    if let Some(&(db, _)) = records.ends.first() {
        // SELECT before MULTI, as Redis does.
        select(buf, cur, db);
    }
    if wrap {
        command(buf, &[b"MULTI"]);
    }
    let mut start = 0;
    for &(db, end) in &records.ends {
        select(buf, cur, db);
        buf.extend_from_slice(&records.bytes[start..end]);
        start = end;
    }
    if wrap {
        command(buf, &[b"EXEC"]);
    }
}

impl EffectSink for ShardLog {
    fn effect(&mut self, effect: &Effect) {
        match *effect {
            Effect::Expired { db, key } => self.record(db, &[b"DEL", key]),
            // A flush may come from work with no command end on this shard
            // (FLUSHALL's hop): it goes out at once.
            Effect::Flushed { db: None } => {
                self.record(0, &[b"FLUSHALL"]);
                if self.part.is_none() {
                    self.flush_command();
                }
            }
            Effect::Flushed { db: Some(db) } => {
                self.record(db, &[b"FLUSHDB"]);
                if self.part.is_none() {
                    self.flush_command();
                }
            }
            Effect::Wrote { .. } | Effect::Logged { .. } => {}
        }
    }

    fn command_end(&mut self) {
        self.flush_command();
    }

    fn command(&mut self, db: usize, argv: &[&[u8]]) {
        self.record(db, argv);
    }

    fn txn_begin(&mut self) {
        self.flush_command();
        self.part = Some(Records::default());
    }

    fn txn_wrote(&self) -> bool {
        self.part.as_ref().is_some_and(|p| !p.is_empty())
    }

    fn is_log(&self) -> bool {
        true
    }

    fn txn_end(&mut self, id: u64, parts: usize) {
        let Some(part) = self.part.take() else {
            return;
        };
        if part.is_empty() {
            return;
        }
        self.shared.append(|buf, cur| {
            if let Some(&(db, _)) = part.ends.first() {
                select(buf, cur, db);
            }
            if parts > 1 {
                buf.extend_from_slice(format!("#TXN:{id}:{parts}\r\n").as_bytes());
            }
            // One record needs no MULTI: it is whole or absent anyway.
            unit(buf, cur, &part, parts > 1 || part.len() > 1);
        });
    }
}

fn select(buf: &mut Vec<u8>, cur: &mut Option<usize>, db: usize) {
    if *cur != Some(db) {
        let mut n = itoa::Buffer::new();
        command(buf, &[b"SELECT", n.format(db).as_bytes()]);
        *cur = Some(db);
    }
}

/// How long a failed write or fsync waits before it is tried again.
const RETRY: Duration = Duration::from_secs(1);

/// The one task that writes `log` (see the module doc). Runs until the log
/// is stopped and drained.
pub async fn flusher(log: Arc<LogShared>) {
    let mut file: Option<LogFile> = None;
    // Written and not yet known fsynced, kept to write again if an fsync
    // fails (the kernel may have dropped those pages).
    let mut unsynced: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut everysec_started = false;
    // The current file opened with O_DSYNC, for `always`.
    let mut dsync: Option<Arc<OwnedFd>> = None;
    loop {
        let next = {
            let mut p = log.pending.lock().expect("not poisoned");
            if !p.chunks.is_empty() {
                Some((
                    std::mem::take(&mut p.chunks),
                    log.appended.load(Ordering::Acquire),
                ))
            } else {
                None
            }
        };
        let Some((chunks, end)) = next else {
            if log.stop.load(Ordering::Acquire) {
                if let Some(f) = &file {
                    if log.fsync_policy() != Fsync::No {
                        sync_until_ok(&log, f, &mut unsynced).await;
                    }
                }
                log.synced
                    .fetch_max(log.written.load(Ordering::Acquire), Ordering::AcqRel);
                log.wake_waiters();
                return;
            }
            Idle { log: &log }.await;
            continue;
        };
        for chunk in chunks {
            match chunk {
                Chunk::Bytes(bytes) | Chunk::Sealed(bytes) => {
                    let f = file.as_mut().expect("a log starts with its file");
                    let at = f.len;
                    if log.fsync_policy() == Fsync::Always {
                        if dsync.is_none() {
                            dsync = f.dsync();
                        }
                        if let Some(d) = &dsync {
                            let mut via = LogFile {
                                fd: d.clone(),
                                len: f.len,
                            };
                            let _ = write_all(&log, &mut via, bytes).await;
                            f.len = via.len;
                            continue;
                        }
                    }
                    let bytes = write_all(&log, f, bytes).await;
                    if log.fsync_policy() == Fsync::Always {
                        // Kept until fsynced, to write again if that fails.
                        unsynced.push((at, bytes));
                    }
                }
                Chunk::Switch(next) => {
                    if let Some(old) = &file {
                        sync_until_ok(&log, old, &mut unsynced).await;
                    }
                    *log.current.lock().expect("not poisoned") = next.fd.clone();
                    dsync = None;
                    log.file_len.store(next.len, Ordering::Relaxed);
                    file = Some(next);
                    unsynced.clear();
                }
            }
        }
        log.written.store(end, Ordering::Release);
        match log.fsync_policy() {
            Fsync::Always => {
                // Written through O_DSYNC (or fsynced here if that could
                // not be opened, or the policy just changed).
                if !unsynced.is_empty() || dsync.is_none() {
                    let f = file.as_ref().expect("a log starts with its file");
                    sync_until_ok(&log, f, &mut unsynced).await;
                }
                log.synced.store(end, Ordering::Release);
            }
            Fsync::Everysec if !everysec_started => {
                everysec_started = true;
                runtime::spawn(everysec(log.clone()));
            }
            Fsync::No => {
                unsynced.clear();
                log.synced.store(end, Ordering::Release);
            }
            Fsync::Everysec => {
                // The timer fsyncs; what it covered needs no copy here.
                unsynced.clear();
            }
        }
        log.wake_waiters();
    }
}

/// Writes all of `bytes` at the end of `f`, retrying a failure every
/// second (writes meanwhile get MISCONF, see `Aof::write_error`).
async fn write_all(log: &LogShared, f: &mut LogFile, bytes: Vec<u8>) -> Vec<u8> {
    let mut bytes = bytes;
    let mut done = 0usize;
    while done < bytes.len() {
        let (res, back) = runtime::write_at(f.fd.clone(), f.len, bytes, done).await;
        bytes = back;
        match res {
            Ok(0) => fail(log, libc::ENOSPC),
            Ok(n) => {
                done += n;
                f.len += n as u64;
                log.file_len.fetch_add(n as u64, Ordering::Relaxed);
                if log.failed.swap(false, Ordering::AcqRel) {
                    eprintln!("ringbus: AOF write error looks solved. Ringbus can write again.");
                }
                continue;
            }
            Err(e) => fail(log, e.raw_os_error().unwrap_or(libc::EIO)),
        }
        runtime::sleep(RETRY).await;
    }
    bytes
}

fn fail(log: &LogShared, errno: i32) {
    log.errno.store(errno, Ordering::Relaxed);
    if !log.failed.swap(true, Ordering::AcqRel) {
        eprintln!(
            "ringbus: Error writing to the AOF file of shard {}: {}",
            log.shard,
            std::io::Error::from_raw_os_error(errno)
        );
    }
}

/// fsyncs `f`; after a failure, writes `unsynced` again and retries.
async fn sync_until_ok(log: &LogShared, f: &LogFile, unsynced: &mut Vec<(u64, Vec<u8>)>) {
    loop {
        match runtime::fsync(f.fd.clone(), true).await {
            Ok(()) => {
                unsynced.clear();
                return;
            }
            Err(e) => {
                fail(log, e.raw_os_error().unwrap_or(libc::EIO));
                runtime::sleep(RETRY).await;
                for (at, bytes) in unsynced.iter() {
                    let mut again = LogFile {
                        fd: f.fd.clone(),
                        len: *at,
                    };
                    let _ = write_all(log, &mut again, bytes.clone()).await;
                }
            }
        }
    }
}

/// `appendfsync everysec`: fsyncs what was written, at most a second apart,
/// beside the flusher (which goes on writing meanwhile).
async fn everysec(log: Arc<LogShared>) {
    loop {
        runtime::sleep(Duration::from_secs(1)).await;
        if log.stop.load(Ordering::Acquire) && log.drained() {
            return;
        }
        if log.fsync_policy() != Fsync::Everysec {
            continue;
        }
        let written = log.written.load(Ordering::Acquire);
        if log.synced.load(Ordering::Acquire) >= written {
            continue;
        }
        let fd = log.current.lock().expect("not poisoned").clone();
        let started = Instant::now();
        log.fsyncing.store(true, Ordering::Relaxed);
        let res = runtime::fsync(fd, true).await;
        log.fsyncing.store(false, Ordering::Relaxed);
        if let Err(e) = res {
            fail(&log, e.raw_os_error().unwrap_or(libc::EIO));
            continue;
        }
        if started.elapsed() > Duration::from_secs(2) {
            log.delayed_fsyncs.fetch_add(1, Ordering::Relaxed);
        }
        log.synced.fetch_max(written, Ordering::AcqRel);
        log.wake_waiters();
    }
}

/// The flusher's wait for records.
struct Idle<'a> {
    log: &'a LogShared,
}

impl std::future::Future for Idle<'_> {
    type Output = ();

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        let p = self.log.pending.lock().expect("not poisoned");
        if !p.chunks.is_empty() || self.log.stop.load(Ordering::Acquire) {
            return std::task::Poll::Ready(());
        }
        *self.log.flusher.lock().expect("not poisoned") = Some(cx.waker().clone());
        std::task::Poll::Pending
    }
}
