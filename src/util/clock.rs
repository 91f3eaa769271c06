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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readings_agree() {
        let ms = unix_ms();
        let secs = unix_secs();
        assert!(ms / 1000 <= secs && secs <= ms / 1000 + 1);
        assert!(secs > 1_600_000_000, "a clock after 2020");
    }
}
