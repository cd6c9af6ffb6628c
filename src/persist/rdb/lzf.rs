//! LZF strings: decoded through the `lzf-rust` crate (raw liblzf token
//! format), encoded by a port of Redis's bundled `lzf_compress` (no unsafe
//! code).
//!
//! Invariants kept here:
//! - decompression allocates at most [`MAX_EXPANSION`] times the compressed
//!   bytes actually read, whatever length the file claims: an LZF back
//!   reference is at least 2 bytes and expands to at most 264, so a claim
//!   beyond that is corrupt and refused before allocating;
//! - compression follows `rdbSaveLzfStringObject`: only strings over 4
//!   bytes, and only when the result saves at least 4 bytes; the bytes are
//!   those Redis's `lzf_compress` writes.

/// Largest output per input byte any LZF stream can produce (264 bytes from
/// a 3-byte back reference).
pub const MAX_EXPANSION: usize = 88;

/// Uncompress `compressed` into exactly `ulen` bytes.
pub fn decompress(compressed: &[u8], ulen: usize) -> Result<Vec<u8>, String> {
    if ulen == 0 {
        return Ok(Vec::new());
    }
    if ulen > compressed.len().saturating_mul(MAX_EXPANSION) {
        return Err(format!(
            "LZF string claims {ulen} bytes from {} compressed bytes, more than LZF can expand to",
            compressed.len()
        ));
    }
    let mut out = vec![0u8; ulen];
    match lzf_rust::decompress(compressed, &mut out) {
        Ok(n) if n == ulen => Ok(out),
        Ok(n) => Err(format!(
            "invalid LZF compressed string: {n} bytes, expected {ulen}"
        )),
        Err(e) => Err(format!("invalid LZF compressed string: {e}")),
    }
}

/// Compress as Redis does before saving a string longer than 20 bytes:
/// true, with the compressed bytes in `out`, when they fit in `len - 4`
/// bytes; false when the string is better stored as it is.
pub fn compress(data: &[u8], out: &mut Vec<u8>) -> bool {
    if data.len() <= 4 {
        return false;
    }
    out.clear();
    out.resize(data.len() - 4, 0);
    match lzf_compress(data, out) {
        Some(n) => {
            out.truncate(n);
            true
        }
        None => false,
    }
}

