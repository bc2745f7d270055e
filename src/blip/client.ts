import {
  ClientBuilder,
  type Client,
  type LimeCommand,
  type LimeMessage,
  type LimeNotification,
} from 'blip-sdk';
import WebSocketTransport from 'lime-transport-websocket';
import { RetryableError } from '../core/errors';
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
}

/**
 * A typed wrapper over blip-sdk's Client: receivers registered before connect(), every receiver's error caught
 * (the SDK leaves a rejected receiver promise unhandled), and sends that fail with a RetryableError instead of
 * throwing synchronously from deep inside the SDK.
 */
export class BlipConnection {
  private readonly client: Client;
  private readonly messageHandlers: Array<(message: LimeMessage) => Promise<void>> = [];
  private readonly notificationHandlers: Array<(notification: LimeNotification) => Promise<void>> = [];
  private connected = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly options: BlipConnectionOptions,
    private readonly logger: Logger,
  ) {
    this.client = new ClientBuilder()
      .withIdentifier(options.identifier)
      .withAccessKey(options.accessKey)
      .withDomain(options.domain)
      .withScheme(options.scheme)
      .withHostName(options.host)
      .withPort(options.port)
      .withInstance(options.instance)
      .withCommandTimeout(options.commandTimeoutMs)
      .withTransportFactory(() => new WebSocketTransport())
      .build();

    // Registered before connect(): messages can arrive before connect() resolves.
    this.client.addMessageReceiver(true, (message) =>
      this.dispatch('message', this.messageHandlers, message),
    );
    this.client.addNotificationReceiver(true, (notification) =>
      this.dispatch('notification', this.notificationHandlers, notification),
    );
    this.client.onListeningChanged = (listening) => {
      if (listening === this.connected) return;
      this.connected = listening;
      if (listening)
        this.logger.info('BLiP session established', { host: options.host, identifier: options.identifier });
      else
        this.logger.warn('BLiP connection lost; the SDK is reconnecting', {
          host: options.host,
          code: 'BLIP_DISCONNECTED',
        });
    };
    this.client.addSessionFailedHandlers((session) => {
      this.logger.error('BLiP session failed', { code: 'BLIP_SESSION_FAILED', reason: reasonOf(session) });
    });
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

  async connect(): Promise<void> {
    try {
      await this.client.connect();
    } catch (err) {
      throw new Error(
        `Could not open a BLiP session at ${this.options.scheme}://${this.options.host}:${this.options.port} as ${this.identity}: ${reasonOf(err)}`,
      );
    }
    this.connected = true;
  }

  isConnected(): boolean {
    return this.connected && this.client.listening;
  }

  /** Sends one message; throws RetryableError when the session is not established. */
  send(message: LimeMessage): void {
    if (!this.isConnected()) throw new RetryableError('BLiP session not established', 'BLIP_NOT_CONNECTED');
    try {
      this.client.sendMessage(message);
    } catch (err) {
      throw new RetryableError(`BLiP send failed: ${reasonOf(err)}`, 'BLIP_SEND_FAILED', undefined, {
        cause: err,
      });
    }
  }

  async sendCommand(command: LimeCommand): Promise<LimeCommand> {
    if (!this.isConnected()) throw new RetryableError('BLiP session not established', 'BLIP_NOT_CONNECTED');
    return this.client.sendCommand(command);
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
    this.connected = false;
    try {
      await withTimeout(this.client.close(), 3_000);
    } catch (err) {
      this.logger.warn('BLiP session did not close cleanly', { error: reasonOf(err) });
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
