import { map, type OperatorFunction } from 'rxjs';
import * as z from 'zod';
import { type Element, type Envelope, type RawValue, withValue } from '../src/envelope.js';
import { errorMessage } from '../src/errors.js';
import { stageNameSchema } from '../src/names.js';
import { describeStage } from '../src/runtime/stageInfo.js';
import { failAt } from './internal/failure.js';
import { checkOptions, functionSchema } from './internal/options.js';
import { isPromiseLike } from './internal/promiseLike.js';
import { checkRaw, DEFAULT_MAX_BYTES, decodeUtf8, maxBytesSchema } from './internal/rawValue.js';

/** A synchronous decoder of a record's value bytes; what it throws becomes a failed element (TRIBUTARY_ERR_PARSE). */
export type Decoder<T> = (raw: Buffer, element: Envelope<RawValue>) => T;

/** How {@link parse} decodes: `'string'` (strict UTF-8), `'bytes'` (the Buffer as is) or a {@link Decoder}. */
export type Codec<T> = 'string' | 'bytes' | Decoder<T>;

/** Options of {@link parse}. */
export interface ParseOptions {
  /** Stage name (`[A-Za-z0-9._-]`): metric label, log binding, `tributary-stage` header. Default `'parse'`. */
  name?: string;
  /** Largest value accepted, in bytes; longer values fail with TRIBUTARY_ERR_PARSE. Default 1 MiB (1048576). */
  maxBytes?: number;
}

/** The runtime check and reference documentation of {@link ParseOptions}. */
export const parseOptionsSchema = z
  .strictObject({
    name: stageNameSchema.optional(),
    maxBytes: maxBytesSchema.optional(),
  })
  .describe('Options of parse(): decode each record value with a codec.');

/** The runtime check and reference documentation of {@link Codec}. */
export const codecSchema = z
  .union([
    z.literal('string').describe('Strict UTF-8 text (a leading BOM is dropped).'),
    z.literal('bytes').describe('The value bytes as a Buffer, unchanged.'),
    functionSchema<Decoder<unknown>>(
      '(raw: Buffer, element) => T',
      'A synchronous decoder; what it throws fails the record.',
    ),
  ])
  .describe('How parse() decodes a record value.');

/**
 * Decodes each record value with a codec.
 *
 * <span class="informal">Bytes in, decoded value out; what cannot be decoded becomes a failed element.</span>
 *
 * A tombstone (null value) and a value longer than `maxBytes` fail whatever the codec. `'string'` decodes strict
 * UTF-8 (invalid bytes fail, naming the first bad byte's offset); `'bytes'` hands the Buffer on; a decoder
 * function's return value becomes the value, and what it throws (or a Promise it returns: decoders are
 * synchronous) becomes a failed element. All failures carry code `TRIBUTARY_ERR_PARSE` (never retried). Failed input
 * elements pass through untouched.
 *
 * ```text
 * --a-----b-----c-----|      a = 'héllo'   b = <ff fe>   c = null
 *   parse('string')
 * --A-----B-----C-----|      A = 'héllo'   B, C = failed (TRIBUTARY_ERR_PARSE)
 * ```
 *
 * @example
 * ```ts
 * records.pipe(parse('string', { name: 'urls.decode' }), mapValue((url) => new URL(url)));
 * records.pipe(parse((raw) => avro.decode(raw)));
 * ```
 * @see parseJson for JSON
 * @param codec `'string'`, `'bytes'` or a synchronous decoder
 * @param options stage name and size limit
 * @returns an operator from raw elements to elements holding the decoded value
 */
export function parse(codec: 'string', options?: ParseOptions): OperatorFunction<Element<RawValue>, Element<string>>;
export function parse(codec: 'bytes', options?: ParseOptions): OperatorFunction<Element<RawValue>, Element<Buffer>>;
export function parse<T>(codec: Decoder<T>, options?: ParseOptions): OperatorFunction<Element<RawValue>, Element<T>>;
export function parse<T>(
  codec: Codec<T>,
  options: ParseOptions = {},
): OperatorFunction<Element<RawValue>, Element<T | string | Buffer>> {
  checkOptions('parse', codecSchema, codec);
  checkOptions('parse', parseOptionsSchema, options);
  const { name = 'parse', maxBytes = DEFAULT_MAX_BYTES } = options;
  return describeStage(
    map((element): Element<T | string | Buffer> => {
      if (!element.ok) return element;
      const bytes = checkRaw(element, name, maxBytes);
      if (!bytes.ok) return bytes.failure;
      if (codec === 'bytes') return withValue(element, bytes.value);
      if (codec === 'string') {
        const text = decodeUtf8(element, name, bytes.value);
        return text.ok ? withValue(element, text.value) : text.failure;
      }
      try {
        const value = codec(bytes.value, element);
        if (isPromiseLike(value)) {
          value.then(undefined, () => {}); // never an unhandled rejection: the record fails either way
          return failAt(
            element,
            name,
            'TRIBUTARY_ERR_PARSE',
            'decoder returned a Promise; parse() decoders must be synchronous',
          );
        }
        return withValue(element, value);
      } catch (error) {
        return failAt(element, name, 'TRIBUTARY_ERR_PARSE', `decoder failed: ${errorMessage(error)}`, { cause: error });
      }
    }),
    { name, kind: 'parse' },
  );
}
