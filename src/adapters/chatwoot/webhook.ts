import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import {
  PermanentError,
  type AgentMessageEvent,
  type Attachment,
  type HelpdeskEvent,
  type RawRequest,
  type TicketRef,
  type Verification,
  type WebhookHandler,
} from '../adapter';

/**
 * Chatwoot's webhooks (app/listeners/webhook_listener.rb), as an API-channel inbox's webhook URL receives them:
 *  - `message_created` (Message#webhook_data): an agent's public reply is `message_type: "outgoing"` with
 *    `private: false`; private notes (`private: true`), the customer's own messages (`incoming`, echoed back) and
 *    activity lines are left out;
 *  - `conversation_status_changed` (Conversation#webhook_data + `changed_attributes`): to `resolved` → closed;
 *  - `conversation_updated` with `assignee_id` / `team_id` in `changed_attributes` → assigned / transferred, the
 *    names taken from `meta.assignee` / `meta.team`;
 *  - `conversation_typing_on` / `_off` by an agent, not in a private note → typing (composing / paused).
 * Signature (lib/webhooks/trigger.rb, `request_headers`): `X-Chatwoot-Signature: sha256=<hex HMAC-SHA256(secret,
 * "<X-Chatwoot-Timestamp>.<raw body>")>`, the timestamp in Unix seconds: `hmac-signed-time`.
 */
export class ChatwootWebhook implements WebhookHandler {
  readonly auth = { kind: 'hmac-signed-time' } as const;

  constructor(
    private readonly secret: string,
    private readonly inboxId: string,
  ) {}

  verify(request: RawRequest): Verification {
    const signature = request.headers['x-chatwoot-signature'];
    const timestamp = request.headers['x-chatwoot-timestamp'];
    if (!signature || !timestamp)
      return { ok: false, reason: 'missing X-Chatwoot-Signature or X-Chatwoot-Timestamp header' };
    if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'unreadable signature timestamp' };
    const given = Buffer.from(signature, 'utf8');
    const wanted = Buffer.from(chatwootSignature(this.secret, timestamp, request.body), 'utf8');
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted))
      return { ok: false, reason: 'signature mismatch' };
    return { ok: true, signedAt: new Date(Number(timestamp) * 1000) };
  }

  parse(request: RawRequest): HelpdeskEvent[] {
    let json: unknown;
    try {
      json = JSON.parse(request.body.toString('utf8'));
    } catch {
      throw new PermanentError('chatwoot webhook: body is not JSON', 'CHATWOOT_BAD_WEBHOOK');
    }
    const envelope = z.looseObject({ event: z.string() }).safeParse(json);
    if (!envelope.success) {
      throw new PermanentError('chatwoot webhook: no "event" field', 'CHATWOOT_BAD_WEBHOOK');
    }
    switch (envelope.data.event) {
      case 'message_created':
        return this.messageCreated(json);
      case 'conversation_status_changed':
        return this.statusChanged(json);
      case 'conversation_updated':
        return this.conversationUpdated(json);
      case 'conversation_typing_on':
      case 'conversation_typing_off':
        return this.typing(json, envelope.data.event === 'conversation_typing_on', request.receivedAt);
      default:
        return []; // conversation_created, message_updated, contact events...
    }
  }

  private messageCreated(json: unknown): HelpdeskEvent[] {
    const body = strict(messageEvent, json, 'message_created');
    if (!this.ours(body.conversation.inbox_id ?? body.inbox?.id)) return [];
    const event = agentMessage(ticketRef(body.conversation), body, new Date().toISOString());
    return event ? [withSession(event, body.conversation)] : [];
  }

  private statusChanged(json: unknown): HelpdeskEvent[] {
    const body = strict(conversationEvent, json, 'conversation_status_changed');
    if (!this.ours(body.inbox_id) || body.status !== 'resolved') return [];
    const event: HelpdeskEvent = {
      kind: 'ticket.closed',
      ticket: ticketRef(body),
      eventId: `resolved:${body.id}:${body.updated_at ?? body.timestamp ?? ''}`,
      reason: 'resolved',
      ...(body.meta?.assignee ? { agent: agentOf(body.meta.assignee) } : {}),
    };
    return [withSession(event, body)];
  }

  private conversationUpdated(json: unknown): HelpdeskEvent[] {
    const body = strict(conversationEvent, json, 'conversation_updated');
    if (!this.ours(body.inbox_id)) return [];
    const changes = Object.assign({}, ...(body.changed_attributes ?? [])) as Record<string, unknown>;
    const changed = (key: string) => change.safeParse(changes[key]).data?.current_value;
    const events: HelpdeskEvent[] = [];
    const assignee = changed('assignee_id');
    if (assignee !== undefined && assignee !== null) {
      const agentId = String(assignee);
      const name =
        body.meta?.assignee && String(body.meta.assignee.id) === agentId ? body.meta.assignee : undefined;
      events.push({
        kind: 'ticket.assigned',
        ticket: ticketRef(body),
        eventId: `assignee:${body.id}:${agentId}:${body.updated_at ?? ''}`,
        agent: { id: agentId, ...(name ? { name: displayName(name) } : {}) },
      });
    }
    const team = changed('team_id');
    if (team !== undefined && team !== null) {
      const teamId = String(team);
      const known = body.meta?.team && String(body.meta.team.id) === teamId ? body.meta.team : undefined;
      events.push({
        kind: 'ticket.transferred',
        ticket: ticketRef(body),
        eventId: `team:${body.id}:${teamId}:${body.updated_at ?? ''}`,
        team: { id: teamId, ...(known?.name ? { name: known.name } : {}) },
      });
    }
    return events.map((e) => withSession(e, body));
  }

  /**
   * `conversation_typing_on/off` (WebhookListener#handle_typing_status: `user`, `conversation`, `is_private`): an
   * agent typing a reply is `composing`, stopping `paused`; typing a private note, or the contact's own typing, is
   * not for the customer. Typing repeats and carries no id: each delivery is its own event (the time it arrived).
   */
  private typing(json: unknown, on: boolean, receivedAt: Date): HelpdeskEvent[] {
    const body = strict(typingEvent, json, on ? 'conversation_typing_on' : 'conversation_typing_off');
    if (!this.ours(body.conversation.inbox_id) || body.is_private || body.user?.type !== 'user') return [];
    const event: HelpdeskEvent = {
      kind: 'agent.typing',
      ticket: ticketRef(body.conversation),
      eventId: `typing:${body.conversation.id}:${on ? 'on' : 'off'}:${receivedAt.getTime()}`,
      state: on ? 'composing' : 'paused',
    };
    return [withSession(event, body.conversation)];
  }

  /** Events of other inboxes (an account webhook sees every inbox) are not ours. */
  private ours(inboxId: string | null | undefined): boolean {
    return inboxId === undefined || inboxId === null || inboxId === this.inboxId;
  }
}

