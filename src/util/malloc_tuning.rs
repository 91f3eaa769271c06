//! Settings for glibc's allocator, applied before any thread starts, so that resident memory
//! follows what the server and RocksDB hold instead of what they once held.
//!
//! - **Two arenas.** glibc gives threads up to 8 arenas per core; memory freed into one arena
//!   serves only the threads that use it, so under churn (the hot tier evicting, memtables
//!   flushed, blocks leaving the block cache) each arena keeps its own high-water mark.
//! - **A fixed mmap threshold.** By default, freeing a large mmapped chunk (a memtable's arena
//!   block) raises the threshold to its size, after which such blocks come from the heap and
//!   leave holes there when freed. A fixed threshold keeps them mmapped and returned whole.
//! - **A lower trim threshold**, so free memory at the top of the heap goes back sooner.

/// Largest request served from the heap; bigger ones are mapped and unmapped on their own.
const MMAP_THRESHOLD: i32 = 128 * 1024;
/// Free bytes at the top of the heap beyond which it is given back.
const TRIM_THRESHOLD: i32 = 1024 * 1024;
/// Arenas for all threads together.
const ARENAS: i32 = 2;

/// Applies the settings (a no-op outside glibc).
pub fn apply() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before other threads
    // exist, and every value is one glibc documents as valid.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, ARENAS);
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}
