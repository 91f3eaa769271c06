//! The storage layer: Redis data types over RocksDB, with no knowledge of RESP.
//!
//! - [`engine`] wraps RocksDB (the only module that imports it, besides the tests of [`wal`]
//!   against files RocksDB wrote);
//! - [`codec`] defines every byte layout and names the column families ([`codec::Cf`]);
//! - [`wal`] reads RocksDB's write-ahead log (the binlog) without RocksDB, and
//!   [`batch_note`] is the note the write path puts first in every batch;
//! - [`write`](mod@write) is the single write path every mutation passes (counters, expiry index, and the
//!   hook where replication will append to its binlog); [`round`] lands a worker round's
//!   writes as one (group commit);
//! - [`types`] the typed views callers use: `storage.at(db, writer)` is a [`types::Scope`]
//!   (a database as one writer sees it), and `.strings()`, `.hash()`, `.list()`, `.set()`,
//!   `.zset()`, `.stream()`, `.keys()` its per-type views, one module each (and `algebra` for set and
//!   sorted-set algebra side by side, `sort` for SORT); DUMP/RESTORE ([`restore`]), MIGRATE's
//!   element-at-a-time reads ([`element_walk`]), DEBUG
//!   DIGEST ([`digest`]) and SCAN ([`scan`]) add to the keyspace view;
//! - [`collection`] what the collection types share (header, versions, element cursors);
//!   [`ready`] the keys blocked clients wait on; [`watch`] the keys WATCH follows;
//! - [`notify`] keyspace notifications: the classes in force, raised by the write path
//!   (`new`), the expirer (`expired`) and the commands;
//! - [`expire`] removes keys whose deadline passed; [`scan`] resumable, bounded keyspace walks;
//! - [`lazy`] reads whose size the client chooses (LRANGE, ZRANGE, SMEMBERS, KEYS): small ones
//!   at once, big ones from an owned snapshot as the reply is written.
//!
//! Operations spanning every database (FLUSHALL, SWAPDB, saves, replication state) stay on
//! [`Storage`]. Callers identify keys by *logical* database index and key bytes. Logical indexes map to
//! physical ids stored in key prefixes, which makes SWAPDB a metadata change.
//! Write commands run under [`lock::KeysGuard`] taken by the dispatcher for the keys they touch.

pub mod batch_note;
pub mod cache;
pub mod census;
pub mod codec;
pub mod codis_index;
pub mod collection;
pub mod digest;
pub mod durability;
pub mod element_walk;
pub mod engine;
pub mod evict;
pub mod expire;
pub mod format;
pub mod integrity;
pub mod key_changes;
pub mod lazy;
pub mod lock;
pub mod notify;
pub mod ready;
pub mod replica;
pub mod replica_view;
pub mod restore;
pub mod round;
pub mod scan;
pub mod tier;
pub mod types;
pub mod wal;
pub mod watch;
pub mod write;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use parking_lot::RwLock;

use cache::{Lookup, MetaCache};

use crate::util::slot::key_slot;
use codec::{encode_meta_key, Cf, MetaValue, SysKey};
use engine::{Engine, EngineOptions};
use lock::{KeysGuard, LockTable};

pub use codec::DataType;

/// Where storage's own background work (the active expirer) reports how long a unit of work
/// took, for the latency monitor; the server decides what counts as a spike.
pub trait LatencySink: Send + Sync {
    /// Whether the monitor is on: when it is off, nothing is timed.
    fn enabled(&self) -> bool;
    /// `event` took `took`; the sink keeps it if it passes the threshold.
    fn spike(&self, event: &'static str, took: std::time::Duration);
}

/// Errors of the storage layer. The dispatcher turns them into Redis error replies.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage engine error: {0}")]
    Engine(String),
    #[error("corrupt record: {0}")]
    Corrupt(String),
    #[error(
        "the database at {path} has on-disk format version {found}, but this build understands \
         versions up to {supported}; use a newer pika build"
    )]
    FormatTooNew {
        path: String,
        found: u32,
        supported: u32,
    },
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    #[error("ERR DB index is out of range")]
    DbOutOfRange,
}

