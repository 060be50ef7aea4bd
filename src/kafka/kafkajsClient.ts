/**
 * The kafkajs adapter: the only file that imports kafkajs for the engine. It converts offsets to bigint, headers
 * and batches to engine types, and turns kafkajs' instrumentation events into assignment/rebalance callbacks.
 */

/**
 * The kafkajs adapter: the only file that imports kafkajs for the engine. It converts offsets to bigint, headers
 * and batches to engine types, and turns kafkajs' instrumentation events into assignment/rebalance callbacks.
 */
import kafkajs, {
  type Admin,
  CompressionTypes,
  type Consumer,
  type EachBatchPayload,
  Kafka,
  type KafkaConfig,
  type LogEntry,
  logLevel,
  type Message,
  type Producer,
  type SASLOptions,
} from 'kafkajs';
import SnappyCodec from 'kafkajs-snappy';
import type { Logger } from 'pino';
import type {
  AdminPort,
  AssignmentEvent,
  BatchHandler,
  ConsumerOptions,
  ConsumerPort,
  KafkaClientPort,
  OutgoingMessage,
  PartitionOffsets,
  ProducerOptions,
  ProducerPort,
  RecordHeaders,
  TopicPartition,
  TopicPartitionOffset,
  TopicSpec,
} from './ports.js';

export interface KafkaConnectionConfig {
  brokers: readonly string[];
  clientId?: string;
  /** true, or a CA bundle (PEM) to trust. */
  ssl?: boolean | { ca?: string };
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** kafkajs' own log lines go here (warn and above by default). */
  logger?: Logger;
}

function kafkajsLogCreator(logger: Logger | undefined) {
  return () =>
    ({ level, log }: LogEntry) => {
      if (!logger) return;
      const { message, ...rest } = log;
      const bindings = { kafkajs: rest };
      if (level === logLevel.ERROR) logger.error(bindings, `kafkajs: ${message}`);
      else if (level === logLevel.WARN) logger.warn(bindings, `kafkajs: ${message}`);
      else if (level === logLevel.INFO) logger.debug(bindings, `kafkajs: ${message}`);
      else logger.trace(bindings, `kafkajs: ${message}`);
    };
}

function saslOptions(sasl: NonNullable<KafkaConnectionConfig['sasl']>): SASLOptions {
  switch (sasl.mechanism) {
    case 'plain':
      return { mechanism: 'plain', username: sasl.username, password: sasl.password };
    case 'scram-sha-256':
      return { mechanism: 'scram-sha-256', username: sasl.username, password: sasl.password };
    case 'scram-sha-512':
      return { mechanism: 'scram-sha-512', username: sasl.username, password: sasl.password };
  }
}

export function toKafkajsConfig(config: KafkaConnectionConfig): KafkaConfig {
  const kafkaConfig: KafkaConfig = {
    clientId: config.clientId ?? 'tributary',
    brokers: [...config.brokers],
    logLevel: config.logger ? logLevel.WARN : logLevel.NOTHING,
    logCreator: kafkajsLogCreator(config.logger),
  };
  if (config.ssl === true) kafkaConfig.ssl = true;
  else if (typeof config.ssl === 'object') kafkaConfig.ssl = config.ssl.ca ? { ca: [config.ssl.ca] } : true;
  if (config.sasl) kafkaConfig.sasl = saslOptions(config.sasl);
  if (config.connectionTimeoutMs !== undefined) kafkaConfig.connectionTimeout = config.connectionTimeoutMs;
  if (config.requestTimeoutMs !== undefined) kafkaConfig.requestTimeout = config.requestTimeoutMs;
  return kafkaConfig;
}

function toHeaders(headers: Message['headers'] | undefined): RecordHeaders {
  return (headers ?? {}) as RecordHeaders;
}

class KafkajsConsumer implements ConsumerPort {
  readonly #consumer: Consumer;
  readonly #partitionsConsumedConcurrently: number;
  constructor(consumer: Consumer, partitionsConsumedConcurrently: number) {
    this.#consumer = consumer;
    this.#partitionsConsumedConcurrently = partitionsConsumedConcurrently;
  }
  connect(): Promise<void> {
    return this.#consumer.connect();
  }
  subscribe(topics: readonly string[], fromBeginning: boolean): Promise<void> {
    return this.#consumer.subscribe({ topics: [...topics], fromBeginning });
  }
  run(handler: BatchHandler): Promise<void> {
    return this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.#partitionsConsumedConcurrently,
      eachBatch: async (payload: EachBatchPayload) => {
        const { batch } = payload;
        const records = batch.messages.map((m) => ({
          offset: BigInt(m.offset),
          key: m.key,
          value: m.value,
          headers: toHeaders(m.headers),
          timestamp: m.timestamp,
        }));
        const endOffset = batch.isEmpty() ? BigInt(batch.firstOffset() ?? 0) : BigInt(batch.lastOffset()) + 1n;
        await handler(
          {
            topic: batch.topic,
            partition: batch.partition,
            records,
            endOffset,
            highWatermark: BigInt(batch.highWatermark),
          },
          {
            heartbeat: payload.heartbeat,
            shouldContinue: () => payload.isRunning() && !payload.isStale(),
            advanceTo: (nextOffset: bigint) => payload.resolveOffset((nextOffset - 1n).toString()),
          },
        );
      },
    });
  }
  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    await this.#consumer.commitOffsets(
      offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset: offset.toString() })),
    );
  }
  pause(partitions: readonly TopicPartition[]): void {
    this.#consumer.pause(groupByTopic(partitions));
  }
  resume(partitions: readonly TopicPartition[]): void {
    this.#consumer.resume(groupByTopic(partitions));
  }
  onAssigned(listener: (event: AssignmentEvent) => void): () => void {
    return this.#consumer.on(this.#consumer.events.GROUP_JOIN, (event) => {
      const assignment: TopicPartition[] = [];
      for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) {
        for (const partition of partitions) assignment.push({ topic, partition });
      }
      listener({ assignment, memberId: event.payload.memberId });
    });
  }
  onRebalancing(listener: () => void): () => void {
    return this.#consumer.on(this.#consumer.events.REBALANCING, () => listener());
  }
  onFatal(listener: (error: Error) => void): () => void {
    return this.#consumer.on(this.#consumer.events.CRASH, (event) => {
      if (!event.payload.restart) listener(event.payload.error);
    });
  }
  disconnect(): Promise<void> {
    return this.#consumer.disconnect();
  }
}

