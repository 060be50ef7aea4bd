/**
 * Transcription and compression results → PostgreSQL (seeds 002 and 003; group `video-results`).
 *
 * Reads `update_transcribe` (transcripts: words with timings, in either shape the seeds document),
 * `finish_compress` (key = video id, value = the compressed video's URL, as text or JSON) and — to know each video's
 * source URL and metadata — the `Transcribe` requests themselves, and applies them to one row per video in the
 * `videos` table (created if missing, on the first write): an idempotent UPSERT per record, so re-delivered or
 * replayed results leave the row as it was. Database errors that may pass (connection trouble, deadlocks, timeouts)
 * are retried with backoff (5 attempts); the others (an invalid value) and records that cannot be read (malformed
 * JSON, a missing video id, a URL that is not http(s), a tombstone) go to `video-results.dlq` with the reason.
 *
 * The producer side, {@link publishTranscribeRequest}, publishes `{ video_id, video_url, metadata }` to `Transcribe`
 * keyed by video id, checked against the same schema.
 *
 * Connection: `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`); nothing connects until the first
 * record arrives, and the pool is closed when the pipeline stops.
 */
import { asyncScheduler, defer, finalize, type Observable, pipe, type SchedulerLike } from 'rxjs';
import * as z from 'zod';
import {
  definePipeline,
  type Element,
  type Envelope,
  errorMessage,
  mapValue,
  type OutgoingRecord,
  type Pipeline,
  parse,
  parseJson,
  type RawValue,
  type RecordHeaders,
  route,
  sink,
  type TopicSpec,
  TributaryError,
  validate,
} from '../src/index.js';
import {
  createVideoPool,
  databaseUrl,
  isRetriableDbError,
  postgresVideoStore,
  type SqlPool,
  type VideoStore,
} from './lib/videoResultsStore.js';
import {
  type CompressedUpdate,
  CompressionResultObject,
  type RequestUpdate,
  TranscribeRequest,
  type TranscribeRequestInput,
  TranscriptionResult,
  type VideoUpdate,
} from './schemas/videoResults.js';

export interface VideoResultsTopics {
  /** The API server's transcription requests (seed: `KAFKA_PRODUCE_TOPIC`). */
  transcribeRequests: string;
  /** Transcripts (seed: `KAFKA_CONSUME_TOPIC`). */
  transcripts: string;
  /** Compressed videos (seed: `KAFKA_COMPRESSION_TOPIC`). */
  compressions: string;
  deadLetter: string;
}

export const DEFAULT_VIDEO_RESULTS_TOPICS: Readonly<VideoResultsTopics> = {
  transcribeRequests: 'Transcribe',
  transcripts: 'update_transcribe',
  compressions: 'finish_compress',
  deadLetter: 'video-results.dlq',
};

/** Retries of a database write (seed 003: "retry logic with exponential backoff"). */
export interface VideoResultsRetryOptions {
  /** Tries per record, the first included. Default 5. */
  attempts?: number;
  /** Default 200 ms. */
  initialDelayMs?: number;
  /** Default 5000 ms. */
  maxDelayMs?: number;
  /** Default 'full'. */
  jitter?: 'full' | 'none';
  /** Random source for the jitter (tests). */
  random?: () => number;
}

export interface VideoResultsOptions {
  topics?: Partial<VideoResultsTopics>;
  /** Default `'video-results'`. */
  name?: string;
  /** Default `'video-results'`. */
  groupId?: string;
  /** Also read `Transcribe` to record each video's URL and metadata (status `requested`). Default true. */
  recordRequests?: boolean;
  /** Where updates go. Default: {@link postgresVideoStore} on `pool` (or a pool of its own) and `table`. */
  store?: VideoStore;
  /** A `pg.Pool` the caller owns. Default: one created on the first record from `databaseUrl`, ended at stop. */
  pool?: SqlPool;
  /** Default: `DATABASE_URL`, else `postgres://postgres@127.0.0.1:5432/test`. */
  databaseUrl?: string;
  /** The table, `[schema.]name`. Default `'videos'`. */
  table?: string;
  retry?: VideoResultsRetryOptions;
  /** Timers of the retries. Default asyncScheduler. */
  scheduler?: SchedulerLike;
  /** Default 100. */
  maxInFlight?: number;
}

