//! `struct`: binary packing as Redis' embedded `lua_struct` offers it (`struct.pack`,
//! `struct.unpack`, `struct.size`), on a 64-bit little-endian build.
//!
//! A format is a string of options: `>`/`<` set big/little endian, `!n` the largest alignment
//! (default 8), a space is ignored; `b B h H l L T i[n] I[n]` are integers (lower case signed;
//! 1, 2, 8, 8, n bytes, `i` 4 by default), `f`/`d` float and double, `x` a zero byte, `c[n]` n
//! characters (`c0`: the whole string when packing, the previous number's length when
//! unpacking), `s` a zero-terminated string. Fields are aligned to min(size, alignment).

use mlua::{Lua, MultiValue, Table, Value};

/// The widest integer field, as in `lua_struct`.
const MAX_INT_SIZE: usize = 32;
/// The largest natural alignment of a 64-bit build, `!`'s default.
const MAX_ALIGN: usize = 8;

/// The options in force while a format is read.
struct Layout {
    big_endian: bool,
    align: usize,
}

/// One field of a format, with its size in bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Int {
        size: usize,
        signed: bool,
    },
    Float,
    Double,
    Pad,
    /// `c[n]`; 0 means the length comes from elsewhere.
    Chars(usize),
    Zstring,
}

impl Field {
    fn size(self) -> usize {
        match self {
            Field::Int { size, .. } => size,
            Field::Float => 4,
            Field::Double => 8,
            Field::Pad => 1,
            Field::Chars(n) => n,
            Field::Zstring => 0,
        }
    }

    /// Zero bytes needed before the field at offset `at`.
    fn padding(self, at: usize, layout: &Layout) -> usize {
        let size = self.size();
        if size == 0 || matches!(self, Field::Chars(_)) {
            return 0;
        }
        let size = size.min(layout.align);
        (size - (at & (size - 1))) & (size - 1)
    }
}

/// Reads a format string field by field, applying the control options as it goes.
struct Format<'a> {
    bytes: &'a [u8],
    at: usize,
    layout: Layout,
    function: &'static str,
}

impl<'a> Format<'a> {
    fn new(bytes: &'a [u8], function: &'static str) -> Self {
        Format {
            bytes,
            at: 0,
            layout: Layout {
                big_endian: false,
                align: 1,
            },
            function,
        }
    }

    /// An optional decimal count after an option.
    fn number(&mut self, default: usize) -> mlua::Result<usize> {
        let mut n: usize = 0;
        let mut any = false;
        while let Some(d) = self.bytes.get(self.at).filter(|b| b.is_ascii_digit()) {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(usize::from(d - b'0')))
                .filter(|&n| n <= i32::MAX as usize)
                .ok_or_else(|| mlua::Error::runtime("integral size overflow"))?;
            any = true;
            self.at += 1;
        }
        Ok(if any { n } else { default })
    }

    /// The next field, or `None` at the end of the format.
    fn next_field(&mut self) -> mlua::Result<Option<Field>> {
        while let Some(&opt) = self.bytes.get(self.at) {
            self.at += 1;
            let field = match opt {
                b'b' | b'B' => Field::Int {
                    size: 1,
                    signed: opt == b'b',
                },
                b'h' | b'H' => Field::Int {
                    size: 2,
                    signed: opt == b'h',
                },
                b'l' | b'L' => Field::Int {
                    size: 8,
                    signed: opt == b'l',
                },
                b'T' => Field::Int {
                    size: 8,
                    signed: false,
                },
                b'i' | b'I' => {
                    let size = self.number(4)?;
                    if size > MAX_INT_SIZE {
                        return Err(mlua::Error::runtime(format!(
                            "integral size {size} is larger than limit of {MAX_INT_SIZE}"
                        )));
                    }
                    Field::Int {
                        size,
                        signed: opt == b'i',
                    }
                }
                b'f' => Field::Float,
                b'd' => Field::Double,
                b'x' => Field::Pad,
                b'c' => Field::Chars(self.number(1)?),
                b's' => Field::Zstring,
                b' ' => continue,
                b'>' => {
                    self.layout.big_endian = true;
                    continue;
                }
                b'<' => {
                    self.layout.big_endian = false;
                    continue;
                }
                b'!' => {
                    let align = self.number(MAX_ALIGN)?;
                    if !align.is_power_of_two() {
                        return Err(mlua::Error::runtime(format!(
                            "alignment {align} is not a power of 2"
                        )));
                    }
                    self.layout.align = align;
                    continue;
                }
                other => {
                    return Err(bad_argument(
                        1,
                        self.function,
                        &format!("invalid format option '{}'", char::from(other)),
                    ))
                }
            };
            return Ok(Some(field));
        }
        Ok(None)
    }
}

