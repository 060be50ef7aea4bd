import { filter, map, type OperatorFunction } from 'rxjs';
import * as z from 'zod';
import type { Element, Envelope } from '../src/envelope.js';
import { errorMessage } from '../src/errors.js';
import { stageNameSchema } from '../src/names.js';
import { describeStage } from '../src/runtime/stageInfo.js';
import { failAt } from './internal/failure.js';
import { checkOptions } from './internal/options.js';

/** Options of {@link filterValue}. */
export interface FilterValueOptions {
  /** Stage name (`[A-Za-z0-9._-]`): metric label, log binding, `tributary-stage` header. Default `'filterValue'`. */
  name?: string;
}

/** The runtime check and reference documentation of {@link FilterValueOptions}. */
export const filterValueOptionsSchema = z
  .strictObject({ name: stageNameSchema.optional() })
  .describe('Options of filterValue(): keep the values a predicate accepts.');

/**
 * Keeps the ok elements whose value satisfies a synchronous predicate; the others finish as `filtered`.
 *
 * <span class="informal">`filter` over `element.value`; dropped records are finished so their offsets commit.</span>
 *
 * A dropped record's ticket is finished with outcome `'filtered'` before it is dropped, so the engine can commit past
 * it. What the predicate throws becomes a failed element with code `TRIBUTARY_ERR_PROCESSING` (not dropped). Failed
 * input elements pass through untouched. A type-guard predicate narrows the output type.
 *
 * ```text
 * --1--2--3--4--|
 *   filterValue((n) => n % 2 === 0)
 * -----2-----4--|      1 and 3 finish as 'filtered'
 * ```
 *
 * @example
 * ```ts
 * records.pipe(parseJson<FeedEvent>(), filterValue((e): e is Liked => e.type === 'liked', { name: 'feed.likes' }));
 * ```
 * @param predicate whether to keep the value (given the value and its element)
 * @param options stage name
 * @returns an operator that emits the kept elements and the failed ones
 */
export function filterValue<T, S extends T>(
  predicate: (value: T, element: Envelope<T>) => value is S,
  options?: FilterValueOptions,
): OperatorFunction<Element<T>, Element<S>>;
export function filterValue<T>(
  predicate: (value: T, element: Envelope<T>) => boolean,
  options?: FilterValueOptions,
): OperatorFunction<Element<T>, Element<T>>;
export function filterValue<T>(
  predicate: (value: T, element: Envelope<T>) => boolean,
  options: FilterValueOptions = {},
): OperatorFunction<Element<T>, Element<T>> {
  checkOptions('filterValue', filterValueOptionsSchema, options);
  const { name = 'filterValue' } = options;
  const operator: OperatorFunction<Element<T>, Element<T>> = (source) =>
    source.pipe(
      map((element): Element<T> | undefined => {
        if (!element.ok) return element;
        let keep: boolean;
        try {
          keep = predicate(element.value, element);
        } catch (error) {
          return failAt(element, name, 'TRIBUTARY_ERR_PROCESSING', errorMessage(error), { cause: error });
        }
        if (keep) return element;
        element.ticket.finish('filtered');
        return undefined;
      }),
      filter((element): element is Element<T> => element !== undefined),
    );
  return describeStage(operator, { name, kind: 'filterValue' });
}
