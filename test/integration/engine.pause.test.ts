import { describe, expect, it } from 'vitest';
import { definePipeline, publish } from '../../src/index.js';
import { partitionPauseThresholds } from '../../src/runtime/pipelineRunner.js';
import { eventually, testEngine } from '../support/engine.js';
import { collect, createTopic, produce, uniqueName } from '../support/kafka.js';
import { work } from '../support/operators.js';

describe('per-partition pause (second line of backpressure)', () => {
  it('computes a share of 1.5 × maxInFlight per partition, none for a single partition', () => {
    expect(partitionPauseThresholds(100, 2)).toEqual({ high: 75, low: 37 });
    expect(partitionPauseThresholds(5000, 6)).toEqual({ high: 1250, low: 625 });
    expect(partitionPauseThresholds(100, 1).high).toBe(Number.POSITIVE_INFINITY);
    expect(partitionPauseThresholds(2, 10)).toEqual({ high: 1, low: 0 });
  });

  it('a slow partition is paused and cannot starve a fast one; nothing is lost or reordered', async () => {
    const input = await createTopic('pause-in', 2);
    const output = await createTopic('pause-out', 2);
    const dlq = await createTopic('pause-dlq', 1);
    const perPartition = 200;
    const records = [];
    for (let i = 0; i < perPartition; i++) {
      records.push({ partition: 0, key: 'slow', value: `slow-${i}` });
      records.push({ partition: 1, key: 'fast', value: `fast-${i}` });
    }
    await produce(input, records);
    const out = await collect(output);
    let maxPaused = 0;
    const engine = testEngine({
      pipelines: [
        definePipeline({
          name: 'one-slow-partition',
          source: { topics: [input], groupId: uniqueName('pause-group') },
          deadLetter: { topic: dlq },
          ordering: 'partition',
          maxInFlight: 100,
          build: (stream) =>
            stream.pipe(
              work((el) => (el.origin.partition === 0 ? 20 : 0)),
              publish(output),
            ),
        }),
      ],
    });
    await engine.start();
    await eventually(
      () => {
        maxPaused = Math.max(maxPaused, engine.status().pipelines[0]?.pausedPartitions ?? 0);
        return out.records.filter((r) => r.value?.startsWith('fast')).length >= perPartition;
      },
      'the fast partition to finish',
      60_000,
    );
    const slowDoneWhenFastFinished = out.records.filter((r) => r.value?.startsWith('slow')).length;
    await out.waitFor(2 * perPartition, 60_000);
    await engine.stop();

    console.info(
      `[pause] fast partition finished while the slow one had ${slowDoneWhenFastFinished}/${perPartition}; max paused ${maxPaused}`,
    );
    // 200 slow records at 20 ms each take 4 s; the fast partition must not wait for them
    expect(slowDoneWhenFastFinished).toBeLessThan(perPartition / 2);
    expect(maxPaused).toBe(1);
    for (const prefix of ['slow', 'fast']) {
      const seq = out.records.filter((r) => r.value?.startsWith(prefix)).map((r) => Number(r.value?.split('-')[1]));
      expect(seq).toEqual(Array.from({ length: perPartition }, (_, i) => i));
    }
  });
});
