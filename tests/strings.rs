//! String commands, black-box: GET/SET and variants, multi-key, counters, ranges, LCS.

mod common;

use std::time::{Duration, Instant};

use common::{cmd, err, get, int, server_with_hash, TestServer, WRONGTYPE};
use redis::Value;

const NOT_INT: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";

fn ok(c: &mut redis::Connection, args: &[&str]) {
    let v: Value = cmd(c, args).unwrap();
    assert_eq!(v, Value::Okay, "{args:?}");
}

fn bulk(c: &mut redis::Connection, args: &[&str]) -> Option<String> {
    cmd(c, args).unwrap()
}

/// Milliseconds left on `key`.
fn pttl(s: &mut TestServer, key: &str) -> i64 {
    let mut c = s.conn();
    cmd(&mut c, &["PTTL", key]).unwrap()
}

fn now_ms() -> i64 {
    pika::util::clock::unix_ms() as i64
}

/// Polls until GET `key` is nil, for short-TTL tests.
fn wait_gone(c: &mut redis::Connection, key: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if get(c, key).is_none() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

// ---------------------------------------------------------------------------------------------
// GET / SET

#[test]
fn get_missing_key_is_nil() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(get(&mut c, "nope"), None);
}

#[test]
fn set_then_get_round_trips() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "hello"]);
    assert_eq!(get(&mut c, "k").as_deref(), Some("hello"));
    ok(&mut c, &["SET", "k", ""]);
    assert_eq!(get(&mut c, "k").as_deref(), Some(""));
}

#[test]
fn set_nx_does_not_overwrite() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "v1", "NX"]);
    let v: Value = cmd(&mut c, &["SET", "k", "v2", "nx"]).unwrap();
    assert_eq!(v, Value::Nil);
    assert_eq!(get(&mut c, "k").as_deref(), Some("v1"));
}

#[test]
fn set_xx_only_overwrites() {
    let s = TestServer::start();
    let mut c = s.conn();
    let v: Value = cmd(&mut c, &["SET", "k", "v", "XX"]).unwrap();
    assert_eq!(v, Value::Nil);
    assert_eq!(get(&mut c, "k"), None);
    ok(&mut c, &["SET", "k", "v1"]);
    ok(&mut c, &["SET", "k", "v2", "XX"]);
    assert_eq!(get(&mut c, "k").as_deref(), Some("v2"));
}

#[test]
fn set_get_returns_old_value() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(bulk(&mut c, &["SET", "k", "a", "GET"]), None);
    assert_eq!(
        bulk(&mut c, &["SET", "k", "b", "GET"]).as_deref(),
        Some("a")
    );
    // With NX the old value comes back and nothing is written.
    assert_eq!(
        bulk(&mut c, &["SET", "k", "c", "NX", "GET"]).as_deref(),
        Some("b")
    );
    assert_eq!(get(&mut c, "k").as_deref(), Some("b"));
}

#[test]
fn set_get_on_other_type_is_wrongtype_and_writes_nothing() {
    let s = server_with_hash("h");
    let mut c = s.conn();
    assert_eq!(err(&mut c, &["SET", "h", "v", "GET"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["GET", "h"]), WRONGTYPE);
}

#[test]
fn set_replaces_a_key_of_another_type() {
    let s = server_with_hash("h");
    let mut c = s.conn();
    ok(&mut c, &["SET", "h", "v"]);
    assert_eq!(get(&mut c, "h").as_deref(), Some("v"));
}

#[test]
fn set_rejects_invalid_option_combinations() {
    let s = TestServer::start();
    let mut c = s.conn();
    for args in [
        &["SET", "k", "v", "NX", "XX"][..],
        &["SET", "k", "v", "XX", "NX"],
        &["SET", "k", "v", "EX", "10", "PX", "100"],
        &["SET", "k", "v", "PX", "10", "EXAT", "100"],
        &["SET", "k", "v", "EXAT", "10", "PXAT", "100"],
        &["SET", "k", "v", "KEEPTTL", "EX", "10"],
        &["SET", "k", "v", "EX", "10", "KEEPTTL"],
        &["SET", "k", "v", "EX"],
        &["SET", "k", "v", "PERSIST"],
        &["SET", "k", "v", "FOO"],
        &["SET", "k", "v", "EX", "abc", "PX"],
    ] {
        assert_eq!(err(&mut c, args), SYNTAX, "{args:?}");
    }
    assert_eq!(get(&mut c, "k"), None);
}

#[test]
fn set_allows_repeated_options() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        bulk(&mut c, &["SET", "k", "v", "NX", "NX", "GET", "GET"]),
        None
    );
    assert_eq!(get(&mut c, "k").as_deref(), Some("v"));
    ok(&mut c, &["SET", "k", "v", "EX", "10", "EX", "100"]);
    let ttl = pttl(&mut s, "k");
    assert!(ttl > 90_000 && ttl <= 100_000, "{ttl}");
}

