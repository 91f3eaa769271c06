//! The `pika` server binary: command line → configuration → logging → server.

use std::process::ExitCode;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use pika::config::Config;

/// Sends logs to `log-path/pika.log` and to stderr, at the configured level.
fn init_logging(cfg: &Config) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let level = match cfg.loglevel.as_str() {
        "debug" => "debug",
        "warn" => "warn",
        "error" => "error",
        _ => "info",
    };
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(filter());
    let (file_layer, guard) = match std::fs::create_dir_all(&cfg.log_path) {
        Ok(()) => {
            let appender = tracing_appender::rolling::never(&cfg.log_path, "pika.log");
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let layer = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(writer)
                .with_filter(filter());
            (Some(layer), Some(guard))
        }
        Err(e) => {
            eprintln!("cannot create log-path {}: {e}", cfg.log_path.display());
            (None, None)
        }
    };
    tracing_subscriber::registry()
        .with(stderr)
        .with(file_layer)
        .init();
    guard
}

fn main() -> ExitCode {
    let args = pika::cli::parse_args(std::env::args_os()).unwrap_or_else(|e| e.exit());
    let cfg = match Config::load(args.config_file.as_deref(), &args.overrides) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("pika: {e}");
            return ExitCode::from(1);
        }
    };
    let _log_guard = init_logging(&cfg);
    if !cfg.pidfile.is_empty() {
        if let Err(e) = std::fs::write(&cfg.pidfile, format!("{}\n", std::process::id())) {
            tracing::warn!("cannot write pidfile {}: {e}", cfg.pidfile);
        }
    }
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        port = cfg.port,
        db_path = %cfg.db_path.display(),
        "starting pika"
    );
    let pidfile = cfg.pidfile.clone();
    let result = pika::server::run(cfg);
    if !pidfile.is_empty() {
        let _ = std::fs::remove_file(&pidfile);
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("pika: {e}");
            ExitCode::from(1)
        }
    }
}