/** A record's key as text (null when it has none). */
function keyText(element: Envelope<unknown>): string | null {
  return element.origin.key === null ? null : element.origin.key.toString('utf8');
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A `finish_compress` value: the URL as plain text, as a JSON string, or a JSON object. Throws (the parse stage's
 * failure) on invalid UTF-8 or malformed JSON.
 */
export function decodeCompressionValue(raw: Buffer): unknown {
  const text = strictUtf8.decode(raw).trim();
  if (text.startsWith('{') || text.startsWith('"')) {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new Error(`malformed JSON: ${errorMessage(error)}`);
    }
  }
  return text;
}

/**
 * A `finish_compress` record (its key and decoded value) as an update: the video id is the key (or, without a key,
 * the value's `videoId`/`video_id`; both present must agree), the URL the value (or its `cloudUrl`/`url`/
 * `compressed_url`).
 */
export const CompressionRecord = z
  .object({
    key: z.string().min(1).max(128).nullable(),
    value: z.union([z.url({ protocol: /^https?$/ }).max(2048), CompressionResultObject], {
      error: 'expected the compressed video URL (http or https), or an object with cloudUrl/url/compressed_url',
    }),
  })
  .transform((record, ctx): Omit<CompressedUpdate, 'at'> => {
    const body = typeof record.value === 'string' ? undefined : record.value;
    const url = typeof record.value === 'string' ? record.value : (body?.cloudUrl ?? body?.url ?? body?.compressed_url);
    const fromBody = body?.videoId ?? body?.video_id;
    if (record.key !== null && fromBody !== undefined && fromBody !== record.key) {
      ctx.issues.push({
        code: 'custom',
        message: `the key "${record.key}" and the value's video id "${fromBody}" differ`,
        input: record,
        path: ['value'],
      });
      return z.NEVER;
    }
    const videoId = record.key ?? fromBody;
    if (videoId === undefined || url === undefined) {
      ctx.issues.push({
        code: 'custom',
        message: 'no video id: the record has no key and the value names none',
        input: record,
        path: ['key'],
      });
      return z.NEVER;
    }
    return { kind: 'compressed', videoId, compressedUrl: url };
  });

/** A `Transcribe` request as an update of the row's `video_url` and `metadata`. */
function requestUpdate(request: TranscribeRequest): Omit<RequestUpdate, 'at'> {
  return {
    kind: 'request',
    videoId: request.video_id,
    videoUrl: request.video_url,
    metadata: request.metadata ?? null,
  };
}

