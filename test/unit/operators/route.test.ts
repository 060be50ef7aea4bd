import { map, type Observable, type OperatorFunction, pipe, timer } from 'rxjs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as z from 'zod';
import { filterValue } from '../../../operators/filterValue.js';
import { mapValue } from '../../../operators/mapValue.js';
import { type RouteOptions, route, routeOptionsSchema } from '../../../operators/route.js';
import { type Element, type Envelope, failed } from '../../../src/envelope.js';
import { TributaryError } from '../../../src/errors.js';
import { laneOfElement, mergeMapByLane } from '../../../src/lanes.js';
import { expectFailed, expectOk, runOperator, testContext, testEnvelope } from '../../support/envelopes.js';
import { summarize, testScheduler } from '../../support/marbles.js';

interface FeedEvent {
  type: string;
  feedId: string;
}

const event = (type: string, feedId = 'f1') => ({ type, feedId });
const byType = (el: Envelope<FeedEvent>) => el.value.type;

/** Asynchronous per-lane work that takes `ms(value)` (virtual) milliseconds. */
function slow<T>(ms: (value: T) => number): OperatorFunction<Element<T>, Element<T>> {
  return mergeMapByLane(
    (el: Element<T>): Observable<Element<T>> => timer(el.ok ? ms(el.value) : 0).pipe(map(() => el)),
    laneOfElement,
  );
}

function definitionError(build: () => unknown): TributaryError {
  try {
    build();
  } catch (error) {
    if (error instanceof TributaryError) return error;
    throw error;
  }
  throw new Error('expected a TRIBUTARY_ERR_PIPELINE_DEFINITION error');
}

