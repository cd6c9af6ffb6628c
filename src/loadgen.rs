//! What the load tools (`src/bin/pubsub-load.rs` and `src/bin/queue-load.rs`)
//! share. Each includes this file with `#[path = "../loadgen.rs"] mod loadgen;`,
//! so it is not part of the ringbus library; it holds only what both use.
//!
//! It holds the frame of a closed-loop run on one thread: the clock every
//! timestamp uses and the tool's CPU use; the run's phases (setup, warm-up,
//! measured period, drain) and how it ends early; a wake-up for a waiting
//! task; connections with an incremental read buffer and the small RESP2
//! reply parser they use; the commands and message header the writers send;
//! and the parts of the report common to both (rates, latency percentiles,
//! CSV line, verdict, exit status). Scenarios, message checks and what counts
//! as an error stay in each tool.

use std::cell::{Cell, RefCell};
use std::fmt::Display;
use std::future::{poll_fn, Future};
use std::ops::Range;
use std::sync::OnceLock;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use clap::CommandFactory;
use compio::io::{AsyncReadExt, AsyncWriteExt};
use compio::net::TcpStream;
use compio::runtime::RuntimeBuilder;
use compio::BufResult;
use hdrhistogram::Histogram;

/// The warm-up before the measured period.
pub(crate) const WARMUP: Duration = Duration::from_secs(1);
/// How long in-flight messages may take to arrive after the writers stop.
const DRAIN: Duration = Duration::from_secs(2);
/// Connecting and preparing every client must take less than this.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of the payload header: send time u64, sender u32, sequence u32.
pub(crate) const HEADER: usize = 16;
/// Spare room made in a read buffer before each read.
const READ_CHUNK: usize = 64 * 1024;

// ---------------------------------------------------------------------------
// Start and end of the process.

/// Exits with a usage error unless `pipeline` is at most `window` and
/// `seconds` is positive.
pub(crate) fn check_args<A: CommandFactory>(pipeline: u32, window: u32, seconds: f64) {
    if pipeline > window {
        A::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "--pipeline must be at most --window",
            )
            .exit();
    }
    if !(seconds > 0.0 && seconds.is_finite()) {
        A::command()
            .error(
                clap::error::ErrorKind::InvalidValue,
                "--seconds must be positive",
            )
            .exit();
    }
}

/// A run's report, as each tool words it.
pub(crate) trait Outcome {
    type Plan;

    /// The report as one CSV line.
    fn csv(&self, plan: &Self::Plan) -> String;

    /// Prints the report as text.
    fn print(&self, plan: &Self::Plan);

    /// Why the run failed; empty if it passed.
    fn failures(&self) -> Vec<&'static str>;
}

