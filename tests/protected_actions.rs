//! Actions Redis 7 keeps from clients unless the configuration file opens them:
//! `enable-debug-command` (DEBUG) and `enable-protected-configs` (CONFIG SET of the
//! directories and file names the server writes to). Both take no, yes or local (loopback
//! clients only), and neither can be changed by CONFIG SET.

mod common;

use std::net::{IpAddr, UdpSocket};
use std::time::Duration;

use common::*;

const DEBUG_REFUSED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

/// An address of this host that is not loopback (the one its default route leaves from).
/// Connecting a UDP socket sends nothing; it only picks the local address.
fn non_loopback_ip() -> Option<IpAddr> {
    let sock = UdpSocket::bind("0.0.0.0:0").ok()?;
    sock.connect("192.0.2.1:9")
        .or_else(|_| sock.connect("10.255.255.1:9"))
        .ok()?;
    let ip = sock.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// A client connected to `server` (listening on every interface) through a non-loopback
/// address of this host, so the server sees it as a remote client.
fn remote_conn(server: &TestServer) -> redis::Connection {
    let ip = non_loopback_ip().expect("this test needs a non-loopback network interface");
    let client = redis::Client::open(format!("redis://{ip}:{}/", server.port)).expect("client");
    let conn = client
        .get_connection()
        .expect("connect over a non-loopback address");
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    conn
}

#[test]
fn debug_is_refused_by_default() {
    let server = TestServer::start_plain(&[]);
    let mut c = server.conn();
    assert_eq!(err(&mut c, &["DEBUG", "SLEEP", "0"]), DEBUG_REFUSED);
    let v: Vec<String> = cmd(&mut c, &["CONFIG", "GET", "enable-debug-command"]).unwrap();
    assert_eq!(v, ["enable-debug-command", "no"]);
}

#[test]
fn debug_refused_when_enable_debug_command_is_no() {
    let server = TestServer::start_with(&["--enable-debug-command", "no"]);
    let mut c = server.conn();
    assert_eq!(err(&mut c, &["DEBUG", "DIGEST"]), DEBUG_REFUSED);
    assert_eq!(err(&mut c, &["debug", "help"]), DEBUG_REFUSED);
    // The refusal counts as a rejected call, as in Redis.
    let stats: String = cmd(&mut c, &["INFO", "commandstats"]).unwrap();
    assert!(stats.contains("cmdstat_debug:calls=0,"), "{stats}");
    assert!(stats.contains("rejected_calls=2"), "{stats}");
}

#[test]
fn debug_arity_error_comes_before_the_refusal() {
    let server = TestServer::start_with(&["--enable-debug-command", "no"]);
    let mut c = server.conn();
    assert_eq!(
        err(&mut c, &["DEBUG"]),
        "ERR wrong number of arguments for 'debug' command"
    );
}

#[test]
fn debug_refusal_comes_before_authentication() {
    let server = TestServer::start_with(&["--enable-debug-command", "no", "--requirepass", "pw"]);
    let mut c = server.conn();
    assert_eq!(err(&mut c, &["DEBUG", "SLEEP", "0"]), DEBUG_REFUSED);
}

#[test]
fn debug_refused_inside_multi_aborts_the_transaction() {
    let server = TestServer::start_with(&["--enable-debug-command", "no"]);
    let mut c = server.raw();
    expect_raw(&mut c, b"MULTI\r\n", b"+OK\r\n");
    expect_raw(
        &mut c,
        b"DEBUG SLEEP 0\r\n",
        format!("-{DEBUG_REFUSED}\r\n").as_bytes(),
    );
    expect_raw(
        &mut c,
        b"EXEC\r\n",
        b"-EXECABORT Transaction discarded because of previous errors.\r\n",
    );
}

#[test]
fn debug_allowed_when_enable_debug_command_is_yes() {
    let server = TestServer::start_plain(&["--enable-debug-command", "yes", "--bind", "0.0.0.0"]);
    let _: () = cmd(&mut server.conn(), &["DEBUG", "SLEEP", "0"]).unwrap();
    let _: () = cmd(&mut remote_conn(&server), &["DEBUG", "SLEEP", "0"]).unwrap();
}

#[test]
fn debug_allowed_from_loopback_when_enable_debug_command_is_local() {
    let server = TestServer::start_plain(&["--enable-debug-command", "local"]);
    let mut c = server.conn();
    let _: () = cmd(&mut c, &["DEBUG", "SLEEP", "0"]).unwrap();
    let v: Vec<String> = cmd(&mut c, &["CONFIG", "GET", "enable-debug-command"]).unwrap();
    assert_eq!(v, ["enable-debug-command", "local"]);
}

#[test]
fn debug_refused_to_remote_clients_when_enable_debug_command_is_local() {
    let server = TestServer::start_plain(&["--enable-debug-command", "local", "--bind", "0.0.0.0"]);
    assert_eq!(
        err(&mut remote_conn(&server), &["DEBUG", "SLEEP", "0"]),
        DEBUG_REFUSED
    );
    let _: () = cmd(&mut server.conn(), &["DEBUG", "SLEEP", "0"]).unwrap();
}

#[test]
fn enable_debug_command_cannot_be_set_at_run_time() {
    let server = TestServer::start_plain(&[]);
    let mut c = server.conn();
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "enable-debug-command", "yes"]),
        "ERR CONFIG SET failed (possibly related to argument 'enable-debug-command') - can't set immutable config"
    );
    assert_eq!(err(&mut c, &["DEBUG", "SLEEP", "0"]), DEBUG_REFUSED);
}