/// Redis's bundled `lzf_compress` (liblzf 3.6, HLOG 16, VERY_FAST),
/// step for step, so that the bytes are Redis's: other LZF encoders (such
/// as `lzf-rust`'s) pick other back references and write other, equally
/// valid, streams. The size of the output (`out.len()`) is the limit;
/// `None` when the result does not fit. Redis does not clear its hash
/// table; an empty one is what it starts from in practice.
fn lzf_compress(input: &[u8], out: &mut [u8]) -> Option<usize> {
    const HLOG: u32 = 16;
    const HSIZE: usize = 1 << HLOG;
    const MAX_LIT: usize = 1 << 5;
    const MAX_OFF: usize = 1 << 13;
    const MAX_REF: usize = (1 << 8) + (1 << 3);
    let idx = |h: u32| ((h >> (24 - HLOG)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HSIZE - 1);
    let frst = |p: usize| (u32::from(input[p]) << 8) | u32::from(input[p + 1]);
    let next = |v: u32, p: usize| (v << 8) | u32::from(input[p + 2]);

    let (in_end, out_end) = (input.len(), out.len());
    if in_end == 0 || out_end == 0 {
        return None;
    }
    // Positions plus one; 0 is an empty slot.
    let mut htab = vec![0u32; HSIZE];
    let (mut ip, mut op, mut lit) = (0usize, 1usize, 0usize);
    let mut hval = frst(ip);
    while ip + 2 < in_end {
        hval = next(hval, ip);
        let slot = idx(hval);
        let r = htab[slot] as usize;
        htab[slot] = ip as u32 + 1;
        // `ref > in_data`: position 0 is never referred to.
        let m = (r > 1)
            .then(|| r - 1)
            .filter(|&r| ip - r - 1 < MAX_OFF && input[r..r + 3] == input[ip..ip + 3]);
        if let Some(r) = m {
            let off = ip - r - 1;
            let mut len = 2usize;
            let maxlen = (in_end - ip - len).min(MAX_REF);
            if op - usize::from(lit == 0) + 3 + 1 >= out_end {
                return None;
            }
            out[op - lit - 1] = (lit as u8).wrapping_sub(1); // stop run
            op -= usize::from(lit == 0); // undo run if length is zero
                                         // liblzf compares 16 bytes before it looks at `maxlen` again
                                         // (so a match may end past `maxlen`, never past the input).
            let mut mismatch = false;
            if maxlen > 16 {
                for _ in 0..16 {
                    len += 1;
                    if input[r + len] != input[ip + len] {
                        mismatch = true;
                        break;
                    }
                }
            }
            if !mismatch {
                loop {
                    len += 1;
                    if !(len < maxlen && input[r + len] == input[ip + len]) {
                        break;
                    }
                }
            }
            len -= 2;
            ip += 1;
            if len < 7 {
                out[op] = ((off >> 8) + (len << 5)) as u8;
                op += 1;
            } else {
                out[op] = ((off >> 8) + (7 << 5)) as u8;
                out[op + 1] = (len - 7) as u8;
                op += 2;
            }
            out[op] = off as u8;
            op += 2; // and start a run
            lit = 0;
            ip += len + 1;
            if ip >= in_end - 2 {
                break;
            }
            // VERY_FAST: only the last two positions of the match are hashed.
            ip -= 2;
            hval = frst(ip);
            for _ in 0..2 {
                hval = next(hval, ip);
                htab[idx(hval)] = ip as u32 + 1;
                ip += 1;
            }
        } else {
            if op >= out_end {
                return None;
            }
            out[op] = input[ip];
            (lit, op, ip) = (lit + 1, op + 1, ip + 1);
            if lit == MAX_LIT {
                out[op - lit - 1] = (lit - 1) as u8;
                (lit, op) = (0, op + 1);
            }
        }
    }
    if op + 3 > out_end {
        return None;
    }
    while ip < in_end {
        out[op] = input[ip];
        (lit, op, ip) = (lit + 1, op + 1, ip + 1);
        if lit == MAX_LIT {
            out[op - lit - 1] = (lit - 1) as u8;
            (lit, op) = (0, op + 1);
        }
    }
    out[op - lit - 1] = (lit as u8).wrapping_sub(1); // end run
    op -= usize::from(lit == 0);
    Some(op)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let data: Vec<u8> = b"abcabcabcabcabcabcabcabcabcabcabcabc hello hello hello".to_vec();
        let mut c = Vec::new();
        assert!(compress(&data, &mut c));
        assert!(c.len() <= data.len() - 4);
        assert_eq!(decompress(&c, data.len()).unwrap(), data);
    }

    /// Streams Redis 7.0.15 writes (the LZF part of `DUMP` of the string).
    #[test]
    fn compresses_as_redis() {
        let cases: [(&[u8], &[u8]); 3] = [
            (
                b"abcabcabcabcabcabcabcabcabcabcabcabc hello hello hello",
                b"\x03abca\xe0\x17\x02\x05 hello\xe0\x01\x05\x01lo",
            ),
            (&[b'a'; 92], b"\x01aa\xe0O\x00\x01aa"),
            (
                b"xyzxyzxyzxyzxyzxyzxyz0123456789012345678901234567890123456789",
                b"\x03xyzx\xe0\x08\x02\t0123456789\xe0\x13\t\x0189",
            ),
        ];
        for (data, redis) in cases {
            let mut c = Vec::new();
            assert!(compress(data, &mut c));
            assert_eq!(
                c.escape_ascii().to_string(),
                redis.escape_ascii().to_string()
            );
            assert_eq!(decompress(&c, data.len()).unwrap(), data);
        }
    }

    #[test]
    fn incompressible_is_left_alone() {
        let data: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(97) ^ 0x5a).collect();
        let mut c = Vec::new();
        assert!(!compress(&data, &mut c));
        assert!(!compress(b"aaaa", &mut c));
    }

    #[test]
    fn liblzf_stream_decodes() {
        // Hand-made liblzf tokens: literal run "abc" (ctrl 2), then a back
        // reference of length 3+2-... : ctrl 0b001_00000 | offset-hi 0, then
        // offset-lo 2 (distance 3), copying 3 bytes "abc".
        let c = [0x02, b'a', b'b', b'c', 0x20, 0x02];
        assert_eq!(decompress(&c, 6).unwrap(), b"abcabc");
        // Wrong claimed length, reference before the start, or absurd claim.
        assert!(decompress(&c, 7).is_err());
        assert!(decompress(&[0x20, 0x05], 3).is_err());
        assert!(decompress(&c, 1 << 40).is_err());
    }
}
