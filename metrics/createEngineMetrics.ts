/**
 * The engine's Prometheus metrics: an `EngineObserver` backed by @prometheus-io/client, plus the scrape-time consumer
 * lag gauge and the readiness gauge. Everything registers on the registry it is given — never on the client's global
 * one — so several engines (or tests) can live in one process.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from '@prometheus-io/client';
import type { EngineObserver } from '../src/instrumentation.js';
import type { TopicPartition } from '../src/kafka/ports.js';
import { createLagTracker, type LagFailure, type LagOffsetsSource, type LagReading } from './lagTracker.js';
import { ENGINE_METRICS, METRIC_PREFIX, type MetricDefinition } from './metricNames.js';
import { RecordOutcomes } from './recordOutcomes.js';

/** A new, empty registry, for code outside metrics/ (which does not import @prometheus-io/client itself). */
export function createRegistry(): Registry {
  return new Registry();
}

/** Seconds; records can spend seconds in retries with backoff. */
export const PROCESSING_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];
/** Seconds; one broker round trip, sometimes a leader change. */
export const REQUEST_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export interface EngineMetricsOptions {
  /** Also export the client's default Node.js metrics (event-loop lag, heap, GC, CPU) with our prefix. Default true. */
  defaultMetrics?: boolean;
  /** Where the lag gauge reads end and committed offsets (an `AdminPort` fits); can be set later. */
  lagSource?: LagOffsetsSource;
  /** How long a lag reading is reused between scrapes. Default 2000 ms. */
  lagCacheMs?: number;
  /** How long one broker call for lag may take before it counts as failed. Default 3000 ms. */
  lagTimeoutMs?: number;
  /** Called once per failed lag refresh and pipeline (e.g. to log it); must not throw. */
  onLagError?: (failure: LagFailure) => void;
  /** Histogram buckets in seconds. Defaults: `PROCESSING_BUCKETS`, `REQUEST_BUCKETS`, `REQUEST_BUCKETS`. */
  buckets?: { processing?: readonly number[]; commit?: readonly number[]; producer?: readonly number[] };
  /** Clock in milliseconds for the lag cache. Default `Date.now`. */
  now?: () => number;
}

export interface EngineMetrics {
  /** The registry every metric was registered on. */
  readonly registry: Registry;
  /** What the engine calls on its hot path; every method is cheap and never throws. */
  readonly observer: EngineObserver;
  /** Sets `tributary_ready` to 1 or 0. */
  ready(value: boolean): void;
  /** Sets (or removes) where the lag gauge reads offsets from, e.g. once the admin client is connected. */
  setLagSource(source: LagOffsetsSource | undefined): void;
  /**
   * The pipeline's consumer left its group: its partition series (committed offset, assigned partitions, consumer lag)
   * are dropped and its lag is no longer read. Unlike `observer.assigned(name, group, [])` this is not counted as a
   * rebalance. The engine reports it itself (`observer.released`) each time a pipeline's run closes — a stop, a crash,
   * a restart — so nothing needs to call it after `engine.stop()`.
   */
  released(pipeline: string): void;
}

type Labels<D extends MetricDefinition> = D['labelNames'][number];

function counter<D extends MetricDefinition>(registry: Registry, definition: D): Counter<Labels<D>> {
  const { name, help, labelNames } = definition;
  return new Counter<Labels<D>>({ name, help, labelNames, registers: [registry] });
}

function gauge<D extends MetricDefinition>(registry: Registry, definition: D): Gauge<Labels<D>> {
  const { name, help, labelNames } = definition;
  return new Gauge<Labels<D>>({ name, help, labelNames, registers: [registry] });
}

function histogram<D extends MetricDefinition>(
  registry: Registry,
  definition: D,
  buckets: readonly number[],
): Histogram<Labels<D>> {
  const { name, help, labelNames } = definition;
  return new Histogram<Labels<D>>({ name, help, labelNames, buckets: [...buckets], registers: [registry] });
}

