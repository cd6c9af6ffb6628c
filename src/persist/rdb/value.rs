//! The codec's own value model: owned values as an RDB file or DUMP payload
//! holds them, independent of ringbus's in-memory types.
//!
//! Invariants kept here:
//! - a [`Value`] is what the file says, in the file's order: members of a
//!   set, fields of a hash and members of a sorted set come in the order
//!   they were stored (an intset's in ascending order); nothing is sorted
//!   or deduplicated here (the decoder refuses duplicates);
//! - stream metadata follows Redis 7.2: files older than a field (RDB
//!   stream types 15 and 19) get the value Redis 7.2 derives when loading
//!   them, so every [`StreamValue`] is complete;
//! - all times are unix milliseconds, as Redis keeps them.

use std::fmt;

/// A stream entry ID.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const ZERO: StreamId = StreamId { ms: 0, seq: 0 };

    pub fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The 16-byte big-endian form Redis uses for radix-tree keys, node
    /// keys and PEL IDs in the file.
    pub fn to_be_bytes(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.ms.to_be_bytes());
        b[8..].copy_from_slice(&self.seq.to_be_bytes());
        b
    }

    pub fn from_be_bytes(b: &[u8; 16]) -> StreamId {
        let mut ms = [0u8; 8];
        let mut seq = [0u8; 8];
        ms.copy_from_slice(&b[..8]);
        seq.copy_from_slice(&b[8..]);
        StreamId {
            ms: u64::from_be_bytes(ms),
            seq: u64::from_be_bytes(seq),
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Which kind of value a key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    List,
    Set,
    ZSet,
    Hash,
    Stream,
}

/// A decoded value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    /// Members with their scores (never NaN).
    ZSet(Vec<(Vec<u8>, f64)>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    Stream(Box<StreamValue>),
}

impl Value {
    pub fn kind(&self) -> Kind {
        match self {
            Value::String(_) => Kind::String,
            Value::List(_) => Kind::List,
            Value::Set(_) => Kind::Set,
            Value::ZSet(_) => Kind::ZSet,
            Value::Hash(_) => Kind::Hash,
            Value::Stream(_) => Kind::Stream,
        }
    }
}

/// One live stream entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEntry {
    pub id: StreamId,
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
}

/// The bookkeeping a stream keeps beside its entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamMeta {
    /// Live entries.
    pub length: u64,
    /// Greatest ID ever added.
    pub last_id: StreamId,
    /// First live entry's ID (0-0 when emptied; an empty stream from a
    /// type 15 file gets Redis's u64::MAX-u64::MAX).
    pub first_id: StreamId,
    /// Greatest ID removed by XDEL.
    pub max_deleted_id: StreamId,
    /// Entries ever added.
    pub entries_added: u64,
}

/// A pending (delivered, unacknowledged) entry of a consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEntry {
    pub id: StreamId,
    /// Unix ms of the last delivery.
    pub delivery_time: u64,
    pub delivery_count: u64,
    /// The consumer that owns it.
    pub consumer: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConsumer {
    pub name: Vec<u8>,
    /// Unix ms of the last interaction.
    pub seen_time: u64,
    /// Unix ms of the last successful read or claim; None when it never
    /// had one (Redis stores -1). Files before RDB 11 do not store it and
    /// Redis 7.2 takes `seen_time`, as here.
    pub active_time: Option<u64>,
    /// IDs of its pending entries, ascending.
    pub pending: Vec<StreamId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamGroup {
    pub name: Vec<u8>,
    /// Last ID delivered to the group.
    pub last_id: StreamId,
    /// Entries the group has read, or None when unknown (Redis's -1).
    pub entries_read: Option<u64>,
    /// The group's pending entries, ascending by ID.
    pub pending: Vec<PendingEntry>,
    /// Consumers in name order, as stored.
    pub consumers: Vec<StreamConsumer>,
}

/// A whole stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamValue {
    /// Live entries, ascending by ID.
    pub entries: Vec<StreamEntry>,
    pub meta: StreamMeta,
    pub groups: Vec<StreamGroup>,
}
