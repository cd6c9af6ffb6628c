//! Server options, redis-server style: `ringbus [config-file] [--port 6379] ...`.
//! A config file holds the same directives, one per line (`port 6380`); options
//! on the command line override the file. CONFIG GET / SET read and change the
//! same values at run time (those that can change; the rest say so).

use std::path::PathBuf;

use clap::{CommandFactory, Parser};

#[derive(Parser, Debug, Clone)]
#[command(
    name = "ringbus",
    version,
    about = "A Redis-protocol message broker: thread-per-core on io_uring",
    args_override_self = true
)]
pub struct Config {
    /// Config file: one `directive value` per line, with the option names below.
    #[arg(value_name = "CONFIG_FILE")]
    pub config_file: Option<PathBuf>,

    /// TCP port to listen on.
    #[arg(long, default_value_t = 6379)]
    pub port: u16,

    /// Addresses to listen on (space-separated list allowed, as in redis.conf).
    #[arg(long, num_args = 1.., default_value = "127.0.0.1")]
    pub bind: Vec<String>,

    /// Executors (one per core, each owning one shard). Default: one per available CPU.
    #[arg(long)]
    pub threads: Option<usize>,

    /// Pin executor i to the i-th allowed CPU (from --first-cpu on). Off by
    /// default: unpinned executors let the kernel move one off a CPU that
    /// other work (a job worker on the same machine) keeps busy.
    #[arg(long, overrides_with = "no_pin")]
    pub pin: bool,

    /// Do not pin executors (the default; the last of --pin/--no-pin wins).
    #[arg(long = "no-pin", overrides_with = "pin")]
    pub no_pin: bool,

    /// Lowest CPU to pin to: executors take the allowed CPUs (the affinity
    /// mask, e.g. from taskset) from this one on, one each.
    #[arg(long = "first-cpu", default_value_t = 0)]
    pub first_cpu: usize,

    /// io_uring submission queue depth per executor.
    #[arg(long = "ring-entries", default_value_t = 1024)]
    pub ring_entries: u32,

    /// How io_uring runs completion work: `coop` (COOP_TASKRUN|TASKRUN_FLAG),
    /// `defer` (SINGLE_ISSUER|DEFER_TASKRUN) or `interrupt` (kernel default).
    #[arg(long = "ring-taskrun", default_value = "coop", value_parser = ["coop", "defer", "interrupt"])]
    pub ring_taskrun: String,

    /// Initial read buffer per connection (bytes; it grows for large requests).
    #[arg(long = "read-buffer", default_value = "16kb", value_parser = parse_memory)]
    pub read_buffer: u64,

    /// Number of logical databases (SELECT 0..n-1).
    #[arg(long, default_value_t = 16)]
    pub databases: usize,

    /// Password clients must send with AUTH (or HELLO AUTH) before any command.
    #[arg(long)]
    pub requirepass: Option<String>,

    /// Largest bulk string a client may send.
    #[arg(long = "proto-max-bulk-len", default_value = "512mb", value_parser = parse_memory)]
    pub proto_max_bulk_len: u64,

    /// Largest unparsed input a client may have buffered before it is disconnected.
    #[arg(long = "client-query-buffer-limit", default_value = "1gb", value_parser = parse_memory)]
    pub client_query_buffer_limit: u64,

    /// Most clients connected at once (over all cores).
    #[arg(long, default_value_t = 10000)]
    pub maxclients: usize,

    /// Memory limit in bytes (0: none). Past it, commands that may grow memory
    /// fail with OOM (the `noeviction` policy).
    #[arg(long, default_value = "0", value_parser = parse_memory)]
    pub maxmemory: u64,

    /// Background task frequency per second (active expiry).
    #[arg(long, default_value_t = 10)]
    pub hz: u32,

