import type { DomainEvents } from '../core/events';
import { errorMessage } from '../core/errors';
import type { Logger } from '../core/logger';
import type { TextCipher } from './crypto';
import {
  applyEvent,
  RECORDED_EVENTS,
  sessionIdOf,
  talkEntryFor,
  type BuilderOptions,
  type RecordedEventName,
  type ReportEvent,
} from './record';
import type { SessionRecord } from './schema';
import type { ReportStore } from './store';

export interface RecorderOptions {
  builder: BuilderOptions;
  /** Present when text storage is on: the talk log keeps text and links, encrypted with it. */
  cipher?: TextCipher;
  /** Events waiting to be written, at most; more are dropped (and logged) rather than growing without bound. */
  maxQueue?: number;
  /** Waits before the retries of a failed write. */
  retryDelaysMs?: number[];
  /** Events written in one transaction at most (when the store has `updateMany`). */
  batchSize?: number;
  /**
   * How long the worker lets events gather before writing a batch smaller than `batchSize` (default 200 ms; 0: the
   * next turn of the event loop). Reports are read later, by people and BI tools: a fraction of a second costs
   * nothing there, and a transaction per event at moderate load was 17% of the bridge's CPU (`npm run bench`).
   */
  lingerMs?: number;
}

export interface RecorderStats {
  queued: number;
  recorded: number;
  duplicates: number;
  failed: number;
  dropped: number;
}

/**
 * Subscribes to the domain events and writes each session's record as the events arrive (an upsert per event, so an
 * in-progress session survives a restart). A listener only puts the event in a queue: it never waits for the
 * database and never throws, so recording can neither slow down nor break a handoff. One worker writes the queue in
 * order, in batches: it lets events gather for `lingerMs` (or none while a full batch waits) and writes up to
 * `batchSize` queued events in one transaction (`ReportStore.updateMany`; a transaction per event was 15-20% of the
 * bridge's CPU under load). A batch that fails is written again one event at a time, where a failed
 * write is retried, then logged with a code and dropped — the same as without batches.
 */
export class SessionRecorder {
  private readonly queue: ReportEvent[] = [];
  private running: Promise<void> | undefined;
  private readonly unsubscribers: Array<() => void> = [];
  private readonly maxQueue: number;
  private readonly retryDelaysMs: number[];
  private readonly batchSize: number;
  private readonly lingerMs: number;
  private readonly counts: Omit<RecorderStats, 'queued'> = {
    recorded: 0,
    duplicates: 0,
    failed: 0,
    dropped: 0,
  };
  private lastOverflowLog = 0;
  private closed = false;

  constructor(
    /** Resolves once the store is open and migrated; rejects if it never will (the bridge is stopping). */
    private readonly store: Promise<ReportStore>,
    private readonly logger: Logger,
    private readonly options: RecorderOptions,
  ) {
    this.maxQueue = options.maxQueue ?? 10_000;
    this.retryDelaysMs = options.retryDelaysMs ?? [200, 1_000, 5_000];
    this.batchSize = Math.max(1, options.batchSize ?? 200);
    this.lingerMs = Math.max(0, options.lingerMs ?? 200);
    // The worker handles a rejection; this only keeps Node from reporting it as unhandled meanwhile.
    store.catch(() => {});
  }

  subscribe(events: DomainEvents): void {
    for (const name of RECORDED_EVENTS) {
      this.unsubscribers.push(events.on(name, (payload) => this.enqueue({ name, payload } as ReportEvent)));
    }
  }

  /** Queues an event for writing. Synchronous and never throws. */
  enqueue(event: ReportEvent): void {
    try {
      if (this.closed || !sessionIdOf(event)) return;
      if (this.queue.length >= this.maxQueue) {
        this.counts.dropped += 1;
        const now = Date.now();
        if (now - this.lastOverflowLog > 60_000) {
          this.lastOverflowLog = now;
          this.logger.error('session report queue full; events dropped', {
            code: 'REPORTS_QUEUE_FULL',
            queued: this.queue.length,
            dropped: this.counts.dropped,
          });
        }
        return;
      }
      this.queue.push(this.options.cipher ? event : withoutContent(event));
      this.kick();
    } catch (err) {
      this.logger.error('session report event not queued', {
        code: 'REPORTS_ENQUEUE_FAILED',
        event: event?.name,
        error: errorMessage(err),
      });
    }
  }

  stats(): RecorderStats {
    return { queued: this.queue.length, ...this.counts };
  }

