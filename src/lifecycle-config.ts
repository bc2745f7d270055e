import { z } from 'zod';
import type { LifecycleOptions } from './core/handoff/lifecycle';
import { OfficeHoursError, parseOfficeHours } from './core/handoff/office-hours';

type Locale = 'pt-BR' | 'en';

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
  'BRIDGE_ASSIGNED_MESSAGE',
  'BRIDGE_TRANSFERRED_MESSAGE',
  'BRIDGE_INACTIVITY_MESSAGE',
  'BRIDGE_NO_AGENT_MESSAGE',
  'BRIDGE_OUT_OF_HOURS_MESSAGE',
];

// eslint-disable-next-line @typescript-eslint/no-unused-vars -- only its type is needed
const lifecycleSchema = z.object(lifecycleConfigShape);
type Parsed = z.infer<typeof lifecycleSchema>;

const texts: Record<
  Locale,
  Record<'waiting' | 'assigned' | 'transferred' | 'noAgent' | 'outOfHours' | 'unnamed', string>
> = {
  'pt-BR': {
    waiting: 'Você está na fila para falar com um atendente. Já vamos te atender.',
    assigned: '{agent} entrou na conversa.',
    transferred: 'Transferindo você para o time {team}.',
    noAgent:
      'Nossos atendentes estão ocupados agora. Sua mensagem está registrada e vamos responder assim que possível.',
    outOfHours: 'Nosso atendimento humano está fora do horário agora.',
    unnamed: 'Um atendente',
  },
  en: {
    waiting: 'You are in the queue for an agent. We will be with you shortly.',
    assigned: '{agent} joined the conversation.',
    transferred: 'Transferring you to the {team} team.',
    noAgent: 'Our agents are busy right now. Your message is recorded and we will answer as soon as we can.',
    outOfHours: 'Our human support is closed right now.',
    unnamed: 'An agent',
  },
};

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

/** An empty text turns that message off; unset uses the locale's default. */
const text = (value: string | undefined, fallback: string) =>
  value === undefined ? fallback : value.trim() === '' ? undefined : value;

export function lifecycleConfigFrom(c: Parsed, locale: Locale): LifecycleOptions {
  const t = texts[locale];
  return {
    endKeywords: c.BRIDGE_END_KEYWORDS,
    waitingText: text(c.BRIDGE_WAITING_MESSAGE, t.waiting),
    assignedText: text(c.BRIDGE_ASSIGNED_MESSAGE, t.assigned),
    transferredText: text(c.BRIDGE_TRANSFERRED_MESSAGE, t.transferred),
    unnamedAgent: t.unnamed,
    ...(c.BRIDGE_INACTIVITY_MINUTES > 0
      ? {
          inactivity: {
            afterMs: c.BRIDGE_INACTIVITY_MINUTES * 60_000,
            text: text(c.BRIDGE_INACTIVITY_MESSAGE, ''),
          },
        }
      : {}),
    ...(c.BRIDGE_NO_AGENT_MINUTES > 0
      ? {
          noAgent: {
            afterMs: c.BRIDGE_NO_AGENT_MINUTES * 60_000,
            action: c.BRIDGE_NO_AGENT_ACTION,
            text: text(c.BRIDGE_NO_AGENT_MESSAGE, t.noAgent),
          },
        }
      : {}),
    ...(c.BRIDGE_OFFICE_HOURS
      ? {
          officeHours: {
            hours: parseOfficeHours(c.BRIDGE_OFFICE_HOURS, c.BRIDGE_TIMEZONE, c.BRIDGE_HOLIDAYS),
            action: c.BRIDGE_OUT_OF_HOURS_ACTION,
            text: text(c.BRIDGE_OUT_OF_HOURS_MESSAGE, t.outOfHours),
          },
        }
      : {}),
  };
}
