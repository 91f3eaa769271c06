//! A full disk, black box. The database lives on a small tmpfs mounted for each test
//! (mounting needs root, as CI runs); a filler file takes most of it, and removing the filler
//! is "space returns".
//!
//! What must hold: writes that add data get a "No space left on device" error, reads keep
//! working, every acknowledged write survives, and writes resume once space is freed, without
//! anyone restarting the server.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::TestServer;

const VALUE_LEN: usize = 64 * 1024;

/// A tmpfs of `size_mb` megabytes, unmounted when dropped.
struct SmallDisk {
    mount: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size_mb: u64) -> SmallDisk {
        let dir = tempfile::tempdir().expect("temp dir");
        let mount = dir.path().join("disk");
        std::fs::create_dir(&mount).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m"), "tmpfs"])
            .arg(&mount)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a {size_mb} MB tmpfs at {} failed: these tests need root",
            mount.display()
        );
        SmallDisk { mount, _dir: dir }
    }

    fn db_path(&self) -> String {
        self.mount.join("db").display().to_string()
    }

    fn available(&self) -> u64 {
        fs_available(&self.mount)
    }

    fn filler(&self) -> PathBuf {
        self.mount.join("filler")
    }

    /// Grows the filler file until about `leave` bytes stay free.
    fn fill_leaving(&self, leave: u64) {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.filler())
            .unwrap();
        let chunk = vec![0x5au8; 1 << 20];
        while self.available() > leave + chunk.len() as u64 {
            file.write_all(&chunk).unwrap();
        }
        file.sync_all().unwrap();
    }

    fn free_filler(&self) {
        std::fs::remove_file(self.filler()).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
    }
}

fn fs_available(path: &Path) -> u64 {
    let out = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(path)
        .output()
        .expect("df");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .expect("df output")
}

fn value_of(i: usize) -> Vec<u8> {
    let mut v = format!("value-{i}-").into_bytes();
    v.resize(VALUE_LEN, b'a' + (i % 26) as u8);
    v
}

/// A fresh connection, retrying while the server is away (it reopens its database once
/// space returns after RocksDB itself ran out of it).
fn connect(server: &TestServer) -> redis::Connection {
    let mut last = String::new();
    for _ in 0..600 {
        match redis::Client::open(server.url())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(5)))
        {
            Ok(c) => return c,
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("cannot connect: {last}");
}

/// SETs 64 KB values until one is refused; returns the acknowledged keys' numbers and the
/// refusal's text. A client whose write could not be made durable is disconnected (its write
/// is not acknowledged): the next write goes on a new connection.
fn write_until_refused(server: &TestServer) -> (Vec<usize>, String) {
    let mut conn = connect(server);
    let mut acked = Vec::new();
    for i in 0..4000 {
        let result: redis::RedisResult<()> = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(value_of(i))
            .query(&mut conn);
        match result {
            Ok(()) => acked.push(i),
            Err(e) if e.is_io_error() || e.is_connection_dropped() => conn = connect(server),
            Err(e) => return (acked, e.to_string()),
        }
    }
    panic!("4000 writes of 64 KB fit on the small disk");
}

/// Every acknowledged key reads back with its value.
fn check_acked(server: &TestServer, acked: &[usize]) {
    let mut conn = connect(server);
    for &i in acked {
        let got: Option<Vec<u8>> = redis::cmd("GET")
            .arg(format!("k{i}"))
            .query(&mut conn)
            .unwrap_or_else(|e| panic!("GET k{i}: {e}"));
        assert!(got == Some(value_of(i)), "k{i} lost or changed");
    }
}

/// SET succeeds again (on a fresh connection each try) within `timeout`.
fn wait_for_writes(server: &TestServer, timeout: Duration) {
    common::wait_for("writes to resume", timeout, || {
        let mut conn = connect(server);
        redis::cmd("SET")
            .arg("after")
            .arg("space returned")
            .query::<()>(&mut conn)
            .map_err(|e| e.to_string())
    });
}

#[test]
fn below_the_reserve_writes_that_add_data_are_refused_and_resume_when_space_returns() {
    let disk = SmallDisk::mount(96);
    let db_path = disk.db_path();
    let mut server = TestServer::start_with(&[
        "--db-path",
        &db_path,
        "--least-free-disk-resume-size",
        "40mb",
        "--write-buffer-size",
        "4mb",
    ]);
    disk.fill_leaving(48 << 20);

    let (mut acked, refusal) = write_until_refused(&server);
    assert!(!acked.is_empty(), "nothing was written before the refusal");
    assert!(
        refusal.contains("No space left on device")
            && refusal.contains("least-free-disk-resume-size"),
        "refusal: {refusal}"
    );
    // Reads go on, and so do commands that free space.
    check_acked(&server, &acked);
    let mut conn = connect(&server);
    let deleted: i64 = redis::cmd("DEL").arg("k0").query(&mut conn).unwrap();
    assert_eq!(deleted, 1);
    acked.retain(|&i| i != 0);
    let refused = redis::cmd("SET")
        .arg("more")
        .arg("data")
        .query::<()>(&mut conn)
        .unwrap_err();
    assert!(refused.to_string().contains("No space left on device"));

    disk.free_filler();
    wait_for_writes(&server, Duration::from_secs(10));
    check_acked(&server, &acked);

    server.restart();
    check_acked(&server, &acked);
}

#[test]
fn a_disk_filled_under_the_engine_stops_writes_until_space_returns_then_they_resume() {
    let disk = SmallDisk::mount(64);
    let db_path = disk.db_path();
    // No reserve: the writes run into the full disk inside RocksDB.
    let mut server = TestServer::start_with(&[
        "--db-path",
        &db_path,
        "--least-free-disk-resume-size",
        "0",
        "--write-buffer-size",
        "4mb",
    ]);
    disk.fill_leaving(12 << 20);

    let (acked, failure) = write_until_refused(&server);
    assert!(!acked.is_empty(), "nothing was written before the failure");
    assert!(
        failure.contains("No space left on device"),
        "failure: {failure}"
    );
    // Reads go on while the disk is full, and writes stay refused.
    check_acked(&server, &acked);
    let mut conn = connect(&server);
    assert!(redis::cmd("SET")
        .arg("more")
        .arg(value_of(1))
        .query::<()>(&mut conn)
        .is_err());

    disk.free_filler();
    wait_for_writes(&server, Duration::from_secs(30));
    check_acked(&server, &acked);

    server.kill9();
    server.restart();
    check_acked(&server, &acked);
}
