/**
 * Reading and writing Kafka header values, in one place for the dead-letter format, the retry topics, the CLI and
 * the test driver. Spring Kafka writes partitions as 4-byte and offsets and timestamps as 8-byte big-endian integers;
 * people and Tributary's own retry headers write decimal text. A header may repeat: readers take its last value.
 */
import type { HeaderValue, RecordHeaders } from './ports.js';

/** One header's value as a record carries it: text or bytes, one or several, or absent. */
export type HeaderField = HeaderValue | readonly HeaderValue[] | undefined;

function last(value: HeaderField): HeaderValue | undefined {
  return Array.isArray(value) ? value[value.length - 1] : (value as HeaderValue | undefined);
}

/** The header's (last) value as UTF-8 text. */
export function readTextHeader(value: HeaderField): string | undefined {
  const v = last(value);
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : v.toString('utf8');
}

/** Reads a header written by Spring (binary big-endian, 4 or 8 bytes) or by a person (decimal text). */
export function readIntegerHeader(value: HeaderField): bigint | undefined {
  const v = last(value);
  if (v === undefined) return undefined;
  if (typeof v === 'string') return /^-?\d+$/.test(v) ? BigInt(v) : undefined;
  if (v.length === 4) return BigInt(v.readInt32BE());
  if (v.length === 8) return v.readBigInt64BE();
  const text = v.toString('utf8');
  return /^-?\d+$/.test(text) ? BigInt(text) : undefined;
}

/**
 * A decimal-text header (`tributary-retry-attempt`, `tributary-retry-due`, `tributary-attempts`). Not
 * readIntegerHeader: that one reads 4- and 8-byte values as Spring's binary integers, so "1000" would be misread.
 */
export function readDecimalHeader(value: HeaderField): bigint | undefined {
  const text = readTextHeader(value)?.trim();
  return text !== undefined && /^-?\d{1,19}$/.test(text) ? BigInt(text) : undefined;
}

/** A 4-byte big-endian integer, as Spring writes `kafka_dlt-original-partition`. Throws outside int32. */
export function int32Header(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(value);
  return b;
}

/** An 8-byte big-endian integer, as Spring writes offsets and timestamps. Throws outside int64. */
export function int64Header(value: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(value);
  return b;
}

/** The headers without those `drop` names (and without absent values): a copy the caller may add to. */
export function withoutHeaders(
  headers: RecordHeaders,
  drop: (name: string) => boolean,
): Record<string, HeaderValue | readonly HeaderValue[]> {
  const kept: Record<string, HeaderValue | readonly HeaderValue[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !drop(name)) kept[name] = value;
  }
  return kept;
}

const ELLIPSIS = '…';
const ELLIPSIS_BYTES = Buffer.byteLength(ELLIPSIS, 'utf8');

/**
 * `text` in at most `maxBytes` UTF-8 bytes, for a header value with a size budget: as it is when it fits, else cut
 * on a character boundary and ended with `…` (the ellipsis counts towards `maxBytes`).
 */
export function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let end = Math.max(0, maxBytes - ELLIPSIS_BYTES);
  // back up to the first byte of a character (continuation bytes are 0b10xxxxxx)
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return `${bytes.subarray(0, end).toString('utf8')}${ELLIPSIS}`;
}
