/**
 * The ServiceNow adapter's API calls against the emulator (a real HTTP server on loopback), and its configuration.
 * What every vendor must do end to end is in test/adapters/contract.test.ts; this pins what the suite cannot see:
 * the open's look-up by correlation_id, the bridge-side resolve, the catch-up before a hand-back, the errors.
 */
import { ServiceNowAdapter, servicenowModule } from '../../src/adapters/servicenow';
import { servicenowConfigSchema } from '../../src/adapters/servicenow/config';
import { ConfigError, loadConfig } from '../../src/config';
import { PermanentError, RetryableError } from '../../src/core/errors';
import { silentLogger } from '../../src/core/logger';
import type { OpenTicketRequest } from '../../src/core/model';
import { ServiceNowEmulator } from '../../src/adapters/servicenow/emulator';

const SESSION = '7f3c9e2a-5b1d-4c8e-9a60-2d4e1f0b7c31';
const request: OpenTicketRequest = {
  customer: {
    key: 'a1b2c3@tunnel.msging.net',
    address: 'a1b2c3@tunnel.msging.net/instance',
    originator: '5511987654321@wa.gw.msging.net',
    name: 'Maria',
  },
  sessionId: SESSION,
  subject: 'BLiP chat: Maria',
  tags: ['blip_bridge'],
  first: { id: 'm1', text: 'Olá, meu pedido 88231 ainda não chegou.', at: '2026-11-03T13:58:41Z' },
};

