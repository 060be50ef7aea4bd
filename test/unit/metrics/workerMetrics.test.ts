import { describe, expect, it } from 'vitest';
import { createEngineMetrics, createRegistry, type EngineMetrics } from '../../../metrics/createEngineMetrics.js';
import type { LagOffsetsSource } from '../../../metrics/lagTracker.js';
import {
  aggregateWorkerMetrics,
  createWorkerMetrics,
  retainedTotals,
  type WorkerMetricsSnapshot,
} from '../../../metrics/workerMetrics.js';
import { sampleValue, seriesOf } from './promText.js';

/** A worker's metrics; lag is read from fixed offsets: end 100 on every partition, committed `committed[p]`. */
function worker(committed: Record<number, bigint>, defaultMetrics = false): EngineMetrics {
  const source: LagOffsetsSource = {
    endOffsets: async () => [0, 1, 2, 3].map((partition) => ({ partition, low: 0n, high: 100n, offset: 100n })),
    committedOffsets: async () => new Map(Object.entries(committed).map(([p, o]) => [Number(p), o])),
  } as unknown as LagOffsetsSource;
  return createEngineMetrics(createRegistry(), { defaultMetrics, lagSource: source });
}

async function snapshot(metrics: EngineMetrics): Promise<WorkerMetricsSnapshot> {
  // the structured clone the IPC channel does, so nothing shared by reference passes the test by accident
  return structuredClone(await metrics.registry.getMetricsAsJSON()) as WorkerMetricsSnapshot;
}

describe('aggregateWorkerMetrics', () => {
  it('sums counters and histograms, keeps one lag series per partition, ready only when every worker is', async () => {
    const one = worker({ 0: 90n, 1: 95n });
    const two = worker({ 2: 70n, 3: 100n });
    one.observer.assigned('orders', 'g', [
      { topic: 't', partition: 0 },
      { topic: 't', partition: 1 },
    ]);
    two.observer.assigned('orders', 'g', [
      { topic: 't', partition: 2 },
      { topic: 't', partition: 3 },
    ]);
    for (let i = 0; i < 3; i++) one.observer.recordFinished('orders', 't', 'published', 0.002);
    for (let i = 0; i < 5; i++) two.observer.recordFinished('orders', 't', 'published', 0.2);
    one.observer.inFlight('orders', 4);
    two.observer.inFlight('orders', 6);
    one.observer.oldestUnfinished('orders', 1.5);
    two.observer.oldestUnfinished('orders', 7);
    one.ready(true);
    two.ready(false);

    const text = await aggregateWorkerMetrics([await snapshot(one), await snapshot(two)]).metrics();
    const labels = { pipeline: 'orders', topic: 't', outcome: 'published' };
    expect(sampleValue(text, 'tributary_records_processed_total', labels)).toBe(8);
    expect(sampleValue(text, 'tributary_record_processing_duration_seconds_count', labels)).toBe(8);
    expect(sampleValue(text, 'tributary_record_processing_duration_seconds_bucket', { ...labels, le: '0.005' })).toBe(
      3,
    );
    expect(sampleValue(text, 'tributary_records_in_flight', { pipeline: 'orders' })).toBe(10);
    expect(sampleValue(text, 'tributary_oldest_unfinished_seconds', { pipeline: 'orders' })).toBe(7);
    expect(sampleValue(text, 'tributary_assigned_partitions', { pipeline: 'orders', group: 'g', topic: 't' })).toBe(4);
    expect(sampleValue(text, 'tributary_rebalances_total', { pipeline: 'orders', group: 'g' })).toBe(2);
    const lag = seriesOf(text, 'tributary_consumer_lag_records');
    expect(lag.map((s) => [s.labels.partition, s.value]).sort()).toEqual([
      ['0', 10],
      ['1', 5],
      ['2', 30],
      ['3', 0],
    ]);
    expect(sampleValue(text, 'tributary_ready')).toBe(0);

    two.ready(true);
    const ready = await aggregateWorkerMetrics([await snapshot(one), await snapshot(two)]).metrics();
    expect(sampleValue(ready, 'tributary_ready')).toBe(1);
  });

  it('counts a partition both workers report during a rebalance once', async () => {
    const one = worker({ 1: 60n });
    const two = worker({ 1: 60n });
    one.observer.assigned('orders', 'g', [{ topic: 't', partition: 1 }]);
    two.observer.assigned('orders', 'g', [{ topic: 't', partition: 1 }]);
    const text = await aggregateWorkerMetrics([await snapshot(one), await snapshot(two)]).metrics();
    expect(seriesOf(text, 'tributary_consumer_lag_records').map((s) => s.value)).toEqual([40]);
  });

  it("keeps an exited worker's counters, so totals never go down, and drops its gauges", async () => {
    const one = worker({});
    const gone = worker({});
    one.observer.recordFinished('orders', 't', 'published', 0.01);
    gone.observer.recordFinished('orders', 't', 'published', 0.01);
    gone.observer.recordFinished('orders', 't', 'published', 0.01);
    gone.observer.inFlight('orders', 9);
    const retired = retainedTotals(await snapshot(gone));
    const replacement = worker({});
    const text = await aggregateWorkerMetrics([await snapshot(one), await snapshot(replacement), retired]).metrics();
    const labels = { pipeline: 'orders', topic: 't', outcome: 'published' };
    expect(sampleValue(text, 'tributary_records_processed_total', labels)).toBe(3);
    expect(sampleValue(text, 'tributary_record_processing_duration_seconds_count', labels)).toBe(3);
    expect(seriesOf(text, 'tributary_records_in_flight')).toEqual([]);
  });

  it("keeps the client's aggregators for Node's metrics (start time left out, memory summed)", async () => {
    const one = worker({}, true);
    const two = worker({}, true);
    const [a, b] = [await snapshot(one), await snapshot(two)];
    const text = await aggregateWorkerMetrics([a, b]).metrics();
    expect(seriesOf(text, 'tributary_process_start_time_seconds')).toEqual([]);
    const heap = (s: WorkerMetricsSnapshot) =>
      s.find((f) => f.name === 'tributary_nodejs_heap_size_total_bytes')?.values[0]?.value ?? Number.NaN;
    expect(sampleValue(text, 'tributary_nodejs_heap_size_total_bytes')).toBe(heap(a) + heap(b));
    expect(seriesOf(text, 'tributary_nodejs_version_info')).toHaveLength(1);
  });

  it('does not change the snapshots it is given', async () => {
    const one = worker({});
    one.ready(true);
    const s = await snapshot(one);
    const before = structuredClone(s);
    aggregateWorkerMetrics([s, s]);
    expect(s).toEqual(before);
  });
});

describe('createWorkerMetrics', () => {
  it('reports the worker count, which workers answered and restarts per worker', async () => {
    const metrics = createWorkerMetrics(2);
    metrics.answered(
      new Map([
        [1, true],
        [2, false],
      ]),
    );
    metrics.restarted(2);
    const text = await metrics.registry.metrics();
    expect(sampleValue(text, 'tributary_workers')).toBe(2);
    expect(sampleValue(text, 'tributary_worker_up', { worker: '1' })).toBe(1);
    expect(sampleValue(text, 'tributary_worker_up', { worker: '2' })).toBe(0);
    expect(sampleValue(text, 'tributary_worker_restarts_total', { worker: '1' })).toBe(0);
    expect(sampleValue(text, 'tributary_worker_restarts_total', { worker: '2' })).toBe(1);
  });
});
