/**
 * The failure policy: the one owner of retries (backoff with jitter, Retry-After, attempts, dead letters) and the
 * intake's hold while the queue is away. Driven over the real in-memory work queue; the lanes that use it are in
 * lane-runner.test.ts.
 */
import { PermanentError, RetryableError, UnavailableError } from '../../src/core/errors';
import { DomainEvents, type DomainEventMap, type DomainEventName } from '../../src/core/events';
import {
  annotateFailure,
  backoffDelay,
  FailurePolicy,
  type FailurePolicyOptions,
} from '../../src/core/work/failure-policy';
import type { QueuedWork, WorkItem } from '../../src/core/work/queue';
import { MemoryWorkQueue } from '../../src/state/memory-work-queue';
import { captureLogs } from '../helpers/log-capture';

const policy = { baseDelayMs: 100, maxDelayMs: 1_000 };

describe('backoffDelay', () => {
  it('grows exponentially with full jitter between half and all of the ceiling', () => {
    const low = () => 0;
    const high = () => 1;
    expect([1, 2, 3].map((a) => backoffDelay(policy, a, new Error('x'), low))).toEqual([50, 100, 200]);
    expect([1, 2, 3].map((a) => backoffDelay(policy, a, new Error('x'), high))).toEqual([100, 200, 400]);
  });

  it('never exceeds maxDelayMs', () => {
    expect(backoffDelay(policy, 10, new Error('x'), () => 1)).toBe(1_000);
    expect(backoffDelay(policy, 30, new Error('x'), () => 0.5)).toBeLessThanOrEqual(1_000);
  });

  it('honours the wait the other side asked for, capped by maxDelayMs', () => {
    expect(backoffDelay(policy, 1, new RetryableError('429', 'RATE', 700), () => 0)).toBe(700);
    expect(backoffDelay(policy, 1, new RetryableError('429', 'RATE', 0), () => 1)).toBe(0);
    expect(backoffDelay(policy, 1, new RetryableError('429', 'RATE', 60_000), () => 0)).toBe(1_000);
  });
});

const T0 = new Date('2026-11-25T12:00:00.000Z').getTime();
const LANE = 'c1@tunnel.msging.net';
const customerMessage: WorkItem = {
  kind: 'customer-message',
  customer: { key: LANE, address: `${LANE}/r` },
  message: { id: 'm1', text: 'oi', at: '2026-11-25T12:00:00.000Z' },
};

function setup(options: Partial<FailurePolicyOptions> = {}) {
  const queue = new MemoryWorkQueue();
  const events = new DomainEvents();
  const emitted: Array<{ name: DomainEventName; payload: DomainEventMap[DomainEventName] }> = [];
  for (const name of ['work.dead-lettered', 'delivery.failed'] as const) {
    events.on(name, (payload) => void emitted.push({ name, payload }));
  }
  const logs = captureLogs();
  const failures = new FailurePolicy(queue, events, logs.logger, {
    maxAttempts: 3,
    baseDelayMs: 100,
    maxDelayMs: 1_000,
    unavailableRetryMs: 250,
    recordForMs: 1_000,
    ...options,
  });
  /** Queues `item` (and `behind`) in `lane` and hands out its head, as the runner does. */
  const head = async (
    item: WorkItem = customerMessage,
    lane = LANE,
    behind?: WorkItem,
  ): Promise<QueuedWork> => {
    await queue.enqueue(lane, item);
    if (behind) await queue.enqueue(lane, behind);
    return (await queue.peek(lane, 1))[0] as QueuedWork;
  };
  return { queue, emitted, logs, failures, head };
}

