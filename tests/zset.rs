//! Sorted set commands, black-box: ZADD and its flags, point reads, the ZRANGE family, range
//! removals, pops, ZRANDMEMBER, set algebra, ZSCAN, RESP3 shapes and persistence.

mod common;

use common::{cmd, err, expect_raw, int, server_with_hash, TestServer, WRONGTYPE};
use pika::storage::types::Writer;
use redis::Value;

const SYNTAX: &str = "ERR syntax error";
const NOT_FLOAT: &str = "ERR value is not a valid float";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const RANGE_NOT_FLOAT: &str = "ERR min or max is not a float";
const LEX_INVALID: &str = "ERR min or max not valid string range item";

fn strs(c: &mut redis::Connection, args: &[&str]) -> Vec<String> {
    cmd(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn opt(c: &mut redis::Connection, args: &[&str]) -> Option<String> {
    cmd(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn value(c: &mut redis::Connection, args: &[&str]) -> Value {
    cmd(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// A zset `z` with a=1 b=2 c=3 d=4 e=5.
fn abcde(c: &mut redis::Connection) {
    assert_eq!(
        int(
            c,
            &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"]
        ),
        5
    );
}

// ---------------------------------------------------------------------------------------------
// ZADD

#[test]
fn zadd_counts_new_members_only() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["ZADD", "z", "1", "a", "2", "b"]), 2);
    assert_eq!(int(&mut c, &["ZADD", "z", "5", "a", "3", "c"]), 1);
    assert_eq!(opt(&mut c, &["ZSCORE", "z", "a"]).as_deref(), Some("5"));
    assert_eq!(int(&mut c, &["ZCARD", "z"]), 3);
}

#[test]
fn zadd_ch_counts_changed_scores() {
    let s = TestServer::start();
    let mut c = s.conn();
    int(&mut c, &["ZADD", "z", "1", "a", "2", "b"]);
    assert_eq!(
        int(&mut c, &["ZADD", "z", "CH", "1", "a", "3", "b", "4", "c"]),
        2
    );
}

#[test]
fn zadd_nx_and_xx() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["ZADD", "z", "XX", "1", "a"]), 0);
    assert_eq!(int(&mut c, &["EXISTS", "z"]), 0);
    int(&mut c, &["ZADD", "z", "1", "a"]);
    assert_eq!(int(&mut c, &["ZADD", "z", "NX", "9", "a", "2", "b"]), 1);
    assert_eq!(opt(&mut c, &["ZSCORE", "z", "a"]).as_deref(), Some("1"));
    assert_eq!(
        int(&mut c, &["ZADD", "z", "XX", "CH", "7", "a", "3", "new"]),
        1
    );
    assert_eq!(opt(&mut c, &["ZSCORE", "z", "a"]).as_deref(), Some("7"));
    assert_eq!(opt(&mut c, &["ZSCORE", "z", "new"]), None);
}

#[test]
fn zadd_gt_lt_only_move_scores_one_way() {
    let s = TestServer::start();
    let mut c = s.conn();
    int(&mut c, &["ZADD", "z", "5", "a"]);
    assert_eq!(int(&mut c, &["ZADD", "z", "GT", "CH", "3", "a"]), 0);
    assert_eq!(int(&mut c, &["ZADD", "z", "GT", "CH", "8", "a"]), 1);
    assert_eq!(int(&mut c, &["ZADD", "z", "LT", "CH", "9", "a"]), 0);
    assert_eq!(int(&mut c, &["ZADD", "z", "LT", "CH", "1", "a"]), 1);
    // GT/LT do not stop new members.
    assert_eq!(int(&mut c, &["ZADD", "z", "GT", "1", "b"]), 1);
}

#[test]
fn zadd_incr_returns_the_new_score() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        opt(&mut c, &["ZADD", "z", "INCR", "2.5", "a"]).as_deref(),
        Some("2.5")
    );
    assert_eq!(
        opt(&mut c, &["ZADD", "z", "INCR", "1", "a"]).as_deref(),
        Some("3.5")
    );
    assert_eq!(opt(&mut c, &["ZADD", "z", "NX", "INCR", "1", "a"]), None);
    assert_eq!(opt(&mut c, &["ZADD", "z", "XX", "INCR", "1", "b"]), None);
    assert_eq!(opt(&mut c, &["ZADD", "z", "GT", "INCR", "-1", "a"]), None);
}

#[test]
fn zadd_option_conflicts_and_syntax() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["ZADD", "z", "NX", "XX", "1", "a"]),
        "ERR XX and NX options at the same time are not compatible"
    );
    for flags in [["GT", "LT"], ["GT", "NX"], ["LT", "NX"]] {
        assert_eq!(
            err(&mut c, &["ZADD", "z", flags[0], flags[1], "1", "a"]),
            "ERR GT, LT, and/or NX options at the same time are not compatible"
        );
    }
    assert_eq!(
        err(&mut c, &["ZADD", "z", "INCR", "1", "a", "2", "b"]),
        "ERR INCR option supports a single increment-element pair"
    );
    assert_eq!(err(&mut c, &["ZADD", "z", "1", "a", "2"]), SYNTAX);
    assert_eq!(err(&mut c, &["ZADD", "z", "NX", "CH"]), SYNTAX);
    assert_eq!(err(&mut c, &["ZADD", "z", "1", "a", "x", "b"]), NOT_FLOAT);
    assert_eq!(err(&mut c, &["ZADD", "z", "nan", "a"]), NOT_FLOAT);
    // Nothing was written by the failed commands.
    assert_eq!(int(&mut c, &["EXISTS", "z"]), 0);
}

