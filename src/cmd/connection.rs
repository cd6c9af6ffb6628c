//! Connection commands (PING, ECHO, HELLO, AUTH, SELECT, RESET, QUIT,
//! CLIENT, SHUTDOWN): they run on the client's own core and may change the
//! connection's state.

use super::args::{is, truncated, CmdResult, Error};
use super::exec::Client;
use super::spec::decl::*;
use super::{pubsub, session};
use crate::resp::parse::parse_i64;
use crate::resp::Proto;
use crate::server::connection::{Flow, Session};

/// The Redis version ringbus answers as (HELLO, INFO): the behaviour it mirrors.
pub use crate::REDIS_VERSION;

// ----------------------------------------------------------------- commands

/// PING [message]. In RESP2's subscribed context it answers as a message-
/// shaped array, as Redis does.
pub fn ping(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    if let Some(s) = c.session() {
        if s.subscribed() && s.proto() == Proto::Resp2 && argv.len() <= 2 {
            s.out.array(2);
            s.out.bulk(b"pong");
            s.out.bulk(argv.get(1).copied().unwrap_or(b""));
            return Ok(());
        }
    }
    match argv.len() {
        1 => c.out().simple("PONG"),
        2 => c.out().bulk(argv[1]),
        _ => return Err(Error::arity("ping")),
    }
    Ok(())
}

pub fn echo(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    c.out().bulk(argv[1]);
    Ok(())
}

pub fn hello_cmd(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    hello(session(c), argv)
}

pub async fn quit(c: &mut dyn Client, _: &[&[u8]]) -> Flow {
    c.out().ok();
    Flow::Close
}

pub fn reset_cmd(c: &mut dyn Client, _: &[&[u8]]) -> CmdResult {
    reset(session(c));
    Ok(())
}

pub fn auth_cmd(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    auth(session(c), argv)
}

pub fn client_id(c: &mut dyn Client, _: &[&[u8]]) -> CmdResult {
    let id = session(c).client_id();
    c.out().int(id as i64);
    Ok(())
}

pub fn client_setname(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    set_name(session(c), argv[2])?;
    c.out().ok();
    Ok(())
}

/// CLIENT REPLY ON|OFF|SKIP: ON answers OK (even after OFF); OFF and SKIP
/// answer nothing (see `Session::dispatch`).
pub fn client_reply(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    let s = session(c);
    let mode = argv[2];
    if is(mode, "on") {
        s.reply_off = false;
        s.skipping = false;
        s.skip_next = false;
        s.out.ok();
    } else if is(mode, "off") {
        s.reply_off = true;
    } else if is(mode, "skip") {
        if !s.reply_off {
            s.skip_next = true;
        }
    } else {
        return Err(Error::SYNTAX);
    }
    Ok(())
}

/// CLIENT PAUSE timeout [WRITE | ALL]
pub fn client_pause(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 4 {
        return Err(Error::msg(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(argv[1])
        )));
    }
    // Redis's order: the mode, then the timeout.
    let all = match argv.get(3) {
        None => true,
        Some(m) if is(m, "all") => true,
        Some(m) if is(m, "write") => false,
        Some(_) => return Err(Error::msg("ERR CLIENT PAUSE mode must be WRITE or ALL")),
    };
    let ms = crate::resp::parse::parse_i64(argv[2])
        .ok_or(Error::msg("ERR timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(Error::msg("ERR timeout is negative"));
    }
    let now = crate::shard::now_ms();
    let until = now.saturating_add(ms as u64);
    c.core().shared.pause.start(until, all, now);
    c.out().ok();
    Ok(())
}

/// CLIENT UNPAUSE
pub fn client_unpause(c: &mut dyn Client, _: &[&[u8]]) -> CmdResult {
    c.core().shared.pause.end();
    c.out().ok();
    Ok(())
}

pub fn client_getname(c: &mut dyn Client, _: &[&[u8]]) -> CmdResult {
    let s = session(c);
    let name = s.info.borrow().name.clone();
    s.out.bulk_opt((!name.is_empty()).then_some(&name[..]));
    Ok(())
}

