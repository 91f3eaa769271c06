//! MIGRATE and RESTORE-ASKING: keys of every type move between pika-rs servers and to and from
//! a real redis-server with Redis 7's replies, big collections in batches, and the source
//! keeps what the target did not acknowledge.

mod common;

use common::{beside_redis, err, int, RedisServer, TestServer};
use redis::{Connection, Value};

/// Runs MIGRATE on `c`, returning its status reply or its error text.
fn migrate(c: &mut Connection, args: &[&str]) -> Result<String, String> {
    redis::cmd("MIGRATE")
        .arg(args)
        .query::<String>(c)
        .map_err(|e| common::error_text(&e))
}

fn run(c: &mut Connection, args: &[&str]) {
    let _: Value = redis::cmd(args[0]).arg(&args[1..]).query(c).unwrap();
}

/// How many times `command` ran on the server of `c` (INFO commandstats).
fn calls(c: &mut Connection, command: &str) -> u64 {
    let text: String = redis::cmd("INFO").arg("commandstats").query(c).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().unwrap())
}

fn exists(c: &mut Connection, key: &str) -> bool {
    int(c, &["EXISTS", key]) == 1
}

/// One key of each type, `_t` variants with a TTL of 100 s.
fn fill_every_type(c: &mut Connection) -> Vec<String> {
    let commands: &[&[&str]] = &[
        &["SET", "s", "hello"],
        &["SET", "n", "12345"],
        &["HSET", "h", "f1", "v1", "f2", ""],
        &["RPUSH", "l", "a", "b", "a", "7"],
        &["SADD", "si", "1", "2", "-70000"],
        &["SADD", "ss", "x", "y"],
        &["ZADD", "z", "1.5", "a", "inf", "b", "-inf", "c", "0.1", "d"],
        &["XADD", "x", "1-1", "f", "v"],
        &["XADD", "x", "2-1", "a", "b", "c", "d"],
        &["XGROUP", "CREATE", "x", "g", "0"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c1",
            "COUNT",
            "1",
            "STREAMS",
            "x",
            ">",
        ],
    ];
    for args in commands {
        run(c, args);
    }
    let mut keys = Vec::new();
    for key in ["s", "n", "h", "l", "si", "ss", "z", "x"] {
        let timed = format!("{key}_t");
        run(c, &["COPY", key, &timed]);
        run(c, &["PEXPIRE", &timed, "100000"]);
        keys.push(key.to_string());
        keys.push(timed);
    }
    keys
}

/// Adds `n` elements to a collection of type `kind` at `key`, in commands of 5000.
fn fill_collection(c: &mut Connection, kind: &str, key: &str, n: usize) {
    let mut start = 0;
    while start < n {
        let end = (start + 5000).min(n);
        let mut cmd = redis::cmd(match kind {
            "list" => "RPUSH",
            "set" => "SADD",
            "hash" => "HSET",
            _ => "ZADD",
        });
        cmd.arg(key);
        for i in start..end {
            match kind {
                "hash" => cmd.arg(format!("field{i}")).arg(i),
                "zset" => cmd.arg(i as f64 / 7.0).arg(format!("member{i}")),
                _ => cmd.arg(format!("element{i}")),
            };
        }
        let _: i64 = cmd.query(c).unwrap();
        start = end;
    }
}

