/**
 * Review finding F3 on the real broker: a stage after `publish` or `sink` can still fail a record. The broker refuses
 * a keyless record on a compacted topic, so `publish(A)` (or `sink`) then `publish(B)` with B compacted must send the
 * keyless records to the dead-letter topic, and a record's offset must not be committed while a later stage still
 * holds it.
 */
import type { OperatorFunction } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  DEAD_LETTER_HEADERS,
  definePipeline,
  type Element,
  type EngineObserver,
  publish,
  type RawValue,
  readIntegerHeader,
  sink,
} from '../../../src/index.js';
import { noopObserver } from '../../../src/instrumentation.js';
import { eventually, testEngine } from '../../support/engine.js';
import {
  collect,
  committedOffsets,
  createTopic,
  expectCommittedToEnd,
  produce,
  type TestRecord,
  uniqueName,
} from '../../support/kafka.js';

const RECORDS = 500;
/** Records without a key: refused by the compacted topic B. */
const KEYLESS = new Set(Array.from({ length: 10 }, (_, i) => 25 + i * 50));

function records(): TestRecord[] {
  return Array.from({ length: RECORDS }, (_, i) => ({
    ...(KEYLESS.has(i) ? {} : { key: `k-${i}` }),
    value: `v-${i}`,
    headers: { 'correlation-id': `c-${i}` },
  }));
}

async function runSecondStageRefusal(
  first: (a: string) => OperatorFunction<Element<RawValue>, Element<RawValue>>,
): Promise<{ a: string[]; b: string[]; dead: string[] }> {
  const input = await createTopic('after-in', 2);
  const a = await createTopic('after-a', 2);
  const b = await createTopic('after-b', 2, { 'cleanup.policy': 'compact' });
  const dlq = await createTopic('after-dlq', 1);
  await produce(input, records());
  const groupId = uniqueName('after-group');
  const aOut = await collect(a);
  const bOut = await collect(b);
  const dead = await collect(dlq);
  const engine = testEngine({
    pipelines: [
      definePipeline({
        name: uniqueName('after-publish'),
        source: { topics: [input], groupId },
        deadLetter: { topic: dlq },
        build: (stream) => stream.pipe(first(a), publish(b, { name: 'toB' })),
      }),
    ],
  });
  await engine.start();
  await dead.waitFor(KEYLESS.size, 20_000);
  await bOut.waitFor(RECORDS - KEYLESS.size, 30_000);
  await eventually(async () => {
    try {
      await expectCommittedToEnd(groupId, [input]);
      return true;
    } catch {
      return false;
    }
  }, 'commits at the end of the input');
  await engine.stop();

  // at-least-once: the producer re-sends the rest of a refused request, so B (and the dead-letter topic) may hold a
  // record more than once; what counts is that each record is there
  const distinct = (values: (string | undefined)[]) => [...new Set(values)].sort();
  const keyless = [...KEYLESS].map((i) => `v-${i}`).sort();
  expect(distinct(dead.records.map((r) => r.value))).toEqual(keyless);
  for (const d of dead.records) {
    expect(d.headers[DEAD_LETTER_HEADERS.stage]).toBe('toB');
    expect(d.headers[DEAD_LETTER_HEADERS.errorCode]).toBe('TRIBUTARY_ERR_PUBLISH');
    expect(d.headers[DEAD_LETTER_HEADERS.originalTopic]).toBe(input);
    expect(d.headers[DEAD_LETTER_HEADERS.originalConsumerGroup]).toBe(groupId);
    expect(readIntegerHeader(d.rawHeaders[DEAD_LETTER_HEADERS.originalOffset])).toBeTypeOf('bigint');
    expect(d.headers['correlation-id']).toBe(`c-${d.value?.slice(2)}`);
    expect(d.key).toBeUndefined();
  }
  const others = Array.from({ length: RECORDS }, (_, i) => `v-${i}`).filter((v) => !keyless.includes(v));
  expect(distinct(bOut.records.map((r) => r.value))).toEqual(others.sort());
  return {
    a: aOut.records.map((r) => r.value ?? ''),
    b: bOut.records.map((r) => r.value ?? ''),
    dead: dead.records.map((r) => r.value ?? ''),
  };
}

describe('stages after publish or sink', () => {
  it('publish(A) then publish(B compacted): the keyless records B refuses reach the dead-letter topic', async () => {
    const { a } = await runSecondStageRefusal((topic) => publish(topic, { name: 'toA' }));
    expect(new Set(a).size).toBe(RECORDS); // A accepts keyless records: every record was published there first
  });

  it('sink then publish(B compacted): the keyless records B refuses reach the dead-letter topic', async () => {
    const sunk: string[] = [];
    await runSecondStageRefusal(() =>
      sink((value: RawValue) => {
        sunk.push(value?.toString() ?? '');
      }),
    );
    expect(new Set(sunk).size).toBe(RECORDS);
  });

  it('does not commit past a record that a stage after publish still holds', async () => {
    const input = await createTopic('after-held-in', 2);
    const a = await createTopic('after-held-a', 2);
    const dlq = await createTopic('after-held-dlq', 1);
    const perPartition = 20;
    const held = 5n; // partition 0's record at this offset waits in the sink until released
    await produce(
      input,
      Array.from({ length: 2 * perPartition }, (_, i) => ({ value: `v-${i}`, partition: i % 2 })),
    );
    const groupId = uniqueName('after-held-group');
    const aOut = await collect(a);
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const written: string[] = [];
    const committed: { partition: number; offset: bigint }[] = [];
    const observer: EngineObserver = {
      ...noopObserver,
      offsetCommitted: (_pipeline, _group, topic, partition, offset) => {
        if (topic === input) committed.push({ partition, offset });
      },
    };
    const engine = testEngine({
      observer,
      pipelines: [
        definePipeline({
          name: uniqueName('after-held'),
          source: { topics: [input], groupId },
          deadLetter: { topic: dlq },
          build: (stream) =>
            stream.pipe(
              publish(a),
              sink(async (value: RawValue, element) => {
                if (element.origin.partition === 0 && element.origin.offset === held) await released;
                written.push(value?.toString() ?? '');
              }),
            ),
        }),
      ],
    });
    await engine.start();
    try {
      // every record, the held one included, was acknowledged by A (publish's stage is done)...
      await aOut.waitFor(2 * perPartition, 30_000);
      // ...and acknowledgements arrive in queue order, so once a record produced after them was published to A and
      // committed, every earlier record had its publish outcome before that commit
      await produce(input, [{ value: 'sentinel', partition: 1 }]);
      await eventually(
        () => committed.some((c) => c.partition === 1 && c.offset === BigInt(perPartition + 1)),
        'partition 1 committed past the sentinel',
      );
      const onPartition0 = committed.filter((c) => c.partition === 0).map((c) => c.offset);
      expect(onPartition0.filter((offset) => offset > held)).toEqual([]);
      expect((await committedOffsets(groupId, input)).get(0)).toBe(held);
      expect(written).not.toContain(`v-${2 * Number(held)}`);
    } finally {
      release();
    }
    await eventually(async () => {
      try {
        await expectCommittedToEnd(groupId, [input]);
        return true;
      } catch {
        return false;
      }
    }, 'commits at the end once released');
    await engine.stop();
    expect(written).toHaveLength(2 * perPartition + 1);
  });
});
