/**
 * The session reports from the command line, against the same store the bridge writes (DATABASE_URL, else the
 * SQLite file REPORTS_SQLITE_PATH). Reads `.env` when present, like the bridge. `blip-helpdesk-bridge reports help`.
 */
import { once } from 'node:events';
import { createWriteStream, existsSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { AGGREGATE_COLUMNS, DIMENSIONS, type Dimension } from '../reports/aggregates';
import { loadReportsConfig, type ReportsConfig } from '../reports/config';
import { TextCipher } from '../reports/crypto';
import { csvCell, csvLine, encodeSessions, type ExportFormat } from '../reports/export';
import { openReportStore } from '../reports/index';
import { computeAggregates, readTalkLog } from '../reports/queries';
import { SESSIONS_SCHEMA_ID } from '../reports/schema';
import { allSessions, type ReportStore } from '../reports/store';
import { parseRange, ReportRangeError } from '../reports/time';
import { createLogger } from '../telemetry/logger';

const USAGE = `Usage: blip-helpdesk-bridge reports <command> [options]   (in a checkout: npm run reports -- …)

Commands:
  export      --from <date|timestamp> --to <date|timestamp> [--format csv|ndjson] [--out <file>]
              Session rows (column schema ${SESSIONS_SCHEMA_ID}) created in [from, to); stdout unless --out.
  aggregates  --from … --to … [--by day|agent|team|vendor|close_reason] [--format json|csv]
              Sessions, average and p90 wait, average handle time, expired share per group.
  talk        <session id>
              One session's talk log as NDJSON (text decrypted with REPORTS_TEXT_KEY when it was stored).
  purge       [--before <timestamp>]
              Deletes sessions whose last event is older than the retention (REPORTS_RETENTION_DAYS).
  migrate     Creates or upgrades the tables and the view; prints the schema version.

Dates: YYYY-MM-DD is midnight in REPORTS_TIMEZONE, and a date-only --to includes that day. Timestamps need Z or
an offset. Defaults: the last 30 days.
Store: DATABASE_URL (PostgreSQL) when set, else the SQLite file REPORTS_SQLITE_PATH.`;

class UsageError extends Error {}

export async function runReportsCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  let config: ReportsConfig;
  try {
    config = loadReportsConfig(env);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  const logger = createLogger({ level: 'warn', format: 'pretty', stream: process.stderr });
  let store: ReportStore | undefined;
  try {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        format: { type: 'string' },
        out: { type: 'string' },
        by: { type: 'string' },
        before: { type: 'string' },
      },
    });
    const range = () => parseRange({ from: values.from, to: values.to }, config.timezone, new Date());
    switch (command) {
      case 'export': {
        const format = (values.format ?? 'csv') as ExportFormat;
        if (format !== 'csv' && format !== 'ndjson') throw new UsageError('--format must be csv or ndjson');
        const r = range();
        store = await openReportStore(config, logger);
        if (values.out) {
          await pipeline(
            Readable.from(encodeSessions(allSessions(store, r), format)),
            createWriteStream(values.out),
          );
        } else {
          for await (const chunk of encodeSessions(allSessions(store, r), format)) {
            if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
          }
        }
        process.stderr.write(`exported sessions ${r.from} to ${r.to} (${SESSIONS_SCHEMA_ID})\n`);
        return 0;
      }
      case 'aggregates': {
        const format = values.format ?? 'json';
        const by = values.by as Dimension | undefined;
        if (by && !DIMENSIONS.includes(by))
          throw new UsageError(`--by must be one of ${DIMENSIONS.join(', ')}`);
        if (format === 'csv' && !by) throw new UsageError('--format csv needs --by');
        if (format !== 'csv' && format !== 'json') throw new UsageError('--format must be json or csv');
        const r = range();
        store = await openReportStore(config, logger);
        const aggregates = await computeAggregates(store, r, config.timezone);
        if (format === 'csv') {
          process.stdout.write(csvLine([...AGGREGATE_COLUMNS]));
          for (const row of aggregates.groups[by!]) {
            process.stdout.write(csvLine(AGGREGATE_COLUMNS.map((c) => csvCell(row[c]))));
          }
        } else {
          const body = by ? { ...aggregates, groups: { [by]: aggregates.groups[by] } } : aggregates;
          process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
        }
        return 0;
      }
      case 'talk': {
        const id = positionals[0];
        if (!id) throw new UsageError('talk needs a session id');
        store = await openReportStore(config, logger);
        if (!(await store.get(id))) {
          process.stderr.write(`no session ${id}\n`);
          return 1;
        }
        const cipher = config.textKey ? new TextCipher(config.textKey) : undefined;
        for (const line of await readTalkLog(store, id, cipher))
          process.stdout.write(`${JSON.stringify(line)}\n`);
        return 0;
      }
      case 'purge': {
        const before =
          values.before ?? new Date(Date.now() - config.retentionDays * 86_400_000).toISOString();
        if (Number.isNaN(Date.parse(before))) throw new UsageError('--before must be an ISO-8601 timestamp');
        store = await openReportStore(config, logger);
        const result = await store.purge(new Date(before).toISOString());
        process.stdout.write(`${JSON.stringify({ ...result, before: new Date(before).toISOString() })}\n`);
        return 0;
      }
      case 'migrate': {
        store = await openReportStore(config, logger);
        process.stdout.write(`report schema version ${await store.migrate()} (${store.kind})\n`);
        return 0;
      }
      default:
        throw new UsageError(`unknown command ${command}`);
    }
  } catch (err) {
    if (err instanceof UsageError || err instanceof ReportRangeError || isArgError(err)) {
      process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`);
      return 2;
    }
    process.stderr.write(`reports ${command} failed: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await store?.close().catch(() => {});
  }
}

function isArgError(err: unknown): boolean {
  return (
    typeof err === 'object' &&
    err !== null &&
    String((err as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')
  );
}

if (require.main === module) {
  if (existsSync('.env')) process.loadEnvFile('.env');
  void runReportsCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
