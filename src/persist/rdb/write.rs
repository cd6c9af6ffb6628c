//! The encoder: what Redis 7.0 writes (RDB 10, by default), or Redis 7.2
//! (RDB 11) on request, to any `impl Write`.
//!
//! [`RdbWriter`] writes a file: header, aux fields, function libraries,
//! per database SELECTDB + RESIZEDB, keys, EOF and the CRC64. A key's value
//! is written by a [`ValueWriter`] from borrowed data fed by iterators, so
//! a snapshot never copies a large value first; the same [`ValueWriter`]
//! writes DUMP payloads (`dump.rs`).
//!
//! Invariants kept here:
//! - encodings are chosen as Redis chooses them from the thresholds in
//!   [`EncodeOptions`] (the caller passes its configuration): strings
//!   integer-encoded when canonical and within 32 bits, LZF-compressed when
//!   longer than 20 bytes and 4 bytes shorter that way; lists as quicklist 2
//!   with nodes filled by 7.0.15's `_quicklistNodeAllowInsert`; sets as intset,
//!   listpack (RDB 11) or plain; hashes and sorted sets as listpack or
//!   plain; streams in XADD's node layout;
//! - where the format puts a count or a node count before the items, the
//!   iterator is walked twice (it must be `Clone`): once to count and
//!   decide, once to write; nothing but small per-node buffers is held;
//! - nothing is written for a key until its value has been checked (empty
//!   collection, wrong order): an `InvalidInput` error leaves the output
//!   as it was before the key.

use std::cmp::Ordering;
use std::io::{self, BufWriter, Write};

use super::format::{self, opcode, rdb_type, Crc64Digest, CRC64};
use super::intset;
use super::listpack::{entry_size, ListpackBuilder};
use super::lzf;
use super::number::{format_score, parse_i64_strict};
use super::stream::{NodeEncoder, NodeLimits};
use super::value::{StreamGroup, StreamId, StreamMeta, Value};

/// Encoding choices and thresholds: Redis's configuration at save time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeOptions {
    /// RDB version: 10 (Redis 7.0, the default) or 11 (Redis 7.2).
    pub version: u32,
    /// `rdbcompression`: LZF for strings over 20 bytes.
    pub compression: bool,
    /// `rdbchecksum`: a CRC64 at the end of a file (else zeros). DUMP
    /// payloads always carry one.
    pub checksum: bool,
    /// `list-max-listpack-size`: negative for a byte limit per node (-1 is
    /// 4 KB ... -5 is 64 KB), positive for an element count.
    pub list_max_listpack_size: i32,
    /// Elements at least this long get a node of their own (PLAIN). Redis
    /// 7.0 uses 1 GB.
    pub list_plain_threshold: usize,
    pub set_max_intset_entries: usize,
    /// Only for RDB 11: sets that are not intsets but this small become a
    /// listpack.
    pub set_max_listpack_entries: usize,
    pub set_max_listpack_value: usize,
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    pub stream_node_max_bytes: usize,
    pub stream_node_max_entries: usize,
}

impl Default for EncodeOptions {
    /// What `redis-server` 7.0 uses when started without a config file.
    fn default() -> Self {
        EncodeOptions {
            version: format::VERSION_7_0,
            compression: true,
            checksum: true,
            list_max_listpack_size: -2,
            list_plain_threshold: 1 << 30,
            set_max_intset_entries: 512,
            set_max_listpack_entries: 128,
            set_max_listpack_value: 64,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            stream_node_max_bytes: 4096,
            stream_node_max_entries: 100,
        }
    }
}

impl EncodeOptions {
    /// Redis 7.2's format (RDB 11) with the default thresholds.
    pub fn rdb11() -> EncodeOptions {
        EncodeOptions {
            version: format::VERSION_7_2,
            ..EncodeOptions::default()
        }
    }

    pub(crate) fn check(&self) -> io::Result<()> {
        if self.version != format::VERSION_7_0 && self.version != format::VERSION_7_2 {
            return Err(invalid(format!(
                "the encoder writes RDB 10 or 11, not {}",
                self.version
            )));
        }
        Ok(())
    }
}

/// What precedes a key: its expiry and eviction data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyMeta {
    /// Unix ms.
    pub expire_ms: Option<i64>,
    /// LRU idle seconds (Redis saves it under an LRU maxmemory policy).
    pub lru_idle: Option<u64>,
    /// LFU counter (Redis saves it under an LFU maxmemory policy).
    pub lfu_freq: Option<u8>,
}

impl From<Option<i64>> for KeyMeta {
    fn from(expire_ms: Option<i64>) -> KeyMeta {
        KeyMeta {
            expire_ms,
            ..KeyMeta::default()
        }
    }
}

/// The aux fields Redis writes after the header.
#[derive(Debug, Clone)]
pub struct AuxInfo<'a> {
    pub redis_ver: &'a str,
    pub redis_bits: u32,
    /// Unix seconds.
    pub ctime: i64,
    pub used_mem: u64,
    /// Whether this file is the base of an append-only log.
    pub aof_base: bool,
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.into())
}

