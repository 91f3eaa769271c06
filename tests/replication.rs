//! Master/slave replication, black box: real server processes on 127.0.0.1 linked with
//! `--slaveof` / SLAVEOF, checked through INFO replication, ROLE, WAIT and DEBUG DIGEST.
//!
//! A fresh slave installs its full sync by restarting its storage in-process, which drops
//! every client connection; the helpers here therefore open a fresh connection per command
//! and retry while the listener is away. Nothing waits a fixed time: every wait polls a
//! condition until a deadline.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use redis::Value;

use common::{call, cmd, error_text, is_transport, TestServer};

/// How long any replication condition may take to become true.
const DEADLINE: Duration = Duration::from_secs(20);

/// One server process, with the password clients must send (if any).
struct Node {
    server: TestServer,
    pass: Option<String>,
}

impl Node {
    fn start(args: &[&str]) -> Node {
        let pass = args
            .iter()
            .position(|a| *a == "--requirepass")
            .map(|i| args[i + 1].to_string());
        Node {
            server: TestServer::start_with(args),
            pass,
        }
    }

    /// A slave of `master` (started with `--slaveof`), with extra arguments.
    fn slave_of(master: &Node, extra: &[&str]) -> Node {
        let addr = format!("127.0.0.1:{}", master.port());
        let mut args = vec!["--slaveof", addr.as_str()];
        args.extend_from_slice(extra);
        Node::start(&args)
    }

    fn port(&self) -> u16 {
        self.server.port
    }

    fn url(&self) -> String {
        match &self.pass {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}/", self.port()),
            None => self.server.url(),
        }
    }

    /// A new connection, retried while the server is not accepting (storage restart).
    fn conn(&self) -> redis::Connection {
        let client = redis::Client::open(self.url()).expect("client");
        let deadline = Instant::now() + DEADLINE;
        loop {
            match client.get_connection_with_timeout(Duration::from_secs(5)) {
                Ok(c) => {
                    c.set_read_timeout(Some(Duration::from_secs(30)))
                        .expect("timeout");
                    return c;
                }
                Err(_) if Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("cannot connect to {}: {e}", self.port()),
            }
        }
    }

    /// Runs one command on a fresh connection; transport failures (the slave restarting its
    /// storage) are retried, server errors are returned.
    fn try_q(&self, args: &[&str]) -> redis::RedisResult<Value> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let mut c = self.conn();
            match cmd::<Value>(&mut c, args) {
                Err(e) if is_transport(&e) && Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    /// Runs a command that must succeed and converts its reply.
    fn q<T: redis::FromRedisValue>(&self, args: &[&str]) -> T {
        let v = self
            .try_q(args)
            .unwrap_or_else(|e| panic!("{args:?} on {}: {e}", self.port()));
        redis::from_redis_value(v).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    /// Runs a command that must fail; returns the error text.
    fn err(&self, args: &[&str]) -> String {
        match self.try_q(args) {
            Ok(v) => panic!("expected an error from {args:?}, got {v:?}"),
            Err(e) => error_text(&e),
        }
    }

    fn get(&self, key: &str) -> Option<String> {
        self.q(&["GET", key])
    }

    /// The fields of one INFO section.
    fn info(&self, section: &str) -> HashMap<String, String> {
        let text: String = self.q(&["INFO", section]);
        text.lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_string(), v.trim().to_string()))
            .collect()
    }

    fn info_field(&self, section: &str, field: &str) -> Option<String> {
        self.info(section).remove(field)
    }

    /// An integer INFO field (panics when absent).
    fn info_u64(&self, section: &str, field: &str) -> u64 {
        let v = self
            .info_field(section, field)
            .unwrap_or_else(|| panic!("INFO {section} of {} lacks {field}", self.port()));
        v.parse()
            .unwrap_or_else(|_| panic!("INFO {field} is not a number: {v}"))
    }

    fn digest(&self) -> String {
        self.q(&["DEBUG", "DIGEST"])
    }

    fn link_up(&self) -> bool {
        self.info_field("replication", "master_link_status")
            .is_some_and(|s| s == "up")
    }
}

/// Polls `cond` until it holds; panics with `what` (and the last `state` seen) at the deadline.
/// Waits until the load writer has done more than `past` rounds.
fn wait_for_rounds(what: &str, rounds: &AtomicU64, past: u64) {
    wait_until(what, || {
        let now = rounds.load(Ordering::Relaxed);
        if now > past {
            Ok(())
        } else {
            Err(format!("{now} rounds"))
        }
    });
}

fn wait_until(what: &str, cond: impl FnMut() -> Result<(), String>) {
    common::wait_for(what, DEADLINE, cond);
}

/// Waits until `slave`'s link is up, it applied everything `upstream` has written (its
/// binlog position) and both hold the same data.
fn wait_in_sync(upstream: &Node, slave: &Node) {
    wait_until(
        &format!("{} to catch up with {}", slave.port(), upstream.port()),
        || {
            let repl = slave.info("replication");
            if repl.get("master_link_status").map(String::as_str) != Some("up") {
                return Err(format!("slave link: {repl:?}"));
            }
            let have = repl.get("master_repl_offset").cloned().unwrap_or_default();
            let want = upstream
                .info_u64("replication", "binlog_offset")
                .to_string();
            if have != want {
                return Err(format!("slave at {have}, upstream at {want}"));
            }
            let (a, b) = (upstream.digest(), slave.digest());
            if a != b {
                return Err(format!("digests differ: {a} vs {b}"));
            }
            Ok(())
        },
    );
}

fn wait_link_up(slave: &Node) {
    wait_until(&format!("{} link up", slave.port()), || {
        if slave.link_up() {
            Ok(())
        } else {
            Err(format!("{:?}", slave.info("replication")))
        }
    });
}

/// Writes `n` string keys `{prefix}:{i}` = `i` with pipelined MSETs.
fn populate(node: &Node, prefix: &str, n: usize) {
    let mut c = node.conn();
    let mut p = redis::pipe();
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mset = p.cmd("MSET");
        for i in chunk {
            mset.arg(format!("{prefix}:{i}")).arg(*i);
        }
        mset.ignore();
    }
    let _: () = p.query(&mut c).expect("populate");
}

