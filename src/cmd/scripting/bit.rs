//! `bit`: LuaBitOp's operations on 32-bit integers (numbers are wrapped to 32 bits first).

use mlua::{Lua, MultiValue, Table, Value};

/// A number argument wrapped to 32 bits as LuaBitOp does (modulo 2^32, as a signed value).
fn to_bits(v: Option<&Value>, pos: usize, name: &str) -> mlua::Result<i32> {
    let n = match v {
        Some(Value::Integer(n)) => *n as f64,
        Some(Value::Number(n)) => *n,
        Some(Value::String(s)) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .ok_or_else(|| bad_arg(pos, name))?,
        _ => return Err(bad_arg(pos, name)),
    };
    // LuaBitOp adds 2^52+2^51 and takes the low word: rounding, then modulo 2^32.
    let r = n.round_ties_even();
    let m = r.rem_euclid(4294967296.0);
    Ok(m as u32 as i32)
}

fn bad_arg(pos: usize, name: &str) -> mlua::Error {
    mlua::Error::runtime(format!(
        "bad argument #{pos} to '{name}' (number expected, got no value)"
    ))
}

/// Registers one variadic fold (`band`, `bor`, `bxor`).
fn fold(lua: &Lua, t: &Table, name: &'static str, op: fn(i32, i32) -> i32) -> mlua::Result<()> {
    t.raw_set(
        name,
        lua.create_function(move |_, args: MultiValue| {
            let mut acc = to_bits(args.front(), 1, name)?;
            for (i, v) in args.iter().enumerate().skip(1) {
                acc = op(acc, to_bits(Some(v), i + 1, name)?);
            }
            Ok(acc as f64)
        })?,
    )
}

/// Registers a shift or rotation.
fn shift(lua: &Lua, t: &Table, name: &'static str, op: fn(i32, u32) -> i32) -> mlua::Result<()> {
    t.raw_set(
        name,
        lua.create_function(move |_, args: MultiValue| {
            let x = to_bits(args.front(), 1, name)?;
            let n = to_bits(args.get(1), 2, name)? as u32 & 31;
            Ok(op(x, n) as f64)
        })?,
    )
}

pub fn register(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    let t = lua.create_table()?;
    t.raw_set(
        "tobit",
        lua.create_function(|_, args: MultiValue| Ok(to_bits(args.front(), 1, "tobit")? as f64))?,
    )?;
    t.raw_set(
        "bnot",
        lua.create_function(|_, args: MultiValue| Ok(!to_bits(args.front(), 1, "bnot")? as f64))?,
    )?;
    t.raw_set(
        "bswap",
        lua.create_function(|_, args: MultiValue| {
            Ok(to_bits(args.front(), 1, "bswap")?.swap_bytes() as f64)
        })?,
    )?;
    t.raw_set(
        "tohex",
        lua.create_function(|_, args: MultiValue| {
            let x = to_bits(args.front(), 1, "tohex")?;
            let mut n = match args.get(1) {
                None | Some(Value::Nil) => 8,
                v => to_bits(v, 2, "tohex")?,
            };
            let upper = n < 0;
            if upper {
                n = -n;
            }
            let n = n.clamp(1, 8) as usize;
            let s = if upper {
                format!("{:08X}", x as u32)
            } else {
                format!("{:08x}", x as u32)
            };
            Ok(s[8 - n..].to_string())
        })?,
    )?;
    fold(lua, &t, "band", |a, b| a & b)?;
    fold(lua, &t, "bor", |a, b| a | b)?;
    fold(lua, &t, "bxor", |a, b| a ^ b)?;
    shift(lua, &t, "lshift", |x, n| ((x as u32) << n) as i32)?;
    shift(lua, &t, "rshift", |x, n| ((x as u32) >> n) as i32)?;
    shift(lua, &t, "arshift", |x, n| x >> n)?;
    shift(lua, &t, "rol", |x, n| (x as u32).rotate_left(n) as i32)?;
    shift(lua, &t, "ror", |x, n| (x as u32).rotate_right(n) as i32)?;
    globals.raw_set("bit", t)?;
    Ok(())
}
