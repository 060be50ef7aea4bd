/**
 * The catalogue of every metric Tributary exports: name, type, labels and help text in one place. The metric
 * objects (`createEngineMetrics.ts`), the operations guide (`docs/operations.md`), the Grafana dashboard and the
 * alerting rules all refer to these names; unit tests check that they agree.
 */

/** The prefix of every metric this process exports, the client's default Node metrics included. */
export const METRIC_PREFIX = 'tributary_';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';

/** The only label names Tributary uses; every one of them has a bounded set of values. */
export type MetricLabel = 'pipeline' | 'group' | 'topic' | 'partition' | 'stage' | 'outcome' | 'result';

export interface MetricDefinition {
  readonly name: string;
  readonly type: MetricType;
  readonly labelNames: readonly MetricLabel[];
  readonly help: string;
}

export const ENGINE_METRICS = {
  recordsConsumed: {
    name: 'tributary_records_consumed_total',
    type: 'counter',
    labelNames: ['pipeline', 'topic', 'partition'],
    help: 'Records admitted into a pipeline from Kafka.',
  },
  recordsProcessed: {
    name: 'tributary_records_processed_total',
    type: 'counter',
    labelNames: ['pipeline', 'topic', 'outcome'],
    help: 'Records that finished, by outcome (published, dead_lettered, filtered, sunk).',
  },
  processingDuration: {
    name: 'tributary_record_processing_duration_seconds',
    type: 'histogram',
    labelNames: ['pipeline', 'topic', 'outcome'],
    help: 'Time from admission to outcome of one record, retries included.',
  },
  retries: {
    name: 'tributary_retries_total',
    type: 'counter',
    labelNames: ['pipeline', 'stage'],
    help: 'Further attempts a stage scheduled for a record.',
  },
  inFlight: {
    name: 'tributary_records_in_flight',
    type: 'gauge',
    labelNames: ['pipeline'],
    help: 'Records admitted but not finished yet.',
  },
  partitionsPaused: {
    name: 'tributary_partitions_paused',
    type: 'gauge',
    labelNames: ['pipeline'],
    help: "Partitions the pipeline's consumer holds paused (backpressure).",
  },
  oldestUnfinished: {
    name: 'tributary_oldest_unfinished_seconds',
    type: 'gauge',
    labelNames: ['pipeline'],
    help: "Age of the pipeline's oldest unfinished record, in seconds (0 when none): a record that holds its partition's commit.",
  },
  committedOffset: {
    name: 'tributary_committed_offset',
    type: 'gauge',
    labelNames: ['pipeline', 'group', 'topic', 'partition'],
    help: 'Last offset this process committed for a partition (the next offset to read).',
  },
  commits: {
    name: 'tributary_commits_total',
    type: 'counter',
    labelNames: ['pipeline', 'result'],
    help: 'Offset commit requests, by result (ok, failed).',
  },
  commitDuration: {
    name: 'tributary_commit_duration_seconds',
    type: 'histogram',
    labelNames: ['pipeline', 'result'],
    help: 'Duration of one offset commit request, by result (ok, failed).',
  },
  rebalances: {
    name: 'tributary_rebalances_total',
    type: 'counter',
    labelNames: ['pipeline', 'group'],
    help: 'Times the consumer joined its group and received an assignment (the first join included).',
  },
  assignedPartitions: {
    name: 'tributary_assigned_partitions',
    type: 'gauge',
    labelNames: ['pipeline', 'group', 'topic'],
    help: "Partitions currently assigned to the pipeline's consumer.",
  },
  producerSends: {
    name: 'tributary_producer_sends_total',
    type: 'counter',
    labelNames: ['result'],
    help: 'Batched producer requests, by result (ok, failed).',
  },
  producerRecords: {
    name: 'tributary_producer_records_total',
    type: 'counter',
    labelNames: ['result'],
    help: 'Records in batched producer requests, by result (ok, failed).',
  },
  producerSendDuration: {
    name: 'tributary_producer_send_duration_seconds',
    type: 'histogram',
    labelNames: ['result'],
    help: 'Duration of one batched producer request until the broker acknowledged it, by result (ok, failed).',
  },
  consumerLag: {
    name: 'tributary_consumer_lag_records',
    type: 'gauge',
    labelNames: ['pipeline', 'group', 'topic', 'partition'],
    help: "Records between a partition's high watermark and the group's committed offset, read from the broker at scrape time.",
  },
  lagCollectionErrors: {
    name: 'tributary_lag_collection_errors_total',
    type: 'counter',
    labelNames: ['pipeline', 'group'],
    help: 'Failed attempts to read end or committed offsets from the broker for the lag gauge.',
  },
  ready: {
    name: 'tributary_ready',
    type: 'gauge',
    labelNames: [],
    help: '1 when every pipeline consumer has joined its group and the producer is connected, else 0.',
  },
} as const satisfies Record<string, MetricDefinition>;

