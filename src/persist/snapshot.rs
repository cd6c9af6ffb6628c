//! The snapshot driver: SAVE, BGSAVE and the save rules write `dump.rdb`
//! without fork and without stopping the cores; start-up loads it.
//!
//! How a snapshot runs:
//! 1. **Point in time.** A transaction takes every shard (so no cross-shard
//!    transaction is half done) and starts a [`DbSnap`] on every database,
//!    then lets the shards go. From here each database is walked while it
//!    keeps serving; a key changed before the walker reaches it is encoded
//!    first (`shard::snapshot` states the invariant).
//! 2. **Walk.** The driver (a task on the core that started the snapshot)
//!    asks every shard for a step at once, wherever each shard is; each
//!    step takes about [`STEP_KEYS`] keys per database and hands them over:
//!    strings copied out and big streams frozen (the writer thread encodes
//!    them), other values encoded by the core that holds the shard.
//! 3. **Disk.** A writer thread (plain std, no runtime) appends each
//!    database's records to a part file and, when every shard is done,
//!    joins header, aux fields, function libraries, the databases and the
//!    checksum into `temp-<pid>.rdb`, fsyncs it, renames it over
//!    `dbfilename` and fsyncs the directory. The cores never wait on the
//!    disk; a full channel makes the driver wait, not the shards.
//!
//! A failed snapshot (disk full, directory gone) ends every shard's walk,
//! removes its temporary files, leaves the previous file alone and sets
//! `rdb_last_bgsave_status:err`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::rdb::{AuxInfo, EncodeOptions, Item, KeyMeta, RdbReader, RdbWriter, RecordWriter};
use super::values::{write_frozen_stream, Build};
use crate::config::Config;
use crate::runtime;
use crate::shard::dispatch::Core;
use crate::shard::route::shard_of;
use crate::shard::snapshot::{DbSnap, Later, Taken};
use crate::shard::txn::Txn;
use crate::shard::{now_ms, Shard};

/// Keys a step encodes per database (about: whole key-table segments), so
/// that a step takes well under a millisecond of its core.
pub const STEP_KEYS: usize = 512;

/// What INFO persistence, LASTSAVE and the save rules read; one per process.
#[derive(Default)]
pub struct Persistence {
    /// A snapshot is being written.
    pub in_progress: AtomicBool,
    /// Changes (summed `dirty` of the shards) at the point of the last
    /// successful snapshot, or at start-up load.
    pub dirty_saved: AtomicU64,
    /// The last snapshot succeeded (or none was tried): read on every write
    /// for MISCONF, so an atomic rather than the state's lock.
    failed: AtomicBool,
    pub state: Mutex<SaveState>,
    /// A snapshot is being loaded at start (commands get -LOADING).
    loading: AtomicBool,
    /// Cores that have not yet taken their loaded shard.
    loading_cores: std::sync::atomic::AtomicUsize,
    /// INFO's loading_*: start (unix s), file size, bytes decoded so far.
    pub loading_start: AtomicU64,
    pub loading_total_bytes: AtomicU64,
    pub loaded_bytes: AtomicU64,
    /// The `used-mem` aux field of the file being loaded.
    pub loading_rdb_used_mem: AtomicU64,
    /// A snapshot walk runs (a save's or an AOF rewrite's): one at a time,
    /// as a database holds one snapshot.
    walk: AtomicBool,
}

#[derive(Debug, Clone)]
pub struct SaveState {
    /// Unix seconds of the last successful save (start time before any).
    pub last_save: u64,
    pub last_ok: bool,
    /// Seconds the last snapshot took, -1 before any.
    pub last_secs: i64,
    /// When the running snapshot began.
    pub started: Option<Instant>,
    /// Unix seconds of the last attempt (for the retry delay after an error).
    pub last_try: u64,
    /// Successful snapshots since start.
    pub saves: u64,
    /// Keys the running snapshot has written so far, and had at its point.
    pub keys_done: u64,
    pub keys_total: u64,
    /// The last load at start-up: keys loaded, and keys skipped as expired.
    pub loaded: u64,
    pub load_expired: u64,
}

