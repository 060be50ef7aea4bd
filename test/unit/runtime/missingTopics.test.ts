import { describe, expect, it } from 'vitest';
import { missingTopics } from '../../../src/runtime/missingTopics.js';

const adminWith = (topics: string[]) => {
  let calls = 0;
  return {
    listTopics: async () => {
      calls++;
      return topics;
    },
    calls: () => calls,
  };
};

describe('missingTopics', () => {
  it('names the topics the broker does not have, each once, in the order given', async () => {
    const admin = adminWith(['orders', 'orders.dlq']);
    expect(await missingTopics(admin, ['orders', 'typo', 'orders.dlq', 'dlq.typo', 'typo'])).toEqual([
      'typo',
      'dlq.typo',
    ]);
  });

  it('says nothing is missing when every topic exists', async () => {
    expect(await missingTopics(adminWith(['a', 'b']), ['b', 'a'])).toEqual([]);
  });

  it('asks the broker nothing when there is nothing to check', async () => {
    const admin = adminWith([]);
    expect(await missingTopics(admin, [])).toEqual([]);
    expect(admin.calls()).toBe(0);
  });

  it('passes the admin failure on (the caller decides whether to start)', async () => {
    const admin = {
      listTopics: async (): Promise<string[]> => {
        throw new Error('broker unreachable');
      },
    };
    await expect(missingTopics(admin, ['a'])).rejects.toThrow('broker unreachable');
  });
});