/// A tiny deterministic generator for the load threads.
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Sets its flag when dropped, so a panicking test stops its load threads.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A thread writing to `node` until `stop` is set, counting its rounds in `rounds`. Every
/// round writes a string, a counter, a list, a hash and a sorted set out of a fixed set of
/// keys (all exist after 500 rounds); with `new_keys` it also creates a new key each round.
fn spawn_writer(
    node: &Node,
    stop: Arc<AtomicBool>,
    rounds: Arc<AtomicU64>,
    new_keys: bool,
) -> thread::JoinHandle<()> {
    let client = redis::Client::open(node.url()).expect("client");
    thread::spawn(move || {
        let mut c = client.get_connection().expect("writer connection");
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let mut p = redis::pipe();
            p.cmd("SET")
                .arg(format!("w:{}", i % 500))
                .arg(i)
                .ignore()
                .cmd("INCR")
                .arg("w:counter")
                .ignore()
                .cmd("RPUSH")
                .arg("w:list")
                .arg(i)
                .ignore()
                .cmd("HSET")
                .arg("w:hash")
                .arg(format!("f{}", i % 100))
                .arg(i)
                .ignore()
                .cmd("ZADD")
                .arg("w:zset")
                .arg(i)
                .arg(format!("m{}", i % 200))
                .ignore();
            if new_keys {
                p.cmd("SET").arg(format!("new:{i}")).arg(i).ignore();
            }
            if i.is_multiple_of(50) {
                p.cmd("LTRIM").arg("w:list").arg(-100).arg(-1).ignore();
            }
            if let Err(e) = p.query::<()>(&mut c) {
                // The test ended (and stopped its servers) while a round was in flight.
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                panic!("writer: {e}");
            }
            i += 1;
            rounds.store(i, Ordering::Relaxed);
        }
    })
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn every_data_type_reaches_the_slave() {
    let master = Node::start(&[]);
    let slave = Node::slave_of(&master, &[]);
    wait_link_up(&slave);
    let mut m = master.conn();
    let run = |c: &mut redis::Connection, args: &[&str]| {
        call::<Value>(c, args);
    };
    run(&mut m, &["SET", "flushed", "x"]);
    run(&mut m, &["SELECT", "7"]);
    run(&mut m, &["RPUSH", "flushed-db7", "x"]);
    run(&mut m, &["SELECT", "0"]);
    run(&mut m, &["FLUSHALL"]);
    run(&mut m, &["SET", "str", "hello"]);
    run(&mut m, &["APPEND", "str", " world"]);
    run(&mut m, &["SET", "ttl", "v", "EX", "1000"]);
    run(&mut m, &["INCRBY", "counter", "41"]);
    run(&mut m, &["INCR", "counter"]);
    run(&mut m, &["HSET", "hash", "a", "1", "b", "2", "c", "3"]);
    run(&mut m, &["HDEL", "hash", "b"]);
    run(&mut m, &["HINCRBY", "hash", "a", "10"]);
    let mut big_hash = vec!["HSET".to_string(), "bighash".to_string()];
    for i in 0..300 {
        big_hash.push(format!("field{i}"));
        big_hash.push(format!("value{i}"));
    }
    run(
        &mut m,
        &big_hash.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    run(&mut m, &["RPUSH", "list", "b", "c", "d"]);
    run(&mut m, &["LPUSH", "list", "a"]);
    run(&mut m, &["LSET", "list", "2", "C"]);
    run(&mut m, &["RPUSH", "list", "e", "f"]);
    run(&mut m, &["LTRIM", "list", "0", "4"]);
    run(&mut m, &["LPOP", "list"]);
    run(&mut m, &["SADD", "set", "x", "y", "z", "w"]);
    run(&mut m, &["SREM", "set", "w"]);
    run(
        &mut m,
        &["ZADD", "zset", "1", "one", "2", "two", "3.5", "three"],
    );
    run(&mut m, &["ZINCRBY", "zset", "10", "one"]);
    run(&mut m, &["ZREM", "zset", "two"]);
    run(&mut m, &["SETBIT", "bits", "7", "1"]);
    run(&mut m, &["SETBIT", "bits", "100", "1"]);
    run(&mut m, &["SETBIT", "bits", "7", "0"]);
    run(&mut m, &["SET", "deleted", "x"]);
    run(&mut m, &["RPUSH", "deleted-list", "x"]);
    run(&mut m, &["DEL", "deleted", "deleted-list"]);
    run(&mut m, &["SET", "expiring", "x"]);
    run(&mut m, &["EXPIRE", "expiring", "5000"]);
    run(&mut m, &["SET", "persisted", "x", "EX", "5000"]);
    run(&mut m, &["PERSIST", "persisted"]);
    run(&mut m, &["SET", "old-name", "renamed"]);
    run(&mut m, &["RENAME", "old-name", "new-name"]);
    run(&mut m, &["SADD", "old-set", "member"]);
    run(&mut m, &["RENAME", "old-set", "new-set"]);
    // Commands whose effect is random or moves data: the slave gets the effect.
    run(&mut m, &["SADD", "popped", "a", "b", "c", "d", "e"]);
    run(&mut m, &["SPOP", "popped", "2"]);
    run(&mut m, &["ZADD", "zpopped", "1", "a", "2", "b", "3", "c"]);
    run(&mut m, &["ZPOPMIN", "zpopped"]);
    run(&mut m, &["SET", "getdel", "x"]);
    run(&mut m, &["GETDEL", "getdel"]);
    run(&mut m, &["RPUSH", "copy-src", "1", "2", "3"]);
    run(&mut m, &["COPY", "copy-src", "copy-dst"]);
    run(&mut m, &["SET", "moved", "to-db5"]);
    run(&mut m, &["MOVE", "moved", "5"]);
    run(&mut m, &["SELECT", "3"]);
    run(&mut m, &["SET", "in-db3", "three"]);
    run(&mut m, &["HSET", "hash-db3", "f", "v"]);
    run(&mut m, &["SELECT", "0"]);
    drop(m);

    wait_in_sync(&master, &slave);

    assert_eq!(slave.get("str").as_deref(), Some("hello world"));
    let ttl: i64 = slave.q(&["TTL", "ttl"]);
    assert!(ttl > 0 && ttl <= 1000, "TTL on the slave: {ttl}");
    assert_eq!(slave.get("counter").as_deref(), Some("42"));
    let mut hash: Vec<String> = slave.q(&["HGETALL", "hash"]);
    hash.sort();
    assert_eq!(hash, strings(&["11", "3", "a", "c"]));
    let hlen: i64 = slave.q(&["HLEN", "bighash"]);
    assert_eq!(hlen, 300);
    assert_eq!(
        slave
            .q::<Option<String>>(&["HGET", "bighash", "field299"])
            .as_deref(),
        Some("value299")
    );
    let list: Vec<String> = slave.q(&["LRANGE", "list", "0", "-1"]);
    assert_eq!(list, strings(&["b", "C", "d", "e"]));
    let mut set: Vec<String> = slave.q(&["SMEMBERS", "set"]);
    set.sort();
    assert_eq!(set, strings(&["x", "y", "z"]));
    let zset: Vec<String> = slave.q(&["ZRANGE", "zset", "0", "-1", "WITHSCORES"]);
    assert_eq!(zset, strings(&["three", "3.5", "one", "11"]));
    assert_eq!(slave.q::<i64>(&["GETBIT", "bits", "7"]), 0);
    assert_eq!(slave.q::<i64>(&["GETBIT", "bits", "100"]), 1);
    assert_eq!(slave.q::<i64>(&["BITCOUNT", "bits"]), 1);
    assert_eq!(slave.q::<i64>(&["EXISTS", "deleted", "deleted-list"]), 0);
    let ttl: i64 = slave.q(&["TTL", "expiring"]);
    assert!(
        ttl > 0 && ttl <= 5000,
        "TTL of expiring on the slave: {ttl}"
    );
    assert_eq!(slave.q::<i64>(&["TTL", "persisted"]), -1);
    assert_eq!(slave.q::<i64>(&["EXISTS", "old-name", "old-set"]), 0);
    assert_eq!(slave.get("new-name").as_deref(), Some("renamed"));
    assert_eq!(slave.q::<i64>(&["SISMEMBER", "new-set", "member"]), 1);
    assert_eq!(slave.q::<i64>(&["EXISTS", "flushed"]), 0);
    let mut left: Vec<String> = slave.q(&["SMEMBERS", "popped"]);
    let mut want: Vec<String> = master.q(&["SMEMBERS", "popped"]);
    left.sort();
    want.sort();
    assert_eq!(left.len(), 3);
    assert_eq!(left, want, "SPOP removed other members on the slave");
    let zleft: Vec<String> = slave.q(&["ZRANGE", "zpopped", "0", "-1"]);
    assert_eq!(zleft, strings(&["b", "c"]));
    assert_eq!(slave.q::<i64>(&["EXISTS", "getdel", "moved"]), 0);
    let copied: Vec<String> = slave.q(&["LRANGE", "copy-dst", "0", "-1"]);
    assert_eq!(copied, strings(&["1", "2", "3"]));
    assert_eq!(slave.q::<i64>(&["LLEN", "copy-src"]), 3);
    let mut c = slave.conn();
    let _: () = redis::cmd("SELECT").arg(3).query(&mut c).unwrap();
    let v: Option<String> = redis::cmd("GET").arg("in-db3").query(&mut c).unwrap();
    assert_eq!(v.as_deref(), Some("three"));
    let _: () = redis::cmd("SELECT").arg(5).query(&mut c).unwrap();
    let v: Option<String> = redis::cmd("GET").arg("moved").query(&mut c).unwrap();
    assert_eq!(v.as_deref(), Some("to-db5"));
    let _: () = redis::cmd("SELECT").arg(3).query(&mut c).unwrap();
    let v: Option<String> = redis::cmd("HGET")
        .arg("hash-db3")
        .arg("f")
        .query(&mut c)
        .unwrap();
    assert_eq!(v.as_deref(), Some("v"));
    assert_eq!(
        slave.q::<i64>(&["DBSIZE"]),
        master.q::<i64>(&["DBSIZE"]),
        "key counts differ"
    );

    // A read-only slave refuses writes, whatever the type.
    for args in [
        &["SET", "str", "x"][..],
        &["HSET", "hash", "a", "2"],
        &["RPUSH", "list", "z"],
        &["DEL", "str"],
        &["SETBIT", "bits", "1", "1"],
    ] {
        assert_eq!(
            slave.err(args),
            "READONLY You can't write against a read only replica.",
            "{args:?}"
        );
    }
    assert_eq!(slave.get("str").as_deref(), Some("hello world"));
}

/// Nice values of the server's threads named `name` (Linux /proc).
fn thread_nice_values(node: &Node, name: &str) -> Vec<i64> {
    let pid = node.server.pid().expect("server running");
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("task list") {
        let dir = task.expect("task").path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
        // Fields after the parenthesised name: state is field 3, nice is field 19.
        if let Some((_, rest)) = stat.rsplit_once(')') {
            if let Some(nice) = rest.split_whitespace().nth(16) {
                out.push(nice.parse().expect("nice value"));
            }
        }
    }
    out
}

#[test]
fn replication_threads_run_at_the_configured_nice_value() {
    let master = Node::start(&["--replication-nice", "7"]);
    let slave = Node::slave_of(&master, &["--replication-nice", "12"]);
    wait_in_sync(&master, &slave);
    // Lowered only by a process that can bring a lagging thread back (root here, in CI).
    // SAFETY: geteuid has no arguments and cannot fail.
    let privileged = unsafe { libc::geteuid() } == 0;
    let lowered = |nice: i64| if privileged { nice } else { 0 };
    assert_eq!(thread_nice_values(&master, "repl-slave"), vec![lowered(7)]);
    assert_eq!(thread_nice_values(&slave, "repl-link"), vec![lowered(12)]);
    // Client-serving threads keep the process' priority (the main thread's).
    for node in [&master, &slave] {
        let main_thread = thread_nice_values(node, "pika")[0];
        assert_eq!(thread_nice_values(node, "worker-0"), vec![main_thread]);
    }
    let got: Vec<String> = slave.q(&["CONFIG", "GET", "replication-nice"]);
    assert_eq!(got, vec!["replication-nice".to_string(), "12".to_string()]);
}

/// `dbN:keys=..,expires=..` of INFO keyspace, per database (the exact counters only).
fn key_counters(node: &Node) -> Vec<String> {
    let text: String = node.q(&["INFO", "keyspace"]);
    text.lines()
        .filter(|l| l.starts_with("db"))
        .map(|l| l.split(",avg_ttl").next().unwrap_or(l).to_string())
        .collect()
}

#[test]
fn slave_key_counters_follow_the_master() {
    let master = Node::start(&[]);
    let slave = Node::slave_of(&master, &[]);
    wait_in_sync(&master, &slave);
    let mut m = master.conn();
    for db in [0, 3] {
        let _: () = redis::cmd("SELECT").arg(db).query(&mut m).unwrap();
        for i in 0..40 {
            let _: () = redis::cmd("SET")
                .arg(format!("k{i}"))
                .arg(i)
                .query(&mut m)
                .unwrap();
        }
        for i in 0..15 {
            let _: i64 = redis::cmd("EXPIRE")
                .arg(format!("k{i}"))
                .arg(1000)
                .query(&mut m)
                .unwrap();
        }
        let _: i64 = redis::cmd("DEL")
            .arg("k0")
            .arg("k20")
            .query(&mut m)
            .unwrap();
        let _: i64 = redis::cmd("PERSIST").arg("k1").query(&mut m).unwrap();
        let _: i64 = redis::cmd("SADD").arg("s").arg("a").query(&mut m).unwrap();
    }
    wait_in_sync(&master, &slave);
    let expected = vec![
        "db0:keys=39,expires=13".to_string(),
        "db3:keys=39,expires=13".to_string(),
    ];
    assert_eq!(key_counters(&master), expected);
    assert_eq!(key_counters(&slave), expected);

    let _: () = redis::cmd("FLUSHDB").query(&mut m).unwrap();
    let _: () = redis::cmd("SET")
        .arg("after")
        .arg("1")
        .arg("EX")
        .arg(100)
        .query(&mut m)
        .unwrap();
    wait_in_sync(&master, &slave);
    let expected = vec![
        "db0:keys=39,expires=13".to_string(),
        "db3:keys=1,expires=1".to_string(),
    ];
    assert_eq!(key_counters(&master), expected);
    assert_eq!(key_counters(&slave), expected);
}

#[test]
fn slave_of_a_loaded_master_full_syncs_then_follows() {
    let master = Node::start(&[]);
    populate(&master, "pre", 3000);
    let mut m = master.conn();
    for i in 0..50 {
        let _: () = redis::cmd("HSET")
            .arg(format!("h:{i}"))
            .arg("f")
            .arg(i)
            .query(&mut m)
            .unwrap();
    }
    let slave = Node::slave_of(&master, &[]);
    wait_in_sync(&master, &slave);
    assert_eq!(slave.q::<i64>(&["DBSIZE"]), 3050);
    assert_eq!(slave.get("pre:2999").as_deref(), Some("2999"));
    assert_eq!(master.info_u64("stats", "sync_full"), 1);

    // Incremental writes follow, without another full sync.
    populate(&master, "post", 200);
    let _: i64 = redis::cmd("DEL").arg("pre:0").query(&mut m).unwrap();
    let _: () = redis::cmd("SET")
        .arg("pre:1")
        .arg("changed")
        .query(&mut m)
        .unwrap();
    wait_in_sync(&master, &slave);
    assert_eq!(slave.q::<i64>(&["DBSIZE"]), 3249);
    assert_eq!(slave.get("pre:0"), None);
    assert_eq!(slave.get("pre:1").as_deref(), Some("changed"));
    assert_eq!(slave.get("post:199").as_deref(), Some("199"));
    assert_eq!(master.info_u64("stats", "sync_full"), 1);
    assert_eq!(master.info_u64("replication", "connected_slaves"), 1);
}

#[test]
fn full_sync_taken_under_write_load_converges() {
    let master = Node::start(&[]);
    populate(&master, "pre", 2000);
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicU64::new(0));
    let _guard = StopOnDrop(Arc::clone(&stop));
    let writer = spawn_writer(&master, Arc::clone(&stop), Arc::clone(&rounds), false);
    // Once every key of the load exists, the load only updates keys (the key-creating case
    // is `full_sync_completes_under_a_key_creating_load`).
    wait_for_rounds("the load to create its keys", &rounds, 600);
    // The checkpoint is taken and streamed while batches keep arriving.
    let slave = Node::slave_of(&master, &[]);
    wait_link_up(&slave);
    let linked_at = rounds.load(Ordering::Relaxed);
    wait_for_rounds("more load after the full sync", &rounds, linked_at + 100);
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer thread");
    wait_in_sync(&master, &slave);
    assert_eq!(master.info_u64("stats", "sync_full"), 1);
    assert_eq!(
        slave.get("w:counter").map(|v| v.parse::<u64>().unwrap()),
        Some(rounds.load(Ordering::Relaxed))
    );
    assert_eq!(slave.get("pre:1999").as_deref(), Some("1999"));
}

