//! Connection memory and limits under real load (issue 11): idle connections
//! give their buffers back, the query-buffer limit holds while an argument is
//! arriving, the open-file limit is adapted to `maxclients`, per-client memory
//! is reported truly, output stays paced by what the client reads, inline
//! requests with NUL bytes and requests past 2 GB behave as in Redis, and
//! INFO's memory fields are computed.
//!
//! Memory bounds are generous (a few MiB above a measured baseline) and no
//! test asserts on time.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

const MIB: u64 = 1024 * 1024;

fn info_field(c: &mut RawConn, section: &str, field: &str) -> String {
    let reply = Reply::parse(&c.cmd(&["INFO", section]));
    parse_info(&reply.as_text())
        .into_iter()
        .find(|(_, k, _)| k == field)
        .unwrap_or_else(|| panic!("INFO {section} has no {field}"))
        .2
}

fn used_memory(c: &mut RawConn) -> u64 {
    info_field(c, "memory", "used_memory").parse().unwrap()
}

/// A client's CLIENT LIST fields, by name.
fn client_fields(admin: &mut RawConn, id: i64) -> Vec<(String, String)> {
    let text = Reply::parse(&admin.cmd(&["CLIENT", "LIST", "ID", &id.to_string()])).as_text();
    text.trim()
        .split(' ')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn client_field(admin: &mut RawConn, id: i64, name: &str) -> u64 {
    client_fields(admin, id)
        .into_iter()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("CLIENT LIST has no {name}"))
        .1
        .parse()
        .unwrap()
}

/// Waits (bounded) until `f` holds; used for state another connection reaches
/// asynchronously, never to assert on speed.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

