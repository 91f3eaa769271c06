//! Unit tests for the directive table, the loader, CONFIG GET/SET and CONFIG REWRITE.

use super::directive::{parse_int, parse_memory};
use super::*;
use std::fs;
use std::sync::atomic::{AtomicUsize, Ordering};

const SHIPPED_CONF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/conf/pika.conf");

/// A fresh file under the temp dir, removed on drop.
struct TempConf(PathBuf);

impl TempConf {
    fn new(contents: &str) -> TempConf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "pika-config-test-{}-{}.conf",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        fs::write(&path, contents).unwrap();
        TempConf(path)
    }
    fn read(&self) -> String {
        fs::read_to_string(&self.0).unwrap()
    }
}

impl Drop for TempConf {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn table_is_consistent() {
    for (i, d) in DIRECTIVES.iter().enumerate() {
        assert!(
            d.parse(d.default).is_ok(),
            "default of {} doesn't parse",
            d.name
        );
        assert_eq!(d.name, d.name.to_ascii_lowercase(), "{}", d.name);
        assert!(!d.name.contains('_'), "{}", d.name);
        assert!(!d.doc.is_empty(), "{}", d.name);
        assert!(
            DIRECTIVES[..i].iter().all(|o| o.name != d.name),
            "duplicate {}",
            d.name
        );
        // Both limits must fit the field type: store() narrows without panicking.
        let mut cfg = Config::defaults();
        match d.kind {
            Kind::Int { min, max } => {
                for n in [min, max] {
                    cfg.set_bypassing_mutability(d, &n.to_string());
                }
            }
            Kind::Memory { min, max } => {
                for n in [min, max] {
                    cfg.set_bypassing_mutability(d, &n.to_string());
                }
            }
            _ => {}
        }
    }
    for (alias, canon) in NAME_ALIASES {
        assert!(lookup(canon).is_some(), "{alias} -> {canon}");
        assert!(DIRECTIVES.iter().all(|d| d.name != *alias), "{alias}");
    }
}

impl Config {
    fn set_bypassing_mutability(&mut self, d: &Directive, text: &str) {
        let v = d.parse(text).unwrap();
        self.store(d.name, v)
            .unwrap_or_else(|e| panic!("{} = {text}: {e}", d.name));
        assert_eq!(self.render(d.name).unwrap(), text, "{}", d.name);
    }
}

#[test]
fn defaults_are_typed() {
    let c = Config::defaults();
    assert_eq!(c.port, 9221);
    assert_eq!(c.bind, "127.0.0.1");
    assert_eq!(c.thread_num, 1);
    assert_eq!(c.thread_pool_size, 0);
    assert_eq!(c.db_path, PathBuf::from("./db/"));
    assert_eq!(c.log_path, PathBuf::from("./log/"));
    assert_eq!(c.loglevel, "info");
    assert_eq!(c.databases, 16);
    assert_eq!(c.requirepass, "");
    assert_eq!(c.timeout, 0);
    assert_eq!(c.maxclients, 20000);
    assert_eq!(c.write_buffer_size, 64 << 20);
    assert_eq!(c.max_write_buffer_number, 2);
    assert_eq!(c.block_cache, 8 << 20);
    assert_eq!(c.compression, "snappy");
    assert_eq!(c.max_background_jobs, 2);
    assert_eq!(c.slowlog_log_slower_than, 10000);
    assert_eq!(c.slowlog_max_len, 128);
    assert_eq!(c.proto_max_bulk_len, 512 << 20);
    assert_eq!(c.client_query_buffer_limit, 1 << 30);
    assert!(!c.daemonize);
    assert_eq!(c.pidfile, "");
    assert_eq!(c.list_max_listpack_size, -2);
    assert_eq!(c.set_max_intset_entries, 512);
    assert_eq!(c.maxmemory_policy, "noeviction");
    assert_eq!(c.maxmemory_samples, 5);
    assert_eq!(c.cache_maxmemory_policy, "allkeys-lru");
    assert!(c.latency_tracking);
    assert_eq!(c.busy_reply_threshold, 5000);
    assert_eq!(c.enable_debug_command, "no");
    assert_eq!(c.enable_protected_configs, "no");
    assert_eq!(c.config_file, None);
    assert_eq!(Config::default(), c);
}

#[test]
fn int_parsing() {
    assert_eq!(parse_int("0"), Some(0));
    assert_eq!(parse_int("-5"), Some(-5));
    assert_eq!(parse_int("9223372036854775807"), Some(i64::MAX));
    for bad in [
        "",
        "-",
        "+1",
        " 1",
        "1 ",
        "1.0",
        "abc",
        "9223372036854775808",
        "1k",
    ] {
        assert_eq!(parse_int(bad), None, "{bad:?}");
    }
    let mut c = Config::defaults();
    c.set("timeout", "300").unwrap();
    assert_eq!(c.timeout, 300);
    c.set("slowlog-log-slower-than", "-1").unwrap();
    assert_eq!(c.slowlog_log_slower_than, -1);
    assert_eq!(
        c.set("slowlog-log-slower-than", "-2").unwrap_err(),
        "CONFIG SET failed (possibly related to argument 'slowlog-log-slower-than') - argument must be between -1 and 9223372036854775807 inclusive"
    );
    assert_eq!(
        c.set("timeout", "abc").unwrap_err(),
        "CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer"
    );
}

#[test]
fn memory_suffixes() {
    let cases = [
        ("0", 0),
        ("100", 100),
        ("100b", 100),
        ("1k", 1000),
        ("1K", 1000),
        ("1kb", 1024),
        ("1KB", 1024),
        ("2m", 2_000_000),
        ("2mb", 2 << 20),
        ("2Mb", 2 << 20),
        ("1g", 1_000_000_000),
        ("1gb", 1_073_741_824),
        ("1GB", 1_073_741_824),
    ];
    for (text, want) in cases {
        assert_eq!(parse_memory(text), Some(want), "{text}");
    }
    for bad in [
        "",
        "kb",
        "-1",
        "1.5gb",
        "1 gb",
        "1tb",
        "1kbb",
        "abc",
        "99999999999999999999gb",
    ] {
        assert_eq!(parse_memory(bad), None, "{bad:?}");
    }
    let mut c = Config::defaults();
    c.set("maxmemory", "1gb").unwrap();
    assert_eq!(c.maxmemory, 1_073_741_824);
    assert_eq!(c.get("maxmemory").unwrap(), "1073741824");
    assert_eq!(
        c.set("maxmemory", "lots").unwrap_err(),
        "CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"
    );
    assert!(c
        .set("proto-max-bulk-len", "1000")
        .unwrap_err()
        .ends_with("argument must be between 1048576 and 9223372036854775807 inclusive"));
}

#[test]
fn bool_enum_str_path() {
    let mut c = Config::defaults();
    c.set("appendonly", "YES").unwrap();
    assert!(c.appendonly);
    assert_eq!(c.get("appendonly").unwrap(), "yes");
    assert_eq!(
        c.set("appendonly", "true").unwrap_err(),
        "CONFIG SET failed (possibly related to argument 'appendonly') - argument must be 'yes' or 'no'"
    );
    c.set("maxmemory-policy", "ALLKEYS-LRU").unwrap();
    assert_eq!(c.maxmemory_policy, "allkeys-lru");
    assert_eq!(
        c.set("loglevel", "loud").unwrap_err(),
        "CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one of the following: debug, info, warn, error"
    );
    for (alias, canon) in [
        ("warning", "warn"),
        ("notice", "info"),
        ("verbose", "debug"),
        ("ERROR", "error"),
    ] {
        c.set("loglevel", alias).unwrap();
        assert_eq!(c.loglevel, canon);
    }
    c.set("requirepass", "s3cr#t with spaces").unwrap();
    assert_eq!(c.requirepass, "s3cr#t with spaces");
    c.set("requirepass", "").unwrap();
    assert_eq!(c.requirepass, "");

    let f = TempConf::new("db-path : /var/lib/pika/db\npidfile:/run/pika.pid\n");
    let c = Config::load(Some(&f.0), &[]).unwrap();
    assert_eq!(c.db_path, PathBuf::from("/var/lib/pika/db"));
    assert_eq!(c.pidfile, "/run/pika.pid");
}

#[test]
fn file_syntax() {
    let f = TempConf::new(
        "# comment\n\n   # indented comment\nPORT:7000\n  bind :   ::1  \nrequirepass :\r\nwrite-buffer-size : 32mb\nhash-max-ziplist-entries : 7\nport : 7001\n",
    );
    let c = Config::load(Some(&f.0), &[]).unwrap();
    assert_eq!(c.port, 7001, "later line wins");
    assert_eq!(c.bind, "::1");
    assert_eq!(c.requirepass, "");
    assert_eq!(c.write_buffer_size, 32 << 20);
    assert_eq!(c.hash_max_listpack_entries, 7);
    assert_eq!(c.config_file.as_deref(), Some(f.0.as_path()));
}

#[test]
fn load_errors_name_file_line_and_directive() {
    let f = TempConf::new("# c\nport : 1\nfoo : bar\n");
    let err = Config::load(Some(&f.0), &[]).unwrap_err().to_string();
    assert_eq!(err, format!("{}:3: unknown directive 'foo'", f.0.display()));

    let f = TempConf::new("\n\nport : abc\n");
    let err = Config::load(Some(&f.0), &[]).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}:3: bad value 'abc' for 'port': argument couldn't be parsed into an integer",
            f.0.display()
        )
    );

    let f = TempConf::new("port 9221\n");
    let err = Config::load(Some(&f.0), &[]).unwrap_err();
    assert!(matches!(err, ConfigError::MissingColon { .. }));
    let err = err.to_string();
    assert!(
        err.starts_with(&format!("{}:1: line without ':'", f.0.display())),
        "{err}"
    );
    assert!(err.contains("port 9221"), "{err}");

    let f = TempConf::new("port : 70000\n");
    let err = Config::load(Some(&f.0), &[]).unwrap_err().to_string();
    assert!(
        err.ends_with(
            ":1: bad value '70000' for 'port': argument must be between 0 and 65535 inclusive"
        ),
        "{err}"
    );

    let missing = std::env::temp_dir().join("pika-config-test-does-not-exist.conf");
    let err = Config::load(Some(&missing), &[]).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(err.to_string().starts_with(&missing.display().to_string()));

    let err = Config::load(None, &pairs(&[("foo", "1")]))
        .unwrap_err()
        .to_string();
    assert_eq!(err, "command line: unknown directive 'foo'");
    let err = Config::load(None, &pairs(&[("daemonize", "maybe")]))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "command line: bad value 'maybe' for 'daemonize': argument must be 'yes' or 'no'"
    );
}

