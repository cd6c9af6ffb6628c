//! crash-check: a crash-test harness for a server that speaks the Redis
//! protocol and promises durability (`appendonly yes`, `appendfsync always`):
//! "an acknowledged write survives kill -9" and "a transaction over several
//! shards is never half there after a crash".
//!
//! # A trial
//!
//! 1. Start the server from the command line given after `--`, with `{port}`
//!    replaced by a free loopback port and `{dir}` by a fresh empty directory
//!    (also the server's working directory), and wait until it answers PING.
//! 2. Create the stream consumer groups (in `--everysec` mode, then wait
//!    1.5 s so that they are on disk before anything else happens).
//! 3. Run the workload below from `--clients` threads, one connection each,
//!    for a random time between `--min-load` and `--max-load` seconds.
//! 4. SIGKILL the server mid-load and reap it. Every client stops at the first
//!    failed read or write; the command it was waiting on is *in flight*.
//! 5. Restart the server on the same directory (a new free port), wait until
//!    it answers PING (it may answer `-LOADING` for a while), read every key
//!    of the workload back and check it against what each client was told.
//!
//! Each client sends one command (or one MULTI..EXEC block) at a time and
//! waits for its reply, so it has at most one command in flight at the kill,
//! and it timestamps each command when it starts sending it and when its reply
//! arrives (one monotonic clock for every thread). A command whose reply was
//! read is *acknowledged*; one whose sending began only after the server was
//! reaped cannot have run and counts as not sent; the rest are in flight:
//! they may or may not have taken effect, and the checks below allow exactly
//! both outcomes for each, nothing more.
//!
//! # The workload and what is checked
//!
//! Clients take roles in turn: writer, list pusher, stream adder, list mover,
//! list popper, stream reader (so at least 6 clients). Key names are chosen so
//! that every group of keys spans several shards of a server that shards by
//! `crc16(key) mod 16384 mod threads` (for 2, 3, 4, 6 or 12 threads), plus
//! `{tag}` keys that share a shard.
//!
//! - **Counters** (writers; each counter has one writer): INCR. The value read
//!   back must be the number of acknowledged INCRs, or one more if an INCR on
//!   it was in flight. Less is a loss; more, a violation. While running, each
//!   INCR reply must be the previous acknowledged count plus one.
//! - **Registers**: SET of unique values to a key (one writer per key); MSET
//!   of one unique value to a group of keys on several shards and MULTI / SET
//!   / SET / HSET / EXEC blocks writing one unique value to two strings and a
//!   hash field on several shards (both shared by every writer). Read back, the
//!   keys of a group must all hold the same value or all be missing: anything
//!   else is a *half-applied* transaction. That value must be one some client
//!   wrote (not one sent after the server was gone); and if it is the value of
//!   an acknowledged write W, no acknowledged write to the group may have been
//!   sent after W's reply arrived (it would have come later and must be
//!   there): those are lost writes. A value written by a command in flight is
//!   always acceptable (it may have run last). Missing keys lose every
//!   acknowledged write to them.
//! - **Lists**: pushers LPUSH unique elements to three input lists; movers
//!   LMOVE (even movers) or BLMOVE with a 0.2 s timeout (odd movers) along
//!   fixed edges between five lists (some edges cross shards, some stay on a
//!   `{tag}`); poppers RPOP from three of them. Read back (LRANGE of every
//!   list), each element must be in at most one place: one list, once, or the
//!   hands of the popper whose RPOP reply brought it. An element in a list and
//!   in a popper's hands is a lost RPOP; an element in two places otherwise,
//!   an element nobody pushed, or one popped from or moved out of a list it
//!   could not have reached, is a violation. An element known to exist (its
//!   LPUSH acknowledged, or an acknowledged LMOVE/BLMOVE returned it) that is
//!   in no list and no hands is missing: each RPOP in flight may explain one
//!   missing element that could have reached its list (a maximum bipartite
//!   matching), and the harness prints which RPOP took which element; every
//!   other missing element is a lost write. An LMOVE in flight can explain
//!   nothing (the element is in its source or its destination either way).
//! - **Streams**: adders XADD a unique value to one of three streams; readers
//!   in one consumer group loop on XREADGROUP `>` over all three (COUNT 5,
//!   BLOCK 200) and XACK what they got (85% of the batches; the rest stays
//!   pending on purpose). Read back: every acknowledged XADD is there with the
//!   ID it was given, and so is every entry an acknowledged XREADGROUP
//!   delivered; no value is there twice or unknown. The group's PEL (XPENDING)
//!   must be exactly what was delivered and not acknowledged, each entry owned
//!   by the reader it was delivered to, except that (a) entries of an XACK in
//!   flight may be pending or not, and (b) entries never delivered may be
//!   pending for a reader whose XREADGROUP was in flight, at most COUNT per
//!   stream. An entry an acknowledged XACK acknowledged that is pending again
//!   is a lost XACK; a delivered, unacknowledged entry missing from the PEL a
//!   lost XREADGROUP. The group's last-delivered-id must be at least every
//!   pending ID (violation) and every delivered ID (loss). No entry is
//!   delivered twice; each XACK acknowledges every ID it names.
//!
//! Any reply that is not what a correct server answers (an error, a wrong
//! type, an INCR result off by one) is a violation too.
//!
//! # Modes and output
//!
//! By default (`appendfsync always`) a lost write is a failure. With
//! `--everysec` losses are measured instead: how many acknowledged writes are
//! missing, and the time between the oldest lost write's acknowledgement and
//! the kill, which must be at most `--max-loss-span` seconds. Half-applied
//! transactions and other violations fail in both modes.
//!
//! One line per trial, then a summary: writes acknowledged per kind, commands
//! in flight and those seen applied (the explained differences), lost writes,
//! half-applied transactions, violations; the first `--show` problems in
//! detail (`--explain` prints each trial's explanations). Each trial has its own seed (the first is `--seed`, then +1 each);
//! `--seed S --trials 1` reruns one trial's choices (not its timing). A failing
//! trial's directory (data and server logs) is kept; `--keep` keeps them all.
//! Exit status: 0 passed, 1 a check failed, 2 the harness could not run (the
//! server did not start, bad arguments).
//!
//! SIGKILL ends the process, not the machine: data the server wrote to the
//! kernel survives even without fsync, so this proves the server does not
//! acknowledge before writing, not that its fsyncs reach the disk.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;

/// The consumer group of every stream.
const GROUP: &str = "workers";
/// The field of every stream entry.
const FIELD: &str = "v";
/// XREADGROUP's COUNT: the most entries one read takes from one stream.
const XCOUNT: usize = 5;
/// Share of XREADGROUP batches (per stream) that are acknowledged.
const XACK_SHARE: f64 = 0.85;
/// How long a client waits for a reply before calling the server stuck.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Kill a Redis-protocol server mid-load, restart it, and check that every
/// acknowledged write survived and no transaction is half applied.
#[derive(Parser, Debug)]
#[command(name = "crash-check")]
struct Args {
    /// Trials to run.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    trials: u32,
    /// Shortest load before the kill, in seconds.
    #[arg(long, default_value_t = 0.3)]
    min_load: f64,
    /// Longest load before the kill, in seconds.
    #[arg(long, default_value_t = 3.0)]
    max_load: f64,
    /// Client connections (one thread each; roles taken in turn, at least 6).
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(6..=600))]
    clients: u32,
    /// Seed of the first trial (the next ones use seed+1, ...); default: from
    /// the clock. Printed, so a run can be repeated.
    #[arg(long)]
    seed: Option<u64>,
    /// Measure loss instead of failing on it (for `appendfsync everysec`).
    #[arg(long)]
    everysec: bool,
    /// With --everysec: the longest allowed time, in seconds, between the
    /// oldest lost write's acknowledgement and the kill.
    #[arg(long, default_value_t = 2.0)]
    max_loss_span: f64,
    /// Seconds the server may take to answer PING after a start or restart.
    #[arg(long, default_value_t = 60.0)]
    start_timeout: f64,
    /// Where trial directories go (default: the system temp directory).
    #[arg(long)]
    workdir: Option<PathBuf>,
    /// Keep every trial's directory (failing trials' are always kept).
    #[arg(long)]
    keep: bool,
    /// How many problems to print in detail.
    #[arg(long, default_value_t = 5)]
    show: usize,
    /// Print, under each trial, which command in flight explains each
    /// difference from the acknowledged history.
    #[arg(long)]
    explain: bool,
    /// The server command line, after `--`: `{port}` and `{dir}` in any
    /// argument are replaced by the port and the data directory.
    #[arg(last = true, required = true, num_args = 1..)]
    command: Vec<String>,
}

fn main() {
    let mut args = Args::parse();
    // The server runs in its data directory: a relative program path is
    // meant from here.
    let program = Path::new(&args.command[0]);
    if program.is_relative() && program.components().count() > 1 {
        if let Ok(abs) = std::path::absolute(program) {
            args.command[0] = abs.to_string_lossy().into_owned();
        }
    }
    if !(args.min_load > 0.0 && args.min_load <= args.max_load && args.max_load.is_finite()) {
        eprintln!("crash-check: need 0 < --min-load <= --max-load");
        std::process::exit(2);
    }
    now_ns(); // starts the clock
    let seed = args.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64 % 1_000_000_000)
            .unwrap_or(1)
    });
    std::process::exit(run(&args, seed));
}

// ---------------------------------------------------------------------------
// Time and randomness.

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds since the harness started, the one clock of every thread.
fn now_ns() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// splitmix64: small, seedable, good enough to pick keys and timings.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1A4_F87B)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------------------
// RESP over a blocking TCP connection.

#[derive(Clone, Debug, PartialEq)]
enum Resp {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(String),
    Nil,
    Array(Vec<Resp>),
}

impl fmt::Display for Resp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resp::Simple(s) => write!(f, "+{s}"),
            Resp::Error(s) => write!(f, "-{s}"),
            Resp::Int(i) => write!(f, ":{i}"),
            Resp::Bulk(s) => write!(f, "{s:?}"),
            Resp::Nil => write!(f, "nil"),
            Resp::Array(a) => {
                write!(f, "[")?;
                for (i, r) in a.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    if i == 8 {
                        return write!(f, "... {} in all]", a.len());
                    }
                    write!(f, "{r}")?;
                }
                write!(f, "]")
            }
        }
    }
}

