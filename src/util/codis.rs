//! Codis' slots: 1024 of them, `crc32(key or its hash tag) % 1024`, for the SLOTS* commands
//! Codis' proxy and dashboard send to Pika. Codis' hash tag differs from Redis Cluster's: the
//! bytes between the first `{` and the next `}`, even when empty.

use crc::{Crc, CRC_32_ISO_HDLC};

/// Number of Codis slots.
pub const CODIS_SLOTS: u16 = 1024;

/// CRC-32 (IEEE), as Codis hashes keys.
static CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

/// The part of `key` Codis hashes.
pub fn codis_tag(key: &[u8]) -> &[u8] {
    let Some(open) = key.iter().position(|&b| b == b'{') else {
        return key;
    };
    let rest = &key[open + 1..];
    match rest.iter().position(|&b| b == b'}') {
        Some(close) => &rest[..close],
        None => key,
    }
}

/// The Codis slot of `key`.
pub fn codis_slot(key: &[u8]) -> u16 {
    (CRC32.checksum(codis_tag(key)) % u32::from(CODIS_SLOTS)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_codis() {
        // crc32("foo") = 2356372769, and 2356372769 % 1024 = 289.
        assert_eq!(codis_slot(b"foo"), 289);
        assert_eq!(codis_slot(b"a{foo}b"), 289);
        assert_eq!(codis_tag(b"x{}y"), b"");
        assert_eq!(codis_tag(b"x{y"), b"x{y");
        assert!(codis_slot(b"anything") < CODIS_SLOTS);
    }
}
