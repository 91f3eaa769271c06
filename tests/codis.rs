//! Codis' slot commands (slotmigrate yes): 1024 slots by crc32, the per-slot key index, and
//! keys restored from another node with SLOTSRESTORE.

mod common;

use common::TestServer;

/// crc32 (IEEE) of `key`'s Codis tag, mod 1024, computed here independently of the server.
fn codis_slot(key: &str) -> i64 {
    let tag = match key.find('{') {
        Some(open) => match key[open + 1..].find('}') {
            Some(close) => &key[open + 1..open + 1 + close],
            None => key,
        },
        None => key,
    };
    let mut crc: u32 = 0xffff_ffff;
    for &b in tag.as_bytes() {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    i64::from(!crc % 1024)
}

#[test]
fn slot_index_serves_info_scan_and_delete() {
    let s = TestServer::start_with(&["--slotmigrate", "yes"]);
    let mut keys = Vec::new();
    for i in 0..300 {
        let key = format!("user:{i}");
        let _: () = s.q(&["SET", &key, "v"]);
        keys.push(key);
    }
    let _: i64 = s.q(&["HSET", "{tag}h", "f", "v"]);
    let _: i64 = s.q(&["RPUSH", "{tag}l", "a", "b"]);
    let hashed: Vec<i64> = s.q(&["SLOTSHASHKEY", "user:1", "{tag}h", "{tag}l", "x{tag}y"]);
    assert_eq!(
        hashed,
        vec![
            codis_slot("user:1"),
            codis_slot("tag"),
            codis_slot("tag"),
            codis_slot("tag")
        ]
    );
    let info: Vec<(i64, i64)> = s.q(&["SLOTSINFO"]);
    let total: i64 = info.iter().map(|(_, n)| n).sum();
    assert_eq!(total, 302);
    let tag_slot = codis_slot("tag");
    let in_tag = info.iter().find(|(slot, _)| *slot == tag_slot).unwrap().1;
    assert!(in_tag >= 2);
    // SLOTSSCAN walks exactly the slot's keys.
    let slot = codis_slot("user:7");
    let expected: Vec<&String> = keys.iter().filter(|k| codis_slot(k) == slot).collect();
    let mut seen = Vec::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, batch): (String, Vec<String>) =
            s.q(&["SLOTSSCAN", &slot.to_string(), &cursor, "COUNT", "1"]);
        seen.extend(batch);
        if next == "0" {
            break;
        }
        cursor = next;
    }
    seen.sort();
    let mut expected: Vec<String> = expected.into_iter().cloned().collect();
    expected.sort();
    assert_eq!(seen, expected);
    // SLOTSDEL empties the slot and nothing else.
    let deleted: Vec<(i64, i64)> = s.q(&["SLOTSDEL", &slot.to_string()]);
    assert_eq!(deleted, vec![(slot, 0)]);
    let left: i64 = s.q(&["DBSIZE"]);
    assert_eq!(left, 302 - expected.len() as i64);
    let _: String = s.q(&["SLOTSCHECK"]);
}

#[test]
fn the_index_is_built_for_existing_keys_and_kept_across_restarts() {
    let mut s = TestServer::start();
    for i in 0..50 {
        let _: () = s.q(&["SET", &format!("k{i}"), "v"]);
    }
    let refused = s.try_q(&["SLOTSINFO"]).unwrap_err();
    assert!(
        common::error_text(&refused).contains("slotmigrate"),
        "{refused}"
    );
    s.restart_with(&["--slotmigrate", "yes"]);
    let info: Vec<(i64, i64)> = s.q(&["SLOTSINFO", "0", "1024"]);
    assert_eq!(info.iter().map(|(_, n)| n).sum::<i64>(), 50);
    let _: i64 = s.q(&["DEL", "k1", "k2"]);
    let _: () = s.q(&["SET", "new", "v"]);
    s.restart();
    let info: Vec<(i64, i64)> = s.q(&["SLOTSINFO"]);
    assert_eq!(info.iter().map(|(_, n)| n).sum::<i64>(), 49);
    let _: String = s.q(&["FLUSHALL"]);
    let info: Vec<(i64, i64)> = s.q(&["SLOTSINFO"]);
    assert!(info.is_empty(), "{info:?}");
}

