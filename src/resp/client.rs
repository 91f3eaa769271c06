//! The client side, as far as a slave, MIGRATE and `pika_tools` need it: send a command, read
//! its one reply. Blocking, for short exchanges before or beside the real work, or for a
//! pipeline whose replies are all single values.

use std::io::{self, BufRead, Read, Write};

/// Longest reply line read (a status, an error or a bulk header).
const MAX_LINE: u64 = 64 * 1024;
/// Longest bulk reply accepted: the replies read here (AUTH, PIKA-REPLICATE, INFO) are small,
/// and a peer announcing more is not a server to trust.
const MAX_BULK: u64 = 64 << 20;

/// Writes `args` as a RESP request (an array of bulk strings).
pub fn write_request(out: &mut impl Write, args: &[&[u8]]) -> io::Result<()> {
    write!(out, "*{}\r\n", args.len())?;
    for a in args {
        write!(out, "${}\r\n", a.len())?;
        out.write_all(a)?;
        out.write_all(b"\r\n")?;
    }
    Ok(())
}

/// Sends one command and reads its reply: `Ok(Ok(text))` for a status, integer or bulk string
/// (a null bulk reads as empty), `Ok(Err(message))` for an error reply, `Err` when the
/// connection fails or closes.
pub fn call(
    out: &mut impl Write,
    input: &mut impl BufRead,
    args: &[&str],
) -> io::Result<Result<String, String>> {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    write_request(out, &args)?;
    out.flush()?;
    read_reply(input)
}

/// Reads one reply, as [`call`] returns it: `Ok(Ok(text))` for a status, integer or bulk
/// string (a null bulk reads as empty), `Ok(Err(message))` for an error reply (without its
/// `-`), `Err` when the connection fails or closes. For pipelines: one call per request sent.
pub fn read_reply(input: &mut impl BufRead) -> io::Result<Result<String, String>> {
    let mut line = String::new();
    input.by_ref().take(MAX_LINE).read_line(&mut line)?;
    if line.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection",
        ));
    }
    let line = line.trim_end();
    let text = line.get(1..).unwrap_or_default();
    match line.as_bytes().first() {
        Some(b'-') => Ok(Err(text.to_string())),
        Some(b'$') => {
            let Ok(len) = text.parse::<i64>() else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "bad bulk length",
                ));
            };
            let Ok(len) = u64::try_from(len) else {
                return Ok(Ok(String::new()));
            };
            if len > MAX_BULK {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bulk reply of {len} bytes is too large"),
                ));
            }
            // Grows with what arrives: a length the peer does not send costs no memory.
            let mut body = Vec::new();
            input.by_ref().take(len + 2).read_to_end(&mut body)?;
            if body.len() as u64 != len + 2 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection inside a reply",
                ));
            }
            body.truncate(len as usize);
            Ok(Ok(String::from_utf8_lossy(&body).into_owned()))
        }
        _ => Ok(Ok(text.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies() {
        let mut out = Vec::new();
        let mut input: &[u8] = b"+OK\r\n-ERR no\r\n$5\r\nhello\r\n$-1\r\n:7\r\n";
        assert_eq!(
            call(&mut out, &mut input, &["SET", "k", "v"]).unwrap(),
            Ok("OK".into())
        );
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
        assert_eq!(
            call(&mut out, &mut input, &["X"]).unwrap(),
            Err("ERR no".into())
        );
        assert_eq!(
            call(&mut out, &mut input, &["GET"]).unwrap(),
            Ok("hello".into())
        );
        assert_eq!(
            call(&mut out, &mut input, &["GET"]).unwrap(),
            Ok(String::new())
        );
        assert_eq!(
            call(&mut out, &mut input, &["INCR"]).unwrap(),
            Ok("7".into())
        );
        assert!(call(&mut out, &mut input, &["PING"]).is_err());
    }
}