impl Default for SaveState {
    fn default() -> Self {
        SaveState {
            last_save: now_ms() / 1000,
            last_ok: true,
            last_secs: -1,
            started: None,
            last_try: 0,
            saves: 0,
            keys_done: 0,
            keys_total: 0,
            loaded: 0,
            load_expired: 0,
        }
    }
}

impl Persistence {
    pub fn state(&self) -> SaveState {
        self.state.lock().expect("not poisoned").clone()
    }

    /// Takes the one snapshot walk; false if it is taken.
    pub fn claim_walk(&self) -> bool {
        !self.walk.swap(true, Ordering::AcqRel)
    }

    pub fn release_walk(&self) {
        self.walk.store(false, Ordering::Release);
    }

    pub fn in_progress(&self) -> bool {
        self.in_progress.load(Ordering::Acquire)
    }

    pub fn dirty_saved(&self) -> u64 {
        self.dirty_saved.load(Ordering::Acquire)
    }

    pub fn last_ok(&self) -> bool {
        !self.failed.load(Ordering::Acquire)
    }

    /// Start-up found `path` and loads it.
    pub fn begin_loading(&self, path: &Path) {
        self.loading.store(true, Ordering::Release);
        self.loading_start.store(now_ms() / 1000, Ordering::Relaxed);
        let len = fs::metadata(path).map_or(0, |m| m.len());
        self.loading_total_bytes.store(len, Ordering::Relaxed);
    }

    pub fn is_loading(&self) -> bool {
        self.loading.load(Ordering::Acquire)
    }

    /// The file is decoded; `cores` cores now take their shards.
    pub fn note_loaded(&self, keys: u64, expired: u64, cores: usize) {
        self.update(|s| {
            s.loaded = keys;
            s.load_expired = expired;
        });
        self.loading_cores.store(cores, Ordering::Release);
    }

    /// A core has its loaded shard; the last one ends loading.
    pub fn core_took_loaded(&self) {
        if self.loading_cores.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.loading.store(false, Ordering::Release);
        }
    }

    fn update(&self, f: impl FnOnce(&mut SaveState)) {
        f(&mut self.state.lock().expect("not poisoned"))
    }
}

/// Why a snapshot did not happen.
#[derive(Debug)]
pub enum SaveError {
    /// Another one is running.
    InProgress,
    /// An AOF rewrite is running.
    Rewriting,
    /// It failed; the message says where.
    Failed(String),
}

/// The encoding options `config` asks for.
pub fn encode_options(config: &Config) -> EncodeOptions {
    EncodeOptions {
        compression: config.rdbcompression,
        checksum: config.rdbchecksum,
        ..EncodeOptions::default()
    }
}

/// The file snapshots go to and start-up reads.
pub fn rdb_path(config: &Config) -> PathBuf {
    config.dir.join(&config.dbfilename)
}

/// What the writer thread gets.
enum ToWriter {
    /// What a step took from database `db`: records to append, and values
    /// to encode first (see `Later`).
    Part { db: usize, taken: Taken },
    /// Every shard is done: join the file. Per database: records, with a deadline.
    Finish {
        sizes: Vec<(u64, u64)>,
        functions: Vec<Vec<u8>>,
        used_mem: u64,
    },
}

/// Takes a snapshot now, from `core`; returns when the file is in place.
pub async fn save(core: Rc<Core>) -> Result<(), SaveError> {
    let p = &core.shared.persistence;
    if p.in_progress.swap(true, Ordering::AcqRel) {
        return Err(SaveError::InProgress);
    }
    if !p.claim_walk() {
        p.in_progress.store(false, Ordering::Release);
        return Err(SaveError::Rewriting);
    }
    p.update(|s| {
        s.started = Some(Instant::now());
        s.last_try = now_ms() / 1000;
        s.keys_done = 0;
        s.keys_total = 0;
    });
    let started = Instant::now();
    let result = run(&core).await;
    let secs = started.elapsed().as_secs() as i64;
    p.update(|s| {
        s.started = None;
        s.last_secs = secs;
        s.last_ok = result.is_ok();
        if result.is_ok() {
            s.last_save = now_ms() / 1000;
            s.saves += 1;
        }
    });
    p.failed.store(result.is_err(), Ordering::Release);
    p.release_walk();
    p.in_progress.store(false, Ordering::Release);
    match result {
        Ok(dirty) => {
            p.dirty_saved.store(dirty, Ordering::Release);
            Ok(())
        }
        Err(e) => {
            eprintln!("ringbus: snapshot failed: {e}");
            Err(SaveError::Failed(e))
        }
    }
}

