import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { recordFromRow, recordValues, STORED_COLUMNS, TALK_COLUMNS, talkEntryValues } from './columns';
import { sessionColumnsAt, SESSIONS_VIEW, type SessionRecord, type TalkEntry } from './schema';
import { PURGE_BATCH, type ListQuery, type PurgeResult, type ReportStore, type ReportUpdate } from './store';

/**
 * The default backend: one SQLite file (better-sqlite3: synchronous, in-process, zero setup). WAL mode and a busy
 * timeout let the CLI read while the bridge writes. Several bridge instances should share PostgreSQL instead.
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
        session_id TEXT PRIMARY KEY,
        protocol TEXT, vendor TEXT, ticket_id TEXT, channel TEXT, channel_domain TEXT, router TEXT,
        customer_identity TEXT, customer_key TEXT, customer_name TEXT, team TEXT,
        agent_id TEXT, agent_name TEXT, agent_ids TEXT, agent_names TEXT,
        status TEXT NOT NULL DEFAULT 'open',
        created_at TEXT NOT NULL, ticket_opened_at TEXT, first_agent_reply_at TEXT, finished_at TEXT,
        waiting_seconds REAL, handle_seconds REAL, total_seconds REAL,
        closed_by TEXT, close_reason TEXT, tags TEXT, expired INTEGER NOT NULL DEFAULT 0,
        customer_messages INTEGER NOT NULL DEFAULT 0, agent_messages INTEGER NOT NULL DEFAULT 0,
        automatic_messages INTEGER NOT NULL DEFAULT 0, attachments INTEGER NOT NULL DEFAULT 0,
        delivery_failures INTEGER NOT NULL DEFAULT 0,
        handed_back_at TEXT, last_event_at TEXT NOT NULL,
        agents TEXT NOT NULL DEFAULT '[]',
        updated_at TEXT NOT NULL
      );
      CREATE INDEX report_sessions_created ON report_sessions (created_at, session_id);
      CREATE INDEX report_sessions_last_event ON report_sessions (last_event_at);
      CREATE TABLE report_talk_log (
        session_id TEXT NOT NULL,
        entry_id TEXT NOT NULL,
        at TEXT NOT NULL,
        origin TEXT NOT NULL,
        type TEXT NOT NULL,
        detail TEXT,
        attachments INTEGER NOT NULL DEFAULT 0,
        text_enc TEXT,
        media_enc TEXT,
        PRIMARY KEY (session_id, entry_id)
      );
      CREATE VIEW ${SESSIONS_VIEW} AS SELECT ${sessionColumnsAt(1).join(', ')} FROM report_sessions;
    `,
  },
  {
    version: 2,
    name: 'first assignment time and transfers',
    sql: `
      ALTER TABLE report_sessions ADD COLUMN first_assigned_at TEXT;
      ALTER TABLE report_sessions ADD COLUMN transfers INTEGER NOT NULL DEFAULT 0;
      DROP VIEW ${SESSIONS_VIEW};
      CREATE VIEW ${SESSIONS_VIEW} AS SELECT ${sessionColumnsAt(2).join(', ')} FROM report_sessions;
    `,
  },
  {
    version: 3,
    name: 'locale and satisfaction survey',
    sql: `
      ALTER TABLE report_sessions ADD COLUMN locale TEXT;
      ALTER TABLE report_sessions ADD COLUMN rating INTEGER;
      ALTER TABLE report_sessions ADD COLUMN survey TEXT;
      DROP VIEW ${SESSIONS_VIEW};
      CREATE VIEW ${SESSIONS_VIEW} AS SELECT ${sessionColumnsAt(3).join(', ')} FROM report_sessions;
    `,
  },
];

export const SQLITE_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

type Row = Record<string, unknown>;

export class SqliteReportStore implements ReportStore {
  readonly kind = 'sqlite';
  private readonly db: Database.Database;
  /**
   * update()'s statements, prepared once (after migrate(): they need the tables). Preparing them on every write
   * was 9% of the bridge's CPU under load (npm run bench: better-sqlite3's `prepare`, per domain event).
   */
  private statements?: {
    insertEntry: Database.Statement;
    selectSession: Database.Statement;
    upsertSession: Database.Statement;
  };

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.db = new Database(file);
    // The busy timeout first: switching to WAL needs a lock another process (the CLI, a test) may hold.
    this.db.pragma('busy_timeout = 10000');
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
  }

  /** Applies the migrations not applied yet (up to `upTo`: tests build an older database with it). */
  async migrate(upTo = Number.POSITIVE_INFINITY): Promise<number> {
    const run = this.db.transaction(() => {
      this.db.exec(
        'CREATE TABLE IF NOT EXISTS report_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
      );
      const done = new Set(
        (this.db.prepare('SELECT version FROM report_migrations').all() as { version: number }[]).map(
          (r) => r.version,
        ),
      );
      for (const m of MIGRATIONS) {
        if (done.has(m.version) || m.version > upTo) continue;
        this.db.exec(m.sql);
        this.db
          .prepare('INSERT INTO report_migrations (version, name, applied_at) VALUES (?, ?, ?)')
          .run(m.version, m.name, new Date().toISOString());
      }
    });
    // IMMEDIATE takes the write lock first: two processes starting at once migrate one after the other.
    run.immediate();
    return SQLITE_SCHEMA_VERSION;
  }

  async update(
    sessionId: string,
    entry: TalkEntry | undefined,
    change: (current: SessionRecord | undefined) => SessionRecord,
  ): Promise<boolean> {
    const statements = this.prepared();
    return this.db.transaction(() => this.apply(statements, { sessionId, entry, change })).immediate();
  }

  async updateMany(items: readonly ReportUpdate[]): Promise<boolean[]> {
    if (items.length === 0) return [];
    const statements = this.prepared();
    // One IMMEDIATE transaction for the whole batch; a throw anywhere rolls all of it back. Items apply in order,
    // and a session's row is read once and written once however many of its events the batch holds.
    return this.db
      .transaction(() => {
        const changed = new Map<string, SessionRecord>();
        const written = items.map(({ sessionId, entry, change }) => {
          if (entry && !this.insertEntry(statements, entry)) return false;
          const current = changed.has(sessionId) ? changed.get(sessionId) : this.read(statements, sessionId);
          changed.set(sessionId, change(current));
          return true;
        });
        for (const [sessionId, record] of changed) this.write(statements, sessionId, record);
        return written;
      })
      .immediate();
  }

  /** One update's statements; runs inside the caller's transaction. */
  private apply(statements: NonNullable<SqliteReportStore['statements']>, item: ReportUpdate): boolean {
    const { sessionId, entry, change } = item;
    if (entry && !this.insertEntry(statements, entry)) return false;
    this.write(statements, sessionId, change(this.read(statements, sessionId)));
    return true;
  }

  /** False when the entry was already there (a repeated event). */
  private insertEntry(statements: NonNullable<SqliteReportStore['statements']>, entry: TalkEntry): boolean {
    return statements.insertEntry.run(...talkEntryValues(entry)).changes > 0;
  }

  private read(
    statements: NonNullable<SqliteReportStore['statements']>,
    sessionId: string,
  ): SessionRecord | undefined {
    const row = statements.selectSession.get(sessionId) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  private write(
    statements: NonNullable<SqliteReportStore['statements']>,
    sessionId: string,
    record: SessionRecord,
  ): void {
    statements.upsertSession.run(
      ...recordValues({ ...record, session_id: sessionId }, toSqlite),
      new Date().toISOString(),
    );
  }

  private prepared(): NonNullable<SqliteReportStore['statements']> {
    if (this.statements) return this.statements;
    const columns = [...STORED_COLUMNS, 'updated_at'];
    return (this.statements = {
      insertEntry: this.db.prepare(
        `INSERT INTO report_talk_log (${TALK_COLUMNS.join(', ')}) VALUES (${TALK_COLUMNS.map(() => '?').join(', ')})
         ON CONFLICT (session_id, entry_id) DO NOTHING`,
      ),
      selectSession: this.db.prepare('SELECT * FROM report_sessions WHERE session_id = ?'),
      upsertSession: this.db.prepare(
        `INSERT INTO report_sessions (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})
         ON CONFLICT (session_id) DO UPDATE SET ${columns
           .filter((c) => c !== 'session_id')
           .map((c) => `${c} = excluded.${c}`)
           .join(', ')}`,
      ),
    });
  }

  async get(sessionId: string): Promise<SessionRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM report_sessions WHERE session_id = ?').get(sessionId) as
      Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  async talkLog(sessionId: string): Promise<TalkEntry[]> {
    return this.db
      .prepare('SELECT * FROM report_talk_log WHERE session_id = ? ORDER BY at, entry_id')
      .all(sessionId) as TalkEntry[];
  }

  async list(query: ListQuery): Promise<SessionRecord[]> {
    const desc = query.order === 'desc';
    const params: unknown[] = [query.from, query.to];
    let keyset = '';
    if (query.after) {
      const op = desc ? '<' : '>';
      keyset = `AND (created_at ${op} ? OR (created_at = ? AND session_id ${op} ?))`;
      params.push(query.after.created_at, query.after.created_at, query.after.session_id);
    }
    params.push(query.limit);
    const dir = desc ? 'DESC' : 'ASC';
    const rows = this.db
      .prepare(
        `SELECT * FROM report_sessions WHERE created_at >= ? AND created_at < ? ${keyset}
         ORDER BY created_at ${dir}, session_id ${dir} LIMIT ?`,
      )
      .all(...params) as Row[];
    return rows.map(fromRow);
  }

  async purge(before: string, batchSize = PURGE_BATCH): Promise<PurgeResult> {
    const result: PurgeResult = { sessions: 0, entries: 0 };
    const batch = this.db.transaction((): number => {
      const ids = (
        this.db
          .prepare('SELECT session_id FROM report_sessions WHERE last_event_at < ? LIMIT ?')
          .all(before, batchSize) as { session_id: string }[]
      ).map((r) => r.session_id);
      if (ids.length === 0) return 0;
      const list = JSON.stringify(ids);
      result.entries += this.db
        .prepare('DELETE FROM report_talk_log WHERE session_id IN (SELECT value FROM json_each(?))')
        .run(list).changes;
      result.sessions += this.db
        .prepare('DELETE FROM report_sessions WHERE session_id IN (SELECT value FROM json_each(?))')
        .run(list).changes;
      return ids.length;
    });
    while (batch.immediate() === batchSize) {
      // Yield between batches so the bridge's writes are not held up.
      await new Promise((resolve) => setImmediate(resolve));
    }
    return result;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

function toSqlite(value: unknown, type: string): unknown {
  if (type === 'boolean') return value ? 1 : 0;
  if (type === 'json') return JSON.stringify(value ?? []);
  return value ?? null;
}

function fromRow(row: Row): SessionRecord {
  return recordFromRow(row, (value, type) => {
    if (type === 'boolean') return value === 1 || value === true;
    if (type === 'json') return typeof value === 'string' ? (JSON.parse(value) as unknown) : [];
    return value ?? null;
  });
}
