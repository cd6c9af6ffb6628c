//! HyperLogLog values exactly as Redis stores them in a string, so a value
//! moves between ringbus and redis-server (GET/SET, DUMP/RESTORE) unchanged
//! and both give the same estimate.
//!
//! Layout: a 16-byte header `HYLL`, an encoding byte (0 dense, 1 sparse),
//! three unused bytes, and the cached cardinality as a little-endian u64
//! whose top bit set means "stale". 16384 registers (P = 14) follow:
//!
//! - dense: 6 bits each, packed from each byte's least significant bit up
//!   (12288 bytes, so a dense value is exactly [`DENSE_SIZE`] bytes);
//! - sparse: run-length opcodes, `00xxxxxx` ZERO (1..64 zero registers),
//!   `01xxxxxx yyyyyyyy` XZERO (1..16384 zeros), `1vvvvvxx` VAL (value
//!   1..32 repeated 1..4 times). A sparse value becomes dense when a
//!   register exceeds 32 or the value would grow past `hll-sparse-max-bytes`.
//!
//! Invariants the code keeps: nothing here panics or indexes out of bounds
//! whatever the bytes (a sparse value whose opcodes do not cover exactly
//! 16384 registers is reported as [`Corrupt`]). Where Redis's C reads the
//! byte past the string (its terminator: an XZERO cut short at the end)
//! readers see 0, and an edit carries that byte along as Redis does
//! ([`Editing`]), so within a command even a corrupt value changes as it
//! would in Redis; only between commands does ringbus start again from 0
//! where Redis keeps what an edit left there.

/// Header bytes.
pub const HDR: usize = 16;
/// Register index bits.
pub const P: u32 = 14;
pub const REGISTERS: usize = 1 << P;
/// Hash bits left for the zero run.
pub const Q: usize = 64 - P as usize;
const REGISTER_MAX: u8 = 63;
/// Length of a dense value.
pub const DENSE_SIZE: usize = HDR + (REGISTERS * 6).div_ceil(8);
pub const DENSE: u8 = 0;
pub const SPARSE: u8 = 1;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;
/// Redis's seed for MurmurHash64A.
const SEED: u32 = 0xadc8_3b19;
/// 0.5 / ln 2.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// A sparse value whose opcodes do not cover exactly 16384 registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// Whether `s` is a HyperLogLog as Redis's `isHLLObjectOrReply` checks it:
/// the magic, a known encoding, and a dense value of the exact length.
/// Returns the encoding byte.
pub fn check(s: &[u8]) -> Option<u8> {
    if s.len() < HDR || &s[..4] != b"HYLL" || s[4] > SPARSE {
        return None;
    }
    if s[4] == DENSE && s.len() != DENSE_SIZE {
        return None;
    }
    Some(s[4])
}

/// An empty HyperLogLog: sparse, one XZERO covering every register, the
/// cached cardinality 0 (valid).
pub fn new_sparse() -> Vec<u8> {
    let mut s = Vec::with_capacity(HDR + 2 + 16);
    s.extend_from_slice(b"HYLL");
    s.push(SPARSE);
    s.resize(HDR, 0);
    let l = XZERO_MAX_LEN - 1;
    s.push(0x40 | (l >> 8) as u8);
    s.push((l & 0xff) as u8);
    s
}

