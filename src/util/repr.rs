//! Byte strings shown the way Redis shows them (`sdscatrepr`): in double quotes, with `\n`,
//! `\r`, `\t`, `\a`, `\b`, `\\`, `\"` and `\xNN` escapes. MONITOR lines and the binlog
//! listing of `pika_tools` both print keys and values this way.

use std::fmt::Write as _;

/// Appends `bytes` in double quotes with Redis' escapes.
pub fn push_quoted(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_quoted_like_redis() {
        let mut s = String::new();
        push_quoted(&mut s, b"a\"b\\c\n\x01 ");
        assert_eq!(s, "\"a\\\"b\\\\c\\n\\x01 \"");
    }
}
