/**
 * The notification pipeline on the real broker, checked against the test driver: the same realistic mix of users,
 * feeds, likes, comments, views, producer retries (duplicates) and poison goes to both; the broker run must publish
 * exactly the notifications the driver predicts (no duplicate), dead-letter the poison and commit everything. The
 * driver's partitioner must put each key where kafkajs put it.
 */
import { describe, expect, it } from 'vitest';
import { createNotificationPipeline } from '../../../pipelines/notifications.js';
import { type FeedEvent, Notification, type UserEvent } from '../../../pipelines/schemas/feed.js';
import { createPartitionChooser, createTestDriver } from '../../../src/testing/index.js';
import { testEngine } from '../../support/engine.js';
import {
  collect,
  consume,
  createTopic,
  expectCommittedToEnd,
  produce,
  type TestRecord,
  uniqueName,
} from '../../support/kafka.js';
import { feedCommented, feedCreated, feedLiked, feedViewed, userCreated } from '../../support/pipelines.js';

/** A deterministic pseudo-random sequence (so a failure can be reproduced). */
function lcg(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('feed and user events on the broker', () => {
  it('publishes exactly the notifications the test driver predicts, without duplicates, and commits everything', async () => {
    const topics = {
      feedEvents: await createTopic('feed_events', 3),
      userEvents: await createTopic('user_events', 2),
      notifications: await createTopic('notifications', 3),
      deadLetter: await createTopic('notifications.dlq', 1),
    };
    const groupId = uniqueName('notification-service');
    const random = lcg(42);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

    const userIds = Array.from({ length: 12 }, (_, i) => `u${i}`);
    const users: UserEvent[] = userIds.map((id) => userCreated(id, `user_${id}`));
    const feeds: FeedEvent[] = [];
    const feedIds = Array.from({ length: 20 }, (_, i) => `f${i}`);
    for (const feedId of feedIds) feeds.push(feedCreated(feedId, pick(userIds), `post ${feedId}`));
    for (let i = 0; i < 260; i++) {
      const feedId = pick(feedIds);
      const who = pick(userIds);
      const roll = random();
      feeds.push(
        roll < 0.25
          ? feedLiked(feedId, who)
          : roll < 0.4
            ? feedCommented(feedId, who, `comment ${i}`)
            : feedViewed(feedId, who),
      );
    }
    // the producer retried some sends: the same event again, a little later in the same feed
    for (let i = 0; i < 15; i++) {
      const at = 20 + Math.floor(random() * (feeds.length - 20));
      const original = feeds[at] as FeedEvent;
      feeds.splice(at + 1 + Math.floor(random() * 3), 0, original);
    }
    const feedRecords: TestRecord[] = feeds.map((e) => ({
      key: e.feed_id,
      value: JSON.stringify(e),
      headers: { 'correlation-id': `corr-${e.event_id}` },
    }));
    const poison: TestRecord[] = [
      { key: 'f1', value: '{"type":"liked","feed_id":' },
      { key: 'f2', value: JSON.stringify({ ...feedLiked('f2', 'u1'), type: 'shared' }) },
      { key: 'f3', value: JSON.stringify({ ...feedCommented('f3', 'u1'), comment: '' }) },
      { key: 'f4', value: null },
      { key: 'f5', value: Buffer.from([0xff, 0xfe, 0x00]).toString('latin1') },
    ];
    // poison sits among the good records
    for (const [i, p] of poison.entries()) feedRecords.splice(40 + i * 50, 0, p);
    const userRecords: TestRecord[] = users.map((e) => ({ key: e.user_id, value: JSON.stringify(e) }));

    // what the test driver says should come out (users first, as on the broker below)
    const driver = createTestDriver(
      createNotificationPipeline({
        topics: {
          feedEvents: topics.feedEvents,
          userEvents: topics.userEvents,
          notifications: topics.notifications,
          deadLetter: topics.deadLetter,
        },
        groupId,
      }),
      { partitions: { [topics.feedEvents]: 3, [topics.userEvents]: 2, [topics.notifications]: 3 } },
    );
    driver.inputTopic(topics.userEvents).pipeRecords(userRecords.map((r) => ({ key: r.key ?? null, value: r.value })));
    await driver.settle();
    driver
      .inputTopic(topics.feedEvents)
      .pipeRecords(feedRecords.map((r) => ({ key: r.key ?? null, value: r.value, headers: r.headers ?? {} })));
    await driver.settle();
    const expected = driver.outputTopic(topics.notifications, { schema: Notification }).readRecords();
    const expectedDead = driver.deadLetterTopic().readDeadLetters();
    await driver.close();
    expect(expected.length).toBeGreaterThan(30);
    expect(expectedDead).toHaveLength(5);

    // the real thing
    const out = await collect(topics.notifications);
    const dead = await collect(topics.deadLetter);
    const engine = testEngine({
      pipelines: [createNotificationPipeline({ topics, groupId })],
    });
    await engine.start();
    await produce(topics.userEvents, userRecords);
    await out.waitFor(users.length, 60_000); // every welcome, so usernames are known before the feeds
    await produce(topics.feedEvents, feedRecords);
    await out.waitFor(expected.length, 60_000);
    await dead.waitFor(poison.length, 60_000);
    await engine.stop();

    const got = out.records.map((r) => ({ record: r, value: Notification.parse(JSON.parse(r.value ?? '')) }));
    const ids = got.map((g) => g.value.notification_id);
    expect(new Set(ids).size).toBe(ids.length); // no duplicate notification
    // the same notifications, each to the same recipient (key) and partition, with the same message
    const summary = (n: Notification, key: string | null | undefined, partition: number) =>
      `${n.notification_id} ${key} ${partition} ${n.kind} ${n.message}`;
    expect(got.map((g) => summary(g.value, g.record.key, g.record.partition)).sort()).toEqual(
      expected.map((e) => summary(e.value, e.key, e.partition)).sort(),
    );
    // per recipient, notifications keep the order of their feeds' events (one feed's events are handled in order)
    const orderOf = (list: { feed?: string | undefined; id: string }[]) =>
      list.filter((x) => x.feed !== undefined).map((x) => `${x.feed}:${x.id}`);
    for (const feedId of feedIds) {
      const fromBroker = orderOf(got.map((g) => ({ feed: g.value.feed_id, id: g.value.notification_id }))).filter((s) =>
        s.startsWith(`${feedId}:`),
      );
      const fromDriver = orderOf(expected.map((e) => ({ feed: e.value.feed_id, id: e.value.notification_id }))).filter(
        (s) => s.startsWith(`${feedId}:`),
      );
      expect(fromBroker, `order of ${feedId}`).toEqual(fromDriver);
    }
    expect(
      out.records.every((r) => r.headers['event-type'] === `notification.${JSON.parse(r.value ?? '{}').kind}`),
    ).toBe(true);

    // poison: dead-lettered with the reason, the same records the driver dead-lettered
    expect(dead.records.map((d) => d.headers['tributary-stage']).sort()).toEqual(
      expectedDead.map((d) => d.stage).sort(),
    );
    expect(dead.records.every((d) => d.headers['kafka_dlt-original-topic'] === topics.feedEvents)).toBe(true);

    // the driver's partitioner agrees with kafkajs' (the records' partitions on the broker)
    const choose = createPartitionChooser();
    const onBroker = await consume(topics.feedEvents, feedRecords.length);
    for (const r of onBroker) {
      expect(r.partition, `key ${r.key}`).toBe(choose(topics.feedEvents, 3, Buffer.from(r.key ?? '')));
    }

    // committed to the end of every partition of both topics
    await expectCommittedToEnd(groupId, [topics.feedEvents, topics.userEvents]);
  });
});
