import { errorCode, errorMessage, PermanentError } from '../core/errors';
import type { Logger } from '../core/logger';
import { backoffDelay } from '../core/work/failure-policy';
import { CircuitBreaker, type CircuitBreakerOptions, type CircuitState } from './circuit-breaker';
import type { AnalyticsEvent } from './event';
import type { SinkQueue } from './queue';
import type { Sink } from './sink';

export interface SinkStats {
  /** Events the tool accepted. */
  sent: number;
  /** Events the tool rejected for good (a payload it refuses); lost. */
  failed: number;
  /** Events sent again after a failed attempt (one per event per retry). */
  retried: number;
  /** Events discarded: the queue was full, or (in memory) still queued when the bridge stopped. */
  dropped: number;
  /** Events waiting, the batch in flight included. */
  queueDepth: number;
  circuit: CircuitState;
}

export interface SinkWorkerOptions {
  logger: Logger;
  /** Backoff between attempts of one batch: exponential from baseDelayMs, capped, with jitter. Never gives up. */
  retry: { baseDelayMs: number; maxDelayMs: number };
  breaker: CircuitBreakerOptions;
  /** How often an idle worker looks at a shared (Redis) queue that other instances fill. */
  pollMs: number;
}

type Outcome = 'done' | 'aborted';

/**
 * Sends one sink's queue, one batch at a time and in order, until stopped. A failed batch is retried with backoff
 * and jitter for as long as it takes (the circuit breaker spaces attempts to a dead tool further apart); a rejected
 * batch is sent again event by event so only the rejected events are dropped. Nothing here is ever awaited by a
 * domain event's emitter.
 */
export class SinkWorker {
  private readonly breaker: CircuitBreaker;
  private readonly counts = { sent: 0, failed: 0, retried: 0, lost: 0 };
  private readonly controller = new AbortController();
  private running: Promise<void> | undefined;
  private draining = false;
  private sleeping: { kind: 'idle' | 'backoff'; done: () => void } | undefined;
  private pendingPush = false;

  constructor(
    readonly name: string,
    private readonly sink: Sink,
    private readonly queue: SinkQueue,
    private readonly options: SinkWorkerOptions,
  ) {
    this.breaker = new CircuitBreaker(options.breaker);
    queue.onPush(() => this.onPush());
  }

  start(): void {
    this.running ??= this.loop().catch((err: unknown) => {
      this.options.logger.error('analytics sink worker stopped unexpectedly', {
        sink: this.name,
        code: 'ANALYTICS_WORKER_CRASHED',
        error: errorMessage(err),
      });
    });
  }

  stats(): SinkStats {
    return {
      sent: this.counts.sent,
      failed: this.counts.failed,
      retried: this.counts.retried,
      dropped: this.queue.dropped() + this.counts.lost,
      queueDepth: this.queue.depth(),
      circuit: this.breaker.state,
    };
  }

  /**
   * Stops within `deadline` (epoch ms): a volatile (memory) queue is sent as far as the time allows, a durable one
   * only finishes the batch in flight (the rest waits in Redis for the next start). What is left in memory at the
   * deadline is counted as dropped.
   */
  async stop(deadline: number): Promise<void> {
    this.draining = true;
    this.sleeping?.done();
    // A durable queue keeps time for close(), which writes the events still in memory to Redis.
    const left = Math.max(0, deadline - Date.now());
    const sendFor = this.queue.volatile ? left : left - Math.min(1_000, left / 2);
    const timer = setTimeout(() => this.controller.abort(), sendFor);
    try {
      await this.running;
    } finally {
      clearTimeout(timer);
      this.controller.abort();
    }
    await this.queue.close(deadline);
    if (this.queue.volatile && this.queue.depth() > 0) {
      const lost = this.queue.depth();
      this.counts.lost += lost;
      this.options.logger.warn('analytics events still queued at shutdown were dropped', {
        sink: this.name,
        code: 'ANALYTICS_EVENTS_LOST',
        events: lost,
      });
    }
  }

  private get aborted(): boolean {
    return this.controller.signal.aborted;
  }

