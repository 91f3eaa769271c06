//! Live migration between pika and a real redis-server over Redis' own replication protocol:
//! pika `SLAVEOF` a redis-server (full sync from its RDB, then its command stream, `PSYNC`
//! continuing after a cut), and the cutover with `SLAVEOF NO ONE`.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{cmd, info_field, wait_for, RedisServer, TestServer};

/// Keys of every type in several encodings (small and large collections, integer sets,
/// binary values, deadlines, a stream with consumer groups and pending entries), in two
/// databases.
fn fill(conn: &mut redis::Connection) {
    let q = |c: &mut redis::Connection, args: &[&str]| {
        cmd::<redis::Value>(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    };
    q(conn, &["SET", "str", "hello"]);
    q(conn, &["SET", "int", "12345"]);
    q(conn, &["SET", "ttl", "soon", "PX", "600000"]);
    let mut binary = redis::cmd("SET");
    binary.arg("bin").arg(&[0u8, 1, 2, 255, 13, 10][..]);
    binary.query::<()>(conn).unwrap();
    q(conn, &["RPUSH", "list:small", "a", "b", "c"]);
    q(conn, &["SADD", "set:int", "1", "2", "3"]);
    q(conn, &["SADD", "set:small", "x", "y"]);
    q(
        conn,
        &["ZADD", "zset:small", "1", "a", "2.5", "b", "-inf", "c"],
    );
    q(conn, &["HSET", "hash:small", "f", "v", "g", "w"]);
    q(conn, &["EXPIRE", "hash:small", "1000"]);
    let mut pipe = redis::pipe();
    for i in 0..600 {
        let n = i.to_string();
        let long = format!("value-{i}-{}", "x".repeat(80));
        pipe.cmd("RPUSH").arg("list:big").arg(&long).ignore();
        pipe.cmd("SADD").arg("set:big").arg(&long).ignore();
        pipe.cmd("SADD").arg("set:bigint").arg(i).ignore();
        pipe.cmd("ZADD").arg("zset:big").arg(i).arg(&long).ignore();
        pipe.cmd("HSET").arg("hash:big").arg(&n).arg(&long).ignore();
        pipe.cmd("XADD")
            .arg("stream")
            .arg(format!("{}-1", i + 1))
            .arg("f")
            .arg(&n)
            .ignore();
        pipe.cmd("SET").arg(format!("k:{i}")).arg(&n).ignore();
    }
    pipe.query::<()>(conn).unwrap();
    q(conn, &["XGROUP", "CREATE", "stream", "g1", "0"]);
    q(conn, &["XGROUP", "CREATE", "stream", "g2", "$"]);
    q(
        conn,
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "alice",
            "COUNT",
            "5",
            "STREAMS",
            "stream",
            ">",
        ],
    );
    q(
        conn,
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "bob",
            "COUNT",
            "3",
            "STREAMS",
            "stream",
            ">",
        ],
    );
    q(conn, &["XACK", "stream", "g1", "2-1"]);
    q(conn, &["XADD", "empty-stream", "1-1", "a", "b"]);
    q(conn, &["XDEL", "empty-stream", "1-1"]);
    q(conn, &["SELECT", "3"]);
    q(conn, &["SET", "db3", "three"]);
    q(conn, &["HSET", "db3:hash", "a", "1"]);
    q(conn, &["SELECT", "0"]);
}

/// Writes of every kind to `redis` until `stop`: plain commands, transactions, deletions,
/// deadlines and another database. Counts the rounds done.
fn writer(port: u16, stop: Arc<AtomicBool>, rounds: Arc<AtomicU64>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut conn = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .unwrap()
            .get_connection()
            .unwrap();
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let n = i.to_string();
            let mut pipe = redis::pipe();
            pipe.cmd("SET")
                .arg(format!("w:{}", i % 300))
                .arg(&n)
                .ignore();
            pipe.cmd("INCR").arg("w:counter").ignore();
            pipe.cmd("RPUSH").arg("w:list").arg(&n).ignore();
            pipe.cmd("LTRIM").arg("w:list").arg(-50).arg(-1).ignore();
            pipe.cmd("HINCRBY")
                .arg("w:hash")
                .arg(i % 700)
                .arg(1)
                .ignore();
            pipe.cmd("ZINCRBY")
                .arg("zset:small")
                .arg(1)
                .arg("a")
                .ignore();
            pipe.cmd("SADD").arg("set:int").arg(i % 100).ignore();
            pipe.cmd("XADD")
                .arg("stream")
                .arg("*")
                .arg("w")
                .arg(&n)
                .ignore();
            pipe.cmd("DEL").arg(format!("k:{}", i % 600)).ignore();
            pipe.cmd("PEXPIRE")
                .arg(format!("w:{}", i % 300))
                .arg(500_000)
                .ignore();
            pipe.query::<()>(&mut conn).unwrap();
            let mut tx = redis::pipe();
            tx.atomic()
                .cmd("INCRBY")
                .arg("w:tx")
                .arg(2)
                .ignore()
                .cmd("SELECT")
                .arg(2)
                .ignore()
                .cmd("SET")
                .arg("w:db2")
                .arg(&n)
                .ignore()
                .cmd("SELECT")
                .arg(0)
                .ignore();
            tx.query::<()>(&mut conn).unwrap();
            i += 1;
            rounds.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(2));
        }
    })
}

