import { describe, expect, it } from 'vitest';
import { definePipeline, publish } from '../../../src/index.js';
import { eventually, testEngine } from '../../support/engine.js';
import { bootstrapServers, collect, consume, createTopic, produce, uniqueName } from '../../support/kafka.js';
import { work } from '../../support/operators.js';
import { countingKafkaClient } from '../../support/testClient.js';

describe('per-partition pause (second line of backpressure)', () => {
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

  it("parks the rest of a paused partition's batch: every record is fetched once, none lost or reordered", async () => {
    const input = await createTopic('park-in', 3);
    const output = await createTopic('park-out', 3);
    const dlq = await createTopic('park-dlq', 1);
    const perPartition = 3000;
    const records = [];
    for (let i = 0; i < perPartition; i++) {
      for (let p = 0; p < 3; p++) records.push({ partition: p, key: `p${p}`, value: `${p}-${i}` });
    }
    await produce(input, records);

    // the real client (the broker tests' library), counting what its consumer hands over and how often the engine pauses
    const { client: counting, counts } = countingKafkaClient({
      brokers: bootstrapServers(),
      clientId: 'tributary-test-park',
    });
    const engine = testEngine({
      kafka: { client: counting },
      pipelines: [
        definePipeline({
          name: 'parking',
          source: { topics: [input], groupId: uniqueName('park-group') },
          deadLetter: { topic: dlq },
          maxInFlight: 100, // far below a fetched batch: the window fills and partitions step aside all the time
          build: (stream) => stream.pipe(publish(output)),
        }),
      ],
    });
    await engine.start();
    const out = await consume(output, 3 * perPartition, { timeoutMs: 60_000 });
    await engine.stop();

    console.info(`[pause] parking: ${counts.pauses} pauses, ${counts.fetched} records fetched for ${3 * perPartition}`);
    expect(counts.pauses).toBeGreaterThan(0);
    expect(counts.fetched).toBe(3 * perPartition);
    for (let p = 0; p < 3; p++) {
      const seq = out.filter((r) => r.key === `p${p}`).map((r) => Number(r.value?.split('-')[1]));
      expect(seq).toEqual(Array.from({ length: perPartition }, (_, i) => i));
    }
  });
});
