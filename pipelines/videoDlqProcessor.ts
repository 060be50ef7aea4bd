/**
 * Video analysis, dead letters (group `dlq-processor`): reads `video.dlq` and reports each dead letter.
 *
 * Seed 000: "failed messages after max retries are logged". Each record is described from its dead-letter headers
 * (original topic, partition, offset, consumer group, stage, error code, reason, attempts) and handed to
 * `onDeadLetter` (default: one `warn` log line per dead letter), with retries. A dead letter the handler cannot
 * take after its retries is parked on `video.dlq.parked`.
 */
import {
  DEAD_LETTER_HEADERS,
  definePipeline,
  type Envelope,
  mapValue,
  type Pipeline,
  type RawValue,
  readIntegerHeader,
  readTextHeader,
  sink,
} from '../src/index.js';
import { resolveVideoOptions, type VideoPipelineOptions, videoRetryConfig, videoTopicSpecs } from './lib/video.js';

/** What a dead letter says about itself (from the `kafka_dlt-*` and `tributary-*` headers). */
export interface DeadLetterReport {
  originalTopic: string | null;
  originalPartition: number | null;
  /** int64 as decimal text. */
  originalOffset: string | null;
  originalConsumerGroup: string | null;
  pipeline: string | null;
  stage: string | null;
  errorCode: string | null;
  reason: string | null;
  attempts: number | null;
  /** The original key (the video id for this chain's records). */
  key: string | null;
  correlationId: string;
  valueBytes: number;
  /** The first 200 characters of the value as UTF-8 (null for a tombstone). */
  valuePreview: string | null;
}

/** Handles one dead letter; throwing or rejecting retries it (then parks it). */
export type DeadLetterHandler = (
  report: DeadLetterReport,
  element: Envelope<DeadLetterReport>,
) => PromiseLike<void> | void;

export interface DlqProcessorOptions extends VideoPipelineOptions {
  /** Default: a `warn` log line with the report. */
  onDeadLetter?: DeadLetterHandler;
}

/** Reads a dead letter's headers. */
export function describeDeadLetter(element: Envelope<RawValue>): DeadLetterReport {
  const { headers, key, raw, correlationId } = element.origin;
  const text = (name: string) => readTextHeader(headers[name]) ?? null;
  const int = (name: string) => readIntegerHeader(headers[name]);
  const partition = int(DEAD_LETTER_HEADERS.originalPartition);
  const offset = int(DEAD_LETTER_HEADERS.originalOffset);
  const attempts = text(DEAD_LETTER_HEADERS.attempts);
  return {
    originalTopic: text(DEAD_LETTER_HEADERS.originalTopic),
    originalPartition: partition === undefined ? null : Number(partition),
    originalOffset: offset === undefined ? null : offset.toString(),
    originalConsumerGroup: text(DEAD_LETTER_HEADERS.originalConsumerGroup),
    pipeline: text(DEAD_LETTER_HEADERS.pipeline),
    stage: text(DEAD_LETTER_HEADERS.stage),
    errorCode: text(DEAD_LETTER_HEADERS.errorCode),
    reason: text(DEAD_LETTER_HEADERS.exceptionMessage),
    attempts: attempts === null || !/^\d+$/.test(attempts) ? null : Number(attempts),
    key: key === null ? null : key.toString('utf8'),
    correlationId,
    valueBytes: raw?.length ?? 0,
    valuePreview: raw === null ? null : raw.subarray(0, 800).toString('utf8').slice(0, 200),
  };
}

const logDeadLetter: DeadLetterHandler = (report, element) => {
  element.context.logger.warn(
    { deadLetter: report, correlationId: report.correlationId },
    `dead letter from ${report.originalTopic ?? '?'}/${report.originalPartition ?? '?'}@${report.originalOffset ?? '?'} (${report.pipeline ?? '?'} at ${report.stage ?? '?'}): ${report.reason ?? 'no reason given'}`,
  );
};

export function createDlqProcessor(options: DlqProcessorOptions = {}): Pipeline<DeadLetterReport> {
  const resolved = resolveVideoOptions({ ordering: 'partition', ...options });
  const { topics } = resolved;
  const handle = options.onDeadLetter ?? logDeadLetter;
  return definePipeline({
    name: options.name ?? 'dlq-processor',
    source: { topics: [topics.dlq], groupId: options.groupId ?? 'dlq-processor' },
    deadLetter: { topic: topics.dlqParked },
    maxInFlight: resolved.maxInFlight,
    ordering: resolved.ordering,
    build: (records) =>
      records.pipe(
        mapValue((_raw: RawValue, element) => describeDeadLetter(element), { name: 'dlq.describe' }),
        sink((report, element) => handle(report, element), videoRetryConfig(resolved, 'dlq.handle')),
      ),
  });
}

/** The topics this pipeline reads and writes (the demo creates them). */
export const topics = videoTopicSpecs();

export default createDlqProcessor();