/// MurmurHash2, 64-bit version, endian-neutral, as Redis computes it.
pub fn murmur64a(key: &[u8], seed: u32) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h: u64 = (seed as u64) ^ (key.len() as u64).wrapping_mul(M);
    // Plain indexing rather than iterator adaptors: PFSELFTEST hashes ten
    // million elements, and must stay quick in a debug build too.
    let body = key.len() & !7;
    let mut i = 0;
    while i < body {
        let b = &key[i..i + 8];
        let mut k = b[0] as u64
            | (b[1] as u64) << 8
            | (b[2] as u64) << 16
            | (b[3] as u64) << 24
            | (b[4] as u64) << 32
            | (b[5] as u64) << 40
            | (b[6] as u64) << 48
            | (b[7] as u64) << 56;
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
        i += 8;
    }
    if body < key.len() {
        let mut shift = 0;
        for &b in &key[body..] {
            h ^= (b as u64) << shift;
            shift += 8;
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register `ele` hashes to and the length of its `0...01` pattern
/// (1..=Q+1), Redis's `hllPatLen`.
#[inline]
pub fn pat_len(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, SEED);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

// ------------------------------------------------------------------ dense

/// Dense register `i` of `regs` (the bytes after the header).
#[inline]
pub fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let b0 = regs[byte] as u32;
    // Past the last byte C reads the NUL terminator; its bits are masked off.
    let b1 = if byte + 1 < regs.len() {
        regs[byte + 1] as u32
    } else {
        0
    };
    (((b0 >> fb) | (b1 << (8 - fb))) & REGISTER_MAX as u32) as u8
}

#[inline]
pub fn dense_put(regs: &mut [u8], i: usize, val: u8) {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let v = val as u32;
    regs[byte] &= !((REGISTER_MAX as u32) << fb) as u8;
    regs[byte] |= (v << fb) as u8;
    if byte + 1 < regs.len() {
        regs[byte + 1] &= !((REGISTER_MAX as u32) >> (8 - fb)) as u8;
        regs[byte + 1] |= (v >> (8 - fb)) as u8;
    }
}

/// Raises dense register `i` to `count`; true if it changed.
#[inline]
fn dense_set(regs: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(regs, i) {
        dense_put(regs, i, count);
        true
    } else {
        false
    }
}

fn dense_histogram(regs: &[u8], hist: &mut [u32; 64]) {
    // 16 registers in every 12 bytes.
    for r in regs.chunks_exact(12) {
        let w = |i: usize| r[i] as u32;
        for (a, b, c) in [(0, 1, 2), (3, 4, 5), (6, 7, 8), (9, 10, 11)] {
            hist[(w(a) & 63) as usize] += 1;
            hist[((w(a) >> 6 | w(b) << 2) & 63) as usize] += 1;
            hist[((w(b) >> 4 | w(c) << 4) & 63) as usize] += 1;
            hist[((w(c) >> 2) & 63) as usize] += 1;
        }
    }
}

// ------------------------------------------------------------------ sparse

/// One sparse opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// Zero registers (ZERO or XZERO), and the opcode's length in bytes.
    Zero(usize, usize),
    /// A value and how many registers hold it.
    Val(u8, usize),
}

/// The opcode at `s[p]`; a byte past the end reads 0, as C reads the
/// string's terminator.
#[inline]
fn op_at(s: &[u8], p: usize) -> Op {
    let b = s[p];
    if b & 0x80 != 0 {
        Op::Val(((b >> 2) & 0x1f) + 1, (b & 3) as usize + 1)
    } else if b & 0x40 == 0 {
        Op::Zero((b & 0x3f) as usize + 1, 1)
    } else {
        let lo = s.get(p + 1).copied().unwrap_or(0) as usize;
        Op::Zero((((b & 0x3f) as usize) << 8 | lo) + 1, 2)
    }
}

impl Op {
    fn bytes(self) -> usize {
        match self {
            Op::Zero(_, n) => n,
            Op::Val(..) => 1,
        }
    }

    fn span(self) -> usize {
        match self {
            Op::Zero(n, _) | Op::Val(_, n) => n,
        }
    }
}

fn val_byte(val: u8, len: usize) -> u8 {
    0x80 | ((val - 1) << 2) | (len as u8 - 1)
}

/// Writes a ZERO or XZERO run of `len` zeros into `seq` at `n`.
fn put_zeros(seq: &mut [u8; 5], n: &mut usize, len: usize) {
    if len > ZERO_MAX_LEN {
        let l = len - 1;
        seq[*n] = 0x40 | (l >> 8) as u8;
        seq[*n + 1] = (l & 0xff) as u8;
        *n += 2;
    } else {
        seq[*n] = (len - 1) as u8;
        *n += 1;
    }
}

