/**
 * What a real LIME server refuses. A server built on lime-csharp deserializes every frame into a typed envelope
 * (string ids and addresses, string metadata values, a document typed by its media type) and ends the session
 * (`finished`, then closes the socket) on a frame it cannot deserialize. The sandbox applies the same rules so a
 * regression in what the bridge sends fails the tests instead of passing against a lenient server.
 *
 * Sources: the LIME specification (limeprotocol.org: envelope JSON schemas, node identifier and media type
 * patterns, the `lime:` URI scheme) and lime-csharp's envelope serializer (the envelope kind is decided by the
 * first of `content`, `event`, `method`, `state` it finds; unknown enum values do not deserialize).
 */

/** `name@domain/instance`, each part optional as the specification's pattern allows. */
const NODE = /^(?:[^"&'/:<>@]{1,1023}@)?[^/@]{1,1023}(?:\/.{1,1023})?$/s;
/** `type/subtype[+suffix][; parameters]`. */
const MEDIA_TYPE = /^[-\w.]+\/[-\w.]+(?:\+[-\w.]+)?(?:\s*;.*)?$/s;
const EVENTS = ['accepted', 'validated', 'authorized', 'dispatched', 'received', 'consumed', 'failed'];
const METHODS = ['get', 'set', 'merge', 'delete', 'subscribe', 'unsubscribe', 'observe'];
const STATUSES = ['pending', 'success', 'failure'];
const STATES = ['new', 'negotiating', 'authenticating', 'established', 'finishing', 'finished', 'failed'];

export type EnvelopeKind = 'message' | 'notification' | 'command' | 'session';

/** The kind a lime-csharp server deserializes a JSON object into, or undefined (no known kind). */
export function kindOf(envelope: Record<string, unknown>): EnvelopeKind | undefined {
  if ('content' in envelope) return 'message';
  if ('event' in envelope) return 'notification';
  if ('method' in envelope) return 'command';
  if ('state' in envelope) return 'session';
  return undefined;
}

/** Whether a media type's documents are JSON objects (`application/json`, `…+json`). */
export function isJsonType(type: string): boolean {
  const essence = type.split(';')[0]!.trim().toLowerCase();
  return essence.endsWith('+json') || essence.split('/')[1] === 'json';
}

/**
 * Why a real LIME server would refuse this frame (one line, never the frame's content), or undefined when it
 * parses. `frame` is the JSON value of one WebSocket text frame.
 */
export function refusalOf(frame: unknown): string | undefined {
  if (frame === null || typeof frame !== 'object' || Array.isArray(frame)) {
    return `the frame is not a JSON object (${frame === null ? 'null' : Array.isArray(frame) ? 'an array' : typeof frame})`;
  }
  const envelope = frame as Record<string, unknown>;
  const kind = kindOf(envelope);
  if (!kind) return 'an envelope of no known kind (no content, event, method or state)';
  return commonProblem(envelope) ?? kindProblem[kind](envelope);
}

function commonProblem(e: Record<string, unknown>): string | undefined {
  if (!optionalString(e.id)) return `id must be a string (got ${typeName(e.id)})`;
  for (const key of ['from', 'to', 'pp'] as const) {
    const value = e[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') return `${key} must be a string (got ${typeName(value)})`;
    if (!NODE.test(value)) return `${key} is not a LIME node (name@domain/instance)`;
  }
  if (e.metadata !== undefined && e.metadata !== null) {
    if (typeof e.metadata !== 'object' || Array.isArray(e.metadata)) return 'metadata must be an object';
    for (const [key, value] of Object.entries(e.metadata)) {
      // lime-csharp's metadata is a string -> string dictionary: a JSON null is a null string, anything else fails.
      if (value !== null && typeof value !== 'string')
        return `metadata value "${key}" must be a string (got ${typeName(value)})`;
    }
  }
  return undefined;
}

/** The LIME chat states (limeprotocol.org, `application/vnd.lime.chatstate+json`). */
export const CHAT_STATES = ['starting', 'composing', 'paused', 'deleting', 'gone'];
export const CHAT_STATE_TYPE = 'application/vnd.lime.chatstate+json';

const kindProblem: Record<EnvelopeKind, (e: Record<string, unknown>) => string | undefined> = {
  message(e) {
    if (e.type === undefined || e.type === null) return 'a message without type';
    if (e.type === CHAT_STATE_TYPE) return chatStateProblem(e.content);
    return documentProblem(e.type, e.content, 'message');
  },
  notification(e) {
    if (typeof e.event !== 'string' || !EVENTS.includes(e.event))
      return `unknown notification event ${JSON.stringify(e.event)}`;
    return reasonProblem(e.reason);
  },
  command(e) {
    if (typeof e.method !== 'string' || !METHODS.includes(e.method))
      return `unknown command method ${JSON.stringify(e.method)}`;
    if (e.uri !== undefined && e.uri !== null) {
      if (typeof e.uri !== 'string') return `uri must be a string (got ${typeName(e.uri)})`;
      if (!e.uri.startsWith('/') && !e.uri.toLowerCase().startsWith('lime://'))
        return 'uri must be relative (/path) or use the lime: scheme';
    }
    if (e.status !== undefined && e.status !== null && !STATUSES.includes(String(e.status)))
      return `unknown command status ${JSON.stringify(e.status)}`;
    // The type says how to read the resource: only a command that carries one needs it.
    if (e.resource !== undefined && e.resource !== null) {
      if (e.type === undefined || e.type === null) return 'a command resource without type';
      return documentProblem(e.type, e.resource, 'command resource');
    }
    if (e.type !== undefined && e.type !== null && (typeof e.type !== 'string' || !MEDIA_TYPE.test(e.type)))
      return `the command type is not a media type (type/subtype)`;
    return reasonProblem(e.reason);
  },
  session(e) {
    if (typeof e.state !== 'string' || !STATES.includes(e.state))
      return `unknown session state ${JSON.stringify(e.state)}`;
    return reasonProblem(e.reason);
  },
};

function documentProblem(type: unknown, value: unknown, what: string): string | undefined {
  if (typeof type !== 'string') return `the ${what} type must be a string (got ${typeName(type)})`;
  if (!MEDIA_TYPE.test(type))
    return `the ${what} type "${type.slice(0, 80)}" is not a media type (type/subtype)`;
  if (isJsonType(type)) {
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      return `a ${type} ${what} must be a JSON object (got ${typeName(value)})`;
    return undefined;
  }
  // Every other media type is a plain document: its content is the text itself.
  if (typeof value !== 'string') return `a ${type} ${what} must be a string (got ${typeName(value)})`;
  return undefined;
}

/** A chat state document: `{ "state": <one of CHAT_STATES> }`, nothing else. */
function chatStateProblem(content: unknown): string | undefined {
  if (content === null || typeof content !== 'object' || Array.isArray(content))
    return `a chat state must be a JSON object (got ${typeName(content)})`;
  const keys = Object.keys(content);
  const state = (content as { state?: unknown }).state;
  if (typeof state !== 'string' || !CHAT_STATES.includes(state))
    return `unknown chat state ${JSON.stringify(state)}`;
  if (keys.some((k) => k !== 'state')) return 'a chat state has only "state"';
  return undefined;
}

function reasonProblem(reason: unknown): string | undefined {
  if (reason === undefined || reason === null) return undefined;
  if (typeof reason !== 'object' || Array.isArray(reason)) return 'reason must be an object';
  const { code, description } = reason as { code?: unknown; description?: unknown };
  if (typeof code !== 'number' || !Number.isInteger(code)) return 'reason.code must be an integer';
  if (description !== undefined && description !== null && typeof description !== 'string')
    return 'reason.description must be a string';
  return undefined;
}

function optionalString(value: unknown): boolean {
  return value === undefined || value === null || typeof value === 'string';
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