#[test]
fn set_rejects_bad_expire_values() {
    let s = TestServer::start();
    let mut c = s.conn();
    let invalid = "ERR invalid expire time in 'set' command";
    assert_eq!(err(&mut c, &["SET", "k", "v", "EX", "0"]), invalid);
    assert_eq!(err(&mut c, &["SET", "k", "v", "PX", "-5"]), invalid);
    assert_eq!(
        err(&mut c, &["SET", "k", "v", "EX", "9223372036854775807"]),
        invalid
    );
    assert_eq!(
        err(&mut c, &["SET", "k", "v", "PX", "9223372036854775807"]),
        invalid
    );
    assert_eq!(
        err(&mut c, &["SET", "k", "v", "EXAT", "9223372036854775807"]),
        invalid
    );
    assert_eq!(err(&mut c, &["SET", "k", "v", "EX", "abc"]), NOT_INT);
    assert_eq!(err(&mut c, &["SET", "k", "v", "EX", "1.5"]), NOT_INT);
    assert_eq!(get(&mut c, "k"), None);
}

#[test]
fn set_ex_sets_ttl_in_seconds() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "v", "EX", "100"]);
    let ttl = pttl(&mut s, "k");
    assert!(ttl > 95_000 && ttl <= 100_000, "{ttl}");
}

#[test]
fn set_px_sets_ttl_in_milliseconds() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "v", "px", "50000"]);
    let ttl = pttl(&mut s, "k");
    assert!(ttl > 45_000 && ttl <= 50_000, "{ttl}");
}

#[test]
fn set_exat_sets_absolute_deadline() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    let at = now_ms() / 1000 + 200;
    ok(&mut c, &["SET", "k", "v", "EXAT", &at.to_string()]);
    let ttl = pttl(&mut s, "k");
    assert!(ttl > 190_000 && ttl <= 200_000, "{ttl}");
}

#[test]
fn set_pxat_sets_absolute_deadline() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    let at = now_ms() + 80_000;
    ok(&mut c, &["SET", "k", "v", "PXAT", &at.to_string()]);
    let ttl = pttl(&mut s, "k");
    assert!(ttl > 75_000 && ttl <= 80_000, "{ttl}");
}

#[test]
fn set_with_past_deadline_leaves_no_key() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "old"]);
    ok(&mut c, &["SET", "k", "v", "PXAT", "1"]);
    assert_eq!(get(&mut c, "k"), None);
}

#[test]
fn set_keepttl_keeps_the_deadline() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "v", "EX", "100"]);
    ok(&mut c, &["SET", "k", "w", "KEEPTTL"]);
    assert_eq!(get(&mut c, "k").as_deref(), Some("w"));
    let ttl = pttl(&mut s, "k");
    assert!(ttl > 95_000 && ttl <= 100_000, "{ttl}");
}

#[test]
fn plain_set_clears_the_deadline() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "v", "EX", "100"]);
    ok(&mut c, &["SET", "k", "w"]);
    assert_eq!(pttl(&mut s, "k"), -1);
}

