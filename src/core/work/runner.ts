import { randomUUID } from 'node:crypto';
import { errorCode, errorMessage } from '../errors';
import type { Logger } from '../logger';
import type { FailurePolicy } from './failure-policy';
import { laneTag } from './failure-policy';
import type { LaneLease, QueuedWork, WorkItem, WorkQueue } from './queue';

/** What a peek or take hands out: items, or an entry that cannot be read back. */
type Peeked = Awaited<ReturnType<WorkQueue['peek']>>;

/** The head of a lane, handed to the handler of its kind. */
export interface WorkRun {
  lane: string;
  head: QueuedWork;
  /**
   * An earlier attempt at the head (one that failed, timed out, or died with its process) may have had effects:
   * writes the vendor cannot dedupe by key are checked first (`WriteAttempt.redelivered`).
   */
  redelivered: boolean;
  /** A failure now would not be retried (the failure policy dead-letters it): settle what can be settled. */
  lastAttempt: boolean;
  /**
   * Up to `max` readable items from the head of the lane, the head first, stopping at the first unreadable one:
   * for a handler that does several at once (customer messages coalesced into one comment).
   */
  more(max: number): Promise<QueuedWork[]>;
}

/** Does the head of a lane; resolves with how many items, from the head, are done (at least 1). */
export type WorkHandler = (run: WorkRun) => Promise<number>;

export interface LaneRunnerOptions {
  /** Lanes (customers) worked on at once by this instance. */
  concurrency: number;
  /** How often to look for lanes queued by other instances, or whose retry is due. */
  scanIntervalMs: number;
  /**
   * How long a lane stays this instance's without a renewal (renewed every third of it while work runs): after a
   * crash, its lanes wait this long before another instance takes them.
   */
  leaseMs: number;
}

export const defaultLaneRunnerOptions: LaneRunnerOptions = {
  concurrency: 64,
  scanIntervalMs: 250,
  leaseMs: 15_000,
};

/** Items read when a lane is taken: the head alone (a handler that wants more asks, `WorkRun.more`). */
const PEEK = 1;

/**
 * Runs the work queue: one lane per customer, in order, one worker per lane across all instances (the lane's lease,
 * taken with its first peek — the only exclusivity mechanism of the bridge), lanes in parallel. The head of a lane
 * goes to the handler; what it finished is acknowledged (and the next head taken, in one step); a failure goes to
 * the failure policy, which keeps the lane waiting or dead-letters the head.
 */
export class LaneRunner {
  private readonly options: LaneRunnerOptions;
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
  private handler: WorkHandler = () => Promise.reject(new Error('no work handler set'));

  constructor(
    private readonly queue: WorkQueue,
    private readonly failures: FailurePolicy,
    private readonly logger: Logger,
    options: Partial<LaneRunnerOptions> = {},
  ) {
    this.options = { ...defaultLaneRunnerOptions, ...options };
  }

  /** Who does each head (the handoff's handlers; set once, before `start`). */
  handleWith(handler: WorkHandler): void {
    this.handler = handler;
  }

  /**
   * Records `item` at the tail of `lane`; resolves once it is recorded (durably on Redis), never waiting for the
   * work. When this instance can work the lane at once and the lane was empty and free, the same step takes its
   * lease (one round trip instead of enqueue, then take) and the drain starts with the item.
   */
  async submit(lane: string, item: WorkItem): Promise<void> {
    const lease = this.canStart(lane) ? this.newLease() : undefined;
    const { dueAtMs, taken, behind } = await this.queue.enqueue(lane, item, lease);
    if (taken && lease) {
      if (this.canStart(lane)) return this.launch(lane, lease, taken);
      // Another drain of this lane began here meanwhile, or no worker is free now: the lane is given back, and its
      // head is not marked handed out (no handler saw it; its first run must not be taken for a redelivery, which
      // makes a vendor without idempotency keys look the write up first).
      await this.queue.release(lane, lease, taken[0]!.id);
    }
    // Recorded behind other items of a lane this instance drains: the drain reaches it (it leaves a lane only once an
    // acknowledgement empties it, or the lane waits for a retry or is another instance's, which the scan and that
    // instance take up). A second drain would only find the lane empty (a take and an acknowledgement for nothing).
    if (behind === true && this.active.has(lane)) return;
    if (dueAtMs <= Date.now()) this.kick(lane);
  }

  start(): void {
    this.stopping = false;
    this.scheduleScan(0);
  }

  /**
   * Stops taking lanes, lets the items in progress finish (at most `graceMs`), and leaves the rest queued: on Redis
   * another instance (or this one after a restart) takes it up. With `finishQueued` (memory mode, where the queue
   * dies with the process) it first works the whole queue, within the same budget.
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
    this.logger.info('work runner stopped', {
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
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
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
   * Hands the head of the lane to its handler and acknowledges what it finished. Resolves with what is left: more
   * work, an empty lane, or a pause (its head waits for a retry).
   */
  private async work(
    lane: string,
    head: Peeked,
    lease: LaneLease,
  ): Promise<{ outcome: 'more' | 'empty' | 'paused'; next?: Peeked | 'held' }> {
    const first = head[0]!;
    if ('unreadable' in first) {
      await this.failures.unreadable(lane, first.id, first.unreadable);
      return { outcome: 'more' };
    }
    // The handler's view of the lane: the head, and what `more` read after it.
    let items: QueuedWork[] = [first];
    const run: WorkRun = {
      lane,
      head: first,
      redelivered: first.redelivered === true,
      lastAttempt: this.failures.isLastAttempt(first),
      more: async (max) => {
        const peeked = max <= head.length ? head : await this.queue.peek(lane, max);
        items = readablePrefix(peeked);
        // The head must still be ours (it always is while the lease holds).
        if (items[0]?.id !== first.id) items = [first];
        return items;
      },
    };
    try {
      // The handler first: `more` may have read further items meanwhile (`items` must be read after it).
      const finished = await this.handler(run);
      const done = Math.max(1, Math.min(items.length, finished));
      const ids = items.slice(0, done).map((w) => w.id);
      // Stopping: acknowledged only, so the next head is not marked as handed out (it would count as redelivered).
      const { left, next } = this.stopping
        ? { left: await this.queue.ack(lane, ids, lease), next: undefined }
        : await this.queue.ackAndTake(lane, ids, lease, PEEK);
      this.backoffUntil.delete(lane);
      return left > 0 ? { outcome: 'more', next } : { outcome: 'empty' };
    } catch (err) {
      const { outcome, retryAtMs } = await this.failures.failed(lane, first, err);
      if (retryAtMs !== undefined) this.backoffUntil.set(lane, retryAtMs);
      return { outcome: outcome === 'buried' ? 'more' : 'paused' };
    }
  }
}

function readablePrefix(peeked: Peeked): QueuedWork[] {
  const items: QueuedWork[] = [];
  for (const w of peeked) {
    if ('unreadable' in w) break;
    items.push(w);
  }
  return items;
}
