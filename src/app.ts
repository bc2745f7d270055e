import type { AddressInfo } from 'node:net';
import type { AdapterModule, HelpdeskAdapter } from './adapters/adapter';
import { AnalyticsHub, registerAnalyticsMetrics } from './analytics';
import { adapterModules } from './adapters/registry';
import { BlipCustomerChannel } from './blip/channel';
import { BlipConnection } from './blip/client';
import { BlipCustomerDirectory } from './blip/directory';
import { createInboundHandlers } from './blip/inbound';
import type { Config } from './config';
import { errorMessage } from './core/errors';
import { Dispatcher } from './core/dispatcher';
import { Lifecycle } from './core/lifecycle';
import { DomainEvents } from './core/events';
import { HandoffService } from './core/handoff';
import { Poller } from './core/poller';
import { TicketDetails } from './core/ticket-details';
import { rateLimited } from './core/rate-limited-adapter';
import type { Logger } from './core/logger';
import { buildHttpServer, type ReadinessReport } from './http/server';
import {
  type BlobRedisClient,
  HttpMediaFetcher,
  MemoryBlobStore,
  RedisBlobStore,
  SignedMediaHost,
} from './media';
import { type Reports, startReports } from './reports';
import { createState, REDIS_PREFIX } from './state/create-store';
import { registerBridgeMetrics } from './telemetry/bridge-metrics';
import { Metrics } from './telemetry/metrics';

export interface Bridge {
  /** Base URL of the HTTP server (webhooks, health). */
  readonly url: string;
  readonly events: DomainEvents;
  readonly service: HandoffService;
  /** Records and runs the work (customer messages, helpdesk events) in order per customer. */
  readonly dispatcher: Dispatcher;
  readonly adapter: HelpdeskAdapter;
  /** Broadcasts the domain events to the enabled analytics tools (`ANALYTICS_*`); `analytics.stats()` per sink. */
  readonly analytics: AnalyticsHub;
  /** The Prometheus registry behind `GET /metrics`; add metrics with `metrics.counter(...)` etc. */
  readonly metrics: Metrics;
  /** Attendance session reports (`REPORTS_*`, docs/reports.md); undefined when off. */
  readonly reports?: Reports;
  readiness(): Promise<ReadinessReport>;
  /** Stops taking work, closes the HTTP server, the BLiP session and the store. */
  stop(): Promise<void>;
}

