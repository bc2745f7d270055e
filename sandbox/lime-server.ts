/**
 * A local BLiP: a LIME-over-WebSocket server that plays the router and its customers.
 *
 * It speaks what blip-sdk 10 expects (envelope shapes in test/fixtures/lime/): session new -> authenticating (key)
 * -> established, `set /presence` and `set /receipt`, contacts/threads/tunnels commands answered like BLiP does.
 * It injects customer messages from tunnel addresses with `#tunnel.*` metadata, and records every message,
 * notification and command the bot sends.
 *
 * Strict by default, like a real server: a frame it cannot deserialize (./lime-validation.ts) ends the session
 * (`finished`, then the socket closes) and is recorded in `refusals` with the reason, and logged when a logger is
 * given. Nothing a client sends can crash it.
 */
import { createHash, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { CHAT_STATE_TYPE, kindOf, refusalOf } from './lime-validation';

/** Any LIME envelope, as JSON. */
export type Envelope = Record<string, unknown> & {
  id?: string;
  from?: string;
  to?: string;
  metadata?: Record<string, unknown>;
};

export interface SentByBot {
  at: Date;
  envelope: Envelope & { to: string; type: string; content: unknown };
}

export interface LimeServerOptions {
  port?: number;
  domain?: string;
  /** identifier -> access key (base64, as the portal shows it). */
  accounts: Record<string, string>;
  /** The router that owns the tunnels (`#tunnel.owner`). */
  router?: string;
  /** identity -> contact resource, for `get /contacts/{identity}`. */
  contacts?: Record<string, Record<string, unknown>>;
  /** identity -> thread items (newest first), for `get /threads/{identity}`. */
  threads?: Record<string, unknown[]>;
  /**
   * The router's own threads, by the real customer's identity (`#tunnel.originator`), newest first: the whole bot
   * conversation lives there. Served only to the router's credentials (`accounts` must hold the router's key).
   */
  routerThreads?: Record<string, unknown[]>;
  /** tunnel id -> the router's account (`fullName`, `phoneNumber`), for `get lime://tunnel.<domain>/accounts/{id}`. */
  tunnelAccounts?: Record<string, Record<string, unknown>>;
  /**
   * End the session on any frame a real LIME server could not deserialize (default true). Off, the server takes
   * anything it can make sense of (it still never crashes).
   */
  strict?: boolean;
  /** Where to say why the server ended a session (a winston-style logger); `refusals` keeps them either way. */
  logger?: { warn(message: string, meta?: Record<string, unknown>): unknown };
}

/**
 * A notification the bot sent that a real BLiP could not route back: for no message this server delivered to the
 * bot, addressed to someone other than the message's sender, or a `consumed` before its `received`.
 */
export interface NotificationProblem {
  at: Date;
  event: string;
  id?: string;
  problem: string;
}

/** A session the server ended because of a frame it could not read. */
export interface Refusal {
  at: Date;
  /** The bot's identity, when the session was authenticated. */
  identity?: string;
  reason: string;
  /** The first 200 characters of the frame. */
  frame: string;
}

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

interface Session {
  socket: WebSocket;
  id: string;
  state: 'new' | 'authenticating' | 'established' | 'finished';
  identity?: string;
  node?: string;
}

export interface SandboxCustomer {
  /** The real customer, e.g. `5511987654321@wa.gw.msging.net`. */
  originator: string;
  /** The tunnel address the bot sees and answers to. */
  address: string;
}

export class LimeServer extends EventEmitter {
  readonly domain: string;
  readonly router: string;
  /** Every message the bot sent, in order. */
  readonly sent: SentByBot[] = [];
  /**
   * Every chat state the bot sent (`application/vnd.lime.chatstate+json`, validated strictly), kept apart from `sent`:
   * a chat state is no message the customer reads.
   */
  readonly chatStates: SentByBot[] = [];
  /** Every notification the bot sent (received, consumed, failed...). */
  readonly notifications: Envelope[] = [];
  /** Every command the bot sent. */
  readonly commands: Envelope[] = [];
  /** Every session the server ended because of a frame a real LIME server could not deserialize. */
  readonly refusals: Refusal[] = [];
  /** Every notification a real BLiP could not route (see NotificationProblem); the harness fails a test on one. */
  readonly notificationProblems: NotificationProblem[] = [];
  /** Messages delivered to a bot, by id: to whom, and who sent them (where their notifications must go). */
  private readonly delivered = new Map<string, { bot: string; from: string }>();
  /** Ids whose `received` reached the sender (a `consumed` must come after one). */
  private readonly routedReceived = new Set<string>();
  private readonly sessions = new Set<Session>();
  /** Customers handed out by customer(), so `get /tunnels/{id}` can answer for them. */
  private readonly knownOriginators = new Set<string>();
  private readonly failingDeliveries = new Map<string, { code: number; description: string }>();
  /** `<event> <message id>` of every notification the bot sent, for waitForNotification. */
  private readonly notified = new Set<string>();
  private readonly notificationWaiters = new Map<string, Set<() => void>>();
  private readonly serverNode: string;
  private roundRobin = 0;
  /** Whether the server acknowledges each message the bot sends with `accepted` (BLiP does). */
  private acknowledging = true;
  /** Messages still to lose (neither recorded nor acknowledged), then the connection drops: a dying socket. */
  private toLose = 0;
  /** Whether WebSocket pings are answered (a dying socket answers nothing). */
  private ponging = true;
  /** Between the last lost message and the drop: the socket is dead, nothing is answered. */
  private dying = false;
  /** identity -> thread items, newest first: seeded, plus every message exchanged through this server. */
  private readonly threads = new Map<string, ThreadItem[]>();
  /** The router's threads by originator, newest first: seeded, plus what the router relayed both ways. */
  private readonly routerThreads = new Map<string, ThreadItem[]>();
  /** Where each tunnel leads: tunnel identity -> the real customer (the router's thread to record in). */
  private readonly tunnels = new Map<string, string>();
  /** Every request to `POST /commands` (BLiP's HTTP commands), with who it authenticated as (or why not). */
  readonly httpCommands: Array<{ at: Date; identity?: string; status: number; uri?: string }> = [];
  private readonly contacts = new Map<string, Record<string, unknown>>();
  private readonly tunnelAccounts = new Map<string, Record<string, unknown>>();
  /** Commands whose path starts with a prefix: answered late, or with a failure (directory fault tests). */
  private readonly commandFaults: Array<{
    prefix: string;
    delayMs?: number;
    failure?: { code: number; description: string };
  }> = [];

  private constructor(
    private readonly wss: WebSocketServer,
    private readonly options: LimeServerOptions,
    private readonly http: Server,
  ) {
    super();
    this.domain = options.domain ?? 'msging.net';
    this.router = options.router ?? `sandboxrouter@${this.domain}`;
    this.serverNode = `postmaster@${this.domain}/sandbox`;
    for (const [identity, items] of Object.entries(options.threads ?? {}))
      this.threads.set(identity.toLowerCase(), items as ThreadItem[]);
    for (const [identity, items] of Object.entries(options.routerThreads ?? {}))
      this.routerThreads.set(identity.toLowerCase(), items as ThreadItem[]);
    for (const [identity, contact] of Object.entries(options.contacts ?? {}))
      this.contacts.set(identity.toLowerCase(), contact);
    for (const [id, account] of Object.entries(options.tunnelAccounts ?? {}))
      this.tunnelAccounts.set(id, account);
    wss.on('connection', (socket) => this.accept(socket));
  }

  static async start(options: LimeServerOptions): Promise<LimeServer> {
    // One port, as BLiP's two doors: the LIME WebSocket, and the HTTP commands (`POST /commands`).
    const holder: { server?: LimeServer } = {};
    const http = createServer((req, res) => {
      if (holder.server) holder.server.httpRequest(req, res);
      else res.writeHead(503).end();
    });
    const wss = new WebSocketServer({
      server: http,
      handleProtocols: (protocols) => (protocols.has('lime') ? 'lime' : false),
      // Pings are answered by hand: a socket that is dying (loseMessagesThenDrop) answers none.
      autoPong: false,
    });
    await new Promise<void>((resolve, reject) => {
      http.once('listening', resolve);
      http.once('error', reject);
      http.listen(options.port ?? 0, '127.0.0.1');
    });
    holder.server = new LimeServer(wss, options, http);
    return holder.server;
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  /** BLiP's HTTP commands endpoint on this server (`BLIP_HISTORY_URL`). */
  get commandsUrl(): string {
    return `http://127.0.0.1:${this.port}/commands`;
  }

  /**
   * The key of a bot's `Authorization: Key …` header for BLiP's HTTP API, as the portal shows it: base64 of
   * `identifier:` and the access key decoded.
   */
  static httpKey(identifier: string, accessKey: string): string {
    return Buffer.from(`${identifier}:${Buffer.from(accessKey, 'base64').toString('utf8')}`).toString(
      'base64',
    );
  }

  /**
   * The router's conversation with the real customer before the handoff (its main bot's questions, the customer's
   * answers), oldest first; put before everything already in the router's thread. Only the router's credentials
   * read it (`get /threads/<originator>` over HTTP with the router's key).
   */
  seedRouterThread(
    customer: SandboxCustomer,
    messages: Array<{ from: 'customer' | 'bot'; type?: string; content: unknown; at?: Date }>,
  ): ThreadItem[] {
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

  /** Bot identities with an established session. */
  get connectedBots(): string[] {
    return [...this.sessions].filter((s) => s.state === 'established').map((s) => s.identity ?? '');
  }

  /** The customer as the bot sees them through the router: one stable tunnel per (router, bot, customer). */
  customer(originator: string, bot: string): SandboxCustomer {
    const h = createHash('sha256').update(`${this.router}|${bot}|${originator}`).digest('hex');
    const tunnelId = `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
    this.knownOriginators.add(originator);
    return { originator, address: `${tunnelId}@tunnel.${this.domain}` };
  }

  /**
   * The router forwards a customer's message to the bot, shaped like test/fixtures/lime/01-inbound-text-whatsapp.json.
   * Returns the envelope sent.
   */
  sendFromCustomer(
    bot: string,
    customer: SandboxCustomer,
    type: string,
    content: unknown,
    extra: { id?: string; metadata?: Record<string, unknown> } = {},
  ): Envelope {
    const session = this.pickSession(bot);
    const now = Date.now();
    const envelope: Envelope = {
      id: extra.id ?? `wamid.${randomUUID().replace(/-/g, '')}`,
      from: customer.address,
      to: bot,
      type,
      content,
      metadata: {
        '#uniqueId': randomUUID(),
        '#date_processed': String(now),
        date_created: String(now),
        '#tunnel.owner': this.router,
        '#tunnel.originator': customer.originator,
        '#tunnel.originalFrom': `${this.router}/sandbox-router`,
        '#tunnel.originalTo': `${encodeURIComponent(bot)}@tunnel.${this.domain}/${encodeURIComponent(customer.originator)}`,
        ...extra.metadata,
      },
    };
    session.socket.send(JSON.stringify(envelope));
    this.deliveredTo(session, envelope);
    this.record(
      identityOf(customer.address),
      threadItem('received', String(envelope.id), type, content, new Date(now), envelope.metadata ?? {}),
    );
    // The router took it from the customer first: its own thread has it too.
    this.tunnels.set(identityOf(customer.address), customer.originator.toLowerCase());
    this.recordRouter(
      customer.originator,
      threadItem('received', String(envelope.id), type, content, new Date(now), {}),
    );
    return envelope;
  }

  /**
   * The customer's app tells the bot about a message the bot sent them (`received`, `consumed`: it showed it), as
   * BLiP delivers the channel's receipts through the router's tunnel. Returns the envelope sent.
   */
  notifyFromCustomer(
    bot: string,
    customer: SandboxCustomer,
    id: string,
    event: 'received' | 'consumed',
  ): Envelope {
    const envelope: Envelope = { id, from: customer.address, to: bot, event };
    this.pickSession(bot).socket.send(JSON.stringify(envelope));
    return envelope;
  }

  /**
   * A message from a sender that is not a router tunnel: someone who writes to the bot's own address (another bot,
   * a channel connected to it directly). No `#tunnel.*` metadata. Returns the envelope sent.
   */
  sendDirect(
    bot: string,
    from: string,
    type: string,
    content: unknown,
    extra: { id?: string } = {},
  ): Envelope {
    const envelope: Envelope = {
      id: extra.id ?? randomUUID(),
      from,
      to: bot,
      type,
      content,
      metadata: { '#uniqueId': randomUUID(), '#date_processed': String(Date.now()) },
    };
    const session = this.pickSession(bot);
    session.socket.send(JSON.stringify(envelope));
    this.deliveredTo(session, envelope);
    return envelope;
  }

  /** The contact `get /contacts/{identity}` answers for this customer (shaped like fixture 19b's resource). */
  setContact(customer: SandboxCustomer | string, contact: Record<string, unknown>): void {
    const identity = typeof customer === 'string' ? customer : identityOf(customer.address);
    this.contacts.set(identity.toLowerCase(), { identity, ...contact });
  }

  /** The router's account for a tunnel (`get lime://tunnel.<domain>/accounts/{tunnel id}`, fixture 19e). */
  setTunnelAccount(customer: SandboxCustomer, account: { fullName?: string; phoneNumber?: string }): void {
    this.tunnelAccounts.set(identityOf(customer.address).split('@')[0] ?? '', account);
  }

  /**
   * Earlier messages of the customer's thread (what the bot and the customer said before), oldest first; they
   * are put before everything already in the thread. `at` defaults to one minute apart, ending a minute ago.
   */
  seedThread(
    customer: SandboxCustomer,
    messages: Array<{ from: 'customer' | 'bot'; type?: string; content: unknown; at?: Date }>,
  ): ThreadItem[] {
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

  /** Commands on a path starting with `prefix` (`/threads/`, `/contacts/`) are answered after `delayMs`. */
  slowCommands(prefix: string, delayMs: number): void {
    this.commandFaults.push({ prefix, delayMs });
  }

  /** Commands on a path starting with `prefix` fail (default: 11 "The service is unavailable"). */
  failCommands(prefix: string, code = 11, description = 'The service is unavailable'): void {
    this.commandFaults.push({ prefix, failure: { code, description } });
  }

  /** Sends any raw frame to the bot (malformed-envelope tests). */
  sendRaw(bot: string, frame: string): void {
    const session = this.pickSession(bot);
    session.socket.send(frame);
    try {
      const envelope = JSON.parse(frame) as Envelope;
      if (envelope && typeof envelope === 'object') this.deliveredTo(session, envelope);
    } catch {
      // not JSON: nothing to notify about
    }
  }

  /** From now on, messages to `address` are answered with a `failed` notification (like a gateway timeout). */
  failDeliveriesTo(address: string, code = 86, description = 'The gateway switch operation timed out'): void {
    this.failingDeliveries.set(address, { code, description });
  }

  /** Messages the bot sent to one address, in order. */
  sentTo(address: string): SentByBot[] {
    return this.sent.filter((s) => s.envelope.to === address);
  }

  /** Resolves with the first sent message (past or future) that matches; rejects after `timeoutMs`. */
  waitForSent(
    predicate: (s: SentByBot) => boolean,
    timeoutMs = 10_000,
    description = 'a message from the bot',
  ): Promise<SentByBot> {
    return this.waitIn(this.sent, 'sent', predicate, timeoutMs, description);
  }

  /** Resolves with the first chat state the bot sent (past or future) that matches. */
  waitForChatState(
    predicate: (s: SentByBot) => boolean,
    timeoutMs = 10_000,
    description = 'a chat state from the bot',
  ): Promise<SentByBot> {
    return this.waitIn(this.chatStates, 'chatstate', predicate, timeoutMs, description);
  }

  private waitIn(
    list: SentByBot[],
    event: 'sent' | 'chatstate',
    predicate: (s: SentByBot) => boolean,
    timeoutMs: number,
    description: string,
  ): Promise<SentByBot> {
    const found = list.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off(event, listener);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${description}`));
      }, timeoutMs);
      const listener = (s: SentByBot): void => {
        if (!predicate(s)) return;
        clearTimeout(timer);
        this.off(event, listener);
        resolve(s);
      };
      this.on(event, listener);
    });
  }

  /**
   * Resolves true once the bot sent the notification `event` (e.g. `consumed`) for the message `id` (past or
   * future), false after `timeoutMs` without it. A customer's client uses it to see that the bot took a message.
   */
  waitForNotification(id: string, event = 'consumed', timeoutMs = 10_000): Promise<boolean> {
    const key = `${event} ${id}`;
    if (this.notified.has(key)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiters = this.notificationWaiters.get(key) ?? new Set<() => void>();
      this.notificationWaiters.set(key, waiters);
      const done = (value: boolean): void => {
        clearTimeout(timer);
        waiters.delete(wake);
        if (waiters.size === 0) this.notificationWaiters.delete(key);
        resolve(value);
      };
      const wake = (): void => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      waiters.add(wake);
    });
  }

  /** Turns the server's `accepted` notification for each message the bot sends off or on (on by default). */
  acknowledgeMessages(on: boolean): void {
    this.acknowledging = on;
  }

  /**
   * Loses the next `count` messages the bot sends (never recorded, never acknowledged), then drops the bot's
   * connections: what happens to frames written into a socket that is about to die.
   */
  loseMessagesThenDrop(count: number): void {
    this.toLose = count;
  }

  /** Turns the server's answers to WebSocket pings off or on (on by default). */
  answerPings(on: boolean): void {
    this.ponging = on;
  }

  /** Closes every bot connection abruptly (the SDK then reconnects). */
  dropConnections(): void {
    for (const s of this.sessions) s.socket.terminate();
  }

  /** The server fails the bot's established sessions (`failed` with the reason, then closes), as BLiP may. */
  failSession(
    bot: string,
    reason = { code: 11, description: 'The session was terminated by the server' },
  ): void {
    for (const session of this.established(bot)) this.end(session, 'failed', reason);
  }

  /** The server finishes the bot's established sessions (`finished`, then closes). */
  finishSession(bot: string): void {
    for (const session of this.established(bot)) this.end(session, 'finished');
  }

  async stop(): Promise<void> {
    for (const s of this.sessions) s.socket.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  /**
   * `POST /commands` (BLiP's HTTP commands): `Authorization: Key <base64 of identifier:access key>`, a LIME command
   * as the JSON body; answered 200 with the command's response (a failure is a `failure` status, as BLiP does),
   * 401 without valid credentials. The caller is the key's bot: a router reads its own threads.
   */
  private httpRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = (status: number, body?: unknown, identity?: string, uri?: string): void => {
        this.httpCommands.push({
          at: new Date(),
          status,
          ...(identity ? { identity } : {}),
          ...(uri ? { uri } : {}),
        });
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
        res.end(body === undefined ? undefined : JSON.stringify(body));
      };
      if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== '/commands') return reply(404);
      const identity = this.httpIdentity(req.headers.authorization);
      if (!identity) return reply(401, { error: 'The authorization key is not valid' });
      let command: Envelope;
      try {
        command = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Envelope;
      } catch {
        return reply(400, { error: 'The body is not JSON' }, identity);
      }
      if (!command || typeof command !== 'object' || typeof command.method !== 'string')
        return reply(400, { error: 'The body is not a LIME command' }, identity);
      this.answer(identity, command, (extra) =>
        reply(
          200,
          {
            id: command.id,
            method: command.method,
            from: `postmaster@${this.domain}/#sandbox`,
            to: identity,
            ...extra,
          },
          identity,
          String(command.uri ?? ''),
        ),
      );
    });
  }

  /** The bot whose HTTP key this is (`Key <base64 of identifier:access key decoded>`), or undefined. */
  private httpIdentity(header: string | undefined): string | undefined {
    const m = /^Key\s+(\S+)$/i.exec(header ?? '');
    if (!m) return undefined;
    for (const [identifier, accessKey] of Object.entries(this.options.accounts)) {
      if (LimeServer.httpKey(identifier, accessKey) === m[1])
        return `${identifier}@${this.domain}`.toLowerCase();
    }
    return undefined;
  }

  private established(bot: string): Session[] {
    return [...this.sessions].filter((s) => s.state === 'established' && s.identity === bot.toLowerCase());
  }

  private pickSession(bot: string): Session {
    const candidates = this.established(bot);
    if (candidates.length === 0) throw new Error(`no established session for ${bot}`);
    return candidates[this.roundRobin++ % candidates.length] as Session;
  }

  private accept(socket: WebSocket): void {
    const session: Session = { socket, id: randomUUID(), state: 'new' };
    this.sessions.add(session);
    socket.on('close', () => this.sessions.delete(session));
    socket.on('error', () => this.sessions.delete(session));
    socket.on('ping', (data) => {
      if (this.ponging && this.toLose === 0 && !this.dying) socket.pong(data);
    });
    socket.on('message', (data) => {
      // Frames still in flight after the server ended the session: a real server has stopped reading.
      if (session.state === 'finished') return;
      const text = String(data);
      try {
        let frame: unknown;
        try {
          frame = JSON.parse(text);
        } catch {
          return this.refuse(session, 'the frame is not JSON', text);
        }
        const refusal = refusalOf(frame);
        if (refusal && (this.options.strict ?? true)) return this.refuse(session, refusal, text);
        if (frame === null || typeof frame !== 'object' || Array.isArray(frame))
          return this.refuse(session, 'the frame is not a JSON object', text);
        this.handle(session, frame as Envelope);
      } catch (err) {
        // Whatever a client sends, the process hosting the sandbox goes on.
        this.refuse(session, `the server could not process the frame: ${(err as Error).message}`, text);
      }
    });
  }

  /** Ends the session because of a frame it could not read, and says why. */
  private refuse(session: Session, reason: string, frame: string): void {
    const refusal: Refusal = {
      at: new Date(),
      identity: session.identity,
      reason,
      frame: frame.slice(0, 200),
    };
    this.refusals.push(refusal);
    this.options.logger?.warn('sandbox LIME server ended a session: a frame a real server would refuse', {
      code: 'SANDBOX_FRAME_REFUSED',
      bot: session.identity,
      reason,
    });
    this.emit('refused', refusal);
    this.end(session, 'finished');
  }

  /** `finished` or `failed` (with a reason), then the socket closes. */
  private end(
    session: Session,
    state: 'finished' | 'failed',
    reason?: { code: number; description: string },
  ): void {
    const wasEstablished = session.state === 'established';
    session.state = 'finished';
    this.reply(session, {
      id: session.id,
      from: this.serverNode,
      ...(wasEstablished && session.node ? { to: session.node } : {}),
      state,
      ...(reason ? { reason } : {}),
    });
    session.socket.close();
  }

  private reply(session: Session, envelope: Envelope): void {
    if (session.socket.readyState === WebSocket.OPEN) session.socket.send(JSON.stringify(envelope));
  }

  private handle(session: Session, envelope: Envelope): void {
    const kind = kindOf(envelope);
    if (kind === 'session') return this.handleSession(session, envelope);
    if (session.state !== 'established') {
      return this.refuse(session, `a ${kind ?? 'frame'} before the session was established`, '');
    }
    if (kind === 'command') return this.handleCommand(session, envelope);
    if (kind === 'notification') {
      this.checkNotification(session, envelope);
      this.notifications.push(envelope);
      const key = `${String(envelope.event)} ${String(envelope.id)}`;
      this.notified.add(key);
      for (const wake of this.notificationWaiters.get(key) ?? []) wake();
      this.emit('notification', envelope);
      return;
    }
    if (kind === 'message' && envelope.type === CHAT_STATE_TYPE && typeof envelope.to === 'string') {
      const state: SentByBot = { at: new Date(), envelope: envelope as SentByBot['envelope'] };
      this.chatStates.push(state);
      this.emit('chatstate', state);
      return;
    }
    if (kind === 'message' && typeof envelope.to === 'string') {
      if (this.toLose > 0) {
        if (--this.toLose === 0) {
          this.dying = true;
          setTimeout(() => {
            this.dying = false;
            this.dropConnections();
          }, 20);
        }
        return;
      }
      const sent: SentByBot = { at: new Date(), envelope: envelope as SentByBot['envelope'] };
      this.sent.push(sent);
      this.emit('sent', sent);
      this.record(
        identityOf(envelope.to),
        threadItem(
          'sent',
          String(envelope.id ?? randomUUID()),
          String(envelope.type),
          envelope.content,
          sent.at,
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
            sent.at,
            {},
          ),
        );
      }
      const failure = this.failingDeliveries.get(envelope.to);
      if (failure && envelope.id) {
        this.reply(session, {
          id: envelope.id,
          from: envelope.to,
          to: session.identity,
          event: 'failed',
          reason: failure,
        });
      } else if (this.acknowledging && envelope.id) {
        // BLiP's server acknowledges every message with an id it took (the bot asked for it in `set /receipt`).
        this.reply(session, { id: envelope.id, from: this.serverNode, to: session.node, event: 'accepted' });
      }
    }
  }

  /** Remembers a message handed to a bot, so its notifications can be checked (bounded, oldest forgotten). */
  private deliveredTo(session: Session, envelope: Envelope): void {
    if (typeof envelope.id !== 'string' || typeof envelope.from !== 'string') return;
    this.delivered.set(envelope.id, { bot: session.identity ?? '', from: envelope.from });
    if (this.delivered.size > 200_000) {
      const oldest = this.delivered.keys().next().value;
      if (oldest !== undefined) {
        this.delivered.delete(oldest);
        this.routedReceived.delete(oldest);
      }
    }
  }

  /**
   * A real BLiP routes a notification by its `to` and `id`: TO the sender of the message it is about (the tunnel
   * address the customer wrote from), with that message's id. Anything else never reaches the customer's app.
   */
  private checkNotification(session: Session, n: Envelope): void {
    const event = String(n.event);
    if (event === 'accepted' || event === 'dispatched') return; // the server's own words, never the bot's
    const message = typeof n.id === 'string' ? this.delivered.get(n.id) : undefined;
    const problem = !message
      ? 'no message with this id was delivered to the bot'
      : message.bot !== session.identity
        ? `the message was delivered to ${message.bot}, not to ${String(session.identity)}`
        : typeof n.to !== 'string' || identityOf(n.to) !== identityOf(message.from)
          ? `addressed to ${String(n.to)}, not to the message's sender ${message.from}`
          : event === 'consumed' && !this.routedReceived.has(String(n.id))
            ? 'consumed before received'
            : undefined;
    if (!problem) {
      if (event === 'received') this.routedReceived.add(String(n.id));
      return;
    }
    this.notificationProblems.push({ at: new Date(), event, id: n.id, problem });
    this.options.logger?.warn('sandbox LIME server: a notification a real BLiP could not route', {
      code: 'SANDBOX_NOTIFICATION_MISROUTED',
      bot: session.identity,
      event,
      problem,
    });
  }

  private handleSession(session: Session, envelope: Envelope): void {
    const state = envelope.state;
    if (state === 'new' && session.state === 'new') {
      session.state = 'authenticating';
      this.reply(session, {
        id: session.id,
        state: 'authenticating',
        from: this.serverNode,
        schemeOptions: ['key'],
      });
      return;
    }
    if (state === 'authenticating' && session.state === 'authenticating') {
      const from = String(envelope.from ?? '');
      const [identity = '', instance = 'default'] = from.split('/');
      const identifier = identity.split('@')[0] ?? '';
      const auth = envelope.authentication as { key?: string } | undefined;
      const expected = this.options.accounts[identifier];
      if (envelope.scheme !== 'key' || !expected || auth?.key !== expected) {
        // A real BLiP server's words (lime-csharp's GENERAL_ERROR code).
        this.end(session, 'failed', { code: 1, description: 'The session authentication failed' });
        return;
      }
      session.state = 'established';
      session.identity = identity.toLowerCase();
      session.node = `${identity}/${instance}`;
      this.reply(session, { id: session.id, state: 'established', from: this.serverNode, to: session.node });
      this.emit('established', session.identity);
      return;
    }
    if (state === 'finishing') {
      this.end(session, 'finished');
    }
  }

  private handleCommand(session: Session, command: Envelope): void {
    this.commands.push(command);
    if (command.status) return; // a response to a command we sent (none today)
    const uri = String(command.uri ?? '');
    this.answer(session.identity ?? '', command, (extra) =>
      this.reply(session, {
        id: command.id,
        method: command.method,
        from: `postmaster@${this.domain}/#sandbox`,
        to: session.node,
        metadata: { '#command.uri': `lime://${session.identity}${uri}` },
        ...extra,
      }),
    );
  }

  /** Answers a command from `identity` (over its LIME session, or over HTTP) through `respond`. */
  private answer(
    identity: string,
    command: Envelope,
    respond: (extra: Envelope) => void,
    late = false,
  ): void {
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

/** `name@domain/instance` -> `name@domain`, lower case. */
function identityOf(node: string): string {
  return (node.split('/')[0] ?? '').toLowerCase();
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
