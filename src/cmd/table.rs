//! The command table: every command's name, arity, flags, key positions and
//! executor, as Redis's command table describes them. The connection consults it
//! for arity checks and routing; COMMAND INFO / DOCS / COUNT report from it.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::multi::Spread;
use super::{keys, strings, ConnCmd, Exec};

pub struct CommandSpec {
    /// Lower-case name; subcommands are named `container|sub` as Redis does.
    pub name: &'static str,
    /// Positive: exact argument count (name included); negative: at least -arity.
    pub arity: i32,
    pub flags: &'static [&'static str],
    /// Key positions: first, last (negative counts from the end), step; 0 0 0 for none.
    pub keys: (i32, i32, i32),
    /// ACL category / COMMAND DOCS group.
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    pub exec: Exec,
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }

    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    /// Positions of the keys in `argc` arguments.
    pub fn key_positions(&self, argc: usize) -> impl Iterator<Item = usize> {
        let (first, last, step) = self.keys;
        let argc = argc as i32;
        let (start, end, step) = if first <= 0 {
            (1, 1, 1)
        } else {
            let last = if last < 0 { argc + last } else { last.min(argc - 1) };
            (first, (last + 1).max(first), step.max(1))
        };
        (start..end).step_by(step as usize).map(|i| i as usize)
    }

    /// The name Redis shows in errors: `get`, `config|get`.
    pub fn full_name(&self) -> &'static str {
        self.name
    }

    /// The subcommand of a container, by the request's second argument.
    pub fn subcommand(&self, sub: &[u8]) -> Option<&'static CommandSpec> {
        self.subcommands.iter().find(|s| {
            let short = s.name.rsplit('|').next().unwrap_or(s.name);
            sub.eq_ignore_ascii_case(short.as_bytes())
        })
    }
}

const W: &[&str] = &["write", "denyoom"];
const WF: &[&str] = &["write", "denyoom", "fast"];
const WD: &[&str] = &["write"];
const WDF: &[&str] = &["write", "fast"];
const R: &[&str] = &["readonly"];
const RF: &[&str] = &["readonly", "fast"];
const CONN: &[&str] = &["fast", "loading", "stale"];
const NOAUTH: &[&str] = &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"];
const ADMIN: &[&str] = &["admin", "noscript", "loading", "stale"];
const SERVER: &[&str] = &["loading", "stale"];

const fn spec(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    keys: (i32, i32, i32),
    group: &'static str,
    summary: &'static str,
    exec: Exec,
) -> CommandSpec {
    CommandSpec { name, arity, flags, keys, group, summary, since: "1.0.0", exec, subcommands: &[] }
}

const fn container(name: &'static str, group: &'static str, summary: &'static str, subs: &'static [CommandSpec]) -> CommandSpec {
    CommandSpec {
        name,
        arity: -2,
        flags: &[],
        keys: (0, 0, 0),
        group,
        summary,
        since: "1.0.0",
        exec: Exec::Container,
        subcommands: subs,
    }
}

const NO_KEYS: (i32, i32, i32) = (0, 0, 0);
const KEY1: (i32, i32, i32) = (1, 1, 1);
const ALL_KEYS: (i32, i32, i32) = (1, -1, 1);
const PAIRS: (i32, i32, i32) = (1, -1, 2);

use Exec::{Conn, Multi, Shard};

