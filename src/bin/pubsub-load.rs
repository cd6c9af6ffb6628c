//! pubsub-load: a closed-loop pub/sub load generator for ringbus, or any
//! server speaking the Redis protocol (RESP2).
//!
//! # Design
//!
//! Publishers send PUBLISH commands whose payload starts with a 16-byte header:
//! the send time (nanoseconds since the tool started, from one monotonic clock
//! shared by every task), the publisher's index and its sequence number; the
//! rest is padding up to `--payload` bytes. Subscribers parse the `message` /
//! `pmessage` pushes with a small incremental RESP parser and record each
//! delivery's publish-to-receive latency.
//!
//! The loop is closed: a message is *complete* once every subscriber that
//! should get it has received it and its publisher has read the PUBLISH reply,
//! and a publisher never has more than `--window` incomplete messages. It sends
//! `--pipeline` publishes per write while the window has room for a whole
//! batch, then waits. The server's output buffers therefore stay bounded, the
//! throughput is what the server sustains, and the latency is the server's
//! delivery time rather than the age of a queue that grows for as long as the
//! run lasts.
//!
//! Everything runs on one thread (one compio executor), so the tool can be
//! pinned to one CPU with `taskset`; it reports how busy that CPU was, since a
//! saturated tool limits what it can measure.
//!
//! # What is measured
//!
//! Subscriptions are confirmed before anything is published. The measured
//! period is `--seconds` long and starts after a warm-up of 1 s: deliveries
//! per second (summed over subscribers) and latency percentiles count the
//! messages sent in that period, PUBLISH replies per second those read in it.
//! Then publishing stops and in-flight messages get up to 2 s to arrive.
//!
//! Checked throughout: that each publisher's sequence numbers reach every
//! subscriber in order (a gap counts as lost messages, a number going
//! backwards as out of order), that channel, pattern and payload are the ones
//! sent, that PUBLISH replies equal the expected receiver count, and that every
//! message published was delivered by the end. Any error after the warm-up
//! makes the tool exit with status 1 (errors during the warm-up, e.g. while
//! subscriptions propagate inside the server, are only reported); a failure to
//! connect or subscribe, or a connection lost mid-run, exits with status 2.

#[path = "../loadgen.rs"]
mod loadgen;

use std::cell::{Cell, RefCell};
use std::ops::Range;
use std::rc::Rc;

use clap::{Parser, ValueEnum};
use compio::net::TcpStream;
use compio::runtime::JoinHandle;
use hdrhistogram::Histogram;

use loadgen::resp::{self, Grammar};
use loadgen::{now_ns, Conn, Measured, Outcome, Run, Signal, Template, WARMUP};

/// The replies pub/sub brings: at most 4 elements (`pmessage`), RESP3 pushes
/// read as arrays, and no nil array.
static REPLIES: Grammar = Grammar {
    max_parts: 4,
    pushes: true,
    null_array: false,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Publishers -> N subscribers on one channel (default 1 -> 100).
    Fanout,
    /// P publishers -> P channels, S subscribers per channel (default 50, 1).
    Channels,
    /// Publishers -> one channel, N pattern subscribers with distinct
    /// patterns that all match it (default 1 -> 100).
    Patterns,
}

/// Closed-loop pub/sub load: publish-to-receive latency, throughput, and
/// per-publisher ordering checks.
#[derive(Parser, Debug)]
#[command(name = "pubsub-load")]
struct Args {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = 6379)]
    port: u16,
    #[arg(long, value_enum, default_value_t = Scenario::Fanout)]
    scenario: Scenario,
    /// Subscribers: in all for fanout and patterns (default 100), per channel
    /// for channels (default 1).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    subscribers: Option<u32>,
    /// Publishers (default: 50 for channels, 1 otherwise).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    publishers: Option<u32>,
    /// Payload bytes (at least 16: it carries the send time, publisher and
    /// sequence number).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(16..))]
    payload: u32,
    /// Seconds measured, after a 1 s warm-up.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Most messages a publisher may have in flight (published and not yet
    /// received by all its subscribers, or not yet replied to).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    window: u32,
    /// Publishes sent per write (at most --window).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    pipeline: u32,
    /// Print one CSV line instead, with the fields: scenario, publishers,
    /// subscribers, payload, msgs_per_s, publishes_per_s, p50_us, p99_us,
    /// p999_us, max_us, lost, out_of_order, bad_frames, reply_mismatches,
    /// unfinished, tool_cpu_pct.
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
// The plan: who publishes and subscribes to what.

