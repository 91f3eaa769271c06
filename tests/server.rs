//! Server commands: COMMAND, INFO, SLOWLOG, DEBUG, TIME, LASTSAVE, SAVE, BGSAVE, SHUTDOWN.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{cmd, err, get, TestServer};
use redis::Value;

fn info(conn: &mut redis::Connection, section: &str) -> String {
    let args: Vec<&str> = if section.is_empty() {
        vec!["INFO"]
    } else {
        vec!["INFO", section]
    };
    cmd::<String>(conn, &args).expect("INFO")
}

/// The `field:value` pairs of an INFO reply.
fn info_fields(text: &str) -> HashMap<String, String> {
    text.split("\r\n")
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn headers(text: &str) -> Vec<String> {
    text.split("\r\n")
        .filter(|l| l.starts_with("# "))
        .map(|l| l[2..].to_string())
        .collect()
}

fn bulk_text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        other => panic!("expected a string, got {other:?}"),
    }
}

fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) | Value::Set(a) => a,
        other => panic!("expected an array, got {other:?}"),
    }
}

fn texts(v: &Value) -> Vec<String> {
    items(v).iter().map(bulk_text).collect()
}

// ---------------------------------------------------------------- COMMAND

#[test]
fn command_count_matches_command_list_top_level() {
    let s = TestServer::start();
    let mut c = s.conn();
    let count: i64 = cmd(&mut c, &["COMMAND", "COUNT"]).unwrap();
    let all: Value = cmd(&mut c, &["COMMAND"]).unwrap();
    assert!(count > 10);
    assert_eq!(items(&all).len() as i64, count);
}

#[test]
fn command_count_rejects_extra_arguments() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["COMMAND", "COUNT", "x"]),
        "ERR wrong number of arguments for 'command|count' command"
    );
}

#[test]
fn command_unknown_subcommand() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["COMMAND", "FOO"]),
        "ERR unknown subcommand 'FOO'. Try COMMAND HELP."
    );
}

#[test]
fn command_info_get_has_redis7_layout() {
    let s = TestServer::start();
    let mut c = s.conn();
    let v: Value = cmd(&mut c, &["COMMAND", "INFO", "get"]).unwrap();
    let entry = &items(&v)[0];
    let f = items(entry);
    assert_eq!(f.len(), 10);
    assert_eq!(bulk_text(&f[0]), "get");
    assert_eq!(f[1], Value::Int(2));
    assert_eq!(texts(&f[2]), vec!["readonly", "fast"]);
    assert_eq!(
        (&f[3], &f[4], &f[5]),
        (&Value::Int(1), &Value::Int(1), &Value::Int(1))
    );
    assert_eq!(texts(&f[6]), vec!["@read", "@string", "@fast"]);
    assert!(items(&f[7]).is_empty());
    assert_eq!(items(&f[8]).len(), 1);
    assert!(items(&f[9]).is_empty());
}

#[test]
fn command_info_unknown_is_nil_and_name_is_case_insensitive() {
    let s = TestServer::start();
    let mut c = s.conn();
    let v: Value = cmd(&mut c, &["COMMAND", "INFO", "nosuchcmd", "GET"]).unwrap();
    let list = items(&v);
    assert_eq!(list[0], Value::Nil);
    assert_eq!(bulk_text(&items(&list[1])[0]), "get");
}

#[test]
fn command_info_shows_subcommands_of_containers() {
    let s = TestServer::start();
    let mut c = s.conn();
    let v: Value = cmd(&mut c, &["COMMAND", "INFO", "config", "config|get"]).unwrap();
    let config = items(&items(&v)[0]);
    assert_eq!(config[1], Value::Int(-2));
    let subs: Vec<String> = items(&config[9])
        .iter()
        .map(|s| bulk_text(&items(s)[0]))
        .collect();
    assert!(subs.contains(&"config|get".to_string()), "{subs:?}");
    assert!(subs.contains(&"config|set".to_string()), "{subs:?}");
    let get = items(&items(&v)[1]);
    assert_eq!(bulk_text(&get[0]), "config|get");
    assert_eq!(get[1], Value::Int(-3));
}

#[test]
fn command_info_mset_reports_negative_last_key() {
    let s = TestServer::start();
    let mut c = s.conn();
    let v: Value = cmd(&mut c, &["COMMAND", "INFO", "mset"]).unwrap();
    let f = items(&items(&v)[0]);
    assert_eq!(
        (&f[3], &f[4], &f[5]),
        (&Value::Int(1), &Value::Int(-1), &Value::Int(2))
    );
}

