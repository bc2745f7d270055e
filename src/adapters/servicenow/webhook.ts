import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import {
  PermanentError,
  type HelpdeskEvent,
  type RawRequest,
  type Verification,
  type WebhookHandler,
} from '../adapter';
import {
  assignedEventId,
  attachmentEvent,
  closeReason,
  groupEventId,
  commentEvent,
  stateEventId,
  ticketRef,
  withSession,
} from './mapping';

export const PUSH_CONTRACT = 'blip-helpdesk-bridge/servicenow-push/v1';

/**
 * Push deliveries from the Business Rule in `business-rule.js` (contract `blip-helpdesk-bridge/servicenow-push/v1`,
 * ours, not a ServiceNow format). Signature: `X-Bridge-Signature: v1=<base64 HMAC-SHA256(secret,
 * X-Bridge-Timestamp + "." + raw body)>`, timestamp in unix seconds.
 */
export class ServiceNowWebhook implements WebhookHandler {
  readonly auth = { kind: 'hmac-signed-time' } as const;

  /**
   * The replay window (`SERVICENOW_WEBHOOK_MAX_SKEW_SECONDS`): `executeAsync()` goes through the ECC queue and can
   * lag by minutes, so 15 by default (the contract asks for >= 5).
   */
  readonly maxSkewSeconds: number;

  constructor(
    private readonly secret: string,
    private readonly options: {
      closedStates: string[];
      integrationUser?: string;
      /** The instance's base URL: agents' files are read from its Attachment API, whatever the push says. */
      baseUrl?: string;
      maxSkewSeconds?: number;
    },
  ) {
    this.maxSkewSeconds = options.maxSkewSeconds ?? 900;
  }

  verify(request: RawRequest): Verification {
    const signature = request.headers['x-bridge-signature'];
    const timestamp = request.headers['x-bridge-timestamp'];
    if (!signature || !timestamp)
      return { ok: false, reason: 'missing X-Bridge-Signature or X-Bridge-Timestamp' };
    if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'unreadable X-Bridge-Timestamp' };
    if (!signature.startsWith('v1=')) return { ok: false, reason: 'unsupported signature version' };
    const given = Buffer.from(signature.slice(3), 'utf8');
    const wanted = Buffer.from(servicenowSignature(this.secret, timestamp, request.body), 'utf8');
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted))
      return { ok: false, reason: 'signature mismatch' };
    return { ok: true, signedAt: new Date(Number(timestamp) * 1000) };
  }

  parse(request: RawRequest): HelpdeskEvent[] {
    let json: unknown;
    try {
      json = JSON.parse(request.body.toString('utf8'));
    } catch {
      throw new PermanentError('servicenow push: body is not JSON', 'SERVICENOW_BAD_WEBHOOK');
    }
    const envelope = shape(pushEnvelope, json, 'envelope');
    return this.events(envelope, json).map((e) => withSession(e, envelope.record.correlation_id));
  }

  private events(envelope: z.infer<typeof pushEnvelope>, json: unknown): HelpdeskEvent[] {
    const ticket = ticketRef(envelope.record);
    switch (envelope.event_type) {
      case 'comment.added': {
        const { journal } = shape(commentPush, json, envelope.event_type);
        // Work notes are internal; the bridge's own comments (the customer's messages) are its echo.
        if (journal.element !== 'comments') return [];
        if (journal.author_is_integration_user) return [];
        if (this.options.integrationUser && journal.sys_created_by === this.options.integrationUser)
          return [];
        // Event id `journal:<sys_journal_field sys_id>`, the same the poll gives this entry.
        const event = commentEvent(ticket, {
          sys_id: journal.sys_id,
          value: journal.value,
          sys_created_on: journal.sys_created_on,
          sys_created_by: journal.sys_created_by,
          ...(journal.author_name ? { author_name: journal.author_name } : {}),
        });
        return event ? [event] : [];
      }
      case 'attachment.added': {
        // From the attachment rule (attachment-rule.js): a file added to the record. The bridge's own uploads (the
        // customer's files) come back too and are dropped here.
        const { attachment } = shape(attachmentPush, json, envelope.event_type);
        if (attachment.author_is_integration_user) return [];
        if (this.options.integrationUser && attachment.sys_created_by === this.options.integrationUser)
          return [];
        if (!this.options.baseUrl) return [];
        return [
          attachmentEvent(
            ticket,
            {
              sys_id: attachment.sys_id,
              file_name: attachment.file_name,
              content_type: attachment.content_type,
              size_bytes: attachment.size_bytes,
              sys_created_on: attachment.sys_created_on,
              sys_created_by: attachment.sys_created_by,
              ...(attachment.author_name ? { author_name: attachment.author_name } : {}),
            },
            this.options.baseUrl,
          ),
        ];
      }
      case 'state.changed': {
        const { state, record } = shape(statePush, json, envelope.event_type);
        if (!this.options.closedStates.includes(state.current)) return [];
        const agentId = record.sys_updated_by;
        return [
          {
            kind: 'ticket.closed',
            ticket,
            // event_id is `<sys_id>:<sys_mod_count>`, as the poll builds it from the record.
            eventId: stateEventId(envelope.event_id),
            reason: closeReason(envelope.table, state.current),
            ...(agentId && agentId !== this.options.integrationUser ? { agent: { id: agentId } } : {}),
          },
        ];
      }
      case 'assignment.changed': {
        // Who answers now and the team, with their display names (business-rule.js). Event ids name the new
        // assignee / group: a push redelivered, or the same change seen again, is one event.
        const { assignment } = shape(assignmentPush, json, envelope.event_type);
        const events: HelpdeskEvent[] = [];
        const group = assignment.assignment_group;
        if (group?.sys_id) {
          events.push({
            kind: 'ticket.transferred',
            ticket,
            eventId: groupEventId(ticket.id, group.sys_id),
            team: { id: group.sys_id, ...(group.name ? { name: group.name } : {}) },
          });
        }
        const agent = assignment.assigned_to;
        if (agent?.sys_id) {
          events.push({
            kind: 'ticket.assigned',
            ticket,
            eventId: assignedEventId(ticket.id, agent.sys_id),
            agent: { id: agent.sys_id, ...(agent.name ? { name: agent.name } : {}) },
          });
        }
        return events;
      }
      default:
        // A later version of the Business Rule may send more; nothing here concerns the customer.
        return [];
    }
  }
}

