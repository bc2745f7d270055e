import { readdirSync } from 'node:fs';
import { chatMessageToLime, limeToChatMessage, renderDocument } from '../../src/blip/content';
import {
  customerFromMessage,
  domainOf,
  identityOf,
  type InboundMessage,
  limeMessageSchema,
  limeNotificationSchema,
} from '../../src/blip/envelope';
import type { ChatMessage } from '../../src/core/model';
import { fixturePath, readJsonFixture } from '../helpers/fixtures';

const LIME = 'fixtures/lime';
const TUNNEL = '8c1e5f7a-3b2d-4e9f-a6c0-5d7b2e9f1a43@tunnel.msging.net';
const RECEIVED_AT = new Date('2025-03-18T14:02:06.000Z');

/** Every inbound message fixture (01..12; 13a-c are notifications, 14+ outbound or commands). */
const inboundMessageFiles = readdirSync(fixturePath(LIME))
  .filter((f) => /^(0\d|1[0-2])[a-z]?-inbound-.*\.json$/.test(f))
  .sort();

function lime(name: string): unknown {
  const file = readdirSync(fixturePath(LIME)).find((f) => f.startsWith(`${name}-`));
  if (!file) throw new Error(`no LIME fixture ${name}`);
  return readJsonFixture(`${LIME}/${file}`);
}

function parsed(name: string): InboundMessage {
  return limeMessageSchema.parse(lime(name));
}

function rendered(name: string): ChatMessage {
  const r = limeToChatMessage(parsed(name), RECEIVED_AT);
  if (r.kind !== 'message') throw new Error(`${name} was skipped: ${r.reason}`);
  return r.message;
}

