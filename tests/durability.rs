//! Durability across crashes, black box: `binlog-fsync` (alias `appendfsync`) and what a
//! master that lost its binlog's tail does to its slaves.
//!
//! A power cut is simulated with `DEBUG POWER-LOSS`: the server exits at once, and its next
//! start keeps only the part of the binlog that was fsynced (a kill -9 alone loses nothing:
//! every acknowledged write was already handed to the operating system).

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use redis::Value;

use common::{cmd, TestServer};

const DEADLINE: Duration = Duration::from_secs(30);

fn info(s: &TestServer, section: &str) -> HashMap<String, String> {
    let text: String = s.q(&["INFO", section]);
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

fn info_u64(s: &TestServer, section: &str, field: &str) -> u64 {
    info(s, section)
        .get(field)
        .unwrap_or_else(|| panic!("INFO {section} lacks {field}"))
        .parse()
        .unwrap()
}

fn digest(s: &TestServer) -> String {
    s.q(&["DEBUG", "DIGEST"])
}

/// Cuts the power of `s` (see the module doc) and starts it again on the same data.
fn power_loss_and_restart(s: &mut TestServer) {
    let mut c = s.conn();
    let reply = cmd::<Value>(&mut c, &["DEBUG", "POWER-LOSS"]);
    assert!(reply.is_err(), "DEBUG POWER-LOSS answered {reply:?}");
    assert!(s.wait_exit(DEADLINE), "the server did not exit");
    s.restart();
}

fn wait_until(what: &str, cond: impl FnMut() -> Result<(), String>) {
    common::wait_for(what, DEADLINE, cond);
}

/// Waits until `slave`'s link is up, it applied everything `master` wrote and both hold the
/// same data.
fn wait_in_sync(master: &TestServer, slave: &TestServer) {
    wait_until("the slave to catch up", || {
        let repl = info(slave, "replication");
        if repl.get("master_link_status").map(String::as_str) != Some("up") {
            return Err(format!("slave link: {repl:?}"));
        }
        let have = repl.get("master_repl_offset").cloned().unwrap_or_default();
        let want = info_u64(master, "replication", "binlog_offset").to_string();
        if have != want {
            return Err(format!("slave at {have}, master at {want}"));
        }
        let (a, b) = (digest(master), digest(slave));
        if a != b {
            return Err(format!("digests differ: {a} vs {b}"));
        }
        Ok(())
    });
}

/// Writes `n` string keys `{prefix}:{i}` = `i`, one SET each.
fn populate(s: &TestServer, prefix: &str, n: usize) {
    let mut c = s.conn();
    for i in 0..n {
        let _: () = redis::cmd("SET")
            .arg(format!("{prefix}:{i}"))
            .arg(i)
            .query(&mut c)
            .unwrap();
    }
}

/// What one writer thread got acknowledged: SETs of `s:{t}:{i}` = `i` for i < `sets`, INCRs
/// of `n:{t}`, RPUSHes of `i` to `l:{t}`.
#[derive(Default, Clone, Copy)]
struct Acked {
    sets: u64,
    incrs: u64,
    pushes: u64,
}

/// Starts `threads` writers against `s` that each cycle SET, INCR and RPUSH on keys of their
/// own and record every acknowledged write, until the server goes away.
fn spawn_writers(
    s: &TestServer,
    threads: usize,
) -> (Vec<thread::JoinHandle<()>>, Arc<Mutex<Vec<Acked>>>) {
    let acked = Arc::new(Mutex::new(vec![Acked::default(); threads]));
    let handles = (0..threads)
        .map(|t| {
            let client = redis::Client::open(s.url()).unwrap();
            let acked = Arc::clone(&acked);
            thread::spawn(move || {
                let mut c = client.get_connection().expect("writer connection");
                for i in 0u64.. {
                    let (args, field): (Vec<String>, fn(&mut Acked)) = match i % 3 {
                        0 => (
                            vec![
                                "SET".into(),
                                format!("s:{t}:{}", i / 3),
                                (i / 3).to_string(),
                            ],
                            |a| a.sets += 1,
                        ),
                        1 => (vec!["INCR".into(), format!("n:{t}")], |a| a.incrs += 1),
                        _ => (
                            vec!["RPUSH".into(), format!("l:{t}"), (i / 3).to_string()],
                            |a| a.pushes += 1,
                        ),
                    };
                    let mut cmd = redis::cmd(&args[0]);
                    for a in &args[1..] {
                        cmd.arg(a);
                    }
                    if cmd.query::<Value>(&mut c).is_err() {
                        return;
                    }
                    field(&mut acked.lock().unwrap()[t]);
                }
            })
        })
        .collect();
    (handles, acked)
}

/// Checks that every acknowledged write is on `s`; returns how many were checked.
fn check_acked(s: &TestServer, acked: &[Acked]) -> u64 {
    let mut c = s.conn();
    let mut checked = 0;
    for (t, a) in acked.iter().enumerate() {
        for i in 0..a.sets {
            let v: Option<u64> = redis::cmd("GET")
                .arg(format!("s:{t}:{i}"))
                .query(&mut c)
                .unwrap();
            assert_eq!(v, Some(i), "acknowledged SET s:{t}:{i} lost");
        }
        let n: u64 = redis::cmd("GET")
            .arg(format!("n:{t}"))
            .query::<Option<u64>>(&mut c)
            .unwrap()
            .unwrap_or(0);
        // One more INCR may have been applied without its reply arriving.
        assert!(
            n == a.incrs || n == a.incrs + 1,
            "n:{t} is {n} after {} acknowledged INCRs",
            a.incrs
        );
        let list: Vec<u64> = redis::cmd("LRANGE")
            .arg(format!("l:{t}"))
            .arg(0)
            .arg(-1)
            .query(&mut c)
            .unwrap();
        assert!(
            list.len() as u64 >= a.pushes,
            "l:{t} has {} of {} acknowledged RPUSHes",
            list.len(),
            a.pushes
        );
        assert!(list.iter().enumerate().all(|(i, &v)| v == i as u64));
        checked += a.sets + a.incrs + a.pushes;
    }
    checked
}

/// Lets the writers run until they had `n` writes acknowledged in all.
fn wait_for_acks(acked: &Mutex<Vec<Acked>>, n: u64) {
    wait_until("writes to be acknowledged", || {
        let total: u64 = acked
            .lock()
            .unwrap()
            .iter()
            .map(|a| a.sets + a.incrs + a.pushes)
            .sum();
        if total >= n {
            Ok(())
        } else {
            Err(format!("{total} acknowledged"))
        }
    });
}

#[test]
fn binlog_fsync_is_a_runtime_setting_with_appendfsync_as_its_alias() {
    let s = TestServer::start_with(&[]);
    let get = |name: &str| -> Vec<String> { s.q(&["CONFIG", "GET", name]) };
    assert_eq!(get("binlog-fsync"), ["binlog-fsync", "everysec"]);
    assert_eq!(get("appendfsync"), ["appendfsync", "everysec"]);
    let _: () = s.q(&["CONFIG", "SET", "appendfsync", "always"]);
    assert_eq!(get("binlog-fsync"), ["binlog-fsync", "always"]);
    assert_eq!(info(&s, "persistence")["binlog_fsync"], "always");
    let _: () = s.q(&["CONFIG", "SET", "binlog-fsync", "no"]);
    assert_eq!(get("appendfsync"), ["appendfsync", "no"]);
    let mut c = s.conn();
    let e = cmd::<Value>(&mut c, &["CONFIG", "SET", "binlog-fsync", "sometimes"]).unwrap_err();
    assert!(e.to_string().contains("must be one of"), "{e}");
}

#[test]
fn always_fsyncs_before_the_reply() {
    let s = TestServer::start_with(&["--binlog-fsync", "always"]);
    let before = info_u64(&s, "persistence", "binlog_fsyncs");
    let mut c = s.conn();
    for i in 0..20 {
        let _: () = redis::cmd("SET").arg("k").arg(i).query(&mut c).unwrap();
        let offset = info_u64(&s, "replication", "binlog_offset");
        assert_eq!(
            info_u64(&s, "persistence", "binlog_durable_offset"),
            offset,
            "the write was acknowledged before it was fsynced"
        );
    }
    assert!(info_u64(&s, "persistence", "binlog_fsyncs") >= before + 20);
}

#[test]
fn acknowledged_writes_survive_a_power_loss_with_always() {
    let mut s = TestServer::start_with(&["--binlog-fsync", "always"]);
    let (writers, acked) = spawn_writers(&s, 16);
    wait_for_acks(&acked, 3000);
    power_loss_and_restart(&mut s);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let checked = check_acked(&s, &acked);
    eprintln!("{checked} acknowledged writes checked after the power loss");
    assert!(checked >= 3000);
}

#[test]
fn always_set_at_run_time_protects_the_next_writes() {
    let mut s = TestServer::start_with(&["--binlog-fsync", "no"]);
    let _: () = s.q(&["CONFIG", "SET", "binlog-fsync", "always"]);
    populate(&s, "k", 100);
    power_loss_and_restart(&mut s);
    assert_eq!(s.q::<i64>(&["DBSIZE"]), 100);
}

#[test]
fn a_power_loss_with_no_loses_the_writes_the_disk_did_not_get() {
    let mut s = TestServer::start_with(&["--binlog-fsync", "no"]);
    populate(&s, "k", 100);
    power_loss_and_restart(&mut s);
    assert_eq!(s.q::<i64>(&["DBSIZE"]), 0);
}

#[test]
fn everysec_makes_writes_durable_within_a_second_or_so() {
    let mut s = TestServer::start_with(&[]);
    let before = info_u64(&s, "persistence", "binlog_fsyncs");
    populate(&s, "k", 100);
    let offset = info_u64(&s, "replication", "binlog_offset");
    wait_until("the WAL syncer", || {
        let durable = info_u64(&s, "persistence", "binlog_durable_offset");
        if durable >= offset {
            Ok(())
        } else {
            Err(format!("durable {durable} of {offset}"))
        }
    });
    assert!(info_u64(&s, "persistence", "binlog_fsyncs") > before);
    power_loss_and_restart(&mut s);
    assert_eq!(s.q::<i64>(&["DBSIZE"]), 100);
}

#[test]
fn writes_acknowledged_by_a_master_with_always_survive_its_power_loss_on_the_slave_too() {
    let mut master = TestServer::start_with(&["--binlog-fsync", "always"]);
    let slave = TestServer::slave_of(&master, &[]);
    let (writers, acked) = spawn_writers(&master, 16);
    wait_for_acks(&acked, 3000);
    power_loss_and_restart(&mut master);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let checked = check_acked(&master, &acked);
    wait_in_sync(&master, &slave);
    assert_eq!(check_acked(&slave, &acked), checked);
    eprintln!("{checked} acknowledged writes checked on the master and on the slave");
}

#[test]
fn a_crash_starts_a_new_replication_id_and_a_clean_stop_does_not() {
    let mut s = TestServer::start_with(&[]);
    let id = |s: &TestServer| info(s, "replication")["master_replid"].clone();
    populate(&s, "k", 10);
    let first = id(&s);
    s.restart();
    assert_eq!(id(&s), first, "a clean restart keeps the replication id");
    let offset = info_u64(&s, "replication", "binlog_offset");
    s.kill9();
    s.restart();
    let repl = info(&s, "replication");
    assert_ne!(repl["master_replid"], first);
    assert_eq!(repl["master_replid2"], first);
    assert_eq!(repl["second_repl_offset"], (offset + 1).to_string());
}

/// A slave received writes that its master then lost in a power cut; the master, restarted,
/// writes other data at the same binlog positions. The slave must not resume on top of what
/// it has: it makes a full sync and ends up with exactly the master's data.
#[test]
fn a_slave_ahead_of_a_master_that_lost_its_binlog_tail_makes_a_full_sync() {
    let mut master = TestServer::start_with(&["--binlog-fsync", "always"]);
    let mut slave = TestServer::slave_of(&master, &[]);
    populate(&master, "kept", 100);
    wait_in_sync(&master, &slave);
    let _: () = master.q(&["CONFIG", "SET", "binlog-fsync", "no"]);
    populate(&master, "lost", 200);
    wait_in_sync(&master, &slave);
    let slave_position = info_u64(&slave, "replication", "master_repl_offset");
    slave.terminate();

    power_loss_and_restart(&mut master);
    assert_eq!(master.q::<Option<String>>(&["GET", "lost:0"]), None);
    assert_eq!(master.q::<i64>(&["DBSIZE"]), 100);
    populate(&master, "other", 300);
    assert!(info_u64(&master, "replication", "binlog_offset") > slave_position);
    let full_before = info_u64(&master, "stats", "sync_full");

    slave.restart();
    wait_in_sync(&master, &slave);
    assert_eq!(slave.q::<Option<String>>(&["GET", "lost:0"]), None);
    assert_eq!(slave.q::<i64>(&["DBSIZE"]), 400);
    assert_eq!(info_u64(&master, "stats", "sync_full"), full_before + 1);
}

/// A slave that is not past what the crashed master kept still holds a prefix of its data:
/// it resumes incrementally under the master's new replication id.
#[test]
fn a_slave_behind_what_a_crashed_master_kept_resumes_incrementally() {
    let mut master = TestServer::start_with(&["--binlog-fsync", "always"]);
    let mut slave = TestServer::slave_of(&master, &[]);
    populate(&master, "a", 100);
    wait_in_sync(&master, &slave);
    slave.terminate();
    populate(&master, "b", 100);
    let old_id = info(&master, "replication")["master_replid"].clone();
    power_loss_and_restart(&mut master);
    assert_eq!(info(&master, "replication")["master_replid2"], old_id);
    populate(&master, "c", 100);
    let full_before = info_u64(&master, "stats", "sync_full");
    slave.restart();
    wait_in_sync(&master, &slave);
    assert_eq!(slave.q::<i64>(&["DBSIZE"]), 300);
    assert_eq!(info_u64(&master, "stats", "sync_full"), full_before);
    assert!(info_u64(&master, "stats", "sync_partial_ok") >= 1);
    // It follows the new history from now on, across a restart too.
    slave.restart();
    populate(&master, "d", 10);
    wait_in_sync(&master, &slave);
    assert_eq!(info_u64(&master, "stats", "sync_full"), full_before);
}
