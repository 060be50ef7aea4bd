/**
 * Feed and user events (seed 004, a Rust service with serde: type-tagged JSON, snake_case fields). `feed_events`
 * are keyed by feed id, so one feed's events stay in order in one partition; `user_events` by user id. Every event
 * has an `event_id` (the producer's idempotency key: a retried send repeats it) and a `timestamp`.
 */
import * as z from 'zod';

const id = z.string().min(1).max(64);
const timestamp = z.iso.datetime({ offset: true });

const feedBase = {
  event_id: id,
  feed_id: id,
  /** Who did it: the author for `created`, the liker, commenter or viewer otherwise. */
  user_id: id,
  timestamp,
};

export const FeedCreated = z.object({ type: z.literal('created'), ...feedBase, content: z.string().max(5000) });
export const FeedLiked = z.object({ type: z.literal('liked'), ...feedBase });
export const FeedCommented = z.object({
  type: z.literal('commented'),
  ...feedBase,
  comment_id: id,
  comment: z.string().min(1).max(2000),
});
export const FeedViewed = z.object({ type: z.literal('viewed'), ...feedBase });

/** `feed_events`: FeedCreatedEvent, FeedLikedEvent, FeedCommentedEvent, FeedViewedEvent. */
export const FeedEvent = z.discriminatedUnion('type', [FeedCreated, FeedLiked, FeedCommented, FeedViewed]);
export type FeedEvent = z.output<typeof FeedEvent>;
export type FeedEventType = FeedEvent['type'];

export const UserCreated = z.object({
  type: z.literal('user_created'),
  event_id: id,
  user_id: id,
  username: z.string().regex(/^[A-Za-z0-9_.-]{2,32}$/, '2 to 32 letters, digits, ".", "_" or "-"'),
  email: z.email(),
  timestamp,
});

/** `user_events`: UserCreatedEvent. */
export const UserEvent = z.discriminatedUnion('type', [UserCreated]);
export type UserEvent = z.output<typeof UserEvent>;

/** What the notification service reads from both topics. */
export const NotificationSource = z.discriminatedUnion('type', [
  FeedCreated,
  FeedLiked,
  FeedCommented,
  FeedViewed,
  UserCreated,
]);
export type NotificationSource = z.output<typeof NotificationSource>;

export const NOTIFICATION_KINDS = ['welcome', 'feed_liked', 'feed_commented', 'feed_view_milestone'] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

/** `notifications`: one message for one user, keyed by the recipient. */
export const Notification = z.object({
  /** Derived from the source event: a re-delivered event yields the same id (consumers can drop repeats). */
  notification_id: id,
  recipient_id: id,
  kind: z.enum(NOTIFICATION_KINDS),
  feed_id: id.optional(),
  /** Who caused it (the liker, the commenter); absent for welcome and milestones. */
  actor_id: id.optional(),
  message: z.string().min(1).max(500),
  source_event_id: id,
  created_at: timestamp,
});
export type Notification = z.output<typeof Notification>;
