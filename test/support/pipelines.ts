/** Realistic events for the shipped pipelines' tests (unit tests with the driver, and broker tests). */
import type * as z from 'zod';
import type { FeedEvent, UserEvent } from '../../pipelines/schemas/feed.js';
import { type TranscriptRequested, VIDEO_EVENT_TYPES, type VideoCreated } from '../../pipelines/schemas/video.js';

export const T0 = '2024-01-01T00:00:00.000Z';

export function videoCreated(
  videoId: string,
  overrides: Partial<z.input<typeof VideoCreated>> = {},
): z.input<typeof VideoCreated> {
  return {
    eventId: `created-${videoId}`,
    eventType: VIDEO_EVENT_TYPES.created,
    videoId,
    occurredAt: T0,
    title: `How Kafka partitions work (${videoId})`,
    url: `https://videos.example.com/watch?v=${videoId}`,
    channelId: 'channel-1',
    durationSeconds: 600,
    language: 'en',
    ...overrides,
  };
}

export function transcriptRequested(
  videoId: string,
  overrides: Partial<TranscriptRequested> = {},
): TranscriptRequested {
  return {
    eventId: `transcript-${videoId}`,
    eventType: VIDEO_EVENT_TYPES.transcriptRequested,
    videoId,
    occurredAt: T0,
    causationId: `created-${videoId}`,
    analysisStartedAt: T0,
    title: `How Kafka partitions work (${videoId})`,
    url: `https://videos.example.com/watch?v=${videoId}`,
    language: 'en',
    durationSeconds: 600,
    ...overrides,
  };
}

let counter = 0;
const nextId = (prefix: string) => `${prefix}-${++counter}`;

export function userCreated(userId: string, username = `user_${userId}`): UserEvent {
  return {
    type: 'user_created',
    event_id: nextId('ue'),
    user_id: userId,
    username,
    email: `${username}@example.com`,
    timestamp: T0,
  };
}

export function feedCreated(feedId: string, authorId: string, content = 'Hello from the feed'): FeedEvent {
  return { type: 'created', event_id: nextId('fe'), feed_id: feedId, user_id: authorId, content, timestamp: T0 };
}

export function feedLiked(feedId: string, userId: string): FeedEvent {
  return { type: 'liked', event_id: nextId('fe'), feed_id: feedId, user_id: userId, timestamp: T0 };
}

export function feedCommented(feedId: string, userId: string, comment = 'Nice post!'): FeedEvent {
  return {
    type: 'commented',
    event_id: nextId('fe'),
    feed_id: feedId,
    user_id: userId,
    comment_id: nextId('comment'),
    comment,
    timestamp: T0,
  };
}

export function feedViewed(feedId: string, userId: string): FeedEvent {
  return { type: 'viewed', event_id: nextId('fe'), feed_id: feedId, user_id: userId, timestamp: T0 };
}
