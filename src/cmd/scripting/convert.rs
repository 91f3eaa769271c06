//! Redis' type conversions between command replies and Lua values, both ways, for RESP2 and
//! RESP3 (what `redis.setresp` chose for the script).
//!
//! Reply → Lua (what `redis.call` returns): integers become numbers, bulk strings strings,
//! arrays tables, a status `{ok=..}`, an error `{err=..}`, a null `false` (RESP3: `nil`);
//! in RESP3 maps `{map=..}`, sets `{set=..}`, doubles `{double=..}`, booleans booleans.
//!
//! Lua → reply (what a script returns): strings bulk, numbers integers (truncated), `true` 1
//! and `false` null (RESP3: booleans), tables arrays up to the first nil, `{ok=..}` a status,
//! `{err=..}` an error, and in RESP3 `{map=..}`, `{set=..}`, `{double=..}`, `{big_number=..}`,
//! `{verbatim_string=..}`.

use bytes::{Bytes, BytesMut};
use mlua::{Lua, Table, Value};

use crate::resp::{Protocol, Reply};

/// Deepest nesting converted; deeper parts become an error (Redis guards its C stack alike).
const MAX_DEPTH: usize = 1000;

/// The error table scripts see for an error reply `text` ("CODE message").
pub fn error_table(lua: &Lua, text: &str) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set("err", text.trim_end_matches(['\r', '\n']))?;
    Ok(Value::Table(t))
}

/// Field Redis sets in the error table of a failed `redis.call`: the error was counted in the
/// error statistics when the command failed, so the script's reply carrying it is not again.
pub const COUNTED_FIELD: &str = "ignore_error_stats_update";

/// The error table of a command that failed inside a script (see [`COUNTED_FIELD`]).
pub fn counted_error_table(lua: &Lua, text: &str) -> mlua::Result<Value> {
    let t = error_table(lua, text)?;
    if let Value::Table(t) = &t {
        t.raw_set(COUNTED_FIELD, true)?;
    }
    Ok(t)
}

/// Whether a script's error value is a failed command's, already counted.
pub fn error_counted(v: &Value) -> bool {
    matches!(v, Value::Table(t) if t.raw_get::<bool>(COUNTED_FIELD).unwrap_or(false))
}

/// A command's reply as the script sees it, given the script's protocol.
pub fn reply_to_lua(lua: &Lua, reply: Reply, proto: Protocol) -> mlua::Result<Value> {
    reply_to_lua_at(lua, reply, proto, 0)
}

fn single_field(lua: &Lua, field: &str, value: Value) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set(field, value)?;
    Ok(Value::Table(t))
}

fn array(lua: &Lua, items: Vec<Reply>, proto: Protocol, depth: usize) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.into_iter().enumerate() {
        t.raw_set(i + 1, reply_to_lua_at(lua, item, proto, depth + 1)?)?;
    }
    Ok(Value::Table(t))
}

