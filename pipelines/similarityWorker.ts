/**
 * Video analysis, step 3 (group `similarity-worker`): `video.similarity.requested` → `video.analysis.completed`.
 *
 * Asks the vector index for the most similar videos (`findSimilar`, an in-memory stand-in by default) with retries
 * and completes the analysis: the completed event carries `processingDurationMs` (from `analysisStartedAt`, so
 * queueing and retries count) and each stage's call time. Failures become `video.analysis.failed` (stage
 * `similarity`).
 */
import type { Pipeline } from '../src/index.js';
import { deriveEventId, isoTime } from './lib/eventIds.js';
import { resolveVideoOptions, type VideoPipelineOptions, videoTopicSpecs, videoWorker } from './lib/video.js';
import { type FindSimilar, standInSimilarityIndex } from './lib/videoStandIns.js';
import { AnalysisCompleted, SimilarityRequested, VIDEO_EVENT_TYPES } from './schemas/video.js';

export interface SimilarityWorkerOptions extends VideoPipelineOptions {
  /** The similarity search. Default: a new {@link standInSimilarityIndex}. */
  findSimilar?: FindSimilar;
}

export function createSimilarityWorker(options: SimilarityWorkerOptions = {}): Pipeline<AnalysisCompleted> {
  const resolved = resolveVideoOptions(options);
  const findSimilar = options.findSimilar ?? standInSimilarityIndex();
  return videoWorker({
    name: options.name ?? 'similarity-worker',
    groupId: options.groupId ?? 'similarity-worker',
    stage: 'similarity',
    inputTopic: resolved.topics.similarityRequested,
    inputSchema: SimilarityRequested,
    outputTopic: resolved.topics.completed,
    outputSchema: AnalysisCompleted,
    call: (request, attempt) => findSimilar(request, attempt),
    toOutput: (request, similar, callMs, now) => ({
      eventId: deriveEventId(request.eventId, VIDEO_EVENT_TYPES.analysisCompleted),
      eventType: VIDEO_EVENT_TYPES.analysisCompleted,
      videoId: request.videoId,
      occurredAt: isoTime(now),
      causationId: request.eventId,
      analysisStartedAt: request.analysisStartedAt,
      title: request.title,
      transcriptWordCount: request.transcriptWordCount,
      embeddingModel: request.embedding.model,
      similar,
      completedAt: isoTime(now),
      processingDurationMs: Math.max(0, Math.round(now - Date.parse(request.analysisStartedAt))),
      timings: { ...request.timings, similarityMs: callMs },
    }),
    options: resolved,
  });
}

/** The topics this pipeline reads and writes (the demo creates them). */
export const topics = videoTopicSpecs();

export default createSimilarityWorker();