impl StorageError {
    /// Whether the engine failed for want of disk space.
    pub fn is_out_of_space(&self) -> bool {
        matches!(self, StorageError::Engine(message) if engine::is_out_of_space(message))
    }
}

/// Counters the storage keeps for INFO.
#[derive(Default)]
pub struct StorageStats {
    /// Keys written since the last save (INFO's rdb_changes_since_last_save).
    pub changes_since_save: AtomicU64,
    /// Unix seconds of the last completed save (or of the open), for LASTSAVE.
    pub last_save_secs: AtomicU64,
    /// True while a background save runs.
    pub save_in_progress: AtomicBool,
    /// Set when the last save failed (INFO's rdb_last_bgsave_status).
    pub last_save_failed: AtomicBool,
    /// Directory of the last backup written.
    pub last_backup: parking_lot::Mutex<String>,
    pub expired_keys: AtomicU64,
    /// Keys deleted to bring memory under `maxmemory` (INFO's evicted_keys).
    pub evicted_keys: AtomicU64,
    /// Expiry cycles that stopped at their batch limit with more keys due (Redis'
    /// expired_time_cap_reached_count).
    pub expire_cycles_capped: AtomicU64,
    /// Unix ms the running save started at (0: none running).
    pub save_started_ms: AtomicU64,
    /// Seconds the last completed save took (-1: none yet).
    pub last_save_duration_secs: std::sync::atomic::AtomicI64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
}

/// The open data store.
pub struct Storage {
    engine: Engine,
    locks: LockTable,
    /// Physical database id of each logical index.
    db_map: RwLock<Vec<u16>>,
    /// Live key count of each physical database (persisted as merge counters).
    dbsize: Vec<AtomicI64>,
    /// Keys with a deadline in each physical database (persisted like `dbsize`).
    expires: Vec<AtomicI64>,
    scan_cursors: scan::CursorTable,
    lazy_expired: expire::LazyQueue,
    /// Hot meta records in memory; kept equal to disk by the write path.
    cache: MetaCache,
    /// What the hot tier admits (`cache-type` and the collection windows).
    pub tier: cache::body::TierShape,
    /// The last sequence number found in the binlog at open, before the open wrote its own
    /// records: where the history before a crash ends.
    recovered_sequence: u64,
    /// Versions for new collections.
    versions: collection::VersionSource,
    element_cursors: collection::ElementScanCursors,
    spop_hints: types::set::PopHints,
    /// Compact-encoding thresholds, for OBJECT ENCODING.
    pub limits: collection::EncodingLimits,
    /// Keys blocked clients wait on.
    pub ready: ready::ReadyKeys,
    /// Keys watched by WATCH.
    pub watches: watch::Watches,
    /// Changed keys reported to client-side caching.
    pub key_changes: key_changes::KeyChanges,
    pub stats: StorageStats,
    /// True on a slave: keys are not expired here (see [`replica`]).
    replica: AtomicBool,
    /// Held by a slave's commands and its applier, so commands see master batches whole.
    replica_view: replica_view::ReplicaView,
    /// Unix ms until which expired keys are not deleted (CLIENT PAUSE); 0: none.
    expiry_paused_until: AtomicU64,
    /// Writes keep Codis' per-slot key index (`slotmigrate`, see [`codis_index`]).
    codis_index: AtomicBool,
    /// Id of the next transaction (EXEC) whose batches are marked as one group.
    next_transaction_id: AtomicU64,
    /// The latency monitor, once the server has installed it.
    latency_sink: std::sync::OnceLock<Box<dyn LatencySink>>,
    /// Keyspace notifications: the classes in force and the pub/sub they publish to.
    pub notifier: notify::Notifier,
}

/// The error for a meta record of `key` that does not decode.
fn corrupt_meta(key: &[u8]) -> StorageError {
    StorageError::Corrupt(format!("meta record of {:?}", String::from_utf8_lossy(key)))
}

/// A key resolved to its physical location, with its stored record (possibly expired).
#[derive(Debug, Clone)]
pub struct KeyState {
    pub pdb: u16,
    pub slot: u16,
    pub meta_key: Vec<u8>,
    /// The record as stored, even if its deadline has passed.
    pub stored: Option<MetaValue>,
    /// The instant liveness is judged against: the clock read at its first use (0 until
    /// then), so a key without a deadline is read without reading the clock.
    now_ms: std::cell::Cell<u64>,
}

