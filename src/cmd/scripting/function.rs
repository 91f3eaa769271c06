//! FUNCTION LOAD/LIST/DELETE/DUMP/RESTORE/FLUSH/STATS/KILL and FCALL, FCALL_RO.
//!
//! Libraries persist as one system record (the FUNCTION DUMP payload, see
//! `SysKey::FUNCTIONS`), written in the same batch path as user data: it survives restarts,
//! replicates to slaves and travels in backups. The interpreter reloads the libraries
//! whenever the record differs from what it loaded (at first use, and on a slave after its
//! master changed them).

use bytes::Bytes;

use super::library::{self, Libraries};
use super::vm::Vm;
use super::{check_flags, string_array};
use crate::cmd::gate::spec::{CommandSpec, KeySpec};
use crate::cmd::{args, CmdError, CmdResult, Ctx};
use crate::command;
use crate::resp::Reply;

const FCALL_KEYS: KeySpec = KeySpec::Keynum {
    numkeys_at: 2,
    first: 3,
    step: 1,
};

/// Commands of this group.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("fcall", -3, [NOSCRIPT, SKIP_MONITOR, MAY_REPLICATE, STALE], FCALL_KEYS,
             [SLOW, SCRIPTING], "scripting", "Invokes a function.", fcall),
    command!("fcall_ro", -3, [NOSCRIPT, SKIP_MONITOR, READONLY, STALE], FCALL_KEYS,
             [SLOW, SCRIPTING], "scripting", "Invokes a read-only function.", fcall_ro),
    command!("function", -2, [], KeySpec::None, [SLOW], "scripting",
             "A container for function commands.", container,
             subcommands: &[
        command!("function|load", -3, [WRITE, DENYOOM, NOSCRIPT], KeySpec::None,
                 [WRITE, SLOW, SCRIPTING], "scripting", "Creates a library.", load),
        command!("function|delete", 3, [WRITE, NOSCRIPT], KeySpec::None,
                 [WRITE, SLOW, SCRIPTING], "scripting", "Deletes a library and its functions.",
                 delete),
        command!("function|flush", -2, [WRITE, NOSCRIPT], KeySpec::None,
                 [WRITE, SLOW, SCRIPTING], "scripting", "Deletes all libraries and functions.",
                 flush),
        command!("function|list", -2, [NOSCRIPT], KeySpec::None, [SLOW, SCRIPTING],
                 "scripting", "Returns information about all libraries.", list),
        command!("function|dump", 2, [NOSCRIPT], KeySpec::None, [SLOW, SCRIPTING],
                 "scripting", "Dumps all libraries into a serialized binary payload.", dump),
        command!("function|restore", -3, [WRITE, DENYOOM, NOSCRIPT], KeySpec::None,
                 [WRITE, SLOW, SCRIPTING], "scripting",
                 "Restores all libraries from a payload.", restore),
        command!("function|stats", 2, [NOSCRIPT, ALLOW_BUSY], KeySpec::None,
                 [SLOW, SCRIPTING], "scripting",
                 "Returns information about a function during execution.", stats),
        command!("function|kill", 2, [NOSCRIPT, ALLOW_BUSY], KeySpec::None,
                 [SLOW, SCRIPTING], "scripting", "Terminates a function during execution.", kill),
        command!("function|help", 2, [LOADING, STALE], KeySpec::None, [SLOW, SCRIPTING],
                 "scripting", "Returns helpful text about the different subcommands.", help),
    ]),
];

fn container(_: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Err(CmdError::Syntax)
}

fn other(text: String) -> CmdError {
    CmdError::Other(text.into())
}

/// Runs `f` on the interpreter with its libraries in step with the stored record.
fn with_libraries<R>(
    ctx: &Ctx<'_>,
    f: impl FnOnce(&mut Vm) -> Result<R, CmdError>,
) -> Result<R, CmdError> {
    let stored = ctx.storage().functions_record()?;
    ctx.server.scripts.with_vm(|vm| {
        if vm.libraries_record.as_deref() != stored.as_deref() {
            reload(vm, stored.as_deref());
            ctx.server.scripts.set_counts(counts(&vm.libraries));
        }
        f(vm)
    })
}

/// Loads the libraries of a stored record in place of the current ones.
fn reload(vm: &mut Vm, stored: Option<&[u8]>) {
    vm.libraries.clear();
    vm.libraries_record = stored.map(|s| s.to_vec());
    let Some(codes) = stored.and_then(library::undump) else {
        return;
    };
    for code in codes {
        if let Err(e) = vm.load_library(&code, true) {
            tracing::error!("cannot load a stored function library: {e}");
        }
    }
}

