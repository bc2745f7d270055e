import type { InboundMessage } from './envelope';

const SELECT_TYPES = new Set([
  'application/vnd.lime.select+json',
  'application/vnd.lime.document-select+json',
]);

/**
 * The option a customer picked, when the message answers a select (the satisfaction survey reads it):
 * - a reply to a select (WhatsApp buttons and lists, fixtures 07a and 07b): the replied text;
 * - a JSON postback (BLiP Chat, an option whose value is JSON, fixture 07c): that JSON.
 * A plain text answer (an option's text value, the legacy WhatsApp text of fixture 07d) is the message's own text.
 */
export function selectedOption(message: Pick<InboundMessage, 'type' | 'content'>): string | undefined {
  const content = message.content;
  if (message.type === 'application/json' && content && typeof content === 'object') {
    return JSON.stringify(content).slice(0, 1_000);
  }
  if (message.type !== 'application/vnd.lime.reply+json' || !content || typeof content !== 'object')
    return undefined;
  const { replied, inReplyTo } = content as { replied?: unknown; inReplyTo?: unknown };
  const quoted = inReplyTo as { type?: unknown } | undefined;
  if (!quoted || typeof quoted.type !== 'string' || !SELECT_TYPES.has(quoted.type)) return undefined;
  const value = (replied as { value?: unknown } | undefined)?.value;
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return value && typeof value === 'object' ? JSON.stringify(value).slice(0, 1_000) : undefined;
}
