import { gcraParams, sleep, type RateLimiter } from '../core/rate-limiter';
import { RedisScript, type ScriptRedisClient } from './redis-scripts';

// GCRA on the Redis clock (TIME), so instances with skewed clocks share one schedule.
// KEYS: tat key. ARGV: interval ms, burst ms, take (1/0). Returns the wait in ms (0: allowed, and taken if asked).
const GCRA = new RedisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - now - burst
if wait > 0 then return math.ceil(wait) end
if ARGV[3] == '1' then
  redis.call('SET', KEYS[1], tostring(tat + interval), 'PX', math.ceil(burst + interval * 2))
end
return 0
`);

/** The vendor's request limit shared by every bridge instance on one Redis (one key per vendor). */
export class RedisRateLimiter implements RateLimiter {
  private readonly params: { intervalMs: number; burstMs: number };

  constructor(
    private readonly client: () => Promise<ScriptRedisClient>,
    private readonly key: string,
    requestsPerMinute: number,
  ) {
    this.params = gcraParams(requestsPerMinute);
  }

  async acquire(): Promise<number> {
    let waited = 0;
    for (;;) {
      const wait = await this.step(true);
      if (wait === 0) return waited;
      waited += wait;
      await sleep(wait);
    }
  }

  delay(): Promise<number> {
    return this.step(false);
  }

  private async step(take: boolean): Promise<number> {
    const wait = await GCRA.run(
      await this.client(),
      [this.key],
      [this.params.intervalMs, this.params.burstMs, take ? 1 : 0],
    );
    return Number(wait);
  }
}
