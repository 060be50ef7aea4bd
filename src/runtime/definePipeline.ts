/**
 * A pipeline is a value declared in code: a source (topics + consumer group), an operator chain, a dead-letter
 * topic and limits. `definePipeline` checks it once, at definition time, with readable messages.
 */
import type { Observable } from 'rxjs';
import { z } from 'zod';
import type { Element, Envelope, RawValue } from '../envelope.js';
import { TributaryError } from '../errors.js';
import { STAGE_NAME_PATTERN, STAGE_NAME_RULE, topicNameSchema } from '../names.js';

export type OrderingMode = 'partition' | 'key' | 'unordered';

export interface PipelineSource {
  /** Topics to consume. */
  topics: readonly string[];
  /** The consumer group; instances with the same group share the partitions. */
  groupId: string;
  /** Where a new group starts: the earliest offset (default) or only new records. */
  fromBeginning?: boolean;
}

export interface PipelineConsumerTuning {
  sessionTimeoutMs?: number;
  /**
   * How often the member heartbeats, which is also how soon it notices that its group rebalances (a member joined or
   * left). Default 1000 (Kafka's Java client and kafkajs: 3000).
   */
  heartbeatIntervalMs?: number;
  rebalanceTimeoutMs?: number;
  maxBytesPerPartition?: number;
  /**
   * Most bytes one fetch brings from one broker, all partitions together (a first record batch larger than this
   * still comes whole). Fetched records wait decoded until the pipeline admits them, so this bounds that memory (with
   * a capped heap, 1 MiB rather than 10 saved about a tenth of the CPU: docs/operations.md, Memory). Default 1 MiB on
   * @platformatic/kafka (or `maxBytesPerPartition` if larger), 10 MiB on kafkajs, whose fetches list the partitions
   * in the same order every time, so a `maxBytes` below the sum of its partitions' `maxBytesPerPartition` favours
   * the first ones.
   */
  maxBytes?: number;
  /** Partition batches kafkajs hands over concurrently. Default 1. */
  partitionsConsumedConcurrently?: number;
  /**
   * Longest a fetch waits at the broker for new data. Default 500 (as Java's fetch.max.wait.ms). On kafkajs it is also
   * how soon a partition resumed after backpressure is fetched; @platformatic/kafka waits less while a partition is
   * paused (docs/engine.md).
   */
  maxWaitTimeMs?: number;
}

export interface PipelineConfig<TOut = unknown> {
  /** Names metrics, logs and dead-letter headers: [A-Za-z0-9._-], at most 100 characters. */
  name: string;
  source: PipelineSource;
  /** Where failed records go (the record: src/runtime/deadLetterRecord.ts). Required: a failure is never dropped. */
  deadLetter: { topic: string };
  /** Admission limit (backpressure): most records admitted and unfinished at once. Default 1000. */
  maxInFlight?: number;
  /** `partition` (default): one record at a time per partition and stage; `key`: per key; `unordered`. */
  ordering?: OrderingMode;
  /** How often finished offsets are committed. Default 1000 ms. */
  commitIntervalMs?: number;
  /** How long `stop()` waits for in-flight records before it commits and disconnects. Default 30 s. */
  drainTimeoutMs?: number;
  /**
   * A record unfinished this long is logged (topic, partition, offset) once; a pipeline in which no record finished
   * for this long while records are in flight is not ready (`/readyz`). Default 180 000 (3 minutes).
   */
  stuckAfterMs?: number;
  consumer?: PipelineConsumerTuning;
  /** The operator chain: raw records in, elements out. Called once per pipeline (re)start. */
  build: (records: Observable<Envelope<RawValue>>) => Observable<Element<TOut>>;
}

export interface Pipeline<TOut = unknown> {
  readonly kind: 'tributary.pipeline';
  readonly name: string;
  readonly source: Readonly<Required<PipelineSource>>;
  readonly deadLetter: { readonly topic: string };
  readonly maxInFlight: number;
  readonly ordering: OrderingMode;
  readonly commitIntervalMs: number;
  readonly drainTimeoutMs: number;
  readonly stuckAfterMs: number;
  readonly consumer: Readonly<PipelineConsumerTuning>;
  readonly build: (records: Observable<Envelope<RawValue>>) => Observable<Element<TOut>>;
}

