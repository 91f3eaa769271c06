//! The wall clock, read one way everywhere: time since the Unix epoch (deadlines, TTLs,
//! INFO and log timestamps). A clock set before 1970 reads as the epoch.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Time since the Unix epoch.
pub fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Milliseconds since the Unix epoch: the clock of every deadline.
pub fn unix_ms() -> u64 {
    since_epoch().as_millis() as u64
}

/// Seconds since the Unix epoch.
pub fn unix_secs() -> u64 {
    since_epoch().as_secs()
}

/// Seconds since the Unix epoch from the kernel's coarse clock: as cheap as a memory read,
/// behind the exact clock by at most a scheduler tick. For once-per-command readings of
/// second-resolution clocks (the hot tier's LRU and LFU clocks), never for deadlines.
pub fn unix_secs_coarse() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the call only writes it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
    if rc == 0 && ts.tv_sec > 0 {
        ts.tv_sec as u64
    } else {
        unix_secs()
    }
}

/// Milliseconds on the kernel's coarse monotonic clock: as cheap as a memory read, behind
/// the exact clock by at most a scheduler tick. For once-per-command readings of idle times.
pub fn monotonic_ms_coarse() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the call only writes it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    if rc == 0 {
        ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coarse_clock_trails_by_less_than_a_second() {
        let coarse = unix_secs_coarse();
        let exact = unix_secs();
        assert!(
            coarse <= exact && exact - coarse <= 1,
            "{coarse} vs {exact}"
        );
    }

    #[test]
    fn the_coarse_monotonic_clock_advances() {
        let before = monotonic_ms_coarse();
        std::thread::sleep(std::time::Duration::from_millis(30));
        let after = monotonic_ms_coarse();
        assert!(after >= before + 20, "{before} then {after}");
    }

    #[test]
    fn the_readings_agree() {
        let ms = unix_ms();
        let secs = unix_secs();
        assert!(ms / 1000 <= secs && secs <= ms / 1000 + 1);
        assert!(secs > 1_600_000_000, "a clock after 2020");
    }
}