fn put_len<W: Write>(w: &mut W, n: u64) -> io::Result<()> {
    let mut b = [0u8; 9];
    let used = if n < 1 << 6 {
        b[0] = n as u8;
        1
    } else if n < 1 << 14 {
        b[0] = ((n >> 8) as u8) | (format::LEN_14BIT << 6);
        b[1] = n as u8;
        2
    } else if n <= u32::MAX as u64 {
        b[0] = format::LEN_32BIT;
        b[1..5].copy_from_slice(&(n as u32).to_be_bytes());
        5
    } else {
        b[0] = format::LEN_64BIT;
        b[1..9].copy_from_slice(&n.to_be_bytes());
        9
    };
    w.write_all(&b[..used])
}

/// `rdbSaveRawString`: integer form, LZF, or length + bytes.
fn put_string<W: Write>(
    w: &mut W,
    s: &[u8],
    compress: bool,
    lzf_buf: &mut Vec<u8>,
) -> io::Result<()> {
    if s.len() <= 11 {
        if let Some(v) = parse_i64_strict(s) {
            let enc = format::LEN_ENCVAL << 6;
            if let Ok(v) = i8::try_from(v) {
                return w.write_all(&[enc | format::ENC_INT8, v as u8]);
            } else if let Ok(v) = i16::try_from(v) {
                let b = v.to_le_bytes();
                return w.write_all(&[enc | format::ENC_INT16, b[0], b[1]]);
            } else if let Ok(v) = i32::try_from(v) {
                let b = v.to_le_bytes();
                return w.write_all(&[enc | format::ENC_INT32, b[0], b[1], b[2], b[3]]);
            }
        }
    }
    if compress && s.len() > 20 && lzf::compress(s, lzf_buf) {
        w.write_all(&[(format::LEN_ENCVAL << 6) | format::ENC_LZF])?;
        put_len(w, lzf_buf.len() as u64)?;
        put_len(w, s.len() as u64)?;
        return w.write_all(lzf_buf);
    }
    put_len(w, s.len() as u64)?;
    w.write_all(s)
}

/// A function library record (`rdbSaveFunctions`): the opcode, then the
/// code as an RDB string. Files and FUNCTION DUMP payloads share it.
pub(crate) fn put_function<W: Write>(
    w: &mut W,
    code: &[u8],
    compress: bool,
    lzf_buf: &mut Vec<u8>,
) -> io::Result<()> {
    w.write_all(&[opcode::FUNCTION2])?;
    put_string(w, code, compress, lzf_buf)
}

/// Buffers reused from value to value.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    lzf: Vec<u8>,
    lp: ListpackBuilder,
    blob: Vec<u8>,
}

/// Node being filled while a list is laid into quicklist nodes.
#[derive(Debug, Clone, Copy)]
struct NodeState {
    bytes: usize,
    count: usize,
    plain: bool,
}

/// Redis 7.0.15's rule for where list elements go (`quicklistPushTail`).
struct QuicklistPacker {
    fill: i32,
    plain_threshold: usize,
    cur: Option<NodeState>,
}

const SIZE_SAFETY_LIMIT: usize = 8192;
const SIZE_ESTIMATE_OVERHEAD: usize = 8;
const OPTIMIZATION_LEVEL: [usize; 5] = [4096, 8192, 16384, 32768, 65536];

impl QuicklistPacker {
    fn new(fill: i32, plain_threshold: usize) -> QuicklistPacker {
        QuicklistPacker {
            fill: fill.clamp(-5, 1 << 15),
            plain_threshold,
            cur: None,
        }
    }

    /// `_quicklistNodeAllowInsert` as in Redis 7.0.15: the new size is
    /// estimated with 8 bytes of overhead and compared to the fill's byte
    /// level (negative fill) or to 8 KB and the count (positive fill).
    fn allows(&self, n: &NodeState, sz: usize) -> bool {
        if n.plain || sz >= self.plain_threshold {
            return false;
        }
        let new_sz = n.bytes + sz + SIZE_ESTIMATE_OVERHEAD;
        if self.fill < 0 {
            let level = ((-self.fill - 1) as usize).min(OPTIMIZATION_LEVEL.len() - 1);
            new_sz <= OPTIMIZATION_LEVEL[level]
        } else {
            let max_count = self.fill.max(1) as usize;
            new_sz <= SIZE_SAFETY_LIMIT && n.count < max_count
        }
    }

    /// Place `s`: `Some(plain)` when it starts a new node.
    fn push(&mut self, s: &[u8]) -> Option<bool> {
        let sz = s.len();
        if let Some(n) = self.cur.as_mut() {
            let n_copy = *n;
            if self.allows(&n_copy, sz) {
                let n = self.cur.as_mut().expect("checked");
                n.bytes += entry_size(s);
                n.count += 1;
                return None;
            }
        }
        let plain = sz >= self.plain_threshold;
        self.cur = Some(NodeState {
            bytes: if plain { sz } else { 6 + entry_size(s) + 1 },
            count: 1,
            plain,
        });
        Some(plain)
    }
}

