//! SORT and SORT_RO, black-box. Sets are built with SADD; lists, sorted sets and hashes are
//! written straight into storage (their layouts) while the server is stopped.

mod common;

use common::{cmd, err, int, with_storage, TestServer, WRONGTYPE};
use pika::storage::codec::{encode_score, Cf, DataType};
use pika::storage::types::Writer;
use redis::Value;

const SYNTAX: &str = "ERR syntax error";
const LIST_START: u64 = 1 << 63;

fn strings(c: &mut redis::Connection, args: &[&str]) -> Vec<String> {
    cmd(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn sadd(c: &mut redis::Connection, key: &str, items: &[&str]) {
    let mut args = vec!["SADD", key];
    args.extend_from_slice(items);
    int(c, &args);
}

/// Writes a list, a sorted set and a hash into db 0 with the server stopped.
fn seed(s: &mut TestServer, lists: &[(&str, &[&str])], zsets: &[(&str, &[(f64, &str)])]) {
    with_storage(s, |st| {
        for (key, items) in lists {
            let mut c = st
                .write_collection(0, key.as_bytes(), DataType::List)
                .unwrap();
            let mut txn = st.at(0, Writer::INTERNAL).txn();
            for (i, item) in items.iter().enumerate() {
                let idx = (LIST_START + i as u64).to_be_bytes();
                txn.put_element(Cf::List, &c, &idx, item.as_bytes());
            }
            c.header.count = items.len() as u64;
            let mut extra = LIST_START.to_be_bytes().to_vec();
            extra.extend_from_slice(&(LIST_START + items.len() as u64).to_be_bytes());
            c.header.extra = extra;
            txn.store_collection(&c);
            txn.commit().unwrap();
        }
        for (key, members) in zsets {
            let mut c = st
                .write_collection(0, key.as_bytes(), DataType::ZSet)
                .unwrap();
            let mut txn = st.at(0, Writer::INTERNAL).txn();
            for (score, m) in members.iter() {
                txn.put_element(Cf::ZSet, &c, m.as_bytes(), &encode_score(*score));
                let mut sub = encode_score(*score).to_vec();
                sub.extend_from_slice(m.as_bytes());
                txn.put_element(Cf::ZScore, &c, &sub, b"");
            }
            c.header.count = members.len() as u64;
            txn.store_collection(&c);
            txn.commit().unwrap();
        }
    });
}

fn seed_hash(s: &mut TestServer, key: &str, fields: &[(&str, &str)]) {
    with_storage(s, |st| {
        let mut c = st
            .write_collection(0, key.as_bytes(), DataType::Hash)
            .unwrap();
        let mut txn = st.at(0, Writer::INTERNAL).txn();
        for (f, v) in fields {
            txn.put_element(Cf::Hash, &c, f.as_bytes(), v.as_bytes());
        }
        c.header.count = fields.len() as u64;
        txn.store_collection(&c);
        txn.commit().unwrap();
    });
}

/// The stored list at `key`, read through storage (LRANGE lives elsewhere).
fn stored_list(s: &mut TestServer, key: &str) -> Option<Vec<String>> {
    with_storage(s, |st| {
        let c = st
            .read_collection(0, key.as_bytes(), DataType::List)
            .unwrap()?;
        let mut out = Vec::new();
        let mut cur = st.elements(Cf::List, &c, false);
        while let Some((_, v)) = cur.current() {
            out.push(String::from_utf8(v.to_vec()).unwrap());
            cur.advance();
        }
        assert_eq!(out.len() as u64, c.len());
        Some(out)
    })
}

#[test]
fn sort_set_numerically() {
    let s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "s", &["10", "2", "-1.5", "3e1"]);
    assert_eq!(strings(&mut c, &["SORT", "s"]), ["-1.5", "2", "10", "3e1"]);
    assert_eq!(
        strings(&mut c, &["SORT", "s", "DESC"]),
        ["3e1", "10", "2", "-1.5"]
    );
}

#[test]
fn sort_numeric_ties_break_by_element() {
    let s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "s", &["1.0", "1", "01", "0"]);
    assert_eq!(strings(&mut c, &["SORT", "s"]), ["0", "01", "1", "1.0"]);
    assert_eq!(
        strings(&mut c, &["SORT", "s", "DESC"]),
        ["1.0", "1", "01", "0"]
    );
}

