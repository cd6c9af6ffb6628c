//! ringbus's values to and from the RDB codec: [`write_record`] encodes one
//! key straight from the in-memory types (no intermediate copy except where
//! the codec needs a second pass), [`Build`] is the decoder's sink that
//! builds ringbus values as the file is read.
//!
//! Why one module rather than code beside each type: the types know nothing
//! of files, and the codec knows nothing of the types; what an RDB record
//! means for a list or a stream (which metadata Redis keeps, in which order)
//! is stated once here, for SAVE, loading, DUMP and RESTORE alike.
//!
//! Invariants kept here:
//! - a value written and read back is equal to the original, with the same
//!   stream metadata, groups, PEL and consumers;
//! - a decoded value takes the encoding Redis would give it for its size
//!   (each type converts at its own thresholds as elements are added);
//! - the sink refuses what Redis refuses when loading (duplicates come
//!   refused from the decoder), so a bad file never yields a half value.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

use super::rdb::sink::{SinkResult, ValueSink};
use super::rdb::{self, KeyMeta, Kind, RecordWriter, ValueWriter};
use crate::types::hash::Hash;
use crate::types::list::List;
use crate::types::set::Set;
use crate::types::stream::{
    Consumer, FrozenStream, Group, Pending, Stream, StreamId, ENTRIES_READ_UNKNOWN,
};
use crate::types::zset::ZSet;
use crate::types::Value;

/// An iterator the codec may go over twice (it plans, then writes): `Clone`
/// starts again from the beginning, which is what a clone taken before the
/// first `next` means.
struct Again<F, I> {
    make: F,
    it: Option<I>,
}

impl<F: Fn() -> I + Clone, I: Iterator> Again<F, I> {
    fn new(make: F) -> Self {
        Again { make, it: None }
    }
}

impl<F: Fn() -> I + Clone, I: Iterator> Clone for Again<F, I> {
    fn clone(&self) -> Self {
        debug_assert!(self.it.is_none(), "cloned after it started");
        Again::new(self.make.clone())
    }
}

impl<F: Fn() -> I + Clone, I: Iterator> Iterator for Again<F, I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        self.it.get_or_insert_with(|| (self.make)()).next()
    }
}

fn id_out(id: StreamId) -> rdb::StreamId {
    rdb::StreamId::new(id.ms, id.seq)
}

fn id_in(id: rdb::StreamId) -> StreamId {
    StreamId::new(id.ms, id.seq)
}

/// Encodes `value` with a value writer (a key record, or a DUMP payload's body).
pub fn write_value<W: Write>(w: ValueWriter<'_, W>, value: &Value) -> io::Result<()> {
    match value {
        Value::Str(s) => w.string(s),
        Value::List(l) => w.list(Again::new(|| l.iter_from(0))),
        Value::Hash(h) => w.hash(Again::new(|| h.iter())),
        Value::Set(s) => {
            let members: Vec<Cow<[u8]>> = s.iter().map(|e| e.bytes()).collect();
            w.set(members.iter().map(|m| &**m))
        }
        Value::ZSet(z) => {
            let members: Vec<(&[u8], f64)> = z.range(0, z.len(), false).collect();
            w.zset(members.iter().copied())
        }
        Value::Stream(s) => write_stream(w, s),
    }
}

/// Entries read from a frozen stream per call, while encoding it.
const FROZEN_CHUNK: usize = 1024;

fn write_stream<W: Write>(w: ValueWriter<'_, W>, s: &Stream) -> io::Result<()> {
    write_frozen_stream(w, &s.freeze())
}

