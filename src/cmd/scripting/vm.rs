//! The Lua interpreter scripts run in: one per server, used by one script at a time (as Redis
//! runs one script at a time), with the sandbox, the `redis` library and the script cache.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use mlua::{Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value};

use super::convert;
use super::random::ScriptRandom;

/// What the interpreter's own functions (the hook, `redis.setresp`) share with the run.
#[derive(Default)]
pub struct RunFlags {
    /// SCRIPT KILL / FUNCTION KILL asked the running script to stop.
    pub kill: AtomicBool,
    /// The protocol the running script asked for with `redis.setresp` (2 or 3).
    pub resp: AtomicU8,
    /// The hook runs at every instruction (a script was killed).
    pub fast_hook: AtomicBool,
    /// Unix milliseconds past which FUNCTION LOAD's run of a library is stopped; 0: none.
    pub load_deadline_ms: AtomicU64,
}

/// How long FUNCTION LOAD may run a library's code, as in Redis.
pub const LOAD_TIMEOUT_MS: u64 = 500;

/// A loaded script: its text and the compiled function.
pub struct CachedScript {
    pub body: Bytes,
    pub function: Function,
}

/// The interpreter and what lives in it.
pub struct Vm {
    pub lua: Lua,
    /// The real globals (scripts see them through a read-only view).
    pub globals: Table,
    /// Per-run slots the `redis` library reads (`call`).
    pub slots: Table,
    /// Binds a loaded chunk to the sandbox.
    pub bind: Function,
    /// Calls a script under the error handler: `(ok, result)`.
    pub runner: Function,
    /// Switches the globals scripts see to FUNCTION LOAD's (true) and back.
    pub set_loading: Function,
    /// `redis.call` outside a run: always an error.
    pub idle_call: Function,
    /// EVAL scripts by SHA1 (lower-case hex).
    pub scripts: HashMap<String, CachedScript>,
    pub flags: Arc<RunFlags>,
    /// FUNCTION libraries.
    pub libraries: super::library::Libraries,
    /// The stored record the libraries were loaded from (None: no libraries stored).
    pub libraries_record: Option<Vec<u8>>,
    /// Runs left before the next garbage-collection step (see [`Vm::after_run`]).
    gc_countdown: u32,
}

/// Runs between two garbage-collection steps, as Redis' `LUA_GC_CYCLE_PERIOD`.
const GC_CYCLE_PERIOD: u32 = 50;

/// Lua source of the sandbox (see the file).
const SANDBOX: &str = include_str!("sandbox.lua");

/// Stops a script SCRIPT KILL or FUNCTION KILL asked to stop. Once killed, the hook runs at
/// every instruction, so a `pcall` in the script cannot swallow the error and go on.
fn kill_hook(lua: &Lua, _: &mlua::debug::Debug<'_>) -> mlua::Result<mlua::VmState> {
    let overdue = lua.app_data_ref::<Arc<RunFlags>>().is_some_and(|f| {
        let deadline = f.load_deadline_ms.load(Ordering::Relaxed);
        deadline != 0 && crate::util::clock::unix_ms() > deadline
    });
    if overdue {
        return Err(mlua::Error::runtime("FUNCTION LOAD timeout"));
    }
    let killed = lua
        .app_data_ref::<Arc<RunFlags>>()
        .is_some_and(|f| f.kill.load(Ordering::Relaxed));
    if !killed {
        between_busy_steps();
        return Ok(mlua::VmState::Continue);
    }
    if let Some(flags) = lua.app_data_ref::<Arc<RunFlags>>() {
        if !flags.fast_hook.swap(true, Ordering::Relaxed) {
            lua.set_hook(
                mlua::HookTriggers::new().every_nth_instruction(1),
                kill_hook,
            )?;
        }
    }
    Err(mlua::Error::runtime(
        "Script killed by user with SCRIPT KILL...",
    ))
}

thread_local! {
    /// What this thread does between two steps of the script it runs (see [`set_between_steps`]).
    static BETWEEN_STEPS: std::cell::RefCell<Option<Box<dyn Fn()>>> =
        const { std::cell::RefCell::new(None) };
}

/// Sets what the script hook does on this thread between a script's steps: a worker answers
/// the other clients it holds while the script is past `busy-reply-threshold`, as Redis
/// answers them (-BUSY, SCRIPT KILL) from inside a long script.
pub fn set_between_steps(f: Box<dyn Fn()>) {
    BETWEEN_STEPS.with(|b| *b.borrow_mut() = Some(f));
}

