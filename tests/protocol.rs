//! The wire protocol over raw TCP: inline and multibulk requests, pipelining, RESP3,
//! malformed input, and the limits that protect the server from hostile clients.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{expect_raw, read_at_least, read_until, TestServer};

/// Reads everything until the server closes the connection; `None` if it stays open.
fn read_to_close(stream: &mut TcpStream) -> Option<Vec<u8>> {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Some(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return None
            }
            // A reset also means the server closed it.
            Err(_) => return Some(out),
        }
    }
}

/// Sends `request` and expects `expected` followed by the server closing the connection.
fn expect_error_and_close(stream: &mut TcpStream, request: &[u8], expected: &str) {
    stream.write_all(request).expect("write");
    let got = read_to_close(stream).expect("the server closes the connection");
    assert_eq!(String::from_utf8_lossy(&got), expected);
}

fn assert_server_alive(s: &TestServer) {
    let mut raw = s.raw();
    expect_raw(&mut raw, b"PING\r\n", b"+PONG\r\n");
}

// ---------------------------------------------------------------- inline commands

#[test]
fn inline_ping_replies_pong() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(&mut raw, b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn inline_command_accepts_a_bare_newline() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(&mut raw, b"PING\n", b"+PONG\r\n");
}

#[test]
fn inline_set_then_get() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(&mut raw, b"SET a b\r\n", b"+OK\r\n");
    expect_raw(&mut raw, b"GET a\r\n", b"$1\r\nb\r\n");
}

#[test]
fn inline_quoted_arguments_are_unquoted() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(&mut raw, b"SET k \"a b\\x41\\n\"\r\n", b"+OK\r\n");
    expect_raw(&mut raw, b"GET k\r\n", b"$5\r\na bA\n\r\n");
}

#[test]
fn inline_single_quotes_keep_backslashes() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(&mut raw, b"SET k 'x y\\n'\r\n", b"+OK\r\n");
    expect_raw(&mut raw, b"GET k\r\n", b"$5\r\nx y\\n\r\n");
}

#[test]
fn empty_lines_are_ignored() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(&mut raw, b"\r\n\r\n   \r\nPING\r\n", b"+PONG\r\n");
}

#[test]
fn inline_unbalanced_quotes_is_a_protocol_error_and_closes() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_error_and_close(
        &mut raw,
        b"SET a \"b\r\n",
        "-ERR Protocol error: unbalanced quotes in request\r\n",
    );
    assert_server_alive(&s);
}

// ---------------------------------------------------------------- multibulk and pipelining

#[test]
fn multibulk_request_with_binary_argument() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(
        &mut raw,
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\n\x00\r\n\xff\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
        b"+OK\r\n$4\r\n\x00\r\n\xff\r\n",
    );
}

#[test]
fn request_split_across_many_writes_is_reassembled() {
    let s = TestServer::start();
    let mut raw = s.raw();
    let req = b"*2\r\n$4\r\nECHO\r\n$11\r\nhello world\r\n";
    for byte in req.iter() {
        raw.write_all(&[*byte]).unwrap();
    }
    let got = read_at_least(&mut raw, 18);
    assert_eq!(got, b"$11\r\nhello world\r\n");
}

#[test]
fn pipelining_10000_commands_gets_10000_replies_in_order() {
    let s = TestServer::start();
    let mut raw = s.raw();
    let mut request = Vec::new();
    let mut expected = Vec::new();
    for i in 0..10_000 {
        let arg = i.to_string();
        request.extend_from_slice(
            format!("*2\r\n$4\r\nECHO\r\n${}\r\n{arg}\r\n", arg.len()).as_bytes(),
        );
        expected.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    raw.write_all(&request).unwrap();
    let got = read_at_least(&mut raw, expected.len());
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "replies are out of order or wrong");
}

#[test]
fn pipelined_inline_and_multibulk_mix() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(
        &mut raw,
        b"SET x 1\r\n*2\r\n$3\r\nGET\r\n$1\r\nx\r\nPING\r\n",
        b"+OK\r\n$1\r\n1\r\n+PONG\r\n",
    );
}

#[test]
fn negative_multibulk_count_is_ignored() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(&mut raw, b"*-10\r\n*0\r\nPING\r\n", b"+PONG\r\n");
}