static CLIENT_SUBS: &[CommandSpec] = &[
    spec("client|id", 2, CONN, NO_KEYS, "connection", "Returns the unique client ID of the connection.", Conn(ConnCmd::ClientId)),
    spec("client|setname", 3, CONN, NO_KEYS, "connection", "Sets the connection name.", Conn(ConnCmd::ClientSetName)),
    spec("client|getname", 2, CONN, NO_KEYS, "connection", "Returns the name of the connection.", Conn(ConnCmd::ClientGetName)),
    spec("client|list", -2, ADMIN, NO_KEYS, "connection", "Lists open connections.", Conn(ConnCmd::ClientList)),
    spec("client|info", 2, CONN, NO_KEYS, "connection", "Returns information about the connection.", Conn(ConnCmd::ClientInfo)),
    spec("client|kill", -3, ADMIN, NO_KEYS, "connection", "Terminates open connections.", Conn(ConnCmd::ClientKill)),
    spec("client|no-evict", 3, ADMIN, NO_KEYS, "connection", "Sets the client eviction mode of the connection.", Conn(ConnCmd::ClientNoEvict)),
    spec("client|setinfo", 4, CONN, NO_KEYS, "connection", "Sets information specific to the client or connection.", Conn(ConnCmd::ClientSetInfo)),
];

static CONFIG_SUBS: &[CommandSpec] = &[
    spec("config|get", -3, ADMIN, NO_KEYS, "server", "Returns the effective values of configuration parameters.", Conn(ConnCmd::ConfigGet)),
    spec("config|set", -4, ADMIN, NO_KEYS, "server", "Sets configuration parameters in-flight.", Conn(ConnCmd::ConfigSet)),
    spec("config|resetstat", 2, ADMIN, NO_KEYS, "server", "Resets the server's statistics.", Conn(ConnCmd::ConfigResetStat)),
];

static COMMAND_SUBS: &[CommandSpec] = &[
    spec("command|count", 2, SERVER, NO_KEYS, "server", "Returns a count of commands.", Conn(ConnCmd::CommandCount)),
    spec("command|info", -2, SERVER, NO_KEYS, "server", "Returns information about one, multiple or all commands.", Conn(ConnCmd::CommandInfo)),
    spec("command|docs", -2, SERVER, NO_KEYS, "server", "Returns documentary information about one, multiple or all commands.", Conn(ConnCmd::CommandDocs)),
    spec("command|list", -2, SERVER, NO_KEYS, "server", "Returns a list of command names.", Conn(ConnCmd::CommandList)),
];

static OBJECT_SUBS: &[CommandSpec] = &[spec(
    "object|encoding",
    3,
    R,
    (2, 2, 1),
    "keyspace",
    "Returns the internal encoding of a Redis object.",
    Shard(keys::object),
)];

