//! The RocksDB engine: the only module that imports `rocksdb`.
//!
//! Everything above it speaks in column families ([`Cf`], named in `codec`), write batches
//! ([`Batch`]), range cursors ([`RangeCursor`]) and snapshots ([`Snapshot`]), so the rest of the
//! storage layer is free of RocksDB types and the options that come from the configuration are
//! applied in one place.
//!
//! - `read`: snapshots and range cursors, which own what they borrow so a reply streamed as
//!   its client reads it keeps one consistent view;
//! - `filter`: the compaction filter that drops dead collection elements;
//! - [`round`]: group commit of the batches a worker round writes.

mod filter;
mod read;
pub mod round;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::Mutex;

use rocksdb::{
    BlockBasedIndexType, BlockBasedOptions, BottommostLevelCompaction, Cache, ColumnFamily,
    ColumnFamilyDescriptor, CompactOptions, DBCompressionType, MergeOperands, Options, ReadOptions,
    WriteBatch, WriteBufferManager, WriteOptions, DB,
};

use super::codec::{self, counter, Cf};
use super::StorageError;
use filter::DeadElementFilterFactory;
use read::{bounded_read_options, cf_handle};
pub use read::{RangeCursor, ReadView, Snapshot};

/// When acknowledged writes reach the disk itself (`binlog-fsync`, alias `appendfsync`).
///
/// Every policy hands a batch's WAL record to the operating system before its command is
/// acknowledged, so a crash of the process never loses an acknowledged write; they differ in
/// what a power cut or an operating-system crash can lose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum WalFsync {
    /// The WAL is fsynced before replies go out: nothing acknowledged is ever lost.
    Always = 0,
    /// A background thread fsyncs the WAL every second: up to about a second of acknowledged
    /// writes can be lost.
    EverySec = 1,
    /// The operating system writes the WAL when it likes (RocksDB still syncs it when a
    /// memtable is flushed): whatever it had not written can be lost.
    No = 2,
}

impl WalFsync {
    /// The policy named `name` (`always`, `everysec`, `no`); anything else is `everysec`.
    pub fn parse(name: &str) -> WalFsync {
        match name.to_ascii_lowercase().as_str() {
            "always" => WalFsync::Always,
            "no" => WalFsync::No,
            _ => WalFsync::EverySec,
        }
    }

    fn from_u8(v: u8) -> WalFsync {
        match v {
            0 => WalFsync::Always,
            2 => WalFsync::No,
            _ => WalFsync::EverySec,
        }
    }
}

/// RocksDB tuning taken from the configuration.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub block_cache_bytes: usize,
    pub write_buffer_size: usize,
    pub max_write_buffer_number: i32,
    /// `snappy`, `lz4`, `zstd` or `none`.
    pub compression: String,
    pub max_background_jobs: i32,
    pub disable_auto_compactions: bool,
    pub wal_fsync: WalFsync,
    /// Table files RocksDB keeps open at most (its `max_open_files`), so that the open-files
    /// limit covers them and the clients together.
    pub max_open_files: i32,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            block_cache_bytes: 8 << 20,
            write_buffer_size: 64 << 20,
            max_write_buffer_number: 2,
            compression: "snappy".into(),
            max_background_jobs: 2,
            disable_auto_compactions: false,
            wal_fsync: WalFsync::EverySec,
            max_open_files: 5000,
        }
    }
}

/// Age past which RocksDB itself deletes archived WAL files (100 years: never in practice).
const WAL_ARCHIVE_BACKSTOP_SECS: u64 = 100 * 365 * 24 * 3600;

/// WAL size that triggers memtable flushes (see `Engine::open`).
const MAX_TOTAL_WAL_BYTES: u64 = 16 << 20;

