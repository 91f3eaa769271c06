//! `pika_tools import`: loads a RESP command stream (from `pika_tools export`, or any file
//! `redis-cli --pipe` takes) or a Redis RDB file into a running server.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use bytes::BytesMut;
use pika::resp::parse::{ParseLimits, RequestParser};

use crate::loader::{LoadSummary, Loader};
use crate::progress;
use crate::rdb_import::RdbSummary;

/// Load a command stream or an RDB file into a server.
///
/// FILE starting with `REDIS` is read as an RDB file (as redis-server's SAVE writes it):
/// every string, list, hash, set and sorted set is recreated with its TTL, in its database.
/// Any other FILE is a RESP command stream, sent as it is. Commands are pipelined; error
/// replies are counted and the first ones printed.
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The file to load.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The server to load into.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9221")]
    to: String,
    /// Password for the server (AUTH).
    #[arg(long, short = 'a')]
    password: Option<String>,
}

pub fn run(args: &Args) -> ExitCode {
    match import(args) {
        Ok((summary, rdb)) => {
            for e in &summary.first_errors {
                eprintln!("error reply: {e}");
            }
            if let Some(rdb) = rdb {
                eprintln!(
                    "read {} keys ({} expired dropped, {} of unsupported types skipped); their digest {}",
                    rdb.keys, rdb.expired, rdb.skipped, rdb.digest
                );
            }
            eprintln!(
                "imported {}: {} commands sent, {} errors",
                args.file.display(),
                summary.commands,
                summary.errors
            );
            if summary.errors == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("pika_tools import: {e}");
            ExitCode::from(1)
        }
    }
}

fn import(args: &Args) -> Result<(LoadSummary, Option<RdbSummary>), String> {
    let name = args.file.display().to_string();
    let mut file = File::open(&args.file).map_err(|e| format!("{name}: {e}"))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut magic = [0u8; 5];
    let is_rdb = file.read_exact(&mut magic).is_ok() && &magic == b"REDIS";
    let file = File::open(&args.file).map_err(|e| format!("{name}: {e}"))?;
    let bar = progress::bytes(size, "importing");
    let input = bar.wrap_read(file);
    let mut loader = Loader::connect(&args.to, args.password.as_deref())?;
    let rdb = if is_rdb {
        Some(crate::rdb_import::load(input, &mut loader)?)
    } else {
        send_stream(input, &mut loader)?;
        None
    };
    bar.finish_and_clear();
    Ok((loader.finish()?, rdb))
}

/// Forwards every request of a RESP (or inline) command stream.
fn send_stream(mut input: impl Read, loader: &mut Loader) -> Result<(), String> {
    let limits = ParseLimits::default();
    let mut parser = RequestParser::new();
    let mut buf = BytesMut::with_capacity(1 << 20);
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        let n = input.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        while let Some(request) = parser
            .next_request(&mut buf, &limits)
            .map_err(|e| format!("malformed command stream: {}", e.0))?
        {
            let args: Vec<&[u8]> = request.iter().map(|a| a.as_ref()).collect();
            loader.send(&args)?;
        }
    }
    if !buf.is_empty() {
        return Err("the command stream ends inside a command".into());
    }
    Ok(())
}