pub fn client_info(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    let s = session(c);
    s.note_argv(argv);
    s.note_reply_buffer();
    let line = s.info.borrow().describe(std::time::Instant::now()) + "\n";
    s.out.verbatim(line.as_bytes());
    Ok(())
}

pub fn client_no_evict(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    if is(argv[2], "on") || is(argv[2], "off") {
        c.out().ok();
        Ok(())
    } else {
        Err(Error::SYNTAX)
    }
}

pub fn client_setinfo_cmd(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    client_setinfo(session(c), argv)
}

pub async fn client_list_cmd(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    let s = session(c);
    s.note_argv(argv);
    client_list(s, argv).await
}

pub async fn client_kill_cmd(c: &mut dyn Client, argv: &[&[u8]]) -> Flow {
    client_kill(session(c), argv).await
}

pub async fn client_unblock_cmd(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    client_unblock(session(c), argv).await
}

/// SELECT, for a connection or a script.
pub fn select(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    let db = parse_i64(argv[1])
        .filter(|n| i32::try_from(*n).is_ok())
        .ok_or(Error::NOT_INTEGER)?;
    let databases = c.core().config.borrow().databases;
    if db < 0 || db as usize >= databases {
        return Err(Error::DB_RANGE);
    }
    c.set_db(db as usize);
    c.out().ok();
    Ok(())
}

/// Checks a password for the only user ringbus has, `default`.
fn check_password(s: &Session, user: &[u8], password: &[u8]) -> bool {
    if user != b"default" {
        return false;
    }
    match &s.core.config.borrow().requirepass {
        None => true,
        Some(pass) => pass.as_bytes() == password,
    }
}

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

fn auth(s: &mut Session, argv: &[&[u8]]) -> Result<(), Error> {
    let (user, password): (&[u8], &[u8]) = match argv.len() {
        2 => {
            if s.core.config.borrow().requirepass.is_none() {
                return Err(Error::msg(
                    "ERR AUTH <password> called without any password configured for the default user. \
                     Are you sure your configuration is correct?",
                ));
            }
            (b"default", argv[1])
        }
        3 => (argv[1], argv[2]),
        _ => return Err(Error::SYNTAX),
    };
    if !check_password(s, user, password) {
        return Err(Error::msg(WRONGPASS));
    }
    s.authenticated = true;
    s.out.ok();
    Ok(())
}

fn hello(s: &mut Session, argv: &[&[u8]]) -> Result<(), Error> {
    let mut proto = None;
    let mut next = 1;
    if argv.len() >= 2 {
        let ver = parse_i64(argv[1])
            .ok_or_else(|| Error::msg("ERR Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&ver) {
            return Err(Error::msg("NOPROTO unsupported protocol version"));
        }
        proto = Some(if ver == 3 { Proto::Resp3 } else { Proto::Resp2 });
        next = 2;
    }
    let mut credentials = None;
    let mut name = None;
    let mut j = next;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if is(argv[j], "auth") && more >= 2 {
            credentials = Some((argv[j + 1], argv[j + 2]));
            j += 3;
        } else if is(argv[j], "setname") && more >= 1 {
            name = Some(argv[j + 1]);
            j += 2;
        } else {
            return Err(Error::msg(format!(
                "ERR Syntax error in HELLO option '{}'",
                truncated(argv[j], 128)
            )));
        }
    }
    if let Some((user, password)) = credentials {
        if !check_password(s, user, password) {
            return Err(Error::msg(WRONGPASS));
        }
        s.authenticated = true;
    }
    if !s.authenticated {
        return Err(Error::msg(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> \
             <pass> option can be used to authenticate the client and select the RESP protocol \
             version at the same time",
        ));
    }
    if let Some(name) = name {
        set_name(s, name)?;
    }
    if let Some(proto) = proto {
        s.set_proto(proto);
    }
    let id = s.info.borrow().id;
    let out = &mut s.out;
    out.map(7);
    out.bulk_str("server");
    out.bulk_str("redis");
    out.bulk_str("version");
    out.bulk_str(REDIS_VERSION);
    out.bulk_str("proto");
    out.int(if out.resp3() { 3 } else { 2 });
    out.bulk_str("id");
    out.int(id as i64);
    out.bulk_str("mode");
    out.bulk_str("standalone");
    out.bulk_str("role");
    out.bulk_str("master");
    out.bulk_str("modules");
    out.array(0);
    Ok(())
}

