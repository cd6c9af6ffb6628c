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
//!
//! FUNCTION DUMP payloads have the same footer after a different body: one
//! `FUNCTION2` record (opcode 245, the library's code as an RDB string) per
//! library, as in an RDB file ([`function_payload`], [`function_codes`]).

use std::fmt;
use std::io;

use super::error::{Error, ErrorKind};
use super::format::{self, crc64, opcode, rdb_type};
use super::read::{read_value, Input};
use super::sink::{Collect, ValueSink};
use super::value::Value;
use super::write::{put_function, EncodeOptions, Scratch, ValueWriter};

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
/// let mut d = DumpWriter::new(&opts)?;
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
    /// Refuses versions other than 10 and 11.
    pub fn new(opts: &'o EncodeOptions) -> io::Result<DumpWriter<'o>> {
        opts.check()?;
        Ok(DumpWriter {
            buf: Vec::new(),
            opts,
            scratch: Scratch::default(),
        })
    }

    /// The writer for the value (call one of its methods once).
    pub fn value(&mut self) -> ValueWriter<'_, Vec<u8>> {
        self.buf.clear();
        ValueWriter::new(&mut self.buf, self.opts, None, &mut self.scratch)
    }

    /// The payload: the value, its RDB version and the CRC64.
    pub fn finish(self) -> Vec<u8> {
        seal(self.buf, self.opts.version)
    }
}

/// Appends the footer: RDB version, then the CRC64 of all before it.
fn seal(mut buf: Vec<u8>, version: u32) -> Vec<u8> {
    buf.extend_from_slice(&(version as u16).to_le_bytes());
    let crc = crc64(&buf);
    buf.extend_from_slice(&crc.to_le_bytes());
    buf
}

/// The DUMP payload of an owned value.
pub fn encode(value: &Value, opts: &EncodeOptions) -> io::Result<Vec<u8>> {
    let mut d = DumpWriter::new(opts)?;
    d.value().value(value)?;
    Ok(d.finish())
}

/// A FUNCTION DUMP payload (`functionDumpCommand`): each library's record,
/// in the order given, then the footer. Codes are LZF-compressed as
/// `opts.compression` says, as Redis's `rdbcompression` does.
pub fn function_payload<'c>(
    codes: impl IntoIterator<Item = &'c [u8]>,
    opts: &EncodeOptions,
) -> io::Result<Vec<u8>> {
    opts.check()?;
    let (mut buf, mut lzf) = (Vec::new(), Vec::new());
    for code in codes {
        put_function(&mut buf, code, opts.compression, &mut lzf)?;
    }
    Ok(seal(buf, opts.version))
}

/// Why FUNCTION RESTORE refuses a payload, with Redis 7.2's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionPayloadError {
    /// The footer does not check out.
    VersionOrChecksum,
    /// A record of the 7.0 release candidates' format (opcode 246), which
    /// 7.2 no longer loads (RDB files with it are read by [`super::read`]).
    PreGa,
    /// A record that is not a function library.
    NotAFunction,
    /// The code's string does not decode (cut short, bad LZF, ...).
    BadString,
}

impl FunctionPayloadError {
    /// The error text Redis replies with (without `ERR `).
    pub fn redis_message(self) -> &'static str {
        match self {
            FunctionPayloadError::VersionOrChecksum => ERR_VERSION_OR_CHECKSUM,
            FunctionPayloadError::PreGa => "Pre-GA function format not supported",
            FunctionPayloadError::NotAFunction => "given type is not a function",
            FunctionPayloadError::BadString => "Failed loading library payload",
        }
    }
}

impl fmt::Display for FunctionPayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.redis_message())
    }
}

impl std::error::Error for FunctionPayloadError {}

/// The library codes of a FUNCTION DUMP payload, one at a time, after the
/// footer is checked. Redis compiles each library as it reads it, so which
/// error a bad payload gets depends on what comes first; the caller keeps
/// that order by handling each item before asking for the next. The
/// iterator ends after its first error.
pub fn function_codes(payload: &[u8]) -> Result<FunctionCodes<'_>, FunctionPayloadError> {
    verify(payload).map_err(|_| FunctionPayloadError::VersionOrChecksum)?;
    Ok(FunctionCodes {
        // As in `functionRestoreCommand`, records are read from the whole
        // payload while more than the footer remains: a code string may run
        // into the footer bytes, but not past the end.
        inp: Input::new(payload),
        len: payload.len() as u64,
        done: false,
    })
}

/// See [`function_codes`].
pub struct FunctionCodes<'p> {
    inp: Input<&'p [u8]>,
    len: u64,
    done: bool,
}

