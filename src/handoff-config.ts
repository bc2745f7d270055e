import { z } from 'zod';
import { DEFAULT_SUBJECT_TEMPLATE, SUBJECT_PLACEHOLDERS } from './core/handoff/details';
import type { TicketPriority } from './core/model';

/**
 * What a new ticket opens with (issue 6): the transcript of the bot conversation, the customer's BLiP contact,
 * the subject template, a default team and priority; and the reopen policy. Spread into the base schema.
 * Vendor-side mappings (groups, custom fields) are each adapter's own keys (`ZENDESK_GROUPS`, …).
 */
export const handoffConfigShape = {
  BRIDGE_TRANSCRIPT: z.enum(['note', 'comment', 'off']).default('note'),
  BRIDGE_TRANSCRIPT_MESSAGES: z.coerce
    .number({ error: 'must be a whole number from 1 to 100' })
    .int('must be a whole number from 1 to 100')
    .min(1, 'must be a whole number from 1 to 100')
    .max(100, 'must be a whole number from 1 to 100')
    .default(20),
  BRIDGE_CONTACT_LOOKUP: z.stringbool({ error: 'must be true or false' }).default(true),
  BRIDGE_DIRECTORY_TIMEOUT_MS: z.coerce
    .number({ error: 'must be a positive whole number' })
    .int('must be a positive whole number')
    .positive('must be a positive whole number')
    .default(3_000),
  BRIDGE_SUBJECT_TEMPLATE: z
    .string()
    .default(DEFAULT_SUBJECT_TEMPLATE)
    .refine(
      (v) =>
        [...v.matchAll(/\{(\w+)\}/g)].every((m) =>
          (SUBJECT_PLACEHOLDERS as readonly string[]).includes(m[1]!),
        ),
      `may only use the placeholders ${SUBJECT_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`,
    ),
  BRIDGE_TEAM: z.string().trim().optional(),
  BRIDGE_PRIORITY: z.enum(['low', 'normal', 'high', 'urgent']).optional(),
  BRIDGE_REOPEN_WINDOW_MINUTES: z.coerce
    .number({ error: 'must be a number of minutes (0 = off)' })
    .min(0, 'must be a number of minutes (0 = off)')
    .default(0),
};

// eslint-disable-next-line @typescript-eslint/no-unused-vars -- only its type is needed
const handoffSchema = z.object(handoffConfigShape);
type Parsed = z.infer<typeof handoffSchema>;

export interface HandoffConfig {
  transcript: { as: 'note' | 'comment' | 'off'; messages: number };
  contactLookup: boolean;
  directoryTimeoutMs: number;
  subjectTemplate: string;
  team?: string;
  priority?: TicketPriority;
  /** 0 = off. */
  reopenWindowMs: number;
}

export function handoffConfigFrom(c: Parsed): HandoffConfig {
  return {
    transcript: { as: c.BRIDGE_TRANSCRIPT, messages: c.BRIDGE_TRANSCRIPT_MESSAGES },
    contactLookup: c.BRIDGE_CONTACT_LOOKUP,
    directoryTimeoutMs: c.BRIDGE_DIRECTORY_TIMEOUT_MS,
    subjectTemplate: c.BRIDGE_SUBJECT_TEMPLATE,
    ...(c.BRIDGE_TEAM ? { team: c.BRIDGE_TEAM } : {}),
    ...(c.BRIDGE_PRIORITY ? { priority: c.BRIDGE_PRIORITY } : {}),
    reopenWindowMs: Math.round(c.BRIDGE_REOPEN_WINDOW_MINUTES * 60_000),
  };
}
