//! Keyspace notifications (`notify-keyspace-events`): the classes CONFIG SET accepts and how
//! CONFIG GET spells them, and the `__keyspace@<db>__:<key>` / `__keyevent@<db>__:<event>`
//! messages a pattern subscriber receives for each type's commands, for expiry and for new
//! keys, as Redis 7.0 publishes them.

mod common;

use std::time::Duration;

use common::subscriber::{Subscriber, MARKER};
use common::{call, err, TestServer};

/// The next message: (channel, payload).
fn next(sub: &mut Subscriber) -> (String, String) {
    sub.next()
}

/// Asserts the next messages are the keyspace and keyevent notifications of `events`, each
/// `(db, event, key)`, in order (with `K` and `E` both on).
fn expect_events(conn: &mut Subscriber, events: &[(u32, &str, &str)]) {
    for &(db, event, key) in events {
        assert_eq!(
            next(conn),
            (format!("__keyspace@{db}__:{key}"), event.to_string()),
            "keyspace message of {event} {key}"
        );
        assert_eq!(
            next(conn),
            (format!("__keyevent@{db}__:{event}"), key.to_string()),
            "keyevent message of {event} {key}"
        );
    }
}

/// Asserts that nothing but the marker comes next.
fn expect_quiet(s: &TestServer, conn: &mut Subscriber) {
    call::<i64>(&mut s.conn(), &["PUBLISH", MARKER, "end"]);
    assert_eq!(next(conn), (MARKER.to_string(), "end".to_string()));
}

/// A server with `classes` on, a subscriber to everything and a writer connection.
fn setup(classes: &str) -> (TestServer, Subscriber, redis::Connection) {
    let s = TestServer::start();
    let mut w = s.conn();
    call::<()>(
        &mut w,
        &["CONFIG", "SET", "notify-keyspace-events", classes],
    );
    let sub = Subscriber::new(&s);
    (s, sub, w)
}

fn config_get(w: &mut redis::Connection) -> String {
    let pair: Vec<String> = call(w, &["CONFIG", "GET", "notify-keyspace-events"]);
    pair[1].clone()
}

#[test]
fn config_get_spells_classes_as_redis_does() {
    let s = TestServer::start();
    let mut w = s.conn();
    assert_eq!(config_get(&mut w), "");
    for (set, shown) in [
        ("gKE", "gKE"),
        ("$lshzxeKE", "$lshzxeKE"),
        ("KA", "AK"),
        ("EA", "AE"),
        ("Elg", "glE"),
        ("Kmn", "nKm"),
        ("g$lshzxetdK", "AK"),
        ("", ""),
    ] {
        call::<()>(&mut w, &["CONFIG", "SET", "notify-keyspace-events", set]);
        assert_eq!(config_get(&mut w), shown, "after setting {set:?}");
    }
}

#[test]
fn config_set_refuses_an_unknown_class() {
    let s = TestServer::start();
    let mut w = s.conn();
    call::<()>(&mut w, &["CONFIG", "SET", "notify-keyspace-events", "KEg"]);
    assert_eq!(
        err(&mut w, &["CONFIG", "SET", "notify-keyspace-events", "KEq"]),
        "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - \
         Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
    );
    assert_eq!(config_get(&mut w), "gKE");
}

#[test]
fn config_file_classes_are_in_force_at_start() {
    let s = TestServer::start_with(&["--notify-keyspace-events", "KEA"]);
    let mut w = s.conn();
    assert_eq!(config_get(&mut w), "AKE");
    let mut sub = Subscriber::new(&s);
    call::<()>(&mut w, &["SET", "k", "v"]);
    expect_events(&mut sub, &[(0, "set", "k")]);
}

#[test]
fn set_publishes_on_key_and_event_channels() {
    let (s, mut sub, mut w) = setup("KEA");
    call::<()>(&mut w, &["SET", "foo", "bar"]);
    expect_events(&mut sub, &[(0, "set", "foo")]);
    expect_quiet(&s, &mut sub);
}

#[test]
fn k_alone_publishes_only_on_the_key_channel() {
    let (s, mut sub, mut w) = setup("K$");
    call::<()>(&mut w, &["SET", "foo", "bar"]);
    assert_eq!(next(&mut sub), ("__keyspace@0__:foo".into(), "set".into()));
    expect_quiet(&s, &mut sub);
}

