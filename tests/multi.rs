//! Transactions, black-box: MULTI/EXEC/DISCARD replies and errors, queueing rules, atomicity
//! against concurrent writers, WATCH invalidation by other clients' writes, and blocking
//! commands inside and around EXEC.

mod common;

use std::time::{Duration, Instant};

use common::{cmd, err, expect_raw, int, TestServer};
use redis::Value;

fn val(c: &mut redis::Connection, args: &[&str]) -> Value {
    cmd(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn ok(c: &mut redis::Connection, args: &[&str]) {
    assert_eq!(val(c, args), Value::Okay, "{args:?}");
}

fn queued(c: &mut redis::Connection, args: &[&str]) {
    assert_eq!(
        val(c, args),
        Value::SimpleString("QUEUED".into()),
        "{args:?}"
    );
}

fn b(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

/// Runs MULTI, PING, EXEC and returns EXEC's reply (Nil when a watched key changed).
fn exec_ping(c: &mut redis::Connection) -> Value {
    ok(c, &["MULTI"]);
    queued(c, &["PING"]);
    val(c, &["EXEC"])
}

fn pong() -> Value {
    Value::Array(vec![Value::SimpleString("PONG".into())])
}

/// Waits until `n` clients are blocked (INFO clients).
fn wait_blocked(c: &mut redis::Connection, n: usize) {
    let want = format!("blocked_clients:{n}\r");
    for _ in 0..500 {
        let info: String = cmd(c, &["INFO", "clients"]).unwrap();
        if info.contains(&want) {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("never saw {n} blocked clients");
}

// ---------------------------------------------------------------------------------------------
// MULTI / EXEC / DISCARD

#[test]
fn exec_runs_queued_commands_and_returns_their_replies() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(&mut raw, b"MULTI\r\n", b"+OK\r\n");
    expect_raw(&mut raw, b"SET k 1\r\n", b"+QUEUED\r\n");
    expect_raw(&mut raw, b"INCR k\r\n", b"+QUEUED\r\n");
    expect_raw(&mut raw, b"GET k\r\n", b"+QUEUED\r\n");
    expect_raw(&mut raw, b"EXEC\r\n", b"*3\r\n+OK\r\n:2\r\n$1\r\n2\r\n");
}

#[test]
fn queued_commands_do_not_run_before_exec() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut other = s.conn();
    ok(&mut c, &["MULTI"]);
    queued(&mut c, &["SET", "k", "v"]);
    assert_eq!(val(&mut other, &["GET", "k"]), Value::Nil);
    assert_eq!(val(&mut c, &["EXEC"]), Value::Array(vec![Value::Okay]));
    assert_eq!(val(&mut other, &["GET", "k"]), b("v"));
}

#[test]
fn runtime_errors_are_replies_inside_the_exec_array() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(&mut raw, b"SET s str\r\n", b"+OK\r\n");
    expect_raw(&mut raw, b"MULTI\r\n", b"+OK\r\n");
    expect_raw(&mut raw, b"LPUSH s x\r\n", b"+QUEUED\r\n");
    expect_raw(&mut raw, b"SET t 1\r\n", b"+QUEUED\r\n");
    expect_raw(
        &mut raw,
        b"EXEC\r\n",
        b"*2\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n+OK\r\n",
    );
}

#[test]
fn empty_transaction_returns_an_empty_array() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["MULTI"]);
    assert_eq!(val(&mut c, &["EXEC"]), Value::Array(vec![]));
}

#[test]
fn discard_drops_the_queued_commands() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["MULTI"]);
    queued(&mut c, &["SET", "k", "v"]);
    ok(&mut c, &["DISCARD"]);
    assert_eq!(val(&mut c, &["GET", "k"]), Value::Nil);
    assert_eq!(err(&mut c, &["EXEC"]), "ERR EXEC without MULTI");
}

#[test]
fn exec_and_discard_without_multi_are_errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(err(&mut c, &["EXEC"]), "ERR EXEC without MULTI");
    assert_eq!(err(&mut c, &["DISCARD"]), "ERR DISCARD without MULTI");
}

