//! The libraries Redis gives scripts beside its own: `bit` (LuaBitOp), `cjson`, `cmsgpack`
//! and `struct`, written in Rust as Lua functions.

use mlua::{Lua, Table};

/// Adds the libraries to `globals`.
pub fn register(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    super::bit::register(lua, globals)?;
    super::cjson::register(lua, globals)?;
    super::cmsgpack::register(lua, globals)?;
    Ok(())
}
