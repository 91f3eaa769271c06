//! `math.random` / `math.randomseed` on the 48-bit linear congruential generator of
//! `lrand48`, started from its standard state: the same sequence on every server start, as in
//! Redis (scripts replicate as effects, so the numbers need not repeat per script).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use mlua::{Lua, MultiValue, Table, Value};

/// Largest value `next` returns (a 31-bit draw), as Redis' `REDIS_LRAND48_MAX`.
const DRAW_MAX: u64 = i32::MAX as u64;

/// `lrand48`'s state before any seeding.
const INITIAL_STATE: u64 = 0x1234_abcd_330e;

/// The generator's 48-bit state.
pub struct ScriptRandom(AtomicU64);

impl ScriptRandom {
    fn seed(&self, seed: i64) {
        self.0.store(
            ((seed as u64) << 16 | 0x330e) & 0xffff_ffff_ffff,
            Ordering::Relaxed,
        );
    }

    fn next(&self) -> u64 {
        let x = self.0.load(Ordering::Relaxed);
        let x = x.wrapping_mul(0x5_deec_e66d).wrapping_add(0xb) & 0xffff_ffff_ffff;
        self.0.store(x, Ordering::Relaxed);
        x >> 17
    }

    /// Replaces `math.random` and `math.randomseed` in `globals.math`; returns the generator
    /// so each run can reseed it.
    pub fn register(lua: &Lua, globals: &Table) -> mlua::Result<Arc<ScriptRandom>> {
        let rng = Arc::new(ScriptRandom(AtomicU64::new(INITIAL_STATE)));
        let math: Table = globals.raw_get("math")?;
        let r = rng.clone();
        math.raw_set(
            "random",
            lua.create_function(move |_, args: MultiValue| {
                let draw = (r.next() % DRAW_MAX) as f64 / DRAW_MAX as f64;
                let num = |v: Option<&Value>| match v {
                    Some(Value::Number(n)) => Some(*n),
                    Some(Value::Integer(n)) => Some(*n as f64),
                    Some(Value::String(s)) => s.to_str().ok().and_then(|s| s.trim().parse().ok()),
                    _ => None,
                };
                match args.len() {
                    0 => Ok(draw),
                    1 => {
                        let u = num(args.front()).ok_or_else(|| {
                            mlua::Error::runtime("bad argument #1 to 'random' (number expected)")
                        })?;
                        if u < 1.0 {
                            return Err(mlua::Error::runtime(
                                "bad argument #1 to 'random' (interval is empty)",
                            ));
                        }
                        Ok((draw * u).floor() + 1.0)
                    }
                    2 => {
                        let l = num(args.front()).ok_or_else(|| {
                            mlua::Error::runtime("bad argument #1 to 'random' (number expected)")
                        })?;
                        let u = num(args.get(1)).ok_or_else(|| {
                            mlua::Error::runtime("bad argument #2 to 'random' (number expected)")
                        })?;
                        if l > u {
                            return Err(mlua::Error::runtime(
                                "bad argument #2 to 'random' (interval is empty)",
                            ));
                        }
                        Ok((draw * (u - l + 1.0)).floor() + l)
                    }
                    _ => Err(mlua::Error::runtime("wrong number of arguments")),
                }
            })?,
        )?;
        let r = rng.clone();
        math.raw_set(
            "randomseed",
            lua.create_function(move |_, seed: Value| {
                // As `luaL_checkint`: numbers, and strings that read as numbers.
                let s = match seed {
                    Value::Number(n) => n as i64,
                    Value::Integer(n) => n,
                    Value::String(s) => s
                        .to_str()
                        .ok()
                        .and_then(|s| s.trim().parse::<f64>().ok())
                        .map(|n| n as i64)
                        .ok_or_else(|| {
                            mlua::Error::runtime(
                                "bad argument #1 to 'randomseed' (number expected, got string)",
                            )
                        })?,
                    other => {
                        return Err(mlua::Error::runtime(format!(
                            "bad argument #1 to 'randomseed' (number expected, got {})",
                            other.type_name()
                        )))
                    }
                };
                r.seed(s);
                Ok(())
            })?,
        )?;
        Ok(rng)
    }
}
