/**
 * Deterministic stand-ins for the external services the video workers call (speech-to-text, an embedding model, a
 * vector index). They are the defaults, so the chain runs anywhere (tests, the demo); production passes real
 * clients with the same signatures. Their output depends only on the request (and, for the index, on what it saw
 * before), and they simulate the failures real services have, driven by markers in the video's title or URL:
 *
 * - a title containing `#flaky`: the first attempt of every stage fails with a transient error (then succeeds);
 * - `#outage-transcript`, `#outage-embedding`, `#outage-similarity`: that stage's service is down (every attempt
 *   fails with a transient error: `video.analysis.failed`, retriable = true);
 * - a URL whose host starts with `private.`: the video cannot be fetched (permanent: retriable = false).
 */
import { createHash } from 'node:crypto';
import type {
  Embedding,
  EmbeddingRequested,
  SimilarityRequested,
  SimilarVideo,
  Transcript,
  TranscriptRequested,
} from '../schemas/video.js';
import { type CallAttempt, PermanentVideoError, TransientVideoError } from './video.js';

/** Speech-to-text: the transcript of a video. */
export type Transcribe = (request: TranscriptRequested, attempt: CallAttempt) => PromiseLike<Transcript>;
/** An embedding model: a vector for a transcript. */
export type Embed = (request: EmbeddingRequested, attempt: CallAttempt) => PromiseLike<Embedding>;
/** A vector index: the videos most similar to an embedding (and the index learns this one). */
export type FindSimilar = (request: SimilarityRequested, attempt: CallAttempt) => PromiseLike<SimilarVideo[]>;

const WORDS = [
  'kafka',
  'stream',
  'partition',
  'offset',
  'consumer',
  'producer',
  'video',
  'summary',
  'lecture',
  'tutorial',
  'music',
  'review',
  'travel',
  'cooking',
  'science',
  'history',
  'design',
  'coding',
  'game',
  'news',
  'interview',
  'guide',
  'live',
  'talk',
  'demo',
  'today',
  'we',
  'look',
  'at',
  'how',
  'the',
  'data',
];

function seeded(text: string): () => number {
  let state = createHash('sha256').update(text).digest().readUInt32BE(0) || 1;
  return () => {
    // xorshift32: deterministic per text
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x1_0000_0000;
  };
}

function failuresFor(stage: 'transcript' | 'embedding' | 'similarity', title: string, attempt: CallAttempt): void {
  if (title.includes(`#outage-${stage}`)) {
    throw new TransientVideoError(`${stage} service unavailable (HTTP 503)`);
  }
  if (title.includes('#flaky') && attempt.attempt === 1) {
    throw new TransientVideoError(`${stage} service timed out (HTTP 504)`);
  }
}

/** A stand-in speech-to-text service. */
export function standInTranscribe(): Transcribe {
  return async (request, attempt) => {
    const host = new URL(request.url).hostname;
    if (host.startsWith('private.')) {
      throw new PermanentVideoError(`video ${request.videoId} is private or removed (HTTP 404 from ${host})`);
    }
    failuresFor('transcript', request.title, attempt);
    const random = seeded(`${request.videoId}|${request.title}`);
    const wordCount = Math.max(1, Math.round(request.durationSeconds * 2.4));
    const shown = Math.min(wordCount, 40);
    const titleWords = request.title.toLowerCase().split(/\W+/).filter(Boolean);
    const words = Array.from({ length: shown }, (_, i) =>
      i < titleWords.length ? titleWords[i] : WORDS[Math.floor(random() * WORDS.length)],
    );
    return {
      text: words.join(' '),
      language: request.language,
      wordCount,
      confidence: Math.round((0.8 + random() * 0.2) * 1000) / 1000,
    };
  };
}

export const STAND_IN_EMBEDDING_MODEL = 'stand-in-hashing-16';
const DIMENSIONS = 16;

/** A stand-in embedding model: words hashed into 16 buckets, normalized. */
export function standInEmbed(): Embed {
  return async (request, attempt) => {
    failuresFor('embedding', request.title, attempt);
    const vector = new Array<number>(DIMENSIONS).fill(0);
    for (const word of `${request.title} ${request.transcript.text}`.toLowerCase().split(/\W+/)) {
      if (word === '') continue;
      const bucket = createHash('sha256').update(word).digest().readUInt8(0) % DIMENSIONS;
      vector[bucket] = (vector[bucket] ?? 0) + 1;
    }
    const norm = Math.hypot(...vector) || 1;
    return {
      model: STAND_IN_EMBEDDING_MODEL,
      dimensions: DIMENSIONS,
      vector: vector.map((v) => Math.round((v / norm) * 1e6) / 1e6),
    };
  };
}

export interface SimilarityIndexOptions {
  /** Most videos kept; the oldest are forgotten first. Default 1000. */
  maxEntries?: number;
  /** Most similar videos returned. Default 3. */
  topK?: number;
}

/** A stand-in vector index (in memory): cosine similarity against the videos it saw before. */
export function standInSimilarityIndex(options: SimilarityIndexOptions = {}): FindSimilar {
  const { maxEntries = 1000, topK = 3 } = options;
  const index = new Map<string, number[]>();
  const cosine = (a: readonly number[], b: readonly number[]) => {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const x = a[i] ?? 0;
      const y = b[i] ?? 0;
      dot += x * y;
      na += x * x;
      nb += y * y;
    }
    return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
  };
  return async (request, attempt) => {
    failuresFor('similarity', request.title, attempt);
    const { vector } = request.embedding;
    const scored: SimilarVideo[] = [];
    for (const [videoId, other] of index) {
      if (videoId === request.videoId) continue;
      scored.push({ videoId, score: Math.max(-1, Math.min(1, Math.round(cosine(vector, other) * 1e4) / 1e4)) });
    }
    scored.sort((a, b) => b.score - a.score || (a.videoId < b.videoId ? -1 : 1));
    index.delete(request.videoId);
    index.set(request.videoId, [...vector]);
    while (index.size > maxEntries) {
      const oldest = index.keys().next();
      if (oldest.done) break;
      index.delete(oldest.value);
    }
    return scored.slice(0, topK);
  };
}
