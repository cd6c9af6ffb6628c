//! Persistence: getting a keyspace onto disk and back.
//!
//! - [`rdb`]: the RDB file format (Redis 2.6 to 7.2), decoder and encoder,
//!   and DUMP/RESTORE payloads. A self-contained format layer with its own
//!   value model: it knows nothing of shards, commands or ringbus's types.
//!
//! - [`values`]: ringbus's values to and from the codec.
//! - [`snapshot`]: the snapshot driver (SAVE/BGSAVE, loading at start-up).
//! - [`aof`]: the append-only log, one per shard (writing, recovery,
//!   rewrite).
//!
//! Invariant kept here: nothing under `persist::rdb` imports from the rest
//! of ringbus; the drivers above it use the shards and the command table.

pub mod aof;
pub mod rdb;
pub mod snapshot;
pub mod values;
