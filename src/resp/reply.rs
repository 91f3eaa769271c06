//! Reply values and their RESP2/RESP3 wire encoding.
//!
//! Job: give command implementations one protocol-neutral value type
//! ([`Reply`]) and turn it into bytes for whichever protocol version the
//! connection negotiated (via `HELLO`), exactly as Redis 7.0 would write it.
//!
//! Invariants:
//! - Every reply is framed correctly whatever its contents: simple strings
//!   and errors are single lines (embedded `\r`/`\n` become spaces), bulk
//!   payloads are length-prefixed and written verbatim.
//! - RESP3-only types degrade to their documented RESP2 shapes (map → flat
//!   array, double → bulk string, bool → integer, null → `$-1`/`*-1`, ...).
//! - Encoding appends to the caller's buffer without intermediate heap
//!   strings: integers go through `itoa`, doubles through a stack buffer.

use std::borrow::Cow;
use std::fmt::Write as _;

use bytes::{BufMut, Bytes, BytesMut};

/// Protocol version negotiated by a connection; decides how [`Reply`] encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2, what every connection speaks until it sends `HELLO 3`.
    #[default]
    Resp2,
    /// RESP3, with native maps, sets, doubles, booleans, nulls and pushes.
    Resp3,
}

/// A server reply, independent of the protocol version it will be sent in.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Status line, e.g. `+OK`.
    Simple(Cow<'static, str>),
    /// Error line with its code, e.g. `ERR syntax error` or `WRONGTYPE ...`.
    Error(Cow<'static, str>),
    /// Signed 64-bit integer.
    Integer(i64),
    /// Binary-safe string.
    Bulk(Bytes),
    /// Missing value: `$-1` in RESP2, `_` in RESP3.
    Null,
    /// Missing aggregate: `*-1` in RESP2, `_` in RESP3.
    NullArray,
    /// Ordered list of replies.
    Array(Vec<Reply>),
    /// Key/value pairs: `%N` in RESP3, flat array of 2N in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// Unordered collection: `~N` in RESP3, array in RESP2.
    Set(Vec<Reply>),
    /// Floating point number: `,<d>` in RESP3, bulk string in RESP2.
    Double(f64),
    /// A double in Redis' "human" form (17 decimals, trailing zeros cut, as GEOPOS sends
    /// coordinates): `,<d>` in RESP3, bulk string in RESP2.
    HumanDouble(f64),
    /// Boolean: `#t`/`#f` in RESP3, integer 1/0 in RESP2.
    Bool(bool),
    /// Human-readable text: `=N\r\ntxt:...` in RESP3, bulk string in RESP2.
    Verbatim(Bytes),
    /// Out-of-band message (pub/sub, invalidation): `>N` in RESP3, array in RESP2.
    Push(Vec<Reply>),
    /// Several replies in a row, for commands that answer more than once (SUBSCRIBE a b).
    Sequence(Vec<Reply>),
    /// A reply produced piece by piece as the client reads it (see [`ReplyStream`]).
    Stream(StreamedReply),
}

/// A reply whose size the client chooses (SRANDMEMBER with a count of -10^18), written a
/// piece at a time so that memory stays bounded whatever the size: the worker asks for the
/// next piece only once the client has read the previous ones.
pub trait ReplyStream: Send {
    /// Appends the next part of the reply, about `budget` bytes; false once all of it is out.
    fn fill(&mut self, out: &mut BytesMut, proto: Protocol, budget: usize) -> bool;
}

/// A [`ReplyStream`] inside a [`Reply`]; clones share the one stream.
#[derive(Clone)]
pub struct StreamedReply(std::sync::Arc<parking_lot::Mutex<Box<dyn ReplyStream>>>);

impl StreamedReply {
    pub fn new(stream: impl ReplyStream + 'static) -> StreamedReply {
        StreamedReply(std::sync::Arc::new(parking_lot::Mutex::new(Box::new(
            stream,
        ))))
    }

    /// See [`ReplyStream::fill`].
    pub fn fill(&self, out: &mut BytesMut, proto: Protocol, budget: usize) -> bool {
        self.0.lock().fill(out, proto, budget)
    }
}

/// Bulk strings longer than this are written straight from their bytes, a piece at a time.
const STREAMED_BULK_MIN: usize = 1 << 20;

/// A big bulk string written from its own bytes, a piece at a time, without a copy of it all.
struct BulkStream {
    data: Bytes,
    /// Bytes of `data` written so far; `None` until the header is out.
    written: Option<usize>,
}

impl ReplyStream for BulkStream {
    fn fill(&mut self, out: &mut BytesMut, _proto: Protocol, budget: usize) -> bool {
        let from = match self.written {
            Some(n) => n,
            None => {
                write_len_header(out, b'$', self.data.len());
                0
            }
        };
        let to = self.data.len().min(from.saturating_add(budget.max(1)));
        out.extend_from_slice(&self.data[from..to]);
        self.written = Some(to);
        if to < self.data.len() {
            return true;
        }
        out.extend_from_slice(b"\r\n");
        false
    }
}

/// A reply with streamed parts inside, written in order: plain parts whole, aggregates as
/// their header then their items, streamed parts a piece at a time.
struct NestedStream {
    pending: std::collections::VecDeque<Reply>,
}

impl ReplyStream for NestedStream {
    fn fill(&mut self, out: &mut BytesMut, proto: Protocol, budget: usize) -> bool {
        let start = out.len();
        while out.len() - start < budget {
            let Some(reply) = self.pending.pop_front() else {
                return false;
            };
            if !reply.worth_streaming() {
                reply.encode(out, proto);
                continue;
            }
            let resp3 = proto == Protocol::Resp3;
            let items = match reply {
                Reply::Stream(stream) => {
                    let left = budget - (out.len() - start);
                    if stream.fill(out, proto, left) {
                        self.pending.push_front(Reply::Stream(stream));
                    }
                    continue;
                }
                Reply::Array(items) => {
                    write_len_header(out, b'*', items.len());
                    items
                }
                Reply::Set(items) => {
                    write_len_header(out, if resp3 { b'~' } else { b'*' }, items.len());
                    items
                }
                Reply::Push(items) => {
                    write_len_header(out, if resp3 { b'>' } else { b'*' }, items.len());
                    items
                }
                Reply::Sequence(items) => items,
                Reply::Bulk(data) => {
                    self.pending
                        .push_front(Reply::Stream(Reply::Bulk(data).into_stream()));
                    continue;
                }
                // `worth_streaming` is true only for the kinds above.
                other => {
                    other.encode(out, proto);
                    continue;
                }
            };
            for item in items.into_iter().rev() {
                self.pending.push_front(item);
            }
        }
        !self.pending.is_empty()
    }
}

impl std::fmt::Debug for StreamedReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StreamedReply")
    }
}

