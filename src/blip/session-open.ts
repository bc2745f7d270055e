import {
  ClientBuilder,
  type Client,
  type LimeMessage,
  type LimeNotification,
  type LimeReason,
} from 'blip-sdk';
import { describeError } from '../core/errors';
import type { Logger } from '../core/logger';
import { identityOf } from './envelope';
import type { ConfirmingSession } from './send-confirmation';
import { BlipConnectError, classifyConnectFailure } from './session-errors';
import { type FrameTooLarge, LimeTransport } from './transport';

/** What one built client (one socket, one session) carries. */
export interface Session extends ConfirmingSession {
  client: Client;
  /** The server's end of this session was logged. */
  endLogged?: boolean;
}

/** Decides whether a message reaches the receivers; a reason refuses it (the sender gets a `failed`). */
export type MessageScreen = (message: LimeMessage) => LimeReason | undefined;

/** Where and as whom one session connects, and its limits. */
export interface SessionSettings {
  identifier: string;
  accessKey: string;
  domain: string;
  host: string;
  port: number;
  scheme: 'wss' | 'ws';
  instance: string;
  commandTimeoutMs: number;
  /** How long the WebSocket connection plus the LIME session handshake may take, up to `established`. */
  handshakeTimeoutMs?: number;
  /** The largest LIME envelope taken from BLiP, in bytes (see transport.ts). Default 8 MiB. */
  maxFrameBytes?: number;
  /**
   * Who says `received`/`consumed` for the customers' messages (`BRIDGE_READ_RECEIPTS`). `queued` (default here):
   * blip-sdk, `received` on arrival and `consumed` once the receivers finished. `agent`: the bridge itself
   * (`BlipConnection.notify`): the SDK's `consumed` is turned off and its early `received` dropped.
   */
  readReceipts?: 'agent' | 'queued';
}

/** What the connection is told about one session, and what it lends it. */
export interface SessionHooks {
  screens: readonly MessageScreen[];
  /** The socket closed (whoever closed it). */
  onClosed(session: Session, why: string): void;
  /** The server failed or finished the session. */
  onEnded(session: Session, how: 'failed' | 'finished', envelope: unknown): void;
  onMessage(message: LimeMessage): Promise<void>;
  onNotification(session: Session, notification: LimeNotification): Promise<void>;
  /** A frame over the limit (after it was logged and refused): `dropped` = the socket was closed for it. */
  onFrameTooLarge?(dropped: boolean): void;
}

/**
 * Builds a blip-sdk client on our transport (./transport.ts), connects it, and returns its session once the
 * handshake (bounded by `handshakeTimeoutMs`) and the SDK's presence and receipt commands are done. Every incoming
 * message runs the screens before the SDK sees it; frames over the limit are refused without losing the session.
 * Throws a BlipConnectError naming what failed and why.
 */
