//! Prometheus' Redis exporter (Debian's prometheus-redis-exporter) pointed at pika exports
//! every metric it exports for redis-server, except those of Redis' allocator,
//! defragmentation, append-only file, fork and I/O threads, which a RocksDB store does not
//! have; and it logs no error against pika. Skipped when the exporter or redis-server is not
//! installed. Also the INFO fields behind those metrics, which need neither.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{call, free_port, info_field, wait_for, RedisServer, TestServer};

const EXPORTER: &str = "prometheus-redis-exporter";

/// Metric families Redis has and a RocksDB store does not: its allocator (jemalloc),
/// active defragmentation, the append-only file, fork-based saving and I/O threads.
const EXCEPTED: &[&str] = &[
    "redis_allocator_",
    "redis_active_defrag_",
    "redis_defrag_",
    "redis_aof_",
    "redis_latest_fork_",
    "redis_module_fork_",
    "redis_rdb_last_cow_size",
    "redis_config_io_threads",
    "redis_io_threaded_",
];

/// A running exporter, killed when dropped; its log goes to a file.
struct Exporter {
    child: Child,
    port: u16,
    log: tempfile::NamedTempFile,
}

impl Exporter {
    fn start(redis_port: u16) -> Exporter {
        let port = free_port();
        let log = tempfile::NamedTempFile::new().expect("log file");
        let child = Command::new(EXPORTER)
            .arg(format!("--redis.addr=redis://127.0.0.1:{redis_port}"))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log.reopen().expect("log file"))
            .spawn()
            .expect("start the exporter");
        Exporter { child, port, log }
    }

    /// One scrape of /metrics (retried while the exporter starts).
    fn scrape(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
                    .unwrap();
                let mut body = String::new();
                if s.read_to_string(&mut body).is_ok() && body.contains("redis_up") {
                    return body;
                }
            }
            assert!(Instant::now() < deadline, "the exporter did not answer");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn exporter_installed() -> bool {
    Command::new(EXPORTER)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// The metric names of a scrape (comment lines and labels left out).
fn names(metrics: &str) -> BTreeSet<String> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

/// The value of the first sample of `name` (with `labels` among its labels).
fn value(metrics: &str, name: &str, labels: &str) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| {
            let (head, _) = l.rsplit_once(' ').unwrap_or((l, ""));
            (head == name || head.starts_with(&format!("{name}{{"))) && head.contains(labels)
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// The same small data set on both servers: strings with TTLs and hashes in db 0 and db 3,
/// and a few reads, hits and misses.
fn populate(c: &mut redis::Connection) {
    for db in ["0", "3"] {
        let _: () = call(c, &["SELECT", db]);
        for i in 0..20 {
            let key = format!("k{i}");
            let _: () = call(c, &["SET", &key, "v", "EX", &(600 + i).to_string()]);
            let _: i64 = call(c, &["HSET", &format!("h{i}"), "f", "v"]);
        }
        let _: Option<String> = call(c, &["GET", "k1"]);
        let _: Option<String> = call(c, &["GET", "missing"]);
    }
    let _: () = call(c, &["SELECT", "0"]);
}

#[test]
fn exporter_sees_every_redis_metric_but_the_excepted_families() {
    if !exporter_installed() {
        eprintln!("skipped: {EXPORTER} is not installed");
        return;
    }
    let Some(redis) = RedisServer::start() else {
        eprintln!("skipped: redis-server is not installed");
        return;
    };
    let pika = TestServer::start();
    populate(&mut redis.conn());
    let mut c = pika.conn();
    populate(&mut c);
    // avg_ttl comes from the keyspace scan: ask for one now (Pika's `INFO keyspace 1`).
    let _: String = call(&mut c, &["INFO", "keyspace", "1"]);
    wait_for("the keyspace scan", Duration::from_secs(20), || {
        let line = info_field(&mut c, "keyspace", "db3");
        let ttl: u64 = line
            .split("avg_ttl=")
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if ttl > 0 {
            Ok(())
        } else {
            Err(line)
        }
    });

    let on_redis = Exporter::start(redis.port);
    let on_pika = Exporter::start(pika.port);
    let redis_metrics = on_redis.scrape();
    let pika_metrics = on_pika.scrape();
    let redis_names = names(&redis_metrics);
    let pika_names = names(&pika_metrics);

    let missing: Vec<&String> = redis_names
        .difference(&pika_names)
        .filter(|n| !EXCEPTED.iter().any(|e| n.starts_with(e)))
        .collect();
    assert!(missing.is_empty(), "missing against pika: {missing:?}");
    let excepted = redis_names.difference(&pika_names).count();
    eprintln!(
        "{} metric names on redis-server, {} on pika; {excepted} missing, all excepted",
        redis_names.len(),
        pika_names.len()
    );

    // Real figures, not placeholders.
    assert_eq!(value(&pika_metrics, "redis_up", ""), Some(1.0));
    assert_eq!(
        value(&pika_metrics, "redis_db_keys", "db=\"db3\""),
        Some(40.0)
    );
    let ttl = value(&pika_metrics, "redis_db_avg_ttl_seconds", "db=\"db0\"").unwrap();
    assert!((500.0..=620.0).contains(&ttl), "avg ttl {ttl}");
    for name in [
        "redis_total_reads_processed",
        "redis_total_writes_processed",
        "redis_memory_used_startup_bytes",
        "redis_memory_used_dataset_bytes",
        "redis_net_output_bytes_total",
        "redis_replication_backlog_bytes",
    ] {
        let v = value(&pika_metrics, name, "").unwrap_or(0.0);
        assert!(v > 0.0, "{name} = {v}");
    }
    assert!(
        value(
            &pika_metrics,
            "redis_latency_percentiles_usec",
            "cmd=\"set\",quantile=\"99\""
        )
        .unwrap_or(0.0)
            > 0.0,
        "no latency percentiles for SET"
    );

    // Give the exporter's log a moment, then read what it said about pika.
    std::thread::sleep(Duration::from_millis(200));
    let log = on_pika.log_text();
    let complaints: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains("level=error")
                || l.contains("level=warn")
                || l.contains("unknown command")
                || l.contains("ERR ")
        })
        .collect();
    assert!(
        complaints.is_empty(),
        "the exporter complained: {complaints:?}"
    );
}

