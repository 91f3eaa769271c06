//! Introspection as Redis 7 clients see it: the MONITOR feed's order, CONFIG GET's names
//! (aliases, hidden directives), CONFIG SET's all-or-nothing rules and the port it listens on.

mod common;

use std::collections::HashMap;
use std::net::TcpStream;

use common::{cmd, err, TestServer};

/// Starts a monitor on `s` and returns its connection, past the `+OK`.
fn monitor(s: &TestServer) -> TcpStream {
    let mut mon = s.raw();
    common::expect_raw(&mut mon, b"MONITOR\r\n", b"+OK\r\n");
    mon
}

/// The feed lines received until one ends with `last` (the timestamps cut off).
fn feed_until(mon: &mut TcpStream, last: &str) -> Vec<String> {
    let bytes = common::read_until(mon, format!("{last}\r\n").as_bytes());
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| l.split_once(' ').map_or(l, |(_, rest)| rest).to_string())
        .collect()
}

fn config_get(c: &mut redis::Connection, patterns: &[&str]) -> HashMap<String, String> {
    let mut args = vec!["CONFIG", "GET"];
    args.extend_from_slice(patterns);
    cmd(c, &args).unwrap()
}

#[test]
fn monitor_shows_a_transactions_commands_between_multi_and_exec() {
    let s = TestServer::start();
    let mut mon = monitor(&s);
    let mut c = s.conn();
    let (): () = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("k")
        .arg("v")
        .ignore()
        .query(&mut c)
        .unwrap();
    let lines = feed_until(&mut mon, "\"EXEC\"");
    let names: Vec<&str> = lines
        .iter()
        .map(|l| l.split_once("] ").unwrap().1)
        .collect();
    assert_eq!(names, ["\"MULTI\"", "\"SET\" \"k\" \"v\"", "\"EXEC\""]);
}

#[test]
fn monitor_shows_a_blocked_command_once_and_a_paused_one_when_it_runs() {
    use std::io::Write;
    let s = TestServer::start();
    let mut mon = monitor(&s);
    let mut waiter = s.raw();
    waiter.write_all(b"BLPOP q 10\r\n").unwrap();
    assert_eq!(feed_until(&mut mon, "\"q\" \"10\"").len(), 1);
    let mut c = s.conn();
    let _: i64 = cmd(&mut c, &["LPUSH", "q", "a"]).unwrap();
    common::read_until(&mut waiter, b"$1\r\na\r\n");
    let _: () = cmd(&mut c, &["SET", "done", "1"]).unwrap();
    let lines = feed_until(&mut mon, "\"SET\" \"done\" \"1\"");
    let names: Vec<&str> = lines
        .iter()
        .map(|l| l.split_once("] ").unwrap().1)
        .collect();
    assert_eq!(names, ["\"LPUSH\" \"q\" \"a\"", "\"SET\" \"done\" \"1\""]);

    // A command held by CLIENT PAUSE has not run yet: it is shown when it does.
    let _: () = cmd(&mut c, &["CLIENT", "PAUSE", "100000", "WRITE"]).unwrap();
    waiter.write_all(b"SET held 1\r\n").unwrap();
    let _: () = cmd(&mut c, &["CLIENT", "UNPAUSE"]).unwrap();
    common::read_until(&mut waiter, b"+OK\r\n");
    let lines = feed_until(&mut mon, "\"SET\" \"held\" \"1\"");
    assert_eq!(
        lines.iter().filter(|l| l.contains("\"held\"")).count(),
        1,
        "{lines:?}"
    );
}

#[test]
fn monitor_shows_a_script_before_the_commands_it_runs_as_lua() {
    let s = TestServer::start();
    let mut mon = monitor(&s);
    let mut c = s.conn();
    let _: redis::Value = cmd(
        &mut c,
        &[
            "EVAL",
            "return redis.call('set', KEYS[1], ARGV[1])",
            "1",
            "k",
            "v",
        ],
    )
    .unwrap();
    let lines = feed_until(&mut mon, "\"set\" \"k\" \"v\"");
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("[0 127.0.0.1:") && lines[0].contains("\"EVAL\""),
        "{lines:?}"
    );
    assert_eq!(lines[1], "[0 lua] \"set\" \"k\" \"v\"");
}

