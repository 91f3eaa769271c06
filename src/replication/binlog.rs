//! The binlog read as commands: write batches cut at their notes, the transactions they
//! belong to, and when they were committed.
//!
//! The binlog is RocksDB's WAL (`storage::wal` reads its files and batches); every batch pika
//! writes opens with a note naming its command (`storage::batch_note`). RocksDB may write the
//! batches of several threads as one WAL record (group commit): the batches' ops concatenated,
//! with the first sequence number and the sum of the counts. [`split_by_notes`] cuts such a
//! record back into commands, one per note.
//!
//! A slave holds back the batches of an EXEC until the closing one ([`transaction_marks`]); a
//! master measures how far behind its slaves are by the commit time of the batches they
//! acknowledged ([`batch_commit_time`]). Both read a record in place, without copying its ops.

use crate::storage::batch_note::{BatchNote, TransactionMark};
use crate::storage::wal::{batch_ops, first_log_data, BatchOp, FormatError, OpKind, ParsedBatch};

/// A slice of a batch belonging to one command: see [`split_by_notes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOps<'a> {
    /// Sequence number of the first data op of the command (of the op it would have when it has
    /// none).
    pub sequence: u64,
    /// Number of data ops.
    pub count: u32,
    /// The note that opened the command; `None` for ops before the batch's first note.
    pub note: Option<BatchNote>,
    /// The command's ops, its note excluded.
    pub ops: &'a [BatchOp],
}

/// Splits `batch` at its notes: each note starts a new command, and ops before the first
/// note form a command without a note. A batch RocksDB wrote alone gives one command; a
/// group commit gives one per batch of the group.
pub fn split_by_notes(batch: &ParsedBatch) -> Vec<CommandOps<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut note = None;
    let mut seq = batch.sequence;
    let mut count = 0u32;
    for (i, op) in batch.ops.iter().enumerate() {
        if op.kind == OpKind::LogData {
            if let Some(next) = BatchNote::decode(&op.value) {
                if i > start || note.is_some() {
                    out.push(CommandOps {
                        sequence: seq,
                        count,
                        note: note.take(),
                        ops: &batch.ops[start..i],
                    });
                    // Wrapping: a damaged header may start near u64::MAX.
                    seq = seq.wrapping_add(u64::from(count));
                    count = 0;
                }
                note = Some(next);
                start = i + 1;
                continue;
            }
        }
        if op.kind.takes_sequence() {
            count += 1;
        }
    }
    if start < batch.ops.len() || note.is_some() || out.is_empty() {
        out.push(CommandOps {
            sequence: seq,
            count,
            note,
            ops: &batch.ops[start..],
        });
    }
    out
}

/// The transaction marks of the notes in batch `data` (a WAL record), in order, without
/// copying its ops.
pub fn transaction_marks(data: &[u8]) -> Result<Vec<TransactionMark>, FormatError> {
    let mut marks = Vec::new();
    for op in batch_ops(data) {
        let op = op?;
        if op.kind == OpKind::LogData {
            marks.extend(BatchNote::decode_transaction(op.value));
        }
    }
    Ok(marks)
}

