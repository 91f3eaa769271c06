//! Server configuration: the Pika-format config file (`directive : value` lines),
//! command-line overrides, and the run-time side used by CONFIG GET / SET / REWRITE.
//!
//! Every directive is described once, in `table.rs`; that table generates the typed
//! [`Config`] struct (so the server reads `cfg.port` without parsing) as well as the
//! metadata ([`DIRECTIVES`]) that the loader and the CONFIG commands iterate over.

pub mod budget;
mod directive;
mod file;
mod output_limit;
mod shutdown_flags;
mod table;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::util::glob::glob_match;

pub use directive::{parse_memory, parse_percentiles, Access, Directive, Kind};
pub use output_limit::{ClientClass, OutputLimit, OutputLimits};
pub use shutdown_flags::ShutdownFlags;
pub use table::{Config, DIRECTIVES, HIDDEN, NAME_ALIASES, TWINS};

/// Where a bad setting came from, so load errors can point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A line of a config file (1-based line number).
    File {
        /// The config file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// A `--name value` command-line override.
    CommandLine,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::CommandLine => f.write_str("command line"),
        }
    }
}

/// Why the configuration could not be loaded at start-up.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read (missing, unreadable, not UTF-8).
    #[error("{}: can't read config file: {source}", path.display())]
    Read {
        /// The file that was asked for.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A non-comment line has no `:` between directive and value.
    #[error("{at}: line without ':' (expected 'directive : value'): '{text}'")]
    MissingColon {
        /// Where the line is.
        at: Origin,
        /// The offending line, trimmed.
        text: String,
    },
    /// The directive name is not in the table (nor an alias).
    #[error("{at}: unknown directive '{name}'")]
    UnknownDirective {
        /// Where the directive was given.
        at: Origin,
        /// The name as written.
        name: String,
    },
    /// The value does not parse or is out of range for the directive.
    #[error("{at}: bad value '{value}' for '{name}': {reason}")]
    BadValue {
        /// Where the directive was given.
        at: Origin,
        /// The name as written.
        name: String,
        /// The value as written.
        value: String,
        /// Why it was rejected, in Redis' CONFIG SET words.
        reason: String,
    },
}

/// Finds a directive by name, case-insensitively, also under its aliases.
pub fn lookup(name: &str) -> Option<&'static Directive> {
    let lower = name.to_ascii_lowercase();
    let canonical = NAME_ALIASES
        .iter()
        .find(|(alias, _)| *alias == lower)
        .map_or(lower.as_str(), |(_, canon)| *canon);
    DIRECTIVES.iter().find(|d| d.name == canonical)
}

/// The other name of a directive that is one setting under two names (see [`TWINS`]).
fn twin_of(name: &str) -> Option<&'static str> {
    TWINS.iter().find_map(|&(a, b)| {
        if a == name {
            Some(b)
        } else if b == name {
            Some(a)
        } else {
            None
        }
    })
}

/// True when CONFIG SET shows the value of directive `name` (name or alias, any case) only as
/// `(redacted)` in the slow log and MONITOR: it is a password.
pub fn is_sensitive(name: &str) -> bool {
    lookup(name).is_some_and(|d| d.access == Access::Sensitive)
}

/// Redis' `allowProtectedAction`: whether a `no|yes|local` setting (`enable-debug-command`,
/// `enable-protected-configs`) lets a client connected from `peer` act. `local` admits
/// loopback clients only (127.0.0.0/8, ::1, and 127.x written as an IPv4-mapped IPv6 address).
pub fn protected_action_allowed(setting: &str, peer: IpAddr) -> bool {
    match setting {
        "yes" => true,
        "local" => is_loopback(peer),
        _ => false,
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
    }
}

fn set_error(name: &str, reason: &str) -> String {
    format!("CONFIG SET failed (possibly related to argument '{name}') - {reason}")
}

