//! Byte layouts of everything pika-rs stores in RocksDB, with their encoders and decoders.
//!
//! Every record of a user key starts with the physical database id and the key's cluster slot, so
//! one database or one slot is a contiguous key range (FLUSHDB, slot migration and
//! `CLUSTER GETKEYSINSLOT` are range operations, never full scans).
//!
//! ```text
//! cf "meta"    key:   | db: u16 BE | slot: u16 BE | user key bytes ...            |
//!              value: | type: u8 | flags: u8 | expire_ms: u64 BE | body ...        |
//!                     body for strings:      the value bytes, inline
//!                     body for collections:  | version: u64 BE | count: u64 BE | extra ... |
//!                                            (extra: list head/tail indexes and the like)
//! cf "expire"  key:   | deadline_ms: u64 BE | db: u16 BE | slot: u16 BE | user key |
//!              value: empty. An index ordered by deadline; an entry may be stale (the key was
//!              deleted or its TTL changed), so readers always confirm against the meta record.
//! cf "default" system records, see [`SysKey`]:
//!              "format-version"   -> u32 BE, the on-disk format of this database
//!              "dbsize" | db u16  -> i64 BE counter, maintained by merge operands
//!              "expires" | db u16 -> i64 BE counter of keys with a deadline, likewise
//!              "dbmap"            -> u16 BE per logical database: its physical id (SWAPDB)
//! ```
//! `expire_ms == 0` means the key has no expiry. Element column families of collections use
//! `| db | slot | key len: u32 BE | key | version: u64 BE | sub-key |` so a version's elements are
//! one range (the collections layer documents its own values).

use bytes::Bytes;

/// The on-disk format this build writes. Bump it with every incompatible change and add an
/// upgrade step in `storage::format`.
pub const FORMAT_VERSION: u32 = 1;

/// Size of the fixed header that starts every meta value.
pub const META_HEADER_LEN: usize = 10;

/// Length of the `db | slot` prefix.
pub const KEY_PREFIX_LEN: usize = 4;

/// The Redis type of a key, stored as the first byte of its meta value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum DataType {
    String = 1,
    Hash = 2,
    List = 3,
    Set = 4,
    ZSet = 5,
    Stream = 6,
}

impl DataType {
    /// Decodes the type byte; unknown bytes mean corruption or a newer format.
    pub fn from_byte(b: u8) -> Option<DataType> {
        Some(match b {
            1 => DataType::String,
            2 => DataType::Hash,
            3 => DataType::List,
            4 => DataType::Set,
            5 => DataType::ZSet,
            6 => DataType::Stream,
            _ => return None,
        })
    }

    /// The name `TYPE` answers and `SCAN ... TYPE` filters on.
    pub fn name(self) -> &'static str {
        match self {
            DataType::String => "string",
            DataType::Hash => "hash",
            DataType::List => "list",
            DataType::Set => "set",
            DataType::ZSet => "zset",
            DataType::Stream => "stream",
        }
    }
}

/// Bits of the meta value's flags byte.
pub mod flags {
    /// The string was changed in place (APPEND, SETRANGE): Redis reports such values as `raw`.
    pub const RAW_STRING: u8 = 0x01;
}

/// A decoded meta value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaValue {
    pub data_type: DataType,
    pub flags: u8,
    /// Absolute deadline in Unix milliseconds; 0 = persistent.
    pub expire_ms: u64,
    /// String value, or the collection header (version, count, extra).
    pub body: Bytes,
}

impl MetaValue {
    /// A string value record.
    pub fn string(value: Bytes, expire_ms: u64, flags: u8) -> MetaValue {
        MetaValue {
            data_type: DataType::String,
            flags,
            expire_ms,
            body: value,
        }
    }

