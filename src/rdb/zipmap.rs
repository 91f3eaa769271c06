//! Zipmaps: the small-hash encoding of RDB files from Redis 2.4 and earlier. Layout: a count
//! byte (not trusted: it saturates at 254), then `len key len free value <free bytes>` per
//! pair, then `0xFF`. A length is one byte below 254, or `0xFE` and a u32le.

use super::cursor::{BlobResult, Cursor};

const BIGLEN: u8 = 254;
const END: u8 = 255;

/// Every field and value of the zipmap in `blob`.
pub(super) fn pairs(blob: &[u8]) -> BlobResult<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut c = Cursor::new(blob);
    let _count = c.u8()?;
    let mut out = Vec::new();
    loop {
        let at = c.pos();
        let Some(field_len) = length(&mut c)? else {
            break;
        };
        let field = c.take(field_len)?.to_vec();
        let value_len =
            length(&mut c)?.ok_or_else(|| format!("zipmap field at offset {at} has no value"))?;
        let free = c.u8()?;
        let value = c.take(value_len)?.to_vec();
        c.take(usize::from(free))?;
        out.push((field, value));
    }
    if c.remaining() != 0 {
        return Err("zipmap has bytes after its end marker".into());
    }
    Ok(out)
}

/// A length, or `None` at the end marker.
fn length(c: &mut Cursor<'_>) -> BlobResult<Option<usize>> {
    Ok(match c.u8()? {
        END => None,
        BIGLEN => Some(c.u32_le()? as usize),
        n => Some(usize::from(n)),
    })
}

#[cfg(test)]
mod tests {
    use super::pairs;

    #[test]
    fn pairs_with_free_space() {
        let blob = b"\x02\x03foo\x03\x01barX\x05hello\x05\x00world\xff";
        assert_eq!(
            pairs(blob).unwrap(),
            vec![
                (b"foo".to_vec(), b"bar".to_vec()),
                (b"hello".to_vec(), b"world".to_vec())
            ]
        );
    }

    #[test]
    fn rejects_corruption() {
        assert!(pairs(b"\x01\x03foo\xff").is_err(), "field without value");
        assert!(
            pairs(b"\x01\x03foo\x09\x00bar\xff").is_err(),
            "value overrun"
        );
        assert!(pairs(b"\x01\x01a\x01\x00b").is_err(), "no end marker");
    }
}
