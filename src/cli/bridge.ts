/**
 * Operator commands on the shared state (REDIS_URL): `blip-helpdesk-bridge <command>` (or `npm run bridge --
 * <command>` in a checkout). Reads `.env` when present. In memory mode the state lives inside the running bridge:
 * use its admin API (ADMIN_TOKEN) instead.
 */
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { errorMessage } from '../core/errors';
import { conversationView } from '../http/admin-routes';
import { createState, type State } from '../state/create-store';
import { createLogger } from '../telemetry/logger';
import { runCheck } from './check';
import { DeadLetterAdmin } from '../core/work/dead-letters';
import { runSetup, SETUP_USAGE } from './setup';

const USAGE = `Usage: blip-helpdesk-bridge <command>   (in a checkout: npm run bridge -- <command>)

Vendor setup and checks (read .env; exit status 0 ready, 1 something failed, 2 bad settings or usage):
${SETUP_USAGE}
  ${'check'.padEnd(48)} the settings, a BLiP session, the vendor's credentials and Redis

Dead letters (work that failed for good: after WORK_MAX_ATTEMPTS, or refused by the helpdesk):
  dlq list              One line per dead letter: id, when, kind, customer or ticket, attempts, code, reason.
  dlq show <id>         The whole dead letter as JSON (includes the message text).
  dlq replay <id>…|all  Puts it back at the end of its customer's queue; the bridge works it again.
  dlq drop <id>…        Deletes it for good.
  queue                 Work waiting: items, customers, dead letters.

Attendances in progress (to close one, POST /admin/conversations/<customer>/close on a running bridge):
  conversations [list] [<limit>]  One line each: customer, vendor, status, ticket, agent, opened at, age.
  conversations show <customer>   One conversation as JSON (no message text).

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
    if (command === 'conversations') return await conversations(state, sub, args, out, err);
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

const limitArg = z.coerce.number().int().positive().max(10_000);

async function conversations(
  state: State,
  sub: string | undefined,
  args: string[],
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<number> {
  if (sub === 'show') {
    const conversation = args[0] ? await state.store.get(args[0]) : undefined;
    if (!conversation) {
      err(args[0] ? `no conversation for ${args[0]}` : 'conversations show needs a customer identity');
      return args[0] ? 1 : 2;
    }
    out(JSON.stringify(conversationView(conversation, Date.now()), null, 2));
    return 0;
  }
  const limitText = sub === 'list' ? args[0] : sub;
  const limit = limitArg.safeParse(limitText ?? 1000);
  if (!limit.success) {
    err(`conversations [list] [<limit>]: the limit is a whole number up to 10000, not "${limitText}"`);
    return 2;
  }
  const now = Date.now();
  const list = await state.store.list(limit.data);
  if (list.length === 0) out('no conversations in progress');
  for (const c of list) {
    const v = conversationView(c, now);
    const ticket = v.ticket ? (v.ticket.number ?? v.ticket.id) : '-';
    const agent = v.agent ? (v.agent.name ?? v.agent.id) : '-';
    out([v.customer, v.vendor, v.status, ticket, agent, v.openedAt, `${v.ageSeconds}s`].join('\t'));
  }
  return 0;
}

if (require.main === module) {
  if (existsSync('.env')) process.loadEnvFile('.env');
  void runBridgeCli(process.argv.slice(2)).then((code) => process.exit(code));
}
