import { map, type Observable, tap } from 'rxjs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as z from 'zod';
import {
  type BranchToDeadLetterOptions,
  branchToDeadLetter,
  branchToDeadLetterOptionsSchema,
} from '../../../operators/branchToDeadLetter.js';
import { type Element, type Envelope, type FailedEnvelope, failed } from '../../../src/envelope.js';
import { TributaryError } from '../../../src/errors.js';
import {
  captureLogger,
  type RecordingContext,
  runOperator,
  testContext,
  testEnvelope,
} from '../../support/envelopes.js';
import { summarize, testScheduler } from '../../support/marbles.js';

const reject = (el: Envelope<number>): FailedEnvelope =>
  failed(el, 'validate', new TributaryError('TRIBUTARY_ERR_VALIDATION', `rejected ${el.value}`));

/** A context whose dead-letter publishes never settle (a broker that does not answer). */
function hangingContext(): RecordingContext & { pending: FailedEnvelope[] } {
  const context = testContext();
  const pending: FailedEnvelope[] = [];
  return Object.assign(context, {
    pending,
    deadLetter: (element: FailedEnvelope) => {
      pending.push(element);
      return new Promise<void>(() => {});
    },
  });
}

describe('branchToDeadLetter', () => {
  it("dead-letters failed elements (finished 'dead_lettered') and emits only the ok ones", async () => {
    const context = testContext();
    const a = testEnvelope(1, { context, offset: 1 });
    const x = reject(testEnvelope(2, { context, offset: 2 }));
    const b = testEnvelope(3, { context, offset: 3 });
    const outputs = await runOperator<Element<number>, Envelope<number>>([a, x, b], branchToDeadLetter());
    expect(outputs.map((el) => el.value)).toEqual([1, 3]);
    expect(context.deadLettered).toHaveLength(1);
    expect(context.deadLettered[0]?.element).toBe(x);
    expect(context.deadLettered[0]?.topic).toBeUndefined(); // the pipeline's dead-letter topic
    expect(x.ticket.finished).toBe(true);
    expect(a.ticket.finished).toBe(false);
    expect(b.ticket.finished).toBe(false);
  });

  it('sends to the given topic: branchToDeadLetter(topic) or branchToDeadLetter({ topic })', async () => {
    const context = testContext();
    const x = reject(testEnvelope(2, { context }));
    const y = reject(testEnvelope(3, { context }));
    await runOperator([x], branchToDeadLetter('orders.dlq'));
    await runOperator([y], branchToDeadLetter({ topic: 'orders.dlq.v2', name: 'orders.dlq' }));
    expect(context.deadLettered.map((d) => d.topic)).toEqual(['orders.dlq', 'orders.dlq.v2']);
  });

  it('waits for nothing: ok elements flow on while a dead-letter publish is still pending', () => {
    const context = hangingContext();
    const a = testEnvelope(1, { context, offset: 1, lane: 'p0' });
    const x = reject(testEnvelope(2, { context, offset: 2, lane: 'p0' }));
    const b = testEnvelope(3, { context, offset: 3, lane: 'p0' });
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<Element<number>>('-a-x-b-|', { a, x, b });
      expectObservable(source.pipe(branchToDeadLetter(), map(summarize))).toBe('-a---b-|', {
        a: 'ok 1 1 x0',
        b: 'ok 3 3 x0',
      });
      expectSubscriptions(source.subscriptions).toBe('^------!');
    });
    expect(context.pending).toEqual([x]);
    expect(x.ticket.finished).toBe(false); // not acknowledged: never committed
  });

  it('leaves the record unfinished and logs when the dead-letter publish fails', async () => {
    const { logger, lines } = captureLogger('error');
    const context = Object.assign(testContext({ logger }), {
      deadLetter: () => Promise.reject(new Error('broker down')),
    });
    const x = reject(testEnvelope(7, { context, topic: 'orders', partition: 2, offset: 41 }));
    const outputs = await runOperator([x], branchToDeadLetter());
    await new Promise((resolve) => setImmediate(resolve));
    expect(outputs).toEqual([]);
    expect(x.ticket.finished).toBe(false);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ stage: 'branchToDeadLetter', topic: 'orders', partition: 2, offset: '41' });
    expect(lines[0]?.msg).toMatch(/dead-letter publish failed; the record stays unfinished/);
  });

  it('types the output without failures', () => {
    const op = branchToDeadLetter<{ id: string }>();
    expectTypeOf(op).returns.toEqualTypeOf<Observable<Envelope<{ id: string }>>>();
    expectTypeOf(op).parameter(0).toEqualTypeOf<Observable<Element<{ id: string }>>>();
  });

  it('passes ok elements untouched (same object)', async () => {
    const a = testEnvelope({ id: 'x' });
    const [out] = await runOperator([a], branchToDeadLetter());
    expect(out).toBe(a);
  });

  it('checks its options when the pipeline is built', () => {
    for (const bad of ['', 'has space', 'a/b', '..'] as const) {
      let thrown: unknown;
      try {
        branchToDeadLetter(bad);
      } catch (error) {
        thrown = error;
      }
      expect((thrown as TributaryError).code, bad).toBe('TRIBUTARY_ERR_PIPELINE_DEFINITION');
      expect((thrown as TributaryError).message).toMatch(/^branchToDeadLetter: invalid options: topic:/);
    }
    expect(() => branchToDeadLetter({ name: 'bad name' })).toThrow(/branchToDeadLetter: invalid options: name/);
    expect(() => branchToDeadLetter({ topci: 'x' } as BranchToDeadLetterOptions)).toThrow(/Unrecognized key/);
  });

  it('describes every option in its schema', () => {
    const json = z.toJSONSchema(branchToDeadLetterOptionsSchema, { unrepresentable: 'any' }) as {
      description?: string;
      properties: Record<string, { description?: string }>;
    };
    expect(json.description).toMatch(/^Options of branchToDeadLetter/);
    expect(Object.entries(json.properties).filter(([, f]) => !f.description)).toEqual([]);
    expectTypeOf<keyof z.input<typeof branchToDeadLetterOptionsSchema>>().toEqualTypeOf<
      keyof BranchToDeadLetterOptions
    >();
  });

  it('dead-letters a failure that happens after an ok element of the same lane, keeping the ok one', async () => {
    const context = testContext();
    const seen: number[] = [];
    const inputs = [1, 2, 3, 4].map((v) => testEnvelope(v, { context, lane: 'p0' }));
    const outputs = await runOperator<Element<number>, Envelope<number>>(inputs, (source) =>
      source.pipe(
        map((el) => (el.ok && el.value % 2 === 0 ? reject(el) : el)),
        branchToDeadLetter(),
        tap((el) => seen.push(el.value)),
      ),
    );
    expect(outputs).toHaveLength(2);
    expect(seen).toEqual([1, 3]);
    expect(context.deadLettered.map((d) => (d.element.origin.raw ?? Buffer.alloc(0)).toString())).toEqual(['2', '4']);
  });
});
