//! Command line: `pika [CONFIG_FILE] [--directive value ...]`, like `redis-server`.
//!
//! Directive overrides can't be declared as individual clap options (the directive table
//! is open-ended and names are matched case-insensitively), so clap only handles `--help`
//! and `--version` and collects the remaining words, which are split here into an
//! optional config file and `(name, value)` overrides. Whether a name is a real directive
//! is checked later by [`Config::load`](crate::config::Config::load), which reports it
//! as `command line: unknown directive '...'`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};

const AFTER_HELP: &str = "\
Any directive of the config file can be overridden on the command line with
`--directive value` (or `--directive=value`); overrides are applied after the
config file, in order, so the last one wins. Words following a value that do
not start with `--` are appended to it, separated by spaces (for `--save 900 1`).

Examples:
  pika conf/pika.conf
  pika conf/pika.conf --port 9222 --loglevel debug
  pika --port 7777 --db-path /tmp/pika-db/ --thread-pool-size 8
  pika conf/pika.conf --requirepass=secret";

/// What clap itself parses: only `--help`/`--version` plus the raw remaining words.
#[derive(Parser, Debug)]
#[command(
    name = "pika",
    version = env!("CARGO_PKG_VERSION"),
    about = "A disk-backed, Redis-protocol data store on RocksDB",
    override_usage = "pika [CONFIG_FILE] [--directive value ...]",
    after_help = AFTER_HELP
)]
struct RawArgs {
    /// Optional Pika-format config file, then `--directive value` overrides.
    #[arg(
        value_name = "CONFIG_FILE] [--directive value",
        num_args = 0..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    words: Vec<OsString>,
}

/// The parsed command line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CliArgs {
    /// Config file to load, if one was given.
    pub config_file: Option<PathBuf>,
    /// `(directive, value)` overrides in command-line order; names without the `--`.
    pub overrides: Vec<(String, String)>,
}

/// Parses the process arguments (the first item is the program name).
/// Callers do `.unwrap_or_else(|e| e.exit())`.
pub fn parse_args<I: IntoIterator<Item = OsString>>(args: I) -> Result<CliArgs, clap::Error> {
    let raw = RawArgs::try_parse_from(args)?;
    split_words(raw.words)
}

fn usage_error(kind: ErrorKind, msg: String) -> clap::Error {
    RawArgs::command().error(kind, msg)
}

fn split_words(words: Vec<OsString>) -> Result<CliArgs, clap::Error> {
    let mut out = CliArgs::default();
    let mut words = words.into_iter().peekable();

    if let Some(first) = words.peek() {
        if !first.to_string_lossy().starts_with("--") {
            out.config_file = words.next().map(PathBuf::from);
        }
    }

    // The override currently being collected: name, value (None until one is seen).
    let mut pending: Option<(String, Option<String>)> = None;
    for word in words {
        let word = word.into_string().map_err(|w| {
            usage_error(
                ErrorKind::InvalidUtf8,
                format!("argument is not valid UTF-8: {}", w.to_string_lossy()),
            )
        })?;
        if let Some(flag) = word.strip_prefix("--") {
            if let Some(done) = pending.take() {
                out.overrides.push(finish(done)?);
            }
            if flag == "help" || flag == "version" {
                return Err(clap_builtin(&word));
            }
            let (name, value) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (flag, None),
            };
            if name.is_empty() {
                return Err(usage_error(
                    ErrorKind::UnknownArgument,
                    format!("missing directive name in '{word}'"),
                ));
            }
            pending = Some((name.to_string(), value));
        } else {
            match pending.as_mut() {
                Some((_, Some(value))) => {
                    value.push(' ');
                    value.push_str(&word);
                }
                Some((_, value @ None)) => *value = Some(word),
                None => {
                    return Err(usage_error(
                        ErrorKind::UnknownArgument,
                        format!(
                            "unexpected argument '{word}' (overrides are written --directive value)"
                        ),
                    ))
                }
            }
        }
    }
    if let Some(done) = pending {
        out.overrides.push(finish(done)?);
    }
    Ok(out)
}

fn finish((name, value): (String, Option<String>)) -> Result<(String, String), clap::Error> {
    match value {
        Some(v) => Ok((name, v)),
        None => Err(usage_error(
            ErrorKind::InvalidValue,
            format!("a value is required for '--{name}' but none was supplied"),
        )),
    }
}

/// `--help`/`--version` after the config file reach us as plain words; produce exactly
/// what clap would have for them in first position.
fn clap_builtin(flag: &str) -> clap::Error {
    match RawArgs::try_parse_from(["pika", flag]) {
        Err(e) => e,
        Ok(_) => usage_error(ErrorKind::UnknownArgument, format!("unexpected '{flag}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<CliArgs, clap::Error> {
        parse_args(
            std::iter::once("pika")
                .chain(args.iter().copied())
                .map(OsString::from),
        )
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn no_args() {
        assert_eq!(parse(&[]).unwrap(), CliArgs::default());
    }

    #[test]
    fn config_file_only() {
        let a = parse(&["conf/pika.conf"]).unwrap();
        assert_eq!(a.config_file, Some(PathBuf::from("conf/pika.conf")));
        assert!(a.overrides.is_empty());
    }

    #[test]
    fn file_and_overrides() {
        let a = parse(&[
            "x.conf",
            "--port",
            "7000",
            "--requirepass=abc",
            "--loglevel",
            "debug",
        ])
        .unwrap();
        assert_eq!(a.config_file, Some(PathBuf::from("x.conf")));
        assert_eq!(
            a.overrides,
            pairs(&[
                ("port", "7000"),
                ("requirepass", "abc"),
                ("loglevel", "debug")
            ])
        );
    }

    #[test]
    fn overrides_without_file() {
        let a = parse(&["--port", "1", "--list-max-listpack-size", "-2"]).unwrap();
        assert_eq!(a.config_file, None);
        assert_eq!(
            a.overrides,
            pairs(&[("port", "1"), ("list-max-listpack-size", "-2")])
        );
    }

    #[test]
    fn empty_and_multi_word_values() {
        let a = parse(&["--requirepass", "", "--save", "900", "1", "--bind="]).unwrap();
        assert_eq!(
            a.overrides,
            pairs(&[("requirepass", ""), ("save", "900 1"), ("bind", "")])
        );
    }

    #[test]
    fn missing_value_is_an_error() {
        assert_eq!(
            parse(&["--port"]).unwrap_err().kind(),
            ErrorKind::InvalidValue
        );
        assert_eq!(
            parse(&["--port", "--bind", "x"]).unwrap_err().kind(),
            ErrorKind::InvalidValue
        );
    }

    #[test]
    fn stray_word_is_an_error() {
        assert!(parse(&["a.conf", "b.conf"]).is_err());
        assert!(parse(&["a.conf", "--", "1"]).is_err());
        assert!(parse(&["a.conf", "--=1"]).is_err());
        // A leading `--` is clap's end-of-options marker.
        let a = parse(&["--", "x.conf"]).unwrap();
        assert_eq!(a.config_file, Some(PathBuf::from("x.conf")));
    }

    #[test]
    fn help_and_version() {
        assert_eq!(
            parse(&["--help"]).unwrap_err().kind(),
            ErrorKind::DisplayHelp
        );
        assert_eq!(
            parse(&["--version"]).unwrap_err().kind(),
            ErrorKind::DisplayVersion
        );
        assert_eq!(
            parse(&["a.conf", "--help"]).unwrap_err().kind(),
            ErrorKind::DisplayHelp
        );
        let help = parse(&["--help"]).unwrap_err().to_string();
        assert!(help.contains("--directive value"), "{help}");
    }
}
