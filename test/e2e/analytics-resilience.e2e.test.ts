/**
 * A tool that hangs and a tool that answers 500 delay nobody: the emitting call only enqueues, the healthy tool gets
 * every event while the others are down, and once they recover they get every event too, in order, none lost.
 * In memory and on a real redis-server (durable queues shared by the instances).
 */
import { AnalyticsHub } from '../../src/analytics';
import { redisQueueKeys } from '../../src/analytics/queue';
import { DomainEvents } from '../../src/core/events';
import { silentLogger } from '../../src/core/logger';
import { createState, REDIS_PREFIX, type State } from '../../src/state/create-store';
import { analyticsConfig, fastTuning, handoffEvents as h } from '../helpers/analytics-fixtures';
import { AnalyticsReceiver } from '../helpers/analytics-receiver';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';
import { describeEachState } from '../helpers/requirements';

jest.setTimeout(30_000);

const N = 20;
const message = (i: number) => ({
  ...h.customerMessage,
  messageId: `m-${i}`,
  text: `message ${i}`,
  at: new Date().toISOString(),
});

/** The customer-message ids each tool got, first occurrence order (a retried request may repeat one). */
const webhookIds = (r: AnalyticsReceiver) =>
  unique(r.requests.map((q) => (q.body as { message: { id: string } }).message.id));
const dashbotIds = (r: AnalyticsReceiver) =>
  unique(r.requests.map((q) => (q.body as { platformJson: { messageId: string } }).platformJson.messageId));
const segmentIds = (r: AnalyticsReceiver) =>
  unique(
    r.requests.flatMap((q) =>
      (q.body as { batch: Array<{ properties: { messageId: string } }> }).batch.map(
        (t) => t.properties.messageId,
      ),
    ),
  );
const unique = (xs: string[]) => [...new Set(xs)];
const expected = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `m-${from + i}`);

