//! RDB length encoding: the top two bits of the first byte choose a 6-bit, 14-bit, 32-bit or
//! 64-bit (big-endian) length, or mark a "special" string encoding (an integer or LZF blob)
//! whose kind is in the low six bits.

use std::io::Read;

use super::error::{RdbError, Result};
use super::input::Input;

/// A decoded length prefix.
pub(super) enum Length {
    Plain(u64),
    /// `11xxxxxx`: the string that follows uses special encoding `xxxxxx`.
    Special(u8),
}

pub(super) fn read_length_or_special<R: Read>(input: &mut Input<R>) -> Result<Length> {
    let at = input.offset();
    let first = input.u8()?;
    Ok(match first >> 6 {
        0 => Length::Plain(u64::from(first & 0x3f)),
        1 => Length::Plain((u64::from(first & 0x3f) << 8) | u64::from(input.u8()?)),
        2 => match first {
            0x80 => Length::Plain(u64::from(u32::from_be_bytes(input.array()?))),
            0x81 => Length::Plain(u64::from_be_bytes(input.array()?)),
            _ => {
                return Err(RdbError::new(
                    at,
                    format!("bad length prefix 0x{first:02x}"),
                ))
            }
        },
        _ => Length::Special(first & 0x3f),
    })
}

/// A length where a special encoding is not allowed (element counts, ids, ...).
pub(super) fn read_length<R: Read>(input: &mut Input<R>) -> Result<u64> {
    let at = input.offset();
    match read_length_or_special(input)? {
        Length::Plain(n) => Ok(n),
        Length::Special(kind) => Err(RdbError::new(
            at,
            format!("expected a length, found a special string encoding ({kind})"),
        )),
    }
}
