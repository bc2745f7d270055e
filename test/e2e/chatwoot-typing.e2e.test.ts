/**
 * Chatwoot's typing webhooks through the whole bridge (issue 19 item 6, on the agent.typing event): the agent typing
 * a reply reaches the customer as LIME chat states (composing each time, then paused), never as a message; typing a
 * private note does not.
 */
import type { ChatwootEmulator } from '../../src/adapters/chatwoot/emulator';
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import { captureLogs } from '../helpers/log-capture';
import { freePort } from '../helpers/redis-server';

jest.setTimeout(30_000);

const CHAT_STATE = 'application/vnd.lime.chatstate+json';

describe('Chatwoot typing through the sandbox', () => {
  let sandbox: Sandbox<'chatwoot'>;
  let chatwoot: ChatwootEmulator;

  beforeAll(async () => {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        sandbox = await startSandbox({
          vendor: 'chatwoot',
          logger: captureLogs().logger,
          env: { HTTP_PORT: String(port), BRIDGE_PUBLIC_URL: `http://127.0.0.1:${port}` },
        });
        break;
      } catch (err) {
        if (attempt >= 5 || (err as { code?: string }).code !== 'EADDRINUSE') throw err;
      }
    }
    chatwoot = sandbox.helpdesk as unknown as ChatwootEmulator;
  });
  afterAll(() => sandbox.stop());

  it('the agent typing a reply: composing each time, then paused; typing a note: nothing', async () => {
    const c = sandbox.customer('5511955550001@wa.gw.msging.net');
    sandbox.say(c, 'alguém aí?');
    const ticket = await chatwoot.waitFor(
      () => chatwoot.tickets().find((t) => t.customerExternalId === c.originator),
      15_000,
      'the conversation',
    );
    const statesTo = () =>
      sandbox.lime.chatStates
        .filter((s) => s.envelope.to === c.address)
        .map((s) => (s.envelope.content as { state: string }).state);

    expect((await chatwoot.typing(ticket.id, true, true)).status).toBe(200); // a private note: not for the customer
    expect((await chatwoot.typing(ticket.id)).status).toBe(200);
    await sandbox.lime.waitForChatState((s) => s.envelope.to === c.address);
    await chatwoot.typing(ticket.id);
    await chatwoot.typing(ticket.id, false);
    await chatwoot.waitFor(() => statesTo().length === 3, 10_000, 'three chat states');
    await chatwoot.agentReply(ticket.id, 'Oi! Estou aqui.');
    await sandbox.lime.waitForSent((s) => s.envelope.content === 'Oi! Estou aqui.');

    expect(statesTo()).toEqual(['composing', 'composing', 'paused']);
    expect(sandbox.lime.chatStates.every((s) => s.envelope.type === CHAT_STATE)).toBe(true);
    expect(
      sandbox.lime
        .sentTo(c.address)
        .filter((s) => s.envelope.type !== CHAT_STATE)
        .map((s) => s.envelope.content),
    ).toEqual(['Oi! Estou aqui.']);
  });
});
