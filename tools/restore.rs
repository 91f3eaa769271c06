//! `pika_tools restore`: puts a backup (from BGSAVE, SAVE or `pika_tools backup`) back as a
//! server's database. Stop the server, restore into a new or empty db-path, start it.

use std::path::PathBuf;
use std::process::ExitCode;

/// Restore a backup into an empty database directory.
///
/// The restored server holds exactly the backed-up data. It also knows the binlog position the
/// backup was taken at: attached with SLAVEOF to the server it came from, it continues
/// incrementally from there (no full sync) while that server still has the binlog.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The backup directory (dump-path/<dump-prefix><YYYYMMDDHHMMSS>).
    #[arg(long, value_name = "BACKUP")]
    from: PathBuf,
    /// The database directory to create (the server's db-path); must be absent or empty.
    #[arg(long, value_name = "DIR")]
    db_path: PathBuf,
}

pub fn run(args: &Args) -> ExitCode {
    match pika::services::backup::restore(&args.from, &args.db_path) {
        Ok(info) => {
            println!(
                "restored {} into {} (binlog position {} of history {}; DEBUG DIGEST {})",
                args.from.display(),
                args.db_path.display(),
                info.seq,
                info.replid,
                info.digest
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pika_tools restore: {e}");
            ExitCode::from(1)
        }
    }
}
