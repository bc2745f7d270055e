import type { Metrics } from '../telemetry/metrics';
import type { AnalyticsHub } from './hub';
import type { SinkStats } from './worker';

/**
 * Exposes the hub's per-sink numbers on the metrics registry, read from `hub.stats()` at each scrape (the hub's
 * counters are the one source): `bhb_analytics_events_{sent,failed,retried,dropped}_total{sink}`,
 * `bhb_analytics_queue_depth{sink}` and `bhb_analytics_circuit_open{sink}` (1 open or half-open, 0 closed).
 */
export function registerAnalyticsMetrics(metrics: Metrics, hub: AnalyticsHub): void {
  const totals: Array<[keyof SinkStats, string]> = [
    ['sent', 'Analytics events the sink accepted'],
    ['failed', 'Analytics events the sink rejected for good (dropped)'],
    ['retried', 'Analytics events sent again after a failed attempt'],
    ['dropped', 'Analytics events discarded: queue full, or left in memory at shutdown'],
  ];
  for (const [key, help] of totals) {
    metrics.counter({
      name: `bhb_analytics_events_${key}_total`,
      help,
      labelNames: ['sink'],
      collect() {
        // The hub counts; this mirrors its (monotonic) numbers at scrape time.
        this.reset();
        for (const [sink, stats] of Object.entries(hub.stats())) this.inc({ sink }, stats[key] as number);
      },
    });
  }
  metrics.gauge({
    name: 'bhb_analytics_queue_depth',
    help: 'Analytics events waiting for the sink, the batch in flight included',
    labelNames: ['sink'],
    collect() {
      for (const [sink, stats] of Object.entries(hub.stats())) this.set({ sink }, stats.queueDepth);
    },
  });
  metrics.gauge({
    name: 'bhb_analytics_circuit_open',
    help: 'Whether the sink circuit breaker is open or half-open (1) or closed (0)',
    labelNames: ['sink'],
    collect() {
      for (const [sink, stats] of Object.entries(hub.stats()))
        this.set({ sink }, stats.circuit === 'closed' ? 0 : 1);
    },
  });
}
