//! The latency monitor: for each event class ("command", "fast-command", "expire-cycle",
//! "expire-del", "aof-write", "aof-fsync-always"),
//! the spikes at or above `latency-monitor-threshold` ms, one sample per second (the largest
//! of that second), the last [`HISTORY_LEN`] seconds that had one, and the largest ever seen.

use std::collections::{BTreeMap, VecDeque};

use parking_lot::Mutex;

/// Samples kept per event, as in Redis.
pub const HISTORY_LEN: usize = 160;

/// One spike: when (unix seconds) and how long (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub time: u64,
    pub latency_ms: u64,
}

/// The record of one event class.
#[derive(Debug, Clone, Default)]
pub struct EventSeries {
    /// Oldest first.
    pub samples: VecDeque<Sample>,
    /// Largest latency ever recorded for the event.
    pub max_ms: u64,
}

/// Every event class seen since the last reset.
#[derive(Default)]
pub struct LatencyEvents {
    events: Mutex<BTreeMap<String, EventSeries>>,
}

impl LatencyEvents {
    /// Records `latency_ms` for `event` at `now` (unix seconds) when the threshold (ms, 0 =
    /// monitor off) admits it.
    pub fn add_if_needed(&self, event: &str, latency_ms: u64, threshold_ms: i64, now: u64) {
        if threshold_ms <= 0 || latency_ms < threshold_ms as u64 {
            return;
        }
        self.add(event, latency_ms, now);
    }

    /// Records a sample: a second holds one sample, the largest.
    pub fn add(&self, event: &str, latency_ms: u64, now: u64) {
        let mut events = self.events.lock();
        let series = match events.get_mut(event) {
            Some(s) => s,
            None => events.entry(event.to_string()).or_default(),
        };
        series.max_ms = series.max_ms.max(latency_ms);
        if let Some(last) = series.samples.back_mut() {
            if last.time == now {
                last.latency_ms = last.latency_ms.max(latency_ms);
                return;
            }
        }
        series.samples.push_back(Sample {
            time: now,
            latency_ms,
        });
        while series.samples.len() > HISTORY_LEN {
            series.samples.pop_front();
        }
    }

    /// Every event with its series, by name.
    pub fn all(&self) -> Vec<(String, EventSeries)> {
        self.events
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// One event's series.
    pub fn get(&self, event: &str) -> Option<EventSeries> {
        self.events.lock().get(event).cloned()
    }

    /// Forgets the named events (all when `names` is empty); returns how many existed.
    pub fn reset(&self, names: &[&str]) -> usize {
        let mut events = self.events.lock();
        if names.is_empty() {
            let n = events.len();
            events.clear();
            return n;
        }
        names
            .iter()
            .filter(|name| events.remove(**name).is_some())
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_zero_records_nothing() {
        let m = LatencyEvents::default();
        m.add_if_needed("command", 500, 0, 1);
        assert!(m.all().is_empty());
    }

    #[test]
    fn one_sample_per_second_keeps_the_largest() {
        let m = LatencyEvents::default();
        m.add_if_needed("command", 120, 100, 10);
        m.add_if_needed("command", 300, 100, 10);
        m.add_if_needed("command", 50, 100, 10);
        m.add_if_needed("command", 150, 100, 11);
        let s = m.get("command").unwrap();
        let got: Vec<_> = s.samples.iter().map(|x| (x.time, x.latency_ms)).collect();
        assert_eq!(got, vec![(10, 300), (11, 150)]);
        assert_eq!(s.max_ms, 300);
    }

    #[test]
    fn history_is_bounded() {
        let m = LatencyEvents::default();
        for t in 0..(HISTORY_LEN as u64 + 10) {
            m.add("e", 5, t);
        }
        let s = m.get("e").unwrap();
        assert_eq!(s.samples.len(), HISTORY_LEN);
        assert_eq!(s.samples.front().map(|x| x.time), Some(10));
    }

    #[test]
    fn reset_counts_the_events_it_removed() {
        let m = LatencyEvents::default();
        m.add("a", 5, 1);
        m.add("b", 5, 1);
        assert_eq!(m.reset(&["a", "zzz"]), 1);
        assert_eq!(m.reset(&[]), 1);
        assert!(m.all().is_empty());
    }
}