/// Encodes a stream from its frozen view, a chunk of entries at a time, so
/// that a big stream is never copied whole (this runs on the snapshot's
/// writer thread for big streams).
pub fn write_frozen_stream<W: Write>(w: ValueWriter<'_, W>, s: &FrozenStream) -> io::Result<()> {
    let meta = rdb::StreamMeta {
        length: s.entries.len() as u64,
        last_id: id_out(s.last_id),
        first_id: id_out(s.first_id),
        max_deleted_id: id_out(s.max_deleted_id),
        entries_added: s.entries_added,
    };
    let mut sw = w.stream_from(&meta, &mut |visit| {
        let mut from = StreamId::MIN;
        loop {
            let chunk = s.entries.range_from(from, FROZEN_CHUNK);
            let Some(last) = chunk.last() else {
                return Ok(());
            };
            let next = crate::types::stream::incr(last.id);
            for e in &chunk {
                let fields: smallvec::SmallVec<[(&[u8], &[u8]); 8]> = e
                    .fields
                    .iter()
                    .map(|(f, v)| (f.as_slice(), v.as_slice()))
                    .collect();
                visit(id_out(e.id), &fields)?;
            }
            match next {
                Some(n) => from = n,
                None => return Ok(()),
            }
        }
    })?;
    sw.groups(s.groups.len() as u64)?;
    for (name, g) in &s.groups {
        let entries_read =
            (g.entries_read != ENTRIES_READ_UNKNOWN).then_some(g.entries_read as u64);
        sw.group(name, id_out(g.last_id), entries_read, g.pel.len() as u64)?;
        for (id, p) in &g.pel {
            sw.pending(id_out(*id), p.delivery_time, p.delivery_count)?;
        }
        sw.consumers(g.consumers.len() as u64)?;
        for (cname, c) in &g.consumers {
            sw.consumer(cname, c.seen_time, c.active_time, c.pel.len() as u64)?;
            for id in &c.pel {
                sw.consumer_pending(id_out(*id))?;
            }
        }
    }
    sw.finish()
}

/// Encodes one key record (`expire_at`: unix ms) into `out`.
pub fn write_record<W: Write>(
    records: &mut RecordWriter,
    out: &mut W,
    key: &[u8],
    expire_at: Option<u64>,
    value: &Value,
) -> io::Result<()> {
    let meta = KeyMeta::from(expire_at.map(|ms| ms as i64));
    write_value(records.key(out, key, meta), value)
}

/// The decoder's sink that builds ringbus values.
#[derive(Default)]
pub struct Build {
    cur: Option<Value>,
}

impl Build {
    pub fn new() -> Build {
        Build::default()
    }

    fn wrong(what: &str) -> String {
        format!("unexpected {what} for this value")
    }
}

impl ValueSink for Build {
    type Output = Value;

    fn begin(&mut self, kind: Kind, len_hint: u64) -> SinkResult {
        self.cur = Some(match kind {
            Kind::String => Value::Str(Vec::new()),
            Kind::List => Value::List(List::new()),
            Kind::Set => {
                let mut s = Set::new();
                s.expect(len_hint.min(usize::MAX as u64) as usize);
                Value::Set(s)
            }
            Kind::ZSet => {
                let mut z = ZSet::new();
                z.convert_for(len_hint.min(usize::MAX as u64) as usize, 0);
                Value::ZSet(Box::new(z))
            }
            Kind::Hash => {
                let mut h = Hash::new();
                h.prepare(len_hint.min(usize::MAX as u64) as usize, 0);
                Value::Hash(h)
            }
            Kind::Stream => Value::Stream(Box::default()),
        });
        Ok(())
    }

    fn string(&mut self, value: Vec<u8>) -> SinkResult {
        match &mut self.cur {
            Some(Value::Str(s)) => {
                *s = value;
                Ok(())
            }
            _ => Err(Self::wrong("string")),
        }
    }

    fn list_item(&mut self, item: Vec<u8>) -> SinkResult {
        match &mut self.cur {
            Some(Value::List(l)) => {
                l.push_back(&item);
                Ok(())
            }
            _ => Err(Self::wrong("list item")),
        }
    }

    fn set_member(&mut self, member: Vec<u8>) -> SinkResult {
        match &mut self.cur {
            Some(Value::Set(s)) => {
                if !s.add(&member) {
                    return Err("duplicate set member".into());
                }
                Ok(())
            }
            _ => Err(Self::wrong("set member")),
        }
    }

    fn zset_member(&mut self, member: Vec<u8>, score: f64) -> SinkResult {
        match &mut self.cur {
            Some(Value::ZSet(z)) => {
                if score.is_nan() {
                    return Err("sorted set score is NaN".into());
                }
                if z.insert(&member, score).is_some() {
                    return Err("duplicate sorted set member".into());
                }
                Ok(())
            }
            _ => Err(Self::wrong("sorted set member")),
        }
    }

