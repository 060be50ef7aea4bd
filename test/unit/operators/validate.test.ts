import { type Observable, of } from 'rxjs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as z from 'zod';
import * as zm from 'zod/mini';
import * as z3 from 'zod/v3';
import { parseJson } from '../../../operators/parseJson.js';
import { validate } from '../../../operators/validate.js';
import { type Element, failed, type RawValue } from '../../../src/envelope.js';
import { isRetriable, TributaryError } from '../../../src/errors.js';
import { expectFailed, expectOk, rawEnvelope, runOperator, testEnvelope } from '../../support/envelopes.js';

const Order = z.object({
  orderId: z.string(),
  items: z.array(z.object({ sku: z.string(), qty: z.number().int().positive() })),
  currency: z.enum(['EUR', 'USD']).default('EUR'),
  placedAt: z.string().transform((text) => new Date(text)),
});

async function check<T>(operator: ReturnType<typeof validate>, value: T) {
  const input = testEnvelope(value, { topic: 'orders', partition: 1, offset: 9 });
  const [output] = await runOperator<Element<unknown>, Element<unknown>>([input], operator);
  return { input, output };
}

describe('validate', () => {
  it("emits the schema's output: defaults applied, transforms run", async () => {
    const { input, output } = await check(validate(Order), {
      orderId: 'o-1',
      items: [{ sku: 'a', qty: 2 }],
      placedAt: '2024-05-01T10:00:00Z',
    });
    const ok = expectOk(output);
    expect(ok.value).toEqual({
      orderId: 'o-1',
      items: [{ sku: 'a', qty: 2 }],
      currency: 'EUR',
      placedAt: new Date('2024-05-01T10:00:00Z'),
    });
    expect(ok.origin).toBe(input.origin);
    expect(ok.ticket).toBe(input.ticket);
  });

  it('fails a mismatch with TRIBUTARY_ERR_VALIDATION, issues as `path: message; ...`, details = zod issues', async () => {
    const value = { orderId: 7, items: [{ sku: 'a', qty: 0 }, { qty: 1 }], placedAt: '2024-05-01' };
    const { output } = await check(validate(Order), value);
    const failure = expectFailed(output);
    const expectedIssues = Order.safeParse(value).error?.issues;
    expect(failure.stage).toBe('validate');
    expect(failure.error).toBeInstanceOf(TributaryError);
    expect(failure.error.code).toBe('TRIBUTARY_ERR_VALIDATION');
    expect(failure.error.message).toBe(
      'orderId: Invalid input: expected string, received number; ' +
        'items[0].qty: Too small: expected number to be >0; ' +
        'items[1].sku: Invalid input: expected string, received undefined',
    );
    expect(failure.error.details).toEqual(expectedIssues);
    expect(failure.error.details).toMatchObject([
      { code: 'invalid_type', path: ['orderId'] },
      { code: 'too_small', path: ['items', 0, 'qty'] },
      { code: 'invalid_type', path: ['items', 1, 'sku'] },
    ]);
    expect([failure.error.topic, failure.error.partition, failure.error.offset]).toEqual(['orders', 1, 9n]);
    expect(isRetriable(failure.error)).toBe(false);
    expect(failure.ticket.finished).toBe(false);
  });

  it('names an issue about the value itself (root)', async () => {
    const failure = expectFailed((await check(validate(z.string()), 42)).output);
    expect(failure.error.message).toBe('(root): Invalid input: expected string, received number');
  });

  it('cuts long reasons to maxReasonLength, ending with an ellipsis', async () => {
    const Many = z.object(Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`field${i}`, z.string()])));
    const long = expectFailed((await check(validate(Many), {})).output);
    expect(long.error.message).toHaveLength(1000);
    expect(long.error.message.endsWith('…')).toBe(true);
    expect(long.error.message.startsWith('field0: Invalid input: expected string, received undefined; field1:')).toBe(
      true,
    );
    expect(long.error.details).toHaveLength(60);

    const short = expectFailed((await check(validate(Many, { maxReasonLength: 20 }), {})).output);
    expect(short.error.message).toBe('field0: Invalid inp…');
  });

  it('fails the record when the schema throws (a throwing transform, an async refinement)', async () => {
    const Throwing = z.string().transform((): string => {
      throw new Error('bad transform');
    });
    const thrown = expectFailed((await check(validate(Throwing), 'x')).output);
    expect(thrown.error.code).toBe('TRIBUTARY_ERR_VALIDATION');
    expect(thrown.error.message).toBe('schema threw: bad transform');

    const Async = z.string().refine(async () => true);
    const asyncFailure = expectFailed((await check(validate(Async), 'x')).output);
    expect(asyncFailure.error.code).toBe('TRIBUTARY_ERR_VALIDATION');
    expect(asyncFailure.error.message).toMatch(/^schema threw: .*parseAsync/);
  });

  it('accepts zod/mini schemas', async () => {
    const Mini = zm.object({ id: zm.number() });
    expect(expectOk((await check(validate(Mini), { id: 1 })).output).value).toEqual({ id: 1 });
    expect(expectFailed((await check(validate(Mini), { id: '1' })).output).error.message).toBe(
      'id: Invalid input: expected number, received string',
    );
  });

  it('uses the configured stage name and passes failed elements through untouched', async () => {
    const named = expectFailed((await check(validate(z.number(), { name: 'orders.v1' }), 'x')).output);
    expect(named.stage).toBe('orders.v1');
    const earlier = failed(testEnvelope('x'), 'parseJson', new TributaryError('TRIBUTARY_ERR_PARSE', 'bad'));
    const [output] = await runOperator<Element<unknown>, Element<number>>([earlier], validate(z.number()));
    expect(output).toBe(earlier);
  });

  it('works after parseJson on raw records', async () => {
    const outputs = await runOperator(
      [rawEnvelope('{"id":1}'), rawEnvelope('{"id":"one"}'), rawEnvelope('{"id":')],
      (records: Observable<Element<RawValue>>) => records.pipe(parseJson(), validate(z.object({ id: z.number() }))),
    );
    expect(outputs.map((el) => (el.ok ? el.value : el.error.code))).toEqual([
      { id: 1 },
      'TRIBUTARY_ERR_VALIDATION',
      'TRIBUTARY_ERR_PARSE',
    ]);
  });

  it('types its output as z.output of the schema', () => {
    const validated = of<Element<RawValue>>().pipe(parseJson(), validate(Order));
    expectTypeOf(validated).toEqualTypeOf<Observable<Element<z.output<typeof Order>>>>();
    expectTypeOf<z.output<typeof Order>>().toEqualTypeOf<{
      orderId: string;
      items: { sku: string; qty: number }[];
      currency: 'EUR' | 'USD';
      placedAt: Date;
    }>();
    const mini = of<Element<unknown>>().pipe(validate(zm.object({ id: zm.number() })));
    expectTypeOf(mini).toEqualTypeOf<Observable<Element<{ id: number }>>>();
  });

  it('rejects invalid options when the pipeline is built', () => {
    expect(() => validate(z.string(), { maxReasonLength: 3 })).toThrowError(/maxReasonLength/);
    expect(() => validate(z.string(), { name: 'a b' })).toThrowError(/validate: invalid options: name/);
  });

  it('rejects a zod 3 schema when the pipeline is built, saying what to import instead', () => {
    // zod 3's schemas have no `_zod`; run on records, each would fail with "Cannot read properties of undefined"
    const zod3 = z3.object({ id: z3.number() }) as unknown as z.ZodType;
    let thrown: unknown;
    try {
      validate(zod3);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TributaryError);
    expect((thrown as TributaryError).code).toBe('TRIBUTARY_ERR_PIPELINE_DEFINITION');
    expect((thrown as TributaryError).message).toBe(
      "validate: zod 4 schema expected, got a zod 3 one (it has no _zod property); with zod 3.25 import { z } from 'zod/v4'",
    );
    expect(() => validate(undefined as unknown as z.ZodType)).toThrowError(
      /^validate: zod 4 schema expected, got undefined/,
    );
  });
});
