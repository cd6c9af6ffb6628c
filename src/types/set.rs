//! Sets of byte strings in three forms, following Redis 7.2's encodings:
//!
//! - [`Set::Ints`] mirrors an intset: sorted integers, while every member is
//!   an integer in canonical form (`string2ll`) and there are at most
//!   [`MAX_INTSET_ENTRIES`]. Members come out in numeric order, as Redis's do.
//! - [`Set::Small`] mirrors a listpack: members in insertion order, at most
//!   [`MAX_LISTPACK_ENTRIES`] of at most [`MAX_LISTPACK_VALUE`] bytes.
//! - [`Set::Table`] mirrors a hashtable: a [`KeyTable`], whose hash-ordered
//!   segments give SSCAN a cursor that survives growth.
//!
//! Conversions follow Redis's `setTypeAdd`: an intset that receives a
//! non-integer becomes a listpack if it is small enough, else a table; an
//! intset that outgrows its limit, or a listpack that outgrows its own,
//! becomes a table. A table never turns back. A set here may be empty; the
//! commands (`cmd::sets`) delete the key when the last member goes.

use std::borrow::Cow;

use super::keytable::KeyTable;
use crate::resp::parse::parse_i64;

/// Redis's `set-max-intset-entries` default.
pub const MAX_INTSET_ENTRIES: usize = 512;
/// Redis's `set-max-listpack-entries` default.
pub const MAX_LISTPACK_ENTRIES: usize = 128;
/// Redis's `set-max-listpack-value` default.
pub const MAX_LISTPACK_VALUE: usize = 64;

type Bytes = Box<[u8]>;

pub enum Set {
    Ints(Vec<i64>),
    Small(Vec<Bytes>),
    /// Boxed, as `Hash::Table`: inline it would grow every `Value`.
    Table(Box<KeyTable<()>>),
}

/// A member as stored: an intset's integer or bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl<'a> Elem<'a> {
    pub fn bytes(self) -> Cow<'a, [u8]> {
        match self {
            Elem::Int(n) => Cow::Owned(itoa::Buffer::new().format(n).as_bytes().to_vec()),
            Elem::Bytes(b) => Cow::Borrowed(b),
        }
    }

    pub fn to_vec(self) -> Vec<u8> {
        self.bytes().into_owned()
    }
}

impl std::fmt::Debug for Set {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Set({}, {} members)", self.encoding(), self.len())
    }
}

impl Clone for Set {
    fn clone(&self) -> Self {
        match self {
            Set::Ints(v) => Set::Ints(v.clone()),
            Set::Small(v) => Set::Small(v.clone()),
            Set::Table(t) => {
                let mut copy = KeyTable::new();
                for (k, _) in t.iter() {
                    copy.insert(k, ());
                }
                Set::Table(Box::new(copy))
            }
        }
    }
}

impl Default for Set {
    fn default() -> Self {
        Set::Ints(Vec::new())
    }
}

impl Set {
    /// An empty set (an intset, as Redis starts SINTERSTORE's result).
    pub fn new() -> Set {
        Set::default()
    }

    /// Redis 7.2's `setTypeCreate`: the form a new key takes when its first
    /// member is `first` and about `hint` members are coming.
    pub fn for_members(first: &[u8], hint: usize) -> Set {
        if parse_i64(first).is_some() && hint <= super::encoding::set_max_intset_entries() {
            Set::Ints(Vec::new())
        } else if hint <= super::encoding::set_max_listpack_entries() {
            Set::Small(Vec::new())
        } else {
            Set::Table(Box::default())
        }
    }

    /// Redis 7.2's `setTypeMaybeConvert`: about `hint` members are coming
    /// to an existing set; a compact form that cannot hold them converts.
    pub fn expect(&mut self, hint: usize) {
        let convert = match self {
            Set::Ints(_) => hint > super::encoding::set_max_intset_entries(),
            Set::Small(_) => hint > super::encoding::set_max_listpack_entries(),
            Set::Table(_) => false,
        };
        if convert {
            self.convert_to_table();
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Ints(v) => v.len(),
            Set::Small(v) => v.len(),
            Set::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `OBJECT ENCODING`.
    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Small(_) => "listpack",
            Set::Table(_) => "hashtable",
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            Set::Ints(v) => parse_i64(member).is_some_and(|n| v.binary_search(&n).is_ok()),
            Set::Small(v) => v.iter().any(|m| **m == *member),
            Set::Table(t) => t.get(member).is_some(),
        }
    }

