//! INFO [section ...]: the server's state as `field:value` lines under `# Section` headers,
//! with Redis 7's section and field names so that existing clients and tools can read it.
//!
//! Sections are always printed in the canonical order below, whatever order they were asked in;
//! an unknown section name yields nothing (an empty reply when nothing else was asked).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use crate::cmd::gate::table::CommandTable;
use crate::cmd::{args, CmdResult, Ctx};
use crate::resp::Reply;
use crate::state::ServerState;
use crate::storage::codec::Cf;

/// Every section, in output order; the flag says whether a bare INFO includes it.
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
    ("rocksdb", true),
];

/// INFO [section ...].
pub fn info(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mut wanted = [false; SECTIONS.len()];
    if argv.len() == 1 {
        for (w, (_, default)) in wanted.iter_mut().zip(SECTIONS) {
            *w = *default;
        }
    }
    for arg in &argv[1..] {
        let name = args::lower(arg);
        match name.as_str() {
            "all" | "everything" => wanted = [true; SECTIONS.len()],
            "default" => {
                for (w, (_, default)) in wanted.iter_mut().zip(SECTIONS) {
                    *w |= *default;
                }
            }
            _ => {
                if let Some(i) = SECTIONS.iter().position(|(s, _)| *s == name) {
                    wanted[i] = true;
                }
            }
        }
    }
    let server = ctx.server;
    // Pika's `INFO keyspace 1`: recount keys by type now (in the background).
    if argv.len() == 3 && args::is(&argv[1], "keyspace") && argv[2].as_ref() == b"1" {
        server.keyspace_stats.request_rescan();
    }
    let mut out = String::with_capacity(4096);
    for ((name, _), _) in SECTIONS.iter().zip(wanted).filter(|(_, w)| *w) {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        render_section(server, name, &mut out);
    }
    Ok(Reply::Verbatim(Bytes::from(out)))
}

/// Appends one section, header included.
fn render_section(server: &ServerState, name: &str, out: &mut String) {
    let mut title = name.to_string();
    if let Some(first) = title.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    let title = match name {
        "cpu" => "CPU".to_string(),
        "rocksdb" => "RocksDB".to_string(),
        _ => title,
    };
    let _ = write!(out, "# {title}\r\n");
    let mut w = Lines(out);
    match name {
        "server" => server_section(server, &mut w),
        "clients" => clients_section(server, &mut w),
        "memory" => memory_section(server, &mut w),
        "persistence" => persistence_section(server, &mut w),
        "stats" => stats_section(server, &mut w),
        "replication" => replication_section(server, &mut w),
        "cpu" => cpu_section(&mut w),
        "commandstats" => commandstats_section(server, &mut w),
        "errorstats" => errorstats_section(server, &mut w),
        "latencystats" => latencystats_section(server, &mut w),
        "cluster" => w.field("cluster_enabled", u8::from(server.cluster.is_some())),
        "keyspace" => keyspace_section(server, &mut w),
        "rocksdb" => rocksdb_section(server, &mut w),
        _ => {}
    }
}

/// Writes `name:value\r\n` lines.
struct Lines<'a>(&'a mut String);

impl Lines<'_> {
    fn field(&mut self, name: &str, value: impl std::fmt::Display) {
        let _ = write!(self.0, "{name}:{value}\r\n");
    }
}

fn server_section(server: &ServerState, w: &mut Lines<'_>) {
    let cfg = server.config();
    let uptime = server.started.elapsed().as_secs();
    w.field("redis_version", "7.0.15");
    w.field("pika_version", env!("CARGO_PKG_VERSION"));
    w.field("redis_mode", "standalone");
    w.field("os", os_name());
    w.field("arch_bits", usize::BITS);
    w.field("multiplexing_api", "epoll");
    w.field("process_id", std::process::id());
    w.field("process_supervised", "no");
    w.field("tcp_port", cfg.port);
    w.field("server_time_usec", crate::util::clock::unix_ms() * 1000);
    w.field("uptime_in_seconds", uptime);
    w.field("uptime_in_days", uptime / 86400);
    w.field("hz", cfg.hz);
    w.field("configured_hz", cfg.hz);
    w.field(
        "executable",
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    );
    w.field(
        "config_file",
        cfg.config_file
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    );
    w.field("io_threads_active", 0);
}

