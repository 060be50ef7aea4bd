/**
 * Video analysis, step 1 (group `transcript-worker`): `video.transcript.requested` → `video.embedding.requested`.
 *
 * Calls the speech-to-text service (`transcribe`, a deterministic stand-in by default) with up to 3 attempts and
 * exponential backoff with jitter; a call that keeps failing, or fails for good (a private video), becomes a
 * `video.analysis.failed` event (stage `transcript`, with the retriable flag and the attempts made).
 */
import type { Pipeline } from '../src/index.js';
import { deriveEventId, isoTime } from './lib/eventIds.js';
import { resolveVideoOptions, type VideoPipelineOptions, videoTopicSpecs, videoWorker } from './lib/video.js';
import { standInTranscribe, type Transcribe } from './lib/videoStandIns.js';
import { EmbeddingRequested, TranscriptRequested, VIDEO_EVENT_TYPES } from './schemas/video.js';

export interface TranscriptWorkerOptions extends VideoPipelineOptions {
  /** The speech-to-text call. Default: {@link standInTranscribe}. */
  transcribe?: Transcribe;
}

export function createTranscriptWorker(options: TranscriptWorkerOptions = {}): Pipeline<EmbeddingRequested> {
  const resolved = resolveVideoOptions(options);
  const transcribe = options.transcribe ?? standInTranscribe();
  return videoWorker({
    name: options.name ?? 'transcript-worker',
    groupId: options.groupId ?? 'transcript-worker',
    stage: 'transcript',
    inputTopic: resolved.topics.transcriptRequested,
    inputSchema: TranscriptRequested,
    outputTopic: resolved.topics.embeddingRequested,
    outputSchema: EmbeddingRequested,
    call: (request, attempt) => transcribe(request, attempt),
    toOutput: (request, transcript, callMs, now) => ({
      eventId: deriveEventId(request.eventId, VIDEO_EVENT_TYPES.embeddingRequested),
      eventType: VIDEO_EVENT_TYPES.embeddingRequested,
      videoId: request.videoId,
      occurredAt: isoTime(now),
      causationId: request.eventId,
      analysisStartedAt: request.analysisStartedAt,
      title: request.title,
      transcript,
      timings: { transcriptMs: callMs },
    }),
    options: resolved,
  });
}

/** The topics this pipeline reads and writes (the demo creates them). */
export const topics = videoTopicSpecs();

export default createTranscriptWorker();
