/**
 * `blip-helpdesk-bridge <command>`: the package's one executable (bin/blip-helpdesk-bridge.js loads this file from
 * dist/). `start` runs the bridge (dist/main.js); the others are the operator commands of ./bridge.ts and the
 * session reports of ./reports.ts. Every command reads `.env` from the working directory when present.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { runBridgeCli } from './bridge';
import { runReportsCli } from './reports';

const BRIDGE_COMMANDS = new Set(['check', 'setup', 'conversations', 'queue', 'dlq']);

const USAGE = `Usage: blip-helpdesk-bridge <command> [arguments]

  start                 Runs the bridge (settings from the environment and .env; see .env.example).
  check                 The settings, a BLiP session, the vendor's credentials and Redis, one line each.
  setup <vendor>        The vendor side of the bridge (webhooks, triggers, Business Rules); setup --help.
  conversations …       Attendances in progress on the shared Redis (list, show).
  queue                 Work waiting on the shared Redis: items, customers, dead letters.
  dlq …                 Dead letters: list, show, replay, drop.
  reports …             Session reports: export, aggregates, talk, purge, migrate; reports help.
  help <command>        That command's own help (help dlq, help reports).
  --version             The package version.

Exit status: 0 ok, 1 something failed (named on stderr), 2 bad settings or usage.`;

function version(): string {
  const manifest = path.join(__dirname, '..', '..', 'package.json');
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

/** Runs one command; resolves with the exit status, or never for `start` (the bridge owns the process then). */
export async function runCli(argv: string[]): Promise<number | undefined> {
  const [command, ...rest] = argv;
  if (command === 'start') {
    // main.ts reads .env, validates the settings, starts, and handles signals and its own exit status.
    // Loading main.ts starts the bridge (it is the process entry); a require so it happens only for `start`.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('../main');
    return undefined;
  }
  if (command === '--version' || command === '-v') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (command === 'help' && rest[0] === 'reports') return runCli(['reports', 'help']);
  if (command === 'help' && rest[0] && BRIDGE_COMMANDS.has(rest[0])) {
    return runBridgeCli(['help']);
  }
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    (command ? process.stdout : process.stderr).write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  if (existsSync('.env')) process.loadEnvFile('.env');
  if (command === 'reports') {
    return runReportsCli(rest);
  }
  if (BRIDGE_COMMANDS.has(command)) {
    return runBridgeCli([command, ...rest]);
  }
  process.stderr.write(`unknown command "${command}"\n\n${USAGE}\n`);
  return 2;
}

if (require.main === module) {
  void runCli(process.argv.slice(2)).then((code) => {
    if (code !== undefined) process.exitCode = code;
  });
}
