//! One client must not exhaust the server: replies whose size the client chooses are written
//! as it reads them, unread replies hold back the client's own commands, subscribers and
//! monitors that stop reading are cut off by `client-output-buffer-limit`, and the open-files
//! limit covers `maxclients`.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{err, info_field, wait_until, TestServer};

/// Held by every test here: they measure latency, memory or CPU while loading a server, and
/// must not load each other's.
static MEASURING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn measuring() -> std::sync::MutexGuard<'static, ()> {
    MEASURING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs a command that must succeed.
fn run<T: redis::FromRedisValue>(c: &mut redis::Connection, args: &[&str]) -> T {
    common::cmd(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Fails unless a fresh PING on `conn` answers within `limit`, five times in a row.
fn assert_ping_within(conn: &mut redis::Connection, limit: Duration) {
    for _ in 0..5 {
        let start = Instant::now();
        let pong: String = run(conn, &["PING"]);
        assert_eq!(pong, "PONG");
        assert!(
            start.elapsed() < limit,
            "PING took {:?} while another client was served",
            start.elapsed()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads from `stream` until at least `n` bytes arrived; returns how many did.
fn read_bytes(stream: &mut TcpStream, n: usize) -> usize {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    while total < n {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => total += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("read failed after {total} bytes: {e}"),
        }
    }
    total
}

/// True once the peer closed `stream` (reading what is still buffered on the way).
fn closed_by_peer(stream: &mut TcpStream, within: Duration) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + within;
    let mut buf = vec![0u8; 1 << 20];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {}
            Err(_) => return true,
        }
    }
    false
}

#[test]
fn random_members_with_a_huge_negative_count_are_streamed_as_the_client_reads() {
    let _measuring = measuring();
    let server = TestServer::start();
    let mut c = server.conn();
    let _: i64 = run(&mut c, &["SADD", "s", "a"]);
    let _: i64 = run(&mut c, &["HSET", "h", "f", "v"]);
    let _: i64 = run(&mut c, &["ZADD", "z", "1", "m"]);
    let rss_before = server.rss_bytes();
    for (request, header) in [
        (
            "SRANDMEMBER s -9223372036854775807\r\n",
            "*9223372036854775807\r\n$1\r\na\r\n",
        ),
        (
            "HRANDFIELD h -9223372036854775807\r\n",
            "*9223372036854775807\r\n$1\r\nf\r\n",
        ),
        (
            "HRANDFIELD h -4611686018427387903 WITHVALUES\r\n",
            "*9223372036854775806\r\n$1\r\nf\r\n$1\r\nv\r\n",
        ),
        (
            "ZRANDMEMBER z -4611686018427387903 WITHSCORES\r\n",
            "*9223372036854775806\r\n$1\r\nm\r\n$1\r\n1\r\n",
        ),
    ] {
        let mut reader = server.raw();
        reader.write_all(request.as_bytes()).unwrap();
        let mut head = vec![0u8; header.len()];
        reader.read_exact(&mut head).unwrap();
        assert_eq!(String::from_utf8_lossy(&head), header, "{request}");
        // The client reads 20 MB of it, then nothing: the server must neither build the
        // rest nor stall anyone else meanwhile.
        assert!(read_bytes(&mut reader, 20 << 20) >= 20 << 20);
        assert_ping_within(&mut c, Duration::from_millis(100));
        std::thread::sleep(Duration::from_millis(300));
        assert_ping_within(&mut c, Duration::from_millis(100));
        let rss = server.rss_bytes();
        assert!(
            rss < rss_before + (64 << 20),
            "{request}: RSS grew from {rss_before} to {rss}"
        );
        drop(reader);
    }
    let members: Vec<String> = run(&mut c, &["SMEMBERS", "s"]);
    assert_eq!(members, vec!["a"]);
}

#[test]
fn a_transaction_holding_a_huge_random_reply_is_streamed_too() {
    let _measuring = measuring();
    let server = TestServer::start();
    let mut c = server.conn();
    let _: i64 = run(&mut c, &["SADD", "s", "a"]);
    let rss_before = server.rss_bytes();
    let mut reader = server.raw();
    reader
        .write_all(b"MULTI\r\nSRANDMEMBER s -9223372036854775807\r\nEXEC\r\n")
        .unwrap();
    let header = "+OK\r\n+QUEUED\r\n*1\r\n*9223372036854775807\r\n$1\r\na\r\n";
    let mut head = vec![0u8; header.len()];
    reader.read_exact(&mut head).unwrap();
    assert_eq!(String::from_utf8_lossy(&head), header);
    assert!(read_bytes(&mut reader, 20 << 20) >= 20 << 20);
    std::thread::sleep(Duration::from_millis(300));
    assert_ping_within(&mut c, Duration::from_millis(100));
    let rss = server.rss_bytes();
    assert!(
        rss < rss_before + (64 << 20),
        "RSS grew from {rss_before} to {rss}"
    );
}

#[test]
fn random_member_counts_out_of_range_answer_redis_errors() {
    let _measuring = measuring();
    let server = TestServer::start();
    let mut c = server.conn();
    let _: i64 = run(&mut c, &["HSET", "h", "f", "v"]);
    let _: i64 = run(&mut c, &["SADD", "s", "a"]);
    assert!(err(&mut c, &["SRANDMEMBER", "s", "-9223372036854775808"])
        .contains("value is out of range"));
    assert_eq!(
        err(
            &mut c,
            &["HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"]
        ),
        "ERR value is out of range"
    );
}

#[test]
fn a_client_that_does_not_read_its_pipelined_replies_waits_for_them() {
    let _measuring = measuring();
    let server = TestServer::start();
    let mut c = server.conn();
    let value = "x".repeat(100 * 1024);
    let _: () = run(&mut c, &["SET", "big", &value]);
    let rss_before = server.rss_bytes();
    // 4000 GETs of 100 KB: 400 MB of replies that the client leaves unread for a while.
    const GETS: usize = 4000;
    let mut pipeliner = server.raw();
    let request = "GET big\r\n".repeat(GETS);
    pipeliner.write_all(request.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert_ping_within(&mut c, Duration::from_millis(100));
    let rss = server.rss_bytes();
    assert!(
        rss < rss_before + (64 << 20),
        "unread replies grew RSS from {rss_before} to {rss}"
    );
    let list: String = run(&mut c, &["CLIENT", "LIST"]);
    let omem: Vec<u64> = list
        .lines()
        .filter_map(|l| l.split(' ').find_map(|f| f.strip_prefix("omem=")))
        .map(|v| v.parse().unwrap())
        .collect();
    assert!(
        omem.iter().any(|&m| m > 0) && omem.iter().all(|&m| m < 8 << 20),
        "omem of the clients: {omem:?}"
    );
    // Every reply still arrives, whole and in order, once the client reads.
    let one = format!("${}\r\n{value}\r\n", value.len());
    let mut all = Vec::with_capacity(one.len() * GETS);
    pipeliner
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buf = vec![0u8; 1 << 20];
    while all.len() < one.len() * GETS {
        let n = pipeliner.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed after {} bytes", all.len());
        all.extend_from_slice(&buf[..n]);
    }
    assert_eq!(all.len(), one.len() * GETS);
    assert!(all.chunks(one.len()).all(|c| c == one.as_bytes()));
}

#[test]
fn client_list_reports_query_and_output_buffers() {
    let _measuring = measuring();
    let server = TestServer::start();
    let mut c = server.conn();
    let mut partial = server.raw();
    // Half of a 200 KB bulk string: it waits in the query buffer.
    partial
        .write_all(format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n", 200 * 1024).as_bytes())
        .unwrap();
    partial.write_all(&vec![b'x'; 100 * 1024]).unwrap();
    wait_until("the query buffer shows in CLIENT LIST", || {
        let list: String = run(&mut c, &["CLIENT", "LIST"]);
        list.lines().any(|l| {
            let field = |name: &str| -> u64 {
                l.split(' ')
                    .find_map(|f| f.strip_prefix(name))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            };
            field("qbuf=") >= 100 * 1024 && field("tot-mem=") >= field("qbuf=")
        })
    });
}

#[test]
fn client_output_buffer_limit_takes_redis_syntax() {
    let _measuring = measuring();
    let server = TestServer::start();
    let mut c = server.conn();
    let get = |c: &mut redis::Connection| -> String {
        let v: Vec<String> = run(c, &["CONFIG", "GET", "client-output-buffer-limit"]);
        v[1].clone()
    };
    assert_eq!(
        get(&mut c),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    );
    let _: () = run(
        &mut c,
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 1mb 512kb 10",
        ],
    );
    assert_eq!(
        get(&mut c),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 524288 10"
    );
    assert_eq!(
        err(
            &mut c,
            &["CONFIG", "SET", "client-output-buffer-limit", "pubsub 1 2"]
        ),
        "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - \
         Wrong number of arguments in buffer limit configuration."
    );
    assert_eq!(
        err(
            &mut c,
            &[
                "CONFIG",
                "SET",
                "client-output-buffer-limit",
                "master 1 2 3"
            ]
        ),
        "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - \
         Invalid client class specified in buffer limit configuration."
    );
    assert_eq!(
        get(&mut c),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 524288 10"
    );
}

/// A server with `limits` as its client-output-buffer-limit, a client, and a raw connection
/// subscribed to `news` that reads nothing more.
fn server_with_subscriber(limits: &str) -> (TestServer, redis::Connection, TcpStream) {
    let server = TestServer::start_with(&["--client-output-buffer-limit", limits]);
    let c = server.conn();
    let mut subscriber = server.raw();
    subscriber.write_all(b"SUBSCRIBE news\r\n").unwrap();
    common::read_until(&mut subscriber, b":1\r\n");
    (server, c, subscriber)
}

#[test]
fn a_subscriber_that_stops_reading_is_disconnected_past_the_pubsub_limit() {
    let _measuring = measuring();
    let (server, mut c, mut subscriber) = server_with_subscriber("pubsub 1mb 0 0");
    let message = "m".repeat(64 * 1024);
    // 16 MB published, none of it read.
    for _ in 0..256 {
        let _: i64 = run(&mut c, &["PUBLISH", "news", &message]);
    }
    assert!(closed_by_peer(&mut subscriber, Duration::from_secs(10)));
    assert_eq!(
        info_field(&mut c, "stats", "client_output_buffer_limit_disconnections"),
        "1"
    );
    wait_until("the disconnection is logged", || {
        server
            .log_text()
            .contains("closed for overcoming its output buffer limit")
    });
    let subscribers: Vec<redis::Value> = run(&mut c, &["PUBSUB", "NUMSUB", "news"]);
    assert_eq!(subscribers[1], redis::Value::Int(0));
}

#[test]
fn a_subscriber_above_the_soft_limit_for_its_seconds_is_disconnected() {
    let _measuring = measuring();
    let (_server, mut c, mut subscriber) = server_with_subscriber("pubsub 0 512kb 1");
    let message = "m".repeat(64 * 1024);
    let start = Instant::now();
    let mut closed = false;
    while start.elapsed() < Duration::from_secs(10) {
        let _: i64 = run(&mut c, &["PUBLISH", "news", &message]);
        if info_field(&mut c, "stats", "client_output_buffer_limit_disconnections") == "1" {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(closed, "the subscriber was never disconnected");
    assert!(start.elapsed() >= Duration::from_secs(1));
    assert!(closed_by_peer(&mut subscriber, Duration::from_secs(5)));
}

#[test]
fn a_monitor_that_stops_reading_is_disconnected_past_the_normal_limit() {
    let _measuring = measuring();
    let server = TestServer::start();
    let mut c = server.conn();
    let _: () = run(
        &mut c,
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 2mb 0 0",
        ],
    );
    let mut monitor = server.raw();
    monitor.write_all(b"MONITOR\r\n").unwrap();
    common::read_until(&mut monitor, b"+OK\r\n");
    let value = "v".repeat(64 * 1024);
    for i in 0..256 {
        let _: () = run(&mut c, &["SET", &format!("k{i}"), &value]);
    }
    assert!(closed_by_peer(&mut monitor, Duration::from_secs(10)));
    assert_eq!(
        info_field(&mut c, "stats", "client_output_buffer_limit_disconnections"),
        "1"
    );
}

#[test]
fn maxclients_is_lowered_to_fit_the_open_files_limit() {
    let _measuring = measuring();
    let server = TestServer::start_with_open_files_limit(1024, &["--maxclients", "10000"]);
    let mut c = server.conn();
    let v: Vec<String> = run(&mut c, &["CONFIG", "GET", "maxclients"]);
    let maxclients: u64 = v[1].parse().unwrap();
    assert!(
        (1..1024).contains(&maxclients),
        "maxclients {maxclients} does not fit 1024 descriptors"
    );
    assert!(server.log_text().contains("maxclients has been reduced to"));
    // As many clients as allowed connect and are served.
    let mut held = Vec::new();
    for _ in 1..maxclients {
        held.push(server.raw());
    }
    let mut last = held.pop().unwrap();
    common::expect_raw(&mut last, b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn accept_backs_off_while_out_of_file_descriptors() {
    let _measuring = measuring();
    let server = TestServer::start_with_open_files_limit(512, &[]);
    let mut c = server.conn();
    // Past what the descriptors allow: accepts fail with EMFILE.
    let _: () = run(&mut c, &["CONFIG", "SET", "maxclients", "100000"]);
    // Until the server's descriptors and then the listen queue are full.
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], server.port));
    let mut held = Vec::new();
    for _ in 0..1000 {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(s) => held.push(s),
            Err(_) => break,
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        server.log_text().contains("Too many open files"),
        "{} connections did not exhaust the server's descriptors: {}",
        held.len(),
        server.log_text()
    );
    let cpu_before = server.cpu_time();
    std::thread::sleep(Duration::from_secs(2));
    let spent = server.cpu_time() - cpu_before;
    assert!(
        spent < Duration::from_millis(500),
        "the server spent {spent:?} of CPU in 2 s while out of descriptors"
    );
    assert_ping_within(&mut c, Duration::from_millis(100));
    // Once clients leave, new ones are served.
    drop(held);
    wait_until("a new client is served", || {
        let mut s = server.raw();
        s.write_all(b"PING\r\n").is_ok() && {
            let mut reply = [0u8; 7];
            s.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
        }
    });
}

/// An INFO memory field as a number.
fn memory_field(c: &mut redis::Connection, name: &str) -> u64 {
    info_field(c, "memory", name).parse().unwrap()
}

#[test]
fn used_memory_counts_query_buffers_at_their_real_size() {
    let _measuring = measuring();
    let server = TestServer::start();
    let mut c = server.conn();
    let idle = memory_field(&mut c, "used_memory");
    // 40 clients each leave a 5 MB bulk string one byte short of complete: 200 MB of query
    // buffers.
    let mut clients = Vec::new();
    for i in 0..40 {
        let mut s = server.raw();
        let len = 5 << 20;
        s.write_all(format!("*3\r\n$3\r\nSET\r\n$2\r\nk{}\r\n${len}\r\n", i % 10).as_bytes())
            .unwrap();
        s.write_all(&vec![b'x'; len - 1]).unwrap();
        clients.push(s);
    }
    wait_until("the query buffers are counted", || {
        memory_field(&mut c, "used_memory") > idle + (190 << 20)
    });
    let used = memory_field(&mut c, "used_memory") as f64;
    let rss = memory_field(&mut c, "used_memory_rss") as f64;
    let rocksdb = memory_field(&mut c, "used_memory_rocksdb") as f64;
    let outside_rocksdb = rss - rocksdb;
    assert!(
        (used - outside_rocksdb).abs() <= 0.2 * outside_rocksdb,
        "used_memory {used} vs RSS {rss} minus RocksDB's {rocksdb}"
    );
    drop(clients);
    wait_until("the buffers are released", || {
        memory_field(&mut c, "used_memory") < idle + (20 << 20)
    });
}

#[test]
fn a_big_value_is_written_in_pieces_and_the_next_replies_follow_it() {
    let _measuring = measuring();
    let server = TestServer::start();
    let mut c = server.conn();
    let value: String = (0..3_000_000)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let _: () = run(&mut c, &["SET", "big", &value]);
    let mut raw = server.raw();
    raw.write_all(b"GET big\r\nGETRANGE big 1 -1\r\nPING\r\n")
        .unwrap();
    let expected = format!(
        "${}\r\n{value}\r\n${}\r\n{}\r\n+PONG\r\n",
        value.len(),
        value.len() - 1,
        &value[1..]
    );
    let got = common::read_at_least(&mut raw, expected.len());
    assert_eq!(got.len(), expected.len());
    assert!(
        got == expected.as_bytes(),
        "the replies differ from the values"
    );
}

// ---------------------------------------------------------------------------------------------
// Replies sized by the key or the database (LRANGE, ZRANGE, SMEMBERS, KEYS, SORT)

/// Bytes of each element of the big keys below: 24,000 of them make a reply of about 96 MB.
const BIG_ELEMENT: usize = 4000;
const BIG_COUNT: usize = 24_000;

/// The `i`-th element of a big key: its number, zero-padded so byte order is number order,
/// then filler.
fn big_element(i: usize) -> String {
    format!("{i:06}:{}", "x".repeat(BIG_ELEMENT - 7))
}

/// Appends a RESP bulk string.
fn push_bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

/// The RESP array of `items` as bulk strings.
fn bulk_array<T: AsRef<[u8]>>(items: impl ExactSizeIterator<Item = T>) -> Vec<u8> {
    let mut out = format!("*{}\r\n", items.len()).into_bytes();
    for item in items {
        push_bulk(&mut out, item.as_ref());
    }
    out
}

/// Runs `commands`, pipelined 50 at a time.
fn pipelined(c: &mut redis::Connection, commands: impl IntoIterator<Item = redis::Cmd>) {
    let mut pipe = redis::pipe();
    let mut queued = 0;
    for command in commands {
        pipe.add_command(command).ignore();
        queued += 1;
        if queued == 50 {
            let () = pipe.query(c).expect("pipeline");
            pipe = redis::pipe();
            queued = 0;
        }
    }
    let () = pipe.query(c).expect("pipeline");
}

/// One command per 100 elements of `0..n`: `name key` then what `args` gives for each.
fn batches<'a>(
    name: &'a str,
    key: &'a str,
    n: usize,
    args: impl Fn(usize) -> Vec<String> + 'a,
) -> impl Iterator<Item = redis::Cmd> + 'a {
    (0..n).step_by(100).map(move |from| {
        let mut command = redis::cmd(name);
        if !key.is_empty() {
            command.arg(key);
        }
        for i in from..(from + 100).min(n) {
            command.arg(args(i));
        }
        command
    })
}

