import { z } from 'zod';
import type { AnalyticsEventType } from './event';
import type { SinkModule } from './sink';
import { sinkModules } from './sinks';

/**
 * The `ANALYTICS_*` settings. Global keys set the queue, the timeouts and the default privacy options; every sink has
 * `ANALYTICS_<NAME>_ENABLED`, `_EVENTS`, `_OMIT_TEXT`, `_HASH_CUSTOMER_IDS` plus its own keys (URL, key, secret),
 * which are required only when the sink is enabled.
 */

export interface AnalyticsSinkConfig {
  name: string;
  /** The events this sink receives. */
  events: AnalyticsEventType[];
  omitText: boolean;
  hashCustomerIds: boolean;
  /** The sink's own keys, parsed by its module's schema. */
  settings: Record<string, unknown>;
}

export interface AnalyticsConfig {
  /** The enabled sinks only. */
  sinks: AnalyticsSinkConfig[];
  /** Bound of each sink's queue (events). */
  queueMaxEvents: number;
  /** Timeout of one request to a tool (ms). */
  timeoutMs: number;
  /** How long the bridge's stop may spend delivering or storing queued events (ms). */
  flushTimeoutMs: number;
  /** Key of the customer-id hash; set when some enabled sink hashes. */
  hashSalt?: string;
}

const bool = (fallback: boolean) => z.stringbool({ error: 'must be true or false' }).default(fallback);
const optionalBool = () => z.stringbool({ error: 'must be true or false' }).optional();
const positive = (fallback: number) =>
  z.coerce
    .number({ error: 'must be a positive whole number' })
    .int('must be a positive whole number')
    .positive('must be a positive whole number')
    .default(fallback);

const globalSchema = z.object({
  ANALYTICS_OMIT_TEXT: bool(false),
  ANALYTICS_HASH_CUSTOMER_IDS: bool(false),
  ANALYTICS_HASH_SALT: z.string().min(16, 'must be at least 16 characters').optional(),
  ANALYTICS_QUEUE_MAX_EVENTS: positive(10_000),
  ANALYTICS_TIMEOUT_MS: positive(10_000),
  ANALYTICS_FLUSH_TIMEOUT_MS: positive(3_000),
});

const prefixOf = (module: SinkModule) => `ANALYTICS_${module.name.toUpperCase()}_`;

function commonSchema(module: SinkModule) {
  const p = prefixOf(module);
  const allowed = new Set<string>(module.supports);
  return z.object({
    [`${p}ENABLED`]: bool(false),
    [`${p}EVENTS`]: z
      .string()
      .optional()
      .transform((v, ctx) => {
        const names = (v ?? '')
          .split(',')
          .map((n) => n.trim())
          .filter(Boolean);
        if (names.length === 0 || names.includes('all')) return [...module.supports];
        const unknown = names.filter((n) => !allowed.has(n));
        if (unknown.length > 0) {
          ctx.addIssue({
            code: 'custom',
            message: `${module.title} cannot take ${unknown.join(', ')}; choose among ${module.supports.join(', ')} (or all)`,
          });
          return z.NEVER;
        }
        // In the documented order, once each.
        return module.supports.filter((n) => names.includes(n));
      }),
    [`${p}OMIT_TEXT`]: optionalBool(),
    [`${p}HASH_CUSTOMER_IDS`]: optionalBool(),
  });
}

/** Every `ANALYTICS_*` key (for `.env.example` and its test). */
export function analyticsConfigKeys(): string[] {
  const keys = Object.keys(globalSchema.shape);
  for (const module of sinkModules) {
    keys.push(...Object.keys(commonSchema(module).shape), ...Object.keys(module.settingsSchema.shape));
  }
  return keys;
}

export interface ParsedAnalyticsConfig {
  config?: AnalyticsConfig;
  /** `KEY: what is wrong`, values never echoed. */
  problems: string[];
}

/** Parses the `ANALYTICS_*` keys of the (already blank-filtered) environment. */
export function parseAnalyticsConfig(input: Record<string, string>): ParsedAnalyticsConfig {
  const problems: string[] = [];
  const global = globalSchema.safeParse(input);
  if (!global.success) problems.push(...describe(global.error, input));

  const sinks: AnalyticsSinkConfig[] = [];
  for (const module of sinkModules) {
    const p = prefixOf(module);
    const common = commonSchema(module).safeParse(input);
    if (!common.success) problems.push(...describe(common.error, input));
    const enabled = common.success && common.data[`${p}ENABLED`] === true;
    // A disabled sink's keys are still checked for form, so a typo shows before the sink is switched on.
    const settings = (enabled ? module.settingsSchema : module.settingsSchema.partial()).safeParse(input);
    if (!settings.success) {
      problems.push(...describe(settings.error, input, enabled ? ` when ${p}ENABLED=true` : ''));
    }
    if (!enabled || !common.success || !settings.success || !global.success) continue;
    const c = common.data as Record<string, unknown>;
    sinks.push({
      name: module.name,
      events: c[`${p}EVENTS`] as AnalyticsEventType[],
      omitText: (c[`${p}OMIT_TEXT`] as boolean | undefined) ?? global.data.ANALYTICS_OMIT_TEXT,
      hashCustomerIds:
        (c[`${p}HASH_CUSTOMER_IDS`] as boolean | undefined) ?? global.data.ANALYTICS_HASH_CUSTOMER_IDS,
      settings: settings.data as Record<string, unknown>,
    });
  }

  if (global.success && !global.data.ANALYTICS_HASH_SALT) {
    const hashing = sinks.filter((s) => s.hashCustomerIds).map((s) => s.name);
    if (hashing.length > 0) {
      problems.push(
        `ANALYTICS_HASH_SALT: is required when customer ids are hashed (sinks: ${hashing.join(', ')}); ` +
          'a random secret of at least 16 characters, the same on every instance',
      );
    }
  }
  if (problems.length > 0 || !global.success) return { problems };
  const g = global.data;
  return {
    problems,
    config: {
      sinks,
      queueMaxEvents: g.ANALYTICS_QUEUE_MAX_EVENTS,
      timeoutMs: g.ANALYTICS_TIMEOUT_MS,
      flushTimeoutMs: g.ANALYTICS_FLUSH_TIMEOUT_MS,
      ...(g.ANALYTICS_HASH_SALT ? { hashSalt: g.ANALYTICS_HASH_SALT } : {}),
    },
  };
}

function describe(error: z.ZodError, input: Record<string, string>, whenRequired = ''): string[] {
  return error.issues.map((issue) => {
    const key = issue.path.join('.') || '(analytics settings)';
    const missing = !(key in input) && (issue.code === 'invalid_type' || issue.message === 'is required');
    return `${key}: ${missing ? `is required${whenRequired}` : issue.message}`;
  });
}
