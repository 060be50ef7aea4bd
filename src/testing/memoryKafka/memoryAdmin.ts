/** The in-memory admin: topics, end offsets and a group's committed offsets. */
import type { AdminPort, PartitionOffsets, TopicSpec } from '../../kafka/ports.js';
import type { MemoryCluster } from './memoryCluster.js';
import { MemoryKafkaError, unknownTopic } from './memoryErrors.js';

export class MemoryAdmin implements AdminPort {
  readonly #kafka: MemoryCluster;

  constructor(kafka: MemoryCluster) {
    this.#kafka = kafka;
  }

  async connect(): Promise<void> {}

  async createTopics(topics: readonly TopicSpec[]): Promise<string[]> {
    const created: string[] = [];
    for (const spec of topics) {
      if (!Number.isInteger(spec.partitions) || spec.partitions < 1) {
        throw new MemoryKafkaError('INVALID_PARTITIONS', `topic ${spec.topic}: ${spec.partitions} partitions`, false);
      }
      if (this.#kafka.topic(spec.topic) !== undefined) continue;
      this.#kafka.createTopic(spec.topic, spec.partitions, spec.config ? { config: spec.config } : {});
      created.push(spec.topic);
    }
    return created;
  }

  async listTopics(): Promise<string[]> {
    return this.#kafka.topics();
  }

  async endOffsets(topic: string): Promise<PartitionOffsets[]> {
    const log = this.#kafka.topic(topic);
    if (log === undefined) throw unknownTopic(topic);
    return log.logs.map((records, partition) => ({ partition, low: 0n, high: BigInt(records.length) }));
  }

  async committedOffsets(groupId: string, topic: string): Promise<Map<number, bigint>> {
    if (this.#kafka.topic(topic) === undefined) throw unknownTopic(topic);
    return this.#kafka.group(groupId).committedOffsets(topic);
  }

  async disconnect(): Promise<void> {}
}