/// Appends `args` as one RESP command.
fn encode(out: &mut Vec<u8>, args: &[&str]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn connect(port: u16, timeout: Duration) -> io::Result<Conn> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(Conn {
            reader: BufReader::with_capacity(64 * 1024, stream.try_clone()?),
            writer: stream,
        })
    }

    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes)
    }

    fn read(&mut self) -> io::Result<Resp> {
        let mut line = Vec::new();
        if self.reader.read_until(b'\n', &mut line)? == 0 {
            return Err(io::Error::new(
                ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        if line.len() < 3 || !line.ends_with(b"\r\n") {
            return Err(io::Error::new(ErrorKind::UnexpectedEof, "reply cut short"));
        }
        let body = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
        let bad = |what: &str| io::Error::new(ErrorKind::InvalidData, format!("{what}: {body:?}"));
        match line[0] {
            b'+' => Ok(Resp::Simple(body)),
            b'-' => Ok(Resp::Error(body)),
            b':' => body.parse().map(Resp::Int).map_err(|_| bad("bad integer")),
            b'$' => {
                let n: i64 = body.parse().map_err(|_| bad("bad bulk length"))?;
                if n < 0 {
                    return Ok(Resp::Nil);
                }
                let mut buf = vec![0; n as usize + 2];
                self.reader.read_exact(&mut buf)?;
                if !buf.ends_with(b"\r\n") {
                    return Err(bad("bulk string without CRLF"));
                }
                buf.truncate(n as usize);
                Ok(Resp::Bulk(String::from_utf8_lossy(&buf).into_owned()))
            }
            b'*' => {
                let n: i64 = body.parse().map_err(|_| bad("bad array length"))?;
                if n < 0 {
                    return Ok(Resp::Nil);
                }
                let mut items = Vec::with_capacity(n.min(1 << 16) as usize);
                for _ in 0..n {
                    items.push(self.read()?);
                }
                Ok(Resp::Array(items))
            }
            _ => Err(bad("unknown reply type")),
        }
    }

    fn call(&mut self, args: &[&str]) -> io::Result<Resp> {
        let mut bytes = Vec::new();
        encode(&mut bytes, args);
        self.send(&bytes)?;
        self.read()
    }
}

/// A free loopback port, as the kernel picks it.
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

// ---------------------------------------------------------------------------
// Stream IDs.

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Id(u64, u64);

impl Id {
    fn parse(s: &str) -> Option<Id> {
        let (ms, seq) = s.split_once('-')?;
        Some(Id(ms.parse().ok()?, seq.parse().ok()?))
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.0, self.1)
    }
}

// ---------------------------------------------------------------------------
// Keys: which exist, who writes them, where they live.

/// The hash slot of a key, as Redis Cluster computes it (and ringbus shards
/// by it).
fn key_slot(key: &str) -> u16 {
    let b = key.as_bytes();
    let hashed = match b.iter().position(|&c| c == b'{') {
        Some(open) => match b[open + 1..].iter().position(|&c| c == b'}') {
            Some(len) if len > 0 => &b[open + 1..open + 1 + len],
            _ => b,
        },
        None => b,
    };
    crc16(hashed) % 16384
}

/// CRC16-CCITT (XModem), Redis's key hash.
fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= (byte as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The first key `prefix<n>` whose slot is `residue` modulo 12: keys with
/// different residues land on different shards for 2, 3, 4, 6 or 12 shards
/// as soon as the residues differ modulo that count.
fn key_at(prefix: &str, residue: u16) -> String {
    (0u32..)
        .map(|n| format!("{prefix}{n}"))
        .find(|k| key_slot(k) % 12 == residue % 12)
        .expect("some key has every residue")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// INCR, SET, MSET, MULTI/EXEC.
    Writer,
    /// LPUSH.
    Pusher,
    /// XADD.
    Adder,
    /// LMOVE or BLMOVE.
    Mover,
    /// RPOP.
    Popper,
    /// XREADGROUP and XACK.
    Reader,
}

const ROLES: [Role; 6] = [
    Role::Writer,
    Role::Pusher,
    Role::Adder,
    Role::Mover,
    Role::Popper,
    Role::Reader,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RegKind {
    Set,
    Mset,
    Multi,
}

impl RegKind {
    fn name(self) -> &'static str {
        match self {
            RegKind::Set => "set",
            RegKind::Mset => "mset",
            RegKind::Multi => "multi",
        }
    }
}

/// Where one value of a register lives: a string key, or a hash field.
#[derive(Clone, Debug)]
struct Place {
    key: String,
    field: Option<String>,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{}[{}]", self.key, field),
            None => write!(f, "{}", self.key),
        }
    }
}

/// Keys written together with one value: one key (SET), a group (MSET), or
/// the keys of a MULTI/EXEC block.
#[derive(Clone, Debug)]
struct Register {
    kind: RegKind,
    places: Vec<Place>,
}

struct Layout {
    roles: Vec<Role>,
    /// Counter keys, and which client INCRs each.
    counters: Vec<(String, usize)>,
    /// Per client, the counters it owns.
    counters_of: Vec<Vec<usize>>,
    registers: Vec<Register>,
    /// Per client, the SET registers it owns.
    sets_of: Vec<Vec<usize>>,
    /// MSET and MULTI registers, written by every writer.
    msets: Vec<usize>,
    multis: Vec<usize>,
    lists: Vec<String>,
    push_lists: Vec<usize>,
    pop_lists: Vec<usize>,
    /// LMOVE edges (source, destination).
    moves: Vec<(usize, usize)>,
    /// `reach[a][b]`: an element in list a can get to list b.
    reach: Vec<Vec<bool>>,
    streams: Vec<String>,
}

impl Layout {
    fn new(clients: usize) -> Layout {
        let roles: Vec<Role> = (0..clients).map(|c| ROLES[c % ROLES.len()]).collect();
        let mut counters = Vec::new();
        let mut counters_of = vec![Vec::new(); clients];
        let mut registers = Vec::new();
        let mut sets_of = vec![Vec::new(); clients];
        let string = |key: String| Place { key, field: None };
        let mut writer = 0u16;
        for (c, role) in roles.iter().enumerate() {
            if *role != Role::Writer {
                continue;
            }
            let w = writer;
            writer += 1;
            for key in [
                key_at(&format!("hits:w{w}:"), 2 * w),
                key_at(&format!("hits:w{w}:"), 2 * w + 1),
                format!("{{acct:w{w}}}:hits"),
            ] {
                counters_of[c].push(counters.len());
                counters.push((key, c));
            }
            for key in [
                key_at(&format!("name:w{w}:"), 2 * w + 5),
                key_at(&format!("name:w{w}:"), 2 * w + 6),
                format!("{{acct:w{w}}}:name"),
            ] {
                sets_of[c].push(registers.len());
                registers.push(Register {
                    kind: RegKind::Set,
                    places: vec![string(key)],
                });
            }
        }
        let mut msets = Vec::new();
        for g in 0..3u16 {
            msets.push(registers.len());
            registers.push(Register {
                kind: RegKind::Mset,
                places: vec![
                    string(key_at(&format!("cfg:g{g}:"), g)),
                    string(key_at(&format!("cfg:g{g}:"), g + 1)),
                    string(key_at(&format!("cfg:g{g}:"), g + 6)),
                    string(format!("{{order:{g}}}:status")),
                    string(format!("{{order:{g}}}:total")),
                ],
            });
        }
        let mut multis = Vec::new();
        for g in 0..2u16 {
            multis.push(registers.len());
            registers.push(Register {
                kind: RegKind::Multi,
                places: vec![
                    string(key_at(&format!("balance:g{g}:"), 4 + 2 * g)),
                    string(key_at(&format!("seen:g{g}:"), 5 + 2 * g)),
                    Place {
                        key: format!("{{user:{g}}}:profile"),
                        field: Some("version".into()),
                    },
                ],
            });
        }
        let lists = vec![
            key_at("jobs:in:", 0),
            key_at("jobs:in:", 1),
            "{jobs}:in".to_string(),
            key_at("jobs:mid:", 3),
            "{jobs}:mid".to_string(),
        ];
        let moves = vec![(0, 3), (1, 3), (1, 4), (2, 4), (3, 4)];
        let mut reach = vec![vec![false; lists.len()]; lists.len()];
        for (a, row) in reach.iter_mut().enumerate() {
            row[a] = true;
            loop {
                let mut grew = false;
                for &(s, d) in &moves {
                    if row[s] && !row[d] {
                        row[d] = true;
                        grew = true;
                    }
                }
                if !grew {
                    break;
                }
            }
        }
        let streams = vec![
            key_at("events:", 0),
            key_at("events:", 1),
            "{jobs}:events".to_string(),
        ];
        Layout {
            roles,
            counters,
            counters_of,
            registers,
            sets_of,
            msets,
            multis,
            lists,
            push_lists: vec![0, 1, 2],
            pop_lists: vec![1, 3, 4],
            moves,
            reach,
            streams,
        }
    }

    fn stream_index(&self, name: &str) -> Option<usize> {
        self.streams.iter().position(|s| s == name)
    }

    /// Keys and on how many of `threads` shards they fall, for the header.
    fn spread(&self, threads: u16) -> Vec<usize> {
        let mut keys: Vec<&str> = self.counters.iter().map(|(k, _)| k.as_str()).collect();
        for r in &self.registers {
            keys.extend(r.places.iter().map(|p| p.key.as_str()));
        }
        keys.extend(self.lists.iter().map(String::as_str));
        keys.extend(self.streams.iter().map(String::as_str));
        let mut per = vec![0; threads as usize];
        for k in keys {
            per[(key_slot(k) % threads) as usize] += 1;
        }
        per
    }
}

/// The consumer name of reader `client`.
fn consumer_name(client: usize) -> String {
    format!("c{client}")
}

fn consumer_client(name: &str) -> Option<usize> {
    name.strip_prefix('c')?.parse().ok()
}

// ---------------------------------------------------------------------------
// What the clients did.

#[derive(Clone, Debug)]
enum OpKind {
    Incr {
        counter: usize,
    },
    /// SET, MSET or MULTI/EXEC of `value` to register `reg`.
    Write {
        reg: usize,
        value: String,
    },
    Lpush {
        list: usize,
        elem: String,
    },
    /// LMOVE or BLMOVE; `elem` is what the reply returned.
    Lmove {
        src: usize,
        dst: usize,
        elem: Option<String>,
    },
    Rpop {
        list: usize,
        elem: Option<String>,
    },
    Xadd {
        stream: usize,
        value: String,
        id: Option<Id>,
    },
    /// XREADGROUP `>`: the (stream, ID, value) entries the reply delivered.
    Xread {
        got: Vec<(usize, Id, String)>,
    },
    Xack {
        stream: usize,
        ids: Vec<Id>,
    },
}

#[derive(Clone, Debug)]
struct Op {
    kind: OpKind,
    /// When sending began.
    send: u64,
    /// When the (last) reply was read.
    ack: Option<u64>,
}

#[derive(Default, Debug)]
struct ClientLog {
    ops: Vec<Op>,
    /// A reply no correct server gives, which stopped the client.
    problem: Option<String>,
}

/// What became of a command, as far as the client can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// Its reply arrived at this time.
    Acked(u64),
    /// Sent before the server was reaped, no reply: it may or may not have run.
    InFlight,
    /// Sending began after the server was reaped: it cannot have run.
    NotSent,
}

fn fate(op: &Op, reaped: u64) -> Fate {
    match op.ack {
        Some(t) => Fate::Acked(t),
        None if op.send <= reaped => Fate::InFlight,
        None => Fate::NotSent,
    }
}

/// Why a client stopped in the middle of a command.
enum Stop {
    /// The connection failed: the command is in flight.
    Io,
    /// A reply no correct server gives.
    Bad(String),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Stop {
        match e.kind() {
            ErrorKind::InvalidData => Stop::Bad(format!("malformed reply: {e}")),
            ErrorKind::WouldBlock | ErrorKind::TimedOut => {
                Stop::Bad(format!("no reply within {REPLY_TIMEOUT:?}"))
            }
            _ => Stop::Io,
        }
    }
}

/// One client thread's state.
struct Client<'a> {
    id: usize,
    layout: &'a Layout,
    rng: Rng,
    seq: u64,
    /// Acknowledged INCRs per owned counter.
    incrs: HashMap<usize, i64>,
    /// Readers: (stream, IDs) batches still to XACK.
    to_ack: VecDeque<(usize, Vec<Id>)>,
}

impl<'a> Client<'a> {
    fn unique(&mut self, tag: char) -> String {
        self.seq += 1;
        format!("{tag}{}.{}", self.id, self.seq)
    }

