/**
 * The hub's own behaviour in memory: the analytics event built from each domain event, privacy, the circuit
 * breaker, the bounded queue, a bounded stop, and the metrics it exposes.
 */
import {
  AnalyticsHub,
  analyticsEventTypes,
  registerAnalyticsMetrics,
  toAnalyticsEvent,
} from '../../src/analytics';
import { CircuitBreaker } from '../../src/analytics/circuit-breaker';
import { applyPrivacy, customerHasher } from '../../src/analytics/event';
import { DomainEvents } from '../../src/core/events';
import { silentLogger } from '../../src/core/logger';
import { Metrics } from '../../src/telemetry/metrics';
import { analyticsConfig, fastTuning, handoffEvents as h, testNow } from '../helpers/analytics-fixtures';
import { AnalyticsReceiver } from '../helpers/analytics-receiver';

const webhookEnv = (url: string, extra: Record<string, string> = {}) => ({
  ANALYTICS_WEBHOOK_ENABLED: 'true',
  ANALYTICS_WEBHOOK_URL: url,
  ANALYTICS_WEBHOOK_SECRET: 'webhook-secret-0123456789',
  ...extra,
});
const message = (i: number) => ({ ...h.customerMessage, messageId: `m-${i}`, text: `message ${i}` });
const ids = (r: AnalyticsReceiver) =>
  r.requests.map((q) => (q.body as { message: { id: string } }).message.id);