/// The snapshot itself; the changes counted at its point on success.
async fn run(core: &Rc<Core>) -> Result<u64, String> {
    let path = rdb_path(&core.config.borrow());
    write_snapshot(core, &path, false, |_| {}).await
}

/// Writes a snapshot of every shard to `path` (an AOF base when
/// `aof_base`); `at_point` runs at its point in time, holding every shard
/// (a rewrite starts its new incremental files there). Returns the changes
/// counted at that point.
pub async fn write_snapshot(
    core: &Rc<Core>,
    path: &Path,
    aof_base: bool,
    at_point: impl FnOnce(&mut Txn),
) -> Result<u64, String> {
    let opts = encode_options(&core.config.borrow());
    let path = path.to_path_buf();
    let shards = core.cores();
    // 1. The point in time: every shard at once.
    let (dirty, total) = {
        let mut txn = Txn::new(core);
        txn.take_all(0..shards).await;
        at_point(&mut txn);
        let (mut dirty, mut total) = (0, 0);
        for s in 0..shards {
            txn.here(s, |here| {
                dirty += here.shard.stats.dirty;
                for db in &mut here.shard.dbs {
                    total += db.len() as u64;
                    db.begin_snapshot(DbSnap::new(opts.clone()));
                }
            });
        }
        (dirty, total)
    };
    core.shared.persistence.update(|s| s.keys_total = total);
    let functions: Vec<Vec<u8>> = core
        .shared
        .functions
        .all()
        .iter()
        .map(|l| l.code.clone())
        .collect();
    let databases = core.config.borrow().databases;

    // 3. The writer thread.
    let (tx, rx) = mpsc::sync_channel::<ToWriter>(64);
    let (done_tx, done_rx) = mpsc::channel::<Result<(), String>>();
    let writer_path = path.clone();
    let writer_opts = opts.clone();
    std::thread::Builder::new()
        .name("ringbus-save".into())
        .spawn(move || {
            // Lower priority (nice 10): where it shares a CPU with an
            // executor, the executor's clients mostly go first (the save
            // takes longer, and holds its early copies longer: nice 19
            // measured lower writer p99 but more extra memory).
            // SAFETY: setpriority on this thread's own id; no memory involved.
            unsafe {
                let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
                libc::setpriority(libc::PRIO_PROCESS, tid, 10);
            }
            let r = write_file(&writer_path, &writer_opts, databases, aof_base, rx);
            let _ = done_tx.send(r);
        })
        .map_err(|e| format!("cannot start the writer thread: {e}"))?;

    // 2. The walk.
    let mut pending: Vec<usize> = (0..shards).collect();
    let mut sizes = vec![(0u64, 0u64); databases];
    let mut failed: Option<String> = None;
    while !pending.is_empty() {
        let steps: Vec<_> = pending
            .iter()
            .map(|&s| core.on_shard(s, move |here| step(here.shard)))
            .collect();
        let mut next = Vec::new();
        for (&s, fut) in pending.iter().zip(steps) {
            let step = fut.await;
            for Part { db, taken } in step.parts {
                sizes[db].0 += taken.keys;
                sizes[db].1 += taken.expires;
                core.shared
                    .persistence
                    .update(|st| st.keys_done += taken.keys);
                let empty = taken.bytes.is_empty() && taken.values.is_empty();
                if failed.is_none() && !empty {
                    if let Err(e) = send(&tx, ToWriter::Part { db, taken }).await {
                        failed = Some(e);
                    }
                }
            }
            if !step.done {
                next.push(s);
            }
        }
        pending = next;
        // A shard on this core answers its step at once: let this core's
        // connections run between steps, or the save would stall them.
        runtime::yield_now().await;
        if let Some(e) = &failed {
            // Stop every walk; what the writer had is thrown away.
            for s in 0..shards {
                core.on_shard(s, |here| {
                    for db in &mut here.shard.dbs {
                        db.end_snapshot();
                    }
                })
                .await;
            }
            drop(tx);
            let _ = wait_writer(&done_rx).await;
            return Err(e.clone());
        }
    }
    let finish = ToWriter::Finish {
        sizes,
        functions,
        used_mem: crate::alloc::used_memory(),
    };
    send(&tx, finish).await?;
    drop(tx);
    wait_writer(&done_rx).await?;
    Ok(dirty)
}

