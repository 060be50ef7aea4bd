import { map, type Observable, of } from 'rxjs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { filterValue } from '../../../operators/filterValue.js';
import { type Element, failed } from '../../../src/envelope.js';
import { TributaryError } from '../../../src/errors.js';
import { expectFailed, runOperator, type TestEnvelope, testEnvelope } from '../../support/envelopes.js';
import { summarize, testScheduler } from '../../support/marbles.js';

type FeedEvent = { type: 'liked'; by: string } | { type: 'viewed' };

describe('filterValue', () => {
  it("keeps accepted values and finishes dropped records as 'filtered'", () => {
    const [a, b, c, d] = [1, 2, 3, 4].map((n) => testEnvelope(n, { offset: n })) as [
      TestEnvelope<number>,
      TestEnvelope<number>,
      TestEnvelope<number>,
      TestEnvelope<number>,
    ];
    const inputs = [a, b, c, d];
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<Element<number>>('-a-b-c-d-|', { a, b, c, d });
      expectObservable(
        source.pipe(
          filterValue((n: number) => n % 2 === 0),
          map(summarize),
        ),
      ).toBe('---B---D-|', {
        B: 'ok 2 2 x0',
        D: 'ok 4 4 x0',
      });
      expectSubscriptions(source.subscriptions).toBe('^--------!');
    });
    expect(inputs.map((el) => el.ticket.outcome)).toEqual(['filtered', undefined, 'filtered', undefined]);
    expect(inputs[0]?.ticket.calls).toEqual(['filtered']);
  });

  it('finishes a dropped record before the next element is emitted', async () => {
    const dropped = testEnvelope(1);
    const kept = testEnvelope(2);
    const finishedWhenNextArrived: boolean[] = [];
    await runOperator([dropped, kept], (source: Observable<Element<number>>) =>
      source.pipe(
        filterValue((n: number) => n === 2),
        map((el) => {
          finishedWhenNextArrived.push(dropped.ticket.finished);
          return el;
        }),
      ),
    );
    expect(finishedWhenNextArrived).toEqual([true]);
  });

  it('turns a throwing predicate into a failed element (not dropped, not finished)', async () => {
    const input = testEnvelope<unknown>(null, { offset: 8 });
    const [output] = await runOperator(
      [input],
      filterValue((value: unknown) => (value as { ok: boolean }).ok, { name: 'only-ok' }),
    );
    const failure = expectFailed(output);
    expect(failure.stage).toBe('only-ok');
    expect(failure.error.code).toBe('TRIBUTARY_ERR_PROCESSING');
    expect(failure.error.offset).toBe(8n);
    expect(input.ticket.finished).toBe(false);
  });

  it('passes failed elements through untouched, never finishing them', async () => {
    const source = testEnvelope(1);
    const earlier = failed(source, 'up', new TributaryError('TRIBUTARY_ERR_PARSE', 'bad'));
    const [output] = await runOperator(
      [earlier],
      filterValue(() => false),
    );
    expect(output).toBe(earlier);
    expect(source.ticket.finished).toBe(false);
  });

  it('narrows the output with a type guard', async () => {
    const liked = of<Element<FeedEvent>>().pipe(
      filterValue((event): event is Extract<FeedEvent, { type: 'liked' }> => event.type === 'liked'),
    );
    expectTypeOf(liked).toEqualTypeOf<Observable<Element<{ type: 'liked'; by: string }>>>();
    // (TypeScript ≥ 5.5 infers `event.type !== 'viewed'` as a type guard too; this predicate narrows nothing)
    const plain = of<Element<FeedEvent>>().pipe(filterValue((_event, el) => el.attempts === 0));
    expectTypeOf(plain).toEqualTypeOf<Observable<Element<FeedEvent>>>();
    const outputs = await runOperator(
      [testEnvelope<FeedEvent>({ type: 'viewed' }), testEnvelope<FeedEvent>({ type: 'liked', by: 'ana' })],
      filterValue((event: FeedEvent): event is Extract<FeedEvent, { type: 'liked' }> => event.type === 'liked'),
    );
    expect(outputs.map((el) => (el.ok ? el.value.by : null))).toEqual(['ana']);
  });

  it('rejects an invalid stage name', () => {
    expect(() => filterValue(() => true, { name: '' })).toThrowError(/filterValue: invalid options: name/);
  });
});
