//! Byte layouts of everything pika-rs stores in RocksDB, with their encoders and decoders, and
//! the column families that hold them ([`Cf`]: their names live here and nowhere else).
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
//!              "version-floor"    -> u64 BE, above every collection version handed out
//!              "functions"        -> the FUNCTION libraries: a tag line, then per library
//!                                    u32 BE code length | code (see `cmd::scripting::library`)
//! ```
//! `expire_ms == 0` means the key has no expiry.
//!
//! Collections (hash, list, set, zset) keep one entry per element in their type's column family:
//! ```text
//! element key: | db: u16 BE | slot: u16 BE | key len: u32 BE | user key | version: u64 BE | sub-key |
//! cf "hash"    sub-key: field               value: the field's value
//! cf "set"     sub-key: member              value: empty
//! cf "list"    sub-key: index: u64 BE       value: the element (see `storage::list`)
//! cf "zset"    sub-key: member              value: score, [`encode_score`] (8 bytes)
//! cf "zscore"  sub-key: encode_score(score) | member     value: empty
//! cf "stream"  sub-key: entry id (ms u64 BE | seq u64 BE)
//!              value: | node: u64 | pairs: u32 | (len: u32 | bytes) per field and value |
//! cf "stream_group" sub-key: a tag byte, then (see `codec::stream`):
//!              'g' | group                                -> last_id, entries_read, counts
//!              'p' | glen u32 | group | id                -> delivery time, count, consumer
//!              'c' | glen u32 | group | clen u32 | consumer | id -> empty (a consumer's PEL)
//!              'k' | glen u32 | group | consumer          -> seen time, active time, pending
//!              'n' | node u64                             -> last id of a closed node
//! ```
//! A stream's meta body is the collection header (count = length) whose `extra` holds
//! [`stream::StreamCounters`]: last id, max deleted id, entries added, group count, and the
//! node Redis would be filling (for `~` trimming). Unlike other collections an empty stream
//! stays (XADD ... MAXLEN 0, XGROUP CREATE ... MKSTREAM).
//! The length prefix keeps `a` + version apart from `ab`'s elements; the version makes every
//! incarnation of a key its own range. Deleting or overwriting a collection only replaces its
//! meta record: elements whose version is no longer the key's live version are invisible, and a
//! compaction filter (`engine`) drops them in the background, so DEL of a huge key is O(1).

use bytes::Bytes;

pub mod stream;

/// The on-disk format this build writes. Bump it with every incompatible change and add an
/// upgrade step in `storage::format`.
pub const FORMAT_VERSION: u32 = 1;

/// Size of the fixed header that starts every meta value.
pub const META_HEADER_LEN: usize = 10;

/// Length of the `db | slot` prefix.
pub const KEY_PREFIX_LEN: usize = 4;

/// The column families, named in one place (the layouts above say what each holds).
///
/// RocksDB numbers column families in creation order: "default" is 0 and the engine creates
/// the others in the order of [`Cf::ALL`], so in a database pika created a column family's
/// RocksDB id is its index in [`Cf::ALL`] ([`Cf::from_index`]). The engine reads the real ids
/// when it opens a database (`Engine::cf_by_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cf {
    /// System records: format version, counters, database map.
    Default,
    /// One metadata record per user key (strings inline).
    Meta,
    /// Expiry index ordered by deadline.
    Expire,
    /// Hash fields.
    Hash,
    /// Set members.
    Set,
    /// List elements by index.
    List,
    /// Sorted-set members with their scores.
    ZSet,
    /// Sorted-set (score, member) order index.
    ZScore,
    /// Stream entries by id.
    Stream,
    /// Stream consumer groups, their pending entries and consumers.
    StreamGroup,
}

impl Cf {
    /// Every column family, in creation order.
    /// New families go at the end, so existing databases keep their ids (the engine creates
    /// missing families when it opens a database).
    pub const ALL: [Cf; 10] = [
        Cf::Default,
        Cf::Meta,
        Cf::Expire,
        Cf::Hash,
        Cf::Set,
        Cf::List,
        Cf::ZSet,
        Cf::ZScore,
        Cf::Stream,
        Cf::StreamGroup,
    ];