#[test]
fn command_docs_gives_summary_and_group() {
    let s = TestServer::start();
    let mut c = s.conn();
    let v: Value = cmd(&mut c, &["COMMAND", "DOCS", "get", "nosuchcmd"]).unwrap();
    // RESP2: flat [name, docs].
    let list = items(&v);
    assert_eq!(list.len(), 2);
    assert_eq!(bulk_text(&list[0]), "get");
    let docs = texts_pairs(&list[1]);
    assert_eq!(docs.get("group").map(String::as_str), Some("string"));
    assert_eq!(docs.get("since").map(String::as_str), Some("1.0.0"));
    assert!(!docs["summary"].is_empty());
}

/// Scalar fields of a docs map (RESP2 flat array or RESP3 map).
fn texts_pairs(v: &Value) -> HashMap<String, String> {
    let mut out = HashMap::new();
    match v {
        Value::Map(pairs) => {
            for (k, val) in pairs {
                if let Value::BulkString(_) | Value::SimpleString(_) = val {
                    out.insert(bulk_text(k), bulk_text(val));
                }
            }
        }
        other => {
            for pair in items(other).chunks(2) {
                if let [k, val @ (Value::BulkString(_) | Value::SimpleString(_))] = pair {
                    out.insert(bulk_text(k), bulk_text(val));
                }
            }
        }
    }
    out
}

#[test]
fn command_list_includes_subcommands_and_filters() {
    let s = TestServer::start();
    let mut c = s.conn();
    let all: Vec<String> = cmd(&mut c, &["COMMAND", "LIST"]).unwrap();
    assert!(all.contains(&"get".to_string()));
    assert!(all.contains(&"config|set".to_string()));
    let pat: Vec<String> = cmd(
        &mut c,
        &["COMMAND", "LIST", "FILTERBY", "PATTERN", "config*"],
    )
    .unwrap();
    let mut pat_sorted = pat.clone();
    pat_sorted.sort();
    assert_eq!(
        pat_sorted,
        vec![
            "config",
            "config|get",
            "config|help",
            "config|resetstat",
            "config|rewrite",
            "config|set"
        ]
    );
    let admin: Vec<String> =
        cmd(&mut c, &["COMMAND", "LIST", "FILTERBY", "ACLCAT", "admin"]).unwrap();
    assert!(admin.contains(&"config|get".to_string()));
    assert!(!admin.contains(&"get".to_string()));
    let module: Vec<String> = cmd(&mut c, &["COMMAND", "LIST", "FILTERBY", "MODULE", "x"]).unwrap();
    assert!(module.is_empty());
}

#[test]
fn command_list_bad_filter_is_syntax_error() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(err(&mut c, &["COMMAND", "LIST", "bad"]), "ERR syntax error");
    assert_eq!(
        err(&mut c, &["COMMAND", "LIST", "FILTERBY", "nope", "x"]),
        "ERR syntax error"
    );
}

#[test]
fn command_getkeys_returns_key_arguments() {
    let s = TestServer::start();
    let mut c = s.conn();
    let keys: Vec<String> = cmd(&mut c, &["COMMAND", "GETKEYS", "SET", "k", "v"]).unwrap();
    assert_eq!(keys, vec!["k"]);
    let keys: Vec<String> =
        cmd(&mut c, &["COMMAND", "GETKEYS", "mset", "a", "1", "b", "2"]).unwrap();
    assert_eq!(keys, vec!["a", "b"]);
}

#[test]
fn command_getkeys_errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["COMMAND", "GETKEYS", "nosuch", "a"]),
        "ERR Invalid command specified"
    );
    assert_eq!(
        err(&mut c, &["COMMAND", "GETKEYS", "config", "get", "x"]),
        "ERR The command has no key arguments"
    );
    assert_eq!(
        err(&mut c, &["COMMAND", "GETKEYS", "set", "a"]),
        "ERR Invalid number of arguments specified for command"
    );
    assert_eq!(
        err(&mut c, &["COMMAND", "GETKEYS", "get"]),
        "ERR wrong number of arguments for 'command|getkeys' command"
    );
}

/// GETKEYSANDFLAGS as (key, flags) pairs.
fn keys_and_flags(c: &mut redis::Connection, command: &[&str]) -> Vec<(String, Vec<String>)> {
    let mut args = vec!["COMMAND", "GETKEYSANDFLAGS"];
    args.extend_from_slice(command);
    let v: Value = cmd(c, &args).unwrap();
    items(&v)
        .iter()
        .map(|pair| {
            let p = items(pair);
            (bulk_text(&p[0]), texts(&p[1]))
        })
        .collect()
}

