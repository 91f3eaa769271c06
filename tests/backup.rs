//! Backups: BGSAVE and SAVE write a consistent snapshot with its binlog position, and
//! `pika_tools restore` brings it back, also as a slave that resumes incrementally.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{call, info_field, wait_until, TestServer};
use redis::Connection;

/// Runs BGSAVE and waits for it; returns the backup directory.
fn bgsave(c: &mut Connection) -> PathBuf {
    let reply: String = call(c, &["BGSAVE"]);
    assert_eq!(reply, "Background saving started");
    wait_until("the background save", || {
        info_field(c, "persistence", "rdb_bgsave_in_progress") == "0"
    });
    assert_eq!(info_field(c, "persistence", "rdb_last_bgsave_status"), "ok");
    PathBuf::from(info_field(c, "persistence", "backup_path"))
}

fn restore(from: &Path, db_path: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pika_tools"))
        .args(["restore", "--from"])
        .arg(from)
        .arg("--db-path")
        .arg(db_path)
        .output()
        .expect("run pika_tools")
}

fn fill(c: &mut Connection, tag: &str) {
    for i in 0..200 {
        let _: () = call(c, &["SET", &format!("{tag}:s:{i}"), &i.to_string()]);
    }
    let _: () = call(c, &["HSET", &format!("{tag}:h"), "f1", "v1", "f2", "v2"]);
    let _: () = call(c, &["RPUSH", &format!("{tag}:l"), "a", "b", "c"]);
    let _: () = call(c, &["SADD", &format!("{tag}:set"), "x", "y"]);
    let _: () = call(c, &["ZADD", &format!("{tag}:z"), "1", "m1", "2", "m2"]);
    let _: () = call(c, &["SET", &format!("{tag}:ttl"), "v", "EX", "1000"]);
    let x = format!("{tag}:x");
    let _: String = call(c, &["XADD", &x, "1-1", "f", "v"]);
    let _: String = call(c, &["XADD", &x, "2-1", "f", "w"]);
    let _: () = call(c, &["XGROUP", "CREATE", &x, "g", "0"]);
    let _: redis::Value = call(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "COUNT",
            "1",
            "STREAMS",
            &x,
            ">",
        ],
    );
}

/// A stream's entries, counters, group, consumer and pending entries.
fn stream_state(c: &mut Connection, key: &str) -> redis::Value {
    call(c, &["XINFO", "STREAM", key, "FULL"])
}

#[test]
fn bgsave_then_restore_gives_exactly_the_snapshot() {
    let dumps = tempfile::tempdir().unwrap();
    let dump_path = dumps.path().to_str().unwrap();
    let server = TestServer::start_with(&["--dump-path", dump_path, "--dump-prefix", "bk-"]);
    let mut c = server.conn();
    fill(&mut c, "before");
    let digest: String = call(&mut c, &["DEBUG", "DIGEST"]);
    let stream = stream_state(&mut c, "before:x");
    let before: i64 = call(&mut c, &["LASTSAVE"]);
    let backup = bgsave(&mut c);
    assert!(backup.starts_with(dumps.path()), "{backup:?}");
    let name = backup.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("bk-") && name.len() == 3 + 14,
        "backup directory name {name}"
    );
    let info = std::fs::read_to_string(backup.join("info")).unwrap();
    assert!(
        info.contains("seq: ") && info.contains("replid: "),
        "{info}"
    );
    let after: i64 = call(&mut c, &["LASTSAVE"]);
    assert!(after >= before);
    // Writes after the snapshot are not in it.
    fill(&mut c, "after");

    let restored_db = server.dir().join("restored");
    let out = restore(&backup, &restored_db);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Restoring over existing data is refused.
    let out = restore(&backup, &restored_db);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));

    let restored = TestServer::start_with(&["--db-path", restored_db.to_str().unwrap()]);
    let mut r = restored.conn();
    let got: String = call(&mut r, &["DEBUG", "DIGEST"]);
    assert_eq!(got, digest);
    let missing: Option<String> = call(&mut r, &["GET", "after:s:1"]);
    assert_eq!(missing, None);
    let ttl: i64 = call(&mut r, &["TTL", "before:ttl"]);
    assert!(ttl > 900, "{ttl}");
    assert_eq!(stream_state(&mut r, "before:x"), stream);
}