#[test]
fn set_px_key_expires() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "v", "PX", "50"]);
    assert!(wait_gone(&mut c, "k"));
}

#[test]
fn binary_values_round_trip() {
    let s = TestServer::start();
    let mut c = s.conn();
    let value: &[u8] = b"a\0b\r\nc\xff\x00\r\n";
    let key: &[u8] = b"k\0\r\nkey";
    let _: () = redis::cmd("SET").arg(key).arg(value).query(&mut c).unwrap();
    let back: Vec<u8> = redis::cmd("GET").arg(key).query(&mut c).unwrap();
    assert_eq!(back, value);
    let len: i64 = redis::cmd("STRLEN").arg(key).query(&mut c).unwrap();
    assert_eq!(len, value.len() as i64);
}

#[test]
fn one_megabyte_value_round_trips() {
    let s = TestServer::start();
    let mut c = s.conn();
    let value: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(&value)
        .query(&mut c)
        .unwrap();
    let back: Vec<u8> = redis::cmd("GET").arg("big").query(&mut c).unwrap();
    assert_eq!(back, value);
}

// ---------------------------------------------------------------------------------------------
// SETNX SETEX PSETEX GETSET GETDEL GETEX

#[test]
fn setnx_reports_whether_it_wrote() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["SETNX", "k", "a"]), 1);
    assert_eq!(int(&mut c, &["SETNX", "k", "b"]), 0);
    assert_eq!(get(&mut c, "k").as_deref(), Some("a"));
}

#[test]
fn setnx_sees_keys_of_other_types() {
    let s = server_with_hash("h");
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["SETNX", "h", "b"]), 0);
}

#[test]
fn setex_and_psetex_set_a_ttl() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["SETEX", "a", "100", "v"]);
    ok(&mut c, &["PSETEX", "b", "60000", "w"]);
    assert_eq!(get(&mut c, "a").as_deref(), Some("v"));
    let ta = pttl(&mut s, "a");
    assert!(ta > 95_000 && ta <= 100_000, "{ta}");
    let tb = pttl(&mut s, "b");
    assert!(tb > 55_000 && tb <= 60_000, "{tb}");
}

#[test]
fn setex_rejects_non_positive_ttls() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["SETEX", "k", "0", "v"]),
        "ERR invalid expire time in 'setex' command"
    );
    assert_eq!(
        err(&mut c, &["PSETEX", "k", "-1", "v"]),
        "ERR invalid expire time in 'psetex' command"
    );
    assert_eq!(
        err(&mut c, &["SETEX", "k", "9223372036854775807", "v"]),
        "ERR invalid expire time in 'setex' command"
    );
    assert_eq!(err(&mut c, &["SETEX", "k", "x", "v"]), NOT_INT);
    assert_eq!(
        err(&mut c, &["SETEX", "k", "10"]),
        "ERR wrong number of arguments for 'setex' command"
    );
    assert_eq!(get(&mut c, "k"), None);
}

#[test]
fn getset_returns_old_value_and_clears_ttl() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(bulk(&mut c, &["GETSET", "k", "a"]), None);
    ok(&mut c, &["SET", "k", "b", "EX", "100"]);
    assert_eq!(bulk(&mut c, &["GETSET", "k", "c"]).as_deref(), Some("b"));
    assert_eq!(get(&mut c, "k").as_deref(), Some("c"));
    assert_eq!(pttl(&mut s, "k"), -1);
}

#[test]
fn getset_on_other_type_is_wrongtype() {
    let s = server_with_hash("h");
    let mut c = s.conn();
    assert_eq!(err(&mut c, &["GETSET", "h", "v"]), WRONGTYPE);
}

#[test]
fn getdel_returns_and_removes() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "v"]);
    assert_eq!(bulk(&mut c, &["GETDEL", "k"]).as_deref(), Some("v"));
    assert_eq!(get(&mut c, "k"), None);
    assert_eq!(bulk(&mut c, &["GETDEL", "k"]), None);
}

