//! Random picks with repetition (SRANDMEMBER, HRANDFIELD and ZRANDMEMBER with a negative
//! count): the client chooses how many, up to 2^63, so the reply is drawn while it is written
//! ([`ReplyStream`]) from a bounded pool of the key's elements, never built whole.

use bytes::BytesMut;
use rand::Rng;

use crate::resp::reply::{ReplyStream, StreamedReply};
use crate::resp::{Protocol, Reply};

/// Largest pool drawn from. Callers sample `count.min(POOL_MAX)` distinct elements of the
/// key (all of them when it has fewer): every pick is still uniform over the whole key.
pub const POOL_MAX: u64 = 1 << 16;

/// Picks up to this many are answered as a plain array; more are streamed.
const INLINE_PICKS_MAX: u64 = 1024;

/// `remaining` independent uniform picks from `pool`; a pick is written as its items (one
/// member, or a member and its value or score).
struct RandomPicks {
    pool: Vec<Vec<Reply>>,
    remaining: u64,
    header_written: bool,
}

impl ReplyStream for RandomPicks {
    fn fill(&mut self, out: &mut BytesMut, proto: Protocol, budget: usize) -> bool {
        let start = out.len();
        if !self.header_written {
            self.header_written = true;
            let per_pick = self.pool.first().map_or(0, Vec::len) as u64;
            let total = self.remaining.saturating_mul(per_pick);
            out.extend_from_slice(format!("*{total}\r\n").as_bytes());
        }
        if self.pool.is_empty() {
            return false;
        }
        let rng = &mut rand::thread_rng();
        while self.remaining > 0 && out.len() - start < budget {
            self.remaining -= 1;
            for item in &self.pool[rng.gen_range(0..self.pool.len())] {
                item.encode(out, proto);
            }
        }
        self.remaining > 0
    }
}

/// The reply to `count` picks from `pool` (each entry one pick's items, all of one length).
pub fn reply(pool: Vec<Vec<Reply>>, count: u64) -> Reply {
    if pool.is_empty() || count == 0 {
        return Reply::Array(Vec::new());
    }
    if count <= INLINE_PICKS_MAX {
        let rng = &mut rand::thread_rng();
        let items = (0..count)
            .flat_map(|_| pool[rng.gen_range(0..pool.len())].iter().cloned())
            .collect();
        return Reply::Array(items);
    }
    Reply::Stream(StreamedReply::new(RandomPicks {
        pool,
        remaining: count,
        header_written: false,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(reply: &Reply) -> Vec<u8> {
        let mut out = BytesMut::new();
        reply.encode(&mut out, Protocol::Resp2);
        out.to_vec()
    }

    #[test]
    fn streamed_picks_write_the_announced_count() {
        let pool = vec![vec![Reply::bulk("a")], vec![Reply::bulk("b")]];
        let reply = reply(pool, 5000);
        assert!(matches!(reply, Reply::Stream(_)));
        let out = written(&reply);
        assert!(out.starts_with(b"*5000\r\n"));
        assert_eq!(out.len(), 7 + 5000 * 7);
    }

    #[test]
    fn a_piece_stays_near_its_budget() {
        let Reply::Stream(s) = reply(vec![vec![Reply::bulk("a"), Reply::bulk("1")]], 1 << 40)
        else {
            panic!("expected a stream");
        };
        let mut out = BytesMut::new();
        assert!(s.fill(&mut out, Protocol::Resp2, 1000));
        assert!(out.starts_with(format!("*{}\r\n", 1u64 << 41).as_bytes()));
        assert!(out.len() < 1100);
    }

    #[test]
    fn a_stream_inside_an_aggregate_is_written_in_pieces_in_order() {
        let picks = reply(vec![vec![Reply::bulk("a")]], 5000);
        let whole = Reply::Array(vec![Reply::bulk("x"), picks.clone(), Reply::Integer(7)]);
        let stream = whole.clone().into_stream();
        let mut out = BytesMut::new();
        let mut pieces = 0;
        while stream.fill(&mut out, Protocol::Resp2, 4096) {
            pieces += 1;
        }
        assert!(pieces > 5);
        let mut expected = b"*3\r\n$1\r\nx\r\n*5000\r\n".to_vec();
        expected.extend(b"$1\r\na\r\n".repeat(5000));
        expected.extend(b":7\r\n");
        assert_eq!(out.to_vec(), expected);
    }

    #[test]
    fn few_picks_are_a_plain_array() {
        let reply = reply(vec![vec![Reply::bulk("a")]], 3);
        assert_eq!(written(&reply), b"*3\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n");
    }
}
