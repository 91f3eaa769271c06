-- The sandbox scripts run in, built once when the interpreter starts (chunk "=redis_lib").
-- It receives the real globals table and the table of per-run slots filled in by Rust, and
-- returns: the environment scripts see, a function binding a loaded chunk to it, and the
-- runner that calls a script under the error handler.
local R, slots, redis = ...

local raw_setmetatable, raw_rawset, raw_getfenv, raw_setfenv = setmetatable, rawset, getfenv, setfenv
local raw_loadstring, raw_type, raw_tostring, raw_error = loadstring, type, tostring, error
local dbg = debug

-- Tables scripts may read but never change (Redis' readonly tables).
local readonly = raw_setmetatable({}, {__mode = 'k'})
local function refuse() raw_error('Attempt to modify a readonly table', 2) end

local function protect(t)
  local meta = {__index = t, __newindex = refuse}
  local shown = raw_setmetatable({}, {__index = meta, __newindex = refuse, __metatable = false})
  readonly[shown] = true
  meta.__metatable = shown
  local proxy = raw_setmetatable({}, meta)
  readonly[proxy] = true
  return proxy
end

-- Reading a global nobody defined is an error, as in Redis.
raw_setmetatable(R, {__index = function(_, name)
  raw_error("Script attempted to access nonexistent global variable '" .. raw_tostring(name) .. "'", 2)
end})

local env = protect(R)

R.setmetatable = function(t, m)
  if readonly[t] then raw_error('Attempt to modify a readonly table', 0) end
  return raw_setmetatable(t, m)
end
R.rawset = function(t, k, v)
  if readonly[t] then raw_error('Attempt to modify a readonly table', 0) end
  return raw_rawset(t, k, v)
end
R.getfenv = function(f)
  local e = raw_getfenv(f or 1)
  if e == R then return env end
  return e
end
R.setfenv = nil
-- Source only: binary chunks could break out of the VM.
R.loadstring = function(s, name)
  if raw_type(s) == 'string' and s:byte(1) == 27 then return nil, 'binary chunks are not allowed' end
  local f, e = raw_loadstring(s, name)
  if f then raw_setfenv(f, env) end
  return f, e
end
R.load = nil
R.loadfile = nil
R.dofile = nil
R.print = nil
R.module = nil
R.require = nil
R.newproxy = nil
R.gcinfo = nil
R.debug = nil
R._G = env

-- redis.call (a C function added by Rust around raw_call) raises a failed command's error
-- table; redis.pcall returns it.
local raw_call = function(...) return slots.call(...) end
redis.pcall = function(...)
  local v = raw_call(...)
  return v
end

for _, name in ipairs({'redis', 'cjson', 'cmsgpack', 'bit', 'struct', 'string', 'math', 'table', 'coroutine'}) do
  local lib = rawget(R, name)
  if lib ~= nil then raw_rawset(R, name, protect(lib)) end
end

-- Where an error was raised: the first frame that is neither C nor this file.
local function on_error(err)
  local level = 2
  local info = dbg.getinfo(level, 'Sl')
  while info and (info.what == 'C' or info.source == '=redis_lib') do
    level = level + 1
    info = dbg.getinfo(level, 'Sl')
  end
  if raw_type(err) ~= 'table' then err = {err = 'ERR ' .. raw_tostring(err)} end
  if info then
    err.source = info.source
    err.line = info.currentline
  end
  return err
end

local function bind(f)
  raw_setfenv(f, env)
  return f
end

local function run(f, keys, args)
  local ok, result
  if keys ~= nil then
    ok, result = xpcall(function() return f(keys, args) end, on_error)
  else
    ok, result = xpcall(f, on_error)
  end
  return ok, result
end

return env, bind, run, raw_call
