import { z } from 'zod';
import type { ConfiguredTexts, CustomerTexts, LocalizedTexts, TextKey } from './core/texts';
import { flag } from './config-fields';
import { LOCALES, localeTexts, type Locale } from './texts';

/**
 * The customer-facing texts' keys (issue 20 item 6): the deployment's locale, each customer's own (optional), and
 * overrides. Every text has a default per locale (`src/texts/<locale>.ts`); a `BRIDGE_*_MESSAGE` key replaces it in
 * the deployment's locale (empty: the text is not sent, in any locale); `BRIDGE_TEXTS` replaces texts per locale.
 */

/** The environment key that overrides each text in every locale, where one exists. */
export const TEXT_OVERRIDE_KEYS: Partial<Record<TextKey, string>> = {
  waiting: 'BRIDGE_WAITING_MESSAGE',
  queuePosition: 'BRIDGE_QUEUE_POSITION_MESSAGE',
  assigned: 'BRIDGE_ASSIGNED_MESSAGE',
  transferred: 'BRIDGE_TRANSFERRED_MESSAGE',
  noAgent: 'BRIDGE_NO_AGENT_MESSAGE',
  outOfHours: 'BRIDGE_OUT_OF_HOURS_MESSAGE',
  inactivity: 'BRIDGE_INACTIVITY_MESSAGE',
  closing: 'BRIDGE_CLOSING_MESSAGE',
  fileNotDelivered: 'BRIDGE_FILE_NOT_DELIVERED_MESSAGE',
};

const TEXT_KEYS = Object.keys(localeTexts['pt-BR']) as [TextKey, ...TextKey[]];

const perLocaleTexts = z.partialRecord(
  z.enum(LOCALES),
  z.strictObject(
    Object.fromEntries(TEXT_KEYS.map((k) => [k, z.string().optional()])) as Record<
      TextKey,
      z.ZodOptional<z.ZodString>
    >,
  ),
);

const textsJson = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined) return {};
    let json: unknown;
    try {
      json = JSON.parse(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be JSON, e.g. {"es":{"waiting":"Estás en la fila."}}' });
      return z.NEVER;
    }
    const parsed = perLocaleTexts.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      ctx.addIssue({
        code: 'custom',
        message: `${issue?.path.join('.') || '(value)'}: ${issue?.message ?? 'invalid'} (locales: ${LOCALES.join(', ')}; texts: ${TEXT_KEYS.join(', ')})`,
      });
      return z.NEVER;
    }
    return parsed.data as Partial<Record<Locale, ConfiguredTexts>>;
  });

export const textsConfigShape = {
  BRIDGE_LOCALE: z.enum(LOCALES).default('pt-BR'),
  BRIDGE_CUSTOMER_LOCALE: flag(false),
  BRIDGE_TEXTS: textsJson,
};

/** The settings the texts are built from: the shape above plus every override key. */
type TextsInput = {
  BRIDGE_LOCALE: Locale;
  BRIDGE_CUSTOMER_LOCALE: boolean;
  BRIDGE_TEXTS: Partial<Record<Locale, ConfiguredTexts>>;
} & Partial<Record<string, unknown>>;

/** An empty (blank) text turns it off; unset keeps what it replaces. */
function pick(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * One locale's texts: `BRIDGE_TEXTS` for that locale, else the `BRIDGE_*_MESSAGE` key, else the locale's default. A
 * `BRIDGE_*_MESSAGE` text is written in the deployment's language, so it replaces the text of `BRIDGE_LOCALE` only;
 * an empty one turns the text off in every locale (not sending it is no question of language).
 */
function configured(c: TextsInput, locale: Locale): ConfiguredTexts {
  const defaults: CustomerTexts = localeTexts[locale];
  const own = c.BRIDGE_TEXTS[locale] ?? {};
  const out: ConfiguredTexts = {};
  for (const key of TEXT_KEYS) {
    const envKey = TEXT_OVERRIDE_KEYS[key];
    const given = envKey ? pick(c[envKey]) : undefined;
    const env =
      given !== undefined && (given.trim() === '' || locale === c.BRIDGE_LOCALE) ? given : undefined;
    const value = own[key] ?? env ?? defaults[key];
    if (value.trim() !== '') out[key] = value;
  }
  return out;
}

/** Every locale's texts as configured, and the locale choice. */
export function localizedTextsFrom(c: TextsInput): LocalizedTexts {
  return {
    defaultLocale: c.BRIDGE_LOCALE,
    perCustomer: c.BRIDGE_CUSTOMER_LOCALE,
    byLocale: Object.fromEntries(LOCALES.map((l) => [l, configured(c, l)])),
  };
}