/// "Linux 6.1.0 x86_64", like Redis' uname-based field.
fn os_name() -> String {
    let read = |p: &str| std::fs::read_to_string(p).map(|s| s.trim().to_string());
    match (
        read("/proc/sys/kernel/ostype"),
        read("/proc/sys/kernel/osrelease"),
    ) {
        (Ok(os), Ok(release)) => format!("{os} {release} {}", std::env::consts::ARCH),
        _ => format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
    }
}

fn clients_section(server: &ServerState, w: &mut Lines<'_>) {
    w.field("connected_clients", server.client_count());
    w.field("cluster_connections", 0);
    w.field("maxclients", server.config().maxclients);
    let buffers = client_buffers(server);
    w.field("client_recent_max_input_buffer", buffers.max_input);
    w.field("client_recent_max_output_buffer", buffers.max_output);
    w.field("blocked_clients", server.blocking.count());
    w.field("tracking_clients", server.tracking.figures().0);
    w.field("clients_in_timeout_table", 0);
}

/// The connected clients' buffers, summed over all of them at the time of the call.
struct ClientBuffers {
    /// Largest query buffer.
    max_input: usize,
    /// Largest unread reply.
    max_output: usize,
    /// Memory held by all connections (CLIENT LIST's tot-mem summed).
    total: usize,
}

fn client_buffers(server: &ServerState) -> ClientBuffers {
    let mut b = ClientBuffers {
        max_input: 0,
        max_output: 0,
        total: 0,
    };
    for client in server.clients.lock().values() {
        let (qbuf, omem, total) = client.buffer_figures();
        b.max_input = b.max_input.max(qbuf);
        b.max_output = b.max_output.max(omem);
        b.total += total;
    }
    b
}

/// Redis' bytesToHuman.
fn human_bytes(n: u64) -> String {
    let n = n as f64;
    if n < 1024.0 {
        format!("{n}B")
    } else if n < 1024.0 * 1024.0 {
        format!("{:.2}K", n / 1024.0)
    } else if n < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", n / (1024.0 * 1024.0))
    } else {
        format!("{:.2}G", n / (1024.0 * 1024.0 * 1024.0))
    }
}

