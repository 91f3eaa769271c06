//! Streams: fixtures written by redis-server 7.0.15 (an RDB file and DUMP payloads, see
//! fixtures/README.md) read back exactly, hand-built values of the three layouts, round trips
//! through the DUMP encoder, and corrupt input giving errors, never a panic.

use std::collections::BTreeMap;

use super::tests::{cat, file, key, len, read_all, string};
use super::*;
use crate::dataset::stream::{PendingEntry, StreamConsumer, StreamGroup, StreamId, StreamValue};
use crate::dataset::Value;

const STREAMS: &[u8] = include_bytes!("fixtures/streams.rdb");
const ST_DUMP: &[u8] = include_bytes!("fixtures/st.dump");
const BIG_DUMP: &[u8] = include_bytes!("fixtures/big.dump");

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn id(ms: u64, seq: u64) -> StreamId {
    StreamId::new(ms, seq)
}

fn fields(pairs: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    pairs.iter().map(|(f, v)| (b(f), b(v))).collect()
}

fn pending(ms: u64, consumer: &str, time: u64, count: u64) -> PendingEntry {
    PendingEntry {
        id: id(ms, 0),
        consumer: b(consumer),
        delivery_time_ms: time,
        delivery_count: count,
    }
}

fn consumer(name: &str, seen: u64) -> StreamConsumer {
    StreamConsumer {
        name: b(name),
        seen_time_ms: seen,
        active_time_ms: None,
    }
}

/// `stream:s` of types.rdb: two entries, a group whose consumer has read the first.
pub(super) fn types_fixture_stream() -> StreamValue {
    StreamValue {
        entries: vec![
            (id(1, 1), fields(&[("f", "v")])),
            (id(2, 1), fields(&[("f2", "v2")])),
        ],
        last_id: id(2, 1),
        max_deleted_id: id(0, 0),
        entries_added: 2,
        groups: vec![StreamGroup {
            name: b("g1"),
            last_id: id(1, 1),
            entries_read: Some(1),
            pending: vec![PendingEntry {
                id: id(1, 1),
                consumer: b("c1"),
                delivery_time_ms: 1_795_667_098_345,
                delivery_count: 1,
            }],
            consumers: vec![consumer("c1", 1_795_667_098_345)],
        }],
    }
}

/// `st`: a deleted entry, entries of other fields, two groups, pending entries (one of a
/// deleted message) and a consumer owning none.
fn st() -> StreamValue {
    let seen = 1_796_557_938_272;
    StreamValue {
        entries: vec![
            (id(1, 1), fields(&[("name", "alice"), ("age", "30")])),
            (id(3, 0), fields(&[("name", "carol"), ("age", "41")])),
            (id(4, 0), fields(&[("name", "12345"), ("age", "-7")])),
        ],
        last_id: id(4, 0),
        max_deleted_id: id(2, 0),
        entries_added: 5,
        groups: vec![
            StreamGroup {
                name: b("g1"),
                last_id: id(3, 0),
                entries_read: None,
                pending: vec![
                    PendingEntry {
                        id: id(1, 1),
                        consumer: b("alice"),
                        delivery_time_ms: 1_700_000_000_000,
                        delivery_count: 3,
                    },
                    pending(2, "alice", 1_700_000_001_000, 1),
                    pending(3, "bob", 1_700_000_002_000, 7),
                ],
                consumers: vec![
                    consumer("alice", seen),
                    consumer("bob", seen),
                    consumer("idle", seen - 1),
                ],
            },
            StreamGroup {
                name: b("g2"),
                last_id: id(4, 0),
                entries_read: None,
                pending: vec![],
                consumers: vec![],
            },
        ],
    }
}

/// `big`: 251 entries trimmed to 199 (tombstones inside the first node, a pending entry of a
/// trimmed message, a 5000-byte value in a node of its own).
fn big() -> StreamValue {
    let t = 1_796_557_938_301;
    let mut entries: Vec<_> = (53..=250)
        .map(|i| (id(i, 0), fields(&[("f", &i.to_string())])))
        .collect();
    entries.push((id(251, 0), vec![(b("f"), vec![b'v'; 5000])]));
    StreamValue {
        entries,
        last_id: id(251, 0),
        max_deleted_id: id(0, 0),
        entries_added: 251,
        groups: vec![StreamGroup {
            name: b("cg"),
            last_id: id(54, 0),
            entries_read: Some(54),
            pending: vec![
                pending(52, "c", 1_700_000_003_000, 2),
                pending(53, "c", t, 1),
                pending(54, "c", t, 1),
            ],
            consumers: vec![consumer("c", t)],
        }],
    }
}

