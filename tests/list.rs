//! List commands, black-box: pushes and pops, indexed access, ranges, LINSERT/LREM/LTRIM/LPOS,
//! moves, multi-key pops, the non-blocking path of the blocking commands, persistence, and
//! randomised comparisons against an in-memory model.

mod common;

use std::io::Write;

use common::{cmd, err, expect_raw, int, read_until, TestServer, WRONGTYPE};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use redis::Value;

const NOT_INT: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";
const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";

fn val(c: &mut redis::Connection, args: &[&str]) -> Value {
    cmd(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn strs(c: &mut redis::Connection, args: &[&str]) -> Vec<String> {
    cmd(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn bulk(c: &mut redis::Connection, args: &[&str]) -> Option<String> {
    cmd(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn range(c: &mut redis::Connection, key: &str) -> Vec<String> {
    strs(c, &["LRANGE", key, "0", "-1"])
}

fn b(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

fn rpush(c: &mut redis::Connection, key: &str, items: &[&str]) {
    let mut args = vec!["RPUSH", key];
    args.extend_from_slice(items);
    int(c, &args);
}

fn exists(c: &mut redis::Connection, key: &str) -> bool {
    int(c, &["EXISTS", key]) == 1
}

// ---------------------------------------------------------------------------------------------
// Pushes

#[test]
fn lpush_and_rpush_build_the_list_in_order() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["RPUSH", "l", "c", "d"]), 2);
    assert_eq!(int(&mut c, &["LPUSH", "l", "b", "a"]), 4);
    assert_eq!(int(&mut c, &["RPUSH", "l", "e"]), 5);
    assert_eq!(range(&mut c, "l"), ["a", "b", "c", "d", "e"]);
    assert_eq!(int(&mut c, &["LLEN", "l"]), 5);
    assert_eq!(bulk(&mut c, &["TYPE", "l"]).as_deref(), Some("list"));
}

#[test]
fn pushx_only_pushes_onto_an_existing_list() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["LPUSHX", "l", "a"]), 0);
    assert_eq!(int(&mut c, &["RPUSHX", "l", "a", "b"]), 0);
    assert!(!exists(&mut c, "l"));
    rpush(&mut c, "l", &["x"]);
    assert_eq!(int(&mut c, &["LPUSHX", "l", "a", "b"]), 3);
    assert_eq!(int(&mut c, &["RPUSHX", "l", "y", "z"]), 5);
    assert_eq!(range(&mut c, "l"), ["b", "a", "x", "y", "z"]);
}

#[test]
fn binary_and_empty_elements_round_trip() {
    let s = TestServer::start();
    let mut c = s.conn();
    let blob: Vec<u8> = (0..=255u8).collect();
    let n: i64 = redis::cmd("RPUSH")
        .arg("l")
        .arg(&blob)
        .arg("")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 2);
    let got: Vec<Vec<u8>> = redis::cmd("LRANGE")
        .arg("l")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    assert_eq!(got, vec![blob, Vec::new()]);
}

// ---------------------------------------------------------------------------------------------
// Pops

#[test]
fn lpop_and_rpop_take_one_element() {
    let s = TestServer::start();
    let mut c = s.conn();
    rpush(&mut c, "l", &["a", "b", "c"]);
    assert_eq!(bulk(&mut c, &["LPOP", "l"]).as_deref(), Some("a"));
    assert_eq!(bulk(&mut c, &["RPOP", "l"]).as_deref(), Some("c"));
    assert_eq!(range(&mut c, "l"), ["b"]);
    assert_eq!(bulk(&mut c, &["LPOP", "nokey"]), None);
    assert_eq!(bulk(&mut c, &["RPOP", "nokey"]), None);
}

#[test]
fn pop_with_count_returns_elements_in_pop_order() {
    let s = TestServer::start();
    let mut c = s.conn();
    rpush(&mut c, "l", &["a", "b", "c", "d", "e", "f"]);
    assert_eq!(strs(&mut c, &["LPOP", "l", "2"]), ["a", "b"]);
    assert_eq!(strs(&mut c, &["RPOP", "l", "2"]), ["f", "e"]);
    assert_eq!(strs(&mut c, &["RPOP", "l", "10"]), ["d", "c"]);
    assert!(!exists(&mut c, "l"));
}

#[test]
fn pop_count_zero_is_an_empty_array_on_a_list() {
    let s = TestServer::start();
    let mut c = s.conn();
    rpush(&mut c, "l", &["a"]);
    assert_eq!(val(&mut c, &["LPOP", "l", "0"]), Value::Array(vec![]));
    assert_eq!(val(&mut c, &["RPOP", "l", "0"]), Value::Array(vec![]));
    assert_eq!(int(&mut c, &["LLEN", "l"]), 1);
}

#[test]
fn pop_null_shapes_match_redis_in_resp2() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(&mut raw, b"LPOP nokey\r\n", b"$-1\r\n");
    expect_raw(&mut raw, b"RPOP nokey 2\r\n", b"*-1\r\n");
    expect_raw(&mut raw, b"LPOP nokey 0\r\n", b"*-1\r\n");
    expect_raw(&mut raw, b"LMPOP 1 nokey LEFT\r\n", b"*-1\r\n");
    expect_raw(&mut raw, b"LINDEX nokey 0\r\n", b"$-1\r\n");
    expect_raw(&mut raw, b"LPOS nokey a\r\n", b"$-1\r\n");
    expect_raw(&mut raw, b"LMOVE nokey other LEFT LEFT\r\n", b"$-1\r\n");
}

