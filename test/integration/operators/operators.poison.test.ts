/**
 * The poison-stream test on the real broker: 10,000 valid keyed records with 200 poison records mixed in
 * (malformed JSON, schema violations, tombstones, 1 MB values) through parseJson → validate → branchToDeadLetter → publish.
 */
import { Writable } from 'node:stream';
import { Partitioners } from 'kafkajs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import {
  branchToDeadLetter,
  DEAD_LETTER_HEADERS,
  definePipeline,
  parseJson,
  publish,
  readIntegerHeader,
  validate,
} from '../../../src/index.js';
import { noopObserver } from '../../../src/instrumentation.js';
import { eventually, testEngine } from '../../support/engine.js';
import {
  collect,
  committedOffsets,
  consume,
  createTopic,
  testAdmin,
  testKafka,
  uniqueName,
} from '../../support/kafka.js';

type PoisonKind = 'malformed' | 'schema' | 'tombstone' | 'oversize';

interface Planned {
  key: string;
  value: string | null;
  headers: Record<string, string>;
  /** Set on poison records. */
  poison?: PoisonKind;
  /** Set on valid records: their place in their key's sequence. */
  seq?: number;
}

const VALID = 10_000;
const KEYS = 50;
const POISON: readonly [PoisonKind, number][] = [
  ['malformed', 65],
  ['schema', 65],
  ['tombstone', 65],
  ['oversize', 5],
];
const ONE_MB = 1_000_000; // fits the broker's default max.message.bytes (1048588) with headers; parseJson gets maxBytes 100_000

/** 10,000 valid records (50 keys, a sequence per key) with the poison spread evenly among them. */
function plan(): Planned[] {
  const poison: PoisonKind[] = [];
  const remaining = new Map(POISON);
  // interleave the kinds so each appears all along the stream
  while ([...remaining.values()].some((n) => n > 0)) {
    for (const [kind, n] of remaining) {
      if (n > 0) {
        poison.push(kind);
        remaining.set(kind, n - 1);
      }
    }
  }
  const total = VALID + poison.length;
  const every = Math.floor(total / poison.length);
  const seqs = new Map<string, number>();
  const records: Planned[] = [];
  let p = 0;
  for (let i = 0; i < total; i++) {
    const key = `key-${i % KEYS}`;
    const kind = i % every === every - 1 ? poison[p] : undefined;
    if (kind !== undefined) {
      const id = `poison-${p++}`;
      const headers = { 'correlation-id': id, 'poison-kind': kind };
      if (kind === 'malformed') records.push({ key, value: `{"key":"${key}","seq":`, headers, poison: kind });
      if (kind === 'schema') records.push({ key, value: JSON.stringify({ key, seq: 'seven' }), headers, poison: kind });
      if (kind === 'tombstone') records.push({ key, value: null, headers, poison: kind });
      if (kind === 'oversize') {
        const padding = 'x'.repeat(ONE_MB - JSON.stringify({ key, seq: 0, pad: '' }).length);
        records.push({ key, value: JSON.stringify({ key, seq: 0, pad: padding }), headers, poison: kind });
      }
      continue;
    }
    const seq = seqs.get(key) ?? 0;
    seqs.set(key, seq + 1);
    records.push({ key, value: JSON.stringify({ key, seq }), headers: { 'correlation-id': `v-${key}-${seq}` }, seq });
  }
  return records;
}

