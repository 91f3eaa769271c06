//! Redis-compatible number parsing and formatting.
//!
//! Redis is deliberately strict about what counts as an integer (so that a
//! string that parses can be re-rendered byte-identically) and follows C's
//! `strtold` for floats. Commands must agree on these rules or clients see
//! different errors than real Redis gives, so they are centralised here.

/// Longest float text accepted; Redis bounds `string2ld` input by a fixed
/// 5 KiB buffer (so at most 5119 bytes there), and a cap keeps hostile
/// inputs cheap to reject.
pub const MAX_FLOAT_LEN: usize = 5000;

/// Parses a signed 64-bit integer with Redis' `string2ll` strictness.
///
/// Accepts an optional `-` followed by digits, with no leading zeros (except
/// `"0"` itself), no `+`, no whitespace and no `"-0"`; overflow is rejected.
/// This strictness guarantees the value formats back to the same bytes,
/// which Redis relies on when it stores strings as integers.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, s),
    };
    let magnitude = parse_strict_digits(digits)?;
    if negative {
        if magnitude == 0 {
            return None;
        }
        // -(2^63) is representable although +2^63 is not.
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Parses an unsigned 64-bit integer with the same strictness as
/// [`parse_i64`] but no sign at all, for arguments that are never negative.
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    parse_strict_digits(s)
}

/// Parses a non-empty run of ASCII digits without redundant leading zeros,
/// the shared core of the strict integer parsers.
fn parse_strict_digits(digits: &[u8]) -> Option<u64> {
    match digits {
        [] => None,
        [b'0'] => Some(0),
        [b'0', ..] => None,
        _ => digits.iter().try_fold(0u64, |acc, &b| {
            if !b.is_ascii_digit() {
                return None;
            }
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        }),
    }
}