#[test]
fn config_get_glob_answers_under_every_matching_name_and_alias() {
    let s = TestServer::start();
    let mut c = s.conn();
    let got = config_get(&mut c, &["*of"]);
    assert_eq!(got.get("slaveof").map(String::as_str), Some(""));
    assert_eq!(got.get("replicaof").map(String::as_str), Some(""));
    // An alias asked for by name answers under that name.
    let got = config_get(&mut c, &["hash-max-ziplist-entries"]);
    assert_eq!(got.len(), 1);
    assert_eq!(got["hash-max-ziplist-entries"], "128");
    // Several patterns: every name once.
    let v: Vec<String> = cmd(
        &mut c,
        &["CONFIG", "GET", "maxmemory", "maxmemory*", "bind"],
    )
    .unwrap();
    let names: Vec<&String> = v.iter().step_by(2).collect();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(names.len(), unique.len(), "{v:?}");
    assert!(unique.iter().any(|n| *n == "maxmemory-clients"), "{v:?}");
}

#[test]
fn a_hidden_directive_answers_only_to_its_exact_name() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert!(!config_get(&mut c, &["*"]).contains_key("key-load-delay"));
    assert!(config_get(&mut c, &["key-load-*"]).is_empty());
    assert_eq!(
        config_get(&mut c, &["key-load-delay"])["key-load-delay"],
        "0"
    );
}

#[test]
fn every_value_config_get_lists_can_be_set_back() {
    let s = TestServer::start();
    let mut c = s.conn();
    let before = config_get(&mut c, &["*"]);
    for (name, value) in &before {
        let set: redis::RedisResult<()> = cmd(&mut c, &["CONFIG", "SET", name, value]);
        assert!(set.is_ok(), "CONFIG SET {name} {value:?}: {set:?}");
    }
    assert_eq!(config_get(&mut c, &["*"]), before);
    // A start-up directive given another value is still refused.
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "thread-num", "3"]),
        "ERR CONFIG SET failed (possibly related to argument 'thread-num') - can't set immutable config"
    );
}

#[test]
fn a_bad_percentage_fails_config_set_and_rolls_back_the_others() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["CONFIG", "SET", "maxmemory-clients", "10%"]).unwrap();
    assert_eq!(
        config_get(&mut c, &["maxmemory-clients"])["maxmemory-clients"],
        "10%"
    );
    assert_eq!(
        err(
            &mut c,
            &["CONFIG", "SET", "maxmemory", "10000001", "maxmemory-clients", "200%", "client-query-buffer-limit", "invalid"]
        ),
        "ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - percentage argument must be less or equal to 100"
    );
    let after = config_get(&mut c, &["maxmemory", "maxmemory-clients"]);
    assert_eq!(after["maxmemory"], "0");
    assert_eq!(after["maxmemory-clients"], "10%");
}

#[test]
fn config_set_port_moves_the_listener_and_keeps_open_connections() {
    let s = TestServer::start();
    let mut c = s.conn();
    let new_port = common::free_port().to_string();
    let _: () = cmd(&mut c, &["CONFIG", "SET", "port", &new_port]).unwrap();
    // The connection that asked goes on; the new port answers, the old one is closed.
    assert_eq!(config_get(&mut c, &["port"])["port"], new_port);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while common::answers_ping(s.port) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!common::answers_ping(s.port));
    assert!(common::answers_ping(new_port.parse().unwrap()));
}

#[test]
fn config_set_port_in_use_fails_and_changes_nothing() {
    let s = TestServer::start();
    let mut c = s.conn();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port().to_string();
    let text = err(
        &mut c,
        &[
            "CONFIG",
            "SET",
            "maxmemory",
            "10000001",
            "port",
            &taken_port,
            "client-query-buffer-limit",
            "10m",
        ],
    );
    assert_eq!(
        text,
        "ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs."
    );
    let after = config_get(&mut c, &["maxmemory", "port", "client-query-buffer-limit"]);
    assert_eq!(after["maxmemory"], "0");
    assert_eq!(after["port"], s.port.to_string());
    assert_eq!(after["client-query-buffer-limit"], "1073741824");
    assert!(common::answers_ping(s.port));
}

#[test]
fn a_subcommands_table_name_is_not_a_command() {
    let s = TestServer::start();
    let mut c = s.conn();
    for argv in [&["GET|"][..], &["CONFIG|GET", "port"], &["GET|SET|OTHER"]] {
        let text = err(&mut c, argv);
        assert!(
            text.starts_with("ERR unknown command '"),
            "{argv:?}: {text}"
        );
    }
    assert!(err(&mut c, &["CONFIG", "GET_XX"]).starts_with("ERR unknown subcommand 'GET_XX'"));
}

#[test]
fn getkeys_of_a_script_without_keys_is_empty() {
    let s = TestServer::start();
    let mut c = s.conn();
    let keys: Vec<String> = cmd(&mut c, &["COMMAND", "GETKEYS", "EVAL", "return 1", "0"]).unwrap();
    assert!(keys.is_empty());
    // Commands whose keys are mandatory still say so.
    assert_eq!(
        err(&mut c, &["COMMAND", "GETKEYS", "ZUNION", "0", "x"]),
        "ERR Invalid arguments specified for command"
    );
}