fn pair(key: &str, flags: &[&str]) -> (String, Vec<String>) {
    (
        key.to_string(),
        flags.iter().map(|f| f.to_string()).collect(),
    )
}

#[test]
fn command_getkeysandflags_set_only_overwrites_without_get() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        keys_and_flags(&mut c, &["set", "k", "v", "EX", "10"]),
        vec![pair("k", &["OW", "update"])]
    );
    assert_eq!(
        keys_and_flags(&mut c, &["SET", "k", "v", "xx", "GET"]),
        vec![pair("k", &["RW", "access", "update"])]
    );
}

#[test]
fn command_getkeysandflags_uses_each_commands_key_flags() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        keys_and_flags(&mut c, &["mset", "a", "1", "b", "2"]),
        vec![pair("a", &["OW", "update"]), pair("b", &["OW", "update"])]
    );
    assert_eq!(
        keys_and_flags(&mut c, &["renamenx", "from", "to"]),
        vec![
            pair("from", &["RW", "access", "delete"]),
            pair("to", &["OW", "insert"])
        ]
    );
    assert_eq!(
        keys_and_flags(&mut c, &["unlink", "x"]),
        vec![pair("x", &["RM", "delete"])]
    );
    assert_eq!(
        keys_and_flags(&mut c, &["get", "x"]),
        vec![pair("x", &["RO", "access"])]
    );
    assert_eq!(
        keys_and_flags(&mut c, &["incr", "n"]),
        vec![pair("n", &["RW", "access", "update"])]
    );
}

#[test]
fn command_info_copy_has_one_key_spec_per_key() {
    let s = TestServer::start();
    let mut c = s.conn();
    let v: Value = cmd(&mut c, &["COMMAND", "INFO", "copy"]).unwrap();
    let specs = items(&items(&items(&v)[0])[8]).to_vec();
    assert_eq!(specs.len(), 2);
    let flags: Vec<Vec<String>> = specs.iter().map(|s| texts(&items(s)[1])).collect();
    assert_eq!(flags, vec![vec!["RO", "access"], vec!["OW", "update"]]);
    // The destination's search starts at argument 2.
    let begin = items(&items(&specs[1])[3]).to_vec();
    assert_eq!(
        items(&begin[3]),
        &[Value::BulkString(b"index".to_vec()), Value::Int(2)]
    );
}

#[test]
fn command_info_set_key_spec_has_variable_flags() {
    let s = TestServer::start();
    let mut c = s.conn();
    let v: Value = cmd(&mut c, &["COMMAND", "INFO", "set"]).unwrap();
    let spec = items(&items(&items(&v)[0])[8])[0].clone();
    assert_eq!(
        texts(&items(&spec)[1]),
        vec!["RW", "access", "update", "variable_flags"]
    );
}

#[test]
fn command_info_save_and_bgsave_are_no_async_loading() {
    let s = TestServer::start();
    let mut c = s.conn();
    for name in ["save", "bgsave"] {
        let v: Value = cmd(&mut c, &["COMMAND", "INFO", name]).unwrap();
        let flags = texts(&items(&items(&v)[0])[2]);
        assert!(
            flags.contains(&"no_async_loading".to_string()),
            "{name}: {flags:?}"
        );
    }
}

// ---------------------------------------------------------------- MEMORY

#[test]
fn memory_usage_counts_key_and_value() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "small", "x"]).unwrap();
    let _: () = cmd(&mut c, &["SET", "big", &"y".repeat(10_000)]).unwrap();
    let small: i64 = cmd(&mut c, &["MEMORY", "USAGE", "small"]).unwrap();
    let big: i64 = cmd(&mut c, &["memory", "usage", "big", "SAMPLES", "0"]).unwrap();
    assert!(small > 2, "{small}");
    assert!((10_003..11_000).contains(&big), "{big}");
}

#[test]
fn memory_usage_of_missing_key_is_nil() {
    let s = TestServer::start();
    let mut c = s.conn();
    let v: Option<i64> = cmd(&mut c, &["MEMORY", "USAGE", "nothing"]).unwrap();
    assert_eq!(v, None);
}

#[test]
fn memory_usage_rejects_bad_options() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "k", "v"]).unwrap();
    for bad in [
        vec!["MEMORY", "USAGE", "k", "SAMPLES"],
        vec!["MEMORY", "USAGE", "k", "SAMPLES", "-1"],
        vec!["MEMORY", "USAGE", "k", "COUNT", "3"],
    ] {
        assert_eq!(err(&mut c, &bad), "ERR syntax error", "{bad:?}");
    }
    assert_eq!(
        err(&mut c, &["MEMORY", "USAGE", "k", "SAMPLES", "many"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut c, &["MEMORY", "USAGE"]),
        "ERR wrong number of arguments for 'memory|usage' command"
    );
}

