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

#[path = "../loadgen.rs"]
mod loadgen;

use std::cell::{Cell, RefCell};
use std::ops::Range;
use std::rc::Rc;

use clap::Parser;
use compio::net::TcpStream;
use compio::runtime::JoinHandle;
use hdrhistogram::Histogram;

use loadgen::resp::{self, Grammar};
use loadgen::{now_ns, Conn, Measured, Outcome, Run, Signal, Template, HEADER, WARMUP};

/// The replies LPUSH and BRPOP bring: at most 2 elements (key and value),
/// and `*-1` when a BRPOP times out.
static REPLIES: Grammar = Grammar {
    max_parts: 2,
    pushes: false,
    null_array: true,
};
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
    loadgen::check_args::<Args>(args.pipeline, args.window, args.seconds);
    now_ns(); // starts the clock
    let plan = Plan::new(&args);
    loadgen::run_and_exit(&plan, args.csv, run(&plan));
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
// Shared state of the single-threaded run.

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
    run: Run,
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
    stats: RefCell<Stats>,
}

impl Shared {
    fn new(plan: &Plan, measure: Range<u64>) -> Shared {
        Shared {
            run: Run::new(measure),
            queues: plan.queues.clone(),
            payload: plan.payload,
            pipeline: plan.pipeline,
            window: u64::from(plan.window),
            ledgers: (0..plan.producers).map(|_| Ledger::default()).collect(),
            outstanding: Cell::new(0),
            waiting: Cell::new(0),
            room: (0..plan.producers).map(|_| Signal::default()).collect(),
            stats: RefCell::new(Stats {
                latency: loadgen::latency_histogram(),
                consumed: 0,
                pushes: 0,
                empty_pops: 0,
                errors: Errors::default(),
            }),
        }
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
                if self.run.measured(sent) {
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
        self.run.fail(msg, &self.room);
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

/// Deletes the queue keys, so nothing left from an earlier run is popped.
async fn clear_queues(addr: &str, queues: &[String]) -> Result<(), String> {
    let mut conn = Conn::connect(addr, &REPLIES).await?;
    let mut args: Vec<&[u8]> = vec![b"DEL"];
    args.extend(queues.iter().map(|q| q.as_bytes()));
    conn.request(loadgen::command(&args), "DEL", |frame| {
        matches!(frame, resp::Frame::Integer(_))
    })
    .await
}

/// Empties the queues, then connects every consumer and producer.
async fn setup(plan: &Plan) -> Result<(Vec<Conn>, Vec<Conn>), String> {
    clear_queues(&plan.addr, &plan.queues).await?;
    let mut consumers = Vec::with_capacity(plan.consumers);
    for _ in 0..plan.consumers {
        consumers.push(Conn::connect(&plan.addr, &REPLIES).await?);
    }
    let mut producers = Vec::with_capacity(plan.producers);
    for _ in 0..plan.producers {
        producers.push(Conn::connect(&plan.addr, &REPLIES).await?);
    }
    Ok((consumers, producers))
}

// ---------------------------------------------------------------------------
// Producers.

/// Producer `idx`'s writing side: batches of `pipeline` LPUSHes while the
/// window has room for a whole batch.
async fn push_loop(shared: Rc<Shared>, idx: usize, mut stream: TcpStream) {
    let ledger = &shared.ledgers[idx];
    let templates: Vec<Template> = shared
        .queues
        .iter()
        .map(|q| Template::new(b"LPUSH", q, shared.payload))
        .collect();
    let queues = templates.len();
    let largest = templates.iter().map(Template::size).max().unwrap_or(0);
    let mut batch = Vec::with_capacity(largest * shared.pipeline as usize);
    while !shared.run.stopped() {
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
            templates[queue_of(idx, seq, queues)].append(&mut batch, sent, idx as u32, seq as u32);
        }
        match loadgen::send(&mut stream, batch).await {
            Ok(b) => batch = b,
            Err(e) => return shared.set_fatal(format!("producer {idx}: {e}")),
        }
    }
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
        conn.read_frames(|frame, now| {
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
            if shared.run.measured(now) {
                shared.stats.borrow_mut().pushes += 1;
            }
            Ok(())
        })
        .await?;
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
            loadgen::command(&args)
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
        let replies = conn
            .read_frames(|frame, now| on_pop(shared, frame, now))
            .await?;
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
    let (sent, producer, seq) = loadgen::read_header(payload);
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
    measured: Measured,
    consumed: u64,
    pushes: u64,
    errors: Errors,
    /// Messages never popped, after the drain.
    lost: u64,
    /// LPUSH replies still missing after the drain.
    unacked: u64,
    empty_pops: u64,
}

async fn run(plan: &Plan) -> Result<Report, String> {
    let (consumers, producers) = loadgen::set_up(setup(plan)).await?;
    let shared = Rc::new(Shared::new(plan, loadgen::measured_period(plan.seconds)));
    let streams: Vec<TcpStream> = consumers
        .iter()
        .chain(&producers)
        .map(|c| c.stream.clone())
        .collect();
    let tasks = spawn_all(&shared, plan, consumers, producers);
    // Drained once every message pushed was popped and every LPUSH replied to.
    let drained = || shared.outstanding.get() == 0 && shared.unacked() == 0;
    let tool_cpu = shared.run.measure(&shared.room, drained).await;
    drop(tasks); // cancels the tasks still reading
    for stream in &streams {
        hang_up(stream);
    }
    Ok(report(&shared, plan, tool_cpu?))
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

fn report(shared: &Shared, plan: &Plan, tool_cpu: f64) -> Report {
    let stats = shared.stats.borrow();
    Report {
        measured: Measured {
            seconds: plan.seconds,
            latency: stats.latency.clone(),
            tool_cpu,
        },
        consumed: stats.consumed,
        pushes: stats.pushes,
        errors: stats.errors,
        lost: shared.lost(),
        unacked: shared.unacked(),
        empty_pops: stats.empty_pops,
    }
}

impl Outcome for Report {
    type Plan = Plan;

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

    fn csv(&self, plan: &Plan) -> String {
        let e = &self.errors;
        self.measured.csv(
            &[
                &plan.producers,
                &plan.consumers,
                &plan.queues.len(),
                &plan.payload,
            ],
            [self.consumed, self.pushes],
            &[
                self.lost,
                e.duplicates,
                e.bad_frames,
                self.unacked,
                self.empty_pops,
            ],
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
        println!(
            "consumed     {:>12.0} msgs/s",
            self.measured.per_s(self.consumed)
        );
        println!(
            "pushed       {:>12.0} LPUSH/s",
            self.measured.per_s(self.pushes)
        );
        self.measured.print_latency("messages");
        println!(
            "errors       lost {}, duplicates {}, bad frames {}; LPUSH replies missing at end: {}",
            self.lost, self.errors.duplicates, self.errors.bad_frames, self.unacked,
        );
        println!("empty BRPOPs {} (timed out)", self.empty_pops);
        self.measured.print_verdict(&self.failures());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loadgen::resp::{assert_prefixes_incomplete, parse, parts};
    use loadgen::write_header;

    #[test]
    fn brpop_reply_and_timeout() {
        let msg = b"*2\r\n$12\r\nqueue-load:0\r\n$5\r\nh\r\nlo\r\n";
        let (p, used) = parts(msg, &REPLIES);
        assert_eq!(p, [&b"queue-load:0"[..], b"h\r\nlo"]);
        assert_eq!(used, msg.len());
        let Some((resp::Frame::Null, 5)) = parse(b"*-1\r\n:1\r\n", &REPLIES).unwrap() else {
            panic!()
        };
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let msg = b"*2\r\n$12\r\nqueue-load:0\r\n$5\r\nhello\r\n";
        assert_prefixes_incomplete(msg, &REPLIES);
    }

    #[test]
    fn rejects_what_lpush_and_brpop_never_send() {
        assert!(parse(b"$3\r\nabc\r\n", &REPLIES).is_err());
        assert!(parse(b"*3\r\n", &REPLIES).is_err());
        assert!(parse(b"*-2\r\n", &REPLIES).is_err());
        assert!(parse(b"*1\r\n*1\r\n", &REPLIES).is_err());
        assert!(parse(b"*1\r\n$-1\r\n", &REPLIES).is_err());
        assert!(parse(b"*1\r\n$3\r\nabcd\r\n", &REPLIES).is_err());
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
        let (frame, used) = parse(reply, &REPLIES).unwrap().unwrap();
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
