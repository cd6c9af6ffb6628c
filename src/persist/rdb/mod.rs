//! The RDB format: Redis's snapshot files and DUMP payloads.
//!
//! Reading a file, one item at a time:
//!
//! ```no_run
//! use ringbus::persist::rdb::{Item, RdbReader};
//! for item in RdbReader::new(std::fs::File::open("dump.rdb")?)? {
//!     if let Item::Key(k) = item? { println!("db {} {:?}: {:?}", k.db, k.key, k.value); }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Writing one, a key at a time from borrowed data:
//!
//! ```
//! use ringbus::persist::rdb::{EncodeOptions, RdbWriter};
//! let mut w = RdbWriter::new(Vec::new(), EncodeOptions::default())?;
//! w.select_db(0, 1, 1)?;
//! w.key(b"jobs", Some(1_900_000_000_000))?.list([&b"a"[..], b"b"])?;
//! let bytes = w.finish()?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! The modules, by what they hold:
//! - [`format`]: versions, opcodes, type bytes, lengths, CRC64;
//! - [`read`] / [`write`]: the file decoder and encoder;
//! - [`dump`]: DUMP / RESTORE payloads;
//! - [`value`]: the owned value model; [`sink`]: how the decoder hands values
//!   over piece by piece ([`Collect`] builds a [`Value`]);
//! - [`listpack`], [`ziplist`], [`intset`], [`zipmap`]: Redis's packed
//!   blobs; [`stream`]: stream listpack nodes; [`lzf`]: LZF strings;
//!   [`number`]: integers and scores as Redis prints and parses them;
//! - [`error`]: errors with byte offsets.
//!
//! Invariants kept here: decoding never panics and never allocates more
//! than a bounded multiple of the bytes actually read, whatever the input;
//! encoding produces what Redis 7.0 (RDB 10) or 7.2 (RDB 11) would write
//! for the same values and configuration.

pub mod dump;
pub mod error;
pub mod format;
pub mod intset;
pub mod listpack;
pub mod lzf;
pub mod number;
pub mod read;
pub mod sink;
pub mod stream;
pub mod value;
pub mod write;
pub mod ziplist;
pub mod zipmap;

pub use dump::{DumpError, DumpErrorKind, DumpWriter};
pub use error::{Error, ErrorKind};
pub use read::{Checksum, Item, Key, RdbReader};
pub use sink::{Collect, ValueSink};
pub use value::{
    Kind, PendingEntry, StreamConsumer, StreamEntry, StreamGroup, StreamId, StreamMeta,
    StreamValue, Value,
};
pub use write::{
    AuxInfo, ChecksumWriter, EncodeOptions, KeyMeta, RdbWriter, RecordWriter, StreamWriter,
    ValueWriter,
};
