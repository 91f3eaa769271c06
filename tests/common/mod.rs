//! Test harness: starts the real `pika` binary on a free port with a temporary db-path and
//! talks to it with the `redis` crate or raw sockets.

#![allow(dead_code)]

pub mod cluster;
pub mod subscriber;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Redis' reply to a command used on a key of another type.
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// A running server process, killed when dropped.
pub struct TestServer {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
    args: Vec<String>,
    /// RLIMIT_NOFILE (soft and hard) the process starts with, when set.
    open_files_limit: Option<u64>,
    /// Whether the harness adds `--enable-debug-command yes` (see [`TestServer::start_plain`]).
    debug_enabled: bool,
    /// The config file given as the first argument (see [`TestServer::start_from_file`]).
    pub conf: Option<PathBuf>,
}

/// Picks a port nobody listens on right now.
///
/// Ports come from a per-process counter below the kernel's ephemeral range (32768+), so two
/// tests of one run never get the same port and no client socket can be holding it.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = (std::process::id() % 400) * 30;
    loop {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (20_000 + (start + offset) % 12_000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

impl TestServer {
    /// Starts a server with default settings.
    pub fn start() -> TestServer {
        TestServer::start_with(&[])
    }

    /// Starts a server with extra `--directive value` arguments (after the harness' own
    /// `--port`, `--db-path`, `--log-path`, `--dump-path` and `--enable-debug-command yes`,
    /// so they override those).
    pub fn start_with(args: &[&str]) -> TestServer {
        TestServer::launched(args, true, None)
    }

    /// Starts a server with the server's own defaults for everything but the port and the
    /// directories: unlike [`TestServer::start_with`], DEBUG stays disabled.
    pub fn start_plain(args: &[&str]) -> TestServer {
        TestServer::launched(args, false, None)
    }

    /// Starts a slave of `master` (`--slaveof`), with extra arguments.
    pub fn slave_of(master: &TestServer, args: &[&str]) -> TestServer {
        let addr = format!("127.0.0.1:{}", master.port);
        let mut all = vec!["--slaveof", addr.as_str()];
        all.extend_from_slice(args);
        TestServer::start_with(&all)
    }

    /// Starts `pika <conf> --port P --db-path ... --log-path ... <extra>` with `conf_text` as
    /// the config file (what `CONFIG REWRITE` writes back to), DEBUG left as the file says.
    pub fn start_from_file(conf_text: &str, extra: &[&str]) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let conf = dir.path().join("pika.conf");
        std::fs::write(&conf, conf_text).expect("write config");
        let mut s = TestServer {
            child: None,
            port: free_port(),
            dir,
            args: extra.iter().map(|a| a.to_string()).collect(),
            open_files_limit: None,
            debug_enabled: false,
            conf: Some(conf),
        };
        s.launch();
        s
    }

    /// Starts a server whose open-files limit, soft and hard, is `limit` (as `ulimit -n`).
    pub fn start_with_open_files_limit(limit: u64, args: &[&str]) -> TestServer {
        TestServer::launched(args, true, Some(limit))
    }

    fn launched(args: &[&str], debug_enabled: bool, open_files_limit: Option<u64>) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut s = TestServer {
            child: None,
            port: free_port(),
            dir,
            args: args.iter().map(|a| a.to_string()).collect(),
            open_files_limit,
            debug_enabled,
            conf: None,
        };
        s.launch();
        s
    }

    /// The directory holding `db/` and `log/`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("db")
    }

    fn launch(&mut self) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pika"));
        if let Some(conf) = &self.conf {
            cmd.arg(conf);
        }
        cmd.arg("--port")
            .arg(self.port.to_string())
            .arg("--db-path")
            .arg(self.db_path())
            .arg("--log-path")
            .arg(self.dir.path().join("log"))
            .arg("--dump-path")
            .arg(self.dir.path().join("dump"));
        // Many tests check state with DEBUG DIGEST / SET-ACTIVE-EXPIRE, which a default
        // server refuses; a test's own arguments come after and can turn it off again.
        if self.debug_enabled {
            cmd.args(["--enable-debug-command", "yes"]);
        }
        cmd.args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(limit) = self.open_files_limit {
            use std::os::unix::process::CommandExt;
            let lim = libc::rlimit {
                rlim_cur: limit as libc::rlim_t,
                rlim_max: limit as libc::rlim_t,
            };
            // SAFETY: runs in the child between fork and exec and only calls setrlimit, which
            // is async-signal-safe, on a value copied in.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        self.child = Some(cmd.spawn().expect("spawn pika"));
        self.wait_ready();
    }

    /// Waits until the server answers a PING.
    ///
    /// A bare successful connect is not proof: while another test thread forks a server, the
    /// child briefly inherits listening sockets of this process (until exec closes them), so a
    /// connect can land in a listener that is about to vanish.
    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.answers_ping() {
                return;
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("pika exited early: {status}");
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("pika did not start listening on {}", self.port);
    }

    fn answers_ping(&self) -> bool {
        answers_ping(self.port)
    }

    /// A `redis` client URL for this server.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A new synchronous client connection.
    pub fn conn(&self) -> redis::Connection {
        let client = redis::Client::open(self.url()).expect("client");
        let conn = client.get_connection().expect("connect");
        conn.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        conn
    }

    /// Runs one command on a fresh connection; failures of the link (a slave restarting its
    /// storage to install a full sync, a server coming back) are retried for 30 s, the
    /// server's error replies are returned.
    pub fn try_q(&self, args: &[&str]) -> redis::RedisResult<redis::Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let result = redis::Client::open(self.url())
                .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(5)))
                .and_then(|mut c| cmd(&mut c, args));
            match result {
                Err(e) if is_transport(&e) && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    /// Like [`TestServer::try_q`] for a command that must succeed; converts its reply.
    pub fn q<T: redis::FromRedisValue>(&self, args: &[&str]) -> T {
        let v = self
            .try_q(args)
            .unwrap_or_else(|e| panic!("{args:?} on {}: {e}", self.port));
        redis::from_redis_value(v).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    /// A raw TCP connection, for protocol-level tests.
    pub fn raw(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        s
    }

    /// The server's process id (while it runs).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the process without warning (kill -9).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the server with SIGTERM and waits for a clean exit.
    pub fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits for the process to exit by itself (after SHUTDOWN); returns whether it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(_)) = c.try_wait() {
                    self.child = None;
                    return true;
                }
            } else {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Sends a signal (a `kill -s` name: TERM, INT, STOP, CONT) to the server process.
    pub fn signal(&self, name: &str) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill")
                .args(["-s", name, &pid.to_string()])
                .status();
        }
    }

    /// Waits for the process to exit by itself and returns how it ended (None: still
    /// running at the deadline).
    pub fn exit_status(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let c = self.child.as_mut()?;
            if let Ok(Some(status)) = c.try_wait() {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Starts the server again on the same port and data directory.
    pub fn restart(&mut self) {
        if self.child.is_some() {
            self.terminate();
        }
        self.launch();
    }

    /// Stops the server and starts it again with `args` added to its arguments.
    pub fn restart_with(&mut self, args: &[&str]) {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self.restart();
    }

    /// The server's log file (`pika.log` under the log directory) as text; empty when absent.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log").join("pika.log")).unwrap_or_default()
    }

    /// The server's resident memory in bytes (VmRSS), while it runs.
    pub fn rss_bytes(&self) -> u64 {
        let pid = self.pid().expect("running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("VmRSS")
            * 1024
    }

    /// CPU time the server has used so far (user + system), from /proc.
    pub fn cpu_time(&self) -> Duration {
        let pid = self.pid().expect("running");
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
        // Fields after the command name, which is in parentheses and may hold spaces.
        let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        // SAFETY: sysconf only reads a system constant.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Duration::from_millis(ticks * 1000 / hz)
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// True when a fresh connection to `port` gets a reply to PING (+PONG, or NOAUTH when a
/// password is set): the server is up and serving, not merely a socket accepting.
pub fn answers_ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(n) if n > 0 && (buf.starts_with(b"+PONG") || buf.starts_with(b"-NOAUTH")))
}

/// Sends raw bytes and reads until `expected_len` bytes arrived or the timeout passed.
pub fn raw_roundtrip(stream: &mut TcpStream, request: &[u8], expected_len: usize) -> Vec<u8> {
    stream.write_all(request).expect("write");
    read_at_least(stream, expected_len)
}

/// Reads until at least `n` bytes arrived, the peer closed, or the read timed out.
pub fn read_at_least(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    while out.len() < n {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => out.extend_from_slice(&buf[..k]),
            Err(_) => break,
        }
    }
    out
}

