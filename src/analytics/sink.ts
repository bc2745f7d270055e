import type { z } from 'zod';
import type { Logger } from '../core/logger';
import type { AnalyticsEvent, AnalyticsEventType } from './event';

/** What the hub gives a sink when it creates it. */
export interface SinkContext {
  logger: Logger;
  /** Timeout of one HTTP request (ms). */
  timeoutMs: number;
  /** This bridge's bot identity (`acmehelpdesk@msging.net`): the source of every event. */
  bot: string;
  now: () => Date;
}

/**
 * One analytics tool. The hub calls `send` with a batch of at most `maxBatch` events, in order, one batch at a time
 * per sink; it retries, backs off and breaks the circuit, so a sink only maps and posts.
 * Throw RetryableError for what may pass (network, timeout, 5xx, 429, a refused key the operator can fix) and
 * PermanentError for a payload the tool rejects (the hub then sends the batch's events one by one and drops only
 * the rejected ones). Never log message text.
 */
export interface Sink {
  readonly maxBatch: number;
  send(events: AnalyticsEvent[], signal: AbortSignal): Promise<void>;
}

/**
 * A sink module: adding a tool is one file exporting one of these, one line in `sinks/index.ts` and a test.
 * Its environment keys are `ANALYTICS_<NAME>_*`: the hub adds `_ENABLED`, `_EVENTS`, `_OMIT_TEXT` and
 * `_HASH_CUSTOMER_IDS` to every sink; `settingsSchema` holds the tool's own keys (URL, key, secret), validated only
 * when the sink is enabled.
 */
export interface SinkModule<Settings extends z.ZodObject = z.ZodObject> {
  /** Lower case, [a-z0-9]: the `<name>` in `ANALYTICS_<NAME>_*`, in logs and in metrics labels. */
  readonly name: string;
  /** The tool's name for people (docs, logs). */
  readonly title: string;
  /** The events the tool can express; `ANALYTICS_<NAME>_EVENTS` picks among them (default: all of them). */
  readonly supports: readonly AnalyticsEventType[];
  readonly settingsSchema: Settings;
  create(settings: z.infer<Settings>, context: SinkContext): Sink;
}

/** Keeps a module's settings type attached to its `create` (the registry erases it). */
export function defineSink<Settings extends z.ZodObject>(module: SinkModule<Settings>): SinkModule<Settings> {
  return module;
}
