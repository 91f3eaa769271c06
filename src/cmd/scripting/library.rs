//! Function libraries (FUNCTION LOAD): parsing a library's metadata, running its code to
//! collect `redis.register_function` calls, and the registry of loaded libraries.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;

use bytes::Bytes;
use mlua::{Function, Table, Value};

use super::flags::{flag_named, ScriptFlags};
use super::vm::Vm;

/// One registered function.
pub struct LibFunction {
    pub name: String,
    pub description: Option<String>,
    pub flags: ScriptFlags,
    pub callback: Function,
}

/// A loaded library: its code and functions.
pub struct Library {
    pub name: String,
    pub code: Bytes,
    pub functions: BTreeMap<String, LibFunction>,
}

/// Every loaded library, and which library each function belongs to.
#[derive(Default)]
pub struct Libraries {
    pub by_name: BTreeMap<String, Library>,
    /// Library of each function, by the function's lower-case name: FCALL finds functions
    /// whatever the case, as Redis does.
    pub function_lib: HashMap<String, String>,
}

impl Libraries {
    /// The function `name`.
    pub fn function(&self, name: &str) -> Option<&LibFunction> {
        let lib = self.function_lib.get(&name.to_ascii_lowercase())?;
        let functions = &self.by_name.get(lib)?.functions;
        functions.get(name).or_else(|| {
            functions
                .values()
                .find(|f| f.name.eq_ignore_ascii_case(name))
        })
    }

    /// Removes library `name`; false when there is none.
    pub fn remove(&mut self, name: &str) -> bool {
        let Some(lib) = self.by_name.remove(name) else {
            return false;
        };
        for f in lib.functions.keys() {
            self.function_lib.remove(&f.to_ascii_lowercase());
        }
        true
    }

    pub fn clear(&mut self) {
        self.by_name.clear();
        self.function_lib.clear();
    }

    pub fn function_count(&self) -> usize {
        self.function_lib.len()
    }
}

/// Letters, digits and underscores, at least one: valid library and function names.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The library name in `#!lua name=<name>` and the length of that line. Errors are Redis'
/// texts without the code.
pub fn metadata(code: &[u8]) -> Result<(String, usize), String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let Some(end) = memchr::memchr(b'\n', code) else {
        return Err("Invalid library metadata".into());
    };
    // Split as Redis splits it (`sdssplitargs`): `name="lib"` is the name lib.
    let parts = crate::resp::parse::split_args(&bytes::Bytes::copy_from_slice(&code[..end]))
        .filter(|p| !p.is_empty())
        .ok_or("Invalid library metadata")?;
    let parts: Vec<String> = parts
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let engine = &parts[0][2..];
    let mut name = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case("name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(part[5..].to_string());
            continue;
        }
        return Err(format!("Invalid metadata value given: {part}"));
    }
    let Some(name) = name else {
        return Err("Library name was not given".into());
    };
    if !valid_name(&name) {
        return Err("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into());
    }
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("Engine '{engine}' not found"));
    }
    Ok((name, end))
}

