//! Argument parsing shared by commands: strict integers and floats with Redis' error texts,
//! case-insensitive keywords.

use bytes::Bytes;

use crate::cmd::CmdError;
use crate::util::number::{parse_f64, parse_i64};

/// Parses an integer argument (`ERR value is not an integer or out of range`).
pub fn int(arg: &[u8]) -> Result<i64, CmdError> {
    parse_i64(arg).ok_or(CmdError::NotInteger)
}

/// Parses a float argument (`ERR value is not a valid float`).
pub fn float(arg: &[u8]) -> Result<f64, CmdError> {
    parse_f64(arg).ok_or(CmdError::NotFloat)
}

/// True when `arg` equals the keyword `kw`, ignoring ASCII case.
pub fn is(arg: &[u8], kw: &str) -> bool {
    arg.eq_ignore_ascii_case(kw.as_bytes())
}

/// Lower-cased UTF-8 rendering of an argument, for error messages and lookups.
pub fn lower(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).to_ascii_lowercase()
}

/// The argument as text (lossy), for messages.
pub fn text(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

/// Keys as slices, for storage calls that take `&[&[u8]]`.
pub fn key_slices(args: &[Bytes]) -> Vec<&[u8]> {
    args.iter().map(|a| a.as_ref()).collect()
}

/// A relative timeout (EX/PX/EXPIRE ...) turned into an absolute Unix-ms deadline, with
/// Redis' overflow check. `unit_ms` is 1000 for seconds, 1 for milliseconds.
pub fn deadline_from_relative(value: i64, unit_ms: i64, now_ms: u64) -> Option<i64> {
    value.checked_mul(unit_ms)?.checked_add(now_ms as i64)
}

/// An absolute EXAT/PXAT value in milliseconds, with the overflow check.
pub fn deadline_from_absolute(value: i64, unit_ms: i64) -> Option<i64> {
    value.checked_mul(unit_ms)
}

/// The timeout of a blocking command, in seconds with decimals (Redis 7): `None` for 0
/// (wait forever). Errors use Redis' texts.
pub fn timeout(arg: &[u8]) -> Result<Option<std::time::Duration>, CmdError> {
    let secs = parse_f64(arg)
        .filter(|v| !v.is_nan())
        .ok_or_else(|| CmdError::err("timeout is not a float or out of range"))?;
    let ms = (secs * 1000.0).ceil();
    if ms > (i64::MAX / 2) as f64 {
        return Err(CmdError::err("timeout is out of range"));
    }
    if ms < 0.0 {
        return Err(CmdError::err("timeout is negative"));
    }
    Ok((ms > 0.0).then(|| std::time::Duration::from_millis(ms as u64)))
}

/// COUNT and MATCH of HSCAN, SSCAN and ZSCAN, in any order (a MATCH of `*` is no filter).
pub fn scan_options(opts: &[Bytes]) -> Result<(usize, Option<&[u8]>), CmdError> {
    let mut count = 10usize;
    let mut pattern = None;
    let mut i = 0;
    while i < opts.len() {
        let Some(value) = opts.get(i + 1) else {
            return Err(CmdError::Syntax);
        };
        if is(&opts[i], "count") {
            let n = int(value)?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if is(&opts[i], "match") {
            pattern = (value.as_ref() != b"*").then_some(value.as_ref());
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    Ok((count, pattern))
}

/// A SCAN-family cursor parsed like Redis' `strtoul`: an optional sign, then digits (leading
/// zeros allowed); a negative value wraps around as in C.
pub fn cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let invalid = || CmdError::err("invalid cursor");
    let (negative, digits) = match arg.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, arg),
    };
    if digits.is_empty() && !arg.is_empty() {
        return Err(invalid());
    }
    let value = digits
        .iter()
        .try_fold(0u64, |acc, &b| {
            if !b.is_ascii_digit() {
                return None;
            }
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        })
        .ok_or_else(invalid)?;
    Ok(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// A command's arguments from words, for unit tests.
#[cfg(test)]
pub fn argv(words: &[&str]) -> Vec<Bytes> {
    words
        .iter()
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect()
}