/// The highest `used_memory` INFO has reported.
static USED_MEMORY_PEAK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn memory_section(server: &ServerState, w: &mut Lines<'_>) {
    let cfg = server.config();
    let rss = crate::util::alloc_counter::resident_bytes();
    let engine = server.storage.engine();
    let sum = |property: &str| -> u64 {
        Cf::ALL
            .iter()
            .filter_map(|&cf| engine.property_int(cf, property))
            .sum()
    };
    let memtables = sum("rocksdb.cur-size-all-mem-tables");
    let table_readers = sum("rocksdb.estimate-table-readers-mem");
    // One block cache is shared by every column family.
    let block_cache = engine
        .property_int(Cf::Meta, "rocksdb.block-cache-usage")
        .unwrap_or(0);
    // Index and filter memory: the block cache's pinned entries (the pinned top-level index
    // and filter partitions and level-0 files' index and filter blocks, plus whatever data
    // blocks open iterators pin at the moment), which are part of `block_cache`, and the
    // table readers' own memory outside the cache. Unpinned index and filter partitions are
    // cached like data blocks and RocksDB does not report them apart.
    let pinned = engine
        .property_int(Cf::Meta, "rocksdb.block-cache-pinned-usage")
        .unwrap_or(0);
    let index_filter = pinned + table_readers;
    let rocksdb = memtables + table_readers + block_cache;
    // What the server's own code holds (buffers, cached records); RocksDB's share is below.
    let used = match crate::util::alloc_counter::allocated_bytes() {
        0 => rss.saturating_sub(rocksdb),
        n => n,
    };
    let peak = USED_MEMORY_PEAK
        .fetch_max(used, std::sync::atomic::Ordering::Relaxed)
        .max(used);
    w.field("used_memory", used);
    w.field("used_memory_human", human_bytes(used));
    w.field("used_memory_rss", rss);
    w.field("used_memory_rss_human", human_bytes(rss));
    w.field("used_memory_peak", peak);
    w.field("used_memory_peak_human", human_bytes(peak));
    // Redis' split of used_memory: what the server needs whatever the data (its start-up
    // heap, client buffers, the replication backlog, scripts) and the rest.
    let buffers = client_buffers(server);
    let (_, backlog_len) = server.replication.redis_feed.backlog_span();
    let replicas_kept = if server.replication.redis_feed.replicas() > 0 {
        backlog_len.saturating_sub(cfg.repl_backlog_size)
    } else {
        0
    };
    let (scripts, script_bytes, lua_bytes) = server.scripts.memory_figures();
    let startup = server.used_memory_startup.min(used);
    let overhead =
        (startup + buffers.total as u64 + backlog_len + script_bytes as u64 + lua_bytes as u64)
            .min(used);
    let dataset = used - overhead;
    w.field("used_memory_startup", startup);
    w.field("used_memory_overhead", overhead);
    w.field("used_memory_dataset", dataset);
    w.field(
        "used_memory_dataset_perc",
        format!(
            "{:.2}%",
            dataset as f64 * 100.0 / used.saturating_sub(startup).max(1) as f64
        ),
    );
    w.field("used_memory_lua", lua_bytes);
    w.field("used_memory_lua_human", human_bytes(lua_bytes as u64));
    w.field("used_memory_vm_eval", lua_bytes);
    w.field("used_memory_scripts", script_bytes);
    w.field(
        "used_memory_scripts_human",
        human_bytes(script_bytes as u64),
    );
    w.field("used_memory_scripts_eval", script_bytes);
    w.field("number_of_cached_scripts", scripts);
    let (libraries, functions) = server.scripts.library_counts();
    w.field("number_of_functions", functions);
    w.field("number_of_libraries", libraries);
    w.field("total_system_memory", total_system_memory());
    w.field("used_memory_memtables", memtables);
    w.field("used_memory_rocksdb_block_cache", block_cache);
    w.field("used_memory_rocksdb_table_readers", table_readers);
    w.field("used_memory_rocksdb_index_filter", index_filter);
    w.field("used_memory_rocksdb", rocksdb);
    w.field(
        "mem_fragmentation_ratio",
        format!("{:.2}", rss as f64 / (used + rocksdb).max(1) as f64),
    );
    // Resident memory beyond what the server and RocksDB account for.
    w.field(
        "mem_fragmentation_bytes",
        rss as i64 - (used + rocksdb) as i64,
    );
    // Bytes kept for lagging Redis replicas beyond repl-backlog-size: their output buffers.
    w.field("mem_not_counted_for_evict", replicas_kept);
    w.field("mem_replication_backlog", backlog_len);
    w.field("mem_clients_slaves", replicas_kept);
    w.field("mem_clients_normal", buffers.total);
    // Nothing is freed in the background: a deletion is one RocksDB write.
    w.field("lazyfree_pending_objects", 0);
    let tier = server.storage.cache().stats();
    w.field("cache_memory", tier.memory);
    w.field("cache_keys", tier.keys);
    w.field("cache_hits", tier.hits);
    w.field("cache_misses", tier.misses);
    w.field("cache_evicted_keys", tier.evicted);
    w.field("cache_maxmemory", cfg.cache_maxmemory);
    w.field("cache_maxmemory_policy", &cfg.cache_maxmemory_policy);
    w.field("maxmemory", cfg.maxmemory);
    w.field("maxmemory_human", human_bytes(cfg.maxmemory));
    w.field("maxmemory_policy", &cfg.maxmemory_policy);
    w.field("mem_allocator", crate::util::alloc_counter::ALLOCATOR_NAME);
    // The bound on resident memory the live configuration sets (conf/pika.conf explains it).
    let budget = crate::config::budget::MemoryBudget::of(&cfg).total();
    w.field("memory_budget", budget);
    w.field("memory_budget_human", human_bytes(budget));
}

