//! Group commit: the batches one worker round writes reach RocksDB as one write.
//!
//! Profiling showed a fixed price per RocksDB write (joining the write thread, the WAL record,
//! publishing the sequence number) of about a fifth of a small command's cost. So a worker
//! opens a round on its thread before it runs the commands of its connections; while the round
//! is open, [`Engine::write`](super::Engine::write) appends each batch to the round's pending
//! batch instead of writing it, and [`Engine::end_round`](super::Engine::end_round) writes them
//! all at once, before any reply of the round goes out. The binlog does not change: every
//! command's batch starts with its note, and the binlog reader cuts a WAL record at notes (as it
//! does for the write groups RocksDB itself merges).
//!
//! The thread's own reads see its pending writes: a point read of a key a pending batch wrote,
//! and every cursor, snapshot, multi-get or sequence-number read, first write the pending batch.
//! Written keys are remembered as bits of a hash only (a collision costs an early write,
//! nothing else); the buffers live as long as the thread, so a round allocates nothing.
//! Other writers never read around pending data: the storage holds the round's key locks until
//! the round has landed (see `storage::round`). Readers elsewhere may see the round's meta
//! records in the shared cache before they land, as Redis' readers see a write before its AOF
//! is written; a cache fill from disk is refused while another thread has writes pending
//! ([`fill_token`], [`fill_allowed`]), so the cache never takes back a value a round replaced.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::storage::codec::{self, Cf};
use crate::util::fnv::fnv1a;

/// Bytes of a WriteBatch's header: sequence number (u64) and operation count (u32), both LE.
const HEADER_LEN: usize = 12;

/// Bits of the written-key filter: a round writes a few thousand keys at most, so a read of
/// another key finds its bit set rarely.
const FILTER_BITS: usize = 1 << 16;

/// A thread's round state, kept between rounds for its buffers.
struct Pending {
    open: bool,
    /// The pending writes as one WriteBatch representation (empty: nothing pending).
    rep: Vec<u8>,
    /// One bit per hash of the (column family, key) pairs `rep` writes.
    written: Vec<u64>,
    /// The words of `written` with a bit set, so clearing costs what was marked.
    marked_words: Vec<usize>,
    /// A pending batch deletes a range: every read writes the round first.
    wrote_range: bool,
}

impl Pending {
    fn new() -> Pending {
        Pending {
            open: false,
            rep: Vec::new(),
            written: vec![0; FILTER_BITS / 64],
            marked_words: Vec::new(),
            wrote_range: false,
        }
    }

    fn mark(&mut self, hash: u64) {
        let bit = hash as usize % FILTER_BITS;
        let word = &mut self.written[bit / 64];
        if *word == 0 {
            self.marked_words.push(bit / 64);
        }
        *word |= 1 << (bit % 64);
    }

    fn marked(&self, hash: u64) -> bool {
        let bit = hash as usize % FILTER_BITS;
        self.written[bit / 64] & (1 << (bit % 64)) != 0
    }
}

