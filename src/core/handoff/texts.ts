import type { ChatMessage, Conversation, CustomerRef } from '../model';
import { matchLocale, type ConfiguredTexts } from '../texts';
import type { Handoff } from './context';

/**
 * The texts a handoff's customer reads from the bridge: those of the locale recorded on the conversation (chosen
 * when it started, so every text of a handoff is in one language), else the deployment's (the lifecycle's and the
 * settings' texts).
 */
export function textsOf(h: Handoff, conversation: Pick<Conversation, 'locale'>): ConfiguredTexts {
  const chosen = conversation.locale ? h.deps.texts?.byLocale[conversation.locale] : undefined;
  if (chosen) return chosen;
  const o = h.lifecycle?.options;
  const s = h.settings;
  const given: Array<[keyof ConfiguredTexts, string | undefined]> = [
    ['waiting', o?.waitingText],
    ['assigned', o?.assignedText],
    ['transferred', o?.transferredText],
    ['unnamedAgent', o?.unnamedAgent],
    ['noAgent', o?.noAgent?.text],
    ['outOfHours', o?.officeHours?.text],
    ['inactivity', o?.inactivity?.text],
    ['closing', s.closingText],
    ['fileNotDelivered', s.fileNotDeliveredText],
  ];
  return Object.fromEntries(given.filter(([, v]) => v)) as ConfiguredTexts;
}

/**
 * The locale of a new handoff: with per-customer locales on, the Redirect context's `locale`, else the contact's
 * `culture` (one bounded directory lookup, reused for the ticket's details), when the bridge has texts in it; else
 * the deployment's. Undefined when the deployment configured no localized texts (the settings' texts are used).
 */
export async function localeFor(
  h: Handoff,
  customer: CustomerRef,
  message: ChatMessage,
): Promise<string | undefined> {
  const localized = h.deps.texts;
  if (!localized) return undefined;
  if (!localized.perCustomer) return localized.defaultLocale;
  const available = Object.keys(localized.byLocale);
  const asked = matchLocale(message.handoff?.locale, available);
  if (asked) return asked;
  const culture = await h.deps.details?.culture(customer);
  return matchLocale(culture, available) ?? localized.defaultLocale;
}