/// Parses a float the way Redis' `string2ld` (`strtold` plus checks) does.
///
/// Accepted: optional `+`/`-`, then a decimal number with optional fraction
/// and exponent (`1`, `1.`, `.5`, `1e10`, `2.5E-3`), a C99 hexadecimal float
/// (`0x1A`, `0x1.8p3`, `-0X.8P-1`), or `inf`/`infinity` in any case.
/// Rejected: empty input, surrounding whitespace or any trailing byte, NaN,
/// inputs longer than [`MAX_FLOAT_LEN`], and finite inputs whose value
/// overflows to infinity or underflows to zero (C reports `ERANGE`).
///
/// Values are `f64`, whereas INCRBYFLOAT in Redis uses `long double`:
/// magnitudes between about 1.8e308 and 1.2e4932, and non-zero ones too
/// small to survive as an f64 (below about 2.5e-324), are rejected here but
/// parse there. Rejecting them matches Redis' `strtod`-based parsing (ZADD
/// scores and the like) instead.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s.len() > MAX_FLOAT_LEN {
        return None;
    }
    let (negative, body) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        f64::INFINITY
    } else if body.len() >= 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
        parse_hex_float(&body[2..])?
    } else {
        parse_decimal_float(body)?
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// Parses an unsigned decimal float after validating the `strtod` grammar
/// ourselves (so the standard library's slightly different grammar cannot
/// leak through), then rejects out-of-range results like Redis does.
fn parse_decimal_float(body: &[u8]) -> Option<f64> {
    let mut i = 0;
    let int_digits = count_digits(body, i, |b| b.is_ascii_digit());
    i += int_digits;
    let mut frac_digits = 0;
    if body.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = count_digits(body, i, |b| b.is_ascii_digit());
        i += frac_digits;
    }
    if int_digits + frac_digits == 0 {
        return None;
    }
    let mantissa_end = i;
    if matches!(body.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(body.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_digits = count_digits(body, i, |b| b.is_ascii_digit());
        if exp_digits == 0 {
            return None;
        }
        i += exp_digits;
    }
    if i != body.len() {
        return None;
    }
    // The grammar above only admits ASCII, so this cannot fail.
    let text = std::str::from_utf8(body).ok()?;
    let value: f64 = text.parse().ok()?;
    let nonzero_mantissa = body[..mantissa_end]
        .iter()
        .any(|&b| b.is_ascii_digit() && b != b'0');
    if value.is_infinite() || (value == 0.0 && nonzero_mantissa) {
        return None;
    }
    Some(value)
}

/// Counts how many bytes starting at `from` satisfy `pred`, for scanning
/// digit runs without indexing past the end.
fn count_digits(body: &[u8], from: usize, pred: impl Fn(u8) -> bool) -> usize {
    body.get(from..)
        .map_or(0, |rest| rest.iter().take_while(|&&b| pred(b)).count())
}

/// Parses the part of a C99 hex float after `0x`: hex digits with an optional
/// point, then an optional binary exponent `p[+-]digits`. Correctly rounded
/// (nearest, ties to even) including subnormals.
fn parse_hex_float(body: &[u8]) -> Option<f64> {
    let mut mantissa: u64 = 0;
    let mut sticky = false;
    // value = mantissa * 2^exp2 (before the explicit exponent is applied).
    let mut exp2: i64 = 0;
    let mut digits = 0usize;
    let mut seen_point = false;
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        if b == b'.' && !seen_point {
            seen_point = true;
        } else if let Some(d) = hex_value(b) {
            digits += 1;
            if mantissa >> 60 == 0 {
                mantissa = (mantissa << 4) | u64::from(d);
                if seen_point {
                    exp2 -= 4;
                }
            } else {
                // Out of room: remember only whether anything was dropped.
                sticky |= d != 0;
                if !seen_point {
                    exp2 += 4;
                }
            }
        } else {
            break;
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if matches!(body.get(i), Some(b'p' | b'P')) {
        i += 1;
        let negative = match body.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let n = count_digits(body, i, |b| b.is_ascii_digit());
        if n == 0 {
            return None;
        }
        // Saturate: anything this large is out of range either way.
        let e = body[i..i + n].iter().fold(0i64, |acc, &b| {
            (acc * 10 + i64::from(b - b'0')).min(1 << 40)
        });
        exp2 += if negative { -e } else { e };
        i += n;
    }
    if i != body.len() {
        return None;
    }
    if mantissa == 0 {
        return Some(0.0);
    }
    if sticky {
        // The mantissa holds at least 61 significant bits here, so bit 0 is
        // far below the rounding position and acts as a sticky bit.
        mantissa |= 1;
    }
    assemble_f64(mantissa, exp2)
}

/// Maps an ASCII hex digit to its value.
fn hex_value(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

/// Builds the f64 nearest to `m * 2^exp2` (`m > 0`), or `None` when the
/// result overflows or rounds to zero (the cases C flags with `ERANGE` and
/// Redis rejects).
fn assemble_f64(m: u64, exp2: i64) -> Option<f64> {
    let shift = m.leading_zeros();
    let m = m << shift;
    // Unbiased exponent of the leading 1 bit.
    let top = exp2 - i64::from(shift) + 63;
    if top > 1023 {
        return None;
    }
    // Significant bits representable at this magnitude (53 for normals).
    let keep = if top >= -1022 { 53 } else { top + 1075 };
    let bits = if keep <= 0 {
        // At most half the smallest subnormal: rounds to it only when
        // strictly above the halfway point.
        if keep == 0 && m > 1 << 63 {
            1
        } else {
            return None;
        }
    } else {
        let drop = 64 - keep as u32;
        let mut q = m >> drop;
        let rem = m & ((1u64 << drop) - 1);
        let half = 1u64 << (drop - 1);
        if rem > half || (rem == half && q & 1 == 1) {
            q += 1;
        }
        if keep == 53 {
            let mut top = top;
            if q == 1 << 53 {
                q >>= 1;
                top += 1;
                if top > 1023 {
                    return None;
                }
            }
            // Biased exponent is in 1..=2046 here, so the cast is exact.
            (((top + 1023) as u64) << 52) | (q & ((1 << 52) - 1))
        } else {
            // Subnormal; rounding up into 2^52 yields the smallest normal,
            // whose encoding is exactly 2^52.
            q
        }
    };
    Some(f64::from_bits(bits))
}

/// Formats an INCRBYFLOAT/HINCRBYFLOAT result like Redis' human-readable
/// long-double format (`%.17Lf` with trailing zeros and point stripped).
///
/// Because our values are `f64`, printing 17 fixed decimals would expose
/// binary noise (`10.6` would become `10.59999999999999964`), so this prints
/// the shortest round-trip decimal without exponent, rounded (half away from
/// zero) to at most 17 fractional digits as Redis' format is, so values below
/// 5e-18 print as `0`. Integers carry no `.0`, and negative zero (or a
/// negative value that rounds to zero) prints as `"0"` as in Redis.
/// Redis' own output can differ in the last digits for values of 100 or more
/// (its long double shows noise such as `780.95756999999999998`); an f64
/// cannot reproduce that.
/// Non-finite values print as `inf`/`-inf`/`nan`; callers reject them first.
pub fn format_incrbyfloat(v: f64) -> String {
    if v.is_nan() {
        return "nan".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let mut s = round_fraction(v.to_string(), MAX_FRACTION_DIGITS);
    if s.contains('.') {
        let trimmed = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(trimmed);
    }
    if s == "-0" {
        s = "0".to_string();
    }
    s
}

/// Redis prints INCRBYFLOAT results with `%.17Lf`, i.e. 17 fractional digits.
const MAX_FRACTION_DIGITS: usize = 17;

/// Rounds a plain decimal string (`-?digits(.digits)?`, as f64's `Display`
/// produces) to at most `max` fractional digits, half away from zero.
///
/// Rounding the shortest decimal rather than the binary value keeps what the
/// user typed (`1.115e-15` gives `...112`, as Redis' long double does).
fn round_fraction(s: String, max: usize) -> String {
    let Some(dot) = s.find('.') else {
        return s;
    };
    if s.len() - dot - 1 <= max {
        return s;
    }
    let bytes = s.as_bytes();
    let sign_len = usize::from(bytes[0] == b'-');
    let round_up = bytes[dot + 1 + max] >= b'5';
    // Integer digits followed by the kept fractional digits.
    let mut digits: Vec<u8> = bytes[sign_len..dot]
        .iter()
        .chain(&bytes[dot + 1..dot + 1 + max])
        .copied()
        .collect();
    let mut int_len = dot - sign_len;
    if round_up {
        let mut carry = true;
        for d in digits.iter_mut().rev() {
            if *d == b'9' {
                *d = b'0';
            } else {
                *d += 1;
                carry = false;
                break;
            }
        }
        if carry {
            digits.insert(0, b'1');
            int_len += 1;
        }
    }
    let mut out = String::with_capacity(digits.len() + 2);
    out.push_str(&s[..sign_len]);
    out.extend(digits[..int_len].iter().map(|&d| char::from(d)));
    out.push('.');
    out.extend(digits[int_len..].iter().map(|&d| char::from(d)));
    out
}

/// Appends the decimal form of `v` to `buf` without allocating, for building
/// protocol replies and stored integer strings.
pub fn write_i64(buf: &mut Vec<u8>, v: i64) {
    let mut tmp = itoa::Buffer::new();
    buf.extend_from_slice(tmp.format(v).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tiny deterministic xorshift generator so fuzz failures reproduce.
    struct Rng(u64);

    impl Rng {
        /// Advances the xorshift64 state and returns it.
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        /// Returns up to `max_len` random bytes drawn from `alphabet`.
        fn bytes(&mut self, alphabet: &[u8], max_len: u64) -> Vec<u8> {
            let n = self.next() % (max_len + 1);
            (0..n)
                .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize])
                .collect()
        }
    }

    #[test]
    fn i64_accepts_canonical_forms() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"123"), Some(123));
        assert_eq!(parse_i64(b"-123"), Some(-123));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"10"), Some(10));
    }

    #[test]
    fn i64_rejects_non_canonical_forms() {
        for bad in [
            &b""[..],
            b"-",
            b"+1",
            b"01",
            b"-01",
            b"00",
            b"-0",
            b" 1",
            b"1 ",
            b"1a",
            b"a1",
            b"1.0",
            b"1e3",
            b"--1",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"99999999999999999999999",
            b"18446744073709551616",
            b"1\x002",
            b"\xd9\xa1",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn i64_round_trips() {
        let mut rng = Rng(99);
        for _ in 0..10_000 {
            let v = rng.next() as i64 >> (rng.next() % 64);
            let mut buf = Vec::new();
            write_i64(&mut buf, v);
            assert_eq!(buf, v.to_string().into_bytes());
            assert_eq!(parse_i64(&buf), Some(v));
        }
    }

    #[test]
    fn u64_rules() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"42"), Some(42));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b"-0"), None);
        assert_eq!(parse_u64(b"+1"), None);
        assert_eq!(parse_u64(b"01"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b" 1"), None);
        assert_eq!(parse_u64(b"1 "), None);
    }

    #[test]
    fn f64_decimal_forms() {
        assert_eq!(parse_f64(b"0"), Some(0.0));
        assert_eq!(parse_f64(b"1"), Some(1.0));
        assert_eq!(parse_f64(b"-1.5"), Some(-1.5));
        assert_eq!(parse_f64(b"+1.5"), Some(1.5));
        assert_eq!(parse_f64(b"1."), Some(1.0));
        assert_eq!(parse_f64(b".5"), Some(0.5));
        assert_eq!(parse_f64(b"-.5"), Some(-0.5));
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b"1E3"), Some(1000.0));
        assert_eq!(parse_f64(b"2.5e-3"), Some(0.0025));
        assert_eq!(parse_f64(b"2.5e+3"), Some(2500.0));
        assert_eq!(parse_f64(b"007"), Some(7.0));
        assert_eq!(parse_f64(b"-00001"), Some(-1.0));
        assert_eq!(parse_f64(b"0.1"), Some(0.1));
        assert_eq!(parse_f64(b"3.0e3"), Some(3000.0));
        assert_eq!(parse_f64(b"1.7976931348623157e308"), Some(f64::MAX));
        assert_eq!(parse_f64(b"5e-324"), Some(5e-324));
        let neg_zero = parse_f64(b"-0").unwrap();
        assert!(neg_zero == 0.0 && neg_zero.is_sign_negative());
        assert_eq!(parse_f64(b"0e999999"), Some(0.0));
        assert_eq!(parse_f64(b"0.000e-99999999999999999999"), Some(0.0));
    }

    #[test]
    fn f64_infinity() {
        for s in [
            &b"inf"[..],
            b"+inf",
            b"INF",
            b"Inf",
            b"infinity",
            b"+Infinity",
        ] {
            assert_eq!(parse_f64(s), Some(f64::INFINITY));
        }
        for s in [&b"-inf"[..], b"-INFINITY", b"-iNf"] {
            assert_eq!(parse_f64(s), Some(f64::NEG_INFINITY));
        }
    }

    #[test]
    fn f64_rejections() {
        for bad in [
            &b""[..],
            b" ",
            b" 1",
            b"1 ",
            b"\t1",
            b"1\n",
            b"nan",
            b"NaN",
            b"-nan",
            b"nan(1)",
            b"infin",
            b"infinityx",
            b"+",
            b"-",
            b".",
            b"-.",
            b"e3",
            b"1e",
            b"1e+",
            b"1e-",
            b"1.2.3",
            b"1..2",
            b"++1",
            b"+-1",
            b"1,5",
            b"1_000",
            b"abc",
            b"1\x00",
            b"1\x002",
            b"1e400",
            b"-1e400",
            b"1e-400",
            b"2e-324",
            b"0x",
            b"0x.",
            b"0xg",
            b"0x1p",
            b"0x1p+",
            b"0x1.2.3",
            b"0x1q",
            b"x10",
            b"0 x10",
        ] {
            assert_eq!(parse_f64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn f64_length_limit() {
        let ok = format!("1.{}", "0".repeat(MAX_FLOAT_LEN - 2));
        assert_eq!(parse_f64(ok.as_bytes()), Some(1.0));
        let too_long = format!("1.{}", "0".repeat(MAX_FLOAT_LEN - 1));
        assert_eq!(parse_f64(too_long.as_bytes()), None);
    }

    #[test]
    fn f64_hex_forms() {
        assert_eq!(parse_f64(b"0x10"), Some(16.0));
        assert_eq!(parse_f64(b"0X1a"), Some(26.0));
        assert_eq!(parse_f64(b"-0x1A"), Some(-26.0));
        assert_eq!(parse_f64(b"+0x1"), Some(1.0));
        assert_eq!(parse_f64(b"0x.8"), Some(0.5));
        assert_eq!(parse_f64(b"0x1."), Some(1.0));
        assert_eq!(parse_f64(b"0x1.8p1"), Some(3.0));
        assert_eq!(parse_f64(b"0x1P+3"), Some(8.0));
        assert_eq!(parse_f64(b"0x1p-2"), Some(0.25));
        assert_eq!(parse_f64(b"0x0"), Some(0.0));
        assert_eq!(parse_f64(b"0x0p99999"), Some(0.0));
        assert_eq!(parse_f64(b"0x1.fffffffffffffp1023"), Some(f64::MAX));
        assert_eq!(parse_f64(b"0x1p1024"), None);
        assert_eq!(parse_f64(b"0x1p-1022"), Some(f64::MIN_POSITIVE));
        assert_eq!(parse_f64(b"0x1p-1074"), Some(f64::from_bits(1)));
        // Exactly half the smallest subnormal rounds to even, i.e. zero.
        assert_eq!(parse_f64(b"0x1p-1075"), None);
        assert_eq!(parse_f64(b"0x1.8p-1075"), Some(f64::from_bits(1)));
        assert_eq!(parse_f64(b"0x1.8p-1074"), Some(f64::from_bits(2)));
        assert_eq!(parse_f64(b"0x1p-99999999999999999999"), None);
        // Rounding: 2^53 + 1 ties to even, 2^53 + 3 rounds up.
        assert_eq!(parse_f64(b"0x20000000000001"), Some(9007199254740992.0));
        assert_eq!(parse_f64(b"0x20000000000003"), Some(9007199254740996.0));
        // Digits beyond 64 bits still influence rounding via the sticky bit.
        assert_eq!(
            parse_f64(b"0x100000000000008000000000000000001"),
            Some(f64::from_bits(0x47f0_0000_0000_0001))
        );
        assert_eq!(
            parse_f64(b"0x10000000000000800000000000000000"),
            Some(2f64.powi(124))
        );
        // Round up carrying into the next binade.
        assert_eq!(parse_f64(b"0x1.fffffffffffff8p0"), Some(2.0));
        assert_eq!(parse_f64(b"0x1.fffffffffffff8p1023"), None);
    }

    #[test]
    fn f64_random_bytes_never_panic() {
        let mut rng = Rng(4242);
        let alphabet = b"0123456789abcdefxXpPeE.+-infINF \x00\xff";
        let all: Vec<u8> = (0..=255).collect();
        for _ in 0..50_000 {
            let s = rng.bytes(alphabet, 16);
            let v = parse_f64(&s);
            assert!(!v.is_some_and(f64::is_nan));
            let t = rng.bytes(&all, 16);
            let _ = parse_f64(&t);
            let _ = parse_i64(&t);
            let _ = parse_u64(&t);
        }
    }

    #[test]
    fn f64_decimal_agrees_with_std_when_in_range() {
        let mut rng = Rng(31337);
        for _ in 0..20_000 {
            let s = rng.bytes(b"0123456789.e-", 12);
            let Ok(text) = std::str::from_utf8(&s) else {
                continue;
            };
            if let Some(v) = parse_f64(&s) {
                assert_eq!(text.parse::<f64>().ok(), Some(v), "{text}");
            }
        }
    }

    #[test]
    fn incrbyfloat_formatting() {
        assert_eq!(format_incrbyfloat(10.5), "10.5");
        assert_eq!(format_incrbyfloat(10.5 + 0.1), "10.6");
        assert_eq!(format_incrbyfloat(3.0), "3");
        assert_eq!(format_incrbyfloat(3000.0), "3000");
        assert_eq!(format_incrbyfloat(-2.0), "-2");
        assert_eq!(format_incrbyfloat(0.0), "0");
        assert_eq!(format_incrbyfloat(-0.0), "0");
        assert_eq!(format_incrbyfloat(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_incrbyfloat(1e20), "100000000000000000000");
        assert_eq!(format_incrbyfloat(1.5e-7), "0.00000015");
        // More than 17 decimals are rounded away, as with %.17Lf.
        assert_eq!(format_incrbyfloat(1e-18), "0");
        assert_eq!(format_incrbyfloat(-1e-18), "0");
        assert_eq!(format_incrbyfloat(5e-17), "0.00000000000000005");
        assert_eq!(
            format_incrbyfloat(0.0012345678901234567),
            "0.00123456789012346"
        );
        assert_eq!(format_incrbyfloat(1.115e-15), "0.00000000000000112");
        assert_eq!(format_incrbyfloat(-1.115e-15), "-0.00000000000000112");
        let below_milli = f64::from_bits(0.001f64.to_bits() - 1);
        assert_eq!(below_milli.to_string(), "0.0009999999999999998");
        assert_eq!(format_incrbyfloat(below_milli), "0.001");
        assert_eq!(format_incrbyfloat(-below_milli), "-0.001");
        assert_eq!(
            round_fraction("0.999999999999999999".to_string(), 17),
            "1.00000000000000000"
        );
        assert_eq!(round_fraction("-9.99".to_string(), 1), "-10.0");
        assert_eq!(round_fraction("12".to_string(), 1), "12");
        assert_eq!(format_incrbyfloat(5e-18), "0.00000000000000001");
        assert_eq!(format_incrbyfloat(-4e-18), "0");
        assert_eq!(format_incrbyfloat(f64::INFINITY), "inf");
        assert_eq!(format_incrbyfloat(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_incrbyfloat(f64::NAN), "nan");
        assert!(!format_incrbyfloat(f64::MAX).contains(['e', '.']));
    }

    #[test]
    fn incrbyfloat_formatting_round_trips() {
        let mut rng = Rng(2024);
        for _ in 0..10_000 {
            let v = f64::from_bits(rng.next());
            if !v.is_finite() || v.abs() < 0.1 {
                continue;
            }
            let s = format_incrbyfloat(v);
            assert!(!s.contains('e'), "{s}");
            assert_eq!(parse_f64(s.as_bytes()), Some(v), "{s}");
        }
    }

    #[test]
    fn write_i64_appends() {
        let mut buf = b"x=".to_vec();
        write_i64(&mut buf, -42);
        write_i64(&mut buf, i64::MIN);
        assert_eq!(buf, b"x=-42-9223372036854775808");
    }
}
