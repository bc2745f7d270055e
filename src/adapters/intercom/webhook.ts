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
import { partText } from './html';

/**
 * Intercom webhooks (notification_event, topics `conversation.admin.*`, `conversation.user.*`, `ping`).
 *
 * Signature: `X-Hub-Signature: sha1=<hex HMAC-SHA1(client secret, raw body)>`. Intercom signs no header timestamp;
 * the time it sent the notification is INSIDE the signed body (`first_sent_at`, `created_at`, unix seconds), so
 * `verify` returns that as `signedAt` and the core's replay window applies to it: an old notification cannot be
 * made to look fresh without breaking the signature. Intercom retries a failed delivery once, after one minute,
 * with the same `first_sent_at`, so the core's default window (300 s) lets the retry in.
 */
export class IntercomWebhook implements WebhookHandler {
  readonly auth = { kind: 'hmac-body-time' } as const;

  /**
   * @param secret the app's client secret (Developer Hub > your app > Basic information)
   * @param bridgeAdminId the admin the bridge closes conversations as (its own close is not an agent's close)
   */
  constructor(
    private readonly secret: string,
    private readonly bridgeAdminId?: string,
  ) {}

  verify(request: RawRequest): Verification {
    const header = request.headers['x-hub-signature'];
    if (!header) return { ok: false, reason: 'missing X-Hub-Signature header' };
    const hex = /^sha1=([0-9a-f]{40})$/i.exec(header.trim())?.[1];
    if (!hex) return { ok: false, reason: 'X-Hub-Signature is not sha1=<40 hex digits>' };
    const given = Buffer.from(hex, 'hex');
    const wanted = createHmac('sha1', this.secret).update(request.body).digest();
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted))
      return { ok: false, reason: 'signature mismatch' };
    const signedAt = notificationSentAt(request.body);
    if (!signedAt)
      return { ok: false, reason: 'signed body has no first_sent_at or created_at (needed against replays)' };
    return { ok: true, signedAt };
  }

  parse(request: RawRequest): HelpdeskEvent[] {
    let json: unknown;
    try {
      json = JSON.parse(request.body.toString('utf8'));
    } catch {
      throw new PermanentError('intercom webhook: body is not JSON', 'INTERCOM_BAD_WEBHOOK');
    }
    const envelope = shape(notification, json, 'notification');
    switch (envelope.topic) {
      case 'conversation.admin.replied':
      case 'conversation.admin.assigned':
      case 'conversation.admin.closed': {
        const item = shape(conversationItem, envelope.data.item, envelope.topic);
        return conversationEvents(envelope, item, this.bridgeAdminId);
      }
      // Internal notes never reach the customer; `conversation.user.*` is the customer's own message (the
      // bridge's echo); `ping` (id null) is Intercom testing the endpoint; other topics do not concern the handoff.
      default:
        return [];
    }
  }
}

/** `sha1=<hex>`, the X-Hub-Signature value Intercom sends for these bytes. */
export function intercomSignature(secret: string, body: Buffer | string): string {
  return `sha1=${createHmac('sha1', secret).update(body).digest('hex')}`;
}

/** When Intercom (first) sent the notification, from the signed body; undefined when it does not say. */
export function notificationSentAt(body: Buffer): Date | undefined {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  const times = sentTimes.safeParse(json);
  if (!times.success) return undefined;
  const seconds = times.data.first_sent_at || times.data.created_at;
  return seconds ? new Date(seconds * 1000) : undefined;
}

const unixSeconds = z.number().int().positive();
const sentTimes = z.looseObject({
  first_sent_at: unixSeconds.nullish().catch(undefined),
  created_at: unixSeconds.nullish().catch(undefined),
});

const id = z.union([z.string().min(1), z.number()]).transform(String);

const notification = z.looseObject({
  type: z.literal('notification_event'),
  id: z.string().nullish(),
  topic: z.string(),
  created_at: z.number().nullish(),
  data: z.looseObject({ item: z.looseObject({}) }),
});
type Notification = z.infer<typeof notification>;

const attachment = z.looseObject({
  type: z.string().nullish(),
  name: z.string().nullish(),
  url: z.string().nullish(),
  content_type: z.string().nullish(),
  filesize: z.number().nullish(),
});

const conversationPart = z.looseObject({
  id,
  part_type: z.string(),
  body: z.string().nullish(),
  created_at: z.number().nullish(),
  author: z.looseObject({ type: z.string(), id: id.nullish(), name: z.string().nullish() }),
  attachments: z.array(attachment).nullish(),
  assigned_to: z.looseObject({ type: z.string(), id: id.nullish() }).nullish(),
  app_package_code: z.string().nullish(),
});
export type ConversationPart = z.infer<typeof conversationPart>;