fn stream(v: StreamValue) -> Value {
    Value::Stream(Box::new(v))
}

#[test]
fn redis_rdb_streams_read_back_exactly() {
    let got: BTreeMap<Vec<u8>, Value> = read_all(STREAMS)
        .unwrap()
        .into_iter()
        .map(|item| match item {
            Item::Record(r) => (r.key, r.value),
            other => panic!("{other:?}"),
        })
        .collect();
    let empty = StreamValue {
        last_id: id(5, 5),
        entries_added: 1,
        ..StreamValue::default()
    };
    let mk = StreamValue {
        groups: vec![StreamGroup {
            name: b("g"),
            ..StreamGroup::default()
        }],
        ..StreamValue::default()
    };
    let want: BTreeMap<Vec<u8>, Value> = [
        (b("st"), stream(st())),
        (b("big"), stream(big())),
        (b("empty"), stream(empty)),
        (b("mk"), stream(mk)),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want);
}

#[test]
fn redis_dump_payloads_decode() {
    assert_eq!(dump::decode(ST_DUMP), Ok(stream(st())));
    assert_eq!(dump::decode(BIG_DUMP), Ok(stream(big())));
}

/// Values the encoder must carry unchanged.
fn samples() -> Vec<StreamValue> {
    let many: Vec<_> = (0..350u64)
        .map(|i| {
            let mut f = fields(&[("a", "1"), ("b", "x")]);
            if i % 7 == 0 {
                f.push((b("extra"), i.to_string().into_bytes()));
            }
            if i % 50 == 0 {
                f[1].1 = vec![b'z'; 3000];
            }
            (id(1_700_000_000_000 + i / 3, i % 3), f)
        })
        .collect();
    let odd = vec![
        (id(5, u64::MAX), fields(&[("", ""), ("-0", "007")])),
        (
            id(6, 0),
            vec![(vec![0, 0xff, b'\r'], b("9223372036854775807"))],
        ),
        (
            id(u64::MAX, u64::MAX),
            fields(&[("n", "-9223372036854775808")]),
        ),
    ];
    vec![
        StreamValue::default(),
        st(),
        big(),
        StreamValue {
            last_id: id(1_700_000_000_116, 2),
            entries_added: 400,
            max_deleted_id: id(3, 3),
            entries: many,
            ..StreamValue::default()
        },
        StreamValue {
            last_id: StreamId::MAX,
            entries_added: u64::MAX - 1,
            entries: odd,
            groups: vec![StreamGroup {
                name: b("g"),
                last_id: id(6, 0),
                entries_read: Some(0),
                pending: vec![pending(6, "x", 0, u64::MAX)],
                consumers: vec![consumer("x", u64::MAX)],
            }],
            ..StreamValue::default()
        },
    ]
}

#[test]
fn dump_round_trips() {
    for s in samples() {
        let v = stream(s);
        assert_eq!(dump::decode(&dump::encode(&v)), Ok(v.clone()), "{v:?}");
    }
}

#[test]
fn dump_writes_nodes_as_redis_does() {
    let payload = dump::encode(&stream(samples().swap_remove(3)));
    assert_eq!(payload[0], 19, "type 19, Redis 7.0's");
    let footer = &payload[payload.len() - 10..];
    assert_eq!(&footer[..2], &10u16.to_le_bytes(), "RDB version 10");
    // 350 entries at most 100 a node, and the 3000-byte values start nodes of their own.
    let mut input = input::Input::new(&payload[1..]);
    let nodes = length::read_length(&mut input).unwrap();
    assert!((4..=12).contains(&nodes), "{nodes} nodes");
}

#[test]
fn a_pending_entry_of_an_unlisted_consumer_gets_one() {
    let mut s = st();
    s.groups[0].consumers.retain(|c| c.name != b"bob");
    let Ok(Value::Stream(back)) = dump::decode(&dump::encode(&stream(s.clone()))) else {
        panic!("does not decode");
    };
    s.groups[0].consumers.push(consumer("bob", 0));
    assert_eq!(*back, s);
}

/// A listpack node of entries with the same fields `f`, `g`, as Redis writes one.
fn node(master: StreamId, ids: &[StreamId]) -> Vec<u8> {
    let mut lp = listpack::Builder::default();
    for n in [ids.len() as i64, 0, 2] {
        lp.int(n);
    }
    lp.string(b"f");
    lp.string(b"g");
    lp.int(0);
    for i in ids {
        lp.int(stream::FLAG_SAMEFIELDS);
        lp.int(i.ms.wrapping_sub(master.ms) as i64);
        lp.int(i.seq.wrapping_sub(master.seq) as i64);
        lp.string(b"1");
        lp.string(b"2");
        lp.int(5);
    }
    lp.finish()
}

