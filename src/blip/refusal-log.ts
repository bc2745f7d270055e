import type { Logger } from '../core/logger';

/**
 * Logs refusals without flooding: the first refusal of a kind is logged at once, with its details; the next ones
 * within the window are only counted, and one line per window says how many there were. A sender that writes a
 * thousand times a minute costs two lines a minute, and the counter behind `/metrics` still sees every one.
 */
export class RefusalLog {
  private readonly windows = new Map<string, { count: number; timer: NodeJS.Timeout }>();

  constructor(
    private readonly logger: Logger,
    private readonly message: string,
    private readonly code: string,
    private readonly windowMs = 60_000,
  ) {}

  note(reason: string, meta: Record<string, unknown>): void {
    const open = this.windows.get(reason);
    if (open) {
      open.count++;
      return;
    }
    this.logger.warn(this.message, { code: this.code, reason, ...meta });
    this.openWindow(reason);
  }

  /** Writes what is still counted and stops the timers. */
  flush(): void {
    for (const [reason, window] of this.windows) {
      clearTimeout(window.timer);
      this.summarize(reason, window.count);
    }
    this.windows.clear();
  }

  private openWindow(reason: string): void {
    const timer = setTimeout(() => {
      const count = this.windows.get(reason)?.count ?? 0;
      this.windows.delete(reason);
      if (count > 0) {
        this.summarize(reason, count);
        // More may follow: keep aggregating, one line per window.
        this.openWindow(reason);
      }
    }, this.windowMs);
    timer.unref();
    this.windows.set(reason, { count: 0, timer });
  }

  private summarize(reason: string, count: number): void {
    if (count === 0) return;
    this.logger.warn(`${this.message} (more of the same)`, {
      code: this.code,
      reason,
      refused: count,
      windowSeconds: Math.round(this.windowMs / 1000),
    });
  }
}
