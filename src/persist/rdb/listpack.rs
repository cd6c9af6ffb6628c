//! Listpack: Redis's packed list of strings and integers (`listpack.c`), the
//! blob behind small hashes, sets and sorted sets, list nodes and stream
//! nodes since RDB 10.
//!
//! Layout: `total-bytes u32 LE | count u16 LE (65535: unknown) | entries |
//! 0xFF`. An entry is `encoding [data] backlen`, where backlen is the size
//! of `encoding [data]` in 1-5 bytes readable from right to left.
//!
//! Invariants kept here:
//! - the reader checks each entry before using it, exactly as Redis's
//!   `lpValidateNext` (encoding known, entry inside the blob and before the
//!   terminator, backlen matching) and, at the end, that the terminator is
//!   the last byte and the header's count is right: it never reads out of
//!   bounds and never panics on any input;
//! - the builder encodes as `lpAppend`: a string that is a canonical integer
//!   is stored as an integer in the smallest encoding, anything else as a
//!   string with the smallest length prefix, so blobs match Redis's.

use super::error::BlobError;
use super::number::{format_i64, parse_i64_strict};

/// Header: total bytes (4) and element count (2).
pub const HEADER_SIZE: usize = 6;
/// The count field's "too many to say" value.
pub const COUNT_UNKNOWN: u16 = u16::MAX;
const EOF: u8 = 0xFF;

/// One element of a listpack or ziplist, borrowed from the blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl Elem<'_> {
    /// The element as bytes (an integer in decimal).
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Elem::Str(s) => s.to_vec(),
            Elem::Int(v) => format_i64(v),
        }
    }

    /// The element as an integer: an integer element, or a string in strict
    /// integer form (`lpGetIntegerIfValid`).
    pub fn as_int(self) -> Option<i64> {
        match self {
            Elem::Int(v) => Some(v),
            Elem::Str(s) => parse_i64_strict(s),
        }
    }
}

/// A listpack whose header has been checked.
#[derive(Debug, Clone, Copy)]
pub struct Listpack<'a> {
    data: &'a [u8],
}

impl<'a> Listpack<'a> {
    /// Check the header: size field equals the blob size, last byte is the
    /// terminator (`lpValidateIntegrity`, shallow part).
    pub fn new(data: &'a [u8]) -> Result<Listpack<'a>, BlobError> {
        if data.len() < HEADER_SIZE + 1 {
            return Err(BlobError::new(0, "listpack shorter than its header"));
        }
        let total = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
        if total != data.len() {
            return Err(BlobError::new(
                0,
                format!(
                    "listpack header says {total} bytes, blob has {}",
                    data.len()
                ),
            ));
        }
        if data[data.len() - 1] != EOF {
            return Err(BlobError::new(
                data.len() - 1,
                "listpack does not end with 0xFF",
            ));
        }
        Ok(Listpack { data })
    }

    /// The count in the header, unless it is "unknown".
    pub fn header_count(&self) -> Option<usize> {
        let c = u16::from_le_bytes([self.data[4], self.data[5]]);
        (c != COUNT_UNKNOWN).then_some(c as usize)
    }

    pub fn is_empty(&self) -> bool {
        self.data[HEADER_SIZE] == EOF
    }

    pub fn iter(&self) -> Iter<'a> {
        Iter {
            data: self.data,
            pos: HEADER_SIZE,
            seen: 0,
            done: false,
        }
    }

    /// Walk every entry (`lpValidateIntegrity`, deep): the number of
    /// elements, or the first problem.
    pub fn validate(&self) -> Result<usize, BlobError> {
        let mut n = 0;
        for e in self.iter() {
            e?;
            n += 1;
        }
        Ok(n)
    }
}

/// Elements of a listpack, checked one by one. After an error it ends.
pub struct Iter<'a> {
    data: &'a [u8],
    pos: usize,
    seen: usize,
    done: bool,
}

impl<'a> Iter<'a> {
    /// Offset of the next entry inside the blob.
    pub fn offset(&self) -> usize {
        self.pos
    }

