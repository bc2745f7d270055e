/**
 * The adapter contract suite: the same scenarios, unchanged, against every adapter in src/adapters/registry.ts and
 * its emulator (src/adapters/<vendor>/emulator.ts, found by sandbox/emulators.ts), with the real bridge, the real
 * blip-sdk client and the LIME server, in memory and on a real Redis. A new vendor passes this suite before it is
 * called done (docs/adding-an-adapter.md).
 */
import { randomBytes } from 'node:crypto';
import { vendorNames, type VendorName } from '../../src/adapters/registry';
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import type { SandboxCustomer } from '../../sandbox/lime-server';
import { captureLogs, type CapturedLogs } from '../helpers/log-capture';
import { freePort, startRedisServer, type RedisServer } from '../helpers/redis-server';
import { describeEachState } from '../helpers/requirements';

jest.setTimeout(30_000);

/** A JPEG-looking file of `size` bytes. */
function jpeg(size: number): Buffer {
  return Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(size - 4)]);
}

const REDIRECT = 'application/vnd.lime.redirect+json';
const MEDIA_LINK = 'application/vnd.lime.media-link+json';
const CLOSING = 'Seu atendimento foi encerrado. Obrigado pelo contato!';
const states = ['memory', 'redis'] as const;
const cases = vendorNames.flatMap((vendor) =>
  states.map((state) => [vendor, state] as [VendorName, (typeof states)[number]]),
);

