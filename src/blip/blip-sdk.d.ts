/**
 * Types for the parts of blip-sdk 10, lime-transport-websocket 2 and websocket 1 the bridge uses.
 * The packages ship no usable types (blip-sdk names a typings file it does not publish);
 * these follow node_modules/blip-sdk/dist/blip-sdk.js.
 */
declare module 'blip-sdk' {
  export type LimeMetadata = Record<string, string | null>;

  export interface LimeEnvelope {
    id?: string;
    from?: string;
    to?: string;
    pp?: string;
    metadata?: LimeMetadata;
  }

  export interface LimeMessage extends LimeEnvelope {
    type: string;
    content: unknown;
  }

  export interface LimeReason {
    code: number;
    description?: string;
  }

  export interface LimeNotification extends LimeEnvelope {
    event: string;
    reason?: LimeReason;
  }

  export interface LimeCommand extends LimeEnvelope {
    method: 'get' | 'set' | 'delete' | 'subscribe' | 'unsubscribe' | 'observe' | 'merge';
    uri?: string;
    type?: string;
    resource?: unknown;
    status?: 'pending' | 'success' | 'failure';
    reason?: LimeReason;
  }

  export type Predicate<T> = boolean | string | ((envelope: T) => boolean);

  export class Client {
    /** Resolves once the session is established and presence/receipt were accepted. */
    connect(): Promise<unknown>;
    close(): Promise<unknown>;
    /** Throws synchronously when the session is not established. */
    sendMessage(message: LimeMessage): void;
    sendNotification(notification: LimeNotification): void;
    /** Rejects with an Error whose message is the failed command as JSON, or on timeout. */
    sendCommand(command: LimeCommand, timeoutMs?: number): Promise<LimeCommand>;
    /** A receiver's returned promise is awaited before `consumed` is sent; a rejection is left unhandled by the SDK. */
    addMessageReceiver(
      predicate: Predicate<LimeMessage>,
      callback: (message: LimeMessage) => unknown,
    ): () => void;
    addNotificationReceiver(
      predicate: Predicate<LimeNotification>,
      callback: (notification: LimeNotification) => unknown,
    ): () => void;
    addSessionFinishedHandlers(handler: (session: unknown) => void): void;
    addSessionFailedHandlers(handler: (session: unknown) => void): void;
    /**
     * Settles when the session ends: resolves with the `finished` session envelope, REJECTS with the `failed` one
     * (an unhandled rejection unless someone catches it). Replaced when the SDK rebuilds its channel.
     */
    sessionPromise: Promise<unknown>;
    readonly listening: boolean;
    /** Called by the SDK whenever `listening` changes. */
    onListeningChanged?: (listening: boolean, client: Client) => void;
  }

  export class ClientBuilder {
    withIdentifier(identifier: string): this;
    withAccessKey(accessKey: string): this;
    withPassword(password: string): this;
    withInstance(instance: string): this;
    withDomain(domain: string): this;
    withScheme(scheme: string): this;
    withHostName(hostName: string): this;
    withPort(port: number): this;
    withRoutingRule(rule: string): this;
    withEcho(echo: boolean): this;
    withNotifyConsumed(notify: boolean): this;
    withCommandTimeout(timeoutMs: number): this;
    withTransportFactory(factory: () => unknown): this;
    build(): Client;
  }
}

declare module 'lime-transport-websocket' {
  class WebSocketTransport {
    constructor(traceEnabled?: boolean);
  }
  export = WebSocketTransport;
}

/** The `websocket` package (theturtle32/WebSocket-Node) that blip-sdk's own transport uses. */
declare module 'websocket' {
  import type { EventEmitter } from 'node:events';

  export interface ClientConfig {
    maxReceivedFrameSize?: number;
    maxReceivedMessageSize?: number;
    closeTimeout?: number;
  }

  export interface Message {
    type: 'utf8' | 'binary';
    utf8Data?: string;
    binaryData?: Buffer;
  }

  export class connection extends EventEmitter {
    readonly connected: boolean;
    readonly state: 'open' | 'peer_requested_close' | 'ending' | 'closed';
    sendUTF(data: string): void;
    ping(data: Buffer): void;
    close(reasonCode?: number, description?: string): void;
    drop(reasonCode?: number, description?: string, skipCloseFrame?: boolean): void;
  }

  export class client extends EventEmitter {
    constructor(config?: ClientConfig);
    connect(url: string, protocols?: string | string[]): void;
    abort(): void;
  }
}
