//! Replies of results read lazily from storage ([`ReadRange`]: LRANGE, ZRANGE, SMEMBERS, KEYS
//! on big keys and databases): a small result is answered as a plain aggregate; a big one as a
//! [`ReplyStream`] that writes its header (the count storage announced) and then encodes the
//! items as it reads them, a piece each time the client has read the previous ones.
//!
//! Both forms write the same bytes. Should the disk fail in the middle of a streamed reply, the
//! error is logged and the rest of the announced entries are written as nulls, so the client
//! still reads a well-framed reply.

use std::collections::VecDeque;
use std::marker::PhantomData;

use bytes::{BufMut, Bytes, BytesMut};

use crate::resp::reply::{ReplyStream, StreamedReply};
use crate::resp::{Protocol, Reply};
use crate::storage::lazy::{LazyItems, ReadRange};
use crate::storage::types::zset::ScoredMember;

/// The aggregate a reply is: an array, or a set (`~` in RESP3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Array,
    Set,
}

/// How the items of one result become reply entries.
trait ItemReply: Send + 'static {
    /// Entries each item writes in the top-level aggregate.
    fn entries(&self, proto: Protocol) -> u64;
    /// The item's reply entries, in order.
    fn push(&self, item: Self::Item, out: &mut Vec<Reply>, proto: Protocol);
    type Item;
}

/// Each item is one bulk string, owned (`Vec<u8>`) or shared (`Bytes`, e.g. slices of one
/// read buffer).
struct Bulks<T>(PhantomData<fn() -> T>);

impl<T: Into<Bytes> + Send + 'static> ItemReply for Bulks<T> {
    type Item = T;

    fn entries(&self, _: Protocol) -> u64 {
        1
    }

    fn push(&self, item: T, out: &mut Vec<Reply>, _: Protocol) {
        out.push(Reply::bulk(item));
    }
}

/// Each item is a member, with its score when `withscores`: the member then the score in
/// RESP2, a [member, score] pair in RESP3 (ZRANGE and its older forms).
struct Scored {
    withscores: bool,
}

impl ItemReply for Scored {
    type Item = ScoredMember;

    fn entries(&self, proto: Protocol) -> u64 {
        if self.withscores && proto == Protocol::Resp2 {
            2
        } else {
            1
        }
    }

    fn push(&self, (member, score): ScoredMember, out: &mut Vec<Reply>, proto: Protocol) {
        match (self.withscores, proto) {
            (false, _) => out.push(Reply::bulk(member)),
            (true, Protocol::Resp3) => out.push(Reply::Array(vec![
                Reply::bulk(member),
                Reply::Double(score),
            ])),
            (true, Protocol::Resp2) => {
                out.push(Reply::bulk(member));
                out.push(Reply::Double(score));
            }
        }
    }
}

/// A streamed reply of lazily read items.
struct LazyReply<R: ItemReply> {
    items: LazyItems<R::Item>,
    how: R,
    shape: Shape,
    /// Items still to read; the header is written first, when `header_written` is false.
    left: u64,
    header_written: bool,
    /// Entries of the last item read, not yet written.
    queued: VecDeque<Reply>,
    /// An entry being written a piece at a time (a bulk string over 1 MB).
    partial: Option<StreamedReply>,
}

impl<R: ItemReply> LazyReply<R> {
    /// Reads the next item into `queued`; after a read error, queues nulls for the rest of
    /// the announced entries (logged: the client still gets a well-framed reply).
    fn read_next(&mut self, proto: Protocol) {
        let mut entries = Vec::with_capacity(2);
        match self.items.next() {
            Some(Ok(item)) => {
                self.left -= 1;
                self.how.push(item, &mut entries, proto);
                self.queued.extend(entries);
            }
            failed => {
                let why = match failed {
                    Some(Err(e)) => e.to_string(),
                    _ => "fewer items than counted".to_string(),
                };
                tracing::error!(
                    "streamed reply cut short ({why}): {} items written as nulls",
                    self.left
                );
                let nulls = self.left.saturating_mul(self.how.entries(proto));
                self.left = 0;
                for _ in 0..nulls {
                    self.queued.push_back(Reply::Null);
                }
            }
        }
    }
}

