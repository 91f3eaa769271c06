//! Pub/Sub: SUBSCRIBE / PSUBSCRIBE / UNSUBSCRIBE / PUNSUBSCRIBE, PUBLISH and PUBSUB, in RESP2
//! (subscribed mode) and RESP3 (push frames), checked byte for byte on raw connections.

mod common;

use std::io::Write;

use common::{expect_raw, int, read_at_least, TestServer};

fn publish(s: &TestServer, channel: &str, message: &str) -> i64 {
    int(&mut s.conn(), &["PUBLISH", channel, message])
}

#[test]
fn subscribers_get_messages_on_their_channels_only() {
    let s = TestServer::start();
    let mut sub = s.raw();
    expect_raw(
        &mut sub,
        b"SUBSCRIBE news sport\r\n",
        b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$5\r\nsport\r\n:2\r\n",
    );
    assert_eq!(publish(&s, "news", "hello"), 1);
    assert_eq!(publish(&s, "weather", "rain"), 0);
    assert_eq!(
        read_at_least(&mut sub, 33),
        b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    );
    expect_raw(
        &mut sub,
        b"UNSUBSCRIBE news\r\n",
        b"*3\r\n$11\r\nunsubscribe\r\n$4\r\nnews\r\n:1\r\n",
    );
    assert_eq!(publish(&s, "news", "again"), 0);
    assert_eq!(publish(&s, "sport", "goal"), 1);
    assert_eq!(
        read_at_least(&mut sub, 33),
        b"*3\r\n$7\r\nmessage\r\n$5\r\nsport\r\n$4\r\ngoal\r\n"
    );
}

#[test]
fn pattern_subscribers_get_pmessages() {
    let s = TestServer::start();
    let mut sub = s.raw();
    expect_raw(
        &mut sub,
        b"PSUBSCRIBE news.*\r\n",
        b"*3\r\n$10\r\npsubscribe\r\n$6\r\nnews.*\r\n:1\r\n",
    );
    assert_eq!(publish(&s, "news.tech", "x"), 1);
    assert_eq!(publish(&s, "sport", "y"), 0);
    let want = b"*4\r\n$8\r\npmessage\r\n$6\r\nnews.*\r\n$9\r\nnews.tech\r\n$1\r\nx\r\n";
    assert_eq!(read_at_least(&mut sub, want.len()), want);
    expect_raw(
        &mut sub,
        b"PUNSUBSCRIBE\r\n",
        b"*3\r\n$12\r\npunsubscribe\r\n$6\r\nnews.*\r\n:0\r\n",
    );
    // Nothing left: a bare PUNSUBSCRIBE answers with a nil name.
    expect_raw(
        &mut sub,
        b"PUNSUBSCRIBE\r\n",
        b"*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n",
    );
}

