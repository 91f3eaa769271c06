//! Shutdown as Redis 7 runs it: SIGTERM/SIGINT and SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE]
//! [ABORT], the wait for lagging slaves (`shutdown-timeout`), the held writes, the second
//! SIGINT, and no acknowledged write lost when the server is stopped under load.
//!
//! A slave is made to lag by stopping its process (SIGSTOP): it neither applies nor
//! acknowledges until SIGCONT.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use redis::Value;

const EXIT_WAIT: Duration = Duration::from_secs(30);

/// A master and a slave in sync.
fn master_and_slave(master_args: &[&str]) -> (TestServer, TestServer) {
    let master = TestServer::start_with(master_args);
    let slave = TestServer::slave_of(&master, &[]);
    master.q::<()>(&["SET", "before", "1"]);
    wait_until("the slave to acknowledge the first write", || {
        master.q::<i64>(&["WAIT", "1", "100"]) == 1
    });
    (master, slave)
}

/// Sends SHUTDOWN (with `args`) on a connection of its own; the reply (an error, or the
/// connection closing) arrives on the returned thread.
fn shutdown_in_background(
    server: &TestServer,
    args: &[&str],
) -> std::thread::JoinHandle<redis::RedisResult<Value>> {
    let mut c = server.conn();
    let mut all = vec!["SHUTDOWN".to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    std::thread::spawn(move || {
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        cmd::<Value>(&mut c, &refs)
    })
}

#[test]
fn sigterm_under_write_load_exits_0_and_loses_no_acknowledged_write() {
    let mut s = TestServer::start();
    let stop = Arc::new(AtomicBool::new(false));
    let so_far = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let mut c = s.conn();
            let (stop, so_far) = (Arc::clone(&stop), Arc::clone(&so_far));
            std::thread::spawn(move || {
                let mut acked = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let key = format!("w{t}:{acked}");
                    match cmd::<Value>(&mut c, &["SET", &key, &format!("v{acked}")]) {
                        Ok(_) => acked += 1,
                        Err(_) => break,
                    }
                    so_far.fetch_add(1, Ordering::Relaxed);
                }
                acked
            })
        })
        .collect();
    // The signal lands in the middle of the load, whatever the machine's speed.
    wait_until("the writers to get going", || {
        so_far.load(Ordering::Relaxed) >= 5000
    });
    let before_signal = so_far.load(Ordering::Relaxed);
    s.signal("TERM");
    let status = s
        .exit_status(EXIT_WAIT)
        .expect("pika did not exit after SIGTERM");
    stop.store(true, Ordering::Relaxed);
    let acked: Vec<u64> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    assert_eq!(status.code(), Some(0), "{status:?}");
    let log = s.log_text();
    assert!(
        log.contains("Received SIGTERM scheduling shutdown..."),
        "{log}"
    );

    s.restart();
    let mut c = s.conn();
    let total: u64 = acked.iter().sum();
    for (t, &n) in acked.iter().enumerate() {
        for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
            let keys: Vec<String> = chunk.iter().map(|i| format!("w{t}:{i}")).collect();
            let mut args = vec!["MGET"];
            args.extend(keys.iter().map(String::as_str));
            let values: Vec<Option<String>> = cmd(&mut c, &args).unwrap();
            for (i, v) in chunk.iter().zip(values) {
                assert_eq!(v, Some(format!("v{i}")), "acknowledged w{t}:{i} lost");
            }
        }
    }
    println!(
        "SIGTERM under load: {total} writes acknowledged by 4 clients ({before_signal} before the signal), all {total} present after restart"
    );
}

#[test]
fn shutdown_save_now_and_force_exit_with_the_data() {
    for args in [
        &["SAVE"][..],
        &["NOW"],
        &["FORCE"],
        &["NOSAVE", "NOW", "FORCE"],
    ] {
        let mut s = TestServer::start();
        s.q::<()>(&["SET", "k", "v"]);
        let mut full = vec!["SHUTDOWN"];
        full.extend_from_slice(args);
        // Success has no reply: the connection closes.
        let r = cmd::<Value>(&mut s.conn(), &full);
        assert!(r.is_err(), "{args:?}: {r:?}");
        let status = s.exit_status(EXIT_WAIT).expect("no exit");
        assert_eq!(status.code(), Some(0), "{args:?}");
        s.restart();
        assert_eq!(s.q::<String>(&["GET", "k"]), "v", "{args:?}");
    }
}

