//! Redis' HyperLogLog representation, byte for byte (Redis 7.0 `hyperloglog.c`).
//!
//! A value is a 16-byte header (`HYLL`, the encoding byte, three zero bytes, the cached
//! cardinality as 8 little-endian bytes whose top bit marks it stale) followed by either
//! 16384 six-bit registers packed LSB first (dense) or a run-length code (sparse: `ZERO`,
//! `XZERO` and `VAL` opcodes). Elements hash with MurmurHash64A; the cardinality is Ertl's
//! improved estimator over the register histogram. Nothing here knows storage or RESP.

/// Number of index bits of the hash.
const P: u32 = 14;
/// Bits left for the run of zeros.
const Q: usize = 64 - P as usize;
/// Number of registers.
pub const REGISTERS: usize = 1 << P;
/// Bits per dense register.
const BITS: usize = 6;
/// Largest value a dense register holds.
const REGISTER_MAX: u8 = (1 << BITS) - 1;
/// Length of the header.
pub const HEADER_LEN: usize = 16;
/// Length of a dense value, header included.
pub const DENSE_LEN: usize = HEADER_LEN + (REGISTERS * BITS).div_ceil(8);
/// Default of `hll-sparse-max-bytes`.
pub const DEFAULT_SPARSE_MAX_BYTES: usize = 3000;

const SEED: u64 = 0xadc8_3b19;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;

/// Offset of the encoding byte.
const ENCODING_AT: usize = 4;
/// Offset of the cached cardinality.
const CARD_AT: usize = 8;

/// The two encodings of a stored HyperLogLog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// 16384 packed six-bit registers.
    Dense,
    /// Run-length coded registers.
    Sparse,
}

impl Encoding {
    /// The name PFDEBUG ENCODING reports.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Dense => "dense",
            Encoding::Sparse => "sparse",
        }
    }
}

/// A sparse payload whose runs do not cover exactly the 16384 registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// MurmurHash64A, as Redis uses it (little-endian reads).
pub fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let mut k = u64::from_le_bytes(word);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element maps to and the length of its `0...01` pattern (1..=51).
pub fn pattern(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, SEED);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// Whether `value` passes Redis' HyperLogLog check: long enough, `HYLL`, a known encoding,
/// and a dense payload of exactly the dense length.
pub fn is_hll(value: &[u8]) -> bool {
    value.len() >= HEADER_LEN
        && &value[..4] == b"HYLL"
        && match value[ENCODING_AT] {
            0 => value.len() == DENSE_LEN,
            1 => true,
            _ => false,
        }
}

/// The encoding of a value that passed [`is_hll`].
pub fn encoding(value: &[u8]) -> Encoding {
    if value[ENCODING_AT] == 0 {
        Encoding::Dense
    } else {
        Encoding::Sparse
    }
}

/// An empty HyperLogLog, sparse, as PFADD creates it.
pub fn new_sparse() -> Vec<u8> {
    let mut v = header(Encoding::Sparse);
    let mut left = REGISTERS;
    while left > 0 {
        let run = left.min(XZERO_MAX_LEN);
        push_xzero(&mut v, run);
        left -= run;
    }
    v
}

fn header(enc: Encoding) -> Vec<u8> {
    let mut v = vec![0u8; HEADER_LEN];
    v[..4].copy_from_slice(b"HYLL");
    v[ENCODING_AT] = match enc {
        Encoding::Dense => 0,
        Encoding::Sparse => 1,
    };
    v
}

/// The cached cardinality, if the cache is valid.
pub fn cached_count(value: &[u8]) -> Option<u64> {
    let card: [u8; 8] = value.get(CARD_AT..CARD_AT + 8)?.try_into().ok()?;
    if card[7] & 0x80 != 0 {
        return None;
    }
    Some(u64::from_le_bytes(card))
}

/// Stores `card` as the cached cardinality.
pub fn set_cached_count(value: &mut [u8], card: u64) {
    value[CARD_AT..CARD_AT + 8].copy_from_slice(&card.to_le_bytes());
}

/// Marks the cached cardinality stale.
pub fn invalidate_cache(value: &mut [u8]) {
    value[CARD_AT + 7] |= 0x80;
}

// ---------------------------------------------------------------------------------------------
// Dense registers