/// One subscriber connection: what it subscribes to and whom it hears from.
#[derive(Clone)]
struct SubSpec {
    /// `SUBSCRIBE` or `PSUBSCRIBE`.
    command: &'static str,
    /// The channel or pattern subscribed to.
    target: String,
    /// The channel its messages come on.
    channel: String,
    /// The publishers it receives from.
    publishers: Range<usize>,
}

struct Plan {
    addr: String,
    scenario: Scenario,
    /// The channel each publisher publishes on.
    pub_channels: Vec<String>,
    subs: Vec<SubSpec>,
    /// Subscribers that receive each publisher's messages.
    receivers: u32,
    payload: usize,
    window: u32,
    pipeline: u32,
    seconds: f64,
}

impl Plan {
    fn new(args: &Args) -> Plan {
        let publishers = args.publishers.unwrap_or(match args.scenario {
            Scenario::Channels => 50,
            _ => 1,
        }) as usize;
        let subscribers = args.subscribers;
        let (pub_channels, subs, receivers) = match args.scenario {
            Scenario::Fanout => {
                let n = subscribers.unwrap_or(100);
                let channel = "load.fanout";
                let subs = one_channel(n, publishers, "SUBSCRIBE", channel, |_| channel.into());
                (vec![channel.to_string(); publishers], subs, n)
            }
            Scenario::Channels => {
                let per_channel = subscribers.unwrap_or(1);
                let channels: Vec<String> = (0..publishers)
                    .map(|p| format!("load.channel.{p}"))
                    .collect();
                let subs = channel_each(&channels, per_channel);
                (channels, subs, per_channel)
            }
            Scenario::Patterns => {
                let n = subscribers.unwrap_or(100);
                let channel = "load.patterns";
                // Distinct patterns, so the server matches each one: the class
                // holds 'p' (which matches) and the subscriber's number.
                let pattern = |i| format!("load.[p{i}]*");
                let subs = one_channel(n, publishers, "PSUBSCRIBE", channel, pattern);
                (vec![channel.to_string(); publishers], subs, n)
            }
        };
        Plan {
            addr: format!("{}:{}", args.host, args.port),
            scenario: args.scenario,
            pub_channels,
            subs,
            receivers,
            payload: args.payload as usize,
            window: args.window,
            pipeline: args.pipeline,
            seconds: args.seconds,
        }
    }

    fn scenario_name(&self) -> &'static str {
        // The --scenario value.
        match self.scenario {
            Scenario::Fanout => "fanout",
            Scenario::Channels => "channels",
            Scenario::Patterns => "patterns",
        }
    }
}

/// `n` subscribers of one channel, hearing every publisher; subscriber `i`
/// sends `command target(i)`.
fn one_channel(
    n: u32,
    publishers: usize,
    command: &'static str,
    channel: &str,
    target: impl Fn(u32) -> String,
) -> Vec<SubSpec> {
    (0..n)
        .map(|i| SubSpec {
            command,
            target: target(i),
            channel: channel.to_string(),
            publishers: 0..publishers,
        })
        .collect()
}

/// `per_channel` subscribers of each channel, hearing the one publisher of
/// the same index.
fn channel_each(channels: &[String], per_channel: u32) -> Vec<SubSpec> {
    let mut subs = Vec::new();
    for (p, channel) in channels.iter().enumerate() {
        for _ in 0..per_channel {
            subs.push(SubSpec {
                command: "SUBSCRIBE",
                target: channel.clone(),
                channel: channel.clone(),
                publishers: p..p + 1,
            });
        }
    }
    subs
}

