//! `pika_tools binlog`: lists the write batches a real server left in its WAL.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{cmd, TestServer};

/// Runs `pika_tools` with `args`; returns (stdout, stderr, success).
fn tools(args: &[&str]) -> (String, String, bool) {
    let out = Command::new(env!("CARGO_BIN_EXE_pika_tools"))
        .args(args)
        .output()
        .expect("run pika_tools");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}

fn binlog(db_path: &Path, extra: &[&str]) -> String {
    let db = db_path.to_str().expect("utf-8 path");
    let mut args = vec!["binlog", "--db-path", db];
    args.extend_from_slice(extra);
    let (stdout, stderr, ok) = tools(&args);
    assert!(ok, "pika_tools failed: {stderr}");
    stdout
}

/// A server that ran SET foo, HSET h, DEL foo, SET k2, in that order.
fn server_with_writes() -> TestServer {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "foo", "bar"]).unwrap();
    let _: i64 = cmd(&mut c, &["HSET", "h", "f", "v"]).unwrap();
    let _: i64 = cmd(&mut c, &["DEL", "foo"]).unwrap();
    let _: () = cmd(&mut c, &["SET", "k2", "x"]).unwrap();
    s
}

/// The sequence number of the batch holding the first op line containing `needle`.
fn seq_of(listing: &str, needle: &str) -> Option<u64> {
    let mut seq = None;
    for line in listing.lines() {
        if let Some(rest) = line.strip_prefix("seq=") {
            seq = rest.split(' ').next().and_then(|s| s.parse().ok());
        } else if line.starts_with("  ") && line.contains(needle) {
            return seq;
        }
    }
    None
}

const SET_FOO: &str = "put meta db=0 key=foo type=string val=bar";
const HSET_H: &str = "put hash db=0 key=h sub=f";
const DEL_FOO: &str = "del meta db=0 key=foo";
const SET_K2: &str = "put meta db=0 key=k2 type=string val=x";

#[test]
fn lists_writes_in_order_while_the_server_runs() {
    let s = server_with_writes();
    let listing = binlog(&s.db_path(), &[]);
    let seqs: Vec<u64> = [SET_FOO, HSET_H, DEL_FOO, SET_K2]
        .iter()
        .map(|op| seq_of(&listing, op).unwrap_or_else(|| panic!("{op:?} in:\n{listing}")))
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}\n{listing}");
    assert!(
        listing.contains("put meta db=0 key=h type=hash"),
        "{listing}"
    );
    let header = listing
        .lines()
        .find(|l| l.starts_with(&format!("seq={} ", seqs[0])))
        .expect("batch line");
    assert!(
        header.contains(" time=") && header.contains(" cmd="),
        "{header}"
    );
    let summary = listing.lines().last().expect("summary");
    assert!(summary.starts_with("files="), "{summary}");
    assert!(
        summary.contains(" batches=") && summary.contains(" ops="),
        "{summary}"
    );
}

#[test]
fn from_and_to_select_batches_by_sequence() {
    let s = server_with_writes();
    let hset = seq_of(&binlog(&s.db_path(), &[]), HSET_H).expect("HSET listed");
    let from = hset.to_string();
    let later = binlog(&s.db_path(), &["--from", &from]);
    assert!(!later.contains(SET_FOO), "{later}");
    assert!(later.contains(HSET_H) && later.contains(SET_K2), "{later}");
    let before = (hset - 1).to_string();
    let earlier = binlog(&s.db_path(), &["--to", &before]);
    assert!(earlier.contains(SET_FOO), "{earlier}");
    assert!(
        !earlier.contains(HSET_H) && !earlier.contains(SET_K2),
        "{earlier}"
    );
    let only = binlog(&s.db_path(), &["--from", &from, "--to", &from]);
    assert!(only.contains(HSET_H), "{only}");
    assert!(!only.contains(DEL_FOO) && !only.contains(SET_FOO), "{only}");
}

#[test]
fn reads_the_log_a_killed_server_left() {
    let mut s = server_with_writes();
    s.kill9();
    let listing = binlog(&s.db_path(), &[]);
    assert!(
        listing.contains(SET_FOO) && listing.contains(SET_K2),
        "{listing}"
    );
}

/// The WAL file holding the test's writes.
fn live_wal(db_path: &Path) -> PathBuf {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(db_path)
        .expect("db dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs.pop().expect("a WAL file")
}

#[test]
fn a_torn_tail_is_reported_and_earlier_batches_still_listed() {
    let s = server_with_writes();
    let wal = std::fs::read(live_wal(&s.db_path())).expect("read WAL");
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("000001.log");
    // Cut the last batch (SET k2) in half.
    std::fs::write(&copy, &wal[..wal.len() - 10]).expect("write copy");
    let (stdout, stderr, ok) = tools(&["binlog", "--file", copy.to_str().expect("utf-8")]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains(SET_FOO) && stdout.contains(DEL_FOO),
        "{stdout}"
    );
    assert!(!stdout.contains("key=k2"), "{stdout}");
    assert!(
        stderr.contains("warning") && stderr.contains("cut short"),
        "{stderr}"
    );
}

#[test]
fn help_explains_the_listing() {
    let (stdout, _, ok) = tools(&["binlog", "--help"]);
    assert!(ok);
    for word in ["--db-path", "--from", "--to", "--file", "seq=", "archive"] {
        assert!(stdout.contains(word), "{word} missing from:\n{stdout}");
    }
    let (_, stderr, ok) = tools(&["binlog"]);
    assert!(!ok && stderr.contains("--db-path"), "{stderr}");
}

#[test]
fn batch_notes_give_time_database_and_command() {
    use pika::storage::batch_note::BatchNote;
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let mut o = rocksdb::Options::default();
        o.create_if_missing(true);
        let db = rocksdb::DB::open(&o, dir.path()).expect("open rocksdb");
        for (i, (db_index, command)) in [(2, "SET"), (BatchNote::NO_DB, "FLUSHALL")]
            .into_iter()
            .enumerate()
        {
            let note = BatchNote {
                time_ms: 1_700_000_000_123 + i as u64,
                db: db_index,
                command: command.into(),
            };
            let mut batch = rocksdb::WriteBatch::default();
            batch.put_log_data(note.encode());
            batch.put(format!("k{i}"), b"v");
            db.write(batch).expect("write");
        }
        db.flush_wal(true).expect("flush");
    }
    let listing = binlog(dir.path(), &[]);
    assert!(
        listing.contains("seq=1 count=1 time=2023-11-14T22:13:20.123Z db=2 cmd=SET ops=1\n  put default key=k0 val=v\n"),
        "{listing}"
    );
    assert!(
        listing.contains("seq=2 count=1 time=2023-11-14T22:13:20.124Z db=* cmd=FLUSHALL ops=1"),
        "{listing}"
    );
    assert!(listing.ends_with("files=1 batches=2 ops=2\n"), "{listing}");
}