  /** Waits until every queued event is written (or `timeoutMs` passed); true when the queue is empty. */
  async flush(timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.running && Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.running,
        new Promise((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now())))),
      ]);
      clearTimeout(timer);
    }
    return this.queue.length === 0 && !this.running;
  }

  /** Stops listening, then writes what is queued, for at most `timeoutMs`. */
  async close(timeoutMs = 3_000): Promise<void> {
    for (const off of this.unsubscribers.splice(0)) off();
    this.closed = true;
    if (!(await this.flush(timeoutMs)) && this.queue.length) {
      this.logger.warn('session report events not written before shutdown', {
        code: 'REPORTS_NOT_FLUSHED',
        queued: this.queue.length,
      });
    }
  }

  private kick(): void {
    if (this.running) return;
    this.running = this.drain()
      .catch((err: unknown) => {
        // The store never opened (the bridge stopped first): what is queued cannot be written.
        this.logger.warn('session report store not available; queued events dropped', {
          code: 'REPORTS_STORE_UNAVAILABLE',
          dropped: this.queue.length,
          error: errorMessage(err),
        });
        this.counts.dropped += this.queue.length;
        this.queue.length = 0;
      })
      .finally(() => {
        this.running = undefined;
        if (this.queue.length) this.kick();
      });
  }

  private async drain(): Promise<void> {
    const store = await this.store;
    while (this.queue.length) {
      // Yield to the event loop before each batch: what the bridge emits meanwhile joins the next batch, and a long
      // queue written by synchronous SQLite does not hold up everything else. A small batch waits for more first.
      const linger = this.queue.length < this.batchSize && !this.closed ? this.lingerMs : 0;
      await new Promise((resolve) => (linger > 0 ? setTimeout(resolve, linger) : setImmediate(resolve)));
      // The events stay at the head of the queue until written (stats() and close() count them as queued).
      const batch = this.queue.slice(0, this.batchSize);
      if (batch.length > 1 && (await this.writeMany(store, batch))) {
        this.queue.splice(0, batch.length);
        continue;
      }
      for (let i = 0; i < batch.length; i++) {
        await this.write(store, this.queue[0]!);
        this.queue.shift();
      }
    }
  }

  /** Writes the events in one transaction; false (nothing written) when that failed or the store cannot. */
  private async writeMany(store: ReportStore, batch: ReportEvent[]): Promise<boolean> {
    if (!store.updateMany) return false;
    try {
      // Built per attempt, as in write(): each attempt encrypts afresh (a new IV).
      const results = await store.updateMany(
        batch.map((event) => ({
          sessionId: sessionIdOf(event)!,
          entry: talkEntryFor(event, this.options.cipher),
          change: (current: SessionRecord | undefined) => applyEvent(current, event, this.options.builder),
        })),
      );
      for (const written of results) {
        if (written) this.counts.recorded += 1;
        else this.counts.duplicates += 1;
      }
      return true;
    } catch (err) {
      this.logger.debug('session report batch failed; writing its events one by one', {
        code: 'REPORTS_BATCH_FAILED',
        events: batch.length,
        store: store.kind,
        error: errorMessage(err),
      });
      return false;
    }
  }

  private async write(store: ReportStore, event: ReportEvent): Promise<void> {
    const sessionId = sessionIdOf(event)!;
    for (let attempt = 0; ; attempt++) {
      try {
        // Built inside the loop: each attempt encrypts afresh (a new IV), as a new write should.
        const entry = talkEntryFor(event, this.options.cipher);
        const written = await store.update(sessionId, entry, (current) =>
          applyEvent(current, event, this.options.builder),
        );
        if (written) this.counts.recorded += 1;
        else this.counts.duplicates += 1;
        return;
      } catch (err) {
        const delay = this.retryDelaysMs[attempt];
        if (delay === undefined) {
          this.counts.failed += 1;
          this.logger.error('session report event could not be written; dropped', {
            code: 'REPORTS_WRITE_FAILED',
            event: event.name,
            session: sessionId,
            store: store.kind,
            attempts: attempt + 1,
            error: errorMessage(err),
          });
          return;
        }
        this.logger.debug('session report write failed; retrying', {
          code: 'REPORTS_WRITE_RETRY',
          event: event.name,
          session: sessionId,
          error: errorMessage(err),
        });
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }
}

/** With text storage off, the queue holds no message text or links (only what the counts need). */
function withoutContent(event: ReportEvent): ReportEvent {
  switch (event.name) {
    case 'customer.message':
    case 'agent.message':
      return {
        ...event,
        payload: {
          ...event.payload,
          text: '',
          attachments: event.payload.attachments.map((a) => ({ url: '', mimeType: a.mimeType })),
        },
      } as ReportEvent;
    case 'automatic.message':
      return { ...event, payload: { ...event.payload, text: '' } };
    default:
      return event;
  }
}

export type { RecordedEventName };
