import type { HelpdeskAdapter } from '../adapters/adapter';
import { errorCode } from '../core/errors';
import type { DomainEvents } from '../core/events';
import type { WorkQueue } from '../core/work';
import type { Metrics } from './metrics';

export interface BridgeMetricsSources {
  events: DomainEvents;
  queue: WorkQueue;
  vendor: string;
  blipConnected: () => boolean;
}

/**
 * The bridge's own metrics: messages by direction, handoffs, dead letters, delivery failures (from the domain
 * events), and, read at each scrape, the work queue and the BLiP connection. Labels are low-cardinality only.
 * Returns the hooks the composition root gives the rate limiter and the adapter wrapper.
 */
export function registerBridgeMetrics(metrics: Metrics, sources: BridgeMetricsSources) {
  const { events, queue, vendor } = sources;
  const messages = metrics.counter({
    name: 'bhb_messages_total',
    help: 'Messages carried, by direction (to-helpdesk, to-customer, automatic) and vendor.',
    labelNames: ['direction', 'vendor'],
  });
  const handoffs = metrics.counter({
    name: 'bhb_handoffs_started_total',
    help: 'Tickets opened for a handoff.',
    labelNames: ['vendor'],
  });
  const closed = metrics.counter({
    name: 'bhb_handoffs_closed_total',
    help: 'Handoffs ended and handed back, by who ended them.',
    labelNames: ['vendor', 'closed_by'],
  });
  const deadLetters = metrics.counter({
    name: 'bhb_dead_letters_total',
    help: 'Units of work that failed for good and went to the dead-letter list.',
    labelNames: ['kind', 'code'],
  });
  const deliveryFailures = metrics.counter({
    name: 'bhb_delivery_failures_total',
    help: 'Messages that did not reach the other side, by direction.',
    labelNames: ['direction'],
  });
  const rateLimitWait = metrics.counter({
    name: 'bhb_rate_limit_wait_seconds_total',
    help: "Time spent waiting for the vendor's rate limit.",
    labelNames: ['vendor'],
  });
  const unconfirmedSends = metrics.counter({
    name: 'bhb_blip_sends_unacknowledged_total',
    help: 'Messages to customers counted as sent although BLiP sent no notification about them in time.',
  });
  const vendorLatency = metrics.histogram({
    name: 'bhb_vendor_request_duration_seconds',
    help: 'Vendor API calls by method and outcome (ok or the error code).',
    labelNames: ['vendor', 'method', 'outcome'],
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  });
  // One read of the queue per scrape, shared by the three gauges (prom-client collects them concurrently).
  const lastDepth = { queued: 0, lanes: 0, deadLetters: 0 };
  let refreshing: Promise<void> | undefined;
  const refreshDepth = (): Promise<void> =>
    (refreshing ??= queue
      .depth()
      .then((depth) => void Object.assign(lastDepth, depth))
      .catch(() => {})
      .finally(() => setTimeout(() => (refreshing = undefined), 100).unref()));
  metrics.gauge({
    name: 'bhb_work_queue_items',
    help: 'Units of work waiting in the queue (all instances on Redis).',
    collect: async function (this: { set(v: number): void }) {
      await refreshDepth();
      this.set(lastDepth.queued);
    },
  });
  metrics.gauge({
    name: 'bhb_work_queue_customers',
    help: 'Customers (lanes) with work waiting.',
    collect: async function (this: { set(v: number): void }) {
      await refreshDepth();
      this.set(lastDepth.lanes);
    },
  });
  metrics.gauge({
    name: 'bhb_dead_letters',
    help: 'Dead letters waiting for an operator (`npm run bridge -- dlq list`).',
    collect: async function (this: { set(v: number): void }) {
      await refreshDepth();
      this.set(lastDepth.deadLetters);
    },
  });
  metrics.gauge({
    name: 'bhb_blip_connected',
    help: '1 while the BLiP session is established.',
    collect(this: { set(v: number): void }) {
      this.set(sources.blipConnected() ? 1 : 0);
    },
  });

  events.on('customer.message', () => messages.inc({ direction: 'to-helpdesk', vendor }));
  events.on('agent.message', () => messages.inc({ direction: 'to-customer', vendor }));
  events.on('automatic.message', () => messages.inc({ direction: 'automatic', vendor }));
  events.on('handoff.started', () => handoffs.inc({ vendor }));
  events.on('ticket.closed', (e) => closed.inc({ vendor, closed_by: e.closedBy }));
  events.on('work.dead-lettered', (e) => deadLetters.inc({ kind: e.kind, code: e.code }));
  events.on('delivery.failed', (e) => deliveryFailures.inc({ direction: e.direction }));

  return {
    onRateLimitWait: (ms: number) => rateLimitWait.inc({ vendor }, ms / 1000),
    onUnacknowledgedSend: () => unconfirmedSends.inc(),
    /** The adapter with each API call timed (method, outcome). */
    instrument: (adapter: HelpdeskAdapter): HelpdeskAdapter => timed(adapter, vendorLatency),
  };
}

function timed(
  adapter: HelpdeskAdapter,
  histogram: { observe(labels: Record<string, string>, value: number): void },
): HelpdeskAdapter {
  return new Proxy(adapter, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      const method = value as (...args: unknown[]) => Promise<unknown>;
      return async (...args: unknown[]) => {
        const started = process.hrtime.bigint();
        const observe = (outcome: string) =>
          histogram.observe(
            { vendor: adapter.name, method: property, outcome },
            Number(process.hrtime.bigint() - started) / 1e9,
          );
        try {
          const result = await method.apply(target, args);
          observe('ok');
          return result;
        } catch (err) {
          observe(errorCode(err));
          throw err;
        }
      };
    },
  });
}