#[test]
fn enable_debug_command_accepts_only_no_yes_local() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let (code, _, stderr) = run_pika(&[
        "--port",
        &free_port().to_string(),
        "--db-path",
        db.to_str().unwrap(),
        "--enable-debug-command",
        "sometimes",
    ]);
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains("argument(s) must be one of the following: no, yes, local"),
        "{stderr}"
    );
}

#[test]
fn dump_path_not_settable_when_enable_protected_configs_is_no() {
    let server = TestServer::start_plain(&[]);
    let mut c = server.conn();
    let before: Vec<String> = cmd(&mut c, &["CONFIG", "GET", "dump-path"]).unwrap();
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "dump-path", "/tmp"]),
        "ERR CONFIG SET failed (possibly related to argument 'dump-path') - can't set protected config"
    );
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "Dump-Prefix", "x-"]),
        "ERR CONFIG SET failed (possibly related to argument 'Dump-Prefix') - can't set protected config"
    );
    // All or nothing: the other pair of the same CONFIG SET is not applied either.
    assert!(err(
        &mut c,
        &["CONFIG", "SET", "maxclients", "7", "dump-path", "/tmp"]
    )
    .ends_with("can't set protected config"));
    let after: Vec<String> = cmd(&mut c, &["CONFIG", "GET", "dump-path"]).unwrap();
    assert_eq!(after, before);
    let v: Vec<String> = cmd(&mut c, &["CONFIG", "GET", "maxclients"]).unwrap();
    assert_ne!(v[1], "7");
}

#[test]
fn path_directives_stay_immutable_even_with_enable_protected_configs_yes() {
    let server = TestServer::start_plain(&["--enable-protected-configs", "yes"]);
    let mut c = server.conn();
    for name in ["db-path", "log-path", "pidfile"] {
        assert_eq!(
            err(&mut c, &["CONFIG", "SET", name, "/tmp/x"]),
            format!("ERR CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config")
        );
    }
}

#[test]
fn dump_path_settable_when_enable_protected_configs_is_yes() {
    let server =
        TestServer::start_plain(&["--enable-protected-configs", "yes", "--bind", "0.0.0.0"]);
    let elsewhere = server.dir().join("elsewhere");
    let _: () = cmd(
        &mut remote_conn(&server),
        &[
            "CONFIG",
            "SET",
            "dump-path",
            elsewhere.to_str().unwrap(),
            "dump-prefix",
            "bk-",
        ],
    )
    .unwrap();
    let mut c = server.conn();
    let v: Vec<String> = cmd(&mut c, &["CONFIG", "GET", "dump-path"]).unwrap();
    assert_eq!(v, ["dump-path", elsewhere.to_str().unwrap()]);
    let v: Vec<String> = cmd(&mut c, &["CONFIG", "GET", "dump-prefix"]).unwrap();
    assert_eq!(v, ["dump-prefix", "bk-"]);
}

#[test]
fn dump_path_settable_only_from_loopback_when_enable_protected_configs_is_local() {
    let server =
        TestServer::start_plain(&["--enable-protected-configs", "local", "--bind", "0.0.0.0"]);
    assert_eq!(
        err(&mut remote_conn(&server), &["CONFIG", "SET", "dump-path", "/tmp"]),
        "ERR CONFIG SET failed (possibly related to argument 'dump-path') - can't set protected config"
    );
    let target = server.dir().join("local-dumps");
    let mut c = server.conn();
    let _: () = cmd(
        &mut c,
        &["CONFIG", "SET", "dump-path", target.to_str().unwrap()],
    )
    .unwrap();
    let v: Vec<String> = cmd(&mut c, &["CONFIG", "GET", "dump-path"]).unwrap();
    assert_eq!(v, ["dump-path", target.to_str().unwrap()]);
}

#[test]
fn enable_protected_configs_cannot_be_set_at_run_time() {
    let server = TestServer::start_plain(&[]);
    let mut c = server.conn();
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "enable-protected-configs", "yes"]),
        "ERR CONFIG SET failed (possibly related to argument 'enable-protected-configs') - can't set immutable config"
    );
    let v: Vec<String> = cmd(&mut c, &["CONFIG", "GET", "enable-protected-configs"]).unwrap();
    assert_eq!(v, ["enable-protected-configs", "no"]);
}
