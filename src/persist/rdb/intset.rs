//! Intset: a sorted array of integers (`intset.c`), the blob of RDB type 11
//! (small sets whose members are all integers).
//!
//! Layout: `encoding u32 LE (2, 4 or 8: bytes per value) | length u32 LE |
//! values, little endian, ascending`.
//!
//! Invariants kept here:
//! - the reader checks what `intsetValidateIntegrity` checks in deep mode:
//!   known width, size exactly header + length × width, not empty, values
//!   strictly ascending (so no duplicates);
//! - the writer uses the narrowest width that holds every value (Redis
//!   widens on insert and never narrows, so its blobs may be wider; both
//!   load the same).

use super::error::BlobError;

const HEADER_SIZE: usize = 8;

/// Check an intset and return its values.
pub fn parse(data: &[u8]) -> Result<Vec<i64>, BlobError> {
    let mut out = Vec::new();
    for_each(data, |v| out.push(v))?;
    Ok(out)
}

/// Check an intset, handing each value to `f` (in ascending order).
pub fn for_each(data: &[u8], mut f: impl FnMut(i64)) -> Result<usize, BlobError> {
    if data.len() < HEADER_SIZE {
        return Err(BlobError::new(0, "intset shorter than its header"));
    }
    let width = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err(BlobError::new(
            0,
            format!("intset encoding {width} is not 2, 4 or 8"),
        ));
    }
    let count = u32::from_le_bytes([data[4], data[5], data[6], data[7]]) as usize;
    if count
        .checked_mul(width)
        .and_then(|n| n.checked_add(HEADER_SIZE))
        != Some(data.len())
    {
        return Err(BlobError::new(
            4,
            format!(
                "intset of {count} × {width} bytes in a blob of {} bytes",
                data.len()
            ),
        ));
    }
    if count == 0 {
        return Err(BlobError::new(4, "empty intset"));
    }
    let mut prev: Option<i64> = None;
    for (i, c) in data[HEADER_SIZE..].chunks_exact(width).enumerate() {
        let v = match width {
            2 => i16::from_le_bytes([c[0], c[1]]) as i64,
            4 => i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64,
            _ => i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
        };
        if prev.is_some_and(|p| v <= p) {
            return Err(BlobError::new(
                HEADER_SIZE + i * width,
                "intset values not in strictly ascending order",
            ));
        }
        prev = Some(v);
        f(v);
    }
    Ok(count)
}

/// Width an intset needs for `v`.
fn width_of(v: i64) -> usize {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

/// Encode `values`, which must be strictly ascending, into `out`.
pub fn encode(values: &[i64], out: &mut Vec<u8>) {
    debug_assert!(values.windows(2).all(|w| w[0] < w[1]));
    let width = values.iter().map(|&v| width_of(v)).max().unwrap_or(2);
    out.clear();
    out.reserve(HEADER_SIZE + values.len() * width);
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for &v in values {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_round_trip() {
        for vals in [
            vec![-5i64, 0, 7],
            vec![i16::MIN as i64, i16::MAX as i64],
            vec![1, 40000],
            vec![i32::MIN as i64, -1, i32::MAX as i64],
            vec![i64::MIN, 0, i64::MAX],
        ] {
            let mut b = Vec::new();
            encode(&vals, &mut b);
            let w = vals.iter().map(|&v| width_of(v)).max().unwrap();
            assert_eq!(b.len(), 8 + w * vals.len());
            assert_eq!(u32::from_le_bytes(b[0..4].try_into().unwrap()) as usize, w);
            assert_eq!(parse(&b).unwrap(), vals);
        }
    }

    #[test]
    fn exact_bytes() {
        let mut b = Vec::new();
        encode(&[1, 2, 300], &mut b);
        assert_eq!(b, [2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 2, 0, 0x2C, 0x01]);
    }

    #[test]
    fn corruptions_are_errors() {
        let mut b = Vec::new();
        encode(&[1, 2, 3], &mut b);
        let mut bad = b.clone();
        bad[0] = 3; // width
        assert!(parse(&bad).is_err());
        let mut bad = b.clone();
        bad[4] = 4; // length
        assert!(parse(&bad).is_err());
        let mut bad = b.clone();
        bad[10] = 1; // duplicate 1
        assert!(parse(&bad).is_err());
        assert!(parse(&[2, 0, 0, 0, 0, 0, 0, 0]).is_err()); // empty
                                                            // A count that overflows the size computation.
        assert!(parse(&[8, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2]).is_err());
        for i in 0..b.len() {
            assert!(parse(&b[..i]).is_err());
        }
    }
}