/// Writes one value (type byte, key if any, body). Obtained from
/// [`RdbWriter::key`] or [`super::dump::DumpWriter::value`]; each method
/// consumes it.
pub struct ValueWriter<'a, W: Write> {
    out: &'a mut W,
    opts: &'a EncodeOptions,
    key: Option<(&'a [u8], KeyMeta)>,
    scratch: &'a mut Scratch,
}

/// Gets a stream's entries to `visit`, one at a time (see
/// [`ValueWriter::stream_from`]).
pub type EntryVisit<'v> = dyn FnMut(StreamId, &[(&[u8], &[u8])]) -> io::Result<()> + 'v;

/// Hands every entry of a stream to the visitor it is given.
pub type EachEntry<'e> = dyn FnMut(&mut EntryVisit<'_>) -> io::Result<()> + 'e;

/// Compares sorted-set members as Redis orders them: score, then bytes.
fn zset_cmp(a: (&[u8], f64), b: (&[u8], f64)) -> Ordering {
    a.1.partial_cmp(&b.1)
        .unwrap_or(Ordering::Equal)
        .then_with(|| a.0.cmp(b.0))
}

impl<'a, W: Write> ValueWriter<'a, W> {
    pub(crate) fn new(
        out: &'a mut W,
        opts: &'a EncodeOptions,
        key: Option<(&'a [u8], KeyMeta)>,
        scratch: &'a mut Scratch,
    ) -> ValueWriter<'a, W> {
        ValueWriter {
            out,
            opts,
            key,
            scratch,
        }
    }

    /// Key prefix opcodes, type byte, key.
    fn head(&mut self, t: u8) -> io::Result<()> {
        if let Some((key, meta)) = self.key {
            if let Some(ms) = meta.expire_ms {
                self.out.write_all(&[opcode::EXPIRETIME_MS])?;
                self.out.write_all(&ms.to_le_bytes())?;
            }
            if let Some(idle) = meta.lru_idle {
                self.out.write_all(&[opcode::IDLE])?;
                put_len(self.out, idle)?;
            }
            if let Some(freq) = meta.lfu_freq {
                self.out.write_all(&[opcode::FREQ, freq])?;
            }
            self.out.write_all(&[t])?;
            self.put_str(key)?;
        } else {
            self.out.write_all(&[t])?;
        }
        Ok(())
    }

    fn put_str(&mut self, s: &[u8]) -> io::Result<()> {
        put_string(self.out, s, self.opts.compression, &mut self.scratch.lzf)
    }

    /// Write the listpack in `scratch.lp` as a string.
    fn put_listpack(&mut self) -> io::Result<()> {
        let Scratch { lzf, lp, .. } = &mut *self.scratch;
        put_string(self.out, lp.finish(), self.opts.compression, lzf)
    }

    /// A string value.
    pub fn string(mut self, value: &[u8]) -> io::Result<()> {
        self.head(rdb_type::STRING)?;
        self.put_str(value)
    }

    /// A list, head to tail, as quicklist 2 (type 18).
    pub fn list<'b, I>(mut self, items: I) -> io::Result<()>
    where
        I: IntoIterator<Item = &'b [u8]>,
        I::IntoIter: Clone,
    {
        let items = items.into_iter();
        let (fill, thr) = (
            self.opts.list_max_listpack_size,
            self.opts.list_plain_threshold,
        );
        let mut plan = QuicklistPacker::new(fill, thr);
        let nodes = items.clone().filter(|s| plan.push(s).is_some()).count();
        if nodes == 0 {
            return Err(invalid(
                "an empty list has no RDB form (Redis deletes the key)",
            ));
        }
        self.head(rdb_type::LIST_QUICKLIST_2)?;
        put_len(self.out, nodes as u64)?;
        let mut packer = QuicklistPacker::new(fill, thr);
        self.scratch.lp.clear();
        for s in items {
            match packer.push(s) {
                None => self.scratch.lp.push(s),
                Some(plain) => {
                    if self.scratch.lp.count() > 0 {
                        put_len(self.out, format::QUICKLIST_NODE_PACKED)?;
                        self.put_listpack()?;
                        self.scratch.lp.clear();
                    }
                    if plain {
                        put_len(self.out, format::QUICKLIST_NODE_PLAIN)?;
                        self.put_str(s)?;
                    } else {
                        self.scratch.lp.push(s);
                    }
                }
            }
        }
        if self.scratch.lp.count() > 0 {
            put_len(self.out, format::QUICKLIST_NODE_PACKED)?;
            self.put_listpack()?;
            self.scratch.lp.clear();
        }
        Ok(())
    }