    /// The next command (or MULTI..EXEC block): what it is, and its bytes.
    fn next_op(&mut self) -> (OpKind, Vec<u8>) {
        let layout = self.layout;
        let mut bytes = Vec::new();
        let kind = match layout.roles[self.id] {
            Role::Writer => {
                let dice = self.rng.below(100);
                if dice < 40 {
                    let counter = *self.rng.pick(&layout.counters_of[self.id]);
                    encode(&mut bytes, &["INCR", &layout.counters[counter].0]);
                    OpKind::Incr { counter }
                } else {
                    let reg = if dice < 65 {
                        *self.rng.pick(&layout.sets_of[self.id])
                    } else if dice < 85 {
                        *self.rng.pick(&layout.msets)
                    } else {
                        *self.rng.pick(&layout.multis)
                    };
                    let value = self.unique('v');
                    let places = &layout.registers[reg].places;
                    match layout.registers[reg].kind {
                        RegKind::Set => encode(&mut bytes, &["SET", &places[0].key, &value]),
                        RegKind::Mset => {
                            let mut args = vec!["MSET"];
                            for p in places {
                                args.push(&p.key);
                                args.push(&value);
                            }
                            encode(&mut bytes, &args);
                        }
                        RegKind::Multi => {
                            encode(&mut bytes, &["MULTI"]);
                            for p in places {
                                match &p.field {
                                    Some(f) => encode(&mut bytes, &["HSET", &p.key, f, &value]),
                                    None => encode(&mut bytes, &["SET", &p.key, &value]),
                                }
                            }
                            encode(&mut bytes, &["EXEC"]);
                        }
                    }
                    OpKind::Write { reg, value }
                }
            }
            Role::Pusher => {
                let list = *self.rng.pick(&layout.push_lists);
                let elem = self.unique('e');
                encode(&mut bytes, &["LPUSH", &layout.lists[list], &elem]);
                OpKind::Lpush { list, elem }
            }
            Role::Mover => {
                let (src, dst) = *self.rng.pick(&layout.moves);
                let (s, d) = (&layout.lists[src], &layout.lists[dst]);
                if self.mover_blocks() {
                    encode(&mut bytes, &["BLMOVE", s, d, "RIGHT", "LEFT", "0.2"]);
                } else {
                    encode(&mut bytes, &["LMOVE", s, d, "RIGHT", "LEFT"]);
                }
                OpKind::Lmove {
                    src,
                    dst,
                    elem: None,
                }
            }
            Role::Popper => {
                let list = *self.rng.pick(&layout.pop_lists);
                encode(&mut bytes, &["RPOP", &layout.lists[list]]);
                OpKind::Rpop { list, elem: None }
            }
            Role::Adder => {
                let stream = self.rng.below(layout.streams.len());
                let value = self.unique('x');
                encode(
                    &mut bytes,
                    &["XADD", &layout.streams[stream], "*", FIELD, &value],
                );
                OpKind::Xadd {
                    stream,
                    value,
                    id: None,
                }
            }
            Role::Reader => match self.to_ack.pop_front() {
                Some((stream, ids)) => {
                    let texts: Vec<String> = ids.iter().map(Id::to_string).collect();
                    let mut args = vec!["XACK", &layout.streams[stream], GROUP];
                    args.extend(texts.iter().map(String::as_str));
                    encode(&mut bytes, &args);
                    OpKind::Xack { stream, ids }
                }
                None => {
                    let name = consumer_name(self.id);
                    let count = XCOUNT.to_string();
                    let mut args = vec![
                        "XREADGROUP",
                        "GROUP",
                        GROUP,
                        &name,
                        "COUNT",
                        &count,
                        "BLOCK",
                        "200",
                        "STREAMS",
                    ];
                    args.extend(layout.streams.iter().map(String::as_str));
                    args.extend(layout.streams.iter().map(|_| ">"));
                    encode(&mut bytes, &args);
                    OpKind::Xread { got: Vec::new() }
                }
            },
        };
        (kind, bytes)
    }

    fn mover_blocks(&self) -> bool {
        let movers_before = self.layout.roles[..self.id]
            .iter()
            .filter(|r| **r == Role::Mover)
            .count();
        movers_before % 2 == 1
    }

    /// Reads the reply (or replies) of `kind` and checks it, filling in what
    /// the reply brought.
    fn take_reply(&mut self, conn: &mut Conn, kind: &mut OpKind) -> Result<(), Stop> {
        let layout = self.layout;
        let bad = |what: &str, r: &Resp| Err(Stop::Bad(format!("{what}: got {r}")));
        match kind {
            OpKind::Incr { counter } => {
                let r = conn.read()?;
                let want = self.incrs.get(counter).copied().unwrap_or(0) + 1;
                if r != Resp::Int(want) {
                    return bad(
                        &format!(
                            "INCR {} after {} acknowledged INCRs should answer :{want}",
                            layout.counters[*counter].0,
                            want - 1
                        ),
                        &r,
                    );
                }
                self.incrs.insert(*counter, want);
            }
            OpKind::Write { reg, .. } => {
                let register = &layout.registers[*reg];
                if register.kind == RegKind::Multi {
                    let r = conn.read()?;
                    if r != Resp::Simple("OK".into()) {
                        return bad("MULTI should answer +OK", &r);
                    }
                    for _ in &register.places {
                        let r = conn.read()?;
                        if r != Resp::Simple("QUEUED".into()) {
                            return bad("a command in MULTI should answer +QUEUED", &r);
                        }
                    }
                    let r = conn.read()?;
                    let ok = match &r {
                        Resp::Array(items) => {
                            items.len() == register.places.len()
                                && items
                                    .iter()
                                    .zip(&register.places)
                                    .all(|(i, p)| match p.field {
                                        Some(_) => matches!(i, Resp::Int(0 | 1)),
                                        None => *i == Resp::Simple("OK".into()),
                                    })
                        }
                        _ => false,
                    };
                    if !ok {
                        return bad("EXEC should answer [+OK, +OK, :0 or :1]", &r);
                    }
                } else {
                    let r = conn.read()?;
                    if r != Resp::Simple("OK".into()) {
                        return bad(&format!("{} should answer +OK", register.kind.name()), &r);
                    }
                }
            }
            OpKind::Lpush { .. } => {
                let r = conn.read()?;
                if !matches!(r, Resp::Int(n) if n >= 1) {
                    return bad("LPUSH should answer the list's length", &r);
                }
            }
            OpKind::Lmove { elem, .. } | OpKind::Rpop { elem, .. } => match conn.read()? {
                Resp::Bulk(e) => *elem = Some(e),
                Resp::Nil => {}
                r => return bad("LMOVE/RPOP should answer an element or nil", &r),
            },
            OpKind::Xadd { id, .. } => {
                let r = conn.read()?;
                match &r {
                    Resp::Bulk(s) if Id::parse(s).is_some() => *id = Id::parse(s),
                    _ => return bad("XADD should answer an entry ID", &r),
                }
            }
            OpKind::Xread { got } => {
                let r = conn.read()?;
                *got = match parse_xread(layout, &r) {
                    Some(got) => got,
                    None => return bad("XREADGROUP should answer nil or [[stream, entries]]", &r),
                };
                let mut batches: BTreeMap<usize, Vec<Id>> = BTreeMap::new();
                for (stream, id, _) in got.iter() {
                    batches.entry(*stream).or_default().push(*id);
                }
                for (stream, ids) in batches {
                    if self.rng.unit() < XACK_SHARE {
                        self.to_ack.push_back((stream, ids));
                    }
                }
            }
            OpKind::Xack { ids, .. } => {
                let r = conn.read()?;
                if r != Resp::Int(ids.len() as i64) {
                    return bad(
                        &format!(
                            "XACK of {} pending entries should answer :{}",
                            ids.len(),
                            ids.len()
                        ),
                        &r,
                    );
                }
            }
        }
        Ok(())
    }

    /// A pause after an empty pop, so that idle poppers do not spin.
    fn pause_after(&self, kind: &OpKind) -> bool {
        match kind {
            OpKind::Rpop { elem: None, .. } => true,
            OpKind::Lmove { elem: None, .. } => !self.mover_blocks(),
            _ => false,
        }
    }
}

/// The entries of an XREADGROUP reply: (stream, ID, value) each.
fn parse_xread(layout: &Layout, r: &Resp) -> Option<Vec<(usize, Id, String)>> {
    let mut got = Vec::new();
    let streams = match r {
        Resp::Nil => return Some(got),
        Resp::Array(s) => s,
        _ => return None,
    };
    for s in streams {
        let Resp::Array(pair) = s else { return None };
        let [Resp::Bulk(name), Resp::Array(entries)] = pair.as_slice() else {
            return None;
        };
        let stream = layout.stream_index(name)?;
        for e in entries {
            let (id, value) = parse_entry(e)?;
            got.push((stream, id, value));
        }
    }
    Some(got)
}

/// An entry `[id, [field, value]]`.
fn parse_entry(e: &Resp) -> Option<(Id, String)> {
    let Resp::Array(parts) = e else { return None };
    let [Resp::Bulk(id), Resp::Array(fields)] = parts.as_slice() else {
        return None;
    };
    let [Resp::Bulk(f), Resp::Bulk(v)] = fields.as_slice() else {
        return None;
    };
    if f != FIELD {
        return None;
    }
    Some((Id::parse(id)?, v.clone()))
}