macro_rules! both_thread_counts {
    ($($name:ident),* $(,)?) => {
        mod threads1 { $( #[test] fn $name() { super::$name(1); } )* }
        mod threads3 { $( #[test] fn $name() { super::$name(3); } )* }
    };
}

both_thread_counts!(
    idle_connections_give_buffers_back,
    maxmemory_is_not_tripped_by_idle_connections,
    rejected_writes_leave_no_memory_behind,
    query_buffer_limit_holds_mid_argument,
    query_buffer_is_reported_while_an_argument_arrives,
    output_memory_is_reported,
    multi_queue_is_reported,
    output_is_paced_on_a_fresh_connection,
    output_is_paced_after_subscribing,
    output_is_paced_after_a_large_request,
    normal_output_limit_closes_the_client,
    inline_nul_waits_like_redis,
    info_memory_fields_are_computed,
    changes_since_save_count_writes,
);

fn idle_connections_give_buffers_back(threads: usize) {
    let t = threads.to_string();
    let s = Server::start_with(&["--threads", &t]);
    let mut admin = s.raw();
    let value = vec![b'v'; 20 * MIB as usize];
    admin.cmd_bytes(&[b"SET", b"big", &value]);
    let base = used_memory(&mut admin);
    let mut idle = Vec::new();
    for _ in 0..20 {
        let mut c = s.raw();
        assert_eq!(c.cmd(&["STRLEN", "big"]), int(value.len() as i64));
        let got = c.cmd(&["GET", "big"]);
        assert_eq!(got.len(), value.len() + 13);
        idle.push(c);
    }
    // Given back as each connection goes idle (redis-server frees them in
    // its cron, within a few seconds).
    eventually("buffers of 20 idle GET connections given back", || {
        used_memory(&mut admin) < base + 8 * MIB
    });
    for i in 0..20 {
        let mut c = s.raw();
        let key = format!("tmp{i}");
        assert_eq!(c.cmd_bytes(&[b"SET", key.as_bytes(), &value]), ok());
        assert_eq!(c.cmd(&["DEL", &key]), int(1));
        idle.push(c);
    }
    eventually("buffers of 20 idle SET connections given back", || {
        used_memory(&mut admin) < base + 8 * MIB
    });
}

fn maxmemory_is_not_tripped_by_idle_connections(threads: usize) {
    let t = threads.to_string();
    let s = Server::start_with(&["--threads", &t, "--maxmemory", "100mb"]);
    let mut admin = s.raw();
    let value = vec![b'v'; 20 * MIB as usize];
    assert_eq!(admin.cmd_bytes(&[b"SET", b"big", &value]), ok());
    let mut idle = Vec::new();
    for _ in 0..4 {
        let mut c = s.raw();
        assert_eq!(c.cmd(&["GET", "big"]).len(), value.len() + 13);
        idle.push(c);
    }
    admin.check(&["SET", "small", "1"], &ok());
    assert_eq!(admin.cmd(&["DBSIZE"]), int(2));
}

fn rejected_writes_leave_no_memory_behind(threads: usize) {
    let t = threads.to_string();
    let s = Server::start_with(&["--threads", &t, "--maxmemory", "100mb"]);
    let mut c = s.raw();
    let fill = vec![b'f'; 20 * MIB as usize];
    for i in 0..3 {
        assert_eq!(
            c.cmd_bytes(&[b"SET", format!("fill{i}").as_bytes(), &fill]),
            ok()
        );
    }
    let mut admin = s.raw();
    let before = used_memory(&mut admin);
    assert!(before > 60 * MIB, "the fill is {before} bytes");
    // Refused: its own 45 MB take memory past 100 MB while it arrives.
    let huge = vec![b'h'; 45 * MIB as usize];
    for _ in 0..2 {
        let reply = c.cmd_bytes(&[b"SET", b"huge", &huge]);
        assert!(reply.starts_with(b"-OOM "), "{}", show(&reply));
        eventually("a refused 40 MB SET's buffer given back", || {
            used_memory(&mut admin) < before + 8 * MIB
        });
    }
}

/// Sends the start of `SET k <len bytes>` and `sent` bytes of the value.
fn start_big_set(port: u16, len: usize, sent: usize) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${len}\r\n").as_bytes())
        .unwrap();
    let chunk = vec![b'v'; 1 << 20];
    let mut left = sent;
    while left > 0 {
        let n = left.min(chunk.len());
        if s.write_all(&chunk[..n]).is_err() {
            break;
        }
        left -= n;
    }
    s
}

/// Reads until the server closes: whatever it sent first.
fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("expected the server to close the connection: {e} (got {got:?})"),
        }
    }
}

fn query_buffer_limit_holds_mid_argument(threads: usize) {
    let t = threads.to_string();
    let s = Server::start_with(&["--threads", &t, "--client-query-buffer-limit", "1mb"]);
    let mut admin = s.raw();
    for len in [2 * MIB as usize, 100 * MIB as usize] {
        let mut c = start_big_set(s.port(), len, len);
        let _ = c.write_all(b"\r\n");
        let got = read_to_close(&mut c);
        assert!(
            !got.starts_with(b"+OK"),
            "a {len}-byte SET over a 1mb query buffer limit was accepted"
        );
    }
    assert_eq!(admin.cmd(&["EXISTS", "k"]), int(0));
    assert!(used_memory(&mut admin) < 16 * MIB);
    // Under the limit it still works.
    let value = vec![b'x'; 512 * 1024];
    assert_eq!(admin.cmd_bytes(&[b"SET", b"k", &value]), ok());
}

