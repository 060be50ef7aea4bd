/**
 * The KafkaClientPort conformance suite: the behaviour every implementation of src/kafka/ports.ts must show, written
 * against the port alone (topics made with AdminPort.createTopics, records written with ProducerPort, read with
 * ConsumerPort), so the same tests run on the kafkajs adapter against a real broker, on the in-memory client, and on
 * any later adapter. Not a test file itself: a runner (`*.test.ts`) calls `describeKafkaClientPort` with a harness.
 *
 * What the port promises beyond its doc comments, as these tests pin it down:
 * - Pause: a paused partition gets no batch fetched after the pause; resume fetches it again. Whether a pause
 *   survives a rebalance is NOT promised (kafkajs keeps it, a restarted client forgets it): the engine re-applies its
 *   pauses inside onAssigned and resumes what it no longer owns (partitionParking.assigned), and pause/resume called
 *   inside an onAssigned listener take effect before the new assignment's first fetch.
 * - Commit: refused (rejects) while the consumer is not a running member of its group — before it joined, after
 *   disconnect — rather than silently dropped (F17).
 * - Send errors: a missing topic is a permanent topic refusal, a record over the topic's max.message.bytes is a
 *   permanent refusal of that record (as src/runtime/sendErrors.ts reads them).
 * Not covered (the port cannot set them up): onEmptyBatch (needs transactions), onFatal and onInterrupted (need a
 * broker failure), onUnsubscribedTopics (depends on the group leader's assignor).
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { partitionForKey } from '../../src/kafka/murmur2.js';
import {
  type BatchControl,
  type ConsumedRecord,
  type ConsumerPort,
  type OutgoingRecord,
  type PartitionBatch,
  type TopicPartition,
  UnwrittenRecordsError,
} from '../../src/kafka/ports.js';
import { isSizeRefusal } from '../../src/runtime/deadLetterWriter.js';
import { isPermanentSendError, isTopicRefusal, protocolType } from '../../src/runtime/sendErrors.js';
import {
  ConsumerProbe,
  headerText,
  nextSeq,
  type PortHarness,
  PortSession,
  SUITE_CONSUMER_TIMING,
  texts,
  tpKey,
} from './portSession.js';
import { gate, settle, sleep, WAIT_MS, waitFor } from './waiting.js';

export type { PortHarness } from './portSession.js';

/** Record timestamps are wall-clock milliseconds since the epoch; allow for a clock set apart from the test's. */
const TIMESTAMP_TOLERANCE_MS = 60_000;

const offsetsOf = (batch: PartitionBatch): bigint[] => batch.records.map((r) => r.offset);
const range = (from: number, to: number): bigint[] => Array.from({ length: to - from }, (_, i) => BigInt(from + i));

function bytesOf(value: unknown): Buffer | undefined {
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  return undefined;
}

function sortedAssignment(tps: readonly TopicPartition[] | undefined): string[] {
  return (tps ?? []).map(tpKey).sort();
}