    fn hash_field(&mut self, field: Vec<u8>, value: Vec<u8>) -> SinkResult {
        match &mut self.cur {
            Some(Value::Hash(h)) => {
                if !h.insert(&field, &value) {
                    return Err("duplicate hash field".into());
                }
                Ok(())
            }
            _ => Err(Self::wrong("hash field")),
        }
    }

    fn stream_entry(&mut self, entry: rdb::StreamEntry) -> SinkResult {
        match &mut self.cur {
            Some(Value::Stream(s)) => {
                let id = id_in(entry.id);
                if !s.is_empty() && id <= s.last_id {
                    return Err("stream entries out of order".into());
                }
                let fields: Vec<(&[u8], &[u8])> = entry
                    .fields
                    .iter()
                    .map(|(f, v)| (f.as_slice(), v.as_slice()))
                    .collect();
                s.add(id, &fields);
                Ok(())
            }
            _ => Err(Self::wrong("stream entry")),
        }
    }

    fn stream_meta(&mut self, meta: rdb::StreamMeta) -> SinkResult {
        match &mut self.cur {
            Some(Value::Stream(s)) => {
                if meta.length != s.len() as u64 {
                    return Err(format!(
                        "stream length {} but {} entries",
                        meta.length,
                        s.len()
                    ));
                }
                let last = id_in(meta.last_id);
                if !s.is_empty() && last < s.last_id {
                    return Err("stream last ID is smaller than its last entry".into());
                }
                s.last_id = last;
                s.first_id = id_in(meta.first_id);
                s.max_deleted_id = id_in(meta.max_deleted_id);
                s.entries_added = meta.entries_added;
                Ok(())
            }
            _ => Err(Self::wrong("stream metadata")),
        }
    }

    fn stream_group(&mut self, group: rdb::StreamGroup) -> SinkResult {
        let Some(Value::Stream(s)) = &mut self.cur else {
            return Err(Self::wrong("consumer group"));
        };
        if s.groups.contains_key(group.name.as_slice()) {
            return Err("duplicate consumer group".into());
        }
        let mut pel = BTreeMap::new();
        for p in &group.pending {
            let pending = Pending {
                consumer: p.consumer.clone().into_boxed_slice(),
                delivery_time: p.delivery_time,
                delivery_count: p.delivery_count,
            };
            if pel.insert(id_in(p.id), pending).is_some() {
                return Err("duplicate pending entry".into());
            }
        }
        let mut consumers = BTreeMap::new();
        for c in group.consumers {
            let own: BTreeSet<StreamId> = c.pending.iter().map(|id| id_in(*id)).collect();
            for id in &own {
                match pel.get(id) {
                    Some(p) if *p.consumer == *c.name => {}
                    _ => return Err("consumer pending entry not in the group's PEL".into()),
                }
            }
            let consumer = Consumer {
                seen_time: c.seen_time,
                active_time: c.active_time,
                pel: own,
            };
            if consumers
                .insert(c.name.into_boxed_slice(), consumer)
                .is_some()
            {
                return Err("duplicate consumer".into());
            }
        }
        // Every pending entry must belong to a consumer that lists it.
        for (id, p) in &pel {
            if !consumers
                .get(&p.consumer)
                .is_some_and(|c: &Consumer| c.pel.contains(id))
            {
                return Err("pending entry without its consumer".into());
            }
        }
        let g = Group {
            last_id: id_in(group.last_id),
            entries_read: group
                .entries_read
                .map_or(ENTRIES_READ_UNKNOWN, |n| n.min(i64::MAX as u64) as i64),
            pel,
            consumers,
        };
        s.groups.insert(group.name.into_boxed_slice(), g);
        Ok(())
    }

