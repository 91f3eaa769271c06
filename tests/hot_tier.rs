//! The hot tier's eviction policies, seen from outside: which keys stay cached (INFO's
//! cache_hits counts the GETs answered from memory), that the tier keeps to its budget, that
//! clients never notice (every read stays correct, nothing is refused), and OBJECT FREQ /
//! IDLETIME answered from the tier's counters as Redis answers them.

mod common;

use std::time::Duration;

use common::{beside_redis, cmd, err, get, info_field, int, wait_for, TestServer};

const BUDGET: u64 = 1 << 20;

fn tier(c: &mut redis::Connection, field: &str) -> u64 {
    info_field(c, "memory", field).parse().unwrap()
}

fn value(i: usize) -> String {
    format!("{i:0>100}")
}

/// Writes `n` keys `prefix{i}` with a 100-byte value, with `EX ex(i)` when it gives one.
fn fill(c: &mut redis::Connection, prefix: &str, n: usize, ex: impl Fn(usize) -> Option<u64>) {
    let mut pipe = redis::pipe();
    for i in 0..n {
        let key = format!("{prefix}{i}");
        match ex(i) {
            Some(secs) => pipe.cmd("SET").arg(&key).arg(value(i)).arg("EX").arg(secs),
            None => pipe.cmd("SET").arg(&key).arg(value(i)),
        };
        pipe.ignore();
    }
    let () = pipe.query(c).unwrap();
}

/// GETs the keys, checks their values, and returns how many the tier answered.
fn hits_reading(c: &mut redis::Connection, keys: impl Iterator<Item = (String, usize)>) -> u64 {
    let before = tier(c, "cache_hits");
    for (key, i) in keys {
        assert_eq!(get(c, &key), Some(value(i)), "{key}");
    }
    tier(c, "cache_hits") - before
}

fn server(policy: &str) -> TestServer {
    TestServer::start_with(&[
        "--cache-maxmemory",
        "1mb",
        "--cache-maxmemory-policy",
        policy,
    ])
}

#[test]
fn volatile_policies_evict_only_keys_with_a_ttl() {
    for policy in [
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let s = server(policy);
        let mut c = s.conn();
        fill(&mut c, "plain", 200, |_| None);
        fill(&mut c, "ttl", 10_000, |_| Some(1000));
        assert!(tier(&mut c, "cache_evicted_keys") > 0, "{policy}");
        assert!(tier(&mut c, "cache_memory") <= BUDGET, "{policy}");
        let plain = (0..200).map(|i| (format!("plain{i}"), i));
        assert_eq!(hits_reading(&mut c, plain), 200, "{policy}");
    }
}

#[test]
fn volatile_policies_stop_admitting_when_no_key_has_a_ttl() {
    let s = server("volatile-lru");
    let mut c = s.conn();
    fill(&mut c, "plain", 10_000, |_| None);
    assert_eq!(tier(&mut c, "cache_evicted_keys"), 0);
    let held = tier(&mut c, "cache_keys");
    assert!(held > 0 && tier(&mut c, "cache_memory") <= BUDGET);
    fill(&mut c, "more", 1000, |_| None);
    assert_eq!(tier(&mut c, "cache_keys"), held);
    let all = (0..10_000).map(|i| (format!("plain{i}"), i));
    hits_reading(&mut c, all);
}

#[test]
fn volatile_ttl_evicts_the_nearest_deadline_first() {
    let s = server("volatile-ttl");
    let mut c = s.conn();
    fill(&mut c, "k", 10_000, |i| Some(1000 + i as u64));
    let latest = hits_reading(&mut c, (9_500..10_000).map(|i| (format!("k{i}"), i)));
    let earliest = hits_reading(&mut c, (0..500).map(|i| (format!("k{i}"), i)));
    assert!(latest >= 450, "far deadlines cached: {latest}/500");
    assert!(earliest <= 50, "near deadlines cached: {earliest}/500");
}

