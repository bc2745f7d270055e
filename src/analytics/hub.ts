import type { RedisClientType } from '@keyv/redis';
import { errorMessage } from '../core/errors';
import type { DomainEventMap, DomainEvents } from '../core/events';
import type { Logger } from '../core/logger';
import type { CircuitBreakerOptions } from './circuit-breaker';
import type { AnalyticsConfig } from './config';
import {
  type AnalyticsEventType,
  analyticsEventTypes,
  applyPrivacy,
  customerHasher,
  type PrivacyOptions,
  toAnalyticsEvent,
} from './event';
import { MemoryQueue, RedisQueue, type SinkQueue } from './queue';
import type { Sink, SinkModule } from './sink';
import { sinkModules } from './sinks';
import { SinkWorker, type SinkStats } from './worker';

export interface AnalyticsHubOptions {
  logger: Logger;
  /** This bridge's bot identity (the source of the events). */
  bot: string;
  /** The shared Redis connection (createState): durable queues when given, bounded memory queues otherwise. */
  redis?: () => Promise<RedisClientType>;
  /** Prefix of every Redis key (`bhb:`). */
  redisPrefix?: string;
  now?: () => Date;
  /** Tuning; the defaults suit production (tests shorten them). */
  retry?: { baseDelayMs: number; maxDelayMs: number };
  breaker?: CircuitBreakerOptions;
  pollMs?: number;
  leaseMs?: number;
  /** The sink modules to look names up in (default: sinks/index.ts). */
  modules?: readonly SinkModule[];
}

interface HubSink {
  name: string;
  events: ReadonlySet<AnalyticsEventType>;
  privacy: PrivacyOptions;
  queue: SinkQueue;
  worker: SinkWorker;
}

/**
 * The analytics hub: subscribed to the domain events, it turns each one into a versioned analytics event and puts
 * it on the queue of every enabled sink that wants it, with that sink's privacy options applied. That is all the
 * emitting call pays for: a listener never awaits a tool, a queue or Redis. Each sink has its own worker (retries
 * with backoff and jitter, circuit breaker), so a slow or dead tool delays neither the bridge nor the other tools.
 */
export class AnalyticsHub {
  private readonly sinks: HubSink[] = [];
  private readonly unsubscribe: Array<() => void> = [];
  private readonly hash: ((value: string) => string) | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly config: AnalyticsConfig,
    private readonly options: AnalyticsHubOptions,
  ) {
    this.hash = config.hashSalt ? customerHasher(config.hashSalt) : undefined;
    const modules = new Map((options.modules ?? sinkModules).map((m) => [m.name, m]));
    const now = options.now ?? (() => new Date());
    for (const sinkConfig of config.sinks) {
      const module = modules.get(sinkConfig.name);
      if (!module) throw new Error(`unknown analytics sink: ${sinkConfig.name}`);
      const sink: Sink = module.create(sinkConfig.settings, {
        logger: options.logger,
        timeoutMs: config.timeoutMs,
        bot: options.bot,
        now,
      });
      const queue: SinkQueue = options.redis
        ? new RedisQueue({
            redis: options.redis,
            prefix: options.redisPrefix ?? 'bhb:',
            sink: module.name,
            maxEvents: config.queueMaxEvents,
            logger: options.logger,
            leaseMs: options.leaseMs,
          })
        : new MemoryQueue(config.queueMaxEvents);
      const worker = new SinkWorker(module.name, sink, queue, {
        logger: options.logger,
        retry: options.retry ?? { baseDelayMs: 1_000, maxDelayMs: 60_000 },
        breaker: options.breaker ?? { failureThreshold: 5, cooldownMs: 30_000, maxCooldownMs: 300_000 },
        pollMs: options.pollMs ?? 1_000,
      });
      this.sinks.push({
        name: module.name,
        events: new Set(sinkConfig.events),
        privacy: { omitText: sinkConfig.omitText, hashCustomerIds: sinkConfig.hashCustomerIds },
        queue,
        worker,
      });
    }
    for (const s of this.sinks) s.worker.start();
  }

  /** The enabled sinks, by name. */
  get sinkNames(): string[] {
    return this.sinks.map((s) => s.name);
  }

  /** Subscribes to every analytics event type on the bus. */
  attach(events: DomainEvents): void {
    if (this.sinks.length === 0) return;
    for (const type of analyticsEventTypes) {
      this.unsubscribe.push(events.on(type, (payload) => this.publish(type, payload)));
    }
  }

  /** Queues one domain event for every sink that takes it. Synchronous; never throws. */
  publish<E extends AnalyticsEventType>(type: E, payload: DomainEventMap[E]): void {
    if (this.stopping) return;
    let event;
    try {
      event = toAnalyticsEvent(type, payload);
    } catch (err) {
      this.options.logger.error('domain event could not be turned into an analytics event', {
        event: type,
        code: 'ANALYTICS_EVENT_INVALID',
        error: errorMessage(err),
      });
      return;
    }
    for (const sink of this.sinks) {
      if (!sink.events.has(type)) continue;
      try {
        sink.queue.push(applyPrivacy(event, sink.privacy, this.hash));
      } catch (err) {
        this.options.logger.error('analytics event could not be queued', {
          sink: sink.name,
          event: type,
          code: 'ANALYTICS_QUEUE_ERROR',
          error: errorMessage(err),
        });
      }
    }
  }

  /** Per sink: sent, failed, retried, dropped, queue depth, circuit state. */
  stats(): Record<string, SinkStats> {
    return Object.fromEntries(this.sinks.map((s) => [s.name, s.worker.stats()]));
  }

  /**
   * Stops taking events and flushes within ANALYTICS_FLUSH_TIMEOUT_MS: memory queues are delivered as far as the
   * time allows (the rest is counted as dropped), Redis queues finish the batch in flight and write what is still
   * in memory to Redis, for the next start.
   */
  stop(): Promise<void> {
    return (this.stopping ??= (async () => {
      for (const off of this.unsubscribe.splice(0)) off();
      const deadline = Date.now() + this.config.flushTimeoutMs;
      await Promise.all(this.sinks.map((s) => s.worker.stop(deadline)));
      const stats = this.stats();
      if (this.sinks.length > 0) this.options.logger.info('analytics hub stopped', { sinks: stats });
    })());
  }
}