    /// A set (members must be distinct): intset, listpack (RDB 11) or
    /// plain, as Redis would hold it.
    pub fn set<'b, I>(mut self, members: I) -> io::Result<()>
    where
        I: IntoIterator<Item = &'b [u8]>,
        I::IntoIter: Clone,
    {
        let members = members.into_iter();
        let (mut n, mut all_int, mut max_len) = (0usize, true, 0usize);
        for m in members.clone() {
            n += 1;
            all_int = all_int && parse_i64_strict(m).is_some();
            max_len = max_len.max(m.len());
        }
        if n == 0 {
            return Err(invalid(
                "an empty set has no RDB form (Redis deletes the key)",
            ));
        }
        let o = self.opts;
        if all_int && n <= o.set_max_intset_entries {
            let mut ints: Vec<i64> = members.filter_map(parse_i64_strict).collect();
            ints.sort_unstable();
            if ints.windows(2).any(|w| w[0] == w[1]) {
                return Err(invalid("duplicate set member"));
            }
            let mut blob = std::mem::take(&mut self.scratch.blob);
            intset::encode(&ints, &mut blob);
            let r = self
                .head(rdb_type::SET_INTSET)
                .and_then(|_| self.put_str(&blob));
            self.scratch.blob = blob;
            r
        } else if o.version >= format::VERSION_7_2
            && n <= o.set_max_listpack_entries
            && max_len <= o.set_max_listpack_value
        {
            self.scratch.lp.clear();
            for m in members {
                self.scratch.lp.push(m);
            }
            self.head(rdb_type::SET_LISTPACK)?;
            self.put_listpack()
        } else {
            self.head(rdb_type::SET)?;
            put_len(self.out, n as u64)?;
            for m in members {
                self.put_str(m)?;
            }
            Ok(())
        }
    }

    /// A hash (fields must be distinct): listpack or plain.
    pub fn hash<'b, I>(mut self, pairs: I) -> io::Result<()>
    where
        I: IntoIterator<Item = (&'b [u8], &'b [u8])>,
        I::IntoIter: Clone,
    {
        let pairs = pairs.into_iter();
        let (mut n, mut max_len) = (0usize, 0usize);
        for (f, v) in pairs.clone() {
            n += 1;
            max_len = max_len.max(f.len()).max(v.len());
        }
        if n == 0 {
            return Err(invalid(
                "an empty hash has no RDB form (Redis deletes the key)",
            ));
        }
        let o = self.opts;
        if n <= o.hash_max_listpack_entries && max_len <= o.hash_max_listpack_value {
            self.scratch.lp.clear();
            for (f, v) in pairs {
                self.scratch.lp.push(f);
                self.scratch.lp.push(v);
            }
            self.head(rdb_type::HASH_LISTPACK)?;
            self.put_listpack()
        } else {
            self.head(rdb_type::HASH)?;
            put_len(self.out, n as u64)?;
            for (f, v) in pairs {
                self.put_str(f)?;
                self.put_str(v)?;
            }
            Ok(())
        }
    }

