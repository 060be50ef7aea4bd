import { Registry } from '@prometheus-io/client';
import { describe, expect, it } from 'vitest';
import { createEngineMetrics } from '../../../metrics/createEngineMetrics.js';
import type { LagOffsetsSource } from '../../../metrics/lagTracker.js';
import { ENGINE_METRIC_NAMES, NODE_METRIC_NAMES } from '../../../metrics/metricNames.js';
import type { PartitionOffsets } from '../../../src/kafka/ports.js';
import { sampleValue, seriesOf } from './promText.js';

/** An admin stand-in with settable offsets; counts its calls and can be told to fail. */
class FakeAdmin implements LagOffsetsSource {
  ends = new Map<string, PartitionOffsets[]>();
  commits = new Map<string, Map<number, bigint>>();
  calls = 0;
  failure: Error | undefined;

  async endOffsets(topic: string): Promise<PartitionOffsets[]> {
    this.calls += 1;
    if (this.failure) throw this.failure;
    return this.ends.get(topic) ?? [];
  }

  async committedOffsets(groupId: string, topic: string): Promise<Map<number, bigint>> {
    this.calls += 1;
    if (this.failure) throw this.failure;
    return this.commits.get(`${groupId}/${topic}`) ?? new Map();
  }
}

function setup(admin?: FakeAdmin) {
  const registry = new Registry();
  let clock = 1_000;
  const errors: string[] = [];
  const metrics = createEngineMetrics(registry, {
    defaultMetrics: false,
    lagSource: admin,
    now: () => clock,
    onLagError: (failure) => errors.push(`${failure.pipeline}/${failure.group}`),
  });
  return {
    registry,
    metrics,
    observer: metrics.observer,
    errors,
    advance(ms: number) {
      clock += ms;
    },
  };
}

