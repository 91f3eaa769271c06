//! The command table: every command group's specs, indexed by name.
//!
//! Each group module exports `COMMANDS: &[CommandSpec]`; this module merges them and gives
//! every command and subcommand a dense index (for per-command statistics).

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::cmd::gate::spec::CommandSpec;

/// All commands, by lower-case name (`get`, `config|get`).
pub struct CommandTable {
    by_name: HashMap<&'static str, usize>,
    specs: Vec<&'static CommandSpec>,
    /// Indexes of top-level commands only, for COMMAND / COMMAND COUNT.
    top_level: Vec<usize>,
}

static TABLE: LazyLock<CommandTable> = LazyLock::new(|| {
    let groups: &[&'static [CommandSpec]] = &[
        crate::cmd::types::strings::COMMANDS,
        crate::cmd::types::bitmaps::COMMANDS,
        crate::cmd::types::hyperloglog::COMMANDS,
        crate::cmd::types::geo::COMMANDS,
        crate::cmd::types::hashes::COMMANDS,
        crate::cmd::types::keys::COMMANDS,
        crate::cmd::types::migrate::COMMANDS,
        crate::cmd::types::lists::COMMANDS,
        crate::cmd::session::connection::COMMANDS,
        crate::cmd::admin::server::COMMANDS,
        crate::cmd::scripting::function::COMMANDS,
        crate::cmd::scripting::eval::COMMANDS,
        crate::cmd::types::sets::COMMANDS,
        crate::cmd::types::sort::COMMANDS,
        crate::cmd::types::sorted_sets::COMMANDS,
        crate::cmd::types::streams::COMMANDS,
        crate::cmd::session::multi::COMMANDS,
        crate::cmd::session::pubsub::COMMANDS,
        crate::cmd::admin::replication::COMMANDS,
        crate::cmd::admin::cluster::COMMANDS,
        crate::cmd::admin::codis::COMMANDS,
    ];
    let mut t = CommandTable {
        by_name: HashMap::new(),
        specs: Vec::new(),
        top_level: Vec::new(),
    };
    for group in groups {
        for spec in group.iter() {
            t.top_level.push(t.specs.len());
            t.add(spec);
            for sub in spec.subcommands {
                t.add(sub);
            }
        }
    }
    t
});

impl CommandTable {
    fn add(&mut self, spec: &'static CommandSpec) {
        let previous = self.by_name.insert(spec.name, self.specs.len());
        debug_assert!(previous.is_none(), "command {} listed twice", spec.name);
        self.specs.push(spec);
    }

