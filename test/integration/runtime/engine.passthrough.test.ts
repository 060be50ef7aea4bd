import { describe, expect, it } from 'vitest';
import { definePipeline, publish } from '../../../src/index.js';
import { eventually, testEngine } from '../../support/engine.js';
import { consume, createTopic, expectCommittedToEnd, produce, uniqueName } from '../../support/kafka.js';

describe('a passthrough pipeline', () => {
  it('publishes every record once, commits to the end of every partition, and reports ready', async () => {
    const input = await createTopic('pass-in', 3);
    const output = await createTopic('pass-out', 3);
    const dlq = await createTopic('pass-dlq', 1);
    const groupId = uniqueName('pass-group');
    const n = 3000;
    // every third record carries a correlation id; the others carry no header at all
    await produce(
      input,
      Array.from({ length: n }, (_, i) => ({
        key: `k${i % 31}`,
        value: JSON.stringify({ i }),
        ...(i % 3 === 0 ? { headers: { 'correlation-id': `corr-${i}` } } : {}),
      })),
    );

    const engine = testEngine({
      pipelines: [
        definePipeline({
          name: 'passthrough',
          source: { topics: [input], groupId },
          deadLetter: { topic: dlq },
          build: (records) => records.pipe(publish(output)),
        }),
      ],
    });
    expect(engine.status().ready).toBe(false);
    await engine.start();
    await eventually(() => engine.status().ready, 'the pipeline to join its group');

    const out = await consume(output, n);
    expect(new Set(out.map((r) => r.value)).size).toBe(n);
    // keys are carried over and decide the partition the same way as on input
    expect(out.every((r) => r.key?.startsWith('k'))).toBe(true);
    // a correlation id travels with its record; nothing is added to records that came without one
    for (const r of out) {
      const { i } = JSON.parse(r.value ?? '') as { i: number };
      if (i % 3 === 0) expect(r.headers).toEqual({ 'correlation-id': `corr-${i}` });
      else expect(r.headers).toEqual({});
    }

    await engine.stop();
    expect(engine.status().ready).toBe(false);

    await expectCommittedToEnd(groupId, [input]);
  });

  it('publishes Snappy-compressed batches that consumers read back', async () => {
    const input = await createTopic('snappy-in', 2);
    const output = await createTopic('snappy-out', 2);
    const dlq = await createTopic('snappy-dlq', 1);
    const n = 500;
    await produce(
      input,
      Array.from({ length: n }, (_, i) => ({ key: `k${i % 9}`, value: `snappy-${i}` })),
    );
    const engine = testEngine({
      producer: { compression: 'snappy' },
      pipelines: [
        definePipeline({
          name: 'snappy',
          source: { topics: [input], groupId: uniqueName('snappy-group') },
          deadLetter: { topic: dlq },
          build: (records) => records.pipe(publish(output)),
        }),
      ],
    });
    await engine.start();
    const out = await consume(output, n);
    await engine.stop();
    expect(new Set(out.map((r) => r.value))).toEqual(new Set(Array.from({ length: n }, (_, i) => `snappy-${i}`)));
  });
});
