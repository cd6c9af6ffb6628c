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

pub mod args;
pub mod blocking;
pub mod connection;
// Hashes.
pub mod hashes;
pub mod keys;
pub mod lists;
pub mod multi;
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

use crate::resp::Out;
use crate::shard::db::{Db, Entry};
use crate::shard::Shard;

/// What a shard command sees: its shard, the client's database, and the
/// command's clock reading (one per command, like Redis's command time snapshot).
pub struct Ctx<'a> {
    pub shard: &'a mut Shard,
    pub db: usize,
    pub now: u64,
}

impl Ctx<'_> {
    pub fn db(&mut self) -> &mut Db {
        &mut self.shard.dbs[self.db]
    }

    /// Every write to a key reports here: it feeds the change counter, wakes
    /// the clients blocked on the key (served after the command), and is the
    /// one place the append-only log and WATCH will hook into.
    pub fn wrote(&mut self, key: &[u8]) {
        self.shard.stats.dirty += 1;
        self.shard.blocking.signal(self.db, key);
        if !self.shard.watches.is_empty() {
            self.shard.watches.touch(&(self.db, key.into()));
        }
    }

    /// Looks a key up for reading and counts a keyspace hit or miss, as
    /// Redis's `lookupKeyRead` does (writes look keys up without counting).
    pub fn read(&mut self, key: &[u8]) -> Option<&Entry> {
        let shard = &mut *self.shard;
        let entry = shard.dbs[self.db].get(key, self.now);
        if entry.is_some() {
            shard.stats.keyspace_hits += 1;
        } else {
            shard.stats.keyspace_misses += 1;
        }
        entry
    }

    pub fn max_string_len(&self) -> usize {
        self.shard.config.proto_max_bulk_len as usize
    }
}

/// A command that runs on one shard.
pub type ShardFn = fn(&mut Ctx, &mut Args, &mut Out) -> CmdResult;

/// How a command is executed; see the module documentation.
#[derive(Clone, Copy)]
pub enum Exec {
    Shard(ShardFn),
    Multi(ShardFn, multi::Spread),
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
    Lmpop,
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
    Zmpop,
    Bzpopmin,
    Bzpopmax,
    Bzmpop,
    // Sets.
    Sintercard,
    Shutdown,
}

/// Runs a shard command on `ctx`, writing its reply or its error to `out`.
pub fn run_shard(f: ShardFn, ctx: &mut Ctx, argv: &[&[u8]], out: &mut Out) {
    let mut args = Args::new(argv);
    if let Err(e) = f(ctx, &mut args, out) {
        out.error(&e.0);
    }
}
