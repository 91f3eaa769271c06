//! Bounds-checked reading of an in-memory blob (a ziplist, listpack, intset or zipmap that
//! the RDB file stores as one string), so that their decoders never index past the end.

pub(super) type BlobResult<T> = std::result::Result<T, String>;

pub(super) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    pub(super) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(super) fn peek(&self) -> BlobResult<u8> {
        self.buf
            .get(self.pos)
            .copied()
            .ok_or_else(|| format!("unexpected end at offset {}", self.pos))
    }

    pub(super) fn take(&mut self, n: usize) -> BlobResult<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.buf.len())
            .ok_or_else(|| {
                format!(
                    "{n} bytes wanted at offset {} of a {}-byte blob",
                    self.pos,
                    self.buf.len()
                )
            })?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    pub(super) fn array<const N: usize>(&mut self) -> BlobResult<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(super) fn u8(&mut self) -> BlobResult<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub(super) fn u16_le(&mut self) -> BlobResult<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub(super) fn u32_le(&mut self) -> BlobResult<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// A signed little-endian integer of `N` bytes (N <= 8), sign-extended.
    pub(super) fn int_le<const N: usize>(&mut self) -> BlobResult<i64> {
        let bytes = self.array::<N>()?;
        let mut wide = [0u8; 8];
        wide[..N].copy_from_slice(&bytes);
        let shift = 64 - 8 * N as u32;
        Ok((i64::from_le_bytes(wide) << shift) >> shift)
    }
}

/// Groups a flat list of alternating fields and values (as hashes and sorted sets keep them
/// in ziplists, listpacks and zipmaps) into pairs.
pub(super) fn into_pairs<T>(flat: Vec<T>, what: &str) -> BlobResult<Vec<(T, T)>> {
    if !flat.len().is_multiple_of(2) {
        return Err(format!(
            "{what} has an odd number of entries ({})",
            flat.len()
        ));
    }
    let mut pairs = Vec::with_capacity(flat.len() / 2);
    let mut it = flat.into_iter();
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        pairs.push((a, b));
    }
    Ok(pairs)
}

/// Reads the entries of a ziplist or listpack after its header, up to the `0xFF` end
/// marker, and checks that nothing follows it and that the header's `count` (unless it is
/// `0xFFFF`, "too many to count") matches what was found.
pub(super) fn entries_until_end(
    c: &mut Cursor<'_>,
    kind: &str,
    count: u16,
    mut entry: impl FnMut(&mut Cursor<'_>) -> BlobResult<Vec<u8>>,
) -> BlobResult<Vec<Vec<u8>>> {
    let mut out = Vec::with_capacity(usize::from(count).min(c.remaining() / 2));
    loop {
        let at = c.pos();
        if c.peek()? == END_MARKER {
            c.u8()?;
            break;
        }
        let e = entry(c).map_err(|e| format!("{kind} entry at offset {at}: {e}"))?;
        out.push(e);
    }
    if c.remaining() != 0 {
        return Err(format!("{kind} has bytes after its end marker"));
    }
    if count != u16::MAX && usize::from(count) != out.len() {
        return Err(format!(
            "{kind} header says {count} entries, found {}",
            out.len()
        ));
    }
    Ok(out)
}

/// The byte that ends a ziplist or listpack.
pub(super) const END_MARKER: u8 = 0xff;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_extends_short_integers() {
        let mut c = Cursor::new(&[0xff, 0xff, 0x7f, 0x00, 0x00, 0x80]);
        assert_eq!(c.int_le::<3>().unwrap(), 0x7fffff);
        assert_eq!(c.int_le::<3>().unwrap(), -(1 << 23));
        assert!(c.u8().is_err());
    }

    #[test]
    fn pairs_need_an_even_count() {
        assert_eq!(
            into_pairs(vec![1, 2, 3, 4], "x").unwrap(),
            vec![(1, 2), (3, 4)]
        );
        assert!(into_pairs(vec![1, 2, 3], "x").is_err());
    }
}
