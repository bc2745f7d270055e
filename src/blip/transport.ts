import { client as WebSocketClient, type connection as WebSocketConnection, type Message } from 'websocket';
import { describeError } from '../core/errors';
import type { Logger } from '../core/logger';

/**
 * The WebSocket transport blip-sdk talks LIME over, in place of lime-transport-websocket (whose W3C wrapper
 * cannot be given the client's settings and hides why a connection failed or closed). Same contract as that
 * transport (`open`, `send`, `close`, `onEnvelope`, `onOpen`, `onError`, encryption and compression), plus:
 *
 * - frame limits set deliberately: envelopes up to `maxFrameBytes` are handled; a bigger one is still read (up to
 *   FRAME_CEILING_FACTOR times the limit) and refused without losing the session; only beyond that ceiling does
 *   the WebSocket client close the socket (code 1009). Either way `onFrameTooLarge` hears of it;
 * - every frame parsed inside a try/catch (a frame that is not JSON, `null` or a number is logged and dropped; the
 *   SDK's parser would throw inside the socket's callback, an uncaught exception);
 * - the real reason a connection failed (`connect ECONNREFUSED 127.0.0.1:9`) or closed (code and description);
 * - `roundTrip()`: a WebSocket ping whose pong proves the socket carried every frame written before it;
 * - the session state seen on the socket, for the handshake's own timeout;
 * - `onClose` kept for the owner: the SDK assigns its own reconnect to it, which is ignored (ours runs instead).
 */