    /// Adds `member`; true when it is new.
    pub fn add(&mut self, member: &[u8]) -> bool {
        match self {
            Set::Ints(v) => match parse_i64(member) {
                Some(n) => match v.binary_search(&n) {
                    Ok(_) => false,
                    Err(i) => {
                        v.insert(i, n);
                        if v.len() > super::encoding::set_max_intset_entries() {
                            self.convert_to_table();
                        }
                        true
                    }
                },
                None => {
                    // Integers print in at most 20 bytes, under the value limit.
                    if v.len() < super::encoding::set_max_listpack_entries()
                        && member.len() <= super::encoding::set_max_listpack_value()
                    {
                        let mut small: Vec<Bytes> =
                            v.iter().map(|&n| Elem::Int(n).to_vec().into()).collect();
                        small.push(member.into());
                        *self = Set::Small(small);
                    } else {
                        self.convert_to_table();
                        self.add(member);
                    }
                    true
                }
            },
            Set::Small(v) => {
                if v.iter().any(|m| **m == *member) {
                    return false;
                }
                if v.len() < super::encoding::set_max_listpack_entries()
                    && member.len() <= super::encoding::set_max_listpack_value()
                {
                    v.push(member.into());
                } else {
                    self.convert_to_table();
                    self.add(member);
                }
                true
            }
            Set::Table(t) => {
                if t.get(member).is_some() {
                    return false;
                }
                t.insert(member, ());
                true
            }
        }
    }

    /// Removes `member`; true when it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            Set::Ints(v) => match parse_i64(member).map(|n| v.binary_search(&n)) {
                Some(Ok(i)) => {
                    v.remove(i);
                    true
                }
                _ => false,
            },
            Set::Small(v) => match v.iter().position(|m| **m == *member) {
                Some(i) => {
                    v.remove(i);
                    true
                }
                None => false,
            },
            Set::Table(t) => t.remove(member).is_some(),
        }
    }

    fn convert_to_table(&mut self) {
        let mut t = KeyTable::new();
        match std::mem::replace(self, Set::Ints(Vec::new())) {
            Set::Ints(v) => v.into_iter().for_each(|n| {
                t.insert(&Elem::Int(n).bytes(), ());
            }),
            Set::Small(v) => v.into_iter().for_each(|m| {
                t.insert(&m, ());
            }),
            Set::Table(old) => t = *old,
        }
        *self = Set::Table(Box::new(t));
    }

    /// Every member: numeric order for an intset, insertion order for a
    /// listpack, hash order for a table.
    pub fn iter(&self) -> Iter<'_> {
        match self {
            Set::Ints(v) => Iter::Ints(v.iter()),
            Set::Small(v) => Iter::Small(v.iter()),
            Set::Table(t) => Iter::Table(Box::new(t.iter())),
        }
    }

    /// A member picked at random from `seed` (None when empty).
    pub fn random(&self, seed: u64) -> Option<Elem<'_>> {
        let pick = |len: usize| (seed % len as u64) as usize;
        match self {
            _ if self.is_empty() => None,
            Set::Ints(v) => Some(Elem::Int(v[pick(v.len())])),
            Set::Small(v) => Some(Elem::Bytes(&v[pick(v.len())])),
            Set::Table(t) => t.random(seed).map(|(k, _)| Elem::Bytes(k)),
        }
    }

    /// Removes and returns a random member (None when empty).
    pub fn pop_random(&mut self, seed: u64) -> Option<Vec<u8>> {
        let member = self.random(seed)?.to_vec();
        self.remove(&member);
        Some(member)
    }

    /// One SSCAN step: visits members from `cursor` on, about `count` of
    /// them (a compact set all at once, as Redis does); returns the next
    /// cursor, 0 when the walk is done.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(Elem)) -> u64 {
        match self {
            Set::Table(t) => t
                .scan(cursor, count, |k, _| visit(Elem::Bytes(k)))
                .unwrap_or(0),
            _ => {
                self.iter().for_each(visit);
                0
            }
        }
    }

    /// Estimated heap bytes (MEMORY USAGE): exact when `samples` is 0 or
    /// covers the set, else extrapolated from the first `samples` members.
    pub fn heap_bytes(&self, samples: usize) -> usize {
        let boxed = std::mem::size_of::<Bytes>();
        match self {
            Set::Ints(v) => v.capacity() * 8,
            Set::Small(v) => {
                let data = super::hash::sampled(v.len(), samples, v.iter().map(|m| m.len()));
                v.capacity() * boxed + data
            }
            Set::Table(t) => {
                let data = super::hash::sampled(t.len(), samples, t.iter().map(|(k, _)| k.len()));
                t.len() * ((boxed + 1) * 8 / 7 + 2) + data
            }
        }
    }
}

