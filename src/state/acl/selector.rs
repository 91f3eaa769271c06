//! One selector: which commands, keys and channels a user may touch, and the check of one
//! command against it.
//!
//! A user has a root selector (the rules written outside parentheses) and any number of
//! extra ones (`(~x* +get)`); a command passes when any selector allows it whole. Commands
//! are a bit set over the command table's dense indexes (see [`CommandCatalog`]); `+@all`
//! also sets a bit for commands the table may gain later, which only `-@all` clears, so
//! a description can tell `+@all -x` from `-@all +...` as Redis does.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::catalog::{catalog, category_flag, CommandCatalog};
use super::RuleError;
use crate::util::glob::glob_match;

/// A key pattern with the access it grants (`~p` both, `%R~p` read, `%W~p` write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern {
    pub pattern: Vec<u8>,
    pub read: bool,
    pub write: bool,
}

impl KeyPattern {
    /// The rule that adds this pattern (`~p`, `%R~p`, `%W~p`).
    pub fn rule(&self) -> String {
        let prefix = match (self.read, self.write) {
            (true, false) => "%R~",
            (false, true) => "%W~",
            _ => "~",
        };
        format!("{prefix}{}", String::from_utf8_lossy(&self.pattern))
    }
}

/// How a command uses one of its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyUse {
    /// Position of the key in the command's arguments.
    pub pos: usize,
    /// The command reads the key's value (key-spec flag `access`).
    pub read: bool,
    /// The command inserts, deletes or updates (key-spec flags `insert`, `delete`, `update`).
    pub write: bool,
}

/// A channel argument: PUBLISH's and SUBSCRIBE's are names, PSUBSCRIBE's patterns (which
/// must equal an allowed pattern literally, as in Redis).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelUse {
    pub pos: usize,
    pub pattern: bool,
}

/// One command call as the check sees it.
pub struct Request<'a> {
    /// The command's index in the table (a subcommand's own index).
    pub index: usize,
    /// Allowed before authentication (AUTH, HELLO): every user may run it.
    pub no_auth: bool,
    /// Position of the first argument after the command (and subcommand) name.
    pub first_arg_at: usize,
    pub argv: &'a [Bytes],
    pub keys: &'a [KeyUse],
    pub channels: &'a [ChannelUse],
}

/// Why a command was refused, in Redis' order of precedence (a later kind wins when
/// selectors disagree).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DenialKind {
    Command,
    Key,
    Channel,
}

/// A refusal: its kind and the argument that caused it (0 for a command).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denial {
    pub kind: DenialKind,
    pub pos: usize,
}

/// The commands bit set, one bit per command-table index plus the "future commands" bit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct CommandBits {
    words: Vec<u64>,
    future: bool,
}

impl CommandBits {
    fn get(&self, i: usize) -> bool {
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }

    fn set(&mut self, i: usize, on: bool) {
        let word = i / 64;
        if word >= self.words.len() {
            if !on {
                return;
            }
            self.words.resize(word + 1, 0);
        }
        if on {
            self.words[word] |= 1u64 << (i % 64);
        } else {
            self.words[word] &= !(1u64 << (i % 64));
        }
    }

    fn fill(&mut self, len: usize, on: bool) {
        self.words = if on {
            let mut words = vec![u64::MAX; len.div_ceil(64)];
            if !len.is_multiple_of(64) {
                if let Some(last) = words.last_mut() {
                    *last = (1u64 << (len % 64)) - 1;
                }
            }
            words
        } else {
            Vec::new()
        };
        self.future = on;
    }

    /// Equal as sets of commands (trailing zero words do not matter).
    fn same_commands(&self, other: &CommandBits) -> bool {
        let n = self.words.len().max(other.words.len());
        (0..n).all(|i| self.words.get(i).unwrap_or(&0) == other.words.get(i).unwrap_or(&0))
            && self.future == other.future
    }
}

/// What a selector allows.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    commands: CommandBits,
    /// Set by `+@all` and cleared by removing any command: the bits need no look.
    all_commands: bool,
    /// Allowed first arguments of otherwise refused commands (`+select|0`), by index.
    first_args: BTreeMap<usize, Vec<Vec<u8>>>,
    pub all_keys: bool,
    pub keys: Vec<KeyPattern>,
    pub all_channels: bool,
    pub channels: Vec<Vec<u8>>,
}

impl PartialEq for Selector {
    fn eq(&self, other: &Self) -> bool {
        self.commands.same_commands(&other.commands)
            && self.all_commands == other.all_commands
            && self.first_args == other.first_args
            && self.all_keys == other.all_keys
            && self.keys == other.keys
            && self.all_channels == other.all_channels
            && self.channels == other.channels
    }
}

