//! Hash commands, black-box: field writes, counters, point and whole-hash reads, HRANDFIELD,
//! HSCAN, errors, and persistence.

mod common;

use std::collections::{HashMap, HashSet};

use common::{cmd, err, int, TestServer, WRONGTYPE};
use pika::storage::types::Writer;
use redis::Value;

const NOT_INT: &str = "ERR value is not an integer or out of range";
const NOT_FLOAT: &str = "ERR value is not a valid float";
const SYNTAX: &str = "ERR syntax error";

fn bulk(c: &mut redis::Connection, args: &[&str]) -> Option<String> {
    cmd(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn strings(c: &mut redis::Connection, args: &[&str]) -> Vec<String> {
    cmd(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// A server with `h` = {a: 1, b: 2, c: 3} and a string key `s`.
fn seeded() -> (TestServer, redis::Connection) {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["HSET", "h", "a", "1", "b", "2", "c", "3"]), 3);
    let _: () = cmd(&mut c, &["SET", "s", "x"]).unwrap();
    (s, c)
}

// ---------------------------------------------------------------------------------------------
// HSET / HMSET / HSETNX

#[test]
fn hset_counts_only_created_fields() {
    let (_s, mut c) = seeded();
    assert_eq!(int(&mut c, &["HSET", "h", "a", "10", "d", "4"]), 1);
    assert_eq!(bulk(&mut c, &["HGET", "h", "a"]).as_deref(), Some("10"));
    assert_eq!(int(&mut c, &["HLEN", "h"]), 4);
}

#[test]
fn hset_repeated_field_in_one_call_counts_once_and_last_value_wins() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["HSET", "h", "f", "1", "f", "2", "g", "3"]), 2);
    assert_eq!(bulk(&mut c, &["HGET", "h", "f"]).as_deref(), Some("2"));
    assert_eq!(int(&mut c, &["HLEN", "h"]), 2);
}

#[test]
fn hset_with_odd_argument_count_is_arity_error() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["HSET", "h", "a", "1", "b"]),
        "ERR wrong number of arguments for 'hset' command"
    );
    assert_eq!(
        err(&mut c, &["HSET", "h", "a"]),
        "ERR wrong number of arguments for 'hset' command"
    );
    assert_eq!(
        err(&mut c, &["HMSET", "h", "a", "1", "b"]),
        "ERR wrong number of arguments for 'hmset' command"
    );
    assert_eq!(int(&mut c, &["EXISTS", "h"]), 0);
}

#[test]
fn hmset_replies_ok() {
    let s = TestServer::start();
    let mut c = s.conn();
    let v: Value = cmd(&mut c, &["HMSET", "h", "a", "1", "b", "2"]).unwrap();
    assert_eq!(v, Value::Okay);
    assert_eq!(int(&mut c, &["HLEN", "h"]), 2);
}

#[test]
fn hsetnx_sets_only_missing_fields() {
    let (_s, mut c) = seeded();
    assert_eq!(int(&mut c, &["HSETNX", "h", "a", "99"]), 0);
    assert_eq!(bulk(&mut c, &["HGET", "h", "a"]).as_deref(), Some("1"));
    assert_eq!(int(&mut c, &["HSETNX", "h", "z", "26"]), 1);
    assert_eq!(bulk(&mut c, &["HGET", "h", "z"]).as_deref(), Some("26"));
    assert_eq!(int(&mut c, &["HSETNX", "new", "f", "v"]), 1);
    assert_eq!(int(&mut c, &["HLEN", "new"]), 1);
}

#[test]
fn hash_writes_keep_the_ttl() {
    let (_s, mut c) = seeded();
    assert_eq!(int(&mut c, &["EXPIRE", "h", "100"]), 1);
    int(&mut c, &["HSET", "h", "d", "4"]);
    int(&mut c, &["HINCRBY", "h", "a", "1"]);
    int(&mut c, &["HDEL", "h", "b"]);
    assert!(int(&mut c, &["TTL", "h"]) > 90);
}