#[test]
fn save_writes_a_backup_in_the_foreground() {
    let dumps = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(&["--dump-path", dumps.path().to_str().unwrap()]);
    let mut c = server.conn();
    let _: () = call(&mut c, &["SET", "k", "v"]);
    let reply: String = call(&mut c, &["SAVE"]);
    assert_eq!(reply, "OK");
    let backup = PathBuf::from(info_field(&mut c, "persistence", "backup_path"));
    assert!(backup.join("info").exists(), "{backup:?}");
    assert_eq!(std::fs::read_dir(dumps.path()).unwrap().count(), 1);
}

#[test]
fn a_restored_backup_attached_to_its_master_resumes_incrementally() {
    let dumps = tempfile::tempdir().unwrap();
    let master = TestServer::start_with(&["--dump-path", dumps.path().to_str().unwrap()]);
    let mut m = master.conn();
    fill(&mut m, "one");
    let backup = bgsave(&mut m);
    // Written after the backup: must arrive through the binlog.
    fill(&mut m, "two");

    let restored_db = master.dir().join("restored");
    let out = restore(&backup, &restored_db);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let addr = format!("127.0.0.1:{}", master.port);
    let slave = TestServer::start_with(&[
        "--db-path",
        restored_db.to_str().unwrap(),
        "--slaveof",
        &addr,
    ]);
    let mut s = slave.conn();
    wait_until("the restored slave to catch up", || {
        let m_off = info_field(&mut m, "replication", "master_repl_offset");
        let s_off = info_field(&mut s, "replication", "master_repl_offset");
        m_off == s_off
    });
    let want: String = call(&mut m, &["DEBUG", "DIGEST"]);
    let got: String = call(&mut s, &["DEBUG", "DIGEST"]);
    assert_eq!(got, want);
    assert_eq!(info_field(&mut m, "stats", "sync_full"), "0");
    assert_eq!(info_field(&mut m, "stats", "sync_partial_ok"), "1");
}

/// Writes a configuration file for a server of `dir` on `port`.
fn write_conf(dir: &Path, port: u16) -> PathBuf {
    let conf = dir.join("pika.conf");
    std::fs::write(
        &conf,
        format!(
            "port : {port}\ndb-path : {}\nlog-path : {}\ndump-path : {}\n",
            dir.join("db").display(),
            dir.join("log").display(),
            dir.join("dump").display()
        ),
    )
    .unwrap();
    conf
}

fn tools(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pika_tools"))
        .args(args)
        .output()
        .expect("run pika_tools")
}

/// The backup directory a successful `pika_tools backup` printed.
fn printed_backup(out: &std::process::Output) -> PathBuf {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let path = text
        .split_whitespace()
        .skip_while(|w| *w != "to")
        .nth(1)
        .unwrap_or_else(|| panic!("no path in {text}"));
    PathBuf::from(path)
}

#[test]
fn pika_tools_backup_online_in_both_forms_and_offline() {
    let mut server = TestServer::start();
    // A configuration describing this server (same port, db-path and dump-path).
    let conf = write_conf(server.dir(), server.port);
    let dir = tempfile::tempdir().unwrap();
    let mut c = server.conn();
    fill(&mut c, "x");
    let digest: String = call(&mut c, &["DEBUG", "DIGEST"]);

    // Pika's form, against the running server.
    let legacy = printed_backup(&tools(&["-t", "backup", "-s", conf.to_str().unwrap()]));
    assert!(legacy.starts_with(server.dir().join("dump")), "{legacy:?}");
    // The subcommand, into another directory.
    let out_dir = dir.path().join("elsewhere");
    let moved = printed_backup(&tools(&[
        "backup",
        "--config",
        conf.to_str().unwrap(),
        "--output",
        out_dir.to_str().unwrap(),
    ]));
    assert!(moved.starts_with(&out_dir), "{moved:?}");

    // Offline: the server is stopped; the tool opens the database itself.
    let _: () = call(&mut c, &["SET", "late", "1"]);
    let late_digest: String = call(&mut c, &["DEBUG", "DIGEST"]);
    drop(c);
    server.terminate();
    assert!(server.wait_exit(Duration::from_secs(20)));
    let offline = printed_backup(&tools(&["backup", "--config", conf.to_str().unwrap()]));

    let cases = [
        (&legacy, &digest),
        (&moved, &digest),
        (&offline, &late_digest),
    ];
    for (i, (backup, want)) in cases.into_iter().enumerate() {
        let db = dir.path().join(format!("restored-{i}"));
        let out = restore(backup, &db);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let restored = TestServer::start_with(&["--db-path", db.to_str().unwrap()]);
        let got: String = call(&mut restored.conn(), &["DEBUG", "DIGEST"]);
        assert_eq!(&got, want, "{backup:?}");
    }
}

