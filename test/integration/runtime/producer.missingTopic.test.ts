/**
 * F5: a destination topic that does not exist must not hold the shared producer. Its records fail (unknown topic,
 * once kafkajs refreshed the metadata) while every other destination keeps flowing.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { definePipeline, errorMessage, publish } from '../../../src/index.js';
import { noopObserver } from '../../../src/instrumentation.js';
import { ProducerBatcher } from '../../../src/runtime/producerBatcher.js';
import { eventually, testEngine, testLogger } from '../../support/engine.js';
import {
  bootstrapServers,
  committedOffsets,
  consume,
  createTopic,
  expectCommittedToEnd,
  produce,
  uniqueName,
} from '../../support/kafka.js';
import { testKafkaClient } from '../../support/testClient.js';

describe('a destination topic that does not exist', () => {
  it('the batcher refuses its records and keeps acknowledging the other topics meanwhile', async () => {
    const out = await createTopic('f5-out', 2);
    const missing = uniqueName('f5-missing');
    const port = testKafkaClient({ brokers: bootstrapServers(), clientId: 'tributary-test-f5' }).producer();
    await port.connect();
    const batcher = new ProducerBatcher(port, { observer: noopObserver, logger: testLogger });
    onTestFinished(async () => {
      batcher.close();
      await port.disconnect();
    });
    const said = new Map<string, string>();
    const send = (topic: string, value: string) =>
      batcher.enqueue({ topic, key: value, value }, (error) =>
        said.set(value, error === undefined ? 'acked' : errorMessage(error)),
      );
    send(out, 'warm');
    await batcher.idle();
    // one tick: the missing topic's record and the output's records are queued together
    send(missing, 'lost-1');
    for (let i = 0; i < 50; i++) send(out, `a${i}`);
    await eventually(() => said.size === 51, 'the output records acked (before the missing topic gave up)', 5_000);
    for (let i = 0; i < 50; i++) send(out, `b${i}`);
    await eventually(() => said.size === 101, 'later output records acked', 5_000);
    expect([...said].filter(([v, s]) => v !== 'lost-1' && s !== 'acked')).toEqual([]);
    await eventually(() => said.has('lost-1'), 'the missing topic record refused', 30_000);
    expect(said.get('lost-1')).toMatch(/does not host this topic-partition|unknown topic/i);
    const written = await consume(out, 101, { timeoutMs: 20_000 });
    console.log(
      `F5 batcher: ${[...said.values()].filter((s) => s === 'acked').length} acked, ${written.length} written`,
    );
  });

  it('one pipeline routing a record to a missing topic does not stall another pipeline', async () => {
    const inA = await createTopic('f5-in-a', 2);
    const inB = await createTopic('f5-in-b', 2);
    const outA = await createTopic('f5-out-a', 2);
    const outB = await createTopic('f5-out-b', 2);
    const dlq = await createTopic('f5-dlq', 1);
    const missing = uniqueName('f5-missing');
    const groupA = uniqueName('f5-group-a');
    const groupB = uniqueName('f5-group-b');
    const records = Array.from({ length: 2000 }, (_, i) => ({ key: `k${i}`, value: `${i}` }));
    await produce(inB, records);
    const engine = testEngine({
      pipelines: [
        definePipeline({
          name: 'healthy',
          source: { topics: [inA], groupId: groupA },
          deadLetter: { topic: dlq },
          build: (stream) => stream.pipe(publish(outA)),
        }),
        definePipeline({
          name: 'typo',
          source: { topics: [inB], groupId: groupB },
          deadLetter: { topic: dlq },
          build: (stream) => stream.pipe(publish((el) => (el.value?.toString() === '0' ? missing : outB))),
        }),
      ],
    });
    await engine.start();
    // the healthy pipeline's records arrive while the typo's first record (to the missing topic) is being sent
    await produce(inA, records);
    const committed = async (group: string, topic: string) =>
      [...(await committedOffsets(group, topic)).values()].reduce((a, b) => a + (b > 0n ? b : 0n), 0n);
    try {
      await eventually(
        async () => (await committed(groupA, inA)) === 2000n,
        'the healthy pipeline committed 2000',
        30_000,
      );
      await eventually(
        async () => (await committed(groupB, inB)) === 2000n,
        'the other pipeline committed 2000',
        40_000,
      );
    } finally {
      console.log(
        `F5 engine: healthy committed ${await committed(groupA, inA)}/2000, typo committed ${await committed(groupB, inB)}/2000`,
      );
    }
    const dead = await consume(dlq, 1, { timeoutMs: 20_000 });
    await engine.stop();
    expect(dead.map((d) => d.key)).toEqual(['k0']);
    await expectCommittedToEnd(groupA, [inA]);
  });
});
