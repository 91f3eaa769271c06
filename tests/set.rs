//! Set commands, black-box: membership, random members, SMOVE, set algebra, SSCAN, encodings.

mod common;

use std::collections::BTreeSet;

use common::{cmd, err, int, with_storage, TestServer, WRONGTYPE};
use pika::storage::DataType;

const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";

fn members(c: &mut redis::Connection, args: &[&str]) -> BTreeSet<String> {
    let v: Vec<String> = cmd(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    v.into_iter().collect()
}

fn set_of(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn sadd(c: &mut redis::Connection, key: &str, items: &[&str]) -> i64 {
    let mut args = vec!["SADD", key];
    args.extend_from_slice(items);
    int(c, &args)
}

/// True when the stored set is flagged as Redis' big encoding (hashtable).
fn is_large(s: &mut TestServer, key: &str) -> bool {
    with_storage(s, |st| {
        st.read_collection(0, key.as_bytes(), DataType::Set)
            .expect("read")
            .expect("set exists")
            .is_large()
    })
}

// ---------------------------------------------------------------------------------------------
// SADD / SREM / SCARD / SISMEMBER / SMISMEMBER / SMEMBERS

#[test]
fn sadd_counts_only_new_members_and_duplicates_once() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(sadd(&mut c, "s", &["a", "b", "a"]), 2);
    assert_eq!(sadd(&mut c, "s", &["b", "c"]), 1);
    assert_eq!(int(&mut c, &["SCARD", "s"]), 3);
    assert_eq!(
        members(&mut c, &["SMEMBERS", "s"]),
        set_of(&["a", "b", "c"])
    );
}

#[test]
fn sadd_against_a_string_is_wrongtype() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "k", "v"]).unwrap();
    assert_eq!(err(&mut c, &["SADD", "k", "a"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["SCARD", "k"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["SMEMBERS", "k"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["SISMEMBER", "k", "a"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["SMISMEMBER", "k", "a"]), WRONGTYPE);
}

#[test]
fn sadd_arity_is_checked() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["SADD", "s"]),
        "ERR wrong number of arguments for 'sadd' command"
    );
}

#[test]
fn srem_removes_and_deletes_the_emptied_key() {
    let s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "s", &["a", "b", "c"]);
    assert_eq!(int(&mut c, &["SREM", "s", "a", "x", "a"]), 1);
    assert_eq!(int(&mut c, &["SREM", "s", "b", "c"]), 2);
    assert_eq!(int(&mut c, &["EXISTS", "s"]), 0);
    assert_eq!(int(&mut c, &["SREM", "missing", "a"]), 0);
}

#[test]
fn sismember_and_smismember_answer_membership() {
    let s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "s", &["a", "b"]);
    assert_eq!(int(&mut c, &["SISMEMBER", "s", "a"]), 1);
    assert_eq!(int(&mut c, &["SISMEMBER", "s", "z"]), 0);
    assert_eq!(int(&mut c, &["SISMEMBER", "missing", "a"]), 0);
    let v: Vec<i64> = cmd(&mut c, &["SMISMEMBER", "s", "a", "z", "b"]).unwrap();
    assert_eq!(v, vec![1, 0, 1]);
    let v: Vec<i64> = cmd(&mut c, &["SMISMEMBER", "missing", "a", "b"]).unwrap();
    assert_eq!(v, vec![0, 0]);
}

#[test]
fn smembers_of_missing_key_is_empty() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert!(members(&mut c, &["SMEMBERS", "none"]).is_empty());
    assert_eq!(int(&mut c, &["SCARD", "none"]), 0);
}

#[test]
fn smembers_is_a_resp3_set() {
    let s = TestServer::start();
    let mut raw = s.raw();
    let _ = common::raw_roundtrip(&mut raw, b"HELLO 3\r\n", 1);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let _ = common::read_at_least(&mut raw, 0);
    common::expect_raw(&mut raw, b"SADD s a\r\n", b":1\r\n");
    common::expect_raw(&mut raw, b"SMEMBERS s\r\n", b"~1\r\n$1\r\na\r\n");
    common::expect_raw(&mut raw, b"SINTER s\r\n", b"~1\r\n$1\r\na\r\n");
}

