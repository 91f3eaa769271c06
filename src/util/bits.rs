//! Bit manipulation over byte strings, as Redis' bitmap commands see them.
//!
//! Bit 0 is the most significant bit of byte 0 (SETBIT's numbering); bitfields are big-endian
//! runs of bits starting at any bit offset. Everything here is pure: no arguments parsing, no
//! storage, no replies, so each rule can be tested on its own.

/// How BITCOUNT / BITPOS read their `start` and `end` indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeUnit {
    Byte,
    Bit,
}

/// The bit at `offset`; bits past the end of `s` read as 0.
pub fn get_bit(s: &[u8], offset: u64) -> bool {
    let Ok(byte) = usize::try_from(offset >> 3) else {
        return false;
    };
    s.get(byte).is_some_and(|b| b & (0x80 >> (offset & 7)) != 0)
}

/// Sets the bit at `offset` to `on`, growing `buf` with zero bytes as needed; returns the old
/// bit. The caller bounds `offset` (the command layer limits it to `proto-max-bulk-len`).
pub fn set_bit(buf: &mut Vec<u8>, offset: u64, on: bool) -> bool {
    let byte = (offset >> 3) as usize;
    if buf.len() <= byte {
        buf.resize(byte + 1, 0);
    }
    let mask = 0x80u8 >> (offset & 7);
    let old = buf[byte] & mask != 0;
    if on {
        buf[byte] |= mask;
    } else {
        buf[byte] &= !mask;
    }
    old
}

/// Redis' index normalisation: negative indexes count from the end of `total` units, then both
/// are clamped into `0..total`. `None` when the range is empty.
pub fn normalize_range(total: i64, start: i64, end: i64) -> Option<(u64, u64)> {
    let start = if start < 0 { total + start } else { start }.max(0);
    let mut end = if end < 0 { total + end } else { end }.max(0);
    if end >= total {
        end = total - 1;
    }
    (start <= end).then_some((start as u64, end as u64))
}

/// The inclusive bit range selected by `start..=end` in `unit`s of a string of `len` bytes.
fn bit_range(len: usize, start: i64, end: i64, unit: RangeUnit) -> Option<(u64, u64)> {
    let len = len as i64;
    match unit {
        RangeUnit::Byte => normalize_range(len, start, end).map(|(s, e)| (s * 8, e * 8 + 7)),
        RangeUnit::Bit => normalize_range(len * 8, start, end),
    }
}

/// Number of set bits in the inclusive bit range `first..=last` (which must lie within `s`).
pub fn count_ones_in(s: &[u8], first: u64, last: u64) -> u64 {
    let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
    let Some(bytes) = s.get(fb..=lb) else {
        return 0;
    };
    let mut count = popcount(bytes);
    // Take away the bits of the edge bytes that lie outside the range.
    let head = bytes[0] & !(0xffu8 >> (first & 7));
    let tail = bytes[bytes.len() - 1] & (0x7fu8 >> (last & 7));
    count -= u64::from(head.count_ones()) + u64::from(tail.count_ones());
    count
}

/// Number of set bits in `s`.
pub fn popcount(s: &[u8]) -> u64 {
    let mut chunks = s.chunks_exact(8);
    let mut count: u64 = chunks
        .by_ref()
        .map(|c| {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            u64::from(u64::from_ne_bytes(w).count_ones())
        })
        .sum();
    count += chunks
        .remainder()
        .iter()
        .map(|b| u64::from(b.count_ones()))
        .sum::<u64>();
    count
}

/// BITCOUNT: set bits of `s`, in the whole string or in `start..=end` counted in `unit`s.
pub fn bitcount(s: &[u8], range: Option<(i64, i64, RangeUnit)>) -> u64 {
    let Some((start, end, unit)) = range else {
        return popcount(s);
    };
    // Both indexes from the end and in reverse order select nothing (even after clamping).
    if start < 0 && end < 0 && start > end {
        return 0;
    }
    match bit_range(s.len(), start, end, unit) {
        Some((first, last)) => count_ones_in(s, first, last),
        None => 0,
    }
}

