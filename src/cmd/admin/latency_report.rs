//! The text of LATENCY GRAPH (an ASCII chart of one event's spikes) and LATENCY DOCTOR (a
//! short analysis of every event, with advice).

use std::fmt::Write as _;

use crate::state::latency::events::EventSeries;

/// Width of the chart, in samples per block of rows.
const GRAPH_COLUMNS: usize = 80;
/// Height of the chart, in text rows; each row draws three levels (`_`, `o`, `#`).
const GRAPH_ROWS: usize = 4;
/// The levels a row can show, lowest first; a column under a higher level is filled with `|`.
const LEVELS: [u8; 3] = [b'_', b'o', b'#'];

/// LATENCY GRAPH's text: a title line, a rule, the chart, and under each column the age of
/// its sample (`5s`, `3m`, `2h`, `1d`), written downwards.
pub fn graph(name: &str, series: &EventSeries, now: u64) -> String {
    let values: Vec<u64> = series.samples.iter().map(|s| s.latency_ms).collect();
    let low = values.iter().copied().min().unwrap_or(0);
    let high = values.iter().copied().max().unwrap_or(0);
    let mut out = format!(
        "{name} - high {high} ms, low {low} ms (all time high {} ms)\n",
        series.max_ms
    );
    out.push_str(&"-".repeat(80));
    out.push('\n');
    let labels: Vec<String> = series
        .samples
        .iter()
        .map(|s| age_label(now.saturating_sub(s.time)))
        .collect();
    for (block, chunk) in values.chunks(GRAPH_COLUMNS).enumerate() {
        if block > 0 {
            out.push('\n');
        }
        let first = block * GRAPH_COLUMNS;
        let chunk_labels = labels.get(first..first + chunk.len()).unwrap_or(&[]);
        render_block(&mut out, chunk, chunk_labels, low, high);
    }
    out
}

