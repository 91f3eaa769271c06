//! Connection commands: PING, ECHO, SELECT, AUTH, HELLO, QUIT, RESET and CLIENT.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{cmd, err, expect_raw, read_until, TestServer};
use redis::Value;

/// True when the peer closed the stream (read returns 0 or a reset) within a few seconds.
fn is_closed(stream: &mut TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = [0u8; 256];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => {
                return !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                )
            }
        }
    }
}

/// CLIENT ID over a raw connection.
fn raw_client_id(stream: &mut TcpStream) -> String {
    stream.write_all(b"CLIENT ID\r\n").expect("write");
    let reply = read_until(stream, b"\r\n");
    String::from_utf8_lossy(&reply)
        .trim()
        .trim_start_matches(':')
        .to_string()
}

fn client_id(conn: &mut redis::Connection) -> i64 {
    cmd(conn, &["CLIENT", "ID"]).expect("client id")
}

fn client_list(conn: &mut redis::Connection, args: &[&str]) -> String {
    let mut full = vec!["CLIENT", "LIST"];
    full.extend_from_slice(args);
    cmd(conn, &full).expect("client list")
}

/// The value of `field=` in a CLIENT LIST/INFO line.
fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name}= in {line}"))
}

const NOAUTH: &str = "NOAUTH Authentication required.";
const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

// ---------------------------------------------------------------- PING / ECHO

#[test]
fn ping_without_argument_replies_pong() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(cmd::<String>(&mut c, &["PING"]).unwrap(), "PONG");
}

#[test]
fn ping_with_message_returns_it_as_bulk() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(
        &mut raw,
        b"*2\r\n$4\r\nPING\r\n$5\r\nhello\r\n",
        b"$5\r\nhello\r\n",
    );
}

#[test]
fn ping_with_two_arguments_is_an_arity_error() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["PING", "a", "b"]),
        "ERR wrong number of arguments for 'ping' command"
    );
}

#[test]
fn echo_returns_its_argument() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        cmd::<String>(&mut c, &["ECHO", "a b\r\nc"]).unwrap(),
        "a b\r\nc"
    );
    assert_eq!(
        err(&mut c, &["ECHO"]),
        "ERR wrong number of arguments for 'echo' command"
    );
    assert_eq!(
        err(&mut c, &["ECHO", "a", "b"]),
        "ERR wrong number of arguments for 'echo' command"
    );
}

// ---------------------------------------------------------------- SELECT

#[test]
fn select_switches_the_database() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SELECT", "1"]).unwrap();
    let _: () = cmd(&mut c, &["SET", "k", "in1"]).unwrap();
    let _: () = cmd(&mut c, &["SELECT", "0"]).unwrap();
    assert_eq!(cmd::<Option<String>>(&mut c, &["GET", "k"]).unwrap(), None);
    let _: () = cmd(&mut c, &["SELECT", "1"]).unwrap();
    assert_eq!(cmd::<String>(&mut c, &["GET", "k"]).unwrap(), "in1");
    let info: String = cmd(&mut c, &["CLIENT", "INFO"]).unwrap();
    assert_eq!(field(info.trim_end(), "db"), "1");
}

#[test]
fn select_outside_the_configured_databases_is_out_of_range() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SELECT", "15"]).unwrap();
    for db in ["16", "-1", "2147483647"] {
        assert_eq!(err(&mut c, &["SELECT", db]), "ERR DB index is out of range");
    }
}

#[test]
fn select_honours_the_databases_directive() {
    let s = TestServer::start_with(&["--databases", "2"]);
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SELECT", "1"]).unwrap();
    assert_eq!(
        err(&mut c, &["SELECT", "2"]),
        "ERR DB index is out of range"
    );
}

#[test]
fn select_with_a_non_integer_is_an_error() {
    let s = TestServer::start();
    let mut c = s.conn();
    for arg in ["x", "1.5", " 1", "+1", "99999999999", ""] {
        assert_eq!(
            err(&mut c, &["SELECT", arg]),
            "ERR value is not an integer or out of range",
            "SELECT {arg:?}"
        );
    }
}

// ---------------------------------------------------------------- AUTH without requirepass

#[test]
fn auth_password_without_requirepass_is_an_error() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["AUTH", "x"]),
        "ERR AUTH <password> called without any password configured for the default user. \
         Are you sure your configuration is correct?"
    );
}

#[test]
fn auth_default_user_without_requirepass_accepts_any_password() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["AUTH", "default", "whatever"]).unwrap();
}

#[test]
fn auth_unknown_user_is_wrongpass() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(err(&mut c, &["AUTH", "alice", "x"]), WRONGPASS);
}

#[test]
fn auth_with_too_many_arguments_is_a_syntax_error() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(err(&mut c, &["AUTH", "a", "b", "c"]), "ERR syntax error");
    assert_eq!(
        err(&mut c, &["AUTH"]),
        "ERR wrong number of arguments for 'auth' command"
    );
}

