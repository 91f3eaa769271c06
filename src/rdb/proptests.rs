//! Property tests: no file and no DUMP payload, however damaged or hostile, panics the reader;
//! what pika DUMPs RESTOREs to the same value.
//!
//! Payloads are re-sealed with a valid checksum after damage: RESTORE takes payloads from
//! clients, who can compute a CRC as well as Redis can, so the value decoders behind the
//! checksum must stand on their own.

use crc::{Crc, CRC_64_REDIS};
use proptest::prelude::*;

use super::dump;
use super::*;
use crate::dataset::stream::{PendingEntry, StreamConsumer, StreamGroup, StreamId, StreamValue};
use crate::dataset::Value;
use crate::util::mutate;

const TYPES: &[u8] = include_bytes!("fixtures/types.rdb");
const NOCRC: &[u8] = include_bytes!("fixtures/nocrc.rdb");

/// DUMPs made by redis-server 7.0.15, in the compact encodings pika never writes (a quicklist
/// of one listpack, a listpack hash), as seeds for damage.
const REDIS_PAYLOADS: &[&[u8]] = &[
    b"\x12\x01\x02\x0f\x0f\x00\x00\x00\x03\x00\x81\x61\x02\x81\x62\x02\x01\x01\xff\x0a\x00\xe0\x1b\xab\x4a\x47\xce\x59\x22",
    b"\x10\x0d\x0d\x00\x00\x00\x02\x00\x81\x66\x02\x81\x76\x02\xff\x0a\x00\x20\xf1\x3d\x44\x23\x54\x08\x9d",
    include_bytes!("fixtures/st.dump"),
    include_bytes!("fixtures/big.dump"),
];

/// Reads a whole file; the reader must end (it yields one error at most, then stops).
fn read_all(bytes: &[u8]) {
    let Ok(reader) = RdbReader::new(bytes) else {
        return;
    };
    let mut errors = 0;
    for (n, item) in reader.enumerate() {
        assert!(
            n <= bytes.len(),
            "more keys than bytes: the reader does not end"
        );
        errors += usize::from(item.is_err());
    }
    assert!(errors <= 1, "the reader went on after an error");
}

/// `body` (type byte and value) with a DUMP footer: RDB version 10 and a good checksum.
fn sealed(body: &[u8]) -> Vec<u8> {
    let mut out = body.to_vec();
    out.extend_from_slice(&10u16.to_le_bytes());
    let crc = Crc::<u64>::new(&CRC_64_REDIS).checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The value part of a payload (without its 10-byte footer).
fn body_of(payload: &[u8]) -> &[u8] {
    &payload[..payload.len() - 10]
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

/// Values as pika stores them: collections are never empty, scores never NaN.
fn value() -> impl Strategy<Value = Value> {
    let item = || bytes(24);
    let score = any::<f64>().prop_filter("scores are never NaN", |s| !s.is_nan());
    prop_oneof![
        bytes(64).prop_map(Value::String),
        prop::collection::vec(item(), 1..8).prop_map(Value::List),
        prop::collection::vec(item(), 1..8).prop_map(Value::Set),
        prop::collection::vec((item(), item()), 1..8).prop_map(Value::Hash),
        prop::collection::vec((item(), score), 1..8).prop_map(Value::ZSet),
        stream().prop_map(|s| Value::Stream(Box::new(s))),
    ]
}

/// Streams with growing ids, groups whose pending entries are owned by listed consumers.
fn stream() -> impl Strategy<Value = StreamValue> {
    let entry = (
        0u64..3,
        0u64..3,
        prop::collection::vec((bytes(6), bytes(6)), 1..4),
    );
    let group = (
        prop::collection::vec((any::<u8>(), 0u64..3, any::<u64>(), any::<u64>()), 0..4),
        any::<Option<u64>>(),
        any::<u64>(),
    );
    (
        prop::collection::vec(entry, 0..8),
        prop::collection::vec(group, 0..3),
        any::<u64>(),
        any::<(u64, u64)>(),
    )
        .prop_map(|(entries, groups, added, deleted)| {
            let mut s = StreamValue::default();
            let mut at = StreamId::new(1, 0);
            for (dms, dseq, fields) in entries {
                at = StreamId::new(at.ms + dms, if dms == 0 { at.seq + 1 + dseq } else { dseq });
                s.entries.push((at, fields));
            }
            s.last_id = at;
            s.entries_added = added;
            s.max_deleted_id = StreamId::new(deleted.0, deleted.1);
            for (i, (pel, entries_read, seen)) in groups.into_iter().enumerate() {
                let mut g = StreamGroup {
                    name: format!("g{i}").into_bytes(),
                    last_id: at,
                    entries_read,
                    ..StreamGroup::default()
                };
                for (pick, owner, time, count) in pel {
                    let id = StreamId::new(u64::from(pick), 7);
                    if g.pending.iter().any(|p| p.id == id) {
                        continue;
                    }
                    let consumer = format!("c{owner}").into_bytes();
                    if !g.consumers.iter().any(|c| c.name == consumer) {
                        g.consumers.push(StreamConsumer {
                            name: consumer.clone(),
                            seen_time_ms: seen,
                            active_time_ms: None,
                        });
                    }
                    g.pending.push(PendingEntry {
                        id,
                        consumer,
                        delivery_time_ms: time,
                        delivery_count: count,
                    });
                }
                g.pending.sort_by_key(|p| p.id);
                s.groups.push(g);
            }
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_files_never_panic(version in 1u32..=11, body in bytes(512)) {
        let mut file = format!("REDIS{version:04}").into_bytes();
        file.extend_from_slice(&body);
        read_all(&file);
        read_all(&body);
    }

    #[test]
    fn damaged_redis_files_never_panic(edits in mutate::mutations(8), checked in any::<bool>()) {
        let fixture = if checked { TYPES } else { NOCRC };
        read_all(&mutate::apply(fixture, &edits));
    }

    #[test]
    fn random_dump_payloads_never_panic(body in bytes(256)) {
        let _ = dump::decode(&body);
        let _ = dump::decode(&sealed(&body));
    }

    #[test]
    fn damaged_dump_payloads_never_panic(
        value in value(),
        seed in 0..=REDIS_PAYLOADS.len(),
        edits in mutate::mutations(6),
    ) {
        let payload = match REDIS_PAYLOADS.get(seed) {
            Some(p) => p.to_vec(),
            None => dump::encode(&value),
        };
        let damaged = mutate::apply(body_of(&payload), &edits);
        let _ = dump::decode(&sealed(&damaged));
    }

    #[test]
    fn dump_payloads_round_trip(value in value()) {
        prop_assert_eq!(dump::decode(&dump::encode(&value)), Ok(value));
    }
}
