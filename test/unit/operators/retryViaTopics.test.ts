import { map, tap } from 'rxjs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as z from 'zod';
import {
  delayLabel,
  delayMs,
  RETRY_HEADERS,
  readRetryState,
  retryTopicName,
  retryTopicNames,
} from '../../../operators/retryTopics/topics.js';
import {
  type RetryViaTopicsOptions,
  retryViaTopics,
  retryViaTopicsOptionsSchema,
} from '../../../operators/retryViaTopics.js';
import { type Element, failed } from '../../../src/envelope.js';
import { TributaryError } from '../../../src/errors.js';
import { readIntegerHeader, readTextHeader } from '../../../src/kafka/headers.js';
import type { OutgoingRecord, RecordHeaders } from '../../../src/kafka/ports.js';
import { expectFailed, expectOk, runOperator, testContext, testEnvelope } from '../../support/envelopes.js';
import { summarize, testScheduler } from '../../support/marbles.js';
import { flakyFunction } from '../../support/operators.js';

const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A function that throws for the first `failures[value]` calls of each value, then returns value × 10. */
const flaky = (failures: Record<number, number>, error: () => unknown = () => new Error('upstream 503')) =>
  flakyFunction(failures, error, (value) => value * 10);

/** Headers of a record as retryViaTopics wrote it into `<orders>.retry.<delay>` for round `round`. */
function retryHeaders(round: number, attempts: number, extra: RecordHeaders = {}): RecordHeaders {
  return {
    'correlation-id': 'corr-1',
    [RETRY_HEADERS.attempt]: String(round),
    [RETRY_HEADERS.attempts]: String(attempts),
    [RETRY_HEADERS.due]: '0',
    [RETRY_HEADERS.originalTopic]: 'orders',
    [RETRY_HEADERS.springOriginalTopic]: 'orders',
    [RETRY_HEADERS.springOriginalPartition]: Buffer.from([0, 0, 0, 3]),
    [RETRY_HEADERS.springOriginalOffset]: Buffer.from([0, 0, 0, 0, 0, 0, 0, 42]),
    [RETRY_HEADERS.springOriginalTimestamp]: Buffer.from([0, 0, 1, 0x8b, 0xcf, 0xe5, 0x68, 0x00]),
    ...extra,
  };
}

const text = (record: OutgoingRecord | undefined, name: string) => readTextHeader(record?.headers?.[name]);
const int = (record: OutgoingRecord | undefined, name: string) => readIntegerHeader(record?.headers?.[name]);

const config: RetryViaTopicsOptions = {
  delays: ['1s', '30s'],
  inProcessAttempts: 2,
  initialDelayMs: 10,
  jitter: 'none',
};

