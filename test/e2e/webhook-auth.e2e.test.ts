/**
 * The core's side of webhook verification (issue 19.1), over real HTTP: one test vendor of each kind the contract
 * allows (`WebhookAuth`), each with the credential right, wrong and missing. A refused request gets 401, is counted
 * and logged in aggregate through the shared RefusalLog, and never reaches `parse`. A route token never reaches a
 * log line. No vendor can declare "none", or a guessable secret: the server refuses to be built.
 */
import { createHmac } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type {
  HelpdeskAdapter,
  HelpdeskEvent,
  RawRequest,
  WebhookAuth,
  WebhookHandler,
} from '../../src/adapters/adapter';
import { RetryableError } from '../../src/core/errors';
import { buildHttpServer } from '../../src/http/server';
import { MAX_PATH_SEGMENT_LENGTH } from '../../src/http/webhook-auth';
import { Metrics } from '../../src/telemetry/metrics';
import { RefusalLog } from '../../src/telemetry/refusals';
import { captureLogs, type CapturedLogs } from '../helpers/log-capture';

const SECRET = 'a-shared-secret-of-some-length';
const TOKEN = 'Zq3-route-token-8f1c2e9a7b';

const hmac = (...parts: string[]) => {
  const h = createHmac('sha256', SECRET);
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

/** A test vendor's webhook: `parse` counts its calls, so a test sees that a refused body was never parsed. */
class TestWebhook implements WebhookHandler {
  parsed = 0;
  constructor(
    readonly auth: WebhookAuth,
    readonly verify?: WebhookHandler['verify'],
  ) {}
  parse(request: RawRequest): HelpdeskEvent[] | Promise<HelpdeskEvent[]> {
    this.parsed++;
    JSON.parse(request.body.toString('utf8'));
    return [];
  }
}

const signedTime = new TestWebhook({ kind: 'hmac-signed-time' }, (r) => {
  const at = r.headers['x-test-time'] ?? '';
  if (r.headers['x-test-signature'] !== hmac(at, r.body.toString('utf8')))
    return { ok: false, reason: 'signature mismatch' };
  return { ok: true, signedAt: new Date(Number(at) * 1000) };
});
const bodyTime = new TestWebhook({ kind: 'hmac-body-time' }, (r) => {
  if (r.headers['x-test-signature'] !== hmac(r.body.toString('utf8')))
    return { ok: false, reason: 'signature mismatch' };
  const sentAt = (JSON.parse(r.body.toString('utf8')) as { sent_at?: number }).sent_at;
  return sentAt ? { ok: true, signedAt: new Date(sentAt * 1000) } : { ok: false, reason: 'no sent_at' };
});
const headerSecret = new TestWebhook({ kind: 'header-secret', header: 'x-test-secret', secret: SECRET });
const routeToken = new TestWebhook({ kind: 'route-token', token: TOKEN });
/** As long as a route token may be (Fastify answers 414 to a path segment over 100 characters by default). */
const LONG_TOKEN = 'L0ng-'.repeat(51).slice(0, MAX_PATH_SEGMENT_LENGTH);
const longToken = new TestWebhook({ kind: 'route-token', token: LONG_TOKEN });

/**
 * A vendor that does not sign, whose adapter confirms each event through the vendor's API (fetch the message by
 * id) and takes its content from there: a forged body with the genuine secret names no real message.
 */
const vendorApi = { down: false, messages: new Map([['m-1', 'the real text']]) };
class ConfirmingWebhook extends TestWebhook {
  constructor() {
    super({ kind: 'header-secret', header: 'x-test-secret', secret: SECRET });
  }
  override async parse(request: RawRequest): Promise<HelpdeskEvent[]> {
    this.parsed++;
    const { id } = JSON.parse(request.body.toString('utf8')) as { id: string };
    await new Promise((r) => setImmediate(r)); // the API call
    if (vendorApi.down) throw new RetryableError('confirm: vendor unavailable', 'TEST_UNAVAILABLE');
    const text = vendorApi.messages.get(id);
    if (text === undefined) return [];
    const ticket = { vendor: 'confirming', id: 't-1' };
    return [
      {
        kind: 'agent.message',
        ticket,
        eventId: `msg:${id}`,
        message: { id, text, at: '2026-12-07T12:00:00Z' },
      },
    ];
  }
}
const confirming = new ConfirmingWebhook();

const webhooks = {
  confirming,
  signedtime: signedTime,
  bodytime: bodyTime,
  headersecret: headerSecret,
  routetoken: routeToken,
  longtoken: longToken,
};

function testVendor(name: string, webhook: WebhookHandler): HelpdeskAdapter {
  const unused = () => Promise.reject(new Error('not used by this test'));
  return {
    name,
    limits: { requestsPerMinute: 60 },
    openTicket: unused,
    appendCustomerMessage: unused,
    closeTicket: unused,
    webhook,
  };
}

function server(logs: CapturedLogs, metrics: Metrics, adapters: HelpdeskAdapter[]): FastifyInstance {
  return buildHttpServer({
    adapters,
    intake: { acceptHelpdeskEvents: async (events) => events.length },
    logger: logs.logger,
    bodyLimitBytes: 1_000,
    maxSkewSeconds: 300,
    readiness: async () => ({ ready: true, checks: {} }),
    metrics,
    refusals: new RefusalLog(logs.logger, { metrics }),
  });
}

describe('webhook verification, enforced by the core for every kind', () => {
  let logs: CapturedLogs;
  let metrics: Metrics;
  let app: FastifyInstance;
  let base: string;

  beforeAll(async () => {
    logs = captureLogs();
    metrics = new Metrics();
    app = server(
      logs,
      metrics,
      Object.entries(webhooks).map(([name, w]) => testVendor(name, w)),
    );
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await app.close();
  });
  beforeEach(() => {
    for (const w of Object.values(webhooks)) w.parsed = 0;
  });

  const post = async (path: string, body: string, headers: Record<string, string> = {}) =>
    (
      await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      })
    ).status;
  const nowSeconds = () => String(Math.floor(Date.now() / 1000));
  const refused = async (vendor: string, reason: string) => {
    const { body } = await metrics.render();
    const line = body
      .split('\n')
      .find((l) =>
        l.startsWith(`bhb_requests_refused_total{route="/webhooks/${vendor}",reason="${reason}"}`),
      );
    return Number(line?.split(' ').at(-1) ?? 0);
  };

  it('hmac-signed-time: the signature over the time and the body, and the replay window on that time', async () => {
    const body = '{"event":"reply"}';
    const at = nowSeconds();
    expect(
      await post('/webhooks/signedtime', body, { 'x-test-time': at, 'x-test-signature': hmac(at, body) }),
    ).toBe(200);
    expect(signedTime.parsed).toBe(1);
    const tampered = '{"event":"forged"}';
    expect(
      await post('/webhooks/signedtime', tampered, { 'x-test-time': at, 'x-test-signature': hmac(at, body) }),
    ).toBe(401);
    expect(await post('/webhooks/signedtime', body)).toBe(401);
    const old = String(Number(at) - 3600);
    expect(
      await post('/webhooks/signedtime', body, { 'x-test-time': old, 'x-test-signature': hmac(old, body) }),
    ).toBe(401);
    // A signing vendor takes no token on its route.
    expect(
      await post(`/webhooks/signedtime/${TOKEN}`, body, {
        'x-test-time': at,
        'x-test-signature': hmac(at, body),
      }),
    ).toBe(401);
    expect(signedTime.parsed).toBe(1);
    expect(await refused('signedtime', 'bad-signature')).toBe(2);
    expect(await refused('signedtime', 'replay-window')).toBe(1);
    expect(await refused('signedtime', 'bad-token')).toBe(1);
  });

  it('hmac-body-time: the signature over the body, and the replay window on the time inside it', async () => {
    const fresh = JSON.stringify({ sent_at: Number(nowSeconds()) });
    expect(await post('/webhooks/bodytime', fresh, { 'x-test-signature': hmac(fresh) })).toBe(200);
    const stale = JSON.stringify({ sent_at: Number(nowSeconds()) - 3600 });
    expect(await post('/webhooks/bodytime', stale, { 'x-test-signature': hmac(stale) })).toBe(401);
    // Re-dating the body breaks the signature.
    expect(await post('/webhooks/bodytime', fresh, { 'x-test-signature': hmac(stale) })).toBe(401);
    expect(bodyTime.parsed).toBe(1);
    expect(await refused('bodytime', 'replay-window')).toBe(1);
    expect(await refused('bodytime', 'bad-signature')).toBe(1);
  });

  it('header-secret: the shared secret compared by the core; wrong or missing is refused unparsed', async () => {
    expect(await post('/webhooks/headersecret', '{}', { 'x-test-secret': SECRET })).toBe(200);
    expect(await post('/webhooks/headersecret', '{}', { 'x-test-secret': `${SECRET}x` })).toBe(401);
    expect(await post('/webhooks/headersecret', '{}', { 'x-test-secret': SECRET.slice(1) })).toBe(401);
    expect(await post('/webhooks/headersecret', '{}')).toBe(401);
    expect(headerSecret.parsed).toBe(1);
    expect(await refused('headersecret', 'bad-secret')).toBe(3);
  });

  it('route-token: the token in the route compared by the core; wrong or missing is refused unparsed', async () => {
    expect(await post(`/webhooks/routetoken/${TOKEN}`, '{}')).toBe(200);
    expect(await post(`/webhooks/routetoken/${TOKEN}?x=1`, '{}')).toBe(200);
    expect(await post(`/webhooks/routetoken/${TOKEN.slice(0, -1)}Q`, '{}')).toBe(401);
    expect(await post(`/webhooks/routetoken/${TOKEN}${TOKEN}`, '{}')).toBe(401);
    expect(await post('/webhooks/routetoken', '{}')).toBe(401);
    expect(routeToken.parsed).toBe(2);
    expect(await refused('routetoken', 'bad-token')).toBe(3);
  });

  it('route-token: a token as long as a path segment may be is routed, not answered 414', async () => {
    expect(await post(`/webhooks/longtoken/${LONG_TOKEN}`, '{}')).toBe(200);
    expect(await post(`/webhooks/longtoken/${LONG_TOKEN.slice(0, -1)}Q`, '{}')).toBe(401);
    expect(longToken.parsed).toBe(1);
  });

  it('lets an adapter confirm an event through the API: a forged one is dropped, an API outage answers 503', async () => {
    const post200 = async (body: string) => {
      const res = await fetch(`${base}/webhooks/confirming`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-test-secret': SECRET },
        body,
      });
      return { status: res.status, body: (await res.json()) as { received?: number } };
    };
    expect(await post200('{"id":"m-1","text":"whatever the body says"}')).toEqual({
      status: 200,
      body: { received: 1, queued: 1 },
    });
    expect(await post200('{"id":"forged-9","text":"forged reply!"}')).toEqual({
      status: 200,
      body: { received: 0, queued: 0 },
    });
    vendorApi.down = true;
    expect((await post200('{"id":"m-1"}')).status).toBe(503);
    vendorApi.down = false;
    expect(confirming.parsed).toBe(3);
    expect(logs.lines().some((l) => l.code === 'TEST_UNAVAILABLE' && l.level === 'warn')).toBe(true);
  });

  it('logs refusals in aggregate: one line per route and reason, however many there were', async () => {
    for (let i = 0; i < 20; i++)
      await post('/webhooks/headersecret', '{}', { 'x-test-secret': `guess-${i}` });
    const lines = logs
      .lines()
      .filter((l) => l.code === 'WEBHOOK_UNAUTHENTICATED' && l.vendor === 'headersecret');
    expect(lines).toHaveLength(1);
    expect(await refused('headersecret', 'bad-secret')).toBeGreaterThanOrEqual(20);
    expect(headerSecret.parsed).toBe(0);
  });

  it('never logs the route token or the shared secret, even for a request that fails later', async () => {
    // Too large for the body limit: fastify's error path, which logs the request's URL.
    expect(await post(`/webhooks/routetoken/${TOKEN}`, `"${'x'.repeat(2_000)}"`)).toBe(413);
    // Not JSON: the parse error path.
    expect(await post(`/webhooks/routetoken/${TOKEN}`, 'not json')).toBe(400);
    expect(await post('/webhooks/headersecret', 'not json', { 'x-test-secret': SECRET })).toBe(400);
    expect(logs.lines().some((l) => String(l.path).includes('/webhooks/routetoken/[redacted]'))).toBe(true);
    expect(logs.text()).not.toContain(TOKEN);
    expect(logs.text()).not.toContain(SECRET);
  });
});

describe('a vendor that cannot be authenticated gets no route', () => {
  const build = (webhook: WebhookHandler) =>
    server(captureLogs(), new Metrics(), [testVendor('weak', webhook)]);

  it.each<[string, WebhookHandler]>([
    ['"none"', new TestWebhook({ kind: 'none' } as unknown as WebhookAuth)],
    ['no kind', new TestWebhook(undefined as unknown as WebhookAuth)],
    ['an HMAC kind without verify()', new TestWebhook({ kind: 'hmac-signed-time' })],
    ['a short shared secret', new TestWebhook({ kind: 'header-secret', header: 'x-s', secret: 'short' })],
    ['a short route token', new TestWebhook({ kind: 'route-token', token: 'abc123' })],
    ['a token that is not URL-safe', new TestWebhook({ kind: 'route-token', token: 'a/b'.repeat(8) })],
    [
      'a route token longer than a path segment may be',
      new TestWebhook({ kind: 'route-token', token: 'x'.repeat(257) }),
    ],
  ])('refuses %s', (_what, webhook) => {
    expect(() => build(webhook)).toThrow(expect.objectContaining({ code: 'WEBHOOK_AUTH_INVALID' }));
  });
});
