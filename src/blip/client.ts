import {
  ClientBuilder,
  type Client,
  type LimeCommand,
  type LimeMessage,
  type LimeNotification,
} from 'blip-sdk';
import WebSocketTransport from 'lime-transport-websocket';
import { errorMessage, RetryableError, UnavailableError } from '../core/errors';
import type { Logger } from '../core/logger';

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
   * How long a sent message waits for BLiP's first notification about it (`accepted` from the server, or any later
   * event) before it counts as sent anyway. 0 = do not wait (a message written into a dying socket is then lost).
   */
  sendConfirmTimeoutMs?: number;
}

/** A sent message waiting for BLiP to acknowledge it. */
interface AwaitedSend {
  client: Client;
  settle(err?: Error): void;
}

/** Ids of messages BLiP acknowledged, kept so that a retry of a unit of work does not send a part twice. */
const CONFIRMED_IDS_KEPT = 20_000;

/**
 * A typed wrapper over blip-sdk's Client:
 * - receivers registered before connect(), every receiver's error caught (the SDK leaves a rejected receiver
 *   promise unhandled);
 * - sends that fail with a RetryableError instead of throwing synchronously from inside the SDK;
 * - our own reconnect loop: the SDK's gives up after 10 failures with an exception thrown from a timer (which would
 *   kill the process). We take the transport's close away from the SDK and reconnect with a fresh client, with
 *   capped exponential backoff and jitter, for as long as it takes.
 */
export class BlipConnection {
  private client?: Client;
  /** The transport of each client we built, to close sockets of clients that never established a session. */
  private readonly transports = new WeakMap<Client, { close(): unknown }>();
  private state: 'idle' | 'connected' | 'reconnecting' | 'closed' = 'idle';
  private reconnectAttempt = 0;
  private reconnectTimer?: NodeJS.Timeout;
  private readonly messageHandlers: Array<(message: LimeMessage) => Promise<void>> = [];
  private readonly notificationHandlers: Array<(notification: LimeNotification) => Promise<void>> = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly awaiting = new Map<string, AwaitedSend[]>();
  private readonly confirmedIds = new Set<string>();
  /** Called when a message counted as sent without any notification from BLiP (metric hook). */
  onUnconfirmedSend?: () => void;

  constructor(
    private readonly options: BlipConnectionOptions,
    private readonly logger: Logger,
    private readonly reconnect: { baseDelayMs: number; maxDelayMs: number } = {
      baseDelayMs: 250,
      maxDelayMs: 30_000,
    },
  ) {}

  /** The bot's own identity, `identifier@domain`. */
  get identity(): string {
    return `${this.options.identifier}@${this.options.domain}`.toLowerCase();
  }

  onMessage(handler: (message: LimeMessage) => Promise<void>): void {
    this.messageHandlers.push(handler);
  }

  onNotification(handler: (notification: LimeNotification) => Promise<void>): void {
    this.notificationHandlers.push(handler);
  }

  /** Opens the first session; fails with a clear message (bad key, unreachable host) instead of retrying. */
  async connect(): Promise<void> {
    this.client = await this.open();
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
   * Sends one message and resolves once BLiP acknowledged it: the first notification about its id (`accepted` from
   * the server, or `dispatched`/`received`/`consumed`/`failed`). A frame written into a socket that is dying is lost
   * without an error from the SDK; waiting for the acknowledgement is what makes the send at-least-once. Fails with
   * UnavailableError when the session is down or drops before the acknowledgement (the core re-sends the same id
   * after the reconnect), and with RetryableError when the SDK refuses the frame. Without an acknowledgement
   * within `sendConfirmTimeoutMs` while the session stays up, the message counts as sent (logged, counted).
   * A message id BLiP already acknowledged is not sent again (a retried unit of work re-sends only what is missing).
   */
  send(message: LimeMessage): Promise<void> {
    if (message.id && this.confirmedIds.has(message.id)) return Promise.resolve();
    let client: Client;
    try {
      client = this.connectedClient();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const timeoutMs = this.options.sendConfirmTimeoutMs ?? 0;
    const id = message.id;
    try {
      client.sendMessage(message);
    } catch (err) {
      return Promise.reject(
        new RetryableError(`BLiP send failed: ${reasonOf(err)}`, 'BLIP_SEND_FAILED', undefined, {
          cause: err,
        }),
      );
    }
    // Registered after the write: a notification can only arrive on a later turn of the event loop.
    return id && timeoutMs > 0 ? this.awaitConfirmation(client, id, timeoutMs) : Promise.resolve();
  }

  private awaitConfirmation(client: Client, id: string, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const entry: AwaitedSend = {
        client,
        settle: (err) => {
          clearTimeout(timer);
          if (err) reject(err);
          else resolve();
        },
      };
      const timer = setTimeout(() => {
        this.removeAwaited(id, entry);
        if (this.client === client && this.state === 'connected') {
          this.logger.warn('BLiP did not acknowledge a sent message; counting it as sent', {
            code: 'BLIP_SEND_UNCONFIRMED',
            messageId: id,
            waitedMs: timeoutMs,
          });
          this.onUnconfirmedSend?.();
          entry.settle();
        } else {
          entry.settle(lostInFlight());
        }
      }, timeoutMs);
      timer.unref();
      const list = this.awaiting.get(id);
      if (list) list.push(entry);
      else this.awaiting.set(id, [entry]);
    });
  }

