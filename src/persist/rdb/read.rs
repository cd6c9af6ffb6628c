//! The decoder: RDB files (versions 1 to 11, in practice Redis 2.6 to 7.2)
//! read as a stream of [`Item`]s, and the value decoding DUMP payloads
//! share.
//!
//! [`RdbReader`] pulls one item at a time from any `impl Read`: aux fields,
//! database selection and sizing hints, function libraries, keys with their
//! expiry and LRU/LFU data, and the end with its checksum. A key's value
//! goes to a [`ValueSink`] as it is decoded ([`RdbReader::next_item`] uses
//! [`Collect`] to build an owned [`Value`]); only one packed node (a
//! listpack, ziplist, ...) is in memory at a time, so a huge list or stream
//! is not held twice.
//!
//! Invariants kept here:
//! - every byte read goes through [`Input`], which counts offsets for
//!   errors and feeds the CRC64 that the end of the file is checked against
//!   (a stored zero means "not computed", as in Redis);
//! - no allocation is sized by a length field alone: strings grow as their
//!   bytes really arrive, LZF output is bounded by what the compressed bytes
//!   can expand to, element counts only cap preallocation;
//! - every packed blob is fully checked (Redis's `sanitize-dump-payload
//!   yes`) before or while its elements are handed out; on any error the
//!   reader returns it and the sink's partial value must be dropped;
//! - empty lists, sets, sorted sets and hashes are skipped and counted, as
//!   Redis skips them when loading; the stricter checks beyond Redis's
//!   (stream entry order, stream length, PEL ownership) refuse values that
//!   would break a server's invariants.

use std::io::{BufReader, ErrorKind as IoErrorKind, Read};

use super::error::{BlobError, Error, ErrorKind, Result};
use super::format::{self, opcode, rdb_type, Crc64Digest, CRC64};
use super::listpack::{Elem, Listpack};
use super::number::{format_i64, parse_score};
use super::sink::{Collect, ValueSink};
use super::value::{Kind, PendingEntry, StreamConsumer, StreamGroup, StreamId, StreamMeta, Value};
use super::{intset, lzf, stream, ziplist, zipmap};

/// Largest chunk a string is read in (and so grows by).
const READ_CHUNK: usize = 64 * 1024;

/// One thing an RDB file holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Item<V = Value> {
    /// A string-string field about the file (`redis-ver`, `ctime`, ...).
    Aux { key: Vec<u8>, value: Vec<u8> },
    /// Following keys belong to this database.
    SelectDb(u64),
    /// How many keys, and keys with an expiry, the current database has.
    ResizeDb { db_size: u64, expires_size: u64 },
    /// A function library: its code, starting with `#!<engine> name=<lib>`.
    Function(Vec<u8>),
    /// A key and its value.
    Key(Key<V>),
    /// The end, with what became of the checksum. Nothing follows.
    Eof(Checksum),
}

/// A key of the current database.
#[derive(Debug, Clone, PartialEq)]
pub struct Key<V = Value> {
    pub db: u64,
    pub key: Vec<u8>,
    /// The value's type byte in the file (its encoding, see
    /// [`format::rdb_type`]).
    pub rdb_type: u8,
    /// Unix ms when the key expires.
    pub expire_ms: Option<i64>,
    /// LRU idle time in seconds (saved under an LRU maxmemory policy).
    pub lru_idle: Option<u64>,
    /// LFU counter (saved under an LFU maxmemory policy).
    pub lfu_freq: Option<u8>,
    pub value: V,
}

/// The file's checksum, once the end is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    /// Stored and equal to the CRC64 of the content.
    Verified(u64),
    /// Stored as zero: the writer had `rdbchecksum no`.
    NotComputed,
    /// Versions before 5 have none.
    Absent,
}

/// Counting, checksumming input.
pub(crate) struct Input<R> {
    inner: R,
    offset: u64,
    crc: Crc64Digest,
}

impl<R: Read> Input<R> {
    pub(crate) fn new(inner: R) -> Input<R> {
        Input {
            inner,
            offset: 0,
            crc: CRC64.digest(),
        }
    }

    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// CRC64 of everything read so far.
    fn crc(&self) -> u64 {
        self.crc.clone().finalize()
    }