/// Runs one command and returns its value, panicking on transport errors only.
pub fn cmd<T: redis::FromRedisValue>(
    conn: &mut redis::Connection,
    args: &[&str],
) -> redis::RedisResult<T> {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(conn)
}

/// Runs a command that must succeed and converts its reply.
pub fn call<T: redis::FromRedisValue>(conn: &mut redis::Connection, args: &[&str]) -> T {
    cmd(conn, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// True for a failure of the link (refused, dropped, timed out) rather than of the command.
pub fn is_transport(e: &redis::RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout()
}

/// Runs a command that must fail and returns the full error text as the server sent it
/// (e.g. "WRONGTYPE Operation against ..." or "ERR syntax error").
pub fn err(conn: &mut redis::Connection, args: &[&str]) -> String {
    match cmd::<redis::Value>(conn, args) {
        Ok(v) => panic!("expected an error from {args:?}, got {v:?}"),
        Err(e) => error_text(&e),
    }
}

/// Reconstructs "CODE message" from a redis crate error.
pub fn error_text(e: &redis::RedisError) -> String {
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (Some(code), None) => code.to_string(),
        _ => e.to_string(),
    }
}

/// Runs a command whose reply is an integer.
pub fn int(conn: &mut redis::Connection, args: &[&str]) -> i64 {
    cmd(conn, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// GET, as an optional string.
pub fn get(conn: &mut redis::Connection, key: &str) -> Option<String> {
    cmd(conn, &["GET", key]).unwrap_or_else(|e| panic!("GET {key}: {e}"))
}

/// Sends `request` and expects exactly `expected` back.
pub fn expect_raw(stream: &mut TcpStream, request: &[u8], expected: &[u8]) {
    stream.write_all(request).expect("write");
    let got = read_at_least(stream, expected.len());
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(expected),
        "reply to {:?}",
        String::from_utf8_lossy(request)
    );
}

/// Reads until the received bytes end with `suffix` (or five seconds pass).
pub fn read_until(stream: &mut TcpStream, suffix: &[u8]) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut out = Vec::new();
    while !out.ends_with(suffix) && Instant::now() < deadline {
        let more = read_at_least(stream, 1);
        if more.is_empty() {
            break;
        }
        out.extend(more);
    }
    out
}

/// Stops `s`, runs `f` on its storage, and starts it again on the same data.
pub fn with_storage<T>(s: &mut TestServer, f: impl FnOnce(&pika::storage::Storage) -> T) -> T {
    s.terminate();
    let out = {
        let storage = pika::storage::Storage::open(
            &s.db_path(),
            16,
            &pika::storage::engine::EngineOptions::default(),
        )
        .expect("open storage");
        f(&storage)
    };
    s.restart();
    out
}

/// A server whose db 0 holds `key` as a hash, for WRONGTYPE checks before the hash commands
/// exist: the record is written straight into storage while the server is stopped.
pub fn server_with_hash(key: &str) -> TestServer {
    use pika::storage::codec::{DataType, MetaValue};
    let mut s = TestServer::start();
    with_storage(&mut s, |st| {
        let state = st.load(0, key.as_bytes()).expect("load");
        let mut txn = st.at(0, pika::storage::types::Writer::INTERNAL).txn();
        let meta = MetaValue {
            data_type: DataType::Hash,
            flags: 0,
            expire_ms: 0,
            body: bytes::Bytes::new(),
        };
        txn.put(&state, &meta);
        txn.commit().expect("commit");
    });
    s
}

/// Runs the binary to completion with a timeout; returns (exit code, stdout, stderr).
pub fn run_pika(args: &[&str]) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pika"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("pika {args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One `field:value` of an INFO section (panics when absent).
/// DEBUG DIGEST-VALUE of `key` (the server needs `enable-debug-command`).
pub fn digest_value(c: &mut redis::Connection, key: &str) -> String {
    let v: Vec<String> = redis::cmd("DEBUG")
        .arg("DIGEST-VALUE")
        .arg(key)
        .query(c)
        .unwrap();
    v[0].clone()
}

pub fn info_field(conn: &mut redis::Connection, section: &str, field: &str) -> String {
    let text: String = redis::cmd("INFO").arg(section).query(conn).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}:\n{text}"))
        .trim()
        .to_string()
}

/// Waits up to `timeout` for `cond` to succeed; panics with the state it last reported.
pub fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + timeout;
    loop {
        match cond() {
            Ok(()) => return,
            Err(state) if Instant::now() >= deadline => {
                panic!("timed out waiting for {what}; last state: {state}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Sets `{prefix}{i}` to `i` for every `i` below `n`, in one pipeline.
pub fn set_numbered(c: &mut redis::Connection, prefix: &str, n: usize) {
    let mut pipe = redis::pipe();
    for i in 0..n {
        pipe.cmd("SET").arg(format!("{prefix}{i}")).arg(i).ignore();
    }
    pipe.query::<()>(c).expect("pipelined SETs");
}

/// Polls `cond` until it holds (panics after 20 s, naming `what`).
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A redis-server on a free port for comparisons, killed when dropped; `None` when it is
/// not installed.
/// A real redis-server beside a fresh pika, for tests that compare the two; `None` (and the
/// test says it is skipped) when redis-server is not installed.
pub fn beside_redis() -> Option<(RedisServer, TestServer)> {
    let Some(redis) = RedisServer::start() else {
        eprintln!("skipped: redis-server is not installed");
        return None;
    };
    Some((redis, TestServer::start()))
}

pub struct RedisServer {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl RedisServer {
    pub fn start() -> Option<RedisServer> {
        RedisServer::start_with(&[])
    }

    /// Starts redis-server with extra `--directive value` arguments after the harness' own.
    pub fn start_with(extra: &[&str]) -> Option<RedisServer> {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--enable-debug-command", "yes", "--dbfilename", "dump.rdb"])
            .arg("--dir")
            .arg(dir.path())
            .args(extra)
            .stdout(Stdio::null())
            .spawn()
            .ok()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !answers_ping(port) {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(RedisServer { child, port, dir })
    }

    /// The redis-server process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .expect("client")
            .get_connection()
            .expect("connect to redis-server")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// xorshift64*: a deterministic generator for randomized tests, reproducible from the seed a
/// failure prints.
pub struct SeededRng(pub u64);

impl SeededRng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True `percent` times in 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// 1 to `max` lowercase letters.
    pub fn text(&mut self, max: usize) -> String {
        let len = 1 + self.below(max);
        (0..len)
            .map(|_| (b'a' + self.below(26) as u8) as char)
            .collect()
    }

    /// `n` arbitrary bytes.
    pub fn junk(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}
