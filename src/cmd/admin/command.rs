//! COMMAND: introspection of the command table (COUNT, INFO, DOCS, LIST, GETKEYS, HELP).
//!
//! Everything here is derived from the [`CommandSpec`]s of the [`CommandTable`], so the answers
//! can never disagree with what the dispatcher enforces.

use bytes::Bytes;

use crate::cmd::gate::spec::{AclCategories, CmdFlags, CommandSpec, KeyEnd, KeySpec};
use crate::cmd::gate::table::CommandTable;
use crate::cmd::{args, CmdError, CmdResult, Ctx};
use crate::command;
use crate::resp::Reply;
use crate::util::glob::glob_match;

/// The subcommands of COMMAND.
#[rustfmt::skip]
pub const SUBCOMMANDS: &[CommandSpec] = &[
    command!("command|count", 2, [LOADING, STALE], KeySpec::None, [SLOW, CONNECTION], "server",
             "Returns a count of commands.", count),
    command!("command|info", -2, [LOADING, STALE], KeySpec::None, [SLOW, CONNECTION], "server",
             "Returns information about one, multiple or all commands.", info),
    command!("command|docs", -2, [LOADING, STALE], KeySpec::None, [SLOW, CONNECTION], "server",
             "Returns documentary information about one, multiple or all commands.", docs),
    command!("command|list", -2, [LOADING, STALE], KeySpec::None, [SLOW, CONNECTION], "server",
             "Returns a list of command names.", list),
    command!("command|getkeys", -4, [LOADING, STALE], KeySpec::None, [SLOW, CONNECTION],
             "server", "Extracts the key names from an arbitrary command.", getkeys),
    command!("command|getkeysandflags", -4, [LOADING, STALE], KeySpec::None, [SLOW, CONNECTION],
             "server", "Extracts the key names and access flags for an arbitrary command.",
             getkeysandflags),
    command!("command|help", 2, [LOADING, STALE], KeySpec::None, [SLOW, CONNECTION], "server",
             "Returns helpful text about the different subcommands.", help),
];

/// COMMAND [subcommand ...]: with no argument, the info of every command.
pub fn command(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    let table = CommandTable::get();
    Ok(Reply::Array(table.top_level().map(command_info).collect()))
}

/// Finds a command or subcommand (`config|get`) by name, ignoring case.
fn find(name: &[u8]) -> Option<&'static CommandSpec> {
    let table = CommandTable::get();
    let lowered = args::lower(name);
    match lowered.split_once('|') {
        Some((parent, _)) => {
            let (_, p) = table.lookup(parent.as_bytes())?;
            p.subcommands.iter().find(|s| s.name == lowered)
        }
        None => table.lookup(name).map(|(_, s)| s),
    }
}

/// Every command name with its spec, subcommands included, in table order.
fn every_spec() -> impl Iterator<Item = &'static CommandSpec> {
    CommandTable::get()
        .top_level()
        .flat_map(|s| std::iter::once(s).chain(s.subcommands.iter()))
}

fn status_set(names: Vec<&'static str>) -> Reply {
    Reply::Set(names.into_iter().map(|n| Reply::Simple(n.into())).collect())
}

fn bulk_str(s: &str) -> Reply {
    Reply::bulk(Bytes::copy_from_slice(s.as_bytes()))
}

/// The key-spec flags of `spec`, one list per key spec.
fn spec_key_flags(spec: &CommandSpec) -> Vec<&'static [&'static str]> {
    if !spec.key_flags.is_empty() {
        return spec.key_flags.to_vec();
    }
    if spec.flags.contains(CmdFlags::WRITE) {
        vec![&["RW", "update"]]
    } else {
        vec![&["RO", "access"]]
    }
}

