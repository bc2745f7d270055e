import { z } from 'zod';
import { adapterModules, type VendorName } from './adapters/registry';
import { type AnalyticsConfig, analyticsConfigKeys, parseAnalyticsConfig } from './analytics/config';
import {
  adminTokenSchema,
  databaseUrlSchema,
  reportsConfigFrom,
  reportsConfigProblems,
  reportsConfigShape,
  type ReportsConfig,
} from './reports/config';
import type { LifecycleOptions } from './core/handoff/lifecycle';
import {
  lifecycleConfigFrom,
  lifecycleConfigProblems,
  lifecycleConfigShape,
  lifecycleEmptyIsMeaningful,
} from './lifecycle-config';
import { handoffConfigFrom, handoffConfigShape, type HandoffConfig } from './handoff-config';
import { liveChatConfigFrom, liveChatConfigShape, type LiveChatConfig } from './live-chat-config';
import { routingConfigFrom, routingConfigShape, type RoutingConfig } from './routing-config';
import { localizedTextsFrom, textsConfigShape } from './texts-config';
import { surveyConfigFrom, surveyConfigShape } from './survey-config';
import type { SurveyOptions } from './core/handoff/survey';
import type { LocalizedTexts } from './core/texts';
import type { Locale } from './texts';
import { trustProxySetting, type TrustProxy } from './http/trust-proxy';
import { accessKey, flag, optionalUrl, port, portNumber, positive, whole, zeroOrMore } from './config-fields';

export { accessKeyProblem } from './config-fields';

/**
 * Every setting of the bridge, from the environment. `.env.example` documents each key;
 * a test keeps the two in step. Vendor keys (`ZENDESK_*`, …) come from each adapter's own schema.
 */

export const baseConfigSchema = z.object({
  BLIP_IDENTIFIER: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]*$/i, 'must be the bot identifier (the part before @)'),
  BLIP_ACCESS_KEY: accessKey,
  BLIP_DOMAIN: z.string().default('msging.net'),
  BLIP_HOST: z.string().default('ws.msging.net'),
  BLIP_PORT: port(443),
  BLIP_SCHEME: z.enum(['wss', 'ws']).default('wss'),
  BLIP_INSTANCE: z.string().default('default'),
  BLIP_COMMAND_TIMEOUT_MS: positive(6_000),
  BLIP_HANDSHAKE_TIMEOUT_MS: positive(5_000),
  BLIP_STARTUP_RETRY_SECONDS: zeroOrMore(30, 'seconds (0 = one attempt)'),
  BLIP_SEND_CONFIRM_TIMEOUT_MS: zeroOrMore(1_000, 'milliseconds (0 = do not wait)'),
  BLIP_MAX_FRAME_BYTES: whole('a whole number of bytes')
    .min(65_536, 'must be at least 65536 (64 KiB)')
    .default(8_388_608),
  BLIP_ACCEPT_DIRECT: flag(false),
  BLIP_ROUTERS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((r) => r.trim().toLowerCase())
        .filter(Boolean),
    )
    .refine(
      (list) => list.every((r) => /^[^@\s/]+@[^@\s/]+$/.test(r)),
      'must be router identities (name@domain), comma-separated',
    ),
  BLIP_MAIN_SERVICE: z.string().optional(),

  ...routingConfigShape,
  ...textsConfigShape,
  BRIDGE_CLOSING_MESSAGE: z.string().optional(),
  BRIDGE_TICKET_TAGS: z
    .string()
    .default('blip_bridge')
    .transform((v) =>
      v
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
    ),
  BRIDGE_DEDUPE_TTL_HOURS: z.coerce
    .number({ error: 'must be a number of hours' })
    .positive('must be a positive number of hours')
    .default(168),
  BRIDGE_WEBHOOK_MAX_SKEW_SECONDS: positive(300),
  BRIDGE_POLL_INTERVAL_SECONDS: positive(15),
  BRIDGE_MAX_MESSAGE_LENGTH: positive(4096),
  BRIDGE_AGENT_SIGNATURE: z
    .string()
    .refine((v) => v.includes('{text}'), 'must contain {text} (e.g. *{agent}*: {text})')
    .optional(),
  BRIDGE_MEDIA_MAX_BYTES: positive(26_214_400),
  BRIDGE_MEDIA_TIMEOUT_MS: positive(20_000),
  BRIDGE_MEDIA_ALLOWED_HOSTS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter(Boolean),
    ),
  BRIDGE_PUBLIC_URL: optionalUrl(['http:', 'https:']),
  BRIDGE_MEDIA_LINK_TTL_HOURS: z.coerce
    .number({ error: 'must be a number of hours' })
    .positive('must be a positive number of hours')
    .default(24),
  BRIDGE_MEDIA_URL_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  BRIDGE_FILE_NOT_DELIVERED_MESSAGE: z.string().optional(),

  HTTP_HOST: z.string().default('0.0.0.0'),
  // HTTP_PORT, else PORT (what container platforms set), else 3000.
  HTTP_PORT: portNumber().optional(),
  PORT: portNumber().optional(),
  // GET /metrics: on its own port (not on the main one) when METRICS_PORT is set; behind a bearer token when
  // METRICS_TOKEN is set; open on the main port when neither is (the default, as before).
  METRICS_PORT: portNumber().optional(),
  METRICS_TOKEN: adminTokenSchema,
  HTTP_BODY_LIMIT_BYTES: positive(1_048_576),
  HTTP_DRAIN_DELAY_MS: zeroOrMore(0, 'milliseconds'),
  HTTP_TRUST_PROXY: trustProxySetting,

  REDIS_URL: optionalUrl(['redis:', 'rediss:']),
  DATABASE_URL: databaseUrlSchema,
  ADMIN_TOKEN: adminTokenSchema,
  ...reportsConfigShape,
  ...lifecycleConfigShape,
  ...handoffConfigShape,
  ...surveyConfigShape,
  ...liveChatConfigShape,
  WORK_CONCURRENCY: positive(64),
  WORK_MAX_ATTEMPTS: positive(12),
  WORK_RETRY_MAX_SECONDS: positive(60),
  WORK_COALESCE_MAX: positive(20),

  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
});

