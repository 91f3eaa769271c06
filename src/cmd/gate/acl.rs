//! The ACL check of the dispatch gate: which keys (read or written) and channels a command
//! names, the check of the client's user against them, the ACL LOG entry and INFO count of
//! a refusal, and the texts Redis replies with in each context.
//!
//! The default user allows everything; for it (and any unrestricted user) the check is one
//! flag load.

use bytes::Bytes;

use crate::cmd::gate::spec::{CmdFlags, CommandSpec};
use crate::cmd::gate::table::CommandTable;
use crate::resp::Reply;
use crate::state::acl::catalog::CommandCatalog;
use crate::state::acl::log::{Context, Entry, Reason};
use crate::state::acl::{ChannelUse, Denial, DenialKind, KeyUse, Request, UserRules};
use crate::state::client::Client;
use crate::state::ServerState;

/// The command table as the ACL rules see it.
struct TableCatalog;

impl CommandCatalog for TableCatalog {
    fn len(&self) -> usize {
        CommandTable::get().len()
    }

    fn lookup(&self, name: &str) -> Option<usize> {
        let table = CommandTable::get();
        match name.split_once('|') {
            None => table.lookup(name.as_bytes()).map(|(i, _)| i),
            Some((parent, sub)) => {
                let (_, spec) = table.lookup(parent.as_bytes())?;
                table.lookup_sub(spec, sub.as_bytes()).map(|(i, _)| i)
            }
        }
    }

    fn name(&self, index: usize) -> &'static str {
        CommandTable::get().at(index).name
    }

    fn categories(&self, index: usize) -> u32 {
        CommandTable::get().at(index).acl.bits()
    }

    fn subcommands(&self, index: usize) -> std::ops::Range<usize> {
        // A container's subcommands follow it in the table (see `table`).
        let n = CommandTable::get().at(index).subcommands.len();
        index + 1..index + 1 + n
    }

    fn is_subcommand(&self, index: usize) -> bool {
        CommandTable::get().at(index).name.contains('|')
    }
}

/// Gives the ACL rules the command table; call once before users are set up.
pub fn install_catalog() {
    static CATALOG: TableCatalog = TableCatalog;
    crate::state::acl::catalog::install(&CATALOG);
}

/// The keys of a call and whether it reads or writes each (key-spec flags `access` for
/// reads; `insert`, `delete`, `update` for writes).
fn key_uses(spec: &CommandSpec, argv: &[Bytes]) -> Vec<KeyUse> {
    let args = argv;
    spec.key_positions(args)
        .into_iter()
        .enumerate()
        .map(|(nth, pos)| {
            let flags = crate::cmd::admin::command::key_flags_of(spec, args, nth);
            KeyUse {
                pos,
                read: flags.contains(&"access"),
                write: flags
                    .iter()
                    .any(|f| matches!(*f, "insert" | "delete" | "update")),
            }
        })
        .collect()
}

/// The channels a call publishes to or subscribes to (unsubscribing needs no permission).
fn channel_uses(spec: &CommandSpec, argv: &[Bytes]) -> Vec<ChannelUse> {
    let all = |pattern| -> Vec<ChannelUse> {
        (1..argv.len())
            .map(|pos| ChannelUse { pos, pattern })
            .collect()
    };
    match spec.name {
        "publish" | "spublish" => vec![ChannelUse {
            pos: 1,
            pattern: false,
        }],
        "subscribe" | "ssubscribe" => all(false),
        "psubscribe" => all(true),
        _ => Vec::new(),
    }
}

/// Checks a call against `rules` (without logging).
pub fn check_rules(
    rules: &UserRules,
    idx: usize,
    spec: &CommandSpec,
    argv: &[Bytes],
) -> Result<(), Denial> {
    let keys = key_uses(spec, argv);
    let channels = channel_uses(spec, argv);
    rules.check(&Request {
        index: idx,
        no_auth: spec.flags.contains(CmdFlags::NO_AUTH),
        first_arg_at: if spec.name.contains('|') { 2 } else { 1 },
        argv,
        keys: &keys,
        channels: &channels,
    })
}

