//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD/EXISTS/FLUSH/KILL.

use bytes::Bytes;

use super::vm::sha1_hex;
use super::Invocation;
use crate::cmd::gate::spec::{CommandSpec, KeySpec};
use crate::cmd::{args, CmdError, CmdResult, Ctx};
use crate::command;
use crate::resp::Reply;

/// Keys of EVAL and friends: `numkeys` at 2, keys from 3.
const SCRIPT_KEYS: KeySpec = KeySpec::Keynum {
    numkeys_at: 2,
    first: 3,
    step: 1,
};

/// Commands of this group.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("eval", -3, [NOSCRIPT, SKIP_MONITOR, MAY_REPLICATE, STALE], SCRIPT_KEYS,
             [SLOW, SCRIPTING], "scripting", "Executes a server-side Lua script.", eval),
    command!("evalsha", -3, [NOSCRIPT, SKIP_MONITOR, MAY_REPLICATE, STALE], SCRIPT_KEYS,
             [SLOW, SCRIPTING], "scripting", "Executes a server-side Lua script by SHA1 digest.",
             evalsha),
    command!("eval_ro", -3, [NOSCRIPT, SKIP_MONITOR, READONLY, STALE], SCRIPT_KEYS,
             [SLOW, SCRIPTING], "scripting", "Executes a read-only server-side Lua script.",
             eval_ro),
    command!("evalsha_ro", -3, [NOSCRIPT, SKIP_MONITOR, READONLY, STALE], SCRIPT_KEYS,
             [SLOW, SCRIPTING], "scripting",
             "Executes a read-only server-side Lua script by SHA1 digest.", evalsha_ro),
    command!("script", -2, [], KeySpec::None, [SLOW], "scripting",
             "A container for Lua scripts management commands.", container,
             subcommands: &[
        command!("script|load", 3, [NOSCRIPT, STALE], KeySpec::None, [SLOW, SCRIPTING],
                 "scripting", "Loads a server-side Lua script to the script cache.", load),
        command!("script|exists", -3, [NOSCRIPT], KeySpec::None, [SLOW, SCRIPTING],
                 "scripting", "Determines whether server-side Lua scripts exist in the script cache.",
                 exists),
        command!("script|flush", -2, [NOSCRIPT], KeySpec::None, [SLOW, SCRIPTING],
                 "scripting", "Removes all server-side Lua scripts from the script cache.", flush),
        command!("script|kill", 2, [NOSCRIPT, ALLOW_BUSY], KeySpec::None, [SLOW, SCRIPTING],
                 "scripting", "Terminates a server-side Lua script during execution.", kill),
        command!("script|help", 2, [LOADING, STALE], KeySpec::None, [SLOW, SCRIPTING],
                 "scripting", "Returns helpful text about the different subcommands.", help),
    ]),
];

fn container(_: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Err(CmdError::Syntax)
}

/// KEYS and ARGV of an EVAL-style call (`numkeys` at 2), with Redis' errors.
pub fn split_keys(argv: &[Bytes]) -> Result<(&[Bytes], &[Bytes]), CmdError> {
    let numkeys = args::int(&argv[2])?;
    let rest = &argv[3..];
    if numkeys > rest.len() as i64 {
        return Err(CmdError::err(
            "Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(CmdError::err("Number of keys can't be negative"));
    }
    Ok(rest.split_at(numkeys as usize))
}

fn run(ctx: &mut Ctx<'_>, argv: &[Bytes], by_sha: bool, read_only: bool) -> CmdResult {
    let (keys, args) = split_keys(argv)?;
    let (sha, body) = if by_sha {
        if argv[1].len() != 40 {
            return Err(CmdError::Other(
                "NOSCRIPT No matching script. Please use EVAL.".into(),
            ));
        }
        (String::from_utf8_lossy(&argv[1]).to_ascii_lowercase(), None)
    } else {
        (sha1_hex(&argv[1]), Some(&argv[1]))
    };
    let scripts = &ctx.server.scripts;
    scripts.eval(
        ctx,
        Invocation {
            sha: &sha,
            body,
            keys,
            args,
            read_only,
        },
    )
}

fn eval(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    run(ctx, argv, false, false)
}

fn evalsha(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    run(ctx, argv, true, false)
}

fn eval_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    run(ctx, argv, false, true)
}

fn evalsha_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    run(ctx, argv, true, true)
}

fn load(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let body = &argv[2];
    let sha = sha1_hex(body);
    super::flags::eval_shebang(body).map_err(|e| CmdError::Other(e.into()))?;
    ctx.server.scripts.with_vm(|vm| {
        vm.script(&sha, Some(body))
            .map_err(|e| CmdError::Other(e.into()))
    })?;
    Ok(Reply::bulk(sha))
}

fn exists(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    ctx.server.scripts.with_vm(|vm| {
        Ok(Reply::Array(
            argv[2..]
                .iter()
                .map(|sha| {
                    let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
                    Reply::Integer(vm.scripts.contains_key(&sha) as i64)
                })
                .collect(),
        ))
    })
}

fn flush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    match argv.get(2) {
        None => {}
        Some(mode) if argv.len() == 3 && (args::is(mode, "async") || args::is(mode, "sync")) => {}
        Some(_) => return Err(CmdError::err("SCRIPT FLUSH only support SYNC|ASYNC option")),
    }
    ctx.server.scripts.flush();
    Ok(Reply::ok())
}

fn kill(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    ctx.server
        .scripts
        .kill(false)
        .map(|_| Reply::ok())
        .map_err(|e| CmdError::Other(e.into()))
}

fn help(_: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let lines = [
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    ];
    Ok(Reply::Array(
        lines.iter().map(|l| Reply::Simple((*l).into())).collect(),
    ))
}