// ---------------------------------------------------------------------------
// Shared state of the single-threaded run.

/// One publisher's window: which of its messages are still incomplete.
struct Window {
    /// Per slot (sequence number modulo window): deliveries plus the PUBLISH
    /// reply still due for the message in it.
    due: Vec<Cell<u32>>,
    /// Messages published (the next sequence number).
    published: Cell<u64>,
    /// Every message below this sequence number is complete.
    completed: Cell<u64>,
    /// The publisher waits until `completed` reaches this.
    wake_at: Cell<u64>,
    room: Signal,
}

impl Window {
    fn new(size: u32) -> Window {
        Window {
            due: (0..size).map(|_| Cell::new(0)).collect(),
            published: Cell::new(0),
            completed: Cell::new(0),
            wake_at: Cell::new(u64::MAX),
            room: Signal::default(),
        }
    }

    fn slot(&self, seq: u64) -> &Cell<u32> {
        &self.due[(seq % self.due.len() as u64) as usize]
    }

    fn in_flight(&self) -> u64 {
        self.published.get() - self.completed.get()
    }

    /// Records that message `seq` (the next one) is being published and needs
    /// `receivers` deliveries plus its reply.
    fn publish(&self, seq: u64, receivers: u32) {
        debug_assert_eq!(seq, self.published.get());
        self.slot(seq).set(receivers + 1);
        self.published.set(seq + 1);
    }

    /// Whether `seq` was published and is not complete yet.
    fn is_open(&self, seq: u64) -> bool {
        seq >= self.completed.get() && seq < self.published.get() && self.slot(seq).get() > 0
    }

    /// One delivery or the reply of `seq` arrived (or a delivery was lost).
    fn settle(&self, seq: u64) {
        let slot = self.slot(seq);
        slot.set(slot.get() - 1);
        if seq == self.completed.get() && slot.get() == 0 {
            self.advance();
        }
    }

    fn advance(&self) {
        let mut c = self.completed.get();
        while c < self.published.get() && self.slot(c).get() == 0 {
            c += 1;
        }
        self.completed.set(c);
        if c >= self.wake_at.get() {
            self.room.notify();
        }
    }

    /// Deliveries and replies still due, summed over incomplete messages.
    fn unfinished(&self) -> u64 {
        (self.completed.get()..self.published.get())
            .map(|s| u64::from(self.slot(s).get()))
            .sum()
    }
}

/// Error counters.
#[derive(Default, Clone, Copy)]
struct Errors {
    lost: u64,
    out_of_order: u64,
    bad_frames: u64,
    reply_mismatches: u64,
}

impl Errors {
    fn any(&self) -> bool {
        self.lost + self.out_of_order + self.bad_frames + self.reply_mismatches > 0
    }
}

struct Stats {
    /// Publish-to-receive latency, ns, of deliveries of the messages sent in
    /// the measured period.
    latency: Histogram<u64>,
    /// Deliveries of the messages sent in the measured period.
    delivered: u64,
    /// PUBLISH replies read in the measured period.
    replies: u64,
    /// PUBLISH replies compared with the receiver count after the warm-up.
    replies_checked: u64,
    /// After the warm-up.
    errors: Errors,
    warmup_errors: Errors,
}

struct Shared {
    run: Run,
    receivers: u32,
    payload: usize,
    pipeline: u32,
    windows: Vec<Window>,
    stats: RefCell<Stats>,
}

impl Shared {
    fn new(plan: &Plan, measure: Range<u64>) -> Shared {
        Shared {
            run: Run::new(measure),
            receivers: plan.receivers,
            payload: plan.payload,
            pipeline: plan.pipeline,
            windows: (0..plan.pub_channels.len())
                .map(|_| Window::new(plan.window))
                .collect(),
            stats: RefCell::new(Stats {
                latency: loadgen::latency_histogram(),
                delivered: 0,
                replies: 0,
                replies_checked: 0,
                errors: Errors::default(),
                warmup_errors: Errors::default(),
            }),
        }
    }