#[test]
fn overrides_win_over_file() {
    let f = TempConf::new("port : 7000\nloglevel : debug\ndatabases : 4\n");
    let c = Config::load(
        Some(&f.0),
        &pairs(&[("port", "7100"), ("LOGLEVEL", "error"), ("port", "7200")]),
    )
    .unwrap();
    assert_eq!(c.port, 7200);
    assert_eq!(c.loglevel, "error");
    assert_eq!(c.databases, 4);
    // Overrides may set start-up-only directives.
    let c = Config::load(None, &pairs(&[("db-path", "/tmp/x")])).unwrap();
    assert_eq!(c.db_path, PathBuf::from("/tmp/x"));
}

#[test]
fn get_matching_globs() {
    let c = Config::defaults();
    let all = c.get_matching(b"*");
    assert_eq!(
        all.len(),
        DIRECTIVES.len() + NAME_ALIASES.len() - HIDDEN.len()
    );
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0), "sorted, unique");
    assert!(all.iter().any(|(n, _)| n == "hash-max-ziplist-entries"));
    assert!(all.iter().all(|(n, _)| n != "key-load-delay"), "hidden");

    let max = c.get_matching(b"max*");
    let names: Vec<&str> = max.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "max-background-jobs",
            "max-cache-files",
            "max-write-buffer-number",
            "maxclients",
            "maxmemory",
            "maxmemory-clients",
            "maxmemory-policy",
            "maxmemory-samples"
        ]
    );

    assert_eq!(c.get_matching(b"port"), pairs(&[("port", "9221")]));
    assert_eq!(c.get_matching(b"PORT"), pairs(&[("port", "9221")]));
    assert_eq!(
        c.get_matching(b"write-buffer-size"),
        pairs(&[("write-buffer-size", "67108864")])
    );
    assert_eq!(c.get_matching(b"daemonize"), pairs(&[("daemonize", "no")]));
    assert_eq!(
        c.get_matching(b"requirepass"),
        pairs(&[("requirepass", "")])
    );
    assert!(c.get_matching(b"nosuch").is_empty());

    // Aliases answer under the name asked for; a glob lists each name that matches.
    assert_eq!(
        c.get_matching(b"hash-max-ziplist-entries"),
        pairs(&[("hash-max-ziplist-entries", "128")])
    );
    assert_eq!(
        c.get_matching(b"hash-max-*-entries"),
        pairs(&[
            ("hash-max-listpack-entries", "128"),
            ("hash-max-ziplist-entries", "128")
        ])
    );
    assert_eq!(
        c.get_matching(b"lua-time-limit"),
        pairs(&[("lua-time-limit", "5000")])
    );
    // Hidden directives answer only to their exact name.
    assert_eq!(
        c.get_matching(b"KEY-LOAD-DELAY"),
        pairs(&[("key-load-delay", "0")])
    );
    assert!(c.get_matching(b"key-load-*").is_empty());
}

