//! The command table: every command's name, arity, flags, key positions and
//! executor, as Redis's command table describes them. The connection consults it
//! for arity checks and routing; COMMAND INFO / DOCS / COUNT report from it.

use std::sync::OnceLock;

pub use super::spec::{CommandSpec, KeySpec};
use super::{hashes, keys, lists, sets, stream_groups, streams, strings, zsets, Exec};
use crate::cross;

const W: &[&str] = &["write", "denyoom"];
const WF: &[&str] = &["write", "denyoom", "fast"];
const WD: &[&str] = &["write"];
const WDF: &[&str] = &["write", "fast"];
const R: &[&str] = &["readonly"];
const RF: &[&str] = &["readonly", "fast"];
const CONN: &[&str] = &["fast", "loading", "stale"];
const NOAUTH: &[&str] = &[
    "noscript",
    "loading",
    "stale",
    "fast",
    "no_auth",
    "allow_busy",
];
const ADMIN: &[&str] = &["admin", "noscript", "loading", "stale"];
const SUB: &[&str] = &["pubsub", "noscript", "loading", "stale"];
const PUB: &[&str] = &["pubsub", "loading", "stale", "fast"];
const PUBSUB_INFO: &[&str] = &["pubsub", "loading", "stale"];
const SERVER: &[&str] = &["loading", "stale"];
const TX_FLAGS: &[&str] = &["noscript", "loading", "stale", "fast", "allow_busy"];

/// A command with its arguments' syntax as Redis's documentation writes it after the name.
/// One positional argument per column of the table below.
#[allow(clippy::too_many_arguments)]
const fn spec(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    keys: &'static [KeySpec],
    group: &'static str,
    summary: &'static str,
    exec: Exec,
    syntax: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        keys,
        group,
        summary,
        since: "1.0.0",
        syntax,
        exec,
        subcommands: &[],
    }
}

/// A container command (CLIENT, CONFIG...): no arguments of its own, only subcommands.
const fn container(
    name: &'static str,
    group: &'static str,
    summary: &'static str,
    subs: &'static [CommandSpec],
) -> CommandSpec {
    CommandSpec {
        name,
        arity: -2,
        flags: &[],
        keys: NO_KEYS,
        group,
        summary,
        since: "1.0.0",
        syntax: "",
        exec: Exec::Container,
        subcommands: subs,
    }
}

const NO_KEYS: &[KeySpec] = &[];
const KEY1: &[KeySpec] = &[KeySpec::one(1)];
const KEY2: &[KeySpec] = &[KeySpec::one(2)];
/// Two keys (a source and a destination).
const KEYS12: &[KeySpec] = &[KeySpec::one(1), KeySpec::one(2)];
const ALL_KEYS: &[KeySpec] = &[KeySpec::range(1, -1, 1)];
const PAIRS: &[KeySpec] = &[KeySpec::range(1, -1, 2)];
/// Keys then a timeout (BLPOP...).
const KEYS_TIMEOUT: &[KeySpec] = &[KeySpec::range(1, -2, 1)];
/// `numkeys key [key ...]` with the count first (LMPOP...), or after one
/// argument (BLMPOP's timeout, EVAL's script).
const NUMKEYS1: &[KeySpec] = &[KeySpec::numkeys(1)];
const NUMKEYS2: &[KeySpec] = &[KeySpec::numkeys(2)];
/// XREAD / XREADGROUP: `STREAMS key [key ...] id [id ...]`.
const STREAMS: &[KeySpec] = &[KeySpec::half_after("STREAMS")];

use super::exec;
use super::list_blocking::{self, ListCmd};
use super::zset_blocking::{self, ZsetCmd};
use super::{
    config, connection, info, introspection, keyspace, pubsub, scripting, server, stream_read,
    transaction,
};
use crate::client_fn;
use Exec::{Client, Local, Multi, Now, Shard, Unordered};

/// A client command of an `async fn(&mut dyn Client, &[&[u8]]) -> CmdResult`.
macro_rules! awaits {
    ($f:path) => {
        Client(|c, a| {
            Box::pin(async move {
                let result = $f(&mut *c, a).await;
                exec::finish(c, result)
            })
        })
    };
}

#[rustfmt::skip]
static CLIENT_SUBS: &[CommandSpec] = &[
    spec("client|id", 2, CONN, NO_KEYS, "connection", "Returns the unique client ID of the connection.", Local(connection::client_id), ""),
    spec("client|setname", 3, CONN, NO_KEYS, "connection", "Sets the connection name.", Local(connection::client_setname), "connection-name"),
    spec("client|getname", 2, CONN, NO_KEYS, "connection", "Returns the name of the connection.", Local(connection::client_getname), ""),
    spec("client|list", -2, ADMIN, NO_KEYS, "connection", "Lists open connections.", awaits!(connection::client_list_cmd),
        "[TYPE <NORMAL | MASTER | REPLICA | PUBSUB>] [ID client-id [client-id ...]]"),
    spec("client|info", 2, CONN, NO_KEYS, "connection", "Returns information about the connection.", Local(connection::client_info), ""),
    spec("client|kill", -3, ADMIN, NO_KEYS, "connection", "Terminates open connections.", Client(client_fn!(connection::client_kill_cmd)),
        "ip:port | <[ID client-id] | [TYPE <NORMAL | MASTER | SLAVE | REPLICA | PUBSUB>] | [USER username] | \
         [ADDR ip:port] | [LADDR ip:port] | [SKIPME <YES | NO>]> [...]"),
    spec("client|no-evict", 3, ADMIN, NO_KEYS, "connection", "Sets the client eviction mode of the connection.",
        Local(connection::client_no_evict), "<ON | OFF>"),
    spec("client|unblock", -3, ADMIN, NO_KEYS, "connection", "Unblocks a client blocked by a blocking command from a different connection.",
        awaits!(connection::client_unblock_cmd), "client-id [TIMEOUT | ERROR]"),
    spec("client|setinfo", 4, CONN, NO_KEYS, "connection", "Sets information specific to the client or connection.",
        Local(connection::client_setinfo_cmd), "<LIB-NAME libname | LIB-VER libver>"),
];