#[test]
fn nested_multi_is_an_error_that_keeps_the_transaction() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["MULTI"]);
    queued(&mut c, &["SET", "k", "v"]);
    assert_eq!(err(&mut c, &["MULTI"]), "ERR MULTI calls can not be nested");
    assert_eq!(val(&mut c, &["EXEC"]), Value::Array(vec![Value::Okay]));
}

#[test]
fn watch_inside_multi_is_an_error() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["MULTI"]);
    assert_eq!(
        err(&mut c, &["WATCH", "k"]),
        "ERR WATCH inside MULTI is not allowed"
    );
    assert_eq!(val(&mut c, &["EXEC"]), Value::Array(vec![]));
}

#[test]
fn unknown_command_while_queueing_aborts_exec() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(&mut raw, b"MULTI\r\n", b"+OK\r\n");
    expect_raw(&mut raw, b"SET a 1\r\n", b"+QUEUED\r\n");
    expect_raw(
        &mut raw,
        b"NOSUCH x\r\n",
        b"-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n",
    );
    expect_raw(&mut raw, b"SET b 1\r\n", b"+QUEUED\r\n");
    expect_raw(
        &mut raw,
        b"EXEC\r\n",
        b"-EXECABORT Transaction discarded because of previous errors.\r\n",
    );
    expect_raw(&mut raw, b"EXISTS a b\r\n", b":0\r\n");
    // The transaction is over.
    expect_raw(&mut raw, b"EXEC\r\n", b"-ERR EXEC without MULTI\r\n");
}

#[test]
fn arity_error_while_queueing_aborts_exec() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["MULTI"]);
    assert_eq!(
        err(&mut c, &["GET"]),
        "ERR wrong number of arguments for 'get' command"
    );
    assert_eq!(
        err(&mut c, &["EXEC"]),
        "EXECABORT Transaction discarded because of previous errors."
    );
}

#[test]
fn no_multi_commands_are_rejected_and_abort_exec() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["MULTI"]);
    queued(&mut c, &["SET", "k", "v"]);
    assert_eq!(
        err(&mut c, &["SAVE"]),
        "ERR Command not allowed inside a transaction"
    );
    assert!(err(&mut c, &["EXEC"]).starts_with("EXECABORT"));
    assert_eq!(val(&mut c, &["GET", "k"]), Value::Nil);
}

#[test]
fn exec_with_wrong_arity_inside_multi_ends_the_transaction() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["MULTI"]);
    queued(&mut c, &["SET", "k", "v"]);
    assert_eq!(
        err(&mut c, &["EXEC", "extra"]),
        "EXECABORT Transaction discarded because of: ERR wrong number of arguments for 'exec' command"
    );
    assert_eq!(err(&mut c, &["EXEC"]), "ERR EXEC without MULTI");
    assert_eq!(val(&mut c, &["GET", "k"]), Value::Nil);
}

#[test]
fn select_inside_a_transaction_applies_to_the_following_commands() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["MULTI"]);
    queued(&mut c, &["SELECT", "3"]);
    queued(&mut c, &["SET", "k", "in3"]);
    val(&mut c, &["EXEC"]);
    assert_eq!(val(&mut c, &["GET", "k"]), b("in3"));
    ok(&mut c, &["SELECT", "0"]);
    assert_eq!(val(&mut c, &["GET", "k"]), Value::Nil);
}

#[test]
fn flushall_inside_a_transaction_runs_without_deadlock() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["SET", "a", "1"]);
    ok(&mut c, &["MULTI"]);
    queued(&mut c, &["SET", "b", "1"]);
    queued(&mut c, &["FLUSHALL"]);
    queued(&mut c, &["SET", "c", "1"]);
    queued(&mut c, &["SET", "c", "2"]);
    queued(&mut c, &["SWAPDB", "0", "1"]);
    assert_eq!(val(&mut c, &["EXEC"]), Value::Array(vec![Value::Okay; 5]));
    assert_eq!(int(&mut c, &["DBSIZE"]), 0);
    ok(&mut c, &["SELECT", "1"]);
    assert_eq!(val(&mut c, &["GET", "c"]), b("2"));
}