thread_local! {
    /// Nonzero when this thread wrote a batch whose WAL record may still sit in RocksDB's
    /// buffer: a sequence number at or after that batch's last one.
    static WAL_DIRTY: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// An open RocksDB instance with all column families.
pub struct Engine {
    db: Arc<DB>,
    /// RocksDB's id of each column family, in [`Cf::ALL`] order.
    cf_ids: [u32; Cf::ALL.len()],
    write_opts: WriteOptions,
    /// The block cache shared by every column family (resized by CONFIG SET block-cache).
    cache: Cache,
    /// The [`WalFsync`] policy in force.
    wal_fsync: AtomicU8,
    /// Every batch up to this sequence number is fsynced (in the WAL or a table file).
    durable_seq: AtomicU64,
    /// Number of WAL fsyncs done (INFO persistence).
    wal_fsyncs: AtomicU64,
    /// Held while the WAL is fsynced and `durable_seq` advanced, so what is known durable
    /// can be read without a sync in flight (see [`Engine::hold_durable`]).
    sync_lock: Mutex<()>,
    /// Shared with the compaction filters (see [`filter::DeadElementFilter`]).
    expired_are_dead: Arc<AtomicBool>,
    /// A write or WAL sync failed for want of disk space: RocksDB refuses writes from then on
    /// (a failed WAL write is fatal to it) until the database is reopened.
    out_of_space: AtomicBool,
    /// Number of [`Snapshot`]s open, shared with the compaction filters.
    open_snapshots: Arc<AtomicUsize>,
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Compaction filters hold a weak handle on the database; with background work stopped
        // none of them can be the last owner, so the database closes on this thread.
        self.db.cancel_all_background_work(true);
    }
}

fn rocks_err(e: rocksdb::Error) -> StorageError {
    StorageError::Engine(e.into_string())
}

/// Whether RocksDB's error text reports a full disk (ENOSPC, or its own space limit).
pub(super) fn is_out_of_space(message: &str) -> bool {
    message.contains("No space left on device") || message.contains("Max allowed space")
}

/// Merge operator of the counter records (see `codec::counter`).
fn merge_counter(_key: &[u8], existing: Option<&[u8]>, ops: &MergeOperands) -> Option<Vec<u8>> {
    Some(counter::merge(existing, ops.iter()))
}

