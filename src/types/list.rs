//! Lists, laid out like Redis's quicklist: a deque of compact byte chunks.
//!
//! # Layout
//!
//! A [`List`] is a `VecDeque` of chunks. A chunk owns one `Vec<u8>` and keeps
//! its entries back to back in `buf[start..]`: `buf.len()` is the end of the
//! last entry, and the bytes before `start` are free room (left there by pops
//! from the front, or reserved for pushes at the front). Each entry is
//!
//! ```text
//! [len: LEB128 varint] [len bytes of data] [back: varint of (header bytes + len)]
//! ```
//!
//! The leading varint lets a walk step from an entry to the next one. The
//! trailing *back-length* (as in listpack's `backlen`) is written so that it
//! decodes from its last byte towards its first: that byte holds the low seven
//! bits, and a set high bit means "another byte to the left". It lets a walk
//! step from the end of an entry to its start. A 16-byte element costs
//! 1 + 16 + 1 = 18 bytes, like in a listpack. Elements are stored as the bytes
//! they are (no integer encoding), so [`List::get`] and the iterators can hand
//! out borrowed slices.
//!
//! Every chunk also caches its entry count, and the listpack size its
//! elements would have in Redis (only used for [`List::encoding`]). The list
//! caches its length and the total capacity of the chunk buffers, so
//! [`List::len`] and [`List::heap_bytes`] are O(1). All of this state sits
//! behind one `Box`: a `List` is one pointer wide, which keeps an enum of
//! values that holds one small.
//!
//! # Invariants
//!
//! 1. No chunk is empty. A chunk that loses its last entry is dropped at once.
//! 2. A chunk's `count` equals the number of entries encoded in `buf[start..]`,
//!    which the entries fill exactly; the counts add up to the list's `len`.
//! 3. A chunk's `lp` is the sum of the Redis listpack entry sizes of its
//!    elements, and `cap_bytes` is the sum of the buffer capacities.
//! 4. The budget (`chunk_bytes`, 8 KiB by default, as Redis's
//!    `list-max-listpack-size -2`; and `max_entries`, 1024 by default) holds
//!    for every chunk with more than one entry: its live bytes
//!    (`buf.len() - start`) are at most `chunk_bytes` and it has at most
//!    `max_entries` entries. It is checked whenever an entry is added to a
//!    chunk (push, insert, set) or two chunks are merged; pops and removals
//!    only shrink chunks. An entry whose encoding is larger than the budget
//!    therefore always lives alone in a chunk of its own.
//!
//! # Costs
//!
//! - Pushes and pops at either end are O(1) amortized and never move other
//!   entries: a chunk's buffer grows geometrically up to the budget (data
//!   placed at the end of the buffer when growing for a front push), a pop
//!   from the front only advances `start`, and a chunk whose room is on the
//!   wrong side is compacted only if that recovers a quarter of its buffer
//!   (otherwise the push starts a new chunk). A FIFO queue therefore fills
//!   chunks at one end and frees whole chunks at the other. A pop that leaves
//!   a chunk's buffer under a quarter used halves it, so a queue drained back
//!   to a few elements gives its memory back (geometric, so still O(1)
//!   amortized).
//! - Access by index ([`List::get`], [`List::set`], [`List::insert`],
//!   [`List::remove`], and the seek of the iterators) walks chunk counts from
//!   the nearer end of the list, then entries from the nearer end of the
//!   chunk: O(chunks + entries per chunk). Edits in the middle move at most
//!   one chunk's bytes (the smaller side of the edit point when possible).
//!   After them, neighbouring chunks that together fit in three quarters of
//!   the budget are merged (the slack keeps an insert that splits a full chunk
//!   and a removal that follows it from splitting and merging over and over),
//!   and chunks using under a quarter of their buffer are shrunk.
//! - Once positioned, the iterators yield each element in O(1).
//!
//! # `OBJECT ENCODING`
//!
//! [`List::encoding`] follows Redis 7.2 (`t_list.c`, `listTypeTryConversion*`),
//! with `list-max-listpack-size` (see `types::encoding`; the defaults below
//! are for its default, -2; a positive value limits entries instead, within
//! an 8 KiB safety limit):
//!
//! - a new list is a `listpack`;
//! - before an element is added (push, insert, set), a `listpack` list turns
//!   into a `quicklist` if `7 + listpack bytes of its elements + raw length of
//!   the new element > 8192`. There is no entry-count rule for lists (the
//!   "128 entries / 64 bytes" rule is the one for hashes, sets and sorted
//!   sets); a single element over about 8 KiB makes a `quicklist` at once;
//! - after elements are removed (pop, remove, trim, LREM that removed
//!   something, set), a `quicklist` list turns back into a `listpack` if it is
//!   one chunk and its listpack size (the 7 header bytes included) is at most
//!   half the limit, 4096 bytes. Between the two thresholds the encoding stays
//!   what it was, as in Redis;
//! - an emptied list is a `listpack` again (Redis deletes the key; a new one
//!   starts as a listpack).
//!
//! Listpack sizes are computed as Redis's listpack would encode each element
//! (strings that parse as integers take 1 to 9 bytes, others a 1, 2 or 5
//! byte header, plus the backlen). Two differences remain: Redis checks a
//! whole multi-element push (or LINSERT before it finds its pivot) at once,
//! this type one element at a time; and "one chunk" is about our chunking,
//! which is close to, not identical with, the nodes Redis would have.

use std::collections::VecDeque;
use std::fmt;
use std::iter::FusedIterator;

/// Default cap on the entries of a chunk. It bounds the walk inside a chunk
/// for tiny elements (a 0-byte element costs only 2 bytes).
const DEFAULT_MAX_ENTRIES: u16 = 1024;
/// Bytes a Redis listpack spends besides its entries: a 4-byte total size, a
/// 2-byte count and a 1-byte terminator.
const LP_OVERHEAD: usize = 7;

// ---------------------------------------------------------------------------
// Entry encoding
// ---------------------------------------------------------------------------

/// Bytes of `v` as a varint (seven bits a byte).
#[inline]
fn varint_len(mut v: usize) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Encoded size of an entry whose data is `len` bytes long.
#[inline]
fn entry_size(len: usize) -> usize {
    let header = varint_len(len);
    header + len + varint_len(header + len)
}

/// The LEB128 header of an entry with `len` data bytes: (bytes, how many).
#[inline]
fn header_bytes(mut len: usize) -> ([u8; 10], usize) {
    let mut out = [0; 10];
    let mut n = 0;
    loop {
        let low = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out[n] = low;
            return (out, n + 1);
        }
        out[n] = low | 0x80;
        n += 1;
    }
}

/// The back-length `back`, readable from its last byte: (bytes, how many).
#[inline]
fn backlen_bytes(back: usize) -> ([u8; 10], usize) {
    let mut out = [0; 10];
    let n = varint_len(back);
    let mut v = back;
    for i in (0..n).rev() {
        let mut b = (v & 0x7f) as u8;
        v >>= 7;
        if i > 0 {
            b |= 0x80; // another byte to the left
        }
        out[i] = b;
    }
    (out, n)
}

/// Appends the encoding of `value` to `buf`.
#[inline]
fn append_entry(buf: &mut Vec<u8>, value: &[u8]) {
    let (h, hn) = header_bytes(value.len());
    let (b, bn) = backlen_bytes(hn + value.len());
    buf.extend_from_slice(&h[..hn]);
    buf.extend_from_slice(value);
    buf.extend_from_slice(&b[..bn]);
}

/// Writes the encoding of `value` into `out`, which is exactly
/// `entry_size(value.len())` bytes long.
#[inline]
fn write_entry(out: &mut [u8], value: &[u8]) {
    let (h, hn) = header_bytes(value.len());
    let (b, bn) = backlen_bytes(hn + value.len());
    debug_assert_eq!(out.len(), hn + value.len() + bn);
    let (head, rest) = out.split_at_mut(hn);
    let (data, back) = rest.split_at_mut(value.len());
    head.copy_from_slice(&h[..hn]);
    data.copy_from_slice(value);
    back.copy_from_slice(&b[..bn]);
}

