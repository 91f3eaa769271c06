//! The ACL file: one `user <name> <rules...>` line per user, as ACL SAVE writes it and ACL
//! LOAD (and start-up, with `aclfile`) reads it; and the merging of a selector written
//! across several arguments (`(~x` `+get)`), which SETUSER and the file both accept.

use super::selector::has_spaces;
use super::user::UserRules;

/// Joins selector arguments split by spaces into one `(...)` argument each. An opening
/// parenthesis that never closes is an error naming the argument it starts at.
pub fn merge_selector_args<'a>(ops: &[&'a [u8]]) -> Result<Vec<Vec<u8>>, &'a [u8]> {
    let mut merged = Vec::with_capacity(ops.len());
    let mut open: Option<(Vec<u8>, &'a [u8])> = None;
    for &op in ops {
        if let Some((mut selector, start)) = open.take() {
            selector.push(b' ');
            selector.extend_from_slice(op);
            if op.last() == Some(&b')') {
                merged.push(selector);
            } else {
                open = Some((selector, start));
            }
            continue;
        }
        if op.first() == Some(&b'(') && op.last() != Some(&b')') {
            open = Some((op.to_vec(), op));
            continue;
        }
        merged.push(op.to_vec());
    }
    match open {
        Some((_, start)) => Err(start),
        None => Ok(merged),
    }
}

/// Parses an ACL file into users and their rules, or every error Redis would report.
pub fn parse(path: &str, text: &str) -> Result<Vec<(Vec<u8>, UserRules)>, String> {
    let mut users: Vec<(Vec<u8>, UserRules)> = Vec::new();
    let mut errors = String::new();
    for (i, line) in text.split('\n').enumerate() {
        let linenum = i + 1;
        let line = line.trim_matches([' ', '\t', '\r', '\n']);
        if line.is_empty() {
            continue;
        }
        let words: Vec<&[u8]> = line
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(str::as_bytes)
            .collect();
        if words.len() < 2 || words[0] != b"user" {
            errors.push_str(&format!(
                "{path}:{linenum} should start with user keyword followed by the username. "
            ));
            continue;
        }
        let name = words[1];
        if has_spaces(name) {
            errors.push_str(&format!(
                "'{path}:{linenum}: username '{}' contains invalid characters. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        if users.iter().any(|(n, _)| n == name) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{}' found on line {linenum}. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        let Ok(ops) = merge_selector_args(&words[2..]) else {
            errors.push_str(&format!(
                "{path}:{linenum}: Unmatched parenthesis in selector definition."
            ));
            continue;
        };
        let mut rules = UserRules::default();
        let mut syntax_error = false;
        for op in &ops {
            if let Err(e) = rules.apply(op) {
                if e == super::RuleError::UnknownCommand {
                    errors.push_str(&format!(
                        "{path}:{linenum}: Error in applying operation '{}': {}. ",
                        String::from_utf8_lossy(op),
                        e.text()
                    ));
                } else if !syntax_error {
                    errors.push_str(&format!("{path}:{linenum}: {}. ", e.text()));
                    syntax_error = true;
                }
            }
        }
        users.push((name.to_vec(), rules));
    }
    if errors.is_empty() {
        Ok(users)
    } else {
        errors.push_str(
            "WARNING: ACL errors detected, no change to the previously active ACL rules was \
             performed",
        );
        Err(errors)
    }
}