    /// Snapshot rules, `<seconds> <changes>` pairs: a BGSAVE starts when at
    /// least <changes> writes happened and <seconds> passed since the last
    /// save. "" turns them off.
    #[arg(long = "save", num_args = 1.., default_value = "3600 1 300 100 60 10000",
          value_name = "SECONDS CHANGES")]
    pub save_args: Vec<String>,

    /// The rules `save_args` set (and CONFIG SET changes).
    #[arg(skip)]
    pub save: SaveRules,

    /// Directory for the snapshot file (made absolute at start).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,

    /// Snapshot file name, inside `dir`.
    #[arg(long, default_value = "dump.rdb", value_parser = parse_dbfilename)]
    pub dbfilename: String,

    /// `timeout`: close a client idle this many seconds (0: never), except
    /// subscribers and blocked clients, as Redis.
    #[arg(long = "timeout", default_value_t = 0, value_parser = parse_int_seconds)]
    pub timeout: u64,

    /// `tcp-keepalive`: SO_KEEPALIVE on client connections with this many
    /// seconds before the first probe (0: off), as Redis's anetKeepAlive.
    #[arg(long = "tcp-keepalive", default_value_t = 300, value_parser = parse_int_seconds)]
    pub tcp_keepalive: u64,

    /// `hash-max-listpack-entries` (alias `hash-max-ziplist-entries`).
    #[arg(long = "hash-max-listpack-entries", alias = "hash-max-ziplist-entries",
          default_value_t = 512, value_parser = parse_size_count)]
    pub hash_max_listpack_entries: u64,

    /// `hash-max-listpack-value` (alias `hash-max-ziplist-value`).
    #[arg(long = "hash-max-listpack-value", alias = "hash-max-ziplist-value",
          default_value = "64", value_parser = parse_size_memory)]
    pub hash_max_listpack_value: u64,

    /// `list-max-listpack-size` (alias `list-max-ziplist-size`): a list
    /// node's entries (positive) or bytes (-1 to -5: 4 to 64 KiB).
    #[arg(long = "list-max-listpack-size", alias = "list-max-ziplist-size",
          default_value_t = -2, allow_negative_numbers = true, value_parser = parse_int_config)]
    pub list_max_listpack_size: i64,

    /// `stream-node-max-entries`: entries of a stream leaf (0: no limit).
    #[arg(long = "stream-node-max-entries", default_value_t = 100, value_parser = parse_size_count)]
    pub stream_node_max_entries: u64,

    /// `stream-node-max-bytes`: bytes of a stream leaf (0: no limit).
    #[arg(long = "stream-node-max-bytes", default_value = "4096", value_parser = parse_size_memory)]
    pub stream_node_max_bytes: u64,

    /// `set-max-intset-entries`.
    #[arg(long = "set-max-intset-entries", default_value_t = 512, value_parser = parse_size_count)]
    pub set_max_intset_entries: u64,

    /// `set-max-listpack-entries` (Redis 7.2).
    #[arg(long = "set-max-listpack-entries", default_value_t = 128, value_parser = parse_size_count)]
    pub set_max_listpack_entries: u64,

    /// `set-max-listpack-value` (Redis 7.2).
    #[arg(long = "set-max-listpack-value", default_value = "64", value_parser = parse_size_memory)]
    pub set_max_listpack_value: u64,

    /// `zset-max-listpack-entries` (alias `zset-max-ziplist-entries`).
    #[arg(long = "zset-max-listpack-entries", alias = "zset-max-ziplist-entries",
          default_value_t = 128, value_parser = parse_size_count)]
    pub zset_max_listpack_entries: u64,

    /// `zset-max-listpack-value` (alias `zset-max-ziplist-value`).
    #[arg(long = "zset-max-listpack-value", alias = "zset-max-ziplist-value",
          default_value = "64", value_parser = parse_size_memory)]
    pub zset_max_listpack_value: u64,

    /// `busy-reply-threshold` (alias `lua-time-limit`): ms after which a
    /// running script makes the other cores answer BUSY and may be killed.
    #[arg(long = "busy-reply-threshold", alias = "lua-time-limit", default_value_t = 5000,
          value_parser = parse_busy_threshold)]
    pub busy_reply_threshold: u64,

    /// `maxmemory-policy`: what happens at `maxmemory`. ringbus has only
    /// `noeviction` (writes get OOM); the eviction policies are refused.
    #[arg(long = "maxmemory-policy", default_value = "noeviction", value_parser = parse_maxmemory_policy)]
    pub maxmemory_policy: String,

    /// Keyspace notifications: which classes of events (`K E g $ l s h z x
    /// e t m d n A`) are published; empty (the default) publishes none.
    #[arg(long = "notify-keyspace-events", default_value = "", value_parser = parse_notify)]
    pub notify_keyspace_events: u32,

    /// LZF-compress strings in snapshots.
    #[arg(long, default_value = "yes", value_parser = parse_yes_no, action = clap::ArgAction::Set)]
    pub rdbcompression: bool,

    /// End snapshots with a CRC64 checksum (checked when loading).
    #[arg(long, default_value = "yes", value_parser = parse_yes_no, action = clap::ArgAction::Set)]
    pub rdbchecksum: bool,

    /// DEBUG: `no` (refused), `yes`, or `local` (loopback clients only).
    #[arg(long = "enable-debug-command", default_value = "no", value_parser = ["no", "yes", "local"])]
    pub enable_debug_command: String,

    /// Refuse writes (MISCONF) while the last background save failed and
    /// save rules are on.
    #[arg(long = "stop-writes-on-bgsave-error", default_value = "yes",
          value_parser = parse_yes_no, action = clap::ArgAction::Set)]
    pub stop_writes_on_bgsave_error: bool,

    /// The append-only log (one per shard, Redis 7's multi-part AOF in
    /// `dir/appenddirname`): loaded at start instead of the snapshot.
    #[arg(long, default_value = "no", value_parser = parse_yes_no, action = clap::ArgAction::Set)]
    pub appendonly: bool,

    /// When the log is fsynced: `always` (before each reply; one fsync per
    /// loop turn for all connections), `everysec`, or `no` (the kernel).
    #[arg(long, default_value = "everysec", value_parser = parse_appendfsync)]
    pub appendfsync: String,

    /// The log's directory, inside `dir`.
    #[arg(long, default_value = "appendonlydir", value_parser = parse_dbfilename)]
    pub appenddirname: String,

    /// The log's file names start with this.
    #[arg(long, default_value = "appendonly.aof", value_parser = parse_dbfilename)]
    pub appendfilename: String,

    /// Rewrite the log when it grew by this percentage since the last
    /// rewrite (0: never automatically).
    #[arg(long = "auto-aof-rewrite-percentage", default_value_t = 100)]
    pub auto_aof_rewrite_percentage: u64,

    /// ... and is at least this big.
    #[arg(long = "auto-aof-rewrite-min-size", default_value = "64mb", value_parser = parse_memory)]
    pub auto_aof_rewrite_min_size: u64,

    /// Load a log whose last record was cut short (a crash), dropping it.
    #[arg(long = "aof-load-truncated", default_value = "yes", value_parser = parse_yes_no,
          action = clap::ArgAction::Set)]
    pub aof_load_truncated: bool,

    /// A rewrite's base is an RDB snapshot (ringbus writes no other kind).
    #[arg(long = "aof-use-rdb-preamble", default_value = "yes", value_parser = parse_preamble,
          action = clap::ArgAction::Set)]
    pub aof_use_rdb_preamble: bool,

    /// Write `#TS:<unix time>` annotations into the log, once a second.
    #[arg(long = "aof-timestamp-enabled", default_value = "no", value_parser = parse_yes_no,
          action = clap::ArgAction::Set)]
    pub aof_timestamp_enabled: bool,

    /// Largest sparse HyperLogLog (header included) before it turns dense.
    #[arg(long = "hll-sparse-max-bytes", default_value = "3000", value_parser = parse_hll_sparse_max_bytes)]
    pub hll_sparse_max_bytes: u64,

    /// Output buffer limits per client class, as redis.conf writes them:
    /// `<normal|replica|pubsub> <hard> <soft> <soft-seconds>`, repeatable.
    /// A client past its hard limit, or past its soft limit for longer than
    /// soft-seconds, is disconnected. Default: pubsub 32mb 8mb 60.
    #[arg(long = "client-output-buffer-limit", num_args = 1.., action = clap::ArgAction::Append,
          value_name = "CLASS HARD SOFT SECONDS")]
    pub client_output_buffer_limit_args: Vec<String>,

    /// The limits `client_output_buffer_limit_args` set (and CONFIG SET changes).
    #[arg(skip)]
    pub output_limits: OutputLimits,
}