/// Decodes the entry starting at `pos`: (data start, data length, entry end).
#[inline]
fn read_entry(buf: &[u8], pos: usize) -> (usize, usize, usize) {
    let mut len = 0usize;
    let mut shift = 0;
    let mut p = pos;
    loop {
        let b = buf[p];
        p += 1;
        len |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let end = p + len + varint_len(p - pos + len);
    (p, len, end)
}

/// Start of the entry that ends at `end`, read from its back-length.
#[inline]
fn prev_entry(buf: &[u8], end: usize) -> usize {
    let mut p = end - 1;
    let mut back = 0usize;
    let mut shift = 0;
    loop {
        let b = buf[p];
        back |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return p - back;
        }
        shift += 7;
        p -= 1;
    }
}

// ---------------------------------------------------------------------------
// Redis listpack sizes (for OBJECT ENCODING only)
// ---------------------------------------------------------------------------

/// `value` as Redis's `lpStringToInt64` reads it: strict decimal, no `+`,
/// no leading zeros, no `-0`, at most 20 bytes, within `i64`.
fn redis_i64(value: &[u8]) -> Option<i64> {
    if value.is_empty() || value.len() > 20 {
        return None;
    }
    if value == b"0" {
        return Some(0);
    }
    let (negative, digits) = match value.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, value),
    };
    let (&first, rest) = digits.split_first()?;
    if !(b'1'..=b'9').contains(&first) {
        return None;
    }
    let mut v = u64::from(first - b'0');
    for &d in rest {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(v)
    } else {
        i64::try_from(v).ok()
    }
}

/// Bytes Redis's listpack spends on an entry holding `value`.
fn lp_entry_size(value: &[u8]) -> usize {
    let encoded = match redis_i64(value) {
        Some(i) if (0..=127).contains(&i) => 1,
        Some(i) if (-4096..=4095).contains(&i) => 2,
        Some(i) if i16::try_from(i).is_ok() => 3,
        Some(i) if (-(1 << 23)..(1 << 23)).contains(&i) => 4,
        Some(i) if i32::try_from(i).is_ok() => 5,
        Some(_) => 9,
        None if value.len() < 64 => 1 + value.len(),
        None if value.len() < 4096 => 2 + value.len(),
        None => 5 + value.len(),
    };
    let backlen = match encoded {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    };
    encoded + backlen
}

// ---------------------------------------------------------------------------
// Chunks
// ---------------------------------------------------------------------------

/// Capacity to grow a chunk buffer of capacity `cap` to, to hold `need`
/// bytes: double, but not past the budget (unless `need` itself is larger).
#[inline]
fn grown(cap: usize, need: usize, budget: usize) -> usize {
    need.max(cap.saturating_mul(2).min(budget))
}

/// A run of entries in one buffer; see the module documentation.
struct Chunk {
    /// Entries live in `buf[start..]`.
    buf: Vec<u8>,
    /// Offset of the first entry; the bytes before it are free room.
    start: usize,
    /// Number of entries.
    count: usize,
    /// Sum of the Redis listpack sizes of the entries.
    lp: usize,
}

impl Clone for Chunk {
    /// Copies the live bytes only, into a buffer of exactly their size.
    fn clone(&self) -> Chunk {
        Chunk {
            buf: self.buf[self.start..].to_vec(),
            start: 0,
            count: self.count,
            lp: self.lp,
        }
    }
}

impl Chunk {
    /// A chunk holding only `value`, whose entry is `e` bytes, in a buffer of
    /// exactly that size.
    fn single(value: &[u8], e: usize, lp: usize) -> Chunk {
        let mut buf = Vec::with_capacity(e);
        append_entry(&mut buf, value);
        Chunk {
            buf,
            start: 0,
            count: 1,
            lp,
        }
    }

