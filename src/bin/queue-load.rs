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
//!
//! # Streams
//!
//! With `--kind stream` the queues are streams: producers send `XADD key *
//! d <payload>`, each stream gets the consumer group `--group` (created, after
//! the key is deleted, with `XGROUP CREATE key group $ MKSTREAM`), and
//! consumer `i` loops on `XREADGROUP GROUP group c<i> COUNT --count BLOCK
//! 1000 STREAMS key... > ...` over every stream, acknowledging what each reply
//! brought with one `XACK` per stream, sent with its next XREADGROUP. A
//! message is consumed, and settles in the window, when an XREADGROUP
//! delivers it; its latency runs from its XADD to that delivery. Checked on
//! top of the list checks: that each XADD reply is an entry ID, that each
//! XACK acknowledges every ID it names, and, after the drain, that `XPENDING`
//! counts no entry delivered and never acknowledged.

#[path = "../loadgen.rs"]
mod loadgen;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::ops::Range;
use std::rc::Rc;

use clap::{Parser, ValueEnum};
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
/// The XREADGROUP BLOCK timeout, in milliseconds (as BRPOP's).
const XREAD_BLOCK: &[u8] = b"1000";
/// The field of a stream entry that holds the message.
const FIELD: &[u8] = b"d";

/// What the queues are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Kind {
    /// Lists: LPUSH, BRPOP.
    List,
    /// Streams: XADD, XREADGROUP and XACK in one consumer group.
    Stream,
}

impl Kind {
    /// The command producers send.
    fn push_command(self) -> &'static str {
        match self {
            Kind::List => "LPUSH",
            Kind::Stream => "XADD",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Kind::List => "list",
            Kind::Stream => "stream",
        }
    }

    /// The command consumers wait in.
    fn pop_command(self) -> &'static str {
        match self {
            Kind::List => "BRPOP",
            Kind::Stream => "XREADGROUP",
        }
    }
}

/// Closed-loop queue load: LPUSH producers and BRPOP consumers (or XADD
/// producers and XREADGROUP consumers), push-to-pop latency, throughput, and
/// exactly-once checks.
#[derive(Parser, Debug)]
#[command(name = "queue-load")]
struct Args {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = 6379)]
    port: u16,
    /// Lists (LPUSH / BRPOP) or streams (XADD / XREADGROUP + XACK).
    #[arg(long, value_enum, default_value_t = Kind::List)]
    kind: Kind,
    /// Producer connections (LPUSH or XADD).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    producers: u32,
    /// Consumer connections (BRPOP or XREADGROUP over every queue).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    consumers: u32,
    /// Queues (list or stream keys queue-load:0, queue-load:1, ...).
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
    /// BRPOPs (XREADGROUPs) each consumer keeps outstanding.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    consumer_pipeline: u32,
    /// Streams: the consumer group.
    #[arg(long, default_value = "queue-load")]
    group: String,
    /// Streams: most entries one XREADGROUP brings (COUNT).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    count: u32,
    /// Print one CSV line instead, with the fields: producers, consumers,
    /// queues, payload, msgs_per_s, pushes_per_s, p50_us, p99_us, p999_us,
    /// max_us, lost, duplicates, bad_frames, unacked, empty_pops, pending
    /// (streams: entries never acknowledged; 0 for lists), tool_cpu_pct.
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
    kind: Kind,
    addr: String,
    producers: usize,
    consumers: usize,
    /// The queue keys.
    queues: Vec<String>,
    payload: usize,
    window: u32,
    pipeline: u32,
    consumer_pipeline: u32,
    group: String,
    count: u32,
    seconds: f64,
}

