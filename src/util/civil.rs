//! UTC calendar time from Unix time, for names and listings (backup directories, binlog
//! times) without a date-time dependency.

/// A UTC date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CivilTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u64,
    pub minute: u64,
    pub second: u64,
}

/// The UTC calendar time of `secs` seconds after 1970-01-01 (proleptic Gregorian calendar,
/// Howard Hinnant's days-to-civil algorithm).
pub fn from_unix(secs: u64) -> CivilTime {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    CivilTime {
        year: yoe + era * 400 + i64::from(month <= 2),
        month,
        day,
        hour: rem / 3600,
        minute: rem % 3600 / 60,
        second: rem % 60,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        let t = from_unix(951_782_400);
        assert_eq!((t.year, t.month, t.day), (2000, 2, 29));
        let t = from_unix(1_795_000_000 + 3_723);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.second),
            (2026, 11, 18, 12, 8, 43)
        );
        assert_eq!(from_unix(0).year, 1970);
    }
}
