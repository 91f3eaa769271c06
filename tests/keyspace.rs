//! Type-independent key commands: DEL, EXISTS, TYPE, KEYS, SCAN, RENAME, COPY, MOVE, the
//! whole-database commands and OBJECT.

mod common;

use std::collections::HashSet;

use common::{cmd, err, int, TestServer};
use redis::Value;

fn set(c: &mut redis::Connection, k: &str, v: &str) {
    let _: () = cmd(c, &["SET", k, v]).unwrap();
}
fn text(c: &mut redis::Connection, args: &[&str]) -> Option<String> {
    cmd(c, args).unwrap()
}

/// Runs a full SCAN iteration with `extra` options, returning every key seen (with repeats).
fn scan_all(c: &mut redis::Connection, extra: &[&str]) -> (Vec<String>, usize) {
    let mut cursor = "0".to_string();
    let mut keys = Vec::new();
    let mut calls = 0;
    loop {
        let mut args = vec!["SCAN", cursor.as_str()];
        args.extend_from_slice(extra);
        let (next, batch): (String, Vec<String>) = cmd(c, &args).unwrap();
        calls += 1;
        keys.extend(batch);
        if next == "0" {
            return (keys, calls);
        }
        cursor = next;
        assert!(calls < 100_000, "SCAN never finished");
    }
}

#[test]
fn del_counts_existing_keys_once() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    set(&mut c, "b", "2");
    assert_eq!(int(&mut c, &["DEL", "a", "b", "missing", "a"]), 2);
    assert_eq!(int(&mut c, &["EXISTS", "a", "b"]), 0);
    assert_eq!(int(&mut c, &["DEL", "a"]), 0);
}

#[test]
fn unlink_deletes_like_del() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    assert_eq!(int(&mut c, &["UNLINK", "a", "x"]), 1);
    assert_eq!(int(&mut c, &["DBSIZE"]), 0);
}

#[test]
fn exists_counts_repeated_keys() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    assert_eq!(int(&mut c, &["EXISTS", "a", "a", "nope"]), 2);
}

#[test]
fn touch_counts_existing_keys() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    set(&mut c, "b", "1");
    assert_eq!(int(&mut c, &["TOUCH", "a", "b", "c"]), 2);
}

#[test]
fn type_reports_string_or_none() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    let t: String = cmd(&mut c, &["TYPE", "a"]).unwrap();
    assert_eq!(t, "string");
    let t: String = cmd(&mut c, &["TYPE", "nope"]).unwrap();
    assert_eq!(t, "none");
}

#[test]
fn wrong_arity_is_rejected() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["DEL"]),
        "ERR wrong number of arguments for 'del' command"
    );
    assert_eq!(
        err(&mut c, &["RENAME", "a"]),
        "ERR wrong number of arguments for 'rename' command"
    );
    assert_eq!(
        err(&mut c, &["DBSIZE", "x"]),
        "ERR wrong number of arguments for 'dbsize' command"
    );
}

#[test]
fn keys_matches_glob_patterns() {
    let s = TestServer::start();
    let mut c = s.conn();
    for k in ["foo", "foobar", "fab", "bar", "f*x"] {
        set(&mut c, k, "v");
    }
    let mut all: Vec<String> = cmd(&mut c, &["KEYS", "*"]).unwrap();
    all.sort();
    assert_eq!(all, ["bar", "f*x", "fab", "foo", "foobar"]);
    let mut f: Vec<String> = cmd(&mut c, &["KEYS", "f?o*"]).unwrap();
    f.sort();
    assert_eq!(f, ["foo", "foobar"]);
    let lit: Vec<String> = cmd(&mut c, &["KEYS", "f\\*x"]).unwrap();
    assert_eq!(lit, ["f*x"]);
    let none: Vec<String> = cmd(&mut c, &["KEYS", "zzz*"]).unwrap();
    assert!(none.is_empty());
}

#[test]
fn scan_visits_every_key_with_count_10() {
    let s = TestServer::start();
    let mut c = s.conn();
    common::set_numbered(&mut c, "key:", 1000);
    let (keys, calls) = scan_all(&mut c, &["COUNT", "10"]);
    let unique: HashSet<_> = keys.iter().cloned().collect();
    assert_eq!(unique.len(), 1000);
    assert!(
        calls >= 100,
        "COUNT 10 should take about 100 calls, took {calls}"
    );
    for i in 0..1000 {
        assert!(unique.contains(&format!("key:{i}")));
    }
}