impl KeyState {
    /// The state of the key at `meta_key`, whose record was just read as `stored`.
    fn read_now(pdb: u16, slot: u16, meta_key: Vec<u8>, stored: Option<MetaValue>) -> KeyState {
        KeyState {
            pdb,
            slot,
            meta_key,
            stored,
            now_ms: std::cell::Cell::new(0),
        }
    }

    /// A state judged at `now_ms` (Unix ms).
    pub fn at(
        pdb: u16,
        slot: u16,
        meta_key: Vec<u8>,
        stored: Option<MetaValue>,
        now_ms: u64,
    ) -> KeyState {
        KeyState {
            pdb,
            slot,
            meta_key,
            stored,
            now_ms: std::cell::Cell::new(now_ms),
        }
    }

    /// The instant this state is judged at (Unix ms), fixed at its first use.
    pub fn now_ms(&self) -> u64 {
        match self.now_ms.get() {
            0 => {
                let now = crate::util::clock::unix_ms();
                self.now_ms.set(now);
                now
            }
            now => now,
        }
    }

    /// Whether a record is stored whose deadline has passed.
    pub fn is_expired(&self) -> bool {
        self.stored.is_some() && self.live().is_none()
    }

    /// The record if it exists and has not expired.
    pub fn live(&self) -> Option<&MetaValue> {
        self.stored
            .as_ref()
            .filter(|m| m.expire_ms == 0 || !m.is_expired(self.now_ms()))
    }

    /// The user key.
    pub fn key(&self) -> &[u8] {
        &self.meta_key[codec::KEY_PREFIX_LEN..]
    }

    /// The live record if it has type `t`; `WrongType` if it has another type.
    pub fn live_of(&self, t: DataType) -> Result<Option<&MetaValue>, StorageError> {
        match self.live() {
            Some(m) if m.data_type != t => Err(StorageError::WrongType),
            other => Ok(other),
        }
    }
}

impl Storage {
    /// Installs the latency monitor (once; later calls are ignored).
    pub fn set_latency_sink(&self, sink: Box<dyn LatencySink>) {
        let _ = self.latency_sink.set(sink);
    }

    /// The latency monitor, when one is installed and on.
    pub(crate) fn latency_monitor(&self) -> Option<&dyn LatencySink> {
        self.latency_sink
            .get()
            .map(|s| s.as_ref())
            .filter(|s| s.enabled())
    }

    /// Runs `f`, reporting how long it took to the latency monitor as `event` when the
    /// monitor is on (Redis' names: `expire-del`, `eviction-cycle`, ...).
    pub(crate) fn timed<R>(&self, event: &'static str, f: impl FnOnce() -> R) -> R {
        let Some(monitor) = self.latency_monitor() else {
            return f();
        };
        let started = std::time::Instant::now();
        let result = f();
        monitor.spike(event, started.elapsed());
        result
    }

    /// Hands this thread's WAL records to the operating system (and fsyncs them under
    /// `binlog-fsync always`) before a round's replies go out. A slow one is reported to the
    /// latency monitor under Redis' names for its AOF: `aof-fsync-always` or `aof-write`.
    pub fn sync_wal_before_replies(&self) -> Result<(), StorageError> {
        let Some(monitor) = self.latency_monitor() else {
            return self.engine.sync_wal();
        };
        let started = std::time::Instant::now();
        let result = self.engine.sync_wal();
        let event = if self.engine.wal_fsync() == engine::WalFsync::Always {
            "aof-fsync-always"
        } else {
            "aof-write"
        };
        monitor.spike(event, started.elapsed());
        result
    }