#[test]
fn zadd_incr_to_nan_is_an_error() {
    let s = TestServer::start();
    let mut c = s.conn();
    int(&mut c, &["ZADD", "z", "inf", "a"]);
    assert_eq!(
        err(&mut c, &["ZADD", "z", "INCR", "-inf", "a"]),
        "ERR resulting score is not a number (NaN)"
    );
    assert_eq!(
        err(&mut c, &["ZINCRBY", "z", "-inf", "a"]),
        "ERR resulting score is not a number (NaN)"
    );
    assert_eq!(opt(&mut c, &["ZSCORE", "z", "a"]).as_deref(), Some("inf"));
}

#[test]
fn zadd_repeated_member_in_one_call_keeps_the_last_score() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["ZADD", "z", "1", "a", "2", "a", "3", "a"]), 1);
    assert_eq!(int(&mut c, &["ZCARD", "z"]), 1);
    assert_eq!(
        strs(&mut c, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        ["a", "3"]
    );
    assert_eq!(int(&mut c, &["ZCOUNT", "z", "-inf", "+inf"]), 1);
}

#[test]
fn zset_commands_reject_other_types() {
    let s = server_with_hash("h");
    let mut c = s.conn();
    for args in [
        &["ZADD", "h", "1", "a"][..],
        &["ZSCORE", "h", "a"],
        &["ZCARD", "h"],
        &["ZRANGE", "h", "0", "-1"],
        &["ZRANK", "h", "a"],
        &["ZPOPMIN", "h"],
        &["ZUNION", "1", "h"],
        &["ZREM", "h", "a"],
    ] {
        assert_eq!(err(&mut c, args), WRONGTYPE, "{args:?}");
    }
}

#[test]
fn arity_errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["ZADD", "z", "1"]),
        "ERR wrong number of arguments for 'zadd' command"
    );
    assert_eq!(
        err(&mut c, &["ZSCORE", "z"]),
        "ERR wrong number of arguments for 'zscore' command"
    );
}

// ---------------------------------------------------------------------------------------------
// ZINCRBY, ZREM, point reads

#[test]
fn zincrby_creates_and_increments() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        opt(&mut c, &["ZINCRBY", "z", "1.5", "a"]).as_deref(),
        Some("1.5")
    );
    assert_eq!(
        opt(&mut c, &["ZINCRBY", "z", "-0.5", "a"]).as_deref(),
        Some("1")
    );
    assert_eq!(err(&mut c, &["ZINCRBY", "z", "x", "a"]), NOT_FLOAT);
}

#[test]
fn zrem_removes_and_deletes_empty_key() {
    let s = TestServer::start();
    let mut c = s.conn();
    int(&mut c, &["ZADD", "z", "1", "a", "2", "b"]);
    assert_eq!(int(&mut c, &["ZREM", "z", "a", "a", "x"]), 1);
    assert_eq!(int(&mut c, &["ZREM", "missing", "a"]), 0);
    assert_eq!(int(&mut c, &["ZREM", "z", "b"]), 1);
    assert_eq!(int(&mut c, &["EXISTS", "z"]), 0);
}

#[test]
fn zscore_and_zmscore() {
    let s = TestServer::start();
    let mut c = s.conn();
    int(&mut c, &["ZADD", "z", "1.1", "a", "-inf", "b"]);
    assert_eq!(
        opt(&mut c, &["ZSCORE", "z", "a"]).as_deref(),
        Some("1.1000000000000001")
    );
    assert_eq!(opt(&mut c, &["ZSCORE", "z", "b"]).as_deref(), Some("-inf"));
    assert_eq!(opt(&mut c, &["ZSCORE", "z", "x"]), None);
    assert_eq!(opt(&mut c, &["ZSCORE", "nokey", "x"]), None);
    let v: Vec<Option<String>> = cmd(&mut c, &["ZMSCORE", "z", "b", "x", "a"]).unwrap();
    assert_eq!(
        v,
        [
            Some("-inf".to_string()),
            None,
            Some("1.1000000000000001".to_string())
        ]
    );
    let v: Vec<Option<String>> = cmd(&mut c, &["ZMSCORE", "nokey", "a"]).unwrap();
    assert_eq!(v, [None]);
}

