/**
 * Keeps the bridge under a vendor's request limit instead of bouncing off it (429s). Shared by every instance
 * on Redis (`src/state/redis-rate-limiter.ts`), per process in memory.
 */
export interface RateLimiter {
  /**
   * Takes `slots` request slots (default 1) at once, waiting until all are free when needed. Resolves with how long
   * it waited (ms).
   */
  acquire(slots?: number): Promise<number>;
  /** How long a request would have to wait right now (ms), without taking a slot. */
  delay(): Promise<number>;
}

/**
 * GCRA ("generic cell rate algorithm", a leaky bucket in one number) parameters for a per-minute limit:
 * requests are spaced `intervalMs` apart on average, with a burst of up to `burst` requests at once. The rate is
 * set so that any 60-second window holds at most `requestsPerMinute` requests, burst included, because vendors
 * count in windows (Zendesk: per minute).
 */
export function gcraParams(requestsPerMinute: number): { intervalMs: number; burstMs: number } {
  const burst = Math.max(1, Math.floor(requestsPerMinute / 20));
  const sustained = Math.max(1, requestsPerMinute - burst);
  // Whole milliseconds (rounded up, so never faster than allowed): Redis keeps the schedule as a number.
  const intervalMs = Math.ceil(60_000 / sustained);
  return { intervalMs, burstMs: (burst - 1) * intervalMs };
}

/**
 * One GCRA step. `tat` is the theoretical arrival time of the next request. Returns how long the caller must wait
 * (0: allowed now) and the new `tat` when it was allowed.
 */
export function gcraStep(
  tat: number | undefined,
  nowMs: number,
  params: { intervalMs: number; burstMs: number },
  slots = 1,
): { waitMs: number; tat?: number } {
  const start = Math.max(tat ?? nowMs, nowMs);
  // Every slot taken must be allowed now: the last one is the latest.
  const waitMs = start + (slots - 1) * params.intervalMs - nowMs - params.burstMs;
  if (waitMs > 0) return { waitMs: Math.ceil(waitMs) };
  return { waitMs: 0, tat: start + slots * params.intervalMs };
}

/** Whether `slots` can ever be taken at once (the burst holds them); otherwise they are taken one by one. */
export function fitsBurst(slots: number, params: { intervalMs: number; burstMs: number }): boolean {
  return (slots - 1) * params.intervalMs <= params.burstMs;
}

/** GCRA in this process. */
export class MemoryRateLimiter implements RateLimiter {
  private tat?: number;
  private readonly params: { intervalMs: number; burstMs: number };

  constructor(
    requestsPerMinute: number,
    private readonly now: () => number = Date.now,
  ) {
    this.params = gcraParams(requestsPerMinute);
  }

  async acquire(slots = 1): Promise<number> {
    if (slots > 1 && !fitsBurst(slots, this.params)) {
      let waited = 0;
      for (let i = 0; i < slots; i++) waited += await this.acquire(1);
      return waited;
    }
    let waited = 0;
    for (;;) {
      const step = gcraStep(this.tat, this.now(), this.params, slots);
      if (step.waitMs === 0) {
        this.tat = step.tat;
        return waited;
      }
      waited += step.waitMs;
      await sleep(step.waitMs);
    }
  }

  async delay(): Promise<number> {
    return gcraStep(this.tat, this.now(), this.params).waitMs;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