/// Sends `request` on a raw connection and reads only about 1 MB of its reply of
/// `expected.len()` bytes. While the client does not read, PING on `c` answers within 100 ms
/// and the server holds far less than the reply in memory. Then `meanwhile` changes the data
/// the reply comes from, and the rest is read: the whole reply must be `expected`, what the
/// command answered when it ran.
fn assert_streamed(
    server: &TestServer,
    c: &mut redis::Connection,
    request: &str,
    expected: &[u8],
    meanwhile: impl FnOnce(&mut redis::Connection),
) {
    let rss_before = server.rss_bytes();
    let mut raw = server.raw();
    raw.write_all(request.as_bytes()).unwrap();
    let mut got = common::read_at_least(&mut raw, 1 << 20);
    assert!(got.len() >= 1 << 20, "{request}: only {} bytes", got.len());
    assert_ping_within(c, Duration::from_millis(100));
    std::thread::sleep(Duration::from_millis(300));
    assert_ping_within(c, Duration::from_millis(100));
    let rss = server.rss_bytes();
    assert!(
        rss < rss_before + expected.len() as u64 / 3,
        "{request}: RSS grew from {rss_before} to {rss} for a reply of {} bytes",
        expected.len()
    );
    meanwhile(c);
    got.extend(common::read_at_least(&mut raw, expected.len() - got.len()));
    assert_eq!(got.len(), expected.len(), "{request}: reply length");
    let first_difference = got.iter().zip(expected).position(|(a, b)| a != b);
    assert!(
        first_difference.is_none(),
        "{request}: the reply differs from byte {first_difference:?}"
    );
}

