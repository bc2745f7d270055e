import type { Counter } from 'prom-client';
import type { Logger } from '../core/logger';
import type { Metrics } from './metrics';

/**
 * Refused requests (bad webhook signatures and replays, admin requests without the token, forged media links, LIME
 * senders the bridge does not serve), counted one by one and logged in aggregate (issue 17.11): anyone can send
 * them, as fast as they like, and one warn line each let a loop of bad requests flood the logs (a timing loop wrote
 * about 11,500 lines).
 *
 * Per route and reason: the first refusal is logged at once, with its details (address, why); the ones that follow
 * within the window (a minute) are counted, and when the window ends one line says how many there were
 * (`repeated`, with up to five distinct client addresses), and a new window starts. A window without refusals
 * closes, so the next refusal is again logged at once. Every refusal counts in `bhb_requests_refused_total{route,
 * reason}` as it happens. `route` and `reason` label the metric: keep them to a small fixed set (a route pattern,
 * a reason word), and put anything variable in `meta`.
 */

export interface Refusal {
  /** The route pattern (`/webhooks/zendesk`, `/admin/dlq/:id`, `lime`). */
  route: string;
  /** Why, as one word from a fixed set (`bad-signature`, `replay-window`, `unauthenticated`, …). */
  reason: string;
  /** The stable error code of the log line (`WEBHOOK_UNAUTHENTICATED`). */
  code: string;
  /** The log message (`webhook rejected`); the aggregate line adds `(repeated)`. */
  message: string;
  /** Details of this refusal for the first line: `ip`, `detail`, `vendor`… Never a secret or a body. */
  meta?: Record<string, unknown>;
}

export interface RefusalLogOptions {
  /** The aggregation window (default one minute). */
  windowMs?: number;
  /** Where `bhb_requests_refused_total` is registered; without it nothing is counted. */
  metrics?: Metrics;
}

/** Distinct client addresses named in an aggregate line. */
const MAX_IPS = 5;

interface Window {
  refusal: Refusal;
  repeated: number;
  ips: Set<string>;
  timer: NodeJS.Timeout;
}

export class RefusalLog {
  private readonly windowMs: number;
  private readonly counter?: Counter<'route' | 'reason'>;
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly logger: Logger,
    options: RefusalLogOptions = {},
  ) {
    this.windowMs = options.windowMs ?? 60_000;
    this.counter = options.metrics?.counter({
      name: 'bhb_requests_refused_total',
      help: 'Requests refused (bad signature, replay, missing admin token, forged link, sender not served), by route and reason.',
      labelNames: ['route', 'reason'],
    });
  }

  refuse(refusal: Refusal): void {
    this.counter?.inc({ route: refusal.route, reason: refusal.reason });
    const key = `${refusal.route}\u0000${refusal.reason}`;
    const open = this.windows.get(key);
    if (open) {
      open.repeated++;
      const ip = refusal.meta?.ip;
      if (typeof ip === 'string' && open.ips.size < MAX_IPS) open.ips.add(ip);
      return;
    }
    this.logger.warn(refusal.message, this.base(refusal, refusal.meta));
    this.windows.set(key, this.openWindow(key, refusal));
  }

  /** Writes the pending aggregate lines and stops the timers (at shutdown). */
  flush(): void {
    for (const [key, window] of this.windows) {
      clearTimeout(window.timer);
      this.report(window);
      this.windows.delete(key);
    }
  }

  private openWindow(key: string, refusal: Refusal): Window {
    const timer = setTimeout(() => this.closeWindow(key), this.windowMs);
    timer.unref();
    return { refusal, repeated: 0, ips: new Set(), timer };
  }

  /** The window ends: say how many more there were, and keep aggregating while they keep coming. */
  private closeWindow(key: string): void {
    const window = this.windows.get(key);
    if (!window) return;
    if (window.repeated === 0) {
      this.windows.delete(key);
      return;
    }
    this.report(window);
    this.windows.set(key, this.openWindow(key, window.refusal));
  }

  private report(window: Window): void {
    if (window.repeated === 0) return;
    this.logger.warn(`${window.refusal.message} (repeated)`, {
      ...this.base(window.refusal),
      repeated: window.repeated,
      windowSeconds: Math.round(this.windowMs / 1000),
      ...(window.ips.size ? { ips: [...window.ips] } : {}),
    });
  }

  private base(refusal: Refusal, meta?: Record<string, unknown>): Record<string, unknown> {
    return { ...meta, code: refusal.code, route: refusal.route, reason: refusal.reason };
  }
}
