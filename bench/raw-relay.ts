/**
 * The raw relay: the least work any BLiP ↔ Zendesk bridge can do, as the benchmark's yardstick (scenario 2).
 *
 * Same LIME client (blip-sdk on the bridge's own transport, src/blip/transport.ts, built like src/blip/client.ts
 * builds it) and same HTTP client (axios) as the bridge, and the same vendor calls (create-or-update the requester and create the ticket on a
 * customer's first message, then one comment per message). No state store, no work queue, no validation (no zod,
 * no webhook signature check), no retries, no logs: a JS Map from customer to ticket and back, and one promise chain
 * per customer, which is the least that keeps a customer's messages in order and opens one ticket per customer.
 * A webhook for a ticket whose creation has not returned yet waits for it (an instant agent reply can overtake the
 * create call's response).
 */
import { randomUUID } from 'node:crypto';
import { Agent, createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import { ClientBuilder, type Client, type LimeMessage } from 'blip-sdk';
import { LimeTransport } from '../src/blip/transport';
import { silentLogger } from '../src/core/logger';

export interface RawRelayOptions {
  blip: { identifier: string; accessKey: string; domain: string; host: string; port: number };
  zendesk: { baseUrl: string; email: string; apiToken: string };
}

export interface RawRelay {
  url: string;
  /** Calls that failed (the raw relay does not retry; a benchmark run with failures is reported as such). */
  failures(): number;
  stop(): Promise<void>;
}

interface Ticket {
  id: string;
  requesterId: number;
}

export async function startRawRelay(options: RawRelayOptions): Promise<RawRelay> {
  const http = axios.create({
    baseURL: options.zendesk.baseUrl,
    timeout: 30_000,
    // As the bridge's vendor clients (src/adapters/shared/api-client.ts): no redirect following.
    maxRedirects: 0,
    // A connection pool, as any production client has: 1,000 customers opening tickets at once otherwise open
    // 1,000 connections, and on a 2-core machine a few of those requests time out after 30 s, lost (no retries).
    // The bridge never has more calls in flight than WORK_CONCURRENCY (64).
    httpAgent: new Agent({ keepAlive: true, maxSockets: 256 }),
    headers: {
      Authorization: `Basic ${Buffer.from(`${options.zendesk.email}/token:${options.zendesk.apiToken}`).toString('base64')}`,
      'Content-Type': 'application/json',
      Accept: 'application/json',
    },
  });
  /** Customer address → their ticket (a promise while it is being created). */
  const tickets = new Map<string, Promise<Ticket>>();
  /** Ticket id → customer address. */
  const customers = new Map<string, string>();
  /** Webhooks for tickets not known yet, by ticket id. */
  const parked = new Map<string, Array<(address: string) => void>>();
  /** Each customer's last message in flight (the tail of their chain). */
  const chains = new Map<string, Promise<void>>();
  let failed = 0;

  const openTicket = async (address: string, originator: string, body: string): Promise<Ticket> => {
    const user = await http.post<{ user: { id: number } }>('/api/v2/users/create_or_update', {
      user: { name: originator, external_id: originator, role: 'end-user', skip_verify_email: true },
    });
    const requesterId = user.data.user.id;
    const created = await http.post<{ ticket: { id: number } }>(
      '/api/v2/tickets',
      {
        ticket: {
          subject: `BLiP chat: ${originator}`,
          comment: { body, public: true, author_id: requesterId },
          requester_id: requesterId,
          tags: ['blip_bridge'],
        },
      },
      { headers: { 'Idempotency-Key': randomUUID() } },
    );
    const ticket = { id: String(created.data.ticket.id), requesterId };
    customers.set(ticket.id, address);
    for (const wake of parked.get(ticket.id) ?? []) wake(address);
    parked.delete(ticket.id);
    return ticket;
  };

  const forward = async (address: string, originator: string, body: string): Promise<void> => {
    const known = tickets.get(address);
    if (!known) {
      const opening = openTicket(address, originator, body);
      tickets.set(address, opening);
      await opening.catch((err: unknown) => {
        tickets.delete(address);
        throw err;
      });
      return;
    }
    const ticket = await known;
    await http.put(`/api/v2/tickets/${ticket.id}`, {
      ticket: { comment: { body, public: true, author_id: ticket.requesterId } },
    });
  };

  const onMessage = (message: LimeMessage): void => {
    const address = message.from ?? '';
    const originator = message.metadata?.['#tunnel.originator'] ?? address;
    const body = typeof message.content === 'string' ? message.content : JSON.stringify(message.content);
    const tail = (chains.get(address) ?? Promise.resolve())
      .then(() => forward(address, originator, body))
      .catch((err: unknown) => {
        // The first few, on stderr (the run's log file): a run with failures is reported, and this says why.
        if (failed++ < 5) process.stderr.write(`raw relay: vendor call failed: ${describe(err)}\n`);
      });
    chains.set(address, tail);
    void tail.then(() => {
      if (chains.get(address) === tail) chains.delete(address);
    });
  };

  const client: Client = new ClientBuilder()
    .withIdentifier(options.blip.identifier)
    .withAccessKey(options.blip.accessKey)
    .withDomain(options.blip.domain)
    .withScheme('ws')
    .withHostName(options.blip.host)
    .withPort(options.blip.port)
    .withInstance('raw-relay')
    .withCommandTimeout(6_000)
    .withTransportFactory(
      () =>
        new LimeTransport({
          maxFrameBytes: 8 * 1024 * 1024,
          logger: silentLogger,
          onClosed: () => {},
          onFrameTooLarge: () => {},
        }),
    )
    .build();
  // Returns at once: no queue, nothing durable to wait for before `consumed`.
  client.addMessageReceiver(true, (message) => {
    onMessage(message);
  });

  const deliver = (address: string, text: string): void => {
    try {
      client.sendMessage({ id: randomUUID(), to: address, type: 'text/plain', content: text });
    } catch {
      failed++;
    }
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      res.writeHead(200).end();
      if (req.method !== 'POST' || req.url !== '/webhooks/zendesk') return;
      try {
        // No schema: the least work. A body that is not what we expect is skipped.
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          type?: string;
          detail?: { id?: string };
          event?: { comment?: { body?: string; is_public?: boolean; author?: { is_staff?: boolean } } };
        };
        const comment = body.event?.comment;
        if (body.type !== 'zen:event-type:ticket.comment_added' || !comment?.is_public) return;
        if (!comment.author?.is_staff || !comment.body) return;
        const ticketId = String(body.detail?.id);
        const text = comment.body;
        const address = customers.get(ticketId);
        if (address) return deliver(address, text);
        const waiting = parked.get(ticketId) ?? [];
        waiting.push((to) => deliver(to, text));
        parked.set(ticketId, waiting);
      } catch {
        failed++;
      }
    });
  });
  // Fastify's keep-alive (the bridge's HTTP server), not Node's 5 s: with Node's, the sandbox's pooled webhook sockets
  // sometimes met a connection the relay had just closed (ECONNRESET), and a reply was lost in the raw relay's runs.
  server.keepAliveTimeout = 72_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  await client.connect();

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    failures: () => failed,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await Promise.race([client.close(), new Promise((resolve) => setTimeout(resolve, 2_000))]).catch(
        () => {},
      );
    },
  };
}

function describe(err: unknown): string {
  const e = err as { config?: { method?: string; url?: string }; message?: string };
  return `${e.config?.method ?? ''} ${e.config?.url ?? ''}: ${e.message ?? String(err)}`;
}
