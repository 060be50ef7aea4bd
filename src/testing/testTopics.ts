/**
 * The driver's in-memory topics: partitioned logs with per-partition offsets, written by `inputTopic().pipe*()` and
 * by what pipelines publish, read through `outputTopic()` / `deadLetterTopic()` views. Like a broker, the store
 * keeps keys, values and header values as bytes.
 */
import * as z from 'zod';
import { readIntegerHeader, readTextHeader } from '../kafka/headers.js';
import type { ConsumedRecord, HeaderValue, OutgoingRecord, RecordHeaders } from '../kafka/ports.js';
import { DEAD_LETTER_HEADERS } from '../runtime/deadLetterRecord.js';
import { serializeValue } from '../runtime/serializeValue.js';
import type { PartitionChooser } from './partitioner.js';

/** A record to pipe into an input topic. */
export interface TestInputRecord {
  /** The key (text is UTF-8 encoded); decides the partition with Kafka's murmur2 partitioner. Default: none. */
  key?: string | Buffer | null;
  /** A Buffer as is, a string as UTF-8, `null` as a tombstone, anything else as JSON. */
  value: unknown;
  headers?: RecordHeaders;
  /** An explicit partition; default: chosen from the key (round-robin without a key). */
  partition?: number;
  /** Record timestamp in ms since the epoch (or a Date). Default: the driver clock's now. */
  timestamp?: number | Date;
}

/** Where a record was stored. */
export interface RecordPosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
}

/** A record as the store keeps it (bytes, like a broker): what a consumer receives, and where it is. */
export interface StoredRecord extends RecordPosition, ConsumedRecord {}

/** A record read from an output topic: the key and headers as text, the value decoded, the raw bytes kept. */
export interface TestRecord<V> extends RecordPosition {
  /** The key as UTF-8 text, or null. */
  readonly key: string | null;
  readonly value: V;
  /** Each header's last value as UTF-8 text (binary headers such as `kafka_dlt-original-offset`: see rawHeaders). */
  readonly headers: Readonly<Record<string, string>>;
  readonly rawKey: Buffer | null;
  readonly rawValue: Buffer | null;
  readonly rawHeaders: RecordHeaders;
  readonly timestamp: string;
}

export interface KeyValue<V> {
  readonly key: string | null;
  readonly value: V;
}

/** How an output view turns value bytes into values. */
export type ValueDecoder<V> = (raw: Buffer | null, record: StoredRecord) => V;

/** One topic: its partition logs and the read position shared by every output view of it. */
export interface TopicLog {
  readonly name: string;
  partitions: number;
  readonly logs: StoredRecord[][];
  /** Every record in append order (all partitions). */
  readonly appended: StoredRecord[];
  /** How many of `appended` the output views have read. */
  cursor: number;
}

/** What the store appends: a record to produce, with the time it is written at unless `timestamp` says otherwise. */
export interface AppendRequest extends OutgoingRecord {
  readonly timestamp?: number | Date | undefined;
}

export function toBuffer(value: Buffer | string): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8');
}

/** Header values become bytes, as a broker hands them to consumers. */
export function normalizeHeaders(headers: RecordHeaders | undefined): RecordHeaders {
  const out: Record<string, Buffer | Buffer[]> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.map((v: HeaderValue) => toBuffer(v)) : toBuffer(value as HeaderValue);
  }
  return out;
}

/** A test value as bytes: Buffer as is, string as UTF-8, null as a tombstone, anything else as JSON. */
export function encodeTestValue(value: unknown): Buffer | null {
  if (value === undefined) throw new TypeError('a record value is required (use null for a tombstone)');
  const serialized = serializeValue(value);
  return serialized === null ? null : toBuffer(serialized);
}

function headerTexts(headers: RecordHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const text = readTextHeader(value);
    if (text !== undefined) out[name] = text;
  }
  return out;
}

export class TopicStore {
  readonly #topics = new Map<string, TopicLog>();
  readonly #choose: PartitionChooser;
  readonly #now: () => number;
  readonly #defaultPartitions: number;
  readonly #onAppend: (record: StoredRecord) => void;

