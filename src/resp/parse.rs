//! Request parser: client bytes → argument vectors.
//!
//! Job: cut complete requests off the front of a connection's read buffer,
//! accepting exactly what Redis 7 accepts (`processMultibulkBuffer` /
//! `processInlineBuffer`) and failing with the same error texts, so that
//! clients and test suites written against Redis behave identically here.
//!
//! Invariants:
//! - Arguments are zero-copy [`Bytes`] split off the caller's buffer (inline
//!   tokens that needed unquoting are the only freshly allocated ones); they
//!   are arbitrary bytes, never assumed to be UTF-8.
//! - Bytes are consumed from the buffer only once they are fully understood;
//!   a multibulk request that arrives in pieces keeps its progress (arguments
//!   already read, the length of the bulk being awaited) in the parser, so
//!   every byte is examined a bounded number of times no matter how the
//!   request is fragmented.
//! - No input can cause a panic or an unbounded allocation: counts and lengths
//!   are checked against [`ParseLimits`] before they are trusted, and header
//!   lines without a terminator are rejected once they exceed the inline limit.
//! - After an error the stream position is meaningless; the caller must reply
//!   with the error and close the connection (as Redis does). The parser resets
//!   itself so that it never carries a half-built request into later use.

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

/// Default `proto-max-bulk-len`: Redis' 512 MB ceiling on a single argument.
const DEFAULT_MAX_BULK_LEN: usize = 512 * 1024 * 1024;
/// Default cap on arguments per multibulk request, as in Redis' historic limit.
const DEFAULT_MAX_MULTIBULK_LEN: usize = 1024 * 1024;
/// Redis' `PROTO_INLINE_MAX_SIZE`: longest header/inline line kept waiting for its terminator.
const DEFAULT_MAX_INLINE_LEN: usize = 64 * 1024;
/// Upper bound on the argument vector reserved up front, so a client merely
/// announcing a huge count cannot make us allocate for it before sending data.
const MAX_PREALLOC_ARGS: usize = 1024;

/// Size limits applied while parsing; they keep hostile clients from making
/// the server buffer or allocate without bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Largest accepted bulk argument (`proto-max-bulk-len`).
    pub max_bulk_len: usize,
    /// Largest accepted number of arguments in one multibulk request.
    pub max_multibulk_len: usize,
    /// Longest inline request / header line buffered while waiting for its end.
    pub max_inline_len: usize,
}

/// Defaults mirror a stock Redis configuration so behaviour matches out of the box.
impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_bulk_len: DEFAULT_MAX_BULK_LEN,
            max_multibulk_len: DEFAULT_MAX_MULTIBULK_LEN,
            max_inline_len: DEFAULT_MAX_INLINE_LEN,
        }
    }
}

/// A malformed request. The payload is the error text without the `ERR `
/// code (e.g. `Protocol error: invalid bulk length`), ready to be sent back
/// before the connection is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl ProtocolError {
    /// Builds an error from static text; all but one message are fixed strings.
    fn new(msg: &str) -> Self {
        ProtocolError(msg.to_owned())
    }
}

/// Shows the client-facing text so logs read like what the client received.
impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Lets protocol errors flow through `?` into generic error types.
impl std::error::Error for ProtocolError {}

/// Resumable request parser; one per connection.
///
/// Holds only the progress of a multibulk request that has been partially
/// received, so feeding a large request in many small reads costs time
/// proportional to its size, not to the number of reads times its size.
#[derive(Debug, Default)]
pub struct RequestParser {
    /// Arguments still expected by the multibulk in progress; 0 between requests.
    remaining: usize,
    /// Length of the bulk whose `$` header was consumed but whose data (plus
    /// trailing CRLF) has not fully arrived yet.
    pending_bulk: Option<usize>,
    /// Arguments of the in-progress multibulk gathered so far.
    args: Vec<Bytes>,
}

/// Outcome of reading a `*<count>` line, telling the driver loop what to do next.
enum MultibulkStart {
    /// The count line is not complete yet.
    NeedMore,
    /// `*0`, `*-1` and other non-positive counts: nothing to run, skip it.
    Empty,
    /// A positive count was read; arguments follow.
    Started,
}

impl RequestParser {
    /// Creates a parser positioned between requests.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses the next complete request from the front of `buf`, consuming its bytes.
    ///
    /// `Ok(None)`: more data is needed (either nothing was consumed, or partial
    /// progress on a multibulk request is remembered internally so it is not
    /// re-parsed on the next call). Empty requests (blank inline line, `*0`,
    /// `*-1`) are skipped silently, never returned. On `Err` the connection
    /// should be answered with `-ERR <text>` and closed.
    pub fn next_request(
        &mut self,
        buf: &mut BytesMut,
        limits: &ParseLimits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let result = self.parse_next(buf, limits);
        if result.is_err() {
            self.reset();
        }
        result
    }

    /// Bytes still to arrive, beyond the `buffered` ones, to complete the bulk string whose
    /// header was read (0 when none is in progress).
    pub fn missing_bulk_bytes(&self, buffered: usize) -> usize {
        self.pending_bulk
            .map_or(0, |len| len.saturating_add(2).saturating_sub(buffered))
    }

