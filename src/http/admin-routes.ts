import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { DeadLetterAdmin } from '../cli/dead-letters';
import type { Logger } from '../core/logger';
import type { WorkQueue } from '../core/work';
import { adminGuard } from './admin-auth';

export interface AdminRoutesOptions {
  queue: WorkQueue;
  /** ADMIN_TOKEN; undefined = the routes are not registered. */
  adminToken?: string;
}

const idParams = z.object({ id: z.string().min(1).max(100) });
const listQuery = z.object({ limit: z.coerce.number().int().positive().max(10_000).default(1000) });

/**
 * The operators' API, behind the admin token, on the same code as `npm run bridge` (which needs Redis; this works
 * in memory mode too):
 * - `GET /admin/queue` items waiting, customers with work, dead letters;
 * - `GET /admin/dlq` the dead letters (one summary each, no message text); `GET /admin/dlq/:id` one in full;
 * - `POST /admin/dlq/:id/replay`, `POST /admin/dlq/replay-all`; `DELETE /admin/dlq/:id`.
 */
export function registerAdminRoutes(app: FastifyInstance, options: AdminRoutesOptions, logger: Logger): void {
  if (!options.adminToken) {
    logger.info('admin API is off: set ADMIN_TOKEN to serve /admin', { code: 'ADMIN_ROUTES_DISABLED' });
    return;
  }
  const admin = new DeadLetterAdmin(options.queue);
  const onRequest = adminGuard(options.adminToken, logger);

  app.get('/admin/queue', { onRequest }, async () => options.queue.depth());

  app.get('/admin/dlq', { onRequest }, async (request, reply) => {
    const query = listQuery.safeParse(request.query);
    if (!query.success) return reply.status(400).send({ error: 'limit must be a whole number up to 10000' });
    return { deadLetters: await admin.list(query.data.limit) };
  });

  app.get('/admin/dlq/:id', { onRequest }, async (request, reply) => {
    const id = idOf(request.params);
    if (!id) return reply.status(400).send({ error: 'bad dead letter id' });
    const letter = await admin.show(id);
    return letter ? letter : reply.status(404).send({ error: `no dead letter ${id}` });
  });

  app.post('/admin/dlq/replay-all', { onRequest }, async () => {
    const result = await admin.replay('all');
    logger.info('dead letters replayed by an operator', { count: result.replayed.length });
    return result;
  });

  app.post('/admin/dlq/:id/replay', { onRequest }, async (request, reply) => {
    const id = idOf(request.params);
    if (!id) return reply.status(400).send({ error: 'bad dead letter id' });
    const result = await admin.replay([id]);
    if (result.missing.length) return reply.status(404).send({ error: `no dead letter ${id}` });
    logger.info('dead letter replayed by an operator', { deadLetterId: id });
    return result;
  });

  app.delete('/admin/dlq/:id', { onRequest }, async (request, reply) => {
    const id = idOf(request.params);
    if (!id) return reply.status(400).send({ error: 'bad dead letter id' });
    const result = await admin.drop([id]);
    if (result.missing.length) return reply.status(404).send({ error: `no dead letter ${id}` });
    logger.info('dead letter dropped by an operator', { deadLetterId: id });
    return result;
  });
}

function idOf(params: unknown): string | undefined {
  const parsed = idParams.safeParse(params);
  return parsed.success ? parsed.data.id : undefined;
}
