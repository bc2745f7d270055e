import type { SessionRecord, TalkEntry } from './schema';

/** Sessions whose `created_at` is in [from, to). Both ISO-8601 UTC. */
export interface TimeRange {
  from: string;
  to: string;
}

export interface ListQuery extends TimeRange {
  /** Keyset pagination: the last row of the previous page. */
  after?: { created_at: string; session_id: string };
  limit: number;
  /** Oldest first (export) or newest first (the page's recent sessions). */
  order?: 'asc' | 'desc';
}

export interface PurgeResult {
  sessions: number;
  entries: number;
}

/** One item of `ReportStore.updateMany`: the arguments of one `update`. */
export interface ReportUpdate {
  sessionId: string;
  entry: TalkEntry | undefined;
  change: (current: SessionRecord | undefined) => SessionRecord;
}

/**
 * Where session records live. Two backends pass the same test suite: SQLite (a file, the default) and PostgreSQL
 * (`DATABASE_URL`). Each keeps its schema with versioned migrations, applied by `migrate()`.
 */
export interface ReportStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Applies pending migrations (safe when several instances start at once); returns the schema version. */
  migrate(): Promise<number>;
  /**
   * Changes one session atomically: the talk log entry (if any) is inserted first; if an entry with its id exists
   * already, the event was recorded before and nothing changes (returns false). Otherwise `change` gets the
   * current record (undefined for a new session) and its result is saved.
   */
  update(
    sessionId: string,
    entry: TalkEntry | undefined,
    change: (current: SessionRecord | undefined) => SessionRecord,
  ): Promise<boolean>;
  /**
   * Many `update`s in ONE transaction (the recorder's batches: a transaction per event was 15-20% of the bridge's
   * CPU under load). Each item means exactly what `update` means, applied in order, so a later item of the same
   * session sees the earlier ones' changes; the result has one boolean per item. If anything throws, nothing of
   * the batch is kept and the promise rejects. Optional: a store without it is written one `update` at a time.
   */
  updateMany?(items: readonly ReportUpdate[]): Promise<boolean[]>;
  get(sessionId: string): Promise<SessionRecord | undefined>;
  talkLog(sessionId: string): Promise<TalkEntry[]>;
  list(query: ListQuery): Promise<SessionRecord[]>;
  /**
   * Deletes sessions whose last event is older than `before`, with their talk log, in batches (short locks).
   * Sessions with any later activity are kept.
   */
  purge(before: string, batchSize?: number): Promise<PurgeResult>;
  close(): Promise<void>;
}

/** Every session in the range, page by page (bounded memory however large the export). */
export async function* allSessions(
  store: ReportStore,
  range: TimeRange,
  order: 'asc' | 'desc' = 'asc',
  pageSize = 500,
): AsyncGenerator<SessionRecord> {
  let after: ListQuery['after'];
  for (;;) {
    const page = await store.list({ ...range, after, limit: pageSize, order });
    yield* page;
    if (page.length < pageSize) return;
    const last = page[page.length - 1]!;
    after = { created_at: last.created_at, session_id: last.session_id };
  }
}

/** How many rows one purge statement deletes at most. */
export const PURGE_BATCH = 1000;