/// One client class's output buffer limit; 0 means none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

/// Redis's three client classes with its defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimits {
    pub normal: OutputLimit,
    pub replica: OutputLimit,
    pub pubsub: OutputLimit,
}

impl Default for OutputLimits {
    fn default() -> Self {
        const MB: u64 = 1024 * 1024;
        OutputLimits {
            normal: OutputLimit {
                hard: 0,
                soft: 0,
                soft_seconds: 0,
            },
            replica: OutputLimit {
                hard: 256 * MB,
                soft: 64 * MB,
                soft_seconds: 60,
            },
            pubsub: OutputLimit {
                hard: 32 * MB,
                soft: 8 * MB,
                soft_seconds: 60,
            },
        }
    }
}

impl OutputLimits {
    /// Applies `class hard soft seconds` groups (Redis's CONFIG SET form);
    /// on error nothing changes and the reason is Redis's.
    pub fn apply(&mut self, words: &[&str]) -> Result<(), String> {
        if words.is_empty() || !words.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        let mut next = *self;
        for group in words.chunks(4) {
            let class = match group[0].to_ascii_lowercase().as_str() {
                "normal" => &mut next.normal,
                "replica" | "slave" => &mut next.replica,
                "pubsub" => &mut next.pubsub,
                _ => {
                    return Err(
                        "Invalid client class specified in buffer limit configuration.".into(),
                    )
                }
            };
            let bad = || {
                "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                    .to_string()
            };
            *class = OutputLimit {
                hard: parse_memory(group[1]).map_err(|_| bad())?,
                soft: parse_memory(group[2]).map_err(|_| bad())?,
                soft_seconds: group[3].parse().map_err(|_| bad())?,
            };
        }
        *self = next;
        Ok(())
    }