/// Stores the interpreter's libraries (after a change), as one system record.
fn save(ctx: &Ctx<'_>, vm: &mut Vm) -> Result<(), CmdError> {
    let payload = library::dump(&vm.libraries);
    let mut txn = ctx.scope().txn();
    if vm.libraries.by_name.is_empty() {
        txn.delete_system(crate::storage::codec::SysKey::FUNCTIONS);
        vm.libraries_record = None;
    } else {
        txn.put_system(crate::storage::codec::SysKey::FUNCTIONS, &payload);
        vm.libraries_record = Some(payload);
    }
    txn.commit()?;
    ctx.server.scripts.set_counts(counts(&vm.libraries));
    // The replaced libraries are garbage now: collected at once, so an interpreter whose
    // libraries are reloaded again and again does not grow between Lua's own cycles.
    vm.lua.gc_collect().ok();
    Ok(())
}

fn load(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mut replace = false;
    let mut i = 2;
    while i < argv.len() - 1 {
        if args::is(&argv[i], "replace") {
            replace = true;
        } else {
            return Err(CmdError::err(format!(
                "Unknown option given: {}",
                args::text(&argv[i])
            )));
        }
        i += 1;
    }
    if i >= argv.len() {
        return Err(CmdError::err("Function code is missing"));
    }
    let code = &argv[i];
    with_libraries(ctx, |vm| {
        let name = vm.load_library(code, replace).map_err(other)?;
        save(ctx, vm)?;
        Ok(Reply::bulk(name))
    })
}

fn delete(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let name = args::text(&argv[2]);
    with_libraries(ctx, |vm| {
        if !vm.libraries.remove(&name) {
            return Err(CmdError::err("Library not found"));
        }
        save(ctx, vm)?;
        Ok(Reply::ok())
    })
}

fn flush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::err(
            "unknown subcommand or wrong number of arguments for 'flush'. Try FUNCTION HELP.",
        ));
    }
    match argv.get(2) {
        None => {}
        Some(mode) if argv.len() == 3 && (args::is(mode, "async") || args::is(mode, "sync")) => {}
        Some(_) => {
            return Err(CmdError::err(
                "FUNCTION FLUSH only supports SYNC|ASYNC option",
            ))
        }
    }
    with_libraries(ctx, |vm| {
        vm.libraries.clear();
        save(ctx, vm)?;
        Ok(Reply::ok())
    })
}

fn list(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mut with_code = false;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 2;
    while i < argv.len() {
        if args::is(&argv[i], "withcode") && !with_code {
            with_code = true;
            i += 1;
        } else if args::is(&argv[i], "libraryname") && pattern.is_none() {
            let Some(p) = argv.get(i + 1) else {
                return Err(CmdError::err("library name argument was not given"));
            };
            pattern = Some(p);
            i += 2;
        } else {
            return Err(CmdError::err(format!(
                "Unknown argument {}",
                args::text(&argv[i])
            )));
        }
    }
    with_libraries(ctx, |vm| {
        Ok(Reply::Array(
            vm.libraries
                .by_name
                .values()
                .filter(|lib| {
                    pattern.is_none_or(|p| {
                        crate::util::glob::glob_match(p, lib.name.as_bytes(), false)
                    })
                })
                .map(|lib| {
                    let functions = lib
                        .functions
                        .values()
                        .map(|f| {
                            let flags = super::flags::FLAG_NAMES
                                .iter()
                                .filter(|(_, flag)| f.flags.contains(*flag))
                                .map(|(n, _)| Reply::Simple((*n).into()))
                                .collect();
                            Reply::Map(vec![
                                (Reply::bulk("name"), Reply::bulk(f.name.clone())),
                                (
                                    Reply::bulk("description"),
                                    f.description.clone().map_or(Reply::Null, Reply::bulk),
                                ),
                                (Reply::bulk("flags"), Reply::Set(flags)),
                            ])
                        })
                        .collect();
                    let mut fields = vec![
                        (Reply::bulk("library_name"), Reply::bulk(lib.name.clone())),
                        (Reply::bulk("engine"), Reply::bulk("LUA")),
                        (Reply::bulk("functions"), Reply::Array(functions)),
                    ];
                    if with_code {
                        fields.push((Reply::bulk("library_code"), Reply::Bulk(lib.code.clone())));
                    }
                    Reply::Map(fields)
                })
                .collect(),
        ))
    })
}

fn dump(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    with_libraries(ctx, |vm| Ok(Reply::bulk(library::dump(&vm.libraries))))
}