#[test]
fn pop_null_shapes_match_redis_in_resp3() {
    let s = TestServer::start();
    let mut raw = s.raw();
    raw.write_all(b"HELLO 3\r\n").unwrap();
    read_until(&mut raw, b"modules\r\n*0\r\n");
    expect_raw(&mut raw, b"LPOP nokey\r\n", b"_\r\n");
    expect_raw(&mut raw, b"RPOP nokey 2\r\n", b"_\r\n");
    expect_raw(&mut raw, b"LMPOP 1 nokey RIGHT\r\n", b"_\r\n");
    expect_raw(&mut raw, b"RPUSH l a\r\n", b":1\r\n");
    expect_raw(&mut raw, b"LPOP l 0\r\n", b"*0\r\n");
}

#[test]
fn pop_count_must_be_a_positive_integer() {
    let s = TestServer::start();
    let mut c = s.conn();
    rpush(&mut c, "l", &["a"]);
    assert_eq!(err(&mut c, &["LPOP", "l", "-1"]), MUST_BE_POSITIVE);
    assert_eq!(err(&mut c, &["RPOP", "l", "x"]), MUST_BE_POSITIVE);
    // The count is checked before the key.
    assert_eq!(err(&mut c, &["LPOP", "nokey", "-1"]), MUST_BE_POSITIVE);
    assert_eq!(
        err(&mut c, &["LPOP", "l", "1", "2"]),
        "ERR wrong number of arguments for 'lpop' command"
    );
}

#[test]
fn popping_the_last_element_removes_the_key() {
    let s = TestServer::start();
    let mut c = s.conn();
    rpush(&mut c, "l", &["a", "b"]);
    bulk(&mut c, &["LPOP", "l"]);
    bulk(&mut c, &["RPOP", "l"]);
    assert!(!exists(&mut c, "l"));
    assert_eq!(int(&mut c, &["DBSIZE"]), 0);
    // A new list at the same key starts empty.
    rpush(&mut c, "l", &["z"]);
    assert_eq!(range(&mut c, "l"), ["z"]);
}

// ---------------------------------------------------------------------------------------------
// LLEN, LINDEX, LSET

#[test]
fn llen_of_a_missing_key_is_zero() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["LLEN", "nokey"]), 0);
}

#[test]
fn lindex_accepts_negative_indexes_and_is_nil_out_of_range() {
    let s = TestServer::start();
    let mut c = s.conn();
    rpush(&mut c, "l", &["a", "b", "c"]);
    assert_eq!(bulk(&mut c, &["LINDEX", "l", "0"]).as_deref(), Some("a"));
    assert_eq!(bulk(&mut c, &["LINDEX", "l", "2"]).as_deref(), Some("c"));
    assert_eq!(bulk(&mut c, &["LINDEX", "l", "-1"]).as_deref(), Some("c"));
    assert_eq!(bulk(&mut c, &["LINDEX", "l", "-3"]).as_deref(), Some("a"));
    assert_eq!(bulk(&mut c, &["LINDEX", "l", "3"]), None);
    assert_eq!(bulk(&mut c, &["LINDEX", "l", "-4"]), None);
    assert_eq!(bulk(&mut c, &["LINDEX", "nokey", "0"]), None);
}

#[test]
fn lindex_looks_up_the_key_before_parsing_the_index() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(bulk(&mut c, &["LINDEX", "nokey", "notanumber"]), None);
    rpush(&mut c, "l", &["a"]);
    assert_eq!(err(&mut c, &["LINDEX", "l", "notanumber"]), NOT_INT);
}

#[test]
fn lset_replaces_by_index() {
    let s = TestServer::start();
    let mut c = s.conn();
    rpush(&mut c, "l", &["a", "b", "c"]);
    assert_eq!(val(&mut c, &["LSET", "l", "1", "B"]), Value::Okay);
    assert_eq!(val(&mut c, &["LSET", "l", "-1", "C"]), Value::Okay);
    assert_eq!(range(&mut c, "l"), ["a", "B", "C"]);
}

#[test]
fn lset_errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(err(&mut c, &["LSET", "nokey", "0", "x"]), "ERR no such key");
    assert_eq!(
        err(&mut c, &["LSET", "nokey", "bad", "x"]),
        "ERR no such key"
    );
    rpush(&mut c, "l", &["a"]);
    assert_eq!(
        err(&mut c, &["LSET", "l", "1", "x"]),
        "ERR index out of range"
    );
    assert_eq!(
        err(&mut c, &["LSET", "l", "-2", "x"]),
        "ERR index out of range"
    );
    assert_eq!(err(&mut c, &["LSET", "l", "bad", "x"]), NOT_INT);
}

// ---------------------------------------------------------------------------------------------
// LRANGE, LTRIM

#[test]
fn lrange_handles_negative_and_out_of_range_indexes() {
    let s = TestServer::start();
    let mut c = s.conn();
    rpush(&mut c, "l", &["0", "1", "2", "3", "4"]);
    assert_eq!(strs(&mut c, &["LRANGE", "l", "1", "3"]), ["1", "2", "3"]);
    assert_eq!(strs(&mut c, &["LRANGE", "l", "-2", "-1"]), ["3", "4"]);
    assert_eq!(strs(&mut c, &["LRANGE", "l", "-100", "1"]), ["0", "1"]);
    assert_eq!(strs(&mut c, &["LRANGE", "l", "3", "100"]), ["3", "4"]);
    assert!(strs(&mut c, &["LRANGE", "l", "3", "1"]).is_empty());
    assert!(strs(&mut c, &["LRANGE", "l", "5", "10"]).is_empty());
    assert!(strs(&mut c, &["LRANGE", "l", "0", "-6"]).is_empty());
    assert!(strs(&mut c, &["LRANGE", "nokey", "0", "-1"]).is_empty());
    assert_eq!(err(&mut c, &["LRANGE", "l", "a", "1"]), NOT_INT);
    assert_eq!(err(&mut c, &["LRANGE", "l", "0", "1.5"]), NOT_INT);
}

