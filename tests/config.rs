//! CONFIG GET / SET / REWRITE, the config file at start-up, and the command line.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{answers_ping, cmd, err, free_port, run_pika, TestServer};

fn config_get(conn: &mut redis::Connection, pattern: &str) -> Vec<(String, String)> {
    let flat: Vec<String> = cmd(conn, &["CONFIG", "GET", pattern]).unwrap();
    flat.chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect()
}

fn repo_conf() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/pika.conf"))
        .expect("conf/pika.conf")
}

// ---------------------------------------------------------------- CONFIG GET

#[test]
fn config_get_exact_name() {
    let s = TestServer::start_with(&["--maxclients", "123"]);
    let mut c = s.conn();
    assert_eq!(
        config_get(&mut c, "maxclients"),
        vec![("maxclients".to_string(), "123".to_string())]
    );
}

#[test]
fn config_get_glob_matches_several() {
    let s = TestServer::start();
    let mut c = s.conn();
    let got = config_get(&mut c, "slowlog-*");
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["slowlog-log-slower-than", "slowlog-max-len"]);
}

#[test]
fn config_get_several_patterns_lists_each_once() {
    let s = TestServer::start();
    let mut c = s.conn();
    let flat: Vec<String> = cmd(&mut c, &["CONFIG", "GET", "maxclients", "maxc*", "port"]).unwrap();
    assert_eq!(flat.len(), 4, "{flat:?}");
    assert_eq!(flat[0], "maxclients");
    assert_eq!(flat[2], "port");
}

#[test]
fn config_get_unknown_is_empty_and_arity() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert!(config_get(&mut c, "no-such-directive").is_empty());
    assert_eq!(
        err(&mut c, &["CONFIG", "GET"]),
        "ERR wrong number of arguments for 'config|get' command"
    );
    assert_eq!(
        err(&mut c, &["CONFIG", "NOPE"]),
        "ERR unknown subcommand 'NOPE'. Try CONFIG HELP."
    );
}

// ---------------------------------------------------------------- CONFIG SET

#[test]
fn config_set_runtime_directive_takes_effect() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["CONFIG", "SET", "slowlog-max-len", "7"]).unwrap();
    assert_eq!(
        config_get(&mut c, "slowlog-max-len"),
        vec![("slowlog-max-len".to_string(), "7".to_string())]
    );
}

#[test]
fn config_set_several_pairs() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(
        &mut c,
        &["CONFIG", "SET", "maxclients", "50", "timeout", "9"],
    )
    .unwrap();
    assert_eq!(config_get(&mut c, "maxclients")[0].1, "50");
    assert_eq!(config_get(&mut c, "timeout")[0].1, "9");
}

#[test]
fn config_set_immutable_is_rejected() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "thread-num", "3"]),
        "ERR CONFIG SET failed (possibly related to argument 'thread-num') - can't set immutable config"
    );
}

#[test]
fn config_set_unknown_bad_value_and_odd_arguments() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "foo", "bar"]),
        "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"
    );
    let bad = err(&mut c, &["CONFIG", "SET", "maxclients", "abc"]);
    assert!(
        bad.starts_with("ERR CONFIG SET failed (possibly related to argument 'maxclients') - "),
        "{bad}"
    );
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "maxclients", "1", "timeout"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "maxclients"]),
        "ERR wrong number of arguments for 'config|set' command"
    );
}

#[test]
fn config_set_is_all_or_nothing() {
    let s = TestServer::start();
    let mut c = s.conn();
    // Below 20000 where the open-files limit does not allow that many.
    let before = config_get(&mut c, "maxclients")[0].1.clone();
    err(
        &mut c,
        &["CONFIG", "SET", "maxclients", "77", "timeout", "bad"],
    );
    assert_eq!(config_get(&mut c, "maxclients")[0].1, before);
}

#[test]
fn config_set_requirepass_applies_to_new_connections() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["CONFIG", "SET", "requirepass", "s3cret"]).unwrap();
    let mut fresh = s.conn();
    assert_eq!(
        err(&mut fresh, &["GET", "x"]),
        "NOAUTH Authentication required."
    );
    let _: () = cmd(&mut fresh, &["AUTH", "s3cret"]).unwrap();
    let v: Option<String> = cmd(&mut fresh, &["GET", "x"]).unwrap();
    assert_eq!(v, None);
}

#[test]
fn config_help_lists_subcommands() {
    let s = TestServer::start();
    let mut c = s.conn();
    let lines: Vec<String> = cmd(&mut c, &["CONFIG", "HELP"]).unwrap();
    assert!(lines[0].starts_with("CONFIG <subcommand>"));
    assert!(lines.iter().any(|l| l.starts_with("REWRITE")));
}

// ---------------------------------------------------------------- CONFIG REWRITE

#[test]
fn config_rewrite_without_file_fails() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["CONFIG", "REWRITE"]),
        "ERR The server is running without a config file"
    );
}