/// True when `s` has a space or a NUL: Redis refuses those in patterns and user names.
pub fn has_spaces(s: &[u8]) -> bool {
    s.iter().any(|&b| b == 0 || b.is_ascii_whitespace())
}

impl Selector {
    /// True when the selector allows everything: any command, key and channel.
    pub fn allows_everything(&self) -> bool {
        self.all_commands && self.all_keys && self.all_channels
    }

    /// True when `+@all` was given and not narrowed since (the "future commands" bit).
    pub fn allows_future_commands(&self) -> bool {
        self.commands.future
    }

    /// Whether the command at `index` is allowed by its bit (not by a first argument).
    pub fn allows_index(&self, index: usize) -> bool {
        self.all_commands || self.commands.get(index)
    }

    /// The first arguments allowed for each otherwise refused command.
    pub fn first_args(&self) -> &BTreeMap<usize, Vec<Vec<u8>>> {
        &self.first_args
    }

    fn change_command(&mut self, cat: &dyn CommandCatalog, index: usize, allow: bool) {
        self.set_bit(index, allow);
        self.first_args.remove(&index);
        for sub in cat.subcommands(index) {
            self.set_bit(sub, allow);
        }
    }

    fn set_bit(&mut self, index: usize, allow: bool) {
        self.commands.set(index, allow);
        if !allow {
            self.all_commands = false;
        }
    }

    fn change_category(&mut self, cat: &dyn CommandCatalog, flag: u32, allow: bool) {
        for index in 0..cat.len() {
            if cat.categories(index) & flag != 0 {
                self.change_command(cat, index, allow);
            }
        }
    }

    /// `+@name` / `-@name` on this selector; false when the category does not exist.
    pub fn apply_category(&mut self, name: &[u8], allow: bool) -> bool {
        let Some(flag) = category_flag(name) else {
            return false;
        };
        self.change_category(catalog(), flag, allow);
        true
    }

