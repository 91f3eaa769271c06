//! How much memory a connection's query buffer holds, and when it gives memory back, as
//! Redis' `clientsCronResizeQueryBuffer` does: a buffer left empty for a while is freed, and
//! one grown for a big request shrinks back once requests are small again.
//!
//! CLIENT LIST shows the allocation as `qbuf` + `qbuf-free`. The parser hands requests out as
//! slices of the buffer, so the part already parsed is still memory the buffer holds: the
//! figure is the size of the allocation the buffer reads into, not its remaining capacity.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::BytesMut;

use crate::state::client::Client;

/// The size of a fresh read buffer (Redis' `PROTO_IOBUF_LEN`).
pub(super) const READ_CHUNK: usize = 16 * 1024;
/// A buffer larger than this shrinks when the requests it reads use less than half of it
/// (Redis' `PROTO_RESIZE_THRESHOLD`).
const RESIZE_THRESHOLD: usize = 32 * 1024;
/// An empty buffer unused for this long is freed (Redis frees it past 2 idle seconds).
pub(super) const IDLE_RELEASE: Duration = Duration::from_secs(2);

/// The allocation behind one connection's read buffer.
pub(super) struct QueryBufferSize {
    allocated: usize,
    released: bool,
}

impl QueryBufferSize {
    /// A connection's buffer, just allocated with [`READ_CHUNK`] bytes.
    pub(super) fn new(buf: &BytesMut, client: &Client) -> QueryBufferSize {
        let size = QueryBufferSize {
            allocated: buf.capacity(),
            released: false,
        };
        size.publish(client);
        size
    }

    /// True while the buffer is freed: the next read must wait until input is there, and
    /// the buffer is allocated again only then.
    pub(super) fn is_released(&self) -> bool {
        self.released
    }

    /// Input arrived for a freed buffer: the next round allocates it again.
    pub(super) fn input_ready(&mut self) {
        self.released = false;
    }

    /// After the buffer made room for a read, with `capacity_before` the room it had: more
    /// room means a new allocation (or the old one reclaimed whole), which is what it holds.
    pub(super) fn after_growth(&mut self, capacity_before: usize, buf: &BytesMut, client: &Client) {
        self.released = false;
        if buf.capacity() > capacity_before {
            self.allocated = buf.capacity();
            self.publish(client);
        }
    }

    /// After the requests in the buffer were parsed, `peak` being the bytes it held before:
    /// a big buffer now empty whose last read used less than half of it is replaced by a
    /// fresh small one (the big one is freed once the requests sliced from it are done).
    pub(super) fn after_parse(&mut self, buf: &mut BytesMut, peak: usize, client: &Client) {
        if buf.is_empty() && self.allocated > RESIZE_THRESHOLD && peak < self.allocated / 2 {
            *buf = BytesMut::with_capacity(READ_CHUNK);
            self.allocated = buf.capacity();
            self.publish(client);
        }
    }

    /// Frees an empty buffer that stayed unused for [`IDLE_RELEASE`].
    pub(super) fn release(&mut self, buf: &mut BytesMut, client: &Client) {
        if buf.is_empty() {
            *buf = BytesMut::new();
            self.allocated = 0;
            self.released = true;
            client.query_buffer_len.store(0, Ordering::Relaxed);
            self.publish(client);
        }
    }

    fn publish(&self, client: &Client) {
        client
            .query_buffer_capacity
            .store(self.allocated, Ordering::Relaxed);
    }
}