    /// Bytes of the entries.
    #[inline]
    fn live(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Whether an entry of `e` bytes may join this chunk within the budget.
    #[inline]
    fn accepts(&self, e: usize, budget: usize, max_entries: usize) -> bool {
        self.count < max_entries && self.live() + e <= budget
    }

    /// The data of the entry starting at `pos`.
    #[inline]
    fn data_at(&self, pos: usize) -> &[u8] {
        let (d, l, _) = read_entry(&self.buf, pos);
        &self.buf[d..d + l]
    }

    /// Offset of entry `k` (`k == count` gives the end), walking from the
    /// nearer end of the chunk.
    fn offset_of(&self, k: usize) -> usize {
        debug_assert!(k <= self.count);
        if k <= self.count / 2 {
            let mut p = self.start;
            for _ in 0..k {
                p = read_entry(&self.buf, p).2;
            }
            p
        } else {
            let mut p = self.buf.len();
            for _ in k..self.count {
                p = prev_entry(&self.buf, p);
            }
            p
        }
    }

    /// Moves the entries to offset 0 of the same buffer.
    fn compact(&mut self) {
        if self.start > 0 {
            let live = self.live();
            self.buf.copy_within(self.start.., 0);
            self.buf.truncate(live);
            self.start = 0;
        }
    }

    /// Gives the buffer a capacity of `cap` (at least the live bytes), the
    /// entries at its start, or flush with its end if `at_end` (so that all
    /// free room is in front of them).
    fn relayout(&mut self, cap: usize, at_end: bool) {
        let live = self.live();
        debug_assert!(cap >= live);
        if !at_end && self.start == 0 {
            if cap >= self.buf.capacity() {
                self.buf.reserve_exact(cap - self.buf.len());
            } else {
                self.buf.shrink_to(cap);
            }
            return;
        }
        let mut buf = Vec::with_capacity(cap);
        if at_end {
            buf.resize(cap - live, 0);
        }
        buf.extend_from_slice(&self.buf[self.start..]);
        self.start = buf.len() - live;
        self.buf = buf;
    }

    /// Gives back most of a buffer that is under a quarter used.
    fn shrink_if_sparse(&mut self) {
        let live = self.live();
        if self.buf.capacity() >= 64 && live < self.buf.capacity() / 4 {
            self.relayout(live, false);
        }
    }

    /// After a pop: halves a buffer once it is under a quarter used, so that
    /// a list drained from its ends does not keep its peak memory (the free
    /// half goes in front of the entries if `head_room`, else after them).
    /// Geometric, so O(1) amortized per pop.
    #[inline]
    fn shrink_after_pop(&mut self, head_room: bool) {
        let live = self.live();
        let cap = self.buf.capacity();
        if live > 0 && cap >= 64 && live < cap / 4 {
            self.relayout(2 * live, head_room);
        }
    }

    /// Appends `value` (entry of `e` bytes) if the chunk takes it cheaply;
    /// false (chunk unchanged) when the caller should start a new chunk.
    fn try_push_back(
        &mut self,
        value: &[u8],
        e: usize,
        lp: usize,
        budget: usize,
        max: usize,
    ) -> bool {
        if !self.accepts(e, budget, max) {
            return false;
        }
        let cap = self.buf.capacity();
        if self.buf.len() + e > cap {
            let live = self.live();
            let free = cap - live;
            if free >= e && free >= cap / 4 {
                self.compact();
            } else if cap < budget {
                self.relayout(grown(cap, live + e, budget), false);
            } else {
                // Compacting would buy too little room: a new chunk is cheaper.
                return false;
            }
        }
        append_entry(&mut self.buf, value);
        self.count += 1;
        self.lp += lp;
        true
    }

    /// Prepends `value`, like [`Chunk::try_push_back`] at the other end.
    fn try_push_front(
        &mut self,
        value: &[u8],
        e: usize,
        lp: usize,
        budget: usize,
        max: usize,
    ) -> bool {
        if !self.accepts(e, budget, max) {
            return false;
        }
        if self.start < e {
            let cap = self.buf.capacity();
            let live = self.live();
            let free = cap - live;
            if free >= e && free >= cap / 4 {
                let len = self.buf.len();
                self.buf.resize(cap, 0);
                self.buf.copy_within(self.start..len, free);
                self.start = free;
            } else if cap < budget {
                self.relayout(grown(cap, live + e, budget), true);
            } else {
                return false;
            }
        }
        let at = self.start - e;
        write_entry(&mut self.buf[at..self.start], value);
        self.start = at;
        self.count += 1;
        self.lp += lp;
        true
    }

    /// Takes the first entry out (the chunk must not be empty).
    fn pop_front(&mut self) -> Vec<u8> {
        let (d, l, end) = read_entry(&self.buf, self.start);
        let value = self.buf[d..d + l].to_vec();
        self.start = end;
        self.count -= 1;
        self.lp -= lp_entry_size(&value);
        value
    }

    /// Takes the last entry out (the chunk must not be empty).
    fn pop_back(&mut self) -> Vec<u8> {
        let s = prev_entry(&self.buf, self.buf.len());
        let value = self.data_at(s).to_vec();
        self.buf.truncate(s);
        self.count -= 1;
        self.lp -= lp_entry_size(&value);
        value
    }

    /// Inserts `value` (entry of `e` bytes) at byte offset `off`, an entry
    /// boundary. The caller has checked [`Chunk::accepts`]. Moves the smaller
    /// side of `off` when there is room on both.
    fn insert_at(&mut self, off: usize, value: &[u8], e: usize, lp: usize, budget: usize) {
        let len = self.buf.len();
        let cap = self.buf.capacity();
        let head = off - self.start;
        let tail = len - off;
        let at = if self.start >= e && (head <= tail || cap - len < e) {
            self.buf.copy_within(self.start..off, self.start - e);
            self.start -= e;
            off - e
        } else if cap - len >= e {
            self.buf.resize(len + e, 0);
            self.buf.copy_within(off..len, off + e);
            off
        } else if cap - self.live() >= e {
            // Room enough, but split between both ends: gather it at the end.
            self.compact();
            let live = self.buf.len();
            self.buf.resize(live + e, 0);
            self.buf.copy_within(head..live, head + e);
            head
        } else {
            let mut buf = Vec::with_capacity(grown(cap, self.live() + e, budget));
            buf.extend_from_slice(&self.buf[self.start..off]);
            buf.resize(head + e, 0);
            buf.extend_from_slice(&self.buf[off..]);
            self.buf = buf;
            self.start = 0;
            head
        };
        write_entry(&mut self.buf[at..at + e], value);
        self.count += 1;
        self.lp += lp;
    }

    /// Deletes the entry at byte offset `off`, moving the smaller side over
    /// it; returns the offset where it was (the boundary between its former
    /// neighbours).
    fn delete_at(&mut self, off: usize) -> usize {
        let (d, l, end) = read_entry(&self.buf, off);
        self.lp -= lp_entry_size(&self.buf[d..d + l]);
        self.count -= 1;
        let size = end - off;
        let len = self.buf.len();
        if off - self.start < len - end {
            self.buf.copy_within(self.start..off, self.start + size);
            self.start += size;
            end
        } else {
            self.buf.copy_within(end..len, off);
            self.buf.truncate(len - size);
            off
        }
    }

    /// Replaces entry `k` with `value` (entry of `e` bytes) if the result
    /// stays within the budget (or the chunk holds only that entry); false
    /// (chunk unchanged) otherwise.
    fn replace(&mut self, k: usize, value: &[u8], e: usize, lp: usize, budget: usize) -> bool {
        if self.count == 1 {
            *self = Chunk::single(value, e, lp);
            return true;
        }
        let off = self.offset_of(k);
        let (d, l, end) = read_entry(&self.buf, off);
        let old = end - off;
        if self.live() - old + e > budget {
            return false;
        }
        if old == e {
            self.lp = self.lp - lp_entry_size(&self.buf[d..d + l]) + lp;
            write_entry(&mut self.buf[off..end], value);
        } else {
            let at = self.delete_at(off);
            self.insert_at(at, value, e, lp, budget);
        }
        true
    }

    /// Splits the chunk before entry `k` (`0 < k < count`); returns the
    /// second part, in a buffer of exactly its size.
    fn split_off(&mut self, k: usize) -> Chunk {
        let off = self.offset_of(k);
        let buf = self.buf[off..].to_vec();
        let mut lp = 0;
        let mut p = 0;
        while p < buf.len() {
            let (d, l, end) = read_entry(&buf, p);
            lp += lp_entry_size(&buf[d..d + l]);
            p = end;
        }
        let tail = Chunk {
            buf,
            start: 0,
            count: self.count - k,
            lp,
        };
        self.buf.truncate(off);
        self.count = k;
        self.lp -= lp;
        tail
    }

    /// Appends the entries of `other`.
    fn append(&mut self, other: &Chunk) {
        let add = other.live();
        if self.buf.capacity() - self.buf.len() < add {
            let live = self.live();
            if self.buf.capacity() - live >= add {
                self.compact();
            } else {
                self.relayout(live + add, false);
            }
        }
        self.buf.extend_from_slice(&other.buf[other.start..]);
        self.count += other.count;
        self.lp += other.lp;
    }

    /// Drops the first `n` entries (`n < count`).
    fn drop_front(&mut self, n: usize) {
        let mut p = self.start;
        for _ in 0..n {
            let (d, l, end) = read_entry(&self.buf, p);
            self.lp -= lp_entry_size(&self.buf[d..d + l]);
            p = end;
        }
        self.start = p;
        self.count -= n;
    }

    /// Drops the last `n` entries (`n < count`).
    fn drop_back(&mut self, n: usize) {
        let mut end = self.buf.len();
        for _ in 0..n {
            end = prev_entry(&self.buf, end);
            self.lp -= lp_entry_size(self.data_at(end));
        }
        self.buf.truncate(end);
        self.count -= n;
    }

    /// Removes up to `limit` entries equal to `value`, the first ones or, if
    /// `from_back`, the last ones; returns how many. `hits` is scratch space.
    fn remove_matching(
        &mut self,
        value: &[u8],
        limit: usize,
        from_back: bool,
        hits: &mut Vec<(usize, usize)>,
    ) -> usize {
        hits.clear();
        if from_back {
            let mut end = self.buf.len();
            while end > self.start && hits.len() < limit {
                let s = prev_entry(&self.buf, end);
                if self.data_at(s) == value {
                    hits.push((s, end));
                }
                end = s;
            }
            hits.reverse();
        } else {
            let mut p = self.start;
            while p < self.buf.len() && hits.len() < limit {
                let (d, l, end) = read_entry(&self.buf, p);
                if l == value.len() && self.buf[d..d + l] == *value {
                    hits.push((p, end));
                }
                p = end;
            }
        }
        let Some(&(first, _)) = hits.first() else {
            return 0;
        };
        // Close the gaps, left to right.
        let mut w = first;
        for (i, &(_, end)) in hits.iter().enumerate() {
            let next = hits.get(i + 1).map_or(self.buf.len(), |h| h.0);
            self.buf.copy_within(end..next, w);
            w += next - end;
        }
        self.buf.truncate(w);
        let n = hits.len();
        self.count -= n;
        self.lp -= n * lp_entry_size(value);
        n
    }
}

// ---------------------------------------------------------------------------
// The list
// ---------------------------------------------------------------------------

/// A Redis list: a deque of compact chunks of entries (see the module
/// documentation for the layout, the invariants and the costs).
///
/// The state lives behind one `Box`, so that a `List` (and a value enum
/// holding one) is a single pointer wide.
///
/// `PartialEq`/`Eq` and `Debug` are written by hand: equality compares the
/// elements, not how they happen to be chunked, and `Debug` prints the
/// elements. `Clone` copies only the live bytes of each chunk.
#[derive(Clone, Default)]
pub struct List {
    inner: Box<Inner>,
}

impl PartialEq for List {
    fn eq(&self, other: &List) -> bool {
        self.len() == other.len() && self.iter_from(0).eq(other.iter_from(0))
    }
}

impl Eq for List {}

impl fmt::Debug for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter_from(0).map(Escaped))
            .finish()
    }
}

/// Debug-prints bytes as an escaped byte string literal.
struct Escaped<'a>(&'a [u8]);

impl fmt::Debug for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("b\"")?;
        for &b in self.0 {
            write!(f, "{}", std::ascii::escape_default(b))?;
        }
        f.write_str("\"")
    }
}

impl List {
    /// An empty list.
    pub fn new() -> List {
        List::default()
    }

    /// An empty list with a chunk byte budget of `chunk_bytes` and at most
    /// `max_entries` entries a chunk (tests use tiny ones to get many chunks).
    #[cfg(test)]
    pub(crate) fn with_limits(chunk_bytes: usize, max_entries: usize) -> List {
        List {
            inner: Box::new(Inner::with_limits(chunk_bytes, max_entries)),
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.inner.len
    }

    /// Whether the list has no elements.
    pub fn is_empty(&self) -> bool {
        self.inner.len == 0
    }

    /// Adds `value` before the first element.
    pub fn push_front(&mut self, value: &[u8]) {
        self.inner.push_front(value);
    }

    /// Adds `value` after the last element.
    pub fn push_back(&mut self, value: &[u8]) {
        self.inner.push_back(value);
    }

    /// Takes out the first element.
    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        self.inner.pop_front()
    }

