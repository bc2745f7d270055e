/**
 * What the sandbox LIME server's commands read, and their answers: contacts, the router's tunnels and their
 * accounts, each bot's threads, the router's own threads with the real customers, and the command faults the
 * directory tests set. Used by ./lime-server.ts (commands over a LIME session) and ./lime-http-commands.ts
 * (BLiP's HTTP `POST /commands`) alike.
 */
import { createHash, randomUUID } from 'node:crypto';
import { identityOf, type Envelope, type LimeServerOptions, type SandboxCustomer } from './lime-types';

/** One item of `get /threads/{identity}` (`application/vnd.iris.thread-message+json`, fixture 20b). */
export interface ThreadItem {
  id: string;
  direction: 'received' | 'sent';
  type: string;
  content: unknown;
  /** ISO-8601 with milliseconds. */
  date: string;
  status: string;
  metadata?: Record<string, unknown>;
}

/** A message of a seeded conversation, oldest first (seedThread, seedRouterThread). */
export interface SeededMessage {
  from: 'customer' | 'bot';
  type?: string;
  content: unknown;
  at?: Date;
}

/** What the directory starts with (seeded from the server's options). */
export type DirectorySeed = Pick<
  LimeServerOptions,
  'contacts' | 'threads' | 'routerThreads' | 'tunnelAccounts'
>;

export class LimeDirectory {
  /** Customers handed out by customer(), so `get /tunnels/{id}` can answer for them. */
  private readonly knownOriginators = new Set<string>();
  /** identity -> thread items, newest first: seeded, plus every message exchanged through this server. */
  private readonly threads = new Map<string, ThreadItem[]>();
  /** The router's threads by originator, newest first: seeded, plus what the router relayed both ways. */
  private readonly routerThreads = new Map<string, ThreadItem[]>();
  /** Where each tunnel leads: tunnel identity -> the real customer (the router's thread to record in). */
  private readonly tunnels = new Map<string, string>();
  private readonly contacts = new Map<string, Record<string, unknown>>();
  private readonly tunnelAccounts = new Map<string, Record<string, unknown>>();
  /** Commands whose path starts with a prefix: answered late, or with a failure (directory fault tests). */
  private readonly commandFaults: Array<{
    prefix: string;
    delayMs?: number;
    failure?: { code: number; description: string };
  }> = [];

  constructor(
    private readonly domain: string,
    private readonly router: string,
    seed: DirectorySeed,
  ) {
    for (const [identity, items] of Object.entries(seed.threads ?? {}))
      this.threads.set(identity.toLowerCase(), items as ThreadItem[]);
    for (const [identity, items] of Object.entries(seed.routerThreads ?? {}))
      this.routerThreads.set(identity.toLowerCase(), items as ThreadItem[]);
    for (const [identity, contact] of Object.entries(seed.contacts ?? {}))
      this.contacts.set(identity.toLowerCase(), contact);
    for (const [id, account] of Object.entries(seed.tunnelAccounts ?? {}))
      this.tunnelAccounts.set(id, account);
  }