    /// Applies one selector rule (everything but the user-level ones: on/off, passwords,
    /// selectors, reset).
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let cat = catalog();
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if is("allkeys") || op == b"~*" {
            self.all_keys = true;
            self.keys.clear();
        } else if is("resetkeys") {
            self.all_keys = false;
            self.keys.clear();
        } else if is("allchannels") || op == b"&*" {
            self.all_channels = true;
            self.channels.clear();
        } else if is("resetchannels") {
            self.all_channels = false;
            self.channels.clear();
        } else if is("allcommands") || is("+@all") {
            self.commands.fill(cat.len(), true);
            self.all_commands = true;
            self.first_args.clear();
        } else if is("nocommands") || is("-@all") {
            self.commands.fill(cat.len(), false);
            self.all_commands = false;
            self.first_args.clear();
        } else if op.first() == Some(&b'~') || op.first() == Some(&b'%') {
            self.add_key_pattern(op)?;
        } else if let Some(pattern) = op.strip_prefix(b"&") {
            if self.all_channels {
                return Err(RuleError::ChannelsAfterAll);
            }
            if has_spaces(pattern) {
                return Err(RuleError::Syntax);
            }
            if !self.channels.iter().any(|c| c == pattern) {
                self.channels.push(pattern.to_vec());
            }
            self.all_channels = false;
        } else if let Some(category) = op
            .strip_prefix(b"+@")
            .map(|c| (c, true))
            .or_else(|| op.strip_prefix(b"-@").map(|c| (c, false)))
        {
            let (name, allow) = category;
            if !self.apply_category(name, allow) {
                return Err(RuleError::UnknownCommand);
            }
        } else if let Some(name) = op.strip_prefix(b"+") {
            self.allow_command(cat, name)?;
        } else if let Some(name) = op.strip_prefix(b"-") {
            let index = lookup(cat, name).ok_or(RuleError::UnknownCommand)?;
            self.change_command(cat, index, false);
        } else {
            return Err(RuleError::Syntax);
        }
        Ok(())
    }

    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::KeysAfterAll);
        }
        let (read, write, pattern) = if op[0] == b'%' {
            let (mut read, mut write) = (false, false);
            let mut offset = 1;
            loop {
                match op.get(offset) {
                    Some(b'R' | b'r') if !read => read = true,
                    Some(b'W' | b'w') if !write => write = true,
                    Some(b'~') => {
                        offset += 1;
                        break;
                    }
                    _ => return Err(RuleError::Syntax),
                }
                offset += 1;
            }
            (read, write, &op[offset..])
        } else {
            (true, true, &op[1..])
        };
        if has_spaces(pattern) {
            return Err(RuleError::Syntax);
        }
        match self.keys.iter_mut().find(|k| k.pattern == pattern) {
            Some(existing) => {
                existing.read |= read;
                existing.write |= write;
            }
            None => self.keys.push(KeyPattern {
                pattern: pattern.to_vec(),
                read,
                write,
            }),
        }
        Ok(())
    }

    /// `+name`, `+container|sub`, or `+command|first-arg`.
    fn allow_command(&mut self, cat: &dyn CommandCatalog, name: &[u8]) -> Result<(), RuleError> {
        let Some(bar) = name.iter().rposition(|&b| b == b'|') else {
            let index = lookup(cat, name).ok_or(RuleError::UnknownCommand)?;
            self.change_command(cat, index, true);
            return Ok(());
        };
        let (parent, sub) = (&name[..bar], &name[bar + 1..]);
        let parent_index = lookup(cat, parent).ok_or(RuleError::UnknownCommand)?;
        if cat.is_subcommand(parent_index) {
            return Err(RuleError::FirstArgOfSubcommand);
        }
        if sub.is_empty() {
            return Err(RuleError::Syntax);
        }
        if !cat.subcommands(parent_index).is_empty() {
            let index = lookup(cat, name).ok_or(RuleError::UnknownCommand)?;
            self.change_command(cat, index, true);
        } else {
            let allowed = self.first_args.entry(parent_index).or_default();
            if !allowed.iter().any(|a| a.eq_ignore_ascii_case(sub)) {
                allowed.push(sub.to_ascii_lowercase());
            }
        }
        Ok(())
    }

    /// Checks one command call against this selector.
    pub fn check(&self, req: &Request<'_>) -> Result<(), Denial> {
        let command = Denial {
            kind: DenialKind::Command,
            pos: 0,
        };
        if !self.all_commands && !req.no_auth && !self.commands.get(req.index) {
            let allowed = self.first_args.get(&req.index).ok_or(command)?;
            let first = req.argv.get(req.first_arg_at).ok_or(command)?;
            if !allowed.iter().any(|a| a.eq_ignore_ascii_case(first)) {
                return Err(command);
            }
        }
        if !self.all_keys {
            for key in req.keys {
                let Some(name) = req.argv.get(key.pos) else {
                    continue;
                };
                let granted = self.keys.iter().any(|p| {
                    (p.read || !key.read)
                        && (p.write || !key.write)
                        && glob_match(&p.pattern, name, false)
                });
                if !granted {
                    return Err(Denial {
                        kind: DenialKind::Key,
                        pos: key.pos,
                    });
                }
            }
        }
        if !self.all_channels {
            for channel in req.channels {
                let Some(name) = req.argv.get(channel.pos) else {
                    continue;
                };
                if !self.channel_allowed(name, channel.pattern) {
                    return Err(Denial {
                        kind: DenialKind::Channel,
                        pos: channel.pos,
                    });
                }
            }
        }
        Ok(())
    }

    /// Whether a channel (or, for PSUBSCRIBE, a pattern) is allowed.
    pub fn channel_allowed(&self, name: &[u8], is_pattern: bool) -> bool {
        self.all_channels
            || self.channels.iter().any(|allowed| {
                if is_pattern {
                    allowed.as_slice() == name
                } else {
                    glob_match(allowed, name, false)
                }
            })
    }

    /// Same commands allowed (bits, the future bit and first arguments).
    pub fn same_commands_as(&self, other: &Selector) -> bool {
        self.commands.same_commands(&other.commands) && self.first_args == other.first_args
    }

    /// How many commands of a category this selector allows and refuses.
    pub fn count_category(&self, cat: &dyn CommandCatalog, flag: u32) -> (usize, usize) {
        let mut on = 0;
        let mut off = 0;
        for index in 0..cat.len() {
            if cat.categories(index) & flag != 0 {
                if self.commands.get(index) {
                    on += 1;
                } else {
                    off += 1;
                }
            }
        }
        (on, off)
    }

    /// Whether the command bit at `index` is set.
    pub fn bit(&self, index: usize) -> bool {
        self.commands.get(index)
    }

    /// Sets or clears the bit of `index` and of its subcommands, as `+cmd` / `-cmd` do.
    pub fn change(&mut self, cat: &dyn CommandCatalog, index: usize, allow: bool) {
        self.change_command(cat, index, allow);
    }
}

/// The table index of a command name (`get`, `config|get`), case-insensitive.
fn lookup(cat: &dyn CommandCatalog, name: &[u8]) -> Option<usize> {
    let name = std::str::from_utf8(name).ok()?;
    cat.lookup(&name.to_ascii_lowercase())
}