#[test]
fn sets_survive_restart() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "s", &["x", "1", "y"]);
    drop(c);
    s.restart();
    let mut c = s.conn();
    assert_eq!(
        members(&mut c, &["SMEMBERS", "s"]),
        set_of(&["1", "x", "y"])
    );
    assert_eq!(int(&mut c, &["SCARD", "s"]), 3);
}

// ---------------------------------------------------------------------------------------------
// Encoding flag

#[test]
fn integer_sets_stay_compact_until_a_string_member() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "s", &["1", "2", "-3"]);
    drop(c);
    assert!(!is_large(&mut s, "s"));
    let mut c = s.conn();
    sadd(&mut c, "s", &["a"]);
    int(&mut c, &["SREM", "s", "a"]);
    drop(c);
    assert!(is_large(&mut s, "s"), "the big encoding is sticky");
}

#[test]
fn non_canonical_integers_are_not_intset_members() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "s", &["01"]);
    drop(c);
    assert!(is_large(&mut s, "s"));
}

#[test]
fn intset_limit_marks_the_set_large() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["CONFIG", "SET", "set-max-intset-entries", "4"]).unwrap();
    sadd(&mut c, "s", &["1", "2", "3", "4"]);
    drop(c);
    assert!(!is_large(&mut s, "s"));
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["CONFIG", "SET", "set-max-intset-entries", "4"]).unwrap();
    sadd(&mut c, "s", &["5"]);
    drop(c);
    assert!(is_large(&mut s, "s"));
}

#[test]
fn store_destination_starts_compact() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "a", &["1", "2", "x"]);
    sadd(&mut c, "b", &["1", "2"]);
    assert_eq!(int(&mut c, &["SINTERSTORE", "d", "a", "b"]), 2);
    drop(c);
    assert!(is_large(&mut s, "a"));
    assert!(!is_large(&mut s, "d"));
}

// ---------------------------------------------------------------------------------------------
// SRANDMEMBER / SPOP

#[test]
fn srandmember_returns_a_member_or_nil() {
    let s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "s", &["a", "b", "c"]);
    let m: String = cmd(&mut c, &["SRANDMEMBER", "s"]).unwrap();
    assert!(["a", "b", "c"].contains(&m.as_str()));
    let none: Option<String> = cmd(&mut c, &["SRANDMEMBER", "missing"]).unwrap();
    assert_eq!(none, None);
}

#[test]
fn srandmember_positive_count_is_distinct_and_capped() {
    let s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "s", &["a", "b", "c", "d", "e"]);
    let v: Vec<String> = cmd(&mut c, &["SRANDMEMBER", "s", "3"]).unwrap();
    assert_eq!(v.len(), 3);
    assert_eq!(v.iter().collect::<BTreeSet<_>>().len(), 3);
    let all: Vec<String> = cmd(&mut c, &["SRANDMEMBER", "s", "10"]).unwrap();
    assert_eq!(all.len(), 5);
    let zero: Vec<String> = cmd(&mut c, &["SRANDMEMBER", "s", "0"]).unwrap();
    assert!(zero.is_empty());
}

#[test]
fn srandmember_negative_count_repeats() {
    let s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "s", &["a", "b"]);
    let v: Vec<String> = cmd(&mut c, &["SRANDMEMBER", "s", "-20"]).unwrap();
    assert_eq!(v.len(), 20);
    assert!(v.iter().all(|m| m == "a" || m == "b"));
}