#[test]
fn command_getkeys_finds_memory_usage_key() {
    let s = TestServer::start();
    let mut c = s.conn();
    let keys: Vec<String> = cmd(&mut c, &["COMMAND", "GETKEYS", "MEMORY", "USAGE", "key"]).unwrap();
    assert_eq!(keys, vec!["key"]);
}

#[test]
fn memory_stats_reports_key_count() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["MSET", "a", "1", "b", "2"]).unwrap();
    let v: Value = cmd(&mut c, &["MEMORY", "STATS"]).unwrap();
    let fields = items(&v);
    let at = fields
        .iter()
        .position(|f| matches!(f, Value::BulkString(b) if b == b"keys.count"))
        .expect("keys.count");
    assert_eq!(fields[at + 1], Value::Int(2));
}

#[test]
fn memory_doctor_purge_malloc_stats_and_help() {
    let s = TestServer::start();
    let mut c = s.conn();
    let doctor: String = cmd(&mut c, &["MEMORY", "DOCTOR"]).unwrap();
    assert!(doctor.starts_with("Hi Sam"));
    let _: () = cmd(&mut c, &["MEMORY", "PURGE"]).unwrap();
    let _: String = cmd(&mut c, &["MEMORY", "MALLOC-STATS"]).unwrap();
    let help: Vec<String> = cmd(&mut c, &["MEMORY", "HELP"]).unwrap();
    assert!(help[0].starts_with("MEMORY <subcommand>"));
    assert!(help.iter().any(|l| l.starts_with("USAGE <key>")));
    assert_eq!(
        err(&mut c, &["MEMORY", "NOPE"]),
        "ERR unknown subcommand 'NOPE'. Try MEMORY HELP."
    );
}

#[test]
fn command_help_lists_subcommands() {
    let s = TestServer::start();
    let mut c = s.conn();
    let lines: Vec<String> = cmd(&mut c, &["COMMAND", "HELP"]).unwrap();
    assert!(lines[0].starts_with("COMMAND <subcommand>"));
    assert!(lines.iter().any(|l| l.starts_with("GETKEYS")));
}

// ---------------------------------------------------------------- INFO

#[test]
fn info_default_sections_and_fields() {
    let s = TestServer::start();
    let mut c = s.conn();
    let text = info(&mut c, "");
    let h = headers(&text);
    for want in [
        "Server",
        "Clients",
        "Memory",
        "Persistence",
        "Stats",
        "Replication",
        "CPU",
        "Keyspace",
    ] {
        assert!(h.contains(&want.to_string()), "missing {want} in {h:?}");
    }
    assert!(!h.contains(&"Commandstats".to_string()));
    assert!(text.ends_with("\r\n"));
    let f = info_fields(&text);
    assert_eq!(f["redis_version"], "7.0.15");
    assert_eq!(f["tcp_port"], s.port.to_string());
    assert_eq!(f["role"], "master");
    assert_eq!(f["redis_mode"], "standalone");
    for field in [
        "pika_version",
        "process_id",
        "uptime_in_seconds",
        "connected_clients",
        "maxclients",
        "used_memory",
        "used_memory_rss",
        "maxmemory_policy",
        "loading",
        "rdb_last_save_time",
        "total_commands_processed",
        "instantaneous_ops_per_sec",
        "keyspace_hits",
        "expired_keys",
        "total_error_replies",
        "master_replid",
        "used_cpu_sys",
        "used_cpu_user",
    ] {
        assert!(f.contains_key(field), "missing {field}");
    }
    assert_eq!(f["master_replid"].len(), 40);
}

#[test]
fn info_single_section_only() {
    let s = TestServer::start();
    let mut c = s.conn();
    let text = info(&mut c, "CPU");
    assert_eq!(headers(&text), vec!["CPU"]);
}

#[test]
fn info_several_sections_in_canonical_order() {
    let s = TestServer::start();
    let mut c = s.conn();
    let text: String = cmd(&mut c, &["INFO", "keyspace", "server"]).unwrap();
    assert_eq!(headers(&text), vec!["Server", "Keyspace"]);
}

#[test]
fn info_unknown_section_is_empty() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(info(&mut c, "nosuchsection"), "");
}

#[test]
fn info_all_includes_commandstats_and_rocksdb() {
    let s = TestServer::start();
    let mut c = s.conn();
    let h = headers(&info(&mut c, "all"));
    assert!(h.contains(&"Commandstats".to_string()));
    assert!(h.contains(&"Errorstats".to_string()));
    assert!(h.contains(&"RocksDB".to_string()));
    let rocks = info_fields(&info(&mut c, "rocksdb"));
    assert!(rocks.contains_key("meta_estimate_num_keys"));
    assert!(rocks.contains_key("meta_num_running_compactions"));
}

