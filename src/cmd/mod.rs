//! Commands. Each family has its own module that parses its arguments and then
//! applies them; [`table`] lists every command with its arity, flags and key
//! positions, which is all the connection needs to route a request:
//!
//! - [`Exec::Shard`]: runs on the shard that owns its key(s), on that shard's core.
//! - [`Exec::Multi`]: keys may span shards; `multi` runs it as a cross-shard
//!   transaction (see `shard::txn`), or as a plain shard command when all its
//!   keys happen to live on one shard.
//! - [`Exec::Conn`]: connection, server and pub/sub commands, run on the
//!   client's core.

pub use crate::resp::args;
pub mod blocking;
pub mod connection;
pub mod cross;
// Hashes.
pub mod hashes;
pub mod keys;
pub mod list_blocking;
pub mod lists;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod spec;
// Sets.
pub mod sets;
pub mod stream_groups;
pub mod stream_read;
pub mod streams;
pub mod strings;
pub mod table;
pub mod transaction;
// Sorted sets.
pub mod zset_blocking;
pub mod zsets;

pub use args::{Args, CmdResult, Error};

pub use crate::shard::ctx::{run as run_shard, Ctx, ShardFn};

/// How a command is executed; see the module documentation.
#[derive(Clone, Copy)]
pub enum Exec {
    Shard(ShardFn),
    Multi(ShardFn, cross::CrossFn),
    Conn(ConnCmd),
    /// A command made of subcommands (CONFIG GET, CLIENT ID...).
    Container,
}

/// Connection and server commands, run by the connection on its own core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnCmd {
    Ping,
    Echo,
    Hello,
    Quit,
    Reset,
    Select,
    Auth,
    ClientId,
    ClientSetName,
    ClientGetName,
    ClientList,
    ClientInfo,
    ClientKill,
    ClientNoEvict,
    ClientSetInfo,
    Info,
    ConfigGet,
    ConfigSet,
    ConfigResetStat,
    Command,
    CommandCount,
    CommandInfo,
    CommandDocs,
    CommandList,
    CommandGetKeys,
    CommandGetKeysAndFlags,
    Dbsize,
    FlushDb,
    FlushAll,
    Time,
    Keys,
    Scan,
    RandomKey,
    Lastsave,
    Subscribe,
    Unsubscribe,
    Psubscribe,
    Punsubscribe,
    Ssubscribe,
    Sunsubscribe,
    Publish,
    Spublish,
    PubsubChannels,
    PubsubNumsub,
    PubsubNumpat,
    PubsubShardChannels,
    PubsubShardNumsub,
    PubsubHelp,
    Blpop,
    Brpop,
    Blmpop,
    Blmove,
    Brpoplpush,
    ClientUnblock,
    Xread,
    Xreadgroup,
    Multi,
    Exec,
    Discard,
    Watch,
    Unwatch,
    Eval,
    EvalSha,
    EvalRo,
    EvalShaRo,
    ScriptLoad,
    ScriptExists,
    ScriptFlush,
    ScriptKill,
    ScriptHelp,
    Fcall,
    FcallRo,
    FunctionLoad,
    FunctionDelete,
    FunctionFlush,
    FunctionList,
    FunctionDump,
    FunctionRestore,
    FunctionStats,
    FunctionKill,
    FunctionHelp,
    // Sorted sets.
    Bzpopmin,
    Bzpopmax,
    Bzmpop,
    // Sets.
    Shutdown,
}