#[test]
fn shutdown_argument_errors_are_redis_texts() {
    let s = TestServer::start();
    let mut c = s.conn();
    for bad in [
        &["SHUTDOWN", "ABORT", "NOW"][..],
        &["SHUTDOWN", "NOSAVE", "ABORT"],
        &["SHUTDOWN", "SAVE", "NOSAVE"],
        &["SHUTDOWN", "LATER"],
    ] {
        assert_eq!(err(&mut c, bad), "ERR syntax error", "{bad:?}");
    }
    assert_eq!(
        err(&mut c, &["SHUTDOWN", "ABORT"]),
        "ERR No shutdown in progress."
    );
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "shutdown-on-sigterm", "save nosave"]),
        "ERR CONFIG SET failed (possibly related to argument 'shutdown-on-sigterm') - shutdown options SAVE and NOSAVE can't be used simultaneously"
    );
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "shutdown-on-sigint", "later"]),
        "ERR CONFIG SET failed (possibly related to argument 'shutdown-on-sigint') - argument(s) must be one of the following: default, save, nosave, now, force"
    );
    let _: () = cmd(
        &mut c,
        &["CONFIG", "SET", "shutdown-on-sigterm", "NOW nosave"],
    )
    .unwrap();
    let got: Vec<String> = cmd(&mut c, &["CONFIG", "GET", "shutdown-on-sigterm"]).unwrap();
    assert_eq!(got, ["shutdown-on-sigterm", "nosave now"]);
    let got: Vec<String> = cmd(&mut c, &["CONFIG", "GET", "shutdown-timeout"]).unwrap();
    assert_eq!(got, ["shutdown-timeout", "10"]);
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "shutdown-timeout", "-1"]),
        "ERR CONFIG SET failed (possibly related to argument 'shutdown-timeout') - argument must be between 0 and 2147483647 inclusive"
    );
}

#[test]
fn shutdown_waits_for_a_lagging_slave_until_it_catches_up() {
    let (mut master, slave) = master_and_slave(&[]);
    slave.signal("STOP");
    master.q::<()>(&["SET", "late", "write"]);
    let started = Instant::now();
    let shutdown = shutdown_in_background(&master, &[]);
    std::thread::sleep(Duration::from_millis(700));
    assert!(master.is_running(), "master did not wait for its slave");
    // Reads go on while writes are held.
    assert_eq!(master.q::<String>(&["GET", "late"]), "write");
    slave.signal("CONT");
    let status = master.exit_status(EXIT_WAIT).expect("master did not exit");
    assert_eq!(status.code(), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "waited {:?}: the slave's catching up did not end the wait",
        started.elapsed()
    );
    assert!(shutdown.join().unwrap().is_err(), "SHUTDOWN got a reply");
    assert_eq!(slave.q::<String>(&["GET", "late"]), "write");
    let log = master.log_text();
    assert!(
        log.contains("Waiting for replicas before shutting down."),
        "{log}"
    );
    assert!(log.contains("1 of 1 replicas are in sync"), "{log}");
}

#[test]
fn shutdown_gives_up_on_a_stuck_slave_after_shutdown_timeout() {
    let (mut master, slave) = master_and_slave(&["--shutdown-timeout", "2"]);
    slave.signal("STOP");
    master.q::<()>(&["SET", "late", "write"]);
    let started = Instant::now();
    let shutdown = shutdown_in_background(&master, &[]);
    let status = master.exit_status(EXIT_WAIT).expect("master did not exit");
    let waited = started.elapsed();
    slave.signal("CONT");
    assert_eq!(status.code(), Some(0));
    assert!(
        waited >= Duration::from_millis(1900) && waited < Duration::from_secs(10),
        "waited {waited:?} for a 2 s shutdown-timeout"
    );
    assert!(shutdown.join().unwrap().is_err());
    let log = master.log_text();
    assert!(log.contains("Lagging replica"), "{log}");
    assert!(log.contains("0 of 1 replicas are in sync"), "{log}");
    // Nothing acknowledged is lost on the master.
    master.restart();
    assert_eq!(master.q::<String>(&["GET", "late"]), "write");
}