export const conversationItem = z.looseObject({
  type: z.literal('conversation'),
  id,
  state: z.string().nullish(),
  conversation_parts: z.looseObject({ conversation_parts: z.array(conversationPart) }).nullish(),
});
type ConversationItem = z.infer<typeof conversationItem>;

/** Part types that are never meant for the customer, whatever their body. */
const INTERNAL_PARTS = new Set(['note', 'note_and_reopen']);

/**
 * The events of one conversation notification, oldest part first. The notification carries only the part(s)
 * the action made; a reply that also assigns arrives as an `assignment` part carrying the text, and a close
 * may carry a closing message: each public admin text becomes an agent.message, before the close.
 */
function conversationEvents(
  envelope: Notification,
  item: ConversationItem,
  bridgeAdminId: string | undefined,
): HelpdeskEvent[] {
  const ticket: TicketRef = { vendor: 'intercom', id: item.id };
  const parts = item.conversation_parts?.conversation_parts ?? [];
  const fallbackAt = envelope.created_at ? unixToIso(envelope.created_at) : new Date().toISOString();
  const events: HelpdeskEvent[] = [];
  let closed = false;
  for (const part of parts) {
    const message = agentMessage(ticket, part, fallbackAt);
    if (message) events.push(message);
    if (part.part_type === 'assignment' && part.assigned_to?.type === 'team' && part.assigned_to.id) {
      // A move to a team (`team_assignee_id`): the notification names the team by id only.
      events.push({
        kind: 'ticket.transferred',
        ticket,
        eventId: `team:${part.id}`,
        team: { id: part.assigned_to.id },
      });
    }
    if (part.part_type === 'assignment' && part.assigned_to?.type === 'admin' && part.assigned_to.id) {
      const self = part.author.id === part.assigned_to.id && part.author.name;
      events.push({
        kind: 'ticket.assigned',
        ticket,
        eventId: `assign:${part.id}`,
        agent: { id: part.assigned_to.id, ...(self ? { name: part.author.name as string } : {}) },
      });
    }
    if (part.part_type === 'close') {
      closed = true;
      // The bridge's own close (the customer left) comes back too; it is not an agent ending the chat.
      const ownClose = part.app_package_code && bridgeAdminId && part.author.id === bridgeAdminId;
      if (!ownClose) {
        events.push({
          kind: 'ticket.closed',
          ticket,
          eventId: `close:${part.id}`,
          reason: 'closed',
          ...(part.author.type === 'admin' && part.author.id ? { agent: agentOf(part) } : {}),
        });
      }
    }
  }
  if (envelope.topic === 'conversation.admin.closed' && !closed) {
    // A closed notification without its close part (not seen in captures): close on the notification itself.
    events.push({
      kind: 'ticket.closed',
      ticket,
      eventId: `close:${envelope.id ?? `${item.id}:${envelope.created_at ?? ''}`}`,
      reason: 'closed',
    });
  }
  return events;
}

/**
 * A public message by a teammate, or undefined. Left out: internal notes, parts by the contact (the bridge's own
 * messages coming back as `conversation.user.replied`), bots, and admin parts without text or files (an assignment
 * or a close with no message).
 */
export function agentMessage(
  ticket: TicketRef,
  part: ConversationPart,
  fallbackAt: string,
): AgentMessageEvent | undefined {
  if (part.author.type !== 'admin' || !part.author.id) return undefined;
  if (INTERNAL_PARTS.has(part.part_type)) return undefined;
  const text = partText(part.body);
  const attachments = (part.attachments ?? []).flatMap(toAttachment);
  if (text === '' && attachments.length === 0) return undefined;
  return {
    kind: 'agent.message',
    ticket,
    eventId: `part:${part.id}`,
    agent: agentOf(part),
    message: {
      id: part.id,
      text,
      ...(attachments.length ? { attachments } : {}),
      at: part.created_at ? unixToIso(part.created_at) : fallbackAt,
    },
  };
}

function agentOf(part: ConversationPart): { id: string; name?: string } {
  return { id: part.author.id ?? '', ...(part.author.name ? { name: part.author.name } : {}) };
}

function toAttachment(a: z.infer<typeof attachment>): Attachment[] {
  if (!a.url) return [];
  return [
    {
      url: a.url,
      mimeType: a.content_type || 'application/octet-stream',
      ...(a.name ? { name: a.name } : {}),
      ...(typeof a.filesize === 'number' ? { size: a.filesize } : {}),
    },
  ];
}

export function unixToIso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

function shape<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PermanentError(
      `intercom webhook ${what}: ${issue?.path.join('.') || '(body)'}: ${issue?.message}`,
      'INTERCOM_BAD_WEBHOOK',
    );
  }
  return parsed.data;
}
