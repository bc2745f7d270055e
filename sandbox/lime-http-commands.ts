/**
 * BLiP's HTTP commands on the sandbox LIME server's port: `POST /commands` with `Authorization: Key <base64 of
 * identifier:access key>` and a LIME command as the JSON body, answered by the same directory as the LIME sessions.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Envelope, LimeServerOptions } from './lime-types';

/** One request to `POST /commands`, with who it authenticated as (or why not). */
export interface HttpCommandRecord {
  at: Date;
  identity?: string;
  status: number;
  uri?: string;
}

export interface HttpCommandsContext {
  domain: string;
  accounts: LimeServerOptions['accounts'];
  /** Where each request is recorded (LimeServer.httpCommands). */
  records: HttpCommandRecord[];
  /** Answers a command from `identity` through `respond` (LimeDirectory.answer). */
  answer(identity: string, command: Envelope, respond: (extra: Envelope) => void): void;
}

/**
 * The key of a bot's `Authorization: Key …` header for BLiP's HTTP API, as the portal shows it: base64 of
 * `identifier:` and the access key decoded.
 */
export function httpKey(identifier: string, accessKey: string): string {
  return Buffer.from(`${identifier}:${Buffer.from(accessKey, 'base64').toString('utf8')}`).toString('base64');
}

/**
 * `POST /commands` (BLiP's HTTP commands): `Authorization: Key <base64 of identifier:access key>`, a LIME command
 * as the JSON body; answered 200 with the command's response (a failure is a `failure` status, as BLiP does),
 * 401 without valid credentials. The caller is the key's bot: a router reads its own threads.
 */
export function serveHttpCommand(
  context: HttpCommandsContext,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const reply = (status: number, body?: unknown, identity?: string, uri?: string): void => {
      context.records.push({
        at: new Date(),
        status,
        ...(identity ? { identity } : {}),
        ...(uri ? { uri } : {}),
      });
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== '/commands') return reply(404);
    const identity = httpIdentity(context, req.headers.authorization);
    if (!identity) return reply(401, { error: 'The authorization key is not valid' });
    let command: Envelope;
    try {
      command = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Envelope;
    } catch {
      return reply(400, { error: 'The body is not JSON' }, identity);
    }
    if (!command || typeof command !== 'object' || typeof command.method !== 'string')
      return reply(400, { error: 'The body is not a LIME command' }, identity);
    context.answer(identity, command, (extra) =>
      reply(
        200,
        {
          id: command.id,
          method: command.method,
          from: `postmaster@${context.domain}/#sandbox`,
          to: identity,
          ...extra,
        },
        identity,
        String(command.uri ?? ''),
      ),
    );
  });
}

/** The bot whose HTTP key this is (`Key <base64 of identifier:access key decoded>`), or undefined. */
function httpIdentity(context: HttpCommandsContext, header: string | undefined): string | undefined {
  const m = /^Key\s+(\S+)$/i.exec(header ?? '');
  if (!m) return undefined;
  for (const [identifier, accessKey] of Object.entries(context.accounts)) {
    if (httpKey(identifier, accessKey) === m[1]) return `${identifier}@${context.domain}`.toLowerCase();
  }
  return undefined;
}