impl PartialEq for StreamedReply {
    fn eq(&self, other: &StreamedReply) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Largest decimal rendering of an `i64`/`usize` length plus slack; used to
/// reserve header space in one go.
const MAX_INT_LEN: usize = 20;

impl Reply {
    /// The ubiquitous `+OK` status.
    pub fn ok() -> Reply {
        Reply::Simple(Cow::Borrowed("OK"))
    }

    /// An error reply; `msg` must include the code (e.g. `"ERR syntax error"`).
    pub fn err(msg: impl Into<Cow<'static, str>>) -> Reply {
        Reply::Error(msg.into())
    }

    /// A bulk string from anything convertible to `Bytes` without copying.
    pub fn bulk(b: impl Into<Bytes>) -> Reply {
        Reply::Bulk(b.into())
    }

    /// A bulk string copied from a borrowed slice, for data not owned as `Bytes`.
    pub fn bulk_from_slice(b: &[u8]) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(b))
    }

    /// True for out-of-band pushes (and runs of them), which CLIENT REPLY OFF does not silence.
    pub fn is_push(&self) -> bool {
        match self {
            Reply::Push(_) => true,
            Reply::Sequence(items) => !items.is_empty() && items.iter().all(Reply::is_push),
            _ => false,
        }
    }

    /// True when this reply is better written a piece at a time than encoded whole: it is or
    /// holds a streamed reply (EXEC's answer holding SRANDMEMBER's, say), or a bulk string so
    /// big that a copy of it would double the memory it takes (GET of a 512 MB value).
    pub fn worth_streaming(&self) -> bool {
        match self {
            Reply::Stream(_) => true,
            Reply::Bulk(b) => b.len() > STREAMED_BULK_MIN,
            Reply::Array(items)
            | Reply::Set(items)
            | Reply::Push(items)
            | Reply::Sequence(items) => items.iter().any(Reply::worth_streaming),
            _ => false,
        }
    }

    /// This reply as a stream that writes it a piece at a time, streamed parts included.
    pub fn into_stream(self) -> StreamedReply {
        match self {
            Reply::Stream(stream) => stream,
            Reply::Bulk(data) => StreamedReply::new(BulkStream {
                data,
                written: None,
            }),
            reply => StreamedReply::new(NestedStream {
                pending: std::collections::VecDeque::from([reply]),
            }),
        }
    }

    /// Whether this is an error reply; callers use it for stats and for
    /// aborting transactions/scripts.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Appends the wire form of this reply for protocol `proto` to `out`.
    pub fn encode(&self, out: &mut BytesMut, proto: Protocol) {
        let resp3 = proto == Protocol::Resp3;
        match self {
            Reply::Simple(s) => write_line(out, b'+', s.as_bytes()),
            Reply::Error(s) => {
                // Tolerate callers that already wrote Redis' leading dash.
                let text = s.as_bytes();
                write_line(out, b'-', text.strip_prefix(b"-").unwrap_or(text));
            }
            Reply::Integer(n) => write_header(out, b':', *n),
            Reply::Bulk(b) => write_bulk(out, b),
            Reply::Null => out.extend_from_slice(if resp3 { b"_\r\n" } else { b"$-1\r\n" }),
            Reply::NullArray => out.extend_from_slice(if resp3 { b"_\r\n" } else { b"*-1\r\n" }),
            Reply::Array(items) => encode_aggregate(out, b'*', items, proto),
            Reply::Set(items) => {
                encode_aggregate(out, if resp3 { b'~' } else { b'*' }, items, proto)
            }
            Reply::Push(items) => {
                encode_aggregate(out, if resp3 { b'>' } else { b'*' }, items, proto)
            }
            Reply::Sequence(items) => {
                for item in items {
                    item.encode(out, proto);
                }
            }
            // Written whole when asked here; the worker streams every reply that holds one
            // instead (see `server::workers`).
            Reply::Stream(stream) => while stream.fill(out, proto, usize::MAX) {},
            Reply::Map(pairs) => {
                if resp3 {
                    write_len_header(out, b'%', pairs.len());
                } else {
                    write_len_header(out, b'*', pairs.len().saturating_mul(2));
                }
                for (k, v) in pairs {
                    k.encode(out, proto);
                    v.encode(out, proto);
                }
            }
            Reply::Double(d) => {
                let mut buf = DoubleBuf::new();
                let text = buf.format(*d);
                if resp3 {
                    write_line(out, b',', text);
                } else {
                    write_bulk(out, text);
                }
            }
            Reply::HumanDouble(d) => {
                let text = format_human_double(*d);
                if resp3 {
                    write_line(out, b',', text.as_bytes());
                } else {
                    write_bulk(out, text.as_bytes());
                }
            }
            Reply::Bool(b) => out.extend_from_slice(match (resp3, *b) {
                (true, true) => b"#t\r\n",
                (true, false) => b"#f\r\n",
                (false, true) => b":1\r\n",
                (false, false) => b":0\r\n",
            }),
            Reply::Verbatim(b) => {
                if resp3 {
                    out.reserve(b.len() + MAX_INT_LEN + 8);
                    write_len_header(out, b'=', b.len().saturating_add(4));
                    out.extend_from_slice(b"txt:");
                    out.extend_from_slice(b);
                    out.extend_from_slice(b"\r\n");
                } else {
                    write_bulk(out, b);
                }
            }
        }
    }
}