impl Engine {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path, opts: &EngineOptions) -> Result<Engine, StorageError> {
        std::fs::create_dir_all(path)
            .map_err(|e| StorageError::Engine(format!("cannot create {}: {e}", path.display())))?;
        let cache = Cache::new_lru_cache(opts.block_cache_bytes.max(1 << 20));
        let db_for_filters: Arc<OnceLock<Weak<DB>>> = Arc::default();
        // Off until the node knows it is a master: a compaction running before then keeps
        // expired keys' elements rather than drop what a master may still PERSIST.
        let expired_are_dead = Arc::new(AtomicBool::new(false));
        let open_snapshots = Arc::new(AtomicUsize::new(0));
        let compression = match opts.compression.as_str() {
            "lz4" => DBCompressionType::Lz4,
            "zstd" => DBCompressionType::Zstd,
            "none" => DBCompressionType::None,
            _ => DBCompressionType::Snappy,
        };
        let cf_options = |cf: Cf| {
            let mut block = BlockBasedOptions::default();
            block.set_block_cache(&cache);
            block.set_bloom_filter(10.0, false);
            // Index and filter blocks live in the block cache (memory stays bounded by it), split
            // into partitions so a lookup loads a few small blocks; the top levels are pinned and
            // the partitions cached at high priority, so data blocks cannot evict them.
            block.set_cache_index_and_filter_blocks(true);
            block.set_cache_index_and_filter_blocks_with_high_priority(true);
            block.set_pin_l0_filter_and_index_blocks_in_cache(true);
            block.set_index_type(BlockBasedIndexType::TwoLevelIndexSearch);
            block.set_partition_filters(true);
            block.set_pin_top_level_index_and_filter(true);
            let mut o = Options::default();
            o.set_block_based_table_factory(&block);
            o.set_write_buffer_size(opts.write_buffer_size);
            o.set_disable_auto_compactions(opts.disable_auto_compactions);
            o.set_max_write_buffer_number(opts.max_write_buffer_number);
            o.set_compression_type(compression);
            o.set_level_compaction_dynamic_level_bytes(true);
            if cf == Cf::Default {
                // Counter operands are not collapsed on write (`max_successive_merges`): that
                // walks the key's operands in the memtable at every merge, and the counters are
                // read back only when the database opens. Flushes and compactions fold them.
                o.set_merge_operator_associative("pika-counter", merge_counter);
            }
            if cf.holds_elements() {
                o.set_compaction_filter_factory(DeadElementFilterFactory {
                    db: Arc::clone(&db_for_filters),
                    expired_are_dead: Arc::clone(&expired_are_dead),
                    open_snapshots: Arc::clone(&open_snapshots),
                });
            }
            o
        };
        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.set_max_background_jobs(opts.max_background_jobs);
        db_opts.set_max_open_files(opts.max_open_files);
        // One memtable budget for all column families together, so adding element column
        // families does not multiply memory: near it, the largest memtable is flushed, and at
        // it writes wait for a flush to free memory (the stall), so memtables never hold more
        // than the budget (counted in INFO memory_budget) however fast clients write.
        let memtable_budget = opts.write_buffer_size * opts.max_write_buffer_number.max(1) as usize;
        db_opts.set_write_buffer_manager(&WriteBufferManager::new_write_buffer_manager(
            memtable_budget,
            true,
        ));
        db_opts.set_keep_log_file_num(4);
        // WAL records are buffered until `sync_wal` runs before replies are sent, so one write
        // syscall covers every command a worker ran for a group of connections.
        db_opts.set_manual_wal_flush(true);
        db_opts.set_enable_pipelined_write(true);
        // Bounds what a restart after a crash replays: memtables are flushed once their WAL
        // passes this size, so recovery stays well under a second.
        db_opts.set_max_total_wal_size(MAX_TOTAL_WAL_BYTES);
        db_opts.set_max_log_file_size(16 << 20);
        // The WAL is the replication binlog: obsolete WAL files move to `archive/` instead of
        // being deleted, and the replication purger removes them by `expire-logs-nums` /
        // `expire-logs-days` once no connected slave needs them. RocksDB's own age limit is
        // only a backstop far beyond any retention setting.
        db_opts.set_wal_ttl_seconds(WAL_ARCHIVE_BACKSTOP_SECS);
        let descriptors = Cf::ALL
            .iter()
            .map(|&cf| ColumnFamilyDescriptor::new(cf.name(), cf_options(cf)));
        let db = Arc::new(DB::open_cf_descriptors(&db_opts, path, descriptors).map_err(rocks_err)?);
        let _ = db_for_filters.set(Arc::downgrade(&db));
        let mut write_opts = WriteOptions::default();
        write_opts.set_sync(false);
        // What recovery replayed may sit only in the page cache (the process crashed, not the
        // machine): make it durable before anything is acknowledged on top of it.
        db.flush_wal(true).map_err(rocks_err)?;
        let recovered = db.latest_sequence_number();
        Ok(Engine {
            cf_ids: Self::column_family_ids(&db)?,
            db,
            write_opts,
            cache,
            wal_fsync: AtomicU8::new(opts.wal_fsync as u8),
            durable_seq: AtomicU64::new(recovered),
            wal_fsyncs: AtomicU64::new(0),
            sync_lock: Mutex::new(()),
            expired_are_dead,
            out_of_space: AtomicBool::new(false),
            open_snapshots,
        })
    }

    /// Whether compactions from now on drop the elements of expired collections: yes on a
    /// master, whose clock decides expiry; no on a slave, which waits for its master's DEL.
    pub fn set_expired_elements_dead(&self, dead: bool) {
        self.expired_are_dead.store(dead, Ordering::Relaxed);
    }

    fn handle(&self, cf: Cf) -> &ColumnFamily {
        cf_handle(&self.db, cf)
    }

    /// Reads one value, handing the pinned bytes to `f` without an extra copy.
    pub fn get_with<R>(
        &self,
        cf: Cf,
        key: &[u8],
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>, StorageError> {
        if let Some(pending) = round::take_for_reads(cf, [key]) {
            self.write_pending(pending)?;
        }
        let pinned = self
            .db
            .get_pinned_cf(self.handle(cf), key)
            .map_err(rocks_err)?;
        Ok(pinned.map(|v| f(&v)))
    }

    /// Reads one value.
    pub fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.get_with(cf, key, <[u8]>::to_vec)
    }

    /// Starts an empty write batch.
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            engine: self,
            inner: WriteBatch::default(),
        }
    }

    /// Applies a batch atomically. Only `storage::write` calls this: it is the one write path.
    /// Inside a round (see [`round`]) the batch joins the round's pending write instead,
    /// unless the disk filled up: then each write goes alone, so each command that cannot be
    /// written gets its own error instead of its round's connections being closed.
    pub(super) fn write(&self, batch: Batch<'_>) -> Result<(), StorageError> {
        if self.out_of_space() {
            self.settle_reads();
        } else if round::append(batch.inner.data()) {
            // A script or transaction with many writes lands them as it goes: the round's
            // pending batch stays bounded.
            if round::pending_len() > round::PENDING_MAX {
                self.settle_reads();
            }
            return Ok(());
        }
        self.db
            .write_opt(batch.inner, &self.write_opts)
            .map_err(|e| self.write_failed(e))?;
        self.mark_written();
        Ok(())
    }

    /// Opens a round on this thread: its batches are written together by
    /// [`Engine::end_round`] (see [`round`]).
    pub fn begin_round(&self) {
        round::open();
    }

    /// Writes the round's pending batches and closes it. Fails when any write of the round
    /// failed, also one made early for a read: none of the round's writes may be acknowledged.
    pub fn end_round(&self) -> Result<(), StorageError> {
        if let Some(pending) = round::close() {
            // Recorded by `write_pending`, reported below.
            let _ = self.write_pending(pending);
        }
        match round::take_failure() {
            Some(message) => Err(StorageError::Engine(message)),
            None => Ok(()),
        }
    }

    /// Whether a round is open on this thread.
    pub fn in_round(&self) -> bool {
        round::is_open()
    }

    /// Writes the round's pending batches now, keeping the round open (see
    /// `Storage::settle_round`). False when a write of the round failed so far.
    pub fn settle_round(&self) -> bool {
        self.settle_reads();
        !round::has_failed()
    }

    /// Writes the round's pending batches and closes it, keeping a failure for
    /// [`Engine::end_round`] to report (a round paused, to be opened again). False when a
    /// write of the round failed so far.
    pub fn close_round(&self) -> bool {
        let landed = self.settle_round();
        // Nothing is pending after the settle.
        let _ = round::close();
        landed
    }

    /// Writes a round's pending batches (a read is about to need them, or the round ends).
    fn write_pending(&self, rep: Vec<u8>) -> Result<(), StorageError> {
        let written = self
            .db
            .write_opt(WriteBatch::from_data(&rep), &self.write_opts)
            .map_err(|e| self.write_failed(e));
        round::landed();
        round::recycle(rep);
        match written {
            Ok(()) => {
                self.mark_written();
                Ok(())
            }
            Err(e) => {
                if let StorageError::Engine(message) = &e {
                    round::fail(message.clone());
                }
                Err(e)
            }
        }
    }

    /// Writes this thread's pending round writes before a read that may cover any key. A
    /// failure is reported when the round ends.
    fn settle_reads(&self) {
        if let Some(pending) = round::take_all() {
            let _ = self.write_pending(pending);
        }
    }

    /// Turns a failed write or WAL sync into an error, remembering a full disk.
    fn write_failed(&self, e: rocksdb::Error) -> StorageError {
        let message = e.into_string();
        if is_out_of_space(&message) && !self.out_of_space.swap(true, Ordering::SeqCst) {
            tracing::error!("the disk holding the database is full, writes stop: {message}");
        }
        StorageError::Engine(message)
    }

    /// Number of snapshots open (each keeps the database open while a reply streams).
    pub fn open_snapshots(&self) -> usize {
        self.open_snapshots.load(Ordering::SeqCst)
    }

    /// Whether a write failed for want of disk space since the database opened.
    pub fn out_of_space(&self) -> bool {
        self.out_of_space.load(Ordering::SeqCst)
    }

    /// Remembers that this thread wrote up to (at most) the latest sequence number.
    fn mark_written(&self) {
        let seq = self.db.latest_sequence_number().max(1);
        WAL_DIRTY.with(|d| d.set(seq));
    }

    /// Makes the WAL records this thread wrote as durable as `binlog-fsync` asks: handed to
    /// the operating system (a crash of the process loses nothing), and with `always` also
    /// fsynced. Threads call it before acknowledging writes; a no-op when the thread wrote
    /// nothing since its last call.
    pub fn sync_wal(&self) -> Result<(), StorageError> {
        let written = WAL_DIRTY.with(|d| d.replace(0));
        if written == 0 {
            return Ok(());
        }
        if self.wal_fsync() == WalFsync::Always {
            self.fsync_wal_to(written)
        } else {
            self.db.flush_wal(false).map_err(|e| self.write_failed(e))
        }
    }

    /// Fsyncs the WAL so every batch up to `seq` is on disk. Concurrent callers share a sync:
    /// one that finds its batches already covered by another's returns at once.
    pub fn fsync_wal_to(&self, seq: u64) -> Result<(), StorageError> {
        if self.durable_seq.load(Ordering::Acquire) >= seq {
            return Ok(());
        }
        let _sync = self.sync_lock.lock();
        if self.durable_seq.load(Ordering::Acquire) >= seq {
            return Ok(());
        }
        // Every batch up to `latest` has its record in RocksDB's buffer or the file by now
        // (the sequence number is published after the WAL write), so the sync covers them.
        let latest = self.db.latest_sequence_number();
        self.db.flush_wal(true).map_err(|e| self.write_failed(e))?;
        self.durable_seq.fetch_max(latest, Ordering::AcqRel);
        self.wal_fsyncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Fsyncs the WAL if anything was written since the last sync (`everysec`).
    pub fn fsync_wal(&self) -> Result<(), StorageError> {
        self.fsync_wal_to(self.db.latest_sequence_number())
    }

    /// The `binlog-fsync` policy in force.
    pub fn wal_fsync(&self) -> WalFsync {
        WalFsync::from_u8(self.wal_fsync.load(Ordering::Relaxed))
    }

    /// Changes the `binlog-fsync` policy (CONFIG SET).
    pub fn set_wal_fsync(&self, policy: WalFsync) {
        self.wal_fsync.store(policy as u8, Ordering::Relaxed);
    }

    /// The number of WAL fsyncs done since the database opened.
    pub fn wal_fsyncs(&self) -> u64 {
        self.wal_fsyncs.load(Ordering::Relaxed)
    }

    /// Every batch up to this sequence number is known to be fsynced.
    pub fn durable_sequence(&self) -> u64 {
        self.durable_seq.load(Ordering::Acquire)
    }

    /// Every batch up to the returned sequence number is known to be on disk. Runs `f` with
    /// that number while no sync is in flight, so no write gets acknowledged as fsynced past
    /// it meanwhile (a simulated power cut, see `storage::durability`).
    pub fn hold_durable<R>(&self, f: impl FnOnce(u64) -> R) -> R {
        let _sync = self.sync_lock.lock();
        f(self.durable_seq.load(Ordering::Acquire))
    }

    /// Writes whatever WAL records sit in RocksDB's buffer to the file (any thread's).
    pub fn flush_wal_buffer(&self) -> Result<(), StorageError> {
        self.db.flush_wal(false).map_err(|e| self.write_failed(e))
    }

    /// The sequence number of the last committed write: the binlog position.
    pub fn latest_sequence(&self) -> u64 {
        self.settle_reads();
        self.db.latest_sequence_number()
    }

    /// Applies a batch received from a master exactly as encoded there, plus `extra` (the
    /// replication position, written atomically with it).
    pub fn write_replicated(
        &self,
        data: &[u8],
        extra: &[(Cf, &[u8], &[u8])],
    ) -> Result<(), StorageError> {
        self.settle_reads();
        let mut batch = WriteBatch::from_data(data);
        for (cf, key, value) in extra {
            batch.put_cf(self.handle(*cf), key, value);
        }
        self.db
            .write_opt(batch, &self.write_opts)
            .map_err(|e| self.write_failed(e))?;
        self.mark_written();
        Ok(())
    }

    /// The column family with RocksDB id `id` (ids follow [`Cf::ALL`] in databases created
    /// here, which is every database a slave receives).
    pub fn cf_by_id(&self, id: u32) -> Option<Cf> {
        Cf::ALL
            .into_iter()
            .zip(self.cf_ids)
            .find(|&(_, cf_id)| cf_id == id)
            .map(|(cf, _)| cf)
    }

    /// Reads the RocksDB id of each column family from how a batch encodes a put into it
    /// (the Rust binding exposes no id accessor).
    fn column_family_ids(db: &DB) -> Result<[u32; Cf::ALL.len()], StorageError> {
        let mut ids = [0u32; Cf::ALL.len()];
        for (slot, cf) in ids.iter_mut().zip(Cf::ALL) {
            let handle = db
                .cf_handle(cf.name())
                .ok_or_else(|| StorageError::Engine(format!("no column family {}", cf.name())))?;
            let mut b = WriteBatch::default();
            b.put_cf(handle, b"", b"");
            *slot = super::wal::parse_batch(b.data())
                .ok()
                .and_then(|parsed| parsed.ops.first().map(|op| op.cf))
                .ok_or_else(|| StorageError::Engine("unreadable column family id".into()))?;
        }
        Ok(ids)
    }

    /// Writes a copy of the database into `dir` (a new directory): table files hard-linked,
    /// live WAL files copied. Consistent only while no write is in flight (the caller holds
    /// the structure lock, see `Storage::checkpoint`).
    pub fn checkpoint(&self, dir: &Path) -> Result<(), StorageError> {
        self.settle_reads();
        self.db.flush_wal(false).map_err(rocks_err)?;
        let cp = rocksdb::checkpoint::Checkpoint::new(&self.db).map_err(rocks_err)?;
        // No memtable flush (it would run column family by column family while the caller
        // keeps writers waiting): the copied WAL files carry what the memtables hold.
        cp.create_checkpoint_with_log_size(dir, u64::MAX)
            .map_err(rocks_err)
    }

    /// Reads every entry of every column family with block checksums verified, bypassing the
    /// block cache, so a damaged table file shows up as an error naming it. Checks `stop`
    /// every few thousand entries. Returns the number of entries read.
    pub fn verify_tables(&self, stop: &dyn Fn() -> bool) -> Result<u64, StorageError> {
        self.settle_reads();
        let mut entries = 0u64;
        for cf in Cf::ALL {
            let mut ro = ReadOptions::default();
            ro.set_verify_checksums(true);
            ro.fill_cache(false);
            let mut it = self.db.raw_iterator_cf_opt(self.handle(cf), ro);
            it.seek_to_first();
            while it.valid() {
                entries += 1;
                if entries.is_multiple_of(4096) && stop() {
                    return Ok(entries);
                }
                it.next();
            }
            it.status().map_err(rocks_err)?;
        }
        Ok(entries)
    }

    /// The directory of the database.
    pub fn path(&self) -> &Path {
        self.db.path()
    }

    /// A cursor over `[lower, upper)` of a column family (`upper = None`: to the end).
    pub fn range(&self, cf: Cf, lower: &[u8], upper: Option<&[u8]>) -> RangeCursor<'_> {
        if let Some(pending) = round::take_for_range(cf, lower, upper) {
            let _ = self.write_pending(pending);
        }
        let ro = bounded_read_options(lower, upper);
        let mut it = self.db.raw_iterator_cf_opt(self.handle(cf), ro);
        it.seek(lower);
        RangeCursor::live(it)
    }

    /// A consistent view of the whole database as it is now, owned (see [`Snapshot`]).
    pub fn snapshot(&self) -> Snapshot {
        self.settle_reads();
        Snapshot::take(&self.db, &self.open_snapshots)
    }

    /// A cursor over the keys starting with `prefix`.
    pub fn prefix(&self, cf: Cf, prefix: &[u8]) -> RangeCursor<'_> {
        let upper = codec::prefix_upper_bound(prefix);
        self.range(cf, prefix, upper.as_deref())
    }

    /// Reads several keys of one column family at once.
    pub fn multi_get(
        &self,
        cf: Cf,
        keys: &[Vec<u8>],
    ) -> Result<Vec<Option<Vec<u8>>>, StorageError> {
        if let Some(pending) = round::take_for_reads(cf, keys.iter().map(Vec::as_slice)) {
            self.write_pending(pending)?;
        }
        self.db
            .batched_multi_get_cf(self.handle(cf), keys, false)
            .into_iter()
            .map(|r| r.map(|v| v.map(|p| p.to_vec())).map_err(rocks_err))
            .collect()
    }

    /// Compacts a whole column family down to the last level, running the compaction filters
    /// over every entry (COMPACT; reclaims deleted collections' elements).
    pub fn compact_all(&self, cf: Cf) {
        self.compact_range(cf, None, None);
    }

    /// Compacts the keys of `cf` in `[from, to)` (None: open end) the same way.
    pub fn compact_range(&self, cf: Cf, from: Option<&[u8]>, to: Option<&[u8]>) {
        let mut o = CompactOptions::default();
        o.set_bottommost_level_compaction(BottommostLevelCompaction::Force);
        o.set_exclusive_manual_compaction(false);
        self.db.compact_range_cf_opt(self.handle(cf), from, to, &o);
    }

    /// Resizes the block cache (CONFIG SET block-cache); shrinking evicts unpinned blocks.
    pub fn set_block_cache_capacity(&self, bytes: usize) {
        // `Cache` is a shared handle: the clone resizes the one cache every family uses.
        let mut cache = self.cache.clone();
        cache.set_capacity(bytes.max(1 << 20));
    }

    /// A RocksDB integer property of one column family.
    pub fn property_int(&self, cf: Cf, name: &str) -> Option<u64> {
        self.db
            .property_int_value_cf(self.handle(cf), name)
            .ok()
            .flatten()
    }

    /// Flushes every memtable to disk (clean shutdown, SAVE).
    pub fn flush(&self) -> Result<(), StorageError> {
        self.settle_reads();
        for cf in Cf::ALL {
            self.db.flush_cf(self.handle(cf)).map_err(rocks_err)?;
        }
        Ok(())
    }
}