#[test]
fn srandmember_reaches_every_member_of_a_large_set() {
    let s = TestServer::start();
    let mut c = s.conn();
    let items: Vec<String> = (0..3000).map(|i| format!("m:{i}")).collect();
    let refs: Vec<&str> = items.iter().map(|s| s.as_str()).collect();
    sadd(&mut c, "big", &refs);
    let mut seen = BTreeSet::new();
    for _ in 0..50 {
        let v: Vec<String> = cmd(&mut c, &["SRANDMEMBER", "big", "-100"]).unwrap();
        assert_eq!(v.len(), 100);
        for m in v {
            assert!(m.starts_with("m:"));
            seen.insert(m);
        }
    }
    assert!(seen.len() > 300, "only {} distinct members", seen.len());
}

#[test]
fn srandmember_count_errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "s", &["a"]);
    assert_eq!(err(&mut c, &["SRANDMEMBER", "s", "x"]), NOT_INT);
    assert_eq!(
        err(&mut c, &["SRANDMEMBER", "s", "-9223372036854775808"]),
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    assert_eq!(err(&mut c, &["SRANDMEMBER", "s", "1", "2"]), SYNTAX);
}

#[test]
fn spop_removes_the_member_and_the_last_one_deletes_the_key() {
    let s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "s", &["a", "b"]);
    let first: String = cmd(&mut c, &["SPOP", "s"]).unwrap();
    assert_eq!(int(&mut c, &["SISMEMBER", "s", &first]), 0);
    let _: String = cmd(&mut c, &["SPOP", "s"]).unwrap();
    assert_eq!(int(&mut c, &["EXISTS", "s"]), 0);
    let none: Option<String> = cmd(&mut c, &["SPOP", "s"]).unwrap();
    assert_eq!(none, None);
}

#[test]
fn spop_with_count_pops_distinct_members() {
    let s = TestServer::start();
    let mut c = s.conn();
    let items: Vec<String> = (0..50).map(|i| i.to_string()).collect();
    let refs: Vec<&str> = items.iter().map(|s| s.as_str()).collect();
    sadd(&mut c, "s", &refs);
    let a = members(&mut c, &["SPOP", "s", "5"]);
    assert_eq!(a.len(), 5);
    let b = members(&mut c, &["SPOP", "s", "40"]);
    assert_eq!(b.len(), 40);
    assert!(a.is_disjoint(&b));
    assert_eq!(int(&mut c, &["SCARD", "s"]), 5);
    let rest = members(&mut c, &["SPOP", "s", "100"]);
    assert_eq!(rest.len(), 5);
    assert_eq!(int(&mut c, &["EXISTS", "s"]), 0);
    let all: BTreeSet<String> = a.union(&b).chain(rest.iter()).cloned().collect();
    assert_eq!(all.len(), 50);
}

#[test]
fn spop_count_errors_and_empty_cases() {
    let s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "s", &["a"]);
    let msg = "ERR value is out of range, must be positive";
    assert_eq!(err(&mut c, &["SPOP", "s", "-1"]), msg);
    assert_eq!(err(&mut c, &["SPOP", "s", "x"]), msg);
    assert_eq!(err(&mut c, &["SPOP", "s", "1", "2"]), SYNTAX);
    assert!(members(&mut c, &["SPOP", "s", "0"]).is_empty());
    assert!(members(&mut c, &["SPOP", "missing", "3"]).is_empty());
    assert_eq!(int(&mut c, &["SCARD", "s"]), 1);
}

#[test]
fn spop_on_a_large_set_pops_members() {
    let s = TestServer::start();
    let mut c = s.conn();
    let items: Vec<String> = (0..2000).map(|i| format!("k{i}")).collect();
    let refs: Vec<&str> = items.iter().map(|s| s.as_str()).collect();
    sadd(&mut c, "big", &refs);
    let mut popped = BTreeSet::new();
    for _ in 0..20 {
        let m: String = cmd(&mut c, &["SPOP", "big"]).unwrap();
        assert!(popped.insert(m));
    }
    assert_eq!(int(&mut c, &["SCARD", "big"]), 1980);
}