fn unknown_set_error(name: &str) -> String {
    format!("Unknown option or number of arguments for CONFIG SET - '{name}'")
}

impl Default for Config {
    fn default() -> Self {
        Config::defaults()
    }
}

impl Config {
    /// Every directive at its table default; no config file.
    pub fn defaults() -> Config {
        let mut cfg = Config::blank();
        for d in DIRECTIVES {
            // Defaults are validated by a unit test; a bad one would leave the blank value.
            if let Ok(v) = d.parse(d.default) {
                let _ = cfg.store(d.name, v);
            }
        }
        cfg
    }

    /// Reads the file (if any), then applies command-line overrides in order.
    pub fn load(
        file: Option<&Path>,
        overrides: &[(String, String)],
    ) -> Result<Config, ConfigError> {
        let mut cfg = Config::defaults();
        if let Some(path) = file {
            file::load_file(&mut cfg, path)?;
            cfg.config_file = Some(path.to_path_buf());
        }
        for (name, value) in overrides {
            cfg.apply_text(Origin::CommandLine, name, value)?;
        }
        Ok(cfg)
    }

    /// Applies one `name value` pair during loading, with a located error.
    fn apply_text(&mut self, at: Origin, name: &str, value: &str) -> Result<(), ConfigError> {
        let d = lookup(name).ok_or_else(|| ConfigError::UnknownDirective {
            at: at.clone(),
            name: name.to_string(),
        })?;
        self.apply(d, value)
            .map_err(|reason| ConfigError::BadValue {
                at,
                name: name.to_string(),
                value: value.to_string(),
                reason,
            })
    }

    /// Parses `value` for `d` and stores it; the error is the bare reason.
    fn apply(&mut self, d: &Directive, value: &str) -> Result<(), String> {
        let v = d.parse(value)?;
        if let Some(twin) = twin_of(d.name) {
            self.store(twin, v.clone())?;
        }
        self.store(d.name, v)
    }

    /// The current value of one directive (name or alias, any case) as CONFIG GET prints it.
    pub fn get(&self, name: &str) -> Option<String> {
        lookup(name).and_then(|d| self.render(d.name))
    }