#[test]
fn e_alone_publishes_only_on_the_event_channel() {
    let (s, mut sub, mut w) = setup("E$");
    call::<()>(&mut w, &["SET", "foo", "bar"]);
    assert_eq!(next(&mut sub), ("__keyevent@0__:set".into(), "foo".into()));
    expect_quiet(&s, &mut sub);
}

#[test]
fn channels_name_the_clients_database() {
    let (_s, mut sub, mut w) = setup("KEA");
    call::<()>(&mut w, &["SELECT", "5"]);
    call::<()>(&mut w, &["SET", "foo", "bar"]);
    expect_events(&mut sub, &[(5, "set", "foo")]);
}

#[test]
fn nothing_is_published_when_disabled() {
    let (s, mut sub, mut w) = setup("KEA");
    call::<()>(&mut w, &["CONFIG", "SET", "notify-keyspace-events", ""]);
    call::<()>(&mut w, &["SET", "foo", "bar"]);
    call::<i64>(&mut w, &["LPUSH", "l", "a"]);
    call::<i64>(&mut w, &["DEL", "foo", "l"]);
    expect_quiet(&s, &mut sub);
}

#[test]
fn classes_without_k_or_e_publish_nothing() {
    let (s, mut sub, mut w) = setup("A");
    call::<()>(&mut w, &["SET", "foo", "bar"]);
    call::<i64>(&mut w, &["DEL", "foo"]);
    expect_quiet(&s, &mut sub);
}

#[test]
fn classes_not_selected_are_masked() {
    let (s, mut sub, mut w) = setup("KEl");
    call::<()>(&mut w, &["SET", "foo", "bar"]);
    call::<i64>(&mut w, &["LPUSH", "mylist", "a"]);
    expect_events(&mut sub, &[(0, "lpush", "mylist")]);
    expect_quiet(&s, &mut sub);
}

#[test]
fn string_commands_publish_their_events() {
    let (s, mut sub, mut w) = setup("KE$g");
    call::<()>(&mut w, &["SET", "s", "1", "EX", "100"]);
    call::<i64>(&mut w, &["INCRBY", "s", "2"]);
    call::<String>(&mut w, &["INCRBYFLOAT", "s", "0.5"]);
    call::<i64>(&mut w, &["APPEND", "s", "0"]);
    call::<i64>(&mut w, &["SETRANGE", "s", "0", "9"]);
    call::<()>(&mut w, &["MSET", "a", "1", "b", "2"]);
    call::<i64>(&mut w, &["SETNX", "a", "x"]);
    call::<i64>(&mut w, &["SETBIT", "bits", "3", "1"]);
    call::<String>(&mut w, &["GETDEL", "a"]);
    call::<i64>(&mut w, &["PFADD", "hll", "x"]);
    expect_events(
        &mut sub,
        &[
            (0, "set", "s"),
            (0, "expire", "s"),
            (0, "incrby", "s"),
            (0, "incrbyfloat", "s"),
            (0, "append", "s"),
            (0, "setrange", "s"),
            (0, "set", "a"),
            (0, "set", "b"),
            (0, "setbit", "bits"),
            (0, "del", "a"),
            (0, "pfadd", "hll"),
        ],
    );
    expect_quiet(&s, &mut sub);
}

#[test]
fn list_commands_publish_their_events() {
    let (s, mut sub, mut w) = setup("KEA");
    call::<i64>(&mut w, &["RPUSH", "l", "a", "b", "c"]);
    call::<i64>(&mut w, &["LPUSH", "l", "z"]);
    call::<i64>(&mut w, &["LPUSHX", "missing", "z"]);
    call::<i64>(&mut w, &["LINSERT", "l", "BEFORE", "b", "x"]);
    call::<()>(&mut w, &["LSET", "l", "0", "y"]);
    call::<i64>(&mut w, &["LREM", "l", "0", "x"]);
    call::<()>(&mut w, &["LTRIM", "l", "0", "1"]);
    call::<String>(&mut w, &["LMOVE", "l", "dst", "LEFT", "RIGHT"]);
    call::<String>(&mut w, &["RPOP", "l"]);
    expect_events(
        &mut sub,
        &[
            (0, "rpush", "l"),
            (0, "lpush", "l"),
            (0, "linsert", "l"),
            (0, "lset", "l"),
            (0, "lrem", "l"),
            (0, "ltrim", "l"),
            // LMOVE: the push onto the destination comes before the pop from the source.
            (0, "rpush", "dst"),
            (0, "lpop", "l"),
            // The pop that empties a list removes the key.
            (0, "rpop", "l"),
            (0, "del", "l"),
        ],
    );
    expect_quiet(&s, &mut sub);
}