#[test]
fn ltrim_keeps_the_range() {
    let s = TestServer::start();
    let mut c = s.conn();
    rpush(&mut c, "l", &["0", "1", "2", "3", "4", "5"]);
    assert_eq!(val(&mut c, &["LTRIM", "l", "1", "-2"]), Value::Okay);
    assert_eq!(range(&mut c, "l"), ["1", "2", "3", "4"]);
    assert_eq!(val(&mut c, &["LTRIM", "l", "-100", "100"]), Value::Okay);
    assert_eq!(range(&mut c, "l"), ["1", "2", "3", "4"]);
    assert_eq!(val(&mut c, &["LTRIM", "l", "2", "2"]), Value::Okay);
    assert_eq!(range(&mut c, "l"), ["3"]);
    // Pushes after a trim extend the right ends.
    int(&mut c, &["LPUSH", "l", "x"]);
    int(&mut c, &["RPUSH", "l", "y"]);
    assert_eq!(range(&mut c, "l"), ["x", "3", "y"]);
}

#[test]
fn ltrim_to_an_empty_range_removes_the_key() {
    let s = TestServer::start();
    let mut c = s.conn();
    rpush(&mut c, "l", &["a", "b"]);
    assert_eq!(val(&mut c, &["LTRIM", "l", "1", "0"]), Value::Okay);
    assert!(!exists(&mut c, "l"));
    rpush(&mut c, "l", &["a", "b"]);
    assert_eq!(val(&mut c, &["LTRIM", "l", "5", "10"]), Value::Okay);
    assert!(!exists(&mut c, "l"));
    assert_eq!(val(&mut c, &["LTRIM", "nokey", "0", "1"]), Value::Okay);
    assert_eq!(err(&mut c, &["LTRIM", "l", "x", "1"]), NOT_INT);
}

// ---------------------------------------------------------------------------------------------
// LINSERT, LREM, LPOS

#[test]
fn linsert_before_and_after_the_first_pivot() {
    let s = TestServer::start();
    let mut c = s.conn();
    rpush(&mut c, "l", &["a", "p", "b", "p"]);
    assert_eq!(int(&mut c, &["LINSERT", "l", "BEFORE", "p", "x"]), 5);
    assert_eq!(int(&mut c, &["LINSERT", "l", "after", "p", "y"]), 6);
    assert_eq!(range(&mut c, "l"), ["a", "x", "p", "y", "b", "p"]);
    assert_eq!(int(&mut c, &["LINSERT", "l", "AFTER", "p", "z"]), 7);
    assert_eq!(int(&mut c, &["LINSERT", "l", "BEFORE", "a", "first"]), 8);
    assert_eq!(int(&mut c, &["LINSERT", "l", "AFTER", "b", "q"]), 9);
    assert_eq!(
        range(&mut c, "l"),
        ["first", "a", "x", "p", "z", "y", "b", "q", "p"]
    );
}

#[test]
fn linsert_without_pivot_or_key() {
    let s = TestServer::start();
    let mut c = s.conn();
    rpush(&mut c, "l", &["a"]);
    assert_eq!(int(&mut c, &["LINSERT", "l", "BEFORE", "zz", "x"]), -1);
    assert_eq!(int(&mut c, &["LINSERT", "nokey", "BEFORE", "a", "x"]), 0);
    assert!(!exists(&mut c, "nokey"));
    assert_eq!(err(&mut c, &["LINSERT", "l", "MIDDLE", "a", "x"]), SYNTAX);
}

#[test]
fn lrem_positive_negative_and_zero_counts() {
    let s = TestServer::start();
    let mut c = s.conn();
    rpush(&mut c, "l", &["x", "a", "x", "b", "x", "c", "x"]);
    assert_eq!(int(&mut c, &["LREM", "l", "2", "x"]), 2);
    assert_eq!(range(&mut c, "l"), ["a", "b", "x", "c", "x"]);
    assert_eq!(int(&mut c, &["LREM", "l", "-1", "x"]), 1);
    assert_eq!(range(&mut c, "l"), ["a", "b", "x", "c"]);
    assert_eq!(int(&mut c, &["LREM", "l", "0", "x"]), 1);
    assert_eq!(range(&mut c, "l"), ["a", "b", "c"]);
    assert_eq!(int(&mut c, &["LREM", "l", "0", "zz"]), 0);
    assert_eq!(int(&mut c, &["LREM", "nokey", "0", "a"]), 0);
    assert_eq!(err(&mut c, &["LREM", "l", "x", "a"]), NOT_INT);
}

#[test]
fn lrem_of_every_element_removes_the_key() {
    let s = TestServer::start();
    let mut c = s.conn();
    rpush(&mut c, "l", &["x", "x", "x"]);
    assert_eq!(int(&mut c, &["LREM", "l", "0", "x"]), 3);
    assert!(!exists(&mut c, "l"));
}