#[test]
fn memory_or_percent_values() {
    let mut c = Config::defaults();
    for (given, shown) in [
        ("10%", "10%"),
        ("100%", "100%"),
        ("0%", "0"),
        ("1kb", "1024"),
    ] {
        c.set("maxmemory-clients", given).unwrap();
        assert_eq!(c.get("maxmemory-clients").unwrap(), shown, "{given}");
    }
    assert_eq!(
        c.set("maxmemory-clients", "101%").unwrap_err(),
        "CONFIG SET failed (possibly related to argument 'maxmemory-clients') - percentage argument must be less or equal to 100"
    );
    for bad in ["%", "-1%", "x%", "10 %", "abc"] {
        assert_eq!(
            c.set("maxmemory-clients", bad).unwrap_err(),
            "CONFIG SET failed (possibly related to argument 'maxmemory-clients') - argument must be a memory or percent value",
            "{bad}"
        );
    }
}

#[test]
fn set_rules() {
    let mut c = Config::defaults();
    assert_eq!(
        c.set("thread-num", "2").unwrap_err(),
        "CONFIG SET failed (possibly related to argument 'thread-num') - can't set immutable config"
    );
    // The value it holds is accepted, and changes nothing.
    c.set("thread-num", "1").unwrap();
    c.set("write-buffer-size", "64mb").unwrap();
    assert_eq!(
        c.set("dump-path", "./elsewhere/").unwrap_err(),
        "CONFIG SET failed (possibly related to argument 'dump-path') - can't set protected config"
    );
    c.set("dump-path", "./dump/").unwrap();
    assert_eq!(
        c.set("nosuch", "1").unwrap_err(),
        "Unknown option or number of arguments for CONFIG SET - 'nosuch'"
    );
    c.set("list-max-ziplist-size", "-5").unwrap();
    assert_eq!(c.list_max_listpack_size, -5);
    c.set("Hash-Max-Ziplist-Value", "10").unwrap();
    assert_eq!(c.hash_max_listpack_value, 10);
    c.set("lua-time-limit", "100").unwrap();
    assert_eq!(c.busy_reply_threshold, 100);
    assert!(c.set("list-max-listpack-size", "-6").is_err());
    c.set("SLOWLOG-MAX-LEN", "5").unwrap();
    assert_eq!(c.slowlog_max_len, 5);
}