fn digest(conn: &mut redis::Connection) -> String {
    cmd(conn, &["DEBUG", "DIGEST"]).unwrap()
}

/// Waits until pika applied everything redis has sent (offsets equal) and the digests match.
fn wait_caught_up(redis: &mut redis::Connection, pika: &mut redis::Connection) {
    wait_for(
        "pika to catch up with redis",
        Duration::from_secs(60),
        || {
            let master = info_field(redis, "replication", "master_repl_offset");
            let applied = info_field(pika, "replication", "slave_repl_offset");
            let (a, b) = (digest(redis), digest(pika));
            if master == applied && a == b {
                Ok(())
            } else {
                Err(format!(
                    "redis offset {master}, pika {applied}; digests {a} / {b}"
                ))
            }
        },
    );
}

fn wait_link_up(pika: &mut redis::Connection) {
    wait_for("the link to redis", Duration::from_secs(60), || {
        let status = info_field(pika, "replication", "master_link_status");
        let syncing = info_field(pika, "replication", "master_sync_in_progress");
        if status == "up" && syncing == "0" {
            Ok(())
        } else {
            Err(format!(
                "master_link_status {status}, in progress {syncing}"
            ))
        }
    });
}

/// The whole migration in: full sync with a writer running, catch-up, a cut link resumed
/// with PSYNC (+CONTINUE, no second full sync), the cutover keeping the data.
fn migrate_in(redis_args: &[&str]) {
    let Some(redis) = RedisServer::start_with(redis_args) else {
        eprintln!("skipped: redis-server is not installed");
        return;
    };
    let mut r = redis.conn();
    fill(&mut r);
    let pika = TestServer::start();
    let mut p = pika.conn();
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicU64::new(0));
    let w = writer(redis.port, stop.clone(), rounds.clone());
    let port = redis.port.to_string();
    let _: () = cmd(&mut p, &["SLAVEOF", "127.0.0.1", &port]).unwrap();
    wait_link_up(&mut p);
    // Writes keep arriving through the command stream.
    let seen = rounds.load(Ordering::Relaxed);
    wait_for("more writes", Duration::from_secs(20), || {
        (rounds.load(Ordering::Relaxed) > seen + 50)
            .then_some(())
            .ok_or_else(|| "writer stalled".to_string())
    });
    // A read-only replica: clients cannot write, the master's stream can.
    let refused = cmd::<()>(&mut p, &["SET", "mine", "1"]).unwrap_err();
    assert!(
        refused.to_string().contains("read only replica"),
        "{refused}"
    );

    // Cut the link: pika resumes where it stopped, from redis' backlog.
    let _: i64 = cmd(&mut r, &["CLIENT", "KILL", "TYPE", "replica"]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    wait_link_up(&mut p);
    wait_for("a partial resync", Duration::from_secs(30), || {
        let ok = info_field(&mut r, "stats", "sync_partial_ok");
        (ok == "1").then_some(()).ok_or(ok)
    });
    assert_eq!(info_field(&mut r, "stats", "sync_full"), "1");

    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    wait_caught_up(&mut r, &mut p);
    // WAIT makes redis ask REPLCONF GETACK; pika's ACK counts it as a replica.
    let _: () = cmd(&mut r, &["SET", "acked", "1"]).unwrap();
    let acked: i64 = cmd(&mut r, &["WAIT", "1", "5000"]).unwrap();
    assert_eq!(acked, 1);

    // Cutover: the data stays and takes writes.
    let before = digest(&mut p);
    let _: () = cmd(&mut p, &["SLAVEOF", "NO", "ONE"]).unwrap();
    assert_eq!(digest(&mut p), before);
    let _: () = cmd(&mut p, &["SET", "mine", "1"]).unwrap();
    let counter: i64 = cmd(&mut p, &["INCR", "w:counter"]).unwrap();
    assert_eq!(counter, rounds.load(Ordering::Relaxed) as i64 + 1);
}

#[test]
fn pika_migrates_in_from_redis_diskless() {
    migrate_in(&[
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
    ]);
}

#[test]
fn pika_migrates_in_from_redis_from_a_disk_rdb() {
    migrate_in(&["--repl-diskless-sync", "no"]);
}

#[test]
fn pika_authenticates_to_redis_with_masterauth() {
    let Some(redis) = RedisServer::start_with(&["--requirepass", "s3cret"]) else {
        return;
    };
    let mut r = redis::Client::open(format!("redis://:s3cret@127.0.0.1:{}/", redis.port))
        .unwrap()
        .get_connection()
        .unwrap();
    let _: () = cmd(&mut r, &["SET", "k", "v"]).unwrap();
    let pika = TestServer::start_with(&["--masterauth", "s3cret"]);
    let mut p = pika.conn();
    let port = redis.port.to_string();
    let _: () = cmd(&mut p, &["SLAVEOF", "127.0.0.1", &port]).unwrap();
    wait_link_up(&mut p);
    wait_caught_up(&mut r, &mut p);
    let _: () = cmd(&mut r, &["SET", "k2", "v2"]).unwrap();
    wait_caught_up(&mut r, &mut p);
    let got: String = cmd(&mut p, &["GET", "k2"]).unwrap();
    assert_eq!(got, "v2");
}