#[test]
fn lrange_of_a_huge_list_is_streamed_from_the_list_as_it_was() {
    let _measuring = measuring();
    let server = TestServer::start();
    let mut c = server.conn();
    pipelined(
        &mut c,
        batches("RPUSH", "l", BIG_COUNT, |i| vec![big_element(i)]),
    );
    let expected = bulk_array((0..BIG_COUNT).map(big_element));
    assert_streamed(&server, &mut c, "SORT l BY nosort\r\n", &expected, |c| {
        let _: i64 = run(c, &["RPUSH", "l", "new"]);
    });
    let _: String = run(&mut c, &["RPOP", "l"]);
    assert_streamed(&server, &mut c, "LRANGE l 0 -1\r\n", &expected, |c| {
        let _: i64 = run(c, &["LPUSH", "l", "new"]);
        let _: String = run(c, &["LSET", "l", "5000", "changed"]);
        let _: i64 = run(c, &["DEL", "l"]);
    });
}

#[test]
fn zrange_of_a_huge_sorted_set_is_streamed_from_the_set_as_it_was() {
    let _measuring = measuring();
    let server = TestServer::start();
    let mut c = server.conn();
    let scored = |i: usize| vec![i.to_string(), big_element(i)];
    pipelined(&mut c, batches("ZADD", "z", BIG_COUNT, scored));
    let expected = bulk_array((0..BIG_COUNT).map(big_element));
    assert_streamed(&server, &mut c, "ZRANGE z 0 -1\r\n", &expected, |c| {
        let _: i64 = run(c, &["ZADD", "z", "-1", "first"]);
        let _: i64 = run(c, &["ZREM", "z", &big_element(100)]);
    });
    // Now without member 100 and with "first" at rank 0.
    let mut members: Vec<String> = (0..BIG_COUNT - 11)
        .rev()
        .filter(|&i| i != 100)
        .map(big_element)
        .collect();
    members.push("first".into());
    let expected = bulk_array(members.iter());
    assert_streamed(&server, &mut c, "ZREVRANGE z 11 -1\r\n", &expected, |c| {
        let _: i64 = run(c, &["DEL", "z"]);
    });
}