impl Vm {
    /// FUNCTION LOAD: compiles and runs `code`, registering its functions; returns the
    /// library name. Errors are reply texts.
    pub fn load_library(&mut self, code: &Bytes, replace: bool) -> Result<String, String> {
        let (name, shebang) = metadata(code).map_err(|e| format!("ERR {e}"))?;
        if self.libraries.by_name.contains_key(&name) && !replace {
            return Err(format!("ERR Library '{name}' already exists"));
        }
        let chunk = self
            .compile(&code[shebang..], "@user_function")
            .map_err(|e| format!("ERR Error compiling function: {e}"))?;
        let registry = self.lua.create_table().map_err(|e| e.to_string())?;
        self.slots
            .raw_set("registry", registry.clone())
            .map_err(|e| e.to_string())?;
        let deadline = crate::util::clock::unix_ms() + super::vm::LOAD_TIMEOUT_MS;
        self.flags
            .load_deadline_ms
            .store(deadline, Ordering::Relaxed);
        self.set_loading
            .call::<()>(true)
            .map_err(|e| e.to_string())?;
        let ran = self
            .runner
            .call::<(bool, Value)>((chunk, Value::Nil, Value::Nil));
        let _ = self.set_loading.call::<()>(false);
        self.flags.load_deadline_ms.store(0, Ordering::Relaxed);
        let _ = self.slots.raw_set("registry", Value::Nil);
        match ran {
            Ok((true, _)) => {}
            Ok((false, Value::Table(err))) => {
                let msg: String = err
                    .raw_get::<Option<String>>("err")
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                return Err(format!("ERR Error registering functions: {msg}"));
            }
            Ok((false, _)) => return Err("ERR Error registering functions".into()),
            Err(e) => return Err(format!("ERR Error registering functions: {e}")),
        }
        let mut functions = BTreeMap::new();
        for entry in registry.sequence_values::<Table>() {
            let entry = entry.map_err(|e| e.to_string())?;
            let f = read_registration(&entry)?;
            if functions.contains_key(&f.name) {
                return Err("ERR Function already exists in the library".into());
            }
            functions.insert(f.name.clone(), f);
        }
        if functions.is_empty() {
            return Err("ERR No functions registered".into());
        }
        for fname in functions.keys() {
            if let Some(owner) = self.libraries.function_lib.get(&fname.to_ascii_lowercase()) {
                if *owner != name {
                    return Err(format!("ERR Function {fname} already exists"));
                }
            }
        }
        self.libraries.remove(&name);
        for fname in functions.keys() {
            self.libraries
                .function_lib
                .insert(fname.to_ascii_lowercase(), name.clone());
        }
        self.libraries.by_name.insert(
            name.clone(),
            Library {
                name: name.clone(),
                code: code.clone(),
                functions,
            },
        );
        Ok(name)
    }
}

/// One `redis.register_function` call, checked.
fn read_registration(entry: &Table) -> Result<LibFunction, String> {
    let name: String = entry.raw_get("name").map_err(|e| e.to_string())?;
    if !valid_name(&name) {
        return Err("ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into());
    }
    let callback: Function = entry.raw_get("callback").map_err(|e| e.to_string())?;
    let description: Option<String> = entry.raw_get("description").ok().flatten();
    let mut flags = ScriptFlags::empty();
    if let Ok(list) = entry.raw_get::<Table>("flags") {
        for f in list.sequence_values::<mlua::LuaString>().flatten() {
            flags |= flag_named(&f.as_bytes()).ok_or("ERR unknown flag given")?;
        }
    }
    Ok(LibFunction {
        name,
        description,
        flags,
        callback,
    })
}

/// FUNCTION DUMP's payload: a tag, then each library's code with its length (u32 BE).
pub const DUMP_TAG: &[u8] = b"pika-functions-1\n";

/// The payload of FUNCTION DUMP for `libs`.
pub fn dump(libs: &Libraries) -> Vec<u8> {
    let mut out = DUMP_TAG.to_vec();
    for lib in libs.by_name.values() {
        out.extend_from_slice(&(lib.code.len() as u32).to_be_bytes());
        out.extend_from_slice(&lib.code);
    }
    out
}

/// The library codes in a FUNCTION DUMP payload, or None when it is not one.
pub fn undump(payload: &[u8]) -> Option<Vec<Bytes>> {
    let mut rest = payload.strip_prefix(DUMP_TAG)?;
    let mut codes = Vec::new();
    while !rest.is_empty() {
        let (len, tail) = rest.split_first_chunk::<4>()?;
        let len = u32::from_be_bytes(*len) as usize;
        if tail.len() < len {
            return None;
        }
        codes.push(Bytes::copy_from_slice(&tail[..len]));
        rest = &tail[len..];
    }
    Some(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_forms() {
        assert_eq!(
            metadata(b"#!lua name=lib1\nx").unwrap(),
            ("lib1".into(), 15)
        );
        assert!(metadata(b"return 1").is_err());
        assert!(metadata(b"#!lua\n").is_err());
        assert!(metadata(b"#!lua name=a name=b\n").is_err());
        assert_eq!(metadata(b"#!lua name=\"q\"\nx").unwrap().0, "q");
        assert!(metadata(b"#!js name=a\n").is_err());
        assert!(metadata(b"#!lua name=a-b\n").is_err());
    }

    #[test]
    fn dump_round_trip() {
        let payload = [DUMP_TAG, &3u32.to_be_bytes(), b"abc"].concat();
        assert_eq!(undump(&payload).unwrap(), vec![Bytes::from_static(b"abc")]);
        assert!(undump(b"junk").is_none());
        assert!(undump(&payload[..payload.len() - 1]).is_none());
    }
}