#[test]
fn every_type_moves_to_redis_and_back_with_its_ttl() {
    let Some((redis, s)) = beside_redis() else {
        return;
    };
    let (mut p, mut r) = (s.conn(), redis.conn());
    let keys = fill_every_type(&mut p);
    let digests: Vec<String> = keys
        .iter()
        .map(|k| common::digest_value(&mut p, k))
        .collect();
    let port = redis.port.to_string();
    let mut args = vec!["127.0.0.1", &port, "", "0", "5000", "KEYS"];
    args.extend(keys.iter().map(String::as_str));
    assert_eq!(migrate(&mut p, &args), Ok("OK".into()));
    for (key, want) in keys.iter().zip(&digests) {
        assert!(!exists(&mut p, key), "{key} still in pika");
        assert_eq!(&common::digest_value(&mut r, key), want, "{key} in redis");
        let pttl = int(&mut r, &["PTTL", key]);
        if key.ends_with("_t") {
            assert!(pttl > 90_000 && pttl <= 100_000, "{key}: {pttl}");
        } else {
            assert_eq!(pttl, -1, "{key}");
        }
    }
    // And back with redis' own MIGRATE, which SELECTs and RESTOREs into pika.
    let port = s.port.to_string();
    let mut args = vec!["127.0.0.1", &port, "", "0", "5000", "KEYS"];
    args.extend(keys.iter().map(String::as_str));
    assert_eq!(migrate(&mut r, &args), Ok("OK".into()));
    for (key, want) in keys.iter().zip(&digests) {
        assert!(!exists(&mut r, key), "{key} still in redis");
        assert_eq!(
            &common::digest_value(&mut p, key),
            want,
            "{key} back in pika"
        );
        let pttl = int(&mut p, &["PTTL", key]);
        assert_eq!(key.ends_with("_t"), pttl > 80_000, "{key}: {pttl}");
    }
}

#[test]
fn big_collections_reach_redis_in_batches() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let s = TestServer::start();
    let (mut p, mut r) = (s.conn(), redis.conn());
    run(&mut p, &["CONFIG", "SET", "migrate-chunk-elements", "100"]);
    let kinds = ["list", "set", "hash", "zset"];
    for kind in kinds {
        fill_collection(&mut p, kind, kind, 1050);
    }
    run(&mut p, &["PEXPIRE", "zset", "100000"]);
    // A stream always goes as one payload, whatever its length.
    for i in 1..=250 {
        run(&mut p, &["XADD", "stream", &format!("{i}-1"), "f", "v"]);
    }
    let kinds = ["list", "set", "hash", "zset", "stream"];
    // One already on the target: REPLACE overwrites it.
    run(&mut r, &["SET", "hash", "old"]);
    let want: Vec<String> = kinds
        .iter()
        .map(|k| common::digest_value(&mut p, k))
        .collect();
    let port = redis.port.to_string();
    let mut args = vec!["127.0.0.1", &port, "", "0", "5000", "REPLACE", "KEYS"];
    args.extend(kinds);
    assert_eq!(migrate(&mut p, &args), Ok("OK".into()));
    for (kind, want) in kinds.iter().zip(&want) {
        assert!(!exists(&mut p, kind), "{kind} still in pika");
        assert_eq!(&common::digest_value(&mut r, kind), want, "{kind} in redis");
    }
    // Batches of 100; the stream's RESTORE.
    for command in ["rpush", "sadd", "hset", "zadd"] {
        assert_eq!(calls(&mut r, command), 11, "{command}");
    }
    assert_eq!(calls(&mut r, "restore"), 1);
    let pttl = int(&mut r, &["PTTL", "zset"]);
    assert!(pttl > 90_000 && pttl <= 100_000, "{pttl}");
    assert_eq!(int(&mut r, &["PTTL", "list"]), -1);
    // Nothing but the keys: no temporary key is left behind.
    assert_eq!(int(&mut r, &["DBSIZE"]), 5);
}

#[test]
fn a_big_sorted_set_arrives_complete_in_chunks_with_its_ttl() {
    let src = TestServer::start_with(&["--migrate-chunk-elements", "1000"]);
    let dst = TestServer::start();
    let (mut a, mut b) = (src.conn(), dst.conn());
    fill_collection(&mut a, "zset", "big", 50_000);
    run(&mut a, &["EXPIRE", "big", "1000"]);
    let want = common::digest_value(&mut a, "big");
    let port = dst.port.to_string();
    assert_eq!(
        migrate(&mut a, &["127.0.0.1", &port, "big", "0", "10000"]),
        Ok("OK".into())
    );
    assert!(!exists(&mut a, "big"));
    assert_eq!(int(&mut b, &["ZCARD", "big"]), 50_000);
    assert_eq!(calls(&mut b, "zadd"), 50);
    assert_eq!(calls(&mut b, "restore"), 0);
    assert_eq!(common::digest_value(&mut b, "big"), want);
    let ttl = int(&mut b, &["TTL", "big"]);
    assert!(ttl > 990 && ttl <= 1000, "{ttl}");
    assert_eq!(int(&mut b, &["DBSIZE"]), 1);
}