    /// Takes out the last element.
    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        self.inner.pop_back()
    }

    /// Element at `index` counted from the front (0-based).
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        self.inner.get(index)
    }

    /// Replaces the element at `index`; false if out of range.
    pub fn set(&mut self, index: usize, value: &[u8]) -> bool {
        self.inner.set(index, value)
    }

    /// Inserts `value` so that it ends up at position `index` (0..=len).
    /// An `index` past the end is taken as `len` (the value is appended).
    pub fn insert(&mut self, index: usize, value: &[u8]) {
        self.inner.insert(index, value);
    }

    /// Removes and returns the element at `index`.
    pub fn remove(&mut self, index: usize) -> Option<Vec<u8>> {
        self.inner.remove(index)
    }

    /// Front-to-back iterator over elements from `start` (inclusive), as
    /// slices borrowed from the list. Empty if `start >= len`.
    pub fn iter_from(&self, start: usize) -> impl Iterator<Item = &[u8]> + '_ {
        self.inner.iter_from(start)
    }

    /// Back-to-front iterator starting at element `start` (an index from the
    /// front, inclusive) going towards the front. A `start` past the end is
    /// taken as the last element.
    pub fn iter_rev_from(&self, start: usize) -> impl Iterator<Item = &[u8]> + '_ {
        self.inner.iter_rev_from(start)
    }

    /// Keeps only elements `start..=end` (LTRIM after index normalisation;
    /// the caller guarantees `start <= end < len`), dropping the rest. Out of
    /// contract, it behaves like LTRIM: `start > end` or `start >= len` empty
    /// the list, and `end` is capped at the last element.
    pub fn keep_range(&mut self, start: usize, end: usize) {
        self.inner.keep_range(start, end);
    }

    /// LREM: removes up to `count` elements equal to `value` (count > 0: from
    /// the front; count < 0: from the back; 0: all). Returns how many were
    /// removed.
    pub fn remove_matching(&mut self, value: &[u8], count: i64) -> usize {
        self.inner.remove_matching(value, count)
    }

    /// Heap bytes this list holds (for MEMORY USAGE / used_memory
    /// estimates): the boxed state, the chunk table and the chunk buffers'
    /// capacities. O(1).
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Inner>() + self.inner.heap_bytes()
    }

    /// `OBJECT ENCODING`: "listpack" or "quicklist", following Redis 7.2's
    /// conversion rules (see the module documentation).
    pub fn encoding(&self) -> &'static str {
        self.inner.encoding()
    }

    /// DEBUG OBJECT's quicklist figures: chunks, and the listpack bytes of
    /// all of them (each chunk's entries as a Redis listpack would hold them).
    pub fn chunk_stats(&self) -> (usize, usize) {
        let lp: usize = self.inner.chunks.iter().map(|c| LP_OVERHEAD + c.lp).sum();
        (self.inner.chunks.len(), lp)
    }
}

/// The state of a [`List`], boxed so that a `List` is one pointer.
struct Inner {
    chunks: VecDeque<Chunk>,
    /// Number of elements (the sum of the chunk counts).
    len: usize,
    /// Sum of the capacities of the chunk buffers.
    cap_bytes: usize,
    /// Byte budget of a chunk with more than one entry.
    chunk_bytes: u32,
    /// Entry cap of a chunk.
    max_entries: u16,
    /// What [`List::encoding`] reports: a quicklist (else a listpack).
    quicklist: bool,
}

impl Default for Inner {
    /// A new list's chunks follow `list-max-listpack-size` as it is now, as
    /// a Redis quicklist keeps the fill it was created with.
    fn default() -> Inner {
        let (bytes, count) =
            super::encoding::list_node_limits(super::encoding::list_max_listpack_size());
        let (chunk_bytes, max_entries) = if count == usize::MAX {
            (bytes as u32, DEFAULT_MAX_ENTRIES)
        } else {
            (
                super::encoding::LIST_SIZE_SAFETY_LIMIT as u32,
                count.min(usize::from(u16::MAX)) as u16,
            )
        };
        Inner {
            chunks: VecDeque::new(),
            len: 0,
            cap_bytes: 0,
            chunk_bytes,
            max_entries,
            quicklist: false,
        }
    }
}

impl Clone for Inner {
    fn clone(&self) -> Inner {
        let chunks: VecDeque<Chunk> = self.chunks.iter().cloned().collect();
        let cap_bytes = chunks.iter().map(|c| c.buf.capacity()).sum();
        Inner {
            chunks,
            len: self.len,
            cap_bytes,
            chunk_bytes: self.chunk_bytes,
            max_entries: self.max_entries,
            quicklist: self.quicklist,
        }
    }
}

impl Inner {
    /// An empty list with a chunk byte budget of `chunk_bytes` and at most
    /// `max_entries` entries a chunk (tests use tiny ones to get many chunks).
    #[cfg(test)]
    fn with_limits(chunk_bytes: usize, max_entries: usize) -> Inner {
        assert!(chunk_bytes > 0 && max_entries > 0);
        Inner {
            chunk_bytes: u32::try_from(chunk_bytes).expect("chunk budget fits in u32"),
            max_entries: u16::try_from(max_entries).expect("entry cap fits in u16"),
            ..Inner::default()
        }
    }

    /// See [`List::push_front`].
    fn push_front(&mut self, value: &[u8]) {
        self.note_growth(value.len());
        self.push_front_raw(value);
    }

    /// See [`List::push_back`].
    fn push_back(&mut self, value: &[u8]) {
        self.note_growth(value.len());
        self.push_back_raw(value);
    }

    fn pop_front(&mut self) -> Option<Vec<u8>> {
        if self.chunks.is_empty() {
            return None;
        }
        let (value, emptied) = self.edit(0, |c| {
            let value = c.pop_front();
            c.shrink_after_pop(true);
            (value, c.count == 0)
        });
        self.len -= 1;
        if emptied {
            self.drop_chunk(0);
        }
        self.note_shrink();
        Some(value)
    }

    fn pop_back(&mut self) -> Option<Vec<u8>> {
        let last = self.chunks.len().checked_sub(1)?;
        let (value, emptied) = self.edit(last, |c| {
            let value = c.pop_back();
            c.shrink_after_pop(false);
            (value, c.count == 0)
        });
        self.len -= 1;
        if emptied {
            self.drop_chunk(last);
        }
        self.note_shrink();
        Some(value)
    }

    /// See [`List::get`].
    fn get(&self, index: usize) -> Option<&[u8]> {
        if index >= self.len {
            return None;
        }
        let (ci, k) = self.locate(index);
        let chunk = &self.chunks[ci];
        Some(chunk.data_at(chunk.offset_of(k)))
    }

    /// See [`List::set`].
    fn set(&mut self, index: usize, value: &[u8]) -> bool {
        if index >= self.len {
            return false;
        }
        self.note_growth(value.len());
        let (ci, k) = self.locate(index);
        let e = entry_size(value.len());
        let lp = lp_entry_size(value);
        let budget = self.budget();
        if self.edit(ci, |c| c.replace(k, value, e, lp, budget)) {
            self.tidy(ci, ci);
        } else {
            // It does not fit in its chunk: go through the insert path,
            // which splits chunks.
            self.remove_raw(index);
            self.insert_raw(index, value);
        }
        self.note_shrink();
        true
    }

    /// See [`List::insert`].
    fn insert(&mut self, index: usize, value: &[u8]) {
        self.note_growth(value.len());
        self.insert_raw(index.min(self.len), value);
    }

    /// See [`List::remove`].
    fn remove(&mut self, index: usize) -> Option<Vec<u8>> {
        if index >= self.len {
            return None;
        }
        let value = self.remove_raw(index);
        self.note_shrink();
        Some(value)
    }

