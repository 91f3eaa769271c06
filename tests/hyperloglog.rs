//! HyperLogLog commands, black-box: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST, errors, and
//! values that are byte-for-byte those of redis-server (where it is installed).

mod common;

use common::{beside_redis, cmd, err, int, TestServer, WRONGTYPE};
use redis::Value;

const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";

/// PFADD of `elements` in batches of 1000.
fn pfadd_many(c: &mut redis::Connection, key: &str, elements: impl Iterator<Item = String>) {
    let all: Vec<String> = elements.collect();
    for chunk in all.chunks(1000) {
        let mut command = redis::cmd("PFADD");
        command.arg(key);
        for e in chunk {
            command.arg(e);
        }
        let _: i64 = command.query(c).unwrap();
    }
}

fn raw_get(c: &mut redis::Connection, key: &str) -> Vec<u8> {
    cmd(c, &["GET", key]).unwrap()
}

fn raw_set(c: &mut redis::Connection, key: &str, value: &[u8]) {
    let _: Value = redis::cmd("SET").arg(key).arg(value).query(c).unwrap();
}

fn encoding(c: &mut redis::Connection, key: &str) -> String {
    cmd(c, &["PFDEBUG", "ENCODING", key]).unwrap()
}

#[test]
fn pfadd_reports_changes() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["PFADD", "h"]), 1, "creates the key");
    assert_eq!(int(&mut c, &["PFADD", "h"]), 0);
    assert_eq!(int(&mut c, &["PFADD", "h", "a", "b", "c"]), 1);
    assert_eq!(int(&mut c, &["PFADD", "h", "a", "b", "c"]), 0);
    assert_eq!(int(&mut c, &["PFCOUNT", "h"]), 3);
    assert_eq!(int(&mut c, &["PFCOUNT", "missing"]), 0);
    let value = raw_get(&mut c, "h");
    assert_eq!(&value[..4], b"HYLL");
    assert_eq!(encoding(&mut c, "h"), "sparse");
    assert_eq!(int(&mut c, &["PFADD", "h2", "x"]), 1);
}

#[test]
fn pfcount_stores_its_cache() {
    let s = TestServer::start();
    let mut c = s.conn();
    int(&mut c, &["PFADD", "h", "a", "b"]);
    let before = raw_get(&mut c, "h");
    assert_eq!(before[15] & 0x80, 0x80, "stale after PFADD");
    assert_eq!(int(&mut c, &["PFCOUNT", "h"]), 2);
    let after = raw_get(&mut c, "h");
    assert_eq!(&after[8..16], &2u64.to_le_bytes());
    assert_eq!(&after[16..], &before[16..]);
    // A TTL survives the cache write.
    int(&mut c, &["EXPIRE", "h", "100"]);
    int(&mut c, &["PFADD", "h", "c"]);
    assert_eq!(int(&mut c, &["PFCOUNT", "h"]), 3);
    assert!(int(&mut c, &["TTL", "h"]) > 0);
}

#[test]
fn accuracy_and_promotion() {
    let s = TestServer::start();
    let mut c = s.conn();
    pfadd_many(&mut c, "h", (0..100).map(|i| format!("e{i}")));
    assert_eq!(encoding(&mut c, "h"), "sparse");
    pfadd_many(&mut c, "h", (100..100_000).map(|i| format!("e{i}")));
    assert_eq!(encoding(&mut c, "h"), "dense");
    assert_eq!(raw_get(&mut c, "h").len(), 16 + 12288);
    let card = int(&mut c, &["PFCOUNT", "h"]) as f64;
    // Redis' own bound: well within 5% at this size (standard error 0.81%).
    assert!((card - 100_000.0).abs() / 100_000.0 < 0.05, "{card}");
}

#[test]
fn sparse_limit_follows_the_config() {
    let s = TestServer::start();
    let mut c = s.conn();
    let limit: Vec<String> = cmd(&mut c, &["CONFIG", "GET", "hll-sparse-max-bytes"]).unwrap();
    assert_eq!(limit, ["hll-sparse-max-bytes", "3000"]);
    let _: Value = cmd(&mut c, &["CONFIG", "SET", "hll-sparse-max-bytes", "30"]).unwrap();
    pfadd_many(&mut c, "h", (0..20).map(|i| format!("e{i}")));
    assert_eq!(encoding(&mut c, "h"), "dense");
}