#[test]
fn write_commands_against_a_string_are_wrongtype() {
    let (_s, mut c) = seeded();
    for args in [
        &["HSET", "s", "f", "v"][..],
        &["HMSET", "s", "f", "v"],
        &["HSETNX", "s", "f", "v"],
        &["HDEL", "s", "f"],
        &["HINCRBY", "s", "f", "1"],
        &["HINCRBYFLOAT", "s", "f", "1"],
    ] {
        assert_eq!(err(&mut c, args), WRONGTYPE, "{args:?}");
    }
    assert_eq!(bulk(&mut c, &["GET", "s"]).as_deref(), Some("x"));
}

#[test]
fn read_commands_against_a_string_are_wrongtype() {
    let (_s, mut c) = seeded();
    for args in [
        &["HGET", "s", "f"][..],
        &["HMGET", "s", "f"],
        &["HGETALL", "s"],
        &["HLEN", "s"],
        &["HSTRLEN", "s", "f"],
        &["HEXISTS", "s", "f"],
        &["HKEYS", "s"],
        &["HVALS", "s"],
        &["HRANDFIELD", "s"],
        &["HRANDFIELD", "s", "3"],
        &["HRANDFIELD", "s", "0"],
        &["HSCAN", "s", "0"],
    ] {
        assert_eq!(err(&mut c, args), WRONGTYPE, "{args:?}");
    }
}

#[test]
fn string_commands_against_a_hash_are_wrongtype() {
    let (_s, mut c) = seeded();
    assert_eq!(err(&mut c, &["GET", "h"]), WRONGTYPE);
    assert_eq!(bulk(&mut c, &["TYPE", "h"]).as_deref(), Some("hash"));
}

// ---------------------------------------------------------------------------------------------
// Point reads

#[test]
fn hget_missing_field_or_key_is_nil() {
    let (_s, mut c) = seeded();
    assert_eq!(bulk(&mut c, &["HGET", "h", "nope"]), None);
    assert_eq!(bulk(&mut c, &["HGET", "nokey", "a"]), None);
}

#[test]
fn hmget_returns_nil_for_missing_fields_and_keys() {
    let (_s, mut c) = seeded();
    let v: Vec<Option<String>> = cmd(&mut c, &["HMGET", "h", "a", "zz", "c", "a"]).unwrap();
    assert_eq!(
        v,
        vec![Some("1".into()), None, Some("3".into()), Some("1".into())]
    );
    let v: Vec<Option<String>> = cmd(&mut c, &["HMGET", "nokey", "a", "b"]).unwrap();
    assert_eq!(v, vec![None, None]);
}

#[test]
fn hlen_counts_fields_and_is_zero_for_missing_key() {
    let (_s, mut c) = seeded();
    assert_eq!(int(&mut c, &["HLEN", "h"]), 3);
    assert_eq!(int(&mut c, &["HLEN", "nokey"]), 0);
}

#[test]
fn hstrlen_is_value_length_or_zero() {
    let s = TestServer::start();
    let mut c = s.conn();
    int(&mut c, &["HSET", "h", "f", "hello", "n", "-1234"]);
    assert_eq!(int(&mut c, &["HSTRLEN", "h", "f"]), 5);
    assert_eq!(int(&mut c, &["HSTRLEN", "h", "n"]), 5);
    assert_eq!(int(&mut c, &["HSTRLEN", "h", "nope"]), 0);
    assert_eq!(int(&mut c, &["HSTRLEN", "nokey", "f"]), 0);
}

#[test]
fn hexists_reports_field_presence() {
    let (_s, mut c) = seeded();
    assert_eq!(int(&mut c, &["HEXISTS", "h", "a"]), 1);
    assert_eq!(int(&mut c, &["HEXISTS", "h", "nope"]), 0);
    assert_eq!(int(&mut c, &["HEXISTS", "nokey", "a"]), 0);
}

#[test]
fn fields_and_values_are_binary_safe() {
    let s = TestServer::start();
    let mut c = s.conn();
    let field = b"f\x00\r\n\xff".to_vec();
    let value = b"\x00v\r\n".to_vec();
    let created: i64 = redis::cmd("HSET")
        .arg("h")
        .arg(&field)
        .arg(&value)
        .query(&mut c)
        .unwrap();
    assert_eq!(created, 1);
    let got: Vec<u8> = redis::cmd("HGET")
        .arg("h")
        .arg(&field)
        .query(&mut c)
        .unwrap();
    assert_eq!(got, value);
}