#[test]
fn sort_alpha_and_non_numbers() {
    let s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "s", &["b", "a", "c"]);
    assert_eq!(
        err(&mut c, &["SORT", "s"]),
        "ERR One or more scores can't be converted into double"
    );
    assert_eq!(strings(&mut c, &["SORT", "s", "ALPHA"]), ["a", "b", "c"]);
    assert_eq!(
        strings(&mut c, &["SORT_RO", "s", "ALPHA", "DESC"]),
        ["c", "b", "a"]
    );
}

#[test]
fn sort_limit_windows() {
    let s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "s", &["1", "2", "3", "4", "5"]);
    assert_eq!(
        strings(&mut c, &["SORT", "s", "LIMIT", "1", "2"]),
        ["2", "3"]
    );
    assert_eq!(
        strings(&mut c, &["SORT", "s", "LIMIT", "-5", "2"]),
        ["1", "2"]
    );
    assert_eq!(
        strings(&mut c, &["SORT", "s", "LIMIT", "3", "-1"]),
        ["4", "5"]
    );
    assert!(strings(&mut c, &["SORT", "s", "LIMIT", "10", "2"]).is_empty());
    assert!(strings(&mut c, &["SORT", "s", "LIMIT", "0", "0"]).is_empty());
}

#[test]
fn sort_by_and_get_patterns() {
    let s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "s", &["a", "b", "c"]);
    for (k, v) in [
        ("w_a", "3"),
        ("w_b", "1"),
        ("w_c", "2"),
        ("o_a", "A"),
        ("o_c", "C"),
    ] {
        let _: () = cmd(&mut c, &["SET", k, v]).unwrap();
    }
    assert_eq!(
        strings(&mut c, &["SORT", "s", "BY", "w_*"]),
        ["b", "c", "a"]
    );
    let v: Vec<Option<String>> = cmd(
        &mut c,
        &["SORT", "s", "BY", "w_*", "GET", "o_*", "GET", "#"],
    )
    .unwrap();
    assert_eq!(
        v,
        vec![
            None,
            Some("b".into()),
            Some("C".into()),
            Some("c".into()),
            Some("A".into()),
            Some("a".into())
        ]
    );
    let v: Vec<Option<String>> = cmd(&mut c, &["SORT", "s", "ALPHA", "GET", "nostar"]).unwrap();
    assert_eq!(v, vec![None, None, None]);
}

#[test]
fn sort_by_missing_weights_counts_as_zero() {
    let s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "s", &["a", "b"]);
    let _: () = cmd(&mut c, &["SET", "w_a", "-1"]).unwrap();
    assert_eq!(strings(&mut c, &["SORT", "s", "BY", "w_*"]), ["a", "b"]);
    let _: () = cmd(&mut c, &["SET", "w_b", "x"]).unwrap();
    assert_eq!(
        err(&mut c, &["SORT", "s", "BY", "w_*"]),
        "ERR One or more scores can't be converted into double"
    );
}

#[test]
fn sort_alpha_by_puts_missing_weights_first() {
    let s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "s", &["a", "b", "c"]);
    let _: () = cmd(&mut c, &["SET", "w_a", "zz"]).unwrap();
    let _: () = cmd(&mut c, &["SET", "w_b", "aa"]).unwrap();
    assert_eq!(
        strings(&mut c, &["SORT", "s", "BY", "w_*", "ALPHA"]),
        ["c", "b", "a"]
    );
}

#[test]
fn sort_list_keeps_order_with_nosort() {
    let mut s = TestServer::start();
    seed(&mut s, &[("l", &["3", "1", "2", "5", "4"])], &[]);
    let mut c = s.conn();
    assert_eq!(strings(&mut c, &["SORT", "l"]), ["1", "2", "3", "4", "5"]);
    assert_eq!(
        strings(&mut c, &["SORT", "l", "BY", "nosort"]),
        ["3", "1", "2", "5", "4"]
    );
    assert_eq!(
        strings(&mut c, &["SORT", "l", "BY", "nosort", "DESC"]),
        ["4", "5", "2", "1", "3"]
    );
    assert_eq!(
        strings(&mut c, &["SORT", "l", "BY", "nosort", "LIMIT", "1", "2"]),
        ["1", "2"]
    );
    assert_eq!(
        strings(
            &mut c,
            &["SORT", "l", "BY", "nosort", "DESC", "LIMIT", "1", "2"]
        ),
        ["5", "2"]
    );
}

