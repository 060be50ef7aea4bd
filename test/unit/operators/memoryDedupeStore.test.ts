import { describe, expect, it } from 'vitest';
import { memoryDedupeStore } from '../../../operators/memoryDedupeStore.js';

describe('memoryDedupeStore', () => {
  it('remembers ids until their TTL expires', async () => {
    let now = 1_000;
    const store = memoryDedupeStore({ now: () => now });
    expect(await store.seen('a')).toBe(false);
    await store.remember('a', 100);
    expect(await store.seen('a')).toBe(true);
    expect(await store.seen('b')).toBe(false);
    now = 1_099;
    expect(await store.seen('a')).toBe(true);
    now = 1_100;
    expect(await store.seen('a')).toBe(false);
  });

  it('extends the expiry when an id is remembered again', async () => {
    let now = 0;
    const store = memoryDedupeStore({ now: () => now });
    await store.remember('a', 100);
    now = 90;
    await store.remember('a', 100);
    now = 150;
    expect(await store.seen('a')).toBe(true);
  });

  it('stays within maxEntries, forgetting the least recently remembered ids first', async () => {
    const store = memoryDedupeStore({ maxEntries: 3 });
    for (const id of ['a', 'b', 'c']) await store.remember(id, 60_000);
    await store.remember('a', 60_000); // refreshed: now the newest
    await store.remember('d', 60_000);
    expect(await Promise.all(['a', 'b', 'c', 'd'].map((id) => store.seen(id)))).toEqual([true, false, true, true]);
  });

  it('works with the real clock', async () => {
    const store = memoryDedupeStore();
    await store.remember('x', 20);
    expect(await store.seen('x')).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(await store.seen('x')).toBe(false);
  });

  it('rejects invalid options', () => {
    expect(() => memoryDedupeStore({ maxEntries: 0 })).toThrowError(/memoryDedupeStore: invalid options: maxEntries/);
  });
});
