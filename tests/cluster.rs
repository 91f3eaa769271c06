//! Cluster mode, black-box: slots and redirects on real `pika` processes, a cluster formed
//! by MEET and ADDSLOTS, `redis-cli --cluster create` and `check`, nodes.conf across restarts,
//! replicas, and a failover after kill -9.

mod common;

use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

use common::cluster::{cluster_info, meet, wait_ok};
use common::{free_port, wait_for, TestServer};

/// Node timeout of the test clusters: failures are detected in seconds.
const NODE_TIMEOUT_MS: u64 = 3000;

/// Starts a cluster node with its bus on a port of its own.
fn node(extra: &[&str]) -> TestServer {
    let bus = free_port().to_string();
    let timeout = NODE_TIMEOUT_MS.to_string();
    let mut args = vec![
        "--cluster-enabled",
        "yes",
        "--cluster-port",
        bus.as_str(),
        "--cluster-node-timeout",
        timeout.as_str(),
    ];
    args.extend_from_slice(extra);
    TestServer::start_with(&args)
}

fn myid(s: &TestServer) -> String {
    s.q(&["CLUSTER", "MYID"])
}

fn err_text(s: &TestServer, args: &[&str]) -> String {
    match s.try_q(args) {
        Err(e) => common::error_text(&e),
        Ok(v) => panic!("{args:?} should fail, got {v:?}"),
    }
}