    /// Applies `f` to the error counters of the phase `now` falls in.
    fn count_error(&self, now: u64, f: impl FnOnce(&mut Errors)) {
        let mut stats = self.stats.borrow_mut();
        if now >= self.run.measure.start {
            f(&mut stats.errors);
        } else {
            f(&mut stats.warmup_errors);
        }
    }

    /// What each publisher waits on for room in its window.
    fn rooms(&self) -> impl Iterator<Item = &Signal> {
        self.windows.iter().map(|w| &w.room)
    }

    /// Ends the run early with an error (the first one is kept).
    fn set_fatal(&self, msg: String) {
        self.run.fail(msg, self.rooms());
    }
}

// ---------------------------------------------------------------------------
// Connections.

/// Connects a subscriber and waits for its subscription to be confirmed.
async fn subscribe(addr: &str, spec: &SubSpec) -> Result<Conn, String> {
    let mut conn = Conn::connect(addr, &REPLIES).await?;
    let cmd = loadgen::command(&[spec.command.as_bytes(), spec.target.as_bytes()]);
    let kind = spec.command.to_ascii_lowercase();
    let what = format!("{} {}", spec.command, spec.target);
    conn.request(cmd, &what, |frame| {
        matches!(frame, resp::Frame::Array(parts)
            if parts.len() == 3
                && parts.get(0) == kind.as_bytes()
                && parts.get(1) == spec.target.as_bytes())
    })
    .await?;
    Ok(conn)
}

/// Connects and subscribes every client, then the publishers.
async fn setup(plan: &Plan) -> Result<(Vec<Conn>, Vec<Conn>), String> {
    let mut subs = Vec::with_capacity(plan.subs.len());
    for spec in &plan.subs {
        subs.push(subscribe(&plan.addr, spec).await?);
    }
    let mut pubs = Vec::with_capacity(plan.pub_channels.len());
    for _ in &plan.pub_channels {
        pubs.push(Conn::connect(&plan.addr, &REPLIES).await?);
    }
    Ok((subs, pubs))
}

// ---------------------------------------------------------------------------
// Publishers.

/// Publisher `idx`'s writing side: batches of `pipeline` publishes while its
/// window has room for a whole batch.
async fn publish_loop(shared: Rc<Shared>, idx: usize, mut stream: TcpStream, channel: String) {
    let window = &shared.windows[idx];
    let template = Template::new(&[b"PUBLISH", channel.as_bytes()], shared.payload);
    let pipeline = u64::from(shared.pipeline);
    let size = window.due.len() as u64;
    let mut batch = Vec::with_capacity(template.size() * pipeline as usize);
    while !shared.run.stopped() {
        if window.in_flight() + pipeline > size {
            window.wake_at.set(window.published.get() + pipeline - size);
            window.room.wait().await;
            window.wake_at.set(u64::MAX);
            continue;
        }
        batch.clear();
        let sent = now_ns();
        for _ in 0..pipeline {
            let seq = window.published.get();
            window.publish(seq, shared.receivers);
            template.append(&mut batch, sent, idx as u32, seq as u32);
        }
        match loadgen::send(&mut stream, batch).await {
            Ok(b) => batch = b,
            Err(e) => return shared.set_fatal(format!("publisher {idx}: {e}")),
        }
    }
}

/// Publisher `idx`'s reading side: PUBLISH replies, in order, one per message.
async fn reply_loop(shared: Rc<Shared>, idx: usize, mut conn: Conn) {
    if let Err(e) = read_replies(&shared, idx, &mut conn).await {
        shared.set_fatal(format!("publisher {idx}: {e}"));
    }
}

