//! DUMP / RESTORE payloads: one value in RDB form, then a footer.
//!
//! ```text
//! type byte | value body | RDB version (2 bytes LE) | CRC64 of all before (8 bytes LE)
//! ```
//!
//! Invariants kept here:
//! - a payload is checked as `verifyDumpPayload` does (at least 10 bytes,
//!   version not newer than this decoder reads, CRC64 right) before its body
//!   is looked at; failing that is Redis's "DUMP payload version or
//!   checksum are wrong";
//! - the body is decoded with the full integrity checks (`sanitize-dump-
//!   payload yes`): any problem, an empty collection, or bytes left after
//!   the value is Redis's "Bad data format"; nothing panics or reads out of
//!   bounds whatever the payload;
//! - what [`DumpWriter`] produces is exactly what Redis's DUMP would for the
//!   same value and configuration (same encoder as RDB files).

use std::fmt;
use std::io;

use super::error::{Error, ErrorKind};
use super::format::{self, crc64, rdb_type};
use super::read::{read_value, Input};
use super::sink::{Collect, ValueSink};
use super::value::Value;
use super::write::{EncodeOptions, Scratch, ValueWriter};

/// Redis's reply when the footer does not check out.
pub const ERR_VERSION_OR_CHECKSUM: &str = "DUMP payload version or checksum are wrong";
/// Redis's reply when the body does not decode.
pub const ERR_BAD_DATA_FORMAT: &str = "Bad data format";

/// Footer size: version and CRC64.
const FOOTER: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpErrorKind {
    VersionOrChecksum,
    BadFormat,
}

/// Why a payload was refused, with the decoder's detail when it has one.
#[derive(Debug)]
pub struct DumpError {
    pub kind: DumpErrorKind,
    pub detail: Option<Error>,
}

impl DumpError {
    /// The error text Redis replies to RESTORE with (without `ERR `).
    pub fn redis_message(&self) -> &'static str {
        match self.kind {
            DumpErrorKind::VersionOrChecksum => ERR_VERSION_OR_CHECKSUM,
            DumpErrorKind::BadFormat => ERR_BAD_DATA_FORMAT,
        }
    }

    fn bad(detail: Error) -> DumpError {
        DumpError {
            kind: DumpErrorKind::BadFormat,
            detail: Some(detail),
        }
    }
}

impl fmt::Display for DumpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.redis_message())?;
        if let Some(d) = &self.detail {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

impl std::error::Error for DumpError {}

/// Check the footer; the payload's RDB version.
pub fn verify(payload: &[u8]) -> Result<u16, DumpError> {
    let refuse = DumpError {
        kind: DumpErrorKind::VersionOrChecksum,
        detail: None,
    };
    if payload.len() < FOOTER {
        return Err(refuse);
    }
    let footer = &payload[payload.len() - FOOTER..];
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version as u32 > format::MAX_VERSION {
        return Err(refuse);
    }
    let stored = u64::from_le_bytes(footer[2..].try_into().expect("8 bytes"));
    if crc64(&payload[..payload.len() - 8]) != stored {
        return Err(refuse);
    }
    Ok(version)
}

/// Decode a payload into an owned [`Value`].
pub fn decode(payload: &[u8]) -> Result<Value, DumpError> {
    decode_into(payload, &mut Collect::new())
}

/// Decode a payload, handing the value to `sink`.
pub fn decode_into<S: ValueSink>(payload: &[u8], sink: &mut S) -> Result<S::Output, DumpError> {
    verify(payload)?;
    let body = &payload[..payload.len() - FOOTER];
    let mut inp = Input::new(body);
    let t = inp.u8().map_err(DumpError::bad)?;
    if !rdb_type::is_object_type(t) {
        return Err(DumpError::bad(Error::new(0, ErrorKind::UnknownType(t))));
    }
    let v = read_value(&mut inp, t, 0, sink)
        .map_err(DumpError::bad)?
        .ok_or_else(|| DumpError::bad(Error::corrupt(1, "empty collection")))?;
    let end = inp.offset();
    if end != body.len() as u64 {
        return Err(DumpError::bad(Error::corrupt(
            end,
            format!("{} bytes after the value", body.len() as u64 - end),
        )));
    }
    Ok(v)
}

/// Builds a DUMP payload.
///
/// ```
/// # use ringbus::persist::rdb::{dump::DumpWriter, EncodeOptions};
/// let opts = EncodeOptions::default();
/// let mut d = DumpWriter::new(&opts);
/// d.value().hash([(&b"field"[..], &b"value"[..])])?;
/// let payload: Vec<u8> = d.finish();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct DumpWriter<'o> {
    buf: Vec<u8>,
    opts: &'o EncodeOptions,
    scratch: Scratch,
}

impl<'o> DumpWriter<'o> {
    pub fn new(opts: &'o EncodeOptions) -> DumpWriter<'o> {
        DumpWriter {
            buf: Vec::new(),
            opts,
            scratch: Scratch::default(),
        }
    }

    /// The writer for the value (call one of its methods once).
    pub fn value(&mut self) -> ValueWriter<'_, Vec<u8>> {
        self.buf.clear();
        ValueWriter::new(&mut self.buf, self.opts, None, &mut self.scratch)
    }

    /// The payload: the value, its RDB version and the CRC64.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf
            .extend_from_slice(&(self.opts.version as u16).to_le_bytes());
        let crc = crc64(&self.buf);
        self.buf.extend_from_slice(&crc.to_le_bytes());
        self.buf
    }
}

/// The DUMP payload of an owned value.
pub fn encode(value: &Value, opts: &EncodeOptions) -> io::Result<Vec<u8>> {
    let mut d = DumpWriter::new(opts);
    d.value().value(value)?;
    Ok(d.finish())
}
