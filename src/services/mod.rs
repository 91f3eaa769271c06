//! Background services and the one way background threads start and stop.
//!
//! - [`backup`]: BGSAVE's checkpoints and their restore;
//! - [`compaction`]: the queue of compactions (COMPACT, the schedule) and the thread that
//!   runs them;
//! - [`keyspace_stats`]: per-type key counts for INFO keyspace, rescanned in the background.
//!
//! Each service holds only what it uses (the storage, its own queue or results) and none of
//! them knows the server: the server builds them, keeps the parts commands read (the
//! compaction queue, the key counts) and runs their loops on [`BackgroundThreads`]. Every
//! background thread of the server (these, the expirer, the WAL syncer, replication's, the
//! disk guard) runs until one [`StopSignal`], set when shutdown is requested, and is joined
//! at shutdown.

pub mod backup;
pub mod compaction;
pub mod keyspace_stats;

use std::thread::JoinHandle;

use crate::util::stop::StopSignal;

/// Named background threads sharing one stop signal, joined together (see the module doc).
pub struct BackgroundThreads {
    stop: StopSignal,
    threads: Vec<JoinHandle<()>>,
}

impl BackgroundThreads {
    /// No threads yet; those started will stop when `stop` is set.
    pub fn new(stop: StopSignal) -> BackgroundThreads {
        BackgroundThreads {
            stop,
            threads: Vec::new(),
        }
    }

    /// Starts a thread named `name` running `work`, which gets the stop signal and must return
    /// soon after it is set.
    pub fn spawn(
        &mut self,
        name: &str,
        work: impl FnOnce(&StopSignal) + Send + 'static,
    ) -> std::io::Result<()> {
        let stop = self.stop.clone();
        let handle = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || work(&stop))?;
        self.threads.push(handle);
        Ok(())
    }

    /// Sets the stop signal (if shutdown did not already) and waits for every thread to end.
    pub fn stop_and_join(self) {
        self.stop.stop();
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn every_thread_sees_the_one_signal_and_is_joined() {
        let ended = Arc::new(AtomicUsize::new(0));
        let mut threads = BackgroundThreads::new(StopSignal::new());
        for i in 0..3 {
            let ended = Arc::clone(&ended);
            threads
                .spawn(&format!("test-{i}"), move |stop| {
                    while !stop.sleep(std::time::Duration::from_secs(60)) {}
                    ended.fetch_add(1, Ordering::SeqCst);
                })
                .expect("spawn");
        }
        threads.stop_and_join();
        assert_eq!(ended.load(Ordering::SeqCst), 3);
    }
}
