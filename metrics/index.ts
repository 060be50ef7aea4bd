export type { EngineMetrics, EngineMetricsOptions } from './createEngineMetrics.js';
export { createEngineMetrics, createRegistry, PROCESSING_BUCKETS, REQUEST_BUCKETS } from './createEngineMetrics.js';
export type { LagFailure, LagOffsetsSource, LagReading, LagSample, LagTracker } from './lagTracker.js';
export { createLagTracker } from './lagTracker.js';
export type { EngineMetricName, MetricDefinition, MetricName, MetricType, NodeMetricName } from './metricNames.js';
export {
  ENGINE_METRIC_NAMES,
  ENGINE_METRICS,
  METRIC_NAMES,
  METRIC_PREFIX,
  metricOfSeries,
  NODE_METRIC_NAMES,
  NODE_METRICS,
} from './metricNames.js';