    /// See [`List::iter_from`].
    fn iter_from(&self, start: usize) -> Iter<'_> {
        let (ci, pos, remaining) = if start < self.len {
            let (ci, k) = self.locate(start);
            (ci, self.chunks[ci].offset_of(k), self.len - start)
        } else {
            (0, 0, 0)
        };
        Iter {
            chunks: &self.chunks,
            ci,
            pos,
            remaining,
        }
    }

    /// See [`List::iter_rev_from`].
    fn iter_rev_from(&self, start: usize) -> RevIter<'_> {
        let (ci, pos, remaining) = if self.len > 0 {
            let start = start.min(self.len - 1);
            let (ci, k) = self.locate(start);
            (ci, self.chunks[ci].offset_of(k + 1), start + 1)
        } else {
            (0, 0, 0)
        };
        RevIter {
            chunks: &self.chunks,
            ci,
            pos,
            remaining,
        }
    }

    /// See [`List::keep_range`].
    fn keep_range(&mut self, start: usize, end: usize) {
        if start > end || start >= self.len {
            self.clear();
            return;
        }
        let end = end.min(self.len - 1);
        let after = self.len - 1 - end;
        self.drop_front_n(start);
        self.drop_back_n(after);
        self.tidy(0, 0);
        let last = self.chunks.len() - 1;
        self.tidy(last, last);
        self.note_shrink();
    }

    /// See [`List::remove_matching`].
    fn remove_matching(&mut self, value: &[u8], count: i64) -> usize {
        let limit = match count {
            0 => usize::MAX,
            n => usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX),
        };
        let from_back = count < 0;
        let n = self.chunks.len();
        let mut hits = Vec::new();
        let mut removed = 0;
        let (mut lo, mut hi) = (usize::MAX, 0);
        for step in 0..n {
            if removed == limit {
                break;
            }
            let ci = if from_back { n - 1 - step } else { step };
            // Only moves bytes within the buffer: its capacity is unchanged.
            let r = self.chunks[ci].remove_matching(value, limit - removed, from_back, &mut hits);
            if r > 0 {
                removed += r;
                lo = lo.min(ci);
                hi = hi.max(ci);
            }
        }
        if removed == 0 {
            return 0;
        }
        self.len -= removed;
        let mut emptied = 0;
        for c in self.chunks.range(lo..=hi) {
            if c.count == 0 {
                emptied += 1;
                self.cap_bytes -= c.buf.capacity();
            }
        }
        if emptied > 0 {
            self.chunks.retain(|c| c.count > 0);
            self.fit_deque();
        }
        if let Some(last) = self.chunks.len().checked_sub(1) {
            // The chunks left from lo..=hi are now lo..lo + kept.
            let kept = hi - lo + 1 - emptied;
            let lo = lo.min(last);
            let hi = (lo + kept).saturating_sub(1).clamp(lo, last);
            self.tidy(lo, hi);
        }
        self.note_shrink();
        removed
    }

    /// The chunk buffers' capacities plus the chunk table.
    fn heap_bytes(&self) -> usize {
        self.cap_bytes + self.chunks.capacity() * std::mem::size_of::<Chunk>()
    }

    /// See [`List::encoding`].
    fn encoding(&self) -> &'static str {
        if self.quicklist {
            "quicklist"
        } else {
            "listpack"
        }
    }

    // ----- internals -----

    #[inline]
    fn budget(&self) -> usize {
        self.chunk_bytes as usize
    }

    #[inline]
    fn max_entries(&self) -> usize {
        usize::from(self.max_entries)
    }

    /// Runs `f` on chunk `ci`, keeping `cap_bytes` up to date.
    #[inline]
    fn edit<R>(&mut self, ci: usize, f: impl FnOnce(&mut Chunk) -> R) -> R {
        let chunk = &mut self.chunks[ci];
        let before = chunk.buf.capacity();
        let r = f(chunk);
        let after = chunk.buf.capacity();
        self.cap_bytes = self.cap_bytes + after - before;
        r
    }

    /// Inserts `chunk` at position `ci` of the chunk table.
    fn add_chunk(&mut self, ci: usize, chunk: Chunk) {
        if self.chunks.capacity() == 0 {
            // Most lists are one chunk: don't let the table start at four.
            self.chunks.reserve_exact(1);
        }
        self.cap_bytes += chunk.buf.capacity();
        self.chunks.insert(ci, chunk);
    }

    /// Removes chunk `ci` from the table.
    fn drop_chunk(&mut self, ci: usize) -> Chunk {
        let chunk = self.chunks.remove(ci).expect("chunk index in range");
        self.cap_bytes -= chunk.buf.capacity();
        self.fit_deque();
        chunk
    }

    /// Shrinks the chunk table when it is mostly unused.
    fn fit_deque(&mut self) {
        let (n, cap) = (self.chunks.len(), self.chunks.capacity());
        if n == 0 {
            self.chunks = VecDeque::new();
        } else if cap > 2 && n * 4 <= cap {
            self.chunks.shrink_to(n * 2);
        }
    }

    /// Empties the list, freeing everything.
    fn clear(&mut self) {
        self.chunks = VecDeque::new();
        self.len = 0;
        self.cap_bytes = 0;
        self.quicklist = false;
    }

    /// (chunk, index in chunk) of element `index < len`, walking the chunk
    /// counts from the nearer end.
    fn locate(&self, index: usize) -> (usize, usize) {
        debug_assert!(index < self.len);
        if index < self.len / 2 {
            let mut i = index;
            for (ci, c) in self.chunks.iter().enumerate() {
                if i < c.count {
                    return (ci, i);
                }
                i -= c.count;
            }
        } else {
            let mut after = self.len - 1 - index;
            for (ci, c) in self.chunks.iter().enumerate().rev() {
                if after < c.count {
                    return (ci, c.count - 1 - after);
                }
                after -= c.count;
            }
        }
        unreachable!("chunk counts add up to len")
    }

    /// Before adding an element of `added` bytes: a listpack that would
    /// outgrow the limit becomes a quicklist (Redis's
    /// `listTypeTryConvertListpack`).
    fn note_growth(&mut self, added: usize) {
        if !self.quicklist {
            let lp: usize = self.chunks.iter().map(|c| c.lp).sum();
            let size = LP_OVERHEAD + lp + added;
            let (bytes, count) = self.node_limits();
            let exceeds = if bytes != usize::MAX {
                size > bytes
            } else {
                size > super::encoding::LIST_SIZE_SAFETY_LIMIT || self.len + 1 > count
            };
            if exceeds {
                self.quicklist = true;
            }
        }
    }

    /// The node limits the encoding follows: `list-max-listpack-size` now,
    /// as Redis reads the setting at each conversion (a list's chunks keep
    /// the limits it was created with, as a quicklist keeps its fill).
    fn node_limits(&self) -> (usize, usize) {
        super::encoding::list_node_limits(super::encoding::list_max_listpack_size())
    }

    /// After removing elements: a quicklist of one chunk at most half the
    /// limit becomes a listpack again (Redis's `listTypeTryConvertQuicklist`
    /// when shrinking), and so does an emptied list (Redis would delete the
    /// key, and a new one starts as a listpack).
    fn note_shrink(&mut self) {
        let (bytes, count) = self.node_limits();
        let small_single_chunk = self.chunks.len() == 1
            && LP_OVERHEAD + self.chunks[0].lp <= bytes / 2
            && self.len <= count / 2;
        if self.len == 0 || small_single_chunk {
            self.quicklist = false;
        }
    }

    fn push_front_raw(&mut self, value: &[u8]) {
        let e = entry_size(value.len());
        let lp = lp_entry_size(value);
        let (budget, max) = (self.budget(), self.max_entries());
        self.len += 1;
        if !self.chunks.is_empty() && self.edit(0, |c| c.try_push_front(value, e, lp, budget, max))
        {
            return;
        }
        self.add_chunk(0, Chunk::single(value, e, lp));
    }

    fn push_back_raw(&mut self, value: &[u8]) {
        let e = entry_size(value.len());
        let lp = lp_entry_size(value);
        let (budget, max) = (self.budget(), self.max_entries());
        self.len += 1;
        if let Some(last) = self.chunks.len().checked_sub(1) {
            if self.edit(last, |c| c.try_push_back(value, e, lp, budget, max)) {
                return;
            }
        }
        self.add_chunk(self.chunks.len(), Chunk::single(value, e, lp));
    }

    /// Inserts at `index <= len`, without the encoding bookkeeping.
    fn insert_raw(&mut self, index: usize, value: &[u8]) {
        if index == 0 {
            return self.push_front_raw(value);
        }
        if index == self.len {
            return self.push_back_raw(value);
        }
        let e = entry_size(value.len());
        let lp = lp_entry_size(value);
        let (budget, max) = (self.budget(), self.max_entries());
        // The new element goes just before the element now at `index`.
        let (ci, k) = self.locate(index);
        self.len += 1;
        if self.chunks[ci].accepts(e, budget, max) {
            self.edit(ci, |c| {
                let off = c.offset_of(k);
                c.insert_at(off, value, e, lp, budget);
            });
            return;
        }
        if k == 0 {
            // On a chunk boundary (ci > 0, since index > 0).
            if self.chunks[ci - 1].accepts(e, budget, max) {
                self.edit(ci - 1, |c| c.insert_at(c.buf.len(), value, e, lp, budget));
            } else {
                self.add_chunk(ci, Chunk::single(value, e, lp));
            }
            return;
        }
        // Split the full chunk at the insertion point, then put the value at
        // the end of the first part, the start of the second, or in between.
        let tail = self.edit(ci, |c| c.split_off(k));
        self.add_chunk(ci + 1, tail);
        if self.chunks[ci].accepts(e, budget, max) {
            self.edit(ci, |c| c.insert_at(c.buf.len(), value, e, lp, budget));
        } else if self.chunks[ci + 1].accepts(e, budget, max) {
            self.edit(ci + 1, |c| c.insert_at(c.start, value, e, lp, budget));
        } else {
            self.add_chunk(ci + 1, Chunk::single(value, e, lp));
        }
        self.tidy(ci, ci + 1);
    }

    /// Removes element `index < len`, without the encoding bookkeeping.
    fn remove_raw(&mut self, index: usize) -> Vec<u8> {
        let (ci, k) = self.locate(index);
        self.len -= 1;
        if self.chunks[ci].count == 1 {
            let chunk = self.drop_chunk(ci);
            if ci > 0 && ci < self.chunks.len() {
                // Chunks ci - 1 and ci are now neighbours.
                self.tidy(ci - 1, ci - 1);
            }
            return chunk.data_at(chunk.start).to_vec();
        }
        let value = self.edit(ci, |c| {
            let off = c.offset_of(k);
            let value = c.data_at(off).to_vec();
            c.delete_at(off);
            value
        });
        self.tidy(ci, ci);
        value
    }

    /// Drops the first `n` elements (`n <= len`).
    fn drop_front_n(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            let count = self.chunks[0].count;
            if count <= n {
                n -= count;
                self.drop_chunk(0);
            } else {
                self.chunks[0].drop_front(n);
                n = 0;
            }
        }
    }

    /// Drops the last `n` elements (`n <= len`).
    fn drop_back_n(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            let last = self.chunks.len() - 1;
            let count = self.chunks[last].count;
            if count <= n {
                n -= count;
                self.drop_chunk(last);
            } else {
                self.chunks[last].drop_back(n);
                n = 0;
            }
        }
    }

    /// Whether chunks `i` and `i + 1` should be merged: together they fit in
    /// three quarters of the budget (and the entry cap).
    fn mergeable(&self, i: usize) -> bool {
        let (a, b) = (&self.chunks[i], &self.chunks[i + 1]);
        let budget = self.budget();
        a.count + b.count <= self.max_entries() && a.live() + b.live() <= budget - budget / 4
    }

    /// Moves the entries of chunk `i + 1` to the end of chunk `i`.
    fn merge_next(&mut self, i: usize) {
        let next = self.chunks.remove(i + 1).expect("chunk index in range");
        self.cap_bytes -= next.buf.capacity();
        self.edit(i, |c| c.append(&next));
    }

    /// After an edit of chunks `lo..=hi`: merges neighbours from `lo - 1` to
    /// `hi + 1` that fit together, then shrinks mostly unused buffers.
    fn tidy(&mut self, lo: usize, hi: usize) {
        let Some(last) = self.chunks.len().checked_sub(1) else {
            return;
        };
        let mut i = lo.saturating_sub(1);
        let mut end = (hi + 1).min(last);
        while i < end {
            if self.mergeable(i) {
                self.merge_next(i);
                end -= 1;
            } else {
                i += 1;
            }
        }
        let last = self.chunks.len() - 1;
        let hi = hi.min(last);
        for ci in lo.min(hi)..=hi {
            self.edit(ci, Chunk::shrink_if_sparse);
        }
        self.fit_deque();
    }
}