#[test]
fn shutdown_now_and_timeout_0_do_not_wait() {
    for (master_args, shutdown_args) in [
        (&[][..], &["NOW"][..]),
        (&["--shutdown-timeout", "0"][..], &[][..]),
    ] {
        let (mut master, slave) = master_and_slave(master_args);
        slave.signal("STOP");
        master.q::<()>(&["SET", "late", "write"]);
        let started = Instant::now();
        let _ = shutdown_in_background(&master, shutdown_args).join();
        let status = master.exit_status(EXIT_WAIT).expect("master did not exit");
        assert_eq!(status.code(), Some(0));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{master_args:?} {shutdown_args:?} waited {:?}",
            started.elapsed()
        );
        slave.signal("CONT");
    }
}

#[test]
fn shutdown_abort_cancels_the_wait_and_releases_held_writes() {
    let (mut master, slave) = master_and_slave(&["--shutdown-timeout", "60"]);
    slave.signal("STOP");
    master.q::<()>(&["SET", "late", "write"]);
    let shutdown = shutdown_in_background(&master, &[]);
    wait_until("the shutdown to wait for the slave", || {
        master.log_text().contains("Waiting for replicas")
    });
    // A write while the shutdown waits is held, not refused.
    let mut writer = master.conn();
    let held = std::thread::spawn(move || cmd::<String>(&mut writer, &["SET", "held", "1"]));
    std::thread::sleep(Duration::from_millis(300));
    assert!(!held.is_finished(), "a write ran while the shutdown waited");
    assert_eq!(master.q::<Option<String>>(&["GET", "held"]), None);

    assert_eq!(master.q::<String>(&["SHUTDOWN", "ABORT"]), "OK");
    let answer = shutdown.join().unwrap();
    match answer {
        Err(e) => assert_eq!(error_text(&e), "ERR Errors trying to SHUTDOWN. Check logs."),
        Ok(v) => panic!("SHUTDOWN answered {v:?}"),
    }
    assert_eq!(held.join().unwrap().unwrap(), "OK");
    assert_eq!(master.q::<String>(&["GET", "held"]), "1");
    assert_eq!(
        err(&mut master.conn(), &["SHUTDOWN", "ABORT"]),
        "ERR No shutdown in progress."
    );
    assert!(master.is_running());
    assert!(master.log_text().contains("Shutdown manually aborted."));
    slave.signal("CONT");
    // The next shutdown finds the slave caught up and goes through.
    let _ = shutdown_in_background(&master, &[]).join();
    let status = master.exit_status(EXIT_WAIT).expect("master did not exit");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn second_sigint_exits_at_once() {
    let (mut master, slave) = master_and_slave(&["--shutdown-timeout", "60"]);
    slave.signal("STOP");
    master.q::<()>(&["SET", "late", "write"]);
    master.signal("INT");
    wait_until("the shutdown to wait for the slave", || {
        master.log_text().contains("Waiting for replicas")
    });
    assert!(master.is_running());
    let started = Instant::now();
    master.signal("INT");
    let status = master.exit_status(EXIT_WAIT).expect("no exit");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        status.code(),
        Some(1),
        "not a clean stop: exit code 1 as Redis"
    );
    assert!(master.log_text().contains("You insist... exiting now."));
    slave.signal("CONT");
}

