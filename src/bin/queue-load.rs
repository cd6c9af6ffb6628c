//! queue-load: a closed-loop producer/consumer queue load generator for
//! ringbus, or any server speaking the Redis protocol (RESP2).
//!
//! # Design
//!
//! Producers send LPUSH commands whose payload starts with a 16-byte header:
//! the send time (nanoseconds since the tool started, from one monotonic clock
//! shared by every task), the producer's index and its sequence number; the
//! rest is padding up to `--payload` bytes. Message `seq` of producer `p` goes
//! to queue `(p + seq) % queues`, so every producer feeds every queue.
//! Consumers loop on `BRPOP key... 1` over all the queues (the key order
//! rotates from one BRPOP to the next, so no queue is always tried first),
//! with `--consumer-pipeline` BRPOPs outstanding each; they parse the replies
//! with a small incremental RESP parser and record each message's
//! push-to-pop latency.
//!
//! The loop is closed: a message is *outstanding* from the moment its LPUSH is
//! written until a consumer pops it, and producers never let more than
//! `--window` messages (summed over all producers) be outstanding. A producer
//! sends `--pipeline` LPUSHes per write while the window has room for a whole
//! batch, then waits. The queues therefore stay bounded, the throughput is
//! what the server sustains, and the latency is the time a message spends in
//! a queue at most `--window` long rather than the age of a backlog that grows
//! for as long as the run lasts.
//!
//! Everything runs on one thread (one compio executor), so the tool can be
//! pinned to one CPU with `taskset`; it reports how busy that CPU was, since a
//! saturated tool limits what it can measure.
//!
//! # What is measured
//!
//! The queue keys (`queue-load:{i}`) are deleted and every connection is made
//! before anything is pushed. The measured period is `--seconds` long and
//! starts after a warm-up of 1 s: messages consumed per second and latency
//! percentiles count the messages sent in that period, LPUSH replies per
//! second those read in it. Then pushing stops and the queues get up to 2 s to
//! drain.
//!
//! Checked for the whole run, warm-up included: that every (producer,
//! sequence number) pushed is popped exactly once (a second pop counts as a
//! duplicate, one still missing after the drain as lost), that each popped
//! message comes from the queue it was pushed to with the payload sent, and
//! that every LPUSH got its reply. Order is not checked: with several
//! consumers, a producer's messages on one queue may be handled in any order.
//! Any of these errors makes the tool exit with status 1; a failure to
//! connect, an error reply, or a connection lost mid-run exits with status 2.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::ops::Range;
use std::rc::Rc;
use std::sync::OnceLock;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use clap::{CommandFactory, Parser};
use compio::io::{AsyncReadExt, AsyncWriteExt};
use compio::net::TcpStream;
use compio::runtime::{JoinHandle, RuntimeBuilder};
use compio::BufResult;
use hdrhistogram::Histogram;

const WARMUP: Duration = Duration::from_secs(1);
/// How long the queues may take to drain after pushing stops.
const DRAIN: Duration = Duration::from_secs(2);
/// Connecting every client must take less than this.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of the payload header: send time u64, producer u32, sequence u32.
const HEADER: usize = 16;
/// Spare room made in a read buffer before each read.
const READ_CHUNK: usize = 64 * 1024;
/// The BRPOP timeout, in seconds: an idle consumer gets a nil reply this often.
const BRPOP_TIMEOUT: &[u8] = b"1";

/// Closed-loop queue load: LPUSH producers, BRPOP consumers, push-to-pop
/// latency, throughput, and exactly-once checks.
#[derive(Parser, Debug)]
#[command(name = "queue-load")]
struct Args {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = 6379)]
    port: u16,
    /// Producer connections (LPUSH).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    producers: u32,
    /// Consumer connections (BRPOP over every queue).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    consumers: u32,
    /// Queues (list keys queue-load:0, queue-load:1, ...).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    queues: u32,
    /// Payload bytes (at least 16: it carries the send time, producer and
    /// sequence number).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(16..))]
    payload: u32,
    /// Seconds measured, after a 1 s warm-up.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Most messages pushed and not yet consumed, over all producers.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    window: u32,
    /// LPUSHes sent per write (at most --window).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    pipeline: u32,
    /// BRPOPs each consumer keeps outstanding.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    consumer_pipeline: u32,
    /// Print one CSV line instead, with the fields: producers, consumers,
    /// queues, payload, msgs_per_s, pushes_per_s, p50_us, p99_us, p999_us,
    /// max_us, lost, duplicates, bad_frames, unacked, empty_pops,
    /// tool_cpu_pct.
    #[arg(long)]
    csv: bool,
}

fn main() {
    let args = Args::parse();
    if args.pipeline > args.window {
        Args::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "--pipeline must be at most --window",
            )
            .exit();
    }
    if !(args.seconds > 0.0 && args.seconds.is_finite()) {
        Args::command()
            .error(
                clap::error::ErrorKind::InvalidValue,
                "--seconds must be positive",
            )
            .exit();
    }
    now_ns(); // starts the clock
    let plan = Plan::new(&args);
    let runtime = match RuntimeBuilder::new().build() {
        Ok(rt) => rt,
        Err(e) => fail(&format!("cannot start the runtime: {e}")),
    };
    match runtime.block_on(run(&plan)) {
        Ok(report) => {
            if args.csv {
                println!("{}", report.csv(&plan));
            } else {
                report.print(&plan);
            }
            std::process::exit(if report.passed() { 0 } else { 1 });
        }
        Err(e) => fail(&e),
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("queue-load: {msg}");
    std::process::exit(2);
}

