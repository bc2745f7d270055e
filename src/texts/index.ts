import type { CustomerTexts } from '../core/texts';
import { en } from './en';
import { es } from './es';
import { ptBR } from './pt-BR';

/**
 * The customer-facing texts of every locale the bridge speaks, one module each (`src/texts/<locale>.ts`), all typed
 * by `CustomerTexts` (src/core/texts.ts). A new locale: one module and one line here.
 */
export const localeTexts = {
  'pt-BR': ptBR,
  en,
  es,
} as const satisfies Record<string, CustomerTexts>;

export type Locale = keyof typeof localeTexts;

export const LOCALES = Object.keys(localeTexts) as [Locale, ...Locale[]];