    /// Drops any partial request so an errored parser starts clean.
    fn reset(&mut self) {
        self.remaining = 0;
        self.pending_bulk = None;
        self.args = Vec::new();
    }

    /// Driver loop: dispatches on the request type and skips empty requests.
    fn parse_next(
        &mut self,
        buf: &mut BytesMut,
        limits: &ParseLimits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            if self.remaining > 0 {
                return self.read_bulks(buf, limits);
            }
            let Some(&first) = buf.first() else {
                return Ok(None);
            };
            if first == b'*' {
                match self.read_multibulk_count(buf, limits)? {
                    MultibulkStart::NeedMore => return Ok(None),
                    MultibulkStart::Empty | MultibulkStart::Started => continue,
                }
            }
            match parse_inline(buf, limits)? {
                None => return Ok(None),
                Some(args) if args.is_empty() => continue,
                Some(args) => return Ok(Some(args)),
            }
        }
    }

    /// Reads the `*<count>\r\n` line that opens a multibulk request.
    ///
    /// Like Redis, the line ends at the first `\r` and the byte after it is
    /// skipped without being checked.
    fn read_multibulk_count(
        &mut self,
        buf: &mut BytesMut,
        limits: &ParseLimits,
    ) -> Result<MultibulkStart, ProtocolError> {
        let Some(cr) = find_header_end(buf) else {
            if buf.len() > limits.max_inline_len {
                return Err(ProtocolError::new(
                    "Protocol error: too big mbulk count string",
                ));
            }
            return Ok(MultibulkStart::NeedMore);
        };
        if cr + 2 > buf.len() {
            return Ok(MultibulkStart::NeedMore);
        }
        let count = buf
            .get(1..cr)
            .and_then(parse_strict_i64)
            .ok_or_else(|| ProtocolError::new("Protocol error: invalid multibulk length"))?;
        let count = if count <= 0 {
            0
        } else {
            match usize::try_from(count) {
                Ok(n) if n <= limits.max_multibulk_len => n,
                _ => {
                    return Err(ProtocolError::new(
                        "Protocol error: invalid multibulk length",
                    ))
                }
            }
        };
        buf.advance(cr + 2);
        if count == 0 {
            return Ok(MultibulkStart::Empty);
        }
        self.remaining = count;
        self.pending_bulk = None;
        self.args = Vec::with_capacity(count.min(MAX_PREALLOC_ARGS));
        Ok(MultibulkStart::Started)
    }

    /// Reads as many `$<len>\r\n<data>\r\n` arguments as are available,
    /// returning the request once the last one is in.
    fn read_bulks(
        &mut self,
        buf: &mut BytesMut,
        limits: &ParseLimits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        while self.remaining > 0 {
            let len = match self.pending_bulk {
                Some(len) => len,
                None => {
                    let Some(len) = read_bulk_header(buf, limits)? else {
                        return Ok(None);
                    };
                    self.pending_bulk = Some(len);
                    len
                }
            };
            // Data plus the two trailing bytes Redis skips (normally CRLF).
            if buf.len() < 2 || buf.len() - 2 < len {
                return Ok(None);
            }
            let arg = buf.split_to(len).freeze();
            buf.advance(2);
            self.args.push(arg);
            self.pending_bulk = None;
            self.remaining -= 1;
        }
        Ok(Some(std::mem::take(&mut self.args)))
    }
}

/// Position of the `\r` ending a header line. Redis looks for `\r` alone
/// (not CRLF) and trusts the following byte, so we do the same.
fn find_header_end(buf: &[u8]) -> Option<usize> {
    memchr::memchr(b'\r', buf)
}

/// Reads one `$<len>\r\n` bulk header, consuming it once it is complete and
/// valid. `Ok(None)` means the header has not fully arrived.
fn read_bulk_header(
    buf: &mut BytesMut,
    limits: &ParseLimits,
) -> Result<Option<usize>, ProtocolError> {
    let Some(cr) = find_header_end(buf) else {
        if buf.len() > limits.max_inline_len {
            return Err(ProtocolError::new(
                "Protocol error: too big bulk count string",
            ));
        }
        return Ok(None);
    };
    if cr + 2 > buf.len() {
        return Ok(None);
    }
    // `cr < buf.len()`, so the buffer has a first byte.
    let first = buf.first().copied().unwrap_or(b'\r');
    if first != b'$' {
        return Err(ProtocolError(format!(
            "Protocol error: expected '$', got '{}'",
            char::from(first)
        )));
    }
    let len = buf
        .get(1..cr)
        .and_then(parse_strict_i64)
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n <= limits.max_bulk_len)
        .ok_or_else(|| ProtocolError::new("Protocol error: invalid bulk length"))?;
    buf.advance(cr + 2);
    Ok(Some(len))
}

