/**
 * Keeps the bridge under a vendor's request limit instead of bouncing off it (429s). Shared by every instance
 * on Redis (`src/state/redis-rate-limiter.ts`), per process in memory.
 */
export interface RateLimiter {
  /**
   * Takes `slots` request slots (default 1) at once, waiting until all are free when needed. Resolves with how long
   * it waited (ms). `priority` (default `high`): see `CallPriority`.
   */
  acquire(slots?: number, priority?: CallPriority): Promise<number>;
  /** How long a request of `priority` would have to wait right now (ms), without taking a slot. */
  delay(priority?: CallPriority): Promise<number>;
}

/**
 * `high`: a call a customer is waiting on with nothing yet (opening a ticket); it may use the whole burst.
 * `normal`: everything else (comments, notes, uploads); it leaves a quarter of the burst to `high` calls, so under a
 * saturated limit a new customer's ticket opens at once instead of waiting behind existing conversations' comments
 * (which coalesce meanwhile). The sustained rate is the same for both.
 */
export type CallPriority = 'high' | 'normal';

export interface GcraParams {
  intervalMs: number;
  burstMs: number;
}

/** The schedule a call of `priority` may use: `normal` calls keep a reserve of the burst free for `high` ones. */
export function paramsFor(params: GcraParams, priority: CallPriority = 'high'): GcraParams {
  if (priority === 'high') return params;
  const burstSlots = Math.round(params.burstMs / params.intervalMs) + 1;
  const reserve = Math.floor(burstSlots / 4);
  return { intervalMs: params.intervalMs, burstMs: params.burstMs - reserve * params.intervalMs };
}

/**
 * GCRA ("generic cell rate algorithm", a leaky bucket in one number) parameters for a per-minute limit:
 * requests are spaced `intervalMs` apart on average, with a burst of up to `burst` requests at once. The rate is
 * set so that any 60-second window holds at most `requestsPerMinute` requests, burst included, because vendors
 * count in windows (Zendesk: per minute).
 */
export function gcraParams(requestsPerMinute: number): GcraParams {
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
  params: GcraParams,
  slots = 1,
): { waitMs: number; tat?: number } {
  const start = Math.max(tat ?? nowMs, nowMs);
  // Every slot taken must be allowed now: the last one is the latest.
  const waitMs = start + (slots - 1) * params.intervalMs - nowMs - params.burstMs;
  if (waitMs > 0) return { waitMs: Math.ceil(waitMs) };
  return { waitMs: 0, tat: start + slots * params.intervalMs };
}

/** Whether `slots` can ever be taken at once (the burst holds them); otherwise they are taken one by one. */
export function fitsBurst(slots: number, params: GcraParams): boolean {
  return (slots - 1) * params.intervalMs <= params.burstMs;
}

/** GCRA in this process. */
export class MemoryRateLimiter implements RateLimiter {
  private tat?: number;
  private readonly params: GcraParams;

  constructor(
    requestsPerMinute: number,
    private readonly now: () => number = Date.now,
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
      const step = gcraStep(this.tat, this.now(), params, slots);
      if (step.waitMs === 0) {
        this.tat = step.tat;
        return waited;
      }
      waited += step.waitMs;
      await sleep(step.waitMs);
    }
  }

  async delay(priority: CallPriority = 'high'): Promise<number> {
    return gcraStep(this.tat, this.now(), paramsFor(this.params, priority)).waitMs;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
