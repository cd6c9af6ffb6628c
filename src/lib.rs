//! ringbus: a Redis-protocol message broker for Linux, thread-per-core on io_uring.
//!
//! The folders follow the path of a request:
//! - [`server`]: per-core executors, listeners and connections;
//! - [`resp`]: the wire protocol (parse requests, encode replies);
//! - [`cmd`]: the commands, one module per family, and the command table;
//! - [`shard`]: the keyspace each core owns, cross-core dispatch, transactions;
//! - [`types`]: the values keys hold;
//! - [`script`]: Lua scripting (one interpreter per core);
//! - [`persist`]: snapshots on disk (the RDB format so far);
//! - [`runtime`]: the io_uring executor underneath, behind one small module.

pub mod alloc;
pub mod cmd;
pub mod config;
pub mod config_rewrite;
pub mod glob;
pub mod persist;

/// The Redis version ringbus answers as (INFO, HELLO, RDB aux fields).
pub const REDIS_VERSION: &str = "7.2.4";
pub mod resp;
pub mod runtime;
pub mod script;
pub mod server;
pub mod shard;
pub mod types;
