//! Hashes: field → value maps in two forms, as Redis keeps them.
//!
//! - [`Hash::Small`] mirrors Redis's listpack: a vector of pairs in insertion
//!   order (an update keeps the field's place, a removal keeps the others'
//!   order), searched linearly. A hash stays small while it has at most
//!   [`MAX_LISTPACK_ENTRIES`] fields and every field and value is at most
//!   [`MAX_LISTPACK_VALUE`] bytes, so HGETALL on a small hash answers in the
//!   very order Redis does.
//! - [`Hash::Table`] mirrors Redis's hashtable: a [`KeyTable`] keyed by field,
//!   whose hash-ordered segments give HSCAN a cursor that survives growth.
//!
//! Conversion is one way, like Redis's: once a table, always a table.
//! A hash here may be empty; the commands (`cmd::hashes`) delete the key
//! when the last field goes.

use super::keytable::KeyTable;

/// Redis's `hash-max-listpack-entries` default: 512 as compiled into
/// redis-server (config.c), which is what a server started without a
/// configuration file uses; the sample redis.conf lowers it to 128.
pub const MAX_LISTPACK_ENTRIES: usize = 512;
/// Redis's `hash-max-listpack-value` default.
pub const MAX_LISTPACK_VALUE: usize = 64;

type Bytes = Box<[u8]>;

pub enum Hash {
    Small(Vec<(Bytes, Bytes)>),
    /// Boxed: a table is for big hashes, and inline it would make every
    /// `Value` (so every key) as big as a table's header.
    Table(Box<KeyTable<Bytes>>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Small(Vec::new())
    }
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hash({}, {} fields)", self.encoding(), self.len())
    }
}

impl Clone for Hash {
    fn clone(&self) -> Self {
        match self {
            Hash::Small(v) => Hash::Small(v.clone()),
            Hash::Table(t) => {
                let mut copy = KeyTable::new();
                for (k, v) in t.iter() {
                    copy.insert(k, v.clone());
                }
                Hash::Table(Box::new(copy))
            }
        }
    }
}

impl Hash {
    pub fn new() -> Hash {
        Hash::default()
    }

    pub fn len(&self) -> usize {
        match self {
            Hash::Small(v) => v.len(),
            Hash::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `OBJECT ENCODING`.
    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Small(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Small(v) => v.iter().find(|(f, _)| **f == *field).map(|(_, v)| &**v),
            Hash::Table(t) => t.get(field).map(|v| &**v),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Converts to a table before a write of `pairs` pairs whose longest
    /// field or value has `longest` bytes would outgrow the small form
    /// (Redis's `hashTypeTryConversion`: it also presizes, and so converts,
    /// when the command brings more pairs than a listpack may hold).
    pub fn prepare(&mut self, pairs: usize, longest: usize) {
        if matches!(self, Hash::Small(_))
            && (pairs > super::encoding::hash_max_listpack_entries()
                || longest > super::encoding::hash_max_listpack_value())
        {
            self.convert();
        }
    }

    /// Sets `field` to `value`; true when the field is new.
    pub fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        self.prepare(1, field.len().max(value.len()));
        match self {
            Hash::Small(v) => {
                if let Some(pair) = v.iter_mut().find(|(f, _)| **f == *field) {
                    pair.1 = value.into();
                    return false;
                }
                v.push((field.into(), value.into()));
                if v.len() > super::encoding::hash_max_listpack_entries() {
                    self.convert();
                }
                true
            }
            Hash::Table(t) => t.insert(field, value.into()).is_none(),
        }
    }

    /// Removes `field`; true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Small(v) => match v.iter().position(|(f, _)| **f == *field) {
                Some(i) => {
                    v.remove(i);
                    true
                }
                None => false,
            },
            Hash::Table(t) => t.remove(field).is_some(),
        }
    }

    fn convert(&mut self) {
        if let Hash::Small(v) = self {
            let mut t = KeyTable::new();
            for (f, val) in std::mem::take(v) {
                t.insert(&f, val);
            }
            *self = Hash::Table(Box::new(t));
        }
    }

    /// Every pair: insertion order when small, hash order otherwise.
    pub fn iter(&self) -> Iter<'_> {
        match self {
            Hash::Small(v) => Iter::Small(v.iter()),
            Hash::Table(t) => Iter::Table(Box::new(t.iter())),
        }
    }

    /// A pair picked at random from `seed` (None when empty).
    pub fn random(&self, seed: u64) -> Option<(&[u8], &[u8])> {
        match self {
            Hash::Small(v) if v.is_empty() => None,
            Hash::Small(v) => {
                let (f, val) = &v[(seed % v.len() as u64) as usize];
                Some((f, val))
            }
            Hash::Table(t) => t.random(seed).map(|(f, v)| (&**f, &**v)),
        }
    }

    /// One HSCAN step: visits pairs from `cursor` on, about `count` of them
    /// (a small hash all at once, as Redis does); returns the next cursor,
    /// 0 when the walk is done.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&[u8], &[u8])) -> u64 {
        match self {
            Hash::Small(v) => {
                v.iter().for_each(|(f, val)| visit(f, val));
                0
            }
            Hash::Table(t) => t.scan(cursor, count, |f, v| visit(f, v)).unwrap_or(0),
        }
    }

    /// Estimated heap bytes (MEMORY USAGE): exact when `samples` is 0 or
    /// covers the hash, else extrapolated from the first `samples` pairs.
    pub fn heap_bytes(&self, samples: usize) -> usize {
        let slot = std::mem::size_of::<(Bytes, Bytes)>();
        let (n, per_slot) = match self {
            Hash::Small(v) => (v.len(), slot),
            // hashbrown: one control byte per slot, tables at most 7/8 full,
            // plus the segment directory.
            Hash::Table(t) => (t.len(), (slot + 1) * 8 / 7 + 2),
        };
        let pair_bytes = sampled(n, samples, self.iter().map(|(f, v)| f.len() + v.len()));
        n * per_slot + pair_bytes
    }
}