/// Writes an aggregate header followed by each element.
fn encode_aggregate(out: &mut BytesMut, prefix: u8, items: &[Reply], proto: Protocol) {
    write_len_header(out, prefix, items.len());
    for item in items {
        item.encode(out, proto);
    }
}

/// Writes `<prefix><n>\r\n` for a signed value.
fn write_header(out: &mut BytesMut, prefix: u8, n: i64) {
    let mut digits = itoa::Buffer::new();
    let s = digits.format(n).as_bytes();
    out.reserve(s.len() + 3);
    out.put_u8(prefix);
    out.extend_from_slice(s);
    out.extend_from_slice(b"\r\n");
}

/// Writes `<prefix><len>\r\n` for a length or count.
fn write_len_header(out: &mut BytesMut, prefix: u8, len: usize) {
    let mut digits = itoa::Buffer::new();
    let s = digits.format(len).as_bytes();
    out.reserve(s.len() + 3);
    out.put_u8(prefix);
    out.extend_from_slice(s);
    out.extend_from_slice(b"\r\n");
}

/// Writes a length-prefixed bulk string, reserving its full size once.
fn write_bulk(out: &mut BytesMut, data: &[u8]) {
    out.reserve(data.len() + MAX_INT_LEN + 5);
    write_len_header(out, b'$', data.len());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Writes a single-line reply (`+`, `-`, `,`), turning any embedded CR/LF
/// into spaces so the text can never break the framing.
fn write_line(out: &mut BytesMut, prefix: u8, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.put_u8(prefix);
    if memchr::memchr2(b'\r', b'\n', text).is_none() {
        out.extend_from_slice(text);
    } else {
        for &b in text {
            out.put_u8(if b == b'\r' || b == b'\n' { b' ' } else { b });
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Redis' "human" long double text (`LD_STR_HUMAN`): 17 decimals, trailing zeros and a
/// trailing point removed, `-0` written `0`.
pub fn format_human_double(d: f64) -> String {
    let mut s = format!("{d:.17}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

/// Formats a double the way Redis 7.0 replies with it: C's `%.17g`, except
/// that infinities are `inf`/`-inf` and every NaN is `nan`.
pub fn format_double(d: f64) -> String {
    let mut buf = DoubleBuf::new();
    // The formatter only ever emits ASCII.
    String::from_utf8_lossy(buf.format(d)).into_owned()
}

/// Stack scratch space for number formatting, so encoding doubles needs no
/// heap allocation. 32 bytes covers the longest `{:.16e}` and `%.17g` forms
/// (e.g. `-1.2345678901234567e-308`, 24 bytes).
struct DoubleBuf {
    /// Raw scientific rendering produced by Rust's formatter.
    sci: [u8; 32],
    /// Number of valid bytes in `sci`.
    sci_len: usize,
    /// Final `%.17g` text.
    out: [u8; 32],
    /// Number of valid bytes in `out`.
    out_len: usize,
}

/// Lets `write!` fill the scientific scratch area; overflowing it is an
/// error rather than a panic (it cannot happen for `f64`).
impl std::fmt::Write for DoubleBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.sci_len + s.len();
        let dst = self.sci.get_mut(self.sci_len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.sci_len = end;
        Ok(())
    }
}

impl DoubleBuf {
    /// Empty scratch buffers.
    fn new() -> Self {
        DoubleBuf {
            sci: [0; 32],
            sci_len: 0,
            out: [0; 32],
            out_len: 0,
        }
    }

    /// Appends bytes to the output area (bounded; excess is dropped, which
    /// cannot occur for `f64` inputs).
    fn push(&mut self, bytes: &[u8]) {
        let end = (self.out_len + bytes.len()).min(self.out.len());
        let n = end - self.out_len;
        self.out[self.out_len..end].copy_from_slice(&bytes[..n]);
        self.out_len = end;
    }

    /// Renders `d` as `%.17g` and returns the text.
    ///
    /// Rust's `{:.16e}` gives the correctly rounded 17 significant digits
    /// (ties to even, like glibc) and the post-rounding exponent X. C's `%g`
    /// then uses fixed notation when -4 <= X < 17 and scientific otherwise,
    /// and in both cases drops trailing zeros and a bare decimal point.
    fn format(&mut self, d: f64) -> &[u8] {
        self.sci_len = 0;
        self.out_len = 0;
        if d.is_nan() {
            self.push(b"nan");
            return &self.out[..self.out_len];
        }
        if d.is_infinite() {
            self.push(if d > 0.0 { b"inf" } else { b"-inf" });
            return &self.out[..self.out_len];
        }
        if write!(self, "{d:.16e}").is_err() {
            // Unreachable for finite f64; fall back to something valid.
            self.push(b"0");
            return &self.out[..self.out_len];
        }
        let sci = self.sci;
        let sci = &sci[..self.sci_len];
        let (negative, body) = match sci.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, sci),
        };
        let e_pos = body.iter().position(|&b| b == b'e').unwrap_or(body.len());
        let (mantissa, exp_part) = body.split_at(e_pos);
        let exp: i32 = exp_part
            .get(1..)
            .and_then(|e| std::str::from_utf8(e).ok())
            .and_then(|e| e.parse().ok())
            .unwrap_or(0);
        // 17 significant digits without the decimal point.
        let mut digits = [b'0'; 17];
        let mut n = 0;
        for &b in mantissa.iter().filter(|b| b.is_ascii_digit()) {
            if let Some(slot) = digits.get_mut(n) {
                *slot = b;
                n += 1;
            }
        }
        // Significant digits left after dropping trailing zeros (at least one).
        let sig = digits.iter().rposition(|&b| b != b'0').map_or(1, |p| p + 1);

        if negative {
            self.push(b"-");
        }
        if (-4..17).contains(&exp) {
            if exp >= 0 {
                // exp < 17, so the integer part fits in the 17 digits.
                let int_len = usize::try_from(exp).unwrap_or(0) + 1;
                self.push(&digits[..int_len]);
                if sig > int_len {
                    self.push(b".");
                    self.push(&digits[int_len..sig]);
                }
            } else {
                self.push(b"0.");
                for _ in 0..(-exp - 1) {
                    self.push(b"0");
                }
                self.push(&digits[..sig]);
            }
        } else {
            self.push(&digits[..1]);
            if sig > 1 {
                self.push(b".");
                self.push(&digits[1..sig]);
            }
            self.push(if exp < 0 { b"e-" } else { b"e+" });
            let abs = exp.unsigned_abs();
            if abs < 10 {
                self.push(b"0");
            }
            let mut num = itoa::Buffer::new();
            let text = num.format(abs);
            self.push(text.as_bytes());
        }
        &self.out[..self.out_len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes `r` for `proto` and returns the bytes.
    fn enc(r: &Reply, proto: Protocol) -> Vec<u8> {
        let mut out = BytesMut::new();
        r.encode(&mut out, proto);
        out.to_vec()
    }

    /// Writes `r` as the worker does when it streams: pieces of at most about `budget` bytes.
    fn streamed(r: Reply, budget: usize) -> (Vec<u8>, usize) {
        let stream = r.into_stream();
        let mut out = BytesMut::new();
        let mut pieces = 1;
        while stream.fill(&mut out, Protocol::Resp2, budget) {
            pieces += 1;
        }
        (out.to_vec(), pieces)
    }

    #[test]
    fn big_bulk_strings_are_streamed_alone_and_inside_aggregates() {
        let big = Reply::bulk(vec![b'v'; STREAMED_BULK_MIN + 10]);
        assert!(big.worth_streaming());
        assert!(!Reply::bulk(vec![b'v'; 10]).worth_streaming());
        let (out, pieces) = streamed(big.clone(), 64 * 1024);
        assert_eq!(out, enc(&big, Protocol::Resp2));
        assert!(pieces > 10, "{pieces} pieces");
        let array = Reply::Array(vec![Reply::Integer(1), big.clone(), Reply::bulk("x")]);
        assert!(array.worth_streaming());
        let (out, _) = streamed(array.clone(), 64 * 1024);
        assert_eq!(out, enc(&array, Protocol::Resp2));
    }

    /// Asserts the RESP2 and RESP3 encodings of `r`.
    fn check(r: Reply, resp2: &[u8], resp3: &[u8]) {
        assert_eq!(
            enc(&r, Protocol::Resp2),
            resp2,
            "RESP2 of {r:?}: {:?}",
            String::from_utf8_lossy(&enc(&r, Protocol::Resp2))
        );
        assert_eq!(
            enc(&r, Protocol::Resp3),
            resp3,
            "RESP3 of {r:?}: {:?}",
            String::from_utf8_lossy(&enc(&r, Protocol::Resp3))
        );
    }

    #[test]
    fn default_protocol_is_resp2() {
        assert_eq!(Protocol::default(), Protocol::Resp2);
    }

    #[test]
    fn simple_and_ok() {
        check(Reply::ok(), b"+OK\r\n", b"+OK\r\n");
        check(Reply::Simple("PONG".into()), b"+PONG\r\n", b"+PONG\r\n");
        check(
            Reply::Simple(String::from("a\r\nb").into()),
            b"+a  b\r\n",
            b"+a  b\r\n",
        );
    }

    #[test]
    fn errors() {
        let e = Reply::err("ERR syntax error");
        assert!(e.is_error());
        assert!(!Reply::ok().is_error());
        check(e, b"-ERR syntax error\r\n", b"-ERR syntax error\r\n");
        check(
            Reply::err(String::from(
                "WRONGTYPE Operation against a key holding the wrong kind of value",
            )),
            b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
            b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        );
        check(
            Reply::err("ERR bad\r\nthing\n"),
            b"-ERR bad  thing \r\n",
            b"-ERR bad  thing \r\n",
        );
        check(
            Reply::err("-ERR dashed"),
            b"-ERR dashed\r\n",
            b"-ERR dashed\r\n",
        );
    }

    #[test]
    fn integers() {
        check(Reply::Integer(0), b":0\r\n", b":0\r\n");
        check(Reply::Integer(-42), b":-42\r\n", b":-42\r\n");
        check(
            Reply::Integer(i64::MIN),
            b":-9223372036854775808\r\n",
            b":-9223372036854775808\r\n",
        );
        check(
            Reply::Integer(i64::MAX),
            b":9223372036854775807\r\n",
            b":9223372036854775807\r\n",
        );
    }

    #[test]
    fn bulks() {
        check(Reply::bulk("hello"), b"$5\r\nhello\r\n", b"$5\r\nhello\r\n");
        check(Reply::bulk(Bytes::new()), b"$0\r\n\r\n", b"$0\r\n\r\n");
        check(
            Reply::bulk_from_slice(b"a\r\n\0\xff"),
            b"$5\r\na\r\n\0\xff\r\n",
            b"$5\r\na\r\n\0\xff\r\n",
        );
        check(
            Reply::bulk(vec![b'x'; 3]),
            b"$3\r\nxxx\r\n",
            b"$3\r\nxxx\r\n",
        );
    }

    #[test]
    fn nulls() {
        check(Reply::Null, b"$-1\r\n", b"_\r\n");
        check(Reply::NullArray, b"*-1\r\n", b"_\r\n");
    }

    #[test]
    fn arrays_and_nesting() {
        check(Reply::Array(vec![]), b"*0\r\n", b"*0\r\n");
        let nested = Reply::Array(vec![
            Reply::Integer(1),
            Reply::Array(vec![Reply::bulk("a"), Reply::Null]),
            Reply::Array(vec![Reply::Array(vec![Reply::ok()])]),
            Reply::Bool(true),
        ]);
        check(
            nested,
            b"*4\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n*1\r\n*1\r\n+OK\r\n:1\r\n",
            b"*4\r\n:1\r\n*2\r\n$1\r\na\r\n_\r\n*1\r\n*1\r\n+OK\r\n#t\r\n",
        );
    }

    #[test]
    fn maps() {
        let m = Reply::Map(vec![
            (Reply::bulk("f1"), Reply::Integer(1)),
            (Reply::bulk("f2"), Reply::Double(2.5)),
        ]);
        check(
            m,
            b"*4\r\n$2\r\nf1\r\n:1\r\n$2\r\nf2\r\n$3\r\n2.5\r\n",
            b"%2\r\n$2\r\nf1\r\n:1\r\n$2\r\nf2\r\n,2.5\r\n",
        );
        check(Reply::Map(vec![]), b"*0\r\n", b"%0\r\n");
    }

    #[test]
    fn sets() {
        check(
            Reply::Set(vec![Reply::bulk("a"), Reply::bulk("b")]),
            b"*2\r\n$1\r\na\r\n$1\r\nb\r\n",
            b"~2\r\n$1\r\na\r\n$1\r\nb\r\n",
        );
    }

    #[test]
    fn doubles() {
        check(Reply::Double(1.5), b"$3\r\n1.5\r\n", b",1.5\r\n");
        check(Reply::HumanDouble(2.0), b"$1\r\n2\r\n", b",2\r\n");
        check(
            Reply::HumanDouble(13.361389338970184),
            b"$20\r\n13.36138933897018433\r\n",
            b",13.36138933897018433\r\n",
        );
        check(
            Reply::Double(0.1),
            b"$19\r\n0.10000000000000001\r\n",
            b",0.10000000000000001\r\n",
        );
        check(Reply::Double(f64::INFINITY), b"$3\r\ninf\r\n", b",inf\r\n");
        check(
            Reply::Double(f64::NEG_INFINITY),
            b"$4\r\n-inf\r\n",
            b",-inf\r\n",
        );
        check(Reply::Double(f64::NAN), b"$3\r\nnan\r\n", b",nan\r\n");
        check(Reply::Double(-f64::NAN), b"$3\r\nnan\r\n", b",nan\r\n");
    }

    #[test]
    fn bools() {
        check(Reply::Bool(true), b":1\r\n", b"#t\r\n");
        check(Reply::Bool(false), b":0\r\n", b"#f\r\n");
    }

    #[test]
    fn verbatim() {
        check(
            Reply::Verbatim(Bytes::from_static(b"# Server\r\nx:1\r\n")),
            b"$15\r\n# Server\r\nx:1\r\n\r\n",
            b"=19\r\ntxt:# Server\r\nx:1\r\n\r\n",
        );
    }

    #[test]
    fn push() {
        let p = Reply::Push(vec![
            Reply::bulk("message"),
            Reply::bulk("ch"),
            Reply::bulk("hi"),
        ]);
        check(
            p,
            b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
            b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
        );
    }

    #[test]
    fn encode_appends() {
        let mut out = BytesMut::from(&b"prefix"[..]);
        Reply::Integer(7).encode(&mut out, Protocol::Resp2);
        Reply::ok().encode(&mut out, Protocol::Resp3);
        assert_eq!(&out[..], b"prefix:7\r\n+OK\r\n");
    }

    /// Expected strings were produced with C printf semantics via
    /// `python3 -c "print('%.17g' % x)"`.
    #[test]
    fn format_double_matches_c_printf() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (-1.0, "-1"),
            (1.5, "1.5"),
            (3.0, "3"),
            (0.1, "0.10000000000000001"),
            (0.2, "0.20000000000000001"),
            (0.3, "0.29999999999999999"),
            (1.1, "1.1000000000000001"),
            (-2.5, "-2.5"),
            (100.0, "100"),
            (123456.789, "123456.789"),
            (1e15, "1000000000000000"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (1e20, "1e+20"),
            (1e21, "1e+21"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (99999999999999999.0, "1e+17"),
            (12345678901234567.0, "12345678901234568"),
            (0.0001, "0.0001"),
            (0.00012345, "0.00012344999999999999"),
            (0.00001, "1.0000000000000001e-05"),
            (1e-5, "1.0000000000000001e-05"),
            (1.5e-7, "1.4999999999999999e-07"),
            (1e100, "1e+100"),
            (1e-100, "1e-100"),
            (5e-324, "4.9406564584124654e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (2251799813685247.0 + 0.75, "2251799813685247.8"),
            (1.0 / 1_048_576.0, "9.5367431640625e-07"),
            (123e-300, "1.2299999999999999e-298"),
            (9007199254740993.0, "9007199254740992"),
            (1234.5678, "1234.5678"),
            (2.0 / 3.0, "0.66666666666666663"),
            (-1234.5e-10, "-1.2345000000000001e-07"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
        ];
        for &(x, want) in cases {
            assert_eq!(format_double(x), want, "format_double({x:e})");
        }
    }
}
