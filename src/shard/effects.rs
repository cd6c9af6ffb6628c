//! What writes did, reported on the shard where they happened: the one place
//! a change to the keyspace becomes known.
//!
//! Every write reaches [`Shard::effect`](super::Shard::effect) as an
//! [`Effect`]: a command that wrote a key (through `Ctx::wrote`), a key that
//! expired (a read found it due, or the active cycle deleted it), a flush.
//! Effects are reported on the shard's own core, in the order the shard
//! applied them, so whatever listens sees one shard's history in order.
//!
//! Built in: the change counter (`rdb_changes_since_last_save`), WATCH
//! (a written key fails its watchers' EXEC) and blocked clients (a written
//! key is served after the command). Everything else hooks in as an
//! [`EffectSink`] on the shard: the append-only log (per core), keyspace
//! notifications and replication. With no sink installed, reporting an
//! effect costs a counter, two emptiness checks and nothing else: no effect
//! is ever copied or built.
//!
//! Besides the per-key effects, a sink hears of each command that wrote
//! ([`EffectSink::command`]) with the arguments that reproduce it, so a log
//! can record what a replica or a restart must replay.

/// One change to this shard's keyspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect<'a> {
    /// A command created, changed or deleted `key`.
    Wrote { db: usize, key: &'a [u8] },
    /// A change only the log and replicas need, not WATCH or blocked
    /// clients (XREADGROUP's delivery state).
    Logged { db: usize, key: &'a [u8] },
    /// `key`'s deadline passed and it was deleted.
    Expired { db: usize, key: &'a [u8] },
    /// FLUSHDB (`Some(db)`) or FLUSHALL (`None`) emptied databases.
    Flushed { db: Option<usize> },
}

/// Something that follows a shard's changes: the log, notifications, a
/// replica's stream. Runs on the core that holds the shard, right where the
/// change happened; it must not block. It travels with its shard when the
/// shard moves to another core, hence `Send`.
pub trait EffectSink: Send {
    fn effect(&mut self, effect: &Effect);

    /// A command that changed this shard had the effect of `argv` in
    /// database `db` (its per-key effects were reported just before): the
    /// command as sent, or what it propagated instead (`Ctx::propagate`),
    /// replayable and deterministic.
    fn command(&mut self, db: usize, argv: &[&[u8]]);

    /// A command's (or a blocked client's, or an expiry cycle's) work on
    /// this shard is over: what it recorded is one unit (Redis wraps a
    /// command's several propagated records in MULTI/EXEC).
    fn command_end(&mut self) {}

    /// A transaction took this shard: what follows until [`txn_end`] is one
    /// unit (the log frames it as MULTI/EXEC).
    ///
    /// [`txn_end`]: EffectSink::txn_end
    fn txn_begin(&mut self) {}

    /// Whether the running transaction changed this shard.
    fn txn_wrote(&self) -> bool {
        false
    }

    /// The transaction ends; `parts` shards wrote, `id` names it among the
    /// log's transactions when there are several.
    fn txn_end(&mut self, _id: u64, _parts: usize) {}

    /// The append-only log, which CONFIG SET appendonly no removes.
    fn is_log(&self) -> bool {
        false
    }
}

/// The sinks installed on one shard.
#[derive(Default)]
pub struct Sinks {
    sinks: Vec<Box<dyn EffectSink>>,
}

impl Sinks {
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    pub fn add(&mut self, sink: Box<dyn EffectSink>) {
        self.sinks.push(sink);
    }

    pub fn effect(&mut self, effect: &Effect) {
        for sink in &mut self.sinks {
            sink.effect(effect);
        }
    }

    pub fn command(&mut self, db: usize, argv: &[&[u8]]) {
        for sink in &mut self.sinks {
            sink.command(db, argv);
        }
    }

    pub fn command_end(&mut self) {
        for sink in &mut self.sinks {
            sink.command_end();
        }
    }

    pub fn txn_begin(&mut self) {
        for sink in &mut self.sinks {
            sink.txn_begin();
        }
    }

    pub fn txn_wrote(&self) -> bool {
        self.sinks.iter().any(|s| s.txn_wrote())
    }

    pub fn txn_end(&mut self, id: u64, parts: usize) {
        for sink in &mut self.sinks {
            sink.txn_end(id, parts);
        }
    }

    /// Takes the append-only log out (CONFIG SET appendonly no).
    pub fn remove_log(&mut self) {
        self.sinks.retain(|s| !s.is_log());
    }
}