export interface Config {
  blip: {
    identifier: string;
    accessKey: string;
    domain: string;
    host: string;
    port: number;
    scheme: 'wss' | 'ws';
    instance: string;
    commandTimeoutMs: number;
    /** On a session that acknowledges messages, how long one waits for its acknowledgement (0 = do not wait). */
    sendConfirmTimeoutMs: number;
    /** WebSocket connection plus LIME session handshake, up to `established`. */
    handshakeTimeoutMs: number;
    /** How long the first connection is tried again while BLiP cannot be reached (0 = once). */
    startupRetryMs: number;
    /** The largest LIME envelope taken from BLiP, in bytes. */
    maxFrameBytes: number;
    /** Senders that are not tunnels of the router(s): refused unless true. */
    acceptDirect: boolean;
    /** Routers whose tunnels may reach the helpdesk (`#tunnel.owner`); empty = any router's. */
    routers: string[];
    /** Router service the Redirect sends the customer to; undefined = the router's default bot. */
    mainService?: string;
  };
  bridge: {
    locale: Locale;
    closingText?: string;
    ticketTags: string[];
    dedupeTtlMs: number;
    webhookMaxSkewSeconds: number;
    /** For vendors that are polled: how often. */
    pollIntervalMs: number;
    /** Longer agent texts are split into several LIME messages. */
    maxMessageLength: number;
    /** Template for agent texts, e.g. `*{agent}*: {text}`; undefined sends the text as it is. */
    agentSignature?: string;
    /** What the customer reads instead of an agent's file that could not be delivered; `{file}` = its name. */
    fileNotDeliveredText?: string;
  };
  /** The customer-facing texts of every locale as configured, and the locale choice (src/texts-config.ts). */
  texts: LocalizedTexts;
  /** Customer files: downloaded on arrival, uploaded to the helpdesk when the adapter can. */
  media: {
    maxBytes: number;
    timeoutMs: number;
    /** Hosts media may be downloaded from even on loopback/private addresses (sandbox, internal stores). */
    allowedHosts: string[];
    /** Where customers reach the bridge (`GET /media/<token>`); undefined: agents' links are passed through. */
    publicUrl?: string;
    /** How long a re-hosted agent file (its link and its bytes) lives. */
    linkTtlMs: number;
    /** Key material for the links' signatures (BRIDGE_MEDIA_URL_SECRET, else the BLiP access key). */
    urlSecret: string;
  };
  /** `trustProxy`: whose X-Forwarded-For is believed for the logged client address (none by default). */
  http: { host: string; port: number; bodyLimitBytes: number; drainDelayMs: number; trustProxy: TrustProxy };
  /** GET /metrics: its own port (then not on the main one) and/or a bearer token; neither = open on the main port. */
  metrics: { port?: number; token?: string };
  redisUrl?: string;
  /** PostgreSQL (session reports); undefined = the reports use their SQLite file. */
  databaseUrl?: string;
  /** Bearer token of the admin routes (`/reports`); undefined = those routes are off. */
  adminToken?: string;
  /** Attendance session reports (src/reports). */
  reports: ReportsConfig;
  /** Waiting/assignment texts, end keywords, timers, attendance hours (issue 6). */
  lifecycle: LifecycleOptions;
  /** The satisfaction survey after the close (`BRIDGE_SURVEY`, src/survey-config.ts). */
  survey: SurveyOptions;
  /** What new tickets open with (transcript, contact, subject, team, priority) and the reopen policy (issue 6). */
  handoff: HandoffConfig & { timeZone: string };
  /** Read state and the bot conversation (BRIDGE_READ_RECEIPTS, BLIP_HISTORY_KEY). */
  liveChat: LiveChatConfig;
  /** The durable work queue: how work is run and retried, and the vendor's rate limit. */
  work: {
    concurrency: number;
    maxAttempts: number;
    retryMaxMs: number;
    coalesceMax: number;
  };
  /** The analytics hub (src/analytics): its enabled sinks, queues and privacy options (`ANALYTICS_*`). */
  analytics: AnalyticsConfig;
  log: { level: 'error' | 'warn' | 'info' | 'debug'; format: 'json' | 'pretty' };
  /** The default helpdesk (the first of `vendors`). */
  vendor: VendorConfig;
  /** Every enabled helpdesk, the default first (`BRIDGE_VENDORS`), each with its own `<VENDOR>_*` settings. */
  vendors: VendorConfig[];
  /** Which helpdesk a new handoff goes to (`BRIDGE_ROUTES`). */
  routing: RoutingConfig;
}

