//! Data eviction under `maxmemory`, as Redis' `maxmemory-policy` does it: which keys go under
//! each kind of policy, the `evicted` keyspace event, INFO's evicted_keys, -OOM once nothing
//! is left to evict (and always under noeviction), replicas losing the evicted keys, and
//! client-side caching hearing of an eviction before the reply of the command that caused it.
//!
//! A limit of 1 byte is below what any server needs, so every candidate key goes (as in Redis).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::subscriber::Subscriber;
use common::{call, err, info_field, wait_until, TestServer};

const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

fn evicted_keys(c: &mut redis::Connection) -> u64 {
    info_field(c, "stats", "evicted_keys").parse().unwrap()
}

fn dbsize(c: &mut redis::Connection) -> i64 {
    call(c, &["DBSIZE"])
}

fn config_set(c: &mut redis::Connection, name: &str, value: &str) {
    let _: () = call(c, &["CONFIG", "SET", name, value]);
}

/// Writes `n` keys `prefix{i}`, with a TTL of an hour when `ttl` says so.
fn fill(c: &mut redis::Connection, prefix: &str, n: usize, ttl: bool) {
    let mut pipe = redis::pipe();
    for i in 0..n {
        let key = format!("{prefix}{i}");
        if ttl {
            pipe.cmd("SET")
                .arg(&key)
                .arg("v")
                .arg("EX")
                .arg(3600)
                .ignore();
        } else {
            pipe.cmd("SET").arg(&key).arg("v").ignore();
        }
    }
    let _: () = pipe.query(c).unwrap();
}

/// Runs cheap commands (each one may evict) until `done` holds; a bounded number of them.
fn ping_until(
    c: &mut redis::Connection,
    what: &str,
    mut done: impl FnMut(&mut redis::Connection) -> bool,
) {
    for _ in 0..200 {
        if done(c) {
            return;
        }
        let _: String = call(c, &["PING"]);
    }
    panic!("{what} never happened");
}

/// The key of the next `evicted` event of database 0.
fn next_evicted(sub: &mut Subscriber) -> String {
    let (channel, key) = sub.next();
    assert_eq!(channel, "__keyevent@0__:evicted");
    key
}

#[test]
fn an_evicted_key_is_published_to_subscribers() {
    let s = TestServer::start();
    let mut c = s.conn();
    config_set(&mut c, "notify-keyspace-events", "Ee");
    config_set(&mut c, "maxmemory-policy", "allkeys-lru");
    let mut sub = Subscriber::new(&s);
    let _: () = call(&mut c, &["SET", "foo", "bar"]);
    // CONFIG SET applies the new limit at once.
    config_set(&mut c, "maxmemory", "1");
    assert_eq!(next_evicted(&mut sub), "foo");
    config_set(&mut c, "maxmemory", "0");
    assert_eq!(dbsize(&mut c), 0);
    assert_eq!(evicted_keys(&mut c), 1);
}

#[test]
fn volatile_policies_evict_only_keys_with_a_ttl_then_refuse_writes() {
    for policy in [
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let s = TestServer::start();
        let mut c = s.conn();
        fill(&mut c, "keep", 30, false);
        fill(&mut c, "ttl", 30, true);
        config_set(&mut c, "maxmemory-policy", policy);
        config_set(&mut c, "maxmemory", "1");
        ping_until(&mut c, "every key with a TTL evicted", |c| dbsize(c) == 30);
        let keys: Vec<String> = call(&mut c, &["KEYS", "*"]);
        assert!(
            keys.iter().all(|k| k.starts_with("keep")),
            "{policy}: {keys:?}"
        );
        assert_eq!(evicted_keys(&mut c), 30, "{policy}");
        // Nothing left to evict: writes are refused, reads still answer.
        assert_eq!(err(&mut c, &["SET", "new", "v"]), OOM, "{policy}");
        let kept: Option<String> = call(&mut c, &["GET", "keep7"]);
        assert_eq!(kept.as_deref(), Some("v"));
        config_set(&mut c, "maxmemory", "0");
        let _: () = call(&mut c, &["SET", "new", "v"]);
        assert_eq!(dbsize(&mut c), 31, "{policy}");
    }
}

#[test]
fn volatile_ttl_evicts_the_nearest_deadline_first() {
    let s = TestServer::start();
    let mut c = s.conn();
    for i in 0..10 {
        let secs = (1000 + 100 * (10 - i)).to_string();
        let _: () = call(&mut c, &["SET", &format!("k{i}"), "v", "EX", &secs]);
    }
    config_set(&mut c, "notify-keyspace-events", "Ee");
    config_set(&mut c, "maxmemory-policy", "volatile-ttl");
    let mut sub = Subscriber::new(&s);
    config_set(&mut c, "maxmemory", "1");
    let order: Vec<String> = (0..10).map(|_| next_evicted(&mut sub)).collect();
    let expected: Vec<String> = (0..10).rev().map(|i| format!("k{i}")).collect();
    assert_eq!(order, expected);
    config_set(&mut c, "maxmemory", "0");
}