    /// A sorted set, members in ascending (score, member) order as Redis
    /// keeps them: a listpack when small, else zset2, written from the
    /// greatest down as Redis does (so its loader inserts at the head).
    /// Scores must not be NaN.
    pub fn zset<'b, I>(mut self, members: I) -> io::Result<()>
    where
        I: IntoIterator<Item = (&'b [u8], f64)>,
        I::IntoIter: Clone + DoubleEndedIterator,
    {
        let members = members.into_iter();
        let (mut n, mut max_len, mut sorted) = (0usize, 0usize, true);
        let mut prev: Option<(&[u8], f64)> = None;
        for (m, s) in members.clone() {
            if s.is_nan() {
                return Err(invalid("sorted set score is NaN"));
            }
            n += 1;
            max_len = max_len.max(m.len());
            if let Some(p) = prev {
                sorted = sorted && zset_cmp(p, (m, s)) == Ordering::Less;
            }
            prev = Some((m, s));
        }
        if n == 0 {
            return Err(invalid(
                "an empty sorted set has no RDB form (Redis deletes the key)",
            ));
        }
        if !sorted {
            return Err(invalid(
                "sorted set members must come in ascending (score, member) order",
            ));
        }
        let o = self.opts;
        if n <= o.zset_max_listpack_entries && max_len <= o.zset_max_listpack_value {
            self.scratch.lp.clear();
            for (m, s) in members {
                self.scratch.lp.push(m);
                self.scratch.lp.push(&format_score(s));
            }
            self.head(rdb_type::ZSET_LISTPACK)?;
            self.put_listpack()
        } else {
            self.head(rdb_type::ZSET_2)?;
            put_len(self.out, n as u64)?;
            for (m, s) in members.rev() {
                self.put_str(m)?;
                self.out.write_all(&s.to_le_bytes())?;
            }
            Ok(())
        }
    }

    /// A stream: its live entries in ascending ID order (as many as
    /// `meta.length`), laid into nodes as XADD would, then its metadata.
    /// Consumer groups follow through the returned [`StreamWriter`].
    pub fn stream<'b, I, F>(self, meta: &StreamMeta, entries: I) -> io::Result<StreamWriter<'a, W>>
    where
        I: IntoIterator<Item = (StreamId, F)>,
        I::IntoIter: Clone,
        F: IntoIterator<Item = (&'b [u8], &'b [u8])>,
        F::IntoIter: Clone,
    {
        let entries = entries.into_iter();
        let mut fields: Vec<(&'b [u8], &'b [u8])> = Vec::new();
        self.stream_from(meta, &mut |visit| {
            for (id, f) in entries.clone() {
                fields.clear();
                fields.extend(f);
                visit(id, &fields)?;
            }
            Ok(())
        })
    }

    /// A stream whose entries come from `each`, which the encoder calls
    /// twice (it counts nodes, then writes them); each call must hand the
    /// same entries to `visit`, in ascending ID order. Entries may live in
    /// buffers that last only for one `visit` (a stream read in chunks).
    pub fn stream_from(
        mut self,
        meta: &StreamMeta,
        each: &mut EachEntry<'_>,
    ) -> io::Result<StreamWriter<'a, W>> {
        let limits = NodeLimits {
            max_bytes: self.opts.stream_node_max_bytes,
            max_entries: self.opts.stream_node_max_entries,
        };
        // First pass: order, count, and how many nodes.
        let mut plan = NodeEncoder::new(limits);
        let mut ignore = |_: StreamId, _: &[u8]| Ok(());
        let (mut n, mut prev) = (0u64, None::<StreamId>);
        each(&mut |id, fields| {
            if prev.is_some_and(|p| p >= id) {
                return Err(invalid("stream entries must come in ascending ID order"));
            }
            prev = Some(id);
            n += 1;
            plan.add(id, fields.iter().copied(), &mut ignore)
        })?;
        plan.flush(&mut ignore)?;
        if n != meta.length {
            return Err(invalid(format!(
                "stream metadata says {} entries, {n} given",
                meta.length
            )));
        }
        if prev.is_some_and(|p| p > meta.last_id) {
            return Err(invalid("stream last ID below its last entry"));
        }
        let v11 = self.opts.version >= format::VERSION_7_2;
        self.head(if v11 {
            rdb_type::STREAM_LISTPACKS_3
        } else {
            rdb_type::STREAM_LISTPACKS_2
        })?;
        put_len(self.out, plan.nodes())?;
        let compress = self.opts.compression;
        {
            let out = &mut *self.out;
            let lzf = &mut self.scratch.lzf;
            let mut emit = |id: StreamId, lp: &[u8]| {
                put_string(out, &id.to_be_bytes(), compress, lzf)?;
                put_string(out, lp, compress, lzf)
            };
            let mut enc = NodeEncoder::new(limits);
            let mut written = 0u64;
            each(&mut |id, fields| {
                written += 1;
                enc.add(id, fields.iter().copied(), &mut emit)
            })?;
            enc.flush(&mut emit)?;
            if written != n {
                return Err(invalid("stream entries changed between the two passes"));
            }
        }
        let m = meta;
        for v in [
            m.length,
            m.last_id.ms,
            m.last_id.seq,
            m.first_id.ms,
            m.first_id.seq,
            m.max_deleted_id.ms,
            m.max_deleted_id.seq,
            m.entries_added,
        ] {
            put_len(self.out, v)?;
        }
        Ok(StreamWriter {
            out: self.out,
            compress,
            lzf: &mut self.scratch.lzf,
            v11,
            groups_left: None,
            in_group: false,
            pel_left: 0,
            consumers_left: None,
            cpel_left: 0,
        })
    }

    /// Any [`Value`] (sorted-set members are sorted first).
    pub fn value(self, v: &Value) -> io::Result<()> {
        fn pair(p: &(Vec<u8>, Vec<u8>)) -> (&[u8], &[u8]) {
            (&p.0, &p.1)
        }
        match v {
            Value::String(s) => self.string(s),
            Value::List(l) => self.list(l.iter().map(Vec::as_slice)),
            Value::Set(s) => self.set(s.iter().map(Vec::as_slice)),
            Value::Hash(h) => self.hash(h.iter().map(pair)),
            Value::ZSet(z) => {
                let mut sorted: Vec<(&[u8], f64)> =
                    z.iter().map(|(m, s)| (m.as_slice(), *s)).collect();
                sorted.sort_by(|a, b| zset_cmp(*a, *b));
                self.zset(sorted.iter().copied())
            }
            Value::Stream(s) => {
                let entries = s.entries.iter().map(|e| (e.id, e.fields.iter().map(pair)));
                let mut w = self.stream(&s.meta, entries)?;
                w.groups(s.groups.len() as u64)?;
                for g in &s.groups {
                    w.write_group(g)?;
                }
                w.finish()
            }
        }
    }
}

