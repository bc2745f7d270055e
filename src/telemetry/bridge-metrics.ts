import type { DomainEvents } from '../core/events';
import type { GatewayObserver } from '../core/vendor-gateway';
import type { WorkQueue } from '../core/work/queue';
import type { Metrics } from './metrics';

export interface BridgeMetricsSources {
  events: DomainEvents;
  queue: WorkQueue;
  blipConnected: () => boolean;
}

/**
 * The bridge's own metrics: messages by direction, handoffs, dead letters, delivery failures (from the domain
 * events), and, read at each scrape, the work queue and the BLiP connection. Labels are low-cardinality only.
 * Returns the hooks the composition root gives the BLiP connection and the vendor gateways. The `vendor` label is
 * the helpdesk of each conversation (several can be enabled at once).
 */
export function registerBridgeMetrics(metrics: Metrics, sources: BridgeMetricsSources) {
  const { events, queue } = sources;
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
  const surveys = metrics.counter({
    name: 'bhb_surveys_total',
    help: 'Satisfaction surveys ended, by outcome (answered, unanswered, invalid, interrupted) and rating (1-5, none).',
    labelNames: ['vendor', 'outcome', 'rating'],
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

  events.on('customer.message', (e) => messages.inc({ direction: 'to-helpdesk', vendor: e.ticket.vendor }));
  events.on('agent.message', (e) => messages.inc({ direction: 'to-customer', vendor: e.ticket.vendor }));
  events.on('automatic.message', (e) =>
    messages.inc({ direction: 'automatic', vendor: e.ticket?.vendor ?? 'none' }),
  );
  events.on('handoff.started', (e) => handoffs.inc({ vendor: e.vendor }));
  events.on('ticket.closed', (e) => closed.inc({ vendor: e.ticket.vendor, closed_by: e.closedBy }));
  events.on('survey.ended', (e) =>
    surveys.inc({
      vendor: e.ticket.vendor,
      outcome: e.outcome,
      rating: e.rating ? String(e.rating) : 'none',
    }),
  );
  events.on('work.dead-lettered', (e) => deadLetters.inc({ kind: e.kind, code: e.code }));
  events.on('delivery.failed', (e) => deliveryFailures.inc({ direction: e.direction }));

  const gatewayObserver: GatewayObserver = {
    onRateLimitWait: (vendor, ms) => rateLimitWait.inc({ vendor }, ms / 1000),
    onCall: (vendor, method, outcome, seconds) => vendorLatency.observe({ vendor, method, outcome }, seconds),
  };
  return {
    onUnacknowledgedSend: () => unconfirmedSends.inc(),
    /** Rate-limit waits and each vendor call's duration (method, outcome), from every vendor gateway. */
    gatewayObserver,
  };
}