// ---------------------------------------------------------------- RESP3

#[test]
fn resp3_hello_replies_a_map() {
    let s = TestServer::start();
    let mut raw = s.raw();
    raw.write_all(b"HELLO 3\r\n").unwrap();
    let got = String::from_utf8_lossy(&read_until(&mut raw, b"*0\r\n")).into_owned();
    assert!(
        got.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"),
        "{got}"
    );
    assert!(got.contains("$5\r\nproto\r\n:3\r\n"), "{got}");
}

#[test]
fn resp3_missing_key_is_the_null_type() {
    let s = TestServer::start();
    let mut raw = s.raw();
    raw.write_all(b"HELLO 3\r\n").unwrap();
    let _ = read_until(&mut raw, b"*0\r\n");
    expect_raw(&mut raw, b"GET missing\r\n", b"_\r\n");
    expect_raw(&mut raw, b"MGET missing\r\n", b"*1\r\n_\r\n");
}

#[test]
fn resp2_missing_key_is_a_null_bulk() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(&mut raw, b"GET missing\r\n", b"$-1\r\n");
}

#[test]
fn resp3_client_info_is_a_verbatim_string() {
    let s = TestServer::start();
    let mut raw = s.raw();
    raw.write_all(b"HELLO 3\r\n").unwrap();
    let _ = read_until(&mut raw, b"*0\r\n");
    raw.write_all(b"CLIENT INFO\r\n").unwrap();
    let got = String::from_utf8_lossy(&read_until(&mut raw, b"\n\r\n")).into_owned();
    assert!(got.starts_with('='), "{got}");
    assert!(got.contains("\r\ntxt:id="), "{got}");
    assert!(got.contains(" resp=3"), "{got}");
}

#[test]
fn resp3_simple_and_integer_replies_are_unchanged() {
    let s = TestServer::start();
    let mut raw = s.raw();
    raw.write_all(b"HELLO 3\r\n").unwrap();
    let _ = read_until(&mut raw, b"*0\r\n");
    expect_raw(&mut raw, b"PING\r\n", b"+PONG\r\n");
    expect_raw(&mut raw, b"SET n 5\r\nINCR n\r\n", b"+OK\r\n:6\r\n");
}

// ---------------------------------------------------------------- malformed input

#[test]
fn bad_multibulk_length_is_a_protocol_error_and_closes() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_error_and_close(
        &mut raw,
        b"*abc\r\n",
        "-ERR Protocol error: invalid multibulk length\r\n",
    );
}

#[test]
fn out_of_range_multibulk_length_is_a_protocol_error() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_error_and_close(
        &mut raw,
        b"*3000000000\r\n",
        "-ERR Protocol error: invalid multibulk length\r\n",
    );
}

#[test]
fn bad_bulk_length_is_a_protocol_error_and_closes() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_error_and_close(
        &mut raw,
        b"*1\r\n$abc\r\n",
        "-ERR Protocol error: invalid bulk length\r\n",
    );
}

#[test]
fn negative_bulk_length_is_a_protocol_error() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_error_and_close(
        &mut raw,
        b"*1\r\n$-10\r\n",
        "-ERR Protocol error: invalid bulk length\r\n",
    );
}

#[test]
fn multibulk_element_without_dollar_is_a_protocol_error() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_error_and_close(
        &mut raw,
        b"*1\r\n+x\r\n",
        "-ERR Protocol error: expected '$', got '+'\r\n",
    );
}

#[test]
fn replies_before_a_protocol_error_are_still_sent() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_error_and_close(
        &mut raw,
        b"PING\r\nECHO hi\r\n*x\r\nPING\r\n",
        "+PONG\r\n$2\r\nhi\r\n-ERR Protocol error: invalid multibulk length\r\n",
    );
}

#[test]
fn protocol_error_leaves_other_clients_unaffected() {
    let s = TestServer::start();
    let mut good = s.raw();
    expect_raw(&mut good, b"SET k v\r\n", b"+OK\r\n");
    let mut bad = s.raw();
    expect_error_and_close(
        &mut bad,
        b"*1\r\n$abc\r\n",
        "-ERR Protocol error: invalid bulk length\r\n",
    );
    expect_raw(&mut good, b"GET k\r\n", b"$1\r\nv\r\n");
}

