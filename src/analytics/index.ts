export {
  type AnalyticsConfig,
  type AnalyticsSinkConfig,
  analyticsConfigKeys,
  parseAnalyticsConfig,
} from './config';
export {
  ANALYTICS_SCHEMA_VERSION,
  type AnalyticsEvent,
  type AnalyticsEventType,
  analyticsEventTypes,
  toAnalyticsEvent,
} from './event';
export { AnalyticsHub, type AnalyticsHubOptions } from './hub';
export { registerAnalyticsMetrics } from './metrics';
export type { Sink, SinkContext, SinkModule } from './sink';
export { sinkModules } from './sinks';
export type { SinkStats } from './worker';
