import { randomUUID } from 'node:crypto';
import { errorCode, errorMessage, PermanentError, RetryableError, UnavailableError } from '../errors';
import type { DomainEvents } from '../events';
import { logTag } from '../ids';
import type { Logger } from '../logger';
import type { QueuedWork, WorkQueue } from './queue';

export interface BackoffPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface FailurePolicyOptions {
  /** Processing attempts of one item before it is dead-lettered. */
  maxAttempts: number;
  /** Backoff between attempts (full jitter; `Retry-After` wins). */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Wait before trying again work that met an unavailable service (BLiP or Redis down); attempts are kept. */
  unavailableRetryMs: number;
  /** How long intake keeps trying to record a customer message while the queue cannot be reached. */
  recordForMs: number;
}

export const defaultFailurePolicyOptions: FailurePolicyOptions = {
  maxAttempts: 10,
  baseDelayMs: 500,
  maxDelayMs: 60_000,
  unavailableRetryMs: 1_000,
  recordForMs: 60_000,
};

/** Exponential backoff with full jitter; a wait the other side asked for (Retry-After) wins, capped by maxDelayMs. */
export function backoffDelay(
  policy: Pick<BackoffPolicy, 'baseDelayMs' | 'maxDelayMs'>,
  attempt: number,
  err: unknown,
  random = Math.random,
): number {
  if (err instanceof RetryableError && err.retryAfterMs !== undefined) {
    return Math.min(err.retryAfterMs, policy.maxDelayMs);
  }
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Where a failure happened (the step and its log fields), attached by the step that saw it. */
const failureSites = new WeakMap<object, { what: string; meta: Record<string, unknown> }>();

/**
 * Records which step failed and its log fields (customer tag, vendor, ticket) on the error, so the failure policy's
 * one line about it says where it happened. The first step to annotate an error wins (the innermost).
 */
export function annotateFailure(err: unknown, what: string, meta: Record<string, unknown>): void {
  if (typeof err === 'object' && err !== null && !failureSites.has(err))
    failureSites.set(err, { what, meta });
}

function siteOf(err: unknown): { what?: string; meta: Record<string, unknown> } {
  return (typeof err === 'object' && err !== null && failureSites.get(err)) || { meta: {} };
}

/** What became of a failed head: it waits in its lane (`paused`) or it went to the dead-letter list (`buried`). */
export type FailureOutcome = 'paused' | 'buried';

/**
 * The one owner of retries. Nothing else in the bridge tries a failed unit of work again: handlers and the vendor
 * gateway make one attempt and throw, and this decides what the failure means —
 * - a service that is away (`UnavailableError`: BLiP reconnecting, Redis restarting): the lane waits, attempts kept;
 * - a refusal that will not change (`PermanentError`), or the last attempt: the dead-letter list, loudly;
 * - anything else: the lane waits with exponential backoff and jitter (`Retry-After` wins), order kept.
 * It also owns the one wait of intake: a customer message is held while the queue cannot record it (BLiP does not
 * deliver it again), for `recordForMs`.
 */
export class FailurePolicy {
  readonly options: FailurePolicyOptions;

  constructor(
    private readonly queue: WorkQueue,
    private readonly events: DomainEvents,
    private readonly logger: Logger,
    options: Partial<FailurePolicyOptions> = {},
  ) {
    this.options = { ...defaultFailurePolicyOptions, ...options };
  }

  /** True when the next failure of `head` will not be retried (handlers then settle what they can). */
  isLastAttempt(head: QueuedWork): boolean {
    return head.attempts + 1 >= this.options.maxAttempts;
  }

  /**
   * Handles the failure of the lane's head: records it and, unless it is buried, keeps the whole lane waiting
   * until `retryAtMs` (returned in `retryAtMs`, for the runner's own schedule).
   */
  async failed(
    lane: string,
    head: QueuedWork,
    err: unknown,
  ): Promise<{ outcome: FailureOutcome; retryAtMs?: number }> {
    const code = errorCode(err);
    const message = errorMessage(err);
    const site = siteOf(err);
    const what = site.what ? `${site.what} failed` : 'work failed';
    const meta = { ...site.meta, lane: laneTag(lane), kind: head.item.kind, code, error: message };
    if (err instanceof UnavailableError) {
      this.logger.warn(`${what}; the work waits for an unavailable service`, meta);
      const retryAtMs = Date.now() + this.options.unavailableRetryMs;
      await this.queue.retryLater(lane, { ...head, lastError: { code, message } }, retryAtMs);
      return { outcome: 'paused', retryAtMs };
    }
    const attempts = head.attempts + 1;
    if (err instanceof PermanentError || attempts >= this.options.maxAttempts) {
      this.logger.error(`${what}; giving up`, { ...meta, attempts });
      await this.bury(lane, head, code, message, attempts);
      return { outcome: 'buried' };
    }
    const delay = backoffDelay(this.options, attempts, err);
    this.logger.warn(`${what}; the lane retries later`, { ...meta, attempts, delayMs: delay });
    const retryAtMs = Date.now() + delay;
    await this.queue.retryLater(lane, { ...head, attempts, lastError: { code, message } }, retryAtMs);
    return { outcome: 'paused', retryAtMs };
  }

  /** An item that cannot even be read back (corrupt, from an incompatible version): buried at once. */
  async unreadable(lane: string, id: string, reason: string): Promise<void> {
    const at = new Date().toISOString();
    const stored: QueuedWork = {
      id,
      lane,
      item: { kind: 'delivery-failure', customerKey: lane, messageId: '?', code: 'UNREADABLE_WORK', reason },
      attempts: 0,
      enqueuedAt: at,
    };
    await this.bury(lane, stored, 'UNREADABLE_WORK', reason, 0, 'unreadable');
  }

  /**
   * Records work through `record`, trying again while the queue is away (`UnavailableError`), for at most
   * `recordForMs`; other failures are thrown at once.
   */
  async untilRecorded(record: () => Promise<void>, meta: Record<string, unknown>): Promise<void> {
    const deadline = Date.now() + this.options.recordForMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await record();
        return;
      } catch (err) {
        if (!(err instanceof UnavailableError) || Date.now() >= deadline) throw err;
        const delayMs = Math.min(5_000, 100 * 2 ** attempt);
        this.logger.warn('could not record incoming work; retrying', {
          ...meta,
          attempt,
          delayMs,
          code: errorCode(err),
          error: errorMessage(err),
        });
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  }

  /** Dead-letters the head of the lane, says so loudly, and lets the lane move on. */
  private async bury(
    lane: string,
    work: QueuedWork,
    code: string,
    reason: string,
    attempts: number,
    kind: string = work.item.kind,
  ): Promise<void> {
    const at = new Date().toISOString();
    const id = randomUUID();
    await this.queue.deadLetter(lane, work.id, { id, work: { ...work, attempts }, code, reason, at });
    const item = work.item;
    const customerKey =
      kind === 'unreadable'
        ? undefined
        : item.kind === 'customer-message'
          ? item.customer.key
          : item.kind === 'delivery-failure' || item.kind === 'timer' || item.kind === 'force-close'
            ? item.customerKey
            : lane.startsWith('ticket:')
              ? undefined
              : lane;
    this.logger.error('work dead-lettered; see `blip-helpdesk-bridge dlq list`', {
      lane: laneTag(lane),
      kind,
      deadLetterId: id,
      attempts,
      code,
      error: reason,
    });
    this.events.emit('work.dead-lettered', {
      customerKey,
      kind,
      deadLetterId: id,
      code,
      reason,
      attempts,
      at,
    });
    if (item.kind === 'customer-message' && kind !== 'unreadable') {
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
export function laneTag(lane: string): string {
  return lane.startsWith('ticket:') ? lane : logTag(lane);
}