describe('ServiceNowAdapter against the emulator', () => {
  let sn: ServiceNowEmulator;
  let adapter: ServiceNowAdapter;
  const env = (extra: Record<string, string> = {}) =>
    servicenowConfigSchema.parse({ ...sn.bridgeEnv(), SERVICENOW_POLL: 'true', ...extra });

  beforeEach(async () => {
    sn = await ServiceNowEmulator.start({
      username: 'blip.integration',
      password: 'pw',
      pushSecret: 'unit-test-push-secret',
    });
    sn.setPushEnabled(false);
    adapter = new ServiceNowAdapter(env(), { logger: silentLogger });
  });
  afterEach(async () => {
    await sn.stop();
  });

  it('opens an incident marked as the bridge’s, with the customer in the custom column', async () => {
    const ticket = await adapter.openTicket(request);
    expect(ticket).toEqual({
      vendor: 'servicenow',
      id: expect.stringMatching(/^[0-9a-f]{32}$/),
      number: 'INC0010234',
    });
    expect(sn.records.get(ticket.id)).toMatchObject({
      short_description: 'BLiP chat: Maria',
      description: 'Olá, meu pedido 88231 ainda não chegou.',
      contact_type: 'chat',
      correlation_id: 'blip-7f3c9e2a5b1d4c8e9a602d4e1f0b7c31',
      correlation_display: 'blip-helpdesk-bridge',
      u_blip_customer: '5511987654321@wa.gw.msging.net',
      state: '1',
    });
    expect(sn.records.get(ticket.id)?.caller_id).toBeUndefined();
  });

  it('returns the record an earlier attempt created instead of opening a second one', async () => {
    const first = await adapter.openTicket(request);
    const again = await adapter.openTicket(request);
    expect(again).toEqual(first);
    expect(sn.records.size).toBe(1);
    expect(sn.apiCallsTo('POST', /\/api\/now\/table\/incident/)).toHaveLength(1);
    const lookups = sn.apiCallsTo('GET', /\/api\/now\/table\/incident\?/);
    expect(decodeURIComponent(lookups[0]!.path)).toContain(
      'sysparm_query=correlation_id=blip-7f3c9e2a5b1d4c8e9a602d4e1f0b7c31^ORDERBYsys_created_on',
    );
  });

  it('sets the caller when SERVICENOW_CALLER_ID is configured', async () => {
    const caller = '6816f79cc0a8016401c5a33be04be441';
    const withCaller = new ServiceNowAdapter(env({ SERVICENOW_CALLER_ID: caller }), { logger: silentLogger });
    const ticket = await withCaller.openTicket(request);
    expect(sn.records.get(ticket.id)?.caller_id).toBe(caller);
  });

  it('appends customer messages as Additional comments by the integration user, attachments as links', async () => {
    const ticket = await adapter.openTicket(request);
    await adapter.appendCustomerMessage(ticket, {
      id: 'm2',
      text: 'Segue a foto',
      attachments: [{ url: 'https://cdn.example/p.jpg', mimeType: 'image/jpeg', name: 'p.jpg' }],
      at: '2026-11-03T14:00:00Z',
    });
    expect(sn.entriesOf(ticket.id)).toEqual([
      expect.objectContaining({
        element: 'comments',
        value: 'Segue a foto\np.jpg: https://cdn.example/p.jpg',
        sys_created_by: 'blip.integration',
      }),
    ]);
  });

  it('neutralises [code] tags (any case, any spacing) and still finds an earlier try of such a comment', async () => {
    const ticket = await adapter.openTicket({
      ...request,
      subject: 'BLiP chat: [Code]x[/Code]',
      first: { ...request.first, text: '[code]<img src=x>[/code]' },
    });
    expect(sn.records.get(ticket.id)).toMatchObject({
      short_description: 'BLiP chat: ［Code］x［/Code］',
      description: '［code］<img src=x>［/code］',
    });
    const message = { id: 'm2', text: 'a [ CODE ]<b>b</b>[/ code ] c', at: new Date().toISOString() };
    await adapter.appendCustomerMessage(ticket, message);
    await adapter.appendCustomerMessage(ticket, message, 'key', { again: true });
    await adapter.addInternalNote(ticket, 'transcript: [code]<a href=x>y</a>[/code]');
    expect(sn.entriesOf(ticket.id).map((e) => [e.element, e.value])).toEqual([
      ['comments', 'a ［ CODE ］<b>b</b>［/ code ］ c'],
      ['work_notes', 'transcript: ［code］<a href=x>y</a>［/code］'],
    ]);
  });

  it('resolves a record itself with the close fields the data policy requires, and a work note', async () => {
    const ticket = await adapter.openTicket(request);
    await adapter.closeTicket(ticket, 'expired');
    const record = sn.records.get(ticket.id)!;
    expect(record).toMatchObject({ state: '6', close_code: 'Resolved by caller' });
    expect(record.close_notes).toContain('expired');
    expect(sn.entriesOf(ticket.id, 'work_notes')).toHaveLength(1);
    expect(sn.entriesOf(ticket.id, 'comments')).toHaveLength(0);
    expect(sn.tickets()[0]?.closed).toBe(true);
  });

  it('resolves with the first configured closed state', async () => {
    const cases = new ServiceNowAdapter(env({ SERVICENOW_CLOSED_STATES: '7,6' }), { logger: silentLogger });
    const ticket = await cases.openTicket(request);
    await cases.closeTicket(ticket, 'customer');
    expect(sn.records.get(ticket.id)?.state).toBe('7');
  });

  it('catches up on the agent’s public comments before a hand-back, oldest first, with the push’s ids', async () => {
    const ticket = await adapter.openTicket(request);
    await adapter.appendCustomerMessage(ticket, { id: 'm2', text: 'alô?', at: '2026-11-03T14:00:00Z' });
    const a = sn.agentReplySilently(ticket.id, 'first');
    await sn.agentNote(ticket.id, 'internal');
    const b = sn.agentReplySilently(ticket.id, 'second');
    const events = await adapter.recentAgentMessages(ticket);
    expect(events.map((e) => [e.eventId, e.message.text, e.agent?.id])).toEqual([
      [`journal:${a.sys_id}`, 'first', 'ana.souza'],
      [`journal:${b.sys_id}`, 'second', 'ana.souza'],
    ]);
  });

  it('polls the emulator: a silent reply and the resolve, each once', async () => {
    const ticket = await adapter.openTicket(request);
    const start = await adapter.poll!(undefined);
    expect(start.events).toEqual([]);
    const reply = sn.agentReplySilently(ticket.id, 'found it');
    const first = await adapter.poll!(start.cursor);
    expect(first.events.map((e) => e.eventId)).toEqual([`journal:${reply.sys_id}`]);
    expect(first.events[0]?.sessionId).toBe(SESSION);
    await sn.closeTicket(ticket.id);
    const second = await adapter.poll!(first.cursor);
    const count = sn.records.get(ticket.id)?.sys_mod_count;
    expect(second.events.map((e) => [e.kind, e.eventId])).toEqual([
      ['ticket.closed', `state:${ticket.id}:${count}`],
    ]);
    expect((await adapter.poll!(second.cursor)).events).toEqual([]);
  });

  it('maps errors: unknown record is permanent (with ServiceNow’s message), 429 retryable with its wait', async () => {
    const missing = { vendor: 'servicenow', id: '0'.repeat(32) };
    const err = await adapter.appendCustomerMessage(missing, { id: 'x', text: 'x', at: '' }).catch((e) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.code).toBe('SERVICENOW_HTTP_404');
    expect(err.message).toContain('No Record found');
    expect(err.message).not.toContain('"x"');

    sn.failNext(1, 429, { 'Retry-After': '7' });
    const limited = await adapter.openTicket(request).catch((e) => e);
    expect(limited).toBeInstanceOf(RetryableError);
    expect(limited).toMatchObject({ code: 'SERVICENOW_RATE_LIMITED', retryAfterMs: 7000 });
  });

  it('reports wrong credentials as a permanent 401', async () => {
    const wrong = new ServiceNowAdapter(env({ SERVICENOW_PASSWORD: 'nope' }), { logger: silentLogger });
    const err = await wrong.openTicket(request).catch((e) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toContain('User Not Authenticated');
  });
});

describe('ServiceNow configuration', () => {
  const blip = { BLIP_IDENTIFIER: 'acmehelpdesk', BLIP_ACCESS_KEY: 'key', BRIDGE_VENDOR: 'servicenow' };
  const basic = {
    SERVICENOW_INSTANCE: 'acme',
    SERVICENOW_USERNAME: 'blip.integration',
    SERVICENOW_PASSWORD: 'pw',
  };

  function problems(env: Record<string, string>): string[] {
    try {
      loadConfig({ ...blip, ...env });
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    throw new Error('loadConfig accepted the environment');
  }

  it('fills the documented defaults; polling only without a push secret', () => {
    const config = loadConfig({ ...blip, ...basic });
    expect(config.vendor.settings).toMatchObject({
      SERVICENOW_TABLE: 'incident',
      SERVICENOW_POLL: true,
      SERVICENOW_CLOSED_STATES: ['6', '7', '8'],
      SERVICENOW_CUSTOMER_FIELD: 'u_blip_customer',
      SERVICENOW_CLOSE_CODE: 'Resolved by caller',
      SERVICENOW_REQUESTS_PER_MINUTE: 300,
      SERVICENOW_TIMEOUT_MS: 10_000,
    });
    const adapter = servicenowModule.create(servicenowConfigSchema.parse(basic), { logger: silentLogger });
    expect(adapter.webhook).toBeUndefined();
    expect(adapter.poll).toBeDefined();
    expect(adapter.limits).toEqual({ requestsPerMinute: 300 });
  });

  it('has a webhook with a push secret, and no poll when SERVICENOW_POLL=false', () => {
    const settings = servicenowConfigSchema.parse({
      ...basic,
      SERVICENOW_PUSH_SECRET: 'a-long-enough-secret',
      SERVICENOW_POLL: 'false',
    });
    const adapter = servicenowModule.create(settings, { logger: silentLogger });
    expect(adapter.webhook?.maxSkewSeconds).toBe(900);
    expect(adapter.poll).toBeUndefined();
  });

  it('takes the push replay window from SERVICENOW_WEBHOOK_MAX_SKEW_SECONDS (900 s by default)', () => {
    const settings = servicenowConfigSchema.parse({
      ...basic,
      SERVICENOW_PUSH_SECRET: 'a-long-enough-secret',
      SERVICENOW_WEBHOOK_MAX_SKEW_SECONDS: '1800',
    });
    expect(servicenowModule.create(settings, { logger: silentLogger }).webhook?.maxSkewSeconds).toBe(1800);
    expect(
      servicenowConfigSchema.safeParse({ ...basic, SERVICENOW_WEBHOOK_MAX_SKEW_SECONDS: '0' }).success,
    ).toBe(false);
  });

  it('reports every missing key at once', () => {
    expect(problems({})).toEqual([
      'SERVICENOW_INSTANCE: is required (or set SERVICENOW_BASE_URL)',
      'SERVICENOW_PASSWORD: is required with SERVICENOW_USERNAME (or set SERVICENOW_OAUTH_TOKEN)',
      'SERVICENOW_USERNAME: is required with SERVICENOW_PASSWORD (or set SERVICENOW_OAUTH_TOKEN)',
    ]);
  });

  it('asks for the integration user with an OAuth token', () => {
    expect(problems({ SERVICENOW_INSTANCE: 'acme', SERVICENOW_OAUTH_TOKEN: 'tok' })).toEqual([
      expect.stringMatching(/^SERVICENOW_INTEGRATION_USER: is required with SERVICENOW_OAUTH_TOKEN/),
    ]);
  });

  it('refuses a setup where agent replies could never arrive (no push, no poll)', () => {
    expect(problems({ ...basic, SERVICENOW_POLL: 'false' })).toEqual([
      expect.stringMatching(/^SERVICENOW_POLL: is false and SERVICENOW_PUSH_SECRET is unset/),
    ]);
  });

  it('names bad values without echoing them', () => {
    const found = problems({
      ...basic,
      SERVICENOW_PUSH_SECRET: 'short-secret',
      SERVICENOW_POLL: 'maybe',
      SERVICENOW_CLOSED_STATES: 'resolved,closed',
      SERVICENOW_INSTANCE: 'https://acme.service-now.com',
      SERVICENOW_CALLER_ID: 'Maria',
    });
    expect(found.map((p) => p.split(':')[0])).toEqual([
      'SERVICENOW_CALLER_ID',
      'SERVICENOW_CLOSED_STATES',
      'SERVICENOW_INSTANCE',
      'SERVICENOW_POLL',
      'SERVICENOW_PUSH_SECRET',
    ]);
    expect(found.join('\n')).not.toContain('short-secret');
  });
});