#[test]
fn one_node_serves_its_slots_and_refuses_the_rest() {
    let s = node(&[]);
    let mut c = s.conn();
    assert_eq!(
        common::info_field(&mut c, "cluster", "cluster_enabled"),
        "1"
    );
    assert_eq!(cluster_info(&s, "cluster_state"), "fail");
    assert_eq!(cluster_info(&s, "cluster_known_nodes"), "1");
    assert_eq!(
        err_text(&s, &["SELECT", "1"]),
        "ERR SELECT is not allowed in cluster mode"
    );
    let _: String = s.q(&["SELECT", "0"]);
    assert_eq!(
        err_text(&s, &["GET", "foo"]),
        "CLUSTERDOWN Hash slot not served"
    );
    let _: String = s.q(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
    assert_eq!(cluster_info(&s, "cluster_state"), "ok");
    assert_eq!(cluster_info(&s, "cluster_slots_assigned"), "16384");
    assert_eq!(
        err_text(&s, &["CLUSTER", "ADDSLOTS", "5"]),
        "ERR Slot 5 is already busy"
    );
    assert_eq!(
        err_text(&s, &["CLUSTER", "ADDSLOTS", "16384"]),
        "ERR Invalid or out of range slot"
    );
    let _: String = s.q(&["SET", "foo", "bar"]);
    let _: String = s.q(&["SET", "{foo}2", "bar"]);
    assert_eq!(s.q::<i64>(&["CLUSTER", "KEYSLOT", "foo"]), 12182);
    assert_eq!(s.q::<i64>(&["CLUSTER", "COUNTKEYSINSLOT", "12182"]), 2);
    let keys: Vec<String> = s.q(&["CLUSTER", "GETKEYSINSLOT", "12182", "10"]);
    assert_eq!(keys, vec!["foo", "{foo}2"]);
    assert_eq!(
        err_text(&s, &["MGET", "foo", "bar"]),
        "CROSSSLOT Keys in request don't hash to the same slot"
    );
    let both: Vec<String> = s.q(&["MGET", "foo", "{foo}2"]);
    assert_eq!(both, vec!["bar", "bar"]);
    assert_eq!(
        err_text(&s, &["CLUSTER", "FLUSHSLOTS"]),
        "ERR DB must be empty to perform CLUSTER FLUSHSLOTS."
    );
    // Without its slot the key is not served, and the cluster is down.
    let _: String = s.q(&["CLUSTER", "DELSLOTS", "12182"]);
    assert_eq!(cluster_info(&s, "cluster_state"), "fail");
    assert_eq!(
        err_text(&s, &["GET", "foo"]),
        "CLUSTERDOWN Hash slot not served"
    );
    assert_eq!(
        err_text(&s, &["GET", "bar"]),
        "CLUSTERDOWN The cluster is down"
    );
    let _: String = s.q(&["CONFIG", "SET", "cluster-allow-reads-when-down", "yes"]);
    assert_eq!(s.q::<Option<String>>(&["GET", "bar"]), None);
    assert_eq!(
        err_text(&s, &["SET", "bar", "1"]),
        "CLUSTERDOWN The cluster is down and only accepts read commands"
    );
    let nodes: String = s.q(&["CLUSTER", "NODES"]);
    let me = myid(&s);
    let line = nodes.lines().next().unwrap();
    assert!(
        line.starts_with(&format!("{me} 127.0.0.1:{}@", s.port))
            || line.starts_with(&format!("{me} :{}@", s.port)),
        "{nodes}"
    );
    assert!(
        line.contains(" myself,master - 0 0 0 connected 0-12181 12183-16383"),
        "{line}"
    );
}

#[test]
fn nodes_conf_survives_a_restart() {
    let mut s = node(&[]);
    let _: String = s.q(&["CLUSTER", "ADDSLOTSRANGE", "0", "99", "200", "300"]);
    let _: String = s.q(&["CLUSTER", "SET-CONFIG-EPOCH", "7"]);
    let before = myid(&s);
    let conf = std::fs::read_to_string(s.dir().join("nodes.conf")).unwrap();
    assert!(conf.contains(&before), "{conf}");
    assert!(
        conf.contains("vars currentEpoch 7 lastVoteEpoch 0"),
        "{conf}"
    );
    s.restart();
    assert_eq!(myid(&s), before);
    assert_eq!(cluster_info(&s, "cluster_slots_assigned"), "201");
    assert_eq!(cluster_info(&s, "cluster_my_epoch"), "7");
    let nodes: String = s.q(&["CLUSTER", "NODES"]);
    assert!(nodes.contains(" 0-99 200-300"), "{nodes}");
}

#[test]
fn three_masters_meet_and_redirect() {
    let a = node(&[]);
    let b = node(&[]);
    let c = node(&[]);
    let _: String = a.q(&["CLUSTER", "ADDSLOTSRANGE", "0", "5460"]);
    let _: String = b.q(&["CLUSTER", "ADDSLOTSRANGE", "5461", "10922"]);
    let _: String = c.q(&["CLUSTER", "ADDSLOTSRANGE", "10923", "16383"]);
    meet(&a, &b);
    meet(&a, &c);
    wait_ok(&[&a, &b, &c], 3, Duration::from_secs(20));
    common::cluster::wait_for_settled_epochs(&[&a, &b, &c]);
    // Every node agrees on who serves what.
    let slots_of = |s: &TestServer| -> String {
        let text: String = s.q(&["CLUSTER", "NODES"]);
        let mut lines: Vec<String> = text
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                format!("{} {}", f[0], f[8..].join(" "))
            })
            .collect();
        lines.sort();
        lines.join("\n")
    };
    assert_eq!(slots_of(&a), slots_of(&b));
    assert_eq!(slots_of(&a), slots_of(&c));
    // PUBLISH reaches every node's subscribers; SPUBLISH only the shard of its slot.
    let mut sub = b.raw();
    sub.write_all(b"SUBSCRIBE news\r\n").unwrap();
    sub.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut seen = Vec::new();
    wait_for(
        "PUBLISH reaches another node",
        Duration::from_secs(20),
        || {
            let _: i64 = a.q(&["PUBLISH", "news", "hello"]);
            let mut buf = [0u8; 512];
            if let Ok(n) = sub.read(&mut buf) {
                seen.extend_from_slice(&buf[..n]);
            }
            let text = String::from_utf8_lossy(&seen).into_owned();
            if text.contains("$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello") {
                Ok(())
            } else {
                Err(text)
            }
        },
    );
    // "foo" is slot 12182, served by c.
    assert_eq!(
        err_text(&a, &["SPUBLISH", "foo", "m"]),
        format!("MOVED 12182 127.0.0.1:{}", c.port)
    );
    assert_eq!(c.q::<i64>(&["SPUBLISH", "foo", "m"]), 0);
    assert_eq!(
        err_text(&a, &["SET", "foo", "1"]),
        format!("MOVED 12182 127.0.0.1:{}", c.port)
    );
    let _: String = c.q(&["SET", "foo", "1"]);
    // Migrating slot 12182 from c to b: keys c no longer has are asked of b.
    let (b_id, c_id) = (myid(&b), myid(&c));
    let _: String = b.q(&["CLUSTER", "SETSLOT", "12182", "IMPORTING", &c_id]);
    let _: String = c.q(&["CLUSTER", "SETSLOT", "12182", "MIGRATING", &b_id]);
    assert_eq!(c.q::<String>(&["GET", "foo"]), "1");
    assert_eq!(
        err_text(&c, &["GET", "{foo}missing"]),
        format!("ASK 12182 127.0.0.1:{}", b.port)
    );
    assert_eq!(
        err_text(&c, &["MGET", "foo", "{foo}missing"]),
        "TRYAGAIN Multiple keys request during rehashing of slot"
    );
    let mut bc = b.conn();
    let moved = common::err(&mut bc, &["SET", "{foo}new", "x"]);
    assert_eq!(moved, format!("MOVED 12182 127.0.0.1:{}", c.port));
    let _: () = redis::cmd("ASKING").query(&mut bc).unwrap();
    let _: () = redis::cmd("SET")
        .arg("{foo}new")
        .arg("x")
        .query(&mut bc)
        .unwrap();
    // ASKING holds for one command only.
    let again = common::err(&mut bc, &["GET", "{foo}new"]);
    assert!(again.starts_with("MOVED"), "{again}");
    let nodes: String = c.q(&["CLUSTER", "NODES"]);
    assert!(nodes.contains(&format!("[12182->-{b_id}]")), "{nodes}");
    // The key moves, then the slot: every node learns the new owner.
    let _: i64 = c.q(&["DEL", "foo"]);
    let _: String = b.q(&["CLUSTER", "SETSLOT", "12182", "NODE", &b_id]);
    let _: String = c.q(&["CLUSTER", "SETSLOT", "12182", "NODE", &b_id]);
    wait_for(
        "slot 12182 moves to b everywhere",
        Duration::from_secs(10),
        || {
            let text = err_text(&a, &["GET", "foo"]);
            if text == format!("MOVED 12182 127.0.0.1:{}", b.port) {
                Ok(())
            } else {
                Err(text)
            }
        },
    );
    assert_eq!(b.q::<String>(&["GET", "{foo}new"]), "x");
}