/// Runs this thread's between-steps work; taken out while it runs, so it never re-enters.
fn between_busy_steps() {
    let Some(f) = BETWEEN_STEPS.with(|b| b.borrow_mut().take()) else {
        return;
    };
    f();
    BETWEEN_STEPS.with(|b| *b.borrow_mut() = Some(f));
}

/// Puts the hook back to its usual pace after a killed script.
pub fn reset_hook(lua: &Lua, flags: &RunFlags) {
    if flags.fast_hook.swap(false, Ordering::Relaxed) {
        if let Err(e) = lua.set_hook(
            mlua::HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            kill_hook,
        ) {
            tracing::error!("cannot reset the script hook: {e}");
        }
    }
}

/// Registry name of the sandbox's `redis.call` primitive: `(value, failed)`.
const RAW_CALL: &str = "pika_raw_call";

/// `redis.call`, written against the C API so that it is a C function, as in Redis: a
/// failed command raises its error table, and a `return redis.call(..)` (a tail call) keeps
/// the script's frame, so the error names the script's line.
unsafe extern "C-unwind" fn raising_call(state: *mut mlua::ffi::lua_State) -> std::ffi::c_int {
    use mlua::ffi;
    let nargs = ffi::lua_gettop(state);
    ffi::lua_getfield(state, ffi::LUA_REGISTRYINDEX, c"pika_raw_call".as_ptr());
    ffi::lua_insert(state, 1);
    ffi::lua_call(state, nargs, 2);
    let failed = ffi::lua_toboolean(state, -1) != 0;
    ffi::lua_settop(state, -2);
    if failed {
        ffi::lua_error(state);
    }
    1
}

/// Instructions between two checks of the kill flag.
const HOOK_EVERY: u32 = 100_000;

/// Lower-case hex SHA1 of `data`, as script names are.
pub fn sha1_hex(data: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    let digest = Sha1::digest(data);
    let mut s = String::with_capacity(40);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

impl Vm {
    /// Called after each script: every [`GC_CYCLE_PERIOD`] runs the collector takes a step
    /// as Redis' does, so the garbage of many small scripts does not pile up between Lua's own
    /// collection cycles.
    pub fn after_run(&mut self) {
        self.gc_countdown -= 1;
        if self.gc_countdown == 0 {
            self.gc_countdown = GC_CYCLE_PERIOD;
            for _ in 0..GC_CYCLE_PERIOD {
                if self.lua.gc_step().unwrap_or(true) {
                    break;
                }
            }
        }
    }

    /// A fresh interpreter with the sandbox and libraries.
    pub fn new(flags: Arc<RunFlags>) -> mlua::Result<Vm> {
        // SAFETY: the debug library is loaded only for the error handler, which captures it;
        // the sandbox removes it from the globals before any script runs.
        let lua = unsafe {
            Lua::unsafe_new_with(
                StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG,
                LuaOptions::default(),
            )
        };
        let globals = lua.globals();
        let redis = lua.create_table()?;
        register_redis_lib(&lua, &redis, &flags)?;
        globals.raw_set("redis", redis.clone())?;
        super::libs::register(&lua, &globals)?;
        ScriptRandom::register(&lua, &globals)?;
        let slots = lua.create_table()?;
        let idle_call = lua.create_function(|lua, _: MultiValue| {
            let err = convert::error_table(
                lua,
                "ERR redis.call/pcall can only be called inside a script invocation",
            )?;
            Ok((err, true))
        })?;
        slots.raw_set("call", idle_call.clone())?;
        let flag_names = lua.create_table()?;
        for (name, _) in super::flags::FLAG_NAMES {
            flag_names.raw_set(*name, true)?;
        }
        slots.raw_set("flag_names", flag_names)?;
        let kill_flags = flags.clone();
        slots.raw_set(
            "killed",
            lua.create_function(move |_, ()| Ok(kill_flags.kill.load(Ordering::Relaxed)))?,
        )?;
        let (_env, bind, runner, raw_call, set_loading): (
            Table,
            Function,
            Function,
            Function,
            Function,
        ) = lua.load(SANDBOX).set_name("=redis_lib").call((
            globals.clone(),
            slots.clone(),
            redis.clone(),
        ))?;
        lua.set_named_registry_value(RAW_CALL, raw_call)?;
        // SAFETY: `raising_call` only uses the Lua C API on the stack it is given.
        redis.raw_set("call", unsafe { lua.create_c_function(raising_call)? })?;
        lua.set_app_data(flags.clone());
        lua.set_hook(
            mlua::HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            kill_hook,
        )?;
        Ok(Vm {
            lua,
            globals,
            slots,
            bind,
            runner,
            set_loading,
            idle_call,
            scripts: HashMap::new(),
            flags,
            libraries: Default::default(),
            libraries_record: None,
            gc_countdown: GC_CYCLE_PERIOD,
        })
    }

    /// Compiles `body` as chunk `name` in the sandbox. The error is Lua's message.
    pub fn compile(&self, body: &[u8], name: &str) -> Result<Function, String> {
        let f = self
            .lua
            .load(body)
            .set_name(name)
            .into_function()
            .map_err(|e| match e {
                mlua::Error::SyntaxError { message, .. } => message,
                other => other.to_string(),
            })?;
        self.bind.call::<Function>(f).map_err(|e| e.to_string())
    }

    /// The cached script `sha`, compiling and caching `body` if given and not cached yet.
    pub fn script(&mut self, sha: &str, body: Option<&Bytes>) -> Result<Function, String> {
        if let Some(s) = self.scripts.get(sha) {
            return Ok(s.function.clone());
        }
        let Some(body) = body else {
            return Err("NOSCRIPT No matching script. Please use EVAL.".into());
        };
        let (_, shebang) = super::flags::eval_shebang(body)?;
        let function = self
            .compile(&body[shebang..], "@user_script")
            .map_err(|e| format!("ERR Error compiling script (new function): {e}"))?;
        self.scripts.insert(
            sha.to_string(),
            CachedScript {
                body: body.clone(),
                function: function.clone(),
            },
        );
        Ok(function)
    }
}

/// Lua's string form of a number argument, as Redis passes it (`%.17g`).
pub fn number_arg(n: f64) -> Vec<u8> {
    if n.fract() == 0.0 && n.abs() < 1e17 {
        let mut buf = itoa::Buffer::new();
        return buf.format(n as i64).as_bytes().to_vec();
    }
    crate::resp::reply::format_double(n).into_bytes()
}

/// One `{field=value}` table: what status_reply and error_reply build.
fn single(lua: &Lua, field: &str, text: &str) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(field, text)?;
    Ok(t)
}

