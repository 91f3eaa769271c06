//! Writing an RDB file (what a Redis replica of this node loads in a full sync): the
//! `REDIS0010` header (Redis 7.0's version, so 7.0 and later load it), AUX fields, per
//! database SELECTDB and RESIZEDB, keys with EXPIRETIME_MS, then EOF and the CRC-64 of every
//! byte before it. Values use the encodings of DUMP payloads ([`super::dump`]), which are the
//! RDB's own value encodings.

use std::io::{self, Write};

use crc::{Crc, Digest, Table, CRC_64_REDIS};

use super::dump::{encode, put_length, put_string};
use crate::dataset::Value;

static CRC64: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_REDIS);

/// The RDB version written: Redis 7.0's.
const VERSION: &[u8; 9] = b"REDIS0010";
/// A DUMP payload's footer: RDB version (2 bytes) and CRC-64 (8 bytes).
const DUMP_FOOTER: usize = 10;

/// An RDB file being written to `out`, checksummed as it goes.
pub struct RdbWriter<W: Write> {
    out: W,
    digest: Digest<'static, u64, Table<16>>,
    /// Reused for each key's encoding.
    scratch: Vec<u8>,
}

impl<W: Write> RdbWriter<W> {
    /// Writes the header and the AUX fields (`name`, `value`).
    pub fn new(out: W, aux: &[(&str, &str)]) -> io::Result<Self> {
        let mut w = RdbWriter {
            out,
            digest: CRC64.digest(),
            scratch: Vec::new(),
        };
        w.put(VERSION)?;
        for (name, value) in aux {
            let mut rec = vec![super::OP_AUX];
            put_string(&mut rec, name.as_bytes());
            put_string(&mut rec, value.as_bytes());
            w.put(&rec)?;
        }
        Ok(w)
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.digest.update(bytes);
        self.out.write_all(bytes)
    }

    /// Starts database `db`, which holds about `keys` keys, `expires` of them with a deadline.
    pub fn select_db(&mut self, db: usize, keys: u64, expires: u64) -> io::Result<()> {
        let mut rec = vec![super::OP_SELECTDB];
        put_length(&mut rec, db as u64);
        rec.push(super::OP_RESIZEDB);
        put_length(&mut rec, keys);
        put_length(&mut rec, expires);
        self.put(&rec)
    }

    /// Writes one key of the current database.
    pub fn key(&mut self, key: &[u8], value: &Value, expire_at_ms: Option<i64>) -> io::Result<()> {
        let mut rec = std::mem::take(&mut self.scratch);
        rec.clear();
        if let Some(at) = expire_at_ms {
            rec.push(super::OP_EXPIRETIME_MS);
            rec.extend_from_slice(&at.to_le_bytes());
        }
        let payload = encode(value);
        let body = &payload[..payload.len() - DUMP_FOOTER];
        // The payload starts with the type byte; the key goes between it and the value.
        rec.push(body[0]);
        put_string(&mut rec, key);
        rec.extend_from_slice(&body[1..]);
        let result = self.put(&rec);
        self.scratch = rec;
        result
    }

    /// Writes EOF and the checksum; returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.put(&[super::OP_EOF])?;
        let crc = self.digest.clone().finalize();
        self.out.write_all(&crc.to_le_bytes())?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Record;
    use crate::rdb::{Item, RdbReader};

    #[test]
    fn what_is_written_reads_back() {
        let mut w = RdbWriter::new(Vec::new(), &[("redis-ver", "7.0.0")]).expect("header");
        w.select_db(0, 2, 1).expect("db");
        w.key(b"s", &Value::String(b"v".to_vec()), Some(4_000_000_000_000))
            .expect("key");
        w.key(b"l", &Value::List(vec![b"a".to_vec(), b"b".to_vec()]), None)
            .expect("key");
        w.select_db(3, 1, 0).expect("db");
        w.key(b"z", &Value::ZSet(vec![(b"m".to_vec(), 1.5)]), None)
            .expect("key");
        let bytes = w.finish().expect("finish");
        let items: Vec<Item> = RdbReader::new(&bytes[..])
            .expect("header")
            .collect::<Result<_, _>>()
            .expect("items");
        assert_eq!(
            items,
            vec![
                Item::Record(Record {
                    db: 0,
                    key: b"s".to_vec(),
                    value: Value::String(b"v".to_vec()),
                    expire_at_ms: Some(4_000_000_000_000),
                }),
                Item::Record(Record {
                    db: 0,
                    key: b"l".to_vec(),
                    value: Value::List(vec![b"a".to_vec(), b"b".to_vec()]),
                    expire_at_ms: None,
                }),
                Item::Record(Record {
                    db: 3,
                    key: b"z".to_vec(),
                    value: Value::ZSet(vec![(b"m".to_vec(), 1.5)]),
                    expire_at_ms: None,
                }),
            ]
        );
    }
}
