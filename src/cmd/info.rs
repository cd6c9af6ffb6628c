//! INFO: every section Redis 7.2 has that ringbus can fill, with Redis's
//! field names, summed over every core (one hop per core gathers its
//! figures), plus ringbus's own `executors` field and `cores` section.

use super::spec::decl::*;
use std::fmt::Write;
use std::sync::atomic::Ordering;

use super::args::CmdResult;
use super::connection::REDIS_VERSION;
use super::exec::{each_shard, Client};
use crate::server::client::CoreCounters;
use crate::shard::now_ms;
use crate::shard::ShardStats;

/// What one core reports for INFO: its connections and what crossing
/// cores cost it.
struct CoreReport {
    clients: usize,
    blocked: usize,
    ops_per_sec: u64,
    /// Memory of the core's connections (`mem_clients_normal`).
    client_memory: usize,
    counters: CoreCounters,
    /// Hops sent, waits for a shard, shards moved away, script yields (see
    /// `Crossings`).
    crossings: [u64; 4],
    /// Shards on this core now.
    shards: usize,
    /// Clients with a subscription (`pubsub_clients`).
    pubsub_clients: usize,
    error_replies: u64,
}

/// What one shard reports for INFO: its keys and their statistics.
struct ShardReport {
    stats: ShardStats,
    expired_keys: u64,
    /// `(keys, expires, avg_ttl)` per database.
    keyspace: Vec<(usize, usize, u64)>,
    /// Keys with blocked clients, those a deletion wakes, keys watched.
    blocking_keys: (usize, usize),
    watched_keys: usize,
}

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "cores",
    "keyspace",
];