#[test]
fn getdel_on_other_type_is_wrongtype() {
    let s = server_with_hash("h");
    let mut c = s.conn();
    assert_eq!(err(&mut c, &["GETDEL", "h"]), WRONGTYPE);
}

#[test]
fn getex_without_options_is_get() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "v", "EX", "100"]);
    assert_eq!(bulk(&mut c, &["GETEX", "k"]).as_deref(), Some("v"));
    assert!(pttl(&mut s, "k") > 95_000);
    let mut c = s.conn();
    assert_eq!(bulk(&mut c, &["GETEX", "missing"]), None);
}

#[test]
fn getex_sets_each_kind_of_deadline() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "v"]);
    assert_eq!(
        bulk(&mut c, &["GETEX", "k", "EX", "100"]).as_deref(),
        Some("v")
    );
    let t = pttl(&mut s, "k");
    assert!(t > 95_000 && t <= 100_000, "{t}");
    let mut c = s.conn();
    assert_eq!(
        bulk(&mut c, &["GETEX", "k", "PX", "70000"]).as_deref(),
        Some("v")
    );
    let t = pttl(&mut s, "k");
    assert!(t > 65_000 && t <= 70_000, "{t}");
    let mut c = s.conn();
    let at = (now_ms() / 1000 + 300).to_string();
    assert_eq!(
        bulk(&mut c, &["GETEX", "k", "EXAT", &at]).as_deref(),
        Some("v")
    );
    let t = pttl(&mut s, "k");
    assert!(t > 290_000 && t <= 300_000, "{t}");
    let mut c = s.conn();
    let at = (now_ms() + 40_000).to_string();
    assert_eq!(
        bulk(&mut c, &["GETEX", "k", "PXAT", &at]).as_deref(),
        Some("v")
    );
    let t = pttl(&mut s, "k");
    assert!(t > 35_000 && t <= 40_000, "{t}");
}

#[test]
fn getex_persist_removes_the_ttl() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "v", "PX", "100000"]);
    assert_eq!(
        bulk(&mut c, &["GETEX", "k", "PERSIST"]).as_deref(),
        Some("v")
    );
    assert_eq!(pttl(&mut s, "k"), -1);
    let mut c = s.conn();
    assert_eq!(get(&mut c, "k").as_deref(), Some("v"));
}

#[test]
fn getex_past_deadline_deletes_the_key() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "v"]);
    assert_eq!(
        bulk(&mut c, &["GETEX", "k", "PXAT", "1"]).as_deref(),
        Some("v")
    );
    assert_eq!(get(&mut c, "k"), None);
}

#[test]
fn getex_rejects_set_options_and_conflicts() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "v"]);
    for args in [
        &["GETEX", "k", "NX"][..],
        &["GETEX", "k", "KEEPTTL"],
        &["GETEX", "k", "GET"],
        &["GETEX", "k", "PERSIST", "EX", "10"],
        &["GETEX", "k", "EX", "10", "PERSIST"],
        &["GETEX", "k", "EX", "10", "PX", "10"],
        &["GETEX", "k", "EX"],
    ] {
        assert_eq!(err(&mut c, args), SYNTAX, "{args:?}");
    }
    assert_eq!(
        bulk(&mut c, &["GETEX", "k", "PERSIST", "PERSIST"]).as_deref(),
        Some("v")
    );
}

#[test]
fn getex_checks_the_key_before_the_expire_value() {
    let s = server_with_hash("h");
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "v"]);
    assert_eq!(
        err(&mut c, &["GETEX", "k", "EX", "0"]),
        "ERR invalid expire time in 'getex' command"
    );
    assert_eq!(err(&mut c, &["GETEX", "k", "PX", "x"]), NOT_INT);
    assert_eq!(bulk(&mut c, &["GETEX", "missing", "EX", "0"]), None);
    assert_eq!(err(&mut c, &["GETEX", "h", "EX", "0"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["GETEX", "h"]), WRONGTYPE);
}

