/**
 * Video analysis, step 2 (group `embedding-worker`): `video.embedding.requested` → `video.similarity.requested`.
 *
 * Calls the embedding model (`embed`, a deterministic stand-in by default) with retries; failures become
 * `video.analysis.failed` events (stage `embedding`).
 */
import type { Pipeline } from '../src/index.js';
import { deriveEventId, isoTime } from './lib/eventIds.js';
import { resolveVideoOptions, type VideoPipelineOptions, videoTopicSpecs, videoWorker } from './lib/video.js';
import { type Embed, standInEmbed } from './lib/videoStandIns.js';
import { EmbeddingRequested, SimilarityRequested, VIDEO_EVENT_TYPES } from './schemas/video.js';

export interface EmbeddingWorkerOptions extends VideoPipelineOptions {
  /** The embedding call. Default: {@link standInEmbed}. */
  embed?: Embed;
}

export function createEmbeddingWorker(options: EmbeddingWorkerOptions = {}): Pipeline<SimilarityRequested> {
  const resolved = resolveVideoOptions(options);
  const embed = options.embed ?? standInEmbed();
  return videoWorker({
    name: options.name ?? 'embedding-worker',
    groupId: options.groupId ?? 'embedding-worker',
    stage: 'embedding',
    inputTopic: resolved.topics.embeddingRequested,
    inputSchema: EmbeddingRequested,
    outputTopic: resolved.topics.similarityRequested,
    outputSchema: SimilarityRequested,
    call: (request, attempt) => embed(request, attempt),
    toOutput: (request, embedding, callMs, now) => ({
      eventId: deriveEventId(request.eventId, VIDEO_EVENT_TYPES.similarityRequested),
      eventType: VIDEO_EVENT_TYPES.similarityRequested,
      videoId: request.videoId,
      occurredAt: isoTime(now),
      causationId: request.eventId,
      analysisStartedAt: request.analysisStartedAt,
      title: request.title,
      transcriptWordCount: request.transcript.wordCount,
      embedding,
      timings: { ...request.timings, embeddingMs: callMs },
    }),
    options: resolved,
  });
}

/** The topics this pipeline reads and writes (the demo creates them). */
export const topics = videoTopicSpecs();

export default createEmbeddingWorker();