#[test]
fn zrank_and_zrevrank() {
    let s = TestServer::start();
    let mut c = s.conn();
    abcde(&mut c);
    assert_eq!(int(&mut c, &["ZRANK", "z", "a"]), 0);
    assert_eq!(int(&mut c, &["ZRANK", "z", "d"]), 3);
    assert_eq!(int(&mut c, &["ZREVRANK", "z", "d"]), 1);
    assert_eq!(opt(&mut c, &["ZRANK", "z", "x"]), None);
    assert_eq!(opt(&mut c, &["ZREVRANK", "nokey", "x"]), None);
}

#[test]
fn equal_scores_order_by_member() {
    let s = TestServer::start();
    let mut c = s.conn();
    int(
        &mut c,
        &["ZADD", "z", "1", "c", "1", "a", "1", "b", "0", "z"],
    );
    assert_eq!(
        strs(&mut c, &["ZRANGE", "z", "0", "-1"]),
        ["z", "a", "b", "c"]
    );
}

#[test]
fn negative_scores_sort_before_positive() {
    let s = TestServer::start();
    let mut c = s.conn();
    int(
        &mut c,
        &[
            "ZADD", "z", "-1.5", "n", "0", "zero", "2e10", "big", "-inf", "ninf", "inf", "pinf",
            "-1e-300", "tiny",
        ],
    );
    assert_eq!(
        strs(&mut c, &["ZRANGE", "z", "0", "-1"]),
        ["ninf", "n", "tiny", "zero", "big", "pinf"]
    );
}

// ---------------------------------------------------------------------------------------------
// ZRANGE family

#[test]
fn zrange_by_rank_with_negative_indexes() {
    let s = TestServer::start();
    let mut c = s.conn();
    abcde(&mut c);
    assert_eq!(
        strs(&mut c, &["ZRANGE", "z", "0", "-1"]),
        ["a", "b", "c", "d", "e"]
    );
    assert_eq!(strs(&mut c, &["ZRANGE", "z", "-2", "-1"]), ["d", "e"]);
    assert_eq!(strs(&mut c, &["ZRANGE", "z", "-100", "1"]), ["a", "b"]);
    assert_eq!(strs(&mut c, &["ZRANGE", "z", "3", "100"]), ["d", "e"]);
    assert!(strs(&mut c, &["ZRANGE", "z", "3", "1"]).is_empty());
    assert!(strs(&mut c, &["ZRANGE", "z", "10", "20"]).is_empty());
    assert!(strs(&mut c, &["ZRANGE", "nokey", "0", "-1"]).is_empty());
    assert_eq!(strs(&mut c, &["ZRANGE", "z", "0", "1", "REV"]), ["e", "d"]);
    assert_eq!(strs(&mut c, &["ZREVRANGE", "z", "-2", "-1"]), ["b", "a"]);
    assert_eq!(
        strs(&mut c, &["ZRANGE", "z", "1", "2", "WITHSCORES"]),
        ["b", "2", "c", "3"]
    );
    assert_eq!(err(&mut c, &["ZRANGE", "z", "a", "1"]), NOT_INT);
}

#[test]
fn zrange_byscore_inclusive_exclusive_and_infinite_bounds() {
    let s = TestServer::start();
    let mut c = s.conn();
    abcde(&mut c);
    assert_eq!(
        strs(&mut c, &["ZRANGEBYSCORE", "z", "2", "4"]),
        ["b", "c", "d"]
    );
    assert_eq!(strs(&mut c, &["ZRANGEBYSCORE", "z", "(2", "(4"]), ["c"]);
    assert_eq!(strs(&mut c, &["ZRANGEBYSCORE", "z", "-inf", "(2"]), ["a"]);
    assert_eq!(strs(&mut c, &["ZRANGEBYSCORE", "z", "(4", "+inf"]), ["e"]);
    assert!(strs(&mut c, &["ZRANGEBYSCORE", "z", "(3", "(3"]).is_empty());
    assert!(strs(&mut c, &["ZRANGEBYSCORE", "z", "4", "2"]).is_empty());
    assert_eq!(
        strs(&mut c, &["ZREVRANGEBYSCORE", "z", "4", "(2"]),
        ["d", "c"]
    );
    assert_eq!(
        strs(&mut c, &["ZRANGE", "z", "(4", "2", "BYSCORE", "REV"]),
        ["c", "b"]
    );
    assert_eq!(
        strs(
            &mut c,
            &[
                "ZRANGEBYSCORE",
                "z",
                "-inf",
                "inf",
                "WITHSCORES",
                "LIMIT",
                "1",
                "2"
            ]
        ),
        ["b", "2", "c", "3"]
    );
    assert_eq!(
        strs(
            &mut c,
            &["ZREVRANGEBYSCORE", "z", "+inf", "-inf", "LIMIT", "1", "-1"]
        ),
        ["d", "c", "b", "a"]
    );
    assert!(strs(
        &mut c,
        &["ZRANGEBYSCORE", "z", "-inf", "inf", "LIMIT", "-1", "2"]
    )
    .is_empty());
    assert!(strs(
        &mut c,
        &["ZRANGEBYSCORE", "z", "-inf", "inf", "LIMIT", "10", "2"]
    )
    .is_empty());
    assert_eq!(
        err(&mut c, &["ZRANGEBYSCORE", "z", "x", "1"]),
        RANGE_NOT_FLOAT
    );
    assert_eq!(
        err(&mut c, &["ZRANGEBYSCORE", "z", "1", "(nan"]),
        RANGE_NOT_FLOAT
    );
    assert_eq!(
        err(&mut c, &["ZRANGEBYSCORE", "z", "1", "2", "LIMIT", "x", "1"]),
        NOT_INT
    );
}

