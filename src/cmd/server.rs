//! Server commands: INFO, CONFIG, COMMAND, DBSIZE, FLUSHDB/FLUSHALL, KEYS,
//! SCAN, TIME, LASTSAVE. Those that need every shard fan out one hop per core
//! and merge what comes back.

use std::fmt::Write;

use super::args::{is, truncated, Error};
use super::connection::REDIS_VERSION;
use super::table::{CommandSpec, COMMANDS};
use super::ConnCmd;
use crate::glob;
use crate::resp::parse::parse_i64;
use crate::resp::Out;
use crate::server::client::CoreCounters;
use crate::server::connection::Session;
use crate::shard::now_ms;
use crate::shard::table::POS_BITS;
use crate::shard::ShardStats;

pub async fn run(s: &mut Session, cmd: ConnCmd, argv: &[&[u8]]) -> Result<(), Error> {
    match cmd {
        ConnCmd::Info => info(s, argv).await,
        ConnCmd::ConfigGet => config_get(s, argv),
        ConnCmd::ConfigSet => config_set(s, argv).await,
        ConnCmd::ConfigResetStat => {
            s.core
                .run_on_all(|core| {
                    core.shard.borrow_mut().stats = ShardStats::default();
                    core.clients.borrow_mut().counters = CoreCounters::default();
                })
                .await;
            s.out.ok();
            Ok(())
        }
        ConnCmd::Command => {
            reply_command_infos(&mut s.out, COMMANDS.iter().map(Some));
            Ok(())
        }
        ConnCmd::CommandCount => {
            s.out.int(COMMANDS.len() as i64);
            Ok(())
        }
        ConnCmd::CommandInfo => {
            if argv.len() == 2 {
                reply_command_infos(&mut s.out, COMMANDS.iter().map(Some));
            } else {
                reply_command_infos(&mut s.out, argv[2..].iter().map(|n| find_command(n)));
            }
            Ok(())
        }
        ConnCmd::CommandDocs => {
            command_docs(&mut s.out, argv);
            Ok(())
        }
        ConnCmd::CommandList => command_list(&mut s.out, argv),
        ConnCmd::Dbsize => {
            let db = s.db;
            let sizes = s.core.run_on_all(move |core| core.shard.borrow().dbs[db].len()).await;
            s.out.int(sizes.iter().sum::<usize>() as i64);
            Ok(())
        }
        ConnCmd::FlushDb | ConnCmd::FlushAll => {
            if argv.len() > 2 || (argv.len() == 2 && !is(argv[1], "async") && !is(argv[1], "sync")) {
                return Err(Error::SYNTAX);
            }
            let only = (cmd == ConnCmd::FlushDb).then_some(s.db);
            s.core
                .run_on_all(move |core| {
                    let mut shard = core.shard.borrow_mut();
                    let mut removed = 0;
                    for (i, db) in shard.dbs.iter_mut().enumerate() {
                        if only.is_none_or(|o| o == i) {
                            removed += db.len();
                            db.clear();
                        }
                    }
                    shard.stats.dirty += removed as u64;
                })
                .await;
            s.out.ok();
            Ok(())
        }
        ConnCmd::Time => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            s.out.array(2);
            s.out.bulk_int(now.as_secs() as i64);
            s.out.bulk_int(now.subsec_micros() as i64);
            Ok(())
        }
        ConnCmd::Lastsave => {
            s.out.int(s.core.shared.start_unix as i64);
            Ok(())
        }
        ConnCmd::Keys => keys(s, argv[1]).await,
        ConnCmd::Scan => scan(s, argv).await,
        _ => unreachable!("{cmd:?} is a connection command"),
    }
}