describeEachState([['memory'], ['redis']])('analytics hub with %s queues', (mode) => {
  let redis: RedisServer | undefined;
  let state: State | undefined;
  const hubs: AnalyticsHub[] = [];
  let hanging: AnalyticsReceiver;
  let failing: AnalyticsReceiver;
  let healthy: AnalyticsReceiver;

  beforeAll(async () => {
    if (mode === 'redis') redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  beforeEach(async () => {
    await redis?.flush();
    if (redis) state = createState(redis.url, silentLogger);
    hanging = await AnalyticsReceiver.start('hang');
    failing = await AnalyticsReceiver.start({ status: 500, body: { error: 'down' } });
    healthy = await AnalyticsReceiver.start('ok');
  });
  afterEach(async () => {
    await Promise.all(hubs.splice(0).map((hub) => hub.stop()));
    await Promise.all([hanging.stop(), failing.stop(), healthy.stop()]);
    await state?.store.close();
    state = undefined;
  });

  const env = (): Record<string, string> => ({
    // The hanging tool never answers within the test: the request stays open until it is released.
    ANALYTICS_TIMEOUT_MS: '60000',
    ANALYTICS_FLUSH_TIMEOUT_MS: '2000',
    ANALYTICS_WEBHOOK_ENABLED: 'true',
    ANALYTICS_WEBHOOK_URL: hanging.url,
    ANALYTICS_WEBHOOK_SECRET: 'webhook-secret-0123456789',
    ANALYTICS_SEGMENT_ENABLED: 'true',
    ANALYTICS_SEGMENT_WRITE_KEY: 'wk',
    ANALYTICS_SEGMENT_URL: failing.url,
    ANALYTICS_DASHBOT_ENABLED: 'true',
    ANALYTICS_DASHBOT_API_KEY: 'k',
    ANALYTICS_DASHBOT_URL: healthy.url,
  });
  const startHub = (extra: Record<string, string> = {}) => {
    const hub = new AnalyticsHub(analyticsConfig({ ...env(), ...extra }), {
      logger: silentLogger,
      bot: 'acmehelpdesk@msging.net',
      redis: state?.redis,
      redisPrefix: REDIS_PREFIX,
      ...fastTuning,
    });
    hubs.push(hub);
    return hub;
  };

  it('a hanging tool and a failing tool delay neither the bridge nor the healthy tool, and catch up when they recover', async () => {
    const hub = startHub();
    const events = new DomainEvents();
    hub.attach(events);

    for (let i = 0; i < N; i++) {
      // The emitter is the bridge: the listener returns nothing to wait for, whatever the tools do.
      expect(hub.publish('customer.message', message(i))).toBeUndefined();
      events.emit('customer.message', { ...message(i), messageId: `dup-${i}` });
    }

    // The healthy tool gets everything while the webhook holds its first request and the other answers 500.
    await healthy.waitFor(
      // Sent is counted when the tool answered; the item leaves the Redis queue a moment later.
      () =>
        dashbotIds(healthy).length === 2 * N &&
        hub.stats().dashbot!.sent === 2 * N &&
        hub.stats().dashbot!.queueDepth === 0,
      15_000,
      'every event at the healthy tool',
    );
    expect(hanging.holding).toBe(1);
    expect(hanging.requests).toHaveLength(1);
    await failing.waitFor(
      () => hub.stats().segment!.circuit !== 'closed',
      15_000,
      'the failing sink circuit open',
    );
    expect(hub.stats().segment!.retried).toBeGreaterThan(0);
    expect(hub.stats().segment!.sent).toBe(0);
    expect(hub.stats().webhook!.queueDepth).toBe(2 * N);
    expect(hub.stats().dashbot).toMatchObject({ sent: 2 * N, queueDepth: 0, dropped: 0, circuit: 'closed' });

    // Recovery.
    failing.setMode('ok');
    hanging.setMode('ok');
    const all = expected(N).flatMap((id, i) => [id, `dup-${i}`]);
    await hanging.waitFor(() => webhookIds(hanging).length === 2 * N, 15_000, 'every event at the webhook');
    await failing.waitFor(
      () => segmentIds(failing).length === 2 * N,
      15_000,
      'every event at the segment sink',
    );
    expect(webhookIds(hanging)).toEqual(all);
    expect(segmentIds(failing)).toEqual(all);
    expect(dashbotIds(healthy)).toEqual(all);
    // The tool records a request before the hub reads its answer: let the counters catch up.
    const settled = () =>
      ['webhook', 'segment', 'dashbot'].every((name) => {
        const st = hub.stats()[name]!;
        return st.sent === 2 * N && st.queueDepth === 0;
      });
    await healthy.waitFor(settled, 5_000, 'every sink counted all events as sent');
    for (const name of ['webhook', 'segment', 'dashbot']) {
      expect(hub.stats()[name]).toMatchObject({ sent: 2 * N, failed: 0, dropped: 0, queueDepth: 0 });
    }
    await failing.waitFor(() => hub.stats().segment!.circuit === 'closed', 5_000, 'circuit closed again');
  });

  if (mode === 'redis') {
    it('keeps the queued events in Redis across a restart and delivers them from the next instance', async () => {
      const first = startHub({ ANALYTICS_WEBHOOK_ENABLED: 'false', ANALYTICS_DASHBOT_ENABLED: 'false' });
      for (let i = 0; i < 5; i++) first.publish('customer.message', message(i));
      await failing.waitFor(() => failing.requests.length >= 2, 10_000, 'failed attempts');
      await first.stop();
      const keys = redisQueueKeys(REDIS_PREFIX, 'segment');
      const client = await state!.redis!();
      const stored = (await client.lLen(keys.queue)) + (await client.lLen(keys.processing));
      expect(stored).toBe(5);
      expect(await client.exists(keys.lease)).toBe(0); // released at stop

      failing.setMode('ok');
      const seen = failing.requests.length;
      startHub({ ANALYTICS_WEBHOOK_ENABLED: 'false', ANALYTICS_DASHBOT_ENABLED: 'false' });
      await failing.waitFor(
        () => segmentIds({ requests: failing.requests.slice(seen) } as AnalyticsReceiver).length === 5,
        10_000,
        'the five events from the second instance',
      );
      expect(segmentIds({ requests: failing.requests.slice(seen) } as AnalyticsReceiver)).toEqual(
        expected(5),
      );
    });

    it('shares one queue per sink between instances: each event is sent once', async () => {
      failing.setMode('ok');
      const only = { ANALYTICS_WEBHOOK_ENABLED: 'false', ANALYTICS_DASHBOT_ENABLED: 'false' };
      const a = startHub(only);
      const b = startHub(only);
      for (let i = 0; i < 10; i++) (i % 2 ? b : a).publish('customer.message', message(i));
      await failing.waitFor(() => segmentIds(failing).length === 10, 10_000, 'ten events');
      await new Promise((r) => setTimeout(r, 300));
      const all = failing.requests.flatMap((q) => (q.body as { batch: unknown[] }).batch);
      expect(all).toHaveLength(10);
      expect(a.stats().segment!.sent + b.stats().segment!.sent).toBe(10);
    });
  }
});