// ---------------------------------------------------------------------------------------------
// MGET MSET MSETNX

#[test]
fn mset_and_mget_many_keys() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut set = redis::cmd("MSET");
    for i in 0..1000 {
        set.arg(format!("key:{i}")).arg(format!("value:{i}"));
    }
    let _: () = set.query(&mut c).unwrap();
    let mut mget = redis::cmd("MGET");
    for i in 0..1001 {
        mget.arg(format!("key:{i}"));
    }
    let values: Vec<Option<String>> = mget.query(&mut c).unwrap();
    assert_eq!(values.len(), 1001);
    for (i, v) in values.iter().take(1000).enumerate() {
        assert_eq!(v.as_deref(), Some(format!("value:{i}").as_str()));
    }
    assert_eq!(values[1000], None);
}

#[test]
fn mset_last_duplicate_wins() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["MSET", "k", "1", "k", "2"]);
    assert_eq!(get(&mut c, "k").as_deref(), Some("2"));
}

#[test]
fn mset_odd_arguments_is_arity_error() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["MSET", "a", "1", "b"]),
        "ERR wrong number of arguments for 'mset' command"
    );
    assert_eq!(
        err(&mut c, &["MSETNX", "a", "1", "b"]),
        "ERR wrong number of arguments for 'msetnx' command"
    );
    assert_eq!(get(&mut c, "a"), None);
}

#[test]
fn mget_reads_other_types_as_nil() {
    let s = server_with_hash("h");
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "v"]);
    let v: Vec<Option<String>> = cmd(&mut c, &["MGET", "k", "h", "none"]).unwrap();
    assert_eq!(v, vec![Some("v".to_string()), None, None]);
}

#[test]
fn msetnx_sets_all_or_nothing() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["MSETNX", "a", "1", "b", "2"]), 1);
    assert_eq!(int(&mut c, &["MSETNX", "c", "3", "a", "9"]), 0);
    assert_eq!(get(&mut c, "c"), None);
    assert_eq!(get(&mut c, "a").as_deref(), Some("1"));
}

#[test]
fn mset_clears_ttls() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["SET", "a", "v", "EX", "100"]);
    ok(&mut c, &["MSET", "a", "w"]);
    assert_eq!(pttl(&mut s, "a"), -1);
}

// ---------------------------------------------------------------------------------------------
// APPEND STRLEN GETRANGE SUBSTR SETRANGE

#[test]
fn append_creates_and_extends() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["APPEND", "k", "hello"]), 5);
    assert_eq!(int(&mut c, &["APPEND", "k", " world"]), 11);
    assert_eq!(int(&mut c, &["APPEND", "k", ""]), 11);
    assert_eq!(get(&mut c, "k").as_deref(), Some("hello world"));
}

#[test]
fn append_keeps_the_ttl() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "a", "EX", "100"]);
    assert_eq!(int(&mut c, &["APPEND", "k", "b"]), 2);
    let t = pttl(&mut s, "k");
    assert!(t > 95_000, "{t}");
}

#[test]
fn append_respects_proto_max_bulk_len() {
    let s = TestServer::start_with(&["--proto-max-bulk-len", "1mb"]);
    let mut c = s.conn();
    let big = vec![b'x'; 1 << 20];
    let _: () = redis::cmd("SET").arg("k").arg(&big).query(&mut c).unwrap();
    assert_eq!(
        err(&mut c, &["APPEND", "k", "y"]),
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    );
}

#[test]
fn strlen_of_missing_and_present() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["STRLEN", "k"]), 0);
    ok(&mut c, &["SET", "k", "hello"]);
    assert_eq!(int(&mut c, &["STRLEN", "k"]), 5);
}