/// One database's share of a step.
struct Part {
    db: usize,
    taken: Taken,
}

/// What one step on a shard gives back.
struct Step {
    parts: Vec<Part>,
    /// Every database's walk is complete and the snapshot ended there.
    done: bool,
}

fn step(shard: &mut Shard) -> Step {
    let now = now_ms();
    let mut parts = Vec::new();
    let mut done = true;
    for (i, db) in shard.dbs.iter_mut().enumerate() {
        let Some((snap, table)) = db.snapshot() else {
            continue;
        };
        if !snap.done() {
            snap.walk(table, STEP_KEYS, now);
        }
        done &= snap.done();
        parts.push(Part {
            db: i,
            taken: snap.take(),
        });
    }
    if done {
        // Nothing can change in between: this runs with the shard to itself.
        for (i, db) in shard.dbs.iter_mut().enumerate() {
            if let Some(mut snap) = db.end_snapshot() {
                parts.push(Part {
                    db: i,
                    taken: snap.take(),
                });
            }
        }
    }
    Step { parts, done }
}

/// Hands `msg` to the writer thread, waiting (not blocking) while it is busy.
async fn send(tx: &SyncSender<ToWriter>, mut msg: ToWriter) -> Result<(), String> {
    loop {
        match tx.try_send(msg) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Full(m)) => {
                msg = m;
                runtime::sleep(Duration::from_millis(1)).await;
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err("the writer thread stopped".into());
            }
        }
    }
}

async fn wait_writer(rx: &Receiver<Result<(), String>>) -> Result<(), String> {
    loop {
        match rx.try_recv() {
            Ok(r) => return r,
            Err(mpsc::TryRecvError::Empty) => runtime::sleep(Duration::from_millis(1)).await,
            Err(mpsc::TryRecvError::Disconnected) => {
                return Err("the writer thread stopped".into());
            }
        }
    }
}

