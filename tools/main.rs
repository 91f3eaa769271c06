//! `pika_tools`: maintenance tools for pika-rs data.

use clap::Parser;

/// Maintenance tools for pika-rs.
#[derive(Parser, Debug)]
#[command(name = "pika_tools", version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