#[test]
fn lpos_finds_matches_with_rank_count_and_maxlen() {
    let s = TestServer::start();
    let mut c = s.conn();
    rpush(&mut c, "l", &["a", "b", "c", "1", "2", "3", "c", "c"]);
    assert_eq!(int(&mut c, &["LPOS", "l", "c"]), 2);
    assert_eq!(int(&mut c, &["LPOS", "l", "c", "RANK", "2"]), 6);
    assert_eq!(int(&mut c, &["LPOS", "l", "c", "RANK", "-1"]), 7);
    assert_eq!(int(&mut c, &["LPOS", "l", "c", "RANK", "-3"]), 2);
    assert_eq!(bulk(&mut c, &["LPOS", "l", "c", "RANK", "4"]), None);
    let all: Vec<i64> = cmd(&mut c, &["LPOS", "l", "c", "COUNT", "0"]).unwrap();
    assert_eq!(all, [2, 6, 7]);
    let two: Vec<i64> = cmd(&mut c, &["LPOS", "l", "c", "COUNT", "2"]).unwrap();
    assert_eq!(two, [2, 6]);
    let back: Vec<i64> = cmd(&mut c, &["LPOS", "l", "c", "RANK", "-1", "COUNT", "2"]).unwrap();
    assert_eq!(back, [7, 6]);
    let limited: Vec<i64> = cmd(&mut c, &["LPOS", "l", "c", "COUNT", "0", "MAXLEN", "7"]).unwrap();
    assert_eq!(limited, [2, 6]);
    assert_eq!(bulk(&mut c, &["LPOS", "l", "c", "MAXLEN", "2"]), None);
    assert_eq!(bulk(&mut c, &["LPOS", "l", "zz"]), None);
    let none: Vec<i64> = cmd(&mut c, &["LPOS", "l", "zz", "COUNT", "0"]).unwrap();
    assert!(none.is_empty());
    assert_eq!(bulk(&mut c, &["LPOS", "nokey", "a"]), None);
    assert_eq!(
        val(&mut c, &["LPOS", "nokey", "a", "COUNT", "1"]),
        Value::Array(vec![])
    );
}

#[test]
fn lpos_option_errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    rpush(&mut c, "l", &["a"]);
    assert!(err(&mut c, &["LPOS", "l", "a", "RANK", "0"]).starts_with("ERR RANK can't be zero"));
    assert_eq!(err(&mut c, &["LPOS", "l", "a", "RANK", "x"]), NOT_INT);
    assert_eq!(
        err(&mut c, &["LPOS", "l", "a", "COUNT", "-1"]),
        "ERR COUNT can't be negative"
    );
    assert_eq!(
        err(&mut c, &["LPOS", "l", "a", "MAXLEN", "-1"]),
        "ERR MAXLEN can't be negative"
    );
    assert_eq!(err(&mut c, &["LPOS", "l", "a", "COUNT"]), SYNTAX);
    assert_eq!(err(&mut c, &["LPOS", "l", "a", "BOGUS", "1"]), SYNTAX);
}

// ---------------------------------------------------------------------------------------------
// LMOVE, RPOPLPUSH

#[test]
fn lmove_in_all_four_directions() {
    let s = TestServer::start();
    let mut c = s.conn();
    rpush(&mut c, "src", &["1", "2", "3", "4"]);
    rpush(&mut c, "dst", &["x"]);
    let cases = [
        ("LEFT", "LEFT", "1"),
        ("LEFT", "RIGHT", "2"),
        ("RIGHT", "LEFT", "4"),
        ("RIGHT", "RIGHT", "3"),
    ];
    for (from, to, moved) in cases {
        assert_eq!(
            bulk(&mut c, &["LMOVE", "src", "dst", from, to]).as_deref(),
            Some(moved)
        );
    }
    assert_eq!(range(&mut c, "dst"), ["4", "1", "x", "2", "3"]);
    assert!(!exists(&mut c, "src"));
}

#[test]
fn lmove_on_one_key_rotates() {
    let s = TestServer::start();
    let mut c = s.conn();
    rpush(&mut c, "l", &["a", "b", "c"]);
    assert_eq!(
        bulk(&mut c, &["LMOVE", "l", "l", "LEFT", "RIGHT"]).as_deref(),
        Some("a")
    );
    assert_eq!(range(&mut c, "l"), ["b", "c", "a"]);
    assert_eq!(bulk(&mut c, &["RPOPLPUSH", "l", "l"]).as_deref(), Some("a"));
    assert_eq!(range(&mut c, "l"), ["a", "b", "c"]);
    rpush(&mut c, "one", &["x"]);
    for (from, to) in [
        ("LEFT", "LEFT"),
        ("LEFT", "RIGHT"),
        ("RIGHT", "LEFT"),
        ("RIGHT", "RIGHT"),
    ] {
        assert_eq!(
            bulk(&mut c, &["LMOVE", "one", "one", from, to]).as_deref(),
            Some("x")
        );
        assert_eq!(range(&mut c, "one"), ["x"]);
    }
    assert_eq!(int(&mut c, &["LLEN", "one"]), 1);
}

#[test]
fn lmove_errors_and_missing_source() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        bulk(&mut c, &["LMOVE", "nokey", "dst", "LEFT", "LEFT"]),
        None
    );
    assert!(!exists(&mut c, "dst"));
    assert_eq!(err(&mut c, &["LMOVE", "a", "b", "UP", "LEFT"]), SYNTAX);
    assert_eq!(err(&mut c, &["LMOVE", "a", "b", "LEFT", "DOWN"]), SYNTAX);
    rpush(&mut c, "src", &["1"]);
    let _: () = cmd(&mut c, &["SET", "str", "v"]).unwrap();
    assert_eq!(
        err(&mut c, &["LMOVE", "src", "str", "LEFT", "LEFT"]),
        WRONGTYPE
    );
    assert_eq!(err(&mut c, &["RPOPLPUSH", "str", "src"]), WRONGTYPE);
    // Nothing moved on error.
    assert_eq!(range(&mut c, "src"), ["1"]);
    // A missing source is nil even when the destination has the wrong type.
    assert_eq!(bulk(&mut c, &["RPOPLPUSH", "nokey", "str"]), None);
}