fn query_buffer_is_reported_while_an_argument_arrives(threads: usize) {
    let t = threads.to_string();
    let s = Server::start_with(&["--threads", &t]);
    let mut admin = s.raw();
    let before: Vec<i64> = {
        let text = Reply::parse(&admin.cmd(&["CLIENT", "LIST"])).as_text();
        text.lines()
            .filter_map(|l| l.split(' ').next()?.strip_prefix("id=")?.parse().ok())
            .collect()
    };
    // 30 MB of a declared 50 MB argument.
    let mut c = start_big_set(s.port(), 50 * MIB as usize, 30 * MIB as usize);
    let text = Reply::parse(&admin.cmd(&["CLIENT", "LIST"])).as_text();
    let id: i64 = text
        .lines()
        .filter_map(|l| l.split(' ').next()?.strip_prefix("id=")?.parse().ok())
        .find(|id| !before.contains(id))
        .expect("the uploading client");
    eventually("30 MB buffered", || {
        client_field(&mut admin, id, "qbuf") >= 30 * MIB
    });
    let fields = client_fields(&mut admin, id);
    let get = |n: &str| -> u64 {
        fields
            .iter()
            .find(|(k, _)| k == n)
            .unwrap()
            .1
            .parse()
            .unwrap()
    };
    assert!(get("tot-mem") >= get("qbuf"), "{fields:?}");
    // The rest arrives and the SET completes.
    let chunk = vec![b'v'; 1 << 20];
    for _ in 0..20 {
        c.write_all(&chunk).unwrap();
    }
    c.write_all(b"\r\n").unwrap();
    let mut ok_reply = [0u8; 5];
    c.read_exact(&mut ok_reply).unwrap();
    assert_eq!(&ok_reply, b"+OK\r\n");
    assert_eq!(admin.cmd(&["STRLEN", "k"]), int(50 * MIB as i64));
    eventually("the query buffer given back", || {
        client_field(&mut admin, id, "qbuf") == 0 && client_field(&mut admin, id, "tot-mem") < MIB
    });
}

fn output_memory_is_reported(threads: usize) {
    let t = threads.to_string();
    let s = Server::start_with(&["--threads", &t]);
    let mut admin = s.raw();
    let value = vec![b'v'; 100 * MIB as usize];
    admin.cmd_bytes(&[b"SET", b"big", &value]);
    let mut c = s.raw();
    let id = client_id(&mut c);
    c.send(&encode_str(&["GET", "big"]));
    // The client does not read: most of the 100 MB waits in the server.
    eventually("omem of a 100 MB reply", || {
        client_field(&mut admin, id, "omem") >= 100 * MIB
    });
    let tot = client_field(&mut admin, id, "tot-mem");
    assert!(tot >= 100 * MIB, "tot-mem {tot}");
    let clients: u64 = info_field(&mut admin, "memory", "mem_clients_normal")
        .parse()
        .unwrap();
    assert!(clients >= 100 * MIB, "mem_clients_normal {clients}");
    assert_eq!(c.read_reply().len(), value.len() + 14);
    eventually("output sent", || client_field(&mut admin, id, "omem") == 0);
    assert!(client_field(&mut admin, id, "tot-mem") < MIB);
    // The client's own view: the arguments of the command it runs.
    let own = Reply::parse(&c.cmd(&["CLIENT", "INFO"])).as_text();
    assert!(own.contains(" argv-mem=10 "), "{own}");
}

fn multi_queue_is_reported(threads: usize) {
    let t = threads.to_string();
    let s = Server::start_with(&["--threads", &t]);
    let mut admin = s.raw();
    let mut c = s.raw();
    let id = client_id(&mut c);
    assert!(client_fields(&mut admin, id).contains(&("multi".into(), "-1".into())));
    c.check(&["MULTI"], &simple("OK"));
    let value = "x".repeat(10_000);
    c.check(&["SET", "a", &value], &simple("QUEUED"));
    c.check(&["SET", "b", &value], &simple("QUEUED"));
    let fields = client_fields(&mut admin, id);
    assert!(fields.contains(&("multi".into(), "2".into())), "{fields:?}");
    assert!(fields.contains(&("flags".into(), "x".into())), "{fields:?}");
    let multi_mem = client_field(&mut admin, id, "multi-mem");
    assert!(multi_mem >= 20_000, "multi-mem {multi_mem}");
    c.cmd(&["EXEC"]);
    let fields = client_fields(&mut admin, id);
    assert!(
        fields.contains(&("multi".into(), "-1".into())),
        "{fields:?}"
    );
    assert!(
        fields.contains(&("multi-mem".into(), "0".into())),
        "{fields:?}"
    );
}