// ---------------------------------------------------------------------------
// The plan: who pushes and pops where.

struct Plan {
    addr: String,
    producers: usize,
    consumers: usize,
    /// The queue keys.
    queues: Vec<String>,
    payload: usize,
    window: u32,
    pipeline: u32,
    consumer_pipeline: u32,
    seconds: f64,
}

impl Plan {
    fn new(args: &Args) -> Plan {
        Plan {
            addr: format!("{}:{}", args.host, args.port),
            producers: args.producers as usize,
            consumers: args.consumers as usize,
            queues: (0..args.queues)
                .map(|i| format!("queue-load:{i}"))
                .collect(),
            payload: args.payload as usize,
            window: args.window,
            pipeline: args.pipeline,
            consumer_pipeline: args.consumer_pipeline,
            seconds: args.seconds,
        }
    }
}

/// The queue message `seq` of `producer` is pushed to.
fn queue_of(producer: usize, seq: u64, queues: usize) -> usize {
    ((producer as u64 + seq) % queues as u64) as usize
}

// ---------------------------------------------------------------------------
// Time.

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds since the tool started: the clock every timestamp uses.
fn now_ns() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

fn instant_at(ns: u64) -> Instant {
    *EPOCH.get_or_init(Instant::now) + Duration::from_nanos(ns)
}

/// CPU time (user + system) this process has used, in nanoseconds.
fn cpu_ns() -> u64 {
    // SAFETY: rusage is plain data that getrusage fills in.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

// ---------------------------------------------------------------------------
// Shared state of the single-threaded run.

/// A wake-up for one waiting task (single-threaded, so plain cells).
#[derive(Default)]
struct Signal {
    fired: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

impl Signal {
    fn notify(&self) {
        self.fired.set(true);
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// Waits until `notify` was called since the last wait returned.
    async fn wait(&self) {
        poll_fn(|cx| {
            if self.fired.replace(false) {
                Poll::Ready(())
            } else {
                self.waker.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        })
        .await
    }
}

/// What popping a message found in its producer's ledger.
#[derive(Debug, PartialEq, Eq)]
enum Pop {
    /// Pushed, and popped for the first time now.
    First,
    /// Pushed, and popped before.
    Duplicate,
    /// Never pushed.
    Unknown,
}

/// One producer's messages: which were pushed, popped and acknowledged.
#[derive(Default)]
struct Ledger {
    /// Messages pushed (the next sequence number).
    pushed: Cell<u64>,
    /// Bit `seq` is set once message `seq` was popped.
    popped: RefCell<Vec<u64>>,
    /// Distinct messages popped.
    popped_count: Cell<u64>,
    /// LPUSH replies read.
    acked: Cell<u64>,
}

impl Ledger {
    /// Records that message `seq` (the next one) is being pushed.
    fn push(&self, seq: u64) {
        debug_assert_eq!(seq, self.pushed.get());
        if seq.is_multiple_of(64) {
            self.popped.borrow_mut().push(0);
        }
        self.pushed.set(seq + 1);
    }

    /// Records a pop of message `seq`.
    fn pop(&self, seq: u64) -> Pop {
        if seq >= self.pushed.get() {
            return Pop::Unknown;
        }
        let mut popped = self.popped.borrow_mut();
        let (word, bit) = (&mut popped[(seq / 64) as usize], 1u64 << (seq % 64));
        if *word & bit != 0 {
            return Pop::Duplicate;
        }
        *word |= bit;
        self.popped_count.set(self.popped_count.get() + 1);
        Pop::First
    }

    /// Messages pushed and never popped.
    fn missing(&self) -> u64 {
        self.pushed.get() - self.popped_count.get()
    }
}

/// Error counters.
#[derive(Default, Clone, Copy)]
struct Errors {
    duplicates: u64,
    /// Replies that are not a message we pushed to the queue it came from.
    bad_frames: u64,
}

struct Stats {
    /// Latency of the messages sent in the measured period, in nanoseconds.
    latency: Histogram<u64>,
    /// Messages sent in the measured period and popped (first time).
    consumed: u64,
    /// LPUSH replies read in the measured period.
    pushes: u64,
    /// BRPOPs that timed out with a nil reply.
    empty_pops: u64,
    errors: Errors,
}

struct Shared {
    /// The measured period, in `now_ns` time.
    measure: Range<u64>,
    queues: Vec<String>,
    payload: usize,
    pipeline: u32,
    window: u64,
    ledgers: Vec<Ledger>,
    /// Messages pushed and not yet popped, over all producers.
    outstanding: Cell<u64>,
    /// Producers waiting for room in the window.
    waiting: Cell<u32>,
    /// One per producer.
    room: Vec<Signal>,
    stop: Cell<bool>,
    fatal: RefCell<Option<String>>,
    stats: RefCell<Stats>,
}

impl Shared {
    fn new(plan: &Plan, measure: Range<u64>) -> Shared {
        Shared {
            measure,
            queues: plan.queues.clone(),
            payload: plan.payload,
            pipeline: plan.pipeline,
            window: u64::from(plan.window),
            ledgers: (0..plan.producers).map(|_| Ledger::default()).collect(),
            outstanding: Cell::new(0),
            waiting: Cell::new(0),
            room: (0..plan.producers).map(|_| Signal::default()).collect(),
            stop: Cell::new(false),
            fatal: RefCell::new(None),
            stats: RefCell::new(Stats {
                // 1 ns to 60 s, 3 significant digits.
                latency: Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("bounds"),
                consumed: 0,
                pushes: 0,
                empty_pops: 0,
                errors: Errors::default(),
            }),
        }
    }

    fn measured(&self, now: u64) -> bool {
        self.measure.contains(&now)
    }

    /// Whether the window has room for another batch.
    fn has_room(&self) -> bool {
        self.outstanding.get() + u64::from(self.pipeline) <= self.window
    }

    /// Message `seq` of `producer` is being pushed.
    fn push(&self, producer: usize, seq: u64) {
        self.ledgers[producer].push(seq);
        self.outstanding.set(self.outstanding.get() + 1);
    }

    /// A pop of message `seq` of `producer`, sent at `sent`, arrived at `now`.
    fn pop(&self, producer: usize, seq: u64, sent: u64, now: u64) {
        match self.ledgers[producer].pop(seq) {
            Pop::First => {
                self.outstanding.set(self.outstanding.get() - 1);
                if self.waiting.get() > 0 && self.has_room() {
                    for room in &self.room {
                        room.notify();
                    }
                }
                if self.measured(sent) {
                    // By send time, so a message held up at the end still
                    // counts, with its whole latency, when it arrives while
                    // the queues drain.
                    let mut stats = self.stats.borrow_mut();
                    stats.consumed += 1;
                    stats.latency.saturating_record(now.saturating_sub(sent));
                }
            }
            Pop::Duplicate => self.stats.borrow_mut().errors.duplicates += 1,
            Pop::Unknown => self.stats.borrow_mut().errors.bad_frames += 1,
        }
    }

    fn bad_frame(&self) {
        self.stats.borrow_mut().errors.bad_frames += 1;
    }

    /// Ends the run early with an error (the first one is kept).
    fn set_fatal(&self, msg: String) {
        self.fatal.borrow_mut().get_or_insert(msg);
        self.stop_producing();
    }

    fn stop_producing(&self) {
        self.stop.set(true);
        for room in &self.room {
            room.notify();
        }
    }

    /// Messages pushed and never popped, over all producers.
    fn lost(&self) -> u64 {
        self.ledgers.iter().map(Ledger::missing).sum()
    }

    /// LPUSHes whose reply has not been read.
    fn unacked(&self) -> u64 {
        self.ledgers
            .iter()
            .map(|l| l.pushed.get() - l.acked.get())
            .sum()
    }
}

// ---------------------------------------------------------------------------
// Connections.

/// A connection with an incremental read buffer.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Bytes of `buf` already parsed.
    pos: usize,
}

impl Conn {
    async fn connect(addr: &str) -> Result<Conn, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("TCP_NODELAY: {e}"))?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(READ_CHUNK),
            pos: 0,
        })
    }

    async fn send(&mut self, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
        send(&mut self.stream, bytes).await
    }

    /// Reads more bytes, first dropping what was parsed.
    async fn fill(&mut self) -> Result<(), String> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos.., 0);
            self.buf.truncate(self.buf.len() - self.pos);
            self.pos = 0;
        }
        self.buf.reserve(READ_CHUNK);
        let buf = std::mem::take(&mut self.buf);
        let BufResult(res, buf) = self.stream.append(buf).await;
        self.buf = buf;
        match res {
            Ok(0) => Err("server closed the connection".to_string()),
            Ok(_) => Ok(()),
            Err(e) => Err(format!("read: {e}")),
        }
    }

    /// The next complete frame in the buffer, if any.
    fn next_frame(&mut self) -> Result<Option<resp::Frame<'_>>, String> {
        match resp::parse(&self.buf[self.pos..]) {
            Ok(Some((frame, used))) => {
                self.pos += used;
                Ok(Some(frame))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(format!("protocol error: {e}")),
        }
    }
}