impl Iterator for FunctionCodes<'_> {
    type Item = Result<Vec<u8>, FunctionPayloadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.len - self.inp.offset() <= FOOTER as u64 {
            return None;
        }
        let code = match self.inp.u8() {
            Ok(opcode::FUNCTION2) => self
                .inp
                .string()
                .map_err(|_| FunctionPayloadError::BadString),
            Ok(opcode::FUNCTION_PRE_GA) => Err(FunctionPayloadError::PreGa),
            _ => Err(FunctionPayloadError::NotAFunction),
        };
        self.done = code.is_err();
        Some(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::rdb::value::{StreamId, StreamMeta, StreamValue};

    #[test]
    fn payload_layout_and_round_trip() {
        let opts = EncodeOptions::default();
        let p = encode(&Value::String(b"hello".to_vec()), &opts).unwrap();
        // Type 0, length 5, "hello", version 10, CRC64 of the rest.
        assert_eq!(&p[..9], b"\x00\x05hello\x0a\x00");
        assert_eq!(p[9..], crc64(&p[..9]).to_le_bytes());
        assert_eq!(verify(&p).unwrap(), 10);
        assert_eq!(decode(&p).unwrap(), Value::String(b"hello".to_vec()));
        let s = Value::Stream(Box::new(StreamValue {
            meta: StreamMeta {
                last_id: StreamId::new(9, 9),
                ..StreamMeta::default()
            },
            ..StreamValue::default()
        }));
        for v in [s, Value::List(vec![b"1".to_vec(), b"two".to_vec()])] {
            for o in [EncodeOptions::default(), EncodeOptions::rdb11()] {
                assert_eq!(decode(&encode(&v, &o).unwrap()).unwrap(), v);
            }
        }
    }

    #[test]
    fn footer_errors_are_version_or_checksum() {
        let p = encode(&Value::String(b"x".to_vec()), &EncodeOptions::default()).unwrap();
        for bad in [
            &p[..9],
            &p[..p.len() - 1],
            &seal(b"\x00\x01x".to_vec(), 12)[..],
        ] {
            let e = decode(bad).unwrap_err();
            assert_eq!(e.kind, DumpErrorKind::VersionOrChecksum);
            assert_eq!(
                e.redis_message(),
                "DUMP payload version or checksum are wrong"
            );
        }
        let mut flipped = p.clone();
        flipped[1] ^= 1;
        assert_eq!(
            decode(&flipped).unwrap_err().kind,
            DumpErrorKind::VersionOrChecksum
        );
        // An older version is fine.
        assert!(decode(&seal(b"\x00\x01x".to_vec(), 6)).is_ok());
    }

    #[test]
    fn function_payloads_round_trip() {
        let long = b"#!lua name=long\n-- xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n";
        let codes: [&[u8]; 2] = [b"#!lua name=a\n", long];
        for compression in [false, true] {
            let opts = EncodeOptions {
                compression,
                ..EncodeOptions::default()
            };
            let p = function_payload(codes, &opts).unwrap();
            assert_eq!(&p[..16], b"\xf5\x0d#!lua name=a\n\xf5");
            // The long code is LZF-compressed (0xc3) only when asked.
            assert_eq!(p[16] == 0xc3, compression);
            assert_eq!(verify(&p).unwrap(), 10);
            let back: Vec<Vec<u8>> = function_codes(&p).unwrap().map(Result::unwrap).collect();
            assert_eq!(back, codes.map(<[u8]>::to_vec));
        }
        let empty = function_payload([], &EncodeOptions::default()).unwrap();
        assert_eq!(empty.len(), 10);
        assert_eq!(function_codes(&empty).unwrap().count(), 0);
    }

    #[test]
    fn function_payload_errors() {
        use FunctionPayloadError::*;
        let first_error = |p: &[u8]| match function_codes(p) {
            Err(e) => Some(e),
            Ok(mut it) => it.find_map(Result::err),
        };
        let good = function_payload([&b"#!lua name=a\n"[..]], &EncodeOptions::default()).unwrap();
        let mut flipped = good.clone();
        flipped[3] ^= 1;
        assert_eq!(first_error(&flipped), Some(VersionOrChecksum));
        assert_eq!(first_error(b"short"), Some(VersionOrChecksum));
        assert_eq!(
            first_error(&seal(b"\xf5\x01x".to_vec(), 12)),
            Some(VersionOrChecksum)
        );
        assert_eq!(
            first_error(&seal(b"\x00\x01k\x01v".to_vec(), 10)),
            Some(NotAFunction)
        );
        assert_eq!(
            first_error(&seal(b"\xf6\x01a\x03lua\x00\x01x".to_vec(), 10)),
            Some(PreGa)
        );
        // A string longer than what is left of the payload.
        assert_eq!(
            first_error(&seal(b"\xf5\x3fab".to_vec(), 10)),
            Some(BadString)
        );
        // A string that runs into the footer is read, as Redis reads it.
        let p = seal(b"\xf5\x04ab".to_vec(), 10);
        let codes: Vec<_> = function_codes(&p).unwrap().collect();
        assert_eq!(codes, vec![Ok(b"ab\x0a\x00".to_vec())]);
        // Records are handed out until the bad one.
        let p = seal(b"\xf5\x01a\x00\x01k\x01v".to_vec(), 10);
        let codes: Vec<_> = function_codes(&p).unwrap().collect();
        assert_eq!(codes, vec![Ok(b"a".to_vec()), Err(NotAFunction)]);
    }

    #[test]
    fn body_errors_are_bad_data_format() {
        for body in [
            &b""[..],                                    // no type byte
            b"\x08\x00",                                 // type 8 does not exist
            b"\x00\x05abc",                              // string cut short
            b"\x00\x01xy",                               // a byte after the value
            b"\x01\x00",                                 // empty list
            b"\x0B\x08\x02\x00\x00\x00\x00\x00\x00\x00", // empty intset
            b"\x07\x01",                                 // module value
        ] {
            let e = decode(&seal(body.to_vec(), 10)).unwrap_err();
            assert_eq!(e.kind, DumpErrorKind::BadFormat, "{body:?}");
            assert_eq!(e.redis_message(), "Bad data format");
            assert!(e.to_string().starts_with("Bad data format ("), "{e}");
        }
    }
}