#[test]
fn empty_field_and_value_are_allowed() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["HSET", "h", "", ""]), 1);
    assert_eq!(bulk(&mut c, &["HGET", "h", ""]).as_deref(), Some(""));
    assert_eq!(int(&mut c, &["HLEN", "h"]), 1);
}

// ---------------------------------------------------------------------------------------------
// HDEL

#[test]
fn hdel_counts_deleted_fields_once() {
    let (_s, mut c) = seeded();
    assert_eq!(int(&mut c, &["HDEL", "h", "a", "a", "nope"]), 1);
    assert_eq!(int(&mut c, &["HLEN", "h"]), 2);
    assert_eq!(int(&mut c, &["HDEL", "nokey", "a"]), 0);
}

#[test]
fn hdel_of_last_field_removes_the_key() {
    let (_s, mut c) = seeded();
    assert_eq!(int(&mut c, &["HDEL", "h", "a", "b", "c"]), 3);
    assert_eq!(int(&mut c, &["EXISTS", "h"]), 0);
    assert_eq!(int(&mut c, &["DBSIZE"]), 1);
    // A new hash at the same key starts empty.
    assert_eq!(int(&mut c, &["HSET", "h", "x", "1"]), 1);
    assert_eq!(strings(&mut c, &["HKEYS", "h"]), vec!["x"]);
}

#[test]
fn del_then_recreate_shows_no_old_fields() {
    let (_s, mut c) = seeded();
    assert_eq!(int(&mut c, &["DEL", "h"]), 1);
    assert_eq!(int(&mut c, &["HSET", "h", "z", "1"]), 1);
    assert_eq!(strings(&mut c, &["HKEYS", "h"]), vec!["z"]);
    assert_eq!(bulk(&mut c, &["HGET", "h", "a"]), None);
}

// ---------------------------------------------------------------------------------------------
// HGETALL / HKEYS / HVALS

