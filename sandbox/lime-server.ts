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
 *
 * This file keeps the class, its public API and what the router delivers to the bot; the parts it is made of:
 * ./lime-sessions.ts (sessions, authentication, refusals), ./lime-bot-messages.ts (what the bot sends: recorded,
 * acknowledged, failed or lost), ./lime-notifications.ts (the notification routing checks), ./lime-directory.ts
 * (contacts, tunnels, threads and the commands' answers), ./lime-http-commands.ts (BLiP's HTTP `POST /commands`),
 * ./lime-types.ts (the shapes they share).
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { BotMessages } from './lime-bot-messages';
import { LimeDirectory, type ThreadItem } from './lime-directory';
import { httpKey, serveHttpCommand } from './lime-http-commands';
import { NotificationRouting, type NotificationProblem } from './lime-notifications';
import { LimeSessions, type Refusal, type Session } from './lime-sessions';
import type { Envelope, LimeServerOptions, SandboxCustomer, SentByBot } from './lime-types';
import { CHAT_STATE_TYPE, type EnvelopeKind } from './lime-validation';

export type { ThreadItem } from './lime-directory';
export type { NotificationProblem } from './lime-notifications';
export type { Refusal } from './lime-sessions';
export type { Envelope, LimeServerOptions, SandboxCustomer, SentByBot } from './lime-types';

export class LimeServer extends EventEmitter {
  readonly domain: string;
  readonly router: string;
  /** Every message the bot sent, in order. */
  readonly sent: SentByBot[];
  /**
   * Every chat state the bot sent (`application/vnd.lime.chatstate+json`, validated strictly), kept apart from `sent`:
   * a chat state is no message the customer reads.
   */
  readonly chatStates: SentByBot[];
  /** Every notification the bot sent (received, consumed, failed...). */
  readonly notifications: Envelope[] = [];
  /** Every command the bot sent. */
  readonly commands: Envelope[] = [];
  /** Every session the server ended because of a frame a real LIME server could not deserialize. */
  readonly refusals: Refusal[];
  /** Every notification a real BLiP could not route (see NotificationProblem); the harness fails a test on one. */
  readonly notificationProblems: NotificationProblem[];
  /** Every request to `POST /commands` (BLiP's HTTP commands), with who it authenticated as (or why not). */
  readonly httpCommands: Array<{ at: Date; identity?: string; status: number; uri?: string }> = [];
  private readonly sessions: LimeSessions;
  private readonly directory: LimeDirectory;
  private readonly routing: NotificationRouting;
  private readonly botMessages: BotMessages;
  private readonly serverNode: string;

  private constructor(
    private readonly wss: WebSocketServer,
    options: LimeServerOptions,
    private readonly http: Server,
  ) {
    super();
    this.domain = options.domain ?? 'msging.net';
    this.router = options.router ?? `sandboxrouter@${this.domain}`;
    this.serverNode = `postmaster@${this.domain}/sandbox`;
    this.directory = new LimeDirectory(this.domain, this.router, options);
    this.routing = new NotificationRouting(options.logger);
    this.notificationProblems = this.routing.problems;
    this.sessions = new LimeSessions({
      serverNode: this.serverNode,
      accounts: options.accounts,
      strict: options.strict,
      logger: options.logger,
      events: this,
      answersPing: () => this.botMessages.answersPing(),
      onEnvelope: (session, kind, envelope) => this.handle(session, kind, envelope),
    });
    this.refusals = this.sessions.refusals;
    this.botMessages = new BotMessages({
      serverNode: this.serverNode,
      events: this,
      sessions: this.sessions,
      directory: this.directory,
    });
    this.sent = this.botMessages.sent;
    this.chatStates = this.botMessages.chatStates;
    wss.on('connection', (socket) => this.sessions.accept(socket));
  }

