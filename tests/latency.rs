//! The latency monitor (LATENCY LATEST/HISTORY/RESET/GRAPH/DOCTOR), the per-command latency
//! histograms (LATENCY HISTOGRAM) and INFO latencystats, as Redis 7 answers them.

mod common;

use std::time::Duration;

use common::{call, err, int, read_until, TestServer};
use redis::Value;

/// LATENCY LATEST as (event, time, latest ms, max ms) rows.
fn latest(c: &mut redis::Connection) -> Vec<(String, i64, i64, i64)> {
    call(c, &["LATENCY", "LATEST"])
}

/// The LATENCY LATEST row of `event`. Other events (a slow WAL write on a busy machine) may
/// appear beside it; tests look at the one they cause.
fn latest_of(c: &mut redis::Connection, event: &str) -> Option<(String, i64, i64, i64)> {
    latest(c).into_iter().find(|r| r.0 == event)
}

/// LATENCY HISTOGRAM as (command, calls) pairs, in reply order.
fn histogram_calls(c: &mut redis::Connection, args: &[&str]) -> Vec<(String, i64)> {
    let mut full = vec!["LATENCY", "HISTOGRAM"];
    full.extend_from_slice(args);
    let reply: Value = call(c, &full);
    let Value::Array(items) = reply else {
        panic!("histogram reply is not an array: {reply:?}");
    };
    items
        .chunks(2)
        .map(|pair| {
            let name: String = redis::from_redis_value(pair[0].clone()).unwrap();
            let fields: Vec<Value> = redis::from_redis_value(pair[1].clone()).unwrap();
            assert_eq!(
                redis::from_redis_value::<String>(fields[0].clone()).unwrap(),
                "calls"
            );
            assert_eq!(
                redis::from_redis_value::<String>(fields[2].clone()).unwrap(),
                "histogram_usec"
            );
            (name, redis::from_redis_value(fields[1].clone()).unwrap())
        })
        .collect()
}

#[test]
fn threshold_zero_records_no_spike() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        call::<Vec<String>>(&mut c, &["CONFIG", "GET", "latency-monitor-threshold"])[1],
        "0"
    );
    let _: () = call(&mut c, &["DEBUG", "SLEEP", "0.1"]);
    assert!(latest(&mut c).is_empty());
    let history: Vec<(i64, i64)> = call(&mut c, &["LATENCY", "HISTORY", "command"]);
    assert!(history.is_empty());
}

#[test]
fn a_command_above_the_threshold_shows_in_latest_and_history() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = call(
        &mut c,
        &["CONFIG", "SET", "latency-monitor-threshold", "50"],
    );
    let _: () = call(&mut c, &["DEBUG", "SLEEP", "0.1"]);
    let (_, time, last, max) = latest_of(&mut c, "command").expect("a command spike");
    assert!((100..1000).contains(&last), "{last}");
    assert_eq!(max, last);
    let now: Vec<String> = call(&mut c, &["TIME"]);
    let now: i64 = now[0].parse().unwrap();
    assert!((now - time).abs() <= 2, "{now} vs {time}");
    let history: Vec<(i64, i64)> = call(&mut c, &["LATENCY", "HISTORY", "command"]);
    assert_eq!(history.first(), Some(&(time, last)), "{history:?}");
}

#[test]
fn a_second_keeps_its_largest_spike() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = call(
        &mut c,
        &["CONFIG", "SET", "latency-monitor-threshold", "20"],
    );
    for secs in ["0.03", "0.08", "0.03"] {
        let _: () = call(&mut c, &["DEBUG", "SLEEP", secs]);
    }
    let history: Vec<(i64, i64)> = call(&mut c, &["LATENCY", "HISTORY", "command"]);
    // The three sleeps may straddle a second boundary; the largest is kept in its second.
    assert!(!history.is_empty() && history.len() <= 2, "{history:?}");
    assert!(history.iter().any(|&(_, ms)| ms >= 80), "{history:?}");
    let max = latest_of(&mut c, "command").unwrap().3;
    assert!(max >= 80);
}

#[test]
fn reset_clears_events() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = call(
        &mut c,
        &["CONFIG", "SET", "latency-monitor-threshold", "10"],
    );
    let _: () = call(&mut c, &["DEBUG", "SLEEP", "0.02"]);
    assert_eq!(int(&mut c, &["LATENCY", "RESET", "no-such-event"]), 0);
    assert!(latest_of(&mut c, "command").is_some());
    assert_eq!(int(&mut c, &["LATENCY", "RESET", "command"]), 1);
    assert!(latest_of(&mut c, "command").is_none());
    let _: () = call(&mut c, &["DEBUG", "SLEEP", "0.02"]);
    assert!(int(&mut c, &["LATENCY", "RESET"]) >= 1);
    // With the monitor off nothing comes back after a reset.
    let _: () = call(&mut c, &["CONFIG", "SET", "latency-monitor-threshold", "0"]);
    let _: i64 = call(&mut c, &["LATENCY", "RESET"]);
    let _: () = call(&mut c, &["DEBUG", "SLEEP", "0.02"]);
    assert!(latest(&mut c).is_empty());
}