/// Writes a stream's consumer groups after its entries, in the file's
/// order: `groups(n)`, then per group `group(..)`, its `pending(..)`
/// entries, `consumers(n)`, and per consumer `consumer(..)` and its
/// `consumer_pending(..)` IDs; then `finish()`. Counts are announced first
/// and checked.
pub struct StreamWriter<'a, W: Write> {
    out: &'a mut W,
    compress: bool,
    lzf: &'a mut Vec<u8>,
    v11: bool,
    groups_left: Option<u64>,
    in_group: bool,
    pel_left: u64,
    consumers_left: Option<u64>,
    cpel_left: u64,
}

impl<W: Write> StreamWriter<'_, W> {
    fn group_done(&self) -> bool {
        !self.in_group
            || (self.pel_left == 0 && self.consumers_left == Some(0) && self.cpel_left == 0)
    }

    fn misuse(what: &str) -> io::Error {
        invalid(format!("stream groups written out of order: {what}"))
    }

    /// How many groups follow (once, first).
    pub fn groups(&mut self, n: u64) -> io::Result<()> {
        if self.groups_left.is_some() {
            return Err(Self::misuse("groups() twice"));
        }
        self.groups_left = Some(n);
        put_len(self.out, n)
    }

    /// A group, with how many pending entries follow.
    pub fn group(
        &mut self,
        name: &[u8],
        last_id: StreamId,
        entries_read: Option<u64>,
        pending: u64,
    ) -> io::Result<()> {
        match self.groups_left {
            Some(n) if n > 0 && self.group_done() => self.groups_left = Some(n - 1),
            _ => return Err(Self::misuse("group() not expected")),
        }
        self.in_group = true;
        self.pel_left = pending;
        self.consumers_left = None;
        put_string(self.out, name, self.compress, self.lzf)?;
        put_len(self.out, last_id.ms)?;
        put_len(self.out, last_id.seq)?;
        // Redis stores an unknown count as -1 in a 64-bit length.
        put_len(self.out, entries_read.unwrap_or(u64::MAX))?;
        put_len(self.out, pending)
    }

    /// One of the group's pending entries (ascending IDs).
    pub fn pending(
        &mut self,
        id: StreamId,
        delivery_time: u64,
        delivery_count: u64,
    ) -> io::Result<()> {
        if !self.in_group || self.pel_left == 0 || self.consumers_left.is_some() {
            return Err(Self::misuse("pending() not expected"));
        }
        self.pel_left -= 1;
        self.out.write_all(&id.to_be_bytes())?;
        self.out.write_all(&delivery_time.to_le_bytes())?;
        put_len(self.out, delivery_count)
    }

    /// How many consumers the group has.
    pub fn consumers(&mut self, n: u64) -> io::Result<()> {
        if !self.in_group || self.pel_left != 0 || self.consumers_left.is_some() {
            return Err(Self::misuse("consumers() not expected"));
        }
        self.consumers_left = Some(n);
        put_len(self.out, n)
    }

    /// A consumer, with how many of the group's pending entries it owns.
    pub fn consumer(
        &mut self,
        name: &[u8],
        seen_time: u64,
        active_time: Option<u64>,
        pending: u64,
    ) -> io::Result<()> {
        match self.consumers_left {
            Some(n) if n > 0 && self.cpel_left == 0 => self.consumers_left = Some(n - 1),
            _ => return Err(Self::misuse("consumer() not expected")),
        }
        self.cpel_left = pending;
        put_string(self.out, name, self.compress, self.lzf)?;
        self.out.write_all(&seen_time.to_le_bytes())?;
        if self.v11 {
            let active = active_time.map_or(-1i64, |t| t as i64);
            self.out.write_all(&active.to_le_bytes())?;
        }
        put_len(self.out, pending)
    }

    /// The ID of one entry the current consumer owns (ascending).
    pub fn consumer_pending(&mut self, id: StreamId) -> io::Result<()> {
        if self.cpel_left == 0 {
            return Err(Self::misuse("consumer_pending() not expected"));
        }
        self.cpel_left -= 1;
        self.out.write_all(&id.to_be_bytes())
    }

    /// A whole group from the value model.
    pub fn write_group(&mut self, g: &StreamGroup) -> io::Result<()> {
        self.group(&g.name, g.last_id, g.entries_read, g.pending.len() as u64)?;
        for p in &g.pending {
            self.pending(p.id, p.delivery_time, p.delivery_count)?;
        }
        self.consumers(g.consumers.len() as u64)?;
        for c in &g.consumers {
            self.consumer(&c.name, c.seen_time, c.active_time, c.pending.len() as u64)?;
            for id in &c.pending {
                self.consumer_pending(*id)?;
            }
        }
        Ok(())
    }

    /// All groups written (none if `groups` was never called).
    pub fn finish(mut self) -> io::Result<()> {
        if self.groups_left.is_none() {
            return self.groups(0);
        }
        if self.groups_left != Some(0) || !self.group_done() {
            return Err(Self::misuse("finish() before every announced item"));
        }
        Ok(())
    }
}

