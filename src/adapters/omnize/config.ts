import { z } from 'zod';
import { nameMapSetting } from '../shared/field-map';

const whole = (what: string) => z.coerce.number({ error: `must be ${what}` }).int(`must be ${what}`);
const positive = (fallback: number) =>
  whole('a positive whole number').positive('must be a positive whole number').default(fallback);

export const omnizeConfigSchema = z.object({
  /** The ClientSDK token (Omnize: Menu > Settings > Integrations > ClientSDK > Generate Token). */
  OMNIZE_TOKEN: z.string().min(1),
  /** The ClientApi host (interactions, messages, finish). */
  OMNIZE_BASE_URL: z.url({ protocol: /^https?$/ }).default('https://core.omnize.com.br'),
  /** The services host (departments: `setup`/`check`). */
  OMNIZE_SERVICES_URL: z.url({ protocol: /^https?$/ }).default('https://services.omnize.com.br'),
  /** The secret in the webhook URL registered at Omnize: `/webhooks/omnize/<token>` (route-token). */
  OMNIZE_WEBHOOK_TOKEN: z
    .string()
    .min(16, 'must be at least 16 characters')
    .regex(/^[A-Za-z0-9._~-]+$/, 'must be URL-safe (letters, digits, . _ ~ -)'),
  /** The department an interaction opens in when its team has none in OMNIZE_DEPARTMENTS. */
  OMNIZE_DEPARTMENT_ID: z.string().trim().regex(/^\d+$/, 'must be a numeric Omnize department id'),
  /** Team name → Omnize department id (`financeiro:12,suporte:13`). */
  OMNIZE_DEPARTMENTS: nameMapSetting(/^\d+$/, 'an Omnize department id (numeric)'),
  /** The interaction's `media_type` (Omnize: TEXT, SMS, WHATSAPP). */
  OMNIZE_MEDIA_TYPE: z.enum(['TEXT', 'SMS', 'WHATSAPP']).default('WHATSAPP'),
  // Omnize documents no limit: a conservative default.
  OMNIZE_REQUESTS_PER_MINUTE: positive(120),
  OMNIZE_TIMEOUT_MS: positive(10_000),
});

export type OmnizeConfig = z.infer<typeof omnizeConfigSchema>;
