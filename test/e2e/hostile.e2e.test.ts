/**
 * Hostile input through the real path (issue 17): what a customer types reaches the helpdesk as text, never as markup
 * the agent's inbox would render. Real bridge, real blip-sdk against the sandbox LIME server, real HTTP to the vendor
 * emulators, which record every request body they receive.
 */
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import type { SandboxCustomer } from '../../sandbox/lime-server';
import { captureLogs, type CapturedLogs } from '../helpers/log-capture';

jest.setTimeout(60_000);

/** What the hostile-input campaign sent: a link, a tracking pixel, a script, an event handler, on several lines. */
const MARKUP = [
  'Olá <a href="https://evil.example/login">clique aqui</a> para ver o boleto',
  '<img src="https://track.example/p.gif?u=1" width=1 height=1>',
  '<script>alert(document.cookie)</script> & <b onmouseover="x()">negrito</b>',
  '',
  'segundo parágrafo com \'aspas\' e "aspas" e &lt;entidade&gt;',
].join('\n');

const NAME_WITH_MARKUP = 'Maria <img src=x onerror=alert(1)>';

let sandbox: Sandbox<'intercom'> | Sandbox<'servicenow'> | undefined;
let logs: CapturedLogs;

afterEach(async () => {
  await sandbox?.stop();
  sandbox = undefined;
});

/** The conversation with the bot before the handoff (for the transcript), with markup in it too. */
function seedConversation(s: Sandbox<'intercom'> | Sandbox<'servicenow'>, c: SandboxCustomer): void {
  s.lime.seedThread(c, [
    { from: 'customer', content: 'quero <a href="https://evil.example">falar</a> com alguém' },
    { from: 'bot', content: 'Vou te transferir.' },
  ]);
}

/** Every tag in an HTML body; the bridge may only write paragraphs and line breaks. */
function tags(html: string): string[] {
  return [...html.matchAll(/<\/?[^>]*>?/g)].map((m) => m[0]);
}

describe('Intercom bodies are HTML: customer text is escaped, line breaks become <p> and <br> (issue 17.7)', () => {
  it("sends no markup of the customer in the conversation, the replies, the transcript note or a file's name", async () => {
    logs = captureLogs();
    const s = await startSandbox({
      vendor: 'intercom',
      logger: logs.logger,
      env: { BRIDGE_TRANSCRIPT: 'note', BRIDGE_TRANSCRIPT_MESSAGES: '5' },
    });
    sandbox = s;
    const maria = s.customer('5511955550001@wa.gw.msging.net');
    s.lime.setContact(maria, { name: NAME_WITH_MARKUP, email: 'maria@example.com' });
    seedConversation(s, maria);
    s.say(maria, MARKUP);
    const ticket = await s.helpdesk.waitFor(() => s.helpdesk.tickets()[0], 10_000, 'a conversation');
    await s.helpdesk.waitFor(
      () => s.helpdesk.tickets()[0]?.bridgeNotes.length,
      10_000,
      'the transcript note',
    );
    s.say(maria, 'linha 1\nlinha <i>2</i>');
    // A file: its name (the customer's title) is the body of the part that carries it.
    s.sendMedia(maria, {
      type: 'application/pdf',
      uri: s.media.add({ data: Buffer.from('%PDF-1.4 boleto'), contentType: 'application/pdf' }),
      title: "boleto & 'março' <1>.pdf",
      text: 'segue <u>o</u> arquivo',
    });
    await s.helpdesk.waitFor(
      () => (s.helpdesk.tickets()[0]?.customerMessages.length ?? 0) >= 4,
      15_000,
      'the two later messages and the file',
    );
    await s.bridge.runner.idle();

    const bodies = s.helpdesk
      .apiCalls()
      .map((call) => (call.body as { body?: unknown } | undefined)?.body)
      .filter((body): body is string => typeof body === 'string');
    expect(bodies.length).toBeGreaterThanOrEqual(4);
    for (const body of bodies) {
      expect(tags(body).filter((t) => !['<p>', '</p>', '<br>'].includes(t))).toEqual([]);
    }
    // The agent reads exactly what the customer typed, line breaks included.
    const view = s.helpdesk.tickets().find((t) => t.id === ticket.id)!;
    expect(view.customerMessages[0]).toBe(MARKUP);
    expect(view.customerMessages[1]).toBe('linha 1\nlinha <i>2</i>');
    expect(view.bridgeNotes[0]).toContain('quero <a href="https://evil.example">falar</a> com alguém');
    const first = bodies.find((b) => b.includes('clique aqui'))!;
    expect(first).toContain(
      '<p>Olá &lt;a href=&quot;https://evil.example/login&quot;&gt;clique aqui&lt;/a&gt;',
    );
    expect(first).toContain('<br>&lt;img src=');
    expect(first).toContain('</p><p>segundo parágrafo com &#39;aspas&#39;');
    expect(first).toContain('&amp;lt;entidade&amp;gt;');
    expect(bodies).toContain('<p>boleto &amp; &#39;março&#39; _1_.pdf</p>');
    expect(view.customerFiles.map((f) => f.name)).toEqual(["boleto & 'março' _1_.pdf"]);
  });
});

