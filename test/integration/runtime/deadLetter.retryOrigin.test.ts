/**
 * F7 on the real broker: a delay-topic record whose kafka_original-* headers are out of range (a partition beyond
 * int32, an offset or timestamp beyond int64) that then fails in the retry pipeline. It must not crash the process;
 * it is dead-lettered with its reason, pointing at the delay-topic copy, and the delay topic is committed to its end.
 */
import { describe, expect, it } from 'vitest';
import { retryTopicPipelines } from '../../../operators/retryTopics/index.js';
import {
  DEAD_LETTER_HEADERS,
  definePipeline,
  parseJson,
  RETRY_HEADERS,
  type RetryViaTopicsOptions,
  readIntegerHeader,
  retryTopicNames,
  retryViaTopics,
} from '../../../src/index.js';
import { eventually, testEngine } from '../../support/engine.js';
import { collect, committedOffsets, createNamedTopics, createTopic, produce, uniqueName } from '../../support/kafka.js';

describe('dead letters of delay-topic records with out-of-range origin headers', () => {
  it('dead-letters them with their reason at the delay-topic coordinates, commits, and nothing crashes', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const input = await createTopic('dl-origin-in', 1);
      const dlq = await createTopic('dl-origin-dlq', 1);
      const retries = { delays: ['1s'], inProcessAttempts: 1 } satisfies RetryViaTopicsOptions;
      const [delayTopic] = retryTopicNames([input], retries);
      if (delayTopic === undefined) throw new Error('no delay topic');
      await createNamedTopics([delayTopic], 1);

      const groupId = uniqueName('dl-origin-group');
      const main = definePipeline({
        name: uniqueName('dl-origin'),
        source: { topics: [input], groupId },
        deadLetter: { topic: dlq },
        build: (records) =>
          records.pipe(
            parseJson<{ id: string }>(),
            retryViaTopics(async (task: { id: string }) => {
              throw new Error(`${task.id} still failing`);
            }, retries),
          ),
      });
      // round 1 of 1: the retry pipeline's failure is final, so the record goes to the dead-letter topic
      const retryHeaders = (id: string, origin: Record<string, string>) => ({
        [RETRY_HEADERS.attempt]: '1',
        [RETRY_HEADERS.attempts]: '1',
        [RETRY_HEADERS.due]: String(Date.now()),
        [RETRY_HEADERS.originalTopic]: input,
        [RETRY_HEADERS.springOriginalTopic]: input,
        'correlation-id': `c-${id}`,
        ...origin,
      });
      await produce(delayTopic, [
        {
          key: 'k',
          value: JSON.stringify({ id: 'partition' }),
          headers: retryHeaders('partition', {
            [RETRY_HEADERS.springOriginalPartition]: '3000000000',
            [RETRY_HEADERS.springOriginalOffset]: '5',
          }),
        },
        {
          key: 'k',
          value: JSON.stringify({ id: 'offset' }),
          headers: retryHeaders('offset', {
            [RETRY_HEADERS.springOriginalPartition]: '0',
            [RETRY_HEADERS.springOriginalOffset]: '99999999999999999999',
            [RETRY_HEADERS.springOriginalTimestamp]: '-99999999999999999999',
          }),
        },
        {
          key: 'k',
          value: JSON.stringify({ id: 'valid' }),
          headers: retryHeaders('valid', {
            [RETRY_HEADERS.springOriginalPartition]: '0',
            [RETRY_HEADERS.springOriginalOffset]: '7',
          }),
        },
      ]);

      const dead = await collect(dlq);
      const engine = testEngine({ pipelines: [main, ...retryTopicPipelines(main, retries)] });
      await engine.start();
      await dead.waitFor(3, 30_000);
      const retryGroup = `${groupId}.retry.1s`;
      await eventually(
        async () => (await committedOffsets(retryGroup, delayTopic)).get(0) === 3n,
        `${retryGroup} committed ${delayTopic} to its end (3)`,
      );
      // no pipeline crashed or restarted on the way
      expect(engine.status().pipelines.map((p) => p.state)).toEqual(['running', 'running']);
      await engine.stop();

      const byId = new Map(dead.records.map((r) => [JSON.parse(r.value ?? '{}').id as string, r]));
      for (const [id, offset] of [
        ['partition', 0n],
        ['offset', 1n],
      ] as const) {
        const letter = byId.get(id);
        expect(letter?.headers[DEAD_LETTER_HEADERS.exceptionMessage]).toBe(
          `failed after 2 attempts (1 retry topic): ${id} still failing`,
        );
        expect(letter?.headers[DEAD_LETTER_HEADERS.errorCode]).toBe('TRIBUTARY_ERR_PROCESSING');
        // the bad coordinates are replaced by the delay-topic copy's: one real record, holding the same value
        expect(letter?.headers[DEAD_LETTER_HEADERS.originalTopic]).toBe(delayTopic);
        expect(readIntegerHeader(letter?.rawHeaders[DEAD_LETTER_HEADERS.originalPartition])).toBe(0n);
        expect(readIntegerHeader(letter?.rawHeaders[DEAD_LETTER_HEADERS.originalOffset])).toBe(offset);
        expect(letter?.headers['correlation-id']).toBe(`c-${id}`);
      }
      const valid = byId.get('valid');
      expect(valid?.headers[DEAD_LETTER_HEADERS.originalTopic]).toBe(input);
      expect(readIntegerHeader(valid?.rawHeaders[DEAD_LETTER_HEADERS.originalOffset])).toBe(7n);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
