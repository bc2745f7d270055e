import { z } from 'zod';
import type { HandoffRequest, TicketPriority } from '../core/model';

/**
 * The Redirect context a router's bot sends when it hands the customer to this bridge. BLiP delivers a Redirect's
 * `context` to the destination "as if the customer had sent it": a message from the customer's tunnel whose id is
 * `context:<guid>` (fixture 11, capture C2) and whose type and content are the context's. A text context
 * (`{type:'text/plain', value:'Quero falar com um atendente'}`) is simply the ticket's first message. A JSON
 * context (`{type:'application/json', value:{...}}`) may also say how to open the ticket:
 *
 *   { "team": "billing", "priority": "high", "tags": ["vip"], "subject": "2nd copy of a bill", "locale": "es",
 *     "text": "The customer asked for an agent", "data": { "orderId": "88412" } }
 *
 * Every key is optional; unknown keys are ignored; `data` values reach the ticket only through the adapters'
 * field maps (`context.<key>` in ZENDESK_CONTACT_FIELDS, …). Only a message with a `context:` id is read this
 * way: a customer's own JSON (a Blip Chat postback, fixture 07c) is never taken for one.
 */
export const CONTEXT_ID_PREFIX = 'context:';

const PRIORITIES: Record<string, TicketPriority> = {
  low: 'low',
  normal: 'normal',
  medium: 'normal',
  high: 'high',
  urgent: 'urgent',
};

const scalar = z.union([z.string(), z.number(), z.boolean()]).transform(String);
const contextSchema = z.looseObject({
  team: scalar.optional(),
  priority: scalar.optional(),
  tags: z.union([z.array(scalar), z.string().transform((v) => v.split(','))]).optional(),
  subject: scalar.optional(),
  locale: scalar.optional(),
  text: scalar.optional(),
  message: scalar.optional(),
  data: z.record(z.string(), z.unknown()).optional(),
});

export interface ParsedContext {
  handoff: HandoffRequest;
  /** What the agent reads as the first message. */
  text: string;
}

/** The handoff request in a JSON Redirect context; undefined when the message is not one. */
export function parseHandoffContext(
  id: string | undefined,
  type: string,
  content: unknown,
): ParsedContext | undefined {
  if (!id?.startsWith(CONTEXT_ID_PREFIX) || type !== 'application/json') return undefined;
  const parsed = contextSchema.safeParse(content);
  if (!parsed.success) return undefined;
  const c = parsed.data;
  const data = Object.fromEntries(
    Object.entries(c.data ?? {}).flatMap(([k, v]) =>
      typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
        ? [[k, String(v).slice(0, 1_000)]]
        : [],
    ),
  );
  const priority = c.priority ? PRIORITIES[c.priority.trim().toLowerCase()] : undefined;
  const team = c.team?.trim().slice(0, 100);
  const tags = (c.tags ?? []).map((t) => t.trim()).filter(Boolean);
  const subject = c.subject?.trim();
  const locale = c.locale?.trim().slice(0, 35);
  const handoff: HandoffRequest = {
    ...(team ? { team } : {}),
    ...(priority ? { priority } : {}),
    ...(tags.length ? { tags } : {}),
    ...(subject ? { subject } : {}),
    ...(locale ? { locale } : {}),
    ...(Object.keys(data).length ? { data } : {}),
  };
  const given = (c.text ?? c.message)?.trim();
  const text = given || `[The bot handed the customer over${team ? ` to team ${team}` : ''}.]`;
  return { handoff, text };
}
