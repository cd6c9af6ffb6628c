//! LZF strings, through the `lzf-rust` crate (raw liblzf token format, the
//! one Redis's bundled liblzf writes; no unsafe code).
//!
//! Invariants kept here:
//! - decompression allocates at most [`MAX_EXPANSION`] times the compressed
//!   bytes actually read, whatever length the file claims: an LZF back
//!   reference is at least 2 bytes and expands to at most 264, so a claim
//!   beyond that is corrupt and refused before allocating;
//! - compression follows `rdbSaveLzfStringObject`: only strings over 4
//!   bytes, and only when the result saves at least 4 bytes.

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
    match lzf_rust::compress(data, out) {
        Ok(n) if n > 0 => {
            out.truncate(n);
            true
        }
        _ => false,
    }
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