describe('createEngineMetrics', () => {
  it('registers every engine metric on the given registry only, and no default metrics when disabled', async () => {
    const { registry } = setup();
    const names = registry.getMetricsAsArray().map((metric) => metric.name);
    expect([...names].sort()).toEqual([...ENGINE_METRIC_NAMES].sort());
    expect(names.filter((name) => !name.startsWith('tributary_'))).toEqual([]);
  });

  it('exports the default Node metrics with the tributary_ prefix when enabled', async () => {
    const registry = new Registry();
    createEngineMetrics(registry);
    const names = new Set(registry.getMetricsAsArray().map((metric) => metric.name));
    expect(names.has('tributary_nodejs_eventloop_lag_p99_seconds')).toBe(true);
    expect(names.has('tributary_nodejs_gc_duration_seconds')).toBe(true);
    for (const name of ENGINE_METRIC_NAMES) expect(names.has(name)).toBe(true);
    if (process.platform === 'linux') {
      expect([...names].filter((name) => !ENGINE_METRIC_NAMES.includes(name as never)).sort()).toEqual(
        [...NODE_METRIC_NAMES].sort(),
      );
    }
  });

  it('counts consumed records per pipeline, topic and partition', async () => {
    const { registry, observer } = setup();
    observer.recordsConsumed('orders', 'orders.v1', 0, 5);
    observer.recordsConsumed('orders', 'orders.v1', 0, 3);
    observer.recordsConsumed('orders', 'orders.v1', 1, 2);
    observer.recordsConsumed('orders', 'orders.v1', 1, 0);
    const text = await registry.getSingleMetricAsString('tributary_records_consumed_total');
    expect(sampleValue(text, 'tributary_records_consumed_total', { pipeline: 'orders', partition: '0' })).toBe(8);
    expect(sampleValue(text, 'tributary_records_consumed_total', { pipeline: 'orders', partition: '1' })).toBe(2);
  });

  it('counts finished records by outcome and observes their duration', async () => {
    const { registry, observer } = setup();
    observer.recordFinished('orders', 'orders.v1', 'published', 0.02);
    observer.recordFinished('orders', 'orders.v1', 'published', 0.3);
    observer.recordFinished('orders', 'orders.v1', 'dead_lettered', 4);
    observer.recordFinished('orders', 'orders.v1', 'filtered', 0.0001);
    observer.recordFinished('orders', 'orders.v1', 'sunk', Number.NaN);
    const text = await registry.metrics();
    const processed = (outcome: string) =>
      sampleValue(text, 'tributary_records_processed_total', { pipeline: 'orders', topic: 'orders.v1', outcome });
    expect(processed('published')).toBe(2);
    expect(processed('dead_lettered')).toBe(1);
    expect(processed('filtered')).toBe(1);
    expect(processed('sunk')).toBe(1);

    const duration = 'tributary_record_processing_duration_seconds';
    expect(sampleValue(text, `${duration}_count`, { outcome: 'published' })).toBe(2);
    expect(sampleValue(text, `${duration}_sum`, { outcome: 'published' })).toBeCloseTo(0.32, 10);
    expect(sampleValue(text, `${duration}_bucket`, { outcome: 'published', le: '0.025' })).toBe(1);
    expect(sampleValue(text, `${duration}_bucket`, { outcome: 'published', le: '0.5' })).toBe(2);
    expect(sampleValue(text, `${duration}_bucket`, { outcome: 'dead_lettered', le: '2.5' })).toBe(0);
    expect(sampleValue(text, `${duration}_bucket`, { outcome: 'dead_lettered', le: '5' })).toBe(1);
    // A non-finite duration is not observed, but the outcome still counts.
    expect(seriesOf(text, `${duration}_count`).some((s) => s.labels.outcome === 'sunk')).toBe(false);
  });

  it('records retries, in-flight, paused partitions and committed offsets', async () => {
    const { registry, observer } = setup();
    observer.retried('orders', 'enrich');
    observer.retried('orders', 'enrich');
    observer.retried('orders', 'publish-out');
    observer.inFlight('orders', 17);
    observer.inFlight('orders', 12);
    observer.partitionsPaused('orders', 3);
    observer.offsetCommitted('orders', 'orders-group', 'orders.v1', 2, 9_007_199_254n);
    const text = await registry.metrics();
    expect(sampleValue(text, 'tributary_retries_total', { stage: 'enrich' })).toBe(2);
    expect(sampleValue(text, 'tributary_retries_total', { stage: 'publish-out' })).toBe(1);
    expect(sampleValue(text, 'tributary_records_in_flight', { pipeline: 'orders' })).toBe(12);
    expect(sampleValue(text, 'tributary_partitions_paused', { pipeline: 'orders' })).toBe(3);
    expect(
      sampleValue(text, 'tributary_committed_offset', {
        pipeline: 'orders',
        group: 'orders-group',
        topic: 'orders.v1',
        partition: '2',
      }),
    ).toBe(9_007_199_254);
  });

  it('counts commits and producer sends by result with their durations', async () => {
    const { registry, observer } = setup();
    observer.commitDone('orders', 0.004, true);
    observer.commitDone('orders', 0.006, true);
    observer.commitDone('orders', 1.5, false);
    observer.producerSent(100, 0.012, true);
    observer.producerSent(40, 0.5, false);
    const text = await registry.metrics();
    expect(sampleValue(text, 'tributary_commits_total', { result: 'ok' })).toBe(2);
    expect(sampleValue(text, 'tributary_commits_total', { result: 'failed' })).toBe(1);
    expect(sampleValue(text, 'tributary_commit_duration_seconds_sum', { result: 'ok' })).toBeCloseTo(0.01, 10);
    expect(sampleValue(text, 'tributary_commit_duration_seconds_bucket', { result: 'failed', le: '2.5' })).toBe(1);
    expect(sampleValue(text, 'tributary_producer_sends_total', { result: 'ok' })).toBe(1);
    expect(sampleValue(text, 'tributary_producer_sends_total', { result: 'failed' })).toBe(1);
    expect(sampleValue(text, 'tributary_producer_records_total', { result: 'ok' })).toBe(100);
    expect(sampleValue(text, 'tributary_producer_records_total', { result: 'failed' })).toBe(40);
    expect(sampleValue(text, 'tributary_producer_send_duration_seconds_count', { result: 'ok' })).toBe(1);
    expect(sampleValue(text, 'tributary_producer_send_duration_seconds_sum', { result: 'failed' })).toBe(0.5);
  });

  it('counts rebalances, tracks assigned partitions per topic and drops series of revoked partitions', async () => {
    const { registry, observer } = setup();
    observer.assigned('orders', 'g', [
      { topic: 'a', partition: 0 },
      { topic: 'a', partition: 1 },
      { topic: 'b', partition: 0 },
    ]);
    observer.offsetCommitted('orders', 'g', 'a', 1, 10n);
    observer.offsetCommitted('orders', 'g', 'b', 0, 20n);
    let text = await registry.metrics();
    expect(sampleValue(text, 'tributary_rebalances_total', { pipeline: 'orders', group: 'g' })).toBe(1);
    expect(sampleValue(text, 'tributary_assigned_partitions', { topic: 'a' })).toBe(2);
    expect(sampleValue(text, 'tributary_assigned_partitions', { topic: 'b' })).toBe(1);

    observer.assigned('orders', 'g', [{ topic: 'a', partition: 1 }]);
    text = await registry.metrics();
    expect(sampleValue(text, 'tributary_rebalances_total', { pipeline: 'orders', group: 'g' })).toBe(2);
    expect(seriesOf(text, 'tributary_assigned_partitions').map((s) => [s.labels.topic, s.value])).toEqual([['a', 1]]);
    expect(seriesOf(text, 'tributary_committed_offset').map((s) => [s.labels.topic, s.labels.partition])).toEqual([
      ['a', '1'],
    ]);
  });

  it('sets the readiness gauge, 0 until told otherwise', async () => {
    const { registry, metrics } = setup();
    expect(sampleValue(await registry.metrics(), 'tributary_ready')).toBe(0);
    metrics.ready(true);
    expect(sampleValue(await registry.metrics(), 'tributary_ready')).toBe(1);
    metrics.ready(false);
    expect(sampleValue(await registry.metrics(), 'tributary_ready')).toBe(0);
  });

  it('never throws from observer methods, even on values the client rejects', () => {
    const { observer } = setup();
    expect(() => observer.recordsConsumed('p', 't', 0, -5)).not.toThrow();
    expect(() => observer.producerSent(-1, -1, true)).not.toThrow();
    expect(() => observer.inFlight('p', Number.NaN)).not.toThrow();
  });
});