/// A full sync requested while clients keep creating keys must complete while the load
/// runs, at the first attempt.
#[test]
fn full_sync_completes_under_a_key_creating_load() {
    let master = Node::start(&[]);
    populate(&master, "pre", 2000);
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicU64::new(0));
    let _guard = StopOnDrop(Arc::clone(&stop));
    let writer = spawn_writer(&master, Arc::clone(&stop), Arc::clone(&rounds), true);
    wait_for_rounds("the load to start", &rounds, 100);
    let slave = Node::slave_of(&master, &[]);
    wait_until("the full sync to complete under load", || {
        if slave.link_up() {
            Ok(())
        } else {
            Err(format!(
                "master sync_full {}, slave {:?}",
                master.info_u64("stats", "sync_full"),
                slave.info_field("replication", "master_link_last_error")
            ))
        }
    });
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer thread");
    wait_in_sync(&master, &slave);
    assert_eq!(
        master.info_u64("stats", "sync_full"),
        1,
        "full sync attempts"
    );
    assert_eq!(slave.q::<i64>(&["DBSIZE"]), master.q::<i64>(&["DBSIZE"]));
}

#[test]
fn slave_killed_under_load_resumes_incrementally() {
    let master = Node::start(&[]);
    populate(&master, "base", 500);
    let mut slave = Node::slave_of(&master, &[]);
    wait_in_sync(&master, &slave);
    assert_eq!(master.info_u64("stats", "sync_full"), 1);
    let partial_before = master.info_u64("stats", "sync_partial_ok");

    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicU64::new(0));
    let _guard = StopOnDrop(Arc::clone(&stop));
    let writer = spawn_writer(&master, Arc::clone(&stop), Arc::clone(&rounds), false);
    // The slave is following the load when it dies.
    let start_offset = slave.info_u64("replication", "master_repl_offset");
    wait_until("the slave to apply some of the load", || {
        let now = slave.info_u64("replication", "master_repl_offset");
        if now > start_offset + 200 {
            Ok(())
        } else {
            Err(format!("slave at {now}"))
        }
    });
    slave.server.kill9();
    let at_kill = master.info_u64("replication", "master_repl_offset");
    wait_until("the master to write on without the slave", || {
        let now = master.info_u64("replication", "master_repl_offset");
        if now > at_kill + 500 {
            Ok(())
        } else {
            Err(format!("master at {now}"))
        }
    });
    slave.server.restart();
    wait_until("the slave to resume", || {
        let partial = master.info_u64("stats", "sync_partial_ok");
        if partial > partial_before && slave.link_up() {
            Ok(())
        } else {
            Err(format!("sync_partial_ok {partial}"))
        }
    });
    // Still under load for a little while after the resume.
    let resumed_at = rounds.load(Ordering::Relaxed);
    wait_for_rounds("more load after the resume", &rounds, resumed_at + 100);
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer thread");
    wait_in_sync(&master, &slave);
    assert_eq!(
        master.info_u64("stats", "sync_full"),
        1,
        "no second full sync"
    );
    assert!(master.info_u64("stats", "sync_partial_ok") > partial_before);
    assert_eq!(
        slave.get("w:counter").map(|v| v.parse::<u64>().unwrap()),
        Some(rounds.load(Ordering::Relaxed))
    );
    wait_until("the slave to log its resume", || {
        let log = slave.server.log_text();
        let needle = format!("following 127.0.0.1:{} from sequence", master.port());
        let count = log.matches(&needle).count();
        // Once after the full sync's storage restart, once after the kill.
        if count >= 2 {
            Ok(())
        } else {
            Err(format!("{count} resume lines"))
        }
    });
}