#[rustfmt::skip]
static CONFIG_SUBS: &[CommandSpec] = &[
    spec("config|get", -3, ADMIN, NO_KEYS, "server", "Returns the effective values of configuration parameters.",
        Local(config::config_get), "parameter [parameter ...]"),
    spec("config|set", -4, ADMIN, NO_KEYS, "server", "Sets configuration parameters in-flight.", awaits!(config::config_set),
        "parameter value [parameter value ...]"),
    spec("config|resetstat", 2, ADMIN, NO_KEYS, "server", "Resets the server's statistics.", awaits!(config::config_resetstat), ""),
];

#[rustfmt::skip]
static COMMAND_SUBS: &[CommandSpec] = &[
    spec("command|count", 2, SERVER, NO_KEYS, "server", "Returns a count of commands.", Local(introspection::command_count), ""),
    spec("command|info", -2, SERVER, NO_KEYS, "server", "Returns information about one, multiple or all commands.",
        Local(introspection::command_info_cmd), "[command-name [command-name ...]]"),
    spec("command|docs", -2, SERVER, NO_KEYS, "server", "Returns documentary information about one, multiple or all commands.",
        Local(introspection::command_docs_cmd), "[command-name [command-name ...]]"),
    spec("command|list", -2, SERVER, NO_KEYS, "server", "Returns a list of command names.", Local(introspection::command_list_cmd),
        "[FILTERBY <MODULE module-name | ACLCAT category | PATTERN pattern>]"),
    spec("command|getkeys", -3, SERVER, NO_KEYS, "server", "Extracts the key names from an arbitrary command.",
        Local(introspection::command_getkeys_cmd), "command [arg [arg ...]]"),
    spec("command|getkeysandflags", -3, SERVER, NO_KEYS, "server", "Extracts the key names and access flags for an arbitrary command.",
        Local(introspection::command_getkeysandflags), "command [arg [arg ...]]"),
];

const EVAL_FLAGS: &[&str] = &[
    "noscript",
    "stale",
    "skip_monitor",
    "may_replicate",
    "no_mandatory_keys",
    "movablekeys",
];
const EVAL_RO_FLAGS: &[&str] = &[
    "readonly",
    "noscript",
    "stale",
    "skip_monitor",
    "no_mandatory_keys",
    "movablekeys",
];

static SCRIPT_SUBS: &[CommandSpec] = &[
    spec(
        "script|load",
        3,
        &["noscript", "stale"],
        NO_KEYS,
        "scripting",
        "Loads a server-side Lua script to the script cache.",
        awaits!(scripting::script_load),
        "script",
    ),
    spec(
        "script|exists",
        -3,
        &["noscript"],
        NO_KEYS,
        "scripting",
        "Determines whether server-side Lua scripts exist in the script cache.",
        awaits!(scripting::script_exists),
        "sha1 [sha1 ...]",
    ),
    spec(
        "script|flush",
        -2,
        &["noscript"],
        NO_KEYS,
        "scripting",
        "Removes all server-side Lua scripts from the script cache.",
        awaits!(scripting::script_flush),
        "[ASYNC | SYNC]",
    ),
    spec(
        "script|kill",
        2,
        &["noscript", "allow_busy"],
        NO_KEYS,
        "scripting",
        "Terminates a server-side Lua script during execution.",
        awaits!(scripting::script_kill),
        "",
    ),
    spec(
        "script|help",
        2,
        &["loading", "stale"],
        NO_KEYS,
        "scripting",
        "Returns helpful text about the different subcommands.",
        awaits!(scripting::script_help),
        "",
    ),
];

static FUNCTION_SUBS: &[CommandSpec] = &[
    spec(
        "function|load",
        -3,
        &["write", "denyoom", "noscript"],
        NO_KEYS,
        "scripting",
        "Creates a library.",
        awaits!(scripting::function_load),
        "[REPLACE] function-code",
    ),
    spec(
        "function|delete",
        3,
        &["write", "noscript"],
        NO_KEYS,
        "scripting",
        "Deletes a library and its functions.",
        awaits!(scripting::function_delete),
        "library-name",
    ),
    spec(
        "function|flush",
        -2,
        &["write", "noscript"],
        NO_KEYS,
        "scripting",
        "Deletes all libraries and functions.",
        awaits!(scripting::function_flush),
        "[ASYNC | SYNC]",
    ),
    spec(
        "function|list",
        -2,
        &["noscript"],
        NO_KEYS,
        "scripting",
        "Returns information about all libraries.",
        awaits!(scripting::function_list_cmd),
        "[LIBRARYNAME library-name-pattern] [WITHCODE]",
    ),
    spec(
        "function|dump",
        2,
        &["noscript"],
        NO_KEYS,
        "scripting",
        "Dumps all libraries into a serialized binary payload.",
        awaits!(scripting::function_dump),
        "",
    ),
    spec(
        "function|restore",
        -3,
        &["write", "denyoom", "noscript"],
        NO_KEYS,
        "scripting",
        "Restores all libraries from a payload.",
        awaits!(scripting::function_restore),
        "serialized-value [FLUSH | APPEND | REPLACE]",
    ),
    spec(
        "function|stats",
        2,
        &["noscript", "allow_busy"],
        NO_KEYS,
        "scripting",
        "Returns information about a function during execution.",
        awaits!(scripting::function_stats),
        "",
    ),
    spec(
        "function|kill",
        2,
        &["noscript", "allow_busy"],
        NO_KEYS,
        "scripting",
        "Terminates a function during execution.",
        awaits!(scripting::function_kill),
        "",
    ),
    spec(
        "function|help",
        2,
        &["loading", "stale"],
        NO_KEYS,
        "scripting",
        "Returns helpful text about the different subcommands.",
        awaits!(scripting::function_help),
        "",
    ),
];

