//! Which entry leaves a full shard: Redis' eviction policies and the per-entry access data
//! they read (an LRU clock and an LFU counter), after Redis' evict.c.
//!
//! Both counters are kept on every entry, but a hit updates only the one the policy in force
//! reads (as Redis does); switching policy at run time starts from whatever the other one last
//! held, which Redis' OBJECT errors warn about too.

use std::cell::Cell;

/// Redis' `maxmemory-policy` names, in Pika's numbering (`cache-maxmemory-policy 0..7`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Policy {
    VolatileLru = 0,
    AllkeysLru = 1,
    VolatileLfu = 2,
    AllkeysLfu = 3,
    VolatileRandom = 4,
    AllkeysRandom = 5,
    VolatileTtl = 6,
    NoEviction = 7,
}

/// The names the configuration accepts, `name|pika-number` (see `config::table`).
pub const POLICY_NAMES: &[&str] = &[
    "volatile-lru|0",
    "allkeys-lru|1",
    "volatile-lfu|2",
    "allkeys-lfu|3",
    "volatile-random|4",
    "allkeys-random|5",
    "volatile-ttl|6",
    "noeviction|7",
];

const ALL: [Policy; 8] = [
    Policy::VolatileLru,
    Policy::AllkeysLru,
    Policy::VolatileLfu,
    Policy::AllkeysLfu,
    Policy::VolatileRandom,
    Policy::AllkeysRandom,
    Policy::VolatileTtl,
    Policy::NoEviction,
];

impl Policy {
    /// The policy of a configuration value: a Redis name or Pika's number; unknown: the default.
    pub fn parse(text: &str) -> Policy {
        ALL.into_iter()
            .find(|p| {
                let names = POLICY_NAMES[*p as usize];
                names.split('|').any(|n| n.eq_ignore_ascii_case(text))
            })
            .unwrap_or(Policy::AllkeysLru)
    }

    /// Redis' name.
    pub fn name(self) -> &'static str {
        POLICY_NAMES[self as usize]
            .split('|')
            .next()
            .unwrap_or_default()
    }

    pub(super) fn from_u8(v: u8) -> Policy {
        ALL.get(usize::from(v))
            .copied()
            .unwrap_or(Policy::AllkeysLru)
    }

    /// True for the policies reading access frequency (OBJECT FREQ needs one).
    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllkeysLfu | Policy::VolatileLfu)
    }

    /// True when only entries with a deadline may be evicted.
    pub fn volatile_only(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }
}

/// LFU counter of a fresh entry (Redis' `LFU_INIT_VAL`): new keys get a chance to be read
/// before they look colder than everything else.
pub const LFU_INIT_VAL: u8 = 5;

/// The LRU clock: seconds, 24 bits (Redis' resolution and width; wraps after 194 days, which
/// [`idle_ms`] handles as Redis does).
const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;

/// The LRU clock now.
pub fn lru_clock(now_secs: u64) -> u32 {
    (now_secs as u32) & LRU_CLOCK_MAX
}

/// Milliseconds since an entry stamped `lru` was last accessed, at clock `now`.
pub fn idle_ms(lru: u32, now: u32) -> u64 {
    let secs = if now >= lru {
        now - lru
    } else {
        LRU_CLOCK_MAX - lru + now
    };
    u64::from(secs) * 1000
}

/// LFU data of an entry, packed as Redis packs it: minutes of the last decrement (16 bits)
/// above the Morris counter (8 bits).
pub fn lfu_pack(minutes: u16, counter: u8) -> u32 {
    (u32::from(minutes) << 8) | u32::from(counter)
}

/// Minutes clock of the LFU data (16 bits, wrapping).
pub fn lfu_minutes(now_secs: u64) -> u16 {
    (now_secs / 60) as u16
}

/// The counter of `lfu` after its decay: one less per `decay_time` minutes since its last
/// access (0 decay_time: never decays).
pub fn lfu_decayed(lfu: u32, now_min: u16, decay_time: u32) -> u8 {
    let last = (lfu >> 8) as u16;
    let counter = (lfu & 0xff) as u8;
    let elapsed = now_min.wrapping_sub(last);
    let periods = u32::from(elapsed).checked_div(decay_time).unwrap_or(0);
    counter.saturating_sub(periods.min(255) as u8)
}

/// A Morris counter increment: the higher the counter (above the initial value) and the log
/// factor, the less likely an access adds one; it saturates at 255.
pub fn lfu_log_incr(counter: u8, log_factor: u32) -> u8 {
    if counter == u8::MAX {
        return counter;
    }
    let base = f64::from(counter.saturating_sub(LFU_INIT_VAL));
    let p = 1.0 / (base * f64::from(log_factor) + 1.0);
    if unit_random() < p {
        counter + 1
    } else {
        counter
    }
}

/// The LFU data after one access.
pub fn lfu_touch(lfu: u32, now_min: u16, decay_time: u32, log_factor: u32) -> u32 {
    let counter = lfu_decayed(lfu, now_min, decay_time);
    lfu_pack(now_min, lfu_log_incr(counter, log_factor))
}

thread_local! {
    /// Per-thread xorshift state: sampling and the Morris counter need cheap, not strong,
    /// randomness, without a lock or an allocation.
    static RNG: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let t = crate::util::clock::since_epoch().as_nanos() as u64;
    let here = &t as *const u64 as u64;
    (t ^ here.rotate_left(32)) | 1
}

/// A pseudo-random 64-bit number (xorshift64*).
pub fn random_u64() -> u64 {
    RNG.with(|s| {
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

/// A pseudo-random number in [0, 1).
fn unit_random() -> f64 {
    (random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_pika_numbers() {
        for (i, p) in ALL.into_iter().enumerate() {
            assert_eq!(Policy::parse(&i.to_string()), p);
            assert_eq!(Policy::parse(p.name()), p);
            assert_eq!(Policy::from_u8(p as u8), p);
        }
        assert_eq!(Policy::parse("ALLKEYS-LFU"), Policy::AllkeysLfu);
        assert_eq!(Policy::VolatileTtl.name(), "volatile-ttl");
        assert!(Policy::VolatileLfu.is_lfu() && Policy::VolatileLfu.volatile_only());
        assert!(!Policy::NoEviction.volatile_only());
    }

    #[test]
    fn idle_time_survives_the_clock_wrapping() {
        assert_eq!(idle_ms(10, 12), 2000);
        assert_eq!(idle_ms(LRU_CLOCK_MAX - 1, 1), 2000);
    }

    #[test]
    fn morris_counter_grows_logarithmically() {
        let mut c = LFU_INIT_VAL;
        c = lfu_log_incr(c, 10);
        assert_eq!(c, LFU_INIT_VAL + 1, "the first access always counts");
        for _ in 0..100 {
            c = lfu_log_incr(c, 10);
        }
        assert!(c > LFU_INIT_VAL + 1 && c < 40, "{c}");
        assert_eq!(lfu_log_incr(255, 10), 255);
    }

    #[test]
    fn counters_decay_per_period() {
        let lfu = lfu_pack(100, 20);
        assert_eq!(lfu_decayed(lfu, 100, 1), 20);
        assert_eq!(lfu_decayed(lfu, 105, 1), 15);
        assert_eq!(lfu_decayed(lfu, 105, 2), 18);
        assert_eq!(lfu_decayed(lfu, 105, 0), 20);
        assert_eq!(lfu_decayed(lfu, 400, 1), 0);
        // The minutes clock wraps at 16 bits.
        assert_eq!(lfu_decayed(lfu_pack(u16::MAX, 20), 1, 1), 18);
    }
}
