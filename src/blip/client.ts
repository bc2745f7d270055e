import { setTimeout as sleep } from 'node:timers/promises';
import type { LimeCommand, LimeMessage, LimeNotification, LimeReason } from 'blip-sdk';
import { describeError, RetryableError, UnavailableError } from '../core/errors';
import type { Logger } from '../core/logger';
import { SendConfirmations } from './send-confirmation';
import { BlipConnectError, classifyConnectFailure } from './session-errors';
import {
  discardSession,
  type MessageScreen,
  openSession,
  type Session,
  type SessionSettings,
  describeTarget,
} from './session-open';
import { withTimeout } from '../core/timeout';

export { BlipConnectError } from './session-errors';
export type { MessageScreen } from './session-open';
export { guardNotifications } from './session-open';

export interface BlipConnectionOptions extends SessionSettings {
  /**
   * On a session whose server acknowledges messages (`accepted`), how long a sent message waits for its
   * acknowledgement before the socket's own word (a ping/pong round trip) is taken instead. 0 = do not wait at all
   * (a message written into a dying socket is then lost). Default 1000.
   */
  sendConfirmTimeoutMs?: number;
}

/**
 * A typed wrapper over blip-sdk's Client:
 * - our own transport (./transport.ts), built per session by ./session-open.ts: frame limits, guarded parsing, real
 *   connect/close reasons, ping/pong, incoming messages screened before the SDK sees them;
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
          discardSession(session);
          throw new BlipConnectError('closed while connecting', true);
        }
        this.session = session;
        break;
      } catch (err) {
        const failure =
          err instanceof BlipConnectError ? err : classifyConnectFailure(err, describeTarget(this.options));
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

  /**
   * Sends one notification of the bridge's own (`received`/`consumed` for a customer's message, with
   * `BRIDGE_READ_RECEIPTS=agent`). Notifications are not acknowledged: written to the socket, or an UnavailableError
   * when the session is down (the caller decides whether it is worth keeping for later).
   */
  notify(notification: LimeNotification): void {
    const session = this.connectedSession();
    try {
      session.transport.send(notification);
    } catch (err) {
      throw new UnavailableError(`BLiP notification not sent: ${describeError(err)}`, 'BLIP_NOT_CONNECTED', {
        cause: err,
      });
    }
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
      discardSession(session);
    }
  }

  private connectedSession(): Session {
    if (this.state !== 'connected' || !this.session) {
      throw new UnavailableError('BLiP session not established', 'BLIP_NOT_CONNECTED');
    }
    return this.session;
  }

  /** One session on our transport (./session-open.ts), its events routed to this connection. */
  private open(): Promise<Session> {
    return openSession(
      this.options,
      {
        screens: this.screens,
        onClosed: (session, why) => this.handleClose(session, why),
        onEnded: (session, how, envelope) => this.sessionEnded(session, how, envelope),
        onMessage: (message) => this.dispatch('message', this.messageHandlers, message),
        onNotification: (session, notification) => {
          this.confirmations.notified(session, notification);
          return this.dispatch('notification', this.notificationHandlers, notification);
        },
        onFrameTooLarge: (dropped) => this.onFrameTooLarge?.(dropped),
      },
      this.logger,
    );
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
    discardSession(session);
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
          if (this.state !== 'reconnecting') return discardSession(session); // closed meanwhile
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
