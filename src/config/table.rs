//! The directive table: the one place that lists every directive with its field, type,
//! kind, default, run-time mutability ([`Access`](super::directive::Access)) and description. Adding a directive is one row here
//! plus its documented line in `conf/pika.conf` (a unit test checks the file lists them all).

use super::directive::{
    directives, int, memory, one_of, Directive, FieldValue, Value, BOOL, CACHE_TYPES, I32_MAX,
    I64_MAX, KEYSPACE_EVENTS, MB, MEMORY_OR_PERCENT, MEM_MAX, OUTPUT_LIMITS, PATH, PERCENTILES,
    PROTECTED, RUNTIME, SENSITIVE, SHUTDOWN_FLAGS, STARTUP, STR,
};

/// Older or alternative names that CONFIG GET/SET and the config file also accept,
/// as (alias, canonical). CONFIG GET always answers with the canonical name.
pub static NAME_ALIASES: &[(&str, &str)] = &[
    ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    ("hash-max-ziplist-value", "hash-max-listpack-value"),
    ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    ("zset-max-ziplist-value", "zset-max-listpack-value"),
    ("list-max-ziplist-size", "list-max-listpack-size"),
    // Redis 7 renamed lua-time-limit; both names address the same setting there too.
    ("lua-time-limit", "busy-reply-threshold"),
    ("replicaof", "slaveof"),
    ("replica-read-only", "slave-read-only"),
    ("replica-priority", "slave-priority"),
    ("min-slaves-to-write", "min-replicas-to-write"),
    ("min-slaves-max-lag", "min-replicas-max-lag"),
    // Redis' name for the same choice about its append-only file.
    ("appendfsync", "binlog-fsync"),
];

/// Directives CONFIG GET shows only when asked for by their exact name, never through a glob
/// pattern (Redis' `HIDDEN_CONFIG`: debugging knobs that `CONFIG GET *` should not list).
pub static HIDDEN: &[&str] = &["key-load-delay"];

/// Pairs of directives that are one setting under two names, Pika's and Redis' (the hot tier's
/// LFU counter settings): setting either sets both, and both answer CONFIG GET under their own
/// name. Twins have the same kind and default. (`maxmemory-policy` and `maxmemory-samples` are
/// not twins: they choose which keys eviction deletes, the `cache-` ones what the tier drops.)
pub static TWINS: &[(&str, &str)] = &[
    ("cache-lfu-log-factor", "lfu-log-factor"),
    ("cache-lfu-decay-time", "lfu-decay-time"),
];

/// The eviction policies: Redis' names, Pika's numbers accepted too.
const POLICIES: &[&str] = crate::storage::cache::POLICY_NAMES;

/// Values of the directives that open a protected action to clients (Redis' `enable-*`).
const PROTECTED_ACTION: &[&str] = &["no", "yes", "local"];