describe('retryViaTopics', () => {
  describe('delays and topic names', () => {
    it('parses delays and labels topics by the largest whole unit', () => {
      expect(['500ms', '1s', '30s', '5m', '1h', 1500, 90_000, 7_200_000].map((d) => delayMs(d))).toEqual([
        500, 1000, 30_000, 300_000, 3_600_000, 1500, 90_000, 7_200_000,
      ]);
      expect([500, 1000, 1500, 90_000, 300_000, 7_200_000].map(delayLabel)).toEqual([
        '500ms',
        '1s',
        '1500ms',
        '90s',
        '5m',
        '2h',
      ]);
      for (const bad of [0, -1, 1.5, '1 s', '1d', '', 's', Number.NaN])
        expect(delayMs(bad), String(bad)).toBeUndefined();
      expect(retryTopicName('orders', '1000ms')).toBe('orders.retry.1s');
      expect(retryTopicNames(['a', 'b'], { delays: ['1s', 1000, '5m'] })).toEqual([
        'a.retry.1s',
        'b.retry.1s',
        'a.retry.5m',
        'b.retry.5m',
      ]);
      expect(retryTopicNames(['a', 'b'], { delays: ['1s'], topicPrefix: 'scraping' })).toEqual(['scraping.retry.1s']);
      expect(() => retryTopicName('x'.repeat(245), '1s')).toThrow(/is not a Kafka topic name/);
    });

    it('rejects bad options when the pipeline is built', () => {
      const noop = (v: number) => v;
      for (const bad of [
        { delays: [] },
        { delays: ['1d'] },
        { delays: ['1s'], topicPrefix: 'a b' },
        { delays: ['1s'], inProcessAttempts: 0 },
      ]) {
        let thrown: unknown;
        try {
          retryViaTopics(noop, bad as RetryViaTopicsOptions);
        } catch (error) {
          thrown = error;
        }
        expect((thrown as TributaryError).code, JSON.stringify(bad)).toBe('TRIBUTARY_ERR_PIPELINE_DEFINITION');
        expect((thrown as TributaryError).message).toMatch(/^retryViaTopics: invalid options: /);
      }
    });

    it('describes every option in its schema', () => {
      const json = z.toJSONSchema(retryViaTopicsOptionsSchema, { unrepresentable: 'any' }) as {
        description?: string;
        properties: Record<string, { description?: string }>;
      };
      expect(json.description).toMatch(/^Options of retryViaTopics/);
      expect(Object.entries(json.properties).filter(([, f]) => !f.description)).toEqual([]);
      expectTypeOf<keyof z.input<typeof retryViaTopicsOptionsSchema>>().toEqualTypeOf<keyof RetryViaTopicsOptions>();
    });
  });

  describe('timing and the forwarded record (TestScheduler)', () => {
    it('emits at once when fn succeeds; attempts counts the tries', () => {
      const a = testEnvelope(1, { offset: 1 });
      testScheduler().run(({ cold, expectObservable }) => {
        const { fn } = flaky({ 1: 1 });
        expectObservable(cold<Element<number>>('-a|', { a }).pipe(retryViaTopics(fn, config), map(summarize))).toBe(
          '- 10ms (A|)',
          { A: 'ok 1 10 x2' },
        );
      });
      expect(a.context.sent).toEqual([]);
    });

    it('after the in-process attempts, publishes the original record to <topic>.retry.<first delay>, due now + delay', async () => {
      const context = testContext();
      const raw = Buffer.from('{"id":7}');
      const a = testEnvelope(7, {
        context,
        topic: 'orders',
        partition: 3,
        offset: 42,
        key: 'k7',
        raw,
        headers: { 'correlation-id': 'corr-7', 'event-type': 'order.created' },
        timestamp: '1700000000000',
      });
      const b = testEnvelope(8, { context, topic: 'orders', partition: 3, offset: 43 });
      testScheduler().run(({ cold, expectObservable }) => {
        const { fn, calls } = flaky({ 7: 99 });
        // a: tries at 5 and 15 (after 10 ms in-process backoff), then goes to the delay topic: nothing emitted
        // b (same lane) waits until the broker acknowledged a's retry record (a Promise: after this virtual run)
        expectObservable(
          cold<Element<number>>('5ms ab|', { a, b }).pipe(retryViaTopics(fn, config), map(summarize)),
        ).toBe('');
        return () => expect(calls).toEqual([7, 7]);
      });
      await settle();
      const [sent] = context.sent;
      expect(sent?.topic).toBe('orders.retry.1s');
      expect(sent?.key).toEqual(Buffer.from('k7'));
      expect(sent?.value).toBe(raw);
      expect(text(sent, 'event-type')).toBe('order.created');
      expect(text(sent, 'correlation-id')).toBe('corr-7');
      expect(text(sent, RETRY_HEADERS.attempt)).toBe('1');
      expect(text(sent, RETRY_HEADERS.due)).toBe(String(15 + 1000)); // failed at frame 15
      expect(text(sent, RETRY_HEADERS.delay)).toBe('1s');
      expect(text(sent, RETRY_HEADERS.attempts)).toBe('2');
      expect(text(sent, RETRY_HEADERS.reason)).toBe('upstream 503');
      expect(text(sent, RETRY_HEADERS.originalTopic)).toBe('orders');
      expect(text(sent, RETRY_HEADERS.springOriginalTopic)).toBe('orders');
      expect(sent?.headers?.[RETRY_HEADERS.springOriginalPartition]).toEqual(Buffer.from([0, 0, 0, 3]));
      expect(int(sent, RETRY_HEADERS.springOriginalOffset)).toBe(42n);
      expect(int(sent, RETRY_HEADERS.springOriginalTimestamp)).toBe(1_700_000_000_000n);
      expect(a.ticket.calls).toEqual(['published']);
      expect(b.ticket.finished).toBe(false);
      expect(context.retries).toEqual(['retryViaTopics', 'retryViaTopics']); // one in process, one via topic
    });

    it("times an attempt out after retryWithBackoff's default 30 s, then forwards the record; timeoutMs 0 sets no limit", () => {
      const hangs = () => new Promise<number>(() => {});
      const a = testEnvelope(1, { offset: 1 });
      testScheduler().run(({ cold }) => {
        cold<Element<number>>('-a|', { a })
          .pipe(retryViaTopics(hangs, { delays: ['1s'] }))
          .subscribe();
      });
      expect(text(a.context.sent[0], RETRY_HEADERS.reason)).toBe('attempt 1 did not settle within 30000 ms');
      expect(() => retryViaTopics(hangs, { delays: ['1s'], timeoutMs: 0 })).not.toThrow();
    });

    it('keeps other lanes flowing while one record retries in process', () => {
      const a = testEnvelope(1, { offset: 1, lane: 'p0' });
      const b = testEnvelope(2, { offset: 2, lane: 'p1' });
      testScheduler().run(({ cold, expectObservable }) => {
        const { fn } = flaky({ 1: 1 });
        expectObservable(cold<Element<number>>('ab|', { a, b }).pipe(retryViaTopics(fn, config), map(summarize))).toBe(
          '-B 8ms (A|)',
          { A: 'ok 1 10 x2', B: 'ok 2 20 x1' },
        );
      });
    });

    it('moves a record from round 1 to the next delay topic with every attempt counted', async () => {
      const context = testContext();
      // the retry pipeline's view of the record: origin restored to orders/3@42, retry headers kept
      const a = testEnvelope(5, { context, topic: 'orders', partition: 3, offset: 42, headers: retryHeaders(1, 2) });
      testScheduler().run(({ cold, expectObservable }) => {
        const { fn } = flaky({ 5: 99 });
        expectObservable(cold<Element<number>>('a|', { a }).pipe(retryViaTopics(fn, config))).toBe('');
      });
      await settle();
      const [sent] = context.sent;
      expect(sent?.topic).toBe('orders.retry.30s');
      expect(text(sent, RETRY_HEADERS.attempt)).toBe('2');
      expect(text(sent, RETRY_HEADERS.attempts)).toBe('4');
      expect(text(sent, RETRY_HEADERS.due)).toBe(String(10 + 30_000));
      expect(int(sent, RETRY_HEADERS.springOriginalOffset)).toBe(42n);
      expect(text(sent, 'correlation-id')).toBe('corr-1');
      // exactly one value per header: the old round's headers were replaced, not appended
      expect(Object.values(sent?.headers ?? {}).filter(Array.isArray)).toEqual([]);
      expect(a.ticket.outcome).toBe('published');
    });

    it('leaves out kafka_original-topic/-partition/-offset when a retry record has no valid origin coordinates', async () => {
      // bad origin headers: awaitRetryDue left the origin on the delay-topic copy (orders.retry.1s/0@7)
      const cases: [string, RecordHeaders][] = [
        [
          'missing',
          { [RETRY_HEADERS.springOriginalPartition]: undefined, [RETRY_HEADERS.springOriginalOffset]: undefined },
        ],
        ['partition out of range', { [RETRY_HEADERS.springOriginalPartition]: '3000000000' }],
        ['negative offset', { [RETRY_HEADERS.springOriginalOffset]: '-1' }],
      ];
      for (const [label, bad] of cases) {
        const context = testContext();
        const headers = retryHeaders(1, 2, bad);
        const a = testEnvelope(5, { context, topic: 'orders.retry.1s', partition: 0, offset: 7, headers });
        testScheduler().run(({ cold, expectObservable }) => {
          const { fn } = flaky({ 5: 99 });
          expectObservable(cold<Element<number>>('a|', { a }).pipe(retryViaTopics(fn, config))).toBe('');
        });
        await settle();
        const [sent] = context.sent;
        expect(sent?.topic, label).toBe('orders.retry.30s');
        expect(text(sent, RETRY_HEADERS.attempt), label).toBe('2');
        expect(text(sent, RETRY_HEADERS.originalTopic), label).toBe('orders');
        expect(int(sent, RETRY_HEADERS.springOriginalTimestamp), label).toBe(1_700_000_000_000n);
        // not 'orders' with the delay copy's 0@7: a pointer to a record that is not this one
        expect(sent?.headers?.[RETRY_HEADERS.springOriginalTopic], label).toBeUndefined();
        expect(sent?.headers?.[RETRY_HEADERS.springOriginalPartition], label).toBeUndefined();
        expect(sent?.headers?.[RETRY_HEADERS.springOriginalOffset], label).toBeUndefined();
        expect(a.ticket.outcome, label).toBe('published');
        // the next hop falls back to its own copy's coordinates, partition and offset together
        const next = testEnvelope(5, { topic: 'orders.retry.30s', partition: 1, offset: 9, headers: sent?.headers });
        expect(readRetryState(next), label).toMatchObject({
          round: 2,
          originalTopic: 'orders',
          originalPartition: 1,
          originalOffset: 9n,
        });
      }
    });

    it('fails for good after the last delay: the last error, attempts = every try of every round', () => {
      const a = testEnvelope(5, { topic: 'orders', partition: 3, offset: 42, headers: retryHeaders(2, 4) });
      let output: Element<number> | undefined;
      testScheduler().run(({ cold, expectObservable }) => {
        const { fn } = flaky({ 5: 99 });
        expectObservable(
          cold<Element<number>>('a|', { a }).pipe(
            retryViaTopics(fn, config),
            tap((el) => {
              output = el;
            }),
            map(summarize),
          ),
        ).toBe('10ms (A|)', { A: 'failed 42 retryViaTopics TRIBUTARY_ERR_PROCESSING x6' });
      });
      const failure = expectFailed(output);
      expect(failure.error.message).toBe('failed after 6 attempts (2 retry topics): upstream 503');
      expect(failure.error.retriable).toBe(false);
      expect(a.context.sent).toEqual([]);
      expect(a.ticket.finished).toBe(false); // the dead-letter stage finishes it
    });

    it('does not send non-retriable errors to a delay topic', () => {
      const a = testEnvelope(1, { offset: 3 });
      const b = testEnvelope(2, { offset: 4 });
      testScheduler().run(({ cold, expectObservable }) => {
        const validation = flaky({ 1: 9 }, () => new TributaryError('TRIBUTARY_ERR_VALIDATION', 'bad order'));
        const refused = flaky({ 2: 9 });
        const op = retryViaTopics((v: number) => (v === 1 ? validation.fn(v) : refused.fn(v)), {
          ...config,
          retriable: (error) => !(error instanceof TributaryError) && (error as Error).message !== 'upstream 503',
        });
        expectObservable(cold<Element<number>>('ab|', { a, b }).pipe(op, map(summarize))).toBe('ab|', {
          a: 'failed 3 retryViaTopics TRIBUTARY_ERR_VALIDATION x1',
          b: 'failed 4 retryViaTopics TRIBUTARY_ERR_PROCESSING x1',
        });
      });
      expect(a.context.sent).toEqual([]);
    });

    it('passes failed input elements through without calling fn', () => {
      const x = failed(testEnvelope(0, { offset: 9 }), 'parseJson', new TributaryError('TRIBUTARY_ERR_PARSE', 'bad'));
      testScheduler().run(({ cold, expectObservable }) => {
        const { fn, calls } = flaky({});
        expectObservable(cold<Element<number>>('x|', { x }).pipe(retryViaTopics(fn, config), map(summarize))).toBe(
          'x|',
          { x: 'failed 9 parseJson TRIBUTARY_ERR_PARSE x0' },
        );
        return () => expect(calls).toEqual([]);
      });
    });
  });

  describe('with Promises', () => {
    it('uses topicPrefix for the delay topics', async () => {
      const context = testContext();
      const a = testEnvelope(1, { context, topic: 'scraping-tasks' });
      await runOperator(
        [a],
        retryViaTopics(
          async () => {
            throw new Error('timeout');
          },
          { delays: [250], topicPrefix: 'scraping' },
        ),
      );
      expect(context.sent.map((r) => r.topic)).toEqual(['scraping.retry.250ms']);
      expect(text(context.sent[0], RETRY_HEADERS.originalTopic)).toBe('scraping-tasks');
      expect(a.ticket.outcome).toBe('published');
    });

    it('fails the record (TRIBUTARY_ERR_PUBLISH) when the delay topic refuses it, leaving it unfinished', async () => {
      const context = Object.assign(testContext(), {
        send: () => Promise.reject(Object.assign(new Error('MESSAGE_TOO_LARGE'), { retriable: false })),
      });
      const a = testEnvelope(1, { context, topic: 'orders' });
      const [out] = await runOperator(
        [a],
        retryViaTopics(
          () => {
            throw new Error('upstream 503');
          },
          { delays: ['1s'] },
        ),
      );
      const failure = expectFailed(out);
      expect(failure.error.code).toBe('TRIBUTARY_ERR_PUBLISH');
      expect(failure.error.message).toBe(
        'retry topic orders.retry.1s refused the record: MESSAGE_TOO_LARGE; last error: upstream 503',
      );
      expect(failure.attempts).toBe(1);
      expect(a.ticket.finished).toBe(false);
    });

    it('resolves async results and keeps the element identity', async () => {
      const a = testEnvelope(3);
      const [out] = await runOperator(
        [a],
        retryViaTopics(async (v: number) => `v${v}`, { delays: ['1s'] }),
      );
      const ok = expectOk(out);
      expect(ok.value).toBe('v3');
      expect(ok.ticket).toBe(a.ticket);
      expect(ok.attempts).toBe(1);
    });

    it('reads the retry state of a record: original coordinates from the headers', () => {
      const plain = testEnvelope(1, { topic: 'orders', partition: 1, offset: 5, timestamp: '1' });
      expect(readRetryState(plain)).toEqual({
        round: 0,
        priorAttempts: 0,
        originalTopic: 'orders',
        originalPartition: 1,
        originalOffset: 5n,
        originalTimestamp: '1',
      });
      // decimal text, even when 4 or 8 bytes long (readIntegerHeader would take "1000" for a binary int32)
      const many = testEnvelope(1, { headers: retryHeaders(3, 1000) });
      expect(readRetryState(many)).toMatchObject({ round: 3, priorAttempts: 1000 });
      const copy = testEnvelope(1, { topic: 'orders.retry.1s', partition: 0, offset: 0, headers: retryHeaders(1, 3) });
      expect(readRetryState(copy)).toEqual({
        round: 1,
        priorAttempts: 3,
        originalTopic: 'orders',
        originalPartition: 3,
        originalOffset: 42n,
        originalTimestamp: '1700000000000',
      });
    });
  });
});