#[test]
fn lfu_keeps_a_key_read_often_over_keys_read_once() {
    let s = server("allkeys-lfu");
    let mut c = s.conn();
    // OBJECT FREQ answers under an LFU maxmemory-policy (no limit: nothing is deleted).
    let _: () = cmd(
        &mut c,
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"],
    )
    .unwrap();
    fill(&mut c, "hot", 1, |_| None);
    for _ in 0..200 {
        assert_eq!(get(&mut c, "hot0"), Some(value(0)));
    }
    assert!(int(&mut c, &["OBJECT", "FREQ", "hot0"]) > 6);
    for round in 0..3 {
        let prefix = format!("cold{round}_");
        fill(&mut c, &prefix, 5_000, |_| None);
        hits_reading(&mut c, (0..5_000).map(|i| (format!("{prefix}{i}"), i)));
    }
    assert!(tier(&mut c, "cache_evicted_keys") > 5_000);
    assert_eq!(hits_reading(&mut c, std::iter::once(("hot0".into(), 0))), 1);
}

#[test]
fn allkeys_policies_evict_and_keep_within_budget() {
    for policy in ["allkeys-lru", "allkeys-random", "allkeys-lfu"] {
        let s = server(policy);
        let mut c = s.conn();
        fill(&mut c, "k", 10_000, |_| None);
        assert!(tier(&mut c, "cache_evicted_keys") > 0, "{policy}");
        assert!(tier(&mut c, "cache_memory") <= BUDGET, "{policy}");
        // The tier's drops keep the data: no key was evicted.
        let stats: u64 = info_field(&mut c, "stats", "evicted_keys").parse().unwrap();
        assert_eq!(stats, 0, "{policy}");
        hits_reading(&mut c, (0..10_000).step_by(7).map(|i| (format!("k{i}"), i)));
        assert!(tier(&mut c, "cache_memory") <= BUDGET, "{policy}");
    }
}

#[test]
fn lru_keeps_recently_read_keys() {
    let s = server("allkeys-lru");
    let mut c = s.conn();
    fill(&mut c, "k", 2_000, |_| None);
    std::thread::sleep(Duration::from_millis(1_100));
    // Read again: these are now the most recently used, one second ahead of the rest.
    hits_reading(&mut c, (0..200).map(|i| (format!("k{i}"), i)));
    fill(&mut c, "new", 3_000, |_| None);
    let kept = hits_reading(&mut c, (0..200).map(|i| (format!("k{i}"), i)));
    assert!(kept >= 150, "recently read keys kept: {kept}/200");
}

#[test]
fn noeviction_stops_admitting_and_every_read_stays_correct() {
    let s = server("noeviction");
    let mut c = s.conn();
    fill(&mut c, "k", 10_000, |_| None);
    let held = tier(&mut c, "cache_keys");
    assert!(held > 1_000 && held < 10_000, "{held}");
    assert_eq!(tier(&mut c, "cache_evicted_keys"), 0);
    fill(&mut c, "more", 2_000, |_| None);
    hits_reading(&mut c, (0..2_000).map(|i| (format!("more{i}"), i)));
    assert_eq!(tier(&mut c, "cache_keys"), held);
    // Rewrites of cached keys still land (and deletes still invalidate).
    fill(&mut c, "k", 10_000, |i| (i % 2 == 0).then_some(1000));
    hits_reading(&mut c, (0..10_000).map(|i| (format!("k{i}"), i)));
    let _: i64 = cmd(&mut c, &["DEL", "k0", "k1"]).unwrap();
    assert_eq!(get(&mut c, "k0"), None);
    assert!(tier(&mut c, "cache_memory") <= BUDGET);
}

#[test]
fn shrinking_the_budget_evicts_in_the_background_and_growing_raises_it() {
    let s = TestServer::start();
    let mut c = s.conn();
    fill(&mut c, "k", 20_000, |_| None);
    assert!(tier(&mut c, "cache_memory") > 3 * BUDGET);
    let _: () = cmd(&mut c, &["CONFIG", "SET", "cache-maxmemory", "1mb"]).unwrap();
    let mut other = s.conn();
    wait_for("the tier to shrink", Duration::from_secs(5), || {
        assert_eq!(get(&mut other, "k5"), Some(value(5)));
        let used = tier(&mut c, "cache_memory");
        if used <= BUDGET {
            Ok(())
        } else {
            Err(format!("cache_memory {used}"))
        }
    });
    assert_eq!(tier(&mut c, "cache_maxmemory"), BUDGET);
    let _: () = cmd(&mut c, &["CONFIG", "SET", "cache-maxmemory", "64mb"]).unwrap();
    let before = tier(&mut c, "cache_keys");
    hits_reading(&mut c, (0..20_000).map(|i| (format!("k{i}"), i)));
    assert!(tier(&mut c, "cache_keys") > before + 10_000);
    assert!(tier(&mut c, "cache_memory") > 3 * BUDGET);
}

