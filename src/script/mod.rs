//! Lua scripting as Redis 7.2 has it: one Lua 5.1 interpreter per core
//! (`engine`), a script registry shared by every core (`registry`), and the
//! conversions between replies and Lua values (`convert`). The commands
//! (EVAL, EVALSHA, SCRIPT ...) are in `cmd::scripting`.
//!
//! How a script stays atomic on a thread-per-core server:
//! - A script runs synchronously: its `redis.call` cannot yield (Lua 5.1
//!   cannot yield across `pcall`), so a call on another shard waits for its
//!   hop right there (`Core::block_on`), handling this core's mailbox
//!   meanwhile. Nothing else runs on that core during the script.
//! - With one core, every script just runs: nothing else can interleave.
//! - With several, a script's first run takes every shard whole
//!   (`LockMode::AcquireAll`) and is watched. If it touched only keys of
//!   its declared keys' shard, later runs go to the core owning those keys
//!   and run there without locks (once its declared keys are free): alone
//!   on that core, it is atomic. A script that reached other shards, or
//!   whose declared keys span shards, always runs with every shard held; that
//!   is also what makes a script touching keys it did not declare atomic,
//!   as in Redis outside cluster mode.
//! - A script running without every shard held never waits for a lock (this
//!   core does nothing else meanwhile, and the lock's holder might need it):
//!   a command that would have to answers TRYAGAIN, and the script is marked
//!   to hold every shard from then on. Only a script that changes where it
//!   goes from one run to the next can meet this.
//! - A script past the BUSY threshold makes the other cores answer BUSY,
//!   and SCRIPT KILL / FUNCTION KILL from them can stop it (`busy`).

pub mod busy;
pub mod convert;
pub mod engine;
pub mod functions;
pub mod libs;
pub mod redis_call;
pub mod registry;
