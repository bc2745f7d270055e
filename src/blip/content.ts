import { z } from 'zod';
import type { Attachment, ChatMessage, CustomerTypingState } from '../core/model';
import type { InboundMessage } from './envelope';
import { parseHandoffContext } from './handoff-context';
import { selectedOption } from './selected';

/**
 * LIME content <-> ChatMessage. Every content type becomes something an agent can read; nothing is dropped
 * silently. Only chat states (typing indicators) produce no message.
 */

export interface LimeContent {
  type: string;
  content: unknown;
}

export type Rendered =
  | { kind: 'message'; message: ChatMessage }
  /** Nothing for the agent to read; a chat state names what the customer is doing (`typing`). */
  | { kind: 'skip'; reason: string; typing?: CustomerTypingState };

/**
 * A LIME chat state as the helpdesk sees the customer: `composing` and `deleting` are typing, `paused` and `gone`
 * stopped; `starting` (a conversation opened, e.g. from a Messenger ad) says nothing about typing.
 */
const TYPING: Readonly<Record<string, CustomerTypingState>> = {
  composing: 'composing',
  deleting: 'composing',
  paused: 'paused',
  gone: 'paused',
};
const chatState = z.object({ state: z.string() });

const mediaLink = z.object({
  type: z.string(),
  uri: z.string(),
  title: z.string().nullish(),
  text: z.string().nullish(),
  size: z.number().nullish(),
});
const webLink = z.object({ uri: z.string(), title: z.string().nullish(), text: z.string().nullish() });
const location = z.object({ latitude: z.number(), longitude: z.number(), text: z.string().nullish() });
const selectOption = z.object({
  text: z.string().nullish(),
  order: z.number().nullish(),
  value: z.unknown().optional(),
});
const select = z.object({ text: z.string().nullish(), options: z.array(selectOption) });
const documentContent = z.object({ type: z.string(), value: z.unknown() });
const reply = z.object({
  replied: documentContent,
  inReplyTo: z.object({
    id: z.string().nullish(),
    type: z.string(),
    value: z.unknown(),
    direction: z.string().nullish(),
  }),
});
const contact = z.looseObject({
  name: z.string().nullish(),
  phoneNumber: z.string().nullish(),
  cellPhoneNumber: z.string().nullish(),
  email: z.string().nullish(),
});
const collection = z.object({ items: z.array(z.unknown()), itemType: z.string().nullish() });
const documentSelect = z.object({
  header: documentContent.nullish(),
  options: z.array(z.object({ label: documentContent })),
});

export function limeToChatMessage(message: InboundMessage, receivedAt: Date): Rendered {
  if (message.type === 'application/vnd.lime.chatstate+json') {
    const parsed = chatState.safeParse(message.content);
    const typing = parsed.success ? TYPING[parsed.data.state] : undefined;
    return { kind: 'skip', reason: 'chat state', ...(typing ? { typing } : {}) };
  }
  // The Redirect context of the bot that handed the customer over (src/blip/handoff-context.ts).
  const context = parseHandoffContext(message.id, message.type, message.content);
  if (context) {
    return {
      kind: 'message',
      message: {
        id: message.id as string,
        text: context.text,
        contentType: message.type,
        at: receivedAt.toISOString(),
        handoff: context.handoff,
      },
    };
  }
  const rendered = renderDocument({ type: message.type, content: message.content });
  const { attachments } = rendered;
  const unsupported = rendered.text === unsupportedText(message.type);
  // Nothing to read and no file (an empty text, a select without options...): the agent still sees it arrived.
  const text =
    rendered.text.trim() === '' && attachments.length === 0 ? emptyText(message.type) : rendered.text;
  const selected = selectedOption(message);
  return {
    kind: 'message',
    message: {
      id: message.id ?? `noid:${receivedAt.getTime()}`,
      text,
      ...(attachments.length ? { attachments } : {}),
      contentType: message.type,
      at: receivedAt.toISOString(),
      ...(selected !== undefined ? { selected } : {}),
      ...(unsupported
        ? {
            unsupported: {
              type: message.type,
              raw: (JSON.stringify(message.content) ?? 'null').slice(0, 8_000),
            },
          }
        : {}),
    },
  };
}