/// Writes all of `bytes`, handing the buffer back for reuse.
async fn send(stream: &mut TcpStream, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    let BufResult(res, bytes) = stream.write_all(bytes).await;
    res.map_err(|e| format!("write: {e}"))?;
    Ok(bytes)
}

/// A command as a RESP array of bulk strings.
fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Deletes the queue keys, so nothing left from an earlier run is popped.
async fn clear_queues(addr: &str, queues: &[String]) -> Result<(), String> {
    let mut conn = Conn::connect(addr).await?;
    let mut args: Vec<&[u8]> = vec![b"DEL"];
    args.extend(queues.iter().map(|q| q.as_bytes()));
    conn.send(command(&args)).await?;
    loop {
        conn.fill().await?;
        match conn.next_frame()? {
            None => continue,
            Some(resp::Frame::Integer(_)) => return Ok(()),
            Some(resp::Frame::Error(e)) => {
                return Err(format!(
                    "DEL: server replied -{}",
                    String::from_utf8_lossy(e)
                ))
            }
            Some(other) => return Err(format!("DEL: unexpected reply {other:?}")),
        }
    }
}

/// Empties the queues, then connects every consumer and producer.
async fn setup(plan: &Plan) -> Result<(Vec<Conn>, Vec<Conn>), String> {
    clear_queues(&plan.addr, &plan.queues).await?;
    let mut consumers = Vec::with_capacity(plan.consumers);
    for _ in 0..plan.consumers {
        consumers.push(Conn::connect(&plan.addr).await?);
    }
    let mut producers = Vec::with_capacity(plan.producers);
    for _ in 0..plan.producers {
        producers.push(Conn::connect(&plan.addr).await?);
    }
    Ok((consumers, producers))
}