#[test]
fn pfmerge_unions() {
    let s = TestServer::start();
    let mut c = s.conn();
    pfadd_many(&mut c, "a", (0..1000).map(|i| format!("e{i}")));
    pfadd_many(&mut c, "b", (500..1500).map(|i| format!("e{i}")));
    let ok: Value = cmd(&mut c, &["PFMERGE", "u", "a", "b", "missing"]).unwrap();
    assert_eq!(ok, Value::Okay);
    let union = int(&mut c, &["PFCOUNT", "u"]);
    assert!((union - 1500).abs() < 50, "{union}");
    assert_eq!(int(&mut c, &["PFCOUNT", "a", "b", "missing"]), union);
    // A missing destination with no sources: an empty HLL.
    let _: Value = cmd(&mut c, &["PFMERGE", "empty"]).unwrap();
    assert_eq!(int(&mut c, &["PFCOUNT", "empty"]), 0);
    assert_eq!(&raw_get(&mut c, "empty")[..4], b"HYLL");
    // The destination takes part in the union.
    pfadd_many(&mut c, "d", (5000..5100).map(|i| format!("e{i}")));
    let _: Value = cmd(&mut c, &["PFMERGE", "d", "a"]).unwrap();
    let d = int(&mut c, &["PFCOUNT", "d"]);
    assert!((d - 1100).abs() < 40, "{d}");
}

#[test]
fn pfdebug_subcommands() {
    let s = TestServer::start();
    let mut c = s.conn();
    int(&mut c, &["PFADD", "h", "a"]);
    let decoded: String = cmd(&mut c, &["PFDEBUG", "DECODE", "h"]).unwrap();
    assert!(decoded.contains("v:"), "{decoded}");
    assert_eq!(int(&mut c, &["PFDEBUG", "TODENSE", "h"]), 1);
    assert_eq!(int(&mut c, &["PFDEBUG", "TODENSE", "h"]), 0);
    assert_eq!(encoding(&mut c, "h"), "dense");
    assert_eq!(
        err(&mut c, &["PFDEBUG", "DECODE", "h"]),
        "ERR HLL encoding is not sparse"
    );
    let regs: Vec<i64> = cmd(&mut c, &["PFDEBUG", "GETREG", "h"]).unwrap();
    assert_eq!(regs.len(), 16384);
    assert_eq!(regs.iter().filter(|&&r| r != 0).count(), 1);
    assert_eq!(
        err(&mut c, &["PFDEBUG", "GETREG", "nokey"]),
        "ERR The specified key does not exist"
    );
    assert_eq!(
        err(&mut c, &["PFDEBUG", "Foo", "h"]),
        "ERR Unknown PFDEBUG subcommand 'Foo'"
    );
    let ok: Value = cmd(&mut c, &["PFSELFTEST"]).unwrap();
    assert_eq!(ok, Value::Okay);
}

#[test]
fn errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: Value = cmd(&mut c, &["SET", "str", "hello world, not an hll"]).unwrap();
    let _: Value = cmd(&mut c, &["RPUSH", "list", "x"]).unwrap();
    int(&mut c, &["PFADD", "h", "a"]);
    for args in [
        &["PFADD", "str", "a"][..],
        &["PFCOUNT", "str"],
        &["PFCOUNT", "h", "str"],
        &["PFMERGE", "str", "h"],
        &["PFMERGE", "h", "str"],
        &["PFDEBUG", "ENCODING", "str"],
    ] {
        assert_eq!(err(&mut c, args), NOT_HLL, "{args:?}");
    }
    assert_eq!(err(&mut c, &["PFADD", "list", "a"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["PFCOUNT", "list"]), WRONGTYPE);
    assert_eq!(
        err(&mut c, &["PFADD"]),
        "ERR wrong number of arguments for 'pfadd' command"
    );
    assert_eq!(
        err(&mut c, &["PFDEBUG", "ENCODING"]),
        "ERR wrong number of arguments for 'pfdebug' command"
    );
    // A sparse body that does not cover the registers.
    let mut bad = raw_get(&mut c, "h");
    bad.truncate(17);
    raw_set(&mut c, "bad", &bad);
    assert_eq!(err(&mut c, &["PFCOUNT", "bad"]), CORRUPT);
    assert_eq!(err(&mut c, &["PFCOUNT", "bad", "h"]), CORRUPT);
    assert_eq!(err(&mut c, &["PFMERGE", "x", "bad"]), CORRUPT);
    assert_eq!(err(&mut c, &["PFDEBUG", "TODENSE", "bad"]), CORRUPT);
    // Dense of the wrong length is not an HLL at all.
    let mut dense = b"HYLL\x00".to_vec();
    dense.resize(100, 0);
    raw_set(&mut c, "d", &dense);
    assert_eq!(err(&mut c, &["PFCOUNT", "d"]), NOT_HLL);
}

