//! The key table of one database on one shard: a directory of small hash
//! tables ("segments"), each owning a contiguous range of the 64-bit hash space.
//!
//! Why not one big `HashMap`: SCAN must return every key that is present for the
//! whole iteration, even while the table grows. Segment `i` of a directory of
//! depth `d` holds exactly the keys whose hash has top `d` bits equal to `i`, so
//! walking segments in index order walks the hash space in order. A SCAN cursor
//! is a position in hash space, which stays meaningful when the directory
//! doubles (segment `i` becomes `2i` and `2i+1`): no key is skipped, and none is
//! repeated. Doubling moves every key once, like any hash table's resize.
//! Lookups hash once: the same hash picks the segment and probes inside it.

use hashbrown::HashTable;

/// A key's bytes. Keys are immutable once stored.
pub type Key = Box<[u8]>;

/// Grow the directory when segments hold this many keys on average.
const SEGMENT_TARGET: usize = 32;
/// Depth limit: a cursor position is kept in [`POS_BITS`] bits.
pub const POS_BITS: u32 = 40;

pub struct KeyTable<V> {
    depth: u32,
    segments: Vec<HashTable<(Key, V)>>,
    len: usize,
    hasher: ahash::RandomState,
}

impl<V> Default for KeyTable<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V> KeyTable<V> {
    pub fn new() -> Self {
        KeyTable {
            depth: 0,
            segments: vec![HashTable::new()],
            len: 0,
            // Fixed seeds: hashes, and so SCAN cursors, must mean the same on every core.
            hasher: ahash::RandomState::with_seeds(
                0x5eed_0001,
                0x5eed_0002,
                0x5eed_0003,
                0x5eed_0004,
            ),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn segment_of(&self, hash: u64) -> usize {
        if self.depth == 0 {
            0
        } else {
            (hash >> (64 - self.depth)) as usize
        }
    }

    /// Where `key` sits in hash space, comparable with SCAN cursors: a scan
    /// that returned cursor `c` has visited every key whose position is
    /// below `c`, and none at or above it (a snapshot's walker relies on it).
    pub fn position(&self, key: &[u8]) -> u64 {
        self.hash(key) >> (64 - POS_BITS)
    }

    pub fn get(&self, key: &[u8]) -> Option<&V> {
        let hash = self.hash(key);
        self.segments[self.segment_of(hash)]
            .find(hash, |(k, _)| **k == *key)
            .map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        let hash = self.hash(key);
        let seg = self.segment_of(hash);
        self.segments[seg]
            .find_mut(hash, |(k, _)| **k == *key)
            .map(|(_, v)| v)
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, key: &[u8], value: V) -> Option<V> {
        let hash = self.hash(key);
        let seg = self.segment_of(hash);
        if let Some((_, v)) = self.segments[seg].find_mut(hash, |(k, _)| **k == *key) {
            return Some(std::mem::replace(v, value));
        }
        self.insert_new(hash, key.into(), value);
        None
    }

    /// The value for `key`, inserting `make()` first when absent.
    pub fn get_or_insert_with(&mut self, key: &[u8], make: impl FnOnce() -> V) -> &mut V {
        let hash = self.hash(key);
        let seg = self.segment_of(hash);
        if self.segments[seg]
            .find(hash, |(k, _)| **k == *key)
            .is_none()
        {
            self.insert_new(hash, key.into(), make());
        }
        let seg = self.segment_of(hash);
        let (_, v) = self.segments[seg]
            .find_mut(hash, |(k, _)| **k == *key)
            .expect("just inserted");
        v
    }

    /// Makes room for `additional` more keys at once (loading a snapshot that
    /// says how many it holds): the directory is doubled to its final depth
    /// while it is still small, and every segment is sized for its share, so
    /// nothing is rehashed or reallocated while the keys come in.
    pub fn reserve(&mut self, additional: usize) {
        let want = self.len + additional;
        while want > self.segments.len() * SEGMENT_TARGET && self.depth < POS_BITS {
            self.double();
        }
        let per = want.div_ceil(self.segments.len()) + want.div_ceil(self.segments.len()) / 4;
        let hasher = &self.hasher;
        for seg in &mut self.segments {
            if seg.capacity() < per {
                seg.reserve(per - seg.len(), |(k, _)| hasher.hash_one(&**k));
            }
        }
    }

    fn insert_new(&mut self, hash: u64, key: Key, value: V) {
        if self.len >= self.segments.len() * SEGMENT_TARGET && self.depth < POS_BITS {
            self.double();
        }
        let seg = self.segment_of(hash);
        let hasher = &self.hasher;
        self.segments[seg].insert_unique(hash, (key, value), |(k, _)| hasher.hash_one(&**k));
        self.len += 1;
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<V> {
        let hash = self.hash(key);
        let seg = self.segment_of(hash);
        let entry = self.segments[seg]
            .find_entry(hash, |(k, _)| **k == *key)
            .ok()?;
        let ((_, v), _) = entry.remove();
        self.len -= 1;
        Some(v)
    }

    /// Doubles the directory: segment `i` splits into `2i` (next hash bit 0)
    /// and `2i+1` (next bit 1), keeping segment order equal to hash order.
    fn double(&mut self) {
        let depth = self.depth + 1;
        let old = std::mem::take(&mut self.segments);
        let mut segments = Vec::with_capacity(old.len() * 2);
        for mut seg in old {
            let mut low = HashTable::with_capacity(seg.len() / 2 + 1);
            let mut high = HashTable::with_capacity(seg.len() / 2 + 1);
            for (k, v) in seg.drain() {
                let hash = self.hasher.hash_one(&*k);
                let bit = (hash >> (64 - depth)) & 1;
                let target = if bit == 0 { &mut low } else { &mut high };
                let hasher = &self.hasher;
                target.insert_unique(hash, (k, v), |(k, _)| hasher.hash_one(&**k));
            }
            segments.push(low);
            segments.push(high);
        }
        self.segments = segments;
        self.depth = depth;
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Key, &V)> {
        self.segments
            .iter()
            .flat_map(|s| s.iter().map(|(k, v)| (k, v)))
    }

    /// Every entry, moved out; the table is left empty.
    pub fn drain(&mut self) -> Vec<(Key, V)> {
        let mut out = Vec::with_capacity(self.len);
        for seg in &mut self.segments {
            out.extend(seg.drain());
        }
        self.len = 0;
        out
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&Key, &mut V)> {
        self.segments
            .iter_mut()
            .flat_map(|s| s.iter_mut().map(|(k, v)| (&*k, v)))
    }

    /// A key picked at random: a random segment (the next non-empty one from a
    /// random start), then a random entry in it. Not exactly uniform, like
    /// Redis's RANDOMKEY, but every key can be picked.
    pub fn random(&self, seed: u64) -> Option<(&Key, &V)> {
        if self.len == 0 {
            return None;
        }
        let n = self.segments.len();
        let start = (seed as usize) % n;
        let seg = (0..n)
            .map(|i| &self.segments[(start + i) % n])
            .find(|s| !s.is_empty())?;
        let pick = ((seed >> 32) as usize) % seg.len();
        seg.iter().nth(pick).map(|(k, v)| (k, v))
    }

    /// Visits whole segments starting at hash-space position `cursor` (in
    /// [`POS_BITS`] bits) until at least `count` entries were offered to `visit`.
    /// Returns the position to continue from, or `None` when the walk is done.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&Key, &V)) -> Option<u64> {
        let shift = POS_BITS - self.depth;
        let mut seg = (cursor >> shift) as usize;
        let mut seen = 0;
        while seg < self.segments.len() {
            for (k, v) in self.segments[seg].iter() {
                visit(k, v);
                seen += 1;
            }
            seg += 1;
            if seen >= count {
                break;
            }
        }
        (seg < self.segments.len()).then_some((seg as u64) << shift)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn insert_get_remove_across_growth() {
        let mut t = KeyTable::new();
        for i in 0..10_000u32 {
            assert!(t.insert(&i.to_be_bytes(), i).is_none());
        }
        assert_eq!(t.len(), 10_000);
        for i in 0..10_000u32 {
            assert_eq!(t.get(&i.to_be_bytes()), Some(&i));
        }
        for i in (0..10_000u32).step_by(2) {
            assert_eq!(t.remove(&i.to_be_bytes()), Some(i));
        }
        assert_eq!(t.len(), 5_000);
        assert_eq!(t.iter().count(), 5_000);
    }

    #[test]
    fn scan_sees_every_stable_key_while_table_grows() {
        let mut t = KeyTable::new();
        for i in 0..500u32 {
            t.insert(format!("stable{i}").as_bytes(), ());
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut extra = 0u32;
        loop {
            let next = t.scan(cursor, 10, |k, _| {
                seen.insert(k.clone());
            });
            // Grow the table between calls (bounded, as SCAN only promises to
            // end when the data set does not grow without bound): doubling the
            // directory must not hide stable keys.
            for _ in 0..100 {
                if extra < 5_000 {
                    t.insert(format!("new{extra}").as_bytes(), ());
                    extra += 1;
                }
            }
            match next {
                Some(c) => cursor = c,
                None => break,
            }
        }
        assert!(
            t.len() >= 2_000,
            "the table grew during the scan: {}",
            t.len()
        );
        for i in 0..500u32 {
            assert!(
                seen.contains(format!("stable{i}").as_bytes()),
                "missed stable{i}"
            );
        }
    }
}
