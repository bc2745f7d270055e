/**
 * Scenario 4, the vendor's rate limit: the emulator allows `vendorLimit` requests per minute (429 + Retry-After
 * beyond), the bridge is configured with the same limit (ZENDESK_REQUESTS_PER_MINUTE, shared on Redis), and the
 * customers offer `loadFactor` times that many messages per minute. The agent answers each comment it gets.
 */
import { type LoadResult, runLoad } from './load';
import type { RedisProcess } from './processes';
import { type Percentiles, round } from './stats';

export interface RateLimitResult {
  vendorLimit: number;
  offeredPerMinute: number;
  offeredSeconds: number;
  customers: number;
  messages: number;
  /** Vendor calls (all, 429s included) and accepted ones, per minute of the run (the last one may be partial). */
  perMinute: Array<{ minute: number; calls: number; accepted: number; rateLimited: number }>;
  /** Accepted calls per minute while load was offered, and the most accepted in any 60 s window. */
  acceptedPerMinute: number;
  maxAcceptedIn60s: number;
  vendorCalls: number;
  rateLimited: number;
  warmupSeconds: number;
  callsAfterWarmup: number;
  rateLimitedAfterWarmup: number;
  /** Share (%) of the calls after the warm-up answered 429. */
  rateLimitedShareAfterWarmup: number;
  /** Customer messages per comment-carrying call (ticket creations and comments that were accepted). */
  messagesPerCall: number;
  /** Per comment: the customer's messages already waiting (for a second or more) that it did not carry. */
  leftBehindPerComment: number;
  /** Longest time a customer message waited between BLiP and the helpdesk. */
  maxQueueingDelayMs: number;
  toHelpdesk: Percentiles;
  /** Agent replies wait in the customer's lane behind the messages the rate limit holds. */
  toCustomer: Percentiles;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  repliesLost: number;
  run: Omit<LoadResult, 'vendorCalls'> & { vendorCalls: Omit<LoadResult['vendorCalls'], 'timeline'> };
}

export async function runRateLimit(options: {
  redis: RedisProcess;
  vendorLimit: number;
  loadFactor: number;
  seconds: number;
  warmupSeconds: number;
  customers: number;
  textLength: number;
  stallTimeoutMs: number;
  logFile: string;
  profileFile?: string;
  say: (line: string) => void;
}): Promise<RateLimitResult> {
  const rate = (options.vendorLimit * options.loadFactor) / 60;
  const messages = Math.max(1, Math.ceil((rate * options.seconds) / options.customers));
  const run = await runLoad({
    label: 'rate limit',
    sut: 'bridge',
    redis: options.redis,
    customers: options.customers,
    messages,
    rate,
    replies: 'perComment',
    textLength: options.textLength,
    validate: false,
    vendorLimit: options.vendorLimit,
    bridgeRequestsPerMinute: options.vendorLimit,
    warmupCustomers: 0,
    stallTimeoutMs: options.stallTimeoutMs,
    logFile: options.logFile,
    ...(options.profileFile ? { profileFile: options.profileFile } : {}),
    say: options.say,
  });
  const { timeline, ...calls } = run.vendorCalls;
  const offeredSeconds = (options.customers * messages) / rate;
  const perMinute: RateLimitResult['perMinute'] = [];
  for (const call of timeline) {
    const minute = Math.floor(call.atS / 60);
    while (perMinute.length <= minute)
      perMinute.push({ minute: perMinute.length + 1, calls: 0, accepted: 0, rateLimited: 0 });
    const bucket = perMinute[minute]!;
    bucket.calls++;
    if (call.status === 429) bucket.rateLimited++;
    else bucket.accepted++;
  }
  const accepted = timeline.filter((c) => c.status !== 429).map((c) => c.atS);
  let maxAcceptedIn60s = 0;
  for (let i = 0, j = 0; i < accepted.length; i++) {
    while (accepted[i]! - accepted[j]! >= 60) j++;
    maxAcceptedIn60s = Math.max(maxAcceptedIn60s, i - j + 1);
  }
  const acceptedWhileOffered = accepted.filter((at) => at <= offeredSeconds).length;
  const afterWarmup = timeline.filter((c) => c.atS >= options.warmupSeconds);
  const rateLimitedAfterWarmup = afterWarmup.filter((c) => c.status === 429).length;
  const carrying = timeline.filter(
    (c) => (c.kind === 'POST tickets' || c.kind === 'PUT tickets') && c.status >= 200 && c.status < 300,
  ).length;
  return {
    vendorLimit: options.vendorLimit,
    offeredPerMinute: round(rate * 60, 0),
    offeredSeconds: round(offeredSeconds, 1),
    customers: options.customers,
    messages: run.sent,
    perMinute,
    acceptedPerMinute: round((acceptedWhileOffered / offeredSeconds) * 60, 0),
    maxAcceptedIn60s,
    vendorCalls: calls.total,
    rateLimited: calls.rateLimited,
    warmupSeconds: options.warmupSeconds,
    callsAfterWarmup: afterWarmup.length,
    rateLimitedAfterWarmup,
    rateLimitedShareAfterWarmup: round((rateLimitedAfterWarmup / Math.max(1, afterWarmup.length)) * 100, 2),
    messagesPerCall: round(run.arrived / Math.max(1, carrying), 2),
    leftBehindPerComment: run.leftBehindPerComment,
    maxQueueingDelayMs: run.toHelpdesk.maxMs,
    toHelpdesk: run.toHelpdesk,
    toCustomer: run.toCustomer,
    lost: run.sent - run.arrived,
    duplicates: run.duplicates,
    outOfOrder: run.outOfOrder,
    repliesLost: run.repliesSent - run.repliesArrived,
    run: { ...run, vendorCalls: calls },
  };
}