#[test]
fn subscribed_resp2_clients_may_only_subscribe_ping_quit_reset() {
    let s = TestServer::start();
    let mut sub = s.raw();
    expect_raw(
        &mut sub,
        b"SUBSCRIBE c\r\n",
        b"*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n",
    );
    let err = b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n";
    expect_raw(&mut sub, b"GET k\r\n", err);
    expect_raw(&mut sub, b"PING\r\n", b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    expect_raw(
        &mut sub,
        b"PING hi\r\n",
        b"*2\r\n$4\r\npong\r\n$2\r\nhi\r\n",
    );
    expect_raw(&mut sub, b"RESET\r\n", b"+RESET\r\n");
    assert_eq!(publish(&s, "c", "m"), 0);
    expect_raw(&mut sub, b"GET k\r\n", b"$-1\r\n");
}

#[test]
fn resp3_subscribers_get_push_frames_and_keep_running_commands() {
    let s = TestServer::start();
    let mut sub = s.raw();
    sub.write_all(b"HELLO 3\r\n").unwrap();
    // HELLO's map ends with the (empty) module list.
    let _ = common::read_until(&mut sub, b"modules\r\n*0\r\n");
    expect_raw(
        &mut sub,
        b"SUBSCRIBE c\r\n",
        b">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n",
    );
    expect_raw(&mut sub, b"GET k\r\n", b"_\r\n");
    assert_eq!(publish(&s, "c", "m"), 1);
    let want = b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n";
    assert_eq!(read_at_least(&mut sub, want.len()), want);
}

#[test]
fn pubsub_introspection_and_disconnect_cleanup() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut a = s.raw();
    let mut b = s.raw();
    let _ = common::raw_roundtrip(&mut a, b"SUBSCRIBE x y\r\n", 60);
    let _ = common::raw_roundtrip(&mut b, b"SUBSCRIBE x\r\nPSUBSCRIBE p*\r\n", 60);
    // The subscriptions become active once their confirmations are out.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let channels: Vec<String> = redis::cmd("PUBSUB").arg("CHANNELS").query(&mut c).unwrap();
    assert_eq!(channels, ["x", "y"]);
    let only_y: Vec<String> = redis::cmd("PUBSUB")
        .arg("CHANNELS")
        .arg("y*")
        .query(&mut c)
        .unwrap();
    assert_eq!(only_y, ["y"]);
    let numsub: Vec<redis::Value> = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg("x")
        .arg("none")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        numsub,
        [
            redis::Value::BulkString(b"x".to_vec()),
            redis::Value::Int(2),
            redis::Value::BulkString(b"none".to_vec()),
            redis::Value::Int(0),
        ]
    );
    assert_eq!(int(&mut c, &["PUBSUB", "NUMPAT"]), 1);
    assert_eq!(int(&mut c, &["PUBLISH", "x", "m"]), 2);
    drop(a);
    drop(b);
    common::wait_until("the subscribers to go", || {
        int(&mut c, &["PUBSUB", "NUMPAT"]) == 0
            && redis::cmd("PUBSUB")
                .arg("CHANNELS")
                .query::<Vec<String>>(&mut c)
                .unwrap()
                .is_empty()
    });
    assert_eq!(int(&mut c, &["PUBLISH", "x", "m"]), 0);
    let e = common::err(&mut c, &["PUBSUB", "NOPE"]);
    assert!(e.contains("unknown subcommand"), "{e}");
    let e = common::err(&mut c, &["PUBLISH", "x"]);
    assert!(e.contains("wrong number of arguments"), "{e}");
}

#[test]
fn subscribe_is_refused_inside_multi() {
    let s = TestServer::start();
    let mut c = s.raw();
    expect_raw(&mut c, b"MULTI\r\n", b"+OK\r\n");
    expect_raw(
        &mut c,
        b"SUBSCRIBE x\r\n",
        b"-ERR Command not allowed inside a transaction\r\n",
    );
}

#[test]
fn shard_channels_are_a_namespace_of_their_own() {
    let s = TestServer::start();
    let mut sub = s.raw();
    expect_raw(
        &mut sub,
        b"SSUBSCRIBE orders\r\nSUBSCRIBE orders\r\n",
        b"*3\r\n$10\r\nssubscribe\r\n$6\r\norders\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$6\r\norders\r\n:1\r\n",
    );
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["SPUBLISH", "orders", "o1"]), 1);
    assert_eq!(
        read_at_least(&mut sub, 35),
        b"*3\r\n$8\r\nsmessage\r\n$6\r\norders\r\n$2\r\no1\r\n"
    );
    assert_eq!(publish(&s, "orders", "p1"), 1);
    assert_eq!(
        read_at_least(&mut sub, 33),
        b"*3\r\n$7\r\nmessage\r\n$6\r\norders\r\n$2\r\np1\r\n"
    );
    let shard: Vec<String> = common::call(&mut c, &["PUBSUB", "SHARDCHANNELS"]);
    assert_eq!(shard, vec!["orders"]);
    let counts: Vec<redis::Value> = common::call(&mut c, &["PUBSUB", "SHARDNUMSUB", "orders", "x"]);
    assert_eq!(counts.len(), 4);
    assert_eq!(counts[1], redis::Value::Int(1));
    assert_eq!(counts[3], redis::Value::Int(0));
    expect_raw(
        &mut sub,
        b"SUNSUBSCRIBE\r\n",
        b"*3\r\n$12\r\nsunsubscribe\r\n$6\r\norders\r\n:0\r\n",
    );
    assert_eq!(int(&mut c, &["SPUBLISH", "orders", "o2"]), 0);
    let keys: Vec<String> =
        common::call(&mut c, &["COMMAND", "GETKEYS", "SPUBLISH", "orders", "m"]);
    assert_eq!(keys, vec!["orders"]);
}