/// Checks the client's permission for a call; a refusal is logged (ACL LOG) and counted.
/// `context` is only asked for on a refusal (finding it takes a lock).
pub fn check(
    server: &ServerState,
    client: &Client,
    idx: usize,
    spec: &CommandSpec,
    argv: &[Bytes],
    context: impl FnOnce() -> Context,
) -> Result<(), DenialKind> {
    if client.user_unrestricted() || client.is_master_link() {
        return Ok(());
    }
    let user = client.user();
    let Err(denial) = check_rules(&user.rules(), idx, spec, argv) else {
        return Ok(());
    };
    let (reason, object) = match denial.kind {
        DenialKind::Command => (Reason::Command, spec.name.as_bytes().to_vec()),
        DenialKind::Key => (Reason::Key, arg(argv, denial.pos)),
        DenialKind::Channel => (Reason::Channel, arg(argv, denial.pos)),
    };
    log(server, client, reason, context(), object, user.name.clone());
    Err(denial.kind)
}

fn arg(argv: &[Bytes], pos: usize) -> Vec<u8> {
    argv.get(pos).map(|a| a.to_vec()).unwrap_or_default()
}

/// Adds an ACL LOG entry for `client` and counts it for INFO.
pub fn log(
    server: &ServerState,
    client: &Client,
    reason: Reason,
    context: Context,
    object: Vec<u8>,
    username: Vec<u8>,
) {
    server.acl.count_denied(reason);
    server.acl.log.add(Entry {
        count: 1,
        reason,
        context,
        object,
        username,
        ctime_ms: crate::util::clock::unix_ms(),
        client_info: client.info_line(),
    });
}

/// The context a command of `client` runs in, for the log.
pub fn context_of(client: &Client) -> Context {
    if client.in_multi() {
        Context::Multi
    } else {
        Context::Toplevel
    }
}

/// The reply to a command refused at the gate.
pub fn denied_reply(spec: &CommandSpec, kind: DenialKind) -> Reply {
    Reply::err(match kind {
        DenialKind::Command => format!(
            "NOPERM this user has no permissions to run the '{}' command",
            spec.name
        ),
        DenialKind::Key => {
            "NOPERM this user has no permissions to access one of the keys used as arguments"
                .to_string()
        }
        DenialKind::Channel => {
            "NOPERM this user has no permissions to access one of the channels used as \
             arguments"
                .to_string()
        }
    })
}

/// The reply to a queued command the user may no longer run when EXEC runs it.
pub fn denied_at_exec_reply(kind: DenialKind) -> Reply {
    let reason = match kind {
        DenialKind::Command => "no permission to execute the command or subcommand",
        DenialKind::Key => "no permission to touch the specified keys",
        DenialKind::Channel => "no permission to access one of the channels used as arguments",
    };
    Reply::err(format!(
        "NOPERM ACLs rules changed between the moment the transaction was accumulated and the \
         EXEC call. This command is no longer allowed for the following reason: {reason}"
    ))
}

/// The error a script's `redis.call` gets for a refused command.
pub fn denied_in_script_reply(kind: DenialKind) -> Reply {
    Reply::err(format!(
        "ERR The user executing the script {}",
        denied_phrase(kind)
    ))
}

