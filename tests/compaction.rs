//! Compaction scheduling: `compact-cron` / `compact-interval` are checked at start-up, and
//! `disable-auto-compactions` leaves a working server.

mod common;

use common::TestServer;

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