async fn keys(s: &mut Session, pattern: &[u8]) -> Result<(), Error> {
    let (db, pattern) = (s.db, pattern.to_vec());
    let per_shard = s
        .core
        .run_on_all(move |core| {
            let now = now_ms();
            let all = pattern == b"*";
            let shard = core.shard.borrow();
            shard.dbs[db]
                .live_keys(now)
                .filter(|(k, _)| all || glob::matches(&pattern, k, false))
                .map(|(k, _)| k.to_vec())
                .collect::<Vec<_>>()
        })
        .await;
    let total: usize = per_shard.iter().map(Vec::len).sum();
    s.out.array(total);
    for key in per_shard.iter().flatten() {
        s.out.bulk(key);
    }
    Ok(())
}

/// SCAN's cursor: a position in the current shard's hash space, times the
/// number of shards, plus the shard. 0 starts at shard 0 and means "done".
async fn scan(s: &mut Session, argv: &[&[u8]]) -> Result<(), Error> {
    let cursor = std::str::from_utf8(argv[1])
        .ok()
        .and_then(|t| t.parse::<u64>().ok())
        .ok_or_else(|| Error::msg("ERR invalid cursor"))?;
    let mut count = 10usize;
    let mut pattern: Option<Vec<u8>> = None;
    let mut type_name: Option<Vec<u8>> = None;
    let mut i = 2;
    while i < argv.len() {
        let has_value = i + 1 < argv.len();
        if is(argv[i], "count") && has_value {
            let n = parse_i64(argv[i + 1]).ok_or(Error::NOT_INTEGER)?;
            if n < 1 {
                return Err(Error::SYNTAX);
            }
            count = n as usize;
        } else if is(argv[i], "match") && has_value {
            pattern = Some(argv[i + 1].to_vec());
        } else if is(argv[i], "type") && has_value {
            type_name = Some(argv[i + 1].to_ascii_lowercase());
        } else {
            return Err(Error::SYNTAX);
        }
        i += 2;
    }
    let shards = s.core.cores() as u64;
    let (mut shard, mut pos) = (cursor % shards, cursor / shards);
    if pos >= 1 << POS_BITS {
        return Err(Error::msg("ERR invalid cursor"));
    }
    let db = s.db;
    let mut found: Vec<Vec<u8>> = Vec::new();
    let next = loop {
        let (pattern, type_name) = (pattern.clone(), type_name.clone());
        let (keys, next_pos) = s
            .core
            .run_on(shard as usize, move |core| {
                let mut keys = Vec::new();
                let shard = core.shard.borrow();
                let next = shard.dbs[db].scan(pos, count, now_ms(), |k, e| {
                    let type_ok = type_name.as_deref().is_none_or(|t| t == e.value.type_name().as_bytes());
                    let match_ok = pattern.as_deref().is_none_or(|p| glob::matches(p, k, false));
                    if type_ok && match_ok {
                        keys.push(k.to_vec());
                    }
                });
                (keys, next)
            })
            .await;
        found.extend(keys);
        match next_pos {
            Some(p) => break p * shards + shard,
            None if shard + 1 < shards => {
                shard += 1;
                pos = 0;
                if found.len() >= count {
                    break shard;
                }
            }
            None => break 0,
        }
    };
    s.out.array(2);
    s.out.bulk_int(next as i64);
    s.out.array(found.len());
    for key in &found {
        s.out.bulk(key);
    }
    Ok(())
}

fn config_get(s: &mut Session, argv: &[&[u8]]) -> Result<(), Error> {
    let config = s.core.shard.borrow().config.clone();
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for pattern in &argv[2..] {
        for name in crate::config::Config::NAMES {
            if glob::matches(pattern, name.as_bytes(), true) && !pairs.iter().any(|(n, _)| n == name) {
                pairs.push((name, config.get(name).unwrap_or_default()));
            }
        }
    }
    s.out.map(pairs.len());
    for (name, value) in pairs {
        s.out.bulk_str(name);
        s.out.bulk_str(&value);
    }
    Ok(())
}

