//! `pika_tools`: maintenance tools for pika-rs data.
//!
//! One module per subcommand: it defines its clap `Args` and a `run` returning the process
//! exit code; `Command` below lists them.

mod backup;
mod binlog;
mod check;
mod describe;
mod export;
mod import;
mod loader;
mod progress;
mod rdb_import;
mod restore;
mod source;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Maintenance tools for pika-rs.
#[derive(Parser, Debug)]
#[command(name = "pika_tools", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Pika's form: the tool to run (`-t backup -s ./pika.conf`).
    #[arg(short = 't', value_name = "TOOL")]
    tool: Option<String>,
    /// Pika's form: the configuration file for `-t`.
    #[arg(short = 's', value_name = "FILE", requires = "tool")]
    conf: Option<std::path::PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    Backup(backup::Args),
    Binlog(binlog::Args),
    Check(check::Args),
    Export(export::Args),
    Import(import::Args),
    Restore(restore::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = match (cli.command, cli.tool.as_deref(), cli.conf) {
        (Some(c), _, _) => c,
        (None, Some("backup"), Some(config)) => Command::Backup(backup::Args {
            config,
            output: None,
        }),
        (None, Some(tool), _) => {
            eprintln!("pika_tools: -t {tool} needs -s FILE, and -t knows only backup");
            return ExitCode::from(2);
        }
        (None, None, _) => {
            eprintln!("pika_tools: name a subcommand (see --help)");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Backup(args) => backup::run(&args),
        Command::Binlog(args) => binlog::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Export(args) => export::run(&args),
        Command::Import(args) => import::run(&args),
        Command::Restore(args) => restore::run(&args),
    }
}
