import { tap } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { definePipeline, publish } from '../../../src/index.js';
import { eventually, testEngine } from '../../support/engine.js';
import { createTopic, produce, uniqueName } from '../../support/kafka.js';
import { work } from '../../support/operators.js';

async function produceBacklog(topic: string, count: number): Promise<void> {
  const payload = 'x'.repeat(150);
  for (let i = 0; i < count; i += 20_000) {
    const chunk = Array.from({ length: Math.min(20_000, count - i) }, (_, j) => ({
      key: `k${(i + j) % 1000}`,
      value: `${i + j}:${payload}`,
    }));
    await produce(topic, chunk, 5000);
  }
}

describe('backpressure', () => {
  it('holds in-flight at maxInFlight and heap bounded with a 200,000-record backlog behind a slow pipeline', async () => {
    const backlog = 200_000;
    const maxInFlight = 100;
    const input = await createTopic('bp-in', 6);
    const output = await createTopic('bp-out', 6);
    const dlq = await createTopic('bp-dlq', 1);
    await produceBacklog(input, backlog);
    expect(global.gc, 'vitest runs workers with --expose-gc').toBeTypeOf('function');
    global.gc?.();
    const baseline = process.memoryUsage().heapUsed;

    let entered = 0;
    let published = 0;
    let maxObserved = 0;
    const engine = testEngine({
      pipelines: [
        definePipeline({
          name: 'slow',
          source: { topics: [input], groupId: uniqueName('bp-group') },
          deadLetter: { topic: dlq },
          ordering: 'key',
          maxInFlight,
          build: (records) =>
            records.pipe(
              tap(() => {
                entered++;
                maxObserved = Math.max(maxObserved, entered - published);
              }),
              work(() => 5),
              publish(output),
              tap(() => {
                published++;
              }),
            ),
        }),
      ],
    });
    let peakHeap = baseline;
    let peakInFlight = 0;
    const sampler = setInterval(() => {
      peakInFlight = Math.max(peakInFlight, engine.status().pipelines[0]?.inFlight ?? 0);
    }, 5);
    // live heap (after a full GC), so garbage not yet collected does not count as held memory
    const heapSampler = setInterval(() => {
      global.gc?.();
      peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    }, 250);
    try {
      await engine.start();
      // run long enough for kafkajs to have fetched far ahead if nothing held it back
      await eventually(() => published >= 5000, '5,000 records through the slow pipeline', 120_000);
    } finally {
      clearInterval(sampler);
      clearInterval(heapSampler);
    }
    await engine.stop();

    const growthMb = (peakHeap - baseline) / 2 ** 20;
    console.info(
      `[backpressure] backlog ${backlog}, processed ${published}, max in-flight ${maxObserved} (limit ${maxInFlight}), ` +
        `peak live heap growth ${growthMb.toFixed(1)} MB over a ${(baseline / 2 ** 20).toFixed(1)} MB baseline`,
    );
    expect(maxObserved).toBeLessThanOrEqual(maxInFlight);
    expect(maxObserved).toBe(maxInFlight); // the limit was reached: the pipeline really was the bottleneck
    expect(peakInFlight).toBeLessThanOrEqual(maxInFlight);
    expect(published).toBeLessThan(backlog); // most of the backlog stayed in Kafka
    // the backlog as JS objects would be well over 100 MB; fetch buffers plus the window stay far below
    expect(growthMb).toBeLessThan(64);
  });
});
