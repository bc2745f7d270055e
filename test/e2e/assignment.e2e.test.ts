/**
 * Who is answering, per vendor, through the sandbox (real blip-sdk client, LIME server, the vendor's emulator firing
 * its own assignment and transfer webhooks): the customer reads the joined text once per agent and the transfer
 * text with the team's name; the session report and the analytics hub carry the first assignment and the transfers.
 */
import { vendorNames } from '../../src/adapters/registry';
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import { AnalyticsReceiver } from '../helpers/analytics-receiver';
import { captureLogs } from '../helpers/log-capture';

jest.setTimeout(30_000);

const REDIRECT = 'application/vnd.lime.redirect+json';
const SECRET = 'e2e-webhook-secret-0123456789';

async function until<T>(probe: () => Promise<T | undefined>, what: string, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.each(vendorNames.map((v) => [v]))('assignment and transfer: %s', (vendor) => {
  let sandbox: Sandbox<typeof vendor>;
  let hub: AnalyticsReceiver;

  beforeEach(async () => {
    hub = await AnalyticsReceiver.start();
    sandbox = await startSandbox({
      vendor,
      logger: captureLogs('warn').logger,
      env: {
        BRIDGE_ASSIGNED_MESSAGE: '{agent} entrou na conversa.',
        BRIDGE_TRANSFERRED_MESSAGE: 'Transferindo você para o time {team}.',
        ANALYTICS_WEBHOOK_ENABLED: 'true',
        ANALYTICS_WEBHOOK_URL: `${hub.url}/bridge-events`,
        ANALYTICS_WEBHOOK_SECRET: SECRET,
      },
    });
  });
  afterEach(async () => {
    await sandbox.stop();
    await hub.stop();
  });

  it('tells the customer who joined and where the ticket went, and records both', async () => {
    const s = sandbox;
    const maria = s.customer('5511987654321@wa.gw.msging.net');
    s.say(maria, 'Quero falar sobre meu boleto');
    const ticket = await s.helpdesk.waitFor(() => s.helpdesk.tickets()[0], 10_000, 'the ticket');

    await s.helpdesk.agentAssign(ticket.id, 'Bruno Tavares');
    await s.lime.waitForSent((m) => m.envelope.content === 'Bruno Tavares entrou na conversa.');
    await s.helpdesk.redeliverLast(); // the same assignment again: nothing new for the customer
    await s.helpdesk.transfer(ticket.id, 'Financeiro');
    await s.lime.waitForSent((m) => m.envelope.content === 'Transferindo você para o time Financeiro.');
    await s.helpdesk.agentAssign(ticket.id, 'Carla Dias');
    await s.lime.waitForSent((m) => m.envelope.content === 'Carla Dias entrou na conversa.');
    await s.helpdesk.agentReply(ticket.id, 'Oi Maria, sou a Carla do Financeiro.');
    await s.lime.waitForSent((m) => m.envelope.content === 'Oi Maria, sou a Carla do Financeiro.');
    await s.helpdesk.closeTicket(ticket.id);
    await s.lime.waitForSent((m) => m.envelope.to === maria.address && m.envelope.type === REDIRECT);

    const texts = s.lime
      .sentTo(maria.address)
      .filter((m) => m.envelope.type === 'text/plain')
      .map((m) => String(m.envelope.content));
    expect(texts.filter((t) => t.includes('entrou na conversa'))).toEqual([
      'Bruno Tavares entrou na conversa.',
      'Carla Dias entrou na conversa.',
    ]);
    expect(texts.filter((t) => t.startsWith('Transferindo'))).toEqual([
      'Transferindo você para o time Financeiro.',
    ]);

    // The session report: the first assignment's time and one transfer.
    const store = s.bridge.reports?.store();
    expect(store).toBeDefined();
    const row = await until(async () => {
      const page = await store!.list({
        from: '2000-01-01T00:00:00.000Z',
        to: '2100-01-01T00:00:00.000Z',
        limit: 10,
      });
      return page.find((r) => r.status === 'closed' && r.transfers === 1);
    }, 'a closed session with its transfer in the report');
    expect(row).toMatchObject({ vendor, transfers: 1, first_assigned_at: expect.any(String) });
    expect(Date.parse(row.first_assigned_at!)).toBeLessThanOrEqual(Date.parse(row.finished_at!));

    // The analytics hub: the first assignment flagged, the transfer with the team's name.
    const events = await hub.waitFor(
      () => {
        const seen = hub.requests.map((r) => r.body as { type: string; data: Record<string, unknown> });
        return seen.some((e) => e.type === 'redirect.sent') && seen;
      },
      10_000,
      'redirect.sent at the analytics webhook',
    );
    expect(events.filter((e) => e.type === 'ticket.assigned').map((e) => e.data)).toEqual([
      expect.objectContaining({ agentName: 'Bruno Tavares', first: true }),
      expect.objectContaining({ agentName: 'Carla Dias' }),
    ]);
    expect(events.filter((e) => e.type === 'ticket.transferred').map((e) => e.data)).toEqual([
      expect.objectContaining({ teamName: 'Financeiro', transfers: 1 }),
    ]);
  });
});
