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

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