#[test]
fn config_rewrite_keeps_comments_and_updates_values() {
    let original = repo_conf();
    let s = TestServer::start_from_file(&original, &[]);
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["CONFIG", "SET", "slowlog-max-len", "42"]).unwrap();
    let _: () = cmd(&mut c, &["CONFIG", "REWRITE"]).unwrap();
    let rewritten = std::fs::read_to_string(s.conf.as_ref().unwrap()).unwrap();
    let comments = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .map(String::from)
            .collect()
    };
    assert_eq!(comments(&original), comments(&rewritten));
    assert!(
        rewritten
            .lines()
            .any(|l| l.replace(' ', "") == "slowlog-max-len:42"),
        "{rewritten}"
    );
    let dir_of = |t: &str| {
        t.lines()
            .filter(|l| l.starts_with("slowlog-max-len"))
            .count()
    };
    assert_eq!(dir_of(&rewritten), 1);
}

#[test]
fn config_file_values_are_loaded() {
    let mut conf = repo_conf();
    conf.push_str("\nmaxclients : 321\n");
    let s = TestServer::start_from_file(&conf, &[]);
    let mut c = s.conn();
    assert_eq!(config_get(&mut c, "maxclients")[0].1, "321");
}

// ---------------------------------------------------------------- start-up

#[test]
fn command_line_port_overrides_the_file() {
    // The file says 9221; the harness passes --port after it, and the server answers there.
    let s = TestServer::start_from_file(&repo_conf(), &[]);
    let mut c = s.conn();
    assert_eq!(config_get(&mut c, "port")[0].1, s.port.to_string());
}

#[test]
fn unknown_directive_in_file_exits_with_location() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("bad.conf");
    std::fs::write(&conf, "# comment\nport : 9999\nno-such-thing : 1\n").unwrap();
    let conf_s = conf.to_string_lossy().into_owned();
    let (code, _, stderr) = run_pika(&[&conf_s]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains(&conf_s), "{stderr}");
    assert!(stderr.contains(":3"), "{stderr}");
    assert!(stderr.contains("no-such-thing"), "{stderr}");
}

#[test]
fn bad_value_in_file_exits_with_location() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("bad.conf");
    std::fs::write(&conf, "maxclients : lots\n").unwrap();
    let conf_s = conf.to_string_lossy().into_owned();
    let (code, _, stderr) = run_pika(&[&conf_s]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains(&format!("{conf_s}:1")), "{stderr}");
    assert!(stderr.contains("maxclients"), "{stderr}");
    assert!(stderr.contains("lots"), "{stderr}");
}

#[test]
fn missing_config_file_exits_non_zero() {
    let (code, _, stderr) = run_pika(&["/nonexistent/dir/pika.conf"]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("/nonexistent/dir/pika.conf"), "{stderr}");
}

#[test]
fn help_flag_prints_usage() {
    let (code, stdout, _) = run_pika(&["--help"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("Usage"), "{stdout}");
    assert!(stdout.contains("--directive value"), "{stdout}");
}

#[test]
fn version_flag_prints_version() {
    let (code, stdout, _) = run_pika(&["--version"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains(env!("CARGO_PKG_VERSION")), "{stdout}");
}

#[test]
fn unknown_command_line_directive_exits_non_zero() {
    let (code, _, stderr) = run_pika(&["--no-such-directive", "1"]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("no-such-directive"), "{stderr}");
}

/// Sends a malformed request, which the server logs at debug level only.
fn provoke_protocol_error(s: &TestServer) {
    use std::io::{Read, Write};
    let mut raw = s.raw();
    raw.write_all(b"*1\r\n+x\r\n").unwrap();
    let mut buf = [0u8; 256];
    let _ = raw.read(&mut buf);
}

fn log_text(s: &TestServer) -> String {
    std::fs::read_to_string(s.dir().join("log").join("pika.log")).unwrap_or_default()
}

#[test]
fn config_set_loglevel_takes_effect_at_once() {
    let s = TestServer::start_with(&["--loglevel", "info"]);
    provoke_protocol_error(&s);
    std::thread::sleep(Duration::from_millis(200));
    assert!(!log_text(&s).contains("protocol error"));

    let mut c = s.conn();
    let _: () = cmd(&mut c, &["CONFIG", "SET", "loglevel", "debug"]).unwrap();
    provoke_protocol_error(&s);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !log_text(&s).contains("protocol error") {
        assert!(Instant::now() < deadline, "debug line never logged");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn daemonize_detaches_and_writes_the_pidfile() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let pidfile = dir.path().join("pika.pid");
    let status = Command::new(env!("CARGO_BIN_EXE_pika"))
        .args(["--port", &port.to_string(), "--daemonize", "yes"])
        .arg("--db-path")
        .arg(dir.path().join("db"))
        .arg("--log-path")
        .arg(dir.path().join("log"))
        .arg("--pidfile")
        .arg(&pidfile)
        .status()
        .unwrap();
    assert!(status.success(), "the launching process exits at once");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !answers_ping(port) {
        assert!(Instant::now() < deadline, "daemon never answered");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .to_string();
    let _ = Command::new("kill").arg("-TERM").arg(&pid).status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while pidfile.exists() {
        assert!(Instant::now() < deadline, "daemon did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}
