/**
 * Operator commands on the shared state (REDIS_URL): `npm run bridge -- <command>`. Reads `.env` when present.
 * In memory mode the state lives inside the running bridge: use its admin API (ADMIN_TOKEN) instead.
 */
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { errorMessage } from '../core/errors';
import { createState } from '../state/create-store';
import { createLogger } from '../telemetry/logger';
import { runCheck } from './check';
import { DeadLetterAdmin } from '../core/work/dead-letters';
import { runSetup, SETUP_USAGE } from './setup';

const USAGE = `Usage: npm run bridge -- <command>

Vendor setup and checks (read .env; exit status 0 ready, 1 something failed, 2 bad settings or usage):
${SETUP_USAGE}
  ${'check'.padEnd(48)} the settings, a BLiP session, the vendor's credentials and Redis

Dead letters (work that failed for good: after WORK_MAX_ATTEMPTS, or refused by the helpdesk):
  dlq list              One line per dead letter: id, when, kind, customer or ticket, attempts, code, reason.
  dlq show <id>         The whole dead letter as JSON (includes the message text).
  dlq replay <id>…|all  Puts it back at the end of its customer's queue; the bridge works it again.
  dlq drop <id>…        Deletes it for good.
  queue                 Work waiting: items, customers, dead letters.

Needs REDIS_URL (the bridge's shared state). Exit status: 0 ok, 1 something not found or failed, 2 usage.`;

export async function runBridgeCli(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  out: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  err: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<number> {
  const [command, sub, ...args] = argv;
  if (!command || command === 'help' || command === '--help') {
    out(USAGE);
    return command ? 0 : 2;
  }
  if (command === 'setup') return runSetup([sub ?? '', ...args].filter(Boolean), env, out, err);
  if (command === 'check') return runCheck(env, out, err);
  const redisUrl = z.url({ protocol: /^rediss?$/ }).safeParse(env.REDIS_URL);
  if (!redisUrl.success) {
    err(
      'REDIS_URL must be the redis:// URL of the bridge state. Without Redis the dead letters live inside the ' +
        'running bridge: use its admin API (GET /admin/dlq with the ADMIN_TOKEN bearer token).',
    );
    return 2;
  }
  const logger = createLogger({ level: 'warn', format: 'pretty', defaultMeta: { service: 'bridge-cli' } });
  const state = createState(redisUrl.data, logger);
  try {
    await state.store.ping();
    const admin = new DeadLetterAdmin(state.queue);
    if (command === 'queue') {
      out(JSON.stringify(await state.queue.depth()));
      return 0;
    }
    if (command !== 'dlq') {
      err(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
    }
    switch (sub) {
      case 'list': {
        const letters = await admin.list();
        if (letters.length === 0) out('no dead letters');
        for (const l of letters) {
          out([l.id, l.at, l.kind, l.lane, l.subject, `attempts=${l.attempts}`, l.code, l.reason].join('\t'));
        }
        return 0;
      }
      case 'show': {
        const letter = args[0] ? await admin.show(args[0]) : undefined;
        if (!letter) {
          err(args[0] ? `no dead letter ${args[0]}` : 'dlq show needs an id');
          return args[0] ? 1 : 2;
        }
        out(JSON.stringify(letter, null, 2));
        return 0;
      }
      case 'replay': {
        if (args.length === 0) {
          err('dlq replay needs ids, or all');
          return 2;
        }
        const { replayed, missing } = await admin.replay(args[0] === 'all' ? 'all' : args);
        out(`replayed ${replayed.length}${replayed.length ? `: ${replayed.join(' ')}` : ''}`);
        if (missing.length) err(`not found: ${missing.join(' ')}`);
        return missing.length ? 1 : 0;
      }
      case 'drop': {
        if (args.length === 0) {
          err('dlq drop needs ids');
          return 2;
        }
        const { dropped, missing } = await admin.drop(args);
        out(`dropped ${dropped.length}${dropped.length ? `: ${dropped.join(' ')}` : ''}`);
        if (missing.length) err(`not found: ${missing.join(' ')}`);
        return missing.length ? 1 : 0;
      }
      default:
        err(`unknown dlq command "${sub ?? ''}"\n\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    err(`failed: ${errorMessage(e)}`);
    return 1;
  } finally {
    await state.store.close().catch(() => {});
  }
}

if (require.main === module) {
  if (existsSync('.env')) process.loadEnvFile('.env');
  void runBridgeCli(process.argv.slice(2)).then((code) => process.exit(code));
}