directives! {
    // ---- General
    daemonize: bool = "daemonize", BOOL, "no", STARTUP,
        "Detach from the terminal and run in the background.";
    pidfile: String = "pidfile", PATH, "", STARTUP,
        "File to write the process id to; empty means none.";
    supervised: String = "supervised", one_of(&["no", "systemd", "auto", "upstart"]), "no",
        STARTUP,
        "Tell a supervisor when the server is ready and when it stops: systemd (sd_notify READY=1 and STOPPING=1 on $NOTIFY_SOCKET), auto (systemd when NOTIFY_SOCKET is set), no; upstart is accepted and does nothing.";
    shutdown_timeout: u64 = "shutdown-timeout", int(0, I32_MAX), "10", RUNTIME,
        "Seconds SHUTDOWN and the termination signals wait for lagging slaves to catch up (writes held meanwhile); 0 does not wait.";
    shutdown_on_sigterm: String = "shutdown-on-sigterm", SHUTDOWN_FLAGS, "default", RUNTIME,
        "SHUTDOWN options applied on SIGTERM: default, or any of save, nosave, now, force (space-separated).";
    shutdown_on_sigint: String = "shutdown-on-sigint", SHUTDOWN_FLAGS, "default", RUNTIME,
        "SHUTDOWN options applied on SIGINT (a second SIGINT exits at once): default, or any of save, nosave, now, force.";
    log_path: std::path::PathBuf = "log-path", PATH, "./log/", STARTUP,
        "Directory for server log files.";
    loglevel: String = "loglevel",
        one_of(&["debug|verbose", "info|notice", "warn|warning", "error"]), "info", RUNTIME,
        "Log verbosity: debug, info, warn or error.";
    // ---- Network
    port: u16 = "port", int(0, 65535), "9221", RUNTIME,
        "TCP port clients connect to. CONFIG SET opens the new port first (failing if it is in use) and then closes the old one; open connections stay.";
    bind: String = "bind", STR, "127.0.0.1", STARTUP,
        "Address the listener binds to.";
    // ---- Workers
    thread_num: usize = "thread-num", int(1, 64), "1", STARTUP,
        "Number of network I/O threads.";
    thread_pool_size: usize = "thread-pool-size", int(0, 256), "0", STARTUP,
        "Number of worker threads executing commands (0: one per core left by the network threads, at least 1).";
    network_thread_commands: bool = "network-thread-commands", BOOL, "yes", RUNTIME,
        "Run a batch of cheap commands on the network thread that parsed it instead of handing it to a worker.";
    // ---- Storage / RocksDB
    db_path: std::path::PathBuf = "db-path", PATH, "./db/", STARTUP,
        "Directory holding the RocksDB data.";
    databases: usize = "databases", int(1, 256), "16", STARTUP,
        "Number of logical databases (SELECT 0..databases-1).";
    write_buffer_size: u64 = "write-buffer-size", memory(1, MEM_MAX), "67108864", STARTUP,
        "RocksDB memtable size per column family, in bytes.";
    max_write_buffer_number: i32 = "max-write-buffer-number", int(1, 64), "2", STARTUP,
        "RocksDB maximum number of memtables per column family; all column families together keep at most write-buffer-size * max-write-buffer-number bytes in memtables.";
    block_cache: u64 = "block-cache", memory(0, MEM_MAX), "8388608", RUNTIME,
        "RocksDB block cache capacity, in bytes (index and filter blocks included); CONFIG SET resizes it.";
    max_cache_files: i32 = "max-cache-files", int(16, I32_MAX), "5000", STARTUP,
        "Table files RocksDB keeps open at most; counted with maxclients against the open-files limit raised at start.";
    cache_maxmemory: u64 = "cache-maxmemory", memory(0, MEM_MAX), "67108864", RUNTIME,
        "Memory for the hot tier (hot keys' records in process), in bytes; 0 disables it. Shrinking it at run time evicts in the background.";
    cache_maxmemory_policy: String = "cache-maxmemory-policy", one_of(POLICIES), "allkeys-lru",
        RUNTIME,
        "Which keys leave the full hot tier: allkeys-lru, volatile-lru, allkeys-lfu, volatile-lfu, allkeys-random, volatile-random, volatile-ttl (volatile-*: only keys with a TTL) or noeviction (the tier stops taking new keys; clients are never refused); Pika's numbers 0-7 too.";
    cache_maxmemory_samples: i64 = "cache-maxmemory-samples", int(1, 64), "5", RUNTIME,
        "Hot-tier entries sampled per eviction.";
    cache_lfu_log_factor: i64 = "cache-lfu-log-factor", int(0, I32_MAX), "10", RUNTIME,
        "LFU counter logarithm factor: higher makes the counter grow slower (alias lfu-log-factor).";
    cache_lfu_decay_time: i64 = "cache-lfu-decay-time", int(0, I32_MAX), "1", RUNTIME,
        "Minutes per decrement of an idle key's LFU counter; 0 never decays (alias lfu-decay-time).";
    cache_type: String = "cache-type", CACHE_TYPES, "string,hash,list,set,zset", RUNTIME,
        "Types the hot tier holds, comma-separated: string, hash, list, set, zset (bit = string); strings with their values, hashes and sets whole up to zset-cache-field-num-per-key members, sorted sets and lists as a window of that many members.";
    zset_cache_field_num_per_key: i64 = "zset-cache-field-num-per-key", int(1, 1 << 20), "512",
        RUNTIME,
        "Members the hot tier holds per sorted set or list (and the largest hash or set it holds whole).";
    zset_cache_start_direction: i64 = "zset-cache-start-direction", int(-1, 0), "0", RUNTIME,
        "Which members of a sorted set or list the hot tier holds: 0 the first ones (lowest ranks, the head), -1 the last ones.";
    cache_value_item_max_size: u64 = "cache-value-item-max-size", memory(0, MEM_MAX), "1048576",
        RUNTIME,
        "Largest string value or collection (in bytes) the hot tier holds; larger ones are read from disk each time.";
    compression: String = "compression", one_of(&["snappy", "lz4", "zstd", "none"]), "snappy",
        STARTUP, "RocksDB block compression: snappy, lz4, zstd or none.";
    max_background_jobs: i32 = "max-background-jobs", int(1, 64), "2", STARTUP,
        "RocksDB maximum concurrent flushes and compactions.";
    compact_cron: String = "compact-cron", STR, "", STARTUP,
        "Daily compaction windows HH-HH/ratio[;...]: compact once inside the window when less than ratio percent of the disk is free.";
    compact_interval: String = "compact-interval", STR, "", STARTUP,
        "Compaction every hours/ratio: every that many hours when less than ratio percent of the disk is free.";
    disable_auto_compactions: bool = "disable-auto-compactions", BOOL, "no", STARTUP,
        "Turn off RocksDB's automatic compactions (COMPACT and the schedule still run).";
    small_compaction_threshold: i64 = "small-compaction-threshold", int(0, I64_MAX), "5000",
        RUNTIME,
        "An expiring hash, list, set, sorted set or stream of at least this many elements has their range compacted before the key is removed, reclaiming its disk space at once (0: left to background compactions).";
    least_free_disk_resume_size: u64 = "least-free-disk-resume-size", memory(0, MEM_MAX), "67108864",
        RUNTIME,
        "Free disk space kept for the database's own work: below it, commands that add data are refused; above it again, writes resume.";
    // ---- Security
    requirepass: String = "requirepass", STR, "", SENSITIVE,
        "Password clients must AUTH with; empty disables authentication.";
    aclfile: String = "aclfile", STR, "", STARTUP,
        "File of ACL users (`user <name> <rules...>` lines) read at start-up and by ACL LOAD, written by ACL SAVE; empty: none.";
    masterauth: String = "masterauth", STR, "", SENSITIVE,
        "Password used to authenticate to a master when replicating.";
    enable_debug_command: String = "enable-debug-command", one_of(PROTECTED_ACTION), "no",
        STARTUP,
        "Whether clients may run DEBUG: no, yes, or local (loopback connections only).";
    enable_protected_configs: String = "enable-protected-configs", one_of(PROTECTED_ACTION),
        "no", STARTUP,
        "Whether CONFIG SET may change the directories and file names the server writes to (dump-path, dump-prefix): no, yes, or local (loopback connections only).";
    // ---- Replication
    slaveof: String = "slaveof", STR, "", STARTUP,
        "Master to replicate from, as `host:port` or `host port`; empty: this node is a master. SLAVEOF/REPLICAOF change it at run time.";
    slave_read_only: bool = "slave-read-only", BOOL, "yes", RUNTIME,
        "Refuse writes from clients while replicating.";
    slave_priority: i64 = "slave-priority", int(0, I32_MAX), "100", RUNTIME,
        "Promotion priority reported to failover tools; 0 never promotes.";
    replication_nice: i64 = "replication-nice", int(0, 19), "19", RUNTIME,
        "Nice value of replication threads (a master's senders, a slave's applier) while they keep up: on a busy host clients are served first. More than 250 ms behind the master, a thread runs at normal priority until within 50 ms. Applies to links started afterwards.";
    binlog_fsync: String = "binlog-fsync", one_of(&["everysec", "always", "no"]), "everysec",
        RUNTIME,
        "When acknowledged writes are fsynced (alias appendfsync): always (before the reply; a power cut loses nothing acknowledged), everysec (every second; a power cut or OS crash loses up to ~1 s, a process crash nothing) or no (when the OS writes; a power cut loses what it had not written).";
    replication_compression: bool = "replication-compression", BOOL, "yes", RUNTIME,
        "Compress incremental replication streams (Snappy frames) when both sides have it on; applies to links started afterwards.";
    repl_timeout: u64 = "repl-timeout", int(1, I32_MAX), "60", RUNTIME,
        "Seconds without progress after which a master drops a slave (it stops reading or acknowledging; its binlog and snapshot are released) and a slave drops its link to a silent master.";
    repl_backlog_size: u64 = "repl-backlog-size", memory(16384, MEM_MAX), "1048576", RUNTIME,
        "Bytes of the Redis-protocol command stream kept for Redis replicas of this node, so one whose link broke resumes with PSYNC (+CONTINUE) instead of a full sync.";
    expire_logs_nums: usize = "expire-logs-nums", int(1, 1_000_000), "10", RUNTIME,
        "Binlog (archived WAL) files kept at most, unless a connected slave still needs them.";
    expire_logs_days: u64 = "expire-logs-days", int(1, 36500), "7", RUNTIME,
        "Days binlog files are kept at most, unless a connected slave still needs them.";
    // ---- Cluster
    cluster_enabled: bool = "cluster-enabled", BOOL, "no", STARTUP,
        "Run as a node of a Redis Cluster: 16384 hash slots, only database 0, redirects (-MOVED, -ASK) for keys this node does not serve, and the cluster bus on cluster-port.";
    cluster_config_file: std::path::PathBuf = "cluster-config-file", PATH, "nodes.conf", STARTUP,
        "The node's cluster state (Redis' nodes.conf format), rewritten atomically on every change; a relative path is beside db-path (in its parent directory), since a full sync replaces db-path's contents. Nodes whose db-paths share a directory need one each.";
    cluster_node_timeout: u64 = "cluster-node-timeout", int(1, I64_MAX), "15000", RUNTIME,
        "Milliseconds a node may be unreachable before it is suspected (PFAIL); a majority of masters' reports then mark it failed and its replica takes over.";
    cluster_port: u16 = "cluster-port", int(0, 65535), "0", STARTUP,
        "TCP port of the cluster bus; 0 means port + 10000.";
    cluster_require_full_coverage: bool = "cluster-require-full-coverage", BOOL, "yes", RUNTIME,
        "Refuse queries (-CLUSTERDOWN) while some slot has no live owner.";
    cluster_replica_validity_factor: u64 = "cluster-replica-validity-factor", int(0, I32_MAX), "10", RUNTIME,
        "A replica disconnected from its master for longer than factor x node-timeout (+ ping period) does not try a failover; 0 always tries.";
    cluster_allow_reads_when_down: bool = "cluster-allow-reads-when-down", BOOL, "no", RUNTIME,
        "Serve reads while the cluster state is fail.";
    cluster_announce_ip: String = "cluster-announce-ip", STR, "", RUNTIME,
        "Address this node announces to the others (default: the one they see).";
    cluster_announce_port: u16 = "cluster-announce-port", int(0, 65535), "0", RUNTIME,
        "Client port this node announces; 0 means port.";
    cluster_announce_bus_port: u16 = "cluster-announce-bus-port", int(0, 65535), "0", RUNTIME,
        "Bus port this node announces; 0 means the bus port.";
    slotmigrate: bool = "slotmigrate", BOOL, "no", STARTUP,
        "Keep Codis' per-slot key index (crc32 of the key or its {tag}, mod 1024) for the SLOTS* commands of Codis' proxy and dashboard; turning it on builds the index at start.";
    // ---- Backup
    dump_path: std::path::PathBuf = "dump-path", PATH, "./dump/", PROTECTED,
        "Directory BGSAVE and SAVE write backups to, one subdirectory each.";
    dump_prefix: String = "dump-prefix", STR, "", PROTECTED,
        "Prefix of backup directory names (followed by YYYYMMDDHHMMSS).";
    dump_expire: u64 = "dump-expire", int(0, 36500), "0", RUNTIME,
        "Days after which BGSAVE deletes older backups; 0 keeps them all.";
    // ---- Migration (MIGRATE)
    migrate_chunk_elements: u64 = "migrate-chunk-elements", int(1, I32_MAX), "10000", RUNTIME,
        "MIGRATE sends a list, set, hash or sorted set of more than this many elements in batches of this many (ordinary writes to a temporary key on the target, renamed over the key at the end) instead of one RESTORE payload, so no buffer holds the whole value; on a cluster node the batches build the key itself on the importing node, each after ASKING; streams always go as one payload.";
    // ---- Limits
    timeout: u64 = "timeout", int(0, I32_MAX), "0", RUNTIME,
        "Seconds a client may stay idle before it is closed; 0 means never.";
    maxclients: usize = "maxclients", int(1, 1_000_000), "20000", RUNTIME,
        "Maximum number of simultaneously connected clients.";
    memory_budget_clients: usize = "memory-budget-clients", int(0, 1_000_000), "100", RUNTIME,
        "Connections the memory budget (INFO memory_budget) provisions for, at 32 KiB each.";
    proto_max_bulk_len: u64 = "proto-max-bulk-len", memory(MB, MEM_MAX), "536870912", RUNTIME,
        "Largest bulk string a client may send, in bytes.";
    client_query_buffer_limit: u64 = "client-query-buffer-limit", memory(MB, MEM_MAX),
        "1073741824", RUNTIME,
        "Largest unparsed input buffered per client, in bytes.";
    client_output_buffer_limit: super::OutputLimits = "client-output-buffer-limit", OUTPUT_LIMITS,
        "normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60", RUNTIME,
        "Unread reply bytes a client may hold, per class (normal, replica, pubsub), as hard limit, soft limit and seconds above the soft limit; a client past either is disconnected; 0 disables a bound.";
    // ---- Slow log
    slowlog_log_slower_than: i64 = "slowlog-log-slower-than", int(-1, I64_MAX), "10000", RUNTIME,
        "Log commands slower than this many microseconds; -1 disables, 0 logs all.";
    slowlog_max_len: usize = "slowlog-max-len", int(0, I64_MAX), "128", RUNTIME,
        "Maximum number of slow log entries kept.";
    // ---- Latency
    latency_monitor_threshold: i64 = "latency-monitor-threshold", int(0, I64_MAX), "0", RUNTIME,
        "Record commands, expiry cycles and deletions, and WAL writes before replies (Redis' aof-write / aof-fsync-always) taking at least this many milliseconds as latency spikes for LATENCY LATEST/HISTORY; 0 disables the monitor.";
    latency_tracking: bool = "latency-tracking", BOOL, "yes", RUNTIME,
        "Keep a latency histogram per command (LATENCY HISTOGRAM, INFO latencystats).";
    latency_tracking_info_percentiles: String = "latency-tracking-info-percentiles", PERCENTILES,
        "50 99 99.9", RUNTIME,
        "Percentiles INFO latencystats reports for each command, space-separated.";
    // ---- Redis compatibility: encodings reported by OBJECT ENCODING
    stream_node_max_entries: i64 = "stream-node-max-entries", int(0, I64_MAX), "100", RUNTIME,
        "Entries per stream node (what `~` trimming removes at once, as in Redis).";
    stream_node_max_bytes: i64 = "stream-node-max-bytes", int(0, I64_MAX), "4096", RUNTIME,
        "Bytes per stream node (what `~` trimming removes at once, as in Redis).";
    hash_max_listpack_entries: i64 = "hash-max-listpack-entries", int(0, I64_MAX), "128", RUNTIME,
        "Hashes with at most this many fields report encoding listpack.";
    hash_max_listpack_value: i64 = "hash-max-listpack-value", int(0, I64_MAX), "64", RUNTIME,
        "Hashes whose fields and values are at most this long report encoding listpack.";
    list_max_listpack_size: i64 = "list-max-listpack-size", int(-5, I32_MAX), "-2", RUNTIME,
        "List node size limit: positive = entries, -1..-5 = 4kb..64kb.";
    list_compress_depth: i64 = "list-compress-depth", int(0, I32_MAX), "0", RUNTIME,
        "Uncompressed list nodes kept at each end; 0 disables compression.";
    set_max_intset_entries: i64 = "set-max-intset-entries", int(0, I64_MAX), "512", RUNTIME,
        "Integer-only sets with at most this many members report encoding intset.";
    set_max_listpack_entries: i64 = "set-max-listpack-entries", int(0, I64_MAX), "128", RUNTIME,
        "Sets with at most this many members report encoding listpack.";
    set_max_listpack_value: i64 = "set-max-listpack-value", int(0, I64_MAX), "64", RUNTIME,
        "Sets whose members are at most this long report encoding listpack.";
    zset_max_listpack_entries: i64 = "zset-max-listpack-entries", int(0, I64_MAX), "128", RUNTIME,
        "Sorted sets with at most this many members report encoding listpack.";
    zset_max_listpack_value: i64 = "zset-max-listpack-value", int(0, I64_MAX), "64", RUNTIME,
        "Sorted sets whose members are at most this long report encoding listpack.";
    hll_sparse_max_bytes: u64 = "hll-sparse-max-bytes", memory(0, MEM_MAX), "3000", RUNTIME,
        "HyperLogLogs in the sparse encoding are rewritten dense once they would grow past this many bytes (header included).";
    tracking_table_max_keys: u64 = "tracking-table-max-keys", int(0, I64_MAX), "1000000", RUNTIME,
        "Most keys the client-side caching table remembers; past it keys are invalidated to make room (0: no limit).";
    min_replicas_to_write: i64 = "min-replicas-to-write", int(0, I32_MAX), "0", RUNTIME,
        "A master refuses writes (-NOREPLICAS) while fewer replicas than this are online with a lag of at most min-replicas-max-lag seconds. 0: never.";
    min_replicas_max_lag: i64 = "min-replicas-max-lag", int(0, I32_MAX), "10", RUNTIME,
        "Seconds since a replica's last acknowledgement past which min-replicas-to-write does not count it (0: the check is off).";
    maxmemory: u64 = "maxmemory", memory(0, MEM_MAX), "0", RUNTIME,
        "Memory limit in bytes for the server's own allocations (INFO used_memory; RocksDB's block cache and memtables have their own settings): past it, keys are deleted as maxmemory-policy says, and while still past it commands that add data get -OOM. 0: no limit.";
    maxmemory_clients: String = "maxmemory-clients", MEMORY_OR_PERCENT, "0", RUNTIME,
        "Redis' limit on all clients' buffers together, in bytes or as N% of maxmemory (stored, not used: clients are bounded by client-query-buffer-limit and client-output-buffer-limit).";
    maxmemory_policy: String = "maxmemory-policy", one_of(POLICIES), "noeviction", RUNTIME,
        "Which keys are deleted while used memory is past maxmemory: noeviction (none: commands that add data get -OOM), allkeys-lru, allkeys-lfu, allkeys-random, volatile-lru, volatile-lfu, volatile-random, volatile-ttl (volatile-*: only keys with a TTL); Pika's numbers 0-7 too.";
    maxmemory_samples: i64 = "maxmemory-samples", int(1, 64), "5", RUNTIME,
        "Keys sampled per eviction; the best candidate of the sample is deleted.";
    lfu_log_factor: i64 = "lfu-log-factor", int(0, I32_MAX), "10", RUNTIME,
        "Redis' name of cache-lfu-log-factor (one setting).";
    lfu_decay_time: i64 = "lfu-decay-time", int(0, I32_MAX), "1", RUNTIME,
        "Redis' name of cache-lfu-decay-time (one setting).";
    notify_keyspace_events: String = "notify-keyspace-events", KEYSPACE_EVENTS, "", RUNTIME,
        "Keyspace notifications published through pub/sub: K (__keyspace@<db>__:<key>), E (__keyevent@<db>__:<event>) and event classes g $ l s h z x e t m d n, A for g$lshzxetd; empty publishes nothing.";
    appendonly: bool = "appendonly", BOOL, "no", RUNTIME,
        "Redis AOF switch (stored, not used: RocksDB has its own WAL).";
    save: String = "save", STR, "", RUNTIME,
        "Redis RDB snapshot schedule (stored, not used).";
    busy_reply_threshold: i64 = "busy-reply-threshold", int(0, I64_MAX), "5000", RUNTIME,
        "Milliseconds a script may run before BUSY replies (alias lua-time-limit).";
    lazyfree_lazy_user_del: bool = "lazyfree-lazy-user-del", BOOL, "no", RUNTIME,
        "Make DEL behave like UNLINK (stored, not used).";
    lazyfree_lazy_user_flush: bool = "lazyfree-lazy-user-flush", BOOL, "no", RUNTIME,
        "Make FLUSHDB/FLUSHALL asynchronous by default (stored, not used).";
    hz: i64 = "hz", int(0, I32_MAX), "10", RUNTIME,
        "Background task frequency per second (stored, not used).";
    dynamic_hz: bool = "dynamic-hz", BOOL, "yes", RUNTIME,
        "Scale hz with the number of clients (stored, not used).";
    repl_diskless_sync: bool = "repl-diskless-sync", BOOL, "yes", RUNTIME,
        "Diskless replication full sync (stored, not used).";
    key_load_delay: i64 = "key-load-delay", int(-I32_MAX - 1, I32_MAX), "0", RUNTIME,
        "Redis' debugging delay per key loaded, in microseconds (hidden from CONFIG GET patterns; stored, not used).";
}
