//! Key expiry: EXPIRE and friends with their options, TTL queries, PERSIST, lazy and active
//! removal of expired keys.

mod common;

use std::time::{Duration, Instant};

use common::{cmd, err, int, TestServer};
fn set(c: &mut redis::Connection, k: &str, v: &str) {
    let _: () = cmd(c, &["SET", k, v]).unwrap();
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Polls until `f` holds or `limit` passed; returns the time it took.
fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

#[test]
fn expire_sets_a_ttl() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    assert_eq!(int(&mut c, &["EXPIRE", "a", "100"]), 1);
    assert_eq!(int(&mut c, &["TTL", "a"]), 100);
    let pttl = int(&mut c, &["PTTL", "a"]);
    assert!((99_000..=100_000).contains(&pttl), "pttl {pttl}");
}

#[test]
fn expire_on_missing_key_returns_zero() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["EXPIRE", "nope", "100"]), 0);
    assert_eq!(int(&mut c, &["PEXPIREAT", "nope", "99999999999999"]), 0);
}

#[test]
fn ttl_of_missing_and_persistent_keys() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    for cmd_name in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(int(&mut c, &[cmd_name, "nope"]), -2, "{cmd_name}");
        assert_eq!(int(&mut c, &[cmd_name, "a"]), -1, "{cmd_name}");
    }
}

#[test]
fn pexpire_sets_milliseconds() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    assert_eq!(int(&mut c, &["PEXPIRE", "a", "50000"]), 1);
    let pttl = int(&mut c, &["PTTL", "a"]);
    assert!((49_000..=50_000).contains(&pttl));
    assert_eq!(int(&mut c, &["TTL", "a"]), 50);
}

#[test]
fn expireat_and_expiretime_agree() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    let at = now_ms() / 1000 + 1000;
    assert_eq!(int(&mut c, &["EXPIREAT", "a", &at.to_string()]), 1);
    assert_eq!(int(&mut c, &["EXPIRETIME", "a"]), at);
    assert_eq!(int(&mut c, &["PEXPIRETIME", "a"]), at * 1000);
}

#[test]
fn pexpireat_and_pexpiretime_agree() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    let at = now_ms() + 123_456;
    assert_eq!(int(&mut c, &["PEXPIREAT", "a", &at.to_string()]), 1);
    assert_eq!(int(&mut c, &["PEXPIRETIME", "a"]), at);
    // Seconds are rounded to the nearest.
    assert_eq!(int(&mut c, &["EXPIRETIME", "a"]), (at + 500) / 1000);
}

#[test]
fn expire_in_the_past_deletes_the_key() {
    let s = TestServer::start();
    let mut c = s.conn();
    for (k, args) in [
        ("a", vec!["EXPIRE", "a", "-1"]),
        ("b", vec!["PEXPIRE", "b", "0"]),
        ("c", vec!["EXPIREAT", "c", "1"]),
        ("d", vec!["PEXPIREAT", "d", "-100"]),
    ] {
        set(&mut c, k, "v");
        assert_eq!(int(&mut c, &args), 1);
        assert_eq!(int(&mut c, &["EXISTS", k]), 0);
    }
    assert_eq!(int(&mut c, &["DBSIZE"]), 0);
}

#[test]
fn expire_overflow_is_rejected() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    assert_eq!(
        err(&mut c, &["EXPIRE", "a", "9223372036854775807"]),
        "ERR invalid expire time in 'expire' command"
    );
    assert_eq!(
        err(&mut c, &["PEXPIRE", "a", "9223372036854775807"]),
        "ERR invalid expire time in 'pexpire' command"
    );
    assert_eq!(
        err(&mut c, &["EXPIREAT", "a", "9223372036854775807"]),
        "ERR invalid expire time in 'expireat' command"
    );
    assert_eq!(
        err(&mut c, &["EXPIRE", "a", "-9223372036854775808"]),
        "ERR invalid expire time in 'expire' command"
    );
    assert_eq!(int(&mut c, &["TTL", "a"]), -1);
}

#[test]
fn expire_rejects_non_integers_and_unknown_options() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    assert_eq!(
        err(&mut c, &["EXPIRE", "a", "1.5"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut c, &["EXPIRE", "a", "10", "FOO"]),
        "ERR Unsupported option FOO"
    );
}