    fn fail<T>(&mut self, at: usize, msg: impl Into<String>) -> Option<Result<T, BlobError>> {
        self.done = true;
        Some(Err(BlobError::new(at, msg)))
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = Result<Elem<'a>, BlobError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let data = self.data;
        let p = self.pos;
        // Index of the terminator: every entry must end at or before it.
        let last = data.len() - 1;
        if p > last {
            return self.fail(p, "listpack entry past the end");
        }
        if data[p] == EOF {
            self.done = true;
            if p != last {
                return Some(Err(BlobError::new(
                    p,
                    "0xFF before the end of the listpack",
                )));
            }
            let count = u16::from_le_bytes([data[4], data[5]]);
            if count != COUNT_UNKNOWN && count as usize != self.seen {
                return Some(Err(BlobError::new(
                    4,
                    format!("listpack header count {count}, but {} elements", self.seen),
                )));
            }
            return None;
        }
        let b = data[p];
        // Bytes of encoding and length prefix.
        let head = match b {
            0x00..=0xBF => 1,
            0xC0..=0xDF => 1,
            0xE0..=0xEF => 2,
            0xF0 => 5,
            0xF1..=0xF4 => 1,
            _ => return self.fail(p, format!("invalid listpack entry encoding 0x{b:02x}")),
        };
        if p + head > last {
            return self.fail(p, "listpack entry header past the end");
        }
        // Size of encoding + data, and the element.
        let (size, elem): (u64, Option<Elem<'a>>) = match b {
            0x00..=0x7F => (1, Some(Elem::Int(b as i64))),
            0x80..=0xBF => (1 + (b & 0x3F) as u64, None),
            0xC0..=0xDF => (2, None),
            0xE0..=0xEF => (2 + ((((b & 0x0F) as u64) << 8) | data[p + 1] as u64), None),
            0xF0 => (
                5 + u32::from_le_bytes([data[p + 1], data[p + 2], data[p + 3], data[p + 4]]) as u64,
                None,
            ),
            0xF1 => (3, None),
            0xF2 => (4, None),
            0xF3 => (5, None),
            _ => (9, None), // 0xF4
        };
        let bl = backlen_size(size) as u64;
        let end = p as u64 + size + bl;
        if end > last as u64 {
            return self.fail(
                p,
                format!("listpack entry of {size} bytes reaches past the end"),
            );
        }
        let end = end as usize;
        let body = &data[p..p + size as usize];
        let elem = match elem {
            Some(e) => e,
            None => match b {
                0x80..=0xBF => Elem::Str(&body[1..]),
                0xC0..=0xDF => Elem::Int(signed((((b & 0x1F) as u64) << 8) | body[1] as u64, 13)),
                0xE0..=0xEF => Elem::Str(&body[2..]),
                0xF0 => Elem::Str(&body[5..]),
                0xF1 => Elem::Int(signed(le(&body[1..3]), 16)),
                0xF2 => Elem::Int(signed(le(&body[1..4]), 24)),
                0xF3 => Elem::Int(signed(le(&body[1..5]), 32)),
                _ => Elem::Int(le(&body[1..9]) as i64),
            },
        };
        // The backlen, read right to left as lpDecodeBacklen does.
        match decode_backlen(data, end - 1) {
            Some(v) if v == size => {}
            _ => return self.fail(p, "listpack entry backlen does not match its size"),
        }
        self.pos = end;
        self.seen += 1;
        Some(Ok(elem))
    }
}

/// Little-endian unsigned integer of up to 8 bytes.
fn le(b: &[u8]) -> u64 {
    b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | x as u64)
}

/// Two's complement of a `bits`-wide field.
fn signed(u: u64, bits: u32) -> i64 {
    if u >= 1 << (bits - 1) {
        (u as i64) - (1i64 << bits)
    } else {
        u as i64
    }
}

/// The backlen whose last byte is `data[i]`; None past 5 bytes or the start.
fn decode_backlen(data: &[u8], mut i: usize) -> Option<u64> {
    let mut val = 0u64;
    let mut shift = 0;
    loop {
        let b = data[i];
        val |= ((b & 127) as u64) << shift;
        if b & 128 == 0 {
            return Some(val);
        }
        shift += 7;
        if shift > 28 || i == 0 {
            return None;
        }
        i -= 1;
    }
}

