/**
 * The video analysis chain's events (seed 000: VideoCreatedEvent, TranscriptRequestedEvent, EmbeddingRequestedEvent,
 * SimilarityRequestedEvent, AnalysisCompletedEvent, AnalysisFailedEvent). Every event carries its type in
 * `eventType` and in the `event-type` header, a stable `eventId` (derived from its cause, so a re-delivery produces
 * the same id), the `videoId` (also the record key: one video's events stay in one partition) and `causationId`, the
 * id of the event it answers.
 */
import * as z from 'zod';

export const VIDEO_EVENT_TYPES = {
  created: 'video.created',
  transcriptRequested: 'video.transcript.requested',
  embeddingRequested: 'video.embedding.requested',
  similarityRequested: 'video.similarity.requested',
  analysisCompleted: 'video.analysis.completed',
  analysisFailed: 'video.analysis.failed',
} as const;

export type VideoEventType = (typeof VIDEO_EVENT_TYPES)[keyof typeof VIDEO_EVENT_TYPES];

/** The stages of the chain; `video.analysis.failed` names the one that failed. */
export const ANALYSIS_STAGES = ['intake', 'transcript', 'embedding', 'similarity'] as const;
export type AnalysisStage = (typeof ANALYSIS_STAGES)[number];

const id = z.string().min(1).max(128);
const isoTime = z.iso.datetime({ offset: true });

const base = {
  eventId: id.describe('Unique id of this event; derived from the causing event, so re-deliveries repeat it.'),
  videoId: id.describe('The video; also the record key.'),
  occurredAt: isoTime.describe('When the event was produced (ISO 8601).'),
};

const chained = {
  ...base,
  causationId: id.describe('eventId of the event this one answers.'),
  /** When the analysis of this video started (the intake saw `video.created`). */
  analysisStartedAt: isoTime,
};

export const VideoCreated = z.object({
  ...base,
  eventType: z.literal(VIDEO_EVENT_TYPES.created),
  title: z.string().min(1).max(500),
  url: z.url({ protocol: /^https?$/ }),
  channelId: id.optional(),
  durationSeconds: z
    .number()
    .positive()
    .max(7 * 24 * 3600),
  language: z
    .string()
    .regex(/^[a-z]{2}$/, 'an ISO 639-1 code such as "en"')
    .default('en'),
});
export type VideoCreated = z.output<typeof VideoCreated>;

export const TranscriptRequested = z.object({
  ...chained,
  eventType: z.literal(VIDEO_EVENT_TYPES.transcriptRequested),
  title: z.string().min(1).max(500),
  url: z.url({ protocol: /^https?$/ }),
  language: z.string().regex(/^[a-z]{2}$/),
  durationSeconds: z.number().positive(),
});
export type TranscriptRequested = z.output<typeof TranscriptRequested>;

export const Transcript = z.object({
  text: z.string(),
  language: z.string().regex(/^[a-z]{2}$/),
  wordCount: z.number().int().nonnegative(),
  /** 0..1 */
  confidence: z.number().min(0).max(1),
});
export type Transcript = z.output<typeof Transcript>;

export const EmbeddingRequested = z.object({
  ...chained,
  eventType: z.literal(VIDEO_EVENT_TYPES.embeddingRequested),
  title: z.string().min(1).max(500),
  transcript: Transcript,
  timings: z.object({ transcriptMs: z.number().nonnegative() }),
});
export type EmbeddingRequested = z.output<typeof EmbeddingRequested>;

export const Embedding = z
  .object({
    model: z.string().min(1),
    dimensions: z.number().int().positive().max(8192),
    vector: z.array(z.number()),
  })
  .refine((e) => e.vector.length === e.dimensions, {
    message: 'vector length must equal dimensions',
    path: ['vector'],
  });
export type Embedding = z.output<typeof Embedding>;

export const SimilarityRequested = z.object({
  ...chained,
  eventType: z.literal(VIDEO_EVENT_TYPES.similarityRequested),
  title: z.string().min(1).max(500),
  transcriptWordCount: z.number().int().nonnegative(),
  embedding: Embedding,
  timings: z.object({ transcriptMs: z.number().nonnegative(), embeddingMs: z.number().nonnegative() }),
});
export type SimilarityRequested = z.output<typeof SimilarityRequested>;

export const SimilarVideo = z.object({ videoId: id, score: z.number().min(-1).max(1) });
export type SimilarVideo = z.output<typeof SimilarVideo>;

export const AnalysisCompleted = z.object({
  ...chained,
  eventType: z.literal(VIDEO_EVENT_TYPES.analysisCompleted),
  title: z.string().min(1).max(500),
  transcriptWordCount: z.number().int().nonnegative(),
  embeddingModel: z.string().min(1),
  similar: z.array(SimilarVideo),
  completedAt: isoTime,
  /** From `analysisStartedAt` to `completedAt`: queueing, retries and all three calls. */
  processingDurationMs: z.number().int().nonnegative(),
  /** Duration of each stage's successful external call. */
  timings: z.object({
    transcriptMs: z.number().nonnegative(),
    embeddingMs: z.number().nonnegative(),
    similarityMs: z.number().nonnegative(),
  }),
});
export type AnalysisCompleted = z.output<typeof AnalysisCompleted>;

export const AnalysisFailed = z.object({
  ...base,
  causationId: id,
  eventType: z.literal(VIDEO_EVENT_TYPES.analysisFailed),
  stage: z.enum(ANALYSIS_STAGES),
  /** TRIBUTARY_ERR_* code of the failure. */
  errorCode: z.string().min(1),
  error: z.string(),
  /** Whether asking again later may succeed (the service was down), or not (the video is private). */
  retriable: z.boolean(),
  /** Attempts made before giving up. */
  attempts: z.number().int().nonnegative(),
  analysisStartedAt: isoTime.optional(),
});
export type AnalysisFailed = z.output<typeof AnalysisFailed>;

/** Every event type by its `eventType`. */
export const VIDEO_EVENT_SCHEMAS = {
  [VIDEO_EVENT_TYPES.created]: VideoCreated,
  [VIDEO_EVENT_TYPES.transcriptRequested]: TranscriptRequested,
  [VIDEO_EVENT_TYPES.embeddingRequested]: EmbeddingRequested,
  [VIDEO_EVENT_TYPES.similarityRequested]: SimilarityRequested,
  [VIDEO_EVENT_TYPES.analysisCompleted]: AnalysisCompleted,
  [VIDEO_EVENT_TYPES.analysisFailed]: AnalysisFailed,
} as const;
