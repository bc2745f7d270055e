import { z } from 'zod';
import {
  PermanentError,
  type Attachment,
  type HelpdeskEvent,
  type RawRequest,
  type TicketRef,
  type WebhookAuth,
  type WebhookHandler,
} from '../adapter';
import { SESSION_EXTRA } from './mapping';

const id = z.union([z.number(), z.string().min(1)]).transform(String);

/**
 * An Omnize trigger (docs/api/v1/interactions.md, "Triggers"): `{ interaction_hash, state, position?, extra }` for
 * the interaction's states, `{ interaction_hash, message, agent, extra }` for an agent's message. `agent` on a state
 * and `department` on `transferred` are not in Omnize's documentation: read when present (src/adapters/omnize/README.md,
 * assumptions A4 and A5).
 */
const trigger = z.looseObject({
  interaction_hash: z.string().min(1).max(200),
  state: z.string().max(40).optional(),
  position: z.coerce.number().int().positive().optional().catch(undefined),
  message: z
    .looseObject({
      hash: z.string().min(1).max(200),
      content: z.string().nullish(),
      type: z.string().max(20).nullish(),
      url: z.string().max(4000).nullish(),
    })
    .optional(),
  agent: z.looseObject({ id, name: z.string().nullish() }).nullish(),
  department: z.looseObject({ id, name: z.string().nullish() }).nullish(),
  extra: z.record(z.string(), z.unknown()).nullish(),
});

type Trigger = z.infer<typeof trigger>;

/**
 * Omnize documents no webhook signature and no read API to confirm an event: the secret is the token in the URL
 * registered at Omnize (`route-token`, checked by the core), and the dedupe by event id absorbs replays.
 */
export class OmnizeWebhook implements WebhookHandler {
  readonly auth: WebhookAuth;

  constructor(token: string) {
    this.auth = { kind: 'route-token', token };
  }

  parse(request: RawRequest): HelpdeskEvent[] {
    let json: unknown;
    try {
      json = JSON.parse(request.body.toString('utf8'));
    } catch {
      throw new PermanentError('omnize webhook: the body is not JSON', 'OMNIZE_BAD_WEBHOOK');
    }
    const parsed = trigger.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new PermanentError(
        `omnize webhook: unexpected shape (${issue?.path.join('.') || 'body'}: ${issue?.message})`,
        'OMNIZE_BAD_WEBHOOK',
      );
    }
    return eventsOf(parsed.data, request.receivedAt);
  }
}

function eventsOf(t: Trigger, receivedAt: Date): HelpdeskEvent[] {
  const hash = t.interaction_hash;
  const ticket: TicketRef = { vendor: 'omnize', id: hash };
  const session = t.extra?.[SESSION_EXTRA];
  const base = { ticket, ...(typeof session === 'string' && session ? { sessionId: session } : {}) };
  const agent = t.agent ? { id: t.agent.id, ...(t.agent.name ? { name: t.agent.name } : {}) } : undefined;
  if (t.message) {
    const m = t.message;
    const attachment = attachmentOf(m.type, m.url);
    const content = m.content ?? '';
    // A file's content is its caption; Omnize's UI puts the file's name there when there is none.
    const text = attachment && content === attachment.name ? '' : content;
    return [
      {
        ...base,
        kind: 'agent.message',
        eventId: `message:${m.hash}`,
        ...(agent ? { agent } : {}),
        message: {
          id: m.hash,
          text,
          at: receivedAt.toISOString(),
          ...(attachment ? { attachments: [attachment] } : {}),
        },
      },
    ];
  }
  switch (t.state) {
    case 'queued':
      return [
        {
          ...base,
          kind: 'ticket.queued',
          eventId: `queued:${hash}:${t.position ?? ''}`,
          ...(t.position !== undefined ? { position: t.position } : {}),
        },
      ];
    case 'accepted':
      return [
        {
          ...base,
          kind: 'ticket.assigned',
          eventId: `accepted:${hash}:${agent?.id ?? ''}`,
          // Omnize's documented trigger names no agent: then "an agent" joined (one of them, once).
          agent: agent ?? { id: UNNAMED_AGENT },
        },
      ];
    case 'transferred':
      return t.department
        ? [
            {
              ...base,
              kind: 'ticket.transferred',
              eventId: `transferred:${hash}:${t.department.id}`,
              team: { id: t.department.id, ...(t.department.name ? { name: t.department.name } : {}) },
            },
          ]
        : [];
    case 'unavailable':
      return [{ ...base, kind: 'agent.unavailable', eventId: `unavailable:${hash}` }];
    case 'finished':
      return [
        {
          ...base,
          kind: 'ticket.closed',
          eventId: `finished:${hash}`,
          reason: 'finished',
          ...(agent ? { agent } : {}),
        },
      ];
    case 'typing':
    case 'cleared':
      return [
        {
          ...base,
          kind: 'agent.typing',
          // Typing repeats: each trigger is its own event (the core never marks typing as done anyway).
          eventId: `${t.state}:${hash}:${receivedAt.getTime()}`,
          state: t.state === 'typing' ? 'composing' : 'paused',
        },
      ];
    default:
      return [];
  }
}

/** The id of the agent of an `accepted` trigger that names none. */
export const UNNAMED_AGENT = 'omnize-agent';

const MIME_BY_EXTENSION: Record<string, string> = {
  pdf: 'application/pdf',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  mp4: 'video/mp4',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  oga: 'audio/ogg',
  m4a: 'audio/mp4',
  txt: 'text/plain',
  csv: 'text/csv',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  zip: 'application/zip',
};

const FAMILY_TYPE: Record<string, string> = {
  image: 'image/jpeg',
  video: 'video/mp4',
  audio: 'audio/mpeg',
  file: 'application/octet-stream',
};

/**
 * An agent's file: Omnize's trigger gives its `type` (image, video, audio, file) and `url` only, so the name is the
 * URL's last segment and the MIME type comes from its extension (else the family's usual type); the bridge's
 * download then takes the type the file is served with.
 */
function attachmentOf(
  type: string | null | undefined,
  url: string | null | undefined,
): Attachment | undefined {
  if (!url || !type || type === 'text') return undefined;
  let name: string | undefined;
  try {
    name = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '') || undefined;
  } catch {
    return undefined;
  }
  const extension = name?.includes('.') ? name.split('.').pop()!.toLowerCase() : '';
  const mimeType = MIME_BY_EXTENSION[extension] ?? FAMILY_TYPE[type] ?? 'application/octet-stream';
  return { url, mimeType, ...(name ? { name } : {}) };
}