    /// True when the key's deadline has passed at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_ms != 0 && self.expire_ms <= now_ms
    }

    /// Serialises the record.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(META_HEADER_LEN + self.body.len());
        out.push(self.data_type as u8);
        out.push(self.flags);
        out.extend_from_slice(&self.expire_ms.to_be_bytes());
        out.extend_from_slice(&self.body);
        out
    }

    /// Parses a record; `None` for a corrupt or unknown record.
    pub fn decode(raw: &[u8]) -> Option<MetaValue> {
        let header = raw.get(..META_HEADER_LEN)?;
        let data_type = DataType::from_byte(header[0])?;
        let expire_ms = u64::from_be_bytes(header[2..10].try_into().ok()?);
        Some(MetaValue {
            data_type,
            flags: header[1],
            expire_ms,
            body: Bytes::copy_from_slice(&raw[META_HEADER_LEN..]),
        })
    }

    /// True when an encoded record exists and has not expired at `now_ms`, read without
    /// decoding the body (the same rule as [`MetaValue::is_expired`]).
    pub fn raw_is_live(raw: &[u8], now_ms: u64) -> bool {
        MetaValue::peek_expire(raw).is_some_and(|e| e == 0 || e > now_ms)
    }

    /// Reads only the deadline of an encoded record, without copying the body.
    pub fn peek_expire(raw: &[u8]) -> Option<u64> {
        Some(u64::from_be_bytes(raw.get(2..10)?.try_into().ok()?))
    }
}

/// Builds the meta-CF key of `key` in physical database `db`.
pub fn encode_meta_key(db: u16, slot: u16, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(KEY_PREFIX_LEN + key.len());
    out.extend_from_slice(&db.to_be_bytes());
    out.extend_from_slice(&slot.to_be_bytes());
    out.extend_from_slice(key);
    out
}

/// Splits a meta-CF key into (db, slot, user key).
pub fn decode_meta_key(raw: &[u8]) -> Option<(u16, u16, &[u8])> {
    if raw.len() < KEY_PREFIX_LEN {
        return None;
    }
    let db = u16::from_be_bytes([raw[0], raw[1]]);
    let slot = u16::from_be_bytes([raw[2], raw[3]]);
    Some((db, slot, &raw[KEY_PREFIX_LEN..]))
}

/// The first meta key of database `db` (inclusive lower bound of its range).
pub fn db_lower_bound(db: u16) -> Vec<u8> {
    db.to_be_bytes().to_vec()
}

/// The first meta key after database `db` (exclusive upper bound of its range).
pub fn db_upper_bound(db: u16) -> Vec<u8> {
    match db.checked_add(1) {
        Some(next) => next.to_be_bytes().to_vec(),
        // Past every key of the last possible database.
        None => vec![0xff; KEY_PREFIX_LEN + 1],
    }
}

/// The first meta key of `slot` in database `db`.
pub fn slot_lower_bound(db: u16, slot: u16) -> Vec<u8> {
    encode_meta_key(db, slot, b"")
}

/// Builds the expire-index key for a deadline.
pub fn encode_expire_key(deadline_ms: u64, db: u16, slot: u16, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + KEY_PREFIX_LEN + key.len());
    out.extend_from_slice(&deadline_ms.to_be_bytes());
    out.extend_from_slice(&db.to_be_bytes());
    out.extend_from_slice(&slot.to_be_bytes());
    out.extend_from_slice(key);
    out
}

/// Splits an expire-index key into (deadline, the meta key it points at).
pub fn decode_expire_key(raw: &[u8]) -> Option<(u64, &[u8])> {
    let deadline = u64::from_be_bytes(raw.get(..8)?.try_into().ok()?);
    let meta_key = &raw[8..];
    if meta_key.len() < KEY_PREFIX_LEN {
        return None;
    }
    Some((deadline, meta_key))
}

/// Keys of the system records in the default column family.
pub struct SysKey;

impl SysKey {
    pub const FORMAT_VERSION: &'static [u8] = b"format-version";
    pub const DB_MAP: &'static [u8] = b"dbmap";

    /// The persisted key counter of physical database `db`.
    pub fn dbsize(db: u16) -> Vec<u8> {
        let mut k = b"dbsize".to_vec();
        k.extend_from_slice(&db.to_be_bytes());
        k
    }

    /// The persisted counter of keys with a deadline in physical database `db` (INFO keyspace).
    pub fn expires(db: u16) -> Vec<u8> {
        let mut k = b"expires".to_vec();
        k.extend_from_slice(&db.to_be_bytes());
        k
    }
}

/// Merge operands of the counter records: either add a delta or reset to a value.
pub mod counter {
    const ADD: u8 = b'+';
    const SET: u8 = b'=';

    /// An operand adding `delta`.
    pub fn add(delta: i64) -> [u8; 9] {
        let mut op = [0u8; 9];
        op[0] = ADD;
        op[1..].copy_from_slice(&delta.to_be_bytes());
        op
    }

    /// An operand setting the counter to `value`, whatever it was.
    pub fn set(value: i64) -> [u8; 9] {
        let mut op = [0u8; 9];
        op[0] = SET;
        op[1..].copy_from_slice(&value.to_be_bytes());
        op
    }