#[test]
fn slave_follows_a_restarted_master() {
    let mut master = Node::start(&[]);
    let slave = Node::slave_of(&master, &[]);
    populate(&master, "a", 300);
    wait_in_sync(&master, &slave);

    // A clean SHUTDOWN, then the same port and data directory.
    // The reply is the connection closing; SHUTDOWN is not retried.
    let _ = cmd::<Value>(&mut master.conn(), &["SHUTDOWN"]);
    assert!(
        master.server.wait_exit(DEADLINE),
        "master did not exit after SHUTDOWN"
    );
    wait_until("the slave to see its master gone", || {
        let repl = slave.info("replication");
        if repl.get("master_link_status").map(String::as_str) == Some("down")
            && repl.contains_key("master_link_down_since_seconds")
        {
            Ok(())
        } else {
            Err(format!("{repl:?}"))
        }
    });
    let Value::Array(role) = slave.q::<Value>(&["ROLE"]) else {
        panic!("ROLE is not an array");
    };
    let state: String = redis::from_redis_value(role[3].clone()).unwrap();
    assert!(
        state == "connect" || state == "connecting",
        "ROLE state with the master down: {state}"
    );
    // Reads keep working on the slave meanwhile.
    assert_eq!(slave.get("a:1").as_deref(), Some("1"));
    master.server.restart();
    wait_until("the slave to reconnect to the restarted master", || {
        let repl = master.info("replication");
        let partial = master.info_u64("stats", "sync_partial_ok");
        if repl.get("connected_slaves").map(String::as_str) == Some("1") && partial >= 1 {
            Ok(())
        } else {
            Err(format!("partial {partial}, {repl:?}"))
        }
    });
    assert_eq!(master.info_u64("stats", "sync_full"), 0);
    populate(&master, "b", 300);
    let _: i64 = master.q(&["DEL", "a:0"]);
    wait_in_sync(&master, &slave);
    assert_eq!(slave.get("a:299").as_deref(), Some("299"));
    assert_eq!(slave.get("b:299").as_deref(), Some("299"));
    assert_eq!(slave.get("a:0"), None);

    // kill -9, then the same again.
    master.server.kill9();
    master.server.restart();
    wait_until("the slave to reconnect to the killed master", || {
        let repl = master.info("replication");
        let partial = master.info_u64("stats", "sync_partial_ok");
        if repl.get("connected_slaves").map(String::as_str) == Some("1") && partial >= 1 {
            Ok(())
        } else {
            Err(format!("partial {partial}, {repl:?}"))
        }
    });
    assert_eq!(master.info_u64("stats", "sync_full"), 0);
    populate(&master, "c", 300);
    let _: () = master.q(&["SET", "after-kill", "yes"]);
    wait_in_sync(&master, &slave);
    assert_eq!(slave.get("after-kill").as_deref(), Some("yes"));
    assert_eq!(slave.q::<i64>(&["DBSIZE"]), 900);
    assert_eq!(master.info_u64("stats", "sync_full"), 0);
}

#[test]
fn purged_binlog_forces_a_full_sync() {
    let master = Node::start(&[]);
    populate(&master, "first", 200);
    let mut slave = Node::slave_of(&master, &[]);
    wait_in_sync(&master, &slave);
    let full_before = master.info_u64("stats", "sync_full");
    let partial_err_before = master.info_u64("stats", "sync_partial_err");

    slave.server.terminate();
    wait_until("the master to drop the stopped slave", || {
        match master.info_u64("replication", "connected_slaves") {
            0 => Ok(()),
            n => Err(format!("{n} slaves")),
        }
    });
    populate(&master, "while-down", 200);
    let _: () = master.q(&["SAVE"]);
    populate(&master, "after-save", 200);
    let current = master
        .info_field("replication", "binlog_current_file")
        .expect("binlog_current_file");
    assert!(current.ends_with(".log"), "binlog_current_file: {current}");
    let files_before = master.info_u64("replication", "binlog_files");
    let reply: Value = master
        .try_q(&["PURGELOGSTO", &current])
        .unwrap_or_else(|e| panic!("PURGELOGSTO {current}: {e}"));
    assert_eq!(reply, Value::Okay);
    let files_after = master.info_u64("replication", "binlog_files");
    assert!(
        files_after < files_before,
        "PURGELOGSTO {current} left {files_after} of {files_before} binlog files"
    );

    slave.server.restart();
    wait_until("the slave to fall back to a full sync", || {
        let full = master.info_u64("stats", "sync_full");
        let err = master.info_u64("stats", "sync_partial_err");
        if full > full_before && err > partial_err_before {
            Ok(())
        } else {
            Err(format!("sync_full {full}, sync_partial_err {err}"))
        }
    });
    wait_in_sync(&master, &slave);
    assert_eq!(slave.q::<i64>(&["DBSIZE"]), 600);
    assert_eq!(slave.get("while-down:199").as_deref(), Some("199"));
    assert_eq!(slave.get("after-save:0").as_deref(), Some("0"));
}

