import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import {
  PermanentError,
  type Attachment,
  type HelpdeskEvent,
  type RawRequest,
  type TicketRef,
  type Verification,
  type WebhookHandler,
} from '../adapter';
import { sessionIdFrom } from './external-id';

/**
 * Zendesk webhooks, both kinds:
 *  - event subscriptions (`zen:event-type:ticket.comment_added`, `ticket.status_changed`,
 *    `ticket.attachment_linked_to_comment`, `ticket.agent_assignment_changed`, `ticket.group_assignment_changed`);
 *  - trigger webhooks whose JSON template carries a fixed `bridge_event` (`agent_public_comment`, `ticket_solved`,
 *    `agent_assigned`, `group_changed`: src/adapters/zendesk/setup.ts installs them).
 * Signature: base64(HMAC-SHA256(secret, timestamp + raw body)), headers `X-Zendesk-Webhook-Signature(-Timestamp)`.
 */
export class ZendeskWebhook implements WebhookHandler {
  readonly auth = { kind: 'hmac-signed-time' } as const;

  constructor(private readonly secret: string) {}

  verify(request: RawRequest): Verification {
    const signature = request.headers['x-zendesk-webhook-signature'];
    const timestamp = request.headers['x-zendesk-webhook-signature-timestamp'];
    if (!signature || !timestamp)
      return { ok: false, reason: 'missing X-Zendesk-Webhook-Signature or -Timestamp header' };
    const signedAt = new Date(timestamp);
    if (Number.isNaN(signedAt.getTime())) return { ok: false, reason: 'unreadable signature timestamp' };
    const expected = zendeskSignature(this.secret, timestamp, request.body);
    const given = Buffer.from(signature, 'utf8');
    const wanted = Buffer.from(expected, 'utf8');
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted))
      return { ok: false, reason: 'signature mismatch' };
    return { ok: true, signedAt };
  }

  parse(request: RawRequest): HelpdeskEvent[] {
    let json: unknown;
    try {
      json = JSON.parse(request.body.toString('utf8'));
    } catch {
      throw new PermanentError('zendesk webhook: body is not JSON', 'ZENDESK_BAD_WEBHOOK');
    }
    if (json && typeof json === 'object' && 'bridge_event' in json) return parseTrigger(json);
    const envelope = eventEnvelope.safeParse(json);
    if (!envelope.success) {
      throw new PermanentError(
        `zendesk webhook: neither an event subscription nor a bridge trigger body (${envelope.error.issues[0]?.path.join('.')}: ${envelope.error.issues[0]?.message})`,
        'ZENDESK_BAD_WEBHOOK',
      );
    }
    return withSession(parseEvent(envelope.data), envelope.data.detail.external_id);
  }
}

export function zendeskSignature(secret: string, timestamp: string, body: Buffer | string): string {
  return createHmac('sha256', secret).update(timestamp).update(body).digest('base64');
}

const id = z.union([z.string(), z.number()]).transform(String);

const eventEnvelope = z.object({
  id: z.string(),
  type: z.string(),
  subject: z.string(),
  time: z.string().optional(),
  detail: z.looseObject({
    id,
    requester_id: id.nullish(),
    actor_id: id.nullish(),
    external_id: z.string().nullish(),
  }),
  event: z.looseObject({}),
});

const commentEvent = z.object({
  comment: z.object({
    id,
    body: z.string().nullish(),
    is_public: z.boolean(),
    author: z.object({ id, is_staff: z.boolean(), name: z.string().nullish() }),
  }),
});

const attachmentEvent = z.object({
  comment: z.object({
    id,
    attachment: z.object({
      id,
      content_type: z.string().nullish(),
      content_url: z.string(),
      filename: z.string().nullish(),
      is_public: z.boolean().nullish(),
    }),
  }),
});

const statusEvent = z.object({ current: z.string(), previous: z.string().nullish() });