#[test]
fn the_tier_starts_cold_after_a_restart_with_the_data_intact() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    fill(&mut c, "k", 1_000, |_| None);
    assert!(tier(&mut c, "cache_keys") >= 1_000);
    drop(c);
    s.restart();
    let mut c = s.conn();
    assert_eq!(tier(&mut c, "cache_keys"), 0);
    assert_eq!(tier(&mut c, "cache_hits"), 0);
    hits_reading(&mut c, (0..1_000).map(|i| (format!("k{i}"), i)));
    assert_eq!(tier(&mut c, "cache_misses"), 1_000);
    assert_eq!(
        hits_reading(&mut c, (0..1_000).map(|i| (format!("k{i}"), i))),
        1_000
    );
}

#[test]
fn tier_and_eviction_policies_are_separate_settings() {
    let s = TestServer::start();
    let mut c = s.conn();
    let get_cfg = |c: &mut redis::Connection, name: &str| -> String {
        let v: Vec<String> = cmd(c, &["CONFIG", "GET", name]).unwrap();
        assert_eq!(v[0], name);
        v[1].clone()
    };
    assert_eq!(get_cfg(&mut c, "cache-maxmemory-policy"), "allkeys-lru");
    assert_eq!(get_cfg(&mut c, "maxmemory-policy"), "noeviction");
    let _: () = cmd(
        &mut c,
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"],
    )
    .unwrap();
    assert_eq!(get_cfg(&mut c, "cache-maxmemory-policy"), "allkeys-lru");
    let _: () = cmd(&mut c, &["CONFIG", "SET", "cache-maxmemory-policy", "6"]).unwrap();
    assert_eq!(get_cfg(&mut c, "maxmemory-policy"), "allkeys-lfu");
    assert_eq!(
        info_field(&mut c, "memory", "cache_maxmemory_policy"),
        "volatile-ttl"
    );
    assert_eq!(
        info_field(&mut c, "memory", "maxmemory_policy"),
        "allkeys-lfu"
    );
    let _: () = cmd(&mut c, &["CONFIG", "SET", "maxmemory-samples", "10"]).unwrap();
    assert_eq!(get_cfg(&mut c, "cache-maxmemory-samples"), "5");
    assert_eq!(get_cfg(&mut c, "maxmemory-samples"), "10");
    let _: () = cmd(&mut c, &["CONFIG", "SET", "lfu-log-factor", "1"]).unwrap();
    assert_eq!(get_cfg(&mut c, "cache-lfu-log-factor"), "1");
    let _: () = cmd(&mut c, &["CONFIG", "SET", "cache-lfu-decay-time", "3"]).unwrap();
    assert_eq!(get_cfg(&mut c, "lfu-decay-time"), "3");
    let _: () = cmd(&mut c, &["CONFIG", "RESETSTAT"]).unwrap();
    assert_eq!(tier(&mut c, "cache_hits"), 0);
}

