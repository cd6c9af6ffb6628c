//! Errors of the RDB codec.
//!
//! Invariants kept here:
//! - every decoding error names the byte offset where the problem is (from
//!   the start of the file or DUMP payload); an error inside a packed blob
//!   (listpack, ziplist, ...) names the blob's offset and the byte inside it;
//! - messages say what was expected, e.g. "unknown value type 42 at offset
//!   1234", "truncated: needed 8 bytes at offset 99".

use std::fmt;
use std::io;

/// A decoding error: what went wrong and where.
#[derive(Debug)]
pub struct Error {
    /// Byte offset from the start of the input.
    pub offset: u64,
    pub kind: ErrorKind,
}

#[derive(Debug)]
pub enum ErrorKind {
    /// The underlying reader failed (not an end of input).
    Io(io::Error),
    /// The input ended early: `needed` more bytes were wanted at `offset`.
    Truncated { needed: u64 },
    /// The file does not start with `REDIS`.
    NotRdb,
    /// A version this decoder does not read.
    UnsupportedVersion(u32),
    /// A type byte that is neither a value type nor an opcode.
    UnknownType(u8),
    /// The CRC64 at the end does not match the content.
    ChecksumMismatch { stored: u64, computed: u64 },
    /// Module data: only the module that wrote it can read it.
    Module { name: String },
    /// The bytes break the format (the message says how).
    Corrupt(String),
    /// The value sink refused a value (its message).
    Rejected(String),
}

impl Error {
    pub fn new(offset: u64, kind: ErrorKind) -> Error {
        Error { offset, kind }
    }

    pub fn corrupt(offset: u64, msg: impl Into<String>) -> Error {
        Error::new(offset, ErrorKind::Corrupt(msg.into()))
    }

    /// An error inside a blob that starts at `offset` (the blob as stored,
    /// or as decompressed when it was LZF-compressed).
    pub(crate) fn in_blob(offset: u64, what: &str, e: BlobError) -> Error {
        Error::corrupt(
            offset,
            format!("{what}: {} (byte {} of the blob)", e.msg, e.at),
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.offset;
        match &self.kind {
            ErrorKind::Io(e) => write!(f, "I/O error at offset {at}: {e}"),
            ErrorKind::Truncated { needed } => {
                write!(f, "truncated: needed {needed} bytes at offset {at}")
            }
            ErrorKind::NotRdb => write!(f, "not an RDB file: no REDIS signature at offset {at}"),
            ErrorKind::UnsupportedVersion(v) => {
                write!(f, "unsupported RDB version {v} at offset {at}")
            }
            ErrorKind::UnknownType(t) => write!(f, "unknown value type {t} at offset {at}"),
            ErrorKind::ChecksumMismatch { stored, computed } => write!(
                f,
                "checksum mismatch: file says {stored:016x}, computed {computed:016x} (at offset {at})"
            ),
            ErrorKind::Module { name } => write!(
                f,
                "module data of module type '{name}' at offset {at}: modules are not supported"
            ),
            ErrorKind::Corrupt(msg) => write!(f, "{msg} at offset {at}"),
            ErrorKind::Rejected(msg) => write!(f, "value refused: {msg} at offset {at}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e.kind {
            ErrorKind::Io(inner) => inner,
            _ => io::Error::new(io::ErrorKind::InvalidData, e.to_string()),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A problem inside a packed blob, at byte `at` of the blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobError {
    pub at: usize,
    pub msg: String,
}

impl BlobError {
    pub fn new(at: usize, msg: impl Into<String>) -> BlobError {
        BlobError {
            at,
            msg: msg.into(),
        }
    }
}

impl fmt::Display for BlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (byte {})", self.msg, self.at)
    }
}