fn bad_argument(pos: usize, function: &str, why: &str) -> mlua::Error {
    mlua::Error::runtime(format!("bad argument #{pos} to '{function}' ({why})"))
}

/// A number argument as `luaL_checknumber` takes it (numeric strings too).
fn number_arg(lua: &Lua, args: &MultiValue, pos: usize, function: &str) -> mlua::Result<f64> {
    let v = args.get(pos - 1).cloned().unwrap_or(Value::Nil);
    lua.coerce_number(v)?
        .ok_or_else(|| expected(args, pos, function, "number"))
}

/// `luaL_typerror`'s complaint about argument `pos`. A missing argument of `pack` reads as
/// nil: lua_struct pushes a nil after its arguments.
fn expected(args: &MultiValue, pos: usize, function: &str, what: &str) -> mlua::Error {
    let missing = if function == "pack" {
        "nil"
    } else {
        "no value"
    };
    let got = args.get(pos - 1).map_or(missing, Value::type_name);
    bad_argument(pos, function, &format!("{what} expected, got {got}"))
}

/// A string argument as `luaL_checklstring` takes it (numbers too).
fn bytes_arg(lua: &Lua, args: &MultiValue, pos: usize, function: &str) -> mlua::Result<Vec<u8>> {
    let v = args.get(pos - 1).cloned().unwrap_or(Value::Nil);
    lua.coerce_string(v)?
        .map(|s| s.as_bytes().to_vec())
        .ok_or_else(|| expected(args, pos, function, "string"))
}

/// The bytes of integer `value` in `size` bytes (high bytes beyond 8 are zero).
fn put_integer(out: &mut Vec<u8>, n: f64, size: usize, big_endian: bool) {
    let value = if n < 0.0 { n as i64 as u64 } else { n as u64 };
    let mut bytes: Vec<u8> = (0..size)
        .map(|i| if i < 8 { (value >> (8 * i)) as u8 } else { 0 })
        .collect();
    if big_endian {
        bytes.reverse();
    }
    out.extend_from_slice(&bytes);
}

fn get_integer(bytes: &[u8], signed: bool, big_endian: bool) -> f64 {
    let mut value: u64 = 0;
    let mut fold = |b: &u8| value = (value << 8) | u64::from(*b);
    if big_endian {
        bytes.iter().for_each(&mut fold);
    } else {
        bytes.iter().rev().for_each(&mut fold);
    }
    if !signed {
        return value as f64;
    }
    let bits = bytes.len() * 8;
    if (1..64).contains(&bits) && value & (1 << (bits - 1)) != 0 {
        value |= u64::MAX << (bits - 1);
    }
    value as i64 as f64
}

fn ordered<const N: usize>(mut bytes: [u8; N], big_endian: bool) -> [u8; N] {
    if big_endian {
        bytes.reverse();
    }
    bytes
}