static XGROUP_SUBS: &[CommandSpec] = &[
    spec(
        "xgroup|create",
        -5,
        W,
        KEY2,
        "stream",
        "Creates a consumer group.",
        Shard(stream_groups::xgroup),
        "key group <id | $> [MKSTREAM] [ENTRIESREAD entries-read]",
    ),
    spec(
        "xgroup|setid",
        -5,
        WD,
        KEY2,
        "stream",
        "Sets the last-delivered ID of a consumer group.",
        Shard(stream_groups::xgroup),
        "key group <id | $> [ENTRIESREAD entries-read]",
    ),
    spec(
        "xgroup|destroy",
        4,
        WD,
        KEY2,
        "stream",
        "Destroys a consumer group.",
        Shard(stream_groups::xgroup),
        "key group",
    ),
    spec(
        "xgroup|createconsumer",
        5,
        W,
        KEY2,
        "stream",
        "Creates a consumer in a consumer group.",
        Shard(stream_groups::xgroup),
        "key group consumer",
    ),
    spec(
        "xgroup|delconsumer",
        5,
        WD,
        KEY2,
        "stream",
        "Deletes a consumer from a consumer group.",
        Shard(stream_groups::xgroup),
        "key group consumer",
    ),
    spec(
        "xgroup|help",
        2,
        SERVER,
        NO_KEYS,
        "stream",
        "Returns helpful text about the different subcommands.",
        Shard(stream_groups::xgroup_help),
        "",
    ),
];

static XINFO_SUBS: &[CommandSpec] = &[
    spec(
        "xinfo|consumers",
        4,
        R,
        KEY2,
        "stream",
        "Returns a list of the consumers in a consumer group.",
        Shard(stream_groups::xinfo),
        "key group",
    ),
    spec(
        "xinfo|groups",
        3,
        R,
        KEY2,
        "stream",
        "Returns a list of the consumer groups of a stream.",
        Shard(stream_groups::xinfo),
        "key",
    ),
    spec(
        "xinfo|stream",
        -3,
        R,
        KEY2,
        "stream",
        "Returns information about a stream.",
        Shard(stream_groups::xinfo),
        "key [FULL [COUNT count]]",
    ),
    spec(
        "xinfo|help",
        2,
        SERVER,
        NO_KEYS,
        "stream",
        "Returns helpful text about the different subcommands.",
        Shard(stream_groups::xinfo_help),
        "",
    ),
];

static PUBSUB_SUBS: &[CommandSpec] = &[
    spec(
        "pubsub|channels",
        -2,
        PUBSUB_INFO,
        NO_KEYS,
        "pubsub",
        "Returns the active channels.",
        awaits!(pubsub::pubsub_channels),
        "[pattern]",
    ),
    spec(
        "pubsub|numsub",
        -2,
        PUBSUB_INFO,
        NO_KEYS,
        "pubsub",
        "Returns a count of subscribers to channels.",
        awaits!(pubsub::pubsub_numsub),
        "[channel [channel ...]]",
    ),
    spec(
        "pubsub|numpat",
        2,
        PUBSUB_INFO,
        NO_KEYS,
        "pubsub",
        "Returns a count of unique pattern subscriptions.",
        awaits!(pubsub::pubsub_numpat),
        "",
    ),
    spec(
        "pubsub|shardchannels",
        -2,
        PUBSUB_INFO,
        NO_KEYS,
        "pubsub",
        "Returns the active shard channels.",
        awaits!(pubsub::pubsub_channels),
        "[pattern]",
    ),
    spec(
        "pubsub|shardnumsub",
        -2,
        PUBSUB_INFO,
        NO_KEYS,
        "pubsub",
        "Returns the count of subscribers of shard channels.",
        awaits!(pubsub::pubsub_shardnumsub),
        "[shardchannel [shardchannel ...]]",
    ),
    spec(
        "pubsub|help",
        2,
        SERVER,
        NO_KEYS,
        "pubsub",
        "Returns helpful text about the different subcommands.",
        Local(pubsub::pubsub_help),
        "",
    ),
];

#[rustfmt::skip]
static OBJECT_SUBS: &[CommandSpec] = &[
    spec("object|encoding", 3, R, KEY2, "keyspace", "Returns the internal encoding of a Redis object.", Shard(keys::object), "key"),
];

// MEMORY USAGE (every type; added with hashes and sets).
#[rustfmt::skip]
static MEMORY_SUBS: &[CommandSpec] = &[
    spec("memory|usage", -3, R, KEY2, "server", "Estimates the memory usage of a key.", Shard(keys::memory_usage),
        "key [SAMPLES count]"),
];