/** `[code]`, `[/code]` in any case and spacing: what an instance with glide.ui.security.allow_codetag renders as HTML. */
const CODE_TAG = /\[\s*\/?\s*code\s*\]/i;

/** Every string in a JSON value. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

describe('ServiceNow journal fields: [code] tags in customer text are neutralised (issue 17.8)', () => {
  it('writes no [code] tag in short_description, description, comments or work notes', async () => {
    logs = captureLogs();
    const s = await startSandbox({
      vendor: 'servicenow',
      logger: logs.logger,
      env: {
        BRIDGE_TRANSCRIPT: 'note',
        BRIDGE_TRANSCRIPT_MESSAGES: '5',
        BRIDGE_SUBJECT_TEMPLATE: 'BLiP chat: {name} {text}',
      },
    });
    sandbox = s;
    const ana = s.customer('5511955550002@wa.gw.msging.net');
    s.lime.setContact(ana, { name: 'Ana [CODE]<b>x</b>[/CODE]', email: 'ana@example.com' });
    s.lime.seedThread(ana, [
      { from: 'customer', content: 'antes [code]<img src=x onerror=alert(1)>[/code]' },
      { from: 'bot', content: 'Vou te transferir.' },
    ]);
    const first = '[code]<a href="https://evil.example">boleto</a><img src="https://t.example/p.gif">[/code]';
    s.say(ana, first);
    const ticket = await s.helpdesk.waitFor(() => s.helpdesk.tickets()[0], 10_000, 'a record');
    await s.helpdesk.waitFor(
      () => s.helpdesk.tickets()[0]?.bridgeNotes.length,
      10_000,
      'the transcript note',
    );
    s.say(ana, 'e [ Code ]<script>x()</script>[/ code ] e [code ]<i>y</i>[ /CODE]');
    await s.helpdesk.waitFor(
      () => (s.helpdesk.tickets()[0]?.customerMessages.length ?? 0) >= 2,
      10_000,
      'the second message',
    );
    await s.bridge.runner.idle();

    const written = s.helpdesk
      .apiCalls()
      .filter((call) => call.method === 'POST' || call.method === 'PATCH')
      .flatMap((call) => strings(call.body));
    expect(written.some((v) => v.includes('evil.example'))).toBe(true);
    expect(written.filter((v) => CODE_TAG.test(v))).toEqual([]);
    // The agent still reads what the customer wrote, brackets shown as look-alikes.
    const view = s.helpdesk.tickets().find((t) => t.id === ticket.id)!;
    expect(view.customerMessages[0]).toContain('<a href="https://evil.example">boleto</a>');
    expect(view.customerMessages[0]).toMatch(/code.*boleto.*code/i);
    expect(view.customerMessages[1]).toContain('<script>x()</script>');
  });
});

const ADMIN_TOKEN = 'hostile-test-admin-token-0123456789';

/** `count` requests, `concurrency` at a time; resolves with the statuses. */
async function hammer(count: number, concurrency: number, send: () => Promise<Response>): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        const response = await send();
        await response.arrayBuffer();
        statuses.push(response.status);
      }
    }),
  );
  return statuses;
}

