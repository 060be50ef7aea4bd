/** Helpers for integration tests: a client for the run's broker, unique topics and groups, produce and consume. */
import { randomUUID } from 'node:crypto';
import { type Admin, type IHeaders, Kafka, type KafkaMessage, logLevel, Partitioners } from 'kafkajs';
import { expect, inject, onTestFinished } from 'vitest';
import { createTopicsWithLeaders } from '../../src/kafka/kafkajsTopics.js';

export function bootstrapServers(): string[] {
  return inject('kafkaBootstrap').split(',');
}

export function testKafka(clientId = 'tributary-test'): Kafka {
  return new Kafka({ clientId, brokers: bootstrapServers(), logLevel: logLevel.ERROR });
}

/** A name no other test (or earlier run) uses: prefix-<8 hex>. Safe for topics and consumer groups. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Connects an admin client that is disconnected when the current test finishes. */
export async function testAdmin(): Promise<Admin> {
  const admin = testKafka('tributary-test-admin').admin();
  await admin.connect();
  onTestFinished(() => admin.disconnect());
  return admin;
}

async function withAdmin<T>(use: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = testKafka('tributary-test-admin').admin();
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Creates topics with exactly these names (e.g. delay topics named after another topic); deleted when the test ends. */
export async function createNamedTopics(
  topics: readonly string[],
  partitions = 1,
  configEntries: Record<string, string> = {},
): Promise<void> {
  await withAdmin((admin) =>
    createTopicsWithLeaders(
      admin,
      topics.map((topic) => ({
        topic,
        numPartitions: partitions,
        replicationFactor: 1,
        configEntries: Object.entries(configEntries).map(([name, value]) => ({ name, value })),
      })),
    ),
  );
  onTestFinished(() => withAdmin((admin) => admin.deleteTopics({ topics: [...topics] })).catch(() => {}));
}

/** Creates a uniquely named topic and waits for its leaders; deleted again when the test finishes. */
export async function createTopic(
  prefix: string,
  partitions = 1,
  configEntries: Record<string, string> = {},
): Promise<string> {
  const topic = uniqueName(prefix);
  await createNamedTopics([topic], partitions, configEntries);
  return topic;
}

export interface TestRecord {
  key?: string;
  value: string | null;
  headers?: IHeaders;
  partition?: number;
}

/** Produces records with acks=all in batches of `batchSize`, using the default (murmur2) partitioner. */
export async function produce(topic: string, records: readonly TestRecord[], batchSize = 1000): Promise<void> {
  const producer = testKafka('tributary-test-producer').producer({
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    for (let i = 0; i < records.length; i += batchSize) {
      await producer.send({ topic, acks: -1, messages: records.slice(i, i + batchSize).map((r) => ({ ...r })) });
    }
  } finally {
    await producer.disconnect();
  }
}

export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: bigint;
  key: string | undefined;
  value: string | undefined;
  /** Header values decoded as UTF-8 text. */
  headers: Record<string, string>;
  /** Header values as bytes (binary headers such as Spring's kafka_dlt-original-offset). */
  rawHeaders: Record<string, Buffer>;
}

function toConsumed(topic: string, partition: number, m: KafkaMessage): ConsumedRecord {
  const headers: Record<string, string> = {};
  const rawHeaders: Record<string, Buffer> = {};
  for (const [name, raw] of Object.entries(m.headers ?? {})) {
    const v = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    if (v === undefined) continue;
    headers[name] = v.toString();
    rawHeaders[name] = Buffer.isBuffer(v) ? v : Buffer.from(v);
  }
  return {
    topic,
    partition,
    offset: BigInt(m.offset),
    key: m.key?.toString(),
    value: m.value?.toString(),
    headers,
    rawHeaders,
  };
}

/**
 * Reads `topic` from the beginning with its own consumer group until `count` records arrived (or `timeoutMs`
 * passes: then it rejects, saying how many it got). Commits as it goes, like a real consumer group member.
 */
export async function consume(
  topic: string,
  count: number,
  options: { groupId?: string; timeoutMs?: number } = {},
): Promise<ConsumedRecord[]> {
  const groupId = options.groupId ?? uniqueName('test-reader');
  const consumer = testKafka('tributary-test-consumer').consumer({ groupId });
  const received: ConsumedRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((done, fail) => {
      const timer = setTimeout(
        () =>
          fail(
            new Error(
              `consume(${topic}): got ${received.length} of ${count} records in ${options.timeoutMs ?? 30_000} ms`,
            ),
          ),
        options.timeoutMs ?? 30_000,
      );
      if (count === 0) {
        clearTimeout(timer);
        done();
        return;
      }
      consumer
        .run({
          eachBatch: async ({ batch }) => {
            for (const m of batch.messages) received.push(toConsumed(batch.topic, batch.partition, m));
            if (received.length >= count) {
              clearTimeout(timer);
              done();
            }
          },
        })
        .catch(fail);
    });
  } finally {
    await consumer.disconnect();
  }
  return received;
}

/** Asserts that `groupId` committed the end offset of every partition of each topic (nothing left behind). */
export async function expectCommittedToEnd(groupId: string, topics: readonly string[]): Promise<void> {
  for (const topic of topics) {
    const ends = await withAdmin((admin) => admin.fetchTopicOffsets(topic));
    const committed = await committedOffsets(groupId, topic);
    for (const end of ends) expect(committed.get(end.partition), `${topic}/${end.partition}`).toBe(BigInt(end.high));
  }
}

/** The committed offsets of `groupId` on `topic`, by partition (-1 when nothing was committed). */
export async function committedOffsets(groupId: string, topic: string): Promise<Map<number, bigint>> {
  const [result] = await withAdmin((admin) => admin.fetchOffsets({ groupId, topics: [topic] }));
  return new Map((result?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
}

export interface Collector {
  readonly records: ConsumedRecord[];
  /** Resolves once at least `count` records were collected (rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Consumes `topic` from the beginning in the background, keeping every record, until `stop()`. */
export async function collect(topic: string): Promise<Collector> {
  const consumer = testKafka('tributary-test-collector').consumer({ groupId: uniqueName('test-collector') });
  const records: ConsumedRecord[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) records.push(toConsumed(batch.topic, batch.partition, m));
    },
  });
  onTestFinished(() => consumer.disconnect().catch(() => {}));
  return {
    records,
    async waitFor(count, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (records.length < count) {
        if (Date.now() > deadline)
          throw new Error(`collect(${topic}): ${records.length} of ${count} records after ${timeoutMs} ms`);
        await new Promise((done) => setTimeout(done, 50));
      }
    },
    stop: () => consumer.disconnect(),
  };
}
