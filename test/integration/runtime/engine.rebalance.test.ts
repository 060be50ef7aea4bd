import { describe, expect, it } from 'vitest';
import { definePipeline, publish } from '../../../src/index.js';
import { eventually, testEngine } from '../../support/engine.js';
import { collect, createTopic, produce, uniqueName } from '../../support/kafka.js';
import { work } from '../../support/operators.js';

describe('rebalance', () => {
  it('a second instance joining mid-stream loses nothing; duplicates stay within the in-flight window', async () => {
    // 20 ms per record, 100 at once: about 5,000 records/s, so 40,000 records take ~8 s — the second instance's join
    // (noticed by the first at its next heartbeat) moves partitions while most records are still to come
    const n = 40_000;
    const maxInFlight = 100;
    const input = await createTopic('rb-in', 6);
    const output = await createTopic('rb-out', 6);
    const dlq = await createTopic('rb-dlq', 1);
    const groupId = uniqueName('rb-group');
    await produce(
      input,
      Array.from({ length: n }, (_, i) => ({ key: `k${i % 300}`, value: String(i) })),
    );
    const out = await collect(output);

    const pipeline = definePipeline({
      name: 'rebalanced',
      source: { topics: [input], groupId },
      deadLetter: { topic: dlq },
      ordering: 'key',
      maxInFlight,
      commitIntervalMs: 500,
      build: (records) =>
        records.pipe(
          work(() => 20),
          publish(output),
        ),
    });

    const first = testEngine({ pipelines: [pipeline] });
    await first.start();
    await out.waitFor(4000);
    const second = testEngine({ pipelines: [pipeline] });
    await second.start();
    await eventually(
      () => (first.status().pipelines[0]?.assignment.length ?? 0) === 3 && second.status().ready,
      'the partitions to be split 3/3',
    );
    const outputAtSplit = out.records.length;
    const values = new Set<string>();
    await eventually(
      () => {
        for (const r of out.records) if (r.value !== undefined) values.add(r.value);
        return values.size >= n;
      },
      'every record in the output',
      120_000,
    );
    await Promise.all([first.stop(), second.stop()]);

    for (let i = 0; i < n; i++) expect(values.has(String(i))).toBe(true);
    const duplicates = out.records.length - values.size;
    console.info(
      `[rebalance] ${n} records, second instance joined after ~4000, partitions split at ${outputAtSplit}: ` +
        `${duplicates} duplicates (maxInFlight ${maxInFlight})`,
    );
    // the partitions moved while records were still to come: the move is what this test measures
    expect(outputAtSplit, 'output records when the partitions were split').toBeLessThan(n * 0.75);
    expect(duplicates).toBeLessThanOrEqual(2 * maxInFlight);
  });
});