export interface VendorConfig {
  name: VendorName;
  settings: Record<string, unknown>;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}; every key is described in .env.example):\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

/** Keys whose empty value means something ("send nothing"); for all others an empty value counts as unset. */
const EMPTY_IS_MEANINGFUL = new Set([
  'BRIDGE_CLOSING_MESSAGE',
  'BLIP_MAIN_SERVICE',
  ...lifecycleEmptyIsMeaningful,
]);

/** Parses the environment; throws ConfigError listing every bad key (values are never echoed). */
export function loadConfig(env: NodeJS.ProcessEnv, isTty = false): Config {
  const input: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (value.trim() === '' && !EMPTY_IS_MEANINGFUL.has(key)) continue;
    input[key] = value;
  }

  const problems: string[] = [];
  const base = baseConfigSchema.safeParse(input);
  if (!base.success) problems.push(...describe(base.error, input));

  const routing = base.success ? routingConfigFrom(base.data) : undefined;
  problems.push(...(routing?.problems ?? []));
  // Each enabled vendor's own keys (`<VENDOR>_*`); before the base parsed, the default vendor's.
  const names = routing?.config?.vendors ?? [
    ((input.BRIDGE_VENDOR ?? 'zendesk') in adapterModules
      ? (input.BRIDGE_VENDOR ?? 'zendesk')
      : 'zendesk') as VendorName,
  ];
  const vendors: VendorConfig[] = [];
  for (const name of names) {
    const parsed = adapterModules[name].configSchema.safeParse(input);
    if (parsed.success) vendors.push({ name, settings: parsed.data as Record<string, unknown> });
    else problems.push(...describe(parsed.error, input));
  }
  const analytics = parseAnalyticsConfig(input);
  problems.push(...analytics.problems);

  if (base.success) problems.push(...reportsConfigProblems(base.data));
  if (base.success) problems.push(...lifecycleConfigProblems(base.data));
  if (!base.success || !routing?.config || problems.length)
    throw new ConfigError([...new Set(problems)].sort());
  if (!analytics.config) throw new ConfigError(problems.sort());
  const c = base.data;
  const texts = localizedTextsFrom(c);
  const t = texts.byLocale[c.BRIDGE_LOCALE] ?? {};
  return {
    blip: {
      identifier: c.BLIP_IDENTIFIER,
      accessKey: c.BLIP_ACCESS_KEY,
      domain: c.BLIP_DOMAIN,
      host: c.BLIP_HOST,
      port: c.BLIP_PORT,
      scheme: c.BLIP_SCHEME,
      instance: c.BLIP_INSTANCE,
      commandTimeoutMs: c.BLIP_COMMAND_TIMEOUT_MS,
      sendConfirmTimeoutMs: c.BLIP_SEND_CONFIRM_TIMEOUT_MS,
      handshakeTimeoutMs: c.BLIP_HANDSHAKE_TIMEOUT_MS,
      startupRetryMs: c.BLIP_STARTUP_RETRY_SECONDS * 1000,
      maxFrameBytes: c.BLIP_MAX_FRAME_BYTES,
      acceptDirect: c.BLIP_ACCEPT_DIRECT,
      routers: c.BLIP_ROUTERS,
      mainService: c.BLIP_MAIN_SERVICE?.trim() || undefined,
    },
    bridge: {
      locale: c.BRIDGE_LOCALE,
      closingText: t.closing,
      ticketTags: c.BRIDGE_TICKET_TAGS,
      dedupeTtlMs: c.BRIDGE_DEDUPE_TTL_HOURS * 3_600_000,
      webhookMaxSkewSeconds: c.BRIDGE_WEBHOOK_MAX_SKEW_SECONDS,
      pollIntervalMs: c.BRIDGE_POLL_INTERVAL_SECONDS * 1000,
      maxMessageLength: c.BRIDGE_MAX_MESSAGE_LENGTH,
      agentSignature: c.BRIDGE_AGENT_SIGNATURE,
      fileNotDeliveredText: t.fileNotDelivered,
    },
    media: {
      maxBytes: c.BRIDGE_MEDIA_MAX_BYTES,
      timeoutMs: c.BRIDGE_MEDIA_TIMEOUT_MS,
      allowedHosts: c.BRIDGE_MEDIA_ALLOWED_HOSTS,
      publicUrl: c.BRIDGE_PUBLIC_URL?.replace(/\/+$/, ''),
      linkTtlMs: c.BRIDGE_MEDIA_LINK_TTL_HOURS * 3_600_000,
      urlSecret: c.BRIDGE_MEDIA_URL_SECRET ?? c.BLIP_ACCESS_KEY,
    },
    http: {
      host: c.HTTP_HOST,
      port: c.HTTP_PORT ?? c.PORT ?? 3000,
      bodyLimitBytes: c.HTTP_BODY_LIMIT_BYTES,
      drainDelayMs: c.HTTP_DRAIN_DELAY_MS,
      trustProxy: c.HTTP_TRUST_PROXY,
    },
    metrics: { port: c.METRICS_PORT, token: c.METRICS_TOKEN },
    redisUrl: c.REDIS_URL,
    databaseUrl: c.DATABASE_URL,
    adminToken: c.ADMIN_TOKEN,
    reports: reportsConfigFrom(c, c.DATABASE_URL),
    lifecycle: lifecycleConfigFrom(c, t),
    survey: surveyConfigFrom(c),
    texts,
    handoff: { ...handoffConfigFrom(c), timeZone: c.BRIDGE_TIMEZONE },
    liveChat: liveChatConfigFrom(c),
    work: {
      concurrency: c.WORK_CONCURRENCY,
      maxAttempts: c.WORK_MAX_ATTEMPTS,
      retryMaxMs: c.WORK_RETRY_MAX_SECONDS * 1000,
      coalesceMax: c.WORK_COALESCE_MAX,
    },
    analytics: analytics.config,
    log: {
      level: c.LOG_LEVEL,
      format: c.LOG_FORMAT ?? (isTty && env.NODE_ENV !== 'production' ? 'pretty' : 'json'),
    },
    vendor: vendors[0]!,
    vendors,
    routing: routing.config,
  };
}

/** Every environment key the bridge reads, base and vendors (for `.env.example` and its test). */
export function allConfigKeys(): string[] {
  const keys = new Set(Object.keys(baseConfigSchema.shape));
  for (const module of Object.values(adapterModules)) {
    for (const key of Object.keys(module.configSchema.shape)) keys.add(key);
  }
  for (const key of analyticsConfigKeys()) keys.add(key);
  return [...keys];
}

function describe(error: z.ZodError, input: Record<string, string>): string[] {
  return error.issues.map((issue) => {
    const key = issue.path.join('.') || '(settings)';
    const missing = issue.code === 'invalid_type' && !(key in input);
    return `${key}: ${missing ? 'is required' : issue.message}`;
  });
}