/// A client pipelines GETs of a 100 KB value for a while without reading a
/// reply; the server's memory must stay bounded (about what one pause of
/// output holds), whatever the connection did before.
fn pipeline_without_reading(s: &Server, c: &mut RawConn) {
    let mut admin = s.raw();
    admin.cmd_bytes(&[b"SET", b"v100k", &vec![b'x'; 100_000]]);
    let base = used_memory(&mut admin);
    c.stream.set_nonblocking(true).unwrap();
    let chunk = encode_str(&["GET", "v100k"]).repeat(10_000);
    let mut sent = 0usize;
    let mut peak = base;
    // Until the server stops reading (the socket is full both ways) and
    // some more, checking memory all along.
    let mut stalled = 0;
    while stalled < 50 && sent < 4_000_000_000 {
        match c.stream.write(&chunk) {
            Ok(n) => {
                sent += n;
                stalled = 0;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                stalled += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("write: {e}"),
        }
        peak = peak.max(used_memory(&mut admin));
    }
    assert!(
        peak < base + 64 * MIB,
        "a client that does not read drove used_memory from {base} to {peak}"
    );
}

fn output_is_paced_on_a_fresh_connection(threads: usize) {
    let s = Server::start(threads);
    if !s.is_ringbus() {
        return; // redis-server does not pace: its output buffer grows.
    }
    let mut c = s.raw();
    pipeline_without_reading(&s, &mut c);
}

fn output_is_paced_after_subscribing(threads: usize) {
    let s = Server::start(threads);
    if !s.is_ringbus() {
        return;
    }
    let mut c = s.raw();
    c.cmd(&["SUBSCRIBE", "ch"]);
    c.cmd(&["UNSUBSCRIBE", "ch"]);
    pipeline_without_reading(&s, &mut c);
}

fn output_is_paced_after_a_large_request(threads: usize) {
    let s = Server::start(threads);
    if !s.is_ringbus() {
        return;
    }
    let mut c = s.raw();
    assert_eq!(
        c.cmd_bytes(&[b"SET", b"big", &vec![b'b'; 64 * MIB as usize]]),
        ok()
    );
    pipeline_without_reading(&s, &mut c);
}

fn normal_output_limit_closes_the_client(threads: usize) {
    let t = threads.to_string();
    let s = Server::start_with(&[
        "--threads",
        &t,
        "--client-output-buffer-limit",
        "normal 1mb 0 0",
    ]);
    let mut admin = s.raw();
    admin.cmd_bytes(&[b"SET", b"big", &vec![b'v'; 2 * MIB as usize]]);
    admin.cmd_bytes(&[b"SET", b"small", &vec![b'v'; 1000]]);
    let mut c = s.raw();
    assert_eq!(c.cmd(&["GET", "small"]).len(), 1000 + 9);
    c.send(&encode_str(&["GET", "big"]));
    c.expect_closed();
    // Counted in INFO since Redis 7.2.
    let version = info_field(&mut admin, "server", "redis_version");
    if s.is_ringbus() || version.as_str() >= "7.2" {
        let n: u64 = info_field(
            &mut admin,
            "stats",
            "client_output_buffer_limit_disconnections",
        )
        .parse()
        .unwrap();
        assert_eq!(n, 1);
    }
}

fn inline_nul_waits_like_redis(threads: usize) {
    let s = Server::start(threads);
    let mut c = s.raw();
    // Redis looks for the end of an inline request with strchr: the NUL
    // hides the newline, so the request never ends...
    c.send(b"GET\x00k\r\n");
    assert_no_reply(&c, Duration::from_millis(300));
    // ...until it is too big.
    c.send(&vec![b'a'; 70_000]);
    assert_eq!(
        show(&c.read_reply()),
        show(&err("ERR Protocol error: too big inline request"))
    );
    c.expect_closed();
}

fn info_memory_fields_are_computed(threads: usize) {
    let s = Server::start(threads);
    let mut c = s.raw();
    c.cmd_bytes(&[b"SET", b"k", &vec![b'v'; 4 * MIB as usize]]);
    c.cmd(&["DEL", "k"]);
    let info = parse_info(&Reply::parse(&c.cmd(&["INFO", "memory"])).as_text());
    let field = |name: &str| -> f64 {
        info.iter()
            .find(|(_, k, _)| k == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .2
            .trim_end_matches('%')
            .parse()
            .unwrap()
    };
    let (used, peak, rss) = (
        field("used_memory"),
        field("used_memory_peak"),
        field("used_memory_rss"),
    );
    assert!(peak >= used, "peak {peak} below used {used}");
    assert!(peak >= (4 * MIB) as f64, "peak {peak} missed a 4 MB value");
    assert!(rss > 0.0);
    let ratio = field("mem_fragmentation_ratio");
    // redis-server's comes from samples its cron took; ringbus computes it
    // from the RSS and used memory this INFO read.
    assert!(
        !s.is_ringbus() || (ratio - rss / used).abs() <= 0.01 * ratio.max(1.0),
        "ratio {ratio}, rss {rss}, used {used}"
    );
    let perc = field("used_memory_peak_perc");
    assert!((perc - used * 100.0 / peak).abs() < 0.02, "{perc}");
}

fn changes_since_save_count_writes(threads: usize) {
    let s = Server::start(threads);
    let mut c = s.raw();
    let changes = |c: &mut RawConn| -> u64 {
        info_field(c, "persistence", "rdb_changes_since_last_save")
            .parse()
            .unwrap()
    };
    let before = changes(&mut c);
    let mut pipeline = Vec::new();
    for i in 0..1000 {
        pipeline.extend(encode_str(&["SET", &format!("k{i}"), "v"]));
    }
    c.send(&pipeline);
    for _ in 0..1000 {
        c.read_reply();
    }
    assert_eq!(changes(&mut c), before + 1000);
    // CONFIG RESETSTAT resets statistics, not what the next save owes.
    c.cmd(&["CONFIG", "RESETSTAT"]);
    assert_eq!(changes(&mut c), before + 1000);
}

/// Past the open-file limit: the server raises its soft limit to fit
/// `maxclients` (or lowers `maxclients` when it may not), so 3,000 clients
/// each get PONG or the max-clients error; none hangs.
#[test]
fn open_file_limit_is_adapted() {
    raise_own_fd_limit(8000);
    let s = Server::start_wrapped(
        &["prlimit", "--nofile=2000:2000", "--"],
        &["--threads", "2"],
    );
    let mut admin = s.raw();
    let max: usize = Reply::parse(&admin.cmd(&["CONFIG", "GET", "maxclients"])).as_array()[1]
        .as_text()
        .parse()
        .unwrap();
    let log = s.log_text();
    if max == 10000 {
        assert!(
            log.contains("Increased maximum number of open files"),
            "{log}"
        );
    } else {
        assert!(max < 2000, "maxclients {max} with a hard limit of 2000");
        assert!(log.contains("maxclients has been reduced to"), "{log}");
    }
    connect_many(&s, 3000, max);
}

/// The same where the process may not raise its hard limit: maxclients comes
/// down to fit, and clients past it get the error.
#[test]
fn maxclients_is_lowered_to_the_open_file_limit() {
    raise_own_fd_limit(8000);
    // As root, drop the capability that would let it raise the hard limit.
    let root = unsafe { libc::geteuid() } == 0;
    let mut wrapper = vec!["prlimit", "--nofile=2000:2000", "--"];
    if root {
        wrapper.extend(["setpriv", "--bounding-set", "-sys_resource", "--"]);
    }
    let s = Server::start_wrapped(&wrapper, &["--threads", "2"]);
    let mut admin = s.raw();
    let max: usize = Reply::parse(&admin.cmd(&["CONFIG", "GET", "maxclients"])).as_array()[1]
        .as_text()
        .parse()
        .unwrap();
    assert!(max < 2000 && max > 1800, "maxclients {max}");
    let log = s.log_text();
    assert!(log.contains("maxclients has been reduced to"), "{log}");
    // CONFIG SET cannot go past what the limit holds.
    let reply = admin.cmd(&["CONFIG", "SET", "maxclients", "5000"]);
    assert!(
        show(&reply).contains(
            "The operating system is not able to handle the specified number of clients, try with"
        ),
        "{}",
        show(&reply)
    );
    connect_many(&s, 3000, max);
}

fn raise_own_fd_limit(want: u64) {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) };
    if l.rlim_cur < want {
        l.rlim_cur = want.min(l.rlim_max);
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &l) };
    }
}

