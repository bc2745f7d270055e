import { storeCall } from './store-errors';

/** The Redis command the Lua-scripted parts of the bridge need (node-redis v5). */
export interface ScriptRedisClient {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/**
 * A Lua script, run atomically on the server: what makes the queue and the limiter safe across instances.
 * Always sent with EVAL (Redis caches the compiled script by its hash). EVALSHA with a NOSCRIPT fallback would
 * save a few hundred bytes per call but can reorder calls: one that met NOSCRIPT is re-sent after calls issued
 * later, which would put a customer's second message ahead of the first.
 */
export class RedisScript {
  constructor(private readonly source: string) {}

  /** Runs the script; Redis being away rejects with `UnavailableError` (STATE_STORE_UNAVAILABLE). */
  run(client: ScriptRedisClient, keys: string[], args: Array<string | number>): Promise<unknown> {
    return storeCall(() => client.eval(this.source, { keys, arguments: args.map(String) }));
  }
}