#[test]
fn bulk_above_default_proto_max_bulk_len_is_rejected() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_error_and_close(
        &mut raw,
        b"*1\r\n$600000000\r\n",
        "-ERR Protocol error: invalid bulk length\r\n",
    );
    assert_server_alive(&s);
}

#[test]
fn bulk_above_configured_proto_max_bulk_len_is_rejected() {
    let s = TestServer::start_with(&["--proto-max-bulk-len", "1mb"]);
    let mut raw = s.raw();
    let ok_len = 1024 * 1024;
    let mut req = format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${ok_len}\r\n").into_bytes();
    req.extend(std::iter::repeat_n(b'x', ok_len));
    req.extend_from_slice(b"\r\n");
    expect_raw(&mut raw, &req, b"+OK\r\n");
    expect_error_and_close(
        &mut raw,
        format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n", ok_len + 1).as_bytes(),
        "-ERR Protocol error: invalid bulk length\r\n",
    );
    assert_server_alive(&s);
}

#[test]
fn unknown_command_quotes_its_arguments() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(
        &mut raw,
        b"foo a b\r\n",
        b"-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n",
    );
    expect_raw(
        &mut raw,
        b"foo\r\n",
        b"-ERR unknown command 'foo', with args beginning with: \r\n",
    );
    // The connection stays usable.
    expect_raw(&mut raw, b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn wrong_arity_names_the_command() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(
        &mut raw,
        b"GET\r\n",
        b"-ERR wrong number of arguments for 'get' command\r\n",
    );
    expect_raw(
        &mut raw,
        b"*3\r\n$3\r\nget\r\n$1\r\na\r\n$1\r\nb\r\n",
        b"-ERR wrong number of arguments for 'get' command\r\n",
    );
}

#[test]
fn command_names_are_case_insensitive() {
    let s = TestServer::start();
    let mut raw = s.raw();
    expect_raw(&mut raw, b"pInG\r\n", b"+PONG\r\n");
}

// ---------------------------------------------------------------- robustness

#[test]
fn client_disconnecting_mid_request_does_not_disturb_the_server() {
    let s = TestServer::start();
    let mut other = s.raw();
    expect_raw(&mut other, b"SET k v\r\n", b"+OK\r\n");
    for partial in [
        &b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nab"[..],
        b"*2\r\n$4\r\nEC",
        b"SET k va",
        b"*10\r\n",
    ] {
        let mut quitter = s.raw();
        quitter.write_all(partial).unwrap();
        drop(quitter);
    }
    expect_raw(&mut other, b"GET k\r\n", b"$1\r\nv\r\n");
    assert_server_alive(&s);
}

#[test]
fn query_buffer_limit_closes_a_client_sending_a_huge_incomplete_bulk() {
    let s = TestServer::start_with(&["--client-query-buffer-limit", "1mb"]);
    let mut other = s.raw();
    expect_raw(&mut other, b"PING\r\n", b"+PONG\r\n");
    let mut hog = s.raw();
    let announced = 2 * 1024 * 1024;
    hog.write_all(format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${announced}\r\n").as_bytes())
        .unwrap();
    // Send most of the bulk, never its end; the server may close before we finish writing.
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    while sent < announced - 1024 {
        if hog.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    let rest = read_to_close(&mut hog).expect("the server closes the over-limit client");
    assert!(
        rest.is_empty(),
        "no reply is sent: {:?}",
        String::from_utf8_lossy(&rest)
    );
    expect_raw(&mut other, b"GET k\r\n", b"$-1\r\n");
    assert_server_alive(&s);
}

#[test]
fn oversized_inline_request_is_a_protocol_error() {
    let s = TestServer::start();
    let mut raw = s.raw();
    let huge = vec![b'a'; 128 * 1024];
    raw.write_all(&huge).unwrap();
    let got = read_to_close(&mut raw).expect("closed");
    assert_eq!(
        String::from_utf8_lossy(&got),
        "-ERR Protocol error: too big inline request\r\n"
    );
    assert_server_alive(&s);
}
