//! The directive model: the kinds of value a directive can hold, how their text is
//! parsed and printed, and the `directives!` macro that turns the single table in
//! `table.rs` into both the typed [`Config`](super::Config) struct and the run-time
//! metadata that CONFIG GET/SET, the file loader and CONFIG REWRITE walk over.
//!
//! Keeping parsing here (instead of per field) is what makes adding a directive a
//! one-line change: the table names a kind, and the kind knows its syntax and limits.

use std::path::PathBuf;

/// What a directive's value looks like. Limits are inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A decimal integer, no unit suffix (Redis `string2ll` rules: no spaces, no `+`).
    Int {
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
    /// A byte count with an optional unit suffix (`k kb m mb g gb`, Redis `memtoull`).
    Memory {
        /// Smallest accepted byte count.
        min: u64,
        /// Largest accepted byte count.
        max: u64,
    },
    /// A byte count as [`Kind::Memory`], or a percentage `N%` (0 to 100) of `maxmemory`
    /// (Redis' `MEMORY_CONFIG | PERCENT_CONFIG`, e.g. `maxmemory-clients`). Stored as text:
    /// the byte count, or the percentage with its `%`.
    MemoryOrPercent,
    /// `yes` or `no` (case-insensitive).
    Bool,
    /// Free text, taken literally (no quoting or escapes, as in Pika).
    Str,
    /// One of a fixed list, case-insensitive. An entry may be written `canon|alias|alias`:
    /// the first spelling is what gets stored and printed, the others are accepted too.
    Enum(&'static [&'static str]),
    /// A filesystem path, taken literally.
    Path,
    /// `client-output-buffer-limit`: `<class> <hard> <soft> <seconds>` groups; a setting changes
    /// only the classes it names.
    OutputLimits,
    /// `latency-tracking-info-percentiles`: space-separated numbers from 0 to 100.
    Percentiles,
    /// `cache-type`: a comma-separated list of string, hash, list, set, zset, bit (Pika's
    /// names), stored as given but lower-cased and without spaces.
    CacheTypes,
    /// `shutdown-on-sigterm` / `shutdown-on-sigint`: `default` or words among `save nosave
    /// now force` (see [`super::ShutdownFlags`]), stored in their canonical order.
    ShutdownFlags,
    /// `notify-keyspace-events`: class letters (see [`crate::util::keyspace_events`]), stored
    /// in Redis' canonical spelling.
    KeyspaceEvents,
}

/// Table helper: an integer directive with inclusive bounds.
pub const fn int(min: i64, max: i64) -> Kind {
    Kind::Int { min, max }
}

/// Table helper: a memory directive with inclusive bounds in bytes.
pub const fn memory(min: u64, max: u64) -> Kind {
    Kind::Memory { min, max }
}

/// Table helper: an enumerated directive (see [`Kind::Enum`] for the alias syntax).
pub const fn one_of(values: &'static [&'static str]) -> Kind {
    Kind::Enum(values)
}

/// Table helper: a byte count or a percentage.
pub const MEMORY_OR_PERCENT: Kind = Kind::MemoryOrPercent;
/// Table helper: yes/no.
pub const BOOL: Kind = Kind::Bool;
/// Table helper: free text.
pub const STR: Kind = Kind::Str;
/// Table helper: a path.
pub const PATH: Kind = Kind::Path;
/// Table helper: per-class output buffer limits.
pub const OUTPUT_LIMITS: Kind = Kind::OutputLimits;
/// Table helper: a list of percentiles.
pub const PERCENTILES: Kind = Kind::Percentiles;
/// Table helper: the `cache-type` list.
pub const CACHE_TYPES: Kind = Kind::CacheTypes;
/// Table helper: SHUTDOWN options for a signal.
pub const SHUTDOWN_FLAGS: Kind = Kind::ShutdownFlags;
/// Table helper: keyspace notification classes.
pub const KEYSPACE_EVENTS: Kind = Kind::KeyspaceEvents;
/// Whether, and on which conditions, CONFIG SET may change a directive while the server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read once at start-up; CONFIG SET answers "can't set immutable config".
    Startup,
    /// CONFIG SET may change it.
    Runtime,
    /// A location the server writes files to. CONFIG SET may change it only where
    /// `enable-protected-configs` allows (Redis' `PROTECTED_CONFIG`): a client able to point
    /// it anywhere could make the server overwrite any file it has access to.
    Protected,
    /// CONFIG SET may change it, but the value is a secret (a password): the slow log and
    /// MONITOR show it as `(redacted)` (Redis' `SENSITIVE_CONFIG`).
    Sensitive,
}

/// Table helper: CONFIG SET may change the directive while the server runs.
pub const RUNTIME: Access = Access::Runtime;
/// Table helper: the directive is read once at start-up only.
pub const STARTUP: Access = Access::Startup;
/// Table helper: CONFIG SET may change it only if `enable-protected-configs` allows.
pub const PROTECTED: Access = Access::Protected;
/// Table helper: CONFIG SET may change it; the value never shows in the slow log.
pub const SENSITIVE: Access = Access::Sensitive;

