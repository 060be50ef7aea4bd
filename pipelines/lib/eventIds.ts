/**
 * Stable event ids. An event's id is derived from the id of the event that caused it and its own type, so when
 * Kafka re-delivers the cause (at-least-once), the answer carries the same id and consumers can drop the duplicate.
 */
import { createHash } from 'node:crypto';

/** A 32-hex-digit id for the event of type `eventType` caused by the event `causeId` (plus optional parts). */
export function deriveEventId(causeId: string, eventType: string, ...parts: readonly string[]): string {
  const hash = createHash('sha256');
  hash.update(causeId);
  hash.update('\u0000');
  hash.update(eventType);
  for (const part of parts) {
    hash.update('\u0000');
    hash.update(part);
  }
  return hash.digest('hex').slice(0, 32);
}

/** ISO 8601 text of a time in ms since the epoch. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}