describeEachState(cases)('adapter contract: %s (%s state)', (vendor, state) => {
  let redis: RedisServer | undefined;
  let sandbox: Sandbox<VendorName>;
  let logs: CapturedLogs;
  let customerNo = 0;

  beforeAll(async () => {
    if (state === 'redis') redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  beforeEach(async () => {
    await redis?.flush();
    logs = captureLogs();
    // A known port, so the bridge can serve agents' files at its public URL (GET /media/<token>). Between finding
    // the port free and the bridge listening on it, another server (this sandbox's own, another test file's) can
    // take it: then another port.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        sandbox = await startSandbox({
          vendor,
          logger: logs.logger,
          redisUrl: redis?.url,
          env: {
            HTTP_PORT: String(port),
            BRIDGE_PUBLIC_URL: `http://127.0.0.1:${port}`,
            BRIDGE_ASSIGNED_MESSAGE: '{agent} entrou na conversa.',
            BRIDGE_TRANSFERRED_MESSAGE: 'Transferindo você para o time {team}.',
          },
        });
        break;
      } catch (err) {
        if (attempt >= 5 || (err as { code?: string }).code !== 'EADDRINUSE') throw err;
      }
    }
  });
  afterEach(async () => {
    await sandbox.stop();
  });

  const newCustomer = (): SandboxCustomer =>
    sandbox.customer(`55119${String(++customerNo).padStart(8, '0')}@wa.gw.msging.net`);
  const tickets = () => sandbox.helpdesk.tickets();
  const received = (c: SandboxCustomer) =>
    sandbox.lime
      .sentTo(c.address)
      .map((s) => (s.envelope.type === 'text/plain' ? String(s.envelope.content) : s.envelope.type));

  /**
   * The customer writes `texts`; resolves with their open ticket once it holds `total` customer messages
   * (all of `texts` by default; more when earlier messages are already on the ticket).
   */
  async function converse(customer: SandboxCustomer, texts: string[], total = texts.length) {
    for (const text of texts) sandbox.say(customer, text);
    const mine = () =>
      tickets().find(
        (t) =>
          t.customerExternalId === customer.originator && !t.closed && t.customerMessages.length >= total,
      );
    return sandbox.helpdesk.waitFor(mine, 15_000, `a ${vendor} ticket with ${total} customer message(s)`);
  }

  it('opens a ticket for a new customer, identified by the real customer behind the tunnel', async () => {
    const c = newCustomer();
    const ticket = await converse(c, ['I need a human']);
    expect(ticket.customerMessages).toEqual(['I need a human']);
    expect(ticket.customerExternalId).toBe(c.originator);
    expect(tickets()).toHaveLength(1);
  });

  it('appends later messages in order', async () => {
    const c = newCustomer();
    const ticket = await converse(c, ['one', 'two', 'three', 'four']);
    expect(ticket.customerMessages).toEqual(['one', 'two', 'three', 'four']);
    expect(tickets()).toHaveLength(1);
  });

  it("delivers the agent's public reply TO the customer's address, and never a note or the customer's own echo", async () => {
    const c = newCustomer();
    const ticket = await converse(c, ['hello', 'are you there?']);
    await sandbox.helpdesk.agentNote(ticket.id, 'internal: check the invoice');
    const reply = await sandbox.helpdesk.agentReply(ticket.id, 'Hi! Looking into it.');
    expect(reply.status).toBe(200);
    const sent = await sandbox.lime.waitForSent((s) => s.envelope.content === 'Hi! Looking into it.');
    expect(sent.envelope.to).toBe(c.address);
    await new Promise((r) => setTimeout(r, 300)); // let any stray echo or note arrive
    expect(received(c)).toEqual(['Hi! Looking into it.']);
  });

  it('delivers a redelivered webhook once', async () => {
    const c = newCustomer();
    const ticket = await converse(c, ['hello']);
    await sandbox.helpdesk.agentReply(ticket.id, 'just once');
    await sandbox.lime.waitForSent((s) => s.envelope.content === 'just once');
    expect((await sandbox.helpdesk.redeliverLast()).status).toBe(200);
    expect((await sandbox.helpdesk.redeliverLast()).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    expect(received(c)).toEqual(['just once']);
  });

  it('on close: closing text, then the Redirect, then a new ticket for the next message', async () => {
    const c = newCustomer();
    const ticket = await converse(c, ['hello']);
    await sandbox.helpdesk.closeTicket(ticket.id);
    const redirect = await sandbox.lime.waitForSent(
      (s) => s.envelope.to === c.address && s.envelope.type === REDIRECT,
    );
    expect(received(c)).toEqual([CLOSING, REDIRECT]);
    const context = (
      redirect.envelope.content as { context: { type: string; value: Record<string, unknown> } }
    ).context;
    expect(context.type).toBe('application/vnd.iris.ticket+json');
    expect(context.value).toMatchObject({
      customerIdentity: c.address,
      endedBy: 'agent',
      closed: true,
      provider: vendor,
      externalId: ticket.id,
    });

    const next = await converse(c, ['me again']);
    expect(next.id).not.toBe(ticket.id);
    expect(next.customerMessages).toEqual(['me again']);
  });

  it('tells the customer who joined (once per agent) and the team the ticket moved to, in the hand-back too', async () => {
    const c = newCustomer();
    const ticket = await converse(c, ['hello']);
    const joined = (name: string) => `${name} entrou na conversa.`;
    expect((await sandbox.helpdesk.agentAssign(ticket.id, 'Bruno Tavares')).status).toBe(200);
    await sandbox.lime.waitForSent((s) => s.envelope.content === joined('Bruno Tavares'));
    expect((await sandbox.helpdesk.transfer(ticket.id, 'Financeiro')).status).toBe(200);
    await sandbox.lime.waitForSent((s) => s.envelope.content === 'Transferindo você para o time Financeiro.');
    await sandbox.helpdesk.agentAssign(ticket.id, 'Carla Dias');
    await sandbox.lime.waitForSent((s) => s.envelope.content === joined('Carla Dias'));
    await sandbox.helpdesk.agentAssign(ticket.id, 'Bruno Tavares'); // back to Bruno, who already joined
    await sandbox.helpdesk.agentReply(ticket.id, 'Oi, aqui é o Bruno.');
    await sandbox.lime.waitForSent((s) => s.envelope.content === 'Oi, aqui é o Bruno.');
    expect(received(c)).toEqual([
      joined('Bruno Tavares'),
      'Transferindo você para o time Financeiro.',
      joined('Carla Dias'),
      'Oi, aqui é o Bruno.',
    ]);
    await sandbox.helpdesk.closeTicket(ticket.id);
    const redirect = await sandbox.lime.waitForSent(
      (s) => s.envelope.to === c.address && s.envelope.type === REDIRECT,
    );
    const { value } = (redirect.envelope.content as { context: { value: Record<string, unknown> } }).context;
    expect(value).toMatchObject({ team: 'Financeiro', transfers: 1 });
    expect(value.agentIdentity).toEqual(expect.stringContaining(`@${vendor}.helpdesk`));
  });

  it('waits out a 429 with Retry-After, then succeeds', async () => {
    sandbox.helpdesk.failNext(1, 429, { 'Retry-After': '1' });
    const c = newCustomer();
    const ticket = await converse(c, ['throttled']);
    expect(ticket.customerMessages).toEqual(['throttled']);
    expect(sandbox.helpdesk.apiCalls().filter((r) => r.status === 429)).toHaveLength(1);
    const retry = logs.lines().find((l) => l.code === `${vendor.toUpperCase()}_RATE_LIMITED`);
    expect(retry?.delayMs).toBe(1000);
  });

  it('retries after 5xx, then succeeds, keeping the order', async () => {
    const c = newCustomer();
    await converse(c, ['before the outage']);
    sandbox.helpdesk.failNext(2, 503);
    const ticket = await converse(c, ['during the outage'], 2);
    expect(ticket.customerMessages).toEqual(['before the outage', 'during the outage']);
    expect(sandbox.helpdesk.apiCalls().filter((r) => r.status === 503)).toHaveLength(2);
  });

  it('rejects a webhook with a wrong, missing or stale credential, as its verification kind says, and changes nothing', async () => {
    // The kind the adapter declares is the one its emulator plays, and the core enforces it (src/http/webhook-auth.ts).
    const kind = sandbox.bridge.adapters.get(vendor)?.webhook?.auth.kind;
    expect(kind).toBe(sandbox.helpdesk.webhookAuth);
    const hmac = kind === 'hmac-signed-time' || kind === 'hmac-body-time';
    const refusedAs = hmac ? 'bad-signature' : kind === 'header-secret' ? 'bad-secret' : 'bad-token';

    const c = newCustomer();
    const ticket = await converse(c, ['hello']);
    const genuine = await sandbox.helpdesk.agentReply(ticket.id, 'genuine reply');
    await sandbox.lime.waitForSent((s) => s.envelope.content === 'genuine reply');
    const forged = genuine.body.replace('genuine reply', 'forged reply!');

    expect((await sandbox.helpdesk.deliverWithCredential(forged, 'wrong')).status).toBe(401);
    expect((await sandbox.helpdesk.deliverWithCredential(forged, 'none')).status).toBe(401);
    const expected: Record<string, number> = { [refusedAs]: 2, 'replay-window': 0 };
    if (hmac) {
      // The genuine signature does not cover another body.
      expect((await sandbox.helpdesk.deliverRaw(forged, genuine.headers)).status).toBe(401);
      // Correctly signed, but as the vendor would have sent it an hour ago: a replay outside the window.
      const old = sandbox.helpdesk.signedDeliveryAt(forged, new Date(Date.now() - 60 * 60_000));
      expect((await sandbox.helpdesk.deliverRaw(old.body, old.headers)).status).toBe(401);
      expected[refusedAs] = 3;
      expected['replay-window'] = 1;
    }
    // A secret kind cannot tell a tampered body sent with the genuine secret: the credential is all there is
    // (docs/adding-an-adapter.md, "Vendors that do not sign"), and replays are the dedupe's.

    await new Promise((r) => setTimeout(r, 200));
    expect(received(c)).toEqual(['genuine reply']);
    // Refusals are counted one by one and logged in aggregate (issue 17.11): one line per reason.
    const { body: metrics } = await sandbox.bridge.metrics.render();
    const refused = (reason: string) =>
      Number(
        metrics
          .split('\n')
          .find((l) =>
            l.startsWith(`bhb_requests_refused_total{route="/webhooks/${vendor}",reason="${reason}"}`),
          )
          ?.split(' ')
          .at(-1) ?? 0,
      );
    expect(Object.fromEntries(Object.keys(expected).map((r) => [r, refused(r)]))).toEqual(expected);
    const lines = logs.lines().filter((l) => l.code === 'WEBHOOK_UNAUTHENTICATED');
    expect(lines.map((l) => l.reason)).toEqual(hmac ? [refusedAs, 'replay-window'] : [refusedAs]);
    expect(logs.text()).not.toContain('forged reply!');
  });

  it('tells the agents, in an internal note, when their reply did not reach the customer', async () => {
    const c = newCustomer();
    const ticket = await converse(c, ['hello']);
    sandbox.lime.failDeliveriesTo(c.address); // the gateway times out, as in fixture 13c
    await sandbox.helpdesk.agentReply(ticket.id, 'this one gets lost');
    const noted = await sandbox.helpdesk.waitFor(
      () => tickets().find((t) => t.id === ticket.id && t.bridgeNotes.length > 0),
      10_000,
      'an internal note',
    );
    expect(noted.bridgeNotes[0]).toMatch(/not delivered \(BLiP 86: The gateway switch operation timed out/);
    expect(noted.customerMessages).toEqual(['hello']);
    await new Promise((r) => setTimeout(r, 200)); // the note's own webhook must not reach the customer either
    expect(received(c)).toEqual(['this one gets lost']);
  });

  it('shows content it cannot render as a placeholder, with the raw content in an internal note', async () => {
    const c = newCustomer();
    await converse(c, ['hello']);
    sandbox.lime.sendFromCustomer(sandbox.bot, c, 'application/vnd.acme.poll+json', { question: 'Plano?' });
    const ticket = await sandbox.helpdesk.waitFor(
      () => tickets().find((t) => t.customerExternalId === c.originator && t.bridgeNotes.length > 0),
      10_000,
      'the placeholder and the note',
    );
    expect(ticket.customerMessages).toEqual([
      'hello',
      '[unsupported content: application/vnd.acme.poll+json]',
    ]);
    expect(ticket.bridgeNotes[0]).toContain('{"question":"Plano?"}');
    expect(logs.lines().some((l) => l.code === 'LIME_UNSUPPORTED_CONTENT')).toBe(true);
  });

  it("attaches the customer's photo as a real file, byte for byte, on the ticket and later", async () => {
    const c = newCustomer();
    const first = jpeg(3_000);
    sandbox.sendMedia(c, {
      type: 'image/jpeg',
      uri: sandbox.media.add({ data: first, contentType: 'image/jpeg' }),
      text: 'Foto do boleto',
    });
    const opened = await sandbox.helpdesk.waitFor(
      () => tickets().find((t) => t.customerExternalId === c.originator && t.customerFiles.length === 1),
      15_000,
      'the ticket with the first photo',
    );
    const later = jpeg(2_000);
    const uri = sandbox.media.add({ data: later, contentType: 'image/png' });
    sandbox.sendMedia(c, { type: 'image/png', uri, title: 'comprovante.png', text: 'e o comprovante' });
    const ticket = await sandbox.helpdesk.waitFor(
      () =>
        tickets().find(
          (t) =>
            t.id === opened.id &&
            t.customerFiles.length === 2 &&
            t.customerMessages.some((m) => m.includes('e o comprovante')),
        ),
      15_000,
      'the second photo',
    );
    expect(ticket.customerFiles).toEqual([
      { name: 'image.jpg', mimeType: 'image/jpeg', size: first.length, data: first },
      { name: 'comprovante.png', mimeType: 'image/png', size: later.length, data: later },
    ]);
    expect(ticket.customerMessages.some((m) => m.includes('Foto do boleto'))).toBe(true);
    // Attached, so not linked: the signed media URL is in no message and no log line.
    expect(ticket.customerMessages.join('\n')).not.toContain('secure-medias');
    expect(logs.text()).not.toContain('sig=');
    expect(tickets()).toHaveLength(1);
  });

  it("delivers the agent's file as a media link the customer can open, with its type, size and title", async () => {
    const c = newCustomer();
    const ticket = await converse(c, ['a segunda via, por favor']);
    const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(4_000)]);
    await sandbox.helpdesk.agentSendFile(
      ticket.id,
      { name: 'boleto.pdf', mimeType: 'application/pdf', data: pdf },
      'Segue o boleto',
    );
    const sent = await sandbox.lime.waitForSent((s) => s.envelope.type === MEDIA_LINK, 15_000);
    expect(sent.envelope.to).toBe(c.address);
    expect(received(c)).toEqual(['Segue o boleto', MEDIA_LINK]);
    const link = sent.envelope.content as { type: string; uri: string; title: string; size: number };
    expect(link).toEqual({
      type: 'application/pdf',
      uri: expect.any(String),
      title: 'boleto.pdf',
      size: pdf.length,
    });
    // Re-hosted by the bridge, whatever the helpdesk's link needed (credentials, an expiry).
    expect(link.uri.startsWith(`${sandbox.config.media.publicUrl}/media/`)).toBe(true);
    const download = await fetch(link.uri);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('application/pdf');
    expect(Buffer.from(await download.arrayBuffer()).equals(pdf)).toBe(true);
    expect((await fetch(`${link.uri.slice(0, -1)}${link.uri.endsWith('A') ? 'B' : 'A'}`)).status).toBe(404);
  });

  it('ignores an event for a ticket it does not know, with a log line', async () => {
    const body = sandbox.helpdesk.agentReplyBodyForUnknownTicket('who is this for?');
    const delivery = await sandbox.helpdesk.deliverRaw(body, sandbox.helpdesk.signedHeaders(body));
    expect(delivery.status).toBe(200);
    // The webhook is answered once recorded; the worker finds the ticket unknown right after.
    await sandbox.helpdesk.waitFor(
      () => logs.lines().some((l) => l.code === 'UNKNOWN_TICKET' && l.vendor === vendor),
      10_000,
      'the UNKNOWN_TICKET log line',
    );
    expect(sandbox.lime.sent).toHaveLength(0);
  });
});
