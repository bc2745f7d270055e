import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { DeadLetterAdmin } from '../core/work/dead-letters';
import type { Logger } from '../core/logger';
import type { Conversation } from '../core/model';
import type { WorkQueue } from '../core/work/queue';
import { RefusalLog } from '../telemetry/refusals';
import { adminGuard } from './admin-auth';

export interface AdminRoutesOptions {
  queue: WorkQueue;
  /** Conversations in progress, and the operator's close (queued in the customer's lane). */
  conversations: {
    list(limit: number): Promise<Conversation[]>;
    get(customerKey: string): Promise<Conversation | undefined>;
    close(customerKey: string, reason: string): Promise<void>;
  };
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
 * - `POST /admin/dlq/:id/replay`, `POST /admin/dlq/replay-all`; `DELETE /admin/dlq/:id`;
 * - `GET /admin/conversations` the attendances in progress (customer, vendor, ticket, agent, age);
 *   `GET /admin/conversations/:customer` one; `POST /admin/conversations/:customer/close` closes the ticket and
 *   hands the customer back (`{"reason": "..."}` optional).
 */
export function registerAdminRoutes(
  app: FastifyInstance,
  options: AdminRoutesOptions,
  logger: Logger,
  refusals: RefusalLog = new RefusalLog(logger),
): void {
  if (!options.adminToken) {
    logger.info('admin API is off: set ADMIN_TOKEN to serve /admin', { code: 'ADMIN_ROUTES_DISABLED' });
    return;
  }
  const admin = new DeadLetterAdmin(options.queue);
  const onRequest = adminGuard(options.adminToken, refusals);

  app.get('/admin/queue', { onRequest }, async () => options.queue.depth());

  app.get('/admin/conversations', { onRequest }, async (request, reply) => {
    const query = listQuery.safeParse(request.query);
    if (!query.success) return reply.status(400).send({ error: 'limit must be a whole number up to 10000' });
    const now = Date.now();
    return {
      conversations: (await options.conversations.list(query.data.limit)).map((c) =>
        conversationView(c, now),
      ),
    };
  });

  app.get('/admin/conversations/:customer', { onRequest }, async (request, reply) => {
    const customer = customerOf(request.params);
    if (!customer) return reply.status(400).send({ error: 'bad customer identity' });
    const conversation = await options.conversations.get(customer);
    if (!conversation) return reply.status(404).send({ error: `no conversation for ${customer}` });
    return conversationView(conversation, Date.now());
  });

  app.post('/admin/conversations/:customer/close', { onRequest }, async (request, reply) => {
    const customer = customerOf(request.params);
    if (!customer) return reply.status(400).send({ error: 'bad customer identity' });
    const body = closeBody.safeParse(parseJson(request.body));
    if (!body.success) return reply.status(400).send({ error: 'body must be {"reason": "<text>"} or empty' });
    const conversation = await options.conversations.get(customer);
    if (conversation?.status !== 'open') {
      return reply.status(404).send({ error: `no open conversation for ${customer}` });
    }
    await options.conversations.close(customer, body.data?.reason ?? 'closed by an operator');
    logger.info('attendance close requested by an operator', { vendor: conversation.vendor });
    return reply.status(202).send({ queued: true });
  });

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

const customerParams = z.object({ customer: z.string().min(3).max(300) });
const closeBody = z.object({ reason: z.string().max(500).optional() }).optional();

function customerOf(params: unknown): string | undefined {
  const parsed = customerParams.safeParse(params);
  return parsed.success ? parsed.data.customer : undefined;
}

function parseJson(body: unknown): unknown {
  if (!Buffer.isBuffer(body) || body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
}

/** What an operator sees of a conversation (no message text); also the CLI's `conversations`. */
export function conversationView(c: Conversation, now: number) {
  return {
    customer: c.customer.key,
    originator: c.customer.originator,
    name: c.customer.name,
    vendor: c.vendor,
    status: c.status,
    ticket: c.ticket ? { id: c.ticket.id, number: c.ticket.number } : undefined,
    agent: c.agent,
    session: c.sessionId,
    openedAt: c.openedAt,
    ageSeconds: Math.round((now - Date.parse(c.openedAt)) / 1000),
    firstAgentReplyAt: c.firstAgentReplyAt,
  };
}