// ---------------------------------------------------------------------------
// Producers.

/// Producer `idx`'s writing side: batches of `pipeline` LPUSHes while the
/// window has room for a whole batch.
async fn push_loop(shared: Rc<Shared>, idx: usize, mut stream: TcpStream) {
    let ledger = &shared.ledgers[idx];
    let templates: Vec<Vec<u8>> = shared
        .queues
        .iter()
        .map(|q| lpush_template(q, shared.payload))
        .collect();
    let queues = templates.len();
    let largest = templates.iter().map(Vec::len).max().unwrap_or(0);
    let mut batch = Vec::with_capacity(largest * shared.pipeline as usize);
    while !shared.stop.get() {
        if !shared.has_room() {
            shared.waiting.set(shared.waiting.get() + 1);
            shared.room[idx].wait().await;
            shared.waiting.set(shared.waiting.get() - 1);
            continue;
        }
        batch.clear();
        let sent = now_ns();
        for _ in 0..shared.pipeline {
            let seq = ledger.pushed.get();
            shared.push(idx, seq);
            let template = &templates[queue_of(idx, seq, queues)];
            let at = batch.len() + template.len() - shared.payload - 2;
            batch.extend_from_slice(template);
            write_header(&mut batch[at..at + HEADER], sent, idx as u32, seq as u32);
        }
        match send(&mut stream, batch).await {
            Ok(b) => batch = b,
            Err(e) => return shared.set_fatal(format!("producer {idx}: {e}")),
        }
    }
}

/// `LPUSH queue <payload>` with a zeroed header and padding.
fn lpush_template(queue: &str, payload: usize) -> Vec<u8> {
    let mut body = vec![b'x'; payload];
    body[..HEADER].fill(0);
    command(&[b"LPUSH", queue.as_bytes(), &body])
}

fn write_header(out: &mut [u8], sent_ns: u64, producer: u32, seq: u32) {
    out[0..8].copy_from_slice(&sent_ns.to_le_bytes());
    out[8..12].copy_from_slice(&producer.to_le_bytes());
    out[12..16].copy_from_slice(&seq.to_le_bytes());
}

/// (send time, producer, sequence number) from a payload's header.
fn read_header(payload: &[u8]) -> (u64, usize, u64) {
    let u32_at = |i: usize| u32::from_le_bytes(payload[i..i + 4].try_into().unwrap());
    let sent = u64::from_le_bytes(payload[0..8].try_into().unwrap());
    (sent, u32_at(8) as usize, u64::from(u32_at(12)))
}

/// Producer `idx`'s reading side: LPUSH replies, in order, one per message.
async fn reply_loop(shared: Rc<Shared>, idx: usize, mut conn: Conn) {
    if let Err(e) = read_replies(&shared, idx, &mut conn).await {
        shared.set_fatal(format!("producer {idx}: {e}"));
    }
}

