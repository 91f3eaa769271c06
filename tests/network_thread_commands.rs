//! Cheap commands run on the network thread that parsed them (`network-thread-commands`),
//! black box: they are answered while a worker is busy with a slow command, they lose no update
//! against the same keys written on a worker, their replies keep the order of a pipeline that
//! mixes them with commands that go to a worker, and they wake blocked clients.

mod common;

use std::time::{Duration, Instant};

use common::TestServer;

/// A GET is answered at once while the only worker sleeps in DEBUG SLEEP; with the setting
/// off it waits for the worker.
#[test]
fn a_cheap_command_does_not_wait_for_a_busy_worker() {
    let server = TestServer::start_with(&["--thread-pool-size", "1"]);
    let mut admin = server.conn();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut admin)
        .unwrap();
    let waited = |server: &TestServer| -> Duration {
        // Connected first: a connection's set-up commands go to a worker.
        let mut c = server.conn();
        let mut sleeping = server.conn();
        std::thread::scope(|s| {
            let sleeper = s.spawn(move || {
                let _: () = redis::cmd("DEBUG")
                    .arg("SLEEP")
                    .arg("1")
                    .query(&mut sleeping)
                    .unwrap();
            });
            std::thread::sleep(Duration::from_millis(200));
            let start = Instant::now();
            let got: String = redis::cmd("GET").arg("k").query(&mut c).unwrap();
            let waited = start.elapsed();
            assert_eq!(got, "v");
            sleeper.join().unwrap();
            waited
        })
    };
    assert!(waited(&server) < Duration::from_millis(500));
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("network-thread-commands")
        .arg("no")
        .query(&mut admin)
        .unwrap();
    let slow = waited(&server);
    assert!(slow >= Duration::from_millis(500), "{slow:?}");
}

/// Clients incrementing the same keys, some with plain INCR and HINCRBY (run on the network
/// thread) and some inside MULTI/EXEC (run on a worker), lose no update.
#[test]
fn network_thread_and_workers_lose_no_update() {
    let server = TestServer::start_with(&["--thread-pool-size", "2"]);
    const CLIENTS: usize = 6;
    const ROUNDS: usize = 60;
    const DEPTH: usize = 10;
    std::thread::scope(|s| {
        for c in 0..CLIENTS {
            let server = &server;
            s.spawn(move || {
                let mut conn = server.conn();
                for _ in 0..ROUNDS {
                    let mut pipe = redis::pipe();
                    if c % 2 == 0 {
                        pipe.atomic();
                    }
                    for i in 0..DEPTH {
                        pipe.cmd("INCR").arg("counter").ignore();
                        pipe.cmd("HINCRBY").arg("h").arg(i % 3).arg(1).ignore();
                        pipe.cmd("RPUSH").arg("list").arg(c).ignore();
                    }
                    pipe.query::<()>(&mut conn).unwrap();
                }
            });
        }
    });
    let mut conn = server.conn();
    let total = (CLIENTS * ROUNDS * DEPTH) as i64;
    let counter: i64 = redis::cmd("GET").arg("counter").query(&mut conn).unwrap();
    let fields: Vec<i64> = redis::cmd("HVALS").arg("h").query(&mut conn).unwrap();
    let len: i64 = redis::cmd("LLEN").arg("list").query(&mut conn).unwrap();
    assert_eq!(counter, total);
    assert_eq!(fields.iter().sum::<i64>(), total);
    assert_eq!(len, total);
}

/// A pipeline mixing cheap commands with ones that go to a worker (LRANGE, KEYS, EXEC) is
/// answered in order, each command seeing the writes before it.
#[test]
fn a_mixed_pipeline_keeps_its_order() {
    let server = TestServer::start();
    let mut conn = server.conn();
    for round in 0..50i64 {
        let mut pipe = redis::pipe();
        pipe.cmd("RPUSH").arg("l").arg(round);
        pipe.cmd("LRANGE").arg("l").arg(-1).arg(-1);
        pipe.cmd("INCR").arg("n");
        pipe.cmd("KEYS").arg("n");
        pipe.cmd("MULTI").ignore();
        pipe.cmd("INCR").arg("n").ignore();
        pipe.cmd("EXEC");
        pipe.cmd("GET").arg("n");
        let (len, last, n1, keys, exec, n2): (i64, Vec<i64>, i64, Vec<String>, Vec<i64>, i64) =
            pipe.query(&mut conn).unwrap();
        assert_eq!(len, round + 1);
        assert_eq!(last, [round]);
        assert_eq!(n1, 2 * round + 1);
        assert_eq!(keys, ["n"]);
        assert_eq!(exec, [2 * round + 2]);
        assert_eq!(n2, 2 * round + 2);
    }
}

/// An LPUSH run on the network thread wakes a client blocked in BLPOP, and the pushed value
/// is gone from the list once the blocked client has it.
#[test]
fn a_push_on_the_network_thread_wakes_a_blocked_client() {
    let server = TestServer::start();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            let mut c = server.conn();
            let got: (String, String) = redis::cmd("BLPOP")
                .arg("queue")
                .arg(5)
                .query(&mut c)
                .unwrap();
            got
        });
        let mut c = server.conn();
        common::wait_for("the client to block", Duration::from_secs(5), || {
            let info: String = redis::cmd("INFO").arg("clients").query(&mut c).unwrap();
            if info.contains("blocked_clients:1") {
                Ok(())
            } else {
                Err(info)
            }
        });
        let _: i64 = redis::cmd("LPUSH")
            .arg("queue")
            .arg("job")
            .query(&mut c)
            .unwrap();
        assert_eq!(waiter.join().unwrap(), ("queue".into(), "job".into()));
        let len: i64 = redis::cmd("LLEN").arg("queue").query(&mut c).unwrap();
        assert_eq!(len, 0);
    });
}
