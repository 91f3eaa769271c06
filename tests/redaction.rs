//! Passwords never reach the slow log or MONITOR: AUTH's arguments, the credentials of
//! HELLO ... AUTH, and the values CONFIG SET gives requirepass / masterauth are shown as
//! `(redacted)`, as Redis 7 shows them; everything else of those commands stays visible.

mod common;

use std::net::TcpStream;

use common::*;
use redis::Value;

/// The arguments of every slow log entry, newest first.
fn slowlog_args(c: &mut redis::Connection) -> Vec<Vec<String>> {
    let entries: Vec<Value> = cmd(c, &["SLOWLOG", "GET", "-1"]).unwrap();
    entries
        .into_iter()
        .map(|entry| {
            let Value::Array(fields) = entry else {
                panic!("slow log entry is not an array: {entry:?}")
            };
            let Value::Array(args) = &fields[3] else {
                panic!("slow log arguments are not an array: {fields:?}")
            };
            args.iter()
                .map(|a| match a {
                    Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                    other => panic!("argument {other:?}"),
                })
                .collect()
        })
        .collect()
}

/// A server that logs every command in the slow log.
fn logging_everything(extra: &[&str]) -> TestServer {
    let mut args = vec!["--slowlog-log-slower-than", "0"];
    args.extend_from_slice(extra);
    TestServer::start_with(&args)
}

fn has_entry(log: &[Vec<String>], want: &[&str]) -> bool {
    log.iter().any(|args| args == want)
}

fn assert_no_secret(log: &[Vec<String>], secret: &str) {
    for args in log {
        assert!(
            args.iter().all(|a| !a.contains(secret)),
            "secret in the slow log: {args:?}"
        );
    }
}

#[test]
fn slowlog_redacts_auth_arguments() {
    let server = logging_everything(&["--requirepass", "s3cret"]);
    let mut c = server.conn();
    let _: () = cmd(&mut c, &["AUTH", "s3cret"]).unwrap();
    let _: () = cmd(&mut c, &["AUTH", "default", "s3cret"]).unwrap();
    let _ = err(&mut c, &["AUTH", "wrong-s3cret"]);
    let _ = err(&mut c, &["AUTH", "default", "other-s3cret"]);
    let log = slowlog_args(&mut c);
    assert_no_secret(&log, "s3cret");
    assert!(has_entry(&log, &["AUTH", "(redacted)"]), "{log:?}");
    assert!(
        has_entry(&log, &["AUTH", "(redacted)", "(redacted)"]),
        "{log:?}"
    );
}

#[test]
fn slowlog_redacts_only_the_credentials_of_hello_auth() {
    let server = logging_everything(&["--requirepass", "s3cret"]);
    let mut c = server.conn();
    let _: Value = cmd(
        &mut c,
        &["HELLO", "2", "AUTH", "default", "s3cret", "SETNAME", "auth"],
    )
    .unwrap();
    let _: Value = cmd(&mut c, &["HELLO", "2", "SETNAME", "plain"]).unwrap();
    let _ = err(&mut c, &["HELLO", "2", "AUTH", "default", "bad-s3cret"]);
    let log = slowlog_args(&mut c);
    assert_no_secret(&log, "s3cret");
    assert!(
        has_entry(
            &log,
            &[
                "HELLO",
                "2",
                "AUTH",
                "(redacted)",
                "(redacted)",
                "SETNAME",
                "auth"
            ]
        ),
        "{log:?}"
    );
    assert!(
        has_entry(&log, &["HELLO", "2", "SETNAME", "plain"]),
        "{log:?}"
    );
}

#[test]
fn slowlog_redacts_passwords_given_to_config_set() {
    let server = logging_everything(&[]);
    let mut c = server.conn();
    let _: () = cmd(
        &mut c,
        &[
            "CONFIG",
            "SET",
            "masterauth",
            "m-s3cret",
            "maxclients",
            "100",
        ],
    )
    .unwrap();
    // Even a CONFIG SET that fails on another pair hides the password.
    let _ = err(
        &mut c,
        &["CONFIG", "SET", "nosuch", "1", "requirepass", "r-s3cret"],
    );
    let log = slowlog_args(&mut c);
    assert_no_secret(&log, "s3cret");
    assert!(
        has_entry(
            &log,
            &[
                "CONFIG",
                "SET",
                "masterauth",
                "(redacted)",
                "maxclients",
                "100"
            ]
        ),
        "{log:?}"
    );
    assert!(
        has_entry(
            &log,
            &["CONFIG", "SET", "nosuch", "1", "requirepass", "(redacted)"]
        ),
        "{log:?}"
    );
}

#[test]
fn slowlog_redacts_auth_run_by_exec() {
    let server = logging_everything(&["--requirepass", "s3cret"]);
    let mut c = server.conn();
    let _: () = cmd(&mut c, &["AUTH", "s3cret"]).unwrap();
    let _: () = cmd(&mut c, &["MULTI"]).unwrap();
    let _: Value = cmd(&mut c, &["AUTH", "default", "s3cret"]).unwrap();
    let _: Value = cmd(&mut c, &["EXEC"]).unwrap();
    let log = slowlog_args(&mut c);
    assert_no_secret(&log, "s3cret");
    assert!(
        has_entry(&log, &["AUTH", "(redacted)", "(redacted)"]),
        "{log:?}"
    );
}

/// Starts MONITOR on a raw connection, authenticated with `password`.
fn monitor(server: &TestServer, password: &str) -> TcpStream {
    let mut m = server.raw();
    expect_raw(
        &mut m,
        format!("AUTH {password}\r\n").as_bytes(),
        b"+OK\r\n",
    );
    expect_raw(&mut m, b"MONITOR\r\n", b"+OK\r\n");
    m
}

#[test]
fn monitor_shows_hello_and_auth_without_their_credentials() {
    let server = TestServer::start_with(&["--requirepass", "s3cret"]);
    let mut c = server.conn();
    let _: () = cmd(&mut c, &["AUTH", "s3cret"]).unwrap();
    let mut m = monitor(&server, "s3cret");
    let _: () = cmd(&mut c, &["AUTH", "default", "s3cret"]).unwrap();
    let _: Value = cmd(&mut c, &["HELLO", "3", "AUTH", "default", "s3cret"]).unwrap();
    let _: Value = cmd(&mut c, &["HELLO", "2", "SETNAME", "visible"]).unwrap();
    let _: () = cmd(&mut c, &["SET", "marker", "end"]).unwrap();
    let text = String::from_utf8_lossy(&read_until(&mut m, b"\"end\"\r\n")).into_owned();
    assert!(!text.contains("s3cret"), "{text}");
    assert!(
        text.contains(r#""AUTH" "(redacted)" "(redacted)""#),
        "{text}"
    );
    assert!(
        text.contains(r#""HELLO" "3" "AUTH" "(redacted)" "(redacted)""#),
        "{text}"
    );
    assert!(
        text.contains(r#""HELLO" "2" "SETNAME" "visible""#),
        "{text}"
    );
}
