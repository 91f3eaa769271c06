//! Counts the bytes the server's own code holds on the heap, for INFO's `used_memory`: query
//! and reply buffers, cached records, everything Rust allocates. RocksDB's C++ allocations
//! (block cache, memtables, table readers) are not seen here; INFO reports them from RocksDB's
//! own properties.
//!
//! Each thread keeps a running difference and adds it to the shared total once it passes
//! [`FLUSH_BYTES`], so the count costs no shared-cache-line traffic per allocation; the total
//! is off by at most that much per thread.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering};

/// jemalloc (Redis' allocator too), counting.
pub struct CountingAlloc;

/// The allocator underneath, as INFO's `mem_allocator` names it.
pub const ALLOCATOR_NAME: &str = "jemalloc-5.3.0";

static UNDERLYING: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

static ALLOCATED: AtomicIsize = AtomicIsize::new(0);

/// A thread's unflushed difference past which it is added to [`ALLOCATED`]: small enough that
/// `maxmemory` and eviction see a value of a few hundred KB arrive (Redis' own tests rely on
/// that), large enough that the shared counter is touched rarely (no measurable cost in
/// redis-benchmark SET/GET -P 16 against 256 KB).
const FLUSH_BYTES: isize = 16 * 1024;

thread_local! {
    // Const-initialised and without a destructor, so using it never allocates.
    static PENDING: Cell<isize> = const { Cell::new(0) };
}

fn record(delta: isize) {
    let flushed = PENDING.try_with(|p| {
        let v = p.get() + delta;
        if v.abs() >= FLUSH_BYTES {
            ALLOCATED.fetch_add(v, Ordering::Relaxed);
            p.set(0);
        } else {
            p.set(v);
        }
    });
    if flushed.is_err() {
        // The thread is exiting: count directly.
        ALLOCATED.fetch_add(delta, Ordering::Relaxed);
    }
}

/// Bytes currently allocated through the Rust allocator (requested sizes).
pub fn allocated_bytes() -> u64 {
    ALLOCATED.load(Ordering::Relaxed).max(0) as u64
}

// SAFETY: every call is forwarded to jemalloc unchanged; counting only reads the
// layout.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = UNDERLYING.alloc(layout);
        if !p.is_null() {
            record(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = UNDERLYING.alloc_zeroed(layout);
        if !p.is_null() {
            record(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        UNDERLYING.dealloc(ptr, layout);
        record(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = UNDERLYING.realloc(ptr, layout, new_size);
        if !p.is_null() {
            record(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// Resident set size of this process, from /proc (0 where it is not available).
pub fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}