#[test]
fn moving_an_element_reads_and_deletes_the_source_and_inserts_into_the_target() {
    let s = TestServer::start();
    let mut c = s.conn();
    for argv in [
        &["LMOVE", "k1", "k2", "left", "right"][..],
        &["RPOPLPUSH", "k1", "k2"],
        &["BLMOVE", "k1", "k2", "left", "right", "0"],
        &["BRPOPLPUSH", "k1", "k2", "0"],
    ] {
        let mut args = vec!["COMMAND", "GETKEYSANDFLAGS"];
        args.extend_from_slice(argv);
        let got: Vec<(String, Vec<String>)> = cmd(&mut c, &args).unwrap();
        let flags = |f: &[&str]| f.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            got,
            [
                ("k1".to_string(), flags(&["RW", "access", "delete"])),
                ("k2".to_string(), flags(&["RW", "insert"]))
            ],
            "{argv:?}"
        );
    }
}

#[test]
fn sort_ro_has_movable_keys_like_sort() {
    let s = TestServer::start();
    let mut c = s.conn();
    let info: Vec<redis::Value> = cmd(&mut c, &["COMMAND", "INFO", "SORT_RO"]).unwrap();
    let redis::Value::Array(entry) = &info[0] else {
        panic!("{info:?}")
    };
    let flags: Vec<String> = redis::from_redis_value(entry[2].clone()).unwrap();
    assert_eq!(flags, ["readonly", "movablekeys"]);
    let keys: Vec<String> =
        cmd(&mut c, &["COMMAND", "GETKEYS", "SORT_RO", "k", "BY", "w_*"]).unwrap();
    assert_eq!(keys, ["k"]);
}

#[test]
fn sort_reads_its_source_and_overwrites_its_destination() {
    let s = TestServer::start();
    let mut c = s.conn();
    let got: Vec<(String, Vec<String>)> = cmd(
        &mut c,
        &["COMMAND", "GETKEYSANDFLAGS", "SORT", "k1", "STORE", "k2"],
    )
    .unwrap();
    let flags = |f: &[&str]| f.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        got,
        [
            ("k1".to_string(), flags(&["RO", "access"])),
            ("k2".to_string(), flags(&["OW", "update"]))
        ]
    );
}

/// `qbuf` + `qbuf-free` of the client named `name`: the memory its query buffer holds.
fn query_buffer_of(c: &mut redis::Connection, name: &str) -> usize {
    let list: String = cmd(c, &["CLIENT", "LIST"]).unwrap();
    let line = list
        .lines()
        .find(|l| l.contains(&format!(" name={name} ")))
        .unwrap_or_else(|| panic!("{name} not in {list}"));
    let field = |key: &str| -> usize {
        line.split(' ')
            .find_map(|f| f.strip_prefix(key))
            .unwrap()
            .parse()
            .unwrap()
    };
    field("qbuf=") + field("qbuf-free=")
}

#[test]
fn an_idle_clients_query_buffer_is_freed() {
    let s = TestServer::start();
    let mut idle = s.conn();
    let _: () = cmd(&mut idle, &["CLIENT", "SETNAME", "idle"]).unwrap();
    let mut c = s.conn();
    let held = query_buffer_of(&mut c, "idle");
    assert!((16384..32768).contains(&held), "{held}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while query_buffer_of(&mut c, "idle") != 0 {
        assert!(std::time::Instant::now() < deadline, "never freed");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // The next request is read into a new buffer.
    let pong: String = cmd(&mut idle, &["PING"]).unwrap();
    assert_eq!(pong, "PONG");
    assert!(query_buffer_of(&mut c, "idle") >= 16384);
}

#[test]
fn a_query_buffer_grown_for_a_big_request_shrinks_when_requests_are_small_again() {
    let s = TestServer::start();
    let mut big = s.conn();
    let _: () = cmd(&mut big, &["CLIENT", "SETNAME", "big"]).unwrap();
    let value = "A".repeat(400_000);
    let _: () = cmd(&mut big, &["SET", "x", &value]).unwrap();
    let mut c = s.conn();
    let grown = query_buffer_of(&mut c, "big");
    assert!(grown > 32768, "{grown}");
    let _: () = cmd(&mut big, &["SET", "x", "small"]).unwrap();
    let shrunk = query_buffer_of(&mut c, "big");
    assert!(shrunk > 0 && shrunk < grown, "{shrunk} after {grown}");
}