async fn read_replies(shared: &Shared, idx: usize, conn: &mut Conn) -> Result<(), String> {
    let window = &shared.windows[idx];
    let mut seq = 0u64;
    loop {
        conn.read_frames(|frame, now| {
            let count = match frame {
                resp::Frame::Integer(n) => n,
                resp::Frame::Error(e) => {
                    return Err(format!("PUBLISH: -{}", String::from_utf8_lossy(e)))
                }
                other => return Err(format!("unexpected PUBLISH reply {other:?}")),
            };
            if !window.is_open(seq) {
                return Err("more PUBLISH replies than publishes".to_string());
            }
            check_reply(shared, now, count);
            window.settle(seq);
            seq += 1;
            Ok(())
        })
        .await?;
    }
}

fn check_reply(shared: &Shared, now: u64, count: i64) {
    let mismatch = count != i64::from(shared.receivers);
    let mut stats = shared.stats.borrow_mut();
    if shared.run.measured(now) {
        stats.replies += 1;
    }
    if now >= shared.run.measure.start {
        stats.replies_checked += 1;
        stats.errors.reply_mismatches += u64::from(mismatch);
    } else {
        stats.warmup_errors.reply_mismatches += u64::from(mismatch);
    }
}

// ---------------------------------------------------------------------------
// Subscribers.

/// Subscriber `idx`: reads its pushes until the run ends.
async fn subscriber_loop(shared: Rc<Shared>, idx: usize, spec: SubSpec, mut conn: Conn) {
    if let Err(e) = read_pushes(&shared, &spec, &mut conn).await {
        shared.set_fatal(format!("subscriber {idx}: {e}"));
    }
}

async fn read_pushes(shared: &Shared, spec: &SubSpec, conn: &mut Conn) -> Result<(), String> {
    // The next sequence number expected from each publisher in spec.publishers.
    let mut next = vec![0u64; spec.publishers.len()];
    loop {
        conn.read_frames(|frame, now| on_push(shared, spec, &mut next, frame, now))
            .await?;
    }
}

/// Handles one frame a subscriber received at `now`.
fn on_push(
    shared: &Shared,
    spec: &SubSpec,
    next: &mut [u64],
    frame: resp::Frame<'_>,
    now: u64,
) -> Result<(), String> {
    let parts = match frame {
        resp::Frame::Array(parts) => parts,
        resp::Frame::Error(e) => return Err(format!("-{}", String::from_utf8_lossy(e))),
        other => return Err(format!("unexpected frame {other:?}")),
    };
    let Some(payload) = message_payload(spec, &parts) else {
        shared.count_error(now, |e| e.bad_frames += 1);
        return Ok(());
    };
    if payload.len() != shared.payload {
        shared.count_error(now, |e| e.bad_frames += 1);
        return Ok(());
    }
    let (sent, publisher, seq) = loadgen::read_header(payload);
    if !spec.publishers.contains(&publisher) {
        shared.count_error(now, |e| e.bad_frames += 1);
        return Ok(());
    }
    if track_sequence(
        shared,
        &mut next[publisher - spec.publishers.start],
        publisher,
        seq,
        now,
    ) && shared.run.measured(sent)
    {
        // By send time, so a message held up at the end still counts, with
        // its whole latency, when it arrives while the run drains.
        let mut stats = shared.stats.borrow_mut();
        stats.delivered += 1;
        stats.latency.saturating_record(now.saturating_sub(sent));
    }
    Ok(())
}

/// The payload of a `message` on the subscriber's channel, or of a `pmessage`
/// for its pattern; None for anything else.
fn message_payload<'a>(spec: &SubSpec, parts: &resp::Parts<'a>) -> Option<&'a [u8]> {
    let channel = spec.channel.as_bytes();
    match parts.len() {
        3 if spec.command == "SUBSCRIBE"
            && parts.get(0) == b"message"
            && parts.get(1) == channel =>
        {
            Some(parts.get(2))
        }
        4 if spec.command == "PSUBSCRIBE"
            && parts.get(0) == b"pmessage"
            && parts.get(1) == spec.target.as_bytes()
            && parts.get(2) == channel =>
        {
            Some(parts.get(3))
        }
        _ => None,
    }
}

