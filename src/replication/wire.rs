//! The replication messages (`proto/replication.proto`) and their framing on the socket: a
//! 4-byte big-endian length, then the encoded message. Messages stay small: file chunks and
//! pieces of big batches are at most [`PIECE`] bytes of data.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use prost::Message;

/// The messages generated from `proto/replication.proto`.
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/pika.replication.rs"));
}

pub use pb::master_message::Msg as MasterMsg;
pub use pb::slave_message::Msg as SlaveMsg;

/// Largest frame accepted: a checkpoint chunk or one write batch (batches of a 512 MB value
/// fit with room to spare).
pub const MAX_FRAME: usize = 1 << 30;

/// Largest data in one message: a file chunk, a piece of a batch.
pub const PIECE: usize = 1 << 20;

/// Writes one framed message (buffered: the caller flushes).
pub fn send<M: Message>(out: &mut impl Write, msg: &M) -> io::Result<()> {
    let len = msg.encoded_len();
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("replication message of {len} bytes is larger than a frame"),
        ));
    }
    let mut buf = Vec::with_capacity(len + 4);
    buf.extend_from_slice(&(len as u32).to_be_bytes());
    msg.encode(&mut buf).map_err(io::Error::other)?;
    out.write_all(&buf)
}

/// Reads one framed message.
pub fn recv<M: Message + Default>(input: &mut impl Read) -> io::Result<M> {
    crate::util::frame::read(input, MAX_FRAME, "replication")
}

/// Sends batch `seq` (`count` sequence numbers): whole, or in pieces of [`PIECE`] bytes to a
/// slave that reassembles them.
pub fn send_batch(
    out: &mut impl Write,
    seq: u64,
    count: u32,
    data: Vec<u8>,
    in_pieces: bool,
) -> io::Result<()> {
    if !in_pieces || data.len() <= PIECE {
        return send_master(
            out,
            MasterMsg::Batch(pb::Batch {
                seq,
                count,
                data,
                more: false,
            }),
        );
    }
    let mut pieces = data.chunks(PIECE).peekable();
    while let Some(piece) = pieces.next() {
        send_master(
            out,
            MasterMsg::Batch(pb::Batch {
                seq,
                count,
                data: piece.to_vec(),
                more: pieces.peek().is_some(),
            }),
        )?;
    }
    Ok(())
}

/// Snappy's frame format written to `W`. Unlike the encoder alone, a flush reaches `W`'s
/// destination: the encoder's own flush only hands its block to `W`.
pub struct SnappyWriter<W: Write>(snap::write::FrameEncoder<W>);

impl<W: Write> SnappyWriter<W> {
    pub fn new(inner: W) -> SnappyWriter<W> {
        SnappyWriter(snap::write::FrameEncoder::new(inner))
    }
}

impl<W: Write> Write for SnappyWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()?;
        self.0.get_mut().flush()
    }
}

/// A reader or writer that adds the bytes through it to a counter (INFO replication).
pub struct Counted<T> {
    inner: T,
    bytes: Arc<AtomicU64>,
}

impl<T> Counted<T> {
    pub fn new(inner: T, bytes: &Arc<AtomicU64>) -> Counted<T> {
        Counted {
            inner,
            bytes: Arc::clone(bytes),
        }
    }

    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Sends a master message.
pub fn send_master(out: &mut impl Write, msg: MasterMsg) -> io::Result<()> {
    send(out, &pb::MasterMessage { msg: Some(msg) })
}

/// Sends a slave message.
pub fn send_slave(out: &mut impl Write, msg: SlaveMsg) -> io::Result<()> {
    send(out, &pb::SlaveMessage { msg: Some(msg) })
}

/// Reads a master message; a message without content is an error.
pub fn recv_master(input: &mut impl Read) -> io::Result<MasterMsg> {
    recv::<pb::MasterMessage>(input)?
        .msg
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "empty master message"))
}

/// Reads a slave message; a message without content is an error.
pub fn recv_slave(input: &mut impl Read) -> io::Result<SlaveMsg> {
    recv::<pb::SlaveMessage>(input)?
        .msg
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "empty slave message"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut buf = Vec::new();
        send_master(
            &mut buf,
            MasterMsg::Batch(pb::Batch {
                seq: 7,
                count: 2,
                data: vec![1, 2, 3],
                more: false,
            }),
        )
        .unwrap();
        send_slave(&mut buf, SlaveMsg::Ack(pb::Ack { applied_seq: 8 })).unwrap();
        let mut r = buf.as_slice();
        match recv_master(&mut r).unwrap() {
            MasterMsg::Batch(b) => assert_eq!((b.seq, b.count, b.data), (7, 2, vec![1, 2, 3])),
            other => panic!("{other:?}"),
        }
        match recv_slave(&mut r).unwrap() {
            SlaveMsg::Ack(a) => assert_eq!(a.applied_seq, 8),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn big_batches_go_in_pieces_that_join_back() {
        let data: Vec<u8> = (0..PIECE * 2 + 5).map(|i| i as u8).collect();
        let mut buf = Vec::new();
        send_batch(&mut buf, 9, 3, data.clone(), true).unwrap();
        let mut r = buf.as_slice();
        let mut joined = Vec::new();
        let mut pieces = 0;
        loop {
            let MasterMsg::Batch(b) = recv_master(&mut r).unwrap() else {
                panic!("not a batch");
            };
            assert_eq!((b.seq, b.count), (9, 3));
            assert!(b.data.len() <= PIECE);
            joined.extend_from_slice(&b.data);
            pieces += 1;
            if !b.more {
                break;
            }
        }
        assert_eq!((pieces, joined), (3, data));
        assert!(r.is_empty());
    }

    #[test]
    fn a_compressed_stream_is_readable_after_each_flush() {
        let (mut tx, rx) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut out = SnappyWriter::new(io::BufWriter::new(&mut tx));
        send_slave(&mut out, SlaveMsg::Ack(pb::Ack { applied_seq: 3 })).unwrap();
        out.flush().unwrap();
        let mut input = snap::read::FrameDecoder::new(&rx);
        match recv_slave(&mut input).unwrap() {
            SlaveMsg::Ack(a) => assert_eq!(a.applied_seq, 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn oversized_or_truncated_frames_are_errors() {
        let mut r: &[u8] = &[0xff, 0xff, 0xff, 0xff];
        assert!(recv_master(&mut r).is_err());
        let mut r: &[u8] = &[0, 0, 0, 9, 1, 2];
        assert!(recv_master(&mut r).is_err());
    }
}