fn reset(s: &mut Session) {
    pubsub::leave_all(s);
    s.tx.queue = None;
    super::transaction::unwatch(s);
    s.set_db(0);
    s.set_proto(Proto::Resp2);
    s.info.borrow_mut().name.clear();
    s.authenticated = s.core.config.borrow().requirepass.is_none();
    s.out.simple("RESET");
}

/// Client names and library attributes: printable ASCII without spaces.
fn valid_attr(value: &[u8]) -> bool {
    value.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

fn set_name(s: &mut Session, name: &[u8]) -> Result<(), Error> {
    if !valid_attr(name) {
        return Err(Error::msg(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    s.info.borrow_mut().name = name.to_vec();
    Ok(())
}

fn client_setinfo(s: &mut Session, argv: &[&[u8]]) -> Result<(), Error> {
    let (attr, value) = (argv[2], argv[3]);
    let lib_name = is(attr, "lib-name");
    if !lib_name && !is(attr, "lib-ver") {
        return Err(Error::msg(format!(
            "ERR Unrecognized option '{}'",
            truncated(attr, 128)
        )));
    }
    if !valid_attr(value) {
        return Err(Error::msg(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            truncated(attr, 128)
        )));
    }
    let mut info = s.info.borrow_mut();
    if lib_name {
        info.lib_name = value.to_vec();
    } else {
        info.lib_ver = value.to_vec();
    }
    drop(info);
    s.out.ok();
    Ok(())
}

async fn client_list(s: &mut Session, argv: &[&[u8]]) -> Result<(), Error> {
    let mut ids: Option<Vec<u64>> = None;
    let mut kind: Option<ClientType> = None;
    if argv.len() > 2 {
        if is(argv[2], "type") && argv.len() == 4 {
            kind = Some(client_type(argv[3])?);
        } else if is(argv[2], "id") && argv.len() >= 4 {
            let parsed: Option<Vec<u64>> = argv[3..]
                .iter()
                .map(|a| parse_i64(a).filter(|n| *n > 0).map(|n| n as u64))
                .collect();
            ids = Some(parsed.ok_or_else(|| Error::msg("ERR Invalid client ID"))?);
        } else {
            return Err(Error::SYNTAX);
        }
    }
    s.note_reply_buffer();
    let per_core = s
        .core
        .on_every_core(move |core| {
            let clients = core.clients.borrow();
            let mut lines = clients.describe_all(ids.as_deref());
            if let Some(kind) = kind {
                lines.retain(|(id, _)| {
                    clients
                        .get(*id)
                        .is_some_and(|c| ClientType::of(&c.borrow()) == kind)
                });
            }
            lines
        })
        .await;
    let mut lines: Vec<(u64, String)> = per_core.into_iter().flatten().collect();
    lines.sort_by_key(|(id, _)| *id);
    let mut text = String::new();
    for (_, line) in lines {
        text.push_str(&line);
        text.push('\n');
    }
    s.out.verbatim(text.as_bytes());
    Ok(())
}

/// Redis's client classes; ringbus has no replicas or masters, so those
/// types always list nobody.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ClientType {
    Normal,
    Pubsub,
    Replica,
    Master,
}

impl ClientType {
    fn of(c: &crate::server::client::ClientInfo) -> ClientType {
        if c.is_pubsub() {
            ClientType::Pubsub
        } else {
            ClientType::Normal
        }
    }
}

/// Reads a CLIENT LIST / KILL `TYPE` argument.
fn client_type(kind: &[u8]) -> Result<ClientType, Error> {
    Ok(match () {
        _ if is(kind, "normal") => ClientType::Normal,
        _ if is(kind, "pubsub") => ClientType::Pubsub,
        _ if is(kind, "replica") || is(kind, "slave") => ClientType::Replica,
        _ if is(kind, "master") => ClientType::Master,
        _ => {
            return Err(Error::msg(format!(
                "ERR Unknown client type '{}'",
                truncated(kind, 128)
            )))
        }
    })
}

/// Which clients CLIENT KILL picks.
#[derive(Clone, Default)]
struct KillFilter {
    id: Option<u64>,
    addr: Option<String>,
    laddr: Option<String>,
    skip_id: Option<u64>,
    kind: Option<ClientType>,
}

async fn client_kill(s: &mut Session, argv: &[&[u8]]) -> Flow {
    let me = s.info.borrow().id;
    let old_form = argv.len() == 3;
    let filter = match parse_kill(argv, me) {
        Ok(f) => f,
        Err(e) => {
            s.out.error(&e.0);
            return Flow::Continue;
        }
    };
    let counts = s
        .core
        .on_every_core(move |core| {
            let mut killed = 0i64;
            let mut killed_caller = false;
            for client in core.clients.borrow().iter() {
                let mut c = client.borrow_mut();
                let hit = filter.kind.is_none_or(|k| k == ClientType::of(&c))
                    && filter.id.is_none_or(|id| id == c.id)
                    && filter
                        .addr
                        .as_ref()
                        .is_none_or(|a| *a == c.addr.to_string())
                    && filter
                        .laddr
                        .as_ref()
                        .is_none_or(|a| *a == c.laddr.to_string())
                    && filter.skip_id != Some(c.id);
                if hit {
                    killed += 1;
                    c.killed = true;
                    if c.id == me {
                        killed_caller = true;
                    } else {
                        // Wakes the connection's pending read so it sees `killed`.
                        // SAFETY: shutdown on a socket fd owned by a live connection.
                        unsafe { libc::shutdown(c.fd, libc::SHUT_RDWR) };
                    }
                }
            }
            (killed, killed_caller)
        })
        .await;
    let killed: i64 = counts.iter().map(|(n, _)| n).sum();
    if old_form {
        if killed == 0 {
            s.out.error("ERR No such client");
        } else {
            s.out.ok();
        }
    } else {
        s.out.int(killed);
    }
    if counts.iter().any(|(_, me)| *me) {
        Flow::Close
    } else {
        Flow::Continue
    }
}

fn parse_kill(argv: &[&[u8]], me: u64) -> Result<KillFilter, Error> {
    let mut f = KillFilter::default();
    if argv.len() == 3 {
        f.addr = Some(String::from_utf8_lossy(argv[2]).into_owned());
        return Ok(f);
    }
    f.skip_id = Some(me);
    for pair in argv[2..].chunks(2) {
        let [opt, value] = pair else {
            return Err(Error::SYNTAX);
        };
        if is(opt, "id") {
            let id = parse_i64(value)
                .filter(|n| *n > 0)
                .ok_or_else(|| Error::msg("ERR client-id should be greater than 0"))?;
            f.id = Some(id as u64);
        } else if is(opt, "addr") {
            f.addr = Some(String::from_utf8_lossy(value).into_owned());
        } else if is(opt, "laddr") {
            f.laddr = Some(String::from_utf8_lossy(value).into_owned());
        } else if is(opt, "skipme") {
            f.skip_id = match () {
                _ if is(value, "yes") => Some(me),
                _ if is(value, "no") => None,
                _ => return Err(Error::SYNTAX),
            };
        } else if is(opt, "type") {
            f.kind = Some(client_type(value)?);
        } else if is(opt, "user") {
            if value != b"default" {
                return Err(Error::msg(format!(
                    "ERR No such user '{}'",
                    truncated(value, 128)
                )));
            }
        } else if is(opt, "maxage") {
            parse_i64(value).ok_or(Error::NOT_INTEGER)?;
        } else {
            return Err(Error::SYNTAX);
        }
    }
    Ok(f)
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 when that client was blocked.
async fn client_unblock(s: &mut Session, argv: &[&[u8]]) -> Result<(), Error> {
    let id = super::blocking::client_id(argv[2])?;
    if argv.len() > 4 {
        return Err(Error::SYNTAX);
    }
    let error = super::blocking::unblock_mode(argv.get(3).copied())?;
    let done = s
        .core
        .on_every_core(move |core| super::blocking::unblock(core, id, error))
        .await;
    s.out.int(done.iter().any(|d| *d) as i64);
    Ok(())
}

// ------------------------------------------------------------ commands

#[rustfmt::skip]
static CLIENT_SUBS: &[CommandSpec] = &[
    spec("client|id", 2, CONN, NO_KEYS, "connection", "Returns the unique client ID of the connection.", Exec::Local(client_id), ""),
    spec("client|setname", 3, CONN, NO_KEYS, "connection", "Sets the connection name.", Exec::Local(client_setname), "connection-name"),
    spec("client|getname", 2, CONN, NO_KEYS, "connection", "Returns the name of the connection.", Exec::Local(client_getname), ""),
    spec("client|list", -2, ADMIN, NO_KEYS, "connection", "Lists open connections.", crate::awaits!(client_list_cmd),
    "[TYPE <NORMAL | MASTER | REPLICA | PUBSUB>] [ID client-id [client-id ...]]"),
    spec("client|info", 2, CONN, NO_KEYS, "connection", "Returns information about the connection.", Exec::Local(client_info), ""),
    spec("client|kill", -3, ADMIN, NO_KEYS, "connection", "Terminates open connections.", Exec::Client(crate::client_fn!(client_kill_cmd)),
    "ip:port | <[ID client-id] | [TYPE <NORMAL | MASTER | SLAVE | REPLICA | PUBSUB>] | [USER username] | \
    [ADDR ip:port] | [LADDR ip:port] | [SKIPME <YES | NO>]> [...]"),
    spec("client|reply", 3, &["noscript", "loading", "stale"], NO_KEYS, "connection",
    "Instructs the server whether to reply to commands.", Exec::Local(client_reply), "<ON | OFF | SKIP>"),
    spec("client|pause", -3, ADMIN, NO_KEYS, "connection", "Suspends commands processing.",
    Exec::Local(client_pause), "timeout [WRITE | ALL]"),
    spec("client|unpause", 2, ADMIN, NO_KEYS, "connection", "Resumes processing commands from paused clients.",
    Exec::Local(client_unpause), ""),
    spec("client|no-evict", 3, ADMIN, NO_KEYS, "connection", "Sets the client eviction mode of the connection.",
    Exec::Local(client_no_evict), "<ON | OFF>"),
    spec("client|unblock", -3, ADMIN, NO_KEYS, "connection", "Unblocks a client blocked by a blocking command from a different connection.",
    crate::awaits!(client_unblock_cmd), "client-id [TIMEOUT | ERROR]"),
    spec("client|setinfo", 4, CONN, NO_KEYS, "connection", "Sets information specific to the client or connection.",
    Exec::Local(client_setinfo_cmd), "<LIB-NAME libname | LIB-VER libver>"),
];

/// The connection commands, as the command table lists them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("ping", -1, &["fast"], NO_KEYS, "connection", "Returns the server's liveliness response.", Exec::Now(ping), "[message]"),
    spec("echo", 2, CONN, NO_KEYS, "connection", "Returns the given string.", Exec::Now(echo), "message"),
    spec("hello", -1, NOAUTH, NO_KEYS, "connection", "Handshakes with the Redis server.", Exec::Local(hello_cmd),
        "[protover [AUTH username password] [SETNAME clientname]]"),
    spec("quit", -1, NOAUTH, NO_KEYS, "connection", "Closes the connection.", Exec::Client(crate::client_fn!(quit)), ""),
    spec("reset", 1, NOAUTH, NO_KEYS, "connection", "Resets the connection.", Exec::Local(reset_cmd), ""),
    spec("select", 2, CONN, NO_KEYS, "connection", "Changes the selected database.", Exec::Local(select), "index"),
    spec("auth", -2, NOAUTH, NO_KEYS, "connection", "Authenticates the connection.", Exec::Local(auth_cmd), "[username] password"),
    container("client", "connection", "A container for client connection commands.", CLIENT_SUBS),
];
