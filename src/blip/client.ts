import { setTimeout as sleep } from 'node:timers/promises';
import {
  ClientBuilder,
  type Client,
  type LimeCommand,
  type LimeMessage,
  type LimeNotification,
  type LimeReason,
} from 'blip-sdk';
import { describeError, RetryableError, UnavailableError } from '../core/errors';
import type { Logger } from '../core/logger';
import { identityOf } from './envelope';
import { type ConfirmingSession, SendConfirmations } from './send-confirmation';
import { BlipConnectError, classifyConnectFailure } from './session-errors';
import { type FrameTooLarge, LimeTransport } from './transport';

export { BlipConnectError } from './session-errors';

export interface BlipConnectionOptions {
  identifier: string;
  accessKey: string;
  domain: string;
  host: string;
  port: number;
  scheme: 'wss' | 'ws';
  instance: string;
  commandTimeoutMs: number;
  /**
   * On a session whose server acknowledges messages (`accepted`), how long a sent message waits for its
   * acknowledgement before the socket's own word (a ping/pong round trip) is taken instead. 0 = do not wait at all
   * (a message written into a dying socket is then lost). Default 1000.
   */
  sendConfirmTimeoutMs?: number;
  /** How long the WebSocket connection plus the LIME session handshake may take, up to `established`. */
  handshakeTimeoutMs?: number;
  /** The largest LIME envelope taken from BLiP, in bytes (see transport.ts). Default 8 MiB. */
  maxFrameBytes?: number;
}

/** Decides whether a message reaches the receivers; a reason refuses it (the sender gets a `failed`). */
export type MessageScreen = (message: LimeMessage) => LimeReason | undefined;

/** What one built client (one socket, one session) carries. */
interface Session extends ConfirmingSession {
  client: Client;
  /** The server's end of this session was logged. */
  endLogged?: boolean;
}

/**
 * A typed wrapper over blip-sdk's Client:
 * - our own transport (./transport.ts): frame limits, guarded parsing, real connect/close reasons, ping/pong;
 * - receivers registered before connect(), every receiver's error caught (the SDK leaves a rejected receiver
 *   promise unhandled);
 * - the session's end handled: a session the server fails or finishes is logged with its reason and treated as a
 *   drop (the SDK's session promise rejects with the failed envelope; nothing else would catch it);
 * - sends that fail with a RetryableError instead of throwing synchronously from inside the SDK, and resolve only
 *   once they count as sent (./send-confirmation.ts);
 * - our own reconnect loop: the SDK's gives up after 10 failures with an exception thrown from a timer (which would
 *   kill the process). We take the transport's close away from the SDK and reconnect with a fresh client, with
 *   capped exponential backoff and jitter, for as long as it takes.
 */