#[test]
fn blocking_pop_publishes_when_served() {
    let (s, mut sub, mut w) = setup("KEl");
    let mut blocked = s.conn();
    let waiter =
        std::thread::spawn(move || call::<Vec<String>>(&mut blocked, &["BLPOP", "q", "10"]));
    // Push once the client waits (CLIENT LIST shows it blocked).
    for _ in 0..500 {
        let list: String = call(&mut w, &["CLIENT", "LIST"]);
        if list.contains("cmd=blpop") {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    call::<i64>(&mut w, &["RPUSH", "q", "job"]);
    assert_eq!(waiter.join().unwrap(), vec!["q", "job"]);
    expect_events(&mut sub, &[(0, "rpush", "q"), (0, "lpop", "q")]);
    expect_quiet(&s, &mut sub);
}

#[test]
fn set_commands_publish_their_events() {
    let (s, mut sub, mut w) = setup("KEA");
    call::<i64>(&mut w, &["SADD", "s", "a", "b", "c"]);
    call::<i64>(&mut w, &["SADD", "s", "a"]);
    call::<i64>(&mut w, &["SREM", "s", "x"]);
    call::<i64>(&mut w, &["SREM", "s", "a"]);
    call::<i64>(&mut w, &["SMOVE", "s", "t", "b"]);
    call::<i64>(&mut w, &["SINTERSTORE", "i", "s", "t"]);
    call::<i64>(&mut w, &["SUNIONSTORE", "u", "s", "t"]);
    call::<Vec<String>>(&mut w, &["SPOP", "s", "5"]);
    expect_events(
        &mut sub,
        &[
            (0, "sadd", "s"),
            (0, "srem", "s"),
            (0, "srem", "s"),
            (0, "sadd", "t"),
            // An empty result stores nothing and there was no destination to delete.
            (0, "sunionstore", "u"),
            (0, "spop", "s"),
            (0, "del", "s"),
        ],
    );
    expect_quiet(&s, &mut sub);
}

#[test]
fn an_empty_store_result_deletes_the_destination() {
    let (s, mut sub, mut w) = setup("KEA");
    call::<()>(&mut w, &["SET", "dst", "x"]);
    call::<i64>(&mut w, &["SINTERSTORE", "dst", "nothing", "here"]);
    expect_events(&mut sub, &[(0, "set", "dst"), (0, "del", "dst")]);
    expect_quiet(&s, &mut sub);
}

#[test]
fn sorted_set_commands_publish_their_events() {
    let (s, mut sub, mut w) = setup("KEA");
    call::<i64>(
        &mut w,
        &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"],
    );
    call::<i64>(&mut w, &["ZADD", "z", "1", "a"]);
    call::<String>(&mut w, &["ZINCRBY", "z", "5", "a"]);
    call::<i64>(&mut w, &["ZREM", "z", "x"]);
    call::<i64>(&mut w, &["ZREM", "z", "b"]);
    call::<i64>(&mut w, &["ZREMRANGEBYSCORE", "z", "3", "3"]);
    call::<i64>(&mut w, &["ZUNIONSTORE", "u", "1", "z"]);
    call::<i64>(&mut w, &["ZRANGESTORE", "r", "z", "0", "0"]);
    call::<Vec<String>>(&mut w, &["ZPOPMIN", "z", "10"]);
    expect_events(
        &mut sub,
        &[
            (0, "zadd", "z"),
            (0, "zincr", "z"),
            (0, "zrem", "z"),
            (0, "zremrangebyscore", "z"),
            (0, "zunionstore", "u"),
            (0, "zrangestore", "r"),
            (0, "zpopmin", "z"),
            (0, "del", "z"),
        ],
    );
    expect_quiet(&s, &mut sub);
}

#[test]
fn hash_commands_publish_their_events() {
    let (s, mut sub, mut w) = setup("KEA");
    call::<()>(&mut w, &["HMSET", "h", "yes", "1", "no", "0"]);
    call::<i64>(&mut w, &["HINCRBY", "h", "yes", "10"]);
    call::<String>(&mut w, &["HINCRBYFLOAT", "h", "no", "1.5"]);
    call::<i64>(&mut w, &["HSETNX", "h", "yes", "2"]);
    call::<i64>(&mut w, &["HDEL", "h", "missing"]);
    call::<i64>(&mut w, &["HDEL", "h", "yes", "no"]);
    expect_events(
        &mut sub,
        &[
            (0, "hset", "h"),
            (0, "hincrby", "h"),
            (0, "hincrbyfloat", "h"),
            (0, "hdel", "h"),
            (0, "del", "h"),
        ],
    );
    expect_quiet(&s, &mut sub);
}

#[test]
fn stream_commands_publish_their_events() {
    let (s, mut sub, mut w) = setup("KEt");
    call::<()>(&mut w, &["XGROUP", "CREATE", "st", "g", "$", "MKSTREAM"]);
    call::<i64>(&mut w, &["XGROUP", "CREATECONSUMER", "st", "g", "bob"]);
    call::<String>(&mut w, &["XADD", "st", "1-0", "f", "v"]);
    call::<redis::Value>(
        &mut w,
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "st", ">"],
    );
    call::<redis::Value>(&mut w, &["XCLAIM", "st", "g", "mike", "0", "1-0"]);
    call::<i64>(&mut w, &["XGROUP", "DELCONSUMER", "st", "g", "nobody"]);
    call::<i64>(&mut w, &["XGROUP", "DELCONSUMER", "st", "g", "bob"]);
    call::<String>(&mut w, &["XADD", "st", "MAXLEN", "1", "2-0", "f", "v"]);
    call::<i64>(&mut w, &["XDEL", "st", "2-0"]);
    call::<()>(&mut w, &["XSETID", "st", "5-0"]);
    call::<i64>(&mut w, &["XGROUP", "DESTROY", "st", "g"]);
    expect_events(
        &mut sub,
        &[
            (0, "xgroup-create", "st"),
            (0, "xgroup-createconsumer", "st"),
            (0, "xadd", "st"),
            (0, "xgroup-createconsumer", "st"),
            (0, "xgroup-createconsumer", "st"),
            (0, "xgroup-delconsumer", "st"),
            (0, "xadd", "st"),
            (0, "xtrim", "st"),
            (0, "xdel", "st"),
            (0, "xsetid", "st"),
            (0, "xgroup-destroy", "st"),
        ],
    );
    expect_quiet(&s, &mut sub);
}

#[test]
fn generic_commands_publish_their_events() {
    let (s, mut sub, mut w) = setup("KEg");
    call::<()>(&mut w, &["SET", "a", "1"]);
    call::<i64>(&mut w, &["EXPIRE", "a", "100"]);
    call::<i64>(&mut w, &["PERSIST", "a"]);
    call::<i64>(&mut w, &["PERSIST", "a"]);
    call::<()>(&mut w, &["RENAME", "a", "b"]);
    call::<i64>(&mut w, &["COPY", "b", "c", "DB", "2"]);
    call::<i64>(&mut w, &["MOVE", "b", "3"]);
    call::<()>(&mut w, &["SET", "d", "1"]);
    call::<i64>(&mut w, &["EXPIRE", "d", "-1"]);
    call::<()>(&mut w, &["SET", "e", "1"]);
    let payload: Vec<u8> = call(&mut w, &["DUMP", "e"]);
    call::<i64>(&mut w, &["DEL", "e", "e", "missing"]);
    let mut restore = redis::cmd("RESTORE");
    restore.arg("e").arg(0).arg(payload);
    restore.query::<()>(&mut w).unwrap();
    expect_events(
        &mut sub,
        &[
            (0, "expire", "a"),
            (0, "persist", "a"),
            (0, "rename_from", "a"),
            (0, "rename_to", "b"),
            (2, "copy_to", "c"),
            (0, "move_from", "b"),
            (3, "move_to", "b"),
            // A deadline already past deletes the key.
            (0, "del", "d"),
            (0, "del", "e"),
            (0, "restore", "e"),
        ],
    );
    expect_quiet(&s, &mut sub);
}

#[test]
fn sort_store_publishes_sortstore() {
    let (s, mut sub, mut w) = setup("KEl");
    call::<i64>(&mut w, &["RPUSH", "src", "3", "1", "2"]);
    call::<i64>(&mut w, &["SORT", "src", "STORE", "dst"]);
    expect_events(&mut sub, &[(0, "rpush", "src"), (0, "sortstore", "dst")]);
    expect_quiet(&s, &mut sub);
}

#[test]
fn the_active_expirer_publishes_expired() {
    let (s, mut sub, mut w) = setup("KEx");
    call::<()>(&mut w, &["PSETEX", "short", "100", "v"]);
    // Nothing touches the key: the expirer finds it on its own.
    expect_events(&mut sub, &[(0, "expired", "short")]);
    expect_quiet(&s, &mut sub);
}

#[test]
fn expired_names_the_database_the_key_lived_in() {
    let (_s, mut sub, mut w) = setup("Ex");
    call::<()>(&mut w, &["SELECT", "7"]);
    call::<()>(&mut w, &["PSETEX", "short", "50", "v"]);
    assert_eq!(
        next(&mut sub),
        ("__keyevent@7__:expired".into(), "short".into())
    );
}

#[test]
fn new_is_published_once_per_created_key() {
    let (s, mut sub, mut w) = setup("En");
    call::<()>(&mut w, &["SET", "foo", "bar"]);
    call::<()>(&mut w, &["SET", "foo", "baz"]);
    call::<i64>(&mut w, &["RPUSH", "l", "a", "b"]);
    call::<i64>(&mut w, &["RPUSH", "l", "c"]);
    call::<()>(&mut w, &["SELECT", "4"]);
    call::<()>(&mut w, &["SET", "bar", "bar"]);
    for (db, key) in [(0, "foo"), (0, "l"), (4, "bar")] {
        assert_eq!(
            next(&mut sub),
            (format!("__keyevent@{db}__:new"), key.to_string())
        );
    }
    expect_quiet(&s, &mut sub);
}

#[test]
fn new_follows_a_swapped_database() {
    let (_s, mut sub, mut w) = setup("En");
    call::<()>(&mut w, &["SWAPDB", "0", "1"]);
    call::<()>(&mut w, &["SET", "k", "v"]);
    assert_eq!(next(&mut sub), ("__keyevent@0__:new".into(), "k".into()));
}

#[test]
fn multi_and_scripts_publish_each_commands_events() {
    let (s, mut sub, mut w) = setup("KEA");
    call::<()>(&mut w, &["MULTI"]);
    call::<String>(&mut w, &["SET", "m", "1"]);
    call::<String>(&mut w, &["INCR", "m"]);
    call::<redis::Value>(&mut w, &["EXEC"]);
    call::<redis::Value>(
        &mut w,
        &[
            "EVAL",
            "redis.call('hset', KEYS[1], 'f', 'v'); return redis.call('del', KEYS[1])",
            "1",
            "h",
        ],
    );
    expect_events(
        &mut sub,
        &[
            (0, "set", "m"),
            (0, "incrby", "m"),
            (0, "hset", "h"),
            (0, "del", "h"),
        ],
    );
    expect_quiet(&s, &mut sub);
}

#[test]
fn a_write_over_an_expired_key_publishes_expired_then_new() {
    let (s, mut sub, mut w) = setup("Exn");
    // Only the write itself may find the key expired.
    call::<()>(&mut w, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    call::<()>(&mut w, &["PSETEX", "k", "20", "old"]);
    assert_eq!(next(&mut sub), ("__keyevent@0__:new".into(), "k".into()));
    std::thread::sleep(Duration::from_millis(100));
    call::<()>(&mut w, &["SET", "k", "new"]);
    assert_eq!(
        next(&mut sub),
        ("__keyevent@0__:expired".into(), "k".into())
    );
    assert_eq!(next(&mut sub), ("__keyevent@0__:new".into(), "k".into()));
    expect_quiet(&s, &mut sub);
}

#[test]
fn deleting_an_expired_key_publishes_expired_not_del() {
    let (s, mut sub, mut w) = setup("KEA");
    call::<()>(&mut w, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    call::<()>(&mut w, &["PSETEX", "k", "20", "v"]);
    expect_events(&mut sub, &[(0, "set", "k"), (0, "expire", "k")]);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(call::<i64>(&mut w, &["DEL", "k"]), 0);
    expect_events(&mut sub, &[(0, "expired", "k")]);
    expect_quiet(&s, &mut sub);
}