#[test]
fn promoted_slave_serves_a_new_slave() {
    let master = Node::start(&[]);
    let a = Node::slave_of(&master, &[]);
    let b = Node::start(&[]);
    // B's own data is replaced by A's.
    let _: () = b.q(&["SET", "b:own", "gone"]);
    let _: () = b.q(&["SET", "m:5", "b's value"]);
    populate(&master, "m", 300);
    wait_in_sync(&master, &a);

    assert_eq!(a.q::<String>(&["SLAVEOF", "NO", "ONE"]), "OK");
    assert_eq!(
        a.info_field("replication", "role").as_deref(),
        Some("master")
    );
    wait_until("the old master to drop its slave", || {
        match master.info_u64("replication", "connected_slaves") {
            0 => Ok(()),
            n => Err(format!("{n} slaves")),
        }
    });
    // Writes on the old master no longer reach the promoted node.
    let _: () = master.q(&["SET", "m:late", "x"]);
    // The promoted node accepts writes of every kind.
    let _: () = a.q(&["SET", "a:after", "promoted"]);
    let _: i64 = a.q(&["DEL", "m:0"]);
    let _: i64 = a.q(&["RPUSH", "a:list", "1", "2"]);
    let _: i64 = a.q(&["HSET", "a:hash", "f", "v"]);

    let a_port = a.port().to_string();
    assert_eq!(b.q::<String>(&["SLAVEOF", "127.0.0.1", &a_port]), "OK");
    wait_in_sync(&a, &b);
    assert_eq!(b.get("m:299").as_deref(), Some("299"));
    assert_eq!(b.get("a:after").as_deref(), Some("promoted"));
    assert_eq!(b.get("m:0"), None);
    assert_eq!(b.get("b:own"), None);
    assert_eq!(b.get("m:5").as_deref(), Some("5"));
    let list: Vec<String> = b.q(&["LRANGE", "a:list", "0", "-1"]);
    assert_eq!(list, strings(&["1", "2"]));

    // B follows A's later writes too.
    let _: () = a.q(&["SET", "a:later", "yes"]);
    let _: i64 = a.q(&["DEL", "a:after"]);
    wait_in_sync(&a, &b);
    assert_eq!(b.get("a:later").as_deref(), Some("yes"));
    assert_eq!(b.get("a:after"), None);
    assert_eq!(a.get("m:late"), None, "the old master's write reached A");
    assert_eq!(b.get("m:late"), None);
    assert_eq!(a.info_u64("replication", "connected_slaves"), 1);
}

#[test]
fn slave_switched_to_another_master_takes_its_data() {
    let m1 = Node::start(&[]);
    let m2 = Node::start(&[]);
    populate(&m1, "one", 100);
    populate(&m2, "two", 150);
    let slave = Node::slave_of(&m1, &[]);
    wait_in_sync(&m1, &slave);
    let m1_port = m1.port().to_string();
    assert_eq!(
        slave.q::<String>(&["SLAVEOF", "127.0.0.1", &m1_port]),
        "OK Already connected to specified master"
    );

    let m2_port = m2.port().to_string();
    assert_eq!(
        slave.q::<String>(&["REPLICAOF", "127.0.0.1", &m2_port]),
        "OK"
    );
    wait_in_sync(&m2, &slave);
    assert_eq!(slave.q::<i64>(&["DBSIZE"]), 150);
    assert_eq!(slave.get("one:1"), None);
    assert_eq!(slave.get("two:149").as_deref(), Some("149"));
    assert_eq!(m2.info_u64("stats", "sync_full"), 1);
    wait_until("the first master to drop the slave", || {
        match m1.info_u64("replication", "connected_slaves") {
            0 => Ok(()),
            n => Err(format!("{n} slaves")),
        }
    });
    // Only the new master's writes arrive.
    let _: () = m1.q(&["SET", "from-one", "x"]);
    let _: () = m2.q(&["SET", "from-two", "y"]);
    wait_in_sync(&m2, &slave);
    assert_eq!(slave.get("from-two").as_deref(), Some("y"));
    assert_eq!(slave.get("from-one"), None);
    assert_eq!(
        slave.q::<Vec<String>>(&["CONFIG", "GET", "slaveof"]),
        vec!["slaveof".to_string(), format!("127.0.0.1:{m2_port}")]
    );
}

#[test]
fn wrong_masterauth_is_refused_and_the_right_one_works() {
    let master = Node::start(&["--requirepass", "s3cret"]);
    populate(&master, "k", 100);
    let slave = Node::slave_of(&master, &["--masterauth", "wrong"]);
    wait_until("the slave to report the refusal", || {
        let repl = slave.info("replication");
        match repl.get("master_link_last_error") {
            Some(e) if e.contains("master refused masterauth") => Ok(()),
            _ => Err(format!("{repl:?}")),
        }
    });
    let repl = slave.info("replication");
    assert_eq!(
        repl.get("master_link_status").map(String::as_str),
        Some("down")
    );
    assert_eq!(repl.get("role").map(String::as_str), Some("slave"));
    assert_eq!(slave.q::<i64>(&["DBSIZE"]), 0);
    assert_eq!(master.info_u64("replication", "connected_slaves"), 0);
    assert_eq!(master.info_u64("stats", "sync_full"), 0);

    let _: () = slave.q(&["CONFIG", "SET", "masterauth", "s3cret"]);
    wait_in_sync(&master, &slave);
    assert_eq!(slave.q::<i64>(&["DBSIZE"]), 100);
    assert_eq!(slave.get("k:42").as_deref(), Some("42"));
    assert!(
        !slave
            .info("replication")
            .contains_key("master_link_last_error"),
        "a working link still reports its old error"
    );
}

#[test]
fn concurrent_multi_key_writes_converge() {
    let master = Node::start(&[]);
    let slave = Node::slave_of(&master, &[]);
    wait_link_up(&slave);
    let stop_at = Instant::now() + Duration::from_secs(2);
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let client = redis::Client::open(master.url()).expect("client");
            thread::spawn(move || {
                let mut c = client.get_connection().expect("connect");
                let mut rng = Rng(t * 7919 + 1);
                let mut ops = 0u64;
                while Instant::now() < stop_at {
                    let (a, b) = (rng.next(10), rng.next(10));
                    let args: Vec<String> = match rng.next(12) {
                        0 => vec![
                            "MSET".into(),
                            format!("k{a}"),
                            format!("{t}:{ops}"),
                            format!("k{b}"),
                            format!("{ops}"),
                        ],
                        1 => vec!["SADD".into(), format!("s{a}"), format!("m{}", rng.next(20))],
                        2 => vec![
                            "SMOVE".into(),
                            format!("s{a}"),
                            format!("s{b}"),
                            format!("m{}", rng.next(20)),
                        ],
                        3 => vec!["RPUSH".into(), format!("l{a}"), format!("{t}:{ops}")],
                        4 => vec!["RPOPLPUSH".into(), format!("l{a}"), format!("l{b}")],
                        5 => vec![
                            "ZADD".into(),
                            format!("z{a}"),
                            format!("{}", rng.next(1000)),
                            format!("m{}", rng.next(30)),
                        ],
                        6 => vec![
                            "ZUNIONSTORE".into(),
                            format!("z{}", rng.next(10)),
                            "2".into(),
                            format!("z{a}"),
                            format!("z{b}"),
                        ],
                        7 => vec!["RENAME".into(), format!("k{a}"), format!("k{b}")],
                        8 => vec![
                            "HSET".into(),
                            format!("h{a}"),
                            format!("f{}", rng.next(20)),
                            format!("{ops}"),
                        ],
                        9 => vec!["INCR".into(), format!("n{a}")],
                        10 => vec![
                            "LMOVE".into(),
                            format!("l{a}"),
                            format!("l{b}"),
                            "LEFT".into(),
                            "RIGHT".into(),
                        ],
                        _ if rng.next(150) == 0 => vec!["FLUSHDB".into()],
                        _ => vec!["DEL".into(), format!("k{a}"), format!("s{b}")],
                    };
                    let mut cmd = redis::cmd(&args[0]);
                    for x in &args[1..] {
                        cmd.arg(x);
                    }
                    match cmd.query::<Value>(&mut c) {
                        Ok(_) => {}
                        // RENAME of a missing key.
                        Err(e) if error_text(&e) == "ERR no such key" => {}
                        Err(e) => panic!("{args:?}: {}", error_text(&e)),
                    }
                    ops += 1;
                }
                ops
            })
        })
        .collect();
    let total: u64 = threads
        .into_iter()
        .map(|t| t.join().expect("load thread"))
        .sum();
    assert!(total > 0);
    wait_in_sync(&master, &slave);
    assert_eq!(slave.q::<i64>(&["DBSIZE"]), master.q::<i64>(&["DBSIZE"]));
    for key in ["l0", "l5", "z3", "s7"] {
        let want = master.q::<Value>(&["DEBUG", "DIGEST-VALUE", key]);
        assert_eq!(
            slave.q::<Value>(&["DEBUG", "DIGEST-VALUE", key]),
            want,
            "{key}"
        );
    }
}

