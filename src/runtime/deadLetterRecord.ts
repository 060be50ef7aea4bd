/**
 * The dead-letter record format: value and key are the original bytes, the original headers are
 * kept, and Spring Kafka's `kafka_dlt-*` headers are added in Spring's own encoding (partition as a 4-byte and
 * offset/timestamp as 8-byte big-endian integers, text as UTF-8) so Java tooling reads them, plus `tributary-*`.
 */
import type { FailedEnvelope } from '../envelope.js';
import { errorMessage } from '../errors.js';
import { int32Header, int64Header, truncateUtf8 } from '../kafka/headers.js';
import type { HeaderValue, OutgoingRecord, RecordHeaders } from '../kafka/ports.js';

export const DEAD_LETTER_HEADERS = {
  originalTopic: 'kafka_dlt-original-topic',
  originalPartition: 'kafka_dlt-original-partition',
  originalOffset: 'kafka_dlt-original-offset',
  originalConsumerGroup: 'kafka_dlt-original-consumer-group',
  originalTimestamp: 'kafka_dlt-original-timestamp',
  originalTimestampType: 'kafka_dlt-original-timestamp-type',
  exceptionFqcn: 'kafka_dlt-exception-fqcn',
  exceptionCauseFqcn: 'kafka_dlt-exception-cause-fqcn',
  exceptionMessage: 'kafka_dlt-exception-message',
  pipeline: 'tributary-pipeline',
  stage: 'tributary-stage',
  attempts: 'tributary-attempts',
  errorCode: 'tributary-error-code',
  valueOmitted: 'tributary-value-omitted',
  /** On a minimal dead-letter record: why the original headers were left out. */
  headersOmitted: 'tributary-headers-omitted',
  /** On a minimal dead-letter record without its key: why the key was left out. */
  keyOmitted: 'tributary-key-omitted',
} as const;

const MAX_MESSAGE_BYTES = 4096;
/** The exception message of a minimal record: short, so the record fits any topic's size limit. */
const MINIMAL_MESSAGE_BYTES = 1024;
/** A correlation id longer than this is not carried by a minimal record (it would be the thing too large). */
const MINIMAL_CORRELATION_ID_BYTES = 256;

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export interface DeadLetterOptions {
  /** Drop the value (too large for the dead-letter topic); the headers still say where the original is. */
  omitValue?: string;
}

type Headers = Record<string, HeaderValue | readonly HeaderValue[] | undefined>;

/**
 * The `kafka_dlt-original-*` coordinates, each only when it fits its Spring encoding: the origin comes from Kafka or
 * from range-checked retry headers, so a value out of range is a bug elsewhere — it must cost that header, never
 * the dead letter (int32Header/int64Header throw on it).
 */
function setCoordinates(headers: Headers, failed: FailedEnvelope): void {
  const { origin } = failed;
  headers[DEAD_LETTER_HEADERS.originalTopic] = origin.topic;
  if (Number.isInteger(origin.partition) && origin.partition >= INT32_MIN && origin.partition <= INT32_MAX) {
    headers[DEAD_LETTER_HEADERS.originalPartition] = int32Header(origin.partition);
  } else delete headers[DEAD_LETTER_HEADERS.originalPartition];
  if (typeof origin.offset === 'bigint' && origin.offset >= INT64_MIN && origin.offset <= INT64_MAX) {
    headers[DEAD_LETTER_HEADERS.originalOffset] = int64Header(origin.offset);
  } else delete headers[DEAD_LETTER_HEADERS.originalOffset];
  const timestamp = /^-?\d{1,20}$/.test(origin.timestamp) ? BigInt(origin.timestamp) : undefined;
  if (timestamp !== undefined && timestamp >= INT64_MIN && timestamp <= INT64_MAX) {
    headers[DEAD_LETTER_HEADERS.originalTimestamp] = int64Header(timestamp);
  } else delete headers[DEAD_LETTER_HEADERS.originalTimestamp];
  headers[DEAD_LETTER_HEADERS.originalConsumerGroup] = origin.groupId;
  headers[DEAD_LETTER_HEADERS.originalTimestampType] = 'CreateTime';
}

/** The error and where it happened: exception headers plus pipeline, stage, attempts and error code. */
function setFailure(headers: Headers, failed: FailedEnvelope, maxMessageBytes: number): void {
  const { origin, error } = failed;
  headers[DEAD_LETTER_HEADERS.exceptionFqcn] = `TributaryError.${error.code}`;
  if (error.cause instanceof Error) headers[DEAD_LETTER_HEADERS.exceptionCauseFqcn] = error.cause.constructor.name;
  else delete headers[DEAD_LETTER_HEADERS.exceptionCauseFqcn];
  headers[DEAD_LETTER_HEADERS.exceptionMessage] = truncateUtf8(errorMessage(error), maxMessageBytes);
  headers[DEAD_LETTER_HEADERS.pipeline] = origin.pipeline;
  headers[DEAD_LETTER_HEADERS.stage] = failed.stage;
  headers[DEAD_LETTER_HEADERS.attempts] = String(failed.attempts);
  headers[DEAD_LETTER_HEADERS.errorCode] = error.code;
}

export function buildDeadLetterRecord(
  failed: FailedEnvelope,
  topic: string,
  options: DeadLetterOptions = {},
): OutgoingRecord {
  const { origin } = failed;
  const headers: Headers = { ...origin.headers };
  setCoordinates(headers, failed);
  setFailure(headers, failed, MAX_MESSAGE_BYTES);
  delete headers[DEAD_LETTER_HEADERS.headersOmitted];
  delete headers[DEAD_LETTER_HEADERS.keyOmitted];
  if (options.omitValue !== undefined) headers[DEAD_LETTER_HEADERS.valueOmitted] = options.omitValue;
  else delete headers[DEAD_LETTER_HEADERS.valueOmitted];
  return {
    topic,
    key: origin.key,
    value: options.omitValue === undefined ? origin.raw : null,
    headers: headers as RecordHeaders,
  };
}

export interface MinimalDeadLetterOptions {
  /** Why the value and the original headers are left out (e.g. the topic's size refusal). */
  reason: string;
  /** Set when the key is left out too (the key itself is too large): why. */
  omitKey?: string;
}

/**
 * The last resort when the dead-letter topic refuses the record for its size even without the value: no value, no
 * original headers, only the coordinates, the error (message cut to 1 KiB), pipeline, stage, attempts, group and a
 * short correlation id — a few hundred bytes, which any topic accepts — and the key unless `omitKey`. The original
 * record stays in its source topic at the recorded offset (while its retention keeps it).
 */
export function buildMinimalDeadLetterRecord(
  failed: FailedEnvelope,
  topic: string,
  options: MinimalDeadLetterOptions,
): OutgoingRecord {
  const headers: Headers = {};
  setCoordinates(headers, failed);
  setFailure(headers, failed, MINIMAL_MESSAGE_BYTES);
  const correlationId = failed.origin.correlationId;
  if (typeof correlationId === 'string' && Buffer.byteLength(correlationId) <= MINIMAL_CORRELATION_ID_BYTES) {
    headers['correlation-id'] = correlationId;
  }
  headers[DEAD_LETTER_HEADERS.valueOmitted] = options.reason;
  headers[DEAD_LETTER_HEADERS.headersOmitted] = options.reason;
  if (options.omitKey !== undefined) headers[DEAD_LETTER_HEADERS.keyOmitted] = options.omitKey;
  return {
    topic,
    key: options.omitKey === undefined ? failed.origin.key : null,
    value: null,
    headers: headers as RecordHeaders,
  };
}
