//! `cjson`: JSON encoding and decoding for scripts, as Lua CJSON does it (arrays are tables
//! whose keys are exactly 1..n, numbers are written with 14 significant digits, `/` is
//! escaped, `cjson.null` stands for JSON null).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use mlua::{LightUserData, Lua, MultiValue, Table, Value};

/// Deepest nesting accepted either way, as Lua CJSON's default.
const MAX_DEPTH: usize = 1000;

/// What `cjson.encode_max_depth`, `decode_max_depth` and `encode_invalid_numbers` set.
struct Settings {
    encode_depth: AtomicUsize,
    decode_depth: AtomicUsize,
    invalid_numbers: AtomicBool,
}

/// A number as Lua CJSON writes it (`%.14g`).
fn number_text(n: f64) -> Result<String, String> {
    if n.is_nan() {
        return Ok("nan".into());
    }
    if n.is_infinite() {
        return Ok(if n > 0.0 { "inf" } else { "-inf" }.into());
    }
    if n.fract() == 0.0 && n.abs() < 1e14 {
        return Ok(format!("{}", n as i64));
    }
    // %.14g: 14 significant digits, trailing zeros cut, exponent form outside 1e-4..1e14.
    let exp = n.abs().log10().floor() as i32;
    if !(-4..14).contains(&exp) {
        let s = format!("{:.13e}", n);
        let (mantissa, e) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        let e: i32 = e.parse().unwrap_or(0);
        return Ok(format!(
            "{mantissa}e{}{:02}",
            if e < 0 { '-' } else { '+' },
            e.abs()
        ));
    }
    let decimals = (13 - exp).max(0) as usize;
    let s = format!("{n:.decimals$}");
    Ok(if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    })
}

fn encode_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b if b < 0x20 || b == 0x7f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            b => out.push(b),
        }
    }
    out.push(b'"');
}

/// The length of `t` as an array (keys exactly 1..n), or None when it is an object.
fn array_len(t: &Table) -> Result<Option<usize>, String> {
    let mut max = 0usize;
    let mut count = 0usize;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair.map_err(|e| e.to_string())?;
        let idx = match k {
            Value::Integer(i) if i >= 1 => i as usize,
            Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => n as usize,
            _ => return Ok(None),
        };
        max = max.max(idx);
        count += 1;
    }
    if count == 0 {
        return Ok(None);
    }
    // Lua CJSON writes mildly sparse arrays with nulls and refuses very sparse ones.
    if max > count * 2 && max > 10 {
        return Err("Cannot serialise table: excessively sparse array".into());
    }
    Ok(Some(max))
}

fn encode_value(out: &mut Vec<u8>, v: &Value, depth: usize, cfg: &Settings) -> Result<(), String> {
    let max = cfg.encode_depth.load(Ordering::Relaxed);
    if depth > max {
        return Err(format!("Cannot serialise, excessive nesting ({})", depth));
    }
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Number(n) => {
            if !n.is_finite() && !cfg.invalid_numbers.load(Ordering::Relaxed) {
                return Err("Cannot serialise number: must not be NaN or Inf".into());
            }
            out.extend_from_slice(number_text(*n)?.as_bytes())
        }
        Value::String(s) => encode_string(out, &s.as_bytes()),
        Value::Table(t) => match array_len(t)? {
            Some(n) => {
                out.push(b'[');
                for i in 1..=n {
                    if i > 1 {
                        out.push(b',');
                    }
                    let item: Value = t.raw_get(i).map_err(|e| e.to_string())?;
                    encode_value(out, &item, depth + 1, cfg)?;
                }
                out.push(b']');
            }
            None => {
                out.push(b'{');
                let mut first = true;
                for pair in t.pairs::<Value, Value>() {
                    let (k, item) = pair.map_err(|e| e.to_string())?;
                    let key = match &k {
                        Value::String(s) => s.as_bytes().to_vec(),
                        Value::Integer(n) => n.to_string().into_bytes(),
                        Value::Number(n) => number_text(*n)?.into_bytes(),
                        _ => {
                            return Err(
                                "Cannot serialise table: table key must be a number or string"
                                    .into(),
                            )
                        }
                    };
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    encode_string(out, &key);
                    out.push(b':');
                    encode_value(out, &item, depth + 1, cfg)?;
                }
                out.push(b'}');
            }
        },
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            ))
        }
    }
    Ok(())
}

fn decode_value(lua: &Lua, v: serde_json::Value, depth: usize, max: usize) -> mlua::Result<Value> {
    if depth > max {
        return Err(mlua::Error::runtime(
            "Found too many nested data structures",
        ));
    }
    Ok(match v {
        serde_json::Value::Null => Value::LightUserData(LightUserData(std::ptr::null_mut())),
        serde_json::Value::Bool(b) => Value::Boolean(b),
        serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::String(lua.create_string(&s)?),
        serde_json::Value::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.into_iter().enumerate() {
                t.raw_set(i + 1, decode_value(lua, item, depth + 1, max)?)?;
            }
            Value::Table(t)
        }
        serde_json::Value::Object(map) => {
            let t = lua.create_table()?;
            for (k, item) in map {
                t.raw_set(k, decode_value(lua, item, depth + 1, max)?)?;
            }
            Value::Table(t)
        }
    })
}

pub fn register(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    let cfg = Arc::new(Settings {
        encode_depth: AtomicUsize::new(MAX_DEPTH),
        decode_depth: AtomicUsize::new(MAX_DEPTH),
        invalid_numbers: AtomicBool::new(false),
    });
    let t = lua.create_table()?;
    let c = cfg.clone();
    t.raw_set(
        "encode",
        lua.create_function(move |lua, v: Value| {
            let mut out = Vec::new();
            encode_value(&mut out, &v, 0, &c).map_err(mlua::Error::runtime)?;
            lua.create_string(out)
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "decode",
        lua.create_function(move |lua, s: mlua::LuaString| {
            let parsed: serde_json::Value = serde_json::from_slice(&s.as_bytes()).map_err(|e| {
                mlua::Error::runtime(format!("Expected value but found invalid token: {e}"))
            })?;
            decode_value(lua, parsed, 1, c.decode_depth.load(Ordering::Relaxed))
        })?,
    )?;
    let number = |args: &MultiValue| match args.front() {
        Some(Value::Integer(n)) => Some((*n).max(1) as usize),
        Some(Value::Number(n)) => Some(n.max(1.0) as usize),
        _ => None,
    };
    let c = cfg.clone();
    t.raw_set(
        "encode_max_depth",
        lua.create_function(move |_, args: MultiValue| {
            if let Some(n) = number(&args) {
                c.encode_depth.store(n, Ordering::Relaxed);
            }
            Ok(c.encode_depth.load(Ordering::Relaxed))
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "decode_max_depth",
        lua.create_function(move |_, args: MultiValue| {
            if let Some(n) = number(&args) {
                c.decode_depth.store(n, Ordering::Relaxed);
            }
            Ok(c.decode_depth.load(Ordering::Relaxed))
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "encode_invalid_numbers",
        lua.create_function(move |_, args: MultiValue| {
            if let Some(Value::Boolean(b)) = args.front() {
                c.invalid_numbers.store(*b, Ordering::Relaxed);
            }
            Ok(c.invalid_numbers.load(Ordering::Relaxed))
        })?,
    )?;
    t.raw_set(
        "encode_keep_buffer",
        lua.create_function(|_, _: MultiValue| Ok(true))?,
    )?;
    t.raw_set("null", LightUserData(std::ptr::null_mut()))?;
    globals.raw_set("cjson", t)?;
    Ok(())
}