/// Writes key records (expiry, type, key, value) into any output, without a
/// file header or checksum: the parts several writers fill apart (one per
/// shard) and [`RdbWriter::raw`] joins into one file.
#[derive(Debug)]
pub struct RecordWriter {
    opts: EncodeOptions,
    scratch: Scratch,
}

impl RecordWriter {
    pub fn new(opts: EncodeOptions) -> io::Result<RecordWriter> {
        opts.check()?;
        Ok(RecordWriter {
            opts,
            scratch: Scratch::default(),
        })
    }

    pub fn options(&self) -> &EncodeOptions {
        &self.opts
    }

    /// A key record into `out`: write its value with the returned writer.
    pub fn key<'s, W: Write>(
        &'s mut self,
        out: &'s mut W,
        key: &'s [u8],
        meta: impl Into<KeyMeta>,
    ) -> ValueWriter<'s, W> {
        ValueWriter::new(out, &self.opts, Some((key, meta.into())), &mut self.scratch)
    }
}

/// The output of an [`RdbWriter`]: buffered, and checksummed as it goes.
pub struct ChecksumWriter<W: Write> {
    inner: BufWriter<W>,
    crc: Crc64Digest,
}

impl<W: Write> Write for ChecksumWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes an RDB file.
///
/// ```
/// # use ringbus::persist::rdb::{RdbWriter, EncodeOptions};
/// let mut w = RdbWriter::new(Vec::new(), EncodeOptions::default())?;
/// w.select_db(0, 1, 0)?;
/// w.key(b"queue", None)?.list([&b"job1"[..], b"job2"])?;
/// let file: Vec<u8> = w.finish()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct RdbWriter<W: Write> {
    out: ChecksumWriter<W>,
    opts: EncodeOptions,
    scratch: Scratch,
}

impl<W: Write> RdbWriter<W> {
    /// Write the header (`REDIS0010` or `REDIS0011`).
    pub fn new(w: W, opts: EncodeOptions) -> io::Result<RdbWriter<W>> {
        opts.check()?;
        let mut out = ChecksumWriter {
            inner: BufWriter::with_capacity(64 * 1024, w),
            crc: CRC64.digest(),
        };
        write!(out, "REDIS{:04}", opts.version)?;
        Ok(RdbWriter {
            out,
            opts,
            scratch: Scratch::default(),
        })
    }

    pub fn options(&self) -> &EncodeOptions {
        &self.opts
    }

    /// An aux field.
    pub fn aux(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        self.out.write_all(&[opcode::AUX])?;
        let c = self.opts.compression;
        put_string(&mut self.out, key, c, &mut self.scratch.lzf)?;
        put_string(&mut self.out, value, c, &mut self.scratch.lzf)
    }

    /// The aux fields Redis writes first: redis-ver, redis-bits, ctime,
    /// used-mem, aof-base.
    pub fn info_aux(&mut self, info: &AuxInfo<'_>) -> io::Result<()> {
        self.aux(b"redis-ver", info.redis_ver.as_bytes())?;
        self.aux(b"redis-bits", info.redis_bits.to_string().as_bytes())?;
        self.aux(b"ctime", info.ctime.to_string().as_bytes())?;
        self.aux(b"used-mem", info.used_mem.to_string().as_bytes())?;
        self.aux(b"aof-base", if info.aof_base { b"1" } else { b"0" })
    }

    /// A function library (its code, `#!lua name=...` first).
    pub fn function(&mut self, code: &[u8]) -> io::Result<()> {
        let c = self.opts.compression;
        put_function(&mut self.out, code, c, &mut self.scratch.lzf)
    }

    /// Start database `db`, which holds `db_size` keys, `expires_size` of
    /// them with an expiry (Redis writes no database that has no keys).
    pub fn select_db(&mut self, db: u64, db_size: u64, expires_size: u64) -> io::Result<()> {
        self.out.write_all(&[opcode::SELECTDB])?;
        put_len(&mut self.out, db)?;
        self.out.write_all(&[opcode::RESIZEDB])?;
        put_len(&mut self.out, db_size)?;
        put_len(&mut self.out, expires_size)
    }

