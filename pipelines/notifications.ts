/**
 * Feed and user events → notifications (seed 004's "notification service"; group `notification-service`).
 *
 * Reads `feed_events` (type-tagged `created` / `liked` / `commented` / `viewed`, keyed by feed id) and
 * `user_events` (`user_created`, keyed by user id) with `ordering: 'key'`: one feed's events are handled strictly in
 * order (a like is only addressed once the feed's `created` told us its author), different feeds concurrently.
 * Publishes to `notifications`, keyed by the recipient:
 *
 * - `user_created` → `welcome` to the new user;
 * - `liked` / `commented` → `feed_liked` / `feed_commented` to the feed's author (not for the author's own actions);
 * - `viewed` → `feed_view_milestone` to the author when the feed reaches 10, 100, 1000, ... views;
 * - `created` → nothing (remembers the author).
 *
 * Events are deduplicated by `event_id` (the producer's retry repeats it): a duplicate, even one that arrives while
 * the original is still in flight, produces no second notification. Unreadable records (malformed JSON, unknown
 * `type`, missing fields, tombstones) go to `notifications.dlq`.
 */
import type { SchedulerLike } from 'rxjs';
import { asyncScheduler } from 'rxjs';
import {
  type DedupeStore,
  dedupe,
  definePipeline,
  type Envelope,
  filterValue,
  memoryDedupeStore,
  type Pipeline,
  parseJson,
  publish,
  retryWithBackoff,
  type TopicSpec,
  validate,
} from '../src/index.js';
import { deriveEventId, isoTime } from './lib/eventIds.js';
import { type FeedStore, memoryFeedStore } from './lib/feedStore.js';
import { oneRecordPerLane } from './lib/oneRecordPerLane.js';
import { Notification, NotificationSource } from './schemas/feed.js';

export interface NotificationTopics {
  feedEvents: string;
  userEvents: string;
  notifications: string;
  deadLetter: string;
}

export const DEFAULT_NOTIFICATION_TOPICS: Readonly<NotificationTopics> = {
  feedEvents: 'feed_events',
  userEvents: 'user_events',
  notifications: 'notifications',
  deadLetter: 'notifications.dlq',
};

export interface NotificationPipelineOptions {
  topics?: Partial<NotificationTopics>;
  /** Default 'notification-service'. */
  name?: string;
  /** Default 'notification-service'. */
  groupId?: string;
  /** Feed authors, usernames, view counts. Default: a new {@link memoryFeedStore} (per pipeline instance). */
  store?: FeedStore;
  /** Event ids already handled. Default: a new in-memory store each time the pipeline (re)starts. */
  dedupeStore?: DedupeStore;
  /** How long an event id is remembered. Default 24 h. */
  dedupeTtlMs?: number;
  /** View counts that notify the author. Default [10, 100, 1000, 10000, 100000]. */
  viewMilestones?: readonly number[];
  /** Timers (store retries) and the clock (`created_at`). Default asyncScheduler. */
  scheduler?: SchedulerLike;
  /** Attempts of a store call. Default 3. */
  attempts?: number;
  /** Default 500. */
  maxInFlight?: number;
}

/** What to notify about one event (or null: nothing), updating the store. */
export async function notificationFor(
  event: NotificationSource,
  store: FeedStore,
  now: number,
  milestones: ReadonlySet<number>,
): Promise<Notification | null> {
  const base = (kind: Notification['kind'], recipient: string) => ({
    notification_id: deriveEventId(event.event_id, 'notification', kind, recipient),
    recipient_id: recipient,
    kind,
    source_event_id: event.event_id,
    created_at: isoTime(now),
  });
  switch (event.type) {
    case 'user_created':
      await store.rememberUser(event.user_id, event.username);
      return { ...base('welcome', event.user_id), message: `Welcome, ${event.username}!` };
    case 'created':
      await store.rememberFeed(event.feed_id, event.user_id);
      return null;
    case 'liked':
    case 'commented': {
      const author = await store.feedAuthor(event.feed_id);
      if (author === undefined || author === event.user_id) return null;
      const actor = (await store.username(event.user_id)) ?? event.user_id;
      if (event.type === 'liked') {
        return {
          ...base('feed_liked', author),
          feed_id: event.feed_id,
          actor_id: event.user_id,
          message: `${actor} liked your post`,
        };
      }
      const excerpt = event.comment.length > 80 ? `${event.comment.slice(0, 79)}…` : event.comment;
      return {
        ...base('feed_commented', author),
        feed_id: event.feed_id,
        actor_id: event.user_id,
        message: `${actor} commented on your post: "${excerpt}"`,
      };
    }
    case 'viewed': {
      const author = await store.feedAuthor(event.feed_id);
      if (author === event.user_id) return null; // the author's own views do not count
      const views = await store.countView(event.feed_id);
      if (author === undefined || !milestones.has(views)) return null;
      return {
        ...base('feed_view_milestone', author),
        feed_id: event.feed_id,
        message: `Your post reached ${views} views`,
      };
    }
  }
}

export function createNotificationPipeline(options: NotificationPipelineOptions = {}): Pipeline<Notification> {
  const topics = { ...DEFAULT_NOTIFICATION_TOPICS, ...options.topics };
  const scheduler = options.scheduler ?? asyncScheduler;
  const store = options.store ?? memoryFeedStore();
  const milestones = new Set(options.viewMilestones ?? [10, 100, 1000, 10_000, 100_000]);
  const ttlMs = options.dedupeTtlMs ?? 24 * 3600 * 1000;
  return definePipeline({
    name: options.name ?? 'notification-service',
    source: { topics: [topics.feedEvents, topics.userEvents], groupId: options.groupId ?? 'notification-service' },
    deadLetter: { topic: topics.deadLetter },
    ordering: 'key',
    maxInFlight: options.maxInFlight ?? 500,
    build: (records) => {
      // one store per (re)start unless given: after a crash the engine re-delivers what was not committed
      const seen = options.dedupeStore ?? memoryDedupeStore({ now: () => scheduler.now() });
      return records.pipe(
        parseJson({ name: 'notify.parse' }),
        validate(NotificationSource, { name: 'notify.validate' }),
        oneRecordPerLane(),
        dedupe({
          id: (element: Envelope<NotificationSource>) => element.value.event_id,
          ttlMs,
          store: seen,
          name: 'notify.dedupe',
        }),
        retryWithBackoff(
          async (event: NotificationSource) => {
            const notification = await notificationFor(event, store, scheduler.now(), milestones);
            // dedupe remembers an id once its notification is published; an event that notifies nobody (a view
            // count, a new feed) has had its effect now, so a duplicate must not count it again
            if (notification === null) await seen.remember(event.event_id, ttlMs);
            return notification;
          },
          { name: 'notify.decide', attempts: options.attempts ?? 3, scheduler },
        ),
        filterValue((n: Notification | null): n is Notification => n !== null, { name: 'notify.nothing-to-send' }),
        validate(Notification, { name: 'notify.check-output' }),
        publish(topics.notifications, {
          name: 'notify.publish',
          key: (element) => element.value.recipient_id,
          headers: (element) => ({ 'event-type': `notification.${element.value.kind}` }),
        }),
      );
    },
  });
}

/** The topics this pipeline reads and writes (the demo creates them). */
export const topics: TopicSpec[] = Object.values(DEFAULT_NOTIFICATION_TOPICS).map((topic) => ({
  topic,
  partitions: 3,
}));

export default createNotificationPipeline();
