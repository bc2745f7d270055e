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

/** How long an observation of the free burst counts for `delay()`. */
const HINT_MS = 1_000;

/** The vendor's request limit shared by every bridge instance on one Redis (one key per vendor). */
export class RedisRateLimiter implements RateLimiter {
  private readonly params: GcraParams;
  /** The free burst (ms of schedule) the last step saw (at high priority), and when. */
  private lastSeen = { freeMs: 0, atMs: -Infinity };

  constructor(
    private readonly client: () => Promise<ScriptRedisClient>,
    private readonly key: string,
    requestsPerMinute: number,
  ) {
    this.params = gcraParams(requestsPerMinute);
  }

  async acquire(slots = 1, priority: CallPriority = 'high'): Promise<number> {
    const params = paramsFor(this.params, priority);
    if (slots > 1 && !fitsBurst(slots, params)) {
      let waited = 0;
      for (let i = 0; i < slots; i++) waited += await this.acquire(1, priority);
      return waited;
    }
    let waited = 0;
    for (;;) {
      const wait = await this.step(true, params, slots);
      if (wait === 0) return waited;
      waited += wait;
      await sleep(wait);
    }
  }

  /**
   * Answered without Redis while a step less than a second ago saw at least half the burst free: the limit is
   * far away, and whatever all instances take within a second cannot use that up unless they run near the limit,
   * when steps see little free and this asks Redis again. `delay()` only decides whether to wait and coalesce;
   * `acquire()` always asks Redis, so a stale answer here never costs a 429 (one Redis call per message saved).
   */
  delay(priority: CallPriority = 'high'): Promise<number> {
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
