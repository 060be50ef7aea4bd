import { firstValueFrom, type SchedulerLike, timer } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { type FeedStore, memoryFeedStore } from '../../../pipelines/lib/feedStore.js';
import { createNotificationPipeline, type NotificationPipelineOptions } from '../../../pipelines/notifications.js';
import { type FeedEvent, Notification, type UserEvent } from '../../../pipelines/schemas/feed.js';
import { createTestDriver, type TestDriver } from '../../../src/testing/index.js';
import { feedCommented, feedCreated, feedLiked, feedViewed, userCreated } from '../../support/pipelines.js';

const drivers: TestDriver[] = [];
afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close();
});

function notificationDriver(options: (scheduler: SchedulerLike) => NotificationPipelineOptions = () => ({})) {
  const driver = createTestDriver(
    ({ scheduler }) => createNotificationPipeline({ scheduler, viewMilestones: [3], ...options(scheduler) }),
    { partitions: { feed_events: 3, user_events: 2, notifications: 3 } },
  );
  drivers.push(driver);
  return driver;
}

const feed = (driver: TestDriver, events: FeedEvent[]) =>
  driver.inputTopic('feed_events').pipeKeyValues(events.map((e) => [e.feed_id, e] as const));
const users = (driver: TestDriver, events: UserEvent[]) =>
  driver.inputTopic('user_events').pipeKeyValues(events.map((e) => [e.user_id, e] as const));

