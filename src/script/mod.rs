//! Lua scripting as Redis 7.2 has it: one Lua 5.1 interpreter per core
//! (`engine`), a script registry shared by every core (`registry`), and the
//! conversions between replies and Lua values (`convert`). The commands
//! (EVAL, EVALSHA, SCRIPT ...) are in `cmd::scripting`.
//!
//! How a script stays atomic on a thread-per-core server:
//! - A script runs synchronously on its client's core, inside a transaction
//!   (`shard::txn`) that holds whole shards: its `redis.call`s run at once on
//!   them, with no hop and no lock per call. Nothing else touches a held
//!   shard meanwhile, so the script is atomic, as in Redis.
//! - Which shards: a script's first run takes every shard and is watched
//!   (`registry::UNSEEN`). If every call stayed on the shards of its declared
//!   keys, later runs take only those (`STAYS`): a script whose keys share a
//!   `{hash tag}` holds one shard, which moves to the client's core once and
//!   then stays while that core keeps using it. A script that reached other
//!   shards takes every shard on every run (`ROAMS`): that is what makes a
//!   script touching keys it did not declare atomic, as Redis outside
//!   cluster mode allows.
//! - A call that needs a shard the script does not hold (a `STAYS` script
//!   that changed its ways) gets it in `CallCtx::using`: a shard above all
//!   those held is waited for right there (`Core::block_on`, which serves
//!   this core's mailbox meanwhile; ordered, so no deadlock); a lower one
//!   only by starting over with every shard, which the script does if it
//!   has not written yet (its reply so far is dropped). After a write it
//!   cannot start over, and the call answers TRYAGAIN; the script is marked
//!   `ROAMS` so the next run holds everything.
//! - Inside EXEC, a script uses EXEC's transaction, which holds every shard
//!   when a script is queued.
//! - `redis.call` and `redis.pcall` are C functions on the Lua stack
//!   (`redis_call`); KEYS and ARGV are refilled in place each run (`engine`).
//! - A script past the BUSY threshold makes the other cores answer BUSY,
//!   and SCRIPT KILL / FUNCTION KILL from them can stop it (`busy`).

pub mod busy;
pub mod convert;
pub mod engine;
pub mod functions;
pub mod libs;
pub mod redis_call;
pub mod registry;