    /// Opens the store at `path` with `databases` logical databases, checking (and upgrading)
    /// its on-disk format.
    pub fn open(
        path: &Path,
        databases: usize,
        opts: &EngineOptions,
    ) -> Result<Storage, StorageError> {
        let engine = Engine::open(path, opts)?;
        let recovered_sequence = engine.latest_sequence();
        format::check_and_upgrade(&engine, path)?;
        let db_map = load_db_map(&engine, databases)?;
        let physical_count = db_map.iter().map(|&p| p as usize + 1).max().unwrap_or(0);
        let mut dbsize = Vec::with_capacity(physical_count);
        let mut expires = Vec::with_capacity(physical_count);
        for pdb in 0..physical_count {
            let counter = |key: Vec<u8>| -> Result<AtomicI64, StorageError> {
                let n = engine.get_with(Cf::Default, &key, codec::counter::decode_value)?;
                Ok(AtomicI64::new(n.unwrap_or(0)))
            };
            dbsize.push(counter(SysKey::dbsize(pdb as u16))?);
            expires.push(counter(SysKey::expires(pdb as u16))?);
        }
        let versions = collection::VersionSource::open(&engine)?;
        // The records written above are durable before anything is served, whichever thread
        // flushes the WAL first.
        engine.flush_wal_buffer()?;
        Ok(Storage {
            recovered_sequence,
            versions,
            element_cursors: collection::ElementScanCursors::default(),
            spop_hints: types::set::PopHints::default(),
            limits: collection::EncodingLimits::default(),
            ready: ready::ReadyKeys::default(),
            watches: watch::Watches::default(),
            key_changes: key_changes::KeyChanges::default(),
            engine,
            locks: LockTable::default(),
            db_map: RwLock::new(db_map),
            dbsize,
            expires,
            scan_cursors: scan::CursorTable::default(),
            lazy_expired: expire::LazyQueue::default(),
            cache: MetaCache::new(0),
            tier: cache::body::TierShape::default(),
            replica: AtomicBool::new(false),
            replica_view: replica_view::ReplicaView::default(),
            expiry_paused_until: AtomicU64::new(0),
            codis_index: AtomicBool::new(false),
            // Ids differ across restarts too, so a slave never mixes up two transactions.
            next_transaction_id: AtomicU64::new(crate::util::clock::unix_ms() << 16),
            latency_sink: std::sync::OnceLock::new(),
            notifier: notify::Notifier::default(),
            stats: StorageStats {
                last_save_secs: AtomicU64::new(crate::util::clock::unix_ms() / 1000),
                last_save_duration_secs: std::sync::atomic::AtomicI64::new(-1),
                ..StorageStats::default()
            },
        })
    }

    /// Gives the store a hot tier with these settings.
    pub fn with_cache(mut self, settings: &cache::TierSettings) -> Storage {
        self.cache = MetaCache::with_settings(*settings);
        self
    }

    /// The hot tier: INFO, OBJECT, and CONFIG SET of its settings.
    pub fn cache(&self) -> &MetaCache {
        &self.cache
    }

    /// Number of logical databases.
    pub fn databases(&self) -> usize {
        self.db_map.read().len()
    }

    /// The database layout now: each logical database's physical id, by logical index.
    pub fn db_map(&self) -> Vec<u16> {
        self.db_map.read().clone()
    }

    /// Physical id of logical database `db`.
    pub fn physical(&self, db: usize) -> Result<u16, StorageError> {
        self.db_map
            .read()
            .get(db)
            .copied()
            .ok_or(StorageError::DbOutOfRange)
    }

    /// Flushes memtables to disk (SAVE, BGSAVE), takes the changes it covered off
    /// `changes_since_save` and records the time for LASTSAVE.
    pub fn save(&self) -> Result<(), StorageError> {
        let covered = self.stats.changes_since_save.load(Ordering::Relaxed);
        self.engine.flush()?;
        self.record_save(covered);
        Ok(())
    }

    /// Records a completed save (a flush or a backup) that covered `covered` changes counted
    /// before it started: takes them off `changes_since_save` and sets LASTSAVE's time.
    pub fn record_save(&self, covered: u64) {
        self.stats
            .changes_since_save
            .fetch_sub(covered, Ordering::Relaxed);
        self.stats
            .last_save_secs
            .store(crate::util::clock::unix_ms() / 1000, Ordering::Relaxed);
    }

