//! Lua scripting: EVAL, EVALSHA, their `_RO` forms and SCRIPT.
//!
//! One interpreter per server ([`vm::Vm`]) runs one script at a time, as Redis does. A script
//! first locks the keys it declares (the whole store on a slave, whose master's batches take no
//! key locks), then takes the interpreter; `redis.call` runs commands through the dispatch gate
//! on the caller's own worker, so a script is atomic with respect to the keys it declares.
//! Its writes form one transaction group in the binlog: slaves apply the effects together and
//! never run Lua.
//!
//! - [`vm`]: the interpreter, sandbox (`sandbox.lua`) and `redis` library;
//! - [`convert`]: reply ↔ Lua value conversions;
//! - [`libs`]: cjson, cmsgpack, bit, struct;
//! - [`flags`]: the `#!lua flags=` shebang;
//! - [`eval`]: the commands.

pub mod bit;
pub mod cjson;
pub mod cmsgpack;
pub mod convert;
pub mod eval;
pub mod flags;
pub mod function;
pub mod library;
pub mod libs;
pub mod lua_struct;
pub mod random;
pub mod vm;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use mlua::{MultiValue, Value};
use parking_lot::Mutex;

use crate::cmd::gate::dispatch;
use crate::cmd::{CmdError, CmdResult, Ctx};
use crate::resp::{Protocol, Reply};
use flags::ScriptFlags;
use vm::{RunFlags, Vm};

/// The script running now, for BUSY replies and SCRIPT KILL.
#[derive(Clone, Copy)]
struct Running {
    started: Instant,
    /// A function (FCALL) rather than an EVAL script.
    function: bool,
}

/// The server's scripting state.
#[derive(Default)]
pub struct Scripts {
    /// Created on first use; SCRIPT FLUSH drops it.
    vm: Mutex<Option<Vm>>,
    flags: Arc<RunFlags>,
    running: Mutex<Option<Running>>,
    /// The running script has written: it can no longer be killed.
    wrote: AtomicBool,
    /// The function FCALL runs and its command, for FUNCTION STATS.
    function_call: Mutex<(String, Vec<Bytes>)>,
    /// The running script's flags let it write past `maxmemory` (`allow-oom`).
    allow_oom: AtomicBool,
    /// Libraries and functions loaded, for FUNCTION STATS while a script holds the interpreter.
    counts: Mutex<(usize, usize)>,
    /// The latest [`Scripts::memory_figures`].
    last_figures: Mutex<(usize, usize, usize)>,
}

/// What to run.
pub struct Invocation<'a> {
    /// The script's SHA1, lower-case.
    pub sha: &'a str,
    /// Its text (EVAL), or None (EVALSHA: it must be cached).
    pub body: Option<&'a Bytes>,
    pub keys: &'a [Bytes],
    pub args: &'a [Bytes],
    /// EVAL_RO / EVALSHA_RO.
    pub read_only: bool,
}