#[test]
fn scan_match_filters_keys() {
    let s = TestServer::start();
    let mut c = s.conn();
    for i in 0..200 {
        set(&mut c, &format!("user:{i}"), "x");
        set(&mut c, &format!("item:{i}"), "x");
    }
    let (keys, _) = scan_all(&mut c, &["MATCH", "user:*", "COUNT", "7"]);
    let unique: HashSet<_> = keys.into_iter().collect();
    assert_eq!(unique.len(), 200);
    assert!(unique.iter().all(|k| k.starts_with("user:")));
}

#[test]
fn scan_match_star_returns_everything() {
    let s = TestServer::start();
    let mut c = s.conn();
    for i in 0..50 {
        set(&mut c, &format!("k{i}"), "x");
    }
    let (keys, _) = scan_all(&mut c, &["MATCH", "*"]);
    assert_eq!(keys.into_iter().collect::<HashSet<_>>().len(), 50);
}

#[test]
fn scan_type_filters_keys() {
    let s = TestServer::start();
    let mut c = s.conn();
    for i in 0..30 {
        set(&mut c, &format!("s{i}"), "x");
    }
    let (strings, _) = scan_all(&mut c, &["TYPE", "string", "COUNT", "5"]);
    assert_eq!(strings.into_iter().collect::<HashSet<_>>().len(), 30);
    let (lists, _) = scan_all(&mut c, &["TYPE", "list"]);
    assert!(lists.is_empty());
    let (unknown, _) = scan_all(&mut c, &["TYPE", "nosuchtype"]);
    assert!(unknown.is_empty());
}

#[test]
fn scan_cursor_survives_writes_between_calls() {
    let s = TestServer::start();
    let mut c = s.conn();
    for i in 0..300 {
        set(&mut c, &format!("stable:{i}"), "x");
    }
    let mut cursor = "0".to_string();
    let mut seen = HashSet::new();
    let mut round = 0;
    loop {
        let (next, batch): (String, Vec<String>) =
            cmd(&mut c, &["SCAN", &cursor, "COUNT", "3"]).unwrap();
        seen.extend(batch);
        // Churn unrelated keys while the iteration is in progress.
        set(&mut c, &format!("churn:{round}"), "x");
        if round % 2 == 0 {
            let _: i64 = cmd(&mut c, &["DEL", &format!("churn:{}", round / 2)]).unwrap();
        }
        round += 1;
        if next == "0" {
            break;
        }
        cursor = next;
    }
    for i in 0..300 {
        assert!(seen.contains(&format!("stable:{i}")), "stable:{i} missed");
    }
}

#[test]
fn scan_on_empty_database_ends_at_once() {
    let s = TestServer::start();
    let mut c = s.conn();
    let (next, keys): (String, Vec<String>) = cmd(&mut c, &["SCAN", "0"]).unwrap();
    assert_eq!(next, "0");
    assert!(keys.is_empty());
}

#[test]
fn scan_rejects_bad_arguments() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(err(&mut c, &["SCAN", "abc"]), "ERR invalid cursor");
    assert_eq!(
        err(&mut c, &["SCAN", "18446744073709551616"]),
        "ERR invalid cursor"
    );
    assert_eq!(
        err(&mut c, &["SCAN", "0", "COUNT", "0"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["SCAN", "0", "COUNT", "-1"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["SCAN", "0", "COUNT", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(err(&mut c, &["SCAN", "0", "MATCH"]), "ERR syntax error");
    assert_eq!(
        err(&mut c, &["SCAN", "0", "FOO", "bar"]),
        "ERR syntax error"
    );
}

#[test]
fn scan_accepts_an_unknown_cursor() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    let (next, _): (String, Vec<String>) = cmd(&mut c, &["SCAN", "123456789"]).unwrap();
    assert!(next.parse::<u64>().is_ok());
}

#[test]
fn randomkey_returns_a_key_or_nil() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(text(&mut c, &["RANDOMKEY"]), None);
    set(&mut c, "a", "1");
    set(&mut c, "b", "1");
    let k = text(&mut c, &["RANDOMKEY"]).unwrap();
    assert!(k == "a" || k == "b");
}

#[test]
fn rename_moves_the_value() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    set(&mut c, "b", "2");
    let _: () = cmd(&mut c, &["RENAME", "a", "b"]).unwrap();
    assert_eq!(text(&mut c, &["GET", "b"]).as_deref(), Some("1"));
    assert_eq!(int(&mut c, &["EXISTS", "a"]), 0);
    assert_eq!(int(&mut c, &["DBSIZE"]), 1);
}

#[test]
fn rename_keeps_the_ttl() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "a", "1", "EX", "100"]).unwrap();
    let _: () = cmd(&mut c, &["RENAME", "a", "b"]).unwrap();
    let ttl = int(&mut c, &["TTL", "b"]);
    assert!((99..=100).contains(&ttl), "ttl {ttl}");
}