  private removeAwaited(id: string, entry: AwaitedSend): void {
    const list = this.awaiting.get(id);
    if (!list) return;
    const rest = list.filter((e) => e !== entry);
    if (rest.length > 0) this.awaiting.set(id, rest);
    else this.awaiting.delete(id);
  }

  /** Settles every send of `id` that waits for an acknowledgement. */
  private settleAwaited(id: string): void {
    const list = this.awaiting.get(id);
    if (!list) return;
    this.awaiting.delete(id);
    for (const entry of list) entry.settle();
  }

  /** A notification from BLiP about one of our messages: the message reached the server. */
  private acknowledge(notification: LimeNotification): void {
    const id = notification.id;
    if (!id || !this.awaiting.has(id)) return;
    this.confirmedIds.add(id);
    if (this.confirmedIds.size > CONFIRMED_IDS_KEPT) {
      const oldest = this.confirmedIds.values().next().value;
      if (oldest !== undefined) this.confirmedIds.delete(oldest);
    }
    this.settleAwaited(id);
  }

  /** Fails every send still waiting on `client` (its socket is gone): the core re-sends them after the reconnect. */
  private failAwaited(client?: Client): void {
    for (const [id, list] of [...this.awaiting]) {
      for (const entry of list) {
        if (client && entry.client !== client) continue;
        this.removeAwaited(id, entry);
        entry.settle(lostInFlight());
      }
    }
  }

  async sendCommand(command: LimeCommand): Promise<LimeCommand> {
    return this.connectedClient().sendCommand(command);
  }

  /**
   * Lets the receivers that are running finish (bounded), then finishes the session. Closing under a running
   * receiver would make the SDK fail to send its `consumed` notification (an unhandled rejection inside it).
   */
  async close(drainMs = 5_000): Promise<void> {
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
    this.failAwaited();
    clearTimeout(this.reconnectTimer);
    if (!this.client) return;
    try {
      if (wasConnected) await withTimeout(this.client.close(), 3_000);
      else this.discard(this.client);
    } catch (err) {
      this.logger.warn('BLiP session did not close cleanly', { error: reasonOf(err) });
    }
  }

  private connectedClient(): Client {
    if (this.state !== 'connected' || !this.client) {
      throw new UnavailableError('BLiP session not established', 'BLIP_NOT_CONNECTED');
    }
    return this.client;
  }

  /**
   * The transport parses each frame with a bare JSON.parse and hands the result to lime-js, which assumes an
   * object: a malformed frame (not JSON, `null`, a number) throws inside the socket's message callback, an
   * uncaught exception that would kill the process. Each frame is handled inside a try/catch instead; a bad one
   * is logged and dropped, the session goes on.
   */
  private guardIncomingFrames(transport: WebSocketTransport): void {
    // The transport's internals are untyped JavaScript: `open(uri)` creates `_webSocket` and sets its onmessage
    // synchronously, before the promise it returns settles.
    const raw = transport as unknown as {
      open(uri: string): Promise<unknown>;
      _webSocket?: { onmessage: ((event: { data: unknown }) => void) | null };
    };
    const open = raw.open.bind(raw);
    raw.open = (uri: string) => {
      const opening = open(uri);
      const socket = raw._webSocket;
      const handle = socket?.onmessage;
      if (socket && handle) {
        socket.onmessage = (event) => {
          try {
            handle.call(socket, event);
          } catch (err) {
            this.logger.warn('malformed LIME frame dropped', {
              code: 'LIME_BAD_FRAME',
              error: errorMessage(err),
              bytes: typeof event.data === 'string' ? event.data.length : undefined,
            });
          }
        };
      }
      return opening;
    };
  }

