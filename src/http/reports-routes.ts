import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { errorMessage } from '../core/errors';
import type { Logger } from '../core/logger';
import { RefusalLog } from '../telemetry/refusals';
import { adminGuard } from './admin-auth';
import { AGGREGATE_COLUMNS, DIMENSIONS } from '../reports/aggregates';
import { CONTENT_TYPES, csvCell, csvLine, encodeSessions } from '../reports/export';
import type { Reports } from '../reports/index';
import { PAGE_CSP, renderReportPage } from '../reports/page';
import { computeAggregates, readTalkLog, recentSessions } from '../reports/queries';
import { SESSIONS_SCHEMA_ID, toRow } from '../reports/schema';
import { allSessions, type ReportStore, type TimeRange } from '../reports/store';
import { dayOf, parseRange, ReportRangeError } from '../reports/time';

export interface ReportsRoutesOptions {
  reports: Reports;
  /** ADMIN_TOKEN; undefined = the routes are not registered. */
  adminToken?: string;
  now?: () => Date;
}

const rangeQuery = z.object({
  from: z.string().max(40).optional(),
  to: z.string().max(40).optional(),
});
const sessionsQuery = rangeQuery.extend({ format: z.enum(['csv', 'ndjson']).default('ndjson') });
const aggregatesQuery = rangeQuery.extend({
  format: z.enum(['json', 'csv']).default('json'),
  by: z.enum(DIMENSIONS).optional(),
});
const RECENT_ON_PAGE = 50;

/**
 * The admin routes of the session reports, all behind the admin guard (`Authorization: Bearer <ADMIN_TOKEN>`, or
 * HTTP Basic with the token as the password, so a browser can open the page; see admin-auth.ts):
 * - `GET /reports` the page (charts of the aggregates, recent sessions);
 * - `GET /reports/sessions?from&to&format=csv|ndjson` the export (column schema in the `X-Report-Schema` header);
 * - `GET /reports/sessions/:id` one session with its talk log (text decrypted when the key is configured);
 * - `GET /reports/aggregates?from&to[&by=day|agent|team|vendor|close_reason&format=csv]`.
 * Without ADMIN_TOKEN none is registered (404), and a log line says so.
 */
export function registerReportsRoutes(
  app: FastifyInstance,
  options: ReportsRoutesOptions,
  logger: Logger,
  refusals: RefusalLog = new RefusalLog(logger),
): void {
  const { reports, adminToken } = options;
  if (!adminToken) {
    const message = 'report routes are off: set ADMIN_TOKEN to serve /reports';
    logger.info(message, { code: 'ADMIN_ROUTES_DISABLED' });
    return;
  }
  const now = options.now ?? (() => new Date());
  const timezone = reports.config.timezone;

  const guard = adminGuard(adminToken, refusals, 'bridge reports');
  const scope = {
    get: <P = unknown>(
      path: string,
      handler: (request: FastifyRequest<{ Params: P }>, reply: FastifyReply) => Promise<FastifyReply>,
    ) => app.get<{ Params: P }>(path, { onRequest: guard }, handler),
  };

  scope.get('/reports', async (request, reply) => {
    const q = parse(rangeQuery, request.query, reply);
    if (!q) return reply;
    const store = storeOr503(reports, reply);
    if (!store) return reply;
    const range = rangeOr400(q, timezone, now(), reply);
    if (!range) return reply;
    const [aggregates, recent] = await Promise.all([
      computeAggregates(store, range, timezone),
      recentSessions(store, range, RECENT_ON_PAGE),
    ]);
    const html = renderReportPage({
      aggregates,
      recent,
      form: {
        from: dayOf(range.from, timezone),
        to: dayOf(new Date(Date.parse(range.to) - 1).toISOString(), timezone),
      },
      generatedAt: now().toISOString(),
    });
    return reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', PAGE_CSP)
      .header('x-frame-options', 'DENY')
      .send(html);
  });

  scope.get('/reports/sessions', async (request, reply) => {
    const q = parse(sessionsQuery, request.query, reply);
    if (!q) return reply;
    const store = storeOr503(reports, reply);
    if (!store) return reply;
    const range = rangeOr400(q, timezone, now(), reply);
    if (!range) return reply;
    const chunks = logFailure(encodeSessions(allSessions(store, range), q.format), logger);
    const name = `sessions_${range.from.slice(0, 10)}_${range.to.slice(0, 10)}.${q.format === 'csv' ? 'csv' : 'ndjson'}`;
    return reply
      .header('content-type', CONTENT_TYPES[q.format])
      .header('content-disposition', `attachment; filename="${name}"`)
      .header('x-report-schema', SESSIONS_SCHEMA_ID)
      .send(Readable.from(chunks));
  });

  scope.get<{ id: string }>('/reports/sessions/:id', async (request, reply) => {
    const store = storeOr503(reports, reply);
    if (!store) return reply;
    const record = await store.get(request.params.id);
    if (!record) return reply.status(404).send({ error: 'no such session' });
    const talk = await readTalkLog(store, record.session_id, reports.cipher);
    return reply.header('x-report-schema', SESSIONS_SCHEMA_ID).send({ session: toRow(record), talk });
  });

  scope.get('/reports/aggregates', async (request, reply) => {
    const q = parse(aggregatesQuery, request.query, reply);
    if (!q) return reply;
    if (q.format === 'csv' && !q.by)
      return reply.status(400).send({ error: `format=csv needs by=${DIMENSIONS.join('|')}` });
    const store = storeOr503(reports, reply);
    if (!store) return reply;
    const range = rangeOr400(q, timezone, now(), reply);
    if (!range) return reply;
    const aggregates = await computeAggregates(store, range, timezone);
    if (q.format === 'json') {
      const body = q.by ? { ...aggregates, groups: { [q.by]: aggregates.groups[q.by] } } : aggregates;
      return reply.send(body);
    }
    const rows = aggregates.groups[q.by!];
    const csv =
      csvLine(AGGREGATE_COLUMNS.map((c) => c)) +
      rows.map((r) => csvLine(AGGREGATE_COLUMNS.map((c) => csvCell(r[c])))).join('');
    return reply
      .header('content-type', CONTENT_TYPES.csv)
      .header('content-disposition', `attachment; filename="aggregates_${q.by}.csv"`)
      .send(csv);
  });
  logger.info('report routes on /reports (admin token required)', { code: 'ADMIN_ROUTES_ENABLED' });
}

function parse<T extends z.ZodType>(schema: T, query: unknown, reply: FastifyReply): z.infer<T> | undefined {
  const result = schema.safeParse(query);
  if (result.success) return result.data;
  void reply.status(400).send({
    error: result.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; '),
  });
  return undefined;
}

function rangeOr400(
  q: { from?: string; to?: string },
  timezone: string,
  now: Date,
  reply: FastifyReply,
): TimeRange | undefined {
  try {
    return parseRange(q, timezone, now);
  } catch (err) {
    if (!(err instanceof ReportRangeError)) throw err;
    void reply.status(400).send({ error: err.message });
    return undefined;
  }
}

function storeOr503(reports: Reports, reply: FastifyReply): ReportStore | undefined {
  const store = reports.store();
  if (!store) void reply.status(503).send({ error: 'the reports store is not available yet; retry shortly' });
  return store;
}

async function* logFailure(chunks: AsyncGenerator<string>, logger: Logger): AsyncGenerator<string> {
  try {
    yield* chunks;
  } catch (err) {
    logger.error('session export failed midway; the response was cut', {
      code: 'REPORTS_EXPORT_FAILED',
      error: errorMessage(err),
    });
    throw err;
  }
}