#[test]
fn sort_zset_by_member_value_or_score_order() {
    let mut s = TestServer::start();
    seed(
        &mut s,
        &[],
        &[("z", &[(1.0, "30"), (2.0, "10"), (3.0, "20")])],
    );
    let mut c = s.conn();
    assert_eq!(strings(&mut c, &["SORT", "z"]), ["10", "20", "30"]);
    assert_eq!(
        strings(&mut c, &["SORT", "z", "BY", "nosort"]),
        ["30", "10", "20"]
    );
    assert_eq!(
        strings(
            &mut c,
            &["SORT", "z", "BY", "nosort", "DESC", "LIMIT", "0", "2"]
        ),
        ["20", "10"]
    );
}

#[test]
fn sort_get_hash_fields() {
    let mut s = TestServer::start();
    seed_hash(&mut s, "h_a", &[("f", "x"), ("w", "2")]);
    seed_hash(&mut s, "h_b", &[("f", "y"), ("w", "1")]);
    let mut c = s.conn();
    sadd(&mut c, "s", &["a", "b"]);
    let v: Vec<Option<String>> = cmd(
        &mut c,
        &[
            "SORT",
            "s",
            "BY",
            "h_*->w",
            "GET",
            "h_*->f",
            "GET",
            "h_*->none",
        ],
    )
    .unwrap();
    assert_eq!(v, vec![Some("y".into()), None, Some("x".into()), None]);
}

#[test]
fn sort_store_writes_a_list_and_replaces_the_destination() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "s", &["3", "1", "2"]);
    let _: () = cmd(&mut c, &["SET", "dst", "old"]).unwrap();
    let _: () = cmd(&mut c, &["EXPIRE", "dst", "100"]).unwrap();
    assert_eq!(int(&mut c, &["SORT", "s", "STORE", "dst"]), 3);
    assert_eq!(int(&mut c, &["TTL", "dst"]), -1);
    let t: String = cmd(&mut c, &["TYPE", "dst"]).unwrap();
    assert_eq!(t, "list");
    drop(c);
    assert_eq!(stored_list(&mut s, "dst").unwrap(), ["1", "2", "3"]);
}

#[test]
fn sort_store_with_get_stores_empty_strings_for_missing() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "s", &["1", "2"]);
    let _: () = cmd(&mut c, &["SET", "o_1", "one"]).unwrap();
    assert_eq!(
        int(
            &mut c,
            &["SORT", "s", "GET", "o_*", "GET", "#", "STORE", "dst"]
        ),
        4
    );
    drop(c);
    assert_eq!(stored_list(&mut s, "dst").unwrap(), ["one", "1", "", "2"]);
}

#[test]
fn sort_store_of_empty_result_deletes_destination() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "dst", "x"]).unwrap();
    assert_eq!(int(&mut c, &["SORT", "missing", "STORE", "dst"]), 0);
    assert_eq!(int(&mut c, &["EXISTS", "dst"]), 0);
}

#[test]
fn sort_set_by_constant_with_store_is_alpha_sorted() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "s", &["b", "c", "a"]);
    assert_eq!(
        int(&mut c, &["SORT", "s", "BY", "nosort", "STORE", "dst"]),
        3
    );
    drop(c);
    assert_eq!(stored_list(&mut s, "dst").unwrap(), ["a", "b", "c"]);
}

#[test]
fn sort_ro_refuses_store() {
    let s = TestServer::start();
    let mut c = s.conn();
    sadd(&mut c, "s", &["1"]);
    assert_eq!(err(&mut c, &["SORT_RO", "s", "STORE", "dst"]), SYNTAX);
    assert_eq!(int(&mut c, &["EXISTS", "dst"]), 0);
}

#[test]
fn sort_errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "str", "1"]).unwrap();
    assert_eq!(err(&mut c, &["SORT", "str"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["SORT", "missing", "BOGUS"]), SYNTAX);
    assert_eq!(err(&mut c, &["SORT", "missing", "LIMIT", "1"]), SYNTAX);
    assert_eq!(
        err(&mut c, &["SORT", "missing", "LIMIT", "a", "1"]),
        "ERR value is not an integer or out of range"
    );
    let v: Value = cmd(&mut c, &["SORT", "missing"]).unwrap();
    assert_eq!(v, Value::Array(vec![]));
}

#[test]
fn sort_getkeys_reports_the_store_key() {
    let s = TestServer::start();
    let mut c = s.conn();
    let keys: Vec<String> = cmd(
        &mut c,
        &[
            "COMMAND", "GETKEYS", "SORT", "k", "LIMIT", "0", "1", "STORE", "d",
        ],
    )
    .unwrap();
    assert_eq!(keys, ["k", "d"]);
}
