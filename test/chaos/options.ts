/**
 * What a chaos run does: the load, the faults, the bridge's settings. Every option is a flag (`--customers 300`)
 * or an environment variable (`CHAOS_CUSTOMERS=300`); flags win.
 */

export interface ChaosOptions {
  /** Customers talking at once. */
  customers: number;
  /** Messages each customer sends, one after the other (each waits for the bot's `received`: recorded). */
  messages: number;
  /** Agent replies per customer, through signed webhooks. */
  replies: number;
  /** Bridge processes (`node --import tsx src/main.ts`) sharing one Redis. */
  processes: number;
  /** `kill -9` of a bridge process (restarted after `restartAfterMs`). */
  kills: number;
  /** Vendor 5xx storms (every API call answers 503 for `stormMs`). */
  storms: number;
  /** Vendor 429 bursts (every API call answers 429 + Retry-After for `burstMs`). */
  bursts: number;
  /** Vendor timeouts: each injects `timeoutCalls` slow calls (half done-but-answered-late, half dropped). */
  timeouts: number;
  /** Redis crashes (kill -9, then started again on the same port and AOF directory). */
  redisRestarts: number;
  /** BLiP WebSocket drops (the LIME server terminates every bot connection). */
  wsDrops: number;
  /** Seconds over which the customers' messages (and the faults) are spread. */
  durationSeconds: number;
  /** After the load: how long to wait for every message, reply and Redirect to arrive. */
  settleSeconds: number;
  stormMs: number;
  burstMs: number;
  timeoutCalls: number;
  /**
   * What a timed-out call did at the vendor: `late` (done, answered after the client gave up), `hang` (never done,
   * connection dropped), or `mixed` (half each).
   */
  timeoutMode: 'mixed' | 'late' | 'hang';
  restartAfterMs: number;
  redisDownMs: number;
  /** The customer re-sends a message the bot did not acknowledge (`received`) within this time. */
  consumedTimeoutMs: number;
  /** The bridge's vendor limit (ZENDESK_REQUESTS_PER_MINUTE), shared through Redis. */
  requestsPerMinute: number;
  /** The bridge's ZENDESK_TIMEOUT_MS (slow calls last this + 1 s). */
  vendorTimeoutMs: number;
  /** WORK_RETRY_MAX_SECONDS: short, so a run does not wait minutes for backoffs. */
  retryMaxSeconds: number;
  /** WORK_MAX_ATTEMPTS. */
  maxAttempts: number;
  /** Count a message the bridge sent twice under the same LIME id as a duplicate (see docs/reliability.md). */
  strictIds: boolean;
  /** Random seed for the pacing and the fault schedule. */
  seed: number;
  /** Where the logs go (a directory per run is made inside). */
  outputDir: string;
  /** Rewrite the "Latest run" section of docs/reliability.md. */
  writeDoc: boolean;
  /** Progress lines on stderr. */
  verbose: boolean;
  /** The bridges' LOG_LEVEL (`debug` to trace one message through the logs). */
  logLevel: string;
  /**
   * Validate the bridges' API calls against Zendesk's OpenAPI file (the contract tests do that already; under a big
   * load the validator makes this process the bottleneck, and its lag blurs the timing of the traced calls).
   */
  validate: boolean;
}

export const defaultChaosOptions: ChaosOptions = {
  customers: 300,
  messages: 10,
  replies: 5,
  processes: 2,
  kills: 4,
  storms: 1,
  bursts: 1,
  timeouts: 1,
  redisRestarts: 1,
  wsDrops: 1,
  durationSeconds: 60,
  settleSeconds: 180,
  stormMs: 5_000,
  burstMs: 3_000,
  timeoutCalls: 10,
  timeoutMode: 'mixed',
  restartAfterMs: 1_500,
  redisDownMs: 2_000,
  consumedTimeoutMs: 8_000,
  requestsPerMinute: 3_000,
  vendorTimeoutMs: 10_000,
  retryMaxSeconds: 3,
  maxAttempts: 8,
  strictIds: false,
  seed: 1,
  outputDir: 'test-output/chaos',
  writeDoc: true,
  verbose: true,
  logLevel: 'warn',
  validate: false,
};

/** `--customers` ⇄ `customers` ⇄ `CHAOS_CUSTOMERS`. */
function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function envName(key: string): string {
  return `CHAOS_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

export const CHAOS_USAGE = `Usage: npm run test:chaos -- [--flag value]...

${(Object.keys(defaultChaosOptions) as Array<keyof ChaosOptions>)
  .map(
    (k) => `  --${flagName(k).padEnd(22)} ${envName(k).padEnd(28)} default ${String(defaultChaosOptions[k])}`,
  )
  .join('\n')}

Boolean flags also take --no-<flag>. --duration and --settle are short for --duration-seconds, --settle-seconds. Exit status: 0 when nothing was lost, duplicated or reordered; 1 otherwise.`;

/** Short names for the flags used most. */
const ALIASES: Record<string, string> = { duration: 'duration-seconds', settle: 'settle-seconds' };

/** Options from the environment, then the command line. Throws on an unknown flag or a bad value. */
export function parseChaosOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): ChaosOptions {
  const options: ChaosOptions = { ...defaultChaosOptions };
  const keys = Object.keys(defaultChaosOptions) as Array<keyof ChaosOptions>;
  const set = (key: keyof ChaosOptions, raw: string, from: string): void => {
    const fallback = defaultChaosOptions[key];
    if (typeof fallback === 'boolean') {
      if (!['true', 'false', '1', '0'].includes(raw)) throw new Error(`${from} must be true or false`);
      (options as unknown as Record<string, unknown>)[key] = raw === 'true' || raw === '1';
    } else if (typeof fallback === 'number') {
      const n = Number(raw);
      if (!Number.isFinite(n) || n < 0) throw new Error(`${from} must be a number >= 0, not "${raw}"`);
      (options as unknown as Record<string, unknown>)[key] = n;
    } else {
      (options as unknown as Record<string, unknown>)[key] = raw;
    }
  };
  for (const key of keys) {
    const value = env[envName(key)];
    if (value !== undefined && value !== '') set(key, value, envName(key));
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const negated = arg.startsWith('--no-');
    const given = arg.replace(/^--(no-)?/, '').split('=')[0]!;
    const name = ALIASES[given] ?? given;
    const key = keys.find((k) => flagName(k) === name);
    if (!arg.startsWith('--') || !key) throw new Error(`unknown option "${arg}"\n\n${CHAOS_USAGE}`);
    if (typeof defaultChaosOptions[key] === 'boolean') {
      set(key, negated ? 'false' : (arg.split('=')[1] ?? 'true'), arg);
      continue;
    }
    const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
    if (value === undefined) throw new Error(`${arg} needs a value`);
    set(key, value, arg);
  }
  if (options.customers < 1 || options.messages < 1) throw new Error('at least one customer and one message');
  if (options.processes < 1) throw new Error('at least one bridge process');
  if (!['mixed', 'late', 'hang'].includes(options.timeoutMode)) {
    throw new Error('--timeout-mode must be mixed, late or hang');
  }
  return options;
}
