import type { AddressInfo } from 'node:net';
import type { AdapterModule, HelpdeskAdapter } from './adapters/adapter';
import { adapterModules } from './adapters/registry';
import { BlipCustomerChannel } from './blip/channel';
import { BlipConnection } from './blip/client';
import { createInboundHandlers } from './blip/inbound';
import type { Config } from './config';
import { errorMessage } from './core/errors';
import { DomainEvents } from './core/events';
import { HandoffService } from './core/handoff';
import { Poller } from './core/poller';
import type { Logger } from './core/logger';
import { buildHttpServer, type ReadinessReport } from './http/server';
import { HttpMediaFetcher } from './media';
import { createState } from './state/create-store';

export interface Bridge {
  /** Base URL of the HTTP server (webhooks, health). */
  readonly url: string;
  readonly events: DomainEvents;
  readonly service: HandoffService;
  readonly adapter: HelpdeskAdapter;
  readiness(): Promise<ReadinessReport>;
  /** Stops taking work, closes the HTTP server, the BLiP session and the store. */
  stop(): Promise<void>;
}

/** The composition root: wires the BLiP edge, the core, the adapter, the state store and the HTTP edge. */
export async function startBridge(config: Config, logger: Logger): Promise<Bridge> {
  const { store, lock } = createState(config.redisUrl, logger);
  await withTimeout(store.ping(), 10_000, 'no answer within 10 s').catch((err: unknown) => {
    void store.close().catch(() => {}); // stop the client's reconnecting
    throw new Error(
      `State store unreachable (${config.redisUrl ? 'Redis' : 'memory'}): ${errorMessage(err)}`,
    );
  });

  // The settings were parsed with this module's own schema in loadConfig, so the erased type is safe here.
  const module: AdapterModule = adapterModules[config.vendor.name];
  const adapter = module.create(config.vendor.settings, { logger });

  const connection = new BlipConnection(config.blip, logger);
  const events = new DomainEvents((event, err) =>
    logger.error('domain event subscriber failed', {
      event,
      code: 'EVENT_SUBSCRIBER_ERROR',
      error: errorMessage(err),
    }),
  );
  const service = new HandoffService(
    store,
    adapter,
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
    },
  );
  const inbound = createInboundHandlers(service, connection.identity, logger);
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
    service,
    logger,
    bodyLimitBytes: config.http.bodyLimitBytes,
    maxSkewSeconds: config.bridge.webhookMaxSkewSeconds,
    readiness,
  });

  const poll = adapter.poll?.bind(adapter);
  const poller = poll
    ? new Poller({ name: adapter.name, poll }, service, store, logger, config.bridge.pollIntervalMs)
    : undefined;

  try {
    await http.listen({ host: config.http.host, port: config.http.port });
    await connection.connect();
    poller?.start();
  } catch (err) {
    await http.close().catch(() => {});
    await connection.close();
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
      await closeHttp(http, 5_000).catch((err: unknown) =>
        logger.warn('HTTP server did not close cleanly', { error: errorMessage(err) }),
      );
      await connection.close();
      await store
        .close()
        .catch((err: unknown) =>
          logger.warn('state store did not close cleanly', { error: errorMessage(err) }),
        );
      logger.info('bridge stopped');
    })());

  return { url, events, service, adapter, readiness, stop };
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