/// Every command ringbus knows.
pub static COMMANDS: &[CommandSpec] = &[
    // Connection and server.
    spec("ping", -1, CONN, NO_KEYS, "connection", "Returns the server's liveliness response.", Conn(ConnCmd::Ping)),
    spec("echo", 2, CONN, NO_KEYS, "connection", "Returns the given string.", Conn(ConnCmd::Echo)),
    spec("hello", -1, NOAUTH, NO_KEYS, "connection", "Handshakes with the Redis server.", Conn(ConnCmd::Hello)),
    spec("quit", -1, NOAUTH, NO_KEYS, "connection", "Closes the connection.", Conn(ConnCmd::Quit)),
    spec("reset", 1, NOAUTH, NO_KEYS, "connection", "Resets the connection.", Conn(ConnCmd::Reset)),
    spec("select", 2, CONN, NO_KEYS, "connection", "Changes the selected database.", Conn(ConnCmd::Select)),
    spec("auth", -2, NOAUTH, NO_KEYS, "connection", "Authenticates the connection.", Conn(ConnCmd::Auth)),
    container("client", "connection", "A container for client connection commands.", CLIENT_SUBS),
    spec("info", -1, SERVER, NO_KEYS, "server", "Returns information and statistics about the server.", Conn(ConnCmd::Info)),
    container("config", "server", "A container for server configuration commands.", CONFIG_SUBS),
    CommandSpec {
        name: "command",
        arity: -1,
        flags: SERVER,
        keys: NO_KEYS,
        group: "server",
        summary: "Returns detailed information about all commands.",
        since: "2.8.13",
        exec: Conn(ConnCmd::Command),
        subcommands: COMMAND_SUBS,
    },
    spec("dbsize", 1, &["readonly", "fast"], NO_KEYS, "server", "Returns the number of keys in the database.", Conn(ConnCmd::Dbsize)),
    spec("flushdb", -1, WD, NO_KEYS, "server", "Removes all keys from the current database.", Conn(ConnCmd::FlushDb)),
    spec("flushall", -1, WD, NO_KEYS, "server", "Removes all keys from all databases.", Conn(ConnCmd::FlushAll)),
    spec("time", 1, CONN, NO_KEYS, "server", "Returns the server time.", Conn(ConnCmd::Time)),
    spec("lastsave", 1, CONN, NO_KEYS, "server", "Returns the Unix timestamp of the last successful save to disk.", Conn(ConnCmd::Lastsave)),
    // Keys.
    spec("keys", 2, R, NO_KEYS, "keyspace", "Returns all key names that match a pattern.", Conn(ConnCmd::Keys)),
    spec("scan", -2, R, NO_KEYS, "keyspace", "Iterates over the key names in the database.", Conn(ConnCmd::Scan)),
    spec("randomkey", 1, R, NO_KEYS, "keyspace", "Returns a random key name from the database.", Conn(ConnCmd::RandomKey)),
    spec("del", -2, WD, ALL_KEYS, "keyspace", "Deletes one or more keys.", Multi(keys::del, Spread::Del)),
    spec("unlink", -2, WDF, ALL_KEYS, "keyspace", "Asynchronously deletes one or more keys.", Multi(keys::del, Spread::Del)),
    spec("exists", -2, RF, ALL_KEYS, "keyspace", "Determines whether one or more keys exist.", Multi(keys::exists, Spread::Exists)),
    spec("touch", -2, RF, ALL_KEYS, "keyspace", "Returns the number of existing keys out of those specified.", Multi(keys::exists, Spread::Exists)),
    spec("type", 2, RF, KEY1, "keyspace", "Determines the type of value stored at a key.", Shard(keys::type_)),
    spec("rename", 3, WD, (1, 2, 1), "keyspace", "Renames a key and overwrites the destination.", Multi(keys::rename, Spread::Rename { nx: false })),
    spec("renamenx", 3, WDF, (1, 2, 1), "keyspace", "Renames a key only when the target key name doesn't exist.", Multi(keys::renamenx, Spread::Rename { nx: true })),
    spec("expire", -3, WDF, KEY1, "keyspace", "Sets the expiration time of a key in seconds.", Shard(keys::expire)),
    spec("pexpire", -3, WDF, KEY1, "keyspace", "Sets the expiration time of a key in milliseconds.", Shard(keys::pexpire)),
    spec("expireat", -3, WDF, KEY1, "keyspace", "Sets the expiration time of a key to a Unix timestamp.", Shard(keys::expireat)),
    spec("pexpireat", -3, WDF, KEY1, "keyspace", "Sets the expiration time of a key to a Unix milliseconds timestamp.", Shard(keys::pexpireat)),
    spec("ttl", 2, RF, KEY1, "keyspace", "Returns the expiration time in seconds of a key.", Shard(keys::ttl)),
    spec("pttl", 2, RF, KEY1, "keyspace", "Returns the expiration time in milliseconds of a key.", Shard(keys::pttl)),
    spec("expiretime", 2, RF, KEY1, "keyspace", "Returns the expiration time of a key as a Unix timestamp.", Shard(keys::expiretime)),
    spec("pexpiretime", 2, RF, KEY1, "keyspace", "Returns the expiration time of a key as a Unix milliseconds timestamp.", Shard(keys::pexpiretime)),
    spec("persist", 2, WDF, KEY1, "keyspace", "Removes the expiration time of a key.", Shard(keys::persist)),
    container("object", "keyspace", "A container for object introspection commands.", OBJECT_SUBS),
    // Strings.
    spec("get", 2, RF, KEY1, "string", "Returns the string value of a key.", Shard(strings::get)),
    spec("set", -3, W, KEY1, "string", "Sets the string value of a key, ignoring its type.", Shard(strings::set)),
    spec("setnx", 3, WF, KEY1, "string", "Set the string value of a key only when the key doesn't exist.", Shard(strings::setnx)),
    spec("setex", 4, W, KEY1, "string", "Sets the string value and expiration time of a key.", Shard(strings::setex)),
    spec("psetex", 4, W, KEY1, "string", "Sets both string value and expiration time in milliseconds of a key.", Shard(strings::psetex)),
    spec("getset", 3, WF, KEY1, "string", "Returns the previous string value of a key after setting it to a new value.", Shard(strings::getset)),
    spec("getdel", 2, WDF, KEY1, "string", "Returns the string value of a key after deleting the key.", Shard(strings::getdel)),
    spec("getex", -2, WDF, KEY1, "string", "Returns the string value of a key after setting its expiration time.", Shard(strings::getex)),
    spec("mget", -2, RF, ALL_KEYS, "string", "Atomically returns the string values of one or more keys.", Multi(strings::mget, Spread::Mget)),
    spec("mset", -3, W, PAIRS, "string", "Atomically creates or modifies the string values of one or more keys.", Multi(strings::mset, Spread::Mset)),
    spec("msetnx", -3, W, PAIRS, "string", "Atomically modifies the string values of one or more keys only when all keys don't exist.", Multi(strings::msetnx, Spread::Msetnx)),
    spec("incr", 2, WF, KEY1, "string", "Increments the integer value of a key by one.", Shard(strings::incr)),
    spec("decr", 2, WF, KEY1, "string", "Decrements the integer value of a key by one.", Shard(strings::decr)),
    spec("incrby", 3, WF, KEY1, "string", "Increments the integer value of a key by a number.", Shard(strings::incrby)),
    spec("decrby", 3, WF, KEY1, "string", "Decrements a number from the integer value of a key.", Shard(strings::decrby)),
    spec("incrbyfloat", 3, WF, KEY1, "string", "Increment the floating point value of a key by a number.", Shard(strings::incrbyfloat)),
    spec("append", 3, WF, KEY1, "string", "Appends a string to the value of a key.", Shard(strings::append)),
    spec("strlen", 2, RF, KEY1, "string", "Returns the length of a string value.", Shard(strings::strlen)),
    spec("getrange", 4, R, KEY1, "string", "Returns a substring of the string stored at a key.", Shard(strings::getrange)),
    spec("setrange", 4, W, KEY1, "string", "Overwrites a part of a string value with another by an offset.", Shard(strings::setrange)),
];

