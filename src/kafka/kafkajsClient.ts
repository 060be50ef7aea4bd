/**
 * The kafkajs adapter: the only file that imports kafkajs for the engine. It converts offsets to bigint, headers
 * and batches to engine types, and turns kafkajs' instrumentation events into assignment/rebalance callbacks.
 */
import kafkajs, {
  type Admin,
  CompressionTypes,
  type Consumer,
  type EachBatchPayload,
  type ICustomPartitioner,
  Kafka,
  type KafkaConfig,
  type LogEntry,
  logLevel,
  type Message,
  Partitioners,
  type Producer,
  type RecordMetadata,
  type SASLOptions,
} from 'kafkajs';
import type createSnappyCodec from 'kafkajs-snappy';
import type { Logger } from 'pino';
import { requireOptional } from '../optionalDependency.js';
import { patchKafkajsNegativeTimeout } from './kafkajsTimeouts.js';
import { waitForLeaders } from './kafkajsTopics.js';
import type {
  AdminPort,
  AssignmentEvent,
  BatchHandler,
  ConsumerOptions,
  ConsumerPort,
  HeaderValue,
  KafkaClientPort,
  OutgoingRecord,
  PartitionOffsets,
  ProducerOptions,
  ProducerPort,
  RecordHeaders,
  TopicPartition,
  TopicPartitionOffset,
  TopicSpec,
} from './ports.js';
import { UnwrittenRecordsError } from './ports.js';
import { onceTlsPreflight } from './tlsPreflight.js';

export interface KafkaConnectionConfig {
  brokers: readonly string[];
  /** Which client library talks to Kafka (createKafkaClient): @platformatic/kafka (the default) or kafkajs. */
  library?: 'kafkajs' | 'platformatic';
  clientId?: string;
  /**
   * TLS: true trusts the system's CAs (Node's store, which includes NODE_EXTRA_CA_CERTS); `{ ca }` trusts that CA
   * bundle (PEM) instead. `caFile` only names where `ca` came from, for error messages (`KAFKA_SSL_CA_FILE`).
   */
  ssl?: boolean | { ca?: string; caFile?: string };
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
  readonly #beforeConnect: () => Promise<void>;
  /**
   * Joined and running. kafkajs' commitOffsets returns without committing, and without an error, while its runner is
   * not running (crashed and restarting, or stopping): a commit then must fail, not count as done.
   */
  #running = false;
  constructor(consumer: Consumer, partitionsConsumedConcurrently: number, beforeConnect: () => Promise<void>) {
    this.#consumer = consumer;
    this.#beforeConnect = beforeConnect;
    this.#partitionsConsumedConcurrently = partitionsConsumedConcurrently;
    const { events } = consumer;
    consumer.on(events.GROUP_JOIN, () => {
      this.#running = true;
    });
    for (const event of [events.CRASH, events.STOP, events.DISCONNECT]) {
      consumer.on(event, () => {
        this.#running = false;
      });
    }
  }
  async connect(): Promise<void> {
    await this.#beforeConnect();
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
    if (!this.#running) throw new Error('the consumer is not running (reconnecting or stopping): commit not sent');
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
  onInterrupted(listener: (error: Error) => void): () => void {
    return this.#consumer.on(this.#consumer.events.CRASH, (event) => {
      if (event.payload.restart) listener(event.payload.error);
    });
  }
  onUnsubscribedTopics(listener: (topics: readonly string[]) => void): () => void {
    return this.#consumer.on(this.#consumer.events.RECEIVED_UNSUBSCRIBED_TOPICS, (event) =>
      listener(event.payload.topicsNotSubscribed),
    );
  }
  onEmptyBatch(listener: (partition: TopicPartition, endOffset: bigint) => void): () => void {
    // kafkajs resolves a batch of only control (or aborted) records itself, without calling eachBatch; it announces
    // it with START_BATCH_PROCESS and batchSize 0 (normal batches announce their size, and reach eachBatch)
    return this.#consumer.on(this.#consumer.events.START_BATCH_PROCESS, (event) => {
      const { topic, partition, batchSize, lastOffset } = event.payload;
      if (batchSize === 0) listener({ topic, partition }, BigInt(lastOffset) + 1n);
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
// topics that other clients (Go, Java) wrote with it. kafkajs-snappy is an optional peer dependency, loaded the first
// time a snappy batch is written or read; without it that fails with an error naming the package.
let snappyCodec: typeof createSnappyCodec | undefined;
function loadSnappyCodec(): typeof createSnappyCodec {
  snappyCodec ??= requireOptional<typeof createSnappyCodec>('kafkajs-snappy', 'snappy compression (kafkajs client)');
  return snappyCodec;
}
// (CompressionCodecs is not a named export under Node's ESM loader: reach it through the default export)
kafkajs.CompressionCodecs[CompressionTypes.Snappy] = () => loadSnappyCodec()();

// Node 24 warns on kafkajs' negative request-queue timer: the same timer, never below 1 ms (kafkajsTimeouts.ts)
patchKafkajsNegativeTimeout();

const compressionTypes = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
} as const;

