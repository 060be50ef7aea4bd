/**
 * How much one fetch may bring, for the @platformatic/kafka adapter and the test driver, which mirrors it (kafkajs
 * applies its own defaults): per partition, and from one broker with all partitions together.
 *
 * The total: the client decodes a response whole, and its records wait, decoded, until the engine admits them, so
 * this bounds them by bytes, however many of a broker's partitions are assigned. Against 10 MiB (kafkajs' default),
 * 1 MiB kept the throughput (the broker's fetch session moves the partitions that returned data to the end of the
 * next response, so every partition gets its turn) and, under a capped heap, one engine used about a tenth less CPU:
 * fewer records lived long enough to be copied to the old generation (bench/README.md). A larger
 * `maxBytesPerPartition` raises it: a partition may still fill a fetch, as it asked.
 */
import type { ConsumerOptions } from './ports.js';

const DEFAULT_MAX_BYTES_PER_PARTITION = 1_048_576;
const DEFAULT_FETCH_MAX_BYTES = 1_048_576;

export interface FetchLimits {
  /** Most bytes of one partition in one fetch (the first record batch comes whole whatever its size). */
  readonly perPartition: number;
  /** Most bytes of one fetch, all partitions together (the same exception). */
  readonly total: number;
}

export function fetchLimits(options: Pick<ConsumerOptions, 'maxBytesPerPartition' | 'maxBytes'>): FetchLimits {
  const perPartition = options.maxBytesPerPartition ?? DEFAULT_MAX_BYTES_PER_PARTITION;
  return { perPartition, total: options.maxBytes ?? Math.max(perPartition, DEFAULT_FETCH_MAX_BYTES) };
}
