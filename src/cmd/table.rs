//! The command table: every command group's specs, indexed by name.
//!
//! Each group module exports `COMMANDS: &[CommandSpec]`; this module merges them and gives
//! every command and subcommand a dense index (for per-command statistics).

use std::collections::HashMap;
use std::sync::LazyLock;

use super::spec::CommandSpec;

/// All commands, by lower-case name (`get`, `config|get`).
pub struct CommandTable {
    by_name: HashMap<&'static str, usize>,
    specs: Vec<&'static CommandSpec>,
    /// Indexes of top-level commands only, for COMMAND / COMMAND COUNT.
    top_level: Vec<usize>,
}

static TABLE: LazyLock<CommandTable> = LazyLock::new(|| {
    let groups: &[&'static [CommandSpec]] = &[
        super::string::COMMANDS,
        super::bitmap::COMMANDS,
        super::hash::COMMANDS,
        super::keys::COMMANDS,
        super::list::COMMANDS,
        super::connection::COMMANDS,
        super::server_cmd::COMMANDS,
        super::function_cmd::COMMANDS,
        super::set::COMMANDS,
        super::sort::COMMANDS,
        super::zset::COMMANDS,
        super::multi::COMMANDS,
        super::pubsub::COMMANDS,
        super::replication_cmd::COMMANDS,
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