/// Bytes lpEncodeBacklen uses for an entry of `l` bytes.
pub fn backlen_size(l: u64) -> usize {
    if l <= 127 {
        1
    } else if l < 16383 {
        2
    } else if l < 2097151 {
        3
    } else if l < 268435455 {
        4
    } else {
        5
    }
}

fn write_backlen(out: &mut Vec<u8>, l: u64) {
    let n = backlen_size(l);
    // Most significant group first; every byte but the first has the high
    // bit, which tells a right-to-left reader to go on.
    for i in (0..n).rev() {
        let group = ((l >> (7 * i)) & 127) as u8;
        out.push(if i == n - 1 { group } else { group | 128 });
    }
    // For n == 1 the loop pushed the single group without the high bit.
}

/// Bytes of encoding + data for an integer.
pub fn int_encoded_size(v: i64) -> usize {
    match v {
        0..=127 => 1,
        -4096..=4095 => 2,
        -32768..=32767 => 3,
        -8388608..=8388607 => 4,
        -2147483648..=2147483647 => 5,
        _ => 9,
    }
}

/// Bytes of encoding + data for a string stored as a string.
pub fn str_encoded_size(len: usize) -> usize {
    if len < 64 {
        1 + len
    } else if len < 4096 {
        2 + len
    } else {
        5 + len
    }
}

/// Whole size of the entry `lpAppend(s)` adds, backlen included.
pub fn entry_size(s: &[u8]) -> usize {
    let enc = match parse_i64_strict(s) {
        Some(v) => int_encoded_size(v),
        None => str_encoded_size(s.len()),
    };
    enc + backlen_size(enc as u64)
}

/// Whole size of the entry `lpAppendInteger(v)` adds.
pub fn int_entry_size(v: i64) -> usize {
    let enc = int_encoded_size(v);
    enc + backlen_size(enc as u64)
}

/// Builds a listpack as successive `lpAppend` calls would.
#[derive(Debug, Clone)]
pub struct ListpackBuilder {
    buf: Vec<u8>,
    count: usize,
}

impl Default for ListpackBuilder {
    fn default() -> Self {
        ListpackBuilder::new()
    }
}

impl ListpackBuilder {
    pub fn new() -> ListpackBuilder {
        ListpackBuilder {
            buf: vec![0; HEADER_SIZE],
            count: 0,
        }
    }