#[test]
fn zrange_bylex_ranges() {
    let s = TestServer::start();
    let mut c = s.conn();
    int(
        &mut c,
        &[
            "ZADD", "z", "0", "alpha", "0", "bar", "0", "cool", "0", "down", "0", "elephant",
        ],
    );
    assert_eq!(
        strs(&mut c, &["ZRANGEBYLEX", "z", "-", "[cool"]),
        ["alpha", "bar", "cool"]
    );
    assert_eq!(
        strs(&mut c, &["ZRANGEBYLEX", "z", "(bar", "(down"]),
        ["cool"]
    );
    assert_eq!(
        strs(&mut c, &["ZRANGEBYLEX", "z", "[d", "+"]),
        ["down", "elephant"]
    );
    assert_eq!(
        strs(&mut c, &["ZREVRANGEBYLEX", "z", "+", "(cool"]),
        ["elephant", "down"]
    );
    assert_eq!(
        strs(
            &mut c,
            &["ZRANGE", "z", "[down", "-", "BYLEX", "REV", "LIMIT", "1", "2"]
        ),
        ["cool", "bar"]
    );
    assert_eq!(
        strs(&mut c, &["ZRANGEBYLEX", "z", "-", "+", "LIMIT", "1", "2"]),
        ["bar", "cool"]
    );
    assert!(strs(&mut c, &["ZRANGEBYLEX", "z", "+", "-"]).is_empty());
    assert!(strs(&mut c, &["ZRANGEBYLEX", "z", "(cool", "(cool"]).is_empty());
    assert_eq!(int(&mut c, &["ZLEXCOUNT", "z", "[b", "(d"]), 2);
    assert_eq!(int(&mut c, &["ZLEXCOUNT", "z", "-", "+"]), 5);
    assert_eq!(err(&mut c, &["ZRANGEBYLEX", "z", "a", "+"]), LEX_INVALID);
    assert_eq!(err(&mut c, &["ZLEXCOUNT", "z", "-", "++"]), LEX_INVALID);
}

#[test]
fn zrange_option_errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    abcde(&mut c);
    assert_eq!(
        err(&mut c, &["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"]),
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
    );
    assert_eq!(
        err(&mut c, &["ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"]),
        "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
    );
    assert_eq!(
        err(&mut c, &["ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX"]),
        SYNTAX
    );
    assert_eq!(
        err(&mut c, &["ZRANGEBYSCORE", "z", "0", "1", "REV"]),
        SYNTAX
    );
    assert_eq!(
        err(&mut c, &["ZRANGE", "z", "0", "1", "LIMIT", "1"]),
        SYNTAX
    );
}

#[test]
fn zcount_counts_score_ranges() {
    let s = TestServer::start();
    let mut c = s.conn();
    abcde(&mut c);
    assert_eq!(int(&mut c, &["ZCOUNT", "z", "2", "4"]), 3);
    assert_eq!(int(&mut c, &["ZCOUNT", "z", "(2", "4"]), 2);
    assert_eq!(int(&mut c, &["ZCOUNT", "z", "-inf", "+inf"]), 5);
    assert_eq!(int(&mut c, &["ZCOUNT", "nokey", "-inf", "+inf"]), 0);
    assert_eq!(err(&mut c, &["ZCOUNT", "z", "a", "1"]), RANGE_NOT_FLOAT);
}

#[test]
fn zrangestore_stores_ranges_and_deletes_on_empty() {
    let s = TestServer::start();
    let mut c = s.conn();
    abcde(&mut c);
    assert_eq!(int(&mut c, &["ZRANGESTORE", "dst", "z", "1", "2"]), 2);
    assert_eq!(
        strs(&mut c, &["ZRANGE", "dst", "0", "-1", "WITHSCORES"]),
        ["b", "2", "c", "3"]
    );
    assert_eq!(
        int(&mut c, &["ZRANGESTORE", "dst", "z", "(4", "inf", "BYSCORE"]),
        1
    );
    assert_eq!(strs(&mut c, &["ZRANGE", "dst", "0", "-1"]), ["e"]);
    assert_eq!(
        int(
            &mut c,
            &[
                "ZRANGESTORE",
                "dst",
                "z",
                "[c",
                "+",
                "BYLEX",
                "LIMIT",
                "0",
                "1"
            ]
        ),
        1
    );
    assert_eq!(int(&mut c, &["ZRANGESTORE", "dst", "nokey", "0", "-1"]), 0);
    assert_eq!(int(&mut c, &["EXISTS", "dst"]), 0);
    assert_eq!(
        err(&mut c, &["ZRANGESTORE", "dst", "z", "0", "1", "WITHSCORES"]),
        SYNTAX
    );
}

