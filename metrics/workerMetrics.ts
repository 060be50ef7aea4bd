/**
 * One /metrics over several engine workers (TRIBUTARY_WORKERS > 1). Each worker keeps its own registry (the engine's
 * metrics, its process metrics) and hands the primary `registry.getMetricsAsJSON()`; the primary merges them with
 * `Registry.aggregate` from @prometheus-io/client, choosing how each family combines:
 *
 * - counters and histograms are summed: the container's totals, as one process would count them;
 * - gauges of things every worker has its own of (records in flight, paused and assigned partitions, memory) are
 *   summed;
 * - per-partition gauges (`tributary_consumer_lag_records`, `tributary_committed_offset`) take the maximum per label
 *   set: each worker reads lag only for the partitions it owns, and Kafka gives a partition to one member, so each
 *   partition has one series; during a rebalance two workers may briefly both report one, and max never counts it
 *   twice (a sum would);
 * - `tributary_oldest_unfinished_seconds` takes the maximum (the oldest record anywhere), `tributary_ready` the
 *   minimum (ready only when every worker is);
 * - Node's default metrics keep the aggregator the client gives them (e.g. event-loop lag averaged, the start time
 *   left out).
 *
 * Counters must not go down when a worker dies and is replaced (Prometheus would read a reset and over-count), so
 * the counters and histograms of a worker that exited are kept (`retainedTotals`) and added to every later scrape.
 * The primary's own metrics (`WORKER_METRICS`) are merged in beside the aggregate.
 */
import {
  type Aggregator,
  Counter,
  Gauge,
  type MetricObjectWithValues,
  type MetricValueWithName,
  Registry,
} from '@prometheus-io/client';
import { METRIC_PREFIX } from './metricNames.js';

/** One worker's `registry.getMetricsAsJSON()`, as it crosses the process boundary. */
export type WorkerMetricsSnapshot = MetricObjectWithValues<MetricValueWithName<string>>[];

/** How a family is combined when it is not summed (the default) and the client set nothing else. */
export const WORKER_AGGREGATION: Readonly<Record<string, Aggregator>> = {
  [`${METRIC_PREFIX}consumer_lag_records`]: 'max',
  [`${METRIC_PREFIX}committed_offset`]: 'max',
  [`${METRIC_PREFIX}oldest_unfinished_seconds`]: 'max',
  [`${METRIC_PREFIX}ready`]: 'min',
};

/** The primary's own metrics, beside the aggregate. */
export const WORKER_METRICS = {
  workers: { name: `${METRIC_PREFIX}workers`, help: 'Engine workers this process runs (TRIBUTARY_WORKERS).' },
  workerUp: {
    name: `${METRIC_PREFIX}worker_up`,
    help: 'Whether the worker answered this scrape (1) or not (0: starting, restarting, stopping, or slow).',
  },
  workerRestarts: {
    name: `${METRIC_PREFIX}worker_restarts_total`,
    help: 'Times the primary restarted a worker that exited unexpectedly.',
  },
} as const;

function aggregatorOf(family: WorkerMetricsSnapshot[number]): Aggregator {
  return WORKER_AGGREGATION[family.name] ?? family.aggregator ?? 'sum';
}

/** The counters and histograms of a worker's last snapshot, to keep adding after it exited. */
export function retainedTotals(snapshot: WorkerMetricsSnapshot): WorkerMetricsSnapshot {
  return snapshot.filter((family) => family.type === 'counter' || family.type === 'histogram');
}

/**
 * Merges the snapshots (live workers' and retained totals of exited ones) into one registry.
 *
 * @example
 * const registry = aggregateWorkerMetrics([await askWorker(1), await askWorker(2), ...retired]);
 * response.end(await registry.metrics());
 */
export function aggregateWorkerMetrics(snapshots: readonly WorkerMetricsSnapshot[]): Registry {
  const aggregators = new Map<string, Aggregator>();
  for (const snapshot of snapshots) {
    for (const family of snapshot)
      if (!aggregators.has(family.name)) aggregators.set(family.name, aggregatorOf(family));
  }
  // Registry.aggregate reads the aggregator of each family's first entry: set it on copies, never on the input.
  const withAggregators = snapshots.map((snapshot) =>
    snapshot.map((family) => ({ ...family, aggregator: aggregators.get(family.name) ?? 'sum' })),
  );
  return Registry.aggregate(withAggregators);
}

export interface WorkerMetrics {
  readonly registry: Registry;
  /** The text of one /metrics: the workers' snapshots aggregated, beside this registry. */
  exposition(snapshots: readonly WorkerMetricsSnapshot[]): Promise<string>;
  readonly contentType: string;
  /** Sets which workers answered the last scrape. */
  answered(up: ReadonlyMap<number, boolean>): void;
  restarted(worker: number): void;
}

/** The primary's registry: how many workers, which answered, how often each was restarted. */
export function createWorkerMetrics(workers: number): WorkerMetrics {
  const registry = new Registry();
  const m = WORKER_METRICS;
  new Gauge({ ...m.workers, registers: [registry] }).set(workers);
  const up = new Gauge({ ...m.workerUp, labelNames: ['worker'] as const, registers: [registry] });
  const restarts = new Counter({ ...m.workerRestarts, labelNames: ['worker'] as const, registers: [registry] });
  for (let worker = 1; worker <= workers; worker++) {
    up.set({ worker }, 0);
    restarts.inc({ worker }, 0);
  }
  return {
    registry,
    contentType: registry.contentType,
    exposition(snapshots) {
      return Registry.merge([aggregateWorkerMetrics(snapshots), registry]).metrics();
    },
    answered(answers) {
      for (const [worker, answered] of answers) up.set({ worker }, answered ? 1 : 0);
    },
    restarted(worker) {
      restarts.inc({ worker });
    },
  };
}