/// The commit time (Unix ms) in the note that opens batch `data`, without parsing the rest;
/// `None` when the batch does not start with a note.
pub fn batch_commit_time(data: &[u8]) -> Option<u64> {
    BatchNote::decode_time(first_log_data(data)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::engine::{Engine, EngineOptions};
    use crate::storage::wal::proptests::encode_batch;
    use crate::storage::wal::{parse_batch, read_wal_file, wal_files};

    fn note_op(command: &str) -> BatchOp {
        let note = BatchNote {
            time_ms: 5,
            db: 0,
            command: command.into(),
        };
        BatchOp::new(0, OpKind::LogData, b"", &note.encode())
    }

    /// The bytes of a batch of `ops`, as RocksDB encodes it.
    fn encode(ops: Vec<BatchOp>) -> Vec<u8> {
        let ops: Vec<_> = ops.into_iter().map(|o| (o, false)).collect();
        encode_batch(0, &ops)
    }

    #[test]
    fn commit_time_comes_from_the_opening_note() {
        let note = BatchNote {
            time_ms: 1_700_000_000_456,
            db: 0,
            command: "SET".into(),
        };
        let batch = encode(vec![
            BatchOp::new(0, OpKind::LogData, b"", &note.encode()),
            BatchOp::new(0, OpKind::Put, b"k", b"v"),
        ]);
        assert_eq!(batch_commit_time(&batch), Some(1_700_000_000_456));
        // No note first, another blob, or a cut batch: no time.
        let plain = encode(vec![BatchOp::new(0, OpKind::Put, b"k", b"v")]);
        assert_eq!(batch_commit_time(&plain), None);
        let other = encode(vec![BatchOp::new(0, OpKind::LogData, b"", b"not a note")]);
        assert_eq!(batch_commit_time(&other), None);
        assert_eq!(batch_commit_time(&batch[..20]), None);
    }

    #[test]
    fn transaction_marks_are_read_from_every_note_of_a_record() {
        let mark = |id, closing| TransactionMark { id, closing };
        let log = |blob: &[u8]| BatchOp::new(0, OpKind::LogData, b"", blob);
        let batch = encode(vec![
            log(&BatchNote::encode_marked(1, 0, "SET", Some(mark(5, false)))),
            BatchOp::new(0, OpKind::Put, b"k", b"v"),
            log(&BatchNote::encode_parts(1, 0, "DEL")),
            BatchOp::new(0, OpKind::Delete, b"j", b""),
            log(b"not a note"),
            log(&BatchNote::encode_marked(2, 0, "exec", Some(mark(5, true)))),
            BatchOp::new(0, OpKind::Put, b"end", b""),
        ]);
        assert_eq!(
            transaction_marks(&batch).expect("parses"),
            vec![mark(5, false), mark(5, true)]
        );
        assert!(transaction_marks(&batch[..batch.len() - 1]).is_err());
        assert_eq!(transaction_marks(b"short").expect("empty"), Vec::new());
    }

    #[test]
    fn split_by_notes_cuts_group_commits_into_commands() {
        let put = |k: &[u8]| BatchOp::new(1, OpKind::Put, k, b"v");
        let merged = ParsedBatch {
            sequence: 100,
            count: 5,
            ops: vec![
                note_op("SET"),
                put(b"a"),
                note_op("MSET"),
                put(b"b"),
                put(b"c"),
                BatchOp::new(0, OpKind::LogData, b"", b"not a note"),
                note_op("DEL"),
                put(b"d"),
                put(b"e"),
            ],
        };
        let parts = split_by_notes(&merged);
        let summary: Vec<_> = parts
            .iter()
            .map(|p| {
                (
                    p.sequence,
                    p.count,
                    p.note.as_ref().map(|n| n.command.as_str()),
                    p.ops.len(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (100, 1, Some("SET"), 1),
                (101, 2, Some("MSET"), 3),
                (103, 2, Some("DEL"), 2),
            ]
        );
        // Without notes the batch is one command.
        let plain = ParsedBatch {
            sequence: 7,
            count: 2,
            ops: vec![put(b"a"), put(b"b")],
        };
        let parts = split_by_notes(&plain);
        assert_eq!(parts.len(), 1);
        assert_eq!(
            (parts[0].sequence, parts[0].count, parts[0].ops.len()),
            (7, 2, 2)
        );
        assert!(parts[0].note.is_none());
        // Ops before the first note are their own command.
        let mixed = ParsedBatch {
            sequence: 1,
            count: 2,
            ops: vec![put(b"a"), note_op("SET"), put(b"b")],
        };
        let parts = split_by_notes(&mixed);
        assert_eq!(parts.len(), 2);
        assert_eq!((parts[1].sequence, parts[1].count), (2, 1));
    }

    #[test]
    fn concurrent_writers_split_back_into_their_batches() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = Engine::open(dir.path(), &EngineOptions::default()).expect("open");
        const THREADS: u64 = 4;
        const PER_THREAD: u64 = 300;
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let engine = &engine;
                s.spawn(move || {
                    for i in 0..PER_THREAD {
                        let note = BatchNote {
                            time_ms: i,
                            db: t as u16,
                            command: format!("T{t}"),
                        };
                        let batch = encode(vec![
                            BatchOp::new(0, OpKind::LogData, b"", &note.encode()),
                            BatchOp::new(0, OpKind::Put, format!("t{t}:{i}").as_bytes(), b"a"),
                            BatchOp::new(0, OpKind::Put, format!("t{t}:{i}:b").as_bytes(), b"b"),
                        ]);
                        engine.write_replicated(&batch, &[]).expect("write");
                    }
                });
            }
        });
        engine.flush_wal_buffer().expect("flush");
        let mut commands = 0;
        let mut merged_records = 0;
        let mut next_seq = 1;
        for file in wal_files(dir.path()).expect("list wal files") {
            for record in read_wal_file(&file).expect("read").records {
                let batch = parse_batch(&record.data).expect("parse");
                let parts = split_by_notes(&batch);
                merged_records += usize::from(parts.len() > 1);
                for part in parts {
                    let note = part.note.expect("every batch has its note");
                    assert_eq!(part.sequence, next_seq);
                    assert_eq!(part.count, 2);
                    let (t, i) = (note.db, note.time_ms);
                    assert_eq!(part.ops[0].key, format!("t{t}:{i}").into_bytes());
                    assert_eq!(part.ops[1].key, format!("t{t}:{i}:b").into_bytes());
                    next_seq += 2;
                    commands += 1;
                }
            }
        }
        assert_eq!(commands, THREADS * PER_THREAD);
        eprintln!("group-committed WAL records: {merged_records}");
    }
}