// ---------------------------------------------------------------------------------------------
// Range removals

#[test]
fn zremrangebyrank_score_lex() {
    let s = TestServer::start();
    let mut c = s.conn();
    abcde(&mut c);
    assert_eq!(int(&mut c, &["ZREMRANGEBYRANK", "z", "-2", "-1"]), 2);
    assert_eq!(strs(&mut c, &["ZRANGE", "z", "0", "-1"]), ["a", "b", "c"]);
    assert_eq!(int(&mut c, &["ZREMRANGEBYSCORE", "z", "(1", "2"]), 1);
    assert_eq!(strs(&mut c, &["ZRANGE", "z", "0", "-1"]), ["a", "c"]);
    assert_eq!(int(&mut c, &["ZREMRANGEBYLEX", "z", "-", "[a"]), 1);
    assert_eq!(int(&mut c, &["ZREMRANGEBYSCORE", "z", "-inf", "+inf"]), 1);
    assert_eq!(int(&mut c, &["EXISTS", "z"]), 0);
    int(&mut c, &["ZADD", "l", "0", "a", "0", "b", "0", "c"]);
    assert_eq!(int(&mut c, &["ZREMRANGEBYLEX", "l", "(a", "+"]), 2);
    assert_eq!(strs(&mut c, &["ZRANGE", "l", "0", "-1"]), ["a"]);
    assert_eq!(int(&mut c, &["ZREMRANGEBYRANK", "nokey", "0", "-1"]), 0);
    assert_eq!(
        err(&mut c, &["ZREMRANGEBYSCORE", "l", "x", "1"]),
        RANGE_NOT_FLOAT
    );
    assert_eq!(err(&mut c, &["ZREMRANGEBYLEX", "l", "x", "+"]), LEX_INVALID);
    assert_eq!(err(&mut c, &["ZREMRANGEBYRANK", "l", "x", "1"]), NOT_INT);
}

// ---------------------------------------------------------------------------------------------
// Pops

#[test]
fn zpopmin_and_zpopmax() {
    let s = TestServer::start();
    let mut c = s.conn();
    abcde(&mut c);
    assert_eq!(strs(&mut c, &["ZPOPMIN", "z"]), ["a", "1"]);
    assert_eq!(strs(&mut c, &["ZPOPMAX", "z", "2"]), ["e", "5", "d", "4"]);
    assert!(strs(&mut c, &["ZPOPMIN", "z", "0"]).is_empty());
    assert_eq!(strs(&mut c, &["ZPOPMIN", "z", "10"]), ["b", "2", "c", "3"]);
    assert_eq!(int(&mut c, &["EXISTS", "z"]), 0);
    assert!(strs(&mut c, &["ZPOPMIN", "z"]).is_empty());
    assert_eq!(
        err(&mut c, &["ZPOPMIN", "z", "-1"]),
        "ERR value is out of range, must be positive"
    );
    assert_eq!(err(&mut c, &["ZPOPMIN", "z", "1", "2"]), SYNTAX);
}

#[test]
fn zmpop_pops_from_first_non_empty_key() {
    let s = TestServer::start();
    let mut c = s.conn();
    abcde(&mut c);
    let v = value(&mut c, &["ZMPOP", "2", "nokey", "z", "MAX", "COUNT", "2"]);
    let expected = Value::Array(vec![
        Value::BulkString(b"z".to_vec()),
        Value::Array(vec![
            Value::Array(vec![
                Value::BulkString(b"e".to_vec()),
                Value::BulkString(b"5".to_vec()),
            ]),
            Value::Array(vec![
                Value::BulkString(b"d".to_vec()),
                Value::BulkString(b"4".to_vec()),
            ]),
        ]),
    ]);
    assert_eq!(v, expected);
    assert_eq!(value(&mut c, &["ZMPOP", "1", "nokey", "MIN"]), Value::Nil);
    assert_eq!(
        err(&mut c, &["ZMPOP", "0", "z", "MIN"]),
        "ERR numkeys should be greater than 0"
    );
    assert_eq!(err(&mut c, &["ZMPOP", "1", "z", "MIDDLE"]), SYNTAX);
    assert_eq!(
        err(&mut c, &["ZMPOP", "1", "z", "MIN", "COUNT", "0"]),
        "ERR count should be greater than 0"
    );
    assert_eq!(err(&mut c, &["ZMPOP", "5", "z", "MIN"]), SYNTAX);
}