export function createVideoResultsPipeline(options: VideoResultsOptions = {}): Pipeline<VideoUpdate> {
  const topics = { ...DEFAULT_VIDEO_RESULTS_TOPICS, ...options.topics };
  const scheduler = options.scheduler ?? asyncScheduler;
  const { attempts = 5, initialDelayMs = 200, maxDelayMs = 5000, jitter = 'full', random } = options.retry ?? {};
  const recordRequests = options.recordRequests ?? true;
  const table = options.table ?? 'videos';
  const sharedStore =
    options.store ?? (options.pool === undefined ? undefined : postgresVideoStore({ pool: options.pool, table }));

  const kindOf = new Map<string, VideoUpdate['kind']>([
    [topics.transcripts, 'transcript'],
    [topics.compressions, 'compressed'],
  ]);
  if (recordRequests) kindOf.set(topics.transcribeRequests, 'request');

  const chain = (records: Observable<Envelope<RawValue>>, store: VideoStore): Observable<Element<VideoUpdate>> =>
    records.pipe(
      route(
        (element) => kindOf.get(element.origin.topic),
        {
          request: pipe(
            parseJson({ name: 'videoResults.request.parse' }),
            validate(TranscribeRequest, { name: 'videoResults.request.validate' }),
            mapValue(requestUpdate, { name: 'videoResults.request.map' }),
          ),
          transcript: pipe(
            parseJson({ name: 'videoResults.transcript.parse' }),
            validate(TranscriptionResult, { name: 'videoResults.transcript.validate' }),
          ),
          compressed: pipe(
            parse(decodeCompressionValue, { name: 'videoResults.compressed.parse' }),
            mapValue((value: unknown, element) => ({ key: keyText(element), value }), {
              name: 'videoResults.compressed.key',
            }),
            validate(CompressionRecord, { name: 'videoResults.compressed.validate' }),
          ),
        },
        { name: 'videoResults.route' },
      ),
      mapValue((update, element): VideoUpdate => ({ ...update, at: new Date(Number(element.origin.timestamp)) }), {
        name: 'videoResults.stamp',
      }),
      sink(
        async (update: VideoUpdate, element) => {
          const result = await store.apply(update);
          const { topic, partition, offset, correlationId } = element.origin;
          element.context.logger.debug(
            {
              stage: 'videoResults.apply',
              topic,
              partition,
              offset: String(offset),
              correlationId,
              videoId: update.videoId,
              kind: update.kind,
              result,
            },
            `video ${update.videoId}: ${update.kind} ${result}`,
          );
        },
        {
          name: 'videoResults.apply',
          attempts,
          initialDelayMs,
          maxDelayMs,
          jitter,
          retriable: isRetriableDbError,
          scheduler,
          ...(random ? { random } : {}),
        },
      ),
    );

  return definePipeline({
    name: options.name ?? 'video-results',
    source: { topics: [...kindOf.keys()], groupId: options.groupId ?? 'video-results' },
    deadLetter: { topic: topics.deadLetter },
    maxInFlight: options.maxInFlight ?? 100,
    // one video's results in order (finish_compress is keyed by video id), different videos concurrently
    ordering: 'key',
    build: (records) => {
      if (sharedStore !== undefined) return chain(records, sharedStore);
      // our own pool: created on the first write (nothing connects at import or start), ended when the chain stops
      return defer(() => {
        let pool: ReturnType<typeof createVideoPool> | undefined;
        const store = postgresVideoStore({
          pool: () => {
            pool ??= createVideoPool({ connectionString: options.databaseUrl ?? databaseUrl() });
            return pool;
          },
          table,
        });
        return chain(records, store).pipe(
          finalize(() => {
            void pool?.end().catch(() => {});
          }),
        );
      });
    },
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The producer side

/** Anything that sends records: the engine's `ProducerPort` (`createKafkajsClient(...).producer()`), a test fake. */
export interface RecordSender {
  send(records: readonly OutgoingRecord[]): Promise<void>;
}

export interface TranscribeRequestOptions {
  /** Default `'Transcribe'`. */
  topic?: string;
  /** Sent as the `correlation-id` header (follow the video through logs and dead letters). */
  correlationId?: string;
  /** More headers. */
  headers?: RecordHeaders;
}

/**
 * The record of a transcription request: the value checked against {@link TranscribeRequest} and serialised as
 * JSON, keyed by `video_id` (one video's requests and results stay in one partition), with an
 * `event-type: transcribe.requested` header. Throws TRIBUTARY_ERR_VALIDATION (with zod's issues as `details`) for an
 * invalid request. Use it with any producer (kafkajs: `producer.send({ topic, messages: [record] })`).
 */
export function transcribeRequestRecord(
  request: TranscribeRequestInput,
  options: TranscribeRequestOptions = {},
): OutgoingRecord {
  const parsed = TranscribeRequest.safeParse(request);
  if (!parsed.success) {
    const reasons = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new TributaryError('TRIBUTARY_ERR_VALIDATION', `invalid transcription request: ${reasons}`, {
      details: parsed.error.issues,
      retriable: false,
    });
  }
  return {
    topic: options.topic ?? DEFAULT_VIDEO_RESULTS_TOPICS.transcribeRequests,
    key: parsed.data.video_id,
    value: JSON.stringify(parsed.data),
    headers: {
      ...options.headers,
      'event-type': 'transcribe.requested',
      ...(options.correlationId === undefined ? {} : { 'correlation-id': options.correlationId }),
    },
  };
}

/**
 * Publishes a transcription request (seed 002's `sendTranscriptionRequest`) and resolves once the broker acknowledged
 * it; resolves to the record sent.
 *
 * @example
 * ```ts
 * const producer = createKafkajsClient({ brokers }).producer();
 * await producer.connect();
 * await publishTranscribeRequest(producer, { video_id: 'v1', video_url: 'https://cdn.example.com/v1.mp4' });
 * ```
 */
export async function publishTranscribeRequest(
  sender: RecordSender,
  request: TranscribeRequestInput,
  options: TranscribeRequestOptions = {},
): Promise<OutgoingRecord> {
  const record = transcribeRequestRecord(request, options);
  await sender.send([record]);
  return record;
}

/** The topics this pipeline reads and writes (the demo creates them). */
export const topics: TopicSpec[] = Object.values(DEFAULT_VIDEO_RESULTS_TOPICS).map((topic) => ({
  topic,
  partitions: 3,
}));

export default createVideoResultsPipeline();
