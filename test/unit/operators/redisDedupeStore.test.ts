import { randomUUID } from 'node:crypto';
import { type Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { dedupe } from '../../../operators/dedupe.js';
import { type RedisDedupeClient, redisDedupeStore } from '../../../operators/redisDedupeStore.js';
import { expectOk, runOperator, testEnvelope } from '../../support/envelopes.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Whether a Redis server answers at REDIS_URL (these tests are skipped, loudly, when none does). */
async function redisAnswers(): Promise<boolean> {
  const probe = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

const available = await redisAnswers();
if (!available) console.warn(`[redisDedupeStore.test] no Redis at ${REDIS_URL}: skipped`);

it('takes an ioredis Redis or Cluster as its client, without importing ioredis itself (types)', () => {
  expectTypeOf<Redis>().toExtend<RedisDedupeClient>();
  expectTypeOf<Cluster>().toExtend<RedisDedupeClient>();
  expectTypeOf<{ exists(key: string): Promise<number> }>().not.toExtend<RedisDedupeClient>();
});

describe.skipIf(!available)('redisDedupeStore (Redis at REDIS_URL, default 127.0.0.1:6379)', () => {
  let client: Redis;
  const prefixes: string[] = [];
  const uniquePrefix = () => {
    const prefix = `tributary-test:${randomUUID()}:`;
    prefixes.push(prefix);
    return prefix;
  };

  beforeAll(() => {
    client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  });

  afterAll(async () => {
    for (const prefix of prefixes) {
      const keys = await client.keys(`${prefix}*`);
      if (keys.length > 0) await client.del(...keys);
    }
    await client.quit();
  });

  it('remembers an id with SET PX under the prefix, and EXISTS answers seen', async () => {
    const prefix = uniquePrefix();
    const store = redisDedupeStore({ client, prefix });
    expect(await store.seen('order-1')).toBe(false);
    await store.remember('order-1', 60_000);
    expect(await store.seen('order-1')).toBe(true);
    expect(await store.seen('order-2')).toBe(false);
    expect(await client.get(`${prefix}order-1`)).toBe('1');
    const ttl = await client.pttl(`${prefix}order-1`);
    expect(ttl).toBeGreaterThan(59_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('lets Redis expire ids after their TTL', async () => {
    const store = redisDedupeStore({ client, prefix: uniquePrefix() });
    await store.remember('short', 50);
    expect(await store.seen('short')).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(await store.seen('short')).toBe(false);
  });

  it('keeps stores with different prefixes apart', async () => {
    const one = redisDedupeStore({ client, prefix: uniquePrefix() });
    const two = redisDedupeStore({ client, prefix: uniquePrefix() });
    await one.remember('id', 60_000);
    expect(await one.seen('id')).toBe(true);
    expect(await two.seen('id')).toBe(false);
  });

  it('deduplicates across operator instances (two pipeline instances share the store)', async () => {
    const prefix = uniquePrefix();
    const instanceA = dedupe<{ id: string }>({
      id: (el) => el.value.id,
      ttlMs: 60_000,
      store: redisDedupeStore({ client, prefix }),
    });
    const instanceB = dedupe<{ id: string }>({
      id: (el) => el.value.id,
      ttlMs: 60_000,
      store: redisDedupeStore({ client, prefix }),
    });
    const [first] = await runOperator([testEnvelope({ id: 'msg-1' })], instanceA);
    expectOk(first).ticket.finish('published');
    // remember() is fire-and-forget: wait until Redis has the key
    for (let i = 0; i < 50 && (await client.exists(`${prefix}msg-1`)) === 0; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const redelivered = testEnvelope({ id: 'msg-1' });
    expect(await runOperator([redelivered], instanceB)).toEqual([]);
    expect(redelivered.ticket.outcome).toBe('filtered');
    const other = testEnvelope({ id: 'msg-2' });
    expect(await runOperator([other], instanceB)).toHaveLength(1);
  });

  it('uses the default prefix tributary:dedupe:', async () => {
    const id = `test-${randomUUID()}`;
    const store = redisDedupeStore({ client });
    try {
      await store.remember(id, 10_000);
      expect(await client.exists(`tributary:dedupe:${id}`)).toBe(1);
    } finally {
      await client.del(`tributary:dedupe:${id}`);
    }
  });

  it('rejects a missing client', () => {
    expect(() => redisDedupeStore({} as never)).toThrowError(/redisDedupeStore: invalid options: client/);
  });
});
