import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { HelpdeskAdapter, RawRequest, WebhookHandler } from '../adapters/adapter';
import { errorCode, errorMessage, PermanentError } from '../core/errors';
import type { HandoffService } from '../core/handoff';
import type { Logger } from '../core/logger';

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, 'ok' | string>;
}

export interface HttpServerOptions {
  adapters: HelpdeskAdapter[];
  service: HandoffService;
  logger: Logger;
  bodyLimitBytes: number;
  /** Replay window for signed webhooks, unless the adapter declares its own. */
  maxSkewSeconds: number;
  readiness: () => Promise<ReadinessReport>;
  now?: () => Date;
}

/**
 * The HTTP edge: one webhook route per vendor that has webhooks (`POST /webhooks/<vendor>`), `/healthz`, `/readyz`.
 * The raw body is kept for signature checks. Every webhook is verified here, by the core, before the adapter
 * parses it: an adapter cannot forget to. A webhook is answered 2xx only after its events were handled;
 * a failure the vendor should retry gets 503.
 */
export function buildHttpServer(options: HttpServerOptions): FastifyInstance {
  const { logger } = options;
  const now = options.now ?? (() => new Date());
  const app = Fastify({ logger: false, bodyLimit: options.bodyLimitBytes, trustProxy: true });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: { statusCode?: number; message: string; code?: string }, request, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    const log = status >= 500 ? logger.error.bind(logger) : logger.warn.bind(logger);
    log('HTTP request failed', {
      method: request.method,
      path: request.url,
      status,
      code: err.code ?? 'HTTP_ERROR',
      error: err.message,
    });
    void reply.status(status).send({ error: status >= 500 ? 'internal error' : err.message });
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const report = await options.readiness();
    return reply.status(report.ready ? 200 : 503).send(report);
  });

  for (const adapter of options.adapters) {
    const webhook = adapter.webhook;
    if (!webhook) continue;
    app.post(`/webhooks/${adapter.name}`, async (request, reply) => {
      const raw = toRawRequest(request, now());
      const meta = { vendor: adapter.name, ip: request.ip };
      const check = verify(webhook, raw, options.maxSkewSeconds);
      if (!check.ok) {
        logger.warn('webhook rejected', { ...meta, code: 'WEBHOOK_UNAUTHENTICATED', reason: check.reason });
        return reply.status(401).send({ error: 'invalid signature' });
      }
      let events;
      try {
        events = webhook.parse(raw);
      } catch (err) {
        logger.warn('webhook body not understood; ignored', {
          ...meta,
          code: errorCode(err),
          error: errorMessage(err),
        });
        return reply.status(400).send({ error: err instanceof PermanentError ? err.message : 'bad request' });
      }
      try {
        const outcomes = await options.service.handleHelpdeskEvents(events);
        logger.debug('webhook handled', { ...meta, events: events.length, outcomes });
        return reply.status(200).send({ received: events.length, outcomes });
      } catch (err) {
        logger.error('webhook events could not be handled; asking the vendor to retry', {
          ...meta,
          code: errorCode(err),
          error: errorMessage(err),
        });
        return reply.status(503).send({ error: 'temporarily unavailable, retry later' });
      }
    });
  }
  return app;
}

function verify(
  webhook: WebhookHandler,
  raw: RawRequest,
  defaultSkewSeconds: number,
): { ok: true } | { ok: false; reason: string } {
  const result = webhook.verify(raw);
  if (!result.ok) return result;
  if (result.signedAt) {
    const skew = Math.abs(raw.receivedAt.getTime() - result.signedAt.getTime()) / 1000;
    const max = webhook.maxSkewSeconds ?? defaultSkewSeconds;
    if (skew > max)
      return { ok: false, reason: `signature timestamp is ${Math.round(skew)} s away (max ${max} s)` };
  }
  return { ok: true };
}

function toRawRequest(request: FastifyRequest, receivedAt: Date): RawRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  return { method: request.method, path: request.url, headers, body, receivedAt };
}