/// Every command ringbus knows.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    // Connection and server.
    spec("ping", -1, CONN, NO_KEYS, "connection", "Returns the server's liveliness response.", Now(connection::ping), "[message]"),
    spec("echo", 2, CONN, NO_KEYS, "connection", "Returns the given string.", Now(connection::echo), "message"),
    spec("hello", -1, NOAUTH, NO_KEYS, "connection", "Handshakes with the Redis server.", Local(connection::hello_cmd),
        "[protover [AUTH username password] [SETNAME clientname]]"),
    spec("quit", -1, NOAUTH, NO_KEYS, "connection", "Closes the connection.", Client(client_fn!(connection::quit)), ""),
    spec("reset", 1, NOAUTH, NO_KEYS, "connection", "Resets the connection.", Local(connection::reset_cmd), ""),
    spec("select", 2, CONN, NO_KEYS, "connection", "Changes the selected database.", Local(connection::select), "index"),
    spec("auth", -2, NOAUTH, NO_KEYS, "connection", "Authenticates the connection.", Local(connection::auth_cmd), "[username] password"),
    container("client", "connection", "A container for client connection commands.", CLIENT_SUBS),
    spec("info", -1, SERVER, NO_KEYS, "server", "Returns information and statistics about the server.", awaits!(info::info),
        "[section [section ...]]"),
    container("config", "server", "A container for server configuration commands.", CONFIG_SUBS),
    CommandSpec {
        name: "command",
        arity: -1,
        flags: SERVER,
        keys: NO_KEYS,
        group: "server",
        summary: "Returns detailed information about all commands.",
        since: "2.8.13",
        syntax: "",
        exec: Local(introspection::command),
        subcommands: COMMAND_SUBS,
    },
    spec("dbsize", 1, &["readonly", "fast"], NO_KEYS, "server", "Returns the number of keys in the database.", awaits!(keyspace::dbsize), ""),
    spec("flushdb", -1, WD, NO_KEYS, "server", "Removes all keys from the current database.", awaits!(keyspace::flushdb), "[ASYNC | SYNC]"),
    spec("flushall", -1, WD, NO_KEYS, "server", "Removes all keys from all databases.", awaits!(keyspace::flushall), "[ASYNC | SYNC]"),
    spec("time", 1, CONN, NO_KEYS, "server", "Returns the server time.", Local(server::time), ""),
    spec("shutdown", -1, &["admin", "noscript", "loading", "stale", "no_multi", "allow_busy"], NO_KEYS, "server",
        "Synchronously saves the database(s) to disk and shuts down the Redis server.", Local(server::shutdown),
        "[NOSAVE | SAVE] [NOW] [FORCE] [ABORT]"),
    spec("lastsave", 1, CONN, NO_KEYS, "server", "Returns the Unix timestamp of the last successful save to disk.", Local(server::lastsave), ""),
    // Lists.
    spec("lpush", -3, WF, KEY1, "list", "Prepends one or more elements to a list. Creates the key if it doesn't exist.",
        Shard(lists::lpush), "key element [element ...]"),
    spec("rpush", -3, WF, KEY1, "list", "Appends one or more elements to a list. Creates the key if it doesn't exist.",
        Shard(lists::rpush), "key element [element ...]"),
    spec("lpushx", -3, WF, KEY1, "list", "Prepends one or more elements to a list only when the list exists.",
        Shard(lists::lpushx), "key element [element ...]"),
    spec("rpushx", -3, WF, KEY1, "list", "Appends an element to a list only when the list exists.",
        Shard(lists::rpushx), "key element [element ...]"),
    spec("lpop", -2, WDF, KEY1, "list", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.",
        Shard(lists::lpop), "key [count]"),
    spec("rpop", -2, WDF, KEY1, "list", "Returns and removes the last elements of a list. Deletes the list if the last element was popped.",
        Shard(lists::rpop), "key [count]"),
    spec("llen", 2, RF, KEY1, "list", "Returns the length of a list.", Shard(lists::llen), "key"),
    spec("lrange", 4, R, KEY1, "list", "Returns a range of elements from a list.", Shard(lists::lrange), "key start stop"),
    spec("lindex", 3, R, KEY1, "list", "Returns an element from a list by its index.", Shard(lists::lindex), "key index"),
    spec("lset", 4, W, KEY1, "list", "Sets the value of an element in a list by its index.", Shard(lists::lset), "key index element"),
    spec("linsert", 5, W, KEY1, "list", "Inserts an element before or after another element in a list.", Shard(lists::linsert),
        "key <BEFORE | AFTER> pivot element"),
    spec("lrem", 4, WD, KEY1, "list", "Removes elements from a list. Deletes the list if the last element was removed.",
        Shard(lists::lrem), "key count element"),
    spec("ltrim", 4, WD, KEY1, "list", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.",
        Shard(lists::ltrim), "key start stop"),
    spec("lpos", -3, R, KEY1, "list", "Returns the index of matching elements in a list.", Shard(lists::lpos),
        "key element [RANK rank] [COUNT num-matches] [MAXLEN len]"),
    spec("rpoplpush", 3, W, KEYS12, "list", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.",
        Multi(lists::rpoplpush, cross!(lists::lmove_across)), "source destination"),
    spec("lmove", 5, W, KEYS12, "list", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.",
        Multi(lists::lmove, cross!(lists::lmove_across)), "source destination <LEFT | RIGHT> <LEFT | RIGHT>"),
    spec("lmpop", -4, &["write", "movablekeys"], NUMKEYS1, "list", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.",
        Multi(lists::lmpop, cross!(lists::lmpop_across)), "numkeys key [key ...] <LEFT | RIGHT> [COUNT count]"),
    spec("blpop", -3, &["write", "noscript", "blocking"], KEYS_TIMEOUT, "list",
        "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
        Client(|c, a| Box::pin(list_blocking::run(c, ListCmd::Blpop, a))), "key [key ...] timeout"),
    spec("brpop", -3, &["write", "noscript", "blocking"], KEYS_TIMEOUT, "list",
        "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
        Client(|c, a| Box::pin(list_blocking::run(c, ListCmd::Brpop, a))), "key [key ...] timeout"),
    spec("blmpop", -5, &["write", "blocking", "movablekeys"], NUMKEYS2, "list",
        "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
        Client(|c, a| Box::pin(list_blocking::run(c, ListCmd::Blmpop, a))), "timeout numkeys key [key ...] <LEFT | RIGHT> [COUNT count]"),
    spec("blmove", 6, &["write", "denyoom", "noscript", "blocking"], KEYS12, "list",
        "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.",
        Client(|c, a| Box::pin(list_blocking::run(c, ListCmd::Blmove, a))), "source destination <LEFT | RIGHT> <LEFT | RIGHT> timeout"),
    spec("brpoplpush", 4, &["write", "denyoom", "noscript", "blocking"], KEYS12, "list",
        "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.",
        Client(|c, a| Box::pin(list_blocking::run(c, ListCmd::Brpoplpush, a))), "source destination timeout"),
    // Transactions.
    spec("multi", 1, TX_FLAGS, NO_KEYS, "transactions", "Starts a transaction.", Local(transaction::multi), ""),
    spec("exec", 1, &["noscript", "loading", "stale", "skip_slowlog"], NO_KEYS, "transactions",
        "Executes all commands in a transaction.", awaits!(transaction::exec_cmd), ""),
    spec("discard", 1, TX_FLAGS, NO_KEYS, "transactions", "Discards a transaction.", Local(transaction::discard), ""),
    spec("watch", -2, TX_FLAGS, ALL_KEYS, "transactions",
        "Monitors changes to keys to determine the execution of a transaction.", awaits!(transaction::watch_cmd), "key [key ...]"),
    spec("unwatch", 1, TX_FLAGS, NO_KEYS, "transactions", "Forgets about watched keys of a transaction.",
        Local(transaction::unwatch_cmd), ""),
    // Scripting.
    spec("eval", -3, EVAL_FLAGS, NUMKEYS2, "scripting", "Executes a server-side Lua script.", awaits!(scripting::eval),
        "script numkeys [key [key ...]] [arg [arg ...]]"),
    spec("evalsha", -3, EVAL_FLAGS, NUMKEYS2, "scripting", "Executes a server-side Lua script by SHA1 digest.",
        awaits!(scripting::evalsha), "sha1 numkeys [key [key ...]] [arg [arg ...]]"),
    spec("eval_ro", -3, EVAL_RO_FLAGS, NUMKEYS2, "scripting", "Executes a read-only server-side Lua script.",
        awaits!(scripting::eval_ro), "script numkeys [key [key ...]] [arg [arg ...]]"),
    spec("evalsha_ro", -3, EVAL_RO_FLAGS, NUMKEYS2, "scripting", "Executes a read-only server-side Lua script by SHA1 digest.",
        awaits!(scripting::evalsha_ro), "sha1 numkeys [key [key ...]] [arg [arg ...]]"),
    container("script", "scripting", "A container for Lua scripts management commands.", SCRIPT_SUBS),
    spec("fcall", -3, EVAL_FLAGS, NUMKEYS2, "scripting", "Invokes a function.", awaits!(scripting::fcall_cmd),
        "function numkeys [key [key ...]] [arg [arg ...]]"),
    spec("fcall_ro", -3, EVAL_RO_FLAGS, NUMKEYS2, "scripting", "Invokes a read-only function.", awaits!(scripting::fcall_ro),
        "function numkeys [key [key ...]] [arg [arg ...]]"),
    container("function", "scripting", "A container for function commands.", FUNCTION_SUBS),
    // Sorted sets.
    spec("zadd", -4, WF, KEY1, "sorted_set", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.",
        Shard(zsets::zadd), "key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]"),
    spec("zincrby", 4, WF, KEY1, "sorted_set", "Increments the score of a member in a sorted set.", Shard(zsets::zincrby), "key increment member"),
    spec("zrem", -3, WDF, KEY1, "sorted_set", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.",
        Shard(zsets::zrem), "key member [member ...]"),
    spec("zscore", 3, RF, KEY1, "sorted_set", "Returns the score of a member in a sorted set.", Shard(zsets::zscore), "key member"),
    spec("zmscore", -3, RF, KEY1, "sorted_set", "Returns the score of one or more members in a sorted set.", Shard(zsets::zmscore),
        "key member [member ...]"),
    spec("zcard", 2, RF, KEY1, "sorted_set", "Returns the number of members in a sorted set.", Shard(zsets::zcard), "key"),
    spec("zcount", 4, RF, KEY1, "sorted_set", "Returns the count of members in a sorted set that have scores within a range.",
        Shard(zsets::zcount), "key min max"),
    spec("zlexcount", 4, RF, KEY1, "sorted_set", "Returns the number of members in a sorted set within a lexicographical range.",
        Shard(zsets::zlexcount), "key min max"),
    spec("zrank", -3, RF, KEY1, "sorted_set", "Returns the index of a member in a sorted set ordered by ascending scores.",
        Shard(zsets::zrank), "key member [WITHSCORE]"),
    spec("zrevrank", -3, RF, KEY1, "sorted_set", "Returns the index of a member in a sorted set ordered by descending scores.",
        Shard(zsets::zrevrank), "key member [WITHSCORE]"),
    spec("zrange", -4, R, KEY1, "sorted_set", "Returns members in a sorted set within a range of indexes.", Shard(zsets::zrange),
        "key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]"),
    spec("zrevrange", -4, R, KEY1, "sorted_set", "Returns members in a sorted set within a range of indexes in reverse order.",
        Shard(zsets::zrevrange), "key start stop [WITHSCORES]"),
    spec("zrangebyscore", -4, R, KEY1, "sorted_set", "Returns members in a sorted set within a range of scores.",
        Shard(zsets::zrangebyscore), "key min max [WITHSCORES] [LIMIT offset count]"),
    spec("zrevrangebyscore", -4, R, KEY1, "sorted_set", "Returns members in a sorted set within a range of scores in reverse order.",
        Shard(zsets::zrevrangebyscore), "key max min [WITHSCORES] [LIMIT offset count]"),
    spec("zrangebylex", -4, R, KEY1, "sorted_set", "Returns members in a sorted set within a lexicographical range.",
        Shard(zsets::zrangebylex), "key min max [LIMIT offset count]"),
    spec("zrevrangebylex", -4, R, KEY1, "sorted_set", "Returns members in a sorted set within a lexicographical range in reverse order.",
        Shard(zsets::zrevrangebylex), "key max min [LIMIT offset count]"),
    spec("zremrangebyscore", 4, WD, KEY1, "sorted_set", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.",
        Shard(zsets::zremrangebyscore), "key min max"),
    spec("zremrangebyrank", 4, WD, KEY1, "sorted_set", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.",
        Shard(zsets::zremrangebyrank), "key start stop"),
    spec("zremrangebylex", 4, WD, KEY1, "sorted_set", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.",
        Shard(zsets::zremrangebylex), "key min max"),
    spec("zpopmin", -2, WDF, KEY1, "sorted_set", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
        Shard(zsets::zpopmin), "key [count]"),
    spec("zpopmax", -2, WDF, KEY1, "sorted_set", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
        Shard(zsets::zpopmax), "key [count]"),
    spec("zmpop", -4, &["write", "movablekeys"], NUMKEYS1, "sorted_set", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.",
        Multi(zsets::zmpop, cross!(zsets::zmpop_across)), "numkeys key [key ...] <MIN | MAX> [COUNT count]"),
    spec("bzpopmin", -3, &["write", "noscript", "blocking", "fast"], KEYS_TIMEOUT, "sorted_set",
        "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
        Client(|c, a| Box::pin(zset_blocking::run(c, ZsetCmd::Bzpopmin, a))), "key [key ...] timeout"),
    spec("bzpopmax", -3, &["write", "noscript", "blocking", "fast"], KEYS_TIMEOUT, "sorted_set",
        "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.",
        Client(|c, a| Box::pin(zset_blocking::run(c, ZsetCmd::Bzpopmax, a))), "key [key ...] timeout"),
    spec("bzmpop", -5, &["write", "blocking", "movablekeys"], NUMKEYS2, "sorted_set",
        "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
        Client(|c, a| Box::pin(zset_blocking::run(c, ZsetCmd::Bzmpop, a))), "timeout numkeys key [key ...] <MIN | MAX> [COUNT count]"),
    // Streams.
    spec("xadd", -5, WF, KEY1, "stream", "Appends a new message to a stream. Creates the key if it doesn't exist.", Shard(streams::xadd),
        "key [NOMKSTREAM] [<MAXLEN | MINID> [= | ~] threshold [LIMIT count]] <* | id> field value [field value ...]"),
    spec("xlen", 2, RF, KEY1, "stream", "Return the number of messages in a stream.", Shard(streams::xlen), "key"),
    spec("xrange", -4, R, KEY1, "stream", "Returns the messages from a stream within a range of IDs.", Shard(streams::xrange),
        "key start end [COUNT count]"),
    spec("xrevrange", -4, R, KEY1, "stream", "Returns the messages from a stream within a range of IDs in reverse order.",
        Shard(streams::xrevrange), "key end start [COUNT count]"),
    spec("xdel", -3, WDF, KEY1, "stream", "Returns the number of messages after removing them from a stream.", Shard(streams::xdel),
        "key id [id ...]"),
    spec("xtrim", -4, WD, KEY1, "stream", "Deletes messages from the beginning of a stream.", Shard(streams::xtrim),
        "key <MAXLEN | MINID> [= | ~] threshold [LIMIT count]"),
    spec("xsetid", -3, WF, KEY1, "stream", "An internal command for replicating stream values.", Shard(streams::xsetid),
        "key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]"),
    spec("xread", -4, &["readonly", "blocking", "movablekeys"], STREAMS, "stream",
        "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.",
        Client(client_fn!(stream_read::xread)), "[COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]"),
    spec("xreadgroup", -7, &["write", "blocking", "movablekeys"], STREAMS, "stream",
        "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.",
        Client(client_fn!(stream_read::xreadgroup)), "GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key [key ...] id [id ...]"),
    container("xgroup", "stream", "A container for consumer groups commands.", XGROUP_SUBS),
    spec("xack", -4, WDF, KEY1, "stream", "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.",
        Shard(stream_groups::xack), "key group id [id ...]"),
    spec("xpending", -3, R, KEY1, "stream", "Returns the information and entries from a stream consumer group's pending entries list.",
        Shard(stream_groups::xpending), "key group [[IDLE min-idle-time] start end count [consumer]]"),
    spec("xclaim", -6, WDF, KEY1, "stream", "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.",
        Shard(stream_groups::xclaim),
        "key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]"),
    spec("xautoclaim", -6, WDF, KEY1, "stream", "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.",
        Shard(stream_groups::xautoclaim), "key group consumer min-idle-time start [COUNT count] [JUSTID]"),
    container("xinfo", "stream", "A container for stream introspection commands.", XINFO_SUBS),
    // Pub/sub.
    spec("subscribe", -2, SUB, NO_KEYS, "pubsub", "Listens for messages published to channels.", Local(pubsub::subscribe_cmd),
        "channel [channel ...]"),
    spec("unsubscribe", -1, SUB, NO_KEYS, "pubsub", "Stops listening to messages posted to channels.", Local(pubsub::unsubscribe_cmd),
        "[channel [channel ...]]"),
    spec("psubscribe", -2, SUB, NO_KEYS, "pubsub", "Listens for messages published to channels that match one or more patterns.",
        Local(pubsub::psubscribe_cmd), "pattern [pattern ...]"),
    spec("punsubscribe", -1, SUB, NO_KEYS, "pubsub", "Stops listening to messages published to channels that match one or more patterns.",
        Local(pubsub::punsubscribe_cmd), "[pattern [pattern ...]]"),
    spec("ssubscribe", -2, SUB, ALL_KEYS, "pubsub", "Listens for messages published to shard channels.", Local(pubsub::ssubscribe_cmd),
        "shardchannel [shardchannel ...]"),
    spec("sunsubscribe", -1, SUB, ALL_KEYS, "pubsub", "Stops listening to messages posted to shard channels.",
        Local(pubsub::sunsubscribe_cmd), "[shardchannel [shardchannel ...]]"),
    spec("publish", 3, PUB, NO_KEYS, "pubsub", "Posts a message to a channel.", Unordered(client_fn!(pubsub::publish_cmd)), "channel message"),
    spec("spublish", 3, PUB, KEY1, "pubsub", "Post a message to a shard channel", Unordered(client_fn!(pubsub::spublish_cmd)), "shardchannel message"),
    container("pubsub", "pubsub", "A container for Pub/Sub commands.", PUBSUB_SUBS),
    // Keys.
    spec("keys", 2, R, NO_KEYS, "keyspace", "Returns all key names that match a pattern.", awaits!(keyspace::keys), "pattern"),
    spec("scan", -2, R, NO_KEYS, "keyspace", "Iterates over the key names in the database.", awaits!(keyspace::scan),
        "cursor [MATCH pattern] [COUNT count] [TYPE type]"),
    spec("randomkey", 1, R, NO_KEYS, "keyspace", "Returns a random key name from the database.", awaits!(keyspace::random_key), ""),
    spec("del", -2, WD, ALL_KEYS, "keyspace", "Deletes one or more keys.", Multi(keys::del, cross!(keys::del_across)), "key [key ...]"),
    spec("unlink", -2, WDF, ALL_KEYS, "keyspace", "Asynchronously deletes one or more keys.", Multi(keys::del, cross!(keys::del_across)), "key [key ...]"),
    spec("exists", -2, RF, ALL_KEYS, "keyspace", "Determines whether one or more keys exist.", Multi(keys::exists, cross!(keys::exists_across)),
        "key [key ...]"),
    spec("touch", -2, RF, ALL_KEYS, "keyspace", "Returns the number of existing keys out of those specified.",
        Multi(keys::exists, cross!(keys::exists_across)), "key [key ...]"),
    spec("type", 2, RF, KEY1, "keyspace", "Determines the type of value stored at a key.", Shard(keys::type_), "key"),
    spec("rename", 3, WD, KEYS12, "keyspace", "Renames a key and overwrites the destination.",
        Multi(keys::rename, cross!(keys::rename_across)), "key newkey"),
    spec("renamenx", 3, WDF, KEYS12, "keyspace", "Renames a key only when the target key name doesn't exist.",
        Multi(keys::renamenx, cross!(keys::renamenx_across)), "key newkey"),
    spec("expire", -3, WDF, KEY1, "keyspace", "Sets the expiration time of a key in seconds.", Shard(keys::expire),
        "key seconds [NX | XX | GT | LT]"),
    spec("pexpire", -3, WDF, KEY1, "keyspace", "Sets the expiration time of a key in milliseconds.", Shard(keys::pexpire),
        "key milliseconds [NX | XX | GT | LT]"),
    spec("expireat", -3, WDF, KEY1, "keyspace", "Sets the expiration time of a key to a Unix timestamp.", Shard(keys::expireat),
        "key unix-time-seconds [NX | XX | GT | LT]"),
    spec("pexpireat", -3, WDF, KEY1, "keyspace", "Sets the expiration time of a key to a Unix milliseconds timestamp.",
        Shard(keys::pexpireat), "key unix-time-milliseconds [NX | XX | GT | LT]"),
    spec("ttl", 2, RF, KEY1, "keyspace", "Returns the expiration time in seconds of a key.", Shard(keys::ttl), "key"),
    spec("pttl", 2, RF, KEY1, "keyspace", "Returns the expiration time in milliseconds of a key.", Shard(keys::pttl), "key"),
    spec("expiretime", 2, RF, KEY1, "keyspace", "Returns the expiration time of a key as a Unix timestamp.", Shard(keys::expiretime), "key"),
    spec("pexpiretime", 2, RF, KEY1, "keyspace", "Returns the expiration time of a key as a Unix milliseconds timestamp.",
        Shard(keys::pexpiretime), "key"),
    spec("persist", 2, WDF, KEY1, "keyspace", "Removes the expiration time of a key.", Shard(keys::persist), "key"),
    container("object", "keyspace", "A container for object introspection commands.", OBJECT_SUBS),
    container("memory", "server", "A container for memory diagnostics commands.", MEMORY_SUBS),
    // Strings.
    spec("get", 2, RF, KEY1, "string", "Returns the string value of a key.", Shard(strings::get), "key"),
    spec("set", -3, W, KEY1, "string", "Sets the string value of a key, ignoring its type.", Shard(strings::set),
        "key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]"),
    spec("setnx", 3, WF, KEY1, "string", "Set the string value of a key only when the key doesn't exist.", Shard(strings::setnx), "key value"),
    spec("setex", 4, W, KEY1, "string", "Sets the string value and expiration time of a key.", Shard(strings::setex), "key seconds value"),
    spec("psetex", 4, W, KEY1, "string", "Sets both string value and expiration time in milliseconds of a key.", Shard(strings::psetex),
        "key milliseconds value"),
    spec("getset", 3, WF, KEY1, "string", "Returns the previous string value of a key after setting it to a new value.",
        Shard(strings::getset), "key value"),
    spec("getdel", 2, WDF, KEY1, "string", "Returns the string value of a key after deleting the key.", Shard(strings::getdel), "key"),
    spec("getex", -2, WDF, KEY1, "string", "Returns the string value of a key after setting its expiration time.", Shard(strings::getex),
        "key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]"),
    spec("mget", -2, RF, ALL_KEYS, "string", "Atomically returns the string values of one or more keys.", Multi(strings::mget, cross!(strings::mget_across)),
        "key [key ...]"),
    spec("mset", -3, W, PAIRS, "string", "Atomically creates or modifies the string values of one or more keys.",
        Multi(strings::mset, cross!(strings::mset_across)), "key value [key value ...]"),
    spec("msetnx", -3, W, PAIRS, "string", "Atomically modifies the string values of one or more keys only when all keys don't exist.",
        Multi(strings::msetnx, cross!(strings::msetnx_across)), "key value [key value ...]"),
    spec("incr", 2, WF, KEY1, "string", "Increments the integer value of a key by one.", Shard(strings::incr), "key"),
    spec("decr", 2, WF, KEY1, "string", "Decrements the integer value of a key by one.", Shard(strings::decr), "key"),
    spec("incrby", 3, WF, KEY1, "string", "Increments the integer value of a key by a number.", Shard(strings::incrby), "key increment"),
    spec("decrby", 3, WF, KEY1, "string", "Decrements a number from the integer value of a key.", Shard(strings::decrby), "key decrement"),
    spec("incrbyfloat", 3, WF, KEY1, "string", "Increment the floating point value of a key by a number.", Shard(strings::incrbyfloat),
        "key increment"),
    spec("append", 3, WF, KEY1, "string", "Appends a string to the value of a key.", Shard(strings::append), "key value"),
    spec("strlen", 2, RF, KEY1, "string", "Returns the length of a string value.", Shard(strings::strlen), "key"),
    spec("getrange", 4, R, KEY1, "string", "Returns a substring of the string stored at a key.", Shard(strings::getrange), "key start end"),
    spec("setrange", 4, W, KEY1, "string", "Overwrites a part of a string value with another by an offset.", Shard(strings::setrange),
        "key offset value"),
    // Hashes.
    spec("hset", -4, WF, KEY1, "hash", "Creates or modifies the value of a field in a hash.", Shard(hashes::hset),
        "key field value [field value ...]"),
    spec("hsetnx", 4, WF, KEY1, "hash", "Sets the value of a field in a hash only when the field doesn't exist.",
        Shard(hashes::hsetnx), "key field value"),
    spec("hmset", -4, WF, KEY1, "hash", "Sets the values of multiple fields.", Shard(hashes::hmset),
        "key field value [field value ...]"),
    spec("hget", 3, RF, KEY1, "hash", "Returns the value of a field in a hash.", Shard(hashes::hget), "key field"),
    spec("hmget", -3, RF, KEY1, "hash", "Returns the values of all fields in a hash.", Shard(hashes::hmget),
        "key field [field ...]"),
    spec("hdel", -3, WDF, KEY1, "hash", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.",
        Shard(hashes::hdel), "key field [field ...]"),
    spec("hlen", 2, RF, KEY1, "hash", "Returns the number of fields in a hash.", Shard(hashes::hlen), "key"),
    spec("hexists", 3, RF, KEY1, "hash", "Determines whether a field exists in a hash.", Shard(hashes::hexists), "key field"),
    spec("hgetall", 2, R, KEY1, "hash", "Returns all fields and values in a hash.", Shard(hashes::hgetall), "key"),
    spec("hkeys", 2, R, KEY1, "hash", "Returns all fields in a hash.", Shard(hashes::hkeys), "key"),
    spec("hvals", 2, R, KEY1, "hash", "Returns all values in a hash.", Shard(hashes::hvals), "key"),
    spec("hincrby", 4, WF, KEY1, "hash",
        "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.",
        Shard(hashes::hincrby), "key field increment"),
    spec("hincrbyfloat", 4, WF, KEY1, "hash",
        "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.",
        Shard(hashes::hincrbyfloat), "key field increment"),
    spec("hstrlen", 3, RF, KEY1, "hash", "Returns the length of the value of a field.", Shard(hashes::hstrlen), "key field"),
    spec("hrandfield", -2, R, KEY1, "hash", "Returns one or more random fields from a hash.", Shard(hashes::hrandfield),
        "key [count [WITHVALUES]]"),
    spec("hscan", -3, R, KEY1, "hash", "Iterates over fields and values of a hash.", Shard(hashes::hscan),
        "key cursor [MATCH pattern] [COUNT count]"),
    // Sets.
    spec("sadd", -3, WF, KEY1, "set", "Adds one or more members to a set. Creates the key if it doesn't exist.",
        Shard(sets::sadd), "key member [member ...]"),
    spec("srem", -3, WDF, KEY1, "set", "Removes one or more members from a set. Deletes the set if the last member was removed.",
        Shard(sets::srem), "key member [member ...]"),
    spec("sismember", 3, RF, KEY1, "set", "Determines whether a member belongs to a set.", Shard(sets::sismember), "key member"),
    spec("smismember", -3, RF, KEY1, "set", "Determines whether multiple members belong to a set.", Shard(sets::smismember),
        "key member [member ...]"),
    spec("smembers", 2, R, KEY1, "set", "Returns all members of a set.", Shard(sets::smembers), "key"),
    spec("scard", 2, RF, KEY1, "set", "Returns the number of members in a set.", Shard(sets::scard), "key"),
    spec("spop", -2, WDF, KEY1, "set", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.",
        Shard(sets::spop), "key [count]"),
    spec("srandmember", -2, R, KEY1, "set", "Get one or multiple random members from a set", Shard(sets::srandmember),
        "key [count]"),
    spec("smove", 4, WDF, KEYS12, "set", "Moves a member from one set to another.", Multi(sets::smove, cross!(sets::smove_across)),
        "source destination member"),
    spec("sinter", -2, R, ALL_KEYS, "set", "Returns the intersect of multiple sets.",
        Multi(sets::sinter, cross!(sets::sinter_across)), "key [key ...]"),
    spec("sinterstore", -3, W, ALL_KEYS, "set", "Stores the intersect of multiple sets in a key.",
        Multi(sets::sinterstore, cross!(sets::sinterstore_across)), "destination key [key ...]"),
    spec("sunion", -2, R, ALL_KEYS, "set", "Returns the union of multiple sets.",
        Multi(sets::sunion, cross!(sets::sunion_across)), "key [key ...]"),
    spec("sunionstore", -3, W, ALL_KEYS, "set", "Stores the union of multiple sets in a key.",
        Multi(sets::sunionstore, cross!(sets::sunionstore_across)), "destination key [key ...]"),
    spec("sdiff", -2, R, ALL_KEYS, "set", "Returns the difference of multiple sets.",
        Multi(sets::sdiff, cross!(sets::sdiff_across)), "key [key ...]"),
    spec("sdiffstore", -3, W, ALL_KEYS, "set", "Stores the difference of multiple sets in a key.",
        Multi(sets::sdiffstore, cross!(sets::sdiffstore_across)), "destination key [key ...]"),
    spec("sintercard", -3, &["readonly", "movablekeys"], NUMKEYS1, "set", "Returns the number of members of the intersect of multiple sets.",
        Multi(sets::sintercard, cross!(sets::sintercard_across)), "numkeys key [key ...] [LIMIT limit]"),
    spec("sscan", -3, R, KEY1, "set", "Iterates over members of a set.", Shard(sets::sscan),
        "key cursor [MATCH pattern] [COUNT count]"),
];