export type EngineMetricKey = keyof typeof ENGINE_METRICS;

/** The names of the engine's own metrics. */
export type EngineMetricName = (typeof ENGINE_METRICS)[EngineMetricKey]['name'];

/**
 * The default Node.js metrics of @prometheus-io/client as this process exports them (`collectDefaultMetrics` with our
 * prefix).
 */
export const NODE_METRICS = {
  tributary_process_cpu_user_seconds_total: 'counter',
  tributary_process_cpu_system_seconds_total: 'counter',
  tributary_process_cpu_seconds_total: 'counter',
  tributary_process_start_time_seconds: 'gauge',
  tributary_process_resident_memory_bytes: 'gauge',
  tributary_process_virtual_memory_bytes: 'gauge',
  tributary_process_heap_bytes: 'gauge',
  tributary_process_open_fds: 'gauge',
  tributary_process_max_fds: 'gauge',
  tributary_nodejs_eventloop_lag_seconds: 'gauge',
  tributary_nodejs_eventloop_lag_min_seconds: 'gauge',
  tributary_nodejs_eventloop_lag_max_seconds: 'gauge',
  tributary_nodejs_eventloop_lag_mean_seconds: 'gauge',
  tributary_nodejs_eventloop_lag_stddev_seconds: 'gauge',
  tributary_nodejs_eventloop_lag_p50_seconds: 'gauge',
  tributary_nodejs_eventloop_lag_p90_seconds: 'gauge',
  tributary_nodejs_eventloop_lag_p99_seconds: 'gauge',
  tributary_nodejs_eventloop_utilization_summary: 'summary',
  tributary_nodejs_eventloop_utilization_histogram: 'histogram',
  tributary_nodejs_active_resources: 'gauge',
  tributary_nodejs_active_resources_total: 'gauge',
  tributary_nodejs_active_handles: 'gauge',
  tributary_nodejs_active_handles_total: 'gauge',
  tributary_nodejs_active_requests: 'gauge',
  tributary_nodejs_active_requests_total: 'gauge',
  tributary_nodejs_heap_size_total_bytes: 'gauge',
  tributary_nodejs_heap_size_used_bytes: 'gauge',
  tributary_nodejs_external_memory_bytes: 'gauge',
  tributary_nodejs_heap_space_size_total_bytes: 'gauge',
  tributary_nodejs_heap_space_size_used_bytes: 'gauge',
  tributary_nodejs_heap_space_size_available_bytes: 'gauge',
  tributary_nodejs_version_info: 'gauge',
  tributary_nodejs_gc_duration_seconds: 'histogram',
} as const satisfies Record<string, MetricType>;

export type NodeMetricName = keyof typeof NODE_METRICS;

export type MetricName = EngineMetricName | NodeMetricName;

/** Every engine metric name, in catalogue order. */
export const ENGINE_METRIC_NAMES: readonly EngineMetricName[] = Object.values(ENGINE_METRICS).map(
  (metric) => metric.name,
);

/** Every default Node.js metric name (exported when `defaultMetrics` is on, which is the default). */
export const NODE_METRIC_NAMES: readonly NodeMetricName[] = Object.keys(NODE_METRICS) as NodeMetricName[];

/** Every metric name this process can export. */
export const METRIC_NAMES: readonly MetricName[] = [...ENGINE_METRIC_NAMES, ...NODE_METRIC_NAMES];

/** The series a histogram or summary exports besides its own name (a summary's quantiles carry its name). */
const SERIES_SUFFIXES: Readonly<Record<MetricType, readonly string[]>> = {
  counter: [],
  gauge: [],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['_sum', '_count'],
};

/**
 * The metric a Prometheus series name belongs to: `tributary_commit_duration_seconds_bucket` →
 * `tributary_commit_duration_seconds`. Returns undefined for a name Tributary does not export.
 */
export function metricOfSeries(series: string): MetricName | undefined {
  const known = new Set<string>(METRIC_NAMES);
  if (known.has(series)) return series as MetricName;
  for (const suffix of new Set(Object.values(SERIES_SUFFIXES).flat())) {
    if (!series.endsWith(suffix)) continue;
    const base = series.slice(0, -suffix.length);
    if (known.has(base) && SERIES_SUFFIXES[metricType(base as MetricName)].includes(suffix)) return base as MetricName;
  }
  return undefined;
}

/** The Prometheus type of a metric Tributary exports. */
export function metricType(name: MetricName): MetricType {
  const engine = Object.values(ENGINE_METRICS).find((metric) => metric.name === name);
  return engine ? engine.type : NODE_METRICS[name as NodeMetricName];
}
