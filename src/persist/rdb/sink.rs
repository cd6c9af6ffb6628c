//! Where the decoder puts a value: a [`ValueSink`] receives it piece by
//! piece as it is decoded, so a huge list or stream is never held twice
//! (once as packed nodes, once decoded); [`Collect`] is the sink that builds
//! an owned [`Value`].
//!
//! Invariants kept here:
//! - for one key the decoder calls `begin` once, before anything else, then
//!   only the methods of that kind, then `finish`; a collection that turns
//!   out empty gets no call at all (the key is skipped, as Redis skips it);
//! - lengths passed to `begin` come from the file and are not trusted: a
//!   sink must cap any preallocation ([`Collect`] caps at
//!   [`MAX_PREALLOC`] elements);
//! - if decoding fails half way, the decoder returns the error and never
//!   calls `finish`: a sink must drop what it got;
//! - [`Collect`] refuses duplicate set members, hash fields and sorted-set
//!   members, as Redis does when loading.

use super::value::{Kind, StreamEntry, StreamGroup, StreamMeta, Value};

/// The most elements a sink should reserve room for on the word of a
/// length field.
pub const MAX_PREALLOC: usize = 4096;

/// What a sink returns to refuse a value (the decoder adds the offset).
pub type SinkResult<T = ()> = Result<T, String>;

/// Receives one value at a time from the decoder.
///
/// Strings come whole (`string`), collections one element at a time,
/// streams as entries, then their metadata, then one call per consumer
/// group (a group arrives whole, with its pending entries and consumers).
pub trait ValueSink {
    type Output;

    /// A value of `kind` begins; `len_hint` is the element count the file
    /// claims when it says one (0 otherwise). Untrusted.
    fn begin(&mut self, kind: Kind, len_hint: u64) -> SinkResult;
    fn string(&mut self, value: Vec<u8>) -> SinkResult;
    fn list_item(&mut self, item: Vec<u8>) -> SinkResult;
    fn set_member(&mut self, member: Vec<u8>) -> SinkResult;
    fn zset_member(&mut self, member: Vec<u8>, score: f64) -> SinkResult;
    fn hash_field(&mut self, field: Vec<u8>, value: Vec<u8>) -> SinkResult;
    fn stream_entry(&mut self, entry: StreamEntry) -> SinkResult;
    fn stream_meta(&mut self, meta: StreamMeta) -> SinkResult;
    fn stream_group(&mut self, group: StreamGroup) -> SinkResult;
    /// The value is complete.
    fn finish(&mut self) -> SinkResult<Self::Output>;
}

/// Builds owned [`Value`]s. Reusable: `finish` hands the value over and
/// leaves the sink ready for the next key.
#[derive(Debug, Default)]
pub struct Collect {
    cur: Option<Value>,
}

impl Collect {
    pub fn new() -> Collect {
        Collect::default()
    }

    fn cur(&mut self) -> SinkResult<&mut Value> {
        self.cur
            .as_mut()
            .ok_or_else(|| "value piece before begin".to_string())
    }
}

fn wrong() -> String {
    "value piece of the wrong kind".to_string()
}

/// Index of a repeated item, if any: sorts indices, not the items.
fn first_duplicate<T: Ord>(items: &[T]) -> Option<usize> {
    let mut idx: Vec<usize> = (0..items.len()).collect();
    idx.sort_unstable_by(|&a, &b| items[a].cmp(&items[b]));
    idx.windows(2)
        .find(|w| items[w[0]] == items[w[1]])
        .map(|w| w[1])
}

impl ValueSink for Collect {
    type Output = Value;

    fn begin(&mut self, kind: Kind, len_hint: u64) -> SinkResult {
        let cap = (len_hint as usize).min(MAX_PREALLOC);
        self.cur = Some(match kind {
            Kind::String => Value::String(Vec::new()),
            Kind::List => Value::List(Vec::with_capacity(cap)),
            Kind::Set => Value::Set(Vec::with_capacity(cap)),
            Kind::ZSet => Value::ZSet(Vec::with_capacity(cap)),
            Kind::Hash => Value::Hash(Vec::with_capacity(cap)),
            Kind::Stream => Value::Stream(Box::default()),
        });
        Ok(())
    }

    fn string(&mut self, value: Vec<u8>) -> SinkResult {
        match self.cur()? {
            Value::String(s) => *s = value,
            _ => return Err(wrong()),
        }
        Ok(())
    }

    fn list_item(&mut self, item: Vec<u8>) -> SinkResult {
        match self.cur()? {
            Value::List(l) => l.push(item),
            _ => return Err(wrong()),
        }
        Ok(())
    }

    fn set_member(&mut self, member: Vec<u8>) -> SinkResult {
        match self.cur()? {
            Value::Set(s) => s.push(member),
            _ => return Err(wrong()),
        }
        Ok(())
    }

    fn zset_member(&mut self, member: Vec<u8>, score: f64) -> SinkResult {
        match self.cur()? {
            Value::ZSet(z) => z.push((member, score)),
            _ => return Err(wrong()),
        }
        Ok(())
    }

    fn hash_field(&mut self, field: Vec<u8>, value: Vec<u8>) -> SinkResult {
        match self.cur()? {
            Value::Hash(h) => h.push((field, value)),
            _ => return Err(wrong()),
        }
        Ok(())
    }

    fn stream_entry(&mut self, entry: StreamEntry) -> SinkResult {
        match self.cur()? {
            Value::Stream(s) => s.entries.push(entry),
            _ => return Err(wrong()),
        }
        Ok(())
    }

    fn stream_meta(&mut self, meta: StreamMeta) -> SinkResult {
        match self.cur()? {
            Value::Stream(s) => s.meta = meta,
            _ => return Err(wrong()),
        }
        Ok(())
    }

    fn stream_group(&mut self, group: StreamGroup) -> SinkResult {
        match self.cur()? {
            Value::Stream(s) => s.groups.push(group),
            _ => return Err(wrong()),
        }
        Ok(())
    }

    fn finish(&mut self) -> SinkResult<Value> {
        let v = self
            .cur
            .take()
            .ok_or_else(|| "finish before begin".to_string())?;
        let dup = match &v {
            Value::Set(s) => first_duplicate(s).map(|i| ("set member", s[i].clone())),
            Value::Hash(h) => {
                let fields: Vec<&[u8]> = h.iter().map(|(f, _)| f.as_slice()).collect();
                first_duplicate(&fields).map(|i| ("hash field", fields[i].to_vec()))
            }
            Value::ZSet(z) => {
                let members: Vec<&[u8]> = z.iter().map(|(m, _)| m.as_slice()).collect();
                first_duplicate(&members).map(|i| ("sorted set member", members[i].to_vec()))
            }
            Value::Stream(s) => {
                let names: Vec<&[u8]> = s.groups.iter().map(|g| g.name.as_slice()).collect();
                first_duplicate(&names).map(|i| ("consumer group", names[i].to_vec()))
            }
            _ => None,
        };
        if let Some((what, item)) = dup {
            return Err(format!(
                "duplicate {what} {:?}",
                String::from_utf8_lossy(&item)
            ));
        }
        Ok(v)
    }
}