#[test]
fn chained_slaves_receive_the_masters_writes() {
    let master = Node::start(&[]);
    let slave1 = Node::slave_of(&master, &[]);
    populate(&master, "x", 500);
    wait_in_sync(&master, &slave1);
    let slave2 = Node::slave_of(&slave1, &[]);
    wait_in_sync(&slave1, &slave2);
    assert_eq!(slave2.get("x:499").as_deref(), Some("499"));
    assert_eq!(slave1.info_u64("replication", "connected_slaves"), 1);

    let _: () = master.q(&["SET", "chained", "yes"]);
    let _: i64 = master.q(&["SADD", "chained-set", "a", "b"]);
    let _: i64 = master.q(&["DEL", "x:0"]);
    wait_in_sync(&master, &slave1);
    wait_in_sync(&slave1, &slave2);
    assert_eq!(slave2.get("chained").as_deref(), Some("yes"));
    assert_eq!(slave2.get("x:0"), None);
    assert_eq!(slave2.q::<i64>(&["SCARD", "chained-set"]), 2);
    assert_eq!(master.digest(), slave2.digest());
    assert_eq!(
        slave2.err(&["SET", "k", "v"]),
        "READONLY You can't write against a read only replica."
    );
    // The last slave still follows its own master, not the chain's head.
    assert_eq!(
        slave2.info_field("replication", "master_port"),
        Some(slave1.port().to_string())
    );
}

#[test]
fn wait_role_and_info_shapes() {
    let master = Node::start(&[]);
    let slave = Node::slave_of(&master, &[]);
    let _: () = master.q(&["SET", "k", "v"]);
    wait_in_sync(&master, &slave);

    // WAIT on the master: the write of the same connection reached the one slave.
    let mut m = master.conn();
    let _: () = redis::cmd("SET").arg("k2").arg("v2").query(&mut m).unwrap();
    let n: i64 = redis::cmd("WAIT").arg(1).arg(10_000).query(&mut m).unwrap();
    assert_eq!(n, 1);
    // Asking for more slaves than exist returns the count reached at the timeout.
    let n: i64 = redis::cmd("WAIT").arg(2).arg(100).query(&mut m).unwrap();
    assert_eq!(n, 1);
    assert_eq!(master.err(&["WAIT", "1", "-1"]), "ERR timeout is negative");
    assert!(master.err(&["WAIT", "x", "0"]).starts_with("ERR"));
    let e = slave.err(&["WAIT", "1", "0"]);
    assert!(
        e.starts_with("ERR WAIT cannot be used with replica instances"),
        "{e}"
    );
    wait_in_sync(&master, &slave);

    // ROLE on the master: ["master", offset, [[ip, port, offset]]], once the slave's
    // acknowledgement of everything arrived.
    let offset = master.info_u64("replication", "master_repl_offset");
    wait_until("the master to record the slave's acknowledgement", || {
        let line = master
            .info_field("replication", "slave0")
            .unwrap_or_default();
        if line.contains(&format!(",offset={offset},")) {
            Ok(())
        } else {
            Err(line)
        }
    });
    let Value::Array(role) = master.q::<Value>(&["ROLE"]) else {
        panic!("ROLE is not an array");
    };
    assert_eq!(role.len(), 3, "{role:?}");
    assert_eq!(
        redis::from_redis_value::<String>(role[0].clone()).unwrap(),
        "master"
    );
    assert_eq!(role[1], Value::Int(offset as i64));
    let Value::Array(slaves) = &role[2] else {
        panic!("ROLE slaves: {role:?}");
    };
    assert_eq!(slaves.len(), 1);
    let entry: Vec<String> = redis::from_redis_value(slaves[0].clone()).unwrap();
    assert_eq!(entry[0], "127.0.0.1");
    assert_eq!(entry[1], slave.port().to_string());
    assert_eq!(entry[2], offset.to_string());

    // ROLE on the slave: ["slave", host, port, state, offset].
    let Value::Array(role) = slave.q::<Value>(&["ROLE"]) else {
        panic!("ROLE is not an array");
    };
    assert_eq!(role.len(), 5, "{role:?}");
    assert_eq!(
        redis::from_redis_value::<String>(role[0].clone()).unwrap(),
        "slave"
    );
    assert_eq!(
        redis::from_redis_value::<String>(role[1].clone()).unwrap(),
        "127.0.0.1"
    );
    assert_eq!(role[2], Value::Int(i64::from(master.port())));
    assert_eq!(
        redis::from_redis_value::<String>(role[3].clone()).unwrap(),
        "connected"
    );
    assert_eq!(role[4], Value::Int(offset as i64));

    // INFO replication on both sides.
    let mi = master.info("replication");
    assert_eq!(mi["role"], "master");
    assert_eq!(mi["connected_slaves"], "1");
    let line = &mi["slave0"];
    let fields: HashMap<&str, &str> = line.split(',').filter_map(|f| f.split_once('=')).collect();
    assert_eq!(fields.get("ip"), Some(&"127.0.0.1"), "{line}");
    assert_eq!(fields.get("port"), Some(&slave.port().to_string().as_str()));
    assert_eq!(fields.get("state"), Some(&"online"));
    assert_eq!(fields.get("offset"), Some(&offset.to_string().as_str()));
    assert!(fields.get("lag").is_some_and(|l| l.parse::<u64>().is_ok()));
    assert_eq!(mi["master_repl_offset"], offset.to_string());
    assert_eq!(mi["master_replid"].len(), 40);
    assert!(mi["master_replid"].chars().all(|c| c.is_ascii_hexdigit()));
    assert!(mi["binlog_files"].parse::<u64>().unwrap() >= 1);
    let current = &mi["binlog_current_file"];
    assert!(
        current.ends_with(".log") && current[..current.len() - 4].parse::<u64>().is_ok(),
        "binlog_current_file: {current}"
    );
    assert_eq!(mi["binlog_offset"], offset.to_string());

    let si = slave.info("replication");
    assert_eq!(si["role"], "slave");
    assert_eq!(si["master_host"], "127.0.0.1");
    assert_eq!(si["master_port"], master.port().to_string());
    assert_eq!(si["master_link_status"], "up");
    assert!(si["master_last_io_seconds_ago"].parse::<i64>().unwrap() >= 0);
    assert_eq!(si["master_sync_in_progress"], "0");
    assert_eq!(si["slave_repl_offset"], offset.to_string());
    assert_eq!(si["master_repl_offset"], offset.to_string());
    assert_eq!(si["slave_read_only"], "1");
    assert!(!si.contains_key("master_link_last_error"));
}

#[test]
fn blocked_client_on_writable_slave_is_woken_by_the_master() {
    let master = Node::start(&[]);
    let slave = Node::slave_of(&master, &["--slave-read-only", "no"]);
    let _: () = master.q(&["SET", "ready", "1"]);
    wait_in_sync(&master, &slave);

    let mut blocked = slave.conn();
    let waiter = thread::spawn(move || {
        redis::cmd("BLPOP")
            .arg("queue")
            .arg(DEADLINE.as_secs())
            .query::<Option<(String, String)>>(&mut blocked)
    });
    wait_until("the BLPOP to block on the slave", || {
        match slave.info_u64("clients", "blocked_clients") {
            1 => Ok(()),
            n => Err(format!("{n} blocked")),
        }
    });
    let _: i64 = master.q(&["RPUSH", "queue", "hello"]);
    let got = waiter.join().expect("waiter").expect("BLPOP");
    assert_eq!(got, Some(("queue".to_string(), "hello".to_string())));
    // The pop was the slave's own write; the master keeps its element.
    assert_eq!(
        master.q::<Vec<String>>(&["LRANGE", "queue", "0", "-1"]),
        strings(&["hello"])
    );
    // A writable slave takes local writes.
    let _: () = slave.q(&["SET", "local", "x"]);
    assert_eq!(slave.get("local").as_deref(), Some("x"));
}

