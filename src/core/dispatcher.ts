import { randomUUID } from 'node:crypto';
import { errorCode, errorMessage, PermanentError, UnavailableError } from './errors';
import type { DomainEvents } from './events';
import type { HandoffService } from './handoff';
import { logTag } from './ids';
import type { Logger } from './logger';
import type { ChatMessage, CustomerRef, HelpdeskEvent } from './model';
import { sleep, type RateLimiter } from './rate-limiter';
import { backoffDelay, type RetryPolicy } from './retry';
import { ticketLane, type LaneLease, type QueuedWork, type WorkItem, type WorkQueue } from './work';

export interface DispatcherOptions {
  /** Lanes (customers) worked on at once by this instance. */
  concurrency: number;
  /** How often to look for lanes queued by other instances, or whose retry is due. */
  scanIntervalMs: number;
  /** Processing attempts of one item before it is dead-lettered (each attempt includes the quick in-call retries). */
  maxAttempts: number;
  /** Backoff between attempts (full jitter). */
  backoff: RetryPolicy;
  /** While waiting for the vendor's rate limit, up to this many queued customer messages become one comment. */
  coalesceMax: number;
  /** The vendor's rate limiter, when there is one: coalescing happens only while it makes us wait. */
  limiter?: RateLimiter;
  /** Wait before retrying work that met an unavailable customer channel (BLiP down); attempts are not used up. */
  unavailableRetryMs: number;
  /**
   * How long a lane stays this instance's without a renewal (renewed every third of it while work runs): after a
   * crash, its lanes wait this long before another instance takes them.
   */
  leaseMs: number;
}

export const defaultDispatcherOptions: DispatcherOptions = {
  concurrency: 64,
  scanIntervalMs: 250,
  maxAttempts: 8,
  backoff: { attempts: 8, baseDelayMs: 1_000, maxDelayMs: 60_000 },
  coalesceMax: 20,
  unavailableRetryMs: 1_000,
  leaseMs: 15_000,
};

/** Items read when a lane is taken: the head alone (coalescing reads more, only when it happens). */
const PEEK = 1;
/** What a peek or take hands out: items, or an entry that cannot be read back. */
type Peeked = Awaited<ReturnType<WorkQueue['peek']>>;
/** Items read when the head's neighbours are wanted (coalescing, a redelivered batch). */
const PEEK_MORE = 20;

/**
 * Takes every unit of work in (a customer message, a helpdesk event, a delivery failure), records it in the
 * durable work queue before the sender is answered, and runs it: one lane per customer, in order, one worker per
 * lane across all instances (the lane's lease, taken with its first peek), lanes in parallel. A failure is retried with backoff, keeping the
 * lane's order (the items behind wait); after `maxAttempts`, or at once for a permanent failure, the item goes to
 * the dead-letter list, visible and replayable (`npm run bridge -- dlq`), and the lane moves on.
 */
export class Dispatcher {
  private readonly options: DispatcherOptions;
  private readonly active = new Set<string>();
  /** Lanes that got work while being drained here: drained again right after. */
  private readonly again = new Set<string>();
  /** Lanes waiting for a free worker slot, in order. */
  private readonly waiting = new Set<string>();
  /** Lanes this instance put in backoff, until when. */
  private readonly backoffUntil = new Map<string, number>();
  private readonly drains = new Set<Promise<void>>();
  private scanTimer?: NodeJS.Timeout;
  private scanning?: Promise<void>;
  private stopping = false;

  constructor(
    private readonly queue: WorkQueue,
    private readonly service: HandoffService,
    private readonly events: DomainEvents,
    private readonly logger: Logger,
    options: Partial<DispatcherOptions> = {},
  ) {
    this.options = { ...defaultDispatcherOptions, ...options };
  }

  // ---- intake: each resolves once the work is recorded; it never waits for the work itself ----

  async acceptCustomerMessage(customer: CustomerRef, message: ChatMessage): Promise<void> {
    await this.accept(customer.key, { kind: 'customer-message', customer, message });
  }

