//! Cheap commands run on the network thread that parsed them (`network-thread-commands`),
//! black box: they never overtake an earlier command of another connection that waits for a
//! worker, they lose no update against the same keys written on a worker, their replies keep the order of a pipeline that
//! mixes them with commands that go to a worker, and they wake blocked clients.

mod common;

use std::time::{Duration, Instant};

use common::TestServer;

/// A cheap command does not overtake a command that arrived before it on another connection
/// and still waits for the worker: here a SETRANGE queued behind a DEBUG SLEEP, then a GET of
/// the same key, which must see it.
#[test]
fn a_cheap_command_waits_for_earlier_commands_of_other_connections() {
    let server = TestServer::start_with(&["--thread-pool-size", "1"]);
    // Connected first: a connection's set-up commands go to a worker.
    let mut sleeping = server.conn();
    let mut writer = server.conn();
    let mut reader = server.conn();
    std::thread::scope(|s| {
        let sleeper = s.spawn(move || {
            let _: () = redis::cmd("DEBUG")
                .arg("SLEEP")
                .arg("0.3")
                .query(&mut sleeping)
                .unwrap();
        });
        std::thread::sleep(Duration::from_millis(100));
        writer
            .send_packed_command(
                &redis::cmd("SETRANGE")
                    .arg("k")
                    .arg(0)
                    .arg("v")
                    .get_packed_command(),
            )
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let start = Instant::now();
        let got: Option<String> = redis::cmd("GET").arg("k").query(&mut reader).unwrap();
        assert_eq!(got.as_deref(), Some("v"));
        assert!(start.elapsed() >= Duration::from_millis(50));
        let len: i64 = redis::from_redis_value(writer.recv_response().unwrap()).unwrap();
        assert_eq!(len, 1);
        sleeper.join().unwrap();
    });
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
