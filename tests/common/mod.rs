//! Shared harness for the integration tests.
//!
//! By default the tests run against the `ringbus` binary of this package. Set
//! `RINGBUS_TEST_TARGET=redis` to run the very same tests against a real
//! `redis-server` instead (that is how the expectations were validated).
//! `RINGBUS_TEST_TARGET=ringbus` (or unset) selects the ringbus binary.
//!
//! Every server gets a fresh loopback port; its stdout/stderr go to a temp
//! file that is printed when a test fails and removed otherwise.
#![allow(dead_code)]

pub mod script;

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a server may take to answer its first PING.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a raw connection waits for a reply before failing the test.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// Which server binary the tests talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Ringbus(PathBuf),
    Redis,
}

pub fn target() -> Target {
    match std::env::var("RINGBUS_TEST_TARGET").as_deref() {
        Ok("redis") => Target::Redis,
        Ok("ringbus") | Ok("") | Err(_) => match option_env!("CARGO_BIN_EXE_ringbus") {
            Some(p) => Target::Ringbus(PathBuf::from(p)),
            None => panic!(
                "this crate has no `ringbus` binary; run with RINGBUS_TEST_TARGET=redis \
                 to test against redis-server"
            ),
        },
        Ok(other) => {
            panic!("unknown RINGBUS_TEST_TARGET={other:?} (expected `redis` or `ringbus`)")
        }
    }
}

/// Path of `redis-server`, or a failure telling how to install it.
pub fn redis_server_path() -> PathBuf {
    let candidates = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"];
    for c in candidates {
        if std::path::Path::new(c).exists() {
            return PathBuf::from(c);
        }
    }
    if let Ok(out) = Command::new("sh")
        .args(["-c", "command -v redis-server"])
        .output()
    {
        let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if out.status.success() && !p.is_empty() {
            return PathBuf::from(p);
        }
    }
    panic!(
        "redis-server is not installed: run `apt-get install -y redis-server redis-tools` \
         (the differential test and RINGBUS_TEST_TARGET=redis need it)"
    );
}

/// Ask the kernel for a free loopback port.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