// ---------------------------------------------------------------- requirepass

fn secret_server() -> TestServer {
    TestServer::start_with(&["--requirepass", "secret"])
}

#[test]
fn requirepass_rejects_every_command_but_auth_hello_quit_reset() {
    let s = secret_server();
    let mut raw = s.raw();
    let commands: &[&[u8]] = &[
        b"PING\r\n",
        b"ECHO x\r\n",
        b"SELECT 0\r\n",
        b"GET k\r\n",
        b"SET k v\r\n",
        b"CLIENT ID\r\n",
        b"CLIENT SETNAME n\r\n",
        b"CLIENT LIST\r\n",
        b"CLIENT KILL ID 1\r\n",
    ];
    for c in commands {
        expect_raw(&mut raw, c, b"-NOAUTH Authentication required.\r\n");
    }
    expect_raw(&mut raw, b"RESET\r\n", b"+RESET\r\n");
}

#[test]
fn requirepass_unknown_command_is_reported_before_noauth() {
    let s = secret_server();
    let mut raw = s.raw();
    expect_raw(
        &mut raw,
        b"NOSUCHCMD a\r\n",
        b"-ERR unknown command 'NOSUCHCMD', with args beginning with: 'a' \r\n",
    );
}

#[test]
fn auth_wrong_password_is_wrongpass_and_keeps_the_client_locked() {
    let s = secret_server();
    let mut raw = s.raw();
    expect_raw(
        &mut raw,
        b"AUTH wrong\r\n",
        format!("-{WRONGPASS}\r\n").as_bytes(),
    );
    expect_raw(
        &mut raw,
        b"AUTH default wrong\r\n",
        format!("-{WRONGPASS}\r\n").as_bytes(),
    );
    expect_raw(
        &mut raw,
        b"AUTH alice secret\r\n",
        format!("-{WRONGPASS}\r\n").as_bytes(),
    );
    expect_raw(&mut raw, b"PING\r\n", format!("-{NOAUTH}\r\n").as_bytes());
}

