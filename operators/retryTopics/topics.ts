/**
 * Non-blocking retries through delay topics (Spring Kafka's `@RetryableTopic`): the names, headers and delay syntax
 * shared by `retryViaTopics` (which forwards a failing record to `<topic>.retry.<delay>`), `awaitRetryDue` (which
 * holds a retry record until it is due) and `retryTopicPipelines` (which consumes the delay topics).
 */
import * as z from 'zod';
import type { RecordOrigin } from '../../src/envelope.js';
import { TributaryError } from '../../src/errors.js';
import { readDecimalHeader, readIntegerHeader, readTextHeader, withoutHeaders } from '../../src/kafka/headers.js';
import type { HeaderValue, RecordHeaders } from '../../src/kafka/ports.js';
import { isTopicName, TOPIC_NAME_RULE, topicNameSchema } from '../../src/names.js';

/**
 * Headers of a record in a delay topic. `kafka_original-*` are Spring Kafka's names (partition as a 4-byte, offset
 * and timestamp as 8-byte big-endian integers); the others are decimal text.
 */
export const RETRY_HEADERS = {
  /** Which delay topic the record is in: 1 for the first, 2 for the second, ... */
  attempt: 'tributary-retry-attempt',
  /** When the record is due again, epoch milliseconds. */
  due: 'tributary-retry-due',
  /** The delay of the topic the record is in, e.g. `30s`. */
  delay: 'tributary-retry-delay',
  /** The last error's message (cut to 1 KiB). */
  reason: 'tributary-retry-reason',
  /** Tries made so far, every round's in-process attempts included (the dead-letter header's name and meaning). */
  attempts: 'tributary-attempts',
  /** The topic the record was first consumed from. */
  originalTopic: 'tributary-original-topic',
  springOriginalTopic: 'kafka_original-topic',
  springOriginalPartition: 'kafka_original-partition',
  springOriginalOffset: 'kafka_original-offset',
  springOriginalTimestamp: 'kafka_original-timestamp',
} as const;

const RETRY_HEADER_NAMES: ReadonlySet<string> = new Set(Object.values(RETRY_HEADERS));

/** A delay: milliseconds, or text such as `'500ms'`, `'1s'`, `'30s'`, `'5m'`, `'1h'`. */
export type RetryDelay = number | string;

/** One hop of the retry plan: the wait and the topic-name suffix (`1s`, `30s`, `5m`, `1500ms`). */
export interface RetryHop {
  readonly ms: number;
  readonly label: string;
}

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** Milliseconds of a delay, or undefined when it is not a positive whole number of ms / `<n>ms|s|m|h`. */
export function delayMs(delay: RetryDelay): number | undefined {
  if (typeof delay === 'number') return Number.isSafeInteger(delay) && delay > 0 ? delay : undefined;
  const match = /^(\d+)(ms|s|m|h)$/.exec(delay.trim());
  if (!match) return undefined;
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  return Number.isSafeInteger(ms) && ms > 0 ? ms : undefined;
}

/** The canonical topic suffix of a delay: the largest unit that divides it (`1000` → `1s`, `90000` → `90s`). */
export function delayLabel(ms: number): string {
  if (ms % UNIT_MS.h === 0) return `${ms / UNIT_MS.h}h`;
  if (ms % UNIT_MS.m === 0) return `${ms / UNIT_MS.m}m`;
  if (ms % UNIT_MS.s === 0) return `${ms / UNIT_MS.s}s`;
  return `${ms}ms`;
}

export const retryDelaySchema = z
  .union([z.number(), z.string()])
  .refine((delay) => delayMs(delay) !== undefined, "a delay: positive milliseconds, or '<n>ms', '<n>s', '<n>m', '<n>h'")
  .describe("A delay: positive milliseconds, or '<n>ms', '<n>s', '<n>m', '<n>h'.");

/** The fields shared by retryViaTopics and retryTopicPipelines: pass the same values to both. */
export interface RetryTopicsOptions {
  /** One delay per retry round, e.g. `['1s', '30s', '5m']` or `[1000, 30000]`. Required, at least one. */
  delays: readonly RetryDelay[];
  /** Base of the delay topics' names, `<topicPrefix>.retry.<delay>`. Default: the record's original topic. */
  topicPrefix?: string;
}

export const retryTopicsShape = {
  delays: z
    .array(retryDelaySchema)
    .min(1, 'at least one delay')
    .describe("One delay per retry round, e.g. ['1s', '30s', '5m'] or milliseconds. Required."),
  topicPrefix: topicNameSchema
    .optional()
    .describe("Base of the delay topics' names, <topicPrefix>.retry.<delay>. Default: the record's original topic."),
};

function definitionError(message: string): TributaryError {
  return new TributaryError('TRIBUTARY_ERR_PIPELINE_DEFINITION', message);
}

/** The parsed delays (validated by the schema first). */
export function retryPlan(delays: readonly RetryDelay[]): RetryHop[] {
  return delays.map((delay) => {
    const ms = delayMs(delay);
    if (ms === undefined) throw definitionError(`invalid retry delay ${JSON.stringify(delay)}`);
    return { ms, label: delayLabel(ms) };
  });
}

