/**
 * RecordOutcomes counts finished records in plain numbers and reads exactly as @prometheus-io/client's own Counter
 * and Histogram fed the same records: the text a scrape gets, the JSON a worker hands the primary, and what
 * Registry.aggregate makes of several workers'.
 */
import { Counter, Histogram, Registry } from '@prometheus-io/client';
import { describe, expect, it } from 'vitest';
import { PROCESSING_BUCKETS } from '../../../metrics/createEngineMetrics.js';
import { ENGINE_METRICS } from '../../../metrics/metricNames.js';
import { RecordOutcomes } from '../../../metrics/recordOutcomes.js';

type Finished = [pipeline: string, topic: string, outcome: string, seconds: number];

const { recordsProcessed, processingDuration } = ENGINE_METRICS;

/** The reference: the client's own metrics, updated as the engine updated them before. */
function clientRegistry(records: readonly Finished[], buckets: readonly number[] = PROCESSING_BUCKETS): Registry {
  const registry = new Registry();
  const counter = new Counter({ ...recordsProcessed, registers: [registry] });
  const histogram = new Histogram({ ...processingDuration, buckets: [...buckets], registers: [registry] });
  for (const [pipeline, topic, outcome, seconds] of records) {
    counter.inc({ pipeline, topic, outcome });
    if (Number.isFinite(seconds) && seconds >= 0) histogram.observe({ pipeline, topic, outcome }, seconds);
  }
  return registry;
}

function outcomesRegistry(records: readonly Finished[], buckets: readonly number[] = PROCESSING_BUCKETS): Registry {
  const registry = new Registry();
  const outcomes = new RecordOutcomes(registry, recordsProcessed, processingDuration, buckets);
  for (const [pipeline, topic, outcome, seconds] of records) outcomes.record(pipeline, topic, outcome, seconds);
  return registry;
}

/** The exposition's lines, in a fixed order (series order is not part of the format). */
async function lines(registry: Registry): Promise<string[]> {
  return (await registry.metrics()).split('\n').sort();
}

const RECORDS: Finished[] = [
  ['orders', 'orders', 'published', 0.004],
  ['orders', 'orders', 'published', 0.001], // on a bound: counted in that bucket
  ['orders', 'orders', 'dead_lettered', 0.3],
  ['orders', 'orders.retry', 'published', 75], // above every bound: only in +Inf
  ['payments', 'orders', 'published', 0.02],
  ['orders', 'orders', 'filtered', Number.NaN], // counted, not timed
  ['orders', 'orders', 'published', -1], // counted, not timed
  ['payments', 'payments', 'sunk', Number.POSITIVE_INFINITY], // counted, not timed: no histogram series at all
  ['orders', 'orders', 'published', 0.0041],
];

describe('RecordOutcomes', () => {
  it('reads as the client Counter and Histogram fed the same records: the scrape text', async () => {
    const expected = await lines(clientRegistry(RECORDS));
    expect(expected.some((l) => l.includes('le="+Inf"'))).toBe(true);
    expect(await lines(outcomesRegistry(RECORDS))).toEqual(expected);
  });

  it('and in the OpenMetrics format (where the registry renames counters)', async () => {
    const client = clientRegistry(RECORDS);
    const ours = outcomesRegistry(RECORDS);
    client.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    ours.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const expected = await lines(client);
    expect(expected).toContain(
      'tributary_records_processed_total{pipeline="orders",topic="orders",outcome="published"} 4',
    );
    expect(await lines(ours)).toEqual(expected);
    // a second scrape reads the same (the rename happened once)
    expect(await lines(ours)).toEqual(await lines(client));
  });

  it('and once aggregated over workers (the JSON a worker hands the primary, summed by Registry.aggregate)', async () => {
    const worker1 = RECORDS.slice(0, 5);
    const worker2 = RECORDS.slice(3);
    const expected = Registry.aggregate([
      await clientRegistry(worker1).getMetricsAsJSON(),
      await clientRegistry(worker2).getMetricsAsJSON(),
    ]);
    const ours = Registry.aggregate([
      await outcomesRegistry(worker1).getMetricsAsJSON(),
      await outcomesRegistry(worker2).getMetricsAsJSON(),
    ]);
    expect(await lines(ours)).toEqual(await lines(expected));
  });

  it('with other buckets, and with nothing recorded yet', async () => {
    const buckets = [0.5, 1, 2];
    expect(await lines(outcomesRegistry(RECORDS, buckets))).toEqual(await lines(clientRegistry(RECORDS, buckets)));
    expect(await lines(outcomesRegistry([]))).toEqual(await lines(clientRegistry([])));
  });

  it('starts again from nothing when the registry resets its metrics', async () => {
    const registry = new Registry();
    const outcomes = new RecordOutcomes(registry, recordsProcessed, processingDuration, PROCESSING_BUCKETS);
    outcomes.record('orders', 'orders', 'published', 0.01);
    registry.resetMetrics();
    outcomes.record('orders', 'orders', 'published', 0.02);
    expect(await lines(registry)).toEqual(await lines(clientRegistry([['orders', 'orders', 'published', 0.02]])));
  });

  it('refuses buckets that are not finite and increasing', () => {
    const make = (buckets: number[]) =>
      new RecordOutcomes(new Registry(), recordsProcessed, processingDuration, buckets);
    expect(() => make([0.1, 0.1])).toThrow(/increasing/);
    expect(() => make([1, 0.5])).toThrow(/increasing/);
    expect(() => make([0.1, Number.POSITIVE_INFINITY])).toThrow(/finite/);
  });
});