  /** Builds a client whose transport reports its close to us (not to the SDK's reconnect) and connects it. */
  private async open(): Promise<Client> {
    const built: { client?: Client } = {};
    const onTransportClosed = (): void => {
      if (built.client) this.handleClose(built.client);
    };
    let transport: WebSocketTransport | undefined;
    const transportFactory = (): unknown => {
      transport = new WebSocketTransport();
      // The SDK assigns transport.onClose to its own reconnect; keep ours in its place.
      Object.defineProperty(transport, 'onClose', {
        configurable: true,
        get: () => onTransportClosed,
        set: () => {},
      });
      this.guardIncomingFrames(transport);
      return transport;
    };
    const client = new ClientBuilder()
      .withIdentifier(this.options.identifier)
      .withAccessKey(this.options.accessKey)
      .withDomain(this.options.domain)
      .withScheme(this.options.scheme)
      .withHostName(this.options.host)
      .withPort(this.options.port)
      .withInstance(this.options.instance)
      .withCommandTimeout(this.options.commandTimeoutMs)
      .withTransportFactory(transportFactory)
      .build();
    built.client = client;
    guardNotifications(client, this.logger);
    if (transport) this.transports.set(client, transport as unknown as { close(): unknown });
    // Registered before connect(): messages can arrive before connect() resolves.
    client.addMessageReceiver(true, (message) => this.dispatch('message', this.messageHandlers, message));
    client.addNotificationReceiver(true, (notification) => {
      this.acknowledge(notification);
      return this.dispatch('notification', this.notificationHandlers, notification);
    });
    client.addSessionFailedHandlers((session) => {
      this.logger.error('BLiP session failed', { code: 'BLIP_SESSION_FAILED', reason: reasonOf(session) });
    });
    try {
      await withTimeout(client.connect(), this.options.commandTimeoutMs * 2 + 5_000);
    } catch (err) {
      this.discard(client);
      throw new Error(
        `Could not open a BLiP session at ${this.options.scheme}://${this.options.host}:${this.options.port} as ${this.identity}: ${reasonOf(err)}`,
      );
    }
    return client;
  }

  private handleClose(client: Client): void {
    if (client !== this.client || this.state !== 'connected') return; // an old client, or we are closing
    this.state = 'reconnecting';
    this.logger.warn('BLiP connection lost; reconnecting', {
      host: this.options.host,
      code: 'BLIP_DISCONNECTED',
      unacknowledgedSends: [...this.awaiting.values()].reduce((n, list) => n + list.length, 0),
    });
    this.failAwaited(client);
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
        (client) => {
          if (this.state !== 'reconnecting') return this.discard(client); // closed meanwhile
          const previous = this.client;
          this.client = client;
          this.state = 'connected';
          if (previous) this.discard(previous);
          this.logger.info('BLiP session re-established', { attempts: this.reconnectAttempt });
          this.reconnectAttempt = 0;
        },
        (err: unknown) => {
          this.logger.warn('BLiP reconnect attempt failed', {
            attempt: this.reconnectAttempt,
            code: 'BLIP_RECONNECT_FAILED',
            error: reasonOf(err),
          });
          this.scheduleReconnect();
        },
      );
    }, delayMs);
  }

  /** Drops a client that is not (or no longer) established, without waiting for it. */
  private discard(client: Client): void {
    try {
      // Marks the client as closing (no SDK reconnect); throws when its socket is already gone.
      client.close().catch(() => {});
    } catch {
      // the socket is already closed
    }
    try {
      const closing = this.transports.get(client)?.close();
      if (closing instanceof Promise) closing.catch(() => {});
    } catch {
      // the socket was not open
    }
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
          error: reasonOf(err),
        });
      }
    }
  }
}

function lostInFlight(): UnavailableError {
  return new UnavailableError(
    'BLiP connection lost before the message was acknowledged; it is sent again after the reconnect',
    'BLIP_SEND_LOST',
  );
}

function reasonOf(value: unknown): string {
  if (value instanceof Error) return value.message;
  if (value && typeof value === 'object') {
    const reason = (value as { reason?: { description?: string; code?: number } }).reason;
    if (reason) return `${reason.code ?? ''} ${reason.description ?? ''}`.trim();
    return JSON.stringify(value).slice(0, 200);
  }
  return String(value);
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
        reject(e instanceof Error ? e : new Error(String(e)));
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
        error: reasonOf(err),
      });
    }
  };
}
