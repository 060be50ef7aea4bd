/**
 * Which partition a record lands in, the way the engine's producer chooses it: kafkajs 2.x `DefaultPartitioner`,
 * which is the Java client's (`toPositive(murmur2(keyBytes)) % partitions`). The same key therefore lands in the
 * same partition number in the test driver as on a real broker with the same partition count, so ordering lanes
 * match production. Keyless records go round-robin from partition 0 (kafkajs starts at a random partition; the
 * driver is deterministic instead).
 */

import { partitionForKey } from '../kafka/murmur2.js';

export { murmur2, partitionForKey } from '../kafka/murmur2.js';

export type PartitionChooser = (topic: string, partitions: number, key: Buffer | null) => number;

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