#[test]
fn info_commandstats_counts_calls() {
    let s = TestServer::start();
    let mut c = s.conn();
    for _ in 0..3 {
        let _: () = cmd(&mut c, &["SET", "k", "v"]).unwrap();
    }
    let _: Value = cmd(&mut c, &["CONFIG", "GET", "port"]).unwrap();
    let f = info_fields(&info(&mut c, "commandstats"));
    assert!(
        f["cmdstat_set"].starts_with("calls=3,usec="),
        "{}",
        f["cmdstat_set"]
    );
    assert!(f["cmdstat_set"].contains(",rejected_calls=0,failed_calls=0"));
    assert!(f["cmdstat_config|get"].starts_with("calls=1,"));
}

#[test]
fn info_commandstats_counts_rejected_and_failed_calls() {
    let s = TestServer::start();
    let mut c = s.conn();
    err(&mut c, &["GET"]);
    let _: () = cmd(&mut c, &["SET", "n", "x"]).unwrap();
    err(&mut c, &["INCR", "n"]);
    let f = info_fields(&info(&mut c, "commandstats"));
    assert!(
        f["cmdstat_get"].contains("rejected_calls=1"),
        "{}",
        f["cmdstat_get"]
    );
    assert!(
        f["cmdstat_incr"].contains("failed_calls=1"),
        "{}",
        f["cmdstat_incr"]
    );
}

#[test]
fn info_errorstats_counts_errors_by_code() {
    let s = TestServer::start();
    let mut c = s.conn();
    // The client library's own handshake may have drawn errors: start from zero.
    let _: () = cmd(&mut c, &["CONFIG", "RESETSTAT"]).unwrap();
    err(&mut c, &["NOSUCHCOMMAND"]);
    err(&mut c, &["GET"]);
    let f = info_fields(&info(&mut c, "errorstats"));
    assert_eq!(f["errorstat_ERR"], "count=2");
    let stats = info_fields(&info(&mut c, "stats"));
    assert_eq!(stats["total_error_replies"], "2");
}

#[test]
fn info_keyspace_lists_non_empty_databases() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert!(info_fields(&info(&mut c, "keyspace")).is_empty());
    let _: () = cmd(&mut c, &["SET", "a", "1"]).unwrap();
    let _: () = cmd(&mut c, &["SET", "b", "2"]).unwrap();
    let _: () = cmd(&mut c, &["SELECT", "3"]).unwrap();
    let _: () = cmd(&mut c, &["SET", "c", "3", "EX", "100"]).unwrap();
    let f = info_fields(&info(&mut c, "keyspace"));
    // Redis' fields come first; the background recount's follow.
    assert!(
        f["db0"].starts_with("keys=2,expires=0,avg_ttl="),
        "{}",
        f["db0"]
    );
    assert!(
        f["db3"].starts_with("keys=1,expires=1,avg_ttl="),
        "{}",
        f["db3"]
    );
    assert_eq!(f.len(), 2);
}

#[test]
fn config_resetstat_zeroes_commandstats() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "k", "v"]).unwrap();
    err(&mut c, &["GET"]);
    let _: () = cmd(&mut c, &["CONFIG", "RESETSTAT"]).unwrap();
    let f = info_fields(&info(&mut c, "commandstats"));
    assert!(!f.contains_key("cmdstat_set"));
    assert!(info_fields(&info(&mut c, "errorstats")).is_empty());
}

#[test]
fn info_reply_is_verbatim_in_resp3() {
    use std::io::Write;
    let s = TestServer::start();
    let mut raw = s.raw();
    raw.write_all(b"HELLO 3\r\n").unwrap();
    let _ = common::read_at_least(&mut raw, 10);
    std::thread::sleep(Duration::from_millis(50));
    let out = common::raw_roundtrip(&mut raw, b"INFO cpu\r\n", 20);
    assert!(out.starts_with(b"="), "{:?}", String::from_utf8_lossy(&out));
    assert!(out.windows(9).any(|w| w == b"txt:# CPU"));
}

// ---------------------------------------------------------------- SLOWLOG

