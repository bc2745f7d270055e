/**
 * What the logger removes from every line before it is written, whatever the level (issue 17.12):
 *  - the value of any key that names a secret (`authorization`, `password`, `apiToken`, `x-hub-signature`…), at any
 *    depth of the meta: nested objects, arrays, and what an object's `toJSON()` gives (an axios error carries its
 *    request config, headers included);
 *  - secrets inside strings that hold URLs or query strings: the userinfo of a URL (`https://user:pass@host`) and
 *    query or fragment parameters whose name says secret (`access_token`, `token`, `key`, `sig`, `signature`,
 *    `password`, `secret`, `X-Amz-Credential`…), in meta values and in the message itself.
 * Values are copied where something changes: the caller's objects are never modified. Depth is bounded and cycles
 * are cut, so no value makes the logger loop or blow the stack.
 */

export const REDACTED = '[redacted]';
/** Nesting below this depth is not written at all (it could hold anything). */
export const MAX_DEPTH = 8;

/** Meta keys whose values never reach a log line. */
const SECRET_KEY =
  /(secret|password|passwd|token|authorization|access[-_]?key|api[-_]?key|signature|cookie)/i;

/** Words that make a URL parameter secret when its name (split at `-`, `_`, `.` and camelCase) contains one. */
const SECRET_PARAM_WORDS = new Set([
  'token',
  'secret',
  'password',
  'passwd',
  'pwd',
  'pass',
  'signature',
  'sig',
  'key',
  'apikey',
  'credential',
  'credentials',
  'auth',
  'authorization',
]);

/** `scheme://userinfo@` */
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@"'<>]+)@/gi;
/** `?name=value`, `&name=value`, `#name=value`, `;name=value` */
const PARAM = /([?&#;])([^=&#;\s"'<>?]+)=([^&#;\s"'<>]*)/g;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

function isSecretParam(name: string): boolean {
  let decoded = name;
  try {
    decoded = decodeURIComponent(name);
  } catch {
    // keep it as written
  }
  return decoded
    .split(/[-_.[\]]+|(?<=[a-z0-9])(?=[A-Z])/)
    .some((word) => SECRET_PARAM_WORDS.has(word.toLowerCase()));
}

/** The text with URL userinfo and secret URL parameters replaced; the same string when there is nothing to hide. */
export function redactText(text: string): string {
  let out = text;
  if (out.includes('@') && out.includes('://')) out = out.replace(USERINFO, `$1${REDACTED}@`);
  if (out.includes('=')) {
    out = out.replace(PARAM, (whole, sep: string, name: string, value: string) =>
      value !== '' && isSecretParam(name) ? `${sep}${name}=${REDACTED}` : whole,
    );
  }
  return out;
}

/**
 * The value as it may be logged: the same reference when nothing in it is secret (the common case costs one walk),
 * a redacted copy otherwise.
 */
export function redactValue(value: unknown, depth = 0, ancestors: object[] = []): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (ancestors.includes(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    const json: unknown = (toJSON as () => unknown).call(value);
    if (json !== value) return redactValue(json, depth, [...ancestors, value]);
  }
  const path = [...ancestors, value];
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item: unknown, i) => {
      const redacted = redactValue(item, depth + 1, path);
      if (redacted !== item) (copy ??= [...value])[i] = redacted;
    });
    return copy ?? value;
  }
  if (value instanceof Map || value instanceof Set || Buffer.isBuffer(value)) return value;
  let copy: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(value)) {
    const redacted =
      isSecretKey(key) && item !== undefined && item !== null ? REDACTED : redactValue(item, depth + 1, path);
    if (redacted !== item) (copy ??= { ...(value as Record<string, unknown>) })[key] = redacted;
  }
  return copy ?? value;
}

/**
 * Redacts a winston log entry in place (its top level is winston's own object, built for this line): the message,
 * and every meta value, recursively. Winston's symbol keys (level, splat) are left alone.
 */
export function redactEntry(info: Record<string, unknown>): void {
  for (const key of Object.keys(info)) {
    const value = info[key];
    if (key === 'level') continue;
    if (isSecretKey(key) && value !== undefined && value !== null) info[key] = REDACTED;
    else {
      const redacted = redactValue(value, 1, [info]);
      if (redacted !== value) info[key] = redacted;
    }
  }
}
