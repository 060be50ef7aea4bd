/**
 * F4 of the reliability review (E11) on the real broker: a record whose first copy is still in flight when its
 * partition moves away and comes back must not be dropped by `dedupe` as a duplicate of that (abandoned) copy, or the
 * partition's new owner commits past a record that never reached an outcome.
 */
import { describe, expect, it } from 'vitest';
import { dedupe } from '../../../operators/dedupe.js';
import { memoryDedupeStore } from '../../../operators/memoryDedupeStore.js';
import { sink } from '../../../operators/sink.js';
import { definePipeline, type RawValue } from '../../../src/index.js';
import { eventually, testEngine } from '../../support/engine.js';
import { bootstrapServers, createTopic, produce, testAdmin, uniqueName } from '../../support/kafka.js';
import { testKafkaLibrary } from '../../support/testClient.js';

describe('dedupe across a rebalance round trip', () => {
  it('never lets a redelivered copy be committed while the first copy (revoked partition) has no outcome', async () => {
    const input = await createTopic('dedupe-rb-in', 1);
    const dlq = await createTopic('dedupe-rb-dlq', 1);
    const groupId = uniqueName('dedupe-rb-group');
    // offset 0: an ordinary record; offset 1: X, whose sink call hangs until the test lets it go
    await produce(input, [{ value: 'a' }, { value: 'X' }]);
    const xOffset = 1n;

    let releaseX: () => void = () => {};
    const xReleased = new Promise<void>((done) => {
      releaseX = done;
    });
    /** `instance:value`, one per dedupe id() call (each copy of a record that reaches dedupe). */
    const seenByDedupe: string[] = [];
    /** `instance:value`, one per sink call started. */
    const sinkStarted: string[] = [];
    const sunk: string[] = [];
    let xFinished = false;
    const text = (value: RawValue) => value?.toString('utf8') ?? '';

    // one pipeline per instance, same name and group: the instance label tells which copy is where
    const pipelineFor = (instance: string) =>
      definePipeline({
        name: 'dedupe-rebalance',
        source: { topics: [input], groupId },
        deadLetter: { topic: dlq },
        commitIntervalMs: 100,
        drainTimeoutMs: 500,
        consumer: { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 200, rebalanceTimeoutMs: 3_000, maxWaitTimeMs: 100 },
        build: (records) =>
          records.pipe(
            dedupe<RawValue>({
              id: (el) => {
                seenByDedupe.push(`${instance}:${text(el.value)}`);
                return text(el.value);
              },
              ttlMs: 60_000,
              store: memoryDedupeStore(),
            }),
            sink(async (value: RawValue) => {
              sinkStarted.push(`${instance}:${text(value)}`);
              if (text(value) === 'X') {
                await xReleased;
                xFinished = true;
              }
              sunk.push(`${instance}:${text(value)}`);
            }),
          ),
      });

    // Kafka's RoundRobin assigner gives a lone partition to the member whose id sorts first (member ids start with
    // the client id): B's client id sorts before A's, so the partition moves to B when B joins.
    const kafkaAs = (clientId: string) => ({ brokers: bootstrapServers(), clientId, library: testKafkaLibrary() });
    const admin = await testAdmin();
    const committedX = async () => {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [input] });
      return BigInt(offsets?.partitions.find((p) => p.partition === 0)?.offset ?? '-1');
    };
    // every 100 ms, the group's committed offset as long as no copy of X has been sunk
    let highestCommittedWhileUnfinished = -1n;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const unfinished = !xFinished;
        const committed = await committedX();
        if (unfinished && committed > highestCommittedWhileUnfinished) highestCommittedWhileUnfinished = committed;
        await new Promise((done) => setTimeout(done, 100));
      }
    })().catch((error: unknown) => error); // settled with its error, read after the run: never unhandled

    try {
      const a = testEngine({ pipelines: [pipelineFor('A')], kafka: kafkaAs('tributary-test-dedupe-rb-zz') });
      await a.start();
      await eventually(() => sinkStarted.includes('A:X'), 'A to hold X in its sink');

      const b = testEngine({ pipelines: [pipelineFor('B')], kafka: kafkaAs('tributary-test-dedupe-rb-aa') });
      await b.start();
      await eventually(
        () => a.status().pipelines[0]?.assignment.length === 0 && sinkStarted.includes('B:X'),
        'the partition to move to B, and B to hold its copy of X in its sink',
      );
      await b.stop(); // X unfinished on B as well: drained for 500 ms, then B leaves the group

      await eventually(
        () => seenByDedupe.filter((s) => s === 'A:X').length === 2,
        'the partition to come back to A and A to receive X again',
      );
      // A's first copy of X is still in its sink (abandoned: its tracker was revoked). A stop that hits the drain
      // timeout commits what A finished: X must not be among it.
      await a.stop();
      expect(sunk.filter((s) => s.endsWith(':X'))).toEqual([]);
      expect(await committedX()).toBe(xOffset);

      // X reaches an outcome only now: a new instance gets it again and sinks it
      releaseX();
      const c = testEngine({ pipelines: [pipelineFor('C')], kafka: kafkaAs('tributary-test-dedupe-rb-cc') });
      await c.start();
      await eventually(() => sunk.includes('C:X'), 'C to sink X');
      await eventually(async () => (await committedX()) === xOffset + 1n, 'the commit past X');
      await c.stop();
    } finally {
      watching = false;
    }
    const watchError = await watcher;
    if (watchError !== undefined) throw watchError;
    expect(highestCommittedWhileUnfinished).toBeLessThanOrEqual(xOffset);
  }, 60_000);
});
