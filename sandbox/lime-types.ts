/**
 * The shapes the parts of the sandbox LIME server share (./lime-server.ts re-exports them): its options, envelopes,
 * what the bot sent, the customers the router hands out, and the node -> identity rule.
 */

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

export interface SandboxCustomer {
  /** The real customer, e.g. `5511987654321@wa.gw.msging.net`. */
  originator: string;
  /** The tunnel address the bot sees and answers to. */
  address: string;
}

/** `name@domain/instance` -> `name@domain`, lower case. */
export function identityOf(node: string): string {
  return (node.split('/')[0] ?? '').toLowerCase();
}
