//! Damaged data files, black box: the server names the damaged file at start-up and never
//! answers wrong data.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::TestServer;

const KEYS: usize = 2000;

fn value_of(i: usize) -> String {
    format!("{i:06}-{}", "v".repeat(1000))
}

fn write_keys(server: &TestServer) {
    let mut conn = server.conn();
    let mut pipe = redis::pipe();
    for i in 0..KEYS {
        pipe.cmd("SET")
            .arg(format!("k{i}"))
            .arg(value_of(i))
            .ignore();
    }
    pipe.query::<()>(&mut conn).unwrap();
}

/// Files under `dir` whose names end in `suffix`, largest first.
fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .map(|p| (std::fs::metadata(&p).unwrap().len(), p))
        .collect();
    found.sort_by_key(|(len, _)| std::cmp::Reverse(*len));
    found.into_iter().map(|(_, p)| p).collect()
}

/// Flips `len` bytes of `path` from `offset`.
fn damage(path: &Path, offset: usize, len: usize) {
    let mut data = std::fs::read(path).unwrap();
    for b in &mut data[offset..offset + len] {
        *b ^= 0xa5;
    }
    std::fs::write(path, data).unwrap();
}

#[test]
fn a_damaged_table_file_is_named_at_start_up_and_its_keys_answer_errors_not_wrong_data() {
    let mut server = TestServer::start_with(&["--compression", "none"]);
    write_keys(&server);
    // A clean stop flushes the memtables: the keys now live in table files.
    server.terminate();
    let tables = files_ending(&server.db_path(), ".sst");
    let victim = tables.first().expect("a table file").clone();
    let size = std::fs::metadata(&victim).unwrap().len() as usize;
    assert!(size > 1 << 20, "{} holds the values", victim.display());
    damage(&victim, size * 2 / 5, 64);

    server.restart();
    let name = victim.file_name().unwrap().to_string_lossy().into_owned();
    common::wait_for(
        "the damaged file in the log",
        Duration::from_secs(20),
        || {
            let log = server.log_text();
            match log.lines().find(|l| l.contains("damaged")) {
                Some(line) if line.contains(&name) => Ok(()),
                Some(line) => Err(format!("reported without the file name: {line}")),
                None => Err("no report yet".into()),
            }
        },
    );

    let mut conn = server.conn();
    let mut errors = 0;
    for i in 0..KEYS {
        match redis::cmd("GET")
            .arg(format!("k{i}"))
            .query::<Option<String>>(&mut conn)
        {
            Ok(value) => assert_eq!(value, Some(value_of(i)), "k{i} answered wrong data"),
            Err(e) => {
                assert!(e.to_string().contains("Corruption"), "k{i}: {e}");
                errors += 1;
            }
        }
    }
    assert!(errors > 0, "no read reached the damaged block");
    assert!(errors < KEYS / 2, "{errors} of {KEYS} keys unreadable");
}

#[test]
fn a_binlog_damaged_before_later_records_stops_the_start_naming_the_file() {
    // Memtables big enough that nothing is flushed: every key is only in the binlog.
    let mut server = TestServer::start_with(&["--write-buffer-size", "256mb"]);
    write_keys(&server);
    server.kill9();
    let db = server.db_path();
    let wal = files_ending(&db, ".log")
        .into_iter()
        .find(|p| !p.ends_with("LOG"))
        .expect("a binlog file");
    // Halfway: the records before it (a worker writes a round's commands as one) survive.
    let at = std::fs::metadata(&wal).unwrap().len() as usize / 2;
    damage(&wal, at, 16);

    let port = common::free_port().to_string();
    let log_dir = server.dir().join("log-failed");
    let args = [
        "--port",
        port.as_str(),
        "--db-path",
        db.to_str().unwrap(),
        "--log-path",
        log_dir.to_str().unwrap(),
    ];
    let (code, _, stderr) = common::run_pika(&args);
    assert_eq!(
        code,
        Some(1),
        "started on a damaged binlog; stderr: {stderr}"
    );
    assert!(
        stderr.contains(&wal.display().to_string()) && stderr.contains("damaged at offset"),
        "stderr: {stderr}"
    );

    // Doing what the message says starts the server with the records before the damage.
    let offset: u64 = stderr
        .split("damaged at offset ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse().ok())
        .expect("offset in the message");
    assert!(offset as usize <= at);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&wal)
        .unwrap()
        .set_len(offset)
        .unwrap();
    server.restart();
    let mut conn = server.conn();
    let kept: usize = (0..KEYS)
        .take_while(|i| {
            redis::cmd("GET")
                .arg(format!("k{i}"))
                .query::<Option<String>>(&mut conn)
                .unwrap()
                == Some(value_of(*i))
        })
        .count();
    assert!(kept > 0 && kept < KEYS, "kept {kept} keys");
}

#[test]
fn a_binlog_cut_inside_its_last_record_is_a_torn_tail_and_starts() {
    let mut server = TestServer::start_with(&["--write-buffer-size", "256mb"]);
    write_keys(&server);
    server.kill9();
    let wal = files_ending(&server.db_path(), ".log")
        .into_iter()
        .find(|p| !p.ends_with("LOG"))
        .expect("a binlog file");
    let len = std::fs::metadata(&wal).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&wal)
        .unwrap()
        .set_len(len - 100)
        .unwrap();
    server.restart();
    let mut conn = server.conn();
    let first: Option<String> = redis::cmd("GET").arg("k0").query(&mut conn).unwrap();
    assert_eq!(first, Some(value_of(0)));
}