/// Physical memory of the machine, from /proc/meminfo (0 where it is not available).
fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn persistence_section(server: &ServerState, w: &mut Lines<'_>) {
    w.field("loading", 0);
    w.field("async_loading", 0);
    w.field(
        "rdb_changes_since_last_save",
        server
            .storage
            .stats
            .changes_since_save
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    let stats = &server.storage.stats;
    let relaxed = std::sync::atomic::Ordering::Relaxed;
    w.field(
        "rdb_bgsave_in_progress",
        u8::from(stats.save_in_progress.load(relaxed)),
    );
    w.field(
        "rdb_last_save_time",
        crate::cmd::admin::server::last_save_time(server),
    );
    let failed = stats.last_save_failed.load(relaxed);
    w.field("rdb_last_bgsave_status", if failed { "err" } else { "ok" });
    w.field(
        "rdb_last_bgsave_time_sec",
        stats.last_save_duration_secs.load(relaxed),
    );
    let started = stats.save_started_ms.load(relaxed);
    w.field(
        "rdb_current_bgsave_time_sec",
        if started == 0 {
            -1
        } else {
            (crate::util::clock::unix_ms().saturating_sub(started) / 1000) as i64
        },
    );
    w.field("backup_path", stats.last_backup.lock().as_str());
    w.field("aof_enabled", 0);
    w.field("aof_rewrite_in_progress", 0);
    let engine = server.storage.engine();
    w.field("binlog_fsync", &server.config().binlog_fsync);
    w.field("binlog_fsyncs", engine.wal_fsyncs());
    w.field("binlog_durable_offset", engine.durable_sequence());
}

fn stats_section(server: &ServerState, w: &mut Lines<'_>) {
    let s = &server.stats;
    let st = &server.storage.stats;
    let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    w.field(
        "total_connections_received",
        load(&s.total_connections_received),
    );
    w.field(
        "total_commands_processed",
        load(&s.total_commands_processed),
    );
    w.field(
        "instantaneous_ops_per_sec",
        s.instantaneous_ops().round() as u64,
    );
    w.field("total_net_input_bytes", load(&s.total_net_input_bytes));
    w.field("total_net_output_bytes", load(&s.io.net_output_bytes));
    let t = &server.replication.traffic;
    w.field(
        "total_net_repl_input_bytes",
        t.wire_received.load(Ordering::Relaxed),
    );
    w.field(
        "total_net_repl_output_bytes",
        t.wire_sent.load(Ordering::Relaxed),
    );
    w.field("rejected_connections", load(&s.rejected_connections));
    w.field(
        "client_output_buffer_limit_disconnections",
        load(&s.output_buffer_limit_disconnections),
    );
    let repl = &server.replication;
    w.field("sync_full", load(&repl.sync_full));
    w.field("sync_partial_ok", load(&repl.sync_partial_ok));
    w.field("sync_partial_err", load(&repl.sync_partial_err));
    w.field("expired_keys", load(&st.expired_keys));
    // Keys past their deadline not yet removed, as a share of all keys, by the latest scan.
    let scan = server.keyspace_stats.latest();
    let (stale, seen) = scan.as_ref().map_or((0, 0), |s| {
        s.databases.iter().fold((0, 0), |(i, k), c| {
            (i + c.invalid, k + c.keys() + c.invalid)
        })
    });
    w.field(
        "expired_stale_perc",
        format!("{:.2}", stale as f64 * 100.0 / seen.max(1) as f64),
    );
    w.field(
        "expired_time_cap_reached_count",
        load(&st.expire_cycles_capped),
    );
    // Keys deleted to bring memory under maxmemory (the hot tier's own drops, which keep the
    // data on disk, are INFO memory's cache_evicted_keys).
    w.field("evicted_keys", load(&st.evicted_keys));
    w.field("keyspace_hits", load(&st.keyspace_hits));
    w.field("keyspace_misses", load(&st.keyspace_misses));
    w.field("pubsub_channels", 0);
    w.field("pubsub_patterns", 0);
    w.field("total_error_replies", load(&s.total_error_replies));
    w.field(
        "unexpected_error_replies",
        load(&s.unexpected_error_replies),
    );
    // RESTORE decodes every payload in full before it writes anything: each is a deep check.
    let restores = CommandTable::get()
        .lookup(b"restore")
        .and_then(|(i, _)| s.commands.get(i))
        .map_or(0, |c| load(&c.calls));
    w.field("dump_payload_sanitizations", restores);
    w.field("total_reads_processed", load(&s.io.reads_processed));
    w.field("total_writes_processed", load(&s.io.writes_processed));
    w.field(
        "migrate_cached_sockets",
        crate::cmd::types::migrate::cached_sockets(),
    );
    // A replica never expires keys itself (its master's deletions arrive), so it tracks none.
    w.field("slave_expires_tracked_keys", 0);
    // The client-side caching table (CLIENT TRACKING).
    let (_, tracked_keys, tracked_items, tracked_prefixes) = server.tracking.figures();
    w.field("tracking_total_keys", tracked_keys);
    w.field("tracking_total_items", tracked_items);
    w.field("tracking_total_prefixes", tracked_prefixes);
    let denied = &server.acl.denied;
    w.field("acl_access_denied_auth", load(&denied.auth));
    w.field("acl_access_denied_cmd", load(&denied.cmd));
    w.field("acl_access_denied_key", load(&denied.key));
    w.field("acl_access_denied_channel", load(&denied.channel));
}

fn replication_section(server: &ServerState, w: &mut Lines<'_>) {
    let repl = &server.replication;
    let storage = &server.storage;
    let latest = storage.engine().latest_sequence();
    let replid = storage.replication_id().unwrap_or_default();
    let master = repl.master();
    match &master {
        None => w.field("role", "master"),
        Some(m) => {
            let link = repl.link();
            let up = link.state == crate::replication::LinkState::Connected;
            w.field("role", "slave");
            w.field("master_host", &m.host);
            w.field("master_port", m.port);
            w.field("master_link_status", if up { "up" } else { "down" });
            w.field(
                "master_last_io_seconds_ago",
                link.last_io.map_or(-1, |t| t.elapsed().as_secs() as i64),
            );
            let syncing = link.state == crate::replication::LinkState::Sync;
            w.field("master_sync_in_progress", u8::from(syncing));
            if syncing {
                // A diskless RDB's size is unknown until its end, as Redis shows it.
                let total = if link.sync_total == 0 {
                    -1
                } else {
                    link.sync_total as i64
                };
                w.field("master_sync_total_bytes", total);
                w.field("master_sync_read_bytes", link.sync_received);
                w.field(
                    "master_sync_left_bytes",
                    link.sync_total.saturating_sub(link.sync_received),
                );
            }
            let position = repl
                .redis_position()
                .or_else(|| storage.master_position().ok().flatten());
            w.field("slave_repl_offset", position.as_ref().map_or(0, |p| p.1));
            w.field("slave_priority", server.config().slave_priority);
            w.field("slave_read_only", u8::from(server.config().slave_read_only));
            if !up {
                w.field(
                    "master_link_down_since_seconds",
                    link.down_since.elapsed().as_secs(),
                );
            }
            if !link.last_error.is_empty() {
                w.field(
                    "master_link_last_error",
                    link.last_error.replace(['\r', '\n'], " "),
                );
            }
        }
    }
    let slaves = repl.slaves();
    w.field("connected_slaves", slaves.len());
    let now = crate::util::clock::unix_ms();
    for (i, s) in slaves.iter().enumerate() {
        let acked = s.acked.load(std::sync::atomic::Ordering::Relaxed);
        let lag =
            now.saturating_sub(s.last_ack_ms.load(std::sync::atomic::Ordering::Relaxed)) / 1000;
        w.field(
            &format!("slave{i}"),
            format!(
                "ip={},port={},state={},offset={acked},lag={lag}",
                s.ip,
                s.port,
                *s.state.lock()
            ),
        );
    }
    // Redis replicas of this node (redis-server REPLICAOF it) and their stream's offset.
    w.field("redis_replicas", repl.redis_feed.replicas());
    w.field("redis_repl_offset", repl.redis_feed.offset());
    w.field("master_failover_state", "no-failover");
    w.field("master_replid", &replid);
    let previous = storage.previous_history().ok().flatten();
    match &previous {
        Some((id, _)) => w.field("master_replid2", id),
        None => w.field("master_replid2", "0".repeat(40)),
    }
    let offset = match &master {
        Some(_) => repl
            .redis_position()
            .or_else(|| storage.master_position().ok().flatten())
            .map_or(0, |p| p.1),
        None => latest,
    };
    w.field("master_repl_offset", offset);
    // Redis' meaning: the first offset that is no longer part of replid2's history.
    w.field(
        "second_repl_offset",
        previous.map_or(-1, |(_, last)| last as i64 + 1),
    );
    let feed = &repl.redis_feed;
    w.field(
        "repl_backlog_active",
        u8::from(!slaves.is_empty() || feed.replicas() > 0),
    );
    // The backlog of the Redis-protocol stream (what a Redis replica's PSYNC resumes from).
    let (first, histlen) = feed.backlog_span();
    w.field("repl_backlog_size", server.config().repl_backlog_size);
    w.field("repl_backlog_first_byte_offset", first);
    w.field("repl_backlog_histlen", histlen);
    // Pika's view: the binlog is the WAL; its position is the last sequence number.
    let files = crate::storage::wal::wal_files(storage.engine().path()).unwrap_or_default();
    w.field("binlog_files", files.len());
    w.field(
        "binlog_current_file",
        files
            .last()
            .and_then(|f| f.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    );
    w.field("binlog_offset", latest);
    let bytes = |c: &std::sync::Arc<std::sync::atomic::AtomicU64>| {
        c.load(std::sync::atomic::Ordering::Relaxed)
    };
    let t = &repl.traffic;
    w.field("repl_wire_bytes_sent", bytes(&t.wire_sent));
    w.field("repl_payload_bytes_sent", bytes(&t.payload_sent));
    w.field("repl_wire_bytes_received", bytes(&t.wire_received));
    w.field("repl_payload_bytes_received", bytes(&t.payload_received));
}

/// (user, system) CPU seconds of this process, from /proc/self/stat.
fn cpu_times() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    // The command name (field 2) may contain spaces; fields after its closing ')' are plain.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3, so utime (14) and stime (15) are at offsets 11 and 12.
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0.0, |t| t as f64 / 100.0)
    };
    (tick(11), tick(12))
}

