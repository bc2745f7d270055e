import type { Conversation } from '../../src/core/model';
import { createState, type State } from '../../src/state/create-store';
import { captureLogs } from '../helpers/log-capture';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';
import { describeEachState } from '../helpers/requirements';

function conversation(n: number, openedAt: string): Conversation {
  const key = `c${n}@tunnel.msging.net`;
  return {
    sessionId: `s${n}`,
    customer: { key, address: key },
    vendor: 'zendesk',
    status: 'open',
    ticket: { vendor: 'zendesk', id: String(100 + n) },
    openedAt,
    tags: [],
  };
}

describeEachState(['memory', 'redis'] as const)('conversation list (%s)', (backend) => {
  let redis: RedisServer | undefined;
  let state: State;

  beforeAll(async () => {
    if (backend === 'redis') redis = await startRedisServer();
  }, 20_000);
  afterAll(async () => {
    await redis?.stop();
  });
  beforeEach(async () => {
    await redis?.flush();
    state = createState(redis?.url, captureLogs().logger);
  });
  afterEach(async () => {
    await state.store.close();
  });

  it('lists the open conversations oldest first, whatever else the namespace holds', async () => {
    await state.store.save(conversation(2, '2026-11-25T12:00:02.000Z'));
    await state.store.save(conversation(1, '2026-11-25T12:00:01.000Z'));
    // A lane being worked (its lease token is not JSON), the queue's counter, a dedupe mark.
    await state.queue.enqueue('c1@tunnel.msging.net', {
      kind: 'force-close',
      customerKey: 'c1@tunnel.msging.net',
      reason: 'x',
    });
    expect(
      await state.queue.take('c1@tunnel.msging.net', 1, { token: 'worker-1', ttlMs: 60_000 }),
    ).toHaveLength(1);
    await state.store.markProcessed('in:c1:m1', 60_000);
    // On Redis, a value Keyv cannot read (as a key deleted between SCAN and MGET reads: null) must not stop the list.
    if (state.redis) await (await state.redis()).set('bhb::stray', 'not json');
    const listed = await state.store.list(100);
    expect(listed.map((c) => c.sessionId)).toEqual(['s1', 's2']);
    expect((await state.store.list(1)).length).toBe(1);
  });
});