    /// Compacts what `types` (None: everything) keep in logical database `db` (None: all
    /// databases): their meta records and elements.
    pub fn compact(
        &self,
        db: Option<usize>,
        types: Option<&[DataType]>,
    ) -> Result<(), StorageError> {
        let bounds = match db {
            Some(db) => {
                let pdb = self.physical(db)?;
                Some((codec::db_lower_bound(pdb), codec::db_upper_bound(pdb)))
            }
            None => None,
        };
        let cfs: Vec<Cf> = match types {
            None => Cf::ALL.to_vec(),
            Some(types) => {
                let mut cfs = vec![Cf::Meta];
                for &t in types {
                    cfs.extend_from_slice(collection::element_cfs(t));
                }
                cfs.dedup();
                cfs
            }
        };
        for cf in cfs {
            match &bounds {
                // The expiry index and system records are not grouped by database.
                Some(_) if matches!(cf, Cf::Expire | Cf::Default) => {}
                Some((from, to)) => self.engine.compact_range(cf, Some(from), Some(to)),
                None => self.engine.compact_all(cf),
            }
        }
        Ok(())
    }

    /// The stored FUNCTION libraries record, if any (see `SysKey::FUNCTIONS`).
    pub fn functions_record(&self) -> Result<Option<Vec<u8>>, StorageError> {
        self.engine
            .get(codec::Cf::Default, codec::SysKey::FUNCTIONS)
    }