    /// Fill `buf`, or fail with how much was needed where.
    fn fill(&mut self, buf: &mut [u8], needed: u64, start: u64) -> Result<()> {
        let mut got = 0;
        while got < buf.len() {
            match self.inner.read(&mut buf[got..]) {
                Ok(0) => return Err(Error::new(start, ErrorKind::Truncated { needed })),
                Ok(n) => {
                    self.crc.update(&buf[got..got + n]);
                    got += n;
                    self.offset += n as u64;
                }
                Err(e) if e.kind() == IoErrorKind::Interrupted => {}
                Err(e) => return Err(Error::new(self.offset, ErrorKind::Io(e))),
            }
        }
        Ok(())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut b = [0u8; N];
        let start = self.offset;
        self.fill(&mut b, N as u64, start)?;
        Ok(b)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    /// Unix ms, 8 bytes little endian (`rdbLoadMillisecondTime`).
    fn millis(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// `n` bytes, in a buffer that grows as they arrive.
    fn bytes(&mut self, n: u64) -> Result<Vec<u8>> {
        let start = self.offset;
        let mut v = Vec::with_capacity((n as usize).min(READ_CHUNK));
        while (v.len() as u64) < n {
            let chunk = ((n - v.len() as u64) as usize).min(READ_CHUNK);
            let old = v.len();
            v.resize(old + chunk, 0);
            self.fill(&mut v[old..], n, start)?;
        }
        Ok(v)
    }

    /// A length, or the number of a special string encoding.
    fn len_or_enc(&mut self) -> Result<(u64, bool)> {
        let at = self.offset;
        let b = self.u8()?;
        Ok(match b >> 6 {
            format::LEN_6BIT => ((b & 0x3F) as u64, false),
            format::LEN_14BIT => ((((b & 0x3F) as u64) << 8) | self.u8()? as u64, false),
            format::LEN_ENCVAL => ((b & 0x3F) as u64, true),
            _ => match b {
                format::LEN_32BIT => (u32::from_be_bytes(self.array()?) as u64, false),
                format::LEN_64BIT => (u64::from_be_bytes(self.array()?), false),
                _ => {
                    return Err(Error::corrupt(
                        at,
                        format!("unknown length encoding 0x{b:02x}"),
                    ))
                }
            },
        })
    }

    /// A plain length.
    pub(crate) fn len(&mut self) -> Result<u64> {
        let at = self.offset;
        match self.len_or_enc()? {
            (n, false) => Ok(n),
            (_, true) => Err(Error::corrupt(
                at,
                "a string encoding where a length belongs",
            )),
        }
    }

    /// A string in any of its encodings (`rdbGenericLoadStringObject`).
    pub(crate) fn string(&mut self) -> Result<Vec<u8>> {
        let at = self.offset;
        match self.len_or_enc()? {
            (n, false) => self.bytes(n),
            (e, true) => match e as u8 {
                format::ENC_INT8 => Ok(format_i64(self.array::<1>()?[0] as i8 as i64)),
                format::ENC_INT16 => Ok(format_i64(i16::from_le_bytes(self.array()?) as i64)),
                format::ENC_INT32 => Ok(format_i64(i32::from_le_bytes(self.array()?) as i64)),
                format::ENC_LZF => {
                    let clen = self.len()?;
                    let ulen = self.len()?;
                    let c = self.bytes(clen)?;
                    let ulen = usize::try_from(ulen)
                        .map_err(|_| Error::corrupt(at, "LZF length too large"))?;
                    lzf::decompress(&c, ulen).map_err(|m| Error::corrupt(at, m))
                }
                e => Err(Error::corrupt(at, format!("unknown string encoding {e}"))),
            },
        }
    }

    /// A stream ID in its raw 16-byte big-endian form.
    fn raw_id(&mut self) -> Result<StreamId> {
        Ok(StreamId::from_be_bytes(&self.array()?))
    }

    fn len_id(&mut self) -> Result<StreamId> {
        Ok(StreamId::new(self.len()?, self.len()?))
    }
}

/// Calls into the sink, beginning the value on first use, with sink
/// refusals turned into errors at the current offset.
struct Out<'s, S: ValueSink> {
    sink: &'s mut S,
    kind: Kind,
    hint: u64,
    begun: bool,
}

impl<'s, S: ValueSink> Out<'s, S> {
    fn new(sink: &'s mut S, kind: Kind, hint: u64) -> Out<'s, S> {
        Out {
            sink,
            kind,
            hint,
            begun: false,
        }
    }

    fn call(
        &mut self,
        at: u64,
        f: impl FnOnce(&mut S) -> std::result::Result<(), String>,
    ) -> Result<()> {
        if !self.begun {
            self.sink
                .begin(self.kind, self.hint)
                .map_err(|m| Error::new(at, ErrorKind::Rejected(m)))?;
            self.begun = true;
        }
        f(self.sink).map_err(|m| Error::new(at, ErrorKind::Rejected(m)))
    }

    /// The finished value, or None if nothing was produced (an empty key).
    fn finish(self, at: u64) -> Result<Option<S::Output>> {
        if !self.begun {
            return Ok(None);
        }
        self.sink
            .finish()
            .map(Some)
            .map_err(|m| Error::new(at, ErrorKind::Rejected(m)))
    }
}

fn score_of(e: Elem<'_>) -> Option<f64> {
    match e {
        Elem::Int(v) => Some(v as f64),
        Elem::Str(s) => parse_score(s),
    }
}

/// Decode a value of type `t` whose first byte is at the input's offset.
/// `Ok(None)`: a collection with nothing in it.
pub(crate) fn read_value<R: Read, S: ValueSink>(
    inp: &mut Input<R>,
    t: u8,
    type_at: u64,
    sink: &mut S,
) -> Result<Option<S::Output>> {
    use rdb_type::*;
    let at = inp.offset();
    match t {
        STRING => {
            let s = inp.string()?;
            let mut out = Out::new(sink, Kind::String, s.len() as u64);
            out.call(at, |k| k.string(s))?;
            out.finish(at)
        }
        LIST | SET => {
            let n = inp.len()?;
            let kind = if t == LIST { Kind::List } else { Kind::Set };
            let mut out = Out::new(sink, kind, n);
            for _ in 0..n {
                let at = inp.offset();
                let s = inp.string()?;
                if t == LIST {
                    out.call(at, |k| k.list_item(s))?;
                } else {
                    out.call(at, |k| k.set_member(s))?;
                }
            }
            out.finish(inp.offset())
        }
        ZSET | ZSET_2 => {
            let n = inp.len()?;
            let mut out = Out::new(sink, Kind::ZSet, n);
            for _ in 0..n {
                let at = inp.offset();
                let member = inp.string()?;
                let score_at = inp.offset();
                let score = if t == ZSET_2 {
                    f64::from_le_bytes(inp.array()?)
                } else {
                    // rdbLoadDoubleValue: a length byte, with 253-255 for
                    // NaN, +inf and -inf.
                    match inp.u8()? {
                        253 => f64::NAN,
                        254 => f64::INFINITY,
                        255 => f64::NEG_INFINITY,
                        l => {
                            let text = inp.bytes(l as u64)?;
                            parse_score(&text).ok_or_else(|| {
                                Error::corrupt(score_at, "sorted set score is not a number")
                            })?
                        }
                    }
                };
                if score.is_nan() {
                    return Err(Error::corrupt(score_at, "sorted set score is NaN"));
                }
                out.call(at, |k| k.zset_member(member, score))?;
            }
            out.finish(inp.offset())
        }
        HASH => {
            let n = inp.len()?;
            let mut out = Out::new(sink, Kind::Hash, n);
            for _ in 0..n {
                let at = inp.offset();
                let f = inp.string()?;
                let v = inp.string()?;
                out.call(at, |k| k.hash_field(f, v))?;
            }
            out.finish(inp.offset())
        }
        LIST_QUICKLIST | LIST_QUICKLIST_2 => {
            let nodes = inp.len()?;
            let mut out = Out::new(sink, Kind::List, 0);
            for _ in 0..nodes {
                let mut container = format::QUICKLIST_NODE_PACKED;
                if t == LIST_QUICKLIST_2 {
                    let at = inp.offset();
                    container = inp.len()?;
                    if container != format::QUICKLIST_NODE_PACKED
                        && container != format::QUICKLIST_NODE_PLAIN
                    {
                        return Err(Error::corrupt(
                            at,
                            format!("unknown quicklist node container {container}"),
                        ));
                    }
                }
                let blob_at = inp.offset();
                let blob = inp.string()?;
                if blob.is_empty() {
                    return Err(Error::corrupt(blob_at, "empty quicklist node"));
                }
                if container == format::QUICKLIST_NODE_PLAIN {
                    out.call(blob_at, |k| k.list_item(blob))?;
                } else if t == LIST_QUICKLIST_2 {
                    let lp = Listpack::new(&blob)
                        .map_err(|e| Error::in_blob(blob_at, "quicklist listpack node", e))?;
                    for e in lp.iter() {
                        let e =
                            e.map_err(|e| Error::in_blob(blob_at, "quicklist listpack node", e))?;
                        out.call(blob_at, |k| k.list_item(e.to_vec()))?;
                    }
                } else {
                    let zl = ziplist::iter(&blob)
                        .map_err(|e| Error::in_blob(blob_at, "quicklist ziplist node", e))?;
                    for e in zl {
                        let e =
                            e.map_err(|e| Error::in_blob(blob_at, "quicklist ziplist node", e))?;
                        out.call(blob_at, |k| k.list_item(e.to_vec()))?;
                    }
                }
            }
            out.finish(inp.offset())
        }
        HASH_ZIPMAP => {
            let blob_at = inp.offset();
            let blob = inp.string()?;
            let mut pairs = Vec::new();
            zipmap::for_each(&blob, |f, v| pairs.push((f, v)))
                .map_err(|e| Error::in_blob(blob_at, "hash zipmap", e))?;
            let mut out = Out::new(sink, Kind::Hash, pairs.len() as u64);
            for (f, v) in pairs {
                out.call(blob_at, |k| k.hash_field(f.to_vec(), v.to_vec()))?;
            }
            out.finish(inp.offset())
        }
        LIST_ZIPLIST => {
            let blob_at = inp.offset();
            let blob = inp.string()?;
            let what = "list ziplist";
            let zl = ziplist::iter(&blob).map_err(|e| Error::in_blob(blob_at, what, e))?;
            let mut out = Out::new(sink, Kind::List, 0);
            for e in zl {
                let e = e.map_err(|e| Error::in_blob(blob_at, what, e))?;
                out.call(blob_at, |k| k.list_item(e.to_vec()))?;
            }
            out.finish(inp.offset())
        }
        SET_INTSET => {
            let blob_at = inp.offset();
            let blob = inp.string()?;
            let values =
                intset::parse(&blob).map_err(|e| Error::in_blob(blob_at, "set intset", e))?;
            let mut out = Out::new(sink, Kind::Set, values.len() as u64);
            for v in values {
                out.call(blob_at, |k| k.set_member(format_i64(v)))?;
            }
            out.finish(inp.offset())
        }
        ZSET_ZIPLIST | HASH_ZIPLIST | HASH_LISTPACK | ZSET_LISTPACK | SET_LISTPACK => {
            let blob_at = inp.offset();
            let blob = inp.string()?;
            let what = rdb_type::name(t);
            let err = |e: BlobError| Error::in_blob(blob_at, what, e);
            let (kind, pairs) = match t {
                ZSET_ZIPLIST | ZSET_LISTPACK => (Kind::ZSet, true),
                HASH_ZIPLIST | HASH_LISTPACK => (Kind::Hash, true),
                _ => (Kind::Set, false),
            };
            let mut elems: Box<dyn Iterator<Item = std::result::Result<Elem<'_>, BlobError>>> =
                if matches!(t, ZSET_ZIPLIST | HASH_ZIPLIST) {
                    Box::new(ziplist::iter(&blob).map_err(err)?)
                } else {
                    Box::new(Listpack::new(&blob).map_err(err)?.iter())
                };
            let mut out = Out::new(sink, kind, 0);
            while let Some(a) = elems.next() {
                let a = a.map_err(err)?;
                if !pairs {
                    out.call(blob_at, |k| k.set_member(a.to_vec()))?;
                    continue;
                }
                let b = match elems.next() {
                    Some(b) => b.map_err(err)?,
                    None => {
                        return Err(Error::corrupt(
                            blob_at,
                            format!("{what}: odd number of elements"),
                        ))
                    }
                };
                if kind == Kind::ZSet {
                    let score = score_of(b)
                        .filter(|s| !s.is_nan())
                        .ok_or_else(|| Error::corrupt(blob_at, format!("{what}: bad score")))?;
                    out.call(blob_at, |k| k.zset_member(a.to_vec(), score))?;
                } else {
                    out.call(blob_at, |k| k.hash_field(a.to_vec(), b.to_vec()))?;
                }
            }
            out.finish(inp.offset())
        }
        STREAM_LISTPACKS | STREAM_LISTPACKS_2 | STREAM_LISTPACKS_3 => {
            read_stream(inp, t, sink).map(Some)
        }
        MODULE_PRE_GA | MODULE_2 => {
            let id = inp.len()?;
            Err(Error::new(
                type_at,
                ErrorKind::Module {
                    name: format::module_type_name(id),
                },
            ))
        }
        _ => Err(Error::new(type_at, ErrorKind::UnknownType(t))),
    }
}

/// `streamEstimateDistanceFromFirstEverEntry`: what Redis 7.2 takes as a
/// group's entries-read when the file (stream type 15) does not say.
fn estimate_entries_read(m: &StreamMeta, id: StreamId) -> Option<u64> {
    if m.entries_added == 0 {
        return Some(0);
    }
    if m.length == 0 && id <= m.last_id {
        return Some(m.entries_added);
    }
    match id.cmp(&m.last_id) {
        std::cmp::Ordering::Equal => return Some(m.entries_added),
        std::cmp::Ordering::Greater => return None,
        std::cmp::Ordering::Less => {}
    }
    if m.max_deleted_id == StreamId::ZERO || m.max_deleted_id < m.first_id {
        if id < m.first_id {
            return m.entries_added.checked_sub(m.length);
        } else if id == m.first_id {
            return m.entries_added.checked_sub(m.length).map(|v| v + 1);
        }
    }
    None
}

fn read_stream<R: Read, S: ValueSink>(
    inp: &mut Input<R>,
    t: u8,
    sink: &mut S,
) -> Result<S::Output> {
    let mut out = Out::new(sink, Kind::Stream, 0);
    // Streams are never skipped as empty: begin now.
    out.call(inp.offset(), |_| Ok(()))?;
    let nodes = inp.len()?;
    let mut prev_key: Option<StreamId> = None;
    let mut prev_entry: Option<StreamId> = None;
    let mut first_entry: Option<StreamId> = None;
    let mut live: u64 = 0;
    for _ in 0..nodes {
        let key_at = inp.offset();
        let key = inp.string()?;
        let key: &[u8; 16] = key
            .as_slice()
            .try_into()
            .map_err(|_| Error::corrupt(key_at, "stream node key is not a 16-byte ID"))?;
        let master = StreamId::from_be_bytes(key);
        if prev_key.is_some_and(|p| master <= p) {
            return Err(Error::corrupt(
                key_at,
                "stream node keys not in ascending order",
            ));
        }
        prev_key = Some(master);
        let blob_at = inp.offset();
        let blob = inp.string()?;
        let entries = stream::decode_node(master, &blob)
            .map_err(|e| Error::in_blob(blob_at, "stream node", e))?;
        for e in entries {
            if prev_entry.is_some_and(|p| e.id <= p) {
                return Err(Error::corrupt(
                    blob_at,
                    format!("stream entry {} out of order", e.id),
                ));
            }
            prev_entry = Some(e.id);
            first_entry.get_or_insert(e.id);
            live += 1;
            out.call(blob_at, |k| k.stream_entry(e))?;
        }
    }
    let meta_at = inp.offset();
    let length = inp.len()?;
    let last_id = inp.len_id()?;
    let meta = if t >= rdb_type::STREAM_LISTPACKS_2 {
        StreamMeta {
            length,
            last_id,
            first_id: inp.len_id()?,
            max_deleted_id: inp.len_id()?,
            entries_added: inp.len()?,
        }
    } else {
        // streamGetEdgeID: with no entry, Redis takes the greatest ID.
        StreamMeta {
            length,
            last_id,
            first_id: first_entry.unwrap_or(StreamId::new(u64::MAX, u64::MAX)),
            max_deleted_id: StreamId::ZERO,
            entries_added: length,
        }
    };
    if length != live {
        return Err(Error::corrupt(
            meta_at,
            format!("stream length {length} but {live} live entries"),
        ));
    }
    if prev_entry.is_some_and(|p| p > last_id) {
        return Err(Error::corrupt(
            meta_at,
            "stream last ID below its last entry",
        ));
    }
    out.call(meta_at, |k| k.stream_meta(meta))?;

    let groups = inp.len()?;
    for _ in 0..groups {
        let group_at = inp.offset();
        let name = inp.string()?;
        let last_id = inp.len_id()?;
        let entries_read = if t >= rdb_type::STREAM_LISTPACKS_2 {
            let v = inp.len()?;
            (v as i64 >= 0).then_some(v)
        } else {
            estimate_entries_read(&meta, last_id)
        };
        let n = inp.len()?;
        let mut pending: Vec<PendingEntry> = Vec::new();
        for _ in 0..n {
            let id = inp.raw_id()?;
            let delivery_time = inp.millis()? as u64;
            let delivery_count = inp.len()?;
            pending.push(PendingEntry {
                id,
                delivery_time,
                delivery_count,
                consumer: Vec::new(),
            });
        }
        pending.sort_unstable_by_key(|p| p.id);
        if pending.windows(2).any(|w| w[0].id == w[1].id) {
            return Err(Error::corrupt(group_at, "duplicate entry in a group's PEL"));
        }
        let mut owned = vec![false; pending.len()];
        let nc = inp.len()?;
        let mut consumers: Vec<StreamConsumer> = Vec::new();
        for _ in 0..nc {
            let cname = inp.string()?;
            let seen_time = inp.millis()? as u64;
            let active_time = if t >= rdb_type::STREAM_LISTPACKS_3 {
                let a = inp.millis()?;
                (a >= 0).then_some(a as u64)
            } else {
                Some(seen_time)
            };
            let np = inp.len()?;
            let mut ids = Vec::new();
            for _ in 0..np {
                let id_at = inp.offset();
                let id = inp.raw_id()?;
                let i = pending.binary_search_by_key(&id, |p| p.id).map_err(|_| {
                    Error::corrupt(
                        id_at,
                        format!("consumer's pending entry {id} not in the group's PEL"),
                    )
                })?;
                if owned[i] {
                    return Err(Error::corrupt(
                        id_at,
                        format!("pending entry {id} owned twice"),
                    ));
                }
                owned[i] = true;
                pending[i].consumer = cname.clone();
                ids.push(id);
            }
            ids.sort_unstable();
            consumers.push(StreamConsumer {
                name: cname,
                seen_time,
                active_time,
                pending: ids,
            });
        }
        // Consumers come in name order from Redis; any order is accepted,
        // a name twice is not.
        let mut names: Vec<&[u8]> = consumers.iter().map(|c| c.name.as_slice()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::corrupt(
                group_at,
                format!(
                    "duplicate stream consumer {:?}",
                    String::from_utf8_lossy(w[0])
                ),
            ));
        }
        if let Some(i) = owned.iter().position(|o| !o) {
            return Err(Error::corrupt(
                group_at,
                format!("pending entry {} has no consumer", pending[i].id),
            ));
        }
        let group = StreamGroup {
            name,
            last_id,
            entries_read,
            pending,
            consumers,
        };
        out.call(group_at, |k| k.stream_group(group))?;
    }
    let end = inp.offset();
    out.finish(end)?
        .ok_or_else(|| Error::corrupt(end, "stream sink produced nothing"))
}

/// Reads an RDB file one [`Item`] at a time.
///
/// ```no_run
/// # use ringbus::persist::rdb::{RdbReader, Item};
/// let mut r = RdbReader::new(std::fs::File::open("dump.rdb")?)?;
/// while let Some(item) = r.next_item()? {
///     if let Item::Key(k) = item { println!("{:?} -> {:?}", k.key, k.value); }
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RdbReader<R: Read> {
    inp: Input<BufReader<R>>,
    version: u32,
    db: u64,
    done: bool,
    empty_keys_skipped: u64,
    collect: Collect,
}

impl<R: Read> RdbReader<R> {
    /// Read and check the header (`REDIS` and a version from 1 to 11). The
    /// reader buffers its input itself.
    pub fn new(r: R) -> Result<RdbReader<R>> {
        let mut inp = Input::new(BufReader::with_capacity(READ_CHUNK, r));
        let head: [u8; format::HEADER_LEN] = inp.array()?;
        if &head[..5] != format::MAGIC {
            return Err(Error::new(0, ErrorKind::NotRdb));
        }
        let digits = &head[5..];
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(Error::new(5, ErrorKind::NotRdb));
        }
        let version = digits.iter().fold(0u32, |v, d| v * 10 + (d - b'0') as u32);
        if !(format::MIN_VERSION..=format::MAX_VERSION).contains(&version) {
            return Err(Error::new(5, ErrorKind::UnsupportedVersion(version)));
        }
        Ok(RdbReader {
            inp,
            version,
            db: 0,
            done: false,
            empty_keys_skipped: 0,
            collect: Collect::new(),
        })
    }