#[test]
fn copy_keeps_the_source_and_replace_overwrites_the_target() {
    let src = TestServer::start();
    let dst = TestServer::start();
    let (mut a, mut b) = (src.conn(), dst.conn());
    run(&mut a, &["SET", "k", "new"]);
    let port = dst.port.to_string();
    assert_eq!(
        migrate(&mut a, &["127.0.0.1", &port, "k", "0", "1000", "COPY"]),
        Ok("OK".into())
    );
    assert_eq!(common::get(&mut a, "k").as_deref(), Some("new"));
    assert_eq!(common::get(&mut b, "k").as_deref(), Some("new"));
    run(&mut a, &["SET", "k", "newer"]);
    assert_eq!(
        migrate(&mut a, &["127.0.0.1", &port, "k", "0", "1000", "REPLACE"]),
        Ok("OK".into())
    );
    assert!(!exists(&mut a, "k"));
    assert_eq!(common::get(&mut b, "k").as_deref(), Some("newer"));
}

#[test]
fn an_existing_target_key_is_busykey_without_replace() {
    let src = TestServer::start_with(&["--migrate-chunk-elements", "10"]);
    let dst = TestServer::start();
    let (mut a, mut b) = (src.conn(), dst.conn());
    run(&mut a, &["SET", "small", "mine"]);
    fill_collection(&mut a, "set", "big", 100);
    run(&mut b, &["SET", "small", "theirs"]);
    run(&mut b, &["SET", "big", "theirs"]);
    let port = dst.port.to_string();
    let busy = "ERR Target instance replied with error: BUSYKEY Target key name already exists.";
    for key in ["small", "big"] {
        assert_eq!(
            migrate(&mut a, &["127.0.0.1", &port, key, "0", "1000"]),
            Err(busy.into()),
            "{key}"
        );
        assert!(exists(&mut a, key), "{key} left the source");
        assert_eq!(common::get(&mut b, key).as_deref(), Some("theirs"));
    }
    assert_eq!(int(&mut b, &["DBSIZE"]), 2);
    // KEYS with one refused key: the others move, the refused one stays.
    run(&mut a, &["SET", "free", "1"]);
    assert_eq!(
        migrate(
            &mut a,
            &["127.0.0.1", &port, "", "0", "1000", "KEYS", "free", "small"]
        ),
        Err(busy.into())
    );
    assert!(!exists(&mut a, "free"));
    assert!(exists(&mut a, "small"));
    assert_eq!(common::get(&mut b, "free").as_deref(), Some("1"));
}

#[test]
fn keys_moves_those_present_and_nokey_when_none_is() {
    let src = TestServer::start();
    let dst = TestServer::start();
    let (mut a, mut b) = (src.conn(), dst.conn());
    run(&mut a, &["MSET", "a", "1", "b", "2", "c", "3"]);
    let port = dst.port.to_string();
    assert_eq!(
        migrate(
            &mut a,
            &[
                "127.0.0.1",
                &port,
                "",
                "0",
                "1000",
                "KEYS",
                "a",
                "missing",
                "c"
            ]
        ),
        Ok("OK".into())
    );
    assert!(!exists(&mut a, "a") && !exists(&mut a, "c"));
    assert!(exists(&mut a, "b"));
    assert_eq!(int(&mut b, &["DBSIZE"]), 2);
    assert_eq!(
        migrate(
            &mut a,
            &["127.0.0.1", &port, "", "0", "1000", "KEYS", "x", "y"]
        ),
        Ok("NOKEY".into())
    );
    assert_eq!(
        migrate(&mut a, &["127.0.0.1", &port, "nothing", "0", "1000"]),
        Ok("NOKEY".into())
    );
}