#[test]
fn hgetall_hkeys_hvals_return_everything() {
    let (_s, mut c) = seeded();
    let all: HashMap<String, String> = cmd(&mut c, &["HGETALL", "h"]).unwrap();
    let expected: HashMap<String, String> = [("a", "1"), ("b", "2"), ("c", "3")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(all, expected);
    assert_eq!(
        sorted(strings(&mut c, &["HKEYS", "h"])),
        vec!["a", "b", "c"]
    );
    assert_eq!(
        sorted(strings(&mut c, &["HVALS", "h"])),
        vec!["1", "2", "3"]
    );
}

#[test]
fn whole_hash_reads_of_missing_key_are_empty() {
    let s = TestServer::start();
    let mut c = s.conn();
    let v: Value = cmd(&mut c, &["HGETALL", "nokey"]).unwrap();
    assert_eq!(v, Value::Array(vec![]));
    assert!(strings(&mut c, &["HKEYS", "nokey"]).is_empty());
    assert!(strings(&mut c, &["HVALS", "nokey"]).is_empty());
}

#[test]
fn hgetall_is_a_map_in_resp3() {
    let s = TestServer::start();
    let mut raw = s.raw();
    use std::io::Write;
    raw.write_all(b"HELLO 3\r\n").unwrap();
    common::read_until(&mut raw, b"modules\r\n*0\r\n");
    common::expect_raw(&mut raw, b"HSET h a 1\r\n", b":1\r\n");
    common::expect_raw(&mut raw, b"HGETALL h\r\n", b"%1\r\n$1\r\na\r\n$1\r\n1\r\n");
    common::expect_raw(&mut raw, b"HGETALL nokey\r\n", b"%0\r\n");
}

// ---------------------------------------------------------------------------------------------
// HINCRBY / HINCRBYFLOAT

#[test]
fn hincrby_creates_and_adds() {
    let (_s, mut c) = seeded();
    assert_eq!(int(&mut c, &["HINCRBY", "h", "a", "5"]), 6);
    assert_eq!(int(&mut c, &["HINCRBY", "h", "new", "-3"]), -3);
    assert_eq!(int(&mut c, &["HINCRBY", "nokey", "f", "7"]), 7);
    assert_eq!(bulk(&mut c, &["HGET", "h", "new"]).as_deref(), Some("-3"));
    assert_eq!(int(&mut c, &["HLEN", "h"]), 4);
}

#[test]
fn hincrby_errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    int(
        &mut c,
        &[
            "HSET",
            "h",
            "str",
            "abc",
            "big",
            "9223372036854775807",
            "sp",
            " 1",
        ],
    );
    assert_eq!(
        err(&mut c, &["HINCRBY", "h", "str", "1"]),
        "ERR hash value is not an integer"
    );
    assert_eq!(
        err(&mut c, &["HINCRBY", "h", "sp", "1"]),
        "ERR hash value is not an integer"
    );
    assert_eq!(
        err(&mut c, &["HINCRBY", "h", "big", "1"]),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(err(&mut c, &["HINCRBY", "h", "f", "x"]), NOT_INT);
    assert_eq!(err(&mut c, &["HINCRBY", "h", "f", "1.5"]), NOT_INT);
    assert_eq!(
        bulk(&mut c, &["HGET", "h", "big"]).as_deref(),
        Some("9223372036854775807")
    );
    assert_eq!(int(&mut c, &["HEXISTS", "h", "f"]), 0);
}

#[test]
fn hincrbyfloat_adds_and_formats_like_redis() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        bulk(&mut c, &["HINCRBYFLOAT", "h", "f", "10.5"]).as_deref(),
        Some("10.5")
    );
    assert_eq!(
        bulk(&mut c, &["HINCRBYFLOAT", "h", "f", "0.1"]).as_deref(),
        Some("10.6")
    );
    assert_eq!(
        bulk(&mut c, &["HINCRBYFLOAT", "h", "f", "-0.6"]).as_deref(),
        Some("10")
    );
    assert_eq!(
        bulk(&mut c, &["HINCRBYFLOAT", "h", "g", "5.0e3"]).as_deref(),
        Some("5000")
    );
    int(&mut c, &["HSET", "h", "i", "17"]);
    assert_eq!(
        bulk(&mut c, &["HINCRBYFLOAT", "h", "i", "1.5"]).as_deref(),
        Some("18.5")
    );
    assert_eq!(bulk(&mut c, &["HGET", "h", "i"]).as_deref(), Some("18.5"));
}

#[test]
fn hincrbyfloat_errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    int(&mut c, &["HSET", "h", "str", "abc", "big", "1.7e308"]);
    assert_eq!(
        err(&mut c, &["HINCRBYFLOAT", "h", "str", "1"]),
        "ERR hash value is not a float"
    );
    assert_eq!(
        err(&mut c, &["HINCRBYFLOAT", "h", "big", "1.7e308"]),
        "ERR increment would produce NaN or Infinity"
    );
    assert_eq!(err(&mut c, &["HINCRBYFLOAT", "h", "f", "abc"]), NOT_FLOAT);
    assert_eq!(err(&mut c, &["HINCRBYFLOAT", "h", "f", "nan"]), NOT_FLOAT);
    assert_eq!(
        err(&mut c, &["HINCRBYFLOAT", "h", "f", "inf"]),
        "ERR value is NaN or Infinity"
    );
    assert_eq!(int(&mut c, &["HEXISTS", "h", "f"]), 0);
}

// ---------------------------------------------------------------------------------------------
// HRANDFIELD

#[test]
fn hrandfield_without_count_returns_one_field() {
    let (_s, mut c) = seeded();
    let mut seen = HashSet::new();
    for _ in 0..100 {
        seen.insert(bulk(&mut c, &["HRANDFIELD", "h"]).unwrap());
    }
    let expected: HashSet<String> = ["a", "b", "c"].map(String::from).into();
    assert_eq!(seen, expected);
    assert_eq!(bulk(&mut c, &["HRANDFIELD", "nokey"]), None);
}

