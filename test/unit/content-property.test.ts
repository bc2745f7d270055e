/**
 * Property-based tests of the LIME -> ChatMessage mapping (src/blip/content.ts), with fast-check: for every
 * envelope the BLiP edge accepts (anything `limeMessageSchema` validates), rendering never throws, and the agent
 * always gets something to see — a non-empty text or a file — unless the message is a chat state, which is the
 * only thing skipped.
 */
import fc from 'fast-check';
import { chatMessageToLime, limeToChatMessage, splitText } from '../../src/blip/content';
import { limeMessageSchema, type InboundMessage } from '../../src/blip/envelope';

const KNOWN_TYPES = [
  'text/plain',
  'application/vnd.lime.media-link+json',
  'application/vnd.lime.web-link+json',
  'application/vnd.lime.location+json',
  'application/vnd.lime.select+json',
  'application/vnd.lime.document-select+json',
  'application/vnd.lime.collection+json',
  'application/vnd.lime.reply+json',
  'application/vnd.lime.contact+json',
  'application/vnd.lime.input+json',
  'application/vnd.lime.sensitive+json',
  'application/vnd.lime.chatstate+json',
  'application/vnd.lime.redirect+json',
  'application/json',
] as const;

const token = fc.stringMatching(/^[\w.+-]{1,20}$/);
/** Any MIME type the envelope schema accepts. */
const mimeType = fc.oneof(
  fc.constantFrom(...KNOWN_TYPES),
  fc.tuple(token, token).map(([a, b]) => `${a}/${b}`),
);
const text = fc.oneof(fc.string(), fc.constantFrom('', ' ', '\n\t', '   \n'));
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

/** A LIME document `{type, value}`, its value shaped for its type half of the time. */
const documentOf = (depth: number): fc.Arbitrary<{ type: string; value: unknown }> =>
  mimeType.chain((type) =>
    fc.record({ type: fc.constant(type), value: fc.oneof(contentFor(type, depth), fc.jsonValue()) }),
  );

/** Content shaped like the BLiP documentation says for `type` (optional fields present or not, empty or not). */
function contentFor(type: string, depth = 0): fc.Arbitrary<unknown> {
  const deeper = depth < 2;
  switch (type) {
    case 'text/plain':
      return text;
    case 'application/vnd.lime.media-link+json':
      return fc.record(
        {
          type: fc.oneof(mimeType, fc.constantFrom('image/jpeg', 'audio/ogg', 'application/pdf', '')),
          uri: fc.oneof(fc.webUrl(), fc.constant('')),
          title: fc.oneof(text, fc.constant(null)),
          text: fc.oneof(text, fc.constant(null)),
          size: fc.oneof(fc.nat(), fc.constant(null)),
        },
        { requiredKeys: ['type', 'uri'] },
      );
    case 'application/vnd.lime.web-link+json':
      return fc.record(
        { uri: fc.oneof(fc.webUrl(), fc.constant('')), title: text, text },
        { requiredKeys: ['uri'] },
      );
    case 'application/vnd.lime.location+json':
      return fc.record(
        {
          latitude: fc.double({ min: -90, max: 90, noNaN: true }),
          longitude: fc.double({ min: -180, max: 180, noNaN: true }),
          text,
        },
        { requiredKeys: ['latitude', 'longitude'] },
      );
    case 'application/vnd.lime.select+json':
      return fc.record(
        {
          text,
          options: fc.array(
            fc.record({ text: maybe(text), order: maybe(fc.integer()), value: maybe(fc.jsonValue()) }),
            { maxLength: 4 },
          ),
        },
        { requiredKeys: ['options'] },
      );
    case 'application/vnd.lime.document-select+json':
      return deeper
        ? fc.record(
            {
              header: documentOf(depth + 1),
              options: fc.array(fc.record({ label: documentOf(depth + 1) }), { maxLength: 3 }),
            },
            { requiredKeys: ['options'] },
          )
        : fc.jsonValue();
    case 'application/vnd.lime.collection+json':
      return deeper
        ? mimeType.chain((itemType) =>
            fc.record(
              {
                itemType: fc.constant(itemType),
                items: fc.array(fc.oneof(contentFor(itemType, depth + 1), fc.jsonValue()), { maxLength: 3 }),
              },
              { requiredKeys: ['items'] },
            ),
          )
        : fc.jsonValue();
    case 'application/vnd.lime.reply+json':
      return deeper
        ? fc.record({
            replied: documentOf(depth + 1),
            inReplyTo: documentOf(depth + 1).chain((d) =>
              fc.record({
                type: fc.constant(d.type),
                value: fc.constant(d.value),
                id: maybe(fc.string()),
                direction: maybe(fc.constantFrom('sent', 'received')),
              }),
            ),
          })
        : fc.jsonValue();
    case 'application/vnd.lime.contact+json':
      return fc.record(
        { name: text, phoneNumber: text, cellPhoneNumber: text, email: text },
        { requiredKeys: [] },
      );
    case 'application/vnd.lime.chatstate+json':
      return fc.record({ state: fc.constantFrom('starting', 'composing', 'paused', 'deleting', 'gone') });
    default:
      return fc.jsonValue();
  }
}