describe('limeMessageSchema and limeToChatMessage over the inbound fixtures', () => {
  it('finds all the inbound message fixtures', () => {
    expect(inboundMessageFiles).toHaveLength(16);
    expect(inboundMessageFiles[0]).toMatch(/^01-/);
    expect(inboundMessageFiles.at(-1)).toMatch(/^12-/);
  });

  it.each(inboundMessageFiles)('%s parses and is either a chat state or readable text', (file) => {
    const raw = readJsonFixture<{ id: string; from: string; type: string }>(`${LIME}/${file}`);
    const message = limeMessageSchema.parse(raw);
    expect(message).toMatchObject({ id: raw.id, from: raw.from, type: raw.type });
    const r = limeToChatMessage(message, RECEIVED_AT);
    if (message.type === 'application/vnd.lime.chatstate+json') {
      expect(r.kind).toBe('skip');
      return;
    }
    if (r.kind !== 'message') throw new Error(`unexpected skip: ${r.reason}`);
    expect(r.message.id).toBe(raw.id);
    expect(r.message.contentType).toBe(raw.type);
    expect(r.message.at).toBe(RECEIVED_AT.toISOString());
    expect(r.message.text.trim()).not.toBe('');
    expect(r.message.text).not.toContain('[object Object]');
    expect(r.message.text).not.toMatch(/^\s*\{/); // never raw JSON
  });

  it('accepts null metadata values (stored/forwarded WhatsApp keys) and keeps them as null', () => {
    const message = parsed('06');
    expect(message.metadata?.['#wa.forwarded']).toBeNull();
    expect(message.metadata?.['#tunnel.originator']).toBe('5511987654321@wa.gw.msging.net');
  });

  it('turns non-string metadata values into strings', () => {
    const message = limeMessageSchema.parse({
      from: TUNNEL,
      type: 'text/plain',
      content: 'x',
      metadata: { a: 1, b: true },
    });
    expect(message.metadata).toEqual({ a: '1', b: 'true' });
  });

  it('skips both chat states (typing, Messenger ad "starting"); typing names itself for the vendor', () => {
    expect(limeToChatMessage(parsed('08a'), RECEIVED_AT)).toEqual({
      kind: 'skip',
      reason: 'chat state',
      typing: 'composing',
    });
    expect(limeToChatMessage(parsed('08b'), RECEIVED_AT)).toEqual({ kind: 'skip', reason: 'chat state' });
  });

  it('renders plain text unchanged (WhatsApp, Instagram, redirect context)', () => {
    expect(rendered('01').text).toBe('Oi, meu boleto de março veio com o valor errado');
    expect(rendered('12').text).toBe('Vocês atendem aos sábados?');
    expect(rendered('11').text).toBe('Quero falar com um atendente');
    expect(rendered('07d').text).toBe('SIM');
  });

  it('renders an image with its caption and the attachment with its MIME type and size', () => {
    const m = rendered('02');
    expect(m.text).toBe('Foto do boleto');
    expect(m.attachments).toEqual([
      {
        url: (lime('02') as { content: { uri: string } }).content.uri,
        mimeType: 'image/jpeg',
        size: 184233,
      },
    ]);
  });

  it('renders a voice note as an audio attachment with a label', () => {
    const m = rendered('03');
    expect(m.text).toBe('[audio]');
    expect(m.attachments).toHaveLength(1);
    expect(m.attachments?.[0]?.mimeType).toBe('audio/ogg');
    expect(m.attachments?.[0]?.url).toMatch(
      /^https:\/\/blipmediastore\.blob\.core\.windows\.net\/secure-medias\//,
    );
  });

  it('renders a document with its file name', () => {
    const m = rendered('04');
    expect(m.text).toBe('[boleto_marco_2025.pdf]');
    expect(m.attachments).toEqual([
      expect.objectContaining({ mimeType: 'application/pdf', name: 'boleto_marco_2025.pdf', size: 96512 }),
    ]);
  });

  it('renders a location as a maps link', () => {
    const m = rendered('05');
    expect(m.text).toContain('https://www.google.com/maps/search/?api=1&query=-23.5615227,-46.6559276');
    expect(m.attachments).toBeUndefined();
  });

  it('renders a reply with the quoted agent message, then the answer', () => {
    expect(rendered('06').text).toBe(
      '> Olá! Sou a Mariana, do financeiro. Pode me informar o CPF do titular?\n123.456.789-09',
    );
  });

  it('renders a WhatsApp button answer quoting the question and its options', () => {
    const lines = rendered('07a').text.split('\n');
    expect(lines[0]).toBe('> Seu problema foi resolvido?');
    expect(lines.slice(1, -1)).toEqual(['> 1. Sim', '> 2. Não']);
    expect(lines.at(-1)).toBe('Sim');
  });

  it('renders a WhatsApp list answer with the chosen option last', () => {
    const text = rendered('07b').text;
    expect(text).toContain('> Qual o assunto?');
    expect(text).toContain('> 4. Outros assuntos');
    expect(text.split('\n').at(-1)).toBe('Valor incorreto');
  });

  it('renders a shared contact with name, phone and e-mail', () => {
    expect(rendered('09').text).toBe('[contact] Carlos Souza +55 11 91234-5678 carlos.souza@example.com.br');
  });

  it('renders a web link as its label and URL', () => {
    expect(rendered('10').text).toBe('Segunda via https://www.acme.com.br/segunda-via?contrato=88412');
  });

  it('renders an unknown content type as a placeholder naming the type', () => {
    expect(rendered('07c').text).toBe('[unsupported content: application/json]');
    const r = renderDocument({ type: 'application/vnd.acme.loyalty-card+json', content: { points: 10 } });
    expect(r).toEqual({
      text: '[unsupported content: application/vnd.acme.loyalty-card+json]',
      attachments: [],
    });
  });

  it('renders a known type with broken content as the placeholder, not a crash', () => {
    const r = renderDocument({
      type: 'application/vnd.lime.media-link+json',
      content: { type: 'image/png' },
    });
    expect(r.text).toBe('[unsupported content: application/vnd.lime.media-link+json]');
    expect(r.attachments).toEqual([]);
  });

  it('hides sensitive content', () => {
    const r = renderDocument({
      type: 'application/vnd.lime.sensitive+json',
      content: { type: 'text/plain', value: '4111 1111 1111 1111' },
    });
    expect(r.text).toBe('[sensitive content hidden]');
    expect(r.text).not.toContain('4111');
  });

  it('gives a message without id a placeholder id from the receive time', () => {
    const r = limeToChatMessage(
      limeMessageSchema.parse({ from: TUNNEL, type: 'text/plain', content: 'oi' }),
      RECEIVED_AT,
    );
    expect(r.kind === 'message' && r.message.id).toBe(`noid:${RECEIVED_AT.getTime()}`);
  });
});

describe('thread items of 20b', () => {
  interface ThreadItem {
    id: string;
    direction: string;
    type: string;
    content: unknown;
    metadata?: Record<string, unknown>;
  }
  const thread = readJsonFixture<{ resource: { items: ThreadItem[] } }>(
    `${LIME}/20b-cmd-get-thread-response.json`,
  );
  const items = thread.resource.items;
  const byId = new Map(
    inboundMessageFiles.map((f) => {
      const raw = readJsonFixture<{ id: string }>(`${LIME}/${f}`);
      return [raw.id, f] as const;
    }),
  );

  it.each(items.map((item) => [`${item.direction} ${item.type} ${item.id.slice(0, 24)}`, item] as const))(
    '%s parses as a message and renders readable text',
    (_label, item) => {
      const message = limeMessageSchema.parse({
        id: item.id,
        from: TUNNEL,
        type: item.type,
        content: item.content,
        metadata: item.metadata,
      });
      const r = limeToChatMessage(message, RECEIVED_AT);
      if (r.kind !== 'message') throw new Error('skipped');
      expect(r.message.text.trim()).not.toBe('');
      expect(r.message.text).not.toContain('[unsupported content');
    },
  );

  it('renders each received item exactly like the live inbound fixture with the same id', () => {
    const received = items.filter((i) => i.direction === 'received');
    expect(received.length).toBeGreaterThan(5);
    for (const item of received) {
      const file = byId.get(item.id);
      expect(file).toBeDefined();
      const live = limeToChatMessage(
        limeMessageSchema.parse(readJsonFixture(`${LIME}/${file}`)),
        RECEIVED_AT,
      );
      const stored = limeToChatMessage(
        limeMessageSchema.parse({
          id: item.id,
          from: TUNNEL,
          type: item.type,
          content: item.content,
          metadata: item.metadata,
        }),
        RECEIVED_AT,
      );
      expect(stored).toEqual(live);
    }
  });
});

describe('customerFromMessage', () => {
  it('keys the customer by the tunnel identity, replies to the exact from, keeps originator, owner and channel', () => {
    const message = parsed('01');
    expect(customerFromMessage(message)).toEqual({
      key: TUNNEL,
      address: TUNNEL,
      originator: '5511987654321@wa.gw.msging.net',
      owner: 'acmerouter@msging.net',
      // Named by the edge after the originator's domain (routing rules and ticket subjects use it).
      channel: 'WhatsApp',
    });
  });

  it('keeps the exact from (with instance, as sent) as the address, and the bare lower-case identity as key', () => {
    const from = '8C1E5F7A-3b2d-4e9f-a6c0-5d7b2e9f1a43@Tunnel.msging.net/router-node-1';
    const customer = customerFromMessage(
      limeMessageSchema.parse({ from, type: 'text/plain', content: 'oi' }),
    );
    // Without an originator the channel is named after the sender's own domain.
    expect(customer).toEqual({ key: TUNNEL, address: from, channel: 'tunnel.msging.net' });
  });

  it('leaves out originator and owner when the metadata has null values for them', () => {
    const customer = customerFromMessage(
      limeMessageSchema.parse({
        from: TUNNEL,
        type: 'text/plain',
        content: 'oi',
        metadata: { '#tunnel.originator': null, '#tunnel.owner': null },
      }),
    );
    expect(customer).not.toHaveProperty('originator');
    expect(customer).not.toHaveProperty('owner');
  });

  it('sees a Blip Chat customer behind its own tunnel', () => {
    expect(customerFromMessage(parsed('10'))).toMatchObject({
      key: 'd5a0c3e8-9b7f-4a21-86de-3f1c0b5e7a99@tunnel.msging.net',
      originator: '4f9d2c7e-1a3b-4e5f-8c6d-7b0a9e2f1c34.acmerouter@0mn.io',
    });
  });
});

describe('malformed envelopes', () => {
  const good = lime('01') as Record<string, unknown>;

  it.each([
    ['no from', { ...good, from: undefined }],
    ['a from without domain', { ...good, from: 'customer' }],
    ['a from with spaces', { ...good, from: 'a b@tunnel.msging.net' }],
    ['no type', { ...good, type: undefined }],
    ['a type that is not a MIME type', { ...good, type: 'plaintext' }],
    ['a type with spaces', { ...good, type: 'text/plain; charset=utf-8' }],
    ['an empty id', { ...good, id: '' }],
    ['metadata that is not a map', { ...good, metadata: 'x' }],
  ])('rejects an envelope with %s', (_what, envelope) => {
    expect(limeMessageSchema.safeParse(envelope).success).toBe(false);
  });
});

describe('notifications 13a-c', () => {
  it.each([
    ['13a', 'received'],
    ['13b', 'consumed'],
    ['13c', 'failed'],
  ])('%s parses as a %s notification', (name, event) => {
    const n = limeNotificationSchema.parse(lime(name));
    expect(n.event).toBe(event);
    expect(n.id).toBe('3d4dd836-8afd-418b-8423-579e58f3cb00');
  });

  it('keeps the failure reason', () => {
    expect(limeNotificationSchema.parse(lime('13c')).reason).toEqual({
      code: 86,
      description: 'The gateway switch operation timed out',
    });
  });

  it('is not mistaken for a message', () => {
    expect(limeMessageSchema.safeParse(lime('13a')).success).toBe(false);
  });
});

describe('identityOf / domainOf', () => {
  it('drops the instance and lower-cases', () => {
    expect(identityOf('AcmeRouter@msging.net/msging-application-router-hosting-business-7d4f9')).toBe(
      'acmerouter@msging.net',
    );
    expect(domainOf('5511987654321@wa.gw.msging.net/x')).toBe('wa.gw.msging.net');
    expect(domainOf('no-domain')).toBe('');
  });
});

describe('chatMessageToLime', () => {
  it('sends the text first, then each attachment as a media link', () => {
    const out = chatMessageToLime({
      text: 'Segue o comprovante.',
      attachments: [
        {
          url: 'https://x.zendesk.com/a/1',
          mimeType: 'application/pdf',
          name: 'comprovante.pdf',
          size: 1234,
        },
        { url: 'https://x.zendesk.com/a/2', mimeType: 'image/png' },
      ],
    });
    expect(out).toEqual([
      { type: 'text/plain', content: 'Segue o comprovante.' },
      {
        type: 'application/vnd.lime.media-link+json',
        content: {
          type: 'application/pdf',
          uri: 'https://x.zendesk.com/a/1',
          title: 'comprovante.pdf',
          size: 1234,
        },
      },
      {
        type: 'application/vnd.lime.media-link+json',
        content: { type: 'image/png', uri: 'https://x.zendesk.com/a/2' },
      },
    ]);
  });

  it('sends no empty text message when there is only an attachment', () => {
    const out = chatMessageToLime({
      text: '  ',
      attachments: [{ url: 'https://x/a', mimeType: 'application/pdf' }],
    });
    expect(out.map((c) => c.type)).toEqual(['application/vnd.lime.media-link+json']);
  });

  it('produces the type and content of the outbound text fixture (14)', () => {
    const fixture = lime('14') as { type: string; content: string };
    expect(chatMessageToLime({ text: fixture.content })).toEqual([
      { type: fixture.type, content: fixture.content },
    ]);
  });

  it('produces the media-link fields of the outbound attachment fixture (15)', () => {
    const fixture = lime('15') as { type: string; content: Record<string, unknown> };
    const { attachments } = renderDocument({ type: fixture.type, content: fixture.content });
    const [link] = chatMessageToLime({ text: '', attachments });
    expect(link?.type).toBe(fixture.type);
    const { text: _caption, ...withoutCaption } = fixture.content;
    expect(link?.content).toEqual(withoutCaption);
  });
});
