import {
  collectDefaultMetrics,
  Counter,
  type CounterConfiguration,
  Gauge,
  type GaugeConfiguration,
  Histogram,
  type HistogramConfiguration,
  Registry,
} from 'prom-client';

export interface MetricsOptions {
  /** Node process metrics (CPU, memory, event loop lag, GC), prefixed `bhb_`. Default true. */
  processMetrics?: boolean;
}

/**
 * The bridge's Prometheus metrics: one registry per bridge, created in app.ts and handed to whatever reports
 * metrics; `GET /metrics` renders it. Add a metric with `metrics.counter({...})` (or `gauge`, `histogram`); names
 * start with `bhb_` and say their unit (`_seconds`, `_total`), labels stay low-cardinality (a sink or vendor name,
 * never a customer or ticket).
 */
export class Metrics {
  readonly registry = new Registry();

  constructor(options: MetricsOptions = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'bhb_' });
  }

  counter<L extends string>(config: Omit<CounterConfiguration<L>, 'registers'>): Counter<L> {
    return new Counter({ ...config, registers: [this.registry] });
  }

  gauge<L extends string>(config: Omit<GaugeConfiguration<L>, 'registers'>): Gauge<L> {
    return new Gauge({ ...config, registers: [this.registry] });
  }

  histogram<L extends string>(config: Omit<HistogramConfiguration<L>, 'registers'>): Histogram<L> {
    return new Histogram({ ...config, registers: [this.registry] });
  }

  /** The Prometheus text exposition format, with its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