#[test]
fn auth_right_password_unlocks_the_client() {
    let s = secret_server();
    let mut raw = s.raw();
    expect_raw(&mut raw, b"AUTH secret\r\n", b"+OK\r\n");
    expect_raw(&mut raw, b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn auth_default_user_with_right_password_unlocks_the_client() {
    let s = secret_server();
    let mut raw = s.raw();
    expect_raw(&mut raw, b"AUTH default secret\r\n", b"+OK\r\n");
    expect_raw(&mut raw, b"SET k v\r\n", b"+OK\r\n");
}

#[test]
fn auth_failure_after_success_keeps_the_client_authenticated() {
    let s = secret_server();
    let mut raw = s.raw();
    expect_raw(&mut raw, b"AUTH secret\r\n", b"+OK\r\n");
    expect_raw(
        &mut raw,
        b"AUTH nope\r\n",
        format!("-{WRONGPASS}\r\n").as_bytes(),
    );
    expect_raw(&mut raw, b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn redis_client_with_password_in_url_can_work() {
    let s = secret_server();
    let client =
        redis::Client::open(format!("redis://:secret@127.0.0.1:{}/", s.port)).expect("client");
    let mut c = client.get_connection().expect("connect");
    assert_eq!(cmd::<String>(&mut c, &["PING"]).unwrap(), "PONG");
}

#[test]
fn hello_without_auth_when_a_password_is_required_is_noauth() {
    let s = secret_server();
    let mut raw = s.raw();
    let text = "-NOAUTH HELLO must be called with the client already authenticated, otherwise the \
                HELLO AUTH <user> <pass> option can be used to authenticate the client and select \
                the RESP protocol version at the same time\r\n";
    expect_raw(&mut raw, b"HELLO 3\r\n", text.as_bytes());
    expect_raw(&mut raw, b"HELLO\r\n", text.as_bytes());
    // The protocol did not change.
    expect_raw(&mut raw, b"PING\r\n", format!("-{NOAUTH}\r\n").as_bytes());
}

#[test]
fn hello_3_auth_default_secret_authenticates_and_switches_to_resp3() {
    let s = secret_server();
    let mut raw = s.raw();
    raw.write_all(b"HELLO 3 AUTH default secret\r\n").unwrap();
    let reply = read_until(&mut raw, b"*0\r\n");
    let text = String::from_utf8_lossy(&reply);
    assert!(
        text.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"),
        "{text}"
    );
    expect_raw(&mut raw, b"GET missing\r\n", b"_\r\n");
}

#[test]
fn hello_auth_with_wrong_password_is_wrongpass() {
    let s = secret_server();
    let mut raw = s.raw();
    expect_raw(
        &mut raw,
        b"HELLO 3 AUTH default nope\r\n",
        format!("-{WRONGPASS}\r\n").as_bytes(),
    );
    expect_raw(
        &mut raw,
        b"HELLO 3 AUTH other secret\r\n",
        format!("-{WRONGPASS}\r\n").as_bytes(),
    );
    expect_raw(&mut raw, b"PING\r\n", format!("-{NOAUTH}\r\n").as_bytes());
}

#[test]
fn hello_with_bad_version_fails_before_authenticating() {
    let s = secret_server();
    let mut raw = s.raw();
    expect_raw(
        &mut raw,
        b"HELLO 4 AUTH default secret\r\n",
        b"-NOPROTO unsupported protocol version\r\n",
    );
    expect_raw(&mut raw, b"PING\r\n", format!("-{NOAUTH}\r\n").as_bytes());
}

#[test]
fn quit_is_allowed_without_auth() {
    let s = secret_server();
    let mut raw = s.raw();
    expect_raw(&mut raw, b"QUIT\r\n", b"+OK\r\n");
    assert!(is_closed(&mut raw));
}

#[test]
fn reset_with_requirepass_logs_the_client_out() {
    let s = secret_server();
    let mut raw = s.raw();
    expect_raw(&mut raw, b"AUTH secret\r\n", b"+OK\r\n");
    expect_raw(&mut raw, b"PING\r\n", b"+PONG\r\n");
    expect_raw(&mut raw, b"RESET\r\n", b"+RESET\r\n");
    expect_raw(&mut raw, b"PING\r\n", format!("-{NOAUTH}\r\n").as_bytes());
}

// ---------------------------------------------------------------- HELLO

#[test]
fn hello_2_describes_the_server() {
    let s = TestServer::start();
    let mut c = s.conn();
    let id = client_id(&mut c);
    let reply: Value = cmd(&mut c, &["HELLO", "2"]).unwrap();
    let Value::Array(items) = reply else {
        panic!("HELLO 2 should reply a flat array, got {reply:?}");
    };
    let expected = vec![
        Value::BulkString(b"server".to_vec()),
        Value::BulkString(b"redis".to_vec()),
        Value::BulkString(b"version".to_vec()),
        Value::BulkString(b"7.0.15".to_vec()),
        Value::BulkString(b"proto".to_vec()),
        Value::Int(2),
        Value::BulkString(b"id".to_vec()),
        Value::Int(id),
        Value::BulkString(b"mode".to_vec()),
        Value::BulkString(b"standalone".to_vec()),
        Value::BulkString(b"role".to_vec()),
        Value::BulkString(b"master".to_vec()),
        Value::BulkString(b"modules".to_vec()),
        Value::Array(vec![]),
    ];
    assert_eq!(items, expected);
}

#[test]
fn hello_3_replies_a_map_and_switches_protocol() {
    let s = TestServer::start();
    let mut raw = s.raw();
    raw.write_all(b"HELLO 3\r\n").unwrap();
    let reply = read_until(&mut raw, b"*0\r\n");
    let text = String::from_utf8_lossy(&reply).into_owned();
    assert!(text.starts_with("%7\r\n"), "{text}");
    assert!(text.contains("$5\r\nproto\r\n:3\r\n"), "{text}");
    assert!(text.ends_with("$7\r\nmodules\r\n*0\r\n"), "{text}");
    expect_raw(&mut raw, b"GET nokey\r\n", b"_\r\n");
    // HELLO without a version keeps the current protocol.
    raw.write_all(b"HELLO\r\n").unwrap();
    let text = String::from_utf8_lossy(&read_until(&mut raw, b"*0\r\n")).into_owned();
    assert!(
        text.starts_with("%7\r\n") && text.contains(":3\r\n"),
        "{text}"
    );
    raw.write_all(b"HELLO 2\r\n").unwrap();
    let text = String::from_utf8_lossy(&read_until(&mut raw, b"*0\r\n")).into_owned();
    assert!(text.starts_with("*14\r\n"), "{text}");
    expect_raw(&mut raw, b"GET nokey\r\n", b"$-1\r\n");
}

#[test]
fn hello_rejects_unsupported_versions() {
    let s = TestServer::start();
    let mut c = s.conn();
    for v in ["1", "4", "0", "-3"] {
        assert_eq!(
            err(&mut c, &["HELLO", v]),
            "NOPROTO unsupported protocol version"
        );
    }
    for v in ["abc", "3.0", ""] {
        assert_eq!(
            err(&mut c, &["HELLO", v]),
            "ERR Protocol version is not an integer or out of range"
        );
    }
}

#[test]
fn hello_rejects_unknown_or_incomplete_options() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["HELLO", "2", "foo"]),
        "ERR Syntax error in HELLO option 'foo'"
    );
    assert_eq!(
        err(&mut c, &["HELLO", "2", "AUTH", "default"]),
        "ERR Syntax error in HELLO option 'AUTH'"
    );
    assert_eq!(
        err(&mut c, &["HELLO", "2", "setname"]),
        "ERR Syntax error in HELLO option 'setname'"
    );
}

#[test]
fn hello_setname_names_the_connection() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: Value = cmd(&mut c, &["HELLO", "2", "SETNAME", "myconn"]).unwrap();
    assert_eq!(
        cmd::<String>(&mut c, &["CLIENT", "GETNAME"]).unwrap(),
        "myconn"
    );
    assert_eq!(
        err(&mut c, &["HELLO", "2", "SETNAME", "bad name"]),
        "ERR Client names cannot contain spaces, newlines or special characters."
    );
    assert_eq!(
        cmd::<String>(&mut c, &["CLIENT", "GETNAME"]).unwrap(),
        "myconn"
    );
}

