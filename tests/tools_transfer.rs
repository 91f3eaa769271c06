//! pika_tools export, import (RESP streams and Redis RDB files) and check, against real
//! servers: pika-rs processes, and redis-server where it is installed.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{call, RedisServer, TestServer};
use redis::Connection;

fn tools(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pika_tools"))
        .args(args)
        .output()
        .expect("run pika_tools")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn digest(c: &mut Connection) -> String {
    call(c, &["DEBUG", "DIGEST"])
}

fn addr(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

/// Every type, TTLs, a collection bigger than one generated command, odd bytes and scores,
/// and a second database.
fn fill(c: &mut Connection) {
    let commands: &[&[&str]] = &[
        &["SET", "s", "plain"],
        &["SET", "n", "12345"],
        &["SET", "bin", "a\r\nb\0c"],
        &["SET", "ttl", "v", "PX", "3600000"],
        &["RPUSH", "l", "x", "y", "x", "7"],
        &["HSET", "h", "f1", "v1", "f2", "", "3", "-4"],
        &["SADD", "si", "1", "2", "300", "-70000"],
        &["SADD", "ss", "a", "b", "c"],
        &[
            "ZADD", "z", "1.5", "a", "inf", "b", "-inf", "c", "0.1", "d", "1e20", "e",
        ],
        &["EXPIRE", "h", "5000"],
        &["SELECT", "3"],
        &["SET", "db3", "three"],
        &["SADD", "db3set", "m"],
        &["SELECT", "0"],
    ];
    for args in commands {
        let _: redis::Value = call(c, args);
    }
    for i in 0..300 {
        let v = format!("e{i}");
        let _: i64 = call(c, &["RPUSH", "biglist", &v]);
        let _: i64 = call(c, &["HSET", "bighash", &v, &i.to_string()]);
        let _: i64 = call(c, &["ZADD", "bigz", &(i as f64 / 3.0).to_string(), &v]);
    }
}

fn pttl(c: &mut Connection, key: &str) -> i64 {
    call(c, &["PTTL", key])
}

#[test]
fn export_from_a_running_server_imports_into_another_with_the_same_digest() {
    let source = TestServer::start();
    let mut c = source.conn();
    fill(&mut c);
    let want = digest(&mut c);
    let stream = source.dir().join("dump.resp");
    let out = tools(&[
        "export",
        &addr(source.port),
        "--output",
        stream.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("exported 14 keys"), "{}", text(&out));

    let target = TestServer::start();
    let out = tools(&[
        "import",
        stream.to_str().unwrap(),
        "--to",
        &addr(target.port),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(", 0 errors"), "{}", text(&out));
    let mut t = target.conn();
    assert_eq!(digest(&mut t), want);
    let left = pttl(&mut t, "ttl");
    assert!(left > 3_500_000 && left <= 3_600_000, "{left}");
}

#[test]
fn import_counts_and_shows_error_replies() {
    let target = TestServer::start();
    let file = target.dir().join("bad.resp");
    std::fs::write(
        &file,
        "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n*1\r\n$4\r\nNOPE\r\n",
    )
    .unwrap();
    let out = tools(&["import", file.to_str().unwrap(), "--to", &addr(target.port)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("3 commands sent, 2 errors"), "{t}");
    assert!(t.contains("not an integer"), "{t}");
    assert!(t.contains("unknown command"), "{t}");
    assert_eq!(common::get(&mut target.conn(), "k").as_deref(), Some("v"));
}

#[test]
fn import_refuses_a_truncated_stream_and_a_corrupt_rdb() {
    let target = TestServer::start();
    let cut = target.dir().join("cut.resp");
    std::fs::write(&cut, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nshort").unwrap();
    let out = tools(&["import", cut.to_str().unwrap(), "--to", &addr(target.port)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("ends inside a command"),
        "{}",
        text(&out)
    );

    let rdb = target.dir().join("bad.rdb");
    std::fs::write(&rdb, b"REDIS0010\xfe\x00\x00\x01k").unwrap();
    let out = tools(&["import", rdb.to_str().unwrap(), "--to", &addr(target.port)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("pika_tools import:"), "{}", text(&out));
}

#[test]
fn import_of_an_rdb_file_recreates_its_keys_with_the_digest_it_reports() {
    // Written by redis-server 7.0.15 (see src/rdb/fixtures/README.md), a stream included.
    let target = TestServer::start();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/rdb/fixtures/types.rdb");
    let out = tools(&[
        "import",
        fixture.to_str().unwrap(),
        "--to",
        &addr(target.port),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("0 of unsupported types skipped"), "{t}");
    assert!(t.contains(", 0 errors"), "{t}");
    let reported = reported_digest(&t);
    let mut c = target.conn();
    assert_eq!(digest(&mut c), reported);
    assert_eq!(
        common::get(&mut c, "str:int32").as_deref(),
        Some("1234567890")
    );
    let llen: i64 = call(&mut c, &["LLEN", "list:big"]);
    assert_eq!(llen, 2000);
    let xlen: i64 = call(&mut c, &["XLEN", "stream:s"]);
    assert_eq!(xlen, 2);
    assert!(pttl(&mut c, "hash:small") > 0);
    let _: () = call(&mut c, &["SELECT", "3"]);
    assert_eq!(
        common::get(&mut c, "db3:str").as_deref(),
        Some("in db three")
    );
}

/// The digest `pika_tools import` reports for an RDB file.
fn reported_digest(out: &str) -> String {
    out.split("their digest ")
        .nth(1)
        .and_then(|r| r.get(..40))
        .unwrap_or_else(|| panic!("{out}"))
        .to_string()
}

/// XINFO STREAM key FULL (all entries and pending entries) as text, with the consumers' seen
/// times (which no command can set) and the shape of the radix tree (how entries happen to be
/// packed) blanked.
fn xinfo_full(c: &mut Connection, key: &str) -> String {
    xinfo_full_blanking(
        c,
        key,
        &[b"seen-time", b"radix-tree-keys", b"radix-tree-nodes"],
    )
}

fn xinfo_full_blanking(c: &mut Connection, key: &str, blanked: &[&[u8]]) -> String {
    fn walk(v: &redis::Value, out: &mut Vec<String>, blanked: &[&[u8]]) {
        match v {
            redis::Value::Array(items) => {
                out.push("[".into());
                let mut blank_next = false;
                for item in items {
                    if blank_next {
                        out.push("<blank>".into());
                        blank_next = false;
                        continue;
                    }
                    blank_next = matches!(item, redis::Value::BulkString(b) if blanked.contains(&b.as_slice()));
                    walk(item, out, blanked);
                }
                out.push("]".into());
            }
            other => out.push(format!("{other:?}")),
        }
    }
    let v: redis::Value = call(c, &["XINFO", "STREAM", key, "FULL", "COUNT", "0"]);
    let mut out = Vec::new();
    walk(&v, &mut out, blanked);
    out.join(" ")
}

/// The streams of src/rdb/fixtures/streams.rdb (tombstones, groups, pending entries of
/// deleted and trimmed messages, empty streams).
const STREAM_KEYS: [&str; 4] = ["st", "big", "empty", "mk"];

/// A redis-server holding the keys of src/rdb/fixtures/streams.rdb, loaded by itself.
fn redis_with_streams() -> Option<RedisServer> {
    let redis = RedisServer::start()?;
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/rdb/fixtures/streams.rdb");
    std::fs::copy(fixture, redis.dir.path().join("dump.rdb")).unwrap();
    let _: () = call(&mut redis.conn(), &["DEBUG", "RELOAD", "NOSAVE"]);
    Some(redis)
}

#[test]
fn streams_of_an_rdb_file_imported_into_redis_have_the_same_xinfo_full() {
    let (Some(loaded), Some(target)) = (redis_with_streams(), RedisServer::start()) else {
        eprintln!("skipped: redis-server is not installed");
        return;
    };
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/rdb/fixtures/streams.rdb");
    let out = tools(&[
        "import",
        fixture.to_str().unwrap(),
        "--to",
        &addr(target.port),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("read 4 keys") && t.contains(", 0 errors"), "{t}");
    let (mut want, mut got) = (loaded.conn(), target.conn());
    assert_eq!(digest(&mut got), reported_digest(&t));
    assert_eq!(digest(&mut got), digest(&mut want));
    for key in STREAM_KEYS {
        assert_eq!(
            xinfo_full(&mut got, key),
            xinfo_full(&mut want, key),
            "{key}"
        );
    }
}

#[test]
fn streams_exported_from_redis_and_imported_back_have_the_same_xinfo_full() {
    let (Some(source), Some(target)) = (redis_with_streams(), RedisServer::start()) else {
        eprintln!("skipped: redis-server is not installed");
        return;
    };
    let resp = source.dir.path().join("dump.resp");
    let out = tools(&[
        "export",
        &addr(source.port),
        "--output",
        resp.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("exported 4 keys"), "{}", text(&out));
    let out = tools(&["import", resp.to_str().unwrap(), "--to", &addr(target.port)]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(", 0 errors"), "{}", text(&out));
    let (mut want, mut got) = (source.conn(), target.conn());
    assert_eq!(digest(&mut got), digest(&mut want));
    for key in STREAM_KEYS {
        assert_eq!(
            xinfo_full(&mut got, key),
            xinfo_full(&mut want, key),
            "{key}"
        );
    }
    // And the check tool sees no difference (seen times apart).
    let out = tools(&["check", &addr(source.port), &addr(target.port)]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("0 differ, 0 only in A, 0 only in B"),
        "{}",
        text(&out)
    );
}

#[test]
fn check_reports_each_difference_and_agrees_on_equal_data() {
    let a = TestServer::start();
    let b = TestServer::start();
    let (mut ca, mut cb) = (a.conn(), b.conn());
    fill(&mut ca);
    fill(&mut cb);
    // The same deadlines on both, however far apart the two fills ran.
    for c in [&mut ca, &mut cb] {
        let _: i64 = call(c, &["PEXPIREAT", "ttl", "4102444800000"]);
        let _: i64 = call(c, &["PEXPIREAT", "h", "4102444800000"]);
    }
    let out = tools(&["check", &addr(a.port), &addr(b.port)]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("checked 14 keys of A: 0 differ, 0 only in A, 0 only in B"),
        "{}",
        text(&out)
    );

    let _: () = call(&mut cb, &["SET", "s", "other"]);
    let _: i64 = call(&mut cb, &["DEL", "l"]);
    let _: () = call(&mut cb, &["SET", "extra", "1"]);
    let _: i64 = call(&mut cb, &["PERSIST", "h"]);
    let _: i64 = call(&mut cb, &["SREM", "si", "300"]);
    let out = tools(&["check", &addr(a.port), &addr(b.port)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    for line in [
        "db0 \"s\": differs: value",
        "db0 \"l\": only in A",
        "db0 \"extra\": only in B",
        "db0 \"h\": differs: ttl",
        "db0 \"si\": differs: value",
        "3 differ, 1 only in A, 1 only in B",
    ] {
        assert!(t.contains(line), "{line:?} missing in:\n{t}");
    }
}

#[test]
fn check_compares_a_backup_with_its_server() {
    let s = TestServer::start();
    let mut c = s.conn();
    fill(&mut c);
    let _: String = call(&mut c, &["SAVE"]);
    let info: String = call(&mut c, &["INFO", "persistence"]);
    let backup = info
        .lines()
        .find_map(|l| l.strip_prefix("backup_path:"))
        .unwrap()
        .trim()
        .to_string();
    let recorded = std::fs::read_to_string(Path::new(&backup).join("info")).unwrap();
    assert!(
        recorded.contains(&format!("digest: {}", digest(&mut c))),
        "{recorded}"
    );
    let out = tools(&["check", &backup, &addr(s.port)]);
    assert!(out.status.success(), "{}", text(&out));
    let _: () = call(&mut c, &["SET", "after", "x"]);
    let out = tools(&["check", &backup, &addr(s.port)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("db0 \"after\": only in B"),
        "{}",
        text(&out)
    );
}

fn redis_cli_available() -> bool {
    Command::new("redis-cli").arg("--version").output().is_ok()
}

#[test]
fn export_piped_into_redis_and_its_rdb_imported_back_keep_the_digest() {
    let (Some(redis), true) = (RedisServer::start(), redis_cli_available()) else {
        eprintln!("skipped: redis-server and redis-cli are not installed");
        return;
    };
    let source = TestServer::start();
    let mut c = source.conn();
    fill(&mut c);
    let want = digest(&mut c);

    // pika_tools export | redis-cli --pipe
    let mut export = Command::new(env!("CARGO_BIN_EXE_pika_tools"))
        .args(["export", &addr(source.port)])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = Command::new("redis-cli")
        .args(["-p", &redis.port.to_string(), "--pipe"])
        .stdin(export.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(export.wait().unwrap().success());
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("errors: 0"), "{}", text(&out));
    let mut r = redis.conn();
    assert_eq!(digest(&mut r), want);

    // redis-server's own RDB file back into a fresh pika-rs server.
    let _: String = call(&mut r, &["SAVE"]);
    let rdb = redis.dir.path().join("dump.rdb");
    let target = TestServer::start();
    let out = tools(&["import", rdb.to_str().unwrap(), "--to", &addr(target.port)]);
    assert!(out.status.success(), "{}", text(&out));
    let mut t = target.conn();
    assert_eq!(digest(&mut t), want);
    let keys = [
        "s", "n", "bin", "ttl", "l", "h", "si", "ss", "z", "biglist", "bighash", "bigz",
    ];
    let mut per_key = redis::cmd("DEBUG");
    per_key.arg("DIGEST-VALUE").arg(&keys[..]);
    let from_redis: Vec<String> = per_key.query(&mut r).unwrap();
    let from_pika: Vec<String> = per_key.query(&mut t).unwrap();
    assert_eq!(from_pika, from_redis);
    assert!(pttl(&mut t, "ttl") > 3_000_000);
}

#[test]
fn stream_dump_payloads_decoded_and_written_again_restore_on_redis_unchanged() {
    let (Some(source), Some(target)) = (redis_with_streams(), RedisServer::start()) else {
        eprintln!("skipped: redis-server is not installed");
        return;
    };
    let (mut from, mut to) = (source.conn(), target.conn());
    // Redis checks every listpack and pending entry of the payloads it is given.
    let _: () = call(&mut to, &["CONFIG", "SET", "sanitize-dump-payload", "yes"]);
    for key in STREAM_KEYS {
        let payload: Vec<u8> = call(&mut from, &["DUMP", key]);
        let value = pika::rdb::dump::decode(&payload).unwrap();
        let ours = pika::rdb::dump::encode(&value);
        let ok: String = redis::cmd("RESTORE")
            .arg(key)
            .arg(0)
            .arg(&ours)
            .query(&mut to)
            .unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(ok, "OK");
        // Everything but how the entries are packed survives, seen times included.
        let blanked: &[&[u8]] = &[b"radix-tree-keys", b"radix-tree-nodes"];
        assert_eq!(
            xinfo_full_blanking(&mut to, key, blanked),
            xinfo_full_blanking(&mut from, key, blanked),
            "{key}"
        );
        // And what redis DUMPs of it reads back the same.
        let again: Vec<u8> = call(&mut to, &["DUMP", key]);
        assert_eq!(pika::rdb::dump::decode(&again).unwrap(), value, "{key}");
    }
    assert_eq!(digest(&mut to), digest(&mut from));
}

/// A small deterministic generator (xorshift64*) for the random stream histories.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// Random histories of adds, deletions, trims, groups, reads, acks, claims and removed
/// consumers, copied by export and import: the copy must show the same XINFO STREAM FULL.
#[test]
fn random_stream_histories_survive_export_and_import() {
    let (Some(source), Some(target)) = (RedisServer::start(), RedisServer::start()) else {
        eprintln!("skipped: redis-server is not installed");
        return;
    };
    let mut c = source.conn();
    let keys = ["r0", "r1", "r2", "r3", "r4", "r5"];
    for (k, key) in keys.iter().enumerate() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (k as u64 + 1));
        let mut next_ms = 1u64;
        for _ in 0..150 {
            let g = format!("g{}", rng.below(3));
            let consumer = format!("c{}", rng.below(3));
            let some_id = format!("{}-{}", rng.below(next_ms + 1), rng.below(2));
            let args: Vec<String> = match rng.below(10) {
                0..=3 => {
                    next_ms += 1 + rng.below(2);
                    let f = format!("f{}", rng.below(2));
                    vec!["XADD", key, &format!("{next_ms}-{}", rng.below(2)), &f, "v"]
                        .into_iter()
                        .map(String::from)
                        .collect()
                }
                4 => vec!["XDEL".into(), key.to_string(), some_id],
                5 => vec!["XTRIM".into(), key.to_string(), "MINID".into(), some_id],
                6 => vec![
                    "XGROUP".into(),
                    "CREATE".into(),
                    key.to_string(),
                    g,
                    some_id,
                ],
                7 => [
                    "XREADGROUP",
                    "GROUP",
                    &g,
                    &consumer,
                    "COUNT",
                    "2",
                    "STREAMS",
                    key,
                    ">",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect(),
                8 => vec!["XACK".into(), key.to_string(), g, some_id],
                _ => match rng.below(3) {
                    0 => vec![
                        "XGROUP".into(),
                        "DELCONSUMER".into(),
                        key.to_string(),
                        g,
                        consumer,
                    ],
                    _ => vec![
                        "XCLAIM".into(),
                        key.to_string(),
                        g,
                        consumer,
                        "0".into(),
                        some_id,
                    ],
                },
            };
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            // Refusals (no such group, BUSYGROUP, ids too small) are part of the game.
            let _ = common::cmd::<redis::Value>(&mut c, &args);
        }
    }
    let resp = source.dir.path().join("random.resp");
    let out = tools(&[
        "export",
        &addr(source.port),
        "--output",
        resp.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = tools(&["import", resp.to_str().unwrap(), "--to", &addr(target.port)]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(", 0 errors"), "{}", text(&out));
    let mut t = target.conn();
    for key in keys {
        let exists: i64 = call(&mut c, &["EXISTS", key]);
        if exists == 1 {
            assert_eq!(xinfo_full(&mut t, key), xinfo_full(&mut c, key), "{key}");
        }
    }
    assert_eq!(digest(&mut t), digest(&mut c));

    // The same histories through DUMP, pika's decoder and encoder, and RESTORE: exact, seen
    // times included.
    let blanked: &[&[u8]] = &[b"radix-tree-keys", b"radix-tree-nodes"];
    let _: () = call(&mut t, &["CONFIG", "SET", "sanitize-dump-payload", "yes"]);
    for key in keys {
        let Some(payload): Option<Vec<u8>> = call(&mut c, &["DUMP", key]) else {
            continue;
        };
        let ours = pika::rdb::dump::encode(&pika::rdb::dump::decode(&payload).unwrap());
        let _: () = redis::cmd("RESTORE")
            .arg(key)
            .arg(0)
            .arg(&ours)
            .arg("REPLACE")
            .query(&mut t)
            .unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(
            xinfo_full_blanking(&mut t, key, blanked),
            xinfo_full_blanking(&mut c, key, blanked),
            "{key}"
        );
    }
}