/// The writer thread's work; removes its temporary files whatever happens.
fn write_file(
    path: &Path,
    opts: &EncodeOptions,
    databases: usize,
    aof_base: bool,
    rx: Receiver<ToWriter>,
) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let pid = std::process::id();
    let part_path = |db: usize| dir.join(format!("temp-{pid}-db{db}.part"));
    let temp = dir.join(format!("temp-{pid}.rdb"));
    let mut parts: Vec<Option<BufWriter<File>>> = (0..databases).map(|_| None).collect();
    let mut records = RecordWriter::new(opts.clone()).map_err(|e| e.to_string())?;
    let result = (|| -> Result<(), String> {
        let (sizes, functions, used_mem) = loop {
            match rx.recv() {
                Ok(ToWriter::Part { db, taken }) => {
                    let werr = |e: io::Error| format!("Write error saving DB on disk: {e}");
                    let part = open_part(&mut parts[db], &part_path(db))?;
                    part.write_all(&taken.bytes).map_err(werr)?;
                    for (key, at, value) in taken.values {
                        let meta = KeyMeta::from(at.map(|ms| ms as i64));
                        let w = records.key(part, &key, meta);
                        match &value {
                            Later::Stream(frozen) => write_frozen_stream(w, frozen),
                            Later::Str(s) => w.string(s),
                        }
                        .map_err(werr)?;
                    }
                }
                Ok(ToWriter::Finish {
                    sizes,
                    functions,
                    used_mem,
                }) => break (sizes, functions, used_mem),
                Err(_) => return Err("snapshot abandoned".into()),
            }
        };
        let file = File::create(&temp).map_err(|e| {
            format!(
                "Failed opening the temp RDB file {} (in server root dir {}) for saving: {e}",
                temp.display(),
                dir.display()
            )
        })?;
        let werr = |e: io::Error| format!("Write error saving DB on disk: {e}");
        let mut w = RdbWriter::new(file, opts.clone()).map_err(werr)?;
        w.info_aux(&AuxInfo {
            redis_ver: crate::REDIS_VERSION,
            redis_bits: 64,
            ctime: (now_ms() / 1000) as i64,
            used_mem,
            aof_base,
        })
        .map_err(werr)?;
        for code in &functions {
            w.function(code).map_err(werr)?;
        }
        let mut buf = vec![0u8; 1 << 20];
        for (db, part) in parts.iter_mut().enumerate() {
            let Some(part) = part.take() else {
                continue;
            };
            part.into_inner()
                .map_err(|e| werr(e.into_error()))?
                .flush()
                .map_err(werr)?;
            let (keys, expires) = sizes[db];
            w.select_db(db as u64, keys, expires).map_err(werr)?;
            let mut f = File::open(part_path(db)).map_err(werr)?;
            loop {
                let n = f.read(&mut buf).map_err(werr)?;
                if n == 0 {
                    break;
                }
                w.raw(&buf[..n]).map_err(werr)?;
            }
        }
        let file = w.finish().map_err(werr)?;
        file.sync_all().map_err(werr)?;
        drop(file);
        fs::rename(&temp, path).map_err(|e| {
            format!(
                "Error moving temp DB file {} on the final destination {}: {e}",
                temp.display(),
                path.display()
            )
        })?;
        if let Ok(d) = OpenOptions::new().read(true).open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    drop(parts);
    for db in 0..databases {
        let _ = fs::remove_file(part_path(db));
    }
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Database `db`'s part file, created on first use.
fn open_part<'a>(
    slot: &'a mut Option<BufWriter<File>>,
    path: &Path,
) -> Result<&'a mut BufWriter<File>, String> {
    if slot.is_none() {
        let f = File::create(path)
            .map_err(|e| format!("Failed opening the temp RDB file {}: {e}", path.display()))?;
        *slot = Some(BufWriter::with_capacity(1 << 20, f));
    }
    Ok(slot.as_mut().expect("just set"))
}

/// What a load at start-up found.
#[derive(Debug, Default)]
pub struct Loaded {
    pub keys: u64,
    pub expired: u64,
    pub functions: Vec<Vec<u8>>,
}

/// Keys decoded before they go, together, to the thread filling their shard.
const LOAD_BATCH: usize = 256;

/// A loaded key: database, name, value, deadline, idle seconds (saved
/// under an LRU policy; Redis's `objectSetLRUOrLFU` sets the access clock).
type LoadedKey = (
    usize,
    Vec<u8>,
    crate::types::Value,
    Option<u64>,
    Option<u64>,
);

/// What the decoding thread sends a shard's filling thread.
enum ToShard {
    /// Room for this many more keys in a database.
    Reserve(usize, usize),
    Keys(Vec<LoadedKey>),
}

/// Loads `path` into `shards` (each key to the shard it hashes to) before
/// they serve: this thread decodes, one thread per shard inserts, so the
/// shards fill in parallel. A missing file is an empty dataset; anything
/// wrong with the file is an error naming it, the offset and the reason.
pub fn load(
    path: &Path,
    shards: Vec<Shard>,
    progress: &Persistence,
) -> Result<(Vec<Shard>, Loaded), String> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((shards, Loaded::default())),
        Err(e) => return Err(format!("cannot open {}: {e}", path.display())),
    };
    let file_len = file.metadata().map_or(0, |m| m.len());
    let n = shards.len();
    let databases = shards.first().map_or(0, |s| s.dbs.len());
    let mut senders = Vec::with_capacity(n);
    let mut fillers = Vec::with_capacity(n);
    for mut shard in shards {
        let (tx, rx) = mpsc::sync_channel::<ToShard>(16);
        senders.push(tx);
        let name = path.display().to_string();
        fillers.push(
            std::thread::Builder::new()
                .name("ringbus-load-shard".into())
                .spawn(move || -> Result<Shard, String> {
                    for msg in rx {
                        match msg {
                            ToShard::Reserve(db, keys) => shard.dbs[db].reserve(keys),
                            ToShard::Keys(keys) => {
                                for (db, key, value, at, idle) in keys {
                                    if shard.dbs[db].set(&key, value, at).is_some() {
                                        return Err(format!(
                                            "{name}: duplicate key '{}' in database {db}",
                                            String::from_utf8_lossy(&key)
                                        ));
                                    }
                                    if let Some(idle) = idle {
                                        shard.dbs[db].set_idle(&key, idle, crate::shard::now_ms());
                                    }
                                }
                            }
                        }
                    }
                    Ok(shard)
                })
                .map_err(|e| format!("cannot start a loading thread: {e}"))?,
        );
    }
    let decoded = decode(path, file, file_len, databases, &senders, progress);
    drop(senders);
    let mut shards = Vec::with_capacity(n);
    let mut filled = Ok(());
    for f in fillers {
        match f.join() {
            Ok(Ok(shard)) => shards.push(shard),
            Ok(Err(e)) => filled = filled.and(Err(e)),
            Err(_) => filled = filled.and(Err("a loading thread panicked".to_string())),
        }
    }
    // A filler's error (a duplicate key) explains a decoder that found its
    // channel closed, so it comes first.
    filled?;
    Ok((shards, decoded?))
}

