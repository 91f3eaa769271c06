//! Stream consumer groups: XGROUP, XREADGROUP (history, NOACK, blocking), XACK, XPENDING,
//! XCLAIM, XAUTOCLAIM and XINFO, compared with a real redis-server where replies do not
//! depend on the clock.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{beside_redis, cmd, err, int, TestServer};
use redis::Value;

/// Runs every command on redis-server and on pika and asserts equal replies.
fn same_replies(commands: &[&[&str]]) {
    let Some((redis, s)) = beside_redis() else {
        return;
    };
    let mut r = redis.conn();
    let mut p = s.conn();
    for args in commands {
        let a: Value = cmd(&mut r, args).unwrap_or_else(|e| Value::SimpleString(e.to_string()));
        let b: Value = cmd(&mut p, args).unwrap_or_else(|e| Value::SimpleString(e.to_string()));
        assert_eq!(without_idle(args, a), without_idle(args, b), "{args:?}");
    }
}

/// An extended XPENDING reply with its idle times (which depend on when each server ran the
/// command) rounded down to whole seconds.
fn without_idle(args: &[&str], reply: Value) -> Value {
    let extended = args.first() == Some(&"XPENDING") && args.len() >= 6;
    match reply {
        Value::Array(entries) if extended => Value::Array(
            entries
                .into_iter()
                .map(|entry| match entry {
                    Value::Array(mut fields) => {
                        if let Some(Value::Int(idle)) = fields.get_mut(2) {
                            *idle /= 1000;
                        }
                        Value::Array(fields)
                    }
                    other => other,
                })
                .collect(),
        ),
        other => other,
    }
}

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

#[test]
fn group_lifecycle_matches_redis() {
    same_replies(&[
        &["XGROUP", "CREATE", "s", "g", "$"],
        &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"],
        &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"],
        &["XGROUP", "CREATE", "s", "h", "0", "ENTRIESREAD", "-2"],
        &["XGROUP", "CREATE", "s", "h", "0", "BOGUS"],
        &["XGROUP", "SETID", "s", "nope", "0"],
        &["XGROUP", "SETID", "missing", "g", "0"],
        &["XGROUP", "CREATECONSUMER", "s", "g", "alice"],
        &["XGROUP", "CREATECONSUMER", "s", "g", "alice"],
        &["XGROUP", "CREATECONSUMER", "s", "nope", "alice"],
        &["XADD", "s", "1-0", "a", "1"],
        &["XADD", "s", "2-0", "b", "2"],
        &["XADD", "s", "3-0", "c", "3"],
        &["XINFO", "GROUPS", "s"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "2",
            "STREAMS",
            "s",
            ">",
        ],
        &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"],
        &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"],
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"],
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "1-0"],
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "$"],
        &["XREADGROUP", "GROUP", "nope", "alice", "STREAMS", "s", ">"],
        &["XREAD", "STREAMS", "s", ">"],
        &["XPENDING", "s", "g"],
        &["XPENDING", "s", "g", "-", "+", "10", "bob"],
        &["XPENDING", "s", "g", "-", "+"],
        &["XPENDING", "s", "nope"],
        &["XACK", "s", "g", "1-0", "1-0", "9-0"],
        &["XACK", "s", "g", "bad"],
        &["XACK", "s", "nope", "bad"],
        &["XPENDING", "s", "g"],
        &["XINFO", "GROUPS", "s"],
        &["XDEL", "s", "2-0"],
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"],
        &["XINFO", "GROUPS", "s"],
        &["XCLAIM", "s", "g", "carol", "0", "2-0", "3-0", "JUSTID"],
        &["XPENDING", "s", "g"],
        &[
            "XCLAIM",
            "s",
            "g",
            "carol",
            "0",
            "1-0",
            "FORCE",
            "RETRYCOUNT",
            "7",
            "JUSTID",
        ],
        &["XCLAIM", "s", "g", "carol", "x", "1-0"],
        &["XCLAIM", "s", "g", "carol", "0", "1-0", "BOGUS"],
        &["XAUTOCLAIM", "s", "g", "dave", "0", "0", "COUNT", "0"],
        &["XAUTOCLAIM", "s", "g", "dave", "0", "0", "JUSTID"],
        &["XPENDING", "s", "g", "-", "+", "10", "dave"],
        &["XGROUP", "DELCONSUMER", "s", "g", "dave"],
        &["XGROUP", "DELCONSUMER", "s", "g", "dave"],
        &["XPENDING", "s", "g"],
        &["XGROUP", "DESTROY", "s", "g"],
        &["XGROUP", "DESTROY", "s", "g"],
        &["XINFO", "GROUPS", "s"],
        &["XINFO", "CONSUMERS", "s", "g"],
        &["XINFO", "STREAM", "missing"],
        &["XGROUP", "HELP"],
        &["XINFO", "HELP"],
        &["XGROUP", "BOGUS", "s"],
    ]);
}