/**
 * `agent_assignment_changed` / `group_assignment_changed`: the new and old assignee or group, by id (`{ id }`,
 * or the bare id as the Events Connector shows it); null when unassigned.
 */
const assignee = z.union([id, z.looseObject({ id: id.nullish() })]).nullish();
const assignmentEvent = z.looseObject({ current: assignee, previous: assignee });

function assigneeId(value: z.infer<typeof assignee>): string | undefined {
  if (value === null || value === undefined) return undefined;
  const raw = typeof value === 'string' ? value : value.id;
  return raw && raw !== '0' ? raw : undefined;
}

const CLOSED_STATUSES = new Set(['SOLVED', 'CLOSED']);

function ticketRef(ticketId: string, requesterId?: string | null): TicketRef {
  return { vendor: 'zendesk', id: ticketId, ...(requesterId ? { requesterId } : {}) };
}

/** Tags every event with the handoff session named by the ticket's external_id, when it is one of ours. */
function withSession(events: HelpdeskEvent[], externalId: string | null | undefined): HelpdeskEvent[] {
  const sessionId = sessionIdFrom(externalId);
  return sessionId ? events.map((e) => ({ ...e, sessionId })) : events;
}

function parseEvent(envelope: z.infer<typeof eventEnvelope>): HelpdeskEvent[] {
  const ticket = ticketRef(envelope.detail.id);
  const at = envelope.time ?? new Date().toISOString();
  switch (envelope.type) {
    case 'zen:event-type:ticket.comment_added': {
      const { comment } = shape(commentEvent, envelope.event, envelope.type);
      // Internal notes and the requester's own comments (our echo) never reach the customer. A comment without
      // text carries only files, and those come as their own `attachment_linked_to_comment` events.
      if (!comment.is_public || !comment.author.is_staff) return [];
      if ((comment.body ?? '').trim() === '') return [];
      return [
        {
          kind: 'agent.message',
          ticket,
          eventId: `comment:${comment.id}`,
          agent: { id: comment.author.id, ...(comment.author.name ? { name: comment.author.name } : {}) },
          message: { id: comment.id, text: comment.body ?? '', at },
        },
      ];
    }
    case 'zen:event-type:ticket.attachment_linked_to_comment': {
      const { comment } = shape(attachmentEvent, envelope.event, envelope.type);
      const fromRequester =
        envelope.detail.actor_id && envelope.detail.actor_id === envelope.detail.requester_id;
      if (comment.attachment.is_public === false || fromRequester) return [];
      return [
        {
          kind: 'agent.message',
          ticket,
          eventId: `attachment:${comment.attachment.id}`,
          message: {
            id: `${comment.id}:${comment.attachment.id}`,
            text: '',
            attachments: [attachment(comment.attachment)],
            at,
          },
        },
      ];
    }
    case 'zen:event-type:ticket.agent_assignment_changed': {
      // Unassigned (current null) tells the customer nothing; the names are asked for by the core (`nameOf`).
      const agentId = assigneeId(shape(assignmentEvent, envelope.event, envelope.type).current);
      if (!agentId) return [];
      return [
        { kind: 'ticket.assigned', ticket, eventId: `assignee:${envelope.id}`, agent: { id: agentId } },
      ];
    }
    case 'zen:event-type:ticket.group_assignment_changed': {
      const groupId = assigneeId(shape(assignmentEvent, envelope.event, envelope.type).current);
      if (!groupId) return [];
      return [{ kind: 'ticket.transferred', ticket, eventId: `group:${envelope.id}`, team: { id: groupId } }];
    }
    case 'zen:event-type:ticket.status_changed': {
      const status = shape(statusEvent, envelope.event, envelope.type);
      if (!CLOSED_STATUSES.has(status.current.toUpperCase())) return [];
      return [
        {
          kind: 'ticket.closed',
          ticket,
          eventId: `status:${envelope.id}`,
          reason: status.current.toLowerCase(),
        },
      ];
    }
    default:
      return [];
  }
}

