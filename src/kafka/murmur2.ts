/**
 * Kafka's default partitioner for keyed records, as the Java client computes it (`toPositive(murmur2(keyBytes)) %
 * partitions`) and kafkajs 2.x' DefaultPartitioner too: the engine's producers choose partitions with it, and the test
 * driver puts records where a real broker would. 32-bit integer arithmetic (Math.imul), no allocation: the client's
 * own murmur2 computes with BigInt, which allocated about 550 bytes per record on the workload (bench/README.md).
 */

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
