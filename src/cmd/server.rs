//! Server commands: INFO, CONFIG, COMMAND, DBSIZE, FLUSHDB/FLUSHALL, KEYS,
//! SCAN, TIME, LASTSAVE. Those that need every shard fan out one hop per core
//! and merge what comes back.

use std::fmt::Write;

use super::args::{is, truncated, Error};
use super::connection::REDIS_VERSION;
use super::spec::{Begin, Find};
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
                    core.shard.borrow_mut().reset_stats();
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
        ConnCmd::CommandGetKeys => command_getkeys(&mut s.out, &argv[2..], false),
        ConnCmd::CommandGetKeysAndFlags => command_getkeys(&mut s.out, &argv[2..], true),
        ConnCmd::Dbsize => {
            let db = s.db;
            let sizes = s
                .core
                .run_on_all(move |core| core.shard.borrow().dbs[db].len())
                .await;
            s.out.int(sizes.iter().sum::<usize>() as i64);
            Ok(())
        }
        ConnCmd::FlushDb | ConnCmd::FlushAll => {
            if argv.len() > 2 || (argv.len() == 2 && !is(argv[1], "async") && !is(argv[1], "sync"))
            {
                return Err(Error::SYNTAX);
            }
            let only = (cmd == ConnCmd::FlushDb).then_some(s.db);
            s.core
                .run_on_all(move |core| {
                    core.shard.borrow_mut().flush(only);
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
        ConnCmd::RandomKey => random_key(s).await,
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

/// RANDOMKEY: a shard chosen in proportion to its number of keys, then a
/// random live key there.
async fn random_key(s: &mut Session) -> Result<(), Error> {
    let db = s.db;
    let seed = crate::alloc::random_u64();
    let sizes = s
        .core
        .run_on_all(move |core| core.shard.borrow().dbs[db].len())
        .await;
    let total: usize = sizes.iter().sum();
    let mut key = None;
    if total > 0 {
        let mut pick = (seed % total as u64) as usize;
        let shard = sizes.iter().position(|&n| {
            let here = pick < n;
            pick = pick.saturating_sub(n);
            here
        });
        if let Some(shard) = shard {
            key = s
                .core
                .run_on(shard, move |core| {
                    core.shard.borrow().dbs[db]
                        .random_live_key(now_ms(), seed)
                        .map(|k| k.to_vec())
                })
                .await;
        }
    }
    s.out.bulk_opt(key.as_deref());
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
                    let type_ok = type_name
                        .as_deref()
                        .is_none_or(|t| t == e.value.type_name().as_bytes());
                    let match_ok = pattern
                        .as_deref()
                        .is_none_or(|p| glob::matches(p, k, false));
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
            if glob::matches(pattern, name.as_bytes(), true)
                && !pairs.iter().any(|(n, _)| n == name)
            {
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
    if !argv.len().is_multiple_of(2) {
        return Err(Error::arity("config|set"));
    }
    let mut config = s.core.shard.borrow().config.clone();
    let mut seen: Vec<String> = Vec::new();
    for pair in argv[2..].chunks(2) {
        let name = String::from_utf8_lossy(pair[0]).to_ascii_lowercase();
        let value = String::from_utf8_lossy(pair[1]).into_owned();
        let failed = |why: &str| {
            Error::msg(format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
            ))
        };
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
        if name == "maxclients" {
            // As Redis: the open-file limit must hold them, or CONFIG SET fails.
            let reserved = crate::server::limits::reserved_fds(s.core.cores(), config.bind.len());
            if let crate::server::limits::Adjusted::Reduced { maxclients, .. } =
                crate::server::limits::adjust(config.maxclients, reserved)
            {
                return Err(failed(&format!(
                    "The operating system is not able to handle the specified number of clients, try with {maxclients}"
                )));
            }
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
    match std::str::from_utf8(name)
        .ok()?
        .to_ascii_lowercase()
        .split_once('|')
    {
        Some((container, sub)) => {
            super::table::lookup(container.as_bytes())?.subcommand(sub.as_bytes())
        }
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
    cats.push(
        if spec.has_flag("fast") {
            "@fast"
        } else {
            "@slow"
        }
        .to_string(),
    );
    if spec.has_flag("admin") {
        cats.push("@admin".to_string());
        cats.push("@dangerous".to_string());
    }
    if spec.has_flag("blocking") {
        cats.push("@blocking".to_string());
    }
    cats
}

/// COMMAND INFO's 10-field entry for each command (null for unknown names).
fn reply_command_infos<'a>(
    out: &mut Out,
    specs: impl ExactSizeIterator<Item = Option<&'a CommandSpec>>,
) {
    out.array(specs.len());
    for spec in specs {
        match spec {
            Some(spec) => command_info(out, spec),
            None => out.null(),
        }
    }
}

fn command_info(out: &mut Out, spec: &CommandSpec) {
    let (first, last, step) = spec.legacy_range();
    out.array(10);
    out.bulk_str(spec.name);
    out.int(spec.arity as i64);
    out.set(spec.flags.len());
    for flag in spec.flags {
        out.simple(flag);
    }
    out.int(first);
    out.int(last);
    out.int(step);
    let cats = acl_categories(spec);
    out.set(cats.len());
    for cat in &cats {
        out.simple(cat);
    }
    out.set(0); // tips
    let access = if spec.has_flag("write") { "RW" } else { "RO" };
    out.array(spec.keys.len());
    for key_spec in spec.keys {
        out.map(3);
        out.bulk_str("flags");
        out.set(1);
        out.simple(access);
        out.bulk_str("begin_search");
        out.map(2);
        out.bulk_str("type");
        match key_spec.begin {
            Begin::Index(index) => {
                out.bulk_str("index");
                out.bulk_str("spec");
                out.map(1);
                out.bulk_str("index");
                out.int(index as i64);
            }
            Begin::Keyword { word, from } => {
                out.bulk_str("keyword");
                out.bulk_str("spec");
                out.map(2);
                out.bulk_str("keyword");
                out.bulk_str(word);
                out.bulk_str("startfrom");
                out.int(from as i64);
            }
        }
        out.bulk_str("find_keys");
        out.map(2);
        out.bulk_str("type");
        match key_spec.find {
            Find::Range { last, step, limit } => {
                out.bulk_str("range");
                out.bulk_str("spec");
                out.map(3);
                out.bulk_str("lastkey");
                out.int(last as i64);
                out.bulk_str("keystep");
                out.int(step as i64);
                out.bulk_str("limit");
                out.int(limit as i64);
            }
            Find::KeyNum {
                numkeys,
                first,
                step,
            } => {
                out.bulk_str("keynum");
                out.bulk_str("spec");
                out.map(3);
                out.bulk_str("keynumidx");
                out.int(numkeys as i64);
                out.bulk_str("firstkey");
                out.int(first as i64);
                out.bulk_str("keystep");
                out.int(step as i64);
            }
        }
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
        "del" | "unlink" | "exists" | "touch" => {
            "O(N) where N is the number of keys that will be removed or checked."
        }
        "mget" | "mset" | "msetnx" => "O(N) where N is the number of keys to retrieve or set.",
        "keys" => "O(N) with N being the number of keys in the database.",
        "scan" => "O(1) for every call. O(N) for a complete iteration.",
        "flushdb" | "flushall" => "O(N) where N is the total number of keys in all databases",
        "client|list" | "client|kill" => "O(N) where N is the number of client connections",
        "command" | "command|info" | "command|docs" | "command|list" => {
            "O(N) where N is the number of commands to look up"
        }
        "config|get" | "config|set" => {
            "O(N) when N is the number of configuration parameters provided"
        }
        "getrange" => "O(N) where N is the length of the returned string.",
        "setrange" => "O(1), not counting the time taken to copy the new string in place.",
        _ => "O(1)",
    }
}

fn command_doc(out: &mut Out, spec: &CommandSpec) {
    let has_subs = !spec.subcommands.is_empty();
    let args = argdocs::parse(spec.syntax, spec.name);
    out.map(4 + !args.is_empty() as usize + has_subs as usize);
    out.bulk_str("summary");
    out.bulk_str(spec.summary);
    out.bulk_str("since");
    out.bulk_str(spec.since);
    out.bulk_str("group");
    out.bulk_str(spec.group);
    out.bulk_str("complexity");
    out.bulk_str(complexity(spec.name));
    if !args.is_empty() {
        out.bulk_str("arguments");
        // Key arguments belong to the key specifications in order (the
        // last one takes any further key arguments).
        let mut next_key = 0;
        write_doc_args(out, &args, spec.keys.len(), &mut next_key);
    }
    if has_subs {
        out.bulk_str("subcommands");
        out.map(spec.subcommands.len());
        for sub in spec.subcommands {
            out.bulk_str(sub.name);
            command_doc(out, sub);
        }
    }
}

/// COMMAND DOCS argument maps, in Redis's field order.
fn write_doc_args(out: &mut Out, args: &[argdocs::Arg], key_specs: usize, next_key: &mut usize) {
    out.array(args.len());
    for arg in args {
        let key_spec = key_specs > 0 && arg.kind == "key";
        let flags = [(arg.optional, "optional"), (arg.multiple, "multiple")];
        let nflags = flags.iter().filter(|(on, _)| *on).count();
        out.map(
            2 + key_spec as usize
                + arg.token.is_some() as usize
                + (nflags > 0) as usize
                + !arg.args.is_empty() as usize,
        );
        out.bulk_str("name");
        out.bulk_str(&arg.name);
        out.bulk_str("type");
        out.bulk_str(arg.kind);
        if key_spec {
            out.bulk_str("key_spec_index");
            out.int((*next_key).min(key_specs - 1) as i64);
            *next_key += 1;
        }
        if let Some(token) = &arg.token {
            out.bulk_str("token");
            out.bulk_str(token);
        }
        if nflags > 0 {
            out.bulk_str("flags");
            out.set(nflags);
            for (_, flag) in flags.iter().filter(|(on, _)| *on) {
                out.simple(flag);
            }
        }
        if !arg.args.is_empty() {
            out.bulk_str("arguments");
            write_doc_args(out, &arg.args, key_specs, next_key);
        }
    }
}

/// COMMAND GETKEYS / GETKEYSANDFLAGS: the keys of `argv` as its command's
/// key specifications find them (the same ones routing and locks use).
fn command_getkeys(out: &mut Out, argv: &[&[u8]], with_flags: bool) -> Result<(), Error> {
    let mut spec =
        super::table::lookup(argv[0]).ok_or(Error::msg("ERR Invalid command specified"))?;
    if !spec.subcommands.is_empty() && argv.len() > 1 {
        spec = spec
            .subcommand(argv[1])
            .ok_or(Error::msg("ERR Invalid command specified"))?;
    }
    if spec.keys.is_empty() {
        return Err(Error::msg("ERR The command has no key arguments"));
    }
    if !spec.arity_ok(argv.len()) {
        return Err(Error::msg(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let positions = spec.key_positions(argv).unwrap_or_default();
    if positions.is_empty() && !spec.has_flag("no_mandatory_keys") {
        return Err(Error::msg("ERR Invalid arguments specified for command"));
    }
    let access = if spec.has_flag("write") { "RW" } else { "RO" };
    out.array(positions.len());
    for i in positions {
        if with_flags {
            out.array(2);
            out.bulk(argv[i]);
            out.set(1);
            out.simple(access);
        } else {
            out.bulk(argv[i]);
        }
    }
    Ok(())
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
    blocked: usize,
    ops_per_sec: u64,
    /// Memory of the core's connections (`mem_clients_normal`).
    client_memory: usize,
    counters: CoreCounters,
    stats: ShardStats,
    expired_keys: u64,
    /// `(keys, expires, avg_ttl)` per database.
    keyspace: Vec<(usize, usize, u64)>,
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

async fn info(s: &mut Session, argv: &[&[u8]]) -> Result<(), Error> {
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
    let reports = s
        .core
        .run_on_all(|core| {
            let now = now_ms();
            let shard = core.shard.borrow();
            let clients = core.clients.borrow();
            CoreReport {
                clients: clients.len(),
                blocked: clients.blocked,
                ops_per_sec: clients.ops.per_sec(),
                client_memory: clients.memory(),
                counters: clients.counters,
                stats: shard.stats.clone(),
                expired_keys: shard.expired_keys(),
                keyspace: shard
                    .dbs
                    .iter()
                    .map(|db| (db.len(), db.expires_count(), db.avg_ttl(now)))
                    .collect(),
            }
        })
        .await;
    let pubsub = if wanted.iter().any(|w| w == "stats") {
        super::pubsub::totals(&s.core).await
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
        write_section(&mut text, section, s, &reports, pubsub);
    }
    s.out.verbatim(text.as_bytes());
    Ok(())
}

/// One INFO section; `pubsub` is the distinct channels, patterns and shard
/// channels subscribed to over every core.
fn write_section(
    t: &mut String,
    section: &str,
    s: &Session,
    reports: &[CoreReport],
    pubsub: [usize; 3],
) {
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
                config
                    .config_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
            line!("executors:{}", reports.len());
        }
        "clients" => {
            line!("# Clients");
            line!("connected_clients:{}", sum(&|r| r.clients as u64));
            line!("maxclients:{}", config.maxclients);
            line!("blocked_clients:{}", sum(&|r| r.blocked as u64));
            line!("tracking_clients:0");
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
            line!("loading:0");
            line!("rdb_changes_since_last_save:{}", sum(&|r| r.stats.dirty));
            line!("rdb_bgsave_in_progress:0");
            line!("rdb_last_save_time:{}", shared.start_unix);
            line!("aof_enabled:0");
            line!("aof_rewrite_in_progress:0");
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
            line!("expired_keys:{}", sum(&|r| r.expired_keys));
            line!("evicted_keys:0");
            line!("keyspace_hits:{}", sum(&|r| r.stats.keyspace_hits));
            line!("keyspace_misses:{}", sum(&|r| r.stats.keyspace_misses));
            line!("pubsub_channels:{}", pubsub[0]);
            line!("pubsub_patterns:{}", pubsub[1]);
            line!("pubsubshard_channels:{}", pubsub[2]);
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
            for (i, r) in reports.iter().enumerate() {
                let keys: usize = r.keyspace.iter().map(|(k, _, _)| k).sum();
                line!(
                    "core{i}:connected_clients={},total_connections={},commands={},ops_per_sec={},keys={}",
                    r.clients,
                    r.counters.total_connections,
                    r.counters.commands,
                    r.ops_per_sec,
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

/// COMMAND DOCS `arguments`: a command's documented syntax (`key value [NX | XX]
/// [EX seconds | ...]`) parsed into the argument tree Redis reports — each
/// argument a name, a type, an optional token, `optional` / `multiple` flags and,
/// for `oneof` and `block`, the arguments inside.
mod argdocs {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Arg {
        pub name: String,
        /// `key`, `string`, `integer`, `double`, `pattern`, `unix-time`,
        /// `pure-token`, `oneof` or `block`.
        pub kind: &'static str,
        pub token: Option<String>,
        pub optional: bool,
        pub multiple: bool,
        /// The alternatives of a `oneof`, the parts of a `block`.
        pub args: Vec<Arg>,
    }

    impl Arg {
        fn new(name: impl Into<String>, kind: &'static str) -> Arg {
            Arg {
                name: name.into(),
                kind,
                token: None,
                optional: false,
                multiple: false,
                args: Vec::new(),
            }
        }

        fn group(name: impl Into<String>, kind: &'static str, args: Vec<Arg>) -> Arg {
            Arg {
                args,
                ..Arg::new(name, kind)
            }
        }
    }

    /// The syntax as written, before it becomes arguments.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Node {
        Word(String),
        /// `[a | b]` (optional) or `<a | b>`: one or more alternative sequences.
        Group {
            optional: bool,
            alts: Vec<Vec<Node>>,
        },
        /// `x [x ...]` or `<...> [...]`: the repeated sequence.
        Repeat(Vec<Node>),
        /// A `...` that follows no matching repetition: repeats what precedes it.
        Ellipsis,
    }

    /// Parses `syntax` for command `cmd` (lower case; it picks INCRBYFLOAT's double).
    /// Never fails: stray brackets are ignored and unclosed ones end at the end.
    pub fn parse(syntax: &str, cmd: &str) -> Vec<Arg> {
        let tokens = lex(syntax);
        let mut pos = 0;
        let alts = parse_alts(&tokens, &mut pos, false);
        match alts.as_slice() {
            [seq] => seq_args(seq, cmd),
            _ => oneof(alts.iter().filter_map(|seq| single(seq, cmd)).collect())
                .into_iter()
                .collect(),
        }
    }

    fn lex(syntax: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut rest = syntax.trim_start();
        while let Some(c) = rest.chars().next() {
            let len = if rest.starts_with("...") {
                3
            } else if "[]<>|".contains(c) {
                1
            } else {
                rest.find(|c: char| c.is_whitespace() || "[]<>|".contains(c))
                    .unwrap_or(rest.len())
            };
            out.push(&rest[..len]);
            rest = rest[len..].trim_start();
        }
        out
    }

    /// Alternatives separated by `|`, each a sequence, up to the group's closing
    /// bracket (`nested`) or the end.
    fn parse_alts(tokens: &[&str], pos: &mut usize, nested: bool) -> Vec<Vec<Node>> {
        let mut alts = vec![Vec::new()];
        while let Some(&t) = tokens.get(*pos) {
            *pos += 1;
            let seq = alts.last_mut().expect("never empty");
            match t {
                "|" => alts.push(Vec::new()),
                "[" | "<" => {
                    let inner = parse_alts(tokens, pos, true);
                    push(
                        seq,
                        Node::Group {
                            optional: t == "[",
                            alts: inner,
                        },
                    );
                }
                "]" | ">" if nested => break,
                "]" | ">" => {}
                "..." => seq.push(Node::Ellipsis),
                word => seq.push(Node::Word(word.to_string())),
            }
        }
        alts
    }

    /// Appends `node`, folding `x [x ...]` and `<...> [...]` into a repetition of `x`.
    fn push(seq: &mut Vec<Node>, node: Node) {
        if let Node::Group {
            optional: true,
            alts,
        } = &node
        {
            if let [alt] = alts.as_slice() {
                if let [inner @ .., Node::Ellipsis] = alt.as_slice() {
                    let n = inner.len().max(1);
                    if seq.len() >= n && (inner.is_empty() || seq[seq.len() - n..] == *inner) {
                        let repeated = seq.split_off(seq.len() - n);
                        seq.push(Node::Repeat(repeated));
                        return;
                    }
                }
            }
        }
        seq.push(node);
    }

    /// UPPERCASE words (`NX`, `LIB-NAME`) are literal tokens; the rest name values.
    fn is_token(word: &str) -> bool {
        word.chars().any(|c| c.is_ascii_alphabetic())
            && !word.chars().any(|c| c.is_ascii_lowercase())
    }

    fn is_token_node(node: &Node) -> bool {
        matches!(node, Node::Word(w) if is_token(w))
    }

    fn seq_args(seq: &[Node], cmd: &str) -> Vec<Arg> {
        let mut out: Vec<Arg> = Vec::new();
        let mut i = 0;
        while i < seq.len() {
            match &seq[i] {
                Node::Word(word) if is_token(word) => {
                    // A token introduces the values that follow it, up to the next token.
                    let end = seq[i + 1..]
                        .iter()
                        .position(is_token_node)
                        .map_or(seq.len(), |p| i + 1 + p);
                    out.push(with_token(word, seq_args(&seq[i + 1..end], cmd)));
                    i = end;
                    continue;
                }
                Node::Ellipsis => {
                    if let Some(last) = out.last_mut() {
                        last.multiple = true;
                    }
                }
                node => out.extend(node_arg(node, cmd)),
            }
            i += 1;
        }
        out
    }

    fn node_arg(node: &Node, cmd: &str) -> Option<Arg> {
        match node {
            Node::Word(word) => Some(Arg::new(word.as_str(), value_type(word, cmd))),
            Node::Group { optional, alts } => {
                let mut arg = match alts.as_slice() {
                    [seq] => single(seq, cmd)?,
                    _ => oneof(alts.iter().filter_map(|seq| single(seq, cmd)).collect())?,
                };
                arg.optional |= optional;
                Some(arg)
            }
            Node::Repeat(seq) => {
                let mut arg = single(seq, cmd)?;
                arg.multiple = true;
                Some(arg)
            }
            Node::Ellipsis => None,
        }
    }

    /// A sequence as one argument: itself when it has one part, else a block.
    fn single(seq: &[Node], cmd: &str) -> Option<Arg> {
        let mut args = seq_args(seq, cmd);
        match args.len() {
            0 => None,
            1 => args.pop(),
            _ => Some(Arg::group(joined(&args), "block", args)),
        }
    }

    fn oneof(args: Vec<Arg>) -> Option<Arg> {
        match args.len() {
            0 => None,
            1 => args.into_iter().next(),
            _ => {
                let name = if args.iter().any(|a| a.token.as_deref() == Some("EX")) {
                    "expiration".to_string()
                } else if args
                    .iter()
                    .all(|a| matches!(a.token.as_deref(), Some("NX" | "XX" | "GT" | "LT")))
                {
                    "condition".to_string()
                } else {
                    joined(&args)
                };
                Some(Arg::group(name, "oneof", args))
            }
        }
    }

    /// `TOKEN` alone is a pure token; `TOKEN value` a value with that token;
    /// `TOKEN <a | b>` a oneof with it; anything longer a block with it.
    fn with_token(token: &str, mut rest: Vec<Arg>) -> Arg {
        let lower = token.to_ascii_lowercase();
        let mut arg = match rest.len() {
            0 => Arg::new(lower, "pure-token"),
            1 if rest[0].token.is_none() && !rest[0].optional && !rest[0].multiple => {
                let mut arg = rest.pop().expect("one");
                if arg.kind == "oneof" || arg.kind == "block" {
                    arg.name = lower;
                }
                arg
            }
            _ => Arg::group(lower, "block", rest),
        };
        arg.token = Some(token.to_string());
        arg
    }

    /// Redis's name for a group it has no better name for: its parts' names joined.
    fn joined(args: &[Arg]) -> String {
        let names: Vec<String> = args
            .iter()
            .map(|a| {
                a.token
                    .as_deref()
                    .map_or_else(|| a.name.clone(), str::to_ascii_lowercase)
            })
            .collect();
        names.join("_")
    }

    fn value_type(name: &str, cmd: &str) -> &'static str {
        match name {
            "key" | "newkey" | "destination" | "source" => "key",
            "pattern" => "pattern",
            "increment" if cmd == "incrbyfloat" || cmd == "hincrbyfloat" => "double",
            "count" | "cursor" | "offset" | "start" | "end" | "numkeys" | "index" | "db"
            | "increment" | "decrement" | "client-id" | "protover" | "timeout" => "integer",
            n if n.starts_with("unix-time") => "unix-time",
            n if n.ends_with("seconds") || n.ends_with("milliseconds") => "integer",
            _ => "string",
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn arg(name: &str, kind: &'static str) -> Arg {
            Arg::new(name, kind)
        }
        fn pure(token: &str) -> Arg {
            tok(arg(&token.to_ascii_lowercase(), "pure-token"), token)
        }
        fn tok(a: Arg, token: &str) -> Arg {
            Arg {
                token: Some(token.to_string()),
                ..a
            }
        }
        fn opt(a: Arg) -> Arg {
            Arg {
                optional: true,
                ..a
            }
        }
        fn many(a: Arg) -> Arg {
            Arg {
                multiple: true,
                ..a
            }
        }
        fn oneof(name: &str, args: Vec<Arg>) -> Arg {
            Arg::group(name, "oneof", args)
        }
        fn block(name: &str, args: Vec<Arg>) -> Arg {
            Arg::group(name, "block", args)
        }

        #[test]
        fn set() {
            let syntax = "key value [NX | XX] [GET] [EX seconds | PX milliseconds | \
                          EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]";
            assert_eq!(
                parse(syntax, "set"),
                vec![
                    arg("key", "key"),
                    arg("value", "string"),
                    opt(oneof("condition", vec![pure("NX"), pure("XX")])),
                    opt(pure("GET")),
                    opt(oneof(
                        "expiration",
                        vec![
                            tok(arg("seconds", "integer"), "EX"),
                            tok(arg("milliseconds", "integer"), "PX"),
                            tok(arg("unix-time-seconds", "unix-time"), "EXAT"),
                            tok(arg("unix-time-milliseconds", "unix-time"), "PXAT"),
                            pure("KEEPTTL"),
                        ]
                    )),
                ]
            );
        }

        #[test]
        fn mset_and_repeats() {
            assert_eq!(
                parse("key value [key value ...]", "mset"),
                vec![many(block(
                    "key_value",
                    vec![arg("key", "key"), arg("value", "string")]
                ))]
            );
            assert_eq!(parse("key [key ...]", "del"), vec![many(arg("key", "key"))]);
            assert_eq!(
                parse("[section [section ...]]", "info"),
                vec![opt(many(arg("section", "string")))]
            );
            assert_eq!(
                parse("[ID client-id [client-id ...]]", "client|list"),
                vec![opt(tok(
                    block("id", vec![many(arg("client-id", "integer"))]),
                    "ID"
                ))]
            );
        }

        #[test]
        fn ping_and_simple() {
            assert_eq!(
                parse("[message]", "ping"),
                vec![opt(arg("message", "string"))]
            );
            assert_eq!(parse("", "time"), vec![]);
            assert_eq!(
                parse("key increment", "incrby")[1],
                arg("increment", "integer")
            );
            assert_eq!(
                parse("key increment", "incrbyfloat")[1],
                arg("increment", "double")
            );
            assert_eq!(
                parse("cursor [MATCH pattern] [COUNT count] [TYPE type]", "scan"),
                vec![
                    arg("cursor", "integer"),
                    opt(tok(arg("pattern", "pattern"), "MATCH")),
                    opt(tok(arg("count", "integer"), "COUNT")),
                    opt(tok(arg("type", "string"), "TYPE")),
                ]
            );
            assert_eq!(
                parse(
                    "[protover [AUTH username password] [SETNAME clientname]]",
                    "hello"
                ),
                vec![opt(block(
                    "protover_auth_setname",
                    vec![
                        arg("protover", "integer"),
                        opt(tok(
                            block(
                                "auth",
                                vec![arg("username", "string"), arg("password", "string")]
                            ),
                            "AUTH"
                        )),
                        opt(tok(arg("clientname", "string"), "SETNAME")),
                    ]
                ))]
            );
        }

        #[test]
        fn client_kill() {
            let syntax = "ip:port | <[ID client-id] | [TYPE <NORMAL | MASTER | SLAVE | REPLICA | PUBSUB>] | \
                          [USER username] | [ADDR ip:port] | [LADDR ip:port] | [SKIPME <YES | NO>]> [...]";
            let types = ["NORMAL", "MASTER", "SLAVE", "REPLICA", "PUBSUB"]
                .map(pure)
                .to_vec();
            let new_format = many(oneof(
                "id_type_user_addr_laddr_skipme",
                vec![
                    opt(tok(arg("client-id", "integer"), "ID")),
                    opt(tok(oneof("type", types), "TYPE")),
                    opt(tok(arg("username", "string"), "USER")),
                    opt(tok(arg("ip:port", "string"), "ADDR")),
                    opt(tok(arg("ip:port", "string"), "LADDR")),
                    opt(tok(
                        oneof("skipme", vec![pure("YES"), pure("NO")]),
                        "SKIPME",
                    )),
                ],
            ));
            assert_eq!(
                parse(syntax, "client|kill"),
                vec![oneof(
                    "ip:port_id_type_user_addr_laddr_skipme",
                    vec![arg("ip:port", "string"), new_format]
                )]
            );
        }

        #[test]
        fn malformed_syntax_does_not_panic() {
            for syntax in [
                "[",
                "]",
                "<a | >",
                "[...]",
                "... x",
                "| |",
                "[a [b ...]",
                "A B C",
                "[x] ...",
            ] {
                let _ = parse(syntax, "x");
            }
        }

        /// Every documented command parses into well-formed arguments.
        #[test]
        fn whole_table() {
            fn check(a: &Arg) {
                assert!(!a.name.is_empty());
                let kinds = [
                    "key",
                    "string",
                    "integer",
                    "double",
                    "pattern",
                    "unix-time",
                    "pure-token",
                    "oneof",
                    "block",
                ];
                assert!(kinds.contains(&a.kind), "{a:?}");
                assert_eq!(
                    a.kind == "oneof" || a.kind == "block",
                    !a.args.is_empty(),
                    "{a:?}"
                );
                if a.kind == "pure-token" {
                    assert!(a.token.is_some(), "{a:?}");
                }
                a.args.iter().for_each(check);
            }
            let table = crate::cmd::table::COMMANDS;
            for spec in table
                .iter()
                .chain(table.iter().flat_map(|c| c.subcommands.iter()))
            {
                let args = parse(spec.syntax, spec.name);
                assert_eq!(args.is_empty(), spec.syntax.is_empty(), "{}", spec.name);
                args.iter().for_each(check);
            }
        }
    }
}