/// A fresh directory under the system temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("ringbus-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// The directory as a string, for command-line arguments.
    pub fn arg(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running server process, killed when dropped.
pub struct Server {
    child: Child,
    port: u16,
    ringbus: bool,
    log: PathBuf,
    /// The snapshot directory the server got when the test named none, so
    /// that no test reads or writes `dump.rdb` in the working directory.
    _dir: Option<TempDir>,
}

impl Server {
    /// Start the server under test with `threads` shards.
    pub fn start(threads: usize) -> Server {
        let t = threads.to_string();
        Server::start_with(&["--threads", &t])
    }

    /// Start the server under test with extra redis-style arguments. A first
    /// argument that does not start with `--` is a config file path.
    /// ringbus-only arguments (`--threads N`, `--no-pin`) are dropped for redis.
    pub fn start_with(args: &[&str]) -> Server {
        Server::start_target(target(), args)
    }

    /// Start a real redis-server regardless of RINGBUS_TEST_TARGET.
    pub fn start_redis(args: &[&str]) -> Server {
        redis_server_path();
        Server::start_target(Target::Redis, args)
    }

    /// Start the server under test through `wrapper` (a command that runs
    /// the server, such as `prlimit --nofile=2000:2000 --`).
    pub fn start_wrapped(wrapper: &[&str], args: &[&str]) -> Server {
        Server::start_target_wrapped(target(), wrapper, args)
    }

    fn start_target(target: Target, args: &[&str]) -> Server {
        Server::start_target_wrapped(target, &[], args)
    }

    fn start_target_wrapped(target: Target, wrapper: &[&str], args: &[&str]) -> Server {
        let mut last_log = String::new();
        // A port found free may be taken by a parallel test before we bind it:
        // retry a few times with a fresh port when the process exits early.
        for _attempt in 0..5 {
            let port = free_port();
            match Server::try_start(&target, wrapper, args, port) {
                Ok(s) => return s,
                Err(log) => last_log = log,
            }
        }
        panic!("server did not start; its output:\n{last_log}");
    }

    fn try_start(
        target: &Target,
        wrapper: &[&str],
        args: &[&str],
        port: u16,
    ) -> Result<Server, String> {
        let (config, rest): (Option<&str>, &[&str]) = match args.first() {
            Some(a) if !a.starts_with("--") => (Some(a), &args[1..]),
            _ => (None, args),
        };
        let port_s = port.to_string();
        let (program, ringbus, mut argv): (PathBuf, bool, Vec<String>) = match target {
            Target::Ringbus(p) => (p.clone(), true, Vec::new()),
            Target::Redis => (redis_server_path(), false, Vec::new()),
        };
        if let Some(c) = config {
            argv.push(c.to_string());
        }
        argv.extend(["--port", &port_s, "--bind", "127.0.0.1"].map(String::from));
        let mut own_dir = None;
        if ringbus {
            // Unpinned by default: tests share the CPUs.
            argv.extend(rest.iter().map(|a| a.to_string()));
            if !rest.contains(&"--dir") {
                // As redis-server below: no save rules, unless the test
                // asks for a directory (it is then about snapshots).
                let dir = TempDir::new("dir");
                argv.extend(["--dir".to_string(), dir.arg()]);
                if !rest.contains(&"--save") {
                    argv.extend(["--save".to_string(), String::new()]);
                }
                // RINGBUS_TEST_APPENDONLY=1: every server keeps the log, so a
                // debug build's propagation check (`shard::propagation`) sees
                // every write path the suite takes.
                if std::env::var("RINGBUS_TEST_APPENDONLY").is_ok_and(|v| v == "1")
                    && !rest.contains(&"--appendonly")
                {
                    argv.extend(["--appendonly", "yes", "--appendfsync", "no"].map(String::from));
                }
                own_dir = Some(dir);
            }
        } else {
            argv.extend(["--save", "", "--appendonly", "no"].map(String::from));
            if !rest.contains(&"--dir") {
                // Its own directory: never a dump.rdb left in the working one.
                let dir = TempDir::new("dir");
                argv.extend(["--dir".to_string(), dir.arg()]);
                own_dir = Some(dir);
            }
            let mut i = 0;
            while i < rest.len() {
                match rest[i] {
                    "--threads" => i += 2,
                    "--no-pin" | "--pin" => i += 1,
                    a => {
                        argv.push(a.to_string());
                        i += 1;
                    }
                }
            }
        }

        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let log = std::env::temp_dir().join(format!(
            "ringbus-test-{}-{}-{}.log",
            std::process::id(),
            port,
            n
        ));
        let out = File::create(&log).map_err(|e| format!("create {log:?}: {e}"))?;
        let err = out.try_clone().unwrap();
        let mut command = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        let child = command
            .args(&argv)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {program:?}: {e}"));
        let mut server = Server {
            child,
            port,
            ringbus,
            log,
            _dir: own_dir,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!(
                    "{program:?} {argv:?} exited with {status}:\n{}",
                    server.log_text()
                ));
            }
            if server.answers_ping() {
                // If our process lost the race for the port, the PING may have
                // reached another test's server: make sure ours is still up.
                std::thread::sleep(Duration::from_millis(20));
                if let Ok(Some(status)) = server.child.try_wait() {
                    return Err(format!(
                        "{program:?} {argv:?} exited with {status}:\n{}",
                        server.log_text()
                    ));
                }
                return Ok(server);
            }
            if Instant::now() > deadline {
                panic!(
                    "{program:?} {argv:?} did not answer PING within {START_TIMEOUT:?}; output:\n{}",
                    server.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn answers_ping(&self) -> bool {
        let addr = ("127.0.0.1", self.port);
        let Ok(mut s) = TcpStream::connect(addr) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        if s.write_all(b"*1\r\n$4\r\nPING\r\n").is_err() {
            return false;
        }
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        while !got.ends_with(b"\r\n") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return false,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        // With --requirepass the server is up when it asks for a password.
        got == b"+PONG\r\n" || got.starts_with(b"-NOAUTH")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn is_ringbus(&self) -> bool {
        self.ringbus
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident memory, from /proc.
    pub fn rss(&self) -> u64 {
        let statm = std::fs::read_to_string(format!("/proc/{}/statm", self.pid())).unwrap();
        let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
        pages * 4096
    }

    /// Everything the server printed so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the server process is still running.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// A `redis` crate connection (RESP2, no CLIENT SETINFO on connect).
    pub fn client(&self) -> redis::Connection {
        use redis::IntoConnectionInfo;
        let info = ("127.0.0.1", self.port)
            .into_connection_info()
            .unwrap()
            .set_redis_settings(redis::RedisConnectionInfo::default().set_skip_set_lib_name());
        let client = redis::Client::open(info).expect("client");
        let con = client
            .get_connection_with_timeout(READ_TIMEOUT)
            .expect("connect");
        con.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        con
    }

    /// A raw TCP connection.
    pub fn raw(&self) -> RawConn {
        RawConn::connect(self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "---- server output ({}) ----\n{}",
                self.log.display(),
                self.log_text()
            );
        } else {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// Encode a request as a RESP multibulk.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

pub fn encode_str(args: &[&str]) -> Vec<u8> {
    let v: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    encode(&v)
}

/// Length of the complete RESP2/RESP3 reply at the front of `buf`, or
/// `Ok(None)` when more bytes are needed.
pub fn reply_len(buf: &[u8]) -> Result<Option<usize>, String> {
    parse_at(buf, 0)
}

fn line_end(buf: &[u8], from: usize) -> Option<usize> {
    buf[from..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|p| from + p)
}

fn header_int(buf: &[u8], start: usize, end: usize) -> Result<i64, String> {
    let s = std::str::from_utf8(&buf[start..end]).map_err(|e| e.to_string())?;
    s.parse::<i64>()
        .map_err(|_| format!("bad length/count {s:?} in reply"))
}

fn parse_at(buf: &[u8], pos: usize) -> Result<Option<usize>, String> {
    if pos >= buf.len() {
        return Ok(None);
    }
    let Some(eol) = line_end(buf, pos + 1) else {
        return Ok(None);
    };
    let after = eol + 2;
    match buf[pos] {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Ok(Some(after)),
        b'$' | b'!' | b'=' => {
            let n = header_int(buf, pos + 1, eol)?;
            if n < 0 {
                return Ok(Some(after));
            }
            let end = after + n as usize + 2;
            if buf.len() < end {
                return Ok(None);
            }
            if &buf[end - 2..end] != b"\r\n" {
                return Err("bulk reply not terminated by CRLF".into());
            }
            Ok(Some(end))
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = header_int(buf, pos + 1, eol)?;
            if n < 0 {
                return Ok(Some(after));
            }
            let items = if matches!(buf[pos], b'%' | b'|') {
                2 * n
            } else {
                n
            };
            let mut p = after;
            for _ in 0..items {
                match parse_at(buf, p)? {
                    Some(e) => p = e,
                    None => return Ok(None),
                }
            }
            if buf[pos] == b'|' {
                // An attribute precedes the reply it describes.
                return parse_at(buf, p);
            }
            Ok(Some(p))
        }
        other => Err(format!(
            "unknown RESP type byte {:?} in {:?}",
            other as char,
            String::from_utf8_lossy(&buf[pos..])
        )),
    }
}

/// A plain TCP connection speaking raw RESP.
pub struct RawConn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl RawConn {
    pub fn connect(port: u16) -> RawConn {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        RawConn {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to server");
    }

    /// Read more bytes into the buffer; returns false on EOF.
    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return true;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    panic!(
                        "timed out waiting for a reply; buffered so far: {:?}",
                        String::from_utf8_lossy(&self.buf)
                    )
                }
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return false,
                Err(e) => panic!("read from server: {e}"),
            }
        }
    }

    /// Read one complete reply, or None if the server closed the connection
    /// before a whole reply arrived.
    pub fn try_read_reply(&mut self) -> Option<Vec<u8>> {
        loop {
            match reply_len(&self.buf) {
                Ok(Some(n)) => return Some(self.buf.drain(..n).collect()),
                Ok(None) => {}
                Err(e) => panic!("malformed reply: {e}"),
            }
            if !self.fill() {
                return None;
            }
        }
    }

    /// Read exactly one complete RESP2/RESP3 reply.
    pub fn read_reply(&mut self) -> Vec<u8> {
        match self.try_read_reply() {
            Some(r) => r,
            None => panic!(
                "connection closed while waiting for a reply (partial: {:?})",
                String::from_utf8_lossy(&self.buf)
            ),
        }
    }

    /// Send one multibulk request and return the raw reply.
    pub fn cmd(&mut self, args: &[&str]) -> Vec<u8> {
        self.send(&encode_str(args));
        self.read_reply()
    }

    pub fn cmd_bytes(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send(&encode(args));
        self.read_reply()
    }

    /// Send a request and assert its reply (shown as text on mismatch).
    pub fn check(&mut self, args: &[&str], expected: &[u8]) {
        let got = self.cmd(args);
        assert_eq!(
            show(&got),
            show(expected),
            "reply to {args:?} differs (got vs expected)"
        );
    }

    /// Assert that the server closes the connection (EOF, no more replies).
    pub fn expect_closed(&mut self) {
        assert!(
            self.buf.is_empty(),
            "unread reply bytes before close: {:?}",
            show(&self.buf)
        );
        let deadline = Instant::now() + READ_TIMEOUT;
        let mut chunk = [0u8; 4096];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return,
                Ok(n) => panic!(
                    "expected the connection to be closed, got {:?}",
                    show(&chunk[..n])
                ),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => panic!("expected the connection to be closed, got error {e}"),
            }
            assert!(Instant::now() < deadline, "connection not closed in time");
        }
    }

    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

/// Printable form of raw reply bytes.
pub fn show(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s
}

// Builders for expected RESP replies.
pub fn ok() -> Vec<u8> {
    b"+OK\r\n".to_vec()
}
pub fn simple(s: &str) -> Vec<u8> {
    format!("+{s}\r\n").into_bytes()
}
pub fn err(s: &str) -> Vec<u8> {
    format!("-{s}\r\n").into_bytes()
}
pub fn int(n: i64) -> Vec<u8> {
    format!(":{n}\r\n").into_bytes()
}
pub fn bulk(s: &str) -> Vec<u8> {
    bulk_bytes(s.as_bytes())
}
pub fn bulk_bytes(b: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", b.len()).into_bytes();
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
    out
}
/// RESP2 null bulk.
pub fn nil() -> Vec<u8> {
    b"$-1\r\n".to_vec()
}
pub fn array(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", items.len()).into_bytes();
    for i in items {
        out.extend_from_slice(i);
    }
    out
}
pub fn bulks(items: &[&str]) -> Vec<u8> {
    array(&items.iter().map(|s| bulk(s)).collect::<Vec<_>>())
}

/// RESP2 null array (`*-1`): what a blocking command answers on timeout,
/// among others.
pub fn nil_array() -> Vec<u8> {
    b"*-1\r\n".to_vec()
}
/// RESP3 null (`_`).
pub fn null3() -> Vec<u8> {
    b"_\r\n".to_vec()
}
/// The error for a wrong number of arguments to `cmd` (lower case, as Redis
/// names it: `"xinfo|stream"` for a subcommand).
pub fn arity(cmd: &str) -> Vec<u8> {
    err(&format!(
        "ERR wrong number of arguments for '{cmd}' command"
    ))
}

/// A parsed reply, for tests that need to look inside arrays and maps.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Null,
    Array(Vec<Reply>),
    Map(Vec<(Reply, Reply)>),
    Other(Vec<u8>),
}

impl Reply {
    pub fn parse(b: &[u8]) -> Reply {
        let (r, n) = parse_reply(b, 0);
        assert_eq!(n, b.len(), "trailing bytes after reply {:?}", show(b));
        r
    }

    pub fn as_text(&self) -> String {
        match self {
            Reply::Simple(s) | Reply::Error(s) => s.clone(),
            Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            Reply::Int(i) => i.to_string(),
            other => panic!("not a text reply: {other:?}"),
        }
    }

    pub fn as_int(&self) -> i64 {
        match self {
            Reply::Int(i) => *i,
            other => panic!("not an integer reply: {other:?}"),
        }
    }

    pub fn as_array(&self) -> &[Reply] {
        match self {
            Reply::Array(a) => a,
            other => panic!("not an array reply: {other:?}"),
        }
    }

    /// Pairs of a map reply, or of a flat RESP2 array of alternating key/values.
    pub fn as_pairs(&self) -> Vec<(String, Reply)> {
        match self {
            Reply::Map(m) => m.iter().map(|(k, v)| (k.as_text(), v.clone())).collect(),
            Reply::Array(a) => {
                assert!(a.len() % 2 == 0, "odd-length array used as map: {a:?}");
                a.chunks(2)
                    .map(|c| (c[0].as_text(), c[1].clone()))
                    .collect()
            }
            other => panic!("not a map reply: {other:?}"),
        }
    }
}

fn parse_reply(b: &[u8], pos: usize) -> (Reply, usize) {
    let eol = line_end(b, pos + 1).expect("incomplete reply");
    let line = String::from_utf8_lossy(&b[pos + 1..eol]).into_owned();
    let after = eol + 2;
    match b[pos] {
        b'+' => (Reply::Simple(line), after),
        b'-' => (Reply::Error(line), after),
        b':' => (Reply::Int(line.parse().expect("integer")), after),
        b'_' => (Reply::Null, after),
        b'$' | b'=' => {
            let n: i64 = line.parse().expect("bulk length");
            if n < 0 {
                return (Reply::Null, after);
            }
            let end = after + n as usize;
            (Reply::Bulk(b[after..end].to_vec()), end + 2)
        }
        b'*' | b'~' | b'>' => {
            let n: i64 = line.parse().expect("count");
            if n < 0 {
                return (Reply::Null, after);
            }
            let mut p = after;
            let mut v = Vec::new();
            for _ in 0..n {
                let (r, e) = parse_reply(b, p);
                v.push(r);
                p = e;
            }
            (Reply::Array(v), p)
        }
        b'%' => {
            let n: i64 = line.parse().expect("count");
            let mut p = after;
            let mut v = Vec::new();
            for _ in 0..n {
                let (k, e) = parse_reply(b, p);
                let (val, e2) = parse_reply(b, e);
                v.push((k, val));
                p = e2;
            }
            (Reply::Map(v), p)
        }
        _ => {
            let end = parse_at(b, pos).unwrap().expect("complete");
            (Reply::Other(b[pos..end].to_vec()), end)
        }
    }
}

/// Parse an INFO text into (section, field, value) triples, failing on any
/// line that is neither a `# Section` header, a `field:value` pair nor blank.
pub fn parse_info(text: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.split("\r\n") {
        if line.is_empty() {
            continue;
        }
        if let Some(s) = line.strip_prefix("# ") {
            section = s.to_string();
            continue;
        }
        let (k, v) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("INFO line without ':' {line:?}"));
        out.push((section.clone(), k.to_string(), v.to_string()));
    }
    out
}

// ------------------------------------------------------ per-connection helpers

/// A RESP3 double.
pub fn dbl(s: &str) -> Vec<u8> {
    format!(",{s}\r\n").into_bytes()
}

/// RESP2 `member score member score ...` (a sorted set WITHSCORES).
pub fn withscores(pairs: &[(&str, &str)]) -> Vec<u8> {
    let items: Vec<&str> = pairs.iter().flat_map(|(m, s)| [*m, *s]).collect();
    bulks(&items)
}

/// RESP3 `[[member, score], ...]` (a sorted set WITHSCORES).
pub fn pairs3(pairs: &[(&str, &str)]) -> Vec<u8> {
    array(
        &pairs
            .iter()
            .map(|(m, s)| array(&[bulk(m), dbl(s)]))
            .collect::<Vec<_>>(),
    )
}

/// Switch the connection to RESP3 (`HELLO 3`), checking that it answers with
/// a map.
pub fn hello3(c: &mut RawConn) {
    let r = c.cmd(&["HELLO", "3"]);
    assert_eq!(r.first(), Some(&b'%'), "HELLO 3 -> {}", show(&r));
}

/// The connection's CLIENT ID.
/// Whether the server says it is Redis 7.2 or newer (ringbus does), for
/// expectations that differ from redis-server 7.0's.
pub fn is_72(c: &mut RawConn) -> bool {
    let info = Reply::parse(&c.cmd(&["INFO", "server"])).as_text();
    let v = parse_info(&info)
        .into_iter()
        .find(|(_, k, _)| k == "redis_version")
        .expect("redis_version in INFO")
        .2;
    let mut it = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0)) >= (7, 2)
}

