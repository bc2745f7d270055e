import { describeError } from '../core/errors';

/**
 * Why a BLiP session could not be opened, in one line an operator can act on. `permanent` when the server itself
 * refused (the LIME session `failed`: a wrong identifier or key): trying again will not help. Otherwise BLiP could
 * not be reached or did not answer in time, which a retry may fix.
 */
export class BlipConnectError extends Error {
  readonly code: string;

  constructor(
    message: string,
    readonly permanent: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BlipConnectError';
    this.code = permanent ? 'BLIP_SESSION_REFUSED' : 'BLIP_UNREACHABLE';
  }
}

/** What blip-sdk's connect() rejected with, as a BlipConnectError naming the target (`wss://host:443 as bot@…`). */
export function classifyConnectFailure(err: unknown, target: string): BlipConnectError {
  const failedSession =
    err !== null && typeof err === 'object' && (err as { state?: unknown }).state === 'failed';
  if (failedSession) {
    return new BlipConnectError(
      `BLiP refused the session at ${target}: ${reasonOf(err)} (check BLIP_IDENTIFIER and BLIP_ACCESS_KEY)`,
      true,
      { cause: err },
    );
  }
  const finished =
    err !== null && typeof err === 'object' && (err as { state?: unknown }).state === 'finished';
  if (finished) {
    return new BlipConnectError(`BLiP finished the session at ${target} while it was being opened`, false, {
      cause: err,
    });
  }
  return new BlipConnectError(`could not open a BLiP session at ${target}: ${describeError(err)}`, false, {
    cause: err,
  });
}

function reasonOf(session: unknown): string {
  const reason = (session as { reason?: { code?: number; description?: string } }).reason;
  const text = [reason?.code, reason?.description].filter((v) => v !== undefined && v !== '').join(' ');
  return text || 'no reason given';
}
