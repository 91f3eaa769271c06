//! Placeholder while the group is written.

use super::spec::CommandSpec;

/// Commands of this group.
pub const COMMANDS: &[CommandSpec] = &[];
