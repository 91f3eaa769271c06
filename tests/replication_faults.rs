//! Replication facing broken peers, black box: slaves that stop reading or acknowledging
//! (`repl-timeout`), slaves that reconnect after a full sync, and masters that send junk.
//! The broken peer is played by the test over a raw socket, speaking the replication
//! protocol with the crate's own message types.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use pika::replication::fullsync;
use pika::replication::wire::{self, pb, MasterMsg, SlaveMsg};

use common::{info_field, wait_until, TestServer};

fn info_u64(s: &TestServer, section: &str, field: &str) -> u64 {
    info_field(&mut s.conn(), section, field).parse().unwrap()
}

fn connected_slaves(s: &TestServer) -> u64 {
    info_u64(s, "replication", "connected_slaves")
}

/// Writes `n` keys `{prefix}:{i}` of `size` bytes each that do not compress.
fn populate(s: &TestServer, prefix: &str, n: usize, size: usize) {
    let mut c = s.conn();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..n {
        let value: Vec<u8> = (0..size)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let _: () = redis::cmd("SET")
            .arg(format!("{prefix}:{i}"))
            .arg(value)
            .query(&mut c)
            .unwrap();
    }
}

/// A slave played by the test: the handshake, then a sync request for `next_seq` of `replid`
/// (empty: a full sync). Returns the connection and the master's first message.
fn fake_slave(
    master: &TestServer,
    replid: &str,
    next_seq: u64,
) -> (BufReader<TcpStream>, MasterMsg) {
    let mut stream = master.raw();
    stream
        .write_all(b"*2\r\n$14\r\nPIKA-REPLICATE\r\n$1\r\n1\r\n")
        .unwrap();
    let mut input = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    input.read_line(&mut line).unwrap();
    assert_eq!(line, "+OK\r\n");
    wire::send_slave(
        &mut stream,
        SlaveMsg::Sync(pb::SyncRequest {
            replid: replid.to_string(),
            next_seq,
            listening_port: 1,
            ..Default::default()
        }),
    )
    .unwrap();
    let first = wire::recv_master(&mut input).unwrap();
    (input, first)
}

fn snapshot_dirs(s: &TestServer) -> Vec<String> {
    std::fs::read_dir(s.dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.contains(".snapshot-"))
        .collect()
}

#[test]
fn a_slave_that_stops_acknowledging_is_dropped_after_repl_timeout() {
    let master = TestServer::start_with(&["--repl-timeout", "1"]);
    populate(&master, "k", 10, 10);
    let mut c = master.conn();
    let replid = info_field(&mut c, "replication", "master_replid");
    let offset: u64 = info_field(&mut c, "replication", "binlog_offset")
        .parse()
        .unwrap();
    let (_link, first) = fake_slave(&master, &replid, offset + 1);
    assert!(matches!(first, MasterMsg::Incremental(_)), "{first:?}");
    assert_eq!(connected_slaves(&master), 1);
    let silent_since = Instant::now();
    wait_until("the silent slave to be dropped", || {
        connected_slaves(&master) == 0
    });
    let took = silent_since.elapsed();
    assert!(took < Duration::from_secs(6), "dropped after {took:?}");
}

#[test]
fn a_slave_that_stops_reading_its_full_sync_is_dropped_and_its_snapshot_removed() {
    let master = TestServer::start_with(&["--repl-timeout", "2"]);
    // Far more than the socket buffers hold.
    populate(&master, "big", 40, 1 << 20);
    let (_link, first) = fake_slave(&master, "", 0);
    assert!(matches!(first, MasterMsg::FullStart(_)), "{first:?}");
    assert_eq!(connected_slaves(&master), 1);
    wait_until("the stuck slave to be dropped", || {
        connected_slaves(&master) == 0
    });
    wait_until("its snapshot to be removed", || {
        snapshot_dirs(&master).is_empty()
    });
}

