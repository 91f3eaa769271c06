//! The `pika` server binary: command line → configuration → logging → server.

use std::process::ExitCode;

use pika::config::Config;

/// Counts what the server holds on the heap, for INFO's `used_memory`.
#[global_allocator]
static ALLOCATOR: pika::util::alloc_counter::CountingAlloc =
    pika::util::alloc_counter::CountingAlloc;

fn main() -> ExitCode {
    pika::util::malloc_tuning::apply();
    let args = pika::cli::parse_args(std::env::args_os()).unwrap_or_else(|e| e.exit());
    let cfg = match Config::load(args.config_file.as_deref(), &args.overrides) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("pika: {e}");
            return ExitCode::from(1);
        }
    };
    // Detach before any thread starts: fork keeps only the calling thread.
    if cfg.daemonize {
        let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
        if let Err(e) = daemonize::Daemonize::new().working_directory(cwd).start() {
            eprintln!("pika: cannot daemonize: {e}");
            return ExitCode::from(1);
        }
    }
    let _log_guard = pika::logging::init(&cfg);
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