    /// The table.
    pub fn get() -> &'static CommandTable {
        &TABLE
    }

    /// Looks a command up by name, ignoring case.
    pub fn lookup(&self, name: &[u8]) -> Option<(usize, &'static CommandSpec)> {
        let mut buf = [0u8; 64];
        let lowered = buf.get_mut(..name.len())?;
        for (d, s) in lowered.iter_mut().zip(name) {
            *d = s.to_ascii_lowercase();
        }
        let name = std::str::from_utf8(lowered).ok()?;
        self.by_name.get(name).map(|&i| (i, self.specs[i]))
    }

    /// Looks up `parent|sub`, ignoring the case of `sub`.
    pub fn lookup_sub(
        &self,
        parent: &CommandSpec,
        sub: &[u8],
    ) -> Option<(usize, &'static CommandSpec)> {
        let full = format!("{}|{}", parent.name, String::from_utf8_lossy(sub)).to_ascii_lowercase();
        self.by_name.get(full.as_str()).map(|&i| (i, self.specs[i]))
    }

    /// Number of entries (commands and subcommands): the size of per-command statistics.
    pub fn len(&self) -> usize {
        self.specs.len()
    }

    /// True when no command is registered (never, in a built server).
    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    /// The spec at a dense index.
    pub fn at(&self, i: usize) -> &'static CommandSpec {
        self.specs[i]
    }

    /// Every top-level command.
    pub fn top_level(&self) -> impl Iterator<Item = &'static CommandSpec> + '_ {
        self.top_level.iter().map(|&i| self.specs[i])
    }

    /// Every entry with its index.
    pub fn all(&self) -> impl Iterator<Item = (usize, &'static CommandSpec)> + '_ {
        self.specs.iter().enumerate().map(|(i, s)| (i, *s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::gate::spec::{CmdFlags, KeyEnd, KeySpec};

    /// Key-spec flags Redis 7 reports: exactly one access kind, then any of the operations.
    const KEY_ACCESS: &[&str] = &["RO", "RW", "OW", "RM"];
    const KEY_OPERATIONS: &[&str] = &[
        "access",
        "update",
        "insert",
        "delete",
        "variable_flags",
        "incomplete",
    ];

    fn every_spec() -> Vec<&'static CommandSpec> {
        CommandTable::get().all().map(|(_, spec)| spec).collect()
    }

    #[test]
    fn names_are_lower_case_unique_and_subcommands_name_their_container() {
        let mut seen = std::collections::HashSet::new();
        for top in CommandTable::get().top_level() {
            assert!(!top.name.contains('|'), "{}", top.name);
            for sub in top.subcommands {
                let (parent, _) = sub.name.split_once('|').unwrap_or_else(|| {
                    panic!(
                        "subcommand {} of {} lacks its container",
                        sub.name, top.name
                    )
                });
                assert_eq!(parent, top.name);
            }
        }
        for spec in every_spec() {
            assert_eq!(spec.name, spec.name.to_ascii_lowercase());
            assert!(seen.insert(spec.name), "{} listed twice", spec.name);
            assert!(!spec.summary.is_empty(), "{} has no summary", spec.name);
        }
    }

    #[test]
    fn arity_counts_the_name_and_covers_the_declared_keys() {
        for spec in every_spec() {
            assert_ne!(spec.arity, 0, "{}", spec.name);
            let least = spec.arity.unsigned_abs() as usize;
            // The first declared key is an argument every call has.
            let first_key = match spec.keys {
                KeySpec::None
                | KeySpec::Find { .. }
                | KeySpec::Keyword { .. }
                | KeySpec::KeyOrKeyword { .. } => None,
                KeySpec::Range { first, last, step } => {
                    assert!(step >= 1, "{}", spec.name);
                    if let KeyEnd::At(last) = last {
                        assert!(last >= first, "{}", spec.name);
                        assert!(last < least, "{}: key {last} past arity", spec.name);
                    }
                    Some(first)
                }
                KeySpec::Keynum {
                    numkeys_at, first, ..
                } => {
                    assert!(first > numkeys_at, "{}", spec.name);
                    Some(numkeys_at)
                }
                KeySpec::KeynumWithDest {
                    dest, numkeys_at, ..
                } => Some(dest.min(numkeys_at)),
            };
            // Channels (SUNSUBSCRIBE's) are not keys and may all be left out.
            let channels = spec.key_flags.iter().any(|f| f.contains(&"NOT_KEY"));
            if let Some(at) = first_key.filter(|_| !channels) {
                assert!(at >= 1 && at < least, "{}: key at {at}", spec.name);
            }
        }
    }

    #[test]
    fn flags_agree_with_each_other_and_with_the_keys() {
        for spec in every_spec() {
            let f = spec.flags;
            assert!(
                !(f.contains(CmdFlags::WRITE) && f.contains(CmdFlags::READONLY)),
                "{} both reads and writes",
                spec.name
            );
            if f.contains(CmdFlags::DENYOOM) {
                assert!(
                    f.contains(CmdFlags::WRITE),
                    "{}: DENYOOM on a read",
                    spec.name
                );
            }
            for flags in spec.key_flags.iter().filter(|f| !f.contains(&"NOT_KEY")) {
                let access: Vec<_> = flags.iter().filter(|f| KEY_ACCESS.contains(f)).collect();
                assert_eq!(access.len(), 1, "{}: {flags:?}", spec.name);
                assert!(
                    flags
                        .iter()
                        .all(|f| KEY_ACCESS.contains(f) || KEY_OPERATIONS.contains(f)),
                    "{}: {flags:?}",
                    spec.name
                );
                // A read that may still write (PFCOUNT storing its cache) declares RW, as in
                // Redis, and the dispatcher locks its keys as a writer's.
                if f.contains(CmdFlags::READONLY) && !f.contains(CmdFlags::MAY_REPLICATE) {
                    assert_eq!(*access[0], "RO", "{}: a read writes a key", spec.name);
                }
            }
            if !spec.key_flags.is_empty() {
                assert!(
                    !matches!(spec.keys, KeySpec::None),
                    "{}: key flags without keys",
                    spec.name
                );
            }
        }
    }
}
