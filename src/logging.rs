//! Logging: tracing to `log-path/pika.log` and to stderr, at the configured level, which
//! CONFIG SET loglevel changes while the server runs.

use std::sync::OnceLock;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

use crate::config::Config;

/// Handle to swap the level filter at run time.
static LEVEL: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

/// The tracing filter for a `loglevel` value (RUST_LOG, when set, wins at start-up).
fn filter_for(level: &str) -> EnvFilter {
    let level = match level {
        "debug" | "warn" | "error" => level,
        _ => "info",
    };
    EnvFilter::new(level)
}

/// Installs the global subscriber. Keep the returned guard alive: it flushes the file writer.
pub fn init(cfg: &Config) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let initial = EnvFilter::try_from_default_env().unwrap_or_else(|_| filter_for(&cfg.loglevel));
    let (filter, handle) = reload::Layer::new(initial);
    let _ = LEVEL.set(handle);
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let (file_layer, guard) = match std::fs::create_dir_all(&cfg.log_path) {
        Ok(()) => {
            let appender = tracing_appender::rolling::never(&cfg.log_path, "pika.log");
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let layer = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(writer);
            (Some(layer), Some(guard))
        }
        Err(e) => {
            eprintln!("cannot create log-path {}: {e}", cfg.log_path.display());
            (None, None)
        }
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(file_layer)
        .init();
    guard
}

/// Applies a new `loglevel` (CONFIG SET). A no-op when logging was not initialised.
pub fn set_level(level: &str) {
    if let Some(handle) = LEVEL.get() {
        if let Err(e) = handle.reload(filter_for(level)) {
            tracing::warn!("cannot change the log level: {e}");
        }
    }
}