/// Property tests: splitting at notes loses no op and counts every data op once; the readers
/// take any bytes without panicking.
#[cfg(test)]
mod proptests {
    use super::*;
    use crate::storage::wal::parse_batch;
    use crate::storage::wal::proptests::{bytes, encode_batch, op, sequence};
    use crate::util::mutate;
    use proptest::prelude::*;

    /// Notes mixed among the ops, as the write path and group commits produce them.
    fn ops_with_notes() -> impl Strategy<Value = Vec<(BatchOp, bool)>> {
        let note = (any::<u64>(), any::<u16>(), "[a-z ]{0,12}").prop_map(|(t, db, cmd)| {
            let value = BatchNote {
                time_ms: t,
                db,
                command: cmd,
            }
            .encode();
            (
                BatchOp {
                    cf: 0,
                    kind: OpKind::LogData,
                    key: Vec::new(),
                    value,
                },
                false,
            )
        });
        prop::collection::vec(prop_oneof![3 => op(), 1 => note], 0..12)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn readers_never_panic_on_random_bytes(raw in bytes(256)) {
            if let Ok(batch) = parse_batch(&raw) {
                let _ = split_by_notes(&batch);
            }
            let _ = batch_commit_time(&raw);
            let _ = transaction_marks(&raw);
        }

        #[test]
        fn splitting_at_notes_loses_no_op(sequence in sequence(), ops in ops_with_notes()) {
            let raw = encode_batch(sequence, &ops);
            let batch = parse_batch(&raw).expect("a well-formed batch parses");
            // Splitting at the notes loses no op and counts every data op once.
            let commands = split_by_notes(&batch);
            let ops_seen: usize = commands.iter().map(|c| c.ops.len() + usize::from(c.note.is_some())).sum();
            prop_assert!(ops_seen <= ops.len());
            let counted: u64 = commands.iter().map(|c| u64::from(c.count)).sum();
            prop_assert_eq!(counted, u64::from(batch.count));
        }

        #[test]
        fn damaged_batches_never_panic(
            sequence in sequence(),
            ops in ops_with_notes(),
            edits in mutate::mutations(6),
        ) {
            let raw = mutate::apply(&encode_batch(sequence, &ops), &edits);
            if let Ok(batch) = parse_batch(&raw) {
                let _ = split_by_notes(&batch);
            }
            let _ = batch_commit_time(&raw);
            let _ = transaction_marks(&raw);
        }
    }
}
