//! The server: one executor thread per core (pinned to its CPU with
//! `--pin`), each with its own SO_REUSEPORT listener, starting with its own shard, and with
//! its own connections. A connection stays on the core that accepted it for
//! its whole life; shards may move (see `shard::dispatch`).

pub mod client;
pub mod connection;
pub mod limits;
pub mod listener;
pub mod outbox;
pub mod pause;

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::runtime;
use crate::shard::dispatch::{Core, Mesh};
use crate::shard::{now_ms, Shard, ShardLimits};
use client::ClientInfo;

/// Process-wide facts every core may read (no lock: atomics or immutable).
pub struct Shared {
    pub start: Instant,
    pub start_unix: u64,
    pub run_id: String,
    pub os: String,
    pub executable: String,
    pub next_client_id: AtomicU64,
    /// Connected clients over all cores, for `maxclients`.
    pub connected: AtomicUsize,
    /// Lua scripts known to every core (EVAL, SCRIPT LOAD).
    pub scripts: crate::script::registry::Registry,
    /// Function libraries known to every core (FUNCTION LOAD).
    pub functions: crate::script::functions::Libraries,
    /// Scripts running past the BUSY threshold, per core.
    pub busy: crate::script::busy::Busy,
    /// The configuration commands read on a shard (every shard shares it).
    pub limits: Arc<ShardLimits>,
    /// Snapshots: the one running, the last one's outcome.
    pub persistence: crate::persist::snapshot::Persistence,
    /// The append-only log.
    pub aof: crate::persist::aof::Aof,
    /// SIGTERM or SIGINT arrived: core 0 saves (with save rules) and exits.
    pub shutdown_asked: std::sync::atomic::AtomicBool,
    /// CLIENT PAUSE.
    pub pause: pause::Pause,
}

impl Shared {
    fn new(cores: usize, config: &Config) -> Shared {
        let start_unix = now_ms() / 1000;
        // 40 hex digits like Redis's run id; unique enough per process start.
        let seed = ahash::RandomState::new();
        let run_id: String = (0..5u64)
            .map(|i| {
                format!(
                    "{:08x}",
                    seed.hash_one((i, std::process::id(), start_unix)) as u32
                )
            })
            .collect();
        let uname = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        Shared {
            start: Instant::now(),
            start_unix,
            run_id,
            os: format!("Linux {} x86_64", uname.trim()),
            executable: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            next_client_id: AtomicU64::new(1),
            connected: AtomicUsize::new(0),
            scripts: Default::default(),
            functions: Default::default(),
            busy: crate::script::busy::Busy::new(cores),
            limits: Arc::new(ShardLimits {
                proto_max_bulk_len: AtomicU64::new(config.proto_max_bulk_len),
                rdb_compression: config.rdbcompression.into(),
            }),
            persistence: Default::default(),
            aof: Default::default(),
            shutdown_asked: Default::default(),
            pause: Default::default(),
        }
    }
}

