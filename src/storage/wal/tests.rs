//! The WAL readers against files and batches RocksDB itself wrote.

use std::path::{Path, PathBuf};

use rocksdb::{ColumnFamilyDescriptor, Options, WriteBatch, DB};

use super::*;

/// Opens a RocksDB at `dir` with column families "a" and "b" (ids 1 and 2).
fn open_db(dir: &Path, manual_flush: bool, recycle: bool) -> DB {
    let mut o = Options::default();
    o.create_if_missing(true);
    o.create_missing_column_families(true);
    o.set_manual_wal_flush(manual_flush);
    if recycle {
        o.set_recycle_log_file_num(4);
    }
    let cfs = ["a", "b"].map(|n| ColumnFamilyDescriptor::new(n, Options::default()));
    DB::open_cf_descriptors(&o, dir, cfs).expect("open rocksdb")
}

fn sample_batch(db: &DB) -> WriteBatch {
    let a = db.cf_handle("a").expect("cf a");
    let b = db.cf_handle("b").expect("cf b");
    let mut batch = WriteBatch::default();
    batch.put_log_data(b"note-ish");
    batch.put(b"k0", b"v0");
    batch.put_cf(a, b"k1", b"v1");
    batch.delete_cf(b, b"k2");
    batch.delete(b"k3");
    batch.merge_cf(a, b"k4", b"+1");
    batch.merge(b"k5", b"m");
    batch.delete_range_cf(b, &b"from"[..], b"to");
    batch.delete_range(b"x", b"y");
    batch.single_delete_cf(a, b"k6");
    batch.single_delete(b"k7");
    batch
}

#[test]
fn parses_real_rocksdb_batches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(dir.path(), false, false);
    let batch = sample_batch(&db);
    let parsed = parse_batch(batch.data()).expect("parse");
    assert_eq!(parsed.sequence, 0);
    assert_eq!(parsed.count, 10);
    assert_eq!(parsed.count as usize, batch.len());
    assert_eq!(
        parsed.ops,
        vec![
            BatchOp::new(0, OpKind::LogData, b"", b"note-ish"),
            BatchOp::new(0, OpKind::Put, b"k0", b"v0"),
            BatchOp::new(1, OpKind::Put, b"k1", b"v1"),
            BatchOp::new(2, OpKind::Delete, b"k2", b""),
            BatchOp::new(0, OpKind::Delete, b"k3", b""),
            BatchOp::new(1, OpKind::Merge, b"k4", b"+1"),
            BatchOp::new(0, OpKind::Merge, b"k5", b"m"),
            BatchOp::new(2, OpKind::DeleteRange, b"from", b"to"),
            BatchOp::new(0, OpKind::DeleteRange, b"x", b"y"),
            BatchOp::new(1, OpKind::SingleDelete, b"k6", b""),
            BatchOp::new(0, OpKind::SingleDelete, b"k7", b""),
        ]
    );
    assert_eq!(parsed.last_sequence(), 9);
}

/// Tiny deterministic generator so failures reproduce.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn never_panics_on_truncated_or_garbled_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(dir.path(), false, false);
    let batch = sample_batch(&db);
    let good = batch.data().to_vec();
    for cut in 0..good.len() {
        assert!(parse_batch(&good[..cut]).is_err(), "cut at {cut}");
    }
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        let mut data = good.clone();
        for _ in 0..1 + rng.next() % 4 {
            let i = (rng.next() as usize) % data.len();
            data[i] = rng.next() as u8;
        }
        let _ = parse_batch(&data);
        let len = (rng.next() % 64) as usize;
        let noise: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let _ = parse_batch(&noise);
        let _ = read_wal(&noise, Some(rng.next() % 4));
    }
    // A real WAL with a multi-block record, damaged at random: records that survive the
    // checksums parse or fail cleanly.
    let mut small = WriteBatch::default();
    small.put_log_data(b"note");
    small.put(b"k", b"v");
    small.delete_range(b"a", b"b");
    db.write(small).expect("write");
    let mut big = WriteBatch::default();
    big.put(b"big", vec![7u8; 70_000]);
    db.write(big).expect("write");
    db.flush_wal(true).expect("flush");
    let file = logs(dir.path()).pop().expect("a wal file");
    let wal = std::fs::read(&file).expect("read");
    assert_eq!(read_wal(&wal, None).expect("read").records.len(), 2);
    for _ in 0..2_000 {
        let mut data = wal.clone();
        for _ in 0..1 + rng.next() % 3 {
            let i = (rng.next() as usize) % data.len();
            data[i] = rng.next() as u8;
        }
        let cut = (rng.next() as usize) % (data.len() + 1);
        if let Ok(r) = read_wal(&data[..cut], Some(rng.next() % 8)) {
            for record in r.records {
                let _ = parse_batch(&record.data);
            }
        }
    }
}

/// The `*.log` files of `dir`, by number.
fn logs(dir: &Path) -> Vec<PathBuf> {
    wal_files(dir).expect("list wal files")
}