#[test]
fn graph_and_doctor_describe_the_spikes() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["LATENCY", "GRAPH", "command"]),
        "ERR No samples available for event 'command'"
    );
    let calm: String = call(&mut c, &["LATENCY", "DOCTOR"]);
    assert!(calm.contains("no latency spike"), "{calm}");
    let _: () = call(
        &mut c,
        &["CONFIG", "SET", "latency-monitor-threshold", "10"],
    );
    let _: () = call(&mut c, &["DEBUG", "SLEEP", "0.03"]);
    let graph: String = call(&mut c, &["LATENCY", "GRAPH", "command"]);
    assert!(graph.starts_with("command - high "), "{graph}");
    assert!(graph.contains(&"-".repeat(80)), "{graph}");
    let report: String = call(&mut c, &["LATENCY", "DOCTOR"]);
    assert!(report.contains(". command: 1 latency spikes"), "{report}");
}

#[test]
fn histogram_counts_calls_per_command() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = call(&mut c, &["CONFIG", "RESETSTAT"]);
    let _: () = call(&mut c, &["SET", "a", "1"]);
    let _: () = call(&mut c, &["SET", "b", "2"]);
    let _: Option<String> = call(&mut c, &["GET", "a"]);
    let _: i64 = call(&mut c, &["CLIENT", "ID"]);
    let mut only = histogram_calls(&mut c, &["set", "get", "no-such-command"]);
    only.sort();
    assert_eq!(only, vec![("get".into(), 1), ("set".into(), 2)]);
    // A container lists its subcommands that ran.
    assert_eq!(
        histogram_calls(&mut c, &["client"]),
        vec![("client|id".into(), 1)]
    );
    let all = histogram_calls(&mut c, &[]);
    assert!(all.contains(&("config|resetstat".into(), 1)), "{all:?}");
    let _: () = call(&mut c, &["CONFIG", "RESETSTAT"]);
    assert!(histogram_calls(&mut c, &["set"]).is_empty());
}

#[test]
fn histogram_buckets_are_cumulative_powers_of_two() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = call(&mut c, &["DEBUG", "SLEEP", "0.01"]);
    let _: () = call(&mut c, &["DEBUG", "SLEEP", "0"]);
    let reply: Vec<Value> = call(&mut c, &["LATENCY", "HISTOGRAM", "debug"]);
    let fields: Vec<Value> = redis::from_redis_value(reply[1].clone()).unwrap();
    let buckets: Vec<i64> = redis::from_redis_value(fields[3].clone()).unwrap();
    let pairs: Vec<(i64, i64)> = buckets.chunks(2).map(|p| (p[0], p[1])).collect();
    assert!(pairs.len() >= 2, "{pairs:?}");
    assert!(pairs.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1));
    assert_eq!(pairs.last().unwrap().1, 2);
    // A 10 ms sleep lands in the step ending at 2^24 ns, which Redis labels 16908 us (the
    // step's highest value at two significant digits).
    assert_eq!(pairs.last().unwrap().0, 16_908);
}

#[test]
fn histogram_is_a_map_in_resp3() {
    let s = TestServer::start();
    let mut raw = s.raw();
    use std::io::Write;
    raw.write_all(b"HELLO 3\r\n").unwrap();
    read_until(&mut raw, b"modules\r\n*0\r\n");
    raw.write_all(b"SET k v\r\nLATENCY HISTOGRAM set\r\n")
        .unwrap();
    let got = read_until(&mut raw, b"\r\n:1\r\n");
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with(
            "+OK\r\n%1\r\n$3\r\nset\r\n%2\r\n$5\r\ncalls\r\n:1\r\n$14\r\nhistogram_usec\r\n%1\r\n:"
        ),
        "{text:?}"
    );
}

