//! Redis' DEBUG DIGEST algorithm, so that a pika-rs server, a Redis server and the tools agree
//! on the digest of the same data.
//!
//! Unordered parts (keys, set members, hash fields, sorted-set members) are combined by XOR of
//! SHA-1s, so iteration order does not matter; ordered parts (a list's elements, a key's type
//! then value) are "mixed": `d = SHA1(d xor SHA1(data))`. A key with a TTL adds a fixed marker,
//! not its deadline, so a copy made later still digests the same.

use sha1::{Digest, Sha1};

/// A 20-byte digest; all zeros means "nothing".
pub type Digest20 = [u8; 20];

/// Redis' object type codes, which enter each key's digest.
pub mod type_code {
    pub const STRING: u32 = 0;
    pub const LIST: u32 = 1;
    pub const SET: u32 = 2;
    pub const ZSET: u32 = 3;
    pub const HASH: u32 = 4;
    pub const STREAM: u32 = 6;
}

/// Hex text of a digest, as DEBUG DIGEST prints it.
pub fn to_hex(d: &Digest20) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// `d ^= SHA1(data)`.
fn xor_in(d: &mut Digest20, data: &[u8]) {
    let h: Digest20 = Sha1::digest(data).into();
    for (a, b) in d.iter_mut().zip(h) {
        *a ^= b;
    }
}

/// `d = SHA1(d ^ SHA1(data))`.
fn mix_in(d: &mut Digest20, data: &[u8]) {
    xor_in(d, data);
    *d = Sha1::digest(*d).into();
}

/// The digest of one value, fed element by element: from zeros for DEBUG DIGEST-VALUE, or
/// continuing from its key for a key's share of DEBUG DIGEST.
pub struct ValueDigest(Digest20);

impl ValueDigest {
    /// Starts the digest of a value of Redis type `code` (see [`type_code`]).
    pub fn new(code: u32) -> Self {
        Self::from_state([0u8; 20], code)
    }

    /// Starts the digest of a key and its value, as one entry of the dataset digest.
    pub fn for_key(key: &[u8], code: u32) -> Self {
        let mut d = [0u8; 20];
        mix_in(&mut d, key);
        Self::from_state(d, code)
    }

    fn from_state(mut d: Digest20, code: u32) -> Self {
        mix_in(&mut d, &code.to_be_bytes());
        ValueDigest(d)
    }

    /// A string's bytes, or the next list element (order matters).
    pub fn ordered(&mut self, bytes: &[u8]) {
        mix_in(&mut self.0, bytes);
    }

    /// A set member.
    pub fn member(&mut self, member: &[u8]) {
        xor_in(&mut self.0, member);
    }

    /// A hash field and its value.
    pub fn field(&mut self, field: &[u8], value: &[u8]) {
        let mut e = [0u8; 20];
        mix_in(&mut e, field);
        mix_in(&mut e, value);
        xor_in(&mut self.0, &e);
    }

    /// A sorted-set member and its score (printed as C's `%.17g`).
    pub fn scored(&mut self, member: &[u8], score: f64) {
        let mut e = [0u8; 20];
        mix_in(&mut e, member);
        mix_in(&mut e, format_g17(score).as_bytes());
        xor_in(&mut self.0, &e);
    }

    pub fn finish(mut self, has_ttl: bool) -> Digest20 {
        if has_ttl {
            xor_in(&mut self.0, b"!!expire!!");
        }
        self.0
    }
}

/// The digest of a whole dataset (DEBUG DIGEST). Keys must come database by database in
/// ascending order; within a database any order gives the same result.
#[derive(Default)]
pub struct DatasetDigest {
    total: Digest20,
    db: Option<usize>,
}

impl DatasetDigest {
    /// Adds one key's digest (from [`ValueDigest::for_key`]).
    pub fn add(&mut self, db: usize, keyed: &Digest20) {
        if self.db != Some(db) {
            debug_assert!(self.db.is_none_or(|d| d < db), "databases out of order");
            mix_in(&mut self.total, &(db as u32).to_be_bytes());
            self.db = Some(db);
        }
        xor_in(&mut self.total, keyed);
    }

    pub fn finish(&self) -> Digest20 {
        self.total
    }
}

/// C's `printf("%.17g", x)`: 17 significant digits, the shorter of fixed and exponent forms,
/// trailing zeros dropped.
pub fn format_g17(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let sci = format!("{x:.16e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..17).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim_zeros(mantissa), exp.abs())
    } else {
        let fixed = format!("{x:.*}", (16 - exp) as usize);
        trim_zeros(&fixed).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g17_matches_c_printf() {
        let cases = [
            (1.0, "1"),
            (1.5, "1.5"),
            (0.1, "0.10000000000000001"),
            (-2.25, "-2.25"),
            (1e20, "1e+20"),
            (1.2345678901234567e17, "1.2345678901234566e+17"),
            (12345678901234567.0, "12345678901234568"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            (3.0e-300, "3.0000000000000002e-300"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (0.0, "0"),
        ];
        for (x, want) in cases {
            assert_eq!(format_g17(x), want, "{x:e}");
        }
    }

    #[test]
    fn empty_dataset_is_zeros() {
        assert_eq!(to_hex(&DatasetDigest::default().finish()), "0".repeat(40));
    }
}