// ---------------------------------------------------------------- CLIENT

#[test]
fn client_id_is_unique_per_connection() {
    let s = TestServer::start();
    let mut a = s.conn();
    let mut b = s.conn();
    let (ia, ib) = (client_id(&mut a), client_id(&mut b));
    assert!(ia > 0 && ib > 0 && ia != ib);
    assert_eq!(client_id(&mut a), ia);
}

#[test]
fn client_getname_is_null_until_setname() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        cmd::<Option<String>>(&mut c, &["CLIENT", "GETNAME"]).unwrap(),
        None
    );
    let _: () = cmd(&mut c, &["CLIENT", "SETNAME", "worker-1"]).unwrap();
    assert_eq!(
        cmd::<String>(&mut c, &["CLIENT", "GETNAME"]).unwrap(),
        "worker-1"
    );
}

#[test]
fn client_setname_empty_clears_the_name() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["CLIENT", "SETNAME", "x"]).unwrap();
    let _: () = cmd(&mut c, &["CLIENT", "SETNAME", ""]).unwrap();
    assert_eq!(
        cmd::<Option<String>>(&mut c, &["CLIENT", "GETNAME"]).unwrap(),
        None
    );
}

#[test]
fn client_setname_rejects_spaces_newlines_and_special_characters() {
    let s = TestServer::start();
    let mut c = s.conn();
    for bad in ["a b", "a\nb", "a\rb", "tab\t", "caf\u{e9}", "\u{7f}"] {
        assert_eq!(
            err(&mut c, &["CLIENT", "SETNAME", bad]),
            "ERR Client names cannot contain spaces, newlines or special characters.",
            "name {bad:?}"
        );
    }
    let _: () = cmd(&mut c, &["CLIENT", "SETNAME", "!~punct#ok"]).unwrap();
}

#[test]
fn client_subcommands_check_their_arity() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["CLIENT", "ID", "x"]),
        "ERR wrong number of arguments for 'client|id' command"
    );
    assert_eq!(
        err(&mut c, &["CLIENT", "SETNAME"]),
        "ERR wrong number of arguments for 'client|setname' command"
    );
    assert_eq!(
        err(&mut c, &["CLIENT", "KILL"]),
        "ERR wrong number of arguments for 'client|kill' command"
    );
    assert_eq!(
        err(&mut c, &["CLIENT"]),
        "ERR wrong number of arguments for 'client' command"
    );
    assert_eq!(
        err(&mut c, &["CLIENT", "FOO"]),
        "ERR unknown subcommand 'FOO'. Try CLIENT HELP."
    );
}

#[test]
fn client_list_shows_every_connection() {
    let s = TestServer::start();
    let mut a = s.conn();
    let mut b = s.conn();
    let _: () = cmd(&mut b, &["CLIENT", "SETNAME", "bee"]).unwrap();
    let _: () = cmd(&mut b, &["SELECT", "4"]).unwrap();
    let (ia, ib) = (client_id(&mut a), client_id(&mut b));
    let list = client_list(&mut a, &[]);
    let lines: Vec<&str> = list.lines().collect();
    let la = lines
        .iter()
        .find(|l| field(l, "id") == ia.to_string())
        .expect("a is listed");
    let lb = lines
        .iter()
        .find(|l| field(l, "id") == ib.to_string())
        .expect("b is listed");
    assert_eq!(field(la, "cmd"), "client|list");
    assert_eq!(field(lb, "name"), "bee");
    assert_eq!(field(lb, "db"), "4");
    assert_eq!(field(lb, "laddr"), format!("127.0.0.1:{}", s.port));
    assert!(list.ends_with('\n'));
}

#[test]
fn client_list_type_filters_by_kind() {
    let s = TestServer::start();
    let mut c = s.conn();
    let id = client_id(&mut c).to_string();
    let normal = client_list(&mut c, &["TYPE", "normal"]);
    assert!(normal.lines().any(|l| field(l, "id") == id));
    assert_eq!(client_list(&mut c, &["TYPE", "master"]), "");
    assert_eq!(client_list(&mut c, &["TYPE", "replica"]), "");
    assert_eq!(
        err(&mut c, &["CLIENT", "LIST", "TYPE", "foo"]),
        "ERR Unknown client type 'foo'"
    );
    assert_eq!(err(&mut c, &["CLIENT", "LIST", "TYPE"]), "ERR syntax error");
}

