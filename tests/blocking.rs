//! Blocking commands: clients park without holding a worker, are served first come first
//! served per key, time out with sub-second precision, and vanish cleanly on disconnect.

mod common;

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use common::{cmd, err, int, read_until, TestServer};
use redis::Value;

/// Runs a command on its own connection in a thread (a client that will block).
fn spawn_cmd(
    s: &TestServer,
    args: &'static [&'static str],
) -> thread::JoinHandle<redis::RedisResult<Value>> {
    let mut c = s.conn();
    thread::spawn(move || cmd::<Value>(&mut c, args))
}

/// Waits until INFO reports `n` blocked clients.
fn wait_blocked(c: &mut redis::Connection, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let info: String = cmd(c, &["INFO", "clients"]).expect("INFO");
        let line = format!("blocked_clients:{n}\r");
        if info.contains(&line) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never saw {n} blocked clients: {info}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

fn bulk(v: &str) -> Value {
    Value::BulkString(v.as_bytes().to_vec())
}

#[test]
fn blpop_is_woken_by_a_push_from_another_connection() {
    let s = TestServer::start();
    let mut c = s.conn();
    let waiter = spawn_cmd(&s, &["BLPOP", "q", "0"]);
    wait_blocked(&mut c, 1);
    assert_eq!(int(&mut c, &["RPUSH", "q", "job"]), 1);
    let got = waiter.join().expect("thread").expect("reply");
    assert_eq!(got, Value::Array(vec![bulk("q"), bulk("job")]));
    assert_eq!(int(&mut c, &["LLEN", "q"]), 0);
    wait_blocked(&mut c, 0);
}

#[test]
fn waiters_are_served_first_come_first_served() {
    let s = TestServer::start();
    let mut c = s.conn();
    let first = spawn_cmd(&s, &["BLPOP", "q", "0"]);
    wait_blocked(&mut c, 1);
    let second = spawn_cmd(&s, &["BLPOP", "q", "0"]);
    wait_blocked(&mut c, 2);
    assert_eq!(int(&mut c, &["RPUSH", "q", "a", "b"]), 2);
    assert_eq!(
        first.join().unwrap().unwrap(),
        Value::Array(vec![bulk("q"), bulk("a")])
    );
    assert_eq!(
        second.join().unwrap().unwrap(),
        Value::Array(vec![bulk("q"), bulk("b")])
    );
}

#[test]
fn one_push_serves_only_as_many_waiters_as_elements() {
    let s = TestServer::start();
    let mut c = s.conn();
    let first = spawn_cmd(&s, &["BLPOP", "q", "0"]);
    wait_blocked(&mut c, 1);
    let _second = spawn_cmd(&s, &["BLPOP", "q", "0"]);
    wait_blocked(&mut c, 2);
    int(&mut c, &["RPUSH", "q", "only"]);
    assert_eq!(
        first.join().unwrap().unwrap(),
        Value::Array(vec![bulk("q"), bulk("only")])
    );
    wait_blocked(&mut c, 1);
}

#[test]
fn timeout_answers_null_with_sub_second_precision() {
    let s = TestServer::start();
    let mut c = s.conn();
    let start = Instant::now();
    let v: Value = cmd(&mut c, &["BLPOP", "nothing", "0.2"]).expect("reply");
    let waited = start.elapsed();
    assert_eq!(v, Value::Nil);
    assert!(waited >= Duration::from_millis(190), "{waited:?}");
    assert!(waited < Duration::from_millis(1500), "{waited:?}");
    let v: Value = cmd(&mut c, &["BRPOPLPUSH", "nothing", "dst", "0.1"]).expect("reply");
    assert_eq!(v, Value::Nil);
}

#[test]
fn zero_timeout_waits_until_data_arrives() {
    let s = TestServer::start();
    let mut c = s.conn();
    let waiter = spawn_cmd(&s, &["BRPOP", "q", "0"]);
    wait_blocked(&mut c, 1);
    thread::sleep(Duration::from_millis(300));
    assert!(!waiter.is_finished());
    int(&mut c, &["LPUSH", "q", "late"]);
    assert_eq!(
        waiter.join().unwrap().unwrap(),
        Value::Array(vec![bulk("q"), bulk("late")])
    );
}

#[test]
fn bad_timeouts_are_rejected() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["BLPOP", "q", "-1"]),
        "ERR timeout is negative"
    );
    assert_eq!(
        err(&mut c, &["BLPOP", "q", "soon"]),
        "ERR timeout is not a float or out of range"
    );
}

#[test]
fn a_disconnected_waiter_leaves_no_trace() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut raw = s.raw();
    raw.write_all(b"BLPOP q 0\r\n").unwrap();
    wait_blocked(&mut c, 1);
    drop(raw);
    wait_blocked(&mut c, 0);
    int(&mut c, &["RPUSH", "q", "kept"]);
    assert_eq!(int(&mut c, &["LLEN", "q"]), 1);
}

