/**
 * What `npm run bench` runs. The default is the quick run (a few minutes on a 2-core machine); `--full` gives the
 * sizes the targets are judged at (1,000 customers × 10 messages, 3 rounds, a two-minute rate-limit run). Every option is a flag
 * (`--customers 500`) or an environment variable (`BENCH_CUSTOMERS=500`); flags win.
 */

export type Scenario = 'throughput' | 'idle' | 'ratelimit';

export interface BenchOptions {
  full: boolean;
  scenarios: Scenario[];
  /**
   * Scenario 1/2: how many times the throughput runs are repeated; the report keeps each system's median round.
   * Absent in results written before it (one round).
   */
  rounds: number;
  /**
   * Scenario 1/2: after each round's run on Redis, this many customers send a message and get a reply each alone in
   * the bridge, their Redis round trips traced (0: no probe). Absent in results written before it.
   */
  probeCustomers?: number;
  /** Scenario 5 (scale-out): bridge processes sharing one Redis in each round (0 or 1: not run). */
  scaleOut?: number;
  /** Scenario 1/2: customers, and messages each sends. */
  customers: number;
  messages: number;
  /** Characters per message text. */
  textLength: number;
  /** Half-load runs: seconds between a customer's messages (conversations start one after another). */
  gapSeconds: number;
  /** Customers that warm each process up before it is measured. */
  warmupCustomers: number;
  /** Scenario 3: open conversations written into Redis, one bridge start per size. */
  idleSizes: number[];
  /** Scenario 3: customers (× 3 messages, with replies) that talk through the bridge at each size. */
  idleTouchCustomers: number;
  /** Scenario 4: how long the customers offer load, the limit the emulator enforces, the offered multiple. */
  rateLimitSeconds: number;
  /** Scenario 4: calls per minute the emulator allows (429 beyond) and the bridge is configured with. */
  vendorLimit: number;
  loadFactor: number;
  rateLimitCustomers: number;
  /** Scenario 4: 429s are counted from this many seconds on ("after the first minute"). */
  rateLimitWarmupSeconds: number;
  /** Keep the emulator's OpenAPI request validation on (off by default: it is the sandbox's cost, not the bridge's). */
  validate: boolean;
  /** Redis with an append-only file fsynced every second (production), or no persistence. */
  aof: boolean;
  /** Write a CPU profile of each measured run of round 1 (and its summary) next to the results. */
  profile: boolean;
  /** Give up on a run after this long without any message arriving. */
  stallSeconds: number;
  /** Where results go. */
  outDir: string;
  /** Rewrite the figures of README.md's Performance section with the results (`--readme`; off by default). */
  writeReadme: boolean;
  /** What the machine was doing besides (printed with the results), e.g. "shared with other test runs". */
  note?: string;
  /** Only render the outputs (markdown, SVG, README) again from this results file; nothing is run. */
  render?: string;
}

const quick: Omit<BenchOptions, 'full' | 'scenarios' | 'outDir' | 'writeReadme' | 'note'> = {
  rounds: 1,
  probeCustomers: 11,
  scaleOut: 2,
  customers: 200,
  messages: 5,
  textLength: 80,
  gapSeconds: 2,
  warmupCustomers: 50,
  idleSizes: [0, 10_000, 100_000],
  idleTouchCustomers: 100,
  rateLimitSeconds: 60,
  vendorLimit: 700,
  loadFactor: 3,
  rateLimitCustomers: 200,
  rateLimitWarmupSeconds: 30,
  validate: false,
  aof: true,
  profile: false,
  stallSeconds: 60,
};

const fullSizes: Partial<BenchOptions> = {
  // On a 2-core machine one run's throughput and p99 vary by up to ±25%: one run would pass or fail by luck.
  rounds: 3,
  customers: 1_000,
  messages: 10,
  warmupCustomers: 100,
  rateLimitSeconds: 120,
  rateLimitWarmupSeconds: 60,
  idleTouchCustomers: 200,
};

