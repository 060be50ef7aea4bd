import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createPartitionChooser, murmur2, partitionForKey } from '../../../src/testing/index.js';

describe('createPartitionChooser', () => {
  it("chooses keyed partitions exactly like kafkajs' DefaultPartitioner (Java's murmur2)", () => {
    const choose = createPartitionChooser();
    const kafkajs = Partitioners.DefaultPartitioner();
    for (const partitions of [1, 2, 3, 6, 12]) {
      const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
        partitionErrorCode: 0,
        partitionId,
        leader: 1,
        replicas: [1],
        isr: [1],
      }));
      for (let i = 0; i < 200; i++) {
        const key = `feed-${i}`;
        expect(choose('t', partitions, Buffer.from(key))).toBe(
          kafkajs({ topic: 't', partitionMetadata, message: { key, value: null } }),
        );
      }
    }
  });

  it("matches the Java client's murmur2 test vectors (UtilsTest.testMurmur2)", () => {
    const choose = createPartitionChooser();
    const javaMurmur2: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['abc', 479470107],
    ];
    for (const [key, hash] of javaMurmur2) {
      expect(murmur2(Buffer.from(key))).toBe(hash);
      expect(partitionForKey(Buffer.from(key), 7)).toBe((hash & 0x7fffffff) % 7);
      expect(choose('t', 7, Buffer.from(key))).toBe((hash & 0x7fffffff) % 7);
    }
    // every tail length (0 to 3 bytes past a multiple of 4), and bytes above 0x7f
    const kafkajs = Partitioners.DefaultPartitioner();
    const partitionMetadata = Array.from({ length: 1000 }, (_, partitionId) => ({
      partitionErrorCode: 0,
      partitionId,
      leader: 1,
      replicas: [1],
      isr: [1],
    }));
    for (let length = 0; length < 12; length++) {
      const key = Buffer.from(Array.from({ length }, (_, i) => (i * 37 + 200) % 256));
      expect(choose('t', 1000, key)).toBe(kafkajs({ topic: 't', partitionMetadata, message: { key, value: null } }));
    }
    // and spreads keys over all partitions
    const seen = new Set(Array.from({ length: 100 }, (_, i) => choose('t', 4, Buffer.from(`k${i}`))));
    expect(seen).toEqual(new Set([0, 1, 2, 3]));
  });

  it('sends keyless records round-robin from partition 0, per topic', () => {
    const choose = createPartitionChooser();
    expect([0, 1, 2, 3].map(() => choose('a', 3, null))).toEqual([0, 1, 2, 0]);
    expect(choose('b', 3, null)).toBe(0);
    expect(() => choose('a', 0, null)).toThrow(RangeError);
  });
});
