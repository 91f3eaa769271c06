//! Script flags: the `#!lua flags=...` shebang of an EVAL script, and the flags of a
//! registered function.

use bitflags::bitflags;

bitflags! {
    /// What a script declares about itself.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct ScriptFlags: u32 {
        const NO_WRITES = 1 << 0;
        const ALLOW_OOM = 1 << 1;
        const ALLOW_STALE = 1 << 2;
        const NO_CLUSTER = 1 << 3;
        const ALLOW_CROSS_SLOT = 1 << 4;
        /// An EVAL script without a shebang: Redis 6 rules (writes allowed, no checks up front).
        const EVAL_COMPAT = 1 << 5;
    }
}

/// Flag names as scripts write them.
pub const FLAG_NAMES: &[(&str, ScriptFlags)] = &[
    ("no-writes", ScriptFlags::NO_WRITES),
    ("allow-oom", ScriptFlags::ALLOW_OOM),
    ("allow-stale", ScriptFlags::ALLOW_STALE),
    ("no-cluster", ScriptFlags::NO_CLUSTER),
    ("allow-cross-slot-keys", ScriptFlags::ALLOW_CROSS_SLOT),
];

/// The flag called `name`.
pub fn flag_named(name: &[u8]) -> Option<ScriptFlags> {
    FLAG_NAMES
        .iter()
        .find(|(n, _)| n.as_bytes() == name)
        .map(|&(_, f)| f)
}

/// The flags of an EVAL script and the length of its shebang line (0 without one), which the
/// compiler skips (the newline stays, so line numbers hold). Errors are Redis' texts.
pub fn eval_shebang(body: &[u8]) -> Result<(ScriptFlags, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((ScriptFlags::EVAL_COMPAT, 0));
    }
    let Some(end) = memchr::memchr(b'\n', body) else {
        return Err("ERR Invalid script shebang".into());
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let mut parts = line.split_ascii_whitespace();
    let Some(engine) = parts.next() else {
        return Err("ERR Invalid engine in script shebang".into());
    };
    if engine != "#!lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {engine}"));
    }
    let mut flags = ScriptFlags::empty();
    for part in parts {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {part}"));
        };
        for name in list.split(',').filter(|n| !n.is_empty()) {
            flags |= flag_named(name.as_bytes())
                .ok_or_else(|| format!("ERR Unexpected flag in script shebang: {name}"))?;
        }
    }
    Ok((flags, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang() {
        assert_eq!(
            eval_shebang(b"return 1").unwrap(),
            (ScriptFlags::EVAL_COMPAT, 0)
        );
        assert_eq!(
            eval_shebang(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap(),
            (ScriptFlags::NO_WRITES | ScriptFlags::ALLOW_OOM, 31)
        );
        assert!(eval_shebang(b"#!lua flags=bad\n").is_err());
        assert!(eval_shebang(b"#!python\n").is_err());
        assert!(eval_shebang(b"#!lua").is_err());
    }
}