const HELP = `npm run bench [-- options]

  --full                    1000 customers x 10 messages, 2-minute rate-limit run, 3 rounds
  --scenarios LIST          throughput,idle,ratelimit (default: all three; throughput includes the raw relay)
  --rounds N                throughput: run the raw relay and the bridge N times over and report each one's
                            median round (quick 1, full 3)
  --customers N             customers in the throughput runs (quick 200, full 1000)
  --probe-customers N       after each run on Redis, N messages and N replies each alone in the bridge, their
                            Redis round trips traced (11; 0: none)
  --scale-out N             bridge processes on one Redis in the scale-out run of each round (2; 0: none)
  --messages M              messages per customer (quick 5, full 10)
  --text-length N           characters per message (80)
  --gap S                   half-load runs: seconds between a customer's messages (2); a new conversation
                            starts every messages/rate seconds
  --idle-sizes LIST         open conversations in Redis for the idle runs (0,10000,100000)
  --rate-limit-seconds S    how long load is offered against the vendor limit (quick 60, full 120)
  --rate-limit-warmup S     429s count from this second on (quick 30, full 60)
  --vendor-limit N          requests per minute the emulator allows (700)
  --load-factor X           offered load as a multiple of the limit (3)
  --validate                keep the emulator's OpenAPI request validation on
  --no-aof                  Redis without the append-only file
  --profile                 CPU profile of each measured run (round 1 only), summarised in the results
  --readme                  also rewrite the figures in README.md's Performance section (all scenarios)
  --note TEXT               a note on the machine's conditions, printed with the results
  --out DIR                 results directory (bench/results)
  --render FILE             only write latest.md, latest.svg and the README section again from a results JSON

Every option is also an environment variable: BENCH_CUSTOMERS=500, BENCH_FULL=1, BENCH_NOTE=...`;

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${HELP}\n`);
      process.exit(0);
    }
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg} (see --help)`);
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    const boolean = ['full', 'validate', 'no-aof', 'profile', 'readme'].includes(name);
    const value = inline ?? (boolean ? '1' : argv[++i]);
    if (value === undefined) throw new Error(`--${name} needs a value`);
    flags.set(name, value);
  }
  const get = (name: string): string | undefined =>
    flags.get(name) ?? env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`];
  const truthy = (name: string): boolean => ['1', 'true', 'yes'].includes((get(name) ?? '').toLowerCase());
  const full = truthy('full');
  const base = { ...quick, ...(full ? fullSizes : {}) };
  const num = (name: string, fallback: number): number => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a number, got ${raw}`);
    return value;
  };
  const scenarios = (get('scenarios') ?? 'throughput,idle,ratelimit')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean) as Scenario[];
  for (const s of scenarios) {
    if (!['throughput', 'idle', 'ratelimit'].includes(s)) throw new Error(`unknown scenario ${s}`);
  }
  const rounds = num('rounds', base.rounds);
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error(`--rounds must be a whole number ≥ 1, got ${rounds}`);
  return {
    full,
    scenarios,
    rounds,
    probeCustomers: num('probe-customers', base.probeCustomers ?? 0),
    scaleOut: num('scale-out', base.scaleOut ?? 0),
    customers: num('customers', base.customers),
    messages: num('messages', base.messages),
    textLength: num('text-length', base.textLength),
    gapSeconds: num('gap', base.gapSeconds),
    warmupCustomers: num('warmup-customers', base.warmupCustomers),
    idleSizes: (get('idle-sizes') ?? base.idleSizes.join(',')).split(',').map(Number),
    idleTouchCustomers: num('idle-touch-customers', base.idleTouchCustomers),
    rateLimitSeconds: num('rate-limit-seconds', base.rateLimitSeconds),
    vendorLimit: num('vendor-limit', base.vendorLimit),
    loadFactor: num('load-factor', base.loadFactor),
    rateLimitCustomers: num('rate-limit-customers', base.rateLimitCustomers),
    rateLimitWarmupSeconds: num('rate-limit-warmup', base.rateLimitWarmupSeconds),
    validate: truthy('validate'),
    aof: !truthy('no-aof'),
    profile: truthy('profile'),
    stallSeconds: num('stall-seconds', base.stallSeconds),
    outDir: get('out') ?? 'bench/results',
    writeReadme: truthy('readme'),
    ...(get('note') ? { note: get('note') } : {}),
    ...(get('render') ? { render: get('render') } : {}),
  };
}