  private async loop(): Promise<void> {
    let queueDown = false;
    while (!this.aborted) {
      let batch: AnalyticsEvent[];
      try {
        batch = await this.queue.peek(this.sink.maxBatch);
        queueDown = false;
      } catch (err) {
        if (!queueDown) {
          this.options.logger.warn('analytics queue unreachable; retrying', {
            sink: this.name,
            code: 'ANALYTICS_QUEUE_UNAVAILABLE',
            error: errorMessage(err),
          });
        }
        queueDown = true;
        if (this.draining) return;
        await this.sleep(this.options.pollMs);
        continue;
      }
      if (batch.length === 0) {
        // An empty peek may predate the last pushes: a memory queue is drained until it really is empty.
        if (this.draining && !(this.queue.volatile && this.queue.depth() > 0)) return;
        if (this.draining) continue;
        await this.sleep(this.options.pollMs, 'idle');
        continue;
      }
      if ((await this.deliver(batch)) === 'aborted') return;
      try {
        await this.queue.ack();
      } catch (err) {
        // The batch stays claimed and is sent again (receivers dedupe by event id).
        this.options.logger.warn(
          'analytics batch sent but not removed from the queue; it will be sent again',
          {
            sink: this.name,
            code: 'ANALYTICS_QUEUE_UNAVAILABLE',
            error: errorMessage(err),
          },
        );
        await this.sleep(this.options.pollMs);
      }
      // A durable queue keeps the rest for the next start; only the batch in flight is finished.
      if (this.draining && !this.queue.volatile) return;
    }
  }

  private async deliver(batch: AnalyticsEvent[]): Promise<Outcome> {
    for (let attempt = 1; ; attempt++) {
      // While stopping, the breaker's long wait is skipped: the deadline bounds the attempts instead.
      // Stopping with a durable queue: the failed batch is safe in Redis; no more attempts.
      if (this.draining && !this.queue.volatile && attempt > 1) return 'aborted';
      const open = this.draining ? 0 : this.breaker.waitMs();
      if (open > 0) await this.sleep(open);
      if (this.aborted) return 'aborted';
      try {
        await this.sink.send(batch, this.controller.signal);
        this.breaker.success();
        this.counts.sent += batch.length;
        return 'done';
      } catch (err) {
        if (this.aborted) return 'aborted';
        if (err instanceof PermanentError) {
          this.breaker.success(); // the tool answered: it is up
          if (batch.length > 1) return this.deliverOneByOne(batch);
          this.counts.failed += batch.length;
          this.options.logger.error('analytics event rejected by the tool; dropped', {
            sink: this.name,
            code: errorCode(err),
            error: errorMessage(err),
            eventId: batch[0]?.id,
            eventType: batch[0]?.type,
          });
          return 'done';
        }
        const opened = this.breaker.failure();
        if (this.draining && !this.queue.volatile) return 'aborted'; // kept in Redis for the next start
        this.counts.retried += batch.length;
        const delay = Math.max(
          backoffDelay(this.options.retry, attempt, err),
          this.draining ? 0 : this.breaker.waitMs(),
        );
        const log = attempt === 1 || opened ? this.options.logger.warn : this.options.logger.debug;
        log.call(
          this.options.logger,
          opened ? 'analytics sink failing; circuit open' : 'analytics send failed; retrying',
          {
            sink: this.name,
            code: errorCode(err),
            error: errorMessage(err),
            attempt,
            events: batch.length,
            retryInMs: delay,
          },
        );
        await this.sleep(delay);
      }
    }
  }

  private async deliverOneByOne(batch: AnalyticsEvent[]): Promise<Outcome> {
    for (const event of batch) {
      if ((await this.deliver([event])) === 'aborted') return 'aborted';
    }
    return 'done';
  }

  /**
   * Waits `ms`, or less: an idle wait ends when an event is pushed (one pushed while busy ends the next idle wait at
   * once); any wait ends at stop or abort. Backoff and breaker waits are not cut short by new events.
   */
  private sleep(ms: number, kind: 'idle' | 'backoff' = 'backoff'): Promise<void> {
    if (this.aborted || (kind === 'idle' && this.pendingPush)) {
      this.pendingPush = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.controller.signal.removeEventListener('abort', done);
        this.sleeping = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.controller.signal.addEventListener('abort', done);
      this.sleeping = { kind, done };
    });
  }

  private onPush(): void {
    if (this.sleeping?.kind === 'idle') this.sleeping.done();
    else this.pendingPush = true;
  }
}