#[test]
fn the_destination_database_is_selected() {
    let src = TestServer::start();
    let dst = TestServer::start();
    let (mut a, mut b) = (src.conn(), dst.conn());
    run(&mut a, &["MSET", "k1", "1", "k2", "2"]);
    let port = dst.port.to_string();
    assert_eq!(
        migrate(&mut a, &["127.0.0.1", &port, "k1", "3", "1000"]),
        Ok("OK".into())
    );
    assert_eq!(
        common::info_field(&mut a, "stats", "migrate_cached_sockets"),
        "1"
    );
    // The cached connection has db 3 selected; db 0 must be selected again.
    assert_eq!(
        migrate(&mut a, &["127.0.0.1", &port, "k2", "0", "1000"]),
        Ok("OK".into())
    );
    assert_eq!(common::get(&mut b, "k2").as_deref(), Some("2"));
    run(&mut b, &["SELECT", "3"]);
    assert_eq!(common::get(&mut b, "k1").as_deref(), Some("1"));
    assert_eq!(
        migrate(&mut a, &["127.0.0.1", &port, "k1", "99", "1000"]),
        Ok("NOKEY".into())
    );
    run(&mut a, &["SET", "k3", "3"]);
    let e = migrate(&mut a, &["127.0.0.1", &port, "k3", "99", "1000"]).unwrap_err();
    assert_eq!(
        e,
        "ERR Target instance replied with error: ERR DB index is out of range"
    );
    assert!(exists(&mut a, "k3"));
}

#[test]
fn auth_and_auth2_reach_a_password_protected_target() {
    let src = TestServer::start();
    let dst = TestServer::start_with(&["--requirepass", "secret"]);
    let mut a = src.conn();
    run(&mut a, &["MSET", "k1", "1", "k2", "2", "k3", "3"]);
    let port = dst.port.to_string();
    assert_eq!(
        migrate(&mut a, &["127.0.0.1", &port, "k1", "0", "1000"]),
        Err("ERR Target instance replied with error: NOAUTH Authentication required.".into())
    );
    assert!(exists(&mut a, "k1"));
    let wrong = migrate(
        &mut a,
        &["127.0.0.1", &port, "k1", "0", "1000", "AUTH", "nope"],
    );
    assert!(
        wrong
            .as_ref()
            .is_err_and(|e| e.starts_with("ERR Target instance replied with error: WRONGPASS")),
        "{wrong:?}"
    );
    assert_eq!(
        migrate(
            &mut a,
            &["127.0.0.1", &port, "k1", "0", "1000", "AUTH", "secret"]
        ),
        Ok("OK".into())
    );
    assert_eq!(
        migrate(
            &mut a,
            &[
                "127.0.0.1",
                &port,
                "",
                "0",
                "1000",
                "AUTH2",
                "default",
                "secret",
                "KEYS",
                "k2",
                "k3"
            ]
        ),
        Ok("OK".into())
    );
    assert_eq!(int(&mut a, &["DBSIZE"]), 0);
    let mut b = dst.conn();
    run(&mut b, &["AUTH", "secret"]);
    assert_eq!(int(&mut b, &["DBSIZE"]), 3);
    // The password never reaches the slow log.
    run(&mut a, &["SET", "k4", "4"]);
    run(&mut a, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    let _ = migrate(
        &mut a,
        &["127.0.0.1", &port, "k4", "0", "1000", "AUTH", "secret"],
    );
    let log: Value = redis::cmd("SLOWLOG").arg("GET").query(&mut a).unwrap();
    let shown = format!("{log:?}");
    assert!(
        shown.contains("k4") && shown.contains("(redacted)"),
        "{shown}"
    );
    assert!(!shown.contains("secret"), "{shown}");
}

#[test]
fn an_unreachable_target_is_an_ioerr_and_the_key_stays() {
    let src = TestServer::start();
    let mut a = src.conn();
    run(&mut a, &["SET", "k", "v"]);
    let closed = common::free_port().to_string();
    assert_eq!(
        migrate(&mut a, &["127.0.0.1", &closed, "k", "0", "500"]),
        Err("IOERR error or timeout connecting to the client".into())
    );
    assert_eq!(common::get(&mut a, "k").as_deref(), Some("v"));
    // A target that accepts but never answers: a read timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    assert_eq!(
        migrate(&mut a, &["127.0.0.1", &port, "k", "0", "200"]),
        Err("IOERR error or timeout reading to target instance".into())
    );
    assert_eq!(common::get(&mut a, "k").as_deref(), Some("v"));
}

