/**
 * An in-memory Kafka: topics with partitioned logs, consumer groups with assignment and rebalances among several
 * members, per-partition pause and resume, committed offsets, an idempotent producer that can be told to fail, and an
 * admin — the whole `KafkaClientPort`, without a broker and without timers of its own (nothing keeps a test alive).
 * The test driver runs the real engine on it; users can hand it to `createEngine({ kafka: { client } })` too.
 *
 * What it does not simulate: replication and broker outages (inject send failures instead), session timeouts (a
 * member leaves its group when it disconnects), log compaction and retention, transactions (so no control records),
 * quotas and fetch sizes beyond `maxBytesPerPartition`.
 */
import type { AdminPort, ConsumerOptions, ConsumerPort, KafkaClientPort, ProducerPort } from '../../kafka/ports.js';
import { createPartitionChooser } from '../partitioner.js';
import { type AppendRequest, type StoredRecord, type TopicLog, TopicStore } from '../testTopics.js';
import { MemoryAdmin } from './memoryAdmin.js';
import type { MemoryCluster, StoredRecordRequest } from './memoryCluster.js';
import { MemoryConsumer } from './memoryConsumer.js';
import { MemoryGroup } from './memoryGroup.js';
import { MemoryProducer } from './memoryProducer.js';
import { type SendFailure, type SendFailureRule, SendFailures } from './sendFailures.js';

/** Kafka's default `message.max.bytes` (1 MiB + 12). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

export interface MemoryKafkaOptions {
  /** Record timestamps, ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /**
   * Create a topic when it is first produced to or subscribed, with `defaultPartitions`. Default false: like a
   * production broker, producing to a missing topic fails with UNKNOWN_TOPIC_OR_PARTITION.
   */
  autoCreateTopics?: boolean;
  /** Partitions of a topic created without a count. Default 1. */
  defaultPartitions?: number;
  /** The largest record the broker accepts (key + value + headers, approximately). Default 1 MiB. */
  maxMessageBytes?: number;
  /**
   * Called with each record of a send before anything is written; throwing (or rejecting) fails the whole send with
   * that error, as a broker refusal would (`retriable: false` on the error makes it permanent).
   */
  beforeWrite?: (record: StoredRecordRequest) => void | PromiseLike<void>;
}

export type { StoredRecordRequest } from './memoryCluster.js';

export class MemoryKafka implements KafkaClientPort, MemoryCluster {
  readonly autoCreateTopics: boolean;
  readonly maxMessageBytes: number;
  readonly beforeWrite: MemoryKafkaOptions['beforeWrite'];
  readonly now: () => number;
  /** The partition of a keyless record: round-robin per topic; keyed: Kafka's murmur2. */
  readonly choosePartition = createPartitionChooser();
  readonly failures = new SendFailures();
  readonly #store: TopicStore;
  readonly #groups = new Map<string, MemoryGroup>();
  /** Topics created with their own `max.message.bytes`. */
  readonly #maxMessageBytes = new Map<string, number>();
  /** Topics created with `cleanup.policy` compact: they refuse records without a key, as Kafka does. */
  readonly #compacted = new Set<string>();
  readonly #listeners = new Set<() => void>();
  #version = 0;
  #memberIds = 0;

  constructor(options: MemoryKafkaOptions = {}) {
    this.now = options.now ?? Date.now;
    this.autoCreateTopics = options.autoCreateTopics ?? false;
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.beforeWrite = options.beforeWrite;
    const defaultPartitions = options.defaultPartitions ?? 1;
    this.#store = new TopicStore(this.choosePartition, this.now, defaultPartitions, () => this.changed());
  }

  consumer(options: ConsumerOptions): ConsumerPort {
    return new MemoryConsumer(this, options, `member-${++this.#memberIds}`);
  }

  producer(): ProducerPort {
    return new MemoryProducer(this);
  }

  admin(): AdminPort {
    return new MemoryAdmin(this);
  }

