import { randomUUID } from 'node:crypto';
import type { RedisClientType } from '@keyv/redis';
import { errorMessage } from '../core/errors';
import type { Logger } from '../core/logger';
import type { AnalyticsEvent } from './event';

/**
 * One sink's queue. `push` is synchronous and never throws (a domain event listener calls it); the sink's worker
 * takes one batch at a time with `peek`, sends it, and removes it with `ack` only after the tool took it, so a
 * failure or a crash resends the batch (receivers dedupe by event id) instead of losing it.
 */
export interface SinkQueue {
  /** True when the queue lives only in this process (its events are lost when the process ends). */
  readonly volatile: boolean;
  push(event: AnalyticsEvent): void;
  /** The batch to send: the same events again until `ack`; empty when nothing waits (or another instance sends). */
  peek(max: number): Promise<AnalyticsEvent[]>;
  ack(): Promise<void>;
  /** Events waiting, the batch being sent included (for Redis: as last seen, updated at every push and peek). */
  depth(): number;
  /** Events discarded because the queue was full (oldest first). */
  dropped(): number;
  /** Called after each local push (wakes the worker). */
  onPush(listener: () => void): void;
  /** Writes what is still buffered in memory to durable storage, within `deadline` (epoch ms), and lets go. */
  close(deadline: number): Promise<void>;
}

/** In memory: bounded; when full, the oldest waiting event is dropped and counted. */
export class MemoryQueue implements SinkQueue {
  readonly volatile = true;
  private waiting: AnalyticsEvent[] = [];
  private batch: AnalyticsEvent[] = [];
  private droppedCount = 0;
  private listener: () => void = () => {};

  constructor(private readonly maxEvents: number) {}

  push(event: AnalyticsEvent): void {
    this.waiting.push(event);
    const over = this.waiting.length + this.batch.length - this.maxEvents;
    if (over > 0) {
      this.waiting.splice(0, over);
      this.droppedCount += over;
    }
    this.listener();
  }

  async peek(max: number): Promise<AnalyticsEvent[]> {
    if (this.batch.length === 0) this.batch = this.waiting.splice(0, max);
    return this.batch;
  }

  async ack(): Promise<void> {
    this.batch = [];
  }

  depth(): number {
    return this.waiting.length + this.batch.length;
  }

  dropped(): number {
    return this.droppedCount;
  }

  onPush(listener: () => void): void {
    this.listener = listener;
  }

  async close(): Promise<void> {}
}

/** Keys under `bhb:analytics:<sink>:` (see createState: every Redis key of the bridge starts with `bhb:`). */
export function redisQueueKeys(prefix: string, sink: string) {
  const base = `${prefix}analytics:${sink}:`;
  return { queue: `${base}queue`, processing: `${base}processing`, lease: `${base}lease` };
}

// KEYS: queue, processing. ARGV: max, events... Appends; trims the oldest past max.
// Returns {events waiting in queue + processing, trimmed}.
const PUSH = `
local n = redis.call('RPUSH', KEYS[1], unpack(ARGV, 2))
local over = n - tonumber(ARGV[1])
if over > 0 then
  redis.call('LTRIM', KEYS[1], over, -1)
else
  over = 0
end
return {redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2]), over}`;

// KEYS: queue, processing, lease. ARGV: token, max, leaseMs.
// Takes (or renews) the sink's lease; without it returns false. With it: the batch in `processing` (a previous
// holder's unfinished one first), else moves up to max events from `queue` into it.
// Returns {events waiting in queue + processing, batch}.
const CLAIM = `
local holder = redis.call('GET', KEYS[3])
if holder and holder ~= ARGV[1] then return false end
redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[3])
local batch = redis.call('LRANGE', KEYS[2], 0, -1)
if #batch == 0 then
  batch = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
  if #batch > 0 then
    redis.call('LTRIM', KEYS[1], #batch, -1)
    redis.call('RPUSH', KEYS[2], unpack(batch))
  end
end
return {redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2]), batch}`;

// KEYS: processing, lease, queue. ARGV: token. Removes the sent batch, if we still hold the lease.
// Returns the events waiting in queue + processing.
const ACK = `
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return redis.call('LLEN', KEYS[3]) + redis.call('LLEN', KEYS[1])`;