fn reply_to_lua_at(lua: &Lua, reply: Reply, proto: Protocol, depth: usize) -> mlua::Result<Value> {
    let resp3 = proto == Protocol::Resp3;
    Ok(match reply {
        Reply::Simple(s) => single_field(lua, "ok", Value::String(lua.create_string(&*s)?))?,
        Reply::Error(e) => error_table(lua, &e)?,
        Reply::Integer(n) => Value::Number(n as f64),
        Reply::Bulk(b) => Value::String(lua.create_string(&b)?),
        Reply::Verbatim(b) if resp3 => {
            let t = lua.create_table()?;
            t.raw_set("format", "txt")?;
            t.raw_set("string", lua.create_string(&b)?)?;
            single_field(lua, "verbatim_string", Value::Table(t))?
        }
        Reply::Verbatim(b) => Value::String(lua.create_string(&b)?),
        Reply::Null | Reply::NullArray if resp3 => Value::Nil,
        Reply::Null | Reply::NullArray => Value::Boolean(false),
        Reply::Array(items) | Reply::Push(items) | Reply::Sequence(items) => {
            array(lua, items, proto, depth)?
        }
        Reply::Set(items) if resp3 => {
            let t = lua.create_table()?;
            for item in items {
                let k = reply_to_lua_at(lua, item, proto, depth + 1)?;
                if !k.is_nil() {
                    t.raw_set(k, true)?;
                }
            }
            single_field(lua, "set", Value::Table(t))?
        }
        Reply::Set(items) => array(lua, items, proto, depth)?,
        Reply::Map(pairs) if resp3 => {
            let t = lua.create_table()?;
            for (k, v) in pairs {
                let k = reply_to_lua_at(lua, k, proto, depth + 1)?;
                let v = reply_to_lua_at(lua, v, proto, depth + 1)?;
                if !k.is_nil() {
                    t.raw_set(k, v)?;
                }
            }
            single_field(lua, "map", Value::Table(t))?
        }
        Reply::Map(pairs) => {
            let flat = pairs.into_iter().flat_map(|(k, v)| [k, v]).collect();
            array(lua, flat, proto, depth)?
        }
        Reply::Double(d) | Reply::HumanDouble(d) if resp3 => {
            single_field(lua, "double", Value::Number(d))?
        }
        Reply::Double(d) => Value::String(lua.create_string(crate::resp::reply::format_double(d))?),
        Reply::HumanDouble(d) => {
            Value::String(lua.create_string(crate::resp::reply::format_human_double(d))?)
        }
        Reply::Bool(b) if resp3 => Value::Boolean(b),
        Reply::Bool(b) => Value::Number(if b { 1.0 } else { 0.0 }),
        Reply::Stream(stream) => {
            // Replies written piece by piece are gathered whole: a script needs all of it.
            let mut out = BytesMut::new();
            while stream.fill(&mut out, proto, 1 << 16) {}
            let mut parser = RespReader { buf: &out, pos: 0 };
            match parser.read(0) {
                Some(r) => reply_to_lua_at(lua, r, proto, depth)?,
                None => error_table(lua, "ERR reply could not be read")?,
            }
        }
    })
}

/// Reads back a reply this server wrote (a streamed one), in either protocol.
struct RespReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl RespReader<'_> {
    fn line(&mut self) -> Option<&[u8]> {
        let rest = self.buf.get(self.pos..)?;
        let end = memchr::memmem::find(rest, b"\r\n")?;
        self.pos += end + 2;
        rest.get(..end)
    }

    fn read(&mut self, depth: usize) -> Option<Reply> {
        if depth > MAX_DEPTH {
            return None;
        }
        let line = self.line()?;
        let (&kind, rest) = line.split_first()?;
        let text = std::str::from_utf8(rest).ok()?.to_string();
        let count = || text.parse::<i64>().ok();
        Some(match kind {
            b'+' => Reply::Simple(text.into()),
            b'-' => Reply::Error(text.into()),
            b':' => Reply::Integer(count()?),
            b'_' => Reply::Null,
            b'#' => Reply::Bool(text == "t"),
            b',' => Reply::Double(text.parse().ok()?),
            b'$' | b'=' => {
                let n = count()?;
                if n < 0 {
                    return Some(Reply::Null);
                }
                let start = self.pos;
                let end = start.checked_add(n as usize)?;
                let data = Bytes::copy_from_slice(self.buf.get(start..end)?);
                self.pos = end + 2;
                if kind == b'=' {
                    Reply::Verbatim(data.slice(4.min(data.len())..))
                } else {
                    Reply::Bulk(data)
                }
            }
            b'*' | b'~' | b'>' => {
                let n = count()?;
                if n < 0 {
                    return Some(Reply::NullArray);
                }
                let items = (0..n)
                    .map(|_| self.read(depth + 1))
                    .collect::<Option<Vec<_>>>()?;
                match kind {
                    b'~' => Reply::Set(items),
                    _ => Reply::Array(items),
                }
            }
            b'%' => {
                let n = count()?;
                let mut pairs = Vec::new();
                for _ in 0..n {
                    let k = self.read(depth + 1)?;
                    let v = self.read(depth + 1)?;
                    pairs.push((k, v));
                }
                Reply::Map(pairs)
            }
            _ => return None,
        })
    }
}