/// The error table Redis builds for an error text: "-CODE msg" keeps its code, other text
/// gets "ERR".
pub fn error_from_text(lua: &Lua, text: &[u8]) -> mlua::Result<Table> {
    let text = String::from_utf8_lossy(text);
    let full = match text.strip_prefix('-') {
        Some(rest) => match rest.split_once(' ') {
            Some((code, msg)) => format!("{code} {msg}"),
            None => format!("ERR {rest}"),
        },
        None => format!("ERR {text}"),
    };
    single(lua, "err", full.trim_end_matches(['\r', '\n']))
}

/// The `redis` table's functions that need no running command (call/pcall are added by the
/// sandbox around the per-run slot).
fn register_redis_lib(lua: &Lua, redis: &Table, flags: &Arc<RunFlags>) -> mlua::Result<()> {
    redis.raw_set(
        "sha1hex",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(mlua::Error::runtime("wrong number of arguments"));
            }
            let data = match args.front() {
                Some(Value::String(s)) => s.as_bytes().to_vec(),
                Some(Value::Number(n)) => number_arg(*n),
                Some(Value::Integer(n)) => n.to_string().into_bytes(),
                _ => Vec::new(),
            };
            lua.create_string(sha1_hex(&data))
        })?,
    )?;
    redis.raw_set(
        "error_reply",
        lua.create_function(|lua, args: MultiValue| match (args.len(), args.front()) {
            (1, Some(Value::String(s))) => {
                let text = s.as_bytes().to_vec();
                let text = if text.first() == Some(&b'-') {
                    text
                } else {
                    [b"-".as_slice(), &text].concat()
                };
                Ok(Value::Table(error_from_text(lua, &text)?))
            }
            _ => Ok(Value::Table(error_from_text(
                lua,
                b"wrong number or type of arguments",
            )?)),
        })?,
    )?;
    redis.raw_set(
        "status_reply",
        lua.create_function(|lua, args: MultiValue| match (args.len(), args.front()) {
            (1, Some(Value::String(s))) => {
                let t = lua.create_table()?;
                t.raw_set("ok", s.clone())?;
                Ok(Value::Table(t))
            }
            _ => Ok(Value::Table(error_from_text(
                lua,
                b"wrong number or type of arguments",
            )?)),
        })?,
    )?;
    redis.raw_set(
        "log",
        lua.create_function(|_, args: MultiValue| {
            if args.len() < 2 {
                return Err(mlua::Error::runtime(
                    "redis.log() requires two arguments or more.",
                ));
            }
            let level = match first_number(&args) {
                Some(n) => n,
                None => {
                    return Err(mlua::Error::runtime(
                        "First argument must be a number (log level).",
                    ))
                }
            };
            if !(0..=3).contains(&level) {
                return Err(mlua::Error::runtime("Invalid debug level."));
            }
            let text: Vec<String> = args
                .iter()
                .skip(1)
                .map(|v| match v {
                    Value::String(s) => s.to_string_lossy(),
                    Value::Number(n) => String::from_utf8_lossy(&number_arg(*n)).into_owned(),
                    Value::Integer(n) => n.to_string(),
                    _ => String::new(),
                })
                .collect();
            let text = text.join(" ");
            match level {
                0 => tracing::debug!(target: "script", "{text}"),
                1 => tracing::info!(target: "script", "{text}"),
                2 => tracing::info!(target: "script", "{text}"),
                _ => tracing::warn!(target: "script", "{text}"),
            }
            Ok(())
        })?,
    )?;
    let resp_flags = flags.clone();
    redis.raw_set(
        "setresp",
        lua.create_function(move |_, args: MultiValue| {
            if args.len() != 1 {
                return Err(mlua::Error::runtime(
                    "redis.setresp() requires one argument.",
                ));
            }
            let v = first_number(&args).unwrap_or(0);
            if v != 2 && v != 3 {
                return Err(mlua::Error::runtime("RESP version must be 2 or 3."));
            }
            resp_flags.resp.store(v as u8, Ordering::Relaxed);
            Ok(())
        })?,
    )?;
    redis.raw_set(
        "set_repl",
        lua.create_function(|_, args: MultiValue| {
            if args.len() != 1 {
                return Err(mlua::Error::runtime(
                    "redis.set_repl() requires two arguments.",
                ));
            }
            let v = first_number(&args).unwrap_or(-1);
            if !(0..=3).contains(&v) {
                return Err(mlua::Error::runtime(
                    "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                ));
            }
            // Effects always replicate whole: a script's writes are one batch group.
            Ok(())
        })?,
    )?;
    redis.raw_set(
        "replicate_commands",
        lua.create_function(|_, _: MultiValue| Ok(true))?,
    )?;
    redis.raw_set(
        "breakpoint",
        lua.create_function(|_, _: MultiValue| Ok(false))?,
    )?;
    redis.raw_set("debug", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    redis.raw_set(
        "acl_check_cmd",
        lua.create_function(|_, args: MultiValue| {
            let argv: Vec<Bytes> = args
                .iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(Bytes::copy_from_slice(&s.as_bytes())),
                    Value::Integer(n) => Some(Bytes::from(n.to_string())),
                    Value::Number(n) => Some(Bytes::from(number_arg(*n))),
                    _ => None,
                })
                .collect();
            allowed_for_script_user(&argv).ok_or_else(|| {
                mlua::Error::runtime("Invalid command passed to redis.acl_check_cmd()")
            })
        })?,
    )?;
    for (name, value) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
    ] {
        redis.raw_set(name, value)?;
    }
    redis.raw_set("REDIS_VERSION", "7.0.15")?;
    redis.raw_set("REDIS_VERSION_NUM", 0x07000f)?;
    Ok(())
}