describe('consumer lag gauge', () => {
  const lagName = 'tributary_consumer_lag_records';

  function lagOf(text: string): Record<string, number> {
    return Object.fromEntries(
      seriesOf(text, lagName).map((s) => [
        `${s.labels.pipeline}/${s.labels.group}/${s.labels.topic}/${s.labels.partition}`,
        s.value,
      ]),
    );
  }

  it('is high watermark minus committed offset for each assigned partition, read at scrape time', async () => {
    const admin = new FakeAdmin();
    admin.ends.set('a', [
      { partition: 0, low: 0n, high: 120n },
      { partition: 1, low: 0n, high: 50n },
      { partition: 2, low: 0n, high: 999n },
    ]);
    admin.ends.set('b', [{ partition: 0, low: 30n, high: 75n }]);
    admin.commits.set(
      'g/a',
      new Map([
        [0, 100n],
        [1, 50n],
        [2, 0n],
      ]),
    );
    const { registry, observer } = setup(admin);
    // Before any assignment there is nothing to report and nothing is asked.
    expect(lagOf(await registry.metrics())).toEqual({});
    expect(admin.calls).toBe(0);

    observer.assigned('orders', 'g', [
      { topic: 'a', partition: 0 },
      { topic: 'a', partition: 1 },
      { topic: 'b', partition: 0 },
    ]);
    // Partition a/2 is not ours: not reported. b/0 has no commit: lag counts from the log start (75 - 30).
    expect(lagOf(await registry.getSingleMetricAsString(lagName))).toEqual({
      'orders/g/a/0': 20,
      'orders/g/a/1': 0,
      'orders/g/b/0': 45,
    });
  });

  it('follows the broker while nothing is consumed (idle or paused partitions)', async () => {
    const admin = new FakeAdmin();
    admin.ends.set('a', [{ partition: 0, low: 0n, high: 10n }]);
    admin.commits.set('g/a', new Map([[0, 10n]]));
    const { registry, observer, advance } = setup(admin);
    observer.assigned('orders', 'g', [{ topic: 'a', partition: 0 }]);
    expect(lagOf(await registry.metrics())).toEqual({ 'orders/g/a/0': 0 });

    // Producers keep writing; the pipeline is paused and consumes nothing.
    admin.ends.set('a', [{ partition: 0, low: 0n, high: 510n }]);
    advance(2_500);
    expect(lagOf(await registry.metrics())).toEqual({ 'orders/g/a/0': 500 });
  });

  it('reuses a reading for the cache period and asks again after it', async () => {
    const admin = new FakeAdmin();
    admin.ends.set('a', [{ partition: 0, low: 0n, high: 10n }]);
    admin.commits.set('g/a', new Map([[0, 4n]]));
    const { registry, observer, advance } = setup(admin);
    observer.assigned('orders', 'g', [{ topic: 'a', partition: 0 }]);
    await registry.metrics();
    expect(admin.calls).toBe(2);

    admin.ends.set('a', [{ partition: 0, low: 0n, high: 30n }]);
    advance(1_000);
    expect(lagOf(await registry.metrics())).toEqual({ 'orders/g/a/0': 6 });
    expect(admin.calls).toBe(2);

    advance(1_500);
    expect(lagOf(await registry.metrics())).toEqual({ 'orders/g/a/0': 26 });
    expect(admin.calls).toBe(4);
  });

  it('keeps the last values and counts an error when the broker cannot answer, without failing the scrape', async () => {
    const admin = new FakeAdmin();
    admin.ends.set('a', [{ partition: 0, low: 0n, high: 10n }]);
    admin.commits.set('g/a', new Map([[0, 7n]]));
    const { registry, observer, advance, errors } = setup(admin);
    observer.assigned('orders', 'g', [{ topic: 'a', partition: 0 }]);
    expect(lagOf(await registry.metrics())).toEqual({ 'orders/g/a/0': 3 });

    admin.failure = new Error('coordinator not available');
    advance(3_000);
    const text = await registry.metrics();
    expect(lagOf(text)).toEqual({ 'orders/g/a/0': 3 });
    expect(sampleValue(text, 'tributary_lag_collection_errors_total', { pipeline: 'orders', group: 'g' })).toBe(1);
    expect(errors).toEqual(['orders/g']);
    // Within the cache period the failed reading is reused, not counted again.
    advance(500);
    expect(sampleValue(await registry.metrics(), 'tributary_lag_collection_errors_total', { pipeline: 'orders' })).toBe(
      1,
    );
    advance(3_000);
    expect(sampleValue(await registry.metrics(), 'tributary_lag_collection_errors_total', { pipeline: 'orders' })).toBe(
      2,
    );
    expect(errors).toEqual(['orders/g', 'orders/g']);

    admin.failure = undefined;
    admin.commits.set('g/a', new Map([[0, 10n]]));
    advance(3_000);
    expect(lagOf(await registry.metrics())).toEqual({ 'orders/g/a/0': 0 });
  });

  it('treats a broker call that never answers as a failure after the timeout', async () => {
    const never: LagOffsetsSource = {
      endOffsets: () => new Promise(() => {}),
      committedOffsets: () => new Promise(() => {}),
    };
    const registry = new Registry();
    const failures: unknown[] = [];
    const metrics = createEngineMetrics(registry, {
      defaultMetrics: false,
      lagSource: never,
      lagTimeoutMs: 50,
      onLagError: (failure) => failures.push(failure.error),
    });
    metrics.observer.assigned('orders', 'g', [{ topic: 'a', partition: 0 }]);
    const started = Date.now();
    const text = await registry.metrics();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(seriesOf(text, lagName)).toEqual([]);
    expect(failures).toHaveLength(1);
    expect(String(failures[0])).toMatch(/did not answer within 50 ms/);
  });

  it('stops reporting partitions that were revoked and pipelines whose assignment is empty', async () => {
    const admin = new FakeAdmin();
    admin.ends.set('a', [
      { partition: 0, low: 0n, high: 10n },
      { partition: 1, low: 0n, high: 20n },
    ]);
    admin.commits.set(
      'g/a',
      new Map([
        [0, 5n],
        [1, 5n],
      ]),
    );
    admin.commits.set('h/a', new Map([[0, 1n]]));
    const { registry, observer } = setup(admin);
    observer.assigned('orders', 'g', [
      { topic: 'a', partition: 0 },
      { topic: 'a', partition: 1 },
    ]);
    observer.assigned('audit', 'h', [{ topic: 'a', partition: 0 }]);
    expect(lagOf(await registry.metrics())).toEqual({ 'orders/g/a/0': 5, 'orders/g/a/1': 15, 'audit/h/a/0': 9 });

    // A rebalance invalidates the cached reading at once.
    observer.assigned('orders', 'g', [{ topic: 'a', partition: 1 }]);
    observer.assigned('audit', 'h', []);
    expect(lagOf(await registry.metrics())).toEqual({ 'orders/g/a/1': 15 });
  });

  it('asks the broker once for concurrent scrapes and once per topic and group', async () => {
    const admin = new FakeAdmin();
    admin.ends.set('a', [
      { partition: 0, low: 0n, high: 10n },
      { partition: 1, low: 0n, high: 10n },
    ]);
    admin.commits.set(
      'g/a',
      new Map([
        [0, 1n],
        [1, 2n],
      ]),
    );
    const { registry, observer } = setup(admin);
    observer.assigned('orders', 'g', [
      { topic: 'a', partition: 0 },
      { topic: 'a', partition: 1 },
    ]);
    const [first, second] = await Promise.all([registry.metrics(), registry.metrics()]);
    // One end-offsets call for topic a and one committed-offsets call for g on a, shared by both scrapes.
    expect(admin.calls).toBe(2);
    expect(lagOf(first)).toEqual({ 'orders/g/a/0': 9, 'orders/g/a/1': 8 });
    expect(lagOf(second)).toEqual(lagOf(first));
  });

  it('skips a partition the broker no longer reports', async () => {
    const admin = new FakeAdmin();
    admin.ends.set('a', [{ partition: 0, low: 0n, high: 10n }]);
    admin.commits.set('g/a', new Map([[0, 3n]]));
    const { registry, observer } = setup(admin);
    observer.assigned('orders', 'g', [
      { topic: 'a', partition: 0 },
      { topic: 'a', partition: 7 },
    ]);
    expect(lagOf(await registry.metrics())).toEqual({ 'orders/g/a/0': 7 });
    expect(seriesOf(await registry.metrics(), 'tributary_lag_collection_errors_total')).toEqual([]);
  });

  it('reports nothing until a lag source is set, then uses it', async () => {
    const { registry, observer, metrics } = setup();
    observer.assigned('orders', 'g', [{ topic: 'a', partition: 0 }]);
    expect(lagOf(await registry.metrics())).toEqual({});
    const admin = new FakeAdmin();
    admin.ends.set('a', [{ partition: 0, low: 0n, high: 8n }]);
    admin.commits.set('g/a', new Map([[0, 2n]]));
    metrics.setLagSource(admin);
    expect(lagOf(await registry.metrics())).toEqual({ 'orders/g/a/0': 6 });
  });
});
