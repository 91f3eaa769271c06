//! Ziplists: the compact list encoding of RDB versions before 10 (lists, small hashes and
//! sorted sets, and quicklist nodes). Layout: `zlbytes:u32le zltail:u32le zllen:u16le`, the
//! entries, then `0xFF`. Each entry is `prevlen` (1 byte, or `0xFE` + u32le), an encoding
//! header and the data; integers are returned as their decimal text.

use super::cursor::{entries_until_end, BlobResult, Cursor};
use super::string::decimal;

const HEADER: usize = 10;

/// Every entry of the ziplist in `blob`, in order.
pub(super) fn entries(blob: &[u8]) -> BlobResult<Vec<Vec<u8>>> {
    if blob.len() <= HEADER {
        return Err(format!(
            "ziplist of {} bytes is shorter than its header",
            blob.len()
        ));
    }
    let mut c = Cursor::new(blob);
    let total = c.u32_le()?;
    let _tail = c.u32_le()?;
    let count = c.u16_le()?;
    if total as usize != blob.len() {
        return Err(format!(
            "ziplist header says {total} bytes, the blob has {}",
            blob.len()
        ));
    }
    entries_until_end(&mut c, "ziplist", count, entry)
}

fn entry(c: &mut Cursor<'_>) -> BlobResult<Vec<u8>> {
    // The previous entry's length, only needed for walking backwards.
    if c.u8()? == 0xfe {
        c.take(4)?;
    }
    let enc = c.u8()?;
    let value = match enc >> 6 {
        0 => c.take(usize::from(enc & 0x3f))?.to_vec(),
        1 => {
            let len = (usize::from(enc & 0x3f) << 8) | usize::from(c.u8()?);
            c.take(len)?.to_vec()
        }
        2 => {
            if enc != 0x80 {
                return Err(format!("bad string encoding 0x{enc:02x}"));
            }
            let len = u32::from_be_bytes(c.array()?);
            c.take(len as usize)?.to_vec()
        }
        _ => decimal(match enc {
            0xc0 => c.int_le::<2>()?,
            0xd0 => c.int_le::<4>()?,
            0xe0 => c.int_le::<8>()?,
            0xf0 => c.int_le::<3>()?,
            0xfe => c.int_le::<1>()?,
            // 1111xxxx: the value xxxx - 1 (0 to 12) is in the header itself.
            0xf1..=0xfd => i64::from(enc & 0x0f) - 1,
            _ => return Err(format!("bad integer encoding 0x{enc:02x}")),
        }),
    };
    Ok(value)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A ziplist of `entries` (each an already-encoded `encoding + data`), with a one-byte
    /// prevlen in front of each.
    pub(in crate::rdb) fn build(entries: &[&[u8]]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev = 0usize;
        for e in entries {
            body.push(prev as u8);
            body.extend_from_slice(e);
            prev = 1 + e.len();
        }
        let total = HEADER + body.len() + 1;
        let mut out = Vec::new();
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&body);
        out.push(super::super::cursor::END_MARKER);
        out
    }

    #[test]
    fn every_encoding() {
        let long = vec![b'x'; 100];
        let mut enc14 = vec![0x40, 100];
        enc14.extend_from_slice(&long);
        let mut enc32 = vec![0x80, 0, 0, 0, 3];
        enc32.extend_from_slice(b"abc");
        let blob = build(&[
            b"\x02hi",
            &enc14,
            &enc32,
            b"\xc0\x39\x30",
            b"\xd0\x2e\xfd\x69\xb6",
            b"\xe0\x00\x00\x00\x00\x01\x00\x00\x80",
            b"\xf0\x00\x00\x80",
            b"\xfe\x9c",
            b"\xf1",
            b"\xfd",
        ]);
        let got = entries(&blob).unwrap();
        let want: Vec<Vec<u8>> = vec![
            b"hi".to_vec(),
            long,
            b"abc".to_vec(),
            b"12345".to_vec(),
            b"-1234567890".to_vec(),
            b"-9223372032559808512".to_vec(),
            b"-8388608".to_vec(),
            b"-100".to_vec(),
            b"0".to_vec(),
            b"12".to_vec(),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn rejects_corruption() {
        let good = build(&[b"\x02hi"]);
        assert!(entries(&good[..good.len() - 1]).is_err(), "size mismatch");
        let mut bad_count = good.clone();
        bad_count[8] = 2;
        assert!(entries(&bad_count).is_err());
        let mut overrun = good.clone();
        overrun[11] = 0x3f;
        assert!(entries(&overrun).is_err());
        assert!(entries(&[1, 2]).is_err());
    }
}
