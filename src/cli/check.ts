/**
 * `npm run bridge -- check`: can this configuration run? Opens a BLiP session with the bot's key, calls the
 * vendor's API with its credentials, pings Redis (when REDIS_URL is set), and prints one line each. Exit status:
 * 0 all reachable, 1 something failed, 2 the configuration itself is invalid.
 */
import type { VendorName } from '../adapters/registry';
import { randomUUID } from 'node:crypto';
import { BlipConnection } from '../blip/client';
import { BlipHttpCommands } from '../blip/http-commands';
import { ConfigError, loadConfig, type Config } from '../config';
import { errorMessage } from '../core/errors';
import { silentLogger } from '../core/logger';
import { createState } from '../state/create-store';
import { vendorSetups } from './setup';
import { withTimeout } from '../core/timeout';

type Print = (line: string) => void;

interface Check {
  name: string;
  run(): Promise<{ ok: boolean; detail: string }>;
}

export async function runCheck(env: NodeJS.ProcessEnv, out: Print, err: Print): Promise<number> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) {
      err(e.message);
      return 2;
    }
    throw e;
  }
  const vendors = config.vendors.map((v) => v.name as VendorName);
  const checks: Check[] = [
    {
      name: 'configuration',
      run: async () => ({
        ok: true,
        detail: `valid (${vendors.length > 1 ? 'vendors' : 'vendor'} ${vendors.join(', ')})`,
      }),
    },
    {
      name: 'blip',
      async run() {
        // One attempt, bounded by BLIP_HANDSHAKE_TIMEOUT_MS (a malformed key would otherwise hang it) and the
        // command timeout for presence and receipts. The error names the target and the server's own reason.
        const connection = new BlipConnection(
          { ...config.blip, commandTimeoutMs: Math.min(config.blip.commandTimeoutMs, 10_000) },
          silentLogger,
        );
        try {
          await connection.connect();
          return {
            ok: true,
            detail: `session established as ${connection.identity} at ${config.blip.scheme}://${config.blip.host}:${config.blip.port}`,
          };
        } catch (e) {
          return { ok: false, detail: errorMessage(e) };
        } finally {
          await connection.close(1_000, 1_000).catch(() => {});
        }
      },
    },
    // BLIP_HISTORY_KEY: the router's key reads threads over BLiP's HTTP commands (the transcript's source).
    ...(config.liveChat.history ? [historyCheck(config.liveChat.history)] : []),
    // Each enabled helpdesk's credentials, one line each.
    ...config.vendors.map((vendor): Check => ({
      name: vendor.name,
      run: async () =>
        vendorSetups[vendor.name as VendorName]?.check(vendor.settings) ?? {
          ok: true,
          detail: 'no check for this vendor',
        },
    })),
    {
      name: 'redis',
      async run() {
        if (!config.redisUrl) return { ok: true, detail: 'not set: state in memory (one instance only)' };
        // Its reconnect errors would be logged over the report: the check says it once.
        const state = createState(config.redisUrl, silentLogger);
        try {
          await withTimeout(state.store.ping(), 5_000);
          return { ok: true, detail: `${redacted(config.redisUrl)} reachable` };
        } catch (e) {
          return { ok: false, detail: `${redacted(config.redisUrl)} not reachable: ${errorMessage(e)}` };
        } finally {
          await state.store.close().catch(() => {});
        }
      },
    },
  ];
  let failed = 0;
  for (const check of checks) {
    const result = await check.run().catch((e: unknown) => ({ ok: false, detail: errorMessage(e) }));
    if (!result.ok) failed++;
    out(`${(result.ok ? 'OK' : 'FAIL').padEnd(5)} ${check.name.padEnd(14)} ${result.detail}`);
  }
  out(failed ? `\n${failed} check(s) failed.` : '\nAll checks passed.');
  return failed ? 1 : 0;
}

/** One `get /threads?$take=1` with BLIP_HISTORY_KEY: the key is taken and reads threads. */
function historyCheck(history: { key: string; url: string }): Check {
  return {
    name: 'blip history',
    async run() {
      const commands = new BlipHttpCommands({ ...history, timeoutMs: 10_000 });
      const answer = await commands.sendCommand({ id: randomUUID(), method: 'get', uri: '/threads?$take=1' });
      if (answer.status !== 'success') {
        const reason = answer.reason
          ? `${answer.reason.code} ${answer.reason.description ?? ''}`.trim()
          : 'no reason';
        return {
          ok: false,
          detail: `${history.url}: BLiP answered ${answer.status ?? 'nothing'} (${reason})`,
        };
      }
      return { ok: true, detail: `${history.url}: BLIP_HISTORY_KEY reads its bot's threads` };
    },
  };
}

/** A Redis URL without its password. */
function redacted(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(REDIS_URL)';
  }
}
