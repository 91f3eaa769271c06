//! A stream entry id: `<milliseconds>-<sequence>`, ordered as the pair.

use std::fmt;

/// The id of a stream entry. Ids of one stream only grow; `0-0` is never an entry's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// Sixteen big-endian bytes, which sort as the ids do (key suffixes, RDB master ids).
    pub fn to_be_bytes(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.ms.to_be_bytes());
        out[8..].copy_from_slice(&self.seq.to_be_bytes());
        out
    }

    /// The inverse of [`StreamId::to_be_bytes`]; `None` unless `bytes` is sixteen long.
    pub fn from_be_bytes(bytes: &[u8]) -> Option<StreamId> {
        let ms = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
        let seq = u64::from_be_bytes(bytes.get(8..16)?.try_into().ok()?);
        (bytes.len() == 16).then_some(StreamId { ms, seq })
    }

    /// The next id up, `None` past the greatest.
    pub fn successor(self) -> Option<StreamId> {
        match self.seq.checked_add(1) {
            Some(seq) => Some(StreamId { ms: self.ms, seq }),
            None => self.ms.checked_add(1).map(|ms| StreamId { ms, seq: 0 }),
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_sort_as_ids_and_round_trip() {
        let a = StreamId::new(1, u64::MAX);
        let b = StreamId::new(2, 0);
        assert!(a < b && a.to_be_bytes() < b.to_be_bytes());
        assert_eq!(StreamId::from_be_bytes(&a.to_be_bytes()), Some(a));
        assert_eq!(StreamId::from_be_bytes(&[0; 15]), None);
        assert_eq!(a.successor(), Some(b));
        assert_eq!(StreamId::MAX.successor(), None);
        assert_eq!(b.to_string(), "2-0");
    }
}