#[test]
fn hrandfield_positive_count_is_distinct_and_capped_at_size() {
    let (_s, mut c) = seeded();
    let v = strings(&mut c, &["HRANDFIELD", "h", "2"]);
    assert_eq!(v.len(), 2);
    assert_eq!(v.iter().collect::<HashSet<_>>().len(), 2);
    assert_eq!(
        sorted(strings(&mut c, &["HRANDFIELD", "h", "10"])),
        vec!["a", "b", "c"]
    );
    assert!(strings(&mut c, &["HRANDFIELD", "h", "0"]).is_empty());
    assert!(strings(&mut c, &["HRANDFIELD", "nokey", "5"]).is_empty());
}

#[test]
fn hrandfield_negative_count_repeats() {
    let (_s, mut c) = seeded();
    let v = strings(&mut c, &["HRANDFIELD", "h", "-50"]);
    assert_eq!(v.len(), 50);
    assert!(v.iter().all(|f| ["a", "b", "c"].contains(&f.as_str())));
    assert_eq!(v.iter().collect::<HashSet<_>>().len(), 3);
}

#[test]
fn hrandfield_withvalues_pairs_fields_with_their_values() {
    let (_s, mut c) = seeded();
    let v = strings(&mut c, &["HRANDFIELD", "h", "-6", "WITHVALUES"]);
    assert_eq!(v.len(), 12);
    for pair in v.chunks(2) {
        let expected = match pair[0].as_str() {
            "a" => "1",
            "b" => "2",
            "c" => "3",
            other => panic!("unexpected field {other}"),
        };
        assert_eq!(pair[1], expected);
    }
    let v = strings(&mut c, &["HRANDFIELD", "h", "2", "withvalues"]);
    assert_eq!(v.len(), 4);
}

#[test]
fn hrandfield_withvalues_is_nested_in_resp3() {
    let s = TestServer::start();
    let mut raw = s.raw();
    use std::io::Write;
    raw.write_all(b"HELLO 3\r\n").unwrap();
    common::read_until(&mut raw, b"modules\r\n*0\r\n");
    common::expect_raw(&mut raw, b"HSET h a 1\r\n", b":1\r\n");
    common::expect_raw(
        &mut raw,
        b"HRANDFIELD h 1 WITHVALUES\r\n",
        b"*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
    );
    common::expect_raw(
        &mut raw,
        b"HRANDFIELD h -2 WITHVALUES\r\n",
        b"*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
    );
    common::expect_raw(
        &mut raw,
        b"HRANDFIELD h -2\r\n",
        b"*2\r\n$1\r\na\r\n$1\r\na\r\n",
    );
}

#[test]
fn hrandfield_argument_errors() {
    let (_s, mut c) = seeded();
    assert_eq!(err(&mut c, &["HRANDFIELD", "h", "x"]), NOT_INT);
    assert_eq!(err(&mut c, &["HRANDFIELD", "h", "1", "bogus"]), SYNTAX);
    assert_eq!(
        err(&mut c, &["HRANDFIELD", "h", "1", "withvalues", "x"]),
        SYNTAX
    );
    assert_eq!(
        err(&mut c, &["HRANDFIELD", "h", "-9223372036854775808"]),
        "ERR value is out of range, must be between -9223372036854775807 and 9223372036854775807"
    );
    assert_eq!(
        err(
            &mut c,
            &["HRANDFIELD", "h", "-9223372036854770000", "withvalues"]
        ),
        "ERR value is out of range"
    );
}

#[test]
fn hrandfield_samples_a_big_hash_uniformly() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut hset = redis::cmd("HSET");
    hset.arg("big");
    for i in 0..300 {
        hset.arg(format!("f{i}")).arg(i);
    }
    let _: i64 = hset.query(&mut c).unwrap();
    let v = strings(&mut c, &["HRANDFIELD", "big", "-30000"]);
    let mut counts: HashMap<&str, u32> = HashMap::new();
    for f in &v {
        *counts.entry(f.as_str()).or_default() += 1;
    }
    // Every field is drawn, none wildly more often than the expected 100 times.
    assert_eq!(counts.len(), 300);
    assert!(
        counts.values().all(|&n| (30..=200).contains(&n)),
        "{counts:?}"
    );
    let v = strings(&mut c, &["HRANDFIELD", "big", "250", "WITHVALUES"]);
    assert_eq!(v.len(), 500);
    let fields: HashSet<&String> = v.iter().step_by(2).collect();
    assert_eq!(fields.len(), 250);
    for pair in v.chunks(2) {
        assert_eq!(pair[0], format!("f{}", pair[1]));
    }
}