/// Walks the sparse opcodes of `s` (a whole value), calling `f` with each
/// run's first register, length and value (0 for zeros) while the runs
/// stay inside the registers. Err when they do not cover exactly 16384.
fn sparse_runs(s: &[u8], mut f: impl FnMut(usize, usize, u8)) -> Result<(), Corrupt> {
    let mut idx = 0usize;
    let mut p = HDR;
    while p < s.len() {
        let op = op_at(s, p);
        match op {
            Op::Zero(n, _) => {
                idx += n;
                if idx > REGISTERS {
                    return Err(Corrupt);
                }
            }
            Op::Val(v, n) => {
                if idx + n > REGISTERS {
                    return Err(Corrupt);
                }
                f(idx, n, v);
                idx += n;
            }
        }
        p += op.bytes();
    }
    if idx == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// The dense form of sparse value `s` (Redis's `hllSparseToDense`): the
/// header copied (cached cardinality and unused bytes included) with the
/// encoding set to dense.
pub fn sparse_to_dense(s: &[u8]) -> Result<Vec<u8>, Corrupt> {
    // One byte of room for the terminator an edit in progress keeps.
    let mut dense = Vec::with_capacity(DENSE_SIZE + 1);
    dense.resize(DENSE_SIZE, 0);
    dense[..HDR].copy_from_slice(&s[..HDR]);
    dense[4] = DENSE;
    let regs = &mut dense[HDR..];
    sparse_runs(s, |first, n, v| {
        for i in first..first + n {
            dense_put(regs, i, v);
        }
    })?;
    Ok(dense)
}

/// Turns `s` dense in place if it is sparse; true if it was converted.
pub fn to_dense(s: &mut Vec<u8>) -> Result<bool, Corrupt> {
    if s[4] == DENSE {
        return Ok(false);
    }
    *s = sparse_to_dense(s)?;
    Ok(true)
}

/// Raises sparse register `index` to `count` (Redis's `hllSparseSet`),
/// promoting `s` to dense when the value cannot stay sparse. Ok(true) if a
/// register changed.
///
/// `s` ends with one more byte than the value: the terminator C keeps after
/// a string, which a truncated XZERO at the end reads as its second byte and
/// which Redis's edits may overwrite (see [`Editing`]).
fn sparse_set(s: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> Result<bool, Corrupt> {
    if count > VAL_MAX_VALUE {
        return promote(s, index, count);
    }
    // Step 1: the opcode covering `index`.
    let mut end = s.len() - 1;
    let mut p = HDR;
    let mut first = 0usize;
    let mut prev = None;
    let mut op = None;
    while p < end {
        let here = op_at(s, p);
        if index < first + here.span() {
            op = Some(here);
            break;
        }
        prev = Some(p);
        p += here.bytes();
        first += here.span();
    }
    let Some(op) = op else {
        return Err(Corrupt);
    };
    let next = (p + op.bytes() < end).then_some(p + op.bytes());
    let span = op.span();

    let updated_at_once = match op {
        // A VAL already as high: nothing to do.
        Op::Val(v, _) if v >= count => return Ok(false),
        // A single register: rewrite in place.
        Op::Val(_, 1) | Op::Zero(1, 1) => {
            s[p] = val_byte(count, 1);
            true
        }
        _ => false,
    };
    if !updated_at_once {
        // Step 2: split the run into (before, our VAL, after).
        let mut seq = [0u8; 5];
        let mut n = 0;
        let last = first + span - 1;
        match op {
            Op::Zero(..) => {
                if index != first {
                    put_zeros(&mut seq, &mut n, index - first);
                }
                seq[n] = val_byte(count, 1);
                n += 1;
                if index != last {
                    put_zeros(&mut seq, &mut n, last - index);
                }
            }
            Op::Val(cur, _) => {
                if index != first {
                    seq[n] = val_byte(cur, index - first);
                    n += 1;
                }
                seq[n] = val_byte(count, 1);
                n += 1;
                if index != last {
                    seq[n] = val_byte(cur, last - index);
                    n += 1;
                }
            }
        }
        // Step 3: put the sequence in place of the opcode, in Redis's
        // order: move the tail, set the new terminator, copy the sequence
        // (which overwrites the terminator when the opcode was cut short).
        let old = op.bytes();
        if n > old && end + (n - old) > max_bytes {
            return promote(s, index, count);
        }
        // Room for the longest sequence written from the last byte on.
        s.resize(end + 8, 0);
        if let Some(next) = next {
            if n != old {
                s.copy_within(next..end, next + n - old);
            }
        }
        end = end + n - old;
        s[end] = 0;
        s[p..p + n].copy_from_slice(&seq[..n]);
        s.truncate(end + 1);
    }
    // Step 4: merge adjacent VALs of the same value, up to 5 opcodes from
    // the one before the change.
    let mut q = prev.unwrap_or(HDR);
    let mut scan = 5;
    while q < end && scan > 0 {
        scan -= 1;
        let b = s[q];
        if b & 0xc0 == 0x40 {
            q += 2;
            continue;
        }
        if b & 0xc0 == 0 {
            q += 1;
            continue;
        }
        if q + 1 < end && s[q + 1] & 0x80 != 0 {
            let (Op::Val(v1, l1), Op::Val(v2, l2)) = (op_at(s, q), op_at(s, q + 1)) else {
                unreachable!("both are VAL opcodes");
            };
            if v1 == v2 && l1 + l2 <= VAL_MAX_LEN {
                s[q + 1] = val_byte(v1, l1 + l2);
                s.copy_within(q + 1..=end, q);
                end -= 1;
                s.truncate(end + 1);
                s[end] = 0;
                continue;
            }
        }
        q += 1;
    }
    invalidate(s);
    Ok(true)
}

/// Makes `s` (with its terminator) dense and sets register `index` (known
/// to be lower) to `count`.
fn promote(s: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    let mut dense = sparse_to_dense(&s[..s.len() - 1])?;
    dense_set(&mut dense[HDR..], index, count);
    // The terminator, so the value ends as the caller's Editing expects.
    dense.push(0);
    *s = dense;
    Ok(true)
}

/// A value under edit for one command: its bytes followed by the
/// terminator Redis's C string has, which edits of a corrupt value (an
/// XZERO cut short at the end) read and may overwrite. Redis keeps that
/// byte with the value between commands too; here it is 0 again at the
/// start of each command, the only place where a corrupt value may then
/// change differently from Redis's.
pub struct Editing<'a> {
    s: &'a mut Vec<u8>,
    /// Whether `s` ends with the terminator (a dense value needs none: its
    /// last register's read masks that byte off).
    term: bool,
}

impl<'a> Editing<'a> {
    pub fn new(s: &'a mut Vec<u8>) -> Self {
        let term = s[4] != DENSE;
        if term {
            s.push(0);
        }
        Editing { s, term }
    }

    /// Adds `ele` (Redis's `hllAdd`); Ok(true) if a register changed. The
    /// cache is left to the caller, which marks it stale once, as Redis.
    #[inline]
    pub fn add(&mut self, ele: &[u8], max_bytes: usize) -> Result<bool, Corrupt> {
        let (index, count) = pat_len(ele);
        self.set(index, count, max_bytes)
    }

    fn set(&mut self, index: usize, count: u8, max_bytes: usize) -> Result<bool, Corrupt> {
        let s = &mut *self.s;
        if s[4] == DENSE {
            let end = s.len() - self.term as usize;
            Ok(dense_set(&mut s[HDR..end], index, count))
        } else {
            sparse_set(s, index, count, max_bytes)
        }
    }

    pub fn invalidate(&mut self) {
        invalidate(self.s);
    }

    /// The value as it stands (without the terminator).
    pub fn value(&self) -> &[u8] {
        &self.s[..self.s.len() - self.term as usize]
    }
}

impl Drop for Editing<'_> {
    fn drop(&mut self) {
        if self.term {
            self.s.pop();
        }
    }
}