#[test]
fn rename_drops_the_destination_ttl() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    let _: () = cmd(&mut c, &["SET", "b", "2", "EX", "100"]).unwrap();
    let _: () = cmd(&mut c, &["RENAME", "a", "b"]).unwrap();
    assert_eq!(int(&mut c, &["TTL", "b"]), -1);
}

#[test]
fn rename_missing_key_fails() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(err(&mut c, &["RENAME", "nope", "x"]), "ERR no such key");
    assert_eq!(err(&mut c, &["RENAMENX", "nope", "x"]), "ERR no such key");
}

#[test]
fn rename_to_itself_is_ok() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    let _: () = cmd(&mut c, &["RENAME", "a", "a"]).unwrap();
    assert_eq!(text(&mut c, &["GET", "a"]).as_deref(), Some("1"));
    assert_eq!(int(&mut c, &["RENAMENX", "a", "a"]), 0);
}

#[test]
fn renamenx_does_not_overwrite() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    set(&mut c, "b", "2");
    assert_eq!(int(&mut c, &["RENAMENX", "a", "b"]), 0);
    assert_eq!(text(&mut c, &["GET", "b"]).as_deref(), Some("2"));
    assert_eq!(int(&mut c, &["RENAMENX", "a", "c"]), 1);
    assert_eq!(text(&mut c, &["GET", "c"]).as_deref(), Some("1"));
}

#[test]
fn copy_duplicates_value_and_ttl() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "a", "v", "EX", "100"]).unwrap();
    assert_eq!(int(&mut c, &["COPY", "a", "b"]), 1);
    assert_eq!(text(&mut c, &["GET", "b"]).as_deref(), Some("v"));
    assert_eq!(text(&mut c, &["GET", "a"]).as_deref(), Some("v"));
    assert!(int(&mut c, &["TTL", "b"]) > 90);
}

#[test]
fn copy_needs_replace_to_overwrite() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    set(&mut c, "b", "2");
    assert_eq!(int(&mut c, &["COPY", "a", "b"]), 0);
    assert_eq!(text(&mut c, &["GET", "b"]).as_deref(), Some("2"));
    assert_eq!(int(&mut c, &["COPY", "a", "b", "REPLACE"]), 1);
    assert_eq!(text(&mut c, &["GET", "b"]).as_deref(), Some("1"));
}

#[test]
fn copy_to_another_db() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    assert_eq!(int(&mut c, &["COPY", "a", "a", "DB", "3"]), 1);
    let _: () = cmd(&mut c, &["SELECT", "3"]).unwrap();
    assert_eq!(text(&mut c, &["GET", "a"]).as_deref(), Some("1"));
}

#[test]
fn copy_missing_source_returns_zero() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["COPY", "nope", "b"]), 0);
}

#[test]
fn copy_rejects_bad_arguments() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    assert_eq!(
        err(&mut c, &["COPY", "a", "a"]),
        "ERR source and destination objects are the same"
    );
    assert_eq!(
        err(&mut c, &["COPY", "a", "a", "DB", "0"]),
        "ERR source and destination objects are the same"
    );
    assert_eq!(
        err(&mut c, &["COPY", "a", "b", "DB", "16"]),
        "ERR DB index is out of range"
    );
    assert_eq!(
        err(&mut c, &["COPY", "a", "b", "DB", "-1"]),
        "ERR DB index is out of range"
    );
    assert_eq!(
        err(&mut c, &["COPY", "a", "b", "DB", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(err(&mut c, &["COPY", "a", "b", "FOO"]), "ERR syntax error");
    assert_eq!(err(&mut c, &["COPY", "a", "b", "DB"]), "ERR syntax error");
}

#[test]
fn move_transfers_key_to_other_db() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "a", "1", "EX", "100"]).unwrap();
    assert_eq!(int(&mut c, &["MOVE", "a", "5"]), 1);
    assert_eq!(int(&mut c, &["EXISTS", "a"]), 0);
    assert_eq!(int(&mut c, &["DBSIZE"]), 0);
    let _: () = cmd(&mut c, &["SELECT", "5"]).unwrap();
    assert_eq!(text(&mut c, &["GET", "a"]).as_deref(), Some("1"));
    assert!(int(&mut c, &["TTL", "a"]) > 90);
    assert_eq!(int(&mut c, &["DBSIZE"]), 1);
}