#[test]
fn string_commands_on_other_types_are_wrongtype() {
    let s = server_with_hash("h");
    let mut c = s.conn();
    for args in [
        &["APPEND", "h", "x"][..],
        &["STRLEN", "h"],
        &["INCR", "h"],
        &["DECR", "h"],
        &["INCRBY", "h", "1"],
        &["DECRBY", "h", "1"],
        &["INCRBYFLOAT", "h", "1"],
        &["GETRANGE", "h", "0", "1"],
        &["SUBSTR", "h", "0", "1"],
        &["SETRANGE", "h", "0", "x"],
        &["SETRANGE", "h", "0", ""],
    ] {
        assert_eq!(err(&mut c, args), WRONGTYPE, "{args:?}");
    }
}

#[test]
fn getrange_handles_negative_and_out_of_range_indexes() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "Hello World"]);
    let cases: &[(&str, &str, &str)] = &[
        ("0", "4", "Hello"),
        ("-5", "-1", "World"),
        ("0", "-1", "Hello World"),
        ("5", "3", ""),
        ("-1", "-5", ""),
        ("0", "100", "Hello World"),
        ("100", "200", ""),
        ("-100", "2", "Hel"),
        ("0", "-100", "H"),
        ("-9223372036854775808", "9223372036854775807", "Hello World"),
    ];
    for (start, end, want) in cases {
        assert_eq!(
            bulk(&mut c, &["GETRANGE", "k", start, end]).as_deref(),
            Some(*want),
            "{start} {end}"
        );
    }
    assert_eq!(
        bulk(&mut c, &["SUBSTR", "k", "6", "-1"]).as_deref(),
        Some("World")
    );
}

#[test]
fn getrange_of_missing_key_is_empty_string() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        bulk(&mut c, &["GETRANGE", "k", "0", "-1"]).as_deref(),
        Some("")
    );
    assert_eq!(err(&mut c, &["GETRANGE", "k", "a", "1"]), NOT_INT);
    assert_eq!(err(&mut c, &["GETRANGE", "k", "0", "1.5"]), NOT_INT);
}

#[test]
fn setrange_overwrites_and_pads_with_zeros() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "Hello World"]);
    assert_eq!(int(&mut c, &["SETRANGE", "k", "6", "Redis"]), 11);
    assert_eq!(get(&mut c, "k").as_deref(), Some("Hello Redis"));
    assert_eq!(int(&mut c, &["SETRANGE", "n", "3", "ab"]), 5);
    let v: Vec<u8> = redis::cmd("GET").arg("n").query(&mut c).unwrap();
    assert_eq!(v, b"\0\0\0ab");
}

#[test]
fn setrange_empty_value_on_missing_key_creates_nothing() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["SETRANGE", "k", "10", ""]), 0);
    assert_eq!(get(&mut c, "k"), None);
    ok(&mut c, &["SET", "e", "abc"]);
    assert_eq!(int(&mut c, &["SETRANGE", "e", "100", ""]), 3);
    assert_eq!(get(&mut c, "e").as_deref(), Some("abc"));
}

#[test]
fn setrange_rejects_bad_offsets() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["SETRANGE", "k", "-1", "x"]),
        "ERR offset is out of range"
    );
    assert_eq!(err(&mut c, &["SETRANGE", "k", "x", "x"]), NOT_INT);
    let too_big = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
    assert_eq!(err(&mut c, &["SETRANGE", "k", "536870912", "x"]), too_big);
    assert_eq!(
        err(&mut c, &["SETRANGE", "k", "9223372036854775807", "x"]),
        too_big
    );
    assert_eq!(get(&mut c, "k"), None);
}

#[test]
fn setrange_keeps_the_ttl() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "abc", "EX", "100"]);
    assert_eq!(int(&mut c, &["SETRANGE", "k", "1", "X"]), 3);
    assert!(pttl(&mut s, "k") > 95_000);
}

// ---------------------------------------------------------------------------------------------
// INCR family

#[test]
fn incr_and_decr_start_from_zero() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["INCR", "a"]), 1);
    assert_eq!(int(&mut c, &["INCR", "a"]), 2);
    assert_eq!(int(&mut c, &["DECR", "b"]), -1);
    assert_eq!(int(&mut c, &["INCRBY", "a", "10"]), 12);
    assert_eq!(int(&mut c, &["DECRBY", "a", "20"]), -8);
    assert_eq!(get(&mut c, "a").as_deref(), Some("-8"));
}

