import pg from 'pg';
import { recordFromRow, recordValues, STORED_COLUMNS, TALK_COLUMNS, talkEntryValues } from './columns';
import { sessionColumnsAt, SESSIONS_VIEW, type SessionRecord, type TalkEntry } from './schema';
import { PURGE_BATCH, type ListQuery, type PurgeResult, type ReportStore, type ReportUpdate } from './store';

/**
 * The PostgreSQL backend (`DATABASE_URL`): what several bridge instances share, and what Looker Studio connects to
 * (the `report_sessions_v1` view). Each update (or batch of them) runs in a transaction that locks the session's
 * row, so instances recording events of the same session never lose one another's changes.
 */
interface Migration {
  version: number;
  name: string;
  sql: string;
}

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'sessions and talk log',
    sql: `
      CREATE TABLE report_sessions (
        session_id text PRIMARY KEY,
        protocol text, vendor text, ticket_id text, channel text, channel_domain text, router text,
        customer_identity text, customer_key text, customer_name text, team text,
        agent_id text, agent_name text, agent_ids text, agent_names text,
        status text NOT NULL DEFAULT 'open',
        created_at timestamptz NOT NULL, ticket_opened_at timestamptz, first_agent_reply_at timestamptz,
        finished_at timestamptz,
        waiting_seconds double precision, handle_seconds double precision, total_seconds double precision,
        closed_by text, close_reason text, tags text, expired boolean NOT NULL DEFAULT false,
        customer_messages integer NOT NULL DEFAULT 0, agent_messages integer NOT NULL DEFAULT 0,
        automatic_messages integer NOT NULL DEFAULT 0, attachments integer NOT NULL DEFAULT 0,
        delivery_failures integer NOT NULL DEFAULT 0,
        handed_back_at timestamptz, last_event_at timestamptz NOT NULL,
        agents jsonb NOT NULL DEFAULT '[]',
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX report_sessions_created ON report_sessions (created_at, session_id);
      CREATE INDEX report_sessions_last_event ON report_sessions (last_event_at);
      CREATE TABLE report_talk_log (
        session_id text NOT NULL,
        entry_id text NOT NULL,
        at timestamptz NOT NULL,
        origin text NOT NULL,
        type text NOT NULL,
        detail text,
        attachments integer NOT NULL DEFAULT 0,
        text_enc text,
        media_enc text,
        PRIMARY KEY (session_id, entry_id)
      );
      CREATE VIEW ${SESSIONS_VIEW} AS SELECT ${sessionColumnsAt(1).join(', ')} FROM report_sessions;
      COMMENT ON VIEW ${SESSIONS_VIEW} IS 'Attendance sessions, one row per handoff (blip-helpdesk-bridge, column schema v1; see docs/reports.md)';
    `,
  },
  {
    version: 2,
    name: 'first assignment time and transfers',
    sql: `
      ALTER TABLE report_sessions ADD COLUMN first_assigned_at timestamptz;
      ALTER TABLE report_sessions ADD COLUMN transfers integer NOT NULL DEFAULT 0;
      CREATE OR REPLACE VIEW ${SESSIONS_VIEW} AS SELECT ${sessionColumnsAt(2).join(', ')} FROM report_sessions;
    `,
  },
  {
    version: 3,
    name: 'locale and satisfaction survey',
    sql: `
      ALTER TABLE report_sessions ADD COLUMN locale text;
      ALTER TABLE report_sessions ADD COLUMN rating integer;
      ALTER TABLE report_sessions ADD COLUMN survey text;
      CREATE OR REPLACE VIEW ${SESSIONS_VIEW} AS SELECT ${sessionColumnsAt(3).join(', ')} FROM report_sessions;
    `,
  },
];

export const POSTGRES_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
/** Any constant: the advisory lock that makes concurrent migrations run one at a time. */
const MIGRATION_LOCK = 4_207_311;

type Row = Record<string, unknown>;

export interface PostgresStoreOptions {
  connectionString: string;
  /** Errors of idle pooled connections (a restarted server); without a handler they would crash the process. */
  onPoolError?: (err: Error) => void;
  max?: number;
}

export class PostgresReportStore implements ReportStore {
  readonly kind = 'postgres';
  private readonly pool: pg.Pool;

