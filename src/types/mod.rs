//! The values a key can hold. Each messaging model's data structure gets its
//! own module here (lists, streams, ...); this module ties them into [`Value`].

pub mod encoding;
pub mod list;
pub mod longdouble;
pub mod stream;
pub mod stream_tree;
// Sorted sets.
pub mod zset;
// Geo sets (sorted sets of geohashes).
pub mod geohash;
// Hashes.
pub mod hash;
pub mod keytable;
// Sets.
pub mod set;
// HyperLogLog (a string value in Redis's layout).
pub mod hll;

/// A stored value. The variant decides `TYPE` and the WRONGTYPE checks.
#[derive(Debug)]
pub enum Value {
    /// A string (Redis keeps integers as strings too, and so do we).
    Str(Vec<u8>),
    /// A list: a queue of compact chunks (Redis's quicklist).
    List(list::List),
    /// A stream: entries in a tree of compact leaves, plus consumer groups.
    Stream(Box<stream::Stream>),
    // Sorted sets.
    /// A sorted set: an order-statistic tree plus a member index.
    ZSet(Box<zset::ZSet>),
    // Hashes.
    /// A hash: a listpack-like vector while small, else a table.
    Hash(hash::Hash),
    // Sets.
    /// A set: an intset, a listpack-like vector or a table.
    Set(set::Set),
}

impl Value {
    /// The name `TYPE` answers with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Stream(_) => "stream",
            // Sorted sets.
            Value::ZSet(_) => "zset",
            // Hashes.
            Value::Hash(_) => "hash",
            // Sets.
            Value::Set(_) => "set",
        }
    }

    /// The name `OBJECT ENCODING` answers with, as Redis would pick it.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) if s.len() <= 20 && crate::resp::parse::parse_i64(s).is_some() => "int",
            Value::Str(s) if s.len() <= 44 => "embstr",
            Value::Str(_) => "raw",
            Value::List(l) => l.encoding(),
            Value::Stream(_) => "stream",
            // Sorted sets.
            Value::ZSet(z) => z.encoding(),
            // Hashes.
            Value::Hash(h) => h.encoding(),
            // Sets.
            Value::Set(s) => s.encoding(),
        }
    }

    /// An estimate of the heap bytes the value holds (MEMORY USAGE);
    /// `samples` bounds how many elements of a collection are measured
    /// (0: all of them).
    pub fn heap_bytes(&self, samples: usize) -> usize {
        match self {
            Value::Str(s) => s.capacity(),
            Value::List(l) => l.heap_bytes(),
            Value::Stream(s) => std::mem::size_of::<stream::Stream>() + s.memory_bytes(),
            // Sorted sets.
            Value::ZSet(z) => z.heap_bytes(),
            // Hashes.
            Value::Hash(h) => h.heap_bytes(samples),
            // Sets.
            Value::Set(s) => s.heap_bytes(samples),
        }
    }
}
