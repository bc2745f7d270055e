import type { Attachment, ChatMessage, HistoryEntry, OpenTicketRequest } from '../adapter';
import type { NewMessage, OmnizeCustomer, OmnizeMessageType } from './api';

/** The `extra` keys the bridge sets on an interaction (Omnize returns `extra` on every trigger). */
export const SESSION_EXTRA = 'bridge_session';
export const CUSTOMER_EXTRA = 'bridge_customer';

/**
 * What starts the bridge's notes to the agents. The ClientApi has no internal notes: a note is a message on the
 * customer's side of the interaction, which only the agents read (the customer talks to the bridge, not to Omnize).
 */
export const NOTE_PREFIX = '[Nota da integração, não enviada ao cliente] ';

/**
 * The interaction's customer: the BLiP contact's name, e-mail and phone; without a contact phone, the digits of the
 * WhatsApp originator (`5511987654321@wa.gw.msging.net` → `5511987654321`).
 */
export function customerOf(req: OpenTicketRequest): OmnizeCustomer {
  const contact = req.contact;
  const originator = req.customer.originator ?? '';
  const fromOriginator = /^\d{8,15}@wa\./.test(originator) ? originator.split('@')[0] : undefined;
  const phone = contact?.phone?.replace(/^\+/, '') ?? fromOriginator;
  const cpf = contact?.extras?.cpf;
  return {
    name: contact?.name ?? req.customer.name ?? req.customer.originator ?? req.customer.key,
    ...(contact?.email ? { email: contact.email } : {}),
    ...(phone ? { phone } : {}),
    ...(cpf ? { cpf } : {}),
  };
}

/** Omnize's `type` for a file of this MIME type. */
function typeOf(mimeType: string): OmnizeMessageType {
  const family = mimeType.split('/')[0];
  return family === 'image' || family === 'video' || family === 'audio' ? family : 'file';
}

/**
 * One customer message as Omnize messages: the text (with a line per file link the core could not attach), then
 * one message per attached file (`type` + `url`, its name as the content). Omnize takes one file per message.
 */
export function messagesOf(message: ChatMessage): NewMessage[] {
  const files = message.attachments ?? [];
  const attached = files.filter((a): a is Attachment & { uploadRef: string } => !!a.uploadRef);
  const links = files.filter((a) => !a.uploadRef && !a.notAttached).map((a) => a.url);
  const text = [message.text, ...links].filter((t) => t.trim() !== '').join('\n');
  const out: NewMessage[] = [];
  if (text || attached.length === 0) out.push({ content: text || '(empty message)', type: 'text' });
  for (const file of attached) {
    out.push({ content: file.name ?? file.mimeType, type: typeOf(file.mimeType), url: file.uploadRef });
  }
  return out;
}

/** Omnize's external history document (`{ messages: [{ time, direction, content }] }`) for the bot conversation. */
export function externalHistory(entries: HistoryEntry[]): {
  messages: Array<{ time: string; direction: 'CLIENT' | 'AGENT'; content: string }>;
} {
  return {
    messages: entries.map((e) => ({
      // Omnize's example: "2019-03-14 00:00:01" (UTC here).
      time: e.at.replace('T', ' ').replace(/\.\d+Z$|Z$/, ''),
      direction: e.from === 'customer' ? 'CLIENT' : 'AGENT',
      content: [e.text, ...(e.attachments ?? []).map((a) => a.url)].filter(Boolean).join('\n'),
    })),
  };
}

/** The bot conversation as readable text, when it cannot be linked (no public URL to serve it at). */
export function historyText(entries: HistoryEntry[]): string {
  const lines = entries.map((e) => `${e.from === 'customer' ? 'Cliente' : 'Bot'}: ${e.text}`);
  return `Conversa com o bot:\n${lines.join('\n')}`;
}
