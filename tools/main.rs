//! `pika_tools`: maintenance tools for pika-rs data.
//!
//! One module per subcommand: it defines its clap `Args` and a `run` returning the process
//! exit code; `Command` below lists them.

mod binlog;
mod restore;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Maintenance tools for pika-rs.
#[derive(Parser, Debug)]
#[command(name = "pika_tools", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Binlog(binlog::Args),
    Restore(restore::Args),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Binlog(args) => binlog::run(&args),
        Command::Restore(args) => restore::run(&args),
    }
}
