import type { DomainEvents } from '../core/events';
import { errorMessage } from '../core/errors';
import type { Logger } from '../core/logger';
import type { ReportsConfig } from './config';
import { TextCipher } from './crypto';
import { PostgresReportStore } from './postgres-store';
import { SessionRecorder } from './recorder';
import { SqliteReportStore } from './sqlite-store';
import type { PurgeResult, ReportStore } from './store';

export type { ReportsConfig } from './config';
export type { ReportStore } from './store';

const DAY_MS = 86_400_000;

/** A store for the configuration (not yet opened or migrated): PostgreSQL with DATABASE_URL, else SQLite. */
export function createReportStore(config: ReportsConfig, logger: Logger): ReportStore {
  if (config.databaseUrl) {
    return new PostgresReportStore({
      connectionString: config.databaseUrl,
      onPoolError: (err) =>
        logger.warn('reports database connection lost', {
          code: 'REPORTS_DB_CONNECTION',
          error: err.message,
        }),
    });
  }
  return new SqliteReportStore(config.sqlitePath);
}

/** Opens and migrates the store for the CLI (one try; the error says what is wrong). */
export async function openReportStore(config: ReportsConfig, logger: Logger): Promise<ReportStore> {
  const store = createReportStore(config, logger);
  try {
    await store.migrate();
    return store;
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
}

export interface ReportsOptions {
  /** Waits between tries to open the store (the last one repeats). */
  openRetryMs?: number[];
  /** First purge after the store opened, then every `purgeEveryMs`. */
  firstPurgeAfterMs?: number;
  purgeEveryMs?: number;
  now?: () => Date;
}

/**
 * Attendance session reports: the recorder on the domain events, the store behind it (opened in the background,
 * retried until it works, so an unreachable database never stops the bridge), and the retention purge.
 */
export class Reports {
  readonly recorder: SessionRecorder;
  /** Decrypts the talk log when a key is configured (also with text storage now off, for older rows). */
  readonly cipher?: TextCipher;
  private opened: ReportStore | undefined;
  private readonly ready: Promise<ReportStore>;
  private closing = false;
  private purgeTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private readonly now: () => Date;

  constructor(
    readonly config: ReportsConfig,
    private readonly logger: Logger,
    private readonly options: ReportsOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
    this.cipher = config.textKey ? new TextCipher(config.textKey) : undefined;
    this.ready = this.open();
    this.recorder = new SessionRecorder(this.ready, logger, {
      builder: { teamTagPrefix: config.teamTagPrefix },
      cipher: config.storeText ? this.cipher : undefined,
    });
  }

  /** Starts recording the bus's events. */
  subscribe(events: DomainEvents): void {
    this.recorder.subscribe(events);
  }

  /** The store once it is open; undefined while it is still being opened (the routes answer 503). */
  store(): ReportStore | undefined {
    return this.opened;
  }

  /** Resolves with the store once it is open. */
  whenReady(): Promise<ReportStore> {
    return this.ready;
  }

  /** Deletes what is older than the retention. */
  async purge(): Promise<PurgeResult & { before: string }> {
    const store = await this.ready;
    const before = new Date(this.now().getTime() - this.config.retentionDays * DAY_MS).toISOString();
    const result = await store.purge(before);
    this.logger.info('session reports purged', {
      ...result,
      before,
      retentionDays: this.config.retentionDays,
    });
    return { ...result, before };
  }

  async close(): Promise<void> {
    this.closing = true;
    this.wake?.();
    clearTimeout(this.purgeTimer);
    await this.recorder.close();
    await this.opened
      ?.close()
      .catch((err: unknown) =>
        this.logger.warn('reports store did not close cleanly', { error: errorMessage(err) }),
      );
  }

  private async open(): Promise<ReportStore> {
    const delays = this.options.openRetryMs ?? [1_000, 2_000, 5_000, 10_000, 30_000, 60_000];
    const kind = this.config.databaseUrl ? 'postgres' : 'sqlite';
    for (let attempt = 0; ; attempt++) {
      if (this.closing) throw new Error('the bridge stopped before the reports store opened');
      let store: ReportStore | undefined;
      try {
        store = createReportStore(this.config, this.logger);
        const version = await store.migrate();
        if (this.closing) {
          await store.close();
          throw new Error('the bridge stopped before the reports store opened');
        }
        this.opened = store;
        this.logger.info('session reports recording', {
          store: kind,
          ...(kind === 'sqlite' ? { file: this.config.sqlitePath } : {}),
          schemaVersion: version,
          talkLogText: this.config.storeText ? 'encrypted' : 'off',
          retentionDays: this.config.retentionDays,
        });
        this.schedulePurge(this.options.firstPurgeAfterMs ?? 60_000);
        return store;
      } catch (err) {
        await store?.close().catch(() => {});
        if (this.closing) throw err;
        const delay = delays[Math.min(attempt, delays.length - 1)]!;
        this.logger.error('session reports store unavailable; retrying (handoffs are not affected)', {
          code: 'REPORTS_STORE_UNAVAILABLE',
          store: kind,
          attempt: attempt + 1,
          retryInMs: delay,
          error: errorMessage(err),
        });
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          timer.unref();
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  }

  private schedulePurge(afterMs: number): void {
    if (this.closing) return;
    this.purgeTimer = setTimeout(() => {
      this.purge()
        .catch((err: unknown) =>
          this.logger.error('session reports purge failed', {
            code: 'REPORTS_PURGE_FAILED',
            error: errorMessage(err),
          }),
        )
        .finally(() => this.schedulePurge(this.options.purgeEveryMs ?? DAY_MS));
    }, afterMs);
    this.purgeTimer.unref();
  }
}

/** The reports for the bridge's configuration, recording the bus's events; undefined (and a log line) when off. */
export function startReports(
  config: ReportsConfig,
  events: DomainEvents,
  logger: Logger,
): Reports | undefined {
  if (!config.enabled) {
    logger.info('session reports are off (REPORTS_ENABLED=false)', { code: 'REPORTS_DISABLED' });
    return undefined;
  }
  const reports = new Reports(config, logger);
  reports.subscribe(events);
  return reports;
}
