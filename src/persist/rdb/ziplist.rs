//! Ziplist: the packed list Redis used before listpack (`ziplist.c`), found
//! in RDB files up to version 9 as list (10), zset (12) and hash (13) values
//! and as the nodes of quicklists (14). Read only: Redis 7 never writes it.
//!
//! Layout: `zlbytes u32 LE | zltail u32 LE | zllen u16 LE (65535: unknown) |
//! entries | 0xFF`. An entry is `prevlen encoding [data]`: prevlen is the
//! previous entry's size (1 byte, or 0xFE and 4 bytes LE), encoding is
//! `00llllll`, `01llllll llllllll` (big endian), `10______ +4 bytes` (big
//! endian) for strings, or 0xC0 i16, 0xD0 i32, 0xE0 i64, 0xF0 i24, 0xFE i8,
//! 0xF1..0xFD an immediate 0..12.
//!
//! Invariants kept here: the reader checks what `ziplistValidateIntegrity`
//! checks (sizes, each prevlen, the tail offset, the count, the terminator)
//! before handing out an element, so it never reads out of bounds and never
//! panics.

use super::error::BlobError;
use super::listpack::Elem;

const HEADER_SIZE: usize = 10;
const END: u8 = 0xFF;
const BIG_PREVLEN: u8 = 0xFE;

/// Elements of a ziplist, checked as they are read. After an error it ends.
pub struct Iter<'a> {
    data: &'a [u8],
    pos: usize,
    prev_size: usize,
    prev_start: Option<usize>,
    seen: usize,
    done: bool,
}

/// Check the header and return an iterator over the elements.
pub fn iter(data: &[u8]) -> Result<Iter<'_>, BlobError> {
    if data.len() < HEADER_SIZE + 1 {
        return Err(BlobError::new(0, "ziplist shorter than its header"));
    }
    let bytes = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
    if bytes != data.len() {
        return Err(BlobError::new(
            0,
            format!("ziplist header says {bytes} bytes, blob has {}", data.len()),
        ));
    }
    if data[data.len() - 1] != END {
        return Err(BlobError::new(
            data.len() - 1,
            "ziplist does not end with 0xFF",
        ));
    }
    let tail = u32::from_le_bytes([data[4], data[5], data[6], data[7]]) as usize;
    if tail > data.len() - 1 {
        return Err(BlobError::new(4, "ziplist tail offset past the end"));
    }
    Ok(Iter {
        data,
        pos: HEADER_SIZE,
        prev_size: 0,
        prev_start: None,
        seen: 0,
        done: false,
    })
}

