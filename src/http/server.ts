import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { HelpdeskAdapter, RawRequest } from '../adapters/adapter';
import { errorCode, errorMessage, PermanentError, RetryableError, UnavailableError } from '../core/errors';
import type { Intake } from '../core/work/intake';
import type { Logger } from '../core/logger';
import type { Metrics } from '../telemetry/metrics';
import { adminGuard } from './admin-auth';
import { RefusalLog } from '../telemetry/refusals';
import { type AdminRoutesOptions, registerAdminRoutes } from './admin-routes';
import { type MediaSource, registerMediaRoute } from './media-route';
import { registerReportsRoutes, type ReportsRoutesOptions } from './reports-routes';
import { fastifyTrustProxy, type TrustProxy } from './trust-proxy';
import { assertWebhookAuth, checkWebhook, MAX_PATH_SEGMENT_LENGTH, redactWebhookUrl } from './webhook-auth';

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, 'ok' | string>;
}

export interface HttpServerOptions {
  adapters: HelpdeskAdapter[];
  /** Records webhook events as work (durably) before the webhook is answered. */
  intake: Pick<Intake, 'acceptHelpdeskEvents'>;
  logger: Logger;
  bodyLimitBytes: number;
  /** Whose `X-Forwarded-For` is believed for `request.ip` (HTTP_TRUST_PROXY); default none. */
  trustProxy?: TrustProxy;
  /** Replay window for signed webhooks, unless the adapter declares its own. */
  maxSkewSeconds: number;
  readiness: () => Promise<ReadinessReport>;
  /** `GET /metrics` (Prometheus text format) when given. */
  metrics?: Metrics;
  /** METRICS_TOKEN: `/metrics` answers only `Authorization: Bearer <token>`. */
  metricsToken?: string;
  /** Agents' files re-hosted for customers (`GET /media/<token>`); absent without `BRIDGE_PUBLIC_URL`. */
  media?: MediaSource;
  /** Operators' API (`/admin`, admin token): work queue and dead letters. */
  admin?: AdminRoutesOptions;
  /** Session reports (`/reports`, admin token); absent when the reports are off. */
  reports?: ReportsRoutesOptions;
  /**
   * Refused requests (webhook signatures, admin token, media links), logged in aggregate and counted. Default: one
   * of its own, counting in `metrics`. Flushed when the server closes.
   */
  refusals?: RefusalLog;
  now?: () => Date;
}

/**
 * The HTTP edge: one webhook route per vendor that has webhooks (`POST /webhooks/<vendor>`), `/healthz`, `/readyz`.
 * The raw body is kept for signature checks. Every webhook is verified here, by the core, before the adapter
 * parses it: an adapter cannot forget to. A webhook is answered 2xx only after its events were recorded in the
 * work queue (durably, on Redis); when they cannot be recorded the vendor gets 503 and retries.
 */
export function buildHttpServer(options: HttpServerOptions): FastifyInstance {
  const { logger } = options;
  const now = options.now ?? (() => new Date());
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimitBytes,
    routerOptions: { maxParamLength: MAX_PATH_SEGMENT_LENGTH },
    // The `ip` of log lines: the connection's, unless HTTP_TRUST_PROXY names the proxies in front (issue 17.10).
    trustProxy: fastifyTrustProxy(options.trustProxy ?? false),
  });
  const refusals = options.refusals ?? new RefusalLog(logger, { metrics: options.metrics });
  app.addHook('onClose', async () => refusals.flush());

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: { statusCode?: number; message: string; code?: string }, request, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    const log = status >= 500 ? logger.error.bind(logger) : logger.warn.bind(logger);
    log('HTTP request failed', {
      method: request.method,
      path: redactWebhookUrl(request.url),
      status,
      code: err.code ?? 'HTTP_ERROR',
      error: err.message,
    });
    void reply.status(status).send({ error: status >= 500 ? 'internal error' : err.message });
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  if (options.media) registerMediaRoute(app, options.media, logger, refusals);
  if (options.reports) registerReportsRoutes(app, options.reports, logger, refusals);
  if (options.admin) registerAdminRoutes(app, options.admin, logger, refusals);

  if (options.metrics) registerMetricsRoute(app, options.metrics, refusals, options.metricsToken);

  app.get('/readyz', async (_request, reply) => {
    const report = await options.readiness();
    return reply.status(report.ready ? 200 : 503).send(report);
  });

  for (const adapter of options.adapters) {
    const webhook = adapter.webhook;
    if (!webhook) continue;
    assertWebhookAuth(adapter.name, webhook);
    const route = `/webhooks/${adapter.name}`;
    const handler = async (request: FastifyRequest<{ Params: { token?: string } }>, reply: FastifyReply) => {
      const raw = toRawRequest(request, now());
      const meta = { vendor: adapter.name, ip: request.ip };
      const check = checkWebhook(webhook, raw, request.params.token, options.maxSkewSeconds);
      if (!check.ok) {
        refusals.refuse({
          route,
          reason: check.kind,
          code: 'WEBHOOK_UNAUTHENTICATED',
          message: 'webhook rejected',
          meta: { ...meta, detail: check.reason },
        });
        return reply.status(401).send({ error: 'unauthenticated' });
      }
      let events;
      try {
        events = await webhook.parse(raw);
      } catch (err) {
        // The adapter could not confirm the event through the vendor's API just now: the vendor delivers again.
        if (err instanceof RetryableError || err instanceof UnavailableError) {
          logger.warn('webhook event could not be confirmed; asking the vendor to retry', {
            ...meta,
            code: errorCode(err),
            error: errorMessage(err),
          });
          return reply.status(503).send({ error: 'temporarily unavailable, retry later' });
        }
        logger.warn('webhook body not understood; ignored', {
          ...meta,
          code: errorCode(err),
          error: errorMessage(err),
        });
        return reply.status(400).send({ error: err instanceof PermanentError ? err.message : 'bad request' });
      }
      try {
        const queued = await options.intake.acceptHelpdeskEvents(events);
        logger.debug('webhook recorded', { ...meta, events: events.length, queued });
        return reply.status(200).send({ received: events.length, queued });
      } catch (err) {
        logger.error('webhook events could not be recorded; asking the vendor to retry', {
          ...meta,
          code: errorCode(err),
          error: errorMessage(err),
        });
        return reply.status(503).send({ error: 'temporarily unavailable, retry later' });
      }
    };
    // Both routes for every kind: a route-token vendor refuses the bare route, the others refuse a token.
    app.post(route, handler);
    app.post(`${route}/:token`, handler);
  }
  return app;
}

/** `GET /metrics` (Prometheus text format), behind a bearer token when one is given. */
function registerMetricsRoute(
  app: FastifyInstance,
  metrics: Metrics,
  refusals: RefusalLog,
  token?: string,
): void {
  const route = token ? { onRequest: adminGuard(token, refusals, 'metrics') } : {};
  app.get('/metrics', route, async (_request, reply) => {
    const { contentType, body } = await metrics.render();
    return reply.type(contentType).send(body);
  });
}

/** METRICS_PORT: a listener of its own that serves `/metrics` only (the main port then does not). */
export function buildMetricsServer(metrics: Metrics, refusals: RefusalLog, token?: string): FastifyInstance {
  const app = Fastify({ logger: false });
  registerMetricsRoute(app, metrics, refusals, token);
  return app;
}

function toRawRequest(request: FastifyRequest, receivedAt: Date): RawRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  // The path without a route token: adapters never see it, so they cannot log it.
  return { method: request.method, path: redactWebhookUrl(request.url), headers, body, receivedAt };
}
