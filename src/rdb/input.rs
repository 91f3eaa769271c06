//! The byte source under the reader: it counts the offset for error messages and feeds every
//! byte it hands out to the CRC-64 that the file's trailer is checked against, so no decoder
//! can forget to checksum what it consumed.

use std::io::{self, BufReader, Read};

use crc::{Crc, Digest, Table, CRC_64_REDIS};

use super::error::{RdbError, Result};

/// Redis' checksum: CRC-64/Jones as Redis uses it (reflected, init 0, no final xor), with
/// slice-by-16 tables since it runs over every byte of the file.
static CRC64: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_REDIS);

/// Most bytes reserved ahead of reading a length-prefixed string: a corrupt length must not
/// become a huge allocation; longer strings grow as their bytes actually arrive.
const PREALLOC_BYTES: u64 = 1 << 20;

pub(super) struct Input<R: Read> {
    inner: BufReader<R>,
    offset: u64,
    digest: Digest<'static, u64, Table<16>>,
}

impl<R: Read> Input<R> {
    pub(super) fn new(source: R) -> Self {
        Self {
            inner: BufReader::with_capacity(64 * 1024, source),
            offset: 0,
            digest: CRC64.digest(),
        }
    }

    /// Offset of the next byte to be read.
    pub(super) fn offset(&self) -> u64 {
        self.offset
    }

    /// CRC-64 of every byte read so far.
    pub(super) fn checksum(&self) -> u64 {
        self.digest.clone().finalize()
    }

    pub(super) fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        let at = self.offset;
        self.inner
            .read_exact(buf)
            .map_err(|e| io_error(at, e, buf.len() as u64))?;
        self.digest.update(buf);
        self.offset += buf.len() as u64;
        Ok(())
    }

    pub(super) fn u8(&mut self) -> Result<u8> {
        let mut b = [0u8; 1];
        self.read_exact(&mut b)?;
        Ok(b[0])
    }

    pub(super) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut b = [0u8; N];
        self.read_exact(&mut b)?;
        Ok(b)
    }

    /// The next `n` bytes.
    pub(super) fn bytes(&mut self, n: u64) -> Result<Vec<u8>> {
        let at = self.offset;
        let mut buf = Vec::with_capacity(n.min(PREALLOC_BYTES) as usize);
        let got = (&mut self.inner)
            .take(n)
            .read_to_end(&mut buf)
            .map_err(|e| io_error(at, e, n))?;
        self.digest.update(&buf);
        self.offset += got as u64;
        if (got as u64) < n {
            return Err(truncated(at, n));
        }
        Ok(buf)
    }

    /// Reads and drops the next `n` bytes (still checksummed).
    pub(super) fn skip(&mut self, n: u64) -> Result<()> {
        let at = self.offset;
        let mut left = n;
        let mut chunk = [0u8; 8192];
        while left > 0 {
            let want = left.min(chunk.len() as u64) as usize;
            let got = match self.inner.read(&mut chunk[..want]) {
                Ok(0) => return Err(truncated(at, n)),
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(at, e, n)),
            };
            self.digest.update(&chunk[..got]);
            self.offset += got as u64;
            left -= got as u64;
        }
        Ok(())
    }
}

fn truncated(at: u64, wanted: u64) -> RdbError {
    RdbError::new(
        at,
        format!("unexpected end of file (wanted {wanted} more bytes)"),
    )
}

fn io_error(at: u64, e: io::Error, wanted: u64) -> RdbError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        truncated(at, wanted)
    } else {
        RdbError::new(at, format!("read error: {e}"))
    }
}