/// Waits until the Redis replica holds what pika holds.
fn wait_same_data(pika: &mut redis::Connection, replica: &mut redis::Connection) {
    wait_for(
        "the redis replica to catch up",
        Duration::from_secs(60),
        || {
            let (a, b) = (digest(pika), digest(replica));
            (a == b)
                .then_some(())
                .ok_or(format!("digests {a} (pika) / {b} (redis)"))
        },
    );
}

/// Migration out: redis-server REPLICAOF pika gets a full sync (an RDB of every type), then
/// pika's writes; a cut link resumes with PSYNC from pika's backlog.
#[test]
fn redis_replicates_from_pika() {
    let pika = TestServer::start();
    let mut p = pika.conn();
    fill(&mut p);
    let port = pika.port.to_string();
    let Some(redis) = RedisServer::start_with(&["--replicaof", "127.0.0.1", &port]) else {
        eprintln!("skipped: redis-server is not installed");
        return;
    };
    let mut r = redis.conn();
    wait_for("the redis replica's link", Duration::from_secs(30), || {
        let status = info_field(&mut r, "replication", "master_link_status");
        (status == "up").then_some(()).ok_or(status)
    });
    wait_same_data(&mut p, &mut r);

    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicU64::new(0));
    let w = writer(pika.port, stop.clone(), rounds.clone());
    wait_for("writes", Duration::from_secs(20), || {
        (rounds.load(Ordering::Relaxed) > 50)
            .then_some(())
            .ok_or_else(|| "writer stalled".to_string())
    });
    // Cut the link from the replica's side: it comes back with PSYNC and continues.
    let _: i64 = cmd(&mut r, &["CLIENT", "KILL", "TYPE", "master"]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    wait_for("a partial resync", Duration::from_secs(30), || {
        let ok = info_field(&mut p, "stats", "sync_partial_ok");
        (ok == "1").then_some(()).ok_or(ok)
    });
    assert_eq!(info_field(&mut p, "stats", "sync_full"), "1");
    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    wait_same_data(&mut p, &mut r);

    // Further writes arrive, deletions and a flushed database included.
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.cmd("SET").arg(format!("later:{i}")).arg(i).ignore();
    }
    pipe.cmd("DEL").arg("list:big").ignore();
    pipe.cmd("SELECT").arg(3).ignore();
    pipe.cmd("FLUSHDB").ignore();
    pipe.cmd("SELECT").arg(0).ignore();
    pipe.query::<()>(&mut p).unwrap();
    wait_same_data(&mut p, &mut r);
    let got: String = cmd(&mut r, &["GET", "later:999"]).unwrap();
    assert_eq!(got, "999");
    let db3: i64 = redis::cmd("SELECT")
        .arg(3)
        .query::<()>(&mut r)
        .and_then(|_| redis::cmd("DBSIZE").query(&mut r))
        .unwrap();
    assert_eq!(db3, 0);

    // SWAPDB reaches the replica as SWAPDB, and later writes land in the swapped databases.
    let mut pipe = redis::pipe();
    pipe.cmd("SELECT").arg(5).ignore();
    pipe.cmd("SET").arg("in:five").arg("5").ignore();
    pipe.cmd("SELECT").arg(0).ignore();
    pipe.cmd("SWAPDB").arg(0).arg(5).ignore();
    pipe.cmd("SET").arg("after:swap").arg("0").ignore();
    pipe.query::<()>(&mut p).unwrap();
    wait_same_data(&mut p, &mut r);
    let _: () = cmd(&mut r, &["SELECT", "0"]).unwrap();
    let moved: String = cmd(&mut r, &["GET", "in:five"]).unwrap();
    assert_eq!(moved, "5");
}

/// SYNC (what `redis-cli --rdb` sends): a sized RDB of every type that redis-server loads to
/// the same data.
#[test]
fn redis_cli_rdb_takes_an_rdb_redis_loads() {
    let pika = TestServer::start();
    let mut p = pika.conn();
    fill(&mut p);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("from-pika.rdb");
    let port = pika.port.to_string();
    let Ok(status) = std::process::Command::new("redis-cli")
        .args(["-p", &port, "--rdb"])
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
    else {
        eprintln!("skipped: redis-cli is not installed");
        return;
    };
    assert!(status.success(), "redis-cli --rdb failed");
    let dir_arg = dir.path().to_string_lossy().into_owned();
    let Some(redis) =
        RedisServer::start_with(&["--dir", &dir_arg, "--dbfilename", "from-pika.rdb"])
    else {
        return;
    };
    let mut r = redis.conn();
    assert_eq!(digest(&mut r), digest(&mut p));
}
