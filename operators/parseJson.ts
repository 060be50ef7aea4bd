import { map, type OperatorFunction } from 'rxjs';
import * as z from 'zod';
import { type Element, type RawValue, withValue } from '../src/envelope.js';
import { errorMessage } from '../src/errors.js';
import { stageNameSchema } from '../src/names.js';
import { describeStage } from '../src/runtime/stageInfo.js';
import { failAt } from './internal/failure.js';
import { checkOptions } from './internal/options.js';
import { checkRaw, DEFAULT_MAX_BYTES, decodeUtf8, maxBytesSchema } from './internal/rawValue.js';

/** Options of {@link parseJson}. */
export interface ParseJsonOptions {
  /** Stage name (`[A-Za-z0-9._-]`): metric label, log binding, `tributary-stage` header. Default `'parseJson'`. */
  name?: string;
  /** Largest value accepted, in bytes; longer values fail with TRIBUTARY_ERR_PARSE. Default 1 MiB (1048576). */
  maxBytes?: number;
}

/** The runtime check and reference documentation of {@link ParseJsonOptions}. */
export const parseJsonOptionsSchema = z
  .strictObject({
    name: stageNameSchema.optional(),
    maxBytes: maxBytesSchema.optional(),
  })
  .describe('Options of parseJson(): decode each record value as UTF-8 JSON.');

/**
 * Decodes each record value as strict UTF-8 JSON.
 *
 * <span class="informal">Bytes in, parsed JSON out; anything undecodable becomes a failed element.</span>
 *
 * A tombstone (null value), a value longer than `maxBytes`, bytes that are not valid UTF-8 (the message names the
 * first bad byte's offset) and malformed JSON (the message is `JSON.parse`'s) each become a failed element with
 * code `TRIBUTARY_ERR_PARSE`, which is never retried and flows on to the dead-letter stage. Failed input elements
 * pass through untouched. Synchronous: emits each result as its input arrives.
 *
 * ```text
 * --a-----b-----c-----|      a = '{"id":1}'   b = '{"id":'   c = null
 *   parseJson()
 * --A-----B-----C-----|      A = { id: 1 }    B, C = failed (TRIBUTARY_ERR_PARSE)
 * ```
 *
 * @example
 * ```ts
 * records.pipe(parseJson<Order>({ name: 'orders.parse', maxBytes: 256 * 1024 }), validate(Order));
 * ```
 * @see parse for string, bytes or a custom decoder
 * @see validate to check (and type) the parsed value
 * @param options stage name and size limit
 * @returns an operator from raw elements to elements holding the parsed value (typed `T`, unchecked: validate it)
 */
export function parseJson<T = unknown>(
  options: ParseJsonOptions = {},
): OperatorFunction<Element<RawValue>, Element<T>> {
  checkOptions('parseJson', parseJsonOptionsSchema, options);
  const { name = 'parseJson', maxBytes = DEFAULT_MAX_BYTES } = options;
  return describeStage(
    map((element): Element<T> => {
      if (!element.ok) return element;
      const bytes = checkRaw(element, name, maxBytes);
      if (!bytes.ok) return bytes.failure;
      const text = decodeUtf8(element, name, bytes.value);
      if (!text.ok) return text.failure;
      try {
        return withValue(element, JSON.parse(text.value) as T);
      } catch (error) {
        return failAt(element, name, 'TRIBUTARY_ERR_PARSE', `malformed JSON: ${errorMessage(error)}`, { cause: error });
      }
    }),
    { name, kind: 'parseJson' },
  );
}
