import { errorCode, errorMessage } from '../errors';
import type { Logger } from '../logger';
import type { ConversationStore } from '../ports';
import type { VendorGateway } from '../vendor-gateway';
import type { Intake } from './intake';

/**
 * Drives an adapter that must be polled (a vendor without webhooks, or as a safety net beside them):
 * every `intervalMs` it asks the adapter for events after the stored cursor, records them as work in order,
 * and saves the new cursor only once every event was recorded, so a crash or a failure repeats the batch
 * (the core's dedupe drops what was already delivered) instead of losing it.
 */
export class Poller {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly adapter: Pick<VendorGateway, 'name' | 'poll'>,
    private readonly intake: Pick<Intake, 'acceptHelpdeskEvents'>,
    private readonly store: ConversationStore,
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Runs one poll now (tests, and the first poll at start). */
  async pollOnce(): Promise<number> {
    const name = `poll:${this.adapter.name}`;
    const cursor = await this.store.getCursor(name);
    const { events, cursor: next } = await this.adapter.poll(cursor);
    if (events.length) await this.intake.acceptHelpdeskEvents(events);
    if (next !== cursor) await this.store.setCursor(name, next);
    return events.length;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.pollOnce()
        .then((count) => {
          if (count) this.logger.debug('poll delivered events', { vendor: this.adapter.name, events: count });
        })
        .catch((err: unknown) => {
          this.logger.error('poll failed; will try again', {
            vendor: this.adapter.name,
            code: errorCode(err),
            error: errorMessage(err),
          });
        })
        .finally(() => this.schedule(this.intervalMs));
    }, delayMs);
    this.timer.unref();
  }
}
