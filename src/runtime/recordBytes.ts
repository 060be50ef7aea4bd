/** Approximate wire size of a record; only needs to be good enough to keep a request under the broker's limit. */
import type { OutgoingRecord } from '../kafka/ports.js';

function byteLength(value: Buffer | string | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'string' ? Buffer.byteLength(value) : value.length;
}

export function recordBytes(record: OutgoingRecord): number {
  let bytes = byteLength(record.key) + byteLength(record.value) + 16;
  const headers = record.headers;
  if (headers !== undefined) {
    for (const name in headers) {
      const value = headers[name];
      bytes += name.length;
      if (Array.isArray(value)) for (const v of value) bytes += byteLength(v as Buffer | string);
      else bytes += byteLength(value as Buffer | string | undefined);
    }
  }
  return bytes;
}
