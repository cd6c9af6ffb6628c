//! Zipmap: the packed string map of Redis 2.4 and older (`zipmap.c`), the
//! blob of RDB type 9 (small hashes). Read only.
//!
//! Layout: `count (1 byte, 254: unknown) | entries | 0xFF`, an entry being
//! `len key len free value free-bytes`, where each len is one byte below
//! 254, or 254 and 4 bytes little endian, and free is one byte of unused
//! bytes after the value.
//!
//! Invariants kept here: the reader checks what `zipmapValidateIntegrity`
//! checks (every length and the free space inside the blob, the terminator
//! last, not empty, the count right unless unknown) before handing out a
//! pair, so it never reads out of bounds and never panics.

use super::error::BlobError;

const BIGLEN: u8 = 254;
const END: u8 = 255;

/// Check a zipmap and call `f` on each (field, value), in order.
pub fn for_each<'a>(
    data: &'a [u8],
    mut f: impl FnMut(&'a [u8], &'a [u8]),
) -> Result<usize, BlobError> {
    if data.len() < 2 {
        return Err(BlobError::new(0, "zipmap shorter than its header"));
    }
    let last = data.len() - 1;
    if data[last] != END {
        return Err(BlobError::new(last, "zipmap does not end with 0xFF"));
    }
    // Lengths, as zipmapDecodeLength reads them; None past the end.
    let read_len = |p: usize| -> Option<(usize, usize)> {
        if p > last {
            return None;
        }
        if data[p] < BIGLEN {
            Some((1, data[p] as usize))
        } else {
            if p + 4 > last {
                return None;
            }
            let l = u32::from_le_bytes([data[p + 1], data[p + 2], data[p + 3], data[p + 4]]);
            Some((5, l as usize))
        }
    };
    let mut p = 1;
    let mut count = 0usize;
    while data[p] != END {
        let (s, klen) =
            read_len(p).ok_or_else(|| BlobError::new(p, "zipmap key length past the end"))?;
        let key_start = p + s;
        let key_end = key_start
            .checked_add(klen)
            .filter(|&e| e <= last)
            .ok_or_else(|| BlobError::new(p, "zipmap key past the end"))?;
        p = key_end;
        let (s, vlen) =
            read_len(p).ok_or_else(|| BlobError::new(p, "zipmap value length past the end"))?;
        let free_at = p + s;
        if free_at > last {
            return Err(BlobError::new(p, "zipmap free byte past the end"));
        }
        let free = data[free_at] as usize;
        let val_start = free_at + 1;
        let val_end = val_start
            .checked_add(vlen)
            .filter(|&e| e <= last)
            .ok_or_else(|| BlobError::new(p, "zipmap value past the end"))?;
        let next = val_end
            .checked_add(free)
            .filter(|&e| e <= last)
            .ok_or_else(|| BlobError::new(free_at, "zipmap free space past the end"))?;
        f(&data[key_start..key_end], &data[val_start..val_end]);
        count += 1;
        p = next;
    }
    if p != last {
        return Err(BlobError::new(p, "0xFF before the end of the zipmap"));
    }
    if count == 0 {
        return Err(BlobError::new(0, "empty zipmap"));
    }
    if data[0] != BIGLEN && data[0] as usize != count {
        return Err(BlobError::new(
            0,
            format!("zipmap header count {}, but {count} pairs", data[0]),
        ));
    }
    Ok(count)
}

/// Builds zipmaps, for tests: Redis has not written them since 2.4.
#[cfg(test)]
pub(crate) mod build {
    /// A zipmap of `pairs`, with `free` unused bytes after each value.
    pub fn zipmap(pairs: &[(&[u8], &[u8])], free: u8) -> Vec<u8> {
        let mut out = vec![pairs.len().min(254) as u8];
        let len = |out: &mut Vec<u8>, l: usize| {
            if l < 254 {
                out.push(l as u8);
            } else {
                out.push(254);
                out.extend_from_slice(&(l as u32).to_le_bytes());
            }
        };
        for (k, v) in pairs {
            len(&mut out, k.len());
            out.extend_from_slice(k);
            len(&mut out, v.len());
            out.push(free);
            out.extend_from_slice(v);
            out.extend(std::iter::repeat_n(0u8, free as usize));
        }
        out.push(255);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

    fn read(data: &[u8]) -> Result<Pairs, BlobError> {
        let mut v = Vec::new();
        for_each(data, |k, x| v.push((k.to_vec(), x.to_vec())))?;
        Ok(v)
    }

    #[test]
    fn round_trip_with_free_space_and_long_values() {
        let long = vec![b'v'; 300];
        let pairs: Vec<(&[u8], &[u8])> = vec![(b"a", b"1"), (b"bb", &long), (b"", b"")];
        for free in [0u8, 3] {
            let zm = build::zipmap(&pairs, free);
            let got = read(&zm).unwrap();
            assert_eq!(got.len(), 3);
            assert_eq!(got[1].1, long);
        }
        // The exact bytes of a one-pair zipmap: count 1, "foo" -> "bar".
        assert_eq!(
            build::zipmap(&[(b"foo", b"bar")], 0),
            [1, 3, b'f', b'o', b'o', 3, 0, b'b', b'a', b'r', 255]
        );
    }

    #[test]
    fn corruptions_are_errors() {
        let good = build::zipmap(&[(b"foo", b"bar"), (b"k", b"value")], 1);
        let mut bad = good.clone();
        bad[0] = 3;
        assert!(read(&bad).is_err());
        assert!(read(&[0, 255]).is_err()); // empty
        let mut bad = good.clone();
        bad[1] = 200; // key past the end
        assert!(read(&bad).is_err());
        for i in 0..good.len() {
            let _ = read(&good[..i]);
            for x in [0u8, 1, 253, 254, 255] {
                let mut m = good.clone();
                m[i] = x;
                let _ = read(&m);
            }
        }
    }
}
