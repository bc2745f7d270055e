/**
 * The bot conversation for the agent (issue 20 item 4), through the sandbox: the customer talked to the router's
 * main bot before the handoff, and that conversation lives in the ROUTER's thread with the real customer, not in the
 * bridge's thread with the tunnel. With BLIP_HISTORY_KEY (the router's HTTP key) the ticket's transcript is the
 * router's thread, read over BLiP's HTTP commands; without it, the bridge's own thread (only what reached the bridge).
 * The sandbox serves the router's thread only to the router's credentials.
 */
import {
  SANDBOX_ACCESS_KEY,
  SANDBOX_BOT,
  SANDBOX_ROUTER_HTTP_KEY,
  startSandbox,
  type Sandbox,
} from '../../sandbox/harness';
import { LimeServer } from '../../sandbox/lime-server';
import { captureLogs } from '../helpers/log-capture';

jest.setTimeout(30_000);

let sandbox: Sandbox | undefined;
afterEach(async () => {
  await sandbox?.stop();
  sandbox = undefined;
});

const ORIGINATOR = '5511987654321@wa.gw.msging.net';

async function start(env: Record<string, string>): Promise<Sandbox> {
  sandbox = await startSandbox({
    logger: captureLogs().logger,
    env: { BRIDGE_TRANSCRIPT: 'note', BRIDGE_TRANSCRIPT_MESSAGES: '10', ...env },
  });
  return sandbox;
}

/** The customer's conversation with the router's main bot, then the handoff's first message to the bridge. */
async function handOff(s: Sandbox): Promise<string> {
  const customer = s.customer(ORIGINATOR);
  s.lime.seedRouterThread(customer, [
    { from: 'bot', content: 'Olá! Sou o assistente da Acme. Como posso ajudar?' },
    { from: 'customer', content: 'Minha fatura de março veio em dobro' },
    { from: 'bot', content: 'Vou te passar para um atendente humano.' },
  ]);
  // What the bridge's own thread holds from before: nothing of the bot conversation.
  s.lime.seedThread(customer, [{ from: 'bot', content: 'a line only the bridge’s thread has' }]);
  s.say(customer, 'Oi, preciso de ajuda com a fatura');
  const ticket = await s.helpdesk.waitFor(
    () => s.helpdesk.tickets().find((t) => t.bridgeNotes.length > 0),
    10_000,
    'the ticket with its transcript note',
  );
  return ticket.bridgeNotes[0]!;
}

it('with BLIP_HISTORY_KEY: the transcript is the router’s thread, read with the router’s key', async () => {
  const s = await start({ BLIP_HISTORY_KEY: `Key ${SANDBOX_ROUTER_HTTP_KEY}` });
  const note = await handOff(s);
  expect(note).toContain('Bot: Olá! Sou o assistente da Acme. Como posso ajudar?');
  expect(note).toContain('Customer: Minha fatura de março veio em dobro');
  expect(note).toContain('Bot: Vou te passar para um atendente humano.');
  expect(note).not.toContain('only the bridge’s thread has');
  // The handoff's own first message is the ticket's first comment, not a line of the transcript.
  expect(note).not.toContain('preciso de ajuda com a fatura');
  expect(s.lime.httpCommands).toEqual([
    expect.objectContaining({
      identity: 'acmerouter@msging.net',
      status: 200,
      uri: expect.stringMatching(/^\/threads\/5511987654321@wa\.gw\.msging\.net\?/),
    }),
  ]);
});

it('without it: the bridge’s own thread with the tunnel (what reached the bridge)', async () => {
  const s = await start({});
  const note = await handOff(s);
  expect(note).toContain('Bot: a line only the bridge’s thread has');
  expect(note).not.toContain('Minha fatura de março veio em dobro');
  expect(s.lime.httpCommands).toEqual([]);
});

it('a key BLiP refuses: the ticket opens without the transcript, and the log says which key', async () => {
  const logs = captureLogs();
  sandbox = await startSandbox({
    logger: logs.logger,
    env: {
      BRIDGE_TRANSCRIPT: 'note',
      BLIP_HISTORY_KEY: Buffer.from('acmerouter:not-the-key').toString('base64'),
    },
  });
  const s = sandbox;
  s.say(s.customer(ORIGINATOR), 'Oi');
  await s.helpdesk.waitFor(() => s.helpdesk.tickets().length === 1);
  await s.bridge.runner.idle();
  expect(s.helpdesk.tickets()[0]!.bridgeNotes).toEqual([]);
  expect(s.lime.httpCommands.map((c) => c.status)).toEqual([401]);
  const line = logs.lines().find((l) => l.code === 'DIRECTORY_HISTORY_FAILED');
  expect(String(line?.error)).toMatch(/BLIP_HISTORY_KEY/);
});

it('the sandbox serves the router’s thread to the router’s key only', async () => {
  const s = await start({});
  const customer = s.customer(ORIGINATOR);
  s.lime.seedRouterThread(customer, [{ from: 'customer', content: 'só o roteador lê isto' }]);
  const get = (key: string) =>
    fetch(s.lime.commandsUrl, {
      method: 'POST',
      headers: { authorization: `Key ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'c1', method: 'get', uri: `/threads/${ORIGINATOR}` }),
    });
  const asRouter = await get(SANDBOX_ROUTER_HTTP_KEY);
  expect(asRouter.status).toBe(200);
  const routerBody = (await asRouter.json()) as {
    status: string;
    resource: { items: Array<{ content: unknown }> };
  };
  expect(routerBody.status).toBe('success');
  expect(routerBody.resource.items.map((i) => i.content)).toEqual(['só o roteador lê isto']);
  // The bridge's own key reads the bridge's threads: nothing with the real customer.
  const asBridge = (await (await get(LimeServer.httpKey(SANDBOX_BOT, SANDBOX_ACCESS_KEY))).json()) as {
    resource: { items: unknown[] };
  };
  expect(asBridge.resource.items).toEqual([]);
  expect((await get(Buffer.from('acmerouter:wrong').toString('base64'))).status).toBe(401);
});