#[test]
fn incr_rejects_non_integer_values() {
    let s = TestServer::start();
    let mut c = s.conn();
    for v in [
        "abc",
        " 1",
        "1 ",
        "+1",
        "01",
        "1.0",
        "",
        "99999999999999999999",
    ] {
        ok(&mut c, &["SET", "k", v]);
        assert_eq!(err(&mut c, &["INCR", "k"]), NOT_INT, "{v:?}");
    }
    assert_eq!(err(&mut c, &["INCRBY", "n", "1.5"]), NOT_INT);
    assert_eq!(err(&mut c, &["DECRBY", "n", "x"]), NOT_INT);
    assert_eq!(get(&mut c, "n"), None);
}

#[test]
fn incr_detects_overflow() {
    let s = TestServer::start();
    let mut c = s.conn();
    let overflow = "ERR increment or decrement would overflow";
    ok(&mut c, &["SET", "k", "9223372036854775807"]);
    assert_eq!(err(&mut c, &["INCR", "k"]), overflow);
    ok(&mut c, &["SET", "k", "-9223372036854775808"]);
    assert_eq!(err(&mut c, &["DECR", "k"]), overflow);
    assert_eq!(err(&mut c, &["INCRBY", "k", "-1"]), overflow);
    assert_eq!(get(&mut c, "k").as_deref(), Some("-9223372036854775808"));
    assert_eq!(
        err(&mut c, &["DECRBY", "k", "-9223372036854775808"]),
        "ERR decrement would overflow"
    );
}

#[test]
fn incr_keeps_the_ttl() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "5", "EX", "100"]);
    assert_eq!(int(&mut c, &["INCR", "k"]), 6);
    let t = pttl(&mut s, "k");
    assert!(t > 95_000 && t <= 100_000, "{t}");
}

#[test]
fn concurrent_incr_is_exact() {
    let s = TestServer::start();
    let url = s.url();
    let threads: Vec<_> = (0..20)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
                for _ in 0..500 {
                    let _: i64 = redis::cmd("INCR").arg("counter").query(&mut c).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut c = s.conn();
    assert_eq!(get(&mut c, "counter").as_deref(), Some("10000"));
}

#[test]
fn incrbyfloat_adds_and_formats() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        bulk(&mut c, &["INCRBYFLOAT", "f", "10.5"]).as_deref(),
        Some("10.5")
    );
    assert_eq!(
        bulk(&mut c, &["INCRBYFLOAT", "f", "0.1"]).as_deref(),
        Some("10.6")
    );
    assert_eq!(
        bulk(&mut c, &["INCRBYFLOAT", "f", "-10.6"]).as_deref(),
        Some("0")
    );
    assert_eq!(
        bulk(&mut c, &["INCRBYFLOAT", "f", "5e3"]).as_deref(),
        Some("5000")
    );
    assert_eq!(get(&mut c, "f").as_deref(), Some("5000"));
    ok(&mut c, &["SET", "i", "3"]);
    assert_eq!(
        bulk(&mut c, &["INCRBYFLOAT", "i", "1.5"]).as_deref(),
        Some("4.5")
    );
}

#[test]
fn incrbyfloat_rejects_bad_floats() {
    let s = TestServer::start();
    let mut c = s.conn();
    let not_float = "ERR value is not a valid float";
    assert_eq!(err(&mut c, &["INCRBYFLOAT", "f", "abc"]), not_float);
    assert_eq!(err(&mut c, &["INCRBYFLOAT", "f", " 1"]), not_float);
    ok(&mut c, &["SET", "s", "1.5x"]);
    assert_eq!(err(&mut c, &["INCRBYFLOAT", "s", "1"]), not_float);
    assert_eq!(get(&mut c, "f"), None);
}

