//! Length-prefixed protobuf frames, as replication and the cluster bus carry them: a 4-byte
//! big-endian length, then one encoded message.

use std::io::{self, Read};

use prost::Message;

/// Encodes `msg` as one frame.
pub fn encode<M: Message>(msg: &M) -> Vec<u8> {
    let len = msg.encoded_len();
    let mut buf = Vec::with_capacity(len + 4);
    buf.extend_from_slice(&(len as u32).to_be_bytes());
    // Encoding into a Vec cannot run out of room.
    let _ = msg.encode(&mut buf);
    buf
}

/// Reads one frame of at most `max` bytes; `what` names the protocol in errors.
pub fn read<M: Message + Default>(input: &mut impl Read, max: usize, what: &str) -> io::Result<M> {
    let mut len = [0u8; 4];
    input.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{what} frame of {len} bytes is too large"),
        ));
    }
    // Grows with what arrives: a length the peer does not send costs no memory.
    let mut buf = Vec::with_capacity(len.min(1 << 20));
    input.take(len as u64).read_to_end(&mut buf)?;
    if buf.len() != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("{what} frame cut short ({} of {len} bytes)", buf.len()),
        ));
    }
    M::decode(buf.as_slice()).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}