#[test]
fn lag_and_entries_read_match_redis() {
    same_replies(&[
        &["XADD", "x", "1-0", "data", "a"],
        &["XADD", "x", "2-0", "data", "b"],
        &["XADD", "x", "3-0", "data", "c"],
        &["XADD", "x", "4-0", "data", "d"],
        &["XGROUP", "CREATE", "x", "g1", "0"],
        &["XGROUP", "CREATE", "x", "g2", "$"],
        &["XGROUP", "CREATE", "x", "g3", "2-0", "ENTRIESREAD", "2"],
        &["XINFO", "GROUPS", "x"],
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "c",
            "COUNT",
            "1",
            "STREAMS",
            "x",
            ">",
        ],
        &["XINFO", "GROUPS", "x"],
        &["XDEL", "x", "3-0"],
        &["XINFO", "GROUPS", "x"],
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "c",
            "NOACK",
            "STREAMS",
            "x",
            ">",
        ],
        &["XINFO", "GROUPS", "x"],
        &["XGROUP", "SETID", "x", "g1", "0", "ENTRIESREAD", "0"],
        &["XINFO", "GROUPS", "x"],
        &["XTRIM", "x", "MAXLEN", "1"],
        &["XINFO", "GROUPS", "x"],
    ]);
}

#[test]
fn forced_claims_and_disagreeing_counters_match_redis() {
    same_replies(&[
        &["XADD", "s", "1-0", "f", "v"],
        &["XADD", "s", "2-0", "f", "v"],
        &["XGROUP", "CREATE", "s", "g", "0"],
        // FORCE creates the PEL entry as delivered once, then the claim counts again.
        &["XCLAIM", "s", "g", "a", "0", "2-0", "FORCE"],
        &["XCLAIM", "s", "g", "a", "0", "9-0", "FORCE"],
        &["XPENDING", "s", "g"],
        &[
            "XCLAIM", "s", "g", "b", "0", "2-0", "JUSTID", "LASTID", "5-0",
        ],
        &["XINFO", "GROUPS", "s"],
        // A read counter above entries-added gives a negative lag, as in Redis.
        &["XGROUP", "SETID", "s", "g", "2-0", "ENTRIESREAD", "9"],
        &["XINFO", "GROUPS", "s"],
    ]);
}

#[test]
fn xautoclaim_reports_deleted_entries_and_drops_them_from_the_pel() {
    let s = TestServer::start();
    let mut c = s.conn();
    for id in ["1-0", "2-0", "3-0"] {
        let _: String = cmd(&mut c, &["XADD", "s", id, "f", "v"]).unwrap();
    }
    let _: String = cmd(&mut c, &["XGROUP", "CREATE", "s", "g", "0"]).unwrap();
    let _: Value = cmd(
        &mut c,
        &["XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", ">"],
    )
    .unwrap();
    assert_eq!(int(&mut c, &["XDEL", "s", "2-0"]), 1);
    let v: Value = cmd(
        &mut c,
        &["XAUTOCLAIM", "s", "g", "b", "0", "0", "COUNT", "2"],
    )
    .unwrap();
    assert_eq!(
        v,
        Value::Array(vec![
            bulk("3-0"),
            Value::Array(vec![Value::Array(vec![
                bulk("1-0"),
                Value::Array(vec![bulk("f"), bulk("v")])
            ])]),
            Value::Array(vec![bulk("2-0")]),
        ])
    );
    let pending: Value = cmd(&mut c, &["XPENDING", "s", "g"]).unwrap();
    assert_eq!(
        pending,
        Value::Array(vec![
            Value::Int(2),
            bulk("1-0"),
            bulk("3-0"),
            Value::Array(vec![
                Value::Array(vec![bulk("a"), bulk("1")]),
                Value::Array(vec![bulk("b"), bulk("1")]),
            ]),
        ])
    );
}

