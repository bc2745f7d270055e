import { createState, type State } from '../../src/state/create-store';
import type { WorkItem, WorkQueue } from '../../src/core/work/queue';
import { captureLogs } from '../helpers/log-capture';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';
import { describeEachState, describeWithRedis } from '../helpers/requirements';

/** One suite, every backend (like Keyv's adapter tests): the queue's contract. */
const backends = ['memory', 'redis'] as const;

function message(n: number): WorkItem {
  return {
    kind: 'customer-message',
    customer: { key: 'ana@tunnel.msging.net', address: 'ana@tunnel.msging.net/x' },
    message: { id: `m${n}`, text: `text ${n}`, at: '2026-11-25T12:00:00.000Z' },
  };
}

function idOf(w: Awaited<ReturnType<WorkQueue['peek']>>[number]): string {
  if ('unreadable' in w) throw new Error(`unreadable: ${w.unreadable}`);
  return w.item.kind === 'customer-message' ? w.item.message.id : w.item.kind;
}

describeEachState(backends)('work queue (%s)', (backend) => {
  let redis: RedisServer | undefined;
  let state: State;
  let queue: WorkQueue;

  beforeAll(async () => {
    if (backend === 'redis') redis = await startRedisServer();
  }, 20_000);
  afterAll(async () => {
    await redis?.stop();
  });
  beforeEach(async () => {
    await redis?.flush();
    state = createState(redis?.url, captureLogs().logger);
    queue = state.queue;
  });
  afterEach(async () => {
    await state.store.close();
  });

  it('keeps each lane in order and the lanes apart', async () => {
    await queue.enqueue('ana', message(1));
    await queue.enqueue('bia', message(10));
    await queue.enqueue('ana', message(2));
    await Promise.all([3, 4, 5, 6].map((n) => queue.enqueue('ana', message(n))));
    expect((await queue.peek('ana', 10)).map(idOf)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6']);
    expect((await queue.peek('bia', 10)).map(idOf)).toEqual(['m10']);
    expect(await queue.dueLanes(Date.now(), 10)).toEqual(['ana', 'bia']);
    expect(await queue.depth()).toEqual({ queued: 7, lanes: 2, deadLetters: 0 });
  });

  it('acknowledges only the head items it names, and forgets an empty lane', async () => {
    const { work: first } = await queue.enqueue('ana', message(1));
    const { work: second } = await queue.enqueue('ana', message(2));
    // A worker that lost the lane names items that are no longer at the head: nothing is removed.
    expect(await queue.ack('ana', [second.id])).toBe(2);
    expect(await queue.ack('ana', [first.id])).toBe(1);
    expect(await queue.ack('ana', [first.id])).toBe(1);
    expect((await queue.peek('ana', 10)).map(idOf)).toEqual(['m2']);
    expect(await queue.ack('ana', [second.id])).toBe(0);
    expect(await queue.dueLanes(Date.now(), 10)).toEqual([]);
    expect(await queue.depth()).toEqual({ queued: 0, lanes: 0, deadLetters: 0 });
  });

  it('keeps a lane waiting for its retry, attempts recorded, new items behind the head', async () => {
    const { work } = await queue.enqueue('ana', message(1));
    const later = Date.now() + 60_000;
    await queue.retryLater('ana', { ...work, attempts: 1, lastError: { code: 'X', message: 'boom' } }, later);
    const { dueAtMs } = await queue.enqueue('ana', message(2));
    expect(dueAtMs).toBe(later);
    expect(await queue.dueLanes(Date.now(), 10)).toEqual([]);
    expect(await queue.dueLanes(later, 10)).toEqual(['ana']);
    const [head] = await queue.peek('ana', 1);
    expect(head).toMatchObject({ attempts: 1, lastError: { code: 'X' } });
    expect((await queue.peek('ana', 10)).map(idOf)).toEqual(['m1', 'm2']);
  });

  it('dead-letters the head, lets the lane go on, and replays or drops the letter', async () => {
    const { work } = await queue.enqueue('ana', message(1));
    await queue.enqueue('ana', message(2));
    await queue.retryLater('ana', { ...work, attempts: 3 }, Date.now() + 60_000);
    await queue.deadLetter('ana', work.id, {
      id: 'dl-1',
      work: { ...work, attempts: 3 },
      code: 'ZENDESK_422',
      reason: 'refused',
      at: new Date().toISOString(),
    });
    // The lane is due again at once for the item behind the dead one.
    expect(await queue.dueLanes(Date.now(), 10)).toEqual(['ana']);
    expect((await queue.peek('ana', 10)).map(idOf)).toEqual(['m2']);
    const letters = await queue.deadLetters();
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ id: 'dl-1', code: 'ZENDESK_422', work: { lane: 'ana', attempts: 3 } });
    expect(await queue.depth()).toEqual({ queued: 1, lanes: 1, deadLetters: 1 });

    expect(await queue.replay('dl-1')).toBe(true);
    expect(await queue.replay('dl-1')).toBe(false);
    const replayed = await queue.peek('ana', 10);
    expect(replayed.map(idOf)).toEqual(['m2', 'm1']);
    expect(replayed[1]).toMatchObject({ attempts: 0 });
    expect(await queue.deadLetters()).toEqual([]);

    await queue.deadLetter('ana', (replayed[0] as { id: string }).id, {
      id: 'dl-2',
      work: replayed[0] as never,
      code: 'X',
      reason: 'y',
      at: new Date().toISOString(),
    });
    expect(await queue.drop('dl-2')).toBe(true);
    expect(await queue.drop('dl-2')).toBe(false);
    expect(await queue.depth()).toEqual({ queued: 1, lanes: 1, deadLetters: 0 });
  });

  it('marks a head handed out before and not acknowledged since as redelivered, and never stores the mark', async () => {
    const { work: first } = await queue.enqueue('ana', message(1));
    await queue.enqueue('ana', message(2));
    const [taken] = (await queue.peek('ana', 10)) as Array<{ redelivered?: boolean }>;
    expect(taken!.redelivered).toBeUndefined();
    // Taken again without an ack: a worker died, or its attempt failed.
    const again = (await queue.peek('ana', 10)) as Array<{ redelivered?: boolean }>;
    expect(again.map((w) => w.redelivered)).toEqual([true, undefined]);
    // A retry keeps the mark (the failed attempt may have had effects); the stored entry has no such field.
    await queue.retryLater('ana', { ...first, attempts: 1, redelivered: true }, Date.now());
    const [retried] = (await queue.peek('ana', 1)) as Array<{ redelivered?: boolean; attempts: number }>;
    expect(retried).toMatchObject({ attempts: 1, redelivered: true });
    // Acknowledged: the next head is fresh.
    await queue.ack('ana', [first.id]);
    const [next] = (await queue.peek('ana', 1)) as Array<{ redelivered?: boolean }>;
    expect(next!.redelivered).toBeUndefined();
    // Dead-lettered: the mark goes with it, and a replay starts fresh.
    const nextId = (next as unknown as { id: string }).id;
    await queue.deadLetter('ana', nextId, { id: 'dl', work: next as never, code: 'X', reason: 'y', at: '' });
    await queue.replay('dl');
    const [replayed] = (await queue.peek('ana', 1)) as Array<{ redelivered?: boolean }>;
    expect(replayed!.redelivered).toBeUndefined();
  });

  it('gives a lane to one lease at a time, until the acknowledgement that empties it, a release or expiry', async () => {
    const a = { token: 'holder-a', ttlMs: 10_000 };
    const b = { token: 'holder-b', ttlMs: 10_000 };
    const { work: first } = await queue.enqueue('ana', message(1));
    const { work: second } = await queue.enqueue('ana', message(2));
    const taken = await queue.take('ana', 1, a);
    expect(taken !== 'held' && taken.map(idOf)).toEqual(['m1']);
    expect(await queue.take('ana', 1, b)).toBe('held');
    // The holder takes again (renewing): the head it had is marked as handed out before.
    const again = await queue.take('ana', 1, a);
    expect(again !== 'held' && again[0]).toMatchObject({ redelivered: true });
    // An acknowledgement that leaves items keeps the lane; the one that empties it gives the lane up.
    expect(await queue.ack('ana', [first.id], a)).toBe(1);
    expect(await queue.take('ana', 1, b)).toBe('held');
    expect(await queue.ack('ana', [second.id], a)).toBe(0);
    expect(await queue.take('ana', 1, b)).toEqual([]);
    // Renew and release act only for the holder.
    expect(await queue.renew('ana', a)).toBe(false);
    expect(await queue.renew('ana', b)).toBe(true);
    await queue.release('ana', a);
    expect(await queue.take('ana', 1, a)).toBe('held');
    await queue.release('ana', b);
    expect(await queue.take('ana', 1, a)).toEqual([]);
    await queue.release('ana', a);
    // A holder that stops renewing (it died) loses the lane when its lease runs out.
    await queue.enqueue('bia', message(3));
    expect(await queue.take('bia', 1, { token: 'dies', ttlMs: 150 })).not.toBe('held');
    expect(await queue.take('bia', 1, b)).toBe('held');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const taken2 = await queue.take('bia', 1, b);
    expect(taken2 !== 'held' && taken2.map(idOf)).toEqual(['m3']);
  });

  it('acknowledges and takes the next head in one step, for the holder only', async () => {
    const a = { token: 'holder-a', ttlMs: 10_000 };
    const b = { token: 'holder-b', ttlMs: 10_000 };
    const { work: first } = await queue.enqueue('ana', message(1));
    const { work: second } = await queue.enqueue('ana', message(2));
    await queue.enqueue('ana', message(3));
    const taken = await queue.take('ana', 1, a);
    expect(taken !== 'held' && taken.map(idOf)).toEqual(['m1']);
    // The next head comes back with the acknowledgement, handed out for the first time.
    const step = await queue.ackAndTake('ana', [first.id], a, 1);
    expect(step.left).toBe(2);
    expect(step.next !== 'held' && step.next?.map(idOf)).toEqual(['m2']);
    expect(step.next !== 'held' && step.next?.[0]).not.toHaveProperty('redelivered');
    expect(await queue.take('ana', 1, b)).toBe('held');
    // Taken again by the same holder (a retry): it was handed out before.
    const again = await queue.take('ana', 1, a);
    expect(again !== 'held' && again[0]).toMatchObject({ redelivered: true });
    // Another holder's lane: acknowledged (the items are still the head) but not taken.
    await queue.release('ana', a);
    expect(await queue.take('ana', 1, b)).not.toBe('held');
    expect(await queue.ackAndTake('ana', [second.id], a, 1)).toEqual({ left: 1, next: 'held' });
    // The acknowledgement that empties the lane gives it up and takes nothing.
    const last = await queue.take('ana', 1, b);
    const lastId = last !== 'held' && last[0] && !('unreadable' in last[0]) ? last[0].id : '';
    expect(await queue.ackAndTake('ana', [lastId], b, 1)).toEqual({ left: 0 });
    expect(await queue.take('ana', 1, a)).toEqual([]);
    expect(await queue.depth()).toMatchObject({ queued: 0 });
  });

  it('takes an empty, free lane with the enqueue when asked, and only then', async () => {
    const a = { token: 'holder-a', ttlMs: 10_000 };
    const b = { token: 'holder-b', ttlMs: 10_000 };
    const first = await queue.enqueue('ana', message(1), a);
    expect(first.taken?.map(idOf)).toEqual(['m1']);
    expect(await queue.take('ana', 1, b)).toBe('held');
    // Handed out with the enqueue: taking it again marks it as handed out before.
    const again = await queue.take('ana', 1, a);
    expect(again !== 'held' && again[0]).toMatchObject({ redelivered: true });
    // Not empty: the enqueue records the item and takes nothing.
    expect((await queue.enqueue('ana', message(2), b)).taken).toBeUndefined();
    expect(await queue.ack('ana', [first.work.id], a)).toBe(1);
    // A lane someone else holds (empty): the enqueue records the item and takes nothing.
    expect(await queue.take('cid', 1, b)).toEqual([]);
    expect((await queue.enqueue('cid', message(4), a)).taken).toBeUndefined();
    expect(await queue.depth()).toMatchObject({ queued: 2 });
  });

  it('does not dead-letter or retry an item that is no longer at the head', async () => {
    const { work } = await queue.enqueue('ana', message(1));
    await queue.ack('ana', [work.id]);
    await queue.enqueue('ana', message(2));
    await queue.retryLater('ana', { ...work, attempts: 5 }, Date.now() + 60_000);
    await queue.deadLetter('ana', work.id, { id: 'dl', work, code: 'X', reason: 'y', at: '' });
    expect(await queue.dueLanes(Date.now(), 10)).toEqual(['ana']);
    expect((await queue.peek('ana', 10)).map(idOf)).toEqual(['m2']);
    expect(await queue.deadLetters()).toEqual([]);
  });
});

describeWithRedis('work queue (redis): what only Redis can get wrong', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  }, 20_000);
  afterAll(async () => {
    await redis.stop();
  });

  it('returns a corrupt entry as unreadable instead of throwing, so the lane is not blocked', async () => {
    const state = createState(redis.url, captureLogs().logger);
    try {
      const client = await state.redis!();
      await client.rPush('bhb:q:lane:ana', ['not-an-entry', 'abc {"id":"abc"}']);
      const items = await state.queue.peek('ana', 10);
      expect(items).toHaveLength(2);
      expect(items[0]).toHaveProperty('unreadable');
      expect(items[1]).toMatchObject({ id: 'abc', unreadable: expect.any(String) });
    } finally {
      await state.store.close();
    }
  });

  it('is shared by every instance: work queued by one is seen by another', async () => {
    const a = createState(redis.url, captureLogs().logger);
    const b = createState(redis.url, captureLogs().logger);
    try {
      await a.queue.enqueue('lane-x', message(1));
      expect((await b.queue.peek('lane-x', 1)).map(idOf)).toEqual(['m1']);
    } finally {
      await a.store.close();
      await b.store.close();
    }
  });
});