impl Scripts {
    /// The BUSY error for commands while a script has run longer than `threshold_ms`.
    pub fn busy_error(&self, threshold_ms: i64) -> Option<&'static str> {
        let running = (*self.running.lock())?;
        if threshold_ms <= 0 || running.started.elapsed().as_millis() < threshold_ms as u128 {
            return None;
        }
        Some(if running.function {
            "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
        } else {
            "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
        })
    }

    /// True while a script or function runs.
    pub fn is_running(&self) -> bool {
        self.running.lock().is_some()
    }

    /// SCRIPT KILL (`function` false) or FUNCTION KILL.
    pub fn kill(&self, function: bool) -> Result<(), &'static str> {
        let Some(running) = *self.running.lock() else {
            return Err("NOTBUSY No scripts in execution right now.");
        };
        if self.wrote.load(Ordering::Relaxed) {
            return Err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.");
        }
        if running.function != function {
            return Err(if running.function {
                "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
            } else {
                "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
            });
        }
        self.flags.kill.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Whether EVAL, EVALSHA or FCALL with `argv` may write, for CLIENT PAUSE WRITE (Redis'
    /// `evalGetCommandFlags`): not when its shebang or its function declares `no-writes`.
    /// A script without a shebang, one not cached, and any asked about while the interpreter
    /// is in use (it may be this thread's) count as writing.
    pub fn may_write(&self, argv: &[Bytes]) -> bool {
        let (Some(name), Some(target)) = (argv.first(), argv.get(1)) else {
            return true;
        };
        // No shebang (EVAL_COMPAT) declares nothing, so it may write.
        let writes = |flags: ScriptFlags| !flags.contains(ScriptFlags::NO_WRITES);
        if name.eq_ignore_ascii_case(b"eval") {
            return flags::eval_shebang(target).map_or(true, |(f, _)| writes(f));
        }
        let Some(guard) = self.vm.try_lock() else {
            return true;
        };
        let Some(vm) = guard.as_ref() else {
            return true;
        };
        let target = String::from_utf8_lossy(target);
        if name.eq_ignore_ascii_case(b"evalsha") {
            let sha = target.to_ascii_lowercase();
            return vm.scripts.get(&sha).is_none_or(|script| {
                flags::eval_shebang(&script.body).map_or(true, |(f, _)| writes(f))
            });
        }
        vm.libraries
            .function(&target)
            .is_none_or(|f| writes(f.flags))
    }

    /// Runs `f` on the interpreter, creating it first if needed.
    pub fn with_vm<R>(
        &self,
        f: impl FnOnce(&mut Vm) -> Result<R, CmdError>,
    ) -> Result<R, CmdError> {
        let mut guard = self.vm.lock();
        if guard.is_none() {
            let vm = Vm::new(self.flags.clone())
                .map_err(|e| CmdError::err(format!("cannot start the Lua interpreter: {e}")))?;
            *guard = Some(vm);
        }
        match guard.as_mut() {
            Some(vm) => f(vm),
            None => Err(CmdError::err("the Lua interpreter is not available")),
        }
    }

    /// SCRIPT FLUSH: no cached scripts, and a new interpreter, as Redis resets its Lua VM
    /// (memory a long argument list or a big reply grew stays with an interpreter). It starts
    /// at the next script and reloads the libraries from their stored record then.
    pub fn flush(&self) {
        *self.vm.lock() = None;
    }

    /// (cached EVAL scripts, their text's bytes, the Lua interpreter's memory) for INFO; zeros
    /// before the interpreter starts. While a script runs the interpreter is busy and the
    /// figures are those of the last call that found it free.
    pub fn memory_figures(&self) -> (usize, usize, usize) {
        if let Some(guard) = self.vm.try_lock() {
            let figures = guard.as_ref().map_or((0, 0, 0), |vm| {
                let bodies = vm.scripts.values().map(|s| s.body.len()).sum();
                (vm.scripts.len(), bodies, vm.lua.used_memory())
            });
            *self.last_figures.lock() = figures;
            return figures;
        }
        *self.last_figures.lock()
    }

    /// Records the library and function counts FUNCTION STATS shows.
    pub fn set_counts(&self, counts: (usize, usize)) {
        *self.counts.lock() = counts;
    }

    /// Records the function an FCALL is about to run, and its command.
    pub fn note_function_call(&self, name: &str, argv: &[Bytes]) {
        *self.function_call.lock() = (name.to_string(), argv.to_vec());
    }

    /// The last function FCALL ran and its command.
    pub fn function_call(&self) -> (String, Vec<Bytes>) {
        self.function_call.lock().clone()
    }

    /// Libraries and functions loaded.
    pub fn library_counts(&self) -> (usize, usize) {
        *self.counts.lock()
    }

    /// What is running now, for FUNCTION STATS: its kind and how long it has run.
    pub fn running_for(&self) -> Option<(bool, std::time::Duration)> {
        self.running
            .lock()
            .map(|r| (r.function, r.started.elapsed()))
    }

    /// Runs an EVAL script for `ctx`'s client.
    pub fn eval(&self, ctx: &mut Ctx<'_>, inv: Invocation<'_>) -> CmdResult {
        let storage = ctx.server.storage.clone();
        // Keys before the interpreter, as EXEC (which may run EVAL) takes them.
        let (_keys, _store) = if storage.is_replica() {
            (None, Some(storage.lock_structure()))
        } else {
            (
                Some(storage.lock_keys_held(inv.keys.iter().map(|k| k.as_ref()))),
                None,
            )
        };
        self.with_vm(|vm| {
            let function = vm
                .script(inv.sha, inv.body)
                .map_err(|e| CmdError::Other(e.into()))?;
            let flags = vm
                .scripts
                .get(inv.sha)
                .and_then(|s| flags::eval_shebang(&s.body).ok())
                .map_or(ScriptFlags::EVAL_COMPAT, |(f, _)| f);
            let read_only = check_flags(ctx, flags, inv.read_only)?;
            let keys = string_array(&vm.lua, inv.keys)?;
            let args = string_array(&vm.lua, inv.args)?;
            vm.globals.raw_set("KEYS", keys).map_err(lua_err)?;
            vm.globals.raw_set("ARGV", args).map_err(lua_err)?;
            Ok(self
                .run(ctx, vm, function, None, read_only, inv.sha, false)
                .unwrap_or_else(|text| Reply::Error(text.into())))
        })
    }

    /// Runs `function` (with KEYS and ARGV as arguments for a library function, as globals
    /// for EVAL) and converts its result; the error, if any, is the reply text. `name` is
    /// what error texts call the script.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &self,
        ctx: &mut Ctx<'_>,
        vm: &mut Vm,
        function: mlua::Function,
        call_args: Option<(mlua::Table, mlua::Table)>,
        read_only: bool,
        name: &str,
        is_function: bool,
    ) -> Result<Reply, String> {
        let server = ctx.server;
        let client = ctx.client;
        let storage = ctx.storage();
        self.flags.kill.store(false, Ordering::Relaxed);
        vm::reset_hook(&vm.lua, &self.flags);
        self.flags.resp.store(2, Ordering::Relaxed);
        self.wrote.store(false, Ordering::Relaxed);
        *self.running.lock() = Some(Running {
            started: Instant::now(),
            function: is_function,
        });
        let saved_db = client.db();
        let saved_proto = client.protocol();
        let was_executing = client.is_executing();
        client.set_executing(true);
        let own_group;
        let group = match ctx.writer.transaction {
            Some(g) => g,
            None => {
                own_group = storage.begin_transaction();
                &own_group
            }
        };
        let flags = self.flags.clone();
        let wrote = &self.wrote;
        let oom_at_start =
            !self.allow_oom.load(Ordering::Relaxed) && server.oom_refusal().is_some();
        let user_rules = client.user().rules();
        let result = vm::with_script_user(user_rules, || {
            vm.lua.scope(|scope| {
                let call = scope.create_function(|lua, args: MultiValue| {
                    let proto = if flags.resp.load(Ordering::Relaxed) == 3 {
                        Protocol::Resp3
                    } else {
                        Protocol::Resp2
                    };
                    let argv = match script_argv(&args) {
                        Ok(argv) => argv,
                        Err(text) => return Ok((convert::error_table(lua, text)?, true)),
                    };
                    client.set_protocol(proto);
                    let refuse_oom = oom_at_start && !wrote.load(Ordering::Relaxed);
                    let (reply, is_write) = dispatch::execute_in_script(
                        server, client, &argv, group, read_only, refuse_oom,
                    );
                    if is_write && !reply.is_error() {
                        wrote.store(true, Ordering::Relaxed);
                    }
                    match reply {
                        Reply::Error(text) => Ok((convert::counted_error_table(lua, &text)?, true)),
                        other => Ok((convert::reply_to_lua(lua, other, proto)?, false)),
                    }
                })?;
                vm.slots.raw_set("call", call)?;
                let out = match call_args {
                    Some((keys, args)) => vm.runner.call::<(bool, Value)>((function, keys, args)),
                    None => vm
                        .runner
                        .call::<(bool, Value)>((function, Value::Nil, Value::Nil)),
                };
                vm.slots.raw_set("call", vm.idle_call.clone())?;
                out
            })
        });
        vm.after_run();
        client.set_db(saved_db);
        client.set_protocol(saved_proto);
        client.set_executing(was_executing);
        *self.running.lock() = None;
        let killed = self.flags.kill.swap(false, Ordering::Relaxed);
        vm::reset_hook(&vm.lua, &self.flags);
        if killed && !matches!(result, Ok((true, _))) {
            return Err("ERR Script killed by user with SCRIPT KILL...".into());
        }
        let resp3 = self.flags.resp.load(Ordering::Relaxed) == 3;
        if let Ok((_, value)) = &result {
            if convert::error_counted(value) {
                ERROR_COUNTED.with(|c| c.set(true));
            }
        }
        match result {
            Ok((true, value)) => Ok(convert::lua_to_reply(&value, resp3)),
            Ok((false, Value::Table(err))) => Err(error_with_place(&err, name)),
            Ok((false, other)) => Err(format!(
                "ERR Error running script {name}, {}",
                value_text(&other)
            )),
            Err(e) => Err(format!("ERR Error running script {name}, {e}")),
        }
    }
}