/// Starts every executor and serves until the process is stopped.
pub fn run(mut config: Config) -> io::Result<()> {
    let threads = config.threads();
    let reserved = limits::reserved_fds(threads, config.bind.len());
    config.maxclients = limits::at_start(config.maxclients, reserved)
        .ok_or_else(|| io::Error::other("the open file limit is too low"))?;
    let shared = Arc::new(Shared::new(threads, &config));
    config.apply_process_wide();
    shared.busy.set_threshold(config.busy_reply_threshold);
    // Before any other thread starts: they all inherit the blocked signals.
    watch_signals(shared.clone())?;
    let shards: Vec<Shard> = (0..threads)
        .map(|id| Shard::new(id, config.databases, shared.limits.clone()))
        .collect();
    // A snapshot to load: the cores serve meanwhile, answering -LOADING to
    // all but the commands Redis allows then, and each takes its loaded
    // shard in place of its empty one when the whole file is in.
    let rdb = crate::persist::snapshot::rdb_path(&config);
    let mut loaded_rx = Vec::new();
    if config.appendonly || rdb.exists() {
        // With the log on, it is loaded (not dump.rdb), as Redis does.
        shared.persistence.begin_loading(&rdb);
        let mut senders = Vec::new();
        for _ in 0..threads {
            let (tx, rx) = std::sync::mpsc::channel::<Shard>();
            senders.push(tx);
            loaded_rx.push(Some(rx));
        }
        let (config, shared) = (config.clone(), shared.clone());
        std::thread::Builder::new()
            .name("ringbus-load".into())
            .spawn(move || {
                if config.appendonly {
                    load_aof(&config, &shared, senders)
                } else {
                    load_snapshot(&config, &shared, senders)
                }
            })?;
    } else {
        loaded_rx.resize_with(threads, || None);
    }
    let listeners = listener::bind_all(&config, threads)?;
    let (mesh, wakeups) = Mesh::new(threads)?;
    let cpus = if config.pinned() {
        pin_plan(&config, threads)?
    } else {
        Vec::new()
    };
    eprintln!(
        "ringbus {} ready: {} on port {}, {threads} executor(s){}",
        env!("CARGO_PKG_VERSION"),
        config.bind.join(" "),
        config.port,
        if cpus.is_empty() { "" } else { ", pinned" }
    );
    let mut handles = Vec::new();
    for ((((id, listeners), wake), shard), loaded) in listeners
        .into_iter()
        .enumerate()
        .zip(wakeups)
        .zip(shards)
        .zip(loaded_rx)
    {
        let cpu = cpus.get(id).copied();
        let (config, mesh, shared) = (config.clone(), mesh.clone(), shared.clone());
        let handle = std::thread::Builder::new()
            .name(format!("ringbus-core{id}"))
            .spawn(move || {
                let ring = runtime::RingOptions {
                    entries: config.ring_entries,
                    taskrun: config.ring_taskrun.clone(),
                };
                runtime::run_executor(cpu, ring, move || async move {
                    let core = Core::new(id, shard, config, mesh, shared);
                    if let Some(rx) = loaded {
                        runtime::spawn(take_loaded_shard(core.clone(), rx));
                    }
                    runtime::spawn(core.clone().drain_loop(wake));
                    runtime::spawn(crate::cmd::pubsub::notification_loop(core.clone()));
                    runtime::spawn(core_cron(core.clone()));
                    if id == 0 {
                        runtime::spawn(save_cron(core.clone()));
                    }
                    runtime::spawn(sample_ops(core.clone()));
                    for l in listeners {
                        runtime::spawn(accept_loop(core.clone(), l));
                    }
                    std::future::pending::<()>().await;
                })
            })?;
        handles.push(handle);
    }
    for h in handles {
        h.join()
            .map_err(|_| io::Error::other("an executor thread panicked"))??;
    }
    Ok(())
}

/// The loading thread: loads `dir/dbfilename` into fresh shards (see
/// `persist::snapshot::load`) and hands shard `i` to core `i`. A file that
/// cannot be read whole stops the process: it is never served in part.
fn load_snapshot(config: &Config, shared: &Shared, to_cores: Vec<std::sync::mpsc::Sender<Shard>>) {
    let path = crate::persist::snapshot::rdb_path(config);
    let started = Instant::now();
    let fail = |why: String| -> ! {
        eprintln!(
            "ringbus: Short read or OOM loading DB. Unrecoverable error, aborting now. ({why})"
        );
        std::process::exit(1);
    };
    let shards: Vec<Shard> = (0..to_cores.len())
        .map(|id| Shard::new(id, config.databases, shared.limits.clone()))
        .collect();
    let (shards, loaded) = crate::persist::snapshot::load(&path, shards, &shared.persistence)
        .unwrap_or_else(|e| fail(e));
    for code in &loaded.functions {
        if let Err(why) = crate::cmd::scripting::load_library_at_start(&shared.functions, code) {
            fail(format!("{}: function library: {why}", path.display()));
        }
    }
    eprintln!(
        "ringbus: DB loaded from disk: {:.3} seconds ({} keys, {} expired keys skipped)",
        started.elapsed().as_secs_f64(),
        loaded.keys,
        loaded.expired
    );
    shared
        .persistence
        .note_loaded(loaded.keys, loaded.expired, to_cores.len());
    for (shard, tx) in shards.into_iter().zip(to_cores) {
        let _ = tx.send(shard);
    }
}