#[test]
fn client_unblock_answers_like_a_timeout_or_an_error() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut w = s.conn();
    let id = int(&mut w, &["CLIENT", "ID"]).to_string();
    let waiter = thread::spawn(move || cmd::<Value>(&mut w, &["BLPOP", "q", "0"]));
    wait_blocked(&mut c, 1);
    let id_ref: &str = &id;
    assert_eq!(int(&mut c, &["CLIENT", "UNBLOCK", id_ref]), 1);
    assert_eq!(waiter.join().unwrap().unwrap(), Value::Nil);
    assert_eq!(int(&mut c, &["CLIENT", "UNBLOCK", id_ref]), 0);

    let mut w = s.conn();
    let id = int(&mut w, &["CLIENT", "ID"]).to_string();
    let waiter = thread::spawn(move || cmd::<Value>(&mut w, &["BLPOP", "q", "0"]));
    wait_blocked(&mut c, 1);
    assert_eq!(int(&mut c, &["CLIENT", "UNBLOCK", &id, "ERROR"]), 1);
    let e = waiter.join().unwrap().expect_err("an error reply");
    assert_eq!(
        common::error_text(&e),
        "UNBLOCKED client unblocked via CLIENT UNBLOCK"
    );
}

#[test]
fn blmove_feeds_a_client_blocked_on_its_destination() {
    let s = TestServer::start();
    let mut c = s.conn();
    let reader = spawn_cmd(&s, &["BLPOP", "dst", "0"]);
    wait_blocked(&mut c, 1);
    let mover = spawn_cmd(&s, &["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"]);
    wait_blocked(&mut c, 2);
    int(&mut c, &["RPUSH", "src", "item"]);
    assert_eq!(mover.join().unwrap().unwrap(), bulk("item"));
    assert_eq!(
        reader.join().unwrap().unwrap(),
        Value::Array(vec![bulk("dst"), bulk("item")])
    );
    assert_eq!(int(&mut c, &["EXISTS", "src", "dst"]), 0);
}

#[test]
fn blocked_clients_do_not_hold_workers() {
    let s = TestServer::start_with(&["--thread-pool-size", "1"]);
    let mut c = s.conn();
    let waiters: Vec<_> = (0..4)
        .map(|_| spawn_cmd(&s, &["BLPOP", "q", "0"]))
        .collect();
    wait_blocked(&mut c, 4);
    let pong: String = cmd(&mut c, &["PING"]).unwrap();
    assert_eq!(pong, "PONG");
    int(&mut c, &["RPUSH", "q", "1", "2", "3", "4"]);
    for w in waiters {
        assert!(matches!(w.join().unwrap().unwrap(), Value::Array(_)));
    }
}

#[test]
fn commands_pipelined_after_a_blocked_one_wait_for_it() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut raw = s.raw();
    raw.write_all(b"BLPOP q 0\r\nPING\r\n").unwrap();
    wait_blocked(&mut c, 1);
    int(&mut c, &["RPUSH", "q", "x"]);
    let got = read_until(&mut raw, b"+PONG\r\n");
    assert_eq!(
        String::from_utf8_lossy(&got),
        "*2\r\n$1\r\nq\r\n$1\r\nx\r\n+PONG\r\n"
    );
}

#[test]
fn a_blocked_client_shows_in_client_list() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _w = spawn_cmd(&s, &["BLPOP", "q", "0"]);
    wait_blocked(&mut c, 1);
    let list: String = cmd(&mut c, &["CLIENT", "LIST"]).unwrap();
    assert!(list.lines().any(|l| l.contains("flags=b")), "{list}");
    int(&mut c, &["RPUSH", "q", "x"]);
}

#[test]
fn bzpopmin_is_woken_by_zadd() {
    let s = TestServer::start();
    let mut c = s.conn();
    let waiter = spawn_cmd(&s, &["BZPOPMIN", "z", "0"]);
    wait_blocked(&mut c, 1);
    int(&mut c, &["ZADD", "z", "2", "b", "1", "a"]);
    let got = waiter.join().unwrap().unwrap();
    let Value::Array(items) = got else {
        panic!("expected an array, got {got:?}");
    };
    assert_eq!(items[..2], [bulk("z"), bulk("a")]);
    assert_eq!(int(&mut c, &["ZCARD", "z"]), 1);
}

#[test]
fn a_waiter_on_several_keys_takes_the_first_filled() {
    let s = TestServer::start();
    let mut c = s.conn();
    let waiter = spawn_cmd(&s, &["BLPOP", "a", "b", "0"]);
    wait_blocked(&mut c, 1);
    int(&mut c, &["RPUSH", "b", "from-b"]);
    assert_eq!(
        waiter.join().unwrap().unwrap(),
        Value::Array(vec![bulk("b"), bulk("from-b")])
    );
}

#[test]
fn swapdb_wakes_a_client_blocked_on_a_key_the_other_db_holds() {
    let s = TestServer::start();
    let mut c = s.conn();
    let waiter = spawn_cmd(&s, &["BLPOP", "q", "0"]);
    wait_blocked(&mut c, 1);
    let _: () = cmd(&mut c, &["SELECT", "5"]).unwrap();
    int(&mut c, &["RPUSH", "q", "from-db5"]);
    let _: () = cmd(&mut c, &["SWAPDB", "0", "5"]).unwrap();
    assert_eq!(
        waiter.join().unwrap().unwrap(),
        Value::Array(vec![bulk("q"), bulk("from-db5")])
    );
    // Db 5 now shows what db 0 held: nothing left there.
    assert_eq!(int(&mut c, &["LLEN", "q"]), 0);
}