    /// The RocksDB name of the column family.
    pub fn name(self) -> &'static str {
        match self {
            Cf::Default => "default",
            Cf::Meta => "meta",
            Cf::Expire => "expire",
            Cf::Hash => "hash",
            Cf::Set => "set",
            Cf::List => "list",
            Cf::ZSet => "zset",
            Cf::ZScore => "zscore",
            Cf::Stream => "stream",
            Cf::StreamGroup => "stream_group",
        }
    }

    /// True for the column families holding collection elements.
    pub fn holds_elements(self) -> bool {
        matches!(
            self,
            Cf::Hash | Cf::Set | Cf::List | Cf::ZSet | Cf::ZScore | Cf::Stream | Cf::StreamGroup
        )
    }

    /// The column family whose RocksDB id is `id` in a database the engine created (its
    /// index in [`Cf::ALL`]); `None` for an id the engine does not create. For readers of
    /// files (the binlog tools), which cannot ask the engine.
    pub fn from_index(id: u32) -> Option<Cf> {
        Cf::ALL.get(id as usize).copied()
    }
}

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
    /// The collection outgrew Redis' compact encoding (listpack, intset) at some point; Redis
    /// never converts back, so OBJECT ENCODING keeps reporting the large encoding.
    pub const LARGE_ENCODING: u8 = 0x02;
}

impl DataType {
    /// True for types whose elements live in element column families.
    pub fn is_collection(self) -> bool {
        matches!(
            self,
            DataType::Hash | DataType::List | DataType::Set | DataType::ZSet | DataType::Stream
        )
    }
}

/// The header at the start of a collection's meta body: `| version: u64 | count: u64 | extra |`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CollectionHeader {
    /// Incarnation of the key; its elements carry it in their keys.
    pub version: u64,
    /// Number of elements.
    pub count: u64,
    /// Type-specific bytes (list head and tail indexes).
    pub extra: Vec<u8>,
}

impl CollectionHeader {
    /// Length of version and count.
    pub const FIXED_LEN: usize = 16;

    /// Parses a collection meta body; `None` when it is too short.
    pub fn decode(body: &[u8]) -> Option<CollectionHeader> {
        let version = u64::from_be_bytes(body.get(..8)?.try_into().ok()?);
        let count = u64::from_be_bytes(body.get(8..16)?.try_into().ok()?);
        Some(CollectionHeader {
            version,
            count,
            extra: body[16..].to_vec(),
        })
    }

    /// Serialises the header as a meta body.
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(Self::FIXED_LEN + self.extra.len());
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&self.count.to_be_bytes());
        out.extend_from_slice(&self.extra);
        Bytes::from(out)
    }
}

/// The common prefix of every element of one incarnation (`version`) of a collection key.
pub fn encode_element_prefix(db: u16, slot: u16, key: &[u8], version: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(KEY_PREFIX_LEN + 4 + key.len() + 8 + 16);
    out.extend_from_slice(&db.to_be_bytes());
    out.extend_from_slice(&slot.to_be_bytes());
    out.extend_from_slice(&(key.len() as u32).to_be_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&version.to_be_bytes());
    out
}

/// The element prefix (`db | slot | key len | key | version`) that `raw` starts with, when
/// `cf` holds elements and `raw` is long enough: every element of one collection shares it.
pub fn element_scope(cf: Cf, raw: &[u8]) -> Option<&[u8]> {
    if matches!(cf, Cf::Default | Cf::Meta | Cf::Expire) {
        return None;
    }
    let len = u32::from_be_bytes(raw.get(4..8)?.try_into().ok()?) as usize;
    raw.get(..16usize.checked_add(len)?)
}

/// Whether every key below `upper` that is `>= prefix` starts with `prefix`: `upper` extends
/// `prefix` or is [`prefix_upper_bound`] of it.
pub fn bounded_by_prefix(prefix: &[u8], upper: &[u8]) -> bool {
    if upper.starts_with(prefix) {
        return true;
    }
    let Some(last) = prefix.iter().rposition(|&b| b != 0xff) else {
        return false;
    };
    upper.len() == last + 1 && upper[..last] == prefix[..last] && upper[last] == prefix[last] + 1
}

/// Splits an element key into (meta key, version, sub-key).
pub fn decode_element_key(raw: &[u8]) -> Option<(Vec<u8>, u64, &[u8])> {
    let prefix = raw.get(..KEY_PREFIX_LEN)?;
    let len = u32::from_be_bytes(raw.get(4..8)?.try_into().ok()?) as usize;
    let key = raw.get(8..8usize.checked_add(len)?)?;
    let version = u64::from_be_bytes(raw.get(8 + len..16 + len)?.try_into().ok()?);
    let mut meta_key = Vec::with_capacity(KEY_PREFIX_LEN + len);
    meta_key.extend_from_slice(prefix);
    meta_key.extend_from_slice(key);
    Some((meta_key, version, &raw[16 + len..]))
}