#[test]
fn rpoplpush_moves_tail_to_head() {
    let s = TestServer::start();
    let mut c = s.conn();
    rpush(&mut c, "a", &["1", "2"]);
    assert_eq!(bulk(&mut c, &["RPOPLPUSH", "a", "b"]).as_deref(), Some("2"));
    assert_eq!(bulk(&mut c, &["RPOPLPUSH", "a", "b"]).as_deref(), Some("1"));
    assert_eq!(range(&mut c, "b"), ["1", "2"]);
    assert!(!exists(&mut c, "a"));
}

// ---------------------------------------------------------------------------------------------
// LMPOP

#[test]
fn lmpop_pops_from_the_first_non_empty_list() {
    let s = TestServer::start();
    let mut c = s.conn();
    rpush(&mut c, "l2", &["a", "b", "c"]);
    assert_eq!(
        val(&mut c, &["LMPOP", "2", "l1", "l2", "LEFT"]),
        Value::Array(vec![b("l2"), Value::Array(vec![b("a")])])
    );
    assert_eq!(
        val(&mut c, &["LMPOP", "2", "l1", "l2", "RIGHT", "COUNT", "5"]),
        Value::Array(vec![b("l2"), Value::Array(vec![b("c"), b("b")])])
    );
    assert!(!exists(&mut c, "l2"));
    assert_eq!(val(&mut c, &["LMPOP", "2", "l1", "l2", "LEFT"]), Value::Nil);
}

#[test]
fn lmpop_argument_errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    let numkeys = "ERR numkeys should be greater than 0";
    let count = "ERR count should be greater than 0";
    assert_eq!(err(&mut c, &["LMPOP", "0", "l", "LEFT"]), numkeys);
    assert_eq!(err(&mut c, &["LMPOP", "x", "l", "LEFT"]), numkeys);
    assert_eq!(err(&mut c, &["LMPOP", "3", "l", "LEFT"]), SYNTAX);
    assert_eq!(err(&mut c, &["LMPOP", "1", "l", "UP"]), SYNTAX);
    assert_eq!(
        err(&mut c, &["LMPOP", "1", "l", "LEFT", "COUNT", "0"]),
        count
    );
    assert_eq!(
        err(&mut c, &["LMPOP", "1", "l", "LEFT", "COUNT", "x"]),
        count
    );
    assert_eq!(err(&mut c, &["LMPOP", "1", "l", "LEFT", "COUNT"]), SYNTAX);
    assert_eq!(
        err(
            &mut c,
            &["LMPOP", "1", "l", "LEFT", "COUNT", "1", "COUNT", "1"]
        ),
        SYNTAX
    );
    assert_eq!(
        err(&mut c, &["LMPOP", "99999999999999999999", "l", "LEFT"]),
        numkeys
    );
}

#[test]
fn lmpop_wrong_type_before_a_non_empty_list_is_an_error() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "str", "v"]).unwrap();
    rpush(&mut c, "l", &["a"]);
    assert_eq!(err(&mut c, &["LMPOP", "2", "str", "l", "LEFT"]), WRONGTYPE);
    assert_eq!(
        val(&mut c, &["LMPOP", "2", "l", "str", "LEFT"]),
        Value::Array(vec![b("l"), Value::Array(vec![b("a")])])
    );
}

#[test]
fn command_getkeys_finds_lmpop_and_blmpop_keys() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        strs(
            &mut c,
            &["COMMAND", "GETKEYS", "LMPOP", "2", "a", "b", "LEFT"]
        ),
        ["a", "b"]
    );
    assert_eq!(
        strs(
            &mut c,
            &["COMMAND", "GETKEYS", "BLMPOP", "0", "1", "k", "RIGHT", "COUNT", "2"]
        ),
        ["k"]
    );
    assert_eq!(
        strs(&mut c, &["COMMAND", "GETKEYS", "BLPOP", "a", "b", "0"]),
        ["a", "b"]
    );
}

// ---------------------------------------------------------------------------------------------
// Blocking commands with data present (served at once)

#[test]
fn blpop_and_brpop_serve_the_first_non_empty_list() {
    let s = TestServer::start();
    let mut c = s.conn();
    rpush(&mut c, "l2", &["a", "b", "c"]);
    assert_eq!(strs(&mut c, &["BLPOP", "l1", "l2", "0"]), ["l2", "a"]);
    assert_eq!(strs(&mut c, &["BRPOP", "l1", "l2", "1.5"]), ["l2", "c"]);
    assert_eq!(strs(&mut c, &["BLPOP", "l2", "0"]), ["l2", "b"]);
    assert!(!exists(&mut c, "l2"));
}

#[test]
fn blocking_pop_timeout_errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    rpush(&mut c, "l", &["a"]);
    assert_eq!(
        err(&mut c, &["BLPOP", "l", "-1"]),
        "ERR timeout is negative"
    );
    assert_eq!(
        err(&mut c, &["BRPOP", "l", "abc"]),
        "ERR timeout is not a float or out of range"
    );
    assert_eq!(
        err(&mut c, &["BLMOVE", "l", "d", "LEFT", "LEFT", "-1"]),
        "ERR timeout is negative"
    );
    assert_eq!(
        err(&mut c, &["BRPOPLPUSH", "l", "d", "x"]),
        "ERR timeout is not a float or out of range"
    );
    assert_eq!(
        err(&mut c, &["BLMPOP", "-1", "1", "l", "LEFT"]),
        "ERR timeout is negative"
    );
    // Nothing was popped by the failed calls.
    assert_eq!(range(&mut c, "l"), ["a"]);
}