async fn read_replies(shared: &Shared, idx: usize, conn: &mut Conn) -> Result<(), String> {
    let ledger = &shared.ledgers[idx];
    loop {
        conn.fill().await?;
        let now = now_ns();
        while let Some(frame) = conn.next_frame()? {
            let length = match frame {
                resp::Frame::Integer(n) => n,
                resp::Frame::Error(e) => {
                    return Err(format!("LPUSH: -{}", String::from_utf8_lossy(e)))
                }
                other => return Err(format!("unexpected LPUSH reply {other:?}")),
            };
            if ledger.acked.get() >= ledger.pushed.get() {
                return Err("more LPUSH replies than pushes".to_string());
            }
            ledger.acked.set(ledger.acked.get() + 1);
            if length < 1 {
                // The list holds at least the element just pushed.
                shared.bad_frame();
            }
            if shared.measured(now) {
                shared.stats.borrow_mut().pushes += 1;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Consumers.

/// `BRPOP` over every queue, one command per rotation of the key order.
fn brpop_commands(queues: &[String]) -> Vec<Vec<u8>> {
    (0..queues.len())
        .map(|first| {
            let mut args: Vec<&[u8]> = vec![b"BRPOP"];
            for i in 0..queues.len() {
                args.push(queues[(first + i) % queues.len()].as_bytes());
            }
            args.push(BRPOP_TIMEOUT);
            command(&args)
        })
        .collect()
}

/// Consumer `idx`: keeps `depth` BRPOPs outstanding until the run ends.
async fn consumer_loop(shared: Rc<Shared>, idx: usize, depth: u32, mut conn: Conn) {
    if let Err(e) = consume(&shared, idx, depth, &mut conn).await {
        shared.set_fatal(format!("consumer {idx}: {e}"));
    }
}

async fn consume(shared: &Shared, idx: usize, depth: u32, conn: &mut Conn) -> Result<(), String> {
    let commands = brpop_commands(&shared.queues);
    // BRPOPs sent: the next one starts its key list at (idx + issued).
    let mut issued = idx;
    let mut out = Vec::new();
    let mut queue_brpops = |out: &mut Vec<u8>, n: usize| {
        out.clear();
        for _ in 0..n {
            out.extend_from_slice(&commands[issued % commands.len()]);
            issued += 1;
        }
    };
    queue_brpops(&mut out, depth as usize);
    out = conn.send(out).await?;
    loop {
        conn.fill().await?;
        // One receive time for everything this read brought.
        let now = now_ns();
        let mut replies = 0;
        while let Some(frame) = conn.next_frame()? {
            on_pop(shared, frame, now)?;
            replies += 1;
        }
        if replies > 0 {
            queue_brpops(&mut out, replies);
            out = conn.send(out).await?;
        }
    }
}

/// Handles one BRPOP reply received at `now`.
fn on_pop(shared: &Shared, frame: resp::Frame<'_>, now: u64) -> Result<(), String> {
    let parts = match frame {
        resp::Frame::Array(parts) => parts,
        resp::Frame::Null => {
            shared.stats.borrow_mut().empty_pops += 1;
            return Ok(());
        }
        resp::Frame::Error(e) => return Err(format!("BRPOP: -{}", String::from_utf8_lossy(e))),
        other => return Err(format!("unexpected BRPOP reply {other:?}")),
    };
    if parts.len() != 2 {
        shared.bad_frame();
        return Ok(());
    }
    let (key, payload) = (parts.get(0), parts.get(1));
    if payload.len() != shared.payload || payload[HEADER..].iter().any(|&b| b != b'x') {
        shared.bad_frame();
        return Ok(());
    }
    let (sent, producer, seq) = read_header(payload);
    if producer >= shared.ledgers.len() {
        shared.bad_frame();
        return Ok(());
    }
    if key != shared.queues[queue_of(producer, seq, shared.queues.len())].as_bytes() {
        // Popped from another queue than it was pushed to: wrong, but popped,
        // so it still settles its message.
        shared.bad_frame();
    }
    shared.pop(producer, seq, sent, now);
    Ok(())
}

// ---------------------------------------------------------------------------
// The run.

struct Report {
    seconds: f64,
    consumed: u64,
    pushes: u64,
    latency: Histogram<u64>,
    errors: Errors,
    /// Messages never popped, after the drain.
    lost: u64,
    /// LPUSH replies still missing after the drain.
    unacked: u64,
    empty_pops: u64,
    /// Share of one CPU the tool used in the measured period.
    tool_cpu: f64,
}

async fn run(plan: &Plan) -> Result<Report, String> {
    let (consumers, producers) = compio::runtime::time::timeout(SETUP_TIMEOUT, setup(plan))
        .await
        .map_err(|_| format!("setup took more than {SETUP_TIMEOUT:?}"))??;
    let start = now_ns() + WARMUP.as_nanos() as u64;
    let end = start + (plan.seconds * 1e9) as u64;
    let shared = Rc::new(Shared::new(plan, start..end));
    let streams: Vec<TcpStream> = consumers
        .iter()
        .chain(&producers)
        .map(|c| c.stream.clone())
        .collect();
    let tasks = spawn_all(&shared, plan, consumers, producers);

    sleep_until(&shared, start).await;
    let cpu_start = cpu_ns();
    sleep_until(&shared, end).await;
    let tool_cpu = (cpu_ns() - cpu_start) as f64 / (now_ns() - start) as f64;
    shared.stop_producing();
    drain(&shared).await;
    drop(tasks); // cancels the tasks still reading
    for stream in &streams {
        hang_up(stream);
    }

    if let Some(e) = shared.fatal.borrow_mut().take() {
        return Err(e);
    }
    Ok(report(&shared, plan, tool_cpu))
}

fn spawn_all(
    shared: &Rc<Shared>,
    plan: &Plan,
    consumers: Vec<Conn>,
    producers: Vec<Conn>,
) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    for (idx, conn) in consumers.into_iter().enumerate() {
        let fut = consumer_loop(shared.clone(), idx, plan.consumer_pipeline, conn);
        tasks.push(compio::runtime::spawn(fut));
    }
    for (idx, conn) in producers.into_iter().enumerate() {
        let writer = conn.stream.clone();
        tasks.push(compio::runtime::spawn(reply_loop(
            shared.clone(),
            idx,
            conn,
        )));
        tasks.push(compio::runtime::spawn(push_loop(
            shared.clone(),
            idx,
            writer,
        )));
    }
    tasks
}

/// Shuts a connection down at once. Its socket is not closed while io_uring
/// still holds a read on it, which may outlive the process for a while; a
/// consumer's BRPOP left blocked in the server meanwhile would pop, and lose,
/// a message of the next run on the same queues.
fn hang_up(stream: &TcpStream) {
    use std::os::fd::{AsFd, AsRawFd};
    // SAFETY: shutdown(2) on a socket we own; only its state changes.
    unsafe {
        libc::shutdown(stream.as_fd().as_raw_fd(), libc::SHUT_RDWR);
    }
}

/// Sleeps until `ns` (tool time), returning early if the run failed.
async fn sleep_until(shared: &Shared, ns: u64) {
    let tick = Duration::from_millis(20);
    while now_ns() < ns && shared.fatal.borrow().is_none() {
        let deadline = instant_at(ns).min(Instant::now() + tick);
        compio::runtime::time::sleep_until(deadline).await;
    }
}

/// Waits until every message pushed was popped and every LPUSH replied to, at
/// most `DRAIN`.
async fn drain(shared: &Shared) {
    let deadline = now_ns() + DRAIN.as_nanos() as u64;
    while now_ns() < deadline && shared.fatal.borrow().is_none() {
        if shared.outstanding.get() == 0 && shared.unacked() == 0 {
            return;
        }
        compio::runtime::time::sleep(Duration::from_millis(5)).await;
    }
}

fn report(shared: &Shared, plan: &Plan, tool_cpu: f64) -> Report {
    let stats = shared.stats.borrow();
    Report {
        seconds: plan.seconds,
        consumed: stats.consumed,
        pushes: stats.pushes,
        latency: stats.latency.clone(),
        errors: stats.errors,
        lost: shared.lost(),
        unacked: shared.unacked(),
        empty_pops: stats.empty_pops,
        tool_cpu,
    }
}

impl Report {
    /// Why the run failed; empty if it passed.
    fn failures(&self) -> Vec<&'static str> {
        let e = &self.errors;
        [
            (self.lost > 0, "lost messages"),
            (e.duplicates > 0, "messages popped twice"),
            (e.bad_frames > 0, "unexpected replies"),
            (self.unacked > 0, "LPUSH replies missing at the end"),
            (self.consumed == 0, "nothing consumed"),
        ]
        .into_iter()
        .filter_map(|(failed, why)| failed.then_some(why))
        .collect()
    }

    fn passed(&self) -> bool {
        self.failures().is_empty()
    }

    fn msgs_per_s(&self) -> f64 {
        self.consumed as f64 / self.seconds
    }

    fn pushes_per_s(&self) -> f64 {
        self.pushes as f64 / self.seconds
    }

    /// Latency at quantile `q`, in microseconds.
    fn us(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    fn max_us(&self) -> f64 {
        self.latency.max() as f64 / 1000.0
    }

    fn csv(&self, plan: &Plan) -> String {
        let e = &self.errors;
        format!(
            "{},{},{},{},{:.0},{:.0},{:.1},{:.1},{:.1},{:.1},{},{},{},{},{},{:.0}",
            plan.producers,
            plan.consumers,
            plan.queues.len(),
            plan.payload,
            self.msgs_per_s(),
            self.pushes_per_s(),
            self.us(0.5),
            self.us(0.99),
            self.us(0.999),
            self.max_us(),
            self.lost,
            e.duplicates,
            e.bad_frames,
            self.unacked,
            self.empty_pops,
            self.tool_cpu * 100.0,
        )
    }

    fn print(&self, plan: &Plan) {
        println!(
            "{} producer(s) -> {} consumer(s), {} queue(s); payload {} B, window {}, \
             pipeline {}, consumer pipeline {}; {} s measured after {} s warm-up",
            plan.producers,
            plan.consumers,
            plan.queues.len(),
            plan.payload,
            plan.window,
            plan.pipeline,
            plan.consumer_pipeline,
            plan.seconds,
            WARMUP.as_secs(),
        );
        println!("consumed     {:>12.0} msgs/s", self.msgs_per_s());
        println!("pushed       {:>12.0} LPUSH/s", self.pushes_per_s());
        println!(
            "latency us   p50 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}  ({} messages)",
            self.us(0.5),
            self.us(0.99),
            self.us(0.999),
            self.max_us(),
            self.latency.len(),
        );
        println!(
            "errors       lost {}, duplicates {}, bad frames {}; LPUSH replies missing at end: {}",
            self.lost, self.errors.duplicates, self.errors.bad_frames, self.unacked,
        );
        println!("empty BRPOPs {} (timed out)", self.empty_pops);
        println!("tool CPU     {:.0}% of one core", self.tool_cpu * 100.0);
        match self.failures() {
            f if f.is_empty() => println!("result       PASS"),
            f => println!("result       FAIL: {}", f.join(", ")),
        }
    }
}

// ---------------------------------------------------------------------------
// RESP2 reply parsing: just what LPUSH and BRPOP need.

mod resp {
    use std::fmt;

    /// Most elements in an array we accept (a BRPOP reply has 2).
    const MAX_PARTS: usize = 2;

    /// The elements of an array of bulk strings (integers kept as their digits).
    #[derive(Clone, Copy)]
    pub struct Parts<'a> {
        items: [&'a [u8]; MAX_PARTS],
        len: usize,
    }

    impl<'a> Parts<'a> {
        pub fn len(&self) -> usize {
            self.len
        }

        pub fn get(&self, i: usize) -> &'a [u8] {
            self.items[..self.len][i]
        }
    }

    impl fmt::Debug for Parts<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_list()
                .entries(
                    self.items[..self.len]
                        .iter()
                        .map(|p| String::from_utf8_lossy(p)),
                )
                .finish()
        }
    }

    pub enum Frame<'a> {
        /// `*` of bulk strings and integers.
        Array(Parts<'a>),
        /// `*-1`: BRPOP timed out.
        Null,
        Integer(i64),
        Simple(&'a [u8]),
        Error(&'a [u8]),
    }

    /// For error messages: the frame as redis-cli would show it, roughly.
    impl fmt::Debug for Frame<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                Frame::Array(parts) => write!(f, "{parts:?}"),
                Frame::Null => write!(f, "(nil)"),
                Frame::Integer(n) => write!(f, ":{n}"),
                Frame::Simple(s) => write!(f, "+{}", String::from_utf8_lossy(s)),
                Frame::Error(e) => write!(f, "-{}", String::from_utf8_lossy(e)),
            }
        }
    }

    /// The first complete frame in `buf` and the bytes it takes, `None` if
    /// `buf` holds only part of one.
    pub fn parse(buf: &[u8]) -> Result<Option<(Frame<'_>, usize)>, String> {
        let Some((line, mut at)) = line(buf, 0) else {
            return Ok(None);
        };
        let (kind, rest) = line.split_first().ok_or("empty line")?;
        let frame = match kind {
            b'+' => Frame::Simple(rest),
            b'-' => Frame::Error(rest),
            b':' => Frame::Integer(int(rest)?),
            b'*' => {
                let n = int(rest)?;
                if n == -1 {
                    return Ok(Some((Frame::Null, at)));
                }
                let n = usize::try_from(n).map_err(|_| format!("array of {n} elements"))?;
                if n > MAX_PARTS {
                    return Err(format!("array of {n} elements"));
                }
                let mut parts = Parts {
                    items: [&[]; MAX_PARTS],
                    len: n,
                };
                for item in parts.items.iter_mut().take(n) {
                    match element(buf, at)? {
                        Some((value, next)) => (*item, at) = (value, next),
                        None => return Ok(None),
                    }
                }
                Frame::Array(parts)
            }
            b'$' => return Err("bulk string reply".to_string()),
            other => return Err(format!("unexpected type byte {:?}", *other as char)),
        };
        Ok(Some((frame, at)))
    }

    /// An array element at `at`: a bulk string, or an integer's digits.
    fn element(buf: &[u8], at: usize) -> Result<Option<(&[u8], usize)>, String> {
        let Some((line, next)) = line(buf, at) else {
            return Ok(None);
        };
        match line.split_first() {
            Some((b':', digits)) => Ok(Some((digits, next))),
            Some((b'$', len)) => {
                let len = usize::try_from(int(len)?).map_err(|_| "null bulk string")?;
                let end = next + len;
                if buf.len() < end + 2 {
                    return Ok(None);
                }
                if &buf[end..end + 2] != b"\r\n" {
                    return Err("bulk string not ended by CRLF".to_string());
                }
                Ok(Some((&buf[next..end], end + 2)))
            }
            _ => Err("array element is not a bulk string or integer".to_string()),
        }
    }

    /// The line starting at `at` (without CRLF) and where the next one starts.
    fn line(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
        let nl = buf.get(at..)?.iter().position(|&b| b == b'\n')? + at;
        let end = if nl > at && buf[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        Some((&buf[at..end], nl + 1))
    }

    fn int(text: &[u8]) -> Result<i64, String> {
        let bad = || format!("bad integer {:?}", String::from_utf8_lossy(text));
        let (negative, digits) = match text.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, text),
        };
        if digits.is_empty() || digits.len() > 18 {
            return Err(bad());
        }
        let mut n: i64 = 0;
        for &d in digits {
            if !d.is_ascii_digit() {
                return Err(bad());
            }
            n = n * 10 + i64::from(d - b'0');
        }
        Ok(if negative { -n } else { n })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn parts(buf: &[u8]) -> (Vec<Vec<u8>>, usize) {
            match parse(buf).unwrap() {
                Some((Frame::Array(p), used)) => {
                    ((0..p.len()).map(|i| p.get(i).to_vec()).collect(), used)
                }
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn brpop_reply_and_timeout() {
            let msg = b"*2\r\n$12\r\nqueue-load:0\r\n$5\r\nh\r\nlo\r\n";
            let (p, used) = parts(msg);
            assert_eq!(p, [&b"queue-load:0"[..], b"h\r\nlo"]);
            assert_eq!(used, msg.len());
            let Some((Frame::Null, 5)) = parse(b"*-1\r\n:1\r\n").unwrap() else {
                panic!()
            };
        }

        #[test]
        fn every_prefix_is_incomplete() {
            let msg = b"*2\r\n$12\r\nqueue-load:0\r\n$5\r\nhello\r\n";
            for n in 0..msg.len() {
                assert!(parse(&msg[..n]).unwrap().is_none(), "prefix {n}");
            }
        }

        #[test]
        fn several_frames_in_one_buffer() {
            let buf = b":3\r\n-ERR no\r\n+OK\r\n:";
            let Some((Frame::Integer(3), a)) = parse(buf).unwrap() else {
                panic!()
            };
            let Some((Frame::Error(b"ERR no"), b)) = parse(&buf[a..]).unwrap() else {
                panic!()
            };
            let Some((Frame::Simple(b"OK"), c)) = parse(&buf[a + b..]).unwrap() else {
                panic!()
            };
            assert!(parse(&buf[a + b + c..]).unwrap().is_none());
        }

        #[test]
        fn integers() {
            assert_eq!(int(b"0").unwrap(), 0);
            assert_eq!(int(b"-12").unwrap(), -12);
            assert_eq!(int(b"100").unwrap(), 100);
            for bad in [&b""[..], b"-", b"1x", b"+1", b"1234567890123456789"] {
                assert!(int(bad).is_err());
            }
        }

        #[test]
        fn rejects_what_lpush_and_brpop_never_send() {
            assert!(parse(b"$3\r\nabc\r\n").is_err());
            assert!(parse(b"*3\r\n").is_err());
            assert!(parse(b"*-2\r\n").is_err());
            assert!(parse(b"*1\r\n*1\r\n").is_err());
            assert!(parse(b"*1\r\n$-1\r\n").is_err());
            assert!(parse(b"*1\r\n$3\r\nabcd\r\n").is_err());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let mut payload = lpush_template("q", 20);
        let at = payload.len() - 22;
        write_header(&mut payload[at..at + HEADER], 123_456_789, 7, 42);
        assert_eq!(read_header(&payload[at..]), (123_456_789, 7, 42));
    }

    fn test_plan(args: &[&str]) -> Plan {
        let argv = ["queue-load"].iter().chain(args);
        Plan::new(&Args::try_parse_from(argv).unwrap())
    }

    /// A BRPOP reply for message `seq` of `producer`, sent at `sent`, from
    /// the queue it was pushed to (or `key`).
    fn pop_reply(
        shared: &Shared,
        producer: u32,
        seq: u32,
        sent: u64,
        key: Option<&str>,
    ) -> Vec<u8> {
        let mut payload = vec![b'x'; shared.payload];
        write_header(&mut payload[..HEADER], sent, producer, seq);
        let queue = queue_of(producer as usize, u64::from(seq), shared.queues.len());
        let key = key.unwrap_or(&shared.queues[queue]);
        let mut out =
            format!("*2\r\n${}\r\n{key}\r\n${}\r\n", key.len(), payload.len()).into_bytes();
        out.extend_from_slice(&payload);
        out.extend_from_slice(b"\r\n");
        out
    }

    fn deliver(shared: &Shared, reply: &[u8], now: u64) {
        let (frame, used) = resp::parse(reply).unwrap().unwrap();
        assert_eq!(used, reply.len());
        on_pop(shared, frame, now).unwrap();
    }

    #[test]
    fn defaults_and_queue_names() {
        let plan = test_plan(&[]);
        assert_eq!((plan.producers, plan.consumers), (4, 4));
        assert_eq!(plan.queues, ["queue-load:0"]);
        assert_eq!(
            (plan.window, plan.pipeline, plan.consumer_pipeline),
            (1000, 8, 1)
        );
        let plan = test_plan(&["--queues", "3"]);
        assert_eq!(plan.queues[2], "queue-load:2");
    }

    #[test]
    fn every_producer_feeds_every_queue() {
        for producer in 0..3 {
            let queues: std::collections::HashSet<_> =
                (0..8).map(|seq| queue_of(producer, seq, 8)).collect();
            assert_eq!(queues.len(), 8);
        }
        assert_eq!(queue_of(5, 1_000_000, 1), 0);
    }

    #[test]
    fn brpop_key_order_rotates() {
        let queues: Vec<String> = (0..3).map(|i| format!("q{i}")).collect();
        let cmds = brpop_commands(&queues);
        assert_eq!(cmds.len(), 3);
        let text = |c: &[u8]| String::from_utf8(c.to_vec()).unwrap();
        assert_eq!(
            text(&cmds[1]),
            "*5\r\n$5\r\nBRPOP\r\n$2\r\nq1\r\n$2\r\nq2\r\n$2\r\nq0\r\n$1\r\n1\r\n"
        );
    }

    #[test]
    fn ledger_counts_each_message_once() {
        let ledger = Ledger::default();
        for seq in 0..130 {
            ledger.push(seq);
        }
        assert_eq!(ledger.pop(129), Pop::First);
        assert_eq!(ledger.pop(0), Pop::First);
        assert_eq!(ledger.pop(0), Pop::Duplicate);
        assert_eq!(ledger.pop(130), Pop::Unknown);
        assert_eq!(ledger.missing(), 128);
    }

    #[test]
    fn pops_settle_the_window_and_count_by_send_time() {
        let plan = test_plan(&[
            "--producers",
            "2",
            "--queues",
            "2",
            "--window",
            "8",
            "--pipeline",
            "4",
        ]);
        let shared = Shared::new(&plan, 100..1000);
        for seq in 0..4 {
            shared.push(0, seq);
            shared.push(1, seq);
        }
        assert!(!shared.has_room());
        // Sent during the warm-up: settles, but is not measured.
        deliver(&shared, &pop_reply(&shared, 0, 0, 50, None), 150);
        for seq in 1..4 {
            deliver(&shared, &pop_reply(&shared, 0, seq, 200, None), 300);
        }
        assert!(shared.has_room());
        // Twice, from the wrong queue, never pushed, unknown producer.
        deliver(&shared, &pop_reply(&shared, 0, 2, 200, None), 300);
        deliver(
            &shared,
            &pop_reply(&shared, 1, 0, 200, Some("queue-load:0")),
            300,
        );
        deliver(&shared, &pop_reply(&shared, 1, 9, 200, None), 300);
        deliver(
            &shared,
            &pop_reply(&shared, 2, 0, 200, Some("queue-load:0")),
            300,
        );
        deliver(&shared, b"*-1\r\n", 300);
        let stats = shared.stats.borrow();
        assert_eq!(stats.consumed, 4, "3 of producer 0, 1 of producer 1");
        assert_eq!(stats.latency.len(), 4);
        assert_eq!(stats.latency.max(), 100);
        assert_eq!(stats.errors.duplicates, 1);
        assert_eq!(stats.errors.bad_frames, 3);
        assert_eq!(stats.empty_pops, 1);
        assert_eq!(shared.outstanding.get(), 3);
        assert_eq!(shared.lost(), 3);
        assert_eq!(shared.unacked(), 8);
    }

    #[test]
    fn corrupted_payload_is_a_bad_frame() {
        let plan = test_plan(&[]);
        let shared = Shared::new(&plan, 0..1000);
        shared.push(0, 0);
        let mut reply = pop_reply(&shared, 0, 0, 10, None);
        let n = reply.len();
        reply[n - 3] = b'y';
        deliver(&shared, &reply, 20);
        assert_eq!(shared.stats.borrow().errors.bad_frames, 1);
        assert_eq!(shared.lost(), 1);
    }
}