export function describeKafkaClientPort(name: string, harness: PortHarness): void {
  describe(`KafkaClientPort conformance: ${name}`, () => {
    describe('AdminPort', () => {
      it('createTopics creates what is missing and returns only the names it created; listTopics lists them', async () => {
        const s = new PortSession(harness);
        const admin = await s.admin();
        const [a, b, c] = [s.name('conf-admin-a'), s.name('conf-admin-b'), s.name('conf-admin-c')];
        expect(
          (
            await admin.createTopics([
              { topic: a, partitions: 2 },
              { topic: b, partitions: 1 },
            ])
          ).sort(),
        ).toEqual([a, b].sort());
        expect(
          await admin.createTopics([
            { topic: a, partitions: 2 },
            { topic: c, partitions: 3 },
          ]),
        ).toEqual([c]);
        expect(
          await admin.createTopics([
            { topic: a, partitions: 2 },
            { topic: b, partitions: 1 },
            { topic: c, partitions: 3 },
          ]),
        ).toEqual([]);
        expect(await admin.listTopics()).toEqual(expect.arrayContaining([a, b, c]));
        const ends = (await admin.endOffsets(c)).sort((x, y) => x.partition - y.partition);
        expect(ends).toEqual([0, 1, 2].map((partition) => ({ partition, low: 0n, high: 0n })));
        expect((await admin.committedOffsets(s.name('conf-admin-nobody'), a)).size).toBe(0);
      });

      it('two clients creating the same topic at once: exactly one of them says it created it', async () => {
        const s = new PortSession(harness);
        const [first, second] = [await s.admin(), await s.otherAdmin()];
        const topic = s.name('conf-admin-race');
        const results = await Promise.all([
          first.createTopics([{ topic, partitions: 1 }]),
          second.createTopics([{ topic, partitions: 1 }]),
        ]);
        expect(results.flat()).toEqual([topic]);
        expect(await first.listTopics()).toContain(topic);
      });
    });

    describe('ProducerPort', () => {
      it('send resolves once its records are written: endOffsets counts them at once, a reader gets them', async () => {
        const s = new PortSession(harness);
        const topic = await s.topic('conf-acks', 2);
        const admin = await s.admin();
        const producer = await s.producer();
        for (let round = 1; round <= 3; round++) {
          await producer.send([
            { topic, partition: 0, key: null, value: `p0-${round}a` },
            { topic, partition: 0, key: null, value: `p0-${round}b` },
            { topic, partition: 1, key: null, value: `p1-${round}` },
          ]);
          // no waiting: once send resolved, the records are there
          const ends = (await admin.endOffsets(topic)).sort((x, y) => x.partition - y.partition);
          expect(ends).toEqual([
            { partition: 0, low: 0n, high: BigInt(2 * round) },
            { partition: 1, low: 0n, high: BigInt(round) },
          ]);
        }
        const read = await s.readAll(topic, 9);
        expect(texts(read.get(0))).toEqual(['p0-1a', 'p0-1b', 'p0-2a', 'p0-2b', 'p0-3a', 'p0-3b']);
        expect(texts(read.get(1))).toEqual(['p1-1', 'p1-2', 'p1-3']);
      });

      it('an explicit partition is honoured; a key always lands in the same partition, whichever producer sends it', async () => {
        const s = new PortSession(harness);
        const topic = await s.topic('conf-partitions', 4);
        const producer = await s.producer();
        const other = await s.producer(harness.client());
        const keys = Array.from({ length: 20 }, (_, i) => `key-${i}`);
        await producer.send(
          [3, 0, 2, 1, 3].map((partition, i) => ({
            topic,
            partition,
            key: 'same',
            value: `explicit-${partition}-${i}`,
          })),
        );
        await producer.send(keys.map((key) => ({ topic, key, value: `first:${key}` })));
        await producer.send(keys.map((key) => ({ topic, key, value: `again:${key}` })));
        await other.send(keys.map((key) => ({ topic, key, value: `other:${key}` })));
        const read = await s.readAll(topic, 5 + 3 * keys.length);
        const partitionsOfKey = new Map<string, Set<number>>();
        for (const [partition, records] of read) {
          for (const r of records) {
            const value = r.value?.toString() ?? '';
            if (value.startsWith('explicit-')) {
              expect(value.split('-')[1], value).toBe(String(partition));
              continue;
            }
            const key = r.key?.toString() ?? '<null>';
            partitionsOfKey.set(key, (partitionsOfKey.get(key) ?? new Set()).add(partition));
          }
        }
        expect([...read.values()].flat().filter((r) => r.value?.toString().startsWith('explicit-'))).toHaveLength(5);
        expect([...partitionsOfKey.keys()].sort()).toEqual([...keys].sort());
        const spread = [...partitionsOfKey].filter(([, partitions]) => partitions.size !== 1);
        expect(spread, 'keys found in more than one partition').toEqual([]);
        // and in the partition the Java client's default partitioner chooses
        for (const [key, partitions] of partitionsOfKey) {
          expect([...partitions], key).toEqual([partitionForKey(Buffer.from(key), 4)]);
        }
      });

      it('records of many sends in flight at once keep their order within each partition', async () => {
        const s = new PortSession(harness);
        const topic = await s.topic('conf-inflight', 3);
        const producer = await s.producer();
        const sends: OutgoingRecord[][] = [];
        for (let i = 0; i < 30; i++) {
          const records: OutgoingRecord[] = [{ topic, partition: 0, key: null, value: `${i}:explicit` }];
          for (let j = 0; j < 10; j++) records.push({ topic, key: `k${(i + j) % 6}`, value: `${i}:${j}` });
          sends.push(records);
        }
        await Promise.all(sends.map((records) => producer.send(records)));
        const total = sends.reduce((sum, r) => sum + r.length, 0);
        const read = await s.readAll(topic, total);
        expect([...read.values()].reduce((sum, r) => sum + r.length, 0)).toBe(total);
        // where each record went, then what each partition must hold: the records sent to it, in call order
        const partitionOf = new Map<string, number>();
        for (const [partition, records] of read) for (const v of texts(records)) partitionOf.set(v, partition);
        for (const [partition, records] of read) {
          const expected = sends
            .flat()
            .map((r) => r.value as string)
            .filter((v) => partitionOf.get(v) === partition);
          expect(texts(records), `partition ${partition}`).toEqual(expected);
        }
      });

      it('a record for a partition its topic does not have: UnwrittenRecordsError names it, the others are written', async () => {
        const s = new PortSession(harness);
        const two = await s.topic('conf-unwritten-two', 2);
        const one = await s.topic('conf-unwritten-one', 1);
        const admin = await s.admin();
        const producer = await s.producer();
        const records: OutgoingRecord[] = [
          { topic: two, partition: 0, key: null, value: 'written-0' },
          { topic: two, partition: 2, key: null, value: 'unwritten-1' },
          { topic: two, key: 'keyed', value: 'written-2' },
          { topic: one, partition: 1, key: null, value: 'unwritten-3' },
          { topic: two, partition: 1, key: null, value: 'written-4' },
          { topic: two, partition: -1, key: null, value: 'unwritten-5' },
          { topic: one, partition: 0, key: null, value: 'written-6' },
        ];
        const outcome = await settle(producer.send(records));
        expect(outcome.ok).toBe(false);
        const error = outcome.ok ? undefined : outcome.error;
        expect(error).toBeInstanceOf(UnwrittenRecordsError);
        expect((error as UnwrittenRecordsError).indexes).toEqual([1, 3, 5]);
        const high = async (topic: string) => (await admin.endOffsets(topic)).reduce((sum, p) => sum + p.high, 0n);
        expect(await high(two)).toBe(3n);
        expect(await high(one)).toBe(1n);
        // only unknown partitions in a send: all of them unwritten
        const alone = await settle(producer.send([{ topic: one, partition: 7, key: null, value: 'unwritten' }]));
        expect(alone.ok ? undefined : (alone.error as UnwrittenRecordsError).indexes).toEqual([0]);
        // the producer goes on
        await producer.send([{ topic: one, partition: 0, key: null, value: 'after' }]);
        const read = await s.readAll(two, 3);
        expect([...read.values()].flatMap(texts).sort()).toEqual(['written-0', 'written-2', 'written-4']);
        expect(texts((await s.readAll(one, 2)).get(0))).toEqual(['written-6', 'after']);
      });

      it('reset() starts a new session: a send in flight finishes, later sends are written, in order', async () => {
        const s = new PortSession(harness);
        const topic = await s.topic('conf-reset', 1);
        const producer = await s.producer();
        const send = (value: string) => producer.send([{ topic, key: 'k', value }]);
        await send('before');
        const inFlight = send('in-flight');
        await producer.reset();
        await inFlight;
        await send('after-1');
        await producer.reset();
        await send('after-2');
        await Promise.all([send('after-3'), producer.reset()]);
        await send('after-4');
        expect(texts((await s.readAll(topic, 6)).get(0))).toEqual([
          'before',
          'in-flight',
          'after-1',
          'after-2',
          'after-3',
          'after-4',
        ]);
      });

      it('a header whose value is undefined is left out; the record and its other headers are written', async () => {
        const s = new PortSession(harness);
        const topic = await s.topic('conf-header-undefined', 1);
        const producer = await s.producer();
        await producer.send([{ topic, key: null, value: 'v', headers: { kept: 'yes', dropped: undefined } }]);
        const [record] = (await s.readAll(topic, 1)).get(0) ?? [];
        expect(headerText(record?.headers.kept)).toBe('yes');
        expect(record?.headers.dropped).toBeUndefined();
      });
    });

    describe('send errors', () => {
      it('a topic that does not exist: the send is refused for good, as a topic refusal; the topic is not created', async () => {
        const s = new PortSession(harness);
        const existing = await s.topic('conf-missing-other', 1);
        const producer = await s.producer();
        const missing = s.name('conf-missing');
        const outcome = await settle(producer.send([{ topic: missing, key: null, value: 'lost' }]));
        expect(outcome.ok).toBe(false);
        const error = outcome.ok ? undefined : outcome.error;
        expect(isTopicRefusal(error), String(error)).toBe(true);
        expect(isPermanentSendError(error), String(error)).toBe(true);
        expect(await (await s.admin()).listTopics()).not.toContain(missing);
        await producer.send([{ topic: existing, key: null, value: 'still sending' }]);
      }, 60_000);

      it("a record larger than the topic's max.message.bytes is refused for good, but not as a topic refusal", async () => {
        const s = new PortSession(harness);
        const topic = await s.topic('conf-too-large', 1, { 'max.message.bytes': '2048' });
        const admin = await s.admin();
        const producer = await s.producer();
        const outcome = await settle(producer.send([{ topic, key: null, value: Buffer.alloc(10_000, 1) }]));
        expect(outcome.ok).toBe(false);
        const error = outcome.ok ? undefined : outcome.error;
        expect(isPermanentSendError(error), String(error)).toBe(true);
        expect(isTopicRefusal(error), String(error)).toBe(false);
        expect((await admin.endOffsets(topic))[0]?.high).toBe(0n);
        await producer.send([{ topic, key: null, value: 'small' }]);
        expect((await admin.endOffsets(topic))[0]?.high).toBe(1n);
      });

      it('a keyless record for a compacted topic is refused for good as INVALID_RECORD: not for its size, not as a topic refusal', async () => {
        // the engine keeps the value of a dead letter refused this way and tries again later (deadLetterWriter)
        const s = new PortSession(harness);
        const topic = await s.topic('conf-compacted', 1, { 'cleanup.policy': 'compact' });
        const producer = await s.producer();
        const outcome = await settle(producer.send([{ topic, key: null, value: 'no key' }]));
        expect(outcome.ok).toBe(false);
        const error = outcome.ok ? undefined : outcome.error;
        expect(protocolType(error), String(error)).toBe('INVALID_RECORD');
        expect(isPermanentSendError(error), String(error)).toBe(true);
        expect(isTopicRefusal(error), String(error)).toBe(false);
        expect(isSizeRefusal(error), String(error)).toBe(false);
        await producer.send([{ topic, key: 'k', value: 'keyed' }]);
        expect((await (await s.admin()).endOffsets(topic))[0]?.high).toBe(1n);
      });
    });

    describe('ConsumerPort: batches', () => {
      it("hands over each partition's records in offset order, key, value, headers and timestamp intact", async () => {
        const s = new PortSession(harness);
        const topic = await s.topic('conf-batch', 2);
        const producer = await s.producer();
        const sent: OutgoingRecord[] = [
          {
            topic,
            partition: 0,
            key: 'k1',
            value: 'v1',
            headers: { 'h-text': 'text', 'h-bytes': Buffer.from([0, 1, 2, 255]), 'h-multi': ['a', 'b'] },
          },
          { topic, partition: 0, key: null, value: 'no key' },
          { topic, partition: 0, key: 'tombstone', value: null },
          { topic, partition: 0, key: Buffer.from([9, 8, 255]), value: Buffer.from([0, 255, 0]) },
          { topic, partition: 0, key: '', value: '' },
          { topic, partition: 1, key: 'k2', value: 'p1-0' },
          { topic, partition: 1, key: 'k2', value: 'p1-1' },
        ];
        const before = Date.now();
        await producer.send(sent.slice(0, 3));
        await producer.send(sent.slice(3));
        const probe = await s.consumer({ groupId: s.name('conf-batch'), topics: [topic], fromBeginning: true });
        await waitFor(
          () => probe.valuesOf(topic, 0).length >= 5 && probe.valuesOf(topic, 1).length >= 2,
          'the records written before the consumer started',
        );
        // and one written while it runs
        await producer.send([{ topic, partition: 1, key: 'k2', value: 'p1-2' }]);
        await waitFor(() => probe.hasValue(topic, 1, 'p1-2'), 'the record written while consuming');
        const after = Date.now();
        expect(probe.scriptErrors).toEqual([]);

        for (const [partition, count] of [
          [0, 5],
          [1, 3],
        ] as const) {
          const batches = probe.batchesOf(topic, partition);
          expect(batches.flatMap(offsetsOf), `partition ${partition}: every offset once, in order`).toEqual(
            range(0, count),
          );
          for (const batch of batches) {
            expect(batch.records.length).toBeGreaterThan(0);
            const last = batch.records.at(-1) as ConsumedRecord;
            expect(batch.endOffset).toBe(last.offset + 1n);
            expect(batch.highWatermark).toBeGreaterThanOrEqual(batch.endOffset);
            expect(batch.highWatermark).toBeLessThanOrEqual(BigInt(count));
          }
        }
        // nothing else was written to partition 0: each of its batches saw the same high watermark
        expect(probe.batchesOf(topic, 0).map((b) => b.highWatermark)).toEqual(probe.batchesOf(topic, 0).map(() => 5n));

        const records = probe.batchesOf(topic, 0).flatMap((b) => b.records);
        const [r0, r1, r2, r3, r4] = records;
        expect(r0?.key?.toString()).toBe('k1');
        expect(r0?.value?.toString()).toBe('v1');
        expect(Object.keys(r0?.headers ?? {}).sort()).toEqual(['h-bytes', 'h-multi', 'h-text']);
        expect(headerText(r0?.headers['h-text'])).toBe('text');
        expect(bytesOf(r0?.headers['h-bytes'])).toEqual(Buffer.from([0, 1, 2, 255]));
        expect(headerText(r0?.headers['h-multi'])).toEqual(['a', 'b']);
        expect(r1?.key).toBeNull();
        expect(r1?.value?.toString()).toBe('no key');
        expect(r1?.headers).toEqual({});
        expect(r2?.key?.toString()).toBe('tombstone');
        expect(r2?.value).toBeNull();
        expect(r3?.key).toEqual(Buffer.from([9, 8, 255]));
        expect(r3?.value).toEqual(Buffer.from([0, 255, 0]));
        expect(r4?.key).toEqual(Buffer.alloc(0));
        expect(r4?.value).toEqual(Buffer.alloc(0));
        for (const r of [...records, ...probe.batchesOf(topic, 1).flatMap((b) => b.records)]) {
          expect(r.timestamp).toMatch(/^\d+$/);
          expect(Number(r.timestamp)).toBeGreaterThanOrEqual(before - TIMESTAMP_TOLERANCE_MS);
          expect(Number(r.timestamp)).toBeLessThanOrEqual(after + TIMESTAMP_TOLERANCE_MS);
        }
        expect(texts(probe.batchesOf(topic, 1).flatMap((b) => b.records))).toEqual(['p1-0', 'p1-1', 'p1-2']);
      });

      it('advanceTo moves the fetch position: without it the batch comes again, past it records are skipped', async () => {
        const s = new PortSession(harness);
        const topic = await s.topic('conf-advance', 1);
        const producer = await s.producer();
        await producer.send(Array.from({ length: 10 }, (_, i) => ({ topic, key: null, value: `r${i}` })));
        // what each handler call does with its batch; after the plan, advance to the end
        const plan: ((batch: PartitionBatch) => bigint | undefined)[] = [
          () => undefined, // no advanceTo: the same batch comes again
          (batch) => (batch.records[0] as ConsumedRecord).offset, // back where it started: again
          () => 3n, // part of the batch: the next one starts at 3
          () => 7n, // 3..6 were handed over but are skipped: the next one starts at 7
        ];
        let calls = 0;
        const probe = await s.consumer({
          groupId: s.name('conf-advance'),
          topics: [topic],
          fromBeginning: true,
          onBatch: (batch, control) => {
            const next = calls < plan.length ? plan[calls]?.(batch) : batch.endOffset;
            calls++;
            if (next !== undefined) control.advanceTo(next);
          },
        });
        await waitFor(() => probe.hasValue(topic, 0, 'r9') && probe.batches.length > plan.length, 'r9 after the plan');
        await producer.send([{ topic, key: null, value: 'late' }]);
        await waitFor(() => probe.hasValue(topic, 0, 'late'), 'the record written after the plan');
        const batches = probe.batchesOf(topic, 0);
        expect(batches.slice(0, 5).map((b) => b.records[0]?.offset)).toEqual([0n, 0n, 0n, 3n, 7n]);
        expect(offsetsOf(batches[1] as PartitionBatch)).toEqual(offsetsOf(batches[0] as PartitionBatch));
        // after the plan every batch starts where the one before ended, up to the late record
        const rest = batches.slice(4);
        for (let i = 1; i < rest.length; i++) {
          expect(rest[i]?.records[0]?.offset).toBe(rest[i - 1]?.endOffset);
        }
        expect(rest.flatMap(offsetsOf)).toEqual(range(7, 11));
        expect(probe.scriptErrors).toEqual([]);
      });

      it("the handler's promise holds the next fetch of its partition", async () => {
        const s = new PortSession(harness);
        const topic = await s.topic('conf-hold', 1);
        const producer = await s.producer();
        await producer.send([
          { topic, key: null, value: 'first-0' },
          { topic, key: null, value: 'first-1' },
        ]);
        const held = gate();
        let running = 0;
        let mostRunning = 0;
        const probe = await s.consumer({
          groupId: s.name('conf-hold'),
          topics: [topic],
          fromBeginning: true,
          onBatch: async (batch, control) => {
            running++;
            mostRunning = Math.max(mostRunning, running);
            try {
              if (batch.records.some((r) => r.value?.toString() === 'first-0')) await held.promise;
              control.advanceTo(batch.endOffset);
            } finally {
              running--;
            }
          },
        });
        await waitFor(() => probe.batches.length >= 1, 'the first batch');
        await producer.send([
          { topic, key: null, value: 'later-2' },
          { topic, key: null, value: 'later-3' },
        ]);
        await sleep(s.quietMs);
        expect(probe.batches.length, 'batches handed over while the first is held').toBe(1);
        held.open();
        await waitFor(() => probe.hasValue(topic, 0, 'later-3'), 'the records written while the handler held');
        const batches = probe.batchesOf(topic, 0);
        expect(batches[1]?.records[0]?.offset).toBe(batches[0]?.endOffset);
        expect(batches.flatMap(offsetsOf)).toEqual(range(0, 4));
        expect(mostRunning).toBe(1);
      });

      describe('maxBytes: what one fetch brings from a broker, all partitions together', () => {
        const perPartition = 200;
        const maxBytes = 30_000;
        // far above maxBytes: only maxBytes can keep a fetch of this backlog small
        const consumerOptions = { maxBytes, maxBytesPerPartition: 1_048_576 };
        const valueBytes = (batch: PartitionBatch) => batch.records.reduce((n, r) => n + (r.value?.length ?? 0), 0);

        /** 3 partitions of 200 records of 500 bytes, written 20 per partition per send: record batches of ~10 KB. */
        async function backlog(s: PortSession, prefix: string): Promise<string> {
          const topic = await s.topic(prefix, 3);
          const producer = await s.producer();
          for (let from = 0; from < perPartition; from += 20) {
            const records: OutgoingRecord[] = [];
            for (let partition = 0; partition < 3; partition++) {
              for (let i = from; i < from + 20; i++) {
                records.push({ topic, partition, key: null, value: `${partition}-${i}-`.padEnd(500, 'x') });
              }
            }
            await producer.send(records);
          }
          return topic;
        }

        async function consumeAll(s: PortSession, topic: string) {
          const probe = await s.consumer({
            groupId: s.name('conf-max-bytes'),
            topics: [topic],
            fromBeginning: true,
            consumerOptions,
          });
          await waitFor(
            () => [0, 1, 2].every((p) => probe.valuesOf(topic, p).length >= perPartition),
            'every record of the 3 partitions',
          );
          expect(probe.scriptErrors).toEqual([]);
          for (const partition of [0, 1, 2]) {
            expect(probe.batchesOf(topic, partition).flatMap(offsetsOf), `partition ${partition}`).toEqual(
              range(0, perPartition),
            );
          }
          return probe.batches.filter((b) => b.batch.topic === topic).map((b) => b.batch);
        }

        it('no batch brings more than maxBytes, whatever maxBytesPerPartition allows', async () => {
          const s = new PortSession(harness);
          const topic = await backlog(s, 'conf-max-bytes');
          const batches = await consumeAll(s, topic);
          // 100 KB per partition were waiting: a fetch of maxBytesPerPartition would have brought each whole
          for (const batch of batches) {
            expect(valueBytes(batch), `a batch of partition ${batch.partition}`).toBeLessThanOrEqual(maxBytes);
          }
          expect(batches.length).toBeGreaterThanOrEqual((3 * perPartition * 500) / maxBytes);
        });

        it('without maxBytes, a maxBytesPerPartition above 1 MiB is honoured: a batch may bring more than 1 MiB', async () => {
          const s = new PortSession(harness);
          const topic = await s.topic('conf-max-bytes-default', 1);
          const producer = await s.producer();
          // 3 MiB in one partition, in record batches of ~100 KB
          const value = 'x'.repeat(1024);
          for (let from = 0; from < 3 * 1024; from += 100) {
            await producer.send(Array.from({ length: 100 }, () => ({ topic, partition: 0, key: null, value })));
          }
          const probe = await s.consumer({
            groupId: s.name('conf-max-bytes-default'),
            topics: [topic],
            fromBeginning: true,
            consumerOptions: { maxBytesPerPartition: 4 * 1_048_576 },
          });
          await waitFor(() => probe.valuesOf(topic, 0).length >= 3 * 1024, 'the 3 MiB');
          expect(probe.scriptErrors).toEqual([]);
          const largest = Math.max(...probe.batchesOf(topic, 0).map(valueBytes));
          expect(largest, 'the largest batch, in bytes').toBeGreaterThan(1_048_576);
        });

        it.skipIf(harness.fairFetches === false)(
          'every partition with a backlog gets its turn: none waits until another is drained',
          async () => {
            const s = new PortSession(harness);
            const topic = await backlog(s, 'conf-max-bytes-fair');
            const batches = await consumeAll(s, topic);
            // the first batch after which a partition has had all its records
            const had = new Map<number, number>();
            const drained = batches.findIndex((b) => {
              had.set(b.partition, (had.get(b.partition) ?? 0) + b.records.length);
              return (had.get(b.partition) ?? 0) >= perPartition;
            });
            const firstOf = [0, 1, 2].map((p) => batches.findIndex((b) => b.partition === p));
            expect(
              firstOf.every((i) => i < drained),
              `first batches ${firstOf}, a partition drained at ${drained}`,
            ).toBe(true);
          },
        );
      });

      it('shouldContinue() is true while consuming and turns false once the consumer is stopping', async () => {
        const s = new PortSession(harness);
        const topic = await s.topic('conf-continue', 1);
        const producer = await s.producer();
        await producer.send([{ topic, key: null, value: 'held' }]);
        const held = gate();
        let control: BatchControl | undefined;
        const probe = await s.consumer({
          groupId: s.name('conf-continue'),
          topics: [topic],
          fromBeginning: true,
          onBatch: async (batch, c) => {
            control = c;
            await held.promise;
            c.advanceTo(batch.endOffset);
          },
        });
        await waitFor(() => control !== undefined, 'the batch');
        expect(control?.shouldContinue()).toBe(true);
        const disconnected = settle(probe.consumer.disconnect());
        await waitFor(() => control?.shouldContinue() === false, 'shouldContinue() false while disconnecting');
        held.open();
        expect((await disconnected).ok).toBe(true);
      });
    });

    describe('ConsumerPort: commits', () => {
      it('commit is the next offset to read: committedOffsets shows it, a new member starts there; refused unless running', async () => {
        const s = new PortSession(harness);
        const topic = await s.topic('conf-commit', 2);
        const producer = await s.producer();
        await producer.send([
          ...Array.from({ length: 5 }, (_, i) => ({ topic, partition: 0, key: null, value: `p0-${i}` })),
          ...Array.from({ length: 3 }, (_, i) => ({ topic, partition: 1, key: null, value: `p1-${i}` })),
        ]);
        const admin = await s.admin();
        const groupId = s.name('conf-commit');
        let beforeJoin: Awaited<ReturnType<typeof settle>> | undefined;
        const first = await s.consumer({
          groupId,
          topics: [topic],
          fromBeginning: true,
          beforeRun: async (consumer) => {
            beforeJoin = await settle(consumer.commit([{ topic, partition: 0, offset: 4n }]));
          },
        });
        expect(beforeJoin?.ok, 'a commit before the consumer joined its group').toBe(false);
        await waitFor(() => probe8(first), 'all 8 records');
        expect((await admin.committedOffsets(groupId, topic)).size, 'nothing committed yet').toBe(0);

        await first.consumer.commit([{ topic, partition: 1, offset: 2n }]);
        expect([...(await admin.committedOffsets(groupId, topic))]).toEqual([[1, 2n]]);
        await first.consumer.commit([{ topic, partition: 0, offset: 3n }]);
        expect([...(await admin.committedOffsets(groupId, topic))].sort()).toEqual([
          [0, 3n],
          [1, 2n],
        ]);

        await first.consumer.disconnect();
        const afterDisconnect = await settle(first.consumer.commit([{ topic, partition: 0, offset: 5n }]));
        expect(afterDisconnect.ok, 'a commit after disconnect').toBe(false);
        expect((await admin.committedOffsets(groupId, topic)).get(0)).toBe(3n);

        // fromBeginning does not matter once the group has commits
        const second = await s.consumer({ groupId, topics: [topic], fromBeginning: true }, harness.client());
        await waitFor(
          () => second.valuesOf(topic, 0).length >= 2 && second.valuesOf(topic, 1).length >= 1,
          'the second member reading from the commits',
        );
        expect(second.batchesOf(topic, 0)[0]?.records[0]?.offset).toBe(3n);
        expect(second.batchesOf(topic, 1)[0]?.records[0]?.offset).toBe(2n);
        expect(second.valuesOf(topic, 0)).toEqual(['p0-3', 'p0-4']);
        expect(second.valuesOf(topic, 1)).toEqual(['p1-2']);

        function probe8(p: ConsumerProbe): boolean {
          return p.valuesOf(topic, 0).length >= 5 && p.valuesOf(topic, 1).length >= 3;
        }
      });

      it('a rebalance timeout below the session timeout is accepted, as Kafka accepts it: the member joins and reads', async () => {
        const s = new PortSession(harness);
        const topic = await s.topic('conf-timeouts', 1);
        await (await s.producer()).send([{ topic, key: null, value: 'read me' }]);
        const groupId = s.name('conf-timeouts');
        const probe = new ConsumerProbe(
          s.client.consumer({ groupId, ...SUITE_CONSUMER_TIMING, sessionTimeoutMs: 6_000, rebalanceTimeoutMs: 3_000 }),
          { groupId, topics: [topic], fromBeginning: true },
        );
        onTestFinished(() => probe.consumer.disconnect().catch(() => {}));
        await probe.start();
        await waitFor(() => probe.valuesOf(topic, 0).length === 1, 'the record');
        expect(probe.valuesOf(topic, 0)).toEqual(['read me']);
      });

      it('fromBeginning false: a group without commits starts at the end, fromBeginning true at the start', async () => {
        const s = new PortSession(harness);
        const topic = await s.topic('conf-latest', 1);
        const producer = await s.producer();
        await producer.send(Array.from({ length: 3 }, (_, i) => ({ topic, key: null, value: `old-${i}` })));
        const latest = await s.consumer({ groupId: s.name('conf-latest'), topics: [topic], fromBeginning: false });
        await latest.waitForAssignment();
        // the client may look up the end a little after the assignment: write until a record arrives
        for (let i = 0; latest.batches.length === 0; i++) {
          if (i * 200 > WAIT_MS) throw new Error('no record arrived for the latest-offset consumer');
          await producer.send([{ topic, key: null, value: `new-${i}` }]);
          await sleep(200);
        }
        const values = latest.valuesOf(topic, 0);
        expect(values.filter((v) => v.startsWith('old-'))).toEqual([]);
        expect(latest.batches[0]?.batch.records[0]?.offset).toBeGreaterThanOrEqual(3n);
        const earliest = await s.consumer({ groupId: s.name('conf-earliest'), topics: [topic], fromBeginning: true });
        await waitFor(() => earliest.valuesOf(topic, 0).length >= 3, 'the old records');
        expect(earliest.valuesOf(topic, 0).slice(0, 3)).toEqual(['old-0', 'old-1', 'old-2']);
      });
    });

    describe('ConsumerPort: pause and resume', () => {
      it('a paused partition gets no batch while the others do; resume delivers it again', async () => {
        const s = new PortSession(harness);
        const topic = await s.topic('conf-pause', 2);
        const producer = await s.producer();
        const probe = await s.consumer({ groupId: s.name('conf-pause'), topics: [topic], fromBeginning: true });
        await probe.waitForAssignment('both partitions', (tps) => tps.length === 2);
        await producer.send([
          { topic, partition: 0, key: null, value: 'warm-0' },
          { topic, partition: 1, key: null, value: 'warm-1' },
        ]);
        await waitFor(
          () => probe.hasValue(topic, 0, 'warm-0') && probe.hasValue(topic, 1, 'warm-1'),
          'both partitions consuming',
        );
        const pausedAt = nextSeq();
        probe.consumer.pause([{ topic, partition: 0 }]);
        await producer.send([{ topic, partition: 0, key: null, value: 'held-0' }]);
        await producer.send([{ topic, partition: 1, key: null, value: 'flowing-1' }]);
        await waitFor(() => probe.hasValue(topic, 1, 'flowing-1'), 'the unpaused partition');
        await sleep(s.quietMs);
        expect(probe.batchesOf(topic, 0, pausedAt), 'batches of the paused partition').toEqual([]);
        probe.consumer.resume([{ topic, partition: 0 }]);
        await waitFor(() => probe.hasValue(topic, 0, 'held-0'), 'the resumed partition');
        expect(probe.valuesOf(topic, 0)).toEqual(['warm-0', 'held-0']);
      });

      it('pauses re-applied in onAssigned hold across a rebalance; a partition resumed when revoked flows when it returns', async () => {
        const s = new PortSession(harness);
        const topic = await s.topic('conf-pause-rebalance', 2);
        const groupId = s.name('conf-pause-rebalance');
        const producer = await s.producer();
        // what the engine does (partitionParking.assigned): pause again what it still owns, resume what it lost
        const paused = new Map<string, TopicPartition>();
        const reapply = (assignment: readonly TopicPartition[], consumer: ConsumerPort) => {
          const owned = new Set(assignment.map(tpKey));
          for (const [key, tp] of [...paused]) {
            if (owned.has(key)) consumer.pause([tp]);
            else {
              paused.delete(key);
              consumer.resume([tp]);
            }
          }
        };
        const a = await s.consumer({
          groupId,
          topics: [topic],
          fromBeginning: true,
          onAssigned: (event, consumer) => reapply(event.assignment, consumer),
        });
        await a.waitForAssignment('both partitions', (tps) => tps.length === 2);
        await producer.send([0, 1].map((partition) => ({ topic, partition, key: null, value: `warm-${partition}` })));
        await waitFor(() => a.hasValue(topic, 0, 'warm-0') && a.hasValue(topic, 1, 'warm-1'), 'a consuming');
        const pausedAt = nextSeq();
        const both = [0, 1].map((partition) => ({ topic, partition }));
        for (const tp of both) paused.set(tpKey(tp), tp);
        a.consumer.pause(both);

        const b = await s.consumer({ groupId, topics: [topic], fromBeginning: true }, harness.client());
        await waitFor(
          () => a.assignment?.length === 1 && b.assignment?.length === 1,
          'the partitions split between a and b',
          { state: () => JSON.stringify({ a: a.assignment, b: b.assignment }) },
        );
        const kept = (a.assignment as TopicPartition[])[0] as TopicPartition;
        const lost = (b.assignment as TopicPartition[])[0] as TopicPartition;
        expect(kept.partition).not.toBe(lost.partition);
        await producer.send([{ ...lost, key: null, value: 'for-b' }]);
        await producer.send([{ ...kept, key: null, value: 'held' }]);
        await waitFor(() => b.hasValue(topic, lost.partition, 'for-b'), 'b reading the partition a lost');
        await sleep(s.quietMs);
        expect(
          a.batches.filter((x) => x.seq > pausedAt).map((x) => tpKey(x.batch)),
          'batches a got while its partitions were paused',
        ).toEqual([]);

        // b leaves: the partition comes back to a, which resumed it when it was revoked
        await b.consumer.disconnect();
        await a.waitForAssignment('both partitions again', (tps) => tps.length === 2);
        await waitFor(() => a.hasValue(topic, lost.partition, 'for-b'), 'a reading the returned partition');
        await sleep(s.quietMs);
        expect(a.batchesOf(topic, kept.partition, pausedAt), 'batches of the partition still paused').toEqual([]);
        a.consumer.resume([kept]);
        paused.delete(tpKey(kept));
        await waitFor(() => a.hasValue(topic, kept.partition, 'held'), 'the resumed partition');
      });
    });

    describe('ConsumerPort: group membership', () => {
      it('two members split the partitions, no overlap, full coverage; when one leaves the other gets them back; onRebalancing first', async () => {
        const s = new PortSession(harness);
        const topic = await s.topic('conf-group', 4);
        const groupId = s.name('conf-group');
        const all = [0, 1, 2, 3].map((partition) => tpKey({ topic, partition }));
        const a = await s.consumer({ groupId, topics: [topic], fromBeginning: true });
        await a.waitForAssignment('all four partitions', (tps) => tps.length === 4);
        expect(sortedAssignment(a.assignment)).toEqual(all);
        const aMember = a.assignments[0]?.event.memberId;
        expect(aMember).toEqual(expect.any(String));
        expect(aMember).not.toBe('');

        const b = await s.consumer({ groupId, topics: [topic], fromBeginning: true }, harness.client());
        await waitFor(
          () => b.assignment !== undefined && a.assignments.length >= 2 && (a.assignment?.length ?? 0) < 4,
          'the partitions split',
          { state: () => JSON.stringify({ a: a.assignment, b: b.assignment }) },
        );
        const [aSplit, bSplit] = [sortedAssignment(a.assignment), sortedAssignment(b.assignment)];
        expect(aSplit.length).toBeGreaterThan(0);
        expect(bSplit.length).toBeGreaterThan(0);
        expect(
          aSplit.filter((k) => bSplit.includes(k)),
          'overlap',
        ).toEqual([]);
        expect([...aSplit, ...bSplit].sort()).toEqual(all);
        expect(b.assignments[0]?.event.memberId).not.toBe(aMember);
        // a heard of the rebalance before it lost partitions, and before b got them (a busy broker may have had a
        // rejoin a first time before b came: look at the assignment that split the partitions, not simply the second)
        const split = a.assignments.findIndex((x) => x.event.assignment.length < 4);
        const aSecond = a.assignments[split]?.seq ?? 0;
        const aBefore = a.assignments[split - 1]?.seq ?? 0;
        const warned = a.rebalancings.filter((seq) => seq > aBefore && seq < aSecond);
        expect(warned.length, 'onRebalancing between the first and second assignment of a').toBeGreaterThan(0);
        expect(Math.min(...warned)).toBeLessThan(b.assignments[0]?.seq ?? 0);

        // each partition's records go to its owner only
        await (await s.producer()).send(
          [0, 1, 2, 3].map((partition) => ({ topic, partition, key: null, value: `split-${partition}` })),
        );
        const owner = (partition: number) => (aSplit.includes(tpKey({ topic, partition })) ? a : b);
        const other = (partition: number) => (owner(partition) === a ? b : a);
        await waitFor(
          () => [0, 1, 2, 3].every((p) => owner(p).hasValue(topic, p, `split-${p}`)),
          'every partition read by its owner',
        );
        for (const p of [0, 1, 2, 3]) expect(other(p).hasValue(topic, p, `split-${p}`), `partition ${p}`).toBe(false);

        const splitSeq = a.assignments.at(-1)?.seq ?? 0;
        await b.consumer.disconnect();
        await a.waitForAssignment('all four partitions again', (tps) => tps.length === 4);
        expect(sortedAssignment(a.assignment)).toEqual(all);
        const lastSeq = a.assignments.at(-1)?.seq ?? 0;
        expect(
          a.rebalancings.some((seq) => seq > splitSeq && seq < lastSeq),
          'onRebalancing before the return',
        ).toBe(true);
        expect(a.scriptErrors).toEqual([]);
      });

      it("a commit made when onRebalancing fires counts: the partition's next owner starts there", async () => {
        const s = new PortSession(harness);
        const topic = await s.topic('conf-rebalance-commit', 2);
        const groupId = s.name('conf-rebalance-commit');
        const producer = await s.producer();
        await producer.send(
          [0, 1].flatMap((partition) =>
            [0, 1, 2].map((i) => ({ topic, partition, key: null, value: `old-${partition}-${i}` })),
          ),
        );
        // what the engine does: consume without committing, commit what is finished when the group rebalances
        const finished = new Map<number, bigint>();
        const commits: Promise<Awaited<ReturnType<typeof settle>>>[] = [];
        const a = await s.consumer({
          groupId,
          topics: [topic],
          fromBeginning: true,
          onBatch: (batch, control) => {
            finished.set(batch.partition, batch.endOffset);
            control.advanceTo(batch.endOffset);
          },
          onRebalancing: (consumer) => {
            const offsets = [...finished].map(([partition, offset]) => ({ topic, partition, offset }));
            commits.push(settle(consumer.commit(offsets)));
          },
        });
        await waitFor(() => a.valuesOf(topic, 0).length >= 3 && a.valuesOf(topic, 1).length >= 3, 'a reading all');
        const b = await s.consumer({ groupId, topics: [topic], fromBeginning: true }, harness.client());
        await waitFor(() => a.assignment?.length === 1 && b.assignment?.length === 1, 'the partitions split', {
          state: () => JSON.stringify({ a: a.assignment, b: b.assignment }),
        });
        const moved = ((b.assignment as TopicPartition[])[0] as TopicPartition).partition;
        await producer.send([{ topic, partition: moved, key: null, value: 'fresh' }]);
        await waitFor(() => b.hasValue(topic, moved, 'fresh'), 'b reading the partition it got');
        expect(commits.length, 'onRebalancing fired').toBeGreaterThan(0);
        const outcome = await commits[0];
        expect(outcome?.ok, String(outcome?.ok === false ? outcome.error : '')).toBe(true);
        expect(b.batchesOf(topic, moved)[0]?.records[0]?.offset, 'where b started').toBe(3n);
        expect(b.valuesOf(topic, moved)).toEqual(['fresh']);
        // that commit must not make the group rebalance again: one join of b, one rebalance, settled for good
        await sleep(10 * SUITE_CONSUMER_TIMING.heartbeatIntervalMs);
        const joins = JSON.stringify({
          a: a.assignments.length,
          b: b.assignments.length,
          rebalancings: a.rebalancings,
        });
        expect(a.rebalancings.length, joins).toBe(1);
        expect(a.assignments.length, joins).toBe(2);
        expect(b.assignments.length, joins).toBe(1);
      });

      it('heartbeat() rejects while the group rebalances, so a handler that waits can let go', async () => {
        const s = new PortSession(harness);
        const topic = await s.topic('conf-heartbeat', 2);
        const groupId = s.name('conf-heartbeat');
        await (await s.producer()).send(
          [0, 1].map((partition) => ({ topic, partition, key: null, value: `r-${partition}` })),
        );
        let waiting = false;
        let heartbeatError: unknown;
        const a = await s.consumer({
          groupId,
          topics: [topic],
          fromBeginning: true,
          onBatch: async (batch, control) => {
            if (heartbeatError === undefined) {
              // the engine's wait for credits: heartbeat while waiting, let the rebalance error propagate
              waiting = true;
              const until = Date.now() + WAIT_MS;
              while (Date.now() < until) {
                await sleep(100);
                try {
                  await control.heartbeat();
                } catch (error) {
                  heartbeatError = error;
                  throw error;
                }
              }
            }
            control.advanceTo(batch.endOffset);
          },
        });
        await waitFor(() => waiting, 'a waiting in its handler');
        const b = await s.consumer({ groupId, topics: [topic], fromBeginning: true }, harness.client());
        await waitFor(() => heartbeatError !== undefined, 'heartbeat() to reject');
        expect(heartbeatError).toBeInstanceOf(Error);
        await waitFor(() => a.assignment?.length === 1 && b.assignment?.length === 1, 'the partitions split', {
          state: () => JSON.stringify({ a: a.assignment, b: b.assignment }),
        });
      });
    });
  });
}
