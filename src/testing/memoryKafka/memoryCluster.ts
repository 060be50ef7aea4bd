/**
 * What the parts of the in-memory Kafka (consumer, producer, admin) need of the cluster they belong to: its topics,
 * groups, limits and failure rules, and the change signal that wakes idle consumers. `MemoryKafka` implements it.
 */
import type { PartitionChooser } from '../partitioner.js';
import type { AppendRequest, StoredRecord, TopicLog } from '../testTopics.js';
import type { MemoryGroup } from './memoryGroup.js';
import type { SendFailures } from './sendFailures.js';

/** A record as a producer hands it to the broker, its partition chosen. */
export interface StoredRecordRequest extends AppendRequest {
  readonly partition: number;
}

export interface MemoryCluster {
  /** Called with each record of a send before anything is written; throwing fails the send. */
  readonly beforeWrite: ((record: StoredRecordRequest) => void | PromiseLike<void>) | undefined;
  readonly choosePartition: PartitionChooser;
  readonly failures: SendFailures;
  topic(name: string): TopicLog | undefined;
  topicOrCreate(name: string): TopicLog | undefined;
  topics(): string[];
  createTopic(
    name: string,
    partitions?: number,
    options?: { resize?: boolean; config?: Readonly<Record<string, string>> },
  ): TopicLog;
  append(request: AppendRequest): StoredRecord;
  /** Whether the topic is compacted (then a record needs a key). */
  isCompacted(topic: string): boolean;
  maxMessageBytesOf(topic: string): number;
  group(groupId: string): MemoryGroup;
  onChange(listener: () => void): () => void;
  changed(): void;
}