/// Runs redis-cli with `args`; its output, or None when redis-cli is not installed.
fn redis_cli(args: &[&str]) -> Option<(bool, String)> {
    let out = Command::new("redis-cli").args(args).output().ok()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.success(), text))
}

#[test]
fn redis_cli_creates_checks_and_survives_a_master_kill() {
    let mut nodes: Vec<TestServer> = (0..6).map(|_| node(&[])).collect();
    let addrs: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let mut args = vec!["--cluster", "create"];
    args.extend(addrs.iter().map(String::as_str));
    args.extend(["--cluster-replicas", "1", "--cluster-yes"]);
    let Some((ok, out)) = redis_cli(&args) else {
        eprintln!("skipped: redis-cli is not installed");
        return;
    };
    assert!(ok, "{out}");
    assert!(out.contains("[OK] All 16384 slots covered."), "{out}");
    let refs: Vec<&TestServer> = nodes.iter().collect();
    wait_ok(&refs, 6, Duration::from_secs(30));
    // Roles spread by gossip: every master soon shows its replica.
    wait_for(
        "a check with every replica",
        Duration::from_secs(20),
        || {
            let (ok, out) = redis_cli(&["--cluster", "check", &addrs[0]]).unwrap();
            if ok
                && out.contains("[OK] All nodes agree about slots configuration.")
                && out.contains("[OK] All 16384 slots covered.")
                && out.matches("1 additional replica(s)").count() == 3
            {
                Ok(())
            } else {
                Err(out)
            }
        },
    );

    // Writes through a cluster client (redis-cli -c follows MOVED), acknowledged by a replica.
    let port = nodes[0].port.to_string();
    for i in 0..200 {
        let key = format!("key:{i}");
        let (ok, out) = redis_cli(&["-c", "-p", &port, "SET", &key, &i.to_string()]).unwrap();
        assert!(ok && out.trim() == "OK", "{out}");
    }
    let victim = nodes
        .iter()
        .position(|n| {
            let text: String = n.q(&["CLUSTER", "NODES"]);
            text.lines()
                .next()
                .is_some_and(|l| l.contains("myself,master"))
        })
        .expect("a master");
    let victim_id = myid(&nodes[victim]);
    let replica = nodes
        .iter()
        .position(|n| {
            let text: String = n.q(&["CLUSTER", "NODES"]);
            text.lines()
                .next()
                .is_some_and(|l| l.contains("myself,slave") && l.contains(&victim_id))
        })
        .expect("the victim's replica");
    // WAIT: the replica has every write of the victim's shard.
    let victim_port = nodes[victim].port.to_string();
    let (_, acked) = redis_cli(&["-p", &victim_port, "WAIT", "1", "0"]).unwrap();
    assert_eq!(acked.trim(), "1", "{acked}");
    let killed_at = Instant::now();
    nodes[victim].kill9();
    let survivors: Vec<&TestServer> = nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != victim)
        .map(|(_, n)| n)
        .collect();
    wait_for("the replica is promoted", Duration::from_secs(30), || {
        let text: String = nodes[replica].q(&["CLUSTER", "NODES"]);
        match text.lines().next() {
            Some(l) if l.contains("myself,master") => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    let promoted_after = killed_at.elapsed();
    wait_for("the cluster is ok again", Duration::from_secs(30), || {
        for n in &survivors {
            let state = cluster_info(n, "cluster_state");
            if state != "ok" {
                return Err(format!("{}: {state}", n.port));
            }
        }
        Ok(())
    });
    eprintln!("replica promoted {promoted_after:?} after kill -9");
    // Redis promises a replica within about twice the node timeout; a loaded test machine
    // gets a little slack.
    assert!(
        promoted_after < Duration::from_millis(2 * NODE_TIMEOUT_MS + 2000),
        "promoted only after {promoted_after:?}"
    );
    let port = nodes[replica].port.to_string();
    for i in 0..200 {
        let key = format!("key:{i}");
        let (_, out) = redis_cli(&["-c", "-p", &port, "GET", &key]).unwrap();
        assert_eq!(out.trim(), i.to_string(), "{key}");
    }
    // The old master comes back and follows the replica that replaced it.
    let new_master = myid(&nodes[replica]);
    nodes[victim].restart();
    wait_for(
        "the old master returns as a replica",
        Duration::from_secs(30),
        || {
            let line = match redis::Client::open(nodes[victim].url())
                .and_then(|c| c.get_connection())
                .and_then(|mut c| redis::cmd("CLUSTER").arg("NODES").query::<String>(&mut c))
            {
                Ok(text) => text.lines().next().unwrap_or_default().to_string(),
                Err(e) => e.to_string(),
            };
            if line.contains(&format!("myself,slave {new_master}")) {
                Ok(())
            } else {
                Err(line)
            }
        },
    );
}

/// Replies of a fresh one-node cluster, with its id and ports put back to placeholders.
fn normalized_replies(port: u16, bus: u16) -> Vec<String> {
    let p = port.to_string();
    let id = redis_cli(&["-p", &p, "CLUSTER", "MYID"])
        .unwrap()
        .1
        .trim()
        .to_string();
    let commands: &[&[&str]] = &[
        &["CLUSTER", "ADDSLOTSRANGE", "0", "16383"],
        &["CLUSTER", "NODES"],
        &["CLUSTER", "SLOTS"],
        &["-3", "CLUSTER", "SHARDS"],
        &["CLUSTER", "LINKS"],
        &["CLUSTER", "KEYSLOT", "{user1}:a"],
        &["CLUSTER", "COUNTKEYSINSLOT", "20000"],
        &["CLUSTER", "GETKEYSINSLOT", "1", "-1"],
        &["CLUSTER", "SETSLOT", "1", "foo"],
        &[
            "CLUSTER",
            "SETSLOT",
            "1",
            "MIGRATING",
            "0000000000000000000000000000000000000000",
        ],
        &["CLUSTER", "ADDSLOTS"],
        &["CLUSTER", "ADDSLOTSRANGE", "1"],
        &["CLUSTER", "ADDSLOTSRANGE", "5", "2"],
        &["CLUSTER", "DELSLOTS", "16384"],
        &["CLUSTER", "MEET", "1.2.3", "5"],
        &[
            "CLUSTER",
            "FORGET",
            "0000000000000000000000000000000000000000",
        ],
        &["CLUSTER", "REPLICATE", &id],
        &["CLUSTER", "FAILOVER"],
        &["CLUSTER", "FAILOVER", "NOW"],
        &["CLUSTER", "SET-CONFIG-EPOCH", "3"],
        &["CLUSTER", "SET-CONFIG-EPOCH", "4"],
        &["CLUSTER", "BUMPEPOCH"],
        &["CLUSTER", "COUNT-FAILURE-REPORTS", &id],
        &["CLUSTER", "REPLICAS", &id],
        &["CLUSTER", "RESET", "MEDIUM"],
        &["CLUSTER", "NOPE"],
        &["SELECT", "1"],
        &["ASKING"],
        &["READONLY"],
        &["READWRITE"],
        &["COMMAND", "INFO", "cluster|setslot", "asking", "readonly"],
    ];
    commands
        .iter()
        .map(|args| {
            let mut full = vec!["-p", p.as_str()];
            full.extend_from_slice(args);
            let (_, out) = redis_cli(&full).unwrap();
            out.replace(&id, "<id>")
                .replace(&p, "<port>")
                .replace(&bus.to_string(), "<bus>")
        })
        .collect()
}

#[test]
fn replies_match_a_redis_cluster_node() {
    let dir = tempfile::tempdir().unwrap();
    let redis_port = free_port();
    let redis_bus = free_port();
    let conf = dir.path().join("nodes.conf");
    let Ok(mut redis) = Command::new("redis-server")
        .args([
            "--port",
            &redis_port.to_string(),
            "--cluster-enabled",
            "yes",
            "--save",
            "",
        ])
        .args([
            "--appendonly",
            "no",
            "--cluster-port",
            &redis_bus.to_string(),
        ])
        .arg("--cluster-config-file")
        .arg(&conf)
        .arg("--dir")
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .spawn()
    else {
        eprintln!("skipped: redis-server is not installed");
        return;
    };
    wait_for("redis-server", Duration::from_secs(30), || {
        if common::answers_ping(redis_port) {
            Ok(())
        } else {
            Err("no PONG".into())
        }
    });
    let our_bus = free_port();
    let ours = TestServer::start_with(&[
        "--cluster-enabled",
        "yes",
        "--cluster-port",
        &our_bus.to_string(),
    ]);
    let theirs = normalized_replies(redis_port, redis_bus);
    let mine = normalized_replies(ours.port, our_bus);
    let _ = redis.kill();
    let _ = redis.wait();
    for (i, (t, m)) in theirs.iter().zip(&mine).enumerate() {
        assert_eq!(m, t, "reply {i} differs");
    }
}

#[test]
fn transactions_and_blocked_clients_follow_their_slot() {
    let a = node(&[]);
    let b = node(&[]);
    let _: String = a.q(&["CLUSTER", "ADDSLOTSRANGE", "0", "8191"]);
    let _: String = b.q(&["CLUSTER", "ADDSLOTSRANGE", "8192", "16383"]);
    meet(&a, &b);
    wait_ok(&[&a, &b], 2, Duration::from_secs(20));
    // "bar" is slot 5061 (a), "foo" 12182 (b).
    let mut c = a.conn();
    let _: () = redis::cmd("MULTI").query(&mut c).unwrap();
    let _: () = redis::cmd("SET").arg("bar").arg("1").query(&mut c).unwrap();
    let moved = common::err(&mut c, &["SET", "foo", "1"]);
    assert_eq!(moved, format!("MOVED 12182 127.0.0.1:{}", b.port));
    let aborted = common::err(&mut c, &["EXEC"]);
    assert!(aborted.starts_with("EXECABORT"), "{aborted}");
    assert_eq!(a.q::<Option<String>>(&["GET", "bar"]), None);
    let _: () = redis::cmd("MULTI").query(&mut c).unwrap();
    let _: () = redis::cmd("SET")
        .arg("{bar}1")
        .arg("1")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("{bar}2")
        .arg("2")
        .query(&mut c)
        .unwrap();
    let done: Vec<String> = redis::cmd("EXEC").query(&mut c).unwrap();
    assert_eq!(done, vec!["OK", "OK"]);

    // A client blocked on a key of slot 5061 is redirected once the slot moves to b.
    let a_port = a.port;
    let blocked = std::thread::spawn(move || {
        let mut conn = redis::Client::open(format!("redis://127.0.0.1:{a_port}/"))
            .unwrap()
            .get_connection()
            .unwrap();
        redis::cmd("BLPOP")
            .arg("bar")
            .arg(0)
            .query::<Vec<String>>(&mut conn)
            .map_err(|e| common::error_text(&e))
    });
    wait_for(
        "the client blocks",
        Duration::from_secs(10),
        || match common::info_field(&mut a.conn(), "clients", "blocked_clients").as_str() {
            "1" => Ok(()),
            other => Err(other.to_string()),
        },
    );
    let b_id = myid(&b);
    let _: i64 = a.q(&["DEL", "{bar}1", "{bar}2"]);
    let _: String = a.q(&["CLUSTER", "SETSLOT", "5061", "NODE", &b_id]);
    let reply = blocked.join().unwrap();
    assert_eq!(reply, Err(format!("MOVED 5061 127.0.0.1:{}", b.port)));
}

/// The `myself` line of a node's CLUSTER NODES.
fn my_line(s: &TestServer) -> String {
    let text: String = s.q(&["CLUSTER", "NODES"]);
    text.lines().next().unwrap_or_default().to_string()
}

#[test]
fn manual_failover_demotes_the_master_takeover_and_force_reverse_it() {
    let masters: Vec<TestServer> = (0..3).map(|_| node(&[])).collect();
    let replica = node(&[]);
    let ranges = [("0", "5460"), ("5461", "10922"), ("10923", "16383")];
    for (m, (from, to)) in masters.iter().zip(ranges) {
        let _: String = m.q(&["CLUSTER", "ADDSLOTSRANGE", from, to]);
    }
    for (i, m) in masters.iter().enumerate() {
        let _: String = m.q(&["CLUSTER", "SET-CONFIG-EPOCH", &(i + 1).to_string()]);
    }
    meet(&masters[0], &masters[1]);
    meet(&masters[0], &masters[2]);
    meet(&masters[0], &replica);
    let all: Vec<&TestServer> = masters.iter().chain([&replica]).collect();
    wait_ok(&all, 4, Duration::from_secs(20));
    let m0 = myid(&masters[0]);
    let _: String = replica.q(&["CLUSTER", "REPLICATE", &m0]);
    // "bar" is slot 5061, served by masters[0].
    for i in 0..50 {
        let _: () = masters[0].q(&["SET", &format!("{{bar}}{i}"), &i.to_string()]);
    }
    wait_for("the replica has the data", Duration::from_secs(20), || {
        let acked: i64 = masters[0].q(&["WAIT", "1", "100"]);
        if acked == 1 {
            Ok(())
        } else {
            Err(format!("{acked} acks"))
        }
    });
    // The default manual failover: the master pauses writes until the replica caught up.
    wait_for(
        "the replica's bus link to its master",
        Duration::from_secs(20),
        || {
            let text: String = replica.q(&["CLUSTER", "NODES"]);
            match text.lines().find(|l| l.starts_with(&m0)) {
                Some(l) if l.ends_with(" connected 0-5460") => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    );
    let _: String = replica.q(&["CLUSTER", "FAILOVER"]);
    let voted = std::time::Instant::now();
    let r_id = myid(&replica);
    wait_for("the replica took over", Duration::from_secs(20), || {
        let mine = my_line(&replica);
        let old = my_line(&masters[0]);
        if mine.contains("myself,master") && old.contains(&format!("myself,slave {r_id}")) {
            Ok(())
        } else {
            Err(format!("{mine}\n{old}"))
        }
    });
    let moved = err_text(&masters[0], &["SET", "bar", "x"]);
    assert_eq!(moved, format!("MOVED 5061 127.0.0.1:{}", replica.port));
    let _: () = replica.q(&["SET", "{bar}new", "after"]);
    for i in 0..50 {
        assert_eq!(
            replica.q::<String>(&["GET", &format!("{{bar}}{i}")]),
            i.to_string()
        );
    }
    // The old master now replicates the new one.
    wait_for(
        "writes reach the old master",
        Duration::from_secs(20),
        || {
            // It restarts in-process after its full sync: the port may be closed a moment.
            let mut c = redis::Client::open(masters[0].url())
                .and_then(|c| c.get_connection())
                .map_err(|e| e.to_string())?;
            let _: () = redis::cmd("READONLY")
                .query(&mut c)
                .map_err(|e| e.to_string())?;
            let v: Option<String> = redis::cmd("GET")
                .arg("{bar}new")
                .query(&mut c)
                .map_err(|e| e.to_string())?;
            if v.as_deref() == Some("after") {
                Ok(())
            } else {
                Err(format!("{v:?}"))
            }
        },
    );
    // TAKEOVER: the old master takes its slots back without a vote.
    let _: String = masters[0].q(&["CLUSTER", "FAILOVER", "TAKEOVER"]);
    wait_for("the takeover spread", Duration::from_secs(20), || {
        let text = err_text(&masters[1], &["GET", "bar"]);
        if text == format!("MOVED 5061 127.0.0.1:{}", masters[0].port)
            && my_line(&replica).contains("myself,slave")
        {
            Ok(())
        } else {
            Err(format!("{text}\n{}", my_line(&replica)))
        }
    });
    wait_ok(&all, 4, Duration::from_secs(20));
    // FORCE: an election without waiting for the master's writes; the masters vote although
    // the master is alive, but not twice for replicas of one master within 2 x node-timeout.
    let cooldown = Duration::from_millis(2 * NODE_TIMEOUT_MS + 500);
    if let Some(left) = cooldown.checked_sub(voted.elapsed()) {
        std::thread::sleep(left);
    }
    wait_for(
        "the replica's bus link to its master again",
        Duration::from_secs(20),
        || {
            let text: String = replica.q(&["CLUSTER", "NODES"]);
            match text.lines().find(|l| l.starts_with(&m0)) {
                Some(l) if l.contains("master") && l.contains(" connected ") => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    );
    let _: String = replica.q(&["CLUSTER", "FAILOVER", "FORCE"]);
    wait_for("the forced failover", Duration::from_secs(20), || {
        let mine = my_line(&replica);
        if mine.contains("myself,master") && mine.contains("0-5460") {
            Ok(())
        } else {
            Err(mine)
        }
    });
    wait_ok(&all, 4, Duration::from_secs(20));
}
/// Creates a cluster of `masters` masters and `replicas` replicas each with redis-cli;
/// None when redis-cli is not installed.
fn create_cluster(masters: usize, replicas: usize) -> Option<Vec<TestServer>> {
    let nodes: Vec<TestServer> = (0..masters * (1 + replicas)).map(|_| node(&[])).collect();
    let addrs: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let replicas = replicas.to_string();
    let mut args = vec!["--cluster", "create"];
    args.extend(addrs.iter().map(String::as_str));
    args.extend(["--cluster-replicas", replicas.as_str(), "--cluster-yes"]);
    let (ok, out) = redis_cli(&args)?;
    assert!(ok, "{out}");
    let refs: Vec<&TestServer> = nodes.iter().collect();
    wait_ok(&refs, nodes.len(), Duration::from_secs(30));
    Some(nodes)
}

/// `redis-cli --cluster check` passes: every node agrees and every slot is covered.
fn assert_check(addr: &str) {
    wait_for("a clean cluster check", Duration::from_secs(20), || {
        let (ok, out) = redis_cli(&["--cluster", "check", addr]).unwrap();
        if ok
            && out.contains("[OK] All nodes agree about slots configuration.")
            && out.contains("[OK] All 16384 slots covered.")
            && !out.contains("[WARNING]")
            && !out.contains("[ERR]")
        {
            Ok(())
        } else {
            Err(out)
        }
    });
}

fn master_id_of(s: &TestServer) -> String {
    myid(s)
}

/// A cluster client writing `prefix<i>` = i and reading each key back, until stopped; it
/// records every error it sees.
struct BusyClient {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: std::thread::JoinHandle<(u64, Vec<String>)>,
}

impl BusyClient {
    fn start(client: &redis::cluster::ClusterClient, prefix: &str) -> BusyClient {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let mut conn = client.get_connection().unwrap();
        let (prefix, stopped) = (prefix.to_string(), stop.clone());
        let handle = std::thread::spawn(move || {
            let (mut i, mut errors) = (0u64, Vec::new());
            while !stopped.load(Ordering::Relaxed) {
                let key = format!("{prefix}{i}");
                if let Err(e) = redis::cmd("SET").arg(&key).arg(i).query::<()>(&mut conn) {
                    errors.push(format!("SET {key}: {e}"));
                }
                match redis::cmd("GET").arg(&key).query::<Option<u64>>(&mut conn) {
                    Ok(Some(v)) if v == i => {}
                    other => errors.push(format!("GET {key}: {other:?}")),
                }
                i += 1;
            }
            (i, errors)
        });
        BusyClient { stop, handle }
    }

    /// Stops it; fails on any error it saw; returns how many keys it wrote.
    fn finish(self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (written, errors) = self.handle.join().unwrap();
        assert!(
            errors.is_empty(),
            "{} errors, first: {:?}",
            errors.len(),
            &errors[..errors.len().min(5)]
        );
        written
    }
}

#[test]
fn reshard_add_rebalance_and_delete_under_a_cluster_client() {
    let Some(nodes) = create_cluster(3, 0) else {
        eprintln!("skipped: redis-cli is not installed");
        return;
    };
    let first = format!("127.0.0.1:{}", nodes[0].port);
    let urls: Vec<String> = nodes
        .iter()
        .map(|n| format!("redis://127.0.0.1:{}/", n.port))
        .collect();
    let client = redis::cluster::ClusterClient::new(urls).unwrap();
    // redis-cli refuses to reshard until every node agrees on the configuration.
    assert_check(&first);
    let writer = BusyClient::start(&client, "k:");
    std::thread::sleep(Duration::from_millis(500));
    let (from, to) = (master_id_of(&nodes[0]), master_id_of(&nodes[1]));
    let (ok, out) = redis_cli(&[
        "--cluster",
        "reshard",
        &first,
        "--cluster-from",
        &from,
        "--cluster-to",
        &to,
        "--cluster-slots",
        "1000",
        "--cluster-yes",
    ])
    .unwrap();
    assert!(ok, "{out}");
    assert_check(&first);

    // A new master joins, then a replica of it; rebalancing gives the master slots.
    let fresh = node(&[]);
    let fresh_addr = format!("127.0.0.1:{}", fresh.port);
    let (ok, out) = redis_cli(&["--cluster", "add-node", &fresh_addr, &first]).unwrap();
    assert!(ok, "{out}");
    // Every node (the new one included, which learns the others by gossip) must know the
    // others before slots can move to or from it.
    let mut joined: Vec<&TestServer> = nodes.iter().chain([&fresh]).collect();
    wait_ok(&joined, 4, Duration::from_secs(20));
    assert_check(&first);
    let replica = node(&[]);
    let replica_addr = format!("127.0.0.1:{}", replica.port);
    let fresh_id = myid(&fresh);
    let (ok, out) = redis_cli(&[
        "--cluster",
        "add-node",
        &replica_addr,
        &first,
        "--cluster-slave",
        "--cluster-master-id",
        &fresh_id,
    ])
    .unwrap();
    assert!(ok, "{out}");
    joined.push(&replica);
    wait_ok(&joined, 5, Duration::from_secs(20));
    wait_for(
        "the first node sees the replica",
        Duration::from_secs(20),
        || {
            let text: String = nodes[0].q(&["CLUSTER", "NODES"]);
            if text.contains(&format!("slave {fresh_id}")) {
                Ok(())
            } else {
                Err(text)
            }
        },
    );
    assert_check(&first);
    let (ok, out) = redis_cli(&[
        "--cluster",
        "rebalance",
        &first,
        "--cluster-use-empty-masters",
    ])
    .unwrap();
    assert!(ok, "{out}");
    assert_check(&first);
    assert_ne!(cluster_info(&fresh, "cluster_size"), "");
    let fresh_slots: String = fresh.q(&["CLUSTER", "NODES"]);
    assert!(
        fresh_slots.lines().next().unwrap().split(' ').count() > 8,
        "the new master got no slots: {fresh_slots}"
    );
    // The replica leaves.
    let replica_id = myid(&replica);
    let (ok, out) = redis_cli(&["--cluster", "del-node", &first, &replica_id]).unwrap();
    assert!(ok, "{out}");
    assert_check(&first);

    let total = writer.finish();
    assert!(total > 100, "only {total} writes");
    let mut conn = client.get_connection().unwrap();
    for i in 0..total {
        let v: Option<u64> = redis::cmd("GET")
            .arg(format!("k:{i}"))
            .query(&mut conn)
            .unwrap();
        assert_eq!(v, Some(i), "k:{i}");
    }
    drop(nodes);
}

#[test]
fn a_slot_of_every_type_and_a_huge_key_moves_while_a_client_writes() {
    let a = node(&["--migrate-chunk-elements", "1000"]);
    let b = node(&[]);
    let _: String = a.q(&["CLUSTER", "ADDSLOTSRANGE", "8192", "16383"]);
    let _: String = b.q(&["CLUSTER", "ADDSLOTSRANGE", "0", "8191"]);
    meet(&a, &b);
    wait_ok(&[&a, &b], 2, Duration::from_secs(20));
    common::cluster::wait_for_settled_epochs(&[&a, &b]);
    // Every key carries the tag {m}: one slot, served by a.
    let slot: i64 = a.q(&["CLUSTER", "KEYSLOT", "{m}"]);
    assert!(slot >= 8192, "slot {slot}");
    let _: () = a.q(&["SET", "{m}str", "v"]);
    let _: () = a.q(&["SET", "{m}ttl", "v", "EX", "1000"]);
    let _: i64 = a.q(&["HSET", "{m}hash", "f1", "a", "f2", "b"]);
    let _: i64 = a.q(&["RPUSH", "{m}list", "1", "2", "3"]);
    let _: i64 = a.q(&["SADD", "{m}set", "x", "y"]);
    let _: String = a.q(&["XADD", "{m}stream", "1-1", "f", "v"]);
    let mut c = a.conn();
    for chunk in 0..30 {
        let mut cmd = redis::cmd("ZADD");
        cmd.arg("{m}huge");
        for i in 0..1000 {
            let n = chunk * 1000 + i;
            cmd.arg(n).arg(format!("member:{n}"));
        }
        let _: i64 = cmd.query(&mut c).unwrap();
    }
    let names = [
        "{m}str",
        "{m}ttl",
        "{m}hash",
        "{m}list",
        "{m}set",
        "{m}stream",
        "{m}huge",
    ];
    let digests: Vec<String> = names
        .iter()
        .map(|k| common::digest_value(&mut c, k))
        .collect();

    // A cluster client keeps writing and reading keys of the slot meanwhile.
    let urls = vec![format!("redis://127.0.0.1:{}/", a.port)];
    let client = redis::cluster::ClusterClient::new(urls).unwrap();
    let writer = BusyClient::start(&client, "{m}w:");
    std::thread::sleep(Duration::from_millis(300));
    let (a_id, b_id) = (myid(&a), myid(&b));
    let slot_s = slot.to_string();
    let _: String = b.q(&["CLUSTER", "SETSLOT", &slot_s, "IMPORTING", &a_id]);
    let _: String = a.q(&["CLUSTER", "SETSLOT", &slot_s, "MIGRATING", &b_id]);
    let b_port = b.port.to_string();
    loop {
        let keys: Vec<String> = a.q(&["CLUSTER", "GETKEYSINSLOT", &slot_s, "10"]);
        if keys.is_empty() {
            break;
        }
        let mut args = vec!["MIGRATE", "127.0.0.1", &b_port, "", "0", "10000", "KEYS"];
        args.extend(keys.iter().map(String::as_str));
        let _: String = a.q(&args);
    }
    let _: String = b.q(&["CLUSTER", "SETSLOT", &slot_s, "NODE", &b_id]);
    let _: String = a.q(&["CLUSTER", "SETSLOT", &slot_s, "NODE", &b_id]);
    std::thread::sleep(Duration::from_millis(300));
    let total = writer.finish();
    for (k, d) in names.iter().zip(&digests) {
        assert_eq!(&common::digest_value(&mut b.conn(), k), d, "{k}");
    }
    let ttl: i64 = b.q(&["TTL", "{m}ttl"]);
    assert!(ttl > 900, "{ttl}");
    assert_eq!(b.q::<i64>(&["ZCARD", "{m}huge"]), 30_000);
    // The huge key came in batches (ZADD under ASKING), not as one payload.
    let zadd = common::info_field(&mut b.conn(), "commandstats", "cmdstat_zadd");
    let calls: u64 = zadd
        .split(',')
        .find_map(|f| f.strip_prefix("calls="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(calls >= 30, "{zadd}");
    assert_eq!(a.q::<i64>(&["CLUSTER", "COUNTKEYSINSLOT", &slot_s]), 0);
    assert!(total > 10, "only {total} writes");
    for i in 0..total {
        let v: Option<u64> = b.q(&["GET", &format!("{{m}}w:{i}")]);
        assert_eq!(v, Some(i), "{{m}}w:{i}");
    }
}