/// Checks `seq` from `publisher` against the one expected next and settles
/// the window; whether the message counts as delivered.
fn track_sequence(shared: &Shared, next: &mut u64, publisher: usize, seq: u64, now: u64) -> bool {
    let window = &shared.windows[publisher];
    if seq < *next {
        shared.count_error(now, |e| e.out_of_order += 1);
        return false;
    }
    if !window.is_open(seq) {
        // Never published, or already complete: not a message we sent.
        shared.count_error(now, |e| e.bad_frames += 1);
        return false;
    }
    if seq > *next {
        // The ones skipped will not come (or come out of order): settle them
        // so the publisher's window keeps moving.
        shared.count_error(now, |e| e.lost += seq - *next);
        for lost in *next..seq {
            window.settle(lost);
        }
    }
    window.settle(seq);
    *next = seq + 1;
    true
}

// ---------------------------------------------------------------------------
// The run.

struct Report {
    measured: Measured,
    delivered: u64,
    replies: u64,
    replies_checked: u64,
    errors: Errors,
    warmup_errors: Errors,
    /// Deliveries and replies still missing after the drain.
    unfinished: u64,
}

async fn run(plan: &Plan) -> Result<Report, String> {
    let (subs, pubs) = loadgen::set_up(setup(plan)).await?;
    let shared = Rc::new(Shared::new(plan, loadgen::measured_period(plan.seconds)));
    let tasks = spawn_all(&shared, plan, subs, pubs);
    // Drained once every published message is complete.
    let drained = || shared.windows.iter().all(|w| w.in_flight() == 0);
    let tool_cpu = shared.run.measure(shared.rooms(), drained).await;
    drop(tasks); // cancels the tasks still reading
    Ok(report(&shared, plan, tool_cpu?))
}

fn spawn_all(
    shared: &Rc<Shared>,
    plan: &Plan,
    subs: Vec<Conn>,
    pubs: Vec<Conn>,
) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    for (idx, (conn, spec)) in subs.into_iter().zip(&plan.subs).enumerate() {
        let fut = subscriber_loop(shared.clone(), idx, spec.clone(), conn);
        tasks.push(compio::runtime::spawn(fut));
    }
    for (idx, conn) in pubs.into_iter().enumerate() {
        let writer = conn.stream.clone();
        let channel = plan.pub_channels[idx].clone();
        tasks.push(compio::runtime::spawn(reply_loop(
            shared.clone(),
            idx,
            conn,
        )));
        let fut = publish_loop(shared.clone(), idx, writer, channel);
        tasks.push(compio::runtime::spawn(fut));
    }
    tasks
}

fn report(shared: &Shared, plan: &Plan, tool_cpu: f64) -> Report {
    let stats = shared.stats.borrow();
    Report {
        measured: Measured {
            seconds: plan.seconds,
            latency: stats.latency.clone(),
            tool_cpu,
        },
        delivered: stats.delivered,
        replies: stats.replies,
        replies_checked: stats.replies_checked,
        errors: stats.errors,
        warmup_errors: stats.warmup_errors,
        unfinished: shared.windows.iter().map(Window::unfinished).sum(),
    }
}

impl Outcome for Report {
    type Plan = Plan;