#[test]
fn slotsrestore_stores_dumped_keys_with_their_ttl() {
    let src = TestServer::start();
    let dst = TestServer::start_with(&["--slotmigrate", "yes"]);
    let _: i64 = src.q(&["SADD", "s", "a", "b", "c"]);
    let _: () = src.q(&["SET", "str", "hello"]);
    let set_dump: Vec<u8> = src.q(&["DUMP", "s"]);
    let str_dump: Vec<u8> = src.q(&["DUMP", "str"]);
    let _: () = dst.q(&["SET", "str", "old"]);
    let mut c = dst.conn();
    let _: () = redis::cmd("SLOTSRESTORE")
        .arg("s")
        .arg(0)
        .arg(&set_dump)
        .arg("str")
        .arg(60_000)
        .arg(&str_dump)
        .query(&mut c)
        .unwrap();
    assert_eq!(dst.q::<i64>(&["SCARD", "s"]), 3);
    assert_eq!(dst.q::<String>(&["GET", "str"]), "hello");
    let ttl: i64 = dst.q(&["PTTL", "str"]);
    assert!(ttl > 50_000 && ttl <= 60_000, "{ttl}");
    assert_eq!(dst.q::<i64>(&["TTL", "s"]), -1);
    let bad = redis::cmd("SLOTSRESTORE")
        .arg("k")
        .arg(0)
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(
        common::error_text(&bad).contains("wrong number of arguments"),
        "{bad}"
    );
}

#[test]
fn slotsmgrt_moves_a_slot_key_by_key_and_tags_together() {
    let src = TestServer::start_with(&["--slotmigrate", "yes"]);
    let dst = TestServer::start_with(&["--slotmigrate", "yes"]);
    let port = dst.port.to_string();
    // Keys of one Codis slot: the tag decides it.
    for i in 0..20 {
        let _: () = src.q(&["SET", &format!("{{order}}:{i}"), &i.to_string()]);
    }
    let _: i64 = src.q(&["SADD", "{order}:set", "a", "b"]);
    let _: () = src.q(&["SET", "elsewhere", "x", "EX", "1000"]);
    let slot = codis_slot("order").to_string();
    // SLOTSMGRTSLOT moves one key per call until the slot is empty.
    let mut moved = 0;
    loop {
        let (n, left): (i64, i64) = src.q(&["SLOTSMGRTSLOT", "127.0.0.1", &port, "1000", &slot]);
        moved += n;
        if n == 0 {
            assert_eq!(left, 0);
            break;
        }
        assert!(moved <= 21, "moved {moved}");
    }
    assert_eq!(moved, 21);
    assert_eq!(src.q::<i64>(&["DBSIZE"]), 1);
    assert_eq!(dst.q::<i64>(&["DBSIZE"]), 21);
    assert_eq!(dst.q::<String>(&["GET", "{order}:7"]), "7");
    assert_eq!(dst.q::<i64>(&["SCARD", "{order}:set"]), 2);
    let info: Vec<(i64, i64)> = dst.q(&["SLOTSINFO"]);
    assert_eq!(info, vec![(codis_slot("order"), 21)]);
    // One key, with its TTL; a missing one moves nothing.
    assert_eq!(
        src.q::<i64>(&["SLOTSMGRTONE", "127.0.0.1", &port, "1000", "elsewhere"]),
        1
    );
    assert!(dst.q::<i64>(&["TTL", "elsewhere"]) > 900);
    assert_eq!(
        src.q::<i64>(&["SLOTSMGRTONE", "127.0.0.1", &port, "1000", "nope"]),
        0
    );
    // A tag moves together, back the other way.
    let back = src.port.to_string();
    let n: i64 = dst.q(&["SLOTSMGRTTAGONE", "127.0.0.1", &back, "1000", "{order}:3"]);
    assert_eq!(n, 21);
    assert_eq!(src.q::<i64>(&["DBSIZE"]), 21);
    let (n, left): (i64, i64) = src.q(&["SLOTSMGRTTAGSLOT", "127.0.0.1", &port, "1000", &slot]);
    assert_eq!((n, left), (21, 0));
    // A target that is not there: the key stays.
    let _: () = src.q(&["SET", "stay", "1"]);
    let dead = common::free_port().to_string();
    let err = src
        .try_q(&["SLOTSMGRTONE", "127.0.0.1", &dead, "200", "stay"])
        .unwrap_err();
    assert!(common::error_text(&err).starts_with("IOERR"), "{err}");
    assert_eq!(src.q::<String>(&["GET", "stay"]), "1");
}