  constructor(
    choose: PartitionChooser,
    now: () => number,
    defaultPartitions: number,
    onAppend: (record: StoredRecord) => void,
  ) {
    this.#choose = choose;
    this.#now = now;
    this.#defaultPartitions = defaultPartitions;
    this.#onAppend = onAppend;
  }

  /** The topic, created with `partitions` (default: the driver's default) if it does not exist yet. */
  declare(name: string, partitions?: number): TopicLog {
    if (partitions !== undefined && (!Number.isInteger(partitions) || partitions < 1 || partitions > 10_000)) {
      throw new RangeError(`topic ${name}: partitions must be an integer from 1 to 10000, got ${partitions}`);
    }
    const existing = this.#topics.get(name);
    if (existing) {
      if (partitions !== undefined && partitions !== existing.partitions) {
        if (existing.appended.length > 0) {
          throw new Error(
            `topic ${name} already has ${existing.partitions} partitions and records; declare its partitions before piping (driver option "partitions")`,
          );
        }
        existing.partitions = partitions;
        existing.logs.length = 0;
        for (let p = 0; p < partitions; p++) existing.logs.push([]);
      }
      return existing;
    }
    const count = partitions ?? this.#defaultPartitions;
    const log: TopicLog = {
      name,
      partitions: count,
      logs: Array.from({ length: count }, () => []),
      appended: [],
      cursor: 0,
    };
    this.#topics.set(name, log);
    return log;
  }

  get(name: string): TopicLog | undefined {
    return this.#topics.get(name);
  }

  names(): string[] {
    return [...this.#topics.keys()];
  }

  append(request: AppendRequest): StoredRecord {
    const log = this.declare(request.topic);
    const key = request.key === null ? null : toBuffer(request.key);
    let partition: number;
    if (request.partition !== undefined) {
      if (!Number.isInteger(request.partition) || request.partition < 0 || request.partition >= log.partitions) {
        throw Object.assign(
          new RangeError(
            `topic ${log.name} has ${log.partitions} partitions; there is no partition ${request.partition}`,
          ),
          { retriable: false },
        );
      }
      partition = request.partition;
    } else {
      partition = this.#choose(log.name, log.partitions, key);
    }
    const partitionLog = log.logs[partition] as StoredRecord[];
    const timestamp = request.timestamp ?? this.#now();
    const record: StoredRecord = {
      topic: log.name,
      partition,
      offset: BigInt(partitionLog.length),
      key,
      value: request.value === null ? null : toBuffer(request.value),
      headers: normalizeHeaders(request.headers),
      timestamp: String(timestamp instanceof Date ? timestamp.getTime() : Math.trunc(timestamp)),
    };
    partitionLog.push(record);
    log.appended.push(record);
    this.#onAppend(record);
    return record;
  }
}

/** Pipes records into one topic; every pipeline subscribed to it receives them at once (synchronously). */
export class TestInputTopic {
  readonly name: string;
  readonly #pipe: (record: TestInputRecord) => RecordPosition;

  constructor(name: string, pipe: (topic: string, record: TestInputRecord) => RecordPosition) {
    this.name = name;
    this.#pipe = (record) => pipe(name, record);
  }

  /** Appends one record and delivers it to the pipelines that consume this topic. Returns where it was stored. */
  pipeInput(record: TestInputRecord): RecordPosition {
    return this.#pipe(record);
  }