    /// CONFIG GET of one pattern, as Redis 7 answers it: (name, value text) pairs sorted by
    /// name. Memory values are printed as plain byte counts, bools yes/no.
    ///
    /// A pattern without glob characters (`*?[`) is a plain name: it finds its directive
    /// under that name or alias, hidden ones (see [`HIDDEN`]) included, and answers under the
    /// name as asked (lower-cased). A glob matches every name and alias that are not hidden,
    /// case-insensitively, and answers each under the name that matched, so `*` lists a
    /// setting once per name (`slaveof` and `replicaof`).
    pub fn get_matching(&self, pattern: &[u8]) -> Vec<(String, String)> {
        if !pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
            let name = String::from_utf8_lossy(pattern).to_ascii_lowercase();
            return lookup(&name)
                .and_then(|d| self.render(d.name))
                .map(|value| vec![(name, value)])
                .unwrap_or_default();
        }
        let aliases = NAME_ALIASES.iter().map(|&(alias, canon)| (alias, canon));
        let names = DIRECTIVES.iter().map(|d| (d.name, d.name)).chain(aliases);
        let mut out: Vec<(String, String)> = names
            .filter(|(name, canon)| {
                !HIDDEN.contains(canon) && glob_match(pattern, name.as_bytes(), true)
            })
            .filter_map(|(name, canon)| self.render(canon).map(|v| (name.to_string(), v)))
            .collect();
        out.sort();
        out
    }

    /// CONFIG SET one directive. Errors are the text after "ERR " as Redis 7 words them.
    ///
    /// Protected directives are settable only with `enable-protected-configs yes` (the caller
    /// is treated as a remote client; see [`Config::set_many_from`]).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        self.set_many(&[(name.to_string(), value.to_string())])
    }

    /// CONFIG SET with several pairs (Redis 7 allows `CONFIG SET a 1 b 2`): all-or-nothing.
    ///
    /// Names are checked first (unknown, given twice, immutable or protected unless given the
    /// value they hold), then values are applied to a copy that replaces `self` only if every
    /// one succeeded. Protected directives are settable only with
    /// `enable-protected-configs yes`.
    pub fn set_many(&mut self, pairs: &[(String, String)]) -> Result<(), String> {
        self.set_many_checked(pairs, self.enable_protected_configs == "yes")
    }

    /// [`Config::set_many`] for a client connected from `peer`: with
    /// `enable-protected-configs local`, a loopback client may set protected directives too.
    pub fn set_many_from(
        &mut self,
        pairs: &[(String, String)],
        peer: IpAddr,
    ) -> Result<(), String> {
        let allowed = protected_action_allowed(&self.enable_protected_configs, peer);
        self.set_many_checked(pairs, allowed)
    }

    fn set_many_checked(
        &mut self,
        pairs: &[(String, String)],
        protected_allowed: bool,
    ) -> Result<(), String> {
        let mut seen: Vec<&'static str> = Vec::with_capacity(pairs.len());
        let mut resolved = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            let d = lookup(name).ok_or_else(|| unknown_set_error(name))?;
            if seen.contains(&d.name) {
                return Err(set_error(name, "duplicate parameter"));
            }
            seen.push(d.name);
            if let Err(refused) = settable(d, name, protected_allowed) {
                if !self.holds(d, value) {
                    return Err(refused);
                }
                // Setting it to the value it holds changes nothing: accepted, so that what
                // CONFIG GET * answered can be given back to CONFIG SET as a whole.
                continue;
            }
            resolved.push((d, name, value));
        }
        let mut next = self.clone();
        for (d, name, value) in resolved {
            next.apply(d, value)
                .map_err(|reason| set_error(name, &reason))?;
        }
        *self = next;
        Ok(())
    }

    /// True when `value` is, once normalised, what directive `d` holds now.
    fn holds(&self, d: &Directive, value: &str) -> bool {
        d.normalize(value)
            .is_some_and(|v| self.render(d.name) == Some(v))
    }

    /// The hot tier's settings.
    pub fn tier_settings(&self) -> crate::storage::cache::TierSettings {
        use crate::storage::cache::{Policy, TierSettings};
        TierSettings {
            capacity: usize::try_from(self.cache_maxmemory).unwrap_or(usize::MAX),
            policy: Policy::parse(&self.cache_maxmemory_policy),
            data_policy: Policy::parse(&self.maxmemory_policy),
            samples: usize::try_from(self.cache_maxmemory_samples).unwrap_or(5),
            lfu_log_factor: u32::try_from(self.cache_lfu_log_factor).unwrap_or(u32::MAX),
            lfu_decay_time: u32::try_from(self.cache_lfu_decay_time).unwrap_or(u32::MAX),
        }
    }

    /// CONFIG REWRITE: rewrites config_file in place keeping every comment and blank line and the order of existing lines; existing directive lines get the current value; directives whose value differs from the default and that have no line are appended at the end. Errors if no config file: "The server is running without a config file".
    pub fn rewrite(&self) -> Result<(), String> {
        let path = self
            .config_file
            .as_deref()
            .ok_or_else(|| "The server is running without a config file".to_string())?;
        file::rewrite_file(self, path)
    }
}

/// Whether CONFIG SET may change `d` (given as `name`): not if it is read at start-up only, nor
/// if it is protected and `protected_allowed` is false.
fn settable(d: &Directive, name: &str, protected_allowed: bool) -> Result<(), String> {
    match d.access {
        Access::Startup => Err(set_error(name, "can't set immutable config")),
        Access::Protected if !protected_allowed => {
            Err(set_error(name, "can't set protected config"))
        }
        Access::Runtime | Access::Protected | Access::Sensitive => Ok(()),
    }
}