/// Runs `run` on a single-threaded compio runtime, prints its report (one CSV
/// line if `csv`) and exits: with status 0 if the run passed its checks, 1 if
/// it did not, 2 (saying why) if it could not run.
pub(crate) fn run_and_exit<R: Outcome>(
    plan: &R::Plan,
    csv: bool,
    run: impl Future<Output = Result<R, String>>,
) -> ! {
    let runtime = match RuntimeBuilder::new().build() {
        Ok(rt) => rt,
        Err(e) => fail(&format!("cannot start the runtime: {e}")),
    };
    match runtime.block_on(run) {
        Ok(report) => {
            if csv {
                println!("{}", report.csv(plan));
            } else {
                report.print(plan);
            }
            std::process::exit(if report.failures().is_empty() { 0 } else { 1 });
        }
        Err(e) => fail(&e),
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("{}: {msg}", env!("CARGO_BIN_NAME"));
    std::process::exit(2);
}

// ---------------------------------------------------------------------------
// Time.

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds since the tool started: the clock every timestamp uses.
pub(crate) fn now_ns() -> u64 {
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

/// The histogram every tool records latency in: 1 ns to 60 s, 3 significant
/// digits.
pub(crate) fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("bounds")
}

// ---------------------------------------------------------------------------
// The run's phases.

/// A wake-up for one waiting task (single-threaded, so plain cells).
#[derive(Default)]
pub(crate) struct Signal {
    fired: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

impl Signal {
    pub(crate) fn notify(&self) {
        self.fired.set(true);
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// Waits until `notify` was called since the last wait returned.
    pub(crate) async fn wait(&self) {
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

/// Runs `setup` (connecting and preparing every client), failing if it takes
/// `SETUP_TIMEOUT` or more.
pub(crate) async fn set_up<T>(setup: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    compio::runtime::time::timeout(SETUP_TIMEOUT, setup)
        .await
        .map_err(|_| format!("setup took more than {SETUP_TIMEOUT:?}"))?
}

/// The measured period of a run starting now: `seconds` long, after the
/// warm-up, in `now_ns` time.
pub(crate) fn measured_period(seconds: f64) -> Range<u64> {
    let start = now_ns() + WARMUP.as_nanos() as u64;
    start..start + (seconds * 1e9) as u64
}

/// Where a run stands, for every task in it: the measured period, whether
/// the writers must stop, and the error that ended the run early, if any.
pub(crate) struct Run {
    /// The measured period, in `now_ns` time.
    pub(crate) measure: Range<u64>,
    stop: Cell<bool>,
    fatal: RefCell<Option<String>>,
}

impl Run {
    pub(crate) fn new(measure: Range<u64>) -> Run {
        Run {
            measure,
            stop: Cell::new(false),
            fatal: RefCell::new(None),
        }
    }

    /// Whether `now` falls in the measured period.
    pub(crate) fn measured(&self, now: u64) -> bool {
        self.measure.contains(&now)
    }

    /// Whether the writers must stop.
    pub(crate) fn stopped(&self) -> bool {
        self.stop.get()
    }

    /// Tells the writers to stop, waking those waiting on `writers`.
    pub(crate) fn stop<'a>(&self, writers: impl IntoIterator<Item = &'a Signal>) {
        self.stop.set(true);
        for w in writers {
            w.notify();
        }
    }

    /// Ends the run early with an error (the first one is kept), stopping
    /// the writers as `stop` does.
    pub(crate) fn fail<'a>(&self, msg: String, writers: impl IntoIterator<Item = &'a Signal>) {
        self.fatal.borrow_mut().get_or_insert(msg);
        self.stop(writers);
    }

    /// Sleeps through the warm-up and the measured period, measuring the
    /// tool's CPU use in the latter; then stops the writers (see `stop`) and
    /// waits until `drained` says every message is complete, at most `DRAIN`.
    /// Returns the share of one CPU the tool used in the measured period, or
    /// the error that ended the run early.
    pub(crate) async fn measure<'a>(
        &self,
        writers: impl IntoIterator<Item = &'a Signal>,
        drained: impl Fn() -> bool,
    ) -> Result<f64, String> {
        let start = self.measure.start;
        self.sleep_until(start).await;
        let cpu_start = cpu_ns();
        self.sleep_until(self.measure.end).await;
        let tool_cpu = (cpu_ns() - cpu_start) as f64 / (now_ns() - start) as f64;
        self.stop(writers);
        self.drain(drained).await;
        match self.fatal.borrow_mut().take() {
            Some(e) => Err(e),
            None => Ok(tool_cpu),
        }
    }

    /// Sleeps until `ns` (tool time), returning early if the run failed.
    async fn sleep_until(&self, ns: u64) {
        let tick = Duration::from_millis(20);
        while now_ns() < ns && self.fatal.borrow().is_none() {
            let deadline = instant_at(ns).min(Instant::now() + tick);
            compio::runtime::time::sleep_until(deadline).await;
        }
    }

    /// Waits until `drained`, at most `DRAIN`, returning early if the run
    /// failed.
    async fn drain(&self, drained: impl Fn() -> bool) {
        let deadline = now_ns() + DRAIN.as_nanos() as u64;
        while now_ns() < deadline && self.fatal.borrow().is_none() {
            if drained() {
                return;
            }
            compio::runtime::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

// ---------------------------------------------------------------------------
// Connections.

/// A connection with an incremental read buffer.
pub(crate) struct Conn {
    pub(crate) stream: TcpStream,
    buf: Vec<u8>,
    /// Bytes of `buf` already parsed.
    pos: usize,
    /// The replies the tool expects.
    grammar: &'static resp::Grammar,
}

impl Conn {
    /// Connects to `addr`; replies are parsed with `grammar`.
    pub(crate) async fn connect(
        addr: &str,
        grammar: &'static resp::Grammar,
    ) -> Result<Conn, String> {
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
            grammar,
        })
    }

    pub(crate) async fn send(&mut self, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
        send(&mut self.stream, bytes).await
    }

    /// Sends `cmd` and reads its reply, which `ok` must accept; `what` names
    /// the command in errors.
    pub(crate) async fn request(
        &mut self,
        cmd: Vec<u8>,
        what: &str,
        ok: impl Fn(&resp::Frame<'_>) -> bool,
    ) -> Result<(), String> {
        self.send(cmd).await?;
        loop {
            self.fill().await?;
            match self.next_frame()? {
                None => continue,
                Some(frame) if ok(&frame) => return Ok(()),
                Some(resp::Frame::Error(e)) => {
                    return Err(format!(
                        "{what}: server replied -{}",
                        String::from_utf8_lossy(e)
                    ))
                }
                Some(other) => return Err(format!("{what}: unexpected reply {other:?}")),
            }
        }
    }

    /// Reads more bytes and hands each frame now complete to `f`, with one
    /// receive time (`now_ns`) for everything this read brought; returns how
    /// many frames there were.
    pub(crate) async fn read_frames(
        &mut self,
        mut f: impl FnMut(resp::Frame<'_>, u64) -> Result<(), String>,
    ) -> Result<usize, String> {
        let grammar = self.grammar;
        let mut frames = 0;
        self.read_with(|buf, now| {
            let mut at = 0;
            while let Some((frame, used)) =
                resp::parse(&buf[at..], grammar).map_err(|e| format!("protocol error: {e}"))?
            {
                at += used;
                f(frame, now)?;
                frames += 1;
            }
            Ok(at)
        })
        .await?;
        Ok(frames)
    }

    /// Reads more bytes and hands those not parsed yet to `parse`, with the
    /// receive time (`now_ns`) of this read; `parse` takes the complete
    /// replies at their start and returns how many bytes they were. For a
    /// tool with replies its own parser reads.
    pub(crate) async fn read_with(
        &mut self,
        parse: impl FnOnce(&[u8], u64) -> Result<usize, String>,
    ) -> Result<(), String> {
        self.fill().await?;
        let used = parse(&self.buf[self.pos..], now_ns())?;
        self.pos += used;
        Ok(())
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
        match resp::parse(&self.buf[self.pos..], self.grammar) {
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
pub(crate) async fn send(stream: &mut TcpStream, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    let BufResult(res, bytes) = stream.write_all(bytes).await;
    res.map_err(|e| format!("write: {e}"))?;
    Ok(bytes)
}

// ---------------------------------------------------------------------------
// Commands and messages.

/// A command as a RESP array of bulk strings.
pub(crate) fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A command whose last argument is a message: a `HEADER`-byte header (send
/// time, sender, sequence number), then padding of `x` up to the payload size.
pub(crate) struct Template {
    bytes: Vec<u8>,
    /// Where the header starts in `bytes`.
    header_at: usize,
}

impl Template {
    /// The command `args` then `<payload>`, with a zeroed header.
    pub(crate) fn new(args: &[&[u8]], payload: usize) -> Template {
        let mut body = vec![b'x'; payload];
        body[..HEADER].fill(0);
        let mut all = args.to_vec();
        all.push(&body);
        let bytes = command(&all);
        let header_at = bytes.len() - payload - 2;
        Template { bytes, header_at }
    }

    /// Bytes of the command.
    pub(crate) fn size(&self) -> usize {
        self.bytes.len()
    }

    /// Appends the command to `batch`, its header filled in.
    pub(crate) fn append(&self, batch: &mut Vec<u8>, sent_ns: u64, sender: u32, seq: u32) {
        let at = batch.len() + self.header_at;
        batch.extend_from_slice(&self.bytes);
        write_header(&mut batch[at..at + HEADER], sent_ns, sender, seq);
    }
}

pub(crate) fn write_header(out: &mut [u8], sent_ns: u64, sender: u32, seq: u32) {
    out[0..8].copy_from_slice(&sent_ns.to_le_bytes());
    out[8..12].copy_from_slice(&sender.to_le_bytes());
    out[12..16].copy_from_slice(&seq.to_le_bytes());
}

/// (send time, sender, sequence number) from a payload's header.
pub(crate) fn read_header(payload: &[u8]) -> (u64, usize, u64) {
    let u32_at = |i: usize| u32::from_le_bytes(payload[i..i + 4].try_into().unwrap());
    let sent = u64::from_le_bytes(payload[0..8].try_into().unwrap());
    (sent, u32_at(8) as usize, u64::from(u32_at(12)))
}

// ---------------------------------------------------------------------------
// The report.

/// What every run measures besides its counters.
pub(crate) struct Measured {
    /// Length of the measured period.
    pub(crate) seconds: f64,
    /// Latency of the messages sent in the measured period, in nanoseconds.
    pub(crate) latency: Histogram<u64>,
    /// Share of one CPU the tool used in the measured period.
    pub(crate) tool_cpu: f64,
}

impl Measured {
    /// `n` events of the measured period, per second.
    pub(crate) fn per_s(&self, n: u64) -> f64 {
        n as f64 / self.seconds
    }

    /// Latency at quantile `q`, in microseconds.
    fn us(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    fn max_us(&self) -> f64 {
        self.latency.max() as f64 / 1000.0
    }

    /// The CSV line: the run's parameters, its two counts of the measured
    /// period per second, latency p50, p99, p99.9 and max in microseconds,
    /// its error counters, and the tool's CPU use in percent of one core.
    pub(crate) fn csv(&self, params: &[&dyn Display], rates: [u64; 2], counters: &[u64]) -> String {
        let mut fields: Vec<String> = params.iter().map(|p| p.to_string()).collect();
        fields.extend(rates.map(|n| format!("{:.0}", self.per_s(n))));
        fields.extend([0.5, 0.99, 0.999].map(|q| format!("{:.1}", self.us(q))));
        fields.push(format!("{:.1}", self.max_us()));
        fields.extend(counters.iter().map(u64::to_string));
        fields.push(format!("{:.0}", self.tool_cpu * 100.0));
        fields.join(",")
    }

    /// Prints the latency line; `samples` names what was timed.
    pub(crate) fn print_latency(&self, samples: &str) {
        println!(
            "latency us   p50 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}  ({} {samples})",
            self.us(0.5),
            self.us(0.99),
            self.us(0.999),
            self.max_us(),
            self.latency.len(),
        );
    }

    /// Prints the last lines: the tool's CPU use and the result.
    pub(crate) fn print_verdict(&self, failures: &[&str]) {
        println!("tool CPU     {:.0}% of one core", self.tool_cpu * 100.0);
        match failures {
            [] => println!("result       PASS"),
            f => println!("result       FAIL: {}", f.join(", ")),
        }
    }
}

// ---------------------------------------------------------------------------
// RESP2 reply parsing: just what the tools need.

pub(crate) mod resp {
    use std::fmt;

    /// Most elements in an array any tool accepts (`pmessage` has 4).
    const CAPACITY: usize = 4;

    /// Which replies a tool accepts beyond simple strings, errors, integers
    /// and arrays of bulk strings and integers.
    pub(crate) struct Grammar {
        /// Most elements in an array (at most 4).
        pub(crate) max_parts: usize,
        /// Whether a RESP3 `>` push is read as an array.
        pub(crate) pushes: bool,
        /// Whether `*-1` is read as `Frame::Null`; a negative length is an
        /// error otherwise.
        pub(crate) null_array: bool,
    }

    /// The elements of an array of bulk strings (integers kept as their digits).
    #[derive(Clone, Copy)]
    pub(crate) struct Parts<'a> {
        items: [&'a [u8]; CAPACITY],
        len: usize,
    }

    impl<'a> Parts<'a> {
        pub(crate) fn len(&self) -> usize {
            self.len
        }

        pub(crate) fn get(&self, i: usize) -> &'a [u8] {
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

    pub(crate) enum Frame<'a> {
        /// `*` (or, where the grammar takes them, a RESP3 `>` push) of bulk
        /// strings and integers.
        Array(Parts<'a>),
        /// `*-1`, where the grammar takes it (as a BRPOP that timed out).
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
    pub(crate) fn parse<'a>(
        buf: &'a [u8],
        grammar: &Grammar,
    ) -> Result<Option<(Frame<'a>, usize)>, String> {
        let Some((line, mut at)) = line(buf, 0) else {
            return Ok(None);
        };
        let (kind, rest) = line.split_first().ok_or("empty line")?;
        let frame = match kind {
            b'+' => Frame::Simple(rest),
            b'-' => Frame::Error(rest),
            b':' => Frame::Integer(int(rest)?),
            b'*' | b'>' if *kind == b'*' || grammar.pushes => {
                let n = int(rest)?;
                if n < 0 {
                    return match (grammar.null_array, n) {
                        (true, -1) => Ok(Some((Frame::Null, at))),
                        (true, _) => Err(format!("array of {n} elements")),
                        (false, _) => Err("null array".to_string()),
                    };
                }
                let n = n as usize;
                if n > grammar.max_parts.min(CAPACITY) {
                    return Err(format!("array of {n} elements"));
                }
                let mut parts = Parts {
                    items: [&[]; CAPACITY],
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
    pub(crate) fn element(buf: &[u8], at: usize) -> Result<Option<(&[u8], usize)>, String> {
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
    pub(crate) fn line(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
        let nl = buf.get(at..)?.iter().position(|&b| b == b'\n')? + at;
        let end = if nl > at && buf[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        Some((&buf[at..end], nl + 1))
    }

    pub(crate) fn int(text: &[u8]) -> Result<i64, String> {
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

    /// The elements of the array `buf` holds and the bytes it takes.
    #[cfg(test)]
    pub(crate) fn parts(buf: &[u8], grammar: &Grammar) -> (Vec<Vec<u8>>, usize) {
        match parse(buf, grammar).unwrap() {
            Some((Frame::Array(p), used)) => {
                ((0..p.len()).map(|i| p.get(i).to_vec()).collect(), used)
            }
            other => panic!("{other:?}"),
        }
    }

    /// Checks that every proper prefix of `msg` is an incomplete frame.
    #[cfg(test)]
    pub(crate) fn assert_prefixes_incomplete(msg: &[u8], grammar: &Grammar) {
        for n in 0..msg.len() {
            assert!(parse(&msg[..n], grammar).unwrap().is_none(), "prefix {n}");
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        const ANY: Grammar = Grammar {
            max_parts: 4,
            pushes: true,
            null_array: true,
        };

        #[test]
        fn several_frames_in_one_buffer() {
            let buf = b":3\r\n-ERR no\r\n+OK\r\n:";
            let Some((Frame::Integer(3), a)) = parse(buf, &ANY).unwrap() else {
                panic!()
            };
            let Some((Frame::Error(b"ERR no"), b)) = parse(&buf[a..], &ANY).unwrap() else {
                panic!()
            };
            let Some((Frame::Simple(b"OK"), c)) = parse(&buf[a + b..], &ANY).unwrap() else {
                panic!()
            };
            assert!(parse(&buf[a + b + c..], &ANY).unwrap().is_none());
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
        fn grammar_limits_arrays() {
            let strict = Grammar {
                max_parts: 2,
                pushes: false,
                null_array: false,
            };
            let push = b">2\r\n$1\r\na\r\n:1\r\n";
            assert_eq!(parts(push, &ANY).0, [&b"a"[..], b"1"]);
            assert!(parse(push, &strict).is_err());
            assert!(matches!(
                parse(b"*-1\r\n", &ANY),
                Ok(Some((Frame::Null, 5)))
            ));
            assert_eq!(parse(b"*-1\r\n", &strict).err().unwrap(), "null array");
            assert!(parse(b"*3\r\n", &strict).is_err());
            assert!(parse(b"*3\r\n", &ANY).unwrap().is_none());
            assert!(parse(b"*5\r\n", &ANY).is_err());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let template = Template::new(&[b"PUBLISH", b"ch"], 20);
        let mut batch = b"earlier".to_vec();
        template.append(&mut batch, 123_456_789, 7, 42);
        assert_eq!(batch.len(), 7 + template.size());
        let at = batch.len() - 22;
        assert_eq!(read_header(&batch[at..]), (123_456_789, 7, 42));
        assert!(batch[at + HEADER..batch.len() - 2]
            .iter()
            .all(|&b| b == b'x'));
    }

    #[test]
    fn csv_fields() {
        let mut latency = latency_histogram();
        latency.record(2_000).unwrap();
        let m = Measured {
            seconds: 2.0,
            latency,
            tool_cpu: 0.5,
        };
        assert_eq!(
            m.csv(&[&"x", &3], [10, 5], &[0, 1]),
            "x,3,5,2,2.0,2.0,2.0,2.0,0,1,50"
        );
    }
}