    /// Start again, keeping the buffer.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.buf.resize(HEADER_SIZE, 0);
        self.count = 0;
    }

    /// Elements so far.
    pub fn count(&self) -> usize {
        self.count
    }

    /// `lpBytes` of the listpack as it stands (with its terminator).
    pub fn bytes(&self) -> usize {
        self.buf.len() + 1
    }

    /// Entries so far, without header or terminator.
    pub fn entries(&self) -> &[u8] {
        &self.buf[HEADER_SIZE..]
    }

    /// `lpAppend`: an integer if the string is one in canonical form.
    pub fn push(&mut self, s: &[u8]) {
        match parse_i64_strict(s) {
            Some(v) => self.push_int(v),
            None => self.push_str(s),
        }
    }

    /// `lpAppendInteger`.
    pub fn push_int(&mut self, v: i64) {
        let start = self.buf.len();
        let u = v as u64;
        match int_encoded_size(v) {
            1 => self.buf.push(v as u8),
            2 => {
                let x = u & 0x1FFF;
                self.buf.push(0xC0 | (x >> 8) as u8);
                self.buf.push(x as u8);
            }
            3 => {
                self.buf.push(0xF1);
                self.buf.extend_from_slice(&u.to_le_bytes()[..2]);
            }
            4 => {
                self.buf.push(0xF2);
                self.buf.extend_from_slice(&u.to_le_bytes()[..3]);
            }
            5 => {
                self.buf.push(0xF3);
                self.buf.extend_from_slice(&u.to_le_bytes()[..4]);
            }
            _ => {
                self.buf.push(0xF4);
                self.buf.extend_from_slice(&u.to_le_bytes());
            }
        }
        let size = (self.buf.len() - start) as u64;
        write_backlen(&mut self.buf, size);
        self.count += 1;
    }

    /// A string entry, never integer-encoded.
    pub fn push_str(&mut self, s: &[u8]) {
        let start = self.buf.len();
        let len = s.len();
        if len < 64 {
            self.buf.push(0x80 | len as u8);
        } else if len < 4096 {
            self.buf.push(0xE0 | (len >> 8) as u8);
            self.buf.push(len as u8);
        } else {
            self.buf.push(0xF0);
            self.buf.extend_from_slice(&(len as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(s);
        let size = (self.buf.len() - start) as u64;
        write_backlen(&mut self.buf, size);
        self.count += 1;
    }

    /// Append entries already encoded by another builder (`count` of them).
    pub fn extend_encoded(&mut self, entries: &[u8], count: usize) {
        self.buf.extend_from_slice(entries);
        self.count += count;
    }

    /// The finished listpack. Call [`clear`](Self::clear) before pushing
    /// again.
    pub fn finish(&mut self) -> &[u8] {
        self.buf.push(EOF);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let count = self.count.min(COUNT_UNKNOWN as usize) as u16;
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        &self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(items: &[&[u8]]) -> Vec<u8> {
        let mut b = ListpackBuilder::new();
        for i in items {
            b.push(i);
        }
        b.finish().to_vec()
    }

    fn read(data: &[u8]) -> Result<Vec<Vec<u8>>, BlobError> {
        Listpack::new(data)?
            .iter()
            .map(|e| e.map(Elem::to_vec))
            .collect()
    }

    #[test]
    fn empty_listpack_is_seven_bytes() {
        let lp = build(&[]);
        assert_eq!(lp, [7, 0, 0, 0, 0, 0, 0xFF]);
        assert!(Listpack::new(&lp).unwrap().is_empty());
        assert_eq!(read(&lp).unwrap(), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn every_integer_width_round_trips_with_exact_bytes() {
        // (value, expected encoding + data bytes; backlen follows)
        let cases: &[(i64, &[u8])] = &[
            (0, &[0x00]),
            (127, &[0x7F]),
            (128, &[0xC0, 0x80]),
            (-1, &[0xDF, 0xFF]),
            (4095, &[0xCF, 0xFF]),
            (-4096, &[0xD0, 0x00]),
            (4096, &[0xF1, 0x00, 0x10]),
            (-32768, &[0xF1, 0x00, 0x80]),
            (32767, &[0xF1, 0xFF, 0x7F]),
            (32768, &[0xF2, 0x00, 0x80, 0x00]),
            (-8388608, &[0xF2, 0x00, 0x00, 0x80]),
            (8388608, &[0xF3, 0x00, 0x00, 0x80, 0x00]),
            (i32::MIN as i64, &[0xF3, 0x00, 0x00, 0x00, 0x80]),
            (i32::MAX as i64 + 1, &[0xF4, 0, 0, 0, 0x80, 0, 0, 0, 0]),
            (
                i64::MAX,
                &[0xF4, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],
            ),
            (i64::MIN, &[0xF4, 0, 0, 0, 0, 0, 0, 0, 0x80]),
        ];
        for (v, enc) in cases {
            let text = v.to_string();
            let lp = build(&[text.as_bytes()]);
            let mut want = enc.to_vec();
            want.push(enc.len() as u8);
            assert_eq!(&lp[6..lp.len() - 1], &want[..], "{v}");
            let lpv = Listpack::new(&lp).unwrap();
            assert_eq!(lpv.iter().next().unwrap().unwrap(), Elem::Int(*v));
            assert_eq!(int_entry_size(*v), want.len());
        }
    }

    #[test]
    fn strings_use_6_12_and_32_bit_lengths() {
        for len in [0usize, 1, 63, 64, 4095, 4096, 20000] {
            let s = vec![b'x'; len];
            let lp = build(&[&s]);
            let head = &lp[6..];
            match len {
                0..=63 => assert_eq!(head[0], 0x80 | len as u8),
                64..=4095 => {
                    assert_eq!(head[0], 0xE0 | (len >> 8) as u8);
                    assert_eq!(head[1], len as u8);
                }
                _ => {
                    assert_eq!(head[0], 0xF0);
                    assert_eq!(&head[1..5], &(len as u32).to_le_bytes());
                }
            }
            assert_eq!(lp.len(), 6 + entry_size(&s) + 1, "{len}");
            assert_eq!(read(&lp).unwrap(), vec![s]);
        }
    }

    #[test]
    fn backlen_sizes_and_bytes() {
        // 127 fits one byte; 128 needs two: 0x01 then 0x80 (low 7 bits with
        // the "more to the left" bit).
        let mut v = Vec::new();
        write_backlen(&mut v, 127);
        assert_eq!(v, [127]);
        v.clear();
        write_backlen(&mut v, 128);
        assert_eq!(v, [0x01, 0x80]);
        v.clear();
        write_backlen(&mut v, 16383);
        assert_eq!(v, [0x00, 0xFF, 0xFF]);
        for (l, n) in [
            (127, 1),
            (128, 2),
            (16382, 2),
            (16383, 3),
            (2097150, 3),
            (2097151, 4),
        ] {
            assert_eq!(backlen_size(l), n, "{l}");
            let mut b = Vec::new();
            write_backlen(&mut b, l);
            assert_eq!(b.len(), n);
            assert_eq!(decode_backlen(&b, b.len() - 1), Some(l));
        }
        // A string whose entry crosses the 127-byte backlen boundary.
        let s = vec![b'a'; 126]; // 2 + 126 = 128 bytes of entry: 2-byte backlen
        let lp = build(&[&s, b"z"]);
        assert_eq!(read(&lp).unwrap(), vec![s, b"z".to_vec()]);
    }

    #[test]
    fn non_canonical_integers_stay_strings() {
        let items: Vec<&[u8]> = vec![b"-0", b"007", b"+5", b" 1", b"9223372036854775808", b"1.5"];
        let lp = build(&items);
        let got = read(&lp).unwrap();
        assert_eq!(got, items.iter().map(|s| s.to_vec()).collect::<Vec<_>>());
        for e in Listpack::new(&lp).unwrap().iter() {
            assert!(matches!(e.unwrap(), Elem::Str(_)));
        }
    }

    #[test]
    fn count_over_65535_is_unknown_in_header() {
        let mut b = ListpackBuilder::new();
        for _ in 0..70000 {
            b.push_int(1);
        }
        let lp = b.finish().to_vec();
        assert_eq!(&lp[4..6], &[0xFF, 0xFF]);
        let l = Listpack::new(&lp).unwrap();
        assert_eq!(l.header_count(), None);
        assert_eq!(l.validate().unwrap(), 70000);
    }

    #[test]
    fn corruptions_are_errors() {
        let good = build(&[b"hello", b"12", b"world"]);
        // Wrong total size.
        let mut bad = good.clone();
        bad[0] += 1;
        assert!(Listpack::new(&bad).is_err());
        // Missing terminator.
        let mut bad = good.clone();
        *bad.last_mut().unwrap() = 0;
        assert!(Listpack::new(&bad).is_err());
        // Wrong count.
        let mut bad = good.clone();
        bad[4] = 2;
        assert!(read(&bad).is_err());
        // Bad backlen.
        let mut bad = good.clone();
        bad[6 + 6] = 9;
        assert!(read(&bad).is_err());
        // String length past the end.
        let mut bad = good.clone();
        bad[6] = 0xBF;
        assert!(read(&bad).is_err());
        // Unused encoding.
        let mut bad = good.clone();
        bad[6] = 0xF5;
        assert!(read(&bad).is_err());
        // Every truncation and every single-byte change: no panic.
        for i in 0..good.len() {
            let _ = Listpack::new(&good[..i]).map(|l| l.validate());
            for x in [0u8, 0x7F, 0x80, 0xC0, 0xE0, 0xF0, 0xF4, 0xFF] {
                let mut m = good.clone();
                m[i] = x;
                let _ = Listpack::new(&m).map(|l| l.validate());
            }
        }
    }
}
