//! The libraries Redis gives scripts beside its own: `bit` (LuaBitOp), `cjson`, `cmsgpack`
//! and `struct`, written in Rust as Lua functions.
//!
//! Their errors are raised as a C library's are: a plain string that names the script's line
//! (`user_script:1: bad argument #1 to 'pack' ...`), which `pcall` hands back as a string.
//! A Rust callback can only raise an mlua error object, so each function is wrapped: the Rust
//! part returns `(false, message)` instead of raising, and a C closure raises the message.

use std::ffi::c_int;

use mlua::{ffi, Function, Lua, MultiValue, Table, Value};

/// The C closure around a library function (its upvalue): calls it, and either returns its
/// results or raises its message prefixed with the caller's position. Being a C function, a
/// `return struct.pack(..)` tail call keeps the script's frame for that position.
unsafe extern "C-unwind" fn raising_library_call(state: *mut ffi::lua_State) -> c_int {
    let nargs = ffi::lua_gettop(state);
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
    ffi::lua_insert(state, 1);
    ffi::lua_call(state, nargs, ffi::LUA_MULTRET);
    let results = ffi::lua_gettop(state);
    if results >= 1 && ffi::lua_toboolean(state, 1) != 0 {
        ffi::lua_remove(state, 1);
        return results - 1;
    }
    ffi::luaL_where(state, 1);
    ffi::lua_pushvalue(state, 2);
    ffi::lua_concat(state, 2);
    ffi::lua_error(state)
}

/// Makes the C closure for the function given as its one argument.
unsafe extern "C-unwind" fn bind_raising(state: *mut ffi::lua_State) -> c_int {
    ffi::lua_settop(state, 1);
    ffi::lua_pushcclosure(state, raising_library_call, 1);
    1
}

/// Adds the libraries to `globals`.
pub fn register(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    super::bit::register(lua, globals)?;
    super::cjson::register(lua, globals)?;
    super::cmsgpack::register(lua, globals)?;
    super::lua_struct::register(lua, globals)?;
    // SAFETY: `bind_raising` only uses the Lua C API on the stack it is given.
    let bind = unsafe { lua.create_c_function(bind_raising)? };
    for name in ["bit", "cjson", "cmsgpack", "struct"] {
        let lib: Table = globals.raw_get(name)?;
        let functions: Vec<(Value, Function)> = lib
            .pairs::<Value, Value>()
            .filter_map(|pair| match pair {
                Ok((key, Value::Function(f))) => Some(Ok((key, f))),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            })
            .collect::<mlua::Result<_>>()?;
        for (key, f) in functions {
            let reporting = lua.create_function(move |lua, args: MultiValue| {
                let mut out = match f.call::<MultiValue>(args) {
                    Ok(results) => results,
                    Err(e) => {
                        let text = lua.create_string(root_cause(&e))?;
                        return Ok(MultiValue::from_iter([
                            Value::Boolean(false),
                            Value::String(text),
                        ]));
                    }
                };
                out.push_front(Value::Boolean(true));
                Ok(out)
            })?;
            lib.raw_set(key, bind.call::<Function>(reporting)?)?;
        }
    }
    Ok(())
}

/// The text of an error a library function raised, without mlua's wrapping.
fn root_cause(e: &mlua::Error) -> String {
    match e {
        mlua::Error::CallbackError { cause, .. } => root_cause(cause),
        mlua::Error::RuntimeError(text) => text.clone(),
        other => other.to_string(),
    }
}