/// Register `i` of a dense register area (a missing trailing byte reads as zero, like the
/// terminator Redis' strings carry).
pub fn dense_get(regs: &[u8], i: usize) -> u8 {
    let bit = i * BITS;
    let (byte, shift) = (bit / 8, bit % 8);
    let b0 = u16::from(regs[byte]);
    let b1 = u16::from(regs.get(byte + 1).copied().unwrap_or(0));
    (((b0 >> shift) | (b1 << (8 - shift))) & u16::from(REGISTER_MAX)) as u8
}

/// Sets register `i` of a dense register area to `v`.
pub fn dense_put(regs: &mut [u8], i: usize, v: u8) {
    let bit = i * BITS;
    let (byte, shift) = (bit / 8, bit % 8);
    let v = u16::from(v & REGISTER_MAX);
    let mask = u16::from(REGISTER_MAX);
    regs[byte] = ((u16::from(regs[byte]) & !(mask << shift)) | (v << shift)) as u8;
    if shift > 8 - BITS {
        if let Some(b) = regs.get_mut(byte + 1) {
            let spill = 8 - shift;
            *b = ((u16::from(*b) & !(mask >> spill)) | (v >> spill)) as u8;
        }
    }
}

/// Raises register `i` of a dense register area to `count`; whether it changed.
fn dense_raise(regs: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(regs, i) {
        dense_put(regs, i, count);
        true
    } else {
        false
    }
}

// ---------------------------------------------------------------------------------------------
// Sparse opcodes

/// One decoded sparse opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// A run of zero registers (ZERO or XZERO).
    Zero(usize),
    /// A run of registers of one value.
    Val(u8, usize),
}

/// The opcode at `at` and its length in bytes. A truncated XZERO reads its missing byte as
/// zero, as Redis reads the string terminator.
fn op_at(v: &[u8], at: usize) -> (Op, usize) {
    let b = v[at];
    if b & 0xc0 == 0 {
        (Op::Zero(usize::from(b & 0x3f) + 1), 1)
    } else if b & 0xc0 == 0x40 {
        let low = usize::from(v.get(at + 1).copied().unwrap_or(0));
        (Op::Zero(((usize::from(b & 0x3f) << 8) | low) + 1), 2)
    } else {
        (Op::Val(((b >> 2) & 0x1f) + 1, usize::from(b & 3) + 1), 1)
    }
}

fn op_span(op: Op) -> usize {
    match op {
        Op::Zero(n) | Op::Val(_, n) => n,
    }
}

fn val_byte(value: u8, len: usize) -> u8 {
    0x80 | ((value - 1) << 2) | (len as u8 - 1)
}

fn push_xzero(out: &mut Vec<u8>, len: usize) {
    let l = len - 1;
    out.push(0x40 | (l >> 8) as u8);
    out.push((l & 0xff) as u8);
}

/// A zero run as ZERO when it fits, else XZERO.
fn push_zero_run(out: &mut Vec<u8>, len: usize) {
    if len > ZERO_MAX_LEN {
        push_xzero(out, len);
    } else {
        out.push((len - 1) as u8);
    }
}

/// Decodes the sparse body into `f(first_register, op)` calls; the registers covered in all.
fn walk_sparse(v: &[u8], mut f: impl FnMut(usize, Op) -> bool) -> usize {
    let mut at = HEADER_LEN;
    let mut idx = 0;
    while at < v.len() {
        let (op, len) = op_at(v, at);
        if !f(idx, op) {
            break;
        }
        idx += op_span(op);
        at += len;
    }
    idx
}

