//! What the ACL rules need to know of the command table, behind a trait: the table lives in
//! the command layer, above this one, and installs itself here once at start-up.

use std::sync::OnceLock;

/// ACL categories in Redis' order (`ACL CAT`, descriptions); bit `i` of a command's
/// category flags is `CATEGORIES[i]`.
pub const CATEGORIES: [&str; 21] = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// The flag of a category name (without `@`), case-insensitive.
pub fn category_flag(name: &[u8]) -> Option<u32> {
    CATEGORIES
        .iter()
        .position(|c| c.as_bytes().eq_ignore_ascii_case(name))
        .map(|i| 1u32 << i)
}

/// The commands and subcommands, by dense index (a container is followed by its
/// subcommands).
pub trait CommandCatalog: Sync + Send {
    /// Number of commands and subcommands.
    fn len(&self) -> usize;
    /// True for an empty table.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The index of a lower-case name (`get`, `config|get`).
    fn lookup(&self, name: &str) -> Option<usize>;
    /// The full lower-case name (`config|get`).
    fn name(&self, index: usize) -> &'static str;
    /// Category flags (see [`CATEGORIES`]).
    fn categories(&self, index: usize) -> u32;
    /// Indexes of a container's subcommands (empty for others).
    fn subcommands(&self, index: usize) -> std::ops::Range<usize>;
    /// True for a subcommand (`config|get`).
    fn is_subcommand(&self, index: usize) -> bool;
}

/// A table without commands, until the real one is installed.
struct NoCommands;

impl CommandCatalog for NoCommands {
    fn len(&self) -> usize {
        0
    }
    fn lookup(&self, _: &str) -> Option<usize> {
        None
    }
    fn name(&self, _: usize) -> &'static str {
        ""
    }
    fn categories(&self, _: usize) -> u32 {
        0
    }
    fn subcommands(&self, _: usize) -> std::ops::Range<usize> {
        0..0
    }
    fn is_subcommand(&self, _: usize) -> bool {
        false
    }
}

static CATALOG: OnceLock<&'static dyn CommandCatalog> = OnceLock::new();

/// Installs the command table (once; later calls change nothing).
pub fn install(catalog: &'static dyn CommandCatalog) {
    let _ = CATALOG.set(catalog);
}

/// The installed command table (an empty one before [`install`]).
pub fn catalog() -> &'static dyn CommandCatalog {
    CATALOG.get().copied().unwrap_or(&NoCommands)
}
