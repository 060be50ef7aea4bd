/**
 * A partition the engine paused for backpressure (it held its share of a full window) is fetched again as soon as it
 * is resumed, even when the member's other partitions have nothing to fetch. The fetch that went out meanwhile for
 * those idle partitions waits at the broker for data up to `maxWaitTimeMs`; a resumed partition used to wait for it.
 * Seen on the workload benchmark as stop-and-go in its last 10 % (one or two partitions left with records): 4 s
 * where the steady rate needs 2.
 */
import { describe, expect, it } from 'vitest';
import { definePipeline, publish } from '../../../src/index.js';
import { eventually, testEngine } from '../../support/engine.js';
import { bootstrapServers, collect, createTopic, produce, uniqueName } from '../../support/kafka.js';
import { countingKafkaClient, testKafkaLibrary } from '../../support/testClient.js';

// kafkajs fixes a consumer's fetch wait when it is created: a resumed partition waits for the fetch in flight there
describe.skipIf(testKafkaLibrary() === 'kafkajs')('a resumed partition beside idle ones (@platformatic/kafka)', () => {
  it('is fetched again at once, not after the fetch wait of the idle partitions', async () => {
    const input = await createTopic('resume-in', 2);
    const output = await createTopic('resume-out', 2);
    const dlq = await createTopic('resume-dlq', 1);
    const total = 2000;
    // partition 1 stays empty; partition 0 gets record batches of 100 records, and a fetch takes one batch
    // (maxBytesPerPartition 1: the broker still sends the first batch whole), of which the window admits 50
    await produce(
      input,
      Array.from({ length: total }, (_, i) => ({ partition: 0, key: 'k', value: `v-${i}` })),
      100,
    );
    const out = await collect(output);
    const maxWaitTimeMs = 5000;
    // the real client, counting the engine's pauses
    const { client: counting, counts } = countingKafkaClient({
      brokers: bootstrapServers(),
      clientId: 'tributary-test-resume',
    });
    const engine = testEngine({
      kafka: { client: counting },
      pipelines: [
        definePipeline({
          name: 'resume-beside-idle',
          source: { topics: [input], groupId: uniqueName('resume-group') },
          deadLetter: { topic: dlq },
          ordering: 'partition',
          maxInFlight: 50,
          consumer: { maxWaitTimeMs, maxBytesPerPartition: 1 },
          build: (stream) => stream.pipe(publish(output)),
        }),
      ],
    });
    await engine.start();
    const started = Date.now();
    try {
      // 20 fetches of partition 0, each followed by a pause: waiting maxWaitTimeMs after each would take 100 s
      await eventually(() => out.records.length >= total, `${total} records out`, 8 * maxWaitTimeMs);
    } finally {
      await engine.stop();
    }
    console.info(`[resume] ${total} records in ${Date.now() - started} ms, ${counts.pauses} pauses`);
    expect(counts.pauses, 'partition 0 was paused for backpressure, again and again').toBeGreaterThanOrEqual(10);
    expect(out.records.map((r) => r.value)).toEqual(Array.from({ length: total }, (_, i) => `v-${i}`));
  });
});