/** Wraps an observer method so that nothing it does can throw into the engine. */
function guarded<A extends unknown[]>(method: (...args: A) => void): (...args: A) => void {
  return (...args: A) => {
    try {
      method(...args);
    } catch {
      // A metric must never break record processing.
    }
  };
}

function validSeconds(seconds: number): boolean {
  return Number.isFinite(seconds) && seconds >= 0;
}

function result(ok: boolean): 'ok' | 'failed' {
  return ok ? 'ok' : 'failed';
}

/**
 * Creates the engine's metrics on `registry`.
 *
 * @example
 * const registry = new Registry();
 * const metrics = createEngineMetrics(registry, { lagSource: admin });
 * const engine = createEngine({ pipelines, observer: metrics.observer });
 *
 * @param registry Where every metric is registered; one `createEngineMetrics` per registry.
 * @param options Optional settings, see `EngineMetricsOptions`.
 * @returns The observer for the engine, the readiness setter and the lag source setter.
 */
export function createEngineMetrics(registry: Registry, options: EngineMetricsOptions = {}): EngineMetrics {
  const { defaultMetrics = true, buckets = {}, onLagError } = options;
  const lag = createLagTracker({
    cacheMs: options.lagCacheMs,
    timeoutMs: options.lagTimeoutMs,
    source: options.lagSource,
    now: options.now,
  });

  const m = ENGINE_METRICS;
  const recordsConsumed = counter(registry, m.recordsConsumed);
  const outcomes = new RecordOutcomes(
    registry,
    m.recordsProcessed,
    m.processingDuration,
    buckets.processing ?? PROCESSING_BUCKETS,
  );
  const retries = counter(registry, m.retries);
  const inFlight = gauge(registry, m.inFlight);
  const partitionsPaused = gauge(registry, m.partitionsPaused);
  const oldestUnfinished = gauge(registry, m.oldestUnfinished);
  const committedOffset = gauge(registry, m.committedOffset);
  const commits = counter(registry, m.commits);
  const commitDuration = histogram(registry, m.commitDuration, buckets.commit ?? REQUEST_BUCKETS);
  const rebalances = counter(registry, m.rebalances);
  const assignedPartitions = gauge(registry, m.assignedPartitions);
  const producerSends = counter(registry, m.producerSends);
  const producerRecords = counter(registry, m.producerRecords);
  const producerSendDuration = histogram(registry, m.producerSendDuration, buckets.producer ?? REQUEST_BUCKETS);
  const readyGauge = gauge(registry, m.ready);
  readyGauge.set(0);

  // Both lag metrics read through `readLag`: one broker refresh per scrape feeds the gauge and the error counter,
  // and each refresh's failures are counted once, before either metric is serialized.
  const counted = new WeakMap<Promise<LagReading>, Promise<LagReading>>();
  function readLag(): Promise<LagReading> {
    const raw = lag.read();
    let chained = counted.get(raw);
    if (chained === undefined) {
      chained = raw.then((reading) => {
        for (const failure of reading.failures) {
          lagCollectionErrors.inc({ pipeline: failure.pipeline, group: failure.group });
          try {
            onLagError?.(failure);
          } catch {
            // The callback's problem, not the scrape's.
          }
        }
        return reading;
      });
      counted.set(raw, chained);
    }
    return chained;
  }

  const lagCollectionErrors = new Counter<Labels<typeof m.lagCollectionErrors>>({
    name: m.lagCollectionErrors.name,
    help: m.lagCollectionErrors.help,
    labelNames: m.lagCollectionErrors.labelNames,
    registers: [registry],
    async collect() {
      try {
        await readLag();
      } catch {
        // Counted by whichever read failed; never fail a scrape.
      }
    },
  });

  new Gauge<Labels<typeof m.consumerLag>>({
    name: m.consumerLag.name,
    help: m.consumerLag.help,
    labelNames: m.consumerLag.labelNames,
    registers: [registry],
    async collect() {
      try {
        const reading = await readLag();
        this.reset();
        for (const { pipeline, group, topic, partition, lag: records } of reading.samples) {
          this.set({ pipeline, group, topic, partition }, Number(records));
        }
      } catch {
        // Never fail a scrape because of lag; the previous values stay.
      }
    },
  });

  if (defaultMetrics && registry.getSingleMetric(`${METRIC_PREFIX}nodejs_eventloop_lag_seconds`) === undefined) {
    collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  }

  /** What each pipeline owned at its last assignment, to drop series of partitions it gave up. */
  const owned = new Map<string, { group: string; assignment: readonly TopicPartition[] }>();

  /** Records what `pipeline` owns now and drops the series of partitions (and topics) it no longer owns. */
  function own(pipeline: string, group: string, assignment: readonly TopicPartition[]): void {
    const previous = owned.get(pipeline);
    if (previous !== undefined) {
      const still = new Set(assignment.map(({ topic, partition }) => `${topic}\u0000${partition}`));
      for (const { topic, partition } of previous.assignment) {
        if (!still.has(`${topic}\u0000${partition}`) || previous.group !== group) {
          committedOffset.remove({ pipeline, group: previous.group, topic, partition });
        }
      }
      for (const topic of new Set(previous.assignment.map((tp) => tp.topic))) {
        assignedPartitions.remove({ pipeline, group: previous.group, topic });
      }
    }
    const perTopic = new Map<string, number>();
    for (const { topic } of assignment) perTopic.set(topic, (perTopic.get(topic) ?? 0) + 1);
    for (const [topic, count] of perTopic) assignedPartitions.set({ pipeline, group, topic }, count);
    if (assignment.length === 0) owned.delete(pipeline);
    else owned.set(pipeline, { group, assignment: [...assignment] });
    lag.assign(pipeline, group, assignment);
  }

  const release = guarded((pipeline: string) => {
    const previous = owned.get(pipeline);
    if (previous !== undefined) own(pipeline, previous.group, []);
  });

  const observer: EngineObserver = {
    recordsConsumed: guarded((pipeline: string, topic: string, partition: number, count: number) => {
      if (count > 0) recordsConsumed.inc({ pipeline, topic, partition }, count);
    }),
    recordFinished: guarded((pipeline, topic, outcome, seconds) => {
      outcomes.record(pipeline, topic, outcome, seconds);
    }),
    retried: guarded((pipeline: string, stage: string) => {
      retries.inc({ pipeline, stage });
    }),
    inFlight: guarded((pipeline: string, count: number) => {
      inFlight.set({ pipeline }, count);
    }),
    partitionsPaused: guarded((pipeline: string, count: number) => {
      partitionsPaused.set({ pipeline }, count);
    }),
    oldestUnfinished: guarded((pipeline: string, seconds: number) => {
      oldestUnfinished.set({ pipeline }, seconds);
    }),
    offsetCommitted: guarded((pipeline: string, group: string, topic: string, partition: number, offset: bigint) => {
      committedOffset.set({ pipeline, group, topic, partition }, Number(offset));
    }),
    commitDone: guarded((pipeline: string, seconds: number, ok: boolean) => {
      commits.inc({ pipeline, result: result(ok) });
      if (validSeconds(seconds)) commitDuration.observe({ pipeline, result: result(ok) }, seconds);
    }),
    assigned: guarded((pipeline: string, group: string, assignment: readonly TopicPartition[]) => {
      rebalances.inc({ pipeline, group });
      own(pipeline, group, assignment);
    }),
    released: (pipeline: string) => release(pipeline),
    producerSent: guarded((records: number, seconds: number, ok: boolean) => {
      producerSends.inc({ result: result(ok) });
      if (records > 0) producerRecords.inc({ result: result(ok) }, records);
      if (validSeconds(seconds)) producerSendDuration.observe({ result: result(ok) }, seconds);
    }),
  };

  return {
    registry,
    observer,
    ready(value) {
      readyGauge.set(value ? 1 : 0);
    },
    setLagSource(source) {
      lag.setSource(source);
    },
    released: release,
  };
}
