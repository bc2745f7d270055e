/**
 * The BLiP edge's CustomerDirectory (src/blip/directory.ts) against the LIME fixtures: the exact commands BLiP
 * documents (19a, 20a, 19d), the contact (19b), "not found" (19c) with the tunnel account fallback (19e), and the
 * thread (20b) as transcript entries. Also the Redirect context parser (src/blip/handoff-context.ts).
 */
import type { LimeCommand } from 'blip-sdk';
import { type CommandSender, BlipCustomerDirectory } from '../../src/blip/directory';
import { limeToChatMessage } from '../../src/blip/content';
import { limeMessageSchema } from '../../src/blip/envelope';
import { parseHandoffContext } from '../../src/blip/handoff-context';
import type { CustomerRef } from '../../src/core/model';
import { readJsonFixture } from '../helpers/fixtures';

const lime = (name: string) =>
  readJsonFixture<LimeCommand & Record<string, unknown>>(`fixtures/lime/${name}.json`);

const MARIA: CustomerRef = {
  key: '8c1e5f7a-3b2d-4e9f-a6c0-5d7b2e9f1a43@tunnel.msging.net',
  address: '8c1e5f7a-3b2d-4e9f-a6c0-5d7b2e9f1a43@tunnel.msging.net',
  originator: '5511987654321@wa.gw.msging.net',
  owner: 'acmerouter@msging.net',
};

/** Answers each command with the fixture for its URI; records what was sent. */
function fakeSession(answers: Record<string, LimeCommand | Error>): CommandSender & { sent: LimeCommand[] } {
  const sent: LimeCommand[] = [];
  return {
    sent,
    async sendCommand(command) {
      sent.push(command);
      const path = String(command.uri).split('?')[0]!;
      const answer = Object.entries(answers).find(([prefix]) => path.startsWith(prefix))?.[1];
      if (!answer) throw new Error(`unexpected command ${command.uri}`);
      if (answer instanceof Error) throw answer;
      return { ...answer, id: command.id };
    },
  };
}

/** What blip-sdk rejects a failed command with: an Error whose message is the response as JSON. */
const sdkFailure = (response: unknown) => new Error(JSON.stringify(response));

describe('contact', () => {
  it('sends the documented command and maps the contact (fixture 19a/19b)', async () => {
    const session = fakeSession({ '/contacts/': lime('19b-cmd-get-contact-response') });
    const contact = await new BlipCustomerDirectory(session).contact(MARIA);
    const { id: _id, ...expected } = lime('19a-cmd-get-contact');
    expect(session.sent).toEqual([expect.objectContaining(expected)]);
    expect(contact).toEqual({
      name: 'Maria Oliveira',
      email: 'maria.oliveira@example.com.br',
      phone: '+5511987654321',
      culture: 'pt-BR',
      city: 'São Paulo',
      extras: { cpf: '12345678909', plano: 'Fibra 500' },
    });
  });

  it('falls back to the router’s tunnel account when the roster has no contact (19c, 19d/19e)', async () => {
    const session = fakeSession({
      '/contacts/': sdkFailure(lime('19c-cmd-get-contact-not-found-response')),
      'lime://tunnel.msging.net/accounts/': lime('19e-cmd-get-tunnel-account-response'),
    });
    const contact = await new BlipCustomerDirectory(session).contact(MARIA);
    const { id: _id, ...expected } = lime('19d-cmd-get-tunnel-account');
    expect(session.sent[1]).toEqual(expect.objectContaining(expected));
    expect(contact).toEqual({ name: 'Maria Oliveira', phone: '+5511987654321' });
  });

  it('knows a WhatsApp customer’s phone from the tunnel originator when BLiP has nothing', async () => {
    const notFound = sdkFailure(lime('19c-cmd-get-contact-not-found-response'));
    const session = fakeSession({ '/contacts/': notFound, 'lime://': notFound });
    expect(await new BlipCustomerDirectory(session).contact(MARIA)).toEqual({ phone: '+5511987654321' });
    const web = { ...MARIA, originator: '4f9d2c7e.acmerouter@0mn.io' };
    expect(await new BlipCustomerDirectory(session).contact(web)).toBeUndefined();
  });

  it('throws on other failures (the core logs them and opens the ticket without)', async () => {
    const session = fakeSession({
      '/contacts/': sdkFailure({ status: 'failure', reason: { code: 32, description: 'Timeout' } }),
    });
    await expect(new BlipCustomerDirectory(session).contact(MARIA)).rejects.toThrow();
  });
});

