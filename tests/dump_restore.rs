//! DUMP and RESTORE: every type round-trips with Redis' payload format and checks, and
//! payloads move between pika-rs and redis-server in both directions.

mod common;

use common::{beside_redis, err, int, TestServer};
use redis::Connection;

fn dump(c: &mut Connection, key: &str) -> Option<Vec<u8>> {
    redis::cmd("DUMP").arg(key).query(c).unwrap()
}

fn restore(
    c: &mut Connection,
    key: &str,
    ttl: i64,
    payload: &[u8],
    opts: &[&str],
) -> redis::RedisResult<()> {
    redis::cmd("RESTORE")
        .arg(key)
        .arg(ttl)
        .arg(payload)
        .arg(opts)
        .query(c)
}

fn fill(c: &mut Connection) {
    let commands: &[&[&str]] = &[
        &["SET", "s", "hello"],
        &["SET", "n", "-12345"],
        &["RPUSH", "l", "a", "b", "a", "7"],
        &["HSET", "h", "f1", "v1", "f2", ""],
        &["SADD", "si", "1", "2", "-70000"],
        &["SADD", "ss", "x", "y"],
        &["ZADD", "z", "1.5", "a", "inf", "b", "-inf", "c"],
    ];
    for args in commands {
        let _: redis::Value = redis::cmd(args[0]).arg(&args[1..]).query(c).unwrap();
    }
    for i in 0..300 {
        let v = format!("e{i}");
        let _: i64 = redis::cmd("HSET")
            .arg("bighash")
            .arg(&v)
            .arg(i)
            .query(c)
            .unwrap();
    }
}

const KEYS: [&str; 8] = ["s", "n", "l", "h", "si", "ss", "z", "bighash"];

#[test]
fn every_type_round_trips_with_its_ttl() {
    let s = TestServer::start();
    let mut c = s.conn();
    fill(&mut c);
    for key in KEYS {
        let payload = dump(&mut c, key).unwrap();
        let copy = format!("{key}-copy");
        restore(&mut c, &copy, 0, &payload, &[]).unwrap();
        assert_eq!(
            common::digest_value(&mut c, &copy),
            common::digest_value(&mut c, key),
            "{key}"
        );
        assert_eq!(int(&mut c, &["TTL", &copy]), -1);
        let timed = format!("{key}-timed");
        restore(&mut c, &timed, 5000, &payload, &[]).unwrap();
        let pttl = int(&mut c, &["PTTL", &timed]);
        assert!(pttl > 4000 && pttl <= 5000, "{key}: {pttl}");
    }
    let hash: i64 = int(&mut c, &["HLEN", "bighash-copy"]);
    assert_eq!(hash, 300);
    let enc: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("bighash-copy")
        .query(&mut c)
        .unwrap();
    assert_eq!(enc, "hashtable");
    assert_eq!(dump(&mut c, "missing"), None);
}

#[test]
fn restore_checks_like_redis() {
    let s = TestServer::start();
    let mut c = s.conn();
    fill(&mut c);
    let payload = dump(&mut c, "l").unwrap();
    let e = restore(&mut c, "s", 0, &payload, &[]).unwrap_err();
    assert_eq!(
        common::error_text(&e),
        "BUSYKEY Target key name already exists."
    );
    restore(&mut c, "s", 0, &payload, &["REPLACE"]).unwrap();
    let t: String = redis::cmd("TYPE").arg("s").query(&mut c).unwrap();
    assert_eq!(t, "list");

    let e = restore(&mut c, "x", -1, &payload, &[]).unwrap_err();
    assert_eq!(
        common::error_text(&e),
        "ERR Invalid TTL value, must be >= 0"
    );
    let mut damaged = payload.clone();
    damaged[2] ^= 0x20;
    let e = restore(&mut c, "x", 0, &damaged, &[]).unwrap_err();
    assert_eq!(
        common::error_text(&e),
        "ERR DUMP payload version or checksum are wrong"
    );
    let e = restore(&mut c, "x", 0, b"short", &[]).unwrap_err();
    assert!(common::error_text(&e).contains("checksum"));
    for (opts, want) in [
        (
            &["IDLETIME", "-1"][..],
            "ERR Invalid IDLETIME value, must be >= 0",
        ),
        (
            &["FREQ", "256"],
            "ERR Invalid FREQ value, must be >= 0 and <= 255",
        ),
        (&["IDLETIME", "1", "FREQ", "1"], "ERR syntax error"),
        (&["BOGUS"], "ERR syntax error"),
    ] {
        let e = restore(&mut c, "x", 0, &payload, opts).unwrap_err();
        assert_eq!(common::error_text(&e), want, "{opts:?}");
    }
    restore(&mut c, "x", 0, &payload, &["IDLETIME", "10"]).unwrap();
    assert_eq!(int(&mut c, &["EXISTS", "x"]), 1);
    assert!(err(&mut c, &["RESTORE", "x", "0"]).contains("wrong number of arguments"));
}