/// INFO [section ...]: the sections asked for, summed over every core.
pub async fn info(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    let mut wanted: Vec<String> = argv[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    if wanted.is_empty()
        || wanted
            .iter()
            .any(|w| w == "default" || w == "all" || w == "everything")
    {
        wanted = DEFAULT_SECTIONS.iter().map(|s| s.to_string()).collect();
    }
    let shards = each_shard(c, |here| {
        let now = now_ms();
        let shard = &*here.shard;
        ShardReport {
            stats: shard.stats.clone(),
            expired_keys: shard.expired_keys(),
            keyspace: shard
                .dbs
                .iter()
                .map(|db| (db.len(), db.expires_count(), db.avg_ttl(now)))
                .collect(),
            blocking_keys: shard.blocking.blocking_keys(),
            watched_keys: shard.watches.len(),
        }
    })
    .await;
    let cores = c
        .core()
        .clone()
        .on_every_core(|core| {
            let clients = core.clients.borrow();
            CoreReport {
                clients: clients.len(),
                blocked: clients.blocked,
                ops_per_sec: clients.ops.per_sec(),
                client_memory: clients.memory(),
                counters: clients.counters,
                crossings: [
                    core.crossings.hops.get(),
                    core.crossings.waits.get(),
                    core.crossings.moves.get(),
                    core.crossings.script_yields.get(),
                ],
                shards: core.shards_here(),
                pubsub_clients: clients.pubsub_clients(),
                error_replies: crate::resp::encode::error_replies(),
            }
        })
        .await;
    let reports = Reports {
        cores: &cores,
        shards: &shards,
    };
    let pubsub = if wanted.iter().any(|w| w == "stats") {
        super::pubsub::totals(c.core()).await
    } else {
        [0; 3]
    };
    let mut text = String::new();
    for section in DEFAULT_SECTIONS {
        if !wanted.iter().any(|w| w == section) {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        write_section(&mut text, section, c.core(), &reports, pubsub);
    }
    c.out().verbatim(text.as_bytes());
    Ok(())
}

/// Every core's and every shard's report.
struct Reports<'a> {
    cores: &'a [CoreReport],
    shards: &'a [ShardReport],
}

/// One INFO section; `pubsub` is the distinct channels, patterns and shard
/// channels subscribed to over every core.
fn write_section(
    t: &mut String,
    section: &str,
    core: &crate::shard::dispatch::Core,
    reports: &Reports,
    pubsub: [usize; 3],
) {
    let shared = &core.shared;
    let config = core.config.borrow().clone();
    let sum = |f: &dyn Fn(&CoreReport) -> u64| reports.cores.iter().map(f).sum::<u64>();
    let sum_shards = |f: &dyn Fn(&ShardReport) -> u64| reports.shards.iter().map(f).sum::<u64>();
    let uptime = shared.start.elapsed().as_secs();
    macro_rules! line {
        ($($arg:tt)*) => {{ let _ = write!(t, $($arg)*); t.push_str("\r\n"); }};
    }
    match section {
        "server" => {
            line!("# Server");
            line!("redis_version:{REDIS_VERSION}");
            line!("ringbus_version:{}", env!("CARGO_PKG_VERSION"));
            line!("redis_mode:standalone");
            line!("os:{}", shared.os);
            line!("arch_bits:64");
            line!("multiplexing_api:io_uring");
            line!("process_id:{}", std::process::id());
            line!("run_id:{}", shared.run_id);
            line!("tcp_port:{}", config.port);
            line!("server_time_usec:{}", now_ms() * 1000);
            line!("uptime_in_seconds:{uptime}");
            line!("uptime_in_days:{}", uptime / 86400);
            line!("hz:{}", config.hz);
            line!("configured_hz:{}", config.hz);
            // Redis's 24-bit LRU clock (seconds), what keys' access clocks
            // are compared with (DEBUG OBJECT's `lru`).
            line!("lru_clock:{}", (now_ms() / 1000) & 0x00ff_ffff);
            line!("executable:{}", shared.executable);
            line!(
                "config_file:{}",
                config
                    .config_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
            line!("executors:{}", reports.cores.len());
        }
        "clients" => {
            line!("# Clients");
            line!("connected_clients:{}", sum(&|r| r.clients as u64));
            line!("cluster_connections:0");
            line!("maxclients:{}", config.maxclients);
            line!("blocked_clients:{}", sum(&|r| r.blocked as u64));
            line!("tracking_clients:0");
            line!("pubsub_clients:{}", sum(&|r| r.pubsub_clients as u64));
            line!(
                "total_watched_keys:{}",
                sum_shards(&|r| r.watched_keys as u64)
            );
            line!(
                "total_blocking_keys:{}",
                sum_shards(&|r| r.blocking_keys.0 as u64)
            );
            line!(
                "total_blocking_keys_on_nokey:{}",
                sum_shards(&|r| r.blocking_keys.1 as u64)
            );
        }
        "memory" => {
            let used = crate::alloc::used_memory();
            let peak = crate::alloc::note_peak();
            let rss = crate::alloc::rss_bytes();
            let system = crate::alloc::total_system_memory();
            line!("# Memory");
            line!("used_memory:{used}");
            line!("used_memory_human:{}", human_bytes(used));
            line!("used_memory_rss:{rss}");
            line!("used_memory_rss_human:{}", human_bytes(rss));
            line!("used_memory_peak:{peak}");
            line!("used_memory_peak_human:{}", human_bytes(peak));
            line!(
                "used_memory_peak_perc:{:.2}%",
                used as f64 * 100.0 / peak.max(1) as f64
            );
            line!("total_system_memory:{system}");
            line!("total_system_memory_human:{}", human_bytes(system));
            line!("maxmemory:{}", config.maxmemory);
            line!("maxmemory_human:{}", human_bytes(config.maxmemory));
            line!("maxmemory_policy:noeviction");
            line!(
                "mem_fragmentation_ratio:{:.2}",
                rss as f64 / used.max(1) as f64
            );
            line!("mem_fragmentation_bytes:{}", rss as i64 - used as i64);
            line!("mem_clients_slaves:0");
            line!("mem_clients_normal:{}", sum(&|r| r.client_memory as u64));
            line!("mem_allocator:mimalloc");
        }
        "persistence" => {
            line!("# Persistence");
            let p = &shared.persistence;
            let st = p.state();
            let now = now_ms() / 1000;
            let loading = p.is_loading();
            line!("loading:{}", loading as u8);
            line!("async_loading:0");
            if loading {
                let start = p.loading_start.load(std::sync::atomic::Ordering::Relaxed);
                let total = p
                    .loading_total_bytes
                    .load(std::sync::atomic::Ordering::Relaxed);
                let done = p.loaded_bytes.load(std::sync::atomic::Ordering::Relaxed);
                let elapsed = now.saturating_sub(start);
                let perc = if total > 0 {
                    done as f64 * 100.0 / total as f64
                } else {
                    0.0
                };
                let eta = if done > 0 && elapsed > 0 {
                    (total.saturating_sub(done) as f64 / (done as f64 / elapsed as f64)) as u64
                } else {
                    1
                };
                line!("loading_start_time:{start}");
                line!("loading_total_bytes:{total}");
                line!(
                    "loading_rdb_used_mem:{}",
                    p.loading_rdb_used_mem
                        .load(std::sync::atomic::Ordering::Relaxed)
                );
                line!("loading_loaded_bytes:{done}");
                line!("loading_loaded_perc:{perc:.2}");
                line!("loading_eta_seconds:{eta}");
            }
            // No fork, so no copy-on-write: a snapshot's extra memory is the
            // keys it encoded ahead of its walk (see `shard::snapshot`).
            line!("current_cow_peak:0");
            line!("current_cow_size:0");
            line!("current_cow_size_age:0");
            line!("current_fork_perc:0.00");
            line!(
                "current_save_keys_processed:{}",
                if st.started.is_some() {
                    st.keys_done
                } else {
                    0
                }
            );
            line!(
                "current_save_keys_total:{}",
                if st.started.is_some() {
                    st.keys_total
                } else {
                    0
                }
            );
            line!(
                "rdb_changes_since_last_save:{}",
                sum_shards(&|r| r.stats.dirty).saturating_sub(p.dirty_saved())
            );
            line!("rdb_bgsave_in_progress:{}", p.in_progress() as u8);
            line!("rdb_last_save_time:{}", st.last_save);
            line!(
                "rdb_last_bgsave_status:{}",
                if st.last_ok { "ok" } else { "err" }
            );
            line!("rdb_last_bgsave_time_sec:{}", st.last_secs);
            line!(
                "rdb_current_bgsave_time_sec:{}",
                st.started.map_or(-1, |t| t.elapsed().as_secs() as i64)
            );
            line!("rdb_saves:{}", st.saves);
            line!("rdb_last_cow_size:0");
            line!("rdb_last_load_keys_expired:{}", st.load_expired);
            line!("rdb_last_load_keys_loaded:{}", st.loaded);
            let aof = &shared.aof;
            let rw = aof.rewrite.lock().expect("not poisoned").clone();
            let on = aof.enabled();
            line!("aof_enabled:{}", on as u8);
            line!(
                "aof_rewrite_in_progress:{}",
                aof.rewriting.load(Ordering::Acquire) as u8
            );
            let scheduled =
                aof.scheduled.load(Ordering::Acquire) || aof.rebase_wanted.load(Ordering::Acquire);
            line!("aof_rewrite_scheduled:{}", scheduled as u8);
            line!("aof_last_rewrite_time_sec:{}", rw.last_secs);
            line!(
                "aof_current_rewrite_time_sec:{}",
                rw.started.map_or(-1, |t| t.elapsed().as_secs() as i64)
            );
            line!(
                "aof_last_bgrewrite_status:{}",
                if rw.last_ok { "ok" } else { "err" }
            );
            line!("aof_rewrites:{}", rw.rewrites);
            line!(
                "aof_rewrites_consecutive_failures:{}",
                rw.consecutive_failures
            );
            line!(
                "aof_last_write_status:{}",
                if aof.write_error().is_some() {
                    "err"
                } else {
                    "ok"
                }
            );
            line!("aof_last_cow_size:0");
            line!("module_fork_in_progress:0");
            line!("module_fork_last_cow_size:0");
            if on {
                line!("aof_current_size:{}", aof.current_size());
                line!("aof_base_size:{}", aof.base_size.load(Ordering::Relaxed));
                line!("aof_pending_rewrite:{}", scheduled as u8);
                line!("aof_buffer_length:{}", aof.buffered());
                line!("aof_pending_bio_fsync:{}", aof.fsyncs_running());
                line!("aof_delayed_fsync:{}", aof.delayed_fsyncs());
            }
        }
        "stats" => {
            line!("# Stats");
            line!(
                "total_connections_received:{}",
                sum(&|r| r.counters.total_connections)
            );
            line!("total_commands_processed:{}", sum(&|r| r.counters.commands));
            line!("instantaneous_ops_per_sec:{}", sum(&|r| r.ops_per_sec));
            line!(
                "total_net_input_bytes:{}",
                sum(&|r| r.counters.net_input_bytes)
            );
            line!(
                "total_net_output_bytes:{}",
                sum(&|r| r.counters.net_output_bytes)
            );
            line!(
                "rejected_connections:{}",
                sum(&|r| r.counters.rejected_connections)
            );
            line!("expired_keys:{}", sum_shards(&|r| r.expired_keys));
            line!("evicted_keys:0");
            line!("evicted_clients:0");
            line!("keyspace_hits:{}", sum_shards(&|r| r.stats.keyspace_hits));
            line!(
                "keyspace_misses:{}",
                sum_shards(&|r| r.stats.keyspace_misses)
            );
            line!("pubsub_channels:{}", pubsub[0]);
            line!("pubsub_patterns:{}", pubsub[1]);
            line!("pubsubshard_channels:{}", pubsub[2]);
            // Snapshots and rewrites run without fork.
            line!("latest_fork_usec:0");
            line!("total_forks:0");
            // No client-side caching yet (CLIENT TRACKING).
            line!("tracking_total_keys:0");
            line!("tracking_total_items:0");
            line!("tracking_total_prefixes:0");
            line!("unexpected_error_replies:0");
            line!("total_error_replies:{}", sum(&|r| r.error_replies));
            line!(
                "client_output_buffer_limit_disconnections:{}",
                sum(&|r| r.counters.output_limit_disconnections)
            );
        }
        "replication" => {
            line!("# Replication");
            line!("role:master");
            line!("connected_slaves:0");
            line!("master_replid:{}", shared.run_id);
            line!("master_repl_offset:0");
        }
        "cpu" => {
            let (sys, user) = crate::alloc::cpu_times();
            line!("# CPU");
            line!("used_cpu_sys:{sys:.6}");
            line!("used_cpu_user:{user:.6}");
        }
        "cores" => {
            line!("# Cores");
            for (i, r) in reports.cores.iter().enumerate() {
                line!(
                    "core{i}:connected_clients={},total_connections={},commands={},ops_per_sec={},\
                     shards={},hops={},shard_waits={},shard_moves={},script_yields={}",
                    r.clients,
                    r.counters.total_connections,
                    r.counters.commands,
                    r.ops_per_sec,
                    r.shards,
                    r.crossings[0],
                    r.crossings[1],
                    r.crossings[2],
                    r.crossings[3]
                );
            }
            for (i, r) in reports.shards.iter().enumerate() {
                let keys: usize = r.keyspace.iter().map(|(k, _, _)| k).sum();
                line!("shard{i}:keys={keys}");
            }
        }
        "keyspace" => {
            line!("# Keyspace");
            let reports = reports.shards;
            let dbs = reports.first().map_or(0, |r| r.keyspace.len());
            for db in 0..dbs {
                let keys: usize = reports.iter().map(|r| r.keyspace[db].0).sum();
                let expires: usize = reports.iter().map(|r| r.keyspace[db].1).sum();
                if keys == 0 {
                    continue;
                }
                // Weighted by each shard's count of keys with a deadline.
                let ttl_sum: u128 = reports
                    .iter()
                    .map(|r| r.keyspace[db].2 as u128 * r.keyspace[db].1 as u128)
                    .sum();
                let avg_ttl = if expires == 0 {
                    0
                } else {
                    (ttl_sum / expires as u128) as u64
                };
                line!("db{db}:keys={keys},expires={expires},avg_ttl={avg_ttl}");
            }
        }
        _ => {}
    }
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "K", "M", "G", "T"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n}B")
    } else {
        format!("{value:.2}{}", UNITS[unit])
    }
}

// ------------------------------------------------------------ commands

/// The INFO commands, as the command table lists them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("info", -1, SERVER, NO_KEYS, "server", "Returns information and statistics about the server.", crate::anywhere!(info),
        "[section [section ...]]"),
];
