/**
 * The in-memory producer. A send is one request: the broker checks it all, then writes all of it or nothing (a record
 * for a partition its topic does not have is left out and reported with `UnwrittenRecordsError`), and acknowledges
 * on a later microtask. Keyed records land where Kafka's murmur2 puts them; a keyless record goes round-robin and
 * keeps the partition it got first when it is sent again, like the kafkajs adapter's pinning partitioner.
 */
import { type OutgoingRecord, type ProducerPort, UnwrittenRecordsError } from '../../kafka/ports.js';
import { recordBytes } from '../../runtime/recordBytes.js';
import { toBuffer } from '../testTopics.js';
import type { MemoryCluster, StoredRecordRequest } from './memoryCluster.js';
import { MemoryKafkaError, unknownTopic } from './memoryErrors.js';

export class MemoryProducer implements ProducerPort {
  readonly #kafka: MemoryCluster;
  readonly #pinned = new WeakMap<OutgoingRecord, number>();
  #connected = false;
  /** Producer sessions started (`reset()`): each one a new producer id on a real broker. */
  sessions = 1;

  constructor(kafka: MemoryCluster) {
    this.#kafka = kafka;
  }

  async connect(): Promise<void> {
    this.#connected = true;
  }

  async send(records: readonly OutgoingRecord[]): Promise<void> {
    if (!this.#connected) throw new MemoryKafkaError('NETWORK_EXCEPTION', 'the producer is not connected', true);
    await Promise.resolve(); // acknowledged asynchronously, never inside the caller's stack
    const kafka = this.#kafka;
    const writes: StoredRecordRequest[] = [];
    const unwritten: number[] = [];
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as OutgoingRecord;
      const topic = kafka.topicOrCreate(record.topic);
      if (topic === undefined) throw unknownTopic(record.topic);
      const partition = this.#partition(record, topic.partitions);
      if (partition === undefined) {
        unwritten.push(i);
        continue;
      }
      const limit = kafka.maxMessageBytesOf(record.topic);
      if (recordBytes(record) > limit) {
        throw new MemoryKafkaError(
          'MESSAGE_TOO_LARGE',
          `a record for ${record.topic}/${partition} is larger than ${limit} bytes`,
          false,
        );
      }
      if (record.key === null && kafka.isCompacted(record.topic)) {
        throw new MemoryKafkaError(
          'INVALID_RECORD',
          `Compacted topic cannot accept message without key in topic partition ${record.topic}-${partition}`,
          false,
        );
      }
      writes.push({
        topic: record.topic,
        key: record.key,
        value: record.value,
        headers: record.headers,
        partition,
      });
    }
    const failure = kafka.failures.take(writes);
    if (failure !== undefined && !failure.written) throw failure.error;
    if (kafka.beforeWrite) for (const write of writes) await kafka.beforeWrite(write);
    for (const write of writes) kafka.append(write);
    if (failure !== undefined) throw failure.error;
    if (unwritten.length > 0) {
      throw new UnwrittenRecordsError(
        unwritten,
        `${unwritten.length} of ${records.length} records were not sent: their topic has no such partition`,
      );
    }
  }

  /** A new producer session; nothing else changes in memory (writes are atomic, so no sequence to roll back). */
  async reset(): Promise<void> {
    this.sessions++;
  }

  async disconnect(): Promise<void> {
    this.#connected = false;
  }

  #partition(record: OutgoingRecord, partitions: number): number | undefined {
    if (record.partition !== undefined) {
      const p = record.partition;
      return Number.isInteger(p) && p >= 0 && p < partitions ? p : undefined;
    }
    if (record.key !== null) return this.#kafka.choosePartition(record.topic, partitions, toBuffer(record.key));
    const pinned = this.#pinned.get(record);
    if (pinned !== undefined && pinned < partitions) return pinned;
    const chosen = this.#kafka.choosePartition(record.topic, partitions, null);
    this.#pinned.set(record, chosen);
    return chosen;
  }
}