/// The decoding half of [`load`].
fn decode(
    path: &Path,
    file: File,
    file_len: u64,
    databases: usize,
    to: &[SyncSender<ToShard>],
    progress: &Persistence,
) -> Result<Loaded, String> {
    let bad = |e: super::rdb::Error| format!("{}: {e}", path.display());
    let gone = || format!("{}: loading stopped", path.display());
    let n = to.len();
    let input = io::BufReader::with_capacity(1 << 20, file);
    let mut reader = RdbReader::new(input).map_err(bad)?;
    let mut sink = Build::new();
    let mut loaded = Loaded::default();
    let now = now_ms();
    let mut current_db = 0usize;
    let mut batches: Vec<Vec<_>> = (0..n).map(|_| Vec::with_capacity(LOAD_BATCH)).collect();
    loop {
        match reader.next_item_into(&mut sink).map_err(bad)? {
            None | Some(Item::Eof(_)) => break,
            Some(Item::Function(code)) => loaded.functions.push(code),
            Some(Item::Aux { key, value }) if key == b"used-mem" => {
                if let Some(n) = std::str::from_utf8(&value)
                    .ok()
                    .and_then(|v| v.parse().ok())
                {
                    progress.loading_rdb_used_mem.store(n, Ordering::Relaxed);
                }
            }
            Some(Item::SelectDb(db)) => current_db = db as usize,
            Some(Item::ResizeDb { db_size, .. }) if current_db < databases => {
                // Each shard gets room for its share (plus a margin for an
                // uneven split), once. The count is not trusted beyond what
                // the file could hold (a key takes at least 4 bytes).
                let keys = db_size.min(file_len / 4) as usize;
                let share = keys.div_ceil(n);
                for tx in to {
                    tx.send(ToShard::Reserve(current_db, share + share / 8 + 16))
                        .map_err(|_| gone())?;
                }
            }
            Some(Item::Key(k)) => {
                let db = k.db as usize;
                if db >= databases {
                    return Err(format!(
                        "{}: key in database {db}, but ringbus has {databases} (--databases)",
                        path.display()
                    ));
                }
                let at = k.expire_ms.map(|ms| ms.max(0) as u64);
                if at.is_some_and(|at| at <= now) {
                    loaded.expired += 1;
                    continue;
                }
                let s = shard_of(&k.key, n);
                batches[s].push((db, k.key, k.value, at, k.lru_idle));
                if batches[s].len() >= LOAD_BATCH {
                    let batch = std::mem::replace(&mut batches[s], Vec::with_capacity(LOAD_BATCH));
                    to[s].send(ToShard::Keys(batch)).map_err(|_| gone())?;
                    progress
                        .loaded_bytes
                        .store(reader.offset(), Ordering::Relaxed);
                }
                loaded.keys += 1;
            }
            Some(_) => {}
        }
    }
    for (s, batch) in batches.into_iter().enumerate() {
        if !batch.is_empty() {
            to[s].send(ToShard::Keys(batch)).map_err(|_| gone())?;
        }
    }
    progress
        .loaded_bytes
        .store(reader.offset(), Ordering::Relaxed);
    Ok(loaded)
}
