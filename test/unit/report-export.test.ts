import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { encodeSessions, fromCsvRecord } from '../../src/reports/export';
import { applyEvent } from '../../src/reports/record';
import { SESSION_COLUMNS, SESSION_COLUMN_NAMES, toRow, type SessionRecord } from '../../src/reports/schema';
import { scriptedEvents } from '../helpers/report-events';

function record(sessionId: string, overrides: Partial<SessionRecord>, closeAt?: number): SessionRecord {
  const events = scriptedEvents({
    sessionId,
    start: '2026-11-03T14:00:00.250Z',
    agent: { id: '1', name: 'Ana' },
    agentAt: [12.5],
    closeAt,
  });
  const built = events.reduce<SessionRecord | undefined>(
    (r, e) => applyEvent(r, e, { teamTagPrefix: 'team_' }),
    undefined,
  )!;
  return { ...built, ...overrides };
}

async function collect(chunks: AsyncIterable<string>): Promise<string> {
  let out = '';
  for await (const c of chunks) out += c;
  return out;
}

async function* iterate<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

// Names a spreadsheet would run as formulas, quotes, separators, line breaks, accents, leading/trailing spaces.
const tricky: SessionRecord[] = [
  record('s-1', { customer_name: 'Maria "Zezé", da Silva' }, 600),
  record('s-2', { customer_name: '=HYPERLINK("http://evil.example","click")', close_reason: '+55 11 9999' }),
  record('s-3', { customer_name: "'already quoted", team: '-minus', router: '@at' }, 30),
  record('s-4', { customer_name: 'two\r\nlines\nhere', agent_name: ' padded ', tags: 'a;b' }, 45.125),
  record('s-5', { customer_name: null, agent_name: '\tTab', closed_by: 'expired', expired: true }, 1800),
];

describe('session export', () => {
  it('CSV round-trips: parsed back with an independent CSV parser, it equals the rows', async () => {
    const csv = await collect(encodeSessions(iterate(tricky), 'csv'));
    const records = parse(csv, { columns: true, skip_empty_lines: true, relax_quotes: false }) as Record<
      string,
      string
    >[];
    expect(Object.keys(records[0]!)).toEqual([...SESSION_COLUMN_NAMES]);
    expect(records.map(fromCsvRecord)).toEqual(tricky.map(toRow));
  });

  it('CSV never starts a text cell with a formula character', async () => {
    const csv = await collect(encodeSessions(iterate(tricky), 'csv'));
    const cells = (parse(csv, { skip_empty_lines: true }) as string[][]).slice(1).flat();
    expect(cells.filter((c) => /^[=+\-@\t\r]/.test(c))).toEqual([]);
    expect(csv).toContain(`"'=HYPERLINK(""http://evil.example"",""click"")"`);
  });

  it('NDJSON round-trips, one object per line with exactly the schema columns', async () => {
    const ndjson = await collect(encodeSessions(iterate(tricky), 'ndjson'));
    const lines = ndjson.trimEnd().split('\n');
    expect(lines).toHaveLength(tricky.length);
    const rows = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.map((r) => Object.keys(r))).toEqual(tricky.map(() => [...SESSION_COLUMN_NAMES]));
    expect(rows).toEqual(tricky.map(toRow));
  });

  it('writes a header alone for an empty range, and chunks a large export', async () => {
    expect(await collect(encodeSessions(iterate([]), 'csv'))).toBe(`${SESSION_COLUMN_NAMES.join(',')}\r\n`);
    expect(await collect(encodeSessions(iterate([]), 'ndjson'))).toBe('');
    const many = Array.from({ length: 400 }, (_, i) => record(`bulk-${i}`, {}, 60));
    const chunks: string[] = [];
    for await (const c of encodeSessions(iterate(many), 'csv')) chunks.push(c);
    expect(chunks.length).toBeGreaterThan(1);
    expect((parse(chunks.join(''), { columns: true }) as unknown[]).length).toBe(400);
  });
});

describe('docs/reports.md', () => {
  const doc = readFileSync(path.resolve(__dirname, '../../docs/reports.md'), 'utf8');

  it('documents every column of the schema, in order, with its type', () => {
    const documented = [...doc.matchAll(/^\| `([a-z_]+)` +\| (\w+) +\|/gm)].map((m) => [m[1], m[2]]);
    expect(documented).toEqual(SESSION_COLUMNS.map((c) => [c.name, c.type]));
  });
});
