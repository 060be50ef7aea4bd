import { describe, expect, it } from 'vitest';
import type { BatchControl, ConsumerPort, PartitionBatch } from '../../../../src/kafka/ports.js';
import { UnwrittenRecordsError } from '../../../../src/kafka/ports.js';
import { isPermanentSendError, isTopicRefusal } from '../../../../src/runtime/sendErrors.js';
import { createMemoryKafka } from '../../../../src/testing/memoryKafka/memoryKafka.js';

const macrotask = () => new Promise<void>((done) => setImmediate(done));
async function until(condition: () => boolean, rounds = 200): Promise<void> {
  for (let i = 0; i < rounds && !condition(); i++) await macrotask();
  expect(condition()).toBe(true);
}

/** A consumer that advances past every batch and remembers what it got. */
async function collecting(consumer: ConsumerPort, topic: string, seen: string[], hold?: () => Promise<void>) {
  await consumer.connect();
  await consumer.subscribe([topic], true);
  await consumer.run(async (batch: PartitionBatch, control: BatchControl) => {
    if (hold) await hold();
    for (const r of batch.records) seen.push(`${batch.partition}:${r.offset}:${r.value?.toString()}`);
    control.advanceTo(batch.endOffset);
  });
}

describe('MemoryKafka', () => {
  it('refuses a missing topic like a production broker unless topics are created automatically', async () => {
    const strict = createMemoryKafka();
    const producer = strict.producer();
    await producer.connect();
    const error = await producer.send([{ topic: 'nope', key: null, value: 'x' }]).catch((e: unknown) => e);
    expect(isTopicRefusal(error)).toBe(true);
    expect(isPermanentSendError(error)).toBe(true);

    const lenient = createMemoryKafka({ autoCreateTopics: true, defaultPartitions: 3 });
    const p2 = lenient.producer();
    await p2.connect();
    await p2.send([{ topic: 'auto', key: 'k', value: 'x' }]);
    expect(lenient.topic('auto')?.partitions).toBe(3);
  });

  it('fails sends on demand: transient N times, permanent, and written with the acknowledgement lost', async () => {
    const kafka = createMemoryKafka();
    kafka.createTopic('t', 2);
    const producer = kafka.producer();
    await producer.connect();
    const rule = kafka.failSends({ topic: 't', partition: 1, times: 2 });
    const toP1 = { topic: 't', key: null, value: 'a', partition: 1 };
    const toP0 = { topic: 't', key: null, value: 'b', partition: 0 };
    await producer.send([toP0]); // another partition: not matched
    for (let i = 0; i < 2; i++) {
      const error = await producer.send([toP1]).catch((e: unknown) => e);
      expect(isPermanentSendError(error)).toBe(false);
    }
    expect(rule.remaining).toBe(0);
    await producer.send([toP1]);
    kafka.failSends({ error: 'permanent' });
    expect(isPermanentSendError(await producer.send([toP0]).catch((e: unknown) => e))).toBe(true);
    kafka.failSends({ written: true });
    await expect(producer.send([toP0])).rejects.toThrow(/injected transient/);
    expect(kafka.records('t').map((r) => r.value?.toString())).toEqual(['b', 'a', 'b']);
  });

  it('writes the records of existing partitions and reports the others as unwritten', async () => {
    const kafka = createMemoryKafka();
    kafka.createTopic('t', 2);
    const producer = kafka.producer();
    await producer.connect();
    const error = await producer
      .send([
        { topic: 't', key: null, value: 'ok', partition: 1 },
        { topic: 't', key: null, value: 'lost', partition: 5 },
      ])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnwrittenRecordsError);
    expect((error as UnwrittenRecordsError).indexes).toEqual([1]);
    expect(kafka.records('t').map((r) => r.value?.toString())).toEqual(['ok']);
  });

  it('waits for a member busy with a batch before it moves partitions, then splits them', async () => {
    const kafka = createMemoryKafka();
    kafka.createTopic('t', 4);
    for (let p = 0; p < 4; p++) kafka.append({ topic: 't', key: null, value: `v${p}`, partition: p });
    let release!: () => void;
    const held = new Promise<void>((done) => {
      release = done;
    });
    const seenA: string[] = [];
    const a = kafka.consumer({ groupId: 'g' });
    await collecting(a, 't', seenA, () => held);
    const seenB: string[] = [];
    const b = kafka.consumer({ groupId: 'g' });
    const joining = collecting(b, 't', seenB);
    await macrotask();
    expect(kafka.group('g').rebalancing).toBe(true); // a is still in its first batch
    release();
    await joining;
    await until(() => seenA.length + seenB.length >= 4);
    const owners = kafka.group('g').assignments();
    expect([...owners.values()].map((tps) => tps.length)).toEqual([2, 2]);
    await a.disconnect();
    await b.disconnect();
  });
});

describe('MemoryKafka disconnect', () => {
  it('a member waiting in a rebalance while another holds a batch can disconnect at once', async () => {
    const kafka = createMemoryKafka();
    kafka.createTopic('t', 2);
    let holding = false;
    let release!: () => void;
    const held = new Promise<void>((done) => {
      release = done;
    });
    const hold = () => (holding ? held : Promise.resolve());
    const a = kafka.consumer({ groupId: 'g' });
    const b = kafka.consumer({ groupId: 'g' });
    await collecting(a, 't', [], hold);
    await collecting(b, 't', []);
    await until(() => !kafka.group('g').rebalancing);
    const aPartition = (a as unknown as { assignment: { partition: number }[] }).assignment[0]?.partition ?? 0;
    holding = true;
    kafka.append({ topic: 't', key: null, value: 'x', partition: aPartition }); // a takes it and holds it
    await macrotask();
    const c = kafka.consumer({ groupId: 'g' });
    const joining = collecting(c, 't', []); // a rebalance b rejoins for at once, a only after its batch
    await until(() => kafka.group('g').rebalancing);
    await macrotask();
    let disconnected = false;
    const leaving = b.disconnect().then(() => {
      disconnected = true;
    });
    await until(() => disconnected);
    expect(kafka.group('g').memberIds).not.toContain((b as unknown as { memberId: string }).memberId);
    release();
    await leaving;
    await joining;
    await c.disconnect();
    await a.disconnect();
  });
});