fn sparse_histogram(s: &[u8], hist: &mut [u32; 64]) -> Result<(), Corrupt> {
    let mut idx = 0usize;
    let mut p = HDR;
    while p < s.len() {
        let op = op_at(s, p);
        idx += op.span();
        if idx > REGISTERS {
            // Too many registers already: corrupt whatever follows (and
            // the counts cannot overflow on a long run of opcodes).
            return Err(Corrupt);
        }
        match op {
            Op::Zero(n, _) => hist[0] += n as u32,
            Op::Val(v, n) => hist[v as usize] += n as u32,
        }
        p += op.bytes();
    }
    if idx == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

// ------------------------------------------------------------------ values

/// Adds `ele` to the HyperLogLog `s` (already [`check`]ed); Ok(true) if a
/// register changed (the cache is not marked: see [`Editing::add`]).
pub fn add(s: &mut Vec<u8>, ele: &[u8], max_bytes: usize) -> Result<bool, Corrupt> {
    Editing::new(s).add(ele, max_bytes)
}

/// Marks the cached cardinality stale.
#[inline]
pub fn invalidate(s: &mut [u8]) {
    s[15] |= 0x80;
}

/// The cached cardinality, if it is valid.
pub fn cached(s: &[u8]) -> Option<u64> {
    let card = u64::from_le_bytes(s[8..16].try_into().expect("8 bytes"));
    (card >> 63 == 0).then_some(card)
}

pub fn set_cached(s: &mut [u8], card: u64) {
    s[8..16].copy_from_slice(&card.to_le_bytes());
}

/// The estimated cardinality of `s` (Redis's `hllCount`); Err for a
/// corrupt sparse value.
pub fn count(s: &[u8]) -> Result<u64, Corrupt> {
    let mut hist = [0u32; 64];
    if s[4] == DENSE {
        dense_histogram(&s[HDR..], &mut hist);
    } else {
        sparse_histogram(s, &mut hist)?;
    }
    Ok(estimate(&hist))
}

/// Registers as one byte each, the union of several values (PFCOUNT of
/// several keys, PFMERGE).
pub struct Registers(pub Box<[u8; REGISTERS]>);

impl Default for Registers {
    fn default() -> Self {
        Registers(Box::new([0; REGISTERS]))
    }
}

impl Registers {
    /// Raises each register to `s`'s (Redis's `hllMerge`); Err for a
    /// corrupt sparse value (the registers are then partly merged).
    pub fn merge(&mut self, s: &[u8]) -> Result<(), Corrupt> {
        let max = &mut self.0;
        if s[4] == DENSE {
            let regs = &s[HDR..];
            for (i, m) in max.iter_mut().enumerate() {
                *m = (*m).max(dense_get(regs, i));
            }
            Ok(())
        } else {
            sparse_runs(s, |first, n, v| {
                for m in &mut max[first..first + n] {
                    *m = (*m).max(v);
                }
            })
        }
    }

    pub fn count(&self) -> u64 {
        let mut hist = [0u32; 64];
        for &r in self.0.iter() {
            hist[r as usize & 63] += 1;
        }
        estimate(&hist)
    }

    /// Writes these registers into `dst` (PFMERGE): raises each non-zero
    /// one, in order, as Redis does, so a sparse `dst` grows (and may turn
    /// dense) exactly as Redis's does. A corrupt `dst` is left as far as
    /// it got, as Redis ignores the error there.
    pub fn store(&self, dst: &mut Vec<u8>, max_bytes: usize) {
        let mut edit = Editing::new(dst);
        for (i, &r) in self.0.iter().enumerate() {
            if r != 0 {
                let _ = edit.set(i, r, max_bytes);
            }
        }
        edit.invalidate();
    }
}

/// Ertl's improved estimator ("New cardinality estimation algorithms for
/// HyperLogLog sketches", arXiv:1702.01284), as Redis computes it since 5.0.
fn estimate(hist: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - hist[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += hist[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(hist[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        let d = 1.0 - x;
        z -= d * d * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// PFDEBUG DECODE's text of a sparse value: `z:N`, `Z:N` and `v:V,N`.
pub fn decode(s: &[u8]) -> String {
    let mut out = String::new();
    let mut p = HDR;
    while p < s.len() {
        let op = op_at(s, p);
        if !out.is_empty() {
            out.push(' ');
        }
        match op {
            Op::Zero(n, 1) => out.push_str(&format!("z:{n}")),
            Op::Zero(n, _) => out.push_str(&format!("Z:{n}")),
            Op::Val(v, n) => out.push_str(&format!("v:{v},{n}")),
        }
        p += op.bytes();
    }
    out
}

/// PFSELFTEST: Redis's self test of the register access and of the
/// estimate's error, dense and sparse side by side. Err: its TESTFAILED text.
pub fn selftest(max_bytes: usize, mut rand: impl FnMut() -> u64) -> Result<(), String> {
    let mut regs = vec![0u8; DENSE_SIZE - HDR];
    let mut bytes = vec![0u8; REGISTERS];
    for _ in 0..1000 {
        for (i, b) in bytes.iter_mut().enumerate() {
            let r = (rand() & REGISTER_MAX as u64) as u8;
            *b = r;
            dense_put(&mut regs, i, r);
        }
        for (i, &b) in bytes.iter().enumerate() {
            let v = dense_get(&regs, i);
            if v != b {
                return Err(format!("TESTFAILED Register {i} should be {b} but is {v}"));
            }
        }
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..4].copy_from_slice(b"HYLL");
    let mut sparse = new_sparse();
    let mut sparse = Editing::new(&mut sparse);
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let mut checkpoint: u64 = 1;
    let seed = rand();
    for j in 1..=10_000_000u64 {
        let (index, count) = pat_len(&(j ^ seed).to_le_bytes());
        dense_set(&mut dense[HDR..], index, count);
        let _ = sparse.set(index, count, max_bytes);
        if j != checkpoint {
            continue;
        }
        if j < max_bytes as u64 / 2 && sparse.value()[4] != SPARSE {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let card = count_of(&dense);
        if card != count_of(sparse.value()) {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let abserr = (checkpoint as i64 - card as i64).unsigned_abs();
        let maxerr = if j == 10 {
            1
        } else {
            (relerr * 6.0 * checkpoint as f64).ceil() as u64
        };
        if abserr > maxerr {
            return Err(format!(
                "TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"
            ));
        }
        checkpoint *= 10;
    }
    Ok(())
}

fn count_of(s: &[u8]) -> u64 {
    count(s).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Registers as plain bytes, whatever the encoding.
    fn registers(s: &[u8]) -> Vec<u8> {
        let mut r = Registers::default();
        r.merge(s).expect("valid");
        r.0.to_vec()
    }

    #[test]
    fn hash_matches_redis() {
        // From redis-server: PFADD of one element, then PFDEBUG DECODE.
        assert_eq!(pat_len(b"a"), (12711, 2));
        assert_eq!(pat_len(b"hello"), (9216, 1));
        assert_eq!(pat_len(b"12345678"), (10579, 3));
        assert_eq!(pat_len(b"abcdefghijk"), (14121, 1));
        // PFADD t a b c, then GET t.
        let mut s = new_sparse();
        for e in [b"a", b"b", b"c"] {
            assert_eq!(add(&mut s, e, 3000), Ok(true));
        }
        assert_eq!(
            s,
            b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x60\xf3\x80\x50\xb1\x84\x4b\xfb\x80\x42\x5a"
        );
    }

    #[test]
    fn empty_value_is_redis_bytes() {
        let s = new_sparse();
        assert_eq!(s, b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff");
        assert_eq!(check(&s), Some(SPARSE));
        assert_eq!(count(&s), Ok(0));
        assert_eq!(decode(&s), "Z:16384");
        assert_eq!(cached(&s), Some(0));
    }

    #[test]
    fn check_as_redis() {
        assert_eq!(check(b"HYLL"), None);
        assert_eq!(check(b"HYLL\x02\0\0\0\0\0\0\0\0\0\0\0"), None);
        assert_eq!(check(b"HYLX\x01\0\0\0\0\0\0\0\0\0\0\0"), None);
        assert_eq!(check(b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0"), Some(SPARSE));
        assert_eq!(check(b"HYLL\x00\0\0\0\0\0\0\0\0\0\0\0"), None);
        let mut d = vec![0; DENSE_SIZE];
        d[..4].copy_from_slice(b"HYLL");
        assert_eq!(check(&d), Some(DENSE));
        d.push(0);
        assert_eq!(check(&d), None);
    }

    #[test]
    fn dense_registers_round_trip() {
        let mut regs = vec![0u8; DENSE_SIZE - HDR];
        for i in 0..REGISTERS {
            dense_put(&mut regs, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&regs, i), (i % 64) as u8);
        }
        let mut hist = [0u32; 64];
        dense_histogram(&regs, &mut hist);
        assert!(hist.iter().all(|&h| h == (REGISTERS / 64) as u32));
    }

    #[test]
    fn sparse_and_dense_agree_and_promote() {
        let mut sparse = new_sparse();
        let mut dense = sparse_to_dense(&sparse).unwrap();
        for n in 0..5000u32 {
            let e = format!("e{n}");
            let a = add(&mut sparse, e.as_bytes(), 3000).unwrap();
            let b = add(&mut dense, e.as_bytes(), 3000).unwrap();
            assert_eq!(a, b, "element {n}");
            assert!(sparse.len() <= 3000 || sparse[4] == DENSE);
            if n % 97 == 0 {
                assert_eq!(registers(&sparse), registers(&dense));
                assert_eq!(count(&sparse), count(&dense));
            }
        }
        assert_eq!(sparse[4], DENSE, "promoted past 3000 bytes");
        assert_eq!(sparse[HDR..], dense[HDR..]);
        let est = count(&dense).unwrap();
        assert!((4800..5200).contains(&est), "{est}");
    }

    #[test]
    fn sparse_stays_canonical() {
        // Redis never leaves two mergeable VALs side by side near an edit;
        // decoding and re-encoding the registers agrees with a dense copy.
        let mut s = new_sparse();
        for n in 0..300u32 {
            add(&mut s, &n.to_le_bytes(), 3000).unwrap();
            assert!(sparse_runs(&s, |_, _, _| {}).is_ok());
        }
        assert_eq!(s[4], SPARSE);
    }

    #[test]
    fn corrupt_sparse_is_reported() {
        let mut s = new_sparse();
        s.push(0x80); // one register too many
        assert_eq!(count(&s), Err(Corrupt));
        assert_eq!(sparse_to_dense(&s), Err(Corrupt));
        let mut r = Registers::default();
        assert_eq!(r.merge(&s), Err(Corrupt));
        // Far too many registers: the counts must not overflow.
        let mut long = new_sparse();
        for _ in 0..300_000 {
            long.extend_from_slice(&[0x7f, 0xff]);
        }
        assert_eq!(count(&long), Err(Corrupt));
        assert_eq!(sparse_to_dense(&long), Err(Corrupt));
        assert_eq!(Registers::default().merge(&long), Err(Corrupt));
        // Only a header: no opcode covers any register.
        let mut h = new_sparse();
        h.truncate(HDR);
        assert_eq!(add(&mut h, b"x", 3000), Err(Corrupt));
    }

    #[test]
    fn estimator_small_values() {
        let mut s = new_sparse();
        for e in [b"a", b"b", b"c"] {
            add(&mut s, e, 3000).unwrap();
        }
        assert_eq!(count(&s), Ok(3));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Whatever bytes follow a valid header, nothing panics and the
        /// readers agree on whether the value is corrupt.
        #[test]
        fn mutated_payloads_never_panic(
            n in 0usize..200,
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..12),
            cut in any::<usize>(),
            elems in proptest::collection::vec(any::<u32>(), 1..20),
            dense in any::<bool>(),
        ) {
            let mut s = new_sparse();
            for i in 0..n as u32 {
                add(&mut s, &i.to_be_bytes(), 3000).unwrap();
            }
            if dense {
                to_dense(&mut s).unwrap();
            }
            for (at, b) in edits {
                let at = HDR + at % (s.len() - HDR + 1);
                if at < s.len() { s[at] = b } else { s.push(b) }
            }
            if !dense {
                let keep = HDR + cut % (s.len() - HDR + 1);
                s.truncate(keep);
            }
            prop_assume!(check(&s).is_some());
            let c = count(&s);
            let mut r = Registers::default();
            let m = r.merge(&s);
            prop_assert_eq!(c.is_ok(), m.is_ok());
            prop_assert_eq!(c.is_ok(), s[4] == DENSE || sparse_to_dense(&s).is_ok());
            let _ = decode(&s);
            let mut t = s.clone();
            for e in elems {
                if add(&mut t, &e.to_le_bytes(), 3000).is_err() {
                    break;
                }
            }
            let mut d = s.clone();
            r.store(&mut d, 3000);
        }

        /// A valid sparse value and its dense copy hold the same registers
        /// after the same additions, at any promotion threshold.
        #[test]
        fn sparse_matches_dense_model(
            elems in proptest::collection::vec(any::<u64>(), 0..400),
            max in 20usize..1500,
        ) {
            let mut s = new_sparse();
            let mut d = sparse_to_dense(&s).unwrap();
            for e in &elems {
                let b = e.to_le_bytes();
                prop_assert_eq!(add(&mut s, &b, max).unwrap(), add(&mut d, &b, max).unwrap());
            }
            prop_assert!(s[4] == DENSE || s.len() <= max.max(HDR + 2));
            prop_assert_eq!(registers(&s), registers(&d));
            prop_assert_eq!(count(&s), count(&d));
        }
    }
}