/// (user, system) CPU seconds of the calling thread.
fn thread_cpu_times() -> (f64, f64) {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) } != 0 {
        return (0.0, 0.0);
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(usage.ru_utime), secs(usage.ru_stime))
}

fn cpu_section(w: &mut Lines<'_>) {
    let (user, sys) = cpu_times();
    w.field("used_cpu_sys", format!("{sys:.6}"));
    w.field("used_cpu_user", format!("{user:.6}"));
    w.field("used_cpu_sys_children", "0.000000");
    w.field("used_cpu_user_children", "0.000000");
    // The thread answering INFO is the one that runs commands: Redis' main thread.
    let (user, sys) = thread_cpu_times();
    w.field("used_cpu_sys_main_thread", format!("{sys:.6}"));
    w.field("used_cpu_user_main_thread", format!("{user:.6}"));
}

fn commandstats_section(server: &ServerState, w: &mut Lines<'_>) {
    let table = CommandTable::get();
    for (i, spec) in table.all() {
        let Some(c) = server.stats.commands.get(i) else {
            continue;
        };
        let calls = c.calls.load(Ordering::Relaxed);
        let usec = c.usec.load(Ordering::Relaxed);
        let rejected = c.rejected_calls.load(Ordering::Relaxed);
        let failed = c.failed_calls.load(Ordering::Relaxed);
        if calls == 0 && rejected == 0 && failed == 0 {
            continue;
        }
        let per_call = if calls == 0 {
            0.0
        } else {
            usec as f64 / calls as f64
        };
        w.field(
            &format!("cmdstat_{}", spec.name),
            format!(
                "calls={calls},usec={usec},usec_per_call={per_call:.2},\
                 rejected_calls={rejected},failed_calls={failed}"
            ),
        );
    }
}