/** The value of one series of `bhb_requests_refused_total` on GET /metrics. */
async function refusedCount(url: string, route: string, reason: string): Promise<number> {
  const body = await (await fetch(`${url}/metrics`)).text();
  const line = body
    .split('\n')
    .find((l) => l.startsWith(`bhb_requests_refused_total{route="${route}",reason="${reason}"}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('refused requests are counted one by one and logged in aggregate (issue 17.11)', () => {
  it('1,000 forged webhooks and 1,000 admin requests without the token write a few lines; /metrics counts them all', async () => {
    logs = captureLogs('info');
    const s = await startSandbox({ logger: logs.logger, env: { ADMIN_TOKEN, LOG_LEVEL: 'info' } });
    sandbox = s as never;
    const url = s.bridge.url;
    const forged = await hammer(1_000, 20, () =>
      fetch(`${url}/webhooks/zendesk`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-zendesk-webhook-signature': 'Zm9yZ2Vk',
          'x-zendesk-webhook-signature-timestamp': new Date().toISOString(),
        },
        body: '{"type":"zen:event-type:ticket.comment_added"}',
      }),
    );
    const anonymous = await hammer(1_000, 20, () =>
      fetch(`${url}/admin/dlq`, { headers: { authorization: 'Bearer wrong' } }),
    );
    expect(new Set(forged)).toEqual(new Set([401]));
    expect(new Set(anonymous)).toEqual(new Set([401]));

    expect(await refusedCount(url, '/webhooks/zendesk', 'bad-signature')).toBe(1_000);
    expect(await refusedCount(url, '/admin/dlq', 'unauthenticated')).toBe(1_000);
    const refusedLines = () =>
      logs
        .lines()
        .filter((l) => ['WEBHOOK_UNAUTHENTICATED', 'ADMIN_UNAUTHENTICATED'].includes(String(l.code)));
    expect(refusedLines()).toHaveLength(2);
    expect(refusedLines()[0]).toMatchObject({
      route: '/webhooks/zendesk',
      reason: 'bad-signature',
      ip: '127.0.0.1',
    });

    // At shutdown the pending counts are written: nothing is lost, it is only summed up.
    await s.stop();
    sandbox = undefined;
    expect(refusedLines().map((l) => l.repeated)).toEqual([undefined, undefined, 999, 999]);
  });
});

describe('the logged client address cannot be spoofed with X-Forwarded-For (issue 17.10, HTTP_TRUST_PROXY)', () => {
  /** A forged webhook through a "proxy" that says the client was `forwardedFor`; the address the bridge logged. */
  async function loggedAddress(env: Record<string, string>, forwardedFor: string): Promise<unknown> {
    logs = captureLogs('info');
    const s = await startSandbox({ logger: logs.logger, env });
    sandbox = s as never;
    const response = await fetch(`${s.bridge.url}/webhooks/zendesk`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
      body: '{}',
    });
    expect(response.status).toBe(401);
    await s.stop();
    sandbox = undefined;
    return logs.lines().find((l) => l.code === 'WEBHOOK_UNAUTHENTICATED')?.ip;
  }

  it('by default trusts no proxy: the address is the connection’s', async () => {
    expect(await loggedAddress({}, '198.51.100.66')).toBe('127.0.0.1');
  });

  it('trusts X-Forwarded-For from a listed proxy address or range', async () => {
    expect(await loggedAddress({ HTTP_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }, '198.51.100.66')).toBe(
      '198.51.100.66',
    );
    // Only the hops the listed proxies added: the caller's own entry before them is not believed.
    expect(await loggedAddress({ HTTP_TRUST_PROXY: '127.0.0.0/8' }, '6.6.6.6, 198.51.100.66')).toBe(
      '198.51.100.66',
    );
  });

  it('with a hop count, takes the address that many hops back', async () => {
    expect(await loggedAddress({ HTTP_TRUST_PROXY: '1' }, '6.6.6.6, 198.51.100.66')).toBe('198.51.100.66');
  });
});

describe('replay windows per vendor (issue 17.14): documented in each adapter README and .env.example', () => {
  it.each([
    ['zendesk', {}, 300],
    ['intercom', {}, 300],
    ['servicenow', {}, 900],
    ['zendesk', { BRIDGE_WEBHOOK_MAX_SKEW_SECONDS: '120' }, 120],
    ['servicenow', { SERVICENOW_WEBHOOK_MAX_SKEW_SECONDS: '120' }, 120],
  ] as const)(
    '%s with %j: a delivery signed %i s ago (less a minute) passes, one a minute older is a replay',
    async (vendor, env, window) => {
      logs = captureLogs('info');
      const s = await startSandbox({ vendor, logger: logs.logger, env });
      sandbox = s as never;
      const body = s.helpdesk.agentReplyBodyForUnknownTicket('replay window');
      const at = (secondsAgo: number) =>
        s.helpdesk.signedDeliveryAt(body, new Date(Date.now() - secondsAgo * 1000));
      const inside = at(window - 60);
      expect((await s.helpdesk.deliverRaw(inside.body, inside.headers)).status).toBe(200);
      const outside = at(window + 60);
      expect((await s.helpdesk.deliverRaw(outside.body, outside.headers)).status).toBe(401);
      expect(logs.lines().find((l) => l.code === 'WEBHOOK_UNAUTHENTICATED')).toMatchObject({
        reason: 'replay-window',
        detail: expect.stringContaining(`(max ${window} s)`),
      });
    },
  );
});

describe('prototype pollution (issue 17: the campaign found none; this keeps it so)', () => {
  it('__proto__ and constructor.prototype keys through LIME, a signed webhook and the admin API change no prototype', async () => {
    logs = captureLogs('info');
    const s = await startSandbox({ logger: logs.logger, env: { ADMIN_TOKEN } });
    sandbox = s as never;
    const poison = (tag: string) =>
      JSON.parse(
        `{"__proto__":{"polluted":"${tag}"},"constructor":{"prototype":{"polluted":"${tag}"}},` +
          `"data":{"__proto__":{"polluted":"${tag}"}},"text":"quero falar com alguém","tags":["vip"]}`,
      ) as Record<string, unknown>;
    const bia = s.customer('5511955550003@wa.gw.msging.net');
    // The router's Redirect context (application/json), then a customer's own JSON, with poisoned metadata.
    s.lime.sendFromCustomer(s.bot, bia, 'application/json', poison('context'), {
      id: 'context:8f1c2d3e-0000-4000-8000-000000000001',
      metadata: JSON.parse('{"__proto__":{"polluted":"metadata"}}') as Record<string, unknown>,
    });
    s.lime.sendFromCustomer(s.bot, bia, 'application/json', poison('postback'));
    const ticket = await s.helpdesk.waitFor(() => s.helpdesk.tickets()[0], 10_000, 'a ticket');

    const raw = JSON.stringify(poison('webhook')).replace(
      /^\{/,
      '{"type":"zen:event-type:ticket.comment_added",',
    );
    const webhook = await s.helpdesk.deliverRaw(raw, s.helpdesk.signedHeaders(raw));
    expect([200, 400]).toContain(webhook.status);
    const admin = await fetch(
      `${s.bridge.url}/admin/conversations?__proto__[polluted]=q&constructor[prototype][polluted]=q&limit=5`,
      { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } },
    );
    expect([200, 400]).toContain(admin.status);

    for (const empty of [{}, Object.create(null) as object, []]) {
      expect((empty as Record<string, unknown>).polluted).toBeUndefined();
    }
    expect(Object.prototype).not.toHaveProperty('polluted');
    // And the bridge still serves the customer.
    await s.helpdesk.agentReply(ticket.id, 'olá, Bia');
    await s.lime.waitForSent((m) => m.envelope.to === bia.address && m.envelope.content === 'olá, Bia');
  });
});
