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
  return proxy, meta
end

-- Reading a global nobody defined is an error, as in Redis.
raw_setmetatable(R, {__index = function(_, name)
  raw_error("Script attempted to access nonexistent global variable '" .. raw_tostring(name) .. "'", 2)
end})

local env, env_meta = protect(R)

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
-- A killed script stops even when it catches errors: pcall and xpcall pass the kill on.
local raw_pcall, raw_xpcall = pcall, xpcall
local function pass_kill(...)
  if slots.killed() then raw_error('Script killed by user with SCRIPT KILL...', 0) end
  return ...
end
R.pcall = function(...) return pass_kill(raw_pcall(...)) end
R.xpcall = function(...) return pass_kill(raw_xpcall(...)) end
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
-- A C function gets no stack past 8000 slots (LUAI_MAXCSTACK), and each argument handed over
-- separately holds a slot of the interpreter's reference stack, which never shrinks: a call
-- with many arguments (`redis.call('lpush', k, unpack(t))`) hands them over as one table,
-- after a false marker, read one at a time.
local raw_select = select
local raw_call = function(...)
  if raw_select('#', ...) < 64 then return slots.call(...) end
  return slots.call(false, {...})
end
redis.pcall = function(...)
  local v = raw_call(...)
  return v
end

-- FUNCTION LOAD: collects the library's functions into slots.registry.
local raw_pairs = pairs
redis.register_function = function(...)
  local reg = slots.registry
  if reg == nil then
    raw_error('redis.register_function can only be called on FUNCTION LOAD command', 0)
  end
  local n = select('#', ...)
  local name, callback, flags, description
  if n == 1 and raw_type((...)) == 'table' then
    for k, v in raw_pairs((...)) do
      if raw_type(k) ~= 'string' then
        raw_error('named argument key given to redis.register_function is not a string', 0)
      elseif k == 'function_name' then
        if raw_type(v) ~= 'string' then raw_error('function_name argument given to redis.register_function must be a string', 0) end
        name = v
      elseif k == 'description' then
        if raw_type(v) ~= 'string' then raw_error('description argument given to redis.register_function must be a string', 0) end
        description = v
      elseif k == 'callback' then
        if raw_type(v) ~= 'function' then raw_error('callback argument given to redis.register_function must be a function', 0) end
        callback = v
      elseif k == 'flags' then
        if raw_type(v) ~= 'table' then raw_error('flags argument to redis.register_function must be a table representing function flags', 0) end
        for _, f in ipairs(v) do
          if raw_type(f) ~= 'string' or slots.flag_names[f] == nil then raw_error('unknown flag given', 0) end
        end
        flags = v
      else
        raw_error('unknown argument given to redis.register_function', 0)
      end
    end
    if name == nil then raw_error('redis.register_function must get a function name argument', 0) end
    if callback == nil then raw_error('redis.register_function must get a callback argument', 0) end
  elseif n == 1 then
    raw_error('calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).', 0)
  elseif n == 2 then
    name, callback = ...
    if raw_type(name) ~= 'string' then raw_error('first argument to redis.register_function must be a string', 0) end
    if raw_type(callback) ~= 'function' then raw_error('second argument to redis.register_function must be a function', 0) end
  else
    raw_error('wrong number of arguments to redis.register_function', 0)
  end
  local list = {}
  for i, f in ipairs(flags or {}) do list[i] = f end
  reg[#reg + 1] = {name = name, callback = callback, flags = list, description = description}
end

for _, name in ipairs({'redis', 'cjson', 'cmsgpack', 'bit', 'struct', 'string', 'math', 'table', 'coroutine'}) do
  local lib = rawget(R, name)
  if lib ~= nil then raw_rawset(R, name, protect(lib)) end
end

-- What a library's code sees while FUNCTION LOAD runs it, as in Redis: only `redis` with
-- register_function, log and the version fields; anything else is an unknown global. At run
-- time `redis` has no register_function.
local function unknown_global(_, name)
  raw_error("Script attempted to access nonexistent global variable '" .. raw_tostring(name) .. "'", 2)
end
local load_redis = {register_function = redis.register_function, log = redis.log,
  LOG_DEBUG = redis.LOG_DEBUG, LOG_VERBOSE = redis.LOG_VERBOSE, LOG_NOTICE = redis.LOG_NOTICE,
  LOG_WARNING = redis.LOG_WARNING, REDIS_VERSION = redis.REDIS_VERSION,
  REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM}
raw_setmetatable(load_redis, {__index = unknown_global})
local load_globals = raw_setmetatable({redis = protect(load_redis)}, {__index = unknown_global})
redis.register_function = nil
local function set_loading(on)
  if on then env_meta.__index = load_globals else env_meta.__index = R end
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

return env, bind, run, raw_call, set_loading
