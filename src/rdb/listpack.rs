//! Listpacks: the compact encoding of RDB version 10 and later (small hashes, sorted sets and
//! sets, and list quicklist nodes). Layout: `total:u32le count:u16le`, the entries, then `0xFF`.
//! Each entry is an encoding header, the data, and a "backlen" (the entry's size in 1-5 bytes,
//! for walking backwards) that is checked here as a guard against corruption. Integers are
//! returned as their decimal text. [`Builder`] writes them (for DUMP payloads of streams).

use super::cursor::{entries_until_end, BlobResult, Cursor};
use super::string::decimal;

const HEADER: usize = 6;

/// Every entry of the listpack in `blob`, in order.
pub(super) fn entries(blob: &[u8]) -> BlobResult<Vec<Vec<u8>>> {
    if blob.len() <= HEADER {
        return Err(format!(
            "listpack of {} bytes is shorter than its header",
            blob.len()
        ));
    }
    let mut c = Cursor::new(blob);
    let total = c.u32_le()?;
    let count = c.u16_le()?;
    if total as usize != blob.len() {
        return Err(format!(
            "listpack header says {total} bytes, the blob has {}",
            blob.len()
        ));
    }
    entries_until_end(&mut c, "listpack", count, entry)
}

fn entry(c: &mut Cursor<'_>) -> BlobResult<Vec<u8>> {
    let start = c.pos();
    let enc = c.u8()?;
    let value = if enc & 0x80 == 0 {
        // 0xxxxxxx: a 7-bit unsigned integer.
        decimal(i64::from(enc))
    } else if enc & 0xc0 == 0x80 {
        // 10xxxxxx: a string of up to 63 bytes.
        c.take(usize::from(enc & 0x3f))?.to_vec()
    } else if enc & 0xe0 == 0xc0 {
        // 110xxxxx yyyyyyyy: a 13-bit signed integer.
        let raw = (i64::from(enc & 0x1f) << 8) | i64::from(c.u8()?);
        decimal(if raw >= 1 << 12 { raw - (1 << 13) } else { raw })
    } else if enc & 0xf0 == 0xe0 {
        // 1110xxxx yyyyyyyy: a string of up to 4095 bytes.
        let len = (usize::from(enc & 0x0f) << 8) | usize::from(c.u8()?);
        c.take(len)?.to_vec()
    } else {
        match enc {
            0xf0 => {
                let len = c.u32_le()?;
                c.take(len as usize)?.to_vec()
            }
            0xf1 => decimal(c.int_le::<2>()?),
            0xf2 => decimal(c.int_le::<3>()?),
            0xf3 => decimal(c.int_le::<4>()?),
            0xf4 => decimal(c.int_le::<8>()?),
            _ => return Err(format!("bad encoding 0x{enc:02x}")),
        }
    };
    let size = c.pos() - start;
    let backlen = c.take(backlen_size(size))?;
    let stated = backlen
        .iter()
        .fold(0usize, |acc, b| (acc << 7) | usize::from(b & 0x7f));
    if stated != size {
        return Err(format!("backlen says {stated} bytes, the entry has {size}"));
    }
    Ok(value)
}

