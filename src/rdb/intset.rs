//! Intsets: the encoding of small all-integer sets. Layout: `encoding:u32le` (2, 4 or 8 bytes
//! per member), `length:u32le`, then the members as little-endian signed integers. Members are
//! returned as their decimal text.

use super::cursor::{BlobResult, Cursor};
use super::string::decimal;

/// Every member of the intset in `blob`.
pub(super) fn members(blob: &[u8]) -> BlobResult<Vec<Vec<u8>>> {
    let mut c = Cursor::new(blob);
    let width = c.u32_le().map_err(|_| "intset shorter than its header")?;
    let len = c.u32_le().map_err(|_| "intset shorter than its header")?;
    if !matches!(width, 2 | 4 | 8) {
        return Err(format!("intset with {width}-byte members"));
    }
    let body = (len as usize).checked_mul(width as usize);
    if body != Some(c.remaining()) {
        return Err(format!(
            "intset of {len} {width}-byte members in {} bytes",
            c.remaining()
        ));
    }
    let mut out = Vec::with_capacity(len as usize);
    for _ in 0..len {
        out.push(decimal(match width {
            2 => c.int_le::<2>()?,
            4 => c.int_le::<4>()?,
            _ => c.int_le::<8>()?,
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::members;

    #[test]
    fn each_width() {
        let blob = [2, 0, 0, 0, 2, 0, 0, 0, 0xfb, 0xff, 0x2c, 0x01];
        assert_eq!(
            members(&blob).unwrap(),
            vec![b"-5".to_vec(), b"300".to_vec()]
        );
        let mut blob = vec![8, 0, 0, 0, 1, 0, 0, 0];
        blob.extend_from_slice(&5_000_000_000i64.to_le_bytes());
        assert_eq!(members(&blob).unwrap(), vec![b"5000000000".to_vec()]);
    }

    #[test]
    fn rejects_corruption() {
        assert!(members(&[3, 0, 0, 0, 0, 0, 0, 0]).is_err(), "bad width");
        assert!(
            members(&[2, 0, 0, 0, 2, 0, 0, 0, 1, 0]).is_err(),
            "short body"
        );
        assert!(
            members(&[2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]).is_err(),
            "huge count"
        );
        assert!(members(&[2, 0]).is_err());
    }
}
