//! Group commit, black box: a worker lands a round's writes as one RocksDB write, yet every
//! command sees the writes before it, no update is lost between workers, and blocked clients
//! are woken by writes still in a round.

mod common;

use std::time::Duration;

use common::TestServer;

/// A pipeline whose commands read what the ones before them wrote, in one round.
#[test]
fn a_pipeline_reads_its_own_writes() {
    let server = TestServer::start();
    let mut conn = server.conn();
    let mut pipe = redis::pipe();
    pipe.cmd("SET").arg("s").arg("1").ignore();
    pipe.cmd("INCR").arg("s");
    pipe.cmd("GET").arg("s");
    pipe.cmd("HSET")
        .arg("h")
        .arg("f1")
        .arg("a")
        .arg("f2")
        .arg("b");
    pipe.cmd("HSET").arg("h").arg("f1").arg("c");
    pipe.cmd("HGETALL").arg("h");
    pipe.cmd("HLEN").arg("h");
    pipe.cmd("RPUSH").arg("l").arg("x").arg("y");
    pipe.cmd("LPOP").arg("l");
    pipe.cmd("LRANGE").arg("l").arg(0).arg(-1);
    pipe.cmd("SADD").arg("set").arg("m");
    pipe.cmd("SADD").arg("set").arg("m");
    pipe.cmd("ZADD").arg("z").arg(1).arg("m");
    pipe.cmd("ZINCRBY").arg("z").arg(2).arg("m");
    pipe.cmd("DBSIZE");
    pipe.cmd("DEL").arg("s");
    pipe.cmd("EXISTS").arg("s");
    pipe.cmd("DBSIZE");
    pipe.cmd("SCAN").arg(0).arg("COUNT").arg(100);
    let got: Vec<redis::Value> = pipe.query(&mut conn).unwrap();
    let int = |i: usize| -> i64 { redis::from_redis_value(got[i].clone()).unwrap() };
    let text = |i: usize| -> String { redis::from_redis_value(got[i].clone()).unwrap() };
    let list = |i: usize| -> Vec<String> { redis::from_redis_value(got[i].clone()).unwrap() };
    assert_eq!((int(0), text(1), int(2), int(3)), (2, "2".into(), 2, 0));
    assert_eq!(list(4), ["f1", "c", "f2", "b"]);
    assert_eq!((int(5), int(6), text(7)), (2, 2, "x".into()));
    assert_eq!(list(8), ["y"]);
    assert_eq!((int(9), int(10), int(11), text(12)), (1, 0, 1, "3".into()));
    assert_eq!((int(13), int(14), int(15), int(16)), (5, 1, 0, 4));
    let (_, mut keys): (String, Vec<String>) = redis::from_redis_value(got[17].clone()).unwrap();
    keys.sort();
    assert_eq!(keys, ["h", "l", "set", "z"]);
}

/// Two workers running rounds side by side on the same keys lose no update: a round keeps
/// the locks of the keys it wrote until its write has landed.
#[test]
fn workers_side_by_side_lose_no_update() {
    let server = TestServer::start_with(&["--thread-pool-size", "2"]);
    const CLIENTS: usize = 8;
    const ROUNDS: usize = 40;
    const DEPTH: usize = 25;
    std::thread::scope(|s| {
        for c in 0..CLIENTS {
            let server = &server;
            s.spawn(move || {
                let mut conn = server.conn();
                for r in 0..ROUNDS {
                    let mut pipe = redis::pipe();
                    for i in 0..DEPTH {
                        pipe.cmd("INCR").arg("counter").ignore();
                        pipe.cmd("HINCRBY").arg("h").arg(i % 5).arg(1).ignore();
                        pipe.cmd("SADD")
                            .arg("members")
                            .arg(format!("{c}-{r}-{i}"))
                            .ignore();
                        pipe.cmd("RPUSH").arg("list").arg(c).ignore();
                    }
                    pipe.query::<()>(&mut conn).unwrap();
                }
            });
        }
    });
    let total = (CLIENTS * ROUNDS * DEPTH) as i64;
    let counter: i64 = server.q(&["GET", "counter"]);
    assert_eq!(counter, total);
    let fields: Vec<i64> = server.q(&["HVALS", "h"]);
    assert_eq!(fields.iter().sum::<i64>(), total);
    let members: i64 = server.q(&["SCARD", "members"]);
    assert_eq!(members, total);
    let len: i64 = server.q(&["LLEN", "list"]);
    assert_eq!(len, total);
    let dbsize: i64 = server.q(&["DBSIZE"]);
    assert_eq!(dbsize, 4);
}

/// A client blocked on a list is served by the write of another client's pipeline, and the
/// pipeline's later commands run after it was served, as in Redis.
#[test]
fn a_write_in_a_round_wakes_a_blocked_client_first() {
    for workers in ["1", "2"] {
        let server = TestServer::start_with(&["--thread-pool-size", workers]);
        let blocked = std::thread::spawn({
            let mut conn = server.conn();
            move || -> Option<(String, String)> {
                redis::cmd("BLPOP")
                    .arg("q")
                    .arg(10)
                    .query(&mut conn)
                    .unwrap()
            }
        });
        common::wait_for("the client to block", Duration::from_secs(5), || {
            let info: String = server.q(&["INFO", "clients"]);
            if info.contains("blocked_clients:1") {
                Ok(())
            } else {
                Err(info)
            }
        });
        let mut conn = server.conn();
        let (pushed, left): (i64, Option<String>) = redis::pipe()
            .cmd("RPUSH")
            .arg("q")
            .arg("job")
            .cmd("LPOP")
            .arg("q")
            .query(&mut conn)
            .unwrap();
        assert_eq!(pushed, 1);
        assert_eq!(
            left, None,
            "{workers} workers: the blocked client comes first"
        );
        assert_eq!(
            blocked.join().unwrap(),
            Some(("q".to_string(), "job".to_string()))
        );
    }
}

/// A slave applies the commands of a master's round one by one: the binlog keeps each
/// command's batch, though a round lands as one write.
#[test]
fn a_slave_replays_a_round_of_commands() {
    let master = TestServer::start();
    let slave = TestServer::slave_of(&master, &[]);
    let mut conn = master.conn();
    let mut pipe = redis::pipe();
    for i in 0..300 {
        pipe.cmd("SET").arg(format!("k{i}")).arg(i).ignore();
        pipe.cmd("LPUSH").arg("l").arg(i).ignore();
    }
    pipe.cmd("DEL").arg("k0").ignore();
    pipe.query::<()>(&mut conn).unwrap();
    common::wait_for("the slave to catch up", Duration::from_secs(20), || {
        let len: i64 = slave.q(&["LLEN", "l"]);
        let dbsize: i64 = slave.q(&["DBSIZE"]);
        if len == 300 && dbsize == 300 {
            Ok(())
        } else {
            Err(format!("llen {len}, dbsize {dbsize}"))
        }
    });
    let on_master: Vec<String> = master.q(&["LRANGE", "l", "0", "-1"]);
    let on_slave: Vec<String> = slave.q(&["LRANGE", "l", "0", "-1"]);
    assert_eq!(on_master, on_slave);
    let v: Option<String> = slave.q(&["GET", "k299"]);
    assert_eq!(v.as_deref(), Some("299"));
    let gone: i64 = slave.q(&["EXISTS", "k0"]);
    assert_eq!(gone, 0);
}