// ---------------------------------------------------------------------------------------------
// HSCAN

fn hscan_all(c: &mut redis::Connection, key: &str, extra: &[&str]) -> Vec<(String, String)> {
    let mut cursor = "0".to_string();
    let mut out = Vec::new();
    loop {
        let mut args = vec!["HSCAN", key, cursor.as_str()];
        args.extend_from_slice(extra);
        let (next, items): (String, Vec<String>) = cmd(c, &args).unwrap();
        for pair in items.chunks(2) {
            out.push((pair[0].clone(), pair[1].clone()));
        }
        if next == "0" {
            break;
        }
        cursor = next;
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn hscan_returns_every_field_with_its_value() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut hset = redis::cmd("HSET");
    hset.arg("big");
    for i in 0..300 {
        hset.arg(format!("f{i}")).arg(i);
    }
    let _: i64 = hset.query(&mut c).unwrap();
    let got = hscan_all(&mut c, "big", &["COUNT", "7"]);
    assert_eq!(got.len(), 300);
    assert!(got.iter().all(|(f, v)| *f == format!("f{v}")));
}

#[test]
fn hscan_match_filters_fields() {
    let (_s, mut c) = seeded();
    int(&mut c, &["HSET", "h", "ab", "4"]);
    let got = hscan_all(&mut c, "h", &["MATCH", "a*"]);
    assert_eq!(
        got,
        vec![("a".into(), "1".into()), ("ab".into(), "4".into())]
    );
}

#[test]
fn hscan_of_missing_key_is_empty() {
    let s = TestServer::start();
    let mut c = s.conn();
    let (next, items): (String, Vec<String>) = cmd(&mut c, &["HSCAN", "nokey", "0"]).unwrap();
    assert_eq!(next, "0");
    assert!(items.is_empty());
}

#[test]
fn hscan_argument_errors() {
    let (_s, mut c) = seeded();
    assert_eq!(err(&mut c, &["HSCAN", "h", "abc"]), "ERR invalid cursor");
    assert_eq!(err(&mut c, &["HSCAN", "h", "0", "COUNT", "0"]), SYNTAX);
    assert_eq!(err(&mut c, &["HSCAN", "h", "0", "COUNT", "x"]), NOT_INT);
    assert_eq!(err(&mut c, &["HSCAN", "h", "0", "COUNT"]), SYNTAX);
    assert_eq!(err(&mut c, &["HSCAN", "h", "0", "TYPE", "hash"]), SYNTAX);
}

// ---------------------------------------------------------------------------------------------
// Arity, persistence, encoding threshold

#[test]
fn arity_errors_name_the_command() {
    let s = TestServer::start();
    let mut c = s.conn();
    for (args, name) in [
        (&["HGET", "h"][..], "hget"),
        (&["HSETNX", "h", "f"], "hsetnx"),
        (&["HDEL", "h"], "hdel"),
        (&["HMGET", "h"], "hmget"),
        (&["HLEN"], "hlen"),
        (&["HINCRBY", "h", "f"], "hincrby"),
        (&["HRANDFIELD"], "hrandfield"),
        (&["HSCAN", "h"], "hscan"),
    ] {
        assert_eq!(
            err(&mut c, args),
            format!("ERR wrong number of arguments for '{name}' command")
        );
    }
}

#[test]
fn hash_survives_restart() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    let mut hset = redis::cmd("HSET");
    hset.arg("big");
    for i in 0..300 {
        hset.arg(format!("f{i}")).arg(format!("v{i}"));
    }
    let _: i64 = hset.query(&mut c).unwrap();
    int(&mut c, &["HSET", "small", "a", "1"]);
    int(&mut c, &["HDEL", "big", "f7"]);
    drop(c);
    s.restart();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["HLEN", "big"]), 299);
    assert_eq!(
        bulk(&mut c, &["HGET", "big", "f299"]).as_deref(),
        Some("v299")
    );
    assert_eq!(bulk(&mut c, &["HGET", "big", "f7"]), None);
    assert_eq!(bulk(&mut c, &["HGET", "small", "a"]).as_deref(), Some("1"));
    assert_eq!(strings(&mut c, &["HKEYS", "big"]).len(), 299);
}

