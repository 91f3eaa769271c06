//! Durability: data, TTLs and key counts survive a crash (kill -9) and a clean shutdown, and a
//! large database is serving again within a second of start.

mod common;

use std::time::{Duration, Instant};

use common::{cmd, get, int, TestServer};

/// Writes `n` keys `key:i` = `i` into the current database with pipelined MSETs.
fn populate(c: &mut redis::Connection, n: usize) {
    const PER_MSET: usize = 1000;
    const PER_PIPE: usize = 50;
    let mut i = 0;
    while i < n {
        let mut p = redis::pipe();
        for _ in 0..PER_PIPE {
            if i >= n {
                break;
            }
            let mset = p.cmd("MSET");
            for j in i..(i + PER_MSET).min(n) {
                mset.arg(format!("key:{j}")).arg(j);
            }
            mset.ignore();
            i = (i + PER_MSET).min(n);
        }
        let _: () = p.query(c).unwrap();
    }
}

#[test]
fn data_survives_kill9() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    populate(&mut c, 2000);
    let _: () = cmd(&mut c, &["SET", "last", "written"]).unwrap();
    let _: i64 = cmd(&mut c, &["DEL", "key:7"]).unwrap();
    drop(c);
    s.kill9();
    s.restart();
    let mut c = s.conn();
    assert_eq!(get(&mut c, "last").as_deref(), Some("written"));
    assert_eq!(get(&mut c, "key:1999").as_deref(), Some("1999"));
    assert_eq!(get(&mut c, "key:7"), None);
    assert_eq!(int(&mut c, &["DBSIZE"]), 2000);
}

#[test]
fn data_survives_clean_shutdown() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    populate(&mut c, 500);
    let _: () = cmd(&mut c, &["SELECT", "4"]).unwrap();
    let _: () = cmd(&mut c, &["SET", "in4", "x"]).unwrap();
    drop(c);
    s.terminate();
    s.restart();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["DBSIZE"]), 500);
    assert_eq!(get(&mut c, "key:499").as_deref(), Some("499"));
    let _: () = cmd(&mut c, &["SELECT", "4"]).unwrap();
    assert_eq!(int(&mut c, &["DBSIZE"]), 1);
    assert_eq!(get(&mut c, "in4").as_deref(), Some("x"));
}

#[test]
fn ttl_survives_restart() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "a", "1", "EX", "1000"]).unwrap();
    let _: () = cmd(&mut c, &["SET", "b", "1"]).unwrap();
    let deadline = int(&mut c, &["PEXPIRETIME", "a"]);
    drop(c);
    s.kill9();
    s.restart();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["PEXPIRETIME", "a"]), deadline);
    assert_eq!(int(&mut c, &["TTL", "b"]), -1);
}

#[test]
fn keys_expire_while_down_are_gone_after_restart() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "short", "1", "PX", "200"]).unwrap();
    let _: () = cmd(&mut c, &["SET", "long", "1"]).unwrap();
    drop(c);
    s.kill9();
    std::thread::sleep(Duration::from_millis(300));
    s.restart();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["EXISTS", "short"]), 0);
    let start = Instant::now();
    while int(&mut c, &["DBSIZE"]) != 1 {
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "expired key still counted"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn dbsize_is_exact_after_restart() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    populate(&mut c, 3000);
    // Overwrites and deletes must not drift the counter.
    populate(&mut c, 1000);
    let _: i64 = cmd(&mut c, &["DEL", "key:1", "key:2", "nope"]).unwrap();
    let _: () = cmd(&mut c, &["SELECT", "2"]).unwrap();
    populate(&mut c, 10);
    let _: () = cmd(&mut c, &["FLUSHDB"]).unwrap();
    let _: () = cmd(&mut c, &["SET", "after-flush", "1"]).unwrap();
    drop(c);
    s.kill9();
    s.restart();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["DBSIZE"]), 2998);
    let _: () = cmd(&mut c, &["SELECT", "2"]).unwrap();
    assert_eq!(int(&mut c, &["DBSIZE"]), 1);
    drop(c);
    s.terminate();
    s.restart();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["DBSIZE"]), 2998);
}

#[test]
fn restart_with_a_million_keys_answers_ping_within_a_second() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    populate(&mut c, 1_000_000);
    assert_eq!(int(&mut c, &["DBSIZE"]), 1_000_000);
    drop(c);
    s.terminate();
    let start = Instant::now();
    s.restart();
    let mut c = s.conn();
    let pong: String = cmd(&mut c, &["PING"]).unwrap();
    let took = start.elapsed();
    assert_eq!(pong, "PONG");
    assert!(took < Duration::from_secs(1), "first PONG after {took:?}");
    assert_eq!(int(&mut c, &["DBSIZE"]), 1_000_000);
}

#[test]
fn database_from_a_newer_format_is_refused_at_start() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "k", "v"]).unwrap();
    drop(c);
    s.terminate();
    {
        let engine = pika::storage::engine::Engine::open(
            &s.db_path(),
            &pika::storage::engine::EngineOptions::default(),
        )
        .expect("open the stopped server's database");
        pika::storage::format::set_format_version(&engine, 999).expect("stamp");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pika"))
        .arg("--port")
        .arg(s.port.to_string())
        .arg("--db-path")
        .arg(s.db_path())
        .arg("--log-path")
        .arg(s.dir().join("log"))
        .output()
        .expect("run pika");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("format version 999"), "{stderr}");
}

#[test]
fn scan_cursor_from_before_a_restart_still_visits_every_key() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    let all: std::collections::BTreeSet<String> = (0..500).map(|i| format!("k{i}")).collect();
    for k in &all {
        let _: () = cmd(&mut c, &["SET", k, "v"]).unwrap();
    }
    let mut seen = std::collections::BTreeSet::new();
    let (mut cursor, first): (String, Vec<String>) =
        cmd(&mut c, &["SCAN", "0", "COUNT", "50"]).unwrap();
    seen.extend(first);
    drop(c);
    // The cursor table lives in memory: after a restart the cursor falls back to the start
    // of its slot, which may repeat keys but must not skip any.
    s.terminate();
    s.restart();
    let mut c = s.conn();
    while cursor != "0" {
        let (next, keys): (String, Vec<String>) =
            cmd(&mut c, &["SCAN", &cursor, "COUNT", "50"]).unwrap();
        seen.extend(keys);
        cursor = next;
    }
    assert_eq!(seen, all);
}