  static async start(options: LimeServerOptions): Promise<LimeServer> {
    // One port, as BLiP's two doors: the LIME WebSocket, and the HTTP commands (`POST /commands`).
    const holder: { server?: LimeServer } = {};
    const http = createServer((req, res) => {
      const server = holder.server;
      if (!server) return void res.writeHead(503).end();
      serveHttpCommand(
        {
          domain: server.domain,
          accounts: options.accounts,
          records: server.httpCommands,
          answer: (identity, command, respond) => server.directory.answer(identity, command, respond),
        },
        req,
        res,
      );
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
    return httpKey(identifier, accessKey);
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
    return this.directory.seedRouterThread(customer, messages);
  }

  /** Bot identities with an established session. */
  get connectedBots(): string[] {
    return this.sessions.connectedBots;
  }

  /** The customer as the bot sees them through the router: one stable tunnel per (router, bot, customer). */
  customer(originator: string, bot: string): SandboxCustomer {
    return this.directory.customer(originator, bot);
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
    const session = this.sessions.pick(bot);
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
    this.routing.deliveredTo(session.identity ?? '', envelope);
    this.directory.recordFromCustomer(customer, envelope, new Date(now));
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
    this.sessions.pick(bot).socket.send(JSON.stringify(envelope));
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
    const session = this.sessions.pick(bot);
    session.socket.send(JSON.stringify(envelope));
    this.routing.deliveredTo(session.identity ?? '', envelope);
    return envelope;
  }

  /** The contact `get /contacts/{identity}` answers for this customer (shaped like fixture 19b's resource). */
  setContact(customer: SandboxCustomer | string, contact: Record<string, unknown>): void {
    this.directory.setContact(customer, contact);
  }

  /** The router's account for a tunnel (`get lime://tunnel.<domain>/accounts/{tunnel id}`, fixture 19e). */
  setTunnelAccount(customer: SandboxCustomer, account: { fullName?: string; phoneNumber?: string }): void {
    this.directory.setTunnelAccount(customer, account);
  }

  /**
   * Earlier messages of the customer's thread (what the bot and the customer said before), oldest first; they
   * are put before everything already in the thread. `at` defaults to one minute apart, ending a minute ago.
   */
  seedThread(
    customer: SandboxCustomer,
    messages: Array<{ from: 'customer' | 'bot'; type?: string; content: unknown; at?: Date }>,
  ): ThreadItem[] {
    return this.directory.seedThread(customer, messages);
  }

  /** The thread of a customer as `get /threads` would list it (newest first). */
  thread(customer: SandboxCustomer): ThreadItem[] {
    return this.directory.thread(customer);
  }

  /** Commands on a path starting with `prefix` (`/threads/`, `/contacts/`) are answered after `delayMs`. */
  slowCommands(prefix: string, delayMs: number): void {
    this.directory.slowCommands(prefix, delayMs);
  }

  /** Commands on a path starting with `prefix` fail (default: 11 "The service is unavailable"). */
  failCommands(prefix: string, code = 11, description = 'The service is unavailable'): void {
    this.directory.failCommands(prefix, code, description);
  }

  /** Sends any raw frame to the bot (malformed-envelope tests). */
  sendRaw(bot: string, frame: string): void {
    const session = this.sessions.pick(bot);
    session.socket.send(frame);
    try {
      const envelope = JSON.parse(frame) as Envelope;
      if (envelope && typeof envelope === 'object')
        this.routing.deliveredTo(session.identity ?? '', envelope);
    } catch {
      // not JSON: nothing to notify about
    }
  }

  /** From now on, messages to `address` are answered with a `failed` notification (like a gateway timeout). */
  failDeliveriesTo(address: string, code = 86, description = 'The gateway switch operation timed out'): void {
    this.botMessages.failDeliveriesTo(address, code, description);
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
    return this.botMessages.waitIn(this.sent, 'sent', predicate, timeoutMs, description);
  }

  /** Resolves with the first chat state the bot sent (past or future) that matches. */
  waitForChatState(
    predicate: (s: SentByBot) => boolean,
    timeoutMs = 10_000,
    description = 'a chat state from the bot',
  ): Promise<SentByBot> {
    return this.botMessages.waitIn(this.chatStates, 'chatstate', predicate, timeoutMs, description);
  }

  /**
   * Resolves true once the bot sent the notification `event` (e.g. `consumed`) for the message `id` (past or
   * future), false after `timeoutMs` without it. A customer's client uses it to see that the bot took a message.
   */
  waitForNotification(id: string, event = 'consumed', timeoutMs = 10_000): Promise<boolean> {
    return this.routing.waitFor(id, event, timeoutMs);
  }

  /** Turns the server's `accepted` notification for each message the bot sends off or on (on by default). */
  acknowledgeMessages(on: boolean): void {
    this.botMessages.acknowledging = on;
  }

  /**
   * Loses the next `count` messages the bot sends (never recorded, never acknowledged), then drops the bot's
   * connections: what happens to frames written into a socket that is about to die.
   */
  loseMessagesThenDrop(count: number): void {
    this.botMessages.toLose = count;
  }

  /** Turns the server's answers to WebSocket pings off or on (on by default). */
  answerPings(on: boolean): void {
    this.botMessages.ponging = on;
  }

  /** Closes every bot connection abruptly (the SDK then reconnects). */
  dropConnections(): void {
    this.sessions.terminateAll();
  }

  /** The server fails the bot's established sessions (`failed` with the reason, then closes), as BLiP may. */
  failSession(
    bot: string,
    reason = { code: 11, description: 'The session was terminated by the server' },
  ): void {
    for (const session of this.sessions.established(bot)) this.sessions.end(session, 'failed', reason);
  }

  /** The server finishes the bot's established sessions (`finished`, then closes). */
  finishSession(bot: string): void {
    for (const session of this.sessions.established(bot)) this.sessions.end(session, 'finished');
  }

  async stop(): Promise<void> {
    this.sessions.terminateAll();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  /** A frame of an established session (the session envelopes are ./lime-sessions.ts's). */
  private handle(session: Session, kind: EnvelopeKind | undefined, envelope: Envelope): void {
    if (kind === 'command') return this.handleCommand(session, envelope);
    if (kind === 'notification') {
      this.routing.check(session.identity, envelope);
      this.notifications.push(envelope);
      this.routing.sent(envelope);
      this.emit('notification', envelope);
      return;
    }
    if (kind !== 'message' || !hasRecipient(envelope)) return;
    if (envelope.type === CHAT_STATE_TYPE) this.botMessages.chatState(envelope);
    else this.botMessages.message(session, envelope);
  }

  private handleCommand(session: Session, command: Envelope): void {
    this.commands.push(command);
    if (command.status) return; // a response to a command we sent (none today)
    const uri = String(command.uri ?? '');
    this.directory.answer(session.identity ?? '', command, (extra) =>
      this.sessions.reply(session, {
        id: command.id,
        method: command.method,
        from: `postmaster@${this.domain}/#sandbox`,
        to: session.node,
        metadata: { '#command.uri': `lime://${session.identity}${uri}` },
        ...extra,
      }),
    );
  }
}

function hasRecipient(envelope: Envelope): envelope is Envelope & { to: string } {
  return typeof envelope.to === 'string';
}