/** A LIME node, `name@domain/instance` (the specification's pattern). */
const NODE = /^(?:[^"&'/:<>@]{1,1023}@)?[^/@]{1,1023}(?:\/.{1,1023})?$/s;

/**
 * What the SDK cannot be given: it echoes an incoming message's `id`, `from`/`pp`, `to` and `#uniqueId` in its
 * `received`/`consumed` notifications, and a real LIME server ends the session on a notification whose id is a
 * number or whose address is not a node. Such an envelope is dropped here (a real BLiP never sends one). Metadata
 * values that are numbers or booleans are made strings, others dropped (the SDK and the bridge read strings).
 */
export function unusableEnvelope(e: Record<string, unknown>): string | undefined {
  if (e.id !== undefined && e.id !== null && typeof e.id !== 'string')
    return `id is not a string (${typeof e.id})`;
  for (const key of ['from', 'pp', 'to'] as const) {
    const value = e[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string' || !NODE.test(value))
      return `${key} is not a LIME node (name@domain/instance)`;
  }
  if (e.metadata === undefined || e.metadata === null) return undefined;
  if (typeof e.metadata !== 'object' || Array.isArray(e.metadata)) return 'metadata is not an object';
  const metadata = e.metadata as Record<string, unknown>;
  for (const [key, value] of Object.entries(metadata)) {
    if (value === null || typeof value === 'string') continue;
    if (typeof value === 'number' || typeof value === 'boolean') metadata[key] = String(value);
    else delete metadata[key];
  }
  return undefined;
}

/** How far above the limit a frame is still read off the socket (and refused) instead of closing the socket. */
export const FRAME_CEILING_FACTOR = 4;

export interface FrameTooLarge {
  /** Size of the frame in bytes, when known (the WebSocket client's close description gives it). */
  bytes?: number;
  limit: number;
  /** The envelope, when the frame was read (under the ceiling); undefined when the socket was closed for it. */
  envelope?: Record<string, unknown>;
}

export interface TransportOptions {
  /** The largest envelope handed to the SDK, in bytes. */
  maxFrameBytes: number;
  logger: Logger;
  /** The socket closed, whatever the cause (never the SDK's own reconnect). */
  onClosed(info: { code: number; description: string }): void;
  onFrameTooLarge(info: FrameTooLarge): void;
}

interface PendingPing {
  seq: number;
  resolve(): void;
  reject(err: Error): void;
}

export class LimeTransport {
  encryption = 'none';
  compression = 'none';
  /** Assigned by lime-js: every envelope read off the socket. */
  onEnvelope: (envelope: unknown) => void = () => {};
  onOpen: () => void = () => {};
  onError: (err: unknown) => void = () => {};
  /** The state of the last session envelope read off this socket (`established`, `failed`...). */
  sessionState?: string;
  private client?: WebSocketClient;
  private connection?: WebSocketConnection;
  private ended = false;
  private pingSeq = 0;
  private readonly pings: PendingPing[] = [];
  /** A ping not written yet: writes of the same turn of the event loop share it. */
  private queuedPing?: Promise<void>;

  constructor(private readonly options: TransportOptions) {}

  /** blip-sdk assigns its reconnect here; the owner's close handler (options.onClosed) runs instead. */
  get onClose(): () => void {
    return () => {};
  }
  set onClose(_ignored: unknown) {}

  get isOpen(): boolean {
    return this.connection?.connected === true;
  }

  open(uri: string): Promise<void> {
    this.encryption = uri.startsWith('wss://') ? 'tls' : 'none';
    const ceiling = this.options.maxFrameBytes * FRAME_CEILING_FACTOR;
    const client = new WebSocketClient({
      maxReceivedFrameSize: ceiling,
      maxReceivedMessageSize: ceiling,
      closeTimeout: 2_000,
    });
    this.client = client;
    return new Promise<void>((resolve, reject) => {
      client.once('connectFailed', (err: unknown) => {
        this.ended = true;
        const error = new Error(describeError(err), { cause: err });
        reject(error);
        this.onError(error);
      });
      client.once('connect', (connection: WebSocketConnection) => {
        this.client = undefined;
        if (this.ended) {
          connection.drop(1000, 'closed while connecting', true);
          return;
        }
        this.connection = connection;
        connection.on('message', (message: Message) => this.receive(message));
        connection.on('pong', (data: Buffer) => this.pong(data));
        connection.on('error', (err: unknown) =>
          this.options.logger.debug('LIME socket error', { error: describeError(err) }),
        );
        connection.once('close', (code: number, description: string) => this.closed(code, description));
        resolve();
        this.onOpen();
      });
      client.connect(uri, 'lime');
    });
  }

  send(envelope: unknown): void {
    if (!this.connection?.connected) throw new Error('The connection is not open');
    this.connection.sendUTF(JSON.stringify(envelope));
  }

  /** Closes the socket with the WebSocket close handshake; resolves once it is closed. */
  close(): Promise<void> {
    const connection = this.connection;
    if (!connection?.connected) {
      this.terminate('closed');
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      connection.once('close', () => resolve());
      connection.close();
    });
  }

  /** Drops the socket at once, without a close handshake (also a connection still being opened). */
  terminate(why: string): void {
    this.ended = true;
    this.client?.abort();
    this.client = undefined;
    if (this.connection && this.connection.state !== 'closed') this.connection.drop(4000, why, true);
  }

  /**
   * Resolves once the server answered a WebSocket ping written after every frame written so far: the socket carried
   * them (TCP keeps the order; a socket that died under them answers nothing). Rejects when the socket closes first,
   * or after `timeoutMs` without an answer.
   */
  roundTrip(timeoutMs: number): Promise<void> {
    this.queuedPing ??= new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        this.queuedPing = undefined;
        if (!this.connection?.connected) return reject(new Error('The connection is not open'));
        const seq = ++this.pingSeq;
        const timer = setTimeout(() => {
          this.removePing(seq);
          reject(new Error(`no answer to a WebSocket ping within ${timeoutMs} ms`));
        }, timeoutMs);
        timer.unref();
        const done = (err?: Error): void => {
          clearTimeout(timer);
          if (err) reject(err);
          else resolve();
        };
        this.pings.push({ seq, resolve: () => done(), reject: done });
        this.connection.ping(Buffer.from(String(seq)));
      });
    });
    return this.queuedPing;
  }

  getSupportedCompression(): string[] {
    return ['none'];
  }
  setCompression(): void {}
  getSupportedEncryption(): string[] {
    return ['tls', 'none'];
  }
  setEncryption(): void {}

  private receive(message: Message): void {
    if (message.type !== 'utf8' || message.utf8Data === undefined) {
      this.badFrame('a binary frame', message.binaryData?.length);
      return;
    }
    const text = message.utf8Data;
    let envelope: unknown;
    try {
      envelope = JSON.parse(text);
    } catch {
      return this.badFrame('not JSON', text.length);
    }
    if (envelope === null || typeof envelope !== 'object' || Array.isArray(envelope)) {
      return this.badFrame(
        `not a JSON object (${envelope === null ? 'null' : typeof envelope})`,
        text.length,
      );
    }
    const record = envelope as Record<string, unknown>;
    if (typeof record.state === 'string') this.sessionState = record.state;
    const unusable = unusableEnvelope(record);
    if (unusable) {
      this.options.logger.warn('malformed LIME envelope dropped before the SDK', {
        code: 'LIME_BAD_ENVELOPE',
        problem: unusable,
      });
      return;
    }
    const bytes = Buffer.byteLength(text);
    if (bytes > this.options.maxFrameBytes) {
      this.options.onFrameTooLarge({ bytes, limit: this.options.maxFrameBytes, envelope: record });
      return;
    }
    try {
      this.onEnvelope(record);
    } catch (err) {
      // The SDK threw while handling the envelope (an envelope it could not use): the session goes on.
      this.badFrame(`not handled: ${describeError(err)}`, text.length);
    }
  }

  private badFrame(problem: string, length?: number): void {
    this.options.logger.warn('malformed LIME frame dropped', {
      code: 'LIME_BAD_FRAME',
      error: problem,
      bytes: length,
    });
  }

  private pong(data: Buffer): void {
    const seq = Number(data.toString());
    if (!Number.isInteger(seq)) return;
    // A pong answers its own ping and every ping written before it.
    for (const ping of this.pings.filter((p) => p.seq <= seq)) {
      this.removePing(ping.seq);
      ping.resolve();
    }
  }

  private removePing(seq: number): void {
    const i = this.pings.findIndex((p) => p.seq === seq);
    if (i >= 0) this.pings.splice(i, 1);
  }

  private closed(code: number, description: string): void {
    this.ended = true;
    for (const ping of this.pings.splice(0)) ping.reject(new Error(`the socket closed (${code})`));
    if (code === 1009) {
      // The WebSocket client closed the socket for a frame above the ceiling: "Frame size of N bytes exceeds…".
      const size = /(\d+) bytes/.exec(description)?.[1];
      this.options.onFrameTooLarge({
        bytes: size ? Number(size) : undefined,
        limit: this.options.maxFrameBytes * FRAME_CEILING_FACTOR,
      });
    }
    this.options.onClosed({ code, description });
  }
}