/** Produces in order: small records in batches, each 1 MB record in a request of its own. */
async function produceInOrder(topic: string, records: readonly Planned[]): Promise<void> {
  const producer = testKafka('tributary-test-producer').producer({
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    let batch: Planned[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      await producer.send({
        topic,
        acks: -1,
        messages: batch.map(({ key, value, headers }) => ({ key, value, headers })),
      });
      batch = [];
    };
    for (const record of records) {
      if (record.poison === 'oversize') {
        await flush();
        batch.push(record);
        await flush();
      } else {
        batch.push(record);
        if (batch.length >= 500) await flush();
      }
    }
    await flush();
  } finally {
    await producer.disconnect();
  }
}

const Reading = z.object({ key: z.string(), seq: z.number().int().nonnegative() });

describe('a stream with poison records mixed in', () => {
  it('publishes every valid record in per-key order, dead-letters every poison record, commits to the end, never stops', async () => {
    const input = await createTopic('poison-in', 3);
    const output = await createTopic('poison-out', 3);
    // default max.message.bytes: ~1 MB dead letters must still fit, one per request
    const dlq = await createTopic('poison-dlq', 1);
    const records = plan();
    expect(records).toHaveLength(10_200);
    await produceInOrder(input, records);

    // error-level logs, to show the chain never crashed; group joins, to show it never restarted
    const errors: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'error' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) errors.push(JSON.parse(line));
          done();
        },
      }),
    );
    let joins = 0;
    const groupId = uniqueName('poison-group');
    const out = await collect(output);
    const dead = await collect(dlq);
    const engine = testEngine({
      logger,
      observer: { ...noopObserver, assigned: () => joins++ },
      pipelines: [
        definePipeline({
          name: uniqueName('poison'),
          source: { topics: [input], groupId },
          deadLetter: { topic: dlq },
          ordering: 'key',
          maxInFlight: 2000,
          build: (stream) =>
            stream.pipe(
              parseJson({ maxBytes: 100_000 }),
              validate(Reading, { name: 'reading.validate' }),
              branchToDeadLetter(),
              publish(output),
            ),
        }),
      ],
    });
    const started = performance.now();
    await engine.start();
    let sawStopped = false;
    await eventually(
      () => {
        if (engine.status().pipelines[0]?.state !== 'running') sawStopped = true;
        return out.records.length >= VALID && dead.records.length >= 200;
      },
      '10,000 published and 200 dead-lettered',
      90_000,
    );
    const processedMs = Math.round(performance.now() - started);

    // committed offsets reach the end of every partition
    const ends = await (await testAdmin()).fetchTopicOffsets(input);
    await eventually(async () => {
      const committed = await committedOffsets(groupId, input);
      return ends.every((end) => committed.get(end.partition) === BigInt(end.high));
    }, 'commits at the end of every partition');
    expect(ends.reduce((n, end) => n + Number(end.high), 0)).toBe(10_200);
    await new Promise((done) => setTimeout(done, 1000)); // room for a duplicate to show up
    expect(engine.status().pipelines[0]?.state).toBe('running');
    expect(sawStopped).toBe(false);
    expect(joins).toBe(1);
    expect(errors.filter((e) => String(e.msg).includes('crashed'))).toEqual([]);

    // every valid record exactly once, each key in order
    expect(out.records).toHaveLength(VALID);
    const lastSeq = new Map<string, number>();
    for (const r of out.records) {
      const { key, seq } = JSON.parse(r.value ?? '{}') as { key: string; seq: number };
      expect(seq, `order of ${key}`).toBe((lastSeq.get(key) ?? -1) + 1);
      expect(r.key).toBe(key);
      lastSeq.set(key, seq);
    }
    expect(lastSeq.size).toBe(KEYS);
    expect([...lastSeq.values()].reduce((n, last) => n + last + 1, 0)).toBe(VALID);

    // every poison record once in the dead-letter topic, with its stage, code and original coordinates
    expect(dead.records).toHaveLength(200);
    const inputRecords = await consume(input, 10_200, { timeoutMs: 60_000 });
    const positions = new Map(
      inputRecords
        .filter((r) => r.headers['poison-kind'] !== undefined)
        .map((r) => [r.headers['correlation-id'], { partition: r.partition, offset: r.offset, value: r.value }]),
    );
    const expected: Record<PoisonKind, { stage: string; code: string; message: RegExp }> = {
      malformed: { stage: 'parseJson', code: 'TRIBUTARY_ERR_PARSE', message: /^malformed JSON: / },
      tombstone: { stage: 'parseJson', code: 'TRIBUTARY_ERR_PARSE', message: /^tombstone \(null value\)$/ },
      oversize: {
        stage: 'parseJson',
        code: 'TRIBUTARY_ERR_PARSE',
        message: /^value of 1000000 bytes exceeds maxBytes 100000$/,
      },
      schema: {
        stage: 'reading.validate',
        code: 'TRIBUTARY_ERR_VALIDATION',
        message: /^seq: Invalid input: expected number, received string$/,
      },
    };
    const seen = new Set<string>();
    for (const d of dead.records) {
      const id = d.headers['correlation-id'] ?? '';
      expect(seen.has(id), `${id} dead-lettered twice`).toBe(false);
      seen.add(id);
      const kind = d.headers['poison-kind'] as PoisonKind;
      const want = expected[kind];
      expect(d.headers[DEAD_LETTER_HEADERS.stage], id).toBe(want.stage);
      expect(d.headers[DEAD_LETTER_HEADERS.errorCode], id).toBe(want.code);
      expect(d.headers[DEAD_LETTER_HEADERS.exceptionFqcn], id).toBe(`TributaryError.${want.code}`);
      expect(d.headers[DEAD_LETTER_HEADERS.exceptionMessage], id).toMatch(want.message);
      expect(d.headers[DEAD_LETTER_HEADERS.originalTopic]).toBe(input);
      expect(d.headers[DEAD_LETTER_HEADERS.originalConsumerGroup]).toBe(groupId);
      expect(d.headers[DEAD_LETTER_HEADERS.attempts]).toBe('0');
      const origin = positions.get(id);
      expect(origin, id).toBeDefined();
      expect(Number(readIntegerHeader(d.rawHeaders[DEAD_LETTER_HEADERS.originalPartition]))).toBe(origin?.partition);
      expect(readIntegerHeader(d.rawHeaders[DEAD_LETTER_HEADERS.originalOffset])).toBe(origin?.offset);
      expect(d.partition).toBe(0);
      if (kind === 'tombstone') expect(d.value).toBeUndefined();
      else expect(d.value, id).toBe(origin?.value);
      if (kind === 'oversize') expect(d.value?.length).toBe(ONE_MB);
    }
    expect(seen.size).toBe(200);
    const counts = new Map<string, number>();
    for (const d of dead.records)
      counts.set(d.headers['poison-kind'] ?? '', (counts.get(d.headers['poison-kind'] ?? '') ?? 0) + 1);
    expect(Object.fromEntries(counts)).toEqual({ malformed: 65, schema: 65, tombstone: 65, oversize: 5 });

    console.error(`[poison] 10,200 records (200 poison, 5 of 1 MB) processed in ${processedMs} ms`);
    await engine.stop();
  }, 120_000);
});