#[test]
fn quit_and_reset_inside_multi_run_at_once() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(&mut raw, b"MULTI\r\n", b"+OK\r\n");
    expect_raw(&mut raw, b"SET k v\r\n", b"+QUEUED\r\n");
    expect_raw(&mut raw, b"RESET\r\n", b"+RESET\r\n");
    expect_raw(&mut raw, b"EXEC\r\n", b"-ERR EXEC without MULTI\r\n");
    expect_raw(&mut raw, b"MULTI\r\n", b"+OK\r\n");
    expect_raw(&mut raw, b"QUIT\r\n", b"+OK\r\n");
}

#[test]
fn client_list_shows_the_queued_count() {
    let s = TestServer::start();
    let mut c = s.conn();
    let info: String = cmd(&mut c, &["CLIENT", "INFO"]).unwrap();
    assert!(info.contains(" multi=-1 "), "{info}");
    let mut other = s.conn();
    ok(&mut other, &["CLIENT", "SETNAME", "tx"]);
    ok(&mut other, &["MULTI"]);
    queued(&mut other, &["PING"]);
    queued(&mut other, &["PING"]);
    let list: String = cmd(&mut c, &["CLIENT", "LIST"]).unwrap();
    let line = list.lines().find(|l| l.contains("name=tx ")).unwrap();
    assert!(line.contains(" flags=x "), "{line}");
    assert!(line.contains(" multi=2 "), "{line}");
}

// ---------------------------------------------------------------------------------------------
// Atomicity

#[test]
fn concurrent_writers_never_interleave_with_a_transaction() {
    let s = TestServer::start();
    const OUTSIDE: i64 = 2000;
    const TXS: i64 = 50;
    const PER_TX: usize = 10;
    let mut writer = s.conn();
    let spammer = std::thread::spawn(move || {
        for _ in 0..OUTSIDE {
            int(&mut writer, &["INCR", "n"]);
        }
    });
    let mut c = s.conn();
    for _ in 0..TXS {
        ok(&mut c, &["MULTI"]);
        for _ in 0..PER_TX {
            queued(&mut c, &["INCR", "n"]);
        }
        let Value::Array(replies) = val(&mut c, &["EXEC"]) else {
            panic!("EXEC did not return an array");
        };
        let values: Vec<i64> = replies
            .iter()
            .map(|v| match v {
                Value::Int(i) => *i,
                other => panic!("unexpected reply {other:?}"),
            })
            .collect();
        for pair in values.windows(2) {
            assert_eq!(pair[1], pair[0] + 1, "interleaved: {values:?}");
        }
    }
    spammer.join().unwrap();
    assert_eq!(int(&mut c, &["GET", "n"]), OUTSIDE + TXS * PER_TX as i64);
}

// ---------------------------------------------------------------------------------------------
// Locking: EXEC locks the keys of its commands, or everything when a command reaches further

/// A server where DEBUG SLEEP is allowed and several workers run clients side by side.
fn server_with_workers() -> TestServer {
    TestServer::start_with(&["--enable-debug-command", "yes", "--thread-pool-size", "4"])
}

/// Runs `commands` as one transaction on a new connection in a thread; returns EXEC's reply.
/// Returns once EXEC is running (it has begun its commands).
fn spawn_transaction(s: &TestServer, commands: &[&[&str]]) -> std::thread::JoinHandle<Value> {
    let mut c = s.conn();
    ok(&mut c, &["CLIENT", "SETNAME", "tx"]);
    let commands: Vec<Vec<String>> = commands
        .iter()
        .map(|args| args.iter().map(|a| a.to_string()).collect())
        .collect();
    let (exec_sent, sent) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        ok(&mut c, &["MULTI"]);
        for args in &commands {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            queued(&mut c, &args);
        }
        exec_sent.send(()).unwrap();
        val(&mut c, &["EXEC"])
    });
    sent.recv().unwrap();
    // A worker takes every client that is ready at once as one round: a probe sent together
    // with EXEC would wait for it.
    std::thread::sleep(Duration::from_millis(100));
    let mut probe = s.conn();
    let list: String = cmd(&mut probe, &["CLIENT", "LIST"]).unwrap();
    assert!(
        list.lines()
            .any(|l| l.contains(" name=tx ") && l.contains(" cmd=exec ")),
        "EXEC is not running: {list}"
    );
    assert!(
        !handle.is_finished(),
        "EXEC ended before the test could act"
    );
    handle
}

