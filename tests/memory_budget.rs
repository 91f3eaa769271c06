//! INFO memory's `memory_budget` is the bound conf/pika.conf documents, follows CONFIG SET of
//! its inputs, and RSS stays below it under load; the RocksDB parts are reported apart.

mod common;

use common::{cmd, info_field, TestServer};

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;

/// The formula of conf/pika.conf, written out independently of the server's code.
#[allow(clippy::too_many_arguments)]
fn documented_budget(
    cache_maxmemory: u64,
    block_cache: u64,
    write_buffer_size: u64,
    max_write_buffer_number: u64,
    max_cache_files: u64,
    budget_clients: u64,
    repl_backlog_size: u64,
) -> u64 {
    cache_maxmemory
        + block_cache
        + write_buffer_size * max_write_buffer_number
        + max_cache_files * 4 * KIB
        + budget_clients * 32 * KIB
        + repl_backlog_size
        + 96 * MIB
}

fn budget(c: &mut redis::Connection) -> u64 {
    info_field(c, "memory", "memory_budget").parse().unwrap()
}

fn small_server() -> TestServer {
    TestServer::start_with(&[
        "--cache-maxmemory",
        "8mb",
        "--block-cache",
        "8mb",
        "--write-buffer-size",
        "4mb",
        "--max-write-buffer-number",
        "3",
        "--max-cache-files",
        "200",
        "--memory-budget-clients",
        "10",
        "--repl-backlog-size",
        "1mb",
    ])
}

#[test]
fn budget_is_the_documented_formula_and_follows_config_set() {
    let s = small_server();
    let mut c = s.conn();
    assert_eq!(
        budget(&mut c),
        documented_budget(8 * MIB, 8 * MIB, 4 * MIB, 3, 200, 10, MIB)
    );
    let human = info_field(&mut c, "memory", "memory_budget_human");
    assert!(human.ends_with('M'), "{human}");
    for field in [
        "used_memory_rocksdb_block_cache",
        "used_memory_memtables",
        "used_memory_rocksdb_index_filter",
        "used_memory_rocksdb_table_readers",
    ] {
        let v = info_field(&mut c, "memory", field);
        assert!(v.parse::<u64>().is_ok(), "{field}:{v}");
    }

    let _: () = cmd(&mut c, &["CONFIG", "SET", "block-cache", "16mb"]).unwrap();
    let v: Vec<String> = cmd(&mut c, &["CONFIG", "GET", "block-cache"]).unwrap();
    assert_eq!(v[1], (16 * MIB).to_string());
    assert_eq!(
        budget(&mut c),
        documented_budget(8 * MIB, 16 * MIB, 4 * MIB, 3, 200, 10, MIB)
    );
    let _: () = cmd(&mut c, &["CONFIG", "SET", "memory-budget-clients", "50"]).unwrap();
    let _: () = cmd(&mut c, &["CONFIG", "SET", "repl-backlog-size", "2mb"]).unwrap();
    let expected = documented_budget(8 * MIB, 16 * MIB, 4 * MIB, 3, 200, 50, 2 * MIB);
    assert_eq!(budget(&mut c), expected);

    // The hot tier's size is a budget input; where it can be changed at run time the budget
    // follows, and where it cannot the budget stays.
    match cmd::<()>(&mut c, &["CONFIG", "SET", "cache-maxmemory", "2mb"]) {
        Ok(()) => assert_eq!(
            budget(&mut c),
            documented_budget(2 * MIB, 16 * MIB, 4 * MIB, 3, 200, 50, 2 * MIB)
        ),
        Err(_) => assert_eq!(budget(&mut c), expected),
    }
}

#[test]
fn rss_stays_below_the_budget_under_load() {
    let s = small_server();
    let mut c = s.conn();
    let value = vec![b'x'; 1000];
    // 50 MB of 1 KB values, pipelined, then read back at random.
    for chunk in 0..50 {
        let mut p = redis::pipe();
        for i in 0..1000 {
            p.cmd("SET")
                .arg(format!("key:{chunk}:{i}"))
                .arg(&value[..])
                .ignore();
        }
        let _: () = p.query(&mut c).unwrap();
    }
    let mut seed = 7u64;
    for _ in 0..20 {
        let mut p = redis::pipe();
        for _ in 0..1000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let k = (seed >> 33) % 50_000;
            p.cmd("GET").arg(format!("key:{}:{}", k / 1000, k % 1000));
        }
        let got: Vec<Option<Vec<u8>>> = p.query(&mut c).unwrap();
        assert!(got.iter().all(|v| v.as_deref() == Some(&value[..])));
    }
    let budget = budget(&mut c);
    let rss = s.rss_bytes();
    let memtables: u64 = info_field(&mut c, "memory", "used_memory_memtables")
        .parse()
        .unwrap();
    assert!(memtables <= 12 * MIB, "memtables {memtables}");
    assert!(
        rss < budget,
        "RSS {rss} is above the memory budget {budget}"
    );
}
