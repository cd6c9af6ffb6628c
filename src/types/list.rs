//! A list as a deque of owned elements (the compact chunked layout replaces it).
use std::collections::VecDeque;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct List {
    items: VecDeque<Vec<u8>>,
}

impl List {
    pub fn new() -> List {
        List::default()
    }
    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    pub fn push_front(&mut self, v: &[u8]) {
        self.items.push_front(v.to_vec())
    }
    pub fn push_back(&mut self, v: &[u8]) {
        self.items.push_back(v.to_vec())
    }
    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        self.items.pop_front()
    }
    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        self.items.pop_back()
    }
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        self.items.get(i).map(|v| &v[..])
    }
    pub fn set(&mut self, i: usize, v: &[u8]) -> bool {
        match self.items.get_mut(i) {
            Some(x) => {
                *x = v.to_vec();
                true
            }
            None => false,
        }
    }
    pub fn insert(&mut self, i: usize, v: &[u8]) {
        self.items.insert(i, v.to_vec())
    }
    pub fn remove(&mut self, i: usize) -> Option<Vec<u8>> {
        self.items.remove(i)
    }
    pub fn iter_from(&self, start: usize) -> impl Iterator<Item = &[u8]> + '_ {
        self.items.iter().skip(start).map(|v| &v[..])
    }
    pub fn iter_rev_from(&self, start: usize) -> impl Iterator<Item = &[u8]> + '_ {
        let skip = self.items.len().saturating_sub(start + 1);
        self.items.iter().rev().skip(skip).map(|v| &v[..])
    }
    pub fn keep_range(&mut self, start: usize, end: usize) {
        self.items.truncate(end + 1);
        self.items.drain(..start);
    }
    pub fn remove_matching(&mut self, value: &[u8], count: i64) -> usize {
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs() as usize
        };
        let mut removed = 0;
        if count >= 0 {
            let mut i = 0;
            while i < self.items.len() && removed < limit {
                if self.items[i] == value {
                    self.items.remove(i);
                    removed += 1;
                } else {
                    i += 1;
                }
            }
        } else {
            let mut i = self.items.len();
            while i > 0 && removed < limit {
                i -= 1;
                if self.items[i] == value {
                    self.items.remove(i);
                    removed += 1;
                }
            }
        }
        removed
    }
    pub fn heap_bytes(&self) -> usize {
        self.items.iter().map(|v| v.capacity() + 24).sum()
    }
    pub fn encoding(&self) -> &'static str {
        if self.items.len() <= 128 && self.items.iter().all(|v| v.len() <= 64) {
            "listpack"
        } else {
            "quicklist"
        }
    }
}