/// The replies of an EXEC that must have run.
fn replies(v: Value) -> Vec<Value> {
    match v {
        Value::Array(replies) => replies,
        other => panic!("EXEC did not run: {other:?}"),
    }
}

#[test]
fn exec_does_not_hold_up_clients_on_other_keys() {
    let s = server_with_workers();
    let tx = spawn_transaction(&s, &[&["DEBUG", "SLEEP", "2"], &["SET", "a", "1"]]);
    let mut other = s.conn();
    let started = Instant::now();
    ok(&mut other, &["SET", "b", "1"]);
    let took = started.elapsed();
    assert!(took < Duration::from_millis(200), "SET b waited {took:?}");
    assert_eq!(replies(tx.join().unwrap()), vec![Value::Okay, Value::Okay]);
    assert_eq!(val(&mut other, &["GET", "a"]), b("1"));
}

#[test]
fn writes_to_a_key_of_the_transaction_wait_for_exec() {
    let s = server_with_workers();
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "before"]);
    // GET is only read inside the transaction: it is locked all the same.
    let tx = spawn_transaction(
        &s,
        &[&["GET", "k"], &["DEBUG", "SLEEP", "0.6"], &["GET", "k"]],
    );
    let started = Instant::now();
    ok(&mut c, &["SET", "k", "during"]);
    let took = started.elapsed();
    assert_eq!(
        replies(tx.join().unwrap()),
        vec![b("before"), Value::Okay, b("before")]
    );
    assert!(
        took >= Duration::from_millis(200),
        "SET k waited only {took:?}"
    );
    assert_eq!(val(&mut c, &["GET", "k"]), b("during"));
}

/// Several workers: a reader of two keys on another worker never sees one of them written
/// by a transaction or an MSET and the other not yet.
#[test]
fn reads_of_several_keys_never_see_half_a_write() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let s = server_with_workers();
    let done = Arc::new(AtomicBool::new(false));
    let mut w = s.conn();
    let writer = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            for i in 0..150 {
                let v = i.to_string();
                if i % 2 == 0 {
                    ok(&mut w, &["MSET", "a", &v, "b", &v]);
                } else {
                    ok(&mut w, &["MULTI"]);
                    queued(&mut w, &["SET", "a", &v]);
                    // The pause keeps the transaction between its two writes a while.
                    queued(&mut w, &["DEBUG", "SLEEP", "0.002"]);
                    queued(&mut w, &["SET", "b", &v]);
                    replies(val(&mut w, &["EXEC"]));
                }
            }
            done.store(true, Ordering::Relaxed);
        })
    };
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let mut r = s.conn();
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let mut reads = 0;
                while !done.load(Ordering::Relaxed) {
                    let (a, b): (Option<String>, Option<String>) =
                        cmd(&mut r, &["MGET", "a", "b"]).unwrap();
                    assert_eq!(a, b, "MGET saw half a write");
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    writer.join().unwrap();
    let reads: usize = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(reads > 100, "only {reads} reads");
}