  /**
   * Events from one webhook delivery or poll, oldest first. Redeliveries of handled events are left out here when
   * the ticket's owner must be read anyway (the worker checks again). Resolves with how many were queued.
   */
  async acceptHelpdeskEvents(events: HelpdeskEvent[]): Promise<number> {
    let queued = 0;
    for (const event of events) {
      // A ticket this process knows goes straight to its customer's lane, without reading anything first: the
      // worker checks for a redelivery and for a ticket no longer open, as it does anyway.
      const known = this.service.knownCustomerOf(event);
      if (known) {
        await this.accept(known, { kind: 'helpdesk-event', event });
        queued++;
        continue;
      }
      // Both reads at once: one round trip to Redis before the webhook can be answered.
      const [duplicate, customerKey] = await Promise.all([
        this.service.isDuplicate(event),
        this.service.customerKeyOf(event),
      ]);
      if (duplicate) {
        this.logger.debug('duplicate helpdesk event ignored', {
          vendor: event.ticket.vendor,
          eventId: event.eventId,
        });
        continue;
      }
      const lane = customerKey ?? ticketLane(event.ticket.vendor, event.ticket.id);
      await this.accept(lane, { kind: 'helpdesk-event', event });
      queued++;
    }
    return queued;
  }

  async acceptDeliveryFailure(customerKey: string, messageId: string, code: string, reason: string) {
    await this.accept(customerKey, { kind: 'delivery-failure', customerKey, messageId, code, reason });
  }

  /** An operator's close (admin API), in the customer's lane after what is already queued. */
  async acceptForceClose(customerKey: string, reason: string): Promise<void> {
    await this.accept(customerKey, { kind: 'force-close', customerKey, reason });
  }

  /**
   * Records the item; when this instance could work the lane right away, the enqueue also takes the lane's lease
   * if the lane was empty and free (one round trip instead of enqueue, then take), and the drain starts with it.
   */
  private async accept(lane: string, item: WorkItem): Promise<void> {
    const lease = this.canStart(lane) ? this.newLease() : undefined;
    const { dueAtMs, taken } = await this.queue.enqueue(lane, item, lease);
    if (taken && lease) {
      if (this.canStart(lane)) return this.launch(lane, lease, taken);
      // Another drain of this lane began here meanwhile: it must find the lane free.
      await this.queue.release(lane, lease);
    }
    if (dueAtMs <= Date.now()) this.kick(lane);
  }

  /** A drain of `lane` could start here now (none running, a free slot, not in backoff, not stopping). */
  private canStart(lane: string): boolean {
    return (
      !this.stopping &&
      !this.active.has(lane) &&
      this.active.size < this.options.concurrency &&
      (this.backoffUntil.get(lane) ?? 0) <= Date.now()
    );
  }

  private newLease(): LaneLease {
    return { token: randomUUID(), ttlMs: this.options.leaseMs };
  }

  // ---- running ----

  start(): void {
    this.stopping = false;
    this.scheduleScan(0);
  }

