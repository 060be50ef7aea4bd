/**
 * What the video analysis pipelines share: topic names, options, the failure report (`video.analysis.failed`) and
 * the worker shape (parse → validate → external call with retries → next event).
 */
import {
  asyncScheduler,
  catchError,
  EMPTY,
  from,
  mergeMap,
  type Observable,
  type OperatorFunction,
  of,
  type SchedulerLike,
} from 'rxjs';
import type * as z from 'zod';
import {
  definePipeline,
  type Element,
  type Envelope,
  errorMessage,
  type FailedEnvelope,
  failed,
  isRetriable,
  mapValue,
  type OrderingMode,
  type Pipeline,
  parseJson,
  publish,
  type RetryAttempt,
  retryWithBackoff,
  type TopicSpec,
  TributaryError,
  validate,
} from '../../src/index.js';
import { type AnalysisFailed, type AnalysisStage, VIDEO_EVENT_TYPES } from '../schemas/video.js';
import { deriveEventId, isoTime } from './eventIds.js';

/** The chain's topics (seed 000's names by default). */
export interface VideoTopics {
  created: string;
  transcriptRequested: string;
  embeddingRequested: string;
  similarityRequested: string;
  completed: string;
  failed: string;
  /** Poison: records no stage could even read. */
  dlq: string;
  /** Where the dlq-processor parks dead letters it could not handle. */
  dlqParked: string;
}

export const DEFAULT_VIDEO_TOPICS: Readonly<VideoTopics> = {
  created: 'video.created',
  transcriptRequested: 'video.transcript.requested',
  embeddingRequested: 'video.embedding.requested',
  similarityRequested: 'video.similarity.requested',
  completed: 'video.analysis.completed',
  failed: 'video.analysis.failed',
  dlq: 'video.dlq',
  dlqParked: 'video.dlq.parked',
};

/** Every topic of the chain as a spec for `admin.createTopics` (3 partitions each unless told otherwise). */
export function videoTopicSpecs(topics: Partial<VideoTopics> = {}, partitions = 3): TopicSpec[] {
  const all = { ...DEFAULT_VIDEO_TOPICS, ...topics };
  return Object.values(all).map((topic) => ({ topic, partitions }));
}

/** The retry policy of a worker's external call (seed 000: 3 attempts, exponential backoff). */
export interface VideoRetryOptions {
  /** Total tries. Default 3. */
  attempts?: number;
  /** Default 200 ms. */
  initialDelayMs?: number;
  /** Default 5000 ms. */
  maxDelayMs?: number;
  /** Per-attempt limit. Default 30 000 ms. */
  timeoutMs?: number;
  /** Default 'full' jitter. */
  jitter?: 'full' | 'none';
  /** Random source for the jitter (tests). */
  random?: () => number;
}

/** Options every video pipeline factory takes. */
export interface VideoPipelineOptions {
  /** Topic names; defaults: {@link DEFAULT_VIDEO_TOPICS}. */
  topics?: Partial<VideoTopics>;
  /** Pipeline name (metrics, logs, dead-letter headers). Default: the worker's seed name. */
  name?: string;
  /** Consumer group. Default: the seed's group (transcript-worker, ...). */
  groupId?: string;
  /** Timers (retry backoff, timeouts) and the clock for timestamps and durations. Default asyncScheduler. */
  scheduler?: SchedulerLike;
  retry?: VideoRetryOptions;
  /** Default 200. */
  maxInFlight?: number;
  /** Default 'key': one video's events in order, different videos concurrently. */
  ordering?: OrderingMode;
}

export interface ResolvedVideoOptions {
  topics: VideoTopics;
  scheduler: SchedulerLike;
  now: () => number;
  retry: Required<Omit<VideoRetryOptions, 'random'>> & Pick<VideoRetryOptions, 'random'>;
  maxInFlight: number;
  ordering: OrderingMode;
}

