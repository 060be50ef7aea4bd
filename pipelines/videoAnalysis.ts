/**
 * The whole video analysis chain (seed 000) in one call, for tests and embedding: intake, the three workers and
 * the dead-letter processor with shared topics, scheduler and retry policy. Each pipeline also has its own module
 * (with a default instance the demo runs).
 *
 * ```text
 * video.created ─ video-intake ─► video.transcript.requested ─ transcript-worker ─► video.embedding.requested
 *   ─ embedding-worker ─► video.similarity.requested ─ similarity-worker ─► video.analysis.completed
 * business failures of any stage ─► video.analysis.failed      unreadable records ─► video.dlq ─ dlq-processor
 * ```
 */
import type { Pipeline } from '../src/index.js';
import { createEmbeddingWorker } from './embeddingWorker.js';
import type { VideoPipelineOptions } from './lib/video.js';
import type { Embed, FindSimilar, Transcribe } from './lib/videoStandIns.js';
import { createSimilarityWorker } from './similarityWorker.js';
import { createTranscriptWorker } from './transcriptWorker.js';
import { createDlqProcessor, type DeadLetterHandler } from './videoDlqProcessor.js';
import { createVideoIntake } from './videoIntake.js';

export interface VideoAnalysisOptions extends Omit<VideoPipelineOptions, 'name' | 'groupId'> {
  /** Prefixes every consumer group (`<prefix>transcript-worker`, ...). Default: none. */
  groupPrefix?: string;
  transcribe?: Transcribe;
  embed?: Embed;
  findSimilar?: FindSimilar;
  onDeadLetter?: DeadLetterHandler;
  maxDurationSeconds?: number;
}

export interface VideoAnalysisPipelines {
  intake: Pipeline<unknown>;
  transcript: Pipeline<unknown>;
  embedding: Pipeline<unknown>;
  similarity: Pipeline<unknown>;
  dlqProcessor: Pipeline<unknown>;
  /** All five, in chain order. */
  all: Pipeline<unknown>[];
}

export function createVideoAnalysisPipelines(options: VideoAnalysisOptions = {}): VideoAnalysisPipelines {
  const { groupPrefix = '', transcribe, embed, findSimilar, onDeadLetter, maxDurationSeconds, ...shared } = options;
  const group = (name: string) => ({ groupId: `${groupPrefix}${name}` });
  const intake = createVideoIntake({
    ...shared,
    ...group('video-intake'),
    ...(maxDurationSeconds === undefined ? {} : { maxDurationSeconds }),
  });
  const transcript = createTranscriptWorker({
    ...shared,
    ...group('transcript-worker'),
    ...(transcribe ? { transcribe } : {}),
  });
  const embedding = createEmbeddingWorker({ ...shared, ...group('embedding-worker'), ...(embed ? { embed } : {}) });
  const similarity = createSimilarityWorker({
    ...shared,
    ...group('similarity-worker'),
    ...(findSimilar ? { findSimilar } : {}),
  });
  const dlqProcessor = createDlqProcessor({
    ...shared,
    ...group('dlq-processor'),
    ordering: 'partition',
    ...(onDeadLetter ? { onDeadLetter } : {}),
  });
  return {
    intake,
    transcript,
    embedding,
    similarity,
    dlqProcessor,
    all: [intake, transcript, embedding, similarity, dlqProcessor],
  };
}
