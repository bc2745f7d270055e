/**
 * The attendance lifecycle through the sandbox (issue 6): waiting and assignment texts, the customer's end
 * keyword, the inactivity and no-agent timers (on Redis, surviving a restart), attendance hours, and the operator's
 * close. Real bridge, real blip-sdk client, real emulators.
 */
import axios from 'axios';
import type { VendorName } from '../../src/adapters/registry';
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import type { SandboxCustomer } from '../../sandbox/lime-server';
import { captureLogs } from '../helpers/log-capture';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';
import { itWithRedis } from '../helpers/requirements';

jest.setTimeout(60_000);

const REDIRECT = 'application/vnd.lime.redirect+json';
const ADMIN_TOKEN = 'lifecycle-admin-token-0123456789';

interface RedirectContent {
  context: { value: { status: string; endedBy: string; closeReason?: string; externalId: string } };
}

let redis: RedisServer;
let sandbox: Sandbox<VendorName> | undefined;

beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis.stop();
});
afterEach(async () => {
  await sandbox?.stop();
  sandbox = undefined;
  await redis.flush();
});

let logs = captureLogs();

async function start(env: Record<string, string>, vendor: VendorName = 'zendesk') {
  logs = captureLogs();
  sandbox = await startSandbox({ vendor, logger: logs.logger, redisUrl: redis.url, env });
  return sandbox;
}

const texts = (s: Sandbox<VendorName>, c: SandboxCustomer) =>
  s.lime
    .sentTo(c.address)
    .map((m) => (m.envelope.type === 'text/plain' ? String(m.envelope.content) : m.envelope.type));

async function redirectOf(s: Sandbox<VendorName>, c: SandboxCustomer) {
  const sent = await s.lime.waitForSent(
    (m) => m.envelope.to === c.address && m.envelope.type === REDIRECT,
    20_000,
    'the Redirect',
  );
  return (sent.envelope.content as RedirectContent).context.value;
}

async function firstTicket(s: Sandbox<VendorName>) {
  return s.helpdesk.waitFor(() => s.helpdesk.tickets()[0], 15_000, 'a ticket');
}

itWithRedis('tells the customer they are in the queue, then who joined (Intercom assignment)', async () => {
  const s = await start(
    {
      BRIDGE_WAITING_MESSAGE: 'Você está na fila.',
      BRIDGE_ASSIGNED_MESSAGE: '{agent} entrou na conversa.',
      BRIDGE_CLOSING_MESSAGE: '',
    },
    'intercom',
  );
  const ana = s.customer('5511933330001@wa.gw.msging.net');
  s.say(ana, 'preciso de ajuda');
  await s.lime.waitForSent((m) => m.envelope.content === 'Você está na fila.', 15_000, 'the waiting text');
  const ticket = await firstTicket(s);
  const intercom = s.helpdesk as unknown as { selfAssign(id: string): Promise<unknown> };
  await intercom.selfAssign(ticket.id);
  const joined = await s.lime.waitForSent(
    (m) => typeof m.envelope.content === 'string' && m.envelope.content.endsWith('entrou na conversa.'),
    15_000,
    'the assignment text',
  );
  expect(joined.envelope.to).toBe(ana.address);
  expect(texts(s, ana)).toEqual(['Você está na fila.', joined.envelope.content]);
});

itWithRedis(
  'lets the customer end the attendance with a keyword: the ticket closes and the bot gets ClosedClient',
  async () => {
    const s = await start({ BRIDGE_END_KEYWORDS: '#sair, encerrar' });
    const bia = s.customer('5511933330002@wa.gw.msging.net');
    s.say(bia, 'oi');
    const ticket = await firstTicket(s);
    s.say(bia, '  ENCERRAR ');
    const redirect = await redirectOf(s, bia);
    expect(redirect).toMatchObject({ status: 'ClosedClient', endedBy: 'customer', externalId: ticket.id });
    await s.helpdesk.waitFor(() => s.helpdesk.tickets()[0]?.closed, 10_000, 'the ticket closed');
    // The agent sees why it ended: the keyword is on the ticket.
    expect(s.helpdesk.tickets()[0]!.customerMessages).toEqual(['oi', '  ENCERRAR ']);
  },
);

itWithRedis(
  'closes an attendance whose customer went silent while the agent waited, even across a restart',
  async () => {
    const s = await start({
      BRIDGE_INACTIVITY_MINUTES: '0.05',
      BRIDGE_INACTIVITY_MESSAGE: 'Encerrado por inatividade.',
    });
    const caio = s.customer('5511933330003@wa.gw.msging.net');
    s.say(caio, 'oi');
    const ticket = await firstTicket(s);
    await s.helpdesk.agentReply(ticket.id, 'Olá! Pode me passar o número do pedido?');
    await s.lime.waitForSent((m) => m.envelope.to === caio.address, 10_000, 'the agent reply');
    // The instance that armed the timer goes away; another one, on the same Redis, fires it.
    const other = await s.startAnotherBridge();
    s.helpdesk.setWebhookTarget(`${other.url}/webhooks/zendesk`);
    await s.bridge.stop();
    const redirect = await redirectOf(s, caio);
    expect(redirect).toMatchObject({ status: 'ClosedClientInactivity', endedBy: 'expired' });
    expect(texts(s, caio)).toContain('Encerrado por inatividade.');
    await s.helpdesk.waitFor(() => s.helpdesk.tickets()[0]?.closed, 10_000, 'the ticket closed');
  },
);