#[test]
fn concurrent_transactions_on_one_key_serialize() {
    let s = server_with_workers();
    const THREADS: usize = 4;
    const TXS: usize = 100;
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let mut c = s.conn();
            std::thread::spawn(move || {
                for _ in 0..TXS {
                    ok(&mut c, &["MULTI"]);
                    queued(&mut c, &["GET", "x"]);
                    queued(&mut c, &["INCR", "x"]);
                    queued(&mut c, &["INCR", "x"]);
                    let got = replies(val(&mut c, &["EXEC"]));
                    let before = match &got[0] {
                        Value::Nil => 0,
                        Value::BulkString(raw) => String::from_utf8_lossy(raw).parse().unwrap(),
                        other => panic!("GET x gave {other:?}"),
                    };
                    assert_eq!(
                        got[1..],
                        [Value::Int(before + 1), Value::Int(before + 2)],
                        "another transaction interleaved"
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["GET", "x"]), (THREADS * TXS * 2) as i64);
}

#[test]
fn keys_and_dbsize_inside_a_transaction_see_no_concurrent_write() {
    let s = server_with_workers();
    let mut c = s.conn();
    ok(&mut c, &["SET", "first", "1"]);
    let tx = spawn_transaction(
        &s,
        &[
            &["KEYS", "*"],
            &["DBSIZE"],
            &["DEBUG", "SLEEP", "0.5"],
            &["KEYS", "*"],
            &["DBSIZE"],
        ],
    );
    ok(&mut c, &["SET", "second", "2"]);
    let got = replies(tx.join().unwrap());
    assert_eq!(got[0], got[3], "KEYS changed inside the transaction");
    assert_eq!(got[1], Value::Int(1));
    assert_eq!(
        got[4],
        Value::Int(1),
        "DBSIZE changed inside the transaction"
    );
    assert_eq!(int(&mut c, &["DBSIZE"]), 2);
}

#[test]
fn sort_by_and_get_patterns_inside_a_transaction_see_no_concurrent_write() {
    let s = server_with_workers();
    let mut c = s.conn();
    int(&mut c, &["RPUSH", "ids", "1", "2"]);
    ok(
        &mut c,
        &["MSET", "w_1", "10", "w_2", "20", "o_1", "a", "o_2", "b"],
    );
    let sort: &[&str] = &["SORT", "ids", "BY", "w_*", "GET", "o_*"];
    let tx = spawn_transaction(&s, &[sort, &["DEBUG", "SLEEP", "0.5"], sort]);
    // Reorders the sort and renames an element: neither may show half way.
    ok(&mut c, &["MSET", "w_1", "30", "o_1", "c"]);
    let got = replies(tx.join().unwrap());
    assert_eq!(got[0], Value::Array(vec![b("a"), b("b")]));
    assert_eq!(
        got[2], got[0],
        "SORT saw a write made during the transaction"
    );
    assert_eq!(val(&mut c, sort), Value::Array(vec![b("b"), b("c")]));
}

#[test]
fn transaction_with_flushall_excludes_every_other_client() {
    let s = server_with_workers();
    let mut c = s.conn();
    ok(&mut c, &["SET", "old", "1"]);
    let tx = spawn_transaction(
        &s,
        &[
            &["FLUSHALL"],
            &["DEBUG", "SLEEP", "0.5"],
            &["SET", "after", "1"],
            &["DBSIZE"],
        ],
    );
    // A write to an unrelated key waits for the whole transaction: FLUSHALL touches every key.
    ok(&mut c, &["SET", "unrelated", "1"]);
    assert_eq!(
        replies(tx.join().unwrap()),
        vec![Value::Okay, Value::Okay, Value::Okay, Value::Int(1)]
    );
    assert_eq!(int(&mut c, &["DBSIZE"]), 2);
    assert_eq!(val(&mut c, &["GET", "old"]), Value::Nil);
}

// ---------------------------------------------------------------------------------------------
// WATCH

/// WATCHes `key`, lets another client run `change`, and returns EXEC's reply.
fn exec_after_other_client(s: &TestServer, setup: &[&[&str]], key: &str, change: &[&str]) -> Value {
    let mut c = s.conn();
    let mut other = s.conn();
    for args in setup {
        val(&mut other, args);
    }
    ok(&mut c, &["WATCH", key]);
    val(&mut other, change);
    exec_ping(&mut c)
}

#[test]
fn watched_key_set_by_another_client_aborts_exec() {
    let s = TestServer::start();
    let r = exec_after_other_client(&s, &[&["SET", "k", "1"]], "k", &["SET", "k", "2"]);
    assert_eq!(r, Value::Nil);
}

#[test]
fn watched_missing_key_created_by_another_client_aborts_exec() {
    let s = TestServer::start();
    let r = exec_after_other_client(&s, &[], "k", &["SET", "k", "2"]);
    assert_eq!(r, Value::Nil);
}

#[test]
fn watched_key_deleted_by_another_client_aborts_exec() {
    let s = TestServer::start();
    let r = exec_after_other_client(&s, &[&["SET", "k", "1"]], "k", &["DEL", "k"]);
    assert_eq!(r, Value::Nil);
}

#[test]
fn watched_key_given_a_ttl_aborts_exec() {
    let s = TestServer::start();
    let r = exec_after_other_client(&s, &[&["SET", "k", "1"]], "k", &["EXPIRE", "k", "100"]);
    assert_eq!(r, Value::Nil);
}

#[test]
fn flushall_aborts_exec_when_the_watched_key_existed() {
    let s = TestServer::start();
    let r = exec_after_other_client(&s, &[&["SET", "k", "1"]], "k", &["FLUSHALL"]);
    assert_eq!(r, Value::Nil);
}

#[test]
fn flushall_does_not_abort_exec_when_the_watched_key_was_missing() {
    let s = TestServer::start();
    let r = exec_after_other_client(&s, &[&["SET", "other", "1"]], "k", &["FLUSHALL"]);
    assert_eq!(r, pong());
}

#[test]
fn rename_of_the_watched_source_aborts_exec() {
    let s = TestServer::start();
    let r = exec_after_other_client(&s, &[&["SET", "k", "1"]], "k", &["RENAME", "k", "z"]);
    assert_eq!(r, Value::Nil);
}

#[test]
fn rename_onto_the_watched_key_aborts_exec() {
    let s = TestServer::start();
    let r = exec_after_other_client(&s, &[&["SET", "a", "1"]], "k", &["RENAME", "a", "k"]);
    assert_eq!(r, Value::Nil);
}

#[test]
fn lpush_to_a_watched_list_aborts_exec() {
    let s = TestServer::start();
    let r = exec_after_other_client(&s, &[&["RPUSH", "l", "a"]], "l", &["LPUSH", "l", "b"]);
    assert_eq!(r, Value::Nil);
}

#[test]
fn hash_field_overwrite_aborts_exec() {
    let s = TestServer::start();
    let r = exec_after_other_client(
        &s,
        &[&["HSET", "h", "f", "1"]],
        "h",
        &["HSET", "h", "f", "2"],
    );
    assert_eq!(r, Value::Nil);
}

#[test]
fn write_to_an_unrelated_key_does_not_abort_exec() {
    let s = TestServer::start();
    let r = exec_after_other_client(&s, &[&["SET", "k", "1"]], "k", &["SET", "other", "2"]);
    assert_eq!(r, pong());
}

#[test]
fn same_key_name_in_another_database_does_not_abort_exec() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut other = s.conn();
    ok(&mut c, &["WATCH", "k"]);
    ok(&mut other, &["SELECT", "1"]);
    ok(&mut other, &["SET", "k", "1"]);
    assert_eq!(exec_ping(&mut c), pong());
}

#[test]
fn unwatch_forgets_the_watched_keys() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut other = s.conn();
    ok(&mut c, &["WATCH", "k"]);
    ok(&mut other, &["SET", "k", "1"]);
    ok(&mut c, &["UNWATCH"]);
    assert_eq!(exec_ping(&mut c), pong());
}

