//! A raw RESP2 connection subscribed to every channel with `PSUBSCRIBE *`, for tests of
//! what the server publishes (keyspace notifications, eviction events).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::{call, TestServer};

/// Marks the end of what a test expects: published after the commands under test, it must
/// be the next message (so nothing unexpected came in between).
pub const MARKER: &str = "notifications-test-marker";

/// A raw RESP2 connection subscribed to the pattern `*`.
pub struct Subscriber {
    reader: BufReader<TcpStream>,
}

impl Subscriber {
    /// Subscribes to every channel and waits until a published marker reaches it.
    pub fn new(s: &TestServer) -> Subscriber {
        let mut stream = s.raw();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        stream.write_all(b"PSUBSCRIBE *\r\n").expect("send");
        let mut sub = Subscriber {
            reader: BufReader::new(stream),
        };
        assert_eq!(sub.frame(), vec!["psubscribe", "*", ":1"]);
        // The subscription is live once a PUBLISH counts it.
        let mut writer = s.conn();
        for _ in 0..200 {
            if call::<i64>(&mut writer, &["PUBLISH", MARKER, "ready"]) == 1 {
                assert_eq!(sub.next(), (MARKER.to_string(), "ready".to_string()));
                return sub;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the pattern subscription never became live");
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader
            .read_line(&mut line)
            .expect("a reply within 5 s");
        line.trim_end_matches("\r\n").to_string()
    }

    /// One array reply: bulk strings as text, integers as `:n`.
    pub fn frame(&mut self) -> Vec<String> {
        let header = self.line();
        let n: usize = header
            .strip_prefix('*')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("not an array: {header:?}"));
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let item = self.line();
            if let Some(len) = item.strip_prefix('$') {
                let len: usize = len.parse().expect("bulk length");
                let mut buf = vec![0u8; len + 2];
                self.reader.read_exact(&mut buf).expect("bulk");
                buf.truncate(len);
                out.push(String::from_utf8(buf).expect("utf-8"));
            } else {
                out.push(item);
            }
        }
        out
    }

    /// The next message: (channel, payload).
    pub fn next(&mut self) -> (String, String) {
        let frame = self.frame();
        assert_eq!(frame.len(), 4, "a pmessage: {frame:?}");
        assert_eq!(frame[0], "pmessage");
        (frame[2].clone(), frame[3].clone())
    }
}
