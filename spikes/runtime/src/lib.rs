//! Shared protocol + command handling for the runtime spike.
//!
//! The three binaries (glommio, compio, monoio) only differ in their I/O loop:
//! each reads into a buffer, calls [`Session::process`] which parses *all*
//! complete requests in the buffer and appends every reply to one output
//! buffer, then writes that output buffer once.

use std::collections::HashMap;
use std::ops::Range;

/// Per-thread keyspace.
pub type Store = HashMap<Vec<u8>, Vec<u8>>;

/// Initial read-buffer capacity per connection.
pub const READ_BUF: usize = 16 * 1024;

/// Protocol error: the connection should be closed after flushing `out`.
#[derive(Debug)]
pub struct ProtocolError;

/// Per-connection parser state (argument ranges are reused across requests).
#[derive(Default)]
pub struct Session {
    args: Vec<Range<usize>>,
}

impl Session {
    /// Parse and execute every complete request in `input`, appending replies
    /// to `out`. Returns the number of bytes consumed; the caller keeps the
    /// rest (an incomplete request) for the next read.
    pub fn process(
        &mut self,
        input: &[u8],
        store: &mut Store,
        out: &mut Vec<u8>,
    ) -> Result<usize, ProtocolError> {
        let mut pos = 0;
        while pos < input.len() {
            self.args.clear();
            let parsed = if input[pos] == b'*' {
                parse_multibulk(input, pos, &mut self.args)?
            } else {
                parse_inline(input, pos, &mut self.args)
            };
            let Some(next) = parsed else { break };
            pos = next;
            if !self.args.is_empty() {
                execute(input, &self.args, store, out);
            }
        }
        Ok(pos)
    }
}

/// Find `\r\n` starting at `from`; returns the index of `\r`.
#[inline]
fn find_crlf(input: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 1 < input.len() {
        match input[i..].iter().position(|&b| b == b'\r') {
            Some(off) => {
                i += off;
                if i + 1 < input.len() && input[i + 1] == b'\n' {
                    return Some(i);
                }
                i += 1;
            }
            None => return None,
        }
    }
    None
}

#[inline]
fn parse_int(digits: &[u8]) -> Result<i64, ProtocolError> {
    let (neg, digits) = match digits.first() {
        Some(b'-') => (true, &digits[1..]),
        _ => (false, digits),
    };
    if digits.is_empty() || digits.len() > 18 {
        return Err(ProtocolError);
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(ProtocolError);
        }
        n = n * 10 + (d - b'0') as i64;
    }
    Ok(if neg { -n } else { n })
}

/// `*<n>\r\n` followed by n × `$<len>\r\n<bytes>\r\n`.
/// Ok(None) = incomplete, Ok(Some(end)) = complete request ending at `end`.
fn parse_multibulk(
    input: &[u8],
    start: usize,
    args: &mut Vec<Range<usize>>,
) -> Result<Option<usize>, ProtocolError> {
    let Some(eol) = find_crlf(input, start + 1) else {
        return Ok(None);
    };
    let count = parse_int(&input[start + 1..eol])?;
    if !(0..=1024 * 1024).contains(&count) {
        return Err(ProtocolError);
    }
    let mut pos = eol + 2;
    for _ in 0..count {
        if pos >= input.len() {
            return Ok(None);
        }
        if input[pos] != b'$' {
            return Err(ProtocolError);
        }
        let Some(eol) = find_crlf(input, pos + 1) else {
            return Ok(None);
        };
        let len = parse_int(&input[pos + 1..eol])?;
        if !(0..=512 * 1024 * 1024).contains(&len) {
            return Err(ProtocolError);
        }
        let data = eol + 2;
        let end = data + len as usize;
        if end + 2 > input.len() {
            return Ok(None);
        }
        if &input[end..end + 2] != b"\r\n" {
            return Err(ProtocolError);
        }
        args.push(data..end);
        pos = end + 2;
    }
    Ok(Some(pos))
}