#[test]
fn shutdown_on_sigterm_now_skips_the_wait() {
    let (mut master, slave) = master_and_slave(&["--shutdown-on-sigterm", "now"]);
    slave.signal("STOP");
    master.q::<()>(&["SET", "late", "write"]);
    let started = Instant::now();
    master.signal("TERM");
    let status = master.exit_status(EXIT_WAIT).expect("no exit");
    assert_eq!(status.code(), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    slave.signal("CONT");
}

#[test]
fn commands_sent_before_sigterm_run_and_are_answered() {
    use std::io::{Read, Write};
    let mut s = TestServer::start();
    let mut raw = s.raw();
    let mut pipeline = b"DEBUG SLEEP 2\r\n".to_vec();
    for i in 0..200 {
        pipeline.extend_from_slice(format!("SET p:{i} v{i}\r\n").as_bytes());
    }
    raw.write_all(&pipeline).unwrap();
    // The server stops while the first command runs and the others wait behind it.
    std::thread::sleep(Duration::from_millis(300));
    s.signal("TERM");
    // New connections are refused at once, while the old one is still being served.
    let refused_from = Instant::now();
    wait_until("the listener to close", || {
        std::net::TcpStream::connect(("127.0.0.1", s.port)).is_err()
    });
    assert!(refused_from.elapsed() < Duration::from_millis(1500));
    let mut replies = Vec::new();
    raw.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = raw.read_to_end(&mut replies);
    assert_eq!(
        replies,
        b"+OK\r\n".repeat(201),
        "{}",
        String::from_utf8_lossy(&replies)
    );
    let status = s.exit_status(EXIT_WAIT).expect("no exit");
    assert_eq!(status.code(), Some(0));
    s.restart();
    assert_eq!(s.q::<String>(&["GET", "p:199"]), "v199");
}

#[test]
fn shutdown_waits_for_a_lagging_redis_replica() {
    let mut pika = TestServer::start_with(&["--shutdown-timeout", "30"]);
    let port = pika.port.to_string();
    let Some(redis) = RedisServer::start_with(&["--replicaof", "127.0.0.1", &port]) else {
        eprintln!("skipped: redis-server is not installed");
        return;
    };
    let mut r = redis.conn();
    pika.q::<()>(&["SET", "first", "1"]);
    wait_until("the redis replica to get the first write", || {
        get(&mut r, "first").as_deref() == Some("1")
    });
    let redis_signal = |name: &str| {
        let _ = std::process::Command::new("kill")
            .args(["-s", name, &redis.pid().to_string()])
            .status();
    };
    redis_signal("STOP");
    pika.q::<()>(&["SET", "late", "write"]);
    let started = Instant::now();
    let shutdown = shutdown_in_background(&pika, &[]);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(pika.is_running(), "pika did not wait for its Redis replica");
    redis_signal("CONT");
    let status = pika.exit_status(EXIT_WAIT).expect("pika did not exit");
    assert_eq!(status.code(), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "waited {:?}: the replica's acknowledgement did not end the wait",
        started.elapsed()
    );
    assert!(shutdown.join().unwrap().is_err());
    assert_eq!(get(&mut r, "late").as_deref(), Some("write"));
}

#[test]
fn shutdown_nosave_stops_a_server_stuck_in_a_script() {
    let mut s =
        TestServer::start_with(&["--thread-pool-size", "2", "--busy-reply-threshold", "200"]);
    s.q::<()>(&["SET", "before", "1"]);
    let mut c = s.conn();
    let script = std::thread::spawn(move || {
        cmd::<Value>(
            &mut c,
            &[
                "EVAL",
                "redis.call('SET','in-script','1') while true do end",
                "0",
            ],
        )
    });
    wait_until(
        "the script to be busy",
        || matches!(s.try_q(&["PING"]), Err(e) if error_text(&e).starts_with("BUSY")),
    );
    assert_eq!(
        err(&mut s.conn(), &["SHUTDOWN"]),
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    );
    let _ = cmd::<Value>(&mut s.conn(), &["SHUTDOWN", "NOSAVE"]);
    let status = s
        .exit_status(Duration::from_secs(10))
        .expect("stuck in the script");
    assert_eq!(status.code(), Some(0));
    assert!(script.join().unwrap().is_err());
    s.restart();
    assert_eq!(s.q::<String>(&["GET", "before"]), "1");
}