/// Parses one inline (telnet-style) request line ending at `\n`, with an
/// optional `\r` before it. `Ok(None)`: the line is incomplete. An empty
/// vector means a blank line, which the caller skips.
fn parse_inline(
    buf: &mut BytesMut,
    limits: &ParseLimits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let Some(nl) = memchr::memchr(b'\n', buf) else {
        if buf.len() > limits.max_inline_len {
            return Err(ProtocolError::new("Protocol error: too big inline request"));
        }
        return Ok(None);
    };
    let line_len = if nl > 0 && buf.get(nl - 1) == Some(&b'\r') {
        nl - 1
    } else {
        nl
    };
    if line_len == 0 {
        buf.advance(nl + 1);
        return Ok(Some(Vec::new()));
    }
    let line = buf.split_to(line_len).freeze();
    buf.advance(nl + 1 - line_len);
    split_args(&line)
        .map(Some)
        .ok_or_else(|| ProtocolError::new("Protocol error: unbalanced quotes in request"))
}

/// C `isspace` in the "C" locale: what Redis skips between inline arguments
/// and accepts after a closing quote.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Bytes that end an unquoted inline argument in Redis (a narrower set than
/// `isspace`: vertical tab and form feed stay inside the argument).
fn ends_plain_arg(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Splits an inline line into arguments with the rules of Redis'
/// `sdssplitargs`. Unquoted arguments are zero-copy slices of `line`.
/// Returns `None` on unbalanced quotes or a closing quote glued to more text.
///
/// Deliberate difference: a NUL byte is an ordinary byte here, whereas Redis'
/// C-string scanning would treat it as end of input. Redis never actually
/// processes such lines (its newline search stops at the NUL), so this only
/// makes binary input usable rather than changing an observable behaviour.
pub fn split_args(line: &Bytes) -> Option<Vec<Bytes>> {
    let s: &[u8] = line;
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while s.get(i).is_some_and(|&b| is_c_space(b)) {
            i += 1;
        }
        if i >= s.len() {
            return Some(args);
        }
        let start = i;
        while let Some(&b) = s.get(i) {
            if ends_plain_arg(b) || b == b'"' || b == b'\'' {
                break;
            }
            i += 1;
        }
        match s.get(i) {
            Some(&quote) if quote == b'"' || quote == b'\'' => {
                // Text before the quote belongs to the same argument.
                let mut arg = s[start..i].to_vec();
                i = if quote == b'"' {
                    read_double_quoted(s, i + 1, &mut arg)?
                } else {
                    read_single_quoted(s, i + 1, &mut arg)?
                };
                args.push(Bytes::from(arg));
            }
            _ => args.push(line.slice(start..i)),
        }
    }
}

/// Checks what follows a closing quote (whitespace or end of line) and
/// returns the index just past the quote.
fn after_closing_quote(s: &[u8], quote_at: usize) -> Option<usize> {
    match s.get(quote_at + 1) {
        Some(&b) if !is_c_space(b) => None,
        _ => Some(quote_at + 1),
    }
}

