import { randomUUID } from 'node:crypto';
import type { DeadLetter, LaneLease, QueuedWork, WorkItem, WorkQueue } from '../core/work/queue';
import { storeCall } from './store-errors';
import { RedisScript, type ScriptRedisClient } from './redis-scripts';
import { decodeDeadLetter, decodeEntry, encodeEntry, type Decoded } from './work-codec';

/** The Redis commands the queue uses besides its scripts (node-redis v5). */
export interface QueueRedisClient extends ScriptRedisClient {
  zRangeByScore(
    key: string,
    min: number | string,
    max: number | string,
    options?: { LIMIT: { offset: number; count: number } },
  ): Promise<string[]>;
  lRange(key: string, start: number, stop: number): Promise<string[]>;
  hGet(key: string, field: string): Promise<string | null | undefined>;
  zRange(key: string, start: number, stop: number): Promise<string[]>;
  hmGet(key: string, fields: string[]): Promise<Array<string | null>>;
  zCard(key: string): Promise<number>;
  hLen(key: string): Promise<number>;
  get(key: string): Promise<string | null>;
}

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
// lease ms, entry id. Returns {due, 1 when the lease was taken with the entry as the lane's head}: only when the
// lane was empty, is due now, and no one holds it.
const ENQUEUE = new RedisScript(`
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
return {due, taken}
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
const PEEK = new RedisScript(`${PEEK_FN}
return peek(KEYS[1], KEYS[2], ARGV[1], ARGV[2])`);

// The lane's lease: the key the lane lock of earlier versions used (`lock:lane:<lane>`), so an instance of an
// earlier version, which takes the lane with that lock, and this one exclude each other during a rolling update.
// KEYS: lane list, claims hash, lease key. ARGV: lane, max, lease token, lease ms.
// Returns {-1} when another holder has the lane; else takes (or renews) the lease and peeks like PEEK.
const TAKE = new RedisScript(`${PEEK_FN}${TAKE_LEASE_FN}
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
const ACK = new RedisScript(`${HEAD_IS}local FIRST_ID = 3
${ACK_BODY}
return left`);

// ACK, then, when items are left, TAKE of the next head for the same lease: one round trip between two items of a
// busy lane instead of two. KEYS as ACK. ARGV: lane, lease token, max, lease ms, ids...
// Returns {left} when the lane is empty; {left, -1} when another holder has it; else {left, again, entries...}.
const ACK_TAKE = new RedisScript(`${HEAD_IS}${PEEK_FN}${TAKE_LEASE_FN}local FIRST_ID = 5
${ACK_BODY}
if left == 0 then return {0} end
if not take_lease(KEYS[5], ARGV[2], ARGV[4]) then return {left, -1} end
local peeked = peek(KEYS[1], KEYS[4], ARGV[1], ARGV[3])
table.insert(peeked, 1, left)
return peeked`);

// KEYS: lease key. ARGV: token, lease ms (0: give the lease up). Returns 1 when the lease was (still) this holder's.
const LEASE = new RedisScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '0' then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`);

// KEYS: lane list, due zset. ARGV: head id, new entry, lane, retry at.
const RETRY = new RedisScript(`${HEAD_IS}
if not head_is(KEYS[1], ARGV[1]) then return 0 end
redis.call('LSET', KEYS[1], 0, ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
return 1
`);

// KEYS: lane list, due zset, count, dlq hash, dlq order zset, claims hash.
// ARGV: head id, letter id, letter, at ms, lane, now.
const DEAD_LETTER = new RedisScript(`${HEAD_IS}
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
const REPLAY = new RedisScript(`
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('RPUSH', KEYS[3], ARGV[2])
redis.call('ZADD', KEYS[4], 'NX', ARGV[4], ARGV[3])
redis.call('INCR', KEYS[5])
return 1
`);

// KEYS: dlq hash, dlq order. ARGV: letter id.
const DROP = new RedisScript(`
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`);

// KEYS: timers zset, timer items hash. ARGV: key, timer json, at.
const SCHEDULE = new RedisScript(`
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
`);

// KEYS: timers zset, timer items hash. ARGV: key.
const CANCEL = new RedisScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`);

// Moves the due timers into their lanes, atomically: one instance gets each, and none is lost in between.
// Each timer is stored as "<lane>\n<entry>". KEYS: timers zset, items hash, due zset, count.
// ARGV: now, limit, lane key prefix. Returns the lanes that got work.
const PROMOTE_TIMERS = new RedisScript(`
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

/**
 * The work queue on Redis, shared by every instance: one list per lane (`<prefix>q:lane:<lane>`), a sorted set
 * of lanes by the time they are due (`q:due`: now, or later while the lane's head waits for a retry), a counter,
 * and the dead-letter hash with its order (`dlq`, `dlq:order`). Each change is one Lua script, so it is atomic:
 * an item is never both acknowledged and dead-lettered, and a lane never leaves `q:due` while it has items.
 * Durability is Redis's: with AOF (`appendonly yes`) an acknowledged enqueue survives a Redis restart.
 */
export class RedisWorkQueue implements WorkQueue {
  private readonly dueKey: string;
  private readonly countKey: string;
  private readonly dlqKey: string;
  private readonly dlqOrderKey: string;
  private readonly timersKey: string;
  private readonly timerItemsKey: string;
  private readonly claimsKey: string;

  constructor(
    private readonly client: () => Promise<QueueRedisClient>,
    private readonly prefix: string,
  ) {
    this.dueKey = `${prefix}q:due`;
    this.countKey = `${prefix}q:count`;
    this.dlqKey = `${prefix}dlq`;
    this.dlqOrderKey = `${prefix}dlq:order`;
    this.timersKey = `${prefix}timers`;
    this.timerItemsKey = `${prefix}timers:items`;
    this.claimsKey = `${prefix}q:claims`;
  }

  async enqueue(
    lane: string,
    item: WorkItem,
    lease?: LaneLease,
  ): Promise<{ work: QueuedWork; dueAtMs: number; taken?: QueuedWork[] }> {
    const work: QueuedWork = {
      id: randomUUID(),
      lane,
      item,
      attempts: 0,
      enqueuedAt: new Date().toISOString(),
    };
    const now = Date.now();
    const [due, taken] = (await ENQUEUE.run(
      await this.client(),
      [this.laneKey(lane), this.dueKey, this.countKey, this.claimsKey, this.leaseKey(lane)],
      [encodeEntry(work), lane, now, lease?.token ?? '', lease?.ttlMs ?? 0, work.id],
    )) as [string | null, number];
    const dueAtMs = Number(due ?? now);
    return Number(taken) === 1 ? { work, dueAtMs, taken: [work] } : { work, dueAtMs };
  }

  async dueLanes(nowMs: number, limit: number): Promise<string[]> {
    const redis = await this.client();
    return storeCall(() =>
      redis.zRangeByScore(this.dueKey, '-inf', nowMs, { LIMIT: { offset: 0, count: limit } }),
    );
  }

  async peek(lane: string, max: number): Promise<Decoded[]> {
    const reply = (await PEEK.run(
      await this.client(),
      [this.laneKey(lane), this.claimsKey],
      [lane, max],
    )) as [number, ...string[]];
    return peeked(reply);
  }

  async take(lane: string, max: number, lease: LaneLease): Promise<Decoded[] | 'held'> {
    const reply = (await TAKE.run(
      await this.client(),
      [this.laneKey(lane), this.claimsKey, this.leaseKey(lane)],
      [lane, max, lease.token, lease.ttlMs],
    )) as [number, ...string[]];
    return Number(reply[0]) === -1 ? 'held' : peeked(reply);
  }

  async renew(lane: string, lease: LaneLease): Promise<boolean> {
    const mine = await LEASE.run(await this.client(), [this.leaseKey(lane)], [lease.token, lease.ttlMs]);
    return Number(mine) === 1;
  }

  async release(lane: string, lease: LaneLease): Promise<void> {
    await LEASE.run(await this.client(), [this.leaseKey(lane)], [lease.token, 0]);
  }

  async ackAndTake(
    lane: string,
    ids: string[],
    lease: LaneLease,
    max: number,
  ): Promise<{ left: number; next?: Decoded[] | 'held' }> {
    const [left, ...rest] = (await ACK_TAKE.run(
      await this.client(),
      [this.laneKey(lane), this.dueKey, this.countKey, this.claimsKey, this.leaseKey(lane)],
      [lane, lease.token, max, lease.ttlMs, ...ids],
    )) as [number, ...Array<number | string>];
    if (Number(left) === 0) return { left: 0 };
    if (Number(rest[0]) === -1) return { left: Number(left), next: 'held' };
    return { left: Number(left), next: peeked(rest as [number, ...string[]]) };
  }

  async ack(lane: string, ids: string[], lease?: LaneLease): Promise<number> {
    const left = await ACK.run(
      await this.client(),
      [this.laneKey(lane), this.dueKey, this.countKey, this.claimsKey, this.leaseKey(lane)],
      [lane, lease?.token ?? '', ...ids],
    );
    return Number(left);
  }

  async retryLater(lane: string, head: QueuedWork, retryAtMs: number): Promise<void> {
    await RETRY.run(
      await this.client(),
      [this.laneKey(lane), this.dueKey],
      [head.id, encodeEntry(head), lane, retryAtMs],
    );
  }

  async deadLetter(lane: string, headId: string, letter: DeadLetter): Promise<void> {
    await DEAD_LETTER.run(
      await this.client(),
      [this.laneKey(lane), this.dueKey, this.countKey, this.dlqKey, this.dlqOrderKey, this.claimsKey],
      [headId, letter.id, JSON.stringify(letter), Date.parse(letter.at) || Date.now(), lane, Date.now()],
    );
  }

  async deadLetters(limit = 1000): Promise<DeadLetter[]> {
    const redis = await this.client();
    const ids = await storeCall(() => redis.zRange(this.dlqOrderKey, 0, limit - 1));
    if (ids.length === 0) return [];
    const values = await storeCall(() => redis.hmGet(this.dlqKey, ids));
    return values.flatMap((json, i) => {
      if (!json) return [];
      return [
        decodeDeadLetter(json) ?? {
          // Kept visible (and droppable) even when it cannot be read back.
          id: ids[i]!,
          work: { id: ids[i]!, lane: '?', item: unreadableItem(), attempts: 0, enqueuedAt: '' },
          code: 'UNREADABLE_DEAD_LETTER',
          reason: 'the stored dead letter could not be read',
          at: '',
        },
      ];
    });
  }

  async replay(deadLetterId: string): Promise<boolean> {
    const redis = await this.client();
    const json = await storeCall(() => redis.hGet(this.dlqKey, deadLetterId));
    const letter = json ? decodeDeadLetter(json) : undefined;
    if (!letter) return false;
    const work: QueuedWork = {
      id: randomUUID(),
      lane: letter.work.lane,
      item: letter.work.item,
      attempts: 0,
      enqueuedAt: new Date().toISOString(),
    };
    const done = await REPLAY.run(
      redis,
      [this.dlqKey, this.dlqOrderKey, this.laneKey(work.lane), this.dueKey, this.countKey],
      [deadLetterId, encodeEntry(work), work.lane, Date.now()],
    );
    return Number(done) === 1;
  }

  async drop(deadLetterId: string): Promise<boolean> {
    const done = await DROP.run(await this.client(), [this.dlqKey, this.dlqOrderKey], [deadLetterId]);
    return Number(done) === 1;
  }

  async schedule(key: string, lane: string, item: WorkItem, atMs: number): Promise<void> {
    const work: QueuedWork = {
      id: randomUUID(),
      lane,
      item,
      attempts: 0,
      enqueuedAt: new Date(atMs).toISOString(),
    };
    await SCHEDULE.run(
      await this.client(),
      [this.timersKey, this.timerItemsKey],
      [key, `${lane}\n${encodeEntry(work)}`, Math.round(atMs)],
    );
  }

  async cancel(key: string): Promise<void> {
    await CANCEL.run(await this.client(), [this.timersKey, this.timerItemsKey], [key]);
  }

  async promoteTimers(nowMs: number, limit: number): Promise<string[]> {
    return (await PROMOTE_TIMERS.run(
      await this.client(),
      [this.timersKey, this.timerItemsKey, this.dueKey, this.countKey],
      [Math.round(nowMs), limit, this.laneKey('')],
    )) as string[];
  }

  async depth(): Promise<{ queued: number; lanes: number; deadLetters: number }> {
    const redis = await this.client();
    const [count, lanes, deadLetters] = await storeCall(() =>
      Promise.all([redis.get(this.countKey), redis.zCard(this.dueKey), redis.hLen(this.dlqKey)]),
    );
    return { queued: Math.max(0, Number(count ?? 0)), lanes, deadLetters };
  }

  private laneKey(lane: string): string {
    return `${this.prefix}q:lane:${lane}`;
  }

  private leaseKey(lane: string): string {
    return `${this.prefix}lock:lane:${lane}`;
  }
}

/** A PEEK/TAKE reply (`{again, entries...}`) as items, the head marked when it was handed out before. */
function peeked([again, ...entries]: [number, ...string[]]): Decoded[] {
  const items = entries.map(decodeEntry);
  const head = items[0];
  if (head && !('unreadable' in head) && Number(again) === 1) head.redelivered = true;
  return items;
}

function unreadableItem(): WorkItem {
  return { kind: 'delivery-failure', customerKey: '?', messageId: '?', code: '?', reason: 'unreadable' };
}