    /// Decodes a stored counter value: the 9-byte form [`merge`] writes, or 8 bytes BE.
    pub fn decode_value(raw: &[u8]) -> i64 {
        let digits = if raw.len() == 9 {
            raw.get(1..)
        } else {
            raw.get(..8)
        };
        digits
            .and_then(|b| b.try_into().ok())
            .map(i64::from_be_bytes)
            .unwrap_or(0)
    }

    /// Applies operands, oldest first, to an existing value: the merge operator's job.
    ///
    /// RocksDB also calls this as a *partial* merge (no base value, result stored as an operand
    /// and merged again later), so the result is itself an operand: `SET` when the outcome is
    /// absolute (a base value or a `SET` was seen), `ADD` when it is still relative. Read as a
    /// value, both decode to the counter.
    pub fn merge<'a>(existing: Option<&[u8]>, operands: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
        let mut absolute = existing.is_some();
        let mut value = existing.map(decode_value).unwrap_or(0);
        for op in operands {
            let Some(arg) = op.get(1..9).and_then(|b| <[u8; 8]>::try_from(b).ok()) else {
                continue;
            };
            let arg = i64::from_be_bytes(arg);
            match op[0] {
                ADD => value = value.wrapping_add(arg),
                SET => {
                    value = arg;
                    absolute = true;
                }
                _ => {}
            }
        }
        if absolute {
            set(value).to_vec()
        } else {
            add(value).to_vec()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_value_round_trips() {
        let v = MetaValue::string(Bytes::from_static(b"hello"), 1234, flags::RAW_STRING);
        let raw = v.encode();
        assert_eq!(raw.len(), META_HEADER_LEN + 5);
        assert_eq!(MetaValue::decode(&raw), Some(v));
        assert_eq!(MetaValue::peek_expire(&raw), Some(1234));
    }

    #[test]
    fn corrupt_meta_value_is_rejected() {
        assert_eq!(MetaValue::decode(b"\x01\x00\x00"), None);
        assert_eq!(MetaValue::decode(&[99u8; 12]), None);
    }

    #[test]
    fn meta_key_round_trips_and_sorts_by_db_then_slot() {
        let k = encode_meta_key(3, 12182, b"foo");
        assert_eq!(decode_meta_key(&k), Some((3, 12182, &b"foo"[..])));
        assert!(encode_meta_key(0, 16383, b"z") < encode_meta_key(1, 0, b"a"));
        assert!(db_lower_bound(1) <= encode_meta_key(1, 0, b""));
        assert!(encode_meta_key(1, 16383, &[0xff; 8]) < db_upper_bound(1));
        assert!(db_upper_bound(1) <= encode_meta_key(2, 0, b""));
    }

    #[test]
    fn expire_keys_sort_by_deadline() {
        let a = encode_expire_key(5, 9, 9, b"zzz");
        let b = encode_expire_key(6, 0, 0, b"aaa");
        assert!(a < b);
        let (deadline, meta) = decode_expire_key(&a).expect("valid");
        assert_eq!(deadline, 5);
        assert_eq!(meta, encode_meta_key(9, 9, b"zzz").as_slice());
    }

    #[test]
    fn counter_operands_add_and_reset() {
        let ops = [
            counter::add(5),
            counter::add(-2),
            counter::set(10),
            counter::add(1),
        ];
        let merged = counter::merge(None, ops.iter().map(|o| &o[..]));
        assert_eq!(counter::decode_value(&merged), 11);
        let again = counter::merge(Some(&merged), [counter::add(4)].iter().map(|o| &o[..]));
        assert_eq!(counter::decode_value(&again), 15);
    }

    #[test]
    fn counter_partial_merges_stay_relative() {
        // A partial merge (no base) of additions must add to whatever base lies below it.
        let partial = counter::merge(
            None,
            [counter::add(2), counter::add(3)].iter().map(|o| &o[..]),
        );
        let base = counter::set(10);
        let full = counter::merge(Some(&base[..]), [&partial[..]].into_iter());
        assert_eq!(counter::decode_value(&full), 15);
        let reset = counter::merge(
            None,
            [counter::add(2), counter::set(7)].iter().map(|o| &o[..]),
        );
        let full = counter::merge(Some(&base[..]), [&reset[..]].into_iter());
        assert_eq!(counter::decode_value(&full), 7);
    }
}