/// Mutations collected for one atomic write.
pub struct Batch<'a> {
    engine: &'a Engine,
    inner: WriteBatch,
}

impl Batch<'_> {
    pub fn put(&mut self, cf: Cf, key: &[u8], value: &[u8]) {
        round::note_key(cf, key);
        self.inner.put_cf(self.engine.handle(cf), key, value);
    }

    pub fn delete(&mut self, cf: Cf, key: &[u8]) {
        round::note_key(cf, key);
        self.inner.delete_cf(self.engine.handle(cf), key);
    }

    pub fn merge(&mut self, cf: Cf, key: &[u8], operand: &[u8]) {
        round::note_key(cf, key);
        self.inner.merge_cf(self.engine.handle(cf), key, operand);
    }

    /// Adds a blob that goes to the WAL only (the binlog's note of what wrote the batch).
    pub fn log_data(&mut self, blob: &[u8]) {
        self.inner.put_log_data(blob);
    }

    pub fn delete_range(&mut self, cf: Cf, from: &[u8], to: &[u8]) {
        round::note_range();
        self.inner.delete_range_cf(self.engine.handle(cf), from, to);
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::wal::{parse_batch, read_wal_file, wal_files};

    #[test]
    fn column_family_ids_follow_cf_all() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = Engine::open(dir.path(), &EngineOptions::default()).expect("open");
        let mut batch = engine.batch();
        for cf in Cf::ALL {
            batch.put(cf, cf.name().as_bytes(), b"");
        }
        engine.write(batch).expect("write");
        engine.sync_wal().expect("sync");
        let mut seen = Vec::new();
        for file in wal_files(dir.path()).expect("list wal files") {
            for record in read_wal_file(&file).expect("read").records {
                let batch = parse_batch(&record.data).expect("parse");
                if batch.ops.len() == Cf::ALL.len() {
                    seen = batch.ops;
                }
            }
        }
        assert_eq!(seen.len(), Cf::ALL.len(), "the batch is in the WAL");
        for op in &seen {
            let cf = Cf::from_index(op.cf).expect("an id the engine creates");
            assert_eq!(cf.name().as_bytes(), &op.key[..]);
            assert_eq!(engine.cf_by_id(op.cf), Some(cf));
        }
        assert_eq!(Cf::from_index(99), None);
    }
}
