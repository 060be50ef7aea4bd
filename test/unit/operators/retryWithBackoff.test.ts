import { map, type Observable, of, tap, timer } from 'rxjs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { parseJson } from '../../../operators/parseJson.js';
import { type RetryWithBackoffOptions, retryWithBackoff } from '../../../operators/retryWithBackoff.js';
import { type Element, type Envelope, failed, type RawValue } from '../../../src/envelope.js';
import { isRetriable, TributaryError } from '../../../src/errors.js';
import {
  captureLogger,
  expectFailed,
  expectOk,
  runOperator,
  testContext,
  testEnvelope,
} from '../../support/envelopes.js';
import { summarize, testScheduler } from '../../support/marbles.js';
import { flakyFunction } from '../../support/operators.js';

/** A synchronous function that throws for the first `failures` calls per value, then doubles it. */
const flaky = (failures: Record<number, number>, error: () => unknown = () => new Error('boom')) =>
  flakyFunction(failures, error, (value) => value * 2);

const none: RetryWithBackoffOptions = { jitter: 'none', initialDelayMs: 10 };

describe('retryWithBackoff', () => {
  describe('timing (TestScheduler)', () => {
    it('emits at once when the first attempt succeeds, attempts = 1', () => {
      const a = testEnvelope(1, { offset: 1 });
      const b = testEnvelope(2, { offset: 2 });
      testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<Element<number>>('-a-b-|', { a, b });
        const { fn } = flaky({});
        expectObservable(source.pipe(retryWithBackoff(fn, none), map(summarize))).toBe('-A-B-|', {
          A: 'ok 1 2 x1',
          B: 'ok 2 4 x1',
        });
        expectSubscriptions(source.subscriptions).toBe('^----!');
      });
    });

    it('backs off exponentially without jitter: waits 10 then 20 ms', () => {
      const a = testEnvelope(1, { offset: 1 });
      const { fn, calls } = flaky({ 1: 2 });
      const retries: [number, number][] = [];
      testScheduler().run(({ cold, expectObservable }) => {
        const operator = retryWithBackoff(fn, {
          ...none,
          onRetry: (_error, attempt, _element, delayMs) => retries.push([attempt, delayMs]),
        });
        expectObservable(cold<Element<number>>('a|', { a }).pipe(operator, map(summarize))).toBe('30ms (A|)', {
          A: 'ok 1 2 x3',
        });
      });
      // run() flushes the virtual time before it returns: every attempt and retry has happened by now
      expect(calls).toEqual([1, 1, 1]);
      expect(retries).toEqual([
        [1, 10],
        [2, 20],
      ]);
    });

    it('caps the backoff at maxDelayMs', () => {
      const a = testEnvelope(5, { offset: 1 });
      const delays: number[] = [];
      testScheduler().run(({ cold, expectObservable }) => {
        const { fn } = flaky({ 5: 3 });
        const operator = retryWithBackoff(fn, {
          jitter: 'none',
          attempts: 4,
          initialDelayMs: 10,
          multiplier: 3,
          maxDelayMs: 25,
          onRetry: (_e, _n, _el, delayMs) => delays.push(delayMs),
        });
        // waits 10, min(25, 30) = 25, min(25, 90) = 25 → the 4th attempt runs at 60
        expectObservable(cold<Element<number>>('a|', { a }).pipe(operator, map(summarize))).toBe('60ms (A|)', {
          A: 'ok 1 10 x4',
        });
      });
      expect(delays).toEqual([10, 25, 25]);
    });

    it('draws full-jitter waits uniformly from [0, cap] with the injected random source', () => {
      const a = testEnvelope(1, { offset: 1 });
      const draws = [0.5, 0.999_999, 0];
      const delays: number[] = [];
      testScheduler().run(({ cold, expectObservable }) => {
        const { fn } = flaky({ 1: 3 });
        const operator = retryWithBackoff(fn, {
          attempts: 4,
          initialDelayMs: 10,
          random: () => draws.shift() ?? 0,
          onRetry: (_e, _n, _el, delayMs) => delays.push(delayMs),
        });
        // caps 10, 20, 40 → waits floor(0.5 × 11) = 5, floor(0.999999 × 21) = 20, 0 → success at 25
        expectObservable(cold<Element<number>>('a|', { a }).pipe(operator, map(summarize))).toBe('25ms (A|)', {
          A: 'ok 1 2 x4',
        });
      });
      expect(delays).toEqual([5, 20, 0]);
    });

    it('fails after the last attempt with TRIBUTARY_ERR_PROCESSING and "after N attempts"', () => {
      const a = testEnvelope(1, { topic: 't', partition: 2, offset: 11 });
      let output: Element<number> | undefined;
      testScheduler().run(({ cold, expectObservable }) => {
        const { fn, calls } = flaky({ 1: 99 });
        const out = cold<Element<number>>('a|', { a }).pipe(
          retryWithBackoff(fn, none),
          tap((el) => {
            output = el;
          }),
        );
        expectObservable(out.pipe(map(summarize))).toBe('30ms (A|)', {
          A: 'failed 11 retryWithBackoff TRIBUTARY_ERR_PROCESSING x3',
        });
        return () => expect(calls).toHaveLength(3);
      });
      const failure = expectFailed(output);
      expect(failure.error.message).toBe('failed after 3 attempts: boom');
      expect((failure.error.cause as Error).message).toBe('boom');
      expect([failure.error.topic, failure.error.partition, failure.error.offset]).toEqual(['t', 2, 11n]);
      expect(failure.ticket.finished).toBe(false);
    });

    it('does not retry a non-retriable error: parse/validation errors, or what `retriable` refuses', () => {
      const a = testEnvelope(1, { offset: 1 });
      const b = testEnvelope(2, { offset: 2 });
      const outputs: Element<number>[] = [];
      testScheduler().run(({ cold, expectObservable }) => {
        const validation = flaky(
          { 1: 5 },
          () => new TributaryError('TRIBUTARY_ERR_VALIDATION', 'no good', { details: [{ path: ['x'] }] }),
        );
        const out = cold<Element<number>>('a|', { a }).pipe(
          retryWithBackoff(validation.fn, none),
          tap((el) => outputs.push(el)),
        );
        expectObservable(out.pipe(map(summarize))).toBe('A|', {
          A: 'failed 1 retryWithBackoff TRIBUTARY_ERR_VALIDATION x1',
        });

        const refused = flaky({ 2: 5 });
        const out2 = cold<Element<number>>('b|', { b }).pipe(
          retryWithBackoff(refused.fn, { ...none, retriable: (error) => (error as Error).message !== 'boom' }),
          tap((el) => outputs.push(el)),
        );
        expectObservable(out2.pipe(map(summarize))).toBe('B|', {
          B: 'failed 2 retryWithBackoff TRIBUTARY_ERR_PROCESSING x1',
        });
      });
      const [first, second] = outputs.map(expectFailed);
      expect(first?.error.message).toBe('failed after 1 attempt (not retriable): no good');
      expect(first?.error.details).toEqual([{ path: ['x'] }]);
      expect(isRetriable(first?.error)).toBe(false);
      expect(second?.error.message).toBe('failed after 1 attempt (not retriable): boom');
    });

    it('keeps the order of one lane: a later record waits for an earlier one being retried', () => {
      const a = testEnvelope(1, { offset: 1, lane: 'p0' });
      const b = testEnvelope(2, { offset: 2, lane: 'p0' });
      testScheduler().run(({ cold, expectObservable }) => {
        const { fn, calls } = flaky({ 1: 1 });
        expectObservable(cold<Element<number>>('ab|', { a, b }).pipe(retryWithBackoff(fn, none), map(summarize))).toBe(
          '10ms (AB|)',
          { A: 'ok 1 2 x2', B: 'ok 2 4 x1' },
        );
        return () => expect(calls).toEqual([1, 1, 2]);
      });
    });

    it('matches the documented marble', () => {
      const a = testEnvelope(1, { offset: 1, lane: 'p0' });
      const b = testEnvelope(2, { offset: 2, lane: 'p0' });
      testScheduler().run(({ cold, expectObservable }) => {
        const { fn } = flaky({ 1: 1 });
        expectObservable(
          cold<Element<number>>('--a--b------|', { a, b }).pipe(
            retryWithBackoff(fn, { initialDelayMs: 10, jitter: 'none' }),
            map(summarize),
          ),
        ).toBe('------------(AB|)', { A: 'ok 1 2 x2', B: 'ok 2 4 x1' });
      });
    });

    it('cancels a pending backoff wait on unsubscribe (shutdown): no further attempt runs', () => {
      const a = testEnvelope(1, { offset: 1 });
      const calls: number[] = [];
      testScheduler().run(({ cold, expectObservable, expectSubscriptions, flush }) => {
        const { fn, calls: made } = flaky({ 1: 5 });
        const source = cold<Element<number>>('a---|', { a });
        expectObservable(source.pipe(retryWithBackoff(fn, none), map(summarize)), '^--!').toBe('----');
        expectSubscriptions(source.subscriptions).toBe('^--!');
        flush();
        calls.push(...made);
      });
      expect(calls).toEqual([1]);
    });

    it('runs different lanes concurrently: a retry in one lane does not hold the other back', () => {
      const a = testEnvelope(1, { offset: 1, lane: 'p0' });
      const b = testEnvelope(2, { offset: 2, lane: 'p1' });
      testScheduler().run(({ cold, expectObservable }) => {
        const { fn } = flaky({ 1: 1 });
        expectObservable(cold<Element<number>>('ab|', { a, b }).pipe(retryWithBackoff(fn, none), map(summarize))).toBe(
          '-B 8ms (A|)',
          { A: 'ok 1 2 x2', B: 'ok 2 4 x1' },
        );
      });
    });

    it('times an attempt out with TRIBUTARY_ERR_TIMEOUT (retriable) and aborts its signal', () => {
      const a = testEnvelope(1, { offset: 1 });
      const signals: AbortSignal[] = [];
      let output: Element<number> | undefined;
      testScheduler().run(({ cold, expectObservable }) => {
        const never = (_value: number, _el: Envelope<number>, { signal }: { signal: AbortSignal }) => {
          signals.push(signal);
          return new Promise<number>(() => {});
        };
        const out = cold<Element<number>>('a|', { a }).pipe(
          retryWithBackoff(never, { ...none, attempts: 2, timeoutMs: 5 }),
          tap((el) => {
            output = el;
          }),
        );
        // attempt 1: 0–5 (timeout), wait 10, attempt 2: 15–20 (timeout) → failed at 20
        expectObservable(out.pipe(map(summarize))).toBe('20ms (A|)', {
          A: 'failed 1 retryWithBackoff TRIBUTARY_ERR_TIMEOUT x2',
        });
      });
      const failure = expectFailed(output);
      expect(failure.error.message).toBe('failed after 2 attempts: attempt 2 did not settle within 5 ms');
      expect(signals).toHaveLength(2);
      expect(signals.every((signal) => signal.aborted)).toBe(true);
      expect((signals[0]!.reason as TributaryError).code).toBe('TRIBUTARY_ERR_TIMEOUT');
    });

    it('times a hung attempt out after 30 s by default, so a lane is never blocked for ever', () => {
      const a = testEnvelope(1, { offset: 1 });
      testScheduler().run(({ cold, expectObservable }) => {
        const hang = () => new Promise<number>(() => {});
        expectObservable(
          cold<Element<number>>('a|', { a }).pipe(retryWithBackoff(hang, { ...none, attempts: 1 }), map(summarize)),
        ).toBe('30000ms (A|)', { A: 'failed 1 retryWithBackoff TRIBUTARY_ERR_TIMEOUT x1' });
      });
    });

    it.each([0, Number.POSITIVE_INFINITY])('never times an attempt out with timeoutMs: %s', (timeoutMs) => {
      const a = testEnvelope(1, { offset: 1 });
      testScheduler().run(({ cold, expectObservable }) => {
        // a PromiseLike that settles after an hour of virtual time (timer runs on the test scheduler here)
        const hourLong = (value: number): PromiseLike<number> => ({
          // biome-ignore lint/suspicious/noThenProperty: a hand-made PromiseLike is the point
          then: (resolve) => {
            timer(3_600_000).subscribe(() => resolve?.(value + 1));
            return Promise.resolve() as never; // rxjs chains a .then() on the result
          },
        });
        expectObservable(
          cold<Element<number>>('a|', { a }).pipe(
            retryWithBackoff(hourLong, { ...none, attempts: 1, timeoutMs }),
            map(summarize),
          ),
        ).toBe('3600000ms (A|)', { A: 'ok 1 2 x1' });
      });
    });

    it('lets a later attempt succeed after a timeout', () => {
      const a = testEnvelope(1, { offset: 1 });
      testScheduler().run(({ cold, expectObservable }) => {
        let calls = 0;
        const slowOnce = (value: number) => {
          calls += 1;
          return calls === 1 ? new Promise<number>(() => {}) : value + 1;
        };
        expectObservable(
          cold<Element<number>>('a|', { a }).pipe(
            retryWithBackoff(slowOnce, { ...none, timeoutMs: 5 }),
            map(summarize),
          ),
        ).toBe('15ms (A|)', { A: 'ok 1 2 x2' });
      });
    });

    it('passes failed input elements through without calling fn, in lane order', () => {
      const a = testEnvelope(1, { offset: 1, lane: 'p0' });
      const x = failed(
        testEnvelope(0, { offset: 2, lane: 'p0' }),
        'parseJson',
        new TributaryError('TRIBUTARY_ERR_PARSE', 'bad'),
      );
      const outputs: Element<number>[] = [];
      testScheduler().run(({ cold, expectObservable }) => {
        const { fn, calls } = flaky({ 1: 1 });
        const out = cold<Element<number>>('ax|', { a, x }).pipe(
          retryWithBackoff(fn, none),
          tap((el) => outputs.push(el)),
        );
        expectObservable(out.pipe(map(summarize))).toBe('10ms (AX|)', {
          A: 'ok 1 2 x2',
          X: 'failed 2 parseJson TRIBUTARY_ERR_PARSE x0',
        });
        return () => expect(calls).toEqual([1, 1]);
      });
      expect(outputs[1]).toBe(x);
    });
  });

  describe('with Promises and real timers', () => {
    it('retries a rejecting Promise and resolves with its value', async () => {
      let calls = 0;
      const input = testEnvelope({ id: 'v1' });
      const [output] = await runOperator(
        [input],
        retryWithBackoff(
          async (value: { id: string }) => {
            calls += 1;
            if (calls < 3) throw new Error(`transient ${calls}`);
            return `${value.id}:done`;
          },
          { initialDelayMs: 1 },
        ),
      );
      const ok = expectOk(output);
      expect(ok.value).toBe('v1:done');
      expect(ok.attempts).toBe(3);
      expect(ok.origin).toBe(input.origin);
      expect(ok.ticket).toBe(input.ticket);
    });

    it('processes each lane in order, one record at a time, and lanes concurrently', async () => {
      const context = testContext();
      const inputs = [0, 1, 2, 3].flatMap((i) =>
        ['p0', 'p1', 'p2'].map((lane) => testEnvelope({ lane, i }, { lane, context })),
      );
      const active = new Map<string, number>();
      let activeNow = 0;
      let maxActive = 0;
      let maxPerLane = 0;
      const outputs = await runOperator(
        inputs,
        retryWithBackoff(
          async (value: { lane: string; i: number }, _el, { attempt }) => {
            const inLane = (active.get(value.lane) ?? 0) + 1;
            active.set(value.lane, inLane);
            activeNow += 1;
            maxPerLane = Math.max(maxPerLane, inLane);
            maxActive = Math.max(maxActive, activeNow);
            await new Promise((resolve) => setTimeout(resolve, 1 + ((value.i * 7 + value.lane.length) % 4)));
            active.set(value.lane, (active.get(value.lane) ?? 1) - 1);
            activeNow -= 1;
            if (value.i === 1 && attempt === 1) throw new Error('transient');
            return `${value.lane}#${value.i}`;
          },
          { initialDelayMs: 2 },
        ),
      );
      expect(maxPerLane).toBe(1);
      expect(maxActive).toBe(3);
      const byLane = (lane: string) => outputs.filter((el) => el.origin.lane === lane).map((el) => expectOk(el).value);
      for (const lane of ['p0', 'p1', 'p2']) {
        expect(byLane(lane)).toEqual([0, 1, 2, 3].map((i) => `${lane}#${i}`));
      }
      expect(outputs.filter((el) => el.attempts === 2)).toHaveLength(3);
    });

    it('waits on a timer: the event loop keeps running (heartbeats) during the backoff', async () => {
      let ticks = 0;
      const interval = setInterval(() => {
        ticks += 1;
      }, 5);
      let calls = 0;
      const started = performance.now();
      try {
        const [output] = await runOperator(
          [testEnvelope(1)],
          retryWithBackoff(
            () => {
              calls += 1;
              if (calls === 1) throw new Error('transient');
              return ticks;
            },
            { jitter: 'none', initialDelayMs: 60 },
          ),
        );
        expect(performance.now() - started).toBeGreaterThanOrEqual(50);
        expect(expectOk(output).value).toBeGreaterThanOrEqual(2); // the interval ticked while the retry waited
      } finally {
        clearInterval(interval);
      }
    });

    it('aborts the signal of an attempt that times out, then retries', async () => {
      const reasons: unknown[] = [];
      const [output] = await runOperator(
        [testEnvelope('x')],
        retryWithBackoff(
          (_value: string, _el, { attempt, signal }) =>
            new Promise<string>((resolve, reject) => {
              if (attempt > 1) {
                resolve('second');
                return;
              }
              signal.addEventListener('abort', () => {
                reasons.push(signal.reason);
                reject(signal.reason);
              });
            }),
          { initialDelayMs: 1, timeoutMs: 10 },
        ),
      );
      expect(expectOk(output).value).toBe('second');
      expect(output?.attempts).toBe(2);
      expect(reasons).toHaveLength(1);
      expect((reasons[0] as TributaryError).code).toBe('TRIBUTARY_ERR_TIMEOUT');
    });

    it('keeps the code of a thrown TributaryError', async () => {
      const [output] = await runOperator(
        [testEnvelope(1)],
        retryWithBackoff(
          async () => {
            throw new TributaryError('TRIBUTARY_ERR_TIMEOUT', 'upstream timed out');
          },
          { attempts: 2, initialDelayMs: 1 },
        ),
      );
      const failure = expectFailed(output);
      expect(failure.error.code).toBe('TRIBUTARY_ERR_TIMEOUT');
      expect(failure.error.message).toBe('failed after 2 attempts: upstream timed out');
      expect(failure.attempts).toBe(2);
    });

    it('survives a throwing retriable() or onRetry() and logs them, with the record they were about', async () => {
      const { logger, lines } = captureLogger('error');
      const context = testContext({ logger });
      const failing = async () => {
        throw new Error('boom');
      };
      const [notRetried] = await runOperator(
        [testEnvelope(1, { context, topic: 'orders', partition: 2, offset: 7n, correlationId: 'c-7' })],
        retryWithBackoff(failing, {
          initialDelayMs: 1,
          retriable: () => {
            throw new Error('predicate bug');
          },
        }),
      );
      expect(expectFailed(notRetried).attempts).toBe(1);
      const [retried] = await runOperator(
        [testEnvelope(1, { context })],
        retryWithBackoff(failing, {
          attempts: 2,
          initialDelayMs: 1,
          onRetry: () => {
            throw new Error('hook bug');
          },
        }),
      );
      expect(expectFailed(retried).attempts).toBe(2);
      expect(lines.map((line) => line.msg)).toEqual([
        'retryWithBackoff: retriable() threw; not retrying',
        'retryWithBackoff: onRetry threw',
      ]);
      expect(lines[0]).toMatchObject({ topic: 'orders', partition: 2, offset: '7', correlationId: 'c-7' });
      expect(Object.keys(lines[1] ?? {})).toEqual(expect.arrayContaining(['topic', 'partition', 'offset']));
    });
  });

  it('types its output by the function result, inferring the input from the chain', () => {
    const out = of<Element<RawValue>>().pipe(
      parseJson<{ id: string }>(),
      retryWithBackoff(async (value) => value.id.length),
    );
    expectTypeOf(out).toEqualTypeOf<Observable<Element<number>>>();
  });

  it('rejects invalid options when the pipeline is built', () => {
    const fn = (n: number) => n;
    expect(() => retryWithBackoff(fn, { attempts: 0 })).toThrowError(/retryWithBackoff: invalid options: attempts/);
    expect(() => retryWithBackoff(fn, { jitter: 'half' as 'full' })).toThrowError(/jitter/);
    expect(() => retryWithBackoff(fn, { multiplier: 0.5 })).toThrowError(/multiplier/);
    expect(() => retryWithBackoff(fn, { timeoutMs: -1 })).toThrowError(/timeoutMs/);
    expect(() => retryWithBackoff(fn, { timeoutMs: Number.NaN })).toThrowError(/timeoutMs/);
    expect(() => retryWithBackoff(fn, { timeoutMs: 0 })).not.toThrow();
    expect(() => retryWithBackoff(fn, { timeoutMs: Number.POSITIVE_INFINITY })).not.toThrow();
    expect(() => retryWithBackoff(fn, { retriable: true as never })).toThrowError(/retriable: expected a function/);
    expect(() => retryWithBackoff(fn, { scheduler: {} as never })).toThrowError(/scheduler/);
    expect(() => retryWithBackoff(fn, { delay: 5 } as never)).toThrowError(/delay/);
  });
});