#[test]
fn protected_directives_need_enable_protected_configs() {
    let refused =
        "CONFIG SET failed (possibly related to argument 'dump-path') - can't set protected config";
    let loopback: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    let remote: std::net::IpAddr = "192.0.2.7".parse().unwrap();
    let pair = pairs(&[("dump-path", "/tmp/x")]);

    let mut c = Config::defaults();
    assert_eq!(c.set("dump-path", "/tmp/x").unwrap_err(), refused);
    assert_eq!(c.set_many_from(&pair, loopback).unwrap_err(), refused);

    c.enable_protected_configs = "local".into();
    assert_eq!(c.set_many_from(&pair, remote).unwrap_err(), refused);
    assert_eq!(c.set("dump-path", "/tmp/x").unwrap_err(), refused);
    c.set_many_from(&pair, loopback).unwrap();
    c.set_many_from(&pairs(&[("dump-prefix", "p")]), "::1".parse().unwrap())
        .unwrap();
    c.set_many_from(
        &pairs(&[("dump-prefix", "q")]),
        "::ffff:127.0.0.1".parse().unwrap(),
    )
    .unwrap();
    assert_eq!(
        (c.dump_path.to_str(), c.dump_prefix.as_str()),
        (Some("/tmp/x"), "q")
    );

    c.enable_protected_configs = "yes".into();
    c.set_many_from(&pairs(&[("dump-path", "/tmp/y")]), remote)
        .unwrap();
    c.set("dump-prefix", "r").unwrap();

    for name in ["enable-protected-configs", "enable-debug-command"] {
        assert!(c
            .set(name, "local")
            .unwrap_err()
            .ends_with("can't set immutable config"));
    }
}