/// Position of the first bit equal to `bit` in the inclusive bit range `first..=last` of `s`.
pub fn find_bit_in(s: &[u8], bit: bool, first: u64, last: u64) -> Option<u64> {
    let skip = if bit { 0x00 } else { 0xff };
    let mut pos = first;
    while pos <= last {
        let byte = *s.get((pos >> 3) as usize)?;
        if pos & 7 == 0 && byte == skip && pos + 7 <= last {
            pos += 8;
            continue;
        }
        if (byte & (0x80 >> (pos & 7)) != 0) == bit {
            return Some(pos);
        }
        pos += 1;
    }
    None
}

/// BITPOS: the first bit equal to `bit`, searching the whole string or from `start` (to `end`
/// when given) in `unit`s. A string is taken as padded with zeros on the right, so looking for
/// a 0 past an all-ones string answers the bit just after it, unless an explicit `end` bounds
/// the search. Empty ranges answer -1. (A missing key is the caller's business.)
pub fn bitpos(s: &[u8], bit: bool, start: Option<i64>, end: Option<i64>, unit: RangeUnit) -> i64 {
    let range = match start {
        None if s.is_empty() => None,
        None => Some((0, s.len() as u64 * 8 - 1)),
        Some(start) => bit_range(s.len(), start, end.unwrap_or(-1), unit),
    };
    let Some((first, last)) = range else {
        return -1;
    };
    match find_bit_in(s, bit, first, last) {
        Some(pos) => pos as i64,
        None if !bit && end.is_none() => (last + 1) as i64,
        None => -1,
    }
}

/// The operation of BITOP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// BITOP over `sources` (shorter ones padded with zero bytes); the result is as long as the
/// longest source. NOT uses only the first source.
pub fn bitop(op: BitOp, sources: &[&[u8]]) -> Vec<u8> {
    let maxlen = sources.iter().map(|s| s.len()).max().unwrap_or(0);
    let byte_at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    let Some((first, rest)) = sources.split_first() else {
        return Vec::new();
    };
    let mut out: Vec<u8> = (0..maxlen).map(|i| byte_at(first, i)).collect();
    match op {
        BitOp::Not => out.iter_mut().for_each(|b| *b = !*b),
        BitOp::And | BitOp::Or | BitOp::Xor => {
            for src in rest {
                for (i, b) in out.iter_mut().enumerate() {
                    let x = byte_at(src, i);
                    match op {
                        BitOp::And => *b &= x,
                        BitOp::Or => *b |= x,
                        _ => *b ^= x,
                    }
                }
            }
        }
    }
    out
}

/// A BITFIELD integer type: `i1`..`i64` or `u1`..`u63`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldType {
    pub signed: bool,
    pub bits: u32,
}

impl FieldType {
    /// Parses `i<n>` / `u<n>` (lower-case sign letter, strict decimal width).
    pub fn parse(arg: &[u8]) -> Option<FieldType> {
        let (&sign, width) = arg.split_first()?;
        let signed = match sign {
            b'i' => true,
            b'u' => false,
            _ => return None,
        };
        let bits = crate::util::number::parse_i64(width)?;
        let max = if signed { 64 } else { 63 };
        (1..=max).contains(&bits).then_some(FieldType {
            signed,
            bits: bits as u32,
        })
    }

    /// Smallest value of the type.
    pub fn min(self) -> i128 {
        if self.signed {
            -(1i128 << (self.bits - 1))
        } else {
            0
        }
    }

    /// Largest value of the type.
    pub fn max(self) -> i128 {
        if self.signed {
            (1i128 << (self.bits - 1)) - 1
        } else {
            (1i128 << self.bits) - 1
        }
    }

    /// The low `bits` bits of `v`, read as a value of this type.
    fn wrap(self, v: i128) -> i64 {
        let low = (v as u128) & ((1u128 << self.bits) - 1);
        if self.signed && low & (1u128 << (self.bits - 1)) != 0 {
            (low as i128 - (1i128 << self.bits)) as i64
        } else {
            low as i64
        }
    }
}

/// What BITFIELD does with a value its type cannot hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Keep the low bits (two's complement for signed types).
    Wrap,
    /// Clamp to the type's minimum or maximum.
    Sat,
    /// Refuse the operation.
    Fail,
}

/// Fits `v` into `ty` according to `overflow`; `None` when it does not fit and the policy is
/// [`Overflow::Fail`].
pub fn fit_field(ty: FieldType, v: i128, overflow: Overflow) -> Option<i64> {
    if (ty.min()..=ty.max()).contains(&v) {
        return Some(v as i64);
    }
    match overflow {
        Overflow::Wrap => Some(ty.wrap(v)),
        Overflow::Sat if v > ty.max() => Some(ty.max() as i64),
        Overflow::Sat => Some(ty.min() as i64),
        Overflow::Fail => None,
    }
}