    /// The file's RDB version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Bytes read so far.
    pub fn offset(&self) -> u64 {
        self.inp.offset()
    }

    /// Keys skipped because their collection was empty (as Redis does).
    pub fn empty_keys_skipped(&self) -> u64 {
        self.empty_keys_skipped
    }

    /// The next item with its value collected into a [`Value`]; `None`
    /// after the end.
    pub fn next_item(&mut self) -> Result<Option<Item>> {
        let mut c = std::mem::take(&mut self.collect);
        let r = self.next_item_into(&mut c);
        self.collect = c;
        r
    }

    /// The next item, a key's value going to `sink` as it is decoded.
    pub fn next_item_into<S: ValueSink>(
        &mut self,
        sink: &mut S,
    ) -> Result<Option<Item<S::Output>>> {
        if self.done {
            return Ok(None);
        }
        let r = self.read_item(sink);
        // Nothing is read after the end or after an error.
        if !matches!(r, Ok(Some(ref item)) if !matches!(item, Item::Eof(_))) {
            self.done = true;
        }
        r
    }

    fn read_item<S: ValueSink>(&mut self, sink: &mut S) -> Result<Option<Item<S::Output>>> {
        let mut expire_ms = None;
        let mut lru_idle = None;
        let mut lfu_freq = None;
        loop {
            let at = self.inp.offset();
            let t = self.inp.u8()?;
            match t {
                opcode::EXPIRETIME => {
                    let secs = i32::from_le_bytes(self.inp.array()?);
                    expire_ms = Some(secs as i64 * 1000);
                }
                opcode::EXPIRETIME_MS => expire_ms = Some(self.inp.millis()?),
                opcode::FREQ => lfu_freq = Some(self.inp.u8()?),
                opcode::IDLE => lru_idle = Some(self.inp.len()?),
                opcode::EOF => {
                    let computed = self.inp.crc();
                    let sum_at = self.inp.offset();
                    let checksum = if self.version < format::FIRST_CHECKSUMMED_VERSION {
                        Checksum::Absent
                    } else {
                        let stored = u64::from_le_bytes(self.inp.array()?);
                        if stored == 0 {
                            Checksum::NotComputed
                        } else if stored != computed {
                            return Err(Error::new(
                                sum_at,
                                ErrorKind::ChecksumMismatch { stored, computed },
                            ));
                        } else {
                            Checksum::Verified(stored)
                        }
                    };
                    return Ok(Some(Item::Eof(checksum)));
                }
                opcode::SELECTDB => {
                    self.db = self.inp.len()?;
                    return Ok(Some(Item::SelectDb(self.db)));
                }
                opcode::RESIZEDB => {
                    let db_size = self.inp.len()?;
                    let expires_size = self.inp.len()?;
                    return Ok(Some(Item::ResizeDb {
                        db_size,
                        expires_size,
                    }));
                }
                opcode::AUX => {
                    let key = self.inp.string()?;
                    let value = self.inp.string()?;
                    return Ok(Some(Item::Aux { key, value }));
                }
                opcode::MODULE_AUX => {
                    let id = self.inp.len()?;
                    return Err(Error::new(
                        at,
                        ErrorKind::Module {
                            name: format::module_type_name(id),
                        },
                    ));
                }
                opcode::FUNCTION2 => return Ok(Some(Item::Function(self.inp.string()?))),
                opcode::FUNCTION_PRE_GA => {
                    // 7.0 release candidates: name, engine, optional
                    // description, code; Redis rebuilds the shebang line.
                    let name = self.inp.string()?;
                    let engine = self.inp.string()?;
                    if self.inp.len()? != 0 {
                        self.inp.string()?;
                    }
                    let code = self.inp.string()?;
                    let mut lib = b"#!".to_vec();
                    lib.extend_from_slice(&engine);
                    lib.extend_from_slice(b" name=");
                    lib.extend_from_slice(&name);
                    lib.push(b'\n');
                    lib.extend_from_slice(&code);
                    return Ok(Some(Item::Function(lib)));
                }
                t if rdb_type::is_object_type(t) => {
                    let key = self.inp.string()?;
                    match read_value(&mut self.inp, t, at, sink)? {
                        Some(value) => {
                            return Ok(Some(Item::Key(Key {
                                db: self.db,
                                key,
                                rdb_type: t,
                                expire_ms,
                                lru_idle,
                                lfu_freq,
                                value,
                            })))
                        }
                        None => {
                            self.empty_keys_skipped += 1;
                            expire_ms = None;
                            lru_idle = None;
                            lfu_freq = None;
                        }
                    }
                }
                t => return Err(Error::new(at, ErrorKind::UnknownType(t))),
            }
        }
    }
}

