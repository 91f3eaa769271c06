//! A stop signal shared by background threads: set once, seen by every thread, and able to
//! cut a thread's sleep short so it notices at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// Asks threads to stop (see the module doc). Clones share one signal.
#[derive(Clone, Default)]
pub struct StopSignal(Arc<Inner>);

#[derive(Default)]
struct Inner {
    stopped: AtomicBool,
    /// Held while waking sleepers, so a sleeper cannot miss the wake-up between its check
    /// and its wait.
    lock: Mutex<()>,
    wake: Condvar,
}

impl StopSignal {
    /// A signal not set yet.
    pub fn new() -> StopSignal {
        StopSignal::default()
    }

    /// Sets the signal and wakes every thread sleeping in [`StopSignal::sleep`].
    pub fn stop(&self) {
        self.0.stopped.store(true, Ordering::SeqCst);
        let _guard = self.0.lock.lock();
        self.0.wake.notify_all();
    }

    /// True once the signal is set.
    pub fn is_stopped(&self) -> bool {
        self.0.stopped.load(Ordering::SeqCst)
    }

    /// Sleeps for `duration`, or less if the signal is set meanwhile; returns whether it is
    /// set.
    pub fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        let mut guard = self.0.lock.lock();
        while !self.is_stopped() {
            if self.0.wake.wait_until(&mut guard, deadline).timed_out() {
                break;
            }
        }
        self.is_stopped()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sleep_ends_early_when_the_signal_is_set() {
        let stop = StopSignal::new();
        assert!(!stop.sleep(Duration::from_millis(1)));
        let other = stop.clone();
        let sleeper = std::thread::spawn(move || {
            let started = Instant::now();
            (other.sleep(Duration::from_secs(60)), started.elapsed())
        });
        std::thread::sleep(Duration::from_millis(20));
        stop.stop();
        let (stopped, slept) = sleeper.join().expect("sleeper");
        assert!(stopped && slept < Duration::from_secs(30));
        assert!(stop.is_stopped() && stop.sleep(Duration::from_secs(60)));
    }
}
