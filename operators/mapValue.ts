import { map, type OperatorFunction } from 'rxjs';
import * as z from 'zod';
import { type Element, type Envelope, withValue } from '../src/envelope.js';
import { errorMessage } from '../src/errors.js';
import { stageNameSchema } from '../src/names.js';
import { describeStage } from '../src/runtime/stageInfo.js';
import { failAt } from './internal/failure.js';
import { checkOptions } from './internal/options.js';

/** Options of {@link mapValue}. */
export interface MapValueOptions {
  /** Stage name (`[A-Za-z0-9._-]`): metric label, log binding, `tributary-stage` header. Default `'mapValue'`. */
  name?: string;
}

/** The runtime check and reference documentation of {@link MapValueOptions}. */
export const mapValueOptionsSchema = z
  .strictObject({ name: stageNameSchema.optional() })
  .describe('Options of mapValue(): transform each value synchronously.');

/**
 * Transforms each ok element's value with a synchronous function.
 *
 * <span class="informal">`map` over `element.value`, keeping the record's origin; a throw fails the record.</span>
 *
 * What `fn` throws becomes a failed element with code `TRIBUTARY_ERR_PROCESSING`. Failed input elements pass
 * through untouched. For asynchronous work use {@link retryWithBackoff}, which keeps per-lane order.
 *
 * ```text
 * --1--2--3--|
 *   mapValue((n) => n * 10)
 * --a--b--c--|      a = 10, b = 20, c = 30
 * ```
 *
 * @example
 * ```ts
 * records.pipe(parseJson<Order>(), mapValue((order) => ({ ...order, total: order.items.length }), { name: 'orders.total' }));
 * ```
 * @param fn the transformation, given the value and its element
 * @param options stage name
 * @returns an operator whose ok elements hold `fn`'s result
 */
export function mapValue<T, R>(
  fn: (value: T, element: Envelope<T>) => R,
  options: MapValueOptions = {},
): OperatorFunction<Element<T>, Element<R>> {
  checkOptions('mapValue', mapValueOptionsSchema, options);
  const { name = 'mapValue' } = options;
  return describeStage(
    map((element): Element<R> => {
      if (!element.ok) return element;
      try {
        return withValue(element, fn(element.value, element));
      } catch (error) {
        return failAt(element, name, 'TRIBUTARY_ERR_PROCESSING', errorMessage(error), { cause: error });
      }
    }),
    { name, kind: 'mapValue' },
  );
}