#[test]
fn smembers_of_a_huge_set_is_streamed_from_the_set_as_it_was() {
    let _measuring = measuring();
    let server = TestServer::start();
    let mut c = server.conn();
    pipelined(
        &mut c,
        batches("SADD", "s", BIG_COUNT, |i| vec![big_element(i)]),
    );
    let expected = bulk_array((0..BIG_COUNT).map(big_element));
    assert_streamed(&server, &mut c, "SMEMBERS s\r\n", &expected, |c| {
        let _: i64 = run(c, &["SREM", "s", &big_element(0), &big_element(20_000)]);
        let _: i64 = run(c, &["SADD", "s", "0"]);
    });
}

#[test]
fn keys_matching_most_of_a_big_database_are_streamed_from_the_database_as_it_was() {
    let _measuring = measuring();
    let server = TestServer::start();
    let mut c = server.conn();
    pipelined(
        &mut c,
        batches("MSET", "", BIG_COUNT, |i| vec![big_element(i), "v".into()]),
    );
    let _: () = run(&mut c, &["SET", "other", "v"]);
    // KEYS has no order: the reply is read whole, then its keys compared as a set.
    let mut raw = server.raw();
    let header = format!("*{BIG_COUNT}\r\n");
    let entry = format!("${BIG_ELEMENT}\r\n").into_bytes();
    let expected_len = header.len() + BIG_COUNT * (entry.len() + BIG_ELEMENT + 2);
    let rss_before = server.rss_bytes();
    raw.write_all(b"KEYS 0*\r\n").unwrap();
    let mut got = common::read_at_least(&mut raw, 1 << 20);
    assert_ping_within(&mut c, Duration::from_millis(100));
    std::thread::sleep(Duration::from_millis(300));
    assert_ping_within(&mut c, Duration::from_millis(100));
    let rss = server.rss_bytes();
    assert!(
        rss < rss_before + expected_len as u64 / 3,
        "RSS grew from {rss_before} to {rss} for a reply of {expected_len} bytes"
    );
    let _: i64 = run(&mut c, &["DEL", &big_element(7), &big_element(23_999)]);
    let _: () = run(&mut c, &["SET", "0new", "v"]);
    got.extend(common::read_at_least(&mut raw, expected_len - got.len()));
    assert_eq!(got.len(), expected_len);
    assert!(got.starts_with(header.as_bytes()));
    let mut keys: Vec<&[u8]> = got[header.len()..]
        .chunks(entry.len() + BIG_ELEMENT + 2)
        .map(|chunk| {
            assert!(chunk.starts_with(&entry) && chunk.ends_with(b"\r\n"));
            &chunk[entry.len()..entry.len() + BIG_ELEMENT]
        })
        .collect();
    keys.sort();
    let wanted: Vec<String> = (0..BIG_COUNT).map(big_element).collect();
    assert!(keys.iter().zip(&wanted).all(|(k, w)| *k == w.as_bytes()));
}