/// Replays the sparse registers into `set(index, value)` for non-zero runs; fails when the
/// runs do not cover exactly [`REGISTERS`] or a value run overflows them.
fn replay_sparse(v: &[u8], mut set: impl FnMut(usize, u8)) -> Result<(), Corrupt> {
    let covered = walk_sparse(v, |first, op| match op {
        Op::Zero(_) => true,
        Op::Val(value, n) => {
            if first + n > REGISTERS {
                return false;
            }
            for i in first..first + n {
                set(i, value);
            }
            true
        }
    });
    if covered == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// Rewrites a sparse value dense (keeping the header's cached cardinality). Returns whether it
/// converted (false when already dense).
pub fn to_dense(value: &mut Vec<u8>) -> Result<bool, Corrupt> {
    if encoding(value) == Encoding::Dense {
        return Ok(false);
    }
    let mut dense = vec![0u8; DENSE_LEN];
    dense[..HEADER_LEN].copy_from_slice(&value[..HEADER_LEN]);
    dense[ENCODING_AT] = 0;
    {
        let regs = &mut dense[HEADER_LEN..];
        replay_sparse(value, |i, v| dense_put(regs, i, v))?;
    }
    *value = dense;
    Ok(true)
}

/// Redis' `hllSparseSet`: raises register `index` to `count` in a sparse value, editing the
/// run-length code in place the way Redis does (so the bytes match), and promotes the value
/// to dense when `count` exceeds a VAL opcode or the value would grow past `max_bytes`.
/// Returns whether a register changed.
fn sparse_raise(
    v: &mut Vec<u8>,
    index: usize,
    count: u8,
    max_bytes: usize,
) -> Result<bool, Corrupt> {
    if count > VAL_MAX_VALUE {
        return promote(v, index, count);
    }
    // Step 1: find the opcode covering `index`.
    let mut at = HEADER_LEN;
    let mut first = 0;
    let mut prev = None;
    let mut found = None;
    while at < v.len() {
        let (op, len) = op_at(v, at);
        let span = op_span(op);
        if index < first + span {
            found = Some((op, len));
            break;
        }
        prev = Some(at);
        at += len;
        first += span;
    }
    let Some((op, oplen)) = found else {
        return Err(Corrupt);
    };
    let span = op_span(op);
    // Step 2: the cheap cases, then the split.
    let mut seq: Vec<u8> = Vec::with_capacity(5);
    let last = first + span - 1;
    match op {
        Op::Val(old, _) if old >= count => return Ok(false),
        Op::Val(_, 1) => v[at] = val_byte(count, 1),
        Op::Zero(1) if oplen == 1 => v[at] = val_byte(count, 1),
        Op::Zero(_) => {
            if index != first {
                push_zero_run(&mut seq, index - first);
            }
            seq.push(val_byte(count, 1));
            if index != last {
                push_zero_run(&mut seq, last - index);
            }
        }
        Op::Val(old, _) => {
            if index != first {
                seq.push(val_byte(old, index - first));
            }
            seq.push(val_byte(count, 1));
            if index != last {
                seq.push(val_byte(old, last - index));
            }
        }
    }
    if !seq.is_empty() {
        // Step 3: put the new sequence in place of the opcode.
        if seq.len() > oplen && v.len() + seq.len() - oplen > max_bytes {
            return promote(v, index, count);
        }
        v.splice(at..at + oplen, seq);
    }
    // Step 4: merge adjacent VAL opcodes of equal value, scanning a few from `prev`.
    let mut p = prev.unwrap_or(HEADER_LEN);
    let mut scan = 5;
    while p < v.len() && scan > 0 {
        scan -= 1;
        let b = v[p];
        if b & 0xc0 == 0x40 {
            p += 2;
            continue;
        }
        if b & 0xc0 == 0 {
            p += 1;
            continue;
        }
        if p + 1 < v.len() && v[p + 1] & 0x80 != 0 {
            let (Op::Val(v1, l1), _) = op_at(v, p) else {
                unreachable!()
            };
            let (Op::Val(v2, l2), _) = op_at(v, p + 1) else {
                unreachable!()
            };
            if v1 == v2 && l1 + l2 <= VAL_MAX_LEN {
                v[p + 1] = val_byte(v1, l1 + l2);
                v.remove(p);
                continue;
            }
        }
        p += 1;
    }
    invalidate_cache(v);
    Ok(true)
}

fn promote(v: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(v)?;
    Ok(dense_raise(&mut v[HEADER_LEN..], index, count))
}

/// Raises register `index` to `count` in either encoding (a sparse value may turn dense).
/// Returns whether a register changed. The cached cardinality is left to the caller.
pub fn raise(
    value: &mut Vec<u8>,
    index: usize,
    count: u8,
    sparse_max_bytes: usize,
) -> Result<bool, Corrupt> {
    match encoding(value) {
        Encoding::Dense => Ok(dense_raise(&mut value[HEADER_LEN..], index, count)),
        Encoding::Sparse => sparse_raise(value, index, count, sparse_max_bytes),
    }
}

/// PFADD of one element. Returns whether a register changed.
pub fn add(value: &mut Vec<u8>, element: &[u8], sparse_max_bytes: usize) -> Result<bool, Corrupt> {
    let (index, count) = pattern(element);
    raise(value, index, count, sparse_max_bytes)
}

/// Raises every register of `max` to the value's register (`hllMerge`).
pub fn merge_into(max: &mut [u8], value: &[u8]) -> Result<(), Corrupt> {
    match encoding(value) {
        Encoding::Dense => {
            let regs = &value[HEADER_LEN..];
            for (i, m) in max.iter_mut().enumerate().take(REGISTERS) {
                *m = (*m).max(dense_get(regs, i));
            }
            Ok(())
        }
        Encoding::Sparse => replay_sparse(value, |i, v| max[i] = max[i].max(v)),
    }
}

/// Every register, decoded (PFDEBUG GETREG of a dense value).
pub fn dense_registers(value: &[u8]) -> Vec<u8> {
    let regs = &value[HEADER_LEN..];
    (0..REGISTERS).map(|i| dense_get(regs, i)).collect()
}

/// The opcodes of a sparse value as PFDEBUG DECODE prints them (`z:`, `Z:`, `v:`).
pub fn decode_sparse(value: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut at = HEADER_LEN;
    while at < value.len() {
        let (op, len) = op_at(value, at);
        parts.push(match (op, len) {
            (Op::Zero(n), 1) => format!("z:{n}"),
            (Op::Zero(n), _) => format!("Z:{n}"),
            (Op::Val(v, n), _) => format!("v:{v},{n}"),
        });
        at += len;
    }
    parts.join(" ")
}

// ---------------------------------------------------------------------------------------------
// Estimation

/// Ertl's sigma.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if before == z {
            return z;
        }
    }
}