#[test]
fn move_does_not_overwrite() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "src");
    let _: () = cmd(&mut c, &["SELECT", "1"]).unwrap();
    set(&mut c, "a", "dst");
    let _: () = cmd(&mut c, &["SELECT", "0"]).unwrap();
    assert_eq!(int(&mut c, &["MOVE", "a", "1"]), 0);
    assert_eq!(int(&mut c, &["MOVE", "nope", "1"]), 0);
    assert_eq!(text(&mut c, &["GET", "a"]).as_deref(), Some("src"));
}

#[test]
fn move_rejects_bad_databases() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    assert_eq!(
        err(&mut c, &["MOVE", "a", "0"]),
        "ERR source and destination objects are the same"
    );
    assert_eq!(
        err(&mut c, &["MOVE", "a", "16"]),
        "ERR DB index is out of range"
    );
    assert_eq!(
        err(&mut c, &["MOVE", "a", "-1"]),
        "ERR DB index is out of range"
    );
    assert_eq!(
        err(&mut c, &["MOVE", "a", "x"]),
        "ERR value is not an integer or out of range"
    );
}

#[test]
fn databases_are_independent() {
    let s = TestServer::start();
    let mut c = s.conn();
    for db in 0..16 {
        let _: () = cmd(&mut c, &["SELECT", &db.to_string()]).unwrap();
        for i in 0..=db {
            set(&mut c, &format!("k{i}"), &db.to_string());
        }
    }
    for db in 0..16 {
        let _: () = cmd(&mut c, &["SELECT", &db.to_string()]).unwrap();
        assert_eq!(int(&mut c, &["DBSIZE"]), db + 1);
        assert_eq!(text(&mut c, &["GET", "k0"]), Some(db.to_string()));
    }
}

#[test]
fn flushdb_empties_only_the_current_db() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    let _: () = cmd(&mut c, &["SELECT", "1"]).unwrap();
    set(&mut c, "b", "1");
    let _: () = cmd(&mut c, &["FLUSHDB"]).unwrap();
    assert_eq!(int(&mut c, &["DBSIZE"]), 0);
    let _: () = cmd(&mut c, &["SELECT", "0"]).unwrap();
    assert_eq!(int(&mut c, &["DBSIZE"]), 1);
}

#[test]
fn flushall_empties_every_db() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    let _: () = cmd(&mut c, &["SELECT", "7"]).unwrap();
    set(&mut c, "b", "1");
    let _: () = cmd(&mut c, &["FLUSHALL", "ASYNC"]).unwrap();
    assert_eq!(int(&mut c, &["DBSIZE"]), 0);
    let _: () = cmd(&mut c, &["SELECT", "0"]).unwrap();
    assert_eq!(int(&mut c, &["DBSIZE"]), 0);
    assert_eq!(int(&mut c, &["EXISTS", "a"]), 0);
}

#[test]
fn flush_accepts_sync_and_async_only() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["FLUSHDB", "SYNC"]).unwrap();
    let _: () = cmd(&mut c, &["FLUSHDB", "async"]).unwrap();
    let _: () = cmd(&mut c, &["FLUSHALL", "SYNC"]).unwrap();
    assert_eq!(err(&mut c, &["FLUSHDB", "now"]), "ERR syntax error");
    assert_eq!(
        err(&mut c, &["FLUSHALL", "SYNC", "ASYNC"]),
        "ERR syntax error"
    );
}

#[test]
fn keys_written_after_flush_are_counted() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    let _: () = cmd(&mut c, &["FLUSHDB"]).unwrap();
    set(&mut c, "a", "1");
    set(&mut c, "b", "1");
    assert_eq!(int(&mut c, &["DBSIZE"]), 2);
}

#[test]
fn swapdb_exchanges_contents() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "zero");
    let _: () = cmd(&mut c, &["SELECT", "1"]).unwrap();
    set(&mut c, "b", "one");
    set(&mut c, "c", "one");
    let _: () = cmd(&mut c, &["SWAPDB", "0", "1"]).unwrap();
    assert_eq!(int(&mut c, &["DBSIZE"]), 1);
    assert_eq!(text(&mut c, &["GET", "a"]).as_deref(), Some("zero"));
    let _: () = cmd(&mut c, &["SELECT", "0"]).unwrap();
    assert_eq!(int(&mut c, &["DBSIZE"]), 2);
    assert_eq!(text(&mut c, &["GET", "b"]).as_deref(), Some("one"));
}

