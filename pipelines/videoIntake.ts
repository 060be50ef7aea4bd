/**
 * Video analysis, step 0 (group `video-intake`): `video.created` → `video.transcript.requested`.
 *
 * Starts the analysis of each new video: checks the event, applies the business rule on what can be analysed
 * (videos longer than `maxDurationSeconds` are refused with a `video.analysis.failed` event, stage `intake`,
 * retriable = false) and requests the transcript, stamping `analysisStartedAt` so the completed event can carry the
 * whole processing duration. Unreadable records (malformed JSON, schema violations, tombstones) go to `video.dlq`.
 */
import { definePipeline, mapValue, type Pipeline, parseJson, publish, validate } from '../src/index.js';
import { deriveEventId, isoTime } from './lib/eventIds.js';
import {
  eventTypeHeader,
  PermanentVideoError,
  reportAnalysisFailures,
  resolveVideoOptions,
  type VideoPipelineOptions,
  videoTopicSpecs,
} from './lib/video.js';
import { TranscriptRequested, VIDEO_EVENT_TYPES, VideoCreated } from './schemas/video.js';

export interface VideoIntakeOptions extends VideoPipelineOptions {
  /** Longest video analysed, in seconds; longer ones fail at `intake` (not retriable). Default 4 hours. */
  maxDurationSeconds?: number;
}

export function createVideoIntake(options: VideoIntakeOptions = {}): Pipeline<TranscriptRequested> {
  const resolved = resolveVideoOptions(options);
  const { topics, now } = resolved;
  const maxDurationSeconds = options.maxDurationSeconds ?? 4 * 3600;
  return definePipeline({
    name: options.name ?? 'video-intake',
    source: { topics: [topics.created], groupId: options.groupId ?? 'video-intake' },
    deadLetter: { topic: topics.dlq },
    maxInFlight: resolved.maxInFlight,
    ordering: resolved.ordering,
    build: (records) =>
      records.pipe(
        parseJson({ name: 'intake.parse' }),
        validate(VideoCreated, { name: 'intake.validate' }),
        mapValue(
          (video: VideoCreated) => {
            if (video.durationSeconds > maxDurationSeconds) {
              throw new PermanentVideoError(
                `video is ${Math.round(video.durationSeconds)} s long; at most ${maxDurationSeconds} s are analysed`,
              );
            }
            return video;
          },
          { name: 'intake.check' },
        ),
        reportAnalysisFailures({
          stages: ['intake.check'],
          stage: 'intake',
          schema: VideoCreated,
          topic: topics.failed,
          now,
        }),
        mapValue(
          (video: VideoCreated): TranscriptRequested => {
            const at = isoTime(now());
            return {
              eventId: deriveEventId(video.eventId, VIDEO_EVENT_TYPES.transcriptRequested),
              eventType: VIDEO_EVENT_TYPES.transcriptRequested,
              videoId: video.videoId,
              occurredAt: at,
              causationId: video.eventId,
              analysisStartedAt: at,
              title: video.title,
              url: video.url,
              language: video.language,
              durationSeconds: video.durationSeconds,
            };
          },
          { name: 'intake.next-event' },
        ),
        validate(TranscriptRequested, { name: 'intake.check-output' }),
        publish(topics.transcriptRequested, {
          name: 'intake.publish',
          key: (element) => element.value.videoId,
          headers: (element) => ({
            ...eventTypeHeader(element.value.eventType),
            'correlation-id': element.origin.correlationId,
          }),
        }),
      ),
  });
}

/** The topics this pipeline reads and writes (the demo creates them). */
export const topics = videoTopicSpecs();

export default createVideoIntake();
