//! FUNCTION: the Redis 7 function library registry.
//!
//! Scripting (and with it FUNCTION LOAD) is not built yet, so the registry is always empty:
//! FLUSH empties it (trivially) and LIST lists it. Clients and test harnesses call FUNCTION FLUSH
//! to reset a server, so these two answer truthfully; other subcommands are unknown.

use bytes::Bytes;

use crate::cmd::gate::spec::{CommandSpec, KeySpec};
use crate::cmd::{args, CmdError, CmdResult, Ctx};
use crate::command;
use crate::resp::Reply;

/// Commands of this group.
pub const COMMANDS: &[CommandSpec] = &[command!(
    "function",
    -2,
    [],
    KeySpec::None,
    [SLOW],
    "scripting",
    "A container for function commands.",
    container,
    subcommands: &[
        command!("function|flush", -2, [WRITE, NOSCRIPT], KeySpec::None,
                 [WRITE, SLOW, SCRIPTING], "scripting", "Deletes all libraries and functions.",
                 flush),
        command!("function|list", -2, [NOSCRIPT], KeySpec::None, [SLOW, SCRIPTING],
                 "scripting", "Returns information about all libraries.", list),
    ]
)];

fn container(_: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Err(CmdError::Syntax)
}

fn flush(_: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    match argv.get(2) {
        None => Ok(Reply::ok()),
        Some(mode) if argv.len() == 3 && (args::is(mode, "async") || args::is(mode, "sync")) => {
            Ok(Reply::ok())
        }
        Some(_) => Err(CmdError::err(
            "FUNCTION FLUSH only supports SYNC|ASYNC option",
        )),
    }
}

fn list(_: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mut i = 2;
    while i < argv.len() {
        if args::is(&argv[i], "withcode") {
            i += 1;
        } else if args::is(&argv[i], "libraryname") && i + 1 < argv.len() {
            i += 2;
        } else {
            return Err(CmdError::err(format!(
                "Unknown argument {}",
                args::text(&argv[i])
            )));
        }
    }
    Ok(Reply::Array(Vec::new()))
}