pub fn client_id(c: &mut RawConn) -> i64 {
    Reply::parse(&c.cmd(&["CLIENT", "ID"])).as_int()
}

/// The texts of an array (or set) reply, in reply order.
pub fn texts(r: &Reply) -> Vec<String> {
    r.as_array().iter().map(Reply::as_text).collect()
}

/// OBJECT ENCODING of `key`.
pub fn encoding(c: &mut RawConn, key: &str) -> String {
    Reply::parse(&c.cmd(&["OBJECT", "ENCODING", key])).as_text()
}

/// Run a key's SCAN-family command (`cmd` is HSCAN, SSCAN or ZSCAN) from
/// cursor 0 until the cursor comes back to 0, with `extra` arguments (MATCH,
/// COUNT...) on every call. Returns every item returned, in order and with
/// repeats, and the number of calls it took.
pub fn scan_key(c: &mut RawConn, cmd: &str, key: &str, extra: &[&str]) -> (Vec<String>, usize) {
    let mut cursor = "0".to_string();
    let mut items = Vec::new();
    let mut calls = 0;
    loop {
        let mut args = vec![cmd, key, cursor.as_str()];
        args.extend_from_slice(extra);
        let r = Reply::parse(&c.cmd(&args));
        let parts = r.as_array();
        assert_eq!(parts.len(), 2);
        let next = parts[0].as_text();
        items.extend(texts(&parts[1]));
        calls += 1;
        if next == "0" {
            return (items, calls);
        }
        cursor = next;
        assert!(calls < 10_000, "scan does not end");
    }
}