#[test]
fn swapdb_is_visible_to_other_connections() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut other = s.conn();
    set(&mut c, "a", "zero");
    let _: () = cmd(&mut c, &["SWAPDB", "0", "2"]).unwrap();
    assert_eq!(int(&mut other, &["EXISTS", "a"]), 0);
    let _: () = cmd(&mut other, &["SELECT", "2"]).unwrap();
    assert_eq!(int(&mut other, &["EXISTS", "a"]), 1);
}

#[test]
fn swapdb_persists_across_restart() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "zero");
    let _: () = cmd(&mut c, &["SWAPDB", "0", "3"]).unwrap();
    drop(c);
    s.restart();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["DBSIZE"]), 0);
    let _: () = cmd(&mut c, &["SELECT", "3"]).unwrap();
    assert_eq!(text(&mut c, &["GET", "a"]).as_deref(), Some("zero"));
    assert_eq!(int(&mut c, &["DBSIZE"]), 1);
}

#[test]
fn swapdb_rejects_bad_indexes() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["SWAPDB", "a", "1"]),
        "ERR invalid first DB index"
    );
    assert_eq!(
        err(&mut c, &["SWAPDB", "1", "b"]),
        "ERR invalid second DB index"
    );
    assert_eq!(
        err(&mut c, &["SWAPDB", "99", "b"]),
        "ERR invalid second DB index"
    );
    assert_eq!(
        err(&mut c, &["SWAPDB", "0", "16"]),
        "ERR DB index is out of range"
    );
    assert_eq!(
        err(&mut c, &["SWAPDB", "-1", "0"]),
        "ERR DB index is out of range"
    );
}

#[test]
fn swapdb_with_itself_is_ok() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    let _: () = cmd(&mut c, &["SWAPDB", "0", "0"]).unwrap();
    assert_eq!(int(&mut c, &["DBSIZE"]), 1);
}

#[test]
fn dbsize_tracks_writes_and_deletes() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["DBSIZE"]), 0);
    set(&mut c, "a", "1");
    set(&mut c, "a", "2");
    set(&mut c, "b", "1");
    assert_eq!(int(&mut c, &["DBSIZE"]), 2);
    let _: i64 = cmd(&mut c, &["DEL", "a"]).unwrap();
    assert_eq!(int(&mut c, &["DBSIZE"]), 1);
}

fn encoding(c: &mut redis::Connection, key: &str) -> Option<String> {
    cmd(c, &["OBJECT", "ENCODING", key]).unwrap()
}

#[test]
fn object_encoding_of_strings() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "i", "12345");
    set(&mut c, "neg", "-9223372036854775808");
    set(&mut c, "lead", "012");
    set(&mut c, "short", "hello");
    set(&mut c, "e44", &"x".repeat(44));
    set(&mut c, "r45", &"x".repeat(45));
    assert_eq!(encoding(&mut c, "i").as_deref(), Some("int"));
    assert_eq!(encoding(&mut c, "neg").as_deref(), Some("int"));
    assert_eq!(encoding(&mut c, "lead").as_deref(), Some("embstr"));
    assert_eq!(encoding(&mut c, "short").as_deref(), Some("embstr"));
    assert_eq!(encoding(&mut c, "e44").as_deref(), Some("embstr"));
    assert_eq!(encoding(&mut c, "r45").as_deref(), Some("raw"));
    assert_eq!(encoding(&mut c, "missing"), None);
}

#[test]
fn object_encoding_is_raw_after_append() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    let _: i64 = cmd(&mut c, &["APPEND", "a", "2"]).unwrap();
    assert_eq!(encoding(&mut c, "a").as_deref(), Some("raw"));
}

#[test]
fn object_refcount_shares_small_integers() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "small", "42");
    set(&mut c, "big", "10000");
    set(&mut c, "str", "abc");
    assert_eq!(int(&mut c, &["OBJECT", "REFCOUNT", "small"]), 2147483647);
    assert_eq!(int(&mut c, &["OBJECT", "REFCOUNT", "big"]), 1);
    assert_eq!(int(&mut c, &["OBJECT", "REFCOUNT", "str"]), 1);
    let v: Value = cmd(&mut c, &["OBJECT", "REFCOUNT", "missing"]).unwrap();
    assert_eq!(v, Value::Nil);
}