  /** `pipeInput` for each record, in order. */
  pipeRecords(records: Iterable<TestInputRecord>): RecordPosition[] {
    return [...records].map((record) => this.#pipe(record));
  }

  /** Keyless records (round-robin over the partitions), one per value. */
  pipeValues(values: Iterable<unknown>, options: { headers?: RecordHeaders } = {}): RecordPosition[] {
    return [...values].map((value) => this.#pipe({ value, ...(options.headers ? { headers: options.headers } : {}) }));
  }

  /** Keyed records: `[key, value]` pairs or `{ key, value, headers? }` objects. */
  pipeKeyValues(
    entries: Iterable<
      | readonly [string | Buffer | null, unknown]
      | { key: string | Buffer | null; value: unknown; headers?: RecordHeaders }
    >,
  ): RecordPosition[] {
    return [...entries].map((entry) =>
      Array.isArray(entry)
        ? this.#pipe({ key: entry[0] as string | Buffer | null, value: entry[1] })
        : this.#pipe(entry as TestInputRecord),
    );
  }
}

/** Reads what was written to a topic, oldest first. Reading consumes (like Kafka Streams' TestOutputTopic). */
export class TestOutputTopic<V> {
  readonly name: string;
  readonly #log: TopicLog;
  readonly #decode: ValueDecoder<V>;

  constructor(log: TopicLog, decode: ValueDecoder<V>) {
    this.name = log.name;
    this.#log = log;
    this.#decode = decode;
  }

  /** Records not read yet. */
  get size(): number {
    return this.#log.appended.length - this.#log.cursor;
  }

  isEmpty(): boolean {
    return this.size === 0;
  }

  /** The oldest unread record; throws when there is none. */
  readRecord(): TestRecord<V> {
    const record = this.#log.appended[this.#log.cursor];
    if (record === undefined) throw new Error(`output topic ${this.name} is empty (did you await driver.settle()?)`);
    this.#log.cursor++;
    return this.#toTestRecord(record);
  }

  readValue(): V {
    return this.readRecord().value;
  }

  /** Every unread record, consumed. */
  readRecords(): TestRecord<V>[] {
    const records = this.peekRecords();
    this.#log.cursor = this.#log.appended.length;
    return records;
  }

  readValues(): V[] {
    return this.readRecords().map((r) => r.value);
  }

  readKeyValues(): KeyValue<V>[] {
    return this.readRecords().map((r) => ({ key: r.key, value: r.value }));
  }

  /** Every unread record, left unread. */
  peekRecords(): TestRecord<V>[] {
    return this.#log.appended.slice(this.#log.cursor).map((r) => this.#toTestRecord(r));
  }

  /** Every record ever written to the topic (read or not), in append order. */
  allRecords(): TestRecord<V>[] {
    return this.#log.appended.map((r) => this.#toTestRecord(r));
  }

  #toTestRecord(record: StoredRecord): TestRecord<V> {
    let value: V;
    try {
      value = this.#decode(record.value, record);
    } catch (error) {
      throw new Error(
        `${record.topic}/${record.partition}@${record.offset}: cannot decode the value (${error instanceof Error ? error.message : String(error)}); pick another decode option`,
        { cause: error },
      );
    }
    return {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      key: record.key === null ? null : record.key.toString('utf8'),
      value,
      headers: headerTexts(record.headers),
      rawKey: record.key,
      rawValue: record.value,
      rawHeaders: record.headers,
      timestamp: record.timestamp,
    };
  }
}

/** What the dead-letter headers (src/runtime/deadLetterRecord.ts) say about a dead letter. */
export interface DeadLetterInfo {
  readonly originalTopic: string | undefined;
  readonly originalPartition: number | undefined;
  readonly originalOffset: bigint | undefined;
  readonly originalConsumerGroup: string | undefined;
  /** The original record's timestamp (ms since the epoch) as a decimal string. */
  readonly originalTimestamp: string | undefined;
  readonly exceptionFqcn: string | undefined;
  readonly exceptionCauseFqcn: string | undefined;
  readonly exceptionMessage: string | undefined;
  readonly pipeline: string | undefined;
  readonly stage: string | undefined;
  readonly attempts: number | undefined;
  readonly errorCode: string | undefined;
  /** Set when the value was left out (the dead-letter topic refused it); says why. */
  readonly valueOmitted: string | undefined;
  /** Set on a minimal dead letter (refused for its size even without the value): the original headers were left out. */
  readonly headersOmitted: string | undefined;
  /** Set on a minimal dead letter without its key (refused for its size even as the minimal record); says why. */
  readonly keyOmitted: string | undefined;
}

export type DeadLetter<V> = TestRecord<V> & DeadLetterInfo;

/** Reads the dead-letter headers of a record. */
export function deadLetterInfo(headers: RecordHeaders): DeadLetterInfo {
  const int = (name: string) => {
    const v = readIntegerHeader(headers[name]);
    return v === undefined ? undefined : Number(v);
  };
  const text = (name: string) => readTextHeader(headers[name]);
  const timestamp = readIntegerHeader(headers[DEAD_LETTER_HEADERS.originalTimestamp]);
  const attempts = text(DEAD_LETTER_HEADERS.attempts);
  return {
    originalTopic: text(DEAD_LETTER_HEADERS.originalTopic),
    originalPartition: int(DEAD_LETTER_HEADERS.originalPartition),
    originalOffset: readIntegerHeader(headers[DEAD_LETTER_HEADERS.originalOffset]),
    originalConsumerGroup: text(DEAD_LETTER_HEADERS.originalConsumerGroup),
    originalTimestamp: timestamp === undefined ? undefined : timestamp.toString(),
    exceptionFqcn: text(DEAD_LETTER_HEADERS.exceptionFqcn),
    exceptionCauseFqcn: text(DEAD_LETTER_HEADERS.exceptionCauseFqcn),
    exceptionMessage: text(DEAD_LETTER_HEADERS.exceptionMessage),
    pipeline: text(DEAD_LETTER_HEADERS.pipeline),
    stage: text(DEAD_LETTER_HEADERS.stage),
    attempts: attempts === undefined ? undefined : Number(attempts),
    errorCode: text(DEAD_LETTER_HEADERS.errorCode),
    valueOmitted: text(DEAD_LETTER_HEADERS.valueOmitted),
    headersOmitted: text(DEAD_LETTER_HEADERS.headersOmitted),
    keyOmitted: text(DEAD_LETTER_HEADERS.keyOmitted),
  };
}

/** A dead-letter topic view: an output topic whose records also expose the dead-letter headers, parsed. */
export class TestDeadLetterTopic<V> extends TestOutputTopic<V> {
  /** Every unread dead letter, consumed, with its headers parsed (original topic/partition/offset, stage, ...). */
  readDeadLetters(): DeadLetter<V>[] {
    return this.readRecords().map((record) => ({ ...record, ...deadLetterInfo(record.rawHeaders) }));
  }
}

/** How an output view decodes values: JSON (default), UTF-8 text, the bytes, a zod schema over JSON, or a function. */
export type DecodeOption<V> = 'json' | 'string' | 'bytes' | ValueDecoder<V>;

export interface OutputTopicOptions<V> {
  /** Default `'json'` (a tombstone reads as null). */
  decode?: DecodeOption<V>;
  /** Partitions of the topic, if the driver has not seen it yet. */
  partitions?: number;
}

export interface SchemaOutputTopicOptions<S extends z.core.$ZodType> {
  /** JSON-decode each value and check it against this schema (a mismatch throws, naming the record). */
  schema: S;
  partitions?: number;
}

export function jsonDecoder(raw: Buffer | null): unknown {
  return raw === null ? null : (JSON.parse(raw.toString('utf8')) as unknown);
}

export function schemaDecoder<S extends z.core.$ZodType>(schema: S): ValueDecoder<z.output<S>> {
  return (raw) => {
    const result = z.safeParse(schema, jsonDecoder(raw));
    if (!result.success) throw new Error(`schema mismatch: ${z.prettifyError(result.error)}`);
    return result.data;
  };
}

export function textDecoder(raw: Buffer | null): string | null {
  return raw === null ? null : raw.toString('utf8');
}

export function bytesDecoder(raw: Buffer | null): Buffer | null {
  return raw;
}

/** The decoder an output view uses for `option` (its value type is the caller's business, see `outputTopic`). */
export function decoderOf(option: DecodeOption<unknown> | undefined): ValueDecoder<unknown> {
  if (typeof option === 'function') return option;
  switch (option) {
    case 'string':
      return textDecoder;
    case 'bytes':
      return bytesDecoder;
    default:
      return jsonDecoder;
  }
}
