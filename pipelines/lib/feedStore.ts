/**
 * What the notification service remembers between events: who wrote each feed (a like is addressed to the author),
 * usernames (for readable messages) and view counts (for milestones). Pluggable and asynchronous, so production can
 * keep it in Redis or PostgreSQL; the default lives in memory, bounded.
 */

export interface FeedStore {
  rememberFeed(feedId: string, authorId: string): Promise<void>;
  feedAuthor(feedId: string): Promise<string | undefined>;
  rememberUser(userId: string, username: string): Promise<void>;
  username(userId: string): Promise<string | undefined>;
  /** Counts one more view of the feed; resolves to the feed's view count. */
  countView(feedId: string): Promise<number>;
}

export interface MemoryFeedStoreOptions {
  /** Most feeds (and view counters) kept; the least recently written are forgotten first. Default 100 000. */
  maxFeeds?: number;
  /** Most usernames kept. Default 100 000. */
  maxUsers?: number;
}

function setBounded<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) {
    const oldest = map.keys().next();
    if (oldest.done) break;
    map.delete(oldest.value);
  }
}

export function memoryFeedStore(options: MemoryFeedStoreOptions = {}): FeedStore {
  const { maxFeeds = 100_000, maxUsers = 100_000 } = options;
  const authors = new Map<string, string>();
  const users = new Map<string, string>();
  const views = new Map<string, number>();
  return {
    async rememberFeed(feedId, authorId) {
      setBounded(authors, feedId, authorId, maxFeeds);
    },
    async feedAuthor(feedId) {
      return authors.get(feedId);
    },
    async rememberUser(userId, username) {
      setBounded(users, userId, username, maxUsers);
    },
    async username(userId) {
      return users.get(userId);
    },
    async countView(feedId) {
      const count = (views.get(feedId) ?? 0) + 1;
      setBounded(views, feedId, count, maxFeeds);
      return count;
    },
  };
}
