/**
 * ServiceNow without push: the real bridge polls the emulated instance (no Business Rule installed, no push
 * secret, so no /webhooks/servicenow route at all). The agent's reply and the resolve reach the customer by polling
 * alone; the customer's own comments never come back to them. Memory and Redis state (the cursor lives there).
 */
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import type { SandboxCustomer } from '../../sandbox/lime-server';
import { captureLogs, type CapturedLogs } from '../helpers/log-capture';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';
import { describeEachState } from '../helpers/requirements';

jest.setTimeout(30_000);

const REDIRECT = 'application/vnd.lime.redirect+json';
const CLOSING = 'Seu atendimento foi encerrado. Obrigado pelo contato!';

describeEachState([['memory'], ['redis']])('ServiceNow by polling only (%s state)', (mode) => {
  let redis: RedisServer | undefined;
  let sandbox: Sandbox<'servicenow'>;
  let logs: CapturedLogs;

  beforeAll(async () => {
    if (mode === 'redis') redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  beforeEach(async () => {
    await redis?.flush();
    logs = captureLogs();
    sandbox = await startSandbox({
      vendor: 'servicenow',
      logger: logs.logger,
      redisUrl: redis?.url,
      env: {
        SERVICENOW_POLL: 'true',
        SERVICENOW_PUSH_SECRET: '', // empty = unset: no push route, polling only
        BRIDGE_POLL_INTERVAL_SECONDS: '1',
      },
    });
    sandbox.helpdesk.setPushEnabled(false); // and no Business Rule on the instance
  });
  afterEach(async () => {
    await sandbox.stop();
  });

  const textsTo = (c: SandboxCustomer) =>
    sandbox.lime
      .sentTo(c.address)
      .map((s) => (s.envelope.type === 'text/plain' ? String(s.envelope.content) : s.envelope.type));

  it('delivers the agent reply and the resolve found by polling, then hands the customer back', async () => {
    const { helpdesk } = sandbox;
    expect(sandbox.bridge.adapter.webhook).toBeUndefined();
    expect(typeof sandbox.bridge.adapter.poll).toBe('function');

    const maria = sandbox.customer('5511987654321@wa.gw.msging.net');
    sandbox.say(maria, 'Oi, preciso de ajuda com meu pedido');
    const incident = await helpdesk.waitFor(() => helpdesk.tickets()[0], 10_000, 'the incident');
    sandbox.say(maria, 'É o pedido 88231');
    await helpdesk.waitFor(
      () => helpdesk.tickets()[0]?.customerMessages.length === 2,
      10_000,
      'the second customer message',
    );
    const record = helpdesk.records.get(incident.id)!;
    expect(record).toMatchObject({
      contact_type: 'chat',
      correlation_display: 'blip-helpdesk-bridge',
      u_blip_customer: '5511987654321@wa.gw.msging.net',
    });
    expect(record.correlation_id).toMatch(/^blip-[0-9a-f]{32}$/);

    const reply = await helpdesk.agentReply(incident.id, 'Olá Maria! Seu pedido sai hoje.');
    expect(reply.status).toBe(0); // nothing was pushed
    const delivered = await sandbox.lime.waitForSent(
      (s) => s.envelope.content === 'Olá Maria! Seu pedido sai hoje.',
      10_000,
    );
    expect(delivered.envelope.to).toBe(maria.address);

    await helpdesk.agentNote(incident.id, 'internal: VIP customer');
    await helpdesk.closeTicket(incident.id);
    await sandbox.lime.waitForSent(
      (s) => s.envelope.to === maria.address && s.envelope.type === REDIRECT,
      10_000,
    );
    await new Promise((r) => setTimeout(r, 1_500)); // one more poll: nothing is delivered twice
    expect(textsTo(maria)).toEqual(['Olá Maria! Seu pedido sai hoje.', CLOSING, REDIRECT]);

    expect(helpdesk.deliveries).toHaveLength(0);
    // Each poll asks sys_journal_field once for every incident (never per incident); only the hand-back's
    // look for a last reply names one.
    const journalReads = helpdesk.apiCallsTo('GET', /\/api\/now\/table\/sys_journal_field\?/);
    const perIncident = journalReads.filter((r) => decodeURIComponent(r.path).includes('element_id='));
    expect(journalReads.length).toBeGreaterThan(perIncident.length);
    expect(perIncident).toHaveLength(1);
    expect(logs.text()).not.toContain('Seu pedido sai hoje');
    expect(logs.lines().filter((l) => l.level === 'error')).toEqual([]);
  });

  it('finds an assignment by polling and tells the customer who joined, by the name sys_user gives, once', async () => {
    await sandbox.stop();
    sandbox = await startSandbox({
      vendor: 'servicenow',
      logger: logs.logger,
      redisUrl: redis?.url,
      env: {
        SERVICENOW_POLL: 'true',
        SERVICENOW_PUSH_SECRET: '',
        BRIDGE_POLL_INTERVAL_SECONDS: '1',
        BRIDGE_ASSIGNED_MESSAGE: '{agent} entrou na conversa.',
      },
    });
    sandbox.helpdesk.setPushEnabled(false);
    const { helpdesk } = sandbox;
    const ana = sandbox.customer('5531988776655@wa.gw.msging.net');
    sandbox.say(ana, 'oi');
    const incident = await helpdesk.waitFor(() => helpdesk.tickets()[0], 10_000, 'the incident');
    expect((await helpdesk.agentAssign(incident.id, 'Bruno Tavares')).status).toBe(0); // nothing pushed
    await sandbox.lime.waitForSent((s) => s.envelope.content === 'Bruno Tavares entrou na conversa.', 10_000);
    await helpdesk.agentReply(incident.id, 'Oi, sou o Bruno.'); // the record changes again: no second text
    await sandbox.lime.waitForSent((s) => s.envelope.content === 'Oi, sou o Bruno.', 10_000);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(textsTo(ana)).toEqual(['Bruno Tavares entrou na conversa.', 'Oi, sou o Bruno.']);
    expect(helpdesk.apiCallsTo('GET', /\/api\/now\/table\/sys_user\?/)).toHaveLength(1);
  });

  it('delivers two quick replies (often in one second) each once, in order, across polls', async () => {
    const { helpdesk } = sandbox;
    const joao = sandbox.customer('5521998877665@wa.gw.msging.net');
    sandbox.say(joao, 'hello');
    const incident = await helpdesk.waitFor(() => helpdesk.tickets()[0], 10_000, 'the incident');
    await helpdesk.agentReply(incident.id, 'first reply');
    await helpdesk.agentReply(incident.id, 'second reply');
    await sandbox.lime.waitForSent((s) => s.envelope.content === 'second reply', 10_000);
    await new Promise((r) => setTimeout(r, 2_500));
    expect(textsTo(joao)).toEqual(['first reply', 'second reply']);
  });
});

describe('ServiceNow by push (the Business Rule)', () => {
  let sandbox: Sandbox<'servicenow'>;
  let logs: CapturedLogs;

  beforeEach(async () => {
    logs = captureLogs();
    sandbox = await startSandbox({ vendor: 'servicenow', logger: logs.logger });
  });
  afterEach(async () => {
    await sandbox.stop();
  });

  it("pushes the customer's own comments and work notes too; the bridge accepts them and forwards neither", async () => {
    const { helpdesk } = sandbox;
    const ana = sandbox.customer('5531912345678@wa.gw.msging.net');
    sandbox.say(ana, 'first');
    sandbox.say(ana, 'second');
    const incident = await helpdesk.waitFor(
      () => helpdesk.tickets().find((t) => t.customerMessages.length === 2),
      10_000,
      'two customer messages',
    );
    const note = await helpdesk.agentNote(incident.id, 'internal only');
    await helpdesk.waitFor(() => helpdesk.deliveries.length >= 2, 10_000, 'the echo push');
    expect(note.status).toBe(200);
    expect(helpdesk.deliveries.map((d) => d.status)).toEqual([200, 200]);
    const echo = helpdesk.deliveries.find((d) => d.body.includes('"author_is_integration_user":true'));
    expect(echo?.body).toContain('"value":"second"');
    await new Promise((r) => setTimeout(r, 200));
    expect(sandbox.lime.sentTo(ana.address)).toHaveLength(0);
  });

  it('delivers a reply whose push was lost before the hand-back (catch-up on resolve)', async () => {
    const { helpdesk } = sandbox;
    const bia = sandbox.customer('5541987650000@wa.gw.msging.net');
    sandbox.say(bia, 'hello');
    const incident = await helpdesk.waitFor(() => helpdesk.tickets()[0], 10_000, 'the incident');
    helpdesk.agentReplySilently(incident.id, 'the last word');
    await helpdesk.closeTicket(incident.id);
    await sandbox.lime.waitForSent(
      (s) => s.envelope.to === bia.address && s.envelope.type === REDIRECT,
      10_000,
    );
    expect(
      sandbox.lime
        .sentTo(bia.address)
        .map((s) => (s.envelope.type === 'text/plain' ? String(s.envelope.content) : s.envelope.type)),
    ).toEqual(['the last word', CLOSING, REDIRECT]);
  });
});
