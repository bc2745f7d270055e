/**
 * One real handoff (real blip-sdk client, LIME server, Zendesk emulator, signed webhooks) produces the same events,
 * with the same ids and in the same order, at three analytics tools at once: the generic webhook, Dashbot and a
 * Segment-compatible API (local receivers standing in for them); `GET /metrics` counts them.
 */
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import { verifyWebhookSignature } from '../../src/analytics/sinks/webhook';
import { AnalyticsReceiver } from '../helpers/analytics-receiver';
import { captureLogs } from '../helpers/log-capture';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';
import { describeEachState } from '../helpers/requirements';

jest.setTimeout(30_000);

const SECRET = 'e2e-webhook-secret-0123456789';
const REDIRECT = 'application/vnd.lime.redirect+json';

type Seen = Array<{ id: string; type: string; user: string }>;

const atWebhook = (r: AnalyticsReceiver): Seen =>
  r.requests.map((q) => {
    const e = q.body as { id: string; type: string; customer: { id: string } };
    return { id: e.id, type: e.type, user: e.customer.id };
  });
const atDashbot = (r: AnalyticsReceiver): Seen =>
  r.requests.map((q) => {
    const b = q.body as {
      name?: string;
      userId: string;
      platformJson?: { eventId: string; eventType: string };
      extraInfo?: { eventId: string };
    };
    return b.platformJson
      ? { id: b.platformJson.eventId, type: b.platformJson.eventType, user: b.userId }
      : { id: b.extraInfo!.eventId, type: b.name!, user: b.userId };
  });
const atSegment = (r: AnalyticsReceiver): Seen =>
  r.requests.flatMap((q) =>
    (
      q.body as { batch: Array<{ messageId: string; userId: string; properties: { eventType: string } }> }
    ).batch.map((t) => ({ id: t.messageId, type: t.properties.eventType, user: t.userId })),
  );

describeEachState([['memory'], ['redis']])('analytics hub in the bridge, %s state', (mode) => {
  let redis: RedisServer | undefined;
  let sandbox: Sandbox | undefined;
  let webhook: AnalyticsReceiver;
  let dashbot: AnalyticsReceiver;
  let segment: AnalyticsReceiver;

  beforeAll(async () => {
    if (mode === 'redis') redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  beforeEach(async () => {
    await redis?.flush();
    [webhook, dashbot, segment] = await Promise.all([
      AnalyticsReceiver.start(),
      AnalyticsReceiver.start(),
      AnalyticsReceiver.start(),
    ]);
  });
  afterEach(async () => {
    await sandbox?.stop();
    sandbox = undefined;
    await Promise.all([webhook.stop(), dashbot.stop(), segment.stop()]);
  });

  it('one handoff produces the same events, in the same order, at three sinks', async () => {
    sandbox = await startSandbox({
      logger: captureLogs('warn').logger,
      redisUrl: redis?.url,
      env: {
        ANALYTICS_WEBHOOK_ENABLED: 'true',
        ANALYTICS_WEBHOOK_URL: `${webhook.url}/bridge-events`,
        ANALYTICS_WEBHOOK_SECRET: SECRET,
        ANALYTICS_DASHBOT_ENABLED: 'true',
        ANALYTICS_DASHBOT_API_KEY: 'dashbot-key',
        ANALYTICS_DASHBOT_URL: `${dashbot.url}/track`,
        ANALYTICS_SEGMENT_ENABLED: 'true',
        ANALYTICS_SEGMENT_WRITE_KEY: 'write-key',
        ANALYTICS_SEGMENT_URL: `${segment.url}/v1/batch`,
      },
    });
    const s = sandbox;
    const maria = s.customer('5511987654321@wa.gw.msging.net');
    s.say(maria, 'Oi, meu boleto veio errado');
    const [ticket] = await s.helpdesk.waitFor(
      () => s.helpdesk.tickets().length === 1 && s.helpdesk.tickets(),
      10_000,
      'the ticket',
    );
    s.say(maria, 'é o de março');
    await s.helpdesk.waitFor(
      () => s.helpdesk.tickets()[0]!.customerMessages.length === 2,
      10_000,
      'two customer messages',
    );
    await s.helpdesk.agentReply(ticket!.id, 'Olá Maria! Corrigi o boleto.');
    await s.lime.waitForSent((m) => m.envelope.content === 'Olá Maria! Corrigi o boleto.');
    await s.helpdesk.solve(ticket!.id);
    await s.lime.waitForSent((m) => m.envelope.to === maria.address && m.envelope.type === REDIRECT);

    const done = (seen: Seen) => seen.some((e) => e.type === 'redirect.sent');
    await webhook.waitFor(() => done(atWebhook(webhook)), 10_000, 'redirect.sent at the webhook');
    await dashbot.waitFor(() => done(atDashbot(dashbot)), 10_000, 'redirect.sent at dashbot');
    await segment.waitFor(() => done(atSegment(segment)), 10_000, 'redirect.sent at segment');

    const events = atWebhook(webhook);
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining([
        'handoff.started',
        'customer.message',
        'agent.message',
        'automatic.message',
        'ticket.closed',
        'redirect.sent',
      ]),
    );
    expect(events.filter((e) => e.type === 'customer.message')).toHaveLength(2);
    expect(events[0]!.type).toBe('handoff.started');
    expect(events.at(-1)!.type).toBe('redirect.sent');
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    // The same events, ids and customer, in the same order, at the three tools.
    expect(atDashbot(dashbot)).toEqual(events);
    expect(atSegment(segment)).toEqual(events);
    expect(new Set(events.map((e) => e.user))).toEqual(new Set([maria.address.split('/')[0]]));

    for (const r of webhook.requests) expect(verifyWebhookSignature(SECRET, r.headers, r.raw)).toBe(true);
    const texts = webhook.requests
      .map((r) => (r.body as { message?: { text?: string } }).message?.text)
      .filter(Boolean);
    expect(texts).toEqual(
      expect.arrayContaining(['Oi, meu boleto veio errado', 'é o de março', 'Olá Maria! Corrigi o boleto.']),
    );

    const metrics = await fetch(`${s.bridge.url}/metrics`);
    expect(metrics.status).toBe(200);
    const body = await metrics.text();
    for (const sink of ['webhook', 'dashbot', 'segment']) {
      expect(body).toContain(`bhb_analytics_events_sent_total{sink="${sink}"} ${events.length}`);
    }
    expect(s.bridge.analytics.stats().webhook).toMatchObject({ sent: events.length, dropped: 0, failed: 0 });
  });
});