describe('analytics events', () => {
  it('gives the same occurrence the same id and different occurrences different ids', () => {
    const a = toAnalyticsEvent('customer.message', h.customerMessage);
    expect(toAnalyticsEvent('customer.message', { ...h.customerMessage }).id).toBe(a.id);
    expect(toAnalyticsEvent('customer.message', { ...h.customerMessage, messageId: 'other' }).id).not.toBe(
      a.id,
    );
    expect(toAnalyticsEvent('agent.message', h.agentMessage).id).not.toBe(a.id);
    expect(a.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('builds every forwarded event type, none of them with text outside `message`', () => {
    const deadLetter = {
      kind: 'customer-message',
      deadLetterId: 'dl-1',
      code: 'ZENDESK_HTTP_422',
      reason: 'rejected',
      attempts: 8,
      at: '2026-11-25T12:01:00.000Z',
    };
    const failed = {
      customerKey: h.started.customerKey,
      direction: 'to-customer' as const,
      messageId: 'x',
      code: '82',
      reason: 'blocked',
      at: '2026-11-25T12:01:00.000Z',
    };
    const assigned = { ...h.redirect, agentId: '7', agentName: 'Ana', first: true };
    const transferred = {
      ...h.redirect,
      teamId: 'g-2',
      teamName: 'Financeiro',
      previousTeam: 'Suporte',
      transfers: 1,
    };
    const built = [
      toAnalyticsEvent('handoff.started', h.started),
      toAnalyticsEvent('customer.message', h.customerMessage),
      toAnalyticsEvent('agent.message', h.agentMessage),
      toAnalyticsEvent('automatic.message', h.closing),
      toAnalyticsEvent('ticket.assigned', assigned),
      toAnalyticsEvent('ticket.transferred', transferred),
      toAnalyticsEvent('ticket.closed', h.closed),
      toAnalyticsEvent('redirect.sent', h.redirect),
      toAnalyticsEvent('delivery.failed', failed),
      toAnalyticsEvent('work.dead-lettered', deadLetter),
      toAnalyticsEvent('survey.ended', { ...h.redirect, outcome: 'answered', rating: 4, locale: 'es' }),
    ];
    expect(built.map((e) => e.type)).toEqual([...analyticsEventTypes]);
    expect(built.every((e) => e.version === 1)).toBe(true);
    expect(built[4]!.data).toEqual({ agentId: '7', agentName: 'Ana', first: true });
    expect(built[5]!.data).toEqual({
      teamId: 'g-2',
      teamName: 'Financeiro',
      previousTeam: 'Suporte',
      transfers: 1,
    });
    expect(built[8]!.data).toEqual({
      direction: 'to-customer',
      messageId: 'x',
      code: '82',
      reason: 'blocked',
    });
    expect(built[9]).toMatchObject({ data: { deadLetterId: 'dl-1', attempts: 8 } });
    expect(built[9]).not.toHaveProperty('customer');
    expect(built[10]).toMatchObject({ data: { outcome: 'answered', rating: 4, locale: 'es' } });
    for (const e of built) expect(JSON.stringify(e.data)).not.toContain('boleto');
  });

  it('hashes ids with a keyed hash: same input same id, another salt another id', () => {
    const event = toAnalyticsEvent('handoff.started', h.started);
    const one = applyPrivacy(
      event,
      { omitText: false, hashCustomerIds: true },
      customerHasher('salt-one-salt-one'),
    );
    const again = applyPrivacy(
      event,
      { omitText: false, hashCustomerIds: true },
      customerHasher('salt-one-salt-one'),
    );
    const other = applyPrivacy(
      event,
      { omitText: false, hashCustomerIds: true },
      customerHasher('salt-two-salt-two'),
    );
    expect(one.customer!.id).toBe(again.customer!.id);
    expect(one.customer!.id).not.toBe(other.customer!.id);
    expect(one.customer).not.toHaveProperty('name');
    expect(event.customer!.name).toBe('Maria Souza'); // the input is not changed
  });
});

describe('circuit breaker', () => {
  it('opens after the threshold, half-opens after the cooldown, re-opens longer on a failed trial, closes on success', () => {
    let now = 0;
    const b = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 100, maxCooldownMs: 300 }, () => now);
    expect([b.failure(), b.failure()]).toEqual([false, false]);
    expect(b.state).toBe('closed');
    expect(b.failure()).toBe(true);
    expect(b.state).toBe('open');
    expect(b.waitMs()).toBe(100);
    now = 100;
    expect(b.state).toBe('half-open');
    expect(b.failure()).toBe(true);
    expect(b.waitMs()).toBe(200);
    now = 300;
    expect(b.failure()).toBe(true);
    expect(b.waitMs()).toBe(300); // capped
    now = 600;
    b.success();
    expect(b.state).toBe('closed');
  });
});

describe('analytics hub (memory)', () => {
  let receiver: AnalyticsReceiver;
  let hub: AnalyticsHub | undefined;
  beforeEach(async () => {
    receiver = await AnalyticsReceiver.start();
  });
  afterEach(async () => {
    await hub?.stop();
    hub = undefined;
    await receiver.stop();
  });

  it('is a no-op without sinks', async () => {
    hub = new AnalyticsHub(analyticsConfig({}), { logger: silentLogger, bot: 'b@msging.net' });
    const events = new DomainEvents();
    hub.attach(events);
    events.emit('customer.message', h.customerMessage);
    expect(hub.stats()).toEqual({});
  });

  it('bounds the queue: past ANALYTICS_QUEUE_MAX_EVENTS the oldest waiting events are dropped and counted', async () => {
    receiver.setMode('hang');
    hub = new AnalyticsHub(analyticsConfig(webhookEnv(receiver.url, { ANALYTICS_QUEUE_MAX_EVENTS: '5' })), {
      logger: silentLogger,
      bot: 'b@msging.net',
      now: testNow,
      ...fastTuning,
    });
    hub.publish('customer.message', message(0));
    await receiver.waitFor(() => receiver.holding === 1);
    for (let i = 1; i < 10; i++) hub.publish('customer.message', message(i));
    expect(hub.stats().webhook).toMatchObject({ queueDepth: 5, dropped: 5 });
    receiver.setMode('ok');
    await receiver.waitFor(() => hub!.stats().webhook!.sent === 5);
    expect(ids(receiver)).toEqual(['m-0', 'm-6', 'm-7', 'm-8', 'm-9']);
  });

  it('stops within the flush time even while a tool hangs, counting what it could not deliver as dropped', async () => {
    receiver.setMode('hang');
    hub = new AnalyticsHub(
      analyticsConfig(
        webhookEnv(receiver.url, { ANALYTICS_FLUSH_TIMEOUT_MS: '300', ANALYTICS_TIMEOUT_MS: '60000' }),
      ),
      { logger: silentLogger, bot: 'b@msging.net', now: testNow, ...fastTuning },
    );
    for (let i = 0; i < 3; i++) hub.publish('customer.message', message(i));
    await receiver.waitFor(() => receiver.holding === 1);
    await hub.stop();
    expect(hub.stats().webhook).toMatchObject({ sent: 0, dropped: 3 });
    // Stopped: later events are not taken.
    hub.publish('customer.message', message(9));
    expect(hub.stats().webhook!.queueDepth).toBe(3);
  });

  it('delivers what is queued at stop when the tool answers', async () => {
    hub = new AnalyticsHub(analyticsConfig(webhookEnv(receiver.url)), {
      logger: silentLogger,
      bot: 'b@msging.net',
      now: testNow,
      ...fastTuning,
    });
    for (let i = 0; i < 5; i++) hub.publish('customer.message', message(i));
    await hub.stop();
    expect(ids(receiver)).toEqual(['m-0', 'm-1', 'm-2', 'm-3', 'm-4']);
    expect(hub.stats().webhook).toMatchObject({ sent: 5, dropped: 0, queueDepth: 0 });
  });

  it('drops an event the tool rejects (4xx) and goes on with the next', async () => {
    receiver.setMode((req) =>
      (req.body as { message: { id: string } }).message.id === 'm-1' ? { status: 422 } : { status: 200 },
    );
    hub = new AnalyticsHub(analyticsConfig(webhookEnv(receiver.url)), {
      logger: silentLogger,
      bot: 'b@msging.net',
      now: testNow,
      ...fastTuning,
    });
    for (let i = 0; i < 3; i++) hub.publish('customer.message', message(i));
    await receiver.waitFor(() => hub!.stats().webhook!.sent === 2);
    expect(hub.stats().webhook).toMatchObject({ sent: 2, failed: 1, retried: 0 });
    expect(ids(receiver)).toEqual(['m-0', 'm-1', 'm-2']);
  });

  it('exposes per-sink metrics in the Prometheus text format', async () => {
    hub = new AnalyticsHub(analyticsConfig(webhookEnv(receiver.url)), {
      logger: silentLogger,
      bot: 'b@msging.net',
      now: testNow,
      ...fastTuning,
    });
    const metrics = new Metrics({ processMetrics: false });
    registerAnalyticsMetrics(metrics, hub);
    for (let i = 0; i < 3; i++) hub.publish('customer.message', message(i));
    await receiver.waitFor(() => hub!.stats().webhook!.sent === 3);
    const { contentType, body } = await metrics.render();
    expect(contentType).toMatch(/^text\/plain/);
    expect(body).toContain('bhb_analytics_events_sent_total{sink="webhook"} 3');
    expect(body).toContain('bhb_analytics_events_dropped_total{sink="webhook"} 0');
    expect(body).toContain('bhb_analytics_queue_depth{sink="webhook"} 0');
    expect(body).toContain('bhb_analytics_circuit_open{sink="webhook"} 0');
    expect(body).toContain('# TYPE bhb_analytics_events_retried_total counter');
  });
});
