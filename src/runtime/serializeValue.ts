/**
 * The default value of an outgoing record (`publish` without a `value` option, and the test driver's input topics):
 * Buffer and string as they are, null and undefined as a tombstone, anything else as JSON (bigints as decimal text).
 */
export function serializeValue(value: unknown): Buffer | string | null {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value) || typeof value === 'string') return value;
  // Once per published record: JSON.stringify with a replacer function takes twice as long (a call per key), so the
  // replacer only runs for the values that need it, those holding a bigint (plain stringify throws a TypeError on them).
  try {
    return JSON.stringify(value);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    return JSON.stringify(value, bigintAsText);
  }
}

function bigintAsText(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