/// Reads the field of type `ty` at bit `offset`; bits past the end of `s` read as 0.
pub fn get_field(s: &[u8], offset: u64, ty: FieldType) -> i64 {
    let mut raw: u64 = 0;
    for i in 0..u64::from(ty.bits) {
        raw = (raw << 1) | u64::from(get_bit(s, offset + i));
    }
    ty.wrap(i128::from(raw))
}

/// Writes the low `ty.bits` bits of `value` at bit `offset`, growing `buf` as needed.
pub fn set_field(buf: &mut Vec<u8>, offset: u64, ty: FieldType, value: i64) {
    let raw = value as u64;
    for i in 0..u64::from(ty.bits) {
        let bit = (raw >> (u64::from(ty.bits) - 1 - i)) & 1 == 1;
        set_bit(buf, offset + i, bit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const I8: FieldType = FieldType {
        signed: true,
        bits: 8,
    };
    const U4: FieldType = FieldType {
        signed: false,
        bits: 4,
    };

    #[test]
    fn bits_are_numbered_from_the_most_significant() {
        let mut v = Vec::new();
        assert!(!set_bit(&mut v, 0, true));
        assert_eq!(v, vec![0x80]);
        set_bit(&mut v, 15, true);
        assert_eq!(v, vec![0x80, 0x01]);
        assert!(set_bit(&mut v, 15, false));
        assert_eq!(v, vec![0x80, 0x00]);
        assert!(get_bit(&v, 0));
        assert!(!get_bit(&v, 1));
        assert!(!get_bit(&v, 1 << 40));
    }

    #[test]
    fn range_normalisation_clamps_and_counts_from_end() {
        assert_eq!(normalize_range(10, 0, -1), Some((0, 9)));
        assert_eq!(normalize_range(10, -3, 100), Some((7, 9)));
        assert_eq!(normalize_range(10, -100, 2), Some((0, 2)));
        assert_eq!(normalize_range(10, 5, 2), None);
        assert_eq!(normalize_range(0, 0, -1), None);
        assert_eq!(normalize_range(3, i64::MIN, i64::MAX), Some((0, 2)));
    }

    #[test]
    fn bitcount_by_bytes_and_bits() {
        let s = [0xff, 0xf0, 0x00];
        assert_eq!(bitcount(&s, None), 12);
        assert_eq!(bitcount(&s, Some((1, 1, RangeUnit::Byte))), 4);
        assert_eq!(bitcount(&s, Some((-2, -1, RangeUnit::Byte))), 4);
        assert_eq!(bitcount(&s, Some((5, 10, RangeUnit::Bit))), 6);
        assert_eq!(bitcount(&s, Some((3, 3, RangeUnit::Bit))), 1);
        assert_eq!(bitcount(&s, Some((12, 23, RangeUnit::Bit))), 0);
        assert_eq!(bitcount(&s, Some((-1, -2, RangeUnit::Byte))), 0);
        assert_eq!(bitcount(&[], Some((0, -1, RangeUnit::Byte))), 0);
    }

    #[test]
    fn popcount_matches_bytewise_count() {
        let s: Vec<u8> = (0..=255u8).chain(0..37).collect();
        let naive: u64 = s.iter().map(|b| u64::from(b.count_ones())).sum();
        assert_eq!(popcount(&s), naive);
        assert_eq!(count_ones_in(&s, 3, 1000), {
            (3..=1000).filter(|&i| get_bit(&s, i)).count() as u64
        });
    }

    #[test]
    fn bitpos_whole_string() {
        assert_eq!(bitpos(&[0x00, 0x10], true, None, None, RangeUnit::Byte), 11);
        assert_eq!(
            bitpos(&[0xff, 0xfe], false, None, None, RangeUnit::Byte),
            15
        );
        assert_eq!(bitpos(&[0x00], true, None, None, RangeUnit::Byte), -1);
        // A string of ones is followed by implicit zeros.
        assert_eq!(
            bitpos(&[0xff, 0xff], false, None, None, RangeUnit::Byte),
            16
        );
        assert_eq!(bitpos(&[], false, None, None, RangeUnit::Byte), -1);
    }

    #[test]
    fn bitpos_with_ranges() {
        let s = [0xff, 0xff, 0xff];
        assert_eq!(bitpos(&s, false, Some(1), None, RangeUnit::Byte), 24);
        assert_eq!(bitpos(&s, false, Some(1), Some(-1), RangeUnit::Byte), -1);
        assert_eq!(bitpos(&s, true, Some(2), None, RangeUnit::Byte), 16);
        assert_eq!(bitpos(&s, true, Some(9), Some(9), RangeUnit::Bit), 9);
        assert_eq!(bitpos(&s, false, Some(9), None, RangeUnit::Bit), 24);
        assert_eq!(bitpos(&s, false, Some(9), Some(20), RangeUnit::Bit), -1);
        assert_eq!(bitpos(&s, true, Some(5), Some(2), RangeUnit::Byte), -1);
        let z = [0x00, 0x01];
        assert_eq!(bitpos(&z, true, Some(3), Some(14), RangeUnit::Bit), -1);
        assert_eq!(bitpos(&z, true, Some(3), Some(15), RangeUnit::Bit), 15);
        assert_eq!(bitpos(&z, false, Some(-1), None, RangeUnit::Byte), 8);
    }

    #[test]
    fn bitop_pads_short_sources_with_zeros() {
        let a: &[u8] = &[0xf0, 0x0f];
        let b: &[u8] = &[0xff];
        assert_eq!(bitop(BitOp::And, &[a, b]), vec![0xf0, 0x00]);
        assert_eq!(bitop(BitOp::Or, &[a, b]), vec![0xff, 0x0f]);
        assert_eq!(bitop(BitOp::Xor, &[a, b]), vec![0x0f, 0x0f]);
        assert_eq!(bitop(BitOp::Not, &[a]), vec![0x0f, 0xf0]);
        assert_eq!(bitop(BitOp::Or, &[b"", b""]), Vec::<u8>::new());
    }

    #[test]
    fn field_types_parse_strictly() {
        assert_eq!(
            FieldType::parse(b"i64"),
            Some(FieldType {
                signed: true,
                bits: 64
            })
        );
        assert_eq!(
            FieldType::parse(b"u63"),
            Some(FieldType {
                signed: false,
                bits: 63
            })
        );
        for bad in [
            &b"u64"[..],
            b"i65",
            b"i0",
            b"I8",
            b"u",
            b"",
            b"i08",
            b"i+8",
            b"x8",
        ] {
            assert_eq!(FieldType::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn fields_read_and_write_across_bytes() {
        let mut v = Vec::new();
        set_field(&mut v, 5, I8, -2);
        assert_eq!(v, vec![0b0000_0111, 0b1111_0000]);
        assert_eq!(get_field(&v, 5, I8), -2);
        assert_eq!(
            get_field(
                &v,
                5,
                FieldType {
                    signed: false,
                    bits: 8
                }
            ),
            254
        );
        assert_eq!(get_field(&v, 100, I8), 0);
        set_field(
            &mut v,
            0,
            FieldType {
                signed: true,
                bits: 64,
            },
            i64::MIN,
        );
        assert_eq!(
            get_field(
                &v,
                0,
                FieldType {
                    signed: true,
                    bits: 64
                }
            ),
            i64::MIN
        );
    }

    #[test]
    fn overflow_policies() {
        assert_eq!(fit_field(I8, 127, Overflow::Fail), Some(127));
        assert_eq!(fit_field(I8, 128, Overflow::Wrap), Some(-128));
        assert_eq!(fit_field(I8, 128, Overflow::Sat), Some(127));
        assert_eq!(fit_field(I8, -129, Overflow::Sat), Some(-128));
        assert_eq!(fit_field(I8, 128, Overflow::Fail), None);
        assert_eq!(fit_field(U4, 17, Overflow::Wrap), Some(1));
        assert_eq!(fit_field(U4, -1, Overflow::Wrap), Some(15));
        assert_eq!(fit_field(U4, -1, Overflow::Sat), Some(0));
        assert_eq!(fit_field(U4, 16, Overflow::Sat), Some(15));
        let i64t = FieldType {
            signed: true,
            bits: 64,
        };
        let big = i128::from(i64::MAX) + 1;
        assert_eq!(fit_field(i64t, big, Overflow::Wrap), Some(i64::MIN));
        assert_eq!(fit_field(i64t, big, Overflow::Sat), Some(i64::MAX));
    }
}
