/**
 * F9/F14 on the real broker: what the dead-letter topic refuses.
 * - A record whose 1.5 MB header makes even the value-less dead-letter record too large for a default-size
 *   dead-letter topic: a minimal dead-letter record arrives and the partition commits to its end.
 * - A record refused for another reason (INVALID_RECORD: a null key on a compacted topic) keeps its value: it is
 *   retried, uncommitted, until the topic accepts it.
 */
import { ConfigResourceTypes } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_HEADERS, definePipeline, parseJson, publish, readIntegerHeader } from '../../../src/index.js';
import { eventually, testEngine } from '../../support/engine.js';
import { captureLogger } from '../../support/envelopes.js';
import {
  collect,
  committedOffsets,
  createTopic,
  expectCommittedToEnd,
  produce,
  testAdmin,
  uniqueName,
} from '../../support/kafka.js';

describe('dead-letter topic refusals', () => {
  it('sends a minimal dead letter when even the value-less record is too large, and commits to the end', async () => {
    const input = await createTopic('dl-size-in', 1, { 'max.message.bytes': '3000000' });
    const output = await createTopic('dl-size-out', 1);
    const dlq = await createTopic('dl-size-dlq', 1); // default max.message.bytes (~1 MB)
    const big = 'h'.repeat(1_500_000);
    await produce(input, [
      { key: 'poison', value: '{not json', headers: { 'correlation-id': 'c-poison', big } },
      ...Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: JSON.stringify({ i }) })),
    ]);

    const groupId = uniqueName('dl-size-group');
    const pipeline = definePipeline({
      name: uniqueName('dl-size'),
      source: { topics: [input], groupId },
      deadLetter: { topic: dlq },
      build: (records) => records.pipe(parseJson<{ i: number }>(), publish(output)),
    });
    const out = await collect(output);
    const dead = await collect(dlq);
    const engine = testEngine({ pipelines: [pipeline] });
    await engine.start();
    await out.waitFor(50, 30_000);
    await dead.waitFor(1, 30_000);
    await eventually(async () => (await committedOffsets(groupId, input)).get(0) === 51n, 'commit to offset 51');
    await engine.stop();
    await expectCommittedToEnd(groupId, [input]);

    expect(dead.records).toHaveLength(1);
    const [letter] = dead.records;
    expect(letter?.value).toBeUndefined(); // no value
    expect(letter?.key).toBe('poison');
    expect(letter?.headers.big).toBeUndefined(); // no original headers
    expect(letter?.headers['correlation-id']).toBe('c-poison');
    expect(letter?.headers[DEAD_LETTER_HEADERS.originalTopic]).toBe(input);
    expect(readIntegerHeader(letter?.rawHeaders[DEAD_LETTER_HEADERS.originalPartition])).toBe(0n);
    expect(readIntegerHeader(letter?.rawHeaders[DEAD_LETTER_HEADERS.originalOffset])).toBe(0n);
    expect(letter?.headers[DEAD_LETTER_HEADERS.originalConsumerGroup]).toBe(groupId);
    expect(letter?.headers[DEAD_LETTER_HEADERS.errorCode]).toBe('TRIBUTARY_ERR_PARSE');
    expect(letter?.headers[DEAD_LETTER_HEADERS.stage]).toBe('parseJson');
    expect(letter?.headers[DEAD_LETTER_HEADERS.pipeline]).toBe(pipeline.name);
    expect(letter?.headers[DEAD_LETTER_HEADERS.exceptionMessage]).toBeTruthy();
    expect(letter?.headers[DEAD_LETTER_HEADERS.headersOmitted]).toMatch(/even without its value.*MESSAGE_TOO_LARGE/);
  });

  it('keeps the value when the topic refuses the record for another reason, retrying until it is accepted', async () => {
    const input = await createTopic('dl-invalid-in', 1);
    // a compacted topic refuses a record without a key: INVALID_RECORD, permanent, but not about size
    const dlq = await createTopic('dl-invalid-dlq', 1, { 'cleanup.policy': 'compact' });
    await produce(input, [{ value: '{not json' }, { value: '{also not json' }]);

    const { logger, lines } = captureLogger('warn');
    const groupId = uniqueName('dl-invalid-group');
    const pipeline = definePipeline({
      name: uniqueName('dl-invalid'),
      source: { topics: [input], groupId },
      deadLetter: { topic: dlq },
      build: (records) => records.pipe(parseJson()),
    });
    const dead = await collect(dlq);
    const engine = testEngine({ pipelines: [pipeline], logger });
    await engine.start();

    const refusals = () =>
      lines.filter((l) => l.offset === '0' && l.level === 50 && /failed the validation/.test(String(l.msg)));
    await eventually(() => refusals().length >= 1, 'offset 0 refused (INVALID_RECORD)');
    const refusal = refusals()[0];
    expect(refusal).toMatchObject({ topic: input, partition: 0, deadLetterTopic: dlq });
    expect(dead.records).toEqual([]);
    expect((await committedOffsets(groupId, input)).get(0) ?? -1n).toBeLessThanOrEqual(0n);

    // the operator fixes the topic: the next attempt goes through, with the value
    const admin = await testAdmin();
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        { type: ConfigResourceTypes.TOPIC, name: dlq, configEntries: [{ name: 'cleanup.policy', value: 'delete' }] },
      ],
    });
    await dead.waitFor(2, 40_000);
    await eventually(async () => (await committedOffsets(groupId, input)).get(0) === 2n, 'commit to offset 2');
    await engine.stop();
    expect(dead.records.map((r) => r.value).sort()).toEqual(['{also not json', '{not json']);
    for (const r of dead.records) expect(r.headers[DEAD_LETTER_HEADERS.valueOmitted]).toBeUndefined();
    // the log said why, with the coordinates, and that it was retried (backoff) rather than shrunk
    expect(String(refusal?.msg)).toMatch(/INVALID_RECORD.*not a size error, so the record keeps its value/);
    expect(refusals().length).toBeGreaterThanOrEqual(2);
  });
});