#[test]
fn a_target_restarted_between_calls_is_reconnected() {
    let src = TestServer::start();
    let mut dst = TestServer::start();
    let mut a = src.conn();
    run(&mut a, &["MSET", "k1", "1", "k2", "2"]);
    let port = dst.port.to_string();
    assert_eq!(
        migrate(&mut a, &["127.0.0.1", &port, "k1", "0", "1000"]),
        Ok("OK".into())
    );
    // The cached connection dies with the old process; the next call retries on a new one.
    dst.restart();
    assert_eq!(
        migrate(&mut a, &["127.0.0.1", &port, "k2", "0", "1000"]),
        Ok("OK".into())
    );
    let mut b = dst.conn();
    assert_eq!(int(&mut b, &["DBSIZE"]), 2);
}

#[test]
fn arguments_are_checked_as_redis_checks_them() {
    let s = TestServer::start();
    let mut c = s.conn();
    run(&mut c, &["SET", "k", "v"]);
    assert_eq!(
        err(&mut c, &["MIGRATE", "h", "1", "k", "0"]),
        "ERR wrong number of arguments for 'migrate' command"
    );
    assert_eq!(
        err(&mut c, &["MIGRATE", "h", "1", "k", "0", "0", "KEYS", "a"]),
        "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string"
    );
    assert_eq!(
        err(&mut c, &["MIGRATE", "h", "1", "k", "0", "0", "FAST"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["MIGRATE", "h", "1", "k", "0", "0", "AUTH"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["MIGRATE", "h", "1", "k", "0", "soon"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut c, &["MIGRATE", "h", "1", "k", "x", "0"]),
        "ERR value is not an integer or out of range"
    );
}

#[test]
fn command_info_and_getkeys_match_redis() {
    let Some((redis, s)) = beside_redis() else {
        return;
    };
    let (mut p, mut r) = (s.conn(), redis.conn());
    for name in ["migrate", "restore-asking", "restore"] {
        let info = |c: &mut Connection| -> Vec<Value> {
            let v: Vec<Vec<Value>> = redis::cmd("COMMAND")
                .arg("INFO")
                .arg(name)
                .query(c)
                .unwrap();
            let mut entry = v.into_iter().next().unwrap();
            // Command tips (index 7) are not reported by pika.
            entry.remove(7);
            entry
        };
        assert_eq!(info(&mut p), info(&mut r), "{name}");
    }
    let calls: &[&[&str]] = &[
        &["migrate", "h", "1", "k", "0", "0"],
        &[
            "migrate", "h", "1", "", "0", "0", "COPY", "AUTH", "keys", "KEYS", "a", "b",
        ],
        &[
            "migrate", "h", "1", "", "0", "0", "AUTH2", "u", "p", "KEYS", "a",
        ],
        &["migrate", "h", "1", "k", "0", "0", "KEYS", "a"],
        &["restore-asking", "k", "0", "payload"],
    ];
    for call in calls {
        for sub in ["GETKEYS", "GETKEYSANDFLAGS"] {
            let ask = |c: &mut Connection| -> Result<Value, String> {
                redis::cmd("COMMAND")
                    .arg(sub)
                    .arg(*call)
                    .query(c)
                    .map_err(|e| common::error_text(&e))
            };
            assert_eq!(ask(&mut p), ask(&mut r), "{sub} {call:?}");
        }
    }
}

#[test]
fn restore_asking_restores_as_restore_does() {
    let s = TestServer::start();
    let mut c = s.conn();
    run(&mut c, &["RPUSH", "l", "a", "b"]);
    let payload: Vec<u8> = redis::cmd("DUMP").arg("l").query(&mut c).unwrap();
    let restore = |c: &mut Connection, opts: &[&str]| -> Result<String, String> {
        redis::cmd("RESTORE-ASKING")
            .arg("copy")
            .arg(0)
            .arg(&payload)
            .arg(opts)
            .query::<String>(c)
            .map_err(|e| common::error_text(&e))
    };
    assert_eq!(restore(&mut c, &[]), Ok("OK".into()));
    assert_eq!(
        restore(&mut c, &[]),
        Err("BUSYKEY Target key name already exists.".into())
    );
    assert_eq!(restore(&mut c, &["REPLACE"]), Ok("OK".into()));
    assert_eq!(
        common::digest_value(&mut c, "copy"),
        common::digest_value(&mut c, "l")
    );
}

#[test]
fn a_migrated_key_is_deleted_on_the_replica_too() {
    let src = TestServer::start();
    let replica = TestServer::slave_of(&src, &[]);
    let dst = TestServer::start();
    let mut a = src.conn();
    run(&mut a, &["SET", "k", "v"]);
    // The replica restarts its listener when it installs the full sync: reconnect each time.
    let count_k = || -> Option<i64> {
        let mut r = redis::Client::open(replica.url())
            .and_then(|c| c.get_connection())
            .ok()?;
        redis::cmd("EXISTS").arg("k").query(&mut r).ok()
    };
    common::wait_until("the replica has k", || count_k() == Some(1));
    let port = dst.port.to_string();
    assert_eq!(
        migrate(&mut a, &["127.0.0.1", &port, "k", "0", "1000"]),
        Ok("OK".into())
    );
    common::wait_until("the replica lost k", || count_k() == Some(0));
}

/// A cluster node with its bus on a port of its own.
fn cluster_node(extra: &[&str]) -> TestServer {
    let bus = common::free_port().to_string();
    let mut args = vec!["--cluster-enabled", "yes", "--cluster-port", bus.as_str()];
    args.extend_from_slice(extra);
    TestServer::start_with(&args)
}

/// Two cluster nodes that know each other, `a` serving every slot (moving keys in chunks of
/// `chunk_elements`), with their config epochs settled so slots can move safely.
fn two_node_cluster(chunk_elements: &str) -> (TestServer, TestServer) {
    let a = cluster_node(&["--migrate-chunk-elements", chunk_elements]);
    let b = cluster_node(&[]);
    let _: String = a.q(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
    common::cluster::meet(&a, &b);
    common::cluster::wait_ok(&[&a, &b], 2, std::time::Duration::from_secs(20));
    common::cluster::wait_for_settled_epochs(&[&a, &b]);
    (a, b)
}

/// Moves slot 12182 ("foo") from one cluster node to another as `redis-cli --cluster
/// reshard` does: IMPORTING, MIGRATING, MIGRATE of its keys (RESTORE-ASKING and no SELECT for
/// small ones, batches under ASKING past the chunk size), then the slot itself.
#[test]
fn in_a_cluster_keys_move_into_an_importing_slot_small_ones_whole_big_ones_in_batches() {
    let (a, b) = two_node_cluster("10");
    let port = b.port.to_string();
    let (a_id, b_id): (String, String) = (a.q(&["CLUSTER", "MYID"]), b.q(&["CLUSTER", "MYID"]));
    let (mut ca, mut cb) = (a.conn(), b.conn());
    run(&mut ca, &["SET", "foo", "v"]);
    fill_collection(&mut ca, "zset", "{foo}z", 100);
    let want = common::digest_value(&mut ca, "{foo}z");
    let _: String = b.q(&["CLUSTER", "SETSLOT", "12182", "IMPORTING", &a_id]);
    let _: String = a.q(&["CLUSTER", "SETSLOT", "12182", "MIGRATING", &b_id]);
    assert_eq!(
        migrate(
            &mut ca,
            &["127.0.0.1", &port, "", "0", "5000", "KEYS", "foo", "{foo}z"]
        ),
        Ok("OK".into())
    );
    // Gone from a: asked of b now.
    assert_eq!(
        common::err(&mut ca, &["GET", "foo"]),
        format!("ASK 12182 127.0.0.1:{port}")
    );
    // The small key as one RESTORE-ASKING, the big one built in place by ZADD batches.
    assert_eq!(calls(&mut cb, "restore-asking"), 1);
    assert_eq!(calls(&mut cb, "select"), 0);
    assert_eq!(calls(&mut cb, "zadd"), 10);
    assert_eq!(calls(&mut cb, "rename"), 0);
    let _: String = b.q(&["CLUSTER", "SETSLOT", "12182", "NODE", &b_id]);
    let _: String = a.q(&["CLUSTER", "SETSLOT", "12182", "NODE", &b_id]);
    assert_eq!(common::get(&mut cb, "foo").as_deref(), Some("v"));
    assert_eq!(common::digest_value(&mut cb, "{foo}z"), want);
}

/// `redis-cli --cluster reshard` drives MIGRATE (KEYS form, in pipelines of keys) between two
/// pika cluster nodes: the keys of the slots moved (0..16, the first ones it takes) end up on
/// the other node, the rest stay, and everything is readable where its slot is served.
#[test]
fn redis_cli_reshards_keys_between_pika_nodes() {
    use pika::util::slot::key_slot;
    let (a, b) = two_node_cluster("100");
    let named = |prefix: &'static str, moves: bool| {
        (0..)
            .map(move |i| format!("{prefix}:{i}"))
            .filter(move |k| (key_slot(k.as_bytes()) < 16) == moves)
    };
    let moving: Vec<String> = named("key", true).take(40).collect();
    let staying: Vec<String> = named("stay", false).take(20).collect();
    let bigz = format!("{{{}}}z", moving[0]);
    let mut ca = a.conn();
    for k in moving.iter().chain(&staying) {
        run(&mut ca, &["SET", k, k]);
    }
    fill_collection(&mut ca, "zset", &bigz, 1000);
    let want = common::digest_value(&mut ca, &bigz);
    let (a_id, b_id): (String, String) = (a.q(&["CLUSTER", "MYID"]), b.q(&["CLUSTER", "MYID"]));
    let from = format!("127.0.0.1:{}", a.port);
    let resharded = std::process::Command::new("redis-cli")
        .args(["--cluster", "reshard", &from, "--cluster-from", &a_id])
        .args([
            "--cluster-to",
            &b_id,
            "--cluster-slots",
            "16",
            "--cluster-yes",
        ])
        .output();
    let Ok(out) = resharded else {
        eprintln!("skipped: redis-cli is not installed");
        return;
    };
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    let mut cb = b.conn();
    for k in &moving {
        assert_eq!(common::get(&mut cb, k).as_deref(), Some(k.as_str()), "{k}");
    }
    for k in &staying {
        assert_eq!(common::get(&mut ca, k).as_deref(), Some(k.as_str()), "{k}");
    }
    assert_eq!(common::digest_value(&mut cb, &bigz), want);
    assert_eq!(int(&mut cb, &["DBSIZE"]), 41);
    assert_eq!(int(&mut ca, &["DBSIZE"]), 20);
}

#[test]
fn many_keys_move_in_one_call() {
    let src = TestServer::start();
    let dst = TestServer::start();
    let (mut a, mut b) = (src.conn(), dst.conn());
    let keys: Vec<String> = (0..3000).map(|i| format!("k{i}")).collect();
    let mut mset = redis::cmd("MSET");
    for k in &keys {
        mset.arg(k).arg(k);
    }
    let _: () = mset.query(&mut a).unwrap();
    let port = dst.port.to_string();
    let mut args = vec!["127.0.0.1", &port, "", "0", "5000", "KEYS"];
    args.extend(keys.iter().map(String::as_str));
    assert_eq!(migrate(&mut a, &args), Ok("OK".into()));
    assert_eq!(int(&mut a, &["DBSIZE"]), 0);
    assert_eq!(int(&mut b, &["DBSIZE"]), 3000);
    assert_eq!(common::get(&mut b, "k2999").as_deref(), Some("k2999"));
}

#[test]
fn other_workers_serve_while_a_migration_waits_on_its_target() {
    let s = TestServer::start_with(&["--thread-pool-size", "2", "--network-thread-commands", "no"]);
    let mut c = s.conn();
    run(&mut c, &["MSET", "moving", "1", "other", "2"]);
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let mut m = s.conn();
    let waiting = std::thread::spawn(move || {
        let started = std::time::Instant::now();
        let r = migrate(&mut m, &["127.0.0.1", &port, "moving", "0", "1500"]);
        (r, started.elapsed())
    });
    std::thread::sleep(std::time::Duration::from_millis(200));
    let started = std::time::Instant::now();
    run(&mut c, &["SET", "other", "3"]);
    assert_eq!(common::get(&mut c, "other").as_deref(), Some("3"));
    let served_in = started.elapsed();
    let (reply, took) = waiting.join().unwrap();
    assert_eq!(
        reply,
        Err("IOERR error or timeout reading to target instance".into())
    );
    assert!(took >= std::time::Duration::from_millis(1400), "{took:?}");
    assert!(
        served_in < std::time::Duration::from_millis(500),
        "other keys waited {served_in:?}"
    );
}