describe('notification-service (feed_events + user_events → notifications)', () => {
  it('welcomes new users and tells authors about likes, comments and view milestones', async () => {
    const driver = notificationDriver();
    users(driver, [userCreated('alice', 'alice'), userCreated('bob', 'bob')]);
    await driver.settle();
    const longComment = 'x'.repeat(100);
    feed(driver, [
      feedCreated('f1', 'alice'),
      feedLiked('f1', 'bob'),
      feedLiked('f1', 'alice'), // the author's own like: nothing
      feedCommented('f1', 'bob', 'Great write-up'),
      feedCommented('f1', 'carol', longComment),
      feedViewed('f1', 'bob'),
      feedViewed('f1', 'alice'), // the author's own view does not count
      feedViewed('f1', 'carol'),
      feedViewed('f1', 'dave'), // the third view: milestone
      feedViewed('f1', 'erin'),
    ]);
    await driver.settle();
    const records = driver.outputTopic('notifications', { schema: Notification }).readRecords();
    // alice's and bob's user events sit in two partitions, each handled in its own batch: welcomes by recipient
    const welcomes = records
      .filter((r) => r.value.kind === 'welcome')
      .sort((x, y) => String(x.key).localeCompare(String(y.key)));
    const out = [...welcomes, ...records.filter((r) => r.value.kind !== 'welcome')];
    expect(out.map((r) => [r.key, r.value.kind, r.value.message])).toEqual([
      ['alice', 'welcome', 'Welcome, alice!'],
      ['bob', 'welcome', 'Welcome, bob!'],
      ['alice', 'feed_liked', 'bob liked your post'],
      ['alice', 'feed_commented', 'bob commented on your post: "Great write-up"'],
      ['alice', 'feed_commented', `carol commented on your post: "${'x'.repeat(79)}…"`],
      ['alice', 'feed_view_milestone', 'Your post reached 3 views'],
    ]);
    expect(out.map((r) => r.headers['event-type'])).toEqual([
      'notification.welcome',
      'notification.welcome',
      'notification.feed_liked',
      'notification.feed_commented',
      'notification.feed_commented',
      'notification.feed_view_milestone',
    ]);
    expect(out[2]?.value).toMatchObject({ recipient_id: 'alice', feed_id: 'f1', actor_id: 'bob' });
    expect(out[2]?.value.created_at).toBe(new Date(driver.now()).toISOString());
    // notifications are keyed by recipient: all of alice's land in one partition, in order
    expect(new Set(out.filter((r) => r.key === 'alice').map((r) => r.partition)).size).toBe(1);
    const outcomes = driver.outcomes({ topic: 'feed_events' }).map((o) => o.outcome);
    expect(outcomes.filter((o) => o === 'published')).toHaveLength(4);
    expect(outcomes.filter((o) => o === 'filtered')).toHaveLength(6);
  });

  it('keeps one feed in order (a like waits for its feed) while other feeds go ahead', async () => {
    // a slow store: every call takes 100 ms on the driver's clock
    const slow = (scheduler: SchedulerLike): FeedStore => {
      const inner = memoryFeedStore();
      const slowly =
        <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
        async (...args: A): Promise<R> => {
          await firstValueFrom(timer(100, scheduler));
          return call(...args);
        };
      return {
        rememberFeed: slowly(inner.rememberFeed),
        feedAuthor: slowly(inner.feedAuthor),
        rememberUser: slowly(inner.rememberUser),
        username: slowly(inner.username),
        countView: slowly(inner.countView),
      };
    };
    const driver = createTestDriver(
      ({ scheduler }) => createNotificationPipeline({ scheduler, store: slow(scheduler) }),
      { partitions: { feed_events: 1 } }, // one partition: only key ordering keeps the feeds apart
    );
    drivers.push(driver);
    feed(driver, [
      feedCreated('f1', 'alice'),
      feedLiked('f1', 'bob'),
      feedCreated('f2', 'carol'),
      feedLiked('f2', 'dave'),
    ]);
    // f1: created (100 ms), then like (feedAuthor 100 + username 100); f2 runs alongside, not after f1
    await driver.advanceTime(300);
    const out = driver.outputTopic('notifications', { schema: Notification }).readValues();
    expect(out.map((n) => `${n.recipient_id}<-${n.actor_id}`).sort()).toEqual(['alice<-bob', 'carol<-dave']);
    expect(driver.committable('feed_events')).toEqual(new Map([[0, 4n]]));
  });

  it('drops duplicate events by event_id, also while the original is still in flight', async () => {
    let views = 0;
    const driver = notificationDriver((scheduler) => ({
      store: {
        ...memoryFeedStore(),
        rememberFeed: async () => {},
        feedAuthor: async () => 'alice',
        username: async () => 'bob',
        countView: async () => {
          await firstValueFrom(timer(50, scheduler));
          return ++views;
        },
      },
    }));
    const like = feedLiked('f1', 'bob');
    const view = feedViewed('f1', 'carol');
    feed(driver, [like, like, view, view, like]); // the producer retried
    await driver.advanceTime(100);
    expect(
      driver
        .outputTopic('notifications', { schema: Notification })
        .readValues()
        .map((n) => n.kind),
    ).toEqual(['feed_liked']);
    expect(views).toBe(1);
    const outcomes = driver.outcomes().map((o) => o.outcome);
    expect(outcomes).toEqual(['published', 'filtered', 'filtered', 'filtered', 'filtered']);
    expect(driver.logs.filter((l) => l.msg === 'dedupe: duplicate dropped')).toHaveLength(3);
  });

  it('retries a failing store on the driver clock, then notifies', async () => {
    let failures = 1;
    const inner = memoryFeedStore();
    const driver = notificationDriver(() => ({
      store: {
        ...inner,
        rememberUser: async (...a) => {
          if (failures-- > 0) throw new Error('redis: connection reset');
          return inner.rememberUser(...a);
        },
      },
    }));
    users(driver, [userCreated('u1', 'zoe')]);
    await driver.settle();
    expect(driver.outputTopic('notifications').isEmpty()).toBe(true);
    await driver.advanceTime(200);
    expect(driver.outputTopic('notifications', { schema: Notification }).readValues()).toMatchObject([
      { kind: 'welcome', recipient_id: 'u1' },
    ]);
  });

  it('dead-letters what it cannot read to notifications.dlq; a like of an unknown feed is not an error', async () => {
    const driver = notificationDriver();
    const input = driver.inputTopic('feed_events');
    input.pipeRecords([
      { key: 'f1', value: '{"type":"liked",' },
      { key: 'f1', value: { ...feedLiked('f1', 'bob'), type: 'shared' } },
      { key: 'f1', value: { ...feedCommented('f1', 'bob'), comment: '' } },
      { key: 'f1', value: null },
      { key: 'f9', value: feedLiked('f9', 'bob') },
    ]);
    driver.inputTopic('user_events').pipeInput({ key: 'u1', value: { ...userCreated('u1'), email: 'not-an-email' } });
    await driver.settle();
    const dead = driver.deadLetterTopic().readDeadLetters();
    expect(dead.map((d) => [d.originalTopic, d.stage, d.errorCode])).toEqual([
      ['feed_events', 'notify.parse', 'TRIBUTARY_ERR_PARSE'],
      ['feed_events', 'notify.validate', 'TRIBUTARY_ERR_VALIDATION'],
      ['feed_events', 'notify.validate', 'TRIBUTARY_ERR_VALIDATION'],
      ['feed_events', 'notify.parse', 'TRIBUTARY_ERR_PARSE'],
      ['user_events', 'notify.validate', 'TRIBUTARY_ERR_VALIDATION'],
    ]);
    expect(dead[1]?.exceptionMessage).toContain('type');
    expect(dead[4]?.exceptionMessage).toContain('email');
    expect(
      dead.every((d) => d.topic === 'notifications.dlq' && d.originalConsumerGroup === 'notification-service'),
    ).toBe(true);
    expect(driver.outputTopic('notifications').isEmpty()).toBe(true);
    expect(
      driver
        .outcomes({ topic: 'feed_events' })
        .map((o) => o.outcome)
        .sort(),
    ).toEqual(['dead_lettered', 'dead_lettered', 'dead_lettered', 'dead_lettered', 'filtered']);
  });
});
