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
//! - **A trim every second** ([`run`]): `malloc_trim` releases the free pages inside the
//!   arenas too, which the threshold cannot reach. A loaded server without it measured 368 MB
//!   resident for 148 MB in use, and 237 MB after one trim; walking two arenas' free lists
//!   once a second costs well under a millisecond.

use std::time::Duration;

use super::stop::StopSignal;

/// How often free memory is handed back.
pub const TRIM_PERIOD: Duration = Duration::from_secs(1);

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

/// Trims until `stop` is set.
pub fn run(stop: &StopSignal) {
    while !stop.sleep(TRIM_PERIOD) {
        trim();
    }
}

/// Releases the allocator's free pages to the system (glibc only; elsewhere nothing).
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers and only inspects the allocator's own state.
    unsafe {
        libc::malloc_trim(0);
    }
}
