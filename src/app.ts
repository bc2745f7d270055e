import type { AddressInfo } from 'node:net';
import type { AdapterModule, HelpdeskAdapter, MediaFile } from './adapters/adapter';
import { adapterModules } from './adapters/registry';
import { AnalyticsHub, registerAnalyticsMetrics } from './analytics';
import { BlipCustomerChannel } from './blip/channel';
import { BlipConnection } from './blip/client';
import { BlipCustomerDirectory } from './blip/directory';
import { BlipHttpCommands } from './blip/http-commands';
import { createInboundHandlers, createSenderPolicy } from './blip/inbound';
import { registerBlipMetrics } from './blip/metrics';
import type { Config } from './config';
import { assembleCore } from './core/assemble';
import { errorMessage } from './core/errors';
import { DomainEvents } from './core/events';
import { TicketDetails } from './core/handoff/details';
import { Lifecycle } from './core/handoff/lifecycle';
import { Survey } from './core/handoff/survey';
import type { Logger } from './core/logger';
import type { ConversationStore } from './core/ports';
import { Routing } from './core/routing';
import { VendorGateway, VendorGateways } from './core/vendor-gateway';
import type { Intake } from './core/work/intake';
import type { LaneRunner } from './core/work/runner';
import { Poller } from './core/work/poller';
import { buildHttpServer, buildMetricsServer, type ReadinessReport } from './http/server';
import { HttpMediaFetcher } from './media';
import { type Reports, startReports } from './reports';
import { createMediaHost } from './media/create-host';
import { createState, REDIS_PREFIX } from './state/create-store';
import { registerBridgeMetrics } from './telemetry/bridge-metrics';
import { Metrics } from './telemetry/metrics';
import { RefusalLog } from './telemetry/refusals';
import { withTimeout } from './core/timeout';

export interface Bridge {
  /** Base URL of the HTTP server (webhooks, health). */
  readonly url: string;
  readonly events: DomainEvents;
  /** Records every unit of work in its lane (customer messages, helpdesk events, operators' closes). */
  readonly intake: Intake;
  /** Runs the work queue; `runner.idle()` resolves when no lane has work due (tests, demo). */
  readonly runner: LaneRunner;
  /** The conversations in progress (state store). */
  readonly store: ConversationStore;
  /** The default helpdesk's adapter (the first of `BRIDGE_VENDORS`). */
  readonly adapter: HelpdeskAdapter;
  /** Every enabled helpdesk's adapter, by name. */
  readonly adapters: ReadonlyMap<string, HelpdeskAdapter>;
  /** Broadcasts the domain events to the enabled analytics tools (`ANALYTICS_*`); `analytics.stats()` per sink. */
  readonly analytics: AnalyticsHub;
  /** The Prometheus registry behind `GET /metrics`; add metrics with `metrics.counter(...)` etc. */
  readonly metrics: Metrics;
  /** Attendance session reports (`REPORTS_*`, docs/reports.md); undefined when off. */
  readonly reports?: Reports;
  readiness(): Promise<ReadinessReport>;
  /**
   * Stops taking work, closes the HTTP server, the BLiP session and the store, within SHUTDOWN_BUDGET_MS. With a
   * drain delay (HTTP_DRAIN_DELAY_MS), `/readyz` answers 503 first while requests are still taken, for that long.
   */
  stop(): Promise<void>;
}

/** The longest a shutdown takes after the drain delay: main.ts exits with 1 when it is exceeded. */
export const SHUTDOWN_BUDGET_MS = 20_000;

/**
 * The composition root: wires the BLiP edge, the core (intake, lane runner, failure policy, the handoff's handlers,
 * one vendor gateway per enabled helpdesk, routing), the state store and the HTTP edge. docs/architecture.md walks
 * through what it builds.
 */