#[test]
fn command_info_reports_flags_and_categories() {
    let s = TestServer::start();
    let mut c = s.conn();
    let v: Value = cmd(&mut c, &["COMMAND", "INFO", "hset", "hgetall"]).unwrap();
    let text = format!("{v:?}");
    for needle in [
        "hset", "denyoom", "@hash", "@fast", "hgetall", "@slow", "@read",
    ] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding threshold (storage level: the flag OBJECT ENCODING reports from)

fn open_storage(dir: &tempfile::TempDir) -> pika::storage::Storage {
    pika::storage::Storage::open(
        dir.path(),
        16,
        &pika::storage::engine::EngineOptions::default(),
    )
    .expect("open storage")
}

fn is_large(st: &pika::storage::Storage, key: &[u8]) -> bool {
    st.read_collection(0, key, pika::storage::codec::DataType::Hash)
        .unwrap()
        .expect("hash exists")
        .is_large()
}

fn set_limits(st: &pika::storage::Storage, entries: u64, value: u64) {
    use std::sync::atomic::Ordering;
    st.limits
        .hash_max_listpack_entries
        .store(entries, Ordering::Relaxed);
    st.limits
        .hash_max_listpack_value
        .store(value, Ordering::Relaxed);
}

#[test]
fn hash_turns_large_past_the_entry_limit_and_stays_large() {
    let dir = tempfile::tempdir().unwrap();
    let st = open_storage(&dir);
    set_limits(&st, 3, 64);
    st.at(0, Writer::INTERNAL)
        .hash()
        .set(b"h", &[(b"a", b"1"), (b"b", b"2"), (b"c", b"3")])
        .unwrap();
    assert!(!is_large(&st, b"h"));
    st.at(0, Writer::INTERNAL)
        .hash()
        .set(b"h", &[(b"d", b"4")])
        .unwrap();
    assert!(is_large(&st, b"h"));
    st.at(0, Writer::INTERNAL)
        .hash()
        .remove(b"h", &[b"a", b"b", b"c"])
        .unwrap();
    assert!(is_large(&st, b"h"), "never converts back");
}

#[test]
fn hash_turns_large_when_a_field_or_value_is_too_long() {
    let dir = tempfile::tempdir().unwrap();
    let st = open_storage(&dir);
    set_limits(&st, 128, 8);
    st.at(0, Writer::INTERNAL)
        .hash()
        .set(b"v", &[(b"f", b"12345678")])
        .unwrap();
    assert!(!is_large(&st, b"v"));
    st.at(0, Writer::INTERNAL)
        .hash()
        .set(b"v", &[(b"f", b"123456789")])
        .unwrap();
    assert!(is_large(&st, b"v"));
    assert!(st
        .at(0, Writer::INTERNAL)
        .hash()
        .set_nx(b"f", b"abcdefghi", b"1")
        .unwrap());
    assert!(is_large(&st, b"f"));
    // HINCRBYFLOAT-style updates judge the new value's length.
    st.at(0, Writer::INTERNAL)
        .hash()
        .update::<pika::storage::StorageError>(b"u", b"tmp", |_| Ok(b"0.000005".to_vec()))
        .unwrap();
    assert!(!is_large(&st, b"u"));
    st.at(0, Writer::INTERNAL)
        .hash()
        .update::<pika::storage::StorageError>(b"w", b"tmp", |_| Ok(b"0.0000005".to_vec()))
        .unwrap();
    assert!(is_large(&st, b"w"));
}
