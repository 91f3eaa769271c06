//! DUMP / RESTORE payloads: one value in RDB encoding, then the RDB version (2 bytes, little
//! endian) and a CRC-64 of everything before it (8 bytes, little endian), as Redis has them.
//!
//! Payloads are written in the plain encodings every Redis since 2.x loads (string, linked
//! list, set, hash, sorted set with binary scores), and streams in Redis 7.0's layout (type
//! 19), so Redis 7.0 and later can RESTORE what pika DUMPs; any encoding Redis writes is read
//! (see `value`).

use crc::{Crc, CRC_64_REDIS};

use crate::dataset::Value;

use super::input::Input;
use super::stream_write::{write_stream, TYPE_STREAM_2};
use super::value::{read_value, Decoded};

/// The RDB version written in payloads: Redis 7.0's, so it accepts them.
const DUMP_VERSION: u16 = 10;
/// Newest RDB version accepted from a payload.
const MAX_VERSION: u16 = super::MAX_VERSION as u16;

const CRC64: Crc<u64> = Crc::<u64>::new(&CRC_64_REDIS);

const TYPE_STRING: u8 = 0;
const TYPE_LIST: u8 = 1;
const TYPE_SET: u8 = 2;
const TYPE_HASH: u8 = 4;
const TYPE_ZSET_2: u8 = 5;

/// Why a payload was refused, in RESTORE's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DumpError {
    /// The footer's version is too new or its checksum does not match.
    VersionOrChecksum,
    /// The value does not decode (or is of a type this server does not have).
    BadFormat,
}

/// Encodes `value` as a DUMP payload.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    match value {
        Value::String(s) => {
            out.push(TYPE_STRING);
            put_string(&mut out, s);
        }
        Value::List(items) => {
            out.push(TYPE_LIST);
            put_length(&mut out, items.len() as u64);
            items.iter().for_each(|x| put_string(&mut out, x));
        }
        Value::Set(items) => {
            out.push(TYPE_SET);
            put_length(&mut out, items.len() as u64);
            items.iter().for_each(|x| put_string(&mut out, x));
        }
        Value::Hash(pairs) => {
            out.push(TYPE_HASH);
            put_length(&mut out, pairs.len() as u64);
            for (f, v) in pairs {
                put_string(&mut out, f);
                put_string(&mut out, v);
            }
        }
        Value::ZSet(pairs) => {
            out.push(TYPE_ZSET_2);
            put_length(&mut out, pairs.len() as u64);
            for (m, s) in pairs {
                put_string(&mut out, m);
                out.extend_from_slice(&s.to_le_bytes());
            }
        }
        Value::Stream(s) => {
            out.push(TYPE_STREAM_2);
            write_stream(&mut out, s);
        }
    }
    out.extend_from_slice(&DUMP_VERSION.to_le_bytes());
    let crc = CRC64.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Decodes a DUMP payload (from pika or any Redis up to 7.2).
pub fn decode(payload: &[u8]) -> Result<Value, DumpError> {
    let Some(body_len) = payload.len().checked_sub(10) else {
        return Err(DumpError::VersionOrChecksum);
    };
    let version = u16::from_le_bytes([payload[body_len], payload[body_len + 1]]);
    let crc = u64::from_le_bytes(
        payload[body_len + 2..]
            .try_into()
            .map_err(|_| DumpError::VersionOrChecksum)?,
    );
    if version > MAX_VERSION || CRC64.checksum(&payload[..body_len + 2]) != crc {
        return Err(DumpError::VersionOrChecksum);
    }
    let body = &payload[..body_len];
    let mut input = Input::new(body);
    let kind = input.u8().map_err(|_| DumpError::BadFormat)?;
    match read_value(&mut input, kind) {
        Ok(Decoded::Value(v)) if input.offset() == body_len as u64 => Ok(v),
        _ => Err(DumpError::BadFormat),
    }
}

/// RDB length encoding: 6, 14 or 32 bits, or 64 bits after a marker byte.
pub(super) fn put_length(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if n <= u64::from(u32::MAX) {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

pub(super) fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    put_length(out, s.len() as u64);
    out.extend_from_slice(s);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Vec<u8> {
        s.as_bytes().to_vec()
    }

    #[test]
    fn every_type_round_trips() {
        let long = vec![b'x'; 20_000];
        for v in [
            Value::String(b("hello")),
            Value::String(long.clone()),
            Value::String(Vec::new()),
            Value::List(vec![b("a"), long.clone(), b("3")]),
            Value::Set((0..100).map(|i| i.to_string().into_bytes()).collect()),
            Value::Hash(vec![(b("f"), b("v")), (b("n"), b("1"))]),
            Value::ZSet(vec![
                (b("a"), 1.5),
                (b("b"), f64::INFINITY),
                (b("c"), f64::NEG_INFINITY),
            ]),
        ] {
            assert_eq!(decode(&encode(&v)), Ok(v.clone()), "{v:?}");
        }
    }

    #[test]
    fn redis_payloads_decode() {
        // DUMP on redis-server 7.0.15 of `SET k hello`, `RPUSH l a b 1` (a quicklist of one
        // listpack) and `HSET h f v` (a listpack).
        let string = b"\x00\x05hello\x0a\x00\x63\x72\xdf\x76\x65\x34\x20\x0a";
        assert_eq!(decode(string), Ok(Value::String(b("hello"))));
        let list = b"\x12\x01\x02\x0f\x0f\x00\x00\x00\x03\x00\x81\x61\x02\x81\x62\x02\x01\x01\xff\x0a\x00\xe0\x1b\xab\x4a\x47\xce\x59\x22";
        assert_eq!(decode(list), Ok(Value::List(vec![b("a"), b("b"), b("1")])));
        let hash = b"\x10\x0d\x0d\x00\x00\x00\x02\x00\x81\x66\x02\x81\x76\x02\xff\x0a\x00\x20\xf1\x3d\x44\x23\x54\x08\x9d";
        assert_eq!(decode(hash), Ok(Value::Hash(vec![(b("f"), b("v"))])));
    }

    #[test]
    fn damaged_payloads_are_refused() {
        let good = encode(&Value::String(b("hello")));
        let mut flipped = good.clone();
        flipped[3] ^= 1;
        assert_eq!(decode(&flipped), Err(DumpError::VersionOrChecksum));
        assert_eq!(decode(b"short"), Err(DumpError::VersionOrChecksum));
        let mut newer = good[..good.len() - 10].to_vec();
        newer.extend_from_slice(&99u16.to_le_bytes());
        let crc = CRC64.checksum(&newer);
        newer.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(decode(&newer), Err(DumpError::VersionOrChecksum));
        // A good checksum over a value that does not parse.
        let mut junk = vec![TYPE_LIST, 5, 1, b'a'];
        junk.extend_from_slice(&DUMP_VERSION.to_le_bytes());
        let crc = CRC64.checksum(&junk);
        junk.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(decode(&junk), Err(DumpError::BadFormat));
    }
}
