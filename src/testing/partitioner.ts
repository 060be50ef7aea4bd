/**
 * Which partition a record lands in, the way the engine's producer chooses it: kafkajs 2.x `DefaultPartitioner`,
 * which is the Java client's (`toPositive(murmur2(keyBytes)) % partitions`). The same key therefore lands in the
 * same partition number in the test driver as on a real broker with the same partition count, so ordering lanes
 * match production. Keyless records go round-robin from partition 0 (kafkajs starts at a random partition; the
 * driver is deterministic instead).
 */

export type PartitionChooser = (topic: string, partitions: number, key: Buffer | null) => number;

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2): a signed 32-bit hash of the key bytes. */
export function murmur2(data: Buffer): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k =
      ((data[i4] as number) & 0xff) |
      (((data[i4 + 1] as number) & 0xff) << 8) |
      (((data[i4 + 2] as number) & 0xff) << 16) |
      (((data[i4 + 3] as number) & 0xff) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  const tail = length & ~3;
  const rest = length % 4;
  if (rest === 3) h ^= ((data[tail + 2] as number) & 0xff) << 16;
  if (rest >= 2) h ^= ((data[tail + 1] as number) & 0xff) << 8;
  if (rest >= 1) {
    h ^= (data[tail] as number) & 0xff;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition of a keyed record among `partitions`, as Kafka's default partitioner computes it. */
export function partitionForKey(key: Buffer, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

/** A partition chooser with its own round-robin counters (one per driver). */
export function createPartitionChooser(): PartitionChooser {
  const roundRobin = new Map<string, number>();
  return (topic, partitions, key) => {
    if (!Number.isInteger(partitions) || partitions < 1) throw new RangeError(`${topic}: ${partitions} partitions`);
    if (key !== null) return partitionForKey(key, partitions);
    const next = roundRobin.get(topic) ?? 0;
    roundRobin.set(topic, next + 1);
    return next % partitions;
  };
}
