/**
 * `npm run reports -- …` as a person runs it: a real process (tsx) against a SQLite file the bridge wrote, with the
 * settings from the environment.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { fromCsvRecord } from '../../src/reports/export';
import { applyEvent, talkEntryFor } from '../../src/reports/record';
import { toRow } from '../../src/reports/schema';
import { SqliteReportStore } from '../../src/reports/sqlite-store';
import { scriptedEvents } from '../helpers/report-events';

jest.setTimeout(60_000);

const root = path.resolve(__dirname, '../..');

function cli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/reports.ts', ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('reports CLI', () => {
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'bhb-reports-cli-'));
    const file = path.join(dir, 'reports.sqlite');
    env = { REPORTS_SQLITE_PATH: file, REPORTS_TIMEZONE: 'America/Sao_Paulo' };
    const store = new SqliteReportStore(file);
    await store.migrate();
    const sessions = [
      scriptedEvents({
        sessionId: 'cli-1',
        start: '2026-11-02T12:00:00Z',
        name: 'Ana, "a" =1+1',
        agent: { id: '1', name: 'Bia' },
        agentAt: [30],
        closeAt: 300,
      }),
      scriptedEvents({ sessionId: 'cli-2', start: '2026-11-03T02:59:00Z', closeAt: 60, closedBy: 'expired' }),
      scriptedEvents({ sessionId: 'cli-3', start: '2026-11-03T03:00:00Z', closeAt: 60 }),
      scriptedEvents({ sessionId: 'old', start: '2020-01-01T00:00:00Z', closeAt: 60 }),
    ];
    for (const events of sessions)
      for (const e of events)
        await store.update(e.payload.sessionId!, talkEntryFor(e), (r) =>
          applyEvent(r, e, { teamTagPrefix: 'team_' }),
        );
    await store.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exports a day in the report time zone as CSV that parses back to the stored rows', async () => {
    // Nov 2 in São Paulo is 03:00Z Nov 2 to 03:00Z Nov 3: cli-2 (02:59Z) is in, cli-3 (03:00Z) is not.
    const out = path.join(dir, 'nov2.csv');
    const res = await cli(['export', '--from', '2026-11-02', '--to', '2026-11-02', '--out', out], env);
    expect(res.code).toBe(0);
    expect(res.stderr).toContain('sessions/v1');
    const rows = (parse(readFileSync(out, 'utf8'), { columns: true }) as Record<string, string>[]).map(
      fromCsvRecord,
    );
    const store = new SqliteReportStore(env.REPORTS_SQLITE_PATH!);
    const expected = [(await store.get('cli-1'))!, (await store.get('cli-2'))!].map(toRow);
    await store.close();
    expect(rows).toEqual(expected);
  });

  it('exports NDJSON to stdout and aggregates per day', async () => {
    const ndjson = await cli(
      ['export', '--from', '2026-11-01', '--to', '2026-11-30', '--format', 'ndjson'],
      env,
    );
    expect(ndjson.code).toBe(0);
    expect(
      ndjson.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { session_id: string }).session_id),
    ).toEqual(['cli-1', 'cli-2', 'cli-3']);
    const agg = await cli(['aggregates', '--from', '2026-11-02', '--to', '2026-11-03', '--by', 'day'], env);
    expect(agg.code).toBe(0);
    const body = JSON.parse(agg.stdout) as { groups: { day: Array<{ key: string; sessions: number }> } };
    expect(body.groups.day.map((d) => [d.key, d.sessions])).toEqual([
      ['2026-11-02', 2],
      ['2026-11-03', 1],
    ]);
  });

  it('purges by the retention and explains bad usage with exit code 2', async () => {
    const purge = await cli(['purge'], { ...env, REPORTS_RETENTION_DAYS: '1000' });
    expect(purge.code).toBe(0);
    expect(JSON.parse(purge.stdout)).toMatchObject({ sessions: 1, entries: 2 });
    const talk = await cli(['talk', 'cli-1'], env);
    expect(
      talk.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { origin: string }).origin),
    ).toEqual(['customer', 'agent', 'automatic']);
    const bad = await cli(['export', '--from', 'yesterday'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Usage: blip-helpdesk-bridge reports');
    const badKey = await cli(['export'], { ...env, REPORTS_STORE_TEXT: 'true' });
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toContain('REPORTS_TEXT_KEY');
  });
});