#[test]
fn spop_drains_a_large_set_returning_every_member_once() {
    let s = TestServer::start();
    let mut c = s.conn();
    let items: Vec<String> = (0..3000).map(|i| format!("m{i}")).collect();
    let refs: Vec<&str> = items.iter().map(|s| s.as_str()).collect();
    sadd(&mut c, "big", &refs);
    let mut pipe = redis::pipe();
    for _ in 0..3000 {
        pipe.cmd("SPOP").arg("big");
    }
    let popped: Vec<String> = pipe.query(&mut c).unwrap();
    let distinct: BTreeSet<String> = popped.into_iter().collect();
    assert_eq!(distinct, items.iter().cloned().collect::<BTreeSet<_>>());
    assert_eq!(int(&mut c, &["EXISTS", "big"]), 0);
    let nothing: Option<String> = cmd(&mut c, &["SPOP", "big"]).unwrap();
    assert_eq!(nothing, None);
}

// ---------------------------------------------------------------------------------------------
// SMOVE

#[test]
fn smove_moves_between_sets() {
    let s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "src", &["a", "b"]);
    sadd(&mut c, "dst", &["b"]);
    assert_eq!(int(&mut c, &["SMOVE", "src", "dst", "a"]), 1);
    assert_eq!(int(&mut c, &["SMOVE", "src", "dst", "b"]), 1);
    assert_eq!(int(&mut c, &["EXISTS", "src"]), 0);
    assert_eq!(members(&mut c, &["SMEMBERS", "dst"]), set_of(&["a", "b"]));
    assert_eq!(int(&mut c, &["SMOVE", "dst", "new", "a"]), 1);
    assert_eq!(members(&mut c, &["SMEMBERS", "new"]), set_of(&["a"]));
}

#[test]
fn smove_missing_member_or_source_is_zero() {
    let s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "src", &["a"]);
    assert_eq!(int(&mut c, &["SMOVE", "src", "dst", "z"]), 0);
    assert_eq!(int(&mut c, &["SMOVE", "nosrc", "dst", "a"]), 0);
    assert_eq!(int(&mut c, &["SMOVE", "src", "src", "a"]), 1);
    assert_eq!(int(&mut c, &["SMOVE", "src", "src", "z"]), 0);
}

#[test]
fn smove_wrongtype_source_or_destination() {
    let s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "src", &["a"]);
    let _: () = cmd(&mut c, &["SET", "str", "v"]).unwrap();
    assert_eq!(err(&mut c, &["SMOVE", "str", "src", "a"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["SMOVE", "src", "str", "a"]), WRONGTYPE);
    // A missing source answers 0 before the destination's type is looked at.
    assert_eq!(int(&mut c, &["SMOVE", "nosrc", "str", "a"]), 0);
}

// ---------------------------------------------------------------------------------------------
// Set algebra

fn algebra_fixture(c: &mut redis::Connection) {
    sadd(c, "a", &["1", "2", "3", "x"]);
    sadd(c, "b", &["2", "3", "4"]);
    sadd(c, "c", &["3", "5", "x"]);
}

#[test]
fn sinter_intersects() {
    let s = TestServer::start();
    let mut c = s.conn();
    algebra_fixture(&mut c);
    assert_eq!(members(&mut c, &["SINTER", "a", "b"]), set_of(&["2", "3"]));
    assert_eq!(members(&mut c, &["SINTER", "a", "b", "c"]), set_of(&["3"]));
    assert!(members(&mut c, &["SINTER", "a", "missing"]).is_empty());
    assert_eq!(members(&mut c, &["SINTER", "a", "a"]).len(), 4);
}

#[test]
fn sunion_and_sdiff() {
    let s = TestServer::start();
    let mut c = s.conn();
    algebra_fixture(&mut c);
    assert_eq!(
        members(&mut c, &["SUNION", "a", "b", "c", "missing"]),
        set_of(&["1", "2", "3", "4", "5", "x"])
    );
    assert_eq!(members(&mut c, &["SDIFF", "a", "b"]), set_of(&["1", "x"]));
    assert_eq!(members(&mut c, &["SDIFF", "a", "b", "c"]), set_of(&["1"]));
    assert!(members(&mut c, &["SDIFF", "a", "a"]).is_empty());
    assert!(members(&mut c, &["SDIFF", "missing", "a"]).is_empty());
    assert_eq!(members(&mut c, &["SDIFF", "a", "missing"]).len(), 4);
}