#[test]
fn client_list_id_shows_only_the_given_clients() {
    let s = TestServer::start();
    let mut a = s.conn();
    let mut b = s.conn();
    let (ia, ib) = (client_id(&mut a), client_id(&mut b));
    let list = client_list(&mut a, &["ID", &ib.to_string(), "999999", &ia.to_string()]);
    let ids: Vec<&str> = list.lines().map(|l| field(l, "id")).collect();
    assert_eq!(ids, vec![ib.to_string(), ia.to_string()]);
    assert_eq!(client_list(&mut a, &["ID", "999999"]), "");
    assert_eq!(
        err(&mut a, &["CLIENT", "LIST", "ID", "abc"]),
        "ERR Invalid client ID"
    );
    assert_eq!(err(&mut a, &["CLIENT", "LIST", "ID"]), "ERR syntax error");
    assert_eq!(err(&mut a, &["CLIENT", "LIST", "foo"]), "ERR syntax error");
}

#[test]
fn client_info_describes_the_current_connection() {
    let s = TestServer::start();
    let mut c = s.conn();
    let id = client_id(&mut c);
    let _: () = cmd(&mut c, &["CLIENT", "SETNAME", "me"]).unwrap();
    let info: String = cmd(&mut c, &["CLIENT", "INFO"]).unwrap();
    assert!(
        info.ends_with('\n') && info.lines().count() == 1,
        "{info:?}"
    );
    assert_eq!(field(info.trim_end(), "id"), id.to_string());
    assert_eq!(field(info.trim_end(), "name"), "me");
    assert_eq!(field(info.trim_end(), "cmd"), "client|info");
    assert_eq!(field(info.trim_end(), "resp"), "2");
}

#[test]
fn client_kill_by_id_disconnects_the_other_connection() {
    let s = TestServer::start();
    let mut killer = s.conn();
    let mut victim = s.raw();
    let victim_id = raw_client_id(&mut victim);
    let killed: i64 = cmd(&mut killer, &["CLIENT", "KILL", "ID", &victim_id]).unwrap();
    assert_eq!(killed, 1);
    assert!(is_closed(&mut victim), "the killed connection is closed");
    assert_eq!(client_list(&mut killer, &["ID", &victim_id]), "");
    assert_eq!(cmd::<String>(&mut killer, &["PING"]).unwrap(), "PONG");
}

#[test]
fn client_kill_old_form_kills_by_address() {
    let s = TestServer::start();
    let mut killer = s.conn();
    let mut victim = s.raw();
    let addr = victim.local_addr().unwrap().to_string();
    expect_raw(&mut victim, b"PING\r\n", b"+PONG\r\n");
    let _: () = cmd(&mut killer, &["CLIENT", "KILL", &addr]).unwrap();
    assert!(is_closed(&mut victim));
    assert_eq!(
        err(&mut killer, &["CLIENT", "KILL", &addr]),
        "ERR No such client"
    );
}

#[test]
fn client_kill_old_form_without_match_is_no_such_client() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["CLIENT", "KILL", "1.2.3.4:5"]),
        "ERR No such client"
    );
    assert_eq!(err(&mut c, &["CLIENT", "KILL", "id"]), "ERR No such client");
}

#[test]
fn client_kill_filters_count_matches_and_skip_the_caller() {
    let s = TestServer::start();
    let mut me = s.conn();
    let mut other = s.raw();
    expect_raw(&mut other, b"PING\r\n", b"+PONG\r\n");
    let laddr = format!("127.0.0.1:{}", s.port);
    assert_eq!(
        cmd::<i64>(&mut me, &["CLIENT", "KILL", "ADDR", "1.2.3.4:5"]).unwrap(),
        0
    );
    assert_eq!(
        cmd::<i64>(&mut me, &["CLIENT", "KILL", "ID", "999999"]).unwrap(),
        0
    );
    assert_eq!(
        cmd::<i64>(&mut me, &["CLIENT", "KILL", "TYPE", "master"]).unwrap(),
        0
    );
    // Every connection shares the local address; SKIPME (default yes) spares the caller.
    assert_eq!(
        cmd::<i64>(
            &mut me,
            &["CLIENT", "KILL", "LADDR", &laddr, "USER", "default"]
        )
        .unwrap(),
        1
    );
    assert!(is_closed(&mut other));
    assert_eq!(cmd::<String>(&mut me, &["PING"]).unwrap(), "PONG");
}

#[test]
fn client_kill_addr_filter_matches_the_peer_address() {
    let s = TestServer::start();
    let mut me = s.conn();
    let mut other = s.raw();
    expect_raw(&mut other, b"PING\r\n", b"+PONG\r\n");
    let addr = other.local_addr().unwrap().to_string();
    assert_eq!(
        cmd::<i64>(
            &mut me,
            &["CLIENT", "KILL", "ADDR", &addr, "TYPE", "normal"]
        )
        .unwrap(),
        1
    );
    assert!(is_closed(&mut other));
}