#[test]
fn slowlog_records_commands_when_threshold_is_zero() {
    let s = TestServer::start_with(&["--slowlog-log-slower-than", "0"]);
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SLOWLOG", "RESET"]).unwrap();
    let _: () = cmd(&mut c, &["SET", "foo", "bar"]).unwrap();
    let entries: Value = cmd(&mut c, &["SLOWLOG", "GET", "1"]).unwrap();
    let e = items(&items(&entries)[0]);
    assert_eq!(e.len(), 6);
    assert!(matches!(e[0], Value::Int(_)));
    assert!(matches!(e[1], Value::Int(t) if t > 1_600_000_000));
    assert!(matches!(e[2], Value::Int(_)));
    assert_eq!(texts(&e[3]), vec!["SET", "foo", "bar"]);
    assert!(bulk_text(&e[4]).starts_with("127.0.0.1:"));
    assert_eq!(bulk_text(&e[5]), "");
}

#[test]
fn slowlog_len_and_reset() {
    let s = TestServer::start_with(&["--slowlog-log-slower-than", "0"]);
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SLOWLOG", "RESET"]).unwrap();
    for _ in 0..3 {
        let _: Value = cmd(&mut c, &["PING"]).unwrap();
    }
    let len: i64 = cmd(&mut c, &["SLOWLOG", "LEN"]).unwrap();
    assert!(len >= 3, "{len}");
    let _: () = cmd(&mut c, &["SLOWLOG", "RESET"]).unwrap();
    let len: i64 = cmd(&mut c, &["SLOWLOG", "LEN"]).unwrap();
    // The RESET itself may be logged after it ran.
    assert!(len <= 1, "{len}");
}

#[test]
fn slowlog_is_empty_with_default_threshold() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "a", "b"]).unwrap();
    let len: i64 = cmd(&mut c, &["SLOWLOG", "LEN"]).unwrap();
    assert_eq!(len, 0);
}

#[test]
fn slowlog_get_count_validation() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["SLOWLOG", "GET", "-2"]),
        "ERR count should be greater than or equal to -1"
    );
    assert_eq!(
        err(&mut c, &["SLOWLOG", "GET", "abc"]),
        "ERR count should be greater than or equal to -1"
    );
    let all: Value = cmd(&mut c, &["SLOWLOG", "GET", "-1"]).unwrap();
    assert!(items(&all).is_empty());
    assert_eq!(
        err(&mut c, &["SLOWLOG", "FOO"]),
        "ERR unknown subcommand 'FOO'. Try SLOWLOG HELP."
    );
}

#[test]
fn slowlog_max_len_bounds_the_log() {
    let s = TestServer::start_with(&["--slowlog-log-slower-than", "0", "--slowlog-max-len", "2"]);
    let mut c = s.conn();
    for _ in 0..5 {
        let _: Value = cmd(&mut c, &["PING"]).unwrap();
    }
    let len: i64 = cmd(&mut c, &["SLOWLOG", "LEN"]).unwrap();
    assert_eq!(len, 2);
}

// ---------------------------------------------------------------- DEBUG

fn digest(conn: &mut redis::Connection) -> String {
    cmd(conn, &["DEBUG", "DIGEST"]).unwrap()
}

#[test]
fn debug_digest_of_empty_dataset_is_zeros() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(digest(&mut c), "0".repeat(40));
}

#[test]
fn debug_digest_agrees_on_same_data_and_changes_with_it() {
    let a = TestServer::start();
    let b = TestServer::start();
    let mut ca = a.conn();
    let mut cb = b.conn();
    // Same data written in a different order.
    for (k, v) in [("k1", "v1"), ("k2", "v2"), ("k3", "v3")] {
        let _: () = cmd(&mut ca, &["SET", k, v]).unwrap();
    }
    for (k, v) in [("k3", "v3"), ("k1", "v1"), ("k2", "v2")] {
        let _: () = cmd(&mut cb, &["SET", k, v]).unwrap();
    }
    let da = digest(&mut ca);
    assert_ne!(da, "0".repeat(40));
    assert_eq!(da, digest(&mut cb));
    let _: () = cmd(&mut cb, &["SET", "k2", "other"]).unwrap();
    assert_ne!(da, digest(&mut cb));
}

#[test]
fn debug_digest_value_per_key() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "a", "x"]).unwrap();
    let _: () = cmd(&mut c, &["SET", "b", "x"]).unwrap();
    let _: () = cmd(&mut c, &["SET", "c", "y"]).unwrap();
    let d: Vec<String> = cmd(&mut c, &["DEBUG", "DIGEST-VALUE", "a", "b", "c", "missing"]).unwrap();
    assert_eq!(d.len(), 4);
    assert_eq!(d[0], d[1]);
    assert_ne!(d[0], d[2]);
    assert_eq!(d[3], "0".repeat(40));
    let none: Vec<String> = cmd(&mut c, &["DEBUG", "DIGEST-VALUE"]).unwrap();
    assert!(none.is_empty());
}