#[test]
fn object_freq_and_idletime_match_redis() {
    let Some((redis, pika)) = beside_redis() else {
        return;
    };
    let mut r = redis::Client::open(format!("redis://127.0.0.1:{}/", redis.port))
        .unwrap()
        .get_connection()
        .unwrap();
    let mut p = pika.conn();
    for c in [&mut r, &mut p] {
        let _: () = cmd(c, &["SET", "k", "v"]).unwrap();
    }
    let both = |r: &mut redis::Connection, p: &mut redis::Connection, args: &[&str]| {
        let a: redis::Value =
            cmd(r, args).unwrap_or_else(|e| redis::Value::SimpleString(e.to_string()));
        let b: redis::Value =
            cmd(p, args).unwrap_or_else(|e| redis::Value::SimpleString(e.to_string()));
        assert_eq!(a, b, "{args:?}");
    };
    // Under LRU: FREQ is refused, IDLETIME answers.
    both(&mut r, &mut p, &["OBJECT", "FREQ", "k"]);
    both(&mut r, &mut p, &["OBJECT", "IDLETIME", "k"]);
    both(&mut r, &mut p, &["OBJECT", "FREQ", "missing"]);
    both(&mut r, &mut p, &["OBJECT", "IDLETIME", "missing"]);
    for c in [&mut r, &mut p] {
        let _: () = cmd(c, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]).unwrap();
        // No decay: a minute turning between the two servers' answers must not matter.
        let _: () = cmd(c, &["CONFIG", "SET", "lfu-decay-time", "0"]).unwrap();
        let _: () = cmd(c, &["SET", "f", "v"]).unwrap();
    }
    // A new key starts at LFU_INIT_VAL; OBJECT is no access; the first read always counts.
    both(&mut r, &mut p, &["OBJECT", "FREQ", "f"]);
    both(&mut r, &mut p, &["OBJECT", "FREQ", "f"]);
    both(&mut r, &mut p, &["OBJECT", "IDLETIME", "f"]);
    for c in [&mut r, &mut p] {
        assert_eq!(get(c, "f").as_deref(), Some("v"));
    }
    both(&mut r, &mut p, &["OBJECT", "FREQ", "f"]);
    assert_eq!(int(&mut p, &["OBJECT", "FREQ", "f"]), 6);
}

#[test]
fn object_loads_a_cold_key_without_counting_an_access() {
    // No decay: a minute turning during the test must not lower the counters.
    let mut s = TestServer::start_with(&[
        "--cache-maxmemory-policy",
        "allkeys-lfu",
        "--maxmemory-policy",
        "allkeys-lfu",
        "--cache-lfu-decay-time",
        "0",
    ]);
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "k", "v"]).unwrap();
    for _ in 0..200 {
        assert_eq!(get(&mut c, "k").as_deref(), Some("v"));
    }
    assert!(int(&mut c, &["OBJECT", "FREQ", "k"]) > 6);
    drop(c);
    s.restart();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["OBJECT", "FREQ", "k"]), 5);
    assert_eq!(int(&mut c, &["OBJECT", "FREQ", "k"]), 5);
    assert_eq!(tier(&mut c, "cache_keys"), 1);
    // TYPE, TTL and EXISTS are no accesses either.
    let _: String = cmd(&mut c, &["TYPE", "k"]).unwrap();
    let _: i64 = cmd(&mut c, &["TTL", "k"]).unwrap();
    let _: i64 = cmd(&mut c, &["EXISTS", "k"]).unwrap();
    assert_eq!(int(&mut c, &["OBJECT", "FREQ", "k"]), 5);
    let _: () = cmd(
        &mut c,
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"],
    )
    .unwrap();
    assert_eq!(int(&mut c, &["OBJECT", "IDLETIME", "k"]), 0);
    assert!(err(&mut c, &["OBJECT", "FREQ", "k"])
        .starts_with("ERR An LFU maxmemory policy is not selected"));
}

#[test]
fn a_disabled_tier_still_answers_object() {
    let s = TestServer::start_with(&[
        "--cache-maxmemory",
        "0",
        "--maxmemory-policy",
        "volatile-lfu",
    ]);
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "k", "v"]).unwrap();
    assert_eq!(int(&mut c, &["OBJECT", "FREQ", "k"]), 5);
    assert_eq!(tier(&mut c, "cache_keys"), 0);
}

#[test]
fn restore_sets_the_counters_of_the_policy() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "k", "v"]).unwrap();
    let dump: Vec<u8> = cmd(&mut c, &["DUMP", "k"]).unwrap();
    let restore = |c: &mut redis::Connection, key: &str, opt: &str, n: &str| {
        let _: () = redis::cmd("RESTORE")
            .arg(key)
            .arg(0)
            .arg(&dump)
            .arg(opt)
            .arg(n)
            .query(c)
            .unwrap();
    };
    restore(&mut c, "idle", "IDLETIME", "1000");
    let idle = int(&mut c, &["OBJECT", "IDLETIME", "idle"]);
    assert!((1000..1002).contains(&idle), "{idle}");
    let _: () = cmd(
        &mut c,
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"],
    )
    .unwrap();
    let _: () = cmd(&mut c, &["CONFIG", "SET", "lfu-decay-time", "0"]).unwrap();
    restore(&mut c, "freq", "FREQ", "100");
    assert_eq!(int(&mut c, &["OBJECT", "FREQ", "freq"]), 100);
}
