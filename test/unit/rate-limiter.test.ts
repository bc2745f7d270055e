import { gcraParams, gcraStep, MemoryRateLimiter } from '../../src/core/rate-limiter';
import { rateLimited } from '../../src/core/rate-limited-adapter';
import type { HelpdeskAdapter } from '../../src/adapters/adapter';
import { createState } from '../../src/state/create-store';
import { captureLogs } from '../helpers/log-capture';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';

/** Simulates a caller that sends as fast as the limiter lets it, and returns the send times. */
function simulate(requestsPerMinute: number, durationMs: number): number[] {
  const params = gcraParams(requestsPerMinute);
  const times: number[] = [];
  let tat: number | undefined;
  let now = 0;
  while (now < durationMs) {
    const step = gcraStep(tat, now, params);
    if (step.waitMs === 0) {
      tat = step.tat;
      times.push(now);
    } else now += step.waitMs;
  }
  return times;
}

describe('GCRA limiter', () => {
  it.each([700, 200, 60, 10_000])(
    'never puts more than %i requests in any 60-second window, and comes close',
    (rpm) => {
      const times = simulate(rpm, 180_000);
      let worst = 0;
      for (let i = 0, j = 0; i < times.length; i++) {
        while (times[i]! - times[j]! >= 60_000) j++;
        worst = Math.max(worst, i - j + 1);
      }
      expect(worst).toBeLessThanOrEqual(rpm);
      expect(worst).toBeGreaterThanOrEqual(rpm * 0.9);
    },
  );

  it('allows a burst, then spaces requests', async () => {
    let now = 0;
    const limiter = new MemoryRateLimiter(600, () => now); // burst 30, then ~1 per 105 ms
    for (let i = 0; i < 30; i++) expect(await limiter.acquire()).toBe(0);
    expect(await limiter.delay()).toBeGreaterThan(0);
    now += 60_000;
    expect(await limiter.delay()).toBe(0);
  });

  it('makes every adapter method take a slot, and leaves properties and the webhook alone', async () => {
    const calls: string[] = [];
    const webhook = { verify: () => ({ ok: true as const }), parse: () => [] };
    const adapter = {
      name: 'x',
      limits: { requestsPerMinute: 1 },
      webhook,
      openTicket: async () => (calls.push('open'), { vendor: 'x', id: '1' }),
      appendCustomerMessage: async () => void calls.push('append'),
      closeTicket: async () => void calls.push('close'),
      somethingNew: async (n: number) => (calls.push(`new ${n}`), n * 2),
    } as HelpdeskAdapter & { somethingNew(n: number): Promise<number> };
    const limiter = { acquire: jest.fn(async () => 5), delay: async () => 0 };
    const waits: number[] = [];
    const limited = rateLimited(adapter, limiter, (ms) => waits.push(ms)) as typeof adapter;
    expect(limited.name).toBe('x');
    expect(limited.webhook).toBe(webhook);
    await limited.openTicket({} as never, 'k');
    expect(await limited.somethingNew(21)).toBe(42);
    expect(calls).toEqual(['open', 'new 21']);
    expect(limiter.acquire).toHaveBeenCalledTimes(2);
    expect(waits).toEqual([5, 5]);
  });

  it('takes one slot per API call of a method that declares several (limits.callsPerMethod), at once', async () => {
    const adapter = {
      name: 'x',
      limits: { requestsPerMinute: 1, callsPerMethod: { openTicket: 2 } },
      openTicket: async () => ({ vendor: 'x', id: '1' }),
      appendCustomerMessage: async () => {},
      closeTicket: async () => {},
    } as HelpdeskAdapter;
    const limiter = { acquire: jest.fn(async (_slots?: number) => 3), delay: async () => 0 };
    const waits: number[] = [];
    const limited = rateLimited(adapter, limiter, (ms) => waits.push(ms));
    await limited.openTicket({} as never, 'k');
    expect(limiter.acquire.mock.calls).toEqual([[2]]);
    await limited.appendCustomerMessage({ vendor: 'x', id: '1' }, { id: 'm', text: 't', at: '' }, 'k');
    expect(limiter.acquire.mock.calls).toEqual([[2], [1]]);
    expect(waits).toEqual([3, 3]);
  });
});

