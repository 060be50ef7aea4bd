/**
 * Group mistakes and transaction markers (reliability review F11, F13): a consumer group shared by two pipelines,
 * and a lone transaction marker at the end of a partition.
 */
import { describe, expect, it } from 'vitest';
import { definePipeline, publish } from '../../../src/index.js';
import { eventually, testEngine } from '../../support/engine.js';
import { committedOffsets, createTopic, produce, testKafka, uniqueName } from '../../support/kafka.js';
import { testKafkaLibrary } from '../../support/testClient.js';

describe('consumer groups and transaction markers', () => {
  it('F11: two pipelines sharing a group: a member assigned only topics it does not consume says so (kafkajs), or each consumes its own (platformatic)', async () => {
    const topicA = await createTopic('group-a', 4);
    const topicB = await createTopic('group-b', 2);
    const dlq = await createTopic('group-dlq', 1);
    const out = await createTopic('group-out', 1);
    const groupId = uniqueName('shared-group');
    await produce(topicB, [{ value: 'waiting in b' }]);
    // two deployments that share a group id by mistake: each engine alone is valid
    const engine = (name: string, topic: string) =>
      testEngine({
        pipelines: [
          definePipeline({
            name,
            source: { topics: [topic], groupId },
            deadLetter: { topic: dlq },
            consumer: { sessionTimeoutMs: 6000, heartbeatIntervalMs: 500, rebalanceTimeoutMs: 3000 },
            build: (stream) => stream.pipe(publish(out)),
          }),
        ],
      });
    const a = engine('on-a', topicA);
    await a.start();
    await eventually(() => a.status().ready, 'the first member ready');
    const b = engine('on-b', topicB);
    await b.start();
    if (testKafkaLibrary() === 'platformatic') {
      // the platformatic adapter's leader assigns as Java's RoundRobinAssignor: each topic only to members that
      // subscribe to it, so the mistake costs nothing: each member consumes its own topic
      await eventually(
        async () => [...(await committedOffsets(groupId, topicB)).values()].some((offset) => offset === 1n),
        'b consuming topic b',
      );
      expect(a.status().ready && b.status().ready).toBe(true);
      await b.stop();
      await a.stop();
      return;
    }
    // kafkajs' leader deals every subscribed topic to every member
    await eventually(
      () => [a, b].some((e) => e.status().reasons.some((r) => r.includes('assigned nothing') && r.includes(topicA))),
      'a member reporting that it is assigned topics it does not consume',
    );
    // and nobody consumes topic b meanwhile: that is why it must not look ready
    const committed = await committedOffsets(groupId, topicB);
    expect([...committed.values()].every((offset) => offset < 0n)).toBe(true);
    await b.stop();
    await a.stop();
  });

  it('F13: a transaction marker fetched on its own does not keep the lag at 1', async () => {
    const input = await createTopic('txn-in', 1);
    const out = await createTopic('txn-out', 1);
    const dlq = await createTopic('txn-dlq', 1);
    const groupId = uniqueName('txn-group');
    const producer = testKafka('tributary-test-txn').producer({
      transactionalId: uniqueName('txn'),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    for (let t = 0; t < 3; t++) {
      const transaction = await producer.transaction();
      await transaction.send({
        topic: input,
        messages: Array.from({ length: 10 }, (_, i) => ({ value: `t${t}-${i}` })),
      });
      await transaction.commit();
    }
    await producer.disconnect();
    // 3 × (10 records + 1 commit marker): the log ends at 33
    const engine = testEngine({
      pipelines: [
        definePipeline({
          name: 'transactional-input',
          source: { topics: [input], groupId },
          deadLetter: { topic: dlq },
          commitIntervalMs: 100,
          // tiny fetches, so the last marker comes in a batch of its own
          consumer: { maxBytesPerPartition: 100 },
          build: (stream) => stream.pipe(publish(out)),
        }),
      ],
    });
    await engine.start();
    await eventually(
      async () => (await committedOffsets(groupId, input)).get(0) === 33n,
      'the commit past the last transaction marker (33)',
    );
    await engine.stop();
  });
});
