//! ACL: users and permissions as Redis 7 (SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI,
//! CAT, GENPASS, DRYRUN, LOG, SAVE, LOAD, HELP). The rules themselves live in `state::acl`;
//! this module parses arguments, shapes replies, and closes the connections of users that
//! were deleted or replaced, or whose channel permissions shrank.

use std::sync::Arc;

use bytes::Bytes;

use crate::cmd::gate::acl::{check_rules, install_catalog};
use crate::cmd::gate::spec::{CommandSpec, KeySpec};
use crate::cmd::gate::table::CommandTable;
use crate::cmd::{args, CmdError, CmdResult, Ctx};
use crate::command;
use crate::resp::Reply;
use crate::state::acl::catalog::{category_flag, CATEGORIES};
use crate::state::acl::user::{channels_field, keys_field};
use crate::state::acl::{DenialKind, User, UserRules};
use crate::state::ServerState;

/// The ACL container and its subcommands.
#[rustfmt::skip]
pub const ACL: CommandSpec =
    command!("acl", -2, [], KeySpec::None, [SLOW], "server",
             "A container for Access List Control commands.", acl, subcommands: SUBCOMMANDS);

#[rustfmt::skip]
const SUBCOMMANDS: &[CommandSpec] = &[
    command!("acl|cat", -2, [NOSCRIPT, LOADING, STALE], KeySpec::None, [SLOW], "server",
             "Lists the ACL categories, or the commands inside a category.", cat),
    command!("acl|deluser", -3, [ADMIN, NOSCRIPT, LOADING, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server",
             "Deletes ACL users, and terminates their connections.", deluser),
    command!("acl|dryrun", -4, [ADMIN, NOSCRIPT, LOADING, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server",
             "Simulates the execution of a command by a user, without executing the command.",
             dryrun),
    command!("acl|genpass", -2, [NOSCRIPT, LOADING, STALE], KeySpec::None, [SLOW], "server",
             "Generates a pseudorandom, secure password that can be used to identify ACL users.",
             genpass),
    command!("acl|getuser", 3, [ADMIN, NOSCRIPT, LOADING, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server", "Lists the ACL rules of a user.", getuser),
    command!("acl|help", 2, [LOADING, STALE], KeySpec::None, [SLOW], "server",
             "Returns helpful text about the different subcommands.", help),
    command!("acl|list", 2, [ADMIN, NOSCRIPT, LOADING, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server",
             "Dumps the effective rules in ACL file format.", list),
    command!("acl|load", 2, [ADMIN, NOSCRIPT, LOADING, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server",
             "Reloads the rules from the configured ACL file.", load),
    command!("acl|log", -2, [ADMIN, NOSCRIPT, LOADING, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server",
             "Lists recent security events generated due to ACL rules.", log),
    command!("acl|save", 2, [ADMIN, NOSCRIPT, LOADING, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server",
             "Saves the effective ACL rules in the configured ACL file.", save),
    command!("acl|setuser", -3, [ADMIN, NOSCRIPT, LOADING, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server",
             "Creates and modifies an ACL user and its rules.", setuser,
             secrets: setuser_secret_args),
    command!("acl|users", 2, [ADMIN, NOSCRIPT, LOADING, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server", "Lists all ACL users.", users),
    command!("acl|whoami", 2, [NOSCRIPT, LOADING, STALE], KeySpec::None, [SLOW], "server",
             "Returns the authenticated username of the current connection.", whoami),
];

fn acl(_: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Err(CmdError::WrongArity("acl".into()))
}

/// Every argument after the user name may be a password: none is shown.
fn setuser_secret_args(argv: &[Bytes]) -> Vec<usize> {
    (3..argv.len()).collect()
}

fn bulk(s: impl Into<String>) -> Reply {
    Reply::bulk(Bytes::from(s.into()))
}

/// Closes the connections running as `user`; they fall back to the unauthenticated default
/// user first, so nothing runs as the removed user meanwhile.
fn disconnect_users_clients(
    server: &ServerState,
    me: &crate::state::client::Client,
    user: &Arc<User>,
) {
    let clients: Vec<_> = server.clients.lock().values().cloned().collect();
    for c in clients {
        if Arc::ptr_eq(&c.user(), user) {
            c.set_user(server.acl.default_user());
            c.set_authenticated(false);
            if c.id == me.id {
                c.close_after_reply();
            } else {
                c.kill();
            }
        }
    }
}

/// After SETUSER narrowed a user's channels, closes its subscribers to channels or patterns
/// the new rules refuse, as Redis does.
fn disconnect_refused_subscribers(
    server: &ServerState,
    me: &crate::state::client::Client,
    user: &Arc<User>,
    previous: &UserRules,
) {
    let now = user.rules();
    if now.selectors.iter().any(|s| s.all_channels) {
        return;
    }
    let upcoming: Vec<&Vec<u8>> = now.selectors.iter().flat_map(|s| &s.channels).collect();
    let still_covered = previous
        .selectors
        .iter()
        .all(|s| !s.all_channels && s.channels.iter().all(|c| upcoming.contains(&c)));
    if still_covered {
        return;
    }
    let allowed = |name: &[u8], pattern: bool| {
        upcoming.iter().any(|a| {
            if pattern {
                a.as_slice() == name
            } else {
                crate::util::glob::glob_match(a, name, false)
            }
        })
    };
    let clients: Vec<_> = server.clients.lock().values().cloned().collect();
    for c in clients {
        if !Arc::ptr_eq(&c.user(), user) || !c.is_subscribed() {
            continue;
        }
        let refused = {
            let subs = c.subscriptions.lock();
            subs.patterns.iter().any(|p| !allowed(p, true))
                || subs
                    .channels
                    .iter()
                    .chain(subs.shard_channels.iter())
                    .any(|ch| !allowed(ch, false))
        };
        if refused {
            if c.id == me.id {
                c.close_after_reply();
            } else {
                c.kill();
            }
        }
    }
}

fn setuser(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let name = &argv[2];
    if crate::state::acl::selector::has_spaces(name) {
        return Err(CmdError::err(
            "Usernames can't contain spaces or null characters",
        ));
    }
    install_catalog();
    let ops: Vec<&[u8]> = argv[3..].iter().map(|a| a.as_ref()).collect();
    let outcome = ctx.server.acl.set_user(name, &ops).map_err(CmdError::err)?;
    if let Some(previous) = &outcome.previous {
        disconnect_refused_subscribers(ctx.server, ctx.client, &outcome.user, previous);
    }
    Ok(Reply::ok())
}

fn deluser(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if argv[2..].iter().any(|n| n.as_ref() == b"default") {
        return Err(CmdError::err("The 'default' user cannot be removed"));
    }
    let names: Vec<&[u8]> = argv[2..].iter().map(|a| a.as_ref()).collect();
    let removed = ctx.server.acl.delete_users(&names);
    for user in &removed {
        disconnect_users_clients(ctx.server, ctx.client, user);
    }
    Ok(Reply::Integer(removed.len() as i64))
}

/// The `commands`, `keys` and `channels` fields of one selector.
fn selector_fields(s: &crate::state::acl::selector::Selector) -> Vec<(Reply, Reply)> {
    let commands = crate::state::acl::describe::describe_commands(s);
    vec![
        (bulk("commands"), bulk(commands)),
        (bulk("keys"), bulk(keys_field(s))),
        (bulk("channels"), bulk(channels_field(s))),
    ]
}

fn getuser(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let Some(user) = ctx.server.acl.user(&argv[2]) else {
        return Ok(Reply::Null);
    };
    let rules = user.rules();
    let mut fields = vec![
        (
            bulk("flags"),
            Reply::Set(rules.flag_names().into_iter().map(bulk).collect()),
        ),
        (
            bulk("passwords"),
            Reply::Array(rules.passwords.iter().map(|p| bulk(p.clone())).collect()),
        ),
    ];
    fields.extend(selector_fields(rules.root()));
    fields.push((
        bulk("selectors"),
        Reply::Array(
            rules.selectors[1..]
                .iter()
                .map(|s| Reply::Map(selector_fields(s)))
                .collect(),
        ),
    ));
    Ok(Reply::Map(fields))
}

fn list(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Ok(Reply::Array(
        ctx.server
            .acl
            .users()
            .iter()
            .map(|u| bulk(format!("user {} {}", u.name_text(), u.rules().describe())))
            .collect(),
    ))
}

fn users(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Ok(Reply::Array(
        ctx.server
            .acl
            .users()
            .iter()
            .map(|u| Reply::Bulk(Bytes::from(u.name.clone())))
            .collect(),
    ))
}

fn whoami(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Ok(Reply::Bulk(Bytes::from(ctx.client.user().name.clone())))
}

fn cat(_: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    match argv.get(2) {
        None => Ok(Reply::Array(CATEGORIES.iter().map(|c| bulk(*c)).collect())),
        Some(name) if argv.len() == 3 => {
            let flag = category_flag(name).ok_or_else(|| {
                CmdError::err(format!(
                    "Unknown category '{}'",
                    args::text(name).chars().take(128).collect::<String>()
                ))
            })?;
            Ok(Reply::Array(
                CommandTable::get()
                    .all()
                    .filter(|(_, s)| s.acl.bits() & flag != 0)
                    .map(|(_, s)| bulk(s.name))
                    .collect(),
            ))
        }
        Some(_) => Err(subcommand_syntax(argv)),
    }
}

/// Redis' reply to a known subcommand with the wrong arguments.
fn subcommand_syntax(argv: &[Bytes]) -> CmdError {
    CmdError::err(format!(
        "unknown subcommand or wrong number of arguments for '{}'. Try ACL HELP.",
        args::text(&argv[1])
    ))
}

/// Longest password GENPASS makes, in bits.
const GENPASS_MAX_BITS: i64 = 4096;

fn genpass(_: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 3 {
        return Err(subcommand_syntax(argv));
    }
    let bits = match argv.get(2) {
        Some(a) => args::int(a)?,
        None => 256,
    };
    if bits <= 0 || bits > GENPASS_MAX_BITS {
        return Err(CmdError::err(format!(
            "ACL GENPASS argument must be the number of bits for the output password, a \
             positive number up to {GENPASS_MAX_BITS}"
        )));
    }
    let chars = (bits as usize).div_ceil(4);
    let mut rng = rand::rngs::OsRng;
    let hex: String = (0..chars)
        .map(|_| {
            let digit = rand::Rng::gen_range(&mut rng, 0..16u32);
            char::from_digit(digit, 16).unwrap_or('0')
        })
        .collect();
    Ok(bulk(hex))
}

fn dryrun(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let Some(user) = ctx.server.acl.user(&argv[2]) else {
        return Err(CmdError::err(format!(
            "User '{}' not found",
            args::text(&argv[2])
        )));
    };
    let cmd = &argv[3..];
    let table = CommandTable::get();
    let not_found = || CmdError::err(format!("Command '{}' not found", args::text(&cmd[0])));
    let (mut idx, mut spec) = table.lookup(&cmd[0]).ok_or_else(not_found)?;
    if !spec.subcommands.is_empty() {
        if let Some(sub) = cmd.get(1) {
            (idx, spec) = table.lookup_sub(spec, sub).ok_or_else(not_found)?;
        }
    }
    if !spec.arity_ok(cmd.len()) {
        return Err(CmdError::err(format!(
            "wrong number of arguments for '{}' command",
            spec.name
        )));
    }
    match check_rules(&user.rules(), idx, spec, cmd) {
        Ok(()) => Ok(Reply::ok()),
        Err(denial) => {
            let arg = |pos: usize| cmd.get(pos).map(|a| args::text(a)).unwrap_or_default();
            Ok(bulk(match denial.kind {
                DenialKind::Command => format!(
                    "This user has no permissions to run the '{}' command",
                    spec.name
                ),
                DenialKind::Key => format!(
                    "This user has no permissions to access the '{}' key",
                    arg(denial.pos)
                ),
                DenialKind::Channel => format!(
                    "This user has no permissions to access the '{}' channel",
                    arg(denial.pos)
                ),
            }))
        }
    }
}

fn log(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 3 {
        return Err(subcommand_syntax(argv));
    }
    let mut count = 10;
    if let Some(a) = argv.get(2) {
        if args::is(a, "reset") {
            ctx.server.acl.log.reset();
            return Ok(Reply::ok());
        }
        count = args::int(a)?.max(0);
    }
    let now = crate::util::clock::unix_ms();
    let entries = ctx.server.acl.log.newest(count as usize);
    Ok(Reply::Array(
        entries
            .into_iter()
            .map(|e| {
                Reply::Map(vec![
                    (bulk("count"), Reply::Integer(e.count as i64)),
                    (bulk("reason"), bulk(e.reason.name())),
                    (bulk("context"), bulk(e.context.name())),
                    (bulk("object"), Reply::Bulk(Bytes::from(e.object))),
                    (bulk("username"), Reply::Bulk(Bytes::from(e.username))),
                    (
                        bulk("age-seconds"),
                        Reply::Double(now.saturating_sub(e.ctime_ms) as f64 / 1000.0),
                    ),
                    (bulk("client-info"), bulk(e.client_info)),
                ])
            })
            .collect(),
    ))
}

/// The configured ACL file, or Redis' error when there is none.
fn acl_file(ctx: &Ctx<'_>) -> Result<String, CmdError> {
    let path = ctx.server.config().aclfile.clone();
    if path.is_empty() {
        return Err(CmdError::err(
            "This Redis instance is not configured to use an ACL file. You may want to specify \
             users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you \
             have a Redis configuration file set) in order to store users in the Redis \
             configuration.",
        ));
    }
    Ok(path)
}

fn save(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let path = acl_file(ctx)?;
    save_to(&ctx.server.acl, &path).map_err(|e| {
        tracing::warn!("ACL SAVE to {path}: {e}");
        CmdError::err(
            "There was an error trying to save the ACLs. Please check the server logs for more \
             information",
        )
    })?;
    Ok(Reply::ok())
}

/// Writes the ACL file through a temporary file renamed over it, so a crash leaves either
/// the old or the new file.
fn save_to(acl: &crate::state::acl::Acl, path: &str) -> std::io::Result<()> {
    let tmp = format!(
        "{path}.tmp-{}-{}",
        std::process::id(),
        crate::util::clock::unix_ms()
    );
    let result = std::fs::write(&tmp, acl.to_file_text()).and_then(|_| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Loads the ACL file into `server`, closing the connections of users it replaced.
pub fn load_file(server: &ServerState, path: &str) -> Result<(), String> {
    install_catalog();
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("Error loading ACLs, opening file '{path}': {e}"))?;
    let replaced = server.acl.load_file_text(path, &text)?;
    for user in &replaced {
        let clients: Vec<_> = server.clients.lock().values().cloned().collect();
        for c in clients {
            if Arc::ptr_eq(&c.user(), user) {
                c.set_user(server.acl.default_user());
                c.set_authenticated(false);
                c.kill();
            }
        }
    }
    Ok(())
}

fn load(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let path = acl_file(ctx)?;
    load_file(ctx.server, &path).map_err(CmdError::err)?;
    Ok(Reply::ok())
}

fn help(_: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Ok(crate::cmd::admin::command::help_reply(
        "ACL",
        &[
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
        ],
    ))
}