/// Finds a command by name, ignoring ASCII case. This runs for every
/// request, so instead of lower-casing and hashing the name it looks in a
/// bucket chosen by the name's length and first letter (a handful of
/// candidates at most) and compares case-insensitively in place.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    static INDEX: OnceLock<Vec<Vec<&'static CommandSpec>>> = OnceLock::new();
    fn bucket(name: &[u8]) -> usize {
        ((name.len() & 31) << 5) | (name.first().map_or(0, |b| b | 0x20) as usize & 31)
    }
    let index = INDEX.get_or_init(|| {
        let mut index = vec![Vec::new(); 32 * 32];
        for spec in COMMANDS {
            index[bucket(spec.name.as_bytes())].push(spec);
        }
        index
    });
    index[bucket(name)]
        .iter()
        .find(|spec| spec.name.as_bytes().eq_ignore_ascii_case(name))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_positions_follow_the_key_specs() {
        let keys = |name: &[u8], argv: &[&str]| -> Vec<usize> {
            let argv: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
            lookup(name).unwrap().key_positions(&argv).unwrap().to_vec()
        };
        assert_eq!(keys(b"MSET", &["mset", "a", "1", "b", "2"]), vec![1, 3]);
        assert_eq!(keys(b"del", &["del", "a", "b", "c"]), vec![1, 2, 3]);
        assert_eq!(keys(b"Ping", &["ping", "x"]), Vec::<usize>::new());
        assert_eq!(keys(b"rename", &["rename", "a", "b"]), vec![1, 2]);
        assert_eq!(
            keys(b"evalsha", &["evalsha", "sha", "2", "a", "b", "x"]),
            vec![3, 4]
        );
    }

    #[test]
    fn every_command_is_found_in_any_case() {
        for c in COMMANDS {
            let upper = c.name.to_ascii_uppercase();
            assert!(
                std::ptr::eq(lookup(upper.as_bytes()).unwrap(), c),
                "{}",
                c.name
            );
            assert!(
                std::ptr::eq(lookup(c.name.as_bytes()).unwrap(), c),
                "{}",
                c.name
            );
        }
        assert!(lookup(b"").is_none());
        assert!(lookup(b"gett").is_none());
        assert!(lookup(&[0xff; 40]).is_none());
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