/// Threads whose round has writes pending.
static PENDING_THREADS: AtomicUsize = AtomicUsize::new(0);
/// Pending writes that landed (or failed to), ever: a read from disk that straddles one may
/// have missed it.
static LANDINGS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static ROUND: RefCell<Pending> = RefCell::new(Pending::new());
    /// The error of a write of this thread's round, reported when the round ends.
    static FAILED: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn key_hash(cf: Cf, key: &[u8]) -> u64 {
    fnv1a(key) ^ (cf as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Opens a round on this thread (a no-op when one is open).
pub(super) fn open() {
    ROUND.with(|r| r.borrow_mut().open = true);
}

/// Closes this thread's round, returning what is still pending (None if nothing).
pub(super) fn close() -> Option<Vec<u8>> {
    ROUND.with(|r| {
        let mut r = r.borrow_mut();
        r.open = false;
        (!r.rep.is_empty()).then(|| take(&mut r))
    })
}

/// Whether a round is open on this thread.
pub(super) fn is_open() -> bool {
    ROUND.with(|r| r.borrow().open)
}

/// The filter bit of a collection's element prefix: set by a write of any of its elements, so
/// a cursor over one collection lands the round only if the round wrote that collection.
fn scope_hash(cf: Cf, scope: &[u8]) -> u64 {
    key_hash(cf, scope).rotate_left(29) ^ 0x5851_f42d_4c95_7f2d
}

/// Remembers that a batch being built on this thread writes `key` of `cf`.
pub(super) fn note_key(cf: Cf, key: &[u8]) {
    ROUND.with(|r| {
        let mut p = r.borrow_mut();
        if p.open {
            p.mark(key_hash(cf, key));
            if let Some(scope) = codec::element_scope(cf, key) {
                p.mark(scope_hash(cf, scope));
            }
        }
    });
}

/// Remembers that a batch being built on this thread deletes a range.
pub(super) fn note_range() {
    ROUND.with(|r| {
        let mut p = r.borrow_mut();
        if p.open {
            p.wrote_range = true;
        }
    });
}

/// Appends a batch's representation to the open round; false when no round is open.
pub(super) fn append(batch_rep: &[u8]) -> bool {
    ROUND.with(|r| {
        let mut p = r.borrow_mut();
        if !p.open {
            return false;
        }
        if batch_rep.len() < HEADER_LEN {
            return true;
        }
        if p.rep.is_empty() {
            PENDING_THREADS.fetch_add(1, Ordering::SeqCst);
            p.rep.extend_from_slice(batch_rep);
        } else {
            let count = |rep: &[u8]| u32::from_le_bytes([rep[8], rep[9], rep[10], rep[11]]);
            let total = count(&p.rep).wrapping_add(count(batch_rep));
            p.rep[8..HEADER_LEN].copy_from_slice(&total.to_le_bytes());
            p.rep.extend_from_slice(&batch_rep[HEADER_LEN..]);
        }
        true
    })
}

/// Bytes of pending writes past which they land at once (the round stays open): bounds the
/// memory of a round whose script or transaction writes a lot.
pub(super) const PENDING_MAX: usize = 4 << 20;

/// Bytes of this thread's pending writes.
pub(super) fn pending_len() -> usize {
    ROUND.with(|r| r.borrow().rep.len())
}

/// Takes the pending writes if a read of any of `keys` of `cf` must see them first.
pub(super) fn take_for_reads<'k>(
    cf: Cf,
    keys: impl IntoIterator<Item = &'k [u8]>,
) -> Option<Vec<u8>> {
    ROUND.with(|r| {
        let mut p = r.borrow_mut();
        let needed = !p.rep.is_empty()
            && (p.wrote_range || keys.into_iter().any(|k| p.marked(key_hash(cf, k))));
        needed.then(|| take(&mut p))
    })
}

/// Takes the pending writes if a cursor over `[lower, upper)` of `cf` may meet any of them:
/// unless the range lies within one collection's elements that the round did not write.
pub(super) fn take_for_range(cf: Cf, lower: &[u8], upper: Option<&[u8]>) -> Option<Vec<u8>> {
    ROUND.with(|r| {
        let mut p = r.borrow_mut();
        if p.rep.is_empty() {
            return None;
        }
        let untouched_scope = !p.wrote_range
            && codec::element_scope(cf, lower).is_some_and(|scope| {
                upper.is_some_and(|u| codec::bounded_by_prefix(scope, u))
                    && !p.marked(scope_hash(cf, scope))
            });
        (!untouched_scope).then(|| take(&mut p))
    })
}

/// Takes the pending writes, if any (before a snapshot, a direct write).
pub(super) fn take_all() -> Option<Vec<u8>> {
    ROUND.with(|r| {
        let mut p = r.borrow_mut();
        (!p.rep.is_empty()).then(|| take(&mut p))
    })
}

/// Gives a written representation back, so its buffer serves the next round.
pub(super) fn recycle(mut rep: Vec<u8>) {
    ROUND.with(|r| {
        let mut p = r.borrow_mut();
        if p.rep.is_empty() && rep.capacity() > p.rep.capacity() {
            rep.clear();
            p.rep = rep;
        }
    });
}

/// Takes the (non-empty) pending writes; [`landed`] must follow once they are written.
fn take(p: &mut Pending) -> Vec<u8> {
    for word in p.marked_words.drain(..) {
        p.written[word] = 0;
    }
    p.wrote_range = false;
    std::mem::take(&mut p.rep)
}

/// Pending writes taken by [`take`] were written (or failed).
pub(super) fn landed() {
    LANDINGS.fetch_add(1, Ordering::SeqCst);
    PENDING_THREADS.fetch_sub(1, Ordering::SeqCst);
}

/// Taken before a disk read whose result may fill a cache: see [`fill_allowed`].
pub fn fill_token() -> u64 {
    LANDINGS.load(Ordering::SeqCst)
}

/// Whether a value read from disk since `token` may be cached: no other thread's writes were
/// pending meanwhile (the read could have missed them) or landed since.
pub fn fill_allowed(token: u64) -> bool {
    let own = ROUND.with(|r| usize::from(!r.borrow().rep.is_empty()));
    PENDING_THREADS.load(Ordering::SeqCst) == own && LANDINGS.load(Ordering::SeqCst) == token
}

/// Records that writing this thread's round failed: the round's end reports it.
pub(super) fn fail(message: String) {
    FAILED.with(|f| {
        f.borrow_mut().get_or_insert(message);
    });
}

/// Whether a write of this thread's round failed (not yet reported).
pub(super) fn has_failed() -> bool {
    FAILED.with(|f| f.borrow().is_some())
}

/// The first write failure of this thread's round since the last call.
pub(super) fn take_failure() -> Option<String> {
    FAILED.with(|f| f.borrow_mut().take())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(count: u32, records: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; 8];
        v.extend_from_slice(&count.to_le_bytes());
        v.extend_from_slice(records);
        v
    }

    #[test]
    fn appended_batches_sum_their_counts_and_keep_their_records_in_order() {
        open();
        assert!(append(&rep(2, b"ab")));
        assert!(append(&rep(3, b"cde")));
        let all = take_all().expect("pending");
        assert_eq!(all, rep(5, b"abcde"));
        assert_eq!(take_all(), None);
        recycle(all);
        assert!(append(&rep(1, b"f")));
        assert_eq!(close(), Some(rep(1, b"f")));
        assert!(!append(&rep(1, b"x")), "no round, no append");
    }

    #[test]
    fn only_reads_of_written_keys_take_the_pending_writes() {
        open();
        note_key(Cf::Meta, b"k");
        assert!(append(&rep(1, b"k")));
        assert_eq!(take_for_reads(Cf::Meta, [&b"other"[..]]), None);
        assert_eq!(take_for_reads(Cf::Hash, [&b"k"[..]]), None);
        assert!(take_for_reads(Cf::Meta, [&b"k"[..]]).is_some());
        assert_eq!(take_for_reads(Cf::Meta, [&b"k"[..]]), None, "taken once");
        note_range();
        assert!(append(&rep(1, b"r")));
        assert!(take_for_reads(Cf::Set, [&b"anything"[..]]).is_some());
        close();
    }
}
