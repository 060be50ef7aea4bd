/**
 * The dead-letter record format (DESIGN.md §4): value and key are the original bytes, the original headers are
 * kept, and Spring Kafka's `kafka_dlt-*` headers are added in Spring's own encoding (partition as a 4-byte and
 * offset/timestamp as 8-byte big-endian integers, text as UTF-8) so Java tooling reads them, plus `tributary-*`.
 */
import type { FailedEnvelope, OutgoingRecord } from '../envelope.js';
import { errorMessage } from '../errors.js';
import type { HeaderValue, RecordHeaders } from '../kafka/ports.js';

export const DLT_HEADERS = {
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
} as const;

const MAX_MESSAGE_BYTES = 4096;

export function int32Header(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(value);
  return b;
}

export function int64Header(value: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(value);
  return b;
}

/** Reads a header written by Spring (binary big-endian) or by a person (decimal text). */
export function readIntegerHeader(value: HeaderValue | readonly HeaderValue[] | undefined): bigint | undefined {
  const v = Array.isArray(value) ? value[value.length - 1] : value;
  if (v === undefined) return undefined;
  if (typeof v === 'string') return /^-?\d+$/.test(v) ? BigInt(v) : undefined;
  const buf = v as Buffer;
  if (buf.length === 4) return BigInt(buf.readInt32BE());
  if (buf.length === 8) return buf.readBigInt64BE();
  const text = buf.toString('utf8');
  return /^-?\d+$/.test(text) ? BigInt(text) : undefined;
}

export function readTextHeader(value: HeaderValue | readonly HeaderValue[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[value.length - 1] : value;
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : (v as Buffer).toString('utf8');
}

function truncate(text: string, max: number): string {
  const bytes = Buffer.from(text, 'utf8');
  return bytes.length <= max ? text : `${bytes.subarray(0, max - 3).toString('utf8')}…`;
}

export interface DeadLetterOptions {
  /** Drop the value (too large for the dead-letter topic); the headers still say where the original is. */
  omitValue?: string;
}

export function buildDeadLetterRecord(
  failed: FailedEnvelope,
  topic: string,
  options: DeadLetterOptions = {},
): OutgoingRecord {
  const { origin, error } = failed;
  const cause = error.cause;
  const headers: Record<string, HeaderValue | readonly HeaderValue[] | undefined> = { ...origin.headers };
  headers[DLT_HEADERS.originalTopic] = origin.topic;
  headers[DLT_HEADERS.originalPartition] = int32Header(origin.partition);
  headers[DLT_HEADERS.originalOffset] = int64Header(origin.offset);
  headers[DLT_HEADERS.originalConsumerGroup] = origin.groupId;
  headers[DLT_HEADERS.originalTimestamp] = int64Header(BigInt(origin.timestamp));
  headers[DLT_HEADERS.originalTimestampType] = 'CreateTime';
  headers[DLT_HEADERS.exceptionFqcn] = `TributaryError.${error.code}`;
  if (cause instanceof Error) headers[DLT_HEADERS.exceptionCauseFqcn] = cause.constructor.name;
  else delete headers[DLT_HEADERS.exceptionCauseFqcn];
  headers[DLT_HEADERS.exceptionMessage] = truncate(errorMessage(error), MAX_MESSAGE_BYTES);
  headers[DLT_HEADERS.pipeline] = origin.pipeline;
  headers[DLT_HEADERS.stage] = failed.stage;
  headers[DLT_HEADERS.attempts] = String(failed.attempts);
  headers[DLT_HEADERS.errorCode] = error.code;
  if (options.omitValue !== undefined) headers[DLT_HEADERS.valueOmitted] = options.omitValue;
  else delete headers[DLT_HEADERS.valueOmitted];
  return {
    topic,
    key: origin.key,
    value: options.omitValue === undefined ? origin.raw : null,
    headers: headers as RecordHeaders,
  };
}
