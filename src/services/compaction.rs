//! Scheduled compaction: Pika's `compact-cron` and `compact-interval`.
//!
//! - `compact-cron : HH-HH/ratio[;HH-HH/ratio...]` compacts once per day inside the window
//!   `[start hour, end hour)` (local time) when the free share of the disk holding the
//!   database is below `ratio` percent;
//! - `compact-interval : hours/ratio` compacts every `hours` hours under the same disk rule.
//!
//! A full compaction runs the compaction filters over everything, reclaiming the space of
//! deleted and overwritten collections.
//!
//! One `compact` thread runs every compaction, queued by COMPACT / COMPACTRANGE or by the
//! schedule, one at a time (two full compactions at once would only compete for the disk);
//! `CompactionQueue` holds the queue and the state INFO shows.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;

use crate::storage::{DataType, Storage};
use crate::util::stop::StopSignal;

/// One compaction to run: a database (None: all) and types (None: all).
#[derive(Debug, Clone)]
pub struct Job {
    /// The logical database to compact; None: all of them.
    pub db: Option<usize>,
    /// The types whose data to compact; None: all of them.
    pub types: Option<Vec<DataType>>,
    /// Who asked: `command`, `cron` or `interval`.
    pub reason: &'static str,
}

/// Compactions waiting for the compact thread, and what it has done.
pub struct CompactionQueue {
    tx: Sender<Job>,
    rx: Receiver<Job>,
    running: AtomicBool,
    queued: AtomicU64,
    done: AtomicU64,
    failed: AtomicU64,
    /// (reason, unix seconds it ended, seconds it took) of the last compaction.
    last: Mutex<Option<(&'static str, u64, f64)>>,
}

impl Default for CompactionQueue {
    fn default() -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        CompactionQueue {
            tx,
            rx,
            running: AtomicBool::new(false),
            queued: AtomicU64::new(0),
            done: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            last: Mutex::new(None),
        }
    }
}

/// What INFO reports of compactions.
#[derive(Debug, Clone, PartialEq)]
pub struct CompactionStatus {
    /// A compaction is running now.
    pub running: bool,
    /// Compactions waiting for the thread.
    pub queued: u64,
    /// Compactions finished since start.
    pub done: u64,
    /// Compactions that failed since start.
    pub failed: u64,
    /// (reason, unix seconds it ended, seconds it took) of the last compaction.
    pub last: Option<(&'static str, u64, f64)>,
}

impl CompactionQueue {
    /// Queues a compaction for the compact thread.
    pub fn submit(&self, job: Job) {
        self.queued.fetch_add(1, Ordering::SeqCst);
        // The receiver lives as long as the queue, so sending cannot fail.
        let _ = self.tx.send(job);
    }

    /// What INFO reports: running, queued, done, failed, and the last compaction.
    pub fn status(&self) -> CompactionStatus {
        CompactionStatus {
            running: self.running.load(Ordering::SeqCst),
            queued: self.queued.load(Ordering::SeqCst),
            done: self.done.load(Ordering::SeqCst),
            failed: self.failed.load(Ordering::SeqCst),
            last: *self.last.lock(),
        }
    }

    /// Runs one job on the calling thread, keeping the status.
    fn run(&self, storage: &Storage, job: Job) {
        self.queued.fetch_sub(1, Ordering::SeqCst);
        self.running.store(true, Ordering::SeqCst);
        let started = Instant::now();
        tracing::info!(
            "compaction ({}) starts: db {:?}, types {:?}",
            job.reason,
            job.db,
            job.types
        );
        match storage.compact(job.db, job.types.as_deref()) {
            Ok(()) => {
                self.done.fetch_add(1, Ordering::SeqCst);
                tracing::info!("compaction ({}) done", job.reason);
            }
            Err(e) => {
                self.failed.fetch_add(1, Ordering::SeqCst);
                tracing::error!("compaction ({}) failed: {e}", job.reason);
            }
        }
        *self.last.lock() = Some((
            job.reason,
            crate::util::clock::unix_ms() / 1000,
            started.elapsed().as_secs_f64(),
        ));
        self.running.store(false, Ordering::SeqCst);
    }
}

/// A daily window `[start, end)` in local hours, with its free-disk threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CronWindow {
    /// First local hour of the window.
    pub start_hour: u8,
    /// First local hour past the window.
    pub end_hour: u8,
    /// Compact only while less than this share of the disk (percent) is free.
    pub ratio: u8,
}

/// Every `hours` hours, with its free-disk threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    /// Hours between two compactions.
    pub hours: u32,
    /// Compact only while less than this share of the disk (percent) is free.
    pub ratio: u8,
}

fn parse_ratio(text: &str) -> Result<u8, String> {
    match text.trim().parse::<u8>() {
        Ok(r) if r <= 100 => Ok(r),
        _ => Err(format!("ratio '{text}' is not a percentage (0-100)")),
    }
}

