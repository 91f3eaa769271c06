//! The hot tier in front of RocksDB never changes what clients see: with the cache
//! disabled, tiny (constant eviction) or large, every read agrees with the last write, across
//! deletes, expiry, FLUSHDB, SWAPDB and restarts.

mod common;

use std::time::Duration;

use common::{cmd, get, TestServer};
/// Writes, overwrites and deletes many keys and checks every value afterwards.
fn check_reads_follow_writes(s: &TestServer) {
    let mut c = s.conn();
    for round in 0..3 {
        for i in 0..2000 {
            let _: () = cmd(&mut c, &["SET", &format!("k{i}"), &format!("v{round}-{i}")]).unwrap();
        }
        for i in (0..2000).step_by(7) {
            let _: i64 = cmd(&mut c, &["DEL", &format!("k{i}")]).unwrap();
        }
        for i in 0..2000 {
            let expected = (i % 7 != 0).then(|| format!("v{round}-{i}"));
            assert_eq!(
                get(&mut c, &format!("k{i}")),
                expected,
                "k{i} in round {round}"
            );
        }
    }
}

#[test]
fn reads_follow_writes_without_cache() {
    check_reads_follow_writes(&TestServer::start_with(&["--cache-maxmemory", "0"]));
}

#[test]
fn reads_follow_writes_with_a_tiny_evicting_cache() {
    check_reads_follow_writes(&TestServer::start_with(&["--cache-maxmemory", "16kb"]));
}

#[test]
fn reads_follow_writes_with_the_default_cache() {
    check_reads_follow_writes(&TestServer::start());
}

#[test]
fn flushdb_and_swapdb_are_seen_through_the_cache() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "a", "1"]).unwrap();
    assert_eq!(get(&mut c, "a").as_deref(), Some("1"));
    let _: () = cmd(&mut c, &["FLUSHDB"]).unwrap();
    assert_eq!(get(&mut c, "a"), None);
    let _: () = cmd(&mut c, &["SET", "a", "db0"]).unwrap();
    let _: () = cmd(&mut c, &["SWAPDB", "0", "1"]).unwrap();
    assert_eq!(get(&mut c, "a"), None);
    let _: () = cmd(&mut c, &["SELECT", "1"]).unwrap();
    assert_eq!(get(&mut c, "a").as_deref(), Some("db0"));
}

#[test]
fn expired_cached_keys_disappear() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "t", "x", "PX", "50"]).unwrap();
    assert_eq!(get(&mut c, "t").as_deref(), Some("x"));
    std::thread::sleep(Duration::from_millis(80));
    assert_eq!(get(&mut c, "t"), None);
}

#[test]
fn concurrent_increments_through_the_cache_are_exact() {
    let s = TestServer::start_with(&["--cache-maxmemory", "16kb"]);
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let mut c = s.conn();
            std::thread::spawn(move || {
                for i in 0..300 {
                    let _: i64 = cmd(&mut c, &["INCR", "counter"]).unwrap();
                    // Churn other keys so the counter's record is evicted now and then.
                    let _: () =
                        cmd(&mut c, &["SET", &format!("filler{t}-{i}"), "0123456789"]).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("client thread");
    }
    let mut c = s.conn();
    assert_eq!(get(&mut c, "counter").as_deref(), Some("2400"));
}

#[test]
fn values_survive_restart_with_cache() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "p", "before"]).unwrap();
    let _: () = cmd(&mut c, &["SET", "p", "after"]).unwrap();
    drop(c);
    s.kill9();
    s.restart();
    let mut c = s.conn();
    assert_eq!(get(&mut c, "p").as_deref(), Some("after"));
}

/// The value of `field` in INFO's memory section.
fn info_memory_field(c: &mut redis::Connection, field: &str) -> u64 {
    let info: String = cmd(c, &["INFO", "memory"]).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {info}"))
}

#[test]
fn info_reports_cache_use() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "a", "1"]).unwrap();
    assert_eq!(get(&mut c, "a").as_deref(), Some("1"));
    assert_eq!(info_memory_field(&mut c, "cache_keys"), 1);
    assert!(info_memory_field(&mut c, "cache_memory") > 0);
    assert_eq!(info_memory_field(&mut c, "cache_maxmemory"), 64 << 20);

    let off = TestServer::start_with(&["--cache-maxmemory", "0"]);
    let mut c = off.conn();
    let _: () = cmd(&mut c, &["SET", "a", "1"]).unwrap();
    assert_eq!(get(&mut c, "a").as_deref(), Some("1"));
    assert_eq!(info_memory_field(&mut c, "cache_keys"), 0);
}