fn pack(lua: &Lua, args: MultiValue) -> mlua::Result<mlua::LuaString> {
    let format = bytes_arg(lua, &args, 1, "pack")?;
    let mut fmt = Format::new(&format, "pack");
    let mut out = Vec::new();
    let mut arg = 2;
    while let Some(field) = fmt.next_field()? {
        let pad = field.padding(out.len(), &fmt.layout);
        out.resize(out.len() + pad, 0);
        let big = fmt.layout.big_endian;
        match field {
            Field::Int { size, .. } => {
                put_integer(&mut out, number_arg(lua, &args, arg, "pack")?, size, big);
                arg += 1;
            }
            Field::Float => {
                let f = number_arg(lua, &args, arg, "pack")? as f32;
                out.extend_from_slice(&ordered(f.to_le_bytes(), big));
                arg += 1;
            }
            Field::Double => {
                let d = number_arg(lua, &args, arg, "pack")?;
                out.extend_from_slice(&ordered(d.to_le_bytes(), big));
                arg += 1;
            }
            Field::Pad => out.push(0),
            Field::Chars(_) | Field::Zstring => {
                let s = bytes_arg(lua, &args, arg, "pack")?;
                arg += 1;
                let size = match field {
                    Field::Chars(n) if n > 0 => n,
                    _ => s.len(),
                };
                let Some(taken) = s.get(..size) else {
                    return Err(bad_argument(arg, "pack", "string too short"));
                };
                out.extend_from_slice(taken);
                if field == Field::Zstring {
                    out.push(0);
                }
            }
        }
    }
    lua.create_string(&out)
}

fn unpack(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    let format = bytes_arg(lua, &args, 1, "unpack")?;
    let data = bytes_arg(lua, &args, 2, "unpack")?;
    let start = match args.get(2) {
        None | Some(Value::Nil) => 1.0,
        _ => number_arg(lua, &args, 3, "unpack")?,
    };
    if start < 1.0 {
        return Err(bad_argument(3, "unpack", "offset must be 1 or greater"));
    }
    let mut pos = start as usize - 1;
    let mut fmt = Format::new(&format, "unpack");
    let mut results: Vec<Value> = Vec::new();
    let too_short = || bad_argument(2, "unpack", "data string too short");
    while let Some(field) = fmt.next_field()? {
        pos += field.padding(pos, &fmt.layout);
        let mut size = field.size();
        if pos.checked_add(size).is_none_or(|end| end > data.len()) {
            return Err(too_short());
        }
        let big = fmt.layout.big_endian;
        let here = &data[pos..];
        match field {
            Field::Int { size, signed } => {
                results.push(Value::Number(get_integer(&here[..size], signed, big)));
            }
            Field::Float => {
                let mut b = [0u8; 4];
                b.copy_from_slice(&here[..4]);
                let f = f32::from_le_bytes(ordered(b, big));
                results.push(Value::Number(f64::from(f)));
            }
            Field::Double => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&here[..8]);
                results.push(Value::Number(f64::from_le_bytes(ordered(b, big))));
            }
            Field::Pad => {}
            Field::Chars(n) => {
                if n == 0 {
                    let Some(Value::Number(len)) = results.pop() else {
                        return Err(mlua::Error::runtime("format 'c0' needs a previous size"));
                    };
                    size = len as usize;
                    if size > here.len() {
                        return Err(too_short());
                    }
                }
                results.push(Value::String(lua.create_string(&here[..size])?));
            }
            Field::Zstring => {
                let Some(end) = here.iter().position(|&b| b == 0) else {
                    return Err(mlua::Error::runtime("unfinished string in data"));
                };
                results.push(Value::String(lua.create_string(&here[..end])?));
                size = end + 1;
            }
        }
        pos += size;
    }
    results.push(Value::Number((pos + 1) as f64));
    Ok(MultiValue::from_iter(results))
}

fn size(lua: &Lua, args: MultiValue) -> mlua::Result<f64> {
    let format = bytes_arg(lua, &args, 1, "size")?;
    let mut fmt = Format::new(&format, "size");
    let mut pos = 0;
    while let Some(field) = fmt.next_field()? {
        pos += field.padding(pos, &fmt.layout);
        match field {
            Field::Zstring => return Err(bad_argument(1, "size", "option 's' has no fixed size")),
            Field::Chars(0) => {
                return Err(bad_argument(1, "size", "option 'c0' has no fixed size"))
            }
            _ => pos += field.size(),
        }
    }
    Ok(pos as f64)
}

