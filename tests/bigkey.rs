//! Deleting a huge collection is O(1): DEL, UNLINK, overwrite and expiry replace only the meta
//! record; the old elements are reclaimed by compaction in the background, and an expiring
//! collection past `small-compaction-threshold` has its range compacted before its key goes.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{cmd, int, TestServer};

/// One INFO rocksdb field.
fn rocksdb_field(c: &mut redis::Connection, name: &str) -> u64 {
    let info: String = cmd(c, &["INFO", "rocksdb"]).expect("INFO");
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {info}"))
}

/// Fills `key` with `n` fields, 1000 per HSET, pipelined.
fn fill_hash(c: &mut redis::Connection, key: &str, n: usize) {
    let mut pipe = redis::pipe();
    for chunk in 0..n / 1000 {
        let mut hset = redis::cmd("HSET");
        hset.arg(key);
        for i in chunk * 1000..(chunk + 1) * 1000 {
            hset.arg(format!("field:{i}")).arg(i);
        }
        pipe.add_command(hset).ignore();
    }
    pipe.query::<()>(c).expect("fill");
}

/// Waits until compaction has left no element of the hash column family on disk.
fn wait_hash_cf_empty(c: &mut redis::Connection) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while rocksdb_field(c, "hash_total_sst_files_size") > 0
        || rocksdb_field(c, "hash_estimate_num_keys") > 0
    {
        assert!(Instant::now() < deadline, "compaction left elements behind");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn del_of_a_million_field_hash_touches_no_element_and_compaction_reclaims_them() {
    let s = TestServer::start();
    let mut c = s.conn();
    fill_hash(&mut c, "big", 1_000_000);
    assert_eq!(int(&mut c, &["HLEN", "big"]), 1_000_000);
    let _: () = cmd(&mut c, &["COMPACT"]).expect("COMPACT");
    let deadline = Instant::now() + Duration::from_secs(60);
    while rocksdb_field(&mut c, "hash_total_sst_files_size") == 0 {
        assert!(Instant::now() < deadline, "elements never reached disk");
        thread::sleep(Duration::from_millis(50));
    }
    let on_disk = rocksdb_field(&mut c, "hash_estimate_num_keys");

    assert_eq!(int(&mut c, &["DEL", "big"]), 1);
    assert_eq!(int(&mut c, &["EXISTS", "big"]), 0);
    assert_eq!(int(&mut c, &["HLEN", "big"]), 0);
    // The delete wrote the meta record only: every element is still there, now unreachable.
    assert_eq!(rocksdb_field(&mut c, "hash_estimate_num_keys"), on_disk);

    // A new incarnation of the key sees none of the old elements.
    assert_eq!(int(&mut c, &["HSET", "big", "fresh", "1"]), 1);
    assert_eq!(int(&mut c, &["HLEN", "big"]), 1);
    let all: Vec<String> = cmd(&mut c, &["HGETALL", "big"]).unwrap();
    assert_eq!(all, ["fresh", "1"]);
    assert_eq!(int(&mut c, &["DEL", "big"]), 1);

    let _: () = cmd(&mut c, &["COMPACT"]).expect("COMPACT");
    wait_hash_cf_empty(&mut c);
}

#[test]
fn overwrite_unlink_and_expiry_leave_elements_to_compaction() {
    let s = TestServer::start();
    let mut c = s.conn();
    for key in ["a", "b", "c"] {
        fill_hash(&mut c, key, 4_000);
    }
    let _: () = cmd(&mut c, &["SET", "a", "now a string"]).unwrap();
    assert_eq!(int(&mut c, &["UNLINK", "b"]), 1);
    assert_eq!(int(&mut c, &["PEXPIRE", "c", "1"]), 1);
    thread::sleep(Duration::from_millis(20));
    assert_eq!(int(&mut c, &["EXISTS", "a", "b", "c"]), 1);
    let _: () = cmd(&mut c, &["COMPACT"]).expect("COMPACT");
    wait_hash_cf_empty(&mut c);
}

#[test]
fn flushall_of_collections_is_reclaimed_too() {
    let s = TestServer::start();
    let mut c = s.conn();
    fill_hash(&mut c, "h", 10_000);
    let _: () = cmd(&mut c, &["FLUSHALL"]).unwrap();
    assert_eq!(int(&mut c, &["DBSIZE"]), 0);
    assert_eq!(int(&mut c, &["HLEN", "h"]), 0);
    let _: () = cmd(&mut c, &["COMPACT"]).expect("COMPACT");
    wait_hash_cf_empty(&mut c);
}

/// Waits until the key count of database 0 is `n`.
fn wait_dbsize(c: &mut redis::Connection, n: i64) {
    common::wait_until("expiry to remove the key", || int(c, &["DBSIZE"]) == n);
}

#[test]
fn an_expiring_big_collection_has_its_elements_compacted_away_before_the_key_goes() {
    let s = TestServer::start();
    let mut c = s.conn();
    fill_hash(&mut c, "kept", 1_000);
    fill_hash(&mut c, "big", 10_000);
    assert!(rocksdb_field(&mut c, "hash_estimate_num_keys") >= 11_000);
    assert_eq!(int(&mut c, &["PEXPIRE", "big", "1"]), 1);
    wait_dbsize(&mut c, 1);
    // Only the live hash's elements are left, with no COMPACT asked for.
    let left = rocksdb_field(&mut c, "hash_estimate_num_keys");
    assert!(
        left < 2_000,
        "{left} elements left after the big hash expired"
    );
    assert_eq!(int(&mut c, &["HLEN", "kept"]), 1_000);

    // Turned off, an expired collection's elements wait for a compaction.
    let _: () = cmd(
        &mut c,
        &["CONFIG", "SET", "small-compaction-threshold", "0"],
    )
    .unwrap();
    fill_hash(&mut c, "big", 10_000);
    assert_eq!(int(&mut c, &["PEXPIRE", "big", "1"]), 1);
    wait_dbsize(&mut c, 1);
    let left = rocksdb_field(&mut c, "hash_estimate_num_keys");
    assert!(
        left >= 10_000,
        "only {left} elements left with the threshold off"
    );
    let _: () = cmd(&mut c, &["COMPACT"]).expect("COMPACT");
    common::wait_until("compaction to drop the elements", || {
        rocksdb_field(&mut c, "hash_estimate_num_keys") < 2_000
    });
}
