//! LZF decompression, for strings Redis saved compressed (`rdbcompression yes`, strings over
//! 20 bytes). The format is a sequence of literal runs and back-references into the output.

/// Decompresses `compressed` into exactly `expected_len` bytes.
pub(super) fn decompress(
    compressed: &[u8],
    expected_len: usize,
) -> std::result::Result<Vec<u8>, String> {
    // Reserve no more than the input can possibly expand to (a 3-byte back-reference yields
    // at most 264 bytes), so a corrupt length cannot make a huge allocation.
    let bound = compressed.len().saturating_mul(88).saturating_add(32);
    let mut out: Vec<u8> = Vec::with_capacity(expected_len.min(bound));
    let mut pos = 0;
    while pos < compressed.len() {
        let ctrl = usize::from(compressed[pos]);
        pos += 1;
        if ctrl < 32 {
            // Literal run of ctrl + 1 bytes.
            let run = ctrl + 1;
            let lit = compressed
                .get(pos..pos + run)
                .ok_or("LZF literal run past the end of the data")?;
            if out.len() + run > expected_len {
                return Err("LZF data longer than its stated length".into());
            }
            out.extend_from_slice(lit);
            pos += run;
        } else {
            // Back-reference: length in the top 3 bits (7 = one more length byte follows),
            // distance in the low 5 bits plus the next byte.
            let mut len = ctrl >> 5;
            if len == 7 {
                len += usize::from(*compressed.get(pos).ok_or("LZF back-reference cut short")?);
                pos += 1;
            }
            len += 2;
            let low = usize::from(*compressed.get(pos).ok_or("LZF back-reference cut short")?);
            pos += 1;
            let distance = ((ctrl & 0x1f) << 8) + low + 1;
            if distance > out.len() {
                return Err("LZF back-reference before the start of the output".into());
            }
            if out.len() + len > expected_len {
                return Err("LZF data longer than its stated length".into());
            }
            // Byte by byte: the source may overlap what is being written.
            let from = out.len() - distance;
            for i in 0..len {
                let b = out[from + i];
                out.push(b);
            }
        }
    }
    if out.len() != expected_len {
        return Err(format!(
            "LZF data decompressed to {} bytes, {expected_len} stated",
            out.len()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::decompress;

    #[test]
    fn literal_and_overlapping_reference() {
        // "abc" literal, then a 6-byte reference at distance 3: "abcabcabc".
        let data = [2, b'a', b'b', b'c', (4 << 5), 2];
        assert_eq!(decompress(&data, 9).unwrap(), b"abcabcabc");
    }

    #[test]
    fn long_reference_uses_extra_length_byte() {
        // "a", then a reference of 7 + 3 + 2 = 12 bytes at distance 1.
        let data = [0, b'a', (7 << 5), 3, 0];
        assert_eq!(decompress(&data, 13).unwrap(), vec![b'a'; 13]);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(decompress(&[5, b'a'], 6).is_err(), "literal past the end");
        assert!(
            decompress(&[(1 << 5), 0], 3).is_err(),
            "reference before start"
        );
        assert!(decompress(&[0, b'a'], 2).is_err(), "shorter than stated");
        assert!(
            decompress(&[0, b'a', (4 << 5), 0], 3).is_err(),
            "longer than stated"
        );
    }
}