/// A hand-built stream in the layout of `kind` (15, 19 or 21): two entries, one group with
/// one pending entry owned by its one consumer.
fn handmade(kind: u8) -> Vec<u8> {
    let mut v = cat(&[
        len(1),
        string(&id(1, 1).to_be_bytes()),
        string(&node(id(1, 1), &[id(1, 1), id(2, 0)])),
        len(2),
        len(2),
        len(0),
    ]);
    if kind != 15 {
        v.extend(cat(&[len(1), len(1), len(1), len(0), len(9)]));
    }
    v.extend(cat(&[len(1), string(b"grp"), len(2), len(0)]));
    if kind != 15 {
        v.extend(len(2));
    }
    v.extend(len(1));
    v.extend_from_slice(&id(2, 0).to_be_bytes());
    v.extend_from_slice(&1234u64.to_le_bytes());
    v.extend(len(3));
    v.extend(cat(&[len(1), string(b"cons")]));
    v.extend_from_slice(&5678u64.to_le_bytes());
    if kind == 21 {
        v.extend_from_slice(&6789u64.to_le_bytes());
    }
    v.extend(len(1));
    v.extend_from_slice(&id(2, 0).to_be_bytes());
    v
}

#[test]
fn the_three_layouts() {
    let body = cat(&[
        key(15, "v1", &handmade(15)),
        key(19, "v2", &handmade(19)),
        key(21, "v3", &handmade(21)),
    ]);
    let items = read_all(&file(11, &body)).unwrap();
    let value = |kind: u8| {
        stream(StreamValue {
            entries: vec![
                (id(1, 1), fields(&[("f", "1"), ("g", "2")])),
                (id(2, 0), fields(&[("f", "1"), ("g", "2")])),
            ],
            last_id: id(2, 0),
            max_deleted_id: if kind == 15 { id(0, 0) } else { id(1, 0) },
            entries_added: if kind == 15 { 2 } else { 9 },
            groups: vec![StreamGroup {
                name: b("grp"),
                last_id: id(2, 0),
                // Type 15 keeps no counter: estimated on load, as Redis does.
                entries_read: Some(2),
                pending: vec![pending(2, "cons", 1234, 3)],
                consumers: vec![StreamConsumer {
                    name: b("cons"),
                    seen_time_ms: 5678,
                    active_time_ms: (kind == 21).then_some(6789),
                }],
            }],
        })
    };
    let got: Vec<Value> = items
        .into_iter()
        .map(|i| match i {
            Item::Record(r) => r.value,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got, vec![value(15), value(19), value(21)]);
}

/// `body` of type 19 read from a file; the error's message.
fn error_of(body: &[u8]) -> String {
    let err = read_all(&file(10, &key(19, "s", body))).unwrap_err();
    err.message().to_string()
}

#[test]
fn inconsistent_streams_are_errors() {
    let good = handmade(19);
    assert!(read_all(&file(10, &key(19, "s", &good))).is_ok());
    let replace = |from: &[u8], to: &[u8]| {
        let at = good
            .windows(from.len())
            .position(|w| w == from)
            .unwrap_or_else(|| panic!("{from:?} not found"));
        let mut v = good.clone();
        v.splice(at..at + from.len(), to.iter().copied());
        v
    };
    // A node key that is not 16 bytes.
    let short_key = replace(&string(&id(1, 1).to_be_bytes()), &string(&[0; 15]));
    assert!(
        error_of(&short_key).contains("not 16"),
        "{}",
        error_of(&short_key)
    );
    // The length does not match the entries.
    let lp = string(&node(id(1, 1), &[id(1, 1), id(2, 0)]));
    let wrong_len = replace(&cat(&[lp.clone(), len(2)]), &cat(&[lp.clone(), len(3)]));
    assert!(
        error_of(&wrong_len).contains("length 3"),
        "{}",
        error_of(&wrong_len)
    );
    // Entries out of order inside a node.
    let backwards = replace(&lp, &string(&node(id(1, 1), &[id(2, 0), id(1, 1)])));
    assert!(
        error_of(&backwards).contains("order"),
        "{}",
        error_of(&backwards)
    );
    // A consumer owning an id its group does not list.
    let consumer_pel = cat(&[string(b"cons"), 5678u64.to_le_bytes().to_vec(), len(1)]);
    let mut stray = consumer_pel.clone();
    stray.extend_from_slice(&id(9, 9).to_be_bytes());
    let mut own = consumer_pel.clone();
    own.extend_from_slice(&id(2, 0).to_be_bytes());
    let unlisted = replace(&own, &stray);
    assert!(
        error_of(&unlisted).contains("not in its group"),
        "{}",
        error_of(&unlisted)
    );
    // A pending entry nobody owns.
    let unowned = replace(
        &own,
        &cat(&[string(b"cons"), 5678u64.to_le_bytes().to_vec(), len(0)]),
    );
    assert!(
        error_of(&unowned).contains("no consumer"),
        "{}",
        error_of(&unowned)
    );
    // Two groups of one name.
    let group_count = cat(&[len(0), len(9), len(1), string(b"grp")]);
    let mut twice = good.clone();
    let at = twice
        .windows(group_count.len())
        .position(|w| w == group_count)
        .unwrap();
    twice[at + 2] = 2;
    let group = twice[at + 3..].to_vec();
    twice.extend(group);
    assert!(
        error_of(&twice).contains("duplicate"),
        "{}",
        error_of(&twice)
    );
    // An entry whose element count is wrong.
    let mut bad_count = node(id(1, 1), &[id(1, 1)]);
    let n = bad_count.len();
    bad_count[n - 3] = 6; // the last entry's element count (5), then its backlen and the end
    let mut one = cat(&[len(1), string(&id(1, 1).to_be_bytes()), string(&bad_count)]);
    one.extend(cat(&[len(1), len(1), len(1)]));
    assert!(error_of(&one).contains("elements"), "{}", error_of(&one));
}

#[test]
fn huge_counts_on_short_input_are_errors_not_allocations() {
    let huge = len(u64::MAX >> 1);
    let header = cat(&[
        len(0),
        len(0),
        len(0),
        len(0),
        len(0),
        len(0),
        len(0),
        len(0),
        len(0),
    ]);
    let group = cat(&[len(1), string(b"g"), len(0), len(0), len(0)]);
    for body in [
        huge.clone(),
        cat(&[header.clone(), huge.clone()]),
        cat(&[header.clone(), group.clone(), huge.clone()]),
        cat(&[header.clone(), group.clone(), len(0), huge.clone()]),
        cat(&[
            header,
            group,
            len(0),
            len(1),
            string(b"c"),
            vec![0; 8],
            huge,
        ]),
    ] {
        assert!(read_all(&file(10, &key(19, "s", &body))).is_err());
    }
}

#[test]
fn every_truncation_of_a_stream_payload_is_refused() {
    for payload in [ST_DUMP, BIG_DUMP] {
        let body = &payload[..payload.len() - 10];
        for cut in 1..body.len() {
            let mut p = body[..cut].to_vec();
            p.extend_from_slice(&10u16.to_le_bytes());
            let crc = crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(&p);
            p.extend_from_slice(&crc.to_le_bytes());
            assert_eq!(
                dump::decode(&p),
                Err(dump::DumpError::BadFormat),
                "cut at {cut}"
            );
        }
    }
    for cut in (0..STREAMS.len()).step_by(7) {
        assert!(read_all(&STREAMS[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn digest_is_redis_debug_digest_value() {
    use crate::util::redis_digest::{to_hex, type_code, ValueDigest};
    // DEBUG DIGEST-VALUE of the keys on redis-server 7.0.15.
    for (s, want) in [
        (st(), "e5e0773bcd69465c0f500d5bb04f58ed6602763e"),
        (big(), "86fd59ae3fa0d942ab887441a71c866c78e59d58"),
    ] {
        let mut d = ValueDigest::new(type_code::STREAM);
        s.digest_into(&mut d);
        assert_eq!(to_hex(&d.finish(false)), want);
    }
}

#[test]
fn random_byte_flips_never_panic() {
    use super::tests::{flipped, Rng};
    for seed in 1..=400u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        assert!(
            read_all(&flipped(STREAMS, &mut rng)).is_err(),
            "seed {seed}"
        );
        // Payloads re-sealed after damage reach the decoder itself.
        let body = flipped(&ST_DUMP[..ST_DUMP.len() - 10], &mut rng);
        let mut p = body.clone();
        p.extend_from_slice(&10u16.to_le_bytes());
        let crc = crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(&p);
        p.extend_from_slice(&crc.to_le_bytes());
        let _ = dump::decode(&p);
    }
}