impl Plan {
    fn new(args: &Args) -> Plan {
        Plan {
            kind: args.kind,
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
            group: args.group.clone(),
            count: args.count,
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
    /// LPUSH (XADD) replies read.
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
    /// Replies that are not a message we pushed to the queue it came from
    /// (or an XACK that did not acknowledge every ID it named).
    bad_frames: u64,
}

struct Stats {
    /// Latency of the messages sent in the measured period, in nanoseconds.
    latency: Histogram<u64>,
    /// Messages sent in the measured period and popped (first time).
    consumed: u64,
    /// LPUSH (XADD) replies read in the measured period.
    pushes: u64,
    /// BRPOPs (XREADGROUPs) that timed out with a nil reply.
    empty_pops: u64,
    errors: Errors,
}

struct Shared {
    run: Run,
    kind: Kind,
    queues: Vec<String>,
    /// Streams: the consumer group, and COUNT of each XREADGROUP.
    group: String,
    count: u32,
    payload: usize,
    pipeline: u32,
    window: u64,
    ledgers: Vec<Ledger>,
    /// Messages pushed and not yet popped, over all producers.
    outstanding: Cell<u64>,
    /// Streams: entry IDs in XACKs sent and not yet replied to.
    acks_outstanding: Cell<u64>,
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
            kind: plan.kind,
            queues: plan.queues.clone(),
            group: plan.group.clone(),
            count: plan.count,
            payload: plan.payload,
            pipeline: plan.pipeline,
            window: u64::from(plan.window),
            ledgers: (0..plan.producers).map(|_| Ledger::default()).collect(),
            outstanding: Cell::new(0),
            acks_outstanding: Cell::new(0),
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

    /// A message with `payload` came from queue `key` at `now`.
    fn deliver(&self, key: &[u8], payload: &[u8], now: u64) {
        if payload.len() != self.payload || payload[HEADER..].iter().any(|&b| b != b'x') {
            return self.bad_frame();
        }
        let (sent, producer, seq) = loadgen::read_header(payload);
        if producer >= self.ledgers.len() {
            return self.bad_frame();
        }
        if key != self.queues[queue_of(producer, seq, self.queues.len())].as_bytes() {
            // Popped from another queue than it was pushed to: wrong, but
            // popped, so it still settles its message.
            self.bad_frame();
        }
        self.pop(producer, seq, sent, now);
    }

    /// Ends the run early with an error (the first one is kept).
    fn set_fatal(&self, msg: String) {
        self.run.fail(msg, &self.room);
    }

    /// Messages pushed and never popped, over all producers.
    fn lost(&self) -> u64 {
        self.ledgers.iter().map(Ledger::missing).sum()
    }

    /// LPUSHes (XADDs) whose reply has not been read, and entry IDs in
    /// XACKs whose reply has not been read.
    fn unacked(&self) -> u64 {
        let pushes: u64 = self
            .ledgers
            .iter()
            .map(|l| l.pushed.get() - l.acked.get())
            .sum();
        pushes + self.acks_outstanding.get()
    }
}

// ---------------------------------------------------------------------------
// Connections.

/// Deletes the queue keys, so nothing left from an earlier run is popped;
/// gives each stream its consumer group.
async fn clear_queues(plan: &Plan) -> Result<(), String> {
    let mut conn = Conn::connect(&plan.addr, &REPLIES).await?;
    let mut args: Vec<&[u8]> = vec![b"DEL"];
    args.extend(plan.queues.iter().map(|q| q.as_bytes()));
    conn.request(loadgen::command(&args), "DEL", |frame| {
        matches!(frame, resp::Frame::Integer(_))
    })
    .await?;
    if plan.kind == Kind::Stream {
        for q in &plan.queues {
            let cmd = loadgen::command(&[
                b"XGROUP",
                b"CREATE",
                q.as_bytes(),
                plan.group.as_bytes(),
                b"$",
                b"MKSTREAM",
            ]);
            conn.request(cmd, "XGROUP CREATE", |frame| {
                matches!(frame, resp::Frame::Simple(b"OK"))
            })
            .await?;
        }
    }
    Ok(())
}

/// Empties the queues, then connects every consumer and producer.
async fn setup(plan: &Plan) -> Result<(Vec<Conn>, Vec<Conn>), String> {
    clear_queues(plan).await?;
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

/// The command that pushes a message to `queue`.
fn push_template(kind: Kind, queue: &str, payload: usize) -> Template {
    match kind {
        Kind::List => Template::new(&[b"LPUSH", queue.as_bytes()], payload),
        Kind::Stream => Template::new(&[b"XADD", queue.as_bytes(), b"*", FIELD], payload),
    }
}

/// Producer `idx`'s writing side: batches of `pipeline` LPUSHes (XADDs)
/// while the window has room for a whole batch.
async fn push_loop(shared: Rc<Shared>, idx: usize, mut stream: TcpStream) {
    let ledger = &shared.ledgers[idx];
    let templates: Vec<Template> = shared
        .queues
        .iter()
        .map(|q| push_template(shared.kind, q, shared.payload))
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

/// Producer `idx`'s reading side: LPUSH (XADD) replies, in order, one per
/// message.
async fn reply_loop(shared: Rc<Shared>, idx: usize, mut conn: Conn) {
    if let Err(e) = read_replies(&shared, idx, &mut conn).await {
        shared.set_fatal(format!("producer {idx}: {e}"));
    }
}

async fn read_replies(shared: &Shared, idx: usize, conn: &mut Conn) -> Result<(), String> {
    let ledger = &shared.ledgers[idx];
    let cmd = shared.kind.push_command();
    loop {
        read_values(conn, |reply, now| {
            let good = push_reply_ok(shared.kind, reply)?;
            if ledger.acked.get() >= ledger.pushed.get() {
                return Err(format!("more {cmd} replies than pushes"));
            }
            ledger.acked.set(ledger.acked.get() + 1);
            if !good {
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

/// Whether a push's reply says what it should: for LPUSH a list length of at
/// least 1 (the element just pushed), for XADD an entry ID. An error reply,
/// or one of another type, ends the run.
fn push_reply_ok(kind: Kind, reply: Value<'_>) -> Result<bool, String> {
    match (kind, reply) {
        (Kind::List, Value::Integer(n)) => Ok(n >= 1),
        (Kind::Stream, Value::Bulk(id)) => Ok(is_entry_id(id)),
        (_, Value::Error(e)) => Err(format!(
            "{}: -{}",
            kind.push_command(),
            String::from_utf8_lossy(e)
        )),
        (_, other) => Err(format!(
            "unexpected {} reply {other:?}",
            kind.push_command()
        )),
    }
}

/// Whether `id` is a stream entry ID, `<ms>-<seq>`.
fn is_entry_id(id: &[u8]) -> bool {
    let number = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    match std::str::from_utf8(id).ok().and_then(|s| s.split_once('-')) {
        Some((ms, seq)) => number(ms) && number(seq),
        None => false,
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

/// Consumer `idx`: keeps `depth` BRPOPs (XREADGROUPs) outstanding until the
/// run ends.
async fn consumer_loop(shared: Rc<Shared>, idx: usize, depth: u32, mut conn: Conn) {
    let result = match shared.kind {
        Kind::List => consume(&shared, idx, depth, &mut conn).await,
        Kind::Stream => consume_stream(&shared, idx, depth, &mut conn).await,
    };
    if let Err(e) = result {
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
    shared.deliver(parts.get(0), parts.get(1), now);
    Ok(())
}

// ---------------------------------------------------------------------------
// Stream consumers.

/// Consumer `idx` of a stream run: keeps `depth` XREADGROUPs outstanding,
/// each reply's XACKs sent with the next one.
async fn consume_stream(
    shared: &Shared,
    idx: usize,
    depth: u32,
    conn: &mut Conn,
) -> Result<(), String> {
    let mut consumer = StreamConsumer::new(shared, idx);
    let mut out = Vec::new();
    for _ in 0..depth {
        consumer.read(&mut out);
    }
    out = conn.send(out).await?;
    loop {
        out.clear();
        read_values(conn, |reply, now| {
            consumer.on_reply(shared, reply, now, &mut out)
        })
        .await?;
        if !out.is_empty() {
            out = conn.send(out).await?;
        }
    }
}

/// A reply a stream consumer waits for.
#[derive(Debug, PartialEq, Eq)]
enum Expect {
    Read,
    /// An XACK of this many IDs.
    Ack(u64),
}

/// A stream consumer's side of the protocol: the commands it sends and the
/// replies it waits for, in order.
struct StreamConsumer {
    group: Vec<u8>,
    /// `XREADGROUP GROUP group c<idx> COUNT n BLOCK ms STREAMS key... > ...`
    read: Vec<u8>,
    expect: VecDeque<Expect>,
}

impl StreamConsumer {
    fn new(shared: &Shared, idx: usize) -> StreamConsumer {
        let name = format!("c{idx}");
        let count = shared.count.to_string();
        let mut args: Vec<&[u8]> = vec![
            b"XREADGROUP",
            b"GROUP",
            shared.group.as_bytes(),
            name.as_bytes(),
            b"COUNT",
            count.as_bytes(),
            b"BLOCK",
            XREAD_BLOCK,
            b"STREAMS",
        ];
        args.extend(shared.queues.iter().map(|q| q.as_bytes()));
        args.extend(shared.queues.iter().map(|_| &b">"[..]));
        StreamConsumer {
            group: shared.group.as_bytes().to_vec(),
            read: loadgen::command(&args),
            expect: VecDeque::new(),
        }
    }

    /// Appends an XREADGROUP to `out`.
    fn read(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.read);
        self.expect.push_back(Expect::Read);
    }

    /// Handles the next reply, received at `now`; appends to `out` what to
    /// send in answer.
    fn on_reply(
        &mut self,
        shared: &Shared,
        reply: Value<'_>,
        now: u64,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        let what = self.expect.pop_front().ok_or("a reply to no command")?;
        let cmd = match what {
            Expect::Read => "XREADGROUP",
            Expect::Ack(_) => "XACK",
        };
        match (what, reply) {
            (_, Value::Error(e)) => Err(format!("{cmd}: -{}", String::from_utf8_lossy(e))),
            (Expect::Read, Value::Null) => {
                shared.stats.borrow_mut().empty_pops += 1;
                self.read(out);
                Ok(())
            }
            (Expect::Read, Value::Array(streams)) => {
                for stream in &streams {
                    self.on_stream(shared, stream, now, out);
                }
                self.read(out);
                Ok(())
            }
            (Expect::Ack(n), Value::Integer(acked)) => {
                shared
                    .acks_outstanding
                    .set(shared.acks_outstanding.get() - n);
                if u64::try_from(acked) != Ok(n) {
                    shared.bad_frame();
                }
                Ok(())
            }
            (_, other) => Err(format!("unexpected {cmd} reply {other:?}")),
        }
    }

    /// Delivers the entries of one stream of an XREADGROUP reply, `[key,
    /// [[id, [field, value]], ...]]`, and appends the XACK of their IDs.
    fn on_stream(&mut self, shared: &Shared, stream: &Value<'_>, now: u64, out: &mut Vec<u8>) {
        let Value::Array(pair) = stream else {
            return shared.bad_frame();
        };
        let [Value::Bulk(key), Value::Array(entries)] = &pair[..] else {
            return shared.bad_frame();
        };
        let mut args: Vec<&[u8]> = vec![b"XACK", key, &self.group];
        for entry in entries {
            let Value::Array(entry) = entry else {
                shared.bad_frame();
                continue;
            };
            match &entry[..] {
                [Value::Bulk(id), Value::Array(fields)] => {
                    args.push(id);
                    match &fields[..] {
                        [Value::Bulk(FIELD), Value::Bulk(payload)] => {
                            shared.deliver(key, payload, now)
                        }
                        _ => shared.bad_frame(),
                    }
                }
                _ => shared.bad_frame(),
            }
        }
        let ids = args.len() as u64 - 3;
        if ids > 0 {
            out.extend_from_slice(&loadgen::command(&args));
            self.expect.push_back(Expect::Ack(ids));
            shared
                .acks_outstanding
                .set(shared.acks_outstanding.get() + ids);
        } else {
            shared.bad_frame(); // a stream listed with no entries
        }
    }
}

/// Entries delivered to the consumer group and never acknowledged, summed
/// over the streams (`XPENDING key group`).
async fn pending_entries(plan: &Plan) -> Result<u64, String> {
    let mut conn = Conn::connect(&plan.addr, &REPLIES).await?;
    let mut total = 0;
    for q in &plan.queues {
        let cmd = loadgen::command(&[b"XPENDING", q.as_bytes(), plan.group.as_bytes()]);
        conn.send(cmd).await?;
        let mut count = None;
        while count.is_none() {
            read_values(&mut conn, |reply, _| {
                count = Some(pending_count(reply)?);
                Ok(())
            })
            .await?;
        }
        total += count.unwrap_or(0);
    }
    Ok(total)
}

/// The count of an `XPENDING key group` reply: `[count, first, last,
/// [[consumer, count], ...]]`.
fn pending_count(reply: Value<'_>) -> Result<u64, String> {
    match reply {
        Value::Array(v) => match v.first() {
            Some(&Value::Integer(n)) if n >= 0 => Ok(n as u64),
            _ => Err(format!("unexpected XPENDING reply {v:?}")),
        },
        Value::Error(e) => Err(format!("XPENDING: -{}", String::from_utf8_lossy(e))),
        other => Err(format!("unexpected XPENDING reply {other:?}")),
    }
}

// ---------------------------------------------------------------------------
// Replies of any shape (XADD, XREADGROUP, XACK, XPENDING; and LPUSH).

/// A RESP2 reply of any shape: XREADGROUP's nest arrays, which
/// `loadgen::resp` does not read.
#[derive(PartialEq)]
enum Value<'a> {
    Simple(&'a [u8]),
    Error(&'a [u8]),
    Integer(i64),
    Bulk(&'a [u8]),
    Array(Vec<Value<'a>>),
    /// `$-1` or `*-1` (an XREADGROUP that timed out).
    Null,
}

impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = String::from_utf8_lossy;
        match self {
            Value::Simple(s) => write!(f, "+{}", text(s)),
            Value::Error(e) => write!(f, "-{}", text(e)),
            Value::Integer(n) => write!(f, ":{n}"),
            Value::Bulk(b) => write!(f, "{:?}", text(b)),
            Value::Array(items) => f.debug_list().entries(items).finish(),
            Value::Null => write!(f, "(nil)"),
        }
    }
}

/// Arrays nest at most this deep (an XREADGROUP entry's fields are at 3).
const MAX_DEPTH: usize = 8;

/// The first complete reply in `buf` and the bytes it takes, `None` if `buf`
/// holds only part of one.
fn parse_value(buf: &[u8]) -> Result<Option<(Value<'_>, usize)>, String> {
    value_at(buf, 0, 0)
}

/// The reply starting at `at`, arrays `depth` deep, and where it ends.
fn value_at(buf: &[u8], at: usize, depth: usize) -> Result<Option<(Value<'_>, usize)>, String> {
    let Some((line, mut next)) = resp::line(buf, at) else {
        return Ok(None);
    };
    let (kind, rest) = line.split_first().ok_or("empty line")?;
    let value = match kind {
        b'+' => Value::Simple(rest),
        b'-' => Value::Error(rest),
        b':' => Value::Integer(resp::int(rest)?),
        b'$' | b'*' if rest == b"-1" => Value::Null,
        b'$' => match resp::element(buf, at)? {
            Some((bulk, end)) => {
                next = end;
                Value::Bulk(bulk)
            }
            None => return Ok(None),
        },
        b'*' => {
            if depth == MAX_DEPTH {
                return Err("arrays nested too deep".to_string());
            }
            let n = usize::try_from(resp::int(rest)?).map_err(|_| "negative array length")?;
            let mut items = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                let Some((item, end)) = value_at(buf, next, depth + 1)? else {
                    return Ok(None);
                };
                items.push(item);
                next = end;
            }
            Value::Array(items)
        }
        other => return Err(format!("unexpected type byte {:?}", *other as char)),
    };
    Ok(Some((value, next)))
}

/// Reads more of `conn` and hands each reply now complete to `f`, with the
/// time it was received.
async fn read_values(
    conn: &mut Conn,
    mut f: impl FnMut(Value<'_>, u64) -> Result<(), String>,
) -> Result<(), String> {
    conn.read_with(|buf, now| {
        let mut at = 0;
        while let Some((reply, used)) =
            parse_value(&buf[at..]).map_err(|e| format!("protocol error: {e}"))?
        {
            at += used;
            f(reply, now)?;
        }
        Ok(at)
    })
    .await
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
    /// LPUSH (XADD, XACK) replies still missing after the drain.
    unacked: u64,
    empty_pops: u64,
    /// Streams: entries never acknowledged, per XPENDING after the drain.
    pending: u64,
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
    // Drained once every message pushed was popped and every LPUSH (XADD,
    // XACK) replied to.
    let drained = || shared.outstanding.get() == 0 && shared.unacked() == 0;
    let tool_cpu = shared.run.measure(&shared.room, drained).await;
    drop(tasks); // cancels the tasks still reading
    for stream in &streams {
        hang_up(stream);
    }
    let tool_cpu = tool_cpu?;
    let pending = match plan.kind {
        Kind::List => 0,
        Kind::Stream => loadgen::set_up(pending_entries(plan)).await?,
    };
    Ok(report(&shared, plan, tool_cpu, pending))
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
/// consumer's BRPOP (XREADGROUP) left blocked in the server meanwhile would pop, and lose,
/// a message of the next run on the same queues.
fn hang_up(stream: &TcpStream) {
    use std::os::fd::{AsFd, AsRawFd};
    // SAFETY: shutdown(2) on a socket we own; only its state changes.
    unsafe {
        libc::shutdown(stream.as_fd().as_raw_fd(), libc::SHUT_RDWR);
    }
}

fn report(shared: &Shared, plan: &Plan, tool_cpu: f64, pending: u64) -> Report {
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
        pending,
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
            (self.unacked > 0, "replies missing at the end"),
            (self.pending > 0, "entries never acknowledged"),
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
                self.pending,
            ],
        )
    }

    fn print(&self, plan: &Plan) {
        let (push, pop) = (plan.kind.push_command(), plan.kind.pop_command());
        println!(
            "{} producer(s) -> {} consumer(s), {} {}(s); payload {} B, window {}, \
             pipeline {}, consumer pipeline {}; {} s measured after {} s warm-up",
            plan.producers,
            plan.consumers,
            plan.queues.len(),
            plan.kind.noun(),
            plan.payload,
            plan.window,
            plan.pipeline,
            plan.consumer_pipeline,
            plan.seconds,
            WARMUP.as_secs(),
        );
        if plan.kind == Kind::Stream {
            println!("stream       group {}, COUNT {}", plan.group, plan.count);
        }
        println!(
            "consumed     {:>12.0} msgs/s",
            self.measured.per_s(self.consumed)
        );
        println!(
            "pushed       {:>12.0} {push}/s",
            self.measured.per_s(self.pushes)
        );
        self.measured.print_latency("messages");
        println!(
            "errors       lost {}, duplicates {}, bad frames {}; replies missing at end: {}; \
             never acknowledged: {}",
            self.lost, self.errors.duplicates, self.errors.bad_frames, self.unacked, self.pending,
        );
        println!("empty {pop}s {} (timed out)", self.empty_pops);
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
        let payload = message(shared, producer, seq, sent);
        let queue = queue_of(producer as usize, u64::from(seq), shared.queues.len());
        let key = key.unwrap_or(&shared.queues[queue]);
        let mut out =
            format!("*2\r\n${}\r\n{key}\r\n${}\r\n", key.len(), payload.len()).into_bytes();
        out.extend_from_slice(&payload);
        out.extend_from_slice(b"\r\n");
        out
    }

    /// The payload of message `seq` of `producer`, sent at `sent`.
    fn message(shared: &Shared, producer: u32, seq: u32, sent: u64) -> Vec<u8> {
        let mut payload = vec![b'x'; shared.payload];
        write_header(&mut payload[..HEADER], sent, producer, seq);
        payload
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

    fn text(bytes: &[u8]) -> String {
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    fn value(buf: &[u8]) -> Value<'_> {
        let (v, used) = parse_value(buf).unwrap().unwrap();
        assert_eq!(used, buf.len());
        v
    }

    /// An XREADGROUP reply: one stream `key` with these (id, field, value)
    /// entries.
    fn xread_reply(key: &str, entries: &[(&str, &str, &[u8])]) -> Vec<u8> {
        let bulk = |out: &mut Vec<u8>, b: &[u8]| {
            out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
            out.extend_from_slice(b);
            out.extend_from_slice(b"\r\n");
        };
        let mut out = b"*1\r\n*2\r\n".to_vec();
        bulk(&mut out, key.as_bytes());
        out.extend_from_slice(format!("*{}\r\n", entries.len()).as_bytes());
        for (id, field, value) in entries {
            out.extend_from_slice(b"*2\r\n");
            bulk(&mut out, id.as_bytes());
            out.extend_from_slice(b"*2\r\n");
            bulk(&mut out, field.as_bytes());
            bulk(&mut out, value);
        }
        out
    }

    #[test]
    fn values_of_every_shape() {
        let reply = xread_reply("s", &[("1-0", "d", b"a\r\nb"), ("2-5", "d", b"")]);
        let Value::Array(streams) = value(&reply) else {
            panic!()
        };
        assert_eq!(
            format!("{streams:?}"),
            r#"[["s", [["1-0", ["d", "a\r\nb"]], ["2-5", ["d", ""]]]]]"#
        );
        for n in 0..reply.len() {
            assert!(parse_value(&reply[..n]).unwrap().is_none(), "prefix {n}");
        }
        assert_eq!(value(b"*-1\r\n"), Value::Null);
        assert_eq!(value(b"$-1\r\n"), Value::Null);
        assert_eq!(value(b"$3\r\n1-0\r\n"), Value::Bulk(b"1-0"));
        assert_eq!(value(b":-7\r\n"), Value::Integer(-7));
        assert_eq!(value(b"+OK\r\n"), Value::Simple(b"OK"));
        assert_eq!(value(b"-ERR x\r\n"), Value::Error(b"ERR x"));
        assert_eq!(value(b"*0\r\n"), Value::Array(vec![]));
        let (first, used) = parse_value(b":1\r\n+OK\r\n").unwrap().unwrap();
        assert_eq!((first, used), (Value::Integer(1), 4));
    }

    #[test]
    fn rejects_malformed_values() {
        let deep = "*1\r\n".repeat(MAX_DEPTH + 1) + ":1\r\n";
        assert!(parse_value(deep.as_bytes()).is_err());
        let deepest = "*1\r\n".repeat(MAX_DEPTH) + ":1\r\n";
        assert!(parse_value(deepest.as_bytes()).unwrap().is_some());
        for bad in ["*-2", "$-2", "$3\r\nabcd", "%1", "", ":x"] {
            let bad = format!("{bad}\r\n");
            assert!(parse_value(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn entry_ids() {
        for good in ["0-1", "1-0", "1700000000000-12", "18446744073709551615-0"] {
            assert!(is_entry_id(good.as_bytes()), "{good}");
        }
        for bad in ["", "1", "-1", "1-", "a-1", "1-2-3", "1 -2", "+1-2"] {
            assert!(!is_entry_id(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn push_replies_by_kind() {
        assert_eq!(push_reply_ok(Kind::List, Value::Integer(1)), Ok(true));
        assert_eq!(push_reply_ok(Kind::List, Value::Integer(0)), Ok(false));
        assert_eq!(push_reply_ok(Kind::Stream, Value::Bulk(b"5-1")), Ok(true));
        assert_eq!(push_reply_ok(Kind::Stream, Value::Bulk(b"5")), Ok(false));
        assert!(push_reply_ok(Kind::List, Value::Bulk(b"5-1")).is_err());
        assert!(push_reply_ok(Kind::Stream, Value::Integer(1)).is_err());
        assert_eq!(
            push_reply_ok(Kind::Stream, Value::Error(b"ERR no")),
            Err("XADD: -ERR no".to_string())
        );
    }

    #[test]
    fn stream_options_and_commands() {
        let plan = test_plan(&[]);
        assert_eq!(
            (plan.kind, plan.group.as_str(), plan.count),
            (Kind::List, "queue-load", 10)
        );
        let plan = test_plan(&[
            "--kind", "stream", "--queues", "2", "--count", "5", "--group", "g",
        ]);
        assert_eq!(plan.kind, Kind::Stream);
        let shared = Shared::new(&plan, 0..1000);
        let consumer = StreamConsumer::new(&shared, 3);
        assert_eq!(
            text(&consumer.read),
            "*13\r\n$10\r\nXREADGROUP\r\n$5\r\nGROUP\r\n$1\r\ng\r\n$2\r\nc3\r\n\
             $5\r\nCOUNT\r\n$1\r\n5\r\n$5\r\nBLOCK\r\n$4\r\n1000\r\n$7\r\nSTREAMS\r\n\
             $12\r\nqueue-load:0\r\n$12\r\nqueue-load:1\r\n$1\r\n>\r\n$1\r\n>\r\n"
        );
        let mut batch = Vec::new();
        push_template(Kind::Stream, "s", 16).append(&mut batch, 1, 2, 3);
        assert!(text(&batch)
            .starts_with("*5\r\n$4\r\nXADD\r\n$1\r\ns\r\n$1\r\n*\r\n$1\r\nd\r\n$16\r\n"));
        batch.clear();
        push_template(Kind::List, "s", 16).append(&mut batch, 1, 2, 3);
        assert!(text(&batch).starts_with("*3\r\n$5\r\nLPUSH\r\n$1\r\ns\r\n$16\r\n"));
    }

    #[test]
    fn stream_consumer_delivers_and_acks() {
        let plan = test_plan(&["--kind", "stream", "--producers", "2", "--group", "g"]);
        let shared = Shared::new(&plan, 100..1000);
        for seq in 0..3 {
            shared.push(0, seq);
            shared.push(1, seq);
        }
        let mut consumer = StreamConsumer::new(&shared, 0);
        let mut out = Vec::new();
        consumer.read(&mut out);
        assert_eq!(out, consumer.read);

        // Three entries: XACK of their IDs, then the next XREADGROUP.
        let (m00, m01, m10) = (
            message(&shared, 0, 0, 200),
            message(&shared, 0, 1, 200),
            message(&shared, 1, 0, 50),
        );
        let reply = xread_reply(
            "queue-load:0",
            &[("1-0", "d", &m00), ("1-1", "d", &m01), ("2-0", "d", &m10)],
        );
        out.clear();
        consumer
            .on_reply(&shared, value(&reply), 300, &mut out)
            .unwrap();
        let xack = loadgen::command(&[b"XACK", b"queue-load:0", b"g", b"1-0", b"1-1", b"2-0"]);
        assert_eq!(out, [xack, consumer.read.clone()].concat());
        assert_eq!(consumer.expect, [Expect::Ack(3), Expect::Read]);
        assert_eq!(shared.outstanding.get(), 3);
        assert_eq!(shared.unacked(), 6 + 3, "6 XADD replies, 3 IDs in XACK");
        out.clear();
        consumer
            .on_reply(&shared, Value::Integer(3), 300, &mut out)
            .unwrap();
        assert!(out.is_empty());
        assert_eq!(shared.acks_outstanding.get(), 0);

        // Delivered twice, and another field; an XACK that acknowledges fewer
        // IDs than it names; from another stream; a timeout.
        let reply = xread_reply(
            "queue-load:0",
            &[
                ("1-0", "d", &m00),
                ("3-0", "e", &message(&shared, 0, 2, 200)),
            ],
        );
        let mut step = |reply: Value<'_>| consumer.on_reply(&shared, reply, 300, &mut out);
        step(value(&reply)).unwrap();
        step(Value::Integer(1)).unwrap();
        let reply = xread_reply("other", &[("4-0", "d", &message(&shared, 1, 1, 200))]);
        step(value(&reply)).unwrap();
        step(Value::Integer(1)).unwrap();
        step(Value::Null).unwrap();
        {
            let stats = shared.stats.borrow();
            assert_eq!(
                stats.consumed, 3,
                "(0, 0), (0, 1), (1, 1); (1, 0) was in the warm-up"
            );
            assert_eq!(stats.latency.max(), 100);
            assert_eq!(stats.errors.duplicates, 1);
            assert_eq!(stats.errors.bad_frames, 3);
            assert_eq!(stats.empty_pops, 1);
        }
        assert_eq!(shared.acks_outstanding.get(), 0);
        assert_eq!(
            shared.lost(),
            2,
            "(0, 2) had another field; (1, 2) never came"
        );
        assert_eq!(consumer.expect, [Expect::Read]);

        let mut step = |reply: Value<'_>| consumer.on_reply(&shared, reply, 300, &mut out);
        let e = step(Value::Error(b"NOGROUP x")).unwrap_err();
        assert_eq!(e, "XREADGROUP: -NOGROUP x");
        assert_eq!(step(Value::Null).unwrap_err(), "a reply to no command");
        consumer.read(&mut out);
        let e = consumer
            .on_reply(&shared, Value::Integer(1), 300, &mut out)
            .unwrap_err();
        assert_eq!(e, "unexpected XREADGROUP reply :1");
    }

    #[test]
    fn pending_counts() {
        assert_eq!(
            pending_count(value(b"*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n")),
            Ok(0)
        );
        let two = b"*4\r\n:2\r\n$3\r\n1-0\r\n$3\r\n2-0\r\n*1\r\n*2\r\n$2\r\nc0\r\n$1\r\n2\r\n";
        assert_eq!(pending_count(value(two)), Ok(2));
        assert!(pending_count(value(b"-NOGROUP x\r\n")).is_err());
        assert!(pending_count(value(b"*0\r\n")).is_err());
        assert!(pending_count(value(b":0\r\n")).is_err());
    }
}