/** `<base>.retry.<label>`. */
export function retryTopicName(base: string, delay: RetryDelay): string {
  const ms = delayMs(delay);
  if (ms === undefined) throw definitionError(`invalid retry delay ${JSON.stringify(delay)}`);
  const topic = `${base}.retry.${delayLabel(ms)}`;
  if (!isTopicName(topic)) throw definitionError(`"${topic}" is not a Kafka topic name (${TOPIC_NAME_RULE})`);
  return topic;
}

/**
 * Every delay topic a pipeline consuming `sourceTopics` needs, in delay order without repeats — create them
 * (same partition count as the source is a good default) before starting the pipelines.
 */
export function retryTopicNames(sourceTopics: readonly string[], options: RetryTopicsOptions): string[] {
  const bases = options.topicPrefix === undefined ? sourceTopics : [options.topicPrefix];
  const names: string[] = [];
  for (const hop of retryPlan(options.delays)) {
    for (const base of bases) {
      const topic = retryTopicName(base, hop.ms);
      if (!names.includes(topic)) names.push(topic);
    }
  }
  return names;
}

/** Where a record first came from, and how far through the retry rounds it is. */
export interface RetryState {
  /** Delay topics the record went through so far (0: not a retry record). */
  readonly round: number;
  /** Tries made in earlier rounds. */
  readonly priorAttempts: number;
  readonly originalTopic: string;
  readonly originalPartition: number;
  readonly originalOffset: bigint;
  readonly originalTimestamp: string;
}

function nonNegative(value: bigint | undefined): number | undefined {
  return value !== undefined && value >= 0n && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : undefined;
}

const INT32_MAX = 2n ** 31n - 1n;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * The ranges Kafka (and Spring's binary headers) can hold: a header written by hand or by a buggy producer may say
 * anything, and a value outside them would make the dead-letter record unbuildable (int32/int64 header writers
 * throw). Out of range reads as absent, so the delay-topic record's own coordinates are used instead.
 */
function partitionInRange(value: bigint | undefined): number | undefined {
  return value !== undefined && value >= 0n && value <= INT32_MAX ? Number(value) : undefined;
}

function offsetInRange(value: bigint | undefined): bigint | undefined {
  return value !== undefined && value >= 0n && value <= INT64_MAX ? value : undefined;
}

function timestampInRange(value: bigint | undefined): bigint | undefined {
  return value !== undefined && value >= INT64_MIN && value <= INT64_MAX ? value : undefined;
}

/**
 * The `kafka_original-partition` and `-offset` of a delay-topic record, both valid (int32 ≥ 0, int64 ≥ 0), or
 * undefined: when either is missing, malformed or out of range, neither can be trusted to name the original record.
 */
export function originCoordinates(
  headers: RecordHeaders,
): { originalPartition: number; originalOffset: bigint } | undefined {
  const originalPartition = partitionInRange(readIntegerHeader(headers[RETRY_HEADERS.springOriginalPartition]));
  const originalOffset = offsetInRange(readIntegerHeader(headers[RETRY_HEADERS.springOriginalOffset]));
  return originalPartition === undefined || originalOffset === undefined
    ? undefined
    : { originalPartition, originalOffset };
}

/**
 * Reads the retry headers of an element; a record without them is round 0 at its own coordinates. A missing,
 * malformed or out-of-range original coordinate (partition outside int32 ≥ 0, offset outside int64 ≥ 0, timestamp
 * outside int64) is replaced by the delay-topic record's own — partition and offset together, so they always name
 * one real record — and the state is always writable as Kafka headers.
 */
export function readRetryState(element: { readonly origin: RecordOrigin }): RetryState {
  const { headers, topic, partition, offset, timestamp } = element.origin;
  const round = nonNegative(readDecimalHeader(headers[RETRY_HEADERS.attempt])) ?? 0;
  if (round === 0) {
    return {
      round: 0,
      priorAttempts: 0,
      originalTopic: topic,
      originalPartition: partition,
      originalOffset: offset,
      originalTimestamp: timestamp,
    };
  }
  const originalTopic =
    readTextHeader(headers[RETRY_HEADERS.originalTopic]) ?? readTextHeader(headers[RETRY_HEADERS.springOriginalTopic]);
  const { originalPartition, originalOffset } = originCoordinates(headers) ?? {
    originalPartition: partition,
    originalOffset: offset,
  };
  const originalTimestamp = timestampInRange(readIntegerHeader(headers[RETRY_HEADERS.springOriginalTimestamp]));
  return {
    round,
    priorAttempts: nonNegative(readDecimalHeader(headers[RETRY_HEADERS.attempts])) ?? 0,
    originalTopic: originalTopic !== undefined && isTopicName(originalTopic) ? originalTopic : topic,
    originalPartition,
    originalOffset,
    originalTimestamp: originalTimestamp === undefined ? timestamp : String(originalTimestamp),
  };
}

/** The headers without any retry header (the user's own headers, `correlation-id` included). */
export function withoutRetryHeaders(headers: RecordHeaders): Record<string, HeaderValue | readonly HeaderValue[]> {
  return withoutHeaders(headers, (name) => RETRY_HEADER_NAMES.has(name));
}