/// Front-to-back iterator (see [`List::iter_from`]).
struct Iter<'a> {
    chunks: &'a VecDeque<Chunk>,
    /// Chunk of the next element.
    ci: usize,
    /// Offset of the next element in that chunk (may be its end, then the
    /// next element is the first of the next chunk).
    pos: usize,
    remaining: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        let chunks = self.chunks;
        let mut chunk = &chunks[self.ci];
        if self.pos == chunk.buf.len() {
            self.ci += 1;
            chunk = &chunks[self.ci];
            self.pos = chunk.start;
        }
        let (d, l, end) = read_entry(&chunk.buf, self.pos);
        self.pos = end;
        self.remaining -= 1;
        Some(&chunk.buf[d..d + l])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Iter<'_> {}
impl FusedIterator for Iter<'_> {}

/// Back-to-front iterator (see [`List::iter_rev_from`]).
struct RevIter<'a> {
    chunks: &'a VecDeque<Chunk>,
    /// Chunk of the next element.
    ci: usize,
    /// Offset just past the next element in that chunk (may be the chunk's
    /// `start`, then the next element is the last of the previous chunk).
    pos: usize,
    remaining: usize,
}

impl<'a> Iterator for RevIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        let chunks = self.chunks;
        let mut chunk = &chunks[self.ci];
        if self.pos == chunk.start {
            self.ci -= 1;
            chunk = &chunks[self.ci];
            self.pos = chunk.buf.len();
        }
        let s = prev_entry(&chunk.buf, self.pos);
        self.pos = s;
        self.remaining -= 1;
        Some(chunk.data_at(s))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for RevIter<'_> {}