    fn finish(&mut self) -> SinkResult<Value> {
        self.cur.take().ok_or_else(|| "no value begun".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::rdb::{EncodeOptions, Item, RdbReader, RdbWriter};

    fn roundtrip(value: &Value) -> Value {
        // RDB 11, so that consumers' active-time comes back too.
        let opts = EncodeOptions::rdb11();
        let mut records = RecordWriter::new(opts.clone()).unwrap();
        let mut part = Vec::new();
        write_record(
            &mut records,
            &mut part,
            b"k",
            Some(1_900_000_000_000),
            value,
        )
        .unwrap();
        let mut w = RdbWriter::new(Vec::new(), opts).unwrap();
        w.select_db(0, 1, 1).unwrap();
        w.raw(&part).unwrap();
        let file = w.finish().unwrap();
        let mut r = RdbReader::new(&file[..]).unwrap();
        let mut sink = Build::new();
        loop {
            match r.next_item_into(&mut sink).unwrap() {
                Some(Item::Key(k)) => {
                    assert_eq!(k.key, b"k");
                    assert_eq!(k.expire_ms, Some(1_900_000_000_000));
                    return k.value;
                }
                Some(_) => continue,
                None => panic!("no key"),
            }
        }
    }

    /// The value as the codec sees it, unordered collections sorted.
    fn canon(v: &Value) -> rdb::Value {
        let mut out = Vec::new();
        let mut records = RecordWriter::new(EncodeOptions::rdb11()).unwrap();
        write_record(&mut records, &mut out, b"k", None, v).unwrap();
        let mut w = RdbWriter::new(Vec::new(), EncodeOptions::rdb11()).unwrap();
        w.raw(&out).unwrap();
        let file = w.finish().unwrap();
        let mut r = RdbReader::new(&file[..]).unwrap();
        let Some(Item::Key(k)) = r.next_item().unwrap() else {
            panic!("no key")
        };
        let mut value = k.value;
        match &mut value {
            rdb::Value::Set(m) => m.sort(),
            rdb::Value::Hash(m) => m.sort(),
            _ => {}
        }
        value
    }

    fn same(a: &Value, b: &Value) {
        assert_eq!(a.type_name(), b.type_name());
        assert_eq!(a.encoding(), b.encoding());
        assert!(canon(a) == canon(b), "{} differs", a.type_name());
    }

    #[test]
    fn every_type_comes_back() {
        let mut values = vec![Value::Str(b"12345".to_vec()), Value::Str(vec![b'x'; 300])];
        let mut l = List::new();
        for i in 0..1000 {
            l.push_back(format!("item{i}").as_bytes());
        }
        values.push(Value::List(l));
        for n in [3, 600] {
            let mut h = Hash::new();
            let mut s = Set::new();
            let mut t = Set::new();
            let mut z = ZSet::new();
            for i in 0..n {
                h.insert(format!("f{i}").as_bytes(), format!("v{i}").as_bytes());
                s.add(i.to_string().as_bytes());
                t.add(format!("m{i}").as_bytes());
                z.insert(format!("m{i}").as_bytes(), i as f64 / 3.0);
            }
            values.extend([
                Value::Hash(h),
                Value::Set(s),
                Value::Set(t),
                Value::ZSet(Box::new(z)),
            ]);
        }
        let mut st = Stream::new();
        for i in 1..=250u64 {
            st.add(
                StreamId::new(i, 0),
                &[(b"f", b"v"), (b"n", i.to_string().as_bytes())],
            );
        }
        st.delete(&[StreamId::new(7, 0)]);
        st.create_group(b"g", StreamId::new(5, 0), 5);
        let g = st.groups.get_mut(&b"g"[..]).unwrap();
        let (c, _) = g.consumer(b"alice", 1_000);
        c.pel.insert(StreamId::new(3, 0));
        c.active_time = Some(1_500);
        g.pel.insert(
            StreamId::new(3, 0),
            Pending {
                consumer: b"alice"[..].into(),
                delivery_time: 1_200,
                delivery_count: 2,
            },
        );
        values.push(Value::Stream(Box::new(st)));
        for v in &values {
            let back = roundtrip(v);
            same(v, &back);
            if let (Value::Stream(a), Value::Stream(b)) = (v, &back) {
                assert_eq!(a.groups, b.groups);
                assert_eq!(
                    (a.last_id, a.first_id, a.max_deleted_id, a.entries_added),
                    (b.last_id, b.first_id, b.max_deleted_id, b.entries_added)
                );
            }
        }
    }
}