itWithRedis('keeps a customer who answers the agent', async () => {
  const s = await start({ BRIDGE_INACTIVITY_MINUTES: '0.05' });
  const dani = s.customer('5511933330004@wa.gw.msging.net');
  s.say(dani, 'oi');
  const ticket = await firstTicket(s);
  await s.helpdesk.agentReply(ticket.id, 'Qual o pedido?');
  await s.lime.waitForSent((m) => m.envelope.to === dani.address, 10_000, 'the agent reply');
  s.say(dani, '12345');
  await s.helpdesk.waitFor(() => s.helpdesk.tickets()[0]?.customerMessages.length === 2, 10_000, 'answer');
  await new Promise((r) => setTimeout(r, 5_000)); // past the 3 s limit
  expect(s.lime.sentTo(dani.address).some((m) => m.envelope.type === REDIRECT)).toBe(false);
  expect(s.helpdesk.tickets()[0]!.closed).toBe(false);
});

itWithRedis('hands back an attendance nobody picked up in time, when configured to', async () => {
  const s = await start({
    BRIDGE_NO_AGENT_MINUTES: '0.05',
    BRIDGE_NO_AGENT_ACTION: 'redirect',
    BRIDGE_NO_AGENT_MESSAGE: 'Ninguém disponível agora.',
  });
  const edu = s.customer('5511933330005@wa.gw.msging.net');
  s.say(edu, 'alguém?');
  const redirect = await redirectOf(s, edu);
  expect(redirect).toMatchObject({ endedBy: 'expired', closeReason: expect.stringContaining('no agent') });
  expect(texts(s, edu)).toContain('Ninguém disponível agora.');
});

itWithRedis('outside attendance hours, tells the customer and hands back without a ticket', async () => {
  const today = new Date().toISOString().slice(0, 10);
  const s = await start({
    BRIDGE_OFFICE_HOURS: 'sun-sat 00:00-24:00',
    BRIDGE_TIMEZONE: 'UTC',
    BRIDGE_HOLIDAYS: today,
    BRIDGE_OUT_OF_HOURS_MESSAGE: 'Fora do horário.',
  });
  const fia = s.customer('5511933330006@wa.gw.msging.net');
  s.say(fia, 'oi');
  const redirect = await redirectOf(s, fia);
  expect(redirect).toMatchObject({ endedBy: 'out_of_hours', externalId: '' });
  expect(texts(s, fia)[0]).toBe('Fora do horário.');
  expect(s.helpdesk.tickets()).toHaveLength(0);
});

itWithRedis(
  'outside attendance hours with action "open", tells the customer and opens the ticket anyway',
  async () => {
    const today = new Date().toISOString().slice(0, 10);
    const s = await start({
      BRIDGE_OFFICE_HOURS: 'sun-sat 00:00-24:00',
      BRIDGE_TIMEZONE: 'UTC',
      BRIDGE_HOLIDAYS: today,
      BRIDGE_OUT_OF_HOURS_ACTION: 'open',
      BRIDGE_OUT_OF_HOURS_MESSAGE: 'Fora do horário; respondemos amanhã.',
    });
    const gil = s.customer('5511933330007@wa.gw.msging.net');
    s.say(gil, 'oi');
    await firstTicket(s);
    expect(texts(s, gil)).toEqual(['Fora do horário; respondemos amanhã.']);
  },
);

itWithRedis('lets an operator list attendances and close one', async () => {
  const s = await start({ ADMIN_TOKEN });
  const hugo = s.customer('5511933330008@wa.gw.msging.net');
  s.say(hugo, 'oi');
  const ticket = await firstTicket(s);
  const auth = { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, validateStatus: () => true };
  const list = await axios.get(`${s.bridge.url}/admin/conversations`, auth);
  // On a failure, show what the bridge logged (CI once saw a 500 here that no local run reproduced).
  const errors = logs.lines().filter((l) => l.level === 'error');
  expect({ status: list.status, errors }).toEqual({ status: 200, errors: [] });
  expect(list.data.conversations).toEqual([
    expect.objectContaining({
      customer: hugo.address.split('/')[0],
      ticket: { id: ticket.id },
      status: 'open',
    }),
  ]);
  expect(JSON.stringify(list.data)).not.toContain('oi"');
  const key = encodeURIComponent(list.data.conversations[0].customer);
  expect((await axios.get(`${s.bridge.url}/admin/conversations/${key}`, auth)).data).toMatchObject({
    vendor: 'zendesk',
  });
  const close = await axios.post(
    `${s.bridge.url}/admin/conversations/${key}/close`,
    JSON.stringify({ reason: 'duplicate of another ticket' }),
    { ...auth, headers: { ...auth.headers, 'content-type': 'application/json' } },
  );
  expect(close.status).toBe(202);
  const redirect = await redirectOf(s, hugo);
  expect(redirect).toMatchObject({ endedBy: 'agent', closeReason: 'duplicate of another ticket' });
  await s.helpdesk.waitFor(() => s.helpdesk.tickets()[0]?.closed, 10_000, 'the ticket closed');
  // The state is cleared right after the Redirect.
  const deadline = Date.now() + 10_000;
  while ((await axios.get(`${s.bridge.url}/admin/conversations/${key}`, auth)).status !== 404) {
    if (Date.now() > deadline) throw new Error('the conversation was not cleared');
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(
    (await axios.get(`${s.bridge.url}/admin/conversations`, { validateStatus: () => true })).status,
  ).toBe(401);
});