export async function startBridge(config: Config, logger: Logger): Promise<Bridge> {
  const { store, queue, limiter: limiterFor, redis } = createState(config.redisUrl, logger);
  await withTimeout(store.ping(), 10_000, 'no answer within 10 s').catch((err: unknown) => {
    void store.close().catch(() => {}); // stop the client's reconnecting
    throw new Error(
      `State store unreachable (${config.redisUrl ? 'Redis' : 'memory'}): ${errorMessage(err)}`,
    );
  });

  const connection = new BlipConnection(
    { ...config.blip, readReceipts: config.liveChat.readReceipts },
    logger,
  );
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
    blipConnected: () => connection.isConnected(),
  });
  connection.onUnconfirmedSend = bridgeMetrics.onUnacknowledgedSend;
  registerBlipMetrics(metrics, connection);

  // The enabled helpdesks. The settings were parsed with each module's own schema in loadConfig, so the erased type
  // is safe here. Every call to a vendor goes through its gateway: its rate limit (shared by all instances on
  // Redis), its metrics.
  const mediaHost = createMediaHost(config.media, redis, REDIS_PREFIX);
  const publish = mediaHost && ((id: string, file: MediaFile) => mediaHost.publish(id, file));
  const adapters = new Map<string, HelpdeskAdapter>();
  for (const vendor of config.vendors) {
    const module: AdapterModule = adapterModules[vendor.name];
    adapters.set(vendor.name, module.create(vendor.settings, { logger, ...(publish ? { publish } : {}) }));
  }
  const gateways = new VendorGateways(
    [...adapters.values()].map(
      (adapter) =>
        new VendorGateway(
          adapter,
          limiterFor(adapter.name, adapter.limits.requestsPerMinute),
          bridgeMetrics.gatewayObserver,
        ),
    ),
  );
  const lifecycle = new Lifecycle(config.lifecycle, queue);
  // Session reports: listeners only enqueue; the store opens in the background and never holds up the start.
  const reports = startReports(config.reports, events, logger);

  const { intake, runner } = assembleCore({
    queue,
    store,
    vendors: gateways,
    routing: new Routing(config.routing.vendors[0]!, config.routing.rules, (at) => lifecycle.admits(at).open),
    channel: new BlipCustomerChannel(connection, config.blip.mainService, config.bridge.maxMessageLength),
    events,
    logger,
    settings: {
      tags: config.bridge.ticketTags,
      closingText: config.bridge.closingText,
      agentSignature: config.bridge.agentSignature,
      dedupeTtlMs: config.bridge.dedupeTtlMs,
      fileNotDeliveredText: config.bridge.fileNotDeliveredText,
      reopenWindowMs: config.handoff.reopenWindowMs,
      coalesceMax: config.work.coalesceMax,
      readReceipts: config.liveChat.readReceipts,
    },
    // Every locale's customer texts; each handoff reads its recorded locale's (BRIDGE_LOCALE, BRIDGE_CUSTOMER_LOCALE).
    texts: config.texts,
    // Timers live in the work queue: they survive restarts and fire once across instances.
    lifecycle,
    // The satisfaction survey after the close (BRIDGE_SURVEY); its timeout is a work-queue timer too.
    survey: new Survey(config.survey, queue),
    // Contact and transcript come from BLiP over the bridge's own LIME session (bounded; never blocking); the
    // transcript from the router's thread instead when BLIP_HISTORY_KEY is set.
    details: new TicketDetails(
      { tags: config.bridge.ticketTags, ...config.handoff, timeoutMs: config.handoff.directoryTimeoutMs },
      logger,
      new BlipCustomerDirectory(
        connection,
        config.blip.domain,
        // BLIP_HISTORY_KEY: the router's thread with the real customer, over BLiP's HTTP commands.
        config.liveChat.history &&
          new BlipHttpCommands({
            ...config.liveChat.history,
            timeoutMs: config.handoff.directoryTimeoutMs,
          }),
      ),
    ),
    media: new HttpMediaFetcher(config.media),
    mediaHost,
    failures: { maxAttempts: config.work.maxAttempts, maxDelayMs: config.work.retryMaxMs },
    lanes: { concurrency: config.work.concurrency },
  });
  const inbound = createInboundHandlers(
    intake,
    events,
    connection.identity,
    logger,
    // BRIDGE_READ_RECEIPTS=agent: `received` from the bridge once recorded, `consumed` from the core.
    config.liveChat.readReceipts === 'agent' ? connection : undefined,
  );
  connection.onMessage(inbound.onMessage);
  connection.onNotification(inbound.onNotification);
  // Refused requests and senders, logged in aggregate and counted (bhb_requests_refused_total): shared by every edge.
  const refusals = new RefusalLog(logger, { metrics });
  // Only the router's tunnels reach the helpdesk (BLIP_ACCEPT_DIRECT, BLIP_ROUTERS): refused at the edge.
  const senders = createSenderPolicy(
    {
      botIdentity: connection.identity,
      domain: config.blip.domain,
      acceptDirect: config.blip.acceptDirect,
      routers: config.blip.routers,
    },
    refusals,
  );
  connection.screenMessages(senders.screen);

  let draining = false;
  const readiness = async (): Promise<ReadinessReport> => {
    const checks: Record<string, string> = { blip: connection.isConnected() ? 'ok' : 'not connected' };
    if (draining) checks.shutdown = 'draining';
    try {
      await withTimeout(store.ping(), 2_000, 'no answer within 2 s');
      checks.state = 'ok';
    } catch (err) {
      checks.state = errorMessage(err);
    }
    return { ready: Object.values(checks).every((v) => v === 'ok'), checks };
  };

  const http = buildHttpServer({
    refusals,
    adapters: [...adapters.values()],
    intake,
    media: mediaHost,
    reports: reports && { reports, adminToken: config.adminToken },
    admin: {
      queue,
      adminToken: config.adminToken,
      conversations: {
        list: (limit) => store.list(limit),
        get: (customerKey) => store.get(customerKey),
        close: (customerKey, reason) => intake.acceptOperatorClose(customerKey, reason),
      },
    },
    logger,
    bodyLimitBytes: config.http.bodyLimitBytes,
    trustProxy: config.http.trustProxy,
    maxSkewSeconds: config.bridge.webhookMaxSkewSeconds,
    readiness,
    // METRICS_PORT moves /metrics to a listener of its own.
    metrics: config.metrics.port === undefined ? metrics : undefined,
    metricsToken: config.metrics.token,
  });
  const metricsServer =
    config.metrics.port === undefined
      ? undefined
      : buildMetricsServer(metrics, refusals, config.metrics.token);

  const pollers = gateways
    .all()
    .filter((g) => g.polls)
    .map((g) => new Poller(g, intake, store, logger, config.bridge.pollIntervalMs));

  try {
    await http.listen({ host: config.http.host, port: config.http.port });
    await metricsServer?.listen({ host: config.http.host, port: config.metrics.port });
    // BLiP unreachable at start: tried again for BLIP_STARTUP_RETRY_SECONDS; a refused key fails at once.
    await connection.connect({ retryForMs: config.blip.startupRetryMs });
    runner.start();
    for (const poller of pollers) poller.start();
  } catch (err) {
    await http.close().catch(() => {});
    await metricsServer?.close().catch(() => {});
    await runner.stop(1_000);
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
    vendors: gateways.all().map((g) => g.name),
    http: url,
    state: config.redisUrl ? 'redis' : 'memory',
    blip: `${config.blip.scheme}://${config.blip.host}:${config.blip.port}`,
    bot: connection.identity,
    metrics: `${config.metrics.port === undefined ? 'main port' : `port ${config.metrics.port}`}${config.metrics.token ? ', token' : ''}`,
    senders: config.blip.acceptDirect
      ? 'any'
      : config.blip.routers.length
        ? `tunnels of ${config.blip.routers.join(', ')}`
        : 'router tunnels',
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (config.http.drainDelayMs > 0) {
        // A load balancer sees /readyz fail and stops sending; requests still arriving meanwhile are served.
        draining = true;
        logger.info('draining: /readyz answers 503 while requests are still taken', {
          drainDelayMs: config.http.drainDelayMs,
        });
        await new Promise((resolve) => setTimeout(resolve, config.http.drainDelayMs));
      }
      await Promise.all(pollers.map((p) => p.stop()));
      // SHUTDOWN_BUDGET_MS (20 s): HTTP 3 s, in-flight work 8 s, BLiP 4 s, analytics flush 3 s, then the stores.
      await closeHttp(http, 3_000).catch((err: unknown) =>
        logger.warn('HTTP server did not close cleanly', { error: errorMessage(err) }),
      );
      // In memory the queue dies with the process: finish it first. On Redis, only the items in progress.
      await runner.stop(8_000, { finishQueued: !config.redisUrl });
      await connection.close(2_000, 2_000);
      refusals.flush();
      // After everything that emits events; before the store, whose Redis connection the analytics queues use.
      await analytics.stop();
      await reports?.close();
      await store
        .close()
        .catch((err: unknown) =>
          logger.warn('state store did not close cleanly', { error: errorMessage(err) }),
        );
      await metricsServer?.close().catch(() => {});
      logger.info('bridge stopped');
    })());

  return {
    url,
    events,
    intake,
    runner,
    store,
    adapter: adapters.get(config.routing.vendors[0]!)!,
    adapters,
    readiness,
    stop,
    analytics,
    metrics,
    reports,
  };
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