/** The retry options of a video stage, as `retryWithBackoff` and `sink` take them. */
export function videoRetryConfig(
  options: Pick<ResolvedVideoOptions, 'retry' | 'scheduler'>,
  name: string,
): {
  name: string;
  attempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  timeoutMs: number;
  jitter: 'full' | 'none';
  scheduler: SchedulerLike;
  random?: () => number;
} {
  const { retry, scheduler } = options;
  return {
    name,
    attempts: retry.attempts,
    initialDelayMs: retry.initialDelayMs,
    maxDelayMs: retry.maxDelayMs,
    timeoutMs: retry.timeoutMs,
    jitter: retry.jitter,
    scheduler,
    ...(retry.random ? { random: retry.random } : {}),
  };
}

export function resolveVideoOptions(options: VideoPipelineOptions): ResolvedVideoOptions {
  const scheduler = options.scheduler ?? asyncScheduler;
  const {
    attempts = 3,
    initialDelayMs = 200,
    maxDelayMs = 5000,
    timeoutMs = 30_000,
    jitter = 'full',
  } = options.retry ?? {};
  return {
    topics: { ...DEFAULT_VIDEO_TOPICS, ...options.topics },
    scheduler,
    now: () => scheduler.now(),
    retry: { attempts, initialDelayMs, maxDelayMs, timeoutMs, jitter, random: options.retry?.random },
    maxInFlight: options.maxInFlight ?? 200,
    ordering: options.ordering ?? 'key',
  };
}

/** The `event-type` header every event carries (seed 000: "event type headers for routing"). */
export function eventTypeHeader(eventType: string): { 'event-type': string } {
  return { 'event-type': eventType };
}

/** An error that asking again will not fix (a private video, an unsupported language): no retry, retriable=false. */
export class PermanentVideoError extends Error {
  override name = 'PermanentVideoError';
  readonly retriable = false;
}

/** An error that may go away (a 503 from the service): retried, and retriable=true once attempts run out. */
export class TransientVideoError extends Error {
  override name = 'TransientVideoError';
  readonly retriable = true;
}

/** Whether asking again later may help: the thrown error decides (its `retriable`), else the failure's code. */
export function failureIsRetriable(failure: FailedEnvelope): boolean {
  const cause = failure.error.cause;
  return cause === undefined ? failure.error.retriable : isRetriable(cause);
}

export interface ReportFailuresOptions {
  /** The stage names whose failures are business failures (the others go on to the dead-letter topic). */
  stages: readonly string[];
  /** The analysis stage named in the event. */
  stage: AnalysisStage;
  /** The input schema: the failed record's original bytes are read with it to name the video. */
  schema: z.ZodType<{ eventId: string; videoId: string; analysisStartedAt?: string }>;
  topic: string;
  now: () => number;
}

/**
 * Turns failures of the given stages into `video.analysis.failed` events (published, then the record is finished as
 * `published`); other failures and ok elements pass on. A failure whose report cannot be published goes on to the
 * dead-letter topic.
 */