#[test]
fn incrbyfloat_refuses_infinity() {
    let s = TestServer::start();
    let mut c = s.conn();
    let msg = "ERR increment would produce NaN or Infinity";
    assert_eq!(err(&mut c, &["INCRBYFLOAT", "f", "+inf"]), msg);
    ok(&mut c, &["SET", "f", "1.7e308"]);
    assert_eq!(err(&mut c, &["INCRBYFLOAT", "f", "1.7e308"]), msg);
    assert_eq!(get(&mut c, "f").as_deref(), Some("1.7e308"));
}

// ---------------------------------------------------------------------------------------------
// LCS

fn lcs_setup(c: &mut redis::Connection) {
    ok(c, &["MSET", "a", "ohmytext", "b", "mynewtext"]);
}

fn range(x: i64, y: i64) -> Value {
    Value::Array(vec![Value::Int(x), Value::Int(y)])
}

#[test]
fn lcs_returns_the_common_subsequence() {
    let s = TestServer::start();
    let mut c = s.conn();
    lcs_setup(&mut c);
    assert_eq!(bulk(&mut c, &["LCS", "a", "b"]).as_deref(), Some("mytext"));
    assert_eq!(int(&mut c, &["LCS", "a", "b", "LEN"]), 6);
    assert_eq!(bulk(&mut c, &["LCS", "a", "missing"]).as_deref(), Some(""));
}

#[test]
fn lcs_idx_lists_matching_ranges() {
    let s = TestServer::start();
    let mut c = s.conn();
    lcs_setup(&mut c);
    let v: Value = cmd(&mut c, &["LCS", "a", "b", "IDX"]).unwrap();
    let want = Value::Array(vec![
        Value::BulkString(b"matches".to_vec()),
        Value::Array(vec![
            Value::Array(vec![range(4, 7), range(5, 8)]),
            Value::Array(vec![range(2, 3), range(0, 1)]),
        ]),
        Value::BulkString(b"len".to_vec()),
        Value::Int(6),
    ]);
    assert_eq!(v, want);
}

#[test]
fn lcs_minmatchlen_and_withmatchlen() {
    let s = TestServer::start();
    let mut c = s.conn();
    lcs_setup(&mut c);
    let v: Value = cmd(
        &mut c,
        &["LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"],
    )
    .unwrap();
    let want = Value::Array(vec![
        Value::BulkString(b"matches".to_vec()),
        Value::Array(vec![Value::Array(vec![
            range(4, 7),
            range(5, 8),
            Value::Int(4),
        ])]),
        Value::BulkString(b"len".to_vec()),
        Value::Int(6),
    ]);
    assert_eq!(v, want);
}

#[test]
fn lcs_option_errors() {
    let s = server_with_hash("h");
    let mut c = s.conn();
    lcs_setup(&mut c);
    assert_eq!(
        err(&mut c, &["LCS", "a", "b", "LEN", "IDX"]),
        "ERR If you want both the length and indexes, please just use IDX."
    );
    assert_eq!(err(&mut c, &["LCS", "a", "b", "FOO"]), SYNTAX);
    assert_eq!(err(&mut c, &["LCS", "a", "b", "MINMATCHLEN"]), SYNTAX);
    assert_eq!(err(&mut c, &["LCS", "a", "b", "MINMATCHLEN", "x"]), NOT_INT);
    assert_eq!(
        err(&mut c, &["LCS", "a", "h"]),
        "ERR The specified keys must contain string values"
    );
}

#[test]
fn lcs_refuses_oversized_tables() {
    let s = TestServer::start_with(&["--proto-max-bulk-len", "1mb"]);
    let mut c = s.conn();
    let big = vec![b'x'; 1000];
    let _: () = redis::cmd("MSET")
        .arg("a")
        .arg(&big)
        .arg("b")
        .arg(&big)
        .query(&mut c)
        .unwrap();
    assert_eq!(
        err(&mut c, &["LCS", "a", "b"]),
        "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
    );
}
