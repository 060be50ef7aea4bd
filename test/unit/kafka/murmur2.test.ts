import { murmur2 as clientMurmur2 } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey } from '../../../src/kafka/murmur2.js';

describe('murmur2 (the producers’ partitioner)', () => {
  it("matches the Java client's test vectors (UtilsTest.testMurmur2)", () => {
    const java: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of java) expect(murmur2(Buffer.from(key)), key).toBe(hash);
  });

  it("computes what @platformatic/kafka's own (BigInt) murmur2 computes, for every tail length and any byte", () => {
    let seed = 7;
    const byte = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 24;
    };
    for (let length = 0; length <= 64; length++) {
      for (let n = 0; n < 20; n++) {
        const key = Buffer.from(Array.from({ length }, byte));
        expect(murmur2(key), key.toString('hex')).toBe(clientMurmur2(key));
      }
    }
  });

  it('puts a key in the partition Java and kafkajs put it: the hash masked to 31 bits, modulo the partitions', () => {
    for (const key of ['u-04404', 'u-00001', 'feed-17', '']) {
      const hash = murmur2(Buffer.from(key));
      for (const partitions of [1, 2, 6, 7, 100]) {
        expect(partitionForKey(Buffer.from(key), partitions)).toBe((hash & 0x7fffffff) % partitions);
      }
    }
    // negative hashes too: 'foobar' hashes to a negative number
    expect(partitionForKey(Buffer.from('foobar'), 1000)).toBe((-790332482 & 0x7fffffff) % 1000);
  });
});