    /// The engine, for maintenance and INFO.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Locks keys for a read-modify-write command (see [`lock`]).
    pub fn lock_keys<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> KeysGuard<'_> {
        self.locks.lock(keys, &|| self.settle_round())
    }

    /// Locks keys for a command that only reads them, until it has (see [`lock`]).
    pub fn lock_keys_to_read<'k>(
        &self,
        keys: impl IntoIterator<Item = &'k [u8]>,
    ) -> lock::ReadGuard<'_> {
        self.locks.lock_to_read(keys, &|| self.settle_round())
    }

    /// Locks the keys of a whole transaction: key locks this thread asks for on them are
    /// granted without locking until the guard drops (EXEC, a script); see [`lock`]. The
    /// transaction's writes join the thread's round, if one is open.
    pub fn lock_keys_held<'k>(
        &self,
        keys: impl IntoIterator<Item = &'k [u8]>,
    ) -> lock::HeldKeysGuard<'_> {
        self.locks.lock_held(keys, &|| self.settle_round())
    }

    /// Keeps every other writer out until the guard drops (FLUSHALL, a transaction that
    /// reaches beyond its declared keys); see [`lock`].
    pub fn lock_structure(&self) -> round::Paused<'_, lock::StructureGuard<'_>> {
        let pause = self.pause_round();
        round::Paused::new(pause, self.locks.lock_structure())
    }

    /// Reads the state of `key` in logical database `db`.
    pub fn load(&self, db: usize, key: &[u8]) -> Result<KeyState, StorageError> {
        let pdb = self.physical(db)?;
        self.load_physical(pdb, key)
    }

    /// Reads the state of `key` in physical database `pdb`.
    pub fn load_physical(&self, pdb: u16, key: &[u8]) -> Result<KeyState, StorageError> {
        self.load_as_is(pdb, key).map(|state| self.observed(state))
    }

    /// Reads the state of `key` like [`Storage::load_physical`], without acting on finding it
    /// expired: for a caller that observed it expired already (see `observed`).
    fn load_as_is(&self, pdb: u16, key: &[u8]) -> Result<KeyState, StorageError> {
        let slot = key_slot(key);
        let meta_key = encode_meta_key(pdb, slot, key);
        let stored = self.cached_or_read(key, &meta_key)?;
        Ok(KeyState::read_now(pdb, slot, meta_key, stored))
    }

    /// `state`, just read; an expired record is queued for lazy removal.
    fn observed(&self, state: KeyState) -> KeyState {
        if state.is_expired() {
            self.found_expired(state.pdb, state.key());
            // A master deletes it now as far as tracking clients are concerned, so the
            // invalidation follows the reply of the read that found it (the expirer's
            // deletion does not report it again).
            if !self.is_replica() {
                self.key_changes.report_expired(state.key());
            }
        }
        state
    }

    /// A meta record from the cache, or from disk (filling the cache).
    fn cached_or_read(
        &self,
        key: &[u8],
        meta_key: &[u8],
    ) -> Result<Option<MetaValue>, StorageError> {
        match self.cache.get(meta_key) {
            Lookup::Hit(meta) => Ok(Some(meta)),
            Lookup::Miss(generation) => self.read_and_fill(key, meta_key, generation),
        }
    }

    /// A meta record from disk, cached (if the tier admits it) unless a writer changed its
    /// shard since `generation` or a write was pending while it was read.
    fn read_and_fill(
        &self,
        key: &[u8],
        meta_key: &[u8],
        generation: u64,
    ) -> Result<Option<MetaValue>, StorageError> {
        let token = engine::round::fill_token();
        let stored = match self
            .engine
            .get_with(Cf::Meta, meta_key, MetaValue::decode)?
        {
            Some(Some(meta)) => Some(meta),
            Some(None) => return Err(corrupt_meta(key)),
            None => None,
        };
        if let Some(meta) = stored.as_ref().filter(|m| self.tier.admits_record(m)) {
            if engine::round::fill_allowed(token) {
                self.cache.fill(meta_key, meta, generation);
            }
        }
        Ok(stored)
    }

    /// Exact number of keys in logical database `db` (expired keys count until removed, as in Redis).
    pub fn dbsize(&self, db: usize) -> Result<u64, StorageError> {
        let pdb = self.physical(db)?;
        Ok(self.dbsize_physical(pdb))
    }

    /// Number of keys with a deadline in logical database `db` (INFO keyspace `expires=`).
    pub fn expires_count(&self, db: usize) -> Result<u64, StorageError> {
        let pdb = self.physical(db)?;
        Ok(self
            .expires
            .get(pdb as usize)
            .map(|c| c.load(Ordering::Relaxed).max(0) as u64)
            .unwrap_or(0))
    }

    fn dbsize_physical(&self, pdb: u16) -> u64 {
        self.dbsize
            .get(pdb as usize)
            .map(|c| c.load(Ordering::Relaxed).max(0) as u64)
            .unwrap_or(0)
    }

    /// Records a hit or miss of a read command for INFO's keyspace_hits/misses.
    pub fn count_lookup(&self, hit: bool) {
        let c = if hit {
            &self.stats.keyspace_hits
        } else {
            &self.stats.keyspace_misses
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// Reads the logical → physical database map, creating the identity map on a new database and
/// extending it when `databases` grew since the last start.
fn load_db_map(engine: &Engine, databases: usize) -> Result<Vec<u16>, StorageError> {
    let mut map: Vec<u16> = engine
        .get(Cf::Default, SysKey::DB_MAP)?
        .map(|raw| decode_db_map(&raw))
        .unwrap_or_default();
    let mut changed = false;
    while map.len() < databases {
        // Fresh logical indexes take the lowest physical ids not in use.
        let next = (0u16..)
            .find(|p| !map.contains(p))
            .ok_or(StorageError::DbOutOfRange)?;
        map.push(next);
        changed = true;
    }
    // Extra databases from an earlier, larger `databases` keep their data but are not reachable;
    // their mapping stays stored so lowering and raising the setting loses nothing.
    if changed {
        let mut b = engine.batch();
        b.put(Cf::Default, SysKey::DB_MAP, &encode_db_map(&map));
        engine.write(b)?;
    }
    map.truncate(databases);
    Ok(map)
}

/// Serialises the database map.
fn encode_db_map(map: &[u16]) -> Vec<u8> {
    map.iter().flat_map(|p| p.to_be_bytes()).collect()
}

/// The database map a `SysKey::DB_MAP` record holds (logical index → physical id).
pub fn decode_db_map(raw: &[u8]) -> Vec<u16> {
    raw.chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect()
}

#[cfg(test)]
impl Storage {
    /// Test support: stores the string `key` under `key` in database 0 and hands its WAL
    /// record to the operating system.
    pub(crate) fn put_test_string(&self, key: &str) {
        let state = self.load(0, key.as_bytes()).unwrap();
        let mut txn = self.txn_noted(types::Writer::INTERNAL, batch_note::BatchNote::NO_DB);
        txn.put(
            &state,
            &codec::MetaValue::string(bytes::Bytes::from(key.to_string()), 0, 0),
        );
        txn.commit().unwrap();
        self.engine().flush_wal_buffer().unwrap();
    }
}
