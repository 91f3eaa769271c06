//! Reads that see one state of the database: snapshots, and cursors over key ranges of the
//! live database or of a snapshot.
//!
//! RocksDB's snapshots and iterators borrow the database. A [`Snapshot`] owns a handle on the
//! database with the snapshot that borrows it (a self-referential pair kept by `self_cell`),
//! and a cursor over a snapshot owns the snapshot the same way, so a reply streamed as its
//! client reads it can keep reading one consistent view without borrowing anything.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rocksdb::{ColumnFamily, DBRawIteratorWithThreadMode, ReadOptions, SnapshotWithThreadMode, DB};

use super::{rocks_err, Engine};
use crate::storage::codec::{self, Cf};
use crate::storage::StorageError;

/// Read options bounding an iterator to `[lower, upper)`.
pub(super) fn bounded_read_options(lower: &[u8], upper: Option<&[u8]>) -> ReadOptions {
    let mut ro = ReadOptions::default();
    ro.set_iterate_lower_bound(lower.to_vec());
    if let Some(upper) = upper {
        ro.set_iterate_upper_bound(upper.to_vec());
    }
    ro
}

/// The column family handle of `cf` in `db`.
pub(super) fn cf_handle(db: &DB, cf: Cf) -> &ColumnFamily {
    // Every Cf is created at open, so the handle exists for the life of the database.
    db.cf_handle(cf.name())
        .expect("column family created at open")
}

/// Counts one open [`Snapshot`] for as long as it lives.
struct OpenSnapshot(Arc<AtomicUsize>);

impl OpenSnapshot {
    fn new(count: &Arc<AtomicUsize>) -> OpenSnapshot {
        count.fetch_add(1, Ordering::SeqCst);
        OpenSnapshot(Arc::clone(count))
    }
}

impl Drop for OpenSnapshot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What a snapshot borrows from: the database, and its place in the count of open snapshots.
struct SnapshotOwner {
    db: Arc<DB>,
    _open: OpenSnapshot,
}

/// A RocksDB snapshot borrowing the database it keeps alive.
type SnapshotRef<'a> = SnapshotWithThreadMode<'a, DB>;

self_cell::self_cell!(
    /// The database handle and a snapshot of it.
    struct SnapshotCell {
        owner: SnapshotOwner,
        #[covariant]
        dependent: SnapshotRef,
    }
);

/// An iterator borrowing the database of the snapshot it reads.
type SnapshotIter<'a> = DBRawIteratorWithThreadMode<'a, DB>;

self_cell::self_cell!(
    /// A snapshot and an iterator reading it.
    struct SnapshotCursorCell {
        owner: Arc<SnapshotCell>,
        #[covariant]
        dependent: SnapshotIter,
    }
);

/// A consistent, read-only view of the database as it was when taken, owned: it can be kept
/// (and moved between threads) for as long as a reply needs it, and every read through it sees
/// the same data whatever is written meanwhile. Clones share one RocksDB snapshot, released
/// when the last clone and cursor are gone (keeping old data from compaction until then).
#[derive(Clone)]
pub struct Snapshot(Arc<SnapshotCell>);

impl Snapshot {
    /// Takes a snapshot of `db`, counted in `open_snapshots` for as long as it lives. Counted
    /// before it is taken, so no compaction filter misses it (see `filter`).
    pub(super) fn take(db: &Arc<DB>, open_snapshots: &Arc<AtomicUsize>) -> Snapshot {
        let owner = SnapshotOwner {
            db: Arc::clone(db),
            _open: OpenSnapshot::new(open_snapshots),
        };
        Snapshot(Arc::new(SnapshotCell::new(owner, |owner| {
            owner.db.snapshot()
        })))
    }

