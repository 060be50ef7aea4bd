/**
 * The ProducerPort on @platformatic/kafka: one idempotent Producer per session (acks = all, one request in flight
 * per broker, both forced by the client), partitions chosen here so they are known before the send, requests
 * encoded by the engine (see encodingProducer.ts).
 */
import type { ClusterMetadata, ProducerOptions as PltProducerOptions, Producer } from '@platformatic/kafka';
import type { Logger } from 'pino';
import type { KafkaConnectionConfig } from '../kafkajsClient.js';
import { partitionForKey } from '../murmur2.js';
import {
  type HeaderValue,
  type OutgoingRecord,
  type ProducerOptions,
  type ProducerPort,
  UnwrittenRecordsError,
} from '../ports.js';
import { baseOptions, connectOnce, PlatformaticKafkaError } from './connection.js';
import { EncodingProducer } from './encodingProducer.js';
import { SendOrder } from './sendOrder.js';

type Headers = Map<Buffer, Buffer>;
interface Outgoing {
  topic: string;
  partition: number;
  key: Buffer | undefined;
  value: Buffer | undefined;
  /** Left out when the record has none: the client makes its own empty Map then. */
  headers?: Headers;
}

interface Session {
  readonly producer: Producer;
  inFlight: number;
  retired: boolean;
}

const toBuffer = (value: Buffer | string | null): Buffer | undefined =>
  value === null ? undefined : Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8');

/**
 * Headers as the client writes them: a Map keyed by Buffer objects, so a header with several values is written once
 * per value (a Record could hold one). A header whose value is undefined or null is left out.
 */
function toHeaders(headers: NonNullable<OutgoingRecord['headers']>): Headers {
  const map: Headers = new Map();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || value === null) continue;
    const values = Array.isArray(value) ? (value as readonly HeaderValue[]) : [value as HeaderValue];
    for (const v of values) map.set(Buffer.from(name, 'utf8'), toBuffer(v) ?? Buffer.alloc(0));
  }
  return map;
}

/**
 * Partitions are chosen here, before the client sees the records: the client wraps an explicit partition modulo
 * the topic's partition count (partition 2 of a 2-partition topic would be written to 0), so a record for a
 * partition the topic does not have must be caught first; keys use murmur2 masked to 31 bits like Java and kafkajs
 * (the client's default partitioner does not mask, so its keys land elsewhere); keyless records go round-robin and
 * keep the partition they got first when sent again (see the kafkajs adapter's pinning partitioner).
 */
class Partitioning {
  readonly #pinned = new WeakMap<OutgoingRecord, number>();
  readonly #next = new Map<string, number>();
  /** `key`: the record's key as bytes (converted once by the caller, who sends those bytes too). */
  choose(record: OutgoingRecord, key: Buffer | undefined, count: number): number | undefined {
    if (count < 1) return undefined;
    if (record.partition !== undefined) {
      return Number.isInteger(record.partition) && record.partition >= 0 && record.partition < count
        ? record.partition
        : undefined;
    }
    if (key !== undefined) return partitionForKey(key, count);
    const earlier = this.#pinned.get(record);
    if (earlier !== undefined && earlier < count) return earlier;
    const turn = this.#next.get(record.topic) ?? 0;
    this.#next.set(record.topic, turn + 1);
    const chosen = turn % count;
    this.#pinned.set(record, chosen);
    return chosen;
  }
}

export class PlatformaticProducer implements ProducerPort {
  readonly #create: () => Producer;
  readonly #logger: Logger | undefined;
  readonly #config: KafkaConnectionConfig;
  readonly #compression: 'none' | 'gzip' | 'snappy';
  readonly #partitioning = new Partitioning();
  readonly #order = new SendOrder();
  #session: Session;