#[test]
fn allkeys_random_empties_every_database_and_counts() {
    let s = TestServer::start();
    let mut c = s.conn();
    fill(&mut c, "a", 700, false);
    fill(&mut c, "t", 100, true);
    let _: () = call(&mut c, &["SELECT", "3"]);
    fill(&mut c, "b", 200, false);
    let _: () = call(&mut c, &["SELECT", "0"]);
    config_set(&mut c, "maxmemory-policy", "allkeys-random");
    config_set(&mut c, "maxmemory", "1");
    ping_until(&mut c, "every key evicted", |c| {
        let _: () = call(c, &["SELECT", "3"]);
        let in_3 = dbsize(c);
        let _: () = call(c, &["SELECT", "0"]);
        in_3 == 0 && dbsize(c) == 0
    });
    assert_eq!(evicted_keys(&mut c), 1000);
    assert_eq!(err(&mut c, &["LPUSH", "l", "x"]), OOM);
    config_set(&mut c, "maxmemory", "0");
    let _: () = call(&mut c, &["CONFIG", "RESETSTAT"]);
    assert_eq!(evicted_keys(&mut c), 0);
}

#[test]
fn noeviction_refuses_writes_and_keeps_the_data() {
    let s = TestServer::start();
    let mut c = s.conn();
    let policy: Vec<String> = call(&mut c, &["CONFIG", "GET", "maxmemory-policy"]);
    assert_eq!(policy, ["maxmemory-policy", "noeviction"]);
    fill(&mut c, "k", 50, true);
    config_set(&mut c, "maxmemory", "1");
    for _ in 0..5 {
        assert_eq!(err(&mut c, &["SET", "x", "y"]), OOM);
    }
    // Commands that add nothing still run.
    let _: i64 = call(&mut c, &["DEL", "k0"]);
    assert_eq!(dbsize(&mut c), 49);
    assert_eq!(evicted_keys(&mut c), 0);
    config_set(&mut c, "maxmemory", "0");
    let _: () = call(&mut c, &["SET", "x", "y"]);
}

#[test]
fn a_replica_loses_the_evicted_keys_too() {
    let master = TestServer::start();
    let replica = TestServer::slave_of(&master, &[]);
    let mut m = master.conn();
    fill(&mut m, "k", 20, false);
    wait_until("the replica to have every key", || {
        replica
            .try_q(&["DBSIZE"])
            .is_ok_and(|v| v == redis::Value::Int(20))
    });
    config_set(&mut m, "maxmemory-policy", "allkeys-lru");
    config_set(&mut m, "maxmemory", "1");
    ping_until(&mut m, "every key evicted", |c| dbsize(c) == 0);
    config_set(&mut m, "maxmemory", "0");
    wait_until("the replica to lose every key", || {
        replica
            .try_q(&["DBSIZE"])
            .is_ok_and(|v| v == redis::Value::Int(0))
    });
    let mut r = replica.conn();
    assert_eq!(evicted_keys(&mut r), 0, "the replica evicts nothing itself");
}

/// Sends one command on a raw connection.
fn send(stream: &mut TcpStream, args: &[&str]) {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    stream.write_all(&out).unwrap();
}

/// Reads until what arrived ends with `suffix` (5 s at most).
fn read_through(stream: &mut TcpStream, suffix: &[u8]) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    while !got.ends_with(suffix) {
        assert!(
            Instant::now() < deadline,
            "no {:?}: have {:?}",
            String::from_utf8_lossy(suffix),
            String::from_utf8_lossy(&got)
        );
        let mut chunk = [0u8; 4096];
        if let Ok(n) = stream.read(&mut chunk) {
            got.extend_from_slice(&chunk[..n]);
        }
    }
    got
}

#[test]
fn an_eviction_invalidates_before_the_reply_of_the_command_it_preceded() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut t = s.raw();
    t.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    send(&mut t, &["HELLO", "3"]);
    read_through(&mut t, b"modules\r\n*0\r\n");
    send(&mut t, &["CLIENT", "TRACKING", "ON"]);
    read_through(&mut t, b"+OK\r\n");
    let used: u64 = info_field(&mut c, "memory", "used_memory").parse().unwrap();
    config_set(&mut c, "maxmemory", &(used + 100 * 1024).to_string());
    config_set(&mut c, "maxmemory-policy", "volatile-random");
    send(&mut t, &["SETEX", "volatile-key", "10000", "x"]);
    read_through(&mut t, b"+OK\r\n");
    send(&mut t, &["GET", "volatile-key"]);
    read_through(&mut t, b"$1\r\nx\r\n");
    // About 200 KB, held in the hot tier: used_memory passes the limit.
    send(&mut t, &["SETBIT", "big-key", "1600000", "0"]);
    read_through(&mut t, b":0\r\n");
    send(&mut t, &["GETBIT", "big-key", "0"]);
    let got = read_through(&mut t, b":0\r\n");
    assert_eq!(
        String::from_utf8_lossy(&got),
        ">2\r\n$10\r\ninvalidate\r\n*1\r\n$12\r\nvolatile-key\r\n:0\r\n"
    );
    config_set(&mut c, "maxmemory", "0");
    assert_eq!(evicted_keys(&mut c), 1);
}