#[test]
fn blocking_pops_serve_available_data_at_once() {
    let s = TestServer::start();
    let mut c = s.conn();
    abcde(&mut c);
    assert_eq!(
        strs(&mut c, &["BZPOPMIN", "nokey", "z", "0"]),
        ["z", "a", "1"]
    );
    assert_eq!(strs(&mut c, &["BZPOPMAX", "z", "1"]), ["z", "e", "5"]);
    let v = value(&mut c, &["BZMPOP", "0", "1", "z", "MIN"]);
    assert_eq!(
        v,
        Value::Array(vec![
            Value::BulkString(b"z".to_vec()),
            Value::Array(vec![Value::Array(vec![
                Value::BulkString(b"b".to_vec()),
                Value::BulkString(b"2".to_vec())
            ])]),
        ])
    );
    assert_eq!(
        err(&mut c, &["BZPOPMIN", "z", "-1"]),
        "ERR timeout is negative"
    );
    assert_eq!(
        err(&mut c, &["BZPOPMIN", "z", "x"]),
        "ERR timeout is not a float or out of range"
    );
}

// ---------------------------------------------------------------------------------------------
// ZRANDMEMBER

#[test]
fn zrandmember_counts() {
    let s = TestServer::start();
    let mut c = s.conn();
    abcde(&mut c);
    let one = opt(&mut c, &["ZRANDMEMBER", "z"]).unwrap();
    assert!(["a", "b", "c", "d", "e"].contains(&one.as_str()));
    assert_eq!(opt(&mut c, &["ZRANDMEMBER", "nokey"]), None);
    let mut three = strs(&mut c, &["ZRANDMEMBER", "z", "3"]);
    three.sort();
    three.dedup();
    assert_eq!(three.len(), 3);
    assert_eq!(strs(&mut c, &["ZRANDMEMBER", "z", "10"]).len(), 5);
    assert_eq!(strs(&mut c, &["ZRANDMEMBER", "z", "-12"]).len(), 12);
    let ws = strs(&mut c, &["ZRANDMEMBER", "z", "2", "WITHSCORES"]);
    assert_eq!(ws.len(), 4);
    assert!(strs(&mut c, &["ZRANDMEMBER", "z", "0"]).is_empty());
    assert!(strs(&mut c, &["ZRANDMEMBER", "nokey", "3"]).is_empty());
    assert_eq!(err(&mut c, &["ZRANDMEMBER", "z", "1", "foo"]), SYNTAX);
    assert_eq!(err(&mut c, &["ZRANDMEMBER", "z", "x"]), NOT_INT);
}

// ---------------------------------------------------------------------------------------------
// Set algebra

fn two_sets(c: &mut redis::Connection) {
    int(c, &["ZADD", "z1", "1", "a", "2", "b", "3", "c"]);
    int(c, &["ZADD", "z2", "1", "b", "2", "c", "3", "d"]);
}

#[test]
fn zunion_with_weights_and_aggregates() {
    let s = TestServer::start();
    let mut c = s.conn();
    two_sets(&mut c);
    assert_eq!(
        strs(&mut c, &["ZUNION", "2", "z1", "z2", "WITHSCORES"]),
        ["a", "1", "b", "3", "d", "3", "c", "5"]
    );
    assert_eq!(
        strs(
            &mut c,
            &["ZUNION", "2", "z1", "z2", "WEIGHTS", "2", "3", "WITHSCORES"]
        ),
        ["a", "2", "b", "7", "d", "9", "c", "12"]
    );
    assert_eq!(
        strs(
            &mut c,
            &["ZUNION", "2", "z1", "z2", "AGGREGATE", "MIN", "WITHSCORES"]
        ),
        ["a", "1", "b", "1", "c", "2", "d", "3"]
    );
    assert_eq!(
        strs(&mut c, &["ZUNION", "2", "z1", "z2", "AGGREGATE", "MAX"]),
        ["a", "b", "c", "d"]
    );
    assert_eq!(
        strs(&mut c, &["ZUNION", "2", "z1", "nokey"]),
        ["a", "b", "c"]
    );
}

#[test]
fn zinter_and_zdiff() {
    let s = TestServer::start();
    let mut c = s.conn();
    two_sets(&mut c);
    assert_eq!(
        strs(&mut c, &["ZINTER", "2", "z1", "z2", "WITHSCORES"]),
        ["b", "3", "c", "5"]
    );
    assert!(strs(&mut c, &["ZINTER", "2", "z1", "nokey"]).is_empty());
    assert_eq!(
        strs(&mut c, &["ZDIFF", "2", "z1", "z2", "WITHSCORES"]),
        ["a", "1"]
    );
    assert_eq!(strs(&mut c, &["ZDIFF", "1", "z1"]), ["a", "b", "c"]);
    assert_eq!(int(&mut c, &["ZINTERCARD", "2", "z1", "z2"]), 2);
    assert_eq!(
        int(&mut c, &["ZINTERCARD", "2", "z1", "z2", "LIMIT", "1"]),
        1
    );
    assert_eq!(
        err(&mut c, &["ZINTERCARD", "2", "z1", "z2", "LIMIT", "-1"]),
        "ERR LIMIT can't be negative"
    );
    assert_eq!(
        err(&mut c, &["ZDIFF", "2", "z1", "z2", "WEIGHTS", "1", "2"]),
        SYNTAX
    );
}