  constructor(config: KafkaConnectionConfig, options: ProducerOptions) {
    const producerOptions: PltProducerOptions<Buffer, Buffer, Buffer, Buffer> = {
      ...baseOptions(config, 'producer'),
      idempotent: true,
      acks: -1,
    };
    this.#create = () => new EncodingProducer(producerOptions);
    this.#session = { producer: this.#create(), inFlight: 0, retired: false };
    this.#compression = options.compression ?? 'none';
    this.#logger = config.logger;
    this.#config = config;
  }

  async connect(): Promise<void> {
    const { producer } = this.#session;
    await connectOnce(producer, this.#config, () => producer.initIdempotentProducer({}));
  }

  async send(records: readonly OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return;
    const topics = [...new Set(records.map((r) => r.topic))];
    const turn = this.#order.enter(topics);
    try {
      await turn.ready;
      const session = this.#session;
      session.inFlight++;
      try {
        const unwritten = await this.#sendOn(session.producer, records, topics);
        if (unwritten.length > 0) {
          const first = records[unwritten[0] as number] as OutgoingRecord;
          throw new UnwrittenRecordsError(
            unwritten,
            `topic ${first.topic} has no partition ${first.partition}: the record was not sent`,
          );
        }
      } finally {
        session.inFlight--;
        if (session.retired && session.inFlight === 0) this.#close(session);
      }
    } finally {
      turn.done();
    }
  }

  /** Sends what has a partition; returns the indexes of the records whose partition the topic does not have. */
  async #sendOn(producer: Producer, records: readonly OutgoingRecord[], topics: string[]): Promise<number[]> {
    let metadata: ClusterMetadata;
    try {
      metadata = await producer.metadata({ topics, autocreateTopics: false });
    } catch (error) {
      throw new PlatformaticKafkaError(error);
    }
    let outgoing = this.#assign(records, metadata);
    if (outgoing.unwritten.length > 0) {
      // partitions may have been added since the metadata was cached: look again before calling them missing
      try {
        metadata = await producer.metadata({ topics, autocreateTopics: false, forceUpdate: true });
      } catch (error) {
        throw new PlatformaticKafkaError(error);
      }
      outgoing = this.#assign(records, metadata);
    }
    if (outgoing.messages.length > 0) {
      try {
        await producer.send({ messages: outgoing.messages, acks: -1, compression: this.#compression });
      } catch (error) {
        throw new PlatformaticKafkaError(error);
      }
    }
    return outgoing.unwritten;
  }

  #assign(
    records: readonly OutgoingRecord[],
    metadata: ClusterMetadata,
  ): { messages: Outgoing[]; unwritten: number[] } {
    const messages: Outgoing[] = [];
    const unwritten: number[] = [];
    for (let i = 0; i < records.length; i++) {
      const r = records[i] as OutgoingRecord;
      const count = metadata.topics.get(r.topic)?.partitionsCount ?? 0;
      const key = toBuffer(r.key);
      const partition = this.#partitioning.choose(r, key, count);
      if (partition === undefined) {
        unwritten.push(i);
        continue;
      }
      const message: Outgoing = { topic: r.topic, partition, key, value: toBuffer(r.value) };
      if (r.headers !== undefined) message.headers = toHeaders(r.headers);
      messages.push(message);
    }
    return { messages, unwritten };
  }

  /** A new Producer instance: InitProducerId gives a new producer id, sequences start at 0. */
  async reset(): Promise<void> {
    const fresh: Session = { producer: this.#create(), inFlight: 0, retired: false };
    try {
      await fresh.producer.initIdempotentProducer({});
    } catch (error) {
      await fresh.producer.close().catch(() => {});
      throw new PlatformaticKafkaError(error);
    }
    const old = this.#session;
    this.#session = fresh;
    old.retired = true;
    if (old.inFlight === 0) this.#close(old);
  }

  disconnect(): Promise<void> {
    return this.#session.producer.close();
  }

  #close(session: Session): void {
    session.producer
      .close()
      .catch((error: unknown) => this.#logger?.warn({ err: error }, 'closing a replaced producer failed'));
  }
}