#[test]
fn blocking_pop_on_a_wrong_type_key_is_an_error() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "str", "v"]).unwrap();
    assert_eq!(err(&mut c, &["BLPOP", "str", "0"]), WRONGTYPE);
    assert_eq!(
        err(&mut c, &["BLMOVE", "str", "d", "LEFT", "LEFT", "0"]),
        WRONGTYPE
    );
    assert_eq!(err(&mut c, &["BLMPOP", "0", "1", "str", "LEFT"]), WRONGTYPE);
}

#[test]
fn blmove_and_brpoplpush_move_when_data_is_present() {
    let s = TestServer::start();
    let mut c = s.conn();
    rpush(&mut c, "src", &["1", "2", "3"]);
    assert_eq!(
        bulk(&mut c, &["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"]).as_deref(),
        Some("1")
    );
    assert_eq!(
        bulk(&mut c, &["BRPOPLPUSH", "src", "dst", "0"]).as_deref(),
        Some("3")
    );
    assert_eq!(range(&mut c, "dst"), ["3", "1"]);
    assert_eq!(range(&mut c, "src"), ["2"]);
    assert_eq!(
        err(&mut c, &["BLMOVE", "src", "dst", "UP", "LEFT", "0"]),
        SYNTAX
    );
}

#[test]
fn blmpop_serves_with_count() {
    let s = TestServer::start();
    let mut c = s.conn();
    rpush(&mut c, "l", &["a", "b", "c"]);
    assert_eq!(
        val(
            &mut c,
            &["BLMPOP", "0", "2", "nokey", "l", "LEFT", "COUNT", "2"]
        ),
        Value::Array(vec![b("l"), Value::Array(vec![b("a"), b("b")])])
    );
    assert_eq!(
        err(&mut c, &["BLMPOP", "0", "0", "l", "LEFT"]),
        "ERR numkeys should be greater than 0"
    );
    assert_eq!(err(&mut c, &["BLMPOP", "0", "1", "l", "SIDEWAYS"]), SYNTAX);
}

// ---------------------------------------------------------------------------------------------
// Types, persistence, large lists

#[test]
fn every_list_command_rejects_a_wrong_type_key() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "k", "v"]).unwrap();
    let calls: &[&[&str]] = &[
        &["LPUSH", "k", "a"],
        &["RPUSH", "k", "a"],
        &["LPUSHX", "k", "a"],
        &["RPUSHX", "k", "a"],
        &["LPOP", "k"],
        &["RPOP", "k", "2"],
        &["LLEN", "k"],
        &["LINDEX", "k", "0"],
        &["LRANGE", "k", "0", "-1"],
        &["LSET", "k", "0", "a"],
        &["LINSERT", "k", "BEFORE", "a", "b"],
        &["LREM", "k", "0", "a"],
        &["LTRIM", "k", "0", "1"],
        &["LPOS", "k", "a"],
        &["LMOVE", "k", "d", "LEFT", "LEFT"],
        &["RPOPLPUSH", "k", "d"],
        &["LMPOP", "1", "k", "LEFT"],
        &["BRPOP", "k", "0"],
        &["BRPOPLPUSH", "k", "d", "0"],
    ];
    for call in calls {
        assert_eq!(err(&mut c, call), WRONGTYPE, "{call:?}");
    }
    assert_eq!(bulk(&mut c, &["GET", "k"]).as_deref(), Some("v"));
}

#[test]
fn lists_survive_a_restart() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    rpush(&mut c, "l", &["a", "b", "c", "d"]);
    int(&mut c, &["LPUSH", "l", "z"]);
    bulk(&mut c, &["RPOP", "l"]);
    int(&mut c, &["LINSERT", "l", "AFTER", "b", "x"]);
    drop(c);
    s.restart();
    let mut c = s.conn();
    assert_eq!(range(&mut c, "l"), ["z", "a", "b", "x", "c"]);
    assert_eq!(int(&mut c, &["LLEN", "l"]), 5);
    int(&mut c, &["LPUSH", "l", "y"]);
    assert_eq!(bulk(&mut c, &["LINDEX", "l", "0"]).as_deref(), Some("y"));
    s.kill9();
    s.restart();
    let mut c = s.conn();
    assert_eq!(range(&mut c, "l"), ["y", "z", "a", "b", "x", "c"]);
}

#[test]
fn large_list_point_and_range_access_at_both_ends_and_the_middle() {
    let s = TestServer::start();
    let mut c = s.conn();
    const N: usize = 10_000;
    let mut p = redis::pipe();
    for chunk in (0..N).collect::<Vec<_>>().chunks(1000) {
        let r = p.cmd("RPUSH").arg("big");
        for i in chunk {
            r.arg(i.to_string());
        }
        r.ignore();
    }
    let _: () = p.query(&mut c).unwrap();
    assert_eq!(int(&mut c, &["LLEN", "big"]), N as i64);
    let seq = |a: usize, b: usize| (a..=b).map(|i| i.to_string()).collect::<Vec<_>>();
    assert_eq!(strs(&mut c, &["LRANGE", "big", "0", "9"]), seq(0, 9));
    assert_eq!(
        strs(&mut c, &["LRANGE", "big", "-10", "-1"]),
        seq(N - 10, N - 1)
    );
    assert_eq!(
        strs(&mut c, &["LRANGE", "big", "4995", "5004"]),
        seq(4995, 5004)
    );
    assert_eq!(strs(&mut c, &["LRANGE", "big", "0", "-1"]).len(), N);
    for (idx, want) in [
        ("0", "0"),
        ("-1", "9999"),
        ("5000", "5000"),
        ("-5000", "5000"),
    ] {
        assert_eq!(bulk(&mut c, &["LINDEX", "big", idx]).as_deref(), Some(want));
    }
    for idx in ["0", "5000", "-1"] {
        assert_eq!(val(&mut c, &["LSET", "big", idx, "set"]), Value::Okay);
        assert_eq!(
            bulk(&mut c, &["LINDEX", "big", idx]).as_deref(),
            Some("set")
        );
    }
    assert_eq!(strs(&mut c, &["LPOP", "big", "3"]), ["set", "1", "2"]);
    assert_eq!(strs(&mut c, &["RPOP", "big", "2"]), ["set", "9998"]);
    assert_eq!(bulk(&mut c, &["LINDEX", "big", "0"]).as_deref(), Some("3"));
    assert_eq!(
        bulk(&mut c, &["LINDEX", "big", "4997"]).as_deref(),
        Some("set")
    );
    assert_eq!(
        int(&mut c, &["LINSERT", "big", "BEFORE", "7000", "mid"]),
        (N - 4) as i64
    );
    assert_eq!(
        bulk(&mut c, &["LINDEX", "big", "6997"]).as_deref(),
        Some("mid")
    );
    assert_eq!(int(&mut c, &["LREM", "big", "0", "mid"]), 1);
    assert_eq!(int(&mut c, &["LPOS", "big", "7000"]), 6997);
    assert_eq!(val(&mut c, &["LTRIM", "big", "100", "-101"]), Value::Okay);
    assert_eq!(int(&mut c, &["LLEN", "big"]), (N - 5 - 200) as i64);
    assert_eq!(
        bulk(&mut c, &["LINDEX", "big", "0"]).as_deref(),
        Some("103")
    );
    assert_eq!(
        bulk(&mut c, &["LINDEX", "big", "-1"]).as_deref(),
        Some("9897")
    );
}