#[test]
fn exec_unwatches_so_the_next_transaction_runs() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut other = s.conn();
    ok(&mut c, &["WATCH", "k"]);
    ok(&mut other, &["SET", "k", "1"]);
    assert_eq!(exec_ping(&mut c), Value::Nil);
    ok(&mut other, &["SET", "k", "2"]);
    assert_eq!(exec_ping(&mut c), pong());
}

#[test]
fn discard_clears_the_watches_and_the_dirty_flag() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["WATCH", "k"]);
    ok(&mut c, &["SET", "k", "10"]);
    ok(&mut c, &["MULTI"]);
    ok(&mut c, &["DISCARD"]);
    ok(&mut c, &["MULTI"]);
    queued(&mut c, &["INCR", "k"]);
    assert_eq!(val(&mut c, &["EXEC"]), Value::Array(vec![Value::Int(11)]));
}

#[test]
fn watched_key_that_expires_before_exec_aborts_it() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "1", "PX", "50"]);
    ok(&mut c, &["WATCH", "k"]);
    std::thread::sleep(Duration::from_millis(80));
    assert_eq!(exec_ping(&mut c), Value::Nil);
}

#[test]
fn watched_key_that_had_already_expired_does_not_abort_exec() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    ok(&mut c, &["SET", "k", "1", "PX", "1"]);
    std::thread::sleep(Duration::from_millis(5));
    ok(&mut c, &["WATCH", "k"]);
    // The read deletes the stale key: no logical change.
    assert_eq!(int(&mut c, &["EXISTS", "k"]), 0);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(exec_ping(&mut c), pong());
}