  /** The customer as the bot sees them through the router: one stable tunnel per (router, bot, customer). */
  customer(originator: string, bot: string): SandboxCustomer {
    const h = createHash('sha256').update(`${this.router}|${bot}|${originator}`).digest('hex');
    const tunnelId = `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
    this.knownOriginators.add(originator);
    return { originator, address: `${tunnelId}@tunnel.${this.domain}` };
  }

  /** A customer's message reached the bot through the router: in the bot's thread, and in the router's. */
  recordFromCustomer(customer: SandboxCustomer, envelope: Envelope, at: Date): void {
    const type = String(envelope.type);
    this.record(
      identityOf(customer.address),
      threadItem('received', String(envelope.id), type, envelope.content, at, envelope.metadata ?? {}),
    );
    // The router took it from the customer first: its own thread has it too.
    this.tunnels.set(identityOf(customer.address), customer.originator.toLowerCase());
    this.recordRouter(
      customer.originator,
      threadItem('received', String(envelope.id), type, envelope.content, at, {}),
    );
  }

  /** The bot sent a message: in its thread with the addressee, and in the router's when it goes down a tunnel. */
  recordFromBot(envelope: Envelope & { to: string }, at: Date): void {
    this.record(
      identityOf(envelope.to),
      threadItem(
        'sent',
        String(envelope.id ?? randomUUID()),
        String(envelope.type),
        envelope.content,
        at,
        {},
      ),
    );
    // The router relays a subbot's message to the real customer: in the router's thread too.
    const originator = this.tunnels.get(identityOf(envelope.to));
    if (originator) {
      this.recordRouter(
        originator,
        threadItem(
          'sent',
          String(envelope.id ?? randomUUID()),
          String(envelope.type),
          envelope.content,
          at,
          {},
        ),
      );
    }
  }

  /** See LimeServer.seedRouterThread. */
  seedRouterThread(customer: SandboxCustomer, messages: SeededMessage[]): ThreadItem[] {
    const start = Date.now() - (messages.length + 1) * 60_000;
    const items = messages.map((m, i) =>
      threadItem(
        m.from === 'customer' ? 'received' : 'sent',
        `router-${randomUUID()}`,
        m.type ?? 'text/plain',
        m.content,
        m.at ?? new Date(start + i * 60_000),
        {},
      ),
    );
    const identity = customer.originator.toLowerCase();
    this.routerThreads.set(identity, [...(this.routerThreads.get(identity) ?? []), ...items.reverse()]);
    return items;
  }

  /** See LimeServer.seedThread. */
  seedThread(customer: SandboxCustomer, messages: SeededMessage[]): ThreadItem[] {
    const identity = identityOf(customer.address);
    const start = Date.now() - (messages.length + 1) * 60_000;
    const items = messages.map((m, i) =>
      threadItem(
        m.from === 'customer' ? 'received' : 'sent',
        `seed-${randomUUID()}`,
        m.type ?? 'text/plain',
        m.content,
        m.at ?? new Date(start + i * 60_000),
        m.from === 'customer' ? this.tunnelMetadata(customer) : {},
      ),
    );
    const thread = this.threads.get(identity) ?? [];
    this.threads.set(identity, [...thread, ...items.reverse()]);
    return items;
  }

  /** The thread of a customer as `get /threads` would list it (newest first). */
  thread(customer: SandboxCustomer): ThreadItem[] {
    return [...(this.threads.get(identityOf(customer.address)) ?? [])];
  }

  /** See LimeServer.setContact. */
  setContact(customer: SandboxCustomer | string, contact: Record<string, unknown>): void {
    const identity = typeof customer === 'string' ? customer : identityOf(customer.address);
    this.contacts.set(identity.toLowerCase(), { identity, ...contact });
  }

  /** See LimeServer.setTunnelAccount. */
  setTunnelAccount(customer: SandboxCustomer, account: { fullName?: string; phoneNumber?: string }): void {
    this.tunnelAccounts.set(identityOf(customer.address).split('@')[0] ?? '', account);
  }

  /** Commands on a path starting with `prefix` are answered after `delayMs`. */
  slowCommands(prefix: string, delayMs: number): void {
    this.commandFaults.push({ prefix, delayMs });
  }

  /** Commands on a path starting with `prefix` fail with `code` and `description`. */
  failCommands(prefix: string, code: number, description: string): void {
    this.commandFaults.push({ prefix, failure: { code, description } });
  }

  /** Answers a command from `identity` (over its LIME session, or over HTTP) through `respond`. */
  answer(identity: string, command: Envelope, respond: (extra: Envelope) => void, late = false): void {
    const uri = String(command.uri ?? '');
    const notFound = (): void =>
      respond({ status: 'failure', reason: { code: 67, description: 'Resource not found' } });

    if (command.method === 'set' && (uri === '/presence' || uri === '/receipt'))
      return respond({ status: 'success' });

    // `lime://<authority>/path` addresses a path too (the tunnel extension's accounts).
    const [rawPath = '', query = ''] = uri.replace(/^lime:\/\/[^/]+/, '').split('?');
    const path = decodeURIComponent(rawPath);
    const fault = this.commandFaults.find((f) => path.startsWith(f.prefix) && !(late && f.delayMs));
    if (fault?.delayMs) {
      setTimeout(() => this.answer(identity, command, respond, true), fault.delayMs).unref();
      return;
    }
    if (fault?.failure) return respond({ status: 'failure', reason: fault.failure });
    if (command.method === 'get' && path.startsWith('/contacts/')) {
      const contact = this.contacts.get(path.slice('/contacts/'.length).toLowerCase());
      return contact
        ? respond({ status: 'success', type: 'application/vnd.lime.contact+json', resource: contact })
        : notFound();
    }
    if (command.method === 'get' && path.startsWith('/accounts/')) {
      const account = this.tunnelAccounts.get(path.slice('/accounts/'.length));
      return account
        ? respond({ status: 'success', type: 'application/vnd.lime.account+json', resource: account })
        : notFound();
    }
    if (command.method === 'get' && path === '/threads') {
      // The caller's threads, newest conversation first (the router's with real customers, a bot's with tunnels).
      const peers = [...(identity === this.router.toLowerCase() ? this.routerThreads : this.threads).keys()];
      const take = Number(new URLSearchParams(query).get('$take') ?? 20);
      const items = peers.slice(0, Number.isFinite(take) && take > 0 ? take : 20).map((peer) => ({
        ownerIdentity: identity,
        identity: peer,
      }));
      return respond({
        status: 'success',
        type: 'application/vnd.lime.collection+json',
        resource: { total: peers.length, itemType: 'application/vnd.iris.thread+json', items },
      });
    }
    if (command.method === 'get' && path.startsWith('/threads/')) {
      const peer = path.slice('/threads/'.length).toLowerCase();
      // Each bot reads its own threads: the router's conversation with the real customer only with its credentials.
      const all =
        (identity === this.router.toLowerCase() ? this.routerThreads.get(peer) : this.threads.get(peer)) ??
        [];
      const take = Number(new URLSearchParams(query).get('$take') ?? 20);
      const items = all.slice(0, Number.isFinite(take) && take > 0 ? take : 20);
      return respond({
        status: 'success',
        type: 'application/vnd.lime.collection+json',
        resource: { total: all.length, itemType: 'application/vnd.iris.thread-message+json', items },
      });
    }
    if (command.method === 'get' && path.startsWith('/tunnels/')) {
      const id = path.slice('/tunnels/'.length);
      const originator = this.tunnelOriginator(id, identity);
      if (!originator) return notFound();
      return respond({
        status: 'success',
        type: 'application/vnd.iris.tunnel+json',
        resource: { owner: this.router, originator, destination: identity },
      });
    }
    respond({
      status: 'failure',
      reason: { code: 11, description: `The sandbox does not serve ${command.method} ${path}` },
    });
  }