    fn failures(&self) -> Vec<&'static str> {
        let e = &self.errors;
        [
            (e.lost > 0, "lost messages"),
            (e.out_of_order > 0, "messages out of order"),
            (e.bad_frames > 0, "unexpected messages"),
            (
                e.reply_mismatches > 0,
                "PUBLISH replies not equal to the receiver count",
            ),
            (
                self.unfinished > 0,
                "messages or replies missing at the end",
            ),
            (self.delivered == 0, "nothing delivered"),
            (
                self.replies_checked == 0,
                "no PUBLISH reply after the warm-up",
            ),
        ]
        .into_iter()
        .filter_map(|(failed, why)| failed.then_some(why))
        .collect()
    }

    fn csv(&self, plan: &Plan) -> String {
        let e = &self.errors;
        self.measured.csv(
            &[
                &plan.scenario_name(),
                &plan.pub_channels.len(),
                &plan.subs.len(),
                &plan.payload,
            ],
            [self.delivered, self.replies],
            &[
                e.lost,
                e.out_of_order,
                e.bad_frames,
                e.reply_mismatches,
                self.unfinished,
            ],
        )
    }

    fn print(&self, plan: &Plan) {
        println!(
            "scenario {}: {} publisher(s), {} subscriber(s), {} receiver(s) per message; \
             payload {} B, window {}, pipeline {}; {} s measured after {} s warm-up",
            plan.scenario_name(),
            plan.pub_channels.len(),
            plan.subs.len(),
            plan.receivers,
            plan.payload,
            plan.window,
            plan.pipeline,
            plan.seconds,
            WARMUP.as_secs(),
        );
        println!(
            "delivered    {:>12.0} msgs/s (sum over subscribers)",
            self.measured.per_s(self.delivered)
        );
        println!(
            "published    {:>12.0} publishes/s",
            self.measured.per_s(self.replies)
        );
        self.measured.print_latency("deliveries");
        println!(
            "errors       {}; PUBLISH replies checked: {}; unfinished at end: {}",
            describe(&self.errors),
            self.replies_checked,
            self.unfinished,
        );
        if self.warmup_errors.any() {
            println!(
                "warm-up      {} (not counted)",
                describe(&self.warmup_errors)
            );
        }
        self.measured.print_verdict(&self.failures());
    }
}

