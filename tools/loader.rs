//! Sends a stream of commands to a server, pipelined: one thread writes while another reads
//! the replies, so the load runs at the server's speed rather than one round trip per command.

use std::io::{BufReader, BufWriter, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use pika::resp::client::{call, write_request};

/// Error replies kept to print; the rest are only counted.
const KEEP_ERRORS: usize = 10;

/// What the server answered.
#[derive(Debug, Default)]
pub struct LoadSummary {
    pub commands: u64,
    pub errors: u64,
    /// The first few error replies.
    pub first_errors: Vec<String>,
}

pub struct Loader {
    out: BufWriter<TcpStream>,
    sent: u64,
    /// Replies the reader is to wait for; unknown (max) until `finish`.
    expected: Arc<AtomicU64>,
    reader: JoinHandle<Result<LoadSummary, String>>,
}

impl Loader {
    pub fn connect(addr: &str, password: Option<&str>) -> Result<Self, String> {
        let stream =
            TcpStream::connect(addr).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let mut input = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
        let mut out = BufWriter::with_capacity(256 * 1024, stream);
        if let Some(p) = password {
            call(&mut out, &mut input, &["AUTH", p])
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("{addr}: {e}"))?;
        }
        let expected = Arc::new(AtomicU64::new(u64::MAX));
        let reader = {
            let expected = expected.clone();
            std::thread::spawn(move || read_replies(input, &expected))
        };
        Ok(Loader {
            out,
            sent: 0,
            expected,
            reader,
        })
    }

    pub fn send(&mut self, args: &[&[u8]]) -> Result<(), String> {
        self.sent += 1;
        write_request(&mut self.out, args).map_err(|e| format!("sending: {e}"))
    }

    /// Waits for every reply. A final PING (not counted) guarantees the reader wakes after
    /// learning how many replies to expect.
    pub fn finish(mut self) -> Result<LoadSummary, String> {
        self.expected.store(self.sent + 1, Ordering::SeqCst);
        write_request(&mut self.out, &[b"PING"]).map_err(|e| e.to_string())?;
        self.out.flush().map_err(|e| format!("sending: {e}"))?;
        let mut summary = self
            .reader
            .join()
            .map_err(|_| "the reply reader failed".to_string())??;
        summary.commands = self.sent;
        Ok(summary)
    }
}

fn read_replies(input: BufReader<TcpStream>, expected: &AtomicU64) -> Result<LoadSummary, String> {
    let mut input = input;
    let mut parser = redis::Parser::new();
    let mut summary = LoadSummary::default();
    let mut read = 0u64;
    while read < expected.load(Ordering::SeqCst) {
        let reply = parser
            .parse_value(&mut input)
            .map_err(|e| format!("reading replies: {e}"))?;
        read += 1;
        if let redis::Value::ServerError(e) = reply {
            summary.errors += 1;
            if summary.first_errors.len() < KEEP_ERRORS {
                summary.first_errors.push(format!("command {read}: {e}"));
            }
        }
    }
    Ok(summary)
}