export function reportAnalysisFailures<T>(options: ReportFailuresOptions): OperatorFunction<Element<T>, Element<T>> {
  const { stages, stage, schema, topic, now } = options;
  const name = `${stage}.report-failure`;
  return mergeMap((element: Element<T>): Observable<Element<T>> => {
    if (element.ok || !stages.includes(element.stage)) return of(element);
    const raw = element.origin.raw;
    let input: { eventId: string; videoId: string; analysisStartedAt?: string };
    try {
      const parsed = schema.safeParse(JSON.parse(raw?.toString('utf8') ?? 'null'));
      if (!parsed.success) return of(element);
      input = parsed.data;
    } catch {
      return of(element);
    }
    const event: AnalysisFailed = {
      eventId: deriveEventId(input.eventId, VIDEO_EVENT_TYPES.analysisFailed, stage),
      eventType: VIDEO_EVENT_TYPES.analysisFailed,
      videoId: input.videoId,
      occurredAt: isoTime(now()),
      causationId: input.eventId,
      stage,
      errorCode: element.error.code,
      error: errorMessage(element.error),
      retriable: failureIsRetriable(element),
      attempts: element.attempts,
      ...(input.analysisStartedAt === undefined ? {} : { analysisStartedAt: input.analysisStartedAt }),
    };
    const { logger } = element.context;
    const { topic: inputTopic, partition, offset, correlationId } = element.origin;
    return from(
      element.context.send({
        topic,
        key: input.videoId,
        value: JSON.stringify(event),
        headers: { ...eventTypeHeader(event.eventType), 'correlation-id': correlationId },
      }),
    ).pipe(
      mergeMap(() => {
        // finish, not settle: the report replaces the element, which stops here (nothing later can fail it)
        element.ticket.finish('published');
        logger.info(
          {
            stage: name,
            topic: inputTopic,
            partition,
            offset: String(offset),
            correlationId,
            videoId: input.videoId,
            failedStage: stage,
            retriable: event.retriable,
          },
          `video analysis failed at ${stage}: ${event.error}`,
        );
        return EMPTY;
      }),
      catchError((error: unknown) =>
        of(
          failed(
            element,
            name,
            new TributaryError('TRIBUTARY_ERR_PUBLISH', `could not publish to ${topic}: ${errorMessage(error)}`, {
              cause: error,
            }),
          ),
        ),
      ),
    );
  });
}

/** What a worker's external call receives besides the request. */
export type CallAttempt = RetryAttempt;

export interface VideoWorkerSpec<
  In extends { eventId: string; videoId: string },
  Result,
  Out extends { videoId: string; eventType: string },
> {
  name: string;
  groupId: string;
  stage: AnalysisStage;
  inputTopic: string;
  inputSchema: z.ZodType<In>;
  outputTopic: string;
  outputSchema: z.ZodType<Out>;
  call: (request: In, attempt: CallAttempt) => PromiseLike<Result> | Result;
  /** The next event, from the request, the call's result and how long the successful call took. */
  toOutput: (request: In, result: Result, callMs: number, now: number) => Out;
  options: ResolvedVideoOptions;
}

/**
 * A worker: parse → validate → the external call (retried with backoff) → failures of the call become
 * `video.analysis.failed` → the next event, checked against its schema → published keyed by video id with its
 * `event-type` header. Records that cannot be read go to the dead-letter topic.
 */
export function videoWorker<
  In extends { eventId: string; videoId: string },
  Result,
  Out extends { videoId: string; eventType: string },
>(spec: VideoWorkerSpec<In, Result, Out>): Pipeline<Out> {
  const { stage, options } = spec;
  const { now, topics } = options;
  return definePipeline({
    name: spec.name,
    source: { topics: [spec.inputTopic], groupId: spec.groupId },
    deadLetter: { topic: topics.dlq },
    maxInFlight: options.maxInFlight,
    ordering: options.ordering,
    build: (records) =>
      records.pipe(
        parseJson({ name: `${stage}.parse` }),
        validate(spec.inputSchema, { name: `${stage}.validate` }),
        retryWithBackoff(
          async (request: In, _element: Envelope<In>, attempt: RetryAttempt) => {
            const started = now();
            const result = await spec.call(request, attempt);
            return { request, result, callMs: now() - started };
          },
          videoRetryConfig(options, `${stage}.call`),
        ),
        reportAnalysisFailures({
          stages: [`${stage}.call`],
          stage,
          schema: spec.inputSchema,
          topic: topics.failed,
          now,
        }),
        mapValue(({ request, result, callMs }) => spec.toOutput(request, result, callMs, now()), {
          name: `${stage}.next-event`,
        }),
        validate(spec.outputSchema, { name: `${stage}.check-output` }),
        publish(spec.outputTopic, {
          name: `${stage}.publish`,
          key: (element) => element.value.videoId,
          headers: (element) => ({
            ...eventTypeHeader(element.value.eventType),
            'correlation-id': element.origin.correlationId,
          }),
        }),
      ),
  });
}