  /**
   * Creates a topic, or returns it when it exists. A different partition count is an error, except for a topic that
   * holds no record yet when `resize` is set (the test driver's `inputTopic(name, { partitions })`): the groups
   * consuming it then rebalance.
   */
  createTopic(
    name: string,
    partitions?: number,
    options: { resize?: boolean; config?: Readonly<Record<string, string>> } = {},
  ): TopicLog {
    const existing = this.#store.get(name);
    if (existing !== undefined) {
      if (partitions === undefined || partitions === existing.partitions) return existing;
      if (!options.resize || existing.appended.length > 0) {
        throw new Error(
          `topic ${name} exists with ${existing.partitions} partitions${existing.appended.length > 0 ? ' and holds records' : ''}; it cannot get ${partitions}`,
        );
      }
      this.#store.declare(name, partitions);
      for (const group of this.#groups.values()) if (group.consumes(name)) group.rebalance();
      this.changed();
      return existing;
    }
    const log = this.#store.declare(name, partitions);
    const maxBytes = options.config?.['max.message.bytes'];
    if (maxBytes !== undefined) {
      const value = Number(maxBytes);
      if (!Number.isInteger(value) || value < 0) throw new RangeError(`topic ${name}: max.message.bytes ${maxBytes}`);
      this.#maxMessageBytes.set(name, value);
    }
    if (options.config?.['cleanup.policy']?.split(',').some((policy) => policy.trim() === 'compact')) {
      this.#compacted.add(name);
    }
    this.changed();
    return log;
  }

  /** The largest record a topic accepts: its `max.message.bytes`, else the broker's. */
  maxMessageBytesOf(topic: string): number {
    return this.#maxMessageBytes.get(topic) ?? this.maxMessageBytes;
  }

  /** Whether the topic is compacted (then a record needs a key). */
  isCompacted(topic: string): boolean {
    return this.#compacted.has(topic);
  }

  /** The topic, or undefined when it does not exist. */
  topic(name: string): TopicLog | undefined {
    return this.#store.get(name);
  }

  /** The topic, created when auto-creation is on; undefined when it does not exist and may not be created. */
  topicOrCreate(name: string): TopicLog | undefined {
    return this.#store.get(name) ?? (this.autoCreateTopics ? this.createTopic(name) : undefined);
  }

  topics(): string[] {
    return this.#store.names();
  }

  /** Writes a record as an outside producer would (partition from the key unless given). */
  append(request: AppendRequest): StoredRecord {
    if (this.topicOrCreate(request.topic) === undefined) {
      throw new Error(`topic ${request.topic} does not exist (create it first, or turn on autoCreateTopics)`);
    }
    return this.#store.append(request);
  }

  /** Every record of a topic, in the order written (all partitions). */
  records(topic: string): readonly StoredRecord[] {
    return this.#store.get(topic)?.appended ?? [];
  }

  /** A consumer group (created empty on first use). */
  group(groupId: string): MemoryGroup {
    let group = this.#groups.get(groupId);
    if (group === undefined) {
      group = new MemoryGroup(groupId, this);
      this.#groups.set(groupId, group);
    }
    return group;
  }

  /** The groups that exist (joined once, or committed). */
  groups(): MemoryGroup[] {
    return [...this.#groups.values()];
  }

  /** Makes sends fail on demand; see {@link SendFailure}. */
  failSends(failure: SendFailure = {}): SendFailureRule {
    return this.failures.add(failure);
  }

  /** Grows on every change (a record written, an offset committed, a group rebalanced): tells when work settled. */
  get version(): number {
    return this.#version;
  }

  /** Called on every change; returns a remover. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  changed(): void {
    this.#version++;
    for (const listener of [...this.#listeners]) listener();
  }
}

export function createMemoryKafka(options: MemoryKafkaOptions = {}): MemoryKafka {
  return new MemoryKafka(options);
}
