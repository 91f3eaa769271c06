//! Latency figures: the latency monitor's spikes per event (LATENCY LATEST/HISTORY/GRAPH/
//! DOCTOR) and the per-command latency histograms (LATENCY HISTOGRAM, INFO latencystats).

pub mod events;
pub mod histogram;
pub mod tracker;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::config::Config;

/// What the server keeps about latency.
pub struct Latency {
    pub events: Arc<events::LatencyEvents>,
    pub commands: tracker::CommandLatencies,
}

impl Latency {
    /// Empty records for a table of `command_count` commands.
    pub fn new(command_count: usize) -> Latency {
        Latency {
            events: Arc::default(),
            commands: tracker::CommandLatencies::new(command_count),
        }
    }
}

/// Storage's background work (the expirer) reports its spikes here, judged against the live
/// `latency-monitor-threshold`.
pub struct EventSink {
    pub events: Arc<events::LatencyEvents>,
    pub config: Arc<ArcSwap<Config>>,
}

impl crate::storage::LatencySink for EventSink {
    fn enabled(&self) -> bool {
        self.config.load().latency_monitor_threshold > 0
    }

    fn spike(&self, event: &'static str, took: Duration) {
        let threshold = self.config.load().latency_monitor_threshold;
        self.events.add_if_needed(
            event,
            took.as_millis() as u64,
            threshold,
            crate::util::clock::unix_secs(),
        );
    }
}
