/**
 * The checks every decoder makes on a raw record value before decoding it: tombstones (null values) and oversized
 * values fail with TRIBUTARY_ERR_PARSE, and text decoding is strict UTF-8 with the position of the first bad byte.
 */
import * as z from 'zod';
import type { Envelope, FailedEnvelope, RawValue } from '../../src/envelope.js';
import { failAt } from './failure.js';

/** Default `maxBytes`: 1 MiB, Kafka's default `max.message.bytes` order of magnitude. */
export const DEFAULT_MAX_BYTES = 1_048_576;

/** The `maxBytes` option of the decoders (`parse`, `parseJson`). */
export const maxBytesSchema = z
  .number()
  .int()
  .positive()
  .describe(
    `Largest value accepted, in bytes; longer values fail with TRIBUTARY_ERR_PARSE. Default ${DEFAULT_MAX_BYTES}.`,
  );

export type Checked<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly failure: FailedEnvelope };

/** The value's bytes, or a failure for a tombstone or a value longer than `maxBytes`. */
export function checkRaw(element: Envelope<RawValue>, stage: string, maxBytes: number): Checked<Buffer> {
  const bytes = element.value;
  if (bytes === null || bytes === undefined) {
    return { ok: false, failure: failAt(element, stage, 'TRIBUTARY_ERR_PARSE', 'tombstone (null value)') };
  }
  if (bytes.length > maxBytes) {
    return {
      ok: false,
      failure: failAt(
        element,
        stage,
        'TRIBUTARY_ERR_PARSE',
        `value of ${bytes.length} bytes exceeds maxBytes ${maxBytes}`,
        { details: { bytes: bytes.length, maxBytes } },
      ),
    };
  }
  return { ok: true, value: bytes };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Strict UTF-8 decoding (a leading BOM is dropped); a failure names the first invalid byte's offset. */
export function decodeUtf8(element: Envelope<RawValue>, stage: string, bytes: Uint8Array): Checked<string> {
  try {
    return { ok: true, value: strictUtf8.decode(bytes) };
  } catch (error) {
    const at = firstInvalidUtf8(bytes);
    const message =
      at < 0 ? 'value is not valid UTF-8' : `value is not valid UTF-8: invalid byte sequence at byte offset ${at}`;
    return {
      ok: false,
      failure: failAt(element, stage, 'TRIBUTARY_ERR_PARSE', message, {
        cause: error,
        details: at < 0 ? undefined : { byteOffset: at },
      }),
    };
  }
}

/**
 * The offset of the first byte that starts an invalid (or truncated) UTF-8 sequence, or -1 when the bytes are valid
 * UTF-8. Same rules as the WHATWG decoder: no overlong forms, no surrogates, nothing above U+10FFFF.
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      i += 1;
      continue;
    }
    let need: number;
    let lower = 0x80;
    let upper = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) {
      need = 1;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      need = 2;
      if (lead === 0xe0) lower = 0xa0;
      if (lead === 0xed) upper = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      need = 3;
      if (lead === 0xf0) lower = 0x90;
      if (lead === 0xf4) upper = 0x8f;
    } else {
      return i;
    }
    for (let k = 1; k <= need; k += 1) {
      const next = bytes[i + k];
      if (next === undefined || next < lower || next > upper) return i;
      lower = 0x80;
      upper = 0xbf;
    }
    i += need + 1;
  }
  return -1;
}