describe('FailurePolicy.failed', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('keeps the lane waiting for a service that is away, without counting an attempt', async () => {
    const { queue, failures, head, emitted } = setup();
    const work = await head();
    const err = new UnavailableError('BLiP session not established', 'BLIP_NOT_CONNECTED');
    expect(await failures.failed(LANE, work, err)).toEqual({ outcome: 'paused', retryAtMs: T0 + 250 });
    expect(await queue.dueLanes(T0 + 249, 10)).toEqual([]);
    expect(await queue.dueLanes(T0 + 250, 10)).toEqual([LANE]);
    const [again] = (await queue.peek(LANE, 1)) as QueuedWork[];
    expect(again).toMatchObject({
      id: work.id,
      attempts: 0,
      redelivered: true,
      lastError: { code: 'BLIP_NOT_CONNECTED' },
    });
    // However often: attempts are never used up, nothing is buried.
    for (let i = 0; i < 10; i++) await failures.failed(LANE, again!, err);
    expect((await queue.depth()).deadLetters).toBe(0);
    expect(emitted).toEqual([]);
  });

  it('retries anything else later, with backoff and jitter, counting the attempt', async () => {
    const { queue, failures, head, logs } = setup();
    const work = await head();
    const { outcome, retryAtMs } = await failures.failed(
      LANE,
      work,
      new RetryableError('503', 'FAKEDESK_503'),
    );
    expect(outcome).toBe('paused');
    expect(retryAtMs).toBeGreaterThanOrEqual(T0 + 50);
    expect(retryAtMs).toBeLessThanOrEqual(T0 + 100);
    expect((await queue.peek(LANE, 1))[0]).toMatchObject({
      attempts: 1,
      lastError: { code: 'FAKEDESK_503' },
    });
    // A bug is retried too (its code is UNEXPECTED): the next attempt may pass, and the last one buries it.
    await failures.failed(LANE, { ...work, attempts: 1 }, new TypeError('x is undefined'));
    expect((await queue.peek(LANE, 1))[0]).toMatchObject({ attempts: 2, lastError: { code: 'UNEXPECTED' } });
    expect(logs.lines().filter((l) => l.message.endsWith('; the lane retries later'))).toEqual([
      expect.objectContaining({ level: 'warn', code: 'FAKEDESK_503', attempts: 1 }),
      expect.objectContaining({ level: 'warn', code: 'UNEXPECTED', attempts: 2 }),
    ]);
  });

  it('says in its one line which step failed, and where (the first step to mark the error)', async () => {
    const { failures, head, logs } = setup();
    const err = new RetryableError('503', 'FAKEDESK_503');
    annotateFailure(err, 'appendCustomerMessage', { vendor: 'fakedesk', ticket: '7' });
    annotateFailure(err, 'the handler', { ticket: 'other' });
    await failures.failed(LANE, await head(), err);
    expect(logs.lines()).toEqual([
      expect.objectContaining({
        level: 'warn',
        message: 'appendCustomerMessage failed; the lane retries later',
        vendor: 'fakedesk',
        ticket: '7',
        code: 'FAKEDESK_503',
        error: '503',
      }),
    ]);
  });

  it('waits as long as the other side asked (Retry-After), capped by maxDelayMs', async () => {
    const { failures, head } = setup();
    const work = await head();
    const asked = await failures.failed(LANE, work, new RetryableError('429', 'FAKEDESK_RATE_LIMITED', 700));
    expect(asked.retryAtMs).toBe(T0 + 700);
    const tooLong = await failures.failed(
      LANE,
      work,
      new RetryableError('429', 'FAKEDESK_RATE_LIMITED', 3_600_000),
    );
    expect(tooLong.retryAtMs).toBe(T0 + 1_000);
  });

  it('buries a permanent refusal at once, says so, and lets the lane go on', async () => {
    const { queue, failures, head, emitted, logs } = setup();
    const behind: WorkItem = {
      ...customerMessage,
      message: { ...customerMessage.message, id: 'm2' },
    } as WorkItem;
    const work = await head(customerMessage, LANE, behind);
    const err = new PermanentError('422 bad requester', 'FAKEDESK_422');
    expect(await failures.failed(LANE, work, err)).toEqual({ outcome: 'buried' });
    const [letter] = await queue.deadLetters();
    expect(letter).toMatchObject({
      code: 'FAKEDESK_422',
      reason: '422 bad requester',
      work: { id: work.id, lane: LANE, attempts: 1, item: customerMessage },
    });
    expect(emitted).toEqual([
      {
        name: 'work.dead-lettered',
        payload: expect.objectContaining({
          customerKey: LANE,
          kind: 'customer-message',
          deadLetterId: letter!.id,
          code: 'FAKEDESK_422',
          attempts: 1,
        }),
      },
      {
        name: 'delivery.failed',
        payload: expect.objectContaining({
          customerKey: LANE,
          direction: 'to-helpdesk',
          messageId: 'm1',
          code: 'FAKEDESK_422',
        }),
      },
    ]);
    expect(logs.lines().find((l) => l.message.startsWith('work dead-lettered'))).toMatchObject({
      level: 'error',
      deadLetterId: letter!.id,
    });
    // The lane goes on with the message behind it, due now.
    expect(await queue.dueLanes(T0, 10)).toEqual([LANE]);
    expect((await queue.peek(LANE, 1))[0]).toMatchObject({ item: behind });
  });

  it('buries the last attempt (isLastAttempt tells the handler beforehand)', async () => {
    const { queue, failures, head } = setup({ maxAttempts: 3 });
    const work = await head();
    expect(failures.isLastAttempt(work)).toBe(false);
    expect(failures.isLastAttempt({ ...work, attempts: 1 })).toBe(false);
    const last = { ...work, attempts: 2 };
    expect(failures.isLastAttempt(last)).toBe(true);
    expect(await failures.failed(LANE, last, new RetryableError('503', 'FAKEDESK_503'))).toEqual({
      outcome: 'buried',
    });
    expect(await queue.deadLetters()).toEqual([
      expect.objectContaining({ code: 'FAKEDESK_503', work: expect.objectContaining({ attempts: 3 }) }),
    ]);
  });

  it('names the customer of a dead letter when it has one (never for a ticket lane); delivery.failed is for messages only', async () => {
    const { failures, head, emitted } = setup();
    const event: WorkItem = {
      kind: 'helpdesk-event',
      event: { kind: 'ticket.closed', ticket: { vendor: 'fakedesk', id: '7' }, eventId: 'e1' },
    };
    const lane = 'ticket:fakedesk:7';
    await failures.failed(lane, await head(event, lane), new PermanentError('no', 'NO'));
    const timer: WorkItem = { kind: 'timer', customerKey: LANE, timer: 'no-agent', sessionId: 's1' };
    await failures.failed(LANE, await head(timer), new PermanentError('no', 'NO'));
    expect(emitted.map((e) => [e.name, (e.payload as { customerKey?: string }).customerKey])).toEqual([
      ['work.dead-lettered', undefined],
      ['work.dead-lettered', LANE],
    ]);
  });

  it('buries an entry that cannot be read back without naming a customer (moved on Redis: lane-runner.test.ts)', async () => {
    const { failures, emitted } = setup();
    await failures.unreadable(LANE, 'abc', 'not JSON');
    expect(emitted).toEqual([
      {
        name: 'work.dead-lettered',
        payload: expect.objectContaining({
          kind: 'unreadable',
          customerKey: undefined,
          code: 'UNREADABLE_WORK',
          reason: 'not JSON',
          attempts: 0,
        }),
      },
    ]);
  });
});

