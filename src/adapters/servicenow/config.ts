import { z } from 'zod';
import { fieldMapSetting, nameMapSetting } from '../shared/field-map';

/** A ServiceNow field or table name (what the Table API accepts in a path, a body or an encoded query). */
const identifier = /^[a-z][a-z0-9_]*$/;

export const servicenowConfigSchema = z
  .object({
    SERVICENOW_INSTANCE: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]*$/i, 'must be the instance name only (acme for acme.service-now.com)')
      .optional(),
    SERVICENOW_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
    SERVICENOW_USERNAME: z.string().min(1).optional(),
    SERVICENOW_PASSWORD: z.string().min(1).optional(),
    SERVICENOW_OAUTH_TOKEN: z.string().min(1).optional(),
    SERVICENOW_TABLE: z
      .string()
      .regex(identifier, 'must be a table name such as incident or sn_customerservice_case')
      .default('incident'),
    SERVICENOW_PUSH_SECRET: z
      .string()
      .min(16, 'must be at least 16 characters (e.g. the output of `openssl rand -base64 32`)')
      .optional(),
    // The push's replay window: executeAsync() goes through the ECC queue and can lag by minutes, so it is wider
    // than BRIDGE_WEBHOOK_MAX_SKEW_SECONDS (Zendesk, Intercom); the push contract asks for at least 5 minutes.
    SERVICENOW_WEBHOOK_MAX_SKEW_SECONDS: z.coerce
      .number({ error: 'must be a positive whole number of seconds' })
      .int('must be a positive whole number of seconds')
      .positive('must be a positive whole number of seconds')
      .default(900),
    SERVICENOW_POLL: z.stringbool({ error: 'must be true or false' }).default(true),
    SERVICENOW_CLOSED_STATES: z
      .string()
      .default('6,7,8')
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      )
      .refine(
        (states) => states.length > 0 && states.every((s) => /^-?\d+$/.test(s)),
        'must be a comma-separated list of state values (numbers), e.g. 6,7,8',
      ),
    SERVICENOW_INTEGRATION_USER: z
      .string()
      .regex(/^[^\s^=]+$/, 'must be a user_name (no spaces, ^ or =)')
      .optional(),
    SERVICENOW_CUSTOMER_FIELD: z
      .string()
      .regex(identifier, 'must be a column name such as u_blip_customer')
      .default('u_blip_customer'),
    SERVICENOW_CALLER_ID: z
      .string()
      .regex(/^[0-9a-f]{32}$/, 'must be the sys_id (32 hex characters) of a sys_user record')
      .optional(),
    SERVICENOW_CLOSE_CODE: z.string().min(1).default('Resolved by caller'),
    SERVICENOW_REQUESTS_PER_MINUTE: z.coerce
      .number({ error: 'must be a positive whole number' })
      .int('must be a positive whole number')
      .positive('must be a positive whole number')
      .default(300),
    SERVICENOW_TIMEOUT_MS: z.coerce
      .number({ error: 'must be a positive whole number' })
      .int('must be a positive whole number')
      .positive('must be a positive whole number')
      .default(10_000),
    SERVICENOW_REOPEN_STATE: z
      .string()
      .regex(/^-?\d+$/, 'must be a state value (a number), e.g. 2')
      .default('2'),
    SERVICENOW_CONTACT_FIELDS: fieldMapSetting(identifier, 'a column of the table, e.g. u_cpf'),
    SERVICENOW_ASSIGNMENT_GROUPS: nameMapSetting(
      /^[0-9a-f]{32}$/,
      'the sys_id (32 hex characters) of a sys_user_group record',
    ),
  })
  .superRefine(
    (c, ctx) => {
      if (!c.SERVICENOW_INSTANCE && !c.SERVICENOW_BASE_URL) {
        ctx.addIssue({
          code: 'custom',
          path: ['SERVICENOW_INSTANCE'],
          message: 'is required (or set SERVICENOW_BASE_URL)',
        });
      }
      if (!c.SERVICENOW_OAUTH_TOKEN) {
        if (!c.SERVICENOW_USERNAME) {
          ctx.addIssue({
            code: 'custom',
            path: ['SERVICENOW_USERNAME'],
            message: 'is required with SERVICENOW_PASSWORD (or set SERVICENOW_OAUTH_TOKEN)',
          });
        }
        if (!c.SERVICENOW_PASSWORD) {
          ctx.addIssue({
            code: 'custom',
            path: ['SERVICENOW_PASSWORD'],
            message: 'is required with SERVICENOW_USERNAME (or set SERVICENOW_OAUTH_TOKEN)',
          });
        }
      } else if (!c.SERVICENOW_INTEGRATION_USER) {
        ctx.addIssue({
          code: 'custom',
          path: ['SERVICENOW_INTEGRATION_USER'],
          message:
            "is required with SERVICENOW_OAUTH_TOKEN (the token's user_name: its journal entries are the bridge's own and are never sent back to the customer)",
        });
      }
      if (!c.SERVICENOW_PUSH_SECRET && c.SERVICENOW_POLL === false) {
        ctx.addIssue({
          code: 'custom',
          path: ['SERVICENOW_POLL'],
          message:
            'is false and SERVICENOW_PUSH_SECRET is unset: agent replies could never reach the customer (set one, or both)',
        });
      }
    },
    {
      // zod 4 skips refinements once a field failed; run anyway so that every problem is reported at once.
      when: (payload) => typeof payload.value === 'object' && payload.value !== null,
    },
  );

export type ServiceNowConfig = z.infer<typeof servicenowConfigSchema>;

/** The user_name whose journal entries are the bridge's own (customer messages): never sent back to the customer. */
export function integrationUser(config: ServiceNowConfig): string {
  // The schema requires one of the two (INTEGRATION_USER is mandatory with OAuth, USERNAME with Basic).
  return (config.SERVICENOW_INTEGRATION_USER ?? config.SERVICENOW_USERNAME) as string;
}