thread_local! {
    /// Set when the script that just ran on this thread ended with a failed command's error,
    /// which the error statistics counted when the command failed.
    static ERROR_COUNTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the command that just ran on this thread replied with an error already counted in
/// the error statistics (a script's failed `redis.call`); clears the note.
pub fn take_error_counted() -> bool {
    ERROR_COUNTED.with(|c| c.replace(false))
}

/// Refuses a script its flags do not allow here; returns whether it may not write.
pub fn check_flags(ctx: &Ctx<'_>, flags: ScriptFlags, ro_command: bool) -> Result<bool, CmdError> {
    ctx.server
        .scripts
        .allow_oom
        .store(flags.contains(ScriptFlags::ALLOW_OOM), Ordering::Relaxed);
    if flags.contains(ScriptFlags::EVAL_COMPAT) {
        return Ok(ro_command);
    }
    if !flags.contains(ScriptFlags::NO_WRITES) {
        if ctx.storage().is_replica() && ctx.server.config().slave_read_only {
            return Err(CmdError::Other(
                "READONLY Can not run script with write flag on readonly replica".into(),
            ));
        }
        if ro_command {
            return Err(CmdError::err(
                "Can not execute a script with write flag using *_ro command.",
            ));
        }
        if let Some(refusal) = ctx.server.noreplicas_refusal() {
            return Err(CmdError::Other(refusal.into()));
        }
        if !flags.contains(ScriptFlags::ALLOW_OOM) {
            if let Some(refusal) = ctx.server.oom_refusal() {
                return Err(CmdError::Other(refusal.into()));
            }
        }
    }
    Ok(ro_command || flags.contains(ScriptFlags::NO_WRITES))
}

fn lua_err(e: mlua::Error) -> CmdError {
    CmdError::err(format!("Lua: {e}"))
}

/// A Lua array of `items` as strings (KEYS, ARGV).
pub fn string_array(lua: &mlua::Lua, items: &[Bytes]) -> Result<mlua::Table, CmdError> {
    let t = lua
        .create_table_with_capacity(items.len(), 0)
        .map_err(lua_err)?;
    for (i, item) in items.iter().enumerate() {
        let s = lua.create_string(item).map_err(lua_err)?;
        t.raw_set(i + 1, s).map_err(lua_err)?;
    }
    Ok(t)
}

/// The command `redis.call` was given, or Redis' error text.
fn script_argv(args: &MultiValue) -> Result<Vec<Bytes>, &'static str> {
    if args.is_empty() {
        return Err("ERR Please specify at least one argument for this redis lib call");
    }
    // Thousands of arguments come packed in a table (see `raw_call` in sandbox.lua).
    if let (2, Some(Value::Boolean(false)), Some(Value::Table(packed))) =
        (args.len(), args.front(), args.get(1))
    {
        return packed
            .sequence_values::<Value>()
            .map(|v| v.map_err(|_| ARGS_TYPE_ERROR).and_then(|v| arg_bytes(&v)))
            .collect();
    }
    args.iter().map(arg_bytes).collect()
}