/// How long ago, in the largest unit that fits.
fn age_label(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// Draws the chart rows of one block of columns, a blank line, then the labels downwards.
fn render_block(out: &mut String, values: &[u64], labels: &[String], low: u64, high: u64) {
    let levels = LEVELS.len() * GRAPH_ROWS;
    let span = (high - low).max(1) as f64;
    // The level (0..levels) of each column, on a linear scale from the lowest sample.
    let level: Vec<usize> = values
        .iter()
        .map(|&v| ((((v - low) as f64) * levels as f64 / span) as usize).min(levels - 1))
        .collect();
    for row in 0..GRAPH_ROWS {
        // Levels this row draws start here; anything above is drawn by higher rows.
        let base = (GRAPH_ROWS - 1 - row) * LEVELS.len();
        let line: String = level
            .iter()
            .map(|&l| match l.checked_sub(base) {
                Some(i) if i < LEVELS.len() => LEVELS[i] as char,
                Some(_) => '|',
                None => ' ',
            })
            .collect();
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "{}", " ".repeat(values.len()));
    let tallest = labels.iter().map(String::len).max().unwrap_or(0);
    for i in 0..tallest {
        let line: String = labels
            .iter()
            .map(|l| l.as_bytes().get(i).map_or(' ', |&b| b as char))
            .collect();
        let _ = writeln!(out, "{line}");
    }
}

/// LATENCY DOCTOR's text.
pub fn doctor(
    events: &[(String, EventSeries)],
    threshold_ms: i64,
    slowlog_threshold_us: i64,
    now: u64,
) -> String {
    let recorded: Vec<&(String, EventSeries)> = events
        .iter()
        .filter(|(_, s)| !s.samples.is_empty())
        .collect();
    if recorded.is_empty() {
        let mut out = String::from(
            "Dave, no latency spike was observed during the lifetime of this server, not in \
             the slightest bit. I honestly think you ought to sit down calmly, take a stress \
             pill, and think things over.\n",
        );
        if threshold_ms <= 0 {
            out.push_str(
                "\nThe latency monitor is off: enable it with CONFIG SET \
                 latency-monitor-threshold <milliseconds>.\n",
            );
        }
        return out;
    }
    let mut out = String::from(
        "Dave, I have observed latency spikes in this server. You don't mind talking about \
         it, do you Dave?\n\n",
    );
    let mut slow_commands = false;
    let mut expiry = false;
    let mut wal = false;
    for (n, (name, series)) in recorded.iter().enumerate() {
        let count = series.samples.len() as u64;
        let sum: u64 = series.samples.iter().map(|s| s.latency_ms).sum();
        let avg = sum / count;
        let deviation = series
            .samples
            .iter()
            .map(|s| s.latency_ms.abs_diff(avg))
            .sum::<u64>()
            / count;
        let oldest = series.samples.front().map_or(now, |s| s.time);
        let period = now.saturating_sub(oldest) as f64 / count as f64;
        let _ = writeln!(
            out,
            "{}. {name}: {count} latency spikes (average {avg}ms, mean deviation \
             {deviation}ms, period {period:.2} sec). Worst all time event {}ms.",
            n + 1,
            series.max_ms
        );
        slow_commands |= name == "command" || name == "fast-command";
        expiry |= name.starts_with("expire");
        wal |= name.starts_with("aof-");
    }
    out.push_str("\nI have a few advices for you:\n\n");
    if slow_commands {
        if slowlog_threshold_us < 0 || slowlog_threshold_us as u64 > threshold_ms as u64 * 1000 {
            let _ = writeln!(
                out,
                "- The slow log records commands slower than {slowlog_threshold_us} \
                 microseconds, more than the latency monitor's threshold: set \
                 slowlog-log-slower-than to {} to see the commands behind these spikes.",
                threshold_ms.max(0) * 1000
            );
        }
        out.push_str(
            "- Check the slow log (SLOWLOG GET) to find which commands are slow. Commands \
             reading large ranges (LRANGE, ZRANGE, SMEMBERS, HGETALL, KEYS) cost in \
             proportion to what they return; prefer SCAN-family iteration and smaller \
             ranges.\n",
        );
        out.push_str(
            "- A read that misses the block cache goes to disk: a larger block-cache, or \
             faster storage, shortens those reads.\n",
        );
    }
    if wal {
        out.push_str(
            "- Replies wait for the write-ahead log: under binlog-fsync always every round \
             waits for an fsync; everysec fsyncs in the background instead. A slow or busy \
             disk (check its utilisation) delays every write.\n",
        );
    }
    if expiry {
        out.push_str(
            "- Expiring many keys at the same time makes the expirer's cycles long: spread \
             the deadlines of keys set together (add a random part to the TTL).\n",
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::latency::events::Sample;

    fn series(values: &[(u64, u64)]) -> EventSeries {
        EventSeries {
            samples: values
                .iter()
                .map(|&(time, latency_ms)| Sample { time, latency_ms })
                .collect(),
            max_ms: values.iter().map(|v| v.1).max().unwrap_or(0),
        }
    }

    #[test]
    fn graph_draws_columns_and_ages() {
        let s = series(&[(100, 200), (101, 300), (103, 150)]);
        let text = graph("command", &s, 104);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "command - high 300 ms, low 150 ms (all time high 300 ms)"
        );
        assert_eq!(
            lines[2..],
            [" # ", " | ", "o| ", "||_", "   ", "431", "sss"]
        );
    }

    #[test]
    fn doctor_without_spikes_says_so() {
        assert!(doctor(&[], 0, 10000, 0).contains("no latency spike"));
    }

    #[test]
    fn doctor_lists_every_event() {
        let events = vec![("command".to_string(), series(&[(1, 200), (2, 400)]))];
        let text = doctor(&events, 100, 200_000, 3);
        assert!(text.contains("1. command: 2 latency spikes (average 300ms"));
        assert!(text.contains("slowlog-log-slower-than to 100000"));
    }
}
