import { type MonoTypeOperatorFunction, map, tap } from 'rxjs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as z from 'zod';
import {
  type AwaitRetryDueOptions,
  awaitRetryDue,
  awaitRetryDueOptionsSchema,
} from '../../../operators/awaitRetryDue.js';
import { RETRY_HEADERS } from '../../../operators/retryTopics/topics.js';
import { type Element, type Envelope, failed, type RawValue } from '../../../src/envelope.js';
import { TributaryError } from '../../../src/errors.js';
import type { RecordHeaders } from '../../../src/kafka/ports.js';
import { captureLogger, testContext, testEnvelope } from '../../support/envelopes.js';
import { testScheduler } from '../../support/marbles.js';

/** A record of `orders.retry.1s` partition `partition`, due at virtual time `due`, copied from orders/3@42. */
function retryRecord(name: string, due: number | undefined, partition = 0, extra: RecordHeaders = {}) {
  const headers: RecordHeaders = {
    [RETRY_HEADERS.attempt]: '1',
    [RETRY_HEADERS.attempts]: '1',
    [RETRY_HEADERS.originalTopic]: 'orders',
    [RETRY_HEADERS.springOriginalPartition]: Buffer.from([0, 0, 0, 3]),
    [RETRY_HEADERS.springOriginalOffset]: Buffer.from([0, 0, 0, 0, 0, 0, 0, 42]),
    [RETRY_HEADERS.springOriginalTimestamp]: Buffer.from([0, 0, 0, 0, 0, 0, 0, 7]),
    ...(due === undefined ? {} : { [RETRY_HEADERS.due]: String(due) }),
    ...extra,
  };
  return testEnvelope<RawValue>(Buffer.from(name), {
    topic: 'orders.retry.1s',
    partition,
    offset: 100 + name.charCodeAt(0),
    headers,
    lane: `orders.retry.1s/${partition}`,
  });
}

const name = (el: Element<RawValue>) => (el.ok ? (el.value?.toString() ?? 'null') : `failed:${el.stage}`);

describe('awaitRetryDue', () => {
  it('holds each record until its due time, in order per partition; other partitions wait on their own', () => {
    const a = retryRecord('a', 50, 0);
    const b = retryRecord('b', 60, 0);
    const c = retryRecord('c', 10, 1);
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<Element<RawValue>>('abc|', { a, b, c });
      expectObservable(source.pipe(awaitRetryDue(), map(name))).toBe('10ms c 39ms a 9ms (b|)', {
        a: 'a',
        b: 'b',
        c: 'c',
      });
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('lets a record that is already due pass at once, and one behind a waiting head wait for the head', () => {
    const a = retryRecord('a', 30, 0);
    const b = retryRecord('b', 5, 0); // written later with an earlier due (another producer's clock): waits for a
    const d = retryRecord('d', 0, 1);
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<Element<RawValue>>('a-bd|', { a, b, d }).pipe(awaitRetryDue(), map(name))).toBe(
        '---d 26ms (ab|)',
        { a: 'a', b: 'b', d: 'd' },
      );
    });
  });

  it('caps the wait at maxWaitMs (a due time far ahead: a clock ahead of ours)', () => {
    const a = retryRecord('a', 3_600_000, 0);
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<Element<RawValue>>('a|', { a }).pipe(awaitRetryDue({ maxWaitMs: 1000 }), map(name))).toBe(
        '1000ms (a|)',
        { a: 'a' },
      );
    });
  });

  it('processes a record without a valid due header at once, with a warning', () => {
    const { logger, lines } = captureLogger('warn');
    const context = testContext({ logger });
    const a = testEnvelope<RawValue>(Buffer.from('a'), {
      context,
      topic: 'orders.retry.1s',
      headers: { [RETRY_HEADERS.due]: 'soon' },
    });
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<Element<RawValue>>('a|', { a }).pipe(awaitRetryDue(), map(name))).toBe('a|', { a: 'a' });
    });
    expect(lines.map((l) => l.msg)).toEqual([
      'awaitRetryDue: no valid tributary-retry-due header; processing the record now',
    ]);
  });

  it('passes failed elements through without waiting for their own due time', () => {
    const x = failed(retryRecord('x', 500, 0), 'parseJson', new TributaryError('TRIBUTARY_ERR_PARSE', 'bad'));
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<Element<RawValue>>('x|', { x }).pipe(awaitRetryDue(), map(name))).toBe('x|', {
        x: 'failed:parseJson',
      });
    });
  });

  it('restores the original origin (topic, partition, offset, timestamp, correlation id), keeping lane and ticket', () => {
    const a = retryRecord('a', 0, 2);
    const b = retryRecord('b', 0, 2, { 'correlation-id': 'corr-b' });
    const out: Element<RawValue>[] = [];
    const kept: Element<RawValue>[] = [];
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(
        cold<Element<RawValue>>('ab|', { a, b }).pipe(
          awaitRetryDue(),
          tap((el) => out.push(el)),
          map(name),
        ),
      ).toBe('ab|', { a: 'a', b: 'b' });
      expectObservable(
        cold<Element<RawValue>>('a|', { a }).pipe(
          awaitRetryDue({ restoreOrigin: false }),
          tap((el) => kept.push(el)),
          map(name),
        ),
      ).toBe('a|', { a: 'a' });
    });
    const [first, second] = out;
    expect(first?.origin).toMatchObject({
      topic: 'orders',
      partition: 3,
      offset: 42n,
      timestamp: '7',
      correlationId: 'orders-3-42',
      lane: 'orders.retry.1s/2',
      raw: Buffer.from('a'),
    });
    expect(first?.origin.headers).toBe(a.origin.headers);
    expect(first?.ticket).toBe(a.ticket);
    expect(second?.origin.correlationId).toBe(b.origin.correlationId);
    expect(kept[0]).toBe(a);
  });

  it('is typed by its input', () => {
    // an Envelope stays an Envelope (so a pipeline's build() can run on what it emits)
    expectTypeOf(awaitRetryDue<Envelope<RawValue>>()).toEqualTypeOf<MonoTypeOperatorFunction<Envelope<RawValue>>>();
    expectTypeOf(awaitRetryDue<Element<number>>()).toEqualTypeOf<MonoTypeOperatorFunction<Element<number>>>();
  });

  it('describes every option in its schema and checks them', () => {
    const json = z.toJSONSchema(awaitRetryDueOptionsSchema, { unrepresentable: 'any' }) as {
      description?: string;
      properties: Record<string, { description?: string }>;
    };
    expect(json.description).toMatch(/^Options of awaitRetryDue/);
    expect(Object.entries(json.properties).filter(([, f]) => !f.description)).toEqual([]);
    expectTypeOf<keyof z.input<typeof awaitRetryDueOptionsSchema>>().toEqualTypeOf<keyof AwaitRetryDueOptions>();
    expect(() => awaitRetryDue({ maxWaitMs: -1 })).toThrow(/awaitRetryDue: invalid options: maxWaitMs/);
  });
});