fn describe(e: &Errors) -> String {
    format!(
        "lost {}, out of order {}, bad frames {}, reply mismatches {}",
        e.lost, e.out_of_order, e.bad_frames, e.reply_mismatches
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use loadgen::resp::{assert_prefixes_incomplete, parse, parts};

    #[test]
    fn message_and_pmessage() {
        let msg = b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nh\r\nlo\r\n";
        let (p, used) = parts(msg, &REPLIES);
        assert_eq!(p, [&b"message"[..], b"ch", b"h\r\nlo"]);
        assert_eq!(used, msg.len());
        let pmsg = b"*4\r\n$8\r\npmessage\r\n$3\r\nc*h\r\n$2\r\nch\r\n$0\r\n\r\n";
        let (p, _) = parts(pmsg, &REPLIES);
        assert_eq!(p, [&b"pmessage"[..], b"c*h", b"ch", b""]);
    }

    #[test]
    fn subscribe_confirmation_holds_an_integer() {
        let (p, _) = parts(b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n", &REPLIES);
        assert_eq!(p, [&b"subscribe"[..], b"ch", b"1"]);
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let msg = b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n";
        assert_prefixes_incomplete(msg, &REPLIES);
    }

    #[test]
    fn rejects_what_pubsub_never_sends() {
        assert!(parse(b"$3\r\nabc\r\n", &REPLIES).is_err());
        assert!(parse(b"*5\r\n", &REPLIES).is_err());
        assert!(parse(b"*1\r\n*1\r\n", &REPLIES).is_err());
        assert!(parse(b"*1\r\n$3\r\nabcd\r\n", &REPLIES).is_err());
    }

    fn test_plan(args: &[&str]) -> Plan {
        let argv = ["pubsub-load"].iter().chain(args);
        Plan::new(&Args::try_parse_from(argv).unwrap())
    }

    /// One publisher, two subscribers on one channel, window 8; measured
    /// from t=100.
    fn two_subscribers() -> Shared {
        let plan = test_plan(&["--subscribers", "2", "--window", "8", "--pipeline", "4"]);
        let shared = Shared::new(&plan, 100..1000);
        for seq in 0..6 {
            shared.windows[0].publish(seq, 2);
        }
        shared
    }

    #[test]
    fn in_order_deliveries_count_and_complete() {
        let shared = two_subscribers();
        let (mut a, mut b) = (0, 0);
        for seq in 0..6 {
            assert!(track_sequence(&shared, &mut a, 0, seq, 200));
            assert!(track_sequence(&shared, &mut b, 0, seq, 200));
        }
        let w = &shared.windows[0];
        assert_eq!(w.completed.get(), 0, "replies still due");
        for seq in 0..6 {
            check_reply(&shared, 200, 2);
            w.settle(seq);
        }
        assert_eq!(w.completed.get(), 6);
        let stats = shared.stats.borrow();
        assert!(!stats.errors.any());
        assert_eq!(stats.replies_checked, 6);
    }

    #[test]
    fn gaps_and_reordering_are_counted_by_phase() {
        let shared = two_subscribers();
        let mut next = 0;
        // Warm-up: 2 arrives first, so 0 and 1 are lost.
        assert!(track_sequence(&shared, &mut next, 0, 2, 50));
        // Measured: 4 before 3, then 3 (out of order), then 3 again.
        assert!(track_sequence(&shared, &mut next, 0, 4, 200));
        assert!(!track_sequence(&shared, &mut next, 0, 3, 200));
        assert!(!track_sequence(&shared, &mut next, 0, 3, 200));
        // Never published.
        assert!(!track_sequence(&shared, &mut next, 0, 9, 200));
        let stats = shared.stats.borrow();
        assert_eq!(stats.warmup_errors.lost, 2);
        assert_eq!(stats.errors.lost, 1);
        assert_eq!(stats.errors.out_of_order, 2);
        assert_eq!(stats.errors.bad_frames, 1);
        // This subscriber settled 0..=4 (as lost or received): the other
        // subscriber and the reply are due on each, and all three on 5.
        assert_eq!(shared.windows[0].unfinished(), 5 * 2 + 3);
    }

    #[test]
    fn reply_mismatch_counts_only_after_warm_up() {
        let shared = two_subscribers();
        check_reply(&shared, 50, 1);
        check_reply(&shared, 200, 1);
        check_reply(&shared, 2000, 2);
        let stats = shared.stats.borrow();
        assert_eq!(stats.warmup_errors.reply_mismatches, 1);
        assert_eq!(stats.errors.reply_mismatches, 1);
        assert_eq!(stats.replies_checked, 2);
        assert_eq!(stats.replies, 1, "only the one in the measured period");
    }

    #[test]
    fn scenarios_plan_channels_and_receivers() {
        let fanout = test_plan(&[]);
        assert_eq!(
            (
                fanout.pub_channels.len(),
                fanout.subs.len(),
                fanout.receivers
            ),
            (1, 100, 100)
        );
        let channels = test_plan(&["--scenario", "channels", "--subscribers", "2"]);
        assert_eq!(
            (
                channels.pub_channels.len(),
                channels.subs.len(),
                channels.receivers
            ),
            (50, 100, 2)
        );
        assert_eq!(channels.subs[3].channel, "load.channel.1");
        assert_eq!(channels.subs[3].publishers, 1..2);
        let patterns = test_plan(&["--scenario", "patterns", "--subscribers", "12"]);
        let targets: std::collections::HashSet<_> =
            patterns.subs.iter().map(|s| &s.target).collect();
        assert_eq!(targets.len(), 12, "distinct patterns");
        for s in &patterns.subs {
            assert!(
                ringbus::glob::matches(s.target.as_bytes(), b"load.patterns", false),
                "{}",
                s.target
            );
        }
    }

    #[test]
    fn window_completes_in_order_and_settles_losses() {
        let w = Window::new(4);
        for seq in 0..3 {
            w.publish(seq, 2);
        }
        // Reply and both deliveries of 1 before any of 0: 0 holds the window.
        for _ in 0..3 {
            w.settle(1);
        }
        assert_eq!(w.completed.get(), 0);
        for _ in 0..3 {
            w.settle(0);
        }
        assert_eq!(w.completed.get(), 2);
        assert_eq!(w.unfinished(), 3);
        assert!(w.is_open(2) && !w.is_open(1) && !w.is_open(3));
    }
}
