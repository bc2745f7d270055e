/**
 * Every text the bridge itself sends the customer, in one language. The sets live in `src/texts/<locale>.ts`, one
 * module per locale, each typed by this interface: a text missing from a locale fails the type-check. Adding a text
 * is one key here and one line per locale file (then read it with `textsOf` in the handler that sends it).
 */
export interface CustomerTexts {
  /** The ticket opened: the customer is in the queue. */
  waiting: string;
  /**
   * The helpdesk told the ticket's place in its queue (Omnize `queued` with `position`); `{position}` is the number
   * (1 = next); empty = nothing is sent.
   */
  queuePosition: string;
  /** An agent took the ticket; `{agent}` is the agent's name. */
  assigned: string;
  /** The ticket moved to another team; `{team}` is the team's name. */
  transferred: string;
  /** `{agent}` when the helpdesk does not say the agent's name. */
  unnamedAgent: string;
  /** Nobody picked the attendance up in time. */
  noAgent: string;
  /** A new attendance outside the attendance hours. */
  outOfHours: string;
  /** The customer stopped answering and the attendance is closed; empty = nothing is sent. */
  inactivity: string;
  /** Right before the customer is handed back to the bot. */
  closing: string;
  /** In place of an agent's file that could not be delivered; `{file}` is its name. */
  fileNotDelivered: string;
  /** The satisfaction survey's question (`BRIDGE_SURVEY=bridge`), after the close. */
  surveyQuestion: string;
  /** The five options, worst to best, separated by `|` (each one's number is its rating). */
  surveyOptions: string;
  /** Added to the question on channels without quick replies (the options are listed above it). */
  surveyHint: string;
  /** An answer that is no rating: the question is asked once more after it. */
  surveyInvalid: string;
  /** After a rating; empty = nothing is sent. */
  surveyThanks: string;
}

export type TextKey = keyof CustomerTexts;

/** One locale's texts as configured (defaults, then overrides): an undefined text is not sent. */
export type ConfiguredTexts = { [K in TextKey]?: string };

/** The configured texts of every locale, and whether each customer gets their own language. */
export interface LocalizedTexts {
  /** The deployment's locale (`BRIDGE_LOCALE`): every customer's, unless `perCustomer`. */
  defaultLocale: string;
  /** Each customer's locale from the Redirect context's `locale` or the contact's `culture` (`BRIDGE_CUSTOMER_LOCALE`). */
  perCustomer: boolean;
  byLocale: Record<string, ConfiguredTexts>;
}

/**
 * The locale of `available` a culture or language tag names: exact (case and `_`/`-` ignored), else by language
 * (`es-MX` → `es`, `pt` or `pt-PT` → `pt-BR`, `en-US` → `en`); undefined when none fits.
 */
export function matchLocale(value: string | undefined, available: readonly string[]): string | undefined {
  const wanted = value?.trim().toLowerCase().replace(/_/g, '-');
  if (!wanted) return undefined;
  const exact = available.find((l) => l.toLowerCase() === wanted);
  if (exact) return exact;
  const language = wanted.split('-')[0];
  return available.find((l) => l.toLowerCase().split('-')[0] === language);
}
