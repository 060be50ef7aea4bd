/**
 * Transcription and compression results (seeds 002 and 003: an API server publishes transcription requests to
 * `Transcribe`; an external transcriber answers on `update_transcribe`, an external compressor on `finish_compress`).
 *
 * The seeds document two shapes of transcription result (the architecture overview's nested `transcription` object
 * with `text` words, and the setup guide's flat object with `word` words, confidences and `fullText`); both are
 * accepted and normalised to {@link TranscriptUpdate}. A compression result is the video id as the record key and the
 * compressed video's URL as the value: plain text, a JSON string, or a JSON object (`videoId`/`video_id`,
 * `cloudUrl`/`url`/`compressed_url`).
 */
import * as z from 'zod';

const videoId = z.string().min(1).max(128);
const httpUrl = z.url({ protocol: /^https?$/ }).max(2048);
const seconds = z
  .number()
  .nonnegative()
  .max(7 * 24 * 3600);

/** `Transcribe`: what the API server asks the transcriber for (seed 002, `sendTranscriptionRequest`). */
export const TranscribeRequest = z.object({
  video_id: videoId,
  video_url: httpUrl,
  metadata: z
    .looseObject({
      title: z.string().max(500).optional(),
      courseId: z.string().max(128).optional(),
      userId: z.string().max(128).optional(),
    })
    .optional(),
});
export type TranscribeRequest = z.output<typeof TranscribeRequest>;
export type TranscribeRequestInput = z.input<typeof TranscribeRequest>;

/** One word of a transcript, normalised: seconds from the start of the video. */
export const TranscriptWord = z
  .object({
    text: z.string().max(200),
    start: seconds,
    end: seconds,
    confidence: z.number().min(0).max(1).optional(),
  })
  .refine((word) => word.end >= word.start, { message: 'a word cannot end before it starts', path: ['end'] });
export type TranscriptWord = z.output<typeof TranscriptWord>;

const MAX_WORDS = 200_000;

/** Seed 002's shape: `{ video_id, transcription: { duration, language, words: [{ text, start, end }] } }`. */
export const NestedTranscriptionResult = z.object({
  video_id: videoId,
  transcription: z.object({
    duration: seconds,
    language: z.string().min(2).max(16),
    words: z.array(TranscriptWord).max(MAX_WORDS),
  }),
});

/** Seed 003's shape: `{ videoId, duration, language, words: [{ word, start, end, confidence }], fullText }`. */
export const FlatTranscriptionResult = z.object({
  videoId,
  duration: seconds,
  language: z.string().min(2).max(16),
  words: z
    .array(
      z
        .object({
          word: z.string().max(200),
          start: seconds,
          end: seconds,
          confidence: z.number().min(0).max(1).optional(),
        })
        .refine((word) => word.end >= word.start, { message: 'a word cannot end before it starts', path: ['end'] }),
    )
    .max(MAX_WORDS),
  fullText: z.string().max(2_000_000).optional(),
});

/** A transcript as stored: one shape whichever the transcriber sent. */
export interface TranscriptUpdate {
  kind: 'transcript';
  videoId: string;
  language: string;
  durationSeconds: number;
  words: TranscriptWord[];
  /** `fullText` when sent, else the words joined by spaces. */
  text: string;
}

/** `update_transcribe`: either documented shape, normalised. */
export const TranscriptionResult = z
  .union([NestedTranscriptionResult, FlatTranscriptionResult])
  .transform((result): TranscriptUpdate => {
    if ('transcription' in result) {
      const { duration, language, words } = result.transcription;
      return {
        kind: 'transcript',
        videoId: result.video_id,
        language,
        durationSeconds: duration,
        words,
        text: words.map((w) => w.text).join(' '),
      };
    }
    const words = result.words.map(({ word, start, end, confidence }) => ({
      text: word,
      start,
      end,
      ...(confidence === undefined ? {} : { confidence }),
    }));
    return {
      kind: 'transcript',
      videoId: result.videoId,
      language: result.language,
      durationSeconds: result.duration,
      words,
      text: result.fullText ?? words.map((w) => w.text).join(' '),
    };
  });
export type TranscriptionResult = z.output<typeof TranscriptionResult>;

/** `finish_compress` as a JSON object (the value may also be just the URL). */
export const CompressionResultObject = z
  .object({
    videoId: videoId.optional(),
    video_id: videoId.optional(),
    cloudUrl: httpUrl.optional(),
    url: httpUrl.optional(),
    compressed_url: httpUrl.optional(),
  })
  .refine((v) => (v.cloudUrl ?? v.url ?? v.compressed_url) !== undefined, {
    message: 'one of cloudUrl, url or compressed_url is required',
  });

/** A compression result as stored. */
export const CompressedUpdate = z.object({
  kind: z.literal('compressed'),
  videoId,
  compressedUrl: httpUrl,
});
export type CompressedUpdate = z.output<typeof CompressedUpdate>;

/** A transcription request as stored (the row's `video_url` and `metadata`). */
export interface RequestUpdate {
  kind: 'request';
  videoId: string;
  videoUrl: string;
  metadata: Record<string, unknown> | null;
}

/**
 * What the results pipeline applies to a row: the change and the Kafka timestamp of the record that carried it (the
 * event time: an older result never overwrites a newer one).
 */
export type VideoUpdate = (RequestUpdate | TranscriptUpdate | CompressedUpdate) & { readonly at: Date };
export type VideoUpdateKind = VideoUpdate['kind'];