  /**
   * Appends to a thread (newest first), as BLiP stores every message a bot exchanges. Only the latest 100 are kept
   * (`$take` is at most 100), so a load test's LIME server does not grow without bound.
   */
  private record(identity: string, item: ThreadItem): void {
    const thread = this.threads.get(identity) ?? [];
    thread.unshift(item);
    if (thread.length > 100) thread.length = 100;
    this.threads.set(identity, thread);
  }

  /** Appends to the router's thread with a real customer (newest first), bounded like record(). */
  private recordRouter(originator: string, item: ThreadItem): void {
    const identity = originator.toLowerCase();
    const thread = this.routerThreads.get(identity) ?? [];
    thread.unshift(item);
    if (thread.length > 100) thread.length = 100;
    this.routerThreads.set(identity, thread);
  }

  private tunnelMetadata(customer: SandboxCustomer): Record<string, unknown> {
    return {
      '#tunnel.owner': this.router,
      '#tunnel.originator': customer.originator,
    };
  }

  private tunnelOriginator(tunnelId: string, bot: string): string | undefined {
    for (const originator of this.knownOriginators) {
      if (this.customer(originator, bot).address.startsWith(`${tunnelId.split('@')[0]}@`)) return originator;
    }
    return undefined;
  }
}

function threadItem(
  direction: ThreadItem['direction'],
  id: string,
  type: string,
  content: unknown,
  at: Date,
  metadata: Record<string, unknown>,
): ThreadItem {
  return {
    id,
    direction,
    type,
    content,
    date: at.toISOString(),
    status: direction === 'received' ? 'dispatched' : 'consumed',
    metadata,
  };
}
