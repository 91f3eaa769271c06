//! Compaction scheduling: `compact-cron` / `compact-interval` are checked at start-up, and
//! `disable-auto-compactions` leaves a working server.

mod common;

use common::{info_field, wait_until, TestServer};

/// Starts pika with `args` and expects it to refuse to start, naming `what` on stderr.
fn refuses(args: &[&str], what: &str) {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port().to_string();
    let db = dir.path().join("db");
    let log = dir.path().join("log");
    let mut all = vec![
        "--port",
        port.as_str(),
        "--db-path",
        db.to_str().unwrap(),
        "--log-path",
        log.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let (code, _, err) = common::run_pika(&all);
    assert_ne!(code, Some(0), "{args:?}");
    assert!(err.contains(what), "{args:?}: {err}");
}

#[test]
fn bad_compaction_schedules_stop_start_up_with_a_message() {
    refuses(&["--compact-cron", "25-02/10"], "invalid compact-cron");
    refuses(&["--compact-cron", "03-04"], "invalid compact-cron");
    refuses(&["--compact-cron", "03-04/101"], "invalid compact-cron");
    refuses(&["--compact-interval", "0/50"], "invalid compact-interval");
    refuses(
        &["--compact-interval", "six/50"],
        "invalid compact-interval",
    );
}

#[test]
fn good_schedules_and_disabled_auto_compaction_serve_normally() {
    let s = TestServer::start_with(&[
        "--compact-cron",
        "03-04/30;22-02/80",
        "--compact-interval",
        "6/60",
        "--disable-auto-compactions",
        "yes",
    ]);
    let mut c = s.conn();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let ok: String = redis::cmd("COMPACT").query(&mut c).unwrap();
    assert_eq!(ok, "OK");
    let cron: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("compact-cron")
        .query(&mut c)
        .unwrap();
    assert_eq!(cron, vec!["compact-cron", "03-04/30;22-02/80"]);
    let v: String = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, "v");
}

#[test]
fn compact_takes_a_database_and_a_type_and_compactrange_their_range() {
    let s = TestServer::start();
    let mut c = s.conn();
    let run = |c: &mut redis::Connection, args: &[&str]| -> redis::RedisResult<String> {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query(c)
    };
    for args in [
        &["COMPACT"][..],
        &["COMPACT", "0"],
        &["COMPACT", "hash"],
        &["COMPACT", "3", "zset"],
        &["COMPACT", "1", "all"],
        &["COMPACTRANGE", "0", "list", "a", "z"],
    ] {
        assert_eq!(run(&mut c, args).unwrap(), "OK", "{args:?}");
    }
    let err = run(&mut c, &["COMPACT", "0", "stream-of-things"]).unwrap_err();
    assert!(err.to_string().contains("invalid type"), "{err}");
    let err = run(&mut c, &["COMPACT", "99"]).unwrap_err();
    assert!(err.to_string().contains("out of range"), "{err}");
    let err = run(&mut c, &["COMPACTRANGE", "0", "hash", "a"]).unwrap_err();
    assert!(
        err.to_string().contains("wrong number of arguments"),
        "{err}"
    );
    // Data is untouched by compactions.
    let _: () = redis::cmd("HSET")
        .arg("h")
        .arg("f")
        .arg("v")
        .query(&mut c)
        .unwrap();
    assert_eq!(run(&mut c, &["COMPACT", "0", "hash"]).unwrap(), "OK");
    let v: String = redis::cmd("HGET").arg("h").arg("f").query(&mut c).unwrap();
    assert_eq!(v, "v");
}

#[test]
fn compactions_run_one_at_a_time_on_the_compact_thread_and_show_in_info() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(info_field(&mut c, "rocksdb", "is_compact"), "no");
    assert_eq!(info_field(&mut c, "rocksdb", "last_compact_reason"), "none");
    for _ in 0..3 {
        let _: String = redis::cmd("COMPACT").query(&mut c).unwrap();
    }
    wait_until("three compactions", || {
        info_field(&mut c, "rocksdb", "compactions_done") == "3"
    });
    assert_eq!(info_field(&mut c, "rocksdb", "compactions_queued"), "0");
    assert_eq!(
        info_field(&mut c, "rocksdb", "last_compact_reason"),
        "command"
    );
    assert_ne!(info_field(&mut c, "rocksdb", "last_compact_time"), "0");
}

#[test]
fn a_compact_cron_window_covering_now_compacts_once() {
    // The two windows cover every hour; 100% means any free share is low enough.
    let s = TestServer::start_with(&["--compact-cron", "00-12/100;12-00/100"]);
    let mut c = s.conn();
    wait_until("the scheduled compaction", || {
        info_field(&mut c, "rocksdb", "last_compact_reason") == "cron"
    });
    assert_eq!(info_field(&mut c, "rocksdb", "compactions_done"), "1");
    assert_eq!(
        info_field(&mut c, "rocksdb", "compact_cron"),
        "00-12/100;12-00/100"
    );
}

#[test]
fn info_keyspace_counts_keys_by_type_in_the_background() {
    let s = TestServer::start();
    let mut c = s.conn();
    for args in [
        &["SET", "s1", "v"][..],
        &["SET", "s2", "v", "EX", "1000"],
        &["HSET", "h", "f", "v"],
        &["RPUSH", "l", "a"],
        &["SADD", "st", "a"],
        &["ZADD", "z", "1", "a"],
        &["ZADD", "z2", "1", "a"],
    ] {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        let _: redis::Value = cmd.query(&mut c).unwrap();
    }
    // Pika's form asks for a recount now.
    let _: String = redis::cmd("INFO")
        .arg("keyspace")
        .arg("1")
        .query(&mut c)
        .unwrap();
    wait_until("the recount", || {
        let text: String = redis::cmd("INFO").arg("rocksdb").query(&mut c).unwrap();
        text.lines()
            .any(|l| l.starts_with("keyspace_db0:") && l.contains("zsets=2"))
    });
    let types = info_field(&mut c, "rocksdb", "keyspace_db0");
    assert_eq!(
        types,
        "strings=2,hashes=1,lists=1,sets=1,zsets=2,streams=0,invalid_keys=0"
    );
    let line = info_field(&mut c, "keyspace", "db0");
    assert!(line.starts_with("keys=7,expires=1,avg_ttl="), "{line}");
    let avg_ttl: u64 = line
        .split("avg_ttl=")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(avg_ttl > 990_000 && avg_ttl <= 1_000_000, "{avg_ttl}");
}
