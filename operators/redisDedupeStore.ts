import * as z from 'zod';
import type { DedupeStore } from './dedupe.js';
import { checkOptions, TS_TYPE } from './internal/options.js';

/**
 * The two commands the store sends. An ioredis `Redis` or `Cluster` has them (ioredis is an optional peer dependency:
 * the caller creates the client, this package never loads it).
 */
export interface RedisDedupeClient {
  exists(key: string): Promise<number>;
  set(key: string, value: string, expiryMode: 'PX', milliseconds: number): Promise<unknown>;
}

/** Options of {@link redisDedupeStore}. */
export interface RedisDedupeStoreOptions {
  /** A connected (or lazily connecting) ioredis client or cluster; the caller owns it and quits it. Required. */
  client: RedisDedupeClient;
  /** Prepended to every id to form the Redis key. Default `'tributary:dedupe:'`. */
  prefix?: string;
}

/** The runtime check and reference documentation of {@link RedisDedupeStoreOptions}. */
export const redisDedupeStoreOptionsSchema = z
  .strictObject({
    client: z
      .custom<RedisDedupeClient>(
        (value) =>
          typeof value === 'object' &&
          value !== null &&
          typeof (value as RedisDedupeClient).exists === 'function' &&
          typeof (value as RedisDedupeClient).set === 'function',
        { message: 'expected an ioredis client (Redis or Cluster)' },
      )
      .meta({
        description: 'An ioredis client or cluster; the caller connects and quits it. Required.',
        [TS_TYPE]: 'Redis | Cluster',
      }),
    prefix: z.string().optional().describe("Prepended to every id to form the Redis key. Default 'tributary:dedupe:'."),
  })
  .describe('Options of redisDedupeStore(): ids kept in Redis, shared by every instance.');

/**
 * A {@link DedupeStore} in Redis, shared by every instance of a pipeline: `EXISTS <prefix><id>` to check,
 * `SET <prefix><id> 1 PX <ttlMs>` to remember (Redis expires the key).
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
 * records.pipe(dedupe({ id: (el) => el.value.messageId, ttlMs: 86_400_000, store: redisDedupeStore({ client: redis, prefix: 'scraper:seen:' }) }));
 * ```
 * @see dedupe
 * @param options the client and the key prefix
 * @returns a store
 */
export function redisDedupeStore(options: RedisDedupeStoreOptions): DedupeStore {
  checkOptions('redisDedupeStore', redisDedupeStoreOptionsSchema, options);
  const { client, prefix = 'tributary:dedupe:' } = options;
  return {
    async seen(id) {
      return (await client.exists(prefix + id)) > 0;
    },
    async remember(id, ttlMs) {
      await client.set(prefix + id, '1', 'PX', Math.max(1, Math.ceil(ttlMs)));
    },
  };
}