/// The values below are what redis-server 7.0.15 answers for the same data, so digests can
/// be compared across the two servers.
#[test]
fn debug_digests_equal_redis_for_every_type() {
    let s = TestServer::start();
    let mut c = s.conn();
    for args in [
        &["SET", "a", "b"][..],
        &["RPUSH", "l", "x", "y", "7"],
        &["SADD", "s", "m", "5"],
        &["HSET", "h", "f", "v"],
        &["ZADD", "z", "1.5", "a", "inf", "b", "0.1", "c"],
        &["SET", "t", "v", "EX", "100"],
        &["SELECT", "2"],
        &["SET", "a", "b"],
        &["SELECT", "0"],
    ] {
        let _: Value = cmd(&mut c, args).unwrap();
    }
    let values: Vec<String> = cmd(
        &mut c,
        &["DEBUG", "DIGEST-VALUE", "a", "l", "s", "h", "z", "t"],
    )
    .unwrap();
    assert_eq!(
        values,
        [
            "b78559cd22bce6e6df712eb99ce7f3b08e8f8f1f",
            "96c9d4a508a2ddd84316750909ca50ef9c448148",
            "758080ef31f92644465752d2ba7b98182eb015ca",
            "90c76e9e9f4c62d642a34fc97c7dad503b51f906",
            "8df1fb02e599ff9385e352ab6b39c214f9acd502",
            "311b17018163335616e089f6b951c82c477335ac",
        ]
    );
    assert_eq!(digest(&mut c), "84af62f6bda124dd0dee7e10b023c7bfe013c151");
}

#[test]
fn debug_sleep_waits() {
    let s = TestServer::start();
    let mut c = s.conn();
    let start = Instant::now();
    let _: () = cmd(&mut c, &["DEBUG", "SLEEP", "0.1"]).unwrap();
    assert!(start.elapsed() >= Duration::from_millis(100));
    let _: () = cmd(&mut c, &["DEBUG", "SLEEP", "0"]).unwrap();
}

#[test]
fn debug_unknown_subcommand_and_reload() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["DEBUG", "foo"]),
        "ERR unknown subcommand or wrong number of arguments for 'foo'. Try DEBUG HELP."
    );
    assert_eq!(
        err(&mut c, &["DEBUG", "sleep"]),
        "ERR unknown subcommand or wrong number of arguments for 'sleep'. Try DEBUG HELP."
    );
    assert_eq!(
        err(&mut c, &["DEBUG", "LOADAOF"]),
        "ERR DEBUG LOADAOF is not supported"
    );
    // The data set is on disk already: RELOAD flushes and keeps every key.
    let _: () = cmd(&mut c, &["SET", "k", "v"]).unwrap();
    let _: () = cmd(&mut c, &["DEBUG", "RELOAD"]).unwrap();
    assert_eq!(get(&mut c, "k").as_deref(), Some("v"));
}

#[test]
fn debug_set_active_expire_toggles() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]).unwrap();
    let _: () = cmd(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]).unwrap();
}

// ---------------------------------------------------------------- TIME, SAVE

#[test]
fn time_returns_seconds_and_microseconds() {
    let s = TestServer::start();
    let mut c = s.conn();
    let t: Vec<String> = cmd(&mut c, &["TIME"]).unwrap();
    assert_eq!(t.len(), 2);
    let secs: u64 = t[0].parse().unwrap();
    let usecs: u64 = t[1].parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(secs.abs_diff(now) <= 2);
    assert!(usecs < 1_000_000);
    assert_eq!(
        err(&mut c, &["TIME", "x"]),
        "ERR wrong number of arguments for 'time' command"
    );
}

#[test]
fn save_updates_lastsave() {
    let s = TestServer::start();
    let mut c = s.conn();
    let before: i64 = cmd(&mut c, &["LASTSAVE"]).unwrap();
    let _: () = cmd(&mut c, &["SET", "k", "v"]).unwrap();
    let _: () = cmd(&mut c, &["SAVE"]).unwrap();
    let after: i64 = cmd(&mut c, &["LASTSAVE"]).unwrap();
    assert!(after >= before);
}

#[test]
fn bgsave_starts_and_rejects_arguments() {
    let s = TestServer::start();
    let mut c = s.conn();
    let r: String = cmd(&mut c, &["BGSAVE"]).unwrap();
    assert_eq!(r, "Background saving started");
    assert_eq!(err(&mut c, &["BGSAVE", "x"]), "ERR syntax error");
}

// ---------------------------------------------------------------- SHUTDOWN