describe('route', () => {
  it('publishes topic routes, runs chain routes, and merges what the branches emit', async () => {
    const context = testContext();
    const created = testEnvelope(event('created'), { context, offset: 1, headers: { 'correlation-id': 'corr-1' } });
    const liked = testEnvelope(event('liked', 'f2'), { context, offset: 2 });
    const outputs = await runOperator<Element<FeedEvent>, Element<unknown>>(
      [created, liked],
      route(byType, {
        created: 'feed.created',
        liked: mapValue((e: FeedEvent) => `like of ${e.feedId}`),
      }),
    );
    expect(context.sent.map((r) => [r.topic, r.value])).toEqual([['feed.created', JSON.stringify(event('created'))]]);
    expect(context.sent[0]?.headers).toEqual({ 'correlation-id': 'corr-1' }); // carried over from the input
    expect(created.ticket.settled).toBe('published'); // settled: the end of the pipeline finishes it
    expect(created.ticket.finished).toBe(false);
    expect(liked.ticket.finished).toBe(false); // the chain did not finish it: the end of the pipeline will
    expect(outputs.map((el) => expectOk(el).value).sort()).toEqual([event('created'), 'like of f2'].sort());
  });

  it('dead-letters an unmatched element by default, naming the known routes', async () => {
    const viewed = testEnvelope(event('viewed'), { topic: 'feed_events', partition: 1, offset: 9 });
    const [out] = await runOperator(
      [viewed],
      route(byType, { created: 'feed.created', liked: 'feed.likes' }, { name: 'feed.route' }),
    );
    const failure = expectFailed(out);
    expect(failure.stage).toBe('feed.route');
    expect(failure.error.code).toBe('TRIBUTARY_ERR_VALIDATION');
    expect(failure.error.retriable).toBe(false);
    expect(failure.error.message).toBe('no route for "viewed"; known routes: "created", "liked"');
    expect([failure.error.topic, failure.error.partition, failure.error.offset]).toEqual(['feed_events', 1, 9n]);
    expect(failure.error.details).toEqual({ selected: 'viewed', routes: ['created', 'liked'] });
    expect(viewed.ticket.finished).toBe(false); // the dead-letter stage finishes it
    expect(viewed.context.sent).toEqual([]);
  });

  it("'drop' finishes unmatched elements as filtered; a route name sends them to that route", async () => {
    const dropped = testEnvelope(event('viewed'));
    expect(await runOperator([dropped], route(byType, { created: 'feed.created' }, { default: 'drop' }))).toEqual([]);
    expect(dropped.ticket.calls).toEqual(['filtered']);

    const context = testContext();
    const other = testEnvelope(event('commented'), { context });
    const outputs = await runOperator(
      [other],
      route(byType, { created: 'feed.created', misc: 'feed.misc' }, { default: 'misc' }),
    );
    expect(context.sent.map((r) => r.topic)).toEqual(['feed.misc']);
    expect(other.ticket.settled).toBe('published');
    expect(outputs).toHaveLength(1);
  });

  it('treats undefined and inherited property names as unmatched', async () => {
    const a = testEnvelope(event('constructor'));
    const b = testEnvelope(event('toString'));
    const c = testEnvelope(event('x'));
    const outputs = await runOperator(
      [a, b, c],
      route((el: Envelope<FeedEvent>) => (el.value.type === 'x' ? undefined : el.value.type), { created: 'c' }),
    );
    expect(outputs.map((el) => expectFailed(el).error.message)).toEqual([
      'no route for "constructor"; known routes: "created"',
      'no route for "toString"; known routes: "created"',
      'no route for undefined; known routes: "created"',
    ]);
  });

  it('fails an element whose selector throws, and passes failed inputs through without calling it', async () => {
    let calls = 0;
    const a = testEnvelope(event('created'));
    const x = failed(testEnvelope(event('created')), 'parseJson', new TributaryError('TRIBUTARY_ERR_PARSE', 'bad'));
    const outputs = await runOperator(
      [a, x],
      route(
        () => {
          calls += 1;
          throw new Error('no type field');
        },
        { created: 'feed.created' },
      ),
    );
    expect(calls).toBe(1);
    const first = expectFailed(outputs[0]);
    expect(first.error.code).toBe('TRIBUTARY_ERR_PROCESSING');
    expect(first.error.message).toBe('route selector threw: no type field');
    expect(outputs[1]).toBe(x);
  });

  it('gives every element exactly one outcome or passes it on, with a synchronous source', async () => {
    const context = testContext();
    const types = ['created', 'liked', 'viewed', 'commented', 'created', 'liked', 'other'];
    const inputs = types.map((type, i) => testEnvelope(event(type, `f${i}`), { context, offset: i }));
    const outputs = await runOperator(
      inputs,
      route(byType, {
        created: 'feed.created',
        liked: pipe(filterValue((e: FeedEvent) => e.feedId !== 'f1')),
        viewed: 'feed.views',
        commented: pipe(mapValue((e: FeedEvent) => e.feedId)),
      }),
    );
    expect(inputs.map((el) => el.ticket.calls)).toEqual([[], ['filtered'], [], [], [], [], []]);
    expect(inputs.map((el) => el.ticket.settled)).toEqual([
      'published',
      undefined,
      'published',
      undefined,
      'published',
      undefined,
      undefined,
    ]);
    // published (3) + the comment + the second like + the unmatched one
    expect(outputs).toHaveLength(6);
    expect(outputs.filter((el) => !el.ok)).toHaveLength(1);
    expect(context.sent.map((r) => r.topic)).toEqual(['feed.created', 'feed.views', 'feed.created']);
  });

  it('keeps per-lane order within a branch while branches run concurrently', () => {
    const lane = 'feed/0';
    const a = testEnvelope(event('slow', 'a'), { lane, offset: 1 });
    const b = testEnvelope(event('fast', 'b'), { lane, offset: 2 });
    const c = testEnvelope(event('slow', 'c'), { lane, offset: 3 });
    const d = testEnvelope(event('fast', 'd'), { lane, offset: 4 });
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<Element<FeedEvent>>('abcd|', { a, b, c, d });
      const op = route(byType, {
        slow: slow<FeedEvent>((e) => (e.feedId === 'a' ? 10 : 1)),
        fast: slow<FeedEvent>(() => 2),
      });
      // slow branch: a at 10, c waits for a (lane order) → 11; fast branch: b at 1+2 = 3, d after b → 5
      expectObservable(source.pipe(op, map(summarize))).toBe('---b-d----a(c|)', {
        a: 'ok 1 {"type":"slow","feedId":"a"} x0',
        b: 'ok 2 {"type":"fast","feedId":"b"} x0',
        c: 'ok 3 {"type":"slow","feedId":"c"} x0',
        d: 'ok 4 {"type":"fast","feedId":"d"} x0',
      });
      expectSubscriptions(source.subscriptions).toBe('^---!');
    });
  });

  it('types the output as the union of the branch outputs', () => {
    const op = route(byType, {
      created: 'feed.created',
      liked: mapValue((e: FeedEvent) => e.feedId.length),
    });
    expectTypeOf(op).returns.toEqualTypeOf<Observable<Element<FeedEvent | number>>>();
    const onlyChains = route(byType, { liked: mapValue((e: FeedEvent) => e.feedId) });
    expectTypeOf(onlyChains).returns.toEqualTypeOf<Observable<Element<string>>>();
    const typo = () =>
      // @ts-expect-error: the default must be 'deadLetter', 'drop' or a route name
      route(byType, { created: 'feed.created' }, { default: 'nowhere' });
    expect(definitionError(typo).code).toBe('TRIBUTARY_ERR_PIPELINE_DEFINITION');
  });

  it('checks routes and options when the pipeline is built', () => {
    expect(definitionError(() => route(byType, {})).message).toBe('route: at least one route is needed');
    expect(definitionError(() => route(byType, { a: 'bad topic' })).message).toBe(
      'route: route "a" targets "bad topic", which is not a Kafka topic name',
    );
    expect(
      definitionError(() => route(byType, { a: 'x' }, { default: 'b' } as unknown as RouteOptions<'a'>)).message,
    ).toBe(`route: default "b" is not a route; use 'deadLetter', 'drop' or one of "a"`);
    expect(definitionError(() => route(byType, { a: 'x' }, { name: 'a b' })).message).toMatch(
      /^route: invalid options: name: a stage name may only/,
    );
    expect(definitionError(() => route(byType, { a: 42 } as never)).message).toBe(
      'route: route "a" must be a topic name or an operator function',
    );
  });

  it('names the publish stage of a topic route <name>.<route>, made stage-safe', async () => {
    const context = Object.assign(testContext(), {
      enqueue: (_record: unknown, done: (error?: unknown) => void) =>
        done(Object.assign(new Error('MESSAGE_TOO_LARGE'), { retriable: false })),
    });
    const a = testEnvelope(event('video created'), { context });
    const [out] = await runOperator([a], route(byType, { 'video created': 'video.created' }, { name: 'feed' }));
    expect(expectFailed(out).stage).toBe('feed.video_created');
  });

  it('describes every option in its schema', () => {
    const json = z.toJSONSchema(routeOptionsSchema, { unrepresentable: 'any' }) as {
      description?: string;
      properties: Record<string, { description?: string }>;
    };
    expect(json.description).toMatch(/^Options of route/);
    expect(Object.entries(json.properties).filter(([, f]) => !f.description)).toEqual([]);
    expectTypeOf<keyof z.input<typeof routeOptionsSchema>>().toEqualTypeOf<keyof RouteOptions>();
  });
});
