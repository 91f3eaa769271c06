//! Hostile clients cannot take the server down or slow other clients: thousands of malformed
//! frames over many connections at once (negative and 2^63 lengths, counts past every limit,
//! truncated bulks, binary junk, megabyte inline lines) while a bystander connection checks
//! that PING keeps answering within a second and that a key keeps its value.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// Attacking threads, each with its own connections.
const ATTACKERS: usize = 8;
/// Frames each attacker sends (on a fresh connection every few frames).
const FRAMES_PER_ATTACKER: usize = 1000;
/// Longest a bystander's PING may take while the attack runs.
const PING_BUDGET: Duration = Duration::from_secs(1);

use common::SeededRng as Rng;

fn multibulk(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Requests that are harmless to the canary, to be sent whole or damaged.
fn valid_frames() -> Vec<Vec<u8>> {
    vec![
        multibulk(&[b"PING"]),
        multibulk(&[b"SET", b"fuzz:k", b"v"]),
        multibulk(&[b"GET", b"fuzz:k"]),
        multibulk(&[b"ECHO", b"hello"]),
        multibulk(&[b"RPUSH", b"fuzz:l", b"a", b"b"]),
        multibulk(&[b"HSET", b"fuzz:h", b"f", b"v"]),
        b"PING\r\n".to_vec(),
        b"SET fuzz:inline \"a\\x00b\"\r\n".to_vec(),
    ]
}

/// One malformed frame, chosen and shaped by `rng`.
fn malformed_frame(rng: &mut Rng, valid: &[Vec<u8>]) -> Vec<u8> {
    match rng.below(14) {
        0 => b"*-5\r\n".to_vec(),
        1 => b"*1\r\n$9223372036854775808\r\n".to_vec(),
        2 => b"$9223372036854775808\r\n".to_vec(),
        3 => b"*9223372036854775807\r\n".to_vec(),
        4 => b"*-9223372036854775808\r\n$-1\r\n".to_vec(),
        // A count the server accepts, then far fewer arguments before the connection ends.
        5 => b"*1048576\r\n$4\r\nPING\r\n$3\r\nab".to_vec(),
        // A bulk the server accepts (512 MB), of which only a little ever arrives.
        6 => b"*2\r\n$3\r\nSET\r\n$536870912\r\nxxxxxxxx".to_vec(),
        7 => b"*2\r\n$-5\r\nPING\r\n".to_vec(),
        8 => b"*2\r\n$3\r\nGET\r\n$100\r\nabc".to_vec(),
        // A megabyte inline line without its end.
        9 => vec![b'a'; 1 << 20],
        10 => {
            let n = 1 + rng.below(512);
            rng.junk(n)
        }
        11 => b"\"unbalanced 'quotes\r\n*2\r\n$1\r\n".to_vec(),
        _ => {
            // A valid request with a few bytes damaged, cut, or duplicated.
            let mut f = valid[rng.below(valid.len())].clone();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(f.len());
                match rng.below(3) {
                    0 => f[at] = rng.next() as u8,
                    1 => f.truncate(at),
                    _ => f.insert(at, rng.next() as u8),
                }
                if f.is_empty() {
                    f.push(b'*');
                }
            }
            f
        }
    }
}

/// Sends frames over short-lived connections, reading whatever comes back without waiting
/// for it. Errors are expected: the server closes a connection after a protocol error.
fn attack(port: u16, seed: u64, stop: &AtomicBool) {
    let mut rng = Rng(seed);
    let valid = valid_frames();
    let mut sent = 0;
    let mut refused = 0;
    while sent < FRAMES_PER_ATTACKER && !stop.load(Ordering::Relaxed) {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
            // A dead server refuses every connection: give up, the checks below will tell.
            refused += 1;
            if refused > 100 {
                return;
            }
            continue;
        };
        let _ = s.set_nodelay(true);
        let _ = s.set_read_timeout(Some(Duration::from_millis(20)));
        let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
        for _ in 0..1 + rng.below(4) {
            let frame = if rng.below(5) == 0 {
                valid[rng.below(valid.len())].clone()
            } else {
                malformed_frame(&mut rng, &valid)
            };
            sent += 1;
            if s.write_all(&frame).is_err() {
                break;
            }
        }
        let mut sink = [0u8; 4096];
        let _ = s.read(&mut sink);
    }
}

#[test]
fn malformed_frames_from_many_clients_never_stall_or_break_the_server() {
    // DEBUG stays disabled: junk must not be able to run it.
    let mut server = TestServer::start_plain(&[]);
    let port = server.port;
    let mut c = server.conn();
    let _: () = cmd(&mut c, &["SET", "canary", "still-here"]).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let worst_ping = Arc::new(Mutex::new(Duration::ZERO));
    let bystander = {
        let stop = stop.clone();
        let worst_ping = worst_ping.clone();
        let url = server.url();
        thread::spawn(move || -> Result<usize, String> {
            let client = redis::Client::open(url).map_err(|e| e.to_string())?;
            let mut c = client.get_connection().map_err(|e| e.to_string())?;
            c.set_read_timeout(Some(Duration::from_secs(5)))
                .map_err(|e| e.to_string())?;
            let mut checks = 0;
            while !stop.load(Ordering::Relaxed) {
                let start = Instant::now();
                let pong: String = redis::cmd("PING")
                    .query(&mut c)
                    .map_err(|e| format!("PING failed during the attack: {e}"))?;
                let took = start.elapsed();
                if pong != "PONG" || took > PING_BUDGET {
                    return Err(format!("PING answered {pong:?} after {took:?}"));
                }
                let mut worst = worst_ping.lock().unwrap();
                *worst = (*worst).max(took);
                drop(worst);
                let canary: Option<String> = redis::cmd("GET")
                    .arg("canary")
                    .query(&mut c)
                    .map_err(|e| format!("GET failed during the attack: {e}"))?;
                if canary.as_deref() != Some("still-here") {
                    return Err(format!("the canary changed to {canary:?}"));
                }
                checks += 1;
                thread::sleep(Duration::from_millis(20));
            }
            Ok(checks)
        })
    };

    let started = Instant::now();
    let attackers: Vec<_> = (0..ATTACKERS)
        .map(|i| {
            let stop = stop.clone();
            thread::spawn(move || attack(port, 0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1), &stop))
        })
        .collect();
    for a in attackers {
        a.join().expect("attacker thread");
    }
    stop.store(true, Ordering::Relaxed);
    let checks = bystander.join().expect("bystander thread");
    let checks = checks.unwrap_or_else(|e| panic!("{e}"));
    assert!(checks > 0, "the bystander never got to check");
    eprintln!(
        "{} frames in {:?}; {checks} bystander checks, slowest PING {:?}",
        ATTACKERS * FRAMES_PER_ATTACKER,
        started.elapsed(),
        worst_ping.lock().unwrap()
    );

    // Afterwards: still running, still serving, data intact.
    assert!(server.is_running(), "the server died");
    let mut c = server.conn();
    // The attack did reach the server (a frame per connection at most four).
    let accepted: usize = info_field(&mut c, "stats", "total_connections_received")
        .parse()
        .unwrap();
    assert!(
        accepted >= ATTACKERS * FRAMES_PER_ATTACKER / 4,
        "only {accepted} connections reached the server"
    );
    assert_eq!(get(&mut c, "canary").as_deref(), Some("still-here"));
    let _: () = cmd(&mut c, &["SET", "after", "1"]).unwrap();
    assert_eq!(get(&mut c, "after").as_deref(), Some("1"));
    let mut raw = server.raw();
    expect_raw(&mut raw, b"PING\r\n", b"+PONG\r\n");
}