#[test]
fn a_clients_disconnect_drops_its_transaction_and_watches() {
    let s = TestServer::start();
    {
        let mut gone = s.conn();
        ok(&mut gone, &["WATCH", "k"]);
        ok(&mut gone, &["MULTI"]);
        queued(&mut gone, &["SET", "k", "from-the-gone-client"]);
    }
    let mut c = s.conn();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let list: String = cmd(&mut c, &["CLIENT", "LIST"]).unwrap();
        if list.lines().count() == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "client never went away");
        std::thread::sleep(Duration::from_millis(10));
    }
    ok(&mut c, &["SET", "k", "v"]);
    assert_eq!(val(&mut c, &["GET", "k"]), b("v"));
}

// ---------------------------------------------------------------------------------------------
// Blocking commands

#[test]
fn blocking_commands_inside_exec_return_nil_at_once() {
    let s = TestServer::start();
    let mut raw = s.raw();
    let started = Instant::now();
    expect_raw(&mut raw, b"MULTI\r\n", b"+OK\r\n");
    expect_raw(&mut raw, b"BLPOP nolist 0\r\n", b"+QUEUED\r\n");
    expect_raw(&mut raw, b"BLMOVE a b LEFT LEFT 0\r\n", b"+QUEUED\r\n");
    expect_raw(&mut raw, b"BZPOPMIN noz 0\r\n", b"+QUEUED\r\n");
    expect_raw(&mut raw, b"EXEC\r\n", b"*3\r\n*-1\r\n$-1\r\n*-1\r\n");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn blocking_command_inside_exec_pops_available_data() {
    let s = TestServer::start();
    let mut c = s.conn();
    ok(&mut c, &["MULTI"]);
    queued(&mut c, &["RPUSH", "l", "x"]);
    queued(&mut c, &["BLPOP", "l", "0"]);
    assert_eq!(
        val(&mut c, &["EXEC"]),
        Value::Array(vec![Value::Int(1), Value::Array(vec![b("l"), b("x")])])
    );
}

#[test]
fn blocked_client_is_served_after_the_whole_transaction() {
    let s = TestServer::start();
    let mut waiter = s.conn();
    let handle = std::thread::spawn(move || val(&mut waiter, &["BLPOP", "l", "5"]));
    let mut c = s.conn();
    wait_blocked(&mut c, 1);
    ok(&mut c, &["MULTI"]);
    queued(&mut c, &["LPUSH", "l", "a"]);
    queued(&mut c, &["LPUSH", "l", "b"]);
    val(&mut c, &["EXEC"]);
    // It pops the head as EXEC left it, not the first push.
    assert_eq!(handle.join().unwrap(), Value::Array(vec![b("l"), b("b")]));
}

#[test]
fn blocked_client_keeps_waiting_when_the_transaction_leaves_another_type() {
    let s = TestServer::start();
    let mut waiter = s.conn();
    let handle = std::thread::spawn(move || val(&mut waiter, &["BLPOP", "l", "5"]));
    let mut c = s.conn();
    wait_blocked(&mut c, 1);
    ok(&mut c, &["MULTI"]);
    queued(&mut c, &["LPUSH", "l", "a"]);
    queued(&mut c, &["DEL", "l"]);
    queued(&mut c, &["SET", "l", "str"]);
    val(&mut c, &["EXEC"]);
    std::thread::sleep(Duration::from_millis(50));
    wait_blocked(&mut c, 1);
    int(&mut c, &["DEL", "l"]);
    int(&mut c, &["LPUSH", "l", "b"]);
    assert_eq!(handle.join().unwrap(), Value::Array(vec![b("l"), b("b")]));
}