// ------------------------------------------------------------ blocked clients
//
// The blocking tests (lists, sorted sets, streams) know a client is blocked
// once INFO's blocked_clients says so, polled with a deadline: no test
// relies on a sleep being long enough.

/// How long a blocked client may take to show up in INFO, or to leave it.
pub const BLOCK_SETTLE: Duration = Duration::from_secs(5);

/// INFO clients' blocked_clients.
pub fn blocked_clients(admin: &mut RawConn) -> i64 {
    let info = Reply::parse(&admin.cmd(&["INFO", "clients"])).as_text();
    parse_info(&info)
        .into_iter()
        .find(|(_, k, _)| k == "blocked_clients")
        .map(|(_, _, v)| v.parse().expect("blocked_clients value"))
        .expect("INFO clients has blocked_clients")
}

/// Poll INFO until exactly `n` clients are blocked (at most `BLOCK_SETTLE`).
pub fn wait_blocked(admin: &mut RawConn, n: i64) {
    let deadline = Instant::now() + BLOCK_SETTLE;
    loop {
        let got = blocked_clients(admin);
        if got == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "blocked_clients stayed {got}, expected {n}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Send a blocking command without reading its reply.
pub fn block(c: &mut RawConn, args: &[&str]) {
    c.send(&encode_str(args));
}

/// Send a blocking command on `c` and wait until `admin` sees the server
/// count one more blocked client.
pub fn block_and_wait(c: &mut RawConn, admin: &mut RawConn, args: &[&str]) {
    let before = blocked_clients(admin);
    block(c, args);
    wait_blocked(admin, before + 1);
}

/// Assert that nothing has arrived on `c` (it is still blocked, and still
/// open) after waiting `wait`.
pub fn assert_no_reply(c: &RawConn, wait: Duration) {
    std::thread::sleep(wait);
    c.stream.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 256];
    let r = c.stream.peek(&mut buf);
    c.stream.set_nonblocking(false).unwrap();
    match r {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        Ok(0) => panic!("connection closed while it should be blocked"),
        Ok(n) => panic!("unexpected reply while blocked: {}", show(&buf[..n])),
        Err(e) => panic!("peek: {e}"),
    }
}

/// Read the next reply of a client that was blocked (the one a wake-up, a
/// timeout or CLIENT UNBLOCK sent it) and check it is `want`.
pub fn expect_reply(c: &mut RawConn, want: &[u8]) {
    let got = c.read_reply();
    assert_eq!(show(&got), show(want), "reply of a blocked client");
}

/// Run the blocking command `args`, whose timeout is `ms` milliseconds, and
/// check that it answers `null` after about that long: no sooner than
/// `ms - 10` ms, and within 3 s.
pub fn check_times_out(c: &mut RawConn, args: &[&str], ms: u64, null: &[u8]) {
    let start = Instant::now();
    c.check(args, null);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(ms - 10) && took < Duration::from_secs(3),
        "{args:?} timed out after {took:?}"
    );
}

