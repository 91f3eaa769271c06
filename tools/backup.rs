//! `pika_tools backup`: a consistent backup of a pika-rs database, from the running server
//! (it asks for BGSAVE and waits) or, when none answers, offline from its db-path.

use std::io::BufReader;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use pika::config::Config;

/// Back up a database.
///
/// With the server running (found at the configuration's bind address and port), asks it for
/// BGSAVE, waits for it and prints where the backup is. Without a running server, opens the
/// configuration's db-path itself and writes the backup. Backups go to the configuration's
/// dump-path as <dump-prefix><YYYYMMDDHHMMSS>/, or into --output.
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The server's configuration file (pika.conf).
    #[arg(long, short = 's', value_name = "FILE")]
    pub config: PathBuf,
    /// Directory to put the backup in instead of dump-path.
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,
}

pub fn run(args: &Args) -> ExitCode {
    let started = Instant::now();
    let cfg = match Config::load(Some(&args.config), &[]) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pika_tools backup: {e}");
            return ExitCode::from(1);
        }
    };
    let result = match TcpStream::connect((cfg.bind.as_str(), cfg.port)) {
        Ok(stream) => online(stream, &cfg),
        Err(_) => offline(&cfg),
    };
    let result = result.and_then(|dir| match &args.output {
        Some(out) => move_into(&dir, out),
        None => Ok(dir),
    });
    match result {
        Ok(dir) => {
            let digest = std::fs::read_to_string(dir.join(pika::services::backup::INFO_FILE))
                .ok()
                .and_then(|t| pika::services::backup::BackupInfo::parse(&t))
                .map(|i| i.digest)
                .unwrap_or_default();
            println!(
                "backup written to {} in {:.1}s (digest {digest})",
                dir.display(),
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pika_tools backup: {e}");
            ExitCode::from(1)
        }
    }
}

/// Sends one command; an error reply becomes the error.
fn command(
    out: &mut TcpStream,
    input: &mut BufReader<TcpStream>,
    args: &[&str],
) -> Result<String, String> {
    pika::resp::client::call(out, input, args).map_err(|e| e.to_string())?
}

fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

/// Asks the running server for BGSAVE and waits for it.
fn online(stream: TcpStream, cfg: &Config) -> Result<PathBuf, String> {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut out = stream.try_clone().map_err(|e| e.to_string())?;
    let mut input = BufReader::new(stream);
    if !cfg.requirepass.is_empty() {
        command(&mut out, &mut input, &["AUTH", &cfg.requirepass])?;
    }
    let before = command(&mut out, &mut input, &["LASTSAVE"])?;
    let reply = command(&mut out, &mut input, &["BGSAVE"])?;
    let bar = crate::progress::waiting(&format!("server on port {}: {reply}", cfg.port));
    loop {
        let info = command(&mut out, &mut input, &["INFO", "persistence"])?;
        if info_field(&info, "rdb_bgsave_in_progress").as_deref() == Some("0") {
            bar.finish_and_clear();
            if info_field(&info, "rdb_last_bgsave_status").as_deref() != Some("ok") {
                return Err("the server reports the backup failed (see its log)".into());
            }
            let after = command(&mut out, &mut input, &["LASTSAVE"])?;
            let path = info_field(&info, "backup_path").unwrap_or_default();
            if path.is_empty() || (after == before && !Path::new(&path).exists()) {
                return Err("the server wrote no backup".into());
            }
            return Ok(PathBuf::from(path));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Opens the database directly (no server holds it) and writes the backup.
fn offline(cfg: &Config) -> Result<PathBuf, String> {
    eprintln!(
        "no server answers on {}:{}; backing up {} directly",
        cfg.bind,
        cfg.port,
        cfg.db_path.display()
    );
    if !cfg.db_path.exists() {
        return Err(format!("no database at {}", cfg.db_path.display()));
    }
    let storage = pika::storage::Storage::open(
        &cfg.db_path,
        cfg.databases,
        &pika::server::engine_options(cfg),
    )
    .map_err(|e| e.to_string())?;
    pika::services::backup::create(&storage, &cfg.dump_path, &cfg.dump_prefix)
}

/// Moves a finished backup into `out` (renamed when on the same filesystem, copied otherwise).
fn move_into(dir: &Path, out: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(out).map_err(|e| e.to_string())?;
    let target = out.join(dir.file_name().unwrap_or_default());
    if std::fs::rename(dir, &target).is_ok() {
        return Ok(target);
    }
    std::fs::create_dir_all(&target).map_err(|e| e.to_string())?;
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        std::fs::copy(entry.path(), target.join(entry.file_name())).map_err(|e| e.to_string())?;
    }
    std::fs::remove_dir_all(dir).map_err(|e| e.to_string())?;
    Ok(target)
}