/// Value of an ASCII hex digit, if it is one.
fn hex_value(b: Option<&u8>) -> Option<u8> {
    let b = *b?;
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Reads the body of a double-quoted argument starting at `i` (just past the
/// opening quote), applying `\xHH` and C-style escapes. Returns the index
/// after the closing quote, or `None` if the quote never closes.
fn read_double_quoted(s: &[u8], mut i: usize, arg: &mut Vec<u8>) -> Option<usize> {
    loop {
        let b = *s.get(i)?;
        match b {
            b'\\' if s.get(i + 1) == Some(&b'x') => {
                match (hex_value(s.get(i + 2)), hex_value(s.get(i + 3))) {
                    (Some(hi), Some(lo)) => {
                        arg.push(hi * 16 + lo);
                        i += 4;
                    }
                    // Not a hex escape: `\x` is just an escaped `x`.
                    _ => {
                        arg.push(b'x');
                        i += 2;
                    }
                }
            }
            b'\\' if i + 1 < s.len() => {
                let escaped = s.get(i + 1).copied().unwrap_or(b'\\');
                arg.push(match escaped {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'b' => 0x08,
                    b'a' => 0x07,
                    other => other,
                });
                i += 2;
            }
            b'"' => return after_closing_quote(s, i),
            _ => {
                arg.push(b);
                i += 1;
            }
        }
    }
}

/// Reads the body of a single-quoted argument starting at `i`; only `\'` is
/// an escape. Returns the index after the closing quote, or `None` if the
/// quote never closes.
fn read_single_quoted(s: &[u8], mut i: usize, arg: &mut Vec<u8>) -> Option<usize> {
    loop {
        let b = *s.get(i)?;
        match b {
            b'\\' if s.get(i + 1) == Some(&b'\'') => {
                arg.push(b'\'');
                i += 2;
            }
            b'\'' => return after_closing_quote(s, i),
            _ => {
                arg.push(b);
                i += 1;
            }
        }
    }
}

/// Parses a decimal integer with Redis' `string2ll` strictness: optional
/// `-`, no `+`, no leading zeros (other than a lone `0`), no spaces, at most
/// 20 characters, and no overflow. Anything looser would accept requests
/// Redis rejects.
fn parse_strict_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let (&first, rest) = digits.split_first()?;
    if !(b'1'..=b'9').contains(&first) {
        return None;
    }
    let mut value = u64::from(first - b'0');
    for &d in rest {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        if value == 1u64 << 63 {
            Some(i64::MIN)
        } else {
            i64::try_from(value).ok().map(|v| -v)
        }
    } else {
        i64::try_from(value).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Convenience: parse all complete requests from `input` in one buffer.
    fn parse_all(input: &[u8]) -> (Vec<Vec<Vec<u8>>>, Result<(), ProtocolError>, BytesMut) {
        let mut p = RequestParser::new();
        let limits = ParseLimits::default();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        loop {
            match p.next_request(&mut buf, &limits) {
                Ok(Some(req)) => out.push(req.iter().map(|a| a.to_vec()).collect()),
                Ok(None) => return (out, Ok(()), buf),
                Err(e) => return (out, Err(e), buf),
            }
        }
    }

    /// Parses a single request expected to be complete.
    fn one(input: &[u8]) -> Vec<Vec<u8>> {
        let (mut reqs, res, _) = parse_all(input);
        assert_eq!(res, Ok(()));
        assert_eq!(reqs.len(), 1, "expected one request from {input:?}");
        reqs.remove(0)
    }

    /// Parses input expected to fail and returns the error text.
    fn err_of(input: &[u8]) -> String {
        err_with(input, &ParseLimits::default())
    }

    /// Like `err_of` with custom limits.
    fn err_with(input: &[u8], limits: &ParseLimits) -> String {
        let mut p = RequestParser::new();
        let mut buf = BytesMut::from(input);
        loop {
            match p.next_request(&mut buf, limits) {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("expected an error for {input:?}"),
                Err(e) => return e.0,
            }
        }
    }

    /// Builds the owned form of a request for comparisons.
    fn v(args: &[&[u8]]) -> Vec<Vec<u8>> {
        args.iter().map(|a| a.to_vec()).collect()
    }

    /// Encodes a request as a multibulk, the way clients do.
    pub(super) fn mb(args: &[&[u8]]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    #[test]
    fn simple_multibulk() {
        assert_eq!(
            one(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n"),
            v(&[b"SET", b"k", b"value"])
        );
    }

    #[test]
    fn multibulk_consumes_exactly_its_bytes() {
        let (reqs, res, rest) = parse_all(b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI");
        assert_eq!(res, Ok(()));
        assert_eq!(reqs, vec![v(&[b"PING"])]);
        // The partial second request has been absorbed into parser state.
        assert_eq!(&rest[..], b"PI");
    }

    #[test]
    fn empty_multibulks_are_skipped() {
        let (reqs, res, rest) = parse_all(b"*0\r\n*-1\r\n*-7\r\n*1\r\n$4\r\nPING\r\n*0\r\n");
        assert_eq!(res, Ok(()));
        assert_eq!(reqs, vec![v(&[b"PING"])]);
        assert!(rest.is_empty());
    }

    #[test]
    fn only_empty_requests_yield_none() {
        let (reqs, res, rest) = parse_all(b"*0\r\n\r\n\n   \r\n*-1\r\n");
        assert_eq!(res, Ok(()));
        assert!(reqs.is_empty());
        assert!(rest.is_empty());
    }

    #[test]
    fn invalid_multibulk_lengths() {
        for bad in [
            &b"*+1\r\n"[..],
            b"*01\r\n",
            b"* 1\r\n",
            b"*1 \r\n",
            b"*\r\n",
            b"*-\r\n",
            b"*-0\r\n",
            b"*abc\r\n",
            b"*99999999999999999999\r\n",
            b"*1048577\r\n",
        ] {
            assert_eq!(
                err_of(bad),
                "Protocol error: invalid multibulk length",
                "{bad:?}"
            );
        }
        // The limit itself is accepted.
        let (_, res, _) = parse_all(b"*1048576\r\n");
        assert_eq!(res, Ok(()));
    }

    #[test]
    fn multibulk_limit_is_configurable() {
        let limits = ParseLimits {
            max_multibulk_len: 2,
            ..ParseLimits::default()
        };
        assert_eq!(
            err_with(b"*3\r\n", &limits),
            "Protocol error: invalid multibulk length"
        );
    }

    #[test]
    fn too_big_mbulk_count_string() {
        let mut input = b"*1".to_vec();
        input.resize(64 * 1024 + 1, b'1');
        assert_eq!(err_of(&input), "Protocol error: too big mbulk count string");
        // Exactly at the limit we keep waiting.
        input.truncate(64 * 1024);
        let (reqs, res, rest) = parse_all(&input);
        assert!(reqs.is_empty());
        assert_eq!(res, Ok(()));
        assert_eq!(rest.len(), 64 * 1024);
    }

    #[test]
    fn count_line_waits_for_byte_after_cr() {
        let (reqs, res, rest) = parse_all(b"*1\r");
        assert!(reqs.is_empty());
        assert_eq!(res, Ok(()));
        assert_eq!(&rest[..], b"*1\r");
    }

    #[test]
    fn expected_dollar() {
        assert_eq!(
            err_of(b"*1\r\n:3\r\n"),
            "Protocol error: expected '$', got ':'"
        );
        assert_eq!(
            err_of(b"*2\r\n$1\r\na\r\nxyz\r\n"),
            "Protocol error: expected '$', got 'x'"
        );
        // Redis only checks once the header line is complete.
        let (reqs, res, _) = parse_all(b"*1\r\nfoo");
        assert!(reqs.is_empty());
        assert_eq!(res, Ok(()));
    }

    #[test]
    fn invalid_bulk_lengths() {
        for bad in [
            &b"*1\r\n$-1\r\n"[..],
            b"*1\r\n$-5\r\n",
            b"*1\r\n$+3\r\n",
            b"*1\r\n$03\r\n",
            b"*1\r\n$\r\n",
            b"*1\r\n$3x\r\n",
            b"*1\r\n$ 3\r\n",
            b"*1\r\n$536870913\r\n",
            b"*1\r\n$99999999999999999999\r\n",
        ] {
            assert_eq!(
                err_of(bad),
                "Protocol error: invalid bulk length",
                "{bad:?}"
            );
        }
        let limits = ParseLimits {
            max_bulk_len: 3,
            ..ParseLimits::default()
        };
        assert_eq!(
            err_with(b"*1\r\n$4\r\nabcd\r\n", &limits),
            "Protocol error: invalid bulk length"
        );
    }

    #[test]
    fn zero_length_bulk() {
        assert_eq!(one(b"*2\r\n$3\r\nGET\r\n$0\r\n\r\n"), v(&[b"GET", b""]));
    }

    #[test]
    fn max_bulk_len_is_inclusive() {
        let limits = ParseLimits {
            max_bulk_len: 3,
            ..ParseLimits::default()
        };
        let mut p = RequestParser::new();
        let mut buf = BytesMut::from(&b"*1\r\n$3\r\nabc\r\n"[..]);
        let req = p
            .next_request(&mut buf, &limits)
            .expect("valid")
            .expect("complete");
        assert_eq!(req, vec![Bytes::from_static(b"abc")]);
    }

    #[test]
    fn too_big_bulk_count_string() {
        let mut input = b"*1\r\n$1".to_vec();
        input.resize(4 + 64 * 1024 + 1, b'1');
        assert_eq!(err_of(&input), "Protocol error: too big bulk count string");
    }

    #[test]
    fn bulk_trailer_is_skipped_unchecked() {
        assert_eq!(one(b"*2\r\n$1\r\naXY$1\r\nbZZ"), v(&[b"a", b"b"]));
    }

    #[test]
    fn binary_safe_bulks() {
        let key: &[u8] = b"a\r\nb\0\xff\r\n";
        let val: &[u8] = b"\r\n\r\n$3\r\n*1\r\n";
        assert_eq!(one(&mb(&[b"SET", key, val])), v(&[b"SET", key, val]));
    }

    #[test]
    fn error_resets_parser() {
        let mut p = RequestParser::new();
        let limits = ParseLimits::default();
        let mut buf = BytesMut::from(&b"*3\r\n$3\r\nSET\r\n!"[..]);
        assert!(p.next_request(&mut buf, &limits).is_ok());
        buf.extend_from_slice(b"\r\n");
        assert!(p.next_request(&mut buf, &limits).is_err());
        let mut fresh = BytesMut::from(&b"PING\r\n"[..]);
        assert_eq!(
            p.next_request(&mut fresh, &limits),
            Ok(Some(vec![Bytes::from_static(b"PING")]))
        );
    }

    #[test]
    fn pipelined_batch() {
        let mut input = Vec::new();
        let n = 20_000;
        for i in 0..n {
            if i % 3 == 0 {
                input.extend_from_slice(format!("SET key:{i} {i}\r\n").as_bytes());
            } else {
                let k = format!("key:{i}");
                input.extend_from_slice(&mb(&[b"GET", k.as_bytes()]));
            }
        }
        let start = std::time::Instant::now();
        let (reqs, res, rest) = parse_all(&input);
        let elapsed = start.elapsed();
        assert_eq!(res, Ok(()));
        assert!(rest.is_empty());
        assert_eq!(reqs.len(), n);
        for (i, r) in reqs.iter().enumerate() {
            let k = format!("key:{i}").into_bytes();
            if i % 3 == 0 {
                assert_eq!(r, &vec![b"SET".to_vec(), k, i.to_string().into_bytes()]);
            } else {
                assert_eq!(r, &vec![b"GET".to_vec(), k]);
            }
        }
        // Linear-time parsing; generous bound even for unoptimised builds.
        assert!(elapsed.as_secs() < 5, "parsing took {elapsed:?}");
    }

    /// Feeds `input` one byte at a time and collects every request.
    fn feed_bytewise(input: &[u8]) -> (Vec<Vec<Vec<u8>>>, Result<(), ProtocolError>) {
        let mut p = RequestParser::new();
        let limits = ParseLimits::default();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for &b in input {
            buf.extend_from_slice(&[b]);
            loop {
                match p.next_request(&mut buf, &limits) {
                    Ok(Some(req)) => out.push(req.iter().map(|a| a.to_vec()).collect()),
                    Ok(None) => break,
                    Err(e) => return (out, Err(e)),
                }
            }
        }
        (out, Ok(()))
    }

    #[test]
    fn incremental_feeding_matches_whole_buffer() {
        let mut input = Vec::new();
        input.extend_from_slice(&mb(&[b"SET", b"bin\r\nkey", b"\r\n"]));
        input.extend_from_slice(b"*0\r\n");
        input.extend_from_slice(b"inline \"quoted \\x41\" 'it\\'s'\r\n");
        input.extend_from_slice(b"\r\n");
        input.extend_from_slice(&mb(&[b"MSET", b"a", b"", b"c", b"dddddddddddddddddd"]));
        input.extend_from_slice(b"PING\n");
        input.extend_from_slice(b"*-1\r\n");
        input.extend_from_slice(&mb(&[b"GET", b"x"]));
        let (whole, res) = {
            let (r, res, rest) = parse_all(&input);
            assert!(rest.is_empty());
            (r, res)
        };
        assert_eq!(res, Ok(()));
        assert_eq!(whole.len(), 5);
        assert_eq!(feed_bytewise(&input), (whole.clone(), Ok(())));

        // Also split at every single boundary into exactly two reads.
        for cut in 0..=input.len() {
            let mut p = RequestParser::new();
            let limits = ParseLimits::default();
            let mut buf = BytesMut::from(&input[..cut]);
            let mut got = Vec::new();
            while let Some(r) = p.next_request(&mut buf, &limits).expect("valid") {
                got.push(r.iter().map(|a| a.to_vec()).collect::<Vec<_>>());
            }
            buf.extend_from_slice(&input[cut..]);
            while let Some(r) = p.next_request(&mut buf, &limits).expect("valid") {
                got.push(r.iter().map(|a| a.to_vec()).collect::<Vec<_>>());
            }
            assert_eq!(got, whole, "cut at {cut}");
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn incremental_errors_match_whole_buffer() {
        for bad in [
            &b"*1\r\n$4\r\nPING\r\n*x\r\n"[..],
            b"*2\r\n$1\r\na\r\n:1\r\n",
            b"*1\r\n$-2\r\n",
            b"GET \"abc\r\n",
        ] {
            let (whole_reqs, whole_res, _) = parse_all(bad);
            assert_eq!(feed_bytewise(bad), (whole_reqs, whole_res), "{bad:?}");
        }
    }

    #[test]
    fn big_bulk_in_chunks() {
        let payload: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let input = mb(&[b"SET", b"big", &payload]);
        let mut p = RequestParser::new();
        let limits = ParseLimits::default();
        let mut buf = BytesMut::new();
        let mut result = None;
        for chunk in input.chunks(16 * 1024) {
            assert!(result.is_none(), "request completed early");
            buf.extend_from_slice(chunk);
            result = p.next_request(&mut buf, &limits).expect("valid");
            if result.is_none() {
                // Progress is remembered: headers consumed, only the body is buffered.
                assert!(buf.len() <= payload.len() + 2);
            }
        }
        let req = result.expect("complete after last chunk");
        assert_eq!(req.len(), 3);
        assert_eq!(&req[2][..], &payload[..]);
        assert!(buf.is_empty());
    }

    #[test]
    fn args_share_the_read_buffer() {
        let input = mb(&[b"SET", b"key", b"value"]);
        let mut buf = BytesMut::from(&input[..]);
        let base = buf.as_ptr() as usize;
        let mut p = RequestParser::new();
        let req = p
            .next_request(&mut buf, &ParseLimits::default())
            .expect("valid")
            .expect("complete");
        // The value is a view into the original allocation, not a copy.
        let off = input
            .windows(5)
            .position(|w| w == b"value")
            .expect("present");
        assert_eq!(req[2].as_ptr() as usize, base + off);
    }

    #[test]
    fn inline_basic() {
        assert_eq!(one(b"SET foo bar\r\n"), v(&[b"SET", b"foo", b"bar"]));
        assert_eq!(one(b"PING\n"), v(&[b"PING"]));
        assert_eq!(one(b"  GET \t  key   \r\n"), v(&[b"GET", b"key"]));
        // Only one \r before \n is stripped; the other separates nothing.
        assert_eq!(one(b"GET k\r\r\n"), v(&[b"GET", b"k"]));
        // Binary bytes in unquoted args pass through.
        assert_eq!(one(b"SET \xff\xfe v\r\n"), v(&[b"SET", b"\xff\xfe", b"v"]));
    }

    #[test]
    fn inline_vertical_tab_and_form_feed() {
        // Skipped between args (isspace) but kept inside a plain arg.
        assert_eq!(one(b"\x0bGET a\x0bb\x0c\r\n"), v(&[b"GET", b"a\x0bb\x0c"]));
    }

    #[test]
    fn inline_quotes_and_escapes() {
        assert_eq!(
            one(b"SET \"hello world\" 'single quoted'\r\n"),
            v(&[b"SET", b"hello world", b"single quoted"])
        );
        assert_eq!(
            one(b"SET k \"\\x41\\x7a\\xFF\\n\\r\\t\\b\\a\\\\\\\"\\q\"\r\n"),
            v(&[b"SET", b"k", b"Az\xff\n\r\t\x08\x07\\\"q"])
        );
        // Invalid hex escape degrades to a literal `x`.
        assert_eq!(one(b"ECHO \"\\xZZ\"\r\n"), v(&[b"ECHO", b"xZZ"]));
        assert_eq!(one(b"ECHO \"\\x4\"\r\n"), v(&[b"ECHO", b"x4"]));
        // Single quotes only know \' ; other backslashes are literal.
        assert_eq!(one(b"ECHO 'it\\'s \\n'\r\n"), v(&[b"ECHO", b"it's \\n"]));
        // Empty quoted args are real (empty) arguments.
        assert_eq!(one(b"SET k \"\"\r\n"), v(&[b"SET", b"k", b""]));
        assert_eq!(one(b"SET k ''\r\n"), v(&[b"SET", b"k", b""]));
        // A quote inside a plain token starts quoting for the rest of it.
        assert_eq!(one(b"SET ab\"c d\"\r\n"), v(&[b"SET", b"abc d"]));
        // Closing quote followed by whitespace, including \v.
        assert_eq!(one(b"ECHO \"a\"\x0bb\r\n"), v(&[b"ECHO", b"a", b"b"]));
    }

    #[test]
    fn inline_unbalanced_quotes() {
        for bad in [
            &b"SET \"foo\r\n"[..],
            b"SET 'foo\r\n",
            b"SET \"foo\"bar\r\n",
            b"SET 'foo'bar\r\n",
            b"SET \"foo\\\"\r\n",
            b"ECHO \"\\\r\n",
        ] {
            assert_eq!(
                err_of(bad),
                "Protocol error: unbalanced quotes in request",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn inline_blank_lines_skipped() {
        let (reqs, res, rest) = parse_all(b"\r\n\n  \t \r\nPING\r\n\r\n");
        assert_eq!(res, Ok(()));
        assert_eq!(reqs, vec![v(&[b"PING"])]);
        assert!(rest.is_empty());
    }

    #[test]
    fn inline_too_big() {
        let mut input = vec![b'a'; 64 * 1024 + 1];
        assert_eq!(err_of(&input), "Protocol error: too big inline request");
        input.truncate(64 * 1024);
        let (reqs, res, _) = parse_all(&input);
        assert!(reqs.is_empty());
        assert_eq!(res, Ok(()));
        // A long line is fine as long as its newline has already arrived.
        let mut long = vec![b'a'; 100 * 1024];
        long.extend_from_slice(b"\r\n");
        assert_eq!(one(&long), vec![vec![b'a'; 100 * 1024]]);
    }

    #[test]
    fn inline_incomplete_waits() {
        let (reqs, res, rest) = parse_all(b"SET foo bar");
        assert!(reqs.is_empty());
        assert_eq!(res, Ok(()));
        assert_eq!(&rest[..], b"SET foo bar");
    }

    #[test]
    fn strict_integer_parsing() {
        assert_eq!(parse_strict_i64(b"0"), Some(0));
        assert_eq!(parse_strict_i64(b"123"), Some(123));
        assert_eq!(parse_strict_i64(b"-123"), Some(-123));
        assert_eq!(parse_strict_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_strict_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"00",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"1a",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"18446744073709551616",
            b"000000000000000000001",
        ] {
            assert_eq!(parse_strict_i64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn garbage_never_panics() {
        // Deterministic pseudo-random junk biased towards protocol bytes.
        let alphabet = b"*$\r\n0123456789-+ \"'\\xaZ\x00\xff\x0b";
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let limits = ParseLimits {
            max_bulk_len: 64,
            max_multibulk_len: 16,
            max_inline_len: 32,
        };
        for _ in 0..2000 {
            let mut p = RequestParser::new();
            let mut buf = BytesMut::new();
            for _ in 0..64 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let idx = usize::try_from(state % alphabet.len() as u64).unwrap_or(0);
                buf.extend_from_slice(&alphabet[idx..=idx]);
                loop {
                    match p.next_request(&mut buf, &limits) {
                        Ok(Some(req)) => assert!(!req.is_empty()),
                        Ok(None) => break,
                        Err(_) => {
                            buf.clear();
                            break;
                        }
                    }
                }
            }
        }
    }
}

/// Property tests: whatever bytes a client sends, the parser answers without panicking, a
/// well-formed request comes back exactly, and how the bytes are split into reads never
/// changes the outcome.
#[cfg(test)]
mod proptests {
    use super::*;
    use crate::util::mutate;
    use proptest::prelude::*;

    /// Everything a parser makes of `chunks` arriving one after the other: the requests, then
    /// the error that stopped it, if any.
    fn feed(chunks: &[&[u8]], limits: &ParseLimits) -> (Vec<Vec<Bytes>>, Option<ProtocolError>) {
        let total: usize = chunks.iter().map(|c| c.len()).sum();
        let mut p = RequestParser::new();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            loop {
                match p.next_request(&mut buf, limits) {
                    Ok(Some(req)) => {
                        assert!(!req.is_empty(), "an empty request was returned");
                        out.push(req);
                        // Every request consumes at least two bytes: no endless loop.
                        assert!(out.len() <= total, "more requests than input bytes");
                    }
                    Ok(None) => break,
                    Err(e) => return (out, Some(e)),
                }
            }
        }
        (out, None)
    }

    fn whole(input: &[u8]) -> (Vec<Vec<Bytes>>, Option<ProtocolError>) {
        feed(&[input], &ParseLimits::default())
    }

    /// `input` cut at the given positions (taken modulo its length, in any order).
    fn split_at_points<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        points.sort_unstable();
        points.dedup();
        let mut pieces = Vec::new();
        let mut start = 0;
        for p in points {
            pieces.push(&input[start..p]);
            start = p;
        }
        pieces.push(&input[start..]);
        pieces
    }

    fn encode_multibulk(args: &[Vec<u8>]) -> Vec<u8> {
        super::tests::mb(&args.iter().map(Vec::as_slice).collect::<Vec<_>>())
    }

    /// An inline line with every argument double-quoted and every byte `\xHH`-escaped.
    fn encode_inline(args: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, a) in args.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.push(b'"');
            for b in a {
                out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
            }
            out.push(b'"');
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    fn requests() -> impl Strategy<Value = Vec<Vec<Vec<u8>>>> {
        let arg = prop::collection::vec(any::<u8>(), 0..48);
        prop::collection::vec(prop::collection::vec(arg, 1..6), 1..4)
    }

    /// Byte strings built from the pieces of RESP and inline syntax, so that random input
    /// gets past the first byte (counts, lengths at the edges of i64, quotes, escapes).
    fn resp_like() -> impl Strategy<Value = Vec<u8>> {
        let token = prop_oneof![
            Just(b"*".to_vec()),
            Just(b"$".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"-1".to_vec()),
            Just(b"-5".to_vec()),
            Just(b"0".to_vec()),
            Just(b"1".to_vec()),
            Just(b"2".to_vec()),
            Just(b"3".to_vec()),
            Just(b"9223372036854775807".to_vec()),
            Just(b"9223372036854775808".to_vec()),
            Just(b"-9223372036854775808".to_vec()),
            Just(b"18446744073709551616".to_vec()),
            Just(b"\"".to_vec()),
            Just(b"'".to_vec()),
            Just(b"\\x4".to_vec()),
            Just(b"\\".to_vec()),
            Just(b" ".to_vec()),
            Just(b"PING".to_vec()),
            prop::collection::vec(any::<u8>(), 0..6),
        ];
        prop::collection::vec(token, 0..48).prop_map(|t| t.concat())
    }

    fn small_limits() -> impl Strategy<Value = ParseLimits> {
        (0usize..64, 0usize..8, 0usize..64).prop_map(|(b, m, i)| ParseLimits {
            max_bulk_len: b,
            max_multibulk_len: m,
            max_inline_len: i,
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn random_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..512)) {
            whole(&input);
        }

        #[test]
        fn resp_like_bytes_never_panic(input in resp_like(), limits in small_limits()) {
            whole(&input);
            feed(&[&input], &limits);
        }

        #[test]
        fn mutated_requests_never_panic(
            reqs in requests(),
            inline in any::<bool>(),
            edits in mutate::mutations(6),
            limits in small_limits(),
        ) {
            let encoded: Vec<u8> = reqs
                .iter()
                .flat_map(|r| if inline { encode_inline(r) } else { encode_multibulk(r) })
                .collect();
            let input = mutate::apply(&encoded, &edits);
            whole(&input);
            feed(&[&input], &limits);
        }

        #[test]
        fn multibulk_requests_round_trip(reqs in requests()) {
            let encoded: Vec<u8> = reqs.iter().flat_map(|r| encode_multibulk(r)).collect();
            let (got, err) = whole(&encoded);
            prop_assert_eq!(err, None);
            prop_assert_eq!(got, reqs);
        }

        #[test]
        fn quoted_inline_requests_round_trip(reqs in requests()) {
            let encoded: Vec<u8> = reqs.iter().flat_map(|r| encode_inline(r)).collect();
            let (got, err) = whole(&encoded);
            prop_assert_eq!(err, None);
            prop_assert_eq!(got, reqs);
        }

        #[test]
        fn any_split_of_valid_input_parses_the_same(
            reqs in requests(),
            inline in any::<bool>(),
        ) {
            let encoded: Vec<u8> = reqs
                .iter()
                .flat_map(|r| if inline { encode_inline(r) } else { encode_multibulk(r) })
                .collect();
            let expected = whole(&encoded);
            for cut in 0..=encoded.len() {
                let (a, b) = encoded.split_at(cut);
                prop_assert_eq!(&feed(&[a, b], &ParseLimits::default()), &expected, "cut at {}", cut);
            }
            let bytewise: Vec<&[u8]> = encoded.chunks(1).collect();
            prop_assert_eq!(&feed(&bytewise, &ParseLimits::default()), &expected);
        }

        #[test]
        fn any_split_of_damaged_input_parses_the_same(
            reqs in requests(),
            inline in any::<bool>(),
            edits in mutate::mutations(4),
            cuts in prop::collection::vec(any::<usize>(), 0..12),
        ) {
            let encoded: Vec<u8> = reqs
                .iter()
                .flat_map(|r| if inline { encode_inline(r) } else { encode_multibulk(r) })
                .collect();
            let input = mutate::apply(&encoded, &edits);
            let pieces = split_at_points(&input, &cuts);
            prop_assert_eq!(feed(&pieces, &ParseLimits::default()), whole(&input));
        }

        #[test]
        fn any_split_of_resp_like_input_parses_the_same(
            input in resp_like(),
            cuts in prop::collection::vec(any::<usize>(), 0..12),
        ) {
            let pieces = split_at_points(&input, &cuts);
            prop_assert_eq!(feed(&pieces, &ParseLimits::default()), whole(&input));
        }
    }
}