/// Redis' `getAclErrorMessage`.
pub fn denied_phrase(kind: DenialKind) -> &'static str {
    match kind {
        DenialKind::Command => "can't run this command or subcommand",
        DenialKind::Key => {
            "can't access at least one of the keys mentioned in the command arguments"
        }
        DenialKind::Channel => "can't publish to the channel mentioned in the command",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::acl::Acl;

    use crate::cmd::args::argv;

    fn list(acl: &Acl, name: &str) -> String {
        acl.user(name.as_bytes()).unwrap().rules().describe()
    }

    fn set(acl: &Acl, name: &str, ops: &[&str]) {
        let ops: Vec<&[u8]> = ops.iter().map(|o| o.as_bytes()).collect();
        acl.set_user(name.as_bytes(), &ops).unwrap();
    }

    fn allowed(acl: &Acl, name: &str, args: &[&str]) -> Result<(), Denial> {
        let v = argv(args);
        let table = CommandTable::get();
        let (mut idx, mut spec) = table.lookup(&v[0]).unwrap();
        if !spec.subcommands.is_empty() {
            (idx, spec) = table.lookup_sub(spec, &v[1]).unwrap();
        }
        check_rules(&acl.user(name.as_bytes()).unwrap().rules(), idx, spec, &v)
    }

    #[test]
    fn category_names_follow_the_spec_flags() {
        for (i, name) in crate::state::acl::catalog::CATEGORIES.iter().enumerate() {
            let flag = crate::cmd::gate::spec::AclCategories::from_bits(1 << i).unwrap();
            let probe = CommandTable::get()
                .all()
                .find(|(_, s)| s.acl.contains(flag))
                .map(|(_, s)| s.acl_names());
            if let Some(names) = probe {
                assert!(names.contains(&format!("@{name}").as_str()), "{name}");
            }
        }
    }

    #[test]
    fn descriptions_replay_to_the_same_rules() {
        install_catalog();
        let acl = Acl::new("");
        set(
            &acl,
            "a",
            &["on", "~app:*", "+@read", "-keys", "+config|get"],
        );
        let described = list(&acl, "a");
        assert!(
            described.starts_with("on ~app:* resetchannels -@all +@read"),
            "{described}"
        );
        let ops: Vec<String> = described.split(' ').map(String::from).collect();
        let ops: Vec<&str> = ops.iter().map(String::as_str).collect();
        set(&acl, "b", &ops);
        assert_eq!(list(&acl, "b"), described);
        set(&acl, "c", &["+@all", "-@dangerous"]);
        assert_eq!(list(&acl, "c"), "off resetchannels +@all -@dangerous");
        assert_eq!(list(&acl, "default"), "on nopass ~* &* +@all");
    }

    #[test]
    fn commands_subcommands_and_first_args_are_checked() {
        install_catalog();
        let acl = Acl::new("");
        set(
            &acl,
            "u",
            &["on", "allkeys", "+get", "+config|get", "+select|0"],
        );
        assert!(allowed(&acl, "u", &["get", "k"]).is_ok());
        assert!(allowed(&acl, "u", &["config", "get", "x"]).is_ok());
        let refused = allowed(&acl, "u", &["config", "set", "x", "y"]).unwrap_err();
        assert_eq!(refused.kind, DenialKind::Command);
        assert!(allowed(&acl, "u", &["select", "0"]).is_ok());
        assert!(allowed(&acl, "u", &["select", "1"]).is_err());
        // AUTH and HELLO are open to everyone.
        assert!(allowed(&acl, "u", &["auth", "p"]).is_ok());
    }

    #[test]
    fn key_access_follows_the_key_specs() {
        install_catalog();
        let acl = Acl::new("");
        set(&acl, "r", &["on", "+@all", "%R~src*", "%W~dst*"]);
        assert!(allowed(&acl, "r", &["get", "src1"]).is_ok());
        assert!(allowed(&acl, "r", &["set", "dst1", "v"]).is_ok());
        assert!(allowed(&acl, "r", &["set", "src1", "v"]).is_err());
        assert!(allowed(&acl, "r", &["get", "dst1"]).is_err());
        // LMOVE changes its source: a read-only pattern is not enough.
        let denial = allowed(&acl, "r", &["lmove", "src1", "dst1", "left", "left"]).unwrap_err();
        assert_eq!((denial.kind, denial.pos), (DenialKind::Key, 1));
    }
}
