import { map, type Observable, of } from 'rxjs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { mapValue } from '../../../operators/mapValue.js';
import { type Element, failed } from '../../../src/envelope.js';
import { TributaryError } from '../../../src/errors.js';
import { expectFailed, expectOk, runOperator, testEnvelope } from '../../support/envelopes.js';
import { summarize, testScheduler } from '../../support/marbles.js';

describe('mapValue', () => {
  it('transforms each value, keeping origin, ticket and attempts, at the time it arrives', () => {
    const a = testEnvelope(1, { offset: 1 });
    const b = testEnvelope(2, { offset: 2, attempts: 3 });
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<Element<number>>('-a--b-|', { a, b });
      expectObservable(
        source.pipe(
          mapValue((n: number) => n * 10),
          map(summarize),
        ),
      ).toBe('-A--B-|', {
        A: 'ok 1 10 x0',
        B: 'ok 2 20 x3',
      });
      expectSubscriptions(source.subscriptions).toBe('^-----!');
    });
  });

  it('passes the element to fn', async () => {
    const input = testEnvelope('v', { topic: 'feed_events', offset: 5 });
    const [output] = await runOperator(
      [input],
      mapValue((value: string, el) => `${el.origin.topic}@${el.origin.offset}:${value}`),
    );
    const ok = expectOk(output);
    expect(ok.value).toBe('feed_events@5:v');
    expect(ok.ticket).toBe(input.ticket);
    expect(ok.origin).toBe(input.origin);
  });

  it('turns a throw into a failed element (TRIBUTARY_ERR_PROCESSING) and keeps going', async () => {
    const outputs = await runOperator(
      [testEnvelope(1, { topic: 't', partition: 4, offset: 10 }), testEnvelope(0, { offset: 11 }), testEnvelope(2)],
      mapValue(
        (n: number) => {
          if (n === 0) throw new RangeError('zero');
          return 10 / n;
        },
        { name: 'invert' },
      ),
    );
    expect(outputs.map((el) => (el.ok ? el.value : el.error.code))).toEqual([10, 'TRIBUTARY_ERR_PROCESSING', 5]);
    const failure = expectFailed(outputs[1]);
    expect(failure.stage).toBe('invert');
    expect(failure.error.message).toBe('zero');
    expect(failure.error.cause).toBeInstanceOf(RangeError);
    expect(failure.error.offset).toBe(11n);
    expect(failure.ticket.finished).toBe(false);
  });

  it('passes failed elements through untouched without calling fn', async () => {
    let calls = 0;
    const earlier = failed(testEnvelope(1), 'up', new TributaryError('TRIBUTARY_ERR_PARSE', 'bad'));
    const [output] = await runOperator(
      [earlier],
      mapValue((n: number) => {
        calls += 1;
        return n;
      }),
    );
    expect(output).toBe(earlier);
    expect(calls).toBe(0);
  });

  it('types its output by fn', () => {
    expectTypeOf(of<Element<number>>().pipe(mapValue((n) => String(n)))).toEqualTypeOf<Observable<Element<string>>>();
  });

  it('rejects an invalid stage name', () => {
    expect(() => mapValue((n: number) => n, { name: 'white space' })).toThrowError(/mapValue: invalid options: name/);
  });
});