pub enum Iter<'a> {
    Ints(std::slice::Iter<'a, i64>),
    Small(std::slice::Iter<'a, Bytes>),
    Table(Box<dyn Iterator<Item = (&'a Box<[u8]>, &'a ())> + 'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = Elem<'a>;

    fn next(&mut self) -> Option<Elem<'a>> {
        match self {
            Iter::Ints(it) => it.next().map(|&n| Elem::Int(n)),
            Iter::Small(it) => it.next().map(|m| Elem::Bytes(m)),
            Iter::Table(it) => it.next().map(|(k, _)| Elem::Bytes(k)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[derive(Debug, Clone)]
    enum Op {
        Add(Vec<u8>),
        Rem(Vec<u8>),
        Pop(u64),
    }

    fn member() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            6 => (-700i64..700).prop_map(|n| n.to_string().into_bytes()),
            1 => "[a-c]{1,3}".prop_map(String::into_bytes),
            1 => Just(b"01".to_vec()),
            1 => Just(b"-0".to_vec()),
            1 => Just(vec![b'x'; 65]),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => member().prop_map(Op::Add),
            2 => member().prop_map(Op::Rem),
            1 => any::<u64>().prop_map(Op::Pop),
        ]
    }

    fn is_int(m: &[u8]) -> bool {
        parse_i64(m).is_some()
    }

    proptest! {
        #[test]
        fn behaves_like_a_hashset(ops in proptest::collection::vec(op(), 0..900)) {
            let mut s = Set::new();
            let mut model: HashSet<Vec<u8>> = HashSet::new();
            for op in ops {
                let before = s.encoding();
                match op {
                    Op::Add(m) => {
                        let new = model.insert(m.clone());
                        prop_assert_eq!(s.add(&m), new);
                    }
                    Op::Rem(m) => {
                        prop_assert_eq!(s.remove(&m), model.remove(&m));
                    }
                    Op::Pop(seed) => match s.pop_random(seed) {
                        Some(m) => {
                            prop_assert!(model.remove(&m));
                        }
                        None => prop_assert!(model.is_empty()),
                    },
                }
                prop_assert_eq!(s.len(), model.len());
                // Conversions only go towards the hashtable.
                let rank = |e: &str| ["intset", "listpack", "hashtable"].iter().position(|x| *x == e);
                prop_assert!(rank(before) <= rank(s.encoding()));
                match s.encoding() {
                    "intset" => {
                        prop_assert!(model.iter().all(|m| is_int(m)) && model.len() <= MAX_INTSET_ENTRIES);
                        let got: Vec<i64> = s.iter().map(|e| match e { Elem::Int(n) => n, _ => unreachable!() }).collect();
                        let mut sorted = got.clone();
                        sorted.sort();
                        prop_assert_eq!(got, sorted);
                    }
                    "listpack" => {
                        prop_assert!(model.len() <= MAX_LISTPACK_ENTRIES);
                        prop_assert!(model.iter().all(|m| m.len() <= MAX_LISTPACK_VALUE));
                    }
                    _ => {}
                }
            }
            for m in &model {
                prop_assert!(s.contains(m));
            }
            prop_assert!(!s.contains(b"absent"));
            let got: Vec<Vec<u8>> = s.iter().map(Elem::to_vec).collect();
            let got_set: HashSet<Vec<u8>> = got.iter().cloned().collect();
            prop_assert_eq!(got.len(), got_set.len());
            prop_assert_eq!(got_set, model);
        }
    }

    #[test]
    fn encodings_follow_redis_thresholds() {
        let mut s = Set::new();
        for i in 0..512 {
            s.add(i.to_string().as_bytes());
        }
        assert_eq!(s.encoding(), "intset");
        s.add(b"512");
        assert_eq!(s.encoding(), "hashtable");

        let mut s = Set::new();
        for i in 0..127 {
            s.add(i.to_string().as_bytes());
        }
        s.add(b"x");
        assert_eq!(s.encoding(), "listpack");
        // The intset's numbers keep their order, the string comes last.
        let first: Vec<Vec<u8>> = s.iter().take(3).map(Elem::to_vec).collect();
        assert_eq!(first, vec![b"0".to_vec(), b"1".to_vec(), b"2".to_vec()]);
        s.add(b"y");
        assert_eq!(s.encoding(), "hashtable");

        let mut s = Set::new();
        for i in 0..128 {
            s.add(i.to_string().as_bytes());
        }
        s.add(b"x");
        assert_eq!(
            s.encoding(),
            "hashtable",
            "an intset of 128 is too big for a listpack"
        );

        let mut s = Set::new();
        s.add(b"a");
        s.add(&[b'x'; 65]);
        assert_eq!(s.encoding(), "hashtable");
        s.remove(&[b'x'; 65]);
        assert_eq!(s.encoding(), "hashtable", "one way");

        assert_eq!(Set::for_members(b"1", 512).encoding(), "intset");
        assert_eq!(Set::for_members(b"1", 513).encoding(), "hashtable");
        assert_eq!(Set::for_members(b"a", 128).encoding(), "listpack");
        assert_eq!(Set::for_members(b"01", 2).encoding(), "listpack");
        assert_eq!(Set::for_members(b"a", 129).encoding(), "hashtable");
    }

    #[test]
    fn scan_of_a_table_visits_every_member_once() {
        let mut s = Set::new();
        for i in 0..1000 {
            s.add(format!("m{i}").as_bytes());
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = s.scan(cursor, 7, |e| assert!(seen.insert(e.to_vec())));
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
    }
}