#[test]
fn protected_actions_follow_no_yes_local() {
    let loopback: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    let remote: std::net::IpAddr = "192.0.2.7".parse().unwrap();
    assert!(!protected_action_allowed("no", loopback));
    assert!(protected_action_allowed("yes", remote));
    assert!(protected_action_allowed("local", loopback));
    assert!(protected_action_allowed("local", "::1".parse().unwrap()));
    assert!(!protected_action_allowed("local", remote));
    assert!(!protected_action_allowed(
        "local",
        "::ffff:192.0.2.7".parse().unwrap()
    ));
}

#[test]
fn only_passwords_are_sensitive() {
    let sensitive: Vec<&str> = DIRECTIVES
        .iter()
        .filter(|d| is_sensitive(d.name))
        .map(|d| d.name)
        .collect();
    assert_eq!(sensitive, ["requirepass", "masterauth"]);
    assert!(is_sensitive("REQUIREPASS"));
    assert!(!is_sensitive("nosuch"));
}

#[test]
fn set_many_is_atomic() {
    let mut c = Config::defaults();
    c.set_many(&pairs(&[("maxclients", "10"), ("timeout", "5")]))
        .unwrap();
    assert_eq!((c.maxclients, c.timeout), (10, 5));

    let before = c.clone();
    let err = c
        .set_many(&pairs(&[("maxclients", "20"), ("timeout", "x")]))
        .unwrap_err();
    assert_eq!(
        err,
        "CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer"
    );
    assert_eq!(c, before);

    let err = c
        .set_many(&pairs(&[("maxclients", "20"), ("thread-num", "3")]))
        .unwrap_err();
    assert!(err.ends_with("can't set immutable config"), "{err}");
    assert_eq!(c, before);

    let err = c
        .set_many(&pairs(&[("maxclients", "20"), ("nope", "1")]))
        .unwrap_err();
    assert!(err.starts_with("Unknown option"), "{err}");
    assert_eq!(c, before);

    let err = c
        .set_many(&pairs(&[
            ("hash-max-listpack-entries", "1"),
            ("hash-max-ziplist-entries", "2"),
        ]))
        .unwrap_err();
    assert_eq!(
        err,
        "CONFIG SET failed (possibly related to argument 'hash-max-ziplist-entries') - duplicate parameter"
    );
    assert_eq!(c, before);
    c.set_many(&[]).unwrap();
    assert_eq!(c, before);
}

#[test]
fn rewrite_keeps_comments_and_order() {
    let original = "# top comment\n\nport : 7000\n# about memory\nwrite-buffer-size : 64mb\nloglevel : warning\n\nmaxclients:100\nhash-max-ziplist-entries : 128\n# trailing comment\n";
    let f = TempConf::new(original);
    let mut c = Config::load(Some(&f.0), &[]).unwrap();
    c.set("maxclients", "200").unwrap();
    c.set("hash-max-listpack-entries", "64").unwrap();
    c.set("requirepass", "pw").unwrap();
    c.set("maxmemory", "1mb").unwrap();
    c.set("timeout", "0").unwrap(); // default and absent: not appended
    c.rewrite().unwrap();
    let text = f.read();
    assert_eq!(
        text,
        "# top comment\n\nport : 7000\n# about memory\nwrite-buffer-size : 64mb\nloglevel : warning\n\nmaxclients : 200\nhash-max-ziplist-entries : 64\n# trailing comment\n# Generated by CONFIG REWRITE\nrequirepass : pw\nmaxmemory : 1048576\n"
    );
    // The result loads back to the same configuration, and a second rewrite is a no-op.
    let again = Config::load(Some(&f.0), &[]).unwrap();
    assert_eq!(again, c);
    again.rewrite().unwrap();
    assert_eq!(f.read(), text);

    // Clearing a value writes an empty one.
    let mut c = again;
    c.set("requirepass", "").unwrap();
    c.rewrite().unwrap();
    assert!(f.read().contains("\nrequirepass :\n"));
    assert_eq!(f.read().matches("# Generated by CONFIG REWRITE").count(), 1);
}

