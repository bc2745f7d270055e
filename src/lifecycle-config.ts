import { z } from 'zod';
import type { LifecycleOptions } from './core/handoff/lifecycle';
import { OfficeHoursError, parseOfficeHours } from './core/handoff/office-hours';
import type { ConfiguredTexts } from './core/texts';

const minutes = z.coerce
  .number({ error: 'must be a number of minutes (0 = off)' })
  .min(0, 'must be a number of minutes (0 = off)')
  .default(0);
const list = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );

/** The attendance lifecycle's environment keys (issue 6), spread into the base schema. */
export const lifecycleConfigShape = {
  BRIDGE_WAITING_MESSAGE: z.string().optional(),
  BRIDGE_QUEUE_POSITION_MESSAGE: z.string().optional(),
  BRIDGE_ASSIGNED_MESSAGE: z.string().optional(),
  BRIDGE_TRANSFERRED_MESSAGE: z.string().optional(),
  BRIDGE_END_KEYWORDS: list,
  BRIDGE_INACTIVITY_MINUTES: minutes,
  BRIDGE_INACTIVITY_MESSAGE: z.string().optional(),
  BRIDGE_NO_AGENT_MINUTES: minutes,
  BRIDGE_NO_AGENT_ACTION: z.enum(['message', 'redirect']).default('message'),
  BRIDGE_NO_AGENT_MESSAGE: z.string().optional(),
  BRIDGE_OFFICE_HOURS: z.string().optional(),
  BRIDGE_TIMEZONE: z.string().default('America/Sao_Paulo'),
  BRIDGE_HOLIDAYS: list,
  BRIDGE_OUT_OF_HOURS_ACTION: z.enum(['redirect', 'open']).default('redirect'),
  BRIDGE_OUT_OF_HOURS_MESSAGE: z.string().optional(),
};

/** Keys whose empty value means "send nothing" rather than "use the default". */
export const lifecycleEmptyIsMeaningful = [
  'BRIDGE_WAITING_MESSAGE',
  'BRIDGE_QUEUE_POSITION_MESSAGE',
  'BRIDGE_ASSIGNED_MESSAGE',
  'BRIDGE_TRANSFERRED_MESSAGE',
  'BRIDGE_INACTIVITY_MESSAGE',
  'BRIDGE_NO_AGENT_MESSAGE',
  'BRIDGE_OUT_OF_HOURS_MESSAGE',
];

// eslint-disable-next-line @typescript-eslint/no-unused-vars -- only its type is needed
const lifecycleSchema = z.object(lifecycleConfigShape);
type Parsed = z.infer<typeof lifecycleSchema>;

/** Problems the schema cannot see (the office-hours grammar, the timezone), as `KEY: reason`. */
export function lifecycleConfigProblems(c: Parsed): string[] {
  if (!c.BRIDGE_OFFICE_HOURS) return [];
  try {
    parseOfficeHours(c.BRIDGE_OFFICE_HOURS, c.BRIDGE_TIMEZONE, c.BRIDGE_HOLIDAYS);
    return [];
  } catch (err) {
    if (err instanceof OfficeHoursError) return [`BRIDGE_OFFICE_HOURS: ${err.message}`];
    throw err;
  }
}

/**
 * The lifecycle's options; its texts are the deployment locale's, as configured (`src/texts-config.ts`: defaults
 * per locale, `BRIDGE_*_MESSAGE` overrides). A customer with a locale of their own reads that locale's instead.
 */
export function lifecycleConfigFrom(c: Parsed, t: ConfiguredTexts): LifecycleOptions {
  return {
    endKeywords: c.BRIDGE_END_KEYWORDS,
    waitingText: t.waiting,
    assignedText: t.assigned,
    transferredText: t.transferred,
    unnamedAgent: t.unnamedAgent,
    noAgentAction: c.BRIDGE_NO_AGENT_ACTION,
    ...(c.BRIDGE_INACTIVITY_MINUTES > 0
      ? {
          inactivity: {
            afterMs: c.BRIDGE_INACTIVITY_MINUTES * 60_000,
            text: t.inactivity,
          },
        }
      : {}),
    ...(c.BRIDGE_NO_AGENT_MINUTES > 0
      ? {
          noAgent: {
            afterMs: c.BRIDGE_NO_AGENT_MINUTES * 60_000,
            action: c.BRIDGE_NO_AGENT_ACTION,
            text: t.noAgent,
          },
        }
      : {}),
    ...(c.BRIDGE_OFFICE_HOURS
      ? {
          officeHours: {
            hours: parseOfficeHours(c.BRIDGE_OFFICE_HOURS, c.BRIDGE_TIMEZONE, c.BRIDGE_HOLIDAYS),
            action: c.BRIDGE_OUT_OF_HOURS_ACTION,
            text: t.outOfHours,
          },
        }
      : {}),
  };
}