const ARGS_TYPE_ERROR: &str = "ERR Lua redis lib command arguments must be strings or integers";

/// One `redis.call` argument as the command sees it.
fn arg_bytes(v: &Value) -> Result<Bytes, &'static str> {
    match v {
        Value::String(s) => Ok(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Integer(n) => Ok(Bytes::from(n.to_string())),
        Value::Number(n) => Ok(Bytes::from(vm::number_arg(*n))),
        _ => Err(ARGS_TYPE_ERROR),
    }
}

/// A value's text for an error that is not an error table.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string_lossy(),
        Value::Error(e) => e.to_string(),
        _ => "execution failure".into(),
    }
}

/// An error table's reply text with where it was raised, as Redis writes it:
/// `<err> script: <name>, on <source>:<line>.`
fn error_with_place(err: &mlua::Table, name: &str) -> String {
    let msg = match err.raw_get::<Value>("err") {
        Ok(Value::String(s)) => s.to_string_lossy(),
        _ => "ERR unknown error".into(),
    };
    let mut text = convert::error_text(msg.as_bytes());
    let source = err.raw_get::<Option<String>>("source").ok().flatten();
    let line = match err.raw_get::<Value>("line") {
        Ok(Value::Number(n)) => Some(n as i64),
        Ok(Value::Integer(n)) => Some(n),
        _ => None,
    };
    if let (Some(source), Some(line)) = (source, line) {
        text.push_str(&format!(" script: {name}, on {source}:{line}."));
    }
    text
}
