//! Per-type key counts of a database, by a scan of its meta records (INFO keyspace's type
//! breakdown and average TTL). The write path keeps only the total and expiring counts;
//! types are counted here, off the write path, by the keyspace statistics thread.

use super::codec::{self, Cf, DataType, MetaValue};
use super::{Storage, StorageError};
use crate::util::clock::unix_ms;

/// What one scan of a database found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KeyCounts {
    pub strings: u64,
    pub hashes: u64,
    pub lists: u64,
    pub sets: u64,
    pub zsets: u64,
    pub streams: u64,
    /// Live keys with a deadline.
    pub expires: u64,
    /// Keys past their deadline that the expirer has not removed yet.
    pub invalid: u64,
    /// Mean remaining time to live of the keys with a deadline, in milliseconds.
    pub avg_ttl_ms: u64,
}

impl KeyCounts {
    pub fn keys(&self) -> u64 {
        self.strings + self.hashes + self.lists + self.sets + self.zsets + self.streams
    }
}

impl Storage {
    /// Counts the keys of logical database `db` by type. Reads without locks; a long scan
    /// sees RocksDB's state as it goes.
    pub fn count_keys(&self, db: usize) -> Result<KeyCounts, StorageError> {
        let pdb = self.physical(db)?;
        let lower = codec::db_lower_bound(pdb);
        let upper = codec::db_upper_bound(pdb);
        let now = unix_ms();
        let mut counts = KeyCounts::default();
        let mut ttl_sum: u128 = 0;
        let mut cur = self.engine.range(Cf::Meta, &lower, Some(&upper));
        while let Some((_, v)) = cur.current() {
            if let Some(meta) = MetaValue::decode(v) {
                if meta.is_expired(now) {
                    counts.invalid += 1;
                } else {
                    if meta.expire_ms != 0 {
                        counts.expires += 1;
                        ttl_sum += u128::from(meta.expire_ms.saturating_sub(now));
                    }
                    *match meta.data_type {
                        DataType::String => &mut counts.strings,
                        DataType::Hash => &mut counts.hashes,
                        DataType::List => &mut counts.lists,
                        DataType::Set => &mut counts.sets,
                        DataType::ZSet => &mut counts.zsets,
                        DataType::Stream => &mut counts.streams,
                    } += 1;
                }
            }
            cur.advance();
        }
        cur.status()?;
        if counts.expires > 0 {
            counts.avg_ttl_ms = (ttl_sum / u128::from(counts.expires)) as u64;
        }
        Ok(counts)
    }
}