/// Finds a command by name, ignoring ASCII case.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    static INDEX: OnceLock<HashMap<&'static str, &'static CommandSpec, ahash::RandomState>> = OnceLock::new();
    let index = INDEX.get_or_init(|| COMMANDS.iter().map(|c| (c.name, c)).collect());
    let mut lower = [0u8; 32];
    if name.len() > lower.len() {
        return None;
    }
    for (dst, src) in lower.iter_mut().zip(name) {
        *dst = src.to_ascii_lowercase();
    }
    let lower = std::str::from_utf8(&lower[..name.len()]).ok()?;
    index.get(lower).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_positions_follow_first_last_step() {
        let mset = lookup(b"MSET").unwrap();
        assert_eq!(mset.key_positions(5).collect::<Vec<_>>(), vec![1, 3]);
        let del = lookup(b"del").unwrap();
        assert_eq!(del.key_positions(4).collect::<Vec<_>>(), vec![1, 2, 3]);
        let ping = lookup(b"Ping").unwrap();
        assert_eq!(ping.key_positions(2).count(), 0);
        let rename = lookup(b"rename").unwrap();
        assert_eq!(rename.key_positions(3).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn names_are_unique_and_lowercase() {
        let mut seen = std::collections::HashSet::new();
        for c in COMMANDS {
            assert!(seen.insert(c.name), "duplicate {}", c.name);
            assert_eq!(c.name, c.name.to_ascii_lowercase());
        }
    }
}
