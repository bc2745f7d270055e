/**
 * One error type per failure class the core treats differently.
 * Adapters and edges map what they see onto these; the core decides retries.
 */
export abstract class BridgeError extends Error {
  /** Stable, greppable code for logs and alerts. */
  abstract readonly code: string;
}

/** Worth retrying: network failures, 5xx, 429 (with the wait the vendor asked for), BLiP not connected. */
export class RetryableError extends BridgeError {
  constructor(
    message: string,
    readonly code: string,
    /** How long the other side asked us to wait, when it said so. */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RetryableError';
  }
}

/**
 * The other side cannot be reached at all right now (the BLiP session is down, reconnecting). Work that meets it
 * waits in the queue, in order, without using up its attempts, and goes out once the connection is back.
 */
export class UnavailableError extends RetryableError {
  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, code, undefined, options);
    this.name = 'UnavailableError';
  }
}

/** Retrying will not help: validation errors, unknown tickets, 4xx. */
export class PermanentError extends BridgeError {
  constructor(
    message: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PermanentError';
  }
}

/** A request failed authentication (bad or stale webhook signature). */
export class SecurityError extends BridgeError {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'SecurityError';
  }
}

export function errorCode(err: unknown): string {
  if (err instanceof BridgeError) return err.code;
  return 'UNEXPECTED';
}

/** Any thrown or rejected value as one readable line (see describeError). */
export function errorMessage(err: unknown): string {
  return describeError(err);
}

const MAX_DESCRIPTION = 300;

/**
 * Any thrown or rejected value as one readable line, never `[object Object]`: an Error's message (its code or
 * cause when the message is empty, each error of an AggregateError), a LIME envelope by its reason (blip-sdk
 * rejects with the failed session envelope itself: `session failed: 1 The session authentication failed`; a failed
 * command or notification likewise), an object's own `message`, else the value as JSON, at most 300 characters.
 */
export function describeError(value: unknown, depth = 0): string {
  if (typeof value === 'string') return clip(value);
  if (value instanceof Error) {
    if (value instanceof AggregateError && value.errors.length > 0 && depth < 3) {
      return clip(
        [value.message, ...value.errors.map((e: unknown) => describeError(e, depth + 1))]
          .filter(Boolean)
          .join('; '),
      );
    }
    if (value.message) return clip(value.message);
    const code = (value as { code?: unknown }).code;
    const cause = value.cause !== undefined && depth < 3 ? describeError(value.cause, depth + 1) : '';
    return clip([typeof code === 'string' ? code : value.name, cause].filter(Boolean).join(': '));
  }
  if (value === null || typeof value !== 'object') return String(value);
  const o = value as Record<string, unknown>;
  const reason = reasonText(o.reason);
  if (typeof o.state === 'string') return clip(`session ${o.state}${reason ? `: ${reason}` : ''}`);
  if (typeof o.method === 'string' && typeof o.status === 'string') {
    const what = [o.method, typeof o.uri === 'string' ? o.uri : ''].filter(Boolean).join(' ');
    return clip(
      `command ${what} ${o.status === 'failure' ? 'failed' : o.status}${reason ? `: ${reason}` : ''}`,
    );
  }
  if (typeof o.event === 'string') return clip(`notification ${o.event}${reason ? `: ${reason}` : ''}`);
  if (reason) return clip(reason);
  if (typeof o.message === 'string' && o.message) return clip(o.message);
  try {
    const json = JSON.stringify(value);
    if (json && json !== '{}') return clip(json);
  } catch {
    // a cycle or a BigInt: fall through
  }
  const name = (value as { constructor?: { name?: string } }).constructor?.name;
  return name && name !== 'Object' ? `a ${name} with no message` : 'an object with no message';
}

function reasonText(reason: unknown): string {
  if (!reason || typeof reason !== 'object') return '';
  const { code, description } = reason as { code?: unknown; description?: unknown };
  return [code, description]
    .filter((v) => typeof v === 'number' || (typeof v === 'string' && v !== ''))
    .join(' ');
}

function clip(text: string): string {
  const line = text.replace(/\s*\n\s*/g, ' ');
  return line.length > MAX_DESCRIPTION ? `${line.slice(0, MAX_DESCRIPTION - 1)}…` : line;
}
