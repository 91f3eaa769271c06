//! RDB strings: length-prefixed bytes, or a special encoding — an 8/16/32-bit integer (read
//! back as its decimal text, as Redis does) or an LZF-compressed blob. Also the two ways a
//! sorted-set score is stored outside listpacks.

use std::io::Read;

use super::error::{RdbError, Result};
use super::input::Input;
use super::length::{read_length, read_length_or_special, Length};
use super::lzf;

const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

pub(super) fn read_string<R: Read>(input: &mut Input<R>) -> Result<Vec<u8>> {
    let at = input.offset();
    match read_length_or_special(input)? {
        Length::Plain(n) => input.bytes(n),
        Length::Special(ENC_INT8) => Ok(decimal(i64::from(i8::from_le_bytes(input.array()?)))),
        Length::Special(ENC_INT16) => Ok(decimal(i64::from(i16::from_le_bytes(input.array()?)))),
        Length::Special(ENC_INT32) => Ok(decimal(i64::from(i32::from_le_bytes(input.array()?)))),
        Length::Special(ENC_LZF) => {
            let compressed_len = read_length(input)?;
            let len = read_length(input)?;
            let compressed = input.bytes(compressed_len)?;
            let len = usize::try_from(len)
                .map_err(|_| RdbError::new(at, format!("LZF string of {len} bytes")))?;
            lzf::decompress(&compressed, len).map_err(|e| RdbError::new(at, e))
        }
        Length::Special(kind) => Err(RdbError::new(at, format!("unknown string encoding {kind}"))),
    }
}

/// Reads past a string without keeping (or decompressing) it.
pub(super) fn skip_string<R: Read>(input: &mut Input<R>) -> Result<()> {
    let at = input.offset();
    match read_length_or_special(input)? {
        Length::Plain(n) => input.skip(n),
        Length::Special(ENC_INT8) => input.skip(1),
        Length::Special(ENC_INT16) => input.skip(2),
        Length::Special(ENC_INT32) => input.skip(4),
        Length::Special(ENC_LZF) => {
            let compressed_len = read_length(input)?;
            read_length(input)?;
            input.skip(compressed_len)
        }
        Length::Special(kind) => Err(RdbError::new(at, format!("unknown string encoding {kind}"))),
    }
}

/// An integer as Redis shows it: its decimal text.
pub(super) fn decimal(n: i64) -> Vec<u8> {
    itoa::Buffer::new().format(n).as_bytes().to_vec()
}

/// A score of the old sorted-set type (3): a one-byte length then that much text, with the
/// lengths 253, 254 and 255 standing for NaN, +inf and -inf.
pub(super) fn read_text_double<R: Read>(input: &mut Input<R>) -> Result<f64> {
    let at = input.offset();
    match input.u8()? {
        253 => Ok(f64::NAN),
        254 => Ok(f64::INFINITY),
        255 => Ok(f64::NEG_INFINITY),
        len => {
            let text = input.bytes(u64::from(len))?;
            parse_score(&text).ok_or_else(|| {
                RdbError::new(
                    at,
                    format!("bad score {:?}", text.escape_ascii().to_string()),
                )
            })
        }
    }
}

/// A score of the binary sorted-set type (5): a little-endian IEEE 754 double.
pub(super) fn read_binary_double<R: Read>(input: &mut Input<R>) -> Result<f64> {
    Ok(f64::from_le_bytes(input.array()?))
}

/// A score written as text (`%.17g`, an integer, or `inf`/`-inf`).
pub(super) fn parse_score(text: &[u8]) -> Option<f64> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(bytes: &[u8]) -> Input<&[u8]> {
        Input::new(bytes)
    }

    #[test]
    fn lengths_of_every_width() {
        let mut i = input(&[
            0x05, 0x41, 0x02, 0x80, 0, 1, 0, 0, 0x81, 0, 0, 0, 1, 0, 0, 0, 0,
        ]);
        for want in [5u64, 0x102, 0x1_0000, 1 << 32] {
            assert_eq!(read_length(&mut i).unwrap(), want);
        }
        assert!(read_length(&mut input(&[0x82])).is_err());
        assert!(
            read_length(&mut input(&[0xc0])).is_err(),
            "special where a length is due"
        );
    }

    #[test]
    fn integer_encoded_strings_become_decimal_text() {
        let mut i = input(&[0xc0, 0xf9, 0xc1, 0x39, 0x30, 0xc2, 0xd2, 0x02, 0x96, 0x49]);
        assert_eq!(read_string(&mut i).unwrap(), b"-7");
        assert_eq!(read_string(&mut i).unwrap(), b"12345");
        assert_eq!(read_string(&mut i).unwrap(), b"1234567890");
        assert!(read_string(&mut input(&[0xc4])).is_err());
    }

    #[test]
    fn text_scores() {
        let mut i = input(&[253, 254, 255, 3, b'1', b'.', b'5', 2, b'x', b'y']);
        assert!(read_text_double(&mut i).unwrap().is_nan());
        assert_eq!(read_text_double(&mut i).unwrap(), f64::INFINITY);
        assert_eq!(read_text_double(&mut i).unwrap(), f64::NEG_INFINITY);
        assert_eq!(read_text_double(&mut i).unwrap(), 1.5);
        assert!(read_text_double(&mut i).is_err());
    }

    #[test]
    fn huge_length_on_short_input_is_an_error_not_an_allocation() {
        let mut i = input(&[0x81, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, b'a']);
        assert!(read_string(&mut i).is_err());
        let mut lzf = input(&[
            0xc3, 0x02, 0x81, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, b'a',
        ]);
        assert!(read_string(&mut lzf).is_err());
    }
}