/** The composition root: wires the BLiP edge, the core, the adapter, the state store and the HTTP edge. */
export async function startBridge(config: Config, logger: Logger): Promise<Bridge> {
  const { store, lock, queue, limiter: limiterFor, redis } = createState(config.redisUrl, logger);
  await withTimeout(store.ping(), 10_000, 'no answer within 10 s').catch((err: unknown) => {
    void store.close().catch(() => {}); // stop the client's reconnecting
    throw new Error(
      `State store unreachable (${config.redisUrl ? 'Redis' : 'memory'}): ${errorMessage(err)}`,
    );
  });

  // The settings were parsed with this module's own schema in loadConfig, so the erased type is safe here.
  const module: AdapterModule = adapterModules[config.vendor.name];
  const adapter = module.create(config.vendor.settings, { logger });
  // Every vendor API call takes a slot of the vendor's limit, shared by all instances on Redis.
  const limiter = limiterFor(adapter.name, adapter.limits.requestsPerMinute);

  // Agents' files re-hosted for customers, bytes in the state backend: only with a public URL to serve them at.
  const mediaHost = config.media.publicUrl
    ? new SignedMediaHost(
        redis
          ? new RedisBlobStore(async () => (await redis()) as unknown as BlobRedisClient, REDIS_PREFIX)
          : new MemoryBlobStore(),
        {
          publicUrl: config.media.publicUrl,
          secret: config.media.urlSecret,
          ttlMs: config.media.linkTtlMs,
          maxBytes: config.media.maxBytes,
        },
      )
    : undefined;

  const connection = new BlipConnection(config.blip, logger);
  const events = new DomainEvents((event, err) =>
    logger.error('domain event subscriber failed', {
      event,
      code: 'EVENT_SUBSCRIBER_ERROR',
      error: errorMessage(err),
    }),
  );
  const metrics = new Metrics();
  // Listeners only enqueue: a slow or dead analytics tool never holds up a handoff.
  const analytics = new AnalyticsHub(config.analytics, {
    logger,
    bot: connection.identity,
    redis,
    redisPrefix: REDIS_PREFIX,
  });
  analytics.attach(events);
  registerAnalyticsMetrics(metrics, analytics);
  const bridgeMetrics = registerBridgeMetrics(metrics, {
    events,
    queue,
    vendor: adapter.name,
    blipConnected: () => connection.isConnected(),
  });
  connection.onUnconfirmedSend = bridgeMetrics.onUnacknowledgedSend;
  const limitedAdapter = rateLimited(bridgeMetrics.instrument(adapter), limiter, (ms) => {
    bridgeMetrics.onRateLimitWait(ms);
    logger.debug('waited for the vendor rate limit', { vendor: adapter.name, waitedMs: ms });
  });
  // Session reports: listeners only enqueue; the store opens in the background and never holds up the start.
  const reports = startReports(config.reports, events, logger);
  const service = new HandoffService(
    store,
    limitedAdapter,
    new BlipCustomerChannel(connection, config.blip.mainService, config.bridge.maxMessageLength),
    events,
    logger,
    {
      tags: config.bridge.ticketTags,
      closingText: config.bridge.closingText,
      agentSignature: config.bridge.agentSignature,
      dedupeTtlMs: config.bridge.dedupeTtlMs,
      lock,
      media: new HttpMediaFetcher(config.media),
      mediaHost,
      fileNotDeliveredText: config.bridge.fileNotDeliveredText,
      // Timers live in the work queue: they survive restarts and fire once across instances.
      lifecycle: new Lifecycle(config.lifecycle, queue),
      // Contact and transcript come from BLiP over the bridge's own LIME session (bounded; never blocking).
      details: new TicketDetails(
        { tags: config.bridge.ticketTags, ...config.handoff, timeoutMs: config.handoff.directoryTimeoutMs },
        logger,
        new BlipCustomerDirectory(connection, config.blip.domain),
      ),
      reopenWindowMs: config.handoff.reopenWindowMs,
    },
  );
  const dispatcher = new Dispatcher(queue, service, events, logger, {
    concurrency: config.work.concurrency,
    maxAttempts: config.work.maxAttempts,
    backoff: { attempts: config.work.maxAttempts, baseDelayMs: 1_000, maxDelayMs: config.work.retryMaxMs },
    coalesceMax: config.work.coalesceMax,
    limiter,
  });
  const inbound = createInboundHandlers(dispatcher, events, connection.identity, logger);
  connection.onMessage(inbound.onMessage);
  connection.onNotification(inbound.onNotification);

  const readiness = async (): Promise<ReadinessReport> => {
    const checks: Record<string, string> = { blip: connection.isConnected() ? 'ok' : 'not connected' };
    try {
      await withTimeout(store.ping(), 2_000, 'no answer within 2 s');
      checks.state = 'ok';
    } catch (err) {
      checks.state = errorMessage(err);
    }
    return { ready: Object.values(checks).every((v) => v === 'ok'), checks };
  };

  const http = buildHttpServer({
    adapters: [adapter],
    intake: dispatcher,
    media: mediaHost,
    reports: reports && { reports, adminToken: config.adminToken },
    admin: {
      queue,
      adminToken: config.adminToken,
      conversations: {
        list: (limit) => service.listConversations(limit),
        get: (customerKey) => service.getConversation(customerKey),
        close: (customerKey, reason) => dispatcher.acceptForceClose(customerKey, reason),
      },
    },
    logger,
    bodyLimitBytes: config.http.bodyLimitBytes,
    maxSkewSeconds: config.bridge.webhookMaxSkewSeconds,
    readiness,
    metrics,
  });

  const poll = limitedAdapter.poll?.bind(limitedAdapter);
  const poller = poll
    ? new Poller({ name: adapter.name, poll }, dispatcher, store, logger, config.bridge.pollIntervalMs)
    : undefined;

  try {
    await http.listen({ host: config.http.host, port: config.http.port });
    await connection.connect();
    dispatcher.start();
    poller?.start();
  } catch (err) {
    await http.close().catch(() => {});
    await dispatcher.stop(1_000);
    await connection.close();
    await analytics.stop();
    await reports?.close();
    await store.close().catch(() => {});
    throw err;
  }
  const address = http.server.address() as AddressInfo;
  const host = config.http.host === '0.0.0.0' || config.http.host === '::' ? '127.0.0.1' : config.http.host;
  const url = `http://${host}:${address.port}`;
  logger.info('bridge started', {
    vendor: adapter.name,
    http: url,
    state: config.redisUrl ? 'redis' : 'memory',
    blip: `${config.blip.scheme}://${config.blip.host}:${config.blip.port}`,
    bot: connection.identity,
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await poller?.stop();
      // Budget (main.ts exits after 20 s): HTTP 3 s, in-flight work 8 s, analytics flush 3 s, then closes.
      await closeHttp(http, 3_000).catch((err: unknown) =>
        logger.warn('HTTP server did not close cleanly', { error: errorMessage(err) }),
      );
      // In memory the queue dies with the process: finish it first. On Redis, only the items in progress.
      await dispatcher.stop(8_000, { finishQueued: !config.redisUrl });
      await connection.close();
      // After everything that emits events; before the store, whose Redis connection the analytics queues use.
      await analytics.stop();
      await reports?.close();
      await store
        .close()
        .catch((err: unknown) =>
          logger.warn('state store did not close cleanly', { error: errorMessage(err) }),
        );
      logger.info('bridge stopped');
    })());

  return { url, events, service, dispatcher, adapter, readiness, stop, analytics, metrics, reports };
}

/**
 * Stops taking requests, lets the ones in flight finish, then closes keep-alive connections as they go idle
 * (Node closes only the connections idle at the moment close() is called; a webhook sender's keep-alive socket
 * would otherwise hold the shutdown for its whole keep-alive time). After `graceMs`, closes whatever is left.
 */
async function closeHttp(http: ReturnType<typeof buildHttpServer>, graceMs: number): Promise<void> {
  const closing = http.close();
  const sweep = setInterval(() => http.server.closeIdleConnections(), 50);
  const deadline = setTimeout(() => http.server.closeAllConnections(), graceMs);
  try {
    await closing;
  } finally {
    clearInterval(sweep);
    clearTimeout(deadline);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