fn run_client(
    id: usize,
    layout: &Layout,
    seed: u64,
    mut conn: Conn,
    start: &Barrier,
    stop: &AtomicBool,
) -> ClientLog {
    let mut client = Client {
        id,
        layout,
        rng: Rng::new(seed.wrapping_add((id as u64 + 1).wrapping_mul(0x1000_0001))),
        seq: 0,
        incrs: HashMap::new(),
        to_ack: VecDeque::new(),
    };
    let mut log = ClientLog::default();
    start.wait();
    while !stop.load(Ordering::Relaxed) {
        let (mut kind, bytes) = client.next_op();
        let send = now_ns();
        let sent = conn.send(&bytes).map_err(Stop::from);
        let result = sent.and_then(|()| client.take_reply(&mut conn, &mut kind));
        let pause = client.pause_after(&kind);
        match result {
            Ok(()) => log.ops.push(Op {
                kind,
                send,
                ack: Some(now_ns()),
            }),
            Err(Stop::Io) => {
                log.ops.push(Op {
                    kind,
                    send,
                    ack: None,
                });
                break;
            }
            Err(Stop::Bad(why)) => {
                log.ops.push(Op {
                    kind,
                    send,
                    ack: Some(now_ns()),
                });
                log.problem = Some(format!("client {id}: {why}"));
                break;
            }
        }
        if pause {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    log
}

// ---------------------------------------------------------------------------
// The server process.

struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Server {
    /// Starts the command line with `{port}` and `{dir}` filled in and waits
    /// until it answers PING. Retries with a new port if it exits at once (the
    /// port may have been taken meanwhile).
    fn start(
        template: &[String],
        dir: &Path,
        log: &Path,
        timeout: Duration,
    ) -> Result<Server, String> {
        let mut last = String::new();
        for attempt in 0..3 {
            let port = free_port().map_err(|e| format!("no free port: {e}"))?;
            let argv: Vec<String> = template
                .iter()
                .map(|a| {
                    a.replace("{port}", &port.to_string())
                        .replace("{dir}", &dir.to_string_lossy())
                })
                .collect();
            let out = File::options()
                .create(true)
                .append(true)
                .open(log)
                .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
            let err = out.try_clone().map_err(|e| e.to_string())?;
            let mut command = Command::new(&argv[0]);
            command
                .args(&argv[1..])
                .current_dir(dir)
                .stdin(Stdio::null())
                .stdout(Stdio::from(out))
                .stderr(Stdio::from(err));
            // SAFETY: prctl is async-signal-safe; the server dies with the
            // harness (the main thread, which spawns every server, lives as
            // long as the harness does).
            unsafe {
                command.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let child = command
                .spawn()
                .map_err(|e| format!("cannot start {:?}: {e}", argv[0]))?;
            let mut server = Server {
                child,
                port,
                log: log.to_path_buf(),
            };
            match server.wait_ready(timeout) {
                Ok(()) => return Ok(server),
                Err(Some(why)) => return Err(format!("{why}; {}", server.log_tail())),
                Err(None) => {
                    last = format!(
                        "{} exited at once (attempt {}); {}",
                        argv.join(" "),
                        attempt + 1,
                        server.log_tail()
                    );
                }
            }
        }
        Err(last)
    }

    /// Ok once it answers +PONG; Err(None) if it exited; Err(Some) if it did
    /// not answer in time or answered something else.
    fn wait_ready(&mut self, timeout: Duration) -> Result<(), Option<String>> {
        let deadline = Instant::now() + timeout;
        let mut last;
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Err(None);
            }
            match Conn::connect(self.port, Duration::from_secs(5))
                .and_then(|mut c| c.call(&["PING"]))
            {
                Ok(Resp::Simple(s)) if s == "PONG" => {
                    if let Ok(Some(_)) = self.child.try_wait() {
                        return Err(None);
                    }
                    return Ok(());
                }
                Ok(Resp::Error(e)) if e.starts_with("LOADING") => last = e,
                Ok(other) => return Err(Some(format!("PING answered {other}"))),
                Err(e) => last = e.to_string(),
            }
            if Instant::now() > deadline {
                return Err(Some(format!("no PONG within {timeout:?} (last: {last})")));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(8)..].join("\n    ");
        format!("server log {}:\n    {tail}", self.log.display())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `args` on `conn`, waiting out `-LOADING`.
fn call_loaded(conn: &mut Conn, args: &[&str]) -> Result<Resp, String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match conn.call(args) {
            Ok(Resp::Error(e)) if e.starts_with("LOADING") && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(r) => return Ok(r),
            Err(e) => return Err(format!("{}: {e}", args.join(" "))),
        }
    }
}

// ---------------------------------------------------------------------------
// Reading the state back.

#[derive(Debug, Default)]
struct Snapshot {
    counters: Vec<Option<String>>,
    /// Per register, the value at each place.
    registers: Vec<Vec<Option<String>>>,
    lists: Vec<Vec<String>>,
    streams: Vec<StreamSnap>,
}

#[derive(Debug)]
struct StreamSnap {
    entries: Vec<(Id, String)>,
    /// None: no such group (with why).
    group: Result<GroupSnap, String>,
}

#[derive(Debug, Default)]
struct GroupSnap {
    last_delivered: Id,
    /// (ID, consumer) of every pending entry.
    pending: Vec<(Id, String)>,
}

fn read_back(conn: &mut Conn, layout: &Layout) -> Result<Snapshot, String> {
    let mut snap = Snapshot::default();
    let string = |r: Resp, what: &str| match r {
        Resp::Bulk(s) => Ok(Some(s)),
        Resp::Nil => Ok(None),
        other => Err(format!("{what} answered {other}")),
    };
    for (key, _) in &layout.counters {
        snap.counters.push(string(
            call_loaded(conn, &["GET", key])?,
            &format!("GET {key}"),
        )?);
    }
    for reg in &layout.registers {
        let mut values = Vec::new();
        for p in &reg.places {
            let r = match &p.field {
                Some(f) => call_loaded(conn, &["HGET", &p.key, f])?,
                None => call_loaded(conn, &["GET", &p.key])?,
            };
            values.push(string(r, &format!("reading {p}"))?);
        }
        snap.registers.push(values);
    }
    for key in &layout.lists {
        let items = match call_loaded(conn, &["LRANGE", key, "0", "-1"])? {
            Resp::Array(items) => items
                .into_iter()
                .map(|i| match i {
                    Resp::Bulk(s) => Ok(s),
                    other => Err(format!("LRANGE {key} holds {other}")),
                })
                .collect::<Result<Vec<_>, _>>()?,
            other => return Err(format!("LRANGE {key} answered {other}")),
        };
        snap.lists.push(items);
    }
    for key in &layout.streams {
        let entries = match call_loaded(conn, &["XRANGE", key, "-", "+"])? {
            Resp::Array(items) => items
                .iter()
                .map(|e| parse_entry(e).ok_or_else(|| format!("XRANGE {key} holds {e}")))
                .collect::<Result<Vec<_>, _>>()?,
            other => return Err(format!("XRANGE {key} answered {other}")),
        };
        let group = read_group(conn, key)?;
        snap.streams.push(StreamSnap { entries, group });
    }
    Ok(snap)
}

/// The group's last-delivered-id and PEL, or Err(why) if there is no group.
fn read_group(conn: &mut Conn, key: &str) -> Result<Result<GroupSnap, String>, String> {
    let groups = match call_loaded(conn, &["XINFO", "GROUPS", key])? {
        Resp::Error(e) => return Ok(Err(format!("XINFO GROUPS {key}: {e}"))),
        Resp::Array(groups) => groups,
        other => return Err(format!("XINFO GROUPS {key} answered {other}")),
    };
    let mut last = None;
    for g in &groups {
        let Resp::Array(fields) = g else {
            return Err(format!("XINFO GROUPS {key} holds {g}"));
        };
        let pairs: HashMap<String, &Resp> = fields
            .chunks(2)
            .filter_map(|kv| match kv {
                [Resp::Bulk(k), v] => Some((k.clone(), v)),
                _ => None,
            })
            .collect();
        if pairs.get("name") == Some(&&Resp::Bulk(GROUP.into())) {
            last = match pairs.get("last-delivered-id") {
                Some(Resp::Bulk(id)) => Id::parse(id),
                _ => None,
            };
            if last.is_none() {
                return Err(format!("XINFO GROUPS {key}: no last-delivered-id in {g}"));
            }
        }
    }
    let Some(last_delivered) = last else {
        return Ok(Err(format!("stream {key} has no group {GROUP}")));
    };
    let pending = match call_loaded(conn, &["XPENDING", key, GROUP, "-", "+", "100000000"])? {
        Resp::Array(items) => items
            .iter()
            .map(|p| {
                match p {
                    Resp::Array(f) => match f.as_slice() {
                        [Resp::Bulk(id), Resp::Bulk(consumer), _, _] => {
                            Id::parse(id).map(|id| (id, consumer.clone()))
                        }
                        _ => None,
                    },
                    _ => None,
                }
                .ok_or_else(|| format!("XPENDING {key} holds {p}"))
            })
            .collect::<Result<Vec<_>, _>>()?,
        other => return Err(format!("XPENDING {key} answered {other}")),
    };
    Ok(Ok(GroupSnap {
        last_delivered,
        pending,
    }))
}

// ---------------------------------------------------------------------------
// The checks.

type Counts = BTreeMap<&'static str, u64>;

fn add(counts: &mut Counts, kind: &'static str, n: u64) {
    if n > 0 {
        *counts.entry(kind).or_default() += n;
    }
}

fn total(counts: &Counts) -> u64 {
    counts.values().sum()
}

fn show_counts(counts: &Counts) -> String {
    if counts.is_empty() {
        return "-".into();
    }
    counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What one trial found.
#[derive(Default, Debug)]
struct Findings {
    /// Writes acknowledged, per kind (pops and moves that returned nothing
    /// and reads that delivered nothing are not writes).
    acked: Counts,
    /// Commands in flight at the kill, per kind.
    in_flight: Counts,
    /// In-flight commands seen to have taken effect after the restart (the
    /// differences from the acknowledged history that they explain).
    applied: Counts,
    /// Acknowledged writes missing after the restart, per kind.
    lost: Counts,
    /// Acknowledgement time of the oldest lost write.
    oldest_lost_ack: Option<u64>,
    half_applied: u64,
    /// Violations other than half-applied transactions.
    violation_count: u64,
    /// Commands begun after the server was reaped.
    not_sent: u64,
    /// Details: losses, then violations (half-applied ones included), then
    /// explanations.
    losses: Vec<String>,
    violations: Vec<String>,
    explained: Vec<String>,
}

/// The most details kept per trial and list.
const DETAILS: usize = 50;

impl Findings {
    fn lose(&mut self, kind: &'static str, n: u64, ack: u64, detail: String) {
        add(&mut self.lost, kind, n);
        self.oldest_lost_ack = Some(self.oldest_lost_ack.map_or(ack, |o| o.min(ack)));
        if self.losses.len() < DETAILS {
            self.losses.push(format!("lost {kind}: {detail}"));
        }
    }

    fn violate(&mut self, detail: String) {
        self.violation_count += 1;
        self.note(detail);
    }

    fn half_applied(&mut self, detail: String) {
        self.half_applied += 1;
        self.note(detail);
    }

    fn note(&mut self, detail: String) {
        if self.violations.len() < DETAILS {
            self.violations.push(detail);
        } else if self.violations.len() == DETAILS {
            self.violations.push("(more violations not shown)".into());
        }
    }

    fn explain(&mut self, kind: &'static str, detail: String) {
        add(&mut self.applied, kind, 1);
        if self.explained.len() < DETAILS {
            self.explained.push(detail);
        }
    }
}

struct Checker<'a> {
    layout: &'a Layout,
    logs: &'a [ClientLog],
    snap: &'a Snapshot,
    /// When the consumer groups' creation was acknowledged.
    setup_ack: u64,
    /// When the killed server was reaped.
    reaped: u64,
    /// Readers whose XREADGROUP in flight was seen applied.
    reads_applied: HashSet<String>,
    f: Findings,
}

fn check(
    layout: &Layout,
    logs: &[ClientLog],
    snap: &Snapshot,
    setup_ack: u64,
    reaped: u64,
) -> Findings {
    let mut c = Checker {
        layout,
        logs,
        snap,
        setup_ack,
        reaped,
        reads_applied: HashSet::new(),
        f: Findings::default(),
    };
    c.tally();
    c.counters();
    c.registers();
    c.lists();
    c.streams();
    c.f
}

impl<'a> Checker<'a> {
    /// Every op with its client and fate.
    fn ops(&self) -> impl Iterator<Item = (usize, &'a Op, Fate)> + 'a {
        let reaped = self.reaped;
        self.logs
            .iter()
            .enumerate()
            .flat_map(move |(c, log)| log.ops.iter().map(move |op| (c, op, fate(op, reaped))))
    }

    fn kind_name(&self, kind: &OpKind) -> &'static str {
        match kind {
            OpKind::Incr { .. } => "incr",
            OpKind::Write { reg, .. } => self.layout.registers[*reg].kind.name(),
            OpKind::Lpush { .. } => "lpush",
            OpKind::Lmove { .. } => "lmove",
            OpKind::Rpop { .. } => "rpop",
            OpKind::Xadd { .. } => "xadd",
            OpKind::Xread { .. } => "xreadgroup",
            OpKind::Xack { .. } => "xack",
        }
    }

    fn tally(&mut self) {
        for log in self.logs {
            if let Some(p) = &log.problem {
                self.f.violate(format!("bad reply during the load: {p}"));
            }
        }
        let ops: Vec<_> = self.ops().collect();
        for (_, op, fate) in ops {
            let name = self.kind_name(&op.kind);
            match fate {
                Fate::Acked(_) => {
                    let write = match &op.kind {
                        OpKind::Lmove { elem, .. } | OpKind::Rpop { elem, .. } => elem.is_some(),
                        OpKind::Xread { got } => !got.is_empty(),
                        _ => true,
                    };
                    if write {
                        add(&mut self.f.acked, name, 1);
                    }
                }
                Fate::InFlight => add(&mut self.f.in_flight, name, 1),
                Fate::NotSent => self.f.not_sent += 1,
            }
        }
    }

    fn counters(&mut self) {
        let mut acks: Vec<Vec<u64>> = vec![Vec::new(); self.layout.counters.len()];
        let mut in_flight = vec![false; self.layout.counters.len()];
        for (_, op, fate) in self.ops() {
            if let OpKind::Incr { counter } = op.kind {
                match fate {
                    Fate::Acked(t) => acks[counter].push(t),
                    Fate::InFlight => in_flight[counter] = true,
                    Fate::NotSent => {}
                }
            }
        }
        for (i, (key, _)) in self.layout.counters.iter().enumerate() {
            let a = acks[i].len() as i64;
            let v = match &self.snap.counters[i] {
                None => 0,
                Some(s) => match s.parse::<i64>() {
                    Ok(v) => v,
                    Err(_) => {
                        self.f
                            .violate(format!("counter {key} holds {s:?}, not a number"));
                        continue;
                    }
                },
            };
            let flight = if in_flight[i] { " (+1 in flight)" } else { "" };
            if v == a {
                continue;
            }
            if v == a + 1 && in_flight[i] {
                self.f.explain(
                    "incr",
                    format!(
                        "counter {key} = {v}: {a} INCRs acknowledged and the one in flight applied"
                    ),
                );
            } else if v > a || v < 0 {
                self.f.violate(format!(
                    "counter {key} = {v} after {a} acknowledged INCRs{flight}"
                ));
            } else {
                let lost = (a - v) as u64;
                self.f.lose(
                    "incr",
                    lost,
                    acks[i][v as usize],
                    format!("counter {key} = {v} after {a} acknowledged INCRs{flight}"),
                );
            }
        }
    }

    fn registers(&mut self) {
        // (value, send, fate) of every write, per register.
        let mut writes: Vec<Vec<(&str, u64, Fate)>> = vec![Vec::new(); self.layout.registers.len()];
        for (_, op, fate) in self.ops() {
            if let OpKind::Write { reg, value } = &op.kind {
                writes[*reg].push((value, op.send, fate));
            }
        }
        for (r, reg) in self.layout.registers.iter().enumerate() {
            let kind = reg.kind.name();
            let values = &self.snap.registers[r];
            let places: Vec<String> = reg.places.iter().map(Place::to_string).collect();
            if values.iter().any(|v| v != &values[0]) {
                let shown: Vec<String> = places
                    .iter()
                    .zip(values)
                    .map(|(p, v)| format!("{p}={}", v.as_deref().unwrap_or("(missing)")))
                    .collect();
                self.f.half_applied(format!(
                    "half-applied {}: {}",
                    kind.to_uppercase(),
                    shown.join(" ")
                ));
                continue;
            }
            let what = places.join(" ");
            let acked = |after: u64| {
                writes[r]
                    .iter()
                    .filter_map(|(v, send, fate)| match fate {
                        Fate::Acked(t) if *send > after => Some((*v, *t)),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
            };
            match &values[0] {
                None => {
                    let lost = acked(0);
                    if let Some(&(v, t)) = lost.iter().min_by_key(|(_, t)| *t) {
                        self.f.lose(
                            kind,
                            lost.len() as u64,
                            t,
                            format!(
                                "{what} missing after {} acknowledged writes (first {v})",
                                lost.len()
                            ),
                        );
                    }
                }
                Some(found) => match writes[r].iter().find(|(v, _, _)| v == found) {
                    None => self
                        .f
                        .violate(format!("{what} holds {found:?}, which nobody wrote")),
                    Some((_, _, Fate::NotSent)) => self.f.violate(format!(
                        "{what} holds {found:?}, written after the server was gone"
                    )),
                    Some((_, _, Fate::InFlight)) => self.f.explain(
                        kind,
                        format!("{what} = {found}, written by the {kind} in flight"),
                    ),
                    Some((_, _, Fate::Acked(t))) => {
                        let lost = acked(*t);
                        if let Some(&(v, t)) = lost.iter().min_by_key(|(_, t)| *t) {
                            self.f.lose(
                                kind,
                                lost.len() as u64,
                                t,
                                format!(
                                    "{what} = {found}, but {} acknowledged writes sent after its \
                                     reply are not there (first {v})",
                                    lost.len()
                                ),
                            );
                        }
                    }
                },
            }
        }
    }

    fn lists(&mut self) {
        let layout = self.layout;
        let list = |i: usize| layout.lists[i].as_str();
        // Element -> (pushed to, fate of the LPUSH).
        let mut pushed: HashMap<&str, (usize, Fate)> = HashMap::new();
        // Element -> (client, list, ack) of each acknowledged RPOP that got it.
        let mut held: HashMap<&str, Vec<(usize, usize, u64)>> = HashMap::new();
        // Element -> earliest acknowledged LMOVE that returned it.
        let mut moved: HashMap<&str, (usize, usize, u64)> = HashMap::new();
        let mut pops_in_flight: Vec<(usize, usize)> = Vec::new();
        for (c, op, fate) in self.ops() {
            match (&op.kind, fate) {
                (OpKind::Lpush { list, elem }, _) => {
                    pushed.insert(elem, (*list, fate));
                }
                (
                    OpKind::Rpop {
                        list,
                        elem: Some(e),
                    },
                    Fate::Acked(t),
                ) => {
                    held.entry(e).or_default().push((c, *list, t));
                }
                (OpKind::Rpop { list, .. }, Fate::InFlight) => pops_in_flight.push((c, *list)),
                (
                    OpKind::Lmove {
                        src,
                        dst,
                        elem: Some(e),
                    },
                    Fate::Acked(t),
                ) => {
                    let m = moved.entry(e).or_insert((*src, *dst, t));
                    if t < m.2 {
                        *m = (*src, *dst, t);
                    }
                }
                _ => {}
            }
        }
        let mut found: HashMap<&str, Vec<usize>> = HashMap::new();
        for (l, items) in self.snap.lists.iter().enumerate() {
            for e in items {
                found.entry(e).or_default().push(l);
            }
        }
        let mut seen_pushed: HashSet<&str> = HashSet::new();
        let mut sorted_found: Vec<_> = found.iter().collect();
        sorted_found.sort();
        for (e, lists) in sorted_found {
            match pushed.get(e) {
                None => self.f.violate(format!(
                    "list {} holds {e:?}, which nobody pushed",
                    list(lists[0])
                )),
                Some((_, Fate::NotSent)) => self.f.violate(format!(
                    "list {} holds {e}, pushed after the server was gone",
                    list(lists[0])
                )),
                Some((from, fate)) => {
                    if lists.len() > 1 {
                        let names: Vec<&str> = lists.iter().map(|&l| list(l)).collect();
                        self.f.violate(format!("element {e} is in lists {names:?}"));
                    }
                    for &l in lists {
                        if !layout.reach[*from][l] {
                            self.f.violate(format!(
                                "element {e}, pushed to {}, is in {}, which it cannot reach",
                                list(*from),
                                list(l)
                            ));
                        }
                    }
                    if *fate == Fate::InFlight && seen_pushed.insert(e) {
                        self.f.explain(
                            "lpush",
                            format!("{e}, whose LPUSH was in flight, is in {}", list(lists[0])),
                        );
                    }
                }
            }
        }
        let mut sorted_held: Vec<_> = held.iter().collect();
        sorted_held.sort();
        for (e, pops) in sorted_held {
            let (c, l, t) = pops[0];
            match pushed.get(e) {
                None | Some((_, Fate::NotSent)) => {
                    self.f.violate(format!(
                        "client {c} popped {e:?} from {}, which nobody pushed",
                        list(l)
                    ));
                    continue;
                }
                Some((from, fate)) => {
                    if !layout.reach[*from][l] {
                        self.f.violate(format!(
                            "client {c} popped {e} from {}, which it cannot reach from {}",
                            list(l),
                            list(*from)
                        ));
                    }
                    if *fate == Fate::InFlight && !found.contains_key(e) && seen_pushed.insert(e) {
                        self.f.explain(
                            "lpush",
                            format!("{e}, whose LPUSH was in flight, was popped"),
                        );
                    }
                }
            }
            if pops.len() > 1 {
                self.f
                    .violate(format!("{e} was popped {} times: {pops:?}", pops.len()));
            }
            if let Some(lists) = found.get(e) {
                self.f.lose(
                    "rpop",
                    1,
                    t,
                    format!(
                        "{e} popped by client {c} from {} is back in {}",
                        list(l),
                        list(lists[0])
                    ),
                );
            }
        }
        let mut sorted_moved: Vec<_> = moved.iter().collect();
        sorted_moved.sort();
        for (e, &(src, dst, _)) in sorted_moved {
            match pushed.get(e) {
                None | Some((_, Fate::NotSent)) => self.f.violate(format!(
                    "LMOVE moved {e:?} from {} to {}, nobody pushed it",
                    list(src),
                    list(dst)
                )),
                Some((from, _)) if !layout.reach[*from][src] => self.f.violate(format!(
                    "LMOVE moved {e} out of {}, which it cannot reach from {}",
                    list(src),
                    list(*from)
                )),
                _ => {}
            }
        }
        // Elements known to exist, in no list and no hands: (element, the list
        // it was pushed to, the earliest acknowledgement that showed it).
        let mut missing: Vec<(&str, usize, u64)> = Vec::new();
        for (e, (from, fate)) in &pushed {
            if found.contains_key(e) || held.contains_key(e) {
                continue;
            }
            let evidence = match (fate, moved.get(e)) {
                (Fate::Acked(t), _) => *t,
                (_, Some(m)) => m.2,
                _ => continue,
            };
            missing.push((e, *from, evidence));
        }
        missing.sort();
        // Match missing elements to RPOPs in flight whose list they can reach.
        let candidates: Vec<Vec<usize>> = missing
            .iter()
            .map(|(_, from, _)| {
                (0..pops_in_flight.len())
                    .filter(|&p| layout.reach[*from][pops_in_flight[p].1])
                    .collect()
            })
            .collect();
        let taken_by = max_matching(&candidates, pops_in_flight.len());
        for (i, (e, from, ack)) in missing.iter().enumerate() {
            match taken_by[i] {
                Some(p) => {
                    let (c, l) = pops_in_flight[p];
                    self.f.explain(
                        "rpop",
                        format!("{e} missing: taken by client {c}'s RPOP {} in flight", list(l)),
                    );
                }
                None => self.f.lose(
                    "lpush",
                    1,
                    *ack,
                    format!(
                        "{e} (pushed to {}) is in no list and was not popped{}",
                        list(*from),
                        if pops_in_flight.is_empty() {
                            String::new()
                        } else {
                            format!(
                                " (and {} RPOPs in flight explain other elements or reach no list it can be in)",
                                pops_in_flight.len()
                            )
                        }
                    ),
                ),
            }
        }
    }

    fn streams(&mut self) {
        for s in 0..self.layout.streams.len() {
            self.stream(s);
        }
    }

    fn stream(&mut self, s: usize) {
        let key = self.layout.streams[s].as_str();
        let snap = &self.snap.streams[s];
        // value -> (fate, reply ID) of its XADD.
        let mut added: HashMap<&str, (Fate, Option<Id>, usize)> = HashMap::new();
        // ID -> (reader, value, ack) of each delivery by an acknowledged XREADGROUP.
        let mut delivered: HashMap<Id, Vec<(usize, &str, u64)>> = HashMap::new();
        // ID -> ack time of the acknowledged XACK.
        let mut xacked: HashMap<Id, u64> = HashMap::new();
        // ID -> the in-flight XACK (client) naming it.
        let mut xack_in_flight: HashMap<Id, usize> = HashMap::new();
        let mut reading_in_flight: HashSet<usize> = HashSet::new();
        for (c, op, fate) in self.ops() {
            match (&op.kind, fate) {
                (OpKind::Xadd { stream, value, id }, _) if *stream == s => {
                    added.insert(value, (fate, *id, c));
                }
                (OpKind::Xread { got }, Fate::Acked(t)) => {
                    for (stream, id, value) in got {
                        if *stream == s {
                            delivered.entry(*id).or_default().push((c, value, t));
                        }
                    }
                }
                (OpKind::Xread { .. }, Fate::InFlight) => {
                    reading_in_flight.insert(c);
                }
                (OpKind::Xack { stream, ids }, Fate::Acked(t)) if *stream == s => {
                    for id in ids {
                        xacked.insert(*id, t);
                    }
                }
                (OpKind::Xack { stream, ids }, Fate::InFlight) if *stream == s => {
                    for id in ids {
                        xack_in_flight.insert(*id, c);
                    }
                }
                _ => {}
            }
        }
        // The entries.
        let mut by_id: HashMap<Id, &str> = HashMap::new();
        let mut by_value: HashMap<&str, Id> = HashMap::new();
        for (id, value) in &snap.entries {
            by_id.insert(*id, value);
            if by_value.insert(value, *id).is_some() {
                self.f.violate(format!("stream {key} holds {value} twice"));
            }
            match added.get(value.as_str()) {
                None => self.f.violate(format!(
                    "stream {key} holds {id} {value:?}, which nobody added"
                )),
                Some((Fate::NotSent, _, _)) => self.f.violate(format!(
                    "stream {key} holds {id} {value}, added after the server was gone"
                )),
                Some((Fate::InFlight, _, c)) => self.f.explain(
                    "xadd",
                    format!("stream {key} holds {id} {value}, client {c}'s XADD in flight"),
                ),
                Some((Fate::Acked(_), Some(want), _)) if want != id => self.f.violate(format!(
                    "stream {key} holds {value} as {id}, but XADD answered {want}"
                )),
                _ => {}
            }
        }
        let mut sorted_added: Vec<_> = added.iter().collect();
        sorted_added.sort_by_key(|(v, _)| *v);
        for (value, (fate, id, c)) in sorted_added {
            if let (Fate::Acked(t), Some(id)) = (fate, id) {
                if !by_value.contains_key(value) {
                    self.f.lose(
                        "xadd",
                        1,
                        *t,
                        format!("stream {key} lacks {id} {value}, added by client {c}"),
                    );
                }
            }
        }
        let mut sorted_delivered: Vec<_> = delivered.iter().collect();
        sorted_delivered.sort_by_key(|(id, _)| **id);
        for (id, ds) in &sorted_delivered {
            let (c, value, t) = ds[0];
            if ds.len() > 1 {
                let readers: Vec<usize> = ds.iter().map(|d| d.0).collect();
                self.f.violate(format!(
                    "stream {key}: {id} delivered {} times, to clients {readers:?}",
                    ds.len()
                ));
            }
            match by_id.get(id) {
                Some(v) if *v != value => self.f.violate(format!(
                    "stream {key}: {id} was delivered as {value} but holds {v}"
                )),
                Some(_) => {}
                None => {
                    // Lost once: as its XADD if that was acknowledged (counted
                    // above), else as the delivery that showed it.
                    if !matches!(added.get(value), Some((Fate::Acked(_), _, _))) {
                        self.f.lose(
                            "xadd",
                            1,
                            t,
                            format!("stream {key} lacks {id} {value}, delivered to client {c}"),
                        );
                    }
                }
            }
        }
        // The group.
        let group = match &snap.group {
            Ok(g) => g,
            Err(why) => {
                self.f.lose(
                    "xgroup",
                    1,
                    self.setup_ack,
                    format!("{why}, created (and acknowledged) before the load"),
                );
                let deliveries: Vec<u64> = delivered.values().map(|d| d[0].2).collect();
                if let Some(&t) = deliveries.iter().min() {
                    self.f.lose(
                        "xreadgroup",
                        deliveries.len() as u64,
                        t,
                        format!("{why}: {} deliveries lost with it", deliveries.len()),
                    );
                }
                return;
            }
        };
        let mut pel: HashMap<Id, &str> = HashMap::new();
        for (id, consumer) in &group.pending {
            if pel.insert(*id, consumer).is_some() {
                self.f
                    .violate(format!("stream {key}: {id} is pending twice"));
            }
        }
        let mut xack_applied: HashSet<usize> = HashSet::new();
        let mut pel_lost = false;
        for (id, ds) in &sorted_delivered {
            let (c, _, t) = ds[0];
            let owner = consumer_name(c);
            let pending = pel.get(id).copied();
            if let Some(p) = pending {
                if p != owner {
                    self.f.violate(format!(
                        "stream {key}: {id} delivered to {owner} is pending for {p}"
                    ));
                }
            }
            if let Some(&acked) = xacked.get(id) {
                if pending.is_some() {
                    self.f.lose(
                        "xack",
                        1,
                        acked,
                        format!(
                            "stream {key}: {id} acknowledged by {owner}'s XACK is pending again"
                        ),
                    );
                }
            } else if let Some(&ackc) = xack_in_flight.get(id) {
                if pending.is_none() && xack_applied.insert(ackc) {
                    self.f.explain(
                        "xack",
                        format!("stream {key}: {id} not pending, client {ackc}'s XACK in flight applied"),
                    );
                }
            } else if pending.is_none() {
                pel_lost = true;
                self.f.lose(
                    "xreadgroup",
                    1,
                    t,
                    format!("stream {key}: {id} delivered to {owner}, never acknowledged, is not pending"),
                );
            }
        }
        // Pending entries nobody was told about.
        let mut extra: BTreeMap<&str, Vec<Id>> = BTreeMap::new();
        let mut pending_sorted: Vec<_> = pel.iter().collect();
        pending_sorted.sort();
        for (id, consumer) in pending_sorted {
            if delivered.contains_key(id) {
                continue;
            }
            let reading = consumer_client(consumer).is_some_and(|c| reading_in_flight.contains(&c));
            if !reading {
                self.f.violate(format!(
                    "stream {key}: {id} is pending for {consumer}, but no XREADGROUP reply delivered it \
                     and {consumer} had none in flight"
                ));
            } else if !by_id.contains_key(id) {
                self.f.violate(format!(
                    "stream {key}: {id} is pending for {consumer} but not in the stream"
                ));
            } else {
                extra.entry(consumer).or_default().push(*id);
            }
        }
        for (consumer, ids) in extra {
            if ids.len() > XCOUNT {
                self.f.violate(format!(
                    "stream {key}: {} entries pending for {consumer} never delivered, more than one \
                     XREADGROUP COUNT {XCOUNT} in flight can take",
                    ids.len()
                ));
            } else {
                let shown: Vec<String> = ids.iter().map(Id::to_string).collect();
                let detail = format!(
                    "stream {key}: {} pending for {consumer}, delivered by its XREADGROUP in flight",
                    shown.join(" ")
                );
                // One XREADGROUP reads every stream: count it once.
                if self.reads_applied.insert(consumer.to_string()) {
                    self.f.explain("xreadgroup", detail);
                } else if self.f.explained.len() < DETAILS {
                    self.f.explained.push(detail);
                }
            }
        }
        if let Some(max) = group.pending.iter().map(|(id, _)| *id).max() {
            if max > group.last_delivered {
                self.f.violate(format!(
                    "stream {key}: {max} is pending but last-delivered-id is {}",
                    group.last_delivered
                ));
            }
        }
        if let Some((id, ds)) = sorted_delivered.last() {
            if **id > group.last_delivered && !pel_lost {
                self.f.lose(
                    "xreadgroup",
                    1,
                    ds[0].2,
                    format!(
                        "stream {key}: {id} was delivered but last-delivered-id is {}",
                        group.last_delivered
                    ),
                );
            }
        }
    }
}

/// A maximum matching of left items to right items (`candidates[i]`: the
/// right items left item i may take), by augmenting paths.
fn max_matching(candidates: &[Vec<usize>], rights: usize) -> Vec<Option<usize>> {
    fn augment(
        i: usize,
        candidates: &[Vec<usize>],
        seen: &mut [bool],
        owner: &mut [Option<usize>],
    ) -> bool {
        for &r in &candidates[i] {
            if seen[r] {
                continue;
            }
            seen[r] = true;
            if owner[r].is_none_or(|o| augment(o, candidates, seen, owner)) {
                owner[r] = Some(i);
                return true;
            }
        }
        false
    }
    let mut owner: Vec<Option<usize>> = vec![None; rights];
    for i in 0..candidates.len() {
        if owner.iter().all(Option::is_some) {
            break;
        }
        let mut seen = vec![false; rights];
        augment(i, candidates, &mut seen, &mut owner);
    }
    let mut taken = vec![None; candidates.len()];
    for (r, o) in owner.iter().enumerate() {
        if let Some(i) = o {
            taken[*i] = Some(r);
        }
    }
    taken
}

// ---------------------------------------------------------------------------
// Trials.

struct Trial {
    index: u32,
    seed: u64,
    load: f64,
    restart: f64,
    kill_ns: u64,
    findings: Findings,
    dir: PathBuf,
}

impl Trial {
    /// Whether this trial fails the run.
    fn failed(&self, args: &Args) -> bool {
        let f = &self.findings;
        if f.violation_count > 0 || f.half_applied > 0 {
            return true;
        }
        if args.everysec {
            self.loss_span().is_some_and(|s| s > args.max_loss_span)
        } else {
            total(&f.lost) > 0
        }
    }

    /// Seconds from the oldest lost write's acknowledgement to the kill.
    fn loss_span(&self) -> Option<f64> {
        self.findings
            .oldest_lost_ack
            .map(|t| secs(self.kill_ns.saturating_sub(t)))
    }
}

fn setup(port: u16, layout: &Layout) -> Result<(), String> {
    let mut conn = Conn::connect(port, REPLY_TIMEOUT).map_err(|e| format!("connect: {e}"))?;
    for key in &layout.streams {
        match call_loaded(
            &mut conn,
            &["XGROUP", "CREATE", key, GROUP, "0", "MKSTREAM"],
        )? {
            Resp::Simple(s) if s == "OK" => {}
            other => return Err(format!("XGROUP CREATE {key} answered {other}")),
        }
    }
    Ok(())
}

/// Runs one trial. Err: the harness could not run it (the first start
/// failed); every other problem is a finding.
fn run_trial(
    args: &Args,
    root: &Path,
    layout: &Layout,
    index: u32,
    seed: u64,
) -> Result<Trial, String> {
    let dir = root.join(format!("trial-{index}"));
    let data = dir.join("data");
    std::fs::create_dir_all(&data).map_err(|e| format!("cannot create {}: {e}", data.display()))?;
    let timeout = Duration::from_secs_f64(args.start_timeout);
    let mut rng = Rng::new(seed);
    let load = args.min_load + rng.unit() * (args.max_load - args.min_load);
    let mut trial = Trial {
        index,
        seed,
        load,
        restart: 0.0,
        kill_ns: 0,
        findings: Findings::default(),
        dir: dir.clone(),
    };

    let mut server = Server::start(&args.command, &data, &dir.join("server-1.log"), timeout)?;
    setup(server.port, layout).map_err(|e| format!("{e}; {}", server.log_tail()))?;
    let setup_ack = now_ns();
    if args.everysec {
        // Let the groups reach the disk before any loss can happen.
        std::thread::sleep(Duration::from_millis(1500));
    }
    let mut conns = Vec::new();
    for _ in 0..layout.roles.len() {
        conns.push(
            Conn::connect(server.port, REPLY_TIMEOUT)
                .map_err(|e| format!("connect: {e}; {}", server.log_tail()))?,
        );
    }
    let start = Barrier::new(conns.len() + 1);
    let stop = AtomicBool::new(false);
    let client_seed = rng.next();
    let (logs, kill_ns, reaped) = std::thread::scope(|scope| {
        let handles: Vec<_> = conns
            .into_iter()
            .enumerate()
            .map(|(id, conn)| {
                let (start, stop) = (&start, &stop);
                scope.spawn(move || run_client(id, layout, client_seed, conn, start, stop))
            })
            .collect();
        start.wait();
        std::thread::sleep(Duration::from_secs_f64(load));
        let kill_ns = now_ns();
        server.kill();
        let reaped = now_ns();
        stop.store(true, Ordering::Relaxed);
        let logs: Vec<ClientLog> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect();
        (logs, kill_ns, reaped)
    });
    trial.kill_ns = kill_ns;
    drop(server);

    let restarted = now_ns();
    let server = match Server::start(&args.command, &data, &dir.join("server-2.log"), timeout) {
        Ok(s) => s,
        Err(e) => {
            trial
                .findings
                .violate(format!("the server did not come back after the kill: {e}"));
            return Ok(trial);
        }
    };
    trial.restart = secs(now_ns() - restarted);
    let snap = Conn::connect(server.port, REPLY_TIMEOUT)
        .map_err(|e| format!("connect: {e}"))
        .and_then(|mut c| read_back(&mut c, layout));
    drop(server);
    match snap {
        Ok(snap) => trial.findings = check(layout, &logs, &snap, setup_ack, reaped),
        Err(e) => trial
            .findings
            .violate(format!("reading the state back failed: {e}")),
    }
    Ok(trial)
}

fn run(args: &Args, seed: u64) -> i32 {
    let layout = Layout::new(args.clients as usize);
    let base = args.workdir.clone().unwrap_or_else(std::env::temp_dir);
    let root = base.join(format!("crash-check-{}-{seed}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&root) {
        eprintln!("crash-check: cannot create {}: {e}", root.display());
        return 2;
    }
    let mode = if args.everysec {
        "everysec (loss measured)"
    } else {
        "always (no loss allowed)"
    };
    println!(
        "crash-check: seed {seed} (rerun: --seed {seed}), {} trials, {} clients, load {}-{} s, mode {mode}",
        args.trials, args.clients, args.min_load, args.max_load
    );
    let shown: Vec<String> = args
        .command
        .iter()
        .map(|a| {
            if a.is_empty() || a.contains(char::is_whitespace) {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect();
    println!("server: {}", shown.join(" "));
    let spread: Vec<String> = [2u16, 3]
        .iter()
        .map(|&t| {
            let per = layout.spread(t);
            format!(
                "{t} shards: {}",
                per.iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join("+")
            )
        })
        .collect();
    println!("keys per shard: {}", spread.join(", "));

    let mut trials = Vec::new();
    for i in 0..args.trials {
        let trial_seed = seed.wrapping_add(i as u64);
        let trial = match run_trial(args, &root, &layout, i + 1, trial_seed) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("crash-check: trial {} could not run: {e}", i + 1);
                eprintln!("crash-check: kept {}", root.display());
                return 2;
            }
        };
        print_trial(args, &trial);
        let keep = args.keep || trial.failed(args);
        if !keep {
            let _ = std::fs::remove_dir_all(&trial.dir);
        }
        trials.push(trial);
    }
    let _ = std::fs::remove_dir(&root); // only if nothing was kept
    summarize(args, &trials)
}

fn print_trial(args: &Args, t: &Trial) {
    let f = &t.findings;
    let mut line = format!(
        "trial {}/{} seed {}: load {:.2} s, restart {:.2} s, acked {}, in flight {} (applied: {}), \
         lost {}, half-applied {}",
        t.index,
        args.trials,
        t.seed,
        t.load,
        t.restart,
        total(&f.acked),
        total(&f.in_flight),
        show_counts(&f.applied),
        total(&f.lost),
        f.half_applied,
    );
    if let Some(span) = t.loss_span() {
        line.push_str(&format!(" (oldest lost ack {:.3} s before the kill)", span));
    }
    if f.violation_count > 0 {
        line.push_str(&format!(", violations {}", f.violation_count));
    }
    line.push_str(if t.failed(args) { ": FAIL" } else { ": ok" });
    println!("{line}");
    if args.explain {
        for e in &f.explained {
            println!("    in flight: {e}");
        }
    }
}

fn summarize(args: &Args, trials: &[Trial]) -> i32 {
    let mut acked = Counts::new();
    let mut in_flight = Counts::new();
    let mut applied = Counts::new();
    let mut lost = Counts::new();
    let mut half = 0;
    let mut violations = 0;
    let mut not_sent = 0;
    for t in trials {
        let f = &t.findings;
        for (src, dst) in [
            (&f.acked, &mut acked),
            (&f.in_flight, &mut in_flight),
            (&f.applied, &mut applied),
            (&f.lost, &mut lost),
        ] {
            for (k, v) in src {
                add(dst, k, *v);
            }
        }
        half += f.half_applied;
        violations += f.violation_count;
        not_sent += f.not_sent;
    }
    let failed: Vec<&Trial> = trials.iter().filter(|t| t.failed(args)).collect();
    println!("summary: {} trials, {} failed", trials.len(), failed.len());
    println!(
        "  writes acknowledged: {} ({})",
        total(&acked),
        show_counts(&acked)
    );
    println!(
        "  in flight at the kill: {} ({}); seen applied after the restart, explaining differences: {} ({}); \
         begun after the kill: {not_sent}",
        total(&in_flight),
        show_counts(&in_flight),
        total(&applied),
        show_counts(&applied)
    );
    println!("  lost: {} ({})", total(&lost), show_counts(&lost));
    println!("  half-applied transactions: {half}");
    println!("  other violations: {violations}");
    if args.everysec {
        let mut spans: Vec<f64> = trials.iter().filter_map(Trial::loss_span).collect();
        spans.sort_by(f64::total_cmp);
        let with_loss = spans.len();
        let median = if spans.is_empty() {
            0.0
        } else {
            spans[spans.len() / 2]
        };
        let max = spans.last().copied().unwrap_or(0.0);
        println!(
            "  everysec: trials with loss {with_loss}/{}, lost acknowledged writes {}, oldest lost ack before \
             the kill: median {median:.3} s, max {max:.3} s (allowed {:.3} s)",
            trials.len(),
            total(&lost),
            args.max_loss_span
        );
    }
    let mut shown = 0;
    for t in &failed {
        let f = &t.findings;
        let mut details: Vec<&String> = f.violations.iter().collect();
        if !args.everysec {
            details.extend(&f.losses);
        } else if t.loss_span().is_some_and(|s| s > args.max_loss_span) {
            details.extend(f.losses.iter().take(1));
        }
        for d in details {
            if shown == args.show {
                break;
            }
            if shown == 0 {
                println!("problems (first {}):", args.show);
            }
            println!(
                "  trial {} (seed {}, kept {}): {d}",
                t.index,
                t.seed,
                t.dir.display()
            );
            shown += 1;
        }
        if !f.explained.is_empty() && shown < args.show {
            println!(
                "  trial {} in flight, explained: {}",
                t.index,
                f.explained[..f.explained.len().min(3)].join("; ")
            );
        }
    }
    println!(
        "crash-check: trials={} acked={} lost={} half_applied={half} violations={violations} explained={} result={}",
        trials.len(),
        total(&acked),
        total(&lost),
        total(&applied),
        if failed.is_empty() { "PASS" } else { "FAIL" }
    );
    if failed.is_empty() {
        0
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    //! The checks against hand-made histories: every outcome a correct
    //! server may leave passes, and each kind of damage is found.

    use super::*;

    /// When the killed server was reaped, in these histories.
    const REAPED: u64 = 1_000;
    // Clients of Layout::new(6), one per role.
    const WRITER: usize = 0;
    const PUSHER: usize = 1;
    const ADDER: usize = 2;
    const MOVER: usize = 3;
    const POPPER: usize = 4;
    const READER: usize = 5;

    fn op(kind: OpKind, send: u64, ack: Option<u64>) -> Op {
        Op { kind, send, ack }
    }

    fn logs(ops: Vec<(usize, Op)>) -> Vec<ClientLog> {
        let mut logs: Vec<ClientLog> = (0..6).map(|_| ClientLog::default()).collect();
        for (c, o) in ops {
            logs[c].ops.push(o);
        }
        logs
    }

    /// The state of a fresh server with its groups created.
    fn empty(layout: &Layout) -> Snapshot {
        Snapshot {
            counters: vec![None; layout.counters.len()],
            registers: layout
                .registers
                .iter()
                .map(|r| vec![None; r.places.len()])
                .collect(),
            lists: vec![Vec::new(); layout.lists.len()],
            streams: layout
                .streams
                .iter()
                .map(|_| StreamSnap {
                    entries: Vec::new(),
                    group: Ok(GroupSnap::default()),
                })
                .collect(),
        }
    }

    fn run(layout: &Layout, logs: &[ClientLog], snap: &Snapshot) -> Findings {
        check(layout, logs, snap, 1, REAPED)
    }

    fn clean(f: &Findings) -> bool {
        total(&f.lost) == 0 && f.half_applied == 0 && f.violation_count == 0
    }

    #[test]
    fn keys_spread_over_shards() {
        let layout = Layout::new(12);
        for threads in [2u16, 3, 4] {
            let shard = |k: &str| key_slot(k) % threads;
            for r in &layout.registers[layout.msets[0]..] {
                let shards: HashSet<u16> = r.places.iter().map(|p| shard(&p.key)).collect();
                assert!(shards.len() > 1, "{r:?} on one of {threads} shards");
            }
            let cross = layout
                .moves
                .iter()
                .filter(|(s, d)| shard(&layout.lists[*s]) != shard(&layout.lists[*d]))
                .count();
            assert!(cross > 0, "no LMOVE edge crosses {threads} shards");
        }
        assert_eq!(key_slot("{jobs}:in"), key_slot("{jobs}:mid"));
        assert_eq!(key_slot("123456789"), 12739); // Redis Cluster's test vector
    }

    #[test]
    fn counter_allows_only_the_incr_in_flight() {
        let layout = Layout::new(6);
        let c = layout.counters_of[WRITER][0];
        let incr = |send, ack| op(OpKind::Incr { counter: c }, send, ack);
        let history = logs(vec![
            (WRITER, incr(10, Some(11))),
            (WRITER, incr(12, Some(13))),
            (WRITER, incr(14, None)),
        ]);
        let with = |v: &str| {
            let mut snap = empty(&layout);
            snap.counters[c] = Some(v.into());
            run(&layout, &history, &snap)
        };
        assert!(clean(&with("2")));
        let f = with("3");
        assert!(clean(&f));
        assert_eq!(f.applied.get("incr"), Some(&1));
        assert_eq!(with("4").violation_count, 1);
        let f = with("1");
        assert_eq!(f.lost.get("incr"), Some(&1));
        assert_eq!(f.oldest_lost_ack, Some(13));
        // Sent after the reap: it cannot have run.
        let late = logs(vec![
            (WRITER, incr(10, Some(11))),
            (WRITER, incr(REAPED + 1, None)),
        ]);
        let mut snap = empty(&layout);
        snap.counters[c] = Some("2".into());
        assert_eq!(run(&layout, &late, &snap).violation_count, 1);
    }

    #[test]
    fn register_follows_real_time_order() {
        let layout = Layout::new(6);
        let reg = layout.msets[0];
        let write = |v: &str, send, ack| {
            op(
                OpKind::Write {
                    reg,
                    value: v.into(),
                },
                send,
                ack,
            )
        };
        let with = |history: &[ClientLog], v: &[Option<&str>]| {
            let mut snap = empty(&layout);
            snap.registers[reg] = v.iter().map(|v| v.map(String::from)).collect();
            run(&layout, history, &snap)
        };
        let n = layout.registers[reg].places.len();
        let all = |v: Option<&'static str>| vec![v; n];
        // a then b, one after the other.
        let seq = logs(vec![
            (WRITER, write("a", 10, Some(20))),
            (WRITER, write("b", 30, Some(40))),
        ]);
        assert!(clean(&with(&seq, &all(Some("b")))));
        let f = with(&seq, &all(Some("a")));
        assert_eq!(
            (f.lost.get("mset"), f.oldest_lost_ack),
            (Some(&1), Some(40))
        );
        assert_eq!(with(&seq, &all(None)).lost.get("mset"), Some(&2));
        assert_eq!(with(&seq, &all(Some("z"))).violation_count, 1);
        // Overlapping writes may land in either order.
        let overlap = logs(vec![
            (WRITER, write("a", 10, Some(50))),
            (PUSHER, write("b", 30, Some(40))),
        ]);
        assert!(clean(&with(&overlap, &all(Some("a")))));
        assert!(clean(&with(&overlap, &all(Some("b")))));
        // A write in flight may be there or not.
        let flight = logs(vec![
            (WRITER, write("a", 10, Some(20))),
            (WRITER, write("b", 30, None)),
        ]);
        assert!(clean(&with(&flight, &all(Some("a")))));
        assert_eq!(with(&flight, &all(Some("b"))).applied.get("mset"), Some(&1));
        // Half applied.
        let mut mixed = all(Some("b"));
        mixed[0] = Some("a");
        assert_eq!(with(&seq, &mixed).half_applied, 1);
        mixed[0] = None;
        assert_eq!(with(&flight, &mixed).half_applied, 1);
    }

    fn lpush(list: usize, e: &str, send: u64, ack: Option<u64>) -> (usize, Op) {
        (
            PUSHER,
            op(
                OpKind::Lpush {
                    list,
                    elem: e.into(),
                },
                send,
                ack,
            ),
        )
    }

    fn rpop(list: usize, e: Option<&str>, send: u64, ack: Option<u64>) -> (usize, Op) {
        (
            POPPER,
            op(
                OpKind::Rpop {
                    list,
                    elem: e.map(String::from),
                },
                send,
                ack,
            ),
        )
    }

    #[test]
    fn list_elements_are_in_one_place() {
        let layout = Layout::new(6);
        let with = |history: Vec<(usize, Op)>, lists: &[(usize, &str)]| {
            let mut snap = empty(&layout);
            for (l, e) in lists {
                snap.lists[*l].push(e.to_string());
            }
            run(&layout, &logs(history), &snap)
        };
        // Pushed, moved 0 -> 3 (acknowledged), popped: nowhere.
        let moved = (
            MOVER,
            op(
                OpKind::Lmove {
                    src: 0,
                    dst: 3,
                    elem: Some("e1".into()),
                },
                20,
                Some(21),
            ),
        );
        let f = with(
            vec![
                lpush(0, "e1", 10, Some(11)),
                moved.clone(),
                rpop(3, Some("e1"), 30, Some(31)),
            ],
            &[],
        );
        assert!(clean(&f), "{f:?}");
        // Popped and back in a list: the pop was lost.
        let f = with(
            vec![
                lpush(0, "e1", 10, Some(11)),
                rpop(0, Some("e1"), 30, Some(31)),
            ],
            &[(3, "e1")],
        );
        assert_eq!(f.lost.get("rpop"), Some(&1));
        // In two lists.
        let f = with(vec![lpush(0, "e1", 10, Some(11))], &[(0, "e1"), (3, "e1")]);
        assert_eq!(f.violation_count, 1);
        // Missing, and an RPOP in flight on a list it can reach took it.
        let f = with(
            vec![lpush(0, "e1", 10, Some(11)), rpop(4, None, 30, None)],
            &[],
        );
        assert!(clean(&f), "{f:?}");
        assert_eq!(f.applied.get("rpop"), Some(&1));
        // ... but one RPOP takes one element, and only from its own list.
        let f = with(
            vec![
                lpush(0, "e1", 10, Some(11)),
                lpush(0, "e2", 12, Some(13)),
                rpop(3, None, 30, None),
            ],
            &[],
        );
        assert_eq!(f.lost.get("lpush"), Some(&1));
        let f = with(
            vec![lpush(0, "e1", 10, Some(11)), rpop(1, None, 30, None)],
            &[],
        );
        assert_eq!(f.lost.get("lpush"), Some(&1));
        // Missing after an acknowledged LMOVE showed it, LPUSH in flight.
        let f = with(vec![lpush(0, "e1", 10, None), moved], &[]);
        assert_eq!(
            (f.lost.get("lpush"), f.oldest_lost_ack),
            (Some(&1), Some(21))
        );
        // An LPUSH in flight may be there or not; one never sent may not.
        assert!(clean(&with(vec![lpush(0, "e1", 10, None)], &[])));
        assert!(clean(&with(vec![lpush(0, "e1", 10, None)], &[(0, "e1")])));
        assert_eq!(
            with(vec![lpush(0, "e1", REAPED + 1, None)], &[(0, "e1")]).violation_count,
            1
        );
        // Nobody pushed it, or it cannot have got there.
        assert_eq!(with(vec![], &[(0, "e9")]).violation_count, 1);
        assert_eq!(
            with(vec![lpush(0, "e1", 10, Some(11))], &[(1, "e1")]).violation_count,
            1
        );
    }

    #[test]
    fn max_matching_finds_an_augmenting_path() {
        // Item 0 may take 0 or 1, item 1 only 0: both matched.
        assert_eq!(
            max_matching(&[vec![0, 1], vec![0]], 2),
            vec![Some(1), Some(0)]
        );
        assert_eq!(max_matching(&[vec![0], vec![0]], 1), vec![Some(0), None]);
    }

    #[test]
    fn stream_pel_is_delivered_minus_acknowledged() {
        let layout = Layout::new(6);
        let id = |n| Id(n, 0);
        let xadd = |n: u64, ack: Option<u64>| {
            (
                ADDER,
                op(
                    OpKind::Xadd {
                        stream: 0,
                        value: format!("x{n}"),
                        id: ack.map(|_| id(n)),
                    },
                    n * 10,
                    ack,
                ),
            )
        };
        let xread = |ns: &[u64], send, ack| {
            (
                READER,
                op(
                    OpKind::Xread {
                        got: ns.iter().map(|&n| (0, id(n), format!("x{n}"))).collect(),
                    },
                    send,
                    ack,
                ),
            )
        };
        let xack = |ns: &[u64], send, ack| {
            (
                READER,
                op(
                    OpKind::Xack {
                        stream: 0,
                        ids: ns.iter().map(|&n| id(n)).collect(),
                    },
                    send,
                    ack,
                ),
            )
        };
        let me = consumer_name(READER);
        let with = |history: Vec<(usize, Op)>, entries: &[u64], last: u64, pending: &[u64]| {
            let mut snap = empty(&layout);
            snap.streams[0].entries = entries.iter().map(|&n| (id(n), format!("x{n}"))).collect();
            snap.streams[0].group = Ok(GroupSnap {
                last_delivered: id(last),
                pending: pending.iter().map(|&n| (id(n), me.clone())).collect(),
            });
            run(&layout, &logs(history), &snap)
        };
        let base = || {
            vec![
                xadd(1, Some(11)),
                xadd(2, Some(21)),
                xread(&[1, 2], 100, Some(101)),
            ]
        };
        // Delivered 1 and 2, acknowledged 1: 2 pending.
        let mut h = base();
        h.push(xack(&[1], 110, Some(111)));
        let f = with(h.clone(), &[1, 2], 2, &[2]);
        assert!(clean(&f), "{f:?}");
        // 1 pending again: the XACK was lost; 2 not pending: the delivery was.
        let f = with(h.clone(), &[1, 2], 2, &[1, 2]);
        assert_eq!(f.lost.get("xack"), Some(&1));
        let f = with(h, &[1, 2], 2, &[]);
        assert_eq!(f.lost.get("xreadgroup"), Some(&1));
        // An XACK in flight: either way.
        let mut h = base();
        h.push(xack(&[1, 2], 110, None));
        assert!(clean(&with(h.clone(), &[1, 2], 2, &[1, 2])));
        assert!(clean(&with(h, &[1, 2], 2, &[])));
        // An XREADGROUP in flight may have delivered entry 3 (XADD in flight).
        let mut h = base();
        h.push(xadd(3, None));
        h.push(xread(&[], 120, None));
        let f = with(h.clone(), &[1, 2, 3], 3, &[1, 2, 3]);
        assert!(clean(&f), "{f:?}");
        assert_eq!(f.applied.get("xreadgroup"), Some(&1));
        // ... but not without one in flight, nor past last-delivered-id.
        let f = with(base(), &[1, 2, 3], 3, &[1, 2, 3]);
        assert_eq!(f.violation_count, 2, "{f:?}"); // entry 3 unknown, and pending
        assert_eq!(with(h, &[1, 2, 3], 2, &[1, 2, 3]).violation_count, 1);
        // An acknowledged XADD missing, and a delivered entry missing.
        let f = with(base(), &[1], 2, &[1, 2]);
        assert_eq!(f.lost.get("xadd"), Some(&1));
        assert_eq!(f.oldest_lost_ack, Some(21));
        // The group gone.
        let mut snap = empty(&layout);
        snap.streams[0].entries = vec![(id(1), "x1".into()), (id(2), "x2".into())];
        snap.streams[0].group = Err("no group".into());
        let f = run(&layout, &logs(base()), &snap);
        assert_eq!(
            (f.lost.get("xgroup"), f.lost.get("xreadgroup")),
            (Some(&1), Some(&2))
        );
    }
}