impl<R: Read> Iterator for RdbReader<R> {
    type Item = Result<Item>;

    /// Items up to and including [`Item::Eof`], or up to the first error.
    fn next(&mut self) -> Option<Result<Item>> {
        self.next_item().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::rdb::format::crc64;
    use crate::persist::rdb::sink::SinkResult;
    use crate::persist::rdb::value::{StreamConsumer, StreamEntry, StreamValue};
    use crate::persist::rdb::write::{EncodeOptions, KeyMeta, RdbWriter};

    fn b(s: &str) -> Vec<u8> {
        s.as_bytes().to_vec()
    }

    fn all(bytes: &[u8]) -> Result<Vec<Item>> {
        RdbReader::new(bytes)?.collect()
    }

    /// A file of `body` after the header, sealed with EOF and CRC64.
    fn sealed(version: &str, body: &[u8]) -> Vec<u8> {
        let mut f = format!("REDIS{version}").into_bytes();
        f.extend_from_slice(body);
        f.push(0xFF);
        let sum = crc64(&f);
        f.extend_from_slice(&sum.to_le_bytes());
        f
    }

    fn sample_values() -> Vec<Value> {
        let stream = StreamValue {
            entries: vec![
                StreamEntry {
                    id: StreamId::new(1, 0),
                    fields: vec![(b("a"), b("1"))],
                },
                StreamEntry {
                    id: StreamId::new(2, 5),
                    fields: vec![(b("a"), b("2")), (b("b"), b("x"))],
                },
            ],
            meta: StreamMeta {
                length: 2,
                last_id: StreamId::new(3, 0),
                first_id: StreamId::new(1, 0),
                max_deleted_id: StreamId::new(3, 0),
                entries_added: 3,
            },
            groups: vec![StreamGroup {
                name: b("grp"),
                last_id: StreamId::new(2, 5),
                entries_read: None,
                pending: vec![PendingEntry {
                    id: StreamId::new(2, 5),
                    delivery_time: 99,
                    delivery_count: 3,
                    consumer: b("c"),
                }],
                consumers: vec![StreamConsumer {
                    name: b("c"),
                    seen_time: 100,
                    active_time: Some(100),
                    pending: vec![StreamId::new(2, 5)],
                }],
            }],
        };
        vec![
            Value::String(b("-42")),
            Value::String(vec![b'x'; 5000]),
            Value::List((0..3000).map(|i| i.to_string().into_bytes()).collect()),
            Value::Set(vec![b("3"), b("1"), b("2")]),
            Value::Set((0..600).map(|i| i.to_string().into_bytes()).collect()),
            Value::Set(vec![b("x"), b("y")]),
            Value::Hash(vec![(b("f"), b("v"))]),
            Value::Hash(
                (0..600)
                    .map(|i| (i.to_string().into_bytes(), b("v")))
                    .collect(),
            ),
            Value::ZSet(vec![(b("a"), -1.0), (b("b"), 0.5)]),
            Value::ZSet(
                (0..200)
                    .map(|i| (i.to_string().into_bytes(), 200.0 - i as f64))
                    .collect(),
            ),
            Value::Stream(Box::new(stream)),
        ]
    }

    /// Sets come back sorted when written as intsets; sorted sets are
    /// written in score order.
    fn canonical(v: &Value) -> Value {
        match v.clone() {
            Value::Set(mut s) => {
                s.sort();
                Value::Set(s)
            }
            Value::ZSet(mut z) => {
                z.sort_by(|a, b| a.0.cmp(&b.0));
                Value::ZSet(z)
            }
            other => other,
        }
    }

    #[test]
    fn every_value_round_trips_in_rdb_10_and_11() {
        for opts in [
            EncodeOptions::default(),
            EncodeOptions::rdb11(),
            EncodeOptions {
                compression: false,
                checksum: false,
                ..EncodeOptions::default()
            },
            // PLAIN nodes for elements of 3 bytes and more, 4 per node.
            EncodeOptions {
                list_plain_threshold: 3,
                list_max_listpack_size: 4,
                ..EncodeOptions::default()
            },
        ] {
            let values = sample_values();
            let mut w = RdbWriter::new(Vec::new(), opts.clone()).unwrap();
            w.aux(b"redis-ver", b"7.0.15").unwrap();
            w.function(b"#!lua name=x\nreturn 1").unwrap();
            w.select_db(4, values.len() as u64, 1).unwrap();
            for (i, v) in values.iter().enumerate() {
                let meta = KeyMeta {
                    expire_ms: (i == 1).then_some(123),
                    lru_idle: (i == 2).then_some(9),
                    lfu_freq: (i == 3).then_some(7),
                };
                w.write_value(format!("k{i}").as_bytes(), meta, v).unwrap();
            }
            let bytes = w.finish().unwrap();
            let items = all(&bytes).unwrap();
            assert_eq!(
                items[0],
                Item::Aux {
                    key: b("redis-ver"),
                    value: b("7.0.15")
                }
            );
            assert_eq!(items[1], Item::Function(b("#!lua name=x\nreturn 1")));
            assert_eq!(items[2], Item::SelectDb(4));
            let want_sum = if opts.checksum {
                Checksum::Verified(crc64(&bytes[..bytes.len() - 8]))
            } else {
                Checksum::NotComputed
            };
            assert_eq!(items.last(), Some(&Item::Eof(want_sum)));
            let keys: Vec<&Key> = items
                .iter()
                .filter_map(|i| if let Item::Key(k) = i { Some(k) } else { None })
                .collect();
            assert_eq!(keys.len(), values.len());
            for (i, (k, v)) in keys.iter().zip(&values).enumerate() {
                assert_eq!(k.db, 4);
                assert_eq!(k.key, format!("k{i}").into_bytes());
                assert_eq!(canonical(&k.value), canonical(v), "value {i} with {opts:?}");
                assert_eq!(k.expire_ms, (i == 1).then_some(123));
                assert_eq!(k.lru_idle, (i == 2).then_some(9));
                assert_eq!(k.lfu_freq, (i == 3).then_some(7));
            }
            let v11 = opts.version == 11;
            let types: Vec<u8> = keys.iter().map(|k| k.rdb_type).collect();
            assert_eq!(
                types,
                [
                    0,
                    0,
                    18,
                    11,
                    2,
                    if v11 { 20 } else { 2 },
                    16,
                    4,
                    17,
                    5,
                    if v11 { 21 } else { 19 }
                ]
            );
        }
    }

    /// A sink that only counts, as a loader streaming into its own
    /// structures would: nothing of the list is collected here.
    #[derive(Default)]
    struct Counter {
        items: u64,
        bytes: u64,
    }

    impl ValueSink for Counter {
        type Output = (u64, u64);
        fn begin(&mut self, _: Kind, _: u64) -> SinkResult {
            *self = Counter::default();
            Ok(())
        }
        fn string(&mut self, v: Vec<u8>) -> SinkResult {
            self.bytes += v.len() as u64;
            Ok(())
        }
        fn list_item(&mut self, v: Vec<u8>) -> SinkResult {
            self.items += 1;
            self.bytes += v.len() as u64;
            Ok(())
        }
        fn set_member(&mut self, _: Vec<u8>) -> SinkResult {
            Err("no sets here".into())
        }
        fn zset_member(&mut self, _: Vec<u8>, _: f64) -> SinkResult {
            Ok(())
        }
        fn hash_field(&mut self, _: Vec<u8>, _: Vec<u8>) -> SinkResult {
            Ok(())
        }
        fn stream_entry(&mut self, _: StreamEntry) -> SinkResult {
            Ok(())
        }
        fn stream_meta(&mut self, _: StreamMeta) -> SinkResult {
            Ok(())
        }
        fn stream_group(&mut self, _: StreamGroup) -> SinkResult {
            Ok(())
        }
        fn finish(&mut self) -> SinkResult<(u64, u64)> {
            Ok((self.items, self.bytes))
        }
    }

    #[test]
    fn a_sink_gets_a_big_list_element_by_element() {
        let mut w = RdbWriter::new(Vec::new(), EncodeOptions::default()).unwrap();
        w.select_db(0, 2, 0).unwrap();
        let items: Vec<Vec<u8>> = (0..100_000)
            .map(|i| format!("item:{i}").into_bytes())
            .collect();
        w.key(b"big", None)
            .unwrap()
            .list(items.iter().map(Vec::as_slice))
            .unwrap();
        w.key(b"s", None).unwrap().set([&b"a"[..]]).unwrap();
        let bytes = w.finish().unwrap();
        let mut r = RdbReader::new(&bytes[..]).unwrap();
        let mut sink = Counter::default();
        let want_bytes: u64 = items.iter().map(|i| i.len() as u64).sum();
        loop {
            match r.next_item_into(&mut sink) {
                Ok(Some(Item::Key(k))) => {
                    assert_eq!(k.value, (100_000, want_bytes));
                }
                Ok(Some(_)) => {}
                Ok(None) => panic!("the set should have been refused"),
                Err(e) => {
                    assert!(
                        matches!(e.kind, ErrorKind::Rejected(ref m) if m == "no sets here"),
                        "{e}"
                    );
                    break;
                }
            }
        }
        // Nothing after an error.
        assert!(r.next_item().unwrap().is_none());
    }

    #[test]
    fn header_errors() {
        let e = all(b"REDIT0010").unwrap_err();
        assert!(matches!(e.kind, ErrorKind::NotRdb));
        let e = all(b"REDIS0012").unwrap_err();
        assert!(matches!(e.kind, ErrorKind::UnsupportedVersion(12)));
        assert_eq!(e.to_string(), "unsupported RDB version 12 at offset 5");
        let e = all(b"REDIS00").unwrap_err();
        assert_eq!(e.to_string(), "truncated: needed 9 bytes at offset 0");
        assert!(matches!(
            all(b"REDIS001x").unwrap_err().kind,
            ErrorKind::NotRdb
        ));
    }

    #[test]
    fn checksum_mismatch_names_both_sums() {
        let mut f = sealed("0010", b"\xFE\x00\x00\x01k\x01v");
        let n = f.len();
        f[n - 8] ^= 0xFF;
        let e = all(&f).unwrap_err();
        let ErrorKind::ChecksumMismatch { stored, computed } = e.kind else {
            panic!("{e}")
        };
        assert_eq!(computed, crc64(&f[..n - 8]));
        assert_eq!(e.offset, (n - 8) as u64);
        assert!(
            e.to_string().starts_with(&format!(
                "checksum mismatch: file says {stored:016x}, computed {computed:016x}"
            )),
            "{e}"
        );
        // Before version 5 there is no checksum at all.
        let mut old = b"REDIS0004\xFE\x00\x00\x01k\x01v\xFF".to_vec();
        assert_eq!(
            all(&old).unwrap().last(),
            Some(&Item::Eof(Checksum::Absent))
        );
        old.pop();
        assert!(all(&old).is_err());
    }

    #[test]
    fn unknown_types_and_bad_lengths_name_their_offset() {
        let e = all(&sealed("0010", b"\xFE\x00\x2A\x01k")).unwrap_err();
        assert_eq!(e.to_string(), "unknown value type 42 at offset 11");
        let e = all(&sealed("0010", b"\x00\x01k\xC7")).unwrap_err();
        assert_eq!(e.to_string(), "unknown string encoding 7 at offset 12");
        let e = all(&sealed("0010", b"\x00\x01k\x82")).unwrap_err();
        assert_eq!(e.to_string(), "unknown length encoding 0x82 at offset 12");
        let e = all(&sealed("0010", b"\x01\x01k\xC0")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a string encoding where a length belongs at offset 12"
        );
        // A listpack problem names the blob and the byte inside it.
        let e = all(&sealed(
            "0010",
            b"\x10\x01k\x07\x07\x00\x00\x00\x01\x00\xFF",
        ))
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("listpack header count 1, but 0 elements"),
            "{e}"
        );
        assert_eq!(e.offset, 12);
    }

