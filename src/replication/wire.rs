//! The replication messages (`proto/replication.proto`) and their framing on the socket: a
//! 4-byte big-endian length, then the encoded message.

use std::io::{self, Read, Write};

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

/// Writes one framed message (buffered: the caller flushes).
pub fn send<M: Message>(out: &mut impl Write, msg: &M) -> io::Result<()> {
    let len = msg.encoded_len();
    let mut buf = Vec::with_capacity(len + 4);
    buf.extend_from_slice(&(len as u32).to_be_bytes());
    msg.encode(&mut buf).map_err(io::Error::other)?;
    out.write_all(&buf)
}

/// Reads one framed message.
pub fn recv<M: Message + Default>(input: &mut impl Read) -> io::Result<M> {
    let mut len = [0u8; 4];
    input.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("replication frame of {len} bytes is too large"),
        ));
    }
    // Grows with what arrives: a length the peer does not send costs no memory.
    let mut buf = Vec::with_capacity(len.min(1 << 20));
    input.take(len as u64).read_to_end(&mut buf)?;
    if buf.len() != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("replication frame cut short ({} of {len} bytes)", buf.len()),
        ));
    }
    M::decode(buf.as_slice()).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
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
    fn oversized_or_truncated_frames_are_errors() {
        let mut r: &[u8] = &[0xff, 0xff, 0xff, 0xff];
        assert!(recv_master(&mut r).is_err());
        let mut r: &[u8] = &[0, 0, 0, 9, 1, 2];
        assert!(recv_master(&mut r).is_err());
    }
}