/// The sum of `sizes` (n items), or an extrapolation from its first `samples`.
pub(crate) fn sampled(n: usize, samples: usize, sizes: impl Iterator<Item = usize>) -> usize {
    if samples == 0 || samples >= n {
        return sizes.sum();
    }
    let taken: usize = sizes.take(samples).sum();
    taken * n / samples
}

pub enum Iter<'a> {
    Small(std::slice::Iter<'a, (Bytes, Bytes)>),
    Table(Box<dyn Iterator<Item = (&'a Box<[u8]>, &'a Bytes)> + 'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Small(it) => it.next().map(|(f, v)| (&**f, &**v)),
            Iter::Table(it) => it.next().map(|(f, v)| (&**f, &**v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[derive(Debug, Clone)]
    enum Op {
        Set(u16, usize),
        Del(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (any::<u16>(), prop_oneof![20 => 0usize..64, 1 => 0usize..80]).prop_map(|(f, l)| Op::Set(f, l)),
            1 => any::<u16>().prop_map(Op::Del),
        ]
    }

    fn field(f: u16) -> Vec<u8> {
        format!("f{}", f % 700).into_bytes()
    }

    proptest! {
        #[test]
        fn behaves_like_a_hashmap(ops in proptest::collection::vec(op(), 0..1500)) {
            let mut h = Hash::new();
            let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
            let mut order: Vec<Vec<u8>> = Vec::new();
            let mut ever_big = false;
            for op in ops {
                match op {
                    Op::Set(f, l) => {
                        let (f, v) = (field(f), vec![b'v'; l]);
                        let new = model.insert(f.clone(), v.clone()).is_none();
                        ever_big |= l > MAX_LISTPACK_VALUE;
                        if new { order.push(f.clone()); }
                        prop_assert_eq!(h.insert(&f, &v), new);
                    }
                    Op::Del(f) => {
                        let f = field(f);
                        let had = model.remove(&f).is_some();
                        order.retain(|x| *x != f);
                        prop_assert_eq!(h.remove(&f), had);
                    }
                }
                ever_big |= model.len() > MAX_LISTPACK_ENTRIES;
                prop_assert_eq!(h.len(), model.len());
                // One-way conversion, at Redis's thresholds.
                prop_assert_eq!(h.encoding(), if ever_big { "hashtable" } else { "listpack" });
            }
            for (f, v) in &model {
                prop_assert_eq!(h.get(f), Some(v.as_slice()));
            }
            prop_assert_eq!(h.get(b"absent"), None);
            let mut pairs: Vec<(Vec<u8>, Vec<u8>)> =
                h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            if h.encoding() == "listpack" {
                // Insertion order, like a listpack.
                let fields: Vec<Vec<u8>> = pairs.iter().map(|(f, _)| f.clone()).collect();
                prop_assert_eq!(&fields, &order);
            }
            pairs.sort();
            let mut want: Vec<(Vec<u8>, Vec<u8>)> = model.into_iter().collect();
            want.sort();
            prop_assert_eq!(pairs, want);
        }
    }

    #[test]
    fn scan_of_a_table_visits_every_field_once() {
        let mut h = Hash::new();
        for i in 0..1000 {
            h.insert(format!("field:{i}").as_bytes(), b"v");
        }
        assert_eq!(h.encoding(), "hashtable");
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = h.scan(cursor, 10, |f, _| assert!(seen.insert(f.to_vec())));
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
    }

    #[test]
    fn prepare_converts_for_many_pairs_or_long_strings() {
        let mut h = Hash::new();
        h.prepare(512, 64);
        assert_eq!(h.encoding(), "listpack");
        h.prepare(513, 1);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = Hash::new();
        h.prepare(1, 65);
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn memory_estimate_grows_with_content_and_samples_extrapolate() {
        let mut h = Hash::new();
        h.insert(b"a", b"1");
        let small = h.heap_bytes(0);
        for i in 0..500 {
            h.insert(format!("{i:040}").as_bytes(), &[b'x'; 40]);
        }
        let big = h.heap_bytes(0);
        assert!(big > small + 500 * 80, "{small} {big}");
        let est = h.heap_bytes(5);
        assert!(est > big / 2 && est < big * 2, "{est} vs {big}");
    }
}
