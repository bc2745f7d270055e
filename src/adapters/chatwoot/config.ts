import { z } from 'zod';
import { fieldMapSetting, nameMapSetting } from '../shared/field-map';

const whole = (what: string) => z.coerce.number({ error: `must be ${what}` }).int(`must be ${what}`);
const positive = (fallback: number) =>
  whole('a positive whole number').positive('must be a positive whole number').default(fallback);
const numericId = (what: string) => z.string().trim().regex(/^\d+$/, `must be the numeric id of ${what}`);

/**
 * Chatwoot (self-hosted or Chatwoot Cloud): the application API of one account, one API-channel inbox, an agent's
 * (or agent bot's) access token, and the inbox's webhook secret (README.md).
 */
export const chatwootConfigSchema = z.object({
  /** The installation's URL, e.g. https://app.chatwoot.com or https://chat.acme.com.br. */
  CHATWOOT_BASE_URL: z.url({ protocol: /^https?$/ }),
  CHATWOOT_ACCOUNT_ID: numericId('the Chatwoot account (the number in /app/accounts/<id>/...)'),
  CHATWOOT_INBOX_ID: numericId('an API-channel inbox (Settings > Inboxes > the inbox: /inboxes/<id>)'),
  /** Profile settings > Access Token of the user the bridge acts as (`api_access_token` header). */
  CHATWOOT_API_ACCESS_TOKEN: z.string().min(1),
  /** The API inbox's webhook secret (Settings > Inboxes > the inbox > Configuration): signs every webhook. */
  CHATWOOT_WEBHOOK_SECRET: z.string().min(16, 'must be the inbox webhook secret (16+ characters)'),
  // Rack::Attack allows 3000 requests a minute per IP by default (RACK_ATTACK_LIMIT); the bridge stays below it.
  CHATWOOT_REQUESTS_PER_MINUTE: positive(1000),
  CHATWOOT_TIMEOUT_MS: positive(10_000),
  /** `source:target` pairs: values put in the contact's custom attributes (target = the attribute key). */
  CHATWOOT_CONTACT_FIELDS: fieldMapSetting(/^[A-Za-z0-9_]{1,100}$/, 'a contact custom attribute key'),
  /** `name:id` pairs: the handoff's team by name → a Chatwoot team id. */
  CHATWOOT_TEAMS: nameMapSetting(/^\d+$/, 'a Chatwoot team id (numeric)'),
});

export type ChatwootConfig = z.infer<typeof chatwootConfigSchema>;