impl FusedIterator for RevIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use std::time::Instant;

    /// Checks every invariant of the module documentation.
    fn check_invariants(list: &List) {
        let list = &*list.inner;
        let budget = list.budget();
        let mut total = 0;
        let mut caps = 0;
        for (ci, c) in list.chunks.iter().enumerate() {
            assert!(c.count > 0, "chunk {ci} is empty");
            assert!(c.start <= c.buf.len());
            // Forward walk: entries fill buf[start..] exactly.
            let mut p = c.start;
            let mut n = 0;
            let mut lp = 0;
            let mut starts = Vec::new();
            while p < c.buf.len() {
                starts.push(p);
                let (d, l, end) = read_entry(&c.buf, p);
                assert!(end <= c.buf.len());
                lp += lp_entry_size(&c.buf[d..d + l]);
                p = end;
                n += 1;
            }
            assert_eq!(p, c.buf.len(), "chunk {ci}: entries overrun");
            assert_eq!(n, c.count, "chunk {ci}: cached count");
            assert_eq!(lp, c.lp, "chunk {ci}: cached listpack size");
            // Backward walk finds the same entry starts.
            let mut end = c.buf.len();
            let mut back = Vec::new();
            while end > c.start {
                end = prev_entry(&c.buf, end);
                back.push(end);
            }
            back.reverse();
            assert_eq!(back, starts, "chunk {ci}: back-lengths");
            if c.count > 1 {
                assert!(
                    c.live() <= budget,
                    "chunk {ci}: {} live bytes over budget",
                    c.live()
                );
                assert!(c.count <= list.max_entries());
            }
            total += c.count;
            caps += c.buf.capacity();
        }
        assert_eq!(total, list.len, "counts add up to len");
        assert_eq!(caps, list.cap_bytes, "cached capacity total");
    }

    fn check_contents(list: &List, model: &VecDeque<Vec<u8>>) {
        assert_eq!(list.len(), model.len());
        let fwd: Vec<&[u8]> = list.iter_from(0).collect();
        let want: Vec<&[u8]> = model.iter().map(|v| &v[..]).collect();
        assert_eq!(fwd, want);
        if !model.is_empty() {
            let rev: Vec<&[u8]> = list.iter_rev_from(model.len() - 1).collect();
            let want_rev: Vec<&[u8]> = model.iter().rev().map(|v| &v[..]).collect();
            assert_eq!(rev, want_rev);
        }
        assert_eq!(
            list.iter_from(0).size_hint(),
            (model.len(), Some(model.len()))
        );
    }

    /// Deterministic bytes, so that long values need no per-byte strategy.
    fn pattern(seed: u8, n: usize) -> Vec<u8> {
        (0..n).map(|i| seed.wrapping_add((i % 251) as u8)).collect()
    }

    fn value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            3 => Just(Vec::new()),
            6 => prop::sample::select(vec![&b"a"[..], b"b", b"12", b"-5", b"hello", b"300"])
                .prop_map(<[u8]>::to_vec),
            5 => vec(any::<u8>(), 0..20),
            3 => (0u8..3).prop_map(|b| vec![b; 100]),
            1 => vec(any::<u8>(), 100),
            2 => (any::<u8>(), prop::sample::select(vec![125usize, 126, 127, 128, 129, 300, 16_383, 16_384]))
                .prop_map(|(b, n)| pattern(b, n)),
            1 => any::<u8>().prop_map(|b| pattern(b, 20 * 1024)),
        ]
    }

    #[derive(Clone, Debug)]
    enum Op {
        PushFront(Vec<u8>),
        PushBack(Vec<u8>),
        PopFront,
        PopBack,
        Get(usize),
        Set(usize, Vec<u8>),
        Insert(usize, Vec<u8>),
        Remove(usize),
        IterFrom(usize, usize),
        IterRevFrom(usize, usize),
        KeepRange(usize, usize),
        RemoveMatching(Vec<u8>, i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => value().prop_map(Op::PushFront),
            6 => value().prop_map(Op::PushBack),
            3 => Just(Op::PopFront),
            3 => Just(Op::PopBack),
            2 => any::<usize>().prop_map(Op::Get),
            3 => (any::<usize>(), value()).prop_map(|(i, v)| Op::Set(i, v)),
            4 => (any::<usize>(), value()).prop_map(|(i, v)| Op::Insert(i, v)),
            3 => any::<usize>().prop_map(Op::Remove),
            1 => (any::<usize>(), 0usize..8).prop_map(|(i, n)| Op::IterFrom(i, n)),
            1 => (any::<usize>(), 0usize..8).prop_map(|(i, n)| Op::IterRevFrom(i, n)),
            1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::KeepRange(a, b)),
            2 => (value(), -3i64..=3).prop_map(|(v, n)| Op::RemoveMatching(v, n)),
        ]
    }

    fn limits() -> impl Strategy<Value = (usize, usize)> {
        (
            prop::sample::select(vec![1usize, 8, 16, 40, 64, 100, 256, 1024, 8192]),
            prop::sample::select(vec![1usize, 2, 3, 4, 7, 16, 1024]),
        )
    }

    fn apply(list: &mut List, model: &mut VecDeque<Vec<u8>>, op: &Op) {
        let len = model.len();
        match op {
            Op::PushFront(v) => {
                list.push_front(v);
                model.push_front(v.clone());
            }
            Op::PushBack(v) => {
                list.push_back(v);
                model.push_back(v.clone());
            }
            Op::PopFront => assert_eq!(list.pop_front(), model.pop_front()),
            Op::PopBack => assert_eq!(list.pop_back(), model.pop_back()),
            Op::Get(i) => {
                let i = i % (len + 2);
                assert_eq!(list.get(i), model.get(i).map(|v| &v[..]));
            }
            Op::Set(i, v) => {
                let i = i % (len + 2);
                let ok = i < len;
                assert_eq!(list.set(i, v), ok);
                if ok {
                    model[i] = v.clone();
                }
            }
            Op::Insert(i, v) => {
                let i = i % (len + 1);
                list.insert(i, v);
                model.insert(i, v.clone());
            }
            Op::Remove(i) => {
                let i = i % (len + 2);
                assert_eq!(list.remove(i), model.remove(i));
            }
            Op::IterFrom(i, n) => {
                let i = i % (len + 2);
                let got: Vec<&[u8]> = list.iter_from(i).take(*n).collect();
                let want: Vec<&[u8]> = model.iter().skip(i).take(*n).map(|v| &v[..]).collect();
                assert_eq!(got, want);
                assert_eq!(list.iter_from(i).count(), len.saturating_sub(i));
            }
            Op::IterRevFrom(i, n) => {
                let i = i % (len + 2);
                let got: Vec<&[u8]> = list.iter_rev_from(i).take(*n).collect();
                let skip = len.saturating_sub(i + 1);
                let want: Vec<&[u8]> = model
                    .iter()
                    .rev()
                    .skip(skip)
                    .take(*n)
                    .map(|v| &v[..])
                    .collect();
                assert_eq!(got, want);
            }
            Op::KeepRange(a, b) => {
                if len > 0 {
                    let (a, b) = (a % len, b % len);
                    let (s, e) = (a.min(b), a.max(b));
                    list.keep_range(s, e);
                    model.truncate(e + 1);
                    model.drain(..s);
                }
            }
            Op::RemoveMatching(v, count) => {
                let limit = if *count == 0 {
                    usize::MAX
                } else {
                    count.unsigned_abs() as usize
                };
                let mut removed = 0;
                if *count >= 0 {
                    let mut i = 0;
                    while i < model.len() && removed < limit {
                        if model[i] == *v {
                            model.remove(i);
                            removed += 1;
                        } else {
                            i += 1;
                        }
                    }
                } else {
                    let mut i = model.len();
                    while i > 0 && removed < limit {
                        i -= 1;
                        if model[i] == *v {
                            model.remove(i);
                            removed += 1;
                        }
                    }
                }
                assert_eq!(list.remove_matching(v, *count), removed);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn matches_vecdeque_model((chunk_bytes, max_entries) in limits(), ops in vec(op(), 1..250)) {
            let mut list = List::with_limits(chunk_bytes, max_entries);
            let mut model = VecDeque::new();
            for op in &ops {
                apply(&mut list, &mut model, op);
                check_invariants(&list);
                check_contents(&list, &model);
                let enc = list.encoding();
                prop_assert!(enc == "listpack" || enc == "quicklist");
                prop_assert!(list.heap_bytes() >= list.inner.cap_bytes);
            }
            let copy = list.clone();
            check_invariants(&copy);
            prop_assert_eq!(&copy, &list);
            // Same elements, different chunking: still equal.
            let mut other = List::new();
            for v in &model {
                other.push_back(v);
            }
            prop_assert_eq!(&other, &list);
        }

        #[test]
        fn default_limits_match_model(ops in vec(op(), 1..400)) {
            let mut list = List::new();
            let mut model = VecDeque::new();
            for op in &ops {
                apply(&mut list, &mut model, op);
                check_invariants(&list);
                check_contents(&list, &model);
            }
        }
    }

    #[test]
    fn entry_encoding_round_trips_at_varint_boundaries() {
        for len in [
            0usize,
            1,
            125,
            126,
            127,
            128,
            129,
            16_381,
            16_382,
            16_383,
            16_384,
            16_385,
            1 << 20,
        ] {
            let value = pattern(7, len);
            let mut buf = vec![0xee; 3];
            append_entry(&mut buf, &value);
            assert_eq!(buf.len(), 3 + entry_size(len), "len {len}");
            let (d, l, end) = read_entry(&buf, 3);
            assert_eq!((&buf[d..d + l], end), (&value[..], buf.len()));
            assert_eq!(prev_entry(&buf, buf.len()), 3);
            let mut out = vec![0; entry_size(len)];
            write_entry(&mut out, &value);
            assert_eq!(out, buf[3..]);
        }
        assert_eq!(entry_size(16), 18);
    }

    #[test]
    fn redis_integer_parsing() {
        assert_eq!(redis_i64(b"0"), Some(0));
        assert_eq!(redis_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(redis_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(redis_i64(b"9223372036854775808"), None);
        for bad in [&b""[..], b"-", b"-0", b"01", b"+1", b" 1", b"1 ", b"1a"] {
            assert_eq!(redis_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(lp_entry_size(b"5"), 2);
        assert_eq!(lp_entry_size(b"-100"), 3);
        assert_eq!(lp_entry_size(b"30000"), 4);
        assert_eq!(lp_entry_size(b"abc"), 5);
        assert_eq!(lp_entry_size(&[b'x'; 100]), 103);
        assert_eq!(lp_entry_size(&[b'x'; 5000]), 5007);
    }

    #[test]
    fn encoding_follows_redis_thresholds() {
        let v = [b'x'; 100]; // 103 bytes in a listpack
        let mut list = List::new();
        for _ in 0..79 {
            list.push_back(&v);
        }
        // 7 + 79 * 103 = 8144; one more would be checked as 8144 + 100 > 8192.
        assert_eq!(list.encoding(), "listpack");
        list.push_back(&v);
        assert_eq!(list.encoding(), "quicklist");
        // Back down: stays a quicklist until 7 + n * 103 <= 4096, n = 39.
        while list.len() > 40 {
            list.pop_back();
            assert_eq!(list.encoding(), "quicklist");
        }
        list.pop_front();
        assert_eq!(list.len(), 39);
        assert_eq!(list.encoding(), "listpack");
        // Many small elements are fine, unlike the hash rule (128 entries).
        let mut small = List::new();
        for i in 0..1000 {
            small.push_back(format!("{i}").as_bytes());
        }
        assert_eq!(small.encoding(), "listpack");
        // One big element makes a quicklist at once.
        let mut big = List::new();
        big.push_back(&[0; 9000]);
        assert_eq!(big.encoding(), "quicklist");
        big.set(0, b"small");
        assert_eq!(big.encoding(), "listpack");
        big.pop_back();
        assert!(big.is_empty());
        assert_eq!(big.encoding(), "listpack");
    }

    #[test]
    fn large_values() {
        let big = pattern(3, 1 << 20);
        let mut list = List::new();
        for i in 0..2000u32 {
            list.push_back(&i.to_le_bytes());
        }
        list.insert(1000, &big);
        list.insert(0, &big);
        list.push_front(&big);
        list.push_back(&big);
        check_invariants(&list);
        assert_eq!(list.get(1002), Some(&big[..]));
        assert_eq!(list.get(1003), Some(&1000u32.to_le_bytes()[..]));
        assert!(list.set(5, &big));
        assert!(list.set(1002, b""));
        check_invariants(&list);
        assert_eq!(
            list.iter_from(0).filter(|v| v.len() == big.len()).count(),
            4
        );
        assert_eq!(list.remove_matching(&big, 0), 4);
        assert_eq!(list.len(), 2000);
        check_invariants(&list);
        assert_eq!(list.remove(999), Some(Vec::new()));
        let want: Vec<Vec<u8>> = (0..2000u32)
            .filter(|&i| i != 3)
            .map(|i| i.to_le_bytes().to_vec())
            .collect();
        assert_eq!(
            list.iter_from(0).map(<[u8]>::to_vec).collect::<Vec<_>>(),
            want
        );
    }

    #[test]
    fn extreme_arguments() {
        let mut list = List::with_limits(16, 4);
        for i in 0..50u8 {
            list.push_back(&[i]);
        }
        assert_eq!(list.get(usize::MAX), None);
        assert!(!list.set(usize::MAX, b"x"));
        assert_eq!(list.remove(usize::MAX), None);
        assert_eq!(list.iter_from(usize::MAX).count(), 0);
        assert_eq!(list.iter_from(50).count(), 0);
        assert_eq!(list.iter_rev_from(usize::MAX).next(), Some(&[49u8][..]));
        assert_eq!(list.iter_rev_from(0).collect::<Vec<_>>(), vec![&[0u8][..]]);
        list.insert(usize::MAX, b"end");
        assert_eq!(list.get(50), Some(&b"end"[..]));
        assert_eq!(list.remove_matching(b"end", i64::MIN), 1);
        assert_eq!(list.remove_matching(&[7], i64::MAX), 1);
        list.keep_range(0, usize::MAX);
        assert_eq!(list.len(), 49);
        list.keep_range(10, 5);
        assert!(list.is_empty());
        assert_eq!(list.pop_front(), None);
        assert_eq!(list.pop_back(), None);
        assert_eq!(list.iter_rev_from(0).count(), 0);
        list.push_back(b"a");
        list.keep_range(usize::MAX, usize::MAX);
        assert!(list.is_empty());
        check_invariants(&list);
        let mut empty = List::new();
        empty.push_front(b"");
        empty.push_back(b"");
        assert_eq!(empty.iter_from(0).collect::<Vec<_>>(), vec![&b""[..]; 2]);
        assert_eq!(empty.remove_matching(b"", 0), 2);
        assert!(empty.is_empty());
    }

    #[test]
    fn small_footprint() {
        // One pointer, so a value enum holding a List stays small.
        assert_eq!(std::mem::size_of::<List>(), std::mem::size_of::<usize>());
        let mut list = List::new();
        list.push_back(&[b'x'; 16]);
        println!("one 16-byte element: {} heap bytes", list.heap_bytes());
        assert!(list.heap_bytes() <= std::mem::size_of::<Inner>() + 48 + 18);
        // A queue drained back to one element gives its memory back.
        for i in 0..10_000u32 {
            list.push_back(&i.to_le_bytes());
        }
        while list.len() > 1 {
            list.pop_front();
        }
        println!(
            "drained to one: {} heap bytes (table cap {}, chunk caps {:?})",
            list.heap_bytes(),
            list.inner.chunks.capacity(),
            list.inner
                .chunks
                .iter()
                .map(|c| (c.buf.capacity(), c.live()))
                .collect::<Vec<_>>()
        );
        assert!(list.heap_bytes() < 256, "{}", list.heap_bytes());
        for i in 0..10_000u32 {
            list.push_front(&i.to_le_bytes());
        }
        while list.len() > 1 {
            list.pop_back();
        }
        assert!(list.heap_bytes() < 256, "{}", list.heap_bytes());
        check_invariants(&list);
    }

    #[test]
    fn debug_and_equality() {
        let mut a = List::new();
        a.push_back(b"a\"b");
        a.push_back(&[0, 255]);
        assert_eq!(format!("{a:?}"), r#"[b"a\"b", b"\x00\xff"]"#);
        let mut b = List::with_limits(8, 1);
        b.push_front(&[0, 255]);
        b.push_front(b"a\"b");
        assert_eq!(a, b);
        b.set(1, b"z");
        assert_ne!(a, b);
        assert_eq!(List::default(), List::new());
    }

    /// Pushes 1M 16-byte elements and pops them all from the other end.
    fn fifo(n: usize, lifo_ends: bool) -> (f64, std::time::Duration, std::time::Duration) {
        let mut list = List::new();
        let t = Instant::now();
        for i in 0..n {
            let v = format!("{i:016}");
            if lifo_ends {
                list.push_front(v.as_bytes());
            } else {
                list.push_back(v.as_bytes());
            }
        }
        let push = t.elapsed();
        assert_eq!(list.len(), n);
        let per = list.heap_bytes() as f64 / n as f64;
        let t = Instant::now();
        for i in 0..n {
            let v = if lifo_ends {
                list.pop_back()
            } else {
                list.pop_front()
            };
            assert_eq!(v.as_deref(), Some(format!("{i:016}").as_bytes()));
        }
        let pop = t.elapsed();
        assert!(list.is_empty());
        assert_eq!(list.heap_bytes(), std::mem::size_of::<Inner>());
        (per, push, pop)
    }

    #[test]
    fn million_element_fifo_queue() {
        let (per, push, pop) = fifo(1_000_000, false);
        println!("RPUSH/LPOP 1M x 16 B: {per:.2} heap bytes/element, push {push:?}, pop {pop:?}");
        assert!(per < 19.0, "{per} bytes/element");
        let (per, push, pop) = fifo(1_000_000, true);
        println!("LPUSH/RPOP 1M x 16 B: {per:.2} heap bytes/element, push {push:?}, pop {pop:?}");
        assert!(per < 19.0, "{per} bytes/element");
    }

    /// Timing only (run with `--release --ignored --nocapture`).
    #[test]
    #[ignore]
    fn timing_1m_push_pop() {
        let n = 1_000_000;
        let values: Vec<[u8; 16]> = (0..n)
            .map(|i: usize| {
                let mut v = [0u8; 16];
                v.copy_from_slice(format!("{i:016}").as_bytes());
                v
            })
            .collect();
        for round in 0..3 {
            let mut list = List::new();
            let t = Instant::now();
            for v in &values {
                list.push_back(v);
            }
            let push = t.elapsed();
            let per = list.heap_bytes() as f64 / n as f64;
            let t = Instant::now();
            let mut sum = 0;
            while let Some(v) = list.pop_front() {
                sum += v.len();
            }
            let pop = t.elapsed();
            assert_eq!(sum, 16 * n);
            let t = Instant::now();
            for v in &values {
                list.push_front(v);
            }
            let lpush = t.elapsed();
            let t = Instant::now();
            while let Some(v) = list.pop_back() {
                sum -= v.len();
            }
            let rpop = t.elapsed();
            assert_eq!(sum, 0);
            let mut base: VecDeque<Vec<u8>> = VecDeque::new();
            let t = Instant::now();
            for v in &values {
                base.push_back(v.to_vec());
            }
            let base_push = t.elapsed();
            let t = Instant::now();
            while base.pop_front().is_some() {}
            let base_pop = t.elapsed();
            println!(
                "round {round}: {per:.2} B/elem; RPUSH {push:?} LPOP {pop:?} LPUSH {lpush:?} RPOP {rpop:?} \
                 (VecDeque<Vec<u8>>: push {base_push:?} pop {base_pop:?})"
            );
        }
    }
}
