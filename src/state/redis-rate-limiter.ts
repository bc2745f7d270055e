import {
  type CallPriority,
  fitsBurst,
  type GcraParams,
  gcraParams,
  paramsFor,
  sleep,
  type RateLimiter,
} from '../core/rate-limiter';
import { RedisScript, type ScriptRedisClient } from './redis-scripts';

// GCRA on the Redis clock (TIME), so instances with skewed clocks share one schedule.
// KEYS: tat key. ARGV: interval ms, burst ms, take (1/0), slots (all must be free now). Returns the wait in ms when
// the request must wait; else allowed (and taken if asked): minus the burst still free after it, in ms (0 when none
// is left).
const GCRA = new RedisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local slots = tonumber(ARGV[4] or '1')
local wait = tat + (slots - 1) * interval - now - burst
if wait > 0 then return math.ceil(wait) end
if ARGV[3] == '1' then
  tat = tat + slots * interval
  redis.call('SET', KEYS[1], tostring(tat), 'PX', math.ceil(burst + interval * 2))
end
return -math.max(0, math.floor(burst - (tat - now)))
`);

/** How long an observation of the free burst counts for `delay()`, and how long slots taken ahead may be used. */
const HINT_MS = 1_000;

/**
 * At most this many slots are taken ahead of use, with a call's own, while the limit is far (from the half of the
 * burst seen free beyond half): a process carrying a call every 100 ms asks Redis once per 9 calls.
 */
const AHEAD = 8;

/** The vendor's request limit shared by every bridge instance on one Redis (one key per vendor). */
export class RedisRateLimiter implements RateLimiter {
  private readonly params: GcraParams;
  /** The free burst (ms of schedule) the last step saw (at high priority), and when. */
  private lastSeen = { freeMs: 0, atMs: -Infinity };
  /**
   * Slots this process took from the shared schedule ahead of use, and until when it may use them: while the limit
   * is far, a step takes a few more slots than the call needs, from the half of the burst the last step saw free,
   * and the next calls use them without a Redis round trip. They are on the shared schedule like any other, so
   * every instance together still never exceeds the limit; one not used within a second is given up (a slot of a
   * limit that is far away). Near the limit (less than half the burst free) every call asks Redis, as before.
   */
  private spare = { slots: 0, untilMs: 0 };
  /** A step taking slots ahead is on its way: the calls meanwhile take their own only (one batch ahead at most). */
  private aheadPending = false;

  constructor(
    private readonly client: () => Promise<ScriptRedisClient>,
    private readonly key: string,
    requestsPerMinute: number,
  ) {
    this.params = gcraParams(requestsPerMinute);
  }

  async acquire(slots = 1, priority: CallPriority = 'high'): Promise<number> {
    if (this.takeSpare(slots)) return 0;
    const params = paramsFor(this.params, priority);
    if (slots > 1 && !fitsBurst(slots, params)) {
      let waited = 0;
      for (let i = 0; i < slots; i++) waited += await this.acquire(1, priority);
      return waited;
    }
    let waited = 0;
    let ahead = this.aheadFor(slots);
    for (;;) {
      if (ahead > 0) this.aheadPending = true;
      const wait = await this.step(true, params, slots + ahead).finally(() => {
        if (ahead > 0) this.aheadPending = false;
      });
      if (wait === 0) {
        if (ahead > 0) this.spare = { slots: ahead, untilMs: Date.now() + HINT_MS };
        return waited;
      }
      if (ahead > 0) {
        // Other instances took the room meanwhile: the call's own slots only, at once.
        ahead = 0;
        continue;
      }
      waited += wait;
      await sleep(wait);
    }
  }

  /** Uses slots taken ahead, when there are enough still valid. */
  private takeSpare(slots: number): boolean {
    if (this.spare.slots < slots || Date.now() >= this.spare.untilMs) return false;
    this.spare.slots -= slots;
    return true;
  }

  /** How many slots to take ahead with a call's own `slots`: only from the half of the burst seen free beyond half. */
  private aheadFor(slots: number): number {
    const { freeMs, atMs } = this.lastSeen;
    if (Date.now() - atMs >= HINT_MS || this.params.burstMs <= 0 || this.aheadPending) return 0;
    if (this.spare.slots > 0 && Date.now() < this.spare.untilMs) return 0;
    const room = Math.floor((freeMs - this.params.burstMs / 2) / this.params.intervalMs) - slots;
    return Math.max(0, Math.min(AHEAD, room));
  }

  /**
   * Answered without Redis while a step less than a second ago saw at least half the burst free: the limit is
   * far away, and whatever all instances take within a second cannot use that up unless they run near the limit,
   * when steps see little free and this asks Redis again. `delay()` only decides whether to wait and coalesce;
   * `acquire()` asks Redis unless it has slots taken ahead (already on the shared schedule), so a stale answer here
   * never costs a 429 (one Redis call per message saved). A slot taken ahead and still valid answers 0 here.
   */
  delay(priority: CallPriority = 'high'): Promise<number> {
    if (this.spare.slots > 0 && Date.now() < this.spare.untilMs) return Promise.resolve(0);
    const { freeMs, atMs } = this.lastSeen;
    if (Date.now() - atMs < HINT_MS && freeMs * 2 >= this.params.burstMs && this.params.burstMs > 0) {
      return Promise.resolve(0);
    }
    return this.step(false, paramsFor(this.params, priority));
  }

  private async step(take: boolean, params: GcraParams, slots = 1): Promise<number> {
    const result = Number(
      await GCRA.run(
        await this.client(),
        [this.key],
        [params.intervalMs, params.burstMs, take ? 1 : 0, slots],
      ),
    );
    // What is free of the whole burst (the reserve included), whatever the priority asked.
    const reserveMs = this.params.burstMs - params.burstMs;
    if (result > 0) {
      this.lastSeen = { freeMs: 0, atMs: Date.now() };
      return result;
    }
    this.lastSeen = { freeMs: -result + reserveMs, atMs: Date.now() };
    return 0;
  }
}