    #[test]
    fn empty_collections_are_skipped_like_redis() {
        // An expiry, a list of 0 elements, a hash listpack with none, then
        // a string: the expiry went with the skipped list.
        let f = sealed(
            "0010",
            b"\xFC\x01\x00\x00\x00\x00\x00\x00\x00\x01\x01a\x00\x10\x01b\x07\x07\x00\x00\x00\x00\x00\xFF\x00\x01c\x01v",
        );
        let mut r = RdbReader::new(&f[..]).unwrap();
        let Some(Item::Key(k)) = r.next_item().unwrap() else {
            panic!()
        };
        assert_eq!((k.key, k.value), (b("c"), Value::String(b("v"))));
        assert_eq!(k.expire_ms, None);
        assert_eq!(r.empty_keys_skipped(), 2);
    }

    #[test]
    fn duplicates_and_stream_inconsistencies_are_refused() {
        let e = all(&sealed("0010", b"\x02\x01k\x02\x01a\x01a")).unwrap_err();
        assert!(e.to_string().contains("duplicate set member"), "{e}");
        let e = all(&sealed("0010", b"\x04\x01k\x02\x01a\x01x\x01a\x01y")).unwrap_err();
        assert!(e.to_string().contains("duplicate hash field"), "{e}");
        // A stream with no nodes but a length of 1.
        let e = all(&sealed(
            "0010",
            b"\x13\x01k\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00",
        ))
        .unwrap_err();
        assert!(
            e.to_string().contains("stream length 1 but 0 live entries"),
            "{e}"
        );
        // A zset with a NaN score (zset2).
        let mut body = b"\x05\x01k\x01\x01a".to_vec();
        body.extend_from_slice(&f64::NAN.to_le_bytes());
        let e = all(&sealed("0010", &body)).unwrap_err();
        assert!(e.to_string().contains("NaN"), "{e}");
    }

    #[test]
    fn estimate_matches_redis_cases() {
        let m = StreamMeta {
            length: 3,
            last_id: StreamId::new(30, 0),
            first_id: StreamId::new(10, 0),
            max_deleted_id: StreamId::ZERO,
            entries_added: 5,
        };
        assert_eq!(estimate_entries_read(&m, StreamId::new(30, 0)), Some(5));
        assert_eq!(estimate_entries_read(&m, StreamId::new(31, 0)), None);
        assert_eq!(estimate_entries_read(&m, StreamId::new(5, 0)), Some(2));
        assert_eq!(estimate_entries_read(&m, StreamId::new(10, 0)), Some(3));
        assert_eq!(estimate_entries_read(&m, StreamId::new(20, 0)), None);
        let empty = StreamMeta::default();
        assert_eq!(estimate_entries_read(&empty, StreamId::new(1, 0)), Some(0));
    }
}