pub fn register(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    let t = lua.create_table()?;
    t.raw_set("pack", lua.create_function(pack)?)?;
    t.raw_set("unpack", lua.create_function(unpack)?)?;
    t.raw_set("size", lua.create_function(size)?)?;
    globals.raw_set("struct", t)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A returned value, copied out before the interpreter goes.
    #[derive(Debug, PartialEq)]
    enum Out {
        Bytes(Vec<u8>),
        Num(f64),
    }

    fn eval(code: &str) -> mlua::Result<Vec<Out>> {
        let lua = Lua::new();
        register(&lua, &lua.globals())?;
        let values: MultiValue = lua.load(code).eval()?;
        Ok(values
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Out::Bytes(s.as_bytes().to_vec()),
                Value::Number(n) => Out::Num(n),
                Value::Integer(n) => Out::Num(n as f64),
                other => panic!("unexpected {other:?}"),
            })
            .collect())
    }

    fn bytes(code: &str) -> Vec<u8> {
        match eval(code).unwrap().into_iter().next() {
            Some(Out::Bytes(b)) => b,
            other => panic!("not a string: {other:?}"),
        }
    }

    fn numbers(code: &str) -> Vec<f64> {
        eval(code)
            .unwrap()
            .into_iter()
            .map(|v| match v {
                Out::Num(n) => n,
                other => panic!("not a number: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn integers_pack_in_either_byte_order() {
        assert_eq!(bytes("return struct.pack('>I2', 258)"), [1, 2]);
        assert_eq!(
            bytes("return struct.pack('<i', -2)"),
            [0xfe, 0xff, 0xff, 0xff]
        );
        assert_eq!(bytes("return struct.pack('b', -1)"), [0xff]);
        assert_eq!(bytes("return struct.pack('>i10', 1)")[9], 1);
        assert_eq!(
            numbers("return struct.unpack('>h', '\\255\\254')"),
            [-2.0, 3.0]
        );
        assert_eq!(
            numbers("return struct.unpack('<H', '\\255\\254')"),
            [65279.0, 3.0]
        );
    }

    #[test]
    fn alignment_pads_to_the_smaller_of_size_and_limit() {
        assert_eq!(bytes("return struct.pack('!4 b i', 1, 2)").len(), 8);
        assert_eq!(bytes("return struct.pack('!2 b i', 1, 2)").len(), 6);
        assert_eq!(bytes("return struct.pack('b i', 1, 2)").len(), 5);
        assert_eq!(numbers("return struct.size('!8 b d')"), [16.0]);
        assert!(eval("return struct.size('!3 b')").is_err());
    }

    #[test]
    fn strings_round_trip_and_counted_strings_read_their_length() {
        assert_eq!(bytes("return struct.pack('s', 'ab')"), b"ab\0");
        assert_eq!(bytes("return struct.pack('c3', 'abcd')"), b"abc");
        assert!(eval("return struct.pack('c5', 'ab')").is_err());
        let v =
            eval("return struct.unpack('B c0 s', struct.pack('B c0 s', 3, 'xyz', 'end'))").unwrap();
        assert_eq!(
            v,
            [
                Out::Bytes(b"xyz".to_vec()),
                Out::Bytes(b"end".to_vec()),
                Out::Num(9.0)
            ]
        );
    }

    #[test]
    fn floats_and_offsets() {
        assert_eq!(
            numbers("return struct.unpack('>d f', struct.pack('>d f', 1.5, 0.25))"),
            [1.5, 0.25, 13.0]
        );
        assert_eq!(
            numbers("return struct.unpack('b', '\\1\\2', 2)"),
            [2.0, 3.0]
        );
        assert!(eval("return struct.unpack('i', '\\1\\2')").is_err());
        assert!(eval("return struct.unpack('b', '\\1', 0)").is_err());
        assert!(eval("return struct.pack('q', 1)").is_err());
        assert!(eval("return struct.size('s')").is_err());
    }
}