/// Writes batches (one spanning several blocks), reads them back from the WAL, then checks
/// that a cut or damaged tail is detected.
fn wal_round_trip(manual_flush: bool, recycle: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(dir.path(), manual_flush, recycle);
    let a = db.cf_handle("a").expect("cf a");
    let mut expected: Vec<(u64, Vec<u8>)> = Vec::new();
    for i in 0..40u32 {
        let mut batch = WriteBatch::default();
        batch.put_log_data(format!("batch {i}"));
        let value_len = match i {
            7 => 100_000, // FIRST, MIDDLE, MIDDLE, LAST
            20 => 32_768 - 7 - 30,
            _ => 10 + (i as usize * 37) % 300,
        };
        batch.put_cf(a, format!("key{i}"), vec![b'a' + (i % 26) as u8; value_len]);
        if i % 3 == 0 {
            batch.delete(format!("gone{i}"));
        }
        let first_seq = db.latest_sequence_number() + 1;
        expected.push((first_seq, batch.data()[BATCH_HEADER_LEN..].to_vec()));
        db.write(batch).expect("write");
    }
    db.flush_wal(true).expect("flush wal");
    let files = logs(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let read = read_wal_file(&files[0]).expect("read wal");
    assert_eq!(read.torn, None);
    assert_eq!(read.records.len(), expected.len());
    for (record, (seq, body)) in read.records.iter().zip(&expected) {
        let parsed = parse_batch(&record.data).expect("parse");
        assert_eq!(parsed.sequence, *seq);
        assert_eq!(&record.data[BATCH_HEADER_LEN..], &body[..]);
    }
    let big = &read.records[7];
    assert!(big.data.len() > 2 * WAL_BLOCK_SIZE);

    // Cut inside the big record: the records before it survive, the tail is reported.
    let bytes = std::fs::read(&files[0]).expect("read file");
    let cut_at = big.offset as usize + 40_000;
    let cut = read_wal(&bytes[..cut_at], wal_file_number(&files[0])).expect("read");
    assert_eq!(cut.records, read.records[..7]);
    assert_eq!(
        cut.torn,
        Some(TornTail {
            offset: big.offset,
            kind: TornKind::Short
        })
    );
    // Cut at every length inside the last record: never returned, always reported.
    let last = read.records.last().expect("records");
    for end in last.offset as usize + 1..bytes.len() {
        let r = read_wal(&bytes[..end], None).expect("read");
        assert_eq!(r.records.len(), read.records.len() - 1, "cut at {end}");
        assert_eq!(r.torn.map(|t| t.offset), Some(last.offset), "cut at {end}");
    }
    // A damaged byte in record 10 ends the log there.
    let mut damaged = bytes.clone();
    let tenth = read.records[10].offset as usize;
    damaged[tenth + 20] ^= 0x40;
    let r = read_wal(&damaged, None).expect("read");
    assert_eq!(r.records, read.records[..10]);
    assert_eq!(
        r.torn,
        Some(TornTail {
            offset: tenth as u64,
            kind: TornKind::BadChecksum
        })
    );
}

#[test]
fn wal_reader_returns_every_batch_with_manual_wal_flush() {
    wal_round_trip(true, false);
}

#[test]
fn wal_reader_returns_every_batch_with_default_options() {
    wal_round_trip(false, false);
}

#[test]
fn wal_reader_understands_recyclable_records() {
    wal_round_trip(false, true);
}

#[test]
fn recycled_file_ends_at_records_of_another_log_number() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(dir.path(), false, true);
    for i in 0..3 {
        db.put(format!("k{i}"), b"v").expect("put");
    }
    db.flush_wal(true).expect("flush");
    let file = logs(dir.path()).pop().expect("a wal file");
    let n = wal_file_number(&file).expect("number");
    let bytes = std::fs::read(&file).expect("read");
    assert!((5..=8).contains(&bytes[6]), "recyclable record type");
    assert_eq!(read_wal(&bytes, Some(n)).expect("read").records.len(), 3);
    // Read as if the file had another number: its records are a previous user's.
    let other = read_wal(&bytes, Some(n + 1)).expect("read");
    assert!(other.records.is_empty() && other.torn.is_none());
}

#[test]
fn zero_filled_space_is_padding() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(dir.path(), false, false);
    db.put(b"k", b"v").expect("put");
    db.flush_wal(true).expect("flush");
    let file = logs(dir.path()).pop().expect("a wal file");
    let mut bytes = std::fs::read(&file).expect("read");
    let clean = read_wal(&bytes, None).expect("read");
    bytes.resize(bytes.len() + 3 * WAL_BLOCK_SIZE + 5, 0);
    assert_eq!(read_wal(&bytes, None).expect("read"), clean);
}

#[test]
fn wal_files_lists_live_and_archived_logs_by_number() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = dir.path().join("archive");
    std::fs::create_dir(&archive).expect("mkdir");
    for p in [
        dir.path().join("000012.log"),
        dir.path().join("000009.log"),
        dir.path().join("LOG"),
        dir.path().join("MANIFEST-000005"),
        archive.join("000003.log"),
        archive.join("000009.log"),
    ] {
        std::fs::write(p, b"").expect("write");
    }
    let names: Vec<_> = wal_files(dir.path())
        .expect("list")
        .iter()
        .map(|p| p.strip_prefix(dir.path()).expect("inside").to_path_buf())
        .collect();
    assert_eq!(
        names,
        ["archive/000003.log", "archive/000009.log", "000012.log"]
            .map(PathBuf::from)
            .to_vec()
    );
    assert_eq!(wal_file_number(Path::new("/x/000123.log")), Some(123));
    assert_eq!(wal_file_number(Path::new("/x/a123.log")), None);
}
