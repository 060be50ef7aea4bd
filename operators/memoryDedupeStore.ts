import * as z from 'zod';
import type { DedupeStore } from './dedupe.js';
import { checkOptions, functionSchema } from './internal/options.js';

/** Options of {@link memoryDedupeStore}. */
export interface MemoryDedupeStoreOptions {
  /** Most ids kept; beyond it the least recently remembered id is forgotten first. Default 100000. */
  maxEntries?: number;
  /** Clock in milliseconds (tests inject one). Default `Date.now`. */
  now?: () => number;
}

/** The runtime check and reference documentation of {@link MemoryDedupeStoreOptions}. */
export const memoryDedupeStoreOptionsSchema = z
  .strictObject({
    maxEntries: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('Most ids kept; beyond it the least recently remembered id is forgotten first. Default 100000.'),
    now: functionSchema<() => number>('() => number', 'Clock in milliseconds. Default Date.now.').optional(),
  })
  .describe('Options of memoryDedupeStore(): ids kept in this process, with expiry.');

/**
 * A {@link DedupeStore} in this process's memory: a Map of id → expiry, bounded by `maxEntries`.
 *
 * Ids are lost on restart and not shared between instances, so duplicates redelivered after a rebalance to another
 * instance are not caught; use {@link redisDedupeStore} for that. Expired ids are swept as new ones are remembered.
 *
 * @example
 * ```ts
 * records.pipe(dedupe({ id: (el) => el.value.id, ttlMs: 600_000, store: memoryDedupeStore({ maxEntries: 50_000 }) }));
 * ```
 * @see dedupe
 * @param options size bound and clock
 * @returns a store
 */
export function memoryDedupeStore(options: MemoryDedupeStoreOptions = {}): DedupeStore {
  checkOptions('memoryDedupeStore', memoryDedupeStoreOptionsSchema, options);
  const { maxEntries = 100_000, now = Date.now } = options;
  /** id → expiry (ms); insertion order = remember order, so the first entries are the oldest. */
  const expiries = new Map<string, number>();

  const sweep = (at: number) => {
    // Drop expired entries from the old end, a few at a time (amortised O(1) per remember).
    let budget = 16;
    for (const [id, expiresAt] of expiries) {
      if (budget-- === 0 || expiresAt > at) break;
      expiries.delete(id);
    }
    while (expiries.size > maxEntries) {
      const oldest = expiries.keys().next();
      if (oldest.done) break;
      expiries.delete(oldest.value);
    }
  };

  return {
    async seen(id) {
      const expiresAt = expiries.get(id);
      if (expiresAt === undefined) return false;
      if (expiresAt > now()) return true;
      expiries.delete(id);
      return false;
    },
    async remember(id, ttlMs) {
      const at = now();
      expiries.delete(id);
      expiries.set(id, at + ttlMs);
      sweep(at);
    },
  };
}