#[test]
fn export_of_a_backup_loads_into_another_server_with_the_same_digest() {
    let source = TestServer::start();
    let mut c = source.conn();
    fill(&mut c, "e");
    let _: () = call(&mut c, &["ZADD", "e:zinf", "-inf", "low", "2.5", "mid"]);
    let _: () = call(&mut c, &["SELECT", "3"]);
    let _: () = call(&mut c, &["SET", "in-db-3", "v"]);
    for i in 0..300 {
        // Larger than one generated command.
        let _: () = call(&mut c, &["RPUSH", "big", &i.to_string()]);
    }
    let _: () = call(&mut c, &["SELECT", "0"]);
    let digest: String = call(&mut c, &["DEBUG", "DIGEST"]);
    let backup = bgsave(&mut c);
    let stream = source.dir().join("export.resp");
    let out = Command::new(env!("CARGO_BIN_EXE_pika_tools"))
        .args(["export", "--db-path"])
        .arg(&backup)
        .arg("--output")
        .arg(&stream)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The backup itself is left as it was.
    assert!(backup.join("info").exists());

    let target = TestServer::start();
    let mut raw = target.raw();
    let bytes = std::fs::read(&stream).unwrap();
    std::io::Write::write_all(&mut raw, &bytes).unwrap();
    let mut t = target.conn();
    wait_until("the stream to load", || {
        let n: i64 = call(&mut t, &["DBSIZE"]);
        let big: i64 = {
            let _: () = call(&mut t, &["SELECT", "3"]);
            let n = call(&mut t, &["LLEN", "big"]);
            let _: () = call(&mut t, &["SELECT", "0"]);
            n
        };
        n == 207 && big == 300
    });
    let got: String = call(&mut t, &["DEBUG", "DIGEST"]);
    assert_eq!(got, digest);
    let ttl: i64 = call(&mut t, &["TTL", "e:ttl"]);
    assert!(ttl > 900, "{ttl}");
}

#[test]
fn bgsave_under_write_load_restores_a_prefix_of_the_writes() {
    let server = TestServer::start();
    let url = server.url();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _: () = call(&mut c, &["SET", &format!("k:{i}"), &i.to_string()]);
                let _: i64 = call(&mut c, &["RPUSH", "log", &i.to_string()]);
                i += 1;
            }
            i
        })
    };
    let mut c = server.conn();
    wait_until("some writes", || {
        call::<i64>(&mut c, &["LLEN", "log"]) > 200
    });
    let backup = bgsave(&mut c);
    wait_until("writes after the backup", || {
        call::<i64>(&mut c, &["LLEN", "log"]) > 400
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().unwrap();

    let restored_db = server.dir().join("restored-under-load");
    assert!(restore(&backup, &restored_db).status.success());
    let restored = TestServer::start_with(&["--db-path", restored_db.to_str().unwrap()]);
    let mut r = restored.conn();
    let recorded = std::fs::read_to_string(backup.join("info")).unwrap();
    let digest: String = call(&mut r, &["DEBUG", "DIGEST"]);
    assert!(
        recorded.contains(&format!("digest: {digest}")),
        "{recorded}"
    );
    // Writes are applied in order, so a consistent snapshot holds the first n of them: keys
    // k:0..k:n-1 with no gap, and a log of the same writes (or one less, cut between the two).
    let keys: i64 = call(&mut r, &["DBSIZE"]);
    let n = (keys - 1) as u64;
    assert!(n > 0 && n < written, "{n} of {written}");
    for i in 0..n {
        let v: Option<String> = call(&mut r, &["GET", &format!("k:{i}")]);
        assert_eq!(v, Some(i.to_string()), "k:{i} of {n}");
    }
    let log: Vec<u64> = call(&mut r, &["LRANGE", "log", "0", "-1"]);
    assert!(
        log.len() as u64 == n || log.len() as u64 + 1 == n,
        "{} vs {n}",
        log.len()
    );
    assert!(log.iter().enumerate().all(|(i, &v)| v == i as u64));
}