const positiveInt = z.number().int().positive();

export const pipelineConfigSchema = z.object({
  name: z.string().regex(STAGE_NAME_PATTERN, `a stage-safe name: ${STAGE_NAME_RULE}`),
  source: z.object({
    topics: z.array(topicNameSchema).min(1, 'at least one topic'),
    groupId: z.string().min(1, 'a consumer group id'),
    fromBeginning: z.boolean().optional(),
  }),
  deadLetter: z.object({ topic: topicNameSchema }),
  maxInFlight: positiveInt.max(1_000_000).optional(),
  ordering: z.enum(['partition', 'key', 'unordered']).optional(),
  commitIntervalMs: positiveInt.optional(),
  drainTimeoutMs: z.number().int().nonnegative().optional(),
  stuckAfterMs: positiveInt.optional(),
  consumer: z
    .object({
      sessionTimeoutMs: positiveInt.optional(),
      heartbeatIntervalMs: positiveInt.optional(),
      rebalanceTimeoutMs: positiveInt.optional(),
      maxBytesPerPartition: positiveInt.optional(),
      maxBytes: positiveInt.optional(),
      partitionsConsumedConcurrently: positiveInt.optional(),
      maxWaitTimeMs: positiveInt.optional(),
    })
    .optional(),
  build: z.custom<PipelineConfig['build']>((v) => typeof v === 'function', 'a function (records) => Observable'),
});

/** A pipeline's admission limit unless it sets `maxInFlight`. */
export const DEFAULT_MAX_IN_FLIGHT = 1000;

/** How long a record may stay unfinished before it is reported, unless the pipeline sets `stuckAfterMs`. */
export const DEFAULT_STUCK_AFTER_MS = 180_000;

/**
 * How often a pipeline's consumer heartbeats unless the pipeline sets `consumer.heartbeatIntervalMs`. A member that
 * joins (a new replica or worker, one restarted) gets partitions only once every other member has noticed the
 * rebalance at its next heartbeat: within 1 s, not the clients' 3 s.
 */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 1000;

/** Declares a pipeline. Throws TRIBUTARY_ERR_PIPELINE_DEFINITION naming each wrong field. */
export function definePipeline<TOut>(config: PipelineConfig<TOut>): Pipeline<TOut> {
  const parsed = pipelineConfigSchema.safeParse(config);
  if (!parsed.success) {
    const name = typeof config?.name === 'string' ? config.name : '(unnamed)';
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(pipeline)'}: ${i.message}`);
    throw new TributaryError(
      'TRIBUTARY_ERR_PIPELINE_DEFINITION',
      `pipeline "${name}" is invalid:\n${lines.join('\n')}`,
      { details: parsed.error.issues },
    );
  }
  if (config.source.topics.includes(config.deadLetter.topic)) {
    throw new TributaryError(
      'TRIBUTARY_ERR_PIPELINE_DEFINITION',
      `pipeline "${config.name}" is invalid:\n  deadLetter.topic: must differ from the source topics (a loop)`,
    );
  }
  return {
    kind: 'tributary.pipeline',
    name: config.name,
    source: {
      topics: [...config.source.topics],
      groupId: config.source.groupId,
      fromBeginning: config.source.fromBeginning ?? true,
    },
    deadLetter: { topic: config.deadLetter.topic },
    maxInFlight: config.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
    ordering: config.ordering ?? 'partition',
    commitIntervalMs: config.commitIntervalMs ?? 1000,
    drainTimeoutMs: config.drainTimeoutMs ?? 30_000,
    stuckAfterMs: config.stuckAfterMs ?? DEFAULT_STUCK_AFTER_MS,
    consumer: {
      ...config.consumer,
      heartbeatIntervalMs: config.consumer?.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS,
    },
    build: config.build,
  };
}