/// The first key after every key that starts with `prefix` (an exclusive upper bound), or
/// `None` when no such key exists (the prefix is all 0xff).
pub fn prefix_upper_bound(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last != 0xff {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

/// Encodes a score so that byte order is numeric order (-inf < ... < -0 = 0 < ... < +inf).
/// NaN never reaches storage (commands reject it).
pub fn encode_score(score: f64) -> [u8; 8] {
    // -0.0 and 0.0 are one score, as in Redis.
    let score = if score == 0.0 { 0.0 } else { score };
    let bits = score.to_bits();
    let ordered = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    ordered.to_be_bytes()
}

/// Inverse of [`encode_score`]; `None` for fewer than 8 bytes.
pub fn decode_score(raw: &[u8]) -> Option<f64> {
    let ordered = u64::from_be_bytes(raw.get(..8)?.try_into().ok()?);
    let bits = if ordered >> 63 == 1 {
        ordered & !(1 << 63)
    } else {
        !ordered
    };
    Some(f64::from_bits(bits))
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
    /// A copy whose body owns its bytes: a body sliced from a larger buffer (a request's
    /// read buffer) would keep all of that buffer alive in the cache.
    pub fn detached(&self) -> MetaValue {
        MetaValue {
            body: Bytes::copy_from_slice(&self.body),
            ..self.clone()
        }
    }

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
        self.encode_into(&mut out);
        out
    }

    /// Appends the encoding to `out` (a buffer reused across writes).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(self.data_type as u8);
        out.push(self.flags);
        out.extend_from_slice(&self.expire_ms.to_be_bytes());
        out.extend_from_slice(&self.body);
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
    /// u64 BE: every collection version handed out so far is below it (see `collection`).
    pub const VERSION_FLOOR: &'static [u8] = b"version-floor";
    /// This node's replication id: names its own binlog history (40 hex digits).
    pub const REPL_ID: &'static [u8] = b"repl-id";
    /// The history this node followed before its current one, and the last sequence number of
    /// it that survived (same layout as `REPL_MASTER`): set when a crash started a new history.
    pub const REPL_ID2: &'static [u8] = b"repl-id2";
    /// On a slave: the master's replication id, then u64 BE the last master sequence number
    /// applied here; written atomically with each applied batch.
    pub const REPL_MASTER: &'static [u8] = b"repl-master";
    /// u64 BE: the id of the last transaction whose batches were closed (the closing batch
    /// of an EXEC in the binlog, see `batch_note`).
    pub const TRANSACTION_END: &'static [u8] = b"transaction-end";
    /// The FUNCTION libraries, as FUNCTION DUMP writes them: they persist, replicate and
    /// travel in backups with the data.
    pub const FUNCTIONS: &'static [u8] = b"functions";

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

    /// Which counter record `key` is, if any: what it counts and its physical database.
    pub fn counter_of(key: &[u8]) -> Option<(CounterKind, u16)> {
        let (kind, db) = if let Some(db) = key.strip_prefix(b"dbsize") {
            (CounterKind::Keys, db)
        } else {
            (CounterKind::Expires, key.strip_prefix(b"expires")?)
        };
        Some((kind, u16::from_be_bytes(db.try_into().ok()?)))
    }
}

/// What a persisted counter record counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterKind {
    Keys,
    Expires,
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

    /// The counter after applying one operand to `current` (a slave follows the master's
    /// counters this way, without reading the records back).
    pub fn apply(current: i64, operand: &[u8]) -> i64 {
        decode_value(&merge(Some(&set(current)), std::iter::once(operand)))
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
    fn element_scope_is_the_collection_prefix() {
        let prefix = encode_element_prefix(3, 7, b"key", 42);
        let mut element = prefix.clone();
        element.extend_from_slice(b"member");
        assert_eq!(element_scope(Cf::Hash, &element), Some(&prefix[..]));
        assert_eq!(element_scope(Cf::Hash, &prefix), Some(&prefix[..]));
        assert_eq!(element_scope(Cf::Hash, &prefix[..prefix.len() - 1]), None);
        assert_eq!(element_scope(Cf::Meta, &element), None);
        assert_eq!(element_scope(Cf::Set, b""), None);
        let upper = prefix_upper_bound(&prefix).unwrap();
        assert!(bounded_by_prefix(&prefix, &upper));
        assert!(bounded_by_prefix(&prefix, &element));
        assert!(!bounded_by_prefix(&prefix, b"\xff"));
        assert!(bounded_by_prefix(b"a\xff\xff", b"b"));
        assert!(!bounded_by_prefix(b"a\xff", b"c"));
        assert!(!bounded_by_prefix(b"\xff", b"\x01"));
    }

    #[test]
    fn element_keys_round_trip_and_keep_keys_apart() {
        let prefix = encode_element_prefix(2, 7, b"ab", 9);
        let mut k = prefix.clone();
        k.extend_from_slice(b"field");
        let (meta, version, sub) = decode_element_key(&k).expect("valid");
        assert_eq!(meta, encode_meta_key(2, 7, b"ab"));
        assert_eq!((version, sub), (9, &b"field"[..]));
        // The elements of "a" never fall inside the range of "ab", whatever their sub-keys.
        let other = encode_element_prefix(2, 7, b"a", u64::MAX);
        assert!(!other.starts_with(&prefix) && !prefix.starts_with(&other));
        assert_eq!(
            decode_element_key(b"\x00\x00\x00\x00\x00\x00\x00\x09ab"),
            None
        );
    }

    #[test]
    fn prefix_upper_bound_is_the_next_prefix() {
        assert_eq!(prefix_upper_bound(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_upper_bound(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_upper_bound(b"\xff\xff"), None);
    }

    #[test]
    fn scores_sort_numerically_as_bytes() {
        let scores = [
            f64::NEG_INFINITY,
            -1e300,
            -2.5,
            -1.0,
            -f64::MIN_POSITIVE,
            0.0,
            f64::MIN_POSITIVE,
            1.0,
            2.5,
            1e300,
            f64::INFINITY,
        ];
        for pair in scores.windows(2) {
            assert!(encode_score(pair[0]) < encode_score(pair[1]), "{pair:?}");
        }
        for s in scores {
            assert_eq!(decode_score(&encode_score(s)), Some(s));
        }
        assert_eq!(encode_score(-0.0), encode_score(0.0));
    }

    #[test]
    fn collection_header_round_trips() {
        let h = CollectionHeader {
            version: 42,
            count: 7,
            extra: vec![1, 2, 3],
        };
        assert_eq!(CollectionHeader::decode(&h.encode()), Some(h));
        assert_eq!(CollectionHeader::decode(&[0; 15]), None);
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
        assert_eq!(counter::apply(10, &counter::add(-3)), 7);
        assert_eq!(counter::apply(10, &counter::set(2)), 2);
    }

    #[test]
    fn counter_records_name_their_database() {
        assert_eq!(
            SysKey::counter_of(&SysKey::dbsize(7)),
            Some((CounterKind::Keys, 7))
        );
        assert_eq!(
            SysKey::counter_of(&SysKey::expires(300)),
            Some((CounterKind::Expires, 300))
        );
        assert_eq!(SysKey::counter_of(SysKey::DB_MAP), None);
        assert_eq!(SysKey::counter_of(b"dbsize1"), None);
    }
}

/// Property tests: every decoder takes any bytes the disk may hold without panicking, and
/// every encoder's output decodes back to what was encoded.
#[cfg(test)]
mod proptests {
    use super::*;
    use crate::util::mutate;
    use proptest::prelude::*;

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(any::<u8>(), 0..max)
    }

    fn data_type() -> impl Strategy<Value = DataType> {
        (1u8..=6).prop_map(|b| DataType::from_byte(b).expect("1..=6 are types"))
    }

    /// Scores as commands can store them: any double but NaN.
    fn score() -> impl Strategy<Value = f64> {
        any::<f64>().prop_filter("NaN never reaches storage", |s| !s.is_nan())
    }

    /// Runs every decoder of this module over `raw`.
    fn decode_everything(raw: &[u8]) {
        let _ = DataType::from_byte(raw.first().copied().unwrap_or(0));
        let _ = CollectionHeader::decode(raw);
        let _ = decode_element_key(raw);
        let _ = decode_score(raw);
        let _ = MetaValue::decode(raw);
        let _ = MetaValue::raw_is_live(raw, u64::MAX / 2);
        let _ = MetaValue::peek_expire(raw);
        let _ = decode_meta_key(raw);
        let _ = decode_expire_key(raw);
        let _ = SysKey::counter_of(raw);
        let _ = counter::decode_value(raw);
        let _ = counter::apply(i64::MAX, raw);
        let _ = prefix_upper_bound(raw);
        let _ = stream::StreamCounters::decode(raw);
        let _ = stream::decode_entry(raw);
        let _ = stream::entry_node(raw);
        let _ = stream::GroupRecord::decode(raw);
        let _ = stream::PendingRecord::decode(raw);
        let _ = stream::ConsumerRecord::decode(raw);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn decoders_never_panic_on_random_bytes(raw in bytes(64)) {
            decode_everything(&raw);
        }

        #[test]
        fn decoders_never_panic_on_damaged_records(
            db in any::<u16>(),
            slot in any::<u16>(),
            key in bytes(24),
            version in any::<u64>(),
            edits in mutate::mutations(4),
        ) {
            let header = CollectionHeader { version, count: 3, extra: key.clone() };
            let records = [
                encode_element_prefix(db, slot, &key, version),
                encode_meta_key(db, slot, &key),
                encode_expire_key(version, db, slot, &key),
                MetaValue { data_type: DataType::Hash, flags: 0, expire_ms: version, body: header.encode() }
                    .encode(),
                SysKey::dbsize(db),
                counter::add(version as i64).to_vec(),
            ];
            for record in records {
                decode_everything(&mutate::apply(&record, &edits));
            }
        }

        #[test]
        fn counter_merge_never_panics(
            existing in prop::option::of(bytes(12)),
            operands in prop::collection::vec(bytes(12), 0..6),
        ) {
            let merged = counter::merge(existing.as_deref(), operands.iter().map(Vec::as_slice));
            prop_assert_eq!(merged.len(), 9);
        }

        #[test]
        fn meta_value_round_trips(
            data_type in data_type(),
            flags in any::<u8>(),
            expire_ms in any::<u64>(),
            body in bytes(64),
        ) {
            let v = MetaValue { data_type, flags, expire_ms, body: Bytes::from(body) };
            let raw = v.encode();
            prop_assert_eq!(MetaValue::peek_expire(&raw), Some(expire_ms));
            prop_assert_eq!(MetaValue::decode(&raw), Some(v));
        }

        #[test]
        fn collection_header_round_trips(version in any::<u64>(), count in any::<u64>(), extra in bytes(32)) {
            let h = CollectionHeader { version, count, extra };
            prop_assert_eq!(CollectionHeader::decode(&h.encode()), Some(h));
        }

        #[test]
        fn element_key_round_trips(
            db in any::<u16>(),
            slot in any::<u16>(),
            key in bytes(48),
            version in any::<u64>(),
            sub in bytes(48),
        ) {
            let mut raw = encode_element_prefix(db, slot, &key, version);
            raw.extend_from_slice(&sub);
            let (meta_key, got_version, got_sub) = decode_element_key(&raw).expect("decodes");
            prop_assert_eq!(meta_key, encode_meta_key(db, slot, &key));
            prop_assert_eq!(got_version, version);
            prop_assert_eq!(got_sub, &sub[..]);
        }

        #[test]
        fn meta_and_expire_keys_round_trip(
            db in any::<u16>(),
            slot in any::<u16>(),
            key in bytes(48),
            deadline in any::<u64>(),
        ) {
            let meta = encode_meta_key(db, slot, &key);
            prop_assert_eq!(decode_meta_key(&meta), Some((db, slot, &key[..])));
            let expire = encode_expire_key(deadline, db, slot, &key);
            prop_assert_eq!(decode_expire_key(&expire), Some((deadline, &meta[..])));
        }

        #[test]
        fn score_round_trips_and_keeps_order(a in score(), b in score()) {
            let decoded = decode_score(&encode_score(a)).expect("8 bytes");
            // -0 and 0 are one score.
            prop_assert_eq!(decoded.to_bits(), if a == 0.0 { 0.0f64.to_bits() } else { a.to_bits() });
            prop_assert_eq!(a.partial_cmp(&b), Some(encode_score(a).cmp(&encode_score(b))));
        }

        #[test]
        fn counters_round_trip(value in any::<i64>(), delta in any::<i64>(), db in any::<u16>()) {
            prop_assert_eq!(counter::decode_value(&counter::set(value)), value);
            prop_assert_eq!(counter::apply(value, &counter::add(delta)), value.wrapping_add(delta));
            prop_assert_eq!(counter::apply(value, &counter::set(delta)), delta);
            prop_assert_eq!(SysKey::counter_of(&SysKey::dbsize(db)), Some((CounterKind::Keys, db)));
            prop_assert_eq!(SysKey::counter_of(&SysKey::expires(db)), Some((CounterKind::Expires, db)));
        }

        #[test]
        fn prefix_upper_bound_is_above_every_key_with_the_prefix(prefix in bytes(8), rest in bytes(8)) {
            let mut key = prefix.clone();
            key.extend_from_slice(&rest);
            match prefix_upper_bound(&prefix) {
                Some(bound) => {
                    prop_assert!(key < bound);
                    prop_assert!(prefix < bound);
                }
                None => prop_assert!(prefix.iter().all(|&b| b == 0xff)),
            }
        }
    }
}
