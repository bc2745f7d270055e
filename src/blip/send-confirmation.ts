import { UnavailableError } from '../core/errors';
import type { Logger } from '../core/logger';
import type { LimeTransport } from './transport';

/** One LIME session as the confirmations see it: its socket, and what was learned about the server. */
export interface ConfirmingSession {
  transport: LimeTransport;
  /** The server sent `accepted` for one of our messages on this session: it acknowledges what it takes. */
  acknowledges: boolean;
  /** Whether the "this server does not acknowledge" line was written for this session. */
  probed?: boolean;
}

export interface ConfirmationOptions {
  /**
   * How long a message waits for BLiP's notification on a session known to acknowledge before the socket's word
   * (a ping/pong round trip) is taken instead. 0 = do not wait at all.
   */
  confirmTimeoutMs: number;
  /** How long a ping waits for its pong before the socket counts as dead (it is then dropped and re-opened). */
  roundTripTimeoutMs: number;
}

export interface ConfirmationHooks {
  /** A session that acknowledges messages did not acknowledge this one (it counted as sent on the socket's word). */
  onUnacknowledged?(): void;
  /** A send was confirmed: by a notification from BLiP, or by the socket (a pong after the write). */
  onConfirmed?(by: 'notification' | 'socket'): void;
  /** A ping went unanswered while the socket looked open: the owner drops the socket (and reconnects). */
  onDeadSocket(session: ConfirmingSession, error: Error): void;
}

interface Awaited {
  session: ConfirmingSession;
  settle(err?: Error): void;
}

/** Ids of messages counted as sent, kept so that a retry of a unit of work does not send a part twice. */
const CONFIRMED_IDS_KEPT = 20_000;

/**
 * When a message written to BLiP counts as sent. A frame written into a socket that is dying is lost without an
 * error from the SDK, so a send resolves only once something proves the frame got through:
 *
 * - BLiP's own notification about its id (`accepted` from the server, or any later event); or
 * - a WebSocket pong to a ping written after the frame: the socket carried it (TCP keeps the order; a socket that
 *   died under the frame answers nothing, closes, and the send fails so the core sends it again, same id).
 *
 * What the server does is learned per session. Until it has sent `accepted` for one of our messages, every send
 * also asks for a round trip at once, so a server that never acknowledges (BLiP's documentation does not promise
 * `accepted`) costs one round trip per send, not a timeout. Once it has, a send waits for its notification, and
 * asks for the round trip only after `confirmTimeoutMs` (default 1 s) without one: logged, counted, never longer.
 */
export class SendConfirmations {
  private readonly awaiting = new Map<string, Awaited[]>();
  private readonly confirmedIds = new Set<string>();

  constructor(
    private readonly options: ConfirmationOptions,
    private readonly logger: Logger,
    private readonly hooks: ConfirmationHooks,
  ) {}

  /** Whether a message with this id was already counted as sent (a retried unit of work skips it). */
  isConfirmed(id: string): boolean {
    return this.confirmedIds.has(id);
  }

  get pending(): number {
    let n = 0;
    for (const list of this.awaiting.values()) n += list.length;
    return n;
  }

  /** Resolves once the message written on `session` with this id counts as sent; rejects if the socket is lost. */
  await(session: ConfirmingSession, id: string): Promise<void> {
    if (this.options.confirmTimeoutMs <= 0) return Promise.resolve();
    this.probe(session);
    return new Promise<void>((resolve, reject) => {
      const entry: Awaited = {
        session,
        settle: (err) => {
          clearTimeout(timer);
          this.remove(id, entry);
          if (err) return reject(err);
          this.remember(id);
          resolve();
        },
      };
      const list = this.awaiting.get(id);
      if (list) list.push(entry);
      else this.awaiting.set(id, [entry]);

      const timer = setTimeout(() => {
        if (this.isPending(id, entry) && session.acknowledges) this.viaSocket(entry, id, true);
      }, this.options.confirmTimeoutMs);
      timer.unref();
      if (!session.acknowledges) this.viaSocket(entry, id, false);
    });
  }

  /** A notification from BLiP about one of our messages, read on `session`. */
  notified(session: ConfirmingSession, notification: { id?: string; event?: string }): void {
    if (notification.event === 'accepted') session.acknowledges = true;
    const id = notification.id;
    const list = id ? this.awaiting.get(id) : undefined;
    if (!id || !list) return;
    for (const entry of [...list]) {
      this.hooks.onConfirmed?.('notification');
      entry.settle();
    }
  }

  /** The socket of `session` is gone: every send still waiting on it fails (the core sends it again). */
  fail(session?: ConfirmingSession): void {
    for (const list of [...this.awaiting.values()]) {
      for (const entry of [...list]) {
        if (session && entry.session !== session) continue;
        entry.settle(lostInFlight());
      }
    }
  }

  private viaSocket(entry: Awaited, id: string, afterTimeout: boolean): void {
    entry.session.transport.roundTrip(this.options.roundTripTimeoutMs).then(
      () => {
        if (!this.isPending(id, entry)) return;
        if (afterTimeout) {
          this.logger.warn(
            'BLiP did not acknowledge a sent message; the socket carried it, so it counts as sent',
            {
              code: 'BLIP_SEND_UNCONFIRMED',
              messageId: id,
              waitedMs: this.options.confirmTimeoutMs,
            },
          );
          this.hooks.onUnacknowledged?.();
        }
        this.hooks.onConfirmed?.('socket');
        entry.settle();
      },
      (err: Error) => {
        // A closed socket fails the send through fail(); an unanswered ping means the socket is dead.
        if (this.isPending(id, entry) && entry.session.transport.isOpen)
          this.hooks.onDeadSocket(entry.session, err);
      },
    );
  }

  /** Says once per session, after the first wait, that the server does not acknowledge messages. */
  private probe(session: ConfirmingSession): void {
    if (session.probed) return;
    session.probed = true;
    setTimeout(() => {
      if (session.acknowledges || !session.transport.isOpen) return;
      this.logger.info(
        'BLiP does not acknowledge sent messages on this session; each send is confirmed by a WebSocket ping instead',
        {
          code: 'BLIP_NO_ACCEPTED',
          waitedMs: this.options.confirmTimeoutMs,
        },
      );
    }, this.options.confirmTimeoutMs).unref();
  }

  private isPending(id: string, entry: Awaited): boolean {
    return this.awaiting.get(id)?.includes(entry) ?? false;
  }

  private remove(id: string, entry: Awaited): void {
    const list = this.awaiting.get(id);
    if (!list) return;
    const rest = list.filter((e) => e !== entry);
    if (rest.length > 0) this.awaiting.set(id, rest);
    else this.awaiting.delete(id);
  }

  private remember(id: string): void {
    this.confirmedIds.add(id);
    if (this.confirmedIds.size > CONFIRMED_IDS_KEPT) {
      const oldest = this.confirmedIds.values().next().value;
      if (oldest !== undefined) this.confirmedIds.delete(oldest);
    }
  }
}

function lostInFlight(): UnavailableError {
  return new UnavailableError(
    'BLiP connection lost before the message was acknowledged; it is sent again after the reconnect',
    'BLIP_SEND_LOST',
  );
}