export function chatwootSignature(secret: string, timestamp: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

const id = z.union([z.number(), z.string()]).transform(String);

/** An attachment (Attachment#push_event_data): a signed, public Active Storage link in `data_url`. */
const attachmentSchema = z.looseObject({
  id: id.nullish(),
  file_type: z.string().nullish(),
  extension: z.string().nullish(),
  data_url: z.string(),
  file_size: z.number().nullish(),
});

const person = z.looseObject({
  id,
  name: z.string().nullish(),
  available_name: z.string().nullish(),
  type: z.string().nullish(),
});

/**
 * A message as the webhook (Message#webhook_data: `message_type` a name, `created_at` ISO) or the API
 * (messages/_message.json.jbuilder, push_event_data: `message_type` 0..3, `created_at` Unix seconds) shows it.
 */
export const messageSchema = z.looseObject({
  id,
  content: z.string().nullish(),
  message_type: z.union([z.string(), z.number()]),
  private: z.boolean().nullish(),
  created_at: z.union([z.string(), z.number()]).nullish(),
  sender: person.nullish(),
  attachments: z.array(attachmentSchema).nullish(),
});
export type ChatwootMessage = z.infer<typeof messageSchema>;

const conversationEvent = z.looseObject({
  id, // display id
  inbox_id: id.nullish(),
  status: z.string().nullish(),
  updated_at: z.number().nullish(),
  timestamp: z.number().nullish(),
  custom_attributes: z.record(z.string(), z.unknown()).nullish(),
  meta: z
    .looseObject({
      sender: person.nullish(),
      assignee: person.nullish(),
      team: z.looseObject({ id, name: z.string().nullish() }).nullish(),
    })
    .nullish(),
  changed_attributes: z.array(z.record(z.string(), z.unknown())).nullish(),
});

const messageEvent = messageSchema.extend({
  conversation: conversationEvent,
  inbox: z.looseObject({ id }).nullish(),
});

const change = z.looseObject({ previous_value: z.unknown(), current_value: z.unknown() });

const typingEvent = z.looseObject({
  conversation: conversationEvent,
  user: person.nullish(),
  is_private: z.boolean().nullish(),
});

const MESSAGE_TYPES = ['incoming', 'outgoing', 'activity', 'template'] as const;

/** `message_type` as its name, from the webhook's name or the API's enum value. */
export function messageType(value: string | number): string {
  return typeof value === 'number' ? (MESSAGE_TYPES[value] ?? String(value)) : value;
}

function strict<S extends z.ZodType>(schema: S, json: unknown, event: string): z.infer<S> {
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new PermanentError(
    `chatwoot webhook ${event}: unexpected shape (${issue?.path.join('.') || 'body'}: ${issue?.message})`,
    'CHATWOOT_BAD_WEBHOOK',
  );
}

function ticketRef(conversation: { id: string }): TicketRef {
  return { vendor: 'chatwoot', id: conversation.id };
}

function displayName(who: z.infer<typeof person>): string | undefined {
  return who.available_name?.trim() || who.name?.trim() || undefined;
}

function agentOf(who: z.infer<typeof person>): { id: string; name?: string } {
  const name = displayName(who);
  return { id: who.id, ...(name ? { name } : {}) };
}

function withSession<E extends HelpdeskEvent>(
  event: E,
  conversation: { custom_attributes?: Record<string, unknown> | null },
): E {
  const session = conversation.custom_attributes?.bridge_session_id;
  return typeof session === 'string' && session ? { ...event, sessionId: session } : event;
}

/**
 * An agent's public message as an `agent.message`, or undefined for anything the customer must not see: private
 * notes, the customer's own (incoming) messages, activity lines, templates. Shared by the webhook and the catch-up
 * before a hand-back (`recentAgentMessages`), so both report the same `eventId` (`message:<id>`).
 */
export function agentMessage(
  ticket: TicketRef,
  message: ChatwootMessage,
  fallbackAt: string,
): AgentMessageEvent | undefined {
  if (message.private || messageType(message.message_type) !== 'outgoing') return undefined;
  const attachments = (message.attachments ?? []).map(attachmentOf);
  const text = message.content ?? '';
  if (!text.trim() && attachments.length === 0) return undefined;
  return {
    kind: 'agent.message',
    ticket,
    eventId: `message:${message.id}`,
    message: {
      id: message.id,
      text,
      at: isoTime(message.created_at) ?? fallbackAt,
      ...(attachments.length ? { attachments } : {}),
    },
    ...(message.sender && message.sender.type !== 'contact' ? { agent: agentOf(message.sender) } : {}),
  };
}

function attachmentOf(a: z.infer<typeof attachmentSchema>): Attachment {
  const name = nameOf(a.data_url);
  return {
    url: a.data_url,
    mimeType: mimeOf(a.extension ?? name, a.file_type),
    ...(name ? { name } : {}),
    ...(typeof a.file_size === 'number' ? { size: a.file_size } : {}),
  };
}

/** Active Storage links end with the file's name (`/rails/active_storage/blobs/redirect/<key>/<name>`). */
function nameOf(url: string): string | undefined {
  try {
    const last = decodeURIComponent(new URL(url).pathname.split('/').filter(Boolean).pop() ?? '');
    return /\.[a-z0-9]{1,8}$/i.test(last) ? last : undefined;
  } catch {
    return undefined;
  }
}

const MIME_BY_EXTENSION: Record<string, string> = {
  pdf: 'application/pdf',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  oga: 'audio/ogg',
  m4a: 'audio/mp4',
  mp4: 'video/mp4',
  txt: 'text/plain',
  csv: 'text/csv',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
};

/**
 * Chatwoot tells a file's kind (`file_type`: image, audio, video, file) and its extension, not its MIME type: the
 * type is taken from the extension (the served Content-Type wins when the bridge downloads it).
 */
function mimeOf(extensionOrName: string | undefined, fileType: string | null | undefined): string {
  const extension = (extensionOrName ?? '').split('.').pop()?.toLowerCase() ?? '';
  const known = MIME_BY_EXTENSION[extension];
  if (known) return known;
  if (fileType === 'image' || fileType === 'audio' || fileType === 'video') return `${fileType}/*`;
  return 'application/octet-stream';
}

function isoTime(value: string | number | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}