/// An INFO field as a number.
fn info_num(c: &mut redis::Connection, section: &str, field: &str) -> f64 {
    info_field(c, section, field)
        .trim_end_matches('%')
        .parse()
        .unwrap()
}

#[test]
fn keyspace_lines_hold_exactly_redis_fields() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = call(&mut c, &["SET", "a", "1", "EX", "100"]);
    let _: () = call(&mut c, &["SET", "b", "1"]);
    let line = info_field(&mut c, "keyspace", "db0");
    let names: Vec<&str> = line
        .split(',')
        .map(|kv| kv.split('=').next().unwrap())
        .collect();
    assert_eq!(names, ["keys", "expires", "avg_ttl"], "{line}");
    assert!(line.starts_with("keys=2,expires=1,avg_ttl="), "{line}");
}

#[test]
fn socket_reads_writes_and_output_bytes_are_counted() {
    let s = TestServer::start();
    let mut c = s.conn();
    let reads = info_num(&mut c, "stats", "total_reads_processed");
    let writes = info_num(&mut c, "stats", "total_writes_processed");
    let out = info_num(&mut c, "stats", "total_net_output_bytes");
    for i in 0..10 {
        let _: () = call(&mut c, &["SET", &format!("k{i}"), "v"]);
    }
    assert!(info_num(&mut c, "stats", "total_reads_processed") >= reads + 10.0);
    assert!(info_num(&mut c, "stats", "total_writes_processed") >= writes + 10.0);
    // Ten "+OK\r\n" and the INFO replies in between.
    assert!(info_num(&mut c, "stats", "total_net_output_bytes") >= out + 50.0);
}

#[test]
fn used_memory_splits_into_overhead_and_dataset() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: String = call(&mut c, &["SCRIPT", "LOAD", "return 1"]);
    let _: String = call(&mut c, &["SCRIPT", "LOAD", "return 2"]);
    let text: String = call(&mut c, &["INFO", "memory"]);
    let field = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no {name}"))
            .trim()
            .parse()
            .unwrap()
    };
    let used = field("used_memory");
    assert_eq!(
        field("used_memory_overhead") + field("used_memory_dataset"),
        used
    );
    assert!(field("used_memory_startup") > 0.0 && field("used_memory_startup") <= used);
    assert_eq!(field("number_of_cached_scripts"), 2.0);
    assert_eq!(field("used_memory_scripts"), 16.0);
    assert!(field("used_memory_lua") > 0.0);
    assert!(field("mem_clients_normal") > 0.0);
}

#[test]
fn save_durations_are_reported() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        info_num(&mut c, "persistence", "rdb_last_bgsave_time_sec"),
        -1.0
    );
    let _: () = call(&mut c, &["SET", "k", "v"]);
    let _: () = call(&mut c, &["SAVE"]);
    assert!(info_num(&mut c, "persistence", "rdb_last_bgsave_time_sec") >= 0.0);
    assert_eq!(
        info_num(&mut c, "persistence", "rdb_current_bgsave_time_sec"),
        -1.0
    );
}