    /// CONFIG GET's form: `normal 0 0 0 slave ... pubsub ...`.
    pub fn describe(&self) -> String {
        let one = |name: &str, l: &OutputLimit| {
            format!("{name} {} {} {}", l.hard, l.soft, l.soft_seconds)
        };
        format!(
            "{} {} {}",
            one("normal", &self.normal),
            one("slave", &self.replica),
            one("pubsub", &self.pubsub)
        )
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::parse_from(["ringbus"])
    }
}

/// Redis's `memtoll`: a byte count with an optional k/kb/m/mb/g/gb suffix.
pub fn parse_memory(s: &str) -> Result<u64, String> {
    let lower = s.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(split);
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return Err(format!("invalid memory size '{s}'")),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid memory size '{s}'"))?;
    n.checked_mul(mul)
        .ok_or_else(|| format!("memory size '{s}' is too large"))
}

/// Save rules: (seconds, changes) pairs, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SaveRules(pub Vec<(u64, u64)>);

impl SaveRules {
    /// As CONFIG GET shows them.
    pub fn describe(&self) -> String {
        self.0
            .iter()
            .map(|(s, c)| format!("{s} {c}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Redis's check of the `save` value: pairs of non-negative integers, or "".
fn parse_save(s: &str) -> Result<SaveRules, String> {
    let words: Vec<&str> = s.split_whitespace().collect();
    if !words.len().is_multiple_of(2) {
        return Err("Invalid save parameters".into());
    }
    let mut rules = Vec::new();
    for pair in words.chunks(2) {
        let n = |w: &str| {
            w.parse::<u64>()
                .ok()
                .filter(|v| *v <= i64::MAX as u64)
                .ok_or_else(|| "Invalid save parameters".to_string())
        };
        rules.push((n(pair[0])?, n(pair[1])?));
    }
    Ok(SaveRules(rules))
}

fn parse_dbfilename(s: &str) -> Result<String, String> {
    if s.contains('/') {
        return Err("dbfilename can't be a path, just a filename".into());
    }
    if s.is_empty() {
        return Err("dbfilename can't be empty".into());
    }
    Ok(s.to_string())
}

/// `dir` as an absolute path; it must exist.
pub fn parse_dir(s: &std::path::Path) -> Result<PathBuf, String> {
    std::fs::canonicalize(s).map_err(|e| {
        format!(
            "Can't chdir to '{}': {}",
            s.display(),
            crate::config::os_reason(&e)
        )
    })
}

/// An I/O error's text as strerror gives it (without Rust's " (os error N)").
pub fn os_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn parse_appendfsync(s: &str) -> Result<String, String> {
    match crate::persist::aof::log::Fsync::parse(s) {
        Some(f) => Ok(f.name().into()),
        None => Err("argument(s) must be one of the following: everysec, always, no".into()),
    }
}

/// Only `yes`: a base written as commands (`no`) is not built, and taking
/// the option without its effect would be a lie.
fn parse_preamble(s: &str) -> Result<bool, String> {
    match parse_yes_no(s)? {
        true => Ok(true),
        false => Err("ringbus writes AOF bases as RDB only (aof-use-rdb-preamble yes)".into()),
    }
}

/// `hll-sparse-max-bytes`: a memory value (Redis's `memtoull`, where an
/// empty string is 0) from 0 to LONG_MAX.
fn parse_hll_sparse_max_bytes(s: &str) -> Result<u64, String> {
    let n = if s.is_empty() {
        0
    } else {
        parse_memory(s).map_err(|_| "argument must be a memory value".to_string())?
    };
    if n > i64::MAX as u64 {
        return Err("argument must be between 0 and 9223372036854775807 inclusive".into());
    }
    Ok(n)
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

/// An int config over the whole int range (`list-max-listpack-size`).
fn parse_int_config(s: &str) -> Result<i64, String> {
    let n: i64 = s
        .parse()
        .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
    if i32::try_from(n).is_err() {
        return Err("argument must be between -2147483648 and 2147483647 inclusive".into());
    }
    Ok(n)
}

/// A size_t count config (`*-max-*-entries`): 0 to LONG_MAX, as Redis.
fn parse_size_count(s: &str) -> Result<u64, String> {
    let n: i64 = s
        .parse()
        .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
    u64::try_from(n)
        .map_err(|_| "argument must be between 0 and 9223372036854775807 inclusive".into())
}

/// A size_t memory config (`*-max-*-value`): a memory value up to LONG_MAX.
fn parse_size_memory(s: &str) -> Result<u64, String> {
    let n = parse_memory(s).map_err(|_| "argument must be a memory value".to_string())?;
    if n > i64::MAX as u64 {
        return Err("argument must be between 0 and 9223372036854775807 inclusive".into());
    }
    Ok(n)
}

/// An int config between 0 and INT_MAX (`timeout`, `tcp-keepalive`).
fn parse_int_seconds(s: &str) -> Result<u64, String> {
    let n: i64 = s
        .parse()
        .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
    if !(0..=i32::MAX as i64).contains(&n) {
        return Err("argument must be between 0 and 2147483647 inclusive".into());
    }
    Ok(n as u64)
}

fn parse_busy_threshold(s: &str) -> Result<u64, String> {
    let n: i64 = s
        .parse()
        .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
    u64::try_from(n)
        .map_err(|_| "argument must be between 0 and 9223372036854775807 inclusive".into())
}

fn parse_maxmemory_policy(s: &str) -> Result<String, String> {
    const POLICIES: [&str; 8] = [
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "noeviction",
    ];
    let s = s.to_ascii_lowercase();
    if !POLICIES.contains(&s.as_str()) {
        return Err(format!(
            "argument(s) must be one of the following: {}",
            POLICIES.join(", ")
        ));
    }
    if s != "noeviction" {
        // Never accepted and ignored: ringbus cannot evict keys yet.
        return Err(format!(
            "ringbus does not evict keys: '{s}' is not supported, only noeviction"
        ));
    }
    Ok(s)
}

fn parse_notify(s: &str) -> Result<u32, String> {
    crate::shard::notify::Class::parse(s.as_bytes())
        .map(|c| c.0)
        .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into())
}

fn parse_yes_no(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

/// Why the options could not be read.
#[derive(Debug)]
pub enum ConfigError {
    /// A bad command line (or `--help` / `--version`, which clap reports this way).
    Args(clap::Error),
    /// A config file that cannot be read or holds an unknown directive.
    File(String),
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::Args(e) => write!(f, "{e}"),
            ConfigError::File(msg) => write!(f, "{msg}"),
        }
    }
}

impl Config {
    /// Parses the command line, reading the config file it names first.
    /// The configuration of a server started with no options.
    pub fn defaults() -> Config {
        Config::from_args(vec!["ringbus".to_string()]).expect("the defaults parse")
    }

    pub fn from_args(args: Vec<String>) -> Result<Config, ConfigError> {
        let mut config = Config::read_args(args)?;
        let words: Vec<&str> = config
            .client_output_buffer_limit_args
            .iter()
            .flat_map(|a| a.split_whitespace())
            .collect();
        let save = config.save_args.join(" ");
        config.save =
            parse_save(&save).map_err(|why| ConfigError::File(format!("ringbus: save: {why}")))?;
        config.dir =
            parse_dir(&config.dir).map_err(|why| ConfigError::File(format!("ringbus: {why}")))?;
        if !words.is_empty() {
            let mut limits = OutputLimits::default();
            limits.apply(&words).map_err(|why| {
                ConfigError::File(format!("ringbus: client-output-buffer-limit: {why}"))
            })?;
            config.output_limits = limits;
        }
        Ok(config)
    }

    fn read_args(args: Vec<String>) -> Result<Config, ConfigError> {
        let first = Config::try_parse_from(&args).map_err(ConfigError::Args)?;
        let Some(path) = first.config_file.clone() else {
            return Ok(first);
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            ConfigError::File(format!(
                "ringbus: cannot read config file {}: {e}",
                path.display()
            ))
        })?;
        let mut merged = vec![args[0].clone()];
        merged.extend(config_file_args(&text, &path).map_err(ConfigError::File)?);
        merged.extend(
            args[1..]
                .iter()
                .filter(|a| PathBuf::from(a) != path)
                .cloned(),
        );
        let mut config = Config::try_parse_from(&merged).map_err(ConfigError::Args)?;
        config.config_file = Some(path);
        Ok(config)
    }

    pub fn threads(&self) -> usize {
        self.threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    }

    /// Whether executors are pinned to CPUs (`--pin`).
    pub fn pinned(&self) -> bool {
        self.pin && !self.no_pin
    }

    /// Every option CONFIG GET knows, in a stable order.
    pub const NAMES: &'static [&'static str] = &[
        "port",
        "bind",
        "threads",
        "pin",
        "first-cpu",
        "ring-entries",
        "ring-taskrun",
        "read-buffer",
        "databases",
        "requirepass",
        "proto-max-bulk-len",
        "client-query-buffer-limit",
        "maxclients",
        "maxmemory",
        "hz",
        "save",
        "dir",
        "dbfilename",
        "rdbcompression",
        "rdbchecksum",
        "stop-writes-on-bgsave-error",
        "enable-debug-command",
        "appendonly",
        "appendfsync",
        "appenddirname",
        "appendfilename",
        "auto-aof-rewrite-percentage",
        "auto-aof-rewrite-min-size",
        "aof-load-truncated",
        "aof-use-rdb-preamble",
        "aof-timestamp-enabled",
        "client-output-buffer-limit",
        "notify-keyspace-events",
        "busy-reply-threshold",
        "lua-time-limit",
        "timeout",
        "tcp-keepalive",
        "hash-max-listpack-entries",
        "hash-max-ziplist-entries",
        "hash-max-listpack-value",
        "hash-max-ziplist-value",
        "list-max-listpack-size",
        "list-max-ziplist-size",
        "stream-node-max-entries",
        "stream-node-max-bytes",
        "set-max-intset-entries",
        "set-max-listpack-entries",
        "set-max-listpack-value",
        "zset-max-listpack-entries",
        "zset-max-ziplist-entries",
        "zset-max-listpack-value",
        "zset-max-ziplist-value",
        "maxmemory-policy",
        "hll-sparse-max-bytes",
    ];

    /// Makes the settings that live outside the per-core copies (read
    /// wherever a value or an event decides something) what this config says.
    pub fn apply_process_wide(&self) {
        use crate::types::encoding as e;
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        e::set_hash_max_listpack_entries(size(self.hash_max_listpack_entries));
        e::set_hash_max_listpack_value(size(self.hash_max_listpack_value));
        e::set_list_max_listpack_size(self.list_max_listpack_size);
        e::set_stream_node_max_entries(size(self.stream_node_max_entries));
        e::set_stream_node_max_bytes(size(self.stream_node_max_bytes));
        e::set_set_max_intset_entries(size(self.set_max_intset_entries));
        e::set_set_max_listpack_entries(size(self.set_max_listpack_entries));
        e::set_set_max_listpack_value(size(self.set_max_listpack_value));
        e::set_zset_max_listpack_entries(size(self.zset_max_listpack_entries));
        e::set_zset_max_listpack_value(size(self.zset_max_listpack_value));
        e::set_hll_sparse_max_bytes(size(self.hll_sparse_max_bytes));
        crate::shard::notify::set_flags(self.notify_keyspace_events);
    }

    /// The value CONFIG GET reports for `name`.
    pub fn get(&self, name: &str) -> Option<String> {
        Some(match name {
            "port" => self.port.to_string(),
            "bind" => self.bind.join(" "),
            "threads" => self.threads().to_string(),
            "pin" => if self.pinned() { "yes" } else { "no" }.into(),
            "first-cpu" => self.first_cpu.to_string(),
            "ring-entries" => self.ring_entries.to_string(),
            "ring-taskrun" => self.ring_taskrun.clone(),
            "read-buffer" => self.read_buffer.to_string(),
            "databases" => self.databases.to_string(),
            "requirepass" => self.requirepass.clone().unwrap_or_default(),
            "proto-max-bulk-len" => self.proto_max_bulk_len.to_string(),
            "client-query-buffer-limit" => self.client_query_buffer_limit.to_string(),
            "maxclients" => self.maxclients.to_string(),
            "maxmemory" => self.maxmemory.to_string(),
            "hz" => self.hz.to_string(),
            "save" => self.save.describe(),
            "dir" => self.dir.display().to_string(),
            "dbfilename" => self.dbfilename.clone(),
            "rdbcompression" => yes_no(self.rdbcompression),
            "rdbchecksum" => yes_no(self.rdbchecksum),
            "stop-writes-on-bgsave-error" => yes_no(self.stop_writes_on_bgsave_error),
            "enable-debug-command" => self.enable_debug_command.clone(),
            "appendonly" => yes_no(self.appendonly),
            "appendfsync" => self.appendfsync.clone(),
            "appenddirname" => self.appenddirname.clone(),
            "appendfilename" => self.appendfilename.clone(),
            "auto-aof-rewrite-percentage" => self.auto_aof_rewrite_percentage.to_string(),
            "auto-aof-rewrite-min-size" => self.auto_aof_rewrite_min_size.to_string(),
            "aof-load-truncated" => yes_no(self.aof_load_truncated),
            "aof-use-rdb-preamble" => yes_no(self.aof_use_rdb_preamble),
            "aof-timestamp-enabled" => yes_no(self.aof_timestamp_enabled),
            "client-output-buffer-limit" => self.output_limits.describe(),
            "notify-keyspace-events" => {
                crate::shard::notify::Class(self.notify_keyspace_events).to_config_string()
            }
            "busy-reply-threshold" | "lua-time-limit" => self.busy_reply_threshold.to_string(),
            "maxmemory-policy" => self.maxmemory_policy.clone(),
            "timeout" => self.timeout.to_string(),
            "hash-max-listpack-entries" | "hash-max-ziplist-entries" => {
                self.hash_max_listpack_entries.to_string()
            }
            "hash-max-listpack-value" | "hash-max-ziplist-value" => {
                self.hash_max_listpack_value.to_string()
            }
            "list-max-listpack-size" | "list-max-ziplist-size" => {
                self.list_max_listpack_size.to_string()
            }
            "stream-node-max-entries" => self.stream_node_max_entries.to_string(),
            "stream-node-max-bytes" => self.stream_node_max_bytes.to_string(),
            "set-max-intset-entries" => self.set_max_intset_entries.to_string(),
            "set-max-listpack-entries" => self.set_max_listpack_entries.to_string(),
            "set-max-listpack-value" => self.set_max_listpack_value.to_string(),
            "zset-max-listpack-entries" | "zset-max-ziplist-entries" => {
                self.zset_max_listpack_entries.to_string()
            }
            "zset-max-listpack-value" | "zset-max-ziplist-value" => {
                self.zset_max_listpack_value.to_string()
            }
            "tcp-keepalive" => self.tcp_keepalive.to_string(),
            "hll-sparse-max-bytes" => self.hll_sparse_max_bytes.to_string(),
            _ => return None,
        })
    }

    /// CONFIG SET of one option; the error is the reason Redis would give.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let int = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| "argument couldn't be parsed into an integer".to_string())
        };
        match name {
            "requirepass" => self.requirepass = (!value.is_empty()).then(|| value.to_string()),
            "proto-max-bulk-len" => {
                let n = parse_memory(value)?;
                if n < 1024 * 1024 {
                    return Err(
                        "argument must be between 1048576 and 9223372036854775807 inclusive".into(),
                    );
                }
                self.proto_max_bulk_len = n;
            }
            "client-query-buffer-limit" => self.client_query_buffer_limit = parse_memory(value)?,
            "maxclients" => self.maxclients = int(value)? as usize,
            "maxmemory" => self.maxmemory = parse_memory(value)?,
            "hz" => self.hz = (int(value)? as u32).clamp(1, 500),
            "save" => self.save = parse_save(value)?,
            "dir" => {
                let path = std::path::Path::new(value);
                let dir = std::fs::canonicalize(path).map_err(|e| os_reason(&e))?;
                if !dir.is_dir() {
                    return Err("Not a directory".into());
                }
                self.dir = dir;
            }
            "dbfilename" => self.dbfilename = parse_dbfilename(value)?,
            "rdbcompression" => self.rdbcompression = parse_yes_no(value)?,
            "rdbchecksum" => self.rdbchecksum = parse_yes_no(value)?,
            "stop-writes-on-bgsave-error" => {
                self.stop_writes_on_bgsave_error = parse_yes_no(value)?
            }
            "appendonly" => self.appendonly = parse_yes_no(value)?,
            "appendfsync" => self.appendfsync = parse_appendfsync(value)?,
            "auto-aof-rewrite-percentage" => {
                let n = value
                    .parse::<i64>()
                    .map_err(|_| "argument couldn't be parsed into an integer")?;
                if !(0..=i32::MAX as i64).contains(&n) {
                    return Err("argument must be between 0 and 2147483647 inclusive".into());
                }
                self.auto_aof_rewrite_percentage = n as u64
            }
            "auto-aof-rewrite-min-size" => {
                self.auto_aof_rewrite_min_size =
                    parse_memory(value).map_err(|_| "argument must be a memory value")?
            }
            "aof-load-truncated" => self.aof_load_truncated = parse_yes_no(value)?,
            "aof-use-rdb-preamble" => self.aof_use_rdb_preamble = parse_preamble(value)?,
            "aof-timestamp-enabled" => self.aof_timestamp_enabled = parse_yes_no(value)?,
            "notify-keyspace-events" => self.notify_keyspace_events = parse_notify(value)?,
            "busy-reply-threshold" | "lua-time-limit" => {
                self.busy_reply_threshold = parse_busy_threshold(value)?
            }
            "maxmemory-policy" => self.maxmemory_policy = parse_maxmemory_policy(value)?,
            "timeout" => self.timeout = parse_int_seconds(value)?,
            "hash-max-listpack-entries" | "hash-max-ziplist-entries" => {
                self.hash_max_listpack_entries = parse_size_count(value)?
            }
            "hash-max-listpack-value" | "hash-max-ziplist-value" => {
                self.hash_max_listpack_value = parse_size_memory(value)?
            }
            "list-max-listpack-size" | "list-max-ziplist-size" => {
                self.list_max_listpack_size = parse_int_config(value)?
            }
            "stream-node-max-entries" => self.stream_node_max_entries = parse_size_count(value)?,
            "stream-node-max-bytes" => self.stream_node_max_bytes = parse_size_memory(value)?,
            "set-max-intset-entries" => self.set_max_intset_entries = parse_size_count(value)?,
            "set-max-listpack-entries" => self.set_max_listpack_entries = parse_size_count(value)?,
            "set-max-listpack-value" => self.set_max_listpack_value = parse_size_memory(value)?,
            "zset-max-listpack-entries" | "zset-max-ziplist-entries" => {
                self.zset_max_listpack_entries = parse_size_count(value)?
            }
            "zset-max-listpack-value" | "zset-max-ziplist-value" => {
                self.zset_max_listpack_value = parse_size_memory(value)?
            }
            "tcp-keepalive" => self.tcp_keepalive = parse_int_seconds(value)?,
            "client-output-buffer-limit" => {
                let words: Vec<&str> = value.split_whitespace().collect();
                self.output_limits.apply(&words)?;
            }
            "hll-sparse-max-bytes" => {
                self.hll_sparse_max_bytes = parse_hll_sparse_max_bytes(value)?
            }
            "pin" => {
                parse_yes_no(value)?;
                return Err("can't set immutable config".into());
            }
            _ if Self::NAMES.contains(&name) => return Err("can't set immutable config".into()),
            _ => return Err("unknown".into()),
        }
        Ok(())
    }
}