#[test]
fn store_forms_replace_destination() {
    let s = TestServer::start();
    let mut c = s.conn();
    two_sets(&mut c);
    let _: () = cmd(&mut c, &["SET", "dst", "string"]).unwrap();
    assert_eq!(int(&mut c, &["ZUNIONSTORE", "dst", "2", "z1", "z2"]), 4);
    assert_eq!(int(&mut c, &["ZCARD", "dst"]), 4);
    assert_eq!(
        int(
            &mut c,
            &["ZINTERSTORE", "dst", "2", "z1", "z2", "AGGREGATE", "MAX"]
        ),
        2
    );
    assert_eq!(
        strs(&mut c, &["ZRANGE", "dst", "0", "-1", "WITHSCORES"]),
        ["b", "2", "c", "3"]
    );
    assert_eq!(int(&mut c, &["ZDIFFSTORE", "dst", "2", "z1", "z2"]), 1);
    assert_eq!(int(&mut c, &["ZINTERSTORE", "dst", "2", "z1", "nokey"]), 0);
    assert_eq!(int(&mut c, &["EXISTS", "dst"]), 0);
    // The destination may be one of the inputs.
    assert_eq!(int(&mut c, &["ZUNIONSTORE", "z1", "2", "z1", "z2"]), 4);
    assert_eq!(opt(&mut c, &["ZSCORE", "z1", "c"]).as_deref(), Some("5"));
    assert_eq!(
        err(
            &mut c,
            &["ZUNIONSTORE", "dst", "2", "z1", "z2", "WITHSCORES"]
        ),
        SYNTAX
    );
}

#[test]
fn set_algebra_errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    two_sets(&mut c);
    assert_eq!(
        err(&mut c, &["ZUNIONSTORE", "dst", "0", "z1"]),
        "ERR at least 1 input key is needed for 'zunionstore' command"
    );
    assert_eq!(err(&mut c, &["ZUNION", "3", "z1", "z2"]), SYNTAX);
    assert_eq!(err(&mut c, &["ZUNION", "x", "z1"]), NOT_INT);
    assert_eq!(
        err(&mut c, &["ZUNION", "2", "z1", "z2", "WEIGHTS", "1", "x"]),
        "ERR weight value is not a float"
    );
    assert_eq!(
        err(&mut c, &["ZUNION", "2", "z1", "z2", "AGGREGATE", "AVG"]),
        SYNTAX
    );
    let _: () = cmd(&mut c, &["SET", "str", "x"]).unwrap();
    assert_eq!(err(&mut c, &["ZUNION", "2", "z1", "str"]), WRONGTYPE);
}

#[test]
fn sum_of_opposite_infinities_is_zero() {
    let s = TestServer::start();
    let mut c = s.conn();
    int(&mut c, &["ZADD", "p", "inf", "a"]);
    int(&mut c, &["ZADD", "n", "-inf", "a"]);
    assert_eq!(
        strs(&mut c, &["ZUNION", "2", "p", "n", "WITHSCORES"]),
        ["a", "0"]
    );
    assert_eq!(
        strs(&mut c, &["ZUNION", "1", "p", "WEIGHTS", "0", "WITHSCORES"]),
        ["a", "0"]
    );
}

#[test]
fn command_getkeys_for_numkeys_commands() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        strs(
            &mut c,
            &[
                "COMMAND",
                "GETKEYS",
                "ZUNIONSTORE",
                "dst",
                "2",
                "a",
                "b",
                "WEIGHTS",
                "1",
                "2"
            ]
        ),
        ["dst", "a", "b"]
    );
    assert_eq!(
        strs(
            &mut c,
            &["COMMAND", "GETKEYS", "ZMPOP", "2", "a", "b", "MIN"]
        ),
        ["a", "b"]
    );
    assert_eq!(
        strs(
            &mut c,
            &["COMMAND", "GETKEYS", "BZMPOP", "0", "1", "a", "MIN"]
        ),
        ["a"]
    );
}

// ---------------------------------------------------------------------------------------------
// ZSCAN

#[test]
fn zscan_returns_members_with_scores() {
    let s = TestServer::start();
    let mut c = s.conn();
    int(&mut c, &["ZADD", "z", "1", "a", "2.5", "b", "3", "xc"]);
    let (cursor, items): (String, Vec<String>) = cmd(&mut c, &["ZSCAN", "z", "0"]).unwrap();
    assert_eq!(cursor, "0");
    assert_eq!(items, ["a", "1", "b", "2.5", "xc", "3"]);
    let (_, items): (String, Vec<String>) =
        cmd(&mut c, &["ZSCAN", "z", "0", "MATCH", "x*", "COUNT", "5"]).unwrap();
    assert_eq!(items, ["xc", "3"]);
    let (cursor, items): (String, Vec<String>) = cmd(&mut c, &["ZSCAN", "nokey", "0"]).unwrap();
    assert_eq!((cursor.as_str(), items.len()), ("0", 0));
    assert_eq!(err(&mut c, &["ZSCAN", "z", "x"]), "ERR invalid cursor");
    assert_eq!(err(&mut c, &["ZSCAN", "z", "0", "COUNT", "0"]), SYNTAX);
}