describe('GCRA limiter: several slots at once', () => {
  it('takes them only when all are free: the burst holds as many slots, taken in pairs or one by one', () => {
    const params = gcraParams(600); // a burst of 30
    let tat: number | undefined;
    let pairs = 0;
    for (;;) {
      const step = gcraStep(tat, 0, params, 2);
      if (step.waitMs > 0) break;
      tat = step.tat;
      pairs++;
    }
    expect(pairs).toBe(15);
    // With 29 slots used, one more fits and two do not.
    const used29 = 29 * params.intervalMs;
    expect(gcraStep(used29, 0, params, 1).waitMs).toBe(0);
    expect(gcraStep(used29, 0, params, 2).waitMs).toBe(params.intervalMs);
  });

  it('takes slots one by one when the burst cannot hold them together', async () => {
    const limiter = new MemoryRateLimiter(20); // a burst of 1, 3.2 s apart
    const started = Date.now();
    // Must not wait forever: 2 slots never fit a burst of 1 at once.
    const waited = await Promise.race([
      limiter.acquire(2),
      new Promise<number>((resolve) => setTimeout(() => resolve(-1), 10_000)),
    ]);
    expect(waited).toBeGreaterThan(0);
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 15_000);
});

describe('GCRA limiter on Redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  }, 20_000);
  afterAll(async () => {
    await redis.stop();
  });

  it('is one limit for every instance', async () => {
    const a = createState(redis.url, captureLogs().logger);
    const b = createState(redis.url, captureLogs().logger);
    try {
      const la = a.limiter('zendesk', 600);
      const lb = b.limiter('zendesk', 600);
      // Burst of 30 shared: the two instances together get 30 slots at once, not 60.
      const waits = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? la : lb).delay()));
      expect(waits.every((w) => w === 0)).toBe(true);
      let free = 0;
      const started = Date.now();
      for (let i = 0; i < 80; i++) {
        const limiter = i % 2 ? la : lb;
        if ((await limiter.delay()) === 0) {
          await limiter.acquire();
          free++;
        }
      }
      // The shared burst (30), plus what refilled while the loop ran (a loaded machine runs it slowly). Two separate
      // limits would give 60 and more.
      const refilled = Math.ceil((Date.now() - started) / gcraParams(600).intervalMs) + 1;
      expect(free).toBeGreaterThanOrEqual(30);
      expect(free).toBeLessThanOrEqual(30 + refilled);
      expect(await a.limiter('intercom', 600).delay()).toBe(0); // another vendor, another limit
    } finally {
      await a.store.close();
      await b.store.close();
    }
  });

  it('answers delay() without Redis while the limit is far, and asks Redis again near it', async () => {
    const { createClient } = await import('@keyv/redis');
    const admin = createClient({ url: redis.url });
    await admin.connect();
    const scripts = async (): Promise<number> => {
      const info = await admin.info('commandstats');
      return [...info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)].reduce(
        (n, m) => n + Number(m[1]),
        0,
      );
    };
    const state = createState(redis.url, captureLogs().logger);
    try {
      const limiter = state.limiter('hinted', 600); // a burst of 30
      await limiter.acquire();
      const before = await scripts();
      for (let i = 0; i < 10; i++) expect(await limiter.delay()).toBe(0);
      expect((await scripts()) - before).toBe(0);
      // Use the burst up and then some (the last acquires wait for their slot): delay() has to ask Redis again, and
      // reports the wait for the next slot.
      for (let i = 0; i < 34; i++) await limiter.acquire();
      const near = await scripts();
      expect(await limiter.delay()).toBeGreaterThan(0);
      expect((await scripts()) - near).toBe(1);
    } finally {
      await state.store.close();
      await admin.close();
    }
  });

  it('takes several slots in one step on Redis too', async () => {
    const state = createState(redis.url, captureLogs().logger);
    try {
      const limiter = state.limiter('pairs', 120); // a burst of 6, 527 ms apart
      for (let i = 0; i < 3; i++) expect(await limiter.acquire(2)).toBe(0);
      expect(await limiter.delay()).toBeGreaterThan(0);
    } finally {
      await state.store.close();
    }
  });
});