impl<'a> Iter<'a> {
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
        let last = data.len() - 1;
        if data[p] == END {
            self.done = true;
            if p != last {
                return Some(Err(BlobError::new(p, "0xFF before the end of the ziplist")));
            }
            let tail = u32::from_le_bytes([data[4], data[5], data[6], data[7]]) as usize;
            if let Some(prev) = self.prev_start {
                if prev != tail {
                    return Some(Err(BlobError::new(
                        4,
                        "ziplist tail offset is not the last entry",
                    )));
                }
            }
            let count = u16::from_le_bytes([data[8], data[9]]);
            if count != u16::MAX && count as usize != self.seen {
                return Some(Err(BlobError::new(
                    8,
                    format!("ziplist header count {count}, but {} elements", self.seen),
                )));
            }
            return None;
        }
        // prevlen
        let (prevlen_size, prevlen) = if data[p] < BIG_PREVLEN {
            (1, data[p] as usize)
        } else {
            if p + 5 > last {
                return self.fail(p, "ziplist prevlen past the end");
            }
            (
                5,
                u32::from_le_bytes([data[p + 1], data[p + 2], data[p + 3], data[p + 4]]) as usize,
            )
        };
        if prevlen != self.prev_size {
            return self.fail(p, "ziplist entry prevlen does not match the previous entry");
        }
        let e = p + prevlen_size;
        if e >= last {
            return self.fail(p, "ziplist entry encoding past the end");
        }
        let enc = data[e];
        // (header bytes after prevlen, data length)
        let (lensize, len): (usize, u64) = match enc >> 6 {
            0 => (1, (enc & 0x3F) as u64),
            1 => {
                if e + 2 > last {
                    return self.fail(p, "ziplist entry length past the end");
                }
                (2, ((((enc & 0x3F) as u64) << 8) | data[e + 1] as u64))
            }
            2 => {
                if e + 5 > last {
                    return self.fail(p, "ziplist entry length past the end");
                }
                (
                    5,
                    u32::from_be_bytes([data[e + 1], data[e + 2], data[e + 3], data[e + 4]]) as u64,
                )
            }
            _ => match enc {
                0xC0 => (1, 2),
                0xD0 => (1, 4),
                0xE0 => (1, 8),
                0xF0 => (1, 3),
                0xFE => (1, 1),
                0xF1..=0xFD => (1, 0),
                _ => return self.fail(e, format!("invalid ziplist entry encoding 0x{enc:02x}")),
            },
        };
        let body = e as u64 + lensize as u64;
        let end = body + len;
        // The entry may end right at the terminator, not past it.
        if end > last as u64 {
            return self.fail(
                p,
                format!("ziplist entry of {len} bytes reaches past the end"),
            );
        }
        let (body, end) = (body as usize, end as usize);
        let d = &data[body..end];
        let elem = match enc >> 6 {
            0..=2 => Elem::Str(d),
            _ => match enc {
                0xC0 => Elem::Int(i16::from_le_bytes([d[0], d[1]]) as i64),
                0xD0 => Elem::Int(i32::from_le_bytes([d[0], d[1], d[2], d[3]]) as i64),
                0xE0 => Elem::Int(i64::from_le_bytes([
                    d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7],
                ])),
                // 24 bits: shift into the top of an i32 and back to sign-extend.
                0xF0 => Elem::Int((i32::from_le_bytes([0, d[0], d[1], d[2]]) >> 8) as i64),
                0xFE => Elem::Int(d[0] as i8 as i64),
                _ => Elem::Int((enc & 0x0F) as i64 - 1),
            },
        };
        self.prev_size = end - p;
        self.prev_start = Some(p);
        self.pos = end;
        self.seen += 1;
        Some(Ok(elem))
    }
}

/// Builds ziplists, for tests: Redis 7 never writes them.
#[cfg(test)]
pub(crate) mod build {
    use crate::persist::rdb::number::parse_i64_strict;

