import type { ChatMessage, CustomerRef, HelpdeskEvent } from '../model';

/**
 * A unit of work the bridge accepted and must finish: recorded durably before the sender is answered
 * (DESIGN.md §4.2), then processed in order within its lane.
 */
export type WorkItem =
  | { kind: 'customer-message'; customer: CustomerRef; message: ChatMessage }
  | { kind: 'helpdesk-event'; event: HelpdeskEvent }
  | { kind: 'delivery-failure'; customerKey: string; messageId: string; code: string; reason: string }
  /** A timer of the handoff came due (scheduled with `WorkQueue.schedule`); stale timers are ignored. */
  | { kind: 'timer'; customerKey: string; timer: TimerKind; sessionId: string }
  /** An operator closes the handoff (admin API / CLI). */
  | { kind: 'force-close'; customerKey: string; reason: string };

/**
 * `inactivity`: the customer has been silent while the agent waits for them; `no-agent`: nobody picked the
 * attendance up in time; `survey`: the customer did not rate the attendance in time (`BRIDGE_SURVEY_TIMEOUT_SECONDS`).
 */
export type TimerKind = 'inactivity' | 'no-agent' | 'survey';

export type WorkKind = WorkItem['kind'];

/** A work item as the queue holds it. */
export interface QueuedWork {
  /** Unique per enqueue; guards acknowledgements against a worker that lost its lane. */
  id: string;
  lane: string;
  item: WorkItem;
  /** Failed processing attempts so far (each attempt already includes the quick in-call retries). */
  attempts: number;
  enqueuedAt: string;
  /** The last failure, once there was one. */
  lastError?: { code: string; message: string };
  /**
   * Set by `peek` on the lane's head when an earlier peek already handed that item out and it was neither
   * acknowledged nor dead-lettered since: an earlier attempt (one that failed, timed out, or died with its process)
   * may have had effects. Never stored.
   */
  redelivered?: boolean;
}

/** A unit of work that failed for good: kept, with the reason, until an operator replays or drops it. */
export interface DeadLetter {
  id: string;
  work: QueuedWork;
  code: string;
  reason: string;
  at: string;
}

/**
 * Durable, per-lane FIFO queue. A lane is one customer (`customer key`), or one ticket whose customer was not
 * known yet (`ticket:<vendor>:<id>`). Lanes proceed in parallel; inside a lane, one worker at a time (the runner
 * holds the lane's lease: `take`) takes items from the head. Implemented in `src/state` over Redis (shared by every
 * instance, survives crashes) or in memory (one instance, lost on restart).
 */
/** Who works a lane (a random token per drain), and how long the lane stays theirs without a renewal. */
export interface LaneLease {
  token: string;
  ttlMs: number;
}

export interface WorkQueue {
  /**
   * Appends to the lane's tail; when it resolves, the item is recorded (in Redis: durably). `dueAtMs` is when the
   * lane is due: later than now while its head waits for a retry. With `lease`, when the lane was empty and no one
   * held it, the same step takes the lane for the lease and hands the item out as its head (`taken`, as `take`
   * would return it). `behind`: the lane held other items when this one was recorded (a drain of the lane reaches it
   * before it leaves the lane empty).
   */
  enqueue(
    lane: string,
    item: WorkItem,
    lease?: LaneLease,
  ): Promise<{ work: QueuedWork; dueAtMs: number; taken?: QueuedWork[]; behind?: boolean }>;
  /** Lanes with work due at `nowMs` (not waiting for a retry), oldest first, at most `limit`. */
  dueLanes(nowMs: number, limit: number): Promise<string[]>;
  /**
   * Up to `max` items from the lane's head; the head is marked as handed out (see `QueuedWork.redelivered`). An item that cannot be read back (corrupt, from an incompatible
   * version) is returned as `unreadable` so the runner dead-letters it instead of blocking the lane.
   */
  peek(lane: string, max: number): Promise<Array<QueuedWork | { unreadable: string; id: string }>>;
  /**
   * Takes the lane for `lease` (or renews it when the lease already has it), then peeks as `peek` does, in one
   * step: `'held'` when another holder has the lane. One worker per lane across all instances; a lease not
   * renewed within its `ttlMs` (its holder died) frees the lane.
   */
  take(
    lane: string,
    max: number,
    lease: LaneLease,
  ): Promise<Array<QueuedWork | { unreadable: string; id: string }> | 'held'>;
  /** Keeps the lease for another `ttlMs` (long work); false when it was lost. */
  renew(lane: string, lease: LaneLease): Promise<boolean>;
  /**
   * Gives the lane up, if `lease` still has it. `unclaim`: the id of the head the lease was taken with and that no
   * handler saw (an enqueue took the lane, no worker was free): it is not marked handed out, so its first run is
   * not taken for a redelivery (`QueuedWork.redelivered`).
   */
  release(lane: string, lease: LaneLease, unclaim?: string): Promise<void>;
  /**
   * Removes the given items from the lane's head, in order, but only while they are still there (a worker
   * that lost its lane must not remove someone else's items). Returns how many items remain in the lane. With
   * `lease`, the lane is given up in the same step when nothing remains.
   */
  ack(lane: string, ids: string[], lease?: LaneLease): Promise<number>;
  /**
   * `ack` with `lease`, then, when items are left, `take` of up to `max` items for the same lease, in one step:
   * `next` is what `take` would return (absent when the lane was left empty and given up).
   */
  ackAndTake(
    lane: string,
    ids: string[],
    lease: LaneLease,
    max: number,
  ): Promise<{ left: number; next?: Array<QueuedWork | { unreadable: string; id: string }> | 'held' }>;
  /** Records a failed attempt on the head item and keeps the whole lane waiting until `retryAtMs`. */
  retryLater(lane: string, head: QueuedWork, retryAtMs: number): Promise<void>;
  /** Moves the head item to the dead-letter list. */
  deadLetter(lane: string, headId: string, letter: DeadLetter): Promise<void>;
  /** Dead letters, oldest first. */
  deadLetters(limit?: number): Promise<DeadLetter[]>;
  /** Puts a dead letter back at the tail of its lane (attempts reset); false when there is no such letter. */
  replay(deadLetterId: string): Promise<boolean>;
  /** Deletes a dead letter; false when there is no such letter. */
  drop(deadLetterId: string): Promise<boolean>;
  /**
   * Puts `item` into `lane` at `atMs` (durably): a timer that survives restarts and fires once, on whichever
   * instance scans first. Scheduling again under the same `key` replaces the earlier one; `cancel` removes it.
   */
  schedule(key: string, lane: string, item: WorkItem, atMs: number): Promise<void>;
  cancel(key: string): Promise<void>;
  /** Moves timers due at `nowMs` into their lanes (at most `limit`); returns the lanes that got work. */
  promoteTimers(nowMs: number, limit: number): Promise<string[]>;
  /** Items waiting in all lanes, and dead letters (metrics, readiness, shutdown). */
  depth(): Promise<{ queued: number; lanes: number; deadLetters: number }>;
}

/** The lane of a helpdesk event whose customer is not known yet. */
export function ticketLane(vendor: string, ticketId: string): string {
  return `ticket:${vendor}:${ticketId}`;
}
