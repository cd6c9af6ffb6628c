//! Persistence: getting a keyspace onto disk and back.
//!
//! - [`rdb`]: the RDB file format (Redis 2.6 to 7.2), decoder and encoder,
//!   and DUMP/RESTORE payloads. A self-contained format layer with its own
//!   value model: it knows nothing of shards, commands or ringbus's types.
//!
//! To come: the snapshot driver (SAVE/BGSAVE and loading at start-up, which
//! map ringbus's values to and from the codec) and the append-only log.
//!
//! Invariant kept here: nothing under `persist` imports from `cmd`,
//! `shard` or `server`; the dependency only goes the other way.

pub mod rdb;
pub mod snapshot;
pub mod values;
