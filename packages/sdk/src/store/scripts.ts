/**
 * Lua scripts, one per operation: each runs atomically on the one shard that owns the
 * session's hash tag. Every key a script touches shares that tag (session hash, tombstone,
 * the user's index and the sessions listed in it), so no script is ever cross-slot.
 *
 * Session hash fields: v version, c createdAt ms, a last refresh ms, i idle timeout s,
 * x absolute expiry ms, u user id, z encoded attribute bytes, d:<name> attributes.
 * Times come from the server clock (TIME), so instances with skewed clocks agree.
 * The key TTL is always min(idle, absolute remaining): Redis itself expires sessions.
 */

/** Shared prelude: `now` in ms and the expiry check/refresh helpers. */
const PRELUDE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function finite(n)
  return n and n == n and n > -math.huge and n < math.huge
end
local function meta(key)
  local m = redis.call('HMGET', key, 'v', 'a', 'i', 'x')
  local v, a, i, x = tonumber(m[1]), tonumber(m[2]), tonumber(m[3]), tonumber(m[4])
  -- tonumber accepts 'nan' and 'inf': metadata a foreign writer corrupted reads as corrupt.
  if not (finite(v) and finite(a) and finite(i) and finite(x)) then return nil end
  return { v = v, a = a, idle = i * 1000, x = x }
end
local function expired(m)
  return now >= m.x or now >= m.a + m.idle
end
local function refresh(key, m)
  m.a = now
  redis.call('HSET', key, 'a', now)
  redis.call('PEXPIRE', key, math.min(m.idle, m.x - now))
end
`;

/**
 * get. KEYS: session. ARGV: touchFraction (negative: never refresh).
 * Returns nil when missing/expired, {'corrupt'} when its metadata is malformed, else {now, pttl, fields...}. Refreshes the TTL only when
 * touchFraction of the idle timeout has passed since the last refresh (a refresh is a write,
 * which invalidates every near cache).
 */
export const GET = `${PRELUDE}
local m = meta(KEYS[1])
if not m then
  if redis.call('EXISTS', KEYS[1]) == 1 then return { 'corrupt' } end
  return nil