/// The flags GETKEYSANDFLAGS reports for the `nth` key of `cmd` (a full command line), with
/// the variable flags of SET resolved from its arguments.
pub(crate) fn key_flags_of(spec: &CommandSpec, cmd: &[Bytes], nth: usize) -> Vec<&'static str> {
    if spec.name == "set" {
        // Without GET, SET only overwrites the key; with it, it also reads the old value.
        let reads = cmd.iter().skip(3).any(|a| args::is(a, "get"));
        return if reads {
            vec!["RW", "access", "update"]
        } else {
            vec!["OW", "update"]
        };
    }
    let specs = spec_key_flags(spec);
    // MIGRATE's keys, in either form, are all the first spec's (its keyword spec differs only
    // by `incomplete`, which describes the spec, not a key).
    let nth = if matches!(spec.keys, KeySpec::KeyOrKeyword { .. }) {
        0
    } else {
        nth
    };
    let flags = specs.get(nth).or(specs.last()).copied().unwrap_or(&[]);
    flags.to_vec()
}

/// A map reply of `(name, value)` pairs.
fn map(pairs: Vec<(&'static str, Reply)>) -> Reply {
    Reply::Map(pairs.into_iter().map(|(k, v)| (bulk_str(k), v)).collect())
}

/// A Redis 7 key specification: the search begins as `begin_type` (`index`, `keyword`) with
/// `begin_spec` describes, and finds keys as `find_type` (`range`, `keynum`) with `find_spec`.
fn key_spec(
    flags: &[&'static str],
    (begin_type, begin_spec): (&'static str, Vec<(&'static str, Reply)>),
    find_type: &'static str,
    find_spec: Vec<(&'static str, Reply)>,
) -> Reply {
    map(vec![
        ("flags", status_set(flags.to_vec())),
        (
            "begin_search",
            map(vec![
                ("type", bulk_str(begin_type)),
                ("spec", map(begin_spec)),
            ]),
        ),
        (
            "find_keys",
            map(vec![
                ("type", bulk_str(find_type)),
                ("spec", map(find_spec)),
            ]),
        ),
    ])
}

/// The search of a key specification that begins at argument `index`.
fn begin_at(index: usize) -> (&'static str, Vec<(&'static str, Reply)>) {
    ("index", vec![("index", Reply::Integer(index as i64))])
}

/// A Redis 7 `index` / `range` key specification.
fn one_key_spec(flags: &[&'static str], first: usize, lastkey: i64, step: usize) -> Reply {
    key_spec(
        flags,
        begin_at(first),
        "range",
        vec![
            ("lastkey", Reply::Integer(lastkey)),
            ("keystep", Reply::Integer(step as i64)),
            ("limit", Reply::Integer(0)),
        ],
    )
}

/// A Redis 7 `keynum` key specification: the count at `numkeys_at`, keys from `first`.
fn keynum_key_spec(flags: &[&'static str], numkeys_at: usize, first: usize, step: usize) -> Reply {
    key_spec(
        flags,
        begin_at(numkeys_at),
        "keynum",
        vec![
            ("keynumidx", Reply::Integer(0)),
            ("firstkey", Reply::Integer(first as i64 - numkeys_at as i64)),
            ("keystep", Reply::Integer(step as i64)),
        ],
    )
}

/// A Redis 7 key specification that begins at `keyword` (searched from `startfrom`, negative
/// for a backward search from the end) and takes the arguments after it up to the last,
/// `limit` giving the part of them that are keys (2: the first half, XREAD's STREAMS; 0: all,
/// MIGRATE's KEYS).
fn keyword_key_spec(
    flags: &[&'static str],
    keyword: &'static str,
    startfrom: i64,
    limit: i64,
) -> Reply {
    key_spec(
        flags,
        (
            "keyword",
            vec![
                ("keyword", bulk_str(keyword)),
                ("startfrom", Reply::Integer(startfrom)),
            ],
        ),
        "range",
        vec![
            ("lastkey", Reply::Integer(-1)),
            ("keystep", Reply::Integer(1)),
            ("limit", Reply::Integer(limit)),
        ],
    )
}

/// The Redis 7 key specifications built from the simple [`KeySpec`] and the spec's key flags.
fn key_specs(spec: &CommandSpec) -> Reply {
    if let KeySpec::Keyword {
        keyword, startfrom, ..
    } = spec.keys
    {
        return Reply::Set(vec![keyword_key_spec(
            spec_key_flags(spec)[0],
            keyword,
            startfrom as i64,
            2,
        )]);
    }
    if let KeySpec::KeyOrKeyword {
        at,
        keyword,
        startfrom,
        ..
    } = spec.keys
    {
        let flags = spec_key_flags(spec);
        let of = |i: usize| flags.get(i).or(flags.last()).copied().unwrap_or(&[]);
        return Reply::Set(vec![
            one_key_spec(of(0), at, 0, 1),
            keyword_key_spec(of(1), keyword, startfrom, 0),
        ]);
    }
    if let KeySpec::Keynum {
        numkeys_at,
        first,
        step,
    } = spec.keys
    {
        return Reply::Set(vec![keynum_key_spec(
            spec_key_flags(spec)[0],
            numkeys_at,
            first,
            step,
        )]);
    }
    let KeySpec::Range { first, last, step } = spec.keys else {
        return Reply::Set(Vec::new());
    };
    let specs = spec_key_flags(spec);
    if specs.len() > 1 {
        // One single-key spec per key: source, destination.
        return Reply::Set(
            specs
                .iter()
                .enumerate()
                .map(|(i, flags)| {
                    // The last spec covers the rest of the range (SINTERSTORE's sources).
                    let at = first + i * step;
                    let lastkey = match last {
                        _ if i + 1 < specs.len() => 0,
                        KeyEnd::At(l) => l as i64 - at as i64,
                        KeyEnd::FromEnd(n) => -(n as i64),
                    };
                    one_key_spec(flags, at, lastkey, 1)
                })
                .collect(),
        );
    }
    let lastkey = match last {
        KeyEnd::At(i) => i as i64 - first as i64,
        KeyEnd::FromEnd(n) => -(n as i64),
    };
    Reply::Set(vec![one_key_spec(specs[0], first, lastkey, step)])
}

/// One command's COMMAND INFO entry (Redis 7 layout, ten fields).
pub fn command_info(spec: &'static CommandSpec) -> Reply {
    let (first, last, step) = spec.legacy_key_triple();
    Reply::Array(vec![
        bulk_str(spec.name),
        Reply::Integer(spec.arity as i64),
        status_set(spec.flag_names()),
        Reply::Integer(first),
        Reply::Integer(last),
        Reply::Integer(step),
        status_set(spec.acl_names()),
        Reply::Set(Vec::new()),
        key_specs(spec),
        Reply::Set(spec.subcommands.iter().map(command_info).collect()),
    ])
}

fn command_docs(spec: &'static CommandSpec) -> Reply {
    let mut fields = vec![
        (bulk_str("summary"), bulk_str(spec.summary)),
        (bulk_str("since"), bulk_str("1.0.0")),
        (bulk_str("group"), bulk_str(spec.group)),
        (bulk_str("arguments"), Reply::Array(Vec::new())),
    ];
    let subs = spec.subcommands;
    if !subs.is_empty() {
        fields.push((
            bulk_str("subcommands"),
            Reply::Map(
                subs.iter()
                    .map(|s| (bulk_str(s.name), command_docs(s)))
                    .collect(),
            ),
        ));
    }
    Reply::Map(fields)
}

fn count(_: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Ok(Reply::Integer(
        CommandTable::get().top_level().count() as i64
    ))
}

fn info(_: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if argv.len() == 2 {
        let table = CommandTable::get();
        return Ok(Reply::Array(table.top_level().map(command_info).collect()));
    }
    Ok(Reply::Array(
        argv[2..]
            .iter()
            .map(|name| find(name).map_or(Reply::Null, command_info))
            .collect(),
    ))
}

fn docs(_: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let pairs = if argv.len() == 2 {
        CommandTable::get()
            .top_level()
            .map(|s| (bulk_str(s.name), command_docs(s)))
            .collect()
    } else {
        argv[2..]
            .iter()
            .filter_map(|name| find(name).map(|s| (bulk_str(s.name), command_docs(s))))
            .collect()
    };
    Ok(Reply::Map(pairs))
}

/// The ACL category named `name` (without `@`), ignoring case.
fn acl_category(name: &[u8]) -> Option<AclCategories> {
    let wanted = args::lower(name);
    AclCategories::all()
        .iter_names()
        .find(|(n, _)| n.eq_ignore_ascii_case(&wanted))
        .map(|(_, cat)| cat)
}

fn list(_: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let names = |keep: &dyn Fn(&CommandSpec) -> bool| {
        Reply::Array(
            every_spec()
                .filter(|s| keep(s))
                .map(|s| bulk_str(s.name))
                .collect(),
        )
    };
    match argv.len() {
        2 => Ok(names(&|_| true)),
        5 if args::is(&argv[2], "filterby") => {
            let value = &argv[4];
            if args::is(&argv[3], "module") {
                Ok(Reply::Array(Vec::new()))
            } else if args::is(&argv[3], "aclcat") {
                match acl_category(value) {
                    Some(cat) => Ok(names(&|s| s.acl.contains(cat))),
                    None => Ok(Reply::Array(Vec::new())),
                }
            } else if args::is(&argv[3], "pattern") {
                Ok(names(&|s| glob_match(value, s.name.as_bytes(), true)))
            } else {
                Err(CmdError::Syntax)
            }
        }
        _ => Err(CmdError::Syntax),
    }
}

/// Resolves the command of a GETKEYS request (a container with a subcommand resolves to it).
fn resolve_target(cmd: &[Bytes]) -> Result<&'static CommandSpec, CmdError> {
    let invalid = || CmdError::err("Invalid command specified");
    let (_, spec) = CommandTable::get().lookup(&cmd[0]).ok_or_else(invalid)?;
    let subs = spec.subcommands;
    if subs.is_empty() || cmd.len() < 2 {
        return Ok(spec);
    }
    let full = format!("{}|{}", spec.name, args::lower(&cmd[1]));
    subs.iter().find(|s| s.name == full).ok_or_else(invalid)
}

/// Commands that may be called without any key (Redis' `NO_MANDATORY_KEYS`: scripts and
/// functions declare how many keys they get, possibly none): GETKEYS answers an empty list.
fn keys_optional(spec: &CommandSpec) -> bool {
    matches!(
        spec.name,
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
    )
}

/// The key positions of `cmd` (a full command line), with Redis' GETKEYS errors.
fn target_keys(argv: &[Bytes]) -> Result<(Vec<usize>, &'static CommandSpec), CmdError> {
    let cmd = &argv[2..];
    let spec = resolve_target(cmd)?;
    if spec.keys == KeySpec::None {
        return Err(CmdError::err("The command has no key arguments"));
    }
    if !spec.arity_ok(cmd.len()) {
        return Err(CmdError::err(
            "Invalid number of arguments specified for command",
        ));
    }
    let positions = spec.key_positions(cmd);
    if positions.is_empty() && !keys_optional(spec) {
        return Err(CmdError::err("Invalid arguments specified for command"));
    }
    Ok((positions, spec))
}

fn getkeys(_: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (positions, _) = target_keys(argv)?;
    let cmd = &argv[2..];
    Ok(Reply::Array(
        positions
            .iter()
            .filter_map(|&i| cmd.get(i))
            .map(|k| Reply::Bulk(k.clone()))
            .collect(),
    ))
}

fn getkeysandflags(_: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (positions, spec) = target_keys(argv)?;
    let cmd = &argv[2..];
    Ok(Reply::Array(
        positions
            .iter()
            .enumerate()
            .filter_map(|(nth, &i)| cmd.get(i).map(|k| (nth, k)))
            .map(|(nth, k)| {
                let flags = key_flags_of(spec, cmd, nth);
                Reply::Array(vec![Reply::Bulk(k.clone()), status_set(flags)])
            })
            .collect(),
    ))
}

/// The lines of a HELP reply, as simple strings (Redis' addReplyHelp).
pub fn help_reply(command: &str, lines: &[&str]) -> Reply {
    let mut out = vec![Reply::Simple(
        format!("{command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:").into(),
    )];
    out.extend(lines.iter().map(|l| Reply::Simple(l.to_string().into())));
    out.push(Reply::Simple("HELP".into()));
    out.push(Reply::Simple("    Prints this help.".into()));
    Reply::Array(out)
}

fn help(_: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    ))
}