#[test]
fn object_freq_needs_an_lfu_policy() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    assert_eq!(
        err(&mut c, &["OBJECT", "FREQ", "a"]),
        "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note \
         that when switching between policies at runtime LRU and LFU data will take some time to \
         adjust."
    );
    let _: () = cmd(
        &mut c,
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"],
    )
    .unwrap();
    let _: () = cmd(&mut c, &["CONFIG", "SET", "lfu-decay-time", "0"]).unwrap();
    // The hot tier's counter of a key not read since it was written: LFU_INIT_VAL.
    assert_eq!(int(&mut c, &["OBJECT", "FREQ", "a"]), 5);
}

#[test]
fn object_idletime_is_zero_without_lfu() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    assert_eq!(int(&mut c, &["OBJECT", "IDLETIME", "a"]), 0);
    let _: () = cmd(
        &mut c,
        &["CONFIG", "SET", "maxmemory-policy", "volatile-lfu"],
    )
    .unwrap();
    assert_eq!(
        err(&mut c, &["OBJECT", "IDLETIME", "a"]),
        "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when \
         switching between policies at runtime LRU and LFU data will take some time to adjust."
    );
}

/// Just over a second: OBJECT IDLETIME counts whole seconds.
const IDLE_WAIT: std::time::Duration = std::time::Duration::from_millis(1_100);

#[test]
fn object_idletime_is_not_reset_by_type_ttl_exists_or_object() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "a", "1");
    std::thread::sleep(IDLE_WAIT);
    let _: String = cmd(&mut c, &["TYPE", "a"]).unwrap();
    let _: i64 = cmd(&mut c, &["TTL", "a"]).unwrap();
    let _: i64 = cmd(&mut c, &["PTTL", "a"]).unwrap();
    let _: i64 = cmd(&mut c, &["EXISTS", "a"]).unwrap();
    let _: String = cmd(&mut c, &["OBJECT", "ENCODING", "a"]).unwrap();
    assert!(int(&mut c, &["OBJECT", "IDLETIME", "a"]) >= 1);
}

#[test]
fn object_idletime_is_reset_by_reads_writes_and_touch() {
    let s = TestServer::start();
    let mut c = s.conn();
    for k in ["read", "written", "touched", "other"] {
        set(&mut c, k, "1");
    }
    std::thread::sleep(IDLE_WAIT);
    let _: Option<String> = cmd(&mut c, &["GET", "read"]).unwrap();
    let _: i64 = cmd(&mut c, &["APPEND", "written", "2"]).unwrap();
    assert_eq!(int(&mut c, &["TOUCH", "touched", "missing"]), 1);
    for k in ["read", "written", "touched"] {
        assert_eq!(int(&mut c, &["OBJECT", "IDLETIME", k]), 0, "{k}");
    }
    assert!(int(&mut c, &["OBJECT", "IDLETIME", "other"]) >= 1);
}

#[test]
fn object_idletime_is_per_database() {
    let s = TestServer::start();
    let mut c = s.conn();
    set(&mut c, "k", "1");
    let _: () = cmd(&mut c, &["SELECT", "1"]).unwrap();
    set(&mut c, "k", "1");
    let _: () = cmd(&mut c, &["SELECT", "0"]).unwrap();
    std::thread::sleep(IDLE_WAIT);
    let _: Option<String> = cmd(&mut c, &["GET", "k"]).unwrap();
    let _: () = cmd(&mut c, &["SELECT", "1"]).unwrap();
    assert!(int(&mut c, &["OBJECT", "IDLETIME", "k"]) >= 1);
}

#[test]
fn object_help_and_errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    let help: Vec<String> = cmd(&mut c, &["OBJECT", "HELP"]).unwrap();
    assert!(help[0].starts_with("OBJECT <subcommand>"));
    assert!(help.iter().any(|l| l.starts_with("ENCODING")));
    assert_eq!(
        err(&mut c, &["OBJECT", "FOO", "a"]),
        "ERR unknown subcommand 'FOO'. Try OBJECT HELP."
    );
    assert_eq!(
        err(&mut c, &["OBJECT"]),
        "ERR wrong number of arguments for 'object' command"
    );
    assert_eq!(
        err(&mut c, &["OBJECT", "ENCODING"]),
        "ERR wrong number of arguments for 'object|encoding' command"
    );
}