describe('history', () => {
  it('asks for the thread like fixture 20a and renders 20b oldest first, who said it, files as attachments', async () => {
    const session = fakeSession({ '/threads/': lime('20b-cmd-get-thread-response') });
    const entries = await new BlipCustomerDirectory(session).history(MARIA, 20);
    const { id: _id, ...expected } = lime('20a-cmd-get-thread');
    expect(session.sent).toEqual([expect.objectContaining(expected)]);
    expect(entries.map((e) => e.at)).toEqual([...entries.map((e) => e.at)].sort());
    expect(entries[0]).toEqual({
      id: 'context:039b70b8-92f7-44b7-9c91-4e3f0e900c71',
      at: '2025-03-18T14:01:51.212Z',
      from: 'customer',
      text: 'Quero falar com um atendente',
    });
    const photo = entries.find((e) => e.text === 'Foto do boleto')!;
    expect(photo.attachments?.[0]).toMatchObject({ mimeType: 'image/jpeg' });
    expect(photo.attachments?.[0]?.url).toMatch(
      /^https:\/\/blipmediastore\.blob\.core\.windows\.net\/secure-medias\//,
    );
    const asked = entries.find((e) => e.id === '3d4dd836-8afd-418b-8423-579e58f3cb00')!;
    expect(asked).toMatchObject({ from: 'bot', text: expect.stringContaining('Pode me informar o CPF') });
    const reply = entries.find((e) => e.text.endsWith('123.456.789-09'))!;
    expect(reply.from).toBe('customer');
    expect(entries).toHaveLength(9);
  });

  it('keeps the newest `limit` entries', async () => {
    const session = fakeSession({ '/threads/': lime('20b-cmd-get-thread-response') });
    const entries = await new BlipCustomerDirectory(session).history(MARIA, 2);
    expect(entries.map((e) => e.at)).toEqual(['2025-03-18T14:05:02.915Z', '2025-03-18T14:15:02.037Z']);
  });
});

describe('Redirect context', () => {
  const context = (content: unknown, id = 'context:039b70b8-92f7-44b7-9c91-4e3f0e900c71') =>
    limeToChatMessage(
      limeMessageSchema.parse({
        ...lime('11-inbound-redirect-context'),
        id,
        type: 'application/json',
        content,
      }),
      new Date('2026-11-03T14:00:00Z'),
    );

  it('reads team, priority, tags, subject and data from a JSON context', () => {
    const rendered = context({
      team: 'billing',
      priority: 'URGENT',
      tags: 'vip, boleto',
      subject: 'Segunda via',
      text: 'Quero falar com um atendente',
      data: { orderId: 88412, nested: { no: true } },
      unknown: 1,
    });
    expect(rendered).toEqual({
      kind: 'message',
      message: {
        id: 'context:039b70b8-92f7-44b7-9c91-4e3f0e900c71',
        text: 'Quero falar com um atendente',
        contentType: 'application/json',
        at: '2026-11-03T14:00:00.000Z',
        handoff: {
          team: 'billing',
          priority: 'urgent',
          tags: ['vip', 'boleto'],
          subject: 'Segunda via',
          data: { orderId: '88412' },
        },
      },
    });
  });

  it('gives the agent a line when the context has no text', () => {
    const rendered = context({ team: 'billing' });
    expect(rendered.kind === 'message' && rendered.message.text).toBe(
      '[The bot handed the customer over to team billing.]',
    );
  });

  it('never takes a customer’s own JSON (fixture 07c) or a text context for one', () => {
    const postback = readJsonFixture<{ id: string; type: string; content: unknown }>(
      'fixtures/lime/07c-inbound-select-answer-postback-value.json',
    );
    expect(parseHandoffContext(postback.id, postback.type, postback.content)).toBeUndefined();
    const text = lime('11-inbound-redirect-context') as unknown as {
      id: string;
      type: string;
      content: unknown;
    };
    expect(parseHandoffContext(text.id, text.type, text.content)).toBeUndefined();
    expect(parseHandoffContext('context:x', 'application/json', ['not', 'an', 'object'])).toBeUndefined();
  });
});