// ------------------------------------------------------------------ streams

/// XPENDING's summary for a group with nothing pending: `[0, nil, nil, nil]`.
pub fn no_pending() -> Vec<u8> {
    array(&[int(0), nil(), nil(), nil_array()])
}

/// XPENDING's summary: count, first and last ID, `[consumer, count]` pairs
/// (the counts as bulk strings, as Redis sends them).
pub fn pending_summary(n: i64, first: &str, last: &str, consumers: &[(&str, i64)]) -> Vec<u8> {
    let per: Vec<Vec<u8>> = consumers
        .iter()
        .map(|(c, k)| bulks(&[c, &k.to_string()]))
        .collect();
    array(&[int(n), bulk(first), bulk(last), array(&per)])
}

/// The entries of an XPENDING extended-form reply to `args`:
/// `(id, consumer, idle ms, deliveries)` each.
pub fn xpending_entries(c: &mut RawConn, args: &[&str]) -> Vec<(String, String, i64, i64)> {
    let r = Reply::parse(&c.cmd(args));
    r.as_array()
        .iter()
        .map(|e| {
            let e = e.as_array();
            assert_eq!(e.len(), 4, "XPENDING entry {e:?}");
            (e[0].as_text(), e[1].as_text(), e[2].as_int(), e[3].as_int())
        })
        .collect()
}

