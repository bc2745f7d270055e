/**
 * Several helpdesks in one bridge process (`BRIDGE_VENDORS`, `BRIDGE_ROUTES`): customers are routed at their first
 * message, each ticket stays with the helpdesk that opened it, each helpdesk keeps its own webhook route, and a close
 * on one never touches a conversation on the other. Real processes: blip-sdk against the local LIME server, real
 * HTTP to the Zendesk and ServiceNow emulators, real signed webhooks, real Redis for the Redis run.
 */
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import type { SandboxCustomer } from '../../sandbox/lime-server';
import type { VendorEmulator } from '../../sandbox/vendor-emulator';
import { captureLogs } from '../helpers/log-capture';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';
import { describeEachState } from '../helpers/requirements';

jest.setTimeout(60_000);

const REDIRECT = 'application/vnd.lime.redirect+json';

describeEachState([['memory'], ['redis']])('two helpdesks in one process with %s state', (mode) => {
  let redis: RedisServer | undefined;
  let sandbox: Sandbox;
  let zendesk: VendorEmulator;
  let servicenow: VendorEmulator;

  beforeAll(async () => {
    if (mode === 'redis') redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  beforeEach(async () => {
    await redis?.flush();
    sandbox = await startSandbox({
      logger: captureLogs().logger,
      redisUrl: redis?.url,
      vendors: ['zendesk', 'servicenow'],
      env: {
        BRIDGE_ROUTES: JSON.stringify([
          { team: 'financeiro', vendor: 'servicenow' },
          { channel: 'Telegram', vendor: 'servicenow' },
        ]),
      },
    });
    zendesk = sandbox.helpdesks.zendesk!;
    servicenow = sandbox.helpdesks.servicenow!;
  });
  afterEach(async () => {
    await sandbox.stop();
  });

  const texts = (c: SandboxCustomer) =>
    sandbox.lime
      .sentTo(c.address)
      .map((s) => (s.envelope.type === 'text/plain' ? String(s.envelope.content) : s.envelope.type));
  const waitText = (c: SandboxCustomer, text: string) =>
    sandbox.lime.waitForSent((s) => s.envelope.to === c.address && s.envelope.content === text, 15_000, text);
  const waitRedirect = (c: SandboxCustomer) =>
    sandbox.lime.waitForSent(
      (s) => s.envelope.to === c.address && s.envelope.type === REDIRECT,
      15_000,
      'the Redirect',
    );

  it('routes by the Redirect context and the channel, keeps each ticket with its helpdesk, closes one alone', async () => {
    const maria = sandbox.customer('5511987654321@wa.gw.msging.net'); // no rule: the default, Zendesk
    const joao = sandbox.customer('5511912345678@wa.gw.msging.net'); // the bot asks for team financeiro
    const ana = sandbox.customer('123456789@telegram.gw.msging.net'); // Telegram: ServiceNow

    sandbox.say(maria, 'Meu pedido atrasou');
    sandbox.handOver(joao, { team: 'financeiro', text: 'Quero a segunda via do boleto' });
    sandbox.say(ana, 'Oi, preciso de ajuda');
    const zTicket = await zendesk.waitFor(() => zendesk.tickets()[0], 15_000, 'the Zendesk ticket');
    const [jTicket, aTicket] = await servicenow.waitFor(
      () => servicenow.tickets().length === 2 && servicenow.tickets(),
      15_000,
      'two ServiceNow incidents',
    );
    expect(zendesk.tickets()).toHaveLength(1);
    expect(zTicket.customerMessages).toEqual(['Meu pedido atrasou']);
    const byFirst = new Map([jTicket!, aTicket!].map((t) => [t.customerMessages[0], t] as const));
    const joaoTicket = byFirst.get('Quero a segunda via do boleto')!;
    const anaTicket = byFirst.get('Oi, preciso de ajuda')!;
    expect(joaoTicket).toBeDefined();
    expect(anaTicket).toBeDefined();

    // Each agent answers in their own helpdesk; each reply reaches its own customer.
    await zendesk.agentReply(zTicket.id, 'Zendesk aqui, Maria');
    await servicenow.agentReply(joaoTicket.id, 'ServiceNow aqui, João');
    await waitText(maria, 'Zendesk aqui, Maria');
    await waitText(joao, 'ServiceNow aqui, João');

    // Maria's ticket closes while João is mid-conversation: João's next messages still go to ServiceNow.
    await zendesk.closeTicket(zTicket.id);
    await waitRedirect(maria);
    sandbox.say(joao, 'Ainda estou aqui');
    await servicenow.waitFor(
      () =>
        servicenow
          .tickets()
          .find((t) => t.id === joaoTicket.id)
          ?.customerMessages.includes('Ainda estou aqui'),
      15_000,
      "João's next message on his incident",
    );
    expect(texts(joao)).not.toContain(REDIRECT);
    await servicenow.agentReply(joaoTicket.id, 'Resolvido, João');
    await waitText(joao, 'Resolvido, João');

    // A later message of Maria's (no rule) opens a new Zendesk ticket; João's incident closes on its own.
    sandbox.say(maria, 'Outra dúvida');
    await zendesk.waitFor(() => zendesk.tickets().length === 2, 15_000, 'a second Zendesk ticket');
    await servicenow.closeTicket(joaoTicket.id);
    await waitRedirect(joao);
    expect(servicenow.tickets()).toHaveLength(2);
    expect(zendesk.tickets().flatMap((t) => t.customerMessages)).not.toContain('Ainda estou aqui');
    expect(texts(ana)).not.toContain(REDIRECT);
  });

  it('refuses a webhook of one helpdesk signed for the other', async () => {
    const maria = sandbox.customer('5511987654321@wa.gw.msging.net');
    sandbox.say(maria, 'Oi');
    const ticket = await zendesk.waitFor(() => zendesk.tickets()[0], 15_000, 'the Zendesk ticket');
    const body = zendesk.agentReplyBodyForUnknownTicket('x');
    // ServiceNow's signature on a body sent to Zendesk's route is not Zendesk's signature.
    const delivery = await zendesk.deliverRaw(body, servicenow.signedHeaders(body));
    expect(delivery.status).toBe(401);
    expect(ticket.customerMessages).toEqual(['Oi']);
  });
});