/// Applies random list operations to the server and to a `Vec` model, comparing after each.
#[test]
fn random_operations_match_a_vec_model() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut rng = StdRng::seed_from_u64(0x5eed_1157);
    let mut model: Vec<String> = Vec::new();
    let words = ["a", "b", "c", "d", "e"];
    for step in 0..1500 {
        let w = words[rng.gen_range(0..words.len())].to_string();
        let len = model.len() as i64;
        match rng.gen_range(0..10) {
            0 | 1 => {
                int(&mut c, &["RPUSH", "m", &w]);
                model.push(w);
            }
            2 => {
                int(&mut c, &["LPUSH", "m", &w]);
                model.insert(0, w);
            }
            3 => {
                let pivot = words[rng.gen_range(0..words.len())];
                let after = rng.gen_bool(0.5);
                let got = int(
                    &mut c,
                    &[
                        "LINSERT",
                        "m",
                        if after { "AFTER" } else { "BEFORE" },
                        pivot,
                        &w,
                    ],
                );
                let want = match model.iter().position(|x| x == pivot) {
                    Some(p) => {
                        model.insert(p + usize::from(after), w);
                        model.len() as i64
                    }
                    None if model.is_empty() => 0,
                    None => -1,
                };
                assert_eq!(got, want, "step {step} LINSERT");
            }
            4 => {
                let count: i64 = rng.gen_range(-3..=3);
                let got = int(&mut c, &["LREM", "m", &count.to_string(), &w]);
                let mut removed = 0;
                let limit = if count == 0 {
                    usize::MAX
                } else {
                    count.unsigned_abs() as usize
                };
                if count >= 0 {
                    let mut i = 0;
                    while i < model.len() && removed < limit {
                        if model[i] == w {
                            model.remove(i);
                            removed += 1;
                        } else {
                            i += 1;
                        }
                    }
                } else {
                    let mut i = model.len();
                    while i > 0 && removed < limit {
                        i -= 1;
                        if model[i] == w {
                            model.remove(i);
                            removed += 1;
                        }
                    }
                }
                assert_eq!(got, removed as i64, "step {step} LREM");
            }
            5 => {
                let n = rng.gen_range(1..4);
                let left = rng.gen_bool(0.5);
                let got: Option<Vec<String>> = cmd(
                    &mut c,
                    &[if left { "LPOP" } else { "RPOP" }, "m", &n.to_string()],
                )
                .unwrap();
                let take = n.min(model.len());
                let want: Option<Vec<String>> = if model.is_empty() {
                    None
                } else if left {
                    Some(model.drain(..take).collect())
                } else {
                    Some(model.drain(model.len() - take..).rev().collect())
                };
                assert_eq!(got, want, "step {step} POP");
            }
            6 if len > 0 => {
                let i = rng.gen_range(-len..len);
                assert_eq!(val(&mut c, &["LSET", "m", &i.to_string(), &w]), Value::Okay);
                let p = if i < 0 { len + i } else { i } as usize;
                model[p] = w;
            }
            7 if len > 8 => {
                let start = rng.gen_range(-len..len / 2);
                let stop = rng.gen_range(-2..len + 2);
                let _: () = cmd(
                    &mut c,
                    &["LTRIM", "m", &start.to_string(), &stop.to_string()],
                )
                .unwrap();
                let st = if start < 0 {
                    (len + start).max(0)
                } else {
                    start
                };
                let sp = if stop < 0 {
                    len + stop
                } else {
                    stop.min(len - 1)
                };
                model = if st > sp || st >= len {
                    Vec::new()
                } else {
                    model[st as usize..=sp as usize].to_vec()
                };
            }
            8 if len > 0 => {
                let from = if rng.gen_bool(0.5) { "LEFT" } else { "RIGHT" };
                let to = if rng.gen_bool(0.5) { "LEFT" } else { "RIGHT" };
                let got = bulk(&mut c, &["LMOVE", "m", "m", from, to]).unwrap();
                let v = if from == "LEFT" {
                    model.remove(0)
                } else {
                    model.pop().unwrap()
                };
                assert_eq!(got, v);
                if to == "LEFT" {
                    model.insert(0, v);
                } else {
                    model.push(v);
                }
            }
            _ => {
                if len > 0 {
                    let i = rng.gen_range(-len..len);
                    let p = if i < 0 { len + i } else { i } as usize;
                    assert_eq!(
                        bulk(&mut c, &["LINDEX", "m", &i.to_string()]).as_deref(),
                        Some(model[p].as_str())
                    );
                }
            }
        }
        assert_eq!(range(&mut c, "m"), model, "step {step}");
        assert_eq!(int(&mut c, &["LLEN", "m"]), model.len() as i64);
        assert_eq!(exists(&mut c, "m"), !model.is_empty());
    }
}