#[test]
fn algebra_wrongtype_even_after_a_missing_key() {
    let s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "a", &["1"]);
    let _: () = cmd(&mut c, &["SET", "str", "v"]).unwrap();
    assert_eq!(err(&mut c, &["SINTER", "missing", "str"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["SUNION", "a", "str"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["SDIFF", "a", "str"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["SINTERSTORE", "d", "a", "str"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["SINTERCARD", "2", "a", "str"]), WRONGTYPE);
}

#[test]
fn store_forms_replace_the_destination() {
    let s = TestServer::start();
    let mut c = s.conn();
    algebra_fixture(&mut c);
    let _: () = cmd(&mut c, &["SET", "d", "string"]).unwrap();
    assert_eq!(int(&mut c, &["SINTERSTORE", "d", "a", "b"]), 2);
    assert_eq!(members(&mut c, &["SMEMBERS", "d"]), set_of(&["2", "3"]));
    assert_eq!(int(&mut c, &["SUNIONSTORE", "d", "d", "c"]), 4);
    assert_eq!(
        members(&mut c, &["SMEMBERS", "d"]),
        set_of(&["2", "3", "5", "x"])
    );
    assert_eq!(int(&mut c, &["SDIFFSTORE", "d", "a", "d"]), 1);
    assert_eq!(members(&mut c, &["SMEMBERS", "d"]), set_of(&["1"]));
}

#[test]
fn store_forms_with_empty_result_delete_the_destination() {
    let s = TestServer::start();
    let mut c = s.conn();
    algebra_fixture(&mut c);
    let _: () = cmd(&mut c, &["SET", "d", "v"]).unwrap();
    let _: () = cmd(&mut c, &["EXPIRE", "d", "100"]).unwrap();
    assert_eq!(int(&mut c, &["SINTERSTORE", "d", "a", "missing"]), 0);
    assert_eq!(int(&mut c, &["EXISTS", "d"]), 0);
    sadd(&mut c, "d", &["q"]);
    assert_eq!(int(&mut c, &["SDIFFSTORE", "d", "a", "a"]), 0);
    assert_eq!(int(&mut c, &["EXISTS", "d"]), 0);
    assert_eq!(int(&mut c, &["SUNIONSTORE", "d", "m1", "m2"]), 0);
    assert_eq!(int(&mut c, &["EXISTS", "d"]), 0);
}

#[test]
fn store_drops_the_destination_ttl() {
    let s = TestServer::start();
    let mut c = s.conn();
    algebra_fixture(&mut c);
    sadd(&mut c, "d", &["old"]);
    let _: () = cmd(&mut c, &["EXPIRE", "d", "100"]).unwrap();
    assert_eq!(int(&mut c, &["SUNIONSTORE", "d", "a"]), 4);
    assert_eq!(int(&mut c, &["TTL", "d"]), -1);
}

#[test]
fn sintercard_counts_with_limit() {
    let s = TestServer::start();
    let mut c = s.conn();
    algebra_fixture(&mut c);
    assert_eq!(int(&mut c, &["SINTERCARD", "2", "a", "b"]), 2);
    assert_eq!(int(&mut c, &["SINTERCARD", "2", "a", "b", "LIMIT", "1"]), 1);
    assert_eq!(int(&mut c, &["SINTERCARD", "2", "a", "b", "LIMIT", "0"]), 2);
    assert_eq!(int(&mut c, &["SINTERCARD", "1", "a"]), 4);
    assert_eq!(int(&mut c, &["SINTERCARD", "2", "a", "missing"]), 0);
}

#[test]
fn sintercard_argument_errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    algebra_fixture(&mut c);
    let numkeys = "ERR numkeys should be greater than 0";
    assert_eq!(err(&mut c, &["SINTERCARD", "0", "a"]), numkeys);
    assert_eq!(err(&mut c, &["SINTERCARD", "x", "a"]), numkeys);
    assert_eq!(
        err(&mut c, &["SINTERCARD", "3", "a", "b"]),
        "ERR Number of keys can't be greater than number of args"
    );
    assert_eq!(
        err(&mut c, &["SINTERCARD", "1", "a", "LIMIT", "-1"]),
        "ERR LIMIT can't be negative"
    );
    assert_eq!(err(&mut c, &["SINTERCARD", "1", "a", "LIMIT"]), SYNTAX);
    assert_eq!(err(&mut c, &["SINTERCARD", "1", "a", "b"]), SYNTAX);
}

#[test]
fn sintercard_getkeys_follows_numkeys() {
    let s = TestServer::start();
    let mut c = s.conn();
    let keys: Vec<String> = cmd(
        &mut c,
        &[
            "COMMAND",
            "GETKEYS",
            "SINTERCARD",
            "2",
            "k1",
            "k2",
            "LIMIT",
            "3",
        ],
    )
    .unwrap();
    assert_eq!(keys, vec!["k1", "k2"]);
}

#[test]
fn large_intersection_streams_through_batches() {
    let s = TestServer::start();
    let mut c = s.conn();
    let evens: Vec<String> = (0..3000).step_by(2).map(|i| format!("e{i}")).collect();
    let all: Vec<String> = (0..3000).map(|i| format!("e{i}")).collect();
    let r1: Vec<&str> = evens.iter().map(|s| s.as_str()).collect();
    let r2: Vec<&str> = all.iter().map(|s| s.as_str()).collect();
    sadd(&mut c, "evens", &r1);
    sadd(&mut c, "all", &r2);
    assert_eq!(members(&mut c, &["SINTER", "all", "evens"]).len(), 1500);
    assert_eq!(int(&mut c, &["SINTERCARD", "2", "all", "evens"]), 1500);
    assert_eq!(members(&mut c, &["SDIFF", "all", "evens"]).len(), 1500);
    assert_eq!(members(&mut c, &["SUNION", "all", "evens"]).len(), 3000);
}

// ---------------------------------------------------------------------------------------------
// SSCAN

#[test]
fn sscan_walks_every_member() {
    let s = TestServer::start();
    let mut c = s.conn();
    let items: Vec<String> = (0..1000).map(|i| format!("m{i}")).collect();
    let refs: Vec<&str> = items.iter().map(|s| s.as_str()).collect();
    sadd(&mut c, "s", &refs);
    let mut cursor = "0".to_string();
    let mut seen = BTreeSet::new();
    loop {
        let (next, batch): (String, Vec<String>) =
            cmd(&mut c, &["SSCAN", "s", &cursor, "COUNT", "100"]).unwrap();
        seen.extend(batch);
        if next == "0" {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen.len(), 1000);
}

#[test]
fn sscan_match_filters_and_errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "s", &["foo", "bar", "fob"]);
    let (next, batch): (String, Vec<String>) =
        cmd(&mut c, &["SSCAN", "s", "0", "MATCH", "fo*"]).unwrap();
    assert_eq!(next, "0");
    assert_eq!(
        batch.into_iter().collect::<BTreeSet<_>>(),
        set_of(&["fob", "foo"])
    );
    assert_eq!(err(&mut c, &["SSCAN", "s", "x"]), "ERR invalid cursor");
    assert_eq!(err(&mut c, &["SSCAN", "s", "0", "COUNT", "0"]), SYNTAX);
    assert_eq!(err(&mut c, &["SSCAN", "s", "0", "TYPE", "set"]), SYNTAX);
    let (next, batch): (String, Vec<String>) = cmd(&mut c, &["SSCAN", "none", "0"]).unwrap();
    assert_eq!((next.as_str(), batch.len()), ("0", 0));
}
