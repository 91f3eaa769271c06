//! `pika_tools binlog`: lists the write batches of a database's binlog (its RocksDB WAL).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use pika::replication::binlog::split_by_notes;
use pika::storage::batch_note::BatchNote;
use pika::storage::wal::{
    parse_batch, read_wal_file, wal_files, FormatError, TornKind, WalRecords,
};

use crate::describe::{describe_op, escape};

/// Print the write batches of the binlog, one line per command.
///
/// Reads the WAL files of a database directory (DIR/*.log and DIR/archive/*.log, by file
/// number) and prints, for every batch overlapping [--from, --to]:
///
///   seq=<first seq> count=<n> time=<RFC 3339> db=<db> cmd=<command> ops=<k>
///
/// followed by one indented line per op (`  put meta db=0 key=foo type=string val=bar`).
/// time, db and cmd come from the batch's note and print `-` when it has none (db `*`: several
/// databases or none). Batches RocksDB grouped into one WAL record are listed one per command.
///
/// Only reads files, so it can run while the server does; the file being written may end in a
/// half-written record, which is skipped quietly. A damaged or cut-short record elsewhere ends
/// the listing of its file with a warning on stderr. The last line sums up what was listed.
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Database directory (the server's db-path).
    #[arg(long, value_name = "DIR", required_unless_present = "file")]
    db_path: Option<PathBuf>,
    /// Read only this WAL file instead of the files of --db-path.
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// List batches with a sequence number at or after SEQ.
    #[arg(long, value_name = "SEQ")]
    from: Option<u64>,
    /// List batches with a sequence number at or before SEQ.
    #[arg(long, value_name = "SEQ")]
    to: Option<u64>,
}

/// Totals for the summary line.
#[derive(Default)]
struct Totals {
    files: usize,
    batches: u64,
    ops: u64,
}

pub fn run(args: &Args) -> ExitCode {
    let (files, quiet_short_tail) = match (&args.file, &args.db_path) {
        (Some(file), _) => (vec![file.clone()], false),
        (None, Some(dir)) => match wal_files(dir) {
            Ok(files) => (files, true),
            Err(e) => {
                eprintln!("pika_tools binlog: cannot list {}: {e}", dir.display());
                return ExitCode::FAILURE;
            }
        },
        (None, None) => unreachable!("clap requires --db-path or --file"),
    };
    let from = args.from.unwrap_or(0);
    let to = args.to.unwrap_or(u64::MAX);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut totals = Totals::default();
    let last = files.len().saturating_sub(1);
    for (i, path) in files.iter().enumerate() {
        let wal = match read_moving(path) {
            Ok(wal) => wal,
            Err(e) => {
                eprintln!("pika_tools binlog: {e}");
                return ExitCode::FAILURE;
            }
        };
        totals.files += 1;
        let past_end = match list_file(&mut out, path, &wal, from, to, &mut totals) {
            Ok(past_end) => past_end,
            // stdout closed (piped into `head`): nothing more to do.
            Err(_) => return ExitCode::SUCCESS,
        };
        if let Some(torn) = wal.torn {
            let quiet = quiet_short_tail && i == last && torn.kind == TornKind::Short;
            if !quiet {
                eprintln!("pika_tools binlog: warning: {}: {torn}", path.display());
            }
        }
        if past_end {
            break;
        }
    }
    // An error here means stdout was closed; there is nothing left to say.
    let _ = writeln!(
        out,
        "files={} batches={} ops={}",
        totals.files, totals.batches, totals.ops
    )
    .and_then(|()| out.flush());
    ExitCode::SUCCESS
}

/// Reads a WAL file; a live file the server archives meanwhile is read from the archive.
fn read_moving(path: &Path) -> Result<WalRecords, FormatError> {
    match read_wal_file(path) {
        Err(FormatError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            let archived = path
                .parent()
                .map(|dir| dir.join("archive"))
                .zip(path.file_name())
                .map(|(dir, name)| dir.join(name));
            match archived {
                Some(archived) => read_wal_file(&archived),
                None => read_wal_file(path),
            }
        }
        other => other,
    }
}

/// Prints the batches of one file that overlap `[from, to]`; returns whether a batch past
/// `to` was seen (later files hold only later batches).
fn list_file(
    out: &mut impl Write,
    path: &Path,
    wal: &WalRecords,
    from: u64,
    to: u64,
    totals: &mut Totals,
) -> std::io::Result<bool> {
    for record in &wal.records {
        let batch = match parse_batch(&record.data) {
            Ok(b) => b,
            Err(e) => {
                eprintln!(
                    "pika_tools binlog: warning: {} offset {}: {e}",
                    path.display(),
                    record.offset
                );
                continue;
            }
        };
        for command in split_by_notes(&batch) {
            let first = command.sequence;
            let last = (first + u64::from(command.count))
                .saturating_sub(1)
                .max(first);
            if first > to {
                return Ok(true);
            }
            if last < from {
                continue;
            }
            let (time, db, cmd) = match &command.note {
                Some(note) => (
                    rfc3339(note.time_ms),
                    if note.db == BatchNote::NO_DB {
                        "*".to_string()
                    } else {
                        note.db.to_string()
                    },
                    escape(note.command.as_bytes()),
                ),
                None => ("-".to_string(), "-".to_string(), "-".to_string()),
            };
            writeln!(
                out,
                "seq={first} count={} time={time} db={db} cmd={cmd} ops={}",
                command.count,
                command.ops.len()
            )?;
            for op in command.ops {
                writeln!(out, "  {}", describe_op(op))?;
            }
            totals.batches += 1;
            totals.ops += command.ops.len() as u64;
        }
    }
    Ok(false)
}

/// Unix milliseconds as RFC 3339 UTC with milliseconds: `2024-05-01T12:34:56.789Z`.
fn rfc3339(ms: u64) -> String {
    let t = pika::util::civil::from_unix(ms / 1000);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339(4_102_444_799_999), "2099-12-31T23:59:59.999Z");
    }
}