/// `i32::MAX` widened, for table bounds.
pub const I32_MAX: i64 = i32::MAX as i64;
/// `i64::MAX`, for table bounds.
pub const I64_MAX: i64 = i64::MAX;
/// Largest memory value we accept; kept within `i64` so it converts losslessly anywhere.
pub const MEM_MAX: u64 = i64::MAX as u64;
/// One mebibyte, the smallest sane protocol buffer limit (Redis uses the same floor).
pub const MB: u64 = 1024 * 1024;

/// One row of the directive table.
#[derive(Debug)]
pub struct Directive {
    /// Canonical name: lowercase with dashes.
    pub name: &'static str,
    /// Default value as it would be written in the config file.
    pub default: &'static str,
    /// Syntax and limits of the value.
    pub kind: Kind,
    /// Whether CONFIG SET may change it at run time.
    pub access: Access,
    /// One-line description.
    pub doc: &'static str,
}

/// A parsed value, before it is narrowed into its typed `Config` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Memory(u64),
    Bool(bool),
    Text(String),
}

impl Directive {
    /// Parses `text` according to this directive's kind. The error is the Redis 7
    /// wording of the reason, without any prefix.
    pub fn parse(&self, text: &str) -> Result<Value, String> {
        match self.kind {
            Kind::Int { min, max } => {
                let n = parse_int(text)
                    .ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?;
                check_range(n, min, max)?;
                Ok(Value::Int(n))
            }
            Kind::Memory { min, max } => {
                let n = parse_memory(text)
                    .ok_or_else(|| "argument must be a memory value".to_string())?;
                check_range(n, min, max)?;
                Ok(Value::Memory(n))
            }
            Kind::MemoryOrPercent => parse_memory_or_percent(text).map(Value::Text),
            Kind::Bool => parse_bool(text)
                .map(Value::Bool)
                .ok_or_else(|| "argument must be 'yes' or 'no'".to_string()),
            Kind::Str | Kind::Path => Ok(Value::Text(text.to_string())),
            Kind::OutputLimits => super::output_limit::OutputLimits::parse_classes(text)
                .map(|_| Value::Text(text.to_string())),
            Kind::Percentiles => parse_percentiles(text)
                .map(|list| {
                    let shown: Vec<String> = list.iter().map(f64::to_string).collect();
                    Value::Text(shown.join(" "))
                })
                .ok_or_else(|| "Invalid latency-tracking-info-percentiles parameters".to_string()),
            Kind::CacheTypes => crate::storage::cache::body::parse_cache_types(text).map(|_| {
                let names: Vec<String> = text
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|s| !s.is_empty())
                    .map(str::to_ascii_lowercase)
                    .collect();
                Value::Text(names.join(","))
            }),
            Kind::ShutdownFlags => {
                super::ShutdownFlags::parse_directive(text).map(|f| Value::Text(f.render()))
            }
            Kind::KeyspaceEvents => crate::util::keyspace_events::EventClasses::parse(text)
                .map(|classes| Value::Text(classes.render()))
                .map_err(str::to_string),
            Kind::Enum(values) => parse_enum(values, text).map(Value::Text).ok_or_else(|| {
                let names: Vec<&str> = values.iter().map(|v| canonical_spelling(v)).collect();
                format!(
                    "argument(s) must be one of the following: {}",
                    names.join(", ")
                )
            }),
        }
    }

    /// The canonical text of `text` (e.g. `64mb` → `67108864`), or `None` if it does not parse.
    pub fn normalize(&self, text: &str) -> Option<String> {
        let value = self.parse(text).ok()?;
        match self.kind {
            // Output limits as the server shows them: every class, over the defaults (as a
            // line naming some classes applies), byte counts, `slave` for replicas.
            Kind::OutputLimits => {
                super::OutputLimits::from_value(value).map(|limits| limits.render())
            }
            _ => Some(value.render()),
        }
    }
}

impl Value {
    /// Text as CONFIG GET prints it: plain byte counts, `yes`/`no`.
    pub fn render(&self) -> String {
        match self {
            Value::Int(n) => n.to_string(),
            Value::Memory(n) => n.to_string(),
            Value::Bool(b) => yes_no(*b).to_string(),
            Value::Text(s) => s.clone(),
        }
    }
}

