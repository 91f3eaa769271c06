//! Keyspace commands on collections: TYPE, RENAME, COPY, MOVE, SCAN TYPE, OBJECT ENCODING,
//! DEBUG DIGEST, expiry and persistence across a restart.

mod common;

use common::{cmd, err, int, TestServer, WRONGTYPE};

/// Creates one key of every collection type: h (hash), l (list), s (set), z (zset).
fn seed(c: &mut redis::Connection) {
    int(c, &["HSET", "h", "f1", "v1", "f2", "v2"]);
    int(c, &["RPUSH", "l", "a", "b", "c"]);
    int(c, &["SADD", "s", "x", "y"]);
    int(c, &["ZADD", "z", "1", "one", "2", "two"]);
}

fn digest_value(c: &mut redis::Connection, key: &str) -> String {
    let v: Vec<String> = cmd(c, &["DEBUG", "DIGEST-VALUE", key]).unwrap();
    v[0].clone()
}

fn digest(c: &mut redis::Connection) -> String {
    cmd(c, &["DEBUG", "DIGEST"]).unwrap()
}

#[test]
fn type_names_every_collection() {
    let s = TestServer::start();
    let mut c = s.conn();
    seed(&mut c);
    for (key, t) in [("h", "hash"), ("l", "list"), ("s", "set"), ("z", "zset")] {
        let got: String = cmd(&mut c, &["TYPE", key]).unwrap();
        assert_eq!(got, t);
    }
}

#[test]
fn rename_moves_elements_and_keeps_the_ttl() {
    let s = TestServer::start();
    let mut c = s.conn();
    seed(&mut c);
    for key in ["h", "l", "s", "z"] {
        int(&mut c, &["EXPIRE", key, "1000"]);
        // A TTL is part of the value's digest, as in Redis.
        let before = digest_value(&mut c, key);
        let dst = format!("{key}-renamed");
        let _: () = cmd(&mut c, &["RENAME", key, &dst]).unwrap();
        assert_eq!(int(&mut c, &["EXISTS", key]), 0);
        assert_eq!(digest_value(&mut c, &dst), before, "{key}");
        assert!(int(&mut c, &["TTL", &dst]) > 990);
    }
    let members: Vec<String> = cmd(&mut c, &["LRANGE", "l-renamed", "0", "-1"]).unwrap();
    assert_eq!(members, ["a", "b", "c"]);
}

#[test]
fn rename_over_a_collection_replaces_it_entirely() {
    let s = TestServer::start();
    let mut c = s.conn();
    int(&mut c, &["SADD", "src", "new"]);
    int(&mut c, &["SADD", "dst", "old1", "old2"]);
    let _: () = cmd(&mut c, &["RENAME", "src", "dst"]).unwrap();
    let members: Vec<String> = cmd(&mut c, &["SMEMBERS", "dst"]).unwrap();
    assert_eq!(members, ["new"]);
    assert_eq!(int(&mut c, &["SCARD", "dst"]), 1);
}

#[test]
fn copy_duplicates_every_type_independently() {
    let s = TestServer::start();
    let mut c = s.conn();
    seed(&mut c);
    for key in ["h", "l", "s", "z"] {
        let dst = format!("{key}-copy");
        assert_eq!(int(&mut c, &["COPY", key, &dst]), 1);
        assert_eq!(digest_value(&mut c, &dst), digest_value(&mut c, key));
    }
    // Changing the copy leaves the original alone.
    int(&mut c, &["HSET", "h-copy", "f3", "v3"]);
    assert_eq!(int(&mut c, &["HLEN", "h"]), 2);
    assert_eq!(int(&mut c, &["COPY", "s", "s-copy"]), 0);
    assert_eq!(int(&mut c, &["COPY", "s", "h-copy", "REPLACE"]), 1);
    let t: String = cmd(&mut c, &["TYPE", "h-copy"]).unwrap();
    assert_eq!(t, "set");
    assert_eq!(int(&mut c, &["COPY", "z", "z-db3", "DB", "3"]), 1);
    let _: () = cmd(&mut c, &["SELECT", "3"]).unwrap();
    assert_eq!(int(&mut c, &["ZCARD", "z-db3"]), 2);
}

#[test]
fn move_carries_elements_to_the_other_database() {
    let s = TestServer::start();
    let mut c = s.conn();
    seed(&mut c);
    let before = digest_value(&mut c, "z");
    assert_eq!(int(&mut c, &["MOVE", "z", "1"]), 1);
    assert_eq!(int(&mut c, &["EXISTS", "z"]), 0);
    let _: () = cmd(&mut c, &["SELECT", "1"]).unwrap();
    assert_eq!(digest_value(&mut c, "z"), before);
    let range: Vec<String> = cmd(&mut c, &["ZRANGE", "z", "0", "-1"]).unwrap();
    assert_eq!(range, ["one", "two"]);
}