// KEYS: lease. ARGV: token, leaseMs (0 = release).
const RENEW = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) == 0 then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`;

export interface RedisQueueOptions {
  redis: () => Promise<RedisClientType>;
  /** `bhb:` */
  prefix: string;
  sink: string;
  maxEvents: number;
  logger: Logger;
  /** How long a lease lasts without renewal; another instance takes over a dead holder's sink after it. */
  leaseMs?: number;
}

/**
 * On Redis: durable, shared by the instances. `push` appends to an in-memory outbox (so a domain event never waits
 * for Redis, and Redis being away loses nothing while the process runs) that a background flush writes to the
 * sink's list. One instance at a time (the holder of the sink's lease) sends a sink's events, which keeps them in
 * order: it moves a batch into the `processing` list and deletes it after the tool took it; a holder that dies
 * leaves the batch there and the next holder sends it first. The list is bounded too (oldest dropped, counted), so a
 * dead tool can never fill the Redis that holds the conversations.
 */
export class RedisQueue implements SinkQueue {
  readonly volatile = false;
  private readonly keys;
  private readonly token = randomUUID();
  private readonly leaseMs: number;
  private outbox: string[] = [];
  private flushing: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private flushFailures = 0;
  /** Events in Redis (queue + processing) as of the latest reply; replies are applied in request order. */
  private stored = 0;
  private requests = 0;
  private observed = 0;
  private droppedCount = 0;
  private holding = false;
  private closed = false;
  private listener: () => void = () => {};

  constructor(private readonly options: RedisQueueOptions) {
    this.keys = redisQueueKeys(options.prefix, options.sink);
    this.leaseMs = options.leaseMs ?? 30_000;
  }

  push(event: AnalyticsEvent): void {
    this.outbox.push(JSON.stringify(event));
    const over = this.outbox.length - this.options.maxEvents;
    if (over > 0) {
      this.outbox.splice(0, over);
      this.droppedCount += over;
    }
    this.scheduleFlush();
  }

  async peek(max: number): Promise<AnalyticsEvent[]> {
    const client = await this.options.redis();
    const seq = ++this.requests;
    const reply = (await client.eval(CLAIM, {
      keys: [this.keys.queue, this.keys.processing, this.keys.lease],
      arguments: [this.token, String(max), String(this.leaseMs)],
    })) as [number, string[]] | null;
    if (!reply) {
      this.setHolding(false);
      return [];
    }
    this.setHolding(true);
    const [stored, raw] = reply;
    this.observe(seq, Number(stored));
    const events: AnalyticsEvent[] = [];
    for (const item of raw) {
      try {
        events.push(JSON.parse(item) as AnalyticsEvent);
      } catch {
        this.options.logger.error('analytics queue entry is not JSON; skipped', {
          sink: this.options.sink,
          code: 'ANALYTICS_QUEUE_CORRUPT',
        });
      }
    }
    return events;
  }

  async ack(): Promise<void> {
    const client = await this.options.redis();
    const seq = ++this.requests;
    const stored = await client.eval(ACK, {
      keys: [this.keys.processing, this.keys.lease, this.keys.queue],
      arguments: [this.token],
    });
    this.observe(seq, Number(stored));
  }

  depth(): number {
    return this.outbox.length + this.stored;
  }

  dropped(): number {
    return this.droppedCount;
  }

  onPush(listener: () => void): void {
    this.listener = listener;
  }

  async close(deadline: number): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.renewTimer);
    const remaining = () => Math.max(0, deadline - Date.now());
    // The outbox first: those events exist nowhere else.
    while (this.outbox.length > 0 && remaining() > 0) {
      await withDeadline(this.flush(), remaining()).catch(() => {});
      if (this.outbox.length > 0) await sleep(Math.min(200, remaining()));
    }
    if (this.outbox.length > 0) {
      this.options.logger.error('analytics events could not be written to Redis before shutdown; lost', {
        sink: this.options.sink,
        code: 'ANALYTICS_EVENTS_LOST',
        events: this.outbox.length,
      });
      this.droppedCount += this.outbox.length;
      this.outbox = [];
    }
    if (this.holding && remaining() > 0) {
      // Let another instance take the sink over at once instead of after the lease expires.
      await withDeadline(
        this.options
          .redis()
          .then((c) => c.eval(RENEW, { keys: [this.keys.lease], arguments: [this.token, '0'] })),
        remaining(),
      ).catch(() => {});
    }
    this.holding = false;
  }

  private scheduleFlush(): void {
    if (this.flushing || this.retryTimer || this.closed) return;
    this.flushing = this.flush()
      .then(() => {
        this.flushFailures = 0;
        this.listener();
      })
      .catch((err: unknown) => {
        // Kept in the outbox; tried again with backoff while the process runs.
        if (this.flushFailures++ === 0) {
          this.options.logger.warn('analytics events wait in memory: Redis is not answering', {
            sink: this.options.sink,
            code: 'ANALYTICS_QUEUE_UNAVAILABLE',
            error: errorMessage(err),
          });
        }
        const delay = Math.min(100 * 2 ** this.flushFailures, 5_000);
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.scheduleFlush();
        }, delay);
        this.retryTimer.unref();
      })
      .finally(() => {
        this.flushing = undefined;
        if (this.outbox.length > 0 && !this.retryTimer) this.scheduleFlush();
      });
  }

  /** Writes the outbox to Redis in order, 100 at a time; what was written leaves the outbox. */
  private async flush(): Promise<void> {
    const client = await this.options.redis();
    while (this.outbox.length > 0) {
      const chunk = this.outbox.slice(0, 100);
      const seq = ++this.requests;
      const [stored, trimmed] = (await client.eval(PUSH, {
        keys: [this.keys.queue, this.keys.processing],
        arguments: [String(this.options.maxEvents), ...chunk],
      })) as [number, number];
      this.outbox.splice(0, chunk.length);
      this.observe(seq, Number(stored));
      this.droppedCount += Number(trimmed);
    }
  }

  /** One connection answers in request order: a reply to an older request never overwrites a newer count. */
  private observe(seq: number, stored: number): void {
    if (seq < this.observed) return;
    this.observed = seq;
    this.stored = stored;
  }

  private setHolding(holding: boolean): void {
    this.holding = holding;
    if (holding && !this.renewTimer && !this.closed) {
      // Keeps the lease while a slow send or a long backoff holds the batch.
      this.renewTimer = setInterval(() => {
        void this.options
          .redis()
          .then((c) =>
            c.eval(RENEW, { keys: [this.keys.lease], arguments: [this.token, String(this.leaseMs)] }),
          )
          .then((ok) => {
            if (ok !== 1) this.setHolding(false);
          })
          .catch(() => {});
      }, this.leaseMs / 3);
      this.renewTimer.unref();
    } else if (!holding && this.renewTimer) {
      clearInterval(this.renewTimer);
      this.renewTimer = undefined;
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('deadline')), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