impl<R: ItemReply> ReplyStream for LazyReply<R>
where
    R::Item: Send,
{
    fn fill(&mut self, out: &mut BytesMut, proto: Protocol, budget: usize) -> bool {
        let start = out.len();
        if !self.header_written {
            self.header_written = true;
            let prefix = match (self.shape, proto) {
                (Shape::Set, Protocol::Resp3) => b'~',
                _ => b'*',
            };
            let total = self.left.saturating_mul(self.how.entries(proto));
            out.put_u8(prefix);
            out.extend_from_slice(itoa::Buffer::new().format(total).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        while out.len() - start < budget {
            if let Some(stream) = &self.partial {
                if stream.fill(out, proto, budget - (out.len() - start)) {
                    return true;
                }
                self.partial = None;
            } else if let Some(entry) = self.queued.pop_front() {
                if entry.worth_streaming() {
                    self.partial = Some(entry.into_stream());
                } else {
                    entry.encode(out, proto);
                }
            } else if self.left > 0 {
                self.read_next(proto);
            } else {
                return false;
            }
        }
        self.left > 0 || self.partial.is_some() || !self.queued.is_empty()
    }
}

/// The reply of `range`, its items written by `how`.
fn reply<R: ItemReply>(range: ReadRange<R::Item>, how: R, shape: Shape, proto: Protocol) -> Reply
where
    R::Item: Send,
{
    match range {
        ReadRange::Whole(items) => {
            let mut entries = Vec::with_capacity(items.len() * how.entries(proto) as usize);
            for item in items {
                how.push(item, &mut entries, proto);
            }
            match shape {
                Shape::Array => Reply::Array(entries),
                Shape::Set => Reply::Set(entries),
            }
        }
        ReadRange::Lazy(items) => Reply::Stream(StreamedReply::new(LazyReply {
            left: items.len(),
            items,
            how,
            shape,
            header_written: false,
            queued: VecDeque::new(),
            partial: None,
        })),
    }
}

/// A reply of bulk strings (LRANGE, KEYS; SMEMBERS with [`Shape::Set`]).
pub fn bulks<T: Into<Bytes> + Send + 'static>(range: ReadRange<T>, shape: Shape) -> Reply {
    reply(range, Bulks(PhantomData), shape, Protocol::Resp2)
}

/// Each item is several optional bulk strings, nulls where `None` (SORT ... GET).
struct OptionalBulks {
    per_item: u64,
}

impl ItemReply for OptionalBulks {
    type Item = Vec<Option<Vec<u8>>>;

    fn entries(&self, _: Protocol) -> u64 {
        self.per_item
    }

    fn push(&self, item: Self::Item, out: &mut Vec<Reply>, _: Protocol) {
        out.extend(item.into_iter().map(|v| v.map_or(Reply::Null, Reply::bulk)));
    }
}

/// A reply of `per_item` optional bulk strings per item, nulls where `None` (SORT ... GET).
pub fn optional_bulks(range: ReadRange<Vec<Option<Vec<u8>>>>, per_item: u64) -> Reply {
    reply(
        range,
        OptionalBulks { per_item },
        Shape::Array,
        Protocol::Resp2,
    )
}

/// A reply of sorted-set members, with their scores when `withscores` (ZRANGE): `proto` is the
/// connection's, which decides the shape of a small reply as it does today.
pub fn scored(range: ReadRange<ScoredMember>, withscores: bool, proto: Protocol) -> Reply {
    reply(range, Scored { withscores }, Shape::Array, proto)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes of `reply` written as the worker writes a stream: pieces of about 100 bytes.
    fn written(reply: Reply, proto: Protocol) -> Vec<u8> {
        let mut out = BytesMut::new();
        if let Reply::Stream(stream) = reply {
            while stream.fill(&mut out, proto, 100) {}
        } else {
            reply.encode(&mut out, proto);
        }
        out.to_vec()
    }

    fn lazy<T: Send + 'static>(items: Vec<T>) -> ReadRange<T> {
        ReadRange::Lazy(LazyItems::new(
            items.len() as u64,
            items.into_iter().map(Ok),
        ))
    }

    #[test]
    fn streamed_and_whole_replies_write_the_same_bytes() {
        let members =
            || -> Vec<Vec<u8>> { (0..50).map(|i| format!("m{i}").into_bytes()).collect() };
        let pairs = || -> Vec<ScoredMember> {
            (0..50)
                .map(|i| (format!("m{i}").into_bytes(), i as f64 / 3.0))
                .collect()
        };
        for proto in [Protocol::Resp2, Protocol::Resp3] {
            for shape in [Shape::Array, Shape::Set] {
                let whole = written(bulks(ReadRange::Whole(members()), shape), proto);
                assert_eq!(written(bulks(lazy(members()), shape), proto), whole);
            }
            for withscores in [false, true] {
                let whole = written(scored(ReadRange::Whole(pairs()), withscores, proto), proto);
                let streamed = written(scored(lazy(pairs()), withscores, proto), proto);
                assert_eq!(streamed, whole, "{proto:?} withscores {withscores}");
            }
        }
        let gets = || vec![vec![Some(b"a".to_vec()), None]; 30];
        let whole = written(optional_bulks(ReadRange::Whole(gets()), 2), Protocol::Resp3);
        assert_eq!(
            written(optional_bulks(lazy(gets()), 2), Protocol::Resp3),
            whole
        );
    }

    #[test]
    fn a_big_item_is_written_in_pieces() {
        let big = vec![b'x'; 3 << 20];
        let range = || lazy(vec![b"a".to_vec(), big.clone(), b"b".to_vec()]);
        let reply = bulks(range(), Shape::Array);
        let Reply::Stream(stream) = reply else {
            panic!("expected a stream");
        };
        let mut out = BytesMut::new();
        let mut pieces = 1;
        while stream.fill(&mut out, Protocol::Resp2, 64 * 1024) {
            pieces += 1;
            assert!(
                out.len() < (pieces + 1) * 64 * 1024 + 100,
                "{pieces} pieces"
            );
        }
        let whole = written(
            bulks(
                ReadRange::Whole(vec![b"a".to_vec(), big, b"b".to_vec()]),
                Shape::Array,
            ),
            Protocol::Resp2,
        );
        assert_eq!(out.to_vec(), whole);
    }

    #[test]
    fn a_read_error_keeps_the_announced_framing() {
        let items = vec![
            Ok(b"a".to_vec()),
            Err(crate::storage::StorageError::Corrupt("test".into())),
            Ok(b"never".to_vec()),
        ];
        let range = ReadRange::Lazy(LazyItems::new(3, items.into_iter()));
        assert_eq!(
            written(bulks(range, Shape::Array), Protocol::Resp2),
            b"*3\r\n$1\r\na\r\n$-1\r\n$-1\r\n"
        );
    }
}