/// `latency_percentiles_usec_<cmd>:p50=..,p99=..` for every command that has run, at the
/// percentiles of `latency-tracking-info-percentiles`.
fn latencystats_section(server: &ServerState, w: &mut Lines<'_>) {
    let cfg = server.config();
    if !cfg.latency_tracking {
        return;
    }
    let percentiles = crate::config::parse_percentiles(&cfg.latency_tracking_info_percentiles)
        .unwrap_or_default();
    for (i, spec) in CommandTable::get().all() {
        let Some(snapshot) = server.latency.commands.snapshot(i) else {
            continue;
        };
        let values: Vec<String> = percentiles
            .iter()
            .map(|&p| {
                let usec = snapshot.value_at_percentile(p) as f64 / 1000.0;
                format!("p{p}={usec:.3}")
            })
            .collect();
        w.field(
            &format!("latency_percentiles_usec_{}", spec.name),
            values.join(","),
        );
    }
}

fn errorstats_section(server: &ServerState, w: &mut Lines<'_>) {
    for (code, count) in server.stats.errors.lock().iter() {
        w.field(&format!("errorstat_{code}"), format!("count={count}"));
    }
}

/// Redis' `dbN:keys=,expires=,avg_ttl=` (keys and expires exact, from the write path's
/// counters; avg_ttl from the statistics thread's latest scan). The scan's per-type counts
/// are in the RocksDB section (`keyspace_dbN`).
fn keyspace_section(server: &ServerState, w: &mut Lines<'_>) {
    let storage = &server.storage;
    let scan = server.keyspace_stats.latest();
    for db in 0..storage.databases() {
        let keys = storage.dbsize(db).unwrap_or(0);
        if keys == 0 {
            continue;
        }
        let expires = storage.expires_count(db).unwrap_or(0);
        let counted = scan.as_ref().and_then(|s| s.databases.get(db));
        // The scan's mean remaining TTL, aged by the time since the scan.
        let since_scan_ms = scan.as_ref().map_or(0, |s| {
            crate::util::clock::unix_secs().saturating_sub(s.finished_at) * 1000
        });
        let avg_ttl = counted.map_or(0, |c| c.avg_ttl_ms.saturating_sub(since_scan_ms));
        w.field(
            &format!("db{db}"),
            format!("keys={keys},expires={expires},avg_ttl={avg_ttl}"),
        );
    }
}

