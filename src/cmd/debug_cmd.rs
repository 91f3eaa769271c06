//! Placeholder while the group is written.