#[test]
fn expired_keys_vanish_on_the_slave() {
    let master = Node::start(&[]);
    let slave = Node::slave_of(&master, &[]);
    wait_link_up(&slave);
    // The master deletes due keys only when told to below (nothing reads them there).
    let _: () = master.q(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    let _: () = master.q(&["SET", "keep", "v"]);
    let _: () = master.q(&["SET", "long", "v", "EX", "1000"]);
    let _: () = master.q(&["SET", "short", "v", "PX", "1500"]);
    let _: i64 = master.q(&["HSET", "short-hash", "f", "v"]);
    let _: i64 = master.q(&["PEXPIRE", "short-hash", "1500"]);
    wait_until("the slave to apply the writes", || {
        let want = master.info_u64("replication", "master_repl_offset");
        let have = slave.info_u64("replication", "master_repl_offset");
        if have >= want {
            Ok(())
        } else {
            Err(format!("{have} < {want}"))
        }
    });
    let ttl: i64 = slave.q(&["TTL", "long"]);
    assert!(ttl > 0 && ttl <= 1000, "TTL of long on the slave: {ttl}");

    wait_until(
        "the short-lived keys to read as missing on the slave",
        || {
            let s = slave.get("short");
            let h: i64 = slave.q(&["EXISTS", "short-hash"]);
            if s.is_none() && h == 0 {
                Ok(())
            } else {
                Err(format!("short {s:?}, short-hash exists {h}"))
            }
        },
    );
    assert_eq!(slave.q::<i64>(&["TTL", "short"]), -2);
    assert_eq!(
        slave.q::<Option<String>>(&["HGET", "short-hash", "f"]),
        None
    );
    // The slave does not delete them itself: they are still counted until the master's
    // deletion arrives.
    assert_eq!(
        slave
            .info_field("keyspace", "db0")
            .as_deref()
            .map(|k| k.starts_with("keys=4,")),
        Some(true),
        "{:?}",
        slave.info_field("keyspace", "db0")
    );
    let _: () = master.q(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    wait_until("the master's expiry to reach the slave", || {
        let keys = slave.info_field("keyspace", "db0");
        match keys.as_deref() {
            Some(k) if k.starts_with("keys=2,") => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    wait_in_sync(&master, &slave);
    assert_eq!(slave.get("keep").as_deref(), Some("v"));
    assert_eq!(slave.get("long").as_deref(), Some("v"));
}

/// A WAIT that cannot be satisfied yet parks its client: other clients are served meanwhile
/// (even with a single worker), and the WAIT is answered when a slave catches up.
#[test]
fn wait_parks_without_holding_up_other_clients() {
    let master = Node::start(&["--thread-pool-size", "1"]);
    let mut waiting = master.conn();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut waiting)
        .unwrap();
    let handle = std::thread::spawn(move || -> i64 {
        redis::cmd("WAIT")
            .arg(1)
            .arg(0)
            .query(&mut waiting)
            .unwrap()
    });
    // Served at once although the WAIT above blocks forever for now.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let _: () = master.q(&["SET", "other", "1"]);
    assert_eq!(master.get("other").as_deref(), Some("1"));
    assert!(
        !handle.is_finished(),
        "WAIT answered before any slave existed"
    );
    // A timed WAIT for more slaves than exist answers with what was reached when time ran out.
    let n: i64 = master.q(&["WAIT", "1", "50"]);
    assert_eq!(n, 0);
    let slave = Node::slave_of(&master, &[]);
    assert_eq!(handle.join().unwrap(), 1);
    wait_in_sync(&master, &slave);
}

/// A TCP relay between a slave and its master that can hold back what the master sends,
/// delaying replication without breaking the link (for less than the slave's read timeout).
struct Relay {
    port: u16,
    held: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Relay {
    /// Relays connections to `127.0.0.1:to`.
    fn start(to: u16) -> Relay {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("relay listener");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("relay address").port();
        let held = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (held2, stop2) = (Arc::clone(&held), Arc::clone(&stop));
        thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                let Ok((down, _)) = listener.accept() else {
                    thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = down.set_nonblocking(false);
                let Ok(up) = std::net::TcpStream::connect(("127.0.0.1", to)) else {
                    continue;
                };
                let (down2, up2) = (
                    down.try_clone().expect("clone"),
                    up.try_clone().expect("clone"),
                );
                thread::spawn(move || pump(down, up, None));
                let held = Arc::clone(&held2);
                thread::spawn(move || pump(up2, down2, Some(held)));
            }
        });
        Relay { port, held, stop }
    }

    /// Holds back what the master sends from now on, until `release`.
    fn hold(&self) {
        self.held.store(true, Ordering::Relaxed);
    }

    fn release(&self) {
        self.held.store(false, Ordering::Relaxed);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.release();
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Copies `from` to `to` until either side closes, waiting while `held` is set.
fn pump(mut from: std::net::TcpStream, mut to: std::net::TcpStream, held: Option<Arc<AtomicBool>>) {
    use std::io::{Read, Write};
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        while held.as_ref().is_some_and(|h| h.load(Ordering::Relaxed)) {
            thread::sleep(Duration::from_millis(5));
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
    let _ = from.shutdown(std::net::Shutdown::Both);
}

/// Waits until `slave` applied everything `master` has written so far.
fn wait_applied(master: &Node, slave: &Node) {
    let want = master.info_u64("replication", "binlog_offset");
    wait_until("the slave to apply the writes", || {
        let have = slave.info_u64("replication", "master_repl_offset");
        if have >= want {
            Ok(())
        } else {
            Err(format!("{have} < {want}"))
        }
    });
}

/// A compaction (COMPACT) on `node`, waited for.
fn compact(node: &Node) {
    let done = node.info_u64("rocksdb", "compactions_done");
    let _: () = node.q(&["COMPACT"]);
    wait_until("the compaction to finish", || {
        let now = node.info_u64("rocksdb", "compactions_done");
        if now > done {
            Ok(())
        } else {
            Err(format!("{now} compactions done"))
        }
    });
}

#[test]
fn slave_keeps_collection_elements_until_master_deletes() {
    let master = Node::start(DEBUG);
    let relay = Relay::start(master.port());
    let addr = format!("127.0.0.1:{}", relay.port);
    let slave = Node::start(&["--slaveof", addr.as_str(), "--enable-debug-command", "yes"]);
    wait_link_up(&slave);
    let _: i64 = master.q(&["HSET", "h", "f", "v"]);
    let _: i64 = master.q(&["RPUSH", "l", "a", "b"]);
    let _: i64 = master.q(&["PEXPIRE", "h", "3000"]);
    let _: i64 = master.q(&["PEXPIRE", "l", "3000"]);
    let set_at = Instant::now();
    wait_applied(&master, &slave);
    // The master gives the keys back their life before they expire there; the slave learns
    // it only after its own clock passed their deadline, and compacts meanwhile.
    relay.hold();
    assert_eq!(master.q::<i64>(&["PERSIST", "h"]), 1);
    assert_eq!(master.q::<i64>(&["PERSIST", "l"]), 1);
    thread::sleep(Duration::from_millis(3200).saturating_sub(set_at.elapsed()));
    assert_eq!(slave.q::<i64>(&["EXISTS", "h", "l"]), 0);
    compact(&slave);
    relay.release();
    wait_in_sync(&master, &slave);
    assert_eq!(
        slave.q::<Vec<String>>(&["HGETALL", "h"]),
        strings(&["f", "v"])
    );
    assert_eq!(
        slave.q::<Vec<String>>(&["LRANGE", "l", "0", "-1"]),
        strings(&["a", "b"])
    );
}

/// Lets DEBUG run (SLEEP, DIGEST), whatever the default.
const DEBUG: &[&str] = &["--enable-debug-command", "yes"];

#[test]
fn transaction_is_applied_atomically_on_slave() {
    let master = Node::start(DEBUG);
    let slave = Node::slave_of(&master, DEBUG);
    wait_link_up(&slave);
    const TXS: i64 = 20;
    let client = redis::Client::open(master.url()).expect("client");
    let writer = thread::spawn(move || {
        let mut c = client.get_connection().expect("connect");
        for _ in 0..TXS {
            // The pause spreads the transaction's batches apart in the binlog.
            let _: Vec<Value> = redis::pipe()
                .atomic()
                .cmd("INCR")
                .arg("a")
                .cmd("DEBUG")
                .arg("SLEEP")
                .arg("0.02")
                .cmd("INCR")
                .arg("b")
                .query(&mut c)
                .expect("transaction");
        }
    });
    // MGET reads `a` first: a slave that applied INCR a without INCR b shows a > b.
    let mut reader = slave.conn();
    let mut reads = 0;
    while !writer.is_finished() {
        let (a, b): (Option<i64>, Option<i64>) = redis::cmd("MGET")
            .arg("a")
            .arg("b")
            .query(&mut reader)
            .expect("MGET on the slave");
        let (a, b) = (a.unwrap_or(0), b.unwrap_or(0));
        assert!(
            a <= b,
            "the slave shows half a transaction: a = {a}, b = {b}"
        );
        reads += 1;
    }
    writer.join().expect("writer");
    assert!(reads > 10, "only {reads} reads");
    wait_in_sync(&master, &slave);
    assert_eq!(slave.get("a"), Some(TXS.to_string()));
    assert_eq!(slave.get("b"), Some(TXS.to_string()));
}

/// The master's stream waits while a script runs on the slave (a command sees master batches
/// whole), yet SCRIPT KILL still gets through, and the slave then catches up.
#[test]
fn a_busy_script_on_the_slave_can_be_killed_while_the_master_writes() {
    let master = Node::start(DEBUG);
    let slave = Node::slave_of(&master, DEBUG);
    wait_link_up(&slave);
    call::<()>(
        &mut slave.conn(),
        &["CONFIG", "SET", "busy-reply-threshold", "100"],
    );
    let url = slave.url();
    let runner = thread::spawn(move || {
        let mut c = redis::Client::open(url)
            .expect("client")
            .get_connection()
            .expect("connect");
        redis::cmd("EVAL_RO")
            .arg("while true do end")
            .arg(0)
            .query::<Value>(&mut c)
    });
    let mut watcher = slave.conn();
    wait_until("the script to be busy", || {
        match redis::cmd("PING").query::<String>(&mut watcher) {
            Err(e) if e.to_string().contains("BUSY") => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    for i in 0..50 {
        master.q::<()>(&["SET", &format!("k{i}"), &i.to_string()]);
    }
    call::<()>(&mut slave.conn(), &["SCRIPT", "KILL"]);
    let killed = runner
        .join()
        .expect("runner")
        .expect_err("the script was killed");
    assert!(killed.to_string().contains("killed"), "{killed}");
    wait_in_sync(&master, &slave);
    assert_eq!(slave.get("k49"), Some("49".to_string()));
}

/// Also: what other clients write between a transaction's batches (EXEC locks only its
/// keys) still reaches the slave, in order.
#[test]
fn slave_applies_a_transaction_only_once_it_is_complete() {
    // Several workers: clients are served while the transaction sleeps.
    let master = Node::start(&["--enable-debug-command", "yes", "--thread-pool-size", "4"]);
    let slave = Node::slave_of(&master, DEBUG);
    wait_link_up(&slave);
    // A worker takes every client that is ready at once as one round, so a probe sent with
    // EXEC would wait for it: the check counts only while the transaction still runs.
    let mut checked = false;
    for attempt in 0..3 {
        let (first, outside) = (format!("t1:{attempt}"), format!("outside:{attempt}"));
        let client = redis::Client::open(master.url()).expect("client");
        let key = first.clone();
        let tx = thread::spawn(move || {
            let mut c = client.get_connection().expect("connect");
            let _: () = cmd(&mut c, &["CLIENT", "SETNAME", "tx"]).expect("name");
            let _: Vec<Value> = redis::pipe()
                .atomic()
                .cmd("SET")
                .arg(&key)
                .arg("1")
                .cmd("DEBUG")
                .arg("SLEEP")
                .arg("2")
                .cmd("SET")
                .arg("t2")
                .arg("2")
                .query(&mut c)
                .expect("transaction");
        });
        // Readers of its keys wait for the whole transaction: CLIENT LIST shows it running.
        wait_until("the transaction to start on the master", || {
            let list: String = master.q(&["CLIENT", "LIST"]);
            match list
                .lines()
                .any(|l| l.contains(" name=tx ") && l.contains(" cmd=exec "))
            {
                true => Ok(()),
                false => Err(list),
            }
        });
        // Its first batch reaches the slave meanwhile.
        thread::sleep(Duration::from_millis(300));
        let seen = slave.get(&first);
        let running = !tx.is_finished();
        // Written while the transaction sleeps between its two batches.
        let _: () = master.q(&["SET", &outside, "x"]);
        tx.join().expect("transaction thread");
        if running {
            assert_eq!(
                seen, None,
                "the slave applied part of an unfinished transaction"
            );
            checked = true;
        }
        wait_in_sync(&master, &slave);
        for (key, want) in [(first.as_str(), "1"), ("t2", "2"), (outside.as_str(), "x")] {
            assert_eq!(slave.get(key).as_deref(), Some(want), "{key}");
        }
        if checked {
            break;
        }
    }
    assert!(
        checked,
        "the transaction never ran long enough to be checked"
    );
}

#[test]
fn slave_hides_logically_expired_keys() {
    let master = Node::start(DEBUG);
    let slave = Node::slave_of(&master, DEBUG);
    wait_link_up(&slave);
    // The master deletes nothing by itself until told to below (nothing reads the keys there).
    let _: () = master.q(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    let _: () = master.q(&["SET", "keep", "v"]);
    let _: () = master.q(&["SET", "s", "text"]);
    let _: i64 = master.q(&["HSET", "h", "f", "v"]);
    let _: i64 = master.q(&["RPUSH", "l", "b", "a"]);
    let _: i64 = master.q(&["SADD", "st", "m"]);
    let _: i64 = master.q(&["ZADD", "z", "1", "m"]);
    for key in ["s", "h", "l", "st", "z"] {
        let _: i64 = master.q(&["PEXPIRE", key, "1000"]);
    }
    wait_applied(&master, &slave);
    assert_eq!(slave.q::<i64>(&["EXISTS", "s", "h", "l", "st", "z"]), 5);
    thread::sleep(Duration::from_millis(1100));

    // Every read answers as if the keys did not exist...
    let nil = Value::Nil;
    let empty = Value::Array(vec![]);
    let zero = Value::Int(0);
    let checks: &[(&[&str], &Value)] = &[
        (&["EXISTS", "s", "h", "l", "st", "z"], &zero),
        (&["GET", "s"], &nil),
        (&["STRLEN", "s"], &zero),
        (&["DUMP", "s"], &nil),
        (&["OBJECT", "ENCODING", "s"], &nil),
        (&["MEMORY", "USAGE", "s"], &nil),
        (&["TTL", "s"], &Value::Int(-2)),
        (&["PTTL", "h"], &Value::Int(-2)),
        (&["EXPIRETIME", "l"], &Value::Int(-2)),
        (&["HGETALL", "h"], &empty),
        (&["HGET", "h", "f"], &nil),
        (&["HLEN", "h"], &zero),
        (&["LRANGE", "l", "0", "-1"], &empty),
        (&["LINDEX", "l", "0"], &nil),
        (&["LLEN", "l"], &zero),
        (&["SORT_RO", "l", "ALPHA"], &empty),
        (&["SMEMBERS", "st"], &empty),
        (&["SISMEMBER", "st", "m"], &zero),
        (&["SCARD", "st"], &zero),
        (&["SUNION", "st"], &empty),
        (&["ZRANGE", "z", "0", "-1"], &empty),
        (&["ZSCORE", "z", "m"], &nil),
        (&["ZCARD", "z"], &zero),
        (
            &["KEYS", "*"],
            &Value::Array(vec![Value::BulkString(b"keep".to_vec())]),
        ),
    ];
    for (args, want) in checks {
        assert_eq!(&&slave.q::<Value>(args), want, "{args:?} on the slave");
    }
    for key in ["s", "h", "l", "st", "z"] {
        assert_eq!(slave.q::<String>(&["TYPE", key]), "none", "TYPE {key}");
    }
    assert_eq!(
        slave.q::<Vec<Option<String>>>(&["MGET", "s", "keep"]),
        vec![None, Some("v".to_string())]
    );
    let (_, scanned): (String, Vec<String>) = slave.q(&["SCAN", "0", "COUNT", "100"]);
    assert_eq!(scanned, strings(&["keep"]));
    for _ in 0..20 {
        assert_eq!(slave.q::<String>(&["RANDOMKEY"]), "keep");
    }
    // ...without deleting them: they stay stored (and counted) until the master's deletion.
    assert_eq!(
        slave
            .info_field("keyspace", "db0")
            .as_deref()
            .map(|k| k.starts_with("keys=6,")),
        Some(true),
        "{:?}",
        slave.info_field("keyspace", "db0")
    );
    let _: () = master.q(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    wait_until("the master's expiry to reach the slave", || {
        match slave.q::<i64>(&["DBSIZE"]) {
            1 => Ok(()),
            n => Err(format!("{n} keys")),
        }
    });
    wait_in_sync(&master, &slave);
}
