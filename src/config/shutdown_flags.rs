//! SHUTDOWN's options (`SAVE`, `NOSAVE`, `NOW`, `FORCE`), as the command takes them and as
//! `shutdown-on-sigterm` / `shutdown-on-sigint` store them for the signals (Redis 7's
//! multi-word enum: `default`, or any of `save nosave now force`, printed in that order).

use bitflags::bitflags;

bitflags! {
    /// How a shutdown proceeds; empty is Redis' `default`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct ShutdownFlags: u8 {
        /// Flush memtables before closing (the default does too).
        const SAVE = 1 << 0;
        /// Close without the explicit flush; the WAL still keeps every acknowledged write.
        const NOSAVE = 1 << 1;
        /// Do not wait for lagging slaves.
        const NOW = 1 << 2;
        /// Exit even when the save fails.
        const FORCE = 1 << 3;
    }
}

/// The words, in the order CONFIG GET prints them.
const WORDS: &[(&str, ShutdownFlags)] = &[
    ("save", ShutdownFlags::SAVE),
    ("nosave", ShutdownFlags::NOSAVE),
    ("now", ShutdownFlags::NOW),
    ("force", ShutdownFlags::FORCE),
];

impl ShutdownFlags {
    /// Parses a directive value: space-separated words, case-insensitive. The error is
    /// Redis 7's wording.
    pub fn parse_directive(text: &str) -> Result<ShutdownFlags, String> {
        let mut flags = ShutdownFlags::empty();
        for word in text.split_whitespace() {
            if word.eq_ignore_ascii_case("default") {
                continue;
            }
            let flag = WORDS
                .iter()
                .find(|(w, _)| w.eq_ignore_ascii_case(word))
                .map(|(_, f)| *f)
                .ok_or_else(|| {
                    "argument(s) must be one of the following: default, save, nosave, now, force"
                        .to_string()
                })?;
            flags |= flag;
        }
        if flags.contains(ShutdownFlags::SAVE | ShutdownFlags::NOSAVE) {
            return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
        }
        Ok(flags)
    }

    /// The directive text: `default`, or the words set, in table order.
    pub fn render(self) -> String {
        let words: Vec<&str> = WORDS
            .iter()
            .filter(|(_, f)| self.contains(*f))
            .map(|(w, _)| *w)
            .collect();
        if words.is_empty() {
            "default".into()
        } else {
            words.join(" ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directive_values_parse_and_print_as_redis() {
        let f = ShutdownFlags::parse_directive("NOW nosave").unwrap();
        assert_eq!(f, ShutdownFlags::NOW | ShutdownFlags::NOSAVE);
        assert_eq!(f.render(), "nosave now");
        assert_eq!(
            ShutdownFlags::parse_directive("default").unwrap().render(),
            "default"
        );
        assert_eq!(
            ShutdownFlags::parse_directive("").unwrap(),
            ShutdownFlags::empty()
        );
        assert!(ShutdownFlags::parse_directive("save nosave")
            .unwrap_err()
            .contains("SAVE and NOSAVE"));
        assert!(ShutdownFlags::parse_directive("bogus")
            .unwrap_err()
            .starts_with("argument(s) must be one of"));
    }
}