/// Inline command: a line of space-separated words (`PING\r\n`).
fn parse_inline(input: &[u8], start: usize, args: &mut Vec<Range<usize>>) -> Option<usize> {
    let nl = start + input[start..].iter().position(|&b| b == b'\n')?;
    let line_end = if nl > start && input[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    let mut i = start;
    while i < line_end {
        while i < line_end && input[i] == b' ' {
            i += 1;
        }
        let word = i;
        while i < line_end && input[i] != b' ' {
            i += 1;
        }
        if i > word {
            args.push(word..i);
        }
    }
    Some(nl + 1)
}

fn bulk(out: &mut Vec<u8>, data: &[u8]) {
    out.push(b'$');
    push_int(out, data.len() as i64);
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

fn push_int(out: &mut Vec<u8>, n: i64) {
    let mut tmp = [0u8; 24];
    let mut i = tmp.len();
    let neg = n < 0;
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        tmp[i] = b'-';
    }
    out.extend_from_slice(&tmp[i..]);
    out.extend_from_slice(b"\r\n");
}

fn execute(input: &[u8], args: &[Range<usize>], store: &mut Store, out: &mut Vec<u8>) {
    let arg = |i: usize| &input[args[i].clone()];
    let name = arg(0);
    let argc = args.len();
    if name.eq_ignore_ascii_case(b"PING") {
        match argc {
            1 => out.extend_from_slice(b"+PONG\r\n"),
            2 => bulk(out, arg(1)),
            _ => wrong_args(out, "ping"),
        }
    } else if name.eq_ignore_ascii_case(b"SET") {
        if argc != 3 {
            return wrong_args(out, "set");
        }
        let value = arg(2).to_vec();
        match store.get_mut(arg(1)) {
            Some(v) => *v = value,
            None => {
                store.insert(arg(1).to_vec(), value);
            }
        }
        out.extend_from_slice(b"+OK\r\n");
    } else if name.eq_ignore_ascii_case(b"GET") {
        if argc != 2 {
            return wrong_args(out, "get");
        }
        match store.get(arg(1)) {
            Some(v) => bulk(out, v),
            None => out.extend_from_slice(b"$-1\r\n"),
        }
    } else if name.eq_ignore_ascii_case(b"INCR") {
        if argc != 2 {
            return wrong_args(out, "incr");
        }
        let current = match store.get(arg(1)) {
            Some(v) => match parse_int(v) {
                Ok(n) => n,
                Err(_) => {
                    out.extend_from_slice(b"-ERR value is not an integer or out of range\r\n");
                    return;
                }
            },
            None => 0,
        };
        let Some(next) = current.checked_add(1) else {
            out.extend_from_slice(b"-ERR increment or decrement would overflow\r\n");
            return;
        };
        let mut text = Vec::with_capacity(24);
        push_int(&mut text, next);
        text.truncate(text.len() - 2);
        store.insert(arg(1).to_vec(), text);
        out.push(b':');
        push_int(out, next);
    } else if name.eq_ignore_ascii_case(b"MSET") {
        if argc < 3 || argc % 2 == 0 {
            return wrong_args(out, "mset");
        }
        for pair in args[1..].chunks_exact(2) {
            let value = input[pair[1].clone()].to_vec();
            let key = &input[pair[0].clone()];
            match store.get_mut(key) {
                Some(v) => *v = value,
                None => {
                    store.insert(key.to_vec(), value);
                }
            }
        }
        out.extend_from_slice(b"+OK\r\n");
    } else if name.eq_ignore_ascii_case(b"CONFIG") {
        // redis-benchmark asks for CONFIG GET save / appendonly: empty array is fine.
        out.extend_from_slice(b"*0\r\n");
    } else {
        out.extend_from_slice(b"-ERR unknown command\r\n");
    }
}

fn wrong_args(out: &mut Vec<u8>, cmd: &str) {
    out.extend_from_slice(b"-ERR wrong number of arguments for '");
    out.extend_from_slice(cmd.as_bytes());
    out.extend_from_slice(b"' command\r\n");
}

/// `<bin> selftest` runs [`selftest::run`] instead of serving.
pub fn is_selftest() -> bool {
    std::env::args().nth(1).as_deref() == Some("selftest")
}

/// Shared CLI: `<bin> PORT|selftest [VARIANT]` (port 0 for selftest).
pub fn args() -> (u16, String) {
    let mut argv = std::env::args().skip(1);
    let port = argv
        .next()
        .and_then(|p| {
            if p == "selftest" {
                Some(0)
            } else {
                p.parse().ok()
            }
        })
        .expect("usage: <bin> PORT|selftest [VARIANT]");
    let variant = argv.next().unwrap_or_else(|| "default".to_string());
    (port, variant)
}

/// Build a SO_REUSEPORT/SO_REUSEADDR listener with socket2 (non-blocking,
/// backlog 1024) for runtimes that accept a `std::net::TcpListener`.
pub fn reuseport_listener(port: u16) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// After `process` consumed `n` bytes, keep only the unconsumed tail and make
/// sure there is room to read more.
pub fn compact(buf: &mut Vec<u8>, consumed: usize) {
    if consumed > 0 {
        buf.drain(..consumed);
    }
    if buf.capacity() - buf.len() < 4096 {
        buf.reserve(buf.capacity().max(READ_BUF));
    }
}

/// Runtime capability self-test (`<bin> selftest`): a timer and cross-thread
/// wake-ups. The runtime only provides `sleep`; everything else is std.
pub mod selftest {
    use std::future::Future;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll, Waker};
    use std::time::{Duration, Instant};

    /// A one-slot async signal, notified from a plain `std::thread`.
    #[derive(Default)]
    struct Signal {
        set: AtomicBool,
        waker: Mutex<Option<Waker>>,
    }

    impl Signal {
        fn notify(&self) {
            self.set.store(true, Ordering::Release);
            if let Some(w) = self.waker.lock().unwrap().take() {
                w.wake();
            }
        }

        fn wait(&self) -> impl Future<Output = ()> + '_ {
            std::future::poll_fn(move |cx: &mut Context<'_>| {
                if self.set.swap(false, Ordering::Acquire) {
                    return Poll::Ready(());
                }
                *self.waker.lock().unwrap() = Some(cx.waker().clone());
                if self.set.swap(false, Ordering::Acquire) {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
        }
    }

    /// Runs the checks and prints a one-line report.
    pub async fn run<S: Future<Output = ()>>(name: &str, sleep: impl Fn(Duration) -> S) {
        let t = Instant::now();
        sleep(Duration::from_millis(20)).await;
        let slept = t.elapsed();

        const N: u64 = 20_000;
        let signal = Arc::new(Signal::default());
        let ack = Arc::new(AtomicU64::new(0));
        let (sig2, ack2) = (signal.clone(), ack.clone());
        let helper = std::thread::spawn(move || {
            // The executor pinned this thread to CPU 0; move the helper away.
            core_affinity::set_for_current(core_affinity::CoreId { id: 1 });
            for i in 1..=N {
                sig2.notify();
                while ack2.load(Ordering::Acquire) < i {
                    std::hint::spin_loop();
                }
            }
        });
        let t = Instant::now();
        for i in 1..=N {
            signal.wait().await;
            ack.store(i, Ordering::Release);
        }
        let per_wake = t.elapsed() / N as u32;
        helper.join().unwrap();
        println!(
            "{name}: sleep(20ms) took {slept:?}; {N} cross-thread wakes from a std::thread OK, \
             {per_wake:?} per wake round trip"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8]) -> (usize, Vec<u8>) {
        let mut s = Session::default();
        let mut store = Store::new();
        let mut out = Vec::new();
        let n = s.process(input, &mut store, &mut out).unwrap();
        (n, out)
    }

    #[test]
    fn pipeline_and_partial() {
        let req = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n41\r\n*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n*1\r\n$4\r\nPI";
        let (n, out) = run(req);
        assert_eq!(out, b"+OK\r\n:42\r\n$2\r\n42\r\n+PONG\r\n");
        assert_eq!(&req[n..], b"*1\r\n$4\r\nPI");
    }

    #[test]
    fn mset_and_config() {
        let req = b"*5\r\n$4\r\nMSET\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$4\r\nsave\r\n";
        let (n, out) = run(req);
        assert_eq!(n, req.len());
        assert_eq!(out, b"+OK\r\n*0\r\n");
    }
}