#[test]
fn expire_incompatible_options_are_rejected() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    let nx_msg = "ERR NX and XX, GT or LT options at the same time are not compatible";
    assert_eq!(err(&mut c, &["EXPIRE", "a", "10", "NX", "XX"]), nx_msg);
    assert_eq!(err(&mut c, &["EXPIRE", "a", "10", "NX", "GT"]), nx_msg);
    assert_eq!(err(&mut c, &["PEXPIRE", "a", "10", "lt", "nx"]), nx_msg);
    assert_eq!(
        err(&mut c, &["EXPIRE", "a", "10", "GT", "LT"]),
        "ERR GT and LT options at the same time are not compatible"
    );
}

#[test]
fn expire_nx_only_sets_missing_ttl() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    assert_eq!(int(&mut c, &["EXPIRE", "a", "100", "NX"]), 1);
    assert_eq!(int(&mut c, &["EXPIRE", "a", "200", "NX"]), 0);
    assert_eq!(int(&mut c, &["TTL", "a"]), 100);
}

#[test]
fn expire_xx_only_changes_existing_ttl() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    assert_eq!(int(&mut c, &["EXPIRE", "a", "100", "XX"]), 0);
    assert_eq!(int(&mut c, &["TTL", "a"]), -1);
    assert_eq!(int(&mut c, &["EXPIRE", "a", "100"]), 1);
    assert_eq!(int(&mut c, &["EXPIRE", "a", "200", "XX"]), 1);
    assert_eq!(int(&mut c, &["TTL", "a"]), 200);
}

#[test]
fn expire_gt_does_not_shorten_ttl() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    // A persistent key counts as an infinite TTL: GT never applies.
    assert_eq!(int(&mut c, &["EXPIRE", "a", "100", "GT"]), 0);
    assert_eq!(int(&mut c, &["EXPIRE", "a", "100"]), 1);
    assert_eq!(int(&mut c, &["EXPIRE", "a", "50", "GT"]), 0);
    assert_eq!(int(&mut c, &["EXPIRE", "a", "200", "GT"]), 1);
    assert_eq!(int(&mut c, &["TTL", "a"]), 200);
}

#[test]
fn expire_lt_does_not_lengthen_ttl() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    // A persistent key counts as an infinite TTL: LT always applies.
    assert_eq!(int(&mut c, &["EXPIRE", "a", "100", "LT"]), 1);
    assert_eq!(int(&mut c, &["EXPIRE", "a", "200", "LT"]), 0);
    assert_eq!(int(&mut c, &["EXPIRE", "a", "50", "LT"]), 1);
    assert_eq!(int(&mut c, &["TTL", "a"]), 50);
}

#[test]
fn expire_xx_lt_needs_an_existing_ttl() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    assert_eq!(int(&mut c, &["EXPIRE", "a", "100", "XX", "LT"]), 0);
    assert_eq!(int(&mut c, &["TTL", "a"]), -1);
    assert_eq!(int(&mut c, &["EXPIRE", "a", "100"]), 1);
    assert_eq!(int(&mut c, &["EXPIRE", "a", "50", "XX", "LT"]), 1);
    assert_eq!(int(&mut c, &["EXPIRE", "a", "500", "XX", "GT"]), 1);
    assert_eq!(int(&mut c, &["TTL", "a"]), 500);
}

#[test]
fn persist_removes_the_ttl() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "a", "1", "EX", "100"]).unwrap();
    assert_eq!(int(&mut c, &["PERSIST", "a"]), 1);
    assert_eq!(int(&mut c, &["TTL", "a"]), -1);
    assert_eq!(int(&mut c, &["PERSIST", "a"]), 0);
    assert_eq!(int(&mut c, &["PERSIST", "nope"]), 0);
}

#[test]
fn set_px_key_disappears() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "a", "1", "PX", "100"]).unwrap();
    assert_eq!(int(&mut c, &["EXISTS", "a"]), 1);
    let gone = wait_for(Duration::from_secs(3), || {
        cmd::<Option<String>>(&mut c, &["GET", "a"])
            .unwrap()
            .is_none()
    });
    assert!(gone.is_some());
    assert_eq!(int(&mut c, &["TTL", "a"]), -2);
}