const triggerBody = z.object({
  bridge_event: z.enum(['agent_public_comment', 'ticket_solved', 'agent_assigned', 'group_changed']),
  ticket: z.object({
    id,
    external_id: z.string().nullish(),
    status: z.string().nullish(),
    updated_at: z.string().nullish(),
    requester_id: id.nullish(),
  }),
  current_user: z.object({ id: id.nullish(), name: z.string().nullish() }).nullish(),
  /** The assignment triggers: the assignee (`{{ticket.assignee.*}}`) or the group (`{{ticket.group.name}}`). */
  assignee: z.object({ id: z.string().nullish(), name: z.string().nullish() }).nullish(),
  group: z.object({ name: z.string().nullish() }).nullish(),
  comment: z
    .object({
      id: id.nullish(),
      author_id: id.nullish(),
      author_name: z.string().nullish(),
      value: z.string().nullish(),
      attachments: z.array(z.object({ filename: z.string().nullish(), url: z.string() })).nullish(),
    })
    .nullish(),
});

function parseTrigger(json: unknown): HelpdeskEvent[] {
  const body = shape(triggerBody, json, 'trigger');
  return withSession(triggerEvents(body), body.ticket.external_id);
}

function triggerEvents(body: z.infer<typeof triggerBody>): HelpdeskEvent[] {
  const ticket = ticketRef(body.ticket.id, body.ticket.requester_id);
  const events: HelpdeskEvent[] = [];
  const c = body.comment;
  // Rendered roles are human-readable and maybe translated; the requester's id is not.
  if (
    c?.id &&
    c.author_id &&
    c.author_id !== body.ticket.requester_id &&
    (c.value || c.attachments?.length)
  ) {
    events.push({
      kind: 'agent.message',
      ticket,
      eventId: `comment:${c.id}`,
      agent: { id: c.author_id, ...(c.author_name ? { name: c.author_name } : {}) },
      message: {
        id: c.id,
        text: c.value ?? '',
        attachments: (c.attachments ?? []).map((a) =>
          attachment({ content_url: a.url, filename: a.filename }),
        ),
        at: new Date().toISOString(),
      },
    });
  }
  const updated = body.ticket.updated_at ?? '';
  const assignee = body.assignee;
  if (body.bridge_event === 'agent_assigned' && assignee?.id?.trim()) {
    const name = assignee.name?.trim();
    events.push({
      kind: 'ticket.assigned',
      ticket,
      eventId: `assignee:${body.ticket.id}:${assignee.id}:${updated}`,
      agent: { id: assignee.id.trim(), ...(name ? { name } : {}) },
    });
  }
  const group = body.group?.name?.trim();
  if (body.bridge_event === 'group_changed' && group) {
    // The template names the group only: its name is its id here.
    events.push({
      kind: 'ticket.transferred',
      ticket,
      eventId: `group:${body.ticket.id}:${group}:${updated}`,
      team: { id: group, name: group },
    });
  }
  if (body.bridge_event === 'ticket_solved') {
    events.push({
      kind: 'ticket.closed',
      ticket,
      eventId: `solved:${body.ticket.id}:${body.ticket.updated_at ?? ''}`,
      reason: 'solved',
      ...(body.current_user?.id && body.current_user.id !== '-1'
        ? {
            agent: {
              id: body.current_user.id,
              ...(body.current_user.name ? { name: body.current_user.name } : {}),
            },
          }
        : {}),
    });
  }
  return events;
}

function attachment(a: {
  content_url: string;
  content_type?: string | null;
  filename?: string | null;
}): Attachment {
  return {
    url: a.content_url,
    mimeType: a.content_type ?? 'application/octet-stream',
    ...(a.filename ? { name: a.filename } : {}),
  };
}

function shape<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PermanentError(
      `zendesk webhook ${what}: ${issue?.path.join('.')}: ${issue?.message}`,
      'ZENDESK_BAD_WEBHOOK',
    );
  }
  return parsed.data;
}