async fn config_set(s: &mut Session, argv: &[&[u8]]) -> Result<(), Error> {
    if argv.len() % 2 != 0 {
        return Err(Error::arity("config|set"));
    }
    let mut config = s.core.shard.borrow().config.clone();
    let mut seen: Vec<String> = Vec::new();
    for pair in argv[2..].chunks(2) {
        let name = String::from_utf8_lossy(pair[0]).to_ascii_lowercase();
        let value = String::from_utf8_lossy(pair[1]).into_owned();
        let failed = |why: &str| Error::msg(format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"));
        if seen.contains(&name) {
            return Err(failed("duplicate parameter"));
        }
        match config.set(&name, &value) {
            Ok(()) => {}
            Err(why) if why == "unknown" => {
                return Err(Error::msg(format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                    truncated(pair[0], 128)
                )))
            }
            Err(why) => return Err(failed(&why)),
        }
        seen.push(name);
    }
    s.core
        .run_on_all(move |core| core.shard.borrow_mut().config = config.clone())
        .await;
    s.out.ok();
    Ok(())
}

fn find_command(name: &[u8]) -> Option<&'static CommandSpec> {
    match std::str::from_utf8(name).ok()?.to_ascii_lowercase().split_once('|') {
        Some((container, sub)) => super::table::lookup(container.as_bytes())?.subcommand(sub.as_bytes()),
        None => super::table::lookup(name),
    }
}

fn acl_categories(spec: &CommandSpec) -> Vec<String> {
    let mut cats = Vec::new();
    if spec.has_flag("write") {
        cats.push("@write".to_string());
    } else if spec.has_flag("readonly") {
        cats.push("@read".to_string());
    }
    cats.push(format!("@{}", spec.group));
    cats.push(if spec.has_flag("fast") { "@fast" } else { "@slow" }.to_string());
    if spec.has_flag("admin") {
        cats.push("@admin".to_string());
        cats.push("@dangerous".to_string());
    }
    cats
}

/// COMMAND INFO's 10-field entry for each command (null for unknown names).
fn reply_command_infos<'a>(out: &mut Out, specs: impl ExactSizeIterator<Item = Option<&'a CommandSpec>>) {
    out.array(specs.len());
    for spec in specs {
        match spec {
            Some(spec) => command_info(out, spec),
            None => out.null(),
        }
    }
}

fn command_info(out: &mut Out, spec: &CommandSpec) {
    let (first, last, step) = spec.keys;
    out.array(10);
    out.bulk_str(spec.name);
    out.int(spec.arity as i64);
    out.set(spec.flags.len());
    for flag in spec.flags {
        out.simple(flag);
    }
    out.int(first as i64);
    out.int(last as i64);
    out.int(step as i64);
    let cats = acl_categories(spec);
    out.set(cats.len());
    for cat in &cats {
        out.simple(cat);
    }
    out.set(0); // tips
    if first > 0 {
        // One key specification: keys from `first`, every `step`, to `last`.
        let last_rel = if last < 0 { last } else { last - first };
        let access = if spec.has_flag("write") { "RW" } else { "RO" };
        out.array(1);
        out.map(3);
        out.bulk_str("flags");
        out.set(1);
        out.simple(access);
        out.bulk_str("begin_search");
        out.map(2);
        out.bulk_str("type");
        out.bulk_str("index");
        out.bulk_str("spec");
        out.map(1);
        out.bulk_str("index");
        out.int(first as i64);
        out.bulk_str("find_keys");
        out.map(2);
        out.bulk_str("type");
        out.bulk_str("range");
        out.bulk_str("spec");
        out.map(3);
        out.bulk_str("lastkey");
        out.int(last_rel as i64);
        out.bulk_str("keystep");
        out.int(step as i64);
        out.bulk_str("limit");
        out.int(0);
    } else {
        out.array(0);
    }
    out.array(spec.subcommands.len());
    for sub in spec.subcommands {
        command_info(out, sub);
    }
}

