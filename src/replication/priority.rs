//! The CPU priority of replication threads: lowered (`replication-nice`) while replication
//! keeps up, so clients on the same host are served first, and back to normal while it lags,
//! so replication never starves behind busy clients.

use crate::util::priority::{can_return_to_normal, set_current_thread_nice};

/// Behind the master's commit time by more than this, a thread runs at normal priority.
const LAGGING_MS: u64 = 250;
/// Behind by less than this, it goes back to its lowered priority.
const CAUGHT_UP_MS: u64 = 50;

/// The priority of the calling replication thread.
pub struct LagPriority {
    lowered: i32,
    current: i32,
}

impl LagPriority {
    /// Lowers the calling thread to `nice`, if the process can later bring it back to normal
    /// (otherwise it keeps normal priority: a lowered thread could not catch up).
    pub fn start(nice: i32) -> LagPriority {
        let lowered = if nice > 0 && !can_return_to_normal() {
            tracing::info!(
                "replication-nice {nice} not applied: without CAP_SYS_NICE or RLIMIT_NICE >= 20 \
                 a lagging replication thread could not get its priority back"
            );
            0
        } else {
            nice.max(0)
        };
        set_current_thread_nice(lowered);
        LagPriority {
            lowered,
            current: lowered,
        }
    }

    /// Adjusts to how far behind the master's commit time (Unix ms) the work just done was.
    pub fn follow(&mut self, committed_ms: u64, now_ms: u64) {
        let behind = now_ms.saturating_sub(committed_ms);
        let wanted = if behind > LAGGING_MS {
            0
        } else if behind < CAUGHT_UP_MS {
            self.lowered
        } else {
            self.current
        };
        if wanted != self.current {
            set_current_thread_nice(wanted);
            self.current = wanted;
        }
    }

    /// The nice value now in effect.
    pub fn current(&self) -> i32 {
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::priority::current_thread_nice;

    #[test]
    fn lagging_restores_normal_priority_and_catching_up_lowers_it_again() {
        std::thread::spawn(|| {
            let mut p = LagPriority::start(9);
            let lowered = if can_return_to_normal() { 9 } else { 0 };
            assert_eq!((p.current(), current_thread_nice()), (lowered, lowered));
            p.follow(1_000, 1_000 + LAGGING_MS + 1);
            assert_eq!((p.current(), current_thread_nice()), (0, 0));
            // In between the two thresholds nothing changes.
            p.follow(1_000, 1_100);
            assert_eq!(p.current(), 0);
            p.follow(1_000, 1_010);
            assert_eq!((p.current(), current_thread_nice()), (lowered, lowered));
        })
        .join()
        .unwrap();
    }
}
