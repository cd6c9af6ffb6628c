//! Commands. Each family has its own module that parses its arguments and
//! applies them, and declares its commands (name, arity, flags, keys, form)
//! with [`spec`]; [`table`] gathers them. Every command runs through one
//! executor, [`exec::call`], which routes it by its keys and its form:
//!
//! - [`Exec::Shard`]: on the shard that owns its key(s), on that shard's core.
//! - [`Exec::Multi`]: keys may span shards: as a plain shard command when
//!   they share one, otherwise its cross-shard form as one transaction
//!   ([`cross`]).
//! - [`Exec::Now`], [`Exec::Local`], [`Exec::Client`], [`Exec::Unordered`]:
//!   on the caller's core, with the caller (connection, server, pub/sub,
//!   blocking, transaction and scripting commands).
//! - [`Exec::Anywhere`]: on the caller's core, using any shard (the
//!   keyspace-wide commands, and scripts, which may touch keys they did not
//!   declare). EXEC takes every shard when it queues one.

pub use crate::resp::args;
pub mod bitmaps;
pub mod blocking;
pub mod config;
pub mod connection;
pub mod cross;
pub mod dump;
pub mod exec;
// Geo.
pub mod geo;
// Hashes.
pub mod hashes;
// HyperLogLog.
pub mod hyperloglog;
pub mod info;
pub mod introspection;
pub mod keymove;
pub mod keys;
pub mod keyspace;
pub mod lcs;
pub mod list_blocking;
pub mod lists;
pub mod persistence;
pub mod propagate;
#[cfg(test)]
mod propagate_tests;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod spec;
// Sets.
pub mod sets;
pub mod sort;
pub mod stream_groups;
pub mod stream_read;
pub mod streams;
pub mod strings;
pub mod table;
pub mod transaction;
// Sorted sets.
pub mod zset_blocking;
pub mod zset_ops;
pub mod zsets;

pub use args::{Args, CmdResult, Error};

pub use crate::shard::ctx::{run as run_shard, Ctx, ShardFn};

/// A client command that completes at once.
pub type LocalFn = fn(&mut dyn exec::Client, &[&[u8]]) -> CmdResult;

/// A client command that may wait (for hops, for a blocked pop, for a script).
pub type ClientFn = for<'a> fn(&'a mut dyn exec::Client, &'a [&'a [u8]]) -> exec::Running<'a>;

/// How a command runs; see the module documentation.
#[derive(Clone, Copy)]
pub enum Exec {
    Shard(ShardFn),
    Multi(ShardFn, cross::CrossFn),
    /// On the caller's core at once, reading no shard, so without waiting
    /// for replies other shards still owe the caller (PING, ECHO).
    Now(LocalFn),
    /// On the caller's core at once, after the replies owed to it.
    Local(LocalFn),
    /// On the caller's core, after the replies owed to it; may wait.
    Client(ClientFn),
    /// On the caller's core without waiting for owed replies, which it
    /// settles itself when it must (PUBLISH owes its receiver count).
    Unordered(ClientFn),
    /// As `Client`, using any shard: every shard (KEYS, DBSIZE, FLUSHALL,
    /// INFO...) or keys it does not declare (EVAL, FCALL). Inside EXEC or a
    /// script it runs with every shard held (see `exec::each_shard`). The
    /// optional [`NowFn`] runs it at once when it can (EVAL on shards that
    /// are here and free), saying None, having changed nothing, when not.
    Anywhere(ClientFn, Option<NowFn>),
    /// A command made of subcommands (CONFIG GET, CLIENT ID...).
    Container,
}

/// A command's way to run at once, when it can (see `Exec::Anywhere`).
pub type NowFn = fn(&mut dyn exec::Client, &[&[u8]]) -> Option<CmdResult>;

/// Makes a [`ClientFn`] of an `async fn(&mut dyn Client, &[&[u8]]) -> Flow`.
#[macro_export]
macro_rules! client_fn {
    ($f:path) => {
        |c, a| Box::pin($f(c, a))
    };
}

/// The connection of a command that only a connection can run (`noscript`).
pub fn session(c: &mut dyn exec::Client) -> &mut crate::server::connection::Session {
    c.session()
        .expect("a noscript command runs for a connection")
}