    /// Reads one value as of the snapshot.
    pub fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let db = &self.0.borrow_owner().db;
        let mut ro = ReadOptions::default();
        ro.set_snapshot(self.0.borrow_dependent());
        db.get_pinned_cf_opt(cf_handle(db, cf), key, &ro)
            .map(|v| v.map(|v| v.to_vec()))
            .map_err(rocks_err)
    }

    /// A cursor over `[lower, upper)` of a column family as of the snapshot, owning what it
    /// reads (`upper = None`: to the end).
    pub fn range(&self, cf: Cf, lower: &[u8], upper: Option<&[u8]>) -> RangeCursor<'static> {
        let cell = SnapshotCursorCell::new(Arc::clone(&self.0), |snap| {
            let db = &snap.borrow_owner().db;
            let mut ro = bounded_read_options(lower, upper);
            ro.set_snapshot(snap.borrow_dependent());
            let mut it = db.raw_iterator_cf_opt(cf_handle(db, cf), ro);
            it.seek(lower);
            it
        });
        RangeCursor {
            it: CursorIter::Snapshot(Box::new(cell)),
        }
    }
}

/// What a read sees: the live database, or a snapshot. Cursors of a `ReadView<'s>` live as
/// long as `'s`; those of a snapshot own what they read, so `ReadView<'static>` gives
/// cursors that can be kept anywhere (a reply streamed as its client reads it).
pub enum ReadView<'s> {
    Live(&'s Engine),
    Snapshot(Snapshot),
}

impl<'s> ReadView<'s> {
    /// See [`Engine::range`].
    pub fn range(&self, cf: Cf, lower: &[u8], upper: Option<&[u8]>) -> RangeCursor<'s> {
        match self {
            ReadView::Live(engine) => engine.range(cf, lower, upper),
            ReadView::Snapshot(snap) => snap.range(cf, lower, upper),
        }
    }

    /// See [`Engine::prefix`].
    pub fn prefix(&self, cf: Cf, prefix: &[u8]) -> RangeCursor<'s> {
        let upper = codec::prefix_upper_bound(prefix);
        self.range(cf, prefix, upper.as_deref())
    }
}

/// What a [`RangeCursor`] iterates: the live database, or a snapshot it owns.
enum CursorIter<'a> {
    Live(DBRawIteratorWithThreadMode<'a, DB>),
    Snapshot(Box<SnapshotCursorCell>),
}

impl CursorIter<'_> {
    fn iter(&self) -> &DBRawIteratorWithThreadMode<'_, DB> {
        match self {
            CursorIter::Live(it) => it,
            CursorIter::Snapshot(cell) => cell.borrow_dependent(),
        }
    }

    fn with_mut(&mut self, f: impl FnOnce(&mut DBRawIteratorWithThreadMode<'_, DB>)) {
        match self {
            CursorIter::Live(it) => f(it),
            CursorIter::Snapshot(cell) => cell.with_dependent_mut(|_, it| f(it)),
        }
    }
}

/// A cursor over a bounded key range, of the live database ([`Engine::range`]) or of a
/// snapshot ([`Snapshot::range`], then it owns what it reads: `RangeCursor<'static>`).
pub struct RangeCursor<'a> {
    it: CursorIter<'a>,
}

impl<'a> RangeCursor<'a> {
    /// A cursor over an iterator of the live database, already positioned.
    pub(super) fn live(it: DBRawIteratorWithThreadMode<'a, DB>) -> RangeCursor<'a> {
        RangeCursor {
            it: CursorIter::Live(it),
        }
    }
}

impl RangeCursor<'_> {
    /// Moves to the first key `>= key`.
    pub fn seek(&mut self, key: &[u8]) {
        self.it.with_mut(|it| it.seek(key));
    }

    /// Moves to the last key `<= key`.
    pub fn seek_for_prev(&mut self, key: &[u8]) {
        self.it.with_mut(|it| it.seek_for_prev(key));
    }

    /// Moves to the last key of the range.
    pub fn seek_to_last(&mut self) {
        self.it.with_mut(|it| it.seek_to_last());
    }

    /// Steps back to the previous entry.
    pub fn retreat(&mut self) {
        self.it.with_mut(|it| it.prev());
    }

    /// The current entry, or `None` at the end of the range (or on a read error, see `status`).
    pub fn current(&self) -> Option<(&[u8], &[u8])> {
        let it = self.it.iter();
        if it.valid() {
            Some((it.key()?, it.value()?))
        } else {
            None
        }
    }

    /// Advances to the next entry.
    pub fn advance(&mut self) {
        self.it.with_mut(|it| it.next());
    }

    /// Reports a read error that ended the iteration early.
    pub fn status(&self) -> Result<(), StorageError> {
        self.it.iter().status().map_err(rocks_err)
    }
}
