//! `cmsgpack`: MessagePack encoding and decoding for scripts, as lua-cmsgpack does it (the
//! smallest integer form, floats as float32 when exact, tables as arrays when their keys are
//! exactly 1..n, nesting beyond 16 levels written as nil).

use mlua::{Lua, MultiValue, Table, Value};

/// Nesting beyond this is encoded as nil (so circular references end).
const MAX_NESTING: usize = 16;

fn encode_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        let u = n as u64;
        if u < 128 {
            out.push(u as u8);
        } else if u <= 0xff {
            out.extend_from_slice(&[0xcc, u as u8]);
        } else if u <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(u as u16).to_be_bytes());
        } else if u <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(u as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&u.to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -(1 << 31) {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_number(out: &mut Vec<u8>, n: f64) {
    if n.fract() == 0.0 && (-9.2e18..=1.8e19).contains(&n) {
        if n >= 9.2e18 {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        } else {
            encode_int(out, n as i64);
        }
    } else if (n as f32) as f64 == n || n.is_nan() {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_len(out: &mut Vec<u8>, len: usize, fix: u8, fix_max: usize, tags: [u8; 3], tag8: bool) {
    if len < fix_max {
        out.push(fix | len as u8);
    } else if tag8 && len <= 0xff {
        out.extend_from_slice(&[tags[0], len as u8]);
    } else if len <= 0xffff {
        out.push(tags[1]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(tags[2]);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// The length of `t` as an array (keys exactly 1..n), or None.
fn array_len(t: &Table) -> Option<usize> {
    let mut max = 0usize;
    let mut count = 0usize;
    for (k, _) in t.pairs::<Value, Value>().flatten() {
        match k {
            Value::Integer(i) if i >= 1 => max = max.max(i as usize),
            Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => max = max.max(n as usize),
            _ => return None,
        }
        count += 1;
    }
    (count == max).then_some(max)
}

fn encode_value(out: &mut Vec<u8>, v: &Value, level: usize) {
    match v {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => encode_int(out, *n),
        Value::Number(n) => encode_number(out, *n),
        Value::String(s) => {
            let bytes = s.as_bytes();
            encode_len(out, bytes.len(), 0xa0, 32, [0xd9, 0xda, 0xdb], true);
            out.extend_from_slice(&bytes);
        }
        Value::Table(t) if level < MAX_NESTING => match array_len(t) {
            Some(n) => {
                encode_len(out, n, 0x90, 16, [0, 0xdc, 0xdd], false);
                for i in 1..=n {
                    let item: Value = t.raw_get(i).unwrap_or(Value::Nil);
                    encode_value(out, &item, level + 1);
                }
            }
            None => {
                let pairs: Vec<(Value, Value)> = t.pairs::<Value, Value>().flatten().collect();
                encode_len(out, pairs.len(), 0x80, 16, [0, 0xde, 0xdf], false);
                for (k, item) in &pairs {
                    encode_value(out, k, level + 1);
                    encode_value(out, item, level + 1);
                }
            }
        },
        _ => out.push(0xc0),
    }
}

/// Reads MessagePack values from a byte string.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> mlua::Result<&[u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let Some(end) = end else {
            return Err(mlua::Error::runtime("Missing bytes in input."));
        };
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn uint(&mut self, n: usize) -> mlua::Result<u64> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| acc << 8 | b as u64))
    }

    fn read(&mut self, lua: &Lua) -> mlua::Result<Value> {
        let tag = self.take(1)?[0];
        let str_of = |r: &mut Self, n: usize| -> mlua::Result<Value> {
            Ok(Value::String(lua.create_string(r.take(n)?)?))
        };
        Ok(match tag {
            0x00..=0x7f => Value::Number(tag as f64),
            0xe0..=0xff => Value::Number(tag as i8 as f64),
            0xa0..=0xbf => str_of(self, (tag & 0x1f) as usize)?,
            0x90..=0x9f => self.array(lua, (tag & 0x0f) as usize)?,
            0x80..=0x8f => self.map(lua, (tag & 0x0f) as usize)?,
            0xc0 => Value::Nil,
            0xc2 => Value::Boolean(false),
            0xc3 => Value::Boolean(true),
            0xcc => Value::Number(self.uint(1)? as f64),
            0xcd => Value::Number(self.uint(2)? as f64),
            0xce => Value::Number(self.uint(4)? as f64),
            0xcf => Value::Number(self.uint(8)? as f64),
            0xd0 => Value::Number(self.uint(1)? as u8 as i8 as f64),
            0xd1 => Value::Number(self.uint(2)? as u16 as i16 as f64),
            0xd2 => Value::Number(self.uint(4)? as u32 as i32 as f64),
            0xd3 => Value::Number(self.uint(8)? as i64 as f64),
            0xca => Value::Number(f32::from_bits(self.uint(4)? as u32) as f64),
            0xcb => Value::Number(f64::from_bits(self.uint(8)?)),
            0xd9 | 0xc4 => {
                let n = self.uint(1)? as usize;
                str_of(self, n)?
            }
            0xda | 0xc5 => {
                let n = self.uint(2)? as usize;
                str_of(self, n)?
            }
            0xdb | 0xc6 => {
                let n = self.uint(4)? as usize;
                str_of(self, n)?
            }
            0xdc => {
                let n = self.uint(2)? as usize;
                self.array(lua, n)?
            }
            0xdd => {
                let n = self.uint(4)? as usize;
                self.array(lua, n)?
            }
            0xde => {
                let n = self.uint(2)? as usize;
                self.map(lua, n)?
            }
            0xdf => {
                let n = self.uint(4)? as usize;
                self.map(lua, n)?
            }
            _ => return Err(mlua::Error::runtime("Bad data format in input.")),
        })
    }

    fn array(&mut self, lua: &Lua, n: usize) -> mlua::Result<Value> {
        let t = lua.create_table()?;
        for i in 1..=n {
            let v = self.read(lua)?;
            t.raw_set(i, v)?;
        }
        Ok(Value::Table(t))
    }

    fn map(&mut self, lua: &Lua, n: usize) -> mlua::Result<Value> {
        let t = lua.create_table()?;
        for _ in 0..n {
            let k = self.read(lua)?;
            let v = self.read(lua)?;
            if !k.is_nil() {
                t.raw_set(k, v)?;
            }
        }
        Ok(Value::Table(t))
    }
}

/// Decodes up to `limit` values (0: all) from `offset`; returns the next offset (-1 at the
/// end) and the values.
fn unpack_from(
    lua: &Lua,
    s: &[u8],
    limit: usize,
    offset: usize,
) -> mlua::Result<(i64, Vec<Value>)> {
    let mut r = Reader {
        buf: s,
        pos: offset.min(s.len()),
    };
    let mut values = Vec::new();
    while r.pos < s.len() && (limit == 0 || values.len() < limit) {
        values.push(r.read(lua)?);
    }
    let next = if r.pos >= s.len() { -1 } else { r.pos as i64 };
    Ok((next, values))
}

fn int_arg(v: Option<&Value>) -> usize {
    match v {
        Some(Value::Integer(n)) => (*n).max(0) as usize,
        Some(Value::Number(n)) => n.max(0.0) as usize,
        _ => 0,
    }
}

pub fn register(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            if args.is_empty() {
                return Err(mlua::Error::runtime("MessagePack pack needs input."));
            }
            let mut out = Vec::new();
            for v in args.iter() {
                encode_value(&mut out, v, 0);
            }
            lua.create_string(out)
        })?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, s: mlua::LuaString| {
            let (_, values) = unpack_from(lua, &s.as_bytes(), 0, 0)?;
            Ok(MultiValue::from_iter(values))
        })?,
    )?;
    t.raw_set(
        "unpack_one",
        lua.create_function(|lua, args: MultiValue| {
            let Some(Value::String(s)) = args.front() else {
                return Err(mlua::Error::runtime("MessagePack unpack needs a string."));
            };
            let (next, values) = unpack_from(lua, &s.as_bytes(), 1, int_arg(args.get(1)))?;
            let mut out = vec![Value::Number(next as f64)];
            out.extend(values);
            Ok(MultiValue::from_iter(out))
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        lua.create_function(|lua, args: MultiValue| {
            let Some(Value::String(s)) = args.front() else {
                return Err(mlua::Error::runtime("MessagePack unpack needs a string."));
            };
            let (next, values) = unpack_from(
                lua,
                &s.as_bytes(),
                int_arg(args.get(1)),
                int_arg(args.get(2)),
            )?;
            let mut out = vec![Value::Number(next as f64)];
            out.extend(values);
            Ok(MultiValue::from_iter(out))
        })?,
    )?;
    globals.raw_set("cmsgpack", t)?;
    Ok(())
}