fn command_docs(out: &mut Out, argv: &[&[u8]]) {
    let specs: Vec<&CommandSpec> = if argv.len() == 2 {
        COMMANDS.iter().collect()
    } else {
        argv[2..].iter().filter_map(|n| find_command(n)).collect()
    };
    out.map(specs.len());
    for spec in specs {
        out.bulk_str(spec.name);
        command_doc(out, spec);
    }
}

/// The time complexity COMMAND DOCS reports, as Redis's documentation states it.
fn complexity(name: &str) -> &'static str {
    match name {
        "del" | "unlink" | "exists" | "touch" => "O(N) where N is the number of keys that will be removed or checked.",
        "mget" | "mset" | "msetnx" => "O(N) where N is the number of keys to retrieve or set.",
        "keys" => "O(N) with N being the number of keys in the database.",
        "scan" => "O(1) for every call. O(N) for a complete iteration.",
        "flushdb" | "flushall" => "O(N) where N is the total number of keys in all databases",
        "client|list" | "client|kill" => "O(N) where N is the number of client connections",
        "command" | "command|info" | "command|docs" | "command|list" => "O(N) where N is the number of commands to look up",
        "config|get" | "config|set" => "O(N) when N is the number of configuration parameters provided",
        "getrange" => "O(N) where N is the length of the returned string.",
        "setrange" => "O(1), not counting the time taken to copy the new string in place.",
        _ => "O(1)",
    }
}

fn command_doc(out: &mut Out, spec: &CommandSpec) {
    let has_subs = !spec.subcommands.is_empty();
    out.map(4 + has_subs as usize);
    out.bulk_str("summary");
    out.bulk_str(spec.summary);
    out.bulk_str("since");
    out.bulk_str(spec.since);
    out.bulk_str("group");
    out.bulk_str(spec.group);
    out.bulk_str("complexity");
    out.bulk_str(complexity(spec.name));
    if has_subs {
        out.bulk_str("subcommands");
        out.map(spec.subcommands.len());
        for sub in spec.subcommands {
            out.bulk_str(sub.name);
            command_doc(out, sub);
        }
    }
}

fn command_list(out: &mut Out, argv: &[&[u8]]) -> Result<(), Error> {
    let pattern = match argv.len() {
        2 => None,
        5 if is(argv[2], "filterby") && is(argv[3], "pattern") => Some(argv[4]),
        _ => return Err(Error::SYNTAX),
    };
    let names: Vec<&str> = COMMANDS
        .iter()
        .flat_map(|c| std::iter::once(c.name).chain(c.subcommands.iter().map(|s| s.name)))
        .filter(|n| pattern.is_none_or(|p| glob::matches(p, n.as_bytes(), true)))
        .collect();
    out.array(names.len());
    for name in names {
        out.bulk_str(name);
    }
    Ok(())
}

/// What one core reports for INFO.
struct CoreReport {
    clients: usize,
    counters: CoreCounters,
    stats: ShardStats,
    /// `(keys, expires, avg_ttl)` per database.
    keyspace: Vec<(usize, usize, u64)>,
}