#[test]
fn the_binlog_a_full_sync_resumes_from_outlives_the_slave_reconnecting() {
    let master = TestServer::start();
    populate(&master, "a", 100, 10);
    let (mut link, first) = fake_slave(&master, "", 0);
    let MasterMsg::FullStart(start) = first else {
        panic!("expected a full sync, got {first:?}");
    };
    loop {
        match wire::recv_master(&mut link).unwrap() {
            MasterMsg::Chunk(_) => {}
            MasterMsg::FullEnd(_) => break,
            other => panic!("{other:?}"),
        }
    }
    drop(link);
    wait_until("the master to see the slave gone", || {
        connected_slaves(&master) == 0
    });
    // The batches after the snapshot move to an archived binlog file, which PURGELOGSTO
    // would delete if nothing held it: the slave, installing the snapshot, needs them.
    populate(&master, "b", 100, 10);
    let mut c = master.conn();
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    populate(&master, "c", 100, 10);
    let current = info_field(&mut c, "replication", "binlog_current_file");
    let purged: redis::RedisResult<()> = redis::cmd("PURGELOGSTO").arg(&current).query(&mut c);
    assert!(
        purged.is_err(),
        "PURGELOGSTO {current} deleted what the slave needs"
    );
    let (_link, first) = fake_slave(&master, &start.replid, start.seq + 1);
    assert!(matches!(first, MasterMsg::Incremental(_)), "{first:?}");
}

/// What the fake master sends on its n-th connection, after reading the handshake.
fn junk(n: usize, stream: &mut TcpStream) {
    let mut frame_reader = BufReader::new(stream.try_clone().unwrap());
    let mut sync_request = |stream: &mut TcpStream| {
        stream.write_all(b"+OK\r\n").unwrap();
        let _ = wire::recv_slave(&mut frame_reader);
    };
    let start = |files: Vec<(&str, u64)>| {
        let files: Vec<(String, u64)> =
            files.into_iter().map(|(n, s)| (n.to_string(), s)).collect();
        fullsync::full_sync_start(&"f".repeat(40), 5, &files)
    };
    let chunk = |name: &str, data: &[u8]| {
        MasterMsg::Chunk(pb::FileChunk {
            name: name.into(),
            offset: 0,
            data: data.to_vec(),
        })
    };
    let end = MasterMsg::FullEnd(pb::FullSyncEnd {
        replid: "f".repeat(40),
        seq: 5,
    });
    let _ = match n % 4 {
        // A bulk reply announcing a size no memory holds.
        0 => stream.write_all(b"$99999999999999999\r\n"),
        // A snapshot cut short: one of its two files, half of it.
        1 => {
            sync_request(stream);
            [
                start(vec![("CURRENT", 16), ("MANIFEST-000001", 100)]),
                chunk("CURRENT", b"MANIFEST"),
                end,
            ]
            .into_iter()
            .try_for_each(|m| wire::send_master(stream, m))
        }
        // A file name that points out of the staging directory.
        2 => {
            sync_request(stream);
            [start(vec![("CURRENT", 1)]), chunk("../CURRENT", b"x")]
                .into_iter()
                .try_for_each(|m| wire::send_master(stream, m))
        }
        // A frame header announcing a gigabyte, then garbage and the end of the stream.
        _ => {
            sync_request(stream);
            stream
                .write_all(&[0x3f, 0xff, 0xff, 0xff])
                .and_then(|_| stream.write_all(b"garbage"))
        }
    };
}

#[test]
fn a_master_sending_junk_never_brings_the_slave_down() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let attempts = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&attempts);
    thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            // The handshake: `*2 $14 PIKA-REPLICATE $n <port>`, five lines.
            let mut seen = Vec::new();
            let mut buf = [0u8; 256];
            while seen.windows(2).filter(|w| w == b"\r\n").count() < 5 {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => seen.extend_from_slice(&buf[..k]),
                }
            }
            junk(n, &mut stream);
        }
    });
    let slave = TestServer::start();
    let mut c = slave.conn();
    let _: () = redis::cmd("SET")
        .arg("mine")
        .arg("1")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SLAVEOF")
        .arg("127.0.0.1")
        .arg(port)
        .query(&mut c)
        .unwrap();
    wait_until("the slave to have met every kind of junk twice", || {
        attempts.load(Ordering::SeqCst) >= 9
    });
    let mut c = slave.conn();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
    // Nothing was installed: the slave still has its own data.
    let mine: Option<String> = redis::cmd("GET").arg("mine").query(&mut c).unwrap();
    assert_eq!(mine.as_deref(), Some("1"));
    let error = info_field(&mut c, "replication", "master_link_last_error");
    assert!(!error.is_empty());
    wait_until("the reasons in the slave's log", || {
        let log = slave.log_text();
        log.contains("too large") && log.contains("announced")
    });
}
