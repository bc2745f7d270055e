/**
 * Omnize end to end (issue 19.4, issue 20 items 2 and 7): the real bridge, the real blip-sdk client against the
 * sandbox LIME server, and the Omnize emulator playing its triggers to the route with its token. The customer reads
 * the queue position, who joined, the agent typing (a LIME chat state), the agent's message; `unavailable` takes the
 * no-agent path; `finished` hands back. Omnize reads the bot conversation at the `external_history` URL.
 */
import type { OmnizeEmulator } from '../../src/adapters/omnize/emulator';
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import type { SandboxCustomer } from '../../sandbox/lime-server';
import { captureLogs } from '../helpers/log-capture';
import { freePort } from '../helpers/redis-server';

jest.setTimeout(60_000);

const REDIRECT = 'application/vnd.lime.redirect+json';
const CHAT_STATE = 'application/vnd.lime.chatstate+json';
const NO_AGENT =
  'Nossos atendentes estão ocupados agora. Sua mensagem está registrada e vamos responder assim que possível.';

describe('Omnize through the sandbox', () => {
  let sandbox: Sandbox<'omnize'>;
  let omnize: OmnizeEmulator;

  beforeAll(async () => {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        sandbox = await startSandbox({
          vendor: 'omnize',
          logger: captureLogs().logger,
          env: {
            HTTP_PORT: String(port),
            BRIDGE_PUBLIC_URL: `http://127.0.0.1:${port}`,
            BRIDGE_ASSIGNED_MESSAGE: '{agent} entrou na conversa.',
            BRIDGE_TRANSCRIPT: 'note',
            BRIDGE_NO_AGENT_ACTION: 'redirect',
          },
        });
        break;
      } catch (err) {
        if (attempt >= 5 || (err as { code?: string }).code !== 'EADDRINUSE') throw err;
      }
    }
    omnize = sandbox.helpdesk as unknown as OmnizeEmulator;
  });
  afterAll(() => sandbox.stop());

  const received = (c: SandboxCustomer) =>
    sandbox.lime
      .sentTo(c.address)
      .map((s) => (s.envelope.type === 'text/plain' ? String(s.envelope.content) : s.envelope.type));
  const statesTo = (c: SandboxCustomer) =>
    sandbox.lime.chatStates
      .filter((s) => s.envelope.to === c.address)
      .map((s) => (s.envelope.content as { state: string }).state);
  const interactionOf = (c: SandboxCustomer) =>
    omnize.waitFor(
      () => [...omnize.interactions.values()].find((i) => i.request.extra?.bridge_customer === c.originator),
      15_000,
      'the customer’s interaction',
    );

  it('queue position, who joined, typing, the agent’s message, then finished → Redirect', async () => {
    const c = sandbox.customer('5511988887777@wa.gw.msging.net');
    sandbox.lime.seedThread(c, [
      { from: 'customer', content: 'Minha internet caiu' },
      { from: 'bot', content: 'Vou te passar para um atendente.' },
    ]);
    sandbox.say(c, 'Quero falar com alguém');
    const interaction = await interactionOf(c);
    await omnize.waitFor(() => interaction.messages.length > 0, 10_000, 'the first message');
    expect(interaction.request).toMatchObject({
      department_id: 1,
      media_type: 'WHATSAPP',
      customer: { phone: '5511988887777' },
      extra: { bridge_customer: c.originator },
    });
    // The bot conversation, where Omnize reads it: the external_history URL the bridge serves.
    const history = await omnize.waitFor(() => interaction.history, 10_000, 'the external history');
    expect(history.messages.map((m) => [m.direction, m.content])).toEqual(
      expect.arrayContaining([
        ['CLIENT', 'Minha internet caiu'],
        ['AGENT', 'Vou te passar para um atendente.'],
      ]),
    );
    expect(interaction.messages.map((m) => m.content)).toEqual(['Quero falar com alguém']);

    await omnize.queued(interaction.hash, 3);
    await sandbox.lime.waitForSent((s) => s.envelope.content === 'Você é o 3º da fila.');
    await omnize.agentAssign(interaction.hash, 'Ana Souza');
    await sandbox.lime.waitForSent((s) => s.envelope.content === 'Ana Souza entrou na conversa.');

    // Typing: a chat state each time (typing repeats: never deduped), then paused; never a message.
    await omnize.typing(interaction.hash);
    await sandbox.lime.waitForChatState((s) => s.envelope.to === c.address);
    await omnize.typing(interaction.hash);
    await omnize.typing(interaction.hash, false);
    await omnize.waitFor(() => statesTo(c).length === 3, 10_000, 'three chat states');
    expect(statesTo(c)).toEqual(['composing', 'composing', 'paused']);
    expect(sandbox.lime.chatStates.every((s) => s.envelope.type === CHAT_STATE && !s.envelope.id)).toBe(true);

    await omnize.agentReply(interaction.hash, 'Oi! Vou verificar sua conexão.');
    await sandbox.lime.waitForSent((s) => s.envelope.content === 'Oi! Vou verificar sua conexão.');

    await omnize.closeTicket(interaction.hash);
    const redirect = await sandbox.lime.waitForSent(
      (s) => s.envelope.to === c.address && s.envelope.type === REDIRECT,
    );
    expect(
      (redirect.envelope.content as { context: { value: Record<string, unknown> } }).context.value,
    ).toMatchObject({
      provider: 'omnize',
      externalId: interaction.hash,
      endedBy: 'agent',
    });
    expect(received(c)).toEqual([
      'Você é o 3º da fila.',
      'Ana Souza entrou na conversa.',
      'Oi! Vou verificar sua conexão.',
      'Seu atendimento foi encerrado. Obrigado pelo contato!',
      REDIRECT,
    ]);
  });

  it('the customer typing reaches Omnize: PUT .../typing, then .../cleared when paused (issue 20.2)', async () => {
    const c = sandbox.customer('5511966665555@wa.gw.msging.net');
    const chatstate = (state: string) => sandbox.lime.sendFromCustomer(sandbox.bot, c, CHAT_STATE, { state });
    sandbox.say(c, 'Preciso de ajuda');
    const interaction = await interactionOf(c);
    await omnize.waitFor(() => interaction.messages.length > 0, 10_000, 'the first message');
    await sandbox.bridge.runner.idle();
    chatstate('composing');
    await omnize.waitFor(() => interaction.clientTyping === 'typing', 10_000, 'the customer typing');
    chatstate('composing'); // within 3 s of the first: not sent again
    chatstate('paused');
    await omnize.waitFor(() => interaction.clientTyping === 'cleared', 10_000, 'the customer stopped');
    expect(interaction.clientTypingLog).toEqual(['typing', 'cleared']);
    const calls = omnize.requests.filter((r) =>
      r.path.startsWith(`/api/v1/interactions/${interaction.hash}/`),
    );
    expect(calls.map((r) => `${r.method} ${r.path.split('/').pop()} ${r.status}`)).toEqual([
      'POST messages 200',
      'PUT typing 200',
      'PUT cleared 200',
    ]);
    // Nothing for the agent to read: no message.
    expect(interaction.messages.map((m) => m.content)).toEqual(['Preciso de ajuda']);
  });

  it('unavailable takes the no-agent path: the no-agent text, then the hand-back (BRIDGE_NO_AGENT_ACTION=redirect)', async () => {
    const c = sandbox.customer('5511977776666@wa.gw.msging.net');
    sandbox.say(c, 'Alguém aí?');
    const interaction = await interactionOf(c);
    await omnize.waitFor(() => interaction.messages.length > 0, 10_000, 'the first message');
    await omnize.unavailable(interaction.hash);
    const redirect = await sandbox.lime.waitForSent(
      (s) => s.envelope.to === c.address && s.envelope.type === REDIRECT,
    );
    expect(
      (redirect.envelope.content as { context: { value: Record<string, unknown> } }).context.value,
    ).toMatchObject({
      endedBy: 'expired',
    });
    // As the no-agent timer does: its text, then the hand-back (closing text, Redirect).
    expect(received(c)).toEqual([
      NO_AGENT,
      'Seu atendimento foi encerrado. Obrigado pelo contato!',
      REDIRECT,
    ]);
    // The bridge finished the interaction at Omnize (closed as expired).
    await omnize.waitFor(() => interaction.state === 'finished', 10_000, 'the interaction finished');
  });
});
