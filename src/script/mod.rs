//! Lua scripting as Redis 7.2 has it: one Lua 5.1 interpreter per core
//! (`engine`), a script registry shared by every core (`registry`), and the
//! conversions between replies and Lua values (`convert`). The commands
//! (EVAL, EVALSHA, SCRIPT ...) are in `cmd::scripting`.
//!
//! How a script stays atomic on a thread-per-core server:
//! - A script runs on its client's core, synchronously: its `redis.call`
//!   cannot yield (Lua 5.1 cannot yield across `pcall`), so a call on another
//!   shard waits for that hop right there (`Core::block_on`), handling this
//!   core's mailbox meanwhile. Nothing else runs on this core during a script.
//! - A script whose declared keys all live on this core runs without locks:
//!   since nothing else runs here, it is atomic as long as it stays here.
//! - Otherwise (declared keys on other cores, or a script seen to reach other
//!   cores before) it first takes every shard whole (`LockMode::AcquireAll`),
//!   so nothing anywhere runs between its commands. That is what a script
//!   touching keys it did not declare needs, as in Redis outside cluster mode.
//! - A local script that does reach another core is still served (its calls
//!   wait for their hops, which is never a deadlock: it holds no locks), but
//!   not atomically that one time; its SHA is then marked, and it takes every
//!   shard on every later run.

pub mod convert;
pub mod engine;
pub mod libs;
pub mod registry;
