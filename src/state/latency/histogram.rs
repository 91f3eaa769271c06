//! A fixed log-linear histogram of durations in nanoseconds: every power of two is split into
//! [`SUB`] equal buckets, so a recorded value is known within 1/32 (~3%) of itself — the
//! precision of the percentiles INFO latencystats prints — at the cost of one index
//! computation (a leading-zero count and two shifts) per value.
//!
//! Bucket `i < 2*SUB` holds exactly the value `i`; above that, group `g = i / SUB` holds
//! `[m << (g-1), (m+1) << (g-1))` with `m = SUB + i % SUB`. Values of 2^[`MAX_EXP`] ns (~68 s)
//! and more share the last bucket.

/// log2 of the sub-buckets per power of two.
const SUB_BITS: u32 = 5;
/// Sub-buckets per power of two.
const SUB: usize = 1 << SUB_BITS;
/// Exponent of the first value that no longer gets its own bucket.
const MAX_EXP: u32 = 36;
/// Number of buckets.
pub const BUCKETS: usize = (MAX_EXP - SUB_BITS + 1) as usize * SUB;

/// The bucket of `ns`.
pub fn bucket_of(ns: u64) -> usize {
    if ns < (2 * SUB) as u64 {
        return ns as usize;
    }
    let exp = 63 - ns.leading_zeros();
    if exp >= MAX_EXP {
        return BUCKETS - 1;
    }
    let shift = exp - SUB_BITS;
    let mantissa = (ns >> shift) as usize; // in [SUB, 2*SUB)
    (shift as usize + 1) * SUB + (mantissa - SUB)
}

/// The largest value bucket `i` holds (HdrHistogram's "highest equivalent value").
pub fn bucket_high(i: usize) -> u64 {
    let group = i / SUB;
    if group <= 1 {
        return i as u64;
    }
    let shift = (group - 1) as u32;
    let low = ((SUB + i % SUB) as u64) << shift;
    low + (1u64 << shift) - 1
}

/// Counts per bucket, merged from every thread: what the readers compute with.
#[derive(Clone)]
pub struct Snapshot {
    pub counts: Vec<u64>,
}

impl Snapshot {
    /// An empty snapshot.
    pub fn empty() -> Snapshot {
        Snapshot {
            counts: vec![0; BUCKETS],
        }
    }

    /// Number of recorded values.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The value at `percentile` (0..=100): the highest value of the bucket where the
    /// cumulative count first reaches that share of the total; 0 when empty.
    pub fn value_at_percentile(&self, percentile: f64) -> u64 {
        let total = self.total();
        if total == 0 {
            return 0;
        }
        let wanted = ((percentile.clamp(0.0, 100.0) / 100.0) * total as f64).ceil() as u64;
        let wanted = wanted.max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= wanted {
                return bucket_high(i);
            }
        }
        bucket_high(BUCKETS - 1)
    }

    /// Redis' `histogram_usec` of LATENCY HISTOGRAM: cumulative counts at power-of-two steps
    /// from 1024 ns, keyed by the step's highest value in microseconds, listing only the steps
    /// where values were added.
    pub fn power_of_two_usec(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut cumulative = 0;
        let mut step_limit: u64 = 1024;
        let mut added = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            let high = bucket_high(i);
            while high >= step_limit {
                if added > 0 {
                    out.push((step_key_usec(step_limit), cumulative));
                    added = 0;
                }
                step_limit = step_limit.saturating_mul(2);
            }
            cumulative += c;
            added += c;
        }
        if added > 0 {
            out.push((step_key_usec(step_limit), cumulative));
        }
        out
    }
}

/// The key Redis prints for the power-of-two step ending at `limit` ns: the highest value
/// equivalent to it at two significant digits, in whole microseconds (1, 2, 4, 8, 16, 33...).
fn step_key_usec(limit: u64) -> u64 {
    let width = (limit >> 7).max(1);
    (limit + width - 1) / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_values_in_order() {
        let mut last = 0;
        for v in [0u64, 1, 63, 64, 65, 100, 1023, 1024, 5000, 1 << 20, 1 << 35] {
            let b = bucket_of(v);
            assert!(b >= last, "{v}");
            assert!(
                bucket_high(b) >= v,
                "{v} in bucket {b} high {}",
                bucket_high(b)
            );
            if b > 0 {
                assert!(bucket_high(b - 1) < v, "{v}");
            }
            last = b;
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn precision_is_within_one_thirty_second() {
        for v in [100u64, 777, 5023, 123_456, 9_999_999] {
            let high = bucket_high(bucket_of(v));
            assert!((high - v) as f64 <= v as f64 / 32.0, "{v} -> {high}");
        }
    }

    #[test]
    fn percentiles_pick_the_bucket_reaching_the_share() {
        let mut s = Snapshot::empty();
        for v in 1..=100u64 {
            s.counts[bucket_of(v * 1000)] += 1;
        }
        let p50 = s.value_at_percentile(50.0);
        assert!((49_000..=52_000).contains(&p50), "{p50}");
        let p99 = s.value_at_percentile(99.0);
        assert!((98_000..=101_000).contains(&p99), "{p99}");
    }

    #[test]
    fn power_of_two_steps_are_cumulative() {
        let mut s = Snapshot::empty();
        s.counts[bucket_of(500)] += 1; // first step (<= 1 us)
        s.counts[bucket_of(5000)] += 2; // 4096..8191 -> key 8
        let steps = s.power_of_two_usec();
        assert_eq!(steps, vec![(1, 1), (8, 3)]);
    }
}
