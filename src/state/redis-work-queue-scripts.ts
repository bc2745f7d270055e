import { RedisScript } from './redis-scripts';

/**
 * The work queue's Lua scripts (src/state/redis-work-queue.ts): each step of the queue is one of these, atomic on the
 * Redis server, so every instance sees the same lanes, leases and dead letters.
 */

// Every entry is `<id> <json>`; HEAD_IS checks the lane's head is the item the caller means.
const HEAD_IS = `
local function head_is(lane_key, id)
  local head = redis.call('LINDEX', lane_key, 0)
  if not head then return false end
  local space = string.find(head, ' ', 1, true)
  return space ~= nil and string.sub(head, 1, space - 1) == id
end
`;

// KEYS: lane list, due zset, count, claims hash, lease key. ARGV: entry, lane, now, lease token ('' for none),
// lease ms, entry id. Returns {due, 1 when the lease was taken with the entry as the lane's head, the lane's length
// with the entry}: the lease only when the lane was empty, is due now, and no one holds it.
export const ENQUEUE = new RedisScript(`
local length = redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], 'NX', ARGV[3], ARGV[2])
redis.call('INCR', KEYS[3])
local due = redis.call('ZSCORE', KEYS[2], ARGV[2])
local taken = 0
if ARGV[4] ~= '' and length == 1 and tonumber(due) <= tonumber(ARGV[3])
   and redis.call('SET', KEYS[5], ARGV[4], 'NX', 'PX', ARGV[5]) then
  redis.call('HSET', KEYS[4], ARGV[2], ARGV[6])
  taken = 1
end
return {due, taken, length}
`);

// Up to max entries of a lane; the head's id (before its first space) is recorded in the claims hash.
// Returns {1 when the head was handed out before (and not acknowledged since), entries...}.
const PEEK_FN = `
local function peek(lane_key, claims_key, lane, max)
  local entries = redis.call('LRANGE', lane_key, 0, tonumber(max) - 1)
  local again = 0
  if #entries > 0 then
    local head = entries[1]
    local space = string.find(head, ' ', 1, true)
    local id = space and string.sub(head, 1, space - 1) or head
    if redis.call('HGET', claims_key, lane) == id then again = 1
    else redis.call('HSET', claims_key, lane, id) end
  end
  table.insert(entries, 1, again)
  return entries
end
`;

// Takes (or renews) the lane's lease for token; false when another holder has it.
const TAKE_LEASE_FN = `
local function take_lease(lease_key, token, ms)
  local holder = redis.call('GET', lease_key)
  if not holder then redis.call('SET', lease_key, token, 'PX', ms)
  elseif holder ~= token then return false
  else redis.call('PEXPIRE', lease_key, ms) end
  return true
end
`;

// KEYS: lane list, claims hash. ARGV: lane, max.
export const PEEK = new RedisScript(`${PEEK_FN}
return peek(KEYS[1], KEYS[2], ARGV[1], ARGV[2])`);

// The lane's lease: the key the lane lock of earlier versions used (`lock:lane:<lane>`), so an instance of an
// earlier version, which takes the lane with that lock, and this one exclude each other during a rolling update.
// KEYS: lane list, claims hash, lease key. ARGV: lane, max, lease token, lease ms.
// Returns {-1} when another holder has the lane; else takes (or renews) the lease and peeks like PEEK.
export const TAKE = new RedisScript(`${PEEK_FN}${TAKE_LEASE_FN}
if not take_lease(KEYS[3], ARGV[3], ARGV[4]) then return {-1} end
return peek(KEYS[1], KEYS[2], ARGV[1], ARGV[2])`);

// KEYS: lane list, due zset, count, claims hash, lease key. ARGV: lane, lease token ('' for none), ids...
// The lease is given up, in the same step, when the lane is left empty.
const ACK_BODY = `
for i = FIRST_ID, #ARGV do
  if not head_is(KEYS[1], ARGV[i]) then break end
  redis.call('LPOP', KEYS[1])
  redis.call('DECR', KEYS[3])
  if redis.call('HGET', KEYS[4], ARGV[1]) == ARGV[i] then redis.call('HDEL', KEYS[4], ARGV[1]) end
end
local left = redis.call('LLEN', KEYS[1])
if left == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  if ARGV[2] ~= '' and redis.call('GET', KEYS[5]) == ARGV[2] then redis.call('DEL', KEYS[5]) end
end
`;
export const ACK = new RedisScript(`${HEAD_IS}local FIRST_ID = 3
${ACK_BODY}
return left`);

