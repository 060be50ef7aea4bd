import { map, type OperatorFunction } from 'rxjs';
import * as z from 'zod';
import type { Element, Envelope } from '../src/envelope.js';
import { errorMessage } from '../src/errors.js';
import { stageNameSchema } from '../src/names.js';
import { describeStage } from '../src/runtime/stageInfo.js';
import { failAt } from './internal/failure.js';
import { checkOptions } from './internal/options.js';

/** Options of {@link tapValue}. */
export interface TapValueOptions {
  /** Stage name (`[A-Za-z0-9._-]`): metric label, log binding, `tributary-stage` header. Default `'tapValue'`. */
  name?: string;
}

/** The runtime check and reference documentation of {@link TapValueOptions}. */
export const tapValueOptionsSchema = z
  .strictObject({ name: stageNameSchema.optional() })
  .describe('Options of tapValue(): run a synchronous side effect on each value.');

/**
 * Runs a synchronous side effect on each ok element's value and emits the element unchanged.
 *
 * <span class="informal">`tap` over `element.value`; a throw fails the record instead of erroring the stream.</span>
 *
 * What `fn` throws becomes a failed element with code `TRIBUTARY_ERR_PROCESSING`. `fn`'s return value is ignored
 * (a returned Promise is not awaited: use {@link sink} or {@link retryWithBackoff} for asynchronous effects). Failed
 * input elements pass through untouched.
 *
 * ```text
 * --a--b--c--|
 *   tapValue((v) => seen.push(v))
 * --a--b--c--|
 * ```
 *
 * @example
 * ```ts
 * records.pipe(parseJson<Order>(), tapValue((order, el) => el.context.logger.debug({ orderId: order.id }, 'order')));
 * ```
 * @param fn the side effect, given the value and its element
 * @param options stage name
 * @returns an operator that emits its input elements
 */
export function tapValue<T>(
  fn: (value: T, element: Envelope<T>) => unknown,
  options: TapValueOptions = {},
): OperatorFunction<Element<T>, Element<T>> {
  checkOptions('tapValue', tapValueOptionsSchema, options);
  const { name = 'tapValue' } = options;
  return describeStage(
    map((element): Element<T> => {
      if (!element.ok) return element;
      try {
        fn(element.value, element);
        return element;
      } catch (error) {
        return failAt(element, name, 'TRIBUTARY_ERR_PROCESSING', errorMessage(error), { cause: error });
      }
    }),
    { name, kind: 'tapValue' },
  );
}