end
if expired(m) then redis.call('DEL', KEYS[1]) return nil end
local fraction = tonumber(ARGV[1])
if fraction >= 0 and now - m.a >= m.idle * fraction then refresh(KEYS[1], m) end
return { now, redis.call('PTTL', KEYS[1]), redis.call('HGETALL', KEYS[1]) }
`;

/**
 * touch. KEYS: session. ARGV: touchFraction (0 forces a refresh).
 * Returns nil when missing, else {now, pttl, a, refreshed(0|1)}.
 */
export const TOUCH = `${PRELUDE}
local m = meta(KEYS[1])
if not m then return nil end
if expired(m) then redis.call('DEL', KEYS[1]) return nil end
local refreshed = 0
if now - m.a >= m.idle * tonumber(ARGV[1]) then refresh(KEYS[1], m) refreshed = 1 end
return { now, redis.call('PTTL', KEYS[1]), m.a, refreshed }
`;

/**
 * create (also the second half of a cross-slot regenerate).
 * KEYS: session, tombstone, user index.
 * ARGV: idleSec, absSec, userId ('' = anonymous), maxPerUser (0 = none), onLimit
 *       ('evict-oldest'|'reject'), member hash, session key base, tombstone key base,
 *       tombstone ttl ms, createdAt ('' = now), absolute expiry ms ('' = now + abs),
 *       version ('' = 1), size, then name/value pairs.
 * Returns {'ok', now, pttl, version, createdAt, x, evicted members...} | {'exists'} | {'limit'}.
 */
export const CREATE = `${PRELUDE}
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return { 'exists' } end
local idle, abs, uid = tonumber(ARGV[1]) * 1000, tonumber(ARGV[2]) * 1000, ARGV[3]
local c = ARGV[10] ~= '' and tonumber(ARGV[10]) or now
local x = ARGV[11] ~= '' and tonumber(ARGV[11]) or (now + abs)
local v = ARGV[12] ~= '' and tonumber(ARGV[12]) or 1
if x <= now then return { 'expired' } end
local result = { 'ok', now, 0, v, c, x }
if uid ~= '' then
  local max, base, tbase, tttl = tonumber(ARGV[4]), ARGV[7], ARGV[8], tonumber(ARGV[9])
  local live = {}
  for _, member in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
    if redis.call('EXISTS', base .. member) == 1 then live[#live + 1] = member
    else redis.call('ZREM', KEYS[3], member) end
  end
  if max > 0 and #live >= max then
    if ARGV[5] == 'reject' then return { 'limit' } end
    for j = 1, #live - max + 1 do
      local member = live[j]
      redis.call('DEL', base .. member)
      redis.call('SET', tbase .. member, '1', 'PX', tttl)
      redis.call('ZREM', KEYS[3], member)
      result[#result + 1] = member
    end
  end
  redis.call('ZADD', KEYS[3], c, ARGV[6])
  if redis.call('PTTL', KEYS[3]) < x - now then redis.call('PEXPIRE', KEYS[3], x - now) end
end
local fields = { 'v', v, 'c', c, 'a', now, 'i', ARGV[1], 'x', x, 'z', ARGV[13] }
if uid ~= '' then fields[#fields + 1] = 'u' fields[#fields + 1] = uid end
for j = 14, #ARGV do fields[#fields + 1] = ARGV[j] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIRE', KEYS[1], math.min(idle, x - now))
result[3] = redis.call('PTTL', KEYS[1])
return result
`;

/**
 * update. KEYS: session.
 * ARGV: expectedVersion (-1 = any), maxPayloadBytes, number of set pairs, set pairs..., names to delete...
 * Returns {'ok', now, pttl, fields, before, pttl before} | {'missing'} | {'conflict', version} |
 * {'too_large', size}. Writes nothing unless it returns 'ok'. `before` holds the previous values
 * (false when absent) of the set names, the deleted names, then 'v', 'z' and 'a': what UNDO_UPDATE
 * needs to put the session back when the client cannot decode the result (a corrupt attribute
 * elsewhere in the session means the session reads as missing: the write must not stay).
 */
export const UPDATE = `${PRELUDE}
local m = meta(KEYS[1])
if not m then return { 'missing' } end
if expired(m) then redis.call('DEL', KEYS[1]) return { 'missing' } end
local expected = tonumber(ARGV[1])
if expected >= 0 and m.v ~= expected then return { 'conflict', m.v } end
local z = tonumber(redis.call('HGET', KEYS[1], 'z')) or 0
local nset = tonumber(ARGV[3])
local sets, dels = {}, {}
for j = 4, 3 + 2 * nset, 2 do
  z = z - redis.call('HSTRLEN', KEYS[1], ARGV[j]) + #ARGV[j + 1]
  sets[#sets + 1] = ARGV[j]
  sets[#sets + 1] = ARGV[j + 1]
end
for j = 4 + 2 * nset, #ARGV do
  z = z - redis.call('HSTRLEN', KEYS[1], ARGV[j])
  dels[#dels + 1] = ARGV[j]
end
if z > tonumber(ARGV[2]) then return { 'too_large', z } end
local touched = {}
for j = 1, #sets, 2 do touched[#touched + 1] = sets[j] end
for j = 1, #dels do touched[#touched + 1] = dels[j] end
touched[#touched + 1] = 'v' touched[#touched + 1] = 'z' touched[#touched + 1] = 'a'
local before = redis.call('HMGET', KEYS[1], unpack(touched))
local pttlBefore = redis.call('PTTL', KEYS[1])
if #dels > 0 then redis.call('HDEL', KEYS[1], unpack(dels)) end
sets[#sets + 1] = 'v' sets[#sets + 1] = m.v + 1
sets[#sets + 1] = 'z' sets[#sets + 1] = z
redis.call('HSET', KEYS[1], unpack(sets))
refresh(KEYS[1], m)
return { 'ok', now, redis.call('PTTL', KEYS[1]), redis.call('HGETALL', KEYS[1]), before, pttlBefore }
`;

/**
 * undo update: puts back what an update changed, if nothing wrote the session since.
 * KEYS: session. ARGV: version the update wrote, pttl before it, number of names n, the n names,
 * then for each name 1 + its value, or 0 when it was absent.
 * Returns 1 when undone, 0 when the session changed meanwhile (or is gone).
 */
export const UNDO_UPDATE = `
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[1] then return 0 end
local n = tonumber(ARGV[3])
local sets, dels = {}, {}
local j = 4 + n
for k = 4, 3 + n do
  if ARGV[j] == '1' then
    sets[#sets + 1] = ARGV[k]
    sets[#sets + 1] = ARGV[j + 1]
    j = j + 2
  else
    dels[#dels + 1] = ARGV[k]
    j = j + 1
  end
end
if #dels > 0 then redis.call('HDEL', KEYS[1], unpack(dels)) end
if #sets > 0 then redis.call('HSET', KEYS[1], unpack(sets)) end
local pttl = tonumber(ARGV[2])
if pttl > 0 then redis.call('PEXPIRE', KEYS[1], pttl) end
return 1
`;

/**
 * destroy. KEYS: session, tombstone, user index. ARGV: member hash, tombstone ttl ms.
 * Always leaves the tombstone (a destroy of an already-expired id still blocks its revival).
 * Returns 1 if a live session was deleted, else 0.
 */
export const DESTROY = `
local existed = redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], '1', 'PX', tonumber(ARGV[2]))
redis.call('ZREM', KEYS[3], ARGV[1])
return existed
`;

/**
 * take: the first half of a cross-slot regenerate. Reads and kills the old session at once
 * (delete, tombstone, drop from its user's index). KEYS/ARGV as destroy.
 * Returns nil when missing, else {now, fields...}.
 */
export const TAKE = `${PRELUDE}
local m = meta(KEYS[1])
if not m then return nil end
local fields = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], '1', 'PX', tonumber(ARGV[2]))
redis.call('ZREM', KEYS[3], ARGV[1])
if expired(m) then return nil end
return { now, fields }
`;

/**
 * move: regenerate within one slot (same tag), atomically.
 * KEYS: old session, old tombstone, user index, new session, new tombstone.
 * ARGV: old member, new member, tombstone ttl ms.
 * Returns nil when the old session is missing, {'exists'} on a (practically impossible) id
 * collision, else {'ok', now, pttl, fields...}.
 */
export const MOVE = `${PRELUDE}
local m = meta(KEYS[1])
if not m then return nil end
if expired(m) then redis.call('DEL', KEYS[1]) return nil end
if redis.call('EXISTS', KEYS[4]) == 1 or redis.call('EXISTS', KEYS[5]) == 1 then return { 'exists' } end
local fields = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], '1', 'PX', tonumber(ARGV[3]))
redis.call('HSET', KEYS[4], unpack(fields))
redis.call('HSET', KEYS[4], 'v', m.v + 1, 'a', now)
redis.call('PEXPIRE', KEYS[4], math.min(m.idle, m.x - now))
local score = redis.call('ZSCORE', KEYS[3], ARGV[1])
if score then
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('ZADD', KEYS[3], score, ARGV[2])
end
return { 'ok', now, redis.call('PTTL', KEYS[4]), redis.call('HGETALL', KEYS[4]) }
`;

/**
 * list by user. KEYS: user index. ARGV: user id, session key base, with data ('1'|'0').
 * Prunes members whose session is gone. Returns {now, member, fields, member, fields, ...};
 * fields are the metadata only unless with data.
 */
export const LIST = `${PRELUDE}
local out = { now }
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local key = ARGV[2] .. member
  local u = redis.call('HGET', key, 'u')
  if not u then redis.call('ZREM', KEYS[1], member)
  elseif u == ARGV[1] then
    local m = meta(key)
    if m and not expired(m) then
      out[#out + 1] = member
      if ARGV[3] == '1' then out[#out + 1] = redis.call('HGETALL', key)
      else out[#out + 1] = { 'v', m.v, 'a', m.a, 'i', m.idle / 1000, 'x', m.x, 'c', redis.call('HGET', key, 'c'), 'u', u } end
    end
  end
end
return out
`;

/**
 * destroy all for user. KEYS: user index.
 * ARGV: user id, session key base, tombstone key base, except member ('' none), tombstone ttl ms.
 * Returns the members destroyed.
 */
export const DESTROY_ALL = `
local out = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if member ~= ARGV[4] then
    local key = ARGV[2] .. member
    local u = redis.call('HGET', key, 'u')
    if not u then redis.call('ZREM', KEYS[1], member)
    elseif u == ARGV[1] then
      redis.call('DEL', key)
      redis.call('SET', ARGV[3] .. member, '1', 'PX', tonumber(ARGV[5]))
      redis.call('ZREM', KEYS[1], member)
      out[#out + 1] = member
    end
  end
end
return out
`;

/**
 * upsert: write a whole session under a given id unless a tombstone blocks it (adapters'
 * `set`). Existing attributes not in the write are removed; the version is bumped.
 * KEYS: session, tombstone, user index.
 * ARGV: idleSec, absSec, userId, size, member, expectedVersion (-1 any), then name/value pairs.
 * Returns {'ok', now, pttl, version, created(0|1)} | {'tombstoned'} | {'conflict', v}.
 */
export const UPSERT = `${PRELUDE}
if redis.call('EXISTS', KEYS[2]) == 1 then return { 'tombstoned' } end
local m = meta(KEYS[1])
if m and expired(m) then redis.call('DEL', KEYS[1]) m = nil end
local expected = tonumber(ARGV[6])
if expected >= 0 and (m and m.v or 0) ~= expected then return { 'conflict', m and m.v or 0 } end
local created = 0
if not m then
  created = 1
  m = { v = 0, a = now, idle = tonumber(ARGV[1]) * 1000, x = now + tonumber(ARGV[2]) * 1000 }
  redis.call('HSET', KEYS[1], 'c', now, 'i', ARGV[1], 'x', m.x)
  if ARGV[3] ~= '' then
    redis.call('HSET', KEYS[1], 'u', ARGV[3])
    redis.call('ZADD', KEYS[3], now, ARGV[5])
    if redis.call('PTTL', KEYS[3]) < m.x - now then redis.call('PEXPIRE', KEYS[3], m.x - now) end
  end
else
  local old = redis.call('HKEYS', KEYS[1])
  local drop = {}
  for _, f in ipairs(old) do if string.sub(f, 1, 2) == 'd:' then drop[#drop + 1] = f end end
  if #drop > 0 then redis.call('HDEL', KEYS[1], unpack(drop)) end
end
local fields = { 'v', m.v + 1, 'z', ARGV[4] }
for j = 7, #ARGV do fields[#fields + 1] = ARGV[j] end
redis.call('HSET', KEYS[1], unpack(fields))
refresh(KEYS[1], m)
return { 'ok', now, redis.call('PTTL', KEYS[1]), m.v + 1, created }
`;

/**
 * take raw: the old side of a migration between cells. Reads the session's fields and
 * remaining TTL and removes it at once (delete, tombstone, drop from its user's index), so it
 * can never be live on two cells. KEYS: session, tombstone, user index. ARGV: member, tombstone
 * ttl ms. Returns nil when missing, else {pttl, fields...}.
 */
export const TAKE_RAW = `
local pttl = redis.call('PTTL', KEYS[1])
if pttl <= 0 then return nil end
local fields = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], '1', 'PX', tonumber(ARGV[2]))
redis.call('ZREM', KEYS[3], ARGV[1])
return { pttl, fields }
`;

/**
 * restore raw: the new side of a migration. Writes the fields with the remaining TTL and joins
 * the user's index, unless the id is already there or tombstoned on this cell.
 * KEYS: session, tombstone, user index. ARGV: pttl, member, then field/value pairs.
 * Returns 1 when restored, 0 when refused.
 */
export const RESTORE_RAW = `
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local pttl = tonumber(ARGV[1])
local fields = {}
local uid, c
for j = 3, #ARGV, 2 do
  fields[#fields + 1] = ARGV[j]
  fields[#fields + 1] = ARGV[j + 1]
  if ARGV[j] == 'u' then uid = ARGV[j + 1] end
  if ARGV[j] == 'c' then c = ARGV[j + 1] end
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIRE', KEYS[1], pttl)
if uid then
  redis.call('ZADD', KEYS[3], c or 0, ARGV[2])
  if redis.call('PTTL', KEYS[3]) < pttl then redis.call('PEXPIRE', KEYS[3], pttl) end
end
return 1
`;