/// The text of a Lua string or number field of `t`, if it is one.
fn string_field(t: &Table, field: &str) -> Option<Vec<u8>> {
    match t.raw_get::<Value>(field).ok()? {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        _ => None,
    }
}

/// An error text as Redis builds it from `{err=..}`: a leading `-` names the code itself,
/// otherwise the text is sent as it is.
pub fn error_text(msg: &[u8]) -> String {
    let text = String::from_utf8_lossy(msg);
    let text = text.strip_prefix('-').unwrap_or(&text);
    text.replace(['\r', '\n'], " ")
}

/// A script's result as the reply to its caller; `resp3` is the protocol the script chose.
pub fn lua_to_reply(value: &Value, resp3: bool) -> Reply {
    lua_to_reply_at(value, resp3, 0)
}

fn lua_to_reply_at(value: &Value, resp3: bool, depth: usize) -> Reply {
    if depth > MAX_DEPTH {
        return Reply::err("ERR reached lua stack limit");
    }
    match value {
        Value::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Boolean(b) if resp3 => Reply::Bool(*b),
        Value::Boolean(true) => Reply::Integer(1),
        Value::Integer(n) => Reply::Integer(*n),
        Value::Number(n) => Reply::Integer(number_to_integer(*n)),
        Value::Table(t) => table_to_reply(t, resp3, depth),
        _ => Reply::Null,
    }
}

/// Lua's cast of a number to an integer: truncation, as `(long long)` in C.
pub fn number_to_integer(n: f64) -> i64 {
    if n.is_nan() {
        i64::MIN
    } else {
        n as i64
    }
}

fn table_to_reply(t: &Table, resp3: bool, depth: usize) -> Reply {
    if let Some(msg) = string_field(t, "err") {
        return Reply::Error(error_text(&msg).into());
    }
    if let Some(msg) = string_field(t, "ok") {
        let text = String::from_utf8_lossy(&msg).replace(['\r', '\n'], " ");
        return Reply::Simple(text.into());
    }
    if resp3 {
        if let Ok(Value::Number(d)) = t.raw_get::<Value>("double") {
            return Reply::Double(d);
        }
        if let Ok(Value::Integer(d)) = t.raw_get::<Value>("double") {
            return Reply::Double(d as f64);
        }
        if let Some(n) = string_field(t, "big_number") {
            // No big-number reply kind: sent as its digits, as RESP2 clients see it.
            return Reply::Bulk(Bytes::from(n));
        }
        if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
            let mut pairs = Vec::new();
            for (k, v) in m.pairs::<Value, Value>().flatten() {
                pairs.push((
                    lua_to_reply_at(&k, resp3, depth + 1),
                    lua_to_reply_at(&v, resp3, depth + 1),
                ));
            }
            return Reply::Map(pairs);
        }
        if let Ok(Value::Table(s)) = t.raw_get::<Value>("set") {
            let items = s
                .pairs::<Value, Value>()
                .flatten()
                .map(|(k, _)| lua_to_reply_at(&k, resp3, depth + 1))
                .collect();
            return Reply::Set(items);
        }
        if let Ok(Value::Table(v)) = t.raw_get::<Value>("verbatim_string") {
            if let Some(s) = string_field(&v, "string") {
                return Reply::Verbatim(Bytes::from(s));
            }
        }
    }
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(lua_to_reply_at(&v, resp3, depth + 1)),
        }
    }
    Reply::Array(items)
}
