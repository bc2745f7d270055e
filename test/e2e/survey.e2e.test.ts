/**
 * The satisfaction survey through the sandbox (real blip-sdk client, LIME server, Zendesk emulator): after the
 * agent solves the ticket the customer gets a select with quick replies, answers it as WhatsApp does (a reply to
 * the select), and the rating lands in the session report, the analytics hub, the Zendesk ticket and the Redirect
 * context; an invalid answer is asked once more; nobody answering hands back without a rating.
 */
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import type { SandboxCustomer } from '../../sandbox/lime-server';
import { localeTexts } from '../../src/texts';
import { AnalyticsReceiver } from '../helpers/analytics-receiver';
import { captureLogs } from '../helpers/log-capture';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';
import { describeWithRedis } from '../helpers/requirements';

jest.setTimeout(30_000);

const REDIRECT = 'application/vnd.lime.redirect+json';
const SELECT = 'application/vnd.lime.select+json';
const SECRET = 'e2e-webhook-secret-0123456789';
const pt = localeTexts['pt-BR'];

async function until<T>(probe: () => Promise<T | undefined>, what: string, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface TicketContext {
  rating: number;
  survey?: string;
  locale?: string;
  endedBy: string;
}

describe('satisfaction survey (BRIDGE_SURVEY=bridge) through the sandbox', () => {
  let sandbox: Sandbox;
  let hub: AnalyticsReceiver;

  async function start(env: Record<string, string> = {}) {
    hub = await AnalyticsReceiver.start();
    sandbox = await startSandbox({
      logger: captureLogs('warn').logger,
      env: {
        BRIDGE_SURVEY: 'bridge',
        ANALYTICS_WEBHOOK_ENABLED: 'true',
        ANALYTICS_WEBHOOK_URL: `${hub.url}/bridge-events`,
        ANALYTICS_WEBHOOK_SECRET: SECRET,
        ...env,
      },
    });
  }
  afterEach(async () => {
    await sandbox.stop();
    await hub.stop();
  });

  /** The customer opens a ticket; the agent answers and solves it; the survey's select arrives. */
  async function solvedTicket(customer: SandboxCustomer) {
    const s = sandbox;
    s.say(customer, 'Quero falar sobre meu boleto');
    const ticket = await s.helpdesk.waitFor(() => s.helpdesk.tickets()[0], 10_000, 'the ticket');
    await s.helpdesk.agentReply(ticket.id, 'Resolvido, Maria!');
    await s.lime.waitForSent((m) => m.envelope.content === 'Resolvido, Maria!');
    await s.helpdesk.closeTicket(ticket.id);
    const select = await s.lime.waitForSent(
      (m) => m.envelope.to === customer.address && m.envelope.type === SELECT,
    );
    return { ticket, select };
  }

  function redirectContext(customer: SandboxCustomer): Promise<TicketContext> {
    return sandbox.lime
      .waitForSent((m) => m.envelope.to === customer.address && m.envelope.type === REDIRECT)
      .then((m) => (m.envelope.content as { context: { value: TicketContext } }).context.value);
  }

  /** WhatsApp's answer to a select: a reply quoting it (fixture 07a's shape). */
  function tapOption(
    customer: SandboxCustomer,
    select: { envelope: { id?: string; content?: unknown } },
    text: string,
  ) {
    sandbox.lime.sendFromCustomer(sandbox.bot, customer, 'application/vnd.lime.reply+json', {
      replied: { type: 'text/plain', value: text },
      inReplyTo: { id: select.envelope.id, type: SELECT, value: select.envelope.content, direction: 'sent' },
    });
  }

  it('asks with quick replies, and the tapped rating reaches the report, analytics, Zendesk and the Redirect', async () => {
    await start();
    const s = sandbox;
    const maria = s.customer('5511987654321@wa.gw.msging.net');
    const { ticket, select } = await solvedTicket(maria);
    expect(select.envelope.content).toMatchObject({
      scope: 'immediate',
      text: pt.surveyQuestion,
      options: pt.surveyOptions
        .split('|')
        .map((text, i) => ({ order: i + 1, text, type: 'text/plain', value: String(i + 1) })),
    });

    tapOption(maria, select, '4 - Bom');
    const context = await redirectContext(maria);
    expect(context).toMatchObject({ rating: 4, survey: 'answered', locale: 'pt-BR', endedBy: 'agent' });
    const texts = s.lime
      .sentTo(maria.address)
      .filter((m) => m.envelope.type === 'text/plain')
      .map((m) => String(m.envelope.content));
    // The closing text came before the question; the thanks after the answer, last.
    expect(texts).toContain(pt.closing);
    expect(texts.at(-1)).toBe(pt.surveyThanks);

    // Zendesk: the rating as an internal note on the solved ticket (what the agent token may write).
    const note = await s.helpdesk.waitFor(
      () =>
        s.helpdesk
          .tickets()
          .find((t) => t.id === ticket.id)
          ?.bridgeNotes.find((n) => n.includes('4/5')),
      10_000,
      'the rating note on the ticket',
    );
    expect(note).toContain('Customer satisfaction rating');

    // The session report: rating, survey outcome and locale.
    const store = s.bridge.reports?.store();
    expect(store).toBeDefined();
    const row = await until(async () => {
      const page = await store!.list({
        from: '2000-01-01T00:00:00.000Z',
        to: '2100-01-01T00:00:00.000Z',
        limit: 10,
      });
      return page.find((r) => r.rating === 4);
    }, 'a rated session in the report');
    expect(row).toMatchObject({
      rating: 4,
      survey: 'answered',
      locale: 'pt-BR',
      status: 'closed',
      closed_by: 'agent',
    });

    // The analytics hub: survey.ended with the rating, and the locale on the start and the close.
    const events = await hub.waitFor(
      () => {
        const seen = hub.requests.map((r) => r.body as { type: string; data: Record<string, unknown> });
        return (
          seen.some((e) => e.type === 'redirect.sent') && seen.some((e) => e.type === 'survey.ended') && seen
        );
      },
      10_000,
      'survey.ended and redirect.sent at the analytics webhook',
    );
    expect(events.find((e) => e.type === 'survey.ended')?.data).toEqual({
      outcome: 'answered',
      rating: 4,
      locale: 'pt-BR',
    });
    expect(events.find((e) => e.type === 'handoff.started')?.data).toMatchObject({ locale: 'pt-BR' });
    expect(events.find((e) => e.type === 'ticket.closed')?.data).toMatchObject({ locale: 'pt-BR' });

    // Prometheus: the survey's outcome and rating.
    const metrics = await fetch(`${s.bridge.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/bhb_surveys_total\{vendor="zendesk",outcome="answered",rating="4"\} 1/);
  });

  it('asks once more after an answer that is no rating, then takes the text answer', async () => {
    await start();
    const s = sandbox;
    const maria = s.customer('5511987654321@wa.gw.msging.net');
    await solvedTicket(maria);
    s.say(maria, 'talvez');
    await s.lime.waitForSent((m) => m.envelope.content === pt.surveyInvalid);
    await s.lime.waitForSent(
      (m) =>
        m.envelope.type === SELECT &&
        s.lime.sentTo(maria.address).filter((x) => x.envelope.type === SELECT).length === 2,
    );
    s.say(maria, 'cinco');
    expect(await redirectContext(maria)).toMatchObject({ rating: 5, survey: 'answered' });
  });

  it('asks in one text on a channel without quick replies (SMS), and reads the typed number', async () => {
    await start();
    const s = sandbox;
    const joao = s.customer('5511912345678@take.io');
    s.say(joao, 'Preciso de ajuda');
    const ticket = await s.helpdesk.waitFor(() => s.helpdesk.tickets()[0], 10_000, 'the ticket');
    await s.helpdesk.closeTicket(ticket.id);
    const question = await s.lime.waitForSent(
      (m) => m.envelope.to === joao.address && String(m.envelope.content).startsWith(pt.surveyQuestion),
    );
    expect(question.envelope.type).toBe('text/plain');
    expect(question.envelope.content).toBe(
      [pt.surveyQuestion, ...pt.surveyOptions.split('|'), pt.surveyHint].join('\n'),
    );
    expect(s.lime.sentTo(joao.address).some((m) => m.envelope.type === SELECT)).toBe(false);
    s.say(joao, '3');
    expect(await redirectContext(joao)).toMatchObject({ rating: 3, survey: 'answered' });
  });

  it('main-bot: asks nothing and tells the main bot to run its own survey', async () => {
    await start({ BRIDGE_SURVEY: 'main-bot' });
    const s = sandbox;
    const maria = s.customer('5511987654321@wa.gw.msging.net');
    s.say(maria, 'Quero falar sobre meu boleto');
    const ticket = await s.helpdesk.waitFor(() => s.helpdesk.tickets()[0], 10_000, 'the ticket');
    await s.helpdesk.closeTicket(ticket.id);
    const context = await redirectContext(maria);
    expect(context).toMatchObject({ rating: 0, survey: 'main-bot', endedBy: 'agent', locale: 'pt-BR' });
    expect(s.lime.sentTo(maria.address).some((m) => m.envelope.type === SELECT)).toBe(false);
  });

  it('hands back without a rating when the customer does not answer in time', async () => {
    await start({ BRIDGE_SURVEY_TIMEOUT_SECONDS: '2' });
    const s = sandbox;
    const maria = s.customer('5511987654321@wa.gw.msging.net');
    await solvedTicket(maria);
    const context = await redirectContext(maria);
    expect(context).toMatchObject({ rating: 0, survey: 'unanswered', endedBy: 'agent' });
    expect(s.helpdesk.tickets()[0]?.bridgeNotes.some((n) => n.includes('/5'))).toBe(false);
  });
});

describeWithRedis('the survey across a restart (state and timer on Redis)', () => {
  let redis: RedisServer;
  let sandbox: Sandbox;

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis.stop();
  });
  afterEach(async () => {
    await sandbox.stop();
    await redis.flush();
  });

  async function surveyThenRestart(env: Record<string, string> = {}) {
    sandbox = await startSandbox({
      logger: captureLogs('error').logger,
      redisUrl: redis.url,
      env: { BRIDGE_SURVEY: 'bridge', ...env },
    });
    const s = sandbox;
    const maria = s.customer('5511987654321@wa.gw.msging.net');
    s.say(maria, 'Quero falar sobre meu boleto');
    const ticket = await s.helpdesk.waitFor(() => s.helpdesk.tickets()[0], 10_000, 'the ticket');
    await s.helpdesk.closeTicket(ticket.id);
    const select = await s.lime.waitForSent(
      (m) => m.envelope.to === maria.address && m.envelope.type === SELECT,
    );
    // The instance that asked goes away; another one (same Redis) takes over.
    await s.bridge.stop();
    await s.startAnotherBridge();
    return { maria, select };
  }

  function redirectOf(maria: SandboxCustomer): Promise<TicketContext> {
    return sandbox.lime
      .waitForSent((m) => m.envelope.to === maria.address && m.envelope.type === REDIRECT, 15_000)
      .then((m) => (m.envelope.content as { context: { value: TicketContext } }).context.value);
  }

  it('takes the answer on the instance that did not ask', async () => {
    const { maria, select } = await surveyThenRestart();
    sandbox.lime.sendFromCustomer(sandbox.bot, maria, 'application/vnd.lime.reply+json', {
      replied: { type: 'text/plain', value: '2 - Ruim' },
      inReplyTo: { id: select.envelope.id, type: SELECT, value: select.envelope.content, direction: 'sent' },
    });
    expect(await redirectOf(maria)).toMatchObject({ rating: 2, survey: 'answered' });
  });

  it('times out on the instance that did not ask', async () => {
    const { maria } = await surveyThenRestart({ BRIDGE_SURVEY_TIMEOUT_SECONDS: '2' });
    expect(await redirectOf(maria)).toMatchObject({ rating: 0, survey: 'unanswered' });
  });
});