export function servicenowSignature(secret: string, timestamp: string, body: Buffer | string): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('base64');
}

const record = z.looseObject({
  sys_id: z.string().min(1),
  number: z.string().nullish(),
  correlation_id: z.string().nullish(),
  state: z.string().nullish(),
  sys_updated_by: z.string().nullish(),
});

const pushEnvelope = z.looseObject({
  contract: z.literal(PUSH_CONTRACT, { error: `must be ${PUSH_CONTRACT}` }),
  event_id: z.string().min(1),
  event_type: z.string(),
  table: z.string(),
  record,
});

const commentPush = z.looseObject({
  journal: z.looseObject({
    sys_id: z.string().min(1),
    element: z.string(),
    value: z.string().nullish(),
    sys_created_on: z.string().nullish(),
    sys_created_by: z.string(),
    author_name: z.string().nullish(),
    author_is_integration_user: z.boolean(),
  }),
});

const attachmentPush = z.looseObject({
  attachment: z.looseObject({
    sys_id: z.string().min(1),
    file_name: z.string().nullish(),
    content_type: z.string().nullish(),
    size_bytes: z.union([z.string(), z.number()]).nullish(),
    sys_created_on: z.string().nullish(),
    sys_created_by: z.string(),
    author_name: z.string().nullish(),
    author_is_integration_user: z.boolean(),
  }),
});

const reference = z.looseObject({ sys_id: z.string().nullish(), name: z.string().nullish() }).nullish();
const assignmentPush = z.looseObject({
  assignment: z.looseObject({ assigned_to: reference, assignment_group: reference }),
});

const statePush = z.looseObject({
  record,
  state: z.looseObject({ previous: z.string().nullish(), current: z.string() }),
});

function shape<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PermanentError(
      `servicenow push ${what}: ${issue?.path.join('.') || '(body)'}: ${issue?.message}`,
      'SERVICENOW_BAD_WEBHOOK',
    );
  }
  return parsed.data;
}