function groupByTopic(partitions: readonly TopicPartition[]): { topic: string; partitions: number[] }[] {
  const byTopic = new Map<string, number[]>();
  for (const { topic, partition } of partitions) {
    const list = byTopic.get(topic) ?? [];
    list.push(partition);
    byTopic.set(topic, list);
  }
  return [...byTopic].map(([topic, list]) => ({ topic, partitions: list }));
}

// Snappy (pure JavaScript, kafkajs' own codec package): producers may compress with it and consumers can read
// topics that other clients (Go, Java) wrote with it.
// (CompressionCodecs is not a named export under Node's ESM loader: reach it through the default export)
kafkajs.CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec;

const compressionTypes = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
} as const;

class KafkajsProducer implements ProducerPort {
  readonly #producer: Producer;
  readonly #compression: CompressionTypes;
  constructor(producer: Producer, options: ProducerOptions) {
    this.#producer = producer;
    this.#compression = compressionTypes[options.compression ?? 'none'];
  }
  connect(): Promise<void> {
    return this.#producer.connect();
  }
  async send(records: readonly OutgoingMessage[]): Promise<void> {
    if (records.length === 0) return;
    // An OutgoingMessage already has kafkajs' Message shape (key, value, headers, partition); the extra `topic`
    // field is ignored, so records go through without a copy.
    const byTopic = new Map<string, Message[]>();
    for (const r of records) {
      let list = byTopic.get(r.topic);
      if (list === undefined) {
        list = [];
        byTopic.set(r.topic, list);
      }
      list.push(r as Message);
    }
    await this.#producer.sendBatch({
      acks: -1,
      compression: this.#compression,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
  }
  async reset(): Promise<void> {
    await this.#producer.disconnect();
    await this.#producer.connect();
  }
  disconnect(): Promise<void> {
    return this.#producer.disconnect();
  }
}

class KafkajsAdmin implements AdminPort {
  readonly #admin: Admin;
  constructor(admin: Admin) {
    this.#admin = admin;
  }
  connect(): Promise<void> {
    return this.#admin.connect();
  }
  async createTopics(topics: readonly TopicSpec[]): Promise<string[]> {
    const existing = new Set(await this.#admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length === 0) return [];
    await this.#admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((t) => ({
        topic: t.topic,
        numPartitions: t.partitions,
        replicationFactor: t.replicationFactor ?? -1,
        configEntries: Object.entries(t.config ?? {}).map(([name, value]) => ({ name, value })),
      })),
    });
    return missing.map((t) => t.topic);
  }
  listTopics(): Promise<string[]> {
    return this.#admin.listTopics();
  }
  async endOffsets(topic: string): Promise<PartitionOffsets[]> {
    const offsets = await this.#admin.fetchTopicOffsets(topic);
    return offsets.map((o) => ({ partition: o.partition, low: BigInt(o.low), high: BigInt(o.high) }));
  }
  async committedOffsets(groupId: string, topic: string): Promise<Map<number, bigint>> {
    const [result] = await this.#admin.fetchOffsets({ groupId, topics: [topic] });
    const committed = new Map<number, bigint>();
    for (const p of result?.partitions ?? []) {
      const offset = BigInt(p.offset);
      if (offset >= 0n) committed.set(p.partition, offset);
    }
    return committed;
  }
  disconnect(): Promise<void> {
    return this.#admin.disconnect();
  }
}

/** A KafkaClientPort backed by kafkajs. */
export function createKafkajsClient(config: KafkaConnectionConfig): KafkaClientPort {
  const kafka = new Kafka(toKafkajsConfig(config));
  return {
    consumer: (options: ConsumerOptions) => {
      const consumerConfig: Parameters<Kafka['consumer']>[0] = {
        groupId: options.groupId,
        allowAutoTopicCreation: false,
      };
      if (options.sessionTimeoutMs !== undefined) consumerConfig.sessionTimeout = options.sessionTimeoutMs;
      if (options.heartbeatIntervalMs !== undefined) consumerConfig.heartbeatInterval = options.heartbeatIntervalMs;
      if (options.rebalanceTimeoutMs !== undefined) consumerConfig.rebalanceTimeout = options.rebalanceTimeoutMs;
      if (options.maxBytesPerPartition !== undefined)
        consumerConfig.maxBytesPerPartition = options.maxBytesPerPartition;
      // kafkajs' default long poll is 5 s; a resumed partition waits for the poll in flight before it is fetched
      consumerConfig.maxWaitTimeInMs = options.maxWaitTimeMs ?? 500;
      return new KafkajsConsumer(kafka.consumer(consumerConfig), options.partitionsConsumedConcurrently ?? 1);
    },
    producer: (options: ProducerOptions = {}) =>
      new KafkajsProducer(
        kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false }),
        options,
      ),
    admin: () => new KafkajsAdmin(kafka.admin()),
  };
}