#[test]
fn lazy_expiry_hides_expired_keys_at_once() {
    let s = TestServer::start();
    let mut c = s.conn();
    // Pause the active expirer so only lazy expiry can be at work.
    let _: () = cmd(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]).unwrap();
    let _: () = cmd(&mut c, &["SET", "a", "1", "PX", "30"]).unwrap();
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(int(&mut c, &["EXISTS", "a"]), 0);
    assert_eq!(cmd::<Option<String>>(&mut c, &["GET", "a"]).unwrap(), None);
    assert_eq!(int(&mut c, &["TTL", "a"]), -2);
    let _: () = cmd(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]).unwrap();
}

/// A read that finds keys expired deletes them, as Redis does: the client's next command
/// sees them gone from DBSIZE and counted in expired_keys, with the expirer paused.
#[test]
fn a_read_deletes_the_expired_keys_it_finds() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]).unwrap();
    let keys: Vec<String> = (0..200).map(|i| format!("k{i}")).collect();
    let mut p = redis::pipe();
    for k in &keys {
        p.cmd("SET").arg(k).arg("v").arg("PX").arg(30).ignore();
    }
    let _: () = p.query(&mut c).unwrap();
    std::thread::sleep(Duration::from_millis(60));
    // The read and the checks in one pipeline: no time for a deletion in the background.
    let (values, size, stats): (Vec<Option<String>>, i64, String) = redis::pipe()
        .cmd("MGET")
        .arg(&keys)
        .cmd("DBSIZE")
        .cmd("INFO")
        .arg("stats")
        .query(&mut c)
        .unwrap();
    assert!(values.iter().all(Option::is_none));
    assert_eq!(size, 0);
    assert!(stats.contains("expired_keys:200\r\n"), "{stats}");
}

#[test]
fn active_expiry_empties_dbsize_promptly() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut p = redis::pipe();
    for i in 0..500 {
        p.cmd("SET")
            .arg(format!("k{i}"))
            .arg("v")
            .arg("PX")
            .arg(100)
            .ignore();
    }
    set(&mut c, "keep", "v");
    let _: () = p.query(&mut c).unwrap();
    let deadline = Instant::now() + Duration::from_millis(100);
    assert_eq!(int(&mut c, &["DBSIZE"]), 501);
    // Nothing reads the keys: only the active expirer can remove them.
    let took = wait_for(Duration::from_secs(3), || int(&mut c, &["DBSIZE"]) == 1);
    assert!(took.is_some(), "keys were not expired actively");
    let late = Instant::now().saturating_duration_since(deadline);
    assert!(late < Duration::from_millis(400), "expired {late:?} late");
}

#[test]
fn expired_keys_are_not_listed() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]).unwrap();
    set(&mut c, "live", "1");
    let _: () = cmd(&mut c, &["SET", "dead", "1", "PX", "20"]).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let keys: Vec<String> = cmd(&mut c, &["KEYS", "*"]).unwrap();
    assert_eq!(keys, ["live"]);
    let (_, scanned): (String, Vec<String>) = cmd(&mut c, &["SCAN", "0", "COUNT", "100"]).unwrap();
    assert_eq!(scanned, ["live"]);
    let _: () = cmd(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]).unwrap();
}

#[test]
fn set_clears_and_keepttl_keeps_the_ttl() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "a", "1", "EX", "100"]).unwrap();
    let _: () = cmd(&mut c, &["SET", "a", "2", "KEEPTTL"]).unwrap();
    assert!(int(&mut c, &["TTL", "a"]) > 90);
    set(&mut c, "a", "3");
    assert_eq!(int(&mut c, &["TTL", "a"]), -1);
}

#[test]
fn ttl_rewrites_do_not_leave_stale_deadlines() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    // First a short deadline, then a long one: the old index entry must not delete the key.
    assert_eq!(int(&mut c, &["PEXPIRE", "a", "50"]), 1);
    assert_eq!(int(&mut c, &["EXPIRE", "a", "100"]), 1);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(int(&mut c, &["EXISTS", "a"]), 1);
    assert_eq!(int(&mut c, &["DBSIZE"]), 1);
}