/** Renders one LIME document as text plus attachments. */
export function renderDocument(doc: LimeContent, depth = 0): { text: string; attachments: Attachment[] } {
  const none: Attachment[] = [];
  const parse = <S extends z.ZodType>(schema: S): z.infer<S> | undefined => {
    const r = schema.safeParse(doc.content);
    return r.success ? r.data : undefined;
  };
  switch (doc.type) {
    case 'text/plain':
      return {
        text: typeof doc.content === 'string' ? doc.content : (JSON.stringify(doc.content) ?? ''),
        attachments: none,
      };
    case 'application/vnd.lime.media-link+json': {
      const m = parse(mediaLink);
      if (!m) break;
      const kind = m.type.split('/')[0] ?? 'file';
      const label = m.title?.trim() || kind;
      return {
        text: m.text?.trim() ? m.text : `[${label}]`,
        attachments: [
          {
            url: m.uri,
            mimeType: m.type,
            ...(m.title ? { name: m.title } : {}),
            ...(m.size ? { size: m.size } : {}),
          },
        ],
      };
    }
    case 'application/vnd.lime.web-link+json': {
      const w = parse(webLink);
      if (!w) break;
      return { text: [w.title ?? w.text, w.uri].filter(Boolean).join(' '), attachments: none };
    }
    case 'application/vnd.lime.location+json': {
      const l = parse(location);
      if (!l) break;
      const where = `${l.latitude},${l.longitude}`;
      return {
        text: `${l.text ? `${l.text} ` : ''}[location] https://www.google.com/maps/search/?api=1&query=${where}`,
        attachments: none,
      };
    }
    case 'application/vnd.lime.select+json': {
      const s = parse(select);
      if (!s) break;
      const options = s.options.map((o, i) => `${o.order ?? i + 1}. ${o.text ?? ''}`).join('\n');
      return { text: `${s.text ?? ''}\n${options}`.trim(), attachments: none };
    }
    case 'application/vnd.lime.document-select+json': {
      const s = parse(documentSelect);
      if (!s) break;
      const header = s.header
        ? renderDocument({ type: s.header.type, content: s.header.value }, depth + 1).text
        : '';
      const options = s.options
        .map(
          (o, i) =>
            `${i + 1}. ${renderDocument({ type: o.label.type, content: o.label.value }, depth + 1).text}`,
        )
        .join('\n');
      return { text: `${header}\n${options}`.trim(), attachments: none };
    }
    case 'application/vnd.lime.collection+json': {
      const c = parse(collection);
      if (!c || depth > 2) break;
      const parts = c.items.map((item) =>
        c.itemType
          ? renderDocument({ type: c.itemType, content: item }, depth + 1)
          : { text: JSON.stringify(item), attachments: none },
      );
      return { text: parts.map((p) => p.text).join('\n'), attachments: parts.flatMap((p) => p.attachments) };
    }
    case 'application/vnd.lime.reply+json': {
      const r = parse(reply);
      if (!r || depth > 2) break;
      const quoted = renderDocument({ type: r.inReplyTo.type, content: r.inReplyTo.value }, depth + 1).text;
      const answer = renderDocument({ type: r.replied.type, content: r.replied.value }, depth + 1);
      return {
        text: `> ${quoted.split('\n').join('\n> ')}\n${answer.text}`,
        attachments: answer.attachments,
      };
    }
    case 'application/vnd.lime.contact+json': {
      const c = parse(contact);
      if (!c) break;
      const phone = c.phoneNumber ?? c.cellPhoneNumber;
      return { text: ['[contact]', c.name, phone, c.email].filter(Boolean).join(' '), attachments: none };
    }
    case 'application/vnd.lime.input+json':
    case 'application/vnd.lime.sensitive+json':
      return { text: '[sensitive content hidden]', attachments: none };
    default:
      break;
  }
  return { text: unsupportedText(doc.type), attachments: none };
}

/** What the customer receives for one agent message: the text, then each attachment as a media link. */
export function chatMessageToLime(
  message: Pick<ChatMessage, 'text' | 'attachments'>,
  maxTextLength = 4096,
): LimeContent[] {
  const out: LimeContent[] = [];
  for (const part of splitText(message.text, maxTextLength)) out.push({ type: 'text/plain', content: part });
  for (const a of message.attachments ?? []) {
    out.push({
      type: 'application/vnd.lime.media-link+json',
      content: {
        type: a.mimeType,
        uri: a.url,
        ...(a.name ? { title: a.name } : {}),
        ...(a.size ? { size: a.size } : {}),
      },
    });
  }
  return out;
}

/**
 * Splits a long text into parts of at most `max` characters, in order: at the last paragraph break or line break
 * in the second half of the window, else at the last space, else (one huge word) at the limit.
 * Whitespace-only text gives no part.
 */
export function splitText(text: string, max: number): string[] {
  const parts: string[] = [];
  let rest = text.trim();
  while (rest.length > max) {
    const window = rest.slice(0, max + 1);
    const breaks = [window.lastIndexOf('\n\n'), window.lastIndexOf('\n')].find((i) => i >= max / 2);
    const space = window.lastIndexOf(' ');
    const at = breaks ?? (space > 0 ? space : max);
    parts.push(rest.slice(0, at).trimEnd());
    rest = rest.slice(at).trimStart();
  }
  if (rest !== '') parts.push(rest);
  return parts;
}

/** What the agent reads for a message with nothing in it. */
function emptyText(type: string): string {
  return type === 'text/plain' ? '[empty message]' : `[empty message: ${type}]`;
}

/** The readable placeholder the agent sees for content the bridge cannot render. */
function unsupportedText(type: string): string {
  return `[unsupported content: ${type}]`;
}