#[test]
fn info_latencystats_reports_the_configured_percentiles() {
    let s = TestServer::start();
    let mut c = s.conn();
    for i in 0..50 {
        let _: () = call(&mut c, &["SET", &format!("k{i}"), "v"]);
    }
    let info: String = call(&mut c, &["INFO", "latencystats"]);
    assert!(info.starts_with("# Latencystats\r\n"), "{info}");
    let line = info
        .lines()
        .find_map(|l| l.strip_prefix("latency_percentiles_usec_set:"))
        .unwrap_or_else(|| panic!("{info}"));
    let values: Vec<(&str, f64)> = line
        .split(',')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k, v.parse().unwrap())
        })
        .collect();
    assert_eq!(
        values.iter().map(|v| v.0).collect::<Vec<_>>(),
        ["p50", "p99", "p99.9"]
    );
    assert!(values[0].1 > 0.0 && values[0].1 <= values[1].1 && values[1].1 <= values[2].1);
    // Not in the default INFO, but in INFO ALL, as in Redis.
    let default: String = call(&mut c, &["INFO"]);
    assert!(!default.contains("latency_percentiles_usec_"));
    let all: String = call(&mut c, &["INFO", "ALL"]);
    assert!(all.contains("latency_percentiles_usec_set:"));

    let _: () = call(
        &mut c,
        &[
            "CONFIG",
            "SET",
            "latency-tracking-info-percentiles",
            "90 100",
        ],
    );
    let line: String = common::info_field(&mut c, "latencystats", "latency_percentiles_usec_set");
    assert!(
        line.starts_with("p90=") && line.contains(",p100="),
        "{line}"
    );
    assert!(err(
        &mut c,
        &["CONFIG", "SET", "latency-tracking-info-percentiles", "101"]
    )
    .contains("Invalid latency-tracking-info-percentiles parameters"));
}

#[test]
fn latency_tracking_no_stops_recording() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = call(&mut c, &["CONFIG", "SET", "latency-tracking", "no"]);
    let _: () = call(&mut c, &["SET", "a", "1"]);
    let _: () = call(&mut c, &["CONFIG", "SET", "latency-tracking", "yes"]);
    assert!(histogram_calls(&mut c, &["set"]).is_empty());
    let info: String = call(&mut c, &["INFO", "latencystats"]);
    assert!(!info.contains("latency_percentiles_usec_set"), "{info}");
}

#[test]
fn expire_cycles_are_not_recorded_with_the_monitor_off() {
    let s = TestServer::start();
    let mut c = s.conn();
    for i in 0..200 {
        let _: () = call(&mut c, &["SET", &format!("e{i}"), "v", "PX", "1"]);
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(latest(&mut c).iter().all(|r| r.0 != "expire-cycle"));
}

#[test]
fn help_and_arity_errors_match_redis() {
    let s = TestServer::start();
    let mut c = s.conn();
    let help: Vec<String> = call(&mut c, &["LATENCY", "HELP"]);
    assert!(help[0].starts_with("LATENCY <subcommand>"));
    assert!(help.iter().any(|l| l.starts_with("HISTOGRAM")));
    assert_eq!(
        err(&mut c, &["LATENCY", "HELP", "xxx"]),
        "ERR wrong number of arguments for 'latency|help' command"
    );
    assert_eq!(
        err(&mut c, &["LATENCY", "NOPE"]),
        "ERR unknown subcommand 'NOPE'. Try LATENCY HELP."
    );
}

#[test]
fn reclaiming_a_big_expired_collection_is_an_expire_cycle_event() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = call(&mut c, &["CONFIG", "SET", "latency-monitor-threshold", "1"]);
    let mut pipe = redis::pipe();
    for chunk in 0..100 {
        let mut sadd = redis::cmd("SADD");
        sadd.arg("big");
        for i in chunk * 1000..(chunk + 1) * 1000 {
            sadd.arg(i);
        }
        pipe.add_command(sadd).ignore();
    }
    pipe.query::<()>(&mut c).expect("fill");
    assert_eq!(int(&mut c, &["PEXPIRE", "big", "1"]), 1);
    // Its 100,000 members are compacted away (a flush and a compaction, well over 1 ms)
    // before the key goes.
    common::wait_until("the set to expire", || int(&mut c, &["DBSIZE"]) == 0);
    let (_, _, last, max) = latest_of(&mut c, "expire-cycle").expect("an expire-cycle event");
    assert!(last >= 1 && max >= last, "{last} {max}");
}

#[test]
fn a_long_eviction_cycle_is_an_event() {
    let s = TestServer::start();
    let mut c = s.conn();
    common::set_numbered(&mut c, "k", 2000);
    for (name, value) in [
        ("maxmemory-policy", "allkeys-random"),
        ("maxmemory-samples", "64"),
        ("latency-monitor-threshold", "1"),
    ] {
        let _: () = call(&mut c, &["CONFIG", "SET", name, value]);
    }
    // Every key must go: 256 per cycle, each chosen from a sample of 64 read from disk.
    let _: () = call(&mut c, &["CONFIG", "SET", "maxmemory", "1"]);
    let _: () = call(&mut c, &["CONFIG", "SET", "maxmemory", "0"]);
    assert!(
        latest_of(&mut c, "eviction-cycle").is_some(),
        "{:?}",
        latest(&mut c)
    );
}
