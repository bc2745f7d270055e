import { gcraParams, gcraStep, MemoryRateLimiter } from '../../src/core/rate-limiter';
import { createState } from '../../src/state/create-store';
import { captureLogs } from '../helpers/log-capture';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';
import { describeWithRedis } from '../helpers/requirements';

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

  it('keeps a quarter of the burst for high-priority calls: ticket opens pass comments that wait', async () => {
    let now = 0;
    const limiter = new MemoryRateLimiter(600, () => now); // burst 30, a reserve of 7 for high priority
    let normal = 0;
    while ((await limiter.delay('normal')) === 0) {
      await limiter.acquire(1, 'normal');
      normal++;
    }
    expect(normal).toBe(23);
    // Comments must wait now; an open does not, for the reserve's 7 slots.
    expect(await limiter.delay('normal')).toBeGreaterThan(0);
    for (let i = 0; i < 7; i++) expect(await limiter.acquire(1, 'high')).toBe(0);
    expect(await limiter.delay('high')).toBeGreaterThan(0);
    // Over a minute the two together never take more than the limit.
    now += 60_000;
    expect(await limiter.delay('normal')).toBe(0);
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

describeWithRedis('GCRA limiter on Redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  }, 20_000);
  afterAll(async () => {
    await redis.stop();
  });

  it('keeps the reserve for high-priority calls under a saturated limit (shared by every instance)', async () => {
    const a = createState(redis.url, captureLogs().logger);
    const b = createState(redis.url, captureLogs().logger);
    try {
      const comments = a.limiter('priority', 600); // burst 30, a reserve of 7
      const opens = b.limiter('priority', 600);
      let normal = 0;
      const started = Date.now();
      while ((await comments.delay('normal')) === 0 && normal < 100) {
        await comments.acquire(1, 'normal');
        normal++;
      }
      // 23 of the burst, plus what refilled while the loop ran on a loaded machine.
      const refilled = Math.ceil((Date.now() - started) / gcraParams(600).intervalMs) + 1;
      expect(normal).toBeGreaterThanOrEqual(23);
      expect(normal).toBeLessThanOrEqual(23 + refilled);
      // The other instance's opens take the reserve without waiting.
      for (let i = 0; i < 7; i++) expect(await opens.acquire(1, 'high')).toBe(0);
      expect(await comments.delay('normal')).toBeGreaterThan(0);
    } finally {
      await a.store.close();
      await b.store.close();
    }
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

  it('takes a few slots ahead while the limit is far: one Redis step for five calls, on the shared schedule', async () => {
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
    const a = createState(redis.url, captureLogs().logger);
    const b = createState(redis.url, captureLogs().logger);
    try {
      const limiter = a.limiter('ahead', 600); // a burst of 30
      expect(await limiter.acquire(1, 'normal')).toBe(0); // no observation yet: asks Redis for its own slot
      const before = await scripts();
      for (let i = 0; i < 5; i++) expect(await limiter.acquire(1, 'normal')).toBe(0);
      expect((await scripts()) - before).toBe(1);
      // The other instance sees the slots taken: 1, then 1 with 8 ahead (4 of them still unused, reserved all the
      // same): 20 of the burst are left for it (plus what refilled).
      const other = b.limiter('ahead', 600);
      let free = 0;
      const started = Date.now();
      while ((await other.delay()) === 0 && free < 100) {
        await other.acquire();
        free++;
      }
      const refilled = Math.ceil((Date.now() - started) / gcraParams(600).intervalMs) + 1;
      expect(free).toBeGreaterThanOrEqual(20);
      expect(free).toBeLessThanOrEqual(20 + refilled);
    } finally {
      await a.store.close();
      await b.store.close();
      await admin.close();
    }
  });

  it('takes one batch ahead at most: calls at once do not each reserve slots they will not use', async () => {
    const a = createState(redis.url, captureLogs().logger);
    const b = createState(redis.url, captureLogs().logger);
    try {
      const limiter = a.limiter('at-once', 600); // a burst of 30
      await limiter.acquire();
      await Promise.all(Array.from({ length: 8 }, () => limiter.acquire()));
      // 1 + 8 calls and one batch of 8 ahead at most: 13 of the burst are left for the other instance (each of the 8
      // taking its own batch would leave it none).
      const other = b.limiter('at-once', 600);
      let free = 0;
      const started = Date.now();
      while ((await other.delay()) === 0 && free < 100) {
        await other.acquire();
        free++;
      }
      const refilled = Math.ceil((Date.now() - started) / gcraParams(600).intervalMs) + 1;
      expect(free).toBeGreaterThanOrEqual(13);
      expect(free).toBeLessThanOrEqual(13 + refilled);
    } finally {
      await a.store.close();
      await b.store.close();
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