#[test]
fn zscan_walks_a_large_zset_completely() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut args = vec!["ZADD".to_string(), "z".to_string()];
    for i in 0..500 {
        args.push(i.to_string());
        args.push(format!("m{i}"));
    }
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    int(&mut c, &refs);
    let mut cursor = "0".to_string();
    let mut seen = std::collections::HashSet::new();
    loop {
        let (next, items): (String, Vec<String>) =
            cmd(&mut c, &["ZSCAN", "z", &cursor, "COUNT", "50"]).unwrap();
        for pair in items.chunks(2) {
            seen.insert(pair[0].clone());
        }
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 500);
}

// ---------------------------------------------------------------------------------------------
// RESP3 shapes

#[test]
fn resp3_withscores_replies_pairs_of_member_and_double() {
    let s = TestServer::start();
    let mut r = s.raw();
    let mut c = s.conn();
    int(&mut c, &["ZADD", "z", "1", "a", "2.5", "b"]);
    common::raw_roundtrip(&mut r, b"HELLO 3\r\n", 1);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let _ = common::read_at_least(&mut r, 0);
    expect_raw(
        &mut r,
        b"ZRANGE z 0 -1 WITHSCORES\r\n",
        b"*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n",
    );
    expect_raw(&mut r, b"ZSCORE z b\r\n", b",2.5\r\n");
    expect_raw(&mut r, b"ZPOPMIN z 1\r\n", b"*1\r\n*2\r\n$1\r\na\r\n,1\r\n");
    expect_raw(&mut r, b"ZPOPMIN z\r\n", b"*2\r\n$1\r\nb\r\n,2.5\r\n");
}

// ---------------------------------------------------------------------------------------------
// Encoding and scale

#[test]
fn encoding_flag_follows_listpack_limits() {
    let s = TestServer::start();
    let mut c = s.conn();
    int(&mut c, &["ZADD", "small", "1", "a"]);
    let long = "x".repeat(65);
    int(&mut c, &["ZADD", "long", "1", &long]);
    let mut args = vec!["ZADD".to_string(), "big".to_string()];
    for i in 0..129 {
        args.push(i.to_string());
        args.push(format!("m{i}"));
    }
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    int(&mut c, &refs);
    let mut s = s;
    let flags = common::with_storage(&mut s, |st| {
        ["small", "long", "big"].map(|k| {
            st.at(0, Writer::INTERNAL)
                .zset()
                .read(k.as_bytes())
                .unwrap()
                .map(|z| z.is_large())
                .unwrap()
        })
    });
    assert_eq!(flags, [false, true, true]);
}

#[test]
fn large_zset_range_reads_at_both_ends() {
    let s = TestServer::start();
    let mut c = s.conn();
    for chunk in 0..10 {
        let mut args = vec!["ZADD".to_string(), "z".to_string()];
        for i in chunk * 1000..(chunk + 1) * 1000 {
            args.push(i.to_string());
            args.push(format!("m{i:05}"));
        }
        let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        int(&mut c, &refs);
    }
    assert_eq!(int(&mut c, &["ZCARD", "z"]), 10_000);
    assert_eq!(
        strs(&mut c, &["ZRANGE", "z", "0", "2"]),
        ["m00000", "m00001", "m00002"]
    );
    assert_eq!(
        strs(&mut c, &["ZRANGE", "z", "-2", "-1"]),
        ["m09998", "m09999"]
    );
    assert_eq!(
        strs(&mut c, &["ZREVRANGE", "z", "0", "1"]),
        ["m09999", "m09998"]
    );
    assert_eq!(
        strs(&mut c, &["ZRANGE", "z", "9000", "9001"]),
        ["m09000", "m09001"]
    );
    assert_eq!(
        strs(&mut c, &["ZREVRANGE", "z", "-2", "-1"]),
        ["m00001", "m00000"]
    );
    assert_eq!(
        strs(&mut c, &["ZRANGEBYSCORE", "z", "(9997", "+inf"]),
        ["m09998", "m09999"]
    );
    assert_eq!(
        strs(
            &mut c,
            &["ZREVRANGEBYSCORE", "z", "+inf", "-inf", "LIMIT", "0", "2"]
        ),
        ["m09999", "m09998"]
    );
    assert_eq!(int(&mut c, &["ZRANK", "z", "m09999"]), 9999);
    assert_eq!(int(&mut c, &["ZREVRANK", "z", "m00000"]), 9999);
    assert_eq!(int(&mut c, &["ZCOUNT", "z", "100", "(200"]), 100);
}

#[test]
fn zset_survives_restart() {
    let mut s = TestServer::start();
    {
        let mut c = s.conn();
        abcde(&mut c);
        int(&mut c, &["ZREM", "z", "c"]);
    }
    s.restart();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["ZCARD", "z"]), 4);
    assert_eq!(
        strs(&mut c, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        ["a", "1", "b", "2", "d", "4", "e", "5"]
    );
    assert_eq!(int(&mut c, &["ZRANK", "z", "e"]), 3);
}