#[test]
fn scan_filters_by_collection_type() {
    let s = TestServer::start();
    let mut c = s.conn();
    seed(&mut c);
    let _: () = cmd(&mut c, &["SET", "str", "v"]).unwrap();
    for (t, key) in [("hash", "h"), ("list", "l"), ("set", "s"), ("zset", "z")] {
        let (cursor, keys): (String, Vec<String>) =
            cmd(&mut c, &["SCAN", "0", "TYPE", t, "COUNT", "100"]).unwrap();
        assert_eq!(cursor, "0");
        assert_eq!(keys, [key]);
    }
}

#[test]
fn object_encoding_follows_redis_size_rules() {
    let s = TestServer::start();
    let mut c = s.conn();
    seed(&mut c);
    let enc = |c: &mut redis::Connection, k: &str| -> String {
        cmd(c, &["OBJECT", "ENCODING", k]).unwrap()
    };
    assert_eq!(enc(&mut c, "h"), "listpack");
    assert_eq!(enc(&mut c, "l"), "quicklist");
    assert_eq!(enc(&mut c, "z"), "listpack");
    int(&mut c, &["SADD", "ints", "1", "2", "3"]);
    assert_eq!(enc(&mut c, "ints"), "intset");
    assert_eq!(enc(&mut c, "s"), "hashtable");
    let long = "x".repeat(100);
    int(&mut c, &["HSET", "h", "long", &long]);
    assert_eq!(enc(&mut c, "h"), "hashtable");
    // Redis never converts back while the key lives.
    int(&mut c, &["HDEL", "h", "long"]);
    assert_eq!(enc(&mut c, "h"), "hashtable");
    int(&mut c, &["ZADD", "z", "3", &long]);
    assert_eq!(enc(&mut c, "z"), "skiplist");
    let _: () = cmd(&mut c, &["CONFIG", "SET", "set-max-intset-entries", "2"]).unwrap();
    int(&mut c, &["SADD", "ints", "4"]);
    assert_eq!(enc(&mut c, "ints"), "hashtable");
}

#[test]
fn wrongtype_is_reported_across_types() {
    let s = TestServer::start();
    let mut c = s.conn();
    seed(&mut c);
    let wrong = WRONGTYPE;
    assert_eq!(err(&mut c, &["GET", "h"]), wrong);
    assert_eq!(err(&mut c, &["LPUSH", "h", "x"]), wrong);
    assert_eq!(err(&mut c, &["SADD", "l", "x"]), wrong);
    assert_eq!(err(&mut c, &["ZADD", "s", "1", "x"]), wrong);
    assert_eq!(err(&mut c, &["HSET", "z", "f", "v"]), wrong);
    assert_eq!(err(&mut c, &["INCR", "z"]), wrong);
}

#[test]
fn digests_agree_between_servers_with_the_same_data() {
    let a = TestServer::start();
    let b = TestServer::start();
    let mut ca = a.conn();
    let mut cb = b.conn();
    seed(&mut ca);
    // The same contents reached another way (other insertion order, a deleted and re-created
    // key) digest the same.
    int(&mut cb, &["ZADD", "z", "2", "two", "1", "one"]);
    int(&mut cb, &["SADD", "s", "y", "gone"]);
    int(&mut cb, &["SREM", "s", "gone"]);
    int(&mut cb, &["SADD", "s", "x"]);
    int(&mut cb, &["LPUSH", "l", "c", "b", "a"]);
    int(&mut cb, &["HSET", "h", "f2", "v2", "f1", "v1"]);
    assert_eq!(digest(&mut ca), digest(&mut cb));
    int(&mut cb, &["LPUSH", "l", "extra"]);
    assert_ne!(digest(&mut ca), digest(&mut cb));
}

#[test]
fn collections_and_their_ttls_survive_a_restart() {
    let mut s = TestServer::start();
    let before = {
        let mut c = s.conn();
        seed(&mut c);
        int(&mut c, &["EXPIRE", "z", "1000"]);
        digest(&mut c)
    };
    s.restart();
    let mut c = s.conn();
    assert_eq!(digest(&mut c), before);
    assert!(int(&mut c, &["TTL", "z"]) > 990);
    assert_eq!(int(&mut c, &["DBSIZE"]), 4);
}

#[test]
fn expired_collections_vanish() {
    let s = TestServer::start();
    let mut c = s.conn();
    seed(&mut c);
    for key in ["h", "l", "s", "z"] {
        int(&mut c, &["PEXPIRE", key, "1"]);
    }
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(int(&mut c, &["EXISTS", "h", "l", "s", "z"]), 0);
    assert_eq!(int(&mut c, &["LLEN", "l"]), 0);
    int(&mut c, &["RPUSH", "l", "new"]);
    let all: Vec<String> = cmd(&mut c, &["LRANGE", "l", "0", "-1"]).unwrap();
    assert_eq!(all, ["new"]);
}