export async function openSession(
  settings: SessionSettings,
  hooks: SessionHooks,
  logger: Logger,
): Promise<Session> {
  const target = describeTarget(settings);
  const built: { session?: Session } = {};
  const transport = new LimeTransport({
    maxFrameBytes: settings.maxFrameBytes ?? 8 * 1024 * 1024,
    logger,
    onClosed: (info) => {
      if (built.session) hooks.onClosed(built.session, `socket closed (${info.code} ${info.description})`);
    },
    onFrameTooLarge: (info) => {
      frameTooLarge(built.session, info, logger);
      hooks.onFrameTooLarge?.(!info.envelope);
    },
  });
  const client = new ClientBuilder()
    .withIdentifier(settings.identifier)
    .withAccessKey(settings.accessKey)
    .withDomain(settings.domain)
    .withScheme(settings.scheme)
    .withHostName(settings.host)
    .withPort(settings.port)
    .withInstance(settings.instance)
    .withCommandTimeout(settings.commandTimeoutMs)
    .withNotifyConsumed(settings.readReceipts !== 'agent')
    .withTransportFactory(() => transport)
    .build();
  const session: Session = { client, transport, acknowledges: false };
  built.session = session;
  screenIncoming(session, hooks.screens, logger);
  guardNotifications(client, logger, settings.readReceipts === 'agent');
  // The session's end, whoever ends it. The SDK also rejects its session promise with a failed session: caught
  // here (the handler below says what happened), or it is an unhandled rejection.
  client.sessionPromise.catch(() => {});
  client.addSessionFailedHandlers((envelope) => hooks.onEnded(session, 'failed', envelope));
  client.addSessionFinishedHandlers((envelope) => hooks.onEnded(session, 'finished', envelope));
  // Registered before connect(): messages can arrive before connect() resolves.
  client.addMessageReceiver(true, (message) => hooks.onMessage(message));
  client.addNotificationReceiver(true, (notification) => hooks.onNotification(session, notification));

  const handshakeMs = settings.handshakeTimeoutMs ?? 5_000;
  let timer: NodeJS.Timeout | undefined;
  const handshake = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      if (transport.sessionState === 'established') return; // presence/receipt have the command timeout
      reject(
        new BlipConnectError(
          `no LIME session from BLiP at ${target} within ${handshakeMs} ms (BLIP_HANDSHAKE_TIMEOUT_MS): ` +
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
    discardSession(session);
    throw err instanceof BlipConnectError ? err : classifyConnectFailure(err, target);
  } finally {
    clearTimeout(timer);
  }
  return session;
}

/** `wss://host:port as bot@domain`: where and as whom a session connects, for error messages. */
export function describeTarget(settings: SessionSettings): string {
  return `${settings.scheme}://${settings.host}:${settings.port} as ${`${settings.identifier}@${settings.domain}`.toLowerCase()}`;
}

/** Drops a client that is not (or no longer) established, without waiting for it. */
export function discardSession(session: Session): void {
  try {
    // Marks the client as closing (no SDK reconnect); throws when its session is not established.
    session.client.close().catch(() => {});
  } catch {
    // not established
  }
  session.transport.terminate('discarded');
}

/** Runs the screens on every incoming message before lime-js (and so the SDK) sees it. */
function screenIncoming(session: Session, screens: readonly MessageScreen[], logger: Logger): void {
  const transport = session.transport;
  let inner = transport.onEnvelope;
  Object.defineProperty(transport, 'onEnvelope', {
    configurable: true,
    get: () => (envelope: unknown) => {
      const message = envelope as LimeMessage;
      if (screens.length > 0 && 'content' in (envelope as object)) {
        for (const screen of screens) {
          const reason = screen(message);
          if (reason) return refuse(session, message, reason, logger);
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
function refuse(session: Session, message: LimeMessage, reason: LimeReason, logger: Logger): void {
  if (!message.id || !message.from || session.transport.sessionState !== 'established') return;
  try {
    session.transport.send({ id: message.id, to: message.pp ?? message.from, event: 'failed', reason });
  } catch (err) {
    logger.debug('could not tell a refused sender', { error: describeError(err) });
  }
}

/** Logs a frame over the limit, refuses a message (`failed` 21), and fails a command answer at once. */
function frameTooLarge(session: Session | undefined, info: FrameTooLarge, logger: Logger): void {
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
  logger.warn(
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
  if (!session || !envelope) return;
  const reason = {
    code: 21,
    description: `The envelope is too large for this bot (${info.bytes ?? '?'} bytes; it takes up to ${info.limit})`,
  };
  if (kind === 'message') refuse(session, envelope as unknown as LimeMessage, reason, logger);
  // A command answer the bridge waits for: answer it with a failure at once instead of a timeout.
  if (kind === 'command' && typeof envelope.status === 'string' && typeof envelope.id === 'string') {
    session.transport.onEnvelope({ id: envelope.id, method: envelope.method, status: 'failure', reason });
  }
}

/**
 * The SDK sends each message's `consumed` (and `failed`) notification itself once the receivers are done, inside a
 * promise chain nobody observes: when the socket dropped while a receiver ran, the send throws ("The connection is
 * not open") and surfaced as an unhandled rejection (chaos suite). The notification is lost either way; the
 * customer's client may send the message again, and the dedupe mark makes that a no-op. Logged as what it is.
 */
export function guardNotifications(
  client: Pick<Client, 'sendNotification'>,
  logger: Logger,
  bridgeReceipts = false,
): void {
  const send = client.sendNotification.bind(client);
  client.sendNotification = (notification) => {
    // BRIDGE_READ_RECEIPTS=agent: the SDK says `received` the moment a message arrives, before anything recorded
    // it; the bridge says it itself once the message is recorded (inbound.ts). The SDK's `failed` still goes.
    if (bridgeReceipts && notification.event === 'received') return;
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
