/**
 * F2: a record sent to a partition its topic does not have. kafkajs leaves it out of the request without a word and
 * resolves the send; the engine must refuse it (and dead-letter it), never acknowledge it.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { definePipeline, errorMessage, publish } from '../../../src/index.js';
import { noopObserver } from '../../../src/instrumentation.js';
import { ProducerBatcher } from '../../../src/runtime/producerBatcher.js';
import { testEngine, testLogger } from '../../support/engine.js';
import {
  bootstrapServers,
  consume,
  createTopic,
  expectCommittedToEnd,
  produce,
  uniqueName,
} from '../../support/kafka.js';
import { testKafkaClient } from '../../support/testClient.js';

describe('a partition the topic does not have', () => {
  it('the batcher refuses the record; the others of its request are acked and written', async () => {
    const topic = await createTopic('f2-out', 2);
    const port = testKafkaClient({ brokers: bootstrapServers(), clientId: 'tributary-test-f2' }).producer();
    await port.connect();
    const batcher = new ProducerBatcher(port, { observer: noopObserver, logger: testLogger });
    onTestFinished(async () => {
      batcher.close();
      await port.disconnect();
    });
    const said = new Map<string, string>();
    const partitions = [0, 1, undefined, 2, 5, -1, 1.5, Number.NaN];
    partitions.forEach((partition, i) => {
      const value = `v${i}:${partition}`;
      batcher.enqueue({ topic, key: `k${i}`, value, partition }, (error) =>
        said.set(value, error === undefined ? 'acked' : errorMessage(error)),
      );
    });
    await batcher.idle();
    const acked = [...said].filter(([, s]) => s === 'acked').map(([v]) => v);
    console.log(`F2 batcher: ${acked.length} of ${partitions.length} acked: ${acked.join(' ')}`);
    expect(acked).toEqual(['v0:0', 'v1:1', 'v2:undefined']);
    expect(said.get('v3:2')).toMatch(/partition 2/);
    const written = await consume(topic, 3, { timeoutMs: 20_000 });
    expect(written.map((r) => r.value).sort()).toEqual(acked.sort());
  });

  it("publish keeping the input's partition into a topic with fewer: the extra ones are dead-lettered", async () => {
    const input = await createTopic('f2-in', 4);
    const output = await createTopic('f2-out', 2);
    const dlq = await createTopic('f2-dlq', 1);
    const groupId = uniqueName('f2-group');
    await produce(
      input,
      Array.from({ length: 400 }, (_, i) => ({ key: `k${i}`, value: `${i}` })),
    );
    const engine = testEngine({
      pipelines: [
        definePipeline({
          name: 'keep-partition',
          source: { topics: [input], groupId },
          deadLetter: { topic: dlq },
          build: (stream) => stream.pipe(publish(output, { partition: (el) => el.origin.partition })),
        }),
      ],
    });
    await engine.start();
    const inputEnds = await consume(input, 400);
    const wanted = inputEnds.filter((r) => r.partition < 2).length;
    const published = await consume(output, wanted, { timeoutMs: 20_000 });
    const dead = await consume(dlq, 400 - wanted, { timeoutMs: 20_000 }).catch((error: unknown) => {
      console.log(`F2 engine: ${errorMessage(error)}`);
      throw error;
    });
    await engine.stop();
    console.log(`F2 engine: 400 in, ${published.length} published, ${dead.length} dead-lettered`);
    expect(new Set([...published, ...dead].map((r) => r.value ?? r.key)).size).toBe(400);
    await expectCommittedToEnd(groupId, [input]);
  });
});