/// The loading thread with `appendonly yes`: recovers the log (see
/// `persist::aof::recover`), puts each shard's log on it, and hands the
/// shards over as `load_snapshot` does.
fn load_aof(config: &Config, shared: &Shared, to_cores: Vec<std::sync::mpsc::Sender<Shard>>) {
    use crate::persist::aof::{log, recover, rewrite};
    let started = Instant::now();
    let fail = |why: String| -> ! {
        eprintln!("ringbus: {why}");
        std::process::exit(1);
    };
    let function = |args: &[&[u8]]| crate::cmd::scripting::replay_function(&shared.functions, args);
    let replay = recover::Replay {
        function: &function,
        load_truncated: config.aof_load_truncated,
    };
    let got = recover::recover(
        config,
        to_cores.len(),
        &shared.limits,
        &shared.persistence,
        &replay,
    )
    .unwrap_or_else(|e| fail(e));
    let fsync = log::Fsync::parse(&config.appendfsync).unwrap_or(log::Fsync::Everysec);
    let mut shards = got.shards;
    let mut logs = Vec::new();
    for (shard, (path, _)) in shards.iter_mut().zip(&got.files) {
        let file = rewrite::open_log_file(path).unwrap_or_else(|e| fail(e));
        let l = log::LogShared::new(shard.id, file, fsync, config.aof_timestamp_enabled);
        shard.sinks.add(Box::new(log::ShardLog::new(l.clone())));
        logs.push(l);
    }
    eprintln!(
        "ringbus: DB loaded from append only file: {:.3} seconds ({} keys)",
        started.elapsed().as_secs_f64(),
        got.keys
    );
    shared.aof.base_size.store(got.base_size, Ordering::Relaxed);
    shared.aof.open(logs, got.manifest);
    shared
        .aof
        .size_at_rewrite
        .store(shared.aof.current_size(), Ordering::Relaxed);
    if got.new_generation && got.keys > 0 {
        // Another shard count than the log's: compact it soon, so the
        // next start does not replay the old generations.
        shared.aof.rebase_wanted.store(true, Ordering::Release);
    }
    shared.persistence.note_loaded(got.keys, 0, to_cores.len());
    for (shard, tx) in shards.into_iter().zip(to_cores) {
        let _ = tx.send(shard);
    }
}

/// Core side of loading: puts the loaded shard in place of the empty one it
/// started with (nothing used it: every command that touches keys gets
/// -LOADING until all cores have theirs).
async fn take_loaded_shard(core: Rc<Core>, rx: std::sync::mpsc::Receiver<Shard>) {
    let shard = loop {
        match rx.try_recv() {
            Ok(shard) => break shard,
            Err(std::sync::mpsc::TryRecvError::Empty) => {
                runtime::sleep(Duration::from_millis(2)).await;
            }
            Err(std::sync::mpsc::TryRecvError::Disconnected) => return,
        }
    };
    loop {
        if let Some(mut here) = core.free_shard(core.id) {
            *here = shard;
            break;
        }
        // INFO may be reading the empty one right now.
        runtime::sleep(Duration::from_millis(1)).await;
    }
    crate::persist::aof::start_flushers(&core);
    core.shared.persistence.core_took_loaded();
}

/// The CPU each executor is pinned to: the CPUs this process may run on (its
/// affinity mask, e.g. from `taskset`), from `--first-cpu` on, one each.
fn pin_plan(config: &Config, threads: usize) -> io::Result<Vec<usize>> {
    let allowed: Vec<usize> = runtime::allowed_cpus()?
        .into_iter()
        .filter(|&c| c >= config.first_cpu)
        .collect();
    if allowed.len() < threads {
        return Err(io::Error::other(format!(
            "{threads} executors but only {} CPUs from --first-cpu {} are available to pin to \
             (use fewer --threads, or leave out --pin)",
            allowed.len(),
            config.first_cpu
        )));
    }
    Ok(allowed[..threads].to_vec())
}

async fn accept_loop(core: Rc<Core>, listener: std::net::TcpListener) {
    let listener = match runtime::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ringbus: core {}: cannot listen: {e}", core.id);
            return;
        }
    };
    // Failed accepts since the last one logged, and when that was.
    let mut failed = 0u64;
    let mut logged: Option<Instant> = None;
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                // EMFILE and friends: back off briefly rather than spin, and
                // say so at most once a second rather than flood the log.
                failed += 1;
                if logged.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                    eprintln!(
                        "ringbus: core {}: Accepting client connection: {e} ({failed} failed accept(s))",
                        core.id
                    );
                    failed = 0;
                    logged = Some(Instant::now());
                }
                runtime::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let max = core.config.borrow().maxclients;
        if core.shared.connected.fetch_add(1, Ordering::Relaxed) >= max {
            core.shared.connected.fetch_sub(1, Ordering::Relaxed);
            core.clients.borrow_mut().counters.rejected_connections += 1;
            runtime::spawn(runtime::reject(
                stream,
                b"-ERR max number of clients reached\r\n",
            ));
            continue;
        }
        let keepalive = core.config.borrow().tcp_keepalive;
        if keepalive > 0 {
            if let Err(e) = listener::keep_alive(stream.raw_fd(), keepalive) {
                eprintln!("ringbus: core {}: tcp-keepalive on a client: {e}", core.id);
            }
        }
        let info = ClientInfo {
            id: core.shared.next_client_id.fetch_add(1, Ordering::Relaxed),
            addr,
            laddr: stream.local_addr().unwrap_or(addr),
            fd: stream.raw_fd(),
            name: Vec::new(),
            lib_name: Vec::new(),
            lib_ver: Vec::new(),
            db: 0,
            proto: Default::default(),
            created: Instant::now(),
            last_active: Instant::now(),
            last_cmd: "NULL",
            killed: false,
            mem: Default::default(),
            spare_reply: Vec::new(),
            subs: [0; 3],
            outbox: None,
            blocked: None,
        };
        runtime::spawn(connection::serve(
            core.clone(),
            stream,
            Rc::new(RefCell::new(info)),
        ));
    }
}

