import type { LimeCommand } from 'blip-sdk';
import { z } from 'zod';
import { describeError, PermanentError, RetryableError } from '../core/errors';
import type { CommandSender } from './directory';

export interface HttpCommandsOptions {
  /** BLiP's HTTP commands endpoint (`https://http.msging.net/commands`, a contract's `https://<c>.http.msging.net/commands`). */
  url: string;
  /** The bot's HTTP authorization key (the portal's `Authorization: Key …` value, without `Key `). */
  key: string;
  /** How long one command may take (ms). */
  timeoutMs: number;
}

const response = z.looseObject({
  id: z.string().nullish(),
  method: z.string().nullish(),
  status: z.enum(['pending', 'success', 'failure']).nullish(),
  type: z.string().nullish(),
  resource: z.unknown(),
  reason: z.object({ code: z.number(), description: z.string().nullish() }).nullish(),
});

/**
 * LIME commands over BLiP's HTTP API (`POST /commands`, `Authorization: Key …`) as another bot: the router, whose
 * key reads the router's own threads (the whole bot conversation with the real customer). A command, not a session:
 * the bridge never opens a LIME session as the router (a second session of the router would take a share of its
 * customers' messages). BLiP answers 200 with the command's response (a failure is a `failure` status); a refused
 * key is a PermanentError (`BLIP_HISTORY_KEY_REFUSED`), BLiP away a RetryableError.
 */
export class BlipHttpCommands implements CommandSender {
  constructor(private readonly options: HttpCommandsOptions) {}

  async sendCommand(command: LimeCommand): Promise<LimeCommand> {
    let res: Response;
    try {
      res = await fetch(this.options.url, {
        method: 'POST',
        headers: { authorization: `Key ${this.options.key}`, 'content-type': 'application/json' },
        body: JSON.stringify(command),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (err) {
      throw new RetryableError(
        `BLiP HTTP commands unreachable: ${describeError(err)}`,
        'BLIP_HTTP_UNREACHABLE',
      );
    }
    const text = await res.text().catch(() => '');
    if (res.status === 401 || res.status === 403) {
      throw new PermanentError(
        `BLiP refused BLIP_HISTORY_KEY (HTTP ${res.status}): it must be the router's Authorization key`,
        'BLIP_HISTORY_KEY_REFUSED',
      );
    }
    if (!res.ok) {
      const error = `BLiP HTTP commands answered ${res.status}`;
      if (res.status >= 500 || res.status === 429) throw new RetryableError(error, 'BLIP_HTTP_UNAVAILABLE');
      throw new PermanentError(error, 'BLIP_HTTP_REFUSED');
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new PermanentError('BLiP HTTP commands answered something that is not JSON', 'BLIP_BAD_RESOURCE');
    }
    const parsed = response.safeParse(body);
    if (!parsed.success) {
      throw new PermanentError(
        'BLiP HTTP commands answered something that is not a command',
        'BLIP_BAD_RESOURCE',
      );
    }
    const r = parsed.data;
    return {
      ...(r.id ? { id: r.id } : {}),
      method: command.method,
      ...(r.status ? { status: r.status } : {}),
      ...(r.type ? { type: r.type } : {}),
      resource: r.resource,
      ...(r.reason
        ? { reason: { code: r.reason.code, description: r.reason.description ?? undefined } }
        : {}),
    };
  }
}