#[test]
fn client_kill_skipme_no_kills_the_caller_after_replying() {
    let s = TestServer::start();
    let mut raw = s.raw();
    let id = raw_client_id(&mut raw);
    let req = format!("CLIENT KILL ID {id} SKIPME no\r\nPING\r\n");
    expect_raw(&mut raw, req.as_bytes(), b":1\r\n");
    assert!(
        is_closed(&mut raw),
        "the caller is disconnected, PING unanswered"
    );
}

#[test]
fn client_kill_rejects_bad_filters() {
    let s = TestServer::start();
    let mut c = s.conn();
    let cases: &[(&[&str], &str)] = &[
        (&["ID", "0"], "ERR client-id should be greater than 0"),
        (&["ID", "abc"], "ERR client-id should be greater than 0"),
        (&["TYPE", "foo"], "ERR Unknown client type 'foo'"),
        (&["USER", "alice"], "ERR No such user 'alice'"),
        (&["SKIPME", "maybe"], "ERR syntax error"),
        (&["MAXAGE", "1"], "ERR syntax error"),
        (&["ID", "1", "SKIPME"], "ERR syntax error"),
        (&["1.2.3.4:5", "x"], "ERR syntax error"),
    ];
    for (args, expected) in cases {
        let mut full = vec!["CLIENT", "KILL"];
        full.extend_from_slice(args);
        assert_eq!(err(&mut c, &full), *expected, "CLIENT KILL {args:?}");
    }
}

#[test]
fn client_no_evict_accepts_on_and_off_only() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["CLIENT", "NO-EVICT", "on"]).unwrap();
    let _: () = cmd(&mut c, &["CLIENT", "NO-EVICT", "OFF"]).unwrap();
    assert_eq!(
        err(&mut c, &["CLIENT", "NO-EVICT", "maybe"]),
        "ERR syntax error"
    );
}

#[test]
fn client_reply_off_suppresses_replies_until_on() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(
        &mut raw,
        b"CLIENT REPLY OFF\r\nPING\r\nSET k v\r\nGET k\r\nCLIENT REPLY ON\r\nGET k\r\n",
        b"+OK\r\n$1\r\nv\r\n",
    );
    expect_raw(&mut raw, b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn client_reply_skip_suppresses_only_the_next_reply() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(
        &mut raw,
        b"CLIENT REPLY SKIP\r\nECHO one\r\nECHO two\r\n",
        b"$3\r\ntwo\r\n",
    );
    // Sent in separate writes, the behaviour is the same.
    raw.write_all(b"CLIENT REPLY SKIP\r\n").unwrap();
    raw.write_all(b"ECHO three\r\n").unwrap();
    expect_raw(&mut raw, b"ECHO four\r\n", b"$4\r\nfour\r\n");
}

#[test]
fn client_reply_on_cancels_a_pending_skip_and_is_answered() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(
        &mut raw,
        b"CLIENT REPLY SKIP\r\nCLIENT REPLY ON\r\nPING\r\n",
        b"+OK\r\n+PONG\r\n",
    );
}

#[test]
fn reset_while_its_reply_is_skipped_is_silent() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(
        &mut raw,
        b"CLIENT REPLY SKIP\r\nRESET\r\nPING\r\n",
        b"+PONG\r\n",
    );
}

#[test]
fn client_list_qbuf_counts_the_request_being_run() {
    let s = TestServer::start();
    let mut c = s.conn();
    let id = client_id(&mut c).to_string();
    let list = client_list(&mut c, &["ID", &id]);
    // "*4\r\n$6\r\nCLIENT\r\n$4\r\nLIST\r\n$2\r\nID\r\n$N\r\n<id>\r\n"
    let expected = 4 + 12 + 10 + 8 + 1 + id.len().to_string().len() + 2 + id.len() + 2;
    assert_eq!(field(list.trim_end(), "qbuf"), expected.to_string());
}

#[test]
fn client_reply_with_bad_mode_is_a_syntax_error() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["CLIENT", "REPLY", "maybe"]),
        "ERR syntax error"
    );
    let _: () = cmd(&mut c, &["CLIENT", "REPLY", "ON"]).unwrap();
}

#[test]
fn client_unblock_finds_no_blocked_client() {
    let s = TestServer::start();
    let mut a = s.conn();
    let mut b = s.conn();
    let ib = client_id(&mut b).to_string();
    assert_eq!(cmd::<i64>(&mut a, &["CLIENT", "UNBLOCK", &ib]).unwrap(), 0);
    assert_eq!(
        cmd::<i64>(&mut a, &["CLIENT", "UNBLOCK", "12345", "ERROR"]).unwrap(),
        0
    );
    assert_eq!(
        cmd::<i64>(&mut a, &["CLIENT", "UNBLOCK", "12345", "timeout"]).unwrap(),
        0
    );
}