/// Parses `compact-cron` (empty: none).
pub fn parse_cron(text: &str) -> Result<Vec<CronWindow>, String> {
    text.split(';')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(|w| {
            let (hours, ratio) = w
                .split_once('/')
                .ok_or_else(|| format!("'{w}' is not HH-HH/ratio"))?;
            let (start, end) = hours
                .split_once('-')
                .ok_or_else(|| format!("'{w}' is not HH-HH/ratio"))?;
            let hour = |h: &str| match h.trim().parse::<u8>() {
                Ok(n) if n <= 23 => Ok(n),
                _ => Err(format!("hour '{h}' in '{w}' is not 00-23")),
            };
            Ok(CronWindow {
                start_hour: hour(start)?,
                end_hour: hour(end)?,
                ratio: parse_ratio(ratio)?,
            })
        })
        .collect()
}

/// Parses `compact-interval` (empty: none).
pub fn parse_interval(text: &str) -> Result<Option<Interval>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let (hours, ratio) = text
        .split_once('/')
        .ok_or_else(|| format!("'{text}' is not hours/ratio"))?;
    let hours = match hours.trim().parse::<u32>() {
        Ok(h) if h > 0 => h,
        _ => {
            return Err(format!(
                "interval '{hours}' is not a positive number of hours"
            ))
        }
    };
    Ok(Some(Interval {
        hours,
        ratio: parse_ratio(ratio)?,
    }))
}

impl CronWindow {
    /// True at local hour `hour` (windows may wrap past midnight).
    fn contains(&self, hour: u8) -> bool {
        if self.start_hour <= self.end_hour {
            (self.start_hour..self.end_hour).contains(&hour)
        } else {
            hour >= self.start_hour || hour < self.end_hour
        }
    }
}

/// Free share of the disk holding `path`, in percent.
fn free_percent(path: &Path) -> Option<u8> {
    crate::util::disk_space::of(path).map(|space| space.free_percent())
}

/// The local hour and day number (for once-a-day windows).
fn local_hour_and_day() -> (u8, i64) {
    // SAFETY: time() with a null pointer only returns the time.
    let now = unsafe { libc::time(std::ptr::null_mut()) };
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: localtime_r writes into our tm.
    unsafe { libc::localtime_r(&now, &mut tm) };
    (
        tm.tm_hour as u8,
        i64::from(tm.tm_year) * 400 + i64::from(tm.tm_yday),
    )
}

/// The compact thread: what it runs compactions on, its queue, and the schedule.
pub struct CompactionScheduler {
    /// The storage compactions run on.
    pub storage: Arc<Storage>,
    /// The queue COMPACT fills and INFO reads.
    pub queue: Arc<CompactionQueue>,
    /// `compact-cron`'s windows.
    pub cron: Vec<CronWindow>,
    /// `compact-interval`, if set.
    pub interval: Option<Interval>,
}

impl CompactionScheduler {
    /// Runs queued compactions and, once a minute, checks the schedule, until `stop` is set.
    pub fn run(self, stop: &StopSignal) {
        let queue = &self.queue;
        let mut last_day_run = None;
        let mut last_interval_run = Instant::now();
        let mut last_check = Instant::now() - Duration::from_secs(60);
        while !stop.is_stopped() {
            if let Ok(job) = queue.rx.recv_timeout(Duration::from_millis(100)) {
                queue.run(&self.storage, job);
                continue;
            }
            if last_check.elapsed() < Duration::from_secs(60) {
                continue;
            }
            last_check = Instant::now();
            let free = free_percent(self.storage.engine().path()).unwrap_or(100);
            let (hour, day) = local_hour_and_day();
            let by_cron = last_day_run != Some(day)
                && self.cron.iter().any(|w| w.contains(hour) && free < w.ratio);
            let by_interval = self.interval.is_some_and(|i| {
                last_interval_run.elapsed() >= Duration::from_secs(u64::from(i.hours) * 3600)
                    && free < i.ratio
            });
            if by_cron || by_interval {
                tracing::info!("scheduled compaction: {free}% of the disk is free");
                if by_cron {
                    last_day_run = Some(day);
                }
                last_interval_run = Instant::now();
                queue.submit(Job {
                    db: None,
                    types: None,
                    reason: if by_cron { "cron" } else { "interval" },
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_windows_parse_and_wrap() {
        let w = parse_cron("03-04/30; 22-02/80").unwrap();
        assert_eq!(w.len(), 2);
        assert_eq!(
            w[0],
            CronWindow {
                start_hour: 3,
                end_hour: 4,
                ratio: 30
            }
        );
        assert!(w[0].contains(3) && !w[0].contains(4));
        assert!(w[1].contains(23) && w[1].contains(1) && !w[1].contains(2));
        assert!(parse_cron("").unwrap().is_empty());
        for bad in ["3-4", "03/30", "25-02/10", "02-03/101", "a-b/c"] {
            assert!(parse_cron(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn intervals_parse() {
        assert_eq!(
            parse_interval("6/60").unwrap(),
            Some(Interval {
                hours: 6,
                ratio: 60
            })
        );
        assert_eq!(parse_interval(" ").unwrap(), None);
        for bad in ["6", "0/10", "x/10", "6/200"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn free_space_of_a_real_directory() {
        let p = free_percent(Path::new("/")).expect("statvfs /");
        assert!(p <= 100);
    }
}
