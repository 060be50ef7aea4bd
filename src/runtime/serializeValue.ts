/**
 * The default value of an outgoing record (`publish` without a `value` option, and the test driver's input topics):
 * Buffer and string as they are, null and undefined as a tombstone, anything else as JSON (bigints as decimal text).
 */
export function serializeValue(value: unknown): Buffer | string | null {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value) || typeof value === 'string') return value;
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}