fn rocksdb_section(server: &ServerState, w: &mut Lines<'_>) {
    const PROPERTIES: &[&str] = &[
        "estimate-num-keys",
        "total-sst-files-size",
        "cur-size-all-mem-tables",
        "estimate-pending-compaction-bytes",
        "num-running-compactions",
    ];
    let cfg = server.config();
    let c = server.compaction.status();
    w.field("is_compact", if c.running { "yes" } else { "no" });
    w.field("compact_cron", &cfg.compact_cron);
    w.field("compact_interval", &cfg.compact_interval);
    w.field("compactions_queued", c.queued);
    w.field("compactions_done", c.done);
    w.field("compactions_failed", c.failed);
    let (reason, at, took) = c.last.unwrap_or(("none", 0, 0.0));
    w.field("last_compact_reason", reason);
    w.field("last_compact_time", at);
    w.field("last_compact_seconds", format!("{took:.3}"));
    let scan = server.keyspace_stats.latest();
    w.field(
        "keyspace_scan_time",
        scan.as_ref().map_or(0, |s| s.finished_at),
    );
    w.field(
        "keyspace_scan_ms",
        scan.as_ref().map_or(0, |s| s.took.as_millis()),
    );
    // Per-type counts of the latest scan, a line per database (Redis tools read the keyspace
    // section's lines as exactly keys, expires and avg_ttl).
    if let Some(s) = scan.as_ref() {
        for (db, c) in s.databases.iter().enumerate() {
            if c.keys() + c.invalid == 0 {
                continue;
            }
            w.field(
                &format!("keyspace_db{db}"),
                format!(
                    "strings={},hashes={},lists={},sets={},zsets={},streams={},invalid_keys={}",
                    c.strings, c.hashes, c.lists, c.sets, c.zsets, c.streams, c.invalid
                ),
            );
        }
    }
    let engine = server.storage.engine();
    for cf in Cf::ALL {
        for prop in PROPERTIES {
            let value = engine
                .property_int(cf, &format!("rocksdb.{prop}"))
                .unwrap_or(0);
            w.field(&format!("{}_{}", cf.name(), prop.replace('-', "_")), value);
        }
    }
}