describe('FailurePolicy.untilRecorded', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  const away = () => new UnavailableError('state store (Redis) unavailable', 'STATE_STORE_UNAVAILABLE');

  it('holds the work while the queue is away, trying again with growing waits, until it is recorded', async () => {
    const { failures, logs } = setup({ recordForMs: 10_000 });
    let calls = 0;
    const record = jest.fn(async () => {
      if (++calls <= 2) throw away();
    });
    let done = false;
    const held = failures.untilRecorded(record, { messageId: 'm1' }).then(() => (done = true));
    await jest.advanceTimersByTimeAsync(199);
    expect(record).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(record).toHaveBeenCalledTimes(2);
    await jest.advanceTimersByTimeAsync(399);
    expect(record).toHaveBeenCalledTimes(2);
    expect(done).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    await held;
    expect(record).toHaveBeenCalledTimes(3);
    expect(logs.lines().filter((l) => l.message === 'could not record incoming work; retrying')).toEqual([
      expect.objectContaining({ attempt: 1, delayMs: 200, code: 'STATE_STORE_UNAVAILABLE', messageId: 'm1' }),
      expect.objectContaining({ attempt: 2, delayMs: 400, code: 'STATE_STORE_UNAVAILABLE', messageId: 'm1' }),
    ]);
  });

  it('throws any other failure at once', async () => {
    const { failures } = setup();
    const bug = new PermanentError('bad item', 'BAD');
    const record = jest.fn(async () => {
      throw bug;
    });
    await expect(failures.untilRecorded(record, {})).rejects.toBe(bug);
    expect(record).toHaveBeenCalledTimes(1);
  });

  it('gives up once recordForMs has passed, with the last failure', async () => {
    const { failures } = setup({ recordForMs: 500 });
    const record = jest.fn(async () => {
      throw away();
    });
    const held = failures.untilRecorded(record, {});
    const outcome = expect(held).rejects.toBeInstanceOf(UnavailableError);
    await jest.advanceTimersByTimeAsync(200 + 400);
    await outcome;
    // 0 ms, 200 ms, 600 ms: the third try is past the deadline, and its failure is the answer.
    expect(record).toHaveBeenCalledTimes(3);
  });
});