#[test]
fn rewrite_refuses_line_breaks_and_needs_a_file() {
    let mut c = Config::defaults();
    assert_eq!(
        c.rewrite().unwrap_err(),
        "The server is running without a config file"
    );
    let f = TempConf::new("port : 1\n");
    c.config_file = Some(f.0.clone());
    c.set("requirepass", "a\nport : 2").unwrap();
    assert!(c.rewrite().unwrap_err().contains("line break"));
    assert_eq!(f.read(), "port : 1\n");
}

#[test]
fn shipped_conf_equals_defaults() {
    let mut c = Config::load(Some(Path::new(SHIPPED_CONF)), &[]).unwrap();
    assert_eq!(c.config_file.as_deref(), Some(Path::new(SHIPPED_CONF)));
    c.config_file = None;
    assert_eq!(c, Config::defaults());
}

/// Rewriting the shipped file changes nothing: every line already says what the server runs
/// with, whatever its units or wording (`256mb`, `replica`).
#[test]
fn rewriting_the_shipped_conf_leaves_it_as_it_is() {
    let shipped = fs::read_to_string(SHIPPED_CONF).unwrap();
    let f = TempConf::new(&shipped);
    Config::load(Some(&f.0), &[]).unwrap().rewrite().unwrap();
    assert_eq!(f.read(), shipped);
}

#[test]
fn shipped_conf_lists_every_directive() {
    let text = fs::read_to_string(SHIPPED_CONF).unwrap();
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            l.split_once(':')
                .map(|(n, _)| n.trim().to_ascii_lowercase())
        })
        .collect();
    // Redis' names of twin settings stay commented out: a later line would override Pika's.
    let redis_twins: Vec<&str> = TWINS.iter().map(|(_, redis)| *redis).collect();
    for d in DIRECTIVES.iter().filter(|d| !redis_twins.contains(&d.name)) {
        assert!(
            names.iter().any(|n| n == d.name),
            "{} missing from conf/pika.conf",
            d.name
        );
    }
}

#[test]
fn eviction_policy_is_its_own_setting() {
    let mut c = Config::defaults();
    c.set("maxmemory-policy", "volatile-lfu").unwrap();
    assert_eq!(c.get("maxmemory-policy").unwrap(), "volatile-lfu");
    assert_eq!(c.get("cache-maxmemory-policy").unwrap(), "allkeys-lru");
    // Pika's numbers name the same policies, for both settings.
    c.set("cache-maxmemory-policy", "6").unwrap();
    assert_eq!(c.cache_maxmemory_policy, "volatile-ttl");
    c.set("maxmemory-policy", "7").unwrap();
    assert_eq!(c.maxmemory_policy, "noeviction");
    assert!(c.set("maxmemory-policy", "8").is_err());
    assert!(c.set("maxmemory-policy", "lru").is_err());
    c.set("maxmemory-samples", "9").unwrap();
    assert_eq!((c.maxmemory_samples, c.cache_maxmemory_samples), (9, 5));
    assert!(c.set("maxmemory-samples", "0").is_err());
}

#[test]
fn tier_settings_are_one_setting_under_two_names() {
    let mut c = Config::defaults();
    c.set("cache-lfu-log-factor", "3").unwrap();
    assert_eq!(c.lfu_log_factor, 3);
    c.set("lfu-decay-time", "0").unwrap();
    assert_eq!(c.cache_lfu_decay_time, 0);
    // In a file, either name sets both; the later line wins.
    let conf = TempConf::new("lfu-log-factor : 3\ncache-lfu-decay-time : 7\n");
    let f = Config::load(Some(&conf.0), &[]).unwrap();
    assert_eq!((f.cache_lfu_log_factor, f.lfu_decay_time), (3, 7));
    // CONFIG REWRITE keeps one line per setting: the one the file has.
    let mut f = f;
    f.set("cache-lfu-log-factor", "4").unwrap();
    f.rewrite().unwrap();
    let text = conf.read();
    assert!(text.starts_with("lfu-log-factor : 4\n"), "{text}");
    assert!(!text.contains("cache-lfu-log-factor"), "{text}");
    c.set("cache-maxmemory", "1mb").unwrap();
    assert_eq!(c.cache_maxmemory, 1 << 20);
    for (a, b) in TWINS {
        let (da, db) = (lookup(a).unwrap(), lookup(b).unwrap());
        assert_eq!(
            (da.default, da.access),
            (db.default, db.access),
            "{a} / {b}"
        );
    }
}