const DEFAULT_SECTIONS: &[&str] =
    &["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "cores", "keyspace"];

async fn info(s: &mut Session, argv: &[&[u8]]) -> Result<(), Error> {
    let mut wanted: Vec<String> = argv[1..].iter().map(|a| String::from_utf8_lossy(a).to_ascii_lowercase()).collect();
    if wanted.is_empty() || wanted.iter().any(|w| w == "default" || w == "all" || w == "everything") {
        wanted = DEFAULT_SECTIONS.iter().map(|s| s.to_string()).collect();
    }
    let reports = s
        .core
        .run_on_all(|core| {
            let now = now_ms();
            let shard = core.shard.borrow();
            let clients = core.clients.borrow();
            CoreReport {
                clients: clients.len(),
                counters: clients.counters,
                stats: shard.stats.clone(),
                keyspace: shard.dbs.iter().map(|db| (db.len(), db.expires_count(), db.avg_ttl(now))).collect(),
            }
        })
        .await;
    let mut text = String::new();
    for section in DEFAULT_SECTIONS {
        if !wanted.iter().any(|w| w == section) {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        write_section(&mut text, section, s, &reports);
    }
    s.out.verbatim(text.as_bytes());
    Ok(())
}

fn write_section(t: &mut String, section: &str, s: &Session, reports: &[CoreReport]) {
    let shared = &s.core.shared;
    let config = s.core.shard.borrow().config.clone();
    let sum = |f: &dyn Fn(&CoreReport) -> u64| reports.iter().map(f).sum::<u64>();
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
            line!("executable:{}", shared.executable);
            line!(
                "config_file:{}",
                config.config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
            );
            line!("executors:{}", reports.len());
        }
        "clients" => {
            line!("# Clients");
            line!("connected_clients:{}", sum(&|r| r.clients as u64));
            line!("maxclients:{}", config.maxclients);
            line!("blocked_clients:0");
            line!("tracking_clients:0");
        }
        "memory" => {
            let used = crate::alloc::used_memory();
            line!("# Memory");
            line!("used_memory:{used}");
            line!("used_memory_human:{}", human_bytes(used));
            line!("used_memory_rss:{}", crate::alloc::rss_bytes());
            line!("maxmemory:{}", config.maxmemory);
            line!("maxmemory_human:{}", human_bytes(config.maxmemory));
            line!("maxmemory_policy:noeviction");
            line!("mem_allocator:mimalloc");
        }
        "persistence" => {
            line!("# Persistence");
            line!("loading:0");
            line!("rdb_changes_since_last_save:{}", sum(&|r| r.stats.dirty));
            line!("rdb_bgsave_in_progress:0");
            line!("rdb_last_save_time:{}", shared.start_unix);
            line!("aof_enabled:0");
            line!("aof_rewrite_in_progress:0");
        }
        "stats" => {
            line!("# Stats");
            line!("total_connections_received:{}", sum(&|r| r.counters.total_connections));
            line!("total_commands_processed:{}", sum(&|r| r.counters.commands));
            line!("total_net_input_bytes:{}", sum(&|r| r.counters.net_input_bytes));
            line!("total_net_output_bytes:{}", sum(&|r| r.counters.net_output_bytes));
            line!("rejected_connections:{}", sum(&|r| r.counters.rejected_connections));
            line!("expired_keys:{}", sum(&|r| r.stats.expired_keys));
            line!("evicted_keys:0");
            line!("keyspace_hits:{}", sum(&|r| r.stats.keyspace_hits));
            line!("keyspace_misses:{}", sum(&|r| r.stats.keyspace_misses));
            line!("pubsub_channels:0");
            line!("pubsub_patterns:0");
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
            for (i, r) in reports.iter().enumerate() {
                let keys: usize = r.keyspace.iter().map(|(k, _, _)| k).sum();
                line!(
                    "core{i}:connected_clients={},total_connections={},commands={},keys={}",
                    r.clients,
                    r.counters.total_connections,
                    r.counters.commands,
                    keys
                );
            }
        }
        "keyspace" => {
            line!("# Keyspace");
            let dbs = reports.first().map_or(0, |r| r.keyspace.len());
            for db in 0..dbs {
                let keys: usize = reports.iter().map(|r| r.keyspace[db].0).sum();
                let expires: usize = reports.iter().map(|r| r.keyspace[db].1).sum();
                if keys == 0 {
                    continue;
                }
                // Weighted by each shard's count of keys with a deadline.
                let ttl_sum: u128 = reports.iter().map(|r| r.keyspace[db].2 as u128 * r.keyspace[db].1 as u128).sum();
                let avg_ttl = if expires == 0 { 0 } else { (ttl_sum / expires as u128) as u64 };
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