#[test]
fn client_unblock_rejects_bad_arguments() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["CLIENT", "UNBLOCK", "abc"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut c, &["CLIENT", "UNBLOCK", "1", "later"]),
        "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"
    );
    assert_eq!(
        err(&mut c, &["CLIENT", "UNBLOCK", "1", "timeout", "x"]),
        "ERR unknown subcommand or wrong number of arguments for 'unblock'. Try CLIENT HELP."
    );
}

#[test]
fn client_help_lists_the_subcommands() {
    let s = TestServer::start();
    let mut c = s.conn();
    let lines: Vec<String> = cmd(&mut c, &["CLIENT", "HELP"]).unwrap();
    assert!(lines[0].starts_with("CLIENT <subcommand>"));
    for sub in [
        "GETNAME", "ID", "INFO", "KILL", "LIST", "REPLY", "SETNAME", "UNBLOCK", "NO-EVICT",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(sub)),
            "{sub} missing from CLIENT HELP"
        );
    }
}

// ---------------------------------------------------------------- QUIT / RESET

#[test]
fn quit_replies_ok_and_closes() {
    let s = TestServer::start();
    let mut raw = s.raw();
    // Commands pipelined after QUIT are not run.
    expect_raw(&mut raw, b"QUIT\r\nSET after quit\r\n", b"+OK\r\n");
    assert!(is_closed(&mut raw));
    let mut c = s.conn();
    assert_eq!(
        cmd::<Option<String>>(&mut c, &["GET", "after"]).unwrap(),
        None
    );
}

#[test]
fn quit_accepts_extra_arguments() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(&mut raw, b"QUIT now\r\n", b"+OK\r\n");
    assert!(is_closed(&mut raw));
}

#[test]
fn reset_restores_a_fresh_connection_state() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(&mut raw, b"SELECT 3\r\n", b"+OK\r\n");
    expect_raw(&mut raw, b"CLIENT SETNAME named\r\n", b"+OK\r\n");
    raw.write_all(b"HELLO 3\r\n").unwrap();
    let _ = read_until(&mut raw, b"*0\r\n");
    expect_raw(&mut raw, b"RESET\r\n", b"+RESET\r\n");
    expect_raw(&mut raw, b"GET nokey\r\n", b"$-1\r\n");
    expect_raw(&mut raw, b"CLIENT GETNAME\r\n", b"$-1\r\n");
    raw.write_all(b"CLIENT INFO\r\n").unwrap();
    let info = read_until(&mut raw, b"\n\r\n");
    let info = String::from_utf8_lossy(&info).into_owned();
    let line = info.lines().nth(1).expect("info line");
    assert_eq!(field(line, "db"), "0");
    assert_eq!(field(line, "resp"), "2");
    assert_eq!(field(line, "name"), "");
}

#[test]
fn reset_turns_replies_back_on() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(
        &mut raw,
        b"CLIENT REPLY OFF\r\nPING\r\nRESET\r\nPING\r\n",
        b"+RESET\r\n+PONG\r\n",
    );
}

#[test]
fn reset_takes_no_arguments() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["RESET", "x"]),
        "ERR wrong number of arguments for 'reset' command"
    );
}

#[test]
fn client_reply_skip_under_a_pending_skip_silences_one_more_reply() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(
        &mut raw,
        b"CLIENT REPLY SKIP\r\nCLIENT REPLY SKIP\r\nECHO a\r\nECHO b\r\n",
        b"$1\r\nb\r\n",
    );
}

#[test]
fn reset_under_a_pending_skip_stays_silent() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(
        &mut raw,
        b"CLIENT REPLY SKIP\r\nRESET\r\nECHO after\r\n",
        b"$5\r\nafter\r\n",
    );
}

#[test]
fn client_pause_holds_writes_or_everything_until_it_ends() {
    use std::time::{Duration, Instant};
    let s = TestServer::start();
    let mut admin = s.conn();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("0")
        .query(&mut admin)
        .unwrap();
    let bad = common::err(&mut admin, &["CLIENT", "PAUSE", "abc"]);
    assert_eq!(bad, "ERR timeout is not an integer or out of range");
    let bad = common::err(&mut admin, &["CLIENT", "PAUSE", "-1"]);
    assert_eq!(bad, "ERR timeout is negative");
    let bad = common::err(&mut admin, &["CLIENT", "PAUSE", "10", "NOPE"]);
    assert_eq!(bad, "ERR syntax error");

    // WRITE: reads go on, a write waits for the end of the pause.
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(400)
        .arg("WRITE")
        .query(&mut admin)
        .unwrap();
    let started = Instant::now();
    let mut reader = s.conn();
    let v: String = redis::cmd("GET").arg("k").query(&mut reader).unwrap();
    assert_eq!(v, "0");
    assert!(started.elapsed() < Duration::from_millis(300));
    let mut writer = s.conn();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("1")
        .query(&mut writer)
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(350),
        "{:?}",
        started.elapsed()
    );

    // ALL: a read waits too, until the pause runs out.
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(300)
        .query(&mut admin)
        .unwrap();
    let started = Instant::now();
    let v: String = redis::cmd("GET").arg("k").query(&mut reader).unwrap();
    assert_eq!(v, "1");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );

    // UNPAUSE ends a WRITE pause at once.
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(100_000)
        .arg("WRITE")
        .query(&mut admin)
        .unwrap();
    let port = s.port;
    let blocked = std::thread::spawn(move || {
        let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .unwrap()
            .get_connection()
            .unwrap();
        let started = Instant::now();
        let _: () = redis::cmd("SET").arg("k").arg("2").query(&mut c).unwrap();
        started.elapsed()
    });
    std::thread::sleep(Duration::from_millis(200));
    let v: String = redis::cmd("GET").arg("k").query(&mut reader).unwrap();
    assert_eq!(v, "1", "the write ran during the pause");
    let _: () = redis::cmd("CLIENT")
        .arg("UNPAUSE")
        .query(&mut admin)
        .unwrap();
    let waited = blocked.join().unwrap();
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    let v: String = redis::cmd("GET").arg("k").query(&mut reader).unwrap();
    assert_eq!(v, "2");
}