/// Opens `n` connections at once, each sending PING: every one must get
/// PONG or `-ERR max number of clients reached` (and at most `max` PONGs
/// while all are open).
fn connect_many(s: &Server, n: usize, max: usize) {
    let mut conns = Vec::new();
    for _ in 0..n {
        let mut c = TcpStream::connect(("127.0.0.1", s.port())).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        c.write_all(b"PING\r\n").unwrap();
        conns.push(c);
    }
    let (mut pong, mut refused) = (0, 0);
    for c in &mut conns {
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        while !got.ends_with(b"\r\n") {
            match c.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => got.extend_from_slice(&buf[..k]),
                Err(e) => panic!("a connection got no reply: {e}"),
            }
        }
        match &got[..] {
            b"+PONG\r\n" => pong += 1,
            b"-ERR max number of clients reached\r\n" => refused += 1,
            other => panic!("unexpected reply {:?}", String::from_utf8_lossy(other)),
        }
    }
    assert_eq!(pong + refused, n);
    // The admin connection is one of the clients.
    assert!(pong < max, "{pong} PONGs with maxclients {max}");
    if max > n {
        assert_eq!(refused, 0);
    } else {
        assert!(refused > 0);
    }
}

/// `proto-max-bulk-len 4gb`: an argument past 2 GB (which no single socket
/// read or write can carry) is read, stored and sent back whole.
#[test]
fn request_past_two_gigabytes() {
    let s = Server::start_with(&[
        "--threads",
        "2",
        "--proto-max-bulk-len",
        "4gb",
        "--client-query-buffer-limit",
        "4gb",
    ]);
    let len: usize = (1 << 31) + 16;
    let mut c = start_big_set(s.port(), len, len);
    c.write_all(b"\r\n").unwrap();
    let mut reply = [0u8; 5];
    c.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    c.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"+OK\r\n");
    let mut admin = s.raw();
    assert_eq!(admin.cmd(&["STRLEN", "k"]), int(len as i64));
    // GET it back: read and count, without keeping it.
    c.write_all(&encode_str(&["GET", "k"])).unwrap();
    let header = format!("${len}\r\n");
    let mut total = 0usize;
    let mut buf = vec![0u8; 1 << 20];
    let want = header.len() + len + 2;
    let mut head = Vec::new();
    while total < want {
        let n = c.read(&mut buf).unwrap();
        assert!(n > 0, "closed after {total} of {want} bytes");
        if head.len() < header.len() {
            head.extend_from_slice(&buf[..n.min(header.len() - head.len())]);
        }
        total += n;
    }
    assert_eq!(head, header.as_bytes());
    assert_eq!(total, want);
    assert_eq!(admin.cmd(&["DEL", "k"]), int(1));
}
