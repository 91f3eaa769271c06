//! Progress display for long-running subcommands (drawn on stderr only when it is a
//! terminal, so scripts and pipes see just the summary line).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over a known number of bytes.
pub fn bytes(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// A spinner counting items of unknown total.
pub fn counter(what: &str) -> ProgressBar {
    spinner(what, "{spinner} {msg}: {human_pos} ({per_sec}) {elapsed}")
}

/// A spinner for a wait of unknown length.
pub fn waiting(what: &str) -> ProgressBar {
    spinner(what, "{spinner} {msg} {elapsed}")
}

/// A ticking spinner labelled `what`, drawn with `template`.
fn spinner(what: &str, template: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(what.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
