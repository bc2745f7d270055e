/**
 * Chatwoot's typing webhooks through the whole bridge (issue 19 item 6, on the agent.typing event): the agent typing
 * a reply reaches the customer as LIME chat states (composing each time, then paused), never as a message; typing a
 * private note does not. And the other way (issue 20.2): the customer typing reaches Chatwoot as the contact typing
 * (the public client API's `toggle_typing`), and the customer's `consumed` for an agent's message as the contact's
 * last seen (`update_last_seen`), which shows the agent's message read.
 */
import type { ChatwootEmulator } from '../../src/adapters/chatwoot/emulator';
import { readByContact } from '../../src/adapters/chatwoot/emulator-payloads';
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

  it('the customer typing and seeing: toggle_typing as the contact, update_last_seen on consumed', async () => {
    const c = sandbox.customer('5511955550002@wa.gw.msging.net');
    sandbox.say(c, 'oi, tenho uma dúvida');
    const ticket = await chatwoot.waitFor(
      () => chatwoot.tickets().find((t) => t.customerExternalId === c.originator),
      15_000,
      'the conversation',
    );
    const conversation = chatwoot.conversations.get(Number(ticket.id))!;
    await sandbox.bridge.runner.idle();
    const chatstate = (state: string) => sandbox.lime.sendFromCustomer(sandbox.bot, c, CHAT_STATE, { state });

    chatstate('composing');
    await chatwoot.waitFor(() => conversation.contactTyping === true, 10_000, 'the contact typing');
    chatstate('composing'); // within 3 s: not sent again
    chatstate('paused');
    await chatwoot.waitFor(() => conversation.contactTyping === false, 10_000, 'the contact stopped');
    expect(conversation.contactTypingLog).toEqual(['on', 'off']);

    await chatwoot.agentReply(ticket.id, 'Pode perguntar!');
    const reply = await sandbox.lime.waitForSent((s) => s.envelope.content === 'Pode perguntar!');
    await sandbox.bridge.runner.idle();
    const agentMessage = conversation.messages.find((m) => m.content === 'Pode perguntar!')!;
    expect(readByContact(agentMessage, conversation)).toBe(false);
    sandbox.lime.notifyFromCustomer(sandbox.bot, c, String(reply.envelope.id), 'received');
    sandbox.lime.notifyFromCustomer(sandbox.bot, c, String(reply.envelope.id), 'consumed');
    await chatwoot.waitFor(() => conversation.contactLastSeenAt, 10_000, 'the contact’s last seen');
    expect(readByContact(agentMessage, conversation)).toBe(true);
    const publicCalls = chatwoot.requests.filter((r) => r.path.startsWith('/public/'));
    expect(publicCalls.map((r) => `${r.path.split('/').pop()} ${r.status}`)).toEqual([
      'toggle_typing 200',
      'toggle_typing 200',
      'update_last_seen 200',
    ]);
    // Chatwoot's webhooks of the contact's own typing are not sent back to the customer as chat states.
    // The bridge answers them (200) and ignores them.
    const contactTyping = () =>
      chatwoot.deliveries.flatMap((d) => {
        const b = JSON.parse(d.body) as { event?: string; user?: { type?: string; id?: number } };
        const ours = b.user?.type === 'contact' && b.user.id === conversation.contact.id;
        return ours && b.event?.startsWith('conversation_typing_') ? [`${b.event} ${d.status}`] : [];
      });
    await chatwoot.waitFor(() => contactTyping().length === 2, 10_000, 'the contact typing webhooks');
    expect(contactTyping()).toEqual(['conversation_typing_on 200', 'conversation_typing_off 200']);
    await sandbox.bridge.runner.idle();
    expect(sandbox.lime.chatStates.filter((s) => s.envelope.to === c.address)).toEqual([]);
    expect(sandbox.lime.notificationProblems).toEqual([]);
  });
});
