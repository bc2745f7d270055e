import { z } from 'zod';
import { fieldMapSetting, nameMapSetting } from '../shared/field-map';

export const zendeskConfigSchema = z
  .object({
    ZENDESK_SUBDOMAIN: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]*$/i, 'must be the subdomain only (acme for acme.zendesk.com)')
      .optional(),
    ZENDESK_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
    ZENDESK_EMAIL: z.email().optional(),
    ZENDESK_API_TOKEN: z.string().min(1).optional(),
    ZENDESK_OAUTH_TOKEN: z.string().min(1).optional(),
    ZENDESK_WEBHOOK_SECRET: z.string().min(1),
    ZENDESK_REQUESTS_PER_MINUTE: z.coerce.number().int().positive().default(200),
    ZENDESK_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
    ZENDESK_CONTACT_FIELDS: fieldMapSetting(
      /^(\d+|user\.[a-z0-9_]+)$/,
      'a ticket field id (360012345678) or user.<user field key>',
    ),
    ZENDESK_GROUPS: nameMapSetting(/^\d+$/, 'a Zendesk group id (numeric)'),
  })
  .superRefine(
    (c, ctx) => {
      if (!c.ZENDESK_SUBDOMAIN && !c.ZENDESK_BASE_URL) {
        ctx.addIssue({
          code: 'custom',
          path: ['ZENDESK_SUBDOMAIN'],
          message: 'is required (or set ZENDESK_BASE_URL)',
        });
      }
      if (!c.ZENDESK_OAUTH_TOKEN) {
        if (!c.ZENDESK_EMAIL) {
          ctx.addIssue({
            code: 'custom',
            path: ['ZENDESK_EMAIL'],
            message: 'is required with ZENDESK_API_TOKEN (or set ZENDESK_OAUTH_TOKEN)',
          });
        }
        if (!c.ZENDESK_API_TOKEN) {
          ctx.addIssue({
            code: 'custom',
            path: ['ZENDESK_API_TOKEN'],
            message: 'is required (or set ZENDESK_OAUTH_TOKEN)',
          });
        }
      }
    },
    {
      // zod 4 skips refinements once a field failed (e.g. a missing webhook secret); run anyway so that
      // every missing key is reported at once.
      when: (payload) => typeof payload.value === 'object' && payload.value !== null,
    },
  );

export type ZendeskConfig = z.infer<typeof zendeskConfigSchema>;
