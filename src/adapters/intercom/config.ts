import { z } from 'zod';
import { fieldMapSetting, nameMapSetting } from '../shared/field-map';

const whole = (what: string) => z.coerce.number({ error: `must be ${what}` }).int(`must be ${what}`);
const positive = (fallback: number) =>
  whole('a positive whole number').positive('must be a positive whole number').default(fallback);

/** The regional REST hosts (Settings > Workspace data > Data hosting region). */
export const INTERCOM_HOSTS = {
  us: 'https://api.intercom.io',
  eu: 'https://api.eu.intercom.io',
  au: 'https://api.au.intercom.io',
} as const;

export const intercomConfigSchema = z.object({
  INTERCOM_ACCESS_TOKEN: z.string().min(1),
  INTERCOM_CLIENT_SECRET: z.string().min(1),
  INTERCOM_ADMIN_ID: z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be the numeric id of an Intercom teammate (admin), e.g. 8823104'),
  INTERCOM_REGION: z.enum(['us', 'eu', 'au']).default('us'),
  INTERCOM_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
  INTERCOM_API_VERSION: z
    .string()
    .trim()
    .regex(/^(\d+\.\d+|Unstable)$/, 'must be an Intercom API version such as 2.15')
    .default('2.15'),
  // Intercom allows 10,000 calls per minute per app (25,000 per workspace), counted in 10-second windows.
  INTERCOM_REQUESTS_PER_MINUTE: positive(10_000),
  INTERCOM_TIMEOUT_MS: positive(10_000),
  INTERCOM_CONTACT_ATTRIBUTES: fieldMapSetting(
    /^(conversation\.)?[A-Za-z0-9_][A-Za-z0-9_ -]{0,99}$/,
    'a contact custom attribute name, or conversation.<attribute> for a conversation attribute',
  ),
  INTERCOM_TEAMS: nameMapSetting(/^\d+$/, 'an Intercom team id (numeric)'),
});

export type IntercomConfig = z.infer<typeof intercomConfigSchema>;