fn check_range<T: PartialOrd + std::fmt::Display>(n: T, min: T, max: T) -> Result<(), String> {
    if n < min || n > max {
        Err(format!(
            "argument must be between {min} and {max} inclusive"
        ))
    } else {
        Ok(())
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Strict decimal integer: optional `-`, then digits only (matches Redis' `string2ll`).
pub fn parse_int(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Byte count with Redis' unit suffixes: `k`=1000, `kb`=1024, `m`=10^6, `mb`=2^20,
/// `g`=10^9, `gb`=2^30, optional `b`; case-insensitive. Overflow is an error.
pub fn parse_memory(text: &str) -> Option<u64> {
    let split = text
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return None;
    }
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(mul)
}

/// Redis' order for a memory-or-percent value: a byte count first, then `N%` with N a
/// non-negative integer, at most 100. The result is the canonical text (`1024`, `10%`).
fn parse_memory_or_percent(text: &str) -> Result<String, String> {
    if let Some(bytes) = parse_memory(text) {
        return Ok(bytes.to_string());
    }
    let percent = text
        .strip_suffix('%')
        .and_then(parse_int)
        .filter(|n| *n >= 0)
        .ok_or_else(|| "argument must be a memory or percent value".to_string())?;
    if percent > 100 {
        return Err("percentage argument must be less or equal to 100".to_string());
    }
    // Redis keeps a percentage as its negation, so 0% is the byte count 0.
    Ok(if percent == 0 {
        "0".to_string()
    } else {
        format!("{percent}%")
    })
}

/// Space-separated percentiles, each a number from 0 to 100 (an empty list is valid).
pub fn parse_percentiles(text: &str) -> Option<Vec<f64>> {
    text.split_whitespace()
        .map(|p| {
            p.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && (0.0..=100.0).contains(v))
        })
        .collect()
}

/// `yes`/`no`, case-insensitive.
pub fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("yes") {
        Some(true)
    } else if text.eq_ignore_ascii_case("no") {
        Some(false)
    } else {
        None
    }
}

/// Finds `text` among the entries (and their aliases); returns the canonical spelling.
fn parse_enum(values: &[&'static str], text: &str) -> Option<String> {
    values
        .iter()
        .find(|entry| entry.split('|').any(|v| v.eq_ignore_ascii_case(text)))
        .map(|entry| canonical_spelling(entry).to_string())
}

fn canonical_spelling(entry: &'static str) -> &'static str {
    entry.split('|').next().unwrap_or(entry)
}

/// Narrowing of a parsed [`Value`] into the Rust type of a `Config` field, and back to text.
/// `from_value` returns `None` only if the table's bounds don't fit the field type, which the
/// unit tests rule out; it never panics.
pub trait FieldValue: Sized {
    fn from_value(v: Value) -> Option<Self>;
    fn render(&self) -> String;
    /// Stores a new setting; settings that change only part of a value merge here.
    fn update(&mut self, v: Value) -> Option<()> {
        *self = Self::from_value(v)?;
        Some(())
    }
}

macro_rules! numeric_field {
    ($($t:ty),*) => {$(
        impl FieldValue for $t {
            fn from_value(v: Value) -> Option<Self> {
                match v {
                    Value::Int(n) => <$t>::try_from(n).ok(),
                    Value::Memory(n) => <$t>::try_from(n).ok(),
                    _ => None,
                }
            }
            fn render(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
numeric_field!(u16, i32, i64, u64, usize);

impl FieldValue for bool {
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }
    fn render(&self) -> String {
        yes_no(*self).to_string()
    }
}

impl FieldValue for String {
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
    fn render(&self) -> String {
        self.clone()
    }
}

impl FieldValue for PathBuf {
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Text(s) => Some(PathBuf::from(s)),
            _ => None,
        }
    }
    fn render(&self) -> String {
        self.to_string_lossy().into_owned()
    }
}

/// Expands the directive table into:
/// * `pub struct Config` with one typed field per directive (plus `config_file`),
/// * `pub static DIRECTIVES: &[Directive]` in table order,
/// * `Config::blank`, `Config::store` and `Config::render` which map a canonical name to its field.
///
/// Row syntax: `field: Type = "name", kind, "default", RUNTIME|STARTUP|PROTECTED|SENSITIVE, "doc";`
macro_rules! directives {
    ($( $field:ident : $ty:ty = $name:literal, $kind:expr, $default:literal, $access:expr, $doc:literal; )*) => {
        /// Every setting of the server, typed. Built by [`Config::load`] or [`Config::defaults`].
        #[derive(Debug, Clone, PartialEq)]
        pub struct Config {
            $(
                #[doc = $doc]
                pub $field: $ty,
            )*
            /// The file this configuration was loaded from, for CONFIG REWRITE.
            pub config_file: Option<std::path::PathBuf>,
        }

        /// Every directive, in the order of the table (which is also the order of
        /// `conf/pika.conf`).
        pub static DIRECTIVES: &[Directive] = &[
            $( Directive { name: $name, default: $default, kind: $kind, access: $access, doc: $doc }, )*
        ];

        impl Config {
            /// All fields zero/empty; `defaults()` then fills them from the table.
            pub(super) fn blank() -> Config {
                Config {
                    $( $field: <$ty as Default>::default(), )*
                    config_file: None,
                }
            }

            /// Stores an already validated value into the field named by `name` (canonical).
            pub(super) fn store(&mut self, name: &str, value: Value) -> Result<(), String> {
                match name {
                    $( $name => {
                        <$ty as FieldValue>::update(&mut self.$field, value)
                            .ok_or_else(|| "argument is out of range for this setting".to_string())?;
                    } )*
                    _ => return Err(format!("no such directive '{name}'")),
                }
                Ok(())
            }

            /// The current value of directive `name` (canonical) as CONFIG GET prints it.
            pub(super) fn render(&self, name: &str) -> Option<String> {
                match name {
                    $( $name => Some(<$ty as FieldValue>::render(&self.$field)), )*
                    _ => None,
                }
            }
        }
    };
}
pub(crate) use directives;