  constructor(options: PostgresStoreOptions) {
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.max ?? 4,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: 10_000,
      application_name: 'blip-helpdesk-bridge reports',
    });
    this.pool.on('error', (err) => options.onPoolError?.(err));
  }

  /** Applies the migrations not applied yet (up to `upTo`: tests build an older database with it). */
  async migrate(upTo = Number.POSITIVE_INFINITY): Promise<number> {
    await this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await client.query(
        'CREATE TABLE IF NOT EXISTS report_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
      );
      const { rows } = await client.query<{ version: number }>('SELECT version FROM report_migrations');
      const done = new Set(rows.map((r) => r.version));
      for (const m of MIGRATIONS) {
        if (done.has(m.version) || m.version > upTo) continue;
        await client.query(m.sql);
        await client.query('INSERT INTO report_migrations (version, name) VALUES ($1, $2)', [
          m.version,
          m.name,
        ]);
      }
    });
    return POSTGRES_SCHEMA_VERSION;
  }

  async update(
    sessionId: string,
    entry: TalkEntry | undefined,
    change: (current: SessionRecord | undefined) => SessionRecord,
  ): Promise<boolean> {
    return this.transaction((client) => applyUpdate(client, { sessionId, entry, change }));
  }

  async updateMany(items: readonly ReportUpdate[]): Promise<boolean[]> {
    if (items.length === 0) return [];
    return this.transaction(async (client) => {
      const sessions = [...new Set(items.map((i) => i.sessionId))].sort();
      if (sessions.length > 1) {
        // The batch holds its rows' locks until COMMIT: take those of the existing rows first, in one fixed order,
        // so two instances writing batches of the same sessions wait for each other instead of deadlocking (a
        // deadlock that still happens, over rows both create, fails the batch: the recorder then writes one by one).
        await client.query(
          'SELECT 1 FROM report_sessions WHERE session_id = ANY($1::text[]) ORDER BY session_id FOR UPDATE',
          [sessions],
        );
      }
      const results: boolean[] = [];
      for (const item of items) results.push(await applyUpdate(client, item));
      return results;
    });
  }

  async get(sessionId: string): Promise<SessionRecord | undefined> {
    const { rows } = await this.pool.query<Row>('SELECT * FROM report_sessions WHERE session_id = $1', [
      sessionId,
    ]);
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  async talkLog(sessionId: string): Promise<TalkEntry[]> {
    const { rows } = await this.pool.query<Row>(
      'SELECT * FROM report_talk_log WHERE session_id = $1 ORDER BY at, entry_id',
      [sessionId],
    );
    return rows.map((r) => ({ ...r, at: iso(r.at) }) as unknown as TalkEntry);
  }

  async list(query: ListQuery): Promise<SessionRecord[]> {
    const desc = query.order === 'desc';
    const params: unknown[] = [query.from, query.to];
    let keyset = '';
    if (query.after) {
      const op = desc ? '<' : '>';
      params.push(query.after.created_at, query.after.session_id);
      keyset = `AND (created_at, session_id) ${op} ($3::timestamptz, $4::text)`;
    }
    params.push(query.limit);
    const dir = desc ? 'DESC' : 'ASC';
    const { rows } = await this.pool.query<Row>(
      `SELECT * FROM report_sessions WHERE created_at >= $1 AND created_at < $2 ${keyset}
       ORDER BY created_at ${dir}, session_id ${dir} LIMIT $${params.length}`,
      params,
    );
    return rows.map(fromRow);
  }

  async purge(before: string, batchSize = PURGE_BATCH): Promise<PurgeResult> {
    const result: PurgeResult = { sessions: 0, entries: 0 };
    for (;;) {
      // SKIP LOCKED: a session being recorded right now is left for the next run instead of waited for.
      const { rows } = await this.pool.query<{ sessions: string; entries: string }>(
        `WITH doomed AS (
           SELECT session_id FROM report_sessions WHERE last_event_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED
         ), t AS (
           DELETE FROM report_talk_log WHERE session_id IN (SELECT session_id FROM doomed) RETURNING 1
         ), s AS (
           DELETE FROM report_sessions WHERE session_id IN (SELECT session_id FROM doomed) RETURNING 1
         )
         SELECT (SELECT count(*) FROM s) AS sessions, (SELECT count(*) FROM t) AS entries`,
        [before, batchSize],
      );
      const sessions = Number(rows[0]?.sessions ?? 0);
      result.sessions += sessions;
      result.entries += Number(rows[0]?.entries ?? 0);
      if (sessions < batchSize) return result;
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      // A connection that cannot even roll back is dropped from the pool instead of being reused.
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
      throw err;
    } finally {
      client.release(broken);
    }
  }
}

const INSERT_TALK_ENTRY = `INSERT INTO report_talk_log (${TALK_COLUMNS.join(', ')})
  VALUES (${TALK_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')}) ON CONFLICT (session_id, entry_id) DO NOTHING`;

/** The column assignments of the session row's UPDATE ($1 is the session id). */
const UPDATE_SESSION = `UPDATE report_sessions SET ${STORED_COLUMNS.slice(1)
  .map((c, i) => `${c} = $${i + 2}`)
  .join(', ')}, updated_at = now() WHERE session_id = $1`;

/** One update inside the caller's transaction: the talk log entry first, then create-or-lock and change the row. */
async function applyUpdate(client: pg.PoolClient, item: ReportUpdate): Promise<boolean> {
  const { sessionId, entry, change } = item;
  if (entry) {
    const inserted = await client.query(INSERT_TALK_ENTRY, talkEntryValues(entry));
    if (inserted.rowCount === 0) return false;
  }
  // Create-or-lock: a new session's row is inserted (and so locked) right away, so two instances recording the
  // first events of one session at once take turns instead of overwriting each other.
  const now = new Date().toISOString();
  const created = await client.query(
    `INSERT INTO report_sessions (session_id, created_at, last_event_at) VALUES ($1, $2, $2)
     ON CONFLICT (session_id) DO NOTHING`,
    [sessionId, now],
  );
  let current: SessionRecord | undefined;
  if (created.rowCount === 0) {
    const { rows } = await client.query<Row>(
      'SELECT * FROM report_sessions WHERE session_id = $1 FOR UPDATE',
      [sessionId],
    );
    current = rows[0] ? fromRow(rows[0]) : undefined;
  }
  const next = change(current);
  await client.query(UPDATE_SESSION, recordValues({ ...next, session_id: sessionId }, toPostgres));
  return true;
}

function iso(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString();
}

function toPostgres(value: unknown, type: string): unknown {
  if (type === 'json') return JSON.stringify(value ?? []);
  if (type === 'boolean') return Boolean(value);
  return value ?? null;
}

function fromRow(row: Row): SessionRecord {
  return recordFromRow(row, (value, type) => {
    if (type === 'timestamp') return iso(value);
    if (type === 'json') return Array.isArray(value) ? value : [];
    if (type === 'seconds' || type === 'integer') return value === null ? null : Number(value);
    return value ?? null;
  });
}