/// Generate one `#[test]` per listed function for 1 shard and for 3 shards.
/// Each function takes `&Server`.
#[macro_export]
macro_rules! sharded_tests {
    ($($name:ident),* $(,)?) => {
        mod threads1 {
            $(
                #[test]
                fn $name() {
                    let server = $crate::common::Server::start(1);
                    super::$name(&server);
                }
            )*
        }
        mod threads3 {
            $(
                #[test]
                fn $name() {
                    let server = $crate::common::Server::start(3);
                    super::$name(&server);
                }
            )*
        }
    };
}

/// Run the target binary with `args` (no harness-added arguments) and wait up
/// to 5 s for it to exit. Returns None if it was still running (then killed).
pub fn run_to_exit(args: &[&str]) -> Option<(std::process::ExitStatus, String)> {
    let program = match target() {
        Target::Ringbus(p) => p,
        Target::Redis => redis_server_path(),
    };
    let mut child = Command::new(&program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {program:?}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut out = String::new();
            if let Some(mut o) = child.stdout.take() {
                let _ = o.read_to_string(&mut out);
            }
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut out);
            }
            return Some((status, out));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The options of a ringbus with `threads` executors that keeps its
/// append-only log in `dir` with `appendfsync always` (the replay tests).
pub fn logged_args<'a>(threads: &'a str, dir: &'a str) -> [&'a str; 10] {
    [
        "--threads",
        threads,
        "--dir",
        dir,
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ]
}