/// Turns config-file lines into `--directive value...` arguments.
fn config_file_args(text: &str, path: &std::path::Path) -> Result<Vec<String>, String> {
    // Options by their names and their aliases (Redis's old names).
    let known: Vec<String> = Config::command()
        .get_arguments()
        .flat_map(|a| {
            let aliases = a.get_all_aliases().unwrap_or_default();
            a.get_long().into_iter().chain(aliases)
        })
        .map(str::to_string)
        .collect();
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words = crate::resp::parse::split_args(line.as_bytes()).ok_or_else(|| {
            format!(
                "ringbus: {} line {}: unbalanced quotes",
                path.display(),
                n + 1
            )
        })?;
        let mut words = words
            .into_iter()
            .map(|w| String::from_utf8_lossy(&w).into_owned());
        let Some(directive) = words.next() else {
            continue;
        };
        let directive = directive.to_ascii_lowercase();
        if !known.contains(&directive) {
            return Err(format!(
                "ringbus: {} line {}: unknown directive '{directive}'",
                path.display(),
                n + 1
            ));
        }
        out.push(format!("--{directive}"));
        out.extend(words);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults_and_flags() {
        let c = Config::from_args(args(&["ringbus"])).unwrap();
        assert_eq!(c.port, 6379);
        assert_eq!(c.bind, vec!["127.0.0.1"]);
        assert_eq!(c.databases, 16);
        assert_eq!(c.proto_max_bulk_len, 512 * 1024 * 1024);
        let c = Config::from_args(args(&[
            "ringbus",
            "--port",
            "7000",
            "--threads",
            "3",
            "--save",
            "",
        ]))
        .unwrap();
        assert_eq!((c.port, c.threads()), (7000, 3));
    }

    #[test]
    fn unknown_option_is_named() {
        let err = Config::from_args(args(&["ringbus", "--bogus", "1"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("--bogus"), "{err}");
    }

    #[test]
    fn config_file_then_command_line() {
        let dir = std::env::temp_dir().join(format!("ringbus-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ringbus.conf");
        std::fs::write(
            &path,
            "# comment\nport 6380\nrequirepass \"a b\"\ndatabases 4\n",
        )
        .unwrap();
        let p = path.to_str().unwrap();
        let c = Config::from_args(args(&["ringbus", p, "--port", "6390"])).unwrap();
        assert_eq!(c.port, 6390);
        assert_eq!(c.requirepass.as_deref(), Some("a b"));
        assert_eq!(c.databases, 4);
        std::fs::write(&path, "nosuch 1\n").unwrap();
        let err = Config::from_args(args(&["ringbus", p]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown directive 'nosuch'"), "{err}");
    }

    #[test]
    fn output_limits_merge_by_class() {
        let c = Config::from_args(args(&[
            "ringbus",
            "--client-output-buffer-limit",
            "pubsub 1mb 512kb 5",
        ]))
        .unwrap();
        assert_eq!(
            c.output_limits.pubsub,
            OutputLimit {
                hard: 1 << 20,
                soft: 512 << 10,
                soft_seconds: 5
            }
        );
        assert_eq!(c.output_limits.normal, OutputLimits::default().normal);
        assert_eq!(
            c.get("client-output-buffer-limit").unwrap(),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 524288 5"
        );
        let mut limits = OutputLimits::default();
        assert!(limits.apply(&["pubsub", "1", "2"]).is_err());
        assert!(limits.apply(&["master", "1", "2", "3"]).is_err());
        assert!(limits.apply(&["pubsub", "x", "2", "3"]).is_err());
        assert_eq!(limits, OutputLimits::default());
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1kb"), Ok(1024));
        assert_eq!(parse_memory("1k"), Ok(1000));
        assert_eq!(parse_memory("2GB"), Ok(2 << 30));
        assert!(parse_memory("x").is_err());
    }
}