thread_local! {
    /// The rules of the user whose script runs on this thread, for `redis.acl_check_cmd`.
    static SCRIPT_USER: std::cell::RefCell<Option<Arc<crate::state::acl::UserRules>>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `f` (a script) with `rules` as the user `redis.acl_check_cmd` asks about.
pub fn with_script_user<R>(rules: Arc<crate::state::acl::UserRules>, f: impl FnOnce() -> R) -> R {
    let previous = SCRIPT_USER.with(|u| u.borrow_mut().replace(rules));
    let result = f();
    SCRIPT_USER.with(|u| *u.borrow_mut() = previous);
    result
}

/// Whether the running script's user may run `argv`; None for an unknown command.
fn allowed_for_script_user(argv: &[Bytes]) -> Option<bool> {
    let table = crate::cmd::gate::table::CommandTable::get();
    let (mut idx, mut spec) = table.lookup(argv.first()?)?;
    if !spec.subcommands.is_empty() {
        if let Some(sub) = argv.get(1) {
            (idx, spec) = table.lookup_sub(spec, sub)?;
        }
    }
    Some(SCRIPT_USER.with(|u| {
        u.borrow()
            .as_ref()
            .is_none_or(|rules| crate::cmd::gate::acl::check_rules(rules, idx, spec, argv).is_ok())
    }))
}

/// The first argument as an integer when it is a Lua number (floats truncated, as Redis'
/// `lua_tonumber` cast does).
fn first_number(args: &MultiValue) -> Option<i64> {
    match args.front() {
        Some(Value::Number(n)) => Some(*n as i64),
        Some(Value::Integer(n)) => Some(*n),
        _ => None,
    }
}
