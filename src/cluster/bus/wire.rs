//! Bus frames (`proto/cluster.proto`): a 4-byte big-endian length, then one `BusMessage`.

use std::io::{self, Read, Write};

/// The messages generated from `proto/cluster.proto`.
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/pika.cluster.rs"));
}

pub use pb::bus_message::Body;
pub use pb::BusMessage;

/// Largest frame accepted: a message with the slot bitmap and gossip on a few hundred nodes
/// is a few kilobytes; PUBLISH payloads may be larger.
pub const MAX_FRAME: usize = 64 << 20;

/// Encodes one framed message.
pub fn frame(msg: &BusMessage) -> Vec<u8> {
    crate::util::frame::encode(msg)
}

/// Writes one framed message.
pub fn send(out: &mut impl Write, msg: &BusMessage) -> io::Result<()> {
    out.write_all(&frame(msg))
}

/// Reads one framed message.
pub fn recv(input: &mut impl Read) -> io::Result<BusMessage> {
    crate::util::frame::read(input, MAX_FRAME, "cluster bus")
}

/// The counter name of a message type, as CLUSTER INFO shows it.
pub fn kind(body: &Body) -> &'static str {
    match body {
        Body::Ping(_) => "ping",
        Body::Pong(_) => "pong",
        Body::Meet(_) => "meet",
        Body::Fail(_) => "fail",
        Body::Update(_) => "update",
        Body::AuthRequest(_) => "auth-req",
        Body::AuthAck(_) => "auth-ack",
        Body::MfStart(_) => "mfstart",
        Body::Publish(p) if p.shard => "publishshard",
        Body::Publish(_) => "publish",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let msg = BusMessage {
            sender: Some(pb::Header {
                name: "a".repeat(40),
                current_epoch: 3,
                slots: vec![0xff; 2048],
                ..Default::default()
            }),
            body: Some(Body::Ping(pb::Ping::default())),
        };
        let bytes = frame(&msg);
        let back = recv(&mut bytes.as_slice()).unwrap();
        assert_eq!(back, msg);
        assert!(recv(&mut &bytes[..bytes.len() - 1]).is_err());
        let huge = (u32::MAX).to_be_bytes();
        assert!(recv(&mut &huge[..]).is_err());
    }
}
