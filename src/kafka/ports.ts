/**
 * The engine's own view of a Kafka client. Adapters (kafkajs today) translate at this edge; no client type leaks
 * past it. Offsets are bigint (int64) everywhere on this side.
 */

export type HeaderValue = Buffer | string;
export type RecordHeaders = Readonly<Record<string, HeaderValue | readonly HeaderValue[] | undefined>>;

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface TopicPartitionOffset extends TopicPartition {
  /** Next offset to read (Kafka's commit semantics: last processed + 1). */
  readonly offset: bigint;
}

export interface ConsumedRecord {
  readonly offset: bigint;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: RecordHeaders;
  /** Milliseconds since the epoch, as a decimal string. */
  readonly timestamp: string;
}

export interface PartitionBatch extends TopicPartition {
  readonly records: readonly ConsumedRecord[];
  /** The offset after the batch's last offset, control records included (commit this once all is finished). */
  readonly endOffset: bigint;
  readonly highWatermark: bigint;
}

export interface BatchControl {
  /** Keeps group membership; throws when the group is rebalancing (let it propagate). */
  heartbeat(): Promise<void>;
  /** False once the consumer is stopping or the batch is stale (seek / rebalance). */
  shouldContinue(): boolean;
  /**
   * Moves this partition's fetch position: the next fetch starts at `nextOffset`. Not a commit — the engine commits
   * separately, only what is finished. Call it before returning from the handler.
   */
  advanceTo(nextOffset: bigint): void;
}

export type BatchHandler = (batch: PartitionBatch, control: BatchControl) => Promise<void>;

export interface AssignmentEvent {
  readonly assignment: readonly TopicPartition[];
  readonly memberId: string;
}

export interface ConsumerPort {
  connect(): Promise<void>;
  subscribe(topics: readonly string[], fromBeginning: boolean): Promise<void>;
  /** Starts the fetch loop; the next fetch for a broker waits until the handler's promise settles. */
  run(handler: BatchHandler): Promise<void>;
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>;
  pause(partitions: readonly TopicPartition[]): void;
  resume(partitions: readonly TopicPartition[]): void;
  /** After each group join: the partitions this member now owns. Returns a remover. */
  onAssigned(listener: (event: AssignmentEvent) => void): () => void;
  /** When the group starts rebalancing (partitions may be taken away). Returns a remover. */
  onRebalancing(listener: () => void): () => void;
  /** When the consumer crashed and will not restart by itself. Returns a remover. */
  onFatal(listener: (error: Error) => void): () => void;
  /**
   * When the consumer lost its connection or its group membership and is reconnecting by itself: it consumes nothing
   * until the next `onAssigned`. Returns a remover.
   */
  onInterrupted(listener: (error: Error) => void): () => void;
  /**
   * When the group's leader assigned this member topics it does not subscribe to (another member of the group
   * subscribes to other topics): those partitions are dropped, nobody consumes them. Returns a remover.
   */
  onUnsubscribedTopics(listener: (topics: readonly string[]) => void): () => void;
  /**
   * When the client skipped a fetched batch that held no record to hand over (only transaction markers or aborted
   * records) and moved past it: `endOffset` is the offset after it. Returns a remover.
   */
  onEmptyBatch(listener: (partition: TopicPartition, endOffset: bigint) => void): () => void;
  disconnect(): Promise<void>;
}

export interface ProducerPort {
  connect(): Promise<void>;
  /**
   * Sends all records in one batched request per broker (acks = all, idempotent). Rejects with
   * `UnwrittenRecordsError` when the others were written but some records were never sent (a partition their topic
   * does not have); with any other error, none of the records counts as written (some may have been).
   */
  send(records: readonly OutgoingRecord[]): Promise<void>;
  /**
   * Starts a new producer session: a new producer id, sequence numbers from 0. Needed after a request failed once
   * part of it may have been written: kafkajs rolls back the sequence of every partition of a failed request, so
   * records sent again under the old id are refused as out of order, or taken by the broker for duplicates of what
   * it already wrote and dropped. Sends already in flight finish on the old session.
   */
  reset(): Promise<void>;
  disconnect(): Promise<void>;
}

/** A send whose other records were written; these (indexes into the records sent) were not sent at all. */
export class UnwrittenRecordsError extends Error {
  override name = 'UnwrittenRecordsError';
  readonly indexes: readonly number[];
  constructor(indexes: readonly number[], message: string) {
    super(message);
    this.indexes = indexes;
  }
}

/** A record to produce. Keys decide partitions unless `partition` is given. */
export interface OutgoingRecord {
  readonly topic: string;
  readonly key: Buffer | string | null;
  readonly value: Buffer | string | null;
  readonly headers?: RecordHeaders | undefined;
  readonly partition?: number | undefined;
}

export interface TopicSpec {
  readonly topic: string;
  readonly partitions: number;
  readonly replicationFactor?: number;
  readonly config?: Readonly<Record<string, string>>;
}

export interface PartitionOffsets {
  readonly partition: number;
  readonly low: bigint;
  readonly high: bigint;
}

export interface AdminPort {
  connect(): Promise<void>;
  /** Creates the topics that do not exist yet; returns the names it created. */
  createTopics(topics: readonly TopicSpec[]): Promise<string[]>;
  listTopics(): Promise<string[]>;
  endOffsets(topic: string): Promise<PartitionOffsets[]>;
  /** Committed offsets of a group on a topic, by partition; partitions without a commit are absent. */
  committedOffsets(groupId: string, topic: string): Promise<Map<number, bigint>>;
  disconnect(): Promise<void>;
}

export interface ConsumerOptions {
  readonly groupId: string;
  readonly sessionTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
  readonly rebalanceTimeoutMs?: number;
  readonly maxBytesPerPartition?: number;
  /**
   * Most bytes one fetch brings from one broker, all its partitions together (a first record batch larger than this
   * still comes whole, so nothing is stuck). Each client decodes a fetch response whole, so this bounds how many
   * records wait decoded at once. Default: 1 MiB on @platformatic/kafka (or maxBytesPerPartition if larger), 10 MiB
   * (its own default) on kafkajs.
   */
  readonly maxBytes?: number;
  readonly partitionsConsumedConcurrently?: number;
  /** Longest a fetch waits at the broker for new data. Bounds how soon a resumed partition is fetched again. */
  readonly maxWaitTimeMs?: number;
}

export interface ProducerOptions {
  readonly compression?: 'none' | 'gzip' | 'snappy';
}

/** Everything the engine needs from a Kafka client library. */
export interface KafkaClientPort {
  consumer(options: ConsumerOptions): ConsumerPort;
  producer(options?: ProducerOptions): ProducerPort;
  admin(): AdminPort;
}