#[test]
fn xclaim_respects_min_idle_and_counts_deliveries() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: String = cmd(&mut c, &["XADD", "s", "1-0", "f", "v"]).unwrap();
    let _: String = cmd(&mut c, &["XGROUP", "CREATE", "s", "g", "0"]).unwrap();
    let _: Value = cmd(
        &mut c,
        &["XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", ">"],
    )
    .unwrap();
    let none: Value = cmd(&mut c, &["XCLAIM", "s", "g", "b", "60000", "1-0"]).unwrap();
    assert_eq!(none, Value::Array(vec![]));
    let got: Value = cmd(&mut c, &["XCLAIM", "s", "g", "b", "0", "1-0"]).unwrap();
    assert_eq!(
        got,
        Value::Array(vec![Value::Array(vec![
            bulk("1-0"),
            Value::Array(vec![bulk("f"), bulk("v")])
        ])])
    );
    let p: Value = cmd(&mut c, &["XPENDING", "s", "g", "-", "+", "1"]).unwrap();
    let Value::Array(items) = p else {
        panic!("{p:?}")
    };
    let Value::Array(item) = &items[0] else {
        panic!()
    };
    assert_eq!(item[1], bulk("b"));
    assert_eq!(item[3], Value::Int(2));
    let idle: Value = cmd(
        &mut c,
        &["XPENDING", "s", "g", "IDLE", "60000", "-", "+", "10"],
    )
    .unwrap();
    assert_eq!(idle, Value::Array(vec![]));
}

/// Waits until INFO reports `n` blocked clients.
fn wait_blocked(c: &mut redis::Connection, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let info: String = cmd(c, &["INFO", "clients"]).unwrap();
        if info.contains(&format!("blocked_clients:{n}\r")) {
            return;
        }
        assert!(Instant::now() < deadline, "never saw {n} blocked clients");
        thread::sleep(Duration::from_millis(10));
    }
}

fn blocked_reader(s: &TestServer) -> thread::JoinHandle<redis::RedisResult<Value>> {
    let mut w = s.conn();
    thread::spawn(move || {
        cmd::<Value>(
            &mut w,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "alice",
                "BLOCK",
                "0",
                "STREAMS",
                "s",
                ">",
            ],
        )
    })
}

#[test]
fn blocked_xreadgroup_gets_new_entries_and_errors_when_its_group_or_stream_goes() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: String = cmd(&mut c, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]).unwrap();

    let w = blocked_reader(&s);
    wait_blocked(&mut c, 1);
    let _: String = cmd(&mut c, &["XADD", "s", "1-0", "f", "v"]).unwrap();
    let got = w.join().unwrap().unwrap();
    assert_eq!(
        got,
        Value::Array(vec![Value::Array(vec![
            bulk("s"),
            Value::Array(vec![Value::Array(vec![
                bulk("1-0"),
                Value::Array(vec![bulk("f"), bulk("v")])
            ])])
        ])])
    );
    assert_eq!(int(&mut c, &["XLEN", "s"]), 1);

    let w = blocked_reader(&s);
    wait_blocked(&mut c, 1);
    assert_eq!(int(&mut c, &["XGROUP", "DESTROY", "s", "g"]), 1);
    let e = w.join().unwrap().unwrap_err();
    assert!(common::error_text(&e).starts_with("NOGROUP"), "{e}");

    let _: String = cmd(&mut c, &["XGROUP", "CREATE", "s", "g", "$"]).unwrap();
    let w = blocked_reader(&s);
    wait_blocked(&mut c, 1);
    assert_eq!(int(&mut c, &["DEL", "s"]), 1);
    let e = w.join().unwrap().unwrap_err();
    assert!(common::error_text(&e).contains("no longer exists"), "{e}");
    assert!(err(
        &mut c,
        &["XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", ">"]
    )
    .starts_with("NOGROUP No such key 's'"));
}