/// LINSERT and LREM on a longer list, at positions spread over it, so both the head side and
/// the tail side get shifted.
#[test]
fn insert_and_remove_shift_either_side_correctly() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut rng = StdRng::seed_from_u64(42);
    let mut model: Vec<String> = (0..300).map(|i| format!("e{i}")).collect();
    let mut p = redis::pipe();
    p.cmd("RPUSH").arg("l").arg(&model).ignore();
    let _: () = p.query(&mut c).unwrap();
    for round in 0..200 {
        let pos = rng.gen_range(0..model.len());
        let pivot = model[pos].clone();
        if rng.gen_bool(0.6) {
            let after = rng.gen_bool(0.5);
            let v = format!("n{round}");
            let got = int(
                &mut c,
                &[
                    "LINSERT",
                    "l",
                    if after { "AFTER" } else { "BEFORE" },
                    &pivot,
                    &v,
                ],
            );
            let first = model.iter().position(|x| *x == pivot).unwrap();
            model.insert(first + usize::from(after), v);
            assert_eq!(got, model.len() as i64);
        } else {
            // Duplicate a few elements, then remove all copies at once.
            let dup = model[pos].clone();
            let at = rng.gen_range(0..model.len());
            let _: i64 = cmd(
                &mut c,
                &["LINSERT", "l", "BEFORE", &model[at].clone(), &dup],
            )
            .unwrap();
            model.insert(at, dup.clone());
            let got = int(&mut c, &["LREM", "l", "0", &dup]);
            let before = model.len();
            model.retain(|x| *x != dup);
            assert_eq!(got, (before - model.len()) as i64);
        }
        assert_eq!(range(&mut c, "l"), model, "round {round}");
    }
}

// ---------------------------------------------------------------------------------------------
// Blocking commands that wait

/// Runs `args` on a new connection in a thread; the handle yields its reply.
fn in_background(s: &TestServer, args: &[&str]) -> std::thread::JoinHandle<Value> {
    let mut c = s.conn();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    std::thread::spawn(move || {
        let refs: Vec<&str> = args.iter().map(|a| a.as_str()).collect();
        cmd(&mut c, &refs).unwrap()
    })
}

/// Waits until `n` clients are blocked (INFO clients), so a push lands after the wait began.
fn wait_blocked(c: &mut redis::Connection, n: usize) {
    let want = format!("blocked_clients:{n}\r");
    for _ in 0..500 {
        let info: String = cmd(c, &["INFO", "clients"]).unwrap();
        if info.contains(&want) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    panic!("never saw {n} blocked clients");
}

#[test]
fn blpop_waits_for_a_push() {
    let s = TestServer::start();
    let mut c = s.conn();
    let waiter = in_background(&s, &["BLPOP", "q1", "q2", "5"]);
    wait_blocked(&mut c, 1);
    rpush(&mut c, "q2", &["x", "y"]);
    assert_eq!(waiter.join().unwrap(), Value::Array(vec![b("q2"), b("x")]));
    assert_eq!(range(&mut c, "q2"), ["y"]);
}

#[test]
fn blocking_pops_time_out_with_redis_null_shapes() {
    let s = TestServer::start();
    let mut raw = s.raw();
    let started = std::time::Instant::now();
    expect_raw(&mut raw, b"BLPOP nokey 0.1\r\n", b"*-1\r\n");
    expect_raw(&mut raw, b"BRPOP nokey 0.1\r\n", b"*-1\r\n");
    expect_raw(&mut raw, b"BLMPOP 0.1 1 nokey LEFT\r\n", b"*-1\r\n");
    expect_raw(&mut raw, b"BLMOVE nokey d LEFT LEFT 0.1\r\n", b"$-1\r\n");
    expect_raw(&mut raw, b"BRPOPLPUSH nokey d 0.1\r\n", b"$-1\r\n");
    assert!(started.elapsed() >= std::time::Duration::from_millis(500));
}

#[test]
fn blmove_waits_and_moves() {
    let s = TestServer::start();
    let mut c = s.conn();
    let waiter = in_background(&s, &["BLMOVE", "src", "dst", "RIGHT", "LEFT", "5"]);
    wait_blocked(&mut c, 1);
    rpush(&mut c, "src", &["a", "b"]);
    assert_eq!(waiter.join().unwrap(), b("b"));
    assert_eq!(range(&mut c, "src"), ["a"]);
    assert_eq!(range(&mut c, "dst"), ["b"]);
}

#[test]
fn blmpop_waits_and_pops_with_count() {
    let s = TestServer::start();
    let mut c = s.conn();
    let waiter = in_background(&s, &["BLMPOP", "0", "2", "a", "b", "RIGHT", "COUNT", "2"]);
    wait_blocked(&mut c, 1);
    rpush(&mut c, "b", &["1", "2", "3"]);
    assert_eq!(
        waiter.join().unwrap(),
        Value::Array(vec![b("b"), Value::Array(vec![b("3"), b("2")])])
    );
    assert_eq!(range(&mut c, "b"), ["1"]);
}