#[test]
fn shutdown_exits_and_data_survives() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "persist", "yes"]).unwrap();
    // No reply: the connection just closes.
    let r = cmd::<Value>(&mut c, &["SHUTDOWN"]);
    assert!(r.is_err(), "{r:?}");
    assert!(s.wait_exit(Duration::from_secs(20)), "server did not exit");
    s.restart();
    let mut c = s.conn();
    let v: String = cmd(&mut c, &["GET", "persist"]).unwrap();
    assert_eq!(v, "yes");
}

#[test]
fn shutdown_nosave_exits_and_data_survives() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "persist", "wal"]).unwrap();
    let _ = cmd::<Value>(&mut c, &["SHUTDOWN", "NOSAVE"]);
    assert!(s.wait_exit(Duration::from_secs(20)), "server did not exit");
    s.restart();
    let mut c = s.conn();
    let v: String = cmd(&mut c, &["GET", "persist"]).unwrap();
    assert_eq!(v, "wal");
}

#[test]
fn shutdown_bad_arguments_keep_running() {
    let mut s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(err(&mut c, &["SHUTDOWN", "BOGUS"]), "ERR syntax error");
    assert_eq!(
        err(&mut c, &["SHUTDOWN", "SAVE", "NOSAVE"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["SHUTDOWN", "ABORT"]),
        "ERR No shutdown in progress."
    );
    assert!(s.is_running());
    let pong: String = cmd(&mut c, &["PING"]).unwrap();
    assert_eq!(pong, "PONG");
}

/// INFO persistence's rdb_changes_since_last_save.
fn changes_since_save(c: &mut redis::Connection) -> u64 {
    let info: String = cmd(c, &["INFO", "persistence"]).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("rdb_changes_since_last_save:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("rdb_changes_since_last_save in INFO persistence")
}

#[test]
fn writes_count_as_changes_until_save() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(changes_since_save(&mut c), 0);
    let _: () = cmd(&mut c, &["SET", "a", "1"]).unwrap();
    let _: () = cmd(&mut c, &["MSET", "b", "2", "c", "3"]).unwrap();
    let _: Option<String> = cmd(&mut c, &["GET", "a"]).unwrap();
    assert_eq!(changes_since_save(&mut c), 3);
    let _: () = cmd(&mut c, &["SAVE"]).unwrap();
    assert_eq!(changes_since_save(&mut c), 0);
}

#[test]
fn a_panicking_command_answers_an_error_and_the_server_lives_on() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "kept", "1"]).unwrap();
    let text = err(&mut c, &["DEBUG", "PANIC"]);
    assert!(text.starts_with("ERR "), "{text}");
    // The same connection, a new one, and the data all carry on.
    let pong: String = cmd(&mut c, &["PING"]).unwrap();
    assert_eq!(pong, "PONG");
    let mut other = s.conn();
    let v: Option<String> = cmd(&mut other, &["GET", "kept"]).unwrap();
    assert_eq!(v.as_deref(), Some("1"));
    let _: i64 = cmd(&mut other, &["INCR", "counter"]).unwrap();
}

#[test]
fn monitor_streams_other_clients_commands_after_its_ok() {
    let s = TestServer::start();
    let mut mon = s.raw();
    common::expect_raw(&mut mon, b"MONITOR\r\n", b"+OK\r\n");
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "k", "a \"b\""]).unwrap();
    let _: Vec<(String, String)> = cmd(&mut c, &["CONFIG", "GET", "port"]).unwrap();
    let _: Option<String> = cmd(&mut c, &["AUTH", "x"]).ok();
    let _: Option<String> = cmd(&mut c, &["GET", "k"]).unwrap();
    // Arguments are printed as the client sent them (this client sends upper-case names).
    let feed = String::from_utf8(common::read_until(&mut mon, b"\"GET\" \"k\"\r\n")).unwrap();
    assert!(feed.contains("\"SET\" \"k\" \"a \\\"b\\\"\"\r\n"), "{feed}");
    assert!(feed.contains("\"AUTH\" \"(redacted)\""), "{feed}");
    assert!(
        !feed.to_lowercase().contains("config"),
        "admin commands are not fed: {feed}"
    );
    assert!(
        feed.starts_with('+') && feed.contains("[0 127.0.0.1:"),
        "{feed}"
    );
}

#[test]
fn reset_ends_monitoring() {
    let s = TestServer::start();
    let mut mon = s.raw();
    common::expect_raw(&mut mon, b"MONITOR\r\n", b"+OK\r\n");
    common::expect_raw(&mut mon, b"RESET\r\n", b"+RESET\r\n");
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "k", "v"]).unwrap();
    common::expect_raw(&mut mon, b"PING\r\n", b"+PONG\r\n");
}