// ACK, then, when items are left, TAKE of the next head for the same lease: one round trip between two items of a
// busy lane instead of two. KEYS as ACK. ARGV: lane, lease token, max, lease ms, ids...
// Returns {left} when the lane is empty; {left, -1} when another holder has it; else {left, again, entries...}.
export const ACK_TAKE = new RedisScript(`${HEAD_IS}${PEEK_FN}${TAKE_LEASE_FN}local FIRST_ID = 5
${ACK_BODY}
if left == 0 then return {0} end
if not take_lease(KEYS[5], ARGV[2], ARGV[4]) then return {left, -1} end
local peeked = peek(KEYS[1], KEYS[4], ARGV[1], ARGV[3])
table.insert(peeked, 1, left)
return peeked`);

// KEYS: lease key. ARGV: token, lease ms (0: give the lease up). Returns 1 when the lease was (still) this holder's.
export const LEASE = new RedisScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '0' then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`);

// Gives the lane up as LEASE with 0 does, and, when the lease was this holder's, forgets that the head was handed out
// (the enqueue that took the lane claimed it, but no handler saw it). KEYS: lease key, claims hash. ARGV: token,
// lane, head id. Returns 1 when the lease was this holder's.
export const RELEASE_UNCLAIMED = new RedisScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('HGET', KEYS[2], ARGV[2]) == ARGV[3] then redis.call('HDEL', KEYS[2], ARGV[2]) end
return 1
`);

// KEYS: lane list, due zset. ARGV: head id, new entry, lane, retry at.
export const RETRY = new RedisScript(`${HEAD_IS}
if not head_is(KEYS[1], ARGV[1]) then return 0 end
redis.call('LSET', KEYS[1], 0, ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
return 1
`);

// KEYS: lane list, due zset, count, dlq hash, dlq order zset, claims hash.
// ARGV: head id, letter id, letter, at ms, lane, now.
export const DEAD_LETTER = new RedisScript(`${HEAD_IS}
if not head_is(KEYS[1], ARGV[1]) then return 0 end
redis.call('LPOP', KEYS[1])
redis.call('DECR', KEYS[3])
if redis.call('HGET', KEYS[6], ARGV[5]) == ARGV[1] then redis.call('HDEL', KEYS[6], ARGV[5]) end
redis.call('HSET', KEYS[4], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[2])
if redis.call('LLEN', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[5])
else
  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[5])
end
return 1
`);

// KEYS: dlq hash, dlq order, lane list, due zset, count. ARGV: letter id, entry, lane, now.
export const REPLAY = new RedisScript(`
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('RPUSH', KEYS[3], ARGV[2])
redis.call('ZADD', KEYS[4], 'NX', ARGV[4], ARGV[3])
redis.call('INCR', KEYS[5])
return 1
`);

// KEYS: dlq hash, dlq order. ARGV: letter id.
export const DROP = new RedisScript(`
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`);

// KEYS: timers zset, timer items hash. ARGV: key, timer json, at.
export const SCHEDULE = new RedisScript(`
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
`);

// KEYS: timers zset, timer items hash. ARGV: key.
export const CANCEL = new RedisScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`);

// Moves the due timers into their lanes, atomically: one instance gets each, and none is lost in between.
// Each timer is stored as "<lane>\n<entry>". KEYS: timers zset, items hash, due zset, count.
// ARGV: now, limit, lane key prefix. Returns the lanes that got work.
export const PROMOTE_TIMERS = new RedisScript(`
local keys = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local lanes = {}
for _, key in ipairs(keys) do
  local stored = redis.call('HGET', KEYS[2], key)
  redis.call('ZREM', KEYS[1], key)
  redis.call('HDEL', KEYS[2], key)
  if stored then
    -- '\\n' in this JS template literal: Lua must receive the escape, a raw newline would end the string.
    local nl = string.find(stored, '\\n', 1, true)
    if nl then
      local lane = string.sub(stored, 1, nl - 1)
      redis.call('RPUSH', ARGV[3] .. lane, string.sub(stored, nl + 1))
      redis.call('ZADD', KEYS[3], 'NX', ARGV[1], lane)
      redis.call('INCR', KEYS[4])
      table.insert(lanes, lane)
    end
  end
end
return lanes
`);