/// How many bytes the backlen of an entry of `size` bytes takes.
fn backlen_size(size: usize) -> usize {
    match size {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// The backlen bytes for an entry of `size` bytes: seven bits a byte, most significant
/// first, every byte but the first flagged, so it reads backwards from the entry's end.
fn backlen(size: usize) -> impl Iterator<Item = u8> {
    let n = backlen_size(size);
    (0..n).map(move |i| {
        let group = ((size >> (7 * (n - 1 - i))) & 0x7f) as u8;
        if i == 0 {
            group
        } else {
            group | 0x80
        }
    })
}

/// Writes a listpack element by element, choosing the smallest encoding as Redis does
/// (strings that are canonical integers are stored as integers).
#[derive(Default)]
pub(super) struct Builder {
    body: Vec<u8>,
    count: usize,
}

impl Builder {
    /// Bytes the finished listpack would take.
    pub(super) fn len(&self) -> usize {
        HEADER + self.body.len() + 1
    }

    pub(super) fn int(&mut self, v: i64) {
        let start = self.body.len();
        let b = &mut self.body;
        if (0..=127).contains(&v) {
            b.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u16) & 0x1fff;
            b.push(0xc0 | (u >> 8) as u8);
            b.push(u as u8);
        } else if i16::try_from(v).is_ok() {
            b.push(0xf1);
            b.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (-(1 << 23)..(1 << 23)).contains(&v) {
            b.push(0xf2);
            b.extend_from_slice(&v.to_le_bytes()[..3]);
        } else if i32::try_from(v).is_ok() {
            b.push(0xf3);
            b.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            b.push(0xf4);
            b.extend_from_slice(&v.to_le_bytes());
        }
        self.close(start);
    }

    pub(super) fn string(&mut self, s: &[u8]) {
        if let Some(v) = canonical_int(s) {
            return self.int(v);
        }
        let start = self.body.len();
        let b = &mut self.body;
        if s.len() < 64 {
            b.push(0x80 | s.len() as u8);
        } else if s.len() < 4096 {
            b.push(0xe0 | (s.len() >> 8) as u8);
            b.push(s.len() as u8);
        } else {
            b.push(0xf0);
            b.extend_from_slice(&(s.len() as u32).to_le_bytes());
        }
        b.extend_from_slice(s);
        self.close(start);
    }

    fn close(&mut self, start: usize) {
        let size = self.body.len() - start;
        self.body.extend(backlen(size));
        self.count += 1;
    }

    pub(super) fn finish(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        out.extend_from_slice(&(self.len() as u32).to_le_bytes());
        out.extend_from_slice(&(self.count.min(usize::from(u16::MAX)) as u16).to_le_bytes());
        out.extend_from_slice(&self.body);
        out.push(super::cursor::END_MARKER);
        out
    }
}

/// `s` as an integer if it is exactly an integer's decimal text (no sign "+", no leading
/// zeros, no "-0"), which is when Redis stores it as one.
fn canonical_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let v: i64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    (super::string::decimal(v) == s).then_some(v)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A listpack of `entries` (each an already-encoded `encoding + data`).
    pub(in crate::rdb) fn build(entries: &[Vec<u8>]) -> Vec<u8> {
        let mut body = Vec::new();
        for e in entries {
            body.extend_from_slice(e);
            body.extend(backlen(e.len()));
        }
        let mut out = Vec::new();
        out.extend_from_slice(&((HEADER + body.len() + 1) as u32).to_le_bytes());
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&body);
        out.push(super::super::cursor::END_MARKER);
        out
    }

    /// A listpack entry holding `s` as a string.
    pub(in crate::rdb) fn string_entry(s: &[u8]) -> Vec<u8> {
        let mut e = if s.len() < 64 {
            vec![0x80 | s.len() as u8]
        } else if s.len() < 4096 {
            vec![0xe0 | (s.len() >> 8) as u8, s.len() as u8]
        } else {
            let mut e = vec![0xf0];
            e.extend_from_slice(&(s.len() as u32).to_le_bytes());
            e
        };
        e.extend_from_slice(s);
        e
    }

    #[test]
    fn every_encoding() {
        let mid = vec![b'm'; 200];
        let big = vec![b'b'; 20000];
        let blob = build(&[
            vec![5],
            vec![0xdf, 0x9c], // 13-bit: 0x1f9c - 0x2000 = -100
            vec![0xcf, 0xa0], // 13-bit: 4000
            string_entry(b"hi"),
            string_entry(&mid),
            string_entry(&big),
            vec![0xf1, 0x30, 0x75],
            vec![0xf2, 0x00, 0x12, 0x7a],
            vec![0xf3, 0x00, 0x94, 0x35, 0x77],
            vec![0xf4, 0x00, 0x70, 0x32, 0x86, 0xd0, 0xf7, 0xff, 0xff],
        ]);
        let got = entries(&blob).unwrap();
        let want: Vec<Vec<u8>> = vec![
            b"5".to_vec(),
            b"-100".to_vec(),
            b"4000".to_vec(),
            b"hi".to_vec(),
            mid,
            big,
            b"30000".to_vec(),
            b"8000000".to_vec(),
            b"2000000000".to_vec(),
            b"-9000000000000".to_vec(),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn builder_round_trips_every_width() {
        let mut b = Builder::default();
        let ints = [
            0i64,
            127,
            128,
            -1,
            -4096,
            4095,
            4096,
            -32768,
            32767,
            -(1 << 23),
            (1 << 23) - 1,
            1 << 23,
            i64::from(i32::MIN),
            i64::from(i32::MAX) + 1,
            i64::MIN,
            i64::MAX,
        ];
        ints.iter().for_each(|&v| b.int(v));
        let strings: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"-0".to_vec(),
            b"007".to_vec(),
            b"+5".to_vec(),
            b"42".to_vec(),
            vec![b'a'; 63],
            vec![b'b'; 64],
            vec![b'c'; 4095],
            vec![b'd'; 4096],
            vec![b'e'; 20000],
        ];
        strings.iter().for_each(|s| b.string(s));
        let len = b.len();
        let blob = b.finish();
        assert_eq!(blob.len(), len);
        let mut want: Vec<Vec<u8>> = ints.iter().map(|v| v.to_string().into_bytes()).collect();
        want.extend(strings);
        assert_eq!(entries(&blob).unwrap(), want);
    }

    #[test]
    fn rejects_corruption() {
        let good = build(&[string_entry(b"hi")]);
        assert!(entries(&good[..good.len() - 1]).is_err(), "size mismatch");
        let mut bad_backlen = good.clone();
        bad_backlen[9] = 9;
        assert!(entries(&bad_backlen).is_err());
        let mut bad_count = good.clone();
        bad_count[4] = 3;
        assert!(entries(&bad_count).is_err());
        let mut bad_enc = good;
        bad_enc[6] = 0xf5;
        assert!(entries(&bad_enc).is_err());
    }
}