/// Runs the same commands on pika and redis-server, comparing replies and stored bytes.
#[test]
fn bytes_match_redis_server() {
    let Some((redis, s)) = beside_redis() else {
        return;
    };
    let mut r = redis.conn();
    let mut p = s.conn();
    let mut both = |args: &[&str], keys: &[&str]| {
        let a: Value = cmd(&mut r, args).unwrap_or_else(|e| Value::SimpleString(e.to_string()));
        let b: Value = cmd(&mut p, args).unwrap_or_else(|e| Value::SimpleString(e.to_string()));
        assert_eq!(a, b, "{args:?}");
        for k in keys {
            assert_eq!(raw_get(&mut r, k), raw_get(&mut p, k), "{args:?}: {k}");
        }
    };
    both(&["PFADD", "s"], &["s"]);
    let mut n = 0;
    let mut batch = |both: &mut dyn FnMut(&[&str], &[&str]), key: &str, count: usize| {
        let elements: Vec<String> = (n..n + count).map(|i| format!("m{i}")).collect();
        n += count;
        let mut args = vec!["PFADD", key];
        args.extend(elements.iter().map(String::as_str));
        both(&args, &[key]);
        both(&["PFCOUNT", key], &[key]);
    };
    for step in [1, 2, 5, 10, 30, 100, 200, 400, 800, 2000, 5000] {
        batch(&mut both, "s", step);
        batch(&mut both, "t", step / 2 + 1);
        both(&["PFDEBUG", "ENCODING", "s"], &[]);
        both(&["PFMERGE", "m", "t"], &["m"]);
        both(&["PFCOUNT", "s", "t", "m"], &[]);
    }
    both(&["PFMERGE", "m", "s", "t"], &["m"]);
    both(&["PFCOUNT", "m"], &["m"]);
    both(&["PFADD", "small", "x", "y", "z"], &["small"]);
    both(&["PFDEBUG", "DECODE", "small"], &[]);
    both(&["PFDEBUG", "GETREG", "small"], &["small"]);
    both(&["PFMERGE", "e"], &["e"]);
}

#[test]
fn values_copied_from_redis_server_count_the_same() {
    let Some((redis, s)) = beside_redis() else {
        return;
    };
    let mut r = redis.conn();
    let mut p = s.conn();
    pfadd_many(&mut r, "sparse", (0..300).map(|i| format!("r{i}")));
    pfadd_many(&mut r, "dense", (0..50_000).map(|i| format!("r{i}")));
    for key in ["sparse", "dense"] {
        let bytes = raw_get(&mut r, key);
        raw_set(&mut p, key, &bytes);
        assert_eq!(
            int(&mut p, &["PFCOUNT", key]),
            int(&mut r, &["PFCOUNT", key]),
            "{key}"
        );
        // And back: pika's cached value is what redis-server stores.
        assert_eq!(raw_get(&mut p, key), raw_get(&mut r, key), "{key}");
        let back = raw_get(&mut p, key);
        raw_set(&mut r, "back", &back);
        assert_eq!(
            int(&mut r, &["PFCOUNT", "back"]),
            int(&mut p, &["PFCOUNT", key])
        );
        // DUMP / RESTORE carry it as the string it is.
        let payload: Vec<u8> = redis::cmd("DUMP").arg(key).query(&mut r).unwrap();
        let _: Value = redis::cmd("RESTORE")
            .arg("restored")
            .arg(0)
            .arg(payload)
            .arg("REPLACE")
            .query(&mut p)
            .unwrap();
        assert_eq!(raw_get(&mut p, "restored"), raw_get(&mut r, key));
        assert_eq!(encoding(&mut p, "restored"), encoding(&mut r, key));
        int(&mut p, &["PFADD", "restored", "one more"]);
        int(&mut r, &["PFADD", key, "one more"]);
        assert_eq!(raw_get(&mut p, "restored"), raw_get(&mut r, key));
    }
}

#[test]
fn command_info_matches_redis_server() {
    let Some((redis, s)) = beside_redis() else {
        return;
    };
    let mut r = redis.conn();
    let mut p = s.conn();
    for name in ["pfadd", "pfcount", "pfmerge", "pfdebug", "pfselftest"] {
        let head = |c: &mut redis::Connection| -> Vec<Value> {
            let info: Vec<Vec<Value>> = cmd(c, &["COMMAND", "INFO", name]).unwrap();
            // Name, arity, flags, key positions and ACL categories.
            info[0][..7].to_vec()
        };
        assert_eq!(head(&mut p), head(&mut r), "{name}");
    }
}

#[test]
fn pfcount_inside_multi() {
    let s = TestServer::start();
    let mut c = s.conn();
    int(&mut c, &["PFADD", "h", "a", "b"]);
    let replies: Vec<Value> = redis::pipe()
        .atomic()
        .cmd("PFADD")
        .arg("h")
        .arg("c")
        .cmd("PFCOUNT")
        .arg("h")
        .cmd("PFCOUNT")
        .arg("h")
        .arg("other")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        replies,
        [Value::Int(1), Value::Int(3), Value::Int(3)],
        "{replies:?}"
    );
    assert_eq!(&raw_get(&mut c, "h")[8..16], &3u64.to_le_bytes());
}
