//! Redis Cluster hash slots.
//!
//! CLUSTER KEYSLOT, cross-slot checks and key routing must agree with real
//! Redis clusters, so this follows Redis' definition exactly: CRC16/XMODEM of
//! the key (or of its hash tag) modulo 16384.

use crc::{Crc, CRC_16_XMODEM};

/// Number of hash slots in a Redis cluster; fixed by the protocol.
pub const SLOT_COUNT: u16 = 16384;

/// CRC16/XMODEM (poly 0x1021, init 0, no reflection) is the checksum Redis
/// Cluster specifies; built once at compile time.
static CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_XMODEM);

/// Returns the part of `key` that is hashed: the bytes between the first `{`
/// and the first `}` after it, when that span is non-empty; otherwise the
/// whole key. Lets users force related keys into one slot.
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        let rest = &key[open + 1..];
        if let Some(close) = rest.iter().position(|&b| b == b'}') {
            if close > 0 {
                return &rest[..close];
            }
        }
    }
    key
}

/// Returns the cluster slot (0..16384) that owns `key`, honouring hash tags.
pub fn key_slot(key: &[u8]) -> u16 {
    // SLOT_COUNT is a power of two, so masking is the modulo.
    CRC16.checksum(hash_tag(key)) & (SLOT_COUNT - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"123456789"), 0x31C3 % SLOT_COUNT);
        assert_eq!(CRC16.checksum(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b""), 0);
    }

    #[test]
    fn hash_tags() {
        assert_eq!(
            key_slot(b"{user1000}.following"),
            key_slot(b"{user1000}.followers")
        );
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"x{foo}y"), key_slot(b"foo"));
        // Only the first `{` counts, and the first `}` after it.
        assert_eq!(hash_tag(b"a{b{c}d}"), b"b{c");
        assert_eq!(hash_tag(b"{a}{b}"), b"a");
        assert_eq!(hash_tag(b"}a{b}"), b"b");
    }

    #[test]
    fn empty_or_unterminated_tags_hash_whole_key() {
        assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(
            key_slot(b"foo{}{bar}"),
            CRC16.checksum(b"foo{}{bar}") % SLOT_COUNT
        );
        assert_ne!(key_slot(b"foo{}{bar}"), key_slot(b"bar"));
        assert_eq!(hash_tag(b"foo{bar"), b"foo{bar");
        assert_eq!(hash_tag(b"{"), b"{");
        assert_eq!(hash_tag(b"{}"), b"{}");
        assert_eq!(hash_tag(b"foo}bar{"), b"foo}bar{");
    }

    #[test]
    fn always_in_range() {
        let mut x: u64 = 0x1234_5678;
        for len in 0..2000usize {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key: Vec<u8> = (0..len % 40).map(|i| (x >> (i % 8 * 8)) as u8).collect();
            assert!(key_slot(&key) < SLOT_COUNT);
        }
    }
}