/// PUBLISH may replicate, so a WRITE pause holds it back (as Redis); PFCOUNT too.
#[test]
fn client_pause_write_holds_publish_and_pfcount() {
    let s = TestServer::start();
    let mut admin = s.conn();
    let _: i64 = cmd(&mut admin, &["PFADD", "h", "x"]).unwrap();
    let _: () = cmd(&mut admin, &["CLIENT", "PAUSE", "100000", "WRITE"]).unwrap();
    let held: Vec<_> = [["PUBLISH", "ch", "m"], ["PFCOUNT", "h", "h"]]
        .into_iter()
        .map(|args| {
            let mut c = s.conn();
            std::thread::spawn(move || cmd::<i64>(&mut c, &args).unwrap())
        })
        .collect();
    common::wait_until("both commands to be held", || {
        common::info_field(&mut admin, "clients", "blocked_clients") == "2"
    });
    assert!(held.iter().all(|h| !h.is_finished()));
    let _: () = cmd(&mut admin, &["CLIENT", "UNPAUSE"]).unwrap();
    let replies: Vec<i64> = held.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(replies, [0, 1]);
}

/// Under CLIENT PAUSE WRITE a script runs at once when it declares `no-writes` (a shebang
/// flag or its function's), and waits otherwise; a read-only script may not PUBLISH.
#[test]
fn client_pause_write_lets_read_only_scripts_run() {
    let s = TestServer::start();
    let mut admin = s.conn();
    let lib = "#!lua name=lib\nredis.register_function{function_name='ro', \
               callback=function() return 'ro' end, flags={'no-writes'}}";
    let _: String = cmd(&mut admin, &["FUNCTION", "LOAD", lib]).unwrap();
    let sha: String = cmd(
        &mut admin,
        &["SCRIPT", "LOAD", "#!lua flags=no-writes\nreturn 2"],
    )
    .unwrap();
    let _: () = cmd(&mut admin, &["CLIENT", "PAUSE", "100000", "WRITE"]).unwrap();
    let mut c = s.conn();
    let one: i64 = cmd(&mut c, &["EVAL", "#!lua flags=no-writes\nreturn 1", "0"]).unwrap();
    let two: i64 = cmd(&mut c, &["EVALSHA", &sha, "0"]).unwrap();
    let ro: String = cmd(&mut c, &["FCALL", "ro", "0"]).unwrap();
    assert_eq!((one, two, ro.as_str()), (1, 2, "ro"));
    let refused = err(
        &mut c,
        &["EVAL_RO", "return redis.call('publish', 'ch', 'm')", "0"],
    );
    assert!(
        refused.starts_with("ERR Write commands are not allowed from read-only scripts."),
        "{refused}"
    );
    // Without a shebang a script may write: it waits for the pause.
    let mut w = s.conn();
    let held = std::thread::spawn(move || cmd::<i64>(&mut w, &["EVAL", "return 3", "0"]).unwrap());
    common::wait_until("the script to be held", || {
        common::info_field(&mut admin, "clients", "blocked_clients") == "1"
    });
    let _: () = cmd(&mut admin, &["CLIENT", "UNPAUSE"]).unwrap();
    assert_eq!(held.join().unwrap(), 3);
}

/// A WRITE pause holds back expiry too: an expired key reads as missing but is deleted only
/// once the pause ends.
#[test]
fn client_pause_write_holds_back_expiry() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "k", "v", "PX", "50"]).unwrap();
    let _: () = cmd(&mut c, &["CLIENT", "PAUSE", "100000", "WRITE"]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let got: Option<String> = cmd(&mut c, &["GET", "k"]).unwrap();
    assert_eq!(got, None);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(common::info_field(&mut c, "stats", "expired_keys"), "0");
    let _: () = cmd(&mut c, &["CLIENT", "UNPAUSE"]).unwrap();
    common::wait_until("the key to be deleted", || {
        common::info_field(&mut c, "stats", "expired_keys") == "1"
    });
}
