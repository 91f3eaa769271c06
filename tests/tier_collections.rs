//! Collections held by the hot tier (whole hashes and sets, windows of sorted sets and lists)
//! answer exactly as the data on disk would: random writes and repeated reads are compared
//! with a real redis-server, with windows small enough that reads fall both inside and outside
//! them, at both window directions; a slave drops its held copies when its master's writes
//! arrive; `cache-type` decides what is held.

mod common;

use common::{beside_redis, call, wait_until, TestServer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use redis::Value;

/// Reads repeated this often, so that the tier takes the collection's body on the way.
const READ_REPEATS: usize = 3;

/// A random command over four keys per type and a small alphabet of elements.
fn random_write(rng: &mut StdRng) -> Vec<String> {
    let key = |t: &str, rng: &mut StdRng| format!("{t}{}", rng.gen_range(0..4));
    let elem = |rng: &mut StdRng| format!("e{}", rng.gen_range(0..24));
    let num = |rng: &mut StdRng| rng.gen_range(-5..30).to_string();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    match rng.gen_range(0..16) {
        0 | 1 => {
            let k = key("h", rng);
            let mut v = s(&["HSET", &k]);
            for _ in 0..rng.gen_range(1..6) {
                v.push(elem(rng));
                v.push(num(rng));
            }
            v
        }
        2 => s(&["HDEL", &key("h", rng), &elem(rng), &elem(rng)]),
        3 | 4 => {
            let k = key("s", rng);
            let mut v = s(&["SADD", &k]);
            for _ in 0..rng.gen_range(1..6) {
                v.push(elem(rng));
            }
            v
        }
        5 => s(&["SREM", &key("s", rng), &elem(rng), &elem(rng)]),
        6 | 7 => {
            let k = key("z", rng);
            let mut v = s(&["ZADD", &k]);
            for _ in 0..rng.gen_range(1..6) {
                v.push(num(rng));
                v.push(elem(rng));
            }
            v
        }
        8 => s(&["ZREM", &key("z", rng), &elem(rng)]),
        9 => s(&["ZINCRBY", &key("z", rng), &num(rng), &elem(rng)]),
        10 | 11 => {
            let k = key("l", rng);
            let push = if rng.gen_bool(0.5) { "RPUSH" } else { "LPUSH" };
            let mut v = s(&[push, &k]);
            for _ in 0..rng.gen_range(1..6) {
                v.push(elem(rng));
            }
            v
        }
        12 => {
            let pop = if rng.gen_bool(0.5) { "LPOP" } else { "RPOP" };
            s(&[pop, &key("l", rng)])
        }
        13 => s(&[
            "LSET",
            &key("l", rng),
            &rng.gen_range(-3..3).to_string(),
            &elem(rng),
        ]),
        14 => {
            let t = ["h", "s", "z", "l"][rng.gen_range(0..4)];
            if rng.gen_bool(0.5) {
                s(&["DEL", &key(t, rng)])
            } else {
                s(&["RENAME", &key(t, rng), &key(t, rng)])
            }
        }
        _ => s(&[
            "LTRIM",
            &key("l", rng),
            &rng.gen_range(0..3).to_string(),
            "-2",
        ]),
    }
}

/// A random read over the same keys.
fn random_read(rng: &mut StdRng) -> Vec<String> {
    let k = |t: &str, rng: &mut StdRng| format!("{t}{}", rng.gen_range(0..4));
    let elem = |rng: &mut StdRng| format!("e{}", rng.gen_range(0..24));
    let idx = |rng: &mut StdRng| rng.gen_range(-14..14).to_string();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    match rng.gen_range(0..10) {
        0 => s(&["HGET", &k("h", rng), &elem(rng)]),
        1 => s(&["HMGET", &k("h", rng), &elem(rng), &elem(rng)]),
        2 => s(&["HGETALL", &k("h", rng)]),
        3 => s(&["SISMEMBER", &k("s", rng), &elem(rng)]),
        4 => s(&["SMEMBERS", &k("s", rng)]),
        5 => s(&["SMISMEMBER", &k("s", rng), &elem(rng), &elem(rng)]),
        6 | 7 => {
            let mut v = s(&["ZRANGE", &k("z", rng), &idx(rng), &idx(rng)]);
            if rng.gen_bool(0.5) {
                v.push("REV".into());
            }
            if rng.gen_bool(0.5) {
                v.push("WITHSCORES".into());
            }
            v
        }
        _ => s(&["LRANGE", &k("l", rng), &idx(rng), &idx(rng)]),
    }
}

/// A reply with unordered collections (HGETALL pairs, SMEMBERS) put in a fixed order: Redis'
/// order for them is its own.
fn canonical(cmd: &str, v: Value) -> Value {
    let Value::Array(items) = v else { return v };
    match cmd {
        "HGETALL" => {
            let mut pairs: Vec<Vec<Value>> = items.chunks(2).map(|c| c.to_vec()).collect();
            pairs.sort_by_key(|p| format!("{p:?}"));
            Value::Array(pairs.concat())
        }
        "SMEMBERS" => {
            let mut items = items;
            items.sort_by_key(|p| format!("{p:?}"));
            Value::Array(items)
        }
        _ => Value::Array(items),
    }
}

fn run(c: &mut redis::Connection, args: &[String]) -> Result<Value, String> {
    let mut cmd = redis::cmd(&args[0]);
    for a in &args[1..] {
        cmd.arg(a);
    }
    cmd.query::<Value>(c)
        .map(|v| canonical(&args[0], v))
        .map_err(|e| format!("{:?}", e.kind()))
}

/// Random writes and repeated reads on pika (started with `args`) and redis-server agree.
fn agree_with_redis(args: &[&str], seed: u64) {
    let Some((redis, _unused)) = beside_redis() else {
        return;
    };
    let pika = TestServer::start_with(args);
    let (mut p, mut r) = (pika.conn(), redis.conn());
    let mut rng = StdRng::seed_from_u64(seed);
    for step in 0..4000 {
        if rng.gen_range(0..3) == 0 {
            let w = random_write(&mut rng);
            assert_eq!(
                run(&mut p, &w),
                run(&mut r, &w),
                "seed {seed} step {step}: {w:?}"
            );
        } else {
            let q = random_read(&mut rng);
            let want = run(&mut r, &q);
            for repeat in 0..READ_REPEATS {
                assert_eq!(
                    run(&mut p, &q),
                    want,
                    "seed {seed} step {step} read {repeat}: {q:?}"
                );
            }
        }
    }
}

#[test]
fn held_collections_match_redis_with_head_windows() {
    agree_with_redis(&["--zset-cache-field-num-per-key", "8"], 19);
}

#[test]
fn held_collections_match_redis_with_tail_windows() {
    agree_with_redis(
        &[
            "--zset-cache-field-num-per-key",
            "8",
            "--zset-cache-start-direction",
            "-1",
        ],
        23,
    );
}

#[test]
fn held_collections_match_redis_in_a_tiny_evicting_tier() {
    agree_with_redis(
        &[
            "--zset-cache-field-num-per-key",
            "6",
            "--cache-maxmemory",
            "16kb",
        ],
        29,
    );
}

/// Bytes the tier accounts, from INFO memory.
fn tier_bytes(c: &mut redis::Connection) -> i64 {
    let text: String = call(c, &["INFO", "memory"]);
    text.lines()
        .find_map(|l| l.strip_prefix("cache_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("INFO memory reports the tier's bytes")
}

/// Reads `key`'s collection a few times with `read` and returns how much the tier grew.
fn growth_after_reads(c: &mut redis::Connection, read: &[&str]) -> i64 {
    let before = tier_bytes(c);
    for _ in 0..READ_REPEATS + 1 {
        let _: Value = call(c, read);
    }
    tier_bytes(c) - before
}

#[test]
fn cache_type_decides_which_collections_are_held() {
    let s = TestServer::start_with(&["--cache-type", "string,zset"]);
    let mut c = s.conn();
    let value = "v".repeat(200);
    for i in 0..50 {
        let f = format!("f{i}");
        let _: i64 = call(&mut c, &["HSET", "h", &f, &value]);
        let _: i64 = call(
            &mut c,
            &["ZADD", "z", &i.to_string(), &format!("{f}{value}")],
        );
    }
    // A hash is not held: reading it whole leaves the tier as it was (its meta record aside).
    assert!(growth_after_reads(&mut c, &["HGETALL", "h"]) < 1000);
    // A sorted set is: its window of 50 members of 200 bytes is now in memory.
    assert!(growth_after_reads(&mut c, &["ZRANGE", "z", "0", "9"]) > 50 * 200);
    // Switching hashes on at run time makes them held too.
    let _: () = call(&mut c, &["CONFIG", "SET", "cache-type", "string,hash,zset"]);
    assert!(growth_after_reads(&mut c, &["HGETALL", "h"]) > 50 * 200);
    // A write keeps the held copy current; the next reads see the write.
    let _: i64 = call(&mut c, &["HSET", "h", "f3", "new"]);
    let got: Option<String> = call(&mut c, &["HGET", "h", "f3"]);
    assert_eq!(got.as_deref(), Some("new"));
}

#[test]
fn hset_keeps_the_hash_it_writes_in_the_tier() {
    let s = TestServer::start();
    let mut c = s.conn();
    let value = "v".repeat(200);
    let before = tier_bytes(&mut c);
    for i in 0..50 {
        let _: i64 = call(&mut c, &["HSET", "h", &format!("f{i}"), &value]);
    }
    // Written, never read, and held whole: the next HSET finds its fields in memory.
    assert!(tier_bytes(&mut c) - before > 50 * 200);
    let created: i64 = call(&mut c, &["HSET", "h", "f7", "new", "g", "1", "g", "2"]);
    assert_eq!(created, 1);
    let len: i64 = call(&mut c, &["HLEN", "h"]);
    assert_eq!(len, 51);
    let got: Vec<Option<String>> = call(&mut c, &["HMGET", "h", "f7", "g", "f8"]);
    assert_eq!(
        got,
        [Some("new".to_string()), Some("2".to_string()), Some(value)]
    );
    // Other writes drop the held copy; what is read comes from disk then.
    let _: i64 = call(&mut c, &["HDEL", "h", "f0"]);
    let before = tier_bytes(&mut c);
    assert!(before < 50 * 200);
    let len: i64 = call(&mut c, &["HLEN", "h"]);
    assert_eq!(len, 50);
}

#[test]
fn windows_hold_only_their_members() {
    let s = TestServer::start_with(&["--zset-cache-field-num-per-key", "10"]);
    let mut c = s.conn();
    let member = "m".repeat(100);
    for i in 0..1000 {
        let _: i64 = call(
            &mut c,
            &["ZADD", "z", &i.to_string(), &format!("{i}{member}")],
        );
        let _: i64 = call(&mut c, &["RPUSH", "l", &format!("{i}{member}")]);
    }
    let grew = growth_after_reads(&mut c, &["ZRANGE", "z", "0", "4"]);
    assert!(
        (10 * 100..100 * 100).contains(&grew),
        "zset window took {grew} bytes"
    );
    let grew = growth_after_reads(&mut c, &["LRANGE", "l", "0", "4"]);
    assert!(
        (10 * 100..100 * 100).contains(&grew),
        "list window took {grew} bytes"
    );
    // Outside the window the answer comes from disk, and is right.
    let got: Vec<String> = call(&mut c, &["ZRANGE", "z", "500", "501"]);
    assert_eq!(got, vec![format!("500{member}"), format!("501{member}")]);
    let got: Vec<String> = call(&mut c, &["LRANGE", "l", "-1", "-1"]);
    assert_eq!(got, vec![format!("999{member}")]);
}

#[test]
fn slave_drops_held_collections_when_its_master_writes() {
    let master = TestServer::start();
    let slave = TestServer::slave_of(&master, &[]);
    let _: i64 = master.q(&["HSET", "h", "a", "1", "b", "2"]);
    let _: i64 = master.q(&["RPUSH", "l", "x", "y"]);
    let hget = |want: &str| {
        wait_until("the slave sees the master's write", || {
            let v: Option<String> = slave.q(&["HGET", "h", "b"]);
            v.as_deref() == Some(want)
        });
    };
    hget("2");
    wait_until("the slave has the list", || {
        slave.q::<i64>(&["LLEN", "l"]) == 2
    });
    let mut s = slave.conn();
    for _ in 0..READ_REPEATS + 1 {
        let _: Value = call(&mut s, &["HGETALL", "h"]);
        let _: Value = call(&mut s, &["LRANGE", "l", "0", "-1"]);
    }
    // An element write that leaves the hash's field count alone, and a list rewrite.
    let _: i64 = master.q(&["HSET", "h", "b", "3"]);
    let _: () = master.q(&["LSET", "l", "0", "z"]);
    hget("3");
    let all: Vec<String> = call(&mut s, &["HGETALL", "h"]);
    assert_eq!(all, vec!["a", "1", "b", "3"]);
    wait_until("the slave's list follows LSET", || {
        let got: Vec<String> = call(&mut s, &["LRANGE", "l", "0", "-1"]);
        got == ["z", "y"]
    });
}

#[test]
fn values_over_the_item_limit_skip_the_tier() {
    let s = TestServer::start_with(&["--cache-value-item-max-size", "1kb"]);
    let mut c = s.conn();
    let big = "b".repeat(4000);
    let _: () = call(&mut c, &["SET", "big", &big]);
    assert!(growth_after_reads(&mut c, &["GET", "big"]) < 1000);
    for i in 0..40 {
        let _: i64 = call(&mut c, &["HSET", "h", &format!("f{i}"), &"v".repeat(100)]);
    }
    assert!(growth_after_reads(&mut c, &["HGETALL", "h"]) < 1000);
    let got: String = call(&mut c, &["GET", "big"]);
    assert_eq!(got, big);
    // Raising the limit at run time lets them in.
    let _: () = call(
        &mut c,
        &["CONFIG", "SET", "cache-value-item-max-size", "1mb"],
    );
    assert!(growth_after_reads(&mut c, &["GET", "big"]) > 4000);
    assert!(growth_after_reads(&mut c, &["HGETALL", "h"]) > 4000);
}