    /// A ziplist of `items`, encoded as `ziplistPush` would (integers in
    /// the smallest encoding when the string is one, up to 31 bytes).
    pub fn ziplist(items: &[&[u8]]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev = 0usize;
        let mut tail = 10usize;
        for it in items {
            let start = body.len();
            tail = 10 + start;
            if prev < 254 {
                body.push(prev as u8);
            } else {
                body.push(0xFE);
                body.extend_from_slice(&(prev as u32).to_le_bytes());
            }
            match (it.len() <= 31).then(|| parse_i64_strict(it)).flatten() {
                Some(v) if (0..=12).contains(&v) => body.push(0xF1 + v as u8),
                Some(v) if i8::try_from(v).is_ok() => {
                    body.push(0xFE);
                    body.push(v as i8 as u8);
                }
                Some(v) if i16::try_from(v).is_ok() => {
                    body.push(0xC0);
                    body.extend_from_slice(&(v as i16).to_le_bytes());
                }
                Some(v) if (-(1 << 23)..(1 << 23)).contains(&v) => {
                    body.push(0xF0);
                    body.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
                }
                Some(v) if i32::try_from(v).is_ok() => {
                    body.push(0xD0);
                    body.extend_from_slice(&(v as i32).to_le_bytes());
                }
                Some(v) => {
                    body.push(0xE0);
                    body.extend_from_slice(&v.to_le_bytes());
                }
                None => {
                    let l = it.len();
                    if l < 64 {
                        body.push(l as u8);
                    } else if l < 16384 {
                        body.push(0x40 | (l >> 8) as u8);
                        body.push(l as u8);
                    } else {
                        body.push(0x80);
                        body.extend_from_slice(&(l as u32).to_be_bytes());
                    }
                    body.extend_from_slice(it);
                }
            }
            prev = body.len() - start;
        }
        let total = 10 + body.len() + 1;
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend_from_slice(&(tail as u32).to_le_bytes());
        out.extend_from_slice(&(items.len().min(65535) as u16).to_le_bytes());
        out.extend_from_slice(&body);
        out.push(0xFF);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(data: &[u8]) -> Result<Vec<Vec<u8>>, BlobError> {
        iter(data)?.map(|e| e.map(Elem::to_vec)).collect()
    }

    #[test]
    fn empty_ziplist() {
        // 11 bytes, tail pointing at the terminator, no entries.
        let zl = build::ziplist(&[]);
        assert_eq!(zl, [11, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0xFF]);
        assert_eq!(read(&zl).unwrap(), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn every_integer_encoding() {
        let values: [i64; 16] = [
            0,
            12,
            13,
            -1,
            127,
            -128,
            128,
            32767,
            -32768,
            32768,
            8388607,
            -8388608,
            8388608,
            i32::MIN as i64,
            i64::MAX,
            i64::MIN,
        ];
        let texts: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        let items: Vec<&[u8]> = texts.iter().map(|t| t.as_bytes()).collect();
        let zl = build::ziplist(&items);
        let got: Vec<Elem> = iter(&zl).unwrap().map(|e| e.unwrap()).collect();
        assert_eq!(
            got,
            values.iter().map(|v| Elem::Int(*v)).collect::<Vec<_>>()
        );
        // Spot-check the bytes of the first entries: prevlen 0, immediate 0
        // (0xF1); prevlen 2, immediate 12 (0xFD); prevlen 2, int8 13.
        assert_eq!(&zl[10..16], &[0x00, 0xF1, 0x02, 0xFD, 0x02, 0xFE]);
        assert_eq!(zl[16], 13);
    }

    #[test]
    fn string_lengths_and_big_prevlen() {
        let a = vec![b'a'; 63];
        let b = vec![b'b'; 64];
        let c = vec![b'c'; 300]; // next entry's prevlen needs 5 bytes
        let d = vec![b'd'; 16384]; // 32-bit length
        let items: Vec<&[u8]> = vec![&a, &b, &c, b"x", &d, b"y"];
        let zl = build::ziplist(&items);
        assert_eq!(
            read(&zl).unwrap(),
            items.iter().map(|s| s.to_vec()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn corruptions_are_errors() {
        let good = build::ziplist(&[b"hello", b"7", b"world", b"-5000"]);
        let mut bad = good.clone();
        bad[8] = 3; // count
        assert!(read(&bad).is_err());
        let mut bad = good.clone();
        bad[4] = 11; // tail
        assert!(read(&bad).is_err());
        let mut bad = good.clone();
        bad[10] = 1; // first prevlen must be 0
        assert!(read(&bad).is_err());
        let mut bad = good.clone();
        bad[11] = 0x3F; // string length past the end
        assert!(read(&bad).is_err());
        let mut bad = good.clone();
        bad[11] = 0xC1; // no such encoding
        assert!(read(&bad).is_err());
        for i in 0..good.len() {
            let _ = iter(&good[..i]).map(|it| it.count());
            for x in [0u8, 0x3F, 0x40, 0x80, 0xC0, 0xF0, 0xFE, 0xFF] {
                let mut m = good.clone();
                m[i] = x;
                let _ = read(&m);
            }
        }
    }
}