/** One kafkajs producer (one producer id) and the sends still running on it. */
interface ProducerSession {
  readonly producer: Producer;
  inFlight: number;
  /** Replaced by a newer session: disconnected once its last send settles. */
  retired: boolean;
}

/**
 * The shared producer. `reset()` swaps in a new kafkajs producer, because a kafkajs producer keeps its producer id
 * for life (a disconnect does not drop it); only a new instance calls InitProducerId again.
 */
class KafkajsProducer implements ProducerPort {
  readonly #create: () => Producer;
  readonly #compression: CompressionTypes;
  readonly #logger: Logger | undefined;
  #session: ProducerSession;
  /** The last send to each topic that has not settled yet. */
  readonly #lastSend = new Map<string, Promise<void>>();
  readonly #withoutValueless = new WeakMap<OutgoingRecord, Message>();
  readonly #beforeConnect: () => Promise<void>;
  constructor(
    create: () => Producer,
    options: ProducerOptions,
    logger: Logger | undefined,
    beforeConnect: () => Promise<void>,
  ) {
    this.#create = create;
    this.#beforeConnect = beforeConnect;
    this.#session = { producer: create(), inFlight: 0, retired: false };
    this.#compression = compressionTypes[options.compression ?? 'none'];
    // a producer set to snappy fails now, not at its first send, when kafkajs-snappy is not installed
    if (this.#compression === CompressionTypes.Snappy) loadSnappyCodec();
    this.#logger = logger;
  }
  async connect(): Promise<void> {
    await this.#beforeConnect();
    return this.#session.producer.connect();
  }
  async send(records: readonly OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return;
    // An OutgoingRecord already has kafkajs' Message shape (key, value, headers, partition); the extra `topic`
    // field is ignored, so records go through without a copy (unless a header must be left out).
    const byTopic = new Map<string, Message[]>();
    let explicitPartitions = false;
    for (const r of records) {
      let list = byTopic.get(r.topic);
      if (list === undefined) {
        list = [];
        byTopic.set(r.topic, list);
      }
      list.push(this.#message(r));
      if (r.partition !== undefined) explicitPartitions = true;
    }
    const earlier = this.#awaitEarlierSends(byTopic.keys());
    try {
      await earlier.turn;
      const session = this.#session;
      session.inFlight++;
      try {
        const written = await session.producer.sendBatch({
          acks: -1,
          compression: this.#compression,
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        });
        if (explicitPartitions) unwrittenPartitions(records, written);
      } finally {
        session.inFlight--;
        if (session.retired && session.inFlight === 0) this.#close(session);
      }
    } finally {
      earlier.done();
    }
  }
  /**
   * Sends to a topic enter kafkajs in the order they were called. kafkajs assigns a request its sequence numbers
   * (and so its place in the partition) only after a few asynchronous steps (metadata, the broker lock), so two sends
   * in flight at once could be written in either order. A send waits for the earlier sends that share a topic with
   * it to settle (kafkajs sends one request at a time per broker anyway); sends to other topics do not wait, so a
   * topic whose sends keep failing never holds the others.
   */
  #awaitEarlierSends(topics: Iterable<string>): { turn: Promise<unknown>; done: () => void } {
    let done: () => void = () => {};
    const settled = new Promise<void>((resolve) => {
      done = resolve;
    });
    const before: Promise<void>[] = [];
    const mine = [...topics];
    for (const topic of mine) {
      const previous = this.#lastSend.get(topic);
      if (previous !== undefined) before.push(previous);
      this.#lastSend.set(topic, settled);
    }
    return {
      turn: Promise.all(before),
      done: () => {
        done();
        for (const topic of mine) if (this.#lastSend.get(topic) === settled) this.#lastSend.delete(topic);
      },
    };
  }
  /**
   * kafkajs cannot write a header without a value (it rejects the send with a TypeError while encoding the request,
   * which reads as retriable): such a header is left out, as `RecordHeaders` reads an undefined value as absent. A
   * null is left out too (a JavaScript caller, or headers copied from a record another client wrote with a null
   * value). The copy is kept for the record, so a record sent again is the same object to the pinning partitioner.
   */
  #message(record: OutgoingRecord): Message {
    const { headers } = record;
    if (headers === undefined) return record as Message;
    let valueless = false;
    for (const name in headers) {
      if (headers[name] === undefined || headers[name] === null) {
        valueless = true;
        break;
      }
    }
    if (!valueless) return record as Message;
    let copy = this.#withoutValueless.get(record);
    if (copy === undefined) {
      const kept: Record<string, HeaderValue | HeaderValue[]> = {};
      for (const [name, value] of Object.entries(headers)) {
        if (value !== undefined && value !== null) kept[name] = value as HeaderValue | HeaderValue[];
      }
      copy = { ...(record as Message), headers: kept };
      this.#withoutValueless.set(record, copy);
    }
    return copy;
  }
  async reset(): Promise<void> {
    const fresh: ProducerSession = { producer: this.#create(), inFlight: 0, retired: false };
    try {
      await fresh.producer.connect(); // InitProducerId: a new producer id
    } catch (error) {
      await fresh.producer.disconnect().catch(() => {});
      throw error;
    }
    const old = this.#session;
    this.#session = fresh;
    old.retired = true;
    if (old.inFlight === 0) this.#close(old);
  }
  disconnect(): Promise<void> {
    return this.#session.producer.disconnect();
  }
  #close(session: ProducerSession): void {
    session.producer
      .disconnect()
      .catch((error: unknown) => this.#logger?.warn({ err: error }, 'disconnecting a replaced producer failed'));
  }
}

/**
 * kafkajs sends nothing for a partition it has no metadata for (one the topic does not have) and still resolves:
 * every record with an explicit partition must be in a partition that answered.
 */
function unwrittenPartitions(records: readonly OutgoingRecord[], written: readonly RecordMetadata[]): void {
  const answered = new Set<string>();
  for (const m of written) answered.add(`${m.partition}\u0000${m.topicName}`);
  const unwritten: number[] = [];
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as OutgoingRecord;
    if (r.partition !== undefined && !answered.has(`${r.partition}\u0000${r.topic}`)) unwritten.push(i);
  }
  if (unwritten.length > 0) {
    const first = records[unwritten[0] as number] as OutgoingRecord;
    throw new UnwrittenRecordsError(
      unwritten,
      `topic ${first.topic} has no partition ${first.partition}: the record was not sent`,
    );
  }
}

/**
 * kafkajs' default partitioner spreads keyless records round-robin, so a record sent again (kafkajs' own retries,
 * or the batcher re-sending a failed request) could land in another partition, changing how many records each
 * partition's part of the request holds, which the broker's duplicate check relies on. Pin each keyless record to
 * the partition it got first.
 */
function pinningPartitioner(): ICustomPartitioner {
  const spread = Partitioners.DefaultPartitioner();
  const pinned = new WeakMap<object, number>();
  return () => {
    return (args) => {
      const { message } = args;
      if (message.key !== null && message.key !== undefined) return spread(args);
      if (message.partition !== null && message.partition !== undefined) return spread(args);
      const earlier = pinned.get(message);
      if (earlier !== undefined && earlier < args.partitionMetadata.length) return earlier;
      const chosen = spread(args);
      pinned.set(message, chosen);
      return chosen;
    };
  };
}

class KafkajsAdmin implements AdminPort {
  readonly #admin: Admin;
  readonly #beforeConnect: () => Promise<void>;
  constructor(admin: Admin, beforeConnect: () => Promise<void>) {
    this.#admin = admin;
    this.#beforeConnect = beforeConnect;
  }
  async connect(): Promise<void> {
    await this.#beforeConnect();
    return this.#admin.connect();
  }
  async createTopics(topics: readonly TopicSpec[]): Promise<string[]> {
    const existing = new Set(await this.#admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.topic));
    // One request per topic: another process may create one between the listing and the request, and kafkajs then
    // answers false (TOPIC_ALREADY_EXISTS) for the whole request, not saying which topics it did create.
    const created = await Promise.all(
      missing.map(async (t) => {
        const made = await this.#admin.createTopics({
          waitForLeaders: false,
          topics: [
            {
              topic: t.topic,
              numPartitions: t.partitions,
              replicationFactor: t.replicationFactor ?? -1,
              configEntries: Object.entries(t.config ?? {}).map(([name, value]) => ({ name, value })),
            },
          ],
        });
        return made ? t.topic : undefined;
      }),
    );
    // Then one wait for them all: waits side by side on one kafkajs admin undo each other, as a metadata request for
    // some topics replaces kafkajs' cached metadata with theirs, and fetchTopicOffsets on a topic missing from it
    // fails ("Cannot destructure property 'partitions' of 'low.pop(...)'"; 40 topics at once did).
    if (missing.length > 0) {
      await waitForLeaders(
        this.#admin,
        missing.map((t) => t.topic),
      );
    }
    return created.filter((topic) => topic !== undefined);
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
  const kafkaConfig = toKafkajsConfig(config);
  const kafka = new Kafka(kafkaConfig);
  // with TLS, a certificate kafkajs cannot verify fails the first connect after one handshake (tlsPreflight.ts)
  const { ssl } = kafkaConfig;
  const beforeConnect = ssl
    ? onceTlsPreflight({
        brokers: config.brokers,
        ssl,
        trust: { caFile: typeof config.ssl === 'object' ? config.ssl.caFile : undefined },
        timeoutMs: config.connectionTimeoutMs ?? 10_000,
      })
    : async () => {};
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
      if (options.maxBytes !== undefined) consumerConfig.maxBytes = options.maxBytes;
      // kafkajs' default long poll is 5 s; a resumed partition waits for the poll in flight before it is fetched
      consumerConfig.maxWaitTimeInMs = options.maxWaitTimeMs ?? 500;
      return new KafkajsConsumer(
        kafka.consumer(consumerConfig),
        options.partitionsConsumedConcurrently ?? 1,
        beforeConnect,
      );
    },
    producer: (options: ProducerOptions = {}) => {
      // one partitioner for every session, so a keyless record keeps its partition across a reset
      const createPartitioner = pinningPartitioner();
      return new KafkajsProducer(
        () =>
          kafka.producer({
            idempotent: true,
            maxInFlightRequests: 1,
            allowAutoTopicCreation: false,
            createPartitioner,
          }),
        options,
        config.logger,
        beforeConnect,
      );
    },
    admin: () => new KafkajsAdmin(kafka.admin(), beforeConnect),
  };
}