export class BlipConnection {
  private session?: Session;
  private readonly sessions = new WeakMap<Client, Session>();
  private state: 'idle' | 'connected' | 'reconnecting' | 'closed' = 'idle';
  private reconnectAttempt = 0;
  private reconnectTimer?: NodeJS.Timeout;
  private readonly closing = new AbortController();
  private readonly messageHandlers: Array<(message: LimeMessage) => Promise<void>> = [];
  private readonly notificationHandlers: Array<(notification: LimeNotification) => Promise<void>> = [];
  private readonly screens: MessageScreen[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly confirmations: SendConfirmations;
  /** A message counted as sent without BLiP's acknowledgement on a session that acknowledges (metric hook). */
  onUnconfirmedSend?: () => void;
  /** A send confirmed, by BLiP's notification or by the socket (metric hook). */
  onSendConfirmed?: (by: 'notification' | 'socket') => void;
  /** A frame over the limit: refused (`dropped` false) or the socket closed for it (metric hook). */
  onFrameTooLarge?: (dropped: boolean) => void;

  constructor(
    private readonly options: BlipConnectionOptions,
    private readonly logger: Logger,
    private readonly reconnect: { baseDelayMs: number; maxDelayMs: number } = {
      baseDelayMs: 250,
      maxDelayMs: 30_000,
    },
  ) {
    this.confirmations = new SendConfirmations(
      {
        confirmTimeoutMs: options.sendConfirmTimeoutMs ?? 1_000,
        roundTripTimeoutMs: options.commandTimeoutMs,
      },
      logger,
      {
        onUnacknowledged: () => this.onUnconfirmedSend?.(),
        onConfirmed: (by) => this.onSendConfirmed?.(by),
        onDeadSocket: (session, err) => {
          this.logger.warn(
            'BLiP did not answer a WebSocket ping; dropping the connection to open a new one',
            {
              code: 'BLIP_PING_TIMEOUT',
              error: err.message,
            },
          );
          session.transport.terminate('no answer to a ping');
        },
      },
    );
  }

  /** The bot's own identity, `identifier@domain`. */
  get identity(): string {
    return `${this.options.identifier}@${this.options.domain}`.toLowerCase();
  }

  private get where(): string {
    return `${this.options.scheme}://${this.options.host}:${this.options.port}`;
  }

  onMessage(handler: (message: LimeMessage) => Promise<void>): void {
    this.messageHandlers.push(handler);
  }

  onNotification(handler: (notification: LimeNotification) => Promise<void>): void {
    this.notificationHandlers.push(handler);
  }

  /**
   * Screens every incoming message before the SDK sees it: a refused message never reaches the receivers, and
   * its sender gets one `failed` notification with the reason (no `received`/`consumed`).
   */
  screenMessages(screen: MessageScreen): void {
    this.screens.push(screen);
  }

  /**
   * Opens the first session. Failures the server states (a refused key: the LIME session `failed`) throw at once
   * with the server's reason; a BLiP that cannot be reached (or does not answer) is tried again, with backoff,
   * for `retryForMs` (0: one attempt). Throws a BlipConnectError naming what failed and why.
   */
  async connect(options: { retryForMs?: number } = {}): Promise<void> {
    const deadline = Date.now() + (options.retryForMs ?? 0);
    for (let attempt = 1; ; attempt++) {
      try {
        const session = await this.open();
        if (this.state === 'closed') {
          this.discard(session);
          throw new BlipConnectError('closed while connecting', true);
        }
        this.session = session;
        break;
      } catch (err) {
        const failure =
          err instanceof BlipConnectError ? err : classifyConnectFailure(err, this.describeTarget());
        const waitMs = Math.min(5_000, 250 * 2 ** (attempt - 1));
        if (failure.permanent || this.state === 'closed' || Date.now() + waitMs > deadline) throw failure;
        this.logger.warn('BLiP not reachable yet; trying again', {
          code: 'BLIP_CONNECT_RETRY',
          attempt,
          retryInMs: waitMs,
          error: failure.message,
        });
        await sleep(waitMs, undefined, { signal: this.closing.signal }).catch(() => {
          throw failure;
        });
      }
    }
    this.state = 'connected';
    this.logger.info('BLiP session established', {
      host: this.options.host,
      identifier: this.options.identifier,
    });
  }

  isConnected(): boolean {
    return this.state === 'connected';
  }

  /**
   * Sends one message and resolves once it counts as sent (./send-confirmation.ts). Fails with UnavailableError
   * when the session is down or its socket is lost before then (the core re-sends the same id after the
   * reconnect), and with RetryableError when the SDK refuses the frame. A message id already counted as sent is
   * not sent again (a retried unit of work re-sends only what is missing).
   */
  send(message: LimeMessage): Promise<void> {
    if (message.id && this.confirmations.isConfirmed(message.id)) return Promise.resolve();
    let session: Session;
    try {
      session = this.connectedSession();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    try {
      session.client.sendMessage(message);
    } catch (err) {
      return Promise.reject(
        new RetryableError(`BLiP send failed: ${describeError(err)}`, 'BLIP_SEND_FAILED', undefined, {
          cause: err,
        }),
      );
    }
    // Registered after the write: a notification can only arrive on a later turn of the event loop.
    return message.id ? this.confirmations.await(session, message.id) : Promise.resolve();
  }

  async sendCommand(command: LimeCommand): Promise<LimeCommand> {
    return this.connectedSession().client.sendCommand(command);
  }

  /**
   * Lets the receivers that are running finish (bounded), then finishes the session. Closing under a running
   * receiver would make the SDK fail to send its `consumed` notification.
   */
  async close(drainMs = 2_000, closeMs = 2_000): Promise<void> {
    this.closing.abort();
    if (this.inFlight.size > 0) {
      await withTimeout(Promise.allSettled([...this.inFlight]), drainMs).catch(() =>
        this.logger.warn('closing BLiP with receivers still running', {
          running: this.inFlight.size,
          code: 'BLIP_DRAIN_TIMEOUT',
        }),
      );
    }
    const wasConnected = this.state === 'connected';
    this.state = 'closed';
    this.confirmations.fail();
    clearTimeout(this.reconnectTimer);
    const session = this.session;
    if (!session) return;
    try {
      if (wasConnected) await withTimeout(session.client.close(), closeMs);
    } catch (err) {
      this.logger.warn('BLiP session did not close cleanly', { error: describeError(err) });
    } finally {
      this.discard(session);
    }
  }

  private connectedSession(): Session {
    if (this.state !== 'connected' || !this.session) {
      throw new UnavailableError('BLiP session not established', 'BLIP_NOT_CONNECTED');
    }
    return this.session;
  }

  private describeTarget(): string {
    return `${this.where} as ${this.identity}`;
  }

  /** Builds a client on our transport, connects it, and returns its session once presence and receipts are set. */
  private async open(): Promise<Session> {
    const built: { session?: Session } = {};
    const transport = new LimeTransport({
      maxFrameBytes: this.options.maxFrameBytes ?? 8 * 1024 * 1024,
      logger: this.logger,
      onClosed: (info) => {
        if (built.session)
          this.handleClose(built.session, `socket closed (${info.code} ${info.description})`);
      },
      onFrameTooLarge: (info) => this.frameTooLarge(built.session, info),
    });
    const client = new ClientBuilder()
      .withIdentifier(this.options.identifier)
      .withAccessKey(this.options.accessKey)
      .withDomain(this.options.domain)
      .withScheme(this.options.scheme)
      .withHostName(this.options.host)
      .withPort(this.options.port)
      .withInstance(this.options.instance)
      .withCommandTimeout(this.options.commandTimeoutMs)
      .withTransportFactory(() => transport)
      .build();
    const session: Session = { client, transport, acknowledges: false };
    built.session = session;
    this.sessions.set(client, session);
    this.screenIncoming(session);
    guardNotifications(client, this.logger);
    // The session's end, whoever ends it. The SDK also rejects its session promise with a failed session: caught
    // here (the handler below says what happened), or it is an unhandled rejection.
    client.sessionPromise.catch(() => {});
    client.addSessionFailedHandlers((envelope) => this.sessionEnded(session, 'failed', envelope));
    client.addSessionFinishedHandlers((envelope) => this.sessionEnded(session, 'finished', envelope));
    // Registered before connect(): messages can arrive before connect() resolves.
    client.addMessageReceiver(true, (message) => this.dispatch('message', this.messageHandlers, message));
    client.addNotificationReceiver(true, (notification) => {
      this.confirmations.notified(session, notification);
      return this.dispatch('notification', this.notificationHandlers, notification);
    });

    const handshakeMs = this.options.handshakeTimeoutMs ?? 5_000;
    let timer: NodeJS.Timeout | undefined;
    const handshake = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        if (transport.sessionState === 'established') return; // presence/receipt have the command timeout
        reject(
          new BlipConnectError(
            `no LIME session from BLiP at ${this.describeTarget()} within ${handshakeMs} ms (BLIP_HANDSHAKE_TIMEOUT_MS): ` +
              (transport.isOpen
                ? 'the server did not answer the session (a malformed BLIP_ACCESS_KEY makes BLiP drop it silently)'
                : 'the WebSocket connection did not open'),
            false,
          ),
        );
      }, handshakeMs);
    });
    try {
      await Promise.race([client.connect(), handshake]);
    } catch (err) {
      this.discard(session);
      throw err instanceof BlipConnectError ? err : classifyConnectFailure(err, this.describeTarget());
    } finally {
      clearTimeout(timer);
    }
    return session;
  }

  /** Runs the screens on every incoming message before lime-js (and so the SDK) sees it. */
  private screenIncoming(session: Session): void {
    const transport = session.transport;
    let inner = transport.onEnvelope;
    Object.defineProperty(transport, 'onEnvelope', {
      configurable: true,
      get: () => (envelope: unknown) => {
        const message = envelope as LimeMessage;
        if (this.screens.length > 0 && 'content' in (envelope as object)) {
          for (const screen of this.screens) {
            const reason = screen(message);
            if (reason) return this.refuse(session, message, reason);
          }
        }
        inner(envelope);
      },
      // lime-js assigns its own handler when it builds the channel: it runs after the screens.
      set: (handler: (envelope: unknown) => void) => {
        inner = handler;
      },
    });
  }

  /** Tells the sender of a refused message why, with one `failed` notification (best effort). */
  private refuse(session: Session, message: LimeMessage, reason: LimeReason): void {
    if (!message.id || !message.from || session.transport.sessionState !== 'established') return;
    try {
      session.transport.send({ id: message.id, to: message.pp ?? message.from, event: 'failed', reason });
    } catch (err) {
      this.logger.debug('could not tell a refused sender', { error: describeError(err) });
    }
  }

  private frameTooLarge(session: Session | undefined, info: FrameTooLarge): void {
    const envelope = info.envelope;
    const kind = !envelope
      ? 'frame'
      : 'content' in envelope
        ? 'message'
        : 'event' in envelope
          ? 'notification'
          : 'method' in envelope
            ? 'command'
            : 'session';
    const from = typeof envelope?.from === 'string' ? envelope.from : undefined;
    this.logger.warn(
      envelope
        ? `LIME ${kind} larger than BLIP_MAX_FRAME_BYTES refused; the session goes on`
        : 'LIME frame larger than the WebSocket limit; the client closed the socket (the bridge reconnects)',
      {
        code: 'LIME_FRAME_TOO_LARGE',
        bytes: info.bytes,
        limit: info.limit,
        kind,
        messageId: typeof envelope?.id === 'string' ? envelope.id : undefined,
        from: from ? identityOf(from).replace(/^[^@]+/, (name) => `${name.slice(0, 4)}…`) : undefined,
      },
    );
    this.onFrameTooLarge?.(!envelope);
    if (!session || !envelope) return;
    const reason = {
      code: 21,
      description: `The envelope is too large for this bot (${info.bytes ?? '?'} bytes; it takes up to ${info.limit})`,
    };
    if (kind === 'message') this.refuse(session, envelope as unknown as LimeMessage, reason);
    // A command answer the bridge waits for: answer it with a failure at once instead of a timeout.
    if (kind === 'command' && typeof envelope.status === 'string' && typeof envelope.id === 'string') {
      session.transport.onEnvelope({ id: envelope.id, method: envelope.method, status: 'failure', reason });
    }
  }

  /** The server failed or finished an established session: say why, and reconnect as for a drop. */
  private sessionEnded(session: Session, how: 'failed' | 'finished', envelope: unknown): void {
    // A handshake failure (not our session yet) is thrown by open(); our own close ends the session too.
    if (session !== this.session || this.state === 'closed' || session.endLogged) return;
    session.endLogged = true;
    const reason = (envelope as { reason?: LimeReason } | undefined)?.reason;
    const meta = {
      code: how === 'failed' ? 'BLIP_SESSION_FAILED' : 'BLIP_SESSION_FINISHED',
      reasonCode: reason?.code,
      reasonDescription: reason?.description,
    };
    if (how === 'failed') this.logger.error('BLiP failed the session; reconnecting', meta);
    else this.logger.warn('BLiP finished the session; reconnecting', meta);
    this.handleClose(session, `session ${how}`);
  }

  private handleClose(session: Session, why: string): void {
    if (session !== this.session || this.state !== 'connected') return; // an old client, or we are closing
    this.state = 'reconnecting';
    this.logger.warn('BLiP connection lost; reconnecting', {
      host: this.options.host,
      code: 'BLIP_DISCONNECTED',
      why,
      unacknowledgedSends: this.confirmations.pending,
    });
    this.confirmations.fail(session);
    this.discard(session);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.state !== 'reconnecting') return;
    const ceiling = Math.min(
      this.reconnect.maxDelayMs,
      this.reconnect.baseDelayMs * 2 ** this.reconnectAttempt,
    );
    const delayMs = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    this.reconnectAttempt++;
    this.reconnectTimer = setTimeout(() => {
      this.open().then(
        (session) => {
          if (this.state !== 'reconnecting') return this.discard(session); // closed meanwhile
          this.session = session;
          this.state = 'connected';
          this.logger.info('BLiP session re-established', { attempts: this.reconnectAttempt });
          this.reconnectAttempt = 0;
        },
        (err: unknown) => {
          this.logger.warn('BLiP reconnect attempt failed', {
            attempt: this.reconnectAttempt,
            code: 'BLIP_RECONNECT_FAILED',
            error: describeError(err),
          });
          this.scheduleReconnect();
        },
      );
    }, delayMs);
  }

  /** Drops a client that is not (or no longer) established, without waiting for it. */
  private discard(session: Session): void {
    try {
      // Marks the client as closing (no SDK reconnect); throws when its session is not established.
      session.client.close().catch(() => {});
    } catch {
      // not established
    }
    session.transport.terminate('discarded');
  }

  private dispatch<T>(what: string, handlers: Array<(e: T) => Promise<void>>, envelope: T): Promise<void> {
    const run = this.runHandlers(what, handlers, envelope);
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
    return run;
  }

  private async runHandlers<T>(
    what: string,
    handlers: Array<(e: T) => Promise<void>>,
    envelope: T,
  ): Promise<void> {
    for (const handler of handlers) {
      try {
        await handler(envelope);
      } catch (err) {
        // Never let an error escape into the SDK: it would be an unhandled rejection and no `consumed`.
        this.logger.error(`unhandled error in a BLiP ${what} handler`, {
          code: 'BLIP_HANDLER_ERROR',
          error: describeError(err),
        });
      }
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(describeError(e)));
      },
    );
  });
}

/**
 * The SDK sends each message's `consumed` (and `failed`) notification itself once the receivers are done, inside a
 * promise chain nobody observes: when the socket dropped while a receiver ran, the send throws ("The connection is
 * not open") and surfaced as an unhandled rejection (chaos suite). The notification is lost either way; the
 * customer's client may send the message again, and the dedupe mark makes that a no-op. Logged as what it is.
 */
export function guardNotifications(client: Pick<Client, 'sendNotification'>, logger: Logger): void {
  const send = client.sendNotification.bind(client);
  client.sendNotification = (notification) => {
    try {
      send(notification);
    } catch (err) {
      logger.warn('BLiP notification not sent: the connection is closed', {
        code: 'BLIP_NOTIFICATION_LOST',
        event: notification.event,
        error: describeError(err),
      });
    }
  };
}