/// Ertl's tau.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if before == z {
            return z / 3.0;
        }
    }
}

/// The cardinality estimate of a register histogram (64 buckets).
fn estimate(histo: &[u64; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - histo[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += histo[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histo[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// The estimated cardinality of a stored value (ignoring its cache).
pub fn count(value: &[u8]) -> Result<u64, Corrupt> {
    let mut histo = [0u64; 64];
    match encoding(value) {
        Encoding::Dense => {
            let regs = &value[HEADER_LEN..];
            for i in 0..REGISTERS {
                histo[usize::from(dense_get(regs, i))] += 1;
            }
        }
        Encoding::Sparse => {
            let covered = walk_sparse(value, |_, op| {
                match op {
                    Op::Zero(n) => histo[0] += n as u64,
                    Op::Val(v, n) => histo[usize::from(v)] += n as u64,
                }
                true
            });
            if covered != REGISTERS {
                return Err(Corrupt);
            }
        }
    }
    Ok(estimate(&histo))
}

/// The estimated cardinality of plain byte registers (the union PFCOUNT builds).
pub fn count_registers(max: &[u8]) -> u64 {
    let mut histo = [0u64; 64];
    for &r in max {
        histo[usize::from(r & 63)] += 1;
    }
    estimate(&histo)
}

// ---------------------------------------------------------------------------------------------
// Self test

/// PFSELFTEST: random register values read back unchanged from the packed form, and the
/// estimate of 1..10^7 distinct elements (dense and sparse, which must agree) stays within six
/// standard errors. The error is the text of a `TESTFAILED` reply.
pub fn self_test(sparse_max_bytes: usize) -> Result<(), String> {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let mut dense = header(Encoding::Dense);
    dense.resize(DENSE_LEN, 0);
    let mut expected = vec![0u8; REGISTERS];
    for _ in 0..1000 {
        for (i, e) in expected.iter_mut().enumerate() {
            *e = rng.gen::<u8>() & REGISTER_MAX;
            dense_put(&mut dense[HEADER_LEN..], i, *e);
        }
        for (i, &e) in expected.iter().enumerate() {
            let got = dense_get(&dense[HEADER_LEN..], i);
            if got != e {
                return Err(format!(
                    "TESTFAILED Register {i} should be {e} but is {got}"
                ));
            }
        }
    }
    dense[HEADER_LEN..].fill(0);
    let mut sparse = new_sparse();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let seed: u64 = rng.gen();
    let mut checkpoint: u64 = 1;
    for j in 1..=10_000_000u64 {
        let ele = (j ^ seed).to_le_bytes();
        let (index, run) = pattern(&ele);
        dense_raise(&mut dense[HEADER_LEN..], index, run);
        raise(&mut sparse, index, run, sparse_max_bytes)
            .map_err(|_| "TESTFAILED sparse HLL corrupted".to_string())?;
        if j != checkpoint {
            continue;
        }
        if (j as usize) < sparse_max_bytes / 2 && encoding(&sparse) != Encoding::Sparse {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let card = count(&dense).unwrap_or(0);
        if count(&sparse) != Ok(card) {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let abserr = checkpoint.abs_diff(card);
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

#[cfg(test)]
#[path = "hll_tests.rs"]
mod tests;
