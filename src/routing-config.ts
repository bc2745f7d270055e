import { z } from 'zod';
import { type VendorName, vendorNames } from './adapters/registry';
import type { RoutingRule } from './core/routing';

/**
 * Which helpdesks this deployment serves and which one a new handoff goes to: `BRIDGE_VENDORS` enables several at
 * once (the first is the default; without it, `BRIDGE_VENDOR` alone), and `BRIDGE_ROUTES` (a JSON array, first match
 * wins) sends some handoffs elsewhere, by the team the bot asked for, the Redirect context, the channel, the router
 * or the attendance hours. Spread into the base schema.
 */
export const routingConfigShape = {
  BRIDGE_VENDOR: z.enum(vendorNames).default('zendesk'),
  BRIDGE_VENDORS: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((name) => name.trim().toLowerCase())
        .filter(Boolean),
    )
    .superRefine((names, ctx) => {
      const unknown = names.filter((n) => !(vendorNames as string[]).includes(n));
      if (unknown.length) {
        ctx.addIssue({
          code: 'custom',
          message: `names an unknown helpdesk (${unknown.join(', ')}); known: ${vendorNames.join(', ')}`,
        });
      } else if (names.length === 0)
        ctx.addIssue({ code: 'custom', message: 'must name at least one helpdesk' });
    })
    .transform((names) => names as VendorName[])
    .optional(),
  BRIDGE_ROUTES: z.string().optional(),
};

const text = z.string().trim().min(1);
const ruleSchema = z.strictObject({
  vendor: text,
  team: text.optional(),
  context: z.record(z.string(), z.string()).optional(),
  channel: text.optional(),
  router: text.optional(),
  hours: z.enum(['open', 'closed']).optional(),
});

export interface RoutingConfig {
  /** Enabled helpdesks, the default first. */
  vendors: VendorName[];
  rules: RoutingRule[];
}

type RoutingInput = {
  BRIDGE_VENDOR: VendorName;
  BRIDGE_VENDORS?: VendorName[] | undefined;
  BRIDGE_ROUTES?: string | undefined;
};

/** The routing settings, or the problems with them (one line each, never echoing a value). */
export function routingConfigFrom(c: RoutingInput): { config?: RoutingConfig; problems: string[] } {
  const vendors = [...new Set(c.BRIDGE_VENDORS ?? [c.BRIDGE_VENDOR])];
  if (!c.BRIDGE_ROUTES?.trim()) return { config: { vendors, rules: [] }, problems: [] };
  let json: unknown;
  try {
    json = JSON.parse(c.BRIDGE_ROUTES);
  } catch {
    return {
      problems: [
        'BRIDGE_ROUTES: must be a JSON array of rules, e.g. [{"team":"billing","vendor":"servicenow"}]',
      ],
    };
  }
  const parsed = z.array(ruleSchema).safeParse(json);
  if (!parsed.success) {
    return {
      problems: parsed.error.issues.map(
        (issue) =>
          `BRIDGE_ROUTES${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${issue.message}`,
      ),
    };
  }
  const problems: string[] = [];
  parsed.data.forEach((rule, i) => {
    if (!(vendors as string[]).includes(rule.vendor)) {
      problems.push(
        `BRIDGE_ROUTES[${i}].vendor: "${rule.vendor}" is not enabled (BRIDGE_VENDORS: ${vendors.join(', ')})`,
      );
    }
    if (Object.keys(rule).length === 1) {
      problems.push(`BRIDGE_ROUTES[${i}]: names no condition (team, context, channel, router or hours)`);
    }
  });
  return problems.length ? { problems } : { config: { vendors, rules: parsed.data }, problems };
}
