import { z } from 'zod';
import { parseTextKey } from './crypto';

/**
 * The session reports' settings (`REPORTS_*`), plus `DATABASE_URL` and `ADMIN_TOKEN`, which src/config.ts also
 * reads. Kept here so the reports CLI can load them without the bridge's BLiP and vendor keys.
 */

const flag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'], { error: 'must be true or false' })
    .default(fallback ? 'true' : 'false')
    .transform((v) => ['true', '1', 'yes', 'on'].includes(v));

export const databaseUrlSchema = z
  .string()
  .refine((v) => {
    try {
      return ['postgres:', 'postgresql:'].includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, 'must be a URL starting with postgres:// or postgresql://')
  .optional();

export const adminTokenSchema = z
  .string()
  .min(24, 'must be at least 24 characters (e.g. openssl rand -base64 32)')
  .optional();

export const reportsConfigShape = {
  REPORTS_ENABLED: flag(true),
  REPORTS_SQLITE_PATH: z.string().default('data/reports.sqlite'),
  REPORTS_RETENTION_DAYS: z.coerce
    .number({ error: 'must be a whole number of days' })
    .int('must be a whole number of days')
    .positive('must be a positive whole number of days')
    .default(1826),
  REPORTS_STORE_TEXT: flag(false),
  REPORTS_TEXT_KEY: z
    .string()
    .transform((v, ctx) => {
      try {
        return parseTextKey(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    })
    .optional(),
  REPORTS_TIMEZONE: z
    .string()
    .default('UTC')
    .refine(isTimeZone, 'must be an IANA time zone such as America/Sao_Paulo or UTC'),
  REPORTS_TEAM_TAG_PREFIX: z.string().default('team_'),
};

type ReportsInput = z.infer<z.ZodObject<typeof reportsConfigShape>>;

export interface ReportsConfig {
  enabled: boolean;
  /** PostgreSQL when set; otherwise the SQLite file. */
  databaseUrl?: string;
  sqlitePath: string;
  retentionDays: number;
  /** Keep the talk log's text and media links (encrypted with `textKey`). */
  storeText: boolean;
  /** AES-256-GCM key; required by `storeText`, and enough to read text stored earlier. */
  textKey?: Buffer;
  /** Days of the aggregates and the page, and date-only range bounds, are in this zone. */
  timezone: string;
  teamTagPrefix: string;
}

export function reportsConfigFrom(c: ReportsInput, databaseUrl: string | undefined): ReportsConfig {
  return {
    enabled: c.REPORTS_ENABLED,
    databaseUrl,
    sqlitePath: c.REPORTS_SQLITE_PATH,
    retentionDays: c.REPORTS_RETENTION_DAYS,
    storeText: c.REPORTS_STORE_TEXT,
    textKey: c.REPORTS_TEXT_KEY,
    timezone: c.REPORTS_TIMEZONE,
    teamTagPrefix: c.REPORTS_TEAM_TAG_PREFIX,
  };
}

/** Problems that involve several keys (each key alone was valid). */
export function reportsConfigProblems(c: ReportsInput): string[] {
  return c.REPORTS_STORE_TEXT && !c.REPORTS_TEXT_KEY
    ? ['REPORTS_TEXT_KEY: is required when REPORTS_STORE_TEXT is true (openssl rand -base64 32)']
    : [];
}

const cliSchema = z.object({ ...reportsConfigShape, DATABASE_URL: databaseUrlSchema });

/** The reports' settings alone, for the CLI. Throws an Error listing every bad key (values never echoed). */
export function loadReportsConfig(env: NodeJS.ProcessEnv): ReportsConfig {
  const input: Record<string, string> = {};
  for (const [key, value] of Object.entries(env))
    if (value !== undefined && value.trim() !== '') input[key] = value;
  const parsed = cliSchema.safeParse(input);
  const problems = parsed.success
    ? reportsConfigProblems(parsed.data)
    : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  if (!parsed.success || problems.length)
    throw new Error(`Invalid reports configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return reportsConfigFrom(parsed.data, parsed.data.DATABASE_URL);
}

export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