fn restore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    #[derive(PartialEq)]
    enum Policy {
        Append,
        Replace,
        Flush,
    }
    if argv.len() > 4 {
        return Err(CmdError::err(
            "unknown subcommand or wrong number of arguments for 'restore'. Try FUNCTION HELP.",
        ));
    }
    let policy = match argv.get(3) {
        None => Policy::Append,
        Some(p) if argv.len() == 4 && args::is(p, "append") => Policy::Append,
        Some(p) if argv.len() == 4 && args::is(p, "replace") => Policy::Replace,
        Some(p) if argv.len() == 4 && args::is(p, "flush") => Policy::Flush,
        Some(_) => {
            return Err(CmdError::err(
                "Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ))
        }
    };
    let Some(codes) = library::undump(&argv[2]) else {
        return Err(CmdError::err("DUMP payload version or checksum are wrong"));
    };
    with_libraries(ctx, |vm| {
        // Loaded into a scratch registry first: a failure leaves the libraries as they were.
        let before = std::mem::take(&mut vm.libraries);
        if policy != Policy::Flush {
            for lib in before.by_name.values() {
                vm.load_library(&lib.code, true).ok();
            }
        }
        for code in &codes {
            let name = library::metadata(code).map(|(n, _)| n).unwrap_or_default();
            let exists = vm.libraries.by_name.contains_key(&name);
            if exists && policy == Policy::Append {
                vm.libraries = before;
                return Err(CmdError::err(format!("Library {name} already exists")));
            }
            if let Err(e) = vm.load_library(code, true) {
                vm.libraries = before;
                return Err(other(e));
            }
        }
        save(ctx, vm)?;
        Ok(Reply::ok())
    })
}

fn stats(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let running = match ctx.server.scripts.running_for() {
        Some((is_function, elapsed)) => {
            let (name, command) = if is_function {
                ctx.server.scripts.function_call()
            } else {
                Default::default()
            };
            Reply::Map(vec![
                (Reply::bulk("name"), Reply::bulk(name)),
                (
                    Reply::bulk("command"),
                    Reply::Array(command.into_iter().map(Reply::Bulk).collect()),
                ),
                (
                    Reply::bulk("duration_ms"),
                    Reply::Integer(elapsed.as_millis() as i64),
                ),
            ])
        }
        None => Reply::Null,
    };
    // Not behind the interpreter's lock: STATS answers while a script runs.
    let (libs, funcs) = ctx.server.scripts.library_counts();
    Ok(Reply::Map(vec![
        (Reply::bulk("running_script"), running),
        (
            Reply::bulk("engines"),
            Reply::Map(vec![(
                Reply::bulk("LUA"),
                Reply::Map(vec![
                    (Reply::bulk("libraries_count"), Reply::Integer(libs as i64)),
                    (Reply::bulk("functions_count"), Reply::Integer(funcs as i64)),
                ]),
            )]),
        ),
    ]))
}

fn kill(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    ctx.server
        .scripts
        .kill(true)
        .map(|_| Reply::ok())
        .map_err(|e| CmdError::Other(e.into()))
}

fn help(_: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let lines = [
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "DELETE <LIBRARY NAME>",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "FLUSH [ASYNC|SYNC]",
        "DUMP",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "STATS",
        "KILL",
        "HELP",
        "    Prints this help.",
    ];
    Ok(Reply::Array(
        lines.iter().map(|l| Reply::Simple((*l).into())).collect(),
    ))
}

fn call(ctx: &mut Ctx<'_>, argv: &[Bytes], read_only: bool) -> CmdResult {
    if args::int(&argv[2]).is_err() {
        return Err(CmdError::err("Bad number of keys provided"));
    }
    let (keys, fargs) = super::eval::split_keys(argv)?;
    let name = args::text(&argv[1]);
    let storage = ctx.server.storage.clone();
    let (_keys, _store) = if storage.is_replica() {
        (None, Some(storage.lock_structure()))
    } else {
        (
            Some(storage.lock_keys_held(keys.iter().map(|k| k.as_ref()))),
            None,
        )
    };
    let scripts = &ctx.server.scripts;
    let stored = ctx.storage().functions_record()?;
    scripts.with_vm(|vm| {
        if vm.libraries_record.as_deref() != stored.as_deref() {
            reload(vm, stored.as_deref());
            scripts.set_counts(counts(&vm.libraries));
        }
        let Some(f) = vm.libraries.function(&name) else {
            return Err(CmdError::err("Function not found"));
        };
        let callback = f.callback.clone();
        let read_only = check_flags(ctx, f.flags, read_only)?;
        scripts.note_function_call(&f.name, argv);
        let keys = string_array(&vm.lua, keys)?;
        let fargs = string_array(&vm.lua, fargs)?;
        Ok(scripts
            .run(
                ctx,
                vm,
                callback,
                Some((keys, fargs)),
                read_only,
                &name,
                true,
            )
            .unwrap_or_else(|text| Reply::Error(text.into())))
    })
}

fn fcall(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    call(ctx, argv, false)
}

fn fcall_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    call(ctx, argv, true)
}

/// Counts for FUNCTION STATS.
pub fn counts(libs: &Libraries) -> (usize, usize) {
    (libs.by_name.len(), libs.function_count())
}
