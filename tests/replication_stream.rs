//! The incremental replication stream, black box: batches of any size in bounded pieces,
//! compression (`replication-compression`) with the bytes in INFO replication, and a slave
//! that cannot go on from what it received falling back to a full sync once. Peers that must
//! misbehave or be inspected are played by the test over a raw socket.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use pika::replication::wire::{self, pb, MasterMsg, SlaveMsg, PIECE};
use prost::Message;

use common::{info_field, wait_until, TestServer};

fn info_str(s: &TestServer, section: &str, field: &str) -> String {
    let text: String = s.q(&["INFO", section]);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
        .trim()
        .to_string()
}

fn info_u64(s: &TestServer, section: &str, field: &str) -> u64 {
    info_str(s, section, field).parse().unwrap()
}

/// `n` bytes that do not compress.
fn noise(n: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Waits until `slave`'s link is up and it holds the same data as `master`.
fn wait_in_sync(master: &TestServer, slave: &TestServer) {
    wait_until("the slave to catch up", || {
        let up = info_str(slave, "replication", "master_link_status") == "up";
        let digest = |s: &TestServer| -> String { s.q(&["DEBUG", "DIGEST"]) };
        up && info_u64(slave, "replication", "master_repl_offset")
            == info_u64(master, "replication", "binlog_offset")
            && digest(master) == digest(slave)
    });
}

#[test]
fn a_big_batch_reaches_the_slave_in_bounded_pieces() {
    let master = TestServer::start();
    let mut c = master.conn();
    let replid = info_field(&mut c, "replication", "master_replid");
    let next_seq = info_u64(&master, "replication", "binlog_offset") + 1;
    let mut link = master.raw();
    link.write_all(b"*2\r\n$14\r\nPIKA-REPLICATE\r\n$1\r\n1\r\n")
        .unwrap();
    let mut input = BufReader::new(link.try_clone().unwrap());
    let mut line = String::new();
    input.read_line(&mut line).unwrap();
    assert_eq!(line, "+OK\r\n");
    wire::send_slave(
        &mut link,
        SlaveMsg::Sync(pb::SyncRequest {
            replid,
            next_seq,
            listening_port: 1,
            chunked_batches: true,
            snappy: false,
        }),
    )
    .unwrap();
    let value = noise(3 * PIECE + 100);
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(&value)
        .query(&mut c)
        .unwrap();
    // Read frame by frame, checking each one's size before decoding it.
    let mut frame = || -> MasterMsg {
        let mut len = [0u8; 4];
        input.read_exact(&mut len).unwrap();
        let len = u32::from_be_bytes(len) as usize;
        assert!(len <= PIECE + 1024, "a frame of {len} bytes");
        let mut body = vec![0u8; len];
        input.read_exact(&mut body).unwrap();
        pb::MasterMessage::decode(body.as_slice())
            .unwrap()
            .msg
            .unwrap()
    };
    assert!(matches!(frame(), MasterMsg::Incremental(_)));
    let mut batch = Vec::new();
    let mut pieces = 0;
    loop {
        match frame() {
            MasterMsg::Batch(b) => {
                batch.extend_from_slice(&b.data);
                pieces += 1;
                if !b.more {
                    break;
                }
            }
            MasterMsg::Heartbeat(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(pieces >= 4, "{pieces} pieces");
    assert!(batch.len() > value.len());
    assert!(batch.windows(64).any(|w| w == &value[..64]));
}

/// A master and its slave with `replication-compression` set to `compression` on both, after
/// compressible keys and a value bigger than a piece went through.
fn replicate_with(compression: &str) -> (TestServer, TestServer) {
    let args = ["--replication-compression", compression];
    let master = TestServer::start_with(&args);
    let addr = format!("127.0.0.1:{}", master.port);
    let mut slave_args = vec!["--slaveof", addr.as_str()];
    slave_args.extend_from_slice(&args);
    let slave = TestServer::start_with(&slave_args);
    wait_in_sync(&master, &slave);
    let mut c = master.conn();
    for i in 0..2000 {
        let _: () = redis::cmd("SET")
            .arg(format!("text:{i}"))
            .arg("the quick brown fox jumps over the lazy dog ".repeat(20))
            .query(&mut c)
            .unwrap();
    }
    let big = noise(2 * PIECE + 7);
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(&big)
        .query(&mut c)
        .unwrap();
    wait_in_sync(&master, &slave);
    let got: Vec<u8> = slave.q(&["GET", "big"]);
    assert!(got == big, "the big value arrived changed");
    (master, slave)
}

#[test]
fn compressed_replication_sends_fewer_bytes_and_info_shows_them() {
    let (master, slave) = replicate_with("yes");
    let wire = info_u64(&master, "replication", "repl_wire_bytes_sent");
    let payload = info_u64(&master, "replication", "repl_payload_bytes_sent");
    assert!(payload > 3_000_000, "payload {payload}");
    assert!(wire * 10 < payload * 7, "wire {wire} for payload {payload}");
    let received = info_u64(&slave, "replication", "repl_wire_bytes_received");
    let decoded = info_u64(&slave, "replication", "repl_payload_bytes_received");
    assert!(received * 10 < decoded * 7, "{received} for {decoded}");
}

#[test]
fn uncompressed_replication_counts_every_byte() {
    let (master, slave) = replicate_with("no");
    let wire = info_u64(&master, "replication", "repl_wire_bytes_sent");
    let payload = info_u64(&master, "replication", "repl_payload_bytes_sent");
    assert!(payload > 3_000_000, "payload {payload}");
    assert!(wire >= payload, "wire {wire} for payload {payload}");
    let received = info_u64(&slave, "replication", "repl_wire_bytes_received");
    let decoded = info_u64(&slave, "replication", "repl_payload_bytes_received");
    assert!(received >= decoded, "{received} for {decoded}");
}

#[test]
fn a_slave_that_cannot_apply_what_it_received_asks_for_a_full_sync_once() {
    let master = TestServer::start();
    let slave = TestServer::start_with(&["--slaveof", &format!("127.0.0.1:{}", master.port)]);
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut master.conn())
        .unwrap();
    wait_in_sync(&master, &slave);
    let master_id = info_str(&master, "replication", "master_replid");

    // A master that answers the first sync request with a batch nobody can apply.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(Mutex::new(Vec::<pb::SyncRequest>::new()));
    let seen = Arc::clone(&requests);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut input = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            for _ in 0..5 {
                line.clear();
                let _ = input.read_line(&mut line);
            }
            let _ = stream.write_all(b"+OK\r\n");
            let Ok(SlaveMsg::Sync(request)) = wire::recv_slave(&mut input) else {
                continue;
            };
            let first = {
                let mut seen = seen.lock().unwrap();
                seen.push(request.clone());
                seen.len() == 1
            };
            if first {
                let _ = wire::send_master(
                    &mut stream,
                    MasterMsg::Incremental(pb::IncrementalStart {
                        replid: request.replid.clone(),
                        from_seq: request.next_seq,
                        snappy: false,
                    }),
                );
                let _ = wire::send_master(
                    &mut stream,
                    MasterMsg::Batch(pb::Batch {
                        seq: request.next_seq,
                        count: 1,
                        data: vec![0xff; 20],
                        more: false,
                    }),
                );
                thread::sleep(Duration::from_millis(500));
            }
        }
    });
    let _: () = slave.q(&["SLAVEOF", "127.0.0.1", &port.to_string()]);
    wait_until("three sync requests", || {
        requests.lock().unwrap().len() >= 3
    });
    let requests = requests.lock().unwrap().clone();
    assert_eq!(requests[0].replid, master_id);
    assert_eq!(
        requests[1].replid, "",
        "the request after the failure asks for a full sync"
    );
    assert_eq!(requests[2].replid, master_id, "only once");
    wait_until("the reason in the slave's log", || {
        slave
            .log_text()
            .contains("cannot continue from the master's stream")
    });
}