/// Samples this core's command count for INFO's ops-per-second figures.
async fn sample_ops(core: Rc<Core>) {
    loop {
        runtime::sleep(client::OPS_SAMPLE_PERIOD).await;
        let mut clients = core.clients.borrow_mut();
        let commands = clients.counters.commands;
        clients.ops.sample(commands, Instant::now());
    }
}

/// The core's cron, `hz` times a second (Redis's `serverCron`): samples the
/// memory peak, and deletes expired keys of the shards here and free,
/// spending at most a quarter of each period so a burst of expiries cannot
/// stall the core.
/// SIGTERM and SIGINT: as Redis, the server saves (when save rules are set)
/// and exits; a second signal exits at once. The signals are blocked in
/// every thread (the executors inherit the mask) and taken by one thread
/// with sigwait, which only sets a flag that core 0 acts on.
fn watch_signals(shared: Arc<Shared>) -> io::Result<()> {
    // SAFETY: sigset_t is plain data, filled by sigemptyset/sigaddset;
    // pthread_sigmask and sigwait only read the set we pass.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
        std::thread::Builder::new()
            .name("ringbus-signals".into())
            .spawn(move || loop {
                let mut sig = 0;
                if libc::sigwait(&set, &mut sig) != 0 {
                    continue;
                }
                let name = if sig == libc::SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                };
                if shared.shutdown_asked.swap(true, Ordering::AcqRel) {
                    eprintln!("ringbus: You insist... exiting now.");
                    std::process::exit(1);
                }
                eprintln!("ringbus: Received {name} scheduling shutdown...");
            })?;
    }
    Ok(())
}

/// The save rules (`save <seconds> <changes>`), checked by core 0 at `hz`,
/// and a shutdown asked by a signal.
async fn save_cron(core: Rc<Core>) {
    loop {
        let hz = core.config.borrow().hz.max(1);
        runtime::sleep(Duration::from_millis(1000 / hz as u64)).await;
        if core.shared.shutdown_asked.load(Ordering::Acquire) {
            crate::cmd::server::shut_down(&core, false, false, false).await;
            // A save that failed: Redis keeps running, and so do we.
            core.shared.shutdown_asked.store(false, Ordering::Release);
            continue;
        }
        if crate::persist::aof::rewrite_due(&core) {
            eprintln!("ringbus: Starting automatic rewriting of AOF");
            let core = core.clone();
            runtime::spawn(async move {
                let _ = crate::persist::aof::rewrite::rewrite(core).await;
            });
        }
        if core.config.borrow().save.is_empty() || core.shared.persistence.in_progress() {
            continue;
        }
        let dirty: u64 = core
            .on_every_shard(|here| here.shard.stats.dirty)
            .await
            .into_iter()
            .sum();
        if crate::cmd::persistence::save_rules_due(&core, dirty) {
            eprintln!("ringbus: save rule met: background saving started");
            let _ = crate::persist::snapshot::save(core.clone()).await;
        }
    }
}

async fn core_cron(core: Rc<Core>) {
    const BATCH: usize = 256;
    loop {
        let hz = core.config.borrow().hz.max(1);
        let period = Duration::from_millis(1000 / hz as u64);
        runtime::sleep(period).await;
        crate::alloc::note_peak();
        if let Some(idle_since) = Instant::now().checked_sub(connection::IDLE_TRIM) {
            core.clients.borrow().trim_idle(idle_since);
        }
        let timeout = core.config.borrow().timeout;
        if timeout > 0 {
            if let Some(idle_since) = Instant::now().checked_sub(Duration::from_secs(timeout)) {
                core.clients.borrow().close_idle(idle_since);
            }
        }
        let started = Instant::now();
        // CLIENT PAUSE (WRITE or ALL) stops active expiry, as in Redis.
        let expiring = !core.shared.pause.writes_paused(now_ms());
        loop {
            let mut done = 0;
            let shards: Vec<usize> = core.free_shards().collect();
            for shard in shards {
                if let Some(mut data) = core.free_shard(shard).filter(|_| expiring) {
                    done = done.max(data.expire_cycle(now_ms(), BATCH));
                }
                core.serve_blocked(shard);
            }
            if done < BATCH || started.elapsed() > period / 4 {
                break;
            }
            runtime::yield_now().await;
        }
    }
}
