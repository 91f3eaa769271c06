//! Property tests: the WAL readers take any bytes (a torn, damaged or foreign file) without
//! panicking; encoded batches and WAL files read back exactly; damage can make a WAL yield
//! fewer records, never different ones. The encoders here write what RocksDB writes, for
//! other modules' tests too.

use proptest::prelude::*;

use super::file::masked_crc32c;
use super::*;
use crate::util::mutate;

/// Random bytes, up to `max` of them.
pub(crate) fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn put_varint32(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_slice(out: &mut Vec<u8>, s: &[u8]) {
    put_varint32(out, s.len() as u32);
    out.extend_from_slice(s);
}

/// A batch op as a writer may produce it; `explicit_cf` writes the column family even for
/// the default one (RocksDB's "with cf" tags accept id 0).
pub(crate) fn op() -> impl Strategy<Value = (BatchOp, bool)> {
    let kind = prop_oneof![
        Just(OpKind::Put),
        Just(OpKind::Delete),
        Just(OpKind::SingleDelete),
        Just(OpKind::Merge),
        Just(OpKind::DeleteRange),
        Just(OpKind::LogData),
    ];
    (
        kind,
        prop_oneof![0u32..12, any::<u32>()],
        bytes(40),
        bytes(40),
        any::<bool>(),
    )
        .prop_map(|(kind, cf, key, value, explicit_cf)| {
            let op = match kind {
                OpKind::LogData => BatchOp {
                    cf: 0,
                    kind,
                    key: Vec::new(),
                    value,
                },
                OpKind::Delete | OpKind::SingleDelete => BatchOp {
                    cf,
                    kind,
                    key,
                    value: Vec::new(),
                },
                _ => BatchOp {
                    cf,
                    kind,
                    key,
                    value,
                },
            };
            (op, explicit_cf)
        })
}

/// The bytes RocksDB writes for a batch of `ops` starting at `sequence` (each op with the
/// flag of [`op`]).
pub(crate) fn encode_batch(sequence: u64, ops: &[(BatchOp, bool)]) -> Vec<u8> {
    let count = ops.iter().filter(|(o, _)| o.kind.takes_sequence()).count() as u32;
    let mut out = Vec::new();
    out.extend_from_slice(&sequence.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    for (op, explicit_cf) in ops {
        let with_cf = *explicit_cf || op.cf != 0;
        let tag = match (op.kind, with_cf) {
            (OpKind::Put, false) => 0x1,
            (OpKind::Put, true) => 0x5,
            (OpKind::Delete, false) => 0x0,
            (OpKind::Delete, true) => 0x4,
            (OpKind::SingleDelete, false) => 0x7,
            (OpKind::SingleDelete, true) => 0x8,
            (OpKind::Merge, false) => 0x2,
            (OpKind::Merge, true) => 0x6,
            (OpKind::DeleteRange, false) => 0xF,
            (OpKind::DeleteRange, true) => 0xE,
            (OpKind::LogData, _) => 0x3,
        };
        out.push(tag);
        if op.kind == OpKind::LogData {
            put_slice(&mut out, &op.value);
            continue;
        }
        if with_cf {
            put_varint32(&mut out, op.cf);
        }
        put_slice(&mut out, &op.key);
        if !matches!(op.kind, OpKind::Delete | OpKind::SingleDelete) {
            put_slice(&mut out, &op.value);
        }
    }
    out
}

/// Sequence numbers, often at the top of the range where sums overflow.
pub(crate) fn sequence() -> impl Strategy<Value = u64> {
    prop_oneof![any::<u64>(), (u64::MAX - 16)..=u64::MAX]
}

/// Writes `records` as a WAL file does: physical records in 32 KiB blocks, fragmented at
/// block ends, zero trailers where fewer than a header's bytes are left. With
/// `log_number`, the recyclable record types carrying it are used.
pub(crate) fn encode_wal(records: &[Vec<u8>], log_number: Option<u32>) -> Vec<u8> {
    let header_len = if log_number.is_some() {
        RECYCLABLE_HEADER_LEN
    } else {
        HEADER_LEN
    };
    let mut out = Vec::new();
    for record in records {
        let mut rest = &record[..];
        let mut first = true;
        loop {
            let left = WAL_BLOCK_SIZE - out.len() % WAL_BLOCK_SIZE;
            if left < header_len {
                out.resize(out.len() + left, 0);
                continue;
            }
            let n = rest.len().min(left - header_len);
            let last = n == rest.len();
            let mut kind: u8 = match (first, last) {
                (true, true) => 1,
                (true, false) => 2,
                (false, false) => 3,
                (false, true) => 4,
            };
            let mut covered = vec![];
            if let Some(number) = log_number {
                kind += 4;
                covered.push(kind);
                covered.extend_from_slice(&number.to_le_bytes());
            } else {
                covered.push(kind);
            }
            covered.extend_from_slice(&rest[..n]);
            out.extend_from_slice(&masked_crc32c(&covered).to_le_bytes());
            out.extend_from_slice(&(n as u16).to_le_bytes());
            out.extend_from_slice(&covered);
            rest = &rest[n..];
            first = false;
            if last {
                break;
            }
        }
    }
    out
}

/// Logical records from a few bytes to more than a block, so fragments occur.
fn wal_records() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let record = prop_oneof![
        4 => bytes(200),
        1 => (1usize..40_000, any::<u8>()).prop_map(|(n, b)| vec![b; n]),
    ];
    prop::collection::vec(record, 0..6)
}

/// Ops of every kind, log data among them.
fn ops() -> impl Strategy<Value = Vec<(BatchOp, bool)>> {
    prop::collection::vec(op(), 0..12)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parse_batch_never_panics_on_random_bytes(raw in bytes(256)) {
        if let Ok(batch) = parse_batch(&raw) {
            let _ = batch.last_sequence();
        }
        let _ = batch_ops(&raw).count();
        let _ = first_log_data(&raw);
    }

    #[test]
    fn batches_round_trip(sequence in sequence(), ops in ops()) {
        let raw = encode_batch(sequence, &ops);
        let batch = parse_batch(&raw).expect("a well-formed batch parses");
        prop_assert_eq!(batch.sequence, sequence);
        let want: Vec<BatchOp> = ops.into_iter().map(|(o, _)| o).collect();
        prop_assert_eq!(&batch.ops, &want);
        // Read in place, the same ops.
        let in_place: Vec<BatchOp> = batch_ops(&raw)
            .map(|op| {
                let op = op.expect("a well-formed batch reads");
                BatchOp { cf: op.cf, kind: op.kind, key: op.key.to_vec(), value: op.value.to_vec() }
            })
            .collect();
        prop_assert_eq!(&in_place, &want);
    }

    #[test]
    fn damaged_batches_never_panic(
        sequence in sequence(),
        ops in ops(),
        edits in mutate::mutations(6),
    ) {
        let raw = mutate::apply(&encode_batch(sequence, &ops), &edits);
        if let Ok(batch) = parse_batch(&raw) {
            let _ = batch.last_sequence();
        }
        let _ = batch_ops(&raw).count();
        let _ = first_log_data(&raw);
    }

    #[test]
    fn read_wal_never_panics_on_random_bytes(
        raw in bytes(512),
        base in prop_oneof![Just(0u64), 0u64..(1 << 40)],
        log_number in prop::option::of(any::<u64>()),
    ) {
        let _ = read_wal_at(&raw, base, log_number);
    }

    #[test]
    fn wal_files_round_trip(records in wal_records(), recyclable in any::<bool>()) {
        let log_number = recyclable.then_some(7u32);
        let raw = encode_wal(&records, log_number);
        let read = read_wal(&raw, log_number.map(u64::from)).expect("uncompressed");
        prop_assert_eq!(read.torn, None);
        prop_assert_eq!(read.end, raw.len() as u64);
        let data: Vec<Vec<u8>> = read.records.into_iter().map(|r| r.data).collect();
        prop_assert_eq!(data, records);
    }

    #[test]
    fn damaged_wal_files_yield_only_records_that_were_written(
        records in wal_records(),
        recyclable in any::<bool>(),
        edits in mutate::mutations(3),
    ) {
        let log_number = recyclable.then_some(7u32);
        let raw = mutate::apply(&encode_wal(&records, log_number), &edits);
        let Ok(read) = read_wal(&raw, log_number.map(u64::from)) else {
            // Only a damaged "set compression" record can claim compression.
            return Ok(());
        };
        prop_assert!(read.end <= raw.len() as u64);
        // Every record returned is one that was written, in order: damage can lose
        // records (a checksum failure ends the log; a header zeroed into "preallocated
        // space" skips the rest of its block, as in RocksDB) but never invents one.
        let mut originals = records.iter();
        for got in &read.records {
            prop_assert!(
                originals.any(|want| *want == got.data),
                "a record that was never written came out of a damaged WAL"
            );
        }
    }
}
