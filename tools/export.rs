//! `pika_tools export`: writes a dataset as a stream of Redis commands (RESP) that
//! `redis-cli --pipe` or `pika_tools import` loads into Redis or another pika-rs server.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::progress;
use crate::source::{self, SourceOptions};
use pika::dataset::Replayer;

/// Write a dataset as Redis commands.
///
/// SOURCE is a running server (`host:port`), a stopped server's db-path, or a backup (from
/// BGSAVE or `pika_tools backup`; read through a copy, the backup stays untouched). Writes
/// SELECT, then per key SET / HSET / RPUSH / SADD / ZADD (large collections in several
/// commands) and PEXPIREAT for keys with a TTL, to stdout or --output. Load it with
/// `redis-cli --pipe < FILE` or `pika_tools import FILE --to host:port`.
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// host:port, a database directory, or a backup.
    #[arg(value_name = "SOURCE", required_unless_present = "db_path")]
    source: Option<String>,
    /// The database directory or backup to read (same as SOURCE).
    #[arg(long, value_name = "DIR", conflicts_with = "source")]
    db_path: Option<PathBuf>,
    /// Write here instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    source_options: SourceOptions,
}

pub fn run(args: &Args) -> ExitCode {
    match export(args) {
        Ok((keys, commands)) => {
            eprintln!("exported {keys} keys as {commands} commands");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pika_tools export: {e}");
            ExitCode::from(1)
        }
    }
}

fn export(args: &Args) -> Result<(u64, u64), String> {
    let spec = match (&args.source, &args.db_path) {
        (Some(s), _) => s.clone(),
        (None, Some(p)) => p.display().to_string(),
        (None, None) => return Err("name a SOURCE".into()),
    };
    let mut source = source::open(&spec, &args.source_options)?;
    let sink: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::new(sink);
    let (mut keys, mut commands) = (0u64, 0u64);
    let mut replayer = Replayer::default();
    let bar = progress::counter("keys exported");
    source.for_each(&mut |record| {
        replayer.replay(&record, &mut |a| {
            commands += 1;
            pika::resp::client::write_request(&mut out, a).map_err(|e| e.to_string())
        })?;
        keys += 1;
        bar.inc(1);
        Ok(())
    })?;
    bar.finish_and_clear();
    out.flush().map_err(|e| e.to_string())?;
    Ok((keys, commands))
}
