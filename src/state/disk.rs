//! What the disk guard (`server::disk_guard`) last saw of the disk holding db-path, for the
//! dispatcher to refuse commands that add data while it is nearly full.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// What the guard last saw.
#[derive(Default)]
pub struct DiskGuard {
    /// Bytes free on the disk holding db-path.
    available: AtomicU64,
    /// The reserve it was compared with.
    reserve: AtomicU64,
    /// Below the reserve: commands that add data are refused.
    low: AtomicBool,
}

impl DiskGuard {
    /// The error for a command that would add data, while the disk is below its reserve.
    pub fn refusal(&self) -> Option<String> {
        if !self.low.load(Ordering::Relaxed) {
            return None;
        }
        Some(format!(
            "ERR No space left on device: {} bytes free on the disk holding db-path, less than \
             least-free-disk-resume-size ({} bytes); commands that add data are refused until \
             space is freed",
            self.available.load(Ordering::Relaxed),
            self.reserve.load(Ordering::Relaxed)
        ))
    }

    /// Records a reading; returns whether the disk just went below or back above the reserve.
    pub fn record(&self, available: u64, reserve: u64) -> Option<bool> {
        self.available.store(available, Ordering::Relaxed);
        self.reserve.store(reserve, Ordering::Relaxed);
        let low = reserve > 0 && available < reserve;
        (self.low.swap(low, Ordering::Relaxed) != low).then_some(low)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_below_the_reserve_and_reports_each_crossing_once() {
        let guard = DiskGuard::default();
        assert_eq!(guard.record(100, 50), None);
        assert_eq!(guard.refusal(), None);
        assert_eq!(guard.record(40, 50), Some(true));
        assert_eq!(guard.record(30, 50), None);
        let refusal = guard.refusal().expect("refused below the reserve");
        assert!(refusal.starts_with("ERR No space left on device: 30 bytes free"));
        assert!(refusal.contains("(50 bytes)"));
        assert_eq!(guard.record(50, 50), Some(false));
        assert_eq!(guard.refusal(), None);
    }

    #[test]
    fn a_zero_reserve_never_refuses() {
        let guard = DiskGuard::default();
        assert_eq!(guard.record(0, 0), None);
        assert_eq!(guard.refusal(), None);
    }
}
