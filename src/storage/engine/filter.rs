//! The compaction filter that drops dead collection elements in the background.

use std::ffi::CStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use rocksdb::compaction_filter::{CompactionFilter, Decision};
use rocksdb::compaction_filter_factory::{CompactionFilterContext, CompactionFilterFactory};
use rocksdb::DB;

use crate::storage::codec::{self, Cf, CollectionHeader, MetaValue};

/// Drops collection elements whose version is not their key's live version (deleted,
/// overwritten or expired keys): the background half of O(1) deletion.
///
/// Expired keys count as dead only where this node's clock decides expiry (a master). A
/// slave keeps the elements of a key its clock finds expired: the master may still PERSIST
/// it, and its DEL arrives through replication anyway.
///
/// RocksDB runs compaction filters whatever snapshots are open, so while any
/// [`Snapshot`](super::Snapshot) is open nothing is dropped: a reply still reading a deleted
/// key's elements from its snapshot must find them (an open iterator keeps the files it reads
/// anyway, but a point read through a snapshot, as SORT's GET lookups do, would miss them).
/// (An element found dead before a snapshot was taken is dead in it too: versions never come
/// back to life.)
pub(super) struct DeadElementFilter {
    db: Weak<DB>,
    /// The last meta key looked up and the live version it had (`None`: no live collection);
    /// consecutive elements mostly share a key, so most decisions cost no lookup.
    last: Option<(Vec<u8>, Option<u64>)>,
    now_ms: u64,
    /// Whether an expired key's elements are dead (see [`Engine::set_expired_elements_dead`](super::Engine::set_expired_elements_dead)).
    expired_are_dead: bool,
    /// Number of [`Snapshot`](super::Snapshot)s open.
    open_snapshots: Arc<AtomicUsize>,
}

impl DeadElementFilter {
    fn live_version(&self, meta_key: &[u8]) -> Result<Option<u64>, ()> {
        let db = self.db.upgrade().ok_or(())?;
        let cf = db.cf_handle(Cf::Meta.name()).ok_or(())?;
        let raw = db.get_pinned_cf(cf, meta_key).map_err(|_| ())?;
        Ok(raw.and_then(|raw| {
            let meta = MetaValue::decode(&raw)?;
            if !meta.data_type.is_collection()
                || (self.expired_are_dead && meta.is_expired(self.now_ms))
            {
                return None;
            }
            CollectionHeader::decode(&meta.body).map(|h| h.version)
        }))
    }
}

impl CompactionFilter for DeadElementFilter {
    fn filter(&mut self, _level: u32, key: &[u8], _value: &[u8]) -> Decision {
        let Some((meta_key, version, _)) = codec::decode_element_key(key) else {
            return Decision::Keep;
        };
        let live = match &self.last {
            Some((k, v)) if *k == meta_key => *v,
            _ => match self.live_version(&meta_key) {
                Ok(v) => {
                    self.last = Some((meta_key, v));
                    v
                }
                // Unsure (closing, read error): keep; a later compaction decides.
                Err(()) => return Decision::Keep,
            },
        };
        // Checked after the live version was read: a snapshot taken before the key died
        // is counted by then.
        if live == Some(version) || self.open_snapshots.load(Ordering::SeqCst) > 0 {
            Decision::Keep
        } else {
            Decision::Remove
        }
    }

    fn name(&self) -> &CStr {
        c"pika-dead-elements"
    }
}

/// Creates a [`DeadElementFilter`] per compaction, once the database is open.
pub(super) struct DeadElementFilterFactory {
    /// The database, set once it is open.
    pub(super) db: Arc<OnceLock<Weak<DB>>>,
    /// Whether expired keys' elements are dead (shared with the engine).
    pub(super) expired_are_dead: Arc<AtomicBool>,
    /// Number of snapshots open (shared with the engine).
    pub(super) open_snapshots: Arc<AtomicUsize>,
}

impl CompactionFilterFactory for DeadElementFilterFactory {
    type Filter = DeadElementFilter;

    fn create(&mut self, _context: CompactionFilterContext) -> DeadElementFilter {
        DeadElementFilter {
            db: self.db.get().cloned().unwrap_or_default(),
            last: None,
            now_ms: crate::util::clock::unix_ms(),
            expired_are_dead: self.expired_are_dead.load(Ordering::Relaxed),
            open_snapshots: Arc::clone(&self.open_snapshots),
        }
    }

    fn name(&self) -> &CStr {
        c"pika-dead-elements-factory"
    }
}