    /// A key of the current database: write its value with the returned
    /// writer. `meta` is an expiry (`Option<i64>`, unix ms) or a [`KeyMeta`].
    pub fn key<'s>(
        &'s mut self,
        key: &'s [u8],
        meta: impl Into<KeyMeta>,
    ) -> io::Result<ValueWriter<'s, ChecksumWriter<W>>> {
        Ok(ValueWriter::new(
            &mut self.out,
            &self.opts,
            Some((key, meta.into())),
            &mut self.scratch,
        ))
    }

    /// A key and an owned value.
    pub fn write_value(
        &mut self,
        key: &[u8],
        meta: impl Into<KeyMeta>,
        value: &Value,
    ) -> io::Result<()> {
        self.key(key, meta)?.value(value)
    }

    /// Bytes already encoded as key records (by a [`RecordWriter`] with the
    /// same options), copied into the file and its checksum.
    pub fn raw(&mut self, records: &[u8]) -> io::Result<()> {
        self.out.write_all(records)
    }

    /// EOF and the checksum (zeros when `checksum` is off); the output back.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&[opcode::EOF])?;
        let sum = if self.opts.checksum {
            self.out.crc.clone().finalize()
        } else {
            0
        };
        self.out.inner.write_all(&sum.to_le_bytes())?;
        self.out.inner.into_inner().map_err(|e| e.into_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump_list(items: &[Vec<u8>], opts: &EncodeOptions) -> Vec<u8> {
        let mut out = Vec::new();
        let mut scratch = Scratch::default();
        ValueWriter::new(&mut out, opts, None, &mut scratch)
            .list(items.iter().map(Vec::as_slice))
            .unwrap();
        out
    }

    #[test]
    fn strings_pick_redis_encodings() {
        let mut lzf = Vec::new();
        let enc = |s: &[u8], lzf: &mut Vec<u8>| {
            let mut out = Vec::new();
            put_string(&mut out, s, true, lzf).unwrap();
            out
        };
        assert_eq!(enc(b"0", &mut lzf), [0xC0, 0]);
        assert_eq!(enc(b"-128", &mut lzf), [0xC0, 0x80]);
        assert_eq!(enc(b"128", &mut lzf), [0xC1, 0x80, 0]);
        assert_eq!(enc(b"-32769", &mut lzf), [0xC2, 0xFF, 0x7F, 0xFF, 0xFF]);
        assert_eq!(enc(b"2147483647", &mut lzf), [0xC2, 0xFF, 0xFF, 0xFF, 0x7F]);
        // Too wide for 32 bits, or not canonical: as text.
        assert_eq!(enc(b"2147483648", &mut lzf)[0], 10);
        assert_eq!(enc(b"007", &mut lzf), [3, b'0', b'0', b'7']);
        // 21 compressible bytes: LZF; 20: not tried.
        assert_eq!(enc(&[b'a'; 21], &mut lzf)[0], 0xC3);
        assert_eq!(enc(&[b'a'; 20], &mut lzf)[0], 20);
    }

    #[test]
    fn list_nodes_split_at_8kb() {
        let opts = EncodeOptions::default();
        // 1000 elements of 100 bytes: each costs 103 bytes in the
        // overhead estimate, so about 79 fit in an 8 KB node.
        let items: Vec<Vec<u8>> = (0..1000)
            .map(|i| format!("{i:0100}").into_bytes())
            .collect();
        let d = dump_list(&items, &opts);
        assert_eq!(d[0], rdb_type::LIST_QUICKLIST_2);
        let mut plan = QuicklistPacker::new(-2, 1 << 30);
        let nodes = items.iter().filter(|s| plan.push(s).is_some()).count();
        assert_eq!(nodes, 13);
        // Positive fill: a count per node.
        let mut plan = QuicklistPacker::new(3, 1 << 30);
        let nodes = items.iter().filter(|s| plan.push(s).is_some()).count();
        assert_eq!(nodes, 334);
    }

    #[test]
    fn plain_nodes_for_huge_elements() {
        let opts = EncodeOptions {
            list_plain_threshold: 100,
            compression: false,
            ..EncodeOptions::default()
        };
        let items = vec![b"a".to_vec(), vec![b'x'; 150], b"b".to_vec()];
        let d = dump_list(&items, &opts);
        // 3 nodes: packed [a], plain [x*150], packed [b].
        assert_eq!(&d[..3], &[rdb_type::LIST_QUICKLIST_2, 3, 2]);
        assert!(d.windows(2).any(|w| w == [1, 0x40]));
    }

    #[test]
    fn misuse_is_refused_before_writing() {
        let opts = EncodeOptions::default();
        let mut out = Vec::new();
        let mut s = Scratch::default();
        let empty: Vec<&[u8]> = vec![];
        assert!(ValueWriter::new(&mut out, &opts, None, &mut s)
            .list(empty.clone())
            .is_err());
        assert!(ValueWriter::new(&mut out, &opts, None, &mut s)
            .set(empty)
            .is_err());
        let unsorted = [(&b"b"[..], 1.0), (&b"a"[..], 1.0)];
        assert!(ValueWriter::new(&mut out, &opts, None, &mut s)
            .zset(unsorted)
            .is_err());
        assert!(ValueWriter::new(&mut out, &opts, None, &mut s)
            .zset([(&b"a"[..], f64::NAN)])
            .is_err());
        assert!(ValueWriter::new(&mut out, &opts, None, &mut s)
            .set([&b"1"[..], b"1"])
            .is_err());
        assert!(out.is_empty());
        assert!(RdbWriter::new(Vec::new(), EncodeOptions { version: 9, ..opts }).is_err());
    }
}