const address = fc
  .tuple(fc.stringMatching(/^[a-z0-9.+-]{1,16}$/), fc.stringMatching(/^[a-z0-9.-]{1,16}$/), maybe(token))
  .map(([name, domain, instance]) => `${name}@${domain}${instance ? `/${instance}` : ''}`);

/** A raw envelope; kept only when the edge's own schema accepts it (that is what "valid" means here). */
const envelope: fc.Arbitrary<InboundMessage> = mimeType
  .chain((type) =>
    fc.record(
      {
        id: fc.oneof(fc.uuid(), fc.string({ minLength: 1 })),
        from: address,
        to: address,
        type: fc.constant(type),
        content: fc.oneof({ weight: 3, arbitrary: contentFor(type) }, fc.jsonValue()),
        metadata: fc.dictionary(
          fc.string(),
          fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null)),
          { maxKeys: 3 },
        ),
      },
      { requiredKeys: ['from', 'type'] },
    ),
  )
  .map((raw) => limeMessageSchema.safeParse(raw))
  .filter((parsed) => parsed.success)
  .map((parsed) => parsed.data as InboundMessage);

const receivedAt = new Date('2026-11-03T14:00:00Z');

describe('LIME content rendering, for any valid envelope', () => {
  it('never throws, and gives the agent a text or a file unless it is a chat state', () => {
    fc.assert(
      fc.property(envelope, (message) => {
        const rendered = limeToChatMessage(message, receivedAt);
        if (rendered.kind === 'skip') {
          expect(message.type).toBe('application/vnd.lime.chatstate+json');
          return;
        }
        const { text: body, attachments, id, contentType, at } = rendered.message;
        expect(typeof body).toBe('string');
        expect(body.trim() !== '' || (attachments?.length ?? 0) > 0).toBe(true);
        expect(id).toBe(message.id ?? `noid:${receivedAt.getTime()}`);
        expect(contentType).toBe(message.type);
        expect(at).toBe(receivedAt.toISOString());
        for (const a of attachments ?? []) {
          expect(typeof a.url).toBe('string');
          expect(typeof a.mimeType).toBe('string');
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('keeps the raw content, capped, for the note when it cannot render the type', () => {
    fc.assert(
      fc.property(envelope, (message) => {
        const rendered = limeToChatMessage(message, receivedAt);
        if (rendered.kind !== 'message' || !rendered.message.unsupported) return;
        expect(rendered.message.unsupported.type).toBe(message.type);
        expect(rendered.message.unsupported.raw.length).toBeLessThanOrEqual(8_000);
        expect(rendered.message.text).toContain(message.type);
      }),
      { numRuns: 500 },
    );
  });
});

describe('agent messages to LIME', () => {
  it('splits any text into parts within the limit that give back the words in order', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 3_000 }), fc.integer({ min: 1, max: 500 }), (input, max) => {
        const parts = splitText(input, max);
        for (const part of parts) {
          expect(part.length).toBeLessThanOrEqual(max);
          expect(part.trim()).not.toBe('');
        }
        const words = (s: string) => s.split(/\s+/).filter(Boolean).join('');
        expect(parts.map(words).join('')).toBe(words(input));
      }),
      { numRuns: 1_000 },
    );
  });

  it('sends every attachment as a media link with its type, title and size', () => {
    const attachment = fc.record(
      {
        url: fc.webUrl(),
        mimeType: fc.constantFrom('image/png', 'application/pdf', 'audio/ogg'),
        name: fc.string({ minLength: 1 }),
        size: fc.integer({ min: 1 }),
      },
      { requiredKeys: ['url', 'mimeType'] },
    );
    fc.assert(
      fc.property(text, fc.array(attachment, { maxLength: 4 }), (body, attachments) => {
        const sent = chatMessageToLime({ text: body, attachments });
        const links = sent.filter((c) => c.type === 'application/vnd.lime.media-link+json');
        expect(links.map((l) => l.content)).toEqual(
          attachments.map((a) => ({
            type: a.mimeType,
            uri: a.url,
            ...(a.name ? { title: a.name } : {}),
            ...(a.size ? { size: a.size } : {}),
          })),
        );
        expect(sent.slice(0, sent.length - links.length).every((c) => c.type === 'text/plain')).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
