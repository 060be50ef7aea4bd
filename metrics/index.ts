/**
 * The package's operations entry point (`tributary-kafka/metrics`, docs/operations.md): what an embedder of
 * `createEngine` needs for Prometheus metrics and the /metrics, /healthz and /readyz endpoints — the engine's metrics
 * (`createEngineMetrics`, an `EngineObserver`), the HTTP server, and `startTributary`, which assembles both around an
 * engine the way `tributary run` does.
 */

export {
  type RunningTributary,
  type StartTributaryOptions,
  startTributary,
} from '../src/cli/startTributary.js';
export {
  type HttpServer,
  type HttpServerOptions,
  type MetricsSource,
  type Readiness,
  startHttpServer,
} from '../src/http/server.js';
export type { EngineMetrics, EngineMetricsOptions } from './createEngineMetrics.js';
export { createEngineMetrics, createRegistry, PROCESSING_BUCKETS, REQUEST_BUCKETS } from './createEngineMetrics.js';
export type { LagFailure, LagOffsetsSource, LagReading, LagSample } from './lagTracker.js';
export type {
  EngineMetricKey,
  EngineMetricName,
  MetricDefinition,
  MetricLabel,
  MetricName,
  MetricType,
  NodeMetricName,
} from './metricNames.js';
export {
  ENGINE_METRIC_NAMES,
  ENGINE_METRICS,
  METRIC_NAMES,
  METRIC_PREFIX,
  NODE_METRIC_NAMES,
  NODE_METRICS,
} from './metricNames.js';