#[test]
fn sort_with_get_of_a_big_list_streams_the_looked_up_values() {
    let _measuring = measuring();
    let server = TestServer::start();
    let mut c = server.conn();
    // Elements in descending order, so SORT has work to do; each points at a big string.
    pipelined(
        &mut c,
        batches("RPUSH", "l", BIG_COUNT, |i| {
            vec![(BIG_COUNT - 1 - i).to_string()]
        }),
    );
    pipelined(
        &mut c,
        batches("MSET", "", BIG_COUNT, |i| {
            vec![format!("v{i}"), big_element(i)]
        }),
    );
    let mut expected = format!("*{}\r\n", 2 * BIG_COUNT).into_bytes();
    for i in 0..BIG_COUNT {
        push_bulk(&mut expected, big_element(i).as_bytes());
        push_bulk(&mut expected, i.to_string().as_bytes());
    }
    assert_streamed(&server, &mut c, "SORT l GET v* GET #\r\n", &expected, |c| {
        let _: () = run(c, &["SET", "v3000", "changed"]);
        let _: i64 = run(c, &["DEL", "v20000"]);
    });
}

#[test]
fn streamed_ranges_answer_what_direct_ones_do_in_both_protocols() {
    let _measuring = measuring();
    let server = TestServer::start();
    let mut c = server.conn();
    const N: usize = 6000;
    let member = |i: usize| format!("m{i:05}");
    let score = |i: usize| (i / 2) as f64 + 0.5;
    pipelined(
        &mut c,
        batches("ZADD", "z", N, |i| vec![score(i).to_string(), member(i)]),
    );
    pipelined(&mut c, batches("SADD", "s", N, |i| vec![member(i)]));
    pipelined(&mut c, batches("RPUSH", "l", N, |i| vec![member(i)]));
    pipelined(
        &mut c,
        batches("RPUSH", "n", N, |i| vec![(N - i).to_string()]),
    );
    for proto in [2, 3] {
        let mut raw = server.raw();
        let hello = format!("HELLO {proto}\r\n");
        raw.write_all(hello.as_bytes()).unwrap();
        let hello = common::read_until(&mut raw, b"modules\r\n*0\r\n");
        assert!(hello.ends_with(b"modules\r\n*0\r\n"), "HELLO {proto}");
        let double = |d: f64| {
            if proto == 3 {
                format!(",{d}\r\n").into_bytes()
            } else {
                let mut out = Vec::new();
                push_bulk(&mut out, d.to_string().as_bytes());
                out
            }
        };
        let scored = |range: &mut dyn Iterator<Item = usize>, withscores: bool| {
            let items: Vec<usize> = range.collect();
            let per = if withscores && proto == 2 { 2 } else { 1 };
            let mut out = format!("*{}\r\n", items.len() * per).into_bytes();
            for i in items {
                if withscores && proto == 3 {
                    out.extend_from_slice(b"*2\r\n");
                }
                push_bulk(&mut out, member(i).as_bytes());
                if withscores {
                    out.extend(double(score(i)));
                }
            }
            out
        };
        let mut set = bulk_array((0..N).map(member));
        if proto == 3 {
            set[0] = b'~';
        }
        let mut numbers: Vec<usize> = (1..=N).collect();
        numbers.sort_by_key(|n| n.to_string());
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("LRANGE l 1 -2", bulk_array((1..N - 1).map(member))),
            ("SMEMBERS s", set),
            ("ZRANGE z 0 -1 WITHSCORES", scored(&mut (0..N), true)),
            (
                "ZRANGE z 0 -1 REV WITHSCORES",
                scored(&mut (0..N).rev(), true),
            ),
            (
                "ZRANGEBYSCORE z 10 +inf WITHSCORES LIMIT 3 5000",
                scored(&mut (23..5023), true),
            ),
            (
                "ZREVRANGEBYSCORE z (2900 -inf",
                scored(&mut (0..5800).rev(), false),
            ),
            ("ZRANGE z 10 (2999 BYSCORE", scored(&mut (20..5998), false)),
            ("ZRANGE z 0 -1 BYSCORE", scored(&mut (0..0), false)),
            ("ZRANGEBYLEX z - + LIMIT 1 -1", scored(&mut (1..N), false)),
            (
                "ZRANGE z [m05999 (m00001 BYLEX REV",
                scored(&mut (2..N).rev(), false),
            ),
            ("SORT n", bulk_array((1..N + 1).map(|n| n.to_string()))),
            (
                "SORT n DESC LIMIT 1 5500",
                bulk_array((1..N).rev().take(5500).map(|n| n.to_string())),
            ),
            (
                "SORT n ALPHA",
                bulk_array(numbers.iter().map(|n| n.to_string())),
            ),
            ("SORT l BY nosort", bulk_array((0..N).map(member))),
            (
                "SORT z BY nosort LIMIT 1 5000",
                bulk_array((1..5001).map(member)),
            ),
            ("SORT_RO l BY nosort DESC LIMIT 10 -1 GET # GET missing*", {
                let mut out = format!("*{}\r\n", 2 * (N - 10)).into_bytes();
                for i in (0..N - 10).rev() {
                    push_bulk(&mut out, member(i).as_bytes());
                    out.extend_from_slice(if proto == 3 { b"_\r\n" } else { b"$-1\r\n" });
                }
                out
            }),
        ];
        for (request, expected) in cases {
            raw.write_all(format!("{request}\r\n").as_bytes()).unwrap();
            let got = common::read_at_least(&mut raw, expected.len());
            assert!(
                got == expected,
                "RESP{proto} {request}: got {} bytes starting {:?}, want {} starting {:?}",
                got.len(),
                String::from_utf8_lossy(&got[..got.len().min(80)]),
                expected.len(),
                String::from_utf8_lossy(&expected[..expected.len().min(80)])
            );
        }
    }
}

#[test]
fn lrange_of_a_few_huge_elements_is_streamed_too() {
    let _measuring = measuring();
    let server = TestServer::start();
    let mut c = server.conn();
    let element = |i: usize| format!("{i:02}").repeat(1_250_000);
    pipelined(&mut c, batches("RPUSH", "l", 40, |i| vec![element(i)]));
    let expected = bulk_array((0..40).map(element));
    assert_streamed(&server, &mut c, "LRANGE l 0 -1\r\n", &expected, |c| {
        let _: i64 = run(c, &["DEL", "l"]);
    });
}