#[test]
fn restore_with_a_past_absolute_deadline_leaves_no_key() {
    let s = TestServer::start();
    let mut c = s.conn();
    fill(&mut c);
    let payload = dump(&mut c, "h").unwrap();
    restore(&mut c, "gone", 1000, &payload, &["ABSTTL"]).unwrap();
    assert_eq!(int(&mut c, &["EXISTS", "gone"]), 0);
    // With REPLACE the old value goes too, as in Redis.
    restore(&mut c, "s", 1000, &payload, &["ABSTTL", "REPLACE"]).unwrap();
    assert_eq!(int(&mut c, &["EXISTS", "s"]), 0);
    assert_eq!(int(&mut c, &["DBSIZE"]), 7);
    let later = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 100_000) as i64;
    restore(&mut c, "later", later, &payload, &["ABSTTL"]).unwrap();
    let at: i64 = int(&mut c, &["PEXPIRETIME", "later"]);
    assert_eq!(at, later);
}

#[test]
fn a_restored_key_survives_a_restart() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    fill(&mut c);
    let payload = dump(&mut c, "z").unwrap();
    restore(&mut c, "z2", 0, &payload, &[]).unwrap();
    let before = common::digest_value(&mut c, "z2");
    drop(c);
    s.restart();
    let mut c = s.conn();
    assert_eq!(common::digest_value(&mut c, "z2"), before);
}

#[test]
fn payloads_move_between_pika_and_redis_both_ways() {
    let Some((redis, s)) = beside_redis() else {
        return;
    };
    let mut r = redis.conn();
    let mut p = s.conn();
    fill(&mut r);
    fill(&mut p);
    for key in KEYS {
        let from_redis = dump(&mut r, key).unwrap();
        let from_pika = dump(&mut p, key).unwrap();
        let copy = format!("{key}-copy");
        restore(&mut p, &copy, 0, &from_redis, &[]).unwrap();
        restore(&mut r, &copy, 0, &from_pika, &[]).unwrap();
        let want = common::digest_value(&mut r, key);
        assert_eq!(common::digest_value(&mut p, &copy), want, "{key} into pika");
        assert_eq!(
            common::digest_value(&mut r, &copy),
            want,
            "{key} into redis"
        );
    }
}

/// A stream with a deleted entry, a group, a consumer and a pending entry, made on one side,
/// DUMPed, RESTOREd on the other: the same entries, counters, group and pending entries.
#[test]
fn streams_move_between_pika_and_redis_with_their_groups() {
    let Some((redis, s)) = beside_redis() else {
        return;
    };
    let mut r = redis.conn();
    let mut p = s.conn();
    let commands: &[&[&str]] = &[
        &["XADD", "x", "1-1", "f", "v"],
        &["XADD", "x", "2-1", "a", "b", "c", "d"],
        &["XADD", "x", "3-0", "f", "v"],
        &["XGROUP", "CREATE", "x", "g", "0"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c1",
            "COUNT",
            "2",
            "STREAMS",
            "x",
            ">",
        ],
        &["XACK", "x", "g", "1-1"],
        &["XDEL", "x", "3-0"],
    ];
    for c in [&mut r, &mut p] {
        for args in commands {
            let _: redis::Value = redis::cmd(args[0]).arg(&args[1..]).query(c).unwrap();
        }
    }
    let full = |c: &mut Connection, key: &str| -> redis::Value {
        redis::cmd("XINFO")
            .arg("STREAM")
            .arg(key)
            .arg("FULL")
            .query(c)
            .unwrap()
    };
    let from_redis = dump(&mut r, "x").unwrap();
    let from_pika = dump(&mut p, "x").unwrap();
    restore(&mut p, "copy", 0, &from_redis, &[]).unwrap();
    restore(&mut r, "copy", 0, &from_pika, &[]).unwrap();
    // Delivery and seen times come from the side that made the stream.
    assert_eq!(
        full(&mut p, "copy"),
        full(&mut r, "x"),
        "redis' payload in pika"
    );
    assert_eq!(
        full(&mut r, "copy"),
        full(&mut p, "x"),
        "pika's payload in redis"
    );
    let want = common::digest_value(&mut r, "x");
    assert_eq!(common::digest_value(&mut p, "x"), want);
    assert_eq!(common::digest_value(&mut p, "copy"), want);
    let xlen: i64 = redis::cmd("XLEN").arg("copy").query(&mut p).unwrap();
    assert_eq!(xlen, 2);
}
