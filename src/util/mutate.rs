//! Test support for the property tests of the parsers and decoders: byte-level mutations of
//! valid input (the way a fuzzer damages a corpus), as proptest strategies.
//!
//! Mutated valid input reaches much deeper into a decoder than random bytes, which rarely get
//! past the first length or tag check.

use proptest::prelude::*;

/// One edit of a byte string. Positions are taken modulo the length at the time of the edit,
/// so any `usize` is valid for any input.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Replace the byte at a position.
    Set(usize, u8),
    /// XOR one bit of the byte at a position.
    FlipBit(usize, u8),
    /// Insert a byte before a position.
    Insert(usize, u8),
    /// Remove the byte at a position.
    Remove(usize),
    /// Cut the input at a position.
    Truncate(usize),
    /// Copy a few bytes from one place over another (duplicates lengths and tags).
    Splice(usize, usize, u8),
    /// Overwrite 8 bytes at a position with a little- or big-endian interesting number
    /// (0, 1, -1, 2^31, 2^32, 2^63 and neighbours), the values that break length checks.
    Number(usize, u64, bool),
}

const INTERESTING: &[u64] = &[
    0,
    1,
    0x7f,
    0x80,
    0xff,
    0x7fff,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    i64::MAX as u64,
    1 << 63,
    u64::MAX,
];

/// A single mutation.
pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), 0u8..8).prop_map(|(i, bit)| Mutation::FlipBit(i, bit)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<usize>(), 1u8..16).prop_map(|(f, t, n)| Mutation::Splice(f, t, n)),
        (
            any::<usize>(),
            prop::sample::select(INTERESTING),
            any::<bool>()
        )
            .prop_map(|(i, n, le)| Mutation::Number(i, n, le)),
    ]
}

/// One to `max` mutations.
pub fn mutations(max: usize) -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(mutation(), 1..=max)
}

/// `data` with the mutations applied in order.
pub fn apply(data: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut out = data.to_vec();
    for m in mutations {
        let len = out.len();
        match *m {
            Mutation::Set(i, b) if len > 0 => out[i % len] = b,
            Mutation::FlipBit(i, bit) if len > 0 => out[i % len] ^= 1 << bit,
            Mutation::Insert(i, b) => out.insert(i % (len + 1), b),
            Mutation::Remove(i) if len > 0 => {
                out.remove(i % len);
            }
            Mutation::Truncate(i) => out.truncate(i % (len + 1)),
            Mutation::Splice(from, to, n) if len > 0 => {
                let (from, to) = (from % len, to % len);
                let n = usize::from(n).min(len - from).min(len - to);
                let piece = out[from..from + n].to_vec();
                out[to..to + n].copy_from_slice(&piece);
            }
            Mutation::Number(i, n, le) if len > 0 => {
                let bytes = if le { n.to_le_bytes() } else { n.to_be_bytes() };
                let at = i % len;
                let n = (len - at).min(8);
                out[at..at + n].copy_from_slice(&bytes[..n]);
            }
            _ => {}
        }
    }
    out
}