  /**
   * Stops taking lanes, lets the items in progress finish (at most `graceMs`), and leaves the rest queued: in
   * Redis another instance (or this one after a restart) takes it up; in memory it is lost, and counted in the log.
   */
  async stop(graceMs = 10_000, options: { finishQueued?: boolean } = {}): Promise<void> {
    const started = Date.now();
    if (options.finishQueued) {
      await this.idle(graceMs).catch(() => {
        // logged below with the count of what is left
      });
    }
    graceMs = Math.max(0, graceMs - (Date.now() - started));
    this.stopping = true;
    if (this.scanTimer) clearTimeout(this.scanTimer);
    const settled = Promise.allSettled([this.scanning, ...this.drains]);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      settled.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs))),
    ]);
    clearTimeout(timer);
    const depth = await this.queue.depth().catch(() => undefined);
    this.logger.info('work dispatcher stopped', {
      unfinishedLanes: timedOut ? this.active.size : 0,
      queued: depth?.queued,
      deadLetters: depth?.deadLetters,
    });
  }

  /** Resolves when no lane has work due (tests, demo, shutdown of an in-memory bridge). */
  async idle(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const due = await this.queue.dueLanes(Date.now(), 1);
      if (due.length === 0 && this.active.size === 0) return;
      if (Date.now() > deadline) throw new Error('work queue did not become idle in time');
      await sleep(20);
    }
  }

  private kick(lane: string): void {
    if (this.stopping) return;
    if (this.active.has(lane)) {
      this.again.add(lane);
      return;
    }
    if ((this.backoffUntil.get(lane) ?? 0) > Date.now()) return;
    if (this.active.size >= this.options.concurrency) {
      this.waiting.add(lane);
      return;
    }
    this.launch(lane);
  }

  /** Runs a drain of `lane`: with a lease and head the enqueue already took, or taking them itself. */
  private launch(lane: string, lease?: LaneLease, taken?: QueuedWork[]): void {
    this.active.add(lane);
    const drain = this.drain(lane, lease, taken).finally(() => {
      this.active.delete(lane);
      this.drains.delete(drain);
      if (this.again.delete(lane)) this.kick(lane);
      const next = this.waiting.values().next();
      if (!next.done) {
        this.waiting.delete(next.value);
        this.kick(next.value);
      }
    });
    this.drains.add(drain);
  }

  private scheduleScan(delayMs: number): void {
    if (this.stopping) return;
    this.scanTimer = setTimeout(() => {
      this.scanning = this.scan()
        .catch((err: unknown) =>
          this.logger.error('work queue scan failed; will try again', {
            code: errorCode(err),
            error: errorMessage(err),
          }),
        )
        .finally(() => this.scheduleScan(this.options.scanIntervalMs));
    }, delayMs);
    this.scanTimer.unref();
  }

  /** Picks up lanes with due work this instance does not know about (queued elsewhere, retries, a crash). */
  private async scan(): Promise<void> {
    // Timers that came due become work in their customer's lane (one instance gets each).
    for (const lane of await this.queue.promoteTimers(Date.now(), 100)) this.kick(lane);
    const free = this.options.concurrency - this.active.size;
    if (free <= 0) return;
    const lanes = await this.queue.dueLanes(Date.now(), free + this.active.size);
    for (const lane of lanes) {
      this.backoffUntil.delete(lane); // due again by the queue's clock
      if (!this.active.has(lane)) this.kick(lane);
    }
  }

  /**
   * Works through one lane while this instance holds its lease; another instance's lane is left alone. The lease
   * is taken with the first peek and given up with the acknowledgement that empties the lane (no lock round trips
   * of their own), or when the drain stops for another reason.
   */
  private async drain(lane: string, lease = this.newLease(), taken?: QueuedWork[]): Promise<void> {
    let held = taken !== undefined;
    let first: Peeked | undefined = taken;
    const renewal = setInterval(() => {
      if (held) void this.queue.renew(lane, lease).catch(() => {});
    }, lease.ttlMs / 3);
    renewal.unref();
    try {
      while (!this.stopping) {
        const head = first ?? (await this.queue.take(lane, PEEK, lease));
        first = undefined;
        if (head === 'held') return;
        held = true;
        if (head.length === 0) {
          if ((await this.queue.ack(lane, [], lease)) === 0) {
            held = false;
            return;
          }
          continue;
        }
        const { outcome, next } = await this.work(lane, head, lease);
        // 'empty': the acknowledgement left the lane empty (off the due list, lease given up): nothing to peek for.
        if (outcome === 'empty') held = false;
        if (outcome !== 'more') return;
        // The acknowledgement already took the next head (one round trip), or the loop takes it.
        if (next === 'held') {
          held = false;
          return;
        }
        first = next;
      }
    } catch (err) {
      // The queue itself failed (Redis away): the items stay at the head of the lane and are taken up again.
      this.logger.error('work lane interrupted; it will be taken up again', {
        lane: laneTag(lane),
        code: errorCode(err),
        error: errorMessage(err),
      });
    } finally {
      clearInterval(renewal);
      if (held) await this.queue.release(lane, lease).catch(() => {});
    }
  }

  /**
   * Handles the head of the lane: one item, or a run of customer messages coalesced into one comment.
   * Resolves with what is left: more work, an empty lane, or a pause (its head waits for a retry).
   */
  private async work(
    lane: string,
    head: Peeked,
    lease: LaneLease,
  ): Promise<{ outcome: 'more' | 'empty' | 'paused'; next?: Peeked | 'held' }> {
    const first = head[0]!;
    if ('unreadable' in first) {
      await this.bury(lane, undefined, first.id, 'UNREADABLE_WORK', first.unreadable, 0);
      return { outcome: 'more' };
    }
    // The flag of the drain's first peek: coalescing peeks the same head again.
    const redelivered = first.redelivered === true;
    let run = [first];
    let coalesce = false;
    if (first.item.kind === 'customer-message') {
      ({ run, coalesce } = await this.coalescible(lane, head, redelivered));
    }
    try {
      const done = await this.process(run, redelivered, coalesce);
      const ids = run.slice(0, done).map((w) => w.id);
      // Stopping: acknowledged only, so the next head is not marked as handed out (it would count as redelivered).
      const { left, next } = this.stopping
        ? { left: await this.queue.ack(lane, ids, lease), next: undefined }
        : await this.queue.ackAndTake(lane, ids, lease, PEEK);
      this.backoffUntil.delete(lane);
      return left > 0 ? { outcome: 'more', next } : { outcome: 'empty' };
    } catch (err) {
      return { outcome: (await this.failed(lane, first, err)) ? 'more' : 'paused' };
    }
  }

  /**
   * The customer messages at the head of the lane to send together: only while the vendor's rate limit makes
   * us wait anyway (a burst then costs one call); otherwise one at a time, as they came. A head handed out before
   * is offered with the messages behind it but without coalescing: the service sends again exactly the batch an
   * earlier try recorded (same key), or the head alone.
   */
  private async coalescible(
    lane: string,
    head: Awaited<ReturnType<WorkQueue['peek']>>,
    redelivered: boolean,
  ): Promise<{ run: QueuedWork[]; coalesce: boolean }> {
    const { limiter, coalesceMax } = this.options;
    const messagesAt = (items: typeof head): QueuedWork[] => {
      const run: QueuedWork[] = [];
      for (const w of items) {
        if ('unreadable' in w || w.item.kind !== 'customer-message' || run.length >= coalesceMax) break;
        run.push(w);
      }
      return run;
    };
    if (!limiter || coalesceMax <= 1) return { run: messagesAt(head).slice(0, 1), coalesce: false };
    if (redelivered) {
      const all = head.length >= coalesceMax ? head : await this.queue.peek(lane, coalesceMax);
      return { run: messagesAt(all), coalesce: false };
    }
    const wait = await limiter.delay();
    if (wait <= 0) return { run: messagesAt(head).slice(0, 1), coalesce: false };
    await sleep(wait);
    return { run: messagesAt(await this.queue.peek(lane, Math.max(PEEK_MORE, coalesceMax))), coalesce: true };
  }

  /** Runs the work; resolves with how many of `run` (from the first) were done. */
  private async process(run: QueuedWork[], redelivered: boolean, coalesce: boolean): Promise<number> {
    const { item, lane } = run[0]!;
    switch (item.kind) {
      case 'customer-message': {
        const messages = run.map((w) => (w.item as Extract<WorkItem, { kind: 'customer-message' }>).message);
        return this.service.handleCustomerMessages(item.customer, messages, {
          redelivered,
          coalesce,
          lane,
        });
      }
      case 'helpdesk-event': {
        // Queued in its customer's lane when the customer was known: no need to look the ticket up again.
        const inTicketLane = lane === ticketLane(item.event.ticket.vendor, item.event.ticket.id);
        if (inTicketLane) {
          // The ticket was not indexed at intake (an agent faster than the open). Once the customer is known, the
          // event moves to the customer's lane, behind what is queued there: handled here, it could run alongside
          // that lane's work (a close racing the customer's next message). A crash between the two steps queues it
          // twice; the event's dedupe mark makes the second a no-op.
          const customerKey = await this.service.customerOf(item.event);
          if (customerKey) {
            await this.accept(customerKey, item);
            return 1;
          }
        }
        await this.service.handleHelpdeskEvent(
          item.event,
          inTicketLane ? { lane } : { customerKey: lane, lane },
        );
        return 1;
      }
      case 'delivery-failure':
        await this.service.handleDeliveryFailure(item.customerKey, item.messageId, item.code, item.reason);
        return 1;
      case 'timer':
        await this.service.handleTimer(item.customerKey, item.timer, item.sessionId, { lane });
        return 1;
      case 'force-close':
        await this.service.forceClose(item.customerKey, item.reason, { lane });
        return 1;
    }
  }

  private async failed(lane: string, head: QueuedWork, err: unknown): Promise<boolean> {
    const code = errorCode(err);
    const message = errorMessage(err);
    const meta = { lane: laneTag(lane), kind: head.item.kind, code };
    if (err instanceof UnavailableError) {
      // The customer channel (BLiP reconnecting) or the state store (Redis) is away: wait for it without using up
      // attempts, order kept.
      this.logger.warn('work waits for an unavailable service', meta);
      await this.pause(lane, { ...head, lastError: { code, message } }, this.options.unavailableRetryMs);
      return false;
    }
    const attempts = head.attempts + 1;
    if (err instanceof PermanentError || attempts >= this.options.maxAttempts) {
      await this.bury(lane, head, head.id, code, message, attempts);
      return true;
    }
    const delay = backoffDelay(this.options.backoff, attempts, err);
    this.logger.warn('work failed; the lane retries later', { ...meta, attempts, retryInMs: delay });
    await this.pause(lane, { ...head, attempts, lastError: { code, message } }, delay);
    return false;
  }

  private async pause(lane: string, head: QueuedWork, delayMs: number): Promise<void> {
    const at = Date.now() + delayMs;
    this.backoffUntil.set(lane, at);
    await this.queue.retryLater(lane, head, at);
  }

  /** Dead-letters the head of the lane, says so loudly, and lets the lane move on. */
  private async bury(
    lane: string,
    work: QueuedWork | undefined,
    headId: string,
    code: string,
    reason: string,
    attempts: number,
  ): Promise<void> {
    const at = new Date().toISOString();
    const id = randomUUID();
    const stored: QueuedWork = work ?? {
      id: headId,
      lane,
      item: { kind: 'delivery-failure', customerKey: lane, messageId: '?', code, reason },
      attempts,
      enqueuedAt: at,
    };
    await this.queue.deadLetter(lane, headId, { id, work: { ...stored, attempts }, code, reason, at });
    const item = work?.item;
    const customerKey =
      item?.kind === 'customer-message'
        ? item.customer.key
        : item?.kind === 'delivery-failure'
          ? item.customerKey
          : lane.startsWith('ticket:')
            ? undefined
            : lane;
    this.logger.error('work dead-lettered; see `npm run bridge -- dlq list`', {
      lane: laneTag(lane),
      kind: item?.kind ?? 'unreadable',
      deadLetterId: id,
      attempts,
      code,
      error: reason,
    });
    this.events.emit('work.dead-lettered', {
      customerKey,
      kind: item?.kind ?? 'unreadable',
      deadLetterId: id,
      code,
      reason,
      attempts,
      at,
    });
    if (item?.kind === 'customer-message') {
      this.events.emit('delivery.failed', {
        customerKey: item.customer.key,
        direction: 'to-helpdesk',
        messageId: item.message.id,
        code,
        reason,
        at,
      });
    }
  }
}

/** A lane for logs: a customer's key is personal data, a ticket lane is not. */
function laneTag(lane: string): string {
  return lane.startsWith('ticket:') ? lane : logTag(lane);
}
