/**
 * route() on the real broker: feed events branch by type to topics and operator chains; unknown types go to the
 * dead-letter topic; each branch keeps every feed's order; every record finishes once, so commits reach the end.
 */
import { pipe } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  branchToDeadLetter,
  DEAD_LETTER_HEADERS,
  definePipeline,
  filterValue,
  mapValue,
  parseJson,
  publish,
  route,
} from '../../../src/index.js';
import { eventually, testEngine } from '../../support/engine.js';
import { collect, committedOffsets, createTopic, produce, testAdmin, uniqueName } from '../../support/kafka.js';

interface FeedEvent {
  type: string;
  feedId: string;
  seq: number;
}

const TYPES = ['created', 'liked', 'commented', 'viewed', 'shared'] as const;

describe('route on the broker', () => {
  it('sends each event type down its branch, in per-feed order, dead-letters unknown types, commits everything', async () => {
    const input = await createTopic('route-in', 3);
    const created = await createTopic('route-created', 3);
    const likes = await createTopic('route-likes', 3);
    const dlq = await createTopic('route-dlq', 1);
    const events: FeedEvent[] = Array.from({ length: 500 }, (_, i) => ({
      type: TYPES[(i * 7) % TYPES.length] ?? 'created',
      feedId: `feed-${i % 10}`,
      seq: i,
    }));
    await produce(
      input,
      events.map((e) => ({ key: e.feedId, value: JSON.stringify(e) })),
    );
    const groupId = uniqueName('route-group');
    const createdOut = await collect(created);
    const likesOut = await collect(likes);
    const dead = await collect(dlq);
    const commented: FeedEvent[] = [];
    const engine = testEngine({
      pipelines: [
        definePipeline({
          name: uniqueName('feed-router'),
          source: { topics: [input], groupId },
          deadLetter: { topic: dlq },
          ordering: 'key',
          build: (stream) =>
            stream.pipe(
              parseJson<FeedEvent>(),
              route(
                (el) => el.value.type,
                {
                  created,
                  liked: pipe(
                    mapValue((e: FeedEvent) => ({ feedId: e.feedId, seq: e.seq, liked: true })),
                    publish(likes),
                  ),
                  commented: mapValue((e: FeedEvent) => {
                    commented.push(e);
                    return e;
                  }),
                  viewed: filterValue(() => false),
                },
                { name: 'feed.route' },
              ),
              branchToDeadLetter(),
            ),
        }),
      ],
    });
    await engine.start();
    const count = (type: string) => events.filter((e) => e.type === type).length;
    await createdOut.waitFor(count('created'));
    await likesOut.waitFor(count('liked'));
    await dead.waitFor(count('shared'));
    const ends = await (await testAdmin()).fetchTopicOffsets(input);
    await eventually(async () => {
      const committed = await committedOffsets(groupId, input);
      return ends.every((end) => committed.get(end.partition) === BigInt(end.high));
    }, 'commits at the end of every partition');
    await new Promise((done) => setTimeout(done, 500));
    await engine.stop();

    const inOrder = (values: { feedId: string; seq: number }[]) => {
      const last = new Map<string, number>();
      for (const v of values) {
        expect(v.seq, v.feedId).toBeGreaterThan(last.get(v.feedId) ?? -1);
        last.set(v.feedId, v.seq);
      }
    };
    const createdValues = createdOut.records.map((r) => JSON.parse(r.value ?? '{}') as FeedEvent);
    expect(createdValues).toHaveLength(count('created'));
    expect(createdValues.every((e) => e.type === 'created')).toBe(true);
    inOrder(createdValues);
    const likeValues = likesOut.records.map((r) => JSON.parse(r.value ?? '{}') as FeedEvent & { liked: boolean });
    expect(likeValues).toHaveLength(count('liked'));
    expect(likeValues.every((e) => e.liked)).toBe(true);
    inOrder(likeValues);
    expect(commented).toHaveLength(count('commented'));
    inOrder(commented);
    expect(dead.records).toHaveLength(count('shared'));
    for (const d of dead.records) {
      expect(d.headers[DEAD_LETTER_HEADERS.stage]).toBe('feed.route');
      expect(d.headers[DEAD_LETTER_HEADERS.exceptionMessage]).toBe(
        'no route for "shared"; known routes: "created", "liked", "commented", "viewed"',
      );
    }
  });
});
